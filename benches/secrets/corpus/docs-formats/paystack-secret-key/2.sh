#!/bin/sh
set -eu
export PAYSTACK_SECRET_KEY="sk_live_5a60bcb957b95ab5d5ab5b4139fbdbf010954406"
exec ./bin/paystack-sync --verbose
