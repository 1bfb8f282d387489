#!/bin/bash
# folded.sh - folded stacks through the CLI: folded -> pprof that `go tool
# pprof` reads with the same stacks and counts, pprof -> folded -> pprof ->
# folded stable for every fixture, two-count diffs kept, names and gzip by
# extension, and errors that point at the line and column.
. "$(dirname "$0")/lib.sh"
to_folded="$TOP_SRCDIR/tests/cli/traces-to-folded.py"
have_python() { command -v python3 >/dev/null 2>&1; }

# traces FILE [PPROF-ARGS...]: pprof's traces of FILE as sorted folded lines.
traces() {
	local f=$1
	shift
	TZ=UTC PPROF_BINARY_PATH=/nonexistent go tool pprof -traces "$@" "$f" 2>"$WORK/pprof.err" |
		python3 "$to_folded" | LC_ALL=C sort
}

# same_lines A B: the two files hold the same lines, in any order.
same_lines() { cmp -s <(LC_ALL=C sort "$1") <(LC_ALL=C sort "$2"); }

# --- the grammar flamegraph.pl reads, written back in one form.
printf 'main;do work(int, char*) 3\r\n\nmain;do work(int, char*);leaf\t4\r\nmain;idle 2\n' >"$WORK/in.folded"
printf 'main;idle 5\n\n  \nmain;do work(int, char*);leaf; 1\n' >>"$WORK/in.folded"
cat >"$WORK/want.folded" <<'EOF'
main;do work(int, char*) 3
main;do work(int, char*);leaf 5
main;idle 7
EOF
check "folded to folded" "$PROFKIT" convert "$WORK/in.folded" -o "$WORK/out.folded"
check "merged, in one form" cmp -s "$WORK/out.folded" "$WORK/want.folded"
check "folded to .collapsed" "$PROFKIT" convert "$WORK/in.folded" -o "$WORK/out.collapsed"
check ".collapsed is folded" cmp -s "$WORK/out.collapsed" "$WORK/want.folded"
check "--to folded to stdout" sh -c "'$PROFKIT' convert '$WORK/in.folded' --to folded -o - >'$WORK/stdout.folded'"
check "stdout is the same" cmp -s "$WORK/stdout.folded" "$WORK/want.folded"
check "folded from stdin" sh -c "'$PROFKIT' convert - -o '$WORK/stdin.folded' <'$WORK/in.folded'"
check "stdin is the same" cmp -s "$WORK/stdin.folded" "$WORK/want.folded"
check "gzipped by .gz" "$PROFKIT" convert "$WORK/in.folded" -o "$WORK/out.folded.gz"
check "the .gz is gzip" test "$(head -c 2 "$WORK/out.folded.gz" | od -An -tx1 | tr -d ' ')" = 1f8b
check "gzipped folded is read" "$PROFKIT" convert "$WORK/out.folded.gz" -o "$WORK/gz.folded"
check "and is the same" cmp -s "$WORK/gz.folded" "$WORK/want.folded"
check "info reads folded" sh -c "'$PROFKIT' info '$WORK/in.folded' | grep -q 'samples/count total 15'"

# --- folded -> pprof, read by pprof itself.
check "folded to pprof" "$PROFKIT" convert "$WORK/in.folded" -o "$WORK/in.pb.gz"
check "pprof to folded" "$PROFKIT" convert "$WORK/in.pb.gz" -o "$WORK/back.folded"
check "pprof keeps the stacks" cmp -s "$WORK/back.folded" "$WORK/want.folded"
if have_go && have_python; then
	traces "$WORK/in.pb.gz" >"$WORK/traces.folded"
	check "go tool pprof -traces shows the stacks and counts" same_lines "$WORK/traces.folded" "$WORK/want.folded"
	check "go tool pprof -raw reads it" sh -c "TZ=UTC go tool pprof -raw '$WORK/in.pb.gz' >/dev/null 2>&1"
	check "go tool pprof -top reads it" sh -c "go tool pprof -top '$WORK/in.pb.gz' 2>/dev/null | grep -q 'leaf'"
fi

# Fractional counts are scaled, and the profile says by what.
printf 'a;b 0.5\na;c 1.25\n' >"$WORK/frac.folded"
printf 'a;b 50\na;c 125\n' >"$WORK/frac.want"
check "fractional counts" "$PROFKIT" convert "$WORK/frac.folded" -o "$WORK/frac.out.folded"
check "are scaled" cmp -s "$WORK/frac.out.folded" "$WORK/frac.want"
check "the scale is noted" sh -c "'$PROFKIT' info '$WORK/frac.folded' | grep -q 'each is multiplied by 100'"

# --- two counts: a diff, kept through pprof (as sample types base and new).
printf 'main;grew 10 30\nmain;shrank 20 5\nmain;gone 7 0\nmain;new 0 9\n' >"$WORK/diff.folded"
cat >"$WORK/diff.want" <<'EOF'
main;gone 7 0
main;grew 10 30
main;new 0 9
main;shrank 20 5
EOF
check "two counts to folded" "$PROFKIT" convert "$WORK/diff.folded" -o "$WORK/diff.out.folded"
check "two counts kept" cmp -s "$WORK/diff.out.folded" "$WORK/diff.want"
check "two counts to pprof" "$PROFKIT" convert "$WORK/diff.folded" -o "$WORK/diff.pb.gz"
check "and back" "$PROFKIT" convert "$WORK/diff.pb.gz" -o "$WORK/diff.back.folded"
check "two counts survive pprof" cmp -s "$WORK/diff.back.folded" "$WORK/diff.want"
check "info names base and new" sh -c "'$PROFKIT' info '$WORK/diff.pb.gz' | grep -q '1: new/count total 44 (default)'"
if have_go && have_python; then
	traces "$WORK/diff.pb.gz" -sample_index=new >"$WORK/diff.traces"
	check "pprof -traces shows the new side" same_lines "$WORK/diff.traces" <(printf 'main;grew 30\nmain;shrank 5\nmain;new 9\n')
fi

# --- every fixture: pprof -> folded -> pprof -> folded is stable, and
# folded -> pprof shows pprof the same traces as the folded lines.
for f in "$FIXTURES"/*.pb.gz; do
	name=$(basename "$f" .pb.gz)
	if ! "$PROFKIT" convert "$f" -o "$WORK/$name.folded" 2>"$WORK/err"; then
		fail "$name: to folded: $(cat "$WORK/err")"
		continue
	fi
	check "$name: folded to pprof" "$PROFKIT" convert "$WORK/$name.folded" -o "$WORK/$name.2.pb.gz"
	check "$name: back to folded" "$PROFKIT" convert "$WORK/$name.2.pb.gz" -o "$WORK/$name.2.folded"
	check "$name: pprof -> folded -> pprof -> folded is stable" cmp -s "$WORK/$name.folded" "$WORK/$name.2.folded"
	if have_go && have_python; then
		traces "$WORK/$name.2.pb.gz" -unit=count >"$WORK/$name.traces"
		check "$name: pprof -traces of the folded stacks" same_lines "$WORK/$name.traces" "$WORK/$name.folded"
	fi
done

# --- errors: the line and column, one line on stderr, exit 1, no output.
expect_error() { # DESCRIPTION EXPECTED-STDERR PROFKIT-ARGS...
	local what=$1 want=$2
	shift 2
	rm -f "$WORK/bad.pb.gz"
	"$PROFKIT" "$@" >"$WORK/stdout" 2>"$WORK/stderr"
	local rc=$?
	if [ $rc -ne 1 ]; then
		fail "$what: exit $rc, not 1"
	elif [ "$(cat "$WORK/stderr")" != "$want" ]; then
		fail "$what: got '$(cat "$WORK/stderr")', expected '$want'"
	elif [ -e "$WORK/bad.pb.gz" ] || [ -s "$WORK/stdout" ]; then
		fail "$what: wrote output"
	else
		pass
	fi
}
printf 'main;work 3\nmain;idle 2\nmain;idle\n' >"$WORK/bad.folded"
expect_error "a line without a count" \
	"profkit convert: $WORK/bad.folded:3:10: expected a count (digits after a space or tab) at the end of the line" \
	convert "$WORK/bad.folded" -o "$WORK/bad.pb.gz"
printf 'main;;work 3\n' >"$WORK/bad.folded"
expect_error "an empty frame" \
	"profkit convert: -:1:6: two ';' in a row make an empty frame name" \
	convert - -o "$WORK/bad.pb.gz" <"$WORK/bad.folded"
# A first line that is not folded stacks is detected as nothing; --from
# folded gets the precise error. So is a second: Go's legacy text profiles
# start with "goroutine profile: total 20".
printf 'goroutine profile: total 1\n1 @ 0x43b2f6 0x433e17\n' >"$WORK/goroutine.txt"
"$PROFKIT" convert "$WORK/goroutine.txt" -o "$WORK/bad.pb.gz" 2>"$WORK/stderr"
check "a goroutine text profile is not taken for folded stacks" \
	grep -q "^profkit convert: $WORK/goroutine.txt: byte 0: not a profile in any format" "$WORK/stderr"
printf 'main;work\nmain 3\n' >"$WORK/bad.folded"
expect_error "--from folded" \
	"profkit convert: $WORK/bad.folded:1:10: expected a count (digits after a space or tab) at the end of the line" \
	convert "$WORK/bad.folded" --from folded -o "$WORK/bad.pb.gz"
printf 'a;b 1 2\na 3\n' | gzip -c >"$WORK/bad.folded.gz"
expect_error "mixed counts, gzipped" \
	"profkit convert: $WORK/bad.folded.gz:2:3: one count, but line 1 has two; every line needs the same number of counts" \
	convert "$WORK/bad.folded.gz" -o "$WORK/bad.pb.gz"

finish
