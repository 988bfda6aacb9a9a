#!/bin/sh
# Real-time safety and memory checks of the LV2 plugin, driven by tests/host/rt_host.c:
#   1. LD_PRELOAD trap (rt_trap.so): no malloc/free/lock/sleep/I/O and no thread wake-up
#      (sem_post, pthread_cond_signal, raw syscall/futex) by the audio thread;
#   2. RealtimeSanitizer (clang -fsanitize=realtime build): no report from run() or
#      work_response(), which run inside a nonblocking function;
#   3. valgrind: a short run with no memory errors and no definite leaks, with no
#      suppressions (the plugin library stays loaded, so FFTW's planner stays reachable);
#   4. UBSan: the plugin built with -fsanitize=undefined, driven by the same host, whose
#      worker messages sit 4 bytes off an 8-byte boundary (the worker API promises no
#      alignment).
# Prints "rt_checks: N passed, N failed" and exits nonzero on failure.
B=$(cd "${MENHANCE_BUILDDIR:-build}" && pwd)/tests/host  # absolute: lilv wants absolute bundle paths
pass=0
fail=0
# A model is swapped in through the worker mid-run: the engine tests' tiny model, with no
# default model found at instantiate (the shipped weights would only make this slower).
MENHANCE_TEST_MODEL=$PWD/tests/golden/engine_voc.safetensors
MENHANCE_MODEL_DIR=$(mktemp -d)
export MENHANCE_TEST_MODEL MENHANCE_MODEL_DIR
trap 'rmdir "$MENHANCE_MODEL_DIR"' EXIT

add_summary() { # adds the "N passed, N failed" counts of the output in $1
  line=$(printf '%s\n' "$1" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n 1)
  if [ -z "$line" ]; then fail=$((fail + 1)); echo "FAIL $2: no summary"; return; fi
  p=$(echo "$line" | sed -E 's/.* ([0-9]+) passed.*/\1/')
  f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
  pass=$((pass + p)); fail=$((fail + f))
}

# 1. trap
out=$(LD_PRELOAD=$B/rt_trap.so "$B/rt_host" 2>&1); rc=$?
printf '%s\n' "$out" | grep -E '^FAIL|violations'
add_summary "$out" trap
[ $rc -ne 0 ] && ! printf '%s\n' "$out" | grep -q '^FAIL' && { echo "FAIL trap: exit $rc"; fail=$((fail + 1)); }

# 1b. the same, short, with a refiner whose test gate passed swapped in (mode 2 runs it)
out=$(MENHANCE_TEST_MODEL=$PWD/tests/golden/engine_refiner_small.safetensors \
      LD_PRELOAD=$B/rt_trap.so "$B/rt_host" short 2>&1); rc=$?
printf '%s\n' "$out" | grep -E '^FAIL|violations' | sed 's/^/refiner: /'
add_summary "$out" trap-refiner
[ $rc -ne 0 ] && ! printf '%s\n' "$out" | grep -q '^FAIL' && { echo "FAIL trap, refiner: exit $rc"; fail=$((fail + 1)); }

# 2. RealtimeSanitizer
if [ -x "$B/rt_host_rtsan" ]; then
  out=$(RTSAN_OPTIONS=halt_on_error=false "$B/rt_host_rtsan" 2>&1); rc=$?
  v=$(printf '%s\n' "$out" | grep -c 'ERROR: RealtimeSanitizer')
  add_summary "$out" rtsan
  if [ "$v" -eq 0 ] && [ $rc -eq 0 ]; then
    pass=$((pass + 1)); echo "rtsan: 0 reports"
  else
    fail=$((fail + 1)); echo "FAIL rtsan: $v reports (exit $rc):"
    printf '%s\n' "$out" | grep -E 'Intercepted|ERROR' | sort | uniq -c | head -10
  fi
else
  fail=$((fail + 1)); echo "FAIL rtsan: $B/rt_host_rtsan not built (clang-22, libclang-rt-22-dev)"
fi

# 3. valgrind
if command -v valgrind > /dev/null; then
  out=$(valgrind -q --keep-debuginfo=yes --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite "$B/rt_host" short 2>&1); rc=$?
  if [ $rc -eq 0 ]; then
    pass=$((pass + 1)); echo "valgrind: clean"
  else
    fail=$((fail + 1)); echo "FAIL valgrind (exit $rc):"; printf '%s\n' "$out" | head -40
  fi
else
  fail=$((fail + 1)); echo "FAIL valgrind: not installed"
fi

# 4. UBSan (tests/host/ubsan/: both TTL variants, instrumented plugin)
U=$B/ubsan
if [ -f "$U/main/menhance.lv2/menhance.so" ]; then
  out=$(MENHANCE_LV2_BUNDLE=$U/main/menhance.lv2 MENHANCE_LV2_ALT_BUNDLE=$U/alt/menhance.lv2 \
        UBSAN_OPTIONS=print_stacktrace=1 "$B/rt_host" short 2>&1); rc=$?
  add_summary "$out" ubsan
  if [ $rc -eq 0 ] && ! printf '%s\n' "$out" | grep -q 'runtime error'; then
    pass=$((pass + 1)); echo "ubsan: clean"
  else
    fail=$((fail + 1)); echo "FAIL ubsan ($(printf '%s\n' "$out" | grep -m1 'runtime error' || echo "exit $rc"))"
  fi
else
  fail=$((fail + 1)); echo "FAIL ubsan: $U/main/menhance.lv2 not built"
fi

echo "rt_checks: $pass passed, $fail failed"
[ $fail -eq 0 ]
