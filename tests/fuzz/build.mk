# tests/fuzz/build.mk - fuzz targets; included from the main Makefile, whose
# variables it uses: O, CC, AR, PKG_CONFIG, VERSION, ALL_CFLAGS, ALL_LDFLAGS,
# PKG_LIBS, LIB_SRCS and the rule that builds $(O)/%.o from %.c.  Include it
# after O and LIB_SRCS are set (target names are expanded when it is read).
#
#   make fuzz-replay      build/<flavor>/fuzz-replay-T: each target with the
#                         project's compiler and flags, plus a main() that
#                         replays files (tests/fuzz/test_fuzz_replay.sh runs them
#                         over the corpora; SANITIZE=1 for ASan and UBSan)
#   make fuzz-build       build/fuzz/T: libFuzzer binaries (clang, ASan, UBSan)
#   make fuzz-run         run each for FUZZ_SECONDS (default 60); new inputs go
#                         to build/fuzz/new/T, crash/leak/timeout/oom artefacts
#                         are copied to tests/fuzz/crashes/T/
#   make fuzz-run FUZZ_TARGETS=decode FUZZ_SECONDS=600    one target
#
# T is each of FUZZ_TARGETS; its seeds are tests/fuzz/corpus/T (rebuilt by
# tests/fuzz/mkseeds.py), and tests/fuzz/T.dict is its dictionary if present.

# Whatever the place of the include, the main Makefile keeps its default goal.
FUZZ_PREV_GOAL := $(.DEFAULT_GOAL)

FUZZ_TARGETS := decode pcap filter diag
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_OUT := build/fuzz
# Extra libFuzzer flags for fuzz-run, e.g. FUZZ_FLAGS=-jobs=2
FUZZ_FLAGS ?=

# ---- replay binaries: the project's compiler and flags -------------------

FUZZ_REPLAY_BINS := $(FUZZ_TARGETS:%=$(O)/fuzz-replay-%)

$(FUZZ_REPLAY_BINS): $(O)/fuzz-replay-%: $(O)/tests/fuzz/fuzz_%.o $(O)/tests/fuzz/replay.o \
		$(O)/libtcpstate.a
	$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) $(O)/libtcpstate.a $(PKG_LIBS)

fuzz-replay: $(FUZZ_REPLAY_BINS)

# ---- libFuzzer binaries ----------------------------------------------------

FUZZ_PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags libnl-3.0 libpcap 2>/dev/null)
FUZZ_PKG_LIBS := $(shell $(PKG_CONFIG) --libs libnl-3.0 libpcap 2>/dev/null)
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS := -std=gnu11 -g -O1 $(FUZZ_SAN) -Wall -Wextra $(FUZZ_PKG_CFLAGS) \
               -DTCPSTATE_VERSION='"$(VERSION)"' -Isrc -MMD -MP

FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_OUT)/%)
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(FUZZ_OUT)/obj/%.o)

# Library code is instrumented for coverage; only the targets link libFuzzer.
$(FUZZ_OUT)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_OUT)/libtcpstate.a: $(FUZZ_LIB_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_BINS): $(FUZZ_OUT)/%: $(FUZZ_OUT)/obj/tests/fuzz/fuzz_%.o $(FUZZ_OUT)/libtcpstate.a
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $(filter %.o,$^) $(FUZZ_OUT)/libtcpstate.a \
	    $(FUZZ_PKG_LIBS)

fuzz-build: $(FUZZ_BINS)

# Each target in turn for FUZZ_SECONDS.  The committed corpus is read, new
# inputs go to the scratch directory; artefacts are kept so they replay
# forever.  Fails at the end if any target found something.
fuzz-run: fuzz-build
	@failed=; \
	for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_OUT)/new/$$t $(FUZZ_OUT)/artifacts/$$t; \
	    dict=; [ -f tests/fuzz/$$t.dict ] && dict=-dict=tests/fuzz/$$t.dict; \
	    echo "fuzz-run: $$t for $(FUZZ_SECONDS) s (log: $(FUZZ_OUT)/$$t.log)"; \
	    $(FUZZ_OUT)/$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -timeout=25 \
	        -artifact_prefix=$(FUZZ_OUT)/artifacts/$$t/ $$dict $(FUZZ_FLAGS) \
	        $(FUZZ_OUT)/new/$$t tests/fuzz/corpus/$$t >$(FUZZ_OUT)/$$t.log 2>&1; \
	    rc=$$?; \
	    grep -E '^stat::(number_of_executed_units|peak_rss_mb)|^#[0-9]+[[:space:]]+DONE' \
	        $(FUZZ_OUT)/$$t.log | sed "s/^/    $$t: /"; \
	    for a in $(FUZZ_OUT)/artifacts/$$t/crash-* $(FUZZ_OUT)/artifacts/$$t/leak-* \
	             $(FUZZ_OUT)/artifacts/$$t/timeout-* $(FUZZ_OUT)/artifacts/$$t/oom-*; do \
	        [ -f "$$a" ] || continue; \
	        mkdir -p tests/fuzz/crashes/$$t && cp "$$a" tests/fuzz/crashes/$$t/; \
	        echo "    $$t: FOUND $$(basename $$a) -> tests/fuzz/crashes/$$t/"; \
	    done; \
	    if [ $$rc -ne 0 ]; then \
	        echo "    $$t: libFuzzer exited $$rc; see $(FUZZ_OUT)/$$t.log"; failed="$$failed $$t"; \
	    fi; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz-run: findings in:$$failed"; exit 1; fi

.PHONY: fuzz-replay fuzz-build fuzz-run

-include $(wildcard $(O)/tests/fuzz/*.d $(FUZZ_OUT)/obj/src/*.d $(FUZZ_OUT)/obj/tests/fuzz/*.d)

ifeq ($(FUZZ_PREV_GOAL),)
.DEFAULT_GOAL :=
endif
