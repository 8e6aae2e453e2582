#!/bin/bash
# check-layers.sh FOLDER:DEP+DEP... ...: every #include "x.h" in user/FOLDER
# names a header of FOLDER, of one of its DEPs, of include/, or the BPF
# skeleton (the daemon's). The compiler enforces the same by -I flags
# (Makefile, docs/architecture.md); this is the second line of defence,
# which also covers headers no file of their own folder includes.
set -u
cd "$(dirname "$0")/.."
bad=0
for spec in "$@"; do
	layer=${spec%%:*}
	deps=${spec#*:}
	allowed="$layer${deps:+ ${deps//+/ }}"
	for f in user/"$layer"/*.[ch]; do
		[ -e "$f" ] || continue
		while IFS= read -r h; do
			ok=0
			[ -e "include/$h" ] && ok=1
			[[ $h == *.skel.h && $layer == daemon ]] && ok=1
			for d in $allowed; do
				[ -e "user/$d/$h" ] && ok=1
			done
			if [ $ok = 0 ]; then
				owner=$(cd user && ls -d */"$h" 2>/dev/null | head -1)
				echo "$f: #include \"$h\"${owner:+ (user/$owner)}: $layer may use only: ${allowed// /, }" >&2
				bad=1
			fi
		done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
	done
done
exit $bad
