#!/usr/bin/env bash
# Distributed benchmark: Argus on PostgreSQL + RabbitMQ with 1, 2 and 4 worker processes, side by
# side with Celery 5 on the same RabbitMQ (acks late, at prefetch 1, 4 and 16; Argus is compared
# with Celery's best). See benches/src/distributed.rs.
# Usage: benches/distributed.sh [argus-bench distributed flags, e.g. --repeat 3 --celery-tasks 20000]
# Needs: PostgreSQL on 127.0.0.1:5432 (trust auth for postgres), RabbitMQ on 127.0.0.1:5672
# (guest/guest), psql, python3 (virtualenv with celery from PyPI, made here).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x benches/.venv/bin/celery ]; then
  python3 -m venv benches/.venv
  benches/.venv/bin/pip install -q 'celery[redis]>=5,<6' redis
fi
cargo build --release -p argus-cli --features argus-cli/distributed -p argus-benches
target="${CARGO_TARGET_DIR:-target}"
# A private copy: the target folder is shared, and a plain build replaces target/release/argus
# with one that has no PostgreSQL or RabbitMQ support.
mkdir -p target/distributed-bench
cp "$target/release/argus" "$target/release/argus-bench" target/distributed-bench/
exec target/distributed-bench/argus-bench distributed --argus target/distributed-bench/argus "$@"
