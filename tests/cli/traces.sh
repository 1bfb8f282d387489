#!/bin/bash
# traces.sh - folded output, for every sample type of every fixture (and of
# every pprof file in ../shared/corpus when it is there), holds the same
# (stack, count) multiset as `go tool pprof -traces` shows, inlined frames
# included; and the granularities name frames as pprof -traces does.
. "$(dirname "$0")/lib.sh"
have_go || { echo "skip: go is not installed"; exit 77; }
command -v python3 >/dev/null || { echo "skip: python3 is not installed"; exit 77; }
to_folded="$TOP_SRCDIR/tests/cli/traces-to-folded.py"

# pprof_traces FILE ARGS...: pprof's traces as sorted folded lines.
pprof_traces() {
	local f=$1
	shift
	TZ=UTC PPROF_BINARY_PATH=/nonexistent go tool pprof -traces "$@" "$f" 2>"$WORK/pprof.err" |
		python3 "$to_folded"
}

# compare FILE INDEX UNIT [PROFKIT-ARGS...]: our folded output for sample
# type INDEX against pprof's, with values in the type's own UNIT.
compare() {
	local f=$1 i=$2 unit=$3 what
	shift 3
	what="$(basename "$f") type $i $*"
	if ! "$PROFKIT" convert "$f" --sample_index="$i" "$@" --to folded -o "$WORK/ours" 2>"$WORK/err"; then
		fail "$what: profkit: $(cat "$WORK/err")"
		return
	fi
	LC_ALL=C sort "$WORK/ours" >"$WORK/ours.sorted"
	local pprof_args=(-sample_index="$i" -unit="$unit")
	for a in "$@"; do pprof_args+=("-${a#--}"); done
	if ! pprof_traces "$f" "${pprof_args[@]}" | LC_ALL=C sort >"$WORK/theirs.sorted"; then
		fail "$what: go tool pprof -traces: $(cat "$WORK/pprof.err")"
		return
	fi
	if [ ! -s "$WORK/theirs.sorted" ] && [ ! -s "$WORK/ours.sorted" ]; then
		pass
	elif cmp -s "$WORK/ours.sorted" "$WORK/theirs.sorted"; then
		pass
	else
		fail "$what: folded differs from -traces"
		diff "$WORK/theirs.sorted" "$WORK/ours.sorted" | head -5 >&2
	fi
}

# every_type FILE [PROFKIT-ARGS...]: compare each sample type of FILE.
every_type() {
	local f=$1
	shift
	if ! "$PROFKIT" info "$f" >"$WORK/info" 2>/dev/null; then
		echo "skip: profkit does not read $f"
		return
	fi
	sed -n 's|^  \([0-9]*\): [^/]*/\([^ ]*\) total.*|\1 \2|p' "$WORK/info" >"$WORK/types"
	while read -r i unit; do
		compare "$f" "$i" "$unit" "$@"
	done <"$WORK/types"
}

for f in "$FIXTURES"/*.pb.gz; do
	every_type "$f"
done
# Line granularity names frames "function file:line", inlined ones too.
every_type "$FIXTURES/cpu.pb.gz" --lines
every_type "$FIXTURES/heap.pb.gz" --lines
every_type "$FIXTURES/pipeline_cpu.pb.gz" --files
every_type "$FIXTURES/pipeline_heap.pb.gz" --filefunctions

corpus="$TOP_SRCDIR/../shared/corpus"
if [ -d "$corpus" ]; then
	# Every profile there that pprof's -traces was run on.
	while read -r traces; do
		f=${traces%.expected/traces.txt}
		for candidate in "$f.pb.gz" "$f"; do
			[ -f "$candidate" ] && { every_type "$candidate"; break; }
		done
	done < <(find "$corpus" -path '*.expected/traces.txt' | LC_ALL=C sort)
else
	echo "note: $corpus is not there; only the fixtures were compared"
fi
finish
