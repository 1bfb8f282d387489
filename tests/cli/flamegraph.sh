#!/bin/bash
# flamegraph.sh - SVG flame graphs of every fixture and each of its sample
# types: well-formed XML (xmllint), the same bytes from two runs, and frames
# that agree with the folded stacks of the same profile: one frame per
# folded prefix wide enough to draw, each as wide and placed as its value
# says (1180 pixels for the root's total), with its share in its title.
. "$TOP_SRCDIR/tests/cli/lib.sh"

have_xmllint() { command -v xmllint >/dev/null 2>&1; }
have_python() { command -v python3 >/dev/null 2>&1; }
have_xmllint || echo "note: xmllint (Debian libxml2-utils) is missing; not checking well-formedness"
have_python || echo "note: python3 is missing; not comparing frames with folded stacks"

# compare SVG FOLDED: the SVG's frames against the folded stacks.
compare() {
	python3 - "$1" "$2" <<'EOF'
import sys
import xml.etree.ElementTree as ET

svg_path, folded_path = sys.argv[1], sys.argv[2]
NS = '{http://www.w3.org/2000/svg}'
XPAD, FULL, MIN_WIDTH = 10.0, 1180.0, 0.1
problems = []

# Totals of every prefix of the folded stacks, and each prefix's children.
totals, children = {(): 0}, {(): set()}
with open(folded_path, encoding='utf-8', errors='surrogateescape') as f:
    for line in f:
        line = line.rstrip('\n')
        if not line:
            continue
        stack, count = line.rsplit(' ', 1)
        path = ()
        totals[()] += int(count)
        for name in stack.split(';'):
            children.setdefault(path, set()).add(name)
            path = path + (name,)
            totals[path] = totals.get(path, 0) + int(count)
root_total = totals[()]
per = FULL / root_total

# Where each prefix starts (children in byte order of their names), and
# which are drawn: at least MIN_WIDTH pixels, under a drawn parent.
start, drawn = {(): 0}, {()}
todo = [()]
while todo:
    path = todo.pop()
    at = start[path]
    for name in sorted(children.get(path, ()), key=lambda s: s.encode('utf-8', 'surrogateescape')):
        kid = path + (name,)
        start[kid] = at
        at += totals[kid]
        if totals[kid] > 0 and totals[kid] >= MIN_WIDTH / per:
            drawn.add(kid)
            todo.append(kid)

# The SVG's frames, depth first: a frame's depth comes from its row.
doc = ET.parse(svg_path).getroot()
frames = doc.find(NS + 'g[@id="frames"]')
base_y, seen, path = None, set(), []
for g in frames:
    title = g.find(NS + 'title').text
    rect = g.find(NS + 'rect')
    x, width, y = (float(rect.get(k)) for k in ('x', 'width', 'y'))
    name = title[:title.rindex(' (')]
    if base_y is None:
        base_y, height = y, float(rect.get('height')) + 1
        if name != 'all':
            problems.append('the first frame is %r, not all' % name)
    depth = round((base_y - y) / height)
    path = path[:depth - 1] + [name] if depth > 0 else []
    key = tuple(path)
    if key not in totals:
        problems.append('frame %s is no folded prefix' % ';'.join(key))
        continue
    seen.add(key)
    value = totals[key]
    if abs(width - value * per) > 0.1 + 1e-9:
        problems.append('%s: width %.1f, but %d of %d is %.3f px' % (';'.join(key) or 'all', width, value, root_total, value * per))
    if abs(x - (XPAD + start[key] * per)) > 0.05 + 1e-9:
        problems.append('%s: x %.1f, not %.3f' % (';'.join(key) or 'all', x, XPAD + start[key] * per))
    share = '%.2f%%' % (100.0 * value / root_total)
    if not title.endswith(', %s)' % share):
        problems.append('%s: title %r does not end in %s' % (';'.join(key) or 'all', title, share))
    counted = title[len(name) + 2:title.rindex(', ')]
    if counted.endswith(' samples') and counted != '{:,} samples'.format(value):
        problems.append('%s: title %r, not %d samples' % (';'.join(key) or 'all', title, value))
missing = drawn - seen
if missing:
    problems.append('%d folded prefixes wide enough have no frame, e.g. %s' % (len(missing), ';'.join(sorted(missing)[0])))
for p in problems[:10]:
    print(p, file=sys.stderr)
print('%d frames, %d folded prefixes drawn, %d problems' % (len(seen), len(drawn), len(problems)))
sys.exit(1 if problems else 0)
EOF
}

for f in "$FIXTURES"/*.pb.gz; do
	name=$(basename "$f" .pb.gz)
	types=$("$PROFKIT" info "$f" | awk '/^Sample types:/ { on = 1; next } on && /^  [0-9]+:/ { n++ } on && !/^  / { on = 0 } END { print n + 0 }')
	[ "$types" -gt 0 ] || { fail "$name: profkit info lists no sample types"; continue; }
	for ((i = 0; i < types; i++)); do
		what="$name, sample type $i"
		svg="$WORK/$name.$i.svg"
		folded="$WORK/$name.$i.folded"
		check "$what: to svg" "$PROFKIT" convert --sample_index="$i" "$f" -o "$svg" || continue
		if have_xmllint; then
			check "$what: xmllint reads the SVG" xmllint --noout "$svg"
		fi
		"$PROFKIT" convert --sample_index="$i" "$f" -o "$WORK/again.svg"
		check "$what: the same bytes twice" cmp -s "$svg" "$WORK/again.svg"
		check "$what: to folded" "$PROFKIT" convert --sample_index="$i" "$f" -o "$folded" || continue
		if have_python && [ -s "$folded" ]; then
			if out=$(compare "$svg" "$folded" 2>&1); then pass; else
				fail "$what: the SVG's frames disagree with the folded stacks"
				echo "$out" | head -12 >&2
			fi
		elif [ ! -s "$folded" ]; then
			check "$what: an empty profile's SVG says so" grep -q "Nothing to draw" "$svg"
		fi
	done
done

# The options reach the picture, and a bad one writes nothing.
cpu="$FIXTURES/cpu.pb.gz"
check "--inverted" "$PROFKIT" convert --inverted "$cpu" -o "$WORK/icicle.svg"
check "--inverted: the icicle title" grep -q '>Icicle Graph</text>' "$WORK/icicle.svg"
check "--colors mem" "$PROFKIT" convert --colors mem --title 'A & B' "$cpu" -o "$WORK/mem.svg"
check "--colors mem: the green background" grep -q 'stop-color="#e0ffe0"' "$WORK/mem.svg"
check "--title is escaped" grep -q '>A &amp; B</text>' "$WORK/mem.svg"
if have_xmllint; then
	check "xmllint reads the icicle graph" xmllint --noout "$WORK/icicle.svg"
fi
rm -f "$WORK/bad.svg"
"$PROFKIT" convert --colors rainbow "$cpu" -o "$WORK/bad.svg" 2>"$WORK/stderr"
rc=$?
if [ "$rc" -ne 0 ] && grep -q "unknown flame graph palette 'rainbow'" "$WORK/stderr" && [ ! -e "$WORK/bad.svg" ]; then
	pass
else
	fail "--colors rainbow: exit $rc, $(cat "$WORK/stderr")"
fi
finish
