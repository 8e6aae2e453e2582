# Shared by tests/cli/test-*.sh (sourced from the top of the tree): one
# counted check per call, and the summary line tests/run.sh shows.
pass=0 fail=0

check() {	# check DESCRIPTION CMD...: CMD's status is the verdict
	local desc=$1
	shift
	if "$@"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "  FAIL: $desc"
	fi
}

# quiet CMD...: CMD with its output discarded (as check's CMD: a redirection
# after `check ...` would hide the FAIL line too)
quiet() { "$@" >/dev/null 2>&1; }

# exits_with STREAM STATUS MESSAGE CMD...: CMD exits with exactly STATUS
# (1..127) and its STREAM (stdout or stderr) contains MESSAGE (a fixed
# string); otherwise says what CMD did. A death by a signal (status >= 128)
# never passes. The other stream is discarded.
exits_with() {
	local stream=$1 want=$2 msg=$3 out st
	shift 3
	if ! [[ $want =~ ^[0-9]+$ ]] || [ "$want" -lt 1 ] || [ "$want" -gt 127 ] ||
	   [ -z "$msg" ]; then
		echo "    exits_with: want a status 1..127 and a message, got '$want' '$msg'"
		return 1
	fi
	case $stream in
	stderr) out=$("$@" 2>&1 >/dev/null) ;;
	stdout) out=$("$@" 2>/dev/null) ;;
	*) echo "    exits_with: no stream '$stream'"; return 1 ;;
	esac
	st=$?
	if [ "$st" -ge 128 ]; then
		echo "    killed by signal $((st - 128)): $*"
	elif [ "$st" != "$want" ]; then
		echo "    exit $st, want $want: $*"
	elif ! grep -qF -- "$msg" <<<"$out"; then
		echo "    exit $st, but no '$msg' on $stream: $*"
	else
		return 0
	fi
	echo "    $stream: $(head -c 600 <<<"$out")"
	return 1
}

# check_fails DESCRIPTION STATUS MESSAGE CMD...: a negative check: CMD fails
# with STATUS and says MESSAGE on stderr
check_fails() { check "$1" exits_with stderr "${@:2}"; }

# check_finds DESCRIPTION STATUS MESSAGE CMD...: CMD reports a finding
# (verify: a mismatch, fsck: errors) with STATUS and MESSAGE on stdout
check_finds() { check "$1" exits_with stdout "${@:2}"; }

finish() {	# finish NAME: "NAME: N passed, N failed"; status 0 if none failed
	echo "$1: $pass passed, $fail failed"
	[ "$fail" = 0 ]
}
