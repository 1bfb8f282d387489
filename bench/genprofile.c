/* genprofile.c - write large, realistic pprof profiles for the benchmark.
 *
 * The profile is built with the public builder API, from a program shape
 * that depends on the seed alone: functions in a few mappings, call sites
 * (locations, some with inlined frames) that each call a handful of others,
 * and stacks that are random walks down that call graph from a few roots.
 * Samples pick stacks with a skew (a few hot stacks, a long tail), so the
 * profile looks like a real one. --variant changes only which stacks the
 * samples pick and their values, so variants of one seed share their
 * functions and stacks: the inputs of merge and diff. Everything comes
 * from our own PRNG, so a seed gives the same bytes on every machine. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profkit.h"

/* splitmix64: small, fast, and the same everywhere. */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

typedef struct rng {
	uint64_t state;
} rng;

static uint64_t next(rng *r)
{
	r->state += 0x9e3779b97f4a7c15ULL;
	return mix(r->state);
}

/* Uniform in [0, n). */
static uint64_t below(rng *r, uint64_t n)
{
	return n ? next(r) % n : 0;
}

static double unit(rng *r)
{
	return (double)(next(r) >> 11) / 9007199254740992.0;
}

typedef struct config {
	uint64_t samples, stacks, functions, mappings, seed, variant;
	unsigned depth, max_depth, labels;
	double inline_share;
	int heap;
	const char *output;
} config;

static const char *const words[] = {
    "http",    "server",  "handler", "json",   "encode", "decode", "cache",  "store",
    "query",   "index",   "parse",   "render", "buffer", "stream", "worker", "pool",
    "sched",   "alloc",   "hash",    "map",    "slice",  "sort",   "search", "compress",
    "crypto",  "tls",     "conn",    "read",   "write",  "flush",  "lock",   "queue",
    "request", "session", "metric",  "trace",  "log",    "config", "auth",   "token",
};
#define WORD_COUNT (sizeof words / sizeof words[0])

static void die(const char *what, const pk_error *err)
{
	char line[1024];
	if (err) {
		pk_error_describe(err, line, sizeof line);
		fprintf(stderr, "genprofile: %s: %s\n", what, line);
	} else {
		fprintf(stderr, "genprofile: %s\n", what);
	}
	exit(1);
}

#define CHECK(expr)                                                                                \
	do {                                                                                       \
		if ((expr) < 0)                                                                    \
			die(#expr, NULL);                                                          \
	} while (0)

static pk_str intern(pk_profile *p, const char *s)
{
	pk_str out;
	CHECK(pk_profile_intern(p, s, strlen(s), &out));
	return out;
}

/* The depth of stack s: about cfg->depth on average, some max_depth deep. */
static unsigned stack_depth(const config *cfg, rng *r)
{
	if (below(r, 100) == 0)
		return cfg->max_depth;
	/* a triangular spread around the mean, from 2 to twice the mean */
	unsigned lo = 2, hi = 2 * cfg->depth - 2;
	unsigned d = lo + (unsigned)((below(r, hi - lo + 1) + below(r, hi - lo + 1)) / 2);
	return d < cfg->max_depth ? d : cfg->max_depth;
}

static int usage(FILE *fp)
{
	fprintf(fp,
	        "Usage: genprofile -o OUT [options]\n\n"
	        "Write a deterministic, realistic pprof profile (gzipped protobuf) for the\n"
	        "benchmark.\n\n"
	        "  --size small|medium|large  preset: 10k, 200k or 2M samples (default small)\n"
	        "  --samples N          number of samples\n"
	        "  --stacks N           number of distinct stacks\n"
	        "  --functions N        number of functions\n"
	        "  --depth N            mean stack depth (default 30; 1%% of stacks are\n"
	        "                       --max-depth deep)\n"
	        "  --max-depth N        deepest stacks (default 200)\n"
	        "  --inline PCT         share of locations with inlined frames (default 20)\n"
	        "  --labels N           string labels per sample (default 1)\n"
	        "  --heap               heap profile: alloc_objects, alloc_space, inuse_objects,\n"
	        "                       inuse_space (default: CPU, samples and cpu)\n"
	        "  --mappings N         number of mappings (default 8)\n"
	        "  --seed N             the program's shape (default 1)\n"
	        "  --variant N          which stacks samples pick and their values (default 0)\n");
	return fp == stdout ? 0 : 2;
}

static uint64_t number(const char *opt, const char *text)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (end == text || *end != '\0' || errno != 0) {
		fprintf(stderr, "genprofile: %s needs a whole number, not '%s'\n", opt, text);
		exit(2);
	}
	return v;
}

static void preset(config *cfg, const char *size)
{
	if (strcmp(size, "small") == 0) {
		cfg->samples = 10000;
		cfg->stacks = 5000;
		cfg->functions = 3000;
	} else if (strcmp(size, "medium") == 0) {
		cfg->samples = 200000;
		cfg->stacks = 50000;
		cfg->functions = 15000;
	} else if (strcmp(size, "large") == 0) {
		cfg->samples = 2000000;
		cfg->stacks = 500000;
		cfg->functions = 40000;
	} else {
		fprintf(stderr, "genprofile: --size is small, medium or large, not '%s'\n", size);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	config cfg = {0};
	preset(&cfg, "small");
	cfg.mappings = 8;
	cfg.seed = 1;
	cfg.depth = 30;
	cfg.max_depth = 200;
	cfg.labels = 1;
	cfg.inline_share = 0.2;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
			return usage(stdout);
		if (strcmp(a, "--heap") == 0) {
			cfg.heap = 1;
			continue;
		}
		if (i + 1 >= argc)
			return usage(stderr);
		const char *v = argv[++i];
		if (strcmp(a, "-o") == 0)
			cfg.output = v;
		else if (strcmp(a, "--size") == 0)
			preset(&cfg, v);
		else if (strcmp(a, "--samples") == 0)
			cfg.samples = number(a, v);
		else if (strcmp(a, "--stacks") == 0)
			cfg.stacks = number(a, v);
		else if (strcmp(a, "--functions") == 0)
			cfg.functions = number(a, v);
		else if (strcmp(a, "--depth") == 0)
			cfg.depth = (unsigned)number(a, v);
		else if (strcmp(a, "--max-depth") == 0)
			cfg.max_depth = (unsigned)number(a, v);
		else if (strcmp(a, "--inline") == 0)
			cfg.inline_share = (double)number(a, v) / 100;
		else if (strcmp(a, "--labels") == 0)
			cfg.labels = (unsigned)number(a, v);
		else if (strcmp(a, "--mappings") == 0)
			cfg.mappings = number(a, v);
		else if (strcmp(a, "--seed") == 0)
			cfg.seed = number(a, v);
		else if (strcmp(a, "--variant") == 0)
			cfg.variant = number(a, v);
		else
			return usage(stderr);
	}
	if (cfg.output == NULL)
		return usage(stderr);
	if (cfg.stacks == 0 || cfg.stacks > cfg.samples)
		cfg.stacks = cfg.samples ? cfg.samples : 1;
	if (cfg.functions < 16)
		cfg.functions = 16;
	if (cfg.mappings == 0)
		cfg.mappings = 1;
	if (cfg.depth < 3)
		cfg.depth = 3;
	if (cfg.max_depth < cfg.depth)
		cfg.max_depth = cfg.depth;

	pk_profile *p;
	CHECK(pk_profile_new(&p));
	rng shape = {cfg.seed * 0x100000001b3ULL};

	static const char *const cpu_types[][2] = {{"samples", "count"}, {"cpu", "nanoseconds"}};
	static const char *const heap_types[][2] = {{"alloc_objects", "count"},
	                                            {"alloc_space", "bytes"},
	                                            {"inuse_objects", "count"},
	                                            {"inuse_space", "bytes"}};
	size_t type_count = cfg.heap ? 4 : 2;
	for (size_t t = 0; t < type_count; t++) {
		const char *const *pair = cfg.heap ? heap_types[t] : cpu_types[t];
		CHECK(pk_profile_add_sample_type(
		    p, (pk_value_type){intern(p, pair[0]), intern(p, pair[1])}));
	}
	if (cfg.heap) {
		pk_profile_set_period_type(p,
		                           (pk_value_type){intern(p, "space"), intern(p, "bytes")});
		pk_profile_set_period(p, 524288);
		pk_profile_set_default_sample_type(p, intern(p, "inuse_space"));
	} else {
		pk_profile_set_period_type(
		    p, (pk_value_type){intern(p, "cpu"), intern(p, "nanoseconds")});
		pk_profile_set_period(p, 10000000);
		pk_profile_set_duration_nanos(p, 30000000000LL);
	}
	pk_profile_set_time_nanos(p, 1700000000000000000LL + (int64_t)cfg.variant * 60000000000LL);

	/* Mappings: the main binary first, then shared libraries. */
	char name[256];
	uint64_t *map_start = calloc(cfg.mappings, sizeof *map_start);
	if (map_start == NULL)
		die("out of memory", NULL);
	for (uint64_t m = 0; m < cfg.mappings; m++) {
		pk_mapping pm = {0};
		if (m == 0)
			snprintf(name, sizeof name, "/usr/local/bin/server");
		else
			snprintf(name, sizeof name,
			         "/usr/lib/x86_64-linux-gnu/lib%s%" PRIu64 ".so.1",
			         words[m % WORD_COUNT], m);
		map_start[m] = 0x400000 + m * 0x10000000ULL;
		pm.memory_start = map_start[m];
		pm.memory_limit = map_start[m] + 0x10000000ULL;
		pm.filename = intern(p, name);
		snprintf(name, sizeof name, "%016" PRIx64 "%016" PRIx64, mix(m + cfg.seed),
		         mix(~m ^ cfg.seed));
		pm.build_id = intern(p, name);
		pm.has_functions = pm.has_filenames = pm.has_line_numbers = 1;
		pm.has_inline_frames = 1;
		CHECK(pk_profile_add_mapping(p, &pm, NULL));
	}

	/* Functions: package.Type.method names, in a few hundred files. */
	uint32_t *func_mapping = malloc(cfg.functions * sizeof *func_mapping);
	if (func_mapping == NULL)
		die("out of memory", NULL);
	uint64_t file_count = cfg.functions / 12 + 1;
	for (uint64_t f = 0; f < cfg.functions; f++) {
		pk_function pf = {0};
		uint64_t file = below(&shape, file_count);
		/* most code is in the main binary */
		func_mapping[f] = below(&shape, 3) ? 0 : (uint32_t)below(&shape, cfg.mappings);
		const char *pkg = words[mix(file) % WORD_COUNT];
		const char *pkg2 = words[mix(file + 7) % WORD_COUNT];
		if (f < 4) {
			static const char *const roots[] = {"runtime.main", "runtime.goexit",
			                                    "runtime.mcall", "runtime.mstart"};
			snprintf(name, sizeof name, "%s", roots[f]);
		} else {
			snprintf(name, sizeof name, "example.com/%s/%s.(*%s%s).%s%s%" PRIu64, pkg,
			         pkg2, words[below(&shape, WORD_COUNT)],
			         words[below(&shape, WORD_COUNT)], words[below(&shape, WORD_COUNT)],
			         words[below(&shape, WORD_COUNT)], f);
		}
		pf.name = pf.system_name = intern(p, name);
		snprintf(name, sizeof name, "/src/example.com/%s/%s/%s_%" PRIu64 ".go", pkg, pkg2,
		         words[mix(file + 3) % WORD_COUNT], file);
		pf.filename = intern(p, name);
		pf.start_line = (int64_t)below(&shape, 2000) + 1;
		CHECK(pk_profile_add_function(p, &pf, NULL));
	}

	/* Locations: about three call sites per function; some carry inlined
	 * frames (1 to 3 functions inlined into the site's function). */
	uint64_t loc_count = cfg.functions * 3;
	for (uint64_t l = 0; l < loc_count; l++) {
		uint32_t f = (uint32_t)(l < 4 ? l : below(&shape, cfg.functions - 4) + 4);
		pk_line lines[4];
		size_t n = 0;
		if (l >= 4 && unit(&shape) < cfg.inline_share) {
			size_t inl = 1 + (size_t)below(&shape, 3);
			for (size_t k = 0; k < inl; k++)
				lines[n++] =
				    (pk_line){(uint32_t)(below(&shape, cfg.functions - 4) + 4),
				              (int64_t)below(&shape, 3000) + 1, 0};
		}
		lines[n++] = (pk_line){f, (int64_t)below(&shape, 3000) + 1, 0};
		pk_location loc = {0};
		loc.mapping = func_mapping[f];
		loc.address = map_start[loc.mapping] + 0x1000 + l * 0x40 + below(&shape, 0x40);
		CHECK(pk_profile_add_location(p, &loc, lines, n, NULL));
	}
	free(func_mapping);
	free(map_start);

	/* Label values: a few keys with a few dozen values each. */
	static const char *const label_keys[] = {"handler", "tenant", "region", "span"};
	pk_str keys[4];
	pk_str values[4][32];
	for (size_t k = 0; k < 4; k++) {
		keys[k] = intern(p, label_keys[k]);
		for (size_t v = 0; v < 32; v++) {
			snprintf(name, sizeof name, "/%s/%s-%zu", words[(k * 11 + v) % WORD_COUNT],
			         words[(v * 7 + k) % WORD_COUNT], v);
			values[k][v] = intern(p, name);
		}
	}
	unsigned label_count = cfg.labels < 4 ? cfg.labels : 4;

	/* Samples. Stack s is a random walk that depends on seed and s only:
	 * from a root, each call site calls one of its 6 callees, chosen by a
	 * hash of the stack number's bits, the more of them the deeper. The first
	 * cfg.stacks samples take every stack once; the rest favour a few. */
	uint32_t *stack = malloc(cfg.max_depth * sizeof *stack);
	if (stack == NULL)
		die("out of memory", NULL);
	rng pick = {mix(cfg.seed) ^ mix(cfg.variant + 0x5eed)};
	unsigned bits = 1;
	while (bits < 63 && ((uint64_t)1 << bits) < cfg.stacks)
		bits++;
	for (uint64_t i = 0; i < cfg.samples; i++) {
		uint64_t s;
		if (i < cfg.stacks) {
			s = i;
		} else {
			double u = unit(&pick);
			s = (uint64_t)((double)cfg.stacks * u * u * u);
			if (s >= cfg.stacks)
				s = cfg.stacks - 1;
		}
		rng walk = {mix(cfg.seed * 31 + s)};
		unsigned depth = stack_depth(&cfg, &walk);
		uint64_t site = (s >> (bits > 2 ? bits - 2 : 0)) % 4;
		for (unsigned d = 0; d < depth; d++) {
			/* root first here; stacks are stored leaf first. Stacks
			 * whose numbers share their high bits share the frames
			 * near the root, as real call trees do. */
			stack[depth - 1 - d] = (uint32_t)site;
			unsigned shift = 2 * d + 2 < bits ? bits - 2 * d - 2 : 0;
			uint64_t choice = mix(cfg.seed ^ mix(s >> shift) ^ d) % 6;
			site = mix(site * 8 + choice + 1) % (loc_count - 4) + 4;
		}
		int64_t v[4];
		uint64_t count = 1 + below(&pick, 4) * below(&pick, 4);
		if (cfg.heap) {
			uint64_t size = (uint64_t)8 << below(&pick, 12);
			v[0] = (int64_t)count;
			v[1] = (int64_t)(count * size);
			v[2] = (int64_t)(count / 2);
			v[3] = (int64_t)(count / 2 * size);
		} else {
			v[0] = (int64_t)count;
			v[1] = (int64_t)count * 10000000;
		}
		pk_label labels[4];
		for (unsigned k = 0; k < label_count; k++)
			labels[k] = (pk_label){keys[k], values[k][below(&pick, 32)], 0, 0};
		CHECK(pk_profile_add_sample(p, stack, depth, v, type_count, labels, label_count));
	}
	free(stack);

	pk_error err = PK_ERROR_INIT;
	pk_write_options w = PK_WRITE_OPTIONS_INIT;
	w.format = pk_format_by_name("pprof");
	w.compress = PK_COMPRESS_GZIP;
	if (pk_profile_write_path(p, cfg.output, &w, &err) < 0)
		die(cfg.output, &err);
	pk_profile_free(p);
	return 0;
}
