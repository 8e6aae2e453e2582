#!/bin/bash
# test-view.sh: imastored's view (docs/view.md) on real kernels under qemu +
# swtpm, while imastored trims:
#   - the files and their attributes; an unprivileged reader gets EACCES;
#   - a Keylime-style reader (tests/tools/kl_reader.c, rust-keylime's
#     algorithm) holds ascii_runtime_measurements_sha256 open across >= 20
#     trims, "quotes" (PCR 10 first, then the next entries), and every
#     answer continues the last and replays to the quoted PCR 10;
#   - a reader holding the binary sha256 list; cat of every file and dd at
#     random offsets and sizes equal `imastore export` of the same bank;
#   - evmctl ima_measurement on the view's sha1 list matches the TPM; on
#     the trimmed securityfs list it does not (the negative control);
#   - no reader of the view ever makes imastored's writer open meet EBUSY
#     (counted); a securityfs reader does (the counter's control);
#   - imastored killed under its readers: they get an error, and what they
#     read before is the list's prefix; the restart detaches the stale mount.
#
#   test-view.sh [deb72|staging72 ...]   default: both (staging72 booted with
#     ima_flush_htable: A/D only)
#
# One line per check, then "N passed, N failed"; exits non-zero on failure.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
OUTD=${OUT:-build}
case $OUTD in /*) ;; *) OUTD=$TOP/$OUTD ;; esac
if [ "${IMASTORE_SKIP_GUEST:-0}" = 1 ]; then
	echo "test-view: skipped (IMASTORE_SKIP_GUEST=1)"
	exit 0
fi
. "$HERE/lib.sh"
guest_require
for b in imastore imastored tools/kl_reader; do
	[ -x "$OUTD/$b" ] || guest_die "$OUTD/$b not built: run 'make all' first"
done
command -v evmctl >/dev/null || guest_die "evmctl not found: make deps (ima-evm-utils)"
KERNELS=${*:-deb72 staging72}
work=$(mktemp -d "$GUEST_TMP/view.XXXXXX")
trap 'rm -rf "${work:?}"' EXIT

cat >"$work/init" <<'EOF'
#!/bin/sh
. /lib/imastore-guest.sh
guest_setup
IMA=/sys/kernel/security/ima
S=/var/lib/imastore
V=/run/imastore/ima
PCR=/sys/class/tpm/tpm0
KEEP=5
T=40
ROUNDS=25
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
[ -c /dev/fuse ] || { glog "no /dev/fuse"; guest_finish 2; }
mkdir -p $S /nm
mount -t ramfs ramfs $S && chmod 0700 $S || { glog "ramfs"; guest_finish 2; }
mount -t ramfs ramfs /nm || { glog "ramfs"; guest_finish 2; }
# what root reads is measured, the view's FUSE files too (as on a real
# system); the store and scratch files are on ramfs, which is not
{
	for m in 0x9fa0 0x62656572 0x64626720 0x73636673 0x858458f6; do echo "dont_measure fsmagic=$m"; done
	echo "measure func=FILE_CHECK mask=MAY_READ uid=0"
} >"$IMA/policy" || { glog "policy refused"; guest_finish 2; }
for b in imastore imastored evmctl kl_reader /usr/bin/setpriv /usr/bin/dd; do $b --help >/dev/null 2>&1; done
MODE=N
[ -e "$IMA/binary_runtime_measurements_sha256_staged" ] && grep -q ima_flush_htable /proc/cmdline && MODE=AD

start_daemon() {	# start_daemon LOG: imastored with its view; waits for the view
	imastored --foreground --store $S --trim-records $T --keep $KEEP --latency 50 \
		--interval 1000 2>>"$1" &
	dpid=$!
	n=0
	while [ ! -e $V/runtime_measurements_count ] && [ $n -lt 200 ]; do usleep 50000; n=$((n + 1)); done
	[ -e $V/runtime_measurements_count ]
}
trims() { grep -a -c 'deleted [1-9]' "$1" || true; }
# export BANK FORMAT OUT: the store alone, after a read of the view brought it up to date
export_now() {
	cat $V/runtime_measurements_count >/dev/null
	imastore export --store $S --no-kernel --bank "$1" --format "$2" -o "$3"
}
# prefix_of A B: file A is a prefix of file B
prefix_of() {
	sa=$(stat -c %s "$1"); sb=$(stat -c %s "$2")
	[ "$sa" -le "$sb" ] && head -c "$sa" "$2" | cmp -s - "$1"
}
pcr_file() {	# pcr_file ALG OUT: evmctl's --pcrs format from sysfs
	: >"$2"
	for n in $(seq 0 23); do
		printf 'PCR-%02d: %s\n' "$n" "$(tr 'A-F' 'a-f' <$PCR/pcr-$1/$n)" >>"$2"
	done
}

# ---- A: the files ----
if start_daemon /nm/d1.log; then
	pass "$MODE: imastored mounted the view at $V"
else
	fail "$MODE: no view at $V: $(tr '\n' ' ' </nm/d1.log | head -c 400)"
	guest_finish 1
fi
grep -a 'view' /nm/d1.log | head -n 2 | sed 's/^/guest: /'
want="ascii_runtime_measurements ascii_runtime_measurements_sha1 ascii_runtime_measurements_sha256 ascii_runtime_measurements_sha384 ascii_runtime_measurements_sha512 binary_runtime_measurements binary_runtime_measurements_sha1 binary_runtime_measurements_sha256 binary_runtime_measurements_sha384 binary_runtime_measurements_sha512 runtime_measurements_count violations"
got=$(ls $V | tr '\n' ' ' | sed 's/ $//')
[ "$got" = "$want" ] && pass "the view has securityfs's files, every bank" || fail "files: $got"
[ "$(readlink $V/binary_runtime_measurements)" = binary_runtime_measurements_sha1 ] &&
	pass "binary_runtime_measurements -> binary_runtime_measurements_sha1" || fail "legacy link"
a=$(stat -c '%a %u %g %s' $V/binary_runtime_measurements_sha256)
[ "$a" = "440 0 0 0" ] && pass "0440 root:root, size 0" || fail "attributes $a"
if /usr/bin/setpriv --reuid 65534 --regid 65534 --clear-groups cat $V/ascii_runtime_measurements_sha1 >/dev/null 2>/nm/eacces; then
	fail "an unprivileged reader could read the view"
else
	grep -q 'Permission denied' /nm/eacces && pass "an unprivileged reader: EACCES" ||
		fail "unprivileged reader: $(cat /nm/eacces)"
fi

# ---- B: a Keylime reader and a held fd across trims ----
mkfifo /nm/klc
kl_reader $V/ascii_runtime_measurements_sha256 $PCR/pcr-sha256/10 /nm/kl.acc </nm/klc >/nm/kl.out 2>&1 &
klpid=$!
exec 5>/nm/klc
exec 6<$V/binary_runtime_measurements_sha256
cat <&6 >/nm/held.bin
t0=$(trims /nm/d1.log)
r=0
while [ $r -lt $ROUNDS ]; do
	r=$((r + 1))
	mkfiles /tmp/m/r$r 60
	n=0
	while [ "$(count)" -ge $((T + KEEP)) ] && [ $n -lt 100 ]; do usleep 50000; n=$((n + 1)); done
	echo q >&5
	n=0
	while [ "$(grep -c '^ok\|^FAIL' /nm/kl.out)" -lt $r ] && [ $n -lt 400 ]; do usleep 50000; n=$((n + 1)); done
	cat <&6 >>/nm/held.bin
done
t1=$(trims /nm/d1.log)
ntrim=$((t1 - t0))
nok=$(grep -c '^ok' /nm/kl.out || true)
[ "$nok" = $ROUNDS ] && pass "Keylime reader: $ROUNDS quotes, each continues the last and replays to the quoted PCR 10 ($(grep '^ok' /nm/kl.out | tail -n 1))" ||
	fail "Keylime reader: $nok of $ROUNDS quotes good: $(grep -v '^ok' /nm/kl.out | head -n 3 | tr '\n' ' ')"
[ "$ntrim" -ge 20 ] && pass "the reader held its fd across $ntrim trims" || fail "only $ntrim trims while the reader held its fd"
glog "kernel count now $(count); $(grep -a -c 'cycle:' /nm/d1.log) cycles logged"

# ---- C: quiet: everything equals export ----
# (busybox cat uses sendfile(): a kernel that splices FOPEN_DIRECT_IO files
# through the page cache reads 0 bytes of a size-0 file; docs/view.md)
glog "sendfile: busybox cat to a pipe $(busybox cat $V/ascii_runtime_measurements_sha1 | wc -c) bytes, to a file $(busybox cat $V/ascii_runtime_measurements_sha1 >/nm/sf; stat -c %s /nm/sf) bytes, read(2) $(/usr/bin/dd if=$V/ascii_runtime_measurements_sha1 bs=64k status=none | wc -c) bytes"
for f in $(ls $V); do cat $V/$f >/dev/null; done	# (opens are measured once)
export_now sha256 ascii /nm/e.txt
[ -s /nm/kl.acc ] && prefix_of /nm/kl.acc /nm/e.txt && pass "Keylime reader: all it got ($(wc -l </nm/kl.acc) lines) is the list's head (export)" ||
	fail "Keylime reader's text is not a prefix of export ($(wc -l </nm/kl.acc) vs $(wc -l </nm/e.txt) lines)"
export_now sha256 binary /nm/e.bin
[ -s /nm/held.bin ] && prefix_of /nm/held.bin /nm/e.bin && pass "the held fd read the list's head, no gap, no repeat ($(stat -c %s /nm/held.bin) bytes)" ||
	fail "the held fd's bytes are not a prefix of export ($(stat -c %s /nm/held.bin) vs $(stat -c %s /nm/e.bin))"
# (each read, with read(2): busybox cat's sendfile reads nothing, docs/view.md,
# is a fresh read; the export after it may hold more: with
# ima_flush_htable every D empties the kernel's duplicate table, so opening
# a view file again is measured again)
ok=1 same=0
for b in sha1 sha256 sha384 sha512; do
	for fm in binary ascii; do
		/usr/bin/dd if=$V/${fm}_runtime_measurements_$b bs=64k status=none >/nm/v
		export_now $b $fm /nm/x
		if [ ! -s /nm/v ]; then
			ok=0; glog "read of $fm $b: nothing"
		elif cmp -s /nm/v /nm/x; then
			same=$((same + 1))
		elif ! prefix_of /nm/v /nm/x; then
			ok=0; glog "cat $fm $b is not the head of export"
		fi
	done
done
[ $ok = 1 ] && pass "cat of every file is export of its bank and format (equal: $same of 8; the others its head)" ||
	fail "cat of a file differs from export"
ok=1
for f in binary_runtime_measurements_sha512 ascii_runtime_measurements_sha1; do
	b=${f##*_}; fm=${f%%_*}
	export_now $b $fm /nm/x
	size=$(stat -c %s /nm/x)
	for k in $(seq 1 25); do
		off=$(( (RANDOM * 32768 + RANDOM) % size )); len=$(( 1 + RANDOM % 20000 ))
		/usr/bin/dd if=$V/$f bs=65536 skip=$off count=$len iflag=skip_bytes,count_bytes status=none >/nm/d1 || true
		/usr/bin/dd if=/nm/x bs=65536 skip=$off count=$len iflag=skip_bytes,count_bytes status=none >/nm/d2 || true
		cmp -s /nm/d1 /nm/d2 || { ok=0; glog "dd $f at $off+$len differs"; }
	done
done
[ $ok = 1 ] && pass "dd at 50 random offsets and sizes equals export" || fail "dd at random offsets differs"
read -r c <$V/runtime_measurements_count
imastore export --store $S --no-kernel --format ascii -o /nm/x
k=$(count)
read -r c2 <$V/runtime_measurements_count
[ "$c" -le "$(wc -l </nm/x)" ] && [ "$c" -ge "$(wc -l </nm/e.txt)" ] && [ "$c" -gt "$k" ] && [ "$c2" -ge "$c" ] &&
	pass "runtime_measurements_count $c: every record since boot (the store $(wc -l </nm/x), the kernel holds $k), never down ($c2)" ||
	fail "runtime_measurements_count $c then $c2, export $(wc -l </nm/x), kernel $k"
pcr_file sha1 /nm/p1; pcr_file sha256 /nm/p256
cat $V/binary_runtime_measurements_sha1 >/dev/null
if evmctl ima_measurement --ignore-violations --pcrs sha1,/nm/p1 --pcrs sha256,/nm/p256 \
	$V/binary_runtime_measurements_sha1 >/nm/evm.out 2>&1; then
	pass "evmctl ima_measurement on the view's sha1 list matches the TPM ($(tail -n 1 /nm/evm.out))"
else
	fail "evmctl on the view: $(tail -n 3 /nm/evm.out | tr '\n' ' ')"
fi
echo "end" >&5
exec 5>&- 6<&-
wait $klpid || true
kill -TERM $dpid
wait $dpid && rc=0 || rc=$?
[ "$rc" = 0 ] && pass "SIGTERM: imastored exited 0 and unmounted" || fail "SIGTERM: exit $rc"
busy=$(sed -n 's/.*list opens that met EBUSY: \([0-9]*\).*/\1/p' /nm/d1.log)
grep -a 'view: .* opens' /nm/d1.log | sed 's/^/guest: /'
[ "$busy" = 0 ] && pass "no reader of the view made imastored's list open meet EBUSY (0 in $(grep -a -c 'cycle:' /nm/d1.log) cycles)" ||
	fail "imastored's list open met EBUSY $busy times"
if evmctl ima_measurement --ignore-violations --pcrs sha1,/nm/p1 --pcrs sha256,/nm/p256 \
	$IMA/binary_runtime_measurements_sha1 >/nm/evm2.out 2>&1; then
	fail "negative control: evmctl matched the trimmed securityfs list"
else
	pass "negative control: evmctl on the trimmed securityfs list fails ($(grep -v '^$' /nm/evm2.out | tail -n 3 | tr '\n' ' ' | head -c 200))"
fi

# ---- D: imastored killed under its readers; the restart ----
start_daemon /nm/d2.log || fail "restart: no view"
mkfiles /tmp/m/k1 30
( exec 7<$V/binary_runtime_measurements_sha256
  while cat <&7 >>/nm/k.bin 2>>/nm/k.err; do usleep 20000; done ) &
rpid=$!
usleep 500000
mkfiles /tmp/m/k2 30 &
mpid=$!
usleep 300000
kill -9 $dpid
wait $dpid 2>/dev/null || true
wait $rpid $mpid
grep -q 'Transport endpoint is not connected\|Software caused connection abort\|I/O error' /nm/k.err &&
	pass "imastored killed: the held fd's read fails ($(head -n 1 /nm/k.err))" || fail "killed: reader said '$(cat /nm/k.err)'"
if cat $V/runtime_measurements_count >/dev/null 2>/nm/stale.err; then
	fail "killed: the view still answers"
else
	pass "killed: the view answers $(sed 's/.*: //' /nm/stale.err) (a stale mount)"
fi
start_daemon /nm/d3.log && grep -q 'detached a stale FUSE mount' /nm/d3.log &&
	pass "restart: the stale mount is detached, the view is back" ||
	fail "restart after the kill: $(tr '\n' ' ' </nm/d3.log | head -c 300)"
export_now sha256 binary /nm/e.bin
[ -s /nm/k.bin ] && prefix_of /nm/k.bin /nm/e.bin && pass "killed: what the reader got before is the list's head ($(stat -c %s /nm/k.bin) bytes)" ||
	fail "killed: the reader's bytes are not the list's head"
# an agent restarted with imastored (systemd PartOf=) starts over and is right
mkfifo /nm/klc2
kl_reader $V/ascii_runtime_measurements_sha256 $PCR/pcr-sha256/10 /nm/kl2.acc </nm/klc2 >/nm/kl2.out 2>&1 &
klpid=$!
exec 5>/nm/klc2
for r in 1 2 3; do
	mkfiles /tmp/m/a$r 50
	echo q >&5
	n=0
	while [ "$(grep -c '^ok\|^FAIL' /nm/kl2.out)" -lt $r ] && [ $n -lt 400 ]; do usleep 50000; n=$((n + 1)); done
done
echo end >&5
exec 5>&-
wait $klpid && pass "the restarted agent's quotes replay to PCR 10 ($(grep '^ok' /nm/kl2.out | tail -n 1))" ||
	fail "restarted agent: $(grep -v '^ok' /nm/kl2.out | head -n 2 | tr '\n' ' ')"
# the EBUSY counter counts: a securityfs reader makes the writer wait
sleep 2 <$IMA/binary_runtime_measurements_sha256 &
hpid=$!
mkfiles /tmp/m/b 60
wait $hpid
usleep 500000
kill -TERM $dpid
wait $dpid || true
busy=$(sed -n 's/.*list opens that met EBUSY: \([0-9]*\).*/\1/p' /nm/d3.log)
[ "${busy:-0}" -gt 0 ] && pass "control: a securityfs reader made imastored meet EBUSY ($busy)" ||
	fail "control: the EBUSY counter stayed ${busy:-empty}"
if grep -aq '^<[0-3]>' /nm/d1.log; then
	fail "imastored logged errors: $(grep -a '^<[0-3]>' /nm/d1.log | head -n 3 | tr '\n' ' ')"
else
	pass "imastored logged no errors while serving the view"
fi
cp /nm/d1.log /nm/d2.log /nm/d3.log /nm/kl.out /out/ 2>/dev/null
[ "$fails" = 0 ] && guest_finish 0
guest_finish 1
EOF

for k in $KERNELS; do
	guest_kernel "$k"
	root=$work/root-$k
	initramfs_new "$root"
	cp "$OUTD/imastore" "$OUTD/imastored" "$OUTD/tools/kl_reader" "$work/"
	initramfs_add_bin "$root" "$work/imastore" "$work/imastored" "$work/kl_reader" \
		"$(command -v evmctl)" /usr/bin/setpriv /usr/bin/dd
	mv "$root$work/imastore" "$root/usr/bin/imastore"
	mv "$root$work/imastored" "$root/usr/sbin/imastored"
	mv "$root$work/kl_reader" "$root/usr/bin/kl_reader"
	initramfs_add_tss "$root"
	initramfs_add_file "$root" "$work/init" /init
	chmod 0755 "$root/init"
	initramfs_pack "$root" "$work/initrd-$k.gz"
	rm -rf "$root"
	args="$GUEST_KARGS quiet ima_template=ima-ng"
	[ "$k" = staging72 ] && args="$args ima_flush_htable"
	log=$GUEST_CACHE/logs/test-view/$k
	guest_run_checks "$k" "$work/initrd-$k.gz" "$args" "$log" 900
	tr -d '\r' <"$log/console.log" | grep -a '^guest: ' | sed "s/^/   $k /" || true
	echo "   ($k: ${GUEST_SECONDS}s; logs in $log/files/)"
done
echo "test-view: $GUEST_PASSED passed, $GUEST_FAILED failed"
[ "$GUEST_FAILED" = 0 ]
