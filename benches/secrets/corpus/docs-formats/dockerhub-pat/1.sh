#!/bin/sh
set -eu
export DOCKERHUB_TOKEN="dckr_pat__dcm04m29JZAsx9uxozMzGt31n8"
exec ./bin/docker-hub-sync --verbose
