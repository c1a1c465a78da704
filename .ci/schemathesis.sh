#!/usr/bin/env bash
# OpenAPI conformance: runs schemathesis (PyPI, pinned, venv in .ci/.venv-st) with every check
# (its default: all checks on; `--checks all` would override the per-operation exceptions of the
# config) against a live `argus serve`, and fails on any 5xx or conformance failure. Called by
# `.ci/run`; runnable alone from any directory:
#
#   .ci/schemathesis.sh                 # builds the debug binary first
#   ARGUS_BIN=path/to/argus .ci/schemathesis.sh
#   ST_MAX_EXAMPLES=10 .ci/schemathesis.sh   # quicker, fewer cases
#   ST_EXTRA_ARGS='--include-path-regex artifacts/' .ci/schemathesis.sh   # more st options
#
# The server runs on a free loopback port with a temporary data dir (removed on exit), the
# `noop` scanner and the API tests' fixture tools, and is seeded over HTTP before the run: a
# finished `tool:emit` scan (findings, an artifact), a template and a connector, whose ids the config
# (`.ci/schemathesis.toml`, which lists the documented exceptions) fixes for the operations on
# existing records. Schemathesis keeps its cache in `.schemathesis/` (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."

ST_SPEC="schemathesis==4.32.5"
# About 3,300 cases, ~2 minutes for the whole run on the CI machine (debug build).
ST_MAX_EXAMPLES="${ST_MAX_EXAMPLES:-100}"
VENV=.ci/.venv-st
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/argus/ci-target}"

die() { echo "error: $*" >&2; exit 1; }
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

if [[ ! -x $VENV/bin/st || $(cat "$VENV/.installed" 2>/dev/null) != "$ST_SPEC" ]]; then
  echo "installing $ST_SPEC into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "$ST_SPEC"
  echo "$ST_SPEC" > "$VENV/.installed"
fi

if [[ -z ${ARGUS_BIN:-} ]]; then
  # Same features as the test run, so CI reuses what `cargo test` built.
  cargo build --workspace --all-features --locked --bin argus
  ARGUS_BIN="$CARGO_TARGET_DIR/debug/argus"
fi
[[ -x $ARGUS_BIN ]] || die "no argus binary at $ARGUS_BIN"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/argus-st.XXXXXX")
SERVER_PID=
cleanup() {
  local rc=$?
  if [[ -n $SERVER_PID ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if (( rc != 0 )) && [[ -s $WORK/server.log ]]; then
    echo "--- last lines of the server log"; tail -n 30 "$WORK/server.log"
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
# Only this run's config: no inherited ARGUS_<SECTION>__<KEY> variables.
while IFS= read -r var; do unset "$var"; done < <(env | sed -n 's/^\(ARGUS_[A-Z0-9_]*__[A-Z0-9_]*\)=.*/\1/p')
# API keys on, as a team would run it: the run and the seeding use an admin key made by the CLI
# on the server's store (schemathesis's `ignored_auth` check also calls every operation without it).
KEY=$(ARGUS_SERVER__DATA_DIR="$WORK/data" ARGUS_LOG__LEVEL=warn \
  "$ARGUS_BIN" admin apikey create --org default --role admin --name schemathesis 2>/dev/null)
[[ $KEY == argus_* ]] || die "argus admin apikey create printed no key"
ARGUS_AUTH__MODE=apikey \
ARGUS_SERVER__BIND="127.0.0.1:$PORT" \
ARGUS_SERVER__DATA_DIR="$WORK/data" \
ARGUS_SCANNERS__NOOP__ENABLED=true \
ARGUS_TOOLS__DIR="$PWD/crates/argus-api/tests/fixtures/tools" \
ARGUS_SCAN__MAX_TASKS=1000 \
ARGUS_SINKS__SEED__TYPE=webhook \
ARGUS_SINKS__SEED__URL=http://127.0.0.1:9/hook \
ARGUS_SINKS__SEED__START=beginning \
ARGUS_SINKS__SEED__MAX_ATTEMPTS=1 \
ARGUS_LOG__LEVEL=warn \
  "$ARGUS_BIN" serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
deadline=$(( $(date +%s) + 60 ))
until curl -sf -o /dev/null "$BASE/healthz"; do
  kill -0 "$SERVER_PID" 2>/dev/null || die "argus serve exited"
  (( $(date +%s) < deadline )) || die "argus serve did not answer within 60s"
  sleep 0.2
done
echo "argus serve is up on $BASE"

# --- seed: a finished scan with findings and an artifact, and a template -------------------
api() { curl -sf -H 'content-type: application/json' -H "authorization: Bearer $KEY" "$@"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
EMIT='{"scanners": [{"name": "tool:emit"}], "targets": [{"kind": "domain", "value": "example.com"}]}'
ARGUS_ST_SCAN=$(api "$BASE/api/v1/scans" -d "{\"name\": \"seed\", \"config\": $EMIT, \"start\": true}" | json 'd["id"]')
deadline=$(( $(date +%s) + 60 ))
until [[ $(api "$BASE/api/v1/scans/$ARGUS_ST_SCAN/status" | json 'd["state"]') == completed ]]; do
  (( $(date +%s) < deadline )) || die "the seed scan did not complete within 60s"
  sleep 0.2
done
ARGUS_ST_FINDING=$(api "$BASE/api/v1/scans/$ARGUS_ST_SCAN/findings" | json 'd["items"][0]["id"]')
ARGUS_ST_ARTIFACT=$(api "$BASE/api/v1/scans/$ARGUS_ST_SCAN/artifacts" | json 'd["items"][0]["name"]')
ARGUS_ST_TEMPLATE=$(api "$BASE/api/v1/templates" -d "{\"name\": \"seed\", \"config\": $EMIT}" | json 'd["id"]')
# A connector on an object-store location (no local_roots here, so not file://); `noop` takes
# any target and needs no credential, so its full scans run.
ARGUS_ST_CONNECTOR=$(api "$BASE/api/v1/connectors" -d '{"name": "seed", "location": {"kind": "location", "value": "s3://seed-bucket/share/"}, "scanners": [{"name": "noop"}]}' | json 'd["id"]')
# A disabled schedule of the template (it fires nothing during the run).
ARGUS_ST_SCHEDULE=$(api "$BASE/api/v1/schedules" -d "{\"name\": \"seed\", \"cron\": \"0 2 * * *\", \"template_id\": \"$ARGUS_ST_TEMPLATE\", \"enabled\": false}" | json 'd["id"]')
export ARGUS_ST_SCAN ARGUS_ST_FINDING ARGUS_ST_ARTIFACT ARGUS_ST_TEMPLATE ARGUS_ST_CONNECTOR ARGUS_ST_SCHEDULE
echo "seeded scan $ARGUS_ST_SCAN, finding $ARGUS_ST_FINDING, artifact $ARGUS_ST_ARTIFACT, template $ARGUS_ST_TEMPLATE, connector $ARGUS_ST_CONNECTOR, schedule $ARGUS_ST_SCHEDULE"

# --- run --------------------------------------------------------------------------------------
start=$(date +%s)
"$VENV/bin/st" --config-file .ci/schemathesis.toml run "$BASE/openapi.json" ${ST_EXTRA_ARGS:-} \
  --max-examples "$ST_MAX_EXAMPLES" \
  --header "Authorization: Bearer $KEY" \
  --workers 1 \
  --no-color
echo "schemathesis passed in $(( $(date +%s) - start ))s"
# The server must have survived everything (no crash hidden behind connection errors).
kill -0 "$SERVER_PID" 2>/dev/null || die "argus serve died during the run"
