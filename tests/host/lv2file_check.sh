#!/bin/sh
# lv2file (Debian 0.95: map, unmap, options, 512-frame blocks, no worker) with the plugin,
# run by `make test-hosts`, not by `make test`.
#
# Why not in `make test`: lv2file 0.95 builds its feature array with a fourth entry whose URI
# pointer is uninitialised (stack garbage such as 0x41564952, "RIVA"), so any plugin that
# scans the features with strcmp, as the LV2 spec lets it, dies in instantiate in 3-7 runs
# out of 10.  The host is at fault and `make test` must pass every time, so the check lives
# here.  Every run goes through tests/host/feature_probe.so (LD_PRELOAD), which reports the
# features lv2file passes and whether instantiate returned.  A run killed by a signal after
# the probe saw an unreadable feature URI and before instantiate returned is that known host
# bug: it is retried up to 5 times, and a check whose every try died that way is reported and
# counted as SKIP, never as a pass.  Any other death or error is a FAIL that says why.
#
# Checks: mono and stereo runs (length, width, finite, level); a run with parameters; the
# same run again is bit-identical (offline hosts get the deterministic path); each factory
# preset loaded with -P gives exactly what the same values given with -p give (so every
# control of every preset applies in lv2file, the Mode included); the model-parameter
# bundle gives the same output.
# Prints "lv2file_check: N passed, N failed, N skipped".
B=${MENHANCE_BUILDDIR:-build}
URI=https://menhance.org/plugins/menhance
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
TOOL=$HERE/wavtool.py
PROBE=$(cd "$B/tests/host" 2> /dev/null && pwd)/feature_probe.so
. "$HERE/host_lib.sh"
TRIES=8

finish() {
  echo "lv2file: $runs runs, $hostbug died in instantiate on lv2file's uninitialised feature URI (known host bug)"
  echo "lv2file_check: $pass passed, $fail failed, $skip skipped"
  [ $fail -eq 0 ]
  exit
}
runs=0
hostbug=0
command -v lv2file > /dev/null || { skipped "lv2file is not installed (apt-get install lv2file)"; finish; }
[ -f "$B/menhance.lv2/menhance.so" ] || { bad "no bundle in $B/menhance.lv2"; finish; }
[ -f "$PROBE" ] || { bad "feature probe not built ($PROBE; make test-hosts builds it)"; finish; }
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT
mkdir "$T/lv2" "$T/models"
ln -s "$(cd "$B/menhance.lv2" && pwd)" "$T/lv2/menhance.lv2"
export LV2_PATH="$T/lv2"
# The model modes run the tests' tiny model, so results do not depend on the shipped weights.
ln -s "$(cd "$HERE/../golden" && pwd)/engine_voc.safetensors" "$T/models/menhance.safetensors"
export MENHANCE_MODEL_DIR="$T/models"

# lv2file_run NAME OUT ARGS...: runs lv2file up to TRIES times; RESULT is ok, hostbug
# (every try hit the known host bug: reported as SKIP) or fail (reported as FAIL, with why).
lv2file_run() {
  name=$1 out=$2
  shift 2
  i=0
  while [ $i -lt $TRIES ]; do
    i=$((i + 1))
    runs=$((runs + 1))
    rm -f "$out"
    LD_PRELOAD="$PROBE" timeout 120 lv2file "$@" -o "$out" > "$T/run.log" 2>&1
    rc=$?
    if [ $rc -eq 0 ] && [ -s "$out" ]; then RESULT=ok; ok; return 0; fi
    if [ $rc -gt 128 ] && [ $rc -ne 124 ] && grep -q 'feature_probe: .* is unreadable' "$T/run.log" &&
      ! grep -q 'feature_probe: instantiate returned' "$T/run.log"; then
      hostbug=$((hostbug + 1))
      echo "     $name: try $i $(exit_reason $rc) in instantiate: $(grep -m1 'is unreadable' "$T/run.log" | sed 's/^feature_probe: //') (host bug); retrying"
      continue
    fi
    rm -f "$out"
    RESULT=fail
    why=$(exit_reason $rc)
    grep -q 'feature_probe: instantiate returned' "$T/run.log" || why="$why, in or before instantiate"
    [ $rc -eq 0 ] && why="exit 0 but no output"
    bad "$name: $why"
    grep -v '^feature_probe: feature' "$T/run.log" | tail -5 | sed 's/^/  /'
    return 1
  done
  rm -f "$out"
  RESULT=hostbug
  skipped "$name: lv2file died in instantiate in all $TRIES tries on its uninitialised feature URI (Debian lv2file 0.95 bug, not the plugin's)"
  return 1
}

for ch in 1 2; do
  v=mono; [ $ch = 2 ] && v=stereo
  $PY "$TOOL" gen "$T/in$ch.wav" $ch 48000 1 || { bad "cannot write test WAV"; continue; }
  lv2file_run "lv2file $v" "$T/run.$ch.wav" -i "$T/in$ch.wav" "$URI#$v" &&
    verify "lv2file $v" "$T/in$ch.wav" "$T/run.$ch.wav" $ch
  lv2file_run "lv2file $v with parameters" "$T/p.wav" -i "$T/in$ch.wav" -p mode:1 -p amount:0.5 \
    -p strength:2 "$URI#$v" && verify "lv2file $v mode 1" "$T/in$ch.wav" "$T/p.wav" $ch
  # Offline hosts are deterministic: after a run with other parameters, the defaults again.
  if [ -s "$T/run.$ch.wav" ] && lv2file_run "lv2file $v again" "$T/again.wav" -i "$T/in$ch.wav" "$URI#$v"; then
    verify "lv2file $v again" "$T/in$ch.wav" "$T/again.wav" $ch "$T/run.$ch.wav"
    same "lv2file $v: second run" 0
  fi
done

# Presets: -P NAME must equal -p for every control the preset sets (values from the
# generated presets.ttl).  A value lv2file cannot apply (it used to be the Mode, written as
# an integer) leaves that control at its default and the outputs differ.
$PY - "$B/menhance.lv2/presets.ttl" > "$T/presets" << 'EOF'
import re, sys
text = open(sys.argv[1]).read()
for block in re.split(r'\n(?=<)', text):
    label = re.search(r'rdfs:label\s+"([^"]+)"', block)
    ports = re.findall(r'lv2:symbol\s+"(\w+)"\s*;\s*pset:value\s+([-+0-9.eE]+)', block)
    if label and ports:
        print(label.group(1) + '\t' + ' '.join('-p %s:%s' % p for p in ports))
EOF
n=$(wc -l < "$T/presets")
[ "$n" -ge 6 ] && ok || bad "presets.ttl: $n presets parsed, want 6"
tab=$(printf '\t')
while IFS="$tab" read -r label params; do
  lv2file_run "lv2file -P '$label'" "$T/preset.wav" -i "$T/in1.wav" -P "$label" "$URI#mono" || continue
  # shellcheck disable=SC2086 # params is a list of -p options
  lv2file_run "lv2file '$label' as -p" "$T/params.wav" -i "$T/in1.wav" $params "$URI#mono" || continue
  compare "lv2file preset '$label' ($params): -P vs -p" "$T/in1.wav" "$T/preset.wav" "$T/params.wav" 0
done < "$T/presets"

# The bundle with the model patch parameter (atom ports, see mk/plugin.mk): same output.
ALT=$B/tests/host/alt/menhance.lv2
if [ -f "$ALT/menhance.ttl" ] && [ -s "$T/run.1.wav" ]; then
  mkdir "$T/alt"
  ln -s "$(cd "$ALT" && pwd)" "$T/alt/menhance.lv2"
  LV2_PATH="$T/alt"
  lv2file_run "lv2file (model parameter bundle)" "$T/alt.wav" -i "$T/in1.wav" "$URI#mono" &&
    verify "lv2file mono, model parameter bundle" "$T/in1.wav" "$T/alt.wav" 1 "$T/run.1.wav" &&
    same "lv2file: model parameter bundle vs default bundle" 0
  LV2_PATH="$T/lv2"
fi
finish
