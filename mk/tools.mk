# Command-line tools (cli helper): build/menhance, build/menhance-bench, `make demo`, `make bench`.
# Inputs: libsndfile first, Debian's FFmpeg libraries for what it cannot read (tools/audio_in.c).
FFMPEG_PKGS := libavformat libavcodec libswresample libavutil
TOOLS_LIBS := $(shell pkg-config --libs sndfile libpng fftw3f $(FFMPEG_PKGS) 2>/dev/null)
CFLAGS_tools_ffmpeg_in := $(shell pkg-config --cflags $(FFMPEG_PKGS) 2>/dev/null)
MENHANCE_CLI_SRC := tools/menhance_cli.c tools/audio_file.c tools/audio_in.c tools/ffmpeg_in.c \
    tools/tempfile.c tools/cli_path.c tools/spectrogram.c tools/pixfont.c tools/audio_out.c
MENHANCE_CLI_OBJ := $(MENHANCE_CLI_SRC:%.c=$(BUILDDIR)/obj/%.o)
MENHANCE_BENCH_OBJ := $(BUILDDIR)/obj/tools/bench.o

all: $(BUILDDIR)/menhance $(BUILDDIR)/menhance-bench

$(BUILDDIR)/menhance: $(MENHANCE_CLI_OBJ) $(LIB)
	$(CC) $(CFLAGS) $(MENHANCE_CLI_OBJ) $(LIB) $(TOOLS_LIBS) $(DEPLIBS) -o $@

$(BUILDDIR)/menhance-bench: $(MENHANCE_BENCH_OBJ) $(LIB)
	$(CC) $(CFLAGS) $(MENHANCE_BENCH_OBJ) $(LIB) $(DEPLIBS) -o $@

-include $(MENHANCE_CLI_OBJ:.o=.d) $(MENHANCE_BENCH_OBJ:.o=.d)

TEST_PROGS += tests/test_cli.sh tests/test_cli_offline.sh

# The bundled demo: a synthetic recording degraded like a phone in a room (see
# scripts/make_demo_clip.py, which regenerates tests/data/demo_*.flac).
DEMO_IN  := tests/data/demo_noisy.flac
DEMO_OUT := $(BUILDDIR)/demo_enhanced.wav
DEMO_PNG := $(BUILDDIR)/demo.png
# deps first, then the build (as `make test` does): under -j the two must not race.
demo: deps
	@$(MAKE) --no-print-directory all
	$(BUILDDIR)/menhance $(DEMO_IN) -o $(DEMO_OUT) --spectrogram $(DEMO_PNG)
	@echo "demo: enhanced $(DEMO_IN) -> $(DEMO_OUT)"
	@echo "demo: before/after spectrogram -> $(DEMO_PNG)"

.PHONY: demo-clip
demo-clip:
	/usr/bin/python3 scripts/make_demo_clip.py --out tests/data

# Engine modes (48 kHz stereo, one thread), then the NN kernels if that target exists, merged
# into build/bench.json (DESIGN.md section 5).  BENCH_MODEL=path times the learned modes with
# that model instead of the default one.
bench: all $(BUILDDIR)/menhance-bench
	$(BUILDDIR)/menhance-bench --out $(BUILDDIR)/bench_modes.json $(if $(BENCH_MODEL),--model $(BENCH_MODEL))
	@if $(MAKE) -n bench-nn >/dev/null 2>&1; then $(MAKE) --no-print-directory bench-nn; \
	else echo "bench: bench-nn cannot run here (no target or no source yet); engine modes only"; fi
	/usr/bin/python3 scripts/merge_bench.py --build $(BUILDDIR) --out $(BUILDDIR)/bench.json

# Mode 2's cost with a refiner of the training defaults (train/refiner.py: 12 layers, 32 channels, 3 steps;
# untrained, which costs what a trained one does) on the shipped Mel2Mel: issue 18's budget is a real-time
# factor of 0.25 at 48 kHz stereo.  Needs python3-torch.
.PHONY: bench-refiner
bench-refiner: all $(BUILDDIR)/menhance-bench
	OPENBLAS_CORETYPE=$(OPENBLAS_KERNEL) /usr/bin/python3 train/train_refiner.py export --fresh \
	    $(BUILDDIR)/refiner_fresh.safetensors
	/usr/bin/python3 train/combine.py $(BUILDDIR)/bench_refiner.safetensors models/mel2mel_nrt.safetensors \
	    $(BUILDDIR)/refiner_fresh.safetensors
	$(BUILDDIR)/menhance-bench --out $(BUILDDIR)/bench_refiner.json --model $(BUILDDIR)/bench_refiner.safetensors

# Signal generator and file measurer for tests/test_cli.sh.
$(BUILDDIR)/tests/cli_probe: tools/cli_probe.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPCFLAGS) $< $(shell pkg-config --libs sndfile 2>/dev/null) -lm -o $@
all-tests: $(BUILDDIR)/tests/cli_probe

# tests/test_cli_units.c compiles the tools' helpers in; they need libsndfile and libpng.
$(BUILDDIR)/tests/test_cli_units: tools/audio_file.c tools/spectrogram.c tools/pixfont.c \
    tools/audio_file.h tools/spectrogram.h tools/pixfont.h tools/audio_in.c tools/audio_in.h \
    tools/ffmpeg_in.c tools/ffmpeg_in.h tools/tempfile.c tools/tempfile.h tools/cli_path.c \
    tools/cli_path.h
$(BUILDDIR)/tests/test_cli_units: DEPLIBS += $(TOOLS_LIBS)

# The command-line tool goes to $(DESTDIR)$(BINDIR); the models are installed by install-plugin.
.PHONY: install-cli uninstall-cli
install: install-cli
uninstall: uninstall-cli
# The copy built without the checkout's model path (INSTALL_BUILDDIR, root Makefile).
install-cli: $(INSTALL_BUILDDIR)/menhance
	install -d $(DESTDIR)$(BINDIR)
	install -m 755 $(INSTALL_BUILDDIR)/menhance $(DESTDIR)$(BINDIR)/menhance
uninstall-cli:
	rm -f $(DESTDIR)$(BINDIR)/menhance

# tests/test_cli_offline.c compiles the offline path in (engine/offline.c, dsp/griffinlim.c) to
# reach its internals.
$(BUILDDIR)/tests/test_cli_offline: engine/offline.c engine/offline.h dsp/griffinlim.c \
    dsp/griffinlim.h engine/vocoder_gate.c engine/vocoder_gate.h

# An output past 4 GiB (RF64), read back to its last sample (~9 GB of disk, minutes).
.PHONY: test-large
test-large: $(BUILDDIR)/menhance
	@sh tests/run.sh tests/test_cli_large.sh

# The engine's per-frame features as a shared library for the trainers (train/cfeatures.py): the
# network learns from exactly what the engine computes.
FEATURES_LIB := $(BUILDDIR)/libmenhance_features.so
all: $(FEATURES_LIB)
$(FEATURES_LIB): $(BUILDDIR)/obj/tools/features_lib.o $(LIB)
	$(CC) $(CFLAGS) -shared $< $(LIB) $(DEPLIBS) -o $@
-include $(BUILDDIR)/obj/tools/features_lib.d
