#!/bin/bash
# test-daemon-ad.sh: imastored's A/D flavor (trimming.md §5) on Linux 7.2
# built with CONFIG_IMA_STAGING=y (tests/guest/kernels.sh staging72, built
# and cached on first use), booted with ima_flush_htable (the kernel refuses
# N; D frees records fully). A batch left staged before imastored starts is
# stored exactly once; then thousands of measurements while imastored runs:
# the kernel's count stays bounded, `verify --store` matches the TPM in every
# bank, every file is exported once, and kernel memory is returned.
#
# One line per check, then "N passed, N failed"; exits non-zero on failure.
# Missing qemu/kernels is a failure, unless IMASTORE_SKIP_GUEST=1.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
if [ "${IMASTORE_SKIP_GUEST:-0}" = 1 ]; then
	echo "test-daemon-ad: skipped (IMASTORE_SKIP_GUEST=1)"
	exit 0
fi
. "$HERE/lib.sh"
guest_require
for b in imastore imastored; do
	[ -x "$TOP/build/$b" ] || guest_die "build/$b not built: run 'make all' first"
done
work=$(mktemp -d "$GUEST_TMP/daemon-ad.XXXXXX")
trap 'rm -rf "${work:?}"' EXIT

cat >"$work/init.body" <<'GUEST'
IMA=/sys/kernel/security/ima
S=/var/lib/imastore
KEEP=10
T=300
fails=0
pass() { echo "@@CHECK PASS $*"; }
fail() { echo "@@CHECK FAIL $*"; fails=$((fails + 1)); }
count() { read -r c <"$IMA/runtime_measurements_count"; echo "$c"; }
mkfiles() {
	mkdir -p "$1"
	i=0
	while [ $i -lt "$2" ]; do i=$((i + 1)); echo "$1 $i" >"$1/f$i"; done
	cat "$1"/f* >/dev/null
}
[ -e /dev/tpmrm0 ] || { glog "no /dev/tpmrm0"; guest_finish 2; }
mkdir -p $S /nm
mount -t ramfs ramfs $S && chmod 0700 $S || { glog "ramfs"; guest_finish 2; }
mount -t ramfs ramfs /nm || { glog "ramfs"; guest_finish 2; }
{
	for m in 0x9fa0 0x62656572 0x64626720 0x73636673 0x858458f6; do echo "dont_measure fsmagic=$m"; done
	echo "measure func=FILE_CHECK mask=MAY_READ uid=0"
} >"$IMA/policy" || { glog "policy refused"; guest_finish 2; }
imastore --help >/dev/null 2>&1
imastored --help >/dev/null 2>&1
[ -e "$IMA/binary_runtime_measurements_sha256_staged" ] ||
	{ glog "not a staging kernel"; guest_finish 2; }
if grep -q ima_flush_htable /proc/cmdline; then
	# the kernel refuses N with ima_flush_htable
	printf '1\n' >"$IMA/binary_runtime_measurements_sha256" 2>/dev/null &&
		fail "N accepted despite ima_flush_htable" || pass "N refused with ima_flush_htable"
	MODE="A/D only"
else
	MODE="A/D"
fi

# a batch staged before imastored runs (a crash between A and D)
mkfiles /tmp/m/a 200
n=200
printf 'A\n' >"$IMA/binary_runtime_measurements_sha256_staged" || fail "A refused"
staged=$(imastore show "$IMA/binary_runtime_measurements_sha256_staged" | wc -l)
imastored --once $FLAVOR --store $S --trim-records $T --keep $KEEP 2>/nm/d.log ||
	fail "imastored --once: $(tr '\n' ' ' </nm/d.log | head -c 300)"
left=$(imastore show "$IMA/binary_runtime_measurements_sha256_staged" | wc -l)
[ "$staged" -gt 0 ] && [ "$left" = 0 ] && pass "leftover batch of $staged records stored, then D" ||
	fail "leftover batch: $staged staged, $left left after imastored"
grep -a 'mode' /nm/d.log | head -n 2 | sed 's/^/guest: /'

su0=$(awk '/^SUnreclaim:/ { print $2 }' /proc/meminfo)
imastored --foreground $FLAVOR --store $S --trim-records $T --keep $KEEP --latency 50 \
	--interval 2000 2>>/nm/d.log &
dpid=$!
max=0
for d in 1 2 3 4 5 6 7 8; do
	mkfiles /tmp/m/d$d 400
	n=$((n + 400))
	c=$(count); [ "$c" -gt "$max" ] && max=$c
done
sleep 2
kill -TERM $dpid
wait $dpid && pass "SIGTERM: imastored exited 0" || fail "SIGTERM: imastored exited $?"
su1=$(awk '/^SUnreclaim:/ { print $2 }' /proc/meminfo)
glog "max kernel count $max, now $(count); SUnreclaim $su0 -> $su1 kB over $n measurements"
[ "$max" -le $((KEEP + T + 400)) ] && pass "kernel count bounded: max $max" ||
	fail "kernel count reached $max"
grep -aq '^<[0-3]>' /nm/d.log && fail "errors logged: $(grep -a '^<[0-3]>' /nm/d.log | head -n 3 | tr '\n' ' ')" ||
	pass "no errors logged"
grep -a 'cycles,' /nm/d.log | sed 's/^/guest: daemon: /'
# SIGKILL at random moments: between A and D too
kills=0
for r in $(seq 1 20); do
	mkfiles /tmp/m/r$r 40 &
	mpid=$!
	imastored --foreground $FLAVOR --store $S --trim-records 60 --keep $KEEP \
		--latency 20 --interval 200 2>>/nm/k.log &
	dpid=$!
	usleep $(( (RANDOM % 40) * 10000 ))
	kill -9 $dpid 2>/dev/null && kills=$((kills + 1))
	wait $dpid 2>/dev/null || true
	wait $mpid
	n=$((n + 40))
done
imastored --once $FLAVOR --store $S --trim-records $T --keep $KEEP 2>>/nm/k.log ||
	fail "restart after random kills: $(tail -n 3 /nm/k.log | tr '\n' ' ')"
[ "$kills" -ge 15 ] && pass "$kills SIGKILLs at random moments" || fail "only $kills kills landed"
if imastore verify --store $S --tpm --tcti device:/dev/tpmrm0 >/nm/v.out 2>&1; then
	pass "verify --store against the TPM: $(tr '\n' ' ' </nm/v.out | head -c 300)"
else
	fail "verify --store: $(tr '\n' ' ' </nm/v.out | head -c 400)"
fi
imastore export --store $S --format ascii -o /nm/e.txt 2>/nm/e.err || fail "export: $(cat /nm/e.err)"
got=$(grep -c ' /tmp/m/' /nm/e.txt)
dups=$(awk '{ print $NF }' /nm/e.txt | grep '^/tmp/m/' | sort | uniq -d | wc -l)
[ "$got" = "$n" ] && [ "$dups" = 0 ] && pass "export has each of the $n files once" ||
	fail "export has $got file records ($dups duplicated), expected $n"
imastore status --store $S | grep -q "mode *$MODE\$" && pass "status shows mode $MODE" ||
	fail "status: $(imastore status --store $S | tr '\n' ' ' | head -c 300)"
[ "$fails" = 0 ] && guest_finish 0
guest_finish 1
GUEST

guest_kernel staging72
# with ima_flush_htable (auto: A/D), and without it (--flavor AD)
for run in flush:ima_flush_htable: noflush::--flavor=AD; do
	name=${run%%:*} rest=${run#*:}
	extra=${rest%%:*} flavor=${rest#*:}
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
	log=$GUEST_CACHE/logs/test-daemon-ad/$name
	guest_run_checks "staging72/$name" "$work/initrd.gz" \
		"$GUEST_KARGS quiet ima_template=ima-ng $extra" "$log"
	tr -d '\r' <"$log/console.log" | grep -a '^guest: ' | sed "s/^/   $name /" || true
done
echo "test-daemon-ad: $GUEST_PASSED passed, $GUEST_FAILED failed"
[ "$GUEST_FAILED" = 0 ]
