#!/bin/bash
# callgrind-export.sh - pprof to callgrind, checked against the real tools:
# for every sample type of every fixture (and of every pprof file in
# ../shared/corpus when it is there), callgrind_annotate reads the export
# without a warning, its self cost per function is `go tool pprof -text`'s
# flat, its PROGRAM TOTALS pprof's total, and its inclusive cost pprof's cum
# for the functions where callgrind_annotate can know it (see
# callgrind-compare.py). A sample type some of whose stacks are negative
# (Go's delta profiles) is written without them: its PROGRAM TOTALS is the
# sum of the positive stacks, and a comment gives the rest. Also: the
# export is deterministic, every sample type is an event, --addresses
# gives instruction positions, inlined code from another file is marked
# fi=, and a base (the leak workflow) writes the growth of every type.
. "$(dirname "$0")/lib.sh"
command -v callgrind_annotate >/dev/null || {
	echo "skip: callgrind_annotate (valgrind) is not installed"
	exit 77
}
command -v python3 >/dev/null || { echo "skip: python3 is not installed"; exit 77; }
compare_py="$TOP_SRCDIR/tests/cli/callgrind-compare.py"

# annotate FILE OUT [ARGS...]: callgrind_annotate, run in $WORK (it strips
# the working directory from file names), which must print no warning.
annotate() {
	local f=$1 out=$2
	shift 2
	(cd "$WORK" && callgrind_annotate --auto=no --threshold=100 "$@" "$f") >"$out" 2>"$WORK/annotate.err" &&
		[ ! -s "$WORK/annotate.err" ]
}

# export FILE OUT [PROFKIT-ARGS...]
export_cg() {
	local f=$1 out=$2
	shift 2
	"$PROFKIT" convert "$f" "$@" --to callgrind -o "$out" 2>"$WORK/err"
}

# costly_rows OUT: callgrind_annotate's totals and functions, but those
# of no cost, with single spaces.
costly_rows() {
	sed -n '/PROGRAM TOTALS/,$p' "$1" | awk '$1 != "0" && $1 != "." { $1 = $1; print }'
}

# events FILE: the names of the events: line.
events() { sed -n 's/^events: //p' "$1"; }

# check_dropped WHAT EXPORT EVENT COUNTS [PROFKIT-ARGS...]: callgrind_annotate
# reads event EVENT of EXPORT, whose PROGRAM TOTALS is the sum of the
# positive stacks of the folded output (at --lines, with COUNTS counts a
# line) of the profkit arguments, and whose comment gives the negative.
check_dropped() {
	local what=$1 cg=$2 event=$3 counts=$4
	shift 4
	if ! annotate "$cg" "$WORK/dropped.out" --show="$event" --sort="$event"; then
		fail "$what: callgrind_annotate: $(head -3 "$WORK/annotate.err")"
		return
	fi
	if ! "$PROFKIT" convert "$@" --lines --to folded -o "$WORK/dropped.folded" 2>"$WORK/err"; then
		fail "$what: profkit folded: $(cat "$WORK/err")"
		return
	fi
	if python3 "$compare_py" --dropped "$event" "$counts" "$cg" "$WORK/dropped.out" \
		"$WORK/dropped.folded" >"$WORK/compare.out" 2>"$WORK/compare.err"; then
		pass
	else
		fail "$what: the negative stacks are not left out"
		cat "$WORK/compare.err" >&2
	fi
}

# check_type FILE INDEX UNIT EVENT: event EVENT (sample type INDEX) of
# $WORK/all.callgrind, and the export of that type alone, against pprof;
# a type with negative stacks against the rule that leaves them out.
check_type() {
	local f=$1 i=$2 unit=$3 event=$4 what
	what="$(basename "$f") type $i ($event)"
	if ! export_cg "$f" "$WORK/one.callgrind" --sample_index="$i"; then
		fail "$what: profkit: $(cat "$WORK/err")"
		return
	fi
	if [ "$(events "$WORK/one.callgrind")" != "$event" ]; then
		fail "$what: --sample_index=$i gives events: $(events "$WORK/one.callgrind")"
		return
	fi
	if ! annotate "$WORK/one.callgrind" "$WORK/self" ||
		! annotate "$WORK/one.callgrind" "$WORK/incl" --inclusive=yes; then
		fail "$what: callgrind_annotate: $(head -3 "$WORK/annotate.err")"
		return
	fi
	# Every event of the whole export reads as the export of that one
	# (where the whole export was written), but for functions of no cost.
	if [ -s "$WORK/all.callgrind" ]; then
		if ! annotate "$WORK/all.callgrind" "$WORK/all-self" --show="$event" --sort="$event"; then
			fail "$what: callgrind_annotate: $(head -3 "$WORK/annotate.err")"
			return
		fi
		if cmp -s <(costly_rows "$WORK/self") <(costly_rows "$WORK/all-self"); then pass; else
			fail "$what: event $event of the full export differs from the export of that type"
		fi
	fi
	if ! "$PROFKIT" convert "$f" --sample_index="$i" --to folded -o "$WORK/folded" 2>"$WORK/err"; then
		fail "$what: profkit folded: $(cat "$WORK/err")"
		return
	fi
	if grep -q ' -[0-9]*$' "$WORK/folded"; then
		# pprof shows net values; callgrind leaves the negative out.
		check_dropped "$what" "$WORK/one.callgrind" "$event" 1 "$f" --sample_index="$i"
		dropped=$((dropped + 1))
		return
	fi
	have_go || return
	if ! TZ=UTC PPROF_BINARY_PATH=/nonexistent go tool pprof -text -nodefraction=0 \
		-edgefraction=0 -nodecount=100000 -sample_index="$i" -unit="$unit" "$f" \
		>"$WORK/text" 2>"$WORK/pprof.err"; then
		fail "$what: go tool pprof -text: $(cat "$WORK/pprof.err")"
		return
	fi
	if python3 "$compare_py" "$WORK/one.callgrind" "$WORK/self" "$WORK/incl" "$WORK/text" \
		"$WORK/folded" >"$WORK/compare.out" 2>"$WORK/compare.err"; then
		pass
		compared=$((compared + 1))
	else
		fail "$what: callgrind_annotate and go tool pprof differ"
		cat "$WORK/compare.err" >&2
	fi
}

# every_type FILE: export all sample types, then check each.
every_type() {
	local f=$1
	if ! "$PROFKIT" info "$f" >"$WORK/info" 2>/dev/null; then
		echo "skip: profkit does not read $f"
		return
	fi
	sed -n 's|^  \([0-9]*\): \([^/]*\)/\([^ ]*\) total.*|\1 \3 \2|p' "$WORK/info" >"$WORK/types"
	rm -f "$WORK/all.callgrind"
	if ! export_cg "$f" "$WORK/all.callgrind"; then
		fail "$(basename "$f"): profkit: $(cat "$WORK/err")"
		return
	fi
	if export_cg "$f" "$WORK/again.callgrind" &&
		cmp -s "$WORK/all.callgrind" "$WORK/again.callgrind"; then
		pass
	else
		fail "$(basename "$f"): two exports differ"
	fi
	local names
	read -r -a names <<<"$(events "$WORK/all.callgrind")"
	if [ "${#names[@]}" -ne "$(wc -l <"$WORK/types")" ]; then
		fail "$(basename "$f"): events: has ${#names[@]} names for $(wc -l <"$WORK/types") sample types"
		return
	fi
	while read -r i unit type; do
		check_type "$f" "$i" "$unit" "$type"
	done <"$WORK/types"
}

compared=0 dropped=0
for f in "$FIXTURES"/*.pb.gz; do
	every_type "$f"
done
corpus="$TOP_SRCDIR/../shared/corpus"
if [ -d "$corpus" ]; then
	while read -r f; do
		every_type "$f"
	done < <(find "$corpus" -name '*.pb.gz' | LC_ALL=C sort)
else
	echo "note: $corpus is not there; only the fixtures were compared"
fi
have_go || echo "note: go is not installed; pprof's values were not compared"

# The header, as both readers need it: events: last, one event: line per
# sample type, the main binary as cmd:.
f="$FIXTURES/heap.pb.gz"
if export_cg "$f" "$WORK/heap.callgrind"; then
	sed -n '1,/^events:/p' "$WORK/heap.callgrind" >"$WORK/header"
	cat >"$WORK/header.want" <<EOF
# callgrind format
version: 1
creator: profkit $("$PROFKIT" --version | sed 's/^profkit //')
cmd: $(sed -n 's/^cmd: //p' "$WORK/heap.callgrind")
positions: line
event: alloc_objects : alloc_objects (count)
event: alloc_space : alloc_space (bytes)
event: inuse_objects : inuse_objects (count)
event: inuse_space : inuse_space (bytes)
events: alloc_objects alloc_space inuse_objects inuse_space
EOF
	if diff "$WORK/header.want" "$WORK/header" >&2 && grep -q '^cmd: /' "$WORK/header"; then
		pass
	else
		fail "heap.pb.gz: header"
	fi
	grep -q '^totals: [0-9]* [0-9]* [0-9]* [0-9]*$' "$WORK/heap.callgrind" && pass ||
		fail "heap.pb.gz: no totals: line of four costs"
else
	fail "heap.pb.gz: profkit: $(cat "$WORK/err")"
fi

# --addresses: instruction and line positions; the self costs stay.
f="$FIXTURES/cpu.pb.gz"
if export_cg "$f" "$WORK/addr.callgrind" --addresses && export_cg "$f" "$WORK/lines.callgrind"; then
	grep -qx 'positions: instr line' "$WORK/addr.callgrind" && pass || fail "--addresses: positions"
	grep -q '^0x[0-9a-f]* [0-9]* ' "$WORK/addr.callgrind" && pass || fail "--addresses: no address"
	if annotate "$WORK/addr.callgrind" "$WORK/addr.out" && annotate "$WORK/lines.callgrind" "$WORK/lines.out"; then
		sed -n '/PROGRAM TOTALS/,$p' "$WORK/addr.out" >"$WORK/addr.tail"
		sed -n '/PROGRAM TOTALS/,$p' "$WORK/lines.out" >"$WORK/lines.tail"
		cmp -s "$WORK/addr.tail" "$WORK/lines.tail" && pass ||
			fail "--addresses: callgrind_annotate's functions differ from the line export"
	else
		fail "--addresses: callgrind_annotate: $(head -3 "$WORK/annotate.err")"
	fi
else
	fail "--addresses: profkit: $(cat "$WORK/err")"
fi

# Inlined code from another file: Go inlines sync.(*Mutex).Lock
# (sync/mutex.go) into main.(*registry).flush (main.go). Its block is in
# main.go, its lines after fi= in mutex.go; callgrind_annotate keys them
# "sync/mutex.go:sync.(*Mutex).Lock", as the function's own block.
# fi_blocks FILE: "FL|FN|FI" for each fi= line: the block's file, function
# and the file of its lines, names uncompressed.
fi_blocks() {
	awk '
	function name(kind, v) {
		if (!match(v, /^\([0-9]+\)/))
			return v
		id = substr(v, 2, RLENGTH - 2)
		if (RLENGTH < length(v))
			names[kind, id] = substr(v, RLENGTH + 2)
		return names[kind, id]
	}
	/^c?f[lie]=/ {
		n = name("file", substr($0, index($0, "=") + 1))
		if (/^fl=/) fl = n
		if (/^fi=/) print fl "|" fn "|" n
	}
	/^c?fn=/ {
		n = name("fn", substr($0, index($0, "=") + 1))
		if (/^fn=/) fn = n
	}' "$1"
}
f="$FIXTURES/block.pb.gz"
if export_cg "$f" "$WORK/block.callgrind"; then
	fi_blocks "$WORK/block.callgrind" >"$WORK/fi-blocks"
	if grep -qxF 'profkit/fixtures/loadgen/main.go|sync.(*Mutex).Lock|sync/mutex.go' "$WORK/fi-blocks"; then
		pass
	else
		fail "block.pb.gz: sync.(*Mutex).Lock is not fl=main.go, fi=sync/mutex.go"
		cat "$WORK/fi-blocks" >&2
	fi
	if annotate "$WORK/block.callgrind" "$WORK/block.out" &&
		grep -q '^ *[1-9][0-9,]* .* sync/mutex\.go:sync\.(\*Mutex)\.Lock$' "$WORK/block.out"; then
		pass
	else
		fail "block.pb.gz: callgrind_annotate does not show sync/mutex.go:sync.(*Mutex).Lock"
	fi
else
	fail "block.pb.gz: profkit: $(cat "$WORK/err")"
fi
# Every fixture's export has some, and none whose file is the block's.
for f in "$FIXTURES"/*.pb.gz; do
	if export_cg "$f" "$WORK/fi.callgrind" && fi_blocks "$WORK/fi.callgrind" >"$WORK/fi-blocks" &&
		[ -s "$WORK/fi-blocks" ] && ! awk -F'|' '$1 == $3' "$WORK/fi-blocks" | grep -q .; then
		pass
	else
		fail "$(basename "$f"): no fi= line, or one that repeats fl="
	fi
done

# A base, the leak workflow: every event is the growth, the stacks that
# grew; those that shrank are left out, and a comment says how much.
# Both ways round, so that both have something to leave out.
t1="$FIXTURES/heap_t1.pb.gz" t2="$FIXTURES/heap_t2.pb.gz"
for pair in "$t1 $t2" "$t2 $t1"; do
	read -r old new <<<"$pair"
	what="--base $(basename "$old") $(basename "$new")"
	if ! export_cg "$new" "$WORK/diff.callgrind" --base="$old"; then
		fail "$what: profkit: $(cat "$WORK/err")"
		continue
	fi
	for event in $(events "$WORK/diff.callgrind"); do
		check_dropped "$what $event" "$WORK/diff.callgrind" "$event" 2 "$new" --base="$old" \
			--sample_index="$event"
	done
done
grep -q '^# profkit: stacks whose inuse_space fell are left out (-[0-9]* bytes in all)$' \
	"$WORK/diff.callgrind" && pass || fail "--base: no comment on what was left out"
echo "$compared sample types compared with go tool pprof; $dropped with negative stacks left out"
finish
