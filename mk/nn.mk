# nn-core helper: the safetensors/Mel2Mel fuzzer, the Mel2Mel benchmark, golden regeneration.
#
#   make fuzz            (fuzz-nn) 10^6 libFuzzer executions through the front-end metadata check,
#                        the Mel2Mel and the DiffWave loaders, on tests/fuzz/corpus (clang-22)
#   make test            includes a 20 s fuzz run (tests/fuzz/run_fuzz.sh prints the summary)
#   make bench-mel2mel   JSON lines from build/bench_mel2mel -> $(BUILDDIR)/bench_mel2mel.json
#   make check-nn-full   full-size Mel2Mel parity against PyTorch (needs torch; ~46 MB in build/)
#   make golden-nn       regenerates tests/golden/nn_*.safetensors + the fuzz seeds (torch)

# Elementwise loops (norms, activations, im2col) must vectorise; -O2 leaves them scalar.
CFLAGS_nn_layers := -O3
# the gain network's frame-by-frame products (nn/mel2mel.c matvec_t) vectorise at -O3
CFLAGS_nn_mel2mel := -O3

FUZZ_CC      ?= clang-22
NN_FUZZ_SRC  := tests/fuzz/fuzz_safetensors.c nn/safetensors.c nn/layers.c nn/mel2mel.c \
                nn/cpu.c nn/gemm.c nn/diffwave.c engine/frontend_meta.c
NN_FUZZ_BIN  := $(BUILDDIR)/fuzz/fuzz_safetensors
NN_FUZZ_FLAGS = -g -O1 -std=c11 -D_GNU_SOURCE -I. $(shell pkg-config --cflags libcjson) \
                -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
# one execution count for every loader the target drives (issue 10: 10^6 each)
FUZZ_RUNS    ?= 1000000

# Built straight from the sources so the sanitizers instrument the library code too; the GEMM
# kernels need their ISA flags, so they are objects of their own.
$(BUILDDIR)/fuzz/gemm_avx512.o: nn/gemm_avx512.c nn/gemm_tile.inc nn/gemm_kernels.h nn/gemm.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(NN_FUZZ_FLAGS) $(CFLAGS_nn_gemm_avx512) -c $< -o $@
$(BUILDDIR)/fuzz/gemm_avx2.o: nn/gemm_avx2.c nn/gemm_tile.inc nn/gemm_kernels.h nn/gemm.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(NN_FUZZ_FLAGS) $(CFLAGS_nn_gemm_avx2) -c $< -o $@
$(NN_FUZZ_BIN): $(NN_FUZZ_SRC) nn/safetensors.h nn/layers.h nn/mel2mel.h nn/diffwave.h \
                engine/frontend_meta.h $(BUILDDIR)/fuzz/gemm_avx512.o $(BUILDDIR)/fuzz/gemm_avx2.o
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(NN_FUZZ_FLAGS) -fsanitize=fuzzer $(NN_FUZZ_SRC) $(BUILDDIR)/fuzz/gemm_avx512.o \
	    $(BUILDDIR)/fuzz/gemm_avx2.o $(shell pkg-config --libs libcjson) -lopenblas -lm -o $@

# tests/run.sh runs programs without arguments: a one-line wrapper carries them.
$(BUILDDIR)/tests/fuzz_safetensors_short: $(NN_FUZZ_BIN) tests/fuzz/run_fuzz.sh mk/nn.mk
	@mkdir -p $(dir $@)
	printf '#!/bin/sh\nexec sh tests/fuzz/run_fuzz.sh %s 20\n' "$(NN_FUZZ_BIN)" > $@
	chmod +x $@

TEST_PROGS += $(BUILDDIR)/tests/fuzz_safetensors_short

# RealtimeSanitizer over streaming Mel2Mel, one frame per call as the engine runs it
# (tests/test_nn_rtsan.c; the plain-cc build of the same file is an ordinary smoke test).
ifneq ($(shell command -v $(FUZZ_CC) 2>/dev/null),)
NN_RT_SRC := nn/safetensors.c nn/layers.c nn/mel2mel.c
$(BUILDDIR)/tests/test_nn_rtsan_clang: tests/test_nn_rtsan.c $(NN_RT_SRC) tests/test_nn_util.h \
                                        nn/layers.h nn/mel2mel.h tests/check.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror -I. \
	    $(shell pkg-config --cflags libcjson) -fsanitize=realtime $< $(NN_RT_SRC) \
	    $(shell pkg-config --libs libcjson) -lopenblas -lm -o $@

TEST_PROGS += $(BUILDDIR)/tests/test_nn_rtsan_clang
endif

.PHONY: fuzz-nn bench-mel2mel golden-nn
fuzz: fuzz-nn
fuzz-nn: $(NN_FUZZ_BIN)
	sh tests/fuzz/run_fuzz.sh $(NN_FUZZ_BIN) 0 $(FUZZ_RUNS)

$(BUILDDIR)/bench_mel2mel: tests/bench_mel2mel.c tests/test_nn_util.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPCFLAGS) $< $(LIB) $(DEPLIBS) -o $@

bench: bench-mel2mel
# Times the shipped streaming model too when it exists.
NN_BENCH_MODEL ?= $(wildcard models/menhance.safetensors)
bench-mel2mel: $(BUILDDIR)/bench_mel2mel
	OPENBLAS_NUM_THREADS=1 $(BUILDDIR)/bench_mel2mel $(if $(NN_BENCH_MODEL),--model $(NN_BENCH_MODEL)) \
	    | tee $(BUILDDIR)/bench_mel2mel.json

golden-nn:
	/usr/bin/python3 train/golden.py

# Full-size parity (reference ResNet 11.37 M params, default streaming model) against PyTorch;
# the files (~46 MB) go to $(BUILDDIR)/nn_full, not to git.  Needs python3-torch.
.PHONY: check-nn-full
check-nn-full: $(BUILDDIR)/tests/test_nn_mel2mel
	/usr/bin/python3 train/golden.py --full $(BUILDDIR)/nn_full
	MENHANCE_NN_FULL_GOLDEN=$(BUILDDIR)/nn_full $(BUILDDIR)/tests/test_nn_mel2mel
