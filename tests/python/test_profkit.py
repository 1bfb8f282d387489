"""Tests of the Python bindings (bindings/python), run by tests/python/run.sh
under make check with profkit imported from the build tree."""

import gc
import io
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import tracemalloc
import unittest

import profkit

SRCDIR = pathlib.Path(os.environ.get("TOP_SRCDIR", pathlib.Path(__file__).resolve().parents[2]))
FIXTURES = SRCDIR / "tests" / "fixtures" / "pprof"
BROKEN = SRCDIR / "tests" / "data" / "broken"
HEAP = FIXTURES / "heap.pb.gz"
CPU = FIXTURES / "cpu.pb.gz"


def frame_key(f):
    return (f.function, f.file, f.line, f.address, f.inlined, f.system_name, f.column, f.mapping)


def model(p):
    """Everything the API shows of a profile, as plain values."""
    return {
        "sample_types": p.sample_types,
        "default_sample_type": p.default_sample_type,
        "period_type": p.period_type,
        "period": p.period,
        "time": p.time,
        "duration": p.duration,
        "comments": p.comments,
        "drop_frames": p.drop_frames,
        "keep_frames": p.keep_frames,
        "doc_url": p.doc_url,
        "functions": p.functions(),
        "samples": [(tuple(frame_key(f) for f in s.stack), s.values, s.labels) for s in p],
    }


def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class ModelTest(unittest.TestCase):
    def setUp(self):
        self.heap = profkit.load(HEAP)

    def test_header(self):
        p = self.heap
        self.assertEqual(p.sample_types, [("alloc_objects", "count"), ("alloc_space", "bytes"),
                                          ("inuse_objects", "count"), ("inuse_space", "bytes")])
        self.assertIsNone(p.default_sample_type)
        self.assertEqual(p.period_type, ("space", "bytes"))
        self.assertEqual(p.period, 524288 // 128)
        self.assertGreater(p.time, 0)
        self.assertEqual(p.duration, 0)
        self.assertEqual(p.comments, [])
        self.assertIsNone(p.drop_frames)
        self.assertIsNone(p.keep_frames)
        self.assertIsNone(p.doc_url)
        self.assertEqual(p.format, "pprof")
        self.assertIn("306 samples", repr(p))

    def test_samples(self):
        p = self.heap
        self.assertEqual(len(p), 306)
        samples = list(p)
        self.assertEqual(len(samples), 306)
        self.assertEqual(p.samples, samples)
        self.assertEqual(p[0], samples[0])
        self.assertEqual(p[-1], samples[-1])
        self.assertEqual(p[1:3], samples[1:3])
        with self.assertRaises(IndexError):
            p[306]
        s = samples[0]
        self.assertEqual(len(s.values), 4)
        self.assertIsInstance(s.stack, tuple)
        # Leaf first: the root of a Go stack is runtime.main or runtime.goexit.
        self.assertIn(s.stack[-1].function, ("runtime.main", "runtime.goexit", "runtime.bgscavenge"))
        f = s.stack[0]
        self.assertIsInstance(f.function, str)
        self.assertIsInstance(f.line, int)
        self.assertIsInstance(f.address, int)
        self.assertIsInstance(f.inlined, bool)
        self.assertIsInstance(f.mapping, str)
        # Inlined frames come before the function they were inlined into.
        inlined = [(st.stack, i) for st in samples for i, fr in enumerate(st.stack) if fr.inlined]
        self.assertTrue(inlined)
        for stack, i in inlined:
            self.assertLess(i + 1, len(stack))
            self.assertEqual(stack[i].address, stack[i + 1].address)

    def test_labels(self):
        labeled = [s for s in profkit.load(FIXTURES / "pipeline_cpu.pb.gz") if s.labels]
        if not labeled:
            self.skipTest("the fixture has no labels")
        label = labeled[0].labels[0]
        self.assertIsInstance(label.key, str)
        self.assertTrue(isinstance(label.value, (str, int)))
        if isinstance(label.value, str):
            self.assertIsNone(label.unit)

    def test_functions(self):
        fns = self.heap.functions()
        self.assertTrue(fns)
        self.assertTrue(any(f.name == "main.main" for f in fns))
        self.assertIsInstance(fns[0], profkit.Function)
        self.assertEqual(len(fns[0]), 4)

    def test_total_and_sample_type_index(self):
        p = self.heap
        self.assertEqual(p.sample_type_index(), 3)
        self.assertEqual(p.sample_type_index("alloc_space"), 1)
        self.assertEqual(p.sample_type_index(0), 0)
        want = sum(s.values[1] for s in p)
        self.assertEqual(p.total("alloc_space"), want)
        self.assertEqual(p.total(1), want)
        self.assertEqual(p.total(), sum(s.values[3] for s in p))
        with self.assertRaises(profkit.NotFoundError) as cm:
            p.total("nope")
        self.assertIsInstance(cm.exception, LookupError)

    def test_select(self):
        q = self.heap.select("alloc_space")
        self.assertEqual(q.default_sample_type, "alloc_space")
        self.assertEqual(q.sample_types, self.heap.sample_types)
        self.assertEqual(q.total(), self.heap.total("alloc_space"))
        self.assertEqual(q.dumps("folded"), self.heap.dumps("folded", sample_type="alloc_space"))
        self.assertIsNone(self.heap.default_sample_type)  # unchanged

    def test_build_info(self):
        info = profkit.build_info()
        self.assertEqual(info["profkit_version"], profkit.version())
        self.assertEqual(info["python_version"].split(".")[:2],
                         [str(sys.version_info.major), str(sys.version_info.minor)])
        self.assertIn("pprof", info["formats"])
        self.assertTrue(info["extension"].endswith(
            __import__("sysconfig").get_config_var("EXT_SUFFIX")))
        self.assertTrue(any(f[0] == "svg" and not f[2] and f[3] for f in profkit.formats()))

    def test_constructor(self):
        with self.assertRaises(TypeError):
            profkit.Profile()


class OperationTest(unittest.TestCase):
    def setUp(self):
        self.t1 = profkit.load(FIXTURES / "heap_t1.pb.gz")
        self.t2 = profkit.load(FIXTURES / "heap_t2.pb.gz")

    def test_merge(self):
        m = profkit.merge([self.t1, self.t2])
        for i in range(4):
            self.assertEqual(m.total(i), self.t1.total(i) + self.t2.total(i))
        self.assertEqual(model(profkit.merge(iter([self.t1]))), model(profkit.merge([self.t1])))
        with self.assertRaises(profkit.Error):
            profkit.merge([self.t1, profkit.load(CPU)])
        with self.assertRaises(TypeError):
            profkit.merge([self.t1, 3])

    def test_diff(self):
        d = self.t2.diff(self.t1)
        for i in range(4):
            self.assertEqual(d.total(i), self.t2.total(i) - self.t1.total(i))
        self.assertTrue(any(v < 0 for s in d for v in s.values))
        self.assertEqual(len(self.t2.diff(self.t2)), 0)
        db = self.t2.diff(self.t1, diff_base=True)
        self.assertTrue(any(l.key == "pprof::base" for s in db for l in s.labels))

    def test_scale(self):
        s = self.t1.scale(2)
        self.assertEqual(s.total(), 2 * self.t1.total())
        n = self.t1.scale(-1)
        self.assertEqual(n.total(), -self.t1.total())

    def test_filter(self):
        p = self.t2
        f = p.filter(focus="main\\.")
        self.assertTrue(all(any(fr.function.startswith("main.") for fr in s.stack) for s in f))
        self.assertLess(f.total("alloc_space"), p.total("alloc_space"))
        i = p.filter(ignore="main\\.")
        self.assertEqual(f.total("alloc_space") + i.total("alloc_space"), p.total("alloc_space"))
        h = p.filter(hide="^runtime\\.")
        self.assertFalse(any(fr.function.startswith("runtime.") for s in h for fr in s.stack))
        sh = p.filter(show="^main\\.")
        self.assertTrue(all(fr.function.startswith("main.") for s in sh for fr in s.stack))
        self.assertEqual(len(p.filter(tagfocus="nosuchlabel=x")), 0)
        self.assertEqual(len(p.filter(tagignore="nosuchlabel=x")), len(p))
        with self.assertRaises(profkit.InvalidArgumentError) as cm:
            p.filter(focus="(")
        self.assertIsInstance(cm.exception, ValueError)
        self.assertIn("focus", cm.exception.message)

    def test_aggregate(self):
        p = self.t2
        for g in profkit.GRANULARITIES:
            a = p.aggregate(g)
            self.assertEqual(a.total(), p.total(), g)
        files = p.aggregate("files")
        self.assertTrue(all(fr.function == "" for s in files for fr in s.stack))
        no_inl = p.aggregate("functions", inlines=False)
        self.assertFalse(any(fr.inlined for s in no_inl for fr in s.stack))
        with self.assertRaises(profkit.InvalidArgumentError):
            p.aggregate("words")

    def test_reports(self):
        p = self.t2
        top = p.report("top")
        self.assertIn("flat  flat%   sum%        cum   cum%", top)
        self.assertIn("Type: inuse_space", top)
        self.assertIn("Type: alloc_space", p.report("top", sample_type="alloc_space"))
        self.assertIn("-----------", p.report("tree"))
        self.assertIn("-----------", p.report("traces"))
        self.assertIn("Active filters", p.report("top", focus="main"))
        with self.assertRaises(profkit.InvalidArgumentError):
            p.report("graph")

    def test_top(self):
        p = self.t2
        rows = p.top()
        self.assertTrue(rows)
        self.assertIsInstance(rows[0].flat, int)
        self.assertEqual(sum(r.flat for r in rows), p.total())
        self.assertAlmostEqual(rows[-1].sum_pct, 100, delta=0.01)
        self.assertEqual(len(p.top(3)), 3)
        cum = p.top(cum=True)
        self.assertEqual(cum, sorted(cum, key=lambda r: -r.cum))
        self.assertTrue(any(r.name.endswith(".go") for r in p.top(granularity="files")))
        self.assertEqual(profkit.parse_top(""), [])

    @unittest.skipUnless(shutil.which("go"), "go is not installed")
    def test_top_matches_go_tool_pprof(self):
        for fixture, index, unit in (("heap.pb.gz", "alloc_space", "bytes"),
                                     ("cpu.pb.gz", None, "nanoseconds")):
            cmd = ["go", "tool", "pprof", "-text", "-nodefraction=0", "-unit=" + unit]
            if index:
                cmd.append("-sample_index=" + index)
            out = subprocess.run(cmd + [str(FIXTURES / fixture)], capture_output=True,
                                 text=True, env=dict(os.environ, TZ="UTC"), timeout=300)
            self.assertEqual(out.returncode, 0, out.stderr)
            want = [(r.flat, r.cum, r.name) for r in profkit.parse_top(out.stdout)]
            got = [(r.flat, r.cum, r.name)
                   for r in profkit.load(FIXTURES / fixture).top(sample_type=index)]
            self.assertTrue(want)
            self.assertEqual(got, want, fixture)


class OutputTest(unittest.TestCase):
    def setUp(self):
        self.heap = profkit.load(HEAP)
        self.tmp = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def test_round_trip_pprof_json_pprof(self):
        for fixture in sorted(FIXTURES.glob("*.pb.gz")):
            p = profkit.load(fixture)
            j = profkit.load(p.dumps("json"))
            self.assertEqual(j.format, "json")
            back = profkit.load(j.dumps("pprof"))
            self.assertEqual(model(back), model(p), fixture.name)
            self.assertEqual(model(j), model(p), fixture.name)

    def test_every_export_format(self):
        exports = [f for f in profkit.formats() if f[3]]
        self.assertGreaterEqual(len(exports), 5)
        for name, _, readable, _ in exports:
            data = self.heap.dumps(name)
            self.assertIsInstance(data, bytes)
            self.assertTrue(data, name)
            if readable:
                back = profkit.load(data, format=name)
                self.assertTrue(len(back), name)
                # Every sample type that comes back keeps its total.
                for i, st in enumerate(back.sample_types):
                    if name == "folded":
                        st = self.heap.sample_types[self.heap.sample_type_index()]
                    self.assertEqual(back.total(i), self.heap.total(st[0]), (name, st))

    def test_dumps_options(self):
        p = self.heap
        self.assertEqual(p.dumps("pprof")[:2], b"\x1f\x8b")
        self.assertNotEqual(p.dumps("pprof", compress=False)[:2], b"\x1f\x8b")
        self.assertEqual(p.dumps("json", compress=True)[:2], b"\x1f\x8b")
        self.assertEqual(p.dumps("json", compress="none")[:1], b"{")
        svg = p.dumps("svg", title="Hello there", width=800, colors="mem", inverted=True)
        self.assertIn(b"Hello there", svg)
        self.assertIn(b'width="800"', svg)
        self.assertIn(b";", p.dumps("folded", granularity="files"))
        t1 = profkit.load(FIXTURES / "heap_t1.pb.gz")
        t2 = profkit.load(FIXTURES / "heap_t2.pb.gz")
        line = t2.dumps("folded", base=t1).splitlines()[0]
        self.assertRegex(line, rb" -?\d+ -?\d+$")
        with self.assertRaises(profkit.NotFoundError):
            p.dumps("nope")
        with self.assertRaises(profkit.InvalidArgumentError):
            p.dumps("pprof", compress="zstd")
        with self.assertRaises(TypeError):
            p.dumps("svg", colour="mem")
        with self.assertRaises(profkit.NotFoundError):
            p.dumps("folded", sample_type="nope")

    def test_save(self):
        for name in ("out.pb.gz", "out.pb", "out.json", "out.folded", "out.svg",
                     "callgrind.out.1", "out.speedscope.json", "out.json.gz"):
            path = os.path.join(self.tmp, name)
            self.heap.save(path)
            self.assertTrue(os.path.getsize(path) > 0, name)
            if not name.endswith(".svg"):
                self.assertTrue(len(profkit.load(path)), name)
        path = pathlib.Path(self.tmp) / "x.data"
        self.heap.save(path, "json")
        self.assertEqual(profkit.load(path).format, "json")
        with self.assertRaises(profkit.Error):
            self.heap.save(os.path.join(self.tmp, "x.unknown"))
        with self.assertRaises(profkit.FileError) as cm:
            self.heap.save(os.path.join(self.tmp, "no", "such", "dir.pb.gz"))
        self.assertIsInstance(cm.exception, OSError)

    def test_load_sources(self):
        data = HEAP.read_bytes()
        want = model(self.heap)
        self.assertEqual(model(profkit.load(data)), want)
        self.assertEqual(model(profkit.load(bytearray(data))), want)
        self.assertEqual(model(profkit.load(memoryview(data))), want)
        self.assertEqual(model(profkit.load(str(HEAP))), want)
        with open(HEAP, "rb") as f:
            self.assertEqual(model(profkit.load(f)), want)
        self.assertEqual(model(profkit.load(io.BytesIO(data), format="pprof")), want)
        folded = profkit.load(io.StringIO("a;b 3\na;c 4\n"))
        self.assertEqual(folded.total(), 7)
        self.assertEqual([f.function for f in folded[0].stack], ["b", "a"])
        with self.assertRaises(TypeError):
            profkit.load(42)
        with self.assertRaises(profkit.OutOfMemoryError) as cm:
            profkit.load(data, max_size=100)
        self.assertIsInstance(cm.exception, MemoryError)


class ErrorTest(unittest.TestCase):
    def test_broken_inputs(self):
        cases = sorted(d for d in BROKEN.iterdir() if (d / "error").exists())
        self.assertGreater(len(cases), 20)
        for case in cases:
            want = (case / "error").read_text().strip()
            m = re.match(r"^(?:byte (\d+)|(\d+):(\d+)): (.*)$", want, re.S)
            self.assertIsNotNone(m, case.name)
            with self.assertRaises(profkit.Error, msg=case.name) as cm:
                profkit.load(case / "input")
            e = cm.exception
            self.assertEqual(e.message, m.group(4), case.name)
            self.assertEqual(e.source, str(case / "input"), case.name)
            if m.group(1) is not None:
                self.assertEqual(e.offset, int(m.group(1)), case.name)
            else:
                self.assertEqual((e.line, e.column), (int(m.group(2)), int(m.group(3))),
                                 case.name)
            self.assertIsInstance(e, (profkit.FormatError, profkit.OutOfMemoryError), case.name)
            self.assertTrue(str(e).startswith(str(case / "input") + ":"), case.name)
            self.assertLess(e.code, 0)

    def test_buffer_error_names_source(self):
        with self.assertRaises(profkit.FormatError) as cm:
            profkit.load(b"a;b 3\n;c 4\n", source_name="mem.folded")
        e = cm.exception
        self.assertEqual((e.source, e.line, e.column), ("mem.folded", 2, 1))
        self.assertEqual(e.format, "folded")
        self.assertIsInstance(e, ValueError)

    def test_error_classes(self):
        with self.assertRaises(profkit.FileError) as cm:
            profkit.load("/nonexistent/file.pb.gz")
        self.assertIsInstance(cm.exception, OSError)
        self.assertEqual(cm.exception.source, "/nonexistent/file.pb.gz")
        with self.assertRaises(profkit.UnsupportedError):
            profkit.load(b"<svg/>", format="svg")
        with self.assertRaises(profkit.NotFoundError):
            profkit.load(b"", format="nope")
        for cls in (profkit.FormatError, profkit.FileError, profkit.UnsupportedError,
                    profkit.NotFoundError, profkit.OutOfMemoryError,
                    profkit.InvalidArgumentError):
            self.assertTrue(issubclass(cls, profkit.Error))


class ResourceTest(unittest.TestCase):
    def test_no_leak(self):
        data = HEAP.read_bytes()

        def cycle(n):
            for _ in range(n):
                p = profkit.load(data)
                p[0]
                p.top(3)
                del p

        cycle(50)
        gc.collect()
        tracemalloc.start()
        before_rss = rss_kb()
        snap = tracemalloc.take_snapshot()
        cycle(1000)
        gc.collect()
        grown = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(snap, "filename"))
        tracemalloc.stop()
        self.assertLess(grown, 64 * 1024, "Python memory grew by %d bytes" % grown)
        rss_growth = rss_kb() - before_rss
        # AddressSanitizer holds freed memory in quarantine, so RSS says
        # nothing there (the C tests check the library for leaks there).
        if "ASAN_OPTIONS" not in os.environ:
            self.assertLess(rss_growth, 8 * 1024, "RSS grew by %d kB" % rss_growth)

    def test_threads(self):
        paths = [FIXTURES / n for n in ("heap.pb.gz", "cpu.pb.gz", "allocs.pb.gz", "mutex.pb.gz")]
        want = {str(p): model(profkit.load(p)) for p in paths}
        got, errors = {}, []

        def work(path):
            try:
                for _ in range(5):
                    p = profkit.load(path)
                    p.dumps("json")
                got[str(path)] = model(p)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(p,)) for p in paths]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(got, want)

        # One profile shared by 4 threads.
        shared = profkit.load(HEAP)
        outs = [None] * 4

        def export(i):
            outs[i] = shared.dumps("folded")

        threads = [threading.Thread(target=export, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(len(set(outs)), 1)


class ExampleTest(unittest.TestCase):
    def run_example(self, *args):
        script = SRCDIR / "examples" / "leak_report.py"
        return subprocess.run([sys.executable, str(script)] + list(args), capture_output=True,
                              text=True, timeout=120)

    def test_leak_report(self):
        t1, t2 = str(FIXTURES / "heap_t1.pb.gz"), str(FIXTURES / "heap_t2.pb.gz")
        growth = (profkit.load(FIXTURES / "heap_t2.pb.gz").total("inuse_space")
                  - profkit.load(FIXTURES / "heap_t1.pb.gz").total("inuse_space"))
        self.assertGreater(growth, 0)
        ok = self.run_example(t1, t2, "--threshold", str(growth + 1))
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertIn("flat", ok.stdout)
        bad = self.run_example(t1, t2, "--threshold", "%dB" % (growth - 1))
        self.assertEqual(bad.returncode, 1, bad.stderr)
        self.assertIn("grew", bad.stderr)
        pct = self.run_example(t1, t2, "--threshold", "0.001%")
        self.assertEqual(pct.returncode, 1, pct.stderr)
        missing = self.run_example(t1, "/nonexistent.pb.gz")
        self.assertEqual(missing.returncode, 2)


if __name__ == "__main__":
    unittest.main()
