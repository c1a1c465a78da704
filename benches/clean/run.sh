#!/usr/bin/env bash
# `argus clean` vs `git-filter-repo --replace-text` on a generated large repository.
#
# Generates COMMITS commits (default 30000) over FILES files (default 3000) with gen.py and
# `git fast-import`, plants 3 secrets in several files at several points of history, then:
#   1. `argus scan secrets --format json` writes the report (not timed: it is the input of clean);
#   2. times `argus clean SRC --report R --out OUT` (which rescans to find the values again);
#   3. times `git filter-repo --replace-text` with the same replacements on a fresh
#      `git clone --bare --no-local` copy (the clone is timed separately: filter-repo needs it);
#   4. verifies both outputs: `git fsck --full`, commit counts equal to the source, and a rescan
#      finding none of the 3 secrets;
#   5. prints seconds, the ratio and peak RSS (`/usr/bin/time -f %M`, KiB) side by side.
#
# Usage: ARGUS=target/release/argus [COMMITS=30000] [FILES=3000] [WORK=dir] benches/clean/run.sh
# Needs: git, python3, /usr/bin/time, git-filter-repo (apt-get install git-filter-repo, or pip).
# Run it on a quiet machine: the figures are wall-clock times.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
ARGUS="${ARGUS:-target/release/argus}"
COMMITS="${COMMITS:-30000}"
FILES="${FILES:-3000}"
ARGUS="$(cd "$(dirname "$ARGUS")" && pwd)/$(basename "$ARGUS")"
[ -x "$ARGUS" ] || { echo "ARGUS=$ARGUS is not executable (cargo build --release -p argus-cli)" >&2; exit 2; }
command -v git-filter-repo >/dev/null || git filter-repo --version >/dev/null 2>&1 || {
    echo "git-filter-repo not found (apt-get install -y git-filter-repo, or pip install git-filter-repo)" >&2; exit 2; }
WORK="${WORK:-$(mktemp -d /tmp/argus-clean-bench.XXXXXX)}"
mkdir -p "$WORK"
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
cd "$WORK"
rm -rf src.git argus-out.git fr.git report.json secrets.txt expressions.txt

echo "== generating $COMMITS commits over $FILES files in $WORK/src.git"
t=$(date +%s.%N)
git init -q --bare src.git
COMMITS="$COMMITS" FILES="$FILES" python3 "$here/gen.py" | git -C src.git fast-import --quiet
git -C src.git repack -a -d -q
git -C src.git symbolic-ref HEAD refs/heads/main
python3 "$here/gen.py" --secrets secrets.txt
echo "   $(git -C src.git rev-list --all --count) commits, $(du -sh src.git | cut -f1), $(echo "$(date +%s.%N) - $t" | bc) s"

echo "== report: argus scan secrets --format json"
set +e
"$ARGUS" scan secrets src.git --format json -o report.json
rc=$?
set -e
[ "$rc" -le 1 ] || { echo "scan failed ($rc)" >&2; exit 2; }
# Select the findings of the 3 planted secrets (by SHA-256), and the filter-repo expressions.
mapfile -t SELECT < <(python3 - "$WORK" <<'PY'
import hashlib, json, sys, os
w = sys.argv[1]
vals = [l.strip() for l in open(os.path.join(w, "secrets.txt")) if l.strip()]
hashes = {hashlib.sha256(v.encode()).hexdigest() for v in vals}
doc = json.load(open(os.path.join(w, "report.json")))
fps = [f["fingerprint"] for f in doc["findings"] if f["sha256"] in hashes]
found = {f["sha256"] for f in doc["findings"] if f["sha256"] in hashes}
if found != hashes:
    sys.exit("the report misses some planted secrets")
with open(os.path.join(w, "expressions.txt"), "w") as e:
    for v in vals:
        e.write(v + "==>***REMOVED***\n")
for fp in fps:
    print(fp)
PY
)
echo "   ${#SELECT[@]} findings selected"
sel=()
for fp in "${SELECT[@]}"; do sel+=(--select "$fp"); done

echo "== argus clean"
/usr/bin/time -f "%e %M" -o argus.time "$ARGUS" clean src.git --report report.json "${sel[@]}" --out argus-out.git 2>argus.log || {
    cat argus.log >&2; exit 2; }
tail -n 12 argus.log | sed 's/^/   /'

echo "== git filter-repo --replace-text (on a fresh clone)"
/usr/bin/time -f "%e %M" -o clone.time git clone -q --bare --no-local src.git fr.git
/usr/bin/time -f "%e %M" -o fr.time git -C fr.git filter-repo --quiet --replace-text "$WORK/expressions.txt" >fr.log 2>&1 || {
    cat fr.log >&2; exit 2; }

echo "== verifying both outputs"
n_src=$(git -C src.git rev-list --all --count)
for repo in argus-out.git fr.git; do
    git -C "$repo" fsck --full --no-dangling >/dev/null 2>"$repo.fsck" || { cat "$repo.fsck" >&2; echo "fsck failed on $repo" >&2; exit 1; }
    n=$(git -C "$repo" rev-list --all --count)
    [ "$n" = "$n_src" ] || { echo "$repo: $n commits, source has $n_src" >&2; exit 1; }
    set +e
    "$ARGUS" scan secrets "$repo" --format json -o "$repo.rescan.json"
    set -e
    python3 - "$WORK" "$repo" <<'PY'
import hashlib, json, sys, os
w, repo = sys.argv[1], sys.argv[2]
vals = [l.strip() for l in open(os.path.join(w, "secrets.txt")) if l.strip()]
hashes = {hashlib.sha256(v.encode()).hexdigest() for v in vals}
doc = json.load(open(os.path.join(w, repo + ".rescan.json")))
left = [f["rule_id"] for f in doc["findings"] if f["sha256"] in hashes]
if left:
    sys.exit("%s still holds planted secrets: %s" % (repo, left))
print("   %s: fsck clean, %s commits, no planted secret left" % (repo, doc["summary"]["commits_scanned"]))
PY
done

read -r a_s a_kb < argus.time
read -r f_s f_kb < fr.time
read -r c_s _ < clone.time
echo
printf "%-28s %10s %14s\n" "" "seconds" "peak RSS MiB"
printf "%-28s %10s %14s\n" "argus clean" "$a_s" "$((a_kb / 1024))"
printf "%-28s %10s %14s\n" "git filter-repo" "$f_s" "$((f_kb / 1024))"
printf "%-28s %10s\n" "  (+ its fresh clone)" "$c_s"
echo "speed-up (filter-repo / argus): $(echo "scale=2; $f_s / $a_s" | bc)x" \
     "(with the clone: $(echo "scale=2; ($f_s + $c_s) / $a_s" | bc)x)"
