/* test_model.c - the profile model through the public API: building and
 * reading back, interning, stack sharing, rejected references, validation,
 * allocation failures and scale. */
#include "helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------- building, reading */

static void test_new_profile_is_empty(void **state)
{
	(void)state;
	pk_profile *p = NULL;
	assert_int_equal(pk_profile_new(&p), 0);
	assert_non_null(p);
	assert_int_equal(pk_profile_string_count(p), 1);
	assert_string_equal(pk_profile_string(p, 0), "");
	assert_int_equal(pk_profile_string_length(p, 0), 0);
	assert_int_equal(pk_profile_sample_type_count(p), 0);
	assert_int_equal(pk_profile_sample_count(p), 0);
	assert_int_equal(pk_profile_stack_count(p), 0);
	assert_int_equal(pk_profile_mapping_count(p), 0);
	assert_int_equal(pk_profile_function_count(p), 0);
	assert_int_equal(pk_profile_location_count(p), 0);
	assert_int_equal(pk_profile_comment_count(p), 0);
	assert_int_equal(pk_profile_default_sample_type(p), 0);
	assert_int_equal(pk_profile_period(p), 0);
	assert_int_equal(pk_profile_time_nanos(p), 0);
	assert_int_equal(pk_profile_duration_nanos(p), 0);
	assert_int_equal(pk_profile_drop_frames(p), 0);
	assert_int_equal(pk_profile_keep_frames(p), 0);
	assert_int_equal(pk_profile_doc_url(p), 0);
	pk_value_type pt = pk_profile_period_type(p);
	assert_int_equal(pt.type, 0);
	assert_int_equal(pt.unit, 0);
	assert_int_equal(pk_profile_validate(p, NULL), 0);
	pk_profile_free(p);
}

static void test_free_null(void **state)
{
	(void)state;
	pk_profile_free(NULL);
	pk_free(NULL);
}

static void assert_str(const pk_profile *p, pk_str s, const char *want)
{
	assert_non_null(pk_profile_string(p, s));
	assert_string_equal(pk_profile_string(p, s), want);
}

static void test_rich_profile_reads_back(void **state)
{
	(void)state;
	pk_profile *p = make_rich_profile();

	assert_int_equal(pk_profile_sample_type_count(p), 2);
	assert_str(p, pk_profile_sample_type(p, 0).type, "alloc_objects");
	assert_str(p, pk_profile_sample_type(p, 0).unit, "count");
	assert_str(p, pk_profile_sample_type(p, 1).type, "alloc_space");
	assert_str(p, pk_profile_sample_type(p, 1).unit, "bytes");
	assert_int_equal(pk_profile_sample_type(p, 2).type, 0); /* out of range */
	assert_int_equal(pk_profile_sample_type(p, 2).unit, 0);

	assert_str(p, pk_profile_default_sample_type(p), "alloc_space");
	assert_str(p, pk_profile_period_type(p).type, "space");
	assert_str(p, pk_profile_period_type(p).unit, "bytes");
	assert_int_equal(pk_profile_period(p), 524288);
	assert_true(pk_profile_time_nanos(p) == 1764100000123456789LL);
	assert_true(pk_profile_duration_nanos(p) == 2000000000LL);
	assert_str(p, pk_profile_drop_frames(p), "runtime\\..*");
	assert_str(p, pk_profile_keep_frames(p), "runtime\\.main");
	assert_str(p, pk_profile_doc_url(p), "https://example.org/doc");
	assert_int_equal(pk_profile_comment_count(p), 2);
	assert_str(p, pk_profile_comment(p, 0), "first comment");
	assert_str(p, pk_profile_comment(p, 1), "second \"quoted\" comment");
	assert_int_equal(pk_profile_comment(p, 2), 0);

	assert_int_equal(pk_profile_mapping_count(p), 1);
	const pk_mapping *m = pk_profile_mapping(p, 0);
	assert_non_null(m);
	assert_true(m->id == 7);
	assert_true(m->memory_start == 0x400000);
	assert_true(m->memory_limit == 0x4c0000);
	assert_true(m->file_offset == 0x1000);
	assert_str(p, m->filename, "/srv/app/app");
	assert_str(p, m->build_id, "abc123");
	assert_int_equal(m->has_functions, 1);
	assert_int_equal(m->has_filenames, 1);
	assert_int_equal(m->has_line_numbers, 1);
	assert_int_equal(m->has_inline_frames, 1);
	assert_null(pk_profile_mapping(p, 1));

	assert_int_equal(pk_profile_function_count(p), 3);
	const char *names[] = {"main.main", "main.work", "main.leaf"};
	for (size_t i = 0; i < 3; i++) {
		const pk_function *f = pk_profile_function(p, i);
		assert_non_null(f);
		assert_true(f->id == 10 + i);
		assert_str(p, f->name, names[i]);
		assert_int_equal(f->system_name, f->name);
		assert_str(p, f->filename, "app/main.go");
		assert_int_equal(f->start_line, 5 * (int)i + 1);
	}
	assert_null(pk_profile_function(p, 3));

	assert_int_equal(pk_profile_location_count(p), 2);
	const pk_location *l0 = pk_profile_location(p, 0);
	assert_true(l0->id == 100);
	assert_int_equal(l0->mapping, 0);
	assert_true(l0->address == 0x401000);
	assert_int_equal(l0->is_folded, 0);
	const pk_line *lines = NULL;
	assert_int_equal(pk_profile_location_lines(p, 0, &lines), 1);
	assert_int_equal(lines[0].function, 0);
	assert_int_equal(lines[0].line, 12);
	assert_int_equal(lines[0].column, 3);
	const pk_location *l1 = pk_profile_location(p, 1);
	assert_true(l1->id == 0x8000000000000001ULL);
	assert_int_equal(l1->mapping, PK_NONE);
	assert_true(l1->address == 0xffffffff81000000ULL);
	assert_int_equal(l1->is_folded, 1);
	assert_int_equal(pk_profile_location_lines(p, 1, &lines), 2);
	assert_int_equal(lines[0].function, 2); /* the inlined leaf first */
	assert_int_equal(lines[0].line, 30);
	assert_int_equal(lines[0].column, 0);
	assert_int_equal(lines[1].function, 1);
	assert_int_equal(lines[1].line, 20);
	assert_int_equal(lines[1].column, 9);
	assert_null(pk_profile_location(p, 2));
	assert_int_equal(pk_profile_location_lines(p, 2, &lines), 0);
	assert_null(lines);

	assert_int_equal(pk_profile_sample_count(p), 3);
	assert_int_equal(pk_profile_stack_count(p), 2);
	pk_sample s;
	assert_int_equal(pk_profile_sample(p, 0, &s), 0);
	assert_int_equal(s.depth, 2);
	assert_int_equal(s.locations[0], 1);
	assert_int_equal(s.locations[1], 0);
	assert_int_equal(s.value_count, 2);
	assert_int_equal(s.values[0], 3);
	assert_int_equal(s.values[1], 3072);
	assert_int_equal(s.label_count, 2);
	assert_str(p, pk_profile_label(p, s.labels[0]).key, "role");
	assert_str(p, pk_profile_label(p, s.labels[0]).str, "producer");
	assert_int_equal(pk_profile_label(p, s.labels[0]).num, 0);
	assert_int_equal(pk_profile_label(p, s.labels[0]).num_unit, 0);
	assert_str(p, pk_profile_label(p, s.labels[1]).key, "bytes");
	assert_int_equal(pk_profile_label(p, s.labels[1]).str, 0);
	assert_int_equal(pk_profile_label(p, s.labels[1]).num, 1024);
	assert_str(p, pk_profile_label(p, s.labels[1]).num_unit, "bytes");
	uint32_t first_stack = s.stack;

	assert_int_equal(pk_profile_sample(p, 1, &s), 0);
	assert_int_equal(s.stack, first_stack);
	assert_int_equal(s.depth, 2);
	assert_int_equal(s.values[0], -1);
	assert_int_equal(s.values[1], -1024);
	assert_int_equal(s.label_count, 0);

	assert_int_equal(pk_profile_sample(p, 2, &s), 0);
	assert_int_not_equal(s.stack, first_stack);
	assert_int_equal(s.depth, 1);
	assert_int_equal(s.locations[0], 0);
	assert_int_equal(s.label_count, 1);
	assert_str(p, pk_profile_label(p, s.labels[0]).key, "bytes");

	assert_int_equal(pk_profile_sample(p, 3, &s), PK_ENOTFOUND);

	const uint32_t *stack = NULL;
	assert_int_equal(pk_profile_stack(p, first_stack, &stack), 2);
	assert_int_equal(stack[0], 1);
	assert_int_equal(stack[1], 0);
	assert_int_equal(pk_profile_stack(p, 2, &stack), 0);
	assert_null(stack);

	assert_int_equal(pk_profile_validate(p, NULL), 0);
	pk_profile_free(p);
}

static void test_ids_default_to_index_plus_one(void **state)
{
	(void)state;
	pk_profile *p = NULL;
	assert_int_equal(pk_profile_new(&p), 0);
	pk_mapping m = {0};
	pk_function f = {0};
	pk_location loc = {0, PK_NONE, 0, 0};
	uint32_t at = 99;
	for (uint32_t i = 0; i < 3; i++) {
		assert_int_equal(pk_profile_add_mapping(p, &m, &at), 0);
		assert_int_equal(at, i);
		assert_true(pk_profile_mapping(p, i)->id == i + 1);
		assert_int_equal(pk_profile_add_function(p, &f, &at), 0);
		assert_int_equal(at, i);
		assert_true(pk_profile_function(p, i)->id == i + 1);
		assert_int_equal(pk_profile_add_location(p, &loc, NULL, 0, &at), 0);
		assert_int_equal(at, i);
		assert_true(pk_profile_location(p, i)->id == i + 1);
	}
	/* *out is optional */
	assert_int_equal(pk_profile_add_mapping(p, &m, NULL), 0);
	assert_int_equal(pk_profile_add_function(p, &f, NULL), 0);
	assert_int_equal(pk_profile_add_location(p, &loc, NULL, 0, NULL), 0);
	assert_int_equal(pk_profile_validate(p, NULL), 0);
	pk_profile_free(p);
}

/* -------------------------------------------------------------- interning */

static void test_intern_same_bytes_same_index(void **state)
{
	(void)state;
	pk_profile *p = NULL;
	assert_int_equal(pk_profile_new(&p), 0);
	pk_str a = 0, b = 0, c = 0, e = 99;
	assert_int_equal(pk_profile_intern(p, "hello", 5, &a), 0);
	assert_int_equal(a, 1);
	assert_int_equal(pk_profile_intern(p, "hello world", 5, &b), 0); /* a prefix */
	assert_int_equal(b, a);
	assert_int_equal(pk_profile_intern(p, "hello", 4, &c), 0);
	assert_int_not_equal(c, a);
	assert_string_equal(pk_profile_string(p, c), "hell");
	assert_int_equal(pk_profile_intern(p, "", 0, &e), 0);
	assert_int_equal(e, 0);
	e = 99;
	assert_int_equal(pk_profile_intern(p, NULL, 0, &e), 0);
	assert_int_equal(e, 0);
	assert_int_equal(pk_profile_intern(p, NULL, 3, &e), PK_EINVAL);
	assert_int_equal(pk_profile_string_count(p), 3);
	assert_null(pk_profile_string(p, 3));
	assert_int_equal(pk_profile_string_length(p, 3), 0);
	assert_null(pk_profile_string(p, PK_NONE));
	pk_profile_free(p);
}

static void test_intern_nul_bytes(void **state)
{
	(void)state;
	pk_profile *p = NULL;
	assert_int_equal(pk_profile_new(&p), 0);
	pk_str a, b, c, d, a2;
	assert_int_equal(pk_profile_intern(p, "a\0b", 3, &a), 0);
	assert_int_equal(pk_profile_intern(p, "a", 1, &b), 0);
	assert_int_equal(pk_profile_intern(p, "a\0c", 3, &c), 0);
	assert_int_equal(pk_profile_intern(p, "\0", 1, &d), 0);
	assert_int_equal(pk_profile_intern(p, "a\0b", 3, &a2), 0);
	assert_int_equal(a2, a);
	assert_int_not_equal(a, b);
	assert_int_not_equal(a, c);
	assert_int_not_equal(d, 0);
	assert_int_equal(pk_profile_string_length(p, a), 3);
	assert_memory_equal(pk_profile_string(p, a), "a\0b", 4); /* NUL-terminated too */
	assert_int_equal(pk_profile_string_length(p, b), 1);
	assert_int_equal(pk_profile_string_length(p, c), 3);
	assert_memory_equal(pk_profile_string(p, c), "a\0c", 4);
	assert_int_equal(pk_profile_string_length(p, d), 1);
	assert_int_equal(pk_profile_string(p, d)[0], '\0');
	assert_int_equal(pk_profile_string_count(p), 5);
	pk_profile_free(p);
}

/* Many strings and a long one: the hash table grows and the arena takes
 * chunks of every size, and every string keeps its index. */
static void test_intern_many(void **state)
{
	(void)state;
	pk_profile *p = NULL;
	assert_int_equal(pk_profile_new(&p), 0);
	enum { N = 100000 };
	char buf[32];
	for (int i = 0; i < N; i++) {
		int n = snprintf(buf, sizeof buf, "function_%d", i);
		pk_str s;
		assert_int_equal(pk_profile_intern(p, buf, (size_t)n, &s), 0);
		assert_int_equal(s, (pk_str)i + 1);
	}
	size_t big_len = 200000;
	char *big = malloc(big_len);
	assert_non_null(big);
	for (size_t i = 0; i < big_len; i++)
		big[i] = (char)('a' + i % 26);
	pk_str bs, bs2;
	assert_int_equal(pk_profile_intern(p, big, big_len, &bs), 0);
	assert_int_equal(bs, N + 1);
	for (int i = 0; i < N; i += 997) {
		int n = snprintf(buf, sizeof buf, "function_%d", i);
		pk_str s;
		assert_int_equal(pk_profile_intern(p, buf, (size_t)n, &s), 0);
		assert_int_equal(s, (pk_str)i + 1);
		assert_string_equal(pk_profile_string(p, s), buf);
	}
	assert_int_equal(pk_profile_intern(p, big, big_len, &bs2), 0);
	assert_int_equal(bs2, bs);
	assert_int_equal(pk_profile_string_length(p, bs), big_len);
	assert_memory_equal(pk_profile_string(p, bs), big, big_len);
	assert_int_equal(pk_profile_string_count(p), N + 2);
	free(big);
	pk_profile_free(p);
}

/* ----------------------------------------------------------------- stacks */

/* A profile with one sample type and n locations (no lines). */
static pk_profile *profile_with_locations(size_t n)
{
	pk_profile *p = NULL;
	assert_int_equal(pk_profile_new(&p), 0);
	assert_int_equal(pk_profile_add_sample_type(
	                     p, (pk_value_type){intern(p, "samples"), intern(p, "count")}),
	                 0);
	for (size_t i = 0; i < n; i++) {
		pk_location loc = {0, PK_NONE, 0x1000 + i, 0};
		assert_int_equal(pk_profile_add_location(p, &loc, NULL, 0, NULL), 0);
	}
	return p;
}

static void test_stack_dedup(void **state)
{
	(void)state;
	pk_profile *p = profile_with_locations(4);
	uint32_t a[] = {0, 1, 2};
	uint32_t a_copy[] = {0, 1, 2};
	uint32_t b[] = {2, 1, 0}; /* same locations, other order */
	uint32_t c[] = {0, 1};    /* a prefix */
	int64_t v = 1;
	assert_int_equal(pk_profile_add_sample(p, a, 3, &v, 1, NULL, 0), 0);
	assert_int_equal(pk_profile_add_sample(p, b, 3, &v, 1, NULL, 0), 0);
	assert_int_equal(pk_profile_add_sample(p, a_copy, 3, &v, 1, NULL, 0), 0);
	assert_int_equal(pk_profile_add_sample(p, c, 2, &v, 1, NULL, 0), 0);
	assert_int_equal(pk_profile_add_sample(p, NULL, 0, &v, 1, NULL, 0), 0); /* empty stack */
	assert_int_equal(pk_profile_add_sample(p, a, 3, &v, 1, NULL, 0), 0);
	assert_int_equal(pk_profile_add_sample(p, NULL, 0, &v, 1, NULL, 0), 0);
	assert_int_equal(pk_profile_sample_count(p), 7);
	assert_int_equal(pk_profile_stack_count(p), 4);

	pk_sample s[7];
	for (size_t i = 0; i < 7; i++)
		assert_int_equal(pk_profile_sample(p, i, &s[i]), 0);
	assert_int_equal(s[0].stack, s[2].stack);
	assert_int_equal(s[0].stack, s[5].stack);
	assert_ptr_equal(s[0].locations, s[2].locations); /* stored once */
	assert_int_not_equal(s[0].stack, s[1].stack);
	assert_int_not_equal(s[0].stack, s[3].stack);
	assert_int_equal(s[4].stack, s[6].stack);
	assert_int_equal(s[4].depth, 0);
	assert_int_equal(s[1].locations[0], 2);
	assert_int_equal(s[3].depth, 2);
	/* stacks are numbered in order of first use */
	assert_int_equal(s[0].stack, 0);
	assert_int_equal(s[1].stack, 1);
	assert_int_equal(s[3].stack, 2);
	assert_int_equal(s[4].stack, 3);
	const uint32_t *locs;
	assert_int_equal(pk_profile_stack(p, 1, &locs), 3);
	assert_memory_equal(locs, b, sizeof b);
	pk_profile_free(p);
}

/* pk_profile_add_sample with its n-th allocation failing, for n = 1, 2,
 * ... until it succeeds: each failure must leave p as it was. */
static void add_sample_failing(pk_profile *p, const uint32_t *stack, size_t depth, int64_t v,
                               const pk_label *labels, size_t label_count)
{
	size_t count = pk_profile_sample_count(p);
	for (long n = 1;; n++) {
		chaos_reset(n, 0);
		pk_set_allocator(chaos_malloc, chaos_free);
		int rc = pk_profile_add_sample(p, stack, depth, &v, 1, labels, label_count);
		pk_set_allocator(NULL, NULL);
		if (rc == 0)
			break;
		assert_int_equal(rc, PK_ENOMEM);
		assert_int_equal(pk_profile_sample_count(p), count);
	}
	assert_int_equal(pk_profile_sample_count(p), count + 1);
}

/* Labels are kept per sample only once a sample has some: the samples
 * before it read back with none, as do unlabeled ones after. */
static void test_labels_after_unlabeled_samples(void **state)
{
	(void)state;
	pk_profile *p = profile_with_locations(2);
	pk_label label = {intern(p, "thread"), intern(p, "main"), 0, 0};
	uint32_t stack[] = {0, 1};
	int64_t v = 1;
	for (int i = 0; i < 3; i++)
		assert_int_equal(pk_profile_add_sample(p, stack, 2, &v, 1, NULL, 0), 0);
	add_sample_failing(p, stack, 2, 1, &label, 1);
	assert_int_equal(pk_profile_add_sample(p, stack, 1, &v, 1, NULL, 0), 0);
	assert_int_equal(pk_profile_sample_count(p), 5);
	size_t want[] = {0, 0, 0, 1, 0};
	for (size_t i = 0; i < 5; i++) {
		pk_sample s;
		assert_int_equal(pk_profile_sample(p, i, &s), 0);
		assert_int_equal(s.label_count, want[i]);
	}
	pk_sample s;
	assert_int_equal(pk_profile_sample(p, 3, &s), 0);
	assert_int_equal(pk_profile_label(p, s.labels[0]).key, label.key);
	assert_int_equal(pk_profile_label(p, s.labels[0]).str, label.str);
	pk_profile_free(p);
}

/* Each distinct label is stored once and each distinct set once, through
 * the tables' growth and allocation failures on the way; labels that
 * differ in any field are distinct, and a set keeps its order and its
 * repeats. */
static void test_labels_interned_once(void **state)
{
	(void)state;
	pk_profile *p = profile_with_locations(1);
	pk_str key = intern(p, "k"), unit = intern(p, "bytes");
	uint32_t stack[] = {0};
	enum { N = 3000 };
	for (int64_t i = 0; i < N; i++) {
		/* label i, then label i / 2 (shared by two samples) */
		pk_label set[2] = {{key, 0, i, unit}, {key, 0, i / 2, unit}};
		if (i % 500 == 7)
			add_sample_failing(p, stack, 1, 1, set, 2);
		else
			assert_int_equal(
			    pk_profile_add_sample(p, stack, 1, &(int64_t){1}, 1, set, 2), 0);
	}
	assert_int_equal(pk_profile_label_count(p), N);
	for (size_t i = 0; i < N; i++) {
		pk_sample s;
		assert_int_equal(pk_profile_sample(p, i, &s), 0);
		assert_int_equal(s.label_count, 2);
		pk_label a = pk_profile_label(p, s.labels[0]), b = pk_profile_label(p, s.labels[1]);
		assert_true(a.key == key && a.str == 0 && a.num == (int64_t)i &&
		            a.num_unit == unit);
		assert_true(b.num == (int64_t)i / 2);
		uint32_t shared = s.labels[1];
		assert_int_equal(pk_profile_sample(p, i / 2, &s), 0);
		assert_int_equal(shared, s.labels[0]);
	}
	/* equal sets share their storage; order, repeats and every field count */
	pk_label l = {key, intern(p, "v"), 0, 0};
	pk_label sets[][2] = {
	    {l, l}, {l, l}, {l, {key, 0, 0, 0}}, {{key, 0, 0, 0}, l}, {l, {key, 0, 0, unit}}};
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(pk_profile_add_sample(p, stack, 1, &(int64_t){1}, 1, sets[i], 2),
		                 0);
	assert_int_equal(pk_profile_label_count(p), N + 2); /* l and {key, 0, 0, 0} */
	pk_sample s[5];
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(pk_profile_sample(p, N + i, &s[i]), 0);
	assert_ptr_equal(s[0].labels, s[1].labels);
	assert_int_equal(s[0].labels[0], s[0].labels[1]);
	assert_int_equal(s[2].labels[0], s[3].labels[1]);
	assert_int_equal(s[2].labels[1], s[3].labels[0]);
	assert_int_equal(s[4].labels[1], 0); /* {key, 0, 0, unit}: as label 0 */
	pk_label none = pk_profile_label(p, N + 2);
	assert_true(none.key == 0 && none.str == 0 && none.num == 0 && none.num_unit == 0);
	pk_profile_free(p);
}

/* Samples share their values while few are distinct, then keep their own
 * (also when memory runs out on the way): either way each reads back. */
static void test_values_shared_then_own(void **state)
{
	(void)state;
	pk_profile *p = profile_with_locations(1);
	uint32_t stack[] = {0};
	for (int64_t i = 0; i < 1000; i++)
		assert_int_equal(pk_profile_add_sample(p, stack, 1, &(int64_t){i % 10}, 1, NULL, 0),
		                 0);
	pk_sample a, b;
	assert_int_equal(pk_profile_sample(p, 3, &a), 0);
	assert_int_equal(pk_profile_sample(p, 13, &b), 0);
	assert_ptr_equal(a.values, b.values); /* stored once */
	for (int64_t i = 1000; i < 3000; i++)
		add_sample_failing(p, stack, 1, -i, NULL, 0);
	assert_int_equal(pk_profile_sample_count(p), 3000);
	for (size_t i = 0; i < 3000; i++) {
		assert_int_equal(pk_profile_sample(p, i, &a), 0);
		assert_int_equal(a.value_count, 1);
		assert_true(a.values[0] == (i < 1000 ? (int64_t)i % 10 : -(int64_t)i));
	}
	pk_profile_free(p);
}

/* A profile read back has given its stack table back: adding samples to
 * it builds the table again, so known stacks are still found. */
static void test_stacks_added_after_read(void **state)
{
	(void)state;
	pk_profile *p = profile_with_locations(3);
	uint32_t a[] = {0, 1, 2}, b[] = {2, 1}, c[] = {1};
	int64_t v = 1;
	assert_int_equal(pk_profile_add_sample(p, a, 3, &v, 1, NULL, 0), 0);
	assert_int_equal(pk_profile_add_sample(p, b, 2, &v, 1, NULL, 0), 0);
	pk_write_options wo = PK_WRITE_OPTIONS_INIT;
	wo.format = pk_format_by_name("pprof");
	void *buf = NULL;
	size_t size = 0;
	assert_int_equal(pk_profile_write_buffer(p, &wo, &buf, &size, NULL), 0);
	pk_profile_free(p);
	pk_read_options ro = PK_READ_OPTIONS_INIT;
	assert_int_equal(pk_profile_read_buffer(buf, size, &ro, &p, NULL, NULL), 0);
	pk_free(buf);
	add_sample_failing(p, b, 2, 1, NULL, 0);
	assert_int_equal(pk_profile_add_sample(p, c, 1, &v, 1, NULL, 0), 0);
	assert_int_equal(pk_profile_add_sample(p, a, 3, &v, 1, NULL, 0), 0);
	assert_int_equal(pk_profile_stack_count(p), 3);
	uint32_t want[] = {0, 1, 1, 2, 0};
	for (size_t i = 0; i < 5; i++) {
		pk_sample s;
		assert_int_equal(pk_profile_sample(p, i, &s), 0);
		assert_int_equal(s.stack, want[i]);
	}
	pk_profile_free(p);
}

/* 1,000,000 samples over 1,000 distinct stacks: each stack is stored once
 * and adding stays fast. */
static void test_scale_million_samples(void **state)
{
	(void)state;
	enum { LOCS = 1000, STACKS = 1000, DEPTH = 12, SAMPLES = 1000000 };
	pk_profile *p = NULL;
	assert_int_equal(pk_profile_new(&p), 0);
	assert_int_equal(pk_profile_add_sample_type(
	                     p, (pk_value_type){intern(p, "samples"), intern(p, "count")}),
	                 0);
	assert_int_equal(pk_profile_add_sample_type(
	                     p, (pk_value_type){intern(p, "cpu"), intern(p, "nanoseconds")}),
	                 0);
	for (size_t i = 0; i < LOCS; i++) {
		pk_location loc = {0, PK_NONE, 0x1000 + i, 0};
		assert_int_equal(pk_profile_add_location(p, &loc, NULL, 0, NULL), 0);
	}
	static uint32_t stacks[STACKS][DEPTH];
	for (uint32_t s = 0; s < STACKS; s++)
		for (uint32_t d = 0; d < DEPTH; d++)
			stacks[s][d] = (s * 7 + d * 131 + (d == 0 ? s : 0)) % LOCS;
	/* make every stack distinct for sure: the leaf encodes s */
	for (uint32_t s = 0; s < STACKS; s++)
		stacks[s][0] = s;

	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint32_t i = 0; i < SAMPLES; i++) {
		uint32_t s = (i * 7919u) % STACKS;
		int64_t v[2] = {1, (int64_t)i};
		if (pk_profile_add_sample(p, stacks[s], DEPTH, v, 2, NULL, 0) != 0)
			fail_msg("sample %u was refused", i);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

	assert_int_equal(pk_profile_sample_count(p), SAMPLES);
	assert_int_equal(pk_profile_stack_count(p), STACKS);
	pk_sample smp;
	assert_int_equal(pk_profile_sample(p, 123457, &smp), 0);
	assert_int_equal(smp.depth, DEPTH);
	assert_memory_equal(smp.locations, stacks[(123457u * 7919u) % STACKS], sizeof stacks[0]);
	assert_int_equal(smp.values[1], 123457);
	assert_int_equal(pk_profile_validate(p, NULL), 0);
	pk_profile_free(p);

	/* Sanitizers and valgrind slow everything down several times. */
	double limit = 2.0;
	const char *env = getenv("PK_SCALE_LIMIT");
	if (env != NULL)
		limit = atof(env);
#if defined(__SANITIZE_ADDRESS__)
	limit *= 5;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	limit *= 5;
#endif
#endif
	if (secs > limit)
		fail_msg("adding %d samples took %.2f s (limit %.1f s)", SAMPLES, secs, limit);
}

/* ------------------------------------------------------ bad references */

static void test_rejects_bad_references(void **state)
{
	(void)state;
	pk_profile *p = make_rich_profile();
	size_t strings = pk_profile_string_count(p);
	pk_str bad_str = (pk_str)strings;
	size_t samples = pk_profile_sample_count(p), stacks = pk_profile_stack_count(p);
	size_t mappings = pk_profile_mapping_count(p), functions = pk_profile_function_count(p);
	size_t locations = pk_profile_location_count(p);

	/* strings out of range */
	assert_int_equal(pk_profile_add_sample_type(p, (pk_value_type){bad_str, 0}), PK_EINVAL);
	assert_int_equal(pk_profile_add_comment(p, bad_str), PK_EINVAL);
	assert_int_equal(pk_profile_add_comment(p, PK_NONE), PK_EINVAL);
	pk_mapping m = {0};
	m.filename = bad_str;
	assert_int_equal(pk_profile_add_mapping(p, &m, NULL), PK_EINVAL);
	m.filename = 0;
	m.build_id = bad_str;
	assert_int_equal(pk_profile_add_mapping(p, &m, NULL), PK_EINVAL);
	pk_function f = {0};
	f.name = bad_str;
	assert_int_equal(pk_profile_add_function(p, &f, NULL), PK_EINVAL);
	f.name = 0;
	f.system_name = bad_str;
	assert_int_equal(pk_profile_add_function(p, &f, NULL), PK_EINVAL);
	f.system_name = 0;
	f.filename = bad_str;
	assert_int_equal(pk_profile_add_function(p, &f, NULL), PK_EINVAL);

	/* function index out of range in a line, mapping index out of range */
	pk_location loc = {0, PK_NONE, 0, 0};
	pk_line lines[2] = {{0, 1, 0}, {(uint32_t)functions, 2, 0}};
	assert_int_equal(pk_profile_add_location(p, &loc, lines, 2, NULL), PK_EINVAL);
	lines[1].function = PK_NONE;
	assert_int_equal(pk_profile_add_location(p, &loc, lines, 2, NULL), PK_EINVAL);
	assert_int_equal(pk_profile_add_location(p, &loc, NULL, 1, NULL), PK_EINVAL);
	loc.mapping = (uint32_t)mappings;
	assert_int_equal(pk_profile_add_location(p, &loc, lines, 1, NULL), PK_EINVAL);

	/* location index out of range, wrong value counts, bad label strings */
	uint32_t stack[2] = {0, (uint32_t)locations};
	int64_t values[3] = {1, 2, 3};
	assert_int_equal(pk_profile_add_sample(p, stack, 2, values, 2, NULL, 0), PK_EINVAL);
	stack[1] = PK_NONE;
	assert_int_equal(pk_profile_add_sample(p, stack, 2, values, 2, NULL, 0), PK_EINVAL);
	assert_int_equal(pk_profile_add_sample(p, stack, 1, values, 1, NULL, 0), PK_EINVAL);
	assert_int_equal(pk_profile_add_sample(p, stack, 1, values, 3, NULL, 0), PK_EINVAL);
	assert_int_equal(pk_profile_add_sample(p, stack, 1, values, 0, NULL, 0), PK_EINVAL);
	pk_label label = {bad_str, 0, 0, 0};
	assert_int_equal(pk_profile_add_sample(p, stack, 1, values, 2, &label, 1), PK_EINVAL);
	label = (pk_label){1, bad_str, 0, 0};
	assert_int_equal(pk_profile_add_sample(p, stack, 1, values, 2, &label, 1), PK_EINVAL);
	label = (pk_label){1, 0, 5, bad_str};
	assert_int_equal(pk_profile_add_sample(p, stack, 1, values, 2, &label, 1), PK_EINVAL);

	/* a sample type after samples: the value stride is fixed */
	assert_int_equal(pk_profile_add_sample_type(p, (pk_value_type){1, 2}), PK_EINVAL);

	/* nothing was added by the refused calls */
	assert_int_equal(pk_profile_string_count(p), strings);
	assert_int_equal(pk_profile_sample_type_count(p), 2);
	assert_int_equal(pk_profile_comment_count(p), 2);
	assert_int_equal(pk_profile_mapping_count(p), mappings);
	assert_int_equal(pk_profile_function_count(p), functions);
	assert_int_equal(pk_profile_location_count(p), locations);
	assert_int_equal(pk_profile_sample_count(p), samples);
	assert_int_equal(pk_profile_stack_count(p), stacks);
	assert_int_equal(pk_profile_validate(p, NULL), 0);
	pk_profile_free(p);
}

static void test_sample_needs_sample_types(void **state)
{
	(void)state;
	pk_profile *p = NULL;
	assert_int_equal(pk_profile_new(&p), 0);
	int64_t v = 1;
	/* Without sample types the only value count that matches is 0, and a
	 * sample must have values: the model cannot hold samples without
	 * sample types, which validate would report. */
	assert_int_equal(pk_profile_add_sample(p, NULL, 0, &v, 1, NULL, 0), PK_EINVAL);
	assert_int_equal(pk_profile_add_sample(p, NULL, 0, NULL, 0, NULL, 0), PK_EINVAL);
	assert_int_equal(pk_profile_sample_count(p), 0);
	assert_int_equal(pk_profile_validate(p, NULL), 0);
	pk_profile_free(p);
}

/* ------------------------------------------------------------- validation */

static void expect_invalid(const pk_profile *p, const char *message)
{
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(pk_profile_validate(p, &err), PK_EFORMAT);
	assert_int_equal(err.code, PK_EFORMAT);
	assert_string_equal(err.message, message);
	assert_int_equal(pk_profile_validate(p, NULL), PK_EFORMAT);
}

static void test_validate_duplicate_ids(void **state)
{
	(void)state;
	pk_profile *p = make_rich_profile();
	pk_mapping m = *pk_profile_mapping(p, 0); /* id 7 again */
	assert_int_equal(pk_profile_add_mapping(p, &m, NULL), 0);
	expect_invalid(p, "two mappings have the id 7");
	pk_profile_free(p);

	p = make_rich_profile();
	pk_function f = *pk_profile_function(p, 1); /* id 11 again */
	assert_int_equal(pk_profile_add_function(p, &f, NULL), 0);
	expect_invalid(p, "two functions have the id 11");
	pk_profile_free(p);

	p = make_rich_profile();
	pk_location loc = *pk_profile_location(p, 1);
	assert_int_equal(pk_profile_add_location(p, &loc, NULL, 0, NULL), 0);
	expect_invalid(p, "two locations have the id 9223372036854775809");
	pk_profile_free(p);

	/* An id of 0 means "index + 1", which can collide with an explicit id. */
	assert_int_equal(pk_profile_new(&p), 0);
	pk_function g = {0};
	g.id = 2;
	assert_int_equal(pk_profile_add_function(p, &g, NULL), 0);
	g.id = 0;
	assert_int_equal(pk_profile_add_function(p, &g, NULL), 0);
	assert_true(pk_profile_function(p, 1)->id == 2);
	expect_invalid(p, "two functions have the id 2");
	pk_profile_free(p);

	/* Large, sparse ids go through the hash side of the id map. */
	assert_int_equal(pk_profile_new(&p), 0);
	for (uint64_t i = 0; i < 500; i++) {
		pk_location l = {0xdead00000000ULL + i * 4096, PK_NONE, 0, 0};
		assert_int_equal(pk_profile_add_location(p, &l, NULL, 0, NULL), 0);
	}
	assert_int_equal(pk_profile_validate(p, NULL), 0);
	pk_location l = {0xdead00000000ULL + 250 * 4096, PK_NONE, 0, 0};
	assert_int_equal(pk_profile_add_location(p, &l, NULL, 0, NULL), 0);
	char want[64];
	snprintf(want, sizeof want, "two locations have the id %llu", (unsigned long long)l.id);
	expect_invalid(p, want);
	pk_profile_free(p);
}

static void test_validate_header_strings(void **state)
{
	(void)state;
	/* Header setters cannot refuse a value, so validate checks them. */
	void (*setters[])(pk_profile *,
	                  pk_str) = {pk_profile_set_default_sample_type, pk_profile_set_drop_frames,
	                             pk_profile_set_keep_frames, pk_profile_set_doc_url};
	for (size_t i = 0; i < sizeof setters / sizeof setters[0]; i++) {
		pk_profile *p = make_rich_profile();
		size_t n = pk_profile_string_count(p);
		setters[i](p, (pk_str)n + 5);
		char want[128];
		snprintf(want, sizeof want, "a header field names string %zu of %zu", n + 5, n);
		expect_invalid(p, want);
		pk_profile_free(p);
	}
	pk_profile *p = make_rich_profile();
	pk_profile_set_period_type(p, (pk_value_type){1, PK_NONE});
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(pk_profile_validate(p, &err), PK_EFORMAT);
	pk_profile_free(p);
}

static void test_validate_first_error_wins(void **state)
{
	(void)state;
	pk_profile *p = make_rich_profile();
	pk_mapping m = *pk_profile_mapping(p, 0);
	assert_int_equal(pk_profile_add_mapping(p, &m, NULL), 0);
	pk_error err = PK_ERROR_INIT;
	err.code = PK_EIO;
	strcpy(err.message, "earlier");
	assert_int_equal(pk_profile_validate(p, &err), PK_EFORMAT);
	assert_int_equal(err.code, PK_EIO);
	assert_string_equal(err.message, "earlier");
	pk_profile_free(p);
}

/* ------------------------------------------------------ allocation failure */

/* An allocator that fails the fail_at-th allocation (and, with sticky, every
 * later one) and counts the blocks still live, so a leak shows up without
 * valgrind. */
#define TRY(expr)                                                                                  \
	do {                                                                                       \
		rc = (expr);                                                                       \
		if (rc < 0)                                                                        \
			goto done;                                                                 \
	} while (0)

/* make_rich_profile, step by step, returning the first error instead of
 * asserting: the allocation-failure test needs every failure to come back. */
static int try_rich_profile(pk_profile **out)
{
	pk_profile *p = NULL;
	int rc;
	pk_str s[24];
	static const char *const strs[] = {"alloc_objects",  "count",
	                                   "alloc_space",    "bytes",
	                                   "space",          "runtime\\..*",
	                                   "runtime\\.main", "https://example.org/doc",
	                                   "first comment",  "second \"quoted\" comment",
	                                   "/srv/app/app",   "abc123",
	                                   "main.main",      "app/main.go",
	                                   "main.work",      "main.leaf",
	                                   "role",           "producer"};
	TRY(pk_profile_new(&p));
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
		TRY(pk_profile_intern(p, strs[i], strlen(strs[i]), &s[i]));
	TRY(pk_profile_add_sample_type(p, (pk_value_type){s[0], s[1]}));
	TRY(pk_profile_add_sample_type(p, (pk_value_type){s[2], s[3]}));
	pk_profile_set_default_sample_type(p, s[2]);
	pk_profile_set_period_type(p, (pk_value_type){s[4], s[3]});
	pk_profile_set_period(p, 524288);
	pk_profile_set_time_nanos(p, 1764100000123456789LL);
	pk_profile_set_duration_nanos(p, 2000000000LL);
	pk_profile_set_drop_frames(p, s[5]);
	pk_profile_set_keep_frames(p, s[6]);
	pk_profile_set_doc_url(p, s[7]);
	TRY(pk_profile_add_comment(p, s[8]));
	TRY(pk_profile_add_comment(p, s[9]));
	pk_mapping m = {7, 0x400000, 0x4c0000, 0x1000, s[10], s[11], 1, 1, 1, 1};
	uint32_t mi, fi[3], li[2];
	TRY(pk_profile_add_mapping(p, &m, &mi));
	pk_str names[3] = {s[12], s[14], s[15]};
	for (int i = 0; i < 3; i++) {
		pk_function f = {10 + (uint64_t)i, names[i], names[i], s[13], 5 * i + 1};
		TRY(pk_profile_add_function(p, &f, &fi[i]));
	}
	pk_location loc = {100, mi, 0x401000, 0};
	pk_line l0 = {fi[0], 12, 3};
	TRY(pk_profile_add_location(p, &loc, &l0, 1, &li[0]));
	pk_location loc2 = {0x8000000000000001ULL, PK_NONE, 0xffffffff81000000ULL, 1};
	pk_line l1[2] = {{fi[2], 30, 0}, {fi[1], 20, 9}};
	TRY(pk_profile_add_location(p, &loc2, l1, 2, &li[1]));
	uint32_t stack[2] = {li[1], li[0]};
	int64_t v1[2] = {3, 3072};
	int64_t v2[2] = {-1, -1024};
	pk_label labels[2] = {{s[16], s[17], 0, 0}, {s[3], 0, 1024, s[3]}};
	TRY(pk_profile_add_sample(p, stack, 2, v1, 2, labels, 2));
	TRY(pk_profile_add_sample(p, stack, 2, v2, 2, NULL, 0));
	TRY(pk_profile_add_sample(p, stack + 1, 1, v1, 2, labels + 1, 1));
	TRY(pk_profile_validate(p, NULL));
	*out = p;
	return 0;
done:
	pk_profile_free(p);
	return rc;
}

static void test_try_rich_profile_matches(void **state)
{
	(void)state;
	pk_profile *a = make_rich_profile(), *b = NULL;
	assert_int_equal(try_rich_profile(&b), 0);
	assert_int_equal(pk_profile_string_count(a), pk_profile_string_count(b));
	for (size_t i = 0; i < pk_profile_string_count(a); i++)
		assert_string_equal(pk_profile_string(a, (pk_str)i),
		                    pk_profile_string(b, (pk_str)i));
	assert_profiles_equal(a, b);
	pk_profile_free(a);
	pk_profile_free(b);
}

/* The whole life of a profile: build, export (gzipped pprof), import.
 * Returns 0 or the first error; *err says what failed. */
static int chaos_scenario(pk_error *err, pk_profile **built, pk_profile **read)
{
	pk_profile *p = NULL, *q = NULL;
	void *buf = NULL;
	size_t size = 0;
	int rc;
	TRY(try_rich_profile(&p));
	/* from here on, a failure must also fill the error record */
	pk_write_options wo = PK_WRITE_OPTIONS_INIT;
	wo.format = pk_format_by_name("pprof");
	TRY(pk_profile_write_buffer(p, &wo, &buf, &size, err));
	pk_read_options ro = PK_READ_OPTIONS_INIT;
	TRY(pk_profile_read_buffer(buf, size, &ro, &q, NULL, err));
done:
	if (rc < 0 && p != NULL && (err->code != PK_ENOMEM || err->message[0] == '\0'))
		fail_msg("allocation %ld failed: the call returned %d but the error record has %d "
		         "(\"%s\")",
		         chaos.fail_at, rc, err->code, err->message);
	pk_free(buf);
	if (rc < 0) {
		pk_profile_free(p);
		pk_profile_free(q);
		return rc;
	}
	*built = p;
	*read = q;
	return 0;
}

static void run_chaos(int sticky)
{
	long n;
	for (n = 1;; n++) {
		pk_error err = PK_ERROR_INIT;
		pk_profile *p = NULL, *q = NULL;
		chaos_reset(n, sticky);
		pk_set_allocator(chaos_malloc, chaos_free);
		int rc = chaos_scenario(&err, &p, &q);
		long calls = chaos.calls;
		if (rc == 0) {
			pk_set_allocator(NULL, NULL);
			/* the failure was injected past the end: everything ran */
			if (calls >= n)
				fail_msg(
				    "allocation %ld failed (of %ld) but the scenario succeeded", n,
				    calls);
			assert_profiles_equal(p, q);
			pk_set_allocator(chaos_malloc, chaos_free);
			pk_profile_free(p);
			pk_profile_free(q);
			pk_set_allocator(NULL, NULL);
			assert_int_equal(chaos.live, 0);
			break;
		}
		pk_profile_free(p);
		pk_profile_free(q);
		pk_set_allocator(NULL, NULL);
		if (rc != PK_ENOMEM)
			fail_msg("allocation %ld failed: got %d (%s) instead of PK_ENOMEM", n, rc,
			         err.message);
		if (err.code != 0 && err.code != PK_ENOMEM)
			fail_msg("allocation %ld failed: the error record says %d (%s)", n,
			         err.code, err.message);
		if (chaos.live != 0)
			fail_msg("allocation %ld failed: %ld blocks leaked", n, chaos.live);
	}
	print_message("allocation failure (%s): %ld allocations, each failed once\n",
	              sticky ? "sticky" : "single", n - 1);
	assert_true(n > 20);
}

static void test_allocation_failures(void **state)
{
	(void)state;
	run_chaos(0);
}

static void test_allocation_failures_sticky(void **state)
{
	(void)state;
	run_chaos(1);
}

/* Writing checks the model first: an invalid one would make a file that
 * neither profkit nor pprof reads back. Nothing is written then. */
static void test_write_refuses_invalid_model(void **state)
{
	(void)state;
	pk_profile *p = make_rich_profile();
	/* an explicit id 11 is taken by main.work already... */
	pk_function f = {0};
	f.id = 11;
	f.name = intern(p, "clash");
	assert_int_equal(pk_profile_add_function(p, &f, NULL), 0);
	char path[] = "/tmp/pk_test_model_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	pk_write_options wo = PK_WRITE_OPTIONS_INIT;
	wo.format = pk_format_by_name("pprof");
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(pk_profile_write_path(p, path, &wo, &err), PK_EFORMAT);
	assert_string_equal(err.message, "two functions have the id 11");
	assert_int_equal(access(path, F_OK), -1);
	void *buf = NULL;
	size_t size = 0;
	pk_error_init(&err);
	assert_int_equal(pk_profile_write_buffer(p, &wo, &buf, &size, &err), PK_EFORMAT);
	assert_null(buf);
	/* ...and a header string index out of range is refused too */
	pk_profile_free(p);
	p = make_rich_profile();
	pk_profile_set_doc_url(p, 12345);
	pk_error_init(&err);
	assert_int_equal(pk_profile_write_buffer(p, &wo, &buf, &size, &err), PK_EFORMAT);
	pk_profile_free(p);
}

/* Options structs carry a version; one from the future or left at zero is
 * refused rather than half understood, and so is an unknown compression. */
static void test_options_checked(void **state)
{
	(void)state;
	pk_profile *p = make_rich_profile();
	pk_write_options wo = PK_WRITE_OPTIONS_INIT;
	wo.format = pk_format_by_name("json");
	void *buf = NULL;
	size_t size = 0;
	pk_error err = PK_ERROR_INIT;
	wo.version = 99;
	assert_int_equal(pk_profile_write_buffer(p, &wo, &buf, &size, &err), PK_EINVAL);
	wo.version = PK_WRITE_OPTIONS_VERSION;
	wo.compress = 7;
	pk_error_init(&err);
	assert_int_equal(pk_profile_write_buffer(p, &wo, &buf, &size, &err), PK_EINVAL);
	assert_string_equal(err.message, "unknown compression 7");
	wo.compress = PK_COMPRESS_NONE;
	pk_error_init(&err);
	assert_int_equal(pk_profile_write_buffer(p, &wo, &buf, &size, &err), 0);
	pk_read_options ro = PK_READ_OPTIONS_INIT;
	ro.version = 0;
	pk_profile *q = NULL;
	assert_int_equal(pk_profile_read_buffer(buf, size, &ro, &q, NULL, &err), PK_EINVAL);
	assert_null(q);
	ro.version = PK_READ_OPTIONS_VERSION;
	assert_int_equal(pk_profile_read_buffer(buf, size, &ro, &q, NULL, NULL), 0);
	pk_profile_free(q);
	pk_free(buf);
	pk_profile_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_new_profile_is_empty),
	    cmocka_unit_test(test_free_null),
	    cmocka_unit_test(test_rich_profile_reads_back),
	    cmocka_unit_test(test_ids_default_to_index_plus_one),
	    cmocka_unit_test(test_intern_same_bytes_same_index),
	    cmocka_unit_test(test_intern_nul_bytes),
	    cmocka_unit_test(test_intern_many),
	    cmocka_unit_test(test_stack_dedup),
	    cmocka_unit_test(test_labels_after_unlabeled_samples),
	    cmocka_unit_test(test_labels_interned_once),
	    cmocka_unit_test(test_stacks_added_after_read),
	    cmocka_unit_test(test_values_shared_then_own),
	    cmocka_unit_test(test_scale_million_samples),
	    cmocka_unit_test(test_rejects_bad_references),
	    cmocka_unit_test(test_sample_needs_sample_types),
	    cmocka_unit_test(test_validate_duplicate_ids),
	    cmocka_unit_test(test_validate_header_strings),
	    cmocka_unit_test(test_validate_first_error_wins),
	    cmocka_unit_test(test_try_rich_profile_matches),
	    cmocka_unit_test(test_allocation_failures),
	    cmocka_unit_test(test_allocation_failures_sticky),
	    cmocka_unit_test(test_write_refuses_invalid_model),
	    cmocka_unit_test(test_options_checked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
