#!/bin/sh
set -eu
export NEW_RELIC_LICENSE_KEY="95f202fd3b44956898816e18e93fc474b4e0NRAL"
exec ./bin/new-relic-sync --verbose
