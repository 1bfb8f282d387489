/* test_callgraph.c - the call graph (flat and cumulative values of
 * functions and positions, calls with their weights and sample counts,
 * recursion counted once per sample, inlined frames, bases, sample types,
 * granularity, names) and the callgrind text written from it, to the
 * byte; allocation failures in both. */
#include "helpers.h"
#include "internal.h"

#include <stdio.h>

/* ------------------------------------------------------ building profiles */

static pk_profile *new_profile(const char *type0, const char *type1)
{
	pk_profile *p;
	assert_int_equal(pk_profile_new(&p), 0);
	assert_int_equal(
	    pk_profile_add_sample_type(p, (pk_value_type){intern(p, type0), intern(p, "count")}),
	    0);
	if (type1)
		assert_int_equal(pk_profile_add_sample_type(
		                     p, (pk_value_type){intern(p, type1), intern(p, "bytes")}),
		                 0);
	return p;
}

/* The function called name (added on first use) in file. */
static uint32_t fn(pk_profile *p, const char *name, const char *file, int64_t start)
{
	pk_str n = intern(p, name), f = intern(p, file);
	for (size_t i = 0; i < pk_profile_function_count(p); i++) {
		const pk_function *x = pk_profile_function(p, i);
		if (x->name == n && x->filename == f)
			return (uint32_t)i;
	}
	pk_function x = {0, n, n, f, start};
	uint32_t out;
	assert_int_equal(pk_profile_add_function(p, &x, &out), 0);
	return out;
}

/* A location of one line, or of two: inner inlined into outer. */
static uint32_t loc(pk_profile *p, uint32_t mapping, uint64_t address, uint32_t outer,
                    int64_t outer_line, uint32_t inner, int64_t inner_line)
{
	pk_location l = {0, mapping, address, 0};
	pk_line lines[2] = {{inner, inner_line, 0}, {outer, outer_line, 0}};
	uint32_t out;
	bool inlined = inner != PK_NONE;
	assert_int_equal(
	    pk_profile_add_location(p, &l, inlined ? lines : lines + 1, inlined ? 2 : 1, &out), 0);
	return out;
}

static uint32_t loc1(pk_profile *p, uint32_t f, int64_t line)
{
	return loc(p, PK_NONE, 0, f, line, PK_NONE, 0);
}

/* A sample of stack (leaf first, n locations) and values v0 (and v1). */
static void sample(pk_profile *p, const uint32_t *stack, size_t n, int64_t v0, int64_t v1)
{
	int64_t v[2] = {v0, v1};
	assert_int_equal(
	    pk_profile_add_sample(p, stack, n, v, pk_profile_sample_type_count(p), NULL, 0), 0);
}

static pk__graph *build(const pk_profile *p, const char *type, bool all, const pk_profile *base,
                        int granularity)
{
	pk__graph_options o = {type, all, base, granularity, false, true, false};
	pk__graph *g = NULL;
	pk_error err = PK_ERROR_INIT;
	if (pk__graph_build(p, &o, &g, &err) != 0)
		fail_msg("pk__graph_build: %s", err.message);
	return g;
}

/* ------------------------------------------------------- reading graphs */

static uint32_t function_named(const pk__graph *g, const char *name)
{
	for (uint32_t f = 0; f < g->function_count; f++)
		if (strcmp(g->functions[f].name, name) == 0)
			return f;
	fail_msg("no function \"%s\"", name);
	return PK_NONE;
}

static uint32_t node_at(const pk__graph *g, const char *name, int64_t line)
{
	const pk__graph_function *f = &g->functions[function_named(g, name)];
	for (uint32_t n = f->first_node; n < f->first_node + f->node_count; n++)
		if (g->nodes[n].line == line)
			return n;
	fail_msg("no node %s:%lld", name, (long long)line);
	return PK_NONE;
}

static const pk__graph_edge *edge(const pk__graph *g, const char *caller, int64_t line,
                                  const char *callee, size_t *index)
{
	const pk__graph_node *n = &g->nodes[node_at(g, caller, line)];
	uint32_t to = function_named(g, callee);
	for (uint32_t e = n->first_edge; e < n[1].first_edge; e++) {
		if (g->edges[e].callee == to) {
			if (index)
				*index = e;
			return &g->edges[e];
		}
	}
	fail_msg("no call %s:%lld -> %s", caller, (long long)line, callee);
	return NULL;
}

static int64_t fflat(const pk__graph *g, const char *name, size_t k)
{
	return g->function_flat[function_named(g, name) * g->value_count + k];
}

static int64_t fcum(const pk__graph *g, const char *name, size_t k)
{
	return g->function_cum[function_named(g, name) * g->value_count + k];
}

static int64_t nflat(const pk__graph *g, const char *name, int64_t line, size_t k)
{
	return g->node_flat[node_at(g, name, line) * g->value_count + k];
}

static int64_t ncum(const pk__graph *g, const char *name, int64_t line, size_t k)
{
	return g->node_cum[node_at(g, name, line) * g->value_count + k];
}

static int64_t weight(const pk__graph *g, const char *caller, int64_t line, const char *callee,
                      size_t k)
{
	size_t e;
	edge(g, caller, line, callee, &e);
	return g->edge_weight[e * g->value_count + k];
}

/* ------------------------------------------------------------ the graph */

static void test_graph_flat_cum_edges(void **state)
{
	(void)state;
	pk_profile *p = new_profile("samples", "space");
	uint32_t m = fn(p, "main", "m.c", 1), w = fn(p, "work", "w.c", 0),
	         l = fn(p, "leaf", "w.c", 30);
	uint32_t m10 = loc1(p, m, 10), m11 = loc1(p, m, 11), w20 = loc1(p, w, 20),
	         l30 = loc1(p, l, 30), l31 = loc1(p, l, 31);
	sample(p, (uint32_t[]){l30, w20, m10}, 3, 5, 500);
	sample(p, (uint32_t[]){l31, w20, m10}, 3, 2, 200);
	sample(p, (uint32_t[]){l30, m11}, 2, 1, 100);
	sample(p, (uint32_t[]){w20, m10}, 2, 3, 300);
	sample(p, (uint32_t[]){w20, m10}, 2, 0, 0); /* adds nothing */
	sample(p, (uint32_t[]){m10}, 1, 4, 0);
	pk__graph *g = build(p, NULL, true, NULL, PK_GRANULARITY_LINES);
	assert_int_equal(g->value_count, 2);
	assert_int_equal(g->types[0], 0);
	assert_int_equal(g->types[1], 1);
	assert_false(g->has_base);
	assert_int_equal(g->total[0], 15);
	assert_int_equal(g->total[1], 1100);
	/* Functions by name; each function's positions by line. */
	assert_int_equal(g->function_count, 3);
	assert_string_equal(g->functions[0].name, "leaf");
	assert_string_equal(g->functions[1].name, "main");
	assert_string_equal(g->functions[2].name, "work");
	assert_string_equal(g->functions[0].file, "w.c");
	assert_string_equal(g->functions[0].object, "");
	assert_int_equal(g->functions[0].start_line, 30);
	assert_int_equal(g->functions[2].start_line, 0);
	assert_int_equal(g->functions[0].node_count, 2);
	assert_int_equal(g->nodes[g->functions[0].first_node].line, 30);
	assert_int_equal(g->node_count, 5);

	assert_int_equal(fflat(g, "leaf", 0), 8);
	assert_int_equal(fcum(g, "leaf", 0), 8);
	assert_int_equal(fflat(g, "work", 0), 3);
	assert_int_equal(fcum(g, "work", 0), 10);
	assert_int_equal(fflat(g, "main", 0), 4);
	assert_int_equal(fcum(g, "main", 0), 15);
	assert_int_equal(fcum(g, "main", 1), 1100);
	assert_int_equal(nflat(g, "leaf", 30, 0), 6);
	assert_int_equal(nflat(g, "leaf", 31, 1), 200);
	assert_int_equal(nflat(g, "main", 10, 0), 4);
	assert_int_equal(ncum(g, "main", 10, 0), 14);
	assert_int_equal(ncum(g, "main", 11, 0), 1);

	assert_int_equal(g->edge_count, 3);
	assert_int_equal(weight(g, "main", 10, "work", 0), 10);
	assert_int_equal(weight(g, "main", 10, "work", 1), 1000);
	assert_int_equal(edge(g, "main", 10, "work", NULL)->samples, 3);
	assert_int_equal(weight(g, "main", 11, "leaf", 0), 1);
	assert_int_equal(weight(g, "work", 20, "leaf", 0), 7);
	assert_int_equal(edge(g, "work", 20, "leaf", NULL)->samples, 2);
	assert_false(edge(g, "work", 20, "leaf", NULL)->inlined);
	pk__graph_free(g);

	/* One type, by name or index. */
	g = build(p, "space", true, NULL, PK_GRANULARITY_LINES);
	assert_int_equal(g->value_count, 1);
	assert_int_equal(g->types[0], 1);
	assert_int_equal(fcum(g, "work", 0), 1000);
	pk__graph_free(g);
	g = build(p, "0", false, NULL, PK_GRANULARITY_LINES);
	assert_int_equal(g->value_count, 1);
	assert_int_equal(g->types[0], 0);
	pk__graph_free(g);
	/* Not all types, and none asked for: the default (the last). */
	g = build(p, NULL, false, NULL, PK_GRANULARITY_LINES);
	assert_int_equal(g->types[0], 1);
	assert_int_equal(fflat(g, "main", 0), 0);
	pk__graph_free(g);

	/* Below lines, one position per function. */
	g = build(p, NULL, true, NULL, PK_GRANULARITY_FUNCTIONS);
	assert_int_equal(g->node_count, 3);
	assert_int_equal(nflat(g, "leaf", 0, 0), 8);
	assert_int_equal(weight(g, "main", 0, "leaf", 0), 1);
	pk__graph_free(g);
	pk_profile_free(p);
}

/* a -> b -> a -> b: each function, position and call counts once. */
static void test_graph_recursion(void **state)
{
	(void)state;
	pk_profile *p = new_profile("samples", NULL);
	uint32_t a = fn(p, "a", "r.c", 0), b = fn(p, "b", "r.c", 0);
	uint32_t a1 = loc1(p, a, 1), b2 = loc1(p, b, 2), b3 = loc1(p, b, 3);
	sample(p, (uint32_t[]){b3, a1, b2, a1}, 4, 7, 0);
	sample(p, (uint32_t[]){b2, a1}, 2, 1, 0);
	sample(p, (uint32_t[]){a1, a1, a1}, 3, 2, 0); /* a calls itself */
	pk__graph *g = build(p, NULL, true, NULL, PK_GRANULARITY_LINES);
	assert_int_equal(fcum(g, "a", 0), 10);
	assert_int_equal(fcum(g, "b", 0), 8);
	assert_int_equal(fflat(g, "b", 0), 8);
	assert_int_equal(fflat(g, "a", 0), 2);
	assert_int_equal(ncum(g, "a", 1, 0), 10);
	assert_int_equal(ncum(g, "b", 2, 0), 8);
	assert_int_equal(ncum(g, "b", 3, 0), 7);
	assert_int_equal(weight(g, "a", 1, "b", 0), 8);
	assert_int_equal(edge(g, "a", 1, "b", NULL)->samples, 2);
	assert_int_equal(weight(g, "b", 2, "a", 0), 7);
	assert_int_equal(weight(g, "a", 1, "a", 0), 2);
	assert_int_equal(edge(g, "a", 1, "a", NULL)->samples, 1);
	assert_int_equal(g->edge_count, 3);
	pk__graph_free(g);
	pk_profile_free(p);
}

/* More stacks than the walk's visit stamps count (a byte) before they
 * are cleared: recursion still counts once in each, and a call of the
 * first stack and of the 256th (stamped alike) counts in both. */
static void test_graph_recursion_many_stacks(void **state)
{
	(void)state;
	pk_profile *p = new_profile("samples", NULL);
	uint32_t a = fn(p, "a", "r.c", 0), m = fn(p, "main", "m.c", 0);
	uint32_t a1 = loc1(p, a, 1), m1 = loc1(p, m, 1);
	uint32_t shared = loc1(p, fn(p, "shared", "s.c", 0), 1);
	for (int i = 0; i < 600; i++) {
		char name[16];
		snprintf(name, sizeof name, "leaf%d", i);
		uint32_t leaf = i == 0 || i == 255 ? shared : loc1(p, fn(p, name, "l.c", 0), 1);
		if (i == 255)
			sample(p, (uint32_t[]){leaf, a1, a1, a1, m1}, 5, 1, 0);
		else
			sample(p, (uint32_t[]){leaf, a1, a1, m1}, 4, 1, 0);
	}
	pk__graph *g = build(p, NULL, true, NULL, PK_GRANULARITY_LINES);
	assert_int_equal(fcum(g, "a", 0), 600);
	assert_int_equal(ncum(g, "a", 1, 0), 600);
	assert_int_equal(weight(g, "a", 1, "a", 0), 600);
	assert_int_equal(edge(g, "a", 1, "a", NULL)->samples, 600);
	assert_int_equal(weight(g, "main", 1, "a", 0), 600);
	assert_int_equal(weight(g, "a", 1, "shared", 0), 2);
	assert_int_equal(fcum(g, "shared", 0), 2);
	assert_int_equal(weight(g, "a", 1, "leaf599", 0), 1);
	assert_int_equal(g->edge_count, 601);
	pk__graph_free(g);
	pk_profile_free(p);
}

/* Buckets past the insertion sort's size: a name of 20 functions, a
 * function of 20 lines and a position calling 20 functions. */
static void test_graph_large_buckets(void **state)
{
	(void)state;
	pk_profile *p = new_profile("samples", NULL);
	uint32_t m1 = loc1(p, fn(p, "main", "m.c", 0), 1), big = fn(p, "big", "b.c", 0);
	for (int i = 19; i >= 0; i--) {
		char file[16];
		snprintf(file, sizeof file, "f%02d.c", i);
		uint32_t f = loc1(p, fn(p, "f", file, 0), 1);
		sample(p, (uint32_t[]){loc1(p, big, 20 - i), f, m1}, 3, 1, 0);
	}
	pk__graph *g = build(p, NULL, true, NULL, PK_GRANULARITY_LINES);
	assert_int_equal(g->function_count, 22);
	assert_string_equal(g->functions[0].name, "big");
	assert_int_equal(g->functions[0].node_count, 20);
	for (uint32_t n = 0; n < 20; n++)
		assert_int_equal(g->nodes[g->functions[0].first_node + n].line, n + 1);
	for (uint32_t f = 1; f <= 20; f++) {
		char file[16];
		snprintf(file, sizeof file, "f%02u.c", f - 1);
		assert_string_equal(g->functions[f].name, "f");
		assert_string_equal(g->functions[f].file, file);
	}
	const pk__graph_node *n = &g->nodes[node_at(g, "main", 1)];
	assert_int_equal(n[1].first_edge - n->first_edge, 20);
	for (uint32_t e = 0; e < 20; e++)
		assert_int_equal(g->edges[n->first_edge + e].callee, e + 1);
	pk__graph_free(g);
	pk_profile_free(p);
}

/* A location whose code was inlined: its last line calls the others. */
static void test_graph_inlined(void **state)
{
	(void)state;
	pk_profile *p = new_profile("samples", NULL);
	uint32_t m = fn(p, "main", "m.c", 0), w = fn(p, "work", "w.c", 18),
	         l = fn(p, "leaf", "l.h", 3);
	uint32_t map;
	pk_mapping mp = {0};
	mp.memory_limit = 0x10000;
	mp.filename = intern(p, "/bin/app");
	assert_int_equal(pk_profile_add_mapping(p, &mp, &map), 0);
	uint32_t m12 = loc(p, map, 0x100, m, 12, PK_NONE, 0);
	uint32_t wl = loc(p, map, 0x200, w, 20, l, 4);
	uint32_t w21 = loc(p, map, 0x210, w, 21, PK_NONE, 0);
	sample(p, (uint32_t[]){wl, m12}, 2, 6, 0);
	sample(p, (uint32_t[]){w21, m12}, 2, 1, 0);
	pk__graph *g = build(p, NULL, true, NULL, PK_GRANULARITY_LINES);
	assert_int_equal(fflat(g, "leaf", 0), 6);
	assert_int_equal(fflat(g, "work", 0), 1);
	assert_int_equal(fcum(g, "work", 0), 7);
	assert_int_equal(nflat(g, "leaf", 4, 0), 6);
	assert_int_equal(weight(g, "work", 20, "leaf", 0), 6);
	assert_true(edge(g, "work", 20, "leaf", NULL)->inlined);
	assert_false(edge(g, "main", 12, "work", NULL)->inlined);
	assert_int_equal(weight(g, "main", 12, "work", 0), 7);
	assert_string_equal(g->functions[function_named(g, "leaf")].file, "l.h");
	assert_string_equal(g->functions[function_named(g, "leaf")].object, "/bin/app");
	pk__graph_free(g);

	/* Addresses: the inlined frame shares its location's address. */
	g = build(p, NULL, true, NULL, PK_GRANULARITY_ADDRESSES);
	assert_int_equal(g->addresses[node_at(g, "leaf", 4)], 0x200);
	assert_int_equal(g->addresses[node_at(g, "work", 20)], 0x200);
	assert_int_equal(g->addresses[node_at(g, "work", 21)], 0x210);
	pk__graph_free(g);
	pk_profile_free(p);
}

/* An inlined function is one function per file it was inlined into (the
 * file of its location's last line); inlined into a function of its own
 * file, it is the function itself. */
static void test_graph_inlined_hosts(void **state)
{
	(void)state;
	pk_profile *p = new_profile("samples", NULL);
	uint32_t m = fn(p, "main", "/src/main.go", 0), w = fn(p, "worker", "/src/work.go", 0),
	         now = fn(p, "time.Now", "/go/time.go", 0), h = fn(p, "helper", "/src/main.go", 0);
	uint32_t in_main = loc(p, PK_NONE, 0, m, 10, now, 20);
	uint32_t in_worker = loc(p, PK_NONE, 0, w, 5, now, 21);
	uint32_t helper = loc(p, PK_NONE, 0, m, 11, h, 30);
	uint32_t called = loc1(p, now, 20), m12 = loc1(p, m, 12), m13 = loc1(p, m, 13);
	sample(p, (uint32_t[]){in_main}, 1, 3, 0);
	sample(p, (uint32_t[]){in_worker, m13}, 2, 4, 0);
	sample(p, (uint32_t[]){helper}, 1, 2, 0);
	sample(p, (uint32_t[]){called, m12}, 2, 1, 0);
	pk__graph *g = build(p, NULL, true, NULL, PK_GRANULARITY_LINES);
	/* by name, file, object, then host */
	assert_int_equal(g->function_count, 6);
	const char *want[6][3] = {{"helper", "/src/main.go", "/src/main.go"},
	                          {"main", "/src/main.go", "/src/main.go"},
	                          {"time.Now", "/go/time.go", "/go/time.go"},
	                          {"time.Now", "/go/time.go", "/src/main.go"},
	                          {"time.Now", "/go/time.go", "/src/work.go"},
	                          {"worker", "/src/work.go", "/src/work.go"}};
	const int64_t flat[6] = {2, 0, 1, 3, 4, 0};
	for (size_t f = 0; f < 6; f++) {
		assert_string_equal(g->functions[f].name, want[f][0]);
		assert_string_equal(g->functions[f].file, want[f][1]);
		assert_string_equal(g->functions[f].host, want[f][2]);
		assert_int_equal(g->function_flat[f], flat[f]);
	}
	/* the calls into each: from where it was inlined, or called */
	assert_int_equal(g->edges[g->nodes[node_at(g, "main", 10)].first_edge].callee, 3);
	assert_true(g->edges[g->nodes[node_at(g, "main", 10)].first_edge].inlined);
	assert_int_equal(g->edges[g->nodes[node_at(g, "main", 12)].first_edge].callee, 2);
	assert_false(g->edges[g->nodes[node_at(g, "main", 12)].first_edge].inlined);
	pk__graph_free(g);
	pk_profile_free(p);
}

static void test_graph_names(void **state)
{
	(void)state;
	pk_profile *p = new_profile("samples", NULL);
	uint32_t libc, f = fn(p, "f", "./src/../src//f.c", 0);
	pk_mapping mp = {0};
	mp.memory_limit = 0x10000;
	mp.filename = intern(p, "/lib/libc.so.6");
	assert_int_equal(pk_profile_add_mapping(p, &mp, &libc), 0);
	pk_location bare = {0, libc, 0x42, 0}, unknown = {0, PK_NONE, 0x43, 0};
	uint32_t l_bare, l_unknown;
	assert_int_equal(pk_profile_add_location(p, &bare, NULL, 0, &l_bare), 0);
	assert_int_equal(pk_profile_add_location(p, &unknown, NULL, 0, &l_unknown), 0);
	uint32_t lf = loc1(p, f, 9);
	sample(p, (uint32_t[]){l_bare, lf}, 2, 1, 0);
	sample(p, (uint32_t[]){l_unknown, lf}, 2, 2, 0);
	pk__graph *g = build(p, NULL, true, NULL, PK_GRANULARITY_LINES);
	assert_int_equal(g->function_count, 3);
	assert_string_equal(g->functions[0].name, "<unknown>");
	assert_string_equal(g->functions[1].name, "[libc.so.6]");
	assert_string_equal(g->functions[1].object, "/lib/libc.so.6");
	assert_string_equal(g->functions[1].file, "");
	assert_string_equal(g->functions[2].name, "f");
	assert_string_equal(g->functions[2].file, "src/f.c");
	assert_int_equal(nflat(g, "[libc.so.6]", 0, 0), 1);
	pk__graph_free(g);
	pk_profile_free(p);
}

/* Names are one function by their bytes, whether a profile's string or
 * a name put together: a file that cleans to another's, and a function
 * called as a location without lines is named. */
static void test_graph_names_by_content(void **state)
{
	(void)state;
	pk_profile *p = new_profile("samples", NULL);
	uint32_t a = fn(p, "f", "src/f.c", 0), b = fn(p, "f", "./src/f.c", 3),
	         u = fn(p, "<unknown>", "", 0), m = fn(p, "main", "m.c", 0);
	pk_location bare = {0, PK_NONE, 0x43, 0};
	uint32_t l_bare;
	assert_int_equal(pk_profile_add_location(p, &bare, NULL, 0, &l_bare), 0);
	uint32_t la = loc1(p, a, 5), lb = loc1(p, b, 5), lu = loc1(p, u, 0), lm = loc1(p, m, 1);
	sample(p, (uint32_t[]){la, lm}, 2, 1, 0);
	sample(p, (uint32_t[]){lb, lm}, 2, 2, 0);
	sample(p, (uint32_t[]){lu, lm}, 2, 4, 0);
	sample(p, (uint32_t[]){l_bare, lm}, 2, 8, 0);
	pk__graph *g = build(p, NULL, true, NULL, PK_GRANULARITY_LINES);
	assert_int_equal(g->function_count, 3);
	assert_string_equal(g->functions[0].name, "<unknown>");
	assert_string_equal(g->functions[1].name, "f");
	assert_string_equal(g->functions[1].file, "src/f.c");
	assert_int_equal(g->functions[1].start_line, 3);
	assert_int_equal(nflat(g, "f", 5, 0), 3);
	assert_int_equal(fflat(g, "<unknown>", 0), 12);
	assert_int_equal(weight(g, "main", 1, "f", 0), 3);
	pk__graph_free(g);
	pk_profile_free(p);
}

/* More location lines than 16 bits count: the calls' keys take 64 bits. */
static void test_graph_wide_calls(void **state)
{
	(void)state;
	pk_profile *p = new_profile("samples", NULL);
	enum { N = 70000 };
	uint32_t *locs = malloc(N * sizeof *locs);
	assert_non_null(locs);
	for (uint32_t i = 0; i < N; i++) {
		char name[16];
		snprintf(name, sizeof name, "f%u", i);
		pk_function f = {0, intern(p, name), intern(p, name), intern(p, "f.c"), 0};
		uint32_t id;
		assert_int_equal(pk_profile_add_function(p, &f, &id), 0);
		locs[i] = loc1(p, id, 1);
	}
	/* the last locations call each other, which 16-bit halves would mix up */
	sample(p, (uint32_t[]){locs[N - 1], locs[N - 2], locs[0]}, 3, 5, 0);
	sample(p, (uint32_t[]){locs[N - 2], locs[N - 1], locs[0]}, 3, 7, 0);
	sample(p, (uint32_t[]){locs[1], locs[N - 1]}, 2, 11, 0);
	pk__graph *g = build(p, NULL, true, NULL, PK_GRANULARITY_LINES);
	assert_int_equal(g->function_count, 4);
	assert_int_equal(g->edge_count, 5);
	assert_int_equal(weight(g, "f0", 1, "f69998", 0), 5);
	assert_int_equal(weight(g, "f0", 1, "f69999", 0), 7);
	assert_int_equal(weight(g, "f69998", 1, "f69999", 0), 5);
	assert_int_equal(weight(g, "f69999", 1, "f69998", 0), 7);
	assert_int_equal(weight(g, "f69999", 1, "f1", 0), 11);
	assert_int_equal(nflat(g, "f1", 1, 0), 11);
	pk__graph_free(g);
	pk_profile_free(p);
	free(locs);
}

static void test_graph_base(void **state)
{
	(void)state;
	pk_profile *now = new_profile("samples", "space");
	pk_profile *then = new_profile("samples", "space");
	pk_profile *ps[2] = {now, then};
	uint32_t ma[2], mb[2];
	for (int i = 0; i < 2; i++) {
		uint32_t m = fn(ps[i], "main", "m.c", 0), a = fn(ps[i], "a", "m.c", 0);
		ma[i] = loc1(ps[i], a, 5);
		mb[i] = loc1(ps[i], m, 1);
	}
	sample(now, (uint32_t[]){ma[0], mb[0]}, 2, 10, 1000);
	sample(then, (uint32_t[]){ma[1], mb[1]}, 2, 4, 1500);
	sample(then, (uint32_t[]){mb[1]}, 1, 3, 0);
	pk__graph *g = build(now, NULL, true, then, PK_GRANULARITY_LINES);
	assert_true(g->has_base);
	assert_int_equal(fflat(g, "a", 0), 6);
	assert_int_equal(fflat(g, "a", 1), -500);
	assert_int_equal(fflat(g, "main", 0), -3);
	assert_int_equal(fcum(g, "main", 0), 3);
	assert_int_equal(weight(g, "main", 1, "a", 1), -500);
	/* Samples count the profile's only. */
	assert_int_equal(edge(g, "main", 1, "a", NULL)->samples, 1);
	assert_int_equal(g->total[0], 3);
	pk__graph_free(g);

	/* The base needs every type written, by name and unit. */
	pk_profile *other = new_profile("samples", NULL);
	pk__graph_options o = {NULL, true, other, PK_GRANULARITY_LINES, false, true, false};
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(pk__graph_build(now, &o, &g, &err), PK_ENOTFOUND);
	assert_null(g);
	assert_string_equal(err.message, "the base profile has no sample type space/bytes");
	o.sample_type = "samples";
	g = build(now, "samples", true, other, PK_GRANULARITY_LINES);
	assert_int_equal(fflat(g, "a", 0), 10);
	pk__graph_free(g);
	pk_profile_free(other);
	pk_profile_free(then);
	pk_profile_free(now);

	/* No sample types at all. */
	pk_profile *empty;
	assert_int_equal(pk_profile_new(&empty), 0);
	pk_error err2 = PK_ERROR_INIT;
	o = (pk__graph_options){NULL, true, NULL, PK_GRANULARITY_LINES, false, true, false};
	assert_int_equal(pk__graph_build(empty, &o, &g, &err2), PK_ENOTFOUND);
	assert_string_equal(err2.message, "the profile has no sample types");
	pk_profile_free(empty);
}

/* drop_negative: a stack (a path of positions, the base's and the
 * profile's added up) whose value is negative adds 0 to that value, and
 * its value goes to left_out; the graph holds no negative value. */
static void test_graph_drop_negative(void **state)
{
	(void)state;
	pk_profile *now = new_profile("samples", "space");
	pk_profile *then = new_profile("samples", "space");
	pk_profile *ps[2] = {now, then};
	uint32_t ma[2], mb[2];
	for (int i = 0; i < 2; i++) {
		uint32_t m = fn(ps[i], "main", "m.c", 0), a = fn(ps[i], "a", "m.c", 0);
		ma[i] = loc1(ps[i], a, 5);
		mb[i] = loc1(ps[i], m, 1);
	}
	/* main -> a: samples 10 - 4, space 1000 - 1500; main: -3 and 0 */
	sample(now, (uint32_t[]){ma[0], mb[0]}, 2, 10, 1000);
	sample(then, (uint32_t[]){ma[1], mb[1]}, 2, 4, 1500);
	sample(then, (uint32_t[]){mb[1]}, 1, 3, 0);
	pk__graph_options o = {NULL, true, then, PK_GRANULARITY_LINES, true, true, false};
	pk__graph *g = NULL;
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(pk__graph_build(now, &o, &g, &err), 0);
	assert_int_equal(fflat(g, "a", 0), 6);
	assert_int_equal(fflat(g, "a", 1), 0);
	assert_int_equal(fflat(g, "main", 0), 0);
	assert_int_equal(fcum(g, "main", 0), 6);
	assert_int_equal(fcum(g, "main", 1), 0);
	assert_int_equal(weight(g, "main", 1, "a", 0), 6);
	assert_int_equal(weight(g, "main", 1, "a", 1), 0);
	assert_int_equal(g->left_out[0], -3);
	assert_int_equal(g->left_out[1], -500);
	/* total: every sample's values, as without the rule */
	assert_int_equal(g->total[0], 3);
	pk__graph_free(g);
	/* Without the rule nothing is left out. */
	o.drop_negative = false;
	assert_int_equal(pk__graph_build(now, &o, &g, &err), 0);
	assert_int_equal(g->left_out[0], 0);
	assert_int_equal(fflat(g, "main", 0), -3);
	pk__graph_free(g);
	pk_profile_free(then);
	pk_profile_free(now);

	/* A stack is a path of positions: two locations of one line are one
	 * stack at line granularity (5 - 3 = 2 is kept), two at addresses
	 * (the -3 goes). */
	pk_profile *p = new_profile("samples", NULL);
	uint32_t f = fn(p, "f", "f.c", 0), m = fn(p, "main", "m.c", 0);
	uint32_t f1 = loc(p, PK_NONE, 0x10, f, 7, PK_NONE, 0);
	uint32_t f2 = loc(p, PK_NONE, 0x14, f, 7, PK_NONE, 0);
	uint32_t m1 = loc(p, PK_NONE, 0x40, m, 2, PK_NONE, 0);
	sample(p, (uint32_t[]){f1, m1}, 2, 5, 0);
	sample(p, (uint32_t[]){f2, m1}, 2, -3, 0);
	o = (pk__graph_options){NULL, true, NULL, PK_GRANULARITY_LINES, true, true, false};
	assert_int_equal(pk__graph_build(p, &o, &g, &err), 0);
	assert_int_equal(fflat(g, "f", 0), 2);
	assert_int_equal(weight(g, "main", 2, "f", 0), 2);
	assert_int_equal(edge(g, "main", 2, "f", NULL)->samples, 2);
	assert_int_equal(g->left_out[0], 0);
	pk__graph_free(g);
	o.granularity = PK_GRANULARITY_ADDRESSES;
	assert_int_equal(pk__graph_build(p, &o, &g, &err), 0);
	assert_int_equal(fflat(g, "f", 0), 5);
	assert_int_equal(weight(g, "main", 2, "f", 0), 5);
	assert_int_equal(edge(g, "main", 2, "f", NULL)->samples, 1);
	assert_int_equal(g->left_out[0], -3);
	pk__graph_free(g);
	pk_profile_free(p);
}

/* -------------------------------------------------------- callgrind text */

/* The profile of the exact-text tests: two types, two files, a mapping,
 * an inlined frame, a recursive call and a function in another object. */
static pk_profile *tiny_profile(void)
{
	pk_profile *p = new_profile("samples", "alloc space");
	uint32_t app, lib;
	pk_mapping mp = {0};
	mp.memory_limit = 0x10000;
	mp.filename = intern(p, "/srv/app");
	assert_int_equal(pk_profile_add_mapping(p, &mp, &app), 0);
	mp.memory_start = 0x7f0000;
	mp.memory_limit = 0x800000;
	mp.filename = intern(p, "/lib/libc.so.6");
	assert_int_equal(pk_profile_add_mapping(p, &mp, &lib), 0);
	uint32_t m = fn(p, "main", "/src/main.c", 3), w = fn(p, "work", "/src/main.c", 10),
	         l = fn(p, "leaf", "/src/leaf.h", 0), c = fn(p, "memcpy", "", 0);
	uint32_t m5 = loc(p, app, 0x1005, m, 5, PK_NONE, 0);
	uint32_t w12 = loc(p, app, 0x1105, w, 12, l, 2);
	uint32_t w14 = loc(p, app, 0x1120, w, 14, PK_NONE, 0);
	uint32_t w11 = loc(p, app, 0x1100, w, 11, PK_NONE, 0);
	uint32_t cp = loc(p, lib, 0x7f1000, c, 0, PK_NONE, 0);
	sample(p, (uint32_t[]){w12, m5}, 2, 3, 300);
	sample(p, (uint32_t[]){w14, w11, m5}, 3, 1, 0);
	sample(p, (uint32_t[]){cp, w14, m5}, 3, 2, 64);
	sample(p, (uint32_t[]){m5}, 1, 1, 0);
	assert_int_equal(pk_profile_validate(p, NULL), 0);
	return p;
}

static char *export_text(const pk_profile *p, const char *type, int granularity,
                         const pk_profile *base, int *rc, pk_error *err)
{
	pk_write_options o = PK_WRITE_OPTIONS_INIT;
	o.sample_type = type;
	o.granularity = granularity;
	o.base = base;
	o.format = pk_format_by_name("callgrind");
	o.compress = PK_COMPRESS_NONE;
	void *data = NULL;
	size_t size = 0;
	*rc = pk_profile_write_buffer(p, &o, &data, &size, err);
	char *text = NULL;
	if (*rc == 0) {
		text = malloc(size + 1);
		memcpy(text, data, size);
		text[size] = '\0';
	}
	pk_free(data);
	return text;
}

static void expect_export_base(const pk_profile *p, const char *type, int granularity,
                               const pk_profile *base, const char *want)
{
	pk_error err = PK_ERROR_INIT;
	int rc;
	char *text = export_text(p, type, granularity, base, &rc, &err);
	if (rc != 0)
		fail_msg("callgrind export: %s", err.message);
	/* want with @VERSION@ replaced by the library's version */
	char full[4096];
	const char *at = strstr(want, "@VERSION@");
	assert_non_null(at);
	snprintf(full, sizeof full, "%.*s%s%s", (int)(at - want), want, pk_version(), at + 9);
	want = full;
	if (strcmp(text, want) != 0) {
		printf("-- got:\n%s-- want:\n%s", text, want);
		fail_msg("the callgrind text differs");
	}
	free(text);
}

static void expect_export(const pk_profile *p, const char *type, int granularity, const char *want)
{
	expect_export_base(p, type, granularity, NULL, want);
}

static void test_callgrind_text(void **state)
{
	(void)state;
	pk_profile *p = tiny_profile();
	expect_export(p, NULL, PK_GRANULARITY_FUNCTIONS,
	              "# callgrind format\n"
	              "version: 1\n"
	              "creator: profkit @VERSION@\n"
	              "cmd: /srv/app\n"
	              "positions: line\n"
	              "event: samples : samples (count)\n"
	              "event: alloc_space : alloc space (bytes)\n"
	              "events: samples alloc_space\n"
	              "\n"
	              "ob=(1) /srv/app\n"
	              "fl=(1) /src/main.c\n"
	              "fn=(1) leaf\n"
	              "fi=(2) /src/leaf.h\n"
	              "2 3 300\n"
	              "\n"
	              "fl=(1)\n"
	              "fn=(2) main\n"
	              "5 1 0\n"
	              "cfn=(3) work\n"
	              "calls=3 10\n"
	              "* 6 364\n"
	              "\n"
	              "ob=(2) /lib/libc.so.6\n"
	              "fl=(3) ???\n"
	              "fn=(4) memcpy\n"
	              "0 2 64\n"
	              "\n"
	              "ob=(1)\n"
	              "fl=(1)\n"
	              "fn=(3)\n"
	              "cfn=(3)\n"
	              "calls=1 10\n"
	              "11 1 0\n"
	              "cfl=(2)\n"
	              "cfn=(1)\n"
	              "calls=1 2\n"
	              "12 3 300\n"
	              "14 1 0\n"
	              "cob=(2)\n"
	              "cfl=(3)\n"
	              "cfn=(4)\n"
	              "calls=1 0\n"
	              "* 2 64\n"
	              "\n"
	              "totals: 7 364\n");
	/* One type, at addresses: relative subpositions where shorter. */
	expect_export(p, "samples", PK_GRANULARITY_ADDRESSES,
	              "# callgrind format\n"
	              "version: 1\n"
	              "creator: profkit @VERSION@\n"
	              "cmd: /srv/app\n"
	              "positions: instr line\n"
	              "event: samples : samples (count)\n"
	              "events: samples\n"
	              "\n"
	              "ob=(1) /srv/app\n"
	              "fl=(1) /src/main.c\n"
	              "fn=(1) leaf\n"
	              "fi=(2) /src/leaf.h\n"
	              "0x1105 2 3\n"
	              "\n"
	              "fl=(1)\n"
	              "fn=(2) main\n"
	              "0x1005 5 1\n"
	              "cfn=(3) work\n"
	              "calls=3 +251 10\n"
	              "* * 6\n"
	              "\n"
	              "ob=(2) /lib/libc.so.6\n"
	              "fl=(3) ???\n"
	              "fn=(4) memcpy\n"
	              "0x7f1000 0 2\n"
	              "\n"
	              "ob=(1)\n"
	              "fl=(1)\n"
	              "fn=(3)\n"
	              "cfn=(3)\n"
	              "calls=1 0x1100 10\n"
	              "0x1100 11 1\n"
	              "cfl=(2)\n"
	              "cfn=(1)\n"
	              "calls=1 +5 2\n"
	              "+5 12 3\n"
	              "+27 14 1\n"
	              "cob=(2)\n"
	              "cfl=(3)\n"
	              "cfn=(4)\n"
	              "calls=1 0x7f1000 0\n"
	              "* * 2\n"
	              "\n"
	              "totals: 7\n");
	pk_profile_free(p);
}

static void test_callgrind_names(void **state)
{
	(void)state;
	/* Event names made of letters, digits and '_', and kept apart; a
	 * name's line breaks become spaces; no mapping, no cmd: line. */
	pk_profile *p = new_profile("cpu-time", "cpu time");
	uint32_t f = fn(p, "two\nlines", "a.c", 0);
	sample(p, (uint32_t[]){loc1(p, f, 1)}, 1, 1, 2);
	expect_export(p, NULL, PK_GRANULARITY_LINES,
	              "# callgrind format\n"
	              "version: 1\n"
	              "creator: profkit @VERSION@\n"
	              "positions: line\n"
	              "event: cpu_time : cpu-time (count)\n"
	              "event: cpu_time_2 : cpu time (bytes)\n"
	              "events: cpu_time cpu_time_2\n"
	              "\n"
	              "ob=(1) ???\n"
	              "fl=(1) a.c\n"
	              "fn=(1) two lines\n"
	              "1 1 2\n"
	              "\n"
	              "totals: 1 2\n");
	pk_profile_free(p);

	p = new_profile("9lives", "");
	f = fn(p, "f", "a.c", 0);
	sample(p, (uint32_t[]){loc1(p, f, 1)}, 1, 1, 0);
	pk_error err = PK_ERROR_INIT;
	int rc;
	char *text = export_text(p, NULL, PK_GRANULARITY_LINES, NULL, &rc, &err);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(text, "\nevents: e9lives e1\n"));
	free(text);
	pk_profile_free(p);
}

/* Inlined code from another file: a block of its own in the file it was
 * inlined into (fl=), its lines in its own file (fi=); inlined into a
 * function of its own file, no fi=. The next block says fl= again. */
static void test_callgrind_inlined(void **state)
{
	(void)state;
	pk_profile *p = new_profile("samples", NULL);
	uint32_t app;
	pk_mapping mp = {0};
	mp.memory_limit = 0x10000;
	mp.filename = intern(p, "/srv/app");
	assert_int_equal(pk_profile_add_mapping(p, &mp, &app), 0);
	uint32_t m = fn(p, "main.main", "/src/main.go", 8),
	         now = fn(p, "time.Now", "/go/src/time/time.go", 1100),
	         h = fn(p, "main.helper", "/src/main.go", 30),
	         sec = fn(p, "time.unixSec", "/go/src/time/time.go", 0);
	uint32_t in_main = loc(p, app, 0x100, m, 10, now, 1101);
	uint32_t helper = loc(p, app, 0x110, m, 11, h, 31);
	uint32_t main12 = loc(p, app, 0x120, m, 12, PK_NONE, 0);
	uint32_t unix_sec = loc(p, app, 0x200, sec, 40, PK_NONE, 0);
	uint32_t calls = loc(p, app, 0x108, m, 10, now, 1102);
	sample(p, (uint32_t[]){in_main}, 1, 3, 0);
	sample(p, (uint32_t[]){helper}, 1, 2, 0);
	sample(p, (uint32_t[]){main12}, 1, 1, 0);
	sample(p, (uint32_t[]){unix_sec, calls}, 2, 4, 0);
	expect_export(p, NULL, PK_GRANULARITY_LINES,
	              "# callgrind format\n"
	              "version: 1\n"
	              "creator: profkit @VERSION@\n"
	              "cmd: /srv/app\n"
	              "positions: line\n"
	              "event: samples : samples (count)\n"
	              "events: samples\n"
	              "\n"
	              "ob=(1) /srv/app\n"
	              "fl=(1) /src/main.go\n"
	              "fn=(1) main.helper\n"
	              "31 2\n"
	              "\n"
	              "fn=(2) main.main\n"
	              "cfl=(2) /go/src/time/time.go\n"
	              "cfn=(3) time.Now\n"
	              "calls=2 1100\n"
	              "10 7\n"
	              "cfn=(1)\n"
	              "calls=1 30\n"
	              "11 2\n"
	              "12 1\n"
	              "\n"
	              "fn=(3)\n"
	              "fi=(2)\n"
	              "1101 3\n"
	              "cfn=(4) time.unixSec\n"
	              "calls=1 40\n"
	              "+1 4\n"
	              "\n"
	              "fl=(2)\n"
	              "fn=(4)\n"
	              "40 4\n"
	              "\n"
	              "totals: 10\n");
	pk_profile_free(p);
}

/* Negative values: a stack whose value is negative counts 0, per event,
 * and a comment in the header says how much was left out. */
static void test_callgrind_negative(void **state)
{
	(void)state;
	pk_profile *p = tiny_profile();
	pk_profile *base = tiny_profile();
	sample(base, (uint32_t[]){0}, 1, 1, 0); /* main gets one more */
	/* Against itself: all 0, which is fine. */
	pk_error err = PK_ERROR_INIT;
	int rc;
	char *text = export_text(p, NULL, PK_GRANULARITY_LINES, p, &rc, &err);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(text, "\ntotals: 0 0\n"));
	assert_null(strstr(text, "# profkit"));
	free(text);
	/* main's own samples fell by 1; nothing else changed */
	expect_export_base(p, NULL, PK_GRANULARITY_LINES, base,
	                   "# callgrind format\n"
	                   "version: 1\n"
	                   "creator: profkit @VERSION@\n"
	                   "cmd: /srv/app\n"
	                   "positions: line\n"
	                   "event: samples : samples (count)\n"
	                   "event: alloc_space : alloc space (bytes)\n"
	                   "# profkit: stacks whose samples fell are left out (-1 count in all)\n"
	                   "events: samples alloc_space\n"
	                   "\n"
	                   "totals: 0 0\n");
	/* The base the other way round: main's growth is all there is. */
	expect_export_base(base, NULL, PK_GRANULARITY_LINES, p,
	                   "# callgrind format\n"
	                   "version: 1\n"
	                   "creator: profkit @VERSION@\n"
	                   "cmd: /srv/app\n"
	                   "positions: line\n"
	                   "event: samples : samples (count)\n"
	                   "event: alloc_space : alloc space (bytes)\n"
	                   "events: samples alloc_space\n"
	                   "\n"
	                   "ob=(1) /srv/app\n"
	                   "fl=(1) /src/main.c\n"
	                   "fn=(1) main\n"
	                   "5 1 0\n"
	                   "\n"
	                   "totals: 1 0\n");
	pk_profile_free(base);

	/* A profile with a negative value of its own (Go's delta profiles):
	 * main -> work -> leaf loses 1000 bytes, so that stack's 300 - 1000
	 * counts 0 for alloc_space; its samples stay. */
	pk_profile *q = tiny_profile();
	sample(q, (uint32_t[]){1, 0}, 2, 0, -1000);
	expect_export(q, NULL, PK_GRANULARITY_LINES,
	              "# callgrind format\n"
	              "version: 1\n"
	              "creator: profkit @VERSION@\n"
	              "cmd: /srv/app\n"
	              "positions: line\n"
	              "event: samples : samples (count)\n"
	              "event: alloc_space : alloc space (bytes)\n"
	              "# profkit: stacks of negative alloc_space are left out (-700 bytes in "
	              "all)\n"
	              "events: samples alloc_space\n"
	              "\n"
	              "ob=(1) /srv/app\n"
	              "fl=(1) /src/main.c\n"
	              "fn=(1) leaf\n"
	              "fi=(2) /src/leaf.h\n"
	              "2 3 0\n"
	              "\n"
	              "fl=(1)\n"
	              "fn=(2) main\n"
	              "5 1 0\n"
	              "cfn=(3) work\n"
	              "calls=4 10\n"
	              "* 6 64\n"
	              "\n"
	              "ob=(2) /lib/libc.so.6\n"
	              "fl=(3) ???\n"
	              "fn=(4) memcpy\n"
	              "0 2 64\n"
	              "\n"
	              "ob=(1)\n"
	              "fl=(1)\n"
	              "fn=(3)\n"
	              "cfn=(3)\n"
	              "calls=1 10\n"
	              "11 1 0\n"
	              "cfl=(2)\n"
	              "cfn=(1)\n"
	              "calls=2 2\n"
	              "12 3 0\n"
	              "14 1 0\n"
	              "cob=(2)\n"
	              "cfl=(3)\n"
	              "cfn=(4)\n"
	              "calls=1 0\n"
	              "* 2 64\n"
	              "\n"
	              "totals: 7 64\n");
	pk_profile_free(q);
	pk_profile_free(p);
}

/* Units: the event: lines say "TYPE (UNIT)", which the reader takes back,
 * so pprof -> callgrind -> pprof keeps them. */
static void test_callgrind_units(void **state)
{
	(void)state;
	pk_profile *p = tiny_profile();
	pk_error err = PK_ERROR_INIT;
	int rc;
	char *text = export_text(p, NULL, PK_GRANULARITY_LINES, NULL, &rc, &err);
	assert_int_equal(rc, 0);
	pk_read_options ro = PK_READ_OPTIONS_INIT;
	pk_profile *back = NULL;
	assert_int_equal(pk_profile_read_buffer(text, strlen(text), &ro, &back, NULL, &err), 0);
	free(text);
	assert_int_equal(pk_profile_sample_type_count(back), 2);
	pk_value_type t0 = pk_profile_sample_type(back, 0), t1 = pk_profile_sample_type(back, 1);
	assert_string_equal(pk_profile_string(back, t0.type), "samples");
	assert_string_equal(pk_profile_string(back, t0.unit), "count");
	assert_string_equal(pk_profile_string(back, t1.type), "alloc_space");
	assert_string_equal(pk_profile_string(back, t1.unit), "bytes");
	pk_profile_free(back);
	pk_profile_free(p);

	/* What the reader takes a unit from, and what not: a long name that is
	 * the event's name (as profkit makes names: '_' for others, 'e' in
	 * front, "_N" after) with "(unit)"; an event: line after events:
	 * too. Other long names (valgrind's) and derived events give none. */
	const char *file = "# callgrind format\n"
	                   "event: Ir : Instruction Fetches\n"
	                   "event: cpu_time : cpu-time (nanoseconds)\n"
	                   "event: e9lives_2 : 9lives (bytes)\n"
	                   "event: e1 :  (widgets)\n"
	                   "event: Dr : Data Reads (ms)\n"
	                   "event: Sum = Ir + Dr : Sum (x)\n"
	                   "event: paren : paren (a (b))\n"
	                   "events: Ir cpu_time e9lives_2 e1 Dr Sum paren late\n"
	                   "event: late : late (seconds)\n"
	                   "fn=f\n"
	                   "1 1\n";
	assert_int_equal(pk_profile_read_buffer(file, strlen(file), &ro, &back, NULL, &err), 0);
	const char *units[] = {"count", "nanoseconds", "bytes", "widgets",
	                       "count", "count",       "count", "seconds"};
	assert_int_equal(pk_profile_sample_type_count(back), 8);
	for (size_t i = 0; i < 8; i++) {
		pk_value_type t = pk_profile_sample_type(back, i);
		if (strcmp(pk_profile_string(back, t.unit), units[i]) != 0)
			fail_msg("event %zu (%s): unit %s, want %s", i,
			         pk_profile_string(back, t.type), pk_profile_string(back, t.unit),
			         units[i]);
	}
	pk_profile_free(back);
}

/* A fixed pseudo-random sequence. */
static unsigned next_random(unsigned *x)
{
	*x = *x * 1103515245u + 12345u;
	return (*x >> 16) & 0x7fff;
}

/* A profile of many stacks (each walk takes two threads past a thousand
 * stacks or a few thousand nodes walked): 60 functions in 3 files, nlocs
 * (up to 200) locations of one line or two (inlined), stacks of 1 to 12
 * locations with recursion, drawn from seed; space values from -shift. */
static pk_profile *many_stacks(unsigned seed, int64_t shift, int nlocs)
{
	pk_profile *p = new_profile("samples", "space");
	uint32_t locs[200];
	for (int i = 0; i < nlocs; i++) {
		char name[16], file[16];
		snprintf(name, sizeof name, "f%d", i % 60);
		snprintf(file, sizeof file, "file%d.c", i % 3);
		uint32_t outer = fn(p, name, file, 10);
		if (i % 5 == 0) {
			snprintf(name, sizeof name, "f%d", (i + 7) % 60);
			uint32_t inner = fn(p, name, file, 0);
			locs[i] = loc(p, PK_NONE, 0, outer, 20 + i % 4, inner, 30 + i % 3);
		} else {
			locs[i] = loc1(p, outer, 20 + i % 7);
		}
	}
	unsigned x = seed;
	for (int s = 0; s < 3000; s++) {
		uint32_t stack[12];
		size_t n = 1 + next_random(&x) % 12;
		for (size_t k = 0; k < n; k++) {
			bool again = k > 0 && next_random(&x) % 8 == 0; /* recursion */
			stack[k] = again ? stack[k - 1] : locs[next_random(&x) % nlocs];
		}
		int64_t count = next_random(&x) % 5;
		sample(p, stack, n, count, (int64_t)(next_random(&x) % 1000) - shift);
	}
	return p;
}

/* The second walk's two threads (callgrind's graph: not cumulative) add
 * up to what one thread does (the cumulative graph): the same flat
 * values, weights, sample counts and inlined marks, with and without a
 * base whose larger stacks are dropped. */
static void test_graph_two_threads(void **state)
{
	(void)state;
	pk_profile *p = many_stacks(1, 100, 200), *base = many_stacks(2, 0, 200);
	for (int with_base = 0; with_base < 2; with_base++) {
		pk_error err = PK_ERROR_INIT;
		pk__graph *g[2] = {NULL, NULL};
		for (int cum = 0; cum < 2; cum++) {
			pk__graph_options o = {
			    NULL,     true, with_base ? base : NULL, PK_GRANULARITY_LINES, true,
			    cum == 1, false};
			assert_int_equal(pk__graph_build(p, &o, &g[cum], &err), 0);
		}
		size_t nv = g[0]->value_count;
		assert_int_equal(g[0]->node_count, g[1]->node_count);
		assert_int_equal(g[0]->edge_count, g[1]->edge_count);
		assert_true(g[0]->edge_count > 1000);
		assert_memory_equal(g[0]->node_flat, g[1]->node_flat,
		                    g[0]->node_count * nv * sizeof(int64_t));
		assert_memory_equal(g[0]->edge_weight, g[1]->edge_weight,
		                    g[0]->edge_count * nv * sizeof(int64_t));
		assert_memory_equal(g[0]->edges, g[1]->edges,
		                    g[0]->edge_count * sizeof(pk__graph_edge));
		int64_t flat = 0;
		for (size_t n = 0; n < g[0]->node_count; n++)
			flat += g[0]->node_flat[n * nv];
		assert_true(flat > 0);
		pk__graph_free(g[0]);
		pk__graph_free(g[1]);
	}
	pk_profile_free(base);
	pk_profile_free(p);
}

/* Graphs a and b are the same: functions, nodes, edges and values. */
static void assert_same_graph(const pk__graph *a, const pk__graph *b)
{
	size_t nv = a->value_count, nf = a->function_count;
	size_t nn = a->node_count, ne = a->edge_count;
	assert_int_equal(nf, b->function_count);
	assert_int_equal(nn, b->node_count);
	assert_int_equal(ne, b->edge_count);
	for (size_t f = 0; f < nf; f++) {
		const pk__graph_function *x = &a->functions[f], *y = &b->functions[f];
		assert_string_equal(x->name, y->name);
		assert_string_equal(x->file, y->file);
		assert_int_equal(x->start_line, y->start_line);
		assert_int_equal(x->first_node, y->first_node);
		assert_int_equal(x->node_count, y->node_count);
	}
	assert_memory_equal(a->nodes, b->nodes, (nn + 1) * sizeof *a->nodes);
	assert_memory_equal(a->edges, b->edges, ne * sizeof *a->edges);
	assert_memory_equal(a->node_flat, b->node_flat, nn * nv * sizeof(int64_t));
	assert_memory_equal(a->edge_weight, b->edge_weight, ne * nv * sizeof(int64_t));
}

/* The first walk on two threads, and with its second thread's part first
 * (whose table of calls fills with 200 locations, and not with 12), makes
 * the graph it makes on one, with and without a base. */
static void test_graph_first_walk_threads(void **state)
{
	(void)state;
	for (int nlocs = 12; nlocs <= 200; nlocs += 188) {
		pk_profile *p = many_stacks(3, 100, nlocs), *base = many_stacks(4, 0, nlocs);
		for (int with_base = 0; with_base < 2; with_base++) {
			/* first_walk 1 (one thread), then 0 and 2 */
			static const int modes[] = {1, 0, 2};
			pk__graph *one = NULL;
			for (size_t m = 0; m < 3; m++) {
				pk_error err = PK_ERROR_INIT;
				pk__graph_options o = {NULL,
				                       true,
				                       with_base ? base : NULL,
				                       PK_GRANULARITY_LINES,
				                       true,
				                       false,
				                       modes[m]};
				pk__graph *g = NULL;
				assert_int_equal(pk__graph_build(p, &o, &g, &err), 0);
				if (m == 0) {
					assert_true(g->edge_count > (nlocs > 12 ? 1000u : 30u));
					one = g;
					continue;
				}
				assert_same_graph(one, g);
				pk__graph_free(g);
			}
			pk__graph_free(one);
		}
		pk_profile_free(base);
		pk_profile_free(p);
	}
}

/* ---------------------------------------------------- allocation failures */

static void test_allocation_failures(void **state)
{
	(void)state;
	pk_profile *p = tiny_profile();
	/* callgrind's graph of many stacks: the second walk's two threads */
	pk_profile *many = many_stacks(1, 100, 200), *many_base = many_stacks(2, 0, 200);
	pk_set_allocator(chaos_malloc, chaos_free);
	for (int what = 0; what < 3; what++) {
		for (long n = 0;; n++) {
			chaos_reset(n + 1, 1);
			pk_error err = PK_ERROR_INIT;
			int rc;
			long calls;
			if (what == 0) {
				pk__graph_options o = {NULL, true, p,    PK_GRANULARITY_ADDRESSES,
				                       true, true, false};
				pk__graph *g = NULL;
				rc = pk__graph_build(p, &o, &g, &err);
				calls = chaos.calls;
				if (rc != 0)
					assert_null(g);
				pk__graph_free(g);
			} else if (what == 2) {
				pk__graph_options o = {NULL, true,  many_base, PK_GRANULARITY_LINES,
				                       true, false, false};
				pk__graph *g = NULL;
				rc = pk__graph_build(many, &o, &g, &err);
				calls = chaos.calls;
				if (rc != 0)
					assert_null(g);
				pk__graph_free(g);
			} else {
				pk_write_options o = PK_WRITE_OPTIONS_INIT;
				o.format = pk_format_by_name("callgrind");
				o.compress = PK_COMPRESS_NONE;
				void *data = NULL;
				size_t size;
				rc = pk_profile_write_buffer(p, &o, &data, &size, &err);
				calls = chaos.calls;
				pk_free(data);
			}
			if (rc == 0) {
				assert_int_equal(chaos.live, 0);
				assert_true(calls <= n);
				break;
			}
			assert_int_equal(rc, PK_ENOMEM);
			assert_string_equal(err.message, "out of memory");
			assert_int_equal(chaos.live, 0);
		}
	}
	chaos_reset(0, 0);
	pk_set_allocator(NULL, NULL);
	pk_profile_free(many_base);
	pk_profile_free(many);
	pk_profile_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_graph_flat_cum_edges),
	    cmocka_unit_test(test_graph_recursion),
	    cmocka_unit_test(test_graph_recursion_many_stacks),
	    cmocka_unit_test(test_graph_large_buckets),
	    cmocka_unit_test(test_graph_inlined),
	    cmocka_unit_test(test_graph_inlined_hosts),
	    cmocka_unit_test(test_graph_names),
	    cmocka_unit_test(test_graph_names_by_content),
	    cmocka_unit_test(test_graph_wide_calls),
	    cmocka_unit_test(test_graph_base),
	    cmocka_unit_test(test_graph_drop_negative),
	    cmocka_unit_test(test_graph_two_threads),
	    cmocka_unit_test(test_graph_first_walk_threads),
	    cmocka_unit_test(test_callgrind_text),
	    cmocka_unit_test(test_callgrind_inlined),
	    cmocka_unit_test(test_callgrind_names),
	    cmocka_unit_test(test_callgrind_negative),
	    cmocka_unit_test(test_callgrind_units),
	    cmocka_unit_test(test_allocation_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
