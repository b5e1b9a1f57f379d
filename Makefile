# tcpstate - build, test and install.
#
#   make            build ./tcpstate
#   make run        install missing packages (as root), build, run tcpstate (ARGS=...)
#   make check      the same set-up, then every test; ends with "N passed, N failed"
#   make SANITIZE=1 build (or check) with AddressSanitizer and UBSan
#   make install    PREFIX=/usr/local, DESTDIR honoured
#   make man        regenerate the generated parts of tcpstate.1 from the binary
#   make bench-churn  build bench/live's load generator (build/rel/bench/churn)

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share
CC      ?= cc
PKG_CONFIG ?= pkg-config
VERSION := 0.1.0

# Every library comes through pkg-config.
PKGS := libnl-3.0 libpcap ncursesw readline libmicrohttpd

WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes \
        -Wpointer-arith -Wvla -Wundef
# Warnings are errors in CI, and whenever WERROR=1.
ifeq ($(CI),true)
WERROR ?= 1
endif
ifeq ($(WERROR),1)
WARN += -Werror
endif

ifeq ($(SANITIZE),1)
FLAVOR := san
OPT    := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
SAN_LDFLAGS := -fsanitize=address,undefined
else
FLAVOR := rel
OPT    := -O2 -g
endif

PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)

CFLAGS  ?= $(OPT)
ALL_CFLAGS = -std=gnu11 -pthread $(WARN) $(CFLAGS) $(PKG_CFLAGS) -DTCPSTATE_VERSION='"$(VERSION)"' \
             -Isrc -MMD -MP
ALL_LDFLAGS = -pthread $(LDFLAGS) $(SAN_LDFLAGS)

O := build/$(FLAVOR)

# The library: everything but the command-line front end.  Tests, fuzzers,
# benchmarks and the binary all link it.
# The engine's files (engine_int.h joins them).
ENGINE_SRCS := src/engine.c src/engine_table.c src/engine_timer.c src/engine_rfc.c \
               src/engine_zeek.c src/engine_fast.c src/engine_sure.c
LIB_SRCS := src/state.c src/filter.c src/filterbc.c src/diagmsg.c src/sockdiag.c src/addr.c src/out.c src/procmap.c \
            src/netns.c src/store.c src/decode.c $(ENGINE_SRCS) src/topmodel.c src/savefile.c \
            src/capture.c src/wire.c src/knobs.c src/sysctl.c src/rollback.c src/privdrop.c \
            src/census.c src/nsall.c src/topgroup.c src/topns.c src/topview.c src/topjson.c src/cgroupid.c \
            src/nsname.c src/jsonpick.c src/promtext.c src/metrics.c src/metrics_render.c
CLI_SRCS := src/main.c src/cmd.c src/cmdtab.c src/cmd_wire.c src/cmd_list.c src/cmd_list_summary.c src/cmd_list_ns.c src/cmd_list_prom.c src/cmd_prom.c src/cmd_top_ns.c src/cmd_watch.c \
            src/listwire.c src/cmd_top.c src/cmd_tune.c src/cmd_tune_change.c src/cmd_shell.c \
            src/cmd_explain.c src/cmd_export.c src/cmd_export_http.c src/termcheck.c src/topscreen.c
UNIT_SRCS := $(wildcard tests/unit/*.c)

LIB_OBJS  := $(LIB_SRCS:%.c=$(O)/%.o)
ENGINE_OBJS := $(ENGINE_SRCS:%.c=$(O)/%.o)
CLI_OBJS  := $(CLI_SRCS:%.c=$(O)/%.o)
UNIT_OBJS := $(UNIT_SRCS:%.c=$(O)/%.o)

all: tcpstate

$(O)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The engine's per-segment path crosses its files (the lookup, the fast
# path, both machines, the packed form): link-time optimization inlines
# across them, as the one engine.c it was split from did.  Without it the
# split cost 3% more instructions a packet (doc/performance.md, issue 15).
# Fat objects: libtcpstate.a still links into a program linked without -flto.
ENGINE_LTO := -flto -ffat-lto-objects
$(ENGINE_OBJS): ALL_CFLAGS += $(ENGINE_LTO)
ALL_LDFLAGS += -flto=auto $(CFLAGS)

$(O)/libtcpstate.a: $(LIB_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(O)/tcpstate: $(CLI_OBJS) $(O)/libtcpstate.a
	$(CC) $(ALL_LDFLAGS) -o $@ $(CLI_OBJS) $(O)/libtcpstate.a $(PKG_LIBS)

# ./tcpstate is whichever flavour was built last.
tcpstate: $(O)/tcpstate FORCE
	@cmp -s $< $@ || { cp $< $@.tmp && mv -f $@.tmp $@; }

$(O)/unit: $(UNIT_OBJS) $(O)/libtcpstate.a
	$(CC) $(ALL_LDFLAGS) -o $@ $(UNIT_OBJS) $(O)/libtcpstate.a $(PKG_LIBS)

# The engine's fast path checked against its full path on every segment it
# takes (engine_fast.c, eng_fast_taken; tests/pcap/test_fastpath.sh).  Every
# engine file is built so: the check adds a field to struct engine.
FASTCHECK_OBJS := $(ENGINE_SRCS:src/%.c=$(O)/fastcheck/%.o)
$(FASTCHECK_OBJS): $(O)/fastcheck/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ENGINE_LTO) -DENGINE_FASTCHECK -c -o $@ $<

$(O)/tcpstate-fastcheck: $(CLI_OBJS) $(filter-out $(ENGINE_OBJS),$(LIB_OBJS)) $(FASTCHECK_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# Fault injection for tests: a shim that makes netlink sockets fail.
$(O)/nonetlink.so: tests/fault/nonetlink.c
	@mkdir -p $(@D)
	$(CC) -std=gnu11 $(WARN) -O2 -fPIC -shared -o $@ $< -ldl

# bench/live's load generator, to run by hand (bench/live compiles its own
# copy into its temporary directory, as the other benches do).
$(O)/bench/churn: bench/churn.c
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -pthread $(WARN) $(CFLAGS) $(SAN_LDFLAGS) -o $@ $<

bench-churn: $(O)/bench/churn

deps:
	@sh tools/deps.sh build

deps-check:
	@sh tools/deps.sh check

# The monitor on a terminal; elsewhere (no screen to draw on) the listing.
run: deps
	@$(MAKE) --no-print-directory tcpstate
	@if [ -t 0 ] && [ -t 1 ]; then ./tcpstate $(ARGS); else ./tcpstate $(or $(ARGS),list); fi

check: deps-check
	@$(MAKE) --no-print-directory tcpstate $(O)/unit $(O)/nonetlink.so $(O)/tcpstate-fastcheck \
	    fuzz-replay
	@TCPSTATE=$(CURDIR)/tcpstate UNIT=$(CURDIR)/$(O)/unit NONETLINK=$(CURDIR)/$(O)/nonetlink.so \
	    FASTCHECK=$(CURDIR)/$(O)/tcpstate-fastcheck \
	    FUZZ_REPLAY_DIR=$(CURDIR)/$(O) bash tests/run

# The unit, CLI and pcap tests again, under valgrind: no errors, no leaks.
check-valgrind: deps-check
	@$(MAKE) --no-print-directory tcpstate $(O)/unit $(O)/nonetlink.so
	@VG_TCPSTATE=$(CURDIR)/tcpstate TCPSTATE=$(CURDIR)/tests/vg-tcpstate \
	    UNIT="$(CURDIR)/tests/vg-tcpstate-unit" VG_UNIT=$(CURDIR)/$(O)/unit \
	    TESTS='unit|test_replay|test_usage|test_explain|test_testlist|test_oracles|test_wire|test_top_cli|test_pcapng' \
	    NONETLINK= bash tests/run

# Formatting: .clang-format is the one style. `make fmt` applies it to
# every C file git knows; `make fmt-check` fails, naming the files, when
# one differs (tests/cli/test_format.sh runs it in `make check`).
FMT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null || ls src/*.[ch] tests/*/*.[ch] bench/*.c)
fmt:
	clang-format -i $(FMT_FILES)

fmt-check:
	@bad=; for f in $(FMT_FILES); do \
	    clang-format --dry-run -Werror "$$f" >/dev/null 2>&1 || bad="$$bad $$f"; done; \
	if [ -n "$$bad" ]; then echo "not formatted (run 'make fmt'):$$bad" >&2; exit 1; fi

man: tcpstate
	sh tools/genman.sh tcpstate.1 ./tcpstate

install: tcpstate
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(DATADIR)/bash-completion/completions \
	    $(DESTDIR)$(DATADIR)/zsh/site-functions \
	    $(DESTDIR)$(DATADIR)/fish/vendor_completions.d
	install -m 0755 tcpstate $(DESTDIR)$(BINDIR)/tcpstate
	install -m 0644 tcpstate.1 $(DESTDIR)$(MANDIR)/man1/tcpstate.1
	install -m 0644 completions/tcpstate.bash \
	    $(DESTDIR)$(DATADIR)/bash-completion/completions/tcpstate
	install -m 0644 completions/_tcpstate $(DESTDIR)$(DATADIR)/zsh/site-functions/_tcpstate
	install -m 0644 completions/tcpstate.fish \
	    $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/tcpstate.fish

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/tcpstate $(DESTDIR)$(MANDIR)/man1/tcpstate.1 \
	    $(DESTDIR)$(DATADIR)/bash-completion/completions/tcpstate \
	    $(DESTDIR)$(DATADIR)/zsh/site-functions/_tcpstate \
	    $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/tcpstate.fish

clean:
	rm -rf build tcpstate

FORCE:
.PHONY: all deps deps-check run check check-valgrind fmt fmt-check man install uninstall clean FORCE \
	bench-churn \
	fuzz-replay fuzz-build fuzz-run

# Fuzz targets: replay binaries for `make check`, libFuzzer builds and runs.
include tests/fuzz/build.mk

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d) $(UNIT_OBJS:.o=.d) $(FASTCHECK_OBJS:.o=.d)
