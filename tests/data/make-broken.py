#!/usr/bin/env python3
"""Write the broken inputs of tests/data/broken/ and, for each, the error
line profkit must print. Each input is built here byte by byte, so the
expected byte offsets are computed independently of profkit's decoder.
Run from anywhere: python3 tests/data/make-broken.py"""
import gzip
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "broken")
FIXTURES = os.path.join(HERE, "..", "fixtures", "pprof")


def varint(v):
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field, wire):
    return varint(field << 3 | wire)


def vfield(field, v):
    return key(field, 0) + varint(v)


def lfield(field, payload):
    return key(field, 2) + varint(len(payload)) + payload


class Msg:
    """A message built field by field, remembering where each field starts."""

    def __init__(self):
        self.data = bytearray()
        self.marks = {}

    def add(self, raw, mark=None):
        if mark:
            self.marks[mark] = len(self.data)
        self.data += raw
        return self


STRINGS = [b"", b"samples", b"count", b"main", b"main.c", b"leaf"]


def strings():
    return b"".join(lfield(6, s) for s in STRINGS)


def function(fid, name, bad_name_mark=None):
    return lfield(5, vfield(1, fid) + vfield(2, name) + vfield(3, name) + vfield(4, 4))


def location(lid, fid):
    return lfield(4, vfield(1, lid) + lfield(4, vfield(1, fid) + vfield(2, 10)))


def sample(loc_ids, values):
    body = b"".join(vfield(1, l) for l in loc_ids) + b"".join(vfield(2, v) for v in values)
    return lfield(2, body)


SAMPLE_TYPE = lfield(1, vfield(1, 1) + vfield(2, 2))


def write(case, data, error):
    d = os.path.join(OUT, case)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "input"), "wb") as f:
        f.write(data)
    with open(os.path.join(d, "error"), "w") as f:
        f.write(error + "\n")


def main():
    write("empty", b"", "byte 0: empty input")

    heap = open(os.path.join(FIXTURES, "heap.pb.gz"), "rb").read()
    write("truncated-gzip", heap[:200],
          "byte 200: truncated gzip stream: the input ends before the gzip trailer")

    garbage = bytes((i * 37 + 11) % 251 for i in range(400))
    write("gzip-of-garbage", gzip.compress(garbage, mtime=0),
          "byte 0: not a profile in any format profkit reads (speedscope, json, callgrind, folded, pprof) after gunzip")

    # A valid gzip header followed by a deflate block of the reserved type 3.
    bad_deflate = gzip.compress(b"x", mtime=0)[:10] + b"\x07\x00\x00\x00"
    # zlib reports the error after taking in the block's first byte.
    write("corrupt-gzip", bad_deflate,
          "byte 11: corrupt gzip data: invalid block type")

    plain = gzip.decompress(heap)
    # Cut the plain protobuf short: the top-level field that spans the cut
    # promises more bytes than are left.
    cut = 60

    def read_varint(pos):
        value, shift = 0, 0
        while True:
            b = plain[pos]
            pos += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return value, pos

    pos = 0
    while True:
        start = pos
        k, pos = read_varint(pos)
        if k & 7 == 0:
            _, pos = read_varint(pos)
            continue
        length, pos = read_varint(pos)
        if pos + length > cut:
            break
        pos += length
    write("truncated-protobuf", plain[:cut],
          "byte %d: truncated protobuf: field %d claims %d bytes but its message has %d left"
          % (start, k >> 3, length, cut - pos))

    # A good first field, then a group (wire type 3, which profile.proto
    # never uses): detected as pprof by its first field, and the reader
    # names the bad one.
    m = Msg().add(SAMPLE_TYPE)
    m.add(key(3, 3), "bad")
    m.add(vfield(1, 1) + strings())
    write("group-wire-type", bytes(m.data),
          "byte %d: malformed protobuf: unsupported wire type 3 in field 3" % m.marks["bad"])

    # A function whose name is string 99 of a 6-string table.
    m = Msg().add(SAMPLE_TYPE).add(sample([1], [5])).add(location(1, 1))
    m.add(key(5, 2) + varint(8))
    m.add(vfield(1, 1))
    m.add(vfield(2, 99), "bad")
    m.add(vfield(3, 3) + vfield(4, 4))
    m.add(strings())
    write("bad-string-index", bytes(m.data),
          "byte %d: string index 99 is out of range: the string table has 6 strings" % m.marks["bad"])

    # A sample that names location 9; only location 1 exists.
    m = Msg().add(SAMPLE_TYPE)
    m.add(key(2, 2) + varint(4))
    m.add(vfield(1, 9), "bad")
    m.add(vfield(2, 5))
    m.add(location(1, 1)).add(function(1, 3)).add(strings())
    write("dangling-location-id", bytes(m.data),
          "byte %d: a sample refers to location id 9, which no location has" % m.marks["bad"])

    # A location line that names function 7; only function 1 exists.
    m = Msg().add(SAMPLE_TYPE).add(sample([1], [5]))
    m.add(key(4, 2) + varint(8) + vfield(1, 1) + key(4, 2) + varint(4))
    m.add(vfield(1, 7), "bad")
    m.add(vfield(2, 10))
    m.add(function(1, 3)).add(strings())
    write("dangling-function-id", bytes(m.data),
          "byte %d: a line refers to function id 7, which no function has" % m.marks["bad"])

    # Two locations with id 1.
    m = Msg().add(SAMPLE_TYPE).add(sample([1], [5])).add(location(1, 1))
    m.add(location(1, 1), "bad")
    m.add(function(1, 3)).add(strings())
    write("duplicate-location-id", bytes(m.data),
          "byte %d: two locations have the id 1" % m.marks["bad"])

    # Two values for one sample type.
    m = Msg().add(SAMPLE_TYPE)
    m.add(sample([1], [5, 6]), "bad")
    m.add(location(1, 1)).add(function(1, 3)).add(strings())
    write("wrong-value-count", bytes(m.data),
          "byte %d: a sample has 2 values but the profile has 1 sample types" % m.marks["bad"])

    # Two profiles glued together: pprof refuses a second time_nanos.
    one = SAMPLE_TYPE + vfield(9, 1000) + strings()
    m = Msg().add(one)
    m.add(vfield(9, 2000), "bad")
    m.add(SAMPLE_TYPE + strings())
    write("concatenated-profiles", bytes(m.data),
          "byte %d: a second time_nanos field: two profiles were concatenated" % m.marks["bad"])

    folded_cases()
    callgrind_cases()
    speedscope_cases()


def folded(case, data, bad, message):
    """A folded input whose error is at byte `bad`: the line and column
    (characters, not bytes) are counted here from the bytes."""
    line = data[:bad].count(b"\n") + 1
    start = data.rfind(b"\n", 0, bad) + 1
    column = len(data[start:bad].decode("utf-8")) + 1
    write(case, data, "%d:%d: %s" % (line, column, message))


def folded_cases():
    # Every input starts with well-formed lines (the sniffer looks at two),
    # so that it is detected as folded stacks; the error comes after.
    good = b"main;work 3\nmain;idle 2\n"
    data = good + b"main;sleep\n"
    folded("folded-no-count", data, len(data) - 1,
           "expected a count (digits after a space or tab) at the end of the line")
    data = good + b"main;work 1e3\n"
    folded("folded-bad-count", data, data.index(b"1e3"),
           "expected a count (digits after a space or tab) at the end of the line")
    data = good + b"main;work 3 \n"
    folded("folded-space-after-count", data, len(data) - 2,
           "the line ends in whitespace instead of a count")
    data = b"main;;work 3\n"
    folded("folded-empty-frame", data, 5, "two ';' in a row make an empty frame name")
    data = b";main;work 3\n"
    folded("folded-leading-semicolon", data, 0,
           "the stack starts with ';', an empty frame name")
    data = good + b"\r\n 7\r\n"
    folded("folded-count-without-stack", data, len(good) + 2,
           "a count without a stack")
    data = "caf\u00e9;cr\u00e8me 1\nna\u00efve;\u00fcber 99999999999999999999\n".encode()
    folded("folded-count-too-large", data, data.index(b"9999"),
           "the count 99999999999999999999 does not fit in 64 bits")
    data = b"main;a 0.5\nmain;b 9223372036854775807\n"
    folded("folded-scaled-count-too-large", data, data.index(b"9223"),
           "the count 9223372036854775807, multiplied by 10, does not fit in 64 bits")
    data = b"main;a 9223372036854775807\nmain;b 1\nmain;a 1\n"
    folded("folded-sum-too-large", data, len(data) - 2,
           "the counts of this stack add up to more than 64 bits hold")
    data = b"main;a 1 2\nmain;b 3\n"
    folded("folded-mixed-counts", data, len(data) - 2,
           "one count, but line 1 has two; every line needs the same number of counts")
    # Past the first 4096 bytes, where the sniffer looks for NUL bytes.
    data = good * 400 + b"main;b\x00d 2\n"
    folded("folded-nul-byte", data, data.index(b"\x00"), "a NUL byte; folded stacks are text")
    data = good + b"main;old\rmac 2\n"
    folded("folded-lone-carriage-return", data, data.index(b"\r"),
           "a carriage return inside a line; lines end in \\n or \\r\\n")


def callgrind_cases():
    # Each input starts as valgrind's files do, so that it is detected as
    # callgrind; folded() counts the line and column of the error.
    head = (b"# callgrind format\nversion: 1\ncreator: callgrind-3.19.0\n"
            b"positions: line\nevents: Ir\n\n")
    data = b"# callgrind format\nversion: 1\nfn=main\n1 5\nevents: Ir\n"
    folded("callgrind-cost-before-events", data, data.index(b"1 5"),
           "a cost line before the events: line")
    data = head + b"fl=(1) main.c\nfn=(2)\n"
    folded("callgrind-undefined-id", data, data.index(b"(2)"),
           "the compressed function id (2) is used before it is defined")
    data = head + b"fn=main\n1 5 6\n"
    folded("callgrind-too-many-costs", data, data.index(b"6\n"),
           "more costs than the 1 event of the events: line")
    data = head + b"fn=main\n1 5k\n"
    folded("callgrind-bad-cost", data, data.index(b"5k"),
           "expected a cost (a decimal or 0x hex number), found '5k'")
    data = head + b"fn=main\n1 9223372036854775808\n"
    folded("callgrind-cost-too-large", data, data.index(b"9223"),
           "the cost 9223372036854775808 is larger than 9223372036854775807, "
           "the largest profkit holds")
    data = head + b"fn=main\ncfn=work\ncalls=1 10\nfn=work\n10 5\n"
    folded("callgrind-calls-without-cost", data, data.index(b"\nfn=work") + 1,
           "expected the cost line of the calls= on line 9")
    data = head + b"fn=main\n12 1\n+ 2\n"
    folded("callgrind-bad-subposition", data, data.index(b"+ 2"),
           "expected a line number (a number, +N, -N or *), found '+'")
    data = head + b"fn=main\n3 1\n-5 1\n"
    folded("callgrind-negative-line", data, data.index(b"-5"),
           "the relative line number -5 goes below 0 from 3")
    data = b"# callgrind format\npositions: instr lines\nevents: Ir\n"
    folded("callgrind-unknown-position", data, data.index(b"lines"),
           "unknown position 'lines' (positions: names instr, bb and line)")
    data = b"# callgrind format\nversion: 2\n"
    folded("callgrind-version-2", data, data.index(b"2\n"),
           "version 2 of the callgrind format is not supported (profkit reads version 1)")
    data = b"# callgrind format\nversion: 1\nfn=main\n"
    folded("callgrind-no-events", data, len(data), "no events: line; a callgrind file needs one")
    data = head + b"fn=main\n1 5\nfn=ma\x00in\n"
    folded("callgrind-nul-byte", data, data.index(b"\x00"),
           "a NUL byte; callgrind files are text")


def speedscope_cases():
    # Each input has speedscope's "$schema", so that it is detected as a
    # speedscope file; folded() counts the line and column of the error.
    def doc(frames, profiles, extra=b""):
        return (b'{"$schema": "https://www.speedscope.app/file-format-schema.json",\n'
                b' "shared": {"frames": [' + frames + b']},\n'
                b' "profiles": [\n  ' + profiles + b'\n ]' + extra + b'}\n')
    ab = b'{"name": "A"}, {"name": "B"}'

    def sampled(samples, weights):
        return (b'{"type": "sampled", "name": "p", "unit": "none", "startValue": 0, '
                b'"endValue": 3,\n   "samples": ' + samples + b',\n   "weights": ' + weights + b'}')

    def evented(events):
        return (b'{"type": "evented", "name": "p", "unit": "none", "startValue": 0, '
                b'"endValue": 9,\n   "events": [\n    ' + b',\n    '.join(events) + b']}')

    data = doc(ab, sampled(b"[[0, 1], [0, 2]]", b"[1, 2]"))
    folded("speedscope-bad-frame-index", data, data.index(b"2]]"),
           'frame index 2 is not one of the 2 frames of "shared"')
    data = doc(ab, sampled(b"[[0, 1], [0]]", b"[1]"))
    folded("speedscope-weights-mismatch", data, data.index(b"[1]"),
           '"weights" has 1 numbers, but "samples" has 2 stacks')
    data = doc(ab, sampled(b"[[0, 1]]", b"[1e]"))
    folded("speedscope-bad-number", data, data.index(b"1e]"), "1e is not a JSON number")
    data = doc(ab, sampled(b"[[0, 1]]", b"[1e30]"))
    folded("speedscope-weight-too-large", data, data.index(b"1e30"),
           "the number 1e30 does not fit in 64 bits")
    data = doc(ab, sampled(b"[[0, 1]]", b"[1]").replace(b'"sampled"', b'"timed"'))
    folded("speedscope-bad-type", data, data.index(b'"timed"'),
           'a profile\'s "type" must be "sampled" or "evented"')
    data = doc(b'{"name": "A",}', sampled(b"[[0]]", b"[1]"))
    folded("speedscope-trailing-comma", data, data.index(b",}") + 1,
           "expected a key string, found '}'")
    data = doc(ab, sampled(b"[[0, 1]]", b"[1]"), b',\n "activeProfileIndex": 1')
    folded("speedscope-bad-active-profile", data, data.index(b"1}"),
           '"activeProfileIndex" is 1, but the file has 1 profiles')
    # speedscope's own sample/profiles/speedscope/invalid/ cases (MIT):
    # frames closed out of order, a frame never closed, time going back.
    events = [b'{"type": "O", "frame": 0, "at": 0}', b'{"type": "C", "frame": 0, "at": 1}',
              b'{"type": "O", "frame": 1, "at": 2}', b'{"type": "O", "frame": 0, "at": 2}',
              b'{"type": "O", "frame": 0, "at": 3}', b'{"type": "C", "frame": 0, "at": 4}',
              b'{"type": "C", "frame": 1, "at": 4}', b'{"type": "C", "frame": 0, "at": 5}']
    data = doc(ab, evented(events))
    folded("speedscope-out-of-order-events", data, data.index(events[6]),
           'event 6 closes frame 1 ("B"), but the frame open on top is 0 ("A")')
    data = doc(b'{"name": "A"}', evented([b'{"type": "O", "frame": 0, "at": 0}']))
    folded("speedscope-incomplete-trace", data, data.index(b"[\n    {"),
           'frame 0 ("A") is still open after the last event; every opened frame must be closed')
    events = [b'{"type": "O", "frame": 0, "at": 5}', b'{"type": "C", "frame": 0, "at": 4.5}']
    data = doc(ab, evented(events))
    folded("speedscope-time-goes-back", data, data.index(b"4.5"),
           "event 1 is at an earlier value than the event before it; events must be in order")
    data = doc(ab, evented([b'{"type": "C", "frame": 1, "at": 0}']))
    folded("speedscope-close-without-open", data, data.index(b'{"type": "C"'),
           'event 0 closes frame 1 ("B"), but no frame is open')


if __name__ == "__main__":
    main()
