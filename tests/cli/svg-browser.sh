#!/bin/bash
# svg-browser.sh - an SVG flame graph in headless Chromium, driven by
# playwright-core (tests/browser/): no script errors, hovering fills the
# details line, a click zooms, Reset Zoom restores, and search highlights
# the matches and shows their share. Skips without Chromium, Node.js or npm.
#
# playwright-core is installed with `npm ci` from the committed lock file
# into a cache outside the source and build trees (make distcheck wants a
# build tree that distclean empties): ~/.cache/profkit/browser, or
# PROFKIT_BROWSER_DEPS. It is reused while the lock file is the same.
. "$TOP_SRCDIR/tests/cli/lib.sh"

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || { echo "SKIP: no Chromium at $CHROMIUM (Debian chromium)"; exit 77; }
for tool in node npm; do
	command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool is not installed"; exit 77; }
done

src="$TOP_SRCDIR/tests/browser"
deps=${PROFKIT_BROWSER_DEPS:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/profkit/browser}
[ -f "$src/svg-check.js" ] || { fail "$src/svg-check.js is missing (not in EXTRA_DIST?)"; finish; }
if ! cmp -s "$src/package-lock.json" "$deps/package-lock.json" || [ ! -d "$deps/node_modules/playwright-core" ]; then
	mkdir -p "$deps" && cp "$src/package.json" "$src/package-lock.json" "$deps/" || exit 1
	if ! (cd "$deps" && npm ci --no-audit --no-fund --ignore-scripts >"$WORK/npm.log" 2>&1); then
		cat "$WORK/npm.log" >&2
		rm -f "$deps/package-lock.json" # so that the next run tries again
		echo "SKIP: npm ci could not install playwright-core (is the npm registry reachable?)"
		exit 77
	fi
fi

# run NAME SVG: the browser checks on one SVG.
run() {
	if CHROMIUM="$CHROMIUM" NODE_PATH="$deps/node_modules" node "$src/svg-check.js" "$2" >"$WORK/$1.log" 2>&1; then
		pass
	else
		fail "$1: the browser checks failed"
	fi
	sed "s/^/  $1: /" "$WORK/$1.log"
}

"$PROFKIT" convert "$FIXTURES/cpu.pb.gz" -o "$WORK/cpu.svg" || fail "cannot write cpu.svg"
run cpu "$WORK/cpu.svg"
"$PROFKIT" convert --inverted --width 900 "$FIXTURES/heap.pb.gz" -o "$WORK/icicle.svg" ||
	fail "cannot write icicle.svg"
run icicle "$WORK/icicle.svg"
"$PROFKIT" convert --base "$FIXTURES/heap_t1.pb.gz" "$FIXTURES/heap_t2.pb.gz" -o "$WORK/diff.svg" ||
	fail "cannot write diff.svg"
run differential "$WORK/diff.svg"
finish
