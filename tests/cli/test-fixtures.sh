#!/bin/bash
# imastore on lists captured from real kernels (tests/fixtures, made by
# `make fixtures`): ASCII byte identity both ways, verification against the
# PCRs read in the guest for every bank, damaged copies that must fail and
# name the record, JSON that parses, and agreement with evmctl.
set -u
cd "$(dirname "$0")/../.."
IM=${OUT:-build}/imastore
LISTTOOL=tests/cli/ima_list.py
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. tests/cli/lib.sh

width_of() {
	case $1 in
	sha1) echo 20 ;; sha256|sm3) echo 32 ;; sha384) echo 48 ;; sha512) echo 64 ;;
	*) echo "unknown bank $1" >&2; return 1 ;;
	esac
}

bank_of() {	# the bank a list file name implies
	local b=${1##*/}
	b=${b#binary_runtime_measurements}
	b=${b#ascii_runtime_measurements}
	b=${b#_}
	echo "${b:-sha1}"
}

# a record whose template data goes into the PCR (not a violation)
pick_record() {	# pick_record LIST WIDTH
	python3 "$LISTTOOL" offsets "$1" "$2" |
		awk '{ n++; if (!$3) ok[n - 1] = 1 } END {
			for (k = int(n / 2); k < n; k++) if (ok[k]) { print k; exit }
			for (k = int(n / 2); k >= 0; k--) if (ok[k]) { print k; exit } }'
}

fixtures=$(ls -d tests/fixtures/*/ 2>/dev/null)
if [ -z "$fixtures" ]; then
	echo "no fixtures in tests/fixtures (make fixtures)"
	exit 1
fi
# evmctl (ima-evm-utils, installed by make deps) is the cross-check: without
# it every evmctl check fails, and this says why
check "evmctl is installed (ima-evm-utils: make deps)" test -x "$(command -v evmctl)"
evmctl_lists=0

for d in $fixtures; do
	d=${d%/}
	name=${d##*/}
	fmt=$(sed -n 's/^template_fmt=//p' "$d/meta")
	tf=()
	[ -n "$fmt" ] && tf=(--template-fmt "$fmt")
	pcrs=()
	for p in "$d"/pcrs-*.txt; do
		a=${p##*/pcrs-}
		pcrs+=(--pcrs "${a%.txt},$p")
	done
	before=$fail
	for bin in "$d"/binary_runtime_measurements*; do
		bank=$(bank_of "$bin")
		w=$(width_of "$bank") || { fail=$((fail + 1)); continue; }
		ascii=${bin%/*}/ascii_runtime_measurements${bin##*/binary_runtime_measurements}
		f=${bin##*/}
		n=$(python3 "$LISTTOOL" count "$bin" "$w")

		check "$name/$f: to ASCII == the kernel's ASCII" \
			cmp -s <("$IM" convert --to ascii "$bin") "$ascii"
		check "$name/$f: ASCII back to binary == the kernel's binary" \
			cmp -s <("$IM" convert --to binary "${tf[@]}" --bank "$bank" "$ascii") "$bin"
		check "$name/$f: verify against every bank" \
			"$IM" verify -q "$bin" "${pcrs[@]}"
		check "$name/$f: verify of the ASCII list" \
			"$IM" verify -q "${tf[@]}" "$ascii" "${pcrs[@]}"
		check "$name/$f: show prints one line per record" \
			test "$("$IM" show "${tf[@]}" "$bin" | wc -l)" = "$n"
		check "$name/$f: show --json parses, one object per record" \
			python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
assert len(rows) == int(sys.argv[1]), len(rows)
assert [r["index"] for r in rows] == list(range(len(rows)))
assert rows[0]["path"] == "boot_aggregate", rows[0]
' "$n" < <("$IM" show --json "${tf[@]}" "$bin")

		k=$(pick_record "$bin" "$w")
		python3 "$LISTTOOL" mutate "$bin" "$w" "$tmp/data" data "$k"
		check_finds "$name/$f: altered template data of record $k is named" \
			1 "first bad record: $k " "$IM" verify "$tmp/data" "${pcrs[@]}"
		python3 "$LISTTOOL" mutate "$bin" "$w" "$tmp/digest" digest "$k"
		check_finds "$name/$f: altered template digest of record $k is named" \
			1 "first bad record: $k " "$IM" verify "$tmp/digest" "${pcrs[@]}"
		python3 "$LISTTOOL" mutate "$bin" "$w" "$tmp/drop" drop "$k"
		check_finds "$name/$f: a missing record is a mismatch" \
			1 "no prefix of the list" "$IM" verify "$tmp/drop" "${pcrs[@]}"
		python3 "$LISTTOOL" mutate "$bin" "$w" "$tmp/dup" dup "$((n - 1))"
		check_finds "$name/$f: an extra record at the end is named" \
			1 "after record $((n - 1)):" "$IM" verify "$tmp/dup" "${pcrs[@]}"
		python3 "$LISTTOOL" mutate "$bin" "$w" "$tmp/trunc" truncate "$((n - 1))"
		check_finds "$name/$f: a list shorter than the TPM's is a mismatch" \
			1 "result: MISMATCH" "$IM" verify "$tmp/trunc" "${pcrs[@]}"
		# a list cut inside a record is an error naming it, not a mismatch
		head -c "$(($(stat -c %s "$bin") - 5))" "$bin" >"$tmp/cut"
		last=$(python3 "$LISTTOOL" offsets "$bin" "$w" | awk 'END { print $1 }')
		check_fails "$name/$f: a cut list is an error (exit 2) naming record $((n - 1))" \
			2 "record $((n - 1)) at byte offset $last is truncated" \
			"$IM" verify "$tmp/cut" "${pcrs[@]}"

		# evmctl reads sha1-width lists and at most two PCR files
		if [ "$bank" = sha1 ] && [ -z "$fmt" ]; then
			ev=(--pcrs "sha1,$d/pcrs-sha1.txt" --pcrs "sha256,$d/pcrs-sha256.txt")
			evmctl_lists=$((evmctl_lists + 1))
			check "$name/$f: evmctl agrees: match" \
				quiet evmctl ima_measurement --ignore-violations "${ev[@]}" "$bin"
			check_fails "$name/$f: evmctl agrees: a missing record does not match" \
				1 "Failed to match per TPM bank or SHA1 padded TPM digest(s)." \
				evmctl ima_measurement --ignore-violations "${ev[@]}" "$tmp/drop"
			check_fails "$name/$f: evmctl agrees: altered data does not match" \
				1 "Failed to verify template data digest." \
				evmctl ima_measurement --ignore-violations "${ev[@]}" "$tmp/data"
		fi
	done
	# pieces: the list cut at a record boundary verifies as two LIST arguments
	bin=$(ls "$d"/binary_runtime_measurements* | head -1)
	w=$(width_of "$(bank_of "$bin")")
	cut=$(python3 "$LISTTOOL" offsets "$bin" "$w" | awk 'NR == 3 { print $1 }')
	head -c "$cut" "$bin" >"$tmp/piece1"
	tail -c +"$((cut + 1))" "$bin" >"$tmp/piece2"
	check "$name: verify of the list in two pieces" \
		"$IM" verify -q --bank "$(bank_of "$bin")" "$tmp/piece1" "$tmp/piece2" "${pcrs[@]}"
	[ $fail = "$before" ] && echo "  $name: all checks passed"
done
check "evmctl cross-checked $evmctl_lists lists (sha1 width, built-in template)" \
	test "$evmctl_lists" -gt 0

# what a wrong input is told, exactly
d=tests/fixtures/deb72-ima-ng
cp "$d/ascii_runtime_measurements_sha256" "$tmp/list.txt"
check_fails "an ASCII list read as binary: says so and how to read it" \
	2 "imastore: $tmp/list.txt: this looks like an ASCII measurement list, not a binary one: read it with --format ascii (or --format auto)" \
	"$IM" show --format binary "$tmp/list.txt"
check_fails "a text file given as a list: says it is text" \
	2 "imastore: $d/pcrs-sha256.txt: this is a text file, not a binary measurement list (an ASCII list, as in ascii_runtime_measurements, is read with --format ascii)" \
	"$IM" verify --pcrs "sha256,$d/pcrs-sha256.txt" "$d/pcrs-sha256.txt"
check_fails "--pcrs with a bank and no file: hints at ALG,FILE" \
	2 "imastore: cannot open PCR file sha256: No such file or directory ('sha256' names a bank: the argument is [ALG,]FILE, e.g. sha256,pcrs-sha256.txt)" \
	"$IM" verify --pcrs sha256 "$d/binary_runtime_measurements_sha256"
check_fails "convert --to xml: names the bad value" \
	2 "imastore: unknown output format 'xml' (--to ascii or --to binary)" \
	"$IM" convert --to xml "$d/binary_runtime_measurements_sha256"
check_fails "show --json: an error is a JSON object on stderr" \
	2 '{"error":"'"$tmp"'/nothing: No such file or directory"}' \
	"$IM" show --json "$tmp/nothing"
check_fails "verify --json: an error is a JSON object on stderr" \
	2 '{"error":"cannot open PCR file sha256: No such file or directory' \
	"$IM" verify --json --pcrs sha256 "$d/binary_runtime_measurements_sha256"
check "show without --json: the error stays a line of text" \
	grep -qx "imastore: $tmp/nothing: No such file or directory" <("$IM" show "$tmp/nothing" 2>&1)
finish "fixtures"
