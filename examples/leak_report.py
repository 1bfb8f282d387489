#!/usr/bin/env python3
"""leak_report.py - what grew between two heap profiles, and whether too much.

    leak_report.py [--threshold 10MB|5%] [--sample-type inuse_space] [-n 10] BEFORE AFTER

Prints the functions whose memory grew the most from BEFORE to AFTER (as
`go tool pprof -top -base BEFORE AFTER`) and exits 1 when the total growth
passes the threshold: an amount ("10MB", "512kB", "1000" bytes) or a
percentage of BEFORE's total ("5%"). Exit 0 otherwise, 2 when a profile
cannot be read. Needs profkit's Python bindings (PYTHONPATH=bindings/python
in a build tree).
"""

import argparse
import re
import sys

import profkit

UNITS = {"": 1, "b": 1, "kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30, "tb": 1 << 40}


def parse_threshold(text):
    """("percent", 5.0) or ("bytes", 10485760)."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(%|[kmgt]?i?b?)\s*", text, re.I)
    if m is None:
        raise argparse.ArgumentTypeError("expected an amount such as 10MB or a percentage: %r"
                                         % text)
    value, unit = float(m.group(1)), m.group(2).lower().replace("i", "")
    if unit == "%":
        return ("percent", value)
    return ("bytes", int(value * UNITS[unit]))


def human(n):
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return ("%d%s" % (n, unit)) if unit == "B" else ("%.2f%s" % (n, unit))
        n /= 1024.0
    return str(n)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--threshold", type=parse_threshold, default=("bytes", 10 << 20),
                    help="fail above this growth: 10MB (default), 512kB, or 5%%")
    ap.add_argument("--sample-type", default="inuse_space",
                    help="the sample type to compare (default inuse_space)")
    ap.add_argument("-n", "--nodes", type=int, default=10, help="rows to show (default 10)")
    args = ap.parse_args(argv)
    try:
        before = profkit.load(args.before)
        after = profkit.load(args.after)
        growth = after.diff(before).select(args.sample_type)
        total = growth.total()
        base = before.total(args.sample_type)
        rows = growth.top(args.nodes)
    except profkit.Error as e:
        print("leak_report: %s" % e, file=sys.stderr)
        return 2
    print("%10s %7s %10s %7s  %s" % ("flat", "flat%", "cum", "cum%", "function"))
    for r in rows:
        print("%10s %6.2f%% %10s %6.2f%%  %s" % (human(r.flat), r.flat_pct, human(r.cum),
                                                 r.cum_pct, r.name))
    kind, limit = args.threshold
    pct = 100.0 * total / base if base else float("inf") if total > 0 else 0.0
    over = pct > limit if kind == "percent" else total > limit
    summary = "%s grew by %s (%.2f%% of %s)" % (args.sample_type, human(total), pct, human(base))
    if over:
        print("leak_report: %s, more than the threshold %s" % (
            summary, "%g%%" % limit if kind == "percent" else human(limit)), file=sys.stderr)
        return 1
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
