#!/bin/sh
set -eu
export REPLICATE_API_TOKEN="r8_GwjbyE57NkHFjSCnSJEMnN4wPK4yud8L8sZoB"
exec ./bin/replicate-sync --verbose
