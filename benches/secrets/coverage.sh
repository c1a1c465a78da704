#!/usr/bin/env bash
# Detection coverage of the built-in secret rules, side by side with Kingfisher (see coverage.py):
# recall on the corpora in corpus/ (docs-formats, config-forms; placeholders must give nothing)
# and noise on real code (the local cargo registry's crate sources, ~1 GB once the workspace has
# been built), written to COVERAGE.md.
#
#   benches/secrets/coverage.sh
#
# Environment: NOISE_TREE (default ~/.cargo/registry/src), BENCH_THREADS (default 2).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VENV=$HERE/.venv
NOISE=${NOISE_TREE:-$HOME/.cargo/registry/src}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}

echo "== building rulecheck (release)" >&2
(cd "$ROOT" && cargo build --release -q -p argus-secrets --example rulecheck)
if [ ! -x "$VENV/bin/kingfisher" ]; then
  echo "== installing kingfisher into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q kingfisher-bin
fi
python3 "$HERE/coverage.py" \
  --rulecheck "$TARGET/release/examples/rulecheck" \
  --kingfisher "$VENV/bin/kingfisher" \
  --corpus "$HERE/corpus/docs-formats" \
  --corpus "$HERE/corpus/config-forms" \
  --corpus "$HERE/corpus/placeholders" \
  --noise "$NOISE" \
  --threads "${BENCH_THREADS:-2}" \
  --out "$HERE/COVERAGE.md"
