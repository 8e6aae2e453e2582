#!/bin/sh
# tests/fuzz/run.sh brief|SECONDS TARGET...
# brief: run every committed corpus input once (make test); SECONDS: fuzz
# each target that long, growing the corpus in a scratch folder (make fuzz).
set -eu
mode=$1; shift
here=$(dirname "$0")
status=0
for t in "$@"; do
	name=$(basename "$t")
	corpus="$here/corpus/$name"
	[ -d "$corpus" ] || { echo "fuzz: no corpus at $corpus" >&2; exit 1; }
	if [ "$mode" = brief ]; then
		n=$(find "$corpus" -type f | wc -l)
		[ "$n" -gt 0 ] || { echo "fuzz: empty corpus $corpus" >&2; exit 1; }
		# replay the corpus, then a short bounded run from it
		if "$t" -runs=0 "$corpus" >/tmp/fuzz-$name.log 2>&1 &&
		   "$t" -max_total_time=20 -max_len=65536 -timeout=10 "$corpus" \
			-artifact_prefix=/tmp/fuzz-$name- >>/tmp/fuzz-$name.log 2>&1 </dev/null; then
			echo "ok - fuzz $name ($n corpus inputs + 20 s)"
		else
			echo "not ok - fuzz $name (log: /tmp/fuzz-$name.log)"
			tail -30 /tmp/fuzz-$name.log
			status=1
		fi
	else
		work=${FUZZ_WORK:-/tmp/imastore-fuzz}/$name
		mkdir -p "$work"
		"$t" -max_total_time="$mode" -max_len=65536 -timeout=10 \
			-artifact_prefix="$work/" "$work" "$corpus" || status=1
		echo "fuzz $name: corpus grown in $work; copy small new finds to $corpus"
	fi
done
exit $status
