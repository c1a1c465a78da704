#!/bin/sh
set -eu
export PLANETSCALE_SERVICE_TOKEN="pscale_tkn_Ff2uCQyl8gxvkSzZ1zi0kKIF4U3ARAMflF048aBVEoI"
exec ./bin/planetscale-sync --verbose
