#!/bin/sh
set -eu
export SONAR_GLOBAL_TOKEN="sqa_a28d2bb7d6a3e731a35c86178fa646c1e6feba08"
exec ./bin/sonarqube-sync --verbose
