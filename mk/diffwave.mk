# nn-diffwave helper: per-ISA kernel flags, the GEMM/DiffWave benchmark and the golden files.
CFLAGS_nn_gemm_avx512 := -O3 -mavx512f -mavx512vl -mfma
CFLAGS_nn_gemm_avx2   := -O3 -mavx2 -mfma

.PHONY: bench-nn golden-diffwave
$(BUILDDIR)/bench_nn: tests/bench_nn.c $(LIB) tests/check.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPCFLAGS) $< $(LIB) $(DEPLIBS) -o $@

# Prints a table and writes $(BUILDDIR)/bench_nn.json (one thread, ~2-3 minutes).
bench-nn: $(BUILDDIR)/bench_nn
	OPENBLAS_NUM_THREADS=1 $(BUILDDIR)/bench_nn $(BUILDDIR)/bench_nn.json

# Regenerates tests/golden/dw_*.safetensors from the PyTorch twin (needs python3-torch).
golden-diffwave:
	cd train && /usr/bin/python3 golden_diffwave.py ../tests/golden

# RealtimeSanitizer over the streaming DiffWave, one frame per call (clang-22 when present).
DW_RT_CC ?= clang-22
ifneq ($(shell command -v $(DW_RT_CC) 2>/dev/null),)
DW_RT_SRC := nn/safetensors.c nn/cpu.c nn/gemm.c nn/diffwave.c nn/diffwave_stream.c
DW_RT_FLAGS = -std=c11 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror -I. \
              $(shell pkg-config --cflags libcjson) -fsanitize=realtime
$(BUILDDIR)/rtsan_dw/gemm_avx512.o: nn/gemm_avx512.c nn/gemm_tile.inc nn/gemm_kernels.h nn/gemm.h
	@mkdir -p $(dir $@)
	$(DW_RT_CC) $(DW_RT_FLAGS) $(CFLAGS_nn_gemm_avx512) -c $< -o $@
$(BUILDDIR)/rtsan_dw/gemm_avx2.o: nn/gemm_avx2.c nn/gemm_tile.inc nn/gemm_kernels.h nn/gemm.h
	@mkdir -p $(dir $@)
	$(DW_RT_CC) $(DW_RT_FLAGS) $(CFLAGS_nn_gemm_avx2) -c $< -o $@
$(BUILDDIR)/tests/test_nn_diffwave_rtsan_clang: tests/test_nn_diffwave_rtsan.c $(DW_RT_SRC) \
        $(BUILDDIR)/rtsan_dw/gemm_avx512.o $(BUILDDIR)/rtsan_dw/gemm_avx2.o \
        nn/diffwave.h nn/diffwave_impl.h nn/gemm.h nn/cpu.h tests/check.h
	@mkdir -p $(dir $@)
	$(DW_RT_CC) $(DW_RT_FLAGS) $< $(DW_RT_SRC) $(BUILDDIR)/rtsan_dw/gemm_avx512.o \
	    $(BUILDDIR)/rtsan_dw/gemm_avx2.o $(shell pkg-config --libs libcjson) -lm -o $@

TEST_PROGS += $(BUILDDIR)/tests/test_nn_diffwave_rtsan_clang
endif
