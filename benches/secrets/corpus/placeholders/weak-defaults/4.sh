#!/bin/sh
set -eu
export AWS_SECRET_ACCESS_KEY="admin"
exec ./bin/acme-sync --verbose
