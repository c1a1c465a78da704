#!/bin/sh
set -eu
export YC_API_KEY="AQVNCdMwlRLR38oahBPQYWQpfu--omgB5J13Mj9J"
exec ./bin/yandex-cloud-sync --verbose
