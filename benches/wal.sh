#!/usr/bin/env bash
# WAL footprint of the embedded server (issue #10, item 3): runs one no-op fan-out scan through
# `argus serve` on a fresh data dir and prints the sizes of argus.db and argus.db-wal when the
# scan completes (and the largest WAL seen while it ran, sampled every 50 ms), after 5 s idle,
# and after SIGTERM.
# Usage: benches/wal.sh [ARGUS_BINARY] [TASKS]   (defaults: target/release/argus, 50000)
set -euo pipefail
argus=${1:-target/release/argus}
tasks=${2:-50000}
dir=$(mktemp -d)
log=$dir/serve.log
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
ARGUS_SCANNERS__NOOP__ENABLED=true RUST_LOG=warn \
  "$argus" serve --bind 127.0.0.1:0 --workers 512 --data-dir "$dir/data" 2>"$log" &
pid=$!
until addr=$(grep -o 'listening on http://[0-9.:]*' "$log" | sed 's|.*http://||') && [ -n "$addr" ]; do
  kill -0 "$pid" || { cat "$log"; exit 1; }
  sleep 0.1
done
base=http://$addr/api/v1
size() { stat -c %s "$1" 2>/dev/null || echo 0; }
sizes() {
  printf '%-22s db %6.1f MB, wal %7.1f MB\n' "$1" \
    "$(echo "$(size "$dir/data/argus.db") / 1048576" | bc -l)" \
    "$(echo "$(size "$dir/data/argus.db-wal") / 1048576" | bc -l)"
}
t0=$(date +%s.%N)
id=$(curl -fsS "$base/scans" -H 'content-type: application/json' -d "{\"name\":\"wal\",\"start\":true,
  \"config\":{\"scanners\":[{\"name\":\"noop\",\"params\":{\"fanout\":$tasks}}],
  \"targets\":[{\"kind\":\"url\",\"value\":\"noop://root\"}]}}" | jq -r .id)
peak=0
until [ "$(curl -fsS "$base/scans/$id/status" | jq -r .state)" = completed ]; do
  w=$(size "$dir/data/argus.db-wal"); [ "$w" -gt "$peak" ] && peak=$w
  sleep 0.05
done
t1=$(date +%s.%N)
printf '%s tasks in %.2f s\n' "$((tasks + 1))" "$(echo "$t1 - $t0" | bc -l)"
sizes "at completion:"
printf '%-22s wal %7.1f MB\n' "peak while running:" "$(echo "$peak / 1048576" | bc -l)"
sleep 5
sizes "after 5 s idle:"
kill -TERM "$pid"
wait "$pid" || true
sizes "after SIGTERM:"
