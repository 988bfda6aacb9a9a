#!/bin/sh
# Runs the model-file fuzzer (safetensors, front-end metadata, Mel2Mel, DiffWave loaders) on a
# scratch copy of the committed seed corpus and prints the "N passed, N failed" line tests/run.sh
# expects.  Usage: run_fuzz.sh FUZZER SECONDS [RUNS]   (SECONDS 0: no time limit, stop after RUNS)
fuzzer=$1; secs=${2:-20}; runs=${3:--1}
work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT
cp tests/fuzz/corpus/* "$work"/ 2>/dev/null
"$fuzzer" -max_total_time="$secs" -runs="$runs" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/" "$work" >"$work.log" 2>&1
rc=$?
grep -E "^(#[0-9]+ *DONE|stat::number_of_executed_units|SUMMARY)" "$work.log" | sed 's/^/  /'
if [ $rc -ne 0 ]; then
  tail -n 40 "$work.log"
  mkdir -p build/fuzz-crashes && cp "$work"/crash-* "$work"/leak-* "$work"/timeout-* build/fuzz-crashes/ 2>/dev/null
  rm -f "$work.log"
  echo "fuzz_safetensors: 0 passed, 1 failed"; exit 1
fi
rm -f "$work.log"
echo "fuzz_safetensors: 1 passed, 0 failed"
