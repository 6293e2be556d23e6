# bash completion for softndk(1), the softndk command line (docs/cli.md).
# Installed as share/bash-completion/completions/softndk; to try it from the source tree:
#   source tools/softndk/completion/softndk.bash
# Keep the lists in step with tools/softndk/main.cpp: scripts/test-completion.sh compares them
# with what `softndk --help` and `softndk <subcommand> --help` print.

_softndk_subcommands="info ping perf chaos help"
_softndk_common_opts="-h --help -u --uri --server -p --port --timeout -e --events --json --stats"
_softndk_info_opts="-h --help -u --uri --json --profiles"
_softndk_ping_opts="$_softndk_common_opts -c --count -i --interval -s --size --rping"
_softndk_perf_opts="$_softndk_common_opts -o --op -m --mode -s --size -a --all -n --iters
  -D --duration -q --qps -t --depth -I --inline -S --sge --crc -Q --cq-mod --progress --plot --perftest"
_softndk_chaos_opts="-h --help -u --uri --faults --seed -n --schedules --ops --timeout --json"
# Options that take a value (the next word is that value, not an option or a subcommand).
_softndk_value_opts="-u --uri -p --port --timeout -c --count -i --interval -s --size -o --op
  -m --mode -n --iters -D --duration -q --qps -t --depth -I --inline -S --sge --crc -Q --cq-mod
  --plot --stats --faults --seed --schedules --ops"
_softndk_uris="loopback loopback?pending=always tcp://127.0.0.1 tcp://[::1]"
_softndk_ops="send write read reg fastreg bind sendinv all mem"

# Whether $1 is an option that takes a value.
_softndk_takes_value() {
  local IFS=$' \t\n' opt
  for opt in $_softndk_value_opts; do
    [[ $opt == "$1" ]] && return 0
  done
  return 1
}

# COMPREPLY = the candidates ($1) that start with $2, as bash inserts them. $3 is what the current
# word holds before the value being completed ("--uri=" in "--uri=tcp:"). Bash replaces only the
# text after the last word-break character (':' and '=' are ones), so what comes before it is
# dropped from each candidate.
_softndk_reply() {
  local IFS=$' \t\n' prefix=$2 lead=$3 word full
  full=$lead$prefix
  local keep=${#full}
  while ((keep > 0)) && [[ $COMP_WORDBREAKS != *"${full:keep-1:1}"* ]]; do
    ((keep--))
  done
  COMPREPLY=()
  for word in $1; do
    if [[ $word == "$prefix"* ]]; then
      word=$lead$word
      COMPREPLY+=("${word:keep}")
    fi
  done
}

# Completes the value of option $1 from the prefix $2 ($3 as for _softndk_reply). Returns 1 when
# the option's values cannot be listed (numbers, addresses).
_softndk_values() {
  local opt=$1 prefix=$2 lead=$3
  case "$opt" in
    -u | --uri) _softndk_reply "$_softndk_uris" "$prefix" "$lead" ;;
    -m | --mode) _softndk_reply "bw lat rate" "$prefix" "$lead" ;;
    --crc) _softndk_reply "on off" "$prefix" "$lead" ;;
    -o | --op)
      # A comma separated list: complete its last item.
      local head="" item candidates=""
      [[ $prefix == *,* ]] && head=${prefix%,*},
      for item in $_softndk_ops; do candidates+=" $head$item"; done
      _softndk_reply "$candidates" "$prefix" "$lead"
      ;;
    --plot)
      local IFS=$'\n'
      COMPREPLY=($(compgen -f -- "$prefix"))
      ;;
    *) return 1 ;;
  esac
  return 0
}

_softndk() {
  # The line up to the cursor, split at blanks only (COMP_WORDS splits "tcp://[::1]" at ':').
  local line=${COMP_LINE:0:COMP_POINT}
  local cur=${line##*[[:space:]]}
  local -a words
  read -r -a words <<<"${line%"$cur"}"
  local prev=${words[${#words[@]}-1]}
  COMPREPLY=()

  if [[ $cur == --*=* ]]; then  # --option=value
    _softndk_values "${cur%%=*}" "${cur#*=}" "${cur%%=*}="
    return 0
  fi

  # The subcommand: the first word after "softndk" that is neither an option nor its value.
  local sub="" i
  for ((i = 1; i < ${#words[@]}; i++)); do
    if [[ ${words[i]} != -* ]] && ! _softndk_takes_value "${words[i-1]}"; then
      sub=${words[i]}
      break
    fi
  done
  if [[ -z $sub ]]; then
    if [[ $cur == -* ]]; then
      _softndk_reply "-h --help -V --version" "$cur" ""
    else
      _softndk_reply "$_softndk_subcommands" "$cur" ""
    fi
    return 0
  fi

  if _softndk_takes_value "$prev"; then
    _softndk_values "$prev" "$cur" ""
    return 0
  fi
  case "$sub" in
    info)
      if [[ $cur == -* ]]; then
        _softndk_reply "$_softndk_info_opts" "$cur" ""
      else
        _softndk_reply "$_softndk_uris" "$cur" ""  # the positional URI
      fi
      ;;
    ping | perf | chaos)
      local opts=_softndk_${sub}_opts
      [[ $cur == -* ]] && _softndk_reply "${!opts}" "$cur" ""
      ;;
    help)
      if [[ $cur == -* ]]; then
        _softndk_reply "-h --help" "$cur" ""
      else
        _softndk_reply "info ping perf chaos" "$cur" ""  # the command to describe
      fi
      ;;
  esac
  return 0
}

complete -F _softndk softndk
