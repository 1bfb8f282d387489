#!/usr/bin/env bash
# Broken inputs: each must fail with exit 1, exactly one line on stderr
# naming the file and the byte offset, or the line and column in a text
# format (tests/data/broken/*/error holds that line), no output file, and
# an existing output left untouched.
. "$TOP_SRCDIR/tests/cli/lib.sh"

expect_error() { # NAME INPUT EXPECTED-LINE
	local name=$1 input=$2 expected=$3 out="$WORK/out-$1.pb.gz"
	"$PROFKIT" convert "$input" -o "$out" >"$WORK/stdout" 2>"$WORK/stderr"
	local rc=$?
	[ $rc -eq 1 ] && pass || fail "$name: exit code $rc, expected 1"
	[ "$(wc -l <"$WORK/stderr")" -eq 1 ] && pass || fail "$name: stderr is not one line: $(cat "$WORK/stderr")"
	[ "$(cat "$WORK/stderr")" = "$expected" ] && pass ||
		fail "$name: got '$(cat "$WORK/stderr")', expected '$expected'"
	[ ! -s "$WORK/stdout" ] && pass || fail "$name: wrote to stdout"
	[ ! -e "$out" ] && pass || fail "$name: left an output file"
	# An existing output must survive, and no temporary file stay behind.
	echo "precious" >"$out"
	"$PROFKIT" convert "$input" -o "$out" 2>/dev/null
	[ "$(cat "$out")" = "precious" ] && pass || fail "$name: an existing output was changed"
	rm -f "$out"
	[ -z "$(ls "$WORK" | grep '\.tmp')" ] && pass || fail "$name: left a temporary file: $(ls "$WORK")"
}

for dir in "$TOP_SRCDIR"/tests/data/broken/*/; do
	case=$(basename "$dir")
	input="$dir/input"
	input=${input//\/\//\/}
	# "byte N: message" follows "FILE: "; "LINE:COLUMN: message" follows "FILE:".
	error=$(cat "$dir/error")
	case $error in
	[0-9]*:[0-9]*:*) expect_error "$case" "$input" "profkit convert: $input:$error" ;;
	*) expect_error "$case" "$input" "profkit convert: $input: $error" ;;
	esac
	# pprof itself must refuse these too, or they are not broken.
	if have_go; then
		if pprof_raw "$input" >/dev/null; then fail "$case: go tool pprof accepts it"; else pass; fi
	fi
done

mkdir "$WORK/a-directory"
expect_error directory "$WORK/a-directory" \
	"profkit convert: $WORK/a-directory: byte 0: cannot read: it is a directory"
expect_error missing "$WORK/no-such.pb.gz" \
	"profkit convert: $WORK/no-such.pb.gz: byte 0: cannot open: No such file or directory"

# A megabyte of gzipped zeros is no profile, and says so at once.
head -c 1000000 /dev/zero | gzip -c >"$WORK/zeros.gz"
expect_error zeros "$WORK/zeros.gz" \
	"profkit convert: $WORK/zeros.gz: byte 0: not a profile in any format profkit reads (speedscope, json, callgrind, folded, pprof) after gunzip"

# Endless or huge streams that no format can read are refused after their
# first megabyte, not read up to the 2 GiB limit.
streamed() { # NAME EXPECTED-MESSAGE COMMAND...
	local name=$1 expected=$2
	shift 2
	"$@" 2>"$WORK/stderr" >/dev/null
	local rc=$?
	[ $rc -eq 1 ] && [ "$(cat "$WORK/stderr")" = "$expected" ] && pass ||
		fail "$name: exit $rc, $(cat "$WORK/stderr")"
}
streamed "/dev/zero on stdin" \
	"profkit info: -: byte 0: not a profile in any format profkit reads (speedscope, json, callgrind, folded, pprof)" \
	timeout 20 "$PROFKIT" info - </dev/zero
# A valid first field, then bytes no profile has (wire type 3).
(printf '\012\004\010\001\020\002' && head -c 2000000 /dev/zero | tr '\0' '\033') >"$WORK/bad-tail.pb"
streamed "a pipe of 2 MB whose second field is bad" \
	"profkit info: -: byte 0: not a profile in any format profkit reads (speedscope, json, callgrind, folded, pprof)" \
	sh -c "cat '$WORK/bad-tail.pb' | timeout 20 '$PROFKIT' info -"
# The same bytes from a file are read whole, and the error is precise.
streamed "a file of 2 MB whose second field is bad" \
	"profkit info: $WORK/bad-tail.pb: byte 6: malformed protobuf: unsupported wire type 3 in field 3" \
	"$PROFKIT" info "$WORK/bad-tail.pb"
# A gzip bomb of zeros stops after its first gunzipped megabyte.
head -c 200000000 /dev/zero | gzip -1 -c >"$WORK/bomb.gz"
streamed "gzip bomb through a pipe" \
	"profkit info: -: byte 0: not a profile in any format profkit reads (speedscope, json, callgrind, folded, pprof) after gunzip" \
	sh -c "cat '$WORK/bomb.gz' '$WORK/bomb.gz' '$WORK/bomb.gz' '$WORK/bomb.gz' | timeout 20 '$PROFKIT' info -"
streamed "gzip bomb" \
	"profkit info: $WORK/bomb.gz: byte 0: not a profile in any format profkit reads (speedscope, json, callgrind, folded, pprof) after gunzip" \
	timeout 20 "$PROFKIT" info "$WORK/bomb.gz"

finish
