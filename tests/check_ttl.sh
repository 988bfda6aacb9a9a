#!/bin/sh
# TTL checks inside make test: serdi (syntax; nonzero exit on error) on every generated file,
# then lv2_validate (schema; it exits 0 even on errors, so its report is read).
B=${MENHANCE_BUILDDIR:-build}/menhance.lv2
pass=0; fail=0
for f in "$B"/manifest.ttl "$B"/menhance.ttl "$B"/presets.ttl; do
  if [ -f "$f" ] && serdi -q -i turtle -o ntriples "$f" >/dev/null 2>&1; then pass=$((pass+1))
  else echo "FAIL serdi $f"; fail=$((fail+1)); fi
done
out=$(lv2_validate "$B"/manifest.ttl "$B"/menhance.ttl "$B"/presets.ttl 2>&1)
if printf '%s\n' "$out" | grep -q 'Found 0 errors' && ! printf '%s\n' "$out" | grep -qiE '^(error|warning)'; then
  pass=$((pass+1))
else
  printf '%s\n' "$out" | tail -20; echo "FAIL lv2_validate"; fail=$((fail+1))
fi
echo "check_ttl: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
