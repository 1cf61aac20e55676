# CleudoCode agent sandbox - one Makefile for everything.
#
#   make            release binaries into build/
#   make run        install missing packages, build, start orchestrator + one sandbox
#   make test       unit tests and end-to-end tests under ASan + UBSan, unit runners
#                   under valgrind (make valgrind), static checks, short fuzzing
#   make test-compose  build and run the Docker deployment on a private engine
#   make bench      benchmarks (one table, build/bench.json); make bench-compare
#   make clean      remove build/
#
# Three build modes share the sources: release (build/, -O2, hardened),
# test (build/test/, -O1, AddressSanitizer + UndefinedBehaviorSanitizer) and
# valgrind (build/vg/, -O1, the unit runners without sanitizers).

CC      ?= cc
PYTHON  ?= /usr/bin/python3
PKGS    := libzmq libczmq msgpack libmicrohttpd sqlite3 jansson libseccomp

WARN    := -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral
INCS    := -Iproto -Icommon
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

REL_CFLAGS  := $(WARN) $(INCS) $(PKG_CFLAGS) -O2 -g -D_FORTIFY_SOURCE=2 \
               -fstack-protector-strong -fPIE
REL_LDFLAGS := -pie -Wl,-z,relro,-z,now
SAN         := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
               -fno-omit-frame-pointer
TEST_CFLAGS := $(WARN) $(INCS) $(PKG_CFLAGS) -O1 -g $(SAN) -DCLEUDO_TEST_BUILD
TEST_LDFLAGS:= $(SAN)
# valgrind cannot run sanitized binaries: its runners are built without.
VG_CFLAGS   := $(WARN) $(INCS) $(PKG_CFLAGS) -O1 -g -DCLEUDO_TEST_BUILD

COMMON_SRC := $(wildcard common/*.c)
PROTO_SRC  := $(wildcard proto/*.c)
ORCH_SRC   := $(wildcard services/orchestrator/*.c)
SBX_SRC    := $(wildcard services/agent-sandbox/*.c)
CLI_SRC    := $(wildcard cli/*.c)
UNIT_SRC   := $(wildcard test/unit/test_*.c)

obj = $(patsubst %.c,$(1)/obj/%.o,$(2))

# The dashboard's files are compiled into the orchestrator (tools/embed.c).
WEB_FILES := $(sort $(wildcard services/orchestrator/web/*))
WEB_GEN   := build/gen/web_assets.c
ORCH_SRC  += $(WEB_GEN)

BINS := orchestrator agent-sandbox cleudo

.PHONY: all run test unit e2e browser static test-compose clean deps test-build install bench bench-compare valgrind
.DEFAULT_GOAL := all

all: $(addprefix build/,$(BINS))

build/tools/embed: tools/embed.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) -O2 -o $@ $<
$(WEB_GEN): build/tools/embed $(WEB_FILES)
	@mkdir -p $(dir $@)
	build/tools/embed $@ $(WEB_FILES)
# The generated file includes web_assets.h from the orchestrator's sources.
build/obj/$(WEB_GEN:.c=.o) build/test/obj/$(WEB_GEN:.c=.o): REL_CFLAGS += -Iservices/orchestrator
build/test/obj/$(WEB_GEN:.c=.o): TEST_CFLAGS += -Iservices/orchestrator

# ---- release -------------------------------------------------------------
build/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(REL_CFLAGS) -MMD -MP -c $< -o $@

build/orchestrator: $(call obj,build,$(COMMON_SRC) $(PROTO_SRC) $(ORCH_SRC))
	$(CC) $(REL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm
build/agent-sandbox: $(call obj,build,$(COMMON_SRC) $(PROTO_SRC) $(SBX_SRC))
	$(CC) $(REL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm
build/cleudo: $(call obj,build,$(COMMON_SRC) $(PROTO_SRC) $(CLI_SRC))
	$(CC) $(REL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

# ---- test (sanitizers) ---------------------------------------------------
build/test/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -MMD -MP -c $< -o $@

build/test/orchestrator: $(call obj,build/test,$(COMMON_SRC) $(PROTO_SRC) $(ORCH_SRC))
	$(CC) $(TEST_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm
build/test/agent-sandbox: $(call obj,build/test,$(COMMON_SRC) $(PROTO_SRC) $(SBX_SRC))
	$(CC) $(TEST_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm
build/test/cleudo: $(call obj,build/test,$(COMMON_SRC) $(PROTO_SRC) $(CLI_SRC))
	$(CC) $(TEST_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm
# One Check runner per component (test/unit/test_NAME.c -> build/test/unit-NAME),
# each linking only the library objects of the component it tests.
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)
UNIT_common  := $(COMMON_SRC) $(PROTO_SRC)
UNIT_proto   := $(COMMON_SRC) $(PROTO_SRC)
UNIT_sandbox := $(COMMON_SRC) $(PROTO_SRC) $(filter-out %/main.c,$(SBX_SRC))
UNIT_orch    := $(COMMON_SRC) $(PROTO_SRC) $(filter-out %/main.c,$(ORCH_SRC))
UNIT_isolation := $(UNIT_sandbox)
UNIT_ns      := $(UNIT_sandbox)
UNIT_dash    := $(UNIT_orch)
UNIT_cli     := $(COMMON_SRC) $(PROTO_SRC) $(filter-out %/main.c,$(CLI_SRC))
UNITS := $(patsubst test/unit/test_%.c,%,$(UNIT_SRC))

.SECONDARY:
.SECONDEXPANSION:
build/test/unit-%: build/test/obj/test/unit/test_%.o build/test/obj/test/unit/testutil.o $$(call obj,build/test,$$(UNIT_$$*))
	$(CC) $(TEST_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CHECK_LIBS) -lm

# Each component's tests include that component's private headers.
build/test/obj/test/unit/test_cli.o: TEST_CFLAGS += -Icli
build/test/obj/test/unit/test_sandbox.o build/test/obj/test/unit/test_isolation.o: TEST_CFLAGS += -Iservices/agent-sandbox
build/test/obj/test/unit/test_orch.o build/test/obj/test/unit/test_dash.o: TEST_CFLAGS += -Iservices/orchestrator

# The syscall probe runs under the seccomp filter: no sanitizers. Order-only, so
# that it is never linked into a runner.
build/test/try-syscall: test/probe/try-syscall.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) -O2 -o $@ $<
build/test/unit-isolation build/test/unit-ns: | build/test/try-syscall

test-build: $(addprefix build/test/,$(BINS)) $(addprefix build/test/unit-,$(UNITS)) build/test/try-syscall

# ---- valgrind (memcheck, no sanitizers) -----------------------------------
# The runners whose code runs in-process. The worker's runners are left out:
# its child code clones with CLONE_VM on a stack of its own, which memcheck
# does not follow (those paths run under ASan+LSan in `make unit`).
VG_UNITS := proto common orch dash cli
build/vg/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(VG_CFLAGS) -MMD -MP -c $< -o $@
build/vg/obj/$(WEB_GEN:.c=.o) build/vg/obj/test/unit/test_orch.o build/vg/obj/test/unit/test_dash.o: VG_CFLAGS += -Iservices/orchestrator
build/vg/obj/test/unit/test_cli.o: VG_CFLAGS += -Icli
build/vg/unit-%: build/vg/obj/test/unit/test_%.o build/vg/obj/test/unit/testutil.o $$(call obj,build/vg,$$(UNIT_$$*))
	$(CC) -o $@ $^ $(PKG_LIBS) $(CHECK_LIBS) -lm
valgrind: $(addprefix build/vg/unit-,$(VG_UNITS))
	@set -e; for u in $(VG_UNITS); do echo "== valgrind unit-$$u"; \
	  CK_FORK=no valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
	    --show-leak-kinds=definite,indirect --error-exitcode=1 build/vg/unit-$$u; done

-include $(shell find build -name '*.d' 2>/dev/null)

# ---- entry points --------------------------------------------------------
deps:
	@scripts/install-deps.sh --if-missing

run: deps
	@$(MAKE) --no-print-directory all
	@scripts/run-local.sh

test: deps
	@$(MAKE) --no-print-directory test-build fuzz-build
	@$(MAKE) --no-print-directory unit valgrind e2e browser static fuzz-test

unit: $(addprefix build/test/unit-,$(UNITS))
	@set -e; for u in $(UNITS); do echo "== unit-$$u"; build/test/unit-$$u; done

E2E_ARGS ?=
e2e: $(addprefix build/test/,$(BINS)) build/test/try-syscall
	CLEUDO_BIN_DIR=$(CURDIR)/build/test $(PYTHON) -m pytest -q -p no:cacheprovider $(E2E_ARGS) test/e2e

# The dashboard in a real browser (Debian's chromium, playwright-core from npm);
# screenshots in build/test-artifacts/dashboard/.
browser: $(addprefix build/test/,$(BINS))
	CLEUDO_BIN_DIR=$(CURDIR)/build/test test/browser/run.sh

# Compose files, Dockerfiles and shell scripts, without a Docker engine.
static:
	test/static/check_static.sh

# The real thing: a private Docker engine, both images, the stack scaled to two
# sandboxes, tasks through the published ports (see test/compose/).
test-compose: all
	test/compose/test_compose.sh

# ---- fuzzing (test/fuzz/; clang + libFuzzer) ------------------------------
# make fuzz [FUZZ_SECONDS=N] [FUZZ_TARGETS="decode path"]   each target N s
# make fuzz-test      each target 30 s (part of make test)
# make fuzz-regress   replay test/fuzz/regressions/ only
# Objects are instrumented (fuzzer-no-link) into build/fuzz/obj/; only the
# link adds libFuzzer's main. See the top of test/fuzz/run.sh.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= decode task_json path
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
                -fno-omit-frame-pointer
FUZZ_CFLAGS  := $(WARN) $(INCS) $(PKG_CFLAGS) -O1 -g $(FUZZ_SAN) \
                -fsanitize=fuzzer-no-link -DCLEUDO_FUZZ_BUILD
FUZZ_LDFLAGS := $(FUZZ_SAN) -fsanitize=fuzzer
FUZZ_SRC_decode    := $(COMMON_SRC) $(PROTO_SRC)
FUZZ_SRC_path      := $(PROTO_SRC) services/agent-sandbox/workspace.c
FUZZ_SRC_task_json := $(COMMON_SRC) $(PROTO_SRC) $(filter-out %/main.c,$(ORCH_SRC))
FUZZ_BINS := $(addprefix build/fuzz/fuzz_,decode task_json path)

build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@
build/fuzz/obj/$(WEB_GEN:.c=.o): FUZZ_CFLAGS += -Iservices/orchestrator
# clang only: store.c:157-158 joins two SQL statements of one migration by
# literal concatenation on purpose; -Wstring-concatenation takes it for a
# missing comma. Off for that file alone.
build/fuzz/obj/services/orchestrator/store.o: FUZZ_CFLAGS += -Wno-string-concatenation
build/fuzz/obj/test/fuzz/fuzz_path.o: FUZZ_CFLAGS += -Iservices/agent-sandbox
build/fuzz/obj/test/fuzz/fuzz_task_json.o: FUZZ_CFLAGS += -Iservices/orchestrator
build/fuzz/fuzz_%: build/fuzz/obj/test/fuzz/fuzz_%.o $$(call obj,build/fuzz,$$(FUZZ_SRC_$$*))
	$(FUZZ_CC) $(FUZZ_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

.PHONY: fuzz fuzz-build fuzz-test fuzz-regress
fuzz-build: $(FUZZ_BINS)
fuzz: fuzz-build
	test/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)
fuzz-test: fuzz-build
	test/fuzz/run.sh 30 $(FUZZ_TARGETS)
fuzz-regress: fuzz-build
	test/fuzz/run.sh 0 $(FUZZ_TARGETS)

# ---- benchmarks (bench/; never part of `make test`) -----------------------
# make bench [BENCH_QUICK=1] [BENCH_TASKS=N]; make bench-compare
# Optional: the Docker build context carries only what `make all` needs.
-include bench/bench.mk

bench: deps
	@$(MAKE) --no-print-directory all bench-build
	@$(PYTHON) bench/bench.py

bench-compare:
	@$(PYTHON) bench/compare.py

PREFIX ?= /usr/local
install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(addprefix build/,$(BINS)) $(DESTDIR)$(PREFIX)/bin/
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 0644 docs/cleudo.1 $(DESTDIR)$(PREFIX)/share/man/man1/cleudo.1
	install -m 0644 scripts/cleudo-completion.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/cleudo

clean:
	rm -rf build
