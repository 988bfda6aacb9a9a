#!/bin/sh
# End-to-end tests of build/menhance: formats and rates in and out, exact length and timing
# (latency removed), several files into a directory, refusals (unsupported input, OUT == IN),
# model fallback, spectrogram PNGs and exit codes.  Test signals come from build/tests/cli_probe.
# Prints "test_cli: N passed, N failed"; exits nonzero on failure.
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILDDIR:-$ROOT/build}
case $B in /*) ;; *) B=$ROOT/$B ;; esac
MH=$B/menhance
PROBE=$B/tests/cli_probe
pass=0
fail=0

check() { # check DESCRIPTION COMMAND...
  desc=$1
  shift
  if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL test_cli: $desc"; fi
}
finish() {
  echo "test_cli: $pass passed, $fail failed"
  [ "$fail" -eq 0 ]
  exit $?
}
if [ ! -x "$MH" ] || [ ! -x "$PROBE" ]; then
  fail=1
  echo "FAIL test_cli: $MH or $PROBE not built (make all-tests)"
  finish
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/menhance-cli.XXXXXX")
trap 'rm -rf "$T"' EXIT
# No shipped model may leak into these runs unless a test asks for one.
export MENHANCE_MODEL_DIR="$T/no-models"

# run EXPECTED_RC CMD... : runs quietly, keeps stderr in $T/err, checks the exit status
run() {
  want=$1
  shift
  "$@" >"$T/out" 2>"$T/err"
  got=$?
  if [ "$got" -ne "$want" ]; then
    echo "  ($* -> exit $got, wanted $want; stderr: $(head -c 300 "$T/err"))"
    return 1
  fi
}
eq() { [ "$1" = "$2" ] || { echo "  (got '$1', wanted '$2')"; return 1; }; }
absent() { [ ! -e "$1" ] || { echo "  ($1 exists)"; return 1; }; }
no_temp_left() { ! ls -a "$1" | grep -q 'menhance-'; }
grep_err() { grep -qi "$1" "$T/err" || { echo "  (stderr lacks '$1': $(head -c 300 "$T/err"))"; return 1; }; }
frames_of() { "$PROBE" info "$1" | cut -d' ' -f1; }
within() { # within A B TOL: |A - B| <= TOL (integers)
  d=$(($1 - $2))
  [ "${d#-}" -le "$3" ] || { echo "  ($1 vs $2, tolerance $3)"; return 1; }
}

# ---- command line ----
check "--help exits 0" run 0 "$MH" --help
check "--help documents exit codes" grep -q "Exit status" "$T/out"
check "--version exits 0" run 0 "$MH" --version
check "--version prints the name" grep -q "^menhance " "$T/out"
check "unknown option is a usage error" run 2 "$MH" --bogus x.wav -o y.wav
check "missing -o is a usage error" run 2 "$MH" x.wav
check "bad --amount is a usage error" run 2 "$MH" --amount 3 x.wav -o y.wav
check "bad --mode is a usage error" run 2 "$MH" --mode loud x.wav -o y.wav

# ---- formats, rates and channel counts: length and layout preserved ----
for rate in 44100 48000; do
  for ch in 1 2; do
    for ext in wav flac; do
      in=$T/in_${rate}_${ch}.$ext
      "$PROBE" gen "$in" $rate $ch 1.3 music pcm24
      for oext in wav flac; do
        out=$T/out_${rate}_${ch}_$ext.$oext
        check "$rate Hz ${ch}ch $ext -> $oext runs" run 0 "$MH" -q "$in" -o "$out"
        set -- $("$PROBE" info "$out")
        check "$rate Hz ${ch}ch $ext -> $oext: length" eq "$1" "$(frames_of "$in")"
        check "$rate Hz ${ch}ch $ext -> $oext: rate" eq "$2" "$rate"
        check "$rate Hz ${ch}ch $ext -> $oext: channels" eq "$3" "$ch"
        check "$rate Hz ${ch}ch $ext -> $oext: container" eq "$4" "$oext"
        check "$rate Hz ${ch}ch $ext -> $oext: 24-bit" eq "$5" "pcm24"
      done
    done
  done
done
check "output is not silent" [ "$("$PROBE" rms "$T/out_48000_2_wav.wav" | cut -c1-2)" != "0" ]
"$PROBE" gen "$T/f.wav" 48000 2 0.7 music float
check "float WAV in -> float WAV out" run 0 "$MH" -q "$T/f.wav" -o "$T/f_out.wav"
check "float WAV keeps float" eq "$("$PROBE" info "$T/f_out.wav" | cut -d' ' -f5)" float
check "no extension: same container as the input" run 0 "$MH" -q "$T/in_44100_1.flac" -o "$T/noext"
check "no extension: FLAC" eq "$("$PROBE" info "$T/noext" | cut -d' ' -f4)" flac
check "unknown output extension refused" run 1 "$MH" -q "$T/f.wav" -o "$T/f_out.xyz"
check "unknown output extension: no file" absent "$T/f_out.xyz"
check "Ogg Vorbis output" run 0 "$MH" -q "$T/in_48000_2.wav" -o "$T/v.ogg"
check "Ogg Vorbis output: format and length" eq "$("$PROBE" info "$T/v.ogg")" "$(frames_of "$T/in_48000_2.wav") 48000 2 ogg vorbis"
check "Ogg Vorbis input -> float WAV" run 0 "$MH" -q "$T/v.ogg" -o "$T/v.wav"
check "Ogg Vorbis input -> float WAV: format" eq "$("$PROBE" info "$T/v.wav" | cut -d' ' -f4,5)" "wav float"
"$PROBE" gen "$T/short.wav" 44100 2 0.01 music
check "very short file (441 frames)" run 0 "$MH" -q "$T/short.wav" -o "$T/short_out.wav"
check "very short file keeps its length" eq "$(frames_of "$T/short_out.wav")" 441
"$PROBE" gen "$T/r22.wav" 22050 1 0.8 music
check "22.05 kHz input" run 0 "$MH" -q "$T/r22.wav" -o "$T/r22_out.flac"
check "22.05 kHz keeps its length" eq "$(frames_of "$T/r22_out.flac")" "$(frames_of "$T/r22.wav")"

# ---- latency removed: output lines up with the input ----
for rate in 44100 48000; do
  "$PROBE" gen "$T/imp$rate.wav" $rate 2 1.5 impulse:20000 float
  check "impulse $rate: dry run" run 0 "$MH" -q --amount 0 "$T/imp$rate.wav" -o "$T/imp${rate}_dry.wav"
  set -- $("$PROBE" peak "$T/imp${rate}_dry.wav")
  check "impulse $rate: --amount 0 peak at the same sample" eq "$1" 20000
  set -- $("$PROBE" diff "$T/imp$rate.wav" "$T/imp${rate}_dry.wav")
  check "impulse $rate: --amount 0 is the input, max diff $1" \
    awk "BEGIN { exit !($1 < 1e-6) }"
  check "impulse $rate: processed run" run 0 "$MH" -q "$T/imp$rate.wav" -o "$T/imp${rate}_wet.wav"
  set -- $("$PROBE" peak "$T/imp${rate}_wet.wav")
  check "impulse $rate: processed peak within 2 samples" within "$1" 20000 2
  check "impulse $rate: processed onset not early" \
    within "$("$PROBE" onset "$T/imp${rate}_wet.wav" 0.5)" 20000 2
done
check "processed music lines up with the input" \
  within "$("$PROBE" lag "$T/in_48000_2.wav" "$T/out_48000_2_wav.wav" 100)" 0 1
check "processed music lines up with the input (44.1 kHz mono FLAC)" \
  within "$("$PROBE" lag "$T/in_44100_1.flac" "$T/out_44100_1_flac.wav" 100)" 0 1
"$PROBE" gen "$T/early.wav" 48000 1 0.5 impulse:30 float
check "impulse at the very start, dry" run 0 "$MH" -q --amount 0 "$T/early.wav" -o "$T/early_dry.wav"
set -- $("$PROBE" diff "$T/early.wav" "$T/early_dry.wav")
check "settings apply from the first sample (--amount 0 exact, max diff $1)" awk "BEGIN { exit !($1 < 1e-6) }"
check "same input twice gives the same output" run 0 "$MH" -q "$T/in_48000_2.wav" -o "$T/again.wav"
check "deterministic output" cmp -s "$T/again.wav" "$T/out_48000_2_wav.wav"
check "--block 64 runs" run 0 "$MH" -q --block 64 "$T/in_48000_2.wav" -o "$T/b64.wav"
check "--block 64 keeps the length" eq "$(frames_of "$T/b64.wav")" "$(frames_of "$T/in_48000_2.wav")"

# ---- several files into a directory ----
check "several inputs into a new directory" \
  run 0 "$MH" -q "$T/in_44100_1.wav" "$T/in_48000_2.flac" -o "$T/batch/sub" --spectrogram "$T/specs/"
check "batch: first output" eq "$(frames_of "$T/batch/sub/in_44100_1.wav")" "$(frames_of "$T/in_44100_1.wav")"
check "batch: second output" eq "$(frames_of "$T/batch/sub/in_48000_2.flac")" "$(frames_of "$T/in_48000_2.flac")"
check "batch: spectrogram per file (1)" [ -s "$T/specs/in_44100_1.wav.png" ]
check "batch: spectrogram per file (2)" [ -s "$T/specs/in_48000_2.flac.png" ]
check "batch: no temporary files left" no_temp_left "$T/batch/sub"
check "batch: same name twice refused" run 1 "$MH" -q "$T/in_44100_1.wav" "$T/batch/sub/in_44100_1.wav" -o "$T/batch2"
check "batch: the first of the pair still written" [ -s "$T/batch2/in_44100_1.wav" ]

# ---- refusals ----
echo "this is not audio" >"$T/text.wav"
check "unsupported file: error" run 1 "$MH" -q "$T/text.wav" -o "$T/text_out.wav"
check "unsupported file: says so" grep_err "unsupported"
check "unsupported file: no output" absent "$T/text_out.wav"
"$PROBE" gen "$T/quad.wav" 48000 4 0.2 music
check "4 channels: error" run 1 "$MH" -q "$T/quad.wav" -o "$T/quad_out.wav"
check "4 channels: says why" grep_err "channels"
check "4 channels: no output" absent "$T/quad_out.wav"
"$PROBE" gen "$T/empty.wav" 48000 2 0 silence
check "empty input: error" run 1 "$MH" -q "$T/empty.wav" -o "$T/empty_out.flac"
check "empty input: says so" grep_err "no audio"
check "empty input: no output" absent "$T/empty_out.flac"
check "missing input: error" run 1 "$MH" -q "$T/nope.wav" -o "$T/nope_out.wav"
check "missing input: no output" absent "$T/nope_out.wav"
cp "$T/in_44100_2.wav" "$T/keep.wav"
check "OUT == IN refused" run 1 "$MH" -q "$T/keep.wav" -o "$T/keep.wav"
check "OUT == IN: input untouched" cmp -s "$T/keep.wav" "$T/in_44100_2.wav"
ln -s keep.wav "$T/link.wav"
check "OUT == IN through a link refused" run 1 "$MH" -q "$T/keep.wav" -o "$T/link.wav"
check "OUT == IN through a link: input untouched" cmp -s "$T/keep.wav" "$T/in_44100_2.wav"
mkdir -p "$T/self"
cp "$T/in_44100_2.wav" "$T/self/a.wav"
check "output directory == input directory refused" run 1 "$MH" -q "$T/self/a.wav" "$T/in_48000_1.wav" -o "$T/self"
check "output directory == input directory: input untouched" cmp -s "$T/self/a.wav" "$T/in_44100_2.wav"
check "a bad input among good ones: exit 1" run 1 "$MH" -q "$T/text.wav" "$T/in_48000_1.wav" -o "$T/mixed"
check "a bad input among good ones: good one written" [ -s "$T/mixed/in_48000_1.wav" ]
check "no temporary files left" no_temp_left "$T"

# ---- model fallback (mirrors the plugin) ----
check "missing model: still works" run 0 "$MH" --mode mel2mel --model "$T/none.safetensors" "$T/in_48000_2.wav" -o "$T/m1.wav"
check "missing model: warns" grep_err "warning"
check "missing model: falls back to classical" grep_err "classical"
check "missing model: output has the input's length" eq "$(frames_of "$T/m1.wav")" "$(frames_of "$T/in_48000_2.wav")"
head -c 5000 /dev/urandom >"$T/junk.safetensors"
check "corrupt model: still works" run 0 "$MH" --mode vocoder --model "$T/junk.safetensors" "$T/in_48000_2.wav" -o "$T/m2.wav"
check "corrupt model: warns" grep_err "warning"
if ! "$MH" --which-model >/dev/null 2>&1; then
  check "no default model: still works" run 0 "$MH" --mode mel2mel "$T/in_48000_1.wav" -o "$T/m3.wav"
  check "no default model: warns" grep_err "warning"
else
  # A model ships: the learned modes must keep length and timing like the classical one.
  for mode in mel2mel vocoder; do
    check "default model, $mode: runs" run 0 "$MH" --mode $mode "$T/in_48000_2.wav" -o "$T/dm_$mode.wav"
    check "default model, $mode: model loaded" grep_err "model "
    check "default model, $mode: length" eq "$(frames_of "$T/dm_$mode.wav")" "$(frames_of "$T/in_48000_2.wav")"
    check "default model, $mode: lines up with the input" \
      within "$("$PROBE" lag "$T/in_48000_2.wav" "$T/dm_$mode.wav" 200)" 0 2
  done
fi
check "--strict with a missing model: exit 3" run 3 "$MH" --strict --mode mel2mel --model "$T/none.safetensors" "$T/in_48000_2.wav" -o "$T/m4.wav"
check "--strict with a missing model: no output" absent "$T/m4.wav"
check "--no-model with --mode mel2mel is a usage error" run 2 "$MH" --no-model --mode mel2mel "$T/in_48000_2.wav" -o "$T/m5.wav"

# A small streaming Mel2Mel (random weights, from the nn tests): exercises the learned path.
GM=$ROOT/tests/golden/nn_m2m_stream_b.safetensors
if [ -f "$GM" ]; then
  check "mel2mel with a model file" run 0 "$MH" --strict --mode mel2mel --model "$GM" "$T/in_48000_2.wav" -o "$T/g.wav"
  check "mel2mel: model described" grep_err "mel2mel"
  check "mel2mel: no fallback warning" eval '! grep -qi warning "$T/err"'
  check "mel2mel: length" eq "$(frames_of "$T/g.wav")" "$(frames_of "$T/in_48000_2.wav")"
  check "mel2mel: lines up with the input" within "$("$PROBE" lag "$T/in_48000_2.wav" "$T/g.wav" 200)" 0 2
  set -- $("$PROBE" diff "$T/g.wav" "$T/out_48000_2_wav.wav")
  check "mel2mel: differs from classical (max diff $1)" awk "BEGIN { exit !($1 > 1e-3) }"
  check "mel2mel, several files (a model per engine)" \
    run 0 "$MH" -q --strict --mode mel2mel --model "$GM" "$T/in_44100_1.wav" "$T/in_48000_2.flac" -o "$T/gb"
  check "mel2mel, several files: second output" eq "$(frames_of "$T/gb/in_48000_2.flac")" "$(frames_of "$T/in_48000_2.flac")"
fi

# ---- spectrogram ----
check "spectrogram run" run 0 "$MH" -q "$T/in_44100_2.flac" -o "$T/s.wav" --spectrogram "$T/s.png"
check "spectrogram: PNG signature" eq "$(head -c 8 "$T/s.png" | od -An -tx1 | tr -d ' \n')" 89504e470d0a1a0a
check "spectrogram: IHDR follows" eq "$(head -c 16 "$T/s.png" | tail -c 4)" IHDR
size=$(wc -c <"$T/s.png")
check "spectrogram: plausible size ($size bytes)" [ "$size" -gt 20000 ]
check "spectrogram: image at least 1000x600" \
  awk -v w=$((0x$(head -c 20 "$T/s.png" | tail -c 4 | od -An -tx1 | tr -d ' \n'))) \
  -v h=$((0x$(head -c 24 "$T/s.png" | tail -c 4 | od -An -tx1 | tr -d ' \n'))) 'BEGIN { exit !(w >= 1000 && h >= 600) }'
check "spectrogram: linear axis" run 0 "$MH" -q --linear "$T/in_44100_2.flac" -o "$T/s2.wav" --spectrogram "$T/s2.png"
check "spectrogram: linear axis PNG" [ -s "$T/s2.png" ]
check "spectrogram: stem naming with several inputs" \
  run 0 "$MH" -q "$T/in_44100_1.wav" "$T/in_48000_1.wav" -o "$T/sb" --spectrogram "$T/sb.png"
check "spectrogram: stem naming (1)" [ -s "$T/sb-in_44100_1.wav.png" ]
check "spectrogram: stem naming (2)" [ -s "$T/sb-in_48000_1.wav.png" ]

# ---- the bundled demo clip ----
if [ -f "$ROOT/tests/data/demo_noisy.flac" ]; then
  set -- $("$PROBE" info "$ROOT/tests/data/demo_noisy.flac")
  check "demo clip: 44.1 kHz stereo FLAC" eq "$2 $3 $4" "44100 2 flac"
  check "demo clip: about 6 s" within "$1" 264600 4410
fi
finish
