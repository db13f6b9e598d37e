# berth — a boring build. Override CC, CFLAGS, BUILD, PREFIX, DESTDIR as usual.
#
#   make run        install what is missing, build, serve the current directory
#   make            build/berth, build/libberth.a, build/libberth.so, build/berth.pc,
#                   build/examples/*
#   make test       unit tests (Criterion) + integration tests (pytest) against build/berth
#   make asan       the same tests on an ASan+UBSan build in build-asan/
#   make asan-clang the same built with clang, in build-asan-clang/
#   make test-poll  the event-loop tests on the poll(2) backend (-DLOOP_POLL)
#   make fuzz       libFuzzer targets in build-fuzz/, each smoke-run for FUZZ_SECONDS
#   make install    PREFIX=/usr/local DESTDIR= (berth, both libraries, berth.h, berth.1,
#                   lib/pkgconfig/berth.pc);  make uninstall  removes them

CC      ?= cc
CFLAGS  ?= -O2 -g
# Link-time optimisation of the berth command, with gcc: a request crosses
# parse, conn, exchange, static and fcache, and inlining across them takes
# ~13 % of the instructions off a pipelined static hit (callgrind,
# bench/README.md).  Only the command: its objects are built apart, in
# $(BUILD)/lto, so the libraries installed for embedders hold plain code.
# LTO= turns it off (the sanitizer builds do).
LTO     ?= $(if $(shell $(CC) --version 2>/dev/null | grep 'Free Software Foundation'),-flto=auto)
BUILD   ?= build
PREFIX  ?= /usr/local
PYTHON  ?= /usr/bin/python3
WERROR  ?=
FUZZ_SECONDS ?= 20

WARN     = -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes $(WERROR)
CPPFLAGS += -D_GNU_SOURCE -Iinclude -Isrc -MMD -MP
LDLIBS  += -ljansson -lssl -lcrypto -lnghttp2 -lpthread
LDLIBS  += -lz -lbrotlienc -lbrotlidec -lzstd

LIB_SRC  := $(sort $(shell find src -name '*.c'))
CLI_SRC  := $(sort $(wildcard cli/*.c))
EX_SRC   := $(sort $(wildcard examples/*.c))
UT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
FZ_SRC   := $(sort $(wildcard fuzz/fuzz_*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
PIC_OBJ  := $(LIB_SRC:%.c=$(BUILD)/pic/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
LTO_OBJ  := $(LIB_SRC:%.c=$(BUILD)/lto/%.o) $(CLI_SRC:%.c=$(BUILD)/lto/%.o)
LIB      := $(BUILD)/libberth.a
# the shared library: libberth.so -> libberth.so.2 (the SONAME; 2 since struct berth_opts grew in 0.3) -> libberth.so.X.Y.Z
VERSION  := $(shell sed -n 's/.*BERTH_VERSION "\(.*\)".*/\1/p' cli/cmd.h)
SONAME   := libberth.so.2
SO_REAL  := $(BUILD)/libberth.so.$(VERSION)
SO       := $(BUILD)/libberth.so
PC       := $(BUILD)/berth.pc
BIN      := $(BUILD)/berth
EXAMPLES := $(EX_SRC:examples/%.c=$(BUILD)/examples/%)
UTESTS   := $(UT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

all: $(BIN) $(EXAMPLES) $(SO) $(PC)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -c -o $@ $<

$(BUILD)/lto/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) $(LTO) -c -o $@ $<

# position-independent copies for the shared library only, so the static
# library, the command and the sanitizer builds keep their own objects
$(BUILD)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -fPIC -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

# exports only berth_* (libberth.map); records its jansson/pthread needs
$(SO_REAL): $(PIC_OBJ) libberth.map
	$(CC) $(CFLAGS) $(LDFLAGS) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=libberth.map \
	    -o $@ $(PIC_OBJ) $(LDLIBS)

$(SO): $(SO_REAL)
	ln -sf libberth.so.$(VERSION) $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $@

# rewritten only when PREFIX or the version changed
$(PC): berth.pc.in FORCE
	@mkdir -p $(dir $@)
	@sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' berth.pc.in >$@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

ifneq ($(strip $(LTO)),)
$(BIN): $(LTO_OBJ)
	$(CC) $(WARN) $(CFLAGS) $(LTO) $(LDFLAGS) -o $@ $(LTO_OBJ) $(LDLIBS)
else
$(BIN): $(CLI_OBJ) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJ) $(LIB) $(LDLIBS)
endif

$(BUILD)/examples/%: examples/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# unit tests #include nothing private beyond src/ headers and link the library
$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(WARN) -Wno-pedantic $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS) -lcriterion

deps:
	@sh scripts/deps.sh build

test-deps:
	@sh scripts/deps.sh test

run: deps
	@$(MAKE) --no-print-directory all
	$(BIN) serve $(ARGS)

unit: $(UTESTS)
	@for t in $(UTESTS); do LANG=C $$t --jobs 2 || exit 1; done

integration: all
	BERTH=$(BUILD)/berth BERTH_BUILD=$(BUILD) $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

test: test-deps
	@$(MAKE) --no-print-directory all-tests
	@BUILD=$(BUILD) PYTHON=$(PYTHON) sh tests/run-all.sh $(UTESTS)

all-tests: all $(UTESTS)

# the poll(2) backend of the event loop, through the tests that drive loops
POLL_TESTS = tests/integration/test_echo.py tests/integration/test_app.py
test-poll: test-deps
	@$(MAKE) --no-print-directory BUILD=build-poll CFLAGS="-O2 -g -DLOOP_POLL" LTO= all build-poll/tests/test_loop build-poll/tests/test_api
	@BUILD=build-poll PYTHON=$(PYTHON) PYTEST_ARGS="$(POLL_TESTS)" sh tests/run-all.sh build-poll/tests/test_loop build-poll/tests/test_api

ASAN_FLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
asan:
	$(MAKE) BUILD=build-asan CFLAGS="$(ASAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" LTO= test
# the same with clang, whose UBSan sees more (arithmetic on a null pointer);
# ASAN_CLANG_PYTEST picks the integration tests (default: all of them)
ASAN_CLANG_PYTEST ?= tests/integration
asan-clang:
	$(MAKE) BUILD=build-asan-clang CC=clang CFLAGS="$(ASAN_FLAGS)" LTO= \
		LDFLAGS="-fsanitize=address,undefined" PYTEST_ARGS="$(ASAN_CLANG_PYTEST)" test

FZ_CC    ?= clang
FZ_SAN    = -fsanitize=address,undefined -fno-sanitize-recover=undefined
FZ_FLAGS  = -g -O1 -D_GNU_SOURCE -Iinclude -Isrc $(WARN) $(FZ_SAN)
FUZZERS  := $(FZ_SRC:fuzz/%.c=build-fuzz/%)
# the library is compiled once, instrumented for coverage, and linked into each target
FZ_OBJ   := $(LIB_SRC:%.c=build-fuzz/obj/%.o)
build-fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FZ_CC) $(FZ_FLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<
build-fuzz/libberth.a: $(FZ_OBJ)
	rm -f $@ && $(AR) rcs $@ $^
# fuzz/harness*.c: what several targets share (not targets: no fuzz_ prefix);
# an archive, so that each target links only the objects it calls
build-fuzz/libfz.a: build-fuzz/obj/fuzz/harness.o build-fuzz/obj/fuzz/harness_net.o
	rm -f $@ && $(AR) rcs $@ $^
build-fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/harness.h build-fuzz/libfz.a build-fuzz/libberth.a
	$(FZ_CC) $(FZ_FLAGS) -fsanitize=fuzzer -o $@ $< build-fuzz/libfz.a build-fuzz/libberth.a -ljansson -lssl -lcrypto -lnghttp2 -lpthread -lz -lbrotlienc -lbrotlidec -lzstd
fuzz-deps:
	@sh scripts/deps.sh fuzz

fuzz: fuzz-deps
	@$(MAKE) --no-print-directory -j2 $(FUZZERS)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) sh scripts/fuzz.sh $(FUZZERS)

LIBDIR = $(DESTDIR)$(PREFIX)/lib
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(LIBDIR)/pkgconfig $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/berth
	install -m 644 $(LIB) $(LIBDIR)/libberth.a
	install -m 755 $(SO_REAL) $(LIBDIR)/libberth.so.$(VERSION)
	ln -sf libberth.so.$(VERSION) $(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(LIBDIR)/libberth.so
	install -m 644 $(PC) $(LIBDIR)/pkgconfig/berth.pc
	install -m 644 include/berth.h $(DESTDIR)$(PREFIX)/include/berth.h
	install -m 644 man/berth.1 $(DESTDIR)$(PREFIX)/share/man/man1/berth.1

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/berth $(LIBDIR)/libberth.a $(LIBDIR)/libberth.so \
	    $(LIBDIR)/$(SONAME) $(LIBDIR)/libberth.so.$(VERSION) $(LIBDIR)/pkgconfig/berth.pc \
	    $(DESTDIR)$(PREFIX)/include/berth.h $(DESTDIR)$(PREFIX)/share/man/man1/berth.1

format:
	clang-format -i $$(find src cli include tests/unit examples fuzz -name '*.[ch]')

clean:
	rm -rf build build-asan build-asan-clang build-fuzz


.PHONY: test-poll
.PHONY: all all-tests deps test-deps fuzz-deps run unit integration test asan asan-clang fuzz install uninstall format clean FORCE
.SECONDARY:
-include $(shell find $(BUILD)/obj $(BUILD)/pic $(BUILD)/lto -name '*.d' 2>/dev/null)
-include $(shell find build-fuzz/obj -name '*.d' 2>/dev/null)
