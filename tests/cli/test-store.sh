#!/bin/bash
# The store through the CLI, on lists captured from real kernels: each list
# fed in pieces (as deletions from the kernel would cut it) must export
# exactly the kernel's bytes for every bank, with and without a kernel
# tail; import refuses overlaps and gaps; fsck finds damage; status reports.
set -u
cd "$(dirname "$0")/../.."
IM=$PWD/${OUT:-build}/imastore
LISTTOOL=tests/cli/ima_list.py
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. tests/cli/lib.sh

width_of() {
	case $1 in sha1) echo 20 ;; sha256) echo 32 ;; sha384) echo 48 ;; sha512) echo 64 ;; esac
}

# split LIST WIDTH OUTPREFIX CUT...: pieces at the given record indexes
split_list() {
	local list=$1 w=$2 out=$3
	shift 3
	python3 - "$list" "$w" "$out" "$@" <<'PY'
import sys
sys.path.insert(0, "tests/cli")
import ima_list
path, w, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
cuts = [int(c) for c in sys.argv[4:]]
buf = open(path, "rb").read()
offs = [o for o, _, _ in ima_list.records(buf, w)] + [len(buf)]
edges = [0] + [offs[c] for c in cuts if c < len(offs) - 1] + [len(buf)]
for i in range(len(edges) - 1):
    open("%s.%d" % (out, i), "wb").write(buf[edges[i]:edges[i + 1]])
PY
}

for d in tests/fixtures/deb72-*/; do
	d=${d%/}
	name=${d##*/}
	fmt=$(sed -n 's/^template_fmt=//p' "$d/meta")
	tf=()
	[ -n "$fmt" ] && tf=(--template-fmt "$fmt")
	for stored in sha256 sha1; do
		st=$tmp/store-$name-$stored
		w=$(width_of $stored)
		list=$d/binary_runtime_measurements_$stored
		n=$(python3 "$LISTTOOL" count "$list" "$w")
		split_list "$list" "$w" "$tmp/piece" 1 $((n / 3)) $((n / 2))
		check "$name: import of 4 pieces ($stored bank)" \
			"$IM" import --store "$st" --boot "boot-$name" "${tf[@]}" \
			"$tmp/piece.0" "$tmp/piece.1" "$tmp/piece.2" "$tmp/piece.3"
		for bank in sha1 sha256 sha384 sha512; do
			check "$name: export --bank $bank from the $stored store is the kernel's list" \
				cmp -s <("$IM" export --store "$st" --boot "boot-$name" --bank $bank) \
				"$d/binary_runtime_measurements_$bank"
			check "$name: export --bank $bank --format ascii is the kernel's ASCII list" \
				cmp -s <("$IM" export --store "$st" --boot "boot-$name" --bank $bank --format ascii) \
				"$d/ascii_runtime_measurements_$bank"
		done
		k=$((n / 2))
		check "$name: export --from $k --count 3 is records $k..$((k + 2))" \
			cmp -s <("$IM" export --store "$st" --boot "boot-$name" --from $k --count 3) \
			<(python3 - "$list" "$w" $k <<'PY'
import sys
sys.path.insert(0, "tests/cli")
import ima_list
buf = open(sys.argv[1], "rb").read()
r = list(ima_list.records(buf, int(sys.argv[2])))
k = int(sys.argv[3])
sys.stdout.buffer.write(buf[r[k][0]:r[k + 2][0] + r[k + 2][1]])
PY
)
		check "$name: fsck of a good store says 0 errors" \
			"$IM" fsck --store "$st" -q
	done

	# the kernel still holds the tail: store the head, export adds the rest
	st=$tmp/tail-$name
	list=$d/binary_runtime_measurements_sha256
	n=$(python3 "$LISTTOOL" count "$list" 32)
	split_list "$list" 32 "$tmp/head" $((n / 2))
	mkdir -p "$tmp/sfs-$name"
	for bank in sha1 sha256 sha384 sha512; do
		cp "$d/binary_runtime_measurements_$bank" "$tmp/sfs-$name/"
	done
	echo "boot-now-$name" >"$tmp/bootid"
	export IMASTORE_BOOT_ID_FILE=$tmp/bootid IMASTORE_SECURITYFS=$tmp/sfs-$name
	check "$name: import of the head for the running boot" \
		"$IM" import --store "$st" "${tf[@]}" "$tmp/head.0"
	for bank in sha1 sha256 sha384 sha512; do
		check "$name: export (store + kernel tail) --bank $bank is the kernel's list" \
			cmp -s <("$IM" export --store "$st" --bank $bank) "$d/binary_runtime_measurements_$bank"
	done
	pcrs=()
	for p in "$d"/pcrs-*.txt; do a=${p##*/pcrs-}; pcrs+=(--pcrs "${a%.txt},$p"); done
	check "$name: verify --store (store + kernel tail) matches the guest's PCRs" \
		"$IM" verify -q --store "$st" "${pcrs[@]}"
	check_finds "$name: verify --store --no-kernel does not" \
		1 "result: MISMATCH" "$IM" verify --store "$st" --no-kernel "${pcrs[@]}"
	# a kernel list that does not continue the store is refused (placement,
	# trimming.md §3.2.4: its first record is none of the stored ones)
	cp "$tmp/head.1" "$tmp/sfs-$name/binary_runtime_measurements_sha256"
	# (placement, trimming.md §3.2: no record of the list is a stored one,
	# and no trim says records were deleted: it cannot be placed)
	check_fails "$name: export refuses a kernel list that does not continue the store" \
		2 "the kernel's first record is none of the stored records 0..$((n / 2 - 1)): records from $((n / 2)) on are lost to chain boot-now-$name" \
		"$IM" export --store "$st"
	unset IMASTORE_BOOT_ID_FILE IMASTORE_SECURITYFS
done

# import refuses what it can tell is wrong, and keeps nothing of it
d=tests/fixtures/deb72-ima-ng
list=$d/binary_runtime_measurements_sha256
n=$(python3 "$LISTTOOL" count "$list" 32)
split_list "$list" 32 "$tmp/p" 5
st=$tmp/refuse
check_fails "import: a list not starting with boot_aggregate on an empty chain is refused" \
	2 "the chain of boot b is empty and this list does not start with boot_aggregate" \
	"$IM" import --store "$st" --boot b "$tmp/p.1"
check "import: a refused first list leaves no store behind" test ! -e "$st"
head -c 3000 "$list" >"$tmp/trunc.bin"
check_fails "import: a cut list is named once in the error" \
	2 "imastore: $tmp/trunc.bin: record 26 at byte offset 2992 is truncated" \
	"$IM" import --store "$st" --boot b "$tmp/trunc.bin"
check "import: a cut list leaves no store behind" test ! -e "$st"
"$IM" import --store "$st" --boot b "$tmp/p.0" "$tmp/p.1"
check_fails "import: the same piece again is an overlap" \
	2 "its first $((n - 5)) records are records 5..$((n - 1)), already stored" \
	"$IM" import --store "$st" --boot b "$tmp/p.1"
check_fails "import: a new boot_aggregate on a chain is refused" \
	2 "starts with boot_aggregate, a new boot, but the chain of boot b has $n records" \
	"$IM" import --store "$st" --boot b "$tmp/p.0"
python3 "$LISTTOOL" mutate "$list" 32 "$tmp/bad" data 3
off=$(python3 "$LISTTOOL" offsets "$list" 32 | awk 'NR == 4 { print $1 }')
check_fails "import: a record that does not hash to its digest is refused" \
	2 "$tmp/bad: record 3 at byte offset $off: its template data does not hash to its template digest; nothing of this list is kept" \
	"$IM" import --store "$st" --boot c "$tmp/bad"
check "import: nothing of a refused list is kept (no chain or boot c, b unchanged)" \
	python3 -c '
import json, sys
s = json.load(sys.stdin)
assert [c["chain"] for c in s["chains"]] == ["b"], s["chains"]
assert [b["boot"] for b in s["chains"][0]["boots"]] == ["b"], s["chains"]
assert s["chains"][0]["records"] == int(sys.argv[1]), s["chains"]
' "$n" < <("$IM" status --store "$st" --json)
check_fails "import: the refused boot has no chain to export" \
	2 "no chain for 'c' in $st" "$IM" export --store "$st" --boot c
"$IM" import --store "$st" --boot c2 "$tmp/p.0"
check_fails "import: a list refused on a new boot leaves no empty chain" \
	2 "the chain of boot c3 is empty and this list does not start with boot_aggregate" \
	"$IM" import --store "$st" --boot c3 "$tmp/p.1"
check_fails "import: ... so boot c3 has no chain" \
	2 "no chain for 'c3' in $st" "$IM" export --store "$st" --boot c3
check "status: the chain's creation as an ISO 8601 UTC time and its age" \
	grep -qE "^  created     20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z \([0-9]+ (s|min|h|days?) ago\)$" \
	<("$IM" status --store "$st")
check "status: one chain of two is 'chains', and a lone one 'chain'" \
	grep -q "bytes free, 2 chains$" <("$IM" status --store "$st")
printf 'pid=1\ntime=%s\nmode=N\n' $(($(date +%s) - 300)) >"$st/imastored.status"
check "status: the daemon's time is readable, with its age" \
	grep -qE "^  time +20[0-9-]+T[0-9:]+Z \(5 min ago\)$" <("$IM" status --store "$st")
check "status --json: the daemon's time stays the number it wrote" \
	grep -q '"time":"'$(($(date +%s) - 300))'"' <("$IM" status --store "$st" --json)
rm "$st/imastored.status"
check "fsck: 1 segment, 1 checkpoint (singular), 0 errors" \
	grep -qE "^c2: [0-9]+ records in 1 segment, 1 checkpoint: 0 errors, 0 warnings$" \
	<("$IM" fsck --store "$st" --boot c2)
check_fails "status --json: an error is a JSON object on stderr" \
	2 '{"error":"store '"$tmp"'/nowhere: No such file or directory"}' \
	"$IM" status --json --store "$tmp/nowhere"
check "status --json: ... and nothing else on stderr" \
	test "$("$IM" status --json --store "$tmp/nowhere" 2>&1 >/dev/null | wc -l)" = 1
check "status --json parses and counts the records" \
	python3 -c '
import json, sys
s = json.load(sys.stdin)
c = [c for c in s["chains"] if c["chain"] == "b"][0]
assert c["records"] == int(sys.argv[1]), c
assert c["last_index"] == int(sys.argv[1]) - 1
assert s["free_bytes"] > 0
' "$n" < <("$IM" status --store "$st" --json)

# fsck finds a flipped byte in committed data, names the file and offset
seg=$(ls "$st"/chains/b/seg-*.log | head -1)
printf 'X' | dd of="$seg" bs=1 seek=200 conv=notrunc status=none
# (the frame that holds byte 200 starts at 193)
check_finds "fsck: a flipped byte is an error (exit 1) with file and offset" \
	1 "b: ERROR: seg-0000000000000000.log: corrupt at byte offset 193" \
	"$IM" fsck --store "$st" --boot b
check_fails "export of a corrupt chain fails naming the offset" \
	2 "chain b: seg-0000000000000000.log is corrupt at byte offset 193" \
	"$IM" export --store "$st" --boot b
chmod 0755 "$st"
check_fails "a store readable by others is refused" \
	2 "$st: owned by uid $(id -u) with mode 0755; the store must be owned by uid $(id -u) and not group/other accessible (chmod go= it, or pass --insecure)" \
	"$IM" status --store "$st"
check "--insecure opens it" quiet "$IM" status --store "$st" --insecure -j

finish "store cli"
