#!/usr/bin/env bash
# msrp-check fuzz against the C fixture (SIGPIPE when a recipient leaves mid-relay, SIGABRT on a
# filename over 127 bytes): how long until each is found, with a fixed seed, and whether each
# reproduction, replayed by plain msrp-check --server-cmd, fails the same way.
# FIXTURE_FLAGS adds the fixture's optional bugs: "--off-by-one" (deliveries to the wrong
# client, found by the model oracle), "--leak" (1 MiB per read; add --max-rss via FUZZ_FLAGS).
# Usage: bench/fuzz-fixture.sh [SECS] [SEED]   (BUILD=release for optimised binaries)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-60}
SEED=${2:-1}
BUILD=${BUILD:-debug}
OUT=${OUT:-$(mktemp -d)}
flag=""; [ "$BUILD" = release ] && flag="--release"
nice cargo build -q $flag --bin msrp-check
cc -O1 -pthread -fstack-protector-all -o "$OUT/thread_server" contrib/fixtures/thread_server.c
CMD="$OUT/thread_server --port {port} ${FIXTURE_FLAGS:-}"
./target/$BUILD/msrp-check fuzz --server-cmd "$CMD" --seed "$SEED" --duration "$SECS" \
  ${FUZZ_FLAGS:-} --findings "$OUT/findings" 2>&1 | grep -v '^fuzz: ' || true
for f in "$OUT"/findings/*.yaml; do
  echo "== replay of $f with plain msrp-check:"
  ./target/$BUILD/msrp-check --server-cmd "$CMD" "$f" 2>&1 | grep -E 'FAIL|PASS|rule|killed' | head -4 || true
done
