#!/usr/bin/env bash
# Side by side, one machine, one run: the server benches (messages routed/s, relay MB/s) of a
# base revision and of the working tree, alternating round by round so that drift in the
# machine's load hits both alike.
#   bench/before-after.sh f7b5037            # 3 rounds of messages, then relay, in each tree
#   ROUNDS=5 SECS=10 bench/before-after.sh HEAD~1
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:?usage: bench/before-after.sh BASE_REVISION}
rounds=${ROUNDS:-3}
secs=${SECS:-5}
before=$(mktemp -d)
git worktree add -q --detach "$before" "$base"
trap 'git worktree remove --force "$before"' EXIT
# One target directory: both trees' crates build side by side (their paths differ).
export CARGO_TARGET_DIR=$PWD/target
for round in $(seq "$rounds"); do
  for tree in "$before" "$PWD"; do
    label=$([ "$tree" = "$PWD" ] && echo after || echo "before ($base)")
    printf '%s, round %s: ' "$label" "$round"
    (cd "$tree" && MSRP_BENCH_SECS=$secs cargo bench -q -p msrp --bench messages 2>&1 | grep "messages routed")
  done
done
for tree in "$before" "$PWD"; do
  echo "== relay, $([ "$tree" = "$PWD" ] && echo after || echo "before ($base)")"
  (cd "$tree" && MSRP_BENCH_BYTES=536870912 MSRP_BENCH_ROUNDS=3 cargo bench -q -p msrp --bench relay 2>&1 | tail -4)
done
