#!/usr/bin/env bash
# DNS brute-force benchmark: `argus scan subdomains` (direct mode, release build) resolving a
# wordlist of N names (default 100,000; HITS of them exist) under example.test against the
# local test DNS server (crates/argus-recon/examples/dns_server.rs), side by side with dnsperf
# (Debian's DNS load generator at its best settings here, 4 sockets on 2 threads: the raw query
# rate the same server sustains on this machine, A and AAAA for the same names, like argus).
# massdns and dnsx are not packaged in Debian or on PyPI.
#
# Usage: benches/recon/dns.sh            (N=100000 HITS=1000 CONC=2000 by default)
#        N=20000 CONC=500 benches/recon/dns.sh
#        ARGUS=example benches/recon/dns.sh   (the scanner in-process through
#        crates/argus-recon/examples/bench_subdomains.rs, when no release `argus` is at hand)
#        SKIP_BUILD=1 …                      (binaries already built in $CARGO_TARGET_DIR)
# Needs: dnsperf (apt-get install dnsperf; installed here when missing), python3.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-100000}
HITS=${HITS:-1000}
CONC=${CONC:-2000}
ARGUS=${ARGUS:-cli}
TARGET=${CARGO_TARGET_DIR:-target}

if ! command -v dnsperf >/dev/null; then
  apt-get update -qq && apt-get install -y -qq dnsperf
fi
if [ -z "${SKIP_BUILD:-}" ]; then
  if [ "$ARGUS" = cli ]; then cargo build --release -p argus-cli; fi
  cargo build --release -p argus-recon --features testkit --example dns_server --example bench_subdomains
fi

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
open(f"{work}/dnsperf.txt", "w").write("".join(f"{l}.example.test A\n{l}.example.test AAAA\n" for l in labels))
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
if [ "$ARGUS" = cli ]; then
  "$TARGET/release/argus" scan subdomains example.test --resolver "$addr" \
    --param wordlist="$work/words.txt" --param concurrency="$CONC" \
    --format jsonl > "$work/argus.jsonl"
  found=$(grep -c '"kind":"subdomain"' "$work/argus.jsonl" || true)
else
  "$TARGET/release/examples/bench_subdomains" --resolver "$addr" --wordlist "$work/words.txt" \
    --concurrency "$CONC" example.test > "$work/argus.out"
  found=$(sed -n 's/^found //p' "$work/argus.out")
fi
t1=$(date +%s.%N)
stop_server
python3 - "$t0" "$t1" "$N" "$queries" "$found" "$HITS" <<'PY'
import sys
t0, t1, n, q, found, hits = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
s = t1 - t0
print(f"argus: {s:.2f} s, {n/s:,.0f} names/s, {q/s:,.0f} queries/s ({q} queries: A+AAAA per name + wildcard probes), found {found} (expected >= {hits})")
PY

echo "== dnsperf: the same names, A and AAAA"
start_server
host=${addr%:*}; port=${addr##*:}
dnsperf -s "$host" -p "$port" -d "$work/dnsperf.txt" -n 1 -c 4 -T 2 -q 1000 -t 2 > "$work/dnsperf.log" 2>&1 || true
stop_server
grep -E 'Queries sent|Queries completed|Queries lost|Run time|Queries per second' "$work/dnsperf.log" | sed 's/^ */dnsperf: /'
