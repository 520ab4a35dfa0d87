#!/usr/bin/env python3
"""Sums the shards of the suite-sharpness measurement against the current mutant list.

Shards run across sessions, and the code under mutation changes between them, so a mutant is
matched by its file and description ("replace + with - in Frame::encoded_len"), not by its line
(which moves when lines are added above it). Equal descriptions in one file are matched as a
multiset. Prints the totals over the current list, the mutants no shard has tested yet, and
with --regex a `cargo mutants --re` pattern that selects exactly those.

  bench/suite-sharpness-summary.py            totals, missed and untested mutants
  bench/suite-sharpness-summary.py --regex    the pattern for the untested ones
  bench/suite-sharpness-summary.py --before   the same from the shards alone, without the
                                              re-tests of `untested-N/` (the "before" figure)

A mutant tested more than once (a re-test after a scenario was added) counts with its newest
outcome: the shards first, then `untested-N/` in order.
"""
import collections
import glob
import os
import re
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<desc>.*)$")


def key(entry):
    m = LINE.match(entry.strip())
    return (m.group("file"), m.group("desc")) if m else None


def tested():
    """(file, description) -> outcomes seen, newest shard last."""
    pool = collections.defaultdict(list)
    dirs = sorted(glob.glob(os.path.join(ROOT, "docs/suite-sharpness/shard-*")))
    if "--before" not in sys.argv:
        retests = [d for d in glob.glob(os.path.join(ROOT, "docs/suite-sharpness/untested-*"))
                   if not d.endswith(".tmp")]
        dirs += sorted(retests, key=lambda d: int(d.rsplit("-", 1)[1]))
    for d in dirs:
        if d.endswith(".tmp"):
            continue
        for outcome in ("caught", "timeout", "missed", "unviable"):
            path = os.path.join(d, outcome + ".txt")
            if not os.path.exists(path):
                continue
            for entry in open(path):
                k = key(entry)
                if k:
                    pool[k].append(outcome)
    return pool


def current():
    out = subprocess.run(
        ["bash", "bench/suite-sharpness.sh", "--list"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout
    return [line.strip() for line in out.splitlines() if LINE.match(line.strip())]


def main():
    pool = tested()
    counts = collections.Counter()
    untested, missed = [], []
    for entry in current():
        k = key(entry)
        seen = pool.get(k)
        if not seen:
            untested.append(entry)
            continue
        outcome = seen.pop()
        counts[outcome] += 1
        if outcome == "missed":
            missed.append(entry)
    if "--regex" in sys.argv:
        # cargo mutants matches --re against "file:line:col: description".
        print("|".join(re.escape(key(e)[1]) + "$" for e in untested))
        return
    total = sum(counts.values()) + len(untested)
    viable = counts["caught"] + counts["timeout"] + counts["missed"]
    print(f"mutants in the current list: {total}")
    print(f"tested: {sum(counts.values())} (caught {counts['caught']}, timeout {counts['timeout']}, "
          f"missed {counts['missed']}, unviable {counts['unviable']}); untested: {len(untested)}")
    if viable:
        score = (counts["caught"] + counts["timeout"]) / viable
        print(f"score (caught + timeout) / viable: {counts['caught'] + counts['timeout']}/{viable} = {score:.1%}")
    print("\nmissed:")
    for e in missed:
        print("  " + e)
    print("\nuntested:")
    for e in untested:
        print("  " + e)


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:  # `| head` is not an error
        sys.exit(0)
