/* helpers.h - what the cmocka unit tests share. */
#ifndef PK_TEST_HELPERS_H
#define PK_TEST_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "profkit.h"

/* A failing allocator for pk_set_allocator: the fail_at-th allocation
 * (1-based; 0 = none) fails, and with sticky every later one too. It counts
 * live blocks, so a test sees what a failure leaked. */
static struct {
	long calls, fail_at, live;
	int sticky;
} chaos;

static inline void chaos_reset(long fail_at, int sticky)
{
	chaos.calls = chaos.live = 0;
	chaos.fail_at = fail_at;
	chaos.sticky = sticky;
}

static inline void *chaos_malloc(size_t size)
{
	chaos.calls++;
	if (chaos.fail_at > 0 &&
	    (chaos.calls == chaos.fail_at || (chaos.sticky && chaos.calls > chaos.fail_at)))
		return NULL;
	void *ptr = malloc(size);
	if (ptr != NULL)
		chaos.live++;
	return ptr;
}

static inline void chaos_free(void *ptr)
{
	if (ptr != NULL)
		chaos.live--;
	free(ptr);
}

static inline pk_str intern(pk_profile *p, const char *s)
{
	pk_str out = 0;
	assert_int_equal(pk_profile_intern(p, s, strlen(s), &out), 0);
	return out;
}

/* A small profile that uses every field of the model: two sample types, a
 * mapping, three functions, a location with an inlined frame, samples
 * sharing a stack, string and numeric labels, negative values, and every
 * header field. */
static inline pk_profile *make_rich_profile(void)
{
	pk_profile *p = NULL;
	assert_int_equal(pk_profile_new(&p), 0);
	assert_int_equal(pk_profile_add_sample_type(
	                     p, (pk_value_type){intern(p, "alloc_objects"), intern(p, "count")}),
	                 0);
	assert_int_equal(pk_profile_add_sample_type(
	                     p, (pk_value_type){intern(p, "alloc_space"), intern(p, "bytes")}),
	                 0);
	pk_profile_set_default_sample_type(p, intern(p, "alloc_space"));
	pk_profile_set_period_type(p, (pk_value_type){intern(p, "space"), intern(p, "bytes")});
	pk_profile_set_period(p, 524288);
	pk_profile_set_time_nanos(p, 1764100000123456789LL);
	pk_profile_set_duration_nanos(p, 2000000000LL);
	pk_profile_set_drop_frames(p, intern(p, "runtime\\..*"));
	pk_profile_set_keep_frames(p, intern(p, "runtime\\.main"));
	pk_profile_set_doc_url(p, intern(p, "https://example.org/doc"));
	assert_int_equal(pk_profile_add_comment(p, intern(p, "first comment")), 0);
	assert_int_equal(pk_profile_add_comment(p, intern(p, "second \"quoted\" comment")), 0);

	pk_mapping m = {0};
	m.id = 7;
	m.memory_start = 0x400000;
	m.memory_limit = 0x4c0000;
	m.file_offset = 0x1000;
	m.filename = intern(p, "/srv/app/app");
	m.build_id = intern(p, "abc123");
	m.has_functions = 1;
	m.has_filenames = 1;
	m.has_line_numbers = 1;
	m.has_inline_frames = 1;
	uint32_t mi;
	assert_int_equal(pk_profile_add_mapping(p, &m, &mi), 0);

	const char *names[] = {"main.main", "main.work", "main.leaf"};
	uint32_t fi[3];
	for (int i = 0; i < 3; i++) {
		pk_function f = {0};
		f.id = 10 + (uint64_t)i;
		f.name = intern(p, names[i]);
		f.system_name = f.name;
		f.filename = intern(p, "app/main.go");
		f.start_line = 5 * i + 1;
		assert_int_equal(pk_profile_add_function(p, &f, &fi[i]), 0);
	}
	/* location 0: main.main; location 1: main.leaf inlined into main.work */
	uint32_t li[2];
	pk_location loc = {100, mi, 0x401000, 0};
	pk_line l0 = {fi[0], 12, 3};
	assert_int_equal(pk_profile_add_location(p, &loc, &l0, 1, &li[0]), 0);
	pk_location loc2 = {0x8000000000000001ULL, PK_NONE, 0xffffffff81000000ULL, 1};
	pk_line l1[2] = {{fi[2], 30, 0}, {fi[1], 20, 9}};
	assert_int_equal(pk_profile_add_location(p, &loc2, l1, 2, &li[1]), 0);

	uint32_t stack[2] = {li[1], li[0]};
	int64_t v1[2] = {3, 3072};
	int64_t v2[2] = {-1, -1024};
	pk_label labels[2] = {{intern(p, "role"), intern(p, "producer"), 0, 0},
	                      {intern(p, "bytes"), 0, 1024, intern(p, "bytes")}};
	assert_int_equal(pk_profile_add_sample(p, stack, 2, v1, 2, labels, 2), 0);
	assert_int_equal(pk_profile_add_sample(p, stack, 2, v2, 2, NULL, 0), 0);
	assert_int_equal(pk_profile_add_sample(p, stack + 1, 1, v1, 2, labels + 1, 1), 0);
	assert_int_equal(pk_profile_validate(p, NULL), 0);
	return p;
}

/* ===================================================================== */
/* assert_profiles_equal (added with test_model.c / test_pprof.c).        */
/* A field-by-field comparison of two models. Strings are compared by    */
/* content, not index, so profiles with differently ordered string       */
/* tables compare equal; objects, stacks and samples by position.        */
/* ===================================================================== */

static inline void pk_test_assert_str_equal(const pk_profile *a, pk_str sa, const pk_profile *b,
                                            pk_str sb, const char *what)
{
	size_t la = pk_profile_string_length(a, sa), lb = pk_profile_string_length(b, sb);
	const char *ca = pk_profile_string(a, sa), *cb = pk_profile_string(b, sb);
	if (ca == NULL || cb == NULL || la != lb || memcmp(ca, cb, la) != 0)
		fail_msg("%s differs: \"%s\" (string %u) vs \"%s\" (string %u)", what,
		         ca ? ca : "<out of range>", sa, cb ? cb : "<out of range>", sb);
}

static inline void assert_profiles_equal(const pk_profile *a, const pk_profile *b)
{
#define PK_TEST_STR(x, y, what) pk_test_assert_str_equal(a, (x), b, (y), (what))
	assert_int_equal(pk_profile_sample_type_count(a), pk_profile_sample_type_count(b));
	for (size_t i = 0; i < pk_profile_sample_type_count(a); i++) {
		pk_value_type x = pk_profile_sample_type(a, i), y = pk_profile_sample_type(b, i);
		PK_TEST_STR(x.type, y.type, "sample type");
		PK_TEST_STR(x.unit, y.unit, "sample unit");
	}
	PK_TEST_STR(pk_profile_default_sample_type(a), pk_profile_default_sample_type(b),
	            "default_sample_type");
	pk_value_type pa = pk_profile_period_type(a), pb = pk_profile_period_type(b);
	PK_TEST_STR(pa.type, pb.type, "period type");
	PK_TEST_STR(pa.unit, pb.unit, "period unit");
	assert_true(pk_profile_period(a) == pk_profile_period(b));
	assert_true(pk_profile_time_nanos(a) == pk_profile_time_nanos(b));
	assert_true(pk_profile_duration_nanos(a) == pk_profile_duration_nanos(b));
	PK_TEST_STR(pk_profile_drop_frames(a), pk_profile_drop_frames(b), "drop_frames");
	PK_TEST_STR(pk_profile_keep_frames(a), pk_profile_keep_frames(b), "keep_frames");
	PK_TEST_STR(pk_profile_doc_url(a), pk_profile_doc_url(b), "doc_url");
	assert_int_equal(pk_profile_comment_count(a), pk_profile_comment_count(b));
	for (size_t i = 0; i < pk_profile_comment_count(a); i++)
		PK_TEST_STR(pk_profile_comment(a, i), pk_profile_comment(b, i), "comment");

	assert_int_equal(pk_profile_mapping_count(a), pk_profile_mapping_count(b));
	for (size_t i = 0; i < pk_profile_mapping_count(a); i++) {
		const pk_mapping *x = pk_profile_mapping(a, i), *y = pk_profile_mapping(b, i);
		assert_true(x->id == y->id);
		assert_true(x->memory_start == y->memory_start);
		assert_true(x->memory_limit == y->memory_limit);
		assert_true(x->file_offset == y->file_offset);
		PK_TEST_STR(x->filename, y->filename, "mapping filename");
		PK_TEST_STR(x->build_id, y->build_id, "mapping build_id");
		assert_int_equal(x->has_functions, y->has_functions);
		assert_int_equal(x->has_filenames, y->has_filenames);
		assert_int_equal(x->has_line_numbers, y->has_line_numbers);
		assert_int_equal(x->has_inline_frames, y->has_inline_frames);
	}
	assert_int_equal(pk_profile_function_count(a), pk_profile_function_count(b));
	for (size_t i = 0; i < pk_profile_function_count(a); i++) {
		const pk_function *x = pk_profile_function(a, i), *y = pk_profile_function(b, i);
		assert_true(x->id == y->id);
		PK_TEST_STR(x->name, y->name, "function name");
		PK_TEST_STR(x->system_name, y->system_name, "function system_name");
		PK_TEST_STR(x->filename, y->filename, "function filename");
		assert_true(x->start_line == y->start_line);
	}
	assert_int_equal(pk_profile_location_count(a), pk_profile_location_count(b));
	for (size_t i = 0; i < pk_profile_location_count(a); i++) {
		const pk_location *x = pk_profile_location(a, i), *y = pk_profile_location(b, i);
		assert_true(x->id == y->id);
		assert_int_equal(x->mapping, y->mapping);
		assert_true(x->address == y->address);
		assert_int_equal(x->is_folded, y->is_folded);
		const pk_line *lx, *ly;
		size_t nx = pk_profile_location_lines(a, i, &lx);
		assert_int_equal(nx, pk_profile_location_lines(b, i, &ly));
		for (size_t j = 0; j < nx; j++) {
			assert_int_equal(lx[j].function, ly[j].function);
			assert_true(lx[j].line == ly[j].line);
			assert_true(lx[j].column == ly[j].column);
		}
	}

	assert_int_equal(pk_profile_stack_count(a), pk_profile_stack_count(b));
	for (size_t i = 0; i < pk_profile_stack_count(a); i++) {
		const uint32_t *sx, *sy;
		size_t dx = pk_profile_stack(a, i, &sx);
		assert_int_equal(dx, pk_profile_stack(b, i, &sy));
		if (dx > 0)
			assert_memory_equal(sx, sy, dx * sizeof *sx);
	}
	assert_int_equal(pk_profile_sample_count(a), pk_profile_sample_count(b));
	for (size_t i = 0; i < pk_profile_sample_count(a); i++) {
		pk_sample x, y;
		assert_int_equal(pk_profile_sample(a, i, &x), 0);
		assert_int_equal(pk_profile_sample(b, i, &y), 0);
		assert_int_equal(x.stack, y.stack);
		assert_int_equal(x.depth, y.depth);
		if (x.depth > 0)
			assert_memory_equal(x.locations, y.locations,
			                    x.depth * sizeof *x.locations);
		assert_int_equal(x.value_count, y.value_count);
		for (size_t j = 0; j < x.value_count; j++)
			assert_true(x.values[j] == y.values[j]);
		assert_int_equal(x.label_count, y.label_count);
		for (size_t j = 0; j < x.label_count; j++) {
			pk_label lx = pk_profile_label(a, x.labels[j]);
			pk_label ly = pk_profile_label(b, y.labels[j]);
			PK_TEST_STR(lx.key, ly.key, "label key");
			PK_TEST_STR(lx.str, ly.str, "label str");
			assert_true(lx.num == ly.num);
			PK_TEST_STR(lx.num_unit, ly.num_unit, "label num_unit");
		}
	}
#undef PK_TEST_STR
}

/* ================================================ end assert_profiles_equal */

#endif
