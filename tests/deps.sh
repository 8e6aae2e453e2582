#!/bin/sh
# Install the Debian packages named on the command line, if any is missing.
# Idempotent; needs root only when something is missing.
set -eu
missing=
for p in "$@"; do
	st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
	case "$st" in
	ii*) ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing"
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages and not root; run 'make deps' as root" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# kexec-tools is for the guests only: it must not take over this machine's
# reboots (its debconf default loads a kexec kernel at every reboot)
case " $missing " in
*" kexec-tools "*)
	echo 'kexec-tools kexec-tools/load_kexec boolean false' | debconf-set-selections ;;
esac
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
