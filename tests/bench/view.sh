#!/bin/bash
# make bench, the view (docs/view.md): numbers from one run, ratios against
# baselines measured in the same run on the same bytes.
#   - a full read of a 1M-record view vs cat of the same bytes from a
#     regular file (target >= 0.5x);
#   - the next 100 records read at the end of a 1M-record view, on the fd
#     that read the list and on a new fd at the old end (target < 5 ms);
#   - peak RSS of the serving process at 10,000 and 1,000,000 records.
# Needs root and /dev/fuse.
set -eu
cd "$(dirname "$0")/../.."
OUT=${OUT:-build}
IM=$PWD/$OUT/imastore
N=${BENCH_RECORDS:-1000000}
dir=${BENCH_DIR:-/var/tmp/imastore-bench}/view
mkdir -p "$dir"
[ -c /dev/fuse ] || { echo "view bench: no /dev/fuse"; exit 1; }
mnts=()
cleanup() { for m in "${mnts[@]}"; do umount "$m" 2>/dev/null || true; done; }
trap cleanup EXIT

best_of() {	# best_of RUNS CMD...: fastest wall time in seconds
	local runs=$1 best= t
	shift
	for _ in $(seq "$runs"); do
		/usr/bin/time -f %e -o "$dir/time.out" "$@" >/dev/null 2>&1
		t=$(tail -1 "$dir/time.out")
		best=$(echo "$t ${best:-$t}" | awk '{print ($1 < $2) ? $1 : $2}')
	done
	echo "$best"
}

# store N: a store holding records 0..N-1 of mklist's sha256 list
store() {
	local st=$dir/store-$1
	if [ ! -e "$st/ok" ]; then
		rm -rf "$st"
		"$OUT/tools/mklist" -n "$1" -b sha256 >"$dir/list-$1.bin"
		"$IM" import --store "$st" --boot bench "$dir/list-$1.bin"
		sed -i 's/^banks=.*/banks=sha256:hashed,sha1:hashed/' "$st"/chains/*/meta
		touch "$st/ok"
	fi
	echo "$st"
}

mount_view() {	# mount_view STORE MNT: the server's pid in MPID
	mkdir -p "$2"
	"$IM" mount -f --store "$1" --boot bench "$2" &
	MPID=$!
	mnts+=("$2")
	for _ in $(seq 100); do mountpoint -q "$2" && return 0; sleep 0.1; done
	echo "mount of $2 failed"; exit 1
}

big=$(store "$N")
mnt=$dir/mnt-big
mount_view "$big" "$mnt"
vpid=$MPID
f=$mnt/binary_runtime_measurements_sha256
"$IM" export --store "$big" --boot bench -o "$dir/same.bin"
"$IM" export --store "$big" --boot bench --bank sha1 --format ascii -o "$dir/same-sha1.txt"
cat "$dir/same.bin" "$dir/same-sha1.txt" >/dev/null	# in the page cache, as the view's store is
echo "== view: full read of $N records vs cat of the same bytes from a regular file"
t_file=$(best_of 3 cat "$dir/same.bin")
t_view=$(best_of 3 cat "$f")
bytes=$(stat -c %s "$dir/same.bin")
awk -v a="$t_view" -v b="$t_file" -v n="$bytes" 'BEGIN {
	printf "binary sha256 (stored bank): view %.2f s (%.0f MB/s), cat of a file %.2f s; ratio %.2fx (target >= 0.5x)\n",
		a, n / a / 1e6, b, b / a }'
t_file=$(best_of 1 cat "$dir/same-sha1.txt")
t_view=$(best_of 1 cat "$mnt/ascii_runtime_measurements_sha1")
awk -v a="$t_view" -v b="$t_file" 'BEGIN {
	printf "ascii sha1 (digests recomputed, lines formatted): view %.2f s, cat of a file %.2f s; ratio %.2fx\n",
		a, b, b / a }'

echo "== view: the next 100 records at the end of a $N-record view"
"$OUT/tools/mklist" -n $((N + 100)) -b sha256 >"$dir/list-more.bin"
tail -c +$(( $(stat -c %s "$dir/list-$N.bin") + 1 )) "$dir/list-more.bin" >"$dir/tail100.bin"
python3 - "$f" "$IM" "$big" "$dir/tail100.bin" <<'PY'
import os, subprocess, sys, time
path, im, st, tail = sys.argv[1:5]
want = open(tail, "rb").read()
fd = os.open(path, os.O_RDONLY)
n = 0
while True:
    b = os.read(fd, 1 << 20)
    if not b:
        break
    n += len(b)
end = n
# the fd is at the end; the writer appends 100 records
subprocess.run([im, "import", "--store", st, "--boot", "bench", tail], check=True)
t = time.perf_counter()
got = b""
while True:
    b = os.read(fd, 1 << 20)
    if not b:
        break
    got += b
dt = time.perf_counter() - t
assert got == want, (len(got), len(want))
# Keylime's pattern: a new fd, seek to where the list ended, read to the end
fd2 = os.open(path, os.O_RDONLY)
t = time.perf_counter()
os.lseek(fd2, end, os.SEEK_SET)
got2 = b""
while True:
    b = os.read(fd2, 1 << 20)
    if not b:
        break
    got2 += b
dt2 = time.perf_counter() - t
assert got2 == want
print("held fd at the end: 100 new records (%d bytes) in %.2f ms (target < 5 ms)" % (len(got), dt * 1e3))
print("new fd, seek to the old end: the same in %.2f ms (target < 5 ms)" % (dt2 * 1e3))
PY
rss_big=$(awk '/^VmHWM/ { print $2 }' /proc/$vpid/status)
umount "$mnt"
wait "$vpid" || true
rm -f "$big/ok"	# it holds 100 more records now

echo "== view: peak RSS of the serving process (after a full read of a binary and an ascii list)"
small=$(store 10000)
mnt=$dir/mnt-small
mount_view "$small" "$mnt"
cat "$mnt/binary_runtime_measurements_sha256" "$mnt/ascii_runtime_measurements_sha1" >/dev/null
rss_small=$(awk '/^VmHWM/ { print $2 }' /proc/$MPID/status)
umount "$mnt"
wait "$MPID" || true
awk -v s="$rss_small" -v b="$rss_big" -v n="$N" 'BEGIN {
	printf "10000 records: %d KB; %d records: %d KB; ratio %.2f (flat = 1.0)\n", s, n, b, b / s }'
