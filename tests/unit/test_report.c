/* test_report.c - pprof's number formats, the model operations behind the
 * text reports (merge, diff, aggregate, filter) and the reports
 * themselves, with an allocation failure at every step. */
#include "helpers.h"
#include "internal.h"

#include <stdio.h>

static void check_pct(int64_t value, int64_t total, const char *want)
{
	char buf[32];
	pk__percentage(buf, sizeof buf, value, total);
	assert_string_equal(buf, want);
}

static void test_percentage(void **state)
{
	(void)state;
	check_pct(890, 890, "  100%");
	check_pct(-890, 890, "  100%"); /* always the absolute value */
	check_pct(19995, 20000, "  100%");
	check_pct(4147, 21712430, "0.019%");
	check_pct(0, 890, "    0%");
	check_pct(5, 10000000, "5e-05%");
	check_pct(300, 890, "33.71%");
	check_pct(10, 890, " 1.12%");
	check_pct(1, 120, " 0.83%");
	check_pct(-1, 100, " 1.00%");
	check_pct(7, 0, "    0%"); /* a total of 0 gives 0, not a division */
}

static void check_label(int64_t value, const char *from, const char *to, const char *want)
{
	char buf[64];
	pk__scaled_label(buf, sizeof buf, value, from, to);
	assert_string_equal(buf, want);
}

static void test_scaled_label(void **state)
{
	(void)state;
	check_label(20971520, "bytes", "kB", "20480kB");
	check_label(21712430, "bytes", "minimum", "20.71MB");
	check_label(4147, "bytes", "kB", "4.05kB");
	check_label(0, "bytes", "auto", "0");
	check_label(0, "nanoseconds", "ms", "0"); /* never "0ms" */
	check_label(890000000, "nanoseconds", "ms", "890ms");
	check_label(430000000, "nanoseconds", "s", "0.43s");
	check_label(1000000000, "nanoseconds", "auto", "1s");
	check_label(2010000000, "nanoseconds", "auto", "2.01s");
	check_label(999, "bytes", "auto", "999B");
	check_label(-1024, "bytes", "auto", "-1kB");
	check_label(305, "count", "minimum", "305");
	check_label(12, "widgets", "widgets", "12widgets");
	check_label(1500, "us", "ms", "1.50ms");
	check_label(1, "nanoseconds", "minimum", "1ns");
	check_label(3, "bytes", "kB", "0");
}

/* ------------------------------------------------------------- helpers */

/* A profile with one sample type "samples/count", functions a, b, c and a
 * location per function; samples are added by the tests. */
typedef struct small {
	pk_profile *p;
	uint32_t loc[4];
} small;

static small make_small(const char *type)
{
	small s;
	assert_int_equal(pk_profile_new(&s.p), 0);
	pk_profile *p = s.p;
	assert_int_equal(
	    pk_profile_add_sample_type(p, (pk_value_type){intern(p, type), intern(p, "count")}), 0);
	pk_profile_set_period_type(p, (pk_value_type){intern(p, "cpu"), intern(p, "nanoseconds")});
	const char *names[] = {"a", "b", "c", "d"};
	for (int i = 0; i < 4; i++) {
		pk_function f = {0};
		f.id = (uint64_t)i + 1;
		f.name = intern(p, names[i]);
		f.system_name = f.name;
		f.filename = intern(p, i < 2 ? "x.go" : "y.go");
		uint32_t fi;
		assert_int_equal(pk_profile_add_function(p, &f, &fi), 0);
		pk_location loc = {(uint64_t)i + 1, PK_NONE, 0x1000 + (uint64_t)i, 0};
		pk_line line = {fi, 10 + i, 0};
		assert_int_equal(pk_profile_add_location(p, &loc, &line, 1, &s.loc[i]), 0);
	}
	return s;
}

static void add(small *s, const uint32_t *stack, size_t depth, int64_t v, const pk_label *labels,
                size_t nl)
{
	assert_int_equal(pk_profile_add_sample(s->p, stack, depth, &v, 1, labels, nl), 0);
}

static int64_t total(const pk_profile *p, size_t type)
{
	int64_t t = 0;
	for (size_t i = 0; i < pk_profile_sample_count(p); i++) {
		pk_sample s;
		pk_profile_sample(p, i, &s);
		t += s.values[type];
	}
	return t;
}

static char *report(const pk_profile *p, const pk_report_options *o)
{
	void *out = NULL;
	size_t size = 0;
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(pk_report_write_buffer(p, o, &out, &size, &err), 0);
	char *s = malloc(size + 1);
	assert_non_null(s);
	memcpy(s, out, size);
	s[size] = '\0';
	pk_free(out);
	return s;
}

/* ---------------------------------------------------------------- merge */

static void test_merge(void **state)
{
	(void)state;
	pk_profile *p = make_rich_profile();
	const pk_profile *in[] = {p, p};
	pk_profile *m = NULL;
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(pk_profile_merge(in, 2, &m, &err), 0);
	assert_int_equal(pk_profile_validate(m, NULL), 0);
	/* equal stacks with equal labels add up; the labels stay apart */
	assert_int_equal(pk_profile_sample_count(m), 3);
	assert_int_equal(total(m, 1), 2 * total(p, 1));
	assert_int_equal(pk_profile_duration_nanos(m), 2 * pk_profile_duration_nanos(p));
	assert_int_equal(pk_profile_location_count(m), pk_profile_location_count(p));
	assert_int_equal(pk_profile_function_count(m), pk_profile_function_count(p));
	pk_sample s;
	pk_profile_sample(m, 0, &s);
	assert_int_equal(s.values[0], 6);
	assert_int_equal(s.label_count, 2);
	pk_profile_free(m);

	assert_int_equal(pk_profile_merge(in, 0, &m, &err), PK_EINVAL);
	pk_profile_free(p);
}

static void test_merge_incompatible(void **state)
{
	(void)state;
	small a = make_small("samples"), b = make_small("objects");
	const pk_profile *in[] = {a.p, b.p};
	pk_profile *m = NULL;
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(pk_profile_merge(in, 2, &m, &err), PK_EINVAL);
	assert_null(m);
	assert_string_equal(err.message,
	                    "incompatible sample types: profile 2 differs from profile 1");

	small c = make_small("samples");
	pk_profile_set_period_type(c.p,
	                           (pk_value_type){intern(c.p, "space"), intern(c.p, "bytes")});
	const pk_profile *in2[] = {a.p, c.p};
	pk_error err2 = PK_ERROR_INIT;
	assert_int_equal(pk_profile_merge(in2, 2, &m, &err2), PK_EINVAL);
	assert_non_null(strstr(err2.message, "incompatible period types"));
	pk_profile_free(a.p);
	pk_profile_free(b.p);
	pk_profile_free(c.p);
}

static void test_merge_zero_and_labels(void **state)
{
	(void)state;
	small a = make_small("samples");
	pk_profile *p = a.p;
	uint32_t st[2] = {a.loc[0], a.loc[1]};
	pk_label k1 = {intern(p, "k"), intern(p, "1"), 0, 0};
	pk_label k2 = {intern(p, "k"), intern(p, "2"), 0, 0};
	add(&a, st, 2, 5, &k1, 1);
	add(&a, st, 2, 7, &k2, 1);  /* other label value: stays apart */
	add(&a, st, 2, 0, NULL, 0); /* all zero: dropped */
	add(&a, st, 2, 1, &k1, 1);  /* same as the first: adds up */
	const pk_profile *in[] = {p};
	pk_profile *m = NULL;
	assert_int_equal(pk_profile_merge(in, 1, &m, NULL), 0);
	assert_int_equal(pk_profile_sample_count(m), 2);
	pk_sample s;
	pk_profile_sample(m, 0, &s);
	assert_int_equal(s.values[0], 6);
	pk_profile_sample(m, 1, &s);
	assert_int_equal(s.values[0], 7);
	assert_string_equal(pk_profile_string(m, pk_profile_label(m, s.labels[0]).str), "2");
	pk_profile_free(m);
	/* the second source's labels map to the first's: each is kept once */
	const pk_profile *twice[] = {p, p};
	assert_int_equal(pk_profile_merge(twice, 2, &m, NULL), 0);
	assert_int_equal(pk_profile_sample_count(m), 2);
	assert_int_equal(pk_profile_label_count(m), 2);
	pk_profile_sample(m, 0, &s);
	assert_int_equal(s.values[0], 12);
	assert_string_equal(pk_profile_string(m, pk_profile_label(m, s.labels[0]).str), "1");
	pk_profile_free(m);
	pk_profile_free(p);
}

/* A later profile's header strings are its own, whatever strings an earlier
 * profile had at the same indexes. */
static void test_merge_header_strings(void **state)
{
	(void)state;
	small a = make_small("samples"), b = make_small("samples");
	uint32_t st[1] = {a.loc[0]};
	pk_label l = {intern(a.p, "key"), intern(a.p, "value"), 0, 0};
	add(&a, st, 1, 1, &l, 1);
	/* b's comment has the index of a's label key, which a's samples mapped */
	pk_str note = intern(b.p, "note");
	assert_int_equal(note, l.key);
	assert_int_equal(pk_profile_add_comment(b.p, note), 0);
	add(&b, st, 1, 1, NULL, 0);
	const pk_profile *in[] = {a.p, b.p};
	pk_profile *m = NULL;
	assert_int_equal(pk_profile_merge(in, 2, &m, NULL), 0);
	assert_int_equal(pk_profile_comment_count(m), 1);
	assert_string_equal(pk_profile_string(m, pk_profile_comment(m, 0)), "note");
	pk_profile_free(m);
	pk_profile_free(a.p);
	pk_profile_free(b.p);
}

/* What merge reads of a source besides the public API: the label set of
 * each sample (equal labels, one set) and its strings by index. */
static void test_merge_source_internals(void **state)
{
	(void)state;
	small a = make_small("samples");
	pk_profile *p = a.p;
	uint32_t st[2] = {a.loc[0], a.loc[1]};
	pk_label k1 = {intern(p, "k"), intern(p, "1"), 0, 0};
	pk_label k2 = {intern(p, "k"), intern(p, "2"), 0, 0};
	add(&a, st, 2, 5, &k1, 1);
	add(&a, st, 2, 7, &k2, 1);
	add(&a, st, 2, 3, NULL, 0);
	add(&a, st, 2, 1, &k1, 1);
	uint32_t first = pk__profile_sample_label_set(p, 0);
	assert_int_not_equal(first, 0);
	assert_int_not_equal(pk__profile_sample_label_set(p, 1), first);
	assert_int_equal(pk__profile_sample_label_set(p, 2), 0);
	assert_int_equal(pk__profile_sample_label_set(p, 3), first);
	assert_int_equal(pk__profile_label_set_count(p), 3); /* with the empty one */

	pk_profile *q = NULL;
	assert_int_equal(pk_profile_new(&q), 0);
	pk_str before = intern(q, "2"), got = 0;
	assert_int_equal(pk__profile_intern_from(q, p, k1.key, false, &got), 0);
	assert_string_equal(pk_profile_string(q, got), "k");
	assert_int_equal(pk__profile_intern_from(q, p, k2.str, false, &got), 0);
	assert_int_equal(got, before); /* found, not added again */
	assert_int_equal(
	    pk__profile_intern_from(q, p, (pk_str)pk_profile_string_count(p), false, &got),
	    PK_EINVAL);
	pk_profile_free(q);
	pk_profile_free(p);
}

/* A profile of one sample type with a mapping of bin at start, for the
 * test below: functions by name, locations (address, function, line). */
static pk_profile *make_mapped(uint64_t start)
{
	pk_profile *p = NULL;
	assert_int_equal(pk_profile_new(&p), 0);
	assert_int_equal(pk_profile_add_sample_type(
	                     p, (pk_value_type){intern(p, "samples"), intern(p, "count")}),
	                 0);
	pk_mapping m = {1, start, start + 0x10000, 0, intern(p, "bin"), 0, 1, 1, 1, 0};
	assert_int_equal(pk_profile_add_mapping(p, &m, NULL), 0);
	return p;
}

static uint32_t add_location(pk_profile *p, const char *fn, uint64_t address, int64_t line)
{
	pk_function f = {0};
	f.name = f.system_name = intern(p, fn);
	f.filename = intern(p, "f.go");
	uint32_t fi = PK_NONE, li = PK_NONE;
	for (size_t i = 0; i < pk_profile_function_count(p); i++)
		if (pk_profile_function(p, i)->name == f.name)
			fi = (uint32_t)i;
	if (fi == PK_NONE)
		assert_int_equal(pk_profile_add_function(p, &f, &fi), 0);
	pk_location loc = {0, 0, address, 0};
	pk_line l = {fi, line, 0};
	assert_int_equal(pk_profile_add_location(p, &loc, &l, 1, &li), 0);
	return li;
}

/* What q has of a later source is found before its samples are merged;
 * what it lacks is added at its first use, so the result's order is that
 * of first use still. */
static void test_merge_known_first(void **state)
{
	(void)state;
	pk_profile *a = make_mapped(0x1000), *b = make_mapped(0x4000);
	uint32_t a0 = add_location(a, "main", 0x1010, 1), a1 = add_location(a, "work", 0x1020, 2);
	int64_t one = 1;
	assert_int_equal(pk_profile_add_sample(a, (uint32_t[]){a0, a1}, 2, &one, 1, NULL, 0), 0);
	/* b: a new function, a known one at a new line, a known location (by
	 * its address in the mapping, which starts elsewhere in b) */
	uint32_t b0 = add_location(b, "fresh", 0x4030, 3), b1 = add_location(b, "work", 0x4040, 9),
	         b2 = add_location(b, "main", 0x4010, 1);
	assert_int_equal(pk_profile_add_sample(b, (uint32_t[]){b0, b1, b2}, 3, &one, 1, NULL, 0),
	                 0);
	assert_int_equal(pk_profile_add_sample(b, (uint32_t[]){b2}, 1, &one, 1, NULL, 0), 0);
	/* and a location in a mapping a lacks */
	pk_mapping other = {2, 0x9000, 0xa000, 0, intern(b, "lib.so"), 0, 1, 1, 1, 0};
	uint32_t mapping;
	assert_int_equal(pk_profile_add_mapping(b, &other, &mapping), 0);
	pk_location in_lib = {0, mapping, 0x9010, 0};
	const pk_line *fresh;
	assert_int_equal(pk_profile_location_lines(b, b0, &fresh), 1);
	pk_line lib_line = {fresh[0].function, 4, 0};
	uint32_t b3;
	assert_int_equal(pk_profile_add_location(b, &in_lib, &lib_line, 1, &b3), 0);
	assert_int_equal(pk_profile_add_sample(b, (uint32_t[]){b3, b2}, 2, &one, 1, NULL, 0), 0);

	pk_str found[16];
	pk_profile *q = NULL;
	assert_int_equal(pk_profile_new(&q), 0);
	pk_str work = intern(q, "work");
	assert_true(pk_profile_string_count(b) <= 16);
	pk__profile_find_strings(q, b, found);
	for (size_t i = 0; i < pk_profile_string_count(b); i++) {
		const char *str = pk_profile_string(b, (pk_str)i);
		pk_str want = *str == '\0' ? 0 : strcmp(str, "work") == 0 ? work : PK_NONE;
		assert_int_equal(found[i], want);
	}
	pk_profile_free(q);

	const pk_profile *in[] = {a, b};
	pk_profile *m = NULL;
	assert_int_equal(pk_profile_merge(in, 2, &m, NULL), 0);
	assert_int_equal(pk_profile_validate(m, NULL), 0);
	assert_int_equal(pk_profile_mapping_count(m), 2);
	const char *names[] = {"main", "work", "fresh"};
	assert_int_equal(pk_profile_function_count(m), 3);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(pk_profile_string(m, pk_profile_function(m, i)->name),
		                    names[i]);
	/* main, work:2, then fresh and work:9 in b's order; b's main is a's */
	const uint64_t addresses[] = {0x1010, 0x1020, 0x1030, 0x1040, 0x9010};
	assert_int_equal(pk_profile_location_count(m), 5);
	assert_int_equal(pk_profile_location(m, 4)->mapping, 1);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(pk_profile_location(m, i)->address, addresses[i]);
	pk_sample s;
	pk_profile_sample(m, 2, &s);
	assert_int_equal(s.depth, 1);
	assert_int_equal(s.locations[0], 0);
	pk_profile_free(m);
	pk_profile_free(a);
	pk_profile_free(b);
}

/* A later source's stacks that q has are found before its samples (its
 * samples add to q's), those it lacks are added at their first use; the
 * look-up adds nothing. */
static void test_merge_known_stacks(void **state)
{
	(void)state;
	pk_profile *a = make_mapped(0x1000), *b = make_mapped(0x4000);
	uint32_t a0 = add_location(a, "main", 0x1010, 1), a1 = add_location(a, "work", 0x1020, 2);
	int64_t v[] = {1, 10, 100, 1000, 10000};
	assert_int_equal(pk_profile_add_sample(a, (uint32_t[]){a1, a0}, 2, &v[0], 1, NULL, 0), 0);
	assert_int_equal(pk_profile_add_sample(a, (uint32_t[]){a0}, 1, &v[1], 1, NULL, 0), 0);
	/* b: a stack of a location a lacks first, then a's two in the other
	 * order, its locations numbered otherwise */
	uint32_t b0 = add_location(b, "fresh", 0x4030, 3), b1 = add_location(b, "main", 0x4010, 1),
	         b2 = add_location(b, "work", 0x4020, 2);
	assert_int_equal(pk_profile_add_sample(b, (uint32_t[]){b0, b1}, 2, &v[2], 1, NULL, 0), 0);
	assert_int_equal(pk_profile_add_sample(b, (uint32_t[]){b1}, 1, &v[3], 1, NULL, 0), 0);
	assert_int_equal(pk_profile_add_sample(b, (uint32_t[]){b2, b1}, 2, &v[4], 1, NULL, 0), 0);

	const pk_profile *in[] = {a, b};
	pk_profile *m = NULL;
	assert_int_equal(pk_profile_merge(in, 2, &m, NULL), 0);
	assert_int_equal(pk_profile_validate(m, NULL), 0);
	assert_int_equal(pk_profile_stack_count(m), 3);
	assert_int_equal(pk_profile_sample_count(m), 3);
	const int64_t want[] = {10001, 1010, 100};
	const size_t depth[] = {2, 1, 2};
	for (size_t i = 0; i < 3; i++) {
		pk_sample s;
		pk_profile_sample(m, i, &s);
		assert_int_equal(s.values[0], want[i]);
		assert_int_equal(s.depth, depth[i]);
	}
	pk_sample s;
	pk_profile_sample(m, 2, &s);
	assert_int_equal(pk_profile_location(m, s.locations[0])->address, 0x1030);

	/* the look-up alone: found, missing, and no table */
	uint32_t known[] = {a1, a0}, unknown[] = {a0, a1};
	size_t stacks = pk_profile_stack_count(a);
	assert_int_equal(pk__profile_find_stack(a, known, 2, pk__stack_hash(known, 2)), 0);
	assert_int_equal(pk__profile_find_stack(a, unknown, 2, pk__stack_hash(unknown, 2)),
	                 PK_NONE);
	assert_int_equal(pk_profile_stack_count(a), stacks);
	pk__profile_shrink(a);
	assert_int_equal(pk__profile_find_stack(a, known, 2, pk__stack_hash(known, 2)), PK_NONE);
	pk_profile_free(m);
	pk_profile_free(a);
	pk_profile_free(b);
}

/* A later source's samples of stacks the merge has, more than the samples
 * looked at ahead (add_source adds those to their sums at once): zero ones
 * add nothing, labelled ones and new stacks keep their own, and a negated
 * source subtracts. */
static void test_merge_known_sums(void **state)
{
	(void)state;
	small a = make_small("samples"), b = make_small("samples");
	uint32_t st[4][2] = {
	    {a.loc[0], a.loc[1]}, {a.loc[1], a.loc[2]}, {a.loc[2], a.loc[3]}, {a.loc[3], a.loc[0]}};
	pk_label k = {intern(b.p, "k"), intern(b.p, "v"), 0, 0};
	for (int i = 0; i < 3; i++)
		add(&a, st[i], 2, 1000, NULL, 0);
	int64_t want[4] = {1000, 1000, 1000, 0}, labelled = 0;
	for (int i = 0; i < 50; i++) {
		int s = i % 4;
		int64_t v = i % 7 == 3 ? 0 : i + 1;
		bool label = i % 8 == 5; /* of stack 1 */
		add(&b, st[s], 2, v, label ? &k : NULL, label ? 1 : 0);
		if (label)
			labelled += v;
		else
			want[s] += v;
	}
	for (int negate = 0; negate < 2; negate++) {
		pk_merger *m;
		pk_profile *q;
		assert_int_equal(pk_merger_new(&m, NULL), 0);
		assert_int_equal(pk_merger_add(m, a.p, 0, NULL), 0);
		assert_int_equal(pk_merger_add(m, b.p, negate, NULL), 0);
		assert_int_equal(pk_merger_finish(m, &q, NULL), 0);
		pk_merger_free(m);
		assert_int_equal(pk_profile_sample_count(q), 5);
		for (size_t i = 0; i < 5; i++) {
			pk_sample s;
			pk_profile_sample(q, i, &s);
			const pk_location *leaf = pk_profile_location(q, s.locations[0]);
			int at = (int)(leaf->address - 0x1000);
			int64_t from_b = s.label_count ? labelled : want[at] - (at < 3 ? 1000 : 0);
			int64_t from_a = s.label_count || at == 3 ? 0 : 1000;
			assert_int_equal(s.values[0], negate ? from_a - from_b : from_a + from_b);
		}
		pk_profile_free(q);
	}
	pk_profile_free(a.p);
	pk_profile_free(b.p);
}

/* What the second merge adds knowing it is new is found by later look-ups. */
static void test_append_known_new(void **state)
{
	(void)state;
	small a = make_small("samples");
	pk_profile *q = NULL;
	assert_int_equal(pk_profile_new(&q), 0);
	pk_str k = intern(a.p, "k"), got = 0, again = 0;
	assert_int_equal(pk__profile_intern_from(q, a.p, k, true, &got), 0);
	assert_int_equal(pk_profile_intern(q, "k", 1, &again), 0);
	assert_int_equal(again, got);

	uint32_t *room, first, second, found;
	assert_int_equal(pk__profile_stack_room(a.p, 0, 2, &room), 0);
	room[0] = a.loc[0];
	room[1] = a.loc[1];
	assert_int_equal(pk__profile_intern_tail_stack(a.p, 2, &first), 0);
	assert_int_equal(pk__profile_stack_room(a.p, 0, 1, &room), 0);
	room[0] = a.loc[2];
	assert_int_equal(pk__profile_append_tail_stack(a.p, 1, &second), 0);
	assert_int_not_equal(second, first);
	/* the table dropped by the append is built again for both */
	assert_int_equal(pk__profile_stack_room(a.p, 0, 1, &room), 0);
	room[0] = a.loc[2];
	assert_int_equal(pk__profile_intern_tail_stack(a.p, 1, &found), 0);
	assert_int_equal(found, second);
	assert_int_equal(pk__profile_stack_room(a.p, 0, 2, &room), 0);
	room[0] = a.loc[0];
	room[1] = a.loc[1];
	assert_int_equal(pk__profile_intern_tail_stack(a.p, 2, &found), 0);
	assert_int_equal(found, first);
	assert_int_equal(pk_profile_stack_count(a.p), 2);
	pk_profile_free(q);
	pk_profile_free(a.p);
}

static char *report_all(const pk_profile *p)
{
	pk_report_options o = PK_REPORT_OPTIONS_INIT;
	o.kind = PK_REPORT_TRACES;
	return report(p, &o);
}

static void test_merge_associative(void **state)
{
	(void)state;
	small a = make_small("samples"), b = make_small("samples"), c = make_small("samples");
	uint32_t s1[2] = {a.loc[0], a.loc[1]}, s2[2] = {a.loc[2], a.loc[3]};
	add(&a, s1, 2, 1, NULL, 0);
	add(&b, s2, 2, 2, NULL, 0);
	add(&b, s1, 1, 3, NULL, 0);
	add(&c, s1, 2, 4, NULL, 0);
	add(&c, s2 + 1, 1, 5, NULL, 0);
	pk_profile *ab, *ab_c, *bc, *a_bc;
	const pk_profile *x[] = {a.p, b.p};
	assert_int_equal(pk_profile_merge(x, 2, &ab, NULL), 0);
	const pk_profile *y[] = {ab, c.p};
	assert_int_equal(pk_profile_merge(y, 2, &ab_c, NULL), 0);
	const pk_profile *z[] = {b.p, c.p};
	assert_int_equal(pk_profile_merge(z, 2, &bc, NULL), 0);
	const pk_profile *w[] = {a.p, bc};
	assert_int_equal(pk_profile_merge(w, 2, &a_bc, NULL), 0);
	char *r1 = report_all(ab_c), *r2 = report_all(a_bc);
	assert_string_equal(r1, r2);
	assert_int_equal(total(ab_c, 0), 15);
	free(r1);
	free(r2);
	pk_profile *objs[] = {a.p, b.p, c.p, ab, ab_c, bc, a_bc};
	for (size_t i = 0; i < 7; i++)
		pk_profile_free(objs[i]);
}

/* Profiles merged one at a time give what one call gives; a merger that
 * failed or finished refuses more. */
static void test_merger(void **state)
{
	(void)state;
	small a = make_small("samples"), b = make_small("samples");
	uint32_t s1[2] = {a.loc[0], a.loc[1]}, s2[2] = {a.loc[2], a.loc[3]};
	add(&a, s1, 2, 4, NULL, 0);
	add(&a, s2, 2, 1, NULL, 0);
	add(&b, s1, 2, 3, NULL, 0);
	add(&b, s2, 1, 2, NULL, 0);
	pk_merger *m;
	pk_error err = PK_ERROR_INIT;
	pk_profile *one, *many;
	assert_int_equal(pk_merger_new(&m, &err), 0);
	assert_int_equal(pk_merger_add(m, a.p, 0, &err), 0);
	assert_int_equal(pk_merger_add(m, b.p, 1, &err), 0);
	assert_int_equal(pk_merger_finish(m, &many, &err), 0);
	assert_int_equal(pk_merger_add(m, a.p, 0, &err), PK_EINVAL);
	assert_string_equal(err.message, "the merge is finished already");
	pk_merger_free(m);
	assert_int_equal(pk_profile_diff(b.p, a.p, PK_DIFF_BASE, &one, NULL), 0);
	char *r1 = report_all(one), *r2 = report_all(many);
	assert_string_equal(r1, r2);
	assert_int_equal(total(many, 0), 0); /* 4 + 1 - 3 - 2 */
	free(r1);
	free(r2);
	pk_profile_free(one);
	pk_profile_free(many);

	small c = make_small("objects");
	pk_error e1 = PK_ERROR_INIT, e2 = PK_ERROR_INIT, e3 = PK_ERROR_INIT;
	assert_int_equal(pk_merger_new(&m, NULL), 0);
	assert_int_equal(pk_merger_finish(m, &many, &e1), PK_EINVAL);
	assert_string_equal(e1.message, "no profiles to merge");
	assert_int_equal(pk_merger_add(m, a.p, 0, NULL), 0);
	assert_int_equal(pk_merger_add(m, c.p, 0, &e2), PK_EINVAL);
	assert_string_equal(e2.message,
	                    "incompatible sample types: profile 2 differs from profile 1");
	assert_int_equal(pk_merger_finish(m, &many, &e3), PK_EINVAL);
	assert_string_equal(e3.message, "an earlier profile failed to merge");
	pk_merger_free(m);
	pk_merger_free(NULL);
	pk_profile_free(a.p);
	pk_profile_free(b.p);
	pk_profile_free(c.p);
}

/* The pprof bytes of p, uncompressed (owned). */
static void pprof_bytes(const pk_profile *p, void **out, size_t *size)
{
	pk_write_options o = PK_WRITE_OPTIONS_INIT;
	o.format = pk_format_by_name("pprof");
	o.compress = PK_COMPRESS_NONE;
	assert_int_equal(pk_profile_write_buffer(p, &o, out, size, NULL), 0);
}

/* first (negated with negate) then second (negated, if any) merged as
 * pk_merger_add copies them and with the first added by
 * pk_merger_add_owned (which may make it the merge's own): the same bytes. */
static void check_own(const pk_profile *first, pk_profile *own, const pk_profile *second,
                      int negate)
{
	pk_profile *copied, *owned;
	pk_merger *m;
	assert_int_equal(pk_merger_new(&m, NULL), 0);
	assert_int_equal(pk_merger_add(m, first, negate, NULL), 0);
	if (second)
		assert_int_equal(pk_merger_add(m, second, 1, NULL), 0);
	assert_int_equal(pk_merger_finish(m, &copied, NULL), 0);
	pk_merger_free(m);
	assert_int_equal(pk_merger_new(&m, NULL), 0);
	assert_int_equal(pk_merger_add_owned(m, own, negate, NULL), 0);
	if (second)
		assert_int_equal(pk_merger_add(m, second, 1, NULL), 0);
	assert_int_equal(pk_merger_finish(m, &owned, NULL), 0);
	pk_merger_free(m);
	void *a, *b;
	size_t na, nb;
	pprof_bytes(copied, &a, &na);
	pprof_bytes(owned, &b, &nb);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na);
	pk_free(a);
	pk_free(b);
	pk_profile_free(copied);
	pk_profile_free(owned);
}

/* check_own of a copy of first */
static void check_owned(const pk_profile *first, const pk_profile *second, int negate)
{
	pk_profile *own;
	assert_int_equal(pk__profile_copy(first, NULL, &own), 0);
	check_own(first, own, second, negate);
}

/* A first profile the merge may take as its own gives what its copy gives,
 * whatever its order or duplicates: objects out of order of first use and
 * unused, strings unused, samples of one stack (adopted, renumbered); the
 * same function or location twice, a zero sample, a comment twice, two
 * mappings of one key, labels out of order (copied). */
static void test_merger_add_owned(void **state)
{
	(void)state;
	pk_profile *rich = make_rich_profile();
	check_owned(rich, NULL, 0);
	check_owned(rich, rich, 0);
	check_owned(rich, rich, 1);

	for (int variant = 0; variant < 7; variant++) {
		small a = make_small("samples"), b = make_small("samples");
		pk_profile *p = a.p;
		intern(p, "unused");
		pk_mapping mp = {0};
		mp.id = 3;
		mp.memory_start = 0x1000;
		mp.memory_limit = 0x2000;
		mp.filename = intern(p, "/bin/x");
		uint32_t mi[2];
		assert_int_equal(pk_profile_add_mapping(p, &mp, &mi[0]), 0);
		mp.id = 4;
		mp.filename = intern(p, variant == 5 ? "/bin/x" : "/bin/y");
		assert_int_equal(pk_profile_add_mapping(p, &mp, &mi[1]), 0);
		/* a location in the second mapping, another one unused */
		pk_location loc = {9, mi[1], 0x1800, 0};
		pk_line line = {1, 99, 0};
		uint32_t mapped, unused;
		assert_int_equal(pk_profile_add_location(p, &loc, &line, 1, &mapped), 0);
		loc.id = 10;
		loc.mapping = mi[0];
		assert_int_equal(pk_profile_add_location(p, &loc, &line, 1, &unused), 0);
		uint32_t s1[3] = {a.loc[3], mapped, a.loc[1]}, s2[1] = {a.loc[0]};
		pk_label sorted[2] = {{intern(p, "k"), intern(p, "v"), 0, 0},
		                      {intern(p, "n"), 0, 5, intern(p, "bytes")}};
		pk_label unsorted[2] = {{intern(p, "z"), intern(p, "1"), 0, 0},
		                        {intern(p, "a"), intern(p, "2"), 0, 0}};
		add(&a, s1, 3, 5, NULL, 0);
		add(&a, s2, 1, 2, sorted, 2);
		add(&a, s1, 3, 1, NULL, 0); /* adds up with the first */
		add(&a, s2, 1, 3, NULL, 0);
		add(&a, s2, 1, 4, sorted, 2); /* adds up with the second */
		if (variant == 1) {
			/* function a again, and a location of it */
			pk_function f = *pk_profile_function(p, 0);
			f.id = 20;
			uint32_t fi, li;
			assert_int_equal(pk_profile_add_function(p, &f, &fi), 0);
			pk_location l2 = {21, PK_NONE, 0x1000, 0};
			pk_line ln = {fi, 10, 0};
			assert_int_equal(pk_profile_add_location(p, &l2, &ln, 1, &li), 0);
			add(&a, &li, 1, 6, NULL, 0);
		} else if (variant == 2) {
			/* location 0 again */
			uint32_t li;
			const pk_line *ln;
			size_t n = pk_profile_location_lines(p, 0, &ln);
			pk_location l2 = *pk_profile_location(p, 0);
			l2.id = 22;
			assert_int_equal(pk_profile_add_location(p, &l2, ln, n, &li), 0);
			add(&a, &li, 1, 6, NULL, 0);
		} else if (variant == 3) {
			add(&a, s2, 1, 0, NULL, 0);
		} else if (variant == 4) {
			pk_str c = intern(p, "twice");
			assert_int_equal(pk_profile_add_comment(p, c), 0);
			assert_int_equal(pk_profile_add_comment(p, c), 0);
		} else if (variant == 6) {
			add(&a, s1 + 1, 2, 7, unsorted, 2);
		}
		uint32_t t1[2] = {b.loc[0], b.loc[2]};
		add(&b, t1, 2, 5, NULL, 0);
		add(&b, b.loc, 1, 2, NULL, 0);
		check_owned(p, NULL, 0);
		check_owned(p, b.p, 0);
		check_owned(p, b.p, 1);
		check_owned(p, p, 0); /* all cancels: merged again */
		pk_profile_free(p);
		pk_profile_free(b.p);
	}
	pk_profile_free(rich);
}

/* A first profile whose stacks are interned out of order of first use
 * (adopting renumbers them, and its samples' sums with them), labelled and
 * unlabelled samples, some adding up; large enough for any work adopting
 * splits by size. */
static pk_profile *make_large(pk_profile **base)
{
	small a = make_small("samples"), b = make_small("samples");
	pk_profile *p = a.p;
	pk_label labels[2] = {{intern(p, "k"), intern(p, "v"), 0, 0},
	                      {intern(p, "n"), 0, 5, intern(p, "bytes")}};
	enum { STACKS = 3000, SAMPLES = 12000 };
	uint32_t st[6];
	/* stacks of depth 6 whose locations spell their number in base 4:
	 * interned last to first, used first to last */
	for (int i = STACKS - 1; i >= 0; i--) {
		for (int d = 0, n = i; d < 6; d++, n /= 4)
			st[d] = a.loc[n % 4];
		uint32_t out;
		assert_int_equal(pk__profile_intern_stack(p, st, 6, pk__stack_hash(st, 6), &out),
		                 0);
	}
	for (int si = 0; si < SAMPLES; si++) {
		int i = (si * 7) % STACKS;
		for (int d = 0, n = i; d < 6; d++, n /= 4)
			st[d] = a.loc[n % 4];
		add(&a, st, 6, si % 5 + 1, si % 3 == 0 ? labels : NULL, si % 3 == 0 ? 2 : 0);
		if (si < 100)
			add(&b, st, 6, si % 5 + 1, NULL, 0);
	}
	*base = b.p;
	return p;
}

static void test_merger_add_owned_large(void **state)
{
	(void)state;
	pk_profile *base, *other, *p = make_large(&base);
	for (int i = 0; i < 4; i++) {
		pk_profile *own = make_large(&other);
		const pk_profile *second = i == 0 ? NULL : i == 3 ? p : base;
		check_own(p, own, second, i == 2); /* 1: some cancel, 3: all */
		pk_profile_free(other);
	}
	pk_profile_free(p);
	pk_profile_free(base);
}

/* A diff whose samples cancel gives, to the byte, the merge of only the
 * samples left: what cancelled leaves no object, string or label behind
 * (dropped in place, or merged again when a label only they had goes). */
static void test_diff_cancelled_in_place(void **state)
{
	(void)state;
	for (int unique_label = 0; unique_label < 2; unique_label++) {
		small a = make_small("samples"), b = make_small("samples"),
		      left = make_small("samples");
		uint32_t s1[2] = {a.loc[3], a.loc[1]}, s2[2] = {a.loc[2], a.loc[0]},
		         s3[1] = {a.loc[1]};
		/* the cancelled sample's label: the kept one's, or its own */
		const char *gone = unique_label ? "gone" : "v";
		pk_label l = {intern(a.p, "k"), intern(a.p, gone), 0, 0};
		pk_label kept = {intern(a.p, "k"), intern(a.p, "v"), 0, 0};
		pk_label lb = {intern(b.p, "k"), intern(b.p, gone), 0, 0};
		pk_label ll = {intern(left.p, "k"), intern(left.p, "v"), 0, 0};
		add(&a, s2, 2, 3, &l, 1); /* cancels */
		add(&a, s1, 2, 5, NULL, 0);
		add(&a, s3, 1, 4, NULL, 0); /* cancels */
		add(&a, s1, 1, 2, &kept, 1);
		add(&b, s3, 1, 4, NULL, 0);
		add(&b, s2, 2, 3, &lb, 1);
		add(&left, s1, 2, 5, NULL, 0);
		add(&left, s1, 1, 2, &ll, 1);
		pk_profile *d, *want;
		assert_int_equal(pk_profile_diff(b.p, a.p, PK_DIFF_BASE, &d, NULL), 0);
		const pk_profile *in[] = {left.p};
		assert_int_equal(pk_profile_merge(in, 1, &want, NULL), 0);
		void *x, *y;
		size_t nx, ny;
		pprof_bytes(d, &x, &nx);
		pprof_bytes(want, &y, &ny);
		assert_int_equal(nx, ny);
		assert_memory_equal(x, y, nx);
		pk_free(x);
		pk_free(y);
		pk_profile_free(d);
		pk_profile_free(want);
		pk_profile_free(a.p);
		pk_profile_free(b.p);
		pk_profile_free(left.p);
	}
}

/* q starts with room for the first source's objects: duplicates there
 * take one of ours, and a later source grows q past that room. */
static void test_merge_room(void **state)
{
	(void)state;
	small a = make_small("samples"), b = make_small("samples");
	pk_function f = *pk_profile_function(a.p, 0); /* "a" again */
	f.id = 5;
	uint32_t fi, dup, e;
	assert_int_equal(pk_profile_add_function(a.p, &f, &fi), 0);
	pk_location loc = {5, PK_NONE, 0x1000, 0}; /* as a.loc[0] */
	pk_line line = {fi, 10, 0};
	assert_int_equal(pk_profile_add_location(a.p, &loc, &line, 1, &dup), 0);
	uint32_t s1[2] = {dup, a.loc[1]}, s2[1] = {a.loc[0]};
	add(&a, s1, 2, 1, NULL, 0);
	add(&a, s2, 1, 2, NULL, 0);
	f.name = f.system_name = intern(b.p, "e");
	f.filename = intern(b.p, "z.go");
	assert_int_equal(pk_profile_add_function(b.p, &f, &fi), 0);
	loc.address = 0x2000;
	line.function = fi;
	assert_int_equal(pk_profile_add_location(b.p, &loc, &line, 1, &e), 0);
	uint32_t s3[3] = {e, b.loc[2], b.loc[3]};
	add(&b, s3, 3, 4, NULL, 0);
	const pk_profile *in[2] = {a.p, b.p};
	pk_profile *m;
	assert_int_equal(pk_profile_merge(in, 2, &m, NULL), 0);
	assert_int_equal(pk_profile_validate(m, NULL), 0);
	assert_int_equal(pk_profile_function_count(m), 5); /* a b e c d */
	assert_int_equal(pk_profile_location_count(m), 5);
	assert_int_equal(pk_profile_sample_count(m), 3);
	assert_int_equal(total(m, 0), 7);
	pk_sample s;
	assert_int_equal(pk_profile_sample(m, 1, &s), 0);
	assert_int_equal(s.depth, 1);
	assert_int_equal(s.locations[0], 0); /* a.loc[0] is the duplicate's */
	pk_profile_free(m);
	pk_profile_free(a.p);
	pk_profile_free(b.p);
}

/* A stack interned from the pool's tail, a label set, and samples of them
 * that the profile takes as they are. */
static void test_stack_sample(void **state)
{
	(void)state;
	small a = make_small("samples");
	uint32_t *room, first, again;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pk__profile_stack_room(a.p, 0, 2, &room), 0);
		room[0] = a.loc[2];
		room[1] = a.loc[0];
		assert_int_equal(pk__profile_intern_tail_stack(a.p, 2, i ? &again : &first), 0);
	}
	assert_int_equal(first, again);
	assert_int_equal(pk_profile_stack_count(a.p), 1);
	pk_label k = {intern(a.p, "k"), intern(a.p, "v"), 0, 0};
	uint32_t set, same, *ids;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pk__profile_label_room(a.p, 1, &ids), 0);
		assert_int_equal(pk__profile_intern_label(a.p, &k, ids), 0);
		assert_int_equal(pk__profile_intern_tail_labels(a.p, 1, i ? &same : &set), 0);
	}
	assert_int_equal(set, same);
	assert_true(set > 0);
	assert_int_equal(pk_profile_label_count(a.p), 1);
	pk__vec stacks = {0}, sets = {0}, values = {0};
	uint32_t none = 0;
	int64_t v[2] = {9, 5};
	assert_int_equal(pk__vec_push(&stacks, sizeof first, &first, 1, NULL), 0);
	assert_int_equal(pk__vec_push(&stacks, sizeof first, &first, 1, NULL), 0);
	assert_int_equal(pk__vec_push(&sets, sizeof set, &set, 1, NULL), 0);
	assert_int_equal(pk__vec_push(&sets, sizeof none, &none, 1, NULL), 0);
	assert_int_equal(pk__vec_push(&values, sizeof v[0], v, 2, NULL), 0);
	pk__profile_take_samples(a.p, &stacks, &sets, &values);
	assert_null(stacks.items);
	assert_int_equal(pk_profile_validate(a.p, NULL), 0);
	pk_sample s;
	assert_int_equal(pk_profile_sample(a.p, 0, &s), 0);
	assert_int_equal(s.depth, 2);
	assert_int_equal(s.locations[0], a.loc[2]);
	assert_int_equal(s.values[0], 9);
	assert_int_equal(s.label_count, 1);
	assert_int_equal(pk_profile_sample(a.p, 1, &s), 0);
	assert_int_equal(s.values[0], 5);
	assert_int_equal(s.label_count, 0);
	/* a sample added after them shares nothing with theirs */
	int64_t w = 7;
	assert_int_equal(pk_profile_add_sample(a.p, s.locations, s.depth, &w, 1, &k, 1), 0);
	assert_int_equal(pk_profile_sample(a.p, 2, &s), 0);
	assert_int_equal(s.values[0], 7);
	assert_int_equal(s.label_count, 1);
	assert_int_equal(pk_profile_sample_count(a.p), 3);
	pk_profile_free(a.p);
}

/* ----------------------------------------------------------------- diff */

static void test_diff(void **state)
{
	(void)state;
	small base = make_small("samples"), cur = make_small("samples");
	uint32_t s1[2] = {base.loc[0], base.loc[1]}, s2[1] = {base.loc[2]};
	add(&base, s1, 2, 10, NULL, 0);
	add(&base, s2, 1, 4, NULL, 0);
	add(&cur, s1, 2, 10, NULL, 0); /* cancels */
	add(&cur, s2, 1, 1, NULL, 0);  /* -3 */
	add(&cur, s1, 1, 2, NULL, 0);  /* new */

	pk_profile *d = NULL;
	assert_int_equal(pk_profile_diff(base.p, cur.p, PK_DIFF_BASE, &d, NULL), 0);
	assert_int_equal(pk_profile_sample_count(d), 2);
	assert_int_equal(total(d, 0), -1);
	bool negative = false;
	for (size_t i = 0; i < pk_profile_sample_count(d); i++) {
		pk_sample s;
		pk_profile_sample(d, i, &s);
		negative |= s.values[0] == -3;
		assert_int_equal(s.label_count, 0);
	}
	assert_true(negative);
	pk_profile_free(d);

	/* -diff_base: the base's samples stay apart, labelled pprof::base */
	assert_int_equal(pk_profile_diff(base.p, cur.p, PK_DIFF_DIFF_BASE, &d, NULL), 0);
	assert_int_equal(pk_profile_sample_count(d), 5);
	size_t based = 0;
	for (size_t i = 0; i < pk_profile_sample_count(d); i++) {
		pk_sample s;
		pk_profile_sample(d, i, &s);
		if (s.label_count == 1) {
			assert_string_equal(
			    pk_profile_string(d, pk_profile_label(d, s.labels[0]).key),
			    "pprof::base");
			assert_string_equal(
			    pk_profile_string(d, pk_profile_label(d, s.labels[0]).str), "true");
			assert_true(s.values[0] < 0);
			based++;
		}
	}
	assert_int_equal(based, 2);
	/* the report's total is the base's */
	pk_report_options o = PK_REPORT_OPTIONS_INIT;
	char *r = report(d, &o);
	assert_non_null(strstr(r, "of 14 total"));
	free(r);
	pk_profile_free(d);

	pk_error err = PK_ERROR_INIT;
	assert_int_equal(pk_profile_diff(base.p, cur.p, 7, &d, &err), PK_EINVAL);
	pk_profile_free(base.p);
	pk_profile_free(cur.p);
}

/* A diff whose samples cancel is merged twice, as pprof does; the second
 * merge (taken from the first's samples directly) drops the objects only
 * the cancelled samples used, and merging the result again changes
 * nothing. */
static void test_diff_cancelled(void **state)
{
	(void)state;
	small base = make_small("samples"), cur = make_small("samples");
	uint32_t s1[2] = {base.loc[0], base.loc[1]}, s2[2] = {base.loc[2], base.loc[3]};
	pk_label k1 = {intern(cur.p, "k"), intern(cur.p, "1"), 0, 0};
	pk_label kb[2] = {{intern(base.p, "z"), intern(base.p, "9"), 0, 0},
	                  {intern(base.p, "k"), intern(base.p, "1"), 0, 0}};
	add(&base, s2, 2, 3, NULL, 0); /* cancels: c and d go */
	add(&base, s1, 2, 4, kb, 2);
	add(&cur, s1, 2, 6, &k1, 1);
	add(&cur, s2, 2, 3, NULL, 0);
	add(&cur, s1, 2, 1, NULL, 0);
	pk_label kc[2] = {{intern(cur.p, "z"), intern(cur.p, "9"), 0, 0}, k1};
	add(&cur, s1, 1, 2, kc, 2);
	pk_profile *d = NULL;
	assert_int_equal(pk_profile_diff(base.p, cur.p, PK_DIFF_BASE, &d, NULL), 0);
	assert_int_equal(pk_profile_validate(d, NULL), 0);
	assert_int_equal(pk_profile_sample_count(d), 4);
	assert_int_equal(pk_profile_location_count(d), 2);
	assert_int_equal(pk_profile_function_count(d), 2);
	assert_int_equal(total(d, 0), 5);
	pk_sample s;
	/* the samples after the cancelled one moved up, values and all */
	static const int64_t kept[4] = {6, 1, 2, -4};
	for (size_t i = 0; i < 4; i++) {
		pk_profile_sample(d, i, &s);
		assert_int_equal(s.values[0], kept[i]);
	}
	assert_int_equal(s.label_count, 2); /* sorted by key */
	assert_string_equal(pk_profile_string(d, pk_profile_label(d, s.labels[0]).key), "k");
	assert_string_equal(pk_profile_string(d, pk_profile_label(d, s.labels[1]).key), "z");
	const pk_profile *one[] = {d};
	pk_profile *again = NULL;
	assert_int_equal(pk_profile_merge(one, 1, &again, NULL), 0);
	char *r1 = report_all(d), *r2 = report_all(again);
	assert_string_equal(r1, r2);
	assert_int_equal(pk_profile_string_count(again), pk_profile_string_count(d));
	for (size_t i = 0; i < pk_profile_string_count(d); i++)
		assert_string_equal(pk_profile_string(again, (pk_str)i),
		                    pk_profile_string(d, (pk_str)i));
	free(r1);
	free(r2);
	pk_profile_free(again);
	pk_profile_free(d);
	pk_profile_free(base.p);
	pk_profile_free(cur.p);
}

/* The graph counts per stack: samples split over equal stacks, or with
 * values that cancel, report as their sums do. */
static void test_report_per_stack(void **state)
{
	(void)state;
	small a = make_small("samples"), b = make_small("samples");
	uint32_t s1[3] = {a.loc[0], a.loc[1], a.loc[2]}, s2[2] = {a.loc[3], a.loc[1]};
	add(&a, s1, 3, 5, NULL, 0);
	add(&a, s2, 2, 2, NULL, 0);
	add(&a, s1, 3, 7, NULL, 0);
	add(&a, s1 + 1, 2, 4, NULL, 0);
	add(&a, s2, 2, 1, NULL, 0);
	add(&b, s1, 3, 12, NULL, 0);
	add(&b, s2, 2, 3, NULL, 0);
	add(&b, s1 + 1, 2, 4, NULL, 0);
	int kinds[] = {PK_REPORT_TOP, PK_REPORT_TREE};
	for (size_t k = 0; k < 2; k++) {
		pk_report_options o = PK_REPORT_OPTIONS_INIT;
		o.kind = kinds[k];
		o.node_fraction = 0;
		char *r1 = report(a.p, &o), *r2 = report(b.p, &o);
		assert_string_equal(r1, r2);
		free(r1);
		free(r2);
	}
	pk_profile_free(a.p);
	pk_profile_free(b.p);
}

/* ------------------------------------------------------------ aggregate */

static const char *line_name(const pk_profile *p, size_t loc, size_t i, const char **file,
                             int64_t *line)
{
	const pk_line *lines;
	size_t n = pk_profile_location_lines(p, loc, &lines);
	assert_true(i < n);
	const pk_function *f = pk_profile_function(p, lines[i].function);
	*file = pk_profile_string(p, f->filename);
	*line = lines[i].line;
	return pk_profile_string(p, f->name);
}

static void test_aggregate(void **state)
{
	(void)state;
	pk_profile *p = make_rich_profile();
	struct {
		int g;
		const char *name, *file;
		int64_t line;
		bool address;
	} want[] = {
	    {PK_GRANULARITY_FUNCTIONS, "main.leaf", "", 0, false},
	    {PK_GRANULARITY_FILEFUNCTIONS, "main.leaf", "app/main.go", 0, false},
	    {PK_GRANULARITY_FILES, "", "app/main.go", 0, false},
	    {PK_GRANULARITY_LINES, "main.leaf", "app/main.go", 30, false},
	    {PK_GRANULARITY_ADDRESSES, "main.leaf", "app/main.go", 30, true},
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		pk_profile *q = NULL;
		assert_int_equal(pk_profile_aggregate(p, want[i].g, 1, &q, NULL), 0);
		assert_int_equal(pk_profile_validate(q, NULL), 0);
		const char *file;
		int64_t line;
		assert_string_equal(line_name(q, 1, 0, &file, &line), want[i].name);
		assert_string_equal(file, want[i].file);
		assert_int_equal(line, want[i].line);
		assert_int_equal(pk_profile_location(q, 1)->address != 0, want[i].address);
		assert_int_equal(pk_profile_sample_count(q), pk_profile_sample_count(p));
		assert_int_equal(total(q, 1), total(p, 1));
		pk_profile_free(q);
	}
	/* without inlines a location keeps its last line, the caller */
	pk_profile *q = NULL;
	assert_int_equal(pk_profile_aggregate(p, PK_GRANULARITY_LINES, 0, &q, NULL), 0);
	const pk_line *lines;
	assert_int_equal(pk_profile_location_lines(q, 1, &lines), 1);
	const char *file;
	int64_t line;
	assert_string_equal(line_name(q, 1, 0, &file, &line), "main.work");
	assert_int_equal(line, 20);
	pk_profile_free(q);
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(pk_profile_aggregate(p, 99, 1, &q, &err), PK_EINVAL);
	pk_profile_free(p);
}

/* --------------------------------------------------------------- filter */

static size_t filtered_count(const pk_profile *p, const pk_filter_options *o)
{
	pk_profile *q = NULL;
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(pk_profile_filter(p, o, &q, &err), 0);
	assert_int_equal(pk_profile_validate(q, NULL), 0);
	size_t n = pk_profile_sample_count(q);
	pk_profile_free(q);
	return n;
}

static void test_filter(void **state)
{
	(void)state;
	pk_profile *p = make_rich_profile(); /* 3 samples; leaf in 2 */
	pk_filter_options o = PK_FILTER_OPTIONS_INIT;
	assert_int_equal(filtered_count(p, &o), 3);
	o.focus = "main\\.leaf";
	assert_int_equal(filtered_count(p, &o), 2);
	o.focus = "app/main\\.go"; /* file names match too */
	assert_int_equal(filtered_count(p, &o), 3);
	o.focus = "/srv/app/app"; /* and the mapping's file */
	assert_int_equal(filtered_count(p, &o), 3);
	o.focus = NULL;
	o.ignore = "leaf";
	assert_int_equal(filtered_count(p, &o), 1);
	o.ignore = NULL;

	/* hide removes frames; show keeps only matching ones */
	pk_profile *q = NULL;
	o.hide = "main\\.leaf";
	assert_int_equal(pk_profile_filter(p, &o, &q, NULL), 0);
	const pk_line *lines;
	assert_int_equal(pk_profile_location_lines(q, 1, &lines), 1);
	assert_string_equal(pk_profile_string(q, pk_profile_function(q, lines[0].function)->name),
	                    "main.work");
	pk_profile_free(q);
	o.hide = NULL;
	o.show = "^main\\.main$";
	assert_int_equal(pk_profile_filter(p, &o, &q, NULL), 0);
	assert_int_equal(pk_profile_sample_count(q), 3);
	for (size_t i = 0; i < 3; i++) {
		pk_sample s;
		pk_profile_sample(q, i, &s);
		assert_int_equal(s.depth, 1);
	}
	pk_profile_free(q);
	o.show = NULL;

	/* tags: "key:value" regexps, key=regexp, numeric ranges with units */
	o.tag_focus = "role:prod";
	assert_int_equal(filtered_count(p, &o), 1);
	o.tag_focus = "role=^producer$";
	assert_int_equal(filtered_count(p, &o), 1);
	o.tag_focus = "bytes=1kB";
	assert_int_equal(filtered_count(p, &o), 2);
	o.tag_focus = "1024B:2kB";
	assert_int_equal(filtered_count(p, &o), 2);
	o.tag_focus = "2kB:";
	assert_int_equal(filtered_count(p, &o), 0);
	o.tag_focus = ":1023B";
	assert_int_equal(filtered_count(p, &o), 0);
	o.tag_focus = "1024"; /* no unit: the label's is bytes, so no match */
	assert_int_equal(filtered_count(p, &o), 0);
	o.tag_focus = NULL;
	o.tag_ignore = "1kB:";
	assert_int_equal(filtered_count(p, &o), 1);
	o.tag_ignore = "role=producer,consumer";
	assert_int_equal(filtered_count(p, &o), 2);
	pk_profile_free(p);
}

static void test_filter_invalid(void **state)
{
	(void)state;
	pk_profile *p = make_rich_profile();
	const char *names[] = {"focus", "ignore", "hide", "show", "tagfocus", "tagignore"};
	for (size_t i = 0; i < 6; i++) {
		pk_filter_options o = PK_FILTER_OPTIONS_INIT;
		const char **field[] = {&o.focus, &o.ignore,    &o.hide,
		                        &o.show,  &o.tag_focus, &o.tag_ignore};
		*field[i] = "a(b";
		pk_profile *q = NULL;
		pk_error err = PK_ERROR_INIT;
		assert_int_equal(pk_profile_filter(p, &o, &q, &err), PK_EINVAL);
		assert_null(q);
		char want[80];
		snprintf(want, sizeof want,
		         "invalid regular expression for %s at offset 3: ", names[i]);
		assert_memory_equal(err.message, want, strlen(want));
		assert_non_null(strstr(err.message, "a(b"));
	}
	pk_filter_options o = {0};
	pk_profile *q = NULL;
	assert_int_equal(pk_profile_filter(p, &o, &q, NULL), PK_EINVAL);
	pk_profile_free(p);
}

/* --------------------------------------------------------------- report */

static void test_report_buffer(void **state)
{
	(void)state;
	pk_profile *p = make_rich_profile();
	pk_report_options o = PK_REPORT_OPTIONS_INIT;
	o.sample_type = "alloc_space";
	o.node_fraction = 0;
	char *r = report(p, &o);
	const char *want_head = "Type: alloc_space\n";
	assert_non_null(strstr(r, want_head));
	assert_non_null(strstr(r, "      flat  flat%   sum%        cum   cum%\n"));
	assert_non_null(strstr(r, "  main.leaf (inline)\n"));
	assert_non_null(strstr(r, "  main.main\n"));
	free(r);

	o.kind = PK_REPORT_TREE;
	r = report(p, &o);
	assert_non_null(strstr(
	    r, "----------------------------------------------------------+-------------\n"));
	free(r);
	o.kind = PK_REPORT_TRACES;
	r = report(p, &o);
	assert_non_null(strstr(r, "      role:  producer\n"));
	assert_non_null(strstr(r, "     bytes:  1kB\n"));
	free(r);

	pk_filter_options f = PK_FILTER_OPTIONS_INIT;
	f.focus = "main\\.leaf";
	o.kind = PK_REPORT_TOP;
	o.filter = &f;
	r = report(p, &o);
	assert_non_null(strstr(r, "Active filters:\n   focus=main\\.leaf\n"));
	free(r);

	void *out;
	size_t size;
	pk_error err = PK_ERROR_INIT;
	o.filter = NULL;
	o.sample_type = "nonesuch";
	assert_true(pk_report_write_buffer(p, &o, &out, &size, &err) < 0);
	o.sample_type = NULL;
	o.kind = 42;
	assert_int_equal(pk_report_write_buffer(p, &o, &out, &size, &err), PK_EINVAL);
	pk_profile_free(p);
}

/* ---------------------------------------------------- allocation failure */

typedef int (*operation)(const pk_profile *p, pk_profile **out, void **buf, size_t *size,
                         pk_error *err);

static int op_merge(const pk_profile *p, pk_profile **out, void **buf, size_t *size, pk_error *err)
{
	(void)buf;
	(void)size;
	const pk_profile *in[] = {p, p, p};
	return pk_profile_merge(in, 3, out, err);
}

static int op_diff(const pk_profile *p, pk_profile **out, void **buf, size_t *size, pk_error *err)
{
	(void)buf;
	(void)size;
	return pk_profile_diff(p, p, PK_DIFF_DIFF_BASE, out, err);
}

/* The change from p to its samples with main.leaf: those cancel, so the
 * result is merged again. */
static int op_diff_cancelled(const pk_profile *p, pk_profile **out, void **buf, size_t *size,
                             pk_error *err);

static int op_filter(const pk_profile *p, pk_profile **out, void **buf, size_t *size, pk_error *err)
{
	(void)buf;
	(void)size;
	pk_filter_options o = PK_FILTER_OPTIONS_INIT;
	o.focus = "main";
	o.hide = "leaf";
	o.tag_focus = "bytes=1kB:";
	o.tag_ignore = "role:consumer";
	return pk_profile_filter(p, &o, out, err);
}

static int op_diff_cancelled(const pk_profile *p, pk_profile **out, void **buf, size_t *size,
                             pk_error *err)
{
	(void)buf;
	(void)size;
	pk_filter_options o = PK_FILTER_OPTIONS_INIT;
	o.focus = "leaf";
	pk_profile *kept = NULL;
	int rc = pk_profile_filter(p, &o, &kept, err);
	if (rc == 0)
		rc = pk_profile_diff(p, kept, PK_DIFF_BASE, out, err);
	pk_profile_free(kept);
	return rc;
}

/* p diffed against itself, taken by the merger as its own first. */
static int op_merge_owned(const pk_profile *p, pk_profile **out, void **buf, size_t *size,
                          pk_error *err)
{
	(void)buf;
	(void)size;
	pk_profile *own;
	pk_merger *m = NULL;
	int rc = pk__profile_copy(p, NULL, &own);
	if (rc < 0)
		return pk__error_set(err, rc, "out of memory");
	rc = pk_merger_new(&m, err);
	if (rc == 0)
		rc = pk_merger_add_owned(m, own, 0, err);
	else
		pk_profile_free(own);
	if (rc == 0)
		rc = pk_merger_add(m, p, 1, err);
	if (rc == 0)
		rc = pk_merger_finish(m, out, err);
	pk_merger_free(m);
	return rc;
}

static int op_aggregate(const pk_profile *p, pk_profile **out, void **buf, size_t *size,
                        pk_error *err)
{
	(void)buf;
	(void)size;
	return pk_profile_aggregate(p, PK_GRANULARITY_FILES, 0, out, err);
}

static int report_kind(const pk_profile *p, int kind, void **buf, size_t *size, pk_error *err)
{
	pk_filter_options f = PK_FILTER_OPTIONS_INIT;
	f.show = "main";
	pk_report_options o = PK_REPORT_OPTIONS_INIT;
	o.kind = kind;
	o.filter = &f;
	o.node_fraction = 0;
	return pk_report_write_buffer(p, &o, buf, size, err);
}

static int op_top(const pk_profile *p, pk_profile **out, void **buf, size_t *size, pk_error *err)
{
	(void)out;
	return report_kind(p, PK_REPORT_TOP, buf, size, err);
}

static int op_tree(const pk_profile *p, pk_profile **out, void **buf, size_t *size, pk_error *err)
{
	(void)out;
	return report_kind(p, PK_REPORT_TREE, buf, size, err);
}

static int op_traces(const pk_profile *p, pk_profile **out, void **buf, size_t *size, pk_error *err)
{
	(void)out;
	return report_kind(p, PK_REPORT_TRACES, buf, size, err);
}

static void fail_every_allocation(operation op)
{
	pk_profile *p = make_rich_profile();
	pk_set_allocator(chaos_malloc, chaos_free);
	for (long n = 0;; n++) {
		chaos_reset(n + 1, 1);
		pk_profile *out = NULL;
		void *buf = NULL;
		size_t size = 0;
		pk_error err = PK_ERROR_INIT;
		int rc = op(p, &out, &buf, &size, &err);
		long calls = chaos.calls;
		pk_profile_free(out);
		pk_free(buf);
		assert_int_equal(chaos.live, 0);
		if (rc == 0) {
			assert_true(calls <= n);
			break;
		}
		if (rc != PK_ENOMEM || strcmp(err.message, "out of memory") != 0)
			fail_msg("allocation %ld: %d \"%s\"", n + 1, rc, err.message);
		assert_null(out);
		assert_true(n < 100000);
	}
	chaos_reset(0, 0);
	pk_set_allocator(NULL, NULL);
	pk_profile_free(p);
}

static void test_allocation_failures(void **state)
{
	(void)state;
	operation ops[] = {op_merge,     op_diff, op_diff_cancelled, op_merge_owned, op_filter,
	                   op_aggregate, op_top,  op_tree,           op_traces};
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		print_message("operation %zu\n", i);
		fail_every_allocation(ops[i]);
	}
}

/* ----------------------------------------------------------------- sort */

/* An item's key is (item * 7919) % 101 - 50; ctx is the order's sign. */
static int sort_key(uint32_t item)
{
	return (int)(item * 7919 % 101) - 50;
}

static int cmp_key(const void *a, const void *b, void *ctx)
{
	int sign = *(const int *)ctx;
	int x = sort_key(*(const uint32_t *)a), y = sort_key(*(const uint32_t *)b);
	return sign * ((x > y) - (x < y));
}

static void test_sort(void **state)
{
	(void)state;
	uint32_t v[257];
	for (uint32_t n = 0; n <= 257; n += 1 + n / 3) {
		for (uint32_t i = 0; i < n; i++)
			v[i] = i;
		int sign = n % 2 ? 1 : -1;
		assert_int_equal(pk__sort(v, n, cmp_key, &sign), 0);
		for (uint32_t i = 1; i < n; i++) {
			int c = cmp_key(&v[i - 1], &v[i], &sign);
			assert_true(c <= 0);
			/* stable: items of equal keys keep their order */
			assert_true(c < 0 || v[i - 1] < v[i]);
		}
	}
	pk_set_allocator(chaos_malloc, chaos_free);
	chaos_reset(1, 1);
	int sign = 1;
	assert_int_equal(pk__sort(v, 2, cmp_key, &sign), PK_ENOMEM);
	assert_int_equal(pk__sort(v, 1, cmp_key, &sign), 0);
	chaos_reset(0, 0);
	pk_set_allocator(NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_percentage),
	    cmocka_unit_test(test_scaled_label),
	    cmocka_unit_test(test_merge),
	    cmocka_unit_test(test_merge_incompatible),
	    cmocka_unit_test(test_merge_zero_and_labels),
	    cmocka_unit_test(test_merge_header_strings),
	    cmocka_unit_test(test_merge_source_internals),
	    cmocka_unit_test(test_merge_known_first),
	    cmocka_unit_test(test_merge_known_stacks),
	    cmocka_unit_test(test_merge_known_sums),
	    cmocka_unit_test(test_append_known_new),
	    cmocka_unit_test(test_merge_associative),
	    cmocka_unit_test(test_merger),
	    cmocka_unit_test(test_merger_add_owned),
	    cmocka_unit_test(test_merger_add_owned_large),
	    cmocka_unit_test(test_diff_cancelled_in_place),
	    cmocka_unit_test(test_merge_room),
	    cmocka_unit_test(test_stack_sample),
	    cmocka_unit_test(test_diff),
	    cmocka_unit_test(test_diff_cancelled),
	    cmocka_unit_test(test_report_per_stack),
	    cmocka_unit_test(test_aggregate),
	    cmocka_unit_test(test_filter),
	    cmocka_unit_test(test_filter_invalid),
	    cmocka_unit_test(test_report_buffer),
	    cmocka_unit_test(test_allocation_failures),
	    cmocka_unit_test(test_sort),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
