#!/usr/bin/env bash
# Full TCP connect sweep of 127.0.0.1 (ports 1-65535): `argus scan ports` against
# `nmap -sT -p-` given its fastest connect-scan settings, in one run, on the same listeners.
#
#   benches/recon/ports.sh
#
# Builds the CLI in release, opens a handful of listening ports on 127.0.0.1 (a few sending a
# banner, one silent), then runs each scanner BENCH_ROUNDS times (default 3), alternating, and
# checks that both found the same open ports (every listener among them). Prints wall seconds,
# ports/s per run, the medians and the ratio argus/nmap; the listeners are closed at the end.
# Environment: BENCH_ROUNDS, ARGUS (a prebuilt binary: skips the build), NMAP_EXTRA (more nmap
# flags).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
ROUNDS=${BENCH_ROUNDS:-3}
WORK=$(mktemp -d /tmp/argus-ports-bench.XXXXXX)
LISTENERS=(2222 8081 9999 15432 31337 40001 52000)

command -v nmap >/dev/null || { echo "nmap is not installed (apt-get install nmap)" >&2; exit 1; }
if [ -z "${ARGUS:-}" ]; then
  echo "== building argus-cli (release)" >&2
  (cd "$ROOT" && nice cargo build --release -q -p argus-cli)
  ARGUS=${CARGO_TARGET_DIR:-$ROOT/target}/release/argus
fi

# The listeners: banners on some ports, silence on 8081 (like an HTTP server).
python3 - "${LISTENERS[@]}" > "$WORK/listeners.log" 2>&1 <<'PY' &
import socket, sys, threading
banners = {2222: b"SSH-2.0-OpenSSH_9.6\r\n", 9999: b"220 bench FTP ready\r\n",
           15432: b"+OK bench POP3\r\n", 31337: b"RFB 003.008\n", 40001: b"* OK bench IMAP\r\n",
           52000: b"HTTP/1.0 200 OK\r\n\r\n"}
def serve(s, banner):
    while True:
        c, _ = s.accept()
        try:
            if banner: c.sendall(banner)
        except OSError: pass
        threading.Timer(2.0, c.close).start()
for p in map(int, sys.argv[1:]):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", p)); s.listen(1024)
    threading.Thread(target=serve, args=(s, banners.get(p)), daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
PY
PY_PID=$!
trap 'kill $PY_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do grep -q ready "$WORK/listeners.log" 2>/dev/null && break; sleep 0.05; done
grep -q ready "$WORK/listeners.log" || { cat "$WORK/listeners.log" >&2; exit 1; }

now() { date +%s.%N; }
argus_ports() {  # open ports in argus's JSON output, sorted
  python3 -c '
import json, sys
def walk(x):
    if isinstance(x, dict):
        if x.get("kind") == "open-port": yield x["data"]["port"]
        for v in x.values(): yield from walk(v)
    elif isinstance(x, list):
        for v in x: yield from walk(v)
print(" ".join(map(str, sorted(set(walk(json.load(open(sys.argv[1]))))))))' "$1"
}
nmap_ports() {  # open ports in nmap's grepable output, sorted
  grep -o '[0-9]*/open/tcp' "$1" | cut -d/ -f1 | sort -n | tr '\n' ' ' | sed 's/ $//'
}

NMAP_FLAGS=(-sT -p- -n -Pn -T5 --max-retries 0 --min-rate 1000000 --min-parallelism 1024
            --max-rtt-timeout 100ms ${NMAP_EXTRA:-})
echo "argus: $ARGUS scan ports 127.0.0.1 --ports 1-65535 --format json" >&2
echo "nmap:  nmap ${NMAP_FLAGS[*]} -oG - 127.0.0.1   ($(nmap --version | head -1))" >&2
A_TIMES=(); N_TIMES=()
for r in $(seq "$ROUNDS"); do
  t0=$(now); "$ARGUS" scan ports 127.0.0.1 --ports 1-65535 --format json > "$WORK/argus.json" 2>"$WORK/argus.err"; t1=$(now)
  nmap "${NMAP_FLAGS[@]}" -oG "$WORK/nmap.txt" 127.0.0.1 > /dev/null; t2=$(now)
  a=$(echo "$t1 - $t0" | bc -l); n=$(echo "$t2 - $t1" | bc -l)
  A_TIMES+=("$a"); N_TIMES+=("$n")
  AP=$(argus_ports "$WORK/argus.json"); NP=$(nmap_ports "$WORK/nmap.txt")
  printf 'round %d: argus %.3f s (%.0f ports/s)  nmap %.3f s (%.0f ports/s)\n' \
    "$r" "$a" "$(echo "65535 / $a" | bc -l)" "$n" "$(echo "65535 / $n" | bc -l)"
  echo "  argus open: $AP"
  echo "  nmap open:  $NP"
  if [ "$AP" != "$NP" ]; then echo "MISMATCH: the scanners found different open ports" >&2; exit 1; fi
  for p in "${LISTENERS[@]}"; do
    case " $AP " in *" $p "*) ;; *) echo "MISSED: listener $p not found" >&2; exit 1;; esac
  done
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END{print (NR%2)? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
A=$(median "${A_TIMES[@]}"); N=$(median "${N_TIMES[@]}")
printf 'median of %d: argus %.3f s = %.0f ports/s; nmap %.3f s = %.0f ports/s; argus/nmap = %.2fx\n' \
  "$ROUNDS" "$A" "$(echo "65535 / $A" | bc -l)" "$N" "$(echo "65535 / $N" | bc -l)" "$(echo "$N / $A" | bc -l)"
