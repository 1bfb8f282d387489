"""profkit: read, transform and write performance profiles.

A thin layer over libprofkit, the C library of the profkit tools. Every
profile goes through one model shaped like pprof's profile.proto::

    import profkit
    heap = profkit.load("heap.pb.gz")             # pprof, JSON, folded, callgrind, speedscope
    print(heap.sample_types, len(heap), heap.total("inuse_space"))
    for row in heap.top(sample_type="alloc_space", node_count=10):
        print(row.flat, row.flat_pct, row.name)
    growth = heap.diff(profkit.load("heap_before.pb.gz"))
    growth.save("growth.svg", title="What grew")  # format from the extension
    data = heap.dumps("folded", sample_type="alloc_space")

Profiles are immutable: every operation (select, diff, filter, aggregate,
scale, merge) returns a new one. Loading, the operations and the exports run
without the GIL, so threads help; a profile may be shared between threads.

Stacks are leaf first, as in pprof: ``sample.stack[0]`` is the innermost
frame. A location that holds inlined functions gives one frame per function,
the inlined ones first with ``inlined=True``.

Errors raise ``profkit.Error`` or one of its subclasses (FormatError,
FileError, UnsupportedError, NotFoundError, OutOfMemoryError,
InvalidArgumentError). Each carries the library's error record: ``code``,
``message``, ``format``, ``source`` (the file name), ``line`` and ``column``
(1-based, 0 when the format has no lines) and ``offset`` (the byte offset,
or None).
"""

import os as _os
import re as _re
from collections import namedtuple as _namedtuple

from . import _profkit
from ._profkit import (
    Error,
    FileError,
    FormatError,
    Frame,
    Function,
    InvalidArgumentError,
    Label,
    NotFoundError,
    OutOfMemoryError,
    Sample,
    UnsupportedError,
)

__all__ = [
    "load", "merge", "formats", "build_info", "version", "Profile", "Sample", "Frame",
    "Label", "Function", "TopRow", "Error", "FormatError", "FileError", "UnsupportedError",
    "NotFoundError", "OutOfMemoryError", "InvalidArgumentError", "GRANULARITIES",
]

#: The granularities of aggregate(), top() and the exports, as pprof's
#: -functions, -filefunctions, -files, -lines and -addresses.
GRANULARITIES = ("functions", "filefunctions", "files", "lines", "addresses")

_REPORT_KINDS = {"top": 0, "text": 0, "traces": 1, "tree": 2}
_COMPRESS = {None: 0, "auto": 0, False: 1, "none": 1, True: 2, "gzip": 2}

TopRow = _namedtuple("TopRow", "flat flat_pct sum_pct cum cum_pct name")
TopRow.__doc__ = """One row of top(): as a line of `go tool pprof -text`.

flat and cum are in the sample type's unit (an int when the value is whole),
the percentages are floats (53.4 for 53.40%); name is the node's name as pprof
prints it, " (inline)" included."""


def version():
    """The version of libprofkit, "MAJOR.MINOR.PATCH"."""
    return _profkit.build_info()["profkit_version"]


def build_info():
    """What this module was built with and for: a dict with profkit_version
    (the library's), header_version (profkit.h's when built), python_version
    (the Python headers'), python_executable (the interpreter configure chose),
    extension (the file of the C extension) and formats."""
    info = dict(_profkit.build_info())
    info["extension"] = _profkit.__file__
    info["formats"] = [f[0] for f in _profkit.formats()]
    return info


def formats():
    """The formats libprofkit knows: a list of (name, description,
    can_import, can_export) tuples, in the order auto-detection tries them."""
    return _profkit.formats()


def _granularity(g):
    if isinstance(g, int):
        return g
    try:
        return GRANULARITIES.index(g)
    except ValueError:
        raise InvalidArgumentError(
            "unknown granularity %r: use one of %s" % (g, ", ".join(GRANULARITIES))) from None


def load(source, format=None, *, source_name=None, max_size=0):
    """Read a profile.

    source is a path (str, bytes or os.PathLike; "-" is stdin), the profile's
    bytes (bytes, bytearray, memoryview) or a binary file object. It may be
    gzipped. format names the format ("pprof", "json", "folded", "callgrind",
    "speedscope"); None detects it from the bytes. source_name is the name
    errors give (default: the path, or the file object's name); max_size
    bounds the input after gunzip (0: 2 GiB).

    Raises FormatError (with line/column or offset) for malformed input,
    FileError when the file cannot be read.
    """
    if isinstance(source, (str, _os.PathLike)):
        raw = _profkit.read_path(source, format, source_name, max_size)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        raw = _profkit.read_buffer(source, format, source_name, max_size)
    elif hasattr(source, "read"):
        data = source.read()
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        if source_name is None:
            name = getattr(source, "name", None)
            source_name = name if isinstance(name, str) else None
        raw = _profkit.read_buffer(data, format, source_name, max_size)
    else:
        raise TypeError("load() needs a path, bytes or a binary file, not %s"
                        % type(source).__name__)
    return Profile._wrap(raw)


def merge(profiles):
    """Merge profiles as `go tool pprof A B ...` does: they must have the
    same sample types and period type; equal samples add up. Returns a new
    Profile. Takes any iterable of profiles."""
    raws = []
    for p in profiles:
        if not isinstance(p, Profile):
            raise TypeError("merge() needs profiles, not %s" % type(p).__name__)
        raws.append(p._raw)
    return Profile._wrap(_profkit.merge(raws))


_ROW = _re.compile(r"^\s*(\S+)\s+(\S+)%\s+(\S+)%\s+(\S+)\s+(\S+)%\s+(.*)$")
_NUMBER = _re.compile(r"^([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)")


def _number(text):
    m = _NUMBER.match(text)
    if m is None:
        raise Error("cannot read the report value %r" % text)
    v = float(m.group(1))
    return int(v) if v.is_integer() and "e" not in m.group(1).lower() and "." not in m.group(1) \
        else v


class Profile:
    """A profile: sample types, samples (stacks of frames with values and
    labels), functions and a header. Use profkit.load() or profkit.merge()
    to make one. len(profile) is the number of samples; iterating yields
    Sample tuples (stack, values, labels), profile[i] is sample i."""

    __slots__ = ("_raw", "_header")

    def __init__(self):
        raise TypeError("use profkit.load() or profkit.merge() to make a Profile")

    @classmethod
    def _wrap(cls, raw):
        self = object.__new__(cls)
        self._raw = raw
        self._header = None
        return self

    def _h(self):
        if self._header is None:
            self._header = self._raw.header()
        return self._header

    # -- the header --------------------------------------------------------

    @property
    def sample_types(self):
        """The sample types: a list of (type, unit), e.g. [("alloc_objects",
        "count"), ("alloc_space", "bytes"), ...]."""
        return list(self._h()["sample_types"])

    @property
    def default_sample_type(self):
        """The type name of the preferred sample type, or None (tools then
        use the last one, as pprof does)."""
        return self._h()["default_sample_type"]

    @property
    def period_type(self):
        """(type, unit) of the period, e.g. ("space", "bytes")."""
        return self._h()["period_type"]

    @property
    def period(self):
        """The sampling period, in period_type units (0 if unknown)."""
        return self._h()["period"]

    @property
    def time(self):
        """The collection time in nanoseconds since the Unix epoch (0 if unknown)."""
        return self._h()["time_nanos"]

    @property
    def duration(self):
        """The profile's duration in nanoseconds (0 if unknown)."""
        return self._h()["duration_nanos"]

    @property
    def comments(self):
        """The comments, a list of str."""
        return list(self._h()["comments"])

    @property
    def drop_frames(self):
        """pprof's drop_frames regular expression, or None."""
        return self._h()["drop_frames"]

    @property
    def keep_frames(self):
        """pprof's keep_frames regular expression, or None."""
        return self._h()["keep_frames"]

    @property
    def doc_url(self):
        """The profile's documentation URL, or None."""
        return self._h()["doc_url"]

    @property
    def format(self):
        """The name of the format the profile was read from, or None for a
        profile made by an operation."""
        return self._h()["format"]

    # -- samples and functions ----------------------------------------------

    def __len__(self):
        return len(self._raw)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._raw[k] for k in range(*i.indices(len(self._raw)))]
        if i < 0:
            i += len(self._raw)
        return self._raw[i]

    def __iter__(self):
        raw = self._raw
        for i in range(len(raw)):
            yield raw[i]

    @property
    def samples(self):
        """All samples, a list of Sample (stack leaf first, values, labels)."""
        return list(self)

    def functions(self):
        """The functions: a list of Function (name, system_name, file, start_line)."""
        return self._raw.functions()

    def sample_type_index(self, sample_type=None):
        """The index of a sample type as `go tool pprof -sample_index` reads
        it: None is the default (or else the last), an int is an index, a
        str a type name ("inuse_space" also finds a legacy "space").
        Raises NotFoundError."""
        if isinstance(sample_type, int) and not isinstance(sample_type, bool):
            sample_type = str(sample_type)
        return self._raw.find_sample_type(sample_type)

    def total(self, sample_type=None):
        """The sum of one sample type over all samples (an int); sample_type
        as sample_type_index() reads it."""
        return self._raw.total(self.sample_type_index(sample_type))

    def __repr__(self):
        types = ", ".join("%s/%s" % t for t in self.sample_types)
        return "<profkit.Profile %d samples [%s]>" % (len(self), types)

    # -- operations -----------------------------------------------------------

    def select(self, sample_type):
        """A copy whose default sample type is sample_type (as
        sample_type_index() reads it). Every sample type is kept; what uses
        one sample type (top(), total(), folded and SVG exports) then uses
        this one, as `go tool pprof -sample_index` does."""
        return Profile._wrap(self._raw.with_default(self.sample_type_index(sample_type)))

    def scale(self, ratio):
        """A copy with every value multiplied by ratio (rounded as pprof's
        Profile.Scale; -1 negates exactly)."""
        return Profile._wrap(self._raw.scale(float(ratio)))

    def diff(self, base, diff_base=False):
        """The change from base to this profile: base subtracted as `go tool
        pprof -base` does (equal stacks cancel, values may be negative).
        With diff_base=True, as -diff_base: base samples are kept apart with
        the label pprof::base=true."""
        return Profile._wrap(self._raw.diff(
            base._raw, _profkit.DIFF_DIFF_BASE if diff_base else _profkit.DIFF_BASE))

    def filter(self, focus=None, ignore=None, hide=None, show=None, tagfocus=None,
               tagignore=None):
        """A copy filtered as go tool pprof's -focus, -ignore, -hide, -show,
        -tagfocus and -tagignore (PCRE2 expressions, matched anywhere in a
        function name, file or mapping). Raises InvalidArgumentError for a
        bad expression."""
        return Profile._wrap(self._raw.filter(
            focus=focus, ignore=ignore, hide=hide, show=show, tagfocus=tagfocus,
            tagignore=tagignore))

    def aggregate(self, granularity="functions", inlines=True):
        """A copy grouped at a granularity (one of GRANULARITIES) as pprof's
        Profile.Aggregate: what the granularity leaves out is cleared; with
        inlines=False a location keeps only the function the others were
        inlined into."""
        return Profile._wrap(self._raw.aggregate(_granularity(granularity), bool(inlines)))

    # -- reports --------------------------------------------------------------

    def report(self, kind="top", *, sample_type=None, mean=False, granularity="functions",
               inlines=True, cum=False, node_count=-1, node_fraction=0.005,
               edge_fraction=0.001, unit=None, relative_percentages=False, **filters):
        """A text report, byte for byte as `go tool pprof` prints it: kind
        "top" (-text), "traces" or "tree". The options are pprof's
        (-sample_index, -mean, -functions/..., -noinlines, -cum, -nodecount,
        -nodefraction, -edgefraction, -unit, -relative_percentages), plus the
        filters of filter() as keywords."""
        if kind not in _REPORT_KINDS:
            raise InvalidArgumentError("unknown report kind %r: use top, traces or tree" % kind)
        if sample_type is not None and not isinstance(sample_type, str):
            sample_type = str(sample_type)
        return self._raw.report(
            kind=_REPORT_KINDS[kind], sample_type=sample_type, mean=mean,
            granularity=_granularity(granularity), no_inlines=not inlines, cum=cum,
            node_count=-1 if node_count is None else node_count,
            node_fraction=node_fraction, edge_fraction=edge_fraction, unit=unit,
            relative_percentages=relative_percentages, **filters)

    def top(self, node_count=None, *, sample_type=None, node_fraction=0.0, **options):
        """The costliest nodes as `go tool pprof -text` lists them: a list of
        TopRow (flat, flat_pct, sum_pct, cum, cum_pct, name), sorted by flat
        (cum=True: by cum). Values are in the sample type's own unit (bytes,
        nanoseconds, count), exact. node_fraction defaults to 0 (every node);
        pprof's default is 0.005. Other options as report()."""
        st = self.sample_types[self.sample_type_index(sample_type)] if self.sample_types \
            else None
        if "unit" not in options and st is not None:
            options["unit"] = st[1]
        text = self.report("top", sample_type=sample_type, node_count=node_count,
                           node_fraction=node_fraction, **options)
        return parse_top(text)

    # -- output ---------------------------------------------------------------

    def dumps(self, format, **options):
        """The profile in a format, as bytes. format is one of the names of
        formats() that can export ("pprof", "json", "folded", "callgrind",
        "speedscope", "svg"). Options:

        compress: None (the format's default: pprof is gzipped), False or
            "none", True or "gzip";
        sample_type: for formats of one value per stack (folded, svg);
        base: a Profile; folded writes "stack base new" lines, svg a
            differential flame graph;
        granularity: one of GRANULARITIES, for the frames of folded and svg;
        the SVG's flamegraph.pl options: title, subtitle, width, height,
            min_width, min_width_percent, font_type, font_size, count_name,
            colors, hash, reverse, inverted, negate.
        """
        return self._raw.write("", format, **self._write_options(options))

    def save(self, path, format=None, **options):
        """Write the profile to path, atomically (a failure leaves no file and
        an existing one untouched). format None takes it from the path's
        extension (".pb.gz", ".json", ".folded", ".svg", ...); a ".gz" suffix
        compresses. Options as dumps()."""
        self._raw.write(_os.fspath(path), format, **self._write_options(options))

    @staticmethod
    def _write_options(options):
        o = dict(options)
        if "compress" in o:
            c = o["compress"]
            if c not in _COMPRESS:
                raise InvalidArgumentError("compress must be None, False, True, 'none' or "
                                           "'gzip', not %r" % (c,))
            o["compress"] = _COMPRESS[c]
        if "granularity" in o:
            o["granularity"] = _granularity(o["granularity"])
        if o.get("base") is not None:
            o["base"] = o["base"]._raw
        if isinstance(o.get("sample_type"), int):
            o["sample_type"] = str(o["sample_type"])
        return o


def parse_top(text):
    """The rows of a `go tool pprof -text` report (TopRow list)."""
    rows = []
    in_rows = False
    for line in text.splitlines():
        if not in_rows:
            in_rows = line.split() == ["flat", "flat%", "sum%", "cum", "cum%"]
            continue
        m = _ROW.match(line)
        if m is None:
            raise Error("cannot read the report line %r" % line)
        flat, flat_pct, sum_pct, cum, cum_pct, name = m.groups()
        rows.append(TopRow(_number(flat), float(flat_pct), float(sum_pct), _number(cum),
                           float(cum_pct), name))
    return rows
