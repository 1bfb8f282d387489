#!/bin/bash
# measure.sh - bench/measure, the benchmark's timer: the wall time and peak
# RSS it writes, and the exit status it passes on.
. "$TOP_SRCDIR/tests/cli/lib.sh"

MEASURE="$TOP_BUILDDIR/bench/measure"
[ -x "$MEASURE" ] || { echo "bench/measure is not built"; exit 77; }

# figures OUT MIN_NS MAX_NS MIN_KB MAX_KB: OUT holds "NS KB" within bounds.
figures() {
	awk -v a="$2" -v b="$3" -v c="$4" -v d="$5" '
		NR == 1 && NF == 2 && $1 ~ /^[0-9]+$/ && $2 ~ /^[0-9]+$/ &&
			$1 >= a && $1 <= b && $2 >= c && $2 <= d {ok = 1}
		END {exit !(ok && NR == 1)}' "$1"
}

check "sleep 0.2 takes 0.2-5 s" "$MEASURE" "$WORK/sleep" sleep 0.2
check "the sleep's figures" figures "$WORK/sleep" 200000000 5000000000 1 1000000

# A child that fills 64 MiB: its peak, not measure's own, is reported.
if command -v python3 >/dev/null 2>&1; then
	check "a 64 MiB child" "$MEASURE" "$WORK/big" python3 -c 'b = bytearray(64 << 20); b[::4096] = b"x" * (16 << 10)'
	check "its peak RSS is 64-1024 MiB" figures "$WORK/big" 1 60000000000 65536 1048576
fi

"$MEASURE" "$WORK/three" sh -c 'exit 3'
check "a child's exit status is passed on" test $? -eq 3
"$MEASURE" "$WORK/none" "$WORK/no such program" 2>"$WORK/none.err"
check "a missing program exits 127" test $? -eq 127
check "and says why" grep -q "no such program" "$WORK/none.err"
"$MEASURE" "$WORK/killed" sh -c 'kill -9 $$'
check "a killed child gives 128 + the signal" test $? -eq 137
"$MEASURE" "$WORK/no/such/dir/out" true 2>"$WORK/out.err"
check "an unwritable OUT exits 2" test $? -eq 2
check "and names it" grep -q "no/such/dir/out" "$WORK/out.err"
"$MEASURE" 2>"$WORK/usage.err"
check "no arguments: usage, exit 2" test $? -eq 2
finish
