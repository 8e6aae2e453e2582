#!/bin/bash
# kernels.sh [--modules] deb61|deb72|staging72|all
#
# Makes sure a guest kernel is in the cache and prints the path of its vmlinuz
# (one line per kernel asked for).  Everything lives in ${IMASTORE_CACHE}, outside
# the checkout, so only the first run on a machine downloads or builds anything.
#
# --modules: also the modules a persistent virtio disk with ext4 needs
# (virtio_blk, ext4 and their dependencies from modules.dep, softdeps
# included), decompressed, in <kernel dir>/modules/NAME.ko, with
# modules/load-order: one name a line, dependencies first (insmod them in
# that order).  Built-in ones are left out; staging72 has all built in.
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
#   $C/kernels/<name>-<version>/    vmlinuz, config, release, version,
#                                   (modules/: with --modules)
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

# Modules for a persistent disk: virtio_blk and ext4 are required (unless the
# config has them built in); virtio_pci (a module on 6.1) and the crc32c
# crypto driver ext4/jbd2 ask for (softdep, or crypto_alloc_shash on 6.1) come
# along when they are modules.
MODULES_REQUIRED="virtio_blk ext4"
MODULES_OPTIONAL="virtio_pci crc32c_generic crc32c_cryptoapi"

# debian_modules NAME KERNEL-DIR: fill KERNEL-DIR/modules (see the header).
debian_modules() {
	local name=$1 d=$2 suite pkg rel ver tmp mdir base m
	[ "$REFRESH" != 1 ] && [ -s "$d/modules/load-order" ] && return 0
	command -v depmod >/dev/null || die "depmod not found: install kmod (make deps)"
	command -v xz >/dev/null || die "xz not found: install xz-utils (make deps)"
	rel=$(cat "$d/release")
	ver=$(cat "$d/version")
	case "$name" in
	# bookworm: the image package holds lib/modules itself
	deb61) suite=bookworm pkg=linux-image-$rel ;;
	deb72) suite=sid pkg=linux-modules-$rel ;;
	esac
	tmp=$KDIR/.tmp-modules-$name-$$
	rm -rf "$tmp"
	mkdir -p "$tmp/dl" "$tmp/x" "$tmp/m"
	DL=$tmp/dl
	apt_setup "$suite"
	# the index that resolved the kernel normally still lists this version
	if ! (cd "$DL" && apt-get "${APT_OPTS[@]}" download "$pkg=$ver") >"$DL/download.log" 2>&1; then
		apt_update "$suite"
		(cd "$DL" && apt-get "${APT_OPTS[@]}" download "$pkg=$ver") >"$DL/download.log" 2>&1 || {
			cat "$DL/download.log" >&2
			rm -rf "$tmp"
			die "$name: cannot download $pkg $ver (the cached kernel is no longer in the $suite index? IMASTORE_KERNEL_REFRESH=1 fetches the current one)"
		}
	fi
	log "$name: modules from $pkg $ver"
	dpkg-deb --fsys-tarfile "$DL"/*.deb | tar -x -C "$tmp/x" --wildcards '*/modules/*' ||
		die "$name: cannot unpack $pkg"
	rm -rf "$DL"
	mdir=$(find "$tmp/x" -type d -path "*/lib/modules/$rel" | head -n1)
	[ -n "$mdir" ] || die "$name: no lib/modules/$rel in $pkg"
	base=${mdir%/lib/modules/$rel}
	# Debian generates modules.dep at install time: depmod it here
	depmod -b "$base" "$rel" 2>"$tmp/depmod.log" || { cat "$tmp/depmod.log" >&2; die "$name: depmod failed"; }
	[ -s "$mdir/modules.dep" ] || die "$name: depmod wrote no modules.dep"
	# Dependencies first (depth first over modules.dep and the "pre:" softdeps;
	# names through modules.alias), every module once.
	local order
	order=$(awk -v want="$MODULES_REQUIRED $MODULES_OPTIONAL" -v required="$MODULES_REQUIRED" '
		function norm(s) { gsub(/-/, "_", s); return s }
		function base(p) { sub(/.*\//, "", p); sub(/\.ko(\..*)?$/, "", p); return norm(p) }
		FILENAME ~ /modules\.dep$/ {
			sub(/:$/, "", $1); m = base($1); path[m] = $1
			deps[m] = ""
			for (i = 2; i <= NF; i++) deps[m] = deps[m] " " base($i)
			next
		}
		FILENAME ~ /modules\.softdep$/ && $1 == "softdep" {
			pre = 0
			for (i = 3; i <= NF; i++) {
				if ($i == "pre:") { pre = 1; continue }
				if ($i == "post:") { pre = 0; continue }
				if (pre) soft[norm($2)] = soft[norm($2)] " " norm($i)
			}
			next
		}
		FILENAME ~ /modules\.alias$/ && $1 == "alias" {
			a = norm($2); if (!(a in alias)) alias[a] = norm($3); next
		}
		function visit(m,    n, i, l) {
			if (!(m in path) && (m in alias)) m = alias[m]
			if (!(m in path) || (m in done)) return
			done[m] = 1
			n = split(soft[m], l, " "); for (i = 1; i <= n; i++) visit(l[i])
			# modules.dep lists a module'"'"'s whole closure: visit from the end
			n = split(deps[m], l, " "); for (i = n; i >= 1; i--) visit(l[i])
			print m "\t" path[m]
		}
		END {
			n = split(want, w, " ")
			for (i = 1; i <= n; i++) visit(norm(w[i]))
			n = split(required, w, " ")
			for (i = 1; i <= n; i++) if (!(norm(w[i]) in path)) print "BUILTIN\t" norm(w[i])
		}' "$mdir/modules.dep" "$mdir/modules.softdep" "$mdir/modules.alias")
	: >"$tmp/m/load-order"
	while IFS="$(printf '\t')" read -r m p; do
		case "$m" in
		BUILTIN)
			# a required module that is no module must be built in
			local opt
			opt=$(echo "$p" | tr 'a-z' 'A-Z')
			case "$p" in ext4) opt=EXT4_FS ;; esac
			grep -qx "CONFIG_$opt=y" "$d/config" ||
				die "$name: module $p not in $pkg and CONFIG_$opt is not built in"
			continue
			;;
		esac
		case "$p" in
		*.ko.xz) xz -dc "$mdir/$p" >"$tmp/m/$m.ko" ;;
		*.ko.zst) zstd -qdc "$mdir/$p" >"$tmp/m/$m.ko" ;;
		*.ko.gz) gzip -dc "$mdir/$p" >"$tmp/m/$m.ko" ;;
		*) cp "$mdir/$p" "$tmp/m/$m.ko" ;;
		esac || die "$name: cannot decompress $p"
		echo "$m" >>"$tmp/m/load-order"
	done <<<"$order"
	[ -s "$tmp/m/load-order" ] || die "$name: no module resolved (virtio_blk, ext4)"
	rm -rf "$d/modules"
	mv "$tmp/m" "$d/modules"
	rm -rf "$tmp"
	log "$name: modules cached in $d/modules: $(tr '\n' ' ' <"$d/modules/load-order")"
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

WITH_MODULES=0
if [ "${1:-}" = --modules ]; then
	WITH_MODULES=1
	shift
fi
[ $# -ge 1 ] || die "usage: kernels.sh [--modules] deb61|deb72|staging72|all ..."
command -v apt-get >/dev/null || die "apt-get not found (a Debian machine is needed)"
command -v dpkg-deb >/dev/null || die "dpkg-deb not found"
mkdir -p "$KDIR"
for k in "$@"; do
	case "$k" in
	all)
		for dk in deb61 deb72; do
			v=$(debian_kernel "$dk" | tail -n1)
			[ "$WITH_MODULES" = 0 ] || debian_modules "$dk" "$(dirname "$v")"
			echo "$v"
		done
		;;
	deb61 | deb72)
		if [ "$WITH_MODULES" = 1 ]; then
			v=$(debian_kernel "$k" | tail -n1)
			debian_modules "$k" "$(dirname "$v")"
			echo "$v"
		else
			debian_kernel "$k"
		fi
		;;
	staging72) staging_kernel ;;
	*) die "unknown kernel '$k' (deb61|deb72|staging72|all)" ;;
	esac
done
