#!/bin/sh
# Real loudspeaker / cabinet colourations for `make eval`'s "cabinet" condition: the impulse responses
# that Debian's rakarrack ships for its Convolotron (speaker, cabinet and guitar-body models, 44.1 kHz,
# 25-490 ms), copied to data/ir/rakarrack/.  Evaluation only: training (train/degrade.py's generator)
# never reads them, so the condition measures how the Tone head's correction transfers to colourations
# it has never met.  Resumable.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/data/ir/rakarrack
[ -f "$OUT/.done" ] && exit 0
mkdir -p "$ROOT/data/debs" "$OUT"
cd "$ROOT/data/debs"
ls rakarrack_*.deb >/dev/null 2>&1 || apt-get download rakarrack
deb=$(ls rakarrack_*.deb | head -n 1)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --wildcards './usr/share/rakarrack/*.wav'
# 1-8 are short responses (speakers and cabinets); 9.wav is a 6 s room, not a colouration
for i in 1 2 3 4 5 6 7 8; do
	cp "$tmp/usr/share/rakarrack/$i.wav" "$OUT/$i.wav"
done
touch "$OUT/.done"
echo "fetch_irs.sh: $(ls "$OUT"/*.wav | wc -l) responses in $OUT"
