#!/bin/sh
# An output past 4 GiB (a 3-hour-plus float stereo recording at 48 kHz): the RIFF header's
# 32-bit sizes would wrap and readers would stop at a fraction of it, so the CLI writes RF64.
# Checks that ffprobe reads the whole duration and that the last second holds the input's last
# second (--amount 0: the dry signal, latency removed, is the input exactly).  Needs ~9 GB of
# disk in $TMPDIR and a few minutes: `make test-large`, not part of `make test`.
# Prints "test_cli_large: N passed, N failed".
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILDDIR:-$ROOT/build}
MH=$B/menhance
pass=0
fail=0
check() {
  desc=$1
  shift
  if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL test_cli_large: $desc"; fi
}
finish() {
  echo "test_cli_large: $pass passed, $fail failed"
  [ "$fail" -eq 0 ]
  exit $?
}
eq() { [ "$1" = "$2" ] || { echo "  (got '$1', wanted '$2')"; return 1; }; }
T=$(mktemp -d "${TMPDIR:-/tmp}/menhance-large.XXXXXX")
trap 'rm -rf "$T"' EXIT
SECONDS_LONG=11600 # 11600 s x 48000 x 2 x 4 bytes = 4.45 GB of float samples
# W64 holds the input (sox writes it; a WAV could not)
sox -n -r 48000 -c 2 -e floating-point -b 32 "$T/long.w64" synth $SECONDS_LONG pinknoise vol 0.1
check "4.45 GB input made" test -s "$T/long.w64"
check "the CLI writes it" "$MH" -q --mode classical --amount 0 "$T/long.w64" -o "$T/long_out.wav"
check "the output is larger than 4 GiB" test "$(stat -c %s "$T/long_out.wav")" -gt 4294967296
check "the output is RF64" eq "$(head -c 4 "$T/long_out.wav")" RF64
dur=$(ffprobe -v error -show_entries stream=duration_ts -of default=nw=1:nk=1 "$T/long_out.wav")
check "ffprobe reads every frame" eq "$dur" $((SECONDS_LONG * 48000))
ffmpeg -v error -sseof -1 -i "$T/long.w64" -f f32le "$T/in_last.raw"
ffmpeg -v error -sseof -1 -i "$T/long_out.wav" -f f32le "$T/out_last.raw"
check "the last second is readable and is the input's" cmp -s "$T/in_last.raw" "$T/out_last.raw"
check "the last second is not empty" test "$(stat -c %s "$T/out_last.raw")" -eq $((48000 * 2 * 4))
finish
