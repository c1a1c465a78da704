#!/usr/bin/env bash
# Platform benchmark: Argus end to end vs Celery 5 (Redis broker), plus API load and idle RSS.
# (PostgreSQL + RabbitMQ vs Celery on RabbitMQ: benches/distributed.sh.)
# Usage: benches/run.sh [extra argus-bench flags, e.g. --celery-tasks 20000]
# Needs: the local Redis on 127.0.0.1:6379, wrk (apt), python3 (venv with celery+redis from PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk
fi
if [ ! -x benches/.venv/bin/celery ]; then
  python3 -m venv benches/.venv
  benches/.venv/bin/pip install -q 'celery[redis]>=5,<6' redis
fi
cargo build --release -p argus-cli -p argus-benches
exec target/release/argus-bench "$@"
