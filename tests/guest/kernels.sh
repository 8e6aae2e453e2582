#!/bin/bash
# kernels.sh deb61|deb72|staging72|all
#
# Makes sure a guest kernel is in the cache and prints the path of its vmlinuz
# (one line per kernel asked for).  Everything lives in ${IMASTORE_CACHE}, outside
# the checkout, so only the first run on a machine downloads or builds anything.
#
#   deb61      Debian 12 (bookworm) linux-image-amd64: Linux 6.1, no staging.
#   deb72      Debian sid linux-image-amd64: stock Linux 7.2, CONFIG_IMA_STAGING=n.
#   staging72  built from sid's linux-source-7.2: tinyconfig + staging72.config
#              (CONFIG_IMA_STAGING=y).  ~7 minutes on 2 cores, then cached.
#   all        deb61 deb72 (staging72 only when asked for by name).
#
# Package versions are resolved from the package index, never hard-coded.  The
# sid index lives in a private apt state dir so the machine's apt is untouched.
# IMASTORE_KERNEL_REFRESH=1 re-resolves (and downloads a newer kernel if any).
#
# Layout of the cache:
#   $C/sid.list, $C/apt-sid/        private apt state for sid
#   $C/bookworm.list, $C/apt-bookworm/  private apt state for bookworm
#   $C/kernels/<name>-<version>/    vmlinuz, config, release, (modules/)
#   $C/kernels/<name>.current       name of the directory in use
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${IMASTORE_CACHE:-/var/cache/imastore}
KDIR=$CACHE/kernels
REFRESH=${IMASTORE_KERNEL_REFRESH:-0}

die() {
	echo "kernels.sh: ERROR: $*" >&2
	exit 1
}
log() { echo "kernels.sh: $*" >&2; }

# The Debian mirror URIs the machine already uses (deb822 or one-line format).
# Prints "<main-uri> <security-uri>" (security may be empty).
host_mirrors() {
	local main='' sec='' f uri
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		for uri in $(sed -n 's/^URIs:[[:space:]]*//p' "$f"); do
			case "$uri" in
			*debian-security*) [ -n "$sec" ] || sec=$uri ;;
			*/debian | */debian/) [ -n "$main" ] || main=${uri%/} ;;
			esac
		done
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] || continue
		for uri in $(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' "$f"); do
			case "$uri" in
			*debian-security*) [ -n "$sec" ] || sec=$uri ;;
			*/debian | */debian/) [ -n "$main" ] || main=${uri%/} ;;
			esac
		done
	done
	[ -n "$main" ] || die "no Debian mirror URI found in /etc/apt/sources.list{,.d} (needed to reach the archive)"
	echo "$main ${sec%/}"
}

# Private apt setup: $1 = name (sid|bookworm).  Creates the sources list and the
# state dirs when absent.  Sets APT_OPTS.
apt_setup() {
	local name=$1 list=$CACHE/$1.list state=$CACHE/apt-$1 mirrors main sec
	mkdir -p "$state/lists/partial" "$state/cache/archives/partial"
	if [ ! -s "$list" ]; then
		mirrors=$(host_mirrors)
		main=${mirrors%% *}
		sec=${mirrors#* }
		case "$name" in
		sid) echo "deb $main sid main" >"$list.tmp" ;;
		bookworm)
			{
				echo "deb $main bookworm main"
				echo "deb $main bookworm-updates main"
				[ -z "$sec" ] || echo "deb $sec bookworm-security main"
			} >"$list.tmp"
			;;
		esac
		mv "$list.tmp" "$list"
	fi
	APT_OPTS=(-o "Dir::Etc::sourcelist=$list" -o Dir::Etc::sourceparts=-
		-o "Dir::State::Lists=$state/lists" -o "Dir::Cache=$state/cache"
		-o APT::Sandbox::User=root -q)
}

apt_update() {
	log "updating the $1 package index (private apt state in $CACHE/apt-$1)"
	apt_setup "$1"
	if ! apt-get "${APT_OPTS[@]}" update >"$CACHE/apt-$1/update.log" 2>&1; then
		cat "$CACHE/apt-$1/update.log" >&2
		die "apt-get update for $1 failed (no network? mirror unreachable?)"
	fi
	# apt-get update exits 0 on some fetch failures: check the index is there.
	if grep -qE '^(W|E): (Failed|Some index)' "$CACHE/apt-$1/update.log"; then
		cat "$CACHE/apt-$1/update.log" >&2
		die "apt-get update for $1 could not fetch the index"
	fi
}

# Candidate version of package $2 in suite $1 (empty when unknown).
pkg_version() {
	apt-cache "${APT_OPTS[@]}" show --no-all-versions "$2" 2>/dev/null |
		sed -n 's/^Version: //p' | head -n1
}

# The first dependency of package $2 (suite $1) whose name matches regex $3.
pkg_dep() {
	apt-cache "${APT_OPTS[@]}" show --no-all-versions "$2" 2>/dev/null |
		sed -n 's/^Depends: //p' | head -n1 | tr ',|' '\n\n' |
		sed 's/^ *//; s/ .*//' | grep -E "^$3\$" | head -n1
}

# Download the .debs named after $1 into $DL (a per-kernel download dir).
pkg_download() {
	local p
	for p in "$@"; do
		if ! (cd "$DL" && apt-get "${APT_OPTS[@]}" download "$p") >"$DL/download.log" 2>&1; then
			cat "$DL/download.log" >&2
			die "could not download $p"
		fi
	done
}

# Fast path: a kernel already resolved and unpacked.  Prints its dir.
cached_dir() {
	local cur=$KDIR/$1.current d
	[ "$REFRESH" = 1 ] && return 1
	[ -s "$cur" ] || return 1
	d=$KDIR/$(cat "$cur")
	[ -s "$d/vmlinuz" ] || return 1
	echo "$d"
}

# Mark $2 (a dir under $KDIR) as the one in use for $1.
set_current() {
	echo "${2##*/}" >"$KDIR/$1.current.tmp"
	mv "$KDIR/$1.current.tmp" "$KDIR/$1.current"
}

# deb61 / deb72: Debian's packaged kernels.
debian_kernel() {
	local name=$1 suite d img ver tmp release
	if d=$(cached_dir "$name"); then
		echo "$d/vmlinuz"
		return
	fi
	case "$name" in
	deb61) suite=bookworm ;;
	deb72) suite=sid ;;
	esac
	apt_update "$suite"
	ver=$(pkg_version "$suite" linux-image-amd64)
	[ -n "$ver" ] || die "linux-image-amd64 not found in the $suite index"
	img=$(pkg_dep "$suite" linux-image-amd64 'linux-image-[0-9].*')
	[ -n "$img" ] || die "cannot resolve the kernel image package of linux-image-amd64 $ver ($suite)"
	d=$KDIR/$name-$ver
	if [ -s "$d/vmlinuz" ]; then
		set_current "$name" "$d"
		echo "$d/vmlinuz"
		return
	fi
	log "$name: linux-image-amd64 $ver -> $img"
	tmp=$KDIR/.tmp-$name-$$
	rm -rf "$tmp"
	mkdir -p "$tmp/dl" "$tmp/x"
	DL=$tmp/dl
	case "$suite" in
	bookworm)
		# One package: boot/vmlinuz-*, boot/config-*, lib/modules/*.
		pkg_download "$img"
		;;
	sid)
		# linux-image-X is a meta package: vmlinuz is in linux-binary-X,
		# the config in linux-base-X (modules, unused, in linux-modules-X).
		local bin base
		bin=$(pkg_dep "$suite" "$img" 'linux-binary-.*')
		base=$(pkg_dep "$suite" "$img" 'linux-base-.*')
		[ -n "$bin" ] || die "$img has no linux-binary-* dependency; the packaging changed"
		pkg_download "$bin" ${base:+"$base"}
		;;
	esac
	for f in "$DL"/*.deb; do
		dpkg-deb -x "$f" "$tmp/x" || die "cannot unpack $f"
	done
	local vmlinuz config
	vmlinuz=$(find "$tmp/x" -type f \( -name 'vmlinuz-*' -o -name vmlinuz \) | head -n1)
	config=$(find "$tmp/x" -type f \( -name 'config-*' -o -name config \) -path '*/boot/*' -o -type f -path '*/modules/*/config' | head -n1)
	[ -n "$vmlinuz" ] || die "no vmlinuz in $img's packages"
	mkdir -p "$tmp/k"
	cp "$vmlinuz" "$tmp/k/vmlinuz"
	[ -z "$config" ] || cp "$config" "$tmp/k/config"
	release=${vmlinuz##*/vmlinuz-}
	[ "$release" != "$vmlinuz" ] || release=$(basename "$(dirname "$vmlinuz")")
	echo "$release" >"$tmp/k/release"
	echo "$ver" >"$tmp/k/version"
	rm -rf "$d"
	mv "$tmp/k" "$d"
	rm -rf "$tmp"
	set_current "$name" "$d"
	log "$name: $release cached in $d"
	echo "$d/vmlinuz"
}

# staging72: tinyconfig + fragment, built from sid's linux-source-7.2.
staging_kernel() {
	local name=staging72 frag=$HERE/staging72.config fhash d ver src tmp tarball
	[ -r "$frag" ] || die "missing $frag"
	fhash=$(sha256sum "$frag" | cut -c1-12)
	# Fast path only when the cached build used the current fragment.
	if d=$(cached_dir "$name") && [ "${d##*-}" = "$fhash" ]; then
		echo "$d/vmlinuz"
		return
	fi
	apt_update sid
	src=linux-source-7.2
	ver=$(pkg_version sid "$src")
	[ -n "$ver" ] || die "$src not found in the sid index"
	d=$KDIR/$name-$ver-$fhash
	if [ -s "$d/vmlinuz" ]; then
		set_current "$name" "$d"
		echo "$d/vmlinuz"
		return
	fi
	# The kernel build's own tools (Debian packages; installed when missing).
	"$HERE/../deps.sh" build-essential bc flex bison libelf-dev libssl-dev perl xz-utils >&2 ||
		die "$name: cannot install the kernel build tools"
	tmp=$CACHE/build/$name-$ver-$fhash
	rm -rf "$tmp"
	mkdir -p "$tmp/dl"
	DL=$tmp/dl
	log "$name: downloading $src $ver"
	pkg_download "$src"
	dpkg-deb --fsys-tarfile "$DL"/*.deb | tar -x -C "$tmp" --wildcards '*/linux-source-*.tar.*' ||
		die "cannot unpack $src"
	rm -rf "$DL"
	tarball=$(find "$tmp" -name 'linux-source-*.tar.*' | head -n1)
	[ -n "$tarball" ] || die "no source tarball in $src"
	tar -xf "$tarball" -C "$tmp" || die "cannot unpack $tarball"
	rm -f "$tarball"
	local ksrc
	ksrc=$(find "$tmp" -maxdepth 1 -type d -name 'linux-source-*' | head -n1)
	[ -n "$ksrc" ] || die "no source tree in $tarball"
	log "$name: configuring (tinyconfig + ${frag##*/})"
	(
		cd "$ksrc"
		make -s ARCH=x86_64 tinyconfig
		scripts/kconfig/merge_config.sh -m .config "$frag" >/dev/null
		make -s ARCH=x86_64 olddefconfig
	) >"$tmp/config.log" 2>&1 || { tail -n 30 "$tmp/config.log" >&2; die "$name: configuring failed"; }
	# Every option of the fragment must have survived (a missing dependency
	# silently drops an option).  IMA_STAGING above all.
	local bad=0 line opt val
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*)
			opt=${line%%=*}
			val=${line#*=}
			grep -qx "$opt=$val" "$ksrc/.config" || {
				echo "kernels.sh: $name: $opt=$val requested, .config has: $(grep -E "^(# )?${opt}[= ]" "$ksrc/.config" || echo nothing)" >&2
				bad=1
			}
			;;
		'# CONFIG_'*' is not set')
			opt=${line#\# }
			opt=${opt%% *}
			! grep -q "^$opt=" "$ksrc/.config" || {
				echo "kernels.sh: $name: $opt should be unset" >&2
				bad=1
			}
			;;
		esac
	done <"$frag"
	grep -qx 'CONFIG_IMA_STAGING=y' "$ksrc/.config" || die "$name: CONFIG_IMA_STAGING=y is not in the resulting .config"
	[ "$bad" = 0 ] || die "$name: the resulting .config does not match ${frag##*/}"
	log "$name: building bzImage with -j2 (about 7 minutes; log in $tmp/build.log)"
	local t0=$SECONDS
	(cd "$ksrc" && make ARCH=x86_64 -j2 bzImage) >"$tmp/build.log" 2>&1 ||
		{ tail -n 40 "$tmp/build.log" >&2; die "$name: kernel build failed"; }
	log "$name: built in $((SECONDS - t0)) s"
	mkdir -p "$tmp/k"
	cp "$ksrc/arch/x86/boot/bzImage" "$tmp/k/vmlinuz"
	cp "$ksrc/.config" "$tmp/k/config"
	(cd "$ksrc" && make -s ARCH=x86_64 kernelrelease) >"$tmp/k/release"
	echo "$ver" >"$tmp/k/version"
	rm -rf "$d"
	mkdir -p "$KDIR"
	mv "$tmp/k" "$d"
	# The source tree is ~1.5 GB: keep only the result.
	rm -rf "$tmp"
	set_current "$name" "$d"
	log "$name: cached in $d"
	echo "$d/vmlinuz"
}

[ $# -ge 1 ] || die "usage: kernels.sh deb61|deb72|staging72|all ..."
command -v apt-get >/dev/null || die "apt-get not found (a Debian machine is needed)"
command -v dpkg-deb >/dev/null || die "dpkg-deb not found"
mkdir -p "$KDIR"
for k in "$@"; do
	case "$k" in
	all)
		debian_kernel deb61
		debian_kernel deb72
		;;
	deb61 | deb72) debian_kernel "$k" ;;
	staging72) staging_kernel ;;
	*) die "unknown kernel '$k' (deb61|deb72|staging72|all)" ;;
	esac
done
