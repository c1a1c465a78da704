#!/bin/sh
set -eu
export BUILDKITE_API_TOKEN="bkua_4cc748d1fc0e6110510137e8f74edc7d02e4d163"
exec ./bin/buildkite-sync --verbose
