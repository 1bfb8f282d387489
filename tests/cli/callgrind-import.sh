#!/bin/bash
# callgrind-import.sh - callgrind files read as valgrind's own tool reads
# them: for every fixture in tests/fixtures/callgrind (and every .callgrind
# file of ../shared/corpus/callgrind when it is there), each function's self
# cost, per event, is what `callgrind_annotate --threshold=100` printed for
# it (saved next to the file), and each event's total is the file's totals:
# lines. The pprof we write is one go tool pprof reads, with the same flat
# costs; folded and SVG output work from it.
. "$(dirname "$0")/lib.sh"

# annotate_self REPORT INDEX: callgrind_annotate's self cost of event INDEX
# per function name ("file:function [object]" keys summed by function), as
# sorted "name<TAB>cost" lines, zeros left out.
annotate_self() {
	awk -v want="$2" '
	/^Events recorded:/ { events = NF - 2 }
	/file:function$/ { table = 1; getline; next }
	table && /^$/ { exit }
	table {
		rest = $0
		for (i = 0; i < events; i++) {
			sub(/^ +/, "", rest)
			if (substr(rest, 1, 1) == ".") {
				value = 0
				rest = substr(rest, 2)
			} else {
				match(rest, /^[0-9,]+/)
				value = substr(rest, 1, RLENGTH)
				gsub(/,/, "", value)
				rest = substr(rest, RLENGTH + 1)
				if (match(rest, /^ \( *[0-9.]+%\)/))
					rest = substr(rest, RLENGTH + 1)
			}
			if (i == want)
				cost = value
		}
		sub(/^ +/, "", rest)
		sub(/ \[[^]]*\]$/, "", rest)
		sub(/^[^:]*:/, "", rest)
		sum[rest] += cost
	}
	END { for (f in sum) if (sum[f] != 0) printf "%s\t%d\n", f, sum[f] }
	' "$1" | LC_ALL=C sort
}

# annotate_events REPORT: how many events the report shows.
annotate_events() {
	awk '/^Events recorded:/ { print NF - 2; exit }' "$1"
}

# file_totals FILE INDEX: the sum of the INDEX-th number of the totals:
# lines (one per part), or nothing when there is none.
file_totals() {
	awk -v want="$2" '/^totals:/ { seen = 1; t += $(want + 2) } END { if (seen) printf "%d\n", t }' "$1"
}

# folded_self FOLDED: our self cost per function: the leaf frames' counts.
folded_self() {
	awk '{
		n = split($0, w, " "); count = w[n]
		stack = substr($0, 1, length($0) - length(count) - 1)
		leaf = stack; sub(/^.*;/, "", leaf)
		sum[leaf] += count
	}
	END { for (f in sum) if (sum[f] != 0) printf "%s\t%d\n", f, sum[f] }' "$1" | LC_ALL=C sort
}

# pprof_flat PROFILE INDEX: go tool pprof's flat cost per function name.
pprof_flat() {
	TZ=UTC PPROF_BINARY_PATH=/nonexistent go tool pprof -text -nodefraction=0 -edgefraction=0 \
		-nodecount=1000000 -sample_index="$2" "$1" 2>/dev/null |
		awk 'started && NF >= 6 {
			name = $0
			for (i = 0; i < 5; i++) sub(/^ *[^ ]+/, "", name)
			sub(/^ +/, "", name)
			if ($1 != 0) printf "%s\t%d\n", name, $1
		}
		/^ +flat +flat%/ { started = 1 }' | LC_ALL=C sort
}

# check_file FILE REPORT: every check of one callgrind file.
check_file() {
	local f=$1 report=$2 name
	name=$(basename "$f" .callgrind)
	local pb="$WORK/$name.pb.gz"
	if ! "$PROFKIT" convert "$f" -o "$pb" 2>"$WORK/err"; then
		fail "$name: detected and converted: $(cat "$WORK/err")"
		return
	fi
	pass
	check "$name: --from callgrind" "$PROFKIT" convert "$f" --from callgrind -o "$WORK/$name.2.pb.gz"
	check "$name: the same either way" cmp -s "$pb" "$WORK/$name.2.pb.gz"
	local events
	events=$(annotate_events "$report")
	[ "${events:-0}" -gt 0 ] && pass || { fail "$name: no events in $report"; return; }
	for ((i = 0; i < events; i++)); do
		if ! "$PROFKIT" convert "$pb" --sample_index="$i" -o "$WORK/$name.folded" 2>"$WORK/err"; then
			fail "$name: event $i to folded: $(cat "$WORK/err")"
			continue
		fi
		folded_self "$WORK/$name.folded" >"$WORK/ours"
		annotate_self "$report" "$i" >"$WORK/theirs"
		if cmp -s "$WORK/ours" "$WORK/theirs"; then pass; else
			fail "$name: event $i: self costs differ from callgrind_annotate's"
			diff "$WORK/theirs" "$WORK/ours" | head -5 >&2
		fi
		local want got
		want=$(file_totals "$f" "$i")
		[ -n "$want" ] || want=$(awk -F'\t' '{ t += $2 } END { printf "%d\n", t }' "$WORK/theirs")
		got=$(awk '{ t += $NF } END { printf "%d\n", t }' "$WORK/$name.folded")
		[ "$got" = "$want" ] && pass || fail "$name: event $i totals $got, the file $want"
		if have_go; then
			pprof_flat "$pb" "$i" >"$WORK/flat"
			if cmp -s "$WORK/flat" "$WORK/theirs"; then pass; else
				fail "$name: event $i: go tool pprof's flat costs differ"
				diff "$WORK/theirs" "$WORK/flat" | head -5 >&2
			fi
		fi
	done
	if have_go; then
		pprof_raw "$pb" >/dev/null && pass || fail "$name: go tool pprof -raw cannot read our pprof"
	fi
	check "$name: to svg" "$PROFKIT" convert "$f" -o "$WORK/$name.svg"
	grep -q '<svg' "$WORK/$name.svg" && pass || fail "$name: the SVG has no <svg"
	check "$name: to json and back" "$PROFKIT" convert "$pb" -o "$WORK/$name.json"
}

count=0
for f in "$TOP_SRCDIR"/tests/fixtures/callgrind/*.callgrind; do
	check_file "$f" "${f%.callgrind}.annotate.txt"
	count=$((count + 1))
done
[ "$count" -ge 7 ] && pass || fail "only $count fixtures"
# The shared corpus, when it is beside the checkout.
for f in "$TOP_SRCDIR"/../shared/corpus/callgrind/*.callgrind; do
	report="${f%.callgrind}.expected/annotate_full.txt"
	[ -e "$f" ] && [ -e "$report" ] || continue
	check_file "$f" "$report"
done

# valgrind's file names: callgrind.out.<pid>, read from the bytes.
cp "$TOP_SRCDIR/tests/fixtures/callgrind/recur.callgrind" "$WORK/callgrind.out.4242"
check "callgrind.out.4242" "$PROFKIT" convert "$WORK/callgrind.out.4242" -o "$WORK/out.folded"
gzip -c "$WORK/callgrind.out.4242" >"$WORK/callgrind.out.4242.gz"
check "callgrind.out.4242.gz" "$PROFKIT" convert "$WORK/callgrind.out.4242.gz" -o "$WORK/out2.folded"
check "gzipped gives the same" cmp -s "$WORK/out.folded" "$WORK/out2.folded"
# profkit info names the format.
"$PROFKIT" info "$WORK/callgrind.out.4242" >"$WORK/info" 2>&1
grep -q "Ir/count" "$WORK/info" && pass || fail "info: $(cat "$WORK/info")"
finish
