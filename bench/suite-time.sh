#!/usr/bin/env bash
# Run time of the whole conformance suite against embedded servers, and what writing pcaps
# and transcripts adds. Needs hyperfine (Debian package).
source "$(dirname "$0")/lib.sh"
out=$(mktemp -d)
hyperfine -w 1 -r 8 \
  'target/release/msrp-check scenarios' \
  "target/release/msrp-check scenarios --pcap-dir $out/pcap --transcript-dir $out/tr" \
  'target/release/msrp-check scenarios -j 1'
