/* test_pprof.c - the pprof importer on hand-built protobuf bytes (so every
 * wire-level case and every error offset is pinned down), and the
 * exporter: round trips, compression, the Go fixtures. */
#include "internal.h"

#include "helpers.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* ---------------------------------------------------- a tiny pb encoder */

/* A growable byte buffer with protobuf writers. Offsets returned are
 * positions in the buffer, to compute where errors must be reported. */
typedef struct pb {
	unsigned char *d;
	size_t n, cap;
} pb;

static void pb_raw(pb *b, const void *data, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 64;
		b->d = realloc(b->d, b->cap);
		assert_non_null(b->d);
	}
	if (n > 0)
		memcpy(b->d + b->n, data, n);
	b->n += n;
}

static void pb_varint(pb *b, uint64_t v)
{
	unsigned char tmp[10];
	size_t n = 0;
	do {
		tmp[n++] = (unsigned char)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
		v >>= 7;
	} while (v != 0);
	pb_raw(b, tmp, n);
}

/* Writes a key; returns its offset. */
static size_t pb_key(pb *b, uint64_t field, int wire)
{
	size_t at = b->n;
	pb_varint(b, field << 3 | (uint64_t)wire);
	return at;
}

/* A VARINT field; returns the key's offset. */
static size_t pb_uint(pb *b, uint64_t field, uint64_t v)
{
	size_t at = pb_key(b, field, 0);
	pb_varint(b, v);
	return at;
}

static size_t pb_int(pb *b, uint64_t field, int64_t v)
{
	return pb_uint(b, field, (uint64_t)v);
}

/* A LEN field; returns the payload's offset. */
static size_t pb_bytes(pb *b, uint64_t field, const void *data, size_t n)
{
	pb_key(b, field, 2);
	pb_varint(b, n);
	size_t at = b->n;
	pb_raw(b, data, n);
	return at;
}

static size_t pb_str(pb *b, uint64_t field, const char *s)
{
	return pb_bytes(b, field, s, strlen(s));
}

/* A sub-message; frees sub and returns its payload's offset in b. */
static size_t pb_msg(pb *b, uint64_t field, pb *sub)
{
	size_t at = pb_bytes(b, field, sub->d, sub->n);
	free(sub->d);
	*sub = (pb){0};
	return at;
}

/* A packed repeated field of n varints; returns the payload offset. */
static size_t pb_packed(pb *b, uint64_t field, const uint64_t *v, size_t n)
{
	pb tmp = {0};
	for (size_t i = 0; i < n; i++)
		pb_varint(&tmp, v[i]);
	return pb_msg(b, field, &tmp);
}

/* Strings as a string table (field 6). */
static void pb_strings(pb *b, const char *const *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		pb_str(b, 6, s[i]);
}

static void pb_free(pb *b)
{
	free(b->d);
	*b = (pb){0};
}

static bool contains(const void *hay, size_t hay_size, const void *needle, size_t size)
{
	for (size_t i = 0; i + size <= hay_size; i++)
		if (memcmp((const unsigned char *)hay + i, needle, size) == 0)
			return true;
	return false;
}

/* ------------------------------------------------------------- importing */

/* With PK_DUMP_SEEDS=folder, every input built here is saved there, to
 * seed tests/fuzz/corpus/fuzz_pprof. */
static void dump_seed(const char *kind, int number, const void *data, size_t size)
{
	const char *dir = getenv("PK_DUMP_SEEDS");
	if (dir == NULL || *dir == '\0')
		return;
	char path[4096];
	snprintf(path, sizeof path, "%s/%s-%d.pb", dir, kind, number);
	FILE *f = fopen(path, "wb");
	if (f == NULL)
		fail_msg("cannot write %s", path);
	fwrite(data, 1, size, f);
	fclose(f);
}

static const pk_format *pprof(void)
{
	const pk_format *f = pk_format_by_name("pprof");
	assert_non_null(f);
	return f;
}

static int import_bytes(const void *data, size_t size, pk_profile **out, pk_error *err)
{
	pk_read_options ro = PK_READ_OPTIONS_INIT;
	ro.format = pprof();
	*out = NULL;
	int rc = pk_profile_read_buffer(data, size, &ro, out, NULL, err);
	if (rc < 0)
		assert_null(*out);
	return rc;
}

static pk_profile *import_ok(const pb *b)
{
	static int count;
	dump_seed("ok", ++count, b->d, b->n);
	pk_profile *p = NULL;
	pk_error err = PK_ERROR_INIT;
	int rc = import_bytes(b->d, b->n, &p, &err);
	if (rc != 0)
		fail_msg("import failed: %d at byte %lld: %s", rc, err.offset, err.message);
	assert_int_equal(pk_profile_validate(p, NULL), 0);
	return p;
}

/* The import fails with PK_EFORMAT at exactly `offset`, with a message
 * containing `text`. Frees b. */
#define expect_error(b, offset, text) expect_error_at(b, offset, text, __LINE__)
static void expect_error_at(pb *b, long long offset, const char *text, int line)
{
	dump_seed("error", line, b->d, b->n);
	pk_profile *p = NULL;
	pk_error err = PK_ERROR_INIT;
	int rc = import_bytes(b->d, b->n, &p, &err);
	if (rc != PK_EFORMAT || err.code != PK_EFORMAT || err.offset != offset ||
	    strstr(err.message, text) == NULL)
		fail_msg("line %d: want PK_EFORMAT at byte %lld with \"%s\"; got %d (%d) at byte "
		         "%lld: %s",
		         line, offset, text, rc, err.code, err.offset, err.message);
	assert_string_equal(err.format, "pprof");
	assert_string_equal(err.source, "<buffer>");
	assert_int_equal(err.line, 0);
	assert_null(strchr(err.message, '\n'));
	pb_free(b);
}

static void *export(const pk_profile *p, int compress, size_t *size)
{
	pk_write_options wo = PK_WRITE_OPTIONS_INIT;
	wo.format = pprof();
	wo.compress = compress;
	void *out = NULL;
	pk_error err = PK_ERROR_INIT;
	int rc = pk_profile_write_buffer(p, &wo, &out, size, &err);
	if (rc != 0)
		fail_msg("export failed: %s", err.message);
	assert_non_null(out);
	return out;
}

static const char *str(const pk_profile *p, pk_str s)
{
	const char *c = pk_profile_string(p, s);
	assert_non_null(c);
	return c;
}

/* The bytes of /work/shared/spec/pprof.md section 5, verified there with
 * go tool pprof. */
static const unsigned char mini_pb[] = {
    0x0a, 0x04, 0x08, 0x01, 0x10, 0x02,                               /* sample_type */
    0x12, 0x06, 0x08, 0x02, 0x08, 0x01, 0x10, 0x05,                   /* sample, unpacked */
    0x12, 0x0f, 0x0a, 0x01, 0x01, 0x12, 0x0a, 0xfd, 0xff, 0xff, 0xff, /* sample, packed */
    0xff, 0xff, 0xff, 0xff, 0xff, 0x01,                               /* -3 */
    0x22, 0x08, 0x08, 0x01, 0x22, 0x04, 0x08, 0x01, 0x10, 0x0a,       /* location 1 */
    0x22, 0x08, 0x08, 0x02, 0x22, 0x04, 0x08, 0x02, 0x10, 0x03,       /* location 2 */
    0x2a, 0x08, 0x08, 0x01, 0x10, 0x03, 0x18, 0x03, 0x20, 0x04,       /* function 1 */
    0x2a, 0x08, 0x08, 0x02, 0x10, 0x05, 0x18, 0x05, 0x20, 0x04,       /* function 2 */
    0x32, 0x00, 0x32, 0x07, 's',  'a',  'm',  'p',  'l',  'e',  's',  /* strings */
    0x32, 0x05, 'c',  'o',  'u',  'n',  't',  0x32, 0x04, 'm',  'a',  'i', 'n', 0x32,
    0x06, 'm',  'a',  'i',  'n',  '.',  'c',  0x32, 0x04, 'l',  'e',  'a', 'f'};

/* Checks the model mini.pb gives. */
static void assert_mini_model(const pk_profile *p)
{
	assert_int_equal(pk_profile_sample_type_count(p), 1);
	assert_string_equal(str(p, pk_profile_sample_type(p, 0).type), "samples");
	assert_string_equal(str(p, pk_profile_sample_type(p, 0).unit), "count");
	assert_int_equal(pk_profile_default_sample_type(p), 0);
	assert_int_equal(pk_profile_period(p), 0);
	assert_int_equal(pk_profile_time_nanos(p), 0);
	assert_int_equal(pk_profile_mapping_count(p), 0);

	assert_int_equal(pk_profile_function_count(p), 2);
	const pk_function *f0 = pk_profile_function(p, 0), *f1 = pk_profile_function(p, 1);
	assert_true(f0->id == 1);
	assert_string_equal(str(p, f0->name), "main");
	assert_string_equal(str(p, f0->system_name), "main");
	assert_string_equal(str(p, f0->filename), "main.c");
	assert_int_equal(f0->start_line, 0);
	assert_true(f1->id == 2);
	assert_string_equal(str(p, f1->name), "leaf");
	assert_string_equal(str(p, f1->system_name), "leaf");
	assert_string_equal(str(p, f1->filename), "main.c");

	assert_int_equal(pk_profile_location_count(p), 2);
	const pk_line *lines;
	for (size_t i = 0; i < 2; i++) {
		const pk_location *loc = pk_profile_location(p, i);
		assert_true(loc->id == i + 1);
		assert_int_equal(loc->mapping, PK_NONE);
		assert_true(loc->address == 0);
		assert_int_equal(pk_profile_location_lines(p, i, &lines), 1);
		assert_int_equal(lines[0].function, i);
		assert_int_equal(lines[0].line, i == 0 ? 10 : 3);
		assert_int_equal(lines[0].column, 0);
	}

	assert_int_equal(pk_profile_sample_count(p), 2);
	assert_int_equal(pk_profile_stack_count(p), 2);
	pk_sample s;
	assert_int_equal(pk_profile_sample(p, 0, &s), 0);
	assert_int_equal(s.depth, 2);
	assert_int_equal(s.locations[0], 1); /* location id 2, the leaf */
	assert_int_equal(s.locations[1], 0);
	assert_int_equal(s.value_count, 1);
	assert_int_equal(s.values[0], 5);
	assert_int_equal(s.label_count, 0);
	assert_int_equal(pk_profile_sample(p, 1, &s), 0);
	assert_int_equal(s.depth, 1);
	assert_int_equal(s.locations[0], 0);
	assert_int_equal(s.values[0], -3);
}

static void test_mini_pb(void **state)
{
	(void)state;
	pb b = {0};
	pb_raw(&b, mini_pb, sizeof mini_pb);
	pk_profile *p = import_ok(&b);
	assert_mini_model(p);
	assert_int_equal(pk_profile_string_count(p), 6);

	/* Detected without the format forced, and the same gzipped. */
	const pk_format *f = NULL;
	pk_profile *q = NULL;
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(pk_profile_read_buffer(mini_pb, sizeof mini_pb, NULL, &q, &f, &err), 0);
	assert_ptr_equal(f, pprof());
	assert_profiles_equal(p, q);
	pk_profile_free(q);
	assert_ptr_equal(pk_format_detect(mini_pb, sizeof mini_pb), pprof());

	/* Our writer packs every repeated field, so its bytes differ, but
	 * they mean the same, and -3 is still a 10-byte varint. */
	pk_write_options wo = PK_WRITE_OPTIONS_INIT;
	wo.format = pprof();
	wo.compress = PK_COMPRESS_NONE;
	void *out = NULL;
	size_t size = 0;
	assert_int_equal(pk_profile_write_buffer(p, &wo, &out, &size, &err), 0);
	static const unsigned char minus3[] = {0x12, 0x0a, 0xfd, 0xff, 0xff, 0xff,
	                                       0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
	assert_true(contains(out, size, minus3, sizeof minus3));
	assert_int_equal(import_bytes(out, size, &q, &err), 0);
	assert_mini_model(q);
	pk_profile_free(q);
	pk_free(out);

	wo.compress = PK_COMPRESS_GZIP;
	assert_int_equal(pk_profile_write_buffer(p, &wo, &out, &size, &err), 0);
	assert_int_equal(import_bytes(out, size, &q, &err), 0);
	assert_mini_model(q);
	pk_profile_free(q);
	pk_free(out);
	pk_profile_free(p);
	pb_free(&b);
}

/* ------------------------------------------------------- a small builder */

/* Pieces of a valid profile, to be written in any order or broken one at a
 * time. Strings: 0 "", 1 samples, 2 count, 3 f, 4 file.c, 5 g. */
static const char *const small_strings[] = {"", "samples", "count", "f", "file.c", "g"};

static void small_sample_type(pb *b)
{
	pb m = {0};
	pb_uint(&m, 1, 1);
	pb_uint(&m, 2, 2);
	pb_msg(b, 1, &m);
}

static void small_function(pb *b, uint64_t id, uint64_t name)
{
	pb m = {0};
	pb_uint(&m, 1, id);
	pb_uint(&m, 2, name);
	pb_uint(&m, 4, 4);
	pb_msg(b, 5, &m);
}

static void small_location(pb *b, uint64_t id, uint64_t function_id, int64_t line)
{
	pb l = {0}, m = {0};
	pb_uint(&l, 1, function_id);
	pb_int(&l, 2, line);
	pb_uint(&m, 1, id);
	pb_msg(&m, 4, &l);
	pb_msg(b, 4, &m);
}

static void small_sample(pb *b, uint64_t location_id, int64_t value)
{
	pb m = {0};
	pb_uint(&m, 1, location_id);
	pb_int(&m, 2, value);
	pb_msg(b, 2, &m);
}

/* A whole valid profile: one function, one location, one sample. */
static void small_profile(pb *b)
{
	small_sample_type(b);
	small_function(b, 1, 3);
	small_location(b, 1, 1, 7);
	small_sample(b, 1, 42);
	pb_strings(b, small_strings, 6);
}

static void test_small_profile(void **state)
{
	(void)state;
	pb b = {0};
	small_profile(&b);
	pk_profile *p = import_ok(&b);
	assert_int_equal(pk_profile_sample_count(p), 1);
	pk_sample s;
	assert_int_equal(pk_profile_sample(p, 0, &s), 0);
	assert_int_equal(s.values[0], 42);
	assert_string_equal(str(p, pk_profile_function(p, 0)->name), "f");
	pk_profile_free(p);
	pb_free(&b);

	/* only a string table: an empty profile */
	pb_strings(&b, small_strings, 1);
	p = import_ok(&b);
	assert_int_equal(pk_profile_string_count(p), 1);
	assert_int_equal(pk_profile_sample_count(p), 0);
	pk_profile_free(p);
	pb_free(&b);
}

/* ----------------------------------------------------------------- order */

static void test_any_order(void **state)
{
	(void)state;
	pb ref = {0};
	small_profile(&ref);
	pk_profile *want = import_ok(&ref);
	pb_free(&ref);

	/* string table first, then samples, locations, functions, sample types */
	pb b = {0};
	pb_strings(&b, small_strings, 6);
	small_sample(&b, 1, 42);
	small_location(&b, 1, 1, 7);
	small_function(&b, 1, 3);
	small_sample_type(&b);
	pk_profile *p = import_ok(&b);
	assert_profiles_equal(want, p);
	pk_profile_free(p);
	pb_free(&b);

	/* interleaved as the Go runtime writes: the sample first, each
	 * location and function as discovered, strings last, and inside
	 * messages, value before location_id and mapping_id after line */
	pb m = {0}, l = {0};
	small_sample_type(&b);
	pb_int(&m, 2, 42);
	pb_uint(&m, 1, 1);
	pb_msg(&b, 2, &m);
	pb_uint(&l, 2, 7);
	pb_uint(&l, 1, 1);
	pb_msg(&m, 4, &l);
	pb_uint(&m, 1, 1);
	pb_msg(&b, 4, &m);
	pb_uint(&m, 4, 4);
	pb_uint(&m, 2, 3);
	pb_uint(&m, 1, 1);
	pb_msg(&b, 5, &m);
	pb_str(&b, 6, "");
	pb_str(&b, 6, "samples");
	pb_str(&b, 6, "count");
	pb_uint(&b, 9, 1234); /* header fields between the strings */
	pb_str(&b, 6, "f");
	pb_str(&b, 6, "file.c");
	pb_str(&b, 6, "g");
	p = import_ok(&b);
	assert_int_equal(pk_profile_time_nanos(p), 1234);
	pk_profile_set_time_nanos(p, 0);
	assert_profiles_equal(want, p);
	pk_profile_free(p);
	pb_free(&b);

	/* messages between the strings, which are read again from the
	 * first once counted: in order, the others passed over */
	small_sample_type(&b);
	pb_strings(&b, small_strings, 3);
	small_function(&b, 1, 3);
	small_sample(&b, 1, 42);
	pb_str(&b, 6, "f");
	small_location(&b, 1, 1, 7);
	pb_strings(&b, small_strings + 4, 2);
	p = import_ok(&b);
	assert_profiles_equal(want, p);
	pk_profile_free(p);
	pb_free(&b);

	/* mappings after the locations that use them; header scalars first */
	pb_uint(&b, 12, 100);
	pb_uint(&b, 14, 1);
	small_sample_type(&b);
	pb_uint(&l, 1, 1);
	pb_msg(&m, 4, &l);
	pb_uint(&m, 2, 9); /* mapping_id */
	pb_uint(&m, 1, 5);
	pb_uint(&m, 3, 0x1234);
	pb_msg(&b, 4, &m);
	small_function(&b, 1, 3);
	pb_uint(&m, 1, 9);
	pb_uint(&m, 5, 4);
	pb_msg(&b, 3, &m);
	pb_strings(&b, small_strings, 6);
	p = import_ok(&b);
	assert_int_equal(pk_profile_period(p), 100);
	assert_string_equal(str(p, pk_profile_default_sample_type(p)), "samples");
	assert_int_equal(pk_profile_location(p, 0)->mapping, 0);
	assert_true(pk_profile_location(p, 0)->id == 5);
	assert_true(pk_profile_mapping(p, 0)->id == 9);
	assert_string_equal(str(p, pk_profile_mapping(p, 0)->filename), "file.c");
	pk_profile_free(p);
	pb_free(&b);

	/* samples in several runs, with other fields between them (the
	 * walks before the samples' jump over the first run only) */
	small_sample(&b, 1, 42);
	small_sample(&b, 1, 43);
	small_location(&b, 1, 1, 7);
	small_sample(&b, 1, 5);
	pb_uint(&b, 12, 100);
	small_function(&b, 1, 3);
	small_sample(&b, 1, 6);
	small_sample_type(&b);
	pb_strings(&b, small_strings, 6);
	p = import_ok(&b);
	assert_int_equal(pk_profile_period(p), 100);
	assert_int_equal(pk_profile_sample_count(p), 4);
	int64_t values[] = {42, 43, 5, 6};
	for (size_t i = 0; i < 4; i++) {
		pk_sample s;
		assert_int_equal(pk_profile_sample(p, i, &s), 0);
		assert_true(s.values[0] == values[i]);
		assert_int_equal(s.depth, 1);
	}
	pk_profile_free(p);
	pb_free(&b);
	pk_profile_free(want);
}

/* --------------------------------------------------- packed and unpacked */

static void test_packed_and_unpacked(void **state)
{
	(void)state;
	pb b = {0}, m = {0};
	/* two sample types: samples/count twice is fine */
	small_sample_type(&b);
	small_sample_type(&b);
	for (uint64_t id = 1; id <= 4; id++)
		small_location(&b, id, 1, (int64_t)id);
	small_function(&b, 1, 3);
	/* location_id: 2, then packed [1, 3], then 4; values: 5 then packed [-3] */
	pb_uint(&m, 1, 2);
	pb_int(&m, 2, 5);
	pb_packed(&m, 1, (uint64_t[]){1, 3}, 2);
	pb_packed(&m, 2, (uint64_t[]){(uint64_t)-3}, 1);
	pb_uint(&m, 1, 4);
	pb_msg(&b, 2, &m);
	/* an empty packed field adds nothing */
	pb_packed(&m, 1, NULL, 0);
	pb_packed(&m, 2, (uint64_t[]){7, 8}, 2);
	pb_packed(&m, 1, NULL, 0);
	pb_msg(&b, 2, &m);
	/* comments: unpacked, packed, unpacked */
	pb_uint(&b, 13, 5);
	pb_packed(&b, 13, (uint64_t[]){3, 4}, 2);
	pb_uint(&b, 13, 1);
	pb_strings(&b, small_strings, 6);
	pk_profile *p = import_ok(&b);

	pk_sample s;
	assert_int_equal(pk_profile_sample(p, 0, &s), 0);
	assert_int_equal(s.depth, 4);
	static const uint64_t want_ids[] = {2, 1, 3, 4};
	for (size_t i = 0; i < 4; i++)
		assert_true(pk_profile_location(p, s.locations[i])->id == want_ids[i]);
	assert_int_equal(s.value_count, 2);
	assert_int_equal(s.values[0], 5);
	assert_int_equal(s.values[1], -3);
	assert_int_equal(pk_profile_sample(p, 1, &s), 0);
	assert_int_equal(s.depth, 0);
	assert_int_equal(s.values[0], 7);
	assert_int_equal(s.values[1], 8);

	assert_int_equal(pk_profile_comment_count(p), 4);
	assert_string_equal(str(p, pk_profile_comment(p, 0)), "g");
	assert_string_equal(str(p, pk_profile_comment(p, 1)), "f");
	assert_string_equal(str(p, pk_profile_comment(p, 2)), "file.c");
	assert_string_equal(str(p, pk_profile_comment(p, 3)), "samples");
	pk_profile_free(p);
	pb_free(&b);
}

/* A stack decoded into the pool's tail survives the pool growing in the
 * middle of it, with the C library's realloc and with a user's allocator
 * (which has none, so the library copies): 40 unpacked ids, then a packed
 * run, make the pool grow several times within one sample. */
static void *plain_malloc(size_t size)
{
	return malloc(size);
}

static void plain_free(void *ptr)
{
	free(ptr);
}

static void test_stack_grows_mid_sample(void **state)
{
	(void)state;
	for (int user_allocator = 0; user_allocator < 2; user_allocator++) {
		pb b = {0}, m = {0};
		small_sample_type(&b);
		for (uint64_t id = 1; id <= 100; id++)
			small_location(&b, id, 1, (int64_t)id);
		small_function(&b, 1, 3);
		uint64_t ids[100];
		for (uint64_t i = 0; i < 40; i++)
			pb_uint(&m, 1, ids[i] = 1 + (i * 7) % 100);
		for (uint64_t i = 40; i < 100; i++)
			ids[i] = 100 - i + 40;
		pb_packed(&m, 1, ids + 40, 60);
		pb_int(&m, 2, 1);
		pb_msg(&b, 2, &m);
		/* the same stack again, all packed: it must be found */
		pb_packed(&m, 1, ids, 100);
		pb_int(&m, 2, 2);
		pb_msg(&b, 2, &m);
		pb_strings(&b, small_strings, 6);
		if (user_allocator)
			pk_set_allocator(plain_malloc, plain_free);
		pk_profile *p = import_ok(&b);
		pk_set_allocator(NULL, NULL);
		assert_int_equal(pk_profile_stack_count(p), 1);
		pk_sample s;
		for (size_t k = 0; k < 2; k++) {
			assert_int_equal(pk_profile_sample(p, k, &s), 0);
			assert_int_equal(s.depth, 100);
			for (size_t i = 0; i < 100; i++)
				assert_true(pk_profile_location(p, s.locations[i])->id == ids[i]);
		}
		pk_profile_free(p);
		pb_free(&b);
	}
}

/* ------------------------------------------------------- unknown fields */

/* Unknown fields of every legal wire type, in a message. */
static void pb_unknown_fields(pb *b, uint64_t base)
{
	pb_uint(b, base, 12345);
	pb_key(b, base + 1, 1);
	pb_raw(b, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	pb_str(b, base + 2, "skipped");
	pb_key(b, base + 3, 5);
	pb_raw(b, "\x01\x02\x03\x04", 4);
	pb_packed(b, base + 4, (uint64_t[]){1, 2, 3}, 3);
}

static void test_unknown_fields_skipped(void **state)
{
	(void)state;
	pb ref = {0};
	small_profile(&ref);
	pk_profile *want = import_ok(&ref);
	pb_free(&ref);

	pb b = {0}, m = {0}, l = {0};
	pb_unknown_fields(&b, 16);
	pb_uint(&m, 1, 1);
	pb_unknown_fields(&m, 3);
	pb_uint(&m, 2, 2);
	pb_msg(&b, 1, &m);
	pb_unknown_fields(&m, 6);
	pb_uint(&m, 1, 1);
	pb_uint(&m, 2, 3);
	pb_uint(&m, 4, 4);
	pb_msg(&b, 5, &m);
	pb_uint(&l, 1, 1);
	pb_unknown_fields(&l, 4);
	pb_uint(&l, 2, 7);
	pb_uint(&m, 1, 1);
	pb_unknown_fields(&m, 6);
	pb_msg(&m, 4, &l);
	pb_msg(&b, 4, &m);
	pb_unknown_fields(&b, 100);
	pb_uint(&m, 1, 1);
	pb_unknown_fields(&m, 4);
	pb_uint(&m, 2, 42);
	pb_msg(&b, 2, &m);
	pb_strings(&b, small_strings, 6);
	pb_unknown_fields(&b, 1000000);
	pk_profile *p = import_ok(&b);
	assert_profiles_equal(want, p);
	pk_profile_free(p);
	pb_free(&b);

	/* unknown fields in a mapping, a label, and a period_type */
	small_sample_type(&b);
	pb_uint(&m, 1, 3);
	pb_unknown_fields(&m, 11);
	pb_uint(&m, 5, 4);
	pb_msg(&b, 3, &m);
	pb_uint(&m, 2, 1);
	pb_unknown_fields(&m, 5);
	pb_uint(&m, 1, 3);
	pb_msg(&l, 3, &m);
	pb_int(&l, 2, 1);
	pb_msg(&b, 2, &l);
	pb_uint(&m, 1, 1);
	pb_unknown_fields(&m, 3);
	pb_msg(&b, 11, &m);
	pb_strings(&b, small_strings, 6);
	p = import_ok(&b);
	assert_string_equal(str(p, pk_profile_mapping(p, 0)->filename), "file.c");
	assert_string_equal(str(p, pk_profile_period_type(p).type), "samples");
	pk_sample s;
	assert_int_equal(pk_profile_sample(p, 0, &s), 0);
	assert_int_equal(s.label_count, 1);
	assert_string_equal(str(p, pk_profile_label(p, s.labels[0]).key), "f");
	assert_string_equal(str(p, pk_profile_label(p, s.labels[0]).str), "samples");
	pk_profile_free(p);
	pb_free(&b);
	pk_profile_free(want);
}

/* --------------------------------------------------- every field is read */

static void test_all_fields(void **state)
{
	(void)state;
	static const char *const s[] = {
	    "",          "alloc_space", "bytes",    "space",   "drop.*", "keep.*",
	    "comment 1", "https://d/",  "/bin/app", "build-1", "main",   "_main",
	    "main.c",    "role",        "producer", "size",    "extra"};
	pb b = {0}, m = {0}, l = {0};
	pb_uint(&m, 1, 1);
	pb_uint(&m, 2, 2);
	pb_msg(&b, 1, &m);
	/* mapping with every field */
	pb_uint(&m, 1, 3);
	pb_uint(&m, 2, 0x400000);
	pb_uint(&m, 3, 0x500000);
	pb_uint(&m, 4, 0x1000);
	pb_uint(&m, 5, 8);
	pb_uint(&m, 6, 9);
	for (uint64_t f = 7; f <= 10; f++)
		pb_uint(&m, f, 1);
	pb_msg(&b, 3, &m);
	/* function with every field */
	pb_uint(&m, 1, 0xffffffffffULL);
	pb_uint(&m, 2, 10);
	pb_uint(&m, 3, 11);
	pb_uint(&m, 4, 12);
	pb_int(&m, 5, 40);
	pb_msg(&b, 5, &m);
	/* location with every field, two lines with columns */
	pb_uint(&l, 1, 0xffffffffffULL);
	pb_int(&l, 2, 42);
	pb_int(&l, 3, 17);
	pb_msg(&m, 4, &l);
	pb_uint(&l, 1, 0xffffffffffULL);
	pb_int(&l, 2, -1);
	pb_msg(&m, 4, &l);
	pb_uint(&m, 1, 77);
	pb_uint(&m, 2, 3);
	pb_uint(&m, 3, 0x401234);
	pb_uint(&m, 5, 1);
	pb_msg(&b, 4, &m);
	/* a location whose mapping id is unknown: no mapping, as in pprof */
	pb_uint(&m, 1, 78);
	pb_uint(&m, 2, 99);
	pb_msg(&b, 4, &m);
	/* a sample with a string and a numeric label */
	pb_uint(&m, 1, 77);
	pb_uint(&m, 1, 78);
	pb_int(&m, 2, INT64_MIN);
	pb_uint(&l, 1, 13);
	pb_uint(&l, 2, 14);
	pb_msg(&m, 3, &l);
	pb_uint(&l, 1, 15);
	pb_int(&l, 3, -4096);
	pb_uint(&l, 4, 2);
	pb_msg(&m, 3, &l);
	pb_msg(&b, 2, &m);
	/* the header */
	pb_uint(&b, 7, 4);
	pb_uint(&b, 8, 5);
	pb_int(&b, 9, -5);
	pb_int(&b, 10, 2000000000);
	pb_uint(&m, 1, 3);
	pb_uint(&m, 2, 2);
	pb_msg(&b, 11, &m);
	pb_int(&b, 12, 524288);
	pb_uint(&b, 13, 6);
	pb_uint(&b, 14, 1);
	pb_uint(&b, 15, 7);
	pb_strings(&b, s, sizeof s / sizeof s[0]);
	pk_profile *p = import_ok(&b);

	assert_string_equal(str(p, pk_profile_sample_type(p, 0).type), "alloc_space");
	assert_string_equal(str(p, pk_profile_sample_type(p, 0).unit), "bytes");
	assert_string_equal(str(p, pk_profile_drop_frames(p)), "drop.*");
	assert_string_equal(str(p, pk_profile_keep_frames(p)), "keep.*");
	assert_int_equal(pk_profile_time_nanos(p), -5);
	assert_int_equal(pk_profile_duration_nanos(p), 2000000000);
	assert_string_equal(str(p, pk_profile_period_type(p).type), "space");
	assert_string_equal(str(p, pk_profile_period_type(p).unit), "bytes");
	assert_int_equal(pk_profile_period(p), 524288);
	assert_int_equal(pk_profile_comment_count(p), 1);
	assert_string_equal(str(p, pk_profile_comment(p, 0)), "comment 1");
	assert_string_equal(str(p, pk_profile_default_sample_type(p)), "alloc_space");
	assert_string_equal(str(p, pk_profile_doc_url(p)), "https://d/");

	const pk_mapping *mp = pk_profile_mapping(p, 0);
	assert_true(mp->id == 3);
	assert_true(mp->memory_start == 0x400000);
	assert_true(mp->memory_limit == 0x500000);
	assert_true(mp->file_offset == 0x1000);
	assert_string_equal(str(p, mp->filename), "/bin/app");
	assert_string_equal(str(p, mp->build_id), "build-1");
	assert_true(mp->has_functions && mp->has_filenames && mp->has_line_numbers &&
	            mp->has_inline_frames);

	const pk_function *fn = pk_profile_function(p, 0);
	assert_true(fn->id == 0xffffffffffULL);
	assert_string_equal(str(p, fn->name), "main");
	assert_string_equal(str(p, fn->system_name), "_main");
	assert_string_equal(str(p, fn->filename), "main.c");
	assert_int_equal(fn->start_line, 40);

	const pk_location *loc = pk_profile_location(p, 0);
	assert_true(loc->id == 77);
	assert_int_equal(loc->mapping, 0);
	assert_true(loc->address == 0x401234);
	assert_int_equal(loc->is_folded, 1);
	const pk_line *lines;
	assert_int_equal(pk_profile_location_lines(p, 0, &lines), 2);
	assert_int_equal(lines[0].function, 0);
	assert_int_equal(lines[0].line, 42);
	assert_int_equal(lines[0].column, 17);
	assert_int_equal(lines[1].line, -1);
	assert_int_equal(lines[1].column, 0);
	assert_int_equal(pk_profile_location(p, 1)->mapping, PK_NONE);

	pk_sample smp;
	assert_int_equal(pk_profile_sample(p, 0, &smp), 0);
	assert_int_equal(smp.depth, 2);
	assert_true(smp.values[0] == INT64_MIN);
	assert_int_equal(smp.label_count, 2);
	assert_string_equal(str(p, pk_profile_label(p, smp.labels[0]).key), "role");
	assert_string_equal(str(p, pk_profile_label(p, smp.labels[0]).str), "producer");
	assert_string_equal(str(p, pk_profile_label(p, smp.labels[1]).key), "size");
	assert_int_equal(pk_profile_label(p, smp.labels[1]).str, 0);
	assert_int_equal(pk_profile_label(p, smp.labels[1]).num, -4096);
	assert_string_equal(str(p, pk_profile_label(p, smp.labels[1]).num_unit), "bytes");

	/* and everything survives a round trip */
	pk_write_options wo = PK_WRITE_OPTIONS_INIT;
	wo.format = pprof();
	void *out;
	size_t size;
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(pk_profile_write_buffer(p, &wo, &out, &size, &err), 0);
	pk_profile *q = NULL;
	assert_int_equal(import_bytes(out, size, &q, &err), 0);
	/* the unknown mapping id became "no mapping" and stays so */
	assert_profiles_equal(p, q);
	pk_profile_free(q);
	pk_free(out);
	pk_profile_free(p);
	pb_free(&b);
}

/* ---------------------------------------------------------------- errors */

static void test_error_string_index(void **state)
{
	(void)state;
	pb b = {0}, m = {0}, l = {0};
	size_t at, inner;

	/* in a function name */
	small_sample_type(&b);
	pb_uint(&m, 1, 1);
	inner = pb_uint(&m, 2, 6);
	at = pb_msg(&b, 5, &m);
	pb_strings(&b, small_strings, 6);
	expect_error(&b, (long long)(at + inner),
	             "string index 6 is out of range: the string table has 6 strings");

	/* in a sample type */
	pb_uint(&m, 1, 1);
	inner = pb_uint(&m, 2, 1000);
	at = pb_msg(&b, 1, &m);
	pb_strings(&b, small_strings, 6);
	expect_error(&b, (long long)(at + inner), "string index 1000 is out of range");

	/* a negative index, shown as the int64 the field is */
	pb_uint(&m, 1, 1);
	inner = pb_int(&m, 5, -1);
	at = pb_msg(&b, 3, &m);
	pb_strings(&b, small_strings, 6);
	expect_error(&b, (long long)(at + inner),
	             "string index -1 is out of range: the string table has 6 strings");
	pb_strings(&b, small_strings, 6);
	at = pb_int(&b, 7, INT64_MIN);
	expect_error(&b, (long long)at, "string index -9223372036854775808 is out of range");

	/* in a header field */
	pb_strings(&b, small_strings, 6);
	at = pb_uint(&b, 8, 6);
	expect_error(&b, (long long)at, "string index 6 is out of range");

	/* in a packed comment: the offset of the element */
	pb_strings(&b, small_strings, 6);
	at = pb_packed(&b, 13, (uint64_t[]){1, 2, 300}, 3);
	expect_error(&b, (long long)at + 2, "string index 300 is out of range");

	/* in a label */
	small_sample_type(&b);
	pb_uint(&l, 1, 1);
	inner = pb_uint(&l, 4, 7);
	pb_int(&m, 2, 1);
	size_t label_at = pb_msg(&m, 3, &l);
	at = pb_msg(&b, 2, &m);
	pb_strings(&b, small_strings, 6);
	expect_error(&b, (long long)(at + label_at + inner), "string index 7 is out of range");
}

static void test_error_missing_ids(void **state)
{
	(void)state;
	pb b = {0}, m = {0}, l = {0};
	size_t at, inner;

	/* a sample refers to a missing location, unpacked */
	small_sample_type(&b);
	small_function(&b, 1, 3);
	small_location(&b, 1, 1, 7);
	pb_int(&m, 2, 1);
	pb_uint(&m, 1, 1);
	inner = pb_uint(&m, 1, 2);
	at = pb_msg(&b, 2, &m);
	pb_strings(&b, small_strings, 6);
	expect_error(&b, (long long)(at + inner),
	             "a sample refers to location id 2, which no location has");

	/* ... and packed: the offset of the element */
	small_sample_type(&b);
	small_function(&b, 1, 3);
	small_location(&b, 1, 1, 7);
	pb_int(&m, 2, 1);
	inner = pb_packed(&m, 1, (uint64_t[]){1, 1, 200}, 3);
	at = pb_msg(&b, 2, &m);
	pb_strings(&b, small_strings, 6);
	expect_error(&b, (long long)(at + inner + 2), "location id 200, which no location");

	/* ... either of two ids read with one load: the offset of that one */
	const uint64_t pairs[][4] = {{1, 200, 1, 1}, {300, 1, 1, 1}, {1, 1, 1, 0}, {1, 1, 0, 1}};
	const size_t bad_at[] = {1, 0, 3, 2};
	const char *bad_id[] = {"location id 200,", "location id 300,", "location id 0,",
	                        "location id 0,"};
	for (size_t i = 0; i < 4; i++) {
		small_sample_type(&b);
		small_function(&b, 1, 3);
		small_location(&b, 1, 1, 7);
		pb_int(&m, 2, 1);
		inner = pb_packed(&m, 1, pairs[i], 4);
		at = pb_msg(&b, 2, &m);
		pb_strings(&b, small_strings, 6);
		expect_error(&b, (long long)(at + inner + bad_at[i]), bad_id[i]);
	}

	/* ... or any of three read with one load, of one to eight bytes */
	const uint64_t bad[] = {200, 0, 70000, 1ULL << 40};
	for (size_t k = 0; k < 6; k++) {
		for (size_t i = 0; i < 4; i++) {
			uint64_t ids[6] = {1, 1, 1, 1, 1, 1};
			char want[64];
			ids[k] = bad[i];
			snprintf(want, sizeof want, "location id %llu,",
			         (unsigned long long)bad[i]);
			small_sample_type(&b);
			small_function(&b, 1, 3);
			small_location(&b, 1, 1, 7);
			pb_int(&m, 2, 1);
			inner = pb_packed(&m, 1, ids, 6);
			at = pb_msg(&b, 2, &m);
			pb_strings(&b, small_strings, 6);
			expect_error(&b, (long long)(at + inner + k), want);
		}
	}

	/* ids of one to three bytes, mixed, read right three at a time */
	small_sample_type(&b);
	small_function(&b, 1, 3);
	small_location(&b, 200, 1, 7);
	small_location(&b, 1, 1, 8);
	small_location(&b, 70000, 1, 9);
	pb_int(&m, 2, 1);
	pb_packed(&m, 1, (uint64_t[]){200, 1, 70000, 70000, 1, 200, 1, 1, 70000}, 9);
	pb_msg(&b, 2, &m);
	pb_strings(&b, small_strings, 6);
	pk_profile *mixed = import_ok(&b);
	pb_free(&b);
	pk_sample smp;
	assert_int_equal(pk_profile_sample(mixed, 0, &smp), 0);
	assert_int_equal(smp.depth, 9);
	const uint32_t want_locs[] = {0, 1, 2, 2, 1, 0, 1, 1, 2};
	for (size_t i = 0; i < 9; i++)
		assert_int_equal(smp.locations[i], want_locs[i]);
	pk_profile_free(mixed);

	/* location id 0 in a sample */
	small_sample_type(&b);
	inner = pb_uint(&m, 1, 0);
	pb_int(&m, 2, 1);
	at = pb_msg(&b, 2, &m);
	pb_strings(&b, small_strings, 6);
	expect_error(&b, (long long)(at + inner), "location id 0, which no location has");

	/* a line refers to a missing function */
	small_sample_type(&b);
	small_function(&b, 1, 3);
	pb_int(&l, 2, 3);
	inner = pb_uint(&l, 1, 9);
	pb_uint(&m, 1, 1);
	size_t line_at = pb_msg(&m, 4, &l);
	at = pb_msg(&b, 4, &m);
	pb_strings(&b, small_strings, 6);
	expect_error(&b, (long long)(at + line_at + inner),
	             "a line refers to function id 9, which no function has");

	/* a line without a function id: the offset of the line */
	small_sample_type(&b);
	pb_int(&l, 2, 3);
	pb_uint(&m, 1, 1);
	line_at = pb_msg(&m, 4, &l);
	at = pb_msg(&b, 4, &m);
	pb_strings(&b, small_strings, 6);
	/* the key and length of the line come 2 bytes before its payload */
	expect_error(&b, (long long)(at + line_at - 2),
	             "a line refers to function id 0, which no function has");

	/* a location's unknown mapping id is no error (pprof agrees) */
	small_sample_type(&b);
	pb_uint(&m, 1, 1);
	pb_uint(&m, 2, 12);
	pb_msg(&b, 4, &m);
	pb_strings(&b, small_strings, 6);
	pk_profile *p = import_ok(&b);
	assert_int_equal(pk_profile_location(p, 0)->mapping, PK_NONE);
	pk_profile_free(p);
	pb_free(&b);
}

/* Locations and functions as writers put them are read by a quick loop
 * over their bytes; any other form (here: an unknown field at the end)
 * goes to the general reader. Both must make the same model, for every
 * field, in any order, repeated, and with varints too long for the loop. */
static void quick_objects(pb *b, bool general)
{
	pb m = {0}, l = {0};
	small_sample_type(b);
	small_sample(b, 1, 5);
	pb_uint(&m, 1, 1);
	pb_uint(&m, 2, 0x400000);
	pb_uint(&m, 3, 0x500000);
	pb_uint(&m, 5, 4);
	pb_msg(b, 3, &m);
	for (int k = 1; k <= 6; k++) {
		switch (k) {
		case 1: /* every field, two lines */
			pb_uint(&m, 1, 1);
			pb_uint(&m, 2, 1);
			pb_uint(&m, 3, 0x401000);
			pb_uint(&l, 1, 1);
			pb_int(&l, 2, 10);
			pb_int(&l, 3, 3);
			pb_msg(&m, 4, &l);
			pb_uint(&l, 1, 2);
			pb_int(&l, 2, 20);
			pb_msg(&m, 4, &l);
			pb_uint(&m, 5, 1);
			break;
		case 2: /* no lines, no mapping */
			pb_uint(&m, 1, 2);
			pb_uint(&m, 3, 0x402000);
			break;
		case 3: /* fields in reverse order */
			pb_uint(&l, 1, 2);
			pb_msg(&m, 4, &l);
			pb_uint(&m, 3, 0x403000);
			pb_uint(&m, 1, 3);
			break;
		case 4: /* a field repeated: the last wins; an unknown mapping */
			pb_uint(&m, 1, 4);
			pb_uint(&m, 3, 5);
			pb_uint(&m, 3, 6);
			pb_uint(&m, 2, 9);
			break;
		case 5: /* varints of 9 and 10 bytes */
			pb_uint(&m, 1, 5);
			pb_uint(&m, 3, (uint64_t)1 << 60);
			pb_int(&l, 2, -1);
			pb_uint(&l, 1, 1);
			pb_msg(&m, 4, &l);
			break;
		default: /* a line's fields swapped */
			pb_uint(&m, 1, 6);
			pb_int(&l, 2, 7);
			pb_uint(&l, 1, 3);
			pb_msg(&m, 4, &l);
			break;
		}
		if (general)
			pb_uint(&m, 16, 1);
		pb_msg(b, 4, &m);
	}
	for (int k = 1; k <= 4; k++) {
		switch (k) {
		case 1:
			pb_uint(&m, 1, 1);
			pb_uint(&m, 2, 3);
			pb_uint(&m, 3, 5);
			pb_uint(&m, 4, 4);
			pb_int(&m, 5, 12);
			break;
		case 2:
			pb_uint(&m, 1, 2);
			pb_uint(&m, 2, 5);
			break;
		case 3: /* a start line of 10 bytes */
			pb_uint(&m, 1, 3);
			pb_int(&m, 5, -5);
			pb_uint(&m, 2, 3);
			break;
		default:
			pb_uint(&m, 4, 4);
			pb_uint(&m, 2, 3);
			pb_uint(&m, 1, 4);
			break;
		}
		if (general)
			pb_uint(&m, 16, 1);
		pb_msg(b, 5, &m);
	}
	pb_strings(b, small_strings, 6);
}

static void test_quick_objects(void **state)
{
	(void)state;
	pb b = {0};
	quick_objects(&b, false);
	pk_profile *quick = import_ok(&b);
	pb_free(&b);
	quick_objects(&b, true);
	pk_profile *general = import_ok(&b);
	pb_free(&b);
	assert_profiles_equal(quick, general);
	const pk_line *lines;
	assert_int_equal(pk_profile_location_lines(quick, 0, &lines), 2);
	assert_int_equal(lines[0].column, 3);
	assert_int_equal(lines[1].line, 20);
	assert_true(pk_profile_location(quick, 0)->is_folded);
	assert_int_equal(pk_profile_location(quick, 3)->address, 6);
	assert_int_equal(pk_profile_location(quick, 3)->mapping, PK_NONE);
	assert_true(pk_profile_location(quick, 4)->address == (uint64_t)1 << 60);
	assert_int_equal(pk_profile_location_lines(quick, 5, &lines), 1);
	assert_int_equal(lines[0].line, 7);
	assert_int_equal(lines[0].function, 2);
	assert_int_equal(pk_profile_function(quick, 2)->start_line, -5);
	pk_profile_free(quick);
	pk_profile_free(general);
}

static void test_error_bad_ids(void **state)
{
	(void)state;
	pb b = {0}, m = {0};
	size_t at;

	/* duplicate location id: reported at the second one */
	small_sample_type(&b);
	small_function(&b, 1, 3);
	small_location(&b, 1, 1, 7);
	small_location(&b, 2, 1, 8);
	at = b.n;
	small_location(&b, 1, 1, 9);
	pb_strings(&b, small_strings, 6);
	expect_error(&b, (long long)at, "two locations have the id 1");

	/* location id 0 (absent) */
	small_sample_type(&b);
	at = b.n;
	pb_uint(&m, 3, 0x1000);
	pb_msg(&b, 4, &m);
	pb_strings(&b, small_strings, 6);
	expect_error(&b, (long long)at, "a location has the id 0, which is reserved");

	/* location id 0 (explicit) */
	at = b.n;
	pb_uint(&m, 1, 0);
	pb_msg(&b, 4, &m);
	pb_strings(&b, small_strings, 6);
	expect_error(&b, (long long)at, "a location has the id 0, which is reserved");

	/* duplicate and zero function ids */
	small_function(&b, 5, 3);
	at = b.n;
	small_function(&b, 5, 5);
	pb_strings(&b, small_strings, 6);
	expect_error(&b, (long long)at, "two functions have the id 5");
	pb_strings(&b, small_strings, 6);
	at = b.n;
	small_function(&b, 0, 5);
	expect_error(&b, (long long)at, "a function has the id 0, which is reserved");

	/* duplicate and zero mapping ids, large ones too */
	pb_uint(&m, 1, 1ULL << 60);
	pb_msg(&b, 3, &m);
	at = b.n;
	pb_uint(&m, 1, 1ULL << 60);
	pb_msg(&b, 3, &m);
	pb_strings(&b, small_strings, 6);
	expect_error(&b, (long long)at, "two mappings have the id 1152921504606846976");
	at = b.n;
	pb_uint(&m, 4, 1);
	pb_msg(&b, 3, &m);
	pb_strings(&b, small_strings, 6);
	expect_error(&b, (long long)at, "a mapping has the id 0, which is reserved");
}

static void test_error_truncated(void **state)
{
	(void)state;
	pb b = {0}, m = {0};
	size_t at;

	/* a top-level LEN longer than the rest of the input */
	pb_strings(&b, small_strings, 6);
	at = pb_key(&b, 4, 2);
	pb_varint(&b, 16);
	pb_raw(&b, "\x08\x01", 2);
	expect_error(&b, (long long)at,
	             "truncated protobuf: field 4 claims 16 bytes but its message has 2 left");

	/* a LEN inside a message, longer than the rest of that message (the
	 * input goes on, but the message ends) */
	pb_uint(&m, 1, 1);
	size_t inner = pb_key(&m, 4, 2);
	pb_varint(&m, 5);
	pb_raw(&m, "\x08\x01", 2);
	at = pb_msg(&b, 4, &m);
	pb_strings(&b, small_strings, 6);
	expect_error(&b, (long long)(at + inner), "field 4 claims 5 bytes but its message has 2");

	/* a huge length */
	pb_strings(&b, small_strings, 1);
	at = pb_key(&b, 2, 2);
	pb_varint(&b, UINT64_MAX);
	expect_error(&b, (long long)at, "truncated protobuf: field 2 claims");

	/* a varint cut short at the end of the input: the offset of the varint */
	pb_strings(&b, small_strings, 6);
	pb_key(&b, 9, 0);
	at = b.n;
	pb_raw(&b, "\xff\xff", 2);
	expect_error(&b, (long long)at,
	             "truncated protobuf: a varint runs past the end of its message");

	/* a key cut short */
	pb_strings(&b, small_strings, 6);
	at = b.n;
	pb_raw(&b, "\x80", 1);
	expect_error(&b, (long long)at, "a varint runs past the end");

	/* a varint cut short by the end of its message */
	pb_key(&m, 1, 0);
	at = pb_msg(&b, 5, &m); /* the message is just the key 08 */
	pb_strings(&b, small_strings, 6);
	expect_error(&b, (long long)at + 1, "a varint runs past the end of its message");

	/* a packed varint cut short */
	small_sample_type(&b);
	pb_raw(&m, "\x12\x02\x05\x80", 4); /* value: [5, <cut>] */
	at = pb_msg(&b, 2, &m);
	pb_strings(&b, small_strings, 6);
	expect_error(&b, (long long)at + 3, "a varint runs past the end");

	/* fixed-size fields cut short */
	pb_strings(&b, small_strings, 6);
	at = pb_key(&b, 20, 1);
	pb_raw(&b, "1234567", 7);
	expect_error(&b, (long long)at, "truncated protobuf: a fixed-size field runs past the end");
	pb_strings(&b, small_strings, 6);
	at = pb_key(&b, 20, 5);
	pb_raw(&b, "123", 3);
	expect_error(&b, (long long)at, "a fixed-size field runs past the end");

	/* a varint of 11 bytes */
	pb_strings(&b, small_strings, 6);
	pb_key(&b, 9, 0);
	at = b.n;
	pb_raw(&b, "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 11);
	expect_error(&b, (long long)at, "malformed protobuf: a varint is longer than 10 bytes");
}

static void test_error_wire_types(void **state)
{
	(void)state;
	pb b = {0}, m = {0};
	size_t at, inner;

	/* a scalar sent as LEN */
	pb_uint(&m, 1, 1);
	inner = pb_str(&m, 2, "x") - 2;
	at = pb_msg(&b, 5, &m);
	pb_strings(&b, small_strings, 6);
	expect_error(&b, (long long)(at + inner),
	             "malformed profile: a Function field (field 2) has wire type 2, expected 0");

	/* a top-level scalar sent as LEN, and as I64 */
	pb_strings(&b, small_strings, 6);
	at = pb_str(&b, 9, "") - 2;
	expect_error(&b, (long long)at, "(field 9) has wire type 2, expected 0");
	pb_strings(&b, small_strings, 6);
	at = pb_key(&b, 12, 1);
	pb_raw(&b, "12345678", 8);
	expect_error(&b, (long long)at, "(field 12) has wire type 1, expected 0");

	/* a message sent as a varint */
	pb_strings(&b, small_strings, 6);
	at = pb_uint(&b, 1, 1);
	expect_error(&b, (long long)at, "has wire type 0, expected 2");
	pb_strings(&b, small_strings, 6);
	at = pb_uint(&b, 4, 1);
	expect_error(&b, (long long)at, "Profile.location (field 4) has wire type 0, expected 2");
	small_sample_type(&b);
	pb_strings(&b, small_strings, 6);
	at = pb_uint(&b, 2, 1);
	expect_error(&b, (long long)at, "Profile.sample (field 2) has wire type 0, expected 2");
	pb_strings(&b, small_strings, 6);
	at = pb_uint(&b, 6, 0);
	expect_error(&b, (long long)at, "string_table (field 6) has wire type 0, expected 2");

	/* a packed field with a fixed-size wire type */
	small_sample_type(&b);
	inner = pb_key(&m, 2, 5);
	pb_raw(&m, "1234", 4);
	at = pb_msg(&b, 2, &m);
	pb_strings(&b, small_strings, 6);
	expect_error(&b, (long long)(at + inner), "Sample.value (field 2) has wire type 5");

	/* a line sent as a varint */
	pb_uint(&m, 1, 1);
	inner = pb_uint(&m, 4, 1);
	at = pb_msg(&b, 4, &m);
	pb_strings(&b, small_strings, 6);
	expect_error(&b, (long long)(at + inner), "Location.line (field 4) has wire type 0");

	/* groups (3, 4) and the undefined wire types (6, 7) */
	for (int wire = 3; wire <= 7; wire++) {
		if (wire == 5)
			continue;
		pb_strings(&b, small_strings, 6);
		at = pb_key(&b, 3, wire);
		pb_raw(&b, "\x08\x01", 2);
		char want[80];
		snprintf(want, sizeof want,
		         "malformed protobuf: unsupported wire type %d in field 3", wire);
		expect_error(&b, (long long)at, want);
	}
	/* a group inside a message */
	pb_uint(&m, 1, 1);
	inner = pb_key(&m, 9, 3);
	at = pb_msg(&b, 5, &m);
	pb_strings(&b, small_strings, 6);
	expect_error(&b, (long long)(at + inner), "unsupported wire type 3 in field 9");

	/* field number 0 */
	pb_strings(&b, small_strings, 6);
	at = pb_key(&b, 0, 0);
	pb_varint(&b, 1);
	expect_error(&b, (long long)at, "malformed protobuf: invalid field number 0");
}

static void test_error_string_table(void **state)
{
	(void)state;
	pb b = {0};
	/* string_table[0] not empty: the offset of the string */
	small_sample_type(&b);
	size_t at = pb_str(&b, 6, "x") - 2; /* the entry's key */
	pb_strings(&b, small_strings + 1, 5);
	expect_error(&b, (long long)at, "string_table[0] must be the empty string");

	/* no string table at all */
	small_sample_type(&b);
	expect_error(&b, 0, "the profile has no string table");
}

static void test_error_values_and_types(void **state)
{
	(void)state;
	pb b = {0}, m = {0};
	size_t at;

	/* two values, one sample type */
	small_sample_type(&b);
	pb_packed(&m, 2, (uint64_t[]){1, 2}, 2);
	at = pb_msg(&b, 2, &m) - 2;
	pb_strings(&b, small_strings, 6);
	expect_error(&b, (long long)at, "a sample has 2 values but the profile has 1 sample types");

	/* no value */
	small_sample_type(&b);
	small_sample_type(&b);
	at = pb_msg(&b, 2, &m) - 2;
	pb_strings(&b, small_strings, 6);
	expect_error(&b, (long long)at, "a sample has 0 values but the profile has 2 sample types");

	/* samples but no sample types: the first sample's key is named */
	pb_strings(&b, small_strings, 6);
	pb_int(&m, 2, 1);
	at = pb_msg(&b, 2, &m) - 2;
	pb_int(&m, 2, 1);
	pb_msg(&b, 2, &m);
	expect_error(&b, (long long)at, "the profile has samples but no sample types");
}

/* Errors where fields are decoded 8 bytes at a time (far from the input's
 * end, after a batch of samples was added) are the same, at the same
 * offsets, as near the end. */
static void test_error_far_from_end(void **state)
{
	(void)state;
	pb b = {0}, m = {0};
	size_t at;
	const unsigned char long_varint[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	                                     0xff, 0xff, 0xff, 0xff, 0xff, 0x01};

	/* an unknown location id in a packed field */
	for (int i = 0; i < 20; i++)
		small_sample(&b, 1, i);
	pb_int(&m, 2, 1);
	at = pb_packed(&m, 1, (uint64_t[]){1, 300}, 2) + 1;
	at += pb_msg(&b, 2, &m);
	small_sample_type(&b);
	small_function(&b, 1, 3);
	small_location(&b, 1, 1, 7);
	pb_strings(&b, small_strings, 6);
	expect_error(&b, (long long)at, "a sample refers to location id 300");

	/* a varint longer than 10 bytes, then one cut by its field's end */
	for (int cut = 0; cut < 2; cut++) {
		small_sample_type(&b);
		pb_uint(&m, 1, 1);
		at = cut ? pb_bytes(&m, 2, "\x80", 1) : pb_bytes(&m, 2, long_varint, 12);
		pb_int(&m, 2, 1234567);
		at += pb_msg(&b, 2, &m);
		small_function(&b, 1, 3);
		small_location(&b, 1, 1, 7);
		pb_strings(&b, small_strings, 6);
		expect_error(&b, (long long)at,
		             cut ? "a varint runs past the end of its message"
		                 : "a varint is longer than 10 bytes");
	}

	/* a field in a sample that claims more bytes than the sample has */
	small_sample_type(&b);
	pb_uint(&m, 1, 1);
	at = pb_key(&m, 2, 2);
	pb_varint(&m, 50);
	pb_raw(&m, "\x01\x02", 2);
	at += pb_msg(&b, 2, &m);
	small_function(&b, 1, 3);
	small_location(&b, 1, 1, 7);
	pb_strings(&b, small_strings, 6);
	expect_error(&b, (long long)at, "field 2 claims 50 bytes but its message has 2 left");
}

/* Samples are added 16 at a time: over several batches, with stacks new
 * and seen, labels on some, values of every varint length and location
 * ids looked up or not, the import is the model exported. */
static void test_sample_batches(void **state)
{
	(void)state;
	for (int sparse = 0; sparse < 2; sparse++) {
		pk_profile *p = NULL;
		assert_int_equal(pk_profile_new(&p), 0);
		assert_int_equal(pk_profile_add_sample_type(
		                     p, (pk_value_type){intern(p, "samples"), intern(p, "count")}),
		                 0);
		pk_function fn = {1, intern(p, "f"), 0, 0, 0};
		uint32_t fi, li[40];
		assert_int_equal(pk_profile_add_function(p, &fn, &fi), 0);
		for (uint32_t i = 0; i < 40; i++) {
			pk_location loc = {sparse ? (i + 1) * 1000003u : i + 1, PK_NONE, 0, 0};
			pk_line line = {fi, i, 0};
			assert_int_equal(pk_profile_add_location(p, &loc, &line, 1, &li[i]), 0);
		}
		pk_label label = {intern(p, "k"), intern(p, "v"), 0, 0};
		for (int i = 0; i < 100; i++) {
			uint32_t stack[9];
			size_t depth = (size_t)i % 9;
			for (size_t j = 0; j < depth; j++)
				stack[j] = li[((size_t)i * 7 + j * 3) % (i % 3 ? 5 : 40)];
			int64_t v = i % 2 ? (int64_t)1 << (i % 63) : -i;
			assert_int_equal(
			    pk_profile_add_sample(p, stack, depth, &v, 1, &label, i % 4 == 0), 0);
		}
		size_t size;
		void *out = export(p, PK_COMPRESS_NONE, &size);
		pk_profile *q = NULL;
		pk_error err = PK_ERROR_INIT;
		assert_int_equal(import_bytes(out, size, &q, &err), 0);
		assert_profiles_equal(p, q);
		assert_int_equal(pk_profile_stack_count(q), pk_profile_stack_count(p));
		pk_profile_free(q);
		pk_free(out);
		pk_profile_free(p);
	}
}

static void test_error_concatenated(void **state)
{
	(void)state;
	/* two profiles, byte after byte: the second time_nanos gives it away */
	pb b = {0};
	small_profile(&b);
	pb_int(&b, 9, 1000); /* 48 e8 07, the last 3 bytes */
	size_t first_size = b.n;
	unsigned char *copy = malloc(first_size);
	memcpy(copy, b.d, first_size);
	pb_raw(&b, copy, first_size);
	free(copy);
	expect_error(&b, (long long)(first_size + first_size - 3),
	             "a second time_nanos field: two profiles were concatenated");

	/* two gzip members, one profile each: gunzip joins them, and the offset
	 * is in the gunzipped bytes, which the message says */
	small_profile(&b);
	pb_int(&b, 9, 1000);
	pk_profile *p = import_ok(&b);
	pb_free(&b);
	size_t plain_size, gz_size;
	void *plain = export(p, PK_COMPRESS_NONE, &plain_size);
	void *gz = export(p, PK_COMPRESS_GZIP, &gz_size);
	pk_profile_free(p);
	assert_true(contains(plain, plain_size, "\x48\xe8\x07", 3));
	/* our writer puts time_nanos (field 9) last here: nothing after it is set */
	assert_memory_equal((unsigned char *)plain + plain_size - 3, "\x48\xe8\x07", 3);
	pb_raw(&b, gz, gz_size);
	pb_raw(&b, gz, gz_size);
	p = NULL;
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(import_bytes(b.d, b.n, &p, &err), PK_EFORMAT);
	assert_int_equal(err.offset, (long long)(plain_size + plain_size - 3));
	assert_string_equal(err.message, "a second time_nanos field: two profiles were "
	                                 "concatenated (offset after gunzip)");
	char text[1024], want[1024];
	pk_error_describe(&err, text, sizeof text);
	snprintf(want, sizeof want, "<buffer>: byte %zu: %s", plain_size + plain_size - 3,
	         err.message);
	assert_string_equal(text, want);
	/* a second failing read with the same record keeps the first error as
	 * it was, suffix and all */
	assert_int_equal(import_bytes(b.d, b.n, &p, &err), PK_EFORMAT);
	assert_string_equal(err.message, "a second time_nanos field: two profiles were "
	                                 "concatenated (offset after gunzip)");
	pk_free(plain);
	pk_free(gz);
	pb_free(&b);

	/* as for pprof, a time_nanos after a zero one is no second profile */
	small_profile(&b);
	pb_int(&b, 9, 0);
	pb_int(&b, 9, 1000);
	p = import_ok(&b);
	assert_int_equal(pk_profile_time_nanos(p), 1000);
	pk_profile_free(p);
	pb_free(&b);
}

static void test_error_empty(void **state)
{
	(void)state;
	pk_profile *p = NULL;
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(import_bytes("", 0, &p, &err), PK_EFORMAT);
	assert_int_equal(err.offset, 0);
	assert_string_equal(err.message, "empty input");

	/* not detected as pprof: text */
	pk_error_init(&err);
	const char *text = "this is not a profile\n";
	assert_int_equal(pk_profile_read_buffer(text, strlen(text), NULL, &p, NULL, &err),
	                 PK_EFORMAT);
	assert_null(p);
}

/* -------------------------------------------------------------- sniffing */

static bool detected(const void *data, size_t size)
{
	return pk_format_detect(data, size) == pprof();
}

/* Read without the format given: *out gets the profile or NULL. */
static int read_detected(const pb *b, pk_profile **out, pk_error *err)
{
	const pk_format *f = NULL;
	*out = NULL;
	int rc = pk_profile_read_buffer(b->d, b->n, NULL, out, &f, err);
	if (rc == 0)
		assert_ptr_equal(f, pprof());
	return rc;
}

/* pprof is told from other input by its first field alone; the reader
 * judges the rest and names the bad byte. */
static void test_sniff(void **state)
{
	(void)state;
	pb b = {0};
	pk_profile *p = NULL;
	pk_error err = PK_ERROR_INIT;

	/* a first field of an unknown number (> 15), of each wire type, is
	 * pprof: pprof skips such fields, and so does the reader */
	small_profile(&b);
	pk_profile *want = import_ok(&b);
	pb_free(&b);
	for (int wire = 0; wire <= 5; wire++) {
		switch (wire) {
		case 0: pb_uint(&b, 16, 12345); break;
		case 1:
			pb_key(&b, 17, 1);
			pb_raw(&b, "12345678", 8);
			break;
		case 2: pb_str(&b, 18, "skipped"); break;
		case 5:
			pb_key(&b, 19, 5);
			pb_raw(&b, "1234", 4);
			break;
		default: pb_uint(&b, 0x1fffffff, 1); break; /* the largest number */
		}
		small_profile(&b);
		assert_true(detected(b.d, b.n));
		assert_int_equal(read_detected(&b, &p, &err), 0);
		assert_profiles_equal(want, p);
		pk_profile_free(p);
		pb_free(&b);
	}
	pk_profile_free(want);
	/* the fuzz seed that showed it */
	const char *top = getenv("TOP_SRCDIR");
	char path[4096];
	snprintf(path, sizeof path, "%s/tests/fuzz/corpus/fuzz_pprof/unknown-fields.pb",
	         top ? top : ".");
	const pk_format *f = NULL;
	int rc = pk_profile_read_path(path, NULL, &p, &f, &err);
	if (rc != 0)
		fail_msg("%s: %s", path, err.message);
	assert_ptr_equal(f, pprof());
	pk_profile_free(p);

	/* a good first field then a malformed one: the reader's own error,
	 * not "not a profile" */
	static const unsigned char group[] = {0x0a, 0x04, 0x08, 0x01, 0x10, 0x02, 0x1b, 0x08, 0x01};
	pb_raw(&b, group, sizeof group);
	assert_true(detected(b.d, b.n));
	assert_int_equal(read_detected(&b, &p, &err), PK_EFORMAT);
	assert_int_equal(err.offset, 6);
	assert_string_equal(err.message, "malformed protobuf: unsupported wire type 3 in field 3");
	assert_string_equal(err.format, "pprof");
	pb_free(&b);
	/* ... or one that runs past the end: the precise truncation error */
	small_sample_type(&b);
	size_t at = pb_key(&b, 6, 2);
	pb_varint(&b, 9);
	pb_raw(&b, "abc", 3);
	assert_true(detected(b.d, b.n));
	pk_error_init(&err);
	assert_int_equal(read_detected(&b, &p, &err), PK_EFORMAT);
	assert_int_equal(err.offset, (long long)at);
	assert_string_equal(
	    err.message, "truncated protobuf: field 6 claims 9 bytes but its message has 3 left");
	pb_free(&b);

	/* text is never pprof, though its first byte may be a good key ('H' is
	 * field 9, a varint; '2' field 6, a LEN): legacy pprof text, folded
	 * stacks. Only the first 64 bytes are looked at. */
	static const char *const text[] = {
	    "",
	    "H12",
	    "heap profile:    1:   262144 [     1:   262144] @ heap_v2/524288\n",
	    "--- contention:\ncycles/second=3000000000\n",
	    "2\n\t\r main;work;leaf 42\r\n",
	    "H1234567890123456789012345678901234567890123456789012345678901234\x01\x02",
	};
	for (size_t i = 0; i < sizeof text / sizeof text[0]; i++)
		if (detected(text[i], strlen(text[i])))
			fail_msg("text %zu taken for pprof: \"%s\"", i, text[i]);
	/* one control byte in the first 64 makes it binary, and then a good
	 * first field makes it pprof */
	assert_true(detected("H1\x01", 3));

	/* first fields that are no pprof */
	static const struct {
		const char *bytes;
		size_t size;
	} no[] = {
	    {"\x00\x01", 2},                                          /* field number 0 */
	    {"\x80\x80\x80\x80\x10\x00", 6},                          /* field number 2^29 */
	    {"\x0b\x08\x01", 3},                                      /* group start, field 1 */
	    {"\x0c\x08\x01", 3},                                      /* group end */
	    {"\x86\x01\x08\x01", 4},                                  /* wire type 6, field 16 */
	    {"\x87\x01\x08\x01", 4},                                  /* wire type 7 */
	    {"\x08\x01", 2},                                          /* sample_type as a varint */
	    {"\x4a\x00", 2},                                          /* time_nanos as a LEN */
	    {"\x61\x01\x02\x03\x04\x05\x06\x07\x08", 9},              /* period as an I64 */
	    {"\x6d\x01\x02\x03\x04", 5},                              /* comment as an I32 */
	    {"\x0a\x05\x08\x01\x10\x02", 6},                          /* a LEN past the end */
	    {"\x0a\xff\xff\xff\xff\x0f\x08", 7},                      /* a huge LEN */
	    {"\x81\x01\x01\x02\x03", 5},                              /* an I64 past the end */
	    {"\x85\x01\x01\x02\x03", 5},                              /* an I32 past the end */
	    {"\x80", 1},                                              /* a key cut short */
	    {"\x48\x80", 2},                                          /* a varint cut short */
	    {"\x48\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 12}, /* 11 bytes */
	    {"\x7f"
	     "ELF\x02\x01\x01",
	     7}, /* wire type 7 */
	};
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		if (detected(no[i].bytes, no[i].size))
			fail_msg("case %zu taken for pprof", i);
	/* each of Profile's fields with its own wire type is pprof */
	for (uint64_t field = 1; field <= 15; field++) {
		if (field <= 6 || field == 11 || field == 13)
			pb_str(&b, field, "");
		else
			pb_uint(&b, field, 1);
		if (!detected(b.d, b.n))
			fail_msg("a first field %u is not taken for pprof", (unsigned)field);
		pb_free(&b);
	}
	assert_true(detected("\x68\x01", 2)); /* a comment, unpacked */
}

/* The probe of a large input's head steps over messages of fields 1..6
 * with a short length at once: it must still refuse a bad field among
 * them, and take a head whose last message the cut ends. */
static void test_probe(void **state)
{
	(void)state;
	int (*probe)(const unsigned char *, size_t) = pprof()->probe;
	assert_non_null(probe);
	static const unsigned char payload[20000] = {0};
	/* lengths of one, two and three bytes, messages of each field */
	static const size_t sizes[] = {0, 1, 30, 127, 128, 300, 16383, 16384, 19999};
	pb b = {0};
	pb_str(&b, 1, "\x08\x01");
	for (int round = 0; round < 3; round++)
		for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
			pb_bytes(&b, 1 + (round * 9 + i) % 6, payload, sizes[i]);
	size_t good = b.n;
	assert_int_equal(probe(b.d, good), 0);
	/* cut anywhere after the first field: the last message runs past
	 * the end */
	for (size_t cut = 4; cut < good; cut += 97)
		if (probe(b.d, cut) != 0)
			fail_msg("a head cut at %zu is refused", cut);
	/* a field of the wrong wire type, or a field 0, among them */
	static const unsigned char bad[][2] = {
	    {0x10, 0x01}, {0x3a, 0x00}, {0x02, 0x00}, {0x12, 0x00}};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		b.n = good;
		pb_raw(&b, bad[i], 2);
		pb_bytes(&b, 2, payload, 40);
		int want = i == 3 ? 0 : PK_ENOTMINE;
		if (probe(b.d, b.n) != want)
			fail_msg("case %zu: the probe says %d", i, probe(b.d, b.n));
	}
	pb_free(&b);
}

/* --------------------------------------------------------------- export */

static void test_export_round_trip(void **state)
{
	(void)state;
	pk_profile *p = make_rich_profile();
	size_t size;
	void *out = export(p, PK_COMPRESS_NONE, &size);
	assert_false(size >= 2 && ((unsigned char *)out)[0] == 0x1f &&
	             ((unsigned char *)out)[1] == 0x8b);
	pk_profile *q = NULL;
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(import_bytes(out, size, &q, &err), 0);
	assert_profiles_equal(p, q);
	/* the string table is written whole and in order, so even the
	 * indices agree */
	assert_int_equal(pk_profile_string_count(p), pk_profile_string_count(q));
	for (size_t i = 0; i < pk_profile_string_count(p); i++)
		assert_string_equal(pk_profile_string(p, (pk_str)i),
		                    pk_profile_string(q, (pk_str)i));

	/* export -> import -> export is byte-identical */
	size_t size2;
	void *out2 = export(q, PK_COMPRESS_NONE, &size2);
	assert_int_equal(size, size2);
	assert_memory_equal(out, out2, size);
	pk_free(out2);
	pk_profile_free(q);
	pk_free(out);
	pk_profile_free(p);
}

static void test_export_compression(void **state)
{
	(void)state;
	pk_profile *p = make_rich_profile();
	size_t plain_size, gz_size, auto_size;
	unsigned char *plain = export(p, PK_COMPRESS_NONE, &plain_size);
	unsigned char *gz = export(p, PK_COMPRESS_GZIP, &gz_size);
	unsigned char *dflt = export(p, PK_COMPRESS_AUTO, &auto_size);
	assert_true(gz[0] == 0x1f && gz[1] == 0x8b);
	assert_true(dflt[0] == 0x1f && dflt[1] == 0x8b); /* gzip by default */
	assert_false(plain[0] == 0x1f && plain[1] == 0x8b);
	assert_int_equal(plain[0], 0x0a); /* sample_type comes first */
	assert_int_equal(gz_size, auto_size);
	assert_memory_equal(gz, dflt, gz_size);

	/* the gzipped bytes hold exactly the plain ones */
	pk_profile *q = NULL;
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(import_bytes(gz, gz_size, &q, &err), 0);
	size_t again_size;
	unsigned char *again = export(q, PK_COMPRESS_NONE, &again_size);
	assert_int_equal(again_size, plain_size);
	assert_memory_equal(again, plain, plain_size);
	pk_free(again);
	pk_profile_free(q);

	/* by file name: .pb is plain, .pb.gz and .pprof are gzipped */
	const char *tmp = getenv("TMPDIR");
	char dir_path[4096];
	snprintf(dir_path, sizeof dir_path, "%s/pk_test_pprof.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir_path));
	const struct {
		const char *name;
		int gzipped;
	} files[] = {{"a.pb", 0}, {"a.pb.gz", 1}, {"a.pprof", 1}, {"a.prof", 1}, {"a.pprof.gz", 1}};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		char path[4200];
		snprintf(path, sizeof path, "%s/%s", dir_path, files[i].name);
		assert_int_equal(pk_profile_write_path(p, path, NULL, &err), 0);
		FILE *f = fopen(path, "rb");
		assert_non_null(f);
		unsigned char head[2] = {0, 0};
		assert_int_equal(fread(head, 1, 2, f), 2);
		fclose(f);
		if (head[0] == 0x1f && head[1] == 0x8b) {
			if (!files[i].gzipped)
				fail_msg("%s is gzipped", files[i].name);
		} else if (files[i].gzipped) {
			fail_msg("%s is not gzipped", files[i].name);
		}
		const pk_format *fmt = NULL;
		assert_int_equal(pk_profile_read_path(path, NULL, &q, &fmt, &err), 0);
		assert_ptr_equal(fmt, pprof());
		assert_profiles_equal(p, q);
		pk_profile_free(q);
		unlink(path);
	}
	/* an explicit choice beats the name */
	char path[4200];
	snprintf(path, sizeof path, "%s/forced.pb", dir_path);
	pk_write_options wo = PK_WRITE_OPTIONS_INIT;
	wo.compress = PK_COMPRESS_GZIP;
	assert_int_equal(pk_profile_write_path(p, path, &wo, &err), 0);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fgetc(f), 0x1f);
	fclose(f);
	unlink(path);
	rmdir(dir_path);

	pk_free(plain);
	pk_free(gz);
	pk_free(dflt);
	pk_profile_free(p);
}

/* Corner cases of the model that the writer must carry through: an empty
 * profile, strings with NUL bytes, empty stacks, all-zero labels, extreme
 * numbers. */
static void test_export_corner_cases(void **state)
{
	(void)state;
	pk_profile *p = NULL;
	assert_int_equal(pk_profile_new(&p), 0);
	size_t size;
	void *out = export(p, PK_COMPRESS_NONE, &size);
	pk_profile *q = NULL;
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(import_bytes(out, size, &q, &err), 0);
	assert_profiles_equal(p, q);
	pk_profile_free(q);
	pk_free(out);

	pk_str nul, plain;
	assert_int_equal(pk_profile_intern(p, "a\0b", 3, &nul), 0);
	assert_int_equal(pk_profile_intern(p, "a", 1, &plain), 0);
	assert_int_equal(pk_profile_add_sample_type(p, (pk_value_type){nul, plain}), 0);
	pk_function fn = {0, nul, plain, nul, INT64_MIN};
	uint32_t fi;
	assert_int_equal(pk_profile_add_function(p, &fn, &fi), 0);
	pk_line line = {fi, INT64_MAX, -1};
	pk_location loc = {UINT64_MAX, PK_NONE, UINT64_MAX, 0};
	uint32_t li;
	assert_int_equal(pk_profile_add_location(p, &loc, &line, 1, &li), 0);
	int64_t v = INT64_MIN;
	pk_label zero = {0, 0, 0, 0};
	assert_int_equal(pk_profile_add_sample(p, NULL, 0, &v, 1, &zero, 1), 0);
	assert_int_equal(pk_profile_add_sample(p, &li, 1, &v, 1, NULL, 0), 0);
	out = export(p, PK_COMPRESS_NONE, &size);
	assert_int_equal(import_bytes(out, size, &q, &err), 0);
	assert_profiles_equal(p, q);
	assert_int_equal(pk_profile_string_length(q, pk_profile_function(q, 0)->name), 3);
	size_t size2;
	void *out2 = export(q, PK_COMPRESS_NONE, &size2);
	assert_int_equal(size, size2);
	assert_memory_equal(out, out2, size);
	pk_free(out2);
	pk_profile_free(q);
	pk_free(out);
	pk_profile_free(p);
}

/* Location ids of every varint length from 1 to 10 bytes, mixed in
 * stacks, come back as they went (the writer copies the short ones as
 * 8-byte words and encodes the rest). */
static void test_export_id_lengths(void **state)
{
	(void)state;
	pk_profile *p = NULL;
	assert_int_equal(pk_profile_new(&p), 0);
	assert_int_equal(pk_profile_add_sample_type(
	                     p, (pk_value_type){intern(p, "samples"), intern(p, "count")}),
	                 0);
	pk_function fn = {1, intern(p, "f"), 0, 0, 0};
	uint32_t fi;
	assert_int_equal(pk_profile_add_function(p, &fn, &fi), 0);
	uint32_t li[10];
	for (int n = 1; n <= 10; n++) {
		uint64_t id = n < 10 ? ((uint64_t)1 << (7 * n)) - 1 : UINT64_MAX;
		pk_location loc = {id, PK_NONE, 0, 0};
		pk_line line = {fi, n, 0};
		assert_int_equal(pk_profile_add_location(p, &loc, &line, 1, &li[n - 1]), 0);
	}
	for (int i = 0; i < 10; i++) {
		uint32_t stack[10];
		for (int j = 0; j < 10; j++)
			stack[j] = li[(i + 3 * j) % 10];
		int64_t v = i + 1;
		assert_int_equal(pk_profile_add_sample(p, stack, (size_t)i + 1, &v, 1, NULL, 0), 0);
	}
	size_t size;
	void *out = export(p, PK_COMPRESS_NONE, &size);
	pk_profile *q = NULL;
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(import_bytes(out, size, &q, &err), 0);
	assert_profiles_equal(p, q);
	pk_profile_free(q);
	pk_free(out);
	pk_profile_free(p);
}

/* Samples of nvalues values, of every varint length, with no label, one
 * or two, and one whose packed ids outgrow a 3-byte length (more than
 * 2 MiB). */
static pk_profile *make_sample_forms(size_t nvalues)
{
	pk_profile *p = NULL;
	assert_int_equal(pk_profile_new(&p), 0);
	pk_str count = intern(p, "count");
	for (size_t i = 0; i < nvalues; i++)
		assert_int_equal(pk_profile_add_sample_type(p, (pk_value_type){count, count}), 0);
	pk_function fn = {1, intern(p, "f"), 0, 0, 0};
	uint32_t fi;
	assert_int_equal(pk_profile_add_function(p, &fn, &fi), 0);
	uint32_t li[2];
	for (uint64_t id = 1; id <= 2; id++) {
		pk_location loc = {id * 200, PK_NONE, 0, 0}; /* two-byte varints */
		pk_line line = {fi, (int64_t)id, 0};
		assert_int_equal(pk_profile_add_location(p, &loc, &line, 1, &li[id - 1]), 0);
	}
	size_t deep = 1100 * 1000;
	uint32_t *stack = malloc(deep * sizeof *stack);
	assert_non_null(stack);
	for (size_t j = 0; j < deep; j++)
		stack[j] = li[j % 3 == 0];
	/* a string label, and a numeric one of the longest form */
	pk_label labels[2] = {{intern(p, "k"), intern(p, "v"), 0, 0},
	                      {intern(p, "n"), 0, -5, intern(p, "bytes")}};
	for (int n = 0; n <= 10; n++) {
		int64_t v[9];
		for (size_t j = 0; j < nvalues; j++) {
			int bits = 7 * (int)((n + j) % 10);
			v[j] = n == 10     ? -1 - (int64_t)j
			       : bits == 0 ? (int64_t)j
			                   : (int64_t)(((uint64_t)1 << bits) - 1);
		}
		size_t depth = n == 3 ? deep : (size_t)n % 3;
		assert_int_equal(
		    pk_profile_add_sample(p, stack, depth, v, nvalues, labels, (size_t)n % 3), 0);
	}
	free(stack);
	assert_int_equal(pk_profile_validate(p, NULL), 0);
	return p;
}

/* Samples the writer puts in one go (a few values) and field by field
 * (nine values) come back as they went, plain and through gzip. */
static void test_export_sample_forms(void **state)
{
	(void)state;
	for (size_t nvalues = 1; nvalues <= 9; nvalues += 8) {
		pk_profile *p = make_sample_forms(nvalues);
		size_t size, gz_size;
		void *out = export(p, PK_COMPRESS_NONE, &size);
		void *gz = export(p, PK_COMPRESS_GZIP, &gz_size);
		pk_profile *q = NULL;
		pk_error err = PK_ERROR_INIT;
		assert_int_equal(import_bytes(out, size, &q, &err), 0);
		assert_profiles_equal(p, q);
		pk_profile_free(q);
		assert_int_equal(import_bytes(gz, gz_size, &q, &err), 0);
		assert_profiles_equal(p, q);
		pk_profile_free(q);
		pk_free(out);
		pk_free(gz);
		pk_profile_free(p);
	}
}

/* A profile whose output is some megabytes, with a string larger than
 * any buffer on the way. */
static pk_profile *make_large_profile(void)
{
	pk_profile *p = make_rich_profile();
	size_t big_len = 300000;
	char *big = malloc(big_len);
	assert_non_null(big);
	for (size_t i = 0; i < big_len; i++)
		big[i] = (char)('a' + i % 26);
	pk_str big_str;
	assert_int_equal(pk_profile_intern(p, big, big_len, &big_str), 0);
	free(big);
	uint32_t li[64];
	for (uint32_t i = 0; i < 64; i++) {
		pk_function fn = {1000 + i, big_str, 0, 0, i};
		uint32_t fi;
		assert_int_equal(pk_profile_add_function(p, &fn, &fi), 0);
		pk_location loc = {1000 + (uint64_t)i * 977, PK_NONE, 0, 0};
		pk_line line = {fi, i, 0};
		assert_int_equal(pk_profile_add_location(p, &loc, &line, 1, &li[i]), 0);
	}
	uint32_t seed = 1;
	for (int i = 0; i < 40000; i++) {
		uint32_t stack[40];
		size_t depth = 1 + (size_t)i % 40;
		for (size_t j = 0; j < depth; j++) {
			seed = seed * 1103515245u + 12345u;
			stack[j] = li[(seed >> 16) % (i % 7 == 0 ? 64 : 4)];
		}
		int64_t v[2] = {i, -i};
		assert_int_equal(pk_profile_add_sample(p, stack, depth, v, 2, NULL, 0), 0);
	}
	assert_int_equal(pk_profile_validate(p, NULL), 0);
	return p;
}

/* A sink with a small buffer of its own, as the file and gzip sinks have,
 * that collects the bytes and fails once limit bytes reached it. */
typedef struct capture_sink {
	pk__sink base;
	unsigned char buf[4096];
	unsigned char *data;
	size_t size, limit;
} capture_sink;

static int capture_write(pk__sink *s, const void *data, size_t size)
{
	capture_sink *c = (capture_sink *)s;
	if (size > c->limit - c->size)
		return pk__error_set(s->err, PK_EIO, "cannot write: No space left on device");
	c->data = realloc(c->data, c->size + size);
	assert_non_null(c->data);
	memcpy(c->data + c->size, data, size);
	c->size += size;
	return 0;
}

/* The writer gives the same bytes whether it fills the sink's buffer (a
 * file, gzip, a buffered sink) or one of its own (memory), and a sink's
 * failure part way through reaches the caller. */
static void test_export_sink_buffers(void **state)
{
	(void)state;
	pk_profile *p = make_large_profile();
	size_t plain_size;
	unsigned char *plain = export(p, PK_COMPRESS_NONE, &plain_size);
	assert_true(plain_size > 2 * 1024 * 1024);

	/* through gzip (its buffer) into memory */
	size_t gz_size;
	unsigned char *gz = export(p, PK_COMPRESS_GZIP, &gz_size);
	pk_profile *q = NULL;
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(import_bytes(gz, gz_size, &q, &err), 0);
	size_t again_size;
	unsigned char *again = export(q, PK_COMPRESS_NONE, &again_size);
	assert_int_equal(again_size, plain_size);
	assert_memory_equal(again, plain, plain_size);
	pk_free(again);
	pk_profile_free(q);
	pk_free(gz);

	/* into a sink's buffer, and into one that fails at each point */
	pk_write_options wo = PK_WRITE_OPTIONS_INIT;
	for (size_t limit = SIZE_MAX;; limit = limit == SIZE_MAX ? 0 : limit + plain_size / 5) {
		if (limit != SIZE_MAX && limit >= plain_size)
			break;
		pk_error e = PK_ERROR_INIT;
		capture_sink c = {{capture_write, &e, NULL, 0, 0}, {0}, NULL, 0, limit};
		c.base.buf = c.buf;
		c.base.cap = sizeof c.buf;
		int rc = pprof()->export(p, &wo, &c.base, &e);
		if (rc == 0)
			rc = pk__sink_flush(&c.base);
		if (limit == SIZE_MAX) {
			assert_int_equal(rc, 0);
			assert_int_equal(c.size, plain_size);
			assert_memory_equal(c.data, plain, plain_size);
		} else {
			assert_int_equal(rc, PK_EIO);
			assert_string_equal(e.message, "cannot write: No space left on device");
		}
		free(c.data);
	}

	/* allocation failures with the sink's buffer */
	long n;
	for (n = 1;; n++) {
		pk_error e = PK_ERROR_INIT;
		capture_sink c = {{capture_write, &e, NULL, 0, 0}, {0}, NULL, 0, SIZE_MAX};
		c.base.buf = c.buf;
		c.base.cap = sizeof c.buf;
		chaos_reset(n, 0);
		pk_set_allocator(chaos_malloc, chaos_free);
		int rc = pprof()->export(p, &wo, &c.base, &e);
		pk_set_allocator(NULL, NULL);
		free(c.data);
		if (rc == 0)
			break;
		assert_int_equal(rc, PK_ENOMEM);
		assert_string_equal(e.message, "out of memory");
		assert_int_equal(chaos.live, 0);
	}
	assert_true(n > 1);
	pk_free(plain);
	pk_profile_free(p);
}

/* ------------------------------------------------------------- fixtures */

static void test_fixtures(void **state)
{
	(void)state;
	const char *top = getenv("TOP_SRCDIR");
	if (top == NULL)
		top = ".";
	char dir_path[4096];
	snprintf(dir_path, sizeof dir_path, "%s/tests/fixtures/pprof", top);
	DIR *d = opendir(dir_path);
	if (d == NULL)
		fail_msg("cannot open %s (set TOP_SRCDIR)", dir_path);
	int count = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		if (n < 6 || strcmp(e->d_name + n - 6, ".pb.gz") != 0)
			continue;
		char path[4400];
		snprintf(path, sizeof path, "%s/%s", dir_path, e->d_name);
		pk_profile *p = NULL;
		const pk_format *fmt = NULL;
		pk_error err = PK_ERROR_INIT;
		int rc = pk_profile_read_path(path, NULL, &p, &fmt, &err);
		if (rc != 0) {
			char text[2048];
			pk_error_describe(&err, text, sizeof text);
			fail_msg("%s", text);
		}
		assert_ptr_equal(fmt, pprof());
		assert_true(pk_profile_sample_type_count(p) > 0);
		assert_true(pk_profile_sample_count(p) > 0);
		assert_true(pk_profile_location_count(p) > 0);
		assert_true(pk_profile_function_count(p) > 0);
		/* the binary's mapping comes first (the Go runtime adds others) */
		assert_true(pk_profile_mapping_count(p) >= 1);
		const pk_mapping *main_map = pk_profile_mapping(p, 0);
		assert_memory_equal(str(p, main_map->filename), "/srv/profkit/", 13);
		assert_true(pk_profile_time_nanos(p) > 0);
		assert_int_equal(pk_profile_validate(p, NULL), 0);

		size_t size1, size2;
		void *out1 = export(p, PK_COMPRESS_NONE, &size1);
		pk_profile *q = NULL;
		assert_int_equal(import_bytes(out1, size1, &q, &err), 0);
		assert_profiles_equal(p, q);
		void *out2 = export(q, PK_COMPRESS_NONE, &size2);
		if (size1 != size2 || memcmp(out1, out2, size1) != 0)
			fail_msg("%s: export -> import -> export is not byte-identical", e->d_name);
		pk_free(out1);
		pk_free(out2);
		pk_profile_free(q);
		pk_profile_free(p);
		count++;
	}
	closedir(d);
	print_message("%d fixtures\n", count);
	assert_true(count >= 10);
}

/* ---------------------------------------------------- allocation failure */

/* A real profile read and written with each allocation failing in turn:
 * every failure comes back as PK_ENOMEM with nothing leaked. */
/* ------------------------------------- large files, read as they inflate */

/* How make_flow_profile labels its samples. */
enum { NO_LABELS, LATE_LABEL, ALL_LABELED };

/* Large enough (over a MiB of pprof) to be read while it inflates: samples
 * of up to 40 frames without labels, but for one of the last with
 * LATE_LABEL, and with ALL_LABELED each with a string label of 8 values
 * and a numeric one of a thousand (sets of one or two). Location ids are
 * not their indices + 1. */
static pk_profile *make_flow_profile(int labels)
{
	pk_profile *p = NULL;
	assert_int_equal(pk_profile_new(&p), 0);
	pk_str samples = intern(p, "samples"), count = intern(p, "count");
	assert_int_equal(pk_profile_add_sample_type(p, (pk_value_type){samples, count}), 0);
	assert_int_equal(pk_profile_add_sample_type(p, (pk_value_type){count, samples}), 0);
	uint32_t li[64];
	for (uint32_t i = 0; i < 64; i++) {
		pk_function fn = {1 + i, i % 2 ? samples : count, 0, 0, i};
		uint32_t fi;
		assert_int_equal(pk_profile_add_function(p, &fn, &fi), 0);
		pk_location loc = {1 + (uint64_t)i * 977, PK_NONE, 0, 0};
		pk_line line = {fi, i, 0};
		assert_int_equal(pk_profile_add_location(p, &loc, &line, 1, &li[i]), 0);
	}
	pk_label label = {samples, count, 0, 0};
	pk_str values[8], bytes = intern(p, "bytes"), thread = intern(p, "thread");
	for (int i = 0; i < 8; i++) {
		char name[16];
		snprintf(name, sizeof name, "worker-%d", i);
		values[i] = intern(p, name);
	}
	uint32_t seed = 1;
	for (int i = 0; i < 80000; i++) {
		uint32_t stack[40];
		size_t depth = 1 + (size_t)i % 40;
		for (size_t j = 0; j < depth; j++) {
			seed = seed * 1103515245u + 12345u;
			stack[j] = li[(seed >> 16) % (i % 7 == 0 ? 64 : 8)];
		}
		int64_t v[2] = {i, 1};
		pk_label set[2] = {{thread, values[i % 8], 0, 0}, {bytes, 0, i % 1000, count}};
		size_t n = 0;
		if (labels == ALL_LABELED)
			n = i % 3 != 0 ? 2 : 1;
		else if (labels == LATE_LABEL && i == 79990)
			n = 1;
		assert_int_equal(pk_profile_add_sample(p, stack, depth, v, 2,
		                                       labels == LATE_LABEL ? &label : set, n),
		                 0);
	}
	return p;
}

/* data gzipped (owned by the caller, free). */
static unsigned char *gzip_bytes(const void *data, size_t size, size_t *out_size)
{
	pk__buffer_sink b;
	pk__buffer_sink_init(&b, NULL);
	pk__gzip_sink *g = NULL;
	assert_int_equal(pk__gzip_sink_new(&b.base, NULL, &g), 0);
	assert_int_equal(pk__sink_write(pk__gzip_sink_base(g), data, size), 0);
	assert_int_equal(pk__gzip_sink_finish(g), 0);
	pk__gzip_sink_free(g);
	assert_int_equal(pk__sink_flush(&b.base), 0);
	unsigned char *out = malloc(b.size);
	assert_non_null(out);
	memcpy(out, b.data, b.size);
	*out_size = b.size;
	pk__buffer_sink_release(&b);
	return out;
}

/* A temporary file of the size bytes at data, named in path (a mkstemp
 * template). */
static void write_temp(char *path, const void *data, size_t size)
{
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, size), (ssize_t)size);
	close(fd);
}

/* p exported, gzipped, as a temporary file named in path. */
static void write_gzipped(char *path, const pk_profile *p)
{
	size_t raw_size, gz_size;
	unsigned char *raw = export(p, PK_COMPRESS_NONE, &raw_size);
	unsigned char *gz = gzip_bytes(raw, raw_size, &gz_size);
	pk_free(raw);
	write_temp(path, gz, gz_size);
	free(gz);
}

/* Reading the bytes from a file (as they inflate) gives what reading them
 * from memory gives: the same model, or the same error at the same byte;
 * or with want set, a gzip error of that text (a buffer is inflated whole
 * before the formats are probed, a file a chunk at a time). */
static void assert_file_reads_as_buffer(const void *data, size_t size, const char *want)
{
	char path[] = "/tmp/pk_test_flow.XXXXXX";
	write_temp(path, data, size);
	pk_profile *a = NULL, *b = NULL;
	pk_error ea = PK_ERROR_INIT, eb = PK_ERROR_INIT;
	pk_read_options ro = PK_READ_OPTIONS_INIT;
	ro.source_name = "<buffer>";
	int ra = pk_profile_read_path(path, &ro, &a, NULL, &ea);
	int rb = pk_profile_read_buffer(data, size, NULL, &b, NULL, &eb);
	unlink(path);
	if (want != NULL) {
		assert_int_equal(ra, PK_EFORMAT);
		assert_string_equal(ea.message, want);
	} else {
		assert_int_equal(ra, rb);
		if (ra == 0)
			assert_profiles_equal(a, b);
		assert_string_equal(ea.message, eb.message);
		assert_int_equal(ea.offset, eb.offset);
	}
	pk_profile_free(a);
	pk_profile_free(b);
}

static uint64_t get_varint(const unsigned char *d, size_t *at)
{
	uint64_t v = 0;
	for (unsigned shift = 0;; shift += 7) {
		unsigned char c = d[(*at)++];
		v |= (uint64_t)(c & 0x7f) << shift;
		if (c < 0x80)
			return v;
	}
}

/* The offset of the first location id of the n-th sample of raw (our
 * exporter's: fields of wire types 0 and 2, ids packed). */
static size_t nth_sample_locations(const unsigned char *raw, size_t size, size_t n)
{
	for (size_t at = 0; at < size;) {
		uint64_t key = get_varint(raw, &at);
		uint64_t v = get_varint(raw, &at);
		if ((key & 7) != 2)
			continue;
		if (key >> 3 == 2 && n-- == 0) {
			assert_int_equal(raw[at], 0x0a); /* location_id, packed */
			return at + 2 + (raw[at + 1] >= 0x80);
		}
		at += (size_t)v;
	}
	fail_msg("too few samples");
	return 0;
}

static void test_flow(void **state)
{
	(void)state;
	for (int labels = NO_LABELS; labels <= ALL_LABELED; labels++) {
		pk_profile *p = make_flow_profile(labels);
		size_t raw_size, gz_size;
		unsigned char *raw = export(p, PK_COMPRESS_NONE, &raw_size);
		assert_true(raw_size > (1 << 20));
		unsigned char *gz = gzip_bytes(raw, raw_size, &gz_size);
		assert_file_reads_as_buffer(gz, gz_size, NULL);
		pk_profile_free(p);
		free(gz);

		/* An unknown location id in a late sample; and sample types
		 * after the samples. */
		size_t at = nth_sample_locations(raw, raw_size, 20000);
		raw[at] ^= 1;
		gz = gzip_bytes(raw, raw_size, &gz_size);
		assert_file_reads_as_buffer(gz, gz_size, NULL);
		free(gz);
		raw[at] ^= 1;
		unsigned char *more = malloc(raw_size + 6);
		assert_non_null(more);
		memcpy(more, raw, raw_size);
		memcpy(more + raw_size, "\x0a\x04\x08\x01\x10\x02", 6);
		gz = gzip_bytes(more, raw_size + 6, &gz_size);
		assert_file_reads_as_buffer(gz, gz_size, NULL);
		free(more);

		/* Cut, corrupt, with a wrong size in the trailer, and twice. */
		assert_file_reads_as_buffer(gz, gz_size / 2, NULL);
		gz[gz_size / 2] ^= 0x55;
		assert_file_reads_as_buffer(gz, gz_size, "corrupt gzip data: incorrect data check");
		gz[gz_size / 2] ^= 0x55;
		gz[gz_size - 2] ^= 1;
		assert_file_reads_as_buffer(gz, gz_size, NULL);
		gz[gz_size - 2] ^= 1;
		unsigned char *twice = malloc(2 * gz_size);
		assert_non_null(twice);
		memcpy(twice, gz, gz_size);
		memcpy(twice + gz_size, gz, gz_size);
		assert_file_reads_as_buffer(twice, 2 * gz_size, NULL);
		free(twice);
		free(gz);
		pk_free(raw);
	}
}

/* The offset of the first label's fields in the n-th sample of raw (our
 * exporter's), as nth_sample_locations. */
static size_t nth_sample_label(const unsigned char *raw, size_t size, size_t n)
{
	size_t at = nth_sample_locations(raw, size, n) - 2;
	for (;;) {
		uint64_t key = get_varint(raw, &at);
		uint64_t len = get_varint(raw, &at);
		assert_int_equal(key & 7, 2);
		if (key >> 3 == 3)
			return at;
		at += (size_t)len;
	}
}

/* raw gzipped reads from a file as from memory, and fails with a message
 * that has want in it (or succeeds, want NULL). */
static void assert_flow_reads(const unsigned char *raw, size_t size, const char *want)
{
	size_t gz_size;
	unsigned char *gz = gzip_bytes(raw, size, &gz_size);
	assert_file_reads_as_buffer(gz, gz_size, NULL);
	pk_profile *p = NULL;
	pk_error err = PK_ERROR_INIT;
	int rc = pk_profile_read_buffer(gz, gz_size, NULL, &p, NULL, &err);
	if (want == NULL) {
		assert_int_equal(rc, 0);
		pk_profile_free(p);
	} else if (rc != PK_EFORMAT || strstr(err.message, want) == NULL) {
		fail_msg("got %d (%s), not \"%s\"", rc, err.message, want);
	}
	free(gz);
}

/* Labelled samples are read while the input inflates, their strings known
 * later: what is wrong in a label is found as when the input is read whole,
 * at the same byte, early or late in the samples. */
static void test_flow_labels(void **state)
{
	(void)state;
	pk_profile *p = make_flow_profile(ALL_LABELED);
	size_t raw_size;
	unsigned char *raw = export(p, PK_COMPRESS_NONE, &raw_size);
	size_t strings = pk_profile_string_count(p);
	assert_true(strings < 100);
	pk_profile_free(p);
	/* a copy with room for one more string at its end */
	unsigned char *more = malloc(raw_size + 16);
	assert_non_null(more);
	memcpy(more, raw, raw_size);
	const size_t nth[] = {0, 1, 20000, 79999};
	for (size_t i = 0; i < sizeof nth / sizeof nth[0]; i++) {
		/* a thread label, 4 bytes: key, str; then a bytes label if any:
		 * key, num if not 0, num_unit */
		size_t at = nth_sample_label(raw, raw_size, nth[i]);
		assert_true(raw[at] == 0x08 && raw[at + 2] == 0x10);
		size_t index_at[3] = {at + 1, at + 3, 0};
		if (raw[at + 4] == 0x1a)
			index_at[2] = at + 6 + raw[at + 5] - 1;
		/* a string index out of range, as key, str or num_unit */
		for (size_t j = 0; j < 3 && index_at[j] != 0; j++) {
			unsigned char index = raw[index_at[j]];
			assert_true(raw[index_at[j] - 1] == (j == 2 ? 0x20 : 0x08 + 8 * j));
			raw[index_at[j]] = (unsigned char)strings;
			assert_flow_reads(raw, raw_size, "string index");
			raw[index_at[j]] = index;
		}
		/* a label of the wrong wire type; cut short in a label */
		raw[at - 2] = 0x18;
		assert_flow_reads(raw, raw_size, "wire type");
		raw[at - 2] = 0x1a;
		assert_flow_reads(raw, at + 1, "truncated");
		/* a key equal to the string at another index (appended) */
		size_t key_at = at + 1;
		const unsigned char *key = NULL;
		size_t key_len = 0;
		for (size_t j = 0, k = 0; j < raw_size && key == NULL;) {
			uint64_t field = get_varint(raw, &j), len = get_varint(raw, &j);
			if ((field & 7) == 0)
				continue; /* len was its value */
			if (field >> 3 == 6 && k++ == raw[key_at]) {
				key = raw + j;
				key_len = (size_t)len;
			}
			j += (size_t)len;
		}
		assert_non_null(key);
		assert_true(key_len < 14);
		more[raw_size] = 0x32;
		more[raw_size + 1] = (unsigned char)key_len;
		memcpy(more + raw_size + 2, key, key_len);
		more[key_at] = (unsigned char)strings;
		assert_flow_reads(more, raw_size + 2 + key_len, NULL);
		more[key_at] = raw[key_at];
	}
	free(more);
	pk_free(raw);
}

/* Read path's pprof as it inflates, but only once all of it is inflated:
 * the importer then decodes the samples on two threads from the first
 * parts on (see pprof.c, "samples on two threads"). Returns as the
 * importer does, its error not told where. */
static int read_inflated_first(const char *path, pk_profile **out, pk_error *err)
{
	pk__input in;
	int rc = pk__input_read_path_progress(path, 0, NULL, NULL, true, &in, err);
	if (rc < 0)
		return rc;
	const pk_format *f = pk_format_by_name("pprof");
	if (in.flow != NULL) {
		pk__input_wait(&in, SIZE_MAX);
		rc = f->import_flow(&in, out, err);
	} else { /* inflated at once, where the thread could not be had */
		assert_true(chaos.fail_at > 0);
		rc = f->import(in.data, in.size, out, err);
	}
	if (rc == 0 && (rc = pk_profile_validate(*out, err)) < 0)
		pk_profile_free(*out);
	pk__input_release(&in);
	return rc;
}

/* raw gzipped reads, decoded on two threads, as from memory on one: the
 * same model, or the same error at the same byte. */
static void assert_parts_read_as_buffer(const unsigned char *raw, size_t size)
{
	size_t gz_size;
	unsigned char *gz = gzip_bytes(raw, size, &gz_size);
	char path[] = "/tmp/pk_test_flow.XXXXXX";
	write_temp(path, gz, gz_size);
	pk_profile *a = NULL, *b = NULL;
	pk_error ea = PK_ERROR_INIT, eb = PK_ERROR_INIT;
	int ra = read_inflated_first(path, &a, &ea);
	int rb = pk_profile_read_buffer(gz, gz_size, NULL, &b, NULL, &eb);
	unlink(path);
	free(gz);
	assert_int_equal(ra, rb);
	if (ra == 0)
		assert_profiles_equal(a, b);
	/* the buffer's says " (offset after gunzip)" too */
	if (strncmp(ea.message, eb.message, strlen(ea.message)) != 0)
		fail_msg("\"%s\" read on two threads, \"%s\" on one", ea.message, eb.message);
	assert_int_equal(ea.offset, eb.offset);
	pk_profile_free(a);
	pk_profile_free(b);
}

/* Samples the second thread decodes (or the first, whichever is free) bad
 * in turn, early, in the parts and last: an unknown id, a varint that
 * runs on, the ids' key made a varint's, a value's key made a label's,
 * a label's string index out of range. Each reads as from memory, where
 * one thread reads all. */
static void test_flow_parts(void **state)
{
	(void)state;
	for (int labels = NO_LABELS; labels <= ALL_LABELED; labels += ALL_LABELED) {
		pk_profile *p = make_flow_profile(labels);
		size_t raw_size;
		unsigned char *raw = export(p, PK_COMPRESS_NONE, &raw_size);
		size_t strings = pk_profile_string_count(p);
		pk_profile_free(p);
		assert_parts_read_as_buffer(raw, raw_size);
		const size_t samples[] = {1, 900, 20000, 41234, 79998, 79999};
		for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
			size_t at = nth_sample_locations(raw, raw_size, samples[i]);
			size_t len = raw[at - 1]; /* the ids' bytes, under 128 */
			unsigned char *value_key = raw + at + len;
			assert_int_equal(*value_key, 0x12);
			struct {
				unsigned char *byte;
				unsigned char set;
			} bad[] = {{raw + at, 0},
			           {raw + at + len - 1, 0xff},
			           {raw + at - 2, 0x08},
			           {value_key, 0x1a},
			           {NULL, 0}};
			if (labels == ALL_LABELED) {
				size_t label = nth_sample_label(raw, raw_size, samples[i]);
				bad[4].byte = raw + label + 1;
				bad[4].set = (unsigned char)strings;
			}
			for (size_t j = 0; j < sizeof bad / sizeof *bad && bad[j].byte; j++) {
				unsigned char was = *bad[j].byte;
				*bad[j].byte = bad[j].set;
				assert_parts_read_as_buffer(raw, raw_size);
				*bad[j].byte = was;
			}
		}
		pk_free(raw);
	}
}

/* Allocation failures where the samples are decoded on two threads: each
 * comes back as PK_ENOMEM, or costs only the second thread, with nothing
 * leaked. */
static void test_flow_parts_allocation_failures(void **state)
{
	(void)state;
	pk_profile *p = make_flow_profile(NO_LABELS);
	char path[] = "/tmp/pk_test_flow.XXXXXX";
	write_gzipped(path, p);
	long n;
	for (n = 1;; n++) {
		pk_error err = PK_ERROR_INIT;
		pk_profile *q = NULL;
		chaos_reset(n, 0);
		pk_set_allocator(chaos_malloc, chaos_free);
		int rc = read_inflated_first(path, &q, &err);
		if (rc == 0) {
			assert_profiles_equal(p, q);
			pk_profile_free(q);
		}
		pk_set_allocator(NULL, NULL);
		if (rc == 0 && chaos.calls < n)
			break;
		if (rc != 0 && (rc != PK_ENOMEM || err.code != PK_ENOMEM))
			fail_msg("allocation %ld failed: got %d (%d: %s)", n, rc, err.code,
			         err.message);
		if (chaos.live != 0)
			fail_msg("allocation %ld failed: %ld blocks leaked", n, chaos.live);
	}
	unlink(path);
	pk_profile_free(p);
	print_message("%ld allocations, each failed once\n", n - 1);
}

/* Allocation failures while a file inflates, where the importer's and the
 * inflater's are many. */
static void test_flow_allocation_failures(void **state)
{
	(void)state;
	pk_profile *p = make_flow_profile(NO_LABELS);
	char path[] = "/tmp/pk_test_flow.XXXXXX";
	write_gzipped(path, p);
	pk_profile_free(p);
	long n;
	for (n = 1;; n++) {
		pk_error err = PK_ERROR_INIT;
		chaos_reset(n, 0);
		pk_set_allocator(chaos_malloc, chaos_free);
		int rc = pk_profile_read_path(path, NULL, &p, NULL, &err);
		if (rc == 0)
			pk_profile_free(p);
		pk_set_allocator(NULL, NULL);
		/* Some failures only cost the thread: then all goes on. */
		if (rc == 0 && chaos.calls < n)
			break;
		if (rc == 0)
			continue;
		if (rc != PK_ENOMEM || err.code != PK_ENOMEM)
			fail_msg("allocation %ld failed: got %d (%d: %s)", n, rc, err.code,
			         err.message);
		if (chaos.live != 0)
			fail_msg("allocation %ld failed: %ld blocks leaked", n, chaos.live);
	}
	unlink(path);
	print_message("%ld allocations, each failed once\n", n - 1);
}

static void test_allocation_failures_fixture(void **state)
{
	(void)state;
	const char *top = getenv("TOP_SRCDIR");
	char path[4096];
	snprintf(path, sizeof path, "%s/tests/fixtures/pprof/mutex.pb.gz", top ? top : ".");
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s (set TOP_SRCDIR)", path);
	static unsigned char data[1 << 16];
	size_t size = fread(data, 1, sizeof data, f);
	fclose(f);
	assert_true(size > 0 && size < sizeof data);

	long n;
	for (n = 1;; n++) {
		pk_profile *p = NULL;
		void *out = NULL;
		size_t out_size = 0;
		pk_error err = PK_ERROR_INIT;
		chaos_reset(n, 0);
		pk_set_allocator(chaos_malloc, chaos_free);
		int rc = import_bytes(data, size, &p, &err);
		if (rc == 0) {
			pk_write_options wo = PK_WRITE_OPTIONS_INIT;
			wo.format = pprof();
			rc = pk_profile_write_buffer(p, &wo, &out, &out_size, &err);
		}
		pk_free(out);
		pk_profile_free(p);
		pk_set_allocator(NULL, NULL);
		if (rc == 0) {
			assert_true(chaos.calls < n);
			break;
		}
		if (rc != PK_ENOMEM || err.code != PK_ENOMEM)
			fail_msg("allocation %ld failed: got %d (%d: %s)", n, rc, err.code,
			         err.message);
		if (chaos.live != 0)
			fail_msg("allocation %ld failed: %ld blocks leaked", n, chaos.live);
	}
	print_message("%ld allocations, each failed once\n", n - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mini_pb),
	    cmocka_unit_test(test_small_profile),
	    cmocka_unit_test(test_any_order),
	    cmocka_unit_test(test_packed_and_unpacked),
	    cmocka_unit_test(test_stack_grows_mid_sample),
	    cmocka_unit_test(test_unknown_fields_skipped),
	    cmocka_unit_test(test_all_fields),
	    cmocka_unit_test(test_error_string_index),
	    cmocka_unit_test(test_error_missing_ids),
	    cmocka_unit_test(test_error_bad_ids),
	    cmocka_unit_test(test_quick_objects),
	    cmocka_unit_test(test_error_truncated),
	    cmocka_unit_test(test_error_wire_types),
	    cmocka_unit_test(test_error_string_table),
	    cmocka_unit_test(test_error_values_and_types),
	    cmocka_unit_test(test_error_far_from_end),
	    cmocka_unit_test(test_sample_batches),
	    cmocka_unit_test(test_error_concatenated),
	    cmocka_unit_test(test_error_empty),
	    cmocka_unit_test(test_sniff),
	    cmocka_unit_test(test_probe),
	    cmocka_unit_test(test_flow),
	    cmocka_unit_test(test_flow_labels),
	    cmocka_unit_test(test_flow_parts),
	    cmocka_unit_test(test_flow_parts_allocation_failures),
	    cmocka_unit_test(test_flow_allocation_failures),
	    cmocka_unit_test(test_export_round_trip),
	    cmocka_unit_test(test_export_compression),
	    cmocka_unit_test(test_export_corner_cases),
	    cmocka_unit_test(test_export_id_lengths),
	    cmocka_unit_test(test_export_sample_forms),
	    cmocka_unit_test(test_export_sink_buffers),
	    cmocka_unit_test(test_fixtures),
	    cmocka_unit_test(test_allocation_failures_fixture),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
