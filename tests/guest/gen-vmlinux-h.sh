#!/bin/bash
# gen-vmlinux-h.sh (make vmlinux-h): regenerate vmlinux/vmlinux.h from the BTF
# of Debian's stock 7.2 kernel (deb72), read inside a guest running it.
# The header is committed; CO-RE relocations make it fit other kernels too.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
. "$HERE/lib.sh"

command -v bpftool >/dev/null || guest_die "bpftool not found: run 'make deps'"
guest_kernel deb72

work=$(mktemp -d "$GUEST_TMP/vmlinux.XXXXXX")
trap 'rm -rf "$work"' EXIT

cat >"$work/init" <<'EOF'
#!/bin/sh
. /lib/imastore-guest.sh
guest_setup
# ~6 MB raw; gzip keeps the serial transfer short.
if [ -r /sys/kernel/btf/vmlinux ]; then
	uname -r >/out/release
	gzip -1 -c /sys/kernel/btf/vmlinux >/out/vmlinux.btf.gz && guest_finish 0
fi
glog "no /sys/kernel/btf/vmlinux"
guest_finish 1
EOF
build_initramfs "$work/initrd.gz" "$work/init"
logdir=$GUEST_CACHE/logs/vmlinux-h
guest_run "$GUEST_VMLINUZ" "$work/initrd.gz" "$GUEST_KARGS quiet" "$logdir" 300 ||
	guest_die "the deb72 guest failed (log in $logdir/console.log)"

gunzip -c "$logdir/files/vmlinux.btf.gz" >"$work/vmlinux.btf"
bpftool btf dump file "$work/vmlinux.btf" format c >"$work/vmlinux.h"
grep -q '^struct ima_template_entry {' "$work/vmlinux.h" ||
	guest_die "the generated vmlinux.h has no struct ima_template_entry"
mkdir -p "$TOP/vmlinux"
mv "$work/vmlinux.h" "$TOP/vmlinux/vmlinux.h"
echo "vmlinux/vmlinux.h: from $(cat "$logdir/files/release"), $(wc -l <"$TOP/vmlinux/vmlinux.h") lines"
