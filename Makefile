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
.DEFAULT_GOAL := all

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
BASE_CFLAGS := -std=gnu11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Iinclude $(PKG_CFLAGS)
CFLAGS ?= -O2 -g
ALL_CFLAGS = $(BASE_CFLAGS) $(WARN) $(CFLAGS)

BPF_SRCS := $(sort $(wildcard bpf/*.bpf.c))
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(OUT)/bpf/%.bpf.o,$(BPF_SRCS))
BPF_SKELS := $(patsubst bpf/%.bpf.c,$(OUT)/%.skel.h,$(BPF_SRCS))
# vmlinux.h is generated (and 7.2 embeds anonymous structs, -fms-extensions)
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_x86 -isystem vmlinux -Iinclude \
	-fms-extensions -Wno-microsoft-anon-tag -Wall -Werror

# The folders of user/ (docs/architecture.md). Each builds to its own static
# library, OUT/lib<folder>.a, and its objects are compiled with -I for itself
# and the folders it may use only (DEPS_x, upper first: that is also the link
# order), so an #include that runs back up does not compile; `make layers`
# checks the #include lines as well. A new folder: a DEPS_ line and LAYERS.
DEPS_list :=
DEPS_pcr := list
DEPS_store := pcr list
DEPS_trim := store pcr list
DEPS_print := list
DEPS_view := trim store pcr print list
DEPS_daemon := view trim store pcr print list
DEPS_cli := view trim store pcr print list
LAYERS := list pcr store trim print view daemon cli
# the libraries below the programs (the fuzz target, the test tools)
LIB_LAYERS := trim store pcr print list
# the daemon's library keeps its name: build/libimastored.a
LIBNAME_daemon := imastored
layer_lib = $(OUT)/lib$(or $(LIBNAME_$(1)),$(1)).a
LAYER_INC = $(foreach d,$(1) $(DEPS_$(1)),-Iuser/$(d))
LAYER_LIBS = $(foreach d,$(1) $(DEPS_$(1)),$(call layer_lib,$(d)))

define layer
$(1)_SRCS := $$(sort $$(wildcard user/$(1)/*.c))
$(1)_OBJS := $$(patsubst %.c,$$(OUT)/%.o,$$(filter-out $$(MAIN_$(1)),$$($(1)_SRCS)))
$$(OUT)/user/$(1)/%.o: LAYER_CFLAGS := $$(call LAYER_INC,$(1)) $$(EXTRA_INC_$(1))
$$(call layer_lib,$(1)): $$($(1)_OBJS)
	$$(call msg,AR,$$@)rm -f $$@ && ar rcs $$@ $$^
endef
# main() is in no library: imastored and imastore link it with their folder's
MAIN_daemon := user/daemon/imastored.c
MAIN_cli := user/cli/imastore.c
# the BPF skeleton (OUT/imacapture.skel.h) is the daemon's
EXTRA_INC_daemon := -I$(OUT)
$(foreach l,$(LAYERS),$(eval $(call layer,$(l))))
$(daemon_OBJS) $(OUT)/user/daemon/imastored.o: $(BPF_SKELS)

empty :=
space := $(empty) $(empty)
comma := ,
LIB_SRCS := $(foreach l,$(LIB_LAYERS),$($(l)_SRCS))
LIB_INC := $(foreach l,$(LIB_LAYERS),-Iuser/$(l))
LIB_LIBS := $(foreach l,$(LIB_LAYERS),$(call layer_lib,$(l)))
HDRS := $(wildcard user/*/*.h include/*.h)
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(UNIT_SRCS))
SYSTEMDUNITDIR ?= /lib/systemd/system

.PHONY: all deps test soak unit-test asan-test valgrind-test cli-test guest-test \
	fuzz fuzz-brief bench demo install clean kernels fixtures vmlinux-h man layers

all: layers $(OUT)/imastore $(OUT)/imastored $(UNIT_BINS) $(OUT)/tools/mklist $(OUT)/tools/storebench \
	$(OUT)/tools/kl_reader man

$(OUT)/user/%.o: user/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(call msg,CC,$@)$(CC) $(ALL_CFLAGS) $(LAYER_CFLAGS) -c $< -o $@

# The second line of defence: every #include "x.h" of a folder names a
# header of that folder, of one it may use, or of include/; and no folder's
# library needs a symbol of a library above it.
layers: $(foreach l,$(LAYERS),$(call layer_lib,$(l)))
	$(Q)LIBS="$(subst $(space),$(comma),$(foreach l,$(LAYERS),$(l)=$(call layer_lib,$(l))))" \
		tests/check-layers.sh $(foreach l,$(LAYERS),$(l):$(subst $(space),+,$(strip $(DEPS_$(l)))))

$(OUT)/imastore: $(OUT)/user/cli/imastore.o $(call LAYER_LIBS,cli)
	$(call msg,LINK,$@)$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

# the daemon's code, libimastored.a: imastored (main: user/daemon/imastored.c)
# and the unit tests link it
$(OUT)/imastored: $(OUT)/user/daemon/imastored.o $(call LAYER_LIBS,daemon)
	$(call msg,LINK,$@)$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

# Every unit test links the daemon's library, then the ones below it (only
# the members a test needs are taken); headers by bare name (every folder's
# -I; -Iuser keeps "daemon/drain.h" working too).
$(OUT)/tests/%: tests/unit/%.c $(call LAYER_LIBS,daemon) $(wildcard tests/unit/*.h) $(HDRS)
	@mkdir -p $(dir $@)
	$(call msg,CC,$@)$(CC) $(ALL_CFLAGS) $(call LAYER_INC,daemon) -Iuser -I$(OUT) -Itests/unit \
		-o $@ $< $(call LAYER_LIBS,daemon) $(PKG_LIBS) -lcmocka

# Long runs, not part of `make test`: the placement property test
# (tests/soak/placement_prop.c, IMASTORE_PROP_STEPS, default 100000 a mode).
$(OUT)/soak/%: tests/soak/%.c $(call LAYER_LIBS,daemon) $(wildcard tests/unit/*.h) $(HDRS)
	@mkdir -p $(dir $@)
	$(call msg,CC,$@)$(CC) $(ALL_CFLAGS) $(call LAYER_INC,daemon) -Iuser -I$(OUT) -Itests/unit \
		-o $@ $< $(call LAYER_LIBS,daemon) $(PKG_LIBS) -lcmocka

soak: all $(OUT)/soak/placement_prop
	$(Q)$(OUT)/soak/placement_prop

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
	e2fsprogs xfsprogs btrfs-progs attr python3 ca-certificates time libisal-dev flex bison bc \
	kexec-tools kmod
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
$(OUT)/fuzz/%: tests/fuzz/%.c $(LIB_SRCS) $(HDRS)
	@mkdir -p $(dir $@)
	$(call msg,FUZZ,$@)$(CLANG) $(BASE_CFLAGS) $(LIB_INC) $(FUZZ_FLAGS) -o $@ $< $(LIB_SRCS) $(PKG_LIBS)

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
$(OUT)/tools/%: tests/tools/%.c $(LIB_LIBS) $(HDRS)
	@mkdir -p $(dir $@)
	$(call msg,CC,$@)$(CC) $(ALL_CFLAGS) $(LIB_INC) -o $@ $< $(LIB_LIBS) $(PKG_LIBS)
