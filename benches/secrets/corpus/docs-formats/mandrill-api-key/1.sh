#!/bin/sh
set -eu
export MANDRILL_API_KEY="md-X20Bj87eYq0Lf3OsBoucTl"
exec ./bin/mandrill-sync --verbose
