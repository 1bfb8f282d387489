#!/usr/bin/env python3
"""Turn `go tool pprof -traces` output (stdin) into folded stacks (stdout):
one "root;...;leaf count" line per distinct stack, counts summed over the
samples that share it, stacks whose sum is 0 left out, sorted. Values must
be exact integers (run pprof with -unit set to the sample type's own unit);
a scaled value such as "1.17MB" is an error."""
import re
import sys

SEPARATOR = "-----------+-------------------------------------------------------"
VALUE = re.compile(r"^ *(-?[0-9][0-9.]*)([A-Za-z%]*)   (.*)$")
FRAME = " " * 13


def main():
    totals = {}
    block = None  # (value, frames leaf first) of the block being read
    for n, line in enumerate(sys.stdin.read().split("\n"), 1):
        if line == SEPARATOR:
            if block and block[1]:
                stack = ";".join(reversed(block[1]))
                totals[stack] = totals.get(stack, 0) + block[0]
            block = [0, []]
            continue
        if block is None:
            continue  # the header
        if block[1] and line.startswith(FRAME):
            block[1].append(strip_inline(line[len(FRAME):]))
            continue
        m = VALUE.match(line)
        if m and not block[1]:
            if "." in m.group(1):
                sys.exit("line %d: %r is not an exact value; give -unit" % (n, m.group(1)))
            block[0] = int(m.group(1))
            block[1].append(strip_inline(m.group(3)))
        elif not block[1] and re.match(r"^ *\S.*:  ", line):
            continue  # a label
        elif line:
            sys.exit("line %d: unexpected %r" % (n, line))
    for stack in sorted(totals):
        if totals[stack] != 0:
            print("%s %d" % (stack, totals[stack]))


def strip_inline(name):
    return name[: -len(" (inline)")] if name.endswith(" (inline)") else name


main()
