# Data, training and evaluation (data/training helper). None of this is part of `make test` except the
# fast degradation-chain self-test; audio lives under data/ (git-ignored) and is fetched from Debian packages.
# OpenBLAS kernels: Debian's 0.3.21 misdetects some new CPUs (DESIGN section 2), so name a kernel set,
# but only one the CPU can run (SkylakeX needs AVX-512; Haswell is the AVX2 set).
OPENBLAS_KERNEL := $(shell grep -qw avx512f /proc/cpuinfo 2>/dev/null && echo SkylakeX || echo Haswell)
PY_TRAIN := OPENBLAS_CORETYPE=$(OPENBLAS_KERNEL) nice -n 5 /usr/bin/python3
TRAIN_DEPS := python3-scipy python3-torch python3-soundfile python3-mido ffmpeg unzip fluidsynth \
              fluid-soundfont-gm musescore-general-soundfont
EVAL_ARGS ?=

.PHONY: fetch-data fetch-val render-midi train-mel2mel export-mel2mel eval-deps test-train eval-tables

TEST_PROGS += train/test_degrade.py train/test_vocoder_gate.py

eval-deps:
	@MENHANCE_EXTRA_DEPS="$(TRAIN_DEPS)" sh scripts/deps.sh

# The training losses' self-tests: Mel2Mel and the mode-2 refiner (need torch, hence not part of
# make test).
test-train: eval-deps $(FEATURES_LIB)
	@sh tests/run.sh train/test_train.py train/test_refiner.py train/test_vocoder_gate.py train/test_cfeatures.py

# Everything in shared/data/*.tsv (~7 GB of .debs, ~35 h of audio; resumable).
fetch-data: eval-deps
	sh train/fetch_data.sh

# Only the validation music and the noise (what eval needs).
fetch-val: eval-deps
	sh train/fetch_data.sh --val-only

# Objective evaluation of every output path; writes build/eval.json (see train/eval.py).
eval: eval-deps $(BUILDDIR)/menhance $(FEATURES_LIB)
	@[ -d data/48k/val ] && [ -d data/48k/noise ] || sh train/fetch_data.sh --val-only
	@sh train/fetch_irs.sh
	@[ -f data/lists/midi_val.tsv ] || $(PY_TRAIN) train/render_midi.py --val
	$(PY_TRAIN) train/eval.py --cli $(BUILDDIR)/menhance --out $(BUILDDIR)/eval.json \
		--workdir $(BUILDDIR)/eval $(EVAL_ARGS)

# The mode-2 quality gate: make eval's clips through GATE_MODEL (a Mel2Mel + DiffWave refiner file) in
# mode 1 and mode 2, then train/vocoder_gate.py writes the verdict ("vocoder_gate" metadata) into the file;
# the engine offers mode 2 as ready only when it says passed.
GATE_MODEL ?= models/menhance.safetensors
.PHONY: gate-vocoder
gate-vocoder: eval-deps $(BUILDDIR)/menhance
	@[ -d data/48k/val ] && [ -d data/48k/noise ] || sh train/fetch_data.sh --val-only
	@[ -f data/lists/midi_val.tsv ] || $(PY_TRAIN) train/render_midi.py --val
	$(PY_TRAIN) train/eval.py --cli $(BUILDDIR)/menhance --model $(GATE_MODEL) --vocoder-model $(GATE_MODEL) \
		--methods mel2mel_phase,mel2mel_diffwave --no-gl --diffwave "" --rock-clips 0 \
		--out $(BUILDDIR)/eval_gate.json --workdir $(BUILDDIR)/eval_gate
	$(PY_TRAIN) train/vocoder_gate.py $(BUILDDIR)/eval_gate.json --write $(GATE_MODEL)

# The model card's tables from build/eval.json (EVAL_BEFORE=an earlier eval.json adds its default-mode column).
EVAL_BEFORE ?=
eval-tables:
	/usr/bin/python3 train/card_tables.py $(BUILDDIR)/eval.json $(if $(EVAL_BEFORE),--before $(EVAL_BEFORE))

# Clean music from the MIDI files Debian ships (training), and the held-out package's rock renders (eval).
render-midi: eval-deps
	$(PY_TRAIN) train/render_midi.py
	$(PY_TRAIN) train/render_midi.py --val

# Training on the CPU (one thread; measured faster than two on the 2-vCPU machines, where the second core
# builds the cache): the diet's pair builder in the background, the trainer in front.  Resumes from the
# committed checkpoint models/ckpt/mel2mel_nrt.pt (the Noise / Room / Tone model; a fresh one warm-starts its
# trunk from models/ckpt/mel2mel_gain.pt); TRAIN_HOURS is this run's wall-clock budget, TRAIN_ARGS more
# options of `train_mel2mel.py train` (e.g. --lr for a restart, --device cuda on a GPU), CACHE_ARGS more options of
# the pair builder (e.g. --room-midi-share 0.75).
# Before a long run: `echo 0 > /proc/sys/kernel/sched_autogroup_enabled` (as root), or `nice` does not
# keep other sessions' jobs off the trainer's core.
TRAIN_HOURS ?= 1.5
TRAIN_ARGS ?=
CACHE_ARGS ?=
train-mel2mel: eval-deps $(FEATURES_LIB)
	$(PY_TRAIN) train/train_mel2mel.py cache --hours $(TRAIN_HOURS) $(CACHE_ARGS) > data/cache_builder.out 2>&1 & \
	OPENBLAS_CORETYPE=$(OPENBLAS_KERNEL) /usr/bin/python3 train/train_mel2mel.py train --hours $(TRAIN_HOURS) $(TRAIN_ARGS); \
	kill $$! 2>/dev/null; true

# The mode-2 refiner (train/train_refiner.py): the pair builder (mode 1 of the shipped Mel2Mel) first fills
# the cache (40 shards of 256 pairs, ~5 min from empty, nothing when full), then the trainer has both cores
# (2 threads: 0.9 s a step, against 7 s at one thread beside the builder); resumes models/ckpt/refiner.pt.
# TRAIN_HOURS, TRAIN_ARGS as above.
.PHONY: train-refiner export-refiner
train-refiner: eval-deps $(FEATURES_LIB)
	$(PY_TRAIN) train/train_refiner.py cache --fill --hours 1 > data/refiner_cache.out 2>&1
	OPENBLAS_CORETYPE=$(OPENBLAS_KERNEL) /usr/bin/python3 train/train_refiner.py train --hours $(TRAIN_HOURS) \
	    $(TRAIN_ARGS)

# The refiner checkpoint with the shipped Mel2Mel -> build/menhance_refiner.safetensors (a candidate model
# file: `make gate-vocoder GATE_MODEL=build/menhance_refiner.safetensors` measures and gates it).
export-refiner:
	$(PY_TRAIN) train/train_refiner.py export $(BUILDDIR)/refiner.safetensors
	$(PY_TRAIN) train/combine.py $(BUILDDIR)/menhance_refiner.safetensors models/mel2mel_nrt.safetensors \
	    $(BUILDDIR)/refiner.safetensors

# The checkpoint's weight average -> models/mel2mel_nrt.safetensors, and the default model file
# models/menhance.safetensors (that Mel2Mel + the shipped DiffWave).
export-mel2mel:
	$(PY_TRAIN) train/train_mel2mel.py export
	$(PY_TRAIN) train/combine.py models/menhance.safetensors models/mel2mel_nrt.safetensors \
	    models/diffwave_small.safetensors
