#!/bin/bash
# capture-fixtures.sh (make fixtures): boot Debian's 6.1 and 7.2 kernels with
# several IMA templates/options and save what they produce as test fixtures in
# tests/fixtures/<kernel>-<case>/ (lists of every bank exactly as read from
# securityfs, PCRs of every bank, meta).  Never run by `make test`.
#
#   capture-fixtures.sh [KERNEL-CASE ...]   default: all of them
#
# Console logs are kept out of the repo, in $IMASTORE_CACHE/logs/fixtures/.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
. "$HERE/lib.sh"

FIXDIR=$TOP/tests/fixtures
LOGDIR=$GUEST_CACHE/logs/fixtures
for t in openssl evmctl getfattr setfattr keyctl; do
	command -v "$t" >/dev/null || guest_die "'$t' not found: run 'make deps' (openssl, ima-evm-utils, attr, keyutils)"
done

# case name | extra kernel command line | expected template name | flags
#   flags: sig = files carry IMA signatures, evm = plus EVM portable
#   signatures, keys = KEY_CHECK rule + keys added to a keyring.
# ima_hash= must precede ima_template=ima (the kernel checks in that order).
CASES='
ima-ng|ima_template=ima-ng|ima-ng|
ima-sig|ima_template=ima-sig|ima-sig|sig
ima-ngv2|ima_template=ima-ngv2|ima-ngv2|
ima-buf|ima_template=ima-ng|ima-ng|keys
custom|ima_template_fmt=d-ng|n-ng|iuid|igid|imode||
evm-sig|ima_template=evm-sig|evm-sig|sig evm
legacy-ima|ima_hash=sha1 ima_template=ima|ima|
canonical|ima_template=ima-ng ima_canonical_fmt|ima-ng|
'
KERNELS='deb61 deb72'

# The custom format contains '|': split that case by hand.
case_fields() { # $1 = line -> NAME ARGS TEMPLATE FLAGS
	local line=$1
	C_NAME=${line%%|*}
	line=${line#*|}
	if [ "$C_NAME" = custom ]; then
		C_ARGS=ima_template_fmt=d-ng\|n-ng\|iuid\|igid\|imode
		C_FMT='d-ng|n-ng|iuid|igid|imode'
		C_TEMPLATE=
		C_FLAGS=
		return
	fi
	C_ARGS=${line%%|*}
	line=${line#*|}
	C_TEMPLATE=${line%%|*}
	C_FLAGS=${line#*|}
	C_FMT=
}

work=$(mktemp -d "$GUEST_TMP/capture.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- keys and signed files (host side) -----------------------------------
# An RSA key + self-signed X.509 certificate for the IMA/EVM signatures, and
# two more certificates to add to a keyring (KEY_CHECK -> ima-buf).  Test-only
# keys, kept in tests/guest/keys/ and reused, so that regenerating the
# fixtures gives the same bytes (RSA PKCS#1 v1.5 signatures are deterministic,
# and so are the lists of a given kernel).  Delete the dir for new keys.
KEYDIR=$HERE/keys
if [ ! -s "$KEYDIR/ima-key.pem" ] || [ ! -s "$KEYDIR/cert2.der" ]; then
	rm -rf "$KEYDIR"
	mkdir -p "$KEYDIR"
	(
		cd "$KEYDIR"
		openssl req -x509 -newkey rsa:2048 -nodes -days 36500 -sha256 \
			-subj '/CN=imastore test IMA signing key' \
			-addext subjectKeyIdentifier=hash -addext keyUsage=digitalSignature \
			-keyout ima-key.pem -out ima-cert.pem
		openssl x509 -in ima-cert.pem -outform DER -out ima-cert.der
		openssl pkey -in ima-key.pem -pubout -out ima-pub.pem
		for n in 1 2; do
			openssl req -x509 -newkey rsa:2048 -nodes -days 36500 -sha256 \
				-subj "/CN=imastore test keyring cert $n" \
				-addext subjectKeyIdentifier=hash -addext keyUsage=digitalSignature \
				-keyout /dev/null -out "cert$n.pem"
			openssl x509 -in "cert$n.pem" -outform DER -out "cert$n.der"
		done
	) >"$work/openssl.log" 2>&1 || { cat "$work/openssl.log" >&2; rm -rf "$KEYDIR"; guest_die "openssl failed"; }
fi

# /data of the guest: plain files for every case; signed ones per flags.
# Owner/mode as in the guest (cpio -R 0:0 keeps the mode): EVM signs them.
make_data() { # $1 = dir, $2 = flags
	local d=$1 flags=$2 f
	mkdir -p "$d"
	for f in 1 2 3; do echo "plain data file $f" >"$d/plain-$f.txt"; done
	printf '#!/bin/sh\necho plain script\n' >"$d/plain-exec.sh"
	chmod 0755 "$d/plain-exec.sh"
	case " $flags " in
	*" sig "*)
		for f in 1 2 3; do echo "signed data file $f" >"$d/signed-$f.txt"; done
		printf '#!/bin/sh\necho signed script\n' >"$d/signed-exec.sh"
		echo "hash only, no signature" >"$d/hashed.txt"
		chmod 0644 "$d"/*.txt
		chmod 0755 "$d/signed-exec.sh"
		chown 0:0 "$d"/*
		for f in "$d"/signed-*; do
			case " $flags " in
			*" evm "*)
				# IMA signature + EVM portable signature (security.evm).
				evmctl sign --imasig --portable -a sha256 --key "$KEYDIR/ima-key.pem" "$f"
				;;
			*) evmctl ima_sign -a sha256 --key "$KEYDIR/ima-key.pem" "$f" ;;
			esac
		done >"$work/evmctl.log" 2>&1 ||
			{ cat "$work/evmctl.log" >&2; guest_die "evmctl could not sign (does $work support security.* xattrs?)"; }
		# security.ima of type "digest" (0x04), not a signature.
		evmctl ima_hash -a sha256 "$d/hashed.txt" >>"$work/evmctl.log" 2>&1 ||
			{ cat "$work/evmctl.log" >&2; guest_die "evmctl ima_hash failed"; }
		# The guest re-creates the xattrs (cpio does not carry them).
		{
			echo '# set by capture-fixtures.sh from the host signatures'
			for f in "$d"/*; do
				getfattr --absolute-names -m '^security\.' -d -e hex "$f" 2>/dev/null |
					sed -n 's/^\(security\.ima\)=\(0x[0-9a-f]*\)$/\1 \2/p; s/^\(security\.evm\)=\(0x[0-9a-f]*\)$/\1 \2/p' |
					sort -r | while read -r n v; do
					echo "setfattr -n $n -v $v /data/${f##*/}"
				done
			done
		} >"$work/xattrs.sh"
		;;
	esac
	case " $flags " in
	*" keys "*) cp "$KEYDIR/cert1.der" "$KEYDIR/cert2.der" "$d/" ;;
	esac
}

policy() { # $1 = flags
	# Pseudo filesystems are not measured; tmpfs/rootfs (0x01021994, where
	# the test files live) is.  proc, sysfs, debugfs, securityfs, tracefs,
	# cgroup, cgroup2.
	local m
	for m in 0x9fa0 0x62656572 0x64626720 0x73636673 0x74726163 0x27e0eb 0x63677270; do
		echo "dont_measure fsmagic=$m"
	done
	echo 'measure func=BPRM_CHECK'
	echo 'measure func=FILE_CHECK mask=MAY_READ uid=0'
	case " $1 " in
	*" keys "*) echo 'measure func=KEY_CHECK template=ima-buf' ;;
	esac
}

# Checks on what came back; fail loudly, a fixture must be right.
check_fixture() { # $1 = dir, $2 = kernel, $3 = expected template name
	local d=$1 k=$2 tmpl=$3 ascii n b banks
	banks=$(cd "$d" && ls pcrs-*.txt | sed 's/^pcrs-//; s/\.txt$//')
	[ -n "$banks" ] || guest_die "$d: no pcrs-*.txt"
	for b in $banks; do
		[ "$(grep -c '^PCR-[0-9][0-9]: [0-9a-f]*$' "$d/pcrs-$b.txt")" = 24 ] ||
			guest_die "$d/pcrs-$b.txt: not 24 PCR lines"
	done
	case "$k" in
	deb61) ascii=$d/ascii_runtime_measurements ;;
	*)
		ascii=$d/ascii_runtime_measurements_sha1
		for b in $banks; do
			[ -s "$d/binary_runtime_measurements_$b" ] && [ -s "$d/ascii_runtime_measurements_$b" ] ||
				guest_die "$d: no list for bank $b"
			[ "$(wc -l <"$d/ascii_runtime_measurements_$b")" = "$(wc -l <"$ascii")" ] ||
				guest_die "$d: bank $b has a different number of records"
		done
		;;
	esac
	[ -s "$ascii" ] || guest_die "$d: no ascii list"
	n=$(wc -l <"$ascii")
	[ "$n" = "$(sed -n 's/^records=//p' "$d/meta.guest")" ] ||
		guest_die "$d: $n ascii records but runtime_measurements_count says otherwise"
	# Template name of boot_aggregate (third column).  A custom fmt gives an
	# empty name or the fmt itself (6.1), depending on the kernel.
	LIST_TEMPLATE=$(head -n1 "$ascii" | cut -d' ' -f3)
	[ "$LIST_TEMPLATE" = "$tmpl" ] || { [ -n "$C_FMT" ] && [ "$LIST_TEMPLATE" = "$C_FMT" ]; } ||
		guest_die "$d: template '$LIST_TEMPLATE', expected '$tmpl' (unsupported by this kernel?)"
	grep -Eq '^ ?[0-9]+ 0+ ' "$ascii" || guest_die "$d: no violation record"
}

capture() { # $1 = kernel, $2 = case line
	local k=$1 name dir root log args
	case_fields "$2"
	name=$k-$C_NAME
	dir=$FIXDIR/$name
	log=$LOGDIR/$name
	echo "== $name: $C_ARGS"
	root=$work/root-$name
	initramfs_new "$root"
	initramfs_add_bin "$root" /usr/bin/setfattr /usr/bin/keyctl
	rm -f "$work/xattrs.sh"
	make_data "$root/data" "$C_FLAGS"
	if [ -f "$work/xattrs.sh" ]; then
		cp "$work/xattrs.sh" "$root/data/set-xattrs"
		SIGNED=1
	else
		SIGNED=0
	fi
	case " $C_FLAGS " in *" keys "*) KEYS=1 ;; *) KEYS=0 ;; esac
	printf 'CASE=%s\nSIGNED=%s\nKEYS=%s\n' "$C_NAME" "$SIGNED" "$KEYS" >"$root/capture.env"
	policy "$C_FLAGS" >"$root/policy"
	cp "$HERE/capture-guest.sh" "$root/init"
	chmod 0755 "$root/init"
	initramfs_pack "$root" "$work/initrd-$name.gz"
	rm -rf "$root"

	guest_kernel "$k"
	args="$GUEST_KARGS $C_ARGS"
	if ! guest_run "$GUEST_VMLINUZ" "$work/initrd-$name.gz" "$args" "$log" 600; then
		guest_die "$name: capture failed"
	fi
	echo "   boot+capture ${GUEST_SECONDS}s, ${GUEST_OUT_BYTES:-0} bytes transferred"
	rm -rf "$dir"
	mkdir -p "$dir"
	cp -a "$log/files/." "$dir/"
	check_fixture "$dir" "$k" "$C_TEMPLATE"
	case " $C_FLAGS " in
	*" sig "*) cp "$KEYDIR/ima-cert.pem" "$KEYDIR/ima-cert.der" "$KEYDIR/ima-pub.pem" "$dir/" ;;
	esac
	case " $C_FLAGS " in
	*" keys "*) cp "$KEYDIR/cert1.der" "$KEYDIR/cert2.der" "$dir/" ;;
	esac
	{
		echo "# generated by tests/guest/capture-fixtures.sh from a real kernel under qemu + swtpm"
		echo "kernel=$k"
		echo "kernel_package_version=$(cat "$(dirname "$GUEST_VMLINUZ")/version")"
		echo "case=$C_NAME"
		echo "template=$C_TEMPLATE"
		[ -z "$C_FMT" ] || echo "template_fmt=$C_FMT"
		echo "list_template_name=$LIST_TEMPLATE"
		echo "extra_cmdline=$C_ARGS"
		grep -v '^ls: ' "$dir/meta.guest"
		policy "$C_FLAGS" | sed 's/^/policy: /'
		grep '^ls: ' "$dir/meta.guest"
	} >"$dir/meta"
	rm -f "$dir/meta.guest"
	# Independent replay of every bank against the captured PCRs.
	python3 "$HERE/replay-check.py" "$dir" || guest_die "$name: the lists do not replay to the PCRs"
	echo "   $(sed -n 's/^records=//p' "$dir/meta") records, $(du -sk "$dir" | cut -f1) KB in ${dir#"$TOP"/}"
}

guest_require
mkdir -p "$FIXDIR" "$LOGDIR"
want=${*:-}
t0=$SECONDS
while IFS= read -r line; do
	[ -n "$line" ] || continue
	case_fields "$line"
	for k in $KERNELS; do
		if [ -n "$want" ]; then
			case " $want " in *" $k-$C_NAME "*) ;; *) continue ;; esac
		fi
		capture "$k" "$line"
	done
done <<EOF
$CASES
EOF
echo "fixtures captured in $((SECONDS - t0)) s; console logs in $LOGDIR"
