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
skipped=0
skip() { # skip REASON: a check that cannot run here, counted and shown (never passed)
  skipped=$((skipped + 1))
  echo "SKIP test_cli: $*"
}
finish() {
  echo "test_cli: $pass passed, $fail failed$([ $skipped -gt 0 ] && echo ", $skipped skipped")"
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
not_same() { ! cmp -s "$1" "$2"; }
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

# A small noise/room/tone Mel2Mel (random weights, from the nn tests): exercises the learned path.
GM=$ROOT/tests/golden/nn_m2m_nrt_b.safetensors
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

# ---- numeric options: checked whole, with the reason, nothing written ----
for a in "--block 1.5" "--block 0" "--block 9000" "--block 12x" "--amount nan" "--max-atten 1e9" \
  "--noise 3" "--room -0.5" "--tone x" "--strength 0.5.1" "--offline --steps 2.5" "--offline --griffin-lim 1.5" "--offline --steps 0x6"; do
  check "$a: usage error" run 2 "$MH" $a "$T/in_48000_1.wav" -o "$T/num.wav"
  check "$a: says what is wrong" grep_err "expects a"
  check "$a: no output" absent "$T/num.wav"
done
check "--noise with --offline: usage error" run 2 "$MH" --offline --noise 0.5 "$T/in_48000_1.wav" -o "$T/num.wav"
# The head controls and the removed signal, on a model whose heads ask for fixed gains (noise -9 dB)
NRT=tests/golden/engine_nrt.safetensors
check "--noise 0 --room 0 --tone 0" run 0 "$MH" -q --strict --model "$NRT" --noise 0 --room 0 --tone 0 \
  "$T/in_48000_1.wav" -o "$T/h0.wav"
check "--noise 2" run 0 "$MH" -q --strict --model "$NRT" --noise 2 --room 0 --tone 0 "$T/in_48000_1.wav" -o "$T/h2.wav"
check "--noise changes the output" not_same "$T/h0.wav" "$T/h2.wav"
check "--listen-removed" run 0 "$MH" -q --strict --model "$NRT" --listen-removed "$T/in_48000_1.wav" -o "$T/lr.wav"
check "--listen-removed writes another signal" not_same "$T/lr.wav" "$T/h2.wav"
check "--block '': usage error with a reason" run 2 "$MH" --block "" "$T/in_48000_1.wav" -o "$T/num.wav"
check "--block '': says what is wrong" grep_err "expects a whole number"
check "--block 64 still accepted" run 0 "$MH" -q --block 64 "$T/in_48000_1.wav" -o "$T/num.wav"

# ---- outputs that cannot be written are found before the work ----
check "spectrogram in a missing directory: error" \
  run 1 "$MH" -q "$T/in_48000_1.wav" -o "$T/spx.wav" --spectrogram "$T/nodir/x.png"
check "spectrogram in a missing directory: names it" grep_err "nodir/x.png"
check "spectrogram in a missing directory: no audio written" absent "$T/spx.wav"
check "output in a missing directory: error" run 1 "$MH" -q "$T/in_48000_1.wav" -o "$T/nodir/o.wav"
check "output in a missing directory: names it" grep_err "nodir/o.wav"
check "spectrogram stem in a missing directory, several inputs: error" \
  run 1 "$MH" -q "$T/in_44100_1.wav" "$T/in_48000_1.wav" -o "$T/spdir" --spectrogram "$T/nodir/stem"
check "spectrogram stem in a missing directory: no audio written" eval '[ -z "$(ls "$T/spdir")" ]'
check "spectrogram written atomically too: no temporary files left" no_temp_left "$T"

# ---- fatal signals remove the temporary output ----
# The input is a FIFO that stalls half-way, so the CLI is mid-file, its temporary output on disk,
# when the signal comes.  Signals ignored when this script started stay ignored in the CLI (as
# nohup wants), so those are skipped with a note.
sig_ignored() { # sig_ignored N: 1 if signal N is ignored in this shell
  mask=$(sed -n 's/^SigIgn:[[:space:]]*//p' /proc/$$/status 2>/dev/null)
  [ -n "$mask" ] && [ $(((0x$mask >> ($1 - 1)) & 1)) -eq 1 ]
}
"$PROBE" gen "$T/long.wav" 48000 2 10 music pcm16
# start_stalled DIR CLI-OPTIONS...: runs the CLI on a stalling FIFO into DIR/out.wav; sets
# $pid and $writer; waits (up to 10 s) for the temporary output to appear.
start_stalled() {
  d=$1
  shift
  mkdir -p "$d"
  rm -f "$T/fifo.wav"
  mkfifo "$T/fifo.wav"
  (head -c 400000 "$T/long.wav"; exec sleep 60) >"$T/fifo.wav" &
  writer=$!
  "$MH" -q "$@" "$T/fifo.wav" -o "$d/out.wav" 2>"$T/err" &
  pid=$!
  i=0
  while [ $i -lt 200 ] && ! ls -a "$d" | grep -q 'menhance-'; do
    sleep 0.05
    i=$((i + 1))
  done
}
for s in HUP:1 PIPE:13 TERM:15; do
  sig=${s%:*}
  num=${s#*:}
  if sig_ignored $num; then
    skip "SIG$sig is ignored by this shell (nohup?), so the CLI keeps it ignored: no cleanup test"
    continue
  fi
  start_stalled "$T/sig_$sig" --mode classical
  check "SIG$sig: the temporary output exists mid-file" eval 'ls -a "$T/sig_$sig" | grep -q menhance-'
  kill -$sig $pid
  { wait $pid; } 2>/dev/null
  rc=$?
  kill $writer 2>/dev/null
  wait $writer 2>/dev/null
  check "SIG$sig: exit status 128+$num" eq "$rc" $((128 + num))
  check "SIG$sig: temporary output removed" no_temp_left "$T/sig_$sig"
  check "SIG$sig: no output" absent "$T/sig_$sig/out.wav"
  check "SIG$sig: says so" grep_err "temporary files removed"
done
# The offline path holds its temporary output while it reads the whole file.
if sig_ignored 1; then
  skip "SIGHUP is ignored by this shell (nohup?): no offline cleanup test"
else
  start_stalled "$T/sig_offline" --offline --mel2mel none --griffin-lim 1
  check "offline: the temporary output exists while reading" eval 'ls -a "$T/sig_offline" | grep -q menhance-'
  kill -HUP $pid
  { wait $pid; } 2>/dev/null
  rc=$?
  kill $writer 2>/dev/null
  wait $writer 2>/dev/null
  check "offline, SIGHUP: exit status 129" eq "$rc" 129
  check "offline, SIGHUP: temporary output removed" no_temp_left "$T/sig_offline"
fi
# An ignored SIGHUP (nohup) must stay ignored: the file is finished.
mkdir -p "$T/nohup"
rm -f "$T/fifo.wav"
mkfifo "$T/fifo.wav"
(head -c 400000 "$T/long.wav"; exec sleep 1) >"$T/fifo.wav" &
writer=$!
(trap '' HUP; exec "$MH" -q --mode classical "$T/fifo.wav" -o "$T/nohup/out.wav") 2>"$T/err" &
pid=$!
sleep 0.3
kill -HUP $pid 2>/dev/null
wait $pid
rc=$?
wait $writer 2>/dev/null
check "ignored SIGHUP stays ignored: exit 0" eq "$rc" 0
check "ignored SIGHUP stays ignored: output written" [ -s "$T/nohup/out.wav" ]

# ---- vocoder mode: strict, and the quality gate ----
VOC=$ROOT/tests/golden/engine_voc.safetensors
if [ ! -f "$GM" ] || [ ! -f "$VOC" ]; then
  check "golden models $GM and $VOC present" false
else
  check "--strict --mode vocoder, model without a vocoder: exit 3" \
    run 3 "$MH" --strict --mode vocoder --model "$GM" "$T/in_48000_2.wav" -o "$T/sv1.wav"
  check "--strict --mode vocoder, model without a vocoder: says why" grep_err "has no vocoder"
  check "--strict --mode vocoder, model without a vocoder: no output" absent "$T/sv1.wav"
  check "--mode vocoder, model without a vocoder: runs" \
    run 0 "$MH" --mode vocoder --model "$GM" "$T/in_48000_2.wav" -o "$T/sv2.wav"
  check "--mode vocoder, model without a vocoder: one-line notice" eq "$(grep -c notice "$T/err")" 1
  check "--mode vocoder, model without a vocoder: reports mel2mel" grep_err "mel2mel mode"
  check "--mode vocoder, vocoder short of its gate: runs" \
    run 0 "$MH" --mode vocoder --model "$VOC" "$T/in_48000_2.wav" -o "$T/sv3.wav"
  check "--mode vocoder, vocoder short of its gate: one-line notice" grep_err "notice: .*quality gate"
  check "--mode vocoder, vocoder short of its gate: mel2mel mode" grep_err "mel2mel mode"
  check "--mode mel2mel with the same model" \
    run 0 "$MH" -q --mode mel2mel --model "$VOC" "$T/in_48000_2.wav" -o "$T/sv4.wav"
  check "vocoder short of its gate: exactly mode 1's output" cmp -s "$T/sv3.wav" "$T/sv4.wav"
  check "--strict, vocoder short of its gate: exit 3" \
    run 3 "$MH" --strict --mode vocoder --model "$VOC" "$T/in_48000_2.wav" -o "$T/sv5.wav"
  check "--strict, vocoder short of its gate: says why" grep_err "quality gate"
  check "--experimental-vocoder runs it" run 0 "$MH" --strict --experimental-vocoder \
    --mode vocoder --model "$VOC" "$T/in_48000_2.wav" -o "$T/sv6.wav"
  check "--experimental-vocoder: vocoder mode" grep_err "vocoder mode"
  set -- $("$PROBE" diff "$T/sv6.wav" "$T/sv4.wav")
  check "--experimental-vocoder: differs from mode 1 (max diff $1)" awk "BEGIN { exit !($1 > 1e-3) }"

  # ---- a refiner (train/refiner.py) whose test gate passed runs as mode 2 ----
  RID=$ROOT/tests/golden/engine_refiner_id.safetensors
  RSM=$ROOT/tests/golden/engine_refiner_small.safetensors
  check "--mode vocoder, refiner past its gate: runs, strict" \
    run 0 "$MH" --strict --mode vocoder --model "$RID" "$T/in_48000_2.wav" -o "$T/rv1.wav"
  check "--mode vocoder, refiner past its gate: vocoder mode" grep_err "vocoder mode"
  check "--mode vocoder, refiner past its gate: no notice" eq "$(grep -c notice "$T/err")" 0
  check "--mode mel2mel with the identity refiner's model" \
    run 0 "$MH" -q --mode mel2mel --model "$RID" "$T/in_48000_2.wav" -o "$T/rv2.wav"
  check "identity refiner: exactly mode 1's output" cmp -s "$T/rv1.wav" "$T/rv2.wav"
  check "--mode vocoder, small refiner: runs" \
    run 0 "$MH" -q --strict --mode vocoder --model "$RSM" "$T/in_48000_2.wav" -o "$T/rv3.wav"
  check "--mode mel2mel, small refiner's model" \
    run 0 "$MH" -q --mode mel2mel --model "$RSM" "$T/in_48000_2.wav" -o "$T/rv4.wav"
  set -- $("$PROBE" diff "$T/rv3.wav" "$T/rv4.wav")
  check "small refiner: differs from mode 1 a little (max diff $1)" \
    awk "BEGIN { exit !($1 > 1e-5 && $1 < 0.1) }"

  # ---- digital silence in, digital silence out, in every mode ----
  "$PROBE" gen "$T/sil.wav" 48000 2 1.5 silence float
  for m in classical mel2mel vocoder; do
    check "silence, $m: runs" run 0 "$MH" -q --mode $m --model "$VOC" "$T/sil.wav" -o "$T/sil_$m.wav"
    check "silence, $m: length" eq "$(frames_of "$T/sil_$m.wav")" 72000
    check "silence, $m: digital silence out" eq "$("$PROBE" maxabs "$T/sil_$m.wav")" 0
  done
  check "silence, vocoder (experimental): runs" run 0 "$MH" -q --experimental-vocoder \
    --mode vocoder --model "$VOC" "$T/sil.wav" -o "$T/sil_voc.wav"
  check "silence, vocoder (experimental): digital silence out" eq "$("$PROBE" maxabs "$T/sil_voc.wav")" 0
  check "silence, small refiner: runs" run 0 "$MH" -q --mode vocoder --model "$RSM" "$T/sil.wav" \
    -o "$T/sil_ref.wav"
  check "silence, small refiner: digital silence out" eq "$("$PROBE" maxabs "$T/sil_ref.wav")" 0
  check "silence, offline (default vocoder): runs" \
    run 0 "$MH" -q --offline --mel2mel "$VOC" "$T/sil.wav" -o "$T/sil_off.wav"
  check "silence, offline: digital silence out" eq "$("$PROBE" maxabs "$T/sil_off.wav")" 0
  check "silence, offline DiffWave (experimental): runs" run 0 "$MH" -q --offline \
    --experimental-vocoder --mel2mel "$VOC" --steps 6 "$T/sil.wav" -o "$T/sil_dw.wav"
  check "silence, offline DiffWave: digital silence out" eq "$("$PROBE" maxabs "$T/sil_dw.wav")" 0
  "$PROBE" gen "$T/left.wav" 44100 2 1.5 music-left pcm16
  for m in classical mel2mel vocoder; do
    check "silent right channel, $m: runs" run 0 "$MH" -q --experimental-vocoder --mode $m \
      --model "$VOC" "$T/left.wav" -o "$T/left_$m.wav"
    check "silent right channel, $m: stays silent" eq "$("$PROBE" maxabs "$T/left_$m.wav" 2)" 0
  done
  check "silent right channel, offline: runs" \
    run 0 "$MH" -q --offline --mel2mel "$VOC" "$T/left.wav" -o "$T/left_off.wav"
  check "silent right channel, offline: stays silent" eq "$("$PROBE" maxabs "$T/left_off.wav" 2)" 0
  check "silent right channel, offline: left channel has sound" \
    awk -v m="$("$PROBE" maxabs "$T/left_off.wav" 1)" 'BEGIN { exit !(m > 0.01) }'
  "$PROBE" gen "$T/gap.wav" 44100 1 3 musicgap:1:2 pcm16
  check "digital silence mid-file, offline: runs" \
    run 0 "$MH" -q --offline --mel2mel "$VOC" "$T/gap.wav" -o "$T/gap_off.wav"
  check "digital silence mid-file, offline: silent inside the gap" \
    eq "$("$PROBE" maxabs "$T/gap_off.wav" 1 1.06 1.94)" 0
  check "digital silence mid-file, offline: sound on both sides" \
    awk -v a="$("$PROBE" maxabs "$T/gap_off.wav" 1 0.2 0.9)" -v b="$("$PROBE" maxabs "$T/gap_off.wav" 1 2.1 2.8)" \
    'BEGIN { exit !(a > 0.01 && b > 0.01) }'
  # The offline default follows the input (it used to return the same noise for any input).
  "$PROBE" gen "$T/sine1k.wav" 44100 1 1.5 sine:1000 float
  check "offline default on a 1 kHz sine: runs" \
    run 0 "$MH" -q --offline --mel2mel none "$T/sine1k.wav" -o "$T/sine_off.wav"
  f=$("$PROBE" freq "$T/sine_off.wav")
  check "offline default on a 1 kHz sine: 1 kHz out ($f Hz)" awk -v f="$f" 'BEGIN { exit !(f >= 970 && f <= 1030) }'
fi

# ---- level safety: no mode lifts a signal above full scale; DC removed ----
CEIL=0.8913 # -1 dBFS (the limiter holds true peaks under -1 dBTP)
"$PROBE" gen "$T/square.wav" 48000 2 1.5 square:100 float
"$PROBE" gen "$T/spike.wav" 48000 2 1.5 spike:36000:1e30 float
"$PROBE" gen "$T/dc.wav" 48000 2 3 musicdc:0.3 float
under() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }' || { echo "  ($1 above $2)"; return 1; }; }
for m in classical mel2mel; do
  check "full-scale square, $m: runs" run 0 "$MH" -q --mode $m --model "$GM" "$T/square.wav" -o "$T/sq_$m.wav"
  check "full-scale square, $m: peak under -1 dBFS" under "$("$PROBE" maxabs "$T/sq_$m.wav")" $CEIL
  check "1e30 sample, $m: runs" run 0 "$MH" -q --mode $m --model "$GM" "$T/spike.wav" -o "$T/spk_$m.wav"
  check "1e30 sample, $m: peak under -1 dBFS" under "$("$PROBE" maxabs "$T/spk_$m.wav")" $CEIL
  check "DC 0.3, $m: runs" run 0 "$MH" -q --mode $m --model "$GM" "$T/dc.wav" -o "$T/dc_$m.wav"
  dc=$("$PROBE" mean "$T/dc_$m.wav")
  check "DC 0.3, $m: removed (mean $dc)" awk -v d="$dc" 'BEGIN { exit !(d < 0.01 && d > -0.01) }'
done
check "--no-limiter: runs" run 0 "$MH" -q --no-limiter --mode classical "$T/square.wav" -o "$T/sq_nl.wav"
check "--no-limiter: peaks pass" awk -v m="$("$PROBE" maxabs "$T/sq_nl.wav")" 'BEGIN { exit !(m > 1) }'
check "--help documents the limiter" run 0 "$MH" --help
check "--help: --no-limiter, on by default" grep -q -- "--no-limiter .*on by default" "$T/out"
check "offline, full-scale square: runs" run 0 "$MH" -q --offline --mel2mel none "$T/square.wav" -o "$T/sq_off.wav"
check "offline, full-scale square: peak under -1 dBFS" under "$("$PROBE" maxabs "$T/sq_off.wav")" $CEIL
check "offline --no-limiter: peaks pass" run 0 "$MH" -q --offline --no-limiter --mel2mel none "$T/square.wav" -o "$T/sq_off_nl.wav"
check "offline --no-limiter: above -1 dBFS" awk -v m="$("$PROBE" maxabs "$T/sq_off_nl.wav")" 'BEGIN { exit !(m > 0.9) }'

# ---- a file is primed: its start is treated like the rest (white noise, strong settings) ----
"$PROBE" gen "$T/white.wav" 48000 1 10 noise:0.3 float
check "white noise, classical strong: runs" \
  run 0 "$MH" -q --mode classical --strength 2 --max-atten 40 "$T/white.wav" -o "$T/white_out.wav"
r_in=$("$PROBE" rms "$T/white.wav" 5 9)
r_start=$("$PROBE" rms "$T/white_out.wav" 0.2 1.2)
r_rest=$("$PROBE" rms "$T/white_out.wav" 5 9)
check "white noise: suppressed (rms $r_rest of $r_in)" awk -v o="$r_rest" -v i="$r_in" 'BEGIN { exit !(o < 0.1 * i) }'
check "white noise: the first second as suppressed as the rest, within 3 dB ($r_start vs $r_rest)" \
  awk -v s="$r_start" -v r="$r_rest" 'BEGIN { exit !(s < 1.41 * r && s > 0.71 * r) }'

# ---- formats through FFmpeg: inputs made here with the ffmpeg command ----
if ! command -v ffmpeg >/dev/null 2>&1; then
  check "ffmpeg installed (scripts/deps.sh)" false
else
  FF="ffmpeg -hide_banner -loglevel error -nostdin -y"
  "$PROBE" gen "$T/src.wav" 44100 2 2 music pcm16
  N=$(frames_of "$T/src.wav")
  $FF -i "$T/src.wav" -c:a aac -b:a 128k "$T/phone.m4a"
  check "M4A/AAC: read" run 0 "$MH" -q --amount 0 "$T/phone.m4a" -o "$T/m4a.wav"
  check "M4A/AAC: exact length, rate, channels" eq "$("$PROBE" info "$T/m4a.wav" | cut -d' ' -f1-3)" "$N 44100 2"
  check "M4A/AAC: lines up with the source" within "$("$PROBE" lag "$T/src.wav" "$T/m4a.wav" 2000)" 0 1
  check "M4A/AAC: float output for a lossy input" eq "$("$PROBE" info "$T/m4a.wav" | cut -d' ' -f5)" float
  check "M4A/AAC: processed" run 0 "$MH" -q "$T/phone.m4a" -o "$T/m4a_wet.flac"
  check "M4A/AAC: processed length" eq "$(frames_of "$T/m4a_wet.flac")" "$N"

  "$PROBE" gen "$T/src48.wav" 48000 1 1.5 music pcm16
  $FF -f lavfi -i testsrc=size=64x48:rate=10:duration=1.5 -i "$T/src48.wav" -map 0:v -map 1:a \
    -c:v mpeg4 -c:a aac "$T/clip.mp4"
  check "video file: its audio track is read" run 0 "$MH" -q --amount 0 "$T/clip.mp4" -o "$T/clip.wav"
  check "video file: length, rate, channels" eq "$("$PROBE" info "$T/clip.wav" | cut -d' ' -f1-3)" "72000 48000 1"
  check "video file: lines up with the source" within "$("$PROBE" lag "$T/src48.wav" "$T/clip.wav" 2000)" 0 1

  # Raw AAC (ADTS) states no length: the decoded stream keeps the encoder's priming and
  # padding, exactly as FFmpeg's own decoder gives it.
  $FF -i "$T/src.wav" -c:a aac "$T/raw.aac"
  $FF -i "$T/raw.aac" -c:a pcm_f32le "$T/raw_ref.wav"
  check "raw AAC: read" run 0 "$MH" -q --amount 0 "$T/raw.aac" -o "$T/raw.wav"
  check "raw AAC: length, rate, channels as FFmpeg decodes it" \
    eq "$("$PROBE" info "$T/raw.wav" | cut -d' ' -f1-3)" "$(frames_of "$T/raw_ref.wav") 44100 2"
  check "raw AAC: the source plus priming and padding (under 2 AAC frames)" \
    within "$(frames_of "$T/raw.wav")" $((N + 1024)) 1024

  if $FF -encoders 2>/dev/null | grep -q "(codec amr_nb)"; then
    "$PROBE" gen "$T/src8.wav" 8000 1 1 music pcm16
    $FF -i "$T/src8.wav" -c:a libopencore_amrnb -b:a 12.2k "$T/voice.amr"
    amr_tol=320
  else
    # Debian's FFmpeg decodes AMR-NB but cannot encode it: 50 frames of the 12.2 kbit/s mode
    # (header byte 0x3c, 31 payload bytes) make a valid 1 s file at 8 kHz.
    echo "test_cli: note: this ffmpeg has no AMR-NB encoder; the AMR-NB input is written by hand"
    { printf '#!AMR\n'; i=0; while [ $i -lt 50 ]; do printf '\074'; head -c 31 /dev/zero | tr '\000' '\125'; i=$((i + 1)); done; } >"$T/voice.amr"
    amr_tol=0
  fi
  check "AMR-NB: read" run 0 "$MH" -q "$T/voice.amr" -o "$T/amr.wav"
  check "AMR-NB: 8 kHz mono" eq "$("$PROBE" info "$T/amr.wav" | cut -d' ' -f2-3)" "8000 1"
  check "AMR-NB: 1 s (50 frames of 160)" within "$(frames_of "$T/amr.wav")" 8000 $amr_tol
  check "AMR-NB: not silent" awk -v m="$("$PROBE" maxabs "$T/amr.wav")" 'BEGIN { exit !(m > 0.001) }'

  # ---- what cannot be read says what it is and what would read it ----
  check "not audio at all: error" run 1 "$MH" -q "$T/text.wav" -o "$T/text_out.wav"
  check "not audio at all: both readers tried" grep_err "libsndfile.*FFmpeg"
  { printf 'RIFF\164\006\000\000WAVEfmt \020\000\000\000'
    printf '\167\167\001\000\100\037\000\000\200\076\000\000\002\000\020\000data\100\006\000\000'
    head -c 1600 /dev/zero; } >"$T/odd.wav"
  check "WAV with an unknown codec: error" run 1 "$MH" -q "$T/odd.wav" -o "$T/odd_out.wav"
  check "WAV with an unknown codec: names the container and the codec" grep_err "tag 0x7777.* in WAV"
  check "WAV with an unknown codec: says what would read it" grep_err "software that recorded it"
  $FF -f lavfi -i testsrc=size=64x48:rate=10:duration=1 -c:v mpeg4 "$T/silent_film.mp4"
  check "video without audio: error" run 1 "$MH" -q "$T/silent_film.mp4" -o "$T/sf_out.wav"
  check "video without audio: says so" grep_err "no audio track"
  $FF -f lavfi -i "sine=duration=0.5" -ac 6 -c:a aac "$T/six.m4a"
  check "5.1 M4A: error" run 1 "$MH" -q "$T/six.m4a" -o "$T/six_out.wav"
  check "5.1 M4A: names the format and the channel count" grep_err "6 channels (AAC in M4A)"
  check "5.1 M4A: no output" absent "$T/six_out.wav"

  # ---- several inputs into a directory: containers that cannot be written get FLAC ----
  $FF -i "$T/src.wav" -c:a libmp3lame "$T/song.mp3"
  $FF -i "$T/src48.wav" -c:a libopus "$T/voice.opus"
  check "batch of mp3, opus, m4a, wav" run 0 "$MH" -q --mode classical "$T/song.mp3" \
    "$T/voice.opus" "$T/phone.m4a" "$T/in_44100_2.wav" -o "$T/fmtdir"
  check "batch: no unknown-extension error" eval '! grep -qi "unknown output extension" "$T/err"'
  check "batch: MP3 -> song.flac" eq "$("$PROBE" info "$T/fmtdir/song.flac" | cut -d' ' -f1-4)" "$N 44100 2 flac"
  check "batch: Opus -> voice.flac" eq "$("$PROBE" info "$T/fmtdir/voice.flac" | cut -d' ' -f1-4)" "72000 48000 1 flac"
  check "batch: M4A -> phone.flac" eq "$("$PROBE" info "$T/fmtdir/phone.flac" | cut -d' ' -f1-4)" "$N 44100 2 flac"
  check "batch: WAV keeps its name and container" eq "$("$PROBE" info "$T/fmtdir/in_44100_2.wav" | cut -d' ' -f4)" wav
  check "batch --format wav" run 0 "$MH" -q --mode classical --format wav "$T/song.mp3" \
    "$T/phone.m4a" "$T/in_48000_1.flac" -o "$T/fmtwav"
  check "batch --format wav: every output WAV" eq \
    "$(for f in song phone in_48000_1; do "$PROBE" info "$T/fmtwav/$f.wav" | cut -d' ' -f4; done | tr '\n' ' ')" "wav wav wav "
  check "batch: two inputs to one output name refused" \
    run 1 "$MH" -q --mode classical "$T/phone.m4a" "$T/fmtdir/phone.flac" -o "$T/fmtdup"
  check "batch: the clash is named" grep_err "also written to"
  check "--help names --format and its default" run 0 "$MH" --help
  check "--help: --format flac | wav" grep -q -- "--format NAME .*flac | wav" "$T/out"
  check "--help: default FLAC for unwritable containers" grep -q "FLAC (.flac)" "$T/out"
  check "--help: formats read include M4A/AAC" grep -q "M4A/AAC" "$T/out"
  # ---- one output without an extension ----
  check "M4A to a name without extension: error" run 1 "$MH" -q "$T/phone.m4a" -o "$T/noext_m4a"
  check "... names the format problem" grep_err "no extension.*AAC in M4A.*cannot be written"
  check "... not the sample rate" eval '! grep -q "Hz" "$T/err"'
  check "... no output" absent "$T/noext_m4a"
  check "MP3 to a name without extension: names the format problem" \
    run 1 "$MH" -q --mode classical "$T/song.mp3" -o "$T/noext_mp3"
  check "MP3 to a name without extension: not the sample rate" eval 'grep -q "no extension" "$T/err" && ! grep -q "Hz" "$T/err"'
  check "--format wav names it" run 0 "$MH" -q "$T/phone.m4a" -o "$T/noext_m4a" --format wav
  check "--format wav: WAV" eq "$("$PROBE" info "$T/noext_m4a" | cut -d' ' -f4)" wav
  check "--format contradicting OUT's extension: usage error" \
    run 2 "$MH" -q "$T/phone.m4a" -o "$T/x.wav" --format flac
  check "--format mp3: usage error" run 2 "$MH" -q "$T/phone.m4a" -o "$T/x.mp3" --format mp3
  check "--format mp3: says which it takes" grep_err "flac, wav"
fi

# ---- output targets: standard output, FIFOs, devices, links; standard input ----
# `-` is standard output (and input), as for sox and ffmpeg; a path that is not a regular file
# (a FIFO, a device, a link to one) is written in place, never replaced by a file.
"$PROBE" gen "$T/so.wav" 48000 2 1.0 music pcm24
N_SO=$(frames_of "$T/so.wav")
check "-o FILE for comparison" run 0 "$MH" -q --mode classical "$T/so.wav" -o "$T/so_file.wav"
"$MH" -q --mode classical "$T/so.wav" -o - 2>"$T/err" | cat >"$T/so_pipe.wav"
check "-o - into a pipe: a WAV of the input's length" eq "$(frames_of "$T/so_pipe.wav") $("$PROBE" info "$T/so_pipe.wav" | cut -d' ' -f4)" "$N_SO wav"
check "-o - into a pipe: the same samples as -o FILE" eq "$("$PROBE" diff "$T/so_file.wav" "$T/so_pipe.wav" | cut -d' ' -f1)" 0
check "-o -: no file named -" absent "$T/-"
check "-o - redirected to a file" run 0 "$MH" -q --mode classical "$T/so.wav" -o -
cp "$T/out" "$T/so_redirected.wav"
check "-o - redirected: the same samples" eq "$("$PROBE" diff "$T/so_file.wav" "$T/so_redirected.wav" | cut -d' ' -f1)" 0
check "-o - with two inputs: usage error" run 2 "$MH" -q "$T/so.wav" "$T/so.wav" -o -
check "--spectrogram - with -o -: usage error" run 2 "$MH" -q "$T/so.wav" --spectrogram - -o -
check "--spectrogram - with -o -: says why" grep_err "cannot both go to standard output"
"$PROBE" gen "$T/so.flac" 48000 2 1.0 music pcm24
"$MH" -q --mode classical "$T/so.flac" -o - >"$T/so_flac_redir" 2>/dev/null
check "-o - from FLAC into a file: a WAV" eq "$("$PROBE" info "$T/so_flac_redir" | cut -d' ' -f4)" wav
printf '' >"$T/appended.wav"
"$MH" -q --mode classical "$T/so.wav" -o - >>"$T/appended.wav" 2>/dev/null
check "-o - appended (>>) to an empty file: a whole WAV" eq "$(frames_of "$T/appended.wav")" "$N_SO"
# a length nobody knew (standard input to standard output): sox's "unspecified" data size
cat "$T/so.wav" | "$MH" -q --mode classical - -o - >"$T/piped_copy.wav" 2>/dev/null
check "a streamed WAV of unknown length: the placeholder size" eq "$(od -An -tx4 -j40 -N4 "$T/piped_copy.wav" | tr -d ' ')" 7ffff000
check "a streamed WAV read back: no truncation warning" run 0 "$MH" -q --mode classical "$T/piped_copy.wav" -o "$T/piped_out.wav"
check "a streamed WAV read back: nothing said" eval '! grep -q truncated "$T/err"'
mkdir -p "$T/outdir_single"
check "-o an existing directory, one input: written inside it" run 0 "$MH" -q --mode classical "$T/so.wav" -o "$T/outdir_single"
check "-o an existing directory: the input's name" test -f "$T/outdir_single/so.wav"
"$PROBE" gen "$T/sof.wav" 16000 1 0.5 music float
"$MH" -q --mode classical "$T/sof.wav" -o - 2>/dev/null | cat >"$T/sof_pipe.wav"
check "-o - float input: float WAV" eq "$("$PROBE" info "$T/sof_pipe.wav" | cut -d' ' -f1,4,5)" "8000 wav float"
if command -v sox >/dev/null 2>&1; then
  "$MH" -q --mode classical "$T/so.wav" -o - 2>/dev/null | sox -t wav - -n stat 2>"$T/sox"
  check "-o - | sox - -n stat reads every sample" grep -q "Samples read: *$((N_SO * 2))$" "$T/sox"
  check "-o - | sox: no warning" eval '! grep -q WARN "$T/sox"'
else
  skip "sox not installed: the -o - | sox check"
fi
if command -v script >/dev/null 2>&1; then
  script -qec "$MH -q --mode classical $T/so.wav -o -" /dev/null >"$T/tty" 2>&1
  check "-o - on a terminal: refused" eval 'grep -q "standard output is a terminal" "$T/tty"'
else
  skip "script (util-linux) not installed: the terminal check"
fi
cat "$T/so.wav" | "$MH" -q --mode classical - -o "$T/from_stdin.wav" 2>"$T/err"
check "- reads standard input (pipe)" eq "$(frames_of "$T/from_stdin.wav" 2>/dev/null)" "$N_SO"
check "- from a pipe: the same samples" eq "$("$PROBE" diff "$T/so_file.wav" "$T/from_stdin.wav" | cut -d' ' -f1)" 0
# an unknown length: RF64 in case it outgrows 4 GiB, rewritten as a WAV (extensible) when not
check "- from a pipe: the unknown length still gives a WAV" eq "$("$PROBE" info "$T/from_stdin.wav" | cut -d' ' -f4)" wavex
check "- from a pipe, FLAC (libsndfile loses sync): refused" eval 'cat "$T/so.flac" | "$MH" -q - -o "$T/flac_pipe.wav" 2>"$T/err"; [ $? -eq 1 ]'
check "- from a pipe, FLAC: says it needs a file" grep_err "FLAC and other formats need a file"
check "- from a pipe, FLAC: no output" absent "$T/flac_pipe.wav"
check "- with another input (a directory): usage error" run 2 "$MH" -q - "$T/so.wav" -o "$T/stdin_dir"
check "- from a pipe to a pipe" eval 'cat "$T/so.wav" | "$MH" -q --mode classical - -o - 2>/dev/null | cat >"$T/pp.wav" && [ "$(frames_of "$T/pp.wav")" = "$N_SO" ]'
mkfifo "$T/fifo"
timeout 60 cat "$T/fifo" >"$T/fifo_read.wav" &
reader=$!
check "-o FIFO runs" run 0 "$MH" -q --mode classical "$T/so.wav" -o "$T/fifo"
wait $reader
check "-o FIFO: still a FIFO" test -p "$T/fifo"
check "-o FIFO: the reader got the WAV" eq "$(frames_of "$T/fifo_read.wav")" "$N_SO"
check "-o FIFO: no temporary file beside it" no_temp_left "$T"
ln -s fifo "$T/link_to_fifo"
timeout 60 cat "$T/fifo" >"$T/fifo_read2.wav" &
reader=$!
check "-o link to a FIFO runs" run 0 "$MH" -q --mode classical "$T/so.wav" -o "$T/link_to_fifo"
wait $reader
check "-o link to a FIFO: link and FIFO kept" eval 'test -L "$T/link_to_fifo" && test -p "$T/fifo"'
check "-o link to a FIFO: the reader got the WAV" eq "$(frames_of "$T/fifo_read2.wav")" "$N_SO"
check "-o fifo.flac: only WAV streams" run 1 "$MH" -q --mode classical "$T/so.wav" -o "$T/link_to_fifo" --format flac
if [ "$(id -u)" = 0 ] && mknod "$T/null" c 1 3 2>/dev/null; then
  check "-o a character device (a copy of /dev/null) runs" run 0 "$MH" -q --mode classical "$T/so.wav" -o "$T/null"
  check "-o a character device: still that device" test -c "$T/null"
else
  check "-o /dev/null runs" run 0 "$MH" -q --mode classical "$T/so.wav" -o /dev/null
fi
check "-o /dev/null: still the null device" test -c /dev/null
echo old >"$T/real_target.wav"
ln -s real_target.wav "$T/link_to_file.wav"
check "-o link to a file runs" run 0 "$MH" -q --mode classical "$T/so.wav" -o "$T/link_to_file.wav"
check "-o link to a file: the link stays a link" test -L "$T/link_to_file.wav"
check "-o link to a file: its target holds the output" eq "$(frames_of "$T/real_target.wav")" "$N_SO"
ln -s missing.wav "$T/dangling.wav"
check "-o dangling link: error" run 1 "$MH" -q --mode classical "$T/so.wav" -o "$T/dangling.wav"
check "-o dangling link: says so" grep_err "symbolic link to a missing file"
check "-o dangling link: left alone" eval 'test -L "$T/dangling.wav" && ! test -e "$T/missing.wav"'

# ---- --noise-from: the noise floor learnt from the room tone, then held ----
# 2 s of room tone, then noise 12 dB louder: held at the room tone's floor, the louder noise is
# above it and stays; tracking (primed from the file), it is learnt and cut.  The noise stays
# under 7 kHz: the band above 8 kHz keeps its own tracker.
if command -v sox >/dev/null 2>&1; then
  sox -n -r 48000 -c 1 -b 24 "$T/tone_a.wav" synth 2 whitenoise vol 0.02 sinc -7000
  sox -n -r 48000 -c 1 -b 24 "$T/tone_b.wav" synth 4 whitenoise vol 0.08 sinc -7000
  sox "$T/tone_a.wav" "$T/tone_b.wav" "$T/roomtone.wav"
  check "--noise-from 0-1.8 runs" run 0 "$MH" -q --mode classical --strength 1 --max-atten 20 \
    --noise-from 0-1.8 "$T/roomtone.wav" -o "$T/nf_held.wav"
  check "without --noise-from" run 0 "$MH" -q --mode classical --strength 1 --max-atten 20 \
    "$T/roomtone.wav" -o "$T/nf_track.wav"
  in_rms=$("$PROBE" rms "$T/roomtone.wav" 4 6)
  held=$("$PROBE" rms "$T/nf_held.wav" 4 6)
  track=$("$PROBE" rms "$T/nf_track.wav" 4 6)
  check "--noise-from: the louder noise above the held floor stays (rms $held of $in_rms)" \
    awk "BEGIN{exit !($held > 0.7 * $in_rms)}"
  check "tracking: the louder noise is learnt and cut (rms $track of $in_rms)" \
    awk "BEGIN{exit !($track < 0.3 * $in_rms)}"
  check "--noise-from past the end: usage error" run 2 "$MH" -q --noise-from 3-9 "$T/roomtone.wav" -o "$T/nf_x.wav"
  check "--noise-from past the end: says how long the input is" grep_err "the input is 6.00 s long"
  check "--noise-from past the end: no output" absent "$T/nf_x.wav"
  check "--noise-from with standard input: usage error" \
    eval '"$MH" -q --noise-from 0-1 - -o "$T/nf_x.wav" <"$T/roomtone.wav" 2>"$T/err"; [ $? -eq 2 ]'
  check "--noise-from with standard input: says why" grep_err "needs a regular file"
  sox -n -r 48000 -c 1 -b 16 "$T/nf_silence.wav" trim 0 2
  check "--noise-from of silence: warned, output written" run 0 "$MH" --mode classical --noise-from 0-1 "$T/nf_silence.wav" -o "$T/nf_s.wav"
  check "--noise-from of silence: says so" grep_err "nothing learnt"
else
  skip "sox not installed: the --noise-from checks"
fi
check "--noise-from 2-2.8 (under 1 s): usage error" run 2 "$MH" -q --noise-from 2-2.8 x.wav -o y.wav
check "--noise-from 1: usage error" run 2 "$MH" -q --noise-from 1 x.wav -o y.wav
check "--noise-from with --offline: usage error" run 2 "$MH" -q --offline --noise-from 0-1 x.wav -o y.wav

# ---- a truncated input (a recorder that crashed): processed, and the user is told ----
"$PROBE" gen "$T/five.wav" 48000 2 5.0 music pcm24
head -c $((44 + 2 * 48000 * 2 * 3)) "$T/five.wav" >"$T/cut.wav"
check "truncated WAV: processed" run 0 "$MH" -q --mode classical "$T/cut.wav" -o "$T/cut_out.wav"
check "truncated WAV: warned with both lengths" grep_err "truncated: its header says 5.00 s, the file holds 2.00 s"
check "truncated WAV: the output holds what is there" eq "$(frames_of "$T/cut_out.wav")" 96000
check "a whole WAV: no truncation warning" run 0 "$MH" -q --mode classical "$T/five.wav" -o "$T/five_out.wav"
check "a whole WAV: nothing said" eval '! grep -q truncated "$T/err"'

# ---- progress in a log (stderr not a terminal: nohup, a job scheduler) ----
check "--progress 0.01 into a log" run 0 "$MH" --mode classical --progress 0.01 "$T/five.wav" -o "$T/prog.wav"
check "--progress: periodic lines with the share done" grep_err "five.wav: *[0-9]*% (.* of 5.0 s of audio"
check "--progress 0: no progress lines" run 0 "$MH" --mode classical --progress 0 "$T/five.wav" -o "$T/prog.wav"
check "--progress 0: silent about progress" eval '! grep -q "s of audio" "$T/err"'
check "-q: no progress lines" run 0 "$MH" -q --mode classical --progress 0.01 "$T/five.wav" -o "$T/prog.wav"
check "-q: silent about progress" eval '! grep -q "s of audio" "$T/err"'
check "--progress -1: usage error" run 2 "$MH" --progress -1 "$T/five.wav" -o "$T/prog.wav"

# ---- the bundled demo clip ----
if [ -f "$ROOT/tests/data/demo_noisy.flac" ]; then
  set -- $("$PROBE" info "$ROOT/tests/data/demo_noisy.flac")
  check "demo clip: 44.1 kHz stereo FLAC" eq "$2 $3 $4" "44100 2 flac"
  check "demo clip: about 6 s" within "$1" 264600 4410
fi
finish
