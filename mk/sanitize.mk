# make sanitize: the unit, engine, CLI and plugin-host tests under ASan+UBSan, and the ring and
# threaded-engine tests under TSan, with gcc and with clang alike (issue 10).  Every (compiler,
# sanitizer) pair builds in a directory of its own, build/san-<cc>-<asan|tsan>, so a TSan object
# never lands in an ASan tree.  Not part of `make test`: it rebuilds everything four times.
#
#   make sanitize                   gcc and clang-22
#   make sanitize SAN_CCS=gcc       one compiler
SAN_CCS  ?= gcc clang-22
SAN_ASAN := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
# gcc warns (-Wtsan) that TSan does not model atomic_thread_fence: the engine's one fence (the
# worker's sleep/wake handshake, engine.c publish_chunk) stays, and TSan checks everything else.
SAN_TSAN := -O1 -g -fno-omit-frame-pointer -fsanitize=thread
# halt on the first report of any kind; leaks count
SAN_ENV  := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
            UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 TSAN_OPTIONS=halt_on_error=1

# What runs under ASan+UBSan: every tests/test_*.c program, the lilv plugin host (it loads the
# sanitized plugin) and the CLI's end-to-end scripts.  The real command-line hosts, valgrind and
# RTSan checks stay in `make test` (an uninstrumented host cannot load an ASan plugin).
SAN_ASAN_PROGS = $(TEST_BIN) $(PLUGIN_TEST_DIR)/plugin_host tests/test_cli.sh tests/test_cli_offline.sh
SAN_TSAN_PROGS = $(BUILDDIR)/tests/stress_ring $(BUILDDIR)/tests/test_engine

.PHONY: sanitize sanitize-asan-run sanitize-tsan-run
sanitize: deps
	@set -e; for cc in $(SAN_CCS); do \
	  command -v $$cc > /dev/null || { echo "sanitize: $$cc not installed (scripts/deps.sh)"; exit 1; }; \
	  echo "sanitize: $$cc, ASan+UBSan"; \
	  undef=-Wl,--no-undefined; case $$cc in clang*) undef=;; esac; \
	  $(MAKE) --no-print-directory CC=$$cc OPT="$(SAN_ASAN)" LV2_NO_UNDEFINED="$$undef" \
	      BUILDDIR=build/san-$$cc-asan sanitize-asan-run; \
	  echo "sanitize: $$cc, TSan"; \
	  extra=; case $$cc in gcc*) extra=-Wno-tsan;; esac; \
	  $(MAKE) --no-print-directory CC=$$cc OPT="$(SAN_TSAN) $$extra" BUILDDIR=build/san-$$cc-tsan sanitize-tsan-run; \
	done

sanitize-asan-run: $(LIB) $(TEST_BIN) $(BUILDDIR)/menhance $(BUILDDIR)/tests/cli_probe plugin-bundle \
                   lv2-alt-bundle $(PLUGIN_TEST_DIR)/plugin_host
	@BUILDDIR=$(abspath $(BUILDDIR)) $(SAN_ENV) sh tests/run.sh $(SAN_ASAN_PROGS)

sanitize-tsan-run: $(LIB) $(SAN_TSAN_PROGS)
	@BUILDDIR=$(abspath $(BUILDDIR)) $(SAN_ENV) sh tests/run.sh $(SAN_TSAN_PROGS)
