# menhance — real-time music enhancer.  `make test` and `make demo` install their own
# Debian dependencies (scripts/deps.sh), so a fresh machine needs only the README's commands.
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
LV2DIR  ?= $(PREFIX)/lib/lv2
DATADIR ?= $(PREFIX)/share/menhance
DESTDIR ?=
BUILDDIR ?= build
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1)

CC      ?= cc
PKGS    := fftw3f sndfile speexdsp libcjson lv2 libpng
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fPIC -fno-math-errno \
           -I. -DMENHANCE_DATADIR='"$(DATADIR)"' -DMENHANCE_VERSION='"$(VERSION)"' -DMENHANCE_SRCDIR='"$(CURDIR)"'
DEPCFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
DEPLIBS   = $(shell pkg-config --libs fftw3f speexdsp libcjson 2>/dev/null) -lfftw3f_threads -lopenblas -lpthread -lm -ldl

# The engine library: DSP, NN and the engine itself; knows nothing of LV2.
LIB_SRC := $(wildcard dsp/*.c) $(wildcard nn/*.c) $(wildcard engine/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILDDIR)/obj/%.o)
LIB     := $(BUILDDIR)/libmenhance.a

TEST_SRC   := $(wildcard tests/test_*.c)
TEST_BIN   := $(TEST_SRC:tests/%.c=$(BUILDDIR)/tests/%)
# Extra test programs/scripts registered by mk/*.mk; each prints "N passed, N failed".
TEST_PROGS := $(TEST_BIN) tests/check_ttl.sh

.PHONY: all test deps bench eval demo check-ttl install uninstall clean format check-format test-hosts fuzz
all: $(LIB)

$(BUILDDIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPCFLAGS) $(CFLAGS_$(subst /,_,$*)) -MMD -MP -c $< -o $@

# The model search path is compiled in: `make install PREFIX=...` after a build with another
# PREFIX must rebuild what embeds it.
DATADIR_STAMP := $(BUILDDIR)/.datadir-$(shell printf '%s' '$(DATADIR)' | md5sum | cut -c1-12)
$(BUILDDIR)/obj/engine/model.o: $(DATADIR_STAMP)
$(DATADIR_STAMP):
	@mkdir -p $(dir $@) && rm -f $(BUILDDIR)/.datadir-* && touch $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILDDIR)/tests/%: tests/%.c $(LIB) tests/check.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPCFLAGS) $< $(LIB) $(DEPLIBS) -o $@

deps:
	@sh scripts/deps.sh

-include mk/*.mk
-include $(LIB_OBJ:.o=.d)

# The build's output goes to a log, shown only when the build fails, so that the summary
# line of the tests is the last thing on the screen.
TEST_BUILD_LOG = $(BUILDDIR)/test-build.log
test: deps
	@mkdir -p $(BUILDDIR)
	@echo "test: building (log: $(TEST_BUILD_LOG))"
	@$(MAKE) --no-print-directory all-tests > $(TEST_BUILD_LOG) 2>&1 || \
	  { tail -n 40 $(TEST_BUILD_LOG); echo "test: the build failed (whole log: $(TEST_BUILD_LOG))"; \
	    echo "0 passed, 1 failed"; exit 1; }
	@sh tests/run.sh $(sort $(TEST_PROGS))

all-tests: all $(filter $(BUILDDIR)/%,$(TEST_PROGS))

format:
	clang-format -i $(shell git ls-files '*.c' '*.h')
check-format:
	clang-format --dry-run --Werror $(shell git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILDDIR)
