#!/bin/sh
set -eu
export DIGITALOCEAN_TOKEN="dop_v1_e977b74ea7bc5bba61ab56c4b75f9fbc5742c0da3b09c16ef282fe9d13a5e48c"
exec ./bin/digitalocean-sync --verbose
