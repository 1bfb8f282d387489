#!/bin/bash
# speedscope.sh - speedscope files both ways, without a browser:
# pprof -> speedscope -> pprof keeps every sample type's stacks and totals
# (the folded stacks of each compare equal), callgrind too; speedscope's
# own files (its sample files, evented and sampled, and files its web app
# exported) read into the stacks they hold; diffs, negative values and
# fractional weights follow docs/formats/speedscope.md; detection tells
# speedscope files from profkit's JSON; pprof2speedscope writes what
# `profkit convert` writes. tests/cli/speedscope-browser.sh checks the files
# against speedscope's schema and web app.
. "$TOP_SRCDIR/tests/cli/lib.sh"

CALLGRIND="$TOP_SRCDIR/tests/fixtures/callgrind"
SPEEDSCOPE="$TOP_SRCDIR/tests/fixtures/speedscope"

# folded IN INDEX OUT [options]: one sample type of IN as folded stacks.
folded() {
	local in=$1 index=$2 out=$3
	shift 3
	"$PROFKIT" convert "$@" --sample_index="$index" "$in" -o "$out"
}
types() { "$PROFKIT" info "$1" | grep -c '^  [0-9]*: '; }

# same_stacks NAME ORIGINAL SPEEDSCOPE: every sample type's folded stacks.
same_stacks() {
	local name=$1 a=$2 b=$3 n
	n=$(types "$a")
	[ "$(types "$b")" = "$n" ] && pass || fail "$name: $(types "$b") sample types, expected $n"
	for ((i = 0; i < n; i++)); do
		folded "$a" "$i" "$WORK/a.folded" && folded "$b" "$i" "$WORK/b.folded" || {
			fail "$name: cannot write sample type $i"
			continue
		}
		if cmp -s "$WORK/a.folded" "$WORK/b.folded"; then
			pass
		else
			fail "$name, sample type $i: the stacks differ"
			diff "$WORK/a.folded" "$WORK/b.folded" | head -5 >&2
		fi
	done
}

# ---------------------------------------------------------- round trips
for f in "$FIXTURES"/*.pb.gz "$CALLGRIND"/*.callgrind; do
	b=$(basename "$f")
	out="$WORK/${b%%.*}.speedscope.json"
	"$PROFKIT" convert "$f" -o "$out" || { fail "$b: cannot export"; continue; }
	same_stacks "$b" "$f" "$out"
	# Written again from what it reads, and again, the same bytes: a fixed
	# point after one round. Through stdin, so that no file name names them
	# (the first round loses the mappings, and so the binary's name).
	"$PROFKIT" convert - --to speedscope -o "$WORK/again.speedscope.json" <"$out" &&
		"$PROFKIT" convert - --to speedscope -o "$WORK/again2.speedscope.json" <"$WORK/again.speedscope.json" &&
		cmp -s "$WORK/again.speedscope.json" "$WORK/again2.speedscope.json" && pass || fail "$b: not a fixed point"
done

# The default sample type is the profile shown first; the file's name is
# the input's, or the binary's from stdin; the exporter is profkit.
out="$WORK/heap.speedscope.json"
grep -q '^ "activeProfileIndex": 3,$' "$out" && pass || fail "heap: activeProfileIndex is not 3 (inuse_space)"
grep -q '^ "name": "heap.pb.gz",$' "$out" && pass || fail "heap: the name is not heap.pb.gz"
"$PROFKIT" convert - --to speedscope -o - <"$FIXTURES/heap.pb.gz" | grep -q '^ "name": "loadgen",$' && pass ||
	fail "heap from stdin: the name is not loadgen"
grep -q "^ \"exporter\": \"profkit $("$PROFKIT" --version | awk '{print $NF}')\",$" "$out" && pass ||
	fail "heap: the exporter is not profkit VERSION"
grep -q '"name": "inuse_space", "unit": "bytes"' "$out" && pass || fail "heap: inuse_space is not in bytes"
grep -q '"name": "inuse_objects", "unit": "none"' "$out" && pass || fail "heap: counts are not unit none"
grep -q '"name": "cpu", "unit": "nanoseconds"' "$WORK/cpu.speedscope.json" && pass || fail "cpu: not nanoseconds"
"$PROFKIT" info "$out" | grep -q '^  3: inuse_space/bytes .*(default)' && pass ||
	fail "heap: reading back, inuse_space is not the default"
grep -q '{"name": "main.fib", "file": "profkit/fixtures/loadgen/main.go"}' "$WORK/cpu.speedscope.json" &&
	pass || fail "cpu: main.fib has no file"
# Inlined frames are frames: main.mix was inlined into main.hashBlock.
grep -q '"name": "main.mix"' "$WORK/cpu.speedscope.json" && pass || fail "cpu: the inlined main.mix is missing"

# One sample type, and other granularities.
"$PROFKIT" convert --sample_index=alloc_space "$FIXTURES/heap.pb.gz" -o "$WORK/one.speedscope.json"
[ "$(types "$WORK/one.speedscope.json")" = 1 ] && pass || fail "--sample_index: not one profile"
folded "$FIXTURES/heap.pb.gz" alloc_space "$WORK/a.folded" && folded "$WORK/one.speedscope.json" 0 "$WORK/b.folded" &&
	cmp -s "$WORK/a.folded" "$WORK/b.folded" && pass || fail "--sample_index: other stacks"
"$PROFKIT" convert --lines "$FIXTURES/cpu.pb.gz" -o "$WORK/lines.speedscope.json"
grep -q '{"name": "main.fib profkit/fixtures/loadgen/main.go:[0-9]*", "file": "profkit/fixtures/loadgen/main.go", "line": [0-9]*}' \
	"$WORK/lines.speedscope.json" && pass || fail "--lines: frames carry no line"
folded "$FIXTURES/cpu.pb.gz" 1 "$WORK/a.folded" --lines && folded "$WORK/lines.speedscope.json" 1 "$WORK/b.folded" &&
	cmp -s "$WORK/a.folded" "$WORK/b.folded" && pass || fail "--lines: the stacks of frame names differ"

# -------------------------------------------------------- diffs, negatives
# With -base each profile is the growth: the stacks whose value grew, by
# how much (a folded diff's "base new" lines where new > base). Both ways
# round, so that one has stacks that shrank.
for pair in "heap_t1 heap_t2" "heap_t2 heap_t1"; do
	set -- $pair
	"$PROFKIT" convert --base "$FIXTURES/$1.pb.gz" "$FIXTURES/$2.pb.gz" -o "$WORK/growth-$2.speedscope.json" ||
		fail "--base: cannot export"
	"$PROFKIT" convert --base "$FIXTURES/$1.pb.gz" --sample_index=inuse_space "$FIXTURES/$2.pb.gz" -o "$WORK/diff.folded"
	awk '{ d = $NF - $(NF-1); $NF = ""; $(NF-1) = ""; sub(/ +$/, ""); if (d > 0) print $0 " " d }' \
		"$WORK/diff.folded" | LC_ALL=C sort >"$WORK/want.folded"
	folded "$WORK/growth-$2.speedscope.json" 3 "$WORK/b.folded"
	LC_ALL=C sort "$WORK/b.folded" | cmp -s - "$WORK/want.folded" && pass || fail "--base $1 $2: not the growth"
	shrank=$(awk '{ d = $NF - $(NF-1); if (d < 0) s += d } END { print s + 0 }' "$WORK/diff.folded")
	if [ "$shrank" = 0 ]; then
		name="inuse_space (growth over the base)"
	else
		name="inuse_space (growth over the base; stacks that shrank, $shrank bytes in all, are left out)"
	fi
	grep -q "\"name\": \"$name\"" "$WORK/growth-$2.speedscope.json" && pass ||
		fail "--base $1 $2: the name is not '$name'"
done
# Negative values without a base: left out, and the name says so.
printf 'main;grow 5\nmain;shrink -3\n' >"$WORK/neg.folded"
"$PROFKIT" convert "$WORK/neg.folded" -o "$WORK/neg.speedscope.json"
grep -q '"name": "samples (stacks of negative value, -3 in all, are left out)"' "$WORK/neg.speedscope.json" &&
	pass || fail "negative values: the name does not say what was left out"
"$PROFKIT" convert "$WORK/neg.speedscope.json" -o "$WORK/neg2.folded" && [ "$(cat "$WORK/neg2.folded")" = "main;grow 5" ] &&
	pass || fail "negative values: not left out"
# A two-count (base, new) folded file is two sample types: two profiles.
printf 'main;a 1 4\nmain;b 6 2\n' >"$WORK/two.folded"
"$PROFKIT" convert "$WORK/two.folded" -o "$WORK/two.speedscope.json"
"$PROFKIT" convert "$WORK/two.speedscope.json" -o "$WORK/two2.folded" && cmp -s "$WORK/two.folded" "$WORK/two2.folded" &&
	pass || fail "base and new: not two profiles that read back as a diff"

# ------------------------------------------------------ speedscope's files
# speedscope's sample files (sample/profiles/speedscope/, MIT): evented and
# sampled, one profile or two.
printf 'a;b 5\na;b;c 5\na;b;d 4\n' >"$WORK/simple.folded"
for f in "$SPEEDSCOPE"/simple*.speedscope.json "$SPEEDSCOPE"/two-sampled.speedscope.json; do
	"$PROFKIT" convert "$f" -o "$WORK/s.folded" && cmp -s "$WORK/s.folded" "$WORK/simple.folded" && pass ||
		fail "$(basename "$f"): not the stacks of speedscope's simple sample"
done
"$PROFKIT" info "$SPEEDSCOPE/two-sampled.speedscope.json" >"$WORK/info"
grep -q '^  0: one/seconds total 14$' "$WORK/info" && grep -q '^  1: two/seconds total 14 (default)$' "$WORK/info" &&
	pass || fail "two-sampled: not two sample types with two the default"
"$PROFKIT" info "$SPEEDSCOPE/simple-evented.speedscope.json" | grep -q '^  0: simple.txt/count total 14 (default)$' &&
	pass || fail "simple-evented: unit none is not count"
# Files speedscope 1.25.0 itself exported (evented) from profkit's exports
# of the fixtures read back into the fixtures' stacks.
for b in heap mutex; do
	same_stacks "$b exported by speedscope" "$FIXTURES/$b.pb.gz" "$SPEEDSCOPE/$b-by-speedscope.speedscope.json"
done
folded "$SPEEDSCOPE/two-sampled.speedscope.json" 0 "$WORK/a.folded"
folded "$SPEEDSCOPE/two-sampled-by-speedscope.speedscope.json" 0 "$WORK/b.folded"
cmp -s "$WORK/a.folded" "$WORK/b.folded" && pass || fail "two-sampled exported by speedscope: other stacks"

# Fractional weights: time units go finer, others are scaled with a note.
frac() { # UNIT WEIGHTS
	printf '{"$schema": "https://www.speedscope.app/file-format-schema.json", "shared": {"frames": [{"name": "a"}, {"name": "b"}]}, "profiles": [{"type": "sampled", "name": "t", "unit": "%s", "startValue": 0, "endValue": 1, "samples": [[0], [0, 1]], "weights": [%s]}]}' "$1" "$2" >"$WORK/frac.speedscope.json"
	"$PROFKIT" convert "$WORK/frac.speedscope.json" -o "$WORK/frac.folded" && "$PROFKIT" info "$WORK/frac.speedscope.json" >"$WORK/frac.info"
}
frac milliseconds '1.5, 0.25'
[ "$(cat "$WORK/frac.folded")" = "$(printf 'a 1500\na;b 250')" ] && grep -q '^  0: t/microseconds' "$WORK/frac.info" &&
	pass || fail "fractional milliseconds: not microseconds"
frac seconds '1e-10, 2.5e-9'
[ "$(cat "$WORK/frac.folded")" = "$(printf 'a;b 3')" ] && grep -q '^  0: t/nanoseconds' "$WORK/frac.info" &&
	pass || fail "fractional seconds: not rounded nanoseconds"
frac none '0.5, 2'
[ "$(cat "$WORK/frac.folded")" = "$(printf 'a 5\na;b 20')" ] &&
	grep -q 'were fractional; each is multiplied by 10$' "$WORK/frac.info" && pass || fail "fractional counts: not scaled by 10"

# ------------------------------------------------------------- detection
# A speedscope file is found by its "$schema" whatever its name, and
# profkit's own JSON is not taken for one.
cp "$WORK/mutex.speedscope.json" "$WORK/plain.json"
"$PROFKIT" convert "$WORK/plain.json" -o "$WORK/a.folded" && pass || fail "a speedscope file named .json is not read"
"$PROFKIT" convert "$FIXTURES/mutex.pb.gz" -o "$WORK/mutex.json"
cp "$WORK/mutex.json" "$WORK/mutex-json.speedscope.json"
"$PROFKIT" convert "$WORK/mutex-json.speedscope.json" -o "$WORK/m.pb.gz" && pass ||
	fail "profkit JSON named .speedscope.json is not read as JSON"
"$PROFKIT" convert --from speedscope "$WORK/mutex.json" -o "$WORK/m.folded" 2>"$WORK/err" && fail "--from speedscope took profkit JSON" ||
	pass
gzip -c "$WORK/mutex.speedscope.json" >"$WORK/mutex.speedscope.json.gz"
"$PROFKIT" convert "$WORK/mutex.speedscope.json.gz" -o "$WORK/gz.folded" && folded "$FIXTURES/mutex.pb.gz" 1 "$WORK/a.folded" &&
	cmp -s "$WORK/gz.folded" "$WORK/a.folded" && pass || fail "a gzipped speedscope file is not read"

# ------------------------------------------------------- pprof2speedscope
if [ -n "${PPROF2SPEEDSCOPE:-}" ]; then
	"$PPROF2SPEEDSCOPE" "$FIXTURES/heap.pb.gz" >"$WORK/p2s.json" && cmp -s "$WORK/p2s.json" "$WORK/heap.speedscope.json" &&
		pass || fail "pprof2speedscope does not write what profkit convert writes"
	"$PPROF2SPEEDSCOPE" -base "$FIXTURES/heap_t1.pb.gz" "$FIXTURES/heap_t2.pb.gz" -o "$WORK/p2s-growth.json" &&
		cmp -s "$WORK/p2s-growth.json" "$WORK/growth-heap_t2.speedscope.json" && pass || fail "pprof2speedscope -base"
	"$PPROF2SPEEDSCOPE" --help | grep -q speedscope && pass || fail "pprof2speedscope --help"
	"$PPROF2SPEEDSCOPE" 2>/dev/null
	[ $? -eq 2 ] && pass || fail "pprof2speedscope without input: exit code is not 2"
fi
finish
