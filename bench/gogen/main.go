// gogen writes deterministic pprof profiles for the benchmark, built and
// encoded with github.com/google/pprof/profile (the package go tool pprof
// reads with), not with profkit: bench/run.sh BENCH_GENERATOR=gogen.
//
// Its shapes differ from bench/genprofile's on purpose: Go runtime and
// module names and paths (and a few C++ ones with spaces and '<&>'),
// location and function ids in order of first use, samples in a shuffled
// order, numeric labels with units, frames with no symbols, stacks that
// branch off earlier ones at any depth, a long-tailed depth, and Go's
// gzip level and field encoding (unpacked ids for stacks of 1 or 2).
//
// The program's shape (functions, locations, their calls, the stacks)
// depends on --seed alone; --variant changes which stacks the samples
// pick, their labels and values: the inputs of merge and diff.
package main

import (
	"flag"
	"fmt"
	"math"
	"math/rand"
	"os"
	"strings"

	"github.com/google/pprof/profile"
)

type config struct {
	samples, stacks, functions, locations int
	depth, maxDepth                       int
	labels, numLabels, labelValues        int
	inline, unsymbolized                  int
	heap, sparseIDs, bare                 bool
	seed, variant                         int64
	output                                string
}

var sizes = map[string][3]int{ // samples, stacks, functions
	"small":  {10000, 5000, 2500},
	"medium": {200000, 50000, 12000},
	"large":  {2000000, 500000, 30000},
}

func main() {
	var c config
	size := flag.String("size", "small", "preset: 10k, 200k or 2M samples (5k, 50k, 500k stacks)")
	flag.IntVar(&c.samples, "samples", 0, "number of samples (default: the size's)")
	flag.IntVar(&c.stacks, "stacks", 0, "number of distinct stacks (default: the size's)")
	flag.IntVar(&c.functions, "functions", 0, "number of functions (default: the size's)")
	flag.IntVar(&c.locations, "locations", 0, "number of locations (default 3 per function)")
	flag.IntVar(&c.depth, "depth", 18, "mean stack depth (log-normal)")
	flag.IntVar(&c.maxDepth, "max-depth", 128, "deepest stacks")
	flag.IntVar(&c.labels, "labels", 1, "string labels per sample (at most 8)")
	flag.IntVar(&c.numLabels, "num-labels", 1, "numeric labels per sample, with units, at most 5 (heap: plus 'bytes')")
	flag.IntVar(&c.labelValues, "label-values", 40, "distinct values of each label key")
	flag.IntVar(&c.inline, "inline", 15, "percentage of locations with inlined frames")
	flag.IntVar(&c.unsymbolized, "unsymbolized", 3, "percentage of locations with an address only")
	flag.BoolVar(&c.heap, "heap", false, "heap profile: 4 sample types (default: CPU, 2)")
	flag.BoolVar(&c.sparseIDs, "sparse-ids", false, "location ids are addresses, function ids scattered")
	flag.BoolVar(&c.bare, "bare", false, "what a minimal writer gives: no mappings, addresses, files, time or comments")
	flag.Int64Var(&c.seed, "seed", 1, "the program's shape")
	flag.Int64Var(&c.variant, "variant", 0, "which stacks samples pick, their labels and values")
	flag.StringVar(&c.output, "o", "", "output file (gzipped protobuf)")
	flag.Parse()
	if c.output == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	preset, ok := sizes[*size]
	if !ok {
		fmt.Fprintf(os.Stderr, "gogen: --size is small, medium or large, not '%s'\n", *size)
		os.Exit(2)
	}
	for i, v := range []*int{&c.samples, &c.stacks, &c.functions} {
		if *v <= 0 {
			*v = preset[i]
		}
	}
	if c.stacks < 1 || c.stacks > c.samples {
		c.stacks = c.samples
	}
	c.functions = max(c.functions, len(roots)+4)
	if c.locations < c.functions {
		c.locations = 3 * c.functions
	}
	c.maxDepth = max(c.maxDepth, 2)
	c.depth = min(max(c.depth, 2), c.maxDepth)
	c.labelValues = max(c.labelValues, 1)
	if c.bare {
		c.unsymbolized = 0 // a frame needs an address or a line
	}

	p := generate(&c)
	if err := p.CheckValid(); err != nil {
		fail(err)
	}
	f, err := os.Create(c.output)
	if err != nil {
		fail(err)
	}
	if err := p.Write(f); err != nil {
		fail(err)
	}
	if err := f.Close(); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "gogen: %v\n", err)
	os.Exit(1)
}

func max(a, b int) int {
	if a > b {
		return a
	}
	return b
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}

// Every stack starts at one of these, as Go's do.
var roots = []string{"runtime.goexit", "runtime.main", "runtime.mstart", "runtime.mcall"}

var (
	goPackages = []string{"runtime", "net/http", "encoding/json", "sync", "bufio", "crypto/tls",
		"compress/flate", "reflect", "sort", "strconv", "database/sql", "context", "io"}
	words = []string{"conn", "server", "handler", "decodeState", "encodeState", "Pool", "Reader",
		"Writer", "Conn", "compressor", "Value", "Map", "Cache", "Tx", "Rows", "Stmt", "scanner",
		"mheap", "mcache", "gcWork", "Mutex", "WaitGroup", "Builder", "Decoder", "Encoder"}
	verbs = []string{"serve", "Read", "Write", "readRequest", "object", "value", "literalStore",
		"Get", "Put", "Lock", "Unlock", "Flush", "Next", "Scan", "Exec", "QueryContext",
		"mallocgc", "scanobject", "findRunnable", "deflate", "Handle", "marshal", "unmarshal"}
	modules = []string{"github.com/acme/billing", "github.com/acme/gateway", "go.uber.org/zap",
		"google.golang.org/grpc", "github.com/jackc/pgx/v5", "golang.org/x/net",
		"github.com/prometheus/client_golang"}
	cxx = []string{"std::vector<std::pair<int, long>, std::allocator<std::pair<int, long> > >::push_back(std::pair<int, long> const&)",
		"std::map<std::string, int>::operator[](std::string const&)",
		"absl::flat_hash_map<K, V>::find<\"quoted\">(K const&) const",
		"operator new(unsigned long)", "(anonymous namespace)::Arena::Alloc(unsigned long)",
		"main.(*Κόσμος).Ζήτω"}
	labelKeys = []string{"handler", "tenant", "region", "rpc", "shard", "user", "op", "trace"}
	numKeys   = [][2]string{{"request_bytes", "bytes"}, {"queue_wait", "nanoseconds"},
		{"goid", ""}, {"batch", "count"}, {"latency", "milliseconds"}}
)

func pick(r *rand.Rand, list []string) string { return list[r.Intn(len(list))] }

// skewed is in [0, n), small values far more likely than large ones.
func skewed(r *rand.Rand, n int, power float64) int {
	return min(int(float64(n)*math.Pow(r.Float64(), power)), n-1)
}

func generate(c *config) *profile.Profile {
	shape := rand.New(rand.NewSource(c.seed))
	p := &profile.Profile{TimeNanos: 1700000000000000000 + c.variant*60000000000}
	if c.heap {
		p.SampleType = []*profile.ValueType{{Type: "alloc_objects", Unit: "count"},
			{Type: "alloc_space", Unit: "bytes"}, {Type: "inuse_objects", Unit: "count"},
			{Type: "inuse_space", Unit: "bytes"}}
		p.PeriodType = &profile.ValueType{Type: "space", Unit: "bytes"}
		p.Period = 512 * 1024
	} else {
		p.SampleType = []*profile.ValueType{{Type: "samples", Unit: "count"},
			{Type: "cpu", Unit: "nanoseconds"}}
		p.PeriodType = &profile.ValueType{Type: "cpu", Unit: "nanoseconds"}
		p.Period = 10000000
		p.DurationNanos = 30000000000
	}
	p.Comments = []string{fmt.Sprintf("gogen --seed %d --variant %d", c.seed, c.variant)}

	// Mappings: the Go binary, symbolized; libc and libstdc++ with
	// functions but no lines; the vdso and a stripped library, unsymbolized.
	maps := []*profile.Mapping{
		{File: "/app/bin/server", BuildID: "go-7f3a9c21d4e5b6a8", HasFunctions: true,
			HasFilenames: true, HasLineNumbers: true, HasInlineFrames: true},
		{File: "/lib/x86_64-linux-gnu/libc.so.6", BuildID: "c0ffee1234567890", HasFunctions: true},
		{File: "/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30", HasFunctions: true},
		{File: "[vdso]"},
		{File: "/opt/vendor/lib/libstripped.so"},
	}
	for i, m := range maps {
		m.ID = uint64(i + 1)
		m.Start = 0x400000 + uint64(i)<<32
		m.Limit = m.Start + 0x40000000
		m.Offset = uint64(i) * 0x1000
	}
	p.Mapping = maps

	// Functions: runtime first (the roots), then the standard library,
	// modules, a few C++ ones in libstdc++; names repeat across packages.
	funcs := make([]*profile.Function, c.functions)
	funcMap := make([]*profile.Mapping, c.functions)
	for i := range funcs {
		f := &profile.Function{StartLine: int64(shape.Intn(3000) + 1)}
		funcMap[i] = maps[0]
		switch {
		case i < len(roots):
			f.Name = roots[i]
			f.Filename = "/usr/local/go/src/runtime/proc.go"
		case shape.Intn(50) == 0:
			f.Name = pick(shape, cxx)
			f.SystemName = fmt.Sprintf("_ZN%dfunction%dEv", len(f.Name), i)
			funcMap[i] = maps[1+shape.Intn(2)]
		case shape.Intn(3) == 0:
			pkg := pick(shape, goPackages)
			f.Name = fmt.Sprintf("%s.(*%s).%s", pkg, pick(shape, words), pick(shape, verbs))
			if shape.Intn(3) == 0 {
				f.Name += fmt.Sprintf(".func%d", shape.Intn(4)+1)
			}
			f.Filename = fmt.Sprintf("/usr/local/go/src/%s/%s.go", pkg, strings.ToLower(pick(shape, words)))
		default:
			mod := pick(shape, modules)
			sub := strings.ToLower(pick(shape, words))
			f.Name = fmt.Sprintf("%s/internal/%s.%s%s", mod, sub, pick(shape, verbs), pick(shape, words))
			if shape.Intn(6) == 0 {
				f.Name += "[...]"
			}
			f.Filename = fmt.Sprintf("/home/build/go/pkg/mod/%s@v1.%d.%d/internal/%s/%s_%d.go",
				mod, i%17, i%5, sub, strings.ToLower(pick(shape, verbs)), i%97)
		}
		// Names are not unique (a function can be in two files); keep
		// go tool pprof's and profkit's function identity the same.
		if f.SystemName == "" {
			f.SystemName = f.Name
		}
		funcs[i] = f
	}

	// Locations: call sites in the functions, the roots first; some with
	// inlined frames, a few with an address only.
	locs := make([]*profile.Location, c.locations)
	next := make([]uint64, len(maps))
	for i := range locs {
		fi := i
		if i >= len(roots) {
			fi = len(roots) + shape.Intn(c.functions-len(roots))
		}
		l := &profile.Location{Mapping: funcMap[fi]}
		if i >= len(roots) && shape.Intn(100) < c.unsymbolized {
			l.Mapping = maps[3+shape.Intn(2)]
		} else {
			if shape.Intn(100) < c.inline && i >= len(roots) {
				for k := shape.Intn(3); k >= 0; k-- {
					g := funcs[len(roots)+shape.Intn(c.functions-len(roots))]
					l.Line = append(l.Line, profile.Line{Function: g, Line: g.StartLine + int64(shape.Intn(80))})
				}
			}
			f := funcs[fi]
			l.Line = append(l.Line, profile.Line{Function: f, Line: f.StartLine + int64(shape.Intn(200))})
		}
		m := l.Mapping.ID - 1
		next[m] += 1 + uint64(shape.Intn(200))
		l.Address = l.Mapping.Start + next[m]
		locs[i] = l
	}

	// Each call site calls a few others, popular ones (the allocator,
	// locks) far more often.
	callees := make([][]int32, c.locations)
	for i := range callees {
		n := 2 + shape.Intn(7)
		for k := 0; k < n; k++ {
			callees[i] = append(callees[i], int32(len(roots)+skewed(shape, c.locations-len(roots), 2)))
		}
	}

	// Stacks, root first: each starts at a root or branches off an earlier
	// stack at any depth, then walks down the calls to a log-normal depth.
	stacks := make([][]int32, 0, c.stacks)
	seen := make(map[string]bool, c.stacks)
	const sigma = 0.6
	mu := math.Log(float64(c.depth)) - sigma*sigma/2
	misses := 0
	for len(stacks) < c.stacks {
		var path []int32
		if len(stacks) == 0 || shape.Intn(10) == 0 {
			path = []int32{int32(shape.Intn(len(roots)))}
		} else {
			parent := stacks[skewed(shape, len(stacks), 1.5)]
			path = append(path, parent[:1+shape.Intn(len(parent))]...)
		}
		depth := int(math.Round(math.Exp(mu + sigma*shape.NormFloat64())))
		depth = min(max(depth, len(path)+1), c.maxDepth)
		for len(path) < depth {
			cs := callees[path[len(path)-1]]
			path = append(path, cs[shape.Intn(len(cs))])
		}
		key := stackKey(path)
		if seen[key] {
			if misses++; misses > 1000000 {
				fail(fmt.Errorf("cannot make %d distinct stacks from %d locations", c.stacks, c.locations))
			}
			continue
		}
		seen[key] = true
		stacks = append(stacks, path)
	}
	seen = nil

	// Samples: every stack once, then skewed picks, in a shuffled order;
	// each sample's labels are its own.
	r := rand.New(rand.NewSource(c.seed*1000003 + c.variant + 1))
	order := make([]int32, c.samples)
	for i := range order {
		if i < c.stacks {
			order[i] = int32(i)
		} else {
			order[i] = int32(skewed(r, c.stacks, 3))
		}
	}
	r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	leafFirst := make([][]*profile.Location, c.stacks)
	labelCount := min(c.labels, len(labelKeys))
	numCount := min(c.numLabels, len(numKeys))
	for _, s := range order {
		if leafFirst[s] == nil {
			path := stacks[s]
			st := make([]*profile.Location, len(path))
			for k, l := range path {
				st[len(path)-1-k] = locs[l]
			}
			leafFirst[s] = st
		}
		sm := &profile.Sample{Location: leafFirst[s]}
		count := int64(1 + skewed(r, 40, 4))
		if c.heap {
			size := int64(8 << uint(r.Intn(12)))
			if r.Intn(100) == 0 {
				size = int64(1<<20 + r.Intn(1<<24))
			}
			objects := count * int64(1+r.Intn(1000))
			inuse := objects * int64(r.Intn(101)) / 100
			sm.Value = []int64{objects, objects * size, inuse, inuse * size}
			sm.NumLabel = map[string][]int64{"bytes": {size}}
			sm.NumUnit = map[string][]string{"bytes": {"bytes"}}
		} else {
			sm.Value = []int64{count, count * p.Period}
		}
		for k := 0; k < labelCount; k++ {
			if sm.Label == nil {
				sm.Label = map[string][]string{}
			}
			key := labelKeys[k]
			sm.Label[key] = []string{fmt.Sprintf("%s-%d", key, skewed(r, c.labelValues, 2))}
		}
		for k := 0; k < numCount; k++ {
			if sm.NumLabel == nil {
				sm.NumLabel, sm.NumUnit = map[string][]int64{}, map[string][]string{}
			}
			key, unit := numKeys[k][0], numKeys[k][1]
			sm.NumLabel[key] = []int64{int64(skewed(r, c.labelValues, 2)) * 1000}
			sm.NumUnit[key] = []string{unit}
		}
		p.Sample = append(p.Sample, sm)
	}

	// Ids in order of first use, as the Go runtime gives them; or
	// scattered, which no reader may take for indexes.
	usedLoc := map[*profile.Location]bool{}
	usedFunc := map[*profile.Function]bool{}
	for _, sm := range p.Sample {
		for _, l := range sm.Location {
			if usedLoc[l] {
				continue
			}
			usedLoc[l] = true
			p.Location = append(p.Location, l)
			l.ID = uint64(len(p.Location))
			if c.sparseIDs {
				l.ID = l.Address
			}
			for _, ln := range l.Line {
				if usedFunc[ln.Function] {
					continue
				}
				usedFunc[ln.Function] = true
				p.Function = append(p.Function, ln.Function)
				ln.Function.ID = uint64(len(p.Function))
				if c.sparseIDs {
					ln.Function.ID = uint64(len(p.Function))*7919 + 1<<40
				}
			}
		}
	}
	if c.bare {
		p.Mapping, p.Comments, p.TimeNanos, p.DurationNanos = nil, nil, 0, 0
		for _, l := range p.Location {
			l.Mapping, l.Address = nil, 0
		}
		for _, f := range p.Function {
			f.SystemName, f.Filename, f.StartLine = "", "", 0
		}
	}
	return p
}

func stackKey(path []int32) string {
	var b strings.Builder
	b.Grow(4 * len(path))
	for _, l := range path {
		b.WriteByte(byte(l))
		b.WriteByte(byte(l >> 8))
		b.WriteByte(byte(l >> 16))
		b.WriteByte(byte(l >> 24))
	}
	return b.String()
}
