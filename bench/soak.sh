#!/usr/bin/env bash
# Soak: msrp-sim against msrp-server for MINUTES (default 30) at a steady rate with mixed
# traffic (messages, lists, relay and P2P files); checks zero loss, and samples the server's
# RSS every 10 s to show it stays flat. usage: bench/soak.sh [MINUTES] [RATE]
source "$(dirname "$0")/lib.sh"
minutes=${1:-30}
rate=${2:-2000}
start_server --max-clients 1000
samples=$(mktemp)
( while kill -0 "$server_pid" 2>/dev/null; do
    printf '%s %s\n' "$(date +%s)" "$(awk '/VmRSS/ {print $2}' /proc/$server_pid/status)" >>"$samples"
    sleep 10
  done ) &
sampler=$!
set +e
/usr/bin/time -f "msrp-sim: peak RSS %M KB, CPU %U s user + %S s system" \
  target/release/msrp-sim --target "$server_addr" --clients 200 --rate "$rate" \
  --duration $((minutes * 60)) --mix msg=90,list=5,file=5 --file-size 1k..256k --p2p-share 0.2 \
  --seed 7 --quiet --json target/soak.json
status=$?
set -e
kill $sampler 2>/dev/null || true
echo "server RSS (KiB) every 10 s: first $(head -1 "$samples" | cut -d' ' -f2), \
min $(cut -d' ' -f2 "$samples" | sort -n | head -1), max $(cut -d' ' -f2 "$samples" | sort -n | tail -1), \
last $(tail -1 "$samples" | cut -d' ' -f2) over $(wc -l <"$samples") samples"
awk 'NR == 1 {start = $1} NR % 30 == 1 {printf "  t=%4ds rss=%d KiB\n", $1 - start, $2}' "$samples"
echo "msrp-sim exit status: $status (0 = nothing lost, duplicated, reordered or corrupted)"
exit $status
