#!/bin/bash
# Every command has --help (exit 0, a Usage line, an exit status section),
# is in the top-level help and in the man page; bad usage exits 2.
set -u
cd "$(dirname "$0")/../.."
IM=${OUT:-build}/imastore
MAN=docs/imastore.1.scd
. tests/cli/lib.sh
cmds=$("$IM" --help | awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { on = 0 }')
check "the top-level help lists commands" test -n "$cmds"
for c in $cmds; do
	out=$("$IM" "$c" --help)
	check "$c --help exits 0" test $? = 0
	check "$c --help has a Usage line" grep -q "^Usage: imastore $c" <<<"$out"
	check "$c --help states the exit status" grep -q "^Exit status:" <<<"$out"
	check "$c is in the man page synopsis" grep -q "^\*imastore $c\*" "$MAN"
	check_fails "$c with a bad option exits 2 naming it" \
		2 "imastore $c: unrecognized option '--no-such-option'" "$IM" "$c" --no-such-option
done
check_fails "an unknown command exits 2 naming it" \
	2 "unknown command 'no-such-command'" "$IM" no-such-command
check "the man page builds" test -s "${OUT:-build}/man/imastore.1"
check "the man page states the exit codes" grep -q "^# EXIT STATUS" "$MAN"
finish "help"
