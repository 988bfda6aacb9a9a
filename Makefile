# menhance — real-time music enhancer.  `make test` and `make demo` install their own
# Debian dependencies (scripts/deps.sh), so a fresh machine needs only the README's commands.
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
LV2DIR  ?= $(PREFIX)/lib/lv2
DATADIR ?= $(PREFIX)/share/menhance
MANDIR  ?= $(PREFIX)/share/man
DESTDIR ?=
BUILDDIR ?= build
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1)

CC      ?= cc
PKGS    := fftw3f sndfile speexdsp libcjson lv2 libpng
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fPIC -fno-math-errno \
           -I. -DMENHANCE_DATADIR='"$(DATADIR)"' -DMENHANCE_VERSION='"$(VERSION)"'
DEPCFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# The single-threaded OpenBLAS (Debian's libopenblas0-serial, found through the runpath): the
# default pthread build parks helper threads that keep polling with sched_yield even when told
# to use one thread, and nothing of ours may burn CPU while idle (tests/test_idle.c).
OPENBLAS_SERIAL := /usr/lib/$(or $(shell gcc -print-multiarch 2>/dev/null),x86_64-linux-gnu)/openblas-serial
DEPLIBS   = $(shell pkg-config --libs fftw3f speexdsp libcjson 2>/dev/null) -lfftw3f_threads \
            $(OPENBLAS_SERIAL)/libopenblas.so.0 -Wl,-rpath,$(OPENBLAS_SERIAL) -lpthread -lm -ldl

# The engine library: DSP, NN and the engine itself; knows nothing of LV2.
LIB_SRC := $(wildcard dsp/*.c) $(wildcard nn/*.c) $(wildcard engine/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILDDIR)/obj/%.o)
LIB     := $(BUILDDIR)/libmenhance.a

TEST_SRC   := $(wildcard tests/test_*.c)
TEST_BIN   := $(TEST_SRC:tests/%.c=$(BUILDDIR)/tests/%)
# Extra test programs/scripts registered by mk/*.mk; each prints "N passed, N failed".
TEST_PROGS := $(TEST_BIN) tests/check_ttl.sh tests/check_install.sh

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

# Tests find their data through the checkout's path; nothing installed knows it.
$(BUILDDIR)/tests/%: tests/%.c $(LIB) tests/check.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DMENHANCE_SRCDIR='"$(CURDIR)"' $(DEPCFLAGS) $< $(LIB) $(DEPLIBS) -o $@

deps:
	@sh scripts/deps.sh

# ---- install -------------------------------------------------------------------------------
# The build tree's binaries also look for models in the checkout's models/ (a build-only
# define for engine/model.c), so `make demo`, the tests and a plugin loaded from the build tree
# work without installing.  Installed binaries must not depend on the checkout: `make install`
# builds the CLI and the plugin again in $(INSTALL_BUILDDIR) without that define, so they look
# only in $(DATADIR)/models and $MENHANCE_MODEL_DIR.
INSTALL_BUILDDIR := $(BUILDDIR)/installed
ifneq ($(MENHANCE_INSTALLED_BUILD),1)
CFLAGS_engine_model := -DMENHANCE_BUILD_MODEL_DIR='"$(CURDIR)/models"'
endif
INSTALLED_BINS := $(INSTALL_BUILDDIR)/menhance $(INSTALL_BUILDDIR)/menhance.lv2/menhance.so
.PHONY: installed-binaries install-man uninstall-man
# One sub-make for both, so that a parallel make never builds that tree twice at once.
installed-binaries:
	@$(MAKE) --no-print-directory BUILDDIR=$(INSTALL_BUILDDIR) MENHANCE_INSTALLED_BUILD=1 $(INSTALLED_BINS)
$(INSTALLED_BINS): installed-binaries

# The man page comes from the installed binary's own --help and --version (help2man).
$(INSTALL_BUILDDIR)/menhance.1: $(INSTALL_BUILDDIR)/menhance
	@command -v help2man > /dev/null || { echo "install: help2man missing (scripts/deps.sh installs it)"; exit 1; }
	help2man --no-info --no-discard-stderr --section=1 \
	    --name="enhance music recordings: noise, room and cheap-microphone EQ out" \
	    --output=$@.tmp $(abspath $<) && mv $@.tmp $@
install: install-man
uninstall: uninstall-man
install-man: $(INSTALL_BUILDDIR)/menhance.1
	install -d $(DESTDIR)$(MANDIR)/man1
	install -m 644 $< $(DESTDIR)$(MANDIR)/man1/menhance.1
uninstall-man:
	rm -f $(DESTDIR)$(MANDIR)/man1/menhance.1

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
