#!/bin/sh
# The C sources follow .clang-format: a change that breaks the layout fails
# here rather than in review.
set -u
command -v clang-format >/dev/null 2>&1 || { echo "SKIP: clang-format is not installed"; exit 77; }
cd "$TOP_SRCDIR" || exit 1
status=0
for f in include/*.h core/*.[ch] formats/*.c converters/*.[ch] bindings/python/*.c tests/unit/*.[ch] \
	tests/fuzz/*.[ch]; do
	[ -f "$f" ] || continue
	if ! clang-format --style=file "$f" | cmp -s "$f" -; then
		echo "$f is not formatted as .clang-format says; run: clang-format -i $f"
		status=1
	fi
done
exit $status
