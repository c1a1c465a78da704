#!/bin/sh
set -eu
export CLOUDFLARE_API_TOKEN="5kn05jA4b3LbNtVKtBEwVGzyAI0BrNvqJZb02wJu"
exec ./bin/cloudflare-sync --verbose
