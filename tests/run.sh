#!/bin/bash
# Runs every test suite (or those named: unit asan valgrind fuzz cli realfs
# guest)
# and ends with one line "N passed, N failed, N skipped". Real-kernel tests
# never skip silently: without qemu or a kernel they fail, unless
# IMASTORE_SKIP_GUEST=1. A cmocka test that skips is a failure too, unless
# IMASTORE_ALLOW_SKIP=1 (local runs without root: docs/testing.md).
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-build}
suites=${*:-unit asan valgrind fuzz cli realfs guest}
passed=0 failed=0 skipped=0
failures=()

result() {	# result NAME STATUS
	if [ "$2" = 0 ]; then
		passed=$((passed + 1)); echo "ok - $1"
	else
		failed=$((failed + 1)); failures+=("$1"); echo "not ok - $1"
	fi
}

# skips NAME LOG: each test cmocka's LOG lists as skipped is printed and
# counted, and is a failure unless IMASTORE_ALLOW_SKIP=1
skips() {
	local t
	while read -r t; do
		skipped=$((skipped + 1))
		if [ "${IMASTORE_ALLOW_SKIP:-0}" = 1 ]; then
			echo "skip - $1: $t (IMASTORE_ALLOW_SKIP=1)"
		else
			result "$1: $t SKIPPED (IMASTORE_ALLOW_SKIP=1 accepts that)" 1
		fi
	done < <(awk '/^\[  SKIPPED \] [^ ]+$/ && !seen[$4]++ { print $4 }' "$2")
}

# run_cmocka DIR LABEL [WRAPPER...]: DIR/tests/test_X for each
# tests/unit/test_X.c (one not built is a failure), named "test_X (LABEL)"
run_cmocka() {
	local dir=$1 label=$2
	shift 2
	local src t name st
	for src in tests/unit/test_*.c; do
		t=$dir/tests/$(basename "$src" .c)
		name=$(basename "$t")${label:+ ($label)}
		if [ ! -x "$t" ]; then
			result "$name: $t not built" 1
			continue
		fi
		"$@" "$t" >"$t.log" 2>&1
		st=$?
		grep -E '^\[  (PASSED  |FAILED  |SKIPPED )\] [0-9]' "$t.log"
		[ $st = 0 ] || tail -40 "$t.log"
		result "$name" $st
		skips "$name" "$t.log"
	done
}

# run_guest DIR: each DIR/test-*.sh; a failure if there is none, or if one
# exits 0 without a last "N passed, 0 failed" line with N > 0
run_guest() {
	local scripts=("$1"/test-*.sh) t st log sum
	if [ ! -e "${scripts[0]}" ]; then
		result "guest tests: no $1/test-*.sh" 1
		return
	fi
	log=$(mktemp)
	for t in "${scripts[@]}"; do
		OUT=$OUT "$t" | tee "$log"
		st=${PIPESTATUS[0]}
		sum=$(grep -E '[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
		if [ "$st" = 0 ] && ! [[ $sum =~ (^|[^0-9])[1-9][0-9]*\ passed,\ 0\ failed$ ]]; then
			echo "$t: exit 0 but no 'N passed, 0 failed' line with N > 0 (last: '$sum')"
			st=1
		fi
		result "$(basename "$t" .sh)" "$st"
	done
	rm -f "$log"
}

for s in $suites; do
	echo "== $s"
	case $s in
	unit)
		run_cmocka "$OUT" "" ;;
	asan)
		make --no-print-directory asan-test >/tmp/imastore-asan-build.log 2>&1
		st=$?
		[ $st = 0 ] || tail -30 /tmp/imastore-asan-build.log
		result "asan/ubsan build" $st
		[ $st = 0 ] && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
			UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 run_cmocka build-asan asan ;;
	valgrind)
		run_cmocka "$OUT" valgrind valgrind -q --error-exitcode=99 --leak-check=full \
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
	realfs)
		OUT=$OUT tests/store/test-realfs.sh
		result "test-realfs" $? ;;
	guest)
		if [ "${IMASTORE_SKIP_GUEST:-0}" = 1 ]; then
			echo "IMASTORE_SKIP_GUEST=1: real-kernel tests NOT run"
			result "guest tests (skipped on request)" 1
			continue
		fi
		run_guest tests/guest ;;
	*)
		echo "unknown suite $s"; result "$s" 1 ;;
	esac
done
echo
[ ${#failures[@]} = 0 ] || printf 'failed: %s\n' "${failures[@]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
