#!/bin/sh
set -eu
export OPENAI_ADMIN_KEY="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"
exec ./bin/openai-sync --verbose
