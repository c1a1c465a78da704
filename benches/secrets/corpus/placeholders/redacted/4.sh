#!/bin/sh
set -eu
export STRIPE_SECRET_KEY="***REDACTED***"
exec ./bin/acme-sync --verbose
