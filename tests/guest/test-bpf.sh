#!/bin/bash
# test-bpf.sh: imastored's BPF wake-up (docs/bpf.md) on real kernels.
#   1. records from the ring buffer (--dump-records, a binary list) equal
#      the kernel's list, record for record (mirror: nothing deleted);
#      the live stream (`imastore tail`) during the same run:
#      two followers (`tail -f -n 0`, text and --json) get exactly the
#      records the count grew by, SEQ strictly increasing, the columns of
#      `imastore show` of the list of the record's bank; one record whose
#      path is over 1,100 bytes is cut to 1,024 bytes of template data and
#      marked "[truncated]" (path a prefix; the store has it whole); both
#      followers exit 0 at "end: imastored stops"; a second consumer
#      (`tail -n 5`, no -f) gets the 5 newest and exits 0; on the host,
#      tests/guest/tail-check.py checks every JSON line against the list
#      (members, values, template_data_len) and against the text lines;
#   2. `bpftool map dump pinned /sys/fs/bpf/imastore/stats` names the fields;
#   3. a 4 KiB ring buffer and a burst of 3,000 measurements: records are
#      lost in the ring (counted as gaps), none in the store;
#   4. idle with BPF: no read of runtime_measurements_count, one cycle;
#   5. --no-bpf: polling as before, everything drained;
#   6. the live stream at its edges (each its own store, /s5../s9):
#      a. --interval 10000, one follower: f1, then f2-f5 0.5 s later, all
#         reach it within 2 s (not at the interval); 5 records measured
#         while imastored is stopped (SIGSTOP), then SIGTERM + SIGCONT: the
#         follower gets them before "end" (exactly what the count grew by)
#         and exits 0;
#      b. a follower stopped (SIGSTOP) during 1,000 measurements (~170 KiB,
#         under the 256 KiB drop limit) and imastored's SIGTERM, continued
#         0.3 s later: all 1,000 records, exit 0, "0 dropped (slow)";
#      c. two imastoreds (two stores, two --tail-socket) with BPF at once:
#         when the first exits the second's pins stay (bpftool map dump
#         pinned .../stats works); when the second exits they are gone;
#      d. SIGHUP (--config FILE, interval 10000 -> 500): "configuration
#         reloaded: interval 500 ms", then 5 files measured are streamed to
#         a follower and stored by a cycle (export --no-kernel).
# On a kernel without BPF (staging72: tinyconfig) only the fallback: one log
# line says why, polling drains everything, `imastore tail -n 5 --json`
# gives 5 records with "source":"list".
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
command -v python3 >/dev/null || guest_die "python3 not found (tail-check.py)"

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
mkdir -p /s1 /s2 /s3 /s4 /s5 /s6 /s7 /s8 /s9 /nm
for d in /s1 /s2 /s3 /s4 /s5 /s6 /s7 /s8 /s9 /nm; do
	mount -t ramfs ramfs $d || { glog "ramfs"; guest_finish 2; }
done
chmod 0700 /s1 /s2 /s3 /s4 /s5 /s6 /s7 /s8 /s9
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
conns() { # SOCKET: consumers imastored accepted there (connected, server side)
	awk -v s="$1" '$NF == s && $6 == "03"' /proc/net/unix | wc -l
}
wait_conns() { # N [SOCKET]: imastored accepted N consumers of the live stream (10 s)
	ws=${2:-/run/imastore/tail.sock}
	i=0
	while [ "$(conns "$ws")" -lt "$1" ] && [ $i -lt 100 ]; do
		usleep 100000
		i=$((i + 1))
	done
	[ $i -lt 100 ] || glog "only $(conns "$ws") of $1 consumers connected to $ws after 10 s"
}
stop() { # pid log what
	kill -TERM "$1"
	wait "$1" && rc=0 || rc=$?
	[ "$rc" = 0 ] || fail "$3: imastored exited $rc: $(tail -n 3 "$2" | tr '\n' ' ')"
}
logval() { # log key: the number after "key "
	grep -a -o "$2 [0-9]*" "$1" | tail -n 1 | awk '{ print $NF }'
}
nlines() { # FILE PATTERN: how many lines of FILE have PATTERN
	n=$(grep -a -c "$2" "$1" 2>/dev/null) || true
	echo "${n:-0}"
}
wait_lines() { # FILE PATTERN N TENTHS: until N lines have PATTERN, TENTHS x 100 ms at most
	j=0
	while [ "$(nlines "$1" "$2")" -lt "$3" ] && [ $j -lt "$4" ]; do
		usleep 100000
		j=$((j + 1))
	done
}
wait_follower() { # PID: its exit status in trc (killed after 30 s: not 0)
	(sleep 30; kill "$1" 2>/dev/null) &
	wf=$!
	wait "$1" && trc=0 || trc=$?
	kill $wf 2>/dev/null
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
dropline() { # K FILE: FILE without its line K (K=0: all of it)
	if [ "$1" -gt 0 ]; then sed "$1d" "$2"; else cat "$2"; fi
}
# check_tail: section 1's live stream (followers from c0 to c1, the long path
# measured first, `tail -n 5` at c1) against the kernel's list and the store.
check_tail() {
	if [ "$tjrc" = 0 ] && [ "$ttrc" = 0 ]; then
		pass "tail -f: both followers (text, --json) exited 0 at \"end: imastored stops\""
	else
		fail "tail -f: the followers exited $tjrc (json), $ttrc (text): $(head -c 200 /nm/tail.err) / $(head -c 200 /nm/tailt.err)"
	fi
	nt=$(wc -l </nm/tail.txt)
	nj=$(wc -l </nm/tail.json)
	if [ "$nt" = $((c1 - c0)) ] && [ "$nj" = "$nt" ]; then
		pass "tail -f: $nt records in text and in JSON = what the count grew by ($c0 -> $c1)"
	else
		fail "tail -f: $nt text and $nj JSON records, but the count grew by $((c1 - c0)) ($c0 -> $c1)"
	fi
	bad=$(awk '$2 !~ /^[0-9]+$/ || (NR > 1 && $2 + 0 <= p) { n++ } { p = $2 + 0 } END { print n + 0 }' /nm/tail.txt)
	if [ "$nt" -gt 0 ] && [ "$bad" = 0 ]; then
		pass "tail -f: SEQ strictly increasing ($(head -n 1 /nm/tail.txt | cut -d' ' -f2) .. $(tail -n 1 /nm/tail.txt | cut -d' ' -f2))"
	else
		fail "tail -f: SEQ not strictly increasing ($bad lines out of order or not a number)"
	fi
	# The cut record: line k. Without one, k=0 and the whole stream is compared.
	ntr=$(grep -c ' \[truncated\]$' /nm/tail.txt || true)
	k=$(grep -n ' \[truncated\]$' /nm/tail.txt | head -n 1 | cut -d: -f1)
	k=${k:-0}
	sed 's/ \[truncated\]$//' /nm/tail.txt | cut -d' ' -f3- >/nm/tail.cut
	dropline "$k" /nm/tail.cut >/nm/tail.rest
	tmatched=""
	for l in $LISTS; do
		imastore show "$IMA/$l" 2>/dev/null | tail -n "$nt" | cut -d' ' -f2- >/nm/show.cut
		dropline "$k" /nm/show.cut >/nm/show.rest
		if [ "$nt" -gt 1 ] && cmp -s /nm/tail.rest /nm/show.rest; then
			tmatched=$l
			break
		fi
	done
	if [ -n "$tmatched" ]; then
		pass "tail -f: text = the columns of 'imastore show' of the last $nt records of $tmatched (the cut one apart)"
	else
		fail "tail -f: text is not 'imastore show' of the last $nt records of any list"
		for l in $LISTS; do
			imastore show "$IMA/$l" 2>/dev/null | tail -n "$nt" | cut -d' ' -f2- >/nm/show.cut
			dropline "$k" /nm/show.cut | diff /nm/tail.rest - | head -n 4 | cut -c1-200 |
				sed "s|^|guest: diff $l: |"
		done
	fi
	tline=$(awk -v k="$k" 'NR == k' /nm/tail.cut)
	tpath=$(echo "$tline" | cut -d' ' -f5-)
	sline=$(awk -v k="$k" 'NR == k' /nm/show.cut)
	spath=$(echo "$sline" | cut -d' ' -f5-)
	pre=no
	case "$LONG" in "$tpath"*) pre=yes ;; esac
	if [ "$ntr" = 1 ] && [ -n "$tmatched" ] && [ "$spath" = "$LONG" ] &&
		[ "$(echo "$tline" | cut -d' ' -f1-4)" = "$(echo "$sline" | cut -d' ' -f1-4)" ] &&
		[ "$pre" = yes ] && [ "${#tpath}" -ge 900 ] && [ "${#tpath}" -lt "${#LONG}" ]; then
		pass "tail -f: one record [truncated], the ${#LONG}-byte path's: PCR, template, digests as in $tmatched, path a ${#tpath}-byte prefix"
	else
		fail "tail -f: $ntr records [truncated] (line $k; prefix of the long path: $pre, ${#tpath} of ${#LONG} bytes; list has '$(echo "$spath" | cut -c1-40)...'): $(echo "$tline" | cut -c1-160)"
	fi
	if imastore export --store /s1 --format ascii -o /nm/exp1.txt 2>/nm/exp1.err; then
		n=$(awk -v p="$LONG" '$NF == p' /nm/exp1.txt | wc -l)
	else
		n="export failed: $(head -c 200 /nm/exp1.err)"
	fi
	[ "$n" = 1 ] && pass "the store has the ${#LONG}-byte path whole, once" ||
		fail "the store has the ${#LONG}-byte path $n times"
	tr=$(logval /nm/d1.log 'truncated')
	[ "$tr" = 1 ] && pass "the program counted 1 truncated record" ||
		fail "the program counted '$tr' truncated records, not 1"
	n5=$(wc -l </nm/tail5.txt)
	if [ "$t5rc" = 0 ] && [ "$n5" = 5 ] && tail -n 5 /nm/tail.txt | cmp -s - /nm/tail5.txt; then
		pass "a second consumer: tail -n 5 (no -f) printed the 5 newest records, as the followers had them, and exited 0"
	else
		fail "a second consumer: tail -n 5 exited $t5rc with $n5 lines: $(head -c 200 /nm/tail5.err)"
	fi
	grep -a 'tail:' /nm/d1.log | sed 's/^/guest: match: /'
	# For the host (tail-check.py): the JSON stream and the list of its bank.
	jb=$(head -n 1 /nm/tail.json | grep -o '"bank":"[a-z0-9_]*"' | cut -d'"' -f4)
	jl=binary_runtime_measurements_$jb
	[ -e "$IMA/$jl" ] || jl=binary_runtime_measurements
	imastore show --json "$IMA/$jl" >/out/tail-list.json 2>&1
	printf 'c0 %s\nc1 %s\nlist %s\nlong %s\n' "$c0" "$c1" "$jl" "$LONG" >/out/tail-meta.txt
	cp /nm/tail.json /nm/tail.txt /nm/tail5.txt /out/
	for f in tail.err tailt.err tail5.err; do
		[ ! -s /nm/$f ] || cp /nm/$f /out/
	done
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
	# the live stream without BPF: records as each cycle stores them
	imastore tail -n 5 --json >/nm/tl.json 2>/nm/tl.err && rc=0 || rc=$?
	nl=$(wc -l </nm/tl.json)
	nls=$(grep -c '^{"seq":[0-9]*,"source":"list",' /nm/tl.json || true)
	if [ "$rc" = 0 ] && [ "$nl" = 5 ] && [ "$nls" = 5 ]; then
		pass "no BPF: imastore tail -n 5 --json: 5 records, source=list, exit 0"
	else
		fail "no BPF: imastore tail -n 5 --json: exit $rc, $nl lines, $nls with source=list: $(head -c 300 /nm/tl.err) $(head -c 300 /nm/tl.json)"
	fi
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
# The live stream: two followers from now on (-n 0: no backlog).
imastore tail -f --json -n 0 >/nm/tail.json 2>/nm/tail.err &
tjpid=$!
imastore tail -f -n 0 >/nm/tail.txt 2>/nm/tailt.err &
ttpid=$!
wait_conns 2
sleep 1
c0=$(count)
# One record over 1,024 bytes of template data: a 1,271-byte path. It comes
# first, so the dump (which skips cut records) is still the list's tail.
LONG=/tmp/m/long
for ch in a b c d e; do
	LONG=$LONG/$(printf '%250s' '' | tr ' ' $ch)
done
LONG=$LONG/file
mkdir -p "${LONG%/file}"
echo long >"$LONG"
cat "$LONG" >/dev/null
wait_log /nm/tail.txt ' \[truncated\]$'
wait_log /nm/tail.json '"truncated":true'
cL=$(count)
mkfiles /tmp/m/a 300
sleep 1
c1=$(count)
# A second consumer while the followers run: the 5 newest, then it ends.
imastore tail -n 5 >/nm/tail5.txt 2>/nm/tail5.err && t5rc=0 || t5rc=$?
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
# The followers end at "end: imastored stops" (killed after 30 s if not).
(sleep 30; kill $tjpid $ttpid 2>/dev/null) &
wdpid=$!
wait $tjpid && tjrc=0 || tjrc=$?
wait $ttpid && ttrc=0 || ttrc=$?
kill $wdpid 2>/dev/null
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
if [ -n "$matched" ] && [ "$nd" = $((c1 - cL)) ]; then
	pass "ring-buffer records = the last $nd records of $matched, byte for byte"
else
	fail "ring-buffer dump ($nd records, $(wc -c </nm/dump.bin) bytes) is not the tail of any list (count grew $cL -> $c1)"
	cp /nm/dump.bin /out/
fi
check_tail
imastore status --store /s1 >/nm/status1.txt 2>&1
if grep -q '^  wakeup  *bpf$' /nm/status1.txt && grep -q '^  tail_dropped  *0$' /nm/status1.txt &&
	grep -q '^  tail_consumers  *[1-9]' /nm/status1.txt; then
	pass "imastore status: wakeup bpf, $(grep -o 'tail_consumers.*' /nm/status1.txt | tr -s ' '), none dropped"
else
	fail "imastore status: $(grep 'wakeup\|tail_\|bpf_' /nm/status1.txt | tr '\n' ' ')"
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

# ---- 6a: records reach a follower at once, also those left at SIGTERM ----
# --interval 10000, one follower: f1, then f2-f5 half a second later, must
# stream within 2 s, not at the interval (every look at the ring re-arms the
# wake-up while someone follows). Then records measured while imastored is
# stopped (SIGSTOP) are in the ring when its SIGTERM is read: they must reach
# the follower before "end" (the ring is consumed before the stream closes).
# with_follower NAME STORE [OPTION...]: a mirroring imastored on STORE
# serving /run/imastore/NAME.sock, log /nm/dNAME.log (pid dpid), its first
# cycle done; one follower into /nm/tNAME.txt, .err (pid tpid), connected.
with_follower() {
	wf=$1 sock=/run/imastore/$1.sock wstore=$2
	shift 2
	imastored --foreground --store "$wstore" --flavor mirror --tail-socket "$sock" \
		"$@" 2>/nm/d$wf.log &
	dpid=$!
	wait_log /nm/d$wf.log 'cycle: kernel'
	imastore tail -f -n 0 -S "$sock" >/nm/t$wf.txt 2>/nm/t$wf.err &
	tpid=$!
	wait_conns 1 "$sock"
}
u6=$(uptime_ms)
with_follower 6a /s5 --interval 10000
mkdir -p /tmp/m/q /tmp/m/r
for i in 1 2 3 4 5; do
	echo "q $i" >/tmp/m/q/f$i
	echo "r $i" >/tmp/m/r/f$i
done
q0=$(count)
cat /tmp/m/q/f1 >/dev/null
usleep 500000
cat /tmp/m/q/f2 /tmp/m/q/f3 /tmp/m/q/f4 /tmp/m/q/f5 >/dev/null
u0=$(uptime_ms)
wait_lines /nm/t6a.txt ' /tmp/m/q/f' 5 20
nq=$(nlines /nm/t6a.txt ' /tmp/m/q/f')
if [ "$nq" = 5 ]; then
	pass "6a: --interval 10000, one follower: f1, then f2-f5 0.5 s later: all 5 streamed while imastored runs ($(($(uptime_ms) - u0)) ms after f5 at most)"
else
	fail "6a: --interval 10000, one follower: $nq of 5 records streamed 2 s after they were measured (the rest wait for the interval?)"
fi
kill -STOP $dpid
cat /tmp/m/r/f* >/dev/null
q1=$(count)
kill -TERM $dpid
kill -CONT $dpid
wait $dpid && rc=0 || rc=$?
[ "$rc" = 0 ] || fail "6a: imastored exited $rc: $(tail -n 3 /nm/d6a.log | tr '\n' ' ')"
wait_follower $tpid
nr=$(nlines /nm/t6a.txt ' /tmp/m/r/f')
nt=$(wc -l </nm/t6a.txt)
if [ "$nr" = 5 ] && [ "$nt" = $((q1 - q0)) ]; then
	pass "6a: 5 records measured while imastored was stopped, then SIGTERM: streamed before \"end\" ($nt lines = what the count grew by)"
else
	fail "6a: of 5 records in the ring at SIGTERM the follower got $nr ($nt lines in all, the count grew by $((q1 - q0)))"
fi
[ "$trc" = 0 ] && pass "6a: the follower exited 0" ||
	fail "6a: the follower exited $trc: $(head -c 300 /nm/t6a.err)"
cp /nm/d6a.log /nm/t6a.txt /out/

# ---- 6b: a follower behind when imastored stops still gets everything ----
# The follower is stopped (SIGSTOP) while 1,000 records (~170 KiB of text,
# under the 256 KiB drop limit) are measured, imastored gets SIGTERM, then
# the follower continues: imastored's queue and "end" must reach it.
with_follower 6b /s6 --interval 10000
kill -STOP $tpid
p0=$(count)
mkfiles /tmp/m/p 1000
p1=$(count)
sleep 1
kill -TERM $dpid
usleep 300000
kill -CONT $tpid
wait $dpid && rc=0 || rc=$?
[ "$rc" = 0 ] || fail "6b: imastored exited $rc: $(tail -n 3 /nm/d6b.log | tr '\n' ' ')"
wait_follower $tpid
np=$(nlines /nm/t6b.txt ' /tmp/m/p/f')
nt=$(wc -l </nm/t6b.txt)
dr=$(grep -a -o '[0-9]* dropped (slow)' /nm/d6b.log | tail -n 1 | cut -d' ' -f1)
if [ "$trc" = 0 ] && [ "$np" = 1000 ] && [ "$nt" = $((p1 - p0)) ] && [ "$dr" = 0 ]; then
	pass "6b: a follower stopped during 1000 measurements and SIGTERM, then continued: all $np records ($(wc -c </nm/t6b.txt) bytes), exit 0, 0 dropped"
else
	fail "6b: a follower stopped during 1000 measurements and SIGTERM: $np of 1000 records ($nt lines, the count grew by $((p1 - p0))), exit $trc, '$dr' dropped: $(head -c 300 /nm/t6b.err)"
fi
grep -a 'tail:' /nm/d6b.log | sed 's/^/guest: 6b: /'
cp /nm/d6b.log /out/

# ---- 6c: two imastoreds (two stores) at once: the pins follow the last ----
imastored --foreground --store /s7 --flavor mirror --interval 1000 \
	--tail-socket /run/imastore/t7.sock 2>/nm/d6c1.log &
d1pid=$!
wait_log /nm/d6c1.log 'cycle: kernel'
imastored --foreground --store /s8 --flavor mirror --interval 1000 \
	--tail-socket /run/imastore/t8.sock 2>/nm/d6c2.log &
d2pid=$!
wait_log /nm/d6c2.log 'cycle: kernel'
if grep -aq 'BPF wake-up: fexit' /nm/d6c1.log && grep -aq 'BPF wake-up: fexit' /nm/d6c2.log &&
	! grep -aq 'cannot pin' /nm/d6c1.log /nm/d6c2.log; then
	pass "6c: two imastoreds (/s7, /s8) run with BPF at once, both pinned"
else
	fail "6c: two imastoreds: $(grep -a -h 'BPF\|pin' /nm/d6c1.log /nm/d6c2.log | tr '\n' ' ' | cut -c1-300)"
fi
stop $d1pid /nm/d6c1.log "6c: the first"
if [ -e /sys/fs/bpf/imastore/stats ] &&
	bpftool map dump pinned /sys/fs/bpf/imastore/stats >/nm/stats6.txt 2>&1 &&
	grep -q '"emitted"' /nm/stats6.txt &&
	bpftool map dump pinned /sys/fs/bpf/imastore/state 2>&1 | grep -q next_seq; then
	pass "6c: the first exited: the second's pins stay (bpftool map dump pinned .../stats, .../state)"
else
	fail "6c: the first exited: the second's pins: $(ls /sys/fs/bpf/imastore 2>&1 | tr '\n' ' ') $(head -c 200 /nm/stats6.txt)"
fi
stop $d2pid /nm/d6c2.log "6c: the second"
if [ ! -e /sys/fs/bpf/imastore ]; then
	pass "6c: the second exited: pins and /sys/fs/bpf/imastore gone"
else
	fail "6c: the second exited, left: $(ls /sys/fs/bpf/imastore 2>&1 | tr '\n' ' ')"
fi
cp /nm/d6c1.log /nm/d6c2.log /out/

# ---- 6d: SIGHUP with BPF: reloaded, still capturing and streaming ----
echo 'interval = 10000' >/nm/d6d.conf
with_follower 6d /s9 --config /nm/d6d.conf
echo 'interval = 500' >/nm/d6d.conf
kill -HUP $dpid
wait_log /nm/d6d.log 'configuration reloaded'
if grep -aq 'configuration reloaded: interval 500 ms' /nm/d6d.log; then
	pass "6d: SIGHUP: $(grep -a -m1 'configuration reloaded' /nm/d6d.log | cut -c1-120)"
else
	fail "6d: SIGHUP: no 'configuration reloaded: interval 500 ms': $(tail -n 3 /nm/d6d.log | tr '\n' ' ')"
fi
nc0=$(nlines /nm/d6d.log 'cycle: kernel')
mkfiles /tmp/m/h 5
wait_lines /nm/t6d.txt ' /tmp/m/h/f' 5 30
wait_lines /nm/d6d.log 'cycle: kernel' $((nc0 + 1)) 30
stop $dpid /nm/d6d.log "6d"
wait_follower $tpid
nh=$(nlines /nm/t6d.txt ' /tmp/m/h/f')
if imastore export --store /s9 --no-kernel --format ascii -o /nm/exp6.txt 2>/nm/exp6.err; then
	ns=$(nlines /nm/exp6.txt ' /tmp/m/h/f')
else
	ns="export failed: $(head -c 200 /nm/exp6.err)"
fi
if [ "$nh" = 5 ] && [ "$ns" = 5 ] && [ "$trc" = 0 ]; then
	pass "6d: after SIGHUP, 5 files measured: streamed to the follower (exit 0) and stored by a cycle (export --no-kernel)"
else
	fail "6d: after SIGHUP, of 5 files measured the follower got $nh (exit $trc), the store has $ns: $(grep -a 'BPF\|bpf\|cycle' /nm/d6d.log | tail -n 3 | tr '\n' ' ')"
fi
cp /nm/d6d.log /out/
glog "section 6 (live stream edges, two daemons, SIGHUP): $(($(uptime_ms) - u6)) ms"
[ "$fails" = 0 ] && guest_finish 0
guest_finish 1
EOF

# host_tail_checks NAME LOGDIR: tail-check.py on the live stream the guest
# copied out (tail.json, tail-list.json ...), counted like the guest's checks.
host_tail_checks() {
	local name=$1 log=$2 line n=0 out
	out=$(python3 "$HERE/tail-check.py" "$log/files" 2>&1) || true
	while IFS= read -r line; do
		case "$line" in
		'PASS '*) n=$((n + 1)); GUEST_PASSED=$((GUEST_PASSED + 1)); echo "PASS $name: host: ${line#PASS }" ;;
		'FAIL '*) n=$((n + 1)); GUEST_FAILED=$((GUEST_FAILED + 1)); echo "FAIL $name: host: ${line#FAIL }" ;;
		*) echo "   $name host: $line" ;;
		esac
	done <<<"$out"
	if [ "$n" = 0 ]; then
		echo "FAIL $name: host: tail-check.py ran no check"
		GUEST_FAILED=$((GUEST_FAILED + 1))
	fi
}

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
	# the fallback (d5.log: no BPF in the kernel) streams no BPF records
	[ -e "$log/files/d5.log" ] || host_tail_checks "$k" "$log"
	tr -d '\r' <"$log/console.log" | grep -a '^guest: ' | sed "s/^/   $k /" || true
	echo "   ($k: ${GUEST_SECONDS}s; daemon logs in $log/files/)"
done
echo "test-bpf: $GUEST_PASSED passed, $GUEST_FAILED failed"
[ "$GUEST_FAILED" = 0 ]
