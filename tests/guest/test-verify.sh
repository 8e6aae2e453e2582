#!/bin/bash
# test-verify.sh: `imastore verify LIST --tpm` against real kernels and a real
# (emulated) TPM.  Boots deb61 and deb72 with build/imastore inside, makes
# measurements (files, scripts, violations), then in the guest verifies every
# bank's list (live from securityfs and as a copy, binary and ASCII) and checks
# that a copy with one flipped byte of template data is refused (exit 1).
#
#   test-verify.sh [deb61|deb72|staging72 ...]     default: deb61 deb72
#
# Prints one line per check and "N passed, N failed"; exits non-zero on any
# failure.  Missing qemu/kernels is a failure, unless IMASTORE_SKIP_GUEST=1.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BIN=${IMASTORE_BIN:-$TOP/build/imastore}

if [ "${IMASTORE_SKIP_GUEST:-0}" = 1 ]; then
	echo "test-verify: skipped (IMASTORE_SKIP_GUEST=1)"
	exit 0
fi
. "$HERE/lib.sh"
guest_require
[ -x "$BIN" ] || guest_die "$BIN not built: run 'make all' first"

KERNELS=${*:-deb61 deb72}
work=$(mktemp -d "$GUEST_TMP/verify.XXXXXX")
trap 'rm -rf "$work"' EXIT
# One copy for all guests, taken now (a rebuild meanwhile cannot mix versions).
cp "$BIN" "$work/imastore"
BIN=$work/imastore

# The guest's /init.  Checks print "@@CHECK PASS|FAIL <what> (...)".
cat >"$work/init" <<'EOF'
#!/bin/sh
. /lib/imastore-guest.sh
guest_setup
IMA=/sys/kernel/security/ima
[ -d "$IMA" ] || { glog "no $IMA"; guest_finish 2; }
[ -e /dev/tpmrm0 ] || { glog "no /dev/tpmrm0"; guest_finish 2; }
# Copies of the lists go to a ramfs, which the policy does not measure:
# reading them must not extend PCR 10 behind the copy's back.
mkdir -p /nm
mount -t ramfs ramfs /nm || { glog "cannot mount ramfs"; guest_finish 2; }
{
	for m in 0x9fa0 0x62656572 0x64626720 0x73636673 0x858458f6; do
		echo "dont_measure fsmagic=$m"
	done
	echo "measure func=BPRM_CHECK"
	echo "measure func=FILE_CHECK mask=MAY_READ uid=0"
} >/tmp/policy
cat /tmp/policy >"$IMA/policy" || { glog "policy refused"; guest_finish 2; }

# Measurements: files, changed files, scripts, both kinds of violation.
mkdir -p /tmp/w
for i in 1 2 3 4 5 6 7 8; do
	echo "verify test $i" >/tmp/w/f$i
	cat /tmp/w/f$i >/dev/null
done
echo changed >>/tmp/w/f1
cat /tmp/w/f1 >/dev/null
printf '#!/bin/sh\ntrue\n' >/tmp/w/s.sh
chmod +x /tmp/w/s.sh
/tmp/w/s.sh
echo t >/tmp/w/tomtou
exec 3</tmp/w/tomtou
echo x >>/tmp/w/tomtou
exec 3<&-
echo w >/tmp/w/writers
exec 4>>/tmp/w/writers
cat /tmp/w/writers >/dev/null
exec 4>&-
echo last >/tmp/w/last
cat /tmp/w/last >/dev/null

TCTI=device:/dev/tpmrm0
fails=0
check() { # expected-status description command...
	exp=$1 what=$2
	shift 2
	"$@" >/tmp/check.out 2>&1
	st=$?
	CHECK_OK=0
	if [ "$st" = "$exp" ]; then
		CHECK_OK=1
		echo "@@CHECK PASS $what (exit $st)"
	else
		echo "@@CHECK FAIL $what (exit $st, expected $exp)"
		sed 's/^/    /' /tmp/check.out | head -n 20
		fails=$((fails + 1))
	fi
}
# flip BYTE-OFFSET FILE: xor one byte with 0x01, in place.
flip() {
	o=$(dd if="$2" bs=1 skip="$1" count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
	[ -n "$o" ] || return 1
	printf "\\$(printf %o $((o ^ 1)))" | dd of="$2" bs=1 seek="$1" count=1 conv=notrunc 2>/dev/null
}
# Offset of a byte inside the file digest of the first record (boot_aggregate,
# ima-ng): pcr(4) + template digest(D) + name len(4) + "ima-ng"(6) + data
# len(4) + field len(4) + "sha256:\0"(8) + 3.
digest_size() {
	case "$1" in sha1) echo 20 ;; sha256) echo 32 ;; sha384) echo 48 ;; sha512) echo 64 ;; esac
}

# The legacy list names on 6.1 (sha1 template digests), one pair per bank on 7.2.
if [ -e "$IMA/binary_runtime_measurements_sha1" ]; then
	LISTS=
	for f in "$IMA"/binary_runtime_measurements_*; do
		case "$f" in *_staged) continue ;; esac
		LISTS="$LISTS ${f##*binary_runtime_measurements_}"
	done
else
	LISTS=legacy
fi
# Warm-up: the first run loads imastore and its libraries (measured).
imastore --help >/dev/null 2>&1 || true
for b in $LISTS; do
	if [ "$b" = legacy ]; then
		bin=$IMA/binary_runtime_measurements asc=$IMA/ascii_runtime_measurements d=20 tag=sha1-list
	else
		bin=$IMA/binary_runtime_measurements_$b asc=$IMA/ascii_runtime_measurements_$b tag=$b
		d=$(digest_size "$b")
	fi
	check 0 "live binary list $tag" imastore verify "$bin" --tpm --tcti "$TCTI"
	check 0 "live ascii list $tag" imastore verify "$asc" --tpm --tcti "$TCTI"
	cp "$bin" "/nm/$tag.bin"
	cp "$asc" "/nm/$tag.txt"
	check 0 "copied binary list $tag" imastore verify "/nm/$tag.bin" --tpm --tcti "$TCTI"
	bin_ok=$CHECK_OK
	check 0 "copied ascii list $tag" imastore verify "/nm/$tag.txt" --tpm --tcti "$TCTI"
	asc_ok=$CHECK_OK
	cp "/nm/$tag.bin" "/nm/$tag.flipped.bin"
	flip $((4 + d + 4 + 6 + 4 + 4 + 8 + 3)) "/nm/$tag.flipped.bin" || glog "flip failed"
	# A refusal only means something if the unmodified copy verified.
	if [ "$bin_ok" != 1 ]; then
		echo "@@CHECK FAIL binary list $tag with one flipped byte: not meaningful, the unmodified copy did not verify"
		fails=$((fails + 1))
	elif cmp -s "/nm/$tag.bin" "/nm/$tag.flipped.bin"; then
		echo "@@CHECK FAIL flipping a byte of $tag.bin (no change)"
		fails=$((fails + 1))
	else
		check 1 "binary list $tag with one flipped template-data byte" \
			imastore verify "/nm/$tag.flipped.bin" --tpm --tcti "$TCTI"
	fi
	# ASCII: change one hex digit of boot_aggregate's file digest.
	awk 'NR == 1 { split($4, a, ":"); c = substr(a[2], 2, 1); r = (c == "0") ? "1" : "0";
		$0 = substr($0, 1, index($0, a[2])) r substr($0, index($0, a[2]) + 2) } { print }' \
		"/nm/$tag.txt" >"/nm/$tag.flipped.txt"
	if [ "$asc_ok" != 1 ]; then
		echo "@@CHECK FAIL ascii list $tag with one changed digit: not meaningful, the unmodified copy did not verify"
		fails=$((fails + 1))
	elif cmp -s "/nm/$tag.txt" "/nm/$tag.flipped.txt"; then
		echo "@@CHECK FAIL changing a digit of $tag.txt (no change)"
		fails=$((fails + 1))
	else
		check 1 "ascii list $tag with one changed digest digit" \
			imastore verify "/nm/$tag.flipped.txt" --tpm --tcti "$TCTI"
	fi
done
glog "$(cat $IMA/runtime_measurements_count) records, $(cat $IMA/violations) violations"
[ "$fails" = 0 ] && guest_finish 0
guest_finish 1
EOF

for k in $KERNELS; do
	guest_kernel "$k"
	initramfs_root=$work/root-$k
	initramfs_new "$initramfs_root"
	initramfs_add_bin "$initramfs_root" "$BIN"
	mv "$initramfs_root$BIN" "$initramfs_root/usr/bin/imastore"
	initramfs_add_tss "$initramfs_root"
	initramfs_add_file "$initramfs_root" "$work/init" /init
	chmod 0755 "$initramfs_root/init"
	initramfs_pack "$initramfs_root" "$work/initrd-$k.gz"
	rm -rf "$initramfs_root"
	log=$GUEST_CACHE/logs/test-verify/$k
	guest_run_checks "$k" "$work/initrd-$k.gz" "$GUEST_KARGS quiet ima_template=ima-ng" "$log"
	if [ "$GUEST_RC" = 1 ]; then
		# Show what imastore said (indented lines after a FAIL).
		tr -d '\r' <"$log/console.log" | grep -a -A20 '@@CHECK FAIL' | grep -a '^    ' | head -n 40 || true
	fi
	echo "   ($k: ${GUEST_SECONDS}s)"
done
echo "test-verify: $GUEST_PASSED passed, $GUEST_FAILED failed"
[ "$GUEST_FAILED" = 0 ]
