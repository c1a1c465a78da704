#!/bin/sh
set -eu
export STRIPE_SECRET_KEY="null"
exec ./bin/acme-sync --verbose
