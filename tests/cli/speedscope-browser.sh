#!/bin/bash
# speedscope-browser.sh - profkit's speedscope files against speedscope
# itself (the speedscope npm package, tests/browser/speedscope-check.js):
# every fixture's export validates against speedscope's published JSON
# schema, and speedscope's web app, served on 127.0.0.1 and opened in
# headless Chromium, shows each without an error: the file's name, its
# active profile, frames with their files. Then speedscope exports each
# file again (as evented profiles, its own way), and profkit reads that
# back into the same stacks and totals, sample type by sample type. Skips
# without Node.js and npm; without Chromium only the schema is checked.
#
# The npm packages are installed with `npm ci` from the committed lock file
# into a cache outside the source and build trees, shared with
# svg-browser.sh: ~/.cache/profkit/browser, or PROFKIT_BROWSER_DEPS.
. "$TOP_SRCDIR/tests/cli/lib.sh"

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
for tool in node npm; do
	command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool is not installed"; exit 77; }
done

src="$TOP_SRCDIR/tests/browser"
deps=${PROFKIT_BROWSER_DEPS:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/profkit/browser}
[ -f "$src/speedscope-check.js" ] || { fail "$src/speedscope-check.js is missing (not in EXTRA_DIST?)"; finish; }
mkdir -p "$deps" || exit 1
# svg-browser.sh may install into the same folder at the same time.
exec 9>"$deps/.lock"
command -v flock >/dev/null 2>&1 && flock 9
if ! cmp -s "$src/package-lock.json" "$deps/package-lock.json" || [ ! -d "$deps/node_modules/speedscope" ] ||
	[ ! -d "$deps/node_modules/ajv" ]; then
	cp "$src/package.json" "$src/package-lock.json" "$deps/" || exit 1
	if ! (cd "$deps" && npm ci --no-audit --no-fund --ignore-scripts >"$WORK/npm.log" 2>&1); then
		cat "$WORK/npm.log" >&2
		rm -f "$deps/package-lock.json" # so that the next run tries again
		echo "SKIP: npm ci could not install speedscope and ajv (is the npm registry reachable?)"
		exit 77
	fi
fi
exec 9>&-
checker() { NODE_PATH="$deps/node_modules" CHROMIUM="$CHROMIUM" node "$src/speedscope-check.js" "$@"; }

# The exports: every fixture as it is, and some options.
mkdir -p "$WORK/out" "$WORK/exported"
CALLGRIND="$TOP_SRCDIR/tests/fixtures/callgrind"
SPEEDSCOPE="$TOP_SRCDIR/tests/fixtures/speedscope"
for f in "$FIXTURES"/*.pb.gz; do
	b=$(basename "$f" .pb.gz)
	"$PROFKIT" convert "$f" -o "$WORK/out/$b.speedscope.json" || fail "cannot export $b"
done
for f in "$CALLGRIND"/*.callgrind; do
	b=$(basename "$f" .callgrind)
	"$PROFKIT" convert "$f" -o "$WORK/out/cg-$b.speedscope.json" || fail "cannot export $b"
done
"$PROFKIT" convert --lines "$FIXTURES/cpu.pb.gz" -o "$WORK/out/cpu-lines.speedscope.json" || fail "--lines"
"$PROFKIT" convert --base "$FIXTURES/heap_t1.pb.gz" "$FIXTURES/heap_t2.pb.gz" \
	-o "$WORK/out/heap-growth.speedscope.json" || fail "--base"
"$PROFKIT" convert --sample_index=alloc_space "$FIXTURES/heap.pb.gz" \
	-o "$WORK/out/alloc-space.speedscope.json" || fail "--sample_index"
for f in "$SPEEDSCOPE"/*.speedscope.json; do
	"$PROFKIT" convert "$f" -o "$WORK/out/again-$(basename "$f")" || fail "cannot export $(basename "$f") again"
done

if checker validate "$WORK"/out/*.json >"$WORK/validate.log" 2>&1; then pass; else fail "schema validation"; fi
grep -v '^ok: ' "$WORK/validate.log" | sed 's/^/  schema: /'

[ -x "$CHROMIUM" ] || { echo "no Chromium at $CHROMIUM (Debian chromium): the web app is not tried"; finish; }

# FILE:NAME:FRAMES for the viewer: the name speedscope's title shows
# (empty: the file's "name", the input's file name here), and frames its
# sandwich view must find (the script adds the three of the largest self
# weight).
specs=()
for f in "$WORK"/out/*.json; do
	b=$(basename "$f" .speedscope.json)
	name=
	frames=
	case $b in
	cpu) frames=main.fib,main.hashBlock,main.mix ;;
	heap) frames=main.buildTree,main.newNode ;;
	heap-growth) frames=main.handleRequest,main.newRecord ;;
	cg-recur*) frames=fib,quicksort ;;
	esac
	specs+=("$f:$name:$frames")
done
if checker view "$WORK/exported" "${specs[@]}" >"$WORK/view.log" 2>&1; then pass; else fail "the web app"; fi
grep -v '^ok: ' "$WORK/view.log" | sed 's/^/  viewer: /'

# What speedscope exported (evented profiles) reads back into the stacks
# and totals of the fixture, sample type by sample type.
for f in "$FIXTURES"/*.pb.gz; do
	b=$(basename "$f" .pb.gz)
	e="$WORK/exported/$b.exported.json"
	[ -f "$e" ] || { fail "speedscope exported no $b"; continue; }
	for i in $(seq 0 20); do
		"$PROFKIT" convert "$f" --sample_index="$i" -o "$WORK/a.folded" 2>/dev/null || break
		if ! "$PROFKIT" convert "$e" --sample_index="$i" -o "$WORK/b.folded"; then
			fail "$b: speedscope's export has no sample type $i"
		elif cmp -s "$WORK/a.folded" "$WORK/b.folded"; then
			pass
		else
			fail "$b, sample type $i: speedscope's export reads back into other stacks"
			diff "$WORK/a.folded" "$WORK/b.folded" | head -5
		fi
	done
done
finish
