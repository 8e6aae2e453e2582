#!/bin/bash
# make bench: numbers, not pass/fail. Every ratio compares against a
# baseline measured in the same run on the same files.
set -eu
cd "$(dirname "$0")/../.."
OUT=${OUT:-build}
N=${BENCH_RECORDS:-1000000}
dir=${BENCH_DIR:-/var/tmp/imastore-bench}
mkdir -p "$dir"

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

peak_rss_kb() {
	/usr/bin/time -f %M -o "$dir/time.out" "$@" >/dev/null 2>&1
	tail -1 "$dir/time.out"
}

list() {	# list N: a synthetic sha1-bank ima-ng list + PCR files
	local f=$dir/list-$1
	[ -s "$f.bin" ] || "$OUT/tools/mklist" -n "$1" -b sha1 -p "$f" >"$f.bin"
	echo "$f"
}

echo "== verify: imastore vs evmctl ima_measurement ($N records, sha1 list, sha1+sha256 banks)"
f=$(list "$N")
pcrs="--pcrs sha1,$f-sha1.txt --pcrs sha256,$f-sha256.txt"
# both must agree before their speed means anything
"$OUT/imastore" verify -q "$f.bin" $pcrs || { echo "imastore does not match its own list"; exit 1; }
evmctl ima_measurement --ignore-violations $pcrs "$f.bin" >/dev/null 2>&1 ||
	{ echo "evmctl does not match the list"; exit 1; }
t_ours=$(best_of 3 "$OUT/imastore" verify -q "$f.bin" $pcrs)
t_evm=$(best_of 1 evmctl ima_measurement --ignore-violations $pcrs "$f.bin")
awk -v n="$N" -v a="$t_ours" -v b="$t_evm" 'BEGIN {
	printf "imastore verify: %.2f s, %.0f records/s\n", a, n / a
	printf "evmctl:          %.2f s, %.0f records/s\n", b, n / b
	printf "ratio imastore/evmctl: %.1fx (target >= 10x)\n", b / a }'

# What hashing alone allows, from `openssl speed` at the sizes one record
# needs: the template data digest in both banks (the sha1 one checks the
# list), and one extend per bank (2 x digest size).
dlen=$(( $(stat -c %s "$f.bin") / N - 4 - 20 - 4 - 6 - 4 ))
speed() {	# speed ALG BYTES: hashes per second
	openssl speed -seconds 1 -bytes "$2" -evp "$1" 2>/dev/null |
		awk -v b="$2" '$1 == "'"$1"'" { v = $2; sub(/k$/, "", v); print v * 1000 / b }'
}
h1d=$(speed sha1 "$dlen"); h1e=$(speed sha1 40)
h2d=$(speed sha256 "$dlen"); h2e=$(speed sha256 64)
awk -v n="$N" -v a="$t_ours" -v h1d="$h1d" -v h1e="$h1e" -v h2d="$h2d" -v h2e="$h2e" \
    -v dlen="$dlen" -v cores="$(nproc)" 'BEGIN {
	per = 2 / h1d + 1 / h1e + 1 / h2d + 1 / h2e
	printf "openssl speed (one core), %d-byte template data: %.0f records/s of hashing alone\n", dlen, 1 / per
	printf "imastore / hashing alone on one core: %.0f%% (target >= 50%%; imastore uses %d threads)\n",
		100 * (n / a) * per, (cores > 1) ? 2 : 1 }'

echo "== peak RSS of imastore verify"
small=$(list 10000)
r_small=$(peak_rss_kb "$OUT/imastore" verify -q "$small.bin" --pcrs "sha1,$small-sha1.txt" --pcrs "sha256,$small-sha256.txt")
r_big=$(peak_rss_kb "$OUT/imastore" verify -q "$f.bin" $pcrs)
awk -v s="$r_small" -v b="$r_big" -v n="$N" 'BEGIN {
	printf "10000 records: %d KB; %d records: %d KB; ratio %.2f (flat = 1.0)\n", s, n, b, b / s }'

echo "== store: append with group commit vs dd conv=fsync of the same bytes"
big256=$dir/list256-$N
[ -s "$big256.bin" ] || "$OUT/tools/mklist" -n "$N" -b sha256 >"$big256.bin"
st=$dir/store
rm -rf "$st"
t_app=$("$OUT/tools/storebench" "$big256.bin" "$st" 0)
segs=$(ls "$st"/chains/bench/seg-*.log)
bytes=$(cat $segs | wc -c)
cat $segs >"$dir/segments.bin"
t_dd=$(best_of 1 dd if="$dir/segments.bin" of="$dir/dd.out" bs=1M conv=fsync)
awk -v a="$t_app" -v d="$t_dd" -v b="$bytes" -v n="$N" 'BEGIN {
	printf "append (group commit: one fdatasync per 4 MiB): %.2f s, %.0f records/s, %.0f MB/s\n", a, n / a, b / a / 1e6
	printf "dd conv=fsync of the same %d bytes: %.2f s\n", b, d
	printf "ratio append/dd throughput: %.2fx (target >= 0.5x)\n", d / a }'

echo "== store: export vs cat of the segment files"
t_cat=$(best_of 3 cat $segs)
t_exp=$(best_of 3 "$OUT/imastore" export --store "$st" --insecure --boot bench --no-kernel)
awk -v e="$t_exp" -v c="$t_cat" -v n="$N" 'BEGIN {
	printf "export: %.2f s (%.0f records/s); cat: %.2f s; ratio export/cat throughput: %.2fx (target >= 0.8x)\n",
		e, n / e, c, c / e }'

echo "== peak RSS of export and verify --store at 10000 vs $N records"
small256=$dir/list256-10000
[ -s "$small256.bin" ] || "$OUT/tools/mklist" -n 10000 -b sha256 -p "$small256" >"$small256.bin"
[ -s "$big256-sha256.txt" ] || "$OUT/tools/mklist" -n "$N" -b sha256 -p "$big256" >/dev/null
rm -rf "$dir/store-small"
"$OUT/tools/storebench" "$small256.bin" "$dir/store-small" 4096 >/dev/null
for what in export verify; do
	if [ $what = export ]; then
		rs=$(peak_rss_kb "$OUT/imastore" export --store "$dir/store-small" --boot bench --no-kernel)
		rb=$(peak_rss_kb "$OUT/imastore" export --store "$st" --boot bench --no-kernel)
	else
		rs=$(peak_rss_kb "$OUT/imastore" verify --store "$dir/store-small" --boot bench --no-kernel --pcrs "sha256,$small256-sha256.txt")
		rb=$(peak_rss_kb "$OUT/imastore" verify --store "$st" --boot bench --no-kernel --pcrs "sha256,$big256-sha256.txt")
	fi
	awk -v w=$what -v s="$rs" -v b="$rb" -v n="$N" 'BEGIN {
		printf "%s: 10000 records %d KB, %d records %d KB, ratio %.2f (flat = 1.0)\n", w, s, n, b, b / s }'
done

# the view (docs/view.md)
OUT=$OUT tests/bench/view.sh
