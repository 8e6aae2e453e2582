#!/bin/bash
# The check helpers of tests/cli/lib.sh can fail: check_fails and
# check_finds pass only on the exact status and message, never on a death
# by a signal, another status (a usage error), a message on the other
# stream, a missing command, or a malformed expectation.
set -u
cd "$(dirname "$0")/../.."
. tests/cli/lib.sh

verdict() {	# verdict CHECK-CALL...: "pass" or "fail", as that one check counted
	(pass=0 fail=0; "$@" >/dev/null; [ "$pass$fail" = 10 ] && echo pass || echo fail)
}

expect() {	# expect DESCRIPTION pass|fail CHECK-CALL...
	local desc=$1 want=$2
	shift 2
	check "$desc" test "$(verdict "$@")" = "$want"
}

expect "check_fails: the status and message" pass \
	check_fails x 2 "no such list" sh -c 'echo "imastore: no such list" >&2; exit 2'
expect "check_fails: another status" fail \
	check_fails x 1 "no such list" sh -c 'echo "imastore: no such list" >&2; exit 2'
expect "check_fails: a death by SIGSEGV" fail \
	check_fails x 2 "no such list" sh -c 'echo "no such list" >&2; kill -SEGV $$'
expect "check_fails: the message on stdout only" fail \
	check_fails x 2 "no such list" sh -c 'echo "no such list"; exit 2'
expect "check_fails: another message" fail \
	check_fails x 2 "no such list" sh -c 'echo "usage" >&2; exit 2'
expect "check_fails: a missing command" fail \
	check_fails x 1 "not found" no-such-command-here
expect "check_fails: status 0 is not a failure" fail check_fails x 0 "ok" true
expect "check_fails: a status of a signal cannot be wanted" fail \
	check_fails x 139 "no such list" sh -c 'echo "no such list" >&2; kill -SEGV $$'
expect "check_fails: an empty message" fail check_fails x 2 "" sh -c 'exit 2'
expect "check_finds: the status and a message on stdout" pass \
	check_finds x 1 "result: MISMATCH" sh -c 'echo "result: MISMATCH"; exit 1'
expect "check_finds: the message on stderr only" fail \
	check_finds x 1 "result: MISMATCH" sh -c 'echo "result: MISMATCH" >&2; exit 1'
expect "check: a failing command" fail check x false
finish "lib"
