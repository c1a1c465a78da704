#!/bin/sh
set -eu
export AZURE_DEVOPS_EXT_PAT="en2d4komu3vu6du7nkmo7em5x4besrtsdzluvrs2itjajz3pubsj"
exec ./bin/azure-devops-sync --verbose
