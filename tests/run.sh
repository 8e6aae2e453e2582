#!/bin/bash
# Runs every test suite (or those named: unit asan valgrind fuzz cli guest)
# and ends with one line "N passed, N failed". Real-kernel tests never skip
# silently: without qemu or a kernel they fail, unless IMASTORE_SKIP_GUEST=1.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-build}
suites=${*:-unit asan valgrind fuzz cli guest}
passed=0 failed=0
failures=()

result() {	# result NAME STATUS
	if [ "$2" = 0 ]; then
		passed=$((passed + 1)); echo "ok - $1"
	else
		failed=$((failed + 1)); failures+=("$1"); echo "not ok - $1"
	fi
}

run_cmocka() {	# run_cmocka DIR [WRAPPER...]
	local dir=$1; shift
	local t
	for t in "$dir"/tests/test_*; do
		[ -x "$t" ] || continue
		"$@" "$t" >"$t.log" 2>&1
		local st=$?
		grep -E '^\[  (PASSED|FAILED)  \]' "$t.log"
		[ $st = 0 ] || tail -40 "$t.log"
		result "$(basename "$t")${2:+ ($1)}" $st
	done
}

for s in $suites; do
	echo "== $s"
	case $s in
	unit)
		run_cmocka "$OUT" ;;
	asan)
		make --no-print-directory asan-test >/tmp/imastore-asan-build.log 2>&1
		st=$?
		[ $st = 0 ] || tail -30 /tmp/imastore-asan-build.log
		result "asan/ubsan build" $st
		[ $st = 0 ] && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
			UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 run_cmocka build-asan ;;
	valgrind)
		run_cmocka "$OUT" valgrind -q --error-exitcode=99 --leak-check=full \
			--errors-for-leak-kinds=definite --trace-children=no ;;
	fuzz)
		make --no-print-directory fuzz-brief
		result "fuzz (brief)" $? ;;
	cli)
		for t in tests/cli/test-*.sh; do
			OUT=$OUT "$t"
			st=$?	# before "$(...)" below resets $?
			result "$(basename "$t" .sh)" $st
		done ;;
	guest)
		if [ "${IMASTORE_SKIP_GUEST:-0}" = 1 ]; then
			echo "IMASTORE_SKIP_GUEST=1: real-kernel tests NOT run"
			result "guest tests (skipped on request)" 1
			continue
		fi
		for t in tests/guest/test-*.sh; do
			[ -e "$t" ] || continue
			OUT=$OUT "$t"
			st=$?
			result "$(basename "$t" .sh)" $st
		done ;;
	*)
		echo "unknown suite $s"; result "$s" 1 ;;
	esac
done
echo
[ ${#failures[@]} = 0 ] || printf 'failed: %s\n' "${failures[@]}"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
