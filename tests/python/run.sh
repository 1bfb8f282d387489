#!/bin/sh
# run.sh - the Python bindings' tests: tests/python/test_profkit.py under
# unittest, importing profkit from the build tree with the interpreter
# configure chose. make check exports PYTHON, TOP_SRCDIR and TOP_BUILDDIR.
set -u
: "${PYTHON:?run through make check}" "${TOP_SRCDIR:?}" "${TOP_BUILDDIR:?}"
[ -n "$PYTHON" ] || { echo "SKIP: built without the Python bindings"; exit 77; }
PYTHONPATH="$TOP_BUILDDIR/bindings/python${PYTHONPATH:+:$PYTHONPATH}"
# The build tree must not collect __pycache__ files in the source tree.
PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH PYTHONDONTWRITEBYTECODE
# Under --enable-sanitizers the extension needs the ASan runtime loaded
# before the interpreter starts; Python's own allocations are not ours to
# check for leaks. A clang build (the fuzzing one) leaves the runtime to
# executables, which the interpreter is not: the sanitizer build covers it.
ext=$(ls "$TOP_BUILDDIR"/bindings/python/profkit/_profkit*.so 2>/dev/null | head -n 1)
asan=$(ldd "$ext" 2>/dev/null | awk '/libasan/ { print $3 }')
if [ -n "$asan" ]; then
	LD_PRELOAD="$asan${LD_PRELOAD:+ $LD_PRELOAD}"
	ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
	export LD_PRELOAD ASAN_OPTIONS
elif nm -D "$TOP_BUILDDIR/.libs/libprofkit.so" 2>/dev/null | grep -q ' U __asan_'; then
	echo "SKIP: libprofkit needs a sanitizer runtime that only clang's executables carry"
	exit 77
fi
exec "$PYTHON" "$TOP_SRCDIR/tests/python/test_profkit.py" -v 2>&1
