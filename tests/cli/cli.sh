#!/usr/bin/env bash
# The profkit command line: help and version, info, stdin and stdout,
# format choice, usage errors.
. "$TOP_SRCDIR/tests/cli/lib.sh"

# --help and --version work on the tool and on every subcommand.
for args in "" "convert" "info"; do
	out=$("$PROFKIT" $args --help) && pass || fail "'profkit $args --help' failed"
	echo "$out" | grep -q '^Usage: profkit' && pass || fail "'profkit $args --help' prints no usage"
	"$PROFKIT" $args --version | grep -q '^profkit.* [0-9]*\.[0-9]*\.[0-9]*$' && pass ||
		fail "'profkit $args --version'"
done
"$PROFKIT" convert --help | grep -q -- '--from FORMAT' && pass || fail "convert --help lists --from"
# ... and fail when stdout cannot be written, rather than exit 0 with nothing.
if [ -w /dev/full ]; then
	for args in "" "convert" "info"; do
		for opt in --help --version; do
			"$PROFKIT" $args $opt >/dev/full 2>"$WORK/stderr"
			rc=$?
			[ $rc -eq 1 ] && [ "$(wc -l <"$WORK/stderr")" -eq 1 ] &&
				grep -q "^profkit${args:+ $args}: cannot write to standard output: " "$WORK/stderr" &&
				pass || fail "'profkit $args $opt >/dev/full': exit $rc, stderr: $(cat "$WORK/stderr")"
		done
	done
fi

# Usage errors exit 2 with one line.
usage_error() { # DESCRIPTION ARGS...
	local what=$1
	shift
	"$PROFKIT" "$@" >/dev/null 2>"$WORK/stderr"
	local rc=$?
	[ $rc -eq 2 ] && [ "$(wc -l <"$WORK/stderr")" -eq 1 ] && pass ||
		fail "$what: exit $rc, stderr: $(cat "$WORK/stderr")"
}
usage_error "no command"
usage_error "unknown command" frobnicate
usage_error "unknown option" convert --frobnicate "$FIXTURES/heap.pb.gz" -o "$WORK/x.pb.gz"
usage_error "no -o" convert "$FIXTURES/heap.pb.gz"
usage_error "no input" convert -o "$WORK/x.pb.gz"
usage_error "unknown extension" convert "$FIXTURES/heap.pb.gz" -o "$WORK/x.unknown"
usage_error "stdout without --to" convert "$FIXTURES/heap.pb.gz" -o -
usage_error "unknown --to" convert "$FIXTURES/heap.pb.gz" -o "$WORK/x" --to nosuch
usage_error "unknown --from" info "$FIXTURES/heap.pb.gz" --from nosuch
usage_error "--plain and --gzip" convert "$FIXTURES/heap.pb.gz" -o "$WORK/x.pb" --plain --gzip
[ ! -e "$WORK/x.unknown" ] && [ ! -e "$WORK/x" ] && pass || fail "a usage error wrote output"
# argv quoted in an error is one line without control characters: '?' stands for them.
no_controls() { ! LC_ALL=C grep -q '[[:cntrl:]]' "$WORK/stderr"; }
usage_error "unknown option with a newline" convert --$'fro\nbnicate' "$FIXTURES/heap.pb.gz" -o "$WORK/x.pb.gz"
no_controls && grep -q "unknown option '--fro?bnicate'" "$WORK/stderr" && pass ||
	fail "newline in an option: $(cat "$WORK/stderr")"
usage_error "unknown command with ESC" $'frob\e[2Jnicate'
no_controls && grep -q "unknown command 'frob?\[2Jnicate'" "$WORK/stderr" && pass ||
	fail "ESC in a command: $(cat "$WORK/stderr")"
usage_error "unknown --to with ESC" convert "$FIXTURES/heap.pb.gz" -o "$WORK/x" --to $'\e[31mred'
no_controls && pass || fail "ESC in --to: $(cat "$WORK/stderr")"
usage_error "unknown extension with a newline" convert "$FIXTURES/heap.pb.gz" -o "$WORK/x"$'\n.y'
no_controls && pass || fail "newline in -o: $(cat "$WORK/stderr")"

# A short option's value may be attached: -oOUT, as getopt reads it.
"$PROFKIT" convert "$FIXTURES/heap.pb.gz" -o"$WORK/attached.json" && [ -s "$WORK/attached.json" ] &&
	pass || fail "-oOUT"
"$PROFKIT" convert "$FIXTURES/heap.pb.gz" -o="$WORK/attached-eq.json" && [ -s "$WORK/attached-eq.json" ] &&
	pass || fail "-o=OUT"

# info: the totals of each sample type are the sums go tool pprof -raw shows.
for f in "$FIXTURES"/*.pb.gz; do
	name=$(basename "$f")
	"$PROFKIT" info "$f" >"$WORK/info.txt" || { fail "info $name"; continue; }
	grep -q "^Samples: [0-9]" "$WORK/info.txt" && grep -q "^Locations: [0-9]" "$WORK/info.txt" &&
		grep -q "^Time: 20" "$WORK/info.txt" && pass || fail "info $name lacks a field: $(cat "$WORK/info.txt")"
	have_go || continue
	pprof_raw "$f" >"$WORK/raw.txt"
	# -raw prints one line per sample: its values, the last with a colon,
	# then location ids. (Sample counts are not compared: pprof merges
	# samples with equal stacks and drops all-zero ones as it loads.)
	want=$(awk '/^Samples:/ {on=1; getline; n=NF; next} /^Locations/ {on=0}
		on && $n ~ /^-?[0-9]+:$/ {for (i = 1; i <= n; i++) { v=$i; sub(":", "", v); t[i] += v }}
		END {for (i = 1; i <= n; i++) printf "%.0f ", t[i]}' "$WORK/raw.txt")
	got=$(awk '/^  [0-9]+: / {printf "%s ", $4}' "$WORK/info.txt")
	[ "$want" = "$got" ] && pass || fail "info $name: totals '$got', go tool pprof says '$want'"
done
"$PROFKIT" info "$FIXTURES/heap.pb.gz" | grep -q '^  3: inuse_space/bytes total [0-9]* (default)$' && pass ||
	fail "info heap: inuse_space is the default"
"$PROFKIT" info "$FIXTURES/allocs.pb.gz" | grep -q '^  1: alloc_space/bytes total [0-9]* (default)$' && pass ||
	fail "info allocs: alloc_space is the default"
"$PROFKIT" info "$FIXTURES/cpu.pb.gz" | grep -q '^Duration: [0-9.]*s$' && pass || fail "info cpu: duration"
"$PROFKIT" info "$FIXTURES/cpu.pb.gz" | grep -q '^Period: [0-9]* cpu/nanoseconds$' && pass || fail "info cpu: period"

# Totals are exact or say they do not fit int64 (no wrapped-around number),
# even when a partial sum leaves int64 and comes back. A period without a
# type prints no "type/unit".
cat >"$WORK/big.json" <<'JSON'
{"format": "profkit-profile", "version": 1, "period": 10,
 "sample_types": [{"type": "a", "unit": "n"}, {"type": "b", "unit": "n"}, {"type": "c", "unit": "n"}],
 "samples": [
  {"locations": [], "values": [9223372036854775807, 9223372036854775807, -9223372036854775807]},
  {"locations": [], "values": [9223372036854775807, 1, -9223372036854775807]},
  {"locations": [], "values": [0, -2, 0]}]}
JSON
"$PROFKIT" info "$WORK/big.json" >"$WORK/info.txt" 2>"$WORK/stderr" && pass || fail "info big.json: $(cat "$WORK/stderr")"
grep -qx '  0: a/n total overflows int64' "$WORK/info.txt" && pass ||
	fail "info: a total above int64: $(cat "$WORK/info.txt")"
grep -qx '  1: b/n total 9223372036854775806' "$WORK/info.txt" && pass ||
	fail "info: a total back in int64: $(cat "$WORK/info.txt")"
grep -qx '  2: c/n total overflows int64 (default)' "$WORK/info.txt" && pass ||
	fail "info: a total below int64: $(cat "$WORK/info.txt")"
grep -qx 'Period: 10' "$WORK/info.txt" && pass || fail "info: a period without a type: $(cat "$WORK/info.txt")"

# A file name with a newline or ESC, and an ESC in the input, reach stderr
# as '?': one line that cannot drive the terminal.
evil="$WORK/evil"$'\n'"file"$'\e'"[2J.pb"
printf 'not a profile' >"$evil"
"$PROFKIT" info "$evil" >/dev/null 2>"$WORK/stderr"
rc=$?
[ $rc -eq 1 ] && [ "$(wc -l <"$WORK/stderr")" -eq 1 ] && no_controls &&
	grep -q "^profkit info: $WORK/evil?file?\[2J.pb: byte 0: not a profile" "$WORK/stderr" &&
	pass || fail "control characters in a file name: exit $rc, stderr: $(cat "$WORK/stderr")"
printf '{"format": "profkit-profile", "version": 1, "\\u001b[2J\\nkey": 1}' >"$WORK/esc.json"
"$PROFKIT" info "$WORK/esc.json" >/dev/null 2>"$WORK/stderr"
rc=$?
[ $rc -eq 1 ] && [ "$(wc -l <"$WORK/stderr")" -eq 1 ] && no_controls && grep -q '?\[2J?key' "$WORK/stderr" &&
	pass || fail "ESC in a JSON key: exit $rc, stderr: $(cat "$WORK/stderr")"

# stdin and stdout.
"$PROFKIT" convert - -o - --to json <"$FIXTURES/heap.pb.gz" >"$WORK/stdio.json" && pass || fail "stdin to stdout"
"$PROFKIT" convert "$FIXTURES/heap.pb.gz" -o "$WORK/file.json" && pass || fail "file to file"
cmp -s "$WORK/stdio.json" "$WORK/file.json" && pass || fail "stdin/stdout output differs from file output"
"$PROFKIT" info - <"$WORK/file.json" | grep -q '^File: -$' && pass || fail "info reads stdin"
"$PROFKIT" convert - -o - --to pprof <"$WORK/file.json" | head -c 2 | od -An -tx1 | grep -q '1f 8b' &&
	pass || fail "pprof to stdout is gzipped"
"$PROFKIT" convert - -o - --to pprof --plain <"$WORK/file.json" | head -c 2 | od -An -tx1 | grep -vq '1f 8b' &&
	pass || fail "--plain pprof to stdout is not gzipped"

# Formats: detected from bytes whatever the name; forced with --from/--to.
cp "$WORK/file.json" "$WORK/looks-like.pb.gz"
"$PROFKIT" convert "$WORK/looks-like.pb.gz" -o "$WORK/from-json.pb.gz" && pass || fail "detect json in a .pb.gz name"
"$PROFKIT" convert "$FIXTURES/heap.pb.gz" -o "$WORK/x.out" --to json && head -c 1 "$WORK/x.out" | grep -q '{' &&
	pass || fail "--to json"
"$PROFKIT" convert "$FIXTURES/heap.pb.gz" -o "$WORK/x.json.gz" && head -c 2 "$WORK/x.json.gz" | od -An -tx1 | grep -q '1f 8b' &&
	pass || fail ".json.gz is gzipped json"
"$PROFKIT" info "$WORK/x.json.gz" >/dev/null && pass || fail "gzipped json reads back"
"$PROFKIT" info "$FIXTURES/heap.pb.gz" --from json >/dev/null 2>"$WORK/stderr"
[ $? -eq 1 ] && grep -q 'heap.pb.gz:' "$WORK/stderr" && pass || fail "--from json on pprof input: $(cat "$WORK/stderr")"

# JSON with a UTF-8 byte order mark reads, and columns do not count it.
{ printf '\357\273\277' && cat "$WORK/file.json"; } >"$WORK/bom.json"
"$PROFKIT" convert "$WORK/bom.json" -o "$WORK/bom.json.pb" && pass || fail "JSON with a BOM"
printf '\357\273\277{"format": "profkit-profile", "version": 1, x}' >"$WORK/bom-bad.json"
"$PROFKIT" info "$WORK/bom-bad.json" 2>&1 | grep -q "bom-bad.json:1:45: " && pass || fail "BOM column"

# Extensions match in any case.
"$PROFKIT" convert "$FIXTURES/mutex.pb.gz" -o "$WORK/UPPER.JSON" && head -c 1 "$WORK/UPPER.JSON" | grep -q '{' &&
	pass || fail "an upper-case .JSON"
"$PROFKIT" convert "$WORK/UPPER.JSON" -o "$WORK/UPPER.PB.GZ" && head -c 2 "$WORK/UPPER.PB.GZ" | od -An -tx1 | grep -q '1f 8b' &&
	pass || fail "an upper-case .PB.GZ"

# Writing into a missing folder fails cleanly.
"$PROFKIT" convert "$FIXTURES/heap.pb.gz" -o "$WORK/no/such/dir/x.pb.gz" 2>"$WORK/stderr"
[ $? -eq 1 ] && grep -qx "profkit convert: $WORK/no/such/dir/x.pb.gz: cannot create the output: .*" "$WORK/stderr" &&
	pass || fail "missing output folder: $(cat "$WORK/stderr")"
# Overwriting the input in place works: it is read whole first.
cp "$FIXTURES/heap.pb.gz" "$WORK/inplace.pb.gz"
"$PROFKIT" convert "$WORK/inplace.pb.gz" -o "$WORK/inplace.pb.gz" && "$PROFKIT" info "$WORK/inplace.pb.gz" >/dev/null &&
	pass || fail "convert in place"
finish
