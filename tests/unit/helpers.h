/* helpers.h - what the cmocka unit tests share. */
#ifndef PK_TEST_HELPERS_H
#define PK_TEST_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "profkit.h"

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
	assert_int_equal(pk_profile_add_sample_type(p, (pk_value_type){intern(p, "alloc_objects"),
	                                                              intern(p, "count")}),
	                 0);
	assert_int_equal(pk_profile_add_sample_type(p, (pk_value_type){intern(p, "alloc_space"),
	                                                              intern(p, "bytes")}),
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

#endif
