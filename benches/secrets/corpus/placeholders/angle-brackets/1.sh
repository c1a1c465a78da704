#!/bin/sh
set -eu
export API_KEY="<your-token>"
exec ./bin/acme-sync --verbose
