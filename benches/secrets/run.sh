#!/usr/bin/env bash
# Argus secret-scanning benchmark: builds the benchmark repository (see gen_repo.py for exactly
# how), installs the peers, runs everything side by side on this machine and writes RESULTS.md.
#
#   benches/secrets/run.sh                      # full size: >=50,000 commits, >=3 GiB of blobs
#   BENCH_COMMITS=5000 BENCH_BYTES=300000000 benches/secrets/run.sh   # quick, smaller repository
#
# Environment: BENCH_DIR (work folder, default /tmp/argus-secrets-bench; the repository is reused
# when it exists), BENCH_THREADS (default 2), SKIP_DETECT_SECRETS=1, SKIP_KINGFISHER=1.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WORK=${BENCH_DIR:-/tmp/argus-secrets-bench}
COMMITS=${BENCH_COMMITS:-50000}
BYTES=${BENCH_BYTES:-3221225472}
THREADS=${BENCH_THREADS:-2}
VENV=$HERE/.venv
REPO=$WORK/repo.git
TSV=$WORK/results.tsv
mkdir -p "$WORK"

echo "== building argus-secrets (release)" >&2
(cd "$ROOT" && cargo build --release -q -p argus-secrets --example scan)
ARGUS=$ROOT/target/release/examples/scan

if [ ! -d "$REPO" ]; then
  echo "== generating the benchmark repository in $REPO" >&2
  # The corpus is the source of the crates the workspace depends on (present after the build).
  python3 "$HERE/gen_repo.py" --out "$REPO" --commits "$COMMITS" --bytes "$BYTES"
  # Pack it the way `git gc` would (fast-import packs are not representative).
  git -C "$REPO" repack -adf --depth=50 --window=10 -q
fi

if [ "${SKIP_KINGFISHER:-0}" != 1 ] || [ "${SKIP_DETECT_SECRETS:-0}" != 1 ]; then
  if [ ! -x "$VENV/bin/kingfisher" ] || [ ! -x "$VENV/bin/detect-secrets" ]; then
    echo "== installing peers into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q kingfisher-bin detect-secrets
  fi
fi

echo "== measuring the input" >&2
COMMIT_COUNT=$(git -C "$REPO" rev-list --all | wc -l)
read -r BLOB_COUNT BLOB_BYTES < <(git -C "$REPO" cat-file --batch-all-objects --batch-check='%(objecttype) %(objectsize)' \
  | awk '$1=="blob"{n++; s+=$2} END{print n, s}')
PACK_BYTES=$(du -sb "$REPO/objects/pack" | cut -f1)
rm -rf "$WORK/head" && mkdir -p "$WORK/head"
git --git-dir="$REPO" archive HEAD | tar -x -C "$WORK/head"
HEAD_BYTES=$(find "$WORK/head" -type f -printf '%s\n' | awk '{s+=$1} END{print s}')
HEAD_FILES=$(find "$WORK/head" -type f | wc -l)

: > "$TSV"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
# run NAME INPUT_BYTES FINDINGS_CMD -- COMMAND...   (time -v: wall clock and peak RSS)
run() {
  local name=$1 bytes=$2 count=$3; shift 4
  echo "== $name" >&2
  sync; sleep 1
  local log=$WORK/$name.time out=$WORK/$name.out
  /usr/bin/time -v "$@" > "$out" 2> "$log" || true
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/{print $2}' "$log" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(awk -F': ' '/Maximum resident set size/{print $2}' "$log")
  local findings
  findings=$(eval "$count" < "$out" 2>/dev/null || echo "?")
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$bytes" "$wall" "$rss" "$findings" >> "$TSV"
}

run argus-history "$BLOB_BYTES" "python3 -c 'import json,sys; print(len(json.load(sys.stdin)[\"findings\"]))'" -- \
  "$ARGUS" "$REPO" --threads "$THREADS"
run git-cat-file "$BLOB_BYTES" "echo -" -- \
  sh -c "git -C '$REPO' cat-file --batch-all-objects --batch > /dev/null"
if [ "${SKIP_KINGFISHER:-0}" != 1 ]; then
  KF="$VENV/bin/kingfisher scan $REPO --no-validate --no-update-check --format json -j $THREADS"
  # Kingfisher prints the findings document followed by a second JSON document (statistics).
  KFCOUNT="python3 -c 'import json,sys; print(len(json.JSONDecoder().raw_decode(sys.stdin.read())[0][\"findings\"]))'"
  run kingfisher-history "$BLOB_BYTES" "$KFCOUNT" -- $KF
  run kingfisher-history-turbo "$BLOB_BYTES" "$KFCOUNT" -- $KF --turbo
fi
run argus-head "$HEAD_BYTES" "python3 -c 'import json,sys; print(len(json.load(sys.stdin)[\"findings\"]))'" -- \
  "$ARGUS" "$WORK/head" --dir --threads "$THREADS"
if [ "${REUSE_DETECT_SECRETS:-0}" = 1 ] && [ -f "$WORK/detect-secrets-head.row" ]; then
  # detect-secrets takes minutes and does not change between Argus builds: reuse the row measured
  # by an earlier run of this script on the same input (marked in RESULTS.md).
  sed 's/^detect-secrets-head/detect-secrets-head (earlier run)/' "$WORK/detect-secrets-head.row" >> "$TSV"
elif [ "${SKIP_DETECT_SECRETS:-0}" != 1 ]; then
  # detect-secrets is slow; a timeout (DETECT_SECRETS_TIMEOUT seconds, default 1800) turns its row
  # into a lower bound ("findings" = timeout) instead of blocking the benchmark.
  run detect-secrets-head "$HEAD_BYTES" "python3 -c 'import json,sys; print(sum(len(v) for v in json.load(sys.stdin)[\"results\"].values()))' || echo timeout" -- \
    timeout "${DETECT_SECRETS_TIMEOUT:-1800}" sh -c "cd '$WORK/head' && '$VENV/bin/detect-secrets' scan --all-files ."
  grep '^detect-secrets-head' "$TSV" > "$WORK/detect-secrets-head.row" || true
fi

LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$TSV" "$HERE/RESULTS.md" <<PY
import sys, datetime, subprocess
tsv, out = sys.argv[1], sys.argv[2]
rows = [l.rstrip('\n').split('\t') for l in open(tsv) if l.strip()]
mib = 1024 * 1024
by = {r[0]: r for r in rows}
def rate(r):
    return float(r[1]) / mib / float(r[2]) if float(r[2]) > 0 else 0.0
lines = []
lines.append('# Secret-scanning benchmark results\n')
lines.append('Generated by \`benches/secrets/run.sh\` on %s UTC, %s cores, threads=%s.\n' % (
    datetime.datetime.utcnow().strftime('%Y-%m-%d %H:%M'), subprocess.getoutput('nproc'), '$THREADS'))
lines.append('Input: %s commits, %s blobs, %.2f GiB of blob content (%.0f MiB packed); HEAD tree: %s files, %.1f MiB.\n' % (
    '$COMMIT_COUNT', '$BLOB_COUNT', int('$BLOB_BYTES') / 1024**3, int('$PACK_BYTES') / mib, '$HEAD_FILES', int('$HEAD_BYTES') / mib))
lines.append('Load average (1/5/15 min) at the start: %s; at the end: %s (the machine is shared: compare ratios, not absolute times).\n' % ('$LOAD_START', '$LOAD_END'))
lines.append('| run | input | wall (s) | MiB/s of blob content | peak RSS (MiB) | findings |')
lines.append('|---|---|---:|---:|---:|---:|')
for r in rows:
    lines.append('| %s | %s | %.1f | %.1f | %.0f | %s |' % (r[0], 'HEAD tree' if 'head' in r[0] else 'full history', float(r[2]), rate(r), int(r[3]) / 1024, r[4]))
lines.append('')
def ratio(a, b):
    if a in by and b in by and float(by[a][2]) > 0:
        return '%.2fx' % (float(by[b][2]) / float(by[a][2]))
    if a in by and b + ' (earlier run)' in by and float(by[a][2]) > 0:
        return '%.2fx (detect-secrets row from an earlier run)' % (float(by[b + ' (earlier run)'][2]) / float(by[a][2]))
    return 'n/a'
lines.append('Ratios (wall-time speed-up of Argus):\n')
lines.append('- Argus vs Kingfisher (full history, default): %s' % ratio('argus-history', 'kingfisher-history'))
lines.append('- Argus vs Kingfisher (full history, --turbo): %s' % ratio('argus-history', 'kingfisher-history-turbo'))
lines.append('- Argus vs \`git cat-file --batch-all-objects --batch\` (reading every object, no scanning): %s' % ratio('argus-history', 'git-cat-file'))
lines.append('- Argus vs detect-secrets (HEAD tree): %s' % ratio('argus-head', 'detect-secrets-head'))
lines.append('')
# The memory section comes from benches/secrets/rss.sh runs (several repository sizes, before and
# after a change), not from this script: keep it.
try:
    prev = open(out).read()
    if '\n## Memory' in prev:
        lines.append(prev[prev.index('\n## Memory') + 1:].rstrip('\n'))
except OSError:
    pass
open(out, 'w').write('\n'.join(lines) + '\n')
print('\n'.join(lines))
PY
