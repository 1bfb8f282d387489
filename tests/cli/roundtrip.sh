#!/usr/bin/env bash
# Round trips judged by the real tool: for every fixture, `go tool pprof
# -raw` of our pprof output (gzipped and plain) and of pprof -> JSON -> pprof
# equals `go tool pprof -raw` of the original.
. "$TOP_SRCDIR/tests/cli/lib.sh"
have_go || { echo "SKIP: go (Debian golang-go) is not installed"; exit 77; }

inputs=("$FIXTURES"/*.pb.gz)
# The shared corpus of real profiles, when it is beside the checkout.
for extra in "$TOP_SRCDIR"/../shared/corpus/go/*/*.pb.gz; do
	[ -e "$extra" ] && inputs+=("$extra")
done

for f in "${inputs[@]}"; do
	name=$(basename "$f" .pb.gz)
	pprof_raw "$f" >"$WORK/want.txt" || { fail "$name: go tool pprof cannot read the original"; continue; }
	check "$name: to .pb.gz" "$PROFKIT" convert "$f" -o "$WORK/$name.pb.gz"
	check "$name: to .pb" "$PROFKIT" convert "$f" -o "$WORK/$name.pb"
	check "$name: to .json" "$PROFKIT" convert "$f" -o "$WORK/$name.json"
	check "$name: json to pprof" "$PROFKIT" convert "$WORK/$name.json" -o "$WORK/$name.json.pb.gz"
	for out in "$name.pb.gz" "$name.pb" "$name.json.pb.gz"; do
		pprof_raw "$WORK/$out" >"$WORK/got.txt"
		if cmp -s "$WORK/want.txt" "$WORK/got.txt"; then pass; else
			fail "$name: go tool pprof -raw differs for $out"
			diff "$WORK/want.txt" "$WORK/got.txt" | head -5 >&2
		fi
	done
	# .pb is plain protobuf, .pb.gz gzip.
	[ "$(head -c 2 "$WORK/$name.pb.gz" | od -An -tx1 | tr -d ' ')" = 1f8b ] && pass || fail "$name: .pb.gz is not gzip"
	[ "$(head -c 2 "$WORK/$name.pb" | od -An -tx1 | tr -d ' ')" != 1f8b ] && pass || fail "$name: .pb is gzipped"
	# JSON -> JSON is byte-identical: the JSON form loses nothing.
	check "$name: json to json" "$PROFKIT" convert "$WORK/$name.json" -o "$WORK/$name.2.json"
	check "$name: json is stable" cmp -s "$WORK/$name.json" "$WORK/$name.2.json"
done
finish
