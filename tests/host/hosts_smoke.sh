#!/bin/sh
# Smoke test with the real command-line LV2 hosts: lv2apply (lilv-utils: no features, one
# frame per run), lv2file (map + options + a NULL-URI feature, 512-frame blocks) and lv2proc
# (no features, 512-frame blocks).  Each must load the bundle from the build tree and turn a
# short WAV into one of the same length and width, finite, not silent, and delayed by the
# latency (none of these hosts compensates it).  lv2apply and lv2proc see identical plugin
# configurations, so their outputs must match to the sample whatever their block sizes; a
# second lv2file run must repeat the first exactly (offline hosts get the deterministic path).
# Prints "hosts_smoke: N passed, N failed".
B=${MENHANCE_BUILDDIR:-build}
URI=https://menhance.org/plugins/menhance
PY=/usr/bin/python3
TOOL=$(dirname "$0")/wavtool.py
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

[ -f "$B/menhance.lv2/menhance.so" ] || { bad "no bundle in $B/menhance.lv2"; # The bundle variant with the model patch parameter (atom ports; see mk/plugin.mk):
# lv2apply and lv2file must still run it (lv2proc refuses atom ports, optional or not).
ALT=$B/tests/host/alt/menhance.lv2
if [ -f "$ALT/menhance.ttl" ]; then
  mkdir "$T/alt"
  ln -s "$(cd "$ALT" && pwd)" "$T/alt/menhance.lv2"
  for h in lv2apply lv2file; do
    out="$T/alt.$h.wav"
    LV2_PATH="$T/alt" $h -i "$T/in1.wav" -o "$out" "$URI#mono" > "$T/alt.log" 2>&1
    rc=$?
    if [ $rc -ne 0 ] || [ ! -s "$out" ]; then bad "$h (model parameter bundle): exit $rc"; tail -3 "$T/alt.log"; continue; fi
    ok
    verify "$h mono, model parameter bundle" "$T/in1.wav" "$out" 1 "$T/$h.1.wav"
    awk "BEGIN{exit !($DIFF == 0)}" && ok || bad "$h: model parameter bundle output differs by $DIFF"
  done
fi
echo "hosts_smoke: $pass passed, $fail failed"; exit 1; }
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT
mkdir "$T/lv2"
ln -s "$(cd "$B/menhance.lv2" && pwd)" "$T/lv2/menhance.lv2"
export LV2_PATH="$T/lv2"

# check IN OUT [OUT2] -> "frames channels finite peak rms_ratio lag [maxdiff]"
verify() { # name in out channels [out2]
  r=$($PY "$TOOL" check "$2" "$3" $5) || { bad "$1: unreadable output"; return 1; }
  set -- "$1" "$2" "$3" "$4" "$5" $r
  name=$1 ch=$4 frames=$6 chans=$7 finite=$8 peak=$9
  shift 9
  ratio=$1 lag=$2 diff=$3
  [ "$frames" = 48000 ] && [ "$chans" = "$ch" ] && ok || bad "$name: $frames frames x $chans, want 48000 x $ch"
  [ "$finite" = 1 ] && ok || bad "$name: non-finite samples"
  awk "BEGIN{exit !($peak <= 4.0 && $ratio > 0.3 && $ratio < 3.0)}" && ok || bad "$name: peak $peak, level ratio $ratio"
  echo "$name: lag $lag, level ratio $ratio, peak $peak${diff:+, max diff $diff}"
  LAG=$lag DIFF=$diff
}

for ch in 1 2; do
  v=mono; [ $ch = 2 ] && v=stereo
  $PY "$TOOL" gen "$T/in$ch.wav" $ch 48000 1 || { bad "cannot write test WAV"; continue; }
  for h in lv2apply lv2file lv2proc; do
    command -v $h > /dev/null || { bad "$h not installed (scripts/deps.sh)"; continue; }
    out="$T/$h.$ch.wav"
    $h -i "$T/in$ch.wav" -o "$out" "$URI#$v" > "$T/$h.log" 2>&1
    rc=$?
    if [ $rc -ne 0 ] || [ ! -s "$out" ]; then bad "$h $v: exit $rc"; sed 's/^/  /' "$T/$h.log" | tail -5; continue; fi
    ok
    verify "$h $v" "$T/in$ch.wav" "$out" $ch
    eval "lag_$h=\$LAG"
  done
  # Same plugin configuration (no features): identical output, 1-frame vs 512-frame blocks.
  if [ -s "$T/lv2apply.$ch.wav" ] && [ -s "$T/lv2proc.$ch.wav" ]; then
    verify "lv2apply vs lv2proc $v" "$T/in$ch.wav" "$T/lv2apply.$ch.wav" $ch "$T/lv2proc.$ch.wav"
    awk "BEGIN{exit !($DIFF < 1e-6)}" && ok || bad "$v: lv2apply and lv2proc differ by $DIFF"
    [ "$lag_lv2apply" = "$lag_lv2proc" ] && ok || bad "$v: lags differ ($lag_lv2apply, $lag_lv2proc)"
  fi
  # Offline hosts are deterministic: run lv2file again with changed parameters and then
  # with the defaults again; the default runs must match exactly.
  if [ -s "$T/lv2file.$ch.wav" ]; then
    lv2file -i "$T/in$ch.wav" -o "$T/p.wav" -p mode:2 -p amount:0.5 -p strength:2 "$URI#$v" > /dev/null 2>&1 \
      && ok || bad "lv2file $v with parameters"
    [ -s "$T/p.wav" ] && verify "lv2file $v mode 2" "$T/in$ch.wav" "$T/p.wav" $ch
    lv2file -i "$T/in$ch.wav" -o "$T/again.wav" "$URI#$v" > /dev/null 2>&1
    verify "lv2file $v again" "$T/in$ch.wav" "$T/again.wav" $ch "$T/lv2file.$ch.wav"
    awk "BEGIN{exit !($DIFF == 0)}" && ok || bad "lv2file $v: second run differs by $DIFF"
  fi
done
# The bundle variant with the model patch parameter (atom ports; see mk/plugin.mk):
# lv2apply and lv2file must still run it (lv2proc refuses atom ports, optional or not).
ALT=$B/tests/host/alt/menhance.lv2
if [ -f "$ALT/menhance.ttl" ]; then
  mkdir "$T/alt"
  ln -s "$(cd "$ALT" && pwd)" "$T/alt/menhance.lv2"
  for h in lv2apply lv2file; do
    out="$T/alt.$h.wav"
    LV2_PATH="$T/alt" $h -i "$T/in1.wav" -o "$out" "$URI#mono" > "$T/alt.log" 2>&1
    rc=$?
    if [ $rc -ne 0 ] || [ ! -s "$out" ]; then bad "$h (model parameter bundle): exit $rc"; tail -3 "$T/alt.log"; continue; fi
    ok
    verify "$h mono, model parameter bundle" "$T/in1.wav" "$out" 1 "$T/$h.1.wav"
    awk "BEGIN{exit !($DIFF == 0)}" && ok || bad "$h: model parameter bundle output differs by $DIFF"
  done
fi
echo "hosts_smoke: $pass passed, $fail failed"
[ $fail -eq 0 ]
