#!/bin/bash
# check-layers.sh FOLDER:DEP+DEP... ...: every #include "x.h" in user/FOLDER
# names a header of FOLDER, of one of its DEPs, of include/, or the BPF
# skeleton (the daemon's). The compiler enforces the same by -I flags
# (Makefile, docs/architecture.md); this is the second line of defence,
# which also covers headers no file of their own folder includes.
# With LIBS=FOLDER=LIB,... in the environment it also checks the libraries:
# no symbol a folder's library needs is defined in a library it may not use.
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

# libraries: who defines what, then what each needs from whom
declare -A lib_of def_in
if [ -n "${LIBS:-}" ]; then
	IFS=, read -ra pairs <<<"$LIBS"
	for p in "${pairs[@]}"; do
		lib_of[${p%%=*}]=${p#*=}
		while read -r sym; do
			def_in[$sym]=${p%%=*}
		done < <(nm -g --defined-only "${p#*=}" 2>/dev/null | awk 'NF == 3 { print $3 }')
	done
	for spec in "$@"; do
		layer=${spec%%:*}
		deps=${spec#*:}
		allowed=" $layer ${deps//+/ } "
		[ -n "${lib_of[$layer]:-}" ] || continue
		while read -r sym; do
			owner=${def_in[$sym]:-}
			if [ -n "$owner" ] && [[ $allowed != *" $owner "* ]]; then
				echo "${lib_of[$layer]}: needs $sym from $owner: $layer may use only: $(echo $allowed | sed 's/ /, /g')" >&2
				bad=1
			fi
		done < <(nm -u "${lib_of[$layer]}" | awk 'NF == 2 { print $2 }' | sort -u)
	done
fi
exit $bad
