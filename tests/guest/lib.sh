# shellcheck shell=bash disable=SC2034  # GUEST_* variables are for the caller
# tests/guest/lib.sh -- sourced by the guest scripts (bash).
#
# Builds an initramfs (busybox + the caller's /init + host binaries with their
# shared libraries) and boots it under qemu with a fresh swtpm, then brings the
# guest's files and exit status back to the host.  See docs/real-kernel-tests.md.
#
#   guest_kernel NAME               -> sets GUEST_VMLINUZ, GUEST_KARGS (deb61|deb72|staging72)
#   initramfs_new ROOT              -> busybox root in directory ROOT
#   initramfs_add_bin ROOT BIN...   -> host binaries + their library closure
#   initramfs_add_tss ROOT          -> the tpm2-tss TCTI libraries that get dlopen'd
#   initramfs_add_file ROOT SRC DST -> one file (DST absolute inside the guest)
#   initramfs_pack ROOT OUT         -> gzip'd newc cpio
#   build_initramfs OUT INIT [BIN...] -> all of the above in one go
#   guest_run KERNEL INITRD ARGS OUTDIR [TIMEOUT]
#        -> boots; OUTDIR/console.log, OUTDIR/files/ (what the guest put in /out),
#           returns the guest's exit status (or 124 timeout / 125 harness error,
#           GUEST_CUT_RC when it was cut on purpose, see below).
#      Multi-boot tests (test-multiboot.sh) set, for one call or for all:
#        GUEST_TPM_STATE=DIR   swtpm state dir kept across boots (a new swtpm per
#                              boot on it: PCRs reset, NV, clock, resetCount kept)
#        GUEST_QEMU_ARGS="..." more qemu arguments, e.g. a persistent disk:
#                              "-drive file=IMG,if=virtio,format=raw"
#        GUEST_CUT_MARKER=TEXT GUEST_CUT_MS=N  a power cut: SIGKILL qemu N ms after
#                              TEXT appears on the console (returns GUEST_CUT_RC)
#   guest_modules ROOT NAME         -> the kernel's disk modules into the initramfs
#                                      (/lib/modules/*.ko + load-order; guest_disk)
#   guest_disk_create IMG MB [DIR]  -> a fresh ext4 image file (DIR: its contents)
#   guest_disk_copy IMG DEST PATH... -> copy dirs out of a cleanly unmounted image
#
# Inside the guest, /init sources /lib/imastore-guest.sh (guest-lib.sh) which
# mounts the pseudo filesystems, and whose guest_finish RC ships /out as a tar
# stream over the second serial port (ttyS1, raw) and prints marker lines on
# the console (ttyS0):
#   @@IMASTORE-OUT <sha256> <bytes>     checksum of the tar stream
#   @@IMASTORE-EXIT <rc>                 the guest's exit status
# A serial port needs no driver module on any of the kernels (8250 is built in
# everywhere, virtio-blk is a module on Debian's 6.1 and 7.2).

GUEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GUEST_CACHE=${IMASTORE_CACHE:-/var/cache/imastore}
GUEST_QEMU=${GUEST_QEMU:-qemu-system-x86_64}
# Scratch dirs of the harness (own prefix, outside /tmp: other test suites
# create and clean /tmp/imastore-* of their own).
GUEST_TMP=$GUEST_CACHE/run
mkdir -p "$GUEST_TMP"

guest_die() {
	echo "guest: ERROR: $*" >&2
	exit 1
}

# Fail loudly when a tool of the harness is missing (never skip silently).
guest_require() {
	local t
	for t in "$GUEST_QEMU" swtpm busybox cpio gzip timeout ldd sha256sum tar; do
		command -v "$t" >/dev/null 2>&1 || [ -x "$t" ] ||
			guest_die "'$t' not found: run 'make deps' (qemu-system-x86, swtpm, busybox-static, cpio)"
	done
	[ -x /bin/busybox ] || guest_die "/bin/busybox missing (busybox-static)"
	ldd /bin/busybox 2>&1 | grep -q 'not a dynamic executable' ||
		guest_die "/bin/busybox is not static: install busybox-static"
}

# guest_kernel NAME: make sure the kernel is cached; set GUEST_VMLINUZ and the
# command line arguments the kernel needs (GUEST_KARGS).
guest_kernel() {
	GUEST_VMLINUZ=$("$GUEST_DIR/kernels.sh" "$1" | tail -n1) ||
		guest_die "kernel $1 unavailable (see the messages above)"
	[ -s "$GUEST_VMLINUZ" ] || guest_die "kernel $1: no vmlinuz at '$GUEST_VMLINUZ'"
	GUEST_KARGS="console=ttyS0 panic=-1"
	case "$1" in
	# No ACPI in the tiny kernel: the TIS TPM must be probed by force.
	staging72) GUEST_KARGS="$GUEST_KARGS tpm_tis.force=1 tpm_tis.interrupts=0" ;;
	esac
}

# guest_modules ROOT NAME: the modules a virtio disk with ext4 needs on
# kernel NAME (kernels.sh --modules), in ROOT/lib/modules with their load
# order; guest_disk (guest-lib.sh) insmods them. Nothing for staging72 (all
# built in): an empty load-order.
guest_modules() {
	local root=$1 v m
	mkdir -p "$root/lib/modules"
	: >"$root/lib/modules/load-order"
	case "$2" in
	staging72) return 0 ;;
	esac
	v=$("$GUEST_DIR/kernels.sh" --modules "$2" | tail -n1) ||
		guest_die "kernel $2: modules unavailable (see the messages above)"
	[ -s "$(dirname "$v")/modules/load-order" ] || guest_die "kernel $2: no modules/load-order"
	while read -r m; do
		cp "$(dirname "$v")/modules/$m.ko" "$root/lib/modules/$m.ko"
		echo "$m" >>"$root/lib/modules/load-order"
	done <"$(dirname "$v")/modules/load-order"
}

# guest_disk_create IMG MB [DIR]: a new ext4 file system image of MB MiB
# (with DIR's contents when given), for -drive file=IMG,if=virtio,format=raw.
guest_disk_create() {
	command -v mkfs.ext4 >/dev/null || guest_die "mkfs.ext4 not found (e2fsprogs)"
	rm -f "$1"
	truncate -s "${2}M" "$1"
	mkfs.ext4 -q -F -L imastore -E root_owner=0:0 ${3:+-d "$3"} "$1" ||
		guest_die "mkfs.ext4 $1 failed"
}

# guest_disk_copy IMG DEST PATH...: copy directories PATH... of the image into
# DEST with debugfs (no mount, no loop device; owners and modes kept). The
# image must have been unmounted cleanly (debugfs does not replay the
# journal): after a power cut, copy the image and `e2fsck -fy` the copy first.
guest_disk_copy() {
	local img=$1 dest=$2 p
	shift 2
	command -v debugfs >/dev/null || guest_die "debugfs not found (e2fsprogs)"
	rm -rf "$dest"
	mkdir -p "$dest"
	debugfs -R "rdump $* $dest" "$img" >"$dest.debugfs.log" 2>&1 || true
	for p in "$@"; do
		[ -d "$dest/${p##*/}" ] || { cat "$dest.debugfs.log" >&2; return 1; }
	done
}

# --- initramfs -----------------------------------------------------------

# A merged-/usr root like Debian's, so libraries land where ldd found them.
initramfs_new() {
	local root=$1 a
	rm -rf "$root"
	mkdir -p "$root"/usr/bin "$root"/usr/sbin "$root"/usr/lib/x86_64-linux-gnu \
		"$root"/usr/lib64 "$root"/etc "$root"/proc "$root"/sys "$root"/dev \
		"$root"/tmp "$root"/run "$root"/root "$root"/out "$root"/mnt
	ln -s usr/bin "$root/bin"
	ln -s usr/sbin "$root/sbin"
	ln -s usr/lib "$root/lib"
	ln -s usr/lib64 "$root/lib64"
	cp /bin/busybox "$root/usr/bin/busybox"
	# One link per applet, at the path busybox would install it.
	for a in $(/bin/busybox --list-full); do
		case "$a" in
		bin/busybox | linuxrc) continue ;;
		esac
		[ -e "$root/$a" ] || [ -L "$root/$a" ] || ln -s /bin/busybox "$root/$a"
	done
	echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
	echo 'root:x:0:' >"$root/etc/group"
	# The guest side of the harness.
	cp "$GUEST_DIR/guest-lib.sh" "$root/lib/imastore-guest.sh"
}

# Copy one file to the same path inside ROOT (following symlinks).
_initramfs_copy() {
	local root=$1 f=$2 real
	real=$(readlink -f "$f")
	mkdir -p "$root$(dirname "$f")"
	# Replace a busybox applet link of the same name.
	rm -f "$root$f"
	cp -L "$real" "$root$f"
}

# Host binaries (or libraries) with their shared-library closure, ELF
# interpreter included (ldd lists it with an absolute path).
initramfs_add_bin() {
	local root=$1 f lib
	shift
	for f in "$@"; do
		case "$f" in
		/*) ;;
		*) f=$(command -v "$f") || guest_die "binary '$1' not found on the host" ;;
		esac
		[ -e "$f" ] || guest_die "'$f' not found on the host"
		_initramfs_copy "$root" "$f"
		# ldd prints "name => /path (addr)" and "/path/ld-linux (addr)".
		for lib in $(ldd "$f" 2>/dev/null | awk '
			$2 == "=>" && $3 ~ /^\// { print $3 }
			$1 ~ /^\// { print $1 }'); do
			[ -e "$root$lib" ] || _initramfs_copy "$root" "$lib"
		done
		if ldd "$f" 2>/dev/null | grep -q 'not found'; then
			guest_die "$f: missing shared libraries on the host: $(ldd "$f" | grep 'not found' | tr -s ' \t' ' ')"
		fi
	done
}

# tpm2-tss loads its TCTI with dlopen(): ldd does not see it.
initramfs_add_tss() {
	local root=$1 d=/usr/lib/x86_64-linux-gnu n found=0
	for n in libtss2-tctildr.so.0 libtss2-tcti-device.so.0; do
		if [ -e "$d/$n" ]; then
			initramfs_add_bin "$root" "$d/$n"
			found=1
		fi
	done
	[ "$found" = 1 ] || guest_die "tpm2-tss TCTI libraries not found (libtss2-dev / libtss2-tcti-device0)"
	[ -e "$root$d/libtss2-tcti-device.so.0" ] ||
		guest_die "libtss2-tcti-device.so.0 not found on the host (libtss2-tcti-device0)"
}

initramfs_add_file() {
	local root=$1 src=$2 dst=$3
	mkdir -p "$root$(dirname "$dst")"
	cp -L "$src" "$root$dst"
}

initramfs_pack() {
	local root=$1 out=$2
	(cd "$root" && find . -print | sort | cpio -o -H newc --quiet -R 0:0) | gzip -1 >"$out.tmp"
	mv "$out.tmp" "$out"
}

# build_initramfs OUT INIT [BIN...]: INIT is a script (host path) that becomes
# /init; it should start with ". /lib/imastore-guest.sh" and end with
# guest_finish.  Extra files: set GUEST_EXTRA_FILES="src:dst ..." beforehand.
build_initramfs() {
	local out=$1 init=$2 root pair
	shift 2
	root=$(mktemp -d "$GUEST_TMP/initramfs.XXXXXX")
	initramfs_new "$root"
	[ $# -eq 0 ] || initramfs_add_bin "$root" "$@"
	for pair in ${GUEST_EXTRA_FILES:-}; do
		initramfs_add_file "$root" "${pair%%:*}" "${pair#*:}"
	done
	initramfs_add_file "$root" "$init" /init
	chmod 0755 "$root/init"
	initramfs_pack "$root" "$out"
	rm -rf "$root"
}

# --- running a guest -----------------------------------------------------

# guest_run KERNEL INITRD ARGS OUTDIR [TIMEOUT]
# A kernel that dies before /init runs is booted again (GUEST_BOOT_TRIES,
# default 3): seen once in ~30 boots of Debian's 7.2 under multi-threaded TCG
# (an int3 oops in sched_clock_cpu during early text patching).  Once /init
# has started nothing is retried: test failures are never masked.
guest_run() {
	local try=1 tries=${GUEST_BOOT_TRIES:-3} rc
	while :; do
		rc=0
		_guest_run_once "$@" || rc=$?
		[ "$rc" = 126 ] || return "$rc"
		[ "$try" -lt "$tries" ] || {
			_guest_fail "$4" "the kernel did not reach /init in $tries boots"
			return 125
		}
		cp "$4/console.log" "$4/console.bootfail-$try.log"
		echo "guest: boot $try did not reach /init (log: $4/console.bootfail-$try.log); booting again" >&2
		try=$((try + 1))
	done
}

# A process that exists and is no zombie (swtpm daemonizes: its parent is
# init, which may take its time to reap it).
_guest_alive() {
	local st
	st=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

# The status guest_run returns when GUEST_CUT_MARKER cut the power on purpose.
GUEST_CUT_RC=200

_guest_run_once() {
	local kernel=$1 initrd=$2 args=$3 outdir=$4 tmo=${5:-300}
	local tpm state rc=0 swpid qrc line sha size got qpid
	guest_require
	mkdir -p "$outdir"
	rm -rf "$outdir/files" "$outdir/out.tar" "$outdir/console.log" "$outdir/qemu.pid"
	# A fresh TPM per boot: a new state dir, so every run starts from the
	# same manufactured state (a new swtpm offers sha1/256/384/512 banks);
	# or GUEST_TPM_STATE, kept from boot to boot like a real TPM's NV.
	tpm=$(mktemp -d "$GUEST_TMP/swtpm.XXXXXX")
	state=${GUEST_TPM_STATE:-$tpm}
	mkdir -p "$state"
	# --terminate: swtpm ends when qemu's connection goes, also when qemu
	# was SIGKILLed (a cut: no CMD_SHUTDOWN comes)
	if ! swtpm socket --tpm2 --tpmstate "dir=$state" --terminate \
		--ctrl "type=unixio,path=$tpm/sock" \
		--pid "file=$tpm/pid" --log "file=$tpm/log,level=1" \
		--daemon; then
		rm -rf "$tpm"
		guest_die "swtpm did not start"
	fi
	swpid=$(cat "$tpm/pid" 2>/dev/null || true)
	local t0=$SECONDS
	# ttyS0 = console (log file), ttyS1 = raw file channel (tar stream).
	# shellcheck disable=SC2086 # GUEST_QEMU_ARGS: words on purpose
	timeout --kill-after=10 "$tmo" "$GUEST_QEMU" \
		-machine q35 -m 1024 -smp 2 -nographic -no-reboot -monitor none \
		-kernel "$kernel" -initrd "$initrd" -append "$args" \
		-chardev "file,id=con,path=$outdir/console.log" -serial chardev:con \
		-chardev "file,id=out,path=$outdir/out.tar" -serial chardev:out \
		-chardev "socket,id=chrtpm,path=$tpm/sock" \
		-tpmdev emulator,id=tpm0,chardev=chrtpm -device tpm-tis,tpmdev=tpm0 \
		-pidfile "$outdir/qemu.pid" ${GUEST_QEMU_ARGS:-} \
		</dev/null >"$outdir/qemu.log" 2>&1 &
	qpid=$!
	GUEST_CUT=0
	[ -z "${GUEST_CUT_MARKER:-}" ] || _guest_cut_watch "$outdir" "$qpid" "$swpid"
	wait "$qpid" || qrc=$?
	qrc=${qrc:-0}
	GUEST_SECONDS=$((SECONDS - t0))
	# swtpm normally exits when qemu goes; make sure ours did (and that it
	# let go of a kept state dir before the next boot starts another).
	if [ -n "$swpid" ]; then
		local w=0
		while _guest_alive "$swpid" && [ $w -lt 20 ]; do
			sleep 0.1
			w=$((w + 1))
		done
		kill "$swpid" 2>/dev/null || true
		w=0
		while _guest_alive "$swpid" && [ $w -lt 30 ]; do
			sleep 0.1
			w=$((w + 1))
		done
	fi
	rm -rf "$tpm"
	touch "$outdir/console.log"
	if ! tr -d '\r' <"$outdir/console.log" | grep -aq '@@IMASTORE-INIT'; then
		return 126
	fi
	if [ "$GUEST_CUT" = 1 ]; then
		rm -f "$outdir/out.tar"
		return "$GUEST_CUT_RC"
	fi
	if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
		_guest_fail "$outdir" "timed out after ${tmo}s"
		return 124
	fi
	# (markers may follow terminal escapes on the same line: no ^ anchor)
	line=$(tr -d '\r' <"$outdir/console.log" | grep -a -o '@@IMASTORE-EXIT [0-9]*' | tail -n1 || true)
	if [ -z "$line" ]; then
		_guest_fail "$outdir" "no exit marker on the console (qemu status $qrc: crash or panic?)"
		return 125
	fi
	rc=${line#@@IMASTORE-EXIT }
	# Files: the tar stream must match the checksum the guest printed.
	line=$(tr -d '\r' <"$outdir/console.log" | grep -a -o '@@IMASTORE-OUT [0-9a-f]* [0-9]*' | tail -n1 || true)
	if [ -z "$line" ] && [ -s "$outdir/out.tar" ]; then
		_guest_fail "$outdir" "data on the file channel but no @@IMASTORE-OUT marker"
		return 125
	fi
	if [ -n "$line" ]; then
		set -- $line
		sha=$2 size=$3
		got=$(head -c "$size" "$outdir/out.tar" | sha256sum | cut -d' ' -f1)
		if [ "$got" != "$sha" ]; then
			_guest_fail "$outdir" "file transfer corrupted: $(stat -c %s "$outdir/out.tar") bytes received, $size sent"
			return 125
		fi
		mkdir -p "$outdir/files"
		head -c "$size" "$outdir/out.tar" | tar -x -C "$outdir/files" -f - ||
			{ _guest_fail "$outdir" "cannot unpack the guest's tar stream"; return 125; }
		GUEST_OUT_BYTES=$size
	fi
	rm -f "$outdir/out.tar"
	[ "$rc" = 0 ] || _guest_fail "$outdir" "guest exited with status $rc"
	return "$rc"
}

# The power cut: SIGKILL qemu (from its -pidfile) GUEST_CUT_MS ms after
# GUEST_CUT_MARKER shows on the console, unless the guest ended before; and
# swtpm with it (the TPM loses power too; it writes its NV state to a
# temporary file renamed into place, so a kill never tears it).
# Sets GUEST_CUT=1 when the kill landed; GUEST_CUT_AT: ms after the marker.
# GUEST_CUT_MARKER_MS: when the marker showed, ms after qemu started.
_guest_cut_watch() {
	local outdir=$1 tpid=$2 swpid=$3 seen='' deadline=0 now pid start
	start=${EPOCHREALTIME/./}
	start=$((start / 1000))
	GUEST_CUT_MARKER_MS=
	while kill -0 "$tpid" 2>/dev/null; do
		now=${EPOCHREALTIME/./}
		now=$((now / 1000))
		if [ -z "$seen" ]; then
			if tr -d '\r' <"$outdir/console.log" 2>/dev/null | grep -aq -- "$GUEST_CUT_MARKER"; then
				seen=$now
				deadline=$((now + GUEST_CUT_MS))
				GUEST_CUT_MARKER_MS=$((now - start))
			fi
		elif [ "$now" -ge "$deadline" ]; then
			if tr -d '\r' <"$outdir/console.log" | grep -aq '@@IMASTORE-EXIT'; then
				break	# ended on its own first: no cut
			fi
			pid=$(cat "$outdir/qemu.pid" 2>/dev/null || true)
			if [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; then
				GUEST_CUT=1
				GUEST_CUT_AT=$((now - seen))
				[ -z "$swpid" ] || kill -KILL "$swpid" 2>/dev/null || true
			fi
			break
		fi
		sleep 0.02
	done
}

_guest_fail() {
	echo "guest: FAILED: $2 (console log: $1/console.log); last lines:" >&2
	tr -d '\r' <"$1/console.log" | tail -n 40 | sed 's/^/  | /' >&2
	[ ! -s "$1/qemu.log" ] || sed 's/^/  qemu: /' "$1/qemu.log" >&2
}

# guest_run_checks NAME INITRD ARGS LOGDIR [TIMEOUT]: boot, then print the
# guest's "@@CHECK PASS|FAIL what" lines as "PASS|FAIL NAME: what" and add
# them up in GUEST_PASSED / GUEST_FAILED. A guest that ran no check, or ended
# otherwise than 0 or 1, is one more failure. GUEST_RC: the guest's status.
GUEST_PASSED=0
GUEST_FAILED=0
guest_run_checks() {
	local name=$1 initrd=$2 args=$3 log=$4 n=0 line
	GUEST_RC=0
	guest_run "$GUEST_VMLINUZ" "$initrd" "$args" "$log" "${5:-600}" || GUEST_RC=$?
	while IFS= read -r line; do
		n=$((n + 1))
		case "$line" in
		'@@CHECK PASS '*) GUEST_PASSED=$((GUEST_PASSED + 1)); echo "PASS $name: ${line#@@CHECK PASS }" ;;
		'@@CHECK FAIL '*) GUEST_FAILED=$((GUEST_FAILED + 1)); echo "FAIL $name: ${line#@@CHECK FAIL }" ;;
		esac
	done < <(tr -d '\r' <"$log/console.log" | grep -a -o '@@CHECK .*' || true)
	if [ "$n" = 0 ] || { [ "$GUEST_RC" != 0 ] && [ "$GUEST_RC" != 1 ]; }; then
		echo "FAIL $name: the guest did not run the checks (status $GUEST_RC, log $log/console.log)"
		GUEST_FAILED=$((GUEST_FAILED + 1))
	fi
}
