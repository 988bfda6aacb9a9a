#!/bin/sh
# Fetch the training/validation audio listed in shared/data/*.tsv from Debian packages and convert it
# to 16 kHz mono int16 WAV (data/16k/<split>/...), plus the validation music at 48 kHz stereo
# (data/48k/val/...) for full-band metrics. Audio never goes into git: everything lands under data/.
#
# Usage: train/fetch_data.sh [--val-only] [--subset N] [--download-only] [--lists DIR]
#   --val-only       only the validation music and the noise list (what `make eval` needs)
#   --subset N       only the first N files of each list (quick checks)
#   --download-only  download and unpack the .debs, do not convert
# Resumable: finished downloads, unpacked packages and converted files are skipped.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LISTS=${MENHANCE_DATA_LISTS:-}
VAL_ONLY=0
SUBSET=0
DOWNLOAD_ONLY=0
while [ $# -gt 0 ]; do
	case "$1" in
	--val-only) VAL_ONLY=1 ;;
	--subset) SUBSET=$2; shift ;;
	--download-only) DOWNLOAD_ONLY=1 ;;
	--lists) LISTS=$2; shift ;;
	-h|--help) sed -n '2,11p' "$0"; exit 0 ;;
	*) echo "fetch_data.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
if [ -z "$LISTS" ]; then
	for d in "$ROOT/../shared/data" /work/shared/data "$ROOT/shared/data"; do
		if [ -f "$d/music_val.tsv" ]; then LISTS=$d; break; fi
	done
fi
[ -n "$LISTS" ] && [ -f "$LISTS/music_val.tsv" ] || { echo "fetch_data.sh: no data lists (use --lists DIR)" >&2; exit 1; }

DATA=$ROOT/data
mkdir -p "$DATA/debs" "$DATA/x" "$DATA/lists"

# split name -> list file
if [ $VAL_ONLY = 1 ]; then
	SPLITS="music_val noise"
else
	SPLITS="music_val noise music_train speech"
fi
list_of() {
	case "$1" in
	music_val) echo "$LISTS/music_val.tsv" ;;
	music_train) echo "$LISTS/music_train.tsv" ;;
	noise) echo "$LISTS/noise_train.tsv" ;;
	speech) echo "$LISTS/speech_train.tsv" ;;
	esac
}

# The (possibly subset) lists actually used, so the converter and data loaders agree.
for s in $SPLITS; do
	if [ "$SUBSET" -gt 0 ]; then head -n "$SUBSET" "$(list_of $s)"; else cat "$(list_of $s)"; fi >"$DATA/lists/$s.tsv"
done

PKGS=$(for s in $SPLITS; do cut -f1 "$DATA/lists/$s.tsv"; done | cut -d/ -f2 | sort -u)

# 1. download (apt-get download fetches only the named .debs, no dependencies, no install)
cd "$DATA/debs"
NEED=""
for p in $PKGS; do
	ls "${p}"_*.deb >/dev/null 2>&1 || NEED="$NEED $p"
done
if [ -n "$NEED" ]; then
	echo "fetch_data.sh: downloading$NEED"
	# shellcheck disable=SC2086
	apt-get download $NEED
fi

# 2. unpack audio only
for p in $PKGS; do
	dest=$DATA/x/$p
	[ -f "$dest/.unpacked" ] && continue
	deb=$(ls "$DATA/debs/${p}"_*.deb | head -n 1)
	echo "fetch_data.sh: unpacking $p"
	rm -rf "$dest"
	mkdir -p "$dest"
	if [ "$p" = 0ad-data ]; then
		# 0ad keeps its audio inside a zip archive in the package
		dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dest" --wildcards --no-anchored 'public.zip'
		zip=$(find "$dest" -name public.zip | head -n 1)
		(cd "$dest" && unzip -q -o "$zip" 'audio/*')
		rm -rf "$dest/usr"
	else
		# tar exits nonzero when one of the patterns matches nothing: check the listed files instead
		dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dest" --wildcards --no-anchored --ignore-case \
			'*.ogg' '*.opus' '*.wav' '*.flac' '*.mp3' 2>/dev/null || true
	fi
	missing=$(for s in $SPLITS; do cut -f1 "$DATA/lists/$s.tsv"; done | grep "^x/$p/" | while read -r f; do
		[ -f "$DATA/$f" ] || echo "$f"; done | wc -l)
	if [ "$missing" -gt 0 ]; then echo "fetch_data.sh: $missing listed files missing from $p" >&2; exit 1; fi
	touch "$dest/.unpacked"
done
[ $DOWNLOAD_ONLY = 1 ] && exit 0

# 3. convert (one niced process; decoding ~35 h of audio is CPU-bound)
for s in $SPLITS; do
	nice -n 10 /usr/bin/python3 "$ROOT/train/data.py" convert --list "$DATA/lists/$s.tsv" --src "$DATA" \
		--dst "$DATA/16k/$s" --rate 16000 --channels 1
done
# host-rate copies for full-band metrics: validation music (stereo) and the noise (mono)
nice -n 10 /usr/bin/python3 "$ROOT/train/data.py" convert --list "$DATA/lists/music_val.tsv" --src "$DATA" \
	--dst "$DATA/48k/val" --rate 48000 --channels 2
nice -n 10 /usr/bin/python3 "$ROOT/train/data.py" convert --list "$DATA/lists/noise.tsv" --src "$DATA" \
	--dst "$DATA/48k/noise" --rate 48000 --channels 1
echo "fetch_data.sh: done"
