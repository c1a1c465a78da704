#!/bin/sh
set -eu
export GRAFANA_TOKEN="glsa_tOjZha0XaoIRDc499kiKMWIz2ImHpyRH_f0c656c6"
exec ./bin/grafana-sync --verbose
