# mk/plugin.mk: the LV2 bundle (plugin/, ttl/, presets/), its checks, install, and the plugin
# tests (tests/host/).  Included by the root Makefile after LIB, DEPLIBS and the install
# directories are defined.
#
#   make                 builds build/menhance.lv2/ (part of `all`)
#   make check-ttl       serdi + lv2_validate on every generated .ttl
#   make install         bundle into $(DESTDIR)$(LV2DIR), models into $(DESTDIR)$(DATADIR)/models
#   make test            runs the plugin tests registered below in TEST_PROGS
#   make test-hosts      lv2file (a crashy host), jalv on a dummy JACK server and Ardour 7
#                        headless (slow; not in `test`)

LV2_URI          := https://menhance.org/plugins/menhance
LV2_BUNDLE       := $(BUILDDIR)/menhance.lv2
LV2_SO           := $(LV2_BUNDLE)/menhance.so
# The mode port's default (0 classical, 1 Mel2Mel, 2 Mel2Mel + DiffWave).
LV2_DEFAULT_MODE ?= 1
# 1: the model file is a patch parameter (hosts show a file chooser) with two atom ports.
# Off by default because lv2proc refuses any atom port; the tests cover both bundles (the
# .so is the same, only the TTL differs).
LV2_MODEL_PARAM  ?= 0
# LV2 versioning: an odd minor version marks development builds; micro counts commits.
LV2_MINOR        := 1
LV2_MICRO        := $(shell git rev-list --count HEAD 2>/dev/null || echo 0)
LV2_TTL          := $(LV2_BUNDLE)/manifest.ttl $(LV2_BUNDLE)/menhance.ttl $(LV2_BUNDLE)/presets.ttl

# The test scripts find the build tree through this.
export MENHANCE_BUILDDIR := $(abspath $(BUILDDIR))
LILV_CFLAGS = $(shell pkg-config --cflags lilv-0 2>/dev/null)
LILV_LIBS   = $(shell pkg-config --libs lilv-0 2>/dev/null)

.PHONY: plugin-bundle lv2-alt-bundle install-plugin uninstall-plugin check-ttl test-hosts
all: plugin-bundle
install: install-plugin
uninstall: uninstall-plugin

plugin-bundle: $(LV2_SO) $(LV2_TTL)

# Only lv2_descriptor leaves the shared object: -fvisibility=hidden covers this file, the
# version script covers the engine library linked into it (so two plugins built against
# different engine versions can never bind to each other's symbols).
# -z nodelete: hosts (lilv) dlclose the library when its last instance goes, which would
# unload libfftw3f with it and lose FFTW's planner state (~118 KB, +0.33 MB RSS per
# instantiate/free cycle); FFTW has no cleanup a plugin may call while other plugins in the
# host may share the library.  The library stays loaded instead: reloading costs nothing and
# memory stays flat (tests/host/reload_host.c).
# make sanitize empties LV2_NO_UNDEFINED for clang, whose sanitizer runtimes live in the host
# executable only and are left undefined in a shared object until the host loads it.
LV2_NO_UNDEFINED ?= -Wl,--no-undefined
LV2_LDFLAGS := -shared -Wl,--version-script=plugin/menhance.map $(LV2_NO_UNDEFINED) -Wl,-z,nodelete
$(LV2_SO): plugin/menhance_lv2.c plugin/menhance.map engine/menhance.h $(LIB) mk/plugin.mk
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPCFLAGS) -fvisibility=hidden -DMENHANCE_LV2_DEFAULT_MODE=$(LV2_DEFAULT_MODE) \
	    $(LV2_LDFLAGS) $< $(LIB) $(DEPLIBS) -o $@

# TTL templates: one port list, two variants.  Lines tagged @MONO@ / @STEREO@ belong to one
# variant; the stereo copy drops the prefixes and shared resources the mono copy declared.
LV2_SED = sed -e 's|@URI@|$(LV2_URI)|g' -e 's|@VERSION@|$(VERSION)|g' -e 's|@LIB_EXT@|.so|g' \
              -e 's|@MINOR@|$(LV2_MINOR)|g' -e 's|@MICRO@|$(LV2_MICRO)|g' \
              -e 's|@DEFAULT_MODE@|$(LV2_DEFAULT_MODE)|g'

# lv2_ttl_variants(template, param 0/1): both variants, mono then stereo, on stdout.
lv2_param_sed = $(if $(filter 1,$(2)),-e 's|^@PARAM@||',-e '/^@PARAM@/d')
define lv2_ttl_variants
{ $(LV2_SED) $(call lv2_param_sed,,$(2)) -e '/^@STEREO@/d' -e 's|^@MONO@||' \
      -e 's|@VARIANT@|mono|g' -e 's|@LIMITER_INDEX@|10|g' \
      -e 's|@NOISE_INDEX@|11|g' -e 's|@ROOM_INDEX@|12|g' -e 's|@TONE_INDEX@|13|g' -e 's|@LISTEN_INDEX@|14|g' \
      -e 's|@LEARN_INDEX@|15|g' -e 's|@CONTROL_INDEX@|16|g' -e 's|@NOTIFY_INDEX@|17|g' \
      -e 's|@VARIANT_NAME@|mono|g' -e 's|@VARIANT_COMMENT@|One channel.|g' $(1) ; \
  echo ; \
  sed -e '/^@prefix/d' -e '/^<@URI@#model>/,/^$$/d' $(1) | \
  $(LV2_SED) $(call lv2_param_sed,,$(2)) -e '/^@MONO@/d' -e 's|^@STEREO@||' \
      -e 's|@VARIANT@|stereo|g' -e 's|@LIMITER_INDEX@|12|g' \
      -e 's|@NOISE_INDEX@|13|g' -e 's|@ROOM_INDEX@|14|g' -e 's|@TONE_INDEX@|15|g' -e 's|@LISTEN_INDEX@|16|g' \
      -e 's|@LEARN_INDEX@|17|g' -e 's|@CONTROL_INDEX@|18|g' -e 's|@NOTIFY_INDEX@|19|g' \
      -e 's|@VARIANT_NAME@|stereo|g' \
      -e 's|@VARIANT_COMMENT@|Two channels, linked: one gain decision for both, so the stereo image stays put.|g' ; \
}
endef

$(LV2_BUNDLE)/menhance.ttl: ttl/menhance.ttl.in mk/plugin.mk
	@mkdir -p $(dir $@)
	$(call lv2_ttl_variants,$<,$(LV2_MODEL_PARAM)) > $@.tmp && mv $@.tmp $@

$(LV2_BUNDLE)/manifest.ttl: ttl/manifest.ttl.in mk/plugin.mk
	@mkdir -p $(dir $@)
	$(LV2_SED) $< > $@.tmp && mv $@.tmp $@

$(LV2_BUNDLE)/presets.ttl: presets/presets.ttl.in mk/plugin.mk
	@mkdir -p $(dir $@)
	$(LV2_SED) $< > $@.tmp && mv $@.tmp $@

# serdi exits nonzero on syntax errors; lv2_validate (sord_validate against the LV2 schemas)
# exits 0 even then, so its output decides.
LV2_CHECK_TTL = $(LV2_TTL) $(LV2_ALT_BUNDLE)/menhance.ttl
check-ttl: plugin-bundle lv2-alt-bundle
	@for f in $(LV2_CHECK_TTL); do \
	  serdi -q -i turtle -o ntriples "$$f" > /dev/null || { echo "check-ttl: syntax error in $$f"; exit 1; }; \
	done
	@command -v sord_validate > /dev/null || { echo "check-ttl: sord_validate missing (Debian: sordi)"; exit 1; }
	@out=$$(lv2_validate $(LV2_CHECK_TTL) 2>&1); \
	if printf '%s\n' "$$out" | grep -qiE '^(error|warning)|not found' || \
	   ! printf '%s\n' "$$out" | grep -q 'Found 0 errors'; then \
	  printf '%s\n' "$$out"; echo "check-ttl: lv2_validate found problems"; exit 1; fi
	@echo "check-ttl: $(words $(LV2_CHECK_TTL)) files OK (serdi, lv2_validate)"

# Models go where menhance_default_model_path() looks: $(DATADIR)/models.  The shared object
# is the one built without the checkout's model path (INSTALL_BUILDDIR, root Makefile); the
# build tree's own is not a prerequisite, so an install with another PREFIX leaves it alone.
install-plugin: $(LV2_TTL) $(INSTALL_BUILDDIR)/menhance.lv2/menhance.so
	install -d $(DESTDIR)$(LV2DIR)/menhance.lv2
	install -m 644 $(LV2_TTL) $(DESTDIR)$(LV2DIR)/menhance.lv2/
	install -m 755 $(INSTALL_BUILDDIR)/menhance.lv2/menhance.so $(DESTDIR)$(LV2DIR)/menhance.lv2/
	install -d $(DESTDIR)$(DATADIR)/models
	for m in $(wildcard models/*.safetensors); do install -m 644 "$$m" $(DESTDIR)$(DATADIR)/models/; done

# Only what install put there, then the directories it made if they are empty now.
uninstall-plugin:
	rm -f $(DESTDIR)$(LV2DIR)/menhance.lv2/menhance.so \
	    $(addprefix $(DESTDIR)$(LV2DIR)/menhance.lv2/,$(notdir $(LV2_TTL)))
	-rmdir $(DESTDIR)$(LV2DIR)/menhance.lv2
	rm -f $(patsubst models/%,$(DESTDIR)$(DATADIR)/models/%,$(wildcard models/*.safetensors))
	-rmdir $(DESTDIR)$(DATADIR)/models
	-rmdir $(DESTDIR)$(DATADIR)

# ---- tests ---------------------------------------------------------------------------------
PLUGIN_TEST_DIR := $(BUILDDIR)/tests/host

# The same plugin binary with the other TTL choice (model patch parameter on if the shipped
# bundle has it off, and the reverse), so the tests cover both.
LV2_ALT_BUNDLE := $(PLUGIN_TEST_DIR)/alt/menhance.lv2
LV2_ALT_PARAM  := $(if $(filter 1,$(LV2_MODEL_PARAM)),0,1)
$(LV2_ALT_BUNDLE)/menhance.ttl: ttl/menhance.ttl.in mk/plugin.mk
	@mkdir -p $(dir $@)
	$(call lv2_ttl_variants,$<,$(LV2_ALT_PARAM)) > $@.tmp && mv $@.tmp $@
$(LV2_ALT_BUNDLE)/manifest.ttl $(LV2_ALT_BUNDLE)/presets.ttl: $(LV2_ALT_BUNDLE)/%: $(LV2_BUNDLE)/%
	@mkdir -p $(dir $@)
	cp $< $@
$(LV2_ALT_BUNDLE)/menhance.so: $(LV2_SO)
	@mkdir -p $(dir $@)
	cp $< $@
lv2-alt-bundle: $(addprefix $(LV2_ALT_BUNDLE)/,menhance.so manifest.ttl menhance.ttl presets.ttl)

# lilv host: block-size invariance, latency, in-place, hostile input, bypass.
$(PLUGIN_TEST_DIR)/plugin_host: tests/host/lilv_host.c tests/host/host_common.h tests/check.h \
                                $(LIB) | plugin-bundle
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPCFLAGS) $(LILV_CFLAGS) -DHOST_BUNDLE='"$(abspath $(LV2_BUNDLE))"' \
	    -DHOST_ALT_BUNDLE='"$(abspath $(LV2_ALT_BUNDLE))"' $< $(LIB) $(LILV_LIBS) $(DEPLIBS) -o $@

# Real-time host: run() inside a nonblocking function (RTSan) and inside the trap flag.
$(PLUGIN_TEST_DIR)/rt_host: tests/host/rt_host.c tests/host/host_common.h tests/check.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LILV_CFLAGS) -DHOST_BUNDLE='"$(abspath $(LV2_BUNDLE))"' \
	    -DHOST_ALT_BUNDLE='"$(abspath $(LV2_ALT_BUNDLE))"' \
	    $< $(LILV_LIBS) -lpthread -lm -ldl -o $@

RTSAN_CC ?= clang-22
$(PLUGIN_TEST_DIR)/rt_host_rtsan: tests/host/rt_host.c tests/host/host_common.h tests/check.h
	@mkdir -p $(dir $@)
	$(RTSAN_CC) -std=c11 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror -Wno-function-effects \
	    -fsanitize=realtime -I. $(LILV_CFLAGS) -DHOST_BUNDLE='"$(abspath $(LV2_BUNDLE))"' \
	    -DHOST_ALT_BUNDLE='"$(abspath $(LV2_ALT_BUNDLE))"' \
	    $< $(LILV_LIBS) -lpthread -lm -ldl -o $@

$(PLUGIN_TEST_DIR)/rt_trap.so: tests/host/rt_trap.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -shared $< -ldl -lpthread -o $@

# The plugin built with UBSan (alignment, and everything else it knows), both TTL variants:
# rt_checks.sh drives it with the test host, whose worker messages are deliberately 4 bytes
# off an 8-byte boundary.  The engine library inside stays uninstrumented.
LV2_UBSAN_DIR := $(PLUGIN_TEST_DIR)/ubsan
$(LV2_UBSAN_DIR)/menhance.so: plugin/menhance_lv2.c plugin/menhance.map engine/menhance.h $(LIB) mk/plugin.mk
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPCFLAGS) -fvisibility=hidden -DMENHANCE_LV2_DEFAULT_MODE=$(LV2_DEFAULT_MODE) \
	    -fsanitize=undefined -fno-sanitize-recover=all $(LV2_LDFLAGS) $< $(LIB) $(DEPLIBS) -o $@
$(LV2_UBSAN_DIR)/main/menhance.lv2/%: $(LV2_BUNDLE)/%
	@mkdir -p $(dir $@)
	cp $< $@
$(LV2_UBSAN_DIR)/alt/menhance.lv2/%: $(LV2_ALT_BUNDLE)/%
	@mkdir -p $(dir $@)
	cp $< $@
$(LV2_UBSAN_DIR)/main/menhance.lv2/menhance.so $(LV2_UBSAN_DIR)/alt/menhance.lv2/menhance.so: \
    $(LV2_UBSAN_DIR)/menhance.so
	@mkdir -p $(dir $@)
	cp $< $@
LV2_UBSAN_BUNDLES := $(foreach v,main alt,$(addprefix $(LV2_UBSAN_DIR)/$(v)/menhance.lv2/,\
                         menhance.so manifest.ttl menhance.ttl presets.ttl))

# 200 load/instantiate/free/unload cycles: resident memory must stay flat.
$(PLUGIN_TEST_DIR)/reload_host: tests/host/reload_host.c tests/host/host_common.h tests/check.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LILV_CFLAGS) -DHOST_BUNDLE='"$(abspath $(LV2_BUNDLE))"' \
	    $< $(LILV_LIBS) -lm -ldl -o $@

PLUGIN_TEST_BINS := $(PLUGIN_TEST_DIR)/plugin_host $(PLUGIN_TEST_DIR)/rt_host \
                    $(PLUGIN_TEST_DIR)/rt_host_rtsan $(PLUGIN_TEST_DIR)/rt_trap.so \
                    $(PLUGIN_TEST_DIR)/reload_host $(LV2_UBSAN_BUNDLES)
all-tests: plugin-bundle lv2-alt-bundle $(PLUGIN_TEST_BINS)

TEST_PROGS += $(PLUGIN_TEST_DIR)/plugin_host tests/host/rt_checks.sh tests/host/hosts_smoke.sh \
              $(PLUGIN_TEST_DIR)/reload_host

# lv2file runs here rather than in `make test`: Debian's lv2file 0.95 dies in instantiate in
# 3-7 runs of 10 on a feature URI it never initialises (see tests/host/lv2file_check.sh).
$(PLUGIN_TEST_DIR)/feature_probe.so: tests/host/feature_probe.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LILV_CFLAGS) -shared $< -ldl -o $@

# The hosts are installed as `make test` installs its own dependencies; where that cannot be
# done (not root, no package mirror) their checks are skipped with the reason.
HOST_PKGS := jalv jackd2 ardour
test-hosts: plugin-bundle lv2-alt-bundle $(PLUGIN_TEST_DIR)/feature_probe.so
	@DEBCONF_NONINTERACTIVE_SEEN=true MENHANCE_EXTRA_DEPS="$(HOST_PKGS)" sh scripts/deps.sh || \
	  echo "test-hosts: could not install $(HOST_PKGS); the checks that need them are skipped"
	@sh tests/run.sh tests/host/lv2file_check.sh tests/host/real_hosts.sh
