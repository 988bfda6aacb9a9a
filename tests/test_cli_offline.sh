#!/bin/sh
# End-to-end tests of `menhance --offline` (the reference path, engine/offline.c): DiffWave at
# 6 and 50 steps and respaced, Griffin-Lim, resnet Mel2Mel in windows, default model files,
# option conflicts and wrong model files.  The networks are the tiny random-weight test models
# in tests/golden/; a reference-size DiffWave (L=30 C=64) is made with PyTorch when it is
# importable.  Prints "test_cli_offline_sh: N passed, N failed"; exits nonzero on failure.
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILDDIR:-$ROOT/build}
case $B in /*) ;; *) B=$ROOT/$B ;; esac
MH=$B/menhance
PROBE=$B/tests/cli_probe
G=$ROOT/tests/golden
pass=0
fail=0

check() { # check DESCRIPTION COMMAND...
  desc=$1
  shift
  if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL test_cli_offline_sh: $desc"; fi
}
skipped=0
skip() { # skip REASON: a check that cannot run here, counted and shown (never passed)
  skipped=$((skipped + 1))
  echo "SKIP test_cli_offline_sh: $*"
}
finish() {
  echo "test_cli_offline_sh: $pass passed, $fail failed$([ $skipped -gt 0 ] && echo ", $skipped skipped")"
  [ "$fail" -eq 0 ]
  exit $?
}
if [ ! -x "$MH" ] || [ ! -x "$PROBE" ] || [ ! -f "$G/engine_voc.safetensors" ]; then
  fail=1
  echo "FAIL test_cli_offline_sh: $MH, $PROBE or the golden models missing (make all-tests)"
  finish
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/menhance-offline.XXXXXX")
trap 'rm -rf "$T"' EXIT
export MENHANCE_MODEL_DIR="$T/models"
mkdir -p "$T/models"

run() { # run EXPECTED_RC CMD... : keeps stderr in $T/err, checks the exit status
  want=$1
  shift
  "$@" >"$T/out" 2>"$T/err"
  got=$?
  if [ "$got" -ne "$want" ]; then
    echo "  ($* -> exit $got, wanted $want; stderr: $(head -c 400 "$T/err"))"
    return 1
  fi
}
eq() { [ "$1" = "$2" ] || { echo "  (got '$1', wanted '$2')"; return 1; }; }
grep_err() { grep -qi "$1" "$T/err" || { echo "  (stderr lacks '$1': $(head -c 300 "$T/err"))"; return 1; }; }
# no fallback warning (random-weight vocoders may still clip and say so)
no_fallback() { ! grep -qi "using Griffin-Lim" "$T/err" || { echo "  (fell back: $(head -c 300 "$T/err"))"; return 1; }; }
absent() { [ ! -e "$1" ] || { echo "  ($1 exists)"; return 1; }; }
# same frame count, rate and channels as the input
same_shape() {
  a=$("$PROBE" info "$1" | cut -d' ' -f1-3)
  b=$("$PROBE" info "$2" | cut -d' ' -f1-3)
  eq "$b" "$a"
}
# finite and not silent (rms between 1e-4 and 10)
audible() {
  r=$("$PROBE" rms "$1")
  awk -v r="$r" 'BEGIN { exit !(r == r + 0 && r > 1e-4 && r < 10) }' || { echo "  (rms $r)"; return 1; }
}
differs() { # differs A B: max |A - B| > 1e-3
  set -- $("$PROBE" diff "$1" "$2")
  awk "BEGIN { exit !($1 > 1e-3) }" || { echo "  (max diff $1)"; return 1; }
}

VOC=$G/engine_voc.safetensors        # noise/room/tone Mel2Mel + causal DiffWave L=3 C=8, 128 mels
M2M=$G/nn_m2m_nrt_b.safetensors      # Mel2Mel only
RESNET=$G/nn_m2m_resnet_small.safetensors
DWONLY=$G/dw_causal.safetensors      # DiffWave only, 10 mels (wrong for this front end)
"$PROBE" gen "$T/st.wav" 44100 2 1.5 music pcm24
"$PROBE" gen "$T/mono48.flac" 48000 1 1.2 music pcm16

# ---- DiffWave: fast, full and respaced schedules ----
check "6 steps: runs" run 0 "$MH" --offline --experimental-vocoder --mel2mel "$VOC" --steps 6 "$T/st.wav" -o "$T/s6.wav"
check "6 steps: described" grep_err "6 steps (fast schedule)"
check "6 steps: no fallback" no_fallback
check "6 steps: length, rate, channels" same_shape "$T/st.wav" "$T/s6.wav"
check "6 steps: finite, not silent" audible "$T/s6.wav"
check "50 steps (default): runs" run 0 "$MH" --offline --experimental-vocoder --mel2mel "$VOC" "$T/st.wav" -o "$T/s50.wav"
check "50 steps: full training schedule" grep_err "50 steps (full training schedule)"
check "50 steps: length" same_shape "$T/st.wav" "$T/s50.wav"
check "50 steps: finite, not silent" audible "$T/s50.wav"
check "50 steps differ from 6" differs "$T/s6.wav" "$T/s50.wav"
check "--steps 50 is the default" run 0 "$MH" -q --offline --experimental-vocoder --mel2mel "$VOC" --steps 50 "$T/st.wav" -o "$T/s50b.wav"
check "--steps 50 == default, deterministic" cmp -s "$T/s50.wav" "$T/s50b.wav"
check "--steps 10 (respaced): runs" run 0 "$MH" --offline --experimental-vocoder --mel2mel "$VOC" --steps 10 "$T/mono48.flac" -o "$T/s10.flac"
check "--steps 10: respaced" grep_err "10 steps (respaced"
check "--steps 10: length" same_shape "$T/mono48.flac" "$T/s10.flac"
check "--steps 10: finite, not silent" audible "$T/s10.flac"
check "--steps 51 refused for a 50-step model" run 3 "$MH" --offline --mel2mel "$VOC" --steps 51 "$T/st.wav" -o "$T/s51.wav"
check "--steps 51: says why" grep_err "trained with 50 steps"
check "--steps 51: no output" absent "$T/s51.wav"
# ---- a Mel2Mel that reads the classical suppressor's gain gets it offline as it does live ----
# (engine_classical: its Noise head is that feature; steady noise is cut once the tracker's window is full)
"$PROBE" gen "$T/hiss.wav" 16000 1 6 noise:0.03
check "classical input offline: runs" run 0 "$MH" --offline --mel2mel "$G/engine_classical.safetensors" "$T/hiss.wav" -o "$T/cl.wav"
check "classical input offline: described" grep_err "classical input"
check "identity offline: runs" run 0 "$MH" -q --offline --mel2mel "$G/engine_identity.safetensors" "$T/hiss.wav" -o "$T/cl0.wav"
cut_db() { # cut_db A B: 20 log10(rms A / rms B) below -6 dB (whole clip, the tracker fading in over 1.5 s included)
  a=$("$PROBE" rms "$1")
  b=$("$PROBE" rms "$2")
  awk -v a="$a" -v b="$b" 'BEGIN { d = 20 * log(a / b) / log(10); if (d < -6) exit 0; print "  (" d " dB)"; exit 1 }'
}
check "classical input offline: steady noise cut by more than 6 dB" cut_db "$T/cl.wav" "$T/cl0.wav"
# ---- a mode-2 refiner is not a vocoder from the mel: the offline path does not start it from noise ----
RID=$G/engine_refiner_small.safetensors
check "refiner model: runs with Griffin-Lim" run 0 "$MH" --offline --mel2mel "$RID" "$T/mono48.flac" -o "$T/rf.wav"
check "refiner model: says why" grep_err "is a mode-2 refiner"
check "refiner model: Griffin-Lim" grep_err "using Griffin-Lim"
check "refiner model: length" same_shape "$T/mono48.flac" "$T/rf.wav"
check "refiner model, --strict: exit 3" run 3 "$MH" --offline --strict --mel2mel "$RID" "$T/mono48.flac" -o "$T/rf2.wav"
check "refiner model, --strict: no output" absent "$T/rf2.wav"
check "refiner as --vocoder: exit 3" run 3 "$MH" --offline --vocoder "$RID" --mel2mel "$M2M" "$T/mono48.flac" -o "$T/rf3.wav"
check "refiner as --vocoder: says why" grep_err "holds a mode-2 refiner"
check "separate --vocoder file" run 0 "$MH" -q --offline --experimental-vocoder --mel2mel "$M2M" --vocoder "$VOC" --steps 6 "$T/mono48.flac" -o "$T/sv.wav"
check "separate --vocoder: length" same_shape "$T/mono48.flac" "$T/sv.wav"

# ---- the quality gate: a DiffWave that has not passed it is replaced by Griffin-Lim ----
check "ungated DiffWave: runs" run 0 "$MH" --offline --mel2mel "$VOC" --steps 6 "$T/st.wav" -o "$T/gate.wav"
check "ungated DiffWave: one-line warning" eq "$(grep -c "quality gate" "$T/err")" 1
check "ungated DiffWave: Griffin-Lim instead" grep_err "Griffin-Lim, 32 iterations"
check "ungated DiffWave: how to run it anyway" grep_err "experimental-vocoder"
check "ungated DiffWave: length" same_shape "$T/st.wav" "$T/gate.wav"
check "Griffin-Lim 32 named explicitly" \
  run 0 "$MH" -q --offline --mel2mel "$VOC" --griffin-lim 32 "$T/st.wav" -o "$T/gate_gl.wav"
check "ungated DiffWave: exactly the Griffin-Lim output" cmp -s "$T/gate.wav" "$T/gate_gl.wav"
check "ungated DiffWave: not the DiffWave output" differs "$T/gate.wav" "$T/s6.wav"
check "ungated DiffWave with --strict: exit 3" \
  run 3 "$MH" --offline --strict --mel2mel "$VOC" "$T/st.wav" -o "$T/gate_strict.wav"
check "ungated DiffWave with --strict: says why" grep_err "quality gate"
check "ungated DiffWave with --strict: no output" absent "$T/gate_strict.wav"
check "no DiffWave at all with --strict: exit 3" \
  run 3 "$MH" --offline --strict --mel2mel "$M2M" "$T/st.wav" -o "$T/gate_strict.wav"
check "no DiffWave at all with --strict: says why" grep_err "no DiffWave vocoder"
check "explicit Griffin-Lim with --strict is no fallback" \
  run 0 "$MH" -q --offline --strict --mel2mel "$M2M" --griffin-lim 4 "$T/st.wav" -o "$T/gate_gl4.wav"

# ---- Griffin-Lim ----
check "--griffin-lim 8: runs" run 0 "$MH" --offline --mel2mel "$M2M" --griffin-lim 8 "$T/st.wav" -o "$T/gl.wav"
check "--griffin-lim 8: described" grep_err "Griffin-Lim, 8 iterations"
check "--griffin-lim 8: no fallback" no_fallback
check "--griffin-lim 8: length" same_shape "$T/st.wav" "$T/gl.wav"
check "--griffin-lim 8: finite, not silent" audible "$T/gl.wav"
"$PROBE" gen "$T/sine.wav" 44100 1 1.5 sine:1000 float
check "Griffin-Lim resynthesis of a sine" run 0 "$MH" -q --offline --mel2mel none --griffin-lim 32 "$T/sine.wav" -o "$T/sine_gl.wav"
f=$("$PROBE" freq "$T/sine_gl.wav")
check "Griffin-Lim: 1 kHz comes back at $f Hz (+-3 %)" awk -v f="$f" 'BEGIN { exit !(f >= 970 && f <= 1030) }'
"$PROBE" gen "$T/sine22.wav" 22050 2 1.0 sine:440 pcm16
check "Griffin-Lim resynthesis of a 440 Hz sine at 22.05 kHz" run 0 "$MH" -q --offline --mel2mel none --griffin-lim 32 "$T/sine22.wav" -o "$T/sine22_gl.wav"
f=$("$PROBE" freq "$T/sine22_gl.wav")
check "Griffin-Lim: 440 Hz comes back at $f Hz (+-3 %)" awk -v f="$f" 'BEGIN { exit !(f >= 427 && f <= 453) }'

# ---- resnet Mel2Mel: whole clip and in windows (9 s > 512 frames) ----
check "resnet Mel2Mel: runs" run 0 "$MH" --offline --mel2mel "$RESNET" --griffin-lim 4 "$T/mono48.flac" -o "$T/rn.wav"
check "resnet Mel2Mel: described" grep_err "resnet"
check "resnet Mel2Mel: length" same_shape "$T/mono48.flac" "$T/rn.wav"
check "resnet Mel2Mel: finite, not silent" audible "$T/rn.wav"
"$PROBE" gen "$T/long.wav" 16000 1 9 music pcm16
check "resnet Mel2Mel in windows (9 s)" run 0 "$MH" -q --offline --mel2mel "$RESNET" --griffin-lim 1 "$T/long.wav" -o "$T/rn_long.wav"
check "resnet windows: length" same_shape "$T/long.wav" "$T/rn_long.wav"
check "resnet windows: finite, not silent" audible "$T/rn_long.wav"
"$PROBE" gen "$T/tiny.wav" 44100 2 0.01 music
check "441-frame file (shorter than one frame at 16 kHz)" run 0 "$MH" -q --offline --experimental-vocoder --mel2mel "$RESNET" --steps 6 --vocoder "$VOC" "$T/tiny.wav" -o "$T/tiny_out.wav"
check "441-frame file keeps its length" same_shape "$T/tiny.wav" "$T/tiny_out.wav"

# ---- default files ----
check "no default model: error" run 3 "$MH" --offline "$T/st.wav" -o "$T/d0.wav"
check "no default model: says so" grep_err "no default model"
cp "$VOC" "$T/models/menhance.safetensors"
check "default model with a DiffWave: runs" run 0 "$MH" --offline --experimental-vocoder --steps 6 "$T/st.wav" -o "$T/d1.wav"
check "default model with a DiffWave: DiffWave used" grep_err "DiffWave L=3 C=8"
check "default model: same result as naming it" \
  run 0 "$MH" -q --offline --experimental-vocoder --mel2mel "$VOC" --steps 6 "$T/st.wav" -o "$T/d1b.wav"
check "default model: identical output" cmp -s "$T/d1.wav" "$T/s6.wav"
check "--model names the offline default" run 0 "$MH" --offline --model "$M2M" "$T/st.wav" -o "$T/d2.wav"
check "Mel2Mel-only file: warns" grep_err "warning"
check "Mel2Mel-only file: Griffin-Lim 32 iterations" grep_err "Griffin-Lim (32 iterations)"
check "Mel2Mel-only file: length" same_shape "$T/st.wav" "$T/d2.wav"
check "--mel2mel none takes the default model's DiffWave" run 0 "$MH" --offline --experimental-vocoder --mel2mel none --steps 6 "$T/st.wav" -o "$T/d3.wav"
check "--mel2mel none: described" grep_err "no Mel2Mel"
check "--mel2mel none: DiffWave" grep_err "DiffWave L=3"
rm -f "$T/models/menhance.safetensors"

# ---- wrong files and option conflicts ----
check "DiffWave-only file as --mel2mel: exit 3" run 3 "$MH" --offline --mel2mel "$DWONLY" "$T/st.wav" -o "$T/w1.wav"
check "DiffWave-only file as --mel2mel: says why" grep_err "no Mel2Mel network"
check "Mel2Mel-only file as --vocoder: exit 3" run 3 "$MH" --offline --mel2mel "$M2M" --vocoder "$M2M" "$T/st.wav" -o "$T/w2.wav"
check "Mel2Mel-only file as --vocoder: says why" grep_err "no DiffWave vocoder"
check "10-mel DiffWave: exit 3" run 3 "$MH" --offline --mel2mel "$M2M" --vocoder "$DWONLY" "$T/st.wav" -o "$T/w3.wav"
check "10-mel DiffWave: says why" grep_err "10 mels"
head -c 3000 /dev/urandom >"$T/junk.safetensors"
check "corrupt model: exit 3" run 3 "$MH" --offline --mel2mel "$T/junk.safetensors" "$T/st.wav" -o "$T/w4.wav"
check "corrupt model: says why" grep_err "cannot read model"
check "missing model: exit 3" run 3 "$MH" --offline --vocoder "$T/none.safetensors" --mel2mel "$M2M" "$T/st.wav" -o "$T/w5.wav"
check "wrong files: no outputs" absent "$T/w1.wav"
check "--steps without --offline: usage error" run 2 "$MH" --steps 6 "$T/st.wav" -o "$T/u.wav"
check "--griffin-lim without --offline: usage error" run 2 "$MH" --griffin-lim 8 "$T/st.wav" -o "$T/u.wav"
check "--offline with --amount: usage error" run 2 "$MH" --offline --amount 0.5 "$T/st.wav" -o "$T/u.wav"
check "--steps with --griffin-lim: usage error" run 2 "$MH" --offline --steps 6 --griffin-lim 8 "$T/st.wav" -o "$T/u.wav"
check "--steps 0: usage error" run 2 "$MH" --offline --steps 0 "$T/st.wav" -o "$T/u.wav"
check "--help documents --offline" run 0 "$MH" --help
check "--help documents --offline (text)" grep -q -- "--griffin-lim" "$T/out"
check "--help: Griffin-Lim default" grep -q "Griffin-Lim 32 iterations" "$T/out"
check "--help: block range intact" grep -q "1..8192 (default 1024)" "$T/out"

# ---- several files, spectrogram, OUT == IN ----
check "offline, several files into a directory" \
  run 0 "$MH" -q --offline --experimental-vocoder --mel2mel "$VOC" --steps 6 "$T/st.wav" "$T/mono48.flac" -o "$T/batch" --spectrogram "$T/specs/"
check "batch: first output" same_shape "$T/st.wav" "$T/batch/st.wav"
check "batch: second output" same_shape "$T/mono48.flac" "$T/batch/mono48.flac"
check "batch: spectrograms" [ -s "$T/specs/st.wav.png" ] && [ -s "$T/specs/mono48.flac.png" ]
cp "$T/st.wav" "$T/keep.wav"
check "OUT == IN refused" run 1 "$MH" -q --offline --experimental-vocoder --mel2mel "$VOC" --steps 6 "$T/keep.wav" -o "$T/keep.wav"
check "OUT == IN: input untouched" cmp -s "$T/keep.wav" "$T/st.wav"
check "no temporary files left" eval '! ls -a "$T" "$T/batch" | grep -q "^\..*\.menhance-"'

# ---- a reference-size DiffWave (L=30 C=64, 2.8 M parameters), made with PyTorch ----
if /usr/bin/python3 -c "import torch" >/dev/null 2>&1; then
  if /usr/bin/python3 - "$ROOT/train" "$T/dw_ref.safetensors" >"$T/py.log" 2>&1 <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import torch
from diffwave import DiffWave, export_diffwave
torch.manual_seed(0)
m = DiffWave(layers=30, channels=64, cycle=10, n_mels=128)
with torch.no_grad():  # the zero-initialised output layer would predict no noise at all
    m.output_projection.weight.normal_(0.0, 0.05)
export_diffwave(m, sys.argv[2])
EOF
  then
    "$PROBE" gen "$T/short.wav" 16000 1 0.1 music float
    check "reference-size DiffWave (6 steps, 0.1 s)" \
      run 0 "$MH" --offline --experimental-vocoder --mel2mel "$M2M" --vocoder "$T/dw_ref.safetensors" --steps 6 "$T/short.wav" -o "$T/ref.wav"
    check "reference-size DiffWave: described" grep_err "L=30 C=64 (2.80 M params)"
    check "reference-size DiffWave: length" same_shape "$T/short.wav" "$T/ref.wav"
    check "reference-size DiffWave: finite, not silent" audible "$T/ref.wav"
  else
    check "reference-size DiffWave made by train/diffwave.py" false
    cat "$T/py.log"
  fi
else
  skip "no torch for /usr/bin/python3: the reference-size DiffWave (made by train/diffwave.py) is not checked"
fi
finish
