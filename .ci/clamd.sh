#!/usr/bin/env bash
# Starts a throw-away clamd for the ClamAV detector tests (crates/argus-malware/tests/clamav.rs)
# and prints the variables the tests read, as shell assignments for `eval`:
#
#   eval "$(.ci/clamd.sh "$DIR")"
#   # → ARGUS_TEST_CLAMD=tcp://127.0.0.1:PORT  ARGUS_TEST_CLAMD_UNIX=unix:DIR/clamd.sock
#   #   CLAMD_PID=…  (the caller stops it: kill "$CLAMD_PID")
#
# DIR (created; must be new or empty) holds everything of this instance: the signature database
# (copied from .ci/clamav/, the test signatures this repository owns — nothing is downloaded,
# so there is no daily.cvd and only our signatures match), clamd.conf, the unix socket and the
# log. The TCP port is a free loopback port picked here.
#
# StreamMaxLength is 64M: large enough for the 50 MiB streaming test, small enough for the
# size-limit test (which sends more) to stay cheap. The script returns once clamd answers
# `zPING` with `PONG`, so tests never race its start-up; it fails (with the log) if clamd
# exits or does not answer within 60 s.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${1:?usage: .ci/clamd.sh DIR}
mkdir -p "$DIR/db"
DIR=$(cd "$DIR" && pwd)

die() {
  echo "error: $*" >&2
  [[ -s $DIR/clamd.log ]] && { echo "--- $DIR/clamd.log" >&2; tail -n 20 "$DIR/clamd.log" >&2; }
  exit 1
}

CLAMD=$(command -v clamd || echo /usr/sbin/clamd)
[[ -x $CLAMD ]] || die "clamd not found (apt-get install -y clamav-daemon clamav)"

shopt -s nullglob
dbs=("$ROOT"/.ci/clamav/*.{ndb,hdb,ldb})
(( ${#dbs[@]} )) || die "no signature database in .ci/clamav"
cp "${dbs[@]}" "$DIR/db/"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
SOCK=$DIR/clamd.sock

cat >"$DIR/clamd.conf" <<EOF
# Written by .ci/clamd.sh for the tests; not a production configuration.
Foreground yes
User root
DatabaseDirectory $DIR/db
LocalSocket $SOCK
LocalSocketMode 660
TCPSocket $PORT
TCPAddr 127.0.0.1
StreamMaxLength 64M
MaxThreads 4
LogFile $DIR/clamd.log
LogTime yes
LogSyslog no
PidFile $DIR/clamd.pid
TemporaryDirectory $DIR
# Nothing here is ever updated while the tests run.
SelfCheck 0
Bytecode no
EOF

t0=$(date +%s%N)
# Foreground, in the background of this script: its output goes to the log, never to our
# stdout (which the caller captures with $(…) and would otherwise wait on).
"$CLAMD" --config-file="$DIR/clamd.conf" >>"$DIR/clamd.log" 2>&1 </dev/null &
PID=$!

ping_clamd() {
  python3 - "$PORT" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
s.sendall(b"zPING\0")
sys.exit(0 if s.recv(16).rstrip(b"\0\n") == b"PONG" else 1)
EOF
}

deadline=$(( $(date +%s) + 60 ))
until ping_clamd >/dev/null 2>&1; do
  kill -0 "$PID" 2>/dev/null || die "clamd exited during start-up"
  if (( $(date +%s) >= deadline )); then
    kill "$PID" 2>/dev/null || true
    die "clamd did not answer PING within 60s"
  fi
  sleep 0.2
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "clamd is up on 127.0.0.1:$PORT and $SOCK after ${ms}ms (pid $PID)" >&2

echo "export ARGUS_TEST_CLAMD=tcp://127.0.0.1:$PORT"
echo "export ARGUS_TEST_CLAMD_UNIX=unix:$SOCK"
echo "CLAMD_PID=$PID"
