#!/bin/bash
# The store's crash, power-cut and fault tests on real file systems other
# than the one /tmp is on: each file system type this machine can make
# (ext4, ext4 data=journal, ext2 without a journal, xfs, btrfs) is built in
# a loop image, mounted, and the tests run with their scratch stores on it
# (STORE_TEST_TMP); a second, small image of the same type is where the
# ENOSPC test fills the disk (STORE_TEST_SMALLFS). As root; file systems
# that cannot be made or mounted here are reported and skipped, and the
# script fails if none could be. docs/testing.md, "Store crash tests".
#
# Usage: tests/store/test-realfs.sh [FSTYPE...]   (OUT=build, STORE_TEST_SCALE=0.3)
set -u
cd "$(dirname "$0")/../.."
OUT=${OUT:-build}
export STORE_TEST_SCALE=${STORE_TEST_SCALE:-0.3}
types=${*:-ext4 ext4-journal ext2 xfs btrfs}
work=$(mktemp -d /tmp/imastore-realfs-XXXXXX)
ran=0 failed=0 skipped=()

cleanup() {
	local m
	for m in "$work"/mnt-*; do
		mountpoint -q "$m" 2>/dev/null && umount "$m"
	done
	rm -rf "$work"
}
trap cleanup EXIT

for b in test_store_crash test_store_powercut test_store_faults; do
	[ -x "$OUT/tests/$b" ] || { echo "$OUT/tests/$b missing: make all first"; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "needs root (loop mounts)"; exit 1; }

# mkimage TYPE IMAGE SIZE_MB -> mount options on stdout, status 1 if not possible
mkimage() {
	local t=$1 img=$2 mb=$3 opts=
	truncate -s "${mb}M" "$img"
	case $t in
	ext4) mkfs.ext4 -q -F "$img" ;;
	ext4-journal) mkfs.ext4 -q -F "$img" && opts=data=journal ;;
	ext2) mkfs.ext2 -q -F "$img" ;;
	xfs) mkfs.xfs -q -f "$img" ;;
	btrfs) mkfs.btrfs -q -f "$img" ;;
	*) return 1 ;;
	esac >/dev/null 2>&1 || return 1
	echo "$opts"
}

for t in $types; do
	big=$work/$t.img small=$work/$t-small.img
	mb=$work/mnt-$t ms=$work/mnt-$t-small
	mkdir -p "$mb" "$ms"
	# xfs and btrfs refuse images much smaller than these
	if ! o1=$(mkimage "$t" "$big" 512) || ! o2=$(mkimage "$t" "$small" 120) ||
	   ! mount -o "loop${o1:+,$o1}" "$big" "$mb" 2>/dev/null ||
	   ! mount -o "loop${o2:+,$o2}" "$small" "$ms" 2>/dev/null; then
		echo "-- $t: cannot make or mount it here, skipped"
		skipped+=("$t")
		mountpoint -q "$mb" && umount "$mb"
		continue
	fi
	chmod 0700 "$mb" "$ms"
	# the small one: leave it nearly full so the ENOSPC test's fill is quick
	for b in test_store_crash test_store_powercut test_store_faults; do
		log=$work/$t-$b.log
		STORE_TEST_TMP=$mb STORE_TEST_SMALLFS=$ms/enospc "$OUT/tests/$b" >"$log" 2>&1
		st=$?
		ran=$((ran + 1))
		if [ $st = 0 ]; then
			echo "ok - $t: $b"
		else
			failed=$((failed + 1))
			echo "not ok - $t: $b"
			grep -E '^\[  (FAILED|ERROR)|ERROR|x ' "$log" | head -20
		fi
	done
	umount "$mb" "$ms"
done
[ ${#skipped[@]} = 0 ] || echo "skipped: ${skipped[*]}"
echo "$ran runs, $failed failed"
[ "$ran" -gt 0 ] && [ "$failed" = 0 ]
