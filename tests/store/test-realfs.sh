#!/bin/bash
# The store's crash, power-cut and fault tests on real file systems other
# than the one /tmp is on: each file system type this machine can make
# (ext4, ext4 data=journal, ext2 without a journal, xfs, btrfs) is built in
# a loop image, mounted, and the tests run with their scratch stores on it
# (STORE_TEST_TMP); a second, small image of the same type is where the
# ENOSPC test fills the disk (STORE_TEST_SMALLFS). As root (make deps
# installs every mkfs); a file system that cannot be made or mounted here is
# a failure, unless IMASTORE_ALLOW_SKIP=1 (then it is reported and skipped;
# the script still fails if none ran). tests/run.sh's realfs suite runs it.
# docs/testing.md, "Store crash tests".
#
# Usage: tests/store/test-realfs.sh [FSTYPE...]   (OUT=build, STORE_TEST_SCALE=0.3)
set -u
cd "$(dirname "$0")/../.."
OUT=${OUT:-build}
export STORE_TEST_SCALE=${STORE_TEST_SCALE:-0.3}
types=${*:-ext4 ext4-journal ext2 xfs btrfs}
work=$(mktemp -d /tmp/imastore-realfs-XXXXXX)
ran=0 failed=0 skipped=() cannot=()

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

# mkimage TYPE IMAGE SIZE_MB -> mount options on stdout, status 1 if not
# possible (mkfs's messages in IMAGE.log)
mkimage() {
	local t=$1 img=$2 mb=$3 opts=
	truncate -s "${mb}M" "$img"
	case $t in
	ext4) mkfs.ext4 -q -F "$img" ;;
	ext4-journal) mkfs.ext4 -q -F "$img" && opts=data=journal ;;
	ext2) mkfs.ext2 -q -F "$img" ;;
	xfs) mkfs.xfs -q -f "$img" ;;
	btrfs) mkfs.btrfs -q -f "$img" ;;
	*) echo "no such file system type here: $t"; false ;;
	esac >"$img.log" 2>&1 || return 1
	echo "$opts"
}

# cannot TYPE WHY: TYPE cannot run here: a failure, or with
# IMASTORE_ALLOW_SKIP=1 a skip
cannot() {
	echo "-- $1: cannot make or mount it here: $2"
	if [ "${IMASTORE_ALLOW_SKIP:-0}" = 1 ]; then
		skipped+=("$1")
	else
		cannot+=("$1")
	fi
}

for t in $types; do
	big=$work/$t.img small=$work/$t-small.img
	mb=$work/mnt-$t ms=$work/mnt-$t-small
	mkdir -p "$mb" "$ms"
	# btrfs refuses images much smaller than 120 MiB, xfs than 300 MiB
	small_mb=120
	[ "$t" = xfs ] && small_mb=320
	if ! o1=$(mkimage "$t" "$big" 512) || ! o2=$(mkimage "$t" "$small" $small_mb); then
		cannot "$t" "$(cat "$big.log" "$small.log" 2>/dev/null | head -3)"
		continue
	fi
	if ! why=$(mount -o "loop${o1:+,$o1}" "$big" "$mb" 2>&1) ||
	   ! why=$(mount -o "loop${o2:+,$o2}" "$small" "$ms" 2>&1); then
		cannot "$t" "$why"
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
[ ${#skipped[@]} = 0 ] || echo "skipped (IMASTORE_ALLOW_SKIP=1): ${skipped[*]}"
[ ${#cannot[@]} = 0 ] ||
	echo "could not run: ${cannot[*]} (IMASTORE_ALLOW_SKIP=1 skips those)"
echo "$ran runs, $failed failed"
[ "$ran" -gt 0 ] && [ "$failed" = 0 ] && [ ${#cannot[@]} = 0 ]
