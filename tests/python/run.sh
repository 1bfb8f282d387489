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
exec "$PYTHON" "$TOP_SRCDIR/tests/python/test_profkit.py" -v 2>&1
