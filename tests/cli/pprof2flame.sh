#!/bin/bash
# pprof2flame.sh - the pprof2flame front end and the options it shares with
# profkit convert: sample selection, -base (the leak workflow), granularity,
# output to stdout or a file, and clear errors for bad command lines.
. "$(dirname "$0")/lib.sh"
: "${PPROF2FLAME:?run through make check}"
T1="$FIXTURES/heap_t1.pb.gz"
T2="$FIXTURES/heap_t2.pb.gz"

# expect_exit CODE MESSAGE-PATTERN DESCRIPTION COMMAND...: the command fails
# with CODE, prints one line matching the pattern, and writes no output file.
expect_exit() {
	local code=$1 pattern=$2 what=$3
	shift 3
	rm -f "$WORK/out.svg"
	"$@" >"$WORK/stdout" 2>"$WORK/stderr"
	local rc=$?
	if [ "$rc" -ne "$code" ]; then
		fail "$what: exit $rc, not $code ($(cat "$WORK/stderr"))"
	elif [ "$(wc -l <"$WORK/stderr")" -ne 1 ] || ! grep -q -- "$pattern" "$WORK/stderr"; then
		fail "$what: stderr is not one line matching '$pattern': $(cat "$WORK/stderr")"
	elif [ -e "$WORK/out.svg" ]; then
		fail "$what: left an output file"
	else
		pass
	fi
}

# sum_column FILE N: the sum of the N-th count from the end of folded lines.
sum_column() { awk -v n="$2" '{ s += $(NF - n + 1) } END { printf "%d\n", s }' "$1"; }

# --- SVG by default, to stdout or -o; folded with --folded.
check "svg to stdout" sh -c "'$PPROF2FLAME' '$FIXTURES/cpu.pb.gz' >'$WORK/stdout.svg'"
check "svg to -o" "$PPROF2FLAME" "$FIXTURES/cpu.pb.gz" -o "$WORK/cpu.svg"
check "stdout and -o give the same bytes" cmp -s "$WORK/stdout.svg" "$WORK/cpu.svg"
check "the SVG starts as XML" grep -q '^<?xml' "$WORK/cpu.svg"
if command -v xmllint >/dev/null; then
	check "xmllint reads the SVG" xmllint --noout "$WORK/cpu.svg"
fi
check "folded to stdout" sh -c "'$PPROF2FLAME' --folded '$FIXTURES/cpu.pb.gz' >'$WORK/cpu.folded'"
"$PROFKIT" convert "$FIXTURES/cpu.pb.gz" -o "$WORK/convert.folded"
check "pprof2flame --folded equals profkit convert to .folded" cmp -s "$WORK/cpu.folded" "$WORK/convert.folded"
check "folded from stdin" sh -c "'$PPROF2FLAME' --folded - <'$FIXTURES/cpu.pb.gz' | cmp -s - '$WORK/cpu.folded'"

# --- sample selection: the heap shortcuts equal -sample_index by name.
for t in inuse_space inuse_objects alloc_space alloc_objects; do
	"$PPROF2FLAME" --folded "-$t" "$T2" >"$WORK/short.folded"
	"$PPROF2FLAME" --folded "-sample_index=$t" "$T2" >"$WORK/named.folded"
	check "-$t equals -sample_index=$t" cmp -s "$WORK/short.folded" "$WORK/named.folded"
done
"$PPROF2FLAME" --folded -sample_index=1 "$T2" >"$WORK/index.folded"
"$PPROF2FLAME" --folded -alloc_space "$T2" >"$WORK/named.folded"
check "-sample_index=1 is alloc_space" cmp -s "$WORK/index.folded" "$WORK/named.folded"
"$PPROF2FLAME" --folded "$T2" >"$WORK/default.folded"
"$PPROF2FLAME" --folded -inuse_space "$T2" >"$WORK/named.folded"
check "the default of a heap profile is inuse_space" cmp -s "$WORK/default.folded" "$WORK/named.folded"

# --- the leak workflow: -base gives two counts, base then new, per stack.
check "leak workflow: growth.svg" "$PPROF2FLAME" -base "$T1" "$T2" -o "$WORK/growth.svg"
if command -v xmllint >/dev/null; then
	check "xmllint reads growth.svg" xmllint --noout "$WORK/growth.svg"
fi
check "growth.svg colors growth red" grep -q 'fill="rgb(255,[0-9]*,[0-9]*)"' "$WORK/growth.svg"
"$PPROF2FLAME" --folded -base "$T1" "$T2" >"$WORK/growth.folded"
check "two counts on every line" awk 'NF < 3 || $(NF) !~ /^-?[0-9]+$/ || $(NF-1) !~ /^-?[0-9]+$/ { exit 1 }' "$WORK/growth.folded"
"$PPROF2FLAME" --folded "$T1" >"$WORK/t1.folded"
"$PPROF2FLAME" --folded "$T2" >"$WORK/t2.folded"
check "the base column sums to t1's total" test "$(sum_column "$WORK/growth.folded" 2)" = "$(sum_column "$WORK/t1.folded" 1)"
check "the new column sums to t2's total" test "$(sum_column "$WORK/growth.folded" 1)" = "$(sum_column "$WORK/t2.folded" 1)"
# Per stack, base and new are t1's and t2's own counts.
awk '{ c = $NF; $NF = ""; sub(/ $/, ""); print $0 "\t" c }' "$WORK/t1.folded" | LC_ALL=C sort >"$WORK/t1.tsv"
awk '{ c = $NF; b = $(NF-1); $NF = ""; $(NF-1) = ""; sub(/  $/, ""); if (b != 0) print $0 "\t" b }' "$WORK/growth.folded" | LC_ALL=C sort >"$WORK/base.tsv"
check "the base column is t1 stack by stack" cmp -s "$WORK/t1.tsv" "$WORK/base.tsv"
"$PPROF2FLAME" --folded -alloc_objects -base "$T1" "$T2" >"$WORK/growth_objects.folded"
"$PPROF2FLAME" --folded -alloc_objects "$T2" >"$WORK/t2_objects.folded"
check "-base follows the chosen sample type" test "$(sum_column "$WORK/growth_objects.folded" 1)" = "$(sum_column "$WORK/t2_objects.folded" 1)"
check "a profile against itself: base equals new" awk '$(NF) != $(NF-1) { exit 1 }' <("$PPROF2FLAME" --folded -base "$T2" "$T2")
"$PROFKIT" convert "$WORK/growth.folded" -o "$WORK/growth-again.folded"
check "two-count folded input is written back as it was" cmp -s "$WORK/growth.folded" "$WORK/growth-again.folded"
"$PROFKIT" convert "$WORK/growth.folded" -o "$WORK/growth-again.svg"
check "two-count folded input draws a differential SVG" grep -q 'fill="rgb(255,[0-9]*,[0-9]*)"' "$WORK/growth-again.svg"

# --- granularity: -lines names frames "function file:line".
"$PPROF2FLAME" --folded -lines "$FIXTURES/cpu.pb.gz" >"$WORK/lines.folded"
check "-lines frames carry file:line" grep -q 'main\.[A-Za-z]* [^;]*\.go:[0-9]' "$WORK/lines.folded"
check "-lines keeps the total" test "$(sum_column "$WORK/lines.folded" 1)" = "$(sum_column "$WORK/cpu.folded" 1)"

# --- SVG options reach the SVG.
"$PPROF2FLAME" --title "Heap growth" --width 800 --inverted --colors mem "$T2" -o "$WORK/opts.svg"
check "--title" grep -q '>Heap growth<' "$WORK/opts.svg"
check "--width" grep -q 'width="800"' "$WORK/opts.svg"
check "the same input gives the same bytes" bash -c "'$PPROF2FLAME' '$T2' | cmp -s - <('$PPROF2FLAME' '$T2')"

# --- errors: one line, the right exit code, no output file.
expect_exit 2 "cannot both be given" "two sample shortcuts" "$PPROF2FLAME" -inuse_space -alloc_space "$T2" -o "$WORK/out.svg"
expect_exit 2 "cannot both be given" "two granularities" "$PPROF2FLAME" -lines -files "$T2" -o "$WORK/out.svg"
expect_exit 2 "needs a positive number" "a bad width" "$PPROF2FLAME" --width=wide "$T2" -o "$WORK/out.svg"
expect_exit 2 "exactly one input" "no input" "$PPROF2FLAME" -o "$WORK/out.svg"
expect_exit 1 'sample_index "cpu" must be one of: \[alloc_objects alloc_space inuse_objects inuse_space\]' \
	"an unknown sample type" "$PPROF2FLAME" -sample_index=cpu "$T2" -o "$WORK/out.svg"
expect_exit 1 "outside the range \[0..3\]" "a sample index out of range" "$PPROF2FLAME" -sample_index=4 "$T2" -o "$WORK/out.svg"
expect_exit 1 "the base profile has no sample type inuse_space/bytes" "a base of another kind" \
	"$PPROF2FLAME" -base "$FIXTURES/cpu.pb.gz" "$T2" -o "$WORK/out.svg"
expect_exit 1 "nope.pb.gz" "a missing base" "$PPROF2FLAME" -base "$WORK/nope.pb.gz" "$T2" -o "$WORK/out.svg"
expect_exit 1 "unknown palette\|palette" "an unknown palette" "$PPROF2FLAME" --colors=plaid "$T2" -o "$WORK/out.svg"
expect_exit 1 "keeps every sample type" "a sample type for pprof output" \
	"$PROFKIT" convert -inuse_space "$T2" -o "$WORK/out.pb.gz"
finish
