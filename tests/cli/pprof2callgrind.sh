#!/bin/bash
# pprof2callgrind.sh - the pprof2callgrind front end: callgrind.out.NAME in
# the current folder by default, stdout for '-', -o; one event with a
# sample choice; -addresses; -base (the leak workflow: every event the
# growth); clear errors that leave no file. Also profkit convert to
# callgrind by name and by --to, and callgrind -> pprof -> callgrind,
# which keeps every function's self cost as callgrind_annotate shows it.
. "$(dirname "$0")/lib.sh"
: "${PPROF2CALLGRIND:?run through make check}"
T1="$FIXTURES/heap_t1.pb.gz"
T2="$FIXTURES/heap_t2.pb.gz"
CPU="$FIXTURES/cpu.pb.gz"
RUN="$WORK/run"
mkdir -p "$RUN"
have_annotate() { command -v callgrind_annotate >/dev/null; }

# events FILE: the names of the events: line.
events() { sed -n 's/^events: //p' "$1"; }

# annotate FILE OUT [ARGS...]: callgrind_annotate, run in $WORK (it strips
# the working directory from file names), which must print no warning.
annotate() {
	local f=$1 out=$2
	shift 2
	(cd "$WORK" && callgrind_annotate --auto=no --threshold=100 "$@" "$f") >"$out" 2>"$WORK/annotate.err" &&
		[ ! -s "$WORK/annotate.err" ]
}

# expect_exit CODE MESSAGE-PATTERN DESCRIPTION COMMAND...: run in $RUN, the
# command fails with CODE, prints one line matching the pattern, and
# leaves no file in $RUN.
expect_exit() {
	local code=$1 pattern=$2 what=$3
	shift 3
	rm -rf "$RUN" && mkdir -p "$RUN"
	(cd "$RUN" && "$@") >"$WORK/stdout" 2>"$WORK/stderr"
	local rc=$?
	if [ "$rc" -ne "$code" ]; then
		fail "$what: exit $rc, not $code ($(cat "$WORK/stderr"))"
	elif [ "$(wc -l <"$WORK/stderr")" -ne 1 ] || ! grep -q -- "$pattern" "$WORK/stderr"; then
		fail "$what: stderr is not one line matching '$pattern': $(cat "$WORK/stderr")"
	elif [ -n "$(ls -A "$RUN")" ]; then
		fail "$what: left $(ls -A "$RUN")"
	else
		pass
	fi
}

# --- where the output goes: callgrind.out.NAME, stdout for '-', -o.
rm -rf "$RUN" && mkdir -p "$RUN"
if (cd "$RUN" && "$PPROF2CALLGRIND" "$CPU") >"$WORK/stdout" 2>"$WORK/stderr"; then
	check "callgrind.out.cpu in the current folder" test -s "$RUN/callgrind.out.cpu"
	check "nothing else there" test "$(ls -A "$RUN")" = callgrind.out.cpu
	check "nothing on stdout" test ! -s "$WORK/stdout"
	check "it is callgrind" grep -qx '# callgrind format' "$RUN/callgrind.out.cpu"
	if have_annotate; then
		check "callgrind_annotate reads callgrind.out.cpu" annotate "$RUN/callgrind.out.cpu" "$WORK/cpu.out"
	fi
else
	fail "pprof2callgrind cpu.pb.gz: $(cat "$WORK/stderr")"
fi
cp "$RUN/callgrind.out.cpu" "$WORK/cpu.callgrind"
rm -rf "$RUN" && mkdir -p "$RUN"
(cd "$RUN" && "$PPROF2CALLGRIND" - <"$CPU") >"$WORK/stdin.callgrind"
check "'-' reads stdin and writes stdout" cmp -s "$WORK/stdin.callgrind" "$WORK/cpu.callgrind"
check "'-' leaves no file" test -z "$(ls -A "$RUN")"
"$PPROF2CALLGRIND" "$CPU" -o "$WORK/o.callgrind"
check "-o OUT" cmp -s "$WORK/o.callgrind" "$WORK/cpu.callgrind"
"$PPROF2CALLGRIND" "$CPU" -o - >"$WORK/dash.callgrind"
check "-o -" cmp -s "$WORK/dash.callgrind" "$WORK/cpu.callgrind"
"$PROFKIT" convert "$CPU" --to callgrind -o "$WORK/convert.callgrind"
check "the same as profkit convert --to callgrind" cmp -s "$WORK/convert.callgrind" "$WORK/cpu.callgrind"
rm -rf "$RUN" && mkdir -p "$RUN"
(cd "$RUN" && "$PROFKIT" convert "$CPU" -o callgrind.out.x)
check "profkit convert -o callgrind.out.x picks callgrind by the name" \
	cmp -s "$RUN/callgrind.out.x" "$WORK/cpu.callgrind"
"$PROFKIT" convert "$CPU" --to callgrind -o - >"$WORK/stdout.callgrind"
check "profkit convert --to callgrind -o -" cmp -s "$WORK/stdout.callgrind" "$WORK/cpu.callgrind"

# --- events: every sample type, or the one chosen.
check "every sample type is an event" \
	test "$("$PPROF2CALLGRIND" "$T2" -o - | sed -n 's/^events: //p')" = \
	"alloc_objects alloc_space inuse_objects inuse_space"
for t in inuse_space inuse_objects alloc_space alloc_objects; do
	"$PPROF2CALLGRIND" "-$t" "$T2" -o "$WORK/short.callgrind"
	"$PPROF2CALLGRIND" "-sample_index=$t" "$T2" -o "$WORK/named.callgrind"
	check "-$t gives the one event $t" test "$(events "$WORK/short.callgrind")" = "$t"
	check "-$t equals -sample_index=$t" cmp -s "$WORK/short.callgrind" "$WORK/named.callgrind"
done
"$PPROF2CALLGRIND" -sample_index=1 "$T2" -o "$WORK/index.callgrind"
check "-sample_index=1 is alloc_space" test "$(events "$WORK/index.callgrind")" = alloc_space

# --- positions: lines, or instructions and lines with -addresses.
check "positions: line by default" grep -qx 'positions: line' "$WORK/cpu.callgrind"
"$PPROF2CALLGRIND" -addresses "$CPU" -o "$WORK/addr.callgrind"
check "-addresses: positions: instr line" grep -qx 'positions: instr line' "$WORK/addr.callgrind"
check "-addresses: cost lines start with an address" grep -q '^0x[0-9a-f]* [0-9]* [0-9]' "$WORK/addr.callgrind"
check "-addresses keeps the totals" test "$(grep '^totals:' "$WORK/addr.callgrind")" = "$(grep '^totals:' "$WORK/cpu.callgrind")"

# --- the leak workflow: -base T1 T2, every event the growth of T2 over
# T1 stack by stack (the positive new - base of the two-count folded
# lines, at -lines: callgrind's stacks are paths of source lines).
if "$PPROF2CALLGRIND" -base "$T1" "$T2" -o "$WORK/growth.callgrind" 2>"$WORK/stderr"; then
	pass
	read -r -a names <<<"$(events "$WORK/growth.callgrind")"
	read -r -a totals <<<"$(sed -n 's/^totals: //p' "$WORK/growth.callgrind")"
	check "-base: four events" test "${#names[@]}" -eq 4
	for k in "${!names[@]}"; do
		e=${names[$k]}
		growth=$("$PROFKIT" convert "$T2" --base "$T1" --sample_index="$e" --lines --to folded -o - |
			awk '{ d = $NF - $(NF - 1); if (d > 0) s += d } END { printf "%d\n", s }')
		check "-base: totals: of $e ($growth) is the growth" test "${totals[$k]}" = "$growth"
		if ! have_annotate; then
			continue
		elif annotate "$WORK/growth.callgrind" "$WORK/growth.out" --show="$e" --sort="$e"; then
			shown=$(sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' "$WORK/growth.out" | tr -d ,)
			check "-base: PROGRAM TOTALS of $e ($shown) is the growth" test "$shown" = "$growth"
		else
			fail "-base: callgrind_annotate: $(head -3 "$WORK/annotate.err")"
		fi
	done
	check "-base: the shrinking inuse_space is left out, and said" \
		grep -q '^# profkit: stacks whose inuse_space fell are left out (-[0-9]* bytes in all)$' \
		"$WORK/growth.callgrind"
else
	fail "-base: $(cat "$WORK/stderr")"
fi
"$PPROF2CALLGRIND" -base "$T2" "$T2" -o "$WORK/same.callgrind"
check "-base: a profile against itself is all 0" grep -qx 'totals: 0 0 0 0' "$WORK/same.callgrind"

# --- errors: exit 2 for the command line, 1 for the input; one line, no file.
expect_exit 2 "unknown option" "an unknown option" "$PPROF2CALLGRIND" --nope "$CPU"
expect_exit 2 "cannot both be given" "two sample shortcuts" "$PPROF2CALLGRIND" -inuse_space -alloc_space "$T2"
expect_exit 2 "cannot both be given" "-sample_index and a shortcut" \
	"$PPROF2CALLGRIND" -sample_index=0 -inuse_space "$T2"
expect_exit 2 "exactly one input" "no input" "$PPROF2CALLGRIND"
expect_exit 2 "exactly one input" "two inputs" "$PPROF2CALLGRIND" "$T1" "$T2"
printf 'this is not a profile\n' >"$WORK/bad.pb.gz"
expect_exit 1 "bad.pb.gz" "an input no format reads" "$PPROF2CALLGRIND" "$WORK/bad.pb.gz"
expect_exit 1 "nope.pb.gz" "a missing input" "$PPROF2CALLGRIND" "$WORK/nope.pb.gz"
head -c 100 "$CPU" >"$WORK/cut.pb.gz"
expect_exit 1 "cut.pb.gz" "a cut pprof file" "$PPROF2CALLGRIND" "$WORK/cut.pb.gz"
expect_exit 1 'sample_index "cpu" must be one of' "an unknown sample type" \
	"$PPROF2CALLGRIND" -sample_index=cpu "$T2"
expect_exit 1 "the base profile has no sample type" "a base of another kind" \
	"$PPROF2CALLGRIND" -base "$CPU" "$T2"

# --- callgrind -> pprof -> callgrind: the rebuilt stacks keep every
# function's self cost, so callgrind_annotate shows the same per-function
# costs for the export as for valgrind's file, event by event. (The rows'
# objects go: callgrind_annotate shows them only for functions a fn= line
# names, not for those it knows from fi= lines.)
# rows FILE EVENT: callgrind_annotate's functions of nonzero cost, "cost
# file:function", sorted.
rows() {
	annotate "$1" "$WORK/rows.out" --show="$2" --sort="$2" || return 1
	sed -n '/ file:function$/,$p' "$WORK/rows.out" | sed '1,2d' |
		awk '$1 != "." && $1 != "0"' | sed 's/ \[[^]]*\]$//; s/([ 0-9.]*%) *//' |
		awk '{ $1 = $1; print }' | LC_ALL=C sort
}
if have_annotate; then
	for f in "$TOP_SRCDIR"/tests/fixtures/callgrind/*.callgrind; do
		n=$(basename "$f" .callgrind)
		if [ "$(grep -c '^events:' "$f")" -ne 1 ]; then
			echo "note: $n has several parts, which callgrind_annotate does not read"
			continue
		fi
		if ! "$PROFKIT" convert "$f" -o "$WORK/rt.pb.gz" 2>"$WORK/stderr" ||
			! "$PPROF2CALLGRIND" "$WORK/rt.pb.gz" -o "$WORK/rt.callgrind" 2>>"$WORK/stderr"; then
			fail "$n: callgrind -> pprof -> callgrind: $(cat "$WORK/stderr")"
			continue
		fi
		for e in $(events "$f"); do
			if rows "$f" "$e" >"$WORK/rows.want" && rows "$WORK/rt.callgrind" "$e" >"$WORK/rows.got" &&
				[ -s "$WORK/rows.want" ] && cmp -s "$WORK/rows.want" "$WORK/rows.got"; then
				pass
			else
				fail "$n: callgrind_annotate's self costs of $e differ after callgrind -> pprof -> callgrind"
				diff "$WORK/rows.want" "$WORK/rows.got" | head -5 >&2
			fi
		done
	done
else
	echo "note: callgrind_annotate (valgrind) is not installed; its checks were skipped"
fi
# Units survive pprof -> callgrind -> pprof.
"$PROFKIT" convert "$WORK/growth.callgrind" -o "$WORK/units.pb.gz"
check "pprof -> callgrind -> pprof keeps the units" \
	test "$("$PROFKIT" info "$WORK/units.pb.gz" | sed -n 's/^  [0-9]*: \([^ ]*\) .*/\1/p' | tr '\n' ' ')" = \
	"alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes "
finish
