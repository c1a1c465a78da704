#!/usr/bin/env bash
# Peak memory of one history scan, split into anonymous and file-backed pages.
#
#   benches/secrets/rss.sh REPO [SCAN_BINARY] [OUT_PREFIX]
#
# Runs `SCAN_BINARY REPO --threads 2` (default: target/release/examples/scan) under
# `/usr/bin/time -v` and samples /proc/<pid>/status every 50 ms (VmRSS, RssAnon, RssFile, VmHWM).
# Prints wall / CPU time, peak RSS, the sample with the highest RSS (its anonymous and file-backed
# parts) and the scan's phase times. Leaves OUT_PREFIX.json (report), .time, .samples
# (seconds, rss, anon, file, hwm in MiB), default prefix /tmp/argus-rss.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
REPO=${1:?usage: rss.sh REPO [SCAN_BINARY] [OUT_PREFIX]}
BIN=${2:-${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/scan}
OUT=${3:-/tmp/argus-rss}

/usr/bin/time -v "$BIN" "$REPO" --threads 2 > "$OUT.json" 2> "$OUT.time" &
TPID=$!
PID=
while [ -z "$PID" ] && kill -0 "$TPID" 2>/dev/null; do
  PID=$(pgrep -P "$TPID" | head -1 || true)
done
: > "$OUT.samples"
START=$(date +%s%N)
while [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; do
  T=$(( ($(date +%s%N) - START) / 10000000 ))
  awk -v t="$T" '/^(VmHWM|VmRSS|RssAnon|RssFile):/{a[$1]=$2}
    END{if (a["VmRSS:"] != "") printf "%.2f %d %d %d %d\n", t/100, a["VmRSS:"]/1024, a["RssAnon:"]/1024, a["RssFile:"]/1024, a["VmHWM:"]/1024}' \
    "/proc/$PID/status" 2>/dev/null >> "$OUT.samples" || true
  sleep 0.05
done
wait "$TPID"
grep -E "Elapsed|Maximum resident|User time|System time" "$OUT.time"
awk '$2>m{m=$2;l=$0} END{print "highest sample (s, rss, anon, file, hwm MiB):", l}' "$OUT.samples"
grep '^{' "$OUT.time" | python3 -c 'import json,sys; s=json.loads(sys.stdin.read()); print("phases (s):", {k: round(v, 2) for k, v in s["phase_secs"].items()}, "blobs:", s["blobs_scanned"], "findings:", s["findings"])'
