#!/bin/bash
# test-multiboot.sh: imastored across boots, on real kernels under qemu +
# swtpm, with the store on ext4 on a virtio disk image that survives the
# boots and one swtpm state dir per scenario kept across them (a new swtpm
# per boot: PCRs reset as on real hardware, NV kept).
#
#   reboot  deb72: boot 1 runs imastored (N, trimming; or mirror, never
#           trimming), saves its PCRs; boot 2 on the same disk and TPM (an
#           identical boot_aggregate) runs imastored again: a new chain, each
#           chain verifies against its boot's PCRs, each file once per boot.
#   kexec   staging72 (IMA_KEXEC): imastored (a: N --keep 10; b: --flavor AD),
#           then kexec into the same kernel, imastored again: one chain with
#           two boots, nothing stored twice, verify against the live TPM.
#   cuts    deb72 (N) and staging72 (A/D, ima_flush_htable): SIGKILL qemu at
#           random moments while imastored trims under load, then boot again
#           from the same disk; every record the kernel confirmed deleted
#           must be in the store, fsck clean, earlier chains intact.
#
#   test-multiboot.sh [reboot] [kexec] [cuts]     default: all three
#     (or one half: reboot-n reboot-mirror kexec-n kexec-ad cuts-deb72 cuts-ad)
#   IMASTORE_MB_KEEP=1      keep the disk images, TPM states and store copies
#   IMASTORE_MB_SEED=N      the seed of every random choice (printed)
#   IMASTORE_MB_CUTS="A B"  cuts on deb72 and on staging72 (default "20 30")
#   IMASTORE_MB_CUT_MS="LO HI"  a cut lands LO..HI ms into the workload (1000 5000)
#
# One line per check, then "N passed, N failed"; exits non-zero on failure.
# Missing qemu/kernels/tools is a failure, unless IMASTORE_SKIP_GUEST=1.
# Logs: $IMASTORE_CACHE/logs/test-multiboot/. See docs/real-kernel-tests.md.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BIN=${IMASTORE_BIN:-$TOP/build/imastore}
DBIN=${IMASTORED_BIN:-$TOP/build/imastored}

if [ "${IMASTORE_SKIP_GUEST:-0}" = 1 ]; then
	echo "test-multiboot: skipped (IMASTORE_SKIP_GUEST=1)"
	exit 0
fi
. "$HERE/lib.sh"
guest_require
[ -x "$BIN" ] || guest_die "$BIN not built: run 'make all' first"
[ -x "$DBIN" ] || guest_die "$DBIN not built: run 'make all' first"
for t in mkfs.ext4 debugfs e2fsck python3 kexec truncate; do
	command -v "$t" >/dev/null || guest_die "'$t' not found: run 'make deps' (e2fsprogs, python3, kexec-tools)"
done

SCENARIOS=${*:-reboot kexec cuts}
SEED=${IMASTORE_MB_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
RANDOM=$SEED
CUTS=${IMASTORE_MB_CUTS:-20 30}
read -r CUT_LO CUT_HI <<<"${IMASTORE_MB_CUT_MS:-1000 5000}"
echo "test-multiboot: seed $SEED (IMASTORE_MB_SEED=$SEED repeats every random choice)"
T0=$SECONDS
work=$(mktemp -d "$GUEST_TMP/multiboot.XXXXXX")
# IMASTORE_MB_KEEP=1 keeps the disk images, TPM states and store copies
if [ "${IMASTORE_MB_KEEP:-0}" = 1 ]; then
	trap 'echo "test-multiboot: kept $work"' EXIT
else
	trap 'rm -rf "${work:?}"' EXIT
fi
LOGS=$GUEST_CACHE/logs/test-multiboot
rm -rf "$LOGS"
mkdir -p "$LOGS"

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok - $*"; }
notok() { failed=$((failed + 1)); echo "not ok - $*"; }
# check WHAT CMD...: ok when CMD succeeds (its output goes to $work/check.out)
check() {
	local what=$1
	shift
	if "$@" >"$work/check.out" 2>&1; then
		ok "$what"
	else
		notok "$what: $(tr '\n' ' ' <"$work/check.out" | head -c 400)"
	fi
}
# The guest's "@@CHECK PASS|FAIL what" lines as ok / not ok lines.
guest_checks() { # PREFIX LOGDIR; GUEST_NFAIL: how many failed
	local line
	GUEST_NFAIL=0
	while IFS= read -r line; do
		case "$line" in
		'@@CHECK PASS '*) ok "$1: ${line#@@CHECK PASS }" ;;
		'@@CHECK FAIL '*) notok "$1: ${line#@@CHECK FAIL }"; GUEST_NFAIL=$((GUEST_NFAIL + 1)) ;;
		esac
	done < <(tr -d '\r' <"$2/console.log" | grep -a -o '@@CHECK .*' || true)
}

# ---- kernels and initramfs images ----
declare -A VMLINUZ KARGS INITRD
mb_kernel() { # NAME
	[ -z "${VMLINUZ[$1]:-}" ] || return 0
	guest_kernel "$1"
	VMLINUZ[$1]=$GUEST_VMLINUZ
	KARGS[$1]="$GUEST_KARGS quiet ima_template=ima-ng"
	local root=$work/root-$1
	initramfs_new "$root"
	initramfs_add_bin "$root" "$BIN" "$DBIN"
	mv "$root$BIN" "$root/usr/bin/imastore"
	mv "$root$DBIN" "$root/usr/sbin/imastored"
	initramfs_add_tss "$root"
	guest_modules "$root" "$1"
	[ "$1" != staging72 ] || initramfs_add_bin "$root" "$(command -v kexec)"
	initramfs_add_file "$root" "$HERE/multiboot-init.sh" /init
	chmod 0755 "$root/init"
	INITRD[$1]=$work/initrd-$1.gz
	initramfs_pack "$root" "${INITRD[$1]}"
	rm -rf "${root:?}"
}

# mb_boot NAME KERNEL IMG TPMDIR TIMEOUT MB-ARGS...: one boot on the disk image
# and TPM state; the guest's checks are printed; BOOT_RC its status,
# BOOT_LOG its log dir. GUEST_CUT_MARKER / GUEST_CUT_MS may be set.
mb_boot() {
	local name=$1 k=$2 img=$3 tpm=$4 tmo=$5
	shift 5
	BOOT_LOG=$LOGS/$name
	BOOT_RC=0
	mkdir -p "$BOOT_LOG"
	touch "$BOOT_LOG/console.log"
	# -nic none: no NIC, no iPXE ROM to wait for at every boot. cache=unsafe:
	# the guest's flushes cost nothing on the host; a SIGKILL of qemu loses
	# what the guest had not written to the disk yet either way (what qemu
	# wrote is in the host's page cache and survives)
	GUEST_TPM_STATE=$tpm GUEST_QEMU_ARGS="-nic none -drive file=$img,if=virtio,format=raw,cache=unsafe" \
		guest_run "${VMLINUZ[$k]}" "${INITRD[$k]}" "${KARGS[$k]} $*" "$BOOT_LOG" "$tmo" \
		2>"$BOOT_LOG.harness" || BOOT_RC=$?
	# the harness's own trouble (a guest that failed checks only says so below)
	case "$BOOT_RC" in
	0 | 1 | "$GUEST_CUT_RC") ;;
	*) sed 's/^/   # /' "$BOOT_LOG.harness" ;;
	esac
	guest_checks "$name" "$BOOT_LOG"
}
boot_ok() { # NAME: the boot ended with status 0 (1: its failed checks are counted above)
	if [ "$BOOT_RC" = 0 ]; then
		ok "$1: the guest ran and ended cleanly (${GUEST_SECONDS}s)"
	elif [ "$BOOT_RC" = 1 ] && [ "$GUEST_NFAIL" -gt 0 ]; then
		echo "   # $1: the guest ended with status 1 after $GUEST_NFAIL failed checks (${GUEST_SECONDS}s)"
	else
		notok "$1: guest status $BOOT_RC (log $BOOT_LOG/console.log)"
	fi
}
con() { tr -d '\r' <"$1/console.log"; }
boot_id_of() { con "$1" | grep -a -o '@@MB boot_id=[0-9a-f-]*' | tail -n1 | sed 's/.*=//'; }

# host-side oracle on a copy of the store: status as "CHAIN RECORDS BOOT@FIRST,..."
store_chains() { # STORE
	"$BIN" status --store "$1" --json | python3 -c '
import json, sys
for c in json.load(sys.stdin)["chains"]:
    print(c["chain"], c["records"], ",".join("%s@%d" % (b["boot"], b["first_index"]) for b in c["boots"]))'
}
chain_of_boot() { # STORE BOOT: the chain a boot belongs to
	store_chains "$1" | awk -v b="$2" '{ n = split($3, l, ","); for (i = 1; i <= n; i++) if (l[i] ~ "^" b "@") print $1 }'
}
pcr_args() { # DIR: --pcrs ALG,FILE for every saved bank
	local f a
	for f in "$1"/pcrs-*.txt; do
		a=${f##*/pcrs-}
		printf -- '--pcrs %s,%s ' "${a%.txt}" "$f"
	done
}
# count_in_export STORE BOOT TAG: "records duplicates" of /tmp/m/TAG/ files in the chain
count_in_export() {
	"$BIN" export --store "$1" --boot "$2" --no-kernel --format ascii -o "$work/exp.txt" 2>"$work/exp.err" ||
		{ echo "export-failed"; return; }
	awk '{ print $NF }' "$work/exp.txt" | grep "^/tmp/m/$3/" | sort >"$work/names.txt" || true
	echo "$(wc -l <"$work/names.txt") $(uniq -d "$work/names.txt" | wc -l)"
}
copy_store() { # IMG DEST: store, saved PCRs and logs of a cleanly unmounted image
	guest_disk_copy "$1" "$2" /store /pcrs /logs
}

# ======================= REBOOT =======================
# reboot_scenario NAME FLAVOR: two boots of deb72 on one disk and TPM
reboot_scenario() {
	local v=$1 flavor=$2 img=$work/$1.img tpm=$work/tpm-$1 st=$work/$1-copy
	local b1 b2 l1 l2 r1 r2 c1 c2 chains
	mb_kernel deb72
	guest_disk_create "$img" 64
	mkdir -p "$tpm"
	mb_boot "$v/boot1" deb72 "$img" "$tpm" 300 mb.step=boot mb.flavor="$flavor" mb.tag="${v}1" \
		mb.files=300 mb.trim=50 mb.keep=10
	boot_ok "$v/boot1"
	l1=$BOOT_LOG
	[ -e "$tpm/tpm2-00.permall" ] && ok "$v: swtpm state kept on the host after boot 1 ($tpm)" ||
		notok "$v: no swtpm state file in $tpm after boot 1"
	mb_boot "$v/boot2" deb72 "$img" "$tpm" 300 mb.step=boot mb.flavor="$flavor" mb.tag="${v}2" \
		mb.files=200 mb.trim=50 mb.keep=10 mb.fsck=1
	boot_ok "$v/boot2"
	l2=$BOOT_LOG
	b1=$(cat "$l1/files/boot_id" 2>/dev/null || true)
	b2=$(cat "$l2/files/boot_id" 2>/dev/null || true)
	[ -n "$b1" ] && [ -n "$b2" ] && [ "$b1" != "$b2" ] && ok "$v: two boots ($b1, $b2)" ||
		notok "$v: boot ids '$b1' '$b2'"
	r1=$(cat "$l1/files/resetcount" 2>/dev/null || echo '?')
	r2=$(cat "$l2/files/resetcount" 2>/dev/null || echo '?')
	[ "$r1" != '?' ] && [ "$r2" = $((r1 + 1)) ] &&
		ok "$v: TPM state kept across the reboot (resetCount $r1 -> $r2)" ||
		notok "$v: TPM resetCount $r1 -> $r2 (want +1: state not kept?)"
	if [ -s "$l1/files/head.txt" ] && cmp -s "$l1/files/head.txt" "$l2/files/head.txt"; then
		ok "$v: identical boot_aggregate in both boots ($(cut -d' ' -f2 "$l1/files/head.txt" | head -c 20)...)"
	else
		notok "$v: boot_aggregate differs: $(cat "$l1/files/head.txt" "$l2/files/head.txt" 2>/dev/null | cut -d' ' -f2 | tr '\n' ' ')"
	fi
	con "$l2" | grep -a -E '^<[0-9]>(new chain|boot .* continues)' | sed "s/^/   # $v\/boot2 imastored: /" || true
	copy_store "$img" "$st" || { notok "$v: cannot copy the store out of $img"; return; }
	st=$st/store
	[ -s "$(dirname "$st")/logs/$b1.log" ] && ok "$v: the disk kept boot 1's files (logs/$b1.log)" ||
		notok "$v: boot 1's log is not on the disk after boot 2"
	check "$v: host fsck of the store" "$BIN" fsck --store "$st"
	chains=$(store_chains "$st" 2>&1 || true)
	sed "s/^/   # $v chain /" <<<"$chains"
	c1=$(chain_of_boot "$st" "$b1")
	c2=$(chain_of_boot "$st" "$b2")
	if [ "$(wc -l <<<"$chains")" = 2 ] && [ "$c1" = "$b1" ] && [ "$c2" = "$b2" ]; then
		ok "$v: two chains, boot 2 started its own (a TPM reset, not a continuation)"
	else
		notok "$v: boot 2 is in chain '$c2' (boot 1's: '$c1'); want a new chain $b2; chains: $(tr '\n' ';' <<<"$chains")"
	fi
	# shellcheck disable=SC2046
	check "$v: boot 1's chain verifies against the PCRs boot 1 saved, every bank" \
		"$BIN" verify --store "$st" --boot "$b1" --no-kernel --full $(pcr_args "$st/../pcrs/$b1")
	# shellcheck disable=SC2046
	check "$v: boot 2's chain verifies against the PCRs boot 2 saved, every bank" \
		"$BIN" verify --store "$st" --boot "$b2" --no-kernel --full $(pcr_args "$st/../pcrs/$b2")
	local n1 n2 x1 x2
	n1=$(count_in_export "$st" "$b1" "${v}1") x1=$(count_in_export "$st" "$b1" "${v}2")
	n2=$(count_in_export "$st" "$b2" "${v}2") x2=$(count_in_export "$st" "$b2" "${v}1")
	[ "$n1" = "300 0" ] && [ "$x1" = "0 0" ] &&
		ok "$v: boot 1's chain has each of its 300 files once, none of boot 2's" ||
		notok "$v: boot 1's chain: its files '$n1' (want '300 0'), boot 2's files '$x1' (want '0 0')"
	[ "$n2" = "200 0" ] && [ "$x2" = "0 0" ] &&
		ok "$v: boot 2's chain has each of its 200 files once, none of boot 1's" ||
		notok "$v: boot 2's chain: its files '$n2' (want '200 0'), boot 1's files '$x2' (want '0 0')"
}

# ======================= KEXEC =======================
kexec_scenario() { # NAME FLAVOR
	local v=$1 flavor=$2 img=$work/$1.img tpm=$work/tpm-$1 st=$work/$1-copy disk=$work/$1-disk
	local chains k1 k2 inits
	mb_kernel staging72
	mkdir -p "$disk/boot" "$tpm"
	cp "${VMLINUZ[staging72]}" "$disk/boot/vmlinuz"
	cp "${INITRD[staging72]}" "$disk/boot/initrd.gz"
	guest_disk_create "$img" 64 "$disk"
	mb_boot "$v" staging72 "$img" "$tpm" 300 mb.step=k1 mb.flavor="$flavor" mb.tag="$v" \
		mb.files=300 mb.trim=50 mb.keep=10
	boot_ok "$v"
	inits=$(con "$BOOT_LOG" | grep -a -c '@@IMASTORE-INIT' || true)
	con "$BOOT_LOG" | grep -aq '@@MB-KEXEC' && [ "$inits" = 2 ] &&
		ok "$v: kexec -e: the second kernel booted in the same machine (no reset, ${GUEST_SECONDS}s for both)" ||
		notok "$v: no kexec seen (/init started $inits times)"
	k1=$(con "$BOOT_LOG" | grep -a -o '@@MB boot_id=[0-9a-f-]*' | head -n1 | sed 's/.*=//')
	k2=$(boot_id_of "$BOOT_LOG")
	con "$BOOT_LOG" | grep -a -E '^<[0-9]>(new chain|boot .* continues|.*does not start)' | sed "s/^/   # $v imastored: /" || true
	copy_store "$img" "$st" || { notok "$v: cannot copy the store out of $img"; return; }
	st=$st/store
	check "$v: host fsck of the store" "$BIN" fsck --store "$st"
	chains=$(store_chains "$st" 2>&1 || true)
	sed "s/^/   # $v chain /" <<<"$chains"
	if [ "$(wc -l <<<"$chains")" = 1 ] && [ "$(awk '{ print $1 }' <<<"$chains")" = "$k1" ] &&
		awk '{ print $3 }' <<<"$chains" | grep -q "^$k1@0,$k2@[0-9]*\$"; then
		ok "$v: one chain, two boots ($(awk '{ print $3 }' <<<"$chains"))"
	else
		notok "$v: want one chain $k1 with boots $k1@0,$k2@J; have: $(tr '\n' ';' <<<"$chains")"
	fi
	# shellcheck disable=SC2046
	check "$v: the chain verifies against the PCRs saved at the end, every bank" \
		"$BIN" verify --store "$st" --boot "$k2" --no-kernel --full $(pcr_args "$st/../pcrs/$k2")
}

# ======================= POWER CUTS =======================
# imastored logs "trimmed: boot B chain C: records K..F-1 deleted from the
# kernel, first kept F" right after a trim's `done` entry is on disk: the
# records below F are deleted for sure and must be in the store.
confirmed_index() { # LOGDIR: the highest first-kept index the console shows
	con "$1" | sed -n 's/.*<5>trimmed: boot [^ ]* chain [^ ]*: records [0-9]*\.\.[0-9]* deleted from the kernel, first kept \([0-9]*\).*/\1/p' |
		awk 'BEGIN { m = 0 } { if ($1 > m) m = $1 } END { print m }'
}

cuts_scenario() { # NAME KERNEL NCUTS EXTRA-ARGS...
	local v=$1 k=$2 n=$3 img=$work/$1.img tpm=$work/tpm-$1 st
	shift 3
	local extra="$*" i ms cuts=0 b conf b0 bf chains chain recs bad=0 newchains=0
	local -A CONF=()
	mb_kernel "$k"
	guest_disk_create "$img" 64
	mkdir -p "$tpm"
	mb_boot "$v/boot0" "$k" "$img" "$tpm" 300 mb.step=boot mb.tag="${v}0" mb.files=100 \
		mb.trim=50 mb.keep=10 $extra
	boot_ok "$v/boot0 (before the cuts)"
	b0=$(cat "$BOOT_LOG/files/boot_id" 2>/dev/null || true)
	local order=()
	for i in $(seq 1 "$n"); do
		ms=$((CUT_LO + RANDOM % (CUT_HI - CUT_LO + 1)))
		# the first cut of a series right as the workload starts: the boot
		# has stored its first records and trimmed nothing yet
		[ "$i" != 1 ] || ms=0
		local fsck=0
		[ $((i % 5)) != 0 ] || fsck=1
		tb=${EPOCHREALTIME/./}
		GUEST_CUT_MARKER=@@MB-LOAD GUEST_CUT_MS=$ms \
			mb_boot "$v/cut$i" "$k" "$img" "$tpm" 120 mb.step=cut mb.tag="${v}c$i" \
			mb.trim=50 mb.keep=10 mb.fsck=$fsck $extra
		b=$(boot_id_of "$BOOT_LOG")
		conf=$(confirmed_index "$BOOT_LOG")
		tb=$(((${EPOCHREALTIME/./} - tb) / 1000))
		if [ "$BOOT_RC" = "$GUEST_CUT_RC" ] && [ -n "$b" ]; then
			cuts=$((cuts + 1))
			CONF[$b]=$conf
			order+=("$b")
			ok "$v/cut$i: power cut ${GUEST_CUT_AT} ms into the workload (planned $ms; workload from ${GUEST_CUT_MARKER_MS} ms after power-on, the boot took $tb ms in all; boot $b; deleted from the kernel up to record $((conf - 1)))"
		else
			notok "$v/cut$i: not cut as planned (status $BOOT_RC, boot '$b'; log $BOOT_LOG/console.log)"
		fi
		# at intervals: the image as the next boot will find it, on the host
		if [ $((i % 10)) = 0 ]; then
			cp --sparse=always "$img" "$work/snap.img"
			e2fsck -fy "$work/snap.img" >"$work/e2fsck.log" 2>&1 || [ $? -le 1 ] ||
				notok "$v/cut$i: e2fsck of a copy of the image: $(tail -n 3 "$work/e2fsck.log" | tr '\n' ' ')"
			if copy_store "$work/snap.img" "$work/snap"; then
				check "$v/cut$i: host fsck of the store as the cut left it" "$BIN" fsck --store "$work/snap/store" --quiet
			else
				notok "$v/cut$i: cannot copy the store out of the cut image"
			fi
			rm -rf "$work/snap" "$work/snap.img"
		fi
	done
	CUTS_DONE=$((CUTS_DONE + cuts))
	mb_boot "$v/final" "$k" "$img" "$tpm" 300 mb.step=boot mb.tag="${v}f" mb.files=100 \
		mb.trim=50 mb.keep=10 mb.fsck=1 $extra
	boot_ok "$v/final (after $cuts cuts)"
	bf=$(cat "$BOOT_LOG/files/boot_id" 2>/dev/null || true)
	st=$work/$v-copy
	copy_store "$img" "$st" || { notok "$v: cannot copy the store out of $img"; return; }
	st=$st/store
	check "$v: host fsck of the store after $cuts cuts" "$BIN" fsck --store "$st"
	chains=$(store_chains "$st" 2>&1 || true)
	echo "   # $v: $(wc -l <<<"$chains") chains in the store"
	# every record a cut boot saw confirmed deleted is in its chain
	local lost=""
	for b in "${order[@]}"; do
		chain=$(chain_of_boot "$st" "$b")
		recs=$(awk -v c="$chain" '$1 == c { print $2 }' <<<"$chains")
		[ "$chain" != "$b" ] || newchains=$((newchains + 1))
		if [ -z "$chain" ]; then
			[ "${CONF[$b]}" = 0 ] || { bad=$((bad + 1)); lost="$lost $b:no-chain(confirmed ${CONF[$b]})"; }
		elif [ "$recs" -lt "${CONF[$b]}" ]; then
			bad=$((bad + 1))
			lost="$lost $b:$recs<${CONF[$b]}"
		fi
		if ! "$BIN" export --store "$st" --boot "$b" --no-kernel -o /dev/null 2>"$work/exp.err" && [ -n "$chain" ]; then
			bad=$((bad + 1))
			lost="$lost $b:export($(head -c 100 "$work/exp.err"))"
		fi
	done
	[ "$bad" = 0 ] &&
		ok "$v: every record a boot saw deleted from the kernel is in its chain, every chain exports ($cuts cut boots)" ||
		notok "$v: $bad cut boots lost records or do not export:$lost"
	[ "$newchains" = "$cuts" ] &&
		ok "$v: each of the $cuts boots after a cut started its own chain" ||
		notok "$v: only $newchains of $cuts boots after a cut started their own chain (the others joined an earlier one: $(awk '{ print $1 ": " $3 }' <<<"$chains" | grep ',' | head -n 3 | tr '\n' ';'))"
	# shellcheck disable=SC2046
	check "$v: the chain of the boot before the cuts still verifies against its saved PCRs" \
		"$BIN" verify --store "$st" --boot "$b0" --no-kernel --full $(pcr_args "$st/../pcrs/$b0")
	# shellcheck disable=SC2046
	check "$v: the last boot's chain verifies against its saved PCRs" \
		"$BIN" verify --store "$st" --boot "$bf" --no-kernel --full $(pcr_args "$st/../pcrs/$bf")
	check "$v: e2fsck of the image after the last clean shutdown" e2fsck -fn "$img"
}

CUTS_DONE=0
set -- $CUTS
NCUT_DEB72=$1 NCUT_AD=$2
for s in $SCENARIOS; do
	ts=$SECONDS
	case "$s" in
	reboot | reboot-n | reboot-mirror)
		echo "== $s (deb72, identical boot_aggregate)"
		[ "$s" = reboot-mirror ] || reboot_scenario reboot-n N
		[ "$s" = reboot-n ] || reboot_scenario reboot-mirror mirror
		;;
	kexec | kexec-n | kexec-ad)
		echo "== $s (staging72, IMA_KEXEC)"
		[ "$s" = kexec-ad ] || kexec_scenario kexec-n N
		[ "$s" = kexec-n ] || kexec_scenario kexec-ad AD
		;;
	cuts | cuts-deb72 | cuts-ad)
		echo "== $s (deb72 N: $NCUT_DEB72 cuts, staging72 A/D with ima_flush_htable: $NCUT_AD)"
		[ "$s" = cuts-ad ] || cuts_scenario cuts-deb72 deb72 "$NCUT_DEB72" mb.flavor=N
		[ "$s" = cuts-deb72 ] || cuts_scenario cuts-ad staging72 "$NCUT_AD" mb.flavor=auto ima_flush_htable
		if [ "$s" = cuts ]; then
			want=$((NCUT_DEB72 + NCUT_AD))
			[ "$CUTS_DONE" = "$want" ] && ok "power cuts: all $want landed" ||
				notok "power cuts: $CUTS_DONE of $want landed"
			[ "$want" -ge 50 ] || notok "power cuts: only $want asked for (IMASTORE_MB_CUTS), the test wants >= 50"
		fi
		;;
	*) guest_die "unknown scenario '$s' (reboot[-n|-mirror] kexec[-n|-ad] cuts[-deb72|-ad])" ;;
	esac
	echo "   # $s: $((SECONDS - ts)) s"
done
echo "test-multiboot: $((SECONDS - T0)) s (seed $SEED); logs in $LOGS"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
