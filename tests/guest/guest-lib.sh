# shellcheck shell=sh
# Guest side of the harness, installed as /lib/imastore-guest.sh in every
# initramfs and sourced by /init (busybox sh).  See lib.sh for the protocol.

export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root

# Pseudo filesystems; /dev may already be there (CONFIG_DEVTMPFS_MOUNT does not
# apply to an initramfs, so mount it ourselves).
guest_setup() {
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
	mount -t devtmpfs devtmpfs /dev 2>/dev/null || true
	mount -t securityfs securityfs /sys/kernel/security 2>/dev/null || true
	mount -t tmpfs tmpfs /tmp
	mkdir -p /out
	# The console as stdin/stdout/stderr of everything that follows.
	exec </dev/console >/dev/console 2>&1
	# Tells the host the kernel booted (a boot that dies before is retried).
	echo "@@IMASTORE-INIT"
}

# Log a line on the console with a recognisable prefix.
glog() { echo "guest: $*"; }

# guest_disk MOUNTPOINT [DEV]: the persistent disk (qemu -drive ...,if=virtio):
# insmod what /lib/modules/load-order names (guest_modules on the host; an
# optional module that does not load, e.g. crc32c_intel without SSE4.2, is
# fine), wait for the block device, mount it as ext4.
guest_disk() {
	dev=${2:-/dev/vda}
	if [ -s /lib/modules/load-order ]; then
		while read -r m; do
			insmod "/lib/modules/$m.ko" 2>/dev/null ||
				grep -q "^$m " /proc/modules || glog "insmod $m failed"
		done </lib/modules/load-order
	fi
	i=0
	while [ ! -b "$dev" ] && [ $i -lt 100 ]; do
		usleep 100000
		i=$((i + 1))
	done
	[ -b "$dev" ] || { glog "no $dev"; return 1; }
	mkdir -p "$1"
	mount -t ext4 "$dev" "$1" || { glog "cannot mount $dev on $1"; return 1; }
}

# guest_finish RC: ship /out to the host over ttyS1 and stop the machine.
# The stream is staged in /tmp first so its size and checksum are known.
guest_finish() {
	rc=${1:-0}
	if [ -d /out ] && [ -n "$(ls -A /out 2>/dev/null)" ]; then
		if tar -C /out -cf /tmp/.out.tar . &&
			stty -F /dev/ttyS1 raw -echo -ixon -ixoff 2>/dev/null; then
			# shellcheck disable=SC2046 # split "sum name" on purpose
			set -- $(sha256sum /tmp/.out.tar)
			sz=$(stat -c %s /tmp/.out.tar)
			# close() of the tty waits until the UART has sent everything.
			cat /tmp/.out.tar >/dev/ttyS1
			echo "@@IMASTORE-OUT $1 $sz"
		else
			echo "guest: cannot send /out"
			[ "$rc" != 0 ] || rc=99
		fi
	fi
	echo "@@IMASTORE-EXIT $rc"
	sync
	reboot -f
	# Not reached; keep init alive if reboot failed.
	while :; do sleep 1; done
}
