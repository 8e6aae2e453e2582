#!/bin/sh
# shellcheck shell=sh
# /init of test-multiboot.sh's guests (busybox sh). One script for every boot;
# what a boot does comes from the kernel command line:
#   mb.step=boot   imastored + workload, stopped cleanly, PCRs saved (REBOOT,
#                  and the first/last boot of POWER CUTS)
#   mb.step=k1     the same, then kexec into this kernel again with mb.step=k2
#   mb.step=k2     (after kexec) harness checks of the carried list and PCRs,
#                  then imastored + workload as in boot
#   mb.step=cut    imastored + an endless workload: the host SIGKILLs qemu
#                  some seconds after "@@MB-LOAD"
#   mb.flavor=N|mirror|AD|auto  mb.keep=K  mb.trim=T  mb.files=N  mb.tag=NAME
#   mb.fsck=1      imastore fsck of the store before imastored starts
# The store is on ext4 on the virtio disk (/d/store); PCRs go to
# /d/pcrs/BOOT_ID/pcrs-ALG.txt; checks are "@@CHECK PASS|FAIL ..." lines;
# imastored's log goes to the console (the host reads its "cycle:" lines).
. /lib/imastore-guest.sh
guest_setup
IMA=/sys/kernel/security/ima
D=/d
S=$D/store
TCTI=device:/dev/tpmrm0
MB_step=boot MB_flavor=auto MB_keep=10 MB_trim=50 MB_files=200 MB_tag=x MB_fsck=0
for w in $(cat /proc/cmdline); do
	case "$w" in
	mb.[a-z]*=*)
		k=${w%%=*}
		k=${k#mb.}
		eval "MB_$k=\${w#*=}"
		;;
	esac
done
fails=0
pass() { echo "@@CHECK PASS $*"; }
fail() { echo "@@CHECK FAIL $*"; fails=$((fails + 1)); }
count() { read -r c <"$IMA/runtime_measurements_count"; echo "$c"; }
BOOT=$(cat /proc/sys/kernel/random/boot_id)
up() { cut -d' ' -f1 /proc/uptime; }
echo "@@MB boot_id=$BOOT step=$MB_step tag=$MB_tag flavor=$MB_flavor (up $(up) s)"

# Scratch files on ramfs (never measured); the workload's files on tmpfs
# (/tmp/m, measured); the store on ext4 (never measured).
mkdir -p /nm
mount -t ramfs ramfs /nm || { glog "ramfs"; guest_finish 2; }
guest_disk $D || guest_finish 2
glog "disk mounted (up $(up) s)"
[ -d "$IMA" ] || { glog "no $IMA"; guest_finish 2; }
[ -e /dev/tpmrm0 ] || { glog "no /dev/tpmrm0"; guest_finish 2; }
{
	for m in 0x9fa0 0x62656572 0x64626720 0x73636673 0x858458f6 0xef53; do
		echo "dont_measure fsmagic=$m"
	done
	echo "measure func=FILE_CHECK mask=MAY_READ uid=0"
} >/nm/policy
cat /nm/policy >"$IMA/policy" || { glog "policy refused"; guest_finish 2; }
# The tools' first opens (libraries, the TCTI dlopen'ed at the first TPM
# read) are measured here, the same way in every boot.
: >/nm/empty
imastore --help >/dev/null 2>&1
imastored --help >/dev/null 2>&1
imastore verify --tpm --tcti $TCTI /nm/empty >/dev/null 2>&1

case "$MB_flavor" in
N) DFLAGS="--flavor N --trim-records $MB_trim --keep $MB_keep" ;;
AD) DFLAGS="--flavor AD --trim-records $MB_trim --keep $MB_keep" ;;
mirror) DFLAGS="--flavor mirror" ;;
*) DFLAGS="--trim-records $MB_trim --keep $MB_keep" ;;
esac
DFLAGS="$DFLAGS --store $S --no-bpf --tail-socket none"

# TPM2_ReadClock on the resource manager: resetCount (u32 big-endian at
# byte 26 of the response: header 10, time 8, clock 8). It grows by one per
# TPM reset (boot) only when the TPM's NV state is kept between boots.
tpm_reset_count() {
	(
		printf '\200\001\000\000\000\012\000\000\001\201' >&3
		dd bs=256 count=1 <&3 2>/dev/null
	) 3<>/dev/tpmrm0 | od -An -tu1 -v | tr -s ' \n' '  ' >/nm/clock
	# shellcheck disable=SC2046
	set -- $(cat /nm/clock)
	[ $# -ge 30 ] && [ "$7$8$9${10}" = 0000 ] || { echo "?"; return; }
	shift 26
	echo $(($1 * 16777216 + $2 * 65536 + $3 * 256 + $4))
}

# save_pcrs DIR: every bank's PCRs 0-23 as "PCR-NN: hex" (verify --pcrs)
save_pcrs() {
	mkdir -p "$1"
	for b in /sys/class/tpm/tpm0/pcr-*; do
		alg=${b##*/pcr-}
		n=0
		while [ $n -lt 24 ]; do
			printf 'PCR-%02d: %s\n' $n "$(tr 'A-F' 'a-f' <"$b/$n")"
			n=$((n + 1))
		done >"$1/pcrs-$alg.txt"
	done
}

# mkfiles DIR N: N new files, read once each by root (one measurement each)
mkfiles() {
	mkdir -p "$1"
	i=0
	while [ $i -lt "$2" ]; do
		i=$((i + 1))
		echo "$1 $i" >"$1/f$i"
	done
	cat "$1"/f* >/dev/null
}

# imastored in the background, its log on the console and in /nm/d.log
daemon_start() {
	rm -f /nm/dfifo
	mkfifo /nm/dfifo
	tee -a /nm/d.log </nm/dfifo &
	tpid=$!
	# shellcheck disable=SC2086
	imastored --foreground $DFLAGS --latency 20 --interval 500 2>/nm/dfifo &
	dpid=$!
	# as a service would: the workload starts once imastored has its chain
	# (the list is still short then)
	i=0
	while ! grep -aq '^<6>store .*, chain ' /nm/d.log 2>/dev/null && [ $i -lt 100 ] &&
		kill -0 $dpid 2>/dev/null; do
		usleep 50000
		i=$((i + 1))
	done
}
daemon_stop() {
	kill -TERM $dpid
	wait $dpid && rc=0 || rc=$?
	wait $tpid 2>/dev/null
	[ "$rc" = 0 ] && pass "${P}imastored exited 0 on SIGTERM" ||
		fail "${P}imastored exited $rc on SIGTERM"
}
# one more cycle: store what the kernel got since (the log on the console too)
daemon_once() {
	# shellcheck disable=SC2086
	imastored --once $DFLAGS "$@" 2>&1 | tee -a /nm/d.log
}

# count_files TAG: "N D" = records of /tmp/m/TAG/ files in /nm/exp.txt, duplicated names
count_files() {
	n=$(awk '{ print $NF }' /nm/exp.txt | grep -c "^/tmp/m/$1/")
	dd=$(awk '{ print $NF }' /nm/exp.txt | grep "^/tmp/m/$1/" | sort | uniq -d | wc -l)
	echo "$n $dd"
}
# check_export WHAT TAG:N ...: the current boot's export holds each file once
check_export() {
	what=$1
	shift
	if ! imastore export --store $S --format ascii -o /nm/exp.txt 2>/nm/exp.err; then
		fail "$what: export ($(head -c 300 /nm/exp.err))"
		return
	fi
	for tn in "$@"; do
		# shellcheck disable=SC2046
		set -- $(count_files "${tn%%:*}")
		if [ "$1" = "${tn#*:}" ] && [ "$2" = 0 ]; then
			pass "$what: export has each of the ${tn#*:} files of ${tn%%:*} once ($(wc -l </nm/exp.txt) records)"
		else
			fail "$what: export has $1 records of ${tn%%:*} files ($2 names twice), expected ${tn#*:}"
		fi
	done
}
check_verify() {
	if imastore verify --store $S --tpm --tcti $TCTI >/nm/v.out 2>&1; then
		pass "$1: verify --store against the live TPM, every bank ($(tr '\n' ' ' </nm/v.out | head -c 200))"
	else
		fail "$1: verify --store against the live TPM (exit $?): $(tr '\n' ' ' </nm/v.out | head -c 400)"
	fi
}
save_logs() {
	mkdir -p $D/logs
	cp /nm/d.log "$D/logs/$BOOT.log" 2>/dev/null
	cp /nm/d.log /out/daemon.log 2>/dev/null
	# (through a pipe: a file read back by root would be measured)
	imastore status --store $S 2>&1 | tee /out/status.txt | sed 's/^/guest: status: /'
}
finish() {
	sync
	umount $D || glog "umount $D failed"
	[ "$fails" = 0 ] && guest_finish 0
	guest_finish 1
}

echo "$BOOT" >/out/boot_id
case "$MB_step" in k1 | k2) P="$MB_step: " ;; *) P= ;; esac
rc0=$(tpm_reset_count)
echo "$rc0" >/out/resetcount
glog "TPM resetCount $rc0; kernel count $(count)"
head -n 1 "$IMA/ascii_runtime_measurements_sha256" >/out/head.txt
if [ "$MB_fsck" = 1 ] && [ -d $S ]; then
	if imastore fsck --store $S -q >/nm/fsck.out 2>&1; then
		pass "${P}imastore fsck of the store at boot: clean"
	else
		fail "${P}imastore fsck at boot (exit $?): $(tr '\n' ' ' </nm/fsck.out | head -c 400)"
	fi
fi

case "$MB_step" in
boot | k1)
	# a reboot resets the PCRs: the kernel's own list verifies alone
	if [ "$MB_step" = boot ]; then
		cat "$IMA/binary_runtime_measurements_sha256" >/nm/k0.bin
		imastore verify --tpm --tcti $TCTI /nm/k0.bin >/nm/v0.out 2>&1 &&
			pass "PCRs reset at boot: the kernel's own list ($(count) records) verifies against the TPM" ||
			fail "the fresh boot's list does not verify alone: $(tr '\n' ' ' </nm/v0.out | head -c 300)"
	fi
	daemon_start
	mkfiles /tmp/m/$MB_tag "$MB_files"
	usleep 700000
	daemon_stop
	daemon_once
	glog "$MB_tag: $MB_files files measured; kernel count $(count)"
	grep -a 'cycles,' /nm/d.log | sed 's/^/guest: daemon: /'
	check_verify "${P}after the workload"
	check_export "${P}after the workload" "$MB_tag:$MB_files"
	if [ "$MB_step" = boot ]; then
		save_pcrs "$D/pcrs/$BOOT"
		save_pcrs /out/pcrs
		save_logs
		finish
	fi
	# ---- k1: leave some records the store does not have, then kexec ----
	if [ "$MB_flavor" = AD ]; then
		# an A/D cycle right before: the kernel keeps no stored record (two
		# more files: A stages at keep 1 + trim 1 = 2 records or more)
		mkfiles /tmp/m/$MB_tag-y 2
		daemon_once --trim-records 1 --keep 1
		[ "$(count)" = 0 ] && pass "k1: after an A/D cycle the kernel holds no record" ||
			fail "k1: after the last A/D cycle the kernel still holds $(count) records"
	fi
	mkfiles /tmp/m/$MB_tag-x 5
	mkdir -p $D/k1
	newcmd=$(sed 's/mb\.step=k1/mb.step=k2/' /proc/cmdline)
	if ! kexec -s -l $D/boot/vmlinuz --initrd=$D/boot/initrd.gz --append="$newcmd" 2>/nm/kexec.err; then
		fail "k1: kexec -s -l: $(tr '\n' ' ' </nm/kexec.err | head -c 300)"
		finish
	fi
	# from here on nothing new is measured (kexec's libraries were read above)
	echo "$BOOT" >$D/k1/boot_id
	save_pcrs $D/k1/pcrs
	cat "$IMA/ascii_runtime_measurements_sha256" >$D/k1/list.txt
	imastore export --store $S --bank sha256 --format ascii -o $D/k1/full.txt 2>/nm/exp.err ||
		fail "k1: export: $(head -c 300 /nm/exp.err)"
	glog "k1: $(wc -l <$D/k1/list.txt) records in the kernel, $(wc -l <$D/k1/full.txt) in the full list; kexec"
	save_logs
	sync
	umount $D || glog "umount $D failed"
	echo "@@MB-KEXEC fails=$fails"
	kexec -e
	glog "kexec -e returned"
	guest_finish 3
	;;
k2)
	# ---- the harness: a kexec really happened, the list came along ----
	# the command line is the first kernel's: its tag names the first
	# kernel's files, the second kernel's are TAG-k2
	k1tag=$MB_tag
	MB_tag=$MB_tag-k2
	k1=$(cat $D/k1/boot_id 2>/dev/null)
	[ -n "$k1" ] && [ "$k1" != "$BOOT" ] &&
		pass "k2: a new boot_id after kexec ($k1 -> $BOOT)" ||
		fail "k2: boot_id '$BOOT', before kexec '$k1'"
	cat "$IMA/ascii_runtime_measurements_sha256" >/nm/k2.txt
	m=$(wc -l <$D/k1/list.txt)
	head -n "$m" /nm/k2.txt >/nm/k2head.txt
	tail -n +$((m + 1)) /nm/k2.txt >/nm/k2rest.txt
	if cmp -s /nm/k2head.txt $D/k1/list.txt && [ "$m" -gt 0 ]; then
		pass "k2: the list carried over: its first $m records are the first kernel's last list"
	else
		fail "k2: the first $m records of the list are not the first kernel's list ($(wc -l </nm/k2.txt) records now)"
	fi
	grep -q ' boot_aggregate$' /nm/k2rest.txt && head -n 1 /nm/k2rest.txt | grep -q ' boot_aggregate$' &&
		pass "k2: then the new kernel's boot_aggregate (record $m of its list)" ||
		fail "k2: record $m of the list is not boot_aggregate: $(head -n 1 /nm/k2rest.txt | head -c 200)"
	save_pcrs /nm/pnow
	same07=1
	for f in $D/k1/pcrs/pcrs-*.txt; do
		head -n 8 "$f" >/nm/a07
		head -n 8 "/nm/pnow/${f##*/}" >/nm/b07
		cmp -s /nm/a07 /nm/b07 || same07=0
	done
	[ "$same07" = 1 ] && pass "k2: PCRs 0-7 unchanged by kexec, every bank" ||
		fail "k2: PCRs 0-7 changed across kexec"
	pv=""
	for f in $D/k1/pcrs/pcrs-*.txt; do
		a=${f##*/pcrs-}
		pv="$pv --pcrs ${a%.txt},/nm/pnow/pcrs-${a}"
	done
	# PCR 10 holds the first kernel's extends: the full list of the first
	# kernel followed by the second's own records replays to the TPM's values;
	# the second's own records alone (what a reset would give) do not
	# shellcheck disable=SC2086
	if imastore verify $pv $D/k1/full.txt /nm/k2rest.txt >/nm/vk.out 2>&1; then
		pass "k2: PCR 10 not reset: first kernel's full list + the new records replay to the TPM, every bank"
	else
		fail "k2: first kernel's full list + new records do not replay to the TPM: $(tr '\n' ' ' </nm/vk.out | head -c 400)"
	fi
	# shellcheck disable=SC2086
	imastore verify $pv /nm/k2rest.txt >/nm/vk2.out 2>&1 && r=0 || r=$?
	[ "$r" = 1 ] && pass "k2: the new kernel's own records alone do not match PCR 10 (exit 1)" ||
		fail "k2: the new kernel's own records alone: verify exit $r, want 1: $(tr '\n' ' ' </nm/vk2.out | head -c 300)"
	# ---- imastored on the same store ----
	daemon_start
	mkfiles /tmp/m/$MB_tag "$MB_files"
	usleep 700000
	daemon_stop
	daemon_once
	grep -a 'boot .* continues chain\|new chain\|does not start' /nm/d.log | sed 's/^/guest: daemon: /'
	check_verify "k2: after the workload"
	ytag=
	[ "$MB_flavor" != AD ] || ytag="$k1tag-y:2"
	check_export "k2: after the workload" "$k1tag:$MB_files" $ytag "$k1tag-x:5" "$MB_tag:$MB_files"
	save_pcrs "$D/pcrs/$BOOT"
	save_pcrs /out/pcrs
	save_logs
	finish
	;;
cut)
	daemon_start
	# the workload starts after imastored's first cycle (the boot's own
	# records stored, nothing trimmed yet): a cut at once lands there
	# (imastored rewrites STORE/imastored.status, pid= first, after each cycle)
	i=0
	while ! grep -qx "pid=$dpid" $S/imastored.status 2>/dev/null && [ $i -lt 200 ]; do
		usleep 20000
		i=$((i + 1))
	done
	echo "@@MB-LOAD (up $(up) s)"
	b=0
	t0=$(date +%s)
	while [ $(($(date +%s) - t0)) -lt "${MB_maxload:-30}" ]; do
		b=$((b + 1))
		mkfiles /tmp/m/$MB_tag/b$b 20
	done
	# not cut: end cleanly (the host counts it as no cut)
	daemon_stop
	echo "@@MB-NOCUT"
	save_logs
	finish
	;;
esac
glog "unknown mb.step=$MB_step"
guest_finish 2
