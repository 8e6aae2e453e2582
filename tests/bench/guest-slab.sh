#!/bin/bash
# Kernel memory of IMA's list with and without imastored (stock 7.2, N):
# SUnreclaim (/proc/meminfo) grown by N measurements, the kernel's record
# count at the end. A measurement for the closing note, not a test.
#   tests/bench/guest-slab.sh [N [KERNEL [EXTRA-CMDLINE]]]
#   default 10000 deb72; e.g. 10000 staging72 ima_flush_htable (A/D)
set -eu
HERE=$(cd "$(dirname "$0")/../guest" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
. "$HERE/lib.sh"
guest_require
N=${1:-10000}
KERNEL=${2:-deb72}
EXTRA=${3:-}
work=$(mktemp -d "$GUEST_TMP/slab.XXXXXX")
trap 'rm -rf "${work:?}"' EXIT
for mode in without with; do
	printf '#!/bin/sh\n. /lib/imastore-guest.sh\nguest_setup\nN=%s MODE=%s\n' "$N" "$mode" >"$work/init"
	cat >>"$work/init" <<'GUEST'
IMA=/sys/kernel/security/ima
mkdir -p /var/lib/imastore /nm
mount -t ramfs ramfs /var/lib/imastore && chmod 0700 /var/lib/imastore
{
	for m in 0x9fa0 0x62656572 0x64626720 0x73636673 0x858458f6; do echo "dont_measure fsmagic=$m"; done
	echo "measure func=FILE_CHECK mask=MAY_READ uid=0"
} >"$IMA/policy"
imastored --help >/dev/null 2>&1; imastore --help >/dev/null 2>&1
# the files first, so their own memory is not counted as IMA's
mkdir -p /tmp/m
i=0; while [ $i -lt $N ]; do i=$((i + 1)); echo $i >/tmp/m/f$i; done
sync; echo 3 >/proc/sys/vm/drop_caches
su0=$(awk '/^SUnreclaim:/ { print $2 }' /proc/meminfo)
if [ $MODE = with ]; then
	imastored --foreground --trim-records 1000 --keep 16 --latency 100 2>/nm/d.log &
	dpid=$!
fi
cat /tmp/m/f* >/dev/null
if [ $MODE = with ]; then sleep 2; kill -TERM $dpid; wait $dpid; fi
sync; echo 3 >/proc/sys/vm/drop_caches
su1=$(awk '/^SUnreclaim:/ { print $2 }' /proc/meminfo)
echo "@@SLAB $(uname -r) $MODE imastored: $N measurements: SUnreclaim grew $((su1 - su0)) kB; the kernel holds $(cat $IMA/runtime_measurements_count) records"
guest_finish 0
GUEST
	root=$work/root
	guest_kernel "$KERNEL"
	initramfs_new "$root"
	initramfs_add_bin "$root" "$TOP/build/imastore" "$TOP/build/imastored"
	mv "$root$TOP/build/imastore" "$root/usr/bin/imastore"
	mv "$root$TOP/build/imastored" "$root/usr/sbin/imastored"
	initramfs_add_tss "$root"
	initramfs_add_file "$root" "$work/init" /init
	chmod 0755 "$root/init"
	initramfs_pack "$root" "$work/initrd-$mode.gz"
	rm -rf "${root:?}"
	log=$GUEST_CACHE/logs/slab-$mode
	guest_run "$GUEST_VMLINUZ" "$work/initrd-$mode.gz" "$GUEST_KARGS quiet ima_template=ima-ng $EXTRA" "$log" 900 || true
	tr -d '\r' <"$log/console.log" | grep -a -o '@@SLAB .*' | sed 's/^@@SLAB //'
done
