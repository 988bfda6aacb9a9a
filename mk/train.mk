# Data, training and evaluation (data/training helper). None of this is part of `make test` except the
# fast degradation-chain self-test; audio lives under data/ (git-ignored) and is fetched from Debian packages.
PY_TRAIN := OPENBLAS_CORETYPE=SkylakeX nice -n 5 /usr/bin/python3
TRAIN_DEPS := python3-scipy python3-torch python3-soundfile ffmpeg unzip
EVAL_ARGS ?=

.PHONY: fetch-data fetch-val train-mel2mel export-mel2mel eval-deps

TEST_PROGS += train/test_degrade.py

eval-deps:
	@MENHANCE_EXTRA_DEPS="$(TRAIN_DEPS)" sh scripts/deps.sh

# Everything in shared/data/*.tsv (~7 GB of .debs, ~35 h of audio; resumable).
fetch-data: eval-deps
	sh train/fetch_data.sh

# Only the validation music and the noise (what eval needs).
fetch-val: eval-deps
	sh train/fetch_data.sh --val-only

# Objective evaluation of every output path; writes build/eval.json (see train/eval.py).
eval: eval-deps $(BUILDDIR)/menhance
	@[ -d data/48k/val ] && [ -d data/48k/noise ] || sh train/fetch_data.sh --val-only
	$(PY_TRAIN) train/eval.py --cli $(BUILDDIR)/menhance --out $(BUILDDIR)/eval.json \
		--workdir $(BUILDDIR)/eval $(EVAL_ARGS)

# Training on the CPU (one thread): degraded-pair cache builder in the background, then the trainer.
TRAIN_HOURS ?= 1.5
train-mel2mel: eval-deps
	$(PY_TRAIN) train/train_mel2mel.py cache --hours $(TRAIN_HOURS) > data/cache_builder.out 2>&1 & \
	$(PY_TRAIN) train/train_mel2mel.py train --hours $(TRAIN_HOURS); kill $$! 2>/dev/null; true

export-mel2mel:
	$(PY_TRAIN) train/train_mel2mel.py export
