#!/bin/sh
set -eu
curl -X POST -H 'Content-type: application/json' --data '{"text":"deploy finished"}' https://hooks.slack.com/services/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
