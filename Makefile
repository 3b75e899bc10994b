# truemeter — one build for everything.
#   make            build BPF objects, skeletons, protobuf code and programs
#   make check      unit + end-to-end tests, then the sanitizer build's tests
#   make demo       the whole pipeline on the embedded default (root)
#   make bench      benchmarks; prints "BENCH name value unit" lines
#   make install    PREFIX=/usr/local DESTDIR=
#   make deps       install the Debian packages everything needs
#   make vmlinux    regenerate vmlinux.h from the running kernel's BTF
# Out-of-tree: BUILD=build (default).  SAN=1 builds with ASan+UBSan.
# Quiet unless V=1.

BUILD   ?= build
PREFIX  ?= /usr/local
DESTDIR ?=
SAN     ?= 0

CC      ?= cc
CLANG   ?= clang
BPFTOOL ?= bpftool
PROTOC_C ?= protoc-c

NPROC := $(shell nproc 2>/dev/null || echo 2)
ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

ifeq ($(V),1)
Q =
msg = @true
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

PKGS := libbpf libelf zlib libprotobuf-c libsodium sqlite3 json-c inih \
	libmicrohttpd libcurl libcap libsystemd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter \
	-Wformat=2 -Wmissing-prototypes -Wno-missing-field-initializers \
	-fno-strict-aliasing
CPPFLAGS += -I. -Icommon -Iagent -Icollector -I$(BUILD) -I$(BUILD)/proto $(PKG_CFLAGS) -MMD -MP
LDLIBS  += $(PKG_LIBS) -lnng -lmbedtls -lmbedx509 -lmbedcrypto -lcsv -lpthread -lm

ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

# BPF_DEFS: -D options for benchmark builds of the programs (tests/bench/http_floor.sh)
BPF_DEFS   ?=
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Wno-unused-function \
	-I. -Ibpf -I$(BUILD)/bpf $(BPF_DEFS)

# ---- sources ---------------------------------------------------------------
BPF_SRCS   := $(wildcard bpf/*.bpf.c)
BPF_OBJS   := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/bpf/%.bpf.o)
BPF_SKELS  := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/bpf/%.skel.h)

PROTO_C    := $(BUILD)/proto/truemeter.pb-c.c
PROTO_H    := $(BUILD)/proto/truemeter.pb-c.h

# Programs come from *_main.c; every other .c in a directory is library code.
COMMON_SRCS    := $(wildcard common/*.c)
AGENT_SRCS     := $(filter-out %_main.c,$(wildcard agent/*.c))
COLLECTOR_SRCS := $(filter-out %_main.c,$(wildcard collector/*.c))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

COMMON_OBJS    := $(call obj,$(COMMON_SRCS)) $(BUILD)/obj/proto/truemeter.pb-c.o
AGENT_OBJS     := $(call obj,$(AGENT_SRCS))
COLLECTOR_OBJS := $(call obj,$(COLLECTOR_SRCS))

LIBCOMMON    := $(BUILD)/libtmcommon.a
LIBAGENT     := $(BUILD)/libtmagent.a
LIBCOLLECTOR := $(BUILD)/libtmcollector.a

PROGS := $(BUILD)/truemeter-agent $(BUILD)/truemeter-collector $(BUILD)/truemeter

TEST_SRCS  := $(wildcard tests/unit/test_*.c)
TEST_BINS  := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRCS  := $(wildcard tests/tools/*.c)
TOOL_BINS  := $(TOOL_SRCS:tests/tools/%.c=$(BUILD)/tests/%)
BENCH_SRCS := $(wildcard tests/bench/*.c)
BENCH_BINS := $(BENCH_SRCS:tests/bench/%.c=$(BUILD)/tests/%)

.PHONY: all deps check check-fast demo bench fuzz install vmlinux clean tests
.DEFAULT_GOAL := all
.SECONDARY:

all: $(PROGS)

deps:
	$(Q)sh scripts/deps.sh

# ---- BPF ---------------------------------------------------------------------
$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c vmlinux.h $(wildcard bpf/*.h) | $(BUILD)/bpf
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp
	$(Q)llvm-strip -g $@.tmp 2>/dev/null || true
	$(Q)mv $@.tmp $@

$(BUILD)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h

# ---- protobuf ----------------------------------------------------------------
$(PROTO_C) $(PROTO_H) &: proto/truemeter.proto | $(BUILD)/proto
	$(call msg,PROTOC,$<)
	$(Q)$(PROTOC_C) --proto_path=proto --c_out=$(BUILD)/proto $<

# ---- C -------------------------------------------------------------------
# Every object waits for the generated headers (order-only).
$(BUILD)/obj/%.o: %.c | $(PROTO_H) $(BPF_SKELS)
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/proto/truemeter.pb-c.o: $(PROTO_C)
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes -c $< -o $@

$(LIBCOMMON): $(COMMON_OBJS)
$(LIBAGENT): $(AGENT_OBJS)
$(LIBCOLLECTOR): $(COLLECTOR_OBJS)
$(BUILD)/%.a:
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

LIBS := $(LIBCOLLECTOR) $(LIBAGENT) $(LIBCOMMON)

$(BUILD)/truemeter-agent: $(BUILD)/obj/agent/agent_main.o $(LIBAGENT) $(LIBCOMMON)
$(BUILD)/truemeter-collector: $(BUILD)/obj/collector/collector_main.o $(LIBCOLLECTOR) $(LIBCOMMON)
$(BUILD)/truemeter: $(BUILD)/obj/collector/cli_main.o $(LIBCOLLECTOR) $(LIBCOMMON)
$(PROGS):
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $(filter %.o,$^) $(filter %.a,$^) $(LDLIBS) -o $@

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIBS)
	$(call msg,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) $< $(LIBS) $(LIBS) $(LDLIBS) -lcmocka -o $@

$(BUILD)/tests/%: $(BUILD)/obj/tests/tools/%.o $(LIBS)
	$(call msg,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) $< $(LIBS) $(LIBS) $(LDLIBS) -o $@

$(BUILD)/tests/%: $(BUILD)/obj/tests/bench/%.o $(LIBS)
	$(call msg,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) $< $(LIBS) $(LIBS) $(LDLIBS) -o $@

$(BUILD)/bpf $(BUILD)/proto:
	@mkdir -p $@

tests: $(PROGS) $(TEST_BINS) $(TOOL_BINS) $(BENCH_BINS)

# ---- fuzzing (clang's libFuzzer, ASan/UBSan; not part of check) -------------
# Each target compiles the sources it tests with coverage, and takes the rest
# from the normal build's libraries.
FUZZ_NAMES   := pricing webhook import audit receiver conf
FUZZ_pricing := collector/pricing.c collector/money.c
FUZZ_webhook := collector/stripe.c collector/razorpay.c collector/billing.c collector/jsonget.c
FUZZ_import  := collector/billing_import.c collector/stripe.c collector/billing.c \
		collector/jsonget.c
FUZZ_audit   := collector/audit.c common/report.c
FUZZ_receiver := collector/receiver.c collector/store_sqlite.c common/report.c
FUZZ_conf    := common/conf.c agent/agent_conf.c agent/meter_conf.c \
		collector/collector_conf.c collector/judge_conf.c
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_SECS    ?= 60
FUZZ_BINS    := $(FUZZ_NAMES:%=$(BUILD)/fuzz/fuzz_%)

define fuzz_rule
$(BUILD)/fuzz/fuzz_$(1): tests/fuzz/fuzz_$(1).c tests/fuzz/fuzz_util.h $(FUZZ_$(1)) $(LIBS)
	$$(call msg,FUZZ,$$@)
	@mkdir -p $$(dir $$@)
	$$(Q)$$(CLANG) $$(FUZZ_CFLAGS) $$(filter-out -MMD -MP,$$(CPPFLAGS)) $$(filter %.c,$$^) \
		$$(LIBS) $$(LIBS) $$(LDLIBS) -o $$@
endef
$(foreach n,$(FUZZ_NAMES),$(eval $(call fuzz_rule,$(n))))

fuzz:
	$(Q)DEPS_EXTRA=libclang-rt-14-dev sh scripts/deps.sh
	$(Q)$(MAKE) --no-print-directory -j$(NPROC) tests $(FUZZ_BINS)
	$(Q)sh tests/fuzz/run.sh $(BUILD) $(FUZZ_SECS)

# ---- running -----------------------------------------------------------------
# check: the normal build's whole suite, then the sanitizer build's unit and
# bad-input tests.  tests/run.sh prints the closing "N passed, N failed".
check: deps
	$(Q)$(MAKE) --no-print-directory -j$(NPROC) tests
	$(Q)$(MAKE) --no-print-directory -j$(NPROC) BUILD=build-san SAN=1 tests
	$(Q)sh tests/run.sh --build $(BUILD) --san-build build-san

check-fast: tests
	$(Q)sh tests/run.sh --build $(BUILD)

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)sh scripts/demo.sh $(BUILD)

bench: deps
	$(Q)$(MAKE) --no-print-directory -j$(NPROC) tests
	$(Q)sh tests/bench/run.sh $(BUILD)

install: all
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/truemeter/examples
	$(Q)install -m 0755 $(PROGS) $(DESTDIR)$(PREFIX)/bin/
	$(Q)cp -r examples/. $(DESTDIR)$(PREFIX)/share/truemeter/examples/
	$(Q)install -d $(DESTDIR)$(PREFIX)/lib/systemd/system $(DESTDIR)$(PREFIX)/lib/sysusers.d
	$(Q)for u in truemeter-agent truemeter-collector; do \
		sed 's|/usr/local/bin/|$(PREFIX)/bin/|g' examples/systemd/$$u.service \
			> $(DESTDIR)$(PREFIX)/lib/systemd/system/$$u.service || exit 1; \
	done
	$(Q)install -m 0644 examples/systemd/truemeter.sysusers \
		$(DESTDIR)$(PREFIX)/lib/sysusers.d/truemeter.conf

clean:
	$(Q)rm -rf build build-san

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
