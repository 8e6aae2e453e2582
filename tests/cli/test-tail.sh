#!/bin/bash
# `imastore tail` against a running imastored, on lists captured from a real
# 7.2 kernel served through a fake securityfs (IMASTORE_SECURITYFS), with
# polling (--no-bpf: records come from the list as each cycle stores them).
# The BPF source is tested in real kernels (tests/guest/test-bpf.sh).
#   - the backlog (-n) and a follower (text and JSON) say what `imastore
#     show` says of the same records, with seq = index, source "list";
#   - followers end with status 0 when imastored stops, 2 when it is killed;
#   - errors: no daemon, bad options, --tail-socket none;
#   - SIGHUP reloads the config file (a bad one changes nothing) while the
#     stream goes on.
set -u
cd "$(dirname "$0")/../.."
IM=$PWD/${OUT:-build}/imastore
IMD=$PWD/${OUT:-build}/imastored
tmp=$(mktemp -d)
dpid=
trap '[ -z "$dpid" ] || kill -9 $dpid 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
. tests/cli/lib.sh

FIX=tests/fixtures/deb72-ima-sig
SFS=$tmp/sfs
SOCK=$tmp/run/tail.sock
mkdir -p "$SFS"
export IMASTORE_SECURITYFS=$SFS IMASTORE_BOOT_ID_FILE=$tmp/boot_id
echo 0a1b2c3d-0000-4000-8000-00000000beef >"$tmp/boot_id"
echo 0 >"$SFS/violations"

# feed N: the first N records of the fixture, in every bank, and the count
feed() {
	python3 - "$FIX" "$SFS" "$1" <<'PY'
import sys
sys.path.insert(0, "tests/cli")
import ima_list
fix, sfs, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for bank, w in (("sha1", 20), ("sha256", 32), ("sha384", 48), ("sha512", 64)):
    buf = open(f"{fix}/binary_runtime_measurements_{bank}", "rb").read()
    offs = [o for o, _, _ in ima_list.records(buf, w)] + [len(buf)]
    with open(f"{sfs}/binary_runtime_measurements_{bank}", "wb") as f:
        f.write(buf[:offs[n]])
open(f"{sfs}/runtime_measurements_count", "w").write(f"{n}\n")
PY
}

# start_daemon LOG [OPTION...]: a polling, mirroring imastored on the
# test's store, logging to LOG (appended); its pid in dpid
start_daemon() {
	local log=$1
	shift
	touch "$log"
	"$IMD" --foreground --no-bpf --flavor mirror --insecure --store "$tmp/st" "$@" \
		2>>"$log" &
	dpid=$!
}

stop_daemon() { # SIGTERM; the status is imastored's exit status
	local rc
	kill -TERM $dpid
	wait $dpid
	rc=$?
	dpid=
	return $rc
}

wait_for() { # PATH-or-command, up to 10 s
	local i=0
	while ! eval "$1" && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	eval "$1"
}

# ---- errors before any daemon ----
check_fails "no daemon: exit 2, says where it looked" \
	2 "no live stream at $SOCK (No such file or directory)" "$IM" tail -S "$SOCK"
check_fails "-n 65: exit 2, the range" \
	2 "--lines: a number from 0 to 64, not '65'" "$IM" tail -n 65
check_fails "an argument: exit 2" 2 "tail takes no arguments" "$IM" tail extra
"$IM" tail --help | grep -q -- "--follow"
check "--help names --follow" test $? = 0
check_fails "tail --json, no daemon: the error is a JSON object" \
	2 '{"error":"no live stream at '"$SOCK"' (No such file or directory)' "$IM" tail --json -S "$SOCK"

# ---- imastored's log lines: "<N>" for journald and files, plain on a terminal ----
noima=(env IMASTORE_SECURITYFS="$tmp/no-ima" "$IMD" --once --store "$tmp/st")
check_fails "imastored, stderr not a terminal: the journald priority prefix" \
	1 "<3>IMA is not enabled (no $tmp/no-ima)" "${noima[@]}"
on_tty() { script -qec "$(printf '%q ' "$@")" /dev/null | tr -d '\r'; }
check "imastored on a terminal: plain lines, no '<3>'" \
	grep -qx "IMA is not enabled (no $tmp/no-ima)" <(on_tty "${noima[@]}")
check "imastored on a terminal under journald (JOURNAL_STREAM): the prefix" \
	grep -qx "<3>IMA is not enabled (no $tmp/no-ima)" <(on_tty env JOURNAL_STREAM=8:1 "${noima[@]}")

# ---- a polling daemon with 20 records stored ----
feed 20
start_daemon "$tmp/d.log" --latency 50 --interval 100 --tail-socket "$SOCK"
wait_for "grep -q 'cycle: kernel 20' '$tmp/d.log'"
check "socket is 0600" test "$(stat -c %a "$SOCK")" = 600
check "log names the stream and its source" grep -q "live stream on $SOCK (records from the list" "$tmp/d.log"

"$IM" show "$FIX/binary_runtime_measurements_sha512" >"$tmp/show.txt"
"$IM" show --json "$FIX/binary_runtime_measurements_sha512" >"$tmp/show.json"

IMASTORE_TAIL_SOCKET=$SOCK "$IM" tail -n 5 >"$tmp/t5.txt" 2>"$tmp/err"
check "tail -n 5: exit 0" test $? = 0
check "tail -n 5: five lines" test "$(wc -l <"$tmp/t5.txt")" = 5
check "tail -n 5: the columns of show, records 15..19" \
	diff <(cut -d' ' -f3- "$tmp/t5.txt") <(sed -n '16,20p' "$tmp/show.txt" | cut -d' ' -f2-)
check "tail -n 5: SEQ is the index" \
	diff <(cut -d' ' -f2 "$tmp/t5.txt") <(seq 15 19)
"$IM" tail -S "$SOCK" -n 0 >"$tmp/t0.txt"
check "tail -n 0: nothing" test ! -s "$tmp/t0.txt"

# ---- followers: JSON and text, then 12 more records ----
"$IM" tail -S "$SOCK" -f --json -n 0 >"$tmp/f.json" 2>"$tmp/f.err" &
fj=$!
"$IM" tail -S "$SOCK" -f -n 2 >"$tmp/f.txt" 2>/dev/null &
ft=$!
wait_for "[ \$(wc -l <'$tmp/f.txt') = 2 ]"
feed 32
wait_for "grep -q 'stored 12 new' '$tmp/d.log'"
wait_for "[ \$(wc -l <'$tmp/f.json') = 12 ]"
stop_daemon
check "imastored: exit 0 on SIGTERM" test $? = 0
wait $fj
check "JSON follower: exit 0 when imastored stops" test $? = 0
check "JSON follower: says imastored stopped" grep -q "stopped the live stream" "$tmp/f.err"
wait $ft
check "text follower: exit 0" test $? = 0
check "text follower: 2 + 12 lines" test "$(wc -l <"$tmp/f.txt")" = 14
check "text follower: the columns of show, records 18..31" \
	diff <(cut -d' ' -f3- "$tmp/f.txt") <(sed -n '19,32p' "$tmp/show.txt" | cut -d' ' -f2-)
check "JSON follower: the records of show --json, seq = index, source list" \
	python3 - "$tmp/f.json" "$tmp/show.json" <<'PY'
import json, sys
got = [json.loads(l) for l in open(sys.argv[1])]
want = [json.loads(l) for l in open(sys.argv[2])][20:32]
assert len(got) == 12, len(got)
for g, w in zip(got, want):
    assert g.pop("seq") == w["index"] == g["index"], (g, w)
    assert g.pop("source") == "list"
    assert g.pop("truncated") is False
    assert g.pop("template_data_len") > 0
    assert g.pop("time").endswith("Z")
    assert g == w, (g, w)
PY
check "the socket is gone after exit" test ! -e "$SOCK"
check "status: the last cycle saw 2 consumers, none dropped, polling" \
	python3 -c '
import json, sys
d = json.load(sys.stdin)["daemon"]
assert (d["wakeup"], d["tail_consumers"], d["tail_dropped"], d["bpf_records_lost"]) == \
	("polling", "2", "0", "0"), d' < <("$IM" status --store "$tmp/st" --insecure --json)

# ---- a follower sees the stream break off when imastored is killed ----
start_daemon "$tmp/d.log" --latency 50 --interval 100 --tail-socket "$SOCK"
wait_for "[ -S '$SOCK' ]"
"$IM" tail -S "$SOCK" -f -n 1 >/dev/null 2>"$tmp/k.err" &
fk=$!
sleep 0.5
kill -9 $dpid
wait $dpid 2>/dev/null
dpid=
wait $fk
check "killed imastored: the follower exits 2" test $? = 2
check "killed imastored: says the stream broke off" grep -q "broke off" "$tmp/k.err"

# ---- a stale socket of the killed daemon is replaced; 'none' serves nothing ----
start_daemon "$tmp/d2.log" --latency 50 --interval 100 --tail-socket "$SOCK"
wait_for "grep -q 'live stream on' '$tmp/d2.log'"
"$IM" tail -S "$SOCK" -n 1 >"$tmp/t1.txt"
check "after kill -9: the next imastored serves the socket again" test $? = 0
# the backlog holds what this imastored saw: nothing new since it started
check "a new imastored: an empty backlog" test ! -s "$tmp/t1.txt"
stop_daemon
start_daemon "$tmp/d3.log" --latency 50 --interval 100 --tail-socket none
wait_for "grep -q 'cycle: kernel' '$tmp/d3.log'"
check "--tail-socket none: no socket" test ! -e "$SOCK"
stop_daemon

# ---- SIGHUP: reloads the file, keeps serving; a bad file changes nothing ----
cat >"$tmp/conf" <<EOF_CONF
interval = 100
latency = 50
EOF_CONF
start_daemon "$tmp/d4.log" --config "$tmp/conf" --tail-socket "$SOCK"
wait_for "grep -q 'live stream on' '$tmp/d4.log'"
"$IM" tail -S "$SOCK" -f -n 0 >"$tmp/h.txt" 2>/dev/null &
fh=$!
sleep 0.3
printf 'interval = 250\nlatency = 60\nringbuf_size = 8192\n' >"$tmp/conf"
kill -HUP $dpid
wait_for "grep -q 'configuration reloaded' '$tmp/d4.log'"
check "SIGHUP: the new interval and latency" grep -q "reloaded: interval 250 ms, latency 60 ms" "$tmp/d4.log"
check "SIGHUP: BPF settings only at a restart (said so)" grep -q "BPF settings and tail_socket change only at a restart" "$tmp/d4.log"
echo "interval = soon" >"$tmp/conf"
kill -HUP $dpid
wait_for "grep -q 'keeping the old configuration' '$tmp/d4.log'"
check "SIGHUP with a bad file: keeps the old one" grep -q "bad value 'soon' for interval.*keeping the old configuration" "$tmp/d4.log"
feed 38
wait_for "[ \$(wc -l <'$tmp/h.txt') = 6 ]"
check "after two SIGHUPs: the follower gets the 6 new records" \
	diff <(cut -d' ' -f2 "$tmp/h.txt") <(seq 32 37)
"$IM" tail -S "$SOCK" -n 0 >/dev/null
check "after two SIGHUPs: still serving" test $? = 0
check "after two SIGHUPs: still running" kill -0 $dpid
stop_daemon
check "after SIGHUPs: exit 0 on SIGTERM" test $? = 0
wait $fh
check "the follower across SIGHUPs: exit 0 at the end" test $? = 0

finish "tail"
