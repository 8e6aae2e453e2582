#!/bin/bash
# test-daemon.sh: imastored on real kernels under qemu + swtpm.
#   deb72 (stock 7.2, N flavor): >= 10,000 measurements while imastored trims
#     (--trim-records 500 --keep 10); the kernel's count stays bounded, the
#     store + kernel tail verify against the TPM in every bank, every measured
#     file is exported exactly once; then a SIGKILL at each failpoint of
#     trimming.md §7, a restart, and the same checks.
#   deb61 (6.1, mirror): stores everything, deletes nothing; export equals
#     the kernel's list byte for byte.
#
#   test-daemon.sh [deb72|deb61|staging72 ...]   default: all three (staging72:
#     7.2 with CONFIG_IMA_STAGING=y, without ima_flush_htable: still N)
#
# One line per check, then "N passed, N failed"; exits non-zero on failure.
# Missing qemu/kernels is a failure, unless IMASTORE_SKIP_GUEST=1.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BIN=${IMASTORE_BIN:-$TOP/build/imastore}
DBIN=${IMASTORED_BIN:-$TOP/build/imastored}

if [ "${IMASTORE_SKIP_GUEST:-0}" = 1 ]; then
	echo "test-daemon: skipped (IMASTORE_SKIP_GUEST=1)"
	exit 0
fi
. "$HERE/lib.sh"
guest_require
[ -x "$BIN" ] || guest_die "$BIN not built: run 'make all' first"
[ -x "$DBIN" ] || guest_die "$DBIN not built: run 'make all' first"

KERNELS=${*:-deb72 deb61 staging72}
work=$(mktemp -d "$GUEST_TMP/daemon.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$BIN" "$work/imastore"
cp "$DBIN" "$work/imastored"

cat >"$work/init" <<'EOF'
#!/bin/sh
. /lib/imastore-guest.sh
guest_setup
IMA=/sys/kernel/security/ima
S=/var/lib/imastore
TCTI=device:/dev/tpmrm0
KEEP=10
T=500
[ -d "$IMA" ] || { glog "no $IMA"; guest_finish 2; }
[ -e /dev/tpmrm0 ] || { glog "no /dev/tpmrm0"; guest_finish 2; }
# The store and scratch files live on ramfs, which the policy does not
# measure: the daemon's own writes must not create measurements.
mkdir -p $S /nm
mount -t ramfs ramfs $S && chmod 0700 $S || { glog "ramfs"; guest_finish 2; }
mount -t ramfs ramfs /nm || { glog "ramfs"; guest_finish 2; }
{
	for m in 0x9fa0 0x62656572 0x64626720 0x73636673 0x858458f6; do
		echo "dont_measure fsmagic=$m"
	done
	echo "measure func=FILE_CHECK mask=MAY_READ uid=0"
} >/tmp/policy
cat /tmp/policy >"$IMA/policy" || { glog "policy refused"; guest_finish 2; }
imastore --help >/dev/null 2>&1
imastored --help >/dev/null 2>&1

fails=0
pass() { echo "@@CHECK PASS $*"; }
fail() { echo "@@CHECK FAIL $*"; fails=$((fails + 1)); }
count() { read -r c <"$IMA/runtime_measurements_count"; echo "$c"; }

# mkfiles DIR N: N new files, read once each by root (one measurement each)
mkfiles() {
	mkdir -p "$1"
	i=0
	while [ $i -lt "$2" ]; do
		i=$((i + 1))
		echo "$1 $i" >"$1/f$i"
	done
	cat "$1"/f* >/dev/null
}

# every measured test file exactly once in the store + kernel tail
check_export() { # what expected-files
	if ! imastore export --store $S --format ascii -o /nm/exp.txt 2>/nm/exp.err; then
		fail "$1: export ($(head -c 300 /nm/exp.err))"
		return
	fi
	n=$(grep -c ' /tmp/m/' /nm/exp.txt)
	dups=$(awk '{ print $NF }' /nm/exp.txt | grep '^/tmp/m/' | sort | uniq -d | wc -l)
	tot=$(wc -l </nm/exp.txt)
	if [ "$n" = "$2" ] && [ "$dups" = 0 ]; then
		pass "$1: export has each of the $2 measured files once ($tot records in all)"
	else
		fail "$1: export has $n test-file records ($dups duplicated), expected $2"
	fi
}

check_verify() { # what
	if imastore verify --store $S --tpm --tcti $TCTI >/nm/v.out 2>&1; then
		pass "$1: verify --store against the TPM, every bank ($(tr '\n' ' ' </nm/v.out | head -c 200))"
	else
		fail "$1: verify --store (exit $?): $(tr '\n' ' ' </nm/v.out | head -c 400)"
	fi
}

if [ -e "$IMA/binary_runtime_measurements_sha1" ]; then
	# ---- 7.2: the N flavor ----
	c0=$(count)
	imastored --foreground --store $S --trim-records $T --keep $KEEP \
		--latency 50 --interval 2000 2>/nm/daemon.log &
	dpid=$!
	( max=0; while [ ! -e /nm/stop ]; do
		c=$(count); [ "$c" -gt "$max" ] && max=$c && echo "$max" >/nm/max
		usleep 20000
	done ) &
	spid=$!
	t0=$(date +%s)
	n=0
	for d in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		mkfiles /tmp/m/d$d 500
		n=$((n + 500))
	done
	t1=$(date +%s)
	sleep 1
	touch /nm/stop
	wait $spid
	kill -TERM $dpid
	wait $dpid && rc=0 || rc=$?
	[ "$rc" = 0 ] && pass "SIGTERM: imastored exited 0" || fail "SIGTERM: imastored exited $rc"
	max=$(cat /nm/max)
	glog "$n files measured in $((t1 - t0)) s; kernel count at start $c0, max $max, now $(count)"
	grep -a 'cycles,' /nm/daemon.log | sed 's/^/guest: daemon: /'
	grep -a -c 'deleted [1-9]' /nm/daemon.log | sed 's/^/guest: trimming cycles: /'
	if [ "$max" -le $((KEEP + T + 500)) ]; then
		pass "kernel count bounded: max $max <= keep $KEEP + T $T + burst 500"
	else
		fail "kernel count reached $max (keep $KEEP + T $T + burst 500)"
	fi
	if grep -aq '^<[0-3]>' /nm/daemon.log; then
		fail "daemon logged errors: $(grep -a '^<[0-3]>' /nm/daemon.log | head -n 3 | tr '\n' ' ')"
	else
		pass "daemon logged no errors"
	fi
	check_verify "after 10000 measurements"
	check_export "after 10000 measurements" $n
	# ---- crash at every failpoint, restart ----
	k=0
	for fp in after-read after-append commit-after-write commit-after-fsync \
		after-intended after-trim-write after-done; do
		k=$((k + 1))
		mkfiles /tmp/m/c$k 600
		n=$((n + 600))
		IMASTORE_FAILPOINT=$fp:kill imastored --once --store $S --trim-records $T \
			--keep $KEEP 2>>/nm/crash.log && rc=0 || rc=$?
		if [ "$rc" != 137 ]; then
			fail "failpoint $fp: imastored was not killed there (exit $rc)"
			continue
		fi
		if ! imastored --once --store $S --trim-records $T --keep $KEEP 2>>/nm/crash.log; then
			fail "failpoint $fp: the restart failed: $(tail -n 3 /nm/crash.log | tr '\n' ' ')"
			continue
		fi
		check_verify "crash at $fp"
		check_export "crash at $fp" $n
	done
	# ---- SIGKILL at random moments while files are measured ----
	kills=0
	for r in $(seq 1 40); do
		mkfiles /tmp/m/r$r 25 &
		mpid=$!
		imastored --foreground --store $S --trim-records 50 --keep $KEEP \
			--latency 20 --interval 200 2>>/nm/crash.log &
		dpid=$!
		usleep $(( (RANDOM % 40) * 10000 ))
		kill -9 $dpid 2>/dev/null && kills=$((kills + 1))
		wait $dpid 2>/dev/null || true
		wait $mpid
		n=$((n + 25))
	done
	imastored --once --store $S --trim-records $T --keep $KEEP 2>>/nm/crash.log ||
		fail "the restart after $kills random kills failed: $(tail -n 3 /nm/crash.log | tr '\n' ' ')"
	glog "$kills SIGKILLs at random moments"
	[ "$kills" -ge 30 ] && pass "$kills SIGKILLs at random moments during cycles" ||
		fail "only $kills random kills landed"
	check_verify "after $kills random kills"
	check_export "after $kills random kills" $n
	if grep -aq 'foreign' /nm/crash.log; then
		fail "a restart took its own crash for a foreign trimmer"
	fi
	# ---- bad conditions ----
	# a reader holds the list open: the writer open gets EBUSY; the holder is named
	sleep 8 <"$IMA/binary_runtime_measurements_sha512" &
	hpid=$!
	sleep 1
	imastored --once --store $S --trim-records $T --keep $KEEP 2>/nm/busy.log || true
	kill $hpid 2>/dev/null || true
	wait $hpid 2>/dev/null || true
	if grep -aq "pid $hpid (sleep) holds .*binary_runtime_measurements_sha512" /nm/busy.log; then
		pass "EBUSY: imastored names the holder ($(grep -a -m1 "pid $hpid" /nm/busy.log))"
	else
		fail "EBUSY: holder $hpid not named: $(tr '\n' ' ' </nm/busy.log | head -c 400)"
	fi
	imastored --once --store $S --trim-records $T --keep $KEEP 2>>/nm/busy.log &&
		check_verify "after the holder went away" || fail "the cycle after EBUSY failed"
	# a foreign `echo N` deletes records imastored never saw: detected, shown
	mkfiles /tmp/m/x 100
	imastored --once --store $S --trim-records $T --keep $KEEP 2>/nm/foreign.log || true
	mkfiles /tmp/m/y 100
	c=$(count)
	printf '%d\n' $((c - 5)) >"$IMA/binary_runtime_measurements_sha512" ||
		fail "foreign: echo N refused"
	imastored --once --store $S --trim-records $T --keep $KEEP 2>>/nm/foreign.log || true
	if grep -aq 'foreign trimmer' /nm/foreign.log; then
		pass "foreign echo N: reported ($(grep -a -m1 'foreign trimmer' /nm/foreign.log | head -c 200))"
	else
		fail "foreign echo N: not reported: $(tr '\n' ' ' </nm/foreign.log | head -c 400)"
	fi
	if imastore status --store $S | grep -q 'foreign_trimmer *yes'; then
		pass "foreign echo N: imastore status shows it"
	else
		fail "foreign echo N: not in imastore status: $(imastore status --store $S | tr '\n' ' ')"
	fi
	imastore verify --store $S --tpm --tcti $TCTI >/nm/v.out 2>&1 && rc=0 || rc=$?
	[ "$rc" = 1 ] && pass "foreign echo N: verify --store says mismatch (records lost)" ||
		fail "foreign echo N: verify exit $rc, want 1"
	glog "kernel count at the end $(count)"
	cp /nm/daemon.log /nm/crash.log /out/ 2>/dev/null
else
	# ---- 6.1: mirror ----
	imastored --foreground --store $S --latency 50 --interval 500 2>/nm/daemon.log &
	dpid=$!
	mkfiles /tmp/m/d1 1000
	sleep 2
	kill -TERM $dpid
	wait $dpid && rc=0 || rc=$?
	[ "$rc" = 0 ] && pass "mirror: SIGTERM: imastored exited 0" || fail "mirror: SIGTERM: exit $rc"
	grep -aq 'mirror' /nm/daemon.log && pass "mirror: mode detected ($(grep -a -m1 mirror /nm/daemon.log))" ||
		fail "mirror: not detected: $(head -n 3 /nm/daemon.log | tr '\n' ' ')"
	imastored --once --store $S 2>>/nm/daemon.log || fail "mirror: --once failed"
	cat $IMA/binary_runtime_measurements >/nm/kernel.bin
	c=$(count)
	imastore export --store $S -o /nm/exp.bin 2>/nm/exp.err || fail "mirror: export: $(cat /nm/exp.err)"
	imastore export --store $S --no-kernel -o /nm/stored.bin 2>/nm/exp.err || fail "mirror: export --no-kernel"
	if cmp -s /nm/kernel.bin /nm/exp.bin; then
		pass "mirror: export equals the kernel's list byte for byte ($(wc -c </nm/exp.bin) bytes, $c records)"
	else
		fail "mirror: export differs from the kernel's list ($(wc -c </nm/exp.bin) vs $(wc -c </nm/kernel.bin))"
	fi
	if cmp -s /nm/kernel.bin /nm/stored.bin; then
		pass "mirror: the store alone holds the whole list"
	else
		fail "mirror: stored records differ from the kernel's list ($(wc -c </nm/stored.bin) vs $(wc -c </nm/kernel.bin))"
	fi
	n=$(imastore convert --to ascii /nm/kernel.bin | wc -l)
	[ "$n" = "$c" ] && pass "mirror: nothing deleted (runtime_measurements_count $c = records in the list)" ||
		fail "mirror: count $c but $n records in the list"
	cp /nm/daemon.log /out/ 2>/dev/null
fi
[ "$fails" = 0 ] && guest_finish 0
guest_finish 1
EOF

for k in $KERNELS; do
	guest_kernel "$k"
	root=$work/root-$k
	initramfs_new "$root"
	initramfs_add_bin "$root" "$work/imastore" "$work/imastored"
	mv "$root$work/imastore" "$root/usr/bin/imastore"
	mv "$root$work/imastored" "$root/usr/sbin/imastored"
	initramfs_add_tss "$root"
	initramfs_add_file "$root" "$work/init" /init
	chmod 0755 "$root/init"
	initramfs_pack "$root" "$work/initrd-$k.gz"
	rm -rf "$root"
	log=$GUEST_CACHE/logs/test-daemon/$k
	guest_run_checks "$k" "$work/initrd-$k.gz" "$GUEST_KARGS quiet ima_template=ima-ng" "$log"
	tr -d '\r' <"$log/console.log" | grep -a '^guest: ' | sed "s/^/   $k /" || true
	echo "   ($k: ${GUEST_SECONDS}s; daemon logs in $log/files/)"
done
echo "test-daemon: $GUEST_PASSED passed, $GUEST_FAILED failed"
[ "$GUEST_FAILED" = 0 ]
