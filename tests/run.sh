#!/bin/sh
# Runs every test program given and adds their "N passed, N failed[, N skipped]" lines up.
# Shows each program's summary and its FAIL/SKIP lines; ends with the total on the last line.
pass=0; fail=0; skip=0
count() { # count WORD LINE: the number before WORD in LINE, or 0
  echo "$2" | awk -v w="$1" '{for(i=2;i<=NF;i++) if($i==w||$i==w","||$i==w")") {print $(i-1)+0; exit}} END{}' | head -n 1
}
for t in "$@"; do
  out=$("$t" 2>&1); rc=$?
  printf '%s\n' "$out" | grep -E '^ *(FAIL|SKIP)|passed, [0-9]+ failed' | sed 's/^/  /'
  line=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n 1)
  if [ -z "$line" ]; then
    echo "  $t: no summary ($(printf '%s\n' "$out" | tail -n 1 | cut -c1-120); rc=$rc)"
    fail=$((fail+1)); continue
  fi
  p=$(count passed "$line"); f=$(count failed "$line"); s=$(count skipped "$line")
  pass=$((pass+${p:-0})); fail=$((fail+${f:-0})); skip=$((skip+${s:-0}))
  if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then echo "  $t exited $rc"; fail=$((fail+1)); fi
done
echo "$pass passed, $fail failed$([ $skip -gt 0 ] && echo ", $skip skipped")"
[ "$fail" -eq 0 ]
