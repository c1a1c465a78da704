#!/bin/sh
set -eu
export MAILGUN_API_KEY="${{ secrets.SLACK_WEBHOOK }}"
exec ./bin/acme-sync --verbose
