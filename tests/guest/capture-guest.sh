#!/bin/sh
# /init of a fixture-capture guest (busybox sh).  capture-fixtures.sh puts in:
#   /capture.env   CASE, SIGNED, KEYS (0/1)
#   /policy        the IMA policy, written once
#   /data/         files to measure; /data/set-xattrs sets their signatures;
#                  /data/cert*.der for the keyring (KEY_CHECK) case
# and gets back in /out: the lists of every bank, pcrs-<alg>.txt, meta.guest.
. /lib/imastore-guest.sh
guest_setup

IMA=/sys/kernel/security/ima
TPM=/sys/class/tpm/tpm0
fail() {
	glog "FAIL: $*"
	guest_finish 1
}

[ -d "$IMA" ] || fail "no $IMA (IMA disabled?)"
[ -d "$TPM" ] || fail "no TPM (/sys/class/tpm/tpm0)"
. /capture.env

# Every bank the TPM has (pcr-sha1, pcr-sha256, ...).
BANKS=
for d in "$TPM"/pcr-*; do
	[ -d "$d" ] && BANKS="$BANKS ${d##*/pcr-}"
done
[ -n "$BANKS" ] || fail "no PCR banks under $TPM"

# Set the signatures before the policy: setting xattrs reads nothing.
if [ "$SIGNED" = 1 ]; then
	sh /data/set-xattrs || fail "setting security.ima/evm failed"
fi

# The policy, in one write.  From here on, what root reads or runs is measured.
cat /policy >"$IMA/policy" || fail "the kernel refused the policy"
glog "policy loaded"

# --- workload: measured files, executables, violations -------------------
mkdir -p /tmp/w
i=1
while [ $i -le 12 ]; do
	echo "capture $CASE file $i" >/tmp/w/file$i
	cat /tmp/w/file$i >/dev/null
	i=$((i + 1))
done
# A name with a space, and a long path.
echo spaced >"/tmp/w/with space"
cat "/tmp/w/with space" >/dev/null
mkdir -p /tmp/w/a/rather/deep/directory/tree/for/a/long/path/name
echo deep >/tmp/w/a/rather/deep/directory/tree/for/a/long/path/name/file.txt
cat /tmp/w/a/rather/deep/directory/tree/for/a/long/path/name/file.txt >/dev/null
# An empty file.
: >/tmp/w/empty
cat /tmp/w/empty >/dev/null
# Changed content -> measured again.
echo "more" >>/tmp/w/file1
cat /tmp/w/file1 >/dev/null
# Files from the initramfs (rootfs), signed ones included.
for f in /data/*; do
	[ -f "$f" ] && cat "$f" >/dev/null
done
# Executables: scripts and a copied ELF (BPRM_CHECK).
for s in 1 2 3; do
	printf '#!/bin/sh\necho script %s "$@" >/dev/null\n' $s >/tmp/w/script$s.sh
	chmod +x /tmp/w/script$s.sh
	/tmp/w/script$s.sh run
done
cp /bin/busybox /tmp/w/bb-copy
/tmp/w/bb-copy true
for x in /data/*.sh; do
	[ -f "$x" ] && sh -c "$x" >/dev/null
done
if [ -x /usr/bin/setfattr ]; then /usr/bin/setfattr --version >/dev/null; fi
# Violations.  ToMToU: measured file open for read, then opened for write.
echo "tomtou" >/tmp/w/violate-tomtou
exec 3</tmp/w/violate-tomtou
echo x >>/tmp/w/violate-tomtou
exec 3<&-
# open_writers: open for write, then read (measured) while still open.
echo "writers" >/tmp/w/violate-writers
exec 4>>/tmp/w/violate-writers
cat /tmp/w/violate-writers >/dev/null
exec 4>&-
# Keys (KEY_CHECK rule, ima-buf template): a new keyring + two certificates.
if [ "$KEYS" = 1 ]; then
	kr=$(keyctl newring imastore_test @u) || fail "keyctl newring failed"
	for c in /data/cert*.der; do
		keyctl padd asymmetric "" "$kr" <"$c" >/dev/null || fail "keyctl padd $c failed"
	done
fi

# --- consistent snapshot: PCRs, lists, PCRs again; retry if they moved ----
snap_pcrs() { # $1 = output dir
	for b in $BANKS; do
		i=0
		while [ $i -lt 24 ]; do
			read -r v <"$TPM/pcr-$b/$i"
			printf 'PCR-%02d: %s\n' $i "$v"
			i=$((i + 1))
		done | awk '{ print $1, tolower($2) }' >"$1/pcrs-$b.txt"
	done
	read -r c <"$IMA/runtime_measurements_count"
	echo "$c" >"$1/count"
}
ok=0
try=1
while [ $try -le 5 ]; do
	rm -rf /tmp/s1 /tmp/s2 /out/*
	mkdir -p /tmp/s1 /tmp/s2
	snap_pcrs /tmp/s1
	for f in "$IMA"/binary_runtime_measurements* "$IMA"/ascii_runtime_measurements*; do
		# Real files only: skip the legacy symlinks (7.2) and _staged files.
		[ -L "$f" ] && continue
		case "$f" in *_staged) continue ;; esac
		cat "$f" >"/out/${f##*/}" || fail "cannot read $f"
	done
	snap_pcrs /tmp/s2
	if diff -r /tmp/s1 /tmp/s2 >/dev/null; then
		ok=1
		break
	fi
	glog "snapshot $try inconsistent, retrying"
	try=$((try + 1))
done
[ $ok = 1 ] || fail "no consistent snapshot in 5 tries"
cp /tmp/s1/pcrs-*.txt /out/
{
	echo "release=$(uname -r)"
	echo "cmdline=$(cat /proc/cmdline)"
	echo "records=$(cat /tmp/s1/count)"
	echo "violations=$(cat $IMA/violations)"
	echo "banks=$(echo $BANKS)"
	echo "snapshot_tries=$try"
	echo "list_files=$(cd /out && ls *_runtime_measurements* | tr '\n' ' ')"
	echo "ima_files=$(ls $IMA | tr '\n' ' ')"
	# mode and name (no dates: regenerated fixtures stay byte-identical)
	for f in "$IMA"/*; do
		l=
		[ -L "$f" ] && l=" -> $(readlink "$f")"
		echo "ls: $(stat -c %A "$f") ${f##*/}$l"
	done
} >/out/meta.guest
glog "captured $(cat /tmp/s1/count) records"
guest_finish 0
