#!/usr/bin/env bash
# Tests the bash completion of softndk (tools/softndk/completion/softndk.bash): it registers for
# `softndk`, completes subcommands, options and option values, and, given the softndk program,
# offers exactly the options and subcommands that `softndk [SUBCOMMAND] --help` lists.
# Usage: scripts/test-completion.sh [path/to/softndk]     (CTest: bash_completion)
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
softndk=${1:-}
# shellcheck source=../tools/softndk/completion/softndk.bash
source "$here/tools/softndk/completion/softndk.bash"
failures=0

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# complete LINE -> prints COMPREPLY, one per line, sorted (the cursor is at the end of LINE).
complete_line() {
  COMP_LINE=$1
  COMP_POINT=${#1}
  # COMP_WORDS/COMP_CWORD as bash would set them (the function does not rely on them).
  read -r -a COMP_WORDS <<<"$1"
  [[ $1 == *" " ]] && COMP_WORDS+=("")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  _softndk softndk "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]:-}"
  printf '%s\n' "${COMPREPLY[@]}" | sort
}

expect() {  # LINE EXPECTED... (sorted)
  local line=$1
  shift
  local got want
  got=$(complete_line "$line")
  want=$(printf '%s\n' "$@" | sort)
  [[ $got == "$want" ]] || fail "'$line<TAB>': got [$(echo $got)], want [$(echo $want)]"
}

registered=$(complete -p softndk 2>/dev/null)
[[ $registered == "complete -F _softndk softndk" ]] || fail "complete -p softndk: '$registered'"

expect "softndk pe" perf
expect "softndk " info ping perf chaos help
expect "softndk ch" chaos
expect "softndk chaos --sch" --schedules
expect "softndk chaos --uri l" loopback loopback?pending=always
expect "softndk help c" chaos
expect "softndk -" -h --help -V --version
expect "softndk help p" ping perf
expect "softndk info --pr" --profiles
expect "softndk perf --st" --stats
expect "softndk ping --c" --count
expect "softndk perf --cr" --crc
expect "softndk perf --mode " bw lat rate
expect "softndk perf -m l" lat
expect "softndk perf --mode=r" rate
expect "softndk perf --crc o" on off
expect "softndk perf --op send,wr" send,write
expect "softndk perf -o m" mem
expect "softndk perf --uri l" loopback loopback?pending=always
# ':' breaks words for bash: only what follows the last ':' is inserted.
expect "softndk ping --uri tcp:" //127.0.0.1 "//[::1]"
expect "softndk ping --uri tcp://[:" ":1]"
expect "softndk ping --uri=tcp://1" //127.0.0.1
expect "softndk info t" tcp://127.0.0.1 "tcp://[::1]"
expect "softndk perf -q "        # a number: nothing to offer
expect "softndk --help pi" ping
expect "softndk perf --uri loopback --pro" --progress

# The option lists against the program's own --help.
help_words() {  # the option and subcommand names a --help text lists
  "$softndk" "$@" --help | awk '
    /^Subcommands:/ { sub_section = 1; next }
    /^[A-Z][a-z]*:/ { sub_section = 0 }
    sub_section && /^  [a-z]/ { print $1 }
    /^  -/ { split($1, names, ","); for (i in names) print names[i] }' | sort -u
}
if [[ -n $softndk ]]; then
  want=$(help_words)
  got=$( (complete_line "softndk "; complete_line "softndk -") | sort -u)
  [[ $got == "$want" ]] || fail "softndk: completion [$(echo $got)] vs --help [$(echo $want)]"
  for sub in info ping perf chaos; do
    want=$(help_words "$sub")
    got=$(complete_line "softndk $sub -" | sort -u)
    [[ $got == "$want" ]] || fail "softndk $sub: completion [$(echo $got)] vs --help [$(echo $want)]"
  done
fi

if ((failures)); then
  echo "test-completion: $failures failure(s)" >&2
  exit 1
fi
echo "test-completion: ok"
