# dsp helper's extra targets: the TSan stress test of the SPSC ring (ring.c compiled in
# directly so the sanitizer instruments it) and the golden-data generator.

# FFTW's planner is not thread safe; dsp/stft.c makes it so with fftwf_make_planner_thread_safe

$(BUILDDIR)/tests/stress_ring: tests/stress_ring.c dsp/ring.c dsp/ring.h tests/check.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -O1 -fsanitize=thread $< dsp/ring.c -lpthread -o $@

TEST_PROGS += $(BUILDDIR)/tests/stress_ring

# Regenerates tests/golden/mel_golden.h (committed; numpy only).
.PHONY: golden-mel
golden-mel:
	/usr/bin/python3 scripts/golden_mel.py tests/golden/mel_golden.h

# RealtimeSanitizer over every per-block dsp call (FFTW and speexdsp included).  Needs clang
# with -fsanitize=realtime (Debian's clang-22 + libclang-rt-22-dev); skipped without it.
RTSAN_CC ?= clang-22
ifneq ($(shell command -v $(RTSAN_CC) 2>/dev/null),)
DSP_RT_SRC := dsp/ring.c dsp/stft.c dsp/mel.c dsp/resample.c dsp/denoise.c dsp/tonal.c
$(BUILDDIR)/tests/rtsan_dsp: tests/rtsan_dsp.c $(DSP_RT_SRC) $(wildcard dsp/*.h) tests/check.h
	@mkdir -p $(dir $@)
	$(RTSAN_CC) -std=c11 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror -I. -fsanitize=realtime \
	    $< $(DSP_RT_SRC) $(DEPLIBS) -o $@

TEST_PROGS += $(BUILDDIR)/tests/rtsan_dsp
endif

# The engine tests share their signals and measurements.
$(BUILDDIR)/tests/test_engine $(BUILDDIR)/tests/test_engine_model: tests/signals.h
