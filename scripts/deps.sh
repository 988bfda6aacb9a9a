#!/bin/sh
# Installs the Debian packages menhance needs to build and test, if any are missing.
# As root it runs apt-get; otherwise it prints the command to run.
PKGS="build-essential pkg-config lv2-dev liblilv-dev lilv-utils libfftw3-dev libopenblas-dev libopenblas0-serial
libsndfile1-dev libspeexdsp-dev libcjson-dev libpng-dev serdi valgrind clang-22 libclang-rt-22-dev
lv2file lv2proc python3-numpy python3-scipy sordi help2man
libavformat-dev libavcodec-dev libswresample-dev libavutil-dev ffmpeg sox"
[ -n "$MENHANCE_EXTRA_DEPS" ] && PKGS="$PKGS $MENHANCE_EXTRA_DEPS"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "deps: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  (apt-get install -y -q --no-install-recommends $missing || { apt-get update -q && apt-get install -y -q --no-install-recommends $missing; }) >/tmp/menhance-deps.log 2>&1 \
    || { tail -20 /tmp/menhance-deps.log; echo "deps: apt-get failed"; exit 1; }
else
  echo "deps: missing packages; run:  sudo apt-get install$missing"; exit 1
fi
