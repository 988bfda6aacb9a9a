#!/bin/sh
# `make install` and `make uninstall` into a scratch prefix ($BUILDDIR/install-test):
#   - the CLI, the bundle, the models and the man page land where they belong;
#   - the installed CLI and plugin do not know the checkout: no path of it inside them, they
#     find the models in the prefix, none once those are gone (though the checkout still
#     has them), and the ones in $MENHANCE_MODEL_DIR;
#   - the build tree's own CLI still finds the checkout's models;
#   - uninstall removes every file and leaves no empty share/menhance/.
# The installed binaries are built in $BUILDDIR/installed (the root Makefile's install rules),
# incrementally after the first run.  Prints "check_install: N passed, N failed".
B=${MENHANCE_BUILDDIR:-build}
SRC=$(pwd)
P=$B/install-test
PY=/usr/bin/python3
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
finish() {
  echo "check_install: $pass passed, $fail failed"
  [ $fail -eq 0 ]
  exit
}
# Run make as a command of its own: not part of any jobserver the caller may have had.
unset MAKEFLAGS MAKELEVEL MFLAGS
rm -rf "$P"
mkdir -p "$P"
if ! make --no-print-directory BUILDDIR="$B" PREFIX="$P/usr" install > "$P/install.log" 2>&1; then
  bad "make install PREFIX=$P/usr failed:"
  tail -15 "$P/install.log"
  finish
fi
ok

U=$P/usr
for f in bin/menhance lib/lv2/menhance.lv2/menhance.so lib/lv2/menhance.lv2/manifest.ttl \
  lib/lv2/menhance.lv2/menhance.ttl lib/lv2/menhance.lv2/presets.ttl share/man/man1/menhance.1; do
  [ -s "$U/$f" ] && ok || bad "not installed: $f"
done
n_src=$(ls models/*.safetensors 2> /dev/null | wc -l)
n_inst=$(ls "$U"/share/menhance/models/*.safetensors 2> /dev/null | wc -l)
[ "$n_inst" -eq "$n_src" ] && [ "$n_src" -gt 0 ] && ok || bad "$n_inst of $n_src models installed"
grep -q '^\.TH MENHANCE "1"' "$U/share/man/man1/menhance.1" && grep -q -- '\\-\\-mode' "$U/share/man/man1/menhance.1" &&
  ok || bad "man page: no .TH header or no --mode in it"

# No trace of the checkout inside what was installed (the build tree's CLI has one: the test
# would notice if the string search stopped working).
for f in bin/menhance lib/lv2/menhance.lv2/menhance.so; do
  grep -q -a -F "$SRC/models" "$U/$f" && bad "$f contains the checkout's path $SRC/models" || ok
done
grep -q -a -F "$SRC/models" "$B/menhance" && ok || bad "the build tree's CLI lacks the checkout's model path (test broken?)"

# Which model a CLI picks: "menhance: model PATH (...)" or a "no model" warning on stderr.
$PY "$SRC/tests/host/wavtool.py" gen "$P/in.wav" 1 48000 1 || bad "cannot write a test WAV"
cli_model() { # CLI [env...]: prints the model path it used, or "none"
  cli=$1
  shift
  env -u MENHANCE_MODEL_DIR "$@" "$cli" "$P/in.wav" -o "$P/out.wav" 2>&1 |
    sed -n 's/^menhance: model \([^ ]*\) .*/\1/p; s/.*no model.*/none/p' | head -n 1
}
m=$(cli_model "$U/bin/menhance")
case $m in "$U"/share/menhance/models/*) ok ;; *) bad "installed CLI used model '$m', want one in $U/share/menhance/models" ;; esac
mv "$U/share/menhance/models" "$U/share/menhance/models.off"
m=$(cli_model "$U/bin/menhance")
[ "$m" = none ] && ok || bad "installed CLI without installed models used '$m' (must not look in the checkout)"
m=$(cli_model "$U/bin/menhance" MENHANCE_MODEL_DIR="$U/share/menhance/models.off")
case $m in "$U"/share/menhance/models.off/*) ok ;; *) bad "installed CLI ignored \$MENHANCE_MODEL_DIR: '$m'" ;; esac
m=$(cli_model "$B/menhance")
case $m in "$SRC"/models/*) ok ;; *) bad "build-tree CLI used '$m', want the checkout's models/" ;; esac

# The installed plugin, through lv2apply (its log goes to stderr without a log feature).
plugin_model() { # prints the model path the installed plugin loaded, or "none"
  env -u MENHANCE_MODEL_DIR LV2_PATH="$U/lib/lv2" "$@" lv2apply -i "$P/in.wav" -o "$P/out.wav" \
    https://menhance.org/plugins/menhance#mono 2>&1 |
    sed -n 's/^menhance: loaded model \([^ ]*\) .*/\1/p; s/.*no model found.*/none/p' | head -n 1
}
m=$(plugin_model)
[ "$m" = none ] && ok || bad "installed plugin without installed models loaded '$m' (must not look in the checkout)"
mv "$U/share/menhance/models.off" "$U/share/menhance/models"
m=$(plugin_model)
case $m in "$U"/share/menhance/models/*) ok ;; *) bad "installed plugin loaded '$m', want one in $U/share/menhance/models" ;; esac

if ! make --no-print-directory BUILDDIR="$B" PREFIX="$P/usr" uninstall > "$P/uninstall.log" 2>&1; then
  bad "make uninstall failed:"
  tail -10 "$P/uninstall.log"
  finish
fi
left=$(find "$U" -type f | head -5)
[ -z "$left" ] && ok || bad "uninstall left files: $left"
[ ! -d "$U/share/menhance" ] && ok || bad "uninstall left $U/share/menhance/ ($(find "$U/share/menhance" | tr '\n' ' '))"
[ ! -d "$U/lib/lv2/menhance.lv2" ] && ok || bad "uninstall left the bundle directory"
rm -rf "$P"
finish
