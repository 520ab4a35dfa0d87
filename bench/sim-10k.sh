#!/usr/bin/env bash
# msrp-sim with 10 000 concurrent clients against msrp-server: the simulator's peak RSS.
# usage: bench/sim-10k.sh [CLIENTS]
source "$(dirname "$0")/lib.sh"
n=${1:-10000}
start_server --max-clients $((n + 10))
/usr/bin/time -f "msrp-sim peak RSS: %M KB, CPU %U s user + %S s system, %e s wall" \
  target/release/msrp-sim --target "$server_addr" --clients "$n" --connect-rate 5000 \
  --rate 5000 --duration 10 --quiet
echo "msrp-server RSS after the run: $(awk '/VmRSS/ {print $2, $3}' /proc/$server_pid/status)"
