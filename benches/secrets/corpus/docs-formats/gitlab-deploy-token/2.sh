#!/bin/sh
set -eu
export GITLAB_DEPLOY_TOKEN="gldt-AVV3hyNavJhN7Dm9PXfn"
exec ./bin/gitlab-sync --verbose
