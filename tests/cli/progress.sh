#!/bin/bash
# progress.sh - the progress bar: on a terminal (a pseudo-terminal here) a
# run of over a second draws it on stderr and clears it at the end;
# --quiet hides it; with stderr not a terminal nothing extra is printed.
. "$TOP_SRCDIR/tests/cli/lib.sh"

GENPROFILE="$TOP_BUILDDIR/bench/genprofile"
command -v python3 >/dev/null 2>&1 || { echo "python3 is needed for a pseudo-terminal"; exit 77; }
[ -x "$GENPROFILE" ] || { echo "bench/genprofile is not built"; exit 77; }

# A medium profile, big enough that reading and writing it take a while.
"$GENPROFILE" --size medium -o "$WORK/in.pb.gz" || { fail "genprofile"; finish; }

# on_pty OUT COMMAND...: run COMMAND with stderr on a pseudo-terminal
# (stdout to /dev/null), what it printed there into OUT.
on_pty() {
	local out=$1
	shift
	python3 - "$out" "$@" <<'PY'
import os, pty, subprocess, sys
master, slave = pty.openpty()
p = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=slave)
os.close(slave)
data = b""
while True:
    try:
        chunk = os.read(master, 65536)
    except OSError:
        break
    if not chunk:
        break
    data += chunk
open(sys.argv[1], "wb").write(data)
sys.exit(p.wait())
PY
}

# The bar waits for no delay here, so that a fast machine shows it too;
# several inputs merged and written as JSON make a run of several phases.
export PROFKIT_PROGRESS_DELAY=0
run=("$PROFKIT" merge "$WORK/in.pb.gz" "$WORK/in.pb.gz" "$WORK/in.pb.gz" "$WORK/in.pb.gz"
	-o "$WORK/out.json")

check "a run on a terminal" on_pty "$WORK/tty.txt" "${run[@]}"
if grep -aq 'reading\|decompressing\|decoding\|writing' "$WORK/tty.txt" &&
	grep -aq 'MB' "$WORK/tty.txt"; then
	pass
else
	fail "no progress bar on a terminal: $(cat -v "$WORK/tty.txt")"
fi
# It ends by clearing its line: carriage return, erase to the end of line.
if [ "$(tail -c 4 "$WORK/tty.txt" | od -An -c | tr -d ' ')" = '\r033[K' ]; then
	pass
else
	fail "the bar is not cleared at the end: $(tail -c 40 "$WORK/tty.txt" | cat -v)"
fi

# A large gzip file inflates while its samples are read: the bar still
# shows the bytes inflated of the size its trailer gives.
check "a gzip input on a terminal" on_pty "$WORK/gz.txt" "$PROFKIT" convert "$WORK/in.pb.gz" \
	-o "$WORK/out2.folded"
if tr '\r' '\n' <"$WORK/gz.txt" | grep -aq '^decompressing .*[0-9]%.*/.*MB'; then
	pass
else
	fail "no decompressing bar: $(cat -v "$WORK/gz.txt")"
fi

check "--quiet on a terminal" on_pty "$WORK/quiet.txt" "${run[@]}" --quiet
[ ! -s "$WORK/quiet.txt" ] && pass || fail "--quiet printed: $(cat -v "$WORK/quiet.txt")"
check "-q on a terminal" on_pty "$WORK/q.txt" "${run[@]}" -q
[ ! -s "$WORK/q.txt" ] && pass || fail "-q printed: $(cat -v "$WORK/q.txt")"

# Not a terminal: nothing on stderr.
"${run[@]}" 2>"$WORK/err.txt" && pass || fail "a run with stderr to a file"
[ ! -s "$WORK/err.txt" ] && pass || fail "stderr not a terminal got: $(cat -v "$WORK/err.txt")"
"$PROFKIT" convert "$WORK/in.pb.gz" -o "$WORK/out.folded" 2>"$WORK/err2.txt" && pass ||
	fail "convert with stderr to a file"
[ ! -s "$WORK/err2.txt" ] && pass || fail "convert printed: $(cat -v "$WORK/err2.txt")"

# Every tool takes --quiet.
for tool in "$PROFKIT convert" "$PROFKIT top" "$PROFKIT merge" "$PROFKIT diff" "$PROFKIT info" \
	"$PPROF2FLAME" "$PPROF2CALLGRIND" "$PPROF2SPEEDSCOPE"; do
	$tool --help | grep -q -- '--quiet' && pass || fail "$tool --help lacks --quiet"
done
"$PROFKIT" info --quiet "$WORK/in.pb.gz" >/dev/null 2>"$WORK/err3.txt" && pass ||
	fail "profkit info --quiet: $(cat "$WORK/err3.txt")"
finish
