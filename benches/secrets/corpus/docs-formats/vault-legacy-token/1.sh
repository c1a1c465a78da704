#!/bin/sh
set -eu
export VAULT_TOKEN="s.BZyCeamvcF6OiylWpdUePTAP"
exec ./bin/hashicorp-vault-sync --verbose
