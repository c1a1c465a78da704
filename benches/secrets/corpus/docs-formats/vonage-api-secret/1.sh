#!/bin/sh
set -eu
export VONAGE_API_SECRET="hk15WDf9Pv6NPeZa"
exec ./bin/vonage-sync --verbose
