#!/bin/sh
set -eu
export HEROKU_API_KEY="1a0611db-8e8f-45c3-9b87-a2a53e038620"
exec ./bin/heroku-sync --verbose
