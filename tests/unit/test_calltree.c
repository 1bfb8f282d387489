/* test_calltree.c - sample type selection as -sample_index reads it, and
 * the call tree: frame names at each granularity as pprof names nodes,
 * inlined frames, order, reversal, bases, allocation failures. */
#include "helpers.h"
#include "internal.h"

#include <stdio.h>

/* ----------------------------------------------------- sample selection */

static pk_profile *heap_types(bool with_default)
{
	pk_profile *p;
	assert_int_equal(pk_profile_new(&p), 0);
	const char *types[] = {"alloc_objects", "alloc_space", "inuse_objects", "space"};
	for (int i = 0; i < 4; i++)
		assert_int_equal(pk_profile_add_sample_type(
		                     p, (pk_value_type){intern(p, types[i]), intern(p, "count")}),
		                 0);
	if (with_default)
		pk_profile_set_default_sample_type(p, intern(p, "alloc_space"));
	return p;
}

static void expect_type(const pk_profile *p, const char *spec, size_t want)
{
	size_t got = 99;
	assert_int_equal(pk_profile_find_sample_type(p, spec, &got, NULL), 0);
	assert_int_equal(got, want);
}

static void expect_no_type(const pk_profile *p, const char *spec, const char *message)
{
	size_t got = 99;
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(pk_profile_find_sample_type(p, spec, &got, &err), PK_ENOTFOUND);
	assert_string_equal(err.message, message);
	assert_int_equal(got, 99);
}

static void test_find_sample_type(void **state)
{
	(void)state;
	pk_profile *p = heap_types(true);
	expect_type(p, NULL, 1); /* the default type */
	expect_type(p, "", 1);
	expect_type(p, "0", 0);
	expect_type(p, "3", 3);
	expect_type(p, "alloc_objects", 0);
	expect_type(p, "inuse_objects", 2);
	expect_type(p, "inuse_space", 3); /* "space", as legacy heap profiles name it */
	expect_no_type(p, "4", "sample_index 4 is outside the range [0..3]");
	expect_no_type(p, "cpu",
	               "sample_index \"cpu\" must be one of: [alloc_objects alloc_space "
	               "inuse_objects space]");
	expect_no_type(p, "-1",
	               "sample_index \"-1\" must be one of: [alloc_objects alloc_space "
	               "inuse_objects space]");
	pk_profile_free(p);

	p = heap_types(false);
	expect_type(p, NULL, 3); /* no default: the last */
	pk_profile_free(p);

	assert_int_equal(pk_profile_new(&p), 0);
	expect_no_type(p, NULL, "the profile has no sample types");
	pk_profile_free(p);
}

/* ------------------------------------------------------------ the tree */

/* The tree's stacks, one a line: "shared|root;...;leaf self[ base]". */
static void expect_stacks(const pk__tree *t, const char *want)
{
	char got[1024];
	uint32_t frames[16];
	size_t n = 0;
	got[0] = '\0';
	assert_true(t->max_len <= 16);
	for (size_t i = 0; i < t->stack_count; i++) {
		const pk__tree_stack *st = &t->stacks[i];
		pk__tree_frames(t, i, frames);
		n += (size_t)snprintf(got + n, sizeof got - n, "%u|", st->shared);
		for (uint32_t d = 0; d < st->len; d++)
			n += (size_t)snprintf(got + n, sizeof got - n, "%s%s", d ? ";" : "",
			                      t->frames[frames[d]].name);
		n += (size_t)snprintf(got + n, sizeof got - n, " %lld", (long long)t->self[i]);
		if (t->has_base)
			n += (size_t)snprintf(got + n, sizeof got - n, " %lld",
			                      (long long)t->base_self[i]);
		n += (size_t)snprintf(got + n, sizeof got - n, "\n");
		assert_true(n < sizeof got);
	}
	assert_string_equal(got, want);
}

static pk__tree *build(const pk_profile *p, const char *type, const pk_profile *base,
                       int granularity, bool reverse)
{
	pk__tree_options o = {type, base, granularity, reverse, false};
	pk__tree *t = NULL;
	pk_error err = PK_ERROR_INIT;
	if (pk__tree_build(p, &o, &t, &err) != 0)
		fail_msg("pk__tree_build: %s", err.message);
	return t;
}

static void test_tree_inlined_frames(void **state)
{
	(void)state;
	pk_profile *p = make_rich_profile();
	/* Stacks: leaf(inlined into work) <- main: 3072 - 1024; main: 3072. */
	pk__tree *t = build(p, NULL, NULL, PK_GRANULARITY_FUNCTIONS, false);
	assert_string_equal(t->type, "alloc_space");
	assert_string_equal(t->unit, "bytes");
	assert_false(t->has_base);
	expect_stacks(t, "0|main.main 3072\n1|main.main;main.work;main.leaf 2048\n");
	assert_int_equal(t->max_len, 3);
	uint32_t frames[3];
	pk__tree_frames(t, 0, frames);
	pk__tree_frames(t, 1, frames);
	const pk__tree_frame *f = &t->frames[frames[2]];
	assert_string_equal(f->function, "main.leaf");
	assert_string_equal(f->file, "");
	assert_int_equal(f->line, 0);
	pk__tree_free(t);

	/* The other type, by index, and leaf first. */
	t = build(p, "0", NULL, PK_GRANULARITY_FUNCTIONS, true);
	expect_stacks(t, "0|main.leaf;main.work;main.main 2\n0|main.main 3\n");
	pk__tree_free(t);
	pk_profile_free(p);
}

static void expect_root_child(const pk_profile *p, int granularity, const char *name,
                              const char *file, int64_t line)
{
	pk__tree *t = build(p, NULL, NULL, granularity, false);
	assert_true(t->stack_count > 0 && t->stacks[0].len > 0 && t->max_len <= 3);
	uint32_t frames[3];
	pk__tree_frames(t, 0, frames);
	const pk__tree_frame *f = &t->frames[frames[0]];
	assert_string_equal(f->name, name);
	assert_int_equal(f->name_len, strlen(name));
	assert_string_equal(f->file, file);
	assert_int_equal(f->line, line);
	pk__tree_free(t);
}

/* One sample at one location of the given lines (0 or 1 line). */
static pk_profile *one_frame(const char *function, const char *file, const char *mapping)
{
	pk_profile *p;
	assert_int_equal(pk_profile_new(&p), 0);
	assert_int_equal(
	    pk_profile_add_sample_type(p, (pk_value_type){intern(p, "cpu"), intern(p, "ns")}), 0);
	uint32_t mi = PK_NONE, fi, li;
	if (mapping) {
		pk_mapping m = {0};
		m.memory_limit = 0x1000;
		m.filename = intern(p, mapping);
		assert_int_equal(pk_profile_add_mapping(p, &m, &mi), 0);
	}
	pk_location loc = {0, mi, 0xabc, 0};
	pk_line line = {0, 42, 0};
	if (function) {
		pk_function f = {0, intern(p, function), 0, intern(p, file), 0};
		assert_int_equal(pk_profile_add_function(p, &f, &fi), 0);
		line.function = fi;
	}
	assert_int_equal(pk_profile_add_location(p, &loc, &line, function ? 1 : 0, &li), 0);
	int64_t v = 7;
	assert_int_equal(pk_profile_add_sample(p, &li, 1, &v, 1, NULL, 0), 0);
	return p;
}

static void test_tree_granularity_names(void **state)
{
	(void)state;
	pk_profile *p = make_rich_profile();
	expect_root_child(p, PK_GRANULARITY_FUNCTIONS, "main.main", "", 0);
	expect_root_child(p, PK_GRANULARITY_FILEFUNCTIONS, "main.main app/main.go", "app/main.go",
	                  0);
	expect_root_child(p, PK_GRANULARITY_FILES, "app/main.go", "app/main.go", 0);
	expect_root_child(p, PK_GRANULARITY_LINES, "main.main app/main.go:12", "app/main.go", 12);
	expect_root_child(p, PK_GRANULARITY_ADDRESSES, "0000000000401000 main.main app/main.go:12",
	                  "app/main.go", 12);
	pk_profile_free(p);

	/* Without lines: the mapped file's base name, or <unknown>. */
	p = one_frame(NULL, NULL, "/usr/lib/libc.so.6");
	expect_root_child(p, PK_GRANULARITY_FUNCTIONS, "[libc.so.6]", "", 0);
	expect_root_child(p, PK_GRANULARITY_ADDRESSES, "0000000000000abc [libc.so.6]", "", 0);
	pk_profile_free(p);
	p = one_frame(NULL, NULL, NULL);
	expect_root_child(p, PK_GRANULARITY_FUNCTIONS, "<unknown>", "", 0);
	pk_profile_free(p);
	/* A function with no file at line granularity: ":line", as pprof. */
	p = one_frame("f", "", NULL);
	expect_root_child(p, PK_GRANULARITY_LINES, "f :42", "", 42);
	expect_root_child(p, PK_GRANULARITY_FILES, "<unknown>", "", 0);
	pk_profile_free(p);
}

static void test_tree_clean_paths(void **state)
{
	(void)state;
	static const char *const cases[][2] = {
	    {"/a//b/./c/../d.go", "/a/b/d.go"},
	    {"../x/../../y.go", "../../y.go"},
	    {"a/..", "."},
	    {"/../a.go", "/a.go"},
	    {"./a/b/", "a/b"},
	    {"//", "/"},
	    {"a/../../b", "../b"},
	    {"x/y/../../..", ".."},
	    /* clean already (one pass), or just not: Go's filepath.Clean */
	    {"/", "/"},
	    {"a.go", "a.go"},
	    {"/a/.b/..c/...go", "/a/.b/..c/...go"},
	    {"a/.", "a"},
	    {"a/b/", "a/b"},
	    {".", "."},
	    {"..", ".."},
	    {"/..", "/"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		pk_profile *p = one_frame("f", cases[i][0], NULL);
		char want[64];
		snprintf(want, sizeof want, "f %s", cases[i][1]);
		expect_root_child(p, PK_GRANULARITY_FILEFUNCTIONS, want, cases[i][1], 0);
		pk_profile_free(p);
	}
}

/* Samples: (stack of function names, root first, ';'-separated; value). */
static pk_profile *stacks_profile(const char *const *stacks, const int64_t *values, size_t n,
                                  const char *type0, const char *type1)
{
	pk_profile *p;
	assert_int_equal(pk_profile_new(&p), 0);
	assert_int_equal(
	    pk_profile_add_sample_type(p, (pk_value_type){intern(p, type0), intern(p, "count")}),
	    0);
	if (type1)
		assert_int_equal(pk_profile_add_sample_type(
		                     p, (pk_value_type){intern(p, type1), intern(p, "count")}),
		                 0);
	for (size_t i = 0; i < n; i++) {
		uint32_t locs[16];
		size_t depth = 0;
		char buf[128];
		snprintf(buf, sizeof buf, "%s", stacks[i]);
		for (char *name = strtok(buf, ";"); name; name = strtok(NULL, ";")) {
			pk_function f = {0, intern(p, name), 0, 0, 0};
			uint32_t fi, li;
			assert_int_equal(pk_profile_add_function(p, &f, &fi), 0);
			pk_line line = {fi, 0, 0};
			pk_location loc = {0, PK_NONE, 0, 0};
			assert_int_equal(pk_profile_add_location(p, &loc, &line, 1, &li), 0);
			locs[depth++] = li;
		}
		for (size_t k = 0; k < depth / 2; k++) { /* leaf first */
			uint32_t x = locs[k];
			locs[k] = locs[depth - 1 - k];
			locs[depth - 1 - k] = x;
		}
		int64_t v[2] = {values[2 * i], values[2 * i + 1]};
		assert_int_equal(pk_profile_add_sample(p, locs, depth, v, type1 ? 2 : 1, NULL, 0),
		                 0);
	}
	assert_int_equal(pk_profile_validate(p, NULL), 0);
	return p;
}

/* Stacks in name order, a stack before those it extends; stacks of the
 * same names (here of different locations) made one; the root's own stack
 * (a sample without locations) first. */
static void test_tree_order_and_cancelling(void **state)
{
	(void)state;
	const char *const stacks[] = {"m;zeta", "m;alpha", "m;beta;x", "m;beta", "m;alpha",
	                              "m;gone", "m;gone",  "m;zero",   ""};
	const int64_t values[] = {1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, -6, 0, 0, 0, 9, 0};
	pk_profile *p = stacks_profile(stacks, values, 9, "samples", NULL);
	pk__tree *t = build(p, NULL, NULL, PK_GRANULARITY_FUNCTIONS, false);
	/* "m;zero" added nothing; "m;gone" cancelled out. */
	expect_stacks(t, "0| 9\n0|m;alpha 7\n1|m;beta 4\n2|m;beta;x 3\n1|m;gone 0\n1|m;zeta 1\n");
	assert_int_equal(t->max_len, 3);
	pk__tree_free(t);
	pk_profile_free(p);
}

static void test_tree_base(void **state)
{
	(void)state;
	const char *const now[] = {"m;a", "m;b"}, *const then[] = {"m;a", "m;c"};
	const int64_t now_v[] = {10, 0, 5, 0}, then_v[] = {4, 0, 9, 0};
	pk_profile *p = stacks_profile(now, now_v, 2, "samples", NULL);
	pk_profile *base = stacks_profile(then, then_v, 2, "samples", NULL);
	pk__tree *t = build(p, NULL, base, PK_GRANULARITY_FUNCTIONS, false);
	assert_true(t->has_base);
	expect_stacks(t, "0|m;a 10 4\n1|m;b 5 0\n1|m;c 0 9\n");
	pk__tree_free(t);

	/* A base without the type is refused. */
	pk_profile *other = stacks_profile(then, then_v, 2, "cpu", NULL);
	pk__tree_options o = {NULL, other, PK_GRANULARITY_FUNCTIONS, false, false};
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(pk__tree_build(p, &o, &t, &err), PK_ENOTFOUND);
	assert_string_equal(err.message, "the base profile has no sample type samples/count");
	pk_profile_free(other);
	pk_profile_free(base);
	pk_profile_free(p);
}

static void test_tree_self_diff(void **state)
{
	(void)state;
	const char *const stacks[] = {"m;a", "m;b"};
	const int64_t values[] = {3, 8, 6, 1}; /* (base, new) pairs */
	pk_profile *p = stacks_profile(stacks, values, 2, "base", "new");
	pk__tree *t = build(p, NULL, NULL, PK_GRANULARITY_FUNCTIONS, false);
	assert_true(t->has_base);
	assert_string_equal(t->type, "new");
	expect_stacks(t, "0|m;a 8 3\n1|m;b 1 6\n");
	pk__tree_free(t);
	/* Asking for a type turns that off. */
	t = build(p, "base", NULL, PK_GRANULARITY_FUNCTIONS, false);
	assert_false(t->has_base);
	expect_stacks(t, "0|m;a 3\n1|m;b 6\n");
	pk__tree_free(t);
	pk_profile_free(p);
}

/* Another sample type on the same stacks, as speedscope asks for each. */
static void test_tree_select_type(void **state)
{
	(void)state;
	const char *const stacks[] = {"m;a", "m;b", "m;c"};
	const int64_t values[] = {1, 0, 0, 5, 2, 0};
	pk_profile *p = stacks_profile(stacks, values, 3, "x", "y");
	pk__tree_options o = {"x", NULL, PK_GRANULARITY_FUNCTIONS, false, true};
	pk__tree *t = NULL;
	assert_int_equal(pk__tree_build(p, &o, &t, NULL), 0);
	expect_stacks(t, "0|m;a 1\n1|m;b 0\n1|m;c 2\n");
	assert_int_equal(pk__tree_select_type(t, "y", NULL), 0);
	assert_string_equal(t->type, "y");
	expect_stacks(t, "0|m;a 0\n1|m;b 5\n1|m;c 0\n");
	pk__tree_free(t);
	/* Without all_types the tree has the stacks of one type only. */
	o.all_types = false;
	assert_int_equal(pk__tree_build(p, &o, &t, NULL), 0);
	expect_stacks(t, "0|m;a 1\n1|m;c 2\n");
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(pk__tree_select_type(t, "y", &err), PK_EUNSUPPORTED);
	assert_string_equal(err.message, "the call tree has only one sample type");
	pk__tree_free(t);
	pk_profile_free(p);
}

/* Stacks are compared by their frames, not their locations: a location
 * with an inlined call gives the same frames as two locations of one line
 * each, and their stacks are one. */
static void test_tree_same_frames(void **state)
{
	(void)state;
	pk_profile *p;
	assert_int_equal(pk_profile_new(&p), 0);
	assert_int_equal(
	    pk_profile_add_sample_type(p, (pk_value_type){intern(p, "cpu"), intern(p, "ns")}), 0);
	const char *names[] = {"main", "work", "leaf"};
	uint32_t fi[3], li[4];
	for (int i = 0; i < 3; i++) {
		pk_function f = {0, intern(p, names[i]), 0, 0, 0};
		assert_int_equal(pk_profile_add_function(p, &f, &fi[i]), 0);
	}
	pk_location loc = {0, PK_NONE, 0, 0};
	pk_line lines[2] = {{fi[2], 0, 0}, {fi[1], 0, 0}}; /* leaf inlined into work */
	assert_int_equal(pk_profile_add_location(p, &loc, &lines[0], 2, &li[0]), 0);
	for (int i = 0; i < 3; i++) {
		pk_line one = {fi[i], 0, 0};
		assert_int_equal(pk_profile_add_location(p, &loc, &one, 1, &li[1 + i]), 0);
	}
	/* leaf first: work+leaf <- main, leaf <- work <- main, work <- main */
	uint32_t s1[] = {li[0], li[1]}, s2[] = {li[3], li[2], li[1]}, s3[] = {li[2], li[1]};
	int64_t v[] = {5, 7, 1};
	assert_int_equal(pk_profile_add_sample(p, s1, 2, &v[0], 1, NULL, 0), 0);
	assert_int_equal(pk_profile_add_sample(p, s2, 3, &v[1], 1, NULL, 0), 0);
	assert_int_equal(pk_profile_add_sample(p, s3, 2, &v[2], 1, NULL, 0), 0);
	assert_int_equal(pk_profile_validate(p, NULL), 0);

	pk__tree *t = build(p, NULL, NULL, PK_GRANULARITY_FUNCTIONS, false);
	expect_stacks(t, "0|main;work 1\n2|main;work;leaf 12\n");
	pk__tree_free(t);
	t = build(p, NULL, NULL, PK_GRANULARITY_FUNCTIONS, true);
	expect_stacks(t, "0|leaf;work;main 12\n0|work;main 1\n");
	pk__tree_free(t);
	pk_profile_free(p);
}

/* Many stacks (more than the sort's small runs) over few names, of 1 to 6
 * frames (chunks of the sort's keys hold 4 frames, or 2 past 65535
 * frames), and `unique` more of one frame each, "z" and a number: each
 * distinct name path once, in name order (a path before those it
 * extends), its `shared` what it has in common with the one before, its
 * value the sum of its samples'. */
static void check_sort_many(size_t unique)
{
	enum { N = 400 };
	size_t total = N + unique;
	char(*text)[64] = calloc(total, sizeof *text);
	const char **stacks = calloc(total, sizeof *stacks);
	int64_t *values = calloc(2 * total, sizeof *values);
	assert_true(text && stacks && values);
	uint32_t seed = 12345;
	for (size_t i = 0; i < N; i++) {
		size_t depth = 1 + (seed >> 16) % 6, n = 0;
		for (size_t d = 0; d < depth; d++) {
			seed = seed * 1103515245u + 12345u;
			n += (size_t)snprintf(text[i] + n, sizeof text[i] - n, "%s%c", d ? ";" : "",
			                      "abcd"[(seed >> 16) % (d < 2 ? 2 : 4)]);
		}
		seed = seed * 1103515245u + 12345u;
		stacks[i] = text[i];
		values[2 * i] = (int64_t)(i % 7) + 1;
		values[2 * i + 1] = 0;
	}
	for (size_t i = N; i < total; i++) {
		snprintf(text[i], sizeof text[i], "z%zu", i);
		stacks[i] = text[i];
		values[2 * i] = 1;
	}
	pk_profile *p = stacks_profile(stacks, values, total, "samples", NULL);
	pk__tree *t = build(p, NULL, NULL, PK_GRANULARITY_FUNCTIONS, false);
	uint32_t frames[8], last[8];
	uint32_t last_len = 0;
	int64_t sum = 0, want = 0;
	for (size_t i = 0; i < total; i++)
		want += values[2 * i];
	assert_int_equal(t->stack_count > unique, true);
	for (size_t i = 0; i < t->stack_count; i++) {
		const pk__tree_stack *st = &t->stacks[i];
		pk__tree_frames(t, i, frames);
		uint32_t shared = 0;
		while (shared < st->len && shared < last_len &&
		       strcmp(t->frames[frames[shared]].name, t->frames[last[shared]].name) == 0)
			shared++;
		assert_int_equal(st->shared, shared);
		/* after the last: longer where that is a prefix, else a larger name */
		if (i > 0 && shared == last_len)
			assert_true(st->len > last_len);
		else if (i > 0)
			assert_true(shared < st->len && strcmp(t->frames[frames[shared]].name,
			                                       t->frames[last[shared]].name) > 0);
		char path[64];
		size_t n = 0;
		for (uint32_t d = 0; d < st->len; d++)
			n += (size_t)snprintf(path + n, sizeof path - n, "%s%s", d ? ";" : "",
			                      t->frames[frames[d]].name);
		int64_t self = path[0] == 'z' ? 1 : 0;
		for (size_t k = 0; k < N && self == 0; k++)
			if (strcmp(stacks[k], path) == 0)
				for (size_t j = k; j < N; j++)
					self += strcmp(stacks[j], path) == 0 ? values[2 * j] : 0;
		assert_int_equal(t->self[i], self);
		sum += t->self[i];
		memcpy(last, frames, st->len * sizeof *frames);
		last_len = st->len;
	}
	assert_int_equal(sum, want);
	pk__tree_free(t);
	pk_profile_free(p);
	free(text);
	free(stacks);
	free(values);
}

static void test_tree_sort_many(void **state)
{
	(void)state;
	check_sort_many(0);
	check_sort_many(9000);  /* keys made and sorted on two threads */
	check_sort_many(70000); /* frames past 65535: 4 bytes a frame */
}

static void test_tree_allocation_failures(void **state)
{
	(void)state;
	pk_profile *p = make_rich_profile();
	pk_set_allocator(chaos_malloc, chaos_free);
	for (long n = 0;; n++) {
		chaos_reset(n + 1, 1);
		pk__tree_options o = {NULL, p, PK_GRANULARITY_LINES, false, false};
		pk__tree *t = NULL;
		pk_error err = PK_ERROR_INIT;
		int rc = pk__tree_build(p, &o, &t, &err);
		long calls = chaos.calls;
		pk__tree_free(t);
		if (rc == 0) {
			assert_int_equal(chaos.live, 0);
			assert_true(calls <= n);
			break;
		}
		assert_int_equal(rc, PK_ENOMEM);
		assert_string_equal(err.message, "out of memory");
		assert_null(t);
		assert_int_equal(chaos.live, 0);
	}
	chaos_reset(0, 0);
	pk_set_allocator(NULL, NULL);
	pk_profile_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_find_sample_type),
	    cmocka_unit_test(test_tree_inlined_frames),
	    cmocka_unit_test(test_tree_granularity_names),
	    cmocka_unit_test(test_tree_clean_paths),
	    cmocka_unit_test(test_tree_order_and_cancelling),
	    cmocka_unit_test(test_tree_base),
	    cmocka_unit_test(test_tree_self_diff),
	    cmocka_unit_test(test_tree_select_type),
	    cmocka_unit_test(test_tree_same_frames),
	    cmocka_unit_test(test_tree_sort_many),
	    cmocka_unit_test(test_tree_allocation_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
