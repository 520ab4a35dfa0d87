#!/usr/bin/env bash
# How sharp is the conformance suite? cargo-mutants mutates the reference server's protocol
# code (server session, roster, outbox, decoder, frame encoder), rebuilds msrp-server from each
# mutant, and judges it with the *unmutated* suite: reference/tests/suite_sharpness.rs runs a
# separately built msrp-check (--strict) against the mutant server. A mutant the suite does
# not fail is "missed"; docs/suite-sharpness/missed.md gives each one's reason or the
# scenario that now catches it. Not part of .ci/run: the whole run takes hours on 2 cores.
#
#   bench/suite-sharpness.sh [SHARD]      SHARD as k/n, k from 0 to n-1 (cargo-mutants counts
#                                         from 0; default 0/1, the whole list), e.g. 0/6 … 5/6
#   bench/suite-sharpness.sh --list       the mutants, without running them
#   bench/suite-sharpness.sh --untested   only the mutants no committed shard has tested yet
#                                         (RETEST=REGEX adds tested ones to run again)
#                                         (bench/suite-sharpness-summary.py; output in
#                                         docs/suite-sharpness/untested-N/)
#   MUTANTS_FILES=reference/src/decode.rs bench/suite-sharpness.sh    only some files
#
# Each shard's outcome lands in docs/suite-sharpness/shard-K-of-N/ (outcomes.json, caught.txt,
# missed.txt, timeout.txt, unviable.txt): commit it; the score is summed over the shards.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo-mutants >/dev/null || cargo install --locked cargo-mutants
# The protocol code of the strict profile: since the sans-IO step, its decisions are in
# server/core/ and the socket loop in server/session.rs. fault.rs and faulty.rs are test-only
# fault injection; the legacy dialect (server/legacy.rs, profile/) is not judged by the strict
# suite; core/tests/ are unit tests.
files=(${MUTANTS_FILES:-reference/src/server/mod.rs reference/src/server/session.rs
  reference/src/server/core/mod.rs reference/src/server/roster.rs reference/src/server/outbox.rs
  reference/src/decode.rs reference/src/frame.rs})
# The rest of the server, unless MUTANTS_FILES chose the files (it used to be added anyway).
if [ -z "${MUTANTS_FILES:-}" ]; then
  for f in reference/src/server/*.rs reference/src/server/core/*.rs; do
    case " ${files[*]} " in *" $f "*) ;; *) [ -f "$f" ] && case $f in *fault.rs|*faulty.rs|*legacy.rs) ;; *) files+=("$f") ;; esac ;; esac
  done
fi
args=(--package msrp-reference --no-shuffle)
for f in "${files[@]}"; do args+=(-f "$f"); done

if [ "${1:-}" = "--list" ]; then
  exec cargo mutants "${args[@]}" --list
fi
select=()
if [ "${1:-}" = "--untested" ]; then
  re=$(python3 bench/suite-sharpness-summary.py --regex)
  # RETEST: a pattern of tested mutants to run again (after a scenario was added for them).
  [ -n "${RETEST:-}" ] && re="${re:+$re|}$RETEST"
  [ -n "$re" ] || { echo "every mutant of the current list has been tested"; exit 0; }
  select=(--re "$re")
  n=1; while [ -e "docs/suite-sharpness/untested-$n" ]; do n=$((n + 1)); done
  out=docs/suite-sharpness/untested-$n
  shard=0/1
else
  shard=${1:-0/1}
  out=docs/suite-sharpness/shard-${shard%/*}-of-${shard#*/}
fi

cargo build --locked -q --bin msrp-check
judge_dir=$(mktemp -d)
cp target/debug/msrp-check "$judge_dir/msrp-check"
trap 'rm -rf "$judge_dir"' EXIT

start=$(date +%s)
mkdir -p "$(dirname "$out")"
status=0
MSRP_CHECK_BIN="$judge_dir/msrp-check" cargo mutants "${args[@]}" \
  --shard "$shard" "${select[@]}" --baseline skip --timeout 60 --build-timeout 900 \
  --output "$out.tmp" \
  -- --test suite_sharpness -- --ignored || status=$?
# cargo-mutants: 0 every mutant caught, 2 some missed, 3 some timed out; anything else means
# the measurement itself failed.
case $status in 0|2|3) ;; *) echo "cargo mutants failed (exit $status)"; exit 1 ;; esac
rm -rf "$out"; mkdir -p "$out"
cp "$out.tmp"/mutants.out/{outcomes.json,caught.txt,missed.txt,timeout.txt,unviable.txt} "$out"/ 2>/dev/null || true
rm -rf "$out.tmp"
echo "shard $shard: $(($(date +%s) - start)) s" | tee "$out/time.txt"
for k in caught missed timeout unviable; do
  printf '%-9s %s\n' "$k" "$(wc -l < "$out/$k.txt" 2>/dev/null || echo 0)"
done | tee "$out/summary.txt"
