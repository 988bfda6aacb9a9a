#!/bin/sh
# Runs every test program given and adds their "N passed, N failed" lines up.
pass=0; fail=0
for t in "$@"; do
  out=$("$t" 2>&1); rc=$?
  printf '%s\n' "$out" | grep -E 'FAIL|passed, [0-9]+ failed' | sed 's/^/  /'
  line=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n 1)
  if [ -z "$line" ]; then
    echo "  $t: no summary (rc=$rc)"; fail=$((fail+1)); continue
  fi
  p=$(echo "$line" | awk '{for(i=2;i<=NF;i++) if($i=="passed,") print $(i-1)}')
  f=$(echo "$line" | awk '{for(i=2;i<=NF;i++) if($i=="failed") print $(i-1)}')
  pass=$((pass+p)); fail=$((fail+f))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then echo "  $t exited $rc"; fail=$((fail+1)); fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
