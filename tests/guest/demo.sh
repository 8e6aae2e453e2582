#!/bin/bash
# make demo: boot Debian's stock Linux 7.2 under qemu with a TPM (swtpm),
# make thousands of measurements, and show imastore at work: imastored
# draining the kernel's list into the store (kernel-held records stay
# bounded while the store grows), a few records of its live stream
# (`imastore tail`), then `imastore verify --store` against the
# guest's TPM for every bank. Without build/imastored (not built yet), the
# demo stores the list with `imastore import` instead and says so.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
. "$HERE/lib.sh"
guest_require
BIN=$TOP/build/imastore
DAEMON=$TOP/build/imastored
[ -x "$BIN" ] || guest_die "$BIN not built: run 'make all' first"
FILES=${DEMO_FILES:-4000}
work=$(mktemp -d "$GUEST_TMP/demo.XXXXXX")
trap 'rm -rf "$work"' EXIT

cat >"$work/init" <<EOF2
#!/bin/sh
. /lib/imastore-guest.sh
guest_setup
FILES=$FILES
EOF2
cat >>"$work/init" <<'EOF2'
IMA=/sys/kernel/security/ima
say() { echo "@@DEMO $*"; }
{
	for m in 0x9fa0 0x62656572 0x64626720 0x73636673 0x858458f6; do
		echo "dont_measure fsmagic=$m"
	done
	echo "measure func=BPRM_CHECK"
	echo "measure func=FILE_CHECK mask=MAY_READ uid=0"
} >"$IMA/policy"
mkdir -p /var/lib /tmp/w
slab() { awk '/^Slab:/ { print $2 " kB" }' /proc/meminfo; }
stored() { imastore status --store /var/lib/imastore -j 2>/dev/null |
	sed -n 's/.*"records":\([0-9]*\).*/\1/p' | head -1; }
say "kernel $(uname -r); IMA list files: $(ls $IMA | grep -c runtime_measurements_) ; TPM banks: $(ls /sys/class/tpm/tpm0 | grep -c pcr-)"
if command -v imastored >/dev/null; then
	imastored --foreground --store /var/lib/imastore --trim-records 500 --keep 20 \
		--interval 200 --latency 100 >/tmp/imastored.log 2>&1 &
	DPID=$!
	say "imastored started (pid $DPID): trims when the kernel holds >= 500 records, keeps the newest 20"
else
	say "imastored is not built yet: the kernel's list is stored with 'imastore import' at the end instead"
fi
say "$(printf '%-10s %-18s %-10s %s' measured held-in-kernel stored kernel-slab)"
n=0
while [ $n -lt $FILES ]; do
	for i in $(seq 1 200); do
		echo "file $n $i" >/tmp/w/f$n-$i
		cat /tmp/w/f$n-$i >/dev/null
	done
	n=$((n + 200))
	sleep 0.2
	say "$(printf '%-10s %-18s %-10s %s' $n $(cat $IMA/runtime_measurements_count) ${DPID:+$(stored)} "$(slab)")"
done
if [ -n "${DPID:-}" ]; then
	sleep 1
	say "imastore tail -n 3 (imastored's live stream; -f follows it, --json for pipelines):"
	imastore tail -n 3 2>&1 |
		awk '{ printf "%s seq %s PCR %s %s %.30s... %s\n", $1, $2, $3, $4, $6, $7 }' |
		while read -r l; do say "  $l"; done
	kill -TERM $DPID; wait $DPID
	say "imastored stopped (SIGTERM): $(tail -2 /tmp/imastored.log | tr '\n' ' ')"
else
	imastore import --store /var/lib/imastore $IMA/binary_runtime_measurements_sha256
fi
say "imastore status --store /var/lib/imastore:"
imastore status --store /var/lib/imastore 2>&1 | while read -r l; do say "  $l"; done
say "imastore verify --store /var/lib/imastore --tpm (stored records + the kernel's tail, every bank):"
imastore verify --store /var/lib/imastore --tpm --tcti device:/dev/tpmrm0 >/tmp/v.out 2>&1
rc=$?
while read -r l; do say "  $l"; done </tmp/v.out
guest_finish $rc
EOF2

guest_kernel deb72
root=$work/root
initramfs_new "$root"
initramfs_add_bin "$root" "$BIN"
mv "$root$BIN" "$root/usr/bin/imastore"
if [ -x "$DAEMON" ]; then
	initramfs_add_bin "$root" "$DAEMON"
	mv "$root$DAEMON" "$root/usr/bin/imastored"
fi
initramfs_add_tss "$root"
initramfs_add_file "$root" "$work/init" /init
chmod 0755 "$root/init"
initramfs_pack "$root" "$work/initrd.gz"
echo "booting Debian's Linux $(basename "$(dirname "$GUEST_VMLINUZ")") with a TPM (qemu + swtpm, no KVM: give it a minute)..."
log=$GUEST_CACHE/logs/demo
mkdir -p "$log"
rm -f "$log/console.log"
# show the guest's @@DEMO lines as they come
shown=0
show_new() {
	local lines
	[ -e "$log/console.log" ] || return 0
	lines=$(tr -d '\r' <"$log/console.log" 2>/dev/null | grep -a -o '@@DEMO .*' | sed 's/^@@DEMO //') || true
	[ -n "$lines" ] || return 0
	tail -n +$((shown + 1)) <<<"$lines"
	shown=$(wc -l <<<"$lines")
}
guest_run "$GUEST_VMLINUZ" "$work/initrd.gz" "$GUEST_KARGS quiet ima_template=ima-ng" "$log" 900 \
	>"$work/run.out" 2>&1 &
run_pid=$!
while kill -0 $run_pid 2>/dev/null; do
	show_new
	sleep 0.5
done
rc=0
wait $run_pid || rc=$?
show_new
[ $rc = 0 ] || cat "$work/run.out"
echo "demo finished (guest status $rc; console log: $log/console.log)"
exit $rc
