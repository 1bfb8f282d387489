#!/usr/bin/env bash
# Where output goes: through symbolic links, onto devices and FIFOs as they
# are, over existing files with their permissions kept.
. "$TOP_SRCDIR/tests/cli/lib.sh"
in="$FIXTURES/mutex.pb.gz"

# A symbolic link is written through, not replaced.
echo old >"$WORK/target.json"
ln -s target.json "$WORK/link.json"
check "convert through a symlink" "$PROFKIT" convert "$in" -o "$WORK/link.json"
[ -L "$WORK/link.json" ] && pass || fail "the symlink was replaced"
"$PROFKIT" info "$WORK/target.json" >/dev/null && pass || fail "the link's target did not get the profile"

# So is a dangling one: the file it names is created.
ln -s new-target.json "$WORK/dangling.json"
check "convert through a dangling symlink" "$PROFKIT" convert "$in" -o "$WORK/dangling.json"
[ -L "$WORK/dangling.json" ] && [ -f "$WORK/new-target.json" ] && pass ||
	fail "the dangling symlink was replaced: $(ls -l "$WORK")"

# A device is written to, not replaced by a regular file.
check "convert to /dev/null" "$PROFKIT" convert "$in" -o /dev/null --to json
[ -c /dev/null ] && pass || fail "/dev/null is no longer a device"
"$PROFKIT" convert "$in" -o /dev/full --to json 2>"$WORK/stderr"
[ $? -eq 1 ] && grep -q '^profkit.*: /dev/full: cannot write' "$WORK/stderr" && pass ||
	fail "/dev/full: $(cat "$WORK/stderr")"
[ -c /dev/full ] && pass || fail "/dev/full is no longer a device"

# A FIFO gets the output and stays a FIFO.
mkfifo "$WORK/fifo"
cat "$WORK/fifo" >"$WORK/from-fifo.json" &
reader=$!
check "convert to a FIFO" "$PROFKIT" convert "$in" -o "$WORK/fifo" --to json
wait $reader
[ -p "$WORK/fifo" ] && pass || fail "the FIFO was replaced"
"$PROFKIT" convert "$in" -o "$WORK/direct.json"
cmp -s "$WORK/from-fifo.json" "$WORK/direct.json" && pass || fail "the FIFO got other bytes"

# Replacing a file keeps its permissions.
echo old >"$WORK/private.json"
chmod 600 "$WORK/private.json"
check "convert over a 0600 file" "$PROFKIT" convert "$in" -o "$WORK/private.json"
[ "$(stat -c %a "$WORK/private.json")" = 600 ] && pass ||
	fail "permissions became $(stat -c %a "$WORK/private.json")"
# A new file gets the umask's permissions.
(umask 027 && "$PROFKIT" convert "$in" -o "$WORK/new.json")
[ "$(stat -c %a "$WORK/new.json")" = 640 ] && pass || fail "new file: $(stat -c %a "$WORK/new.json")"

# A write that fails past the first blocks, on the writer thread, fails
# the command with the same message and leaves the file it would replace
# as it was. The size limit stops the output at 100 KiB of its ~400.
awk 'BEGIN { for (i = 0; i < 8000; i++)
	printf "main;a_rather_long_function_name_%d;leaf_%d 1\n", i, i }' >"$WORK/big.folded"
echo old >"$WORK/limited.folded"
(
	ulimit -f 100
	trap '' XFSZ
	exec "$PROFKIT" convert "$WORK/big.folded" -o "$WORK/limited.folded"
) 2>"$WORK/stderr"
[ $? -eq 1 ] && grep -q '^profkit.*: cannot write: File too large' "$WORK/stderr" && pass ||
	fail "size limit: $(cat "$WORK/stderr")"
[ "$(cat "$WORK/limited.folded")" = old ] && pass || fail "the file replaced was changed"
"$PROFKIT" convert "$WORK/big.folded" -o "$WORK/unlimited.folded"
[ "$(wc -c <"$WORK/unlimited.folded")" -gt 300000 ] && pass || fail "the output is too small to test"

[ -z "$(ls "$WORK" | grep '\.tmp')" ] && pass || fail "a temporary file was left: $(ls "$WORK")"
finish
