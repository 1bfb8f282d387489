#!/usr/bin/env python3
"""Compare what callgrind_annotate reads from one event of a callgrind
export with what `go tool pprof -text` shows for that sample type.

usage: callgrind-compare.py EXPORT SELF INCLUSIVE PPROF_TEXT FOLDED
       callgrind-compare.py --dropped EVENT COUNTS EXPORT SELF FOLDED

EXPORT is the callgrind file; SELF and INCLUSIVE are the outputs of
`callgrind_annotate --auto=no --threshold=100 --show=E --sort=E` without
and with --inclusive=yes; PPROF_TEXT is `go tool pprof -text
-nodefraction=0 -edgefraction=0 -unit=<the type's own unit>`; FOLDED is
our folded output for the type, which tells which functions recur in a
stack. Checks, by function name:
  - self cost per function == pprof's flat (nonzero entries);
  - PROGRAM TOTALS == pprof's total;
  - inclusive cost == pprof's cum for every function that appears at most
    once in each stack and is never both a stack's root and a callee (as a
    root it has no call into it, so callgrind_annotate shows self plus the
    calls it makes; as a callee, the calls into it only).

With --dropped, for an event some of whose stacks are negative (a base
that was larger, or a profile that holds negative values): FOLDED is our
folded output for it at --lines (the export's stacks are paths of source
lines), with COUNTS (1 or 2) counts a line, the value of a stack being
its count or, with two, new minus base. Checks that PROGRAM TOTALS is the
sum of the positive values, and that the export's "# profkit: stacks ...
are left out (N ...)" comment for EVENT gives the sum of the negative ones
(and is missing when there are none).

Prints one line of counts; problems go to stderr; exits 1 if any."""
import re
import sys

CG_ROW = re.compile(r"^\s*([0-9,]+|\.)\s+(?:\(\s*[0-9.]+%\)\s+)?(.*)$")
PPROF_ROW = re.compile(r"^\s*(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+) {2}(.*)$")
PPROF_TOTAL = re.compile(r"^Showing nodes accounting for \S+, \S+ of (\S+) total$")
VALUE = re.compile(r"^(-?[0-9]+)(?:\.00)?[A-Za-z]*$")
NAMED = re.compile(r"^c?(ob|fl|fi|fe)=\([0-9]+\) (.*)$")


def value(text, what):
    m = VALUE.match(text)
    if not m:
        raise SystemExit("%s: %r is not an exact integer (is -unit set?)" % (what, text))
    return int(m.group(1))


def known_names(path):
    objects, files = set(), set()
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = NAMED.match(line.rstrip("\n"))
            if m:
                (objects if m.group(1) == "ob" else files).add(m.group(2))
    return objects, sorted(files | {"???"}, key=len, reverse=True)


def function_of(key, objects, files):
    """The function of callgrind_annotate's "file:function [object]"."""
    for o in sorted(objects, key=len, reverse=True):
        if key.endswith(" [%s]" % o):
            key = key[: -len(o) - 3]
            break
    for f in files:
        if key.startswith(f + ":"):
            return key[len(f) + 1:]
    raise SystemExit("cannot tell the file of %r" % key)


def annotate(path, objects, files):
    """callgrind_annotate's PROGRAM TOTALS and per-function costs (summed
    by function name, over files and objects)."""
    total, costs, rows = None, {}, False
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.endswith("PROGRAM TOTALS") or "PROGRAM TOTALS (" in line:
                total = int(line.split()[0].replace(",", ""))
                continue
            if line.endswith(" file:function"):
                rows = True
                continue
            if not rows or not line or line.startswith("-----"):
                continue
            m = CG_ROW.match(line)
            if not m:
                raise SystemExit("%s: cannot read %r" % (path, line))
            v = 0 if m.group(1) == "." else int(m.group(1).replace(",", ""))
            name = function_of(m.group(2), objects, files)
            costs[name] = costs.get(name, 0) + v
    if total is None:
        raise SystemExit("%s: no PROGRAM TOTALS" % path)
    return total, costs


def pprof_text(path):
    total, flat, cum, rows = None, {}, {}, False
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            m = PPROF_TOTAL.match(line)
            if m:
                total = value(m.group(1), path)
            if line.split() == ["flat", "flat%", "sum%", "cum", "cum%"]:
                rows = True
                continue
            if not rows:
                continue
            m = PPROF_ROW.match(line)
            if not m:
                raise SystemExit("%s: cannot read %r" % (path, line))
            name = re.sub(r" \((partial-)?inline\)$", "", m.group(6))
            flat[name] = flat.get(name, 0) + value(m.group(1), path)
            cum[name] = cum.get(name, 0) + value(m.group(4), path)
    return total if total is not None else 0, flat, cum


def stack_shapes(path):
    """Functions that recur in a stack, and those that are a stack's root
    in one stack and a callee in another."""
    recursive, roots, callees = set(), set(), set()
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            stack = line.rstrip("\n").rsplit(" ", 1)[0].split(";")
            seen = set()
            for name in stack:
                if name in seen:
                    recursive.add(name)
                seen.add(name)
            roots.add(stack[0])
            callees.update(stack[1:])
    return recursive, roots & callees


LEFT_OUT = re.compile(r"^# profkit: stacks (?:whose (\S+) fell|of negative (\S+)) are left "
                      r"out \((-[0-9]+)(?: .*)? in all\)$")


def stack_values(path, counts):
    """The value of each line of a folded file of one or two counts."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            fields = line.rstrip("\n").rsplit(" ", counts)
            if len(fields) != counts + 1:
                raise SystemExit("%s: cannot read %r" % (path, line))
            values = [int(v) for v in fields[1:]]
            yield values[-1] - values[0] if counts == 2 else values[0]


def dropped(argv):
    event, counts, export, self_out, folded = argv
    objects, files = known_names(export)
    total, _ = annotate(self_out, objects, files)
    values = list(stack_values(folded, int(counts)))
    growth = sum(v for v in values if v > 0)
    shrink = sum(v for v in values if v < 0)
    left_out, problems = 0, []
    with open(export, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = LEFT_OUT.match(line.rstrip("\n"))
            if m and event in (m.group(1), m.group(2)):
                left_out += int(m.group(3))
            elif line.startswith("events:"):
                break
    if total != growth:
        problems.append("PROGRAM TOTALS %d, the positive stacks add up to %d" % (total, growth))
    if left_out != shrink:
        problems.append("the comment leaves out %d, the negative stacks add up to %d"
                        % (left_out, shrink))
    for p in problems:
        print("  " + p, file=sys.stderr)
    print("%d stacks, total %d, %d left out" % (len(values), total, shrink))
    return 1 if problems else 0


def main():
    if sys.argv[1] == "--dropped":
        return dropped(sys.argv[2:7])
    export, self_out, incl_out, text, folded = sys.argv[1:6]
    objects, files = known_names(export)
    total, self_costs = annotate(self_out, objects, files)
    _, inclusive = annotate(incl_out, objects, files)
    pprof_total, flat, cum = pprof_text(text)
    recursive, mixed = stack_shapes(folded)
    problems = []
    if total != pprof_total:
        problems.append("PROGRAM TOTALS %d, pprof's total %d" % (total, pprof_total))
    ours = {k: v for k, v in self_costs.items() if v != 0}
    theirs = {k: v for k, v in flat.items() if v != 0}
    for name in sorted(set(ours) | set(theirs)):
        if ours.get(name, 0) != theirs.get(name, 0):
            problems.append("self of %s: %d, pprof's flat %d"
                            % (name, ours.get(name, 0), theirs.get(name, 0)))
    checked = skipped = 0
    for name in sorted(cum):
        if cum[name] == 0:
            continue
        if name in recursive or name in mixed:
            skipped += 1
            continue
        checked += 1
        if inclusive.get(name, 0) != cum[name]:
            problems.append("inclusive of %s: %d, pprof's cum %d"
                            % (name, inclusive.get(name, 0), cum[name]))
    for p in problems[:10]:
        print("  " + p, file=sys.stderr)
    print("%d functions, total %d, inclusive checked for %d (%d recursive or "
          "sometimes root)" % (len(theirs), total, checked, skipped))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
