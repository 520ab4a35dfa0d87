#!/usr/bin/env bash
# msrp-check fuzz against msrp-server, both profiles, SECS seconds each (default 600, the
# issue's 10 minutes). Prints the summary of each run; findings go to $OUT/{strict,legacy}.
# Usage: bench/fuzz-reference.sh [SECS] [SEED]   (BUILD=release for optimised binaries)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-600}
SEED=${2:-1}
BUILD=${BUILD:-debug}
OUT=${OUT:-$(mktemp -d)}
flag=""; [ "$BUILD" = release ] && flag="--release"
nice cargo build -q $flag --bin msrp-check && nice cargo build -q $flag -p msrp-reference --bin msrp-server
for profile in strict legacy; do
  echo "== msrp-server, profile $profile, $SECS s, seed $SEED ($BUILD build)"
  /usr/bin/time -f "harness max rss: %M KiB" ./target/$BUILD/msrp-check fuzz \
    --server-cmd "./target/$BUILD/msrp-server --listen 127.0.0.1:{port} --profile $profile" \
    --profile "$profile" --seed "$SEED" --duration "$SECS" --findings "$OUT/$profile" \
    --max-rss 256 2>&1 | grep -v '^fuzz: ' || true
done
