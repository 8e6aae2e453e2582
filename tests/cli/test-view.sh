#!/bin/bash
# `imastore mount` (docs/view.md) on stores built from lists captured from
# real kernels and from synthetic ones: every file byte for byte the kernel's
# list (every bank, binary and ASCII), the attributes of securityfs, reads at
# random offsets and sizes equal to `imastore export`, a chain that grows
# under an open fd, and the faults: a missing or busy mount point, a stale
# mount, no /dev/fuse, an unprivileged reader, the server killed under a
# reader, damaged store data. Needs root and /dev/fuse: without them it
# fails (never skips).
set -u
cd "$(dirname "$0")/../.."
IM=$PWD/${OUT:-build}/imastore
IMD=$PWD/${OUT:-build}/imastored
MKLIST=$PWD/${OUT:-build}/tools/mklist
LISTTOOL=tests/cli/ima_list.py
tmp=$(mktemp -d)
pids=()
cleanup() {
	local m
	for m in "$tmp"/mnt*; do mountpoint -q "$m" 2>/dev/null && umount -l "$m"; done
	[ ${#pids[@]} = 0 ] || kill "${pids[@]}" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
. tests/cli/lib.sh

if [ ! -c /dev/fuse ] || [ "$(id -u)" != 0 ]; then
	echo "  FAIL: the view tests need root and /dev/fuse (uid $(id -u), /dev/fuse: $(ls -l /dev/fuse 2>&1))"
	fail=1
	finish "view cli"
	exit 1
fi

# start_mount MNT LOG ARGS...: imastore mount -f in the background, until mounted
start_mount() {
	local mnt=$1 log=$2 i
	shift 2
	mkdir -p "$mnt" 2>/dev/null	# (a stale mount answers ENOTCONN)
	"$IM" mount -f "$@" "$mnt" 2>"$log" &
	MPID=$!
	pids+=("$MPID")
	for i in $(seq 200); do
		mountpoint -q "$mnt" && return 0
		kill -0 "$MPID" 2>/dev/null || break
		sleep 0.05
	done
	echo "    mount of $mnt did not come up: $(cat "$log")"
	return 1
}

stop_mount() {	# stop_mount MNT: umount; the server must exit 0
	umount "$1" && wait "$MPID"
}

# all banks of the TPM, as imastored records them (import knows only its own)
all_banks() {
	sed -i 's/^banks=.*/banks=sha1:hashed,sha256:hashed,sha384:hashed,sha512:hashed/' \
		"$1"/chains/*/meta
}

# same_bytes FILE REF OFF LEN: bytes [OFF, OFF+LEN) of FILE and REF are equal
same_bytes() {
	cmp -s <(dd if="$1" bs=65536 skip="$3" count="$4" iflag=skip_bytes,count_bytes status=none) \
		<(dd if="$2" bs=65536 skip="$3" count="$4" iflag=skip_bytes,count_bytes status=none)
}

# random_reads FILE REF N: N reads at random offsets and sizes agree
random_reads() {
	local f=$1 ref=$2 n=$3 size off len i
	size=$(stat -c %s "$ref")
	for i in $(seq "$n"); do
		off=$(( (RANDOM * 32768 + RANDOM) % (size + 64) ))
		len=$(( 1 + (RANDOM * 7) % 70000 ))
		same_bytes "$f" "$ref" "$off" "$len" || { echo "    differ at $off+$len"; return 1; }
	done
}

# ---- fixtures from real 7.2 kernels: every file is the kernel's ----
for d in tests/fixtures/deb72-*/; do
	d=${d%/}
	name=${d##*/}
	fmt=$(sed -n 's/^template_fmt=//p' "$d/meta")
	tf=()
	[ -n "$fmt" ] && tf=(--template-fmt "$fmt")
	st=$tmp/st-$name
	mnt=$tmp/mnt-$name
	"$IM" import --store "$st" --boot "b-$name" "${tf[@]}" "$d/binary_runtime_measurements_sha256" ||
		{ check "$name: import" false; continue; }
	all_banks "$st"
	check "$name: mount" start_mount "$mnt" "$tmp/log-$name" --store "$st" --boot "b-$name"
	for bank in sha1 sha256 sha384 sha512; do
		for f in binary ascii; do
			check "$name: ${f}_runtime_measurements_$bank is the kernel's" \
				cmp "$mnt/${f}_runtime_measurements_$bank" "$d/${f}_runtime_measurements_$bank"
		done
	done
	for f in binary ascii; do
		check "$name: ${f}_runtime_measurements -> ${f}_runtime_measurements_sha1" \
			test "$(readlink "$mnt/${f}_runtime_measurements")" = "${f}_runtime_measurements_sha1"
		check "$name: ${f}_runtime_measurements reads as the sha1 list" \
			cmp "$mnt/${f}_runtime_measurements" "$d/${f}_runtime_measurements_sha1"
	done
	check "$name: runtime_measurements_count = the records" \
		test "$(cat "$mnt/runtime_measurements_count")" = "$(sed -n 's/^records=//p' "$d/meta")"
	check "$name: violations = the kernel's" \
		test "$(cat "$mnt/violations")" = "$(sed -n 's/^violations=//p' "$d/meta")"
	check "$name: unmount, the server exits 0" stop_mount "$mnt"
done

# ---- attributes, as securityfs has them ----
d=tests/fixtures/deb72-ima-sig
st=$tmp/st-deb72-ima-sig
mnt=$tmp/mnt-attr
start_mount "$mnt" "$tmp/log-attr" --store "$st" --boot b-deb72-ima-sig
f=$mnt/binary_runtime_measurements_sha256
check "attributes: 0440 root:root, size 0 (as securityfs)" \
	test "$(stat -c '%a %u %g %s %F' "$f")" = "440 0 0 0 regular empty file"
i1=$(stat -c '%i %Z' "$f"); cat "$f" >/dev/null; sleep 1.1; i2=$(stat -c '%i %Z' "$f")
check "attributes: the same inode and ctime after reads ($i1)" test "$i1" = "$i2"
check "attributes: the legacy names are symlinks" test -L "$mnt/ascii_runtime_measurements"
check "the mount is allow_other, read-only" \
	grep -qE " $mnt fuse.imastore ro,.*allow_other" /proc/self/mounts
check_fails "an unprivileged reader gets EACCES" 1 "Permission denied" \
	setpriv --reuid 65534 --regid 65534 --clear-groups cat "$f"
check_fails "opening for writing is refused" 1 "Read-only file system" \
	bash -c "echo 1 > '$f'"
check "ls lists every file" test "$(ls "$mnt" | wc -l)" = 12
check_fails "a mount point in use is refused" 2 "$mnt: something is mounted there already" \
	"$IM" mount -f --store "$st" --boot b-deb72-ima-sig "$mnt"
check "unmount, the server exits 0" stop_mount "$mnt"

# ---- a synthetic list of 20000 records: random reads equal export ----
"$MKLIST" -n 20000 -b sha256 >"$tmp/big.bin"
st=$tmp/st-big
"$IM" import --store "$st" --boot big "$tmp/big.bin"
all_banks "$st"
mnt=$tmp/mnt-big
check "20000 records: mount" start_mount "$mnt" "$tmp/log-big" --store "$st" --boot big
for bank in sha1 sha256 sha512; do
	for fm in binary ascii; do
		"$IM" export --store "$st" --boot big --bank $bank --format $fm -o "$tmp/exp-$bank-$fm"
		check "20000 records: ${fm} $bank equals export" \
			cmp "$mnt/${fm}_runtime_measurements_$bank" "$tmp/exp-$bank-$fm"
		check "20000 records: ${fm} $bank: 40 reads at random offsets and sizes equal export" \
			random_reads "$mnt/${fm}_runtime_measurements_$bank" "$tmp/exp-$bank-$fm" 40
	done
done
check "20000 records: dd bs=7 of ascii sha1 equals export" \
	cmp <(dd if="$mnt/ascii_runtime_measurements_sha1" bs=7 status=none) "$tmp/exp-sha1-ascii"
check "unmount, the server exits 0" stop_mount "$mnt"

# ---- a chain that grows under an open fd ----
python3 - "$tmp/big.bin" "$tmp/piece" <<'PY'
import sys
sys.path.insert(0, "tests/cli")
import ima_list
buf = open(sys.argv[1], "rb").read()
offs = [o for o, _, _ in ima_list.records(buf, 32)] + [len(buf)]
cuts = [0, 5000, 5001, 12000, len(offs) - 1]
for i in range(len(cuts) - 1):
    open("%s.%d" % (sys.argv[2], i), "wb").write(buf[offs[cuts[i]]:offs[cuts[i + 1]]])
PY
st=$tmp/st-grow
"$IM" import --store "$st" --boot g "$tmp/piece.0"
mnt=$tmp/mnt-grow
start_mount "$mnt" "$tmp/log-grow" --store "$st" --boot g
exec 3<"$mnt/binary_runtime_measurements_sha256" 4<"$mnt/ascii_runtime_measurements_sha256"
cat <&3 >"$tmp/grow.bin"
cat <&4 >"$tmp/grow.txt"
for p in 1 2 3; do
	"$IM" import --store "$st" --boot g "$tmp/piece.$p"
	cat <&3 >>"$tmp/grow.bin"
	cat <&4 >>"$tmp/grow.txt"
	"$IM" export --store "$st" --boot g -o "$tmp/grow-exp.bin"
	"$IM" export --store "$st" --boot g --format ascii -o "$tmp/grow-exp.txt"
	check "growing chain, piece $p: the held fd continues the list (binary)" \
		cmp "$tmp/grow.bin" "$tmp/grow-exp.bin"
	check "growing chain, piece $p: the held fd continues the list (ascii)" \
		cmp "$tmp/grow.txt" "$tmp/grow-exp.txt"
	check "growing chain, piece $p: runtime_measurements_count follows" \
		test "$(cat "$mnt/runtime_measurements_count")" = "$(wc -l <"$tmp/grow-exp.txt")"
done
check "growing chain: all 20000 records" test "$(wc -l <"$tmp/grow.txt")" = 20000
# the server dies: the reader gets an error, never bytes
kill -9 "$MPID"
wait "$MPID" 2>/dev/null
check_fails "server killed: a read on a held fd fails with ENOTCONN" 1 \
	"Transport endpoint is not connected" cat "$mnt/binary_runtime_measurements_sha256"
check_fails "server killed: the held fd fails too, no bytes" 1 \
	"Transport endpoint is not connected" dd bs=4096 count=1 status=none <&3
exec 3<&- 4<&-
check "a stale mount (its server was killed) is detached by the next mount" \
	start_mount "$mnt" "$tmp/log-stale" --store "$st" --boot g
check "... and says so" grep -q "detached a stale FUSE mount" "$tmp/log-stale"
check "... and serves again" cmp "$mnt/binary_runtime_measurements_sha256" "$tmp/grow-exp.bin"
check "unmount, the server exits 0" stop_mount "$mnt"

# ---- damaged store data: EIO for that range, the rest served ----
st=$tmp/st-dmg
"$IM" import --store "$st" --boot dmg "$tmp/piece.0"
"$IM" import --store "$st" --boot dmg "$tmp/piece.1" "$tmp/piece.2"
"$IM" import --store "$st" --boot dmg "$tmp/piece.3"
"$IM" export --store "$st" --boot dmg -o "$tmp/dmg-exp.bin"
seg=$(ls "$st"/chains/dmg/seg-*.log)
# a byte inside record 8000 (committed; a later group follows it: the
# chain is durable up to the group before it, 5001 records)
at=$(python3 - "$seg" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
o = 24 + 32
while True:
    magic, crc, plen, res, idx = struct.unpack_from("<4sIIIQ", b, o)
    if magic == b"IMAR" and idx == 8000:
        print(o + 40)
        break
    o += 24 + plen
PY
)
printf 'X' | dd of="$seg" bs=1 seek="$at" conv=notrunc status=none
good=$(python3 - "$tmp/dmg-exp.bin" <<'PY'
import sys
sys.path.insert(0, "tests/cli")
import ima_list
buf = open(sys.argv[1], "rb").read()
print([o for o, _, _ in ima_list.records(buf, 32)][5001])
PY
)
mnt=$tmp/mnt-dmg
start_mount "$mnt" "$tmp/log-dmg" --store "$st" --boot dmg
f=$mnt/binary_runtime_measurements_sha256
check "damage: the records before it are served ($good bytes)" \
	cmp <(head -c "$good" "$f") <(head -c "$good" "$tmp/dmg-exp.bin")
check_fails "damage: a read of the damaged range fails with EIO" 1 "Input/output error" \
	dd if="$f" bs=4096 skip="$good" iflag=skip_bytes status=none of=/dev/null
check_fails "damage: so does a read through it to the end" 1 "Input/output error" \
	cat "$mnt/ascii_runtime_measurements_sha1"
check "damage: logged with the file and offset" \
	grep -q "seg-0000000000000000.log is corrupt at byte offset" "$tmp/log-dmg"
check "damage: a read before it still works afterwards" \
	same_bytes "$f" "$tmp/dmg-exp.bin" 1000 5000
check "unmount, the server exits 0" stop_mount "$mnt"

# ---- bad input ----
check_fails "a missing mount point" 2 "$tmp/nowhere: No such file or directory" \
	"$IM" mount -f --store "$st" --boot dmg "$tmp/nowhere"
check_fails "no /dev/fuse" 2 "/nonexistent/fuse: No such file or directory (no FUSE in this kernel or container)" \
	env IMASTORE_DEV_FUSE=/nonexistent/fuse "$IM" mount -f --store "$st" --boot dmg "$tmp"
check_fails "no such boot" 2 "no chain for 'nosuch'" \
	"$IM" mount -f --store "$st" --boot nosuch "$tmp"
check_fails "no mount point given" 2 "mount: no mount point given" "$IM" mount --store "$st"
check "mount --help" quiet "$IM" mount --help

# ---- imastored's view: a read at the end brings the kernel's new records ----
# (a fake securityfs, mirror flavor; cycles only every 10 minutes, so what a
# read sees at the end came from the cycle the read asked for)
FIX=tests/fixtures/deb72-ima-sig
SFS=$tmp/sfs
mkdir -p "$SFS"
echo 2 >"$SFS/violations"
echo 0a1b2c3d-0000-4000-8000-00000000cafe >"$tmp/boot_id"
feed() {	# feed N: the first N records of the fixture in every bank
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
# prefix N BANK FORMAT: the first N records of the fixture's list
prefix() {
	if [ "$3" = ascii ]; then
		head -n "$1" "$FIX/ascii_runtime_measurements_$2"
	else
		python3 - "$FIX/binary_runtime_measurements_$2" "$1" "$2" <<'PY'
import sys
sys.path.insert(0, "tests/cli")
import ima_list
w = {"sha1": 20, "sha256": 32, "sha384": 48, "sha512": 64}[sys.argv[3]]
buf = open(sys.argv[1], "rb").read()
offs = [o for o, _, _ in ima_list.records(buf, w)] + [len(buf)]
sys.stdout.buffer.write(buf[:offs[int(sys.argv[2])]])
PY
	fi
}
export IMASTORE_SECURITYFS=$SFS IMASTORE_BOOT_ID_FILE=$tmp/boot_id
feed 10
mnt=$tmp/mnt-daemon/ima
"$IMD" --foreground --no-bpf --flavor mirror --insecure --store "$tmp/st-daemon" \
	--interval 600000 --latency 600000 --tail-socket none --view "$mnt" 2>"$tmp/log-daemon" &
dpid=$!
pids+=("$dpid")
for i in $(seq 100); do mountpoint -q "$mnt" && break; sleep 0.1; done
check "imastored: the view is mounted at --view (the directory made)" mountpoint -q "$mnt"
check "imastored: says so in its log" grep -q "view: the complete list of chain" "$tmp/log-daemon"
exec 3<"$mnt/ascii_runtime_measurements_sha256" 4<"$mnt/binary_runtime_measurements_sha384"
check "imastored view: 10 records" cmp <(cat <&3) <(prefix 10 sha256 ascii)
check "imastored view: runtime_measurements_count 10" test "$(cat "$mnt/runtime_measurements_count")" = 10
for n in 11 20 38; do
	feed $n
	check "imastored view: after the kernel got to $n records, a read at the end has them (ascii sha256, held fd)" \
		cmp <(cat <&3) <(prefix $n sha256 ascii | tail -n $((n - ${last:-10})))
	check "imastored view: ... binary sha384 on a held fd: the whole list" \
		cmp <(cat <&4; dd if=/dev/stdin bs=1 count=0 status=none </dev/null) \
		<(if [ $n = 11 ]; then prefix 11 sha384 binary; else prefix $n sha384 binary | tail -c +$(( $(prefix ${last} sha384 binary | wc -c) + 1 )); fi)
	check "imastored view: runtime_measurements_count $n, at once" \
		test "$(cat "$mnt/runtime_measurements_count")" = $n
	last=$n
done
check "imastored view: violations" test "$(cat "$mnt/violations")" = 2
check "imastored view: every bank equals the kernel's list" \
	bash -c "for b in sha1 sha256 sha384 sha512; do cmp $mnt/binary_runtime_measurements_\$b $FIX/binary_runtime_measurements_\$b && cmp $mnt/ascii_runtime_measurements_\$b $FIX/ascii_runtime_measurements_\$b || exit 1; done"
kill -TERM "$dpid"
wait "$dpid"
check "imastored: SIGTERM with the view mounted: exit 0" test $? = 0
check_fails "imastored stopped: the held fd fails, no bytes" 1 "Transport endpoint is not connected" \
	dd bs=4096 count=1 status=none <&3
exec 3<&- 4<&-
check "imastored stopped: the view is unmounted" bash -c "! mountpoint -q $mnt"
check "imastored: logged the view's counts at exit" grep -q "view: .* opens, .* reads" "$tmp/log-daemon"
"$IMD" --once --no-bpf --flavor mirror --insecure --store "$tmp/st-daemon" 2>"$tmp/log-once"
check "imastored --once: no view" bash -c "! grep -q view '$tmp/log-once'"
IMASTORE_DEV_FUSE=/nonexistent/fuse "$IMD" --foreground --no-bpf --flavor mirror --insecure \
	--store "$tmp/st-daemon" --interval 600000 --tail-socket none --view "$mnt" 2>"$tmp/log-nofuse" &
dpid=$!
pids+=("$dpid")
for i in $(seq 50); do grep -q "view off" "$tmp/log-nofuse" && break; sleep 0.1; done
check "imastored without /dev/fuse: one line says the view is off, and why" \
	test "$(grep -c "view off: /nonexistent/fuse: No such file or directory (no FUSE in this kernel or container)" "$tmp/log-nofuse")" = 1
check "imastored without /dev/fuse: runs on" kill -0 "$dpid"
kill -TERM "$dpid"
wait "$dpid"
check "imastored without /dev/fuse: SIGTERM, exit 0" test $? = 0
check "imastored without /dev/fuse: no other view line" bash -c "! grep -q 'view:' '$tmp/log-nofuse'"
unset IMASTORE_SECURITYFS IMASTORE_BOOT_ID_FILE

finish "view cli"
