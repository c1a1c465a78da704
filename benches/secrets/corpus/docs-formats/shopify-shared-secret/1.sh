#!/bin/sh
set -eu
export SHOPIFY_API_SECRET="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"
exec ./bin/shopify-sync --verbose
