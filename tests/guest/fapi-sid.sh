#!/bin/bash
# fapi-sid.sh: tpm2-tools and tpm2-tss (FAPI with IMA event-log support,
# 4.x) from Debian sid, unpacked into a directory of their own (with sid's
# libc: run them through its ld.so), for tests/guest/test-view-fapi.sh.
# Debian 12's libtss2-fapi 3.2.1 has no IMA event log. Uses the private sid
# apt state of kernels.sh ($CACHE/apt-sid); cached in $CACHE/fapi-sid, keyed
# by tpm2-tools' version. Prints the root directory.
set -eu
CACHE=${IMASTORE_CACHE:-/var/cache/imastore}
list=$CACHE/sid.list
state=$CACHE/apt-sid
[ -s "$list" ] && [ -d "$state/lists" ] ||
	"$(dirname "$0")/kernels.sh" deb72 >/dev/null	# sets up the sid apt state
APT_OPTS=(-o "Dir::Etc::sourcelist=$list" -o Dir::Etc::sourceparts=-
	-o "Dir::State::Lists=$state/lists" -o "Dir::Cache=$state/cache"
	-o APT::Sandbox::User=root -q)
ver=$(apt-cache "${APT_OPTS[@]}" show --no-all-versions tpm2-tools 2>/dev/null |
	sed -n 's/^Version: //p' | head -n1)
[ -n "$ver" ] || { echo "fapi-sid: no tpm2-tools in the sid index" >&2; exit 1; }
dir=$CACHE/fapi-sid/$ver
if [ ! -e "$dir/ok" ]; then
	rm -rf "$dir"
	mkdir -p "$dir/debs" "$dir/root"
	# the whole dependency closure (libc included): nothing comes from bookworm
	pkgs=$(apt-cache "${APT_OPTS[@]}" depends --recurse --no-recommends --no-suggests \
		--no-conflicts --no-breaks --no-replaces --no-enhances --no-pre-depends \
		tpm2-tools libtss2-tcti-device0t64 2>/dev/null | grep -v '^[ <]' | sort -u)
	(cd "$dir/debs" && apt-get "${APT_OPTS[@]}" download $pkgs) >"$dir/download.log" 2>&1 ||
		{ cat "$dir/download.log" >&2; echo "fapi-sid: download failed" >&2; exit 1; }
	for d in "$dir"/debs/*.deb; do dpkg-deb -x "$d" "$dir/root"; done
	rm -rf "$dir/debs" "$dir/root/usr/share/doc" "$dir/root/usr/share/man" \
		"$dir/root/usr/share/locale"
	[ -x "$dir/root/usr/bin/tss2" ] || { echo "fapi-sid: no tss2 in tpm2-tools $ver" >&2; exit 1; }
	touch "$dir/ok"
fi
echo "$dir/root"
