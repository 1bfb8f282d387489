#!/bin/sh
# The shared library exports exactly the public API: the functions that
# include/profkit.h declares, as listed in tests/exports.txt.
set -u
lib="$TOP_BUILDDIR/.libs/libprofkit.so"
[ -f "$lib" ] || { echo "SKIP: no shared library was built"; exit 77; }
tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT
nm -D --defined-only "$lib" | awk '$2 == "T" { print $3 }' | sort >"$tmp/exported"
sed -n 's/^PK_EXTERN [^(]*[ *]\(pk_[a-z_]*\)(.*/\1/p' "$TOP_SRCDIR/include/profkit.h" | sort >"$tmp/declared"
sort "$TOP_SRCDIR/tests/exports.txt" >"$tmp/listed"
status=0
if ! cmp -s "$tmp/exported" "$tmp/listed"; then
	echo "exported symbols differ from tests/exports.txt (< exported, > listed):"
	diff "$tmp/exported" "$tmp/listed"
	status=1
fi
if ! cmp -s "$tmp/declared" "$tmp/listed"; then
	echo "profkit.h declarations differ from tests/exports.txt (< declared, > listed):"
	diff "$tmp/declared" "$tmp/listed"
	status=1
fi
[ $status -eq 0 ] && echo "$(wc -l <"$tmp/listed") symbols, all declared and exported"
exit $status
