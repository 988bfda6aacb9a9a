# Shell helpers shared by the command-line host checks (hosts_smoke.sh, lv2file_check.sh);
# sourced, not run.  Callers set TOOL (wavtool.py) and PY, and keep pass/fail/skip counts.
pass=0
fail=0
skip=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
skipped() { skip=$((skip + 1)); echo "SKIP $*"; }

# exit_reason RC: why a process ended, in words ("exit 2", "killed by SIGSEGV (exit 139)").
exit_reason() {
  if [ "$1" -eq 124 ]; then
    echo "timed out (exit 124)"
  elif [ "$1" -gt 128 ]; then
    echo "killed by SIG$(kill -l $(($1 - 128)) 2> /dev/null || echo $(($1 - 128))) (exit $1)"
  else
    echo "exit $1"
  fi
}

# verify NAME IN OUT CHANNELS [OUT2]: 1 s at 48 kHz in, same length and width out, finite,
# sane level.  Sets LAG, and with OUT2 also DIFF (largest difference) and FIRST (where the two
# first differ: first=FRAME/chC/OUT/OUT2, first=none, or first=shape:...).
verify() {
  r=$($PY "$TOOL" check "$2" "$3" $5) || { bad "$1: unreadable output"; LAG= DIFF=1e9 FIRST=unreadable; return 1; }
  set -- "$1" "$2" "$3" "$4" "$5" $r
  name=$1 ch=$4 frames=$6 chans=$7 finite=$8 peak=$9
  shift 9
  ratio=$1 lag=$2 diff=$3 first=$4
  [ "$frames" = 48000 ] && [ "$chans" = "$ch" ] && ok || bad "$name: $frames frames x $chans, want 48000 x $ch"
  [ "$finite" = 1 ] && ok || bad "$name: non-finite samples"
  awk "BEGIN{exit !($peak <= 4.0 && $ratio > 0.3 && $ratio < 3.0)}" && ok || bad "$name: peak $peak, level ratio $ratio"
  echo "$name: lag $lag, level ratio $ratio, peak $peak${diff:+, max diff $diff, $first}"
  LAG=$lag DIFF=$diff FIRST=$first
}

# same NAME LIMIT: passes if the last verify's DIFF is at most LIMIT, else says where the two
# outputs first differ.
same() {
  awk "BEGIN{exit !(\"$DIFF\" != \"\" && $DIFF <= $2)}" && ok ||
    bad "$1: outputs differ by ${DIFF:-?} (> $2); first differing sample: ${FIRST#first=} (frame/channel/a/b)"
}

# compare NAME IN OUT OUT2 LIMIT: OUT and OUT2 must match within LIMIT (nothing else checked).
compare() {
  r=$($PY "$TOOL" check "$2" "$3" "$4") || { bad "$1: unreadable output"; return 1; }
  set -- "$1" "$5" $r
  DIFF=$9 FIRST=${10}
  echo "$1: max diff $DIFF, $FIRST"
  same "$1" "$2"
}
