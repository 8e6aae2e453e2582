#!/bin/bash
# test-view-fapi.sh: tpm2-tss FAPI (sid's tpm2-tools + libtss2-fapi 4.x,
# tests/guest/fapi-sid.sh) reads imastored's view as its IMA event log
# (fapi-config.json "ima_log_file") on stock 7.2 (deb72) while imastored
# trims: FAPI is provisioned on the guest's swtpm (ek_cert_less), a
# restricted signing key made, and after each round of measurements and
# trims `tss2_quote` of PCR 10 (FAPI checks the event log against the
# quoted PCR as it quotes) and `tss2_verifyquote` succeed; against the
# trimmed securityfs list the quote fails (the negative control).
#
# FAPI's IMA reader knows the sha1 list only (ifapi_ima_eventlog.c reads a
# 20-byte template digest), so PCR 10 is quoted in the sha1 bank (the
# profile's pcr_selection); the other PCRs stay in sha256.
#
# One line per check, then "N passed, N failed"; exits non-zero on failure.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
OUTD=${OUT:-build}
case $OUTD in /*) ;; *) OUTD=$TOP/$OUTD ;; esac
if [ "${IMASTORE_SKIP_GUEST:-0}" = 1 ]; then
	echo "test-view-fapi: skipped (IMASTORE_SKIP_GUEST=1)"
	exit 0
fi
. "$HERE/lib.sh"
guest_require
for b in imastore imastored; do
	[ -x "$OUTD/$b" ] || guest_die "$OUTD/$b not built: run 'make all' first"
done
SID=$("$HERE/fapi-sid.sh" | tail -n 1) || guest_die "sid's tpm2-tools/tpm2-tss unavailable"
work=$(mktemp -d "$GUEST_TMP/view-fapi.XXXXXX")
trap 'rm -rf "${work:?}"' EXIT

cat >"$work/init" <<'EOF'
#!/bin/sh
. /lib/imastore-guest.sh
guest_setup
IMA=/sys/kernel/security/ima
S=/var/lib/imastore
V=/run/imastore/ima
F=/fapi
ROUNDS=5
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
L=/sid/usr/lib/x86_64-linux-gnu
tss2() { $L/ld-linux-x86-64.so.2 --library-path $L /sid/usr/bin/tss2 "$@"; }
[ -e /dev/tpmrm0 ] || { glog "no /dev/tpmrm0"; guest_finish 2; }
mkdir -p $S /nm $F
for d in $S /nm $F; do mount -t ramfs ramfs $d || { glog "ramfs"; guest_finish 2; }; done
chmod 0700 $S
{
	for m in 0x9fa0 0x62656572 0x64626720 0x73636673 0x858458f6; do echo "dont_measure fsmagic=$m"; done
	echo "measure func=FILE_CHECK mask=MAY_READ uid=0"
} >"$IMA/policy" || { glog "policy refused"; guest_finish 2; }
imastore --help >/dev/null 2>&1
imastored --help >/dev/null 2>&1
tss2 --help >/dev/null 2>&1 || true
cat >$F/P_ECCP256SHA256.json <<'JSON'
{
    "type": "TPM2_ALG_ECC",
    "nameAlg": "TPM2_ALG_SHA256",
    "srk_template": "system,restricted,decrypt,0x81000001",
    "srk_persistent": 0,
    "ek_template": "system,restricted,decrypt",
    "ecc_signing_scheme": { "scheme": "TPM2_ALG_ECDSA", "details": { "hashAlg": "TPM2_ALG_SHA256" } },
    "sym_mode": "TPM2_ALG_CFB",
    "sym_parameters": { "algorithm": "TPM2_ALG_AES", "keyBits": "128", "mode": "TPM2_ALG_CFB" },
    "sym_block_size": 16,
    "pcr_selection": [
        { "hash": "TPM2_ALG_SHA1", "pcrSelect": [ 10 ] },
        { "hash": "TPM2_ALG_SHA256", "pcrSelect": [ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23 ] }
    ],
    "curveID": "TPM2_ECC_NIST_P256",
    "ek_policy": { "description": "Endorsement hierarchy, for policy secret.",
                   "policy": [ { "type": "POLICYSECRET", "objectName": "4000000b" } ] }
}
JSON
config() {	# config IMA-LOG
	cat >$F/fapi-config.json <<JSON
{ "profile_name": "P_ECCP256SHA256", "profile_dir": "$F/", "user_dir": "$F/user",
  "system_dir": "$F/system", "log_dir": "$F/log", "tcti": "device:/dev/tpmrm0",
  "system_pcrs": [], "ek_cert_less": "yes", "firmware_log_file": "/dev/null",
  "ima_log_file": "$1" }
JSON
}
export TSS2_FAPICONF=$F/fapi-config.json
config $V/binary_runtime_measurements
printf 'imastore-view-01' >$F/nonce

imastored --foreground --store $S --trim-records 40 --keep 5 --latency 50 --interval 1000 \
	2>/nm/d.log &
dpid=$!
n=0
while [ ! -e $V/runtime_measurements_count ] && [ $n -lt 200 ]; do usleep 50000; n=$((n + 1)); done
[ -e $V/runtime_measurements_count ] && pass "imastored serves the view" ||
	{ fail "no view: $(tr '\n' ' ' </nm/d.log | head -c 300)"; guest_finish 1; }
if tss2 provision >/nm/prov.out 2>&1 &&
	tss2 createkey --path=HS/SRK/quotekey --type="noDa, restricted, sign" --authValue="" >>/nm/prov.out 2>&1; then
	pass "FAPI provisioned on the guest's TPM, a quote key made"
else
	fail "FAPI provisioning: $(grep -v WARNING /nm/prov.out | tail -n 3 | tr '\n' ' ')"
fi
cat $V/binary_runtime_measurements >/dev/null	# its open is measured once
quote() {	# quote TAG: tss2_quote PCR 10, then tss2_verifyquote
	rm -f $F/q.json $F/s.sig $F/log.json
	tss2 quote --keyPath=HS/SRK/quotekey --pcrList="10" --qualifyingData=$F/nonce \
		--quoteInfo=$F/q.json --signature=$F/s.sig --pcrLog=$F/log.json --force >$F/q.out 2>&1 &&
	tss2 verifyquote --publicKeyPath=HS/SRK/quotekey --qualifyingData=$F/nonce \
		--quoteInfo=$F/q.json --signature=$F/s.sig --pcrLog=$F/log.json >$F/v.out 2>&1
}
t0=$(grep -a -c 'deleted [1-9]' /nm/d.log || true)
r=0
while [ $r -lt $ROUNDS ]; do
	r=$((r + 1))
	mkfiles /tmp/m/r$r 100
	n=0
	while [ "$(count)" -ge 45 ] && [ $n -lt 100 ]; do usleep 50000; n=$((n + 1)); done
	trims=$(( $(grep -a -c 'deleted [1-9]' /nm/d.log || true) - t0 ))
	if quote; then
		ev=$(grep -o '"recnum"' $F/log.json | wc -l)
		pass "round $r ($trims trims so far, the kernel holds $(count)): tss2_quote and tss2_verifyquote of PCR 10 with the view as IMA log ($ev events)"
	else
		fail "round $r: $(cat $F/q.out $F/v.out 2>/dev/null | grep -v WARNING | tail -n 3 | tr '\n' ' ')"
	fi
done
[ "$trims" -ge $ROUNDS ] && pass "$trims trims happened during the quotes" || fail "only $trims trims"
kill -TERM $dpid
wait $dpid || true
config $IMA/binary_runtime_measurements
if quote; then
	fail "negative control: FAPI quoted and verified PCR 10 with the trimmed securityfs list"
else
	pass "negative control: against the trimmed securityfs list FAPI fails: $(cat $F/q.out $F/v.out 2>/dev/null | grep -v WARNING | tail -n 1 | head -c 160)"
fi
cp /nm/d.log /out/ 2>/dev/null
[ "$fails" = 0 ] && guest_finish 0
guest_finish 1
EOF

guest_kernel deb72
root=$work/root
initramfs_new "$root"
cp "$OUTD/imastore" "$OUTD/imastored" "$work/"
initramfs_add_bin "$root" "$work/imastore" "$work/imastored"
mv "$root$work/imastore" "$root/usr/bin/imastore"
mv "$root$work/imastored" "$root/usr/sbin/imastored"
initramfs_add_tss "$root"
mkdir -p "$root/sid"
cp -a "$SID/." "$root/sid/"
initramfs_add_file "$root" "$work/init" /init
chmod 0755 "$root/init"
initramfs_pack "$root" "$work/initrd.gz"
rm -rf "$root"
log=$GUEST_CACHE/logs/test-view-fapi/deb72
guest_run_checks deb72 "$work/initrd.gz" "$GUEST_KARGS quiet ima_template=ima-ng" "$log" 900
tr -d '\r' <"$log/console.log" | grep -a '^guest: ' | sed "s/^/   deb72 /" || true
echo "   (deb72: ${GUEST_SECONDS}s; logs in $log/files/)"
echo "test-view-fapi: $GUEST_PASSED passed, $GUEST_FAILED failed"
[ "$GUEST_FAILED" = 0 ]
