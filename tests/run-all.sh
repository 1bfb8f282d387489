#!/usr/bin/env bash
# The whole test suite: installs what the tests need, then builds and runs
# `make check` three ways (plain with -Werror, under ASan+UBSan, and with
# the libFuzzer targets, which also run 1000000 inputs each), and `make
# distcheck`. Ends with one line "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
top=$(pwd)
./install-deps.sh --test || { echo "could not install the test dependencies"; echo "0 passed, 1 failed"; exit 1; }
# The builds below are out of tree, which an in-tree configure forbids.
[ -f config.status ] && make -s distclean >/dev/null 2>&1
./autogen.sh >/dev/null 2>&1 || { echo "autogen.sh failed"; echo "0 passed, 1 failed"; exit 1; }

passed=0
failed=0
jobs=$(nproc 2>/dev/null || echo 2)

# Add the counts of a build's test-suite.log, or one failure if it has none.
count_log() { # BUILD-DIR WHAT
	local log="$1/test-suite.log"
	if [ ! -f "$log" ]; then
		echo "== $2: no test-suite.log"
		failed=$((failed + 1))
		return
	fi
	local p f
	p=$(awk '/^# PASS:/ {print $3}' "$log")
	f=$(awk '/^# (FAIL|ERROR|XPASS):/ {s += $3} END {print s + 0}' "$log")
	echo "== $2: ${p:-0} passed, $f failed"
	passed=$((passed + ${p:-0}))
	failed=$((failed + f))
	[ "$f" -eq 0 ] || cat "$log"
}

# step WHAT COMMAND...: one more pass or failure.
step() {
	local what=$1
	shift
	if "$@"; then
		passed=$((passed + 1))
	else
		echo "== $what failed"
		failed=$((failed + 1))
	fi
}

build() { # DIR CONFIGURE-ARGS...
	local dir="$top/build/$1"
	shift
	# configure's "rm -f core" complains about our core/ folder; say nothing.
	rm -rf "$dir" && mkdir -p "$dir" && cd "$dir" &&
		"$top/configure" -q "$@" 2> >(grep -v "cannot remove 'core'" >&2) &&
		make -s -j"$jobs" >/dev/null
	local rc=$?
	cd "$top"
	return $rc
}

check_build() { # NAME CONFIGURE-ARGS...
	local name=$1
	shift
	echo "== building $name"
	if build "$name" "$@"; then
		(cd "build/$name" && make -s -j"$jobs" check >/dev/null 2>&1)
		count_log "build/$name" "$name"
	else
		echo "== $name: the build failed"
		failed=$((failed + 1))
	fi
}

check_build plain --enable-werror
check_build sanitizers --enable-werror --enable-sanitizers
check_build fuzzing --enable-fuzzing CC=clang
if [ -d build/fuzzing/tests/fuzz ]; then
	for t in pprof json collapsed callgrind speedscope; do
		bin="build/fuzzing/tests/fuzz/fuzz_$t"
		# A fixed seed and run count, so the same code gives the same verdict.
		step "fuzz_$t, 1000000 runs" sh -c "mkdir -p build/fuzzing/corpus-$t &&
			'$bin' -seed=1 -runs=1000000 -timeout=10 -rss_limit_mb=4096 build/fuzzing/corpus-$t tests/fuzz/corpus/fuzz_$t >build/fuzzing/fuzz_$t.log 2>&1 || { tail -50 build/fuzzing/fuzz_$t.log; false; }"
	done
fi
echo "== make distcheck"
step "make distcheck" sh -c "cd build/plain && make -s distcheck >distcheck.log 2>&1 || { tail -50 distcheck.log; false; }"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
