#!/bin/sh
set -eu
export AWS_BEARER_TOKEN_BEDROCK="ABSKQmVkcm9ja0FQSUtleS1uNGNtLWF0LTYwNTcyOTgwODk2NDpKaUpZdmFhVEYrU3hSeU9yekZCdzdUbG10NnJyOXpZWGxkbHRZTEtl"
exec ./bin/aws-bedrock-sync --verbose
