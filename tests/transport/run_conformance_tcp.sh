#!/usr/bin/env bash
# The conformance suite on the tcp transport (CTest entries conformance_tcp*): runs the
# conformance_test binary with SOFTNDK_TEST_URIS=<uris>, minus the tests named in <exclude-file>
# (one gtest pattern per line, '#' comments give each group's reason: documented transport
# differences, or bugs outside the transport, to be removed once fixed). A line
# "ipv4: <pattern>" or "ipv6: <pattern>" applies only when <uris> names an adapter of that
# family (an IPv6 literal in brackets: tcp://[::1]).
# usage: run_conformance_tcp.sh <conformance_test> <uris> <exclude-file>
set -euo pipefail
binary="$1"; uris="$2"; exclude="$3"
family=ipv4
case "$uris" in *'['*) family=ipv6 ;; esac
patterns="$(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$exclude" |
  awk -v f="$family:" '/^ipv[46]:/ { if (index($0, f) == 1) print substr($0, 6); next } /./' |
  paste -sd: -)"
filter="*"
[ -n "$patterns" ] && filter="*-$patterns"
exec env SOFTNDK_TEST_URIS="$uris" "$binary" --gtest_filter="$filter"
