#!/bin/bash
# reports.sh - profkit top, traces and tree print byte for byte what
# go tool pprof -text, -traces and -tree print: against the files of
# tests/fixtures/reports/ (made by tests/fixtures/make-reports.sh from the
# case lists beside it), and against ../shared/corpus's NAME.expected/
# reference outputs when the corpus is there. Then merge and diff: the
# -raw of our merged or subtracted profile equals pprof's own.
. "$(dirname "$0")/lib.sh"
export TZ=UTC
cases_dir="$TOP_SRCDIR/tests/fixtures"
reports="$cases_dir/reports"
command_of() { case $1 in text) echo top ;; text_diff) echo diff ;; *) echo "$1" ;; esac; }

# compare EXPECTED REPORT OPTIONS... FILE
compare() {
	local expected=$1 report=$2
	shift 2
	if ! "$PROFKIT" "$(command_of "$report")" "$@" >"$WORK/ours" 2>"$WORK/err"; then
		fail "$(basename "$expected"): profkit: $(cat "$WORK/err")"
	elif cmp -s "$expected" "$WORK/ours"; then
		pass
	else
		fail "$(basename "$expected"): profkit $(command_of "$report") $* differs"
		diff "$expected" "$WORK/ours" | head -5 >&2
	fi
}

run_cases() { # fixture casefile
	while IFS='|' read -r name report options; do
		case $name in '#'* | '') continue ;; esac
		local expected="$reports/$1.$name.txt"
		[ -f "$expected" ] || continue
		options=$(printf '%s' "$options" | sed "s|FIXTURE_DIR|$FIXTURES|g")
		# shellcheck disable=SC2086
		compare "$expected" "$report" $options "$FIXTURES/$1.pb.gz"
	done <"$2"
}
for f in "$FIXTURES"/*.pb.gz; do
	run_cases "$(basename "$f" .pb.gz)" "$cases_dir/report-cases.txt"
done
for f in heap allocs heap_t1 heap_t2 pipeline_heap; do run_cases $f "$cases_dir/heap-cases.txt"; done
for f in mutex block; do run_cases $f "$cases_dir/mean-cases.txt"; done
run_cases heap_t2 "$cases_dir/diff-cases.txt"

# The corpus: NAME.expected/<output>.txt for the outputs whose command we
# know (see corpus/MANIFEST.md).
corpus="$TOP_SRCDIR/../shared/corpus"
if [ -d "$corpus/go" ]; then
	for f in "$corpus"/go/*/*.pb.gz; do
		exp="${f%.pb.gz}.expected"
		[ -d "$exp" ] || continue
		full="-nodefraction=0 -edgefraction=0 -nodecount=100000"
		[ -f "$exp/text.txt" ] && compare "$exp/text.txt" text "$f"
		# shellcheck disable=SC2086
		[ -f "$exp/text_full.txt" ] && compare "$exp/text_full.txt" text $full "$f"
		[ -f "$exp/cum.txt" ] && compare "$exp/cum.txt" text -cum "$f"
		[ -f "$exp/top20.txt" ] && compare "$exp/top20.txt" text -nodecount=20 "$f"
		# shellcheck disable=SC2086
		[ -f "$exp/lines_full.txt" ] && compare "$exp/lines_full.txt" text -lines $full "$f"
		# shellcheck disable=SC2086
		[ -f "$exp/tree_full.txt" ] && compare "$exp/tree_full.txt" tree $full "$f"
		[ -f "$exp/traces.txt" ] && compare "$exp/traces.txt" traces "$f"
		for t in "$exp"/text_*.txt; do
			n=$(basename "$t" .txt)
			case $n in
			text_full | text_base_* | text_diff_base_*) ;;
			*_flag)
				n=${n#text_}
				compare "$t" text -"${n%_flag}" "$f"
				;;
			*_full)
				n=${n#text_}
				# shellcheck disable=SC2086
				compare "$t" text -sample_index="${n%_full}" $full "$f"
				;;
			*) compare "$t" text -sample_index="${n#text_}" "$f" ;;
			esac
		done
	done
fi

# merge: pprof -raw of our merge equals that of pprof's own merge.
if have_go; then
	raw() { TZ=UTC PPROF_BINARY_PATH=/nonexistent go tool pprof -raw "$@" 2>/dev/null; }
	merge_check() { # what FILES...
		local what=$1
		shift
		if ! "$PROFKIT" merge "$@" -o "$WORK/merged.pb.gz" 2>"$WORK/err"; then
			fail "merge $what: $(cat "$WORK/err")"
			return
		fi
		TZ=UTC PPROF_BINARY_PATH=/nonexistent go tool pprof -proto "$@" >"$WORK/theirs.pb.gz" 2>/dev/null
		if cmp -s <(raw "$WORK/theirs.pb.gz") <(raw "$WORK/merged.pb.gz"); then pass; else fail "merge $what"; fi
	}
	merge_check heap "$FIXTURES/heap_t1.pb.gz" "$FIXTURES/heap_t2.pb.gz"
	merge_check cpu "$FIXTURES/cpu.pb.gz" "$FIXTURES/cpu.pb.gz"
	merge_check three "$FIXTURES/heap.pb.gz" "$FIXTURES/heap_t1.pb.gz" "$FIXTURES/heap_t2.pb.gz"
	# associative: (a b) c = a (b c)
	"$PROFKIT" merge "$FIXTURES/heap.pb.gz" "$FIXTURES/heap_t1.pb.gz" -o "$WORK/ab.pb.gz" &&
		"$PROFKIT" merge "$WORK/ab.pb.gz" "$FIXTURES/heap_t2.pb.gz" -o "$WORK/ab_c.pb.gz" &&
		"$PROFKIT" merge "$FIXTURES/heap_t1.pb.gz" "$FIXTURES/heap_t2.pb.gz" -o "$WORK/bc.pb.gz" &&
		"$PROFKIT" merge "$FIXTURES/heap.pb.gz" "$WORK/bc.pb.gz" -o "$WORK/a_bc.pb.gz"
	check "merge is associative" cmp -s <(raw "$WORK/ab_c.pb.gz") <(raw "$WORK/a_bc.pb.gz")
	# diff -o: the subtracted profile, as pprof -base writes it
	"$PROFKIT" diff "$FIXTURES/heap_t1.pb.gz" "$FIXTURES/heap_t2.pb.gz" -o "$WORK/diff.pb.gz"
	TZ=UTC go tool pprof -proto -base "$FIXTURES/heap_t1.pb.gz" "$FIXTURES/heap_t2.pb.gz" >"$WORK/pdiff.pb.gz" 2>/dev/null
	check "diff -o" cmp -s <(raw "$WORK/pdiff.pb.gz") <(raw "$WORK/diff.pb.gz")
	# diff without -o: the leak report, as -text -base
	compare "$reports/heap_t2.base.txt" text_diff "$FIXTURES/heap_t1.pb.gz" "$FIXTURES/heap_t2.pb.gz"
fi

# merge and diff read their inputs in parallel: still the first input that
# fails (in the order given) is the one named, and nothing is written
rm -f "$WORK/none.pb.gz"
if "$PROFKIT" merge "$FIXTURES/heap.pb.gz" "$WORK/missing1" "$WORK/missing2" -o "$WORK/none.pb.gz" 2>"$WORK/err"; then
	fail "merge with a missing input fails"
else
	check "merge names the first missing input" grep -q "^profkit merge: $WORK/missing1: " "$WORK/err"
	check "merge with a missing input writes nothing" test ! -e "$WORK/none.pb.gz"
fi
if "$PROFKIT" diff "$FIXTURES/heap.pb.gz" "$WORK/missing2" >/dev/null 2>"$WORK/err"; then
	fail "diff with a missing input fails"
else
	check "diff names the missing input" grep -q "^profkit diff: $WORK/missing2: " "$WORK/err"
fi
# many small inputs (the C library keeps their memory for the next): one
# cut short is named with its offset, and the others merge as before
head -c 300 "$FIXTURES/heap.pb.gz" >"$WORK/cut.pb.gz"
h="$FIXTURES/heap.pb.gz"
if "$PROFKIT" merge "$h" "$h" "$WORK/cut.pb.gz" "$h" "$h" -o "$WORK/none.pb.gz" 2>"$WORK/err"; then
	fail "merge with an input cut short fails"
else
	check "merge names the input cut short" grep -q "^profkit merge: $WORK/cut.pb.gz: byte 300: truncated gzip stream" "$WORK/err"
	check "merge with an input cut short writes nothing" test ! -e "$WORK/none.pb.gz"
fi
"$PROFKIT" merge "$h" "$h" "$h" "$h" "$h" -o "$WORK/five.pb.gz" &&
	"$PROFKIT" merge "$h" "$h" -o "$WORK/two.pb.gz" &&
	"$PROFKIT" merge "$WORK/two.pb.gz" "$WORK/two.pb.gz" "$h" -o "$WORK/five2.pb.gz"
check "merge of many small inputs" cmp -s <("$PROFKIT" top "$WORK/five.pb.gz") <("$PROFKIT" top "$WORK/five2.pb.gz")
# the base is merged last, but named first when both are missing
if "$PROFKIT" diff "$WORK/missing1" "$WORK/missing2" >/dev/null 2>"$WORK/err"; then
	fail "diff with missing inputs fails"
else
	check "diff names the missing base first" grep -q "^profkit diff: $WORK/missing1: " "$WORK/err"
fi
# a diff reads its two inputs at once, the new one becoming the merge's
# own: either cut short (or the base missing) is named as before, with
# its offset, and nothing is written
for args in "$h $WORK/cut.pb.gz" "$WORK/cut.pb.gz $h" "$WORK/cut.pb.gz $WORK/missing2"; do
	rm -f "$WORK/none.pb.gz"
	# shellcheck disable=SC2086
	if "$PROFKIT" diff $args -o "$WORK/none.pb.gz" 2>"$WORK/err"; then
		fail "diff $args fails"
	else
		check "diff $args names the input cut short" grep -q "^profkit diff: $WORK/cut.pb.gz: byte 300: truncated gzip stream" "$WORK/err"
		check "diff $args writes nothing" test ! -e "$WORK/none.pb.gz"
	fi
done
if "$PROFKIT" diff "$WORK/missing1" "$h" -o "$WORK/none.pb.gz" 2>"$WORK/err"; then
	fail "diff with a missing base fails"
else
	check "diff names the missing base" grep -q "^profkit diff: $WORK/missing1: byte 0: cannot open" "$WORK/err"
	check "diff with a missing base writes nothing" test ! -e "$WORK/none.pb.gz"
fi
# a merge that fails (incompatible profiles) still names an input that
# does not read first
if "$PROFKIT" merge "$FIXTURES/heap.pb.gz" "$FIXTURES/cpu.pb.gz" "$WORK/missing2" -o "$WORK/none.pb.gz" 2>"$WORK/err"; then
	fail "merge of incompatible profiles and a missing one fails"
else
	check "merge names the missing input before the incompatible" grep -q "^profkit merge: $WORK/missing2: " "$WORK/err"
fi
if "$PROFKIT" merge "$FIXTURES/heap.pb.gz" "$FIXTURES/cpu.pb.gz" -o "$WORK/none.pb.gz" 2>"$WORK/err"; then
	fail "merge of incompatible profiles fails"
else
	check "merge names the incompatible profile" grep -q "^profkit merge: incompatible .* profile 2" "$WORK/err"
fi

# an invalid regular expression is a clear error
if "$PROFKIT" top -focus='(' "$FIXTURES/cpu.pb.gz" >/dev/null 2>"$WORK/err"; then
	fail "an invalid -focus is refused"
else
	check "invalid regexp message" grep -q "invalid regular expression for focus" "$WORK/err"
fi
finish
