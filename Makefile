# imastore — see README.md. `make V=1` shows the commands.
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man

CC ?= gcc
CLANG ?= clang
BPFTOOL ?= bpftool
OUT ?= build

# Kernels, packages and guest builds are cached outside the checkout.
export IMASTORE_CACHE ?= /var/cache/imastore

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

PKGS := libcrypto tss2-esys tss2-tctildr tss2-rc libbpf zlib fuse3
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lisal -lz -lpthread

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wformat=2 -Wno-format-nonliteral
BASE_CFLAGS := -std=gnu11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Iuser/lib -Iuser/view -Iinclude \
	-I$(OUT) $(PKG_CFLAGS)
CFLAGS ?= -O2 -g
ALL_CFLAGS = $(BASE_CFLAGS) $(WARN) $(CFLAGS)

LIB_SRCS := $(sort $(wildcard user/lib/*.c))
# the view (docs/view.md): libfuse3, linked by imastore, imastored, the tests
VIEW_SRCS := $(sort $(wildcard user/view/*.c))
CLI_SRCS := $(sort $(wildcard user/imastore.c user/cli.c user/cmd_*.c))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))

# the daemon's code, libimastored.a: imastored (main: user/imastored.c) and
# the unit tests link it
DAEMON_SRCS := $(sort $(wildcard user/daemon/*.c))
SYSTEMDUNITDIR ?= /lib/systemd/system

LIB_OBJS := $(patsubst %.c,$(OUT)/%.o,$(LIB_SRCS))
VIEW_OBJS := $(patsubst %.c,$(OUT)/%.o,$(VIEW_SRCS))
DAEMON_OBJS := $(patsubst %.c,$(OUT)/%.o,$(DAEMON_SRCS))
CLI_OBJS := $(patsubst %.c,$(OUT)/%.o,$(CLI_SRCS))
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(UNIT_SRCS))

BPF_SRCS := $(sort $(wildcard bpf/*.bpf.c))
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(OUT)/bpf/%.bpf.o,$(BPF_SRCS))
BPF_SKELS := $(patsubst bpf/%.bpf.c,$(OUT)/%.skel.h,$(BPF_SRCS))
# vmlinux.h is generated (and 7.2 embeds anonymous structs, -fms-extensions)
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_x86 -isystem vmlinux -Iinclude \
	-fms-extensions -Wno-microsoft-anon-tag -Wall -Werror

.PHONY: all deps test unit-test asan-test valgrind-test cli-test guest-test \
	fuzz fuzz-brief bench demo install clean kernels fixtures vmlinux-h man

all: $(OUT)/imastore $(OUT)/imastored $(UNIT_BINS) $(OUT)/tools/mklist $(OUT)/tools/storebench \
	$(OUT)/tools/kl_reader man

$(OUT)/%.o: %.c $(BPF_SKELS) $(wildcard user/lib/*.h include/*.h)
	@mkdir -p $(dir $@)
	$(call msg,CC,$@)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(OUT)/libimastore.a: $(LIB_OBJS)
	$(call msg,AR,$@)rm -f $@ && ar rcs $@ $^

$(OUT)/imastore: $(CLI_OBJS) $(OUT)/libimaview.a $(OUT)/libimastore.a
	$(call msg,LINK,$@)$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

$(VIEW_OBJS): $(wildcard user/view/*.h)

$(OUT)/libimaview.a: $(VIEW_OBJS)
	$(call msg,AR,$@)rm -f $@ && ar rcs $@ $^

$(DAEMON_OBJS) $(OUT)/user/imastored.o: $(wildcard user/daemon/*.h)

$(OUT)/libimastored.a: $(DAEMON_OBJS)
	$(call msg,AR,$@)rm -f $@ && ar rcs $@ $^

$(OUT)/imastored: $(OUT)/user/imastored.o $(OUT)/libimastored.a $(OUT)/libimaview.a $(OUT)/libimastore.a
	$(call msg,LINK,$@)$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

# Every unit test links the daemon's library, then the one it uses (only
# the members a test needs are taken); daemon headers: "daemon/drain.h".
$(OUT)/tests/%: tests/unit/%.c $(OUT)/libimastored.a $(OUT)/libimaview.a $(OUT)/libimastore.a \
		$(wildcard tests/unit/*.h user/daemon/*.h user/view/*.h)
	@mkdir -p $(dir $@)
	$(call msg,CC,$@)$(CC) $(ALL_CFLAGS) -Iuser -Itests/unit -o $@ $< \
		$(OUT)/libimastored.a $(OUT)/libimaview.a $(OUT)/libimastore.a $(PKG_LIBS) -lcmocka

# BPF: clang -> .bpf.o -> bpftool skeleton (libbpf-tools' chain).
$(OUT)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard include/*.h) vmlinux/vmlinux.h
	@mkdir -p $(dir $@)
	$(call msg,BPF,$@)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUT)/%.skel.h: $(OUT)/bpf/%.bpf.o
	$(call msg,GEN-SKEL,$@)$(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@

man: $(OUT)/man/imastore.1 $(OUT)/man/imastored.8

$(OUT)/man/%.1: docs/%.1.scd
	@mkdir -p $(dir $@)
	$(call msg,SCDOC,$@)scdoc < $< > $@

$(OUT)/man/%.8: docs/%.8.scd
	@mkdir -p $(dir $@)
	$(call msg,SCDOC,$@)scdoc < $< > $@

# Every build and test dependency, from Debian's archive. Idempotent; as root.
DEB_PKGS := build-essential pkg-config clang llvm bpftool libbpf-dev libelf-dev \
	zlib1g-dev libssl-dev openssl libtss2-dev libtss2-tcti-swtpm0 libcmocka-dev \
	libfuse3-dev fuse3 swtpm swtpm-tools qemu-system-x86 busybox-static ima-evm-utils \
	libclang-rt-14-dev scdoc tpm2-tools keyutils cpio gzip xz-utils zstd valgrind \
	e2fsprogs xfsprogs btrfs-progs attr python3 ca-certificates time libisal-dev flex bison bc
deps:
	@tests/deps.sh $(DEB_PKGS)

test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/run.sh

unit-test: all
	$(Q)tests/run.sh unit

# The same unit tests built with ASan and UBSan (separate output folder).
asan-test:
	$(Q)$(MAKE) --no-print-directory OUT=build-asan CC=clang \
		CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		build-asan/imastore build-asan/imastored $(patsubst $(OUT)/%,build-asan/%,$(UNIT_BINS))

FUZZ_FLAGS := -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
$(OUT)/fuzz/%: tests/fuzz/%.c $(LIB_SRCS) $(wildcard user/lib/*.h)
	@mkdir -p $(dir $@)
	$(call msg,FUZZ,$@)$(CLANG) $(BASE_CFLAGS) $(FUZZ_FLAGS) -o $@ $< $(LIB_SRCS) $(PKG_LIBS)

FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,$(OUT)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 600
fuzz: $(FUZZ_TARGETS)
	$(Q)tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-brief: $(FUZZ_TARGETS)
	$(Q)tests/fuzz/run.sh brief $(FUZZ_TARGETS)

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/bench/run.sh

# Kernels for the real-kernel tests (downloaded/built once, cached).
kernels:
	$(Q)tests/guest/kernels.sh all

fixtures: all kernels
	$(Q)tests/guest/capture-fixtures.sh

vmlinux-h: kernels
	$(Q)tests/guest/gen-vmlinux-h.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/guest/demo.sh

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(SYSTEMDUNITDIR)
	install -m 0755 $(OUT)/imastore $(DESTDIR)$(BINDIR)/imastore
	install -m 0755 $(OUT)/imastored $(DESTDIR)$(SBINDIR)/imastored
	sed 's|/usr/sbin/imastored|$(SBINDIR)/imastored|' systemd/imastored.service \
		>$(DESTDIR)$(SYSTEMDUNITDIR)/imastored.service
	install -m 0644 $(OUT)/man/imastore.1 $(DESTDIR)$(MANDIR)/man1/imastore.1
	install -m 0644 $(OUT)/man/imastored.8 $(DESTDIR)$(MANDIR)/man8/imastored.8

clean:
	rm -rf build build-asan

.SECONDARY:

# Test tools linked with the library (synthetic lists for benchmarks).
$(OUT)/tools/%: tests/tools/%.c $(OUT)/libimastore.a
	@mkdir -p $(dir $@)
	$(call msg,CC,$@)$(CC) $(ALL_CFLAGS) -o $@ $< $(OUT)/libimastore.a $(PKG_LIBS)
