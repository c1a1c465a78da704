#!/bin/sh
set -eu
SHOPIFY_API_SECRET=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 npm run dev
