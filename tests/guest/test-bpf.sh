#!/bin/bash
# test-bpf.sh: imastored's BPF wake-up (docs/bpf.md) on real kernels.
#   1. records from the ring buffer (--dump-records, a binary list) equal
#      the kernel's list, record for record (mirror: nothing deleted);
#   2. `bpftool map dump pinned /sys/fs/bpf/imastore/stats` names the fields;
#   3. a 4 KiB ring buffer and a burst of 3,000 measurements: records are
#      lost in the ring (counted as gaps), none in the store;
#   4. idle with BPF: no read of runtime_measurements_count, one cycle;
#   5. --no-bpf: polling as before, everything drained.
# On a kernel without BPF (staging72: tinyconfig) only the fallback: one log
# line says why, polling drains everything.
# Prints the numbers of docs/bpf.md (BPF cost per measurement, latencies,
# securityfs reads per 1,000 measurements) as "guest:" lines.
#
#   test-bpf.sh [deb72|deb61|staging72 ...]      default: deb72 deb61 staging72
#
# One line per check, then "N passed, N failed"; exits non-zero on failure.
# Missing qemu/kernels is a failure, unless IMASTORE_SKIP_GUEST=1.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BIN=${IMASTORE_BIN:-$TOP/build/imastore}
DBIN=${IMASTORED_BIN:-$TOP/build/imastored}
BPFTOOL=${BPFTOOL_BIN:-/usr/sbin/bpftool}

if [ "${IMASTORE_SKIP_GUEST:-0}" = 1 ]; then
	echo "test-bpf: skipped (IMASTORE_SKIP_GUEST=1)"
	exit 0
fi
. "$HERE/lib.sh"
guest_require
[ -x "$BIN" ] || guest_die "$BIN not built: run 'make all' first"
[ -x "$DBIN" ] || guest_die "$DBIN not built: run 'make all' first"
[ -x "$BPFTOOL" ] || guest_die "$BPFTOOL not found (bpftool)"

KERNELS=${*:-deb72 deb61 staging72}
work=$(mktemp -d "$GUEST_TMP/bpf.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$BIN" "$work/imastore"
cp "$DBIN" "$work/imastored"

cat >"$work/init" <<'EOF'
#!/bin/sh
. /lib/imastore-guest.sh
guest_setup
IMA=/sys/kernel/security/ima
[ -d "$IMA" ] || { glog "no $IMA"; guest_finish 2; }
mkdir -p /s1 /s2 /s3 /s4 /nm
for d in /s1 /s2 /s3 /s4 /nm; do
	mount -t ramfs ramfs $d || { glog "ramfs"; guest_finish 2; }
done
chmod 0700 /s1 /s2 /s3 /s4
[ ! -e /sys/kernel/btf/vmlinux ] || mount -t bpf bpf /sys/fs/bpf ||
	{ glog "no bpffs"; guest_finish 2; }
{
	for m in 0x9fa0 0x62656572 0x64626720 0x73636673 0x858458f6 0xcafe4a11; do
		echo "dont_measure fsmagic=$m"
	done
	echo "measure func=FILE_CHECK mask=MAY_READ uid=0"
} >/tmp/policy
cat /tmp/policy >"$IMA/policy" || { glog "policy refused"; guest_finish 2; }
imastore --help >/dev/null 2>&1
imastored --help >/dev/null 2>&1
bpftool version >/dev/null 2>&1

fails=0
pass() { echo "@@CHECK PASS $*"; }
fail() { echo "@@CHECK FAIL $*"; fails=$((fails + 1)); }
count() { read -r c <"$IMA/runtime_measurements_count"; echo "$c"; }
uptime_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }
mkfiles() {
	mkdir -p "$1"
	i=0
	while [ $i -lt "$2" ]; do
		i=$((i + 1))
		echo "$1 $i" >"$1/f$i"
	done
	cat "$1"/f* >/dev/null
}
# wait_log FILE PATTERN: up to 10 s
wait_log() {
	i=0
	while ! grep -aq "$2" "$1" 2>/dev/null && [ $i -lt 100 ]; do
		usleep 100000
		i=$((i + 1))
	done
}
stop() { # pid log what
	kill -TERM "$1"
	wait "$1" && rc=0 || rc=$?
	[ "$rc" = 0 ] || fail "$3: imastored exited $rc: $(tail -n 3 "$2" | tr '\n' ' ')"
}
logval() { # log key: the number after "key "
	grep -a -o "$2 [0-9]*" "$1" | tail -n 1 | awk '{ print $NF }'
}
if [ -e "$IMA/binary_runtime_measurements_sha1" ]; then
	LISTS="binary_runtime_measurements_sha1 binary_runtime_measurements_sha256 binary_runtime_measurements_sha384 binary_runtime_measurements_sha512"
	N_FLAVOR="--trim-records 500 --keep 10"
else
	LISTS="binary_runtime_measurements"
	N_FLAVOR=""
fi
check_export() { # store what dir expected
	if ! imastore export --store "$1" --format ascii -o /nm/exp.txt 2>/nm/exp.err; then
		fail "$2: export ($(head -c 300 /nm/exp.err))"
		imastore export --store "$1" --format ascii --no-kernel -o /dev/null 2>&1 | sed 's/^/guest: export --no-kernel: /'
		imastore fsck --store "$1" 2>&1 | head -5 | sed 's/^/guest: fsck: /'
		df /nm /tmp 2>&1 | sed 's/^/guest: df: /'
		grep -a -i 'err\|warn' /nm/d2.log | head -5 | sed 's/^/guest: d2: /'
		return
	fi
	n=$(grep -c " $3/" /nm/exp.txt || true)
	dups=$(awk '{ print $NF }' /nm/exp.txt | grep "^$3/" | sort | uniq -d | wc -l)
	if [ "$n" = "$4" ] && [ "$dups" = 0 ]; then
		pass "$2: the store has each of the $4 files once ($(wc -l </nm/exp.txt) records in all)"
	else
		fail "$2: the store has $n of $4 files ($dups duplicated)"
	fi
}

# ---- a kernel without BPF (staging72): the fallback, drains everything ----
if [ ! -e /sys/kernel/btf/vmlinux ]; then
	imastored --foreground --store /s4 $N_FLAVOR --latency 50 --interval 1000 \
		2>/nm/d5.log &
	dpid=$!
	wait_log /nm/d5.log 'cycle: kernel'
	if [ "$(grep -a -c 'BPF wake-up unavailable' /nm/d5.log)" = 1 ]; then
		pass "no BPF in the kernel: one line says why ($(grep -a 'BPF wake-up unavailable' /nm/d5.log | cut -c1-140))"
	else
		fail "no BPF: $(head -n 3 /nm/d5.log | tr '\n' ' ')"
	fi
	mkfiles /tmp/m/c 1000
	sleep 3
	stop $dpid /nm/d5.log "fallback"
	imastored --once --store /s4 $N_FLAVOR 2>>/nm/d5.log
	check_export /s4 "fallback" /tmp/m/c 1000
	grep -a 'securityfs:' /nm/d5.log | sed 's/^/guest: fallback: /'
	cp /nm/d5.log /out/
	[ "$fails" = 0 ] && guest_finish 0
	guest_finish 1
fi

# ---- 1, 2: records match the list; pinned counters ----
imastored --foreground --store /s1 --flavor mirror --interval 500 --log-level debug \
	--dump-records /nm/dump.bin 2>/nm/d1.log &
dpid=$!
wait_log /nm/d1.log 'cycle: kernel\|BPF wake-up'
if grep -aq 'BPF wake-up: fexit' /nm/d1.log; then
	pass "attached: $(grep -a -m1 'BPF wake-up' /nm/d1.log | cut -c1-120)"
else
	fail "not attached: $(grep -a -m1 'BPF' /nm/d1.log)"
	cp /nm/d1.log /out/
	guest_finish 1
fi
wait_log /nm/d1.log 'cycle: kernel'
c0=$(count)
mkfiles /tmp/m/a 300
sleep 1
c1=$(count)
if bpftool map dump pinned /sys/fs/bpf/imastore/stats >/nm/stats.txt 2>&1 &&
	grep -q '"emitted"' /nm/stats.txt && grep -q '"reserve_failures"' /nm/stats.txt &&
	grep -q '"last_seq"' /nm/stats.txt; then
	pass "bpftool map dump pinned .../stats names the fields ($(grep -c '"emitted"' /nm/stats.txt) CPUs)"
else
	fail "bpftool map dump: $(head -c 300 /nm/stats.txt)"
fi
bpftool map dump pinned /sys/fs/bpf/imastore/state >/nm/state.txt 2>&1 &&
	grep -q next_seq /nm/state.txt && pass "bpftool map dump pinned .../state: next_seq" ||
	fail "state map: $(head -c 200 /nm/state.txt)"
stop $dpid /nm/d1.log "match"
[ -e /sys/fs/bpf/imastore/stats ] && fail "pins left behind after exit" ||
	pass "pins removed at exit"
nd=$(imastore convert --to ascii /nm/dump.bin 2>/dev/null | wc -l)
matched=""
for l in $LISTS; do
	sz=$(wc -c </nm/dump.bin)
	cat "$IMA/$l" >/nm/list.bin
	if [ "$sz" -gt 0 ] && tail -c "$sz" /nm/list.bin | cmp -s - /nm/dump.bin; then
		matched=$l
		break
	fi
done
if [ -n "$matched" ] && [ "$nd" = $((c1 - c0)) ]; then
	pass "ring-buffer records = the last $nd records of $matched, byte for byte"
else
	fail "ring-buffer dump ($nd records, $(wc -c </nm/dump.bin) bytes) is not the tail of any list (count grew $c0 -> $c1)"
	cp /nm/dump.bin /out/
fi
cp /nm/d1.log /out/

# ---- 3: overflow ----
u0=$(uptime_ms)
mkfiles /tmp/m/z 3000
glog "baseline (no daemon, no BPF): 3000 files written and measured in $(($(uptime_ms) - u0)) ms"
echo 1 >/proc/sys/kernel/bpf_stats_enabled
imastored --foreground --store /s2 $N_FLAVOR --interval 1000 --ringbuf-size 4096 \
	2>/nm/d2.log &
dpid=$!
wait_log /nm/d2.log 'cycle: kernel'
b0=$(count)
u0=$(uptime_ms)
mkfiles /tmp/m/b 3000
glog "bpf burst: 3000 files written and measured in $(($(uptime_ms) - u0)) ms"
sleep 3
bpftool prog show >/nm/prog.txt 2>&1
stop $dpid /nm/d2.log "overflow"
lost=$(logval /nm/d2.log 'lost')
rf=$(logval /nm/d2.log 'reserve_failures')
em=$(logval /nm/d2.log 'emitted')
if [ "${lost:-0}" -gt 0 ] && [ "$lost" = "$rf" ]; then
	pass "overflow: 4 KiB ring, 3000 measurements: $lost lost in the ring = reserve_failures, $em emitted"
else
	fail "overflow: lost '$lost', reserve_failures '$rf' ($(grep -a 'bpf:' /nm/d2.log | tr '\n' ' '))"
fi
imastored --once --store /s2 $N_FLAVOR 2>>/nm/d2.log
check_export /s2 "overflow" /tmp/m/b 3000
grep -a 'ima_add_exit' /nm/prog.txt | sed 's/^/guest: prog: /'
rt=$(grep -a 'ima_add_exit' /nm/prog.txt | grep -o 'run_time_ns [0-9]*' | awk '{ print $2 }')
rc=$(grep -a 'ima_add_exit' /nm/prog.txt | grep -o 'run_cnt [0-9]*' | awk '{ print $2 }')
[ -n "$rc" ] && [ "$rc" -gt 0 ] && glog "BPF cost: $((rt / rc)) ns per measurement ($rc runs)"
echo 0 >/proc/sys/kernel/bpf_stats_enabled
grep -a 'securityfs:\|latency\|bpf:' /nm/d2.log | sed 's/^/guest: bpf burst: /'
glog "bpf burst: $(($(count) - b0)) net records in the kernel after 3000 measurements"
cp /nm/d2.log /out/

# ---- 4: idle ----
imastored --foreground --store /s3 --interval 500 2>/nm/d3.log &
dpid=$!
wait_log /nm/d3.log 'cycle: kernel'
sleep 5
stop $dpid /nm/d3.log "idle"
ir=$(logval /nm/d3.log 'securityfs:')
cy=$(grep -a -o '[0-9]* cycles (' /nm/d3.log | awk '{ print $1 }')
if [ "$ir" = 0 ] && [ "$cy" = 1 ]; then
	pass "idle 5 s with BPF: 0 reads of runtime_measurements_count, 1 cycle (the first)"
else
	fail "idle with BPF: $ir reads while waiting, $cy cycles: $(grep -a 'securityfs' /nm/d3.log)"
fi
cp /nm/d3.log /out/

# ---- 5: --no-bpf ----
imastored --foreground --store /s4 $N_FLAVOR --no-bpf --latency 50 --interval 1000 \
	2>/nm/d4.log &
dpid=$!
wait_log /nm/d4.log 'cycle: kernel'
grep -aq 'BPF wake-up off (--no-bpf)' /nm/d4.log && pass "--no-bpf: one line says so" ||
	fail "--no-bpf: no log line: $(head -n 3 /nm/d4.log | tr '\n' ' ')"
u0=$(uptime_ms)
mkfiles /tmp/m/c 3000
glog "polling burst: 3000 files written and measured in $(($(uptime_ms) - u0)) ms"
sleep 3
stop $dpid /nm/d4.log "no-bpf"
imastored --once --store /s4 $N_FLAVOR 2>>/nm/d4.log
check_export /s4 "--no-bpf" /tmp/m/c 3000
grep -a 'securityfs:' /nm/d4.log | sed 's/^/guest: polling burst: /'
cp /nm/d4.log /out/
[ "$fails" = 0 ] && guest_finish 0
guest_finish 1
EOF

for k in $KERNELS; do
	guest_kernel "$k"
	root=$work/root-$k
	initramfs_new "$root"
	initramfs_add_bin "$root" "$work/imastore" "$work/imastored" "$BPFTOOL"
	mv "$root$work/imastore" "$root/usr/bin/imastore"
	mv "$root$work/imastored" "$root/usr/sbin/imastored"
	[ "$BPFTOOL" = /usr/sbin/bpftool ] || mv "$root$BPFTOOL" "$root/usr/sbin/bpftool"
	initramfs_add_file "$root" "$work/init" /init
	chmod 0755 "$root/init"
	initramfs_pack "$root" "$work/initrd-$k.gz"
	rm -rf "$root"
	log=$GUEST_CACHE/logs/test-bpf/$k
	guest_run_checks "$k" "$work/initrd-$k.gz" "$GUEST_KARGS quiet ima_template=ima-ng" "$log"
	tr -d '\r' <"$log/console.log" | grep -a '^guest: ' | sed "s/^/   $k /" || true
	echo "   ($k: ${GUEST_SECONDS}s; daemon logs in $log/files/)"
done
echo "test-bpf: $GUEST_PASSED passed, $GUEST_FAILED failed"
[ "$GUEST_FAILED" = 0 ]
