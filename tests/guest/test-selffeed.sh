#!/bin/bash
# test-selffeed.sh: imastored must not feed the list it drains (docs/ima-policy.md).
# The guests measure every file root reads, the store's tmpfs included (no
# dont_measure for it), and imastored runs with --trim-records 1 --keep 2,
# the setting that used to loop: after a workload, 30 s idle must add no
# record and no violation, imastored must run no cycle while idle, the live
# stream must not show the store's files, status must count none of its own
# records and no violation; and SIGTERM must end imastored within one
# cycle's time while a busy list wakes it all the time.
#   deb72      stock 7.2, N, BPF wake-up
#   staging72  A/D with ima_flush_htable, polling (no BPF in that kernel)
#
# One line per check, then "N passed, N failed"; exits non-zero on failure.
# Missing qemu/kernels is a failure, unless IMASTORE_SKIP_GUEST=1.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
if [ "${IMASTORE_SKIP_GUEST:-0}" = 1 ]; then
	echo "test-selffeed: skipped (IMASTORE_SKIP_GUEST=1)"
	exit 0
fi
. "$HERE/lib.sh"
guest_require
for b in imastore imastored; do
	[ -x "$TOP/build/$b" ] || guest_die "build/$b not built: run 'make all' first"
done
IDLE=${IMASTORE_SELFFEED_IDLE:-30}
work=$(mktemp -d "$GUEST_TMP/selffeed.XXXXXX")
trap 'rm -rf "${work:?}"' EXIT

cat >"$work/init.body" <<'GUEST'
IMA=/sys/kernel/security/ima
S=/var/lib/imastore
fails=0
pass() { echo "@@CHECK PASS $*"; }
fail() { echo "@@CHECK FAIL $*"; fails=$((fails + 1)); }
num() { read -r v <"$IMA/$1"; echo "$v"; }
# stored records in all, from the daemon's last cycle line (its log is on ramfs)
stored() { v=$(sed -n 's/.*stored [0-9]* new (\([0-9]*\) in all).*/\1/p' /nm/d.log | tail -n 1); echo "${v:-0}"; }
cycles() { grep -c 'cycle: kernel' /nm/d.log || true; }
[ -e /dev/tpmrm0 ] || { glog "no /dev/tpmrm0"; guest_finish 2; }
mkdir -p $S /nm /etc/imastore
# the store on tmpfs, which this policy measures; scratch on ramfs, which it does not
mount -t tmpfs -o mode=0700 tmpfs $S || { glog "tmpfs"; guest_finish 2; }
mount -t ramfs ramfs /nm || { glog "ramfs"; guest_finish 2; }
{
	for m in 0x9fa0 0x62656572 0x64626720 0x73636673 0x858458f6; do echo "dont_measure fsmagic=$m"; done
	echo "measure func=FILE_CHECK mask=MAY_READ uid=0"
} >"$IMA/policy" || { glog "policy refused"; guest_finish 2; }
imastore --help >/dev/null 2>&1
imastored --help >/dev/null 2>&1
printf 'log_level = debug\n' >/etc/imastore/imastored.conf
# the view off: its server reads the store once at start (docs/ima-policy.md)
imastored --foreground --store $S --trim-records 1 --keep 2 --interval 1000 --latency 100 \
	--view none $FLAVOR 2>/nm/d.log &
dpid=$!
mkdir -p /tmp/m
i=0
while [ $i -lt 20 ]; do i=$((i + 1)); echo "file $i" >/tmp/m/f$i; cat /tmp/m/f$i >/dev/null; done
sleep 5
s0=$(stored) c0=$(num runtime_measurements_count) v0=$(num violations) y0=$(cycles)
sleep IDLE_SECONDS
s1=$(stored) c1=$(num runtime_measurements_count) v1=$(num violations) y1=$(cycles)
[ "$s1" = "$s0" ] && [ "$c1" = "$c0" ] && pass "IDLE_SECONDS s idle: no new record (stored $s0, kernel $c0)" ||
	fail "IDLE_SECONDS s idle: stored $s0 -> $s1, kernel $c0 -> $c1: imastored feeds its list"
[ "$v1" = "$v0" ] && pass "IDLE_SECONDS s idle: violations unchanged ($v0)" ||
	fail "IDLE_SECONDS s idle: violations $v0 -> $v1"
[ "$y1" = "$y0" ] && pass "IDLE_SECONDS s idle: no cycle ran ($y0 before)" ||
	fail "IDLE_SECONDS s idle: $((y1 - y0)) cycles ran while idle"
[ "$s0" -ge 20 ] && pass "the workload was stored ($s0 records)" ||
	fail "only $s0 records stored; imastored: $(head -c 600 /nm/d.log | tr '\n' ' ')"
if imastore tail -n 64 >/nm/t.txt 2>/nm/t.err; then
	grep -q "$S" /nm/t.txt && fail "the live stream shows the store's files: $(grep "$S" /nm/t.txt | head -n 2 | tr '\n' ' ')" ||
		pass "the live stream shows none of the store's files ($(wc -l </nm/t.txt) lines)"
else
	fail "imastore tail: $(cat /nm/t.err)"
fi
grep -q 'unknown digest algorithm' /nm/d.log && fail "tail warned: $(grep 'unknown digest' /nm/d.log | head -n 1)" ||
	pass "no 'unknown digest algorithm' warning"
# SIGTERM while a busy list wakes imastored all the time
( j=0; while :; do j=$((j + 1)); echo "busy $j" >/tmp/m/b$j; cat /tmp/m/b$j >/dev/null; done ) &
busy=$!
sleep 3
kill -TERM $dpid
t=0
while kill -0 $dpid 2>/dev/null && [ $t -lt 100 ]; do usleep 100000; t=$((t + 1)); done
kill $busy 2>/dev/null; wait $busy 2>/dev/null
if kill -0 $dpid 2>/dev/null; then
	fail "SIGTERM with a busy list: imastored still runs after 10 s"
	kill -9 $dpid
else
	wait $dpid && pass "SIGTERM with a busy list: imastored exited 0 within $((t * 100)) ms" ||
		fail "SIGTERM: imastored exited $?"
fi
st=$(imastore status --store $S 2>&1)
echo "$st" | grep -q 'self_records *0$' && pass "status: self_records 0" ||
	fail "status: $(echo "$st" | grep self_records)"
echo "$st" | grep -q 'violations_since_start *0$' && pass "status: violations_since_start 0" ||
	fail "status: $(echo "$st" | grep violations_since_start)"
glog "idle: stored $s0, kernel $c0, violations $v0, cycles $y0 -> $y1"
[ "$fails" = 0 ] && guest_finish 0
guest_finish 1
GUEST
sed -i "s/IDLE_SECONDS/$IDLE/g" "$work/init.body"

for run in ${IMASTORE_SELFFEED_KERNELS:-deb72:: staging72:ima_flush_htable:}; do
	kernel=${run%%:*} rest=${run#*:}
	extra=${rest%%:*} flavor=${rest#*:}
	guest_kernel "$kernel"
	{ printf '#!/bin/sh\n. /lib/imastore-guest.sh\nguest_setup\nFLAVOR=%s\n' "$flavor"
	  cat "$work/init.body"; } >"$work/init"
	root=$work/root
	initramfs_new "$root"
	initramfs_add_bin "$root" "$TOP/build/imastore" "$TOP/build/imastored"
	mv "$root$TOP/build/imastore" "$root/usr/bin/imastore"
	mv "$root$TOP/build/imastored" "$root/usr/sbin/imastored"
	initramfs_add_tss "$root"
	initramfs_add_file "$root" "$work/init" /init
	chmod 0755 "$root/init"
	initramfs_pack "$root" "$work/initrd.gz"
	rm -rf "${root:?}"
	log=$GUEST_CACHE/logs/test-selffeed/$kernel
	guest_run_checks "$kernel" "$work/initrd.gz" \
		"$GUEST_KARGS quiet ima_template=ima-ng $extra" "$log"
	tr -d '\r' <"$log/console.log" | grep -a '^guest: ' | sed "s/^/   $kernel /" || true
done
echo "test-selffeed: $GUEST_PASSED passed, $GUEST_FAILED failed"
[ "$GUEST_FAILED" = 0 ]
