#!/usr/bin/env bash
# Server RSS with 10 000 idle logged-in clients (issue: under 100 MB).
# usage: bench/idle-rss.sh [CLIENTS]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
ulimit -n "$(ulimit -Hn)"
cargo build --release -q -p msrp-reference --bin msrp-server
log=$(mktemp)
target/release/msrp-server --listen 127.0.0.1:0 --max-clients $((n + 10)) 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 50); do grep -q "listening on" "$log" && break; sleep 0.1; done
addr=$(sed -n 's/.*listening on //p' "$log")
python3 bench/idle_clients.py --target "$addr" --pid "$pid" --clients "$n"
