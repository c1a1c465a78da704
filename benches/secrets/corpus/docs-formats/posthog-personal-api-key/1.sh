#!/bin/sh
set -eu
export POSTHOG_PERSONAL_API_KEY="phx_HHMfhoaXYjDhBQagaQo0uFQLIsfkHJ3KWQ8Sd1nfzfm"
exec ./bin/posthog-sync --verbose
