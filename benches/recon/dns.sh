#!/usr/bin/env bash
# DNS brute-force benchmark: `argus scan subdomains` (direct mode, release build) resolving a
# wordlist of N names (default 100,000; HITS of them exist) under example.test against the
# local test DNS server (crates/argus-recon/examples/dns_server.rs), side by side with dnsperf
# (Debian's DNS load generator: the raw query rate the same server sustains on this machine,
# A queries for the same names). massdns and dnsx are not packaged in Debian or on PyPI.
#
# Usage: benches/recon/dns.sh            (N=100000 HITS=1000 CONC=500 by default)
#        N=20000 CONC=1000 benches/recon/dns.sh
# Needs: dnsperf (apt-get install dnsperf; installed here when missing), python3.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-100000}
HITS=${HITS:-1000}
CONC=${CONC:-500}
TARGET=${CARGO_TARGET_DIR:-target}

if ! command -v dnsperf >/dev/null; then
  apt-get update -qq && apt-get install -y -qq dnsperf
fi
cargo build --release -p argus-cli
cargo build --release -p argus-recon --features testkit --example dns_server

work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill -INT "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# N labels: host0..host(HITS-1) exist, the others do not (random-looking, no repeats).
python3 - "$N" "$HITS" "$work" <<'PY'
import sys, random
n, hits, work = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
random.seed(7)
labels = [f"host{i}" for i in range(hits)]
seen = set(labels)
while len(labels) < n:
    l = "".join(random.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(random.randint(4, 12)))
    if l not in seen:
        seen.add(l); labels.append(l)
random.shuffle(labels)
open(f"{work}/words.txt", "w").write("\n".join(labels) + "\n")
open(f"{work}/dnsperf.txt", "w").write("".join(f"{l}.example.test A\n" for l in labels))
PY

start_server() {
  "$TARGET/release/examples/dns_server" --hits "$HITS" > "$work/server.log" &
  server_pid=$!
  until grep -q '^listening on' "$work/server.log" 2>/dev/null; do sleep 0.05; done
  addr=$(sed -n 's/^listening on //p' "$work/server.log")
}
stop_server() {
  kill -INT "$server_pid"
  wait "$server_pid" || true
  server_pid=
  queries=$(sed -n 's/^queries //p' "$work/server.log")
}

echo "== argus scan subdomains: $N names, concurrency $CONC"
start_server
t0=$(date +%s.%N)
"$TARGET/release/argus" scan subdomains example.test --resolver "$addr" \
  --param wordlist="$work/words.txt" --param concurrency="$CONC" --param timeout_ms=2000 \
  --format jsonl > "$work/argus.jsonl"
t1=$(date +%s.%N)
stop_server
found=$(grep -c '"kind":"subdomain"' "$work/argus.jsonl" || true)
python3 - "$t0" "$t1" "$N" "$queries" "$found" "$HITS" <<'PY'
import sys
t0, t1, n, q, found, hits = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
s = t1 - t0
print(f"argus: {s:.2f} s, {n/s:,.0f} names/s, {q/s:,.0f} queries/s ({q} queries: A+AAAA per name + wildcard probes), found {found} (expected >= {hits})")
PY

echo "== dnsperf: the same names, A only"
start_server
host=${addr%:*}; port=${addr##*:}
dnsperf -s "$host" -p "$port" -d "$work/dnsperf.txt" -n 1 -c 4 -q "$CONC" -T 2 -t 2 > "$work/dnsperf.log" 2>&1 || true
stop_server
grep -E 'Queries sent|Queries completed|Queries lost|Run time|Queries per second' "$work/dnsperf.log" | sed 's/^ */dnsperf: /'
