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

finish() {	# finish NAME: "NAME: N passed, N failed"; status 0 if none failed
	echo "$1: $pass passed, $fail failed"
	[ "$fail" = 0 ]
}
