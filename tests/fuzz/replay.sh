#!/bin/bash
# replay.sh - replay each fuzz target's seed corpus through its plain
# driver (tests/fuzz/replay_<target>); run by `make check`, which exports
# TOP_SRCDIR and TOP_BUILDDIR. Fails if any replay fails.
set -u

srcdir=${TOP_SRCDIR:?TOP_SRCDIR is not set}
builddir=${TOP_BUILDDIR:?TOP_BUILDDIR is not set}
corpora=$srcdir/tests/fuzz/corpus
status=0

# replay TARGET REQUIRED: run replay_TARGET on corpus/fuzz_TARGET. A missing
# corpus is an error only when REQUIRED is yes.
replay() {
	local target=$1 required=$2
	local corpus=$corpora/fuzz_$target driver=$builddir/tests/fuzz/replay_$target
	if [ ! -d "$corpus" ]; then
		if [ "$required" = yes ]; then
			echo "FAIL: $corpus is missing" >&2
			status=1
		else
			echo "skip: no corpus for fuzz_$target"
		fi
		return
	fi
	if [ ! -x "$driver" ]; then
		echo "FAIL: $driver was not built (make check builds it)" >&2
		status=1
		return
	fi
	if ! "$driver" "$corpus"; then
		echo "FAIL: replay of fuzz_$target" >&2
		status=1
	fi
}

replay pprof yes
replay json no
replay collapsed no
replay callgrind no
replay speedscope no
exit $status
