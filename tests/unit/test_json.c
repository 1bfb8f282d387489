/* test_json.c - the JSON format: lossless round trips, determinism,
 * sniffing, and errors that point at the offending JSON. */
#include "helpers.h"
#include "internal.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* ---------------------------------------------------------------- helpers */

static const pk_format *json_format(void)
{
	const pk_format *f = pk_format_by_name("json");
	assert_non_null(f);
	return f;
}

static const pk_format *pprof_format(void)
{
	const pk_format *f = pk_format_by_name("pprof");
	assert_non_null(f);
	return f;
}

/* Write p in format f, uncompressed; *size gets the length. The result
 * (free it with free) has a NUL after the data, so strstr works on it. */
static char *write_as(const pk_profile *p, const pk_format *f, size_t *size)
{
	pk_write_options wo = PK_WRITE_OPTIONS_INIT;
	wo.format = f;
	wo.compress = PK_COMPRESS_NONE;
	void *out = NULL;
	pk_error err = PK_ERROR_INIT;
	int rc = pk_profile_write_buffer(p, &wo, &out, size, &err);
	if (rc != 0)
		fail_msg("writing %s failed: %s", pk_format_name(f), err.message);
	char *copy = malloc(*size + 1);
	assert_non_null(copy);
	memcpy(copy, out, *size);
	copy[*size] = '\0';
	pk_free(out);
	return copy;
}

static char *to_json(const pk_profile *p, size_t *size)
{
	return write_as(p, json_format(), size);
}

/* Read data, detecting the format; fails the test on error. */
static pk_profile *read_any(const void *data, size_t size, const pk_format **format_out)
{
	pk_profile *p = NULL;
	pk_error err = PK_ERROR_INIT;
	int rc = pk_profile_read_buffer(data, size, NULL, &p, format_out, &err);
	if (rc != 0)
		fail_msg("reading failed: %s (line %ld, column %ld)", err.message, err.line,
		         err.column);
	return p;
}

/* Read JSON text with the format forced; returns the code, fills *err. */
static int read_json_text(const char *text, pk_profile **out, pk_error *err)
{
	pk_read_options ro = PK_READ_OPTIONS_INIT;
	ro.format = json_format();
	pk_error_init(err);
	*out = NULL;
	return pk_profile_read_buffer(text, strlen(text), &ro, out, NULL, err);
}

static pk_profile *json_round_trip(const pk_profile *p)
{
	size_t size;
	char *json = to_json(p, &size);
	const pk_format *f = NULL;
	pk_profile *q = read_any(json, size, &f);
	assert_ptr_equal(f, json_format());
	free(json);
	return q;
}

/* Every field of the two models is the same, and so are the string tables,
 * index by index: the JSON keeps the table's order, which decides pprof's
 * bytes. */
static void assert_profiles_identical(const pk_profile *a, const pk_profile *b)
{
	assert_int_equal(pk_profile_string_count(a), pk_profile_string_count(b));
	for (size_t i = 0; i < pk_profile_string_count(a); i++)
		pk_test_assert_str_equal(a, (pk_str)i, b, (pk_str)i, "string table entry");
	assert_profiles_equal(a, b);
}

/* The bytes of a fixture (still gzipped), or NULL with the test skipped. */
static char *fixture_path(const char *name)
{
	const char *top = getenv("TOP_SRCDIR");
	if (top == NULL)
		return NULL;
	size_t n = strlen(top) + strlen(name) + 32;
	char *path = malloc(n);
	assert_non_null(path);
	snprintf(path, n, "%s/tests/fixtures/pprof/%s", top, name);
	return path;
}

/* ------------------------------------------------------------ round trips */

static void test_rich_round_trip(void **state)
{
	(void)state;
	pk_profile *p = make_rich_profile();
	pk_profile *q = json_round_trip(p);
	assert_profiles_identical(p, q);
	/* spot checks that the comparison itself sees the odd values */
	assert_int_equal(pk_profile_location(q, 1)->id, 0x8000000000000001ULL);
	assert_int_equal(pk_profile_location(q, 1)->address, 0xffffffff81000000ULL);
	assert_int_equal(pk_profile_location(q, 1)->mapping, PK_NONE);
	pk_profile_free(p);
	pk_profile_free(q);
}

static void test_empty_round_trip(void **state)
{
	(void)state;
	pk_profile *p = NULL;
	assert_int_equal(pk_profile_new(&p), 0);
	pk_profile *q = json_round_trip(p);
	assert_profiles_identical(p, q);
	pk_profile_free(p);
	pk_profile_free(q);
}

/* Values at the edges of every integer field, strings with NUL bytes and
 * bytes that are not UTF-8, and a string that is in the table but unused. */
static void test_edge_values_round_trip(void **state)
{
	(void)state;
	pk_profile *p = NULL;
	assert_int_equal(pk_profile_new(&p), 0);
	pk_str unused, nul, bad, empty_type;
	assert_int_equal(pk_profile_intern(p, "unused", 6, &unused), 0);
	assert_int_equal(pk_profile_intern(p, "a\0b", 3, &nul), 0);
	assert_int_equal(pk_profile_intern(p, "\xff\xfe\x00z", 4, &bad), 0);
	assert_int_equal(pk_profile_intern(p, "\"\\/\n\t\x01\xc3\xa9\xe2\x82\xac", 11, &empty_type),
	                 0);
	assert_int_equal(pk_profile_add_sample_type(p, (pk_value_type){nul, bad}), 0);
	assert_int_equal(pk_profile_add_sample_type(p, (pk_value_type){0, 0}), 0);
	pk_profile_set_period(p, INT64_MIN);
	pk_profile_set_time_nanos(p, INT64_MAX);
	pk_profile_set_duration_nanos(p, -1);
	pk_profile_set_doc_url(p, bad);
	pk_profile_set_period_type(p, (pk_value_type){empty_type, 0});
	assert_int_equal(pk_profile_add_comment(p, 0), 0);
	assert_int_equal(pk_profile_add_comment(p, empty_type), 0);

	pk_mapping m = {UINT64_MAX, UINT64_MAX, 0x8000000000000000ULL, INT64_MAX, bad, nul, 0, 1,
	                0,          1};
	uint32_t mi;
	assert_int_equal(pk_profile_add_mapping(p, &m, &mi), 0);
	pk_function f = {0x7fffffffffffffffULL, nul, bad, 0, INT64_MIN};
	uint32_t fi;
	assert_int_equal(pk_profile_add_function(p, &f, &fi), 0);
	pk_function g = {0x8000000000000000ULL, 0, 0, 0, 0};
	uint32_t gi;
	assert_int_equal(pk_profile_add_function(p, &g, &gi), 0);
	pk_location l0 = {1, mi, UINT64_MAX, 1};
	pk_line lines[3] = {{fi, INT64_MAX, INT64_MIN}, {gi, 0, 0}, {fi, -5, 0}};
	uint32_t li0, li1;
	assert_int_equal(pk_profile_add_location(p, &l0, lines, 3, &li0), 0);
	pk_location l1 = {UINT64_MAX - 1, PK_NONE, 0, 0};
	assert_int_equal(pk_profile_add_location(p, &l1, NULL, 0, &li1), 0);

	uint32_t stack[3] = {li1, li0, li1};
	int64_t values[2] = {INT64_MIN, INT64_MAX};
	pk_label labels[4] = {
	    {nul, bad, 7, empty_type}, {0, 0, 0, 0}, {bad, 0, INT64_MIN, 0}, {unused, 0, 0, nul}};
	assert_int_equal(pk_profile_add_sample(p, stack, 3, values, 2, labels, 4), 0);
	assert_int_equal(pk_profile_add_sample(p, NULL, 0, values, 2, NULL, 0), 0);
	assert_int_equal(pk_profile_add_sample(p, stack, 3, values, 2, labels + 1, 1), 0);
	assert_int_equal(pk_profile_validate(p, NULL), 0);

	pk_profile *q = json_round_trip(p);
	assert_profiles_identical(p, q);

	size_t size;
	char *json = to_json(p, &size);
	assert_non_null(strstr(json, "\"memory_start\":\"0xffffffffffffffff\""));
	assert_non_null(strstr(json, "\"id\":\"18446744073709551615\""));
	assert_non_null(strstr(json, "\"id\":9223372036854775807,"));
	assert_non_null(strstr(json, "\"id\":\"9223372036854775808\""));
	assert_non_null(strstr(json, "{\"hex\":\"fffe007a\"}"));
	assert_non_null(strstr(json, "\"a\\u0000b\""));
	free(json);
	pk_profile_free(p);
	pk_profile_free(q);
}

static void test_rich_output_shape(void **state)
{
	(void)state;
	pk_profile *p = make_rich_profile();
	size_t size;
	char *json = to_json(p, &size);
	const char *start = "{\n  \"format\": \"profkit-profile\",\n  \"version\": 1,\n";
	assert_memory_equal(json, start, strlen(start));
	assert_non_null(strstr(json,
	                       "\n  \"samples\": [\n    {\"locations\":"
	                       "[\"9223372036854775809\",100],\"values\":[3,3072],"
	                       "\"labels\":[{\"key\":\"role\",\"str\":\"producer\"},"
	                       "{\"key\":\"bytes\",\"num\":1024,\"num_unit\":\"bytes\"}]},\n"));
	assert_non_null(strstr(json, "{\"id\":100,\"mapping_id\":7,\"address\":\"0x401000\","
	                             "\"lines\":[{\"function_id\":10,\"line\":12,\"column\":3}]}"));
	assert_non_null(strstr(json, "\"second \\\"quoted\\\" comment\""));
	assert_int_equal(json[size - 1], '\n');
	assert_int_equal(strlen(json), size);
	free(json);
	pk_profile_free(p);
}

static void test_deterministic(void **state)
{
	(void)state;
	pk_profile *p = make_rich_profile();
	size_t n1, n2, n3;
	char *a = to_json(p, &n1);
	char *b = to_json(p, &n2);
	assert_int_equal(n1, n2);
	assert_memory_equal(a, b, n1);
	/* and reading it back and writing again gives the same bytes */
	pk_profile *q = read_any(a, n1, NULL);
	char *c = to_json(q, &n3);
	assert_int_equal(n1, n3);
	assert_memory_equal(a, c, n1);
	free(a);
	free(b);
	free(c);
	pk_profile_free(p);
	pk_profile_free(q);
}

/* pprof -> model -> JSON -> model -> pprof gives the pprof bytes back. */
static void assert_pprof_json_pprof(const pk_profile *p)
{
	size_t n1, n2;
	char *pb1 = write_as(p, pprof_format(), &n1);
	pk_profile *from_pb = read_any(pb1, n1, NULL);
	pk_profile *from_json = json_round_trip(from_pb);
	assert_profiles_identical(from_pb, from_json);
	char *pb2 = write_as(from_json, pprof_format(), &n2);
	assert_int_equal(n1, n2);
	assert_memory_equal(pb1, pb2, n1);
	free(pb1);
	free(pb2);
	pk_profile_free(from_pb);
	pk_profile_free(from_json);
}

static void test_pprof_json_pprof(void **state)
{
	(void)state;
	pk_profile *p = make_rich_profile();
	assert_pprof_json_pprof(p);
	pk_profile_free(p);
}

static void test_fixtures_round_trip(void **state)
{
	(void)state;
	char *pattern = fixture_path("*.pb.gz");
	if (pattern == NULL)
		skip();
	glob_t g;
	assert_int_equal(glob(pattern, 0, NULL, &g), 0);
	assert_true(g.gl_pathc >= 1);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		pk_profile *p = NULL;
		pk_error err = PK_ERROR_INIT;
		if (pk_profile_read_path(g.gl_pathv[i], NULL, &p, NULL, &err) != 0)
			fail_msg("%s: %s", g.gl_pathv[i], err.message);
		assert_true(pk_profile_sample_count(p) > 0);
		pk_profile *q = json_round_trip(p);
		assert_profiles_identical(p, q);
		assert_pprof_json_pprof(p);
		pk_profile_free(p);
		pk_profile_free(q);
	}
	globfree(&g);
	free(pattern);
}

/* Hand-written JSON may leave out defaults and the string table, use
 * plain integers for addresses, decimal strings for ids, and keys in any
 * order. */
static void test_hand_written(void **state)
{
	(void)state;
	const char *text =
	    "{\"samples\": [{\"values\": [5], \"locations\": [\"2\", 1],"
	    "                \"labels\": [{\"key\": \"k\", \"num\": -3}]}],\n"
	    " \"locations\": [{\"id\": 1, \"mapping_id\": 9, \"address\": 4198400},\n"
	    "                {\"id\": \"0x2\", \"lines\": [{\"function_id\": 3}]}],\n"
	    " \"functions\": [{\"id\": 3, \"name\": {\"hex\": \"6d61696e\"}}],\n"
	    " \"mappings\": [{\"id\": 9, \"memory_start\": \"0X10\", \"has_functions\": true}],\n"
	    " \"sample_types\": [{\"type\": \"cpu\"}],\n"
	    " \"version\": 1, \"format\": \"profkit-profile\"}";
	pk_profile *p = NULL;
	pk_error err;
	assert_int_equal(read_json_text(text, &p, &err), 0);
	assert_int_equal(pk_profile_location(p, 0)->address, 4198400);
	assert_int_equal(pk_profile_location(p, 0)->mapping, 0);
	assert_int_equal(pk_profile_location(p, 1)->id, 2);
	assert_int_equal(pk_profile_mapping(p, 0)->memory_start, 16);
	assert_int_equal(pk_profile_mapping(p, 0)->has_functions, 1);
	assert_string_equal(pk_profile_string(p, pk_profile_function(p, 0)->name), "main");
	pk_sample s;
	assert_int_equal(pk_profile_sample(p, 0, &s), 0);
	assert_int_equal(s.depth, 2);
	assert_int_equal(s.locations[0], 1);
	assert_int_equal(s.values[0], 5);
	assert_int_equal(pk_profile_label(p, s.labels[0]).num, -3);
	assert_int_equal(pk_profile_label(p, s.labels[0]).str, 0);
	assert_string_equal(pk_profile_string(p, pk_profile_sample_type(p, 0).unit), "");
	pk_profile_free(p);
}

/* Strings with every escape, read by the fast element reader; keys in any
 * order, white space anywhere; an element it leaves to jansson (a key with
 * an escape) still reads. */
static void test_fast_reader(void **state)
{
	(void)state;
	const char *text =
	    "{\"format\": \"profkit-profile\", \"version\": 1, \"sample_types\": [{\"type\": "
	    "\"cpu\"}],\n"
	    " \"functions\": [ { \"name\" "
	    ":\"a\\u00e9\\ud83d\\ude00\\u0000\\/\\b\\f\\n\\r\\t\\\"\\\\\xc3\xa9\" ,\n"
	    "   \"id\":1 , \"start_line\" : -9223372036854775808 } ,\n"
	    "   {\"n\\u0061me\": \"escaped key\", \"id\": \"0x2\"},\n"
	    "   {\"id\": 3, \"filename\": {\"hex\": \"FF00\"}, \"system_name\": \"\"}],\n"
	    " \"samples\": [{\"values\": [ 9223372036854775807 ], \"labels\": [{\"num\": 0,\n"
	    "   \"num_unit\": \"u\", \"key\": \"k\"}], \"locations\": []}]}";
	pk_profile *p = NULL;
	pk_error err;
	if (read_json_text(text, &p, &err) != 0)
		fail_msg("%s at %ld:%ld", err.message, err.line, err.column);
	const pk_function *f = pk_profile_function(p, 0);
	const char want[] = "a\xc3\xa9\xf0\x9f\x98\x80\0/\b\f\n\r\t\"\\\xc3\xa9";
	assert_int_equal(pk_profile_string_length(p, f->name), sizeof want - 1);
	assert_memory_equal(pk_profile_string(p, f->name), want, sizeof want - 1);
	assert_int_equal(f->start_line, INT64_MIN);
	assert_string_equal(pk_profile_string(p, pk_profile_function(p, 1)->name), "escaped key");
	assert_int_equal(pk_profile_function(p, 1)->id, 2);
	assert_int_equal(pk_profile_string_length(p, pk_profile_function(p, 2)->filename), 2);
	assert_memory_equal(pk_profile_string(p, pk_profile_function(p, 2)->filename), "\xff\0", 2);
	pk_sample s;
	assert_int_equal(pk_profile_sample(p, 0, &s), 0);
	assert_int_equal(s.values[0], INT64_MAX);
	assert_int_equal(s.label_count, 1);
	assert_string_equal(pk_profile_string(p, pk_profile_label(p, s.labels[0]).key), "k");
	assert_string_equal(pk_profile_string(p, pk_profile_label(p, s.labels[0]).num_unit), "u");
	/* strings are interned in the order of the fields, whatever the order
	 * of the keys, as the jansson reader did: it decides pprof's bytes */
	pk_str k, u;
	assert_int_equal(pk_profile_intern(p, "k", 1, &k), 0);
	assert_int_equal(pk_profile_intern(p, "u", 1, &u), 0);
	assert_true(k < u);
	pk_profile_free(p);
}

/* Label strings equal to the label before's, or not: of the same length,
 * escaped, longer than the reader keeps, each sample gets its own. */
static void test_label_strings_repeat(void **state)
{
	(void)state;
	const char *labels[][3] = {
	    {"k", "a", NULL},
	    {"k", "b", "u"},
	    {"k", "a", "u"},
	    {"k", "a", NULL},
	    {"k", "\\u0061", "v"},
	    {"x", "a", "u"},
	    {"kk", "b", NULL},
	    {"a-key-longer-than-the-sixty-four-bytes-that-the-reader-keeps-of-one", "b", NULL},
	    {"a-key-longer-than-the-sixty-four-bytes-that-the-reader-keeps-of-one", "c", NULL},
	    {"a-key-longer-than-the-sixty-four-bytes-that-the-reader-keeps-of-two", "c", NULL},
	    {"k", "c", NULL},
	};
	size_t n = sizeof labels / sizeof labels[0];
	char text[4096];
	size_t len = (size_t)snprintf(text, sizeof text,
	                              "{\"format\": \"profkit-profile\", \"version\": 1, "
	                              "\"sample_types\": [{\"type\": \"cpu\"}], \"samples\": [");
	for (size_t i = 0; i < n; i++) {
		len += (size_t)snprintf(text + len, sizeof text - len,
		                        "%s{\"values\": [1], \"labels\": [{\"key\": \"%s\", "
		                        "\"str\": \"%s\"%s%s%s}]}",
		                        i ? ", " : "", labels[i][0], labels[i][1],
		                        labels[i][2] ? ", \"num_unit\": \"" : "",
		                        labels[i][2] ? labels[i][2] : "", labels[i][2] ? "\"" : "");
		assert_true(len < sizeof text);
	}
	snprintf(text + len, sizeof text - len, "]}");
	pk_profile *p = NULL;
	pk_error err;
	if (read_json_text(text, &p, &err) != 0)
		fail_msg("%s at %ld:%ld", err.message, err.line, err.column);
	for (size_t i = 0; i < n; i++) {
		pk_sample s;
		assert_int_equal(pk_profile_sample(p, i, &s), 0);
		assert_int_equal(s.label_count, 1);
		assert_string_equal(pk_profile_string(p, pk_profile_label(p, s.labels[0]).key),
		                    labels[i][0]);
		const char *str = i == 4 ? "a" : labels[i][1];
		assert_string_equal(pk_profile_string(p, pk_profile_label(p, s.labels[0]).str),
		                    str);
		assert_string_equal(pk_profile_string(p, pk_profile_label(p, s.labels[0]).num_unit),
		                    labels[i][2] ? labels[i][2] : "");
	}
	pk_profile_free(p);
}

/* The writer escapes exactly as jansson's JSON_COMPACT did, and writes
 * what jansson would refuse as UTF-8 in hex. */
static void test_writer_escapes(void **state)
{
	(void)state;
	pk_profile *p = NULL;
	assert_int_equal(pk_profile_new(&p), 0);
	char all[127];
	for (int i = 0; i < 127; i++)
		all[i] = (char)(i + 1);
	const char *bad[] = {"\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "ok\xe2\x82"};
	pk_str s;
	assert_int_equal(pk_profile_intern(p, all, sizeof all, &s), 0);
	assert_int_equal(pk_profile_add_comment(p, s), 0);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(pk_profile_intern(p, bad[i], strlen(bad[i]), &s), 0);
		assert_int_equal(pk_profile_add_comment(p, s), 0);
	}
	assert_int_equal(pk_profile_intern(p, "\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf", 8, &s), 0);
	assert_int_equal(pk_profile_add_comment(p, s), 0);
	size_t size;
	char *json = to_json(p, &size);
	const char *want =
	    "\n  \"comments\": [\n"
	    "    \"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000B\\f\\r\\u000E"
	    "\\u000F\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001A"
	    "\\u001B\\u001C\\u001D\\u001E\\u001F !\\\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNO"
	    "PQRSTUVWXYZ[\\\\]^_`abcdefghijklmnopqrstuvwxyz{|}~\x7f\",\n"
	    "    {\"hex\":\"c080\"},\n"
	    "    {\"hex\":\"eda080\"},\n"
	    "    {\"hex\":\"f4908080\"},\n"
	    "    {\"hex\":\"6f6be282\"},\n"
	    "    \"\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"\n"
	    "  ],";
	if (strstr(json, want) == NULL)
		fail_msg("unexpected output:\n%s", json);
	pk_profile *q = json_round_trip(p);
	assert_profiles_identical(p, q);
	free(json);
	pk_profile_free(p);
	pk_profile_free(q);
}

/* --------------------------------------------------------------- sniffing */

static void test_sniff(void **state)
{
	(void)state;
	pk_profile *p = make_rich_profile();
	size_t size;
	char *json = to_json(p, &size);
	assert_ptr_equal(pk_format_detect(json, size), json_format());
	char *pb = write_as(p, pprof_format(), &size);
	assert_ptr_equal(pk_format_detect(pb, size), pprof_format());
	free(json);
	free(pb);
	pk_profile_free(p);

	const char *yes[] = {
	    "{\"format\":\"profkit-profile\"}",
	    " \r\n\t{ \"version\": 1, \"format\" :\n \"profkit-profile\" }",
	};
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
		assert_ptr_equal(pk_format_detect(yes[i], strlen(yes[i])), json_format());
	const char *no[] = {
	    "",
	    "{}",
	    "[{\"format\":\"profkit-profile\"}]",
	    "{\"format\":\"speedscope\"}",
	    "x{\"format\":\"profkit-profile\"}",
	    "{\"format\":\"profkit-profil",
	    "{\"formats\":\"profkit-profile\"}",
	};
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		assert_ptr_not_equal(pk_format_detect(no[i], strlen(no[i])), json_format());

	/* the marker must be near the start */
	size_t n = 8192;
	char *big = malloc(n + 64);
	assert_non_null(big);
	big[0] = '{';
	memset(big + 1, ' ', n);
	strcpy(big + 1 + n, "\"format\":\"profkit-profile\"}");
	assert_ptr_not_equal(pk_format_detect(big, strlen(big)), json_format());
	free(big);
}

/* ----------------------------------------------------------------- errors */

#define HEAD "{\"format\": \"profkit-profile\", \"version\": 1,\n"
#define TYPES "\"sample_types\": [{\"type\": \"a\", \"unit\": \"b\"}]"
#define OBJECTS                                                                                    \
	"\"mappings\": [{\"id\": 1}],\n"                                                           \
	"\"functions\": [{\"id\": 1, \"name\": \"f\"}],\n"                                         \
	"\"locations\": [{\"id\": 1, \"mapping_id\": 1, \"lines\": [{\"function_id\": 1}]}],\n"

/* three locations, ids 1 to 3 */
#define OBJECTS_3                                                                                  \
	"\"mappings\": [{\"id\": 1}],\n"                                                           \
	"\"functions\": [{\"id\": 1, \"name\": \"f\"}],\n"                                         \
	"\"locations\": [{\"id\": 1, \"mapping_id\": 1, \"lines\": [{\"function_id\": 1}]}, "      \
	"{\"id\": 2}, {\"id\": 3}],\n"

typedef struct bad_case {
	const char *text;
	long line, column;   /* 0: not checked */
	const char *message; /* a substring of the message */
} bad_case;

static const bad_case bad_cases[] = {
    /* syntax errors, where jansson finds them and where the outer walk does */
    {HEAD TYPES ",\n\"samples\": [\n  {\"values\": [1]},\n  {\"values\": [1,]}\n]}", 5, 17,
     "invalid JSON: unexpected token near ']'"},
    {HEAD TYPES ",\n\"period\": 12 13}", 3, 14, "expected ',' or '}' after a value, found '1'"},
    {HEAD TYPES ",\n\"period\": tru}", 3, 13, "invalid JSON: invalid token near 'tru'"},
    {HEAD TYPES ",\n\"samples\": [{\"values\": [1]},]}", 3, 29, "expected a JSON value, found ']'"},
    {HEAD TYPES ",\n\"samples\": [{\"values\": [1]}", 3, 27, "']' expected near end of file"},
    {HEAD TYPES ",\n\"samples\": [{\"values\": [1]} {}]}", 3, 29,
     "expected ',' or ']' after an element"},
    {HEAD TYPES ",\n\"samples\": [{\"values\": [1]", 3, 0, "invalid JSON"},
    {HEAD TYPES ",\n\"comments\": [\"abc]}", 3, 0, "premature end of input"},
    {HEAD TYPES "} x", 2, 47, "unexpected data after the end of the profile"},
    /* the string table taken from the end (guess_tail): a wrong guess,
     * or an error after it, gives the message of the whole scan */
    {HEAD TYPES ",\n\"samples\": [{\"values\": [1]}]],\n\"string_table\": [5]}", 3, 29,
     "expected ',' or '}' after a value, found ']'"},
    {HEAD TYPES ",\n\"string_table\": [],\n\"samples\": [],\n\"string_table\": []}", 5, 1,
     "the key \"string_table\" appears twice"},
    {HEAD TYPES ",\n\"samples\": [{\"values\": [1], \"labels\": [{\"key\": \"], \\\""
                "string_table\\\": [\"}]}],\n\"string_table\": [\"\", 7]}",
     4, 22, "string_table[1] must be a string or a {\"hex\": ...} object"},
    {HEAD TYPES ",\n\"samples\": [{\"values\": [1]}],\n\"string_table\": [\"\"]\n,}", 5, 2,
     "expected a key string, found '}'"},
    {HEAD TYPES ",\n\"period\" 1}", 3, 10, "expected ':' after a key"},
    {HEAD TYPES " \x01}", 2, 46, "expected ',' or '}' after a value, found byte 0x01"},
    {HEAD TYPES ",\n period: 1}", 3, 2, "expected a key string, found 'p'"},
    {"  \n ", 2, 2, "expected '{' to start a profkit JSON profile, found the end of the input"},
    {"  [1]", 1, 3, "expected '{'"},
    {HEAD TYPES ",\n\"comments\": [\"a\\u0000b\", \"\xc3\x28\"]}", 3, 26,
     "unable to decode byte 0xc3"},
    {HEAD TYPES ",\n\"samples\": [{\"values\": [99999999999999999999]}]}", 3, 0, "too big integer"},
    {HEAD TYPES ",\n\"samples\": [{\"values\": [1], \"values\": [2]}]}", 3, 0,
     "duplicate object key"},
    {HEAD TYPES ", \"sample_types\": []}", 2, 47, "the key \"sample_types\" appears twice"},
    /* the header */
    {"{\"version\": 1, " TYPES "}", 1, 1,
     "the profile has no \"format\": \"profkit-profile\" marker"},
    {"{\"format\": \"profkit-profile\", " TYPES "}", 1, 1, "the profile has no \"version\""},
    {HEAD "\"period\": 1}", 1, 1, "the profile has no \"sample_types\""},
    {"{\"format\": \"pprof\", \"version\": 1, " TYPES "}", 1, 12,
     "format must be \"profkit-profile\""},
    {HEAD TYPES ", \"version\": 2}", 0, 0, "the key \"version\" appears twice"},
    {"{\"format\": \"profkit-profile\", \"version\": 2, " TYPES "}", 1, 42,
     "version is 2, but this profkit reads version 1 only"},
    {HEAD TYPES ",\n\"sampels\": []}", 3, 1, "unknown key \"sampels\" in the profile"},
    /* a newer version is reported as such, before its unknown keys */
    {"{\"format\": \"profkit-profile\", \"new\": 1, \"version\": 2}", 1, 52, "version is 2"},
    {"{\"format\": \"profkit-profile\", \"new\": 1, \"version\": 1}", 1, 31,
     "unknown key \"new\" in the profile"},
    {HEAD TYPES ",\n\"period\": \"12\"}", 3, 11, "period must be an integer"},
    {HEAD TYPES ",\n\"period\": 1.5}", 3, 11, "period must be an integer"},
    {HEAD TYPES ",\n\"doc_url\": 5}", 3, 12, "doc_url must be a string"},
    {HEAD TYPES ",\n\"samples\": {}}", 3, 12, "samples must be an array"},
    {HEAD "\"sample_types\": [{\"type\": \"a\", \"units\": \"b\"}]}", 2, 18,
     "sample_types[0] has an unknown key \"units\""},
    {HEAD "\"sample_types\": [\"cpu\"]}", 2, 18, "sample_types[0] must be an object"},
    {HEAD TYPES ",\n\"period_type\": {\"type\": null}}", 3, 16,
     "period_type.type must be a string"},
    {HEAD TYPES ",\n\"comments\": [1]}", 3, 14, "comments[0] must be a string"},
    {HEAD TYPES ",\n\"comments\": [{\"hex\": \"abc\"}]}", 3, 14,
     "comments[0].hex has an odd number"},
    {HEAD TYPES ",\n\"comments\": [{\"hex\": \"zz\"}]}", 3, 14,
     "comments[0].hex must hold hex digits"},
    {HEAD TYPES ",\n\"string_table\": [\"\", 7]}", 3, 22, "string_table[1] must be a string"},
    /* objects */
    {HEAD TYPES ",\n\"functions\": [{\"id\": 1}, {\"id\": 2}, {\"id\": 1}]}", 3, 37,
     "functions[2] has id 1, which functions[0] has too"},
    {HEAD TYPES ",\n\"mappings\": [{\"id\": 0}]}", 3, 14,
     "mappings[0] has id 0, which is reserved"},
    {HEAD TYPES ",\n\"mappings\": [{\"memory_start\": \"0x1\"}]}", 3, 14,
     "mappings[0] has no \"id\""},
    {HEAD TYPES ",\n\"mappings\": [{\"id\": -4}]}", 3, 14,
     "mappings[0].id must be a non-negative integer"},
    {HEAD TYPES ",\n\"mappings\": [{\"id\": 1, \"memory_start\": \"0x\"}]}", 3, 14,
     "mappings[0].memory_start must be"},
    {HEAD TYPES ",\n\"mappings\": [{\"id\": 1, \"memory_start\": \"0x10000000000000000\"}]}", 3, 14,
     "mappings[0].memory_start must be"},
    {HEAD TYPES ",\n\"mappings\": [{\"id\": \"18446744073709551616\"}]}", 3, 14,
     "mappings[0].id must be"},
    /* jansson reads JSON integers into int64: ids from 2^63 on must be strings */
    {HEAD TYPES ",\n\"mappings\": [{\"id\": 9223372036854775808}]}", 3, 0,
     "invalid JSON: too big integer"},
    {HEAD TYPES ",\n\"mappings\": [{\"id\": 1, \"has_functions\": 1}]}", 3, 14,
     "mappings[0].has_functions must be true or false"},
    {HEAD TYPES ",\n\"functions\": [{\"id\": 1, \"start_line\": \"3\"}]}", 3, 15,
     "functions[0].start_line must be an integer"},
    {HEAD TYPES ",\n\"functions\": [{\"id\": 1, \"name\\u0000x\": \"f\"}]}", 3, 37,
     "NUL byte in object key not supported"},
    {HEAD TYPES ",\n\"locations\": [{\"id\": 1, \"mapping_id\": 4}]}", 3, 15,
     "locations[0] refers to mapping id 4, which no mapping has"},
    {HEAD TYPES ",\n\"locations\": [{\"id\": 1, \"lines\": [{\"function_id\": 8}]}]}", 3, 15,
     "locations[0].lines[0] refers to function id 8, which no function has"},
    {HEAD TYPES ",\n\"locations\": [{\"id\": 1, \"lines\": [{}]}]}", 3, 15,
     "locations[0].lines[0] has no \"function_id\""},
    {HEAD TYPES ",\n\"locations\": [{\"id\": 1, \"lines\": {}}]}", 3, 15,
     "locations[0].lines must be an array"},
    /* samples */
    {HEAD TYPES ",\n" OBJECTS "\"samples\": [\n{\"values\": [1]},\n{\"values\": [1, 2]}]}", 8, 1,
     "samples[1] has 2 values but needs one per sample type (1)"},
    {HEAD TYPES ",\n" OBJECTS "\"samples\": [{\"locations\": [1, 99], \"values\": [1]}]}", 6, 13,
     "samples[0].locations[1] refers to location id 99, which no location has"},
    {HEAD TYPES ",\n" OBJECTS "\"samples\": [{\"locations\": [1]}]}", 6, 13,
     "samples[0] has no \"values\""},
    {HEAD TYPES ",\n" OBJECTS "\"samples\": [{\"values\": [\"1\"]}]}", 6, 13,
     "samples[0].values[0] must be an integer"},
    {HEAD TYPES ",\n" OBJECTS "\"samples\": [{\"values\": [1], \"labels\": [{\"str\": \"x\"}]}]}",
     6, 13, "samples[0].labels[0] has no \"key\""},
    {HEAD TYPES ",\n" OBJECTS
                "\"samples\": [{\"values\": [1], \"labels\": [{\"key\": \"k\", \"num\": 1e3}]}]}",
     6, 13, "samples[0].labels[0].num must be an integer"},
    {HEAD TYPES ",\n" OBJECTS "\"samples\": [[1]]}", 6, 13, "samples[0] must be an object"},
    {HEAD "\"sample_types\": [],\n\"samples\": [{\"values\": []}]}", 3, 13,
     "samples[0] is a sample, but the profile has no sample types"},
    /* what the fast element reader leaves to jansson keeps jansson's words */
    {HEAD TYPES ",\n\"functions\": [{\"id\": 1, \"name\": \"\\ud800\"}]}", 3, 40,
     "invalid JSON: invalid Unicode '\\uD800' near '\"\\ud800\"'"},
    {HEAD TYPES ",\n\"functions\": [{\"id\": 1, \"name\": \"\\udc00x\"}]}", 3, 41,
     "invalid Unicode '\\uDC00'"},
    {HEAD TYPES ",\n\"functions\": [{\"id\": 1, \"name\": \"a\xc0\x80\"}]}", 3, 34,
     "invalid JSON: unable to decode byte 0xc0 near '\"a'"},
    {HEAD TYPES ",\n\"functions\": [{\"id\": 1, \"name\": \"a\tb\"}]}", 3, 34,
     "invalid JSON: control character 0x9 near '\"a'"},
    {HEAD TYPES ",\n\"functions\": [{\"id\": 1, \"name\": \"\\x\"}]}", 3, 35,
     "invalid JSON: invalid escape near '\"\\x'"},
    {HEAD TYPES ",\n\"functions\": [{\"id\": 1, \"id\": 2}]}", 3, 28,
     "invalid JSON: duplicate object key near '\"id\"'"},
    {HEAD TYPES ",\n\"samples\": [{\"values\": [01]}]}", 3, 25,
     "invalid JSON: invalid token near '0'"},
    {HEAD TYPES ",\n\"samples\": [{\"values\": [-9223372036854775809]}]}", 3, 44,
     "invalid JSON: too big negative integer"},
    {HEAD TYPES ",\n\"samples\": [{\"values\": [1], \"locations\": [\"0x0\"]}]}", 3, 13,
     "samples[0].locations[0] refers to location id 0, which no location has"},
    /* a sample's numbers: what the one-word reader leaves to the others */
    {HEAD TYPES ",\n" OBJECTS "\"samples\": [{\"locations\": [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
                "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,01], \"values\": [1]}]}",
     6, 102, "invalid JSON: invalid token near '0'"},
    {HEAD TYPES ",\n" OBJECTS "\"samples\": [{\"values\": [0123456789012]}]}", 6, 25,
     "invalid JSON: invalid token near '0'"},
    {HEAD TYPES ",\n" OBJECTS "\"samples\": [{\"values\": [01,2,3,4,5]}]}", 6, 25,
     "invalid JSON: invalid token near '0'"},
    {HEAD TYPES ",\n" OBJECTS "\"samples\": [{\"values\": [1.5], \"locations\": [1]}]}", 6, 13,
     "samples[0].values[0] must be an integer"},
    {HEAD TYPES ",\n" OBJECTS "\"samples\": [{\"locations\": [1,1e3,1,1], \"values\": [1]}]}", 6,
     13, "samples[0].locations[1] must be a non-negative integer"},
    {HEAD TYPES ",\n" OBJECTS "\"samples\": [{\"locations\": [1,1,12345678,1], \"values\": [1]}]}",
     6, 13, "samples[0].locations[2] refers to location id 12345678, which no location has"},
    {HEAD TYPES ",\n" OBJECTS "\"samples\": [{\"locations\": [1,1,1,1,1,1,1,1,1,1,1,1", 6, 0,
     "invalid JSON"},
    {HEAD TYPES ",\n" OBJECTS "\"samples\": [{\"locations\": [1,1,1,1,1,1,1,1]", 6, 0,
     "invalid JSON"},
    /* the functions and locations found by a search in the writer's
     * layout (guess_middle): an error in them, a "locations" key inside
     * a function, a key twice, give the message of the whole scan */
    {HEAD TYPES ",\n\"functions\": [{\"id\": 1}, {\"id\": 1}],\n\"locations\": [],\n"
                "\"samples\": [],\n\"string_table\": [\"\"]}",
     3, 26, "functions[1] has id 1, which functions[0] has too"},
    {HEAD TYPES ",\n\"functions\": [],\n\"locations\": [{\"id\": 1, \"lines\": "
                "[{\"function_id\": 8}]}],\n\"samples\": [],\n\"string_table\": [\"\"]}",
     4, 15, "locations[0].lines[0] refers to function id 8, which no function has"},
    {HEAD TYPES ",\n\"functions\": [{\"id\": 1, \"locations\": [1]}],\n\"locations\": [],\n"
                "\"samples\": [],\n\"string_table\": [\"\"]}",
     3, 15, "functions[0] has an unknown key \"locations\""},
    {HEAD TYPES ",\n\"functions\": [],\n\"locations\": [],\n\"functions\": [],\n"
                "\"samples\": [],\n\"string_table\": [\"\"]}",
     5, 1, "the key \"functions\" appears twice"},
    /* the input ends where the samples' value should be (the string
     * table's guess from the end must not look past it: found by fuzz_json) */
    {"{\"samples\":\t", 1, 13, "expected a JSON value, found the end of the input"},
    {HEAD TYPES ",\n\"samples\": ", 3, 12, "expected a JSON value, found the end of the input"},
};

static void test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		const bad_case *c = &bad_cases[i];
		pk_profile *p = NULL;
		pk_error err;
		int rc = read_json_text(c->text, &p, &err);
		if (rc != PK_EFORMAT || strstr(err.message, c->message) == NULL ||
		    (c->line && err.line != c->line) || (c->column && err.column != c->column))
			fail_msg("case %zu: got %d at %ld:%ld \"%s\"; want %ld:%ld \"%s\"", i, rc,
			         err.line, err.column, err.message, c->line, c->column, c->message);
		assert_null(p);
		assert_ptr_equal(err.format, json_format()->name);
		assert_null(strchr(err.message, '\n'));
		assert_true(err.offset >= 0 && (size_t)err.offset <= strlen(c->text));
	}
}

/* Nesting deeper than jansson allows is an error, not a stack overflow. */
static void test_deep_nesting(void **state)
{
	(void)state;
	size_t depth = 100000;
	const char *head = HEAD TYPES ",\n\"samples\": [{\"values\": [1], \"labels\": ";
	size_t n = strlen(head);
	char *text = malloc(n + 2 * depth + 8);
	assert_non_null(text);
	memcpy(text, head, n);
	memset(text + n, '[', depth);
	memset(text + n + depth, ']', depth);
	strcpy(text + n + 2 * depth, "}]}");
	pk_profile *p = NULL;
	pk_error err;
	assert_int_equal(read_json_text(text, &p, &err), PK_EFORMAT);
	assert_non_null(strstr(err.message, "depth"));
	free(text);
}

/* Errors carry the line also when a sample is on a later line of a big
 * document, and the source name of the read. */
static void test_error_position_in_big_document(void **state)
{
	(void)state;
	pk_profile *p = make_rich_profile();
	for (int i = 0; i < 1000; i++) {
		int64_t v[2] = {i, i};
		assert_int_equal(pk_profile_add_sample(p, NULL, 0, v, 2, NULL, 0), 0);
	}
	size_t size;
	char *json = to_json(p, &size);
	/* break the 500th added sample's second value */
	char *at = strstr(json, "{\"locations\":[],\"values\":[500,500]}");
	assert_non_null(at);
	long line = 1;
	for (char *c = json; c < at; c++)
		line += *c == '\n';
	memcpy(at + strlen("{\"locations\":[],\"values\":[500,"), "\"5\"", 3);
	pk_read_options ro = PK_READ_OPTIONS_INIT;
	ro.source_name = "big.json";
	pk_profile *q = NULL;
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(pk_profile_read_buffer(json, size, &ro, &q, NULL, &err), PK_EFORMAT);
	assert_string_equal(err.message, "samples[503].values[1] must be an integer");
	assert_int_equal(err.line, line);
	assert_int_equal(err.column, 5);
	assert_int_equal(err.offset, at - json);
	assert_string_equal(err.source, "big.json");
	char buf[256];
	pk_error_describe(&err, buf, sizeof buf);
	char want[256];
	snprintf(want, sizeof want, "big.json:%ld:5: samples[503].values[1] must be an integer",
	         line);
	assert_string_equal(buf, want);
	free(json);
	pk_profile_free(p);
}

/* The string table is taken from the end when it is last, as the writer
 * puts it; strings that look like brackets or keys do not fool the scan
 * back, and a table that is not last, or a key written with an escape, is
 * found by the whole scan. */
static void test_string_table_at_the_end(void **state)
{
	(void)state;
	static const char *const texts[] = {
	    HEAD TYPES ",\n\"samples\": [{\"values\": [1], \"labels\": [{\"key\": \"]\", "
	               "\"str\": \"[\\\"\"}]}],\n\"string_table\": [\"\", \"\\\\\", \"a\\\"]\", "
	               "\"]\", \"[\\\"\"] }\n",
	    HEAD TYPES ",\n\"samples\": [{\"values\": [1], \"labels\": [{\"key\": \"]\", "
	               "\"str\": \"[\\\"\"}]}],\n\"string_table\": [\"\", \"\\\\\", \"a\\\"]\"], "
	               "\"comments\": [\"]\"]}",
	    HEAD TYPES ",\n\"samples\": [{\"values\": [1], \"labels\": [{\"key\": \"]\", "
	               "\"str\": \"[\\\"\"}]}],\n\"string\\u005ftable\": [\"\", \"\\\\\", "
	               "\"a\\\"]\"]}",
	};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		pk_profile *p = NULL;
		pk_error err;
		if (read_json_text(texts[i], &p, &err) != 0)
			fail_msg("text %zu: %s at %ld:%ld", i, err.message, err.line, err.column);
		/* the table's order first, then the strings met later */
		assert_string_equal(pk_profile_string(p, 1), "\\");
		assert_string_equal(pk_profile_string(p, 2), "a\"]");
		pk_sample s;
		assert_int_equal(pk_profile_sample(p, 0, &s), 0);
		assert_string_equal(pk_profile_string(p, pk_profile_label(p, s.labels[0]).key),
		                    "]");
		assert_string_equal(pk_profile_string(p, pk_profile_label(p, s.labels[0]).str),
		                    "[\"");
		pk_profile_free(p);
	}
}

/* The locations and samples keys are found by a search when the functions
 * come first (guess_middle): a key's text in a string, or another key
 * between the arrays, does not fool it. */
static void test_functions_and_locations_found(void **state)
{
	(void)state;
	static const char *const texts[] = {
	    HEAD TYPES
	    ",\n\"functions\": [{\"id\": 1, \"name\": \", \\\"locations\\\": [\"}],\n"
	    "\"locations\": [{\"id\": 1, \"mapping_id\": 1, \"lines\": [{\"function_id\": "
	    "1}]}],\n\"samples\": [{\"locations\": [1], \"values\": [1]}],\n"
	    "\"string_table\": [\"\"], \"mappings\": [{\"id\": 1}]}",
	    HEAD TYPES
	    ",\n\"mappings\": [{\"id\": 1}],\n\"functions\": [{\"id\": 1, \"name\": "
	    "\", \\\"locations\\\": [\"}],\n\"locations\": [{\"id\": 1, \"mapping_id\": "
	    "1, \"lines\": [{\"function_id\": 1}]}],\n\"samples\": [{\"locations\": [1], "
	    "\"values\": [1]}],\n\"string_table\": [\"\"]}",
	    HEAD TYPES
	    ",\n\"functions\": [{\"id\": 1, \"name\": \", \\\"locations\\\": [\"}],\n"
	    "\"mappings\": [{\"id\": 1}],\n\"locations\": [{\"id\": 1, \"mapping_id\": "
	    "1, \"lines\": [{\"function_id\": 1}]}],\n\"samples\": [{\"locations\": [1], "
	    "\"values\": [1]}],\n\"string_table\": [\"\"]}",
	};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		pk_profile *p = NULL;
		pk_error err;
		if (read_json_text(texts[i], &p, &err) != 0)
			fail_msg("text %zu: %s at %ld:%ld", i, err.message, err.line, err.column);
		assert_int_equal(pk_profile_mapping_count(p), 1);
		assert_int_equal(pk_profile_function_count(p), 1);
		assert_string_equal(pk_profile_string(p, pk_profile_function(p, 0)->name),
		                    ", \"locations\": [");
		assert_int_equal(pk_profile_location_count(p), 1);
		assert_int_equal(pk_profile_location(p, 0)->mapping, 0);
		assert_int_equal(pk_profile_sample_count(p), 1);
		pk_profile_free(p);
	}
}

/* A plain file larger than a read chunk is mapped, and the pages behind
 * each pass are given back: the profile and an error's place are as when
 * the same bytes are read from memory. */
static void test_mapped_file(void **state)
{
	(void)state;
	pk_profile *p = make_rich_profile();
	for (int i = 0; i < 100000; i++) {
		int64_t v[2] = {i, -i};
		assert_int_equal(pk_profile_add_sample(p, NULL, 0, v, 2, NULL, 0), 0);
	}
	size_t size;
	char *json = to_json(p, &size);
	assert_true(size > ((size_t)3 << 20));
	const char *tmp = getenv("TMPDIR");
	char path[4096];
	snprintf(path, sizeof path, "%s/pk_test_json.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(json, 1, size, f), size);
	assert_int_equal(fclose(f), 0);
	pk_profile *q = NULL;
	pk_error err = PK_ERROR_INIT;
	if (pk_profile_read_path(path, NULL, &q, NULL, &err) != 0)
		fail_msg("%s", err.message);
	assert_profiles_identical(p, q);
	pk_profile_free(q);

	/* an error late in the samples, after pages were given back */
	char *at = strstr(json, "{\"locations\":[],\"values\":[99000,-99000]}");
	assert_non_null(at);
	memcpy(at + strlen("{\"locations\":[],\"values\":[99000,"), "\"", 1);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(json, 1, size, f), size);
	assert_int_equal(fclose(f), 0);
	pk_error want = PK_ERROR_INIT;
	q = NULL;
	assert_int_equal(pk_profile_read_buffer(json, size, NULL, &q, NULL, &want), PK_EFORMAT);
	pk_error_init(&err);
	assert_int_equal(pk_profile_read_path(path, NULL, &q, NULL, &err), PK_EFORMAT);
	assert_null(q);
	assert_string_equal(err.message, want.message);
	assert_int_equal(err.line, want.line);
	assert_int_equal(err.column, want.column);
	assert_int_equal(err.offset, want.offset);
	assert_true(err.offset > at - json);
	remove(path);
	free(json);
	pk_profile_free(p);
}

/* Many samples in a row, which the fast path adds in batches: one it
 * leaves to jansson (a key with an escape) anywhere in a batch keeps its
 * place; the numbers come in every form the readers take. */
static void test_sample_batches(void **state)
{
	(void)state;
	char *text = malloc(65536);
	assert_non_null(text);
	size_t len = (size_t)snprintf(text, 65536, "%s", HEAD TYPES ",\n" OBJECTS "\"samples\": [");
	const char *forms[] = {"[1]",       "[ 1 ]",     "[1 ,1]",
	                       "[\"1\",1]", "[\"0x1\"]", "[1,1,1,1,1,1,1,1,1]"};
	for (int i = 0; i < 100; i++) {
		const char *values = i % 17 == 5 ? "v\\u0061lues" : "values";
		len += (size_t)snprintf(text + len, 65536 - len,
		                        "%s{\"locations\": %s, \"%s\": [%d%s]}", i ? ",\n" : "",
		                        forms[i % 6], values, i % 3 == 0 ? -i : i * 1000003,
		                        i % 7 == 0 ? " " : "");
		assert_true(len < 65536);
	}
	snprintf(text + len, 65536 - len, "]}");
	pk_profile *p = NULL;
	pk_error err;
	if (read_json_text(text, &p, &err) != 0)
		fail_msg("%s at %ld:%ld", err.message, err.line, err.column);
	assert_int_equal(pk_profile_sample_count(p), 100);
	const size_t depths[] = {1, 1, 2, 2, 1, 9};
	for (int i = 0; i < 100; i++) {
		pk_sample s;
		assert_int_equal(pk_profile_sample(p, (size_t)i, &s), 0);
		assert_int_equal(s.values[0], i % 3 == 0 ? -i : i * 1000003);
		assert_int_equal(s.depth, depths[i % 6]);
		for (size_t j = 0; j < s.depth; j++)
			assert_int_equal(s.locations[j], 0);
	}
	pk_profile_free(p);
	free(text);
}

/* A profile of n samples whose JSON is large enough that both threads
 * read parts of the samples: stacks, values and labels that vary, and
 * now and then a label string with an escape, which a part stops at. The
 * locations' ids start at first_id: from 1, as writers number them, the
 * parts are read before the locations are. */
static pk_profile *make_many_samples(int n, uint64_t first_id)
{
	pk_profile *p = NULL;
	assert_int_equal(pk_profile_new(&p), 0);
	assert_int_equal(pk_profile_add_sample_type(
	                     p, (pk_value_type){intern(p, "samples"), intern(p, "count")}),
	                 0);
	assert_int_equal(pk_profile_add_sample_type(
	                     p, (pk_value_type){intern(p, "cpu"), intern(p, "nanoseconds")}),
	                 0);
	pk_function f = {1, intern(p, "main.work"), 0, intern(p, "main.go"), 3};
	uint32_t fi, li[8];
	assert_int_equal(pk_profile_add_function(p, &f, &fi), 0);
	for (uint32_t k = 0; k < 8; k++) {
		pk_location loc = {first_id + k, PK_NONE, 0x1000 + k, 0};
		pk_line line = {fi, 10 + k, 0};
		assert_int_equal(pk_profile_add_location(p, &loc, &line, 1, &li[k]), 0);
	}
	pk_str keys[2] = {intern(p, "user"), intern(p, "bytes")}, unit = intern(p, "bytes");
	for (int i = 0; i < n; i++) {
		uint32_t stack[6];
		size_t depth = (size_t)(i % 7 == 3 ? 0 : 1 + i % 6);
		for (size_t j = 0; j < depth; j++)
			stack[j] = li[(i >> j) & 7];
		char user[32];
		snprintf(user, sizeof user, i % 97 == 5 ? "user\t%d" : "user-%d", i % 1000);
		pk_label labels[2] = {{keys[0], intern(p, user), 0, 0}, {keys[1], 0, i * 7, unit}};
		int64_t v[2] = {i, (int64_t)i * 1000003};
		assert_int_equal(pk_profile_add_sample(p, stack, depth, v, 2, labels,
		                                       (size_t)(i % 3 == 0 ? 0 : 1 + i % 2)),
		                 0);
	}
	assert_int_equal(pk_profile_validate(p, NULL), 0);
	return p;
}

static void test_samples_in_parts(void **state)
{
	(void)state;
	/* ids from 1, then ids the parts cannot take before the locations */
	for (uint64_t first_id = 1; first_id <= 50; first_id += 49) {
		pk_profile *p = make_many_samples(40000, first_id);
		size_t size;
		char *json = to_json(p, &size);
		assert_true(size > ((size_t)2 << 20));
		pk_profile *q = read_any(json, size, NULL);
		assert_profiles_identical(p, q);
		pk_profile_free(q);
		free(json);
		pk_profile_free(p);
	}
}

/* Where sample i of make_many_samples starts in its JSON. */
static char *sample_at(char *json, int i)
{
	char *at = strstr(json, "\"samples\": [");
	assert_non_null(at);
	at = strchr(at, '{');
	for (int k = 0; k < i; k++) {
		at = strstr(at + 1, "\n    {");
		assert_non_null(at);
		at += 5;
	}
	return at;
}

/* An error in a sample that the helper thread reads has the message and
 * place that it has when the samples are read on one thread. */
static void test_error_in_a_part(void **state)
{
	(void)state;
	pk_profile *p = make_many_samples(40000, 1);
	size_t size;
	char *json = to_json(p, &size);
	for (int round = 0; round < 2; round++) {
		char *copy = malloc(size + 1);
		assert_non_null(copy);
		memcpy(copy, json, size + 1);
		int i = round == 0 ? 30001 : 39999; /* one in a part, the last */
		char *at = sample_at(copy, i);
		char *values = strstr(at, "\"values\":[");
		assert_non_null(values);
		values += strlen("\"values\":[");
		memcpy(values, "\"300\"", 5); /* a string for the 5 digits */
		long line = 1;
		for (char *c = copy; c < at; c++)
			line += *c == '\n';
		pk_profile *q = NULL;
		pk_error err = PK_ERROR_INIT;
		assert_int_equal(pk_profile_read_buffer(copy, size, NULL, &q, NULL, &err),
		                 PK_EFORMAT);
		assert_null(q);
		char want[64];
		snprintf(want, sizeof want, "samples[%d].values[0] must be an integer", i);
		assert_string_equal(err.message, want);
		assert_int_equal(err.line, line);
		assert_int_equal(err.column, 5);
		assert_int_equal(err.offset, at - copy);
		free(copy);
	}
	free(json);
	pk_profile_free(p);
}

/* Samples' numbers of every length, in arrays longer than the window the
 * quick reader looks at, and location ids that are not 1 to n, read as
 * written; white space in the arrays, a number too long for the quick
 * reader, and a leading zero after numbers it read, are read as before. */
static void test_sample_numbers(void **state)
{
	(void)state;
	for (int plain = 0; plain < 2; plain++) {
		pk_profile *p = NULL;
		assert_int_equal(pk_profile_new(&p), 0);
		assert_int_equal(
		    pk_profile_add_sample_type(p, (pk_value_type){intern(p, "a"), intern(p, "b")}),
		    0);
		assert_int_equal(
		    pk_profile_add_sample_type(p, (pk_value_type){intern(p, "c"), intern(p, "d")}),
		    0);
		uint32_t li[40];
		for (uint64_t k = 0; k < 40; k++) {
			/* ids of 1 to 19 digits, or 1 to 40 */
			uint64_t id = plain ? k + 1 : k * 7 + 1;
			for (uint64_t j = 0; !plain && j < k % 19; j++)
				id = id * 10 % 9000000000000000000u;
			pk_location loc = {id + (plain ? 0 : k), PK_NONE, 0, 0};
			assert_int_equal(pk_profile_add_location(p, &loc, NULL, 0, &li[k]), 0);
		}
		int64_t power = 1;
		for (int i = 0; i < 4000; i++) {
			uint32_t stack[40];
			size_t depth = (size_t)(i * 7 % 41);
			for (size_t j = 0; j < depth; j++)
				stack[j] = li[(i + j * 3) % 40];
			power = i % 19 == 0 ? 1 : power * 10;
			int64_t v[2] = {power - i % 3, i % 5 == 0 ? -power : power + i};
			assert_int_equal(pk_profile_add_sample(p, stack, depth, v, 2, NULL, 0), 0);
		}
		size_t size;
		char *json = to_json(p, &size);
		pk_profile *q = read_any(json, size, NULL);
		assert_profiles_identical(p, q);
		pk_profile_free(q);
		free(json);
		pk_profile_free(p);
	}
	const char *text = HEAD TYPES ",\n\"samples\": [{\"values\": [ 12 ]}, {\"values\": [3 ]}, "
	                              "{\"values\": [123456789012345678]}, {\"values\": [\n4]}]}";
	pk_profile *p = NULL;
	pk_error err;
	assert_int_equal(read_json_text(text, &p, &err), 0);
	int64_t want[] = {12, 3, 123456789012345678, 4};
	assert_int_equal(pk_profile_sample_count(p), 4);
	for (size_t i = 0; i < 4; i++) {
		pk_sample s;
		assert_int_equal(pk_profile_sample(p, i, &s), 0);
		assert_int_equal(s.values[0], want[i]);
	}
	pk_profile_free(p);
}

/* A sample in the exporter's form (read by quick_sample) reads as it does
 * with a space after each comma (fast_fields): lists of every length, an
 * empty one, 16 and 17 digits, a negative value, labels, the fields in
 * another order; and one that is not quite that form gives the message and
 * place it always gave. The text is padded, as the quick reader wants 72
 * bytes ahead. */
static void test_quick_samples(void **state)
{
	(void)state;
	const char *head =
	    HEAD "\"sample_types\": [{\"type\": \"a\", \"unit\": \"b\"}, "
	         "{\"type\": \"c\", \"unit\": \"d\"}],\n" OBJECTS_3 "\"samples\": [\n  ";
	char long_list[400], crossing[400];
	strcpy(long_list, "{\"locations\":[1");
	for (int k = 0; k < 40; k++)
		strcat(long_list, k % 3 ? ",2" : ",3");
	strcat(long_list, "],\"values\":[1,2]}");
	strcpy(crossing, "{\"locations\":[2");
	for (int k = 0; k < 12; k++)
		strcat(crossing, ",3,1,2");
	strcat(crossing, "],\"values\":[1234567890123456,99]}");
	const char *good[] = {
	    "{\"locations\":[1,2,3],\"values\":[1,2]}, {\"locations\":[3],\"values\":[0,10]}",
	    "{\"locations\":[],\"values\":[1,2]}",
	    long_list,
	    crossing,
	    "{\"locations\":[3],\"values\":[9999999999999999,12345678901234567]}",
	    "{\"locations\":[1],\"values\":[-5,5]}",
	    "{\"locations\":[1],\"values\":[1,2],\"labels\":[{\"key\":\"k\",\"str\":\"v\"}]}",
	    "{\"locations\":[2],\"values\":[1,2],\"labels\":[{\"k\\u0065y\":\"k\",\"num\":3}]}",
	    "{\"values\":[1,2],\"locations\":[2]}",
	    "{\"locations\":[1, 2],\"values\":[1,2]}",
	};
	for (size_t c = 0; c < sizeof good / sizeof good[0]; c++) {
		char text[1024], spaced[1200];
		snprintf(text, sizeof text, "%s%s\n]}%100s", head, good[c], "");
		size_t n = 0;
		for (const char *x = text; *x != '\0'; x++) {
			spaced[n++] = *x;
			if (*x == ',')
				spaced[n++] = ' ';
		}
		spaced[n] = '\0';
		pk_profile *p = NULL, *q = NULL;
		pk_error err;
		if (read_json_text(text, &p, &err) != 0)
			fail_msg("case %zu: %s", c, err.message);
		if (read_json_text(spaced, &q, &err) != 0)
			fail_msg("case %zu, spaced: %s", c, err.message);
		assert_profiles_identical(p, q);
		pk_profile_free(p);
		pk_profile_free(q);
	}
	static const struct {
		const char *sample, *message;
		long line, column;
	} bad[] = {
	    {"{\"locations\":[1,,2],\"values\":[1,2]}", "invalid JSON: unexpected token near ','",
	     7, 19},
	    {"{\"locations\":[01],\"values\":[1,2]}", "invalid JSON: invalid token near '0'", 7,
	     17},
	    {"{\"locations\":[1,2,],\"values\":[1,2]}", "invalid JSON: unexpected token near ']'",
	     7, 21},
	    {"{\"locations\":[4],\"values\":[1,2]}",
	     "samples[0].locations[0] refers to location id 4, which no location has", 7, 3},
	    {"{\"locations\":[0],\"values\":[1,2]}",
	     "samples[0].locations[0] refers to location id 0, which no location has", 7, 3},
	    {"{\"locations\":[1],\"values\":[1,2,3]}",
	     "samples[0] has 3 values but needs one per sample type (2)", 7, 3},
	    {"{\"locations\":[1],\"values\":[00,1]}", "invalid JSON: invalid token near '0'", 7,
	     30},
	    {"{\"locations\":[1,2.5],\"values\":[1,2]}",
	     "samples[0].locations[1] must be a non-negative integer, a \"0x...\" hex string or a "
	     "decimal string of at most 64 bits",
	     7, 3},
	    {"{\"locations\":[1],\"values\":[1,2],\"values\":[1,2]}",
	     "invalid JSON: duplicate object key near '\"values\"'", 7, 42},
	    {"{\"locations\":[3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,x],"
	     "\"values\":[1,2]}",
	     "invalid JSON: invalid token near 'x'", 7, 77},
	    {"{\"locations\":[1],\"values\":[1,99999999999999999999]}",
	     "invalid JSON: too big integer near '99999999999999999999'", 7, 51},
	};
	for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
		char text[1024];
		snprintf(text, sizeof text, "%s%s\n]}%100s", head, bad[c].sample, "");
		pk_profile *p = NULL;
		pk_error err;
		assert_int_equal(read_json_text(text, &p, &err), PK_EFORMAT);
		assert_null(p);
		assert_string_equal(err.message, bad[c].message);
		assert_int_equal(err.line, bad[c].line);
		assert_int_equal(err.column, bad[c].column);
	}
}

/* P written as JSON reads back the same in the exporter's form (the quick
 * paths) and with a space after each comma between fields (the general
 * reader). */
static void assert_reads_both_forms(const pk_profile *p)
{
	size_t size;
	char *json = to_json(p, &size);
	pk_profile *q = read_any(json, size, NULL);
	assert_profiles_identical(p, q);
	pk_profile_free(q);
	char *spaced = malloc(2 * size + 1);
	assert_non_null(spaced);
	size_t n = 0;
	for (size_t i = 0; i < size; i++) {
		spaced[n++] = json[i];
		if (json[i] == ',' && json[i + 1] == '"')
			spaced[n++] = ' ';
	}
	q = read_any(spaced, n, NULL);
	assert_profiles_identical(p, q);
	pk_profile_free(q);
	free(spaced);
	free(json);
}

/* Functions in the exporter's form (read by quick_function) and in any
 * other (fast_fields, a space after each comma) read the same: with and
 * without each field, names with escapes or not UTF-8, the same name and
 * system name, a negative start line, an id the writer puts in a string. */
static void test_function_forms(void **state)
{
	(void)state;
	pk_profile *p = NULL;
	assert_int_equal(pk_profile_new(&p), 0);
	assert_int_equal(
	    pk_profile_add_sample_type(p, (pk_value_type){intern(p, "a"), intern(p, "b")}), 0);
	static const struct {
		uint64_t id;
		const char *name, *system_name, *filename;
		int64_t start_line;
	} fns[] = {
	    {1, "main", "main", "main.go", 3},
	    {2, NULL, NULL, NULL, 0},
	    {3, "a \"quoted\" \\ name\n\xc3\xa9", "b", NULL, -7},
	    {4, NULL, "sys", "\xff\xfe", 0},
	    {UINT64_MAX, "big", NULL, "f.go", INT64_MAX},
	};
	uint32_t index[5];
	for (size_t k = 0; k < 5; k++) {
		pk_function f = {fns[k].id, fns[k].name ? intern(p, fns[k].name) : 0,
		                 fns[k].system_name ? intern(p, fns[k].system_name) : 0,
		                 fns[k].filename ? intern(p, fns[k].filename) : 0,
		                 fns[k].start_line};
		assert_int_equal(pk_profile_add_function(p, &f, &index[k]), 0);
	}
	for (size_t k = 0; k < 5; k++) {
		pk_line line = {index[k], 1, 0};
		pk_location loc = {k + 1, PK_NONE, 0, 0};
		uint32_t l;
		assert_int_equal(pk_profile_add_location(p, &loc, &line, 1, &l), 0);
		int64_t v = 1;
		assert_int_equal(pk_profile_add_sample(p, &l, 1, &v, 1, NULL, 0), 0);
	}
	assert_reads_both_forms(p);
	pk_profile_free(p);
}

/* Locations in the exporter's form (read by quick_location) and in any
 * other (fast_fields, here with a space after each comma) read the same:
 * with and without a mapping, an address, lines, a line or a column, a
 * negative line, a folded one. */
static void test_location_forms(void **state)
{
	(void)state;
	pk_profile *p = NULL;
	assert_int_equal(pk_profile_new(&p), 0);
	assert_int_equal(
	    pk_profile_add_sample_type(p, (pk_value_type){intern(p, "a"), intern(p, "b")}), 0);
	pk_mapping m = {0};
	m.id = 7;
	uint32_t mi, f[2], l;
	assert_int_equal(pk_profile_add_mapping(p, &m, &mi), 0);
	for (int k = 0; k < 2; k++) {
		pk_function fn = {(uint64_t)k + 1, intern(p, k ? "g" : "f"), 0, 0, 0};
		assert_int_equal(pk_profile_add_function(p, &fn, &f[k]), 0);
	}
	static const struct {
		uint32_t mapping;
		uint64_t address;
		unsigned char folded;
		size_t lines;
		int64_t line, column;
	} locs[] = {
	    {0, 0x1000, 0, 1, 10, 0}, {PK_NONE, 0, 0, 0, 0, 0}, {0, UINT64_MAX, 0, 2, 5, 7},
	    {PK_NONE, 0, 1, 1, 0, 0}, {0, 0xabc, 0, 2, -3, 0},  {0, 1, 0, 1, 123456789012345, 99},
	};
	for (size_t k = 0; k < sizeof locs / sizeof locs[0]; k++) {
		pk_location loc = {k + 1, locs[k].mapping, locs[k].address, locs[k].folded};
		pk_line lines[2] = {{f[0], locs[k].line, locs[k].column}, {f[1], 1, 0}};
		assert_int_equal(pk_profile_add_location(p, &loc, lines, locs[k].lines, &l), 0);
	}
	uint32_t stack[2] = {0, 2};
	int64_t v = 1;
	assert_int_equal(pk_profile_add_sample(p, stack, 2, &v, 1, NULL, 0), 0);
	assert_reads_both_forms(p);
	pk_profile_free(p);
}

/* Text that ends right after a key's colon (the fuzzer's find: the
 * functions' key, where the search for the keys after it starts) is
 * refused there, whatever the key. */
static void test_ends_after_a_key(void **state)
{
	(void)state;
	pk_profile *p = make_many_samples(100, 1);
	size_t size;
	char *json = to_json(p, &size);
	pk_read_options ro = PK_READ_OPTIONS_INIT;
	ro.format = json_format();
	size_t keys = 0;
	for (size_t n = 1; n < size; n++) {
		if (json[n - 1] != ':' || json[n - 2] != '"')
			continue;
		keys++;
		pk_profile *q = NULL;
		pk_error err = PK_ERROR_INIT;
		assert_int_equal(pk_profile_read_buffer(json, n, &ro, &q, NULL, &err), PK_EFORMAT);
		assert_null(q);
		/* at the end, or at the colon (jansson's "near end of file") */
		assert_true((size_t)err.offset == n || (size_t)err.offset == n - 1);
	}
	assert_true(keys > 100);
	free(json);
	pk_profile_free(p);
}

/* An error in the functions or the locations, read while the helper
 * thread reads parts, or a location id in a part past the last location,
 * has the message and place that it has with the whole scan. */
static void test_errors_beside_parts(void **state)
{
	(void)state;
	pk_profile *p = make_many_samples(40000, 1);
	size_t size;
	char *json = to_json(p, &size);
	static const struct {
		const char *near, *find, *put, *message;
	} cases[] = {
	    {"\"functions\": [", "\"id\":1", "\"id\":0",
	     "functions[0] has id 0, which is reserved for \"none\""},
	    {"\"locations\": [", "\"function_id\":1", "\"function_id\":7",
	     "locations[0].lines[0] refers to function id 7, which no function has"},
	    {NULL, "\"locations\":[", "\"locations\":[9",
	     "samples[30001].locations[0] refers to location id 9, which no location has"},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		char *copy = malloc(size + 1);
		assert_non_null(copy);
		memcpy(copy, json, size + 1);
		char *at = cases[c].near ? strstr(copy, cases[c].near) : sample_at(copy, 30001);
		assert_non_null(at);
		if (cases[c].near)
			at = strchr(at, '{');
		char *edit = strstr(at, cases[c].find);
		assert_non_null(edit);
		memcpy(edit, cases[c].put, strlen(cases[c].put));
		long line = 1;
		for (char *x = copy; x < at; x++)
			line += *x == '\n';
		pk_profile *q = NULL;
		pk_error err = PK_ERROR_INIT;
		assert_int_equal(pk_profile_read_buffer(copy, size, NULL, &q, NULL, &err),
		                 PK_EFORMAT);
		assert_null(q);
		assert_string_equal(err.message, cases[c].message);
		assert_int_equal(err.line, line);
		assert_int_equal(err.column, 5);
		assert_int_equal(err.offset, at - copy);
		free(copy);
	}
	free(json);
	pk_profile_free(p);
}

/* The text a part starts at is a guess: `{"locations":` escaped in a
 * string is not taken for a sample, and one inside a sample (here a
 * label, which cannot have that key) gives the message it always gave. */
static void test_part_guesses(void **state)
{
	(void)state;
	pk_profile *p = make_many_samples(40000, 1);
	pk_str key = intern(p, "note");
	for (int i = 0; i < 20000; i++) {
		pk_label l = {key, intern(p, ",\n    {\"locations\":[1],\"values\":[1,1]}"), 0, 0};
		int64_t v[2] = {1, 2};
		assert_int_equal(pk_profile_add_sample(p, NULL, 0, v, 2, &l, 1), 0);
	}
	size_t size;
	char *json = to_json(p, &size);
	pk_profile *q = read_any(json, size, NULL);
	assert_profiles_identical(p, q);
	pk_profile_free(q);

	/* a label that looks like a sample's start, in sample 30001 */
	char *at = sample_at(json, 30001);
	char *labels = strstr(at, "\"labels\":[");
	assert_non_null(labels);
	assert_true(labels < strchr(at, '\n'));
	labels += strlen("\"labels\":[");
	const char *fake = "{\"locations\":[1],\"values\":[1,1]},";
	size_t n = strlen(fake);
	char *copy = malloc(size + n + 1);
	assert_non_null(copy);
	memcpy(copy, json, (size_t)(labels - json));
	memcpy(copy + (labels - json), fake, n);
	memcpy(copy + (labels - json) + n, labels, size - (size_t)(labels - json) + 1);
	pk_error err = PK_ERROR_INIT;
	q = NULL;
	assert_int_equal(pk_profile_read_buffer(copy, size + n, NULL, &q, NULL, &err), PK_EFORMAT);
	assert_null(q);
	long line = 1;
	for (char *c = json; c < at; c++)
		line += *c == '\n';
	assert_string_equal(err.message, "samples[30001].labels[0] has no \"key\"");
	assert_int_equal(err.line, line);
	free(copy);
	free(json);
	pk_profile_free(p);
}

/* An allocation that fails while the parts are set up leaves the samples
 * to the caller's thread; one that fails later gives PK_ENOMEM, and
 * nothing leaks either way. */
static void test_parts_allocation_failures(void **state)
{
	(void)state;
	pk_profile *p = make_many_samples(6000, 1);
	size_t size;
	char *json = to_json(p, &size);
	assert_true(size > ((size_t)512 << 10));
	pk_set_allocator(chaos_malloc, chaos_free);
	long ok = 0, failed = 0;
	for (long n = 1;; n++) {
		pk_profile *q = NULL;
		pk_error err = PK_ERROR_INIT;
		chaos_reset(n, 0); /* the n-th fails, no other */
		int rc = pk_profile_read_buffer(json, size, NULL, &q, NULL, &err);
		long calls = chaos.calls;
		if (rc == 0) {
			ok++;
			assert_profiles_identical(p, q);
			assert_int_equal(err.code, 0); /* no error left behind */
		} else {
			failed++;
			assert_int_equal(rc, PK_ENOMEM);
			assert_int_equal(err.code, PK_ENOMEM);
		}
		pk_profile_free(q);
		assert_int_equal(chaos.live, 0);
		chaos_reset(0, 0);
		if (calls < n)
			break; /* none failed */
	}
	pk_set_allocator(NULL, NULL);
	assert_true(ok > 1 && failed > 0);
	free(json);
	pk_profile_free(p);
}

/* Stacks are written with each location's id formatted once: ids of every
 * length, the first of a stack and the others, and ids beyond int64. */
static void test_writer_stack_ids(void **state)
{
	(void)state;
	pk_profile *p = NULL;
	assert_int_equal(pk_profile_new(&p), 0);
	pk_value_type vt = {0, 0};
	assert_int_equal(pk_profile_add_sample_type(p, vt), 0);
	const uint64_t ids[] = {7, 9999999, 10000000, 123456789012, 0x8000000000000000u, 1};
	size_t n = sizeof ids / sizeof ids[0];
	uint32_t index[sizeof ids / sizeof ids[0]];
	for (size_t i = 0; i < n; i++) {
		pk_location loc = {ids[i], PK_NONE, 0, false};
		assert_int_equal(pk_profile_add_location(p, &loc, NULL, 0, &index[i]), 0);
	}
	int64_t v = 1;
	uint32_t stack[] = {index[2], index[0], index[1], index[4], index[3], index[5]};
	assert_int_equal(pk_profile_add_sample(p, stack, 6, &v, 1, NULL, 0), 0);
	assert_int_equal(pk_profile_add_sample(p, stack + 1, 5, &v, 1, NULL, 0), 0);
	assert_int_equal(pk_profile_add_sample(p, stack + 3, 3, &v, 1, NULL, 0), 0);
	size_t size;
	char *json = to_json(p, &size);
	assert_non_null(strstr(json, "{\"locations\":[10000000,7,9999999,\"9223372036854775808\","
	                             "123456789012,1],\"values\":[1]}"));
	assert_non_null(strstr(json, "{\"locations\":[7,9999999,\"9223372036854775808\","
	                             "123456789012,1],\"values\":[1]}"));
	assert_non_null(strstr(json, "{\"locations\":[\"9223372036854775808\",123456789012,1],"));
	pk_profile *q = json_round_trip(p);
	assert_profiles_identical(p, q);
	pk_profile_free(q);
	free(json);
	pk_profile_free(p);
}

/* A file's sink is written into directly, block after block, and a string
 * longer than a block goes straight on: the bytes are those written to
 * memory, plain or gzipped. */
static void test_written_to_file(void **state)
{
	(void)state;
	pk_profile *p = make_rich_profile();
	size_t long_len = (size_t)600 << 10;
	char *long_name = malloc(long_len);
	assert_non_null(long_name);
	memset(long_name, 'x', long_len);
	pk_function f = {0};
	f.id = 424242;
	assert_int_equal(pk_profile_intern(p, long_name, long_len, &f.name), 0);
	uint32_t index;
	assert_int_equal(pk_profile_add_function(p, &f, &index), 0);
	for (int i = 0; i < 50000; i++) {
		int64_t v[2] = {i, -i};
		assert_int_equal(pk_profile_add_sample(p, NULL, 0, v, 2, NULL, 0), 0);
	}
	size_t size;
	char *json = to_json(p, &size);
	const char *tmp = getenv("TMPDIR");
	char path[4096];
	snprintf(path, sizeof path, "%s/pk_test_json_out.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	for (int gz = 0; gz < 2; gz++) {
		pk_write_options wo = PK_WRITE_OPTIONS_INIT;
		wo.format = json_format();
		wo.compress = gz ? PK_COMPRESS_GZIP : PK_COMPRESS_NONE;
		pk_error err = PK_ERROR_INIT;
		if (pk_profile_write_path(p, path, &wo, &err) != 0)
			fail_msg("%s", err.message);
		pk_profile *q = NULL;
		if (pk_profile_read_path(path, NULL, &q, NULL, &err) != 0)
			fail_msg("%s", err.message);
		assert_profiles_identical(p, q);
		pk_profile_free(q);
		if (!gz) {
			FILE *in = fopen(path, "rb");
			assert_non_null(in);
			char *back = malloc(size + 1);
			assert_non_null(back);
			assert_int_equal(fread(back, 1, size + 1, in), size);
			fclose(in);
			assert_memory_equal(back, json, size);
			free(back);
		}
	}
	remove(path);
	free(json);
	free(long_name);
	pk_profile_free(p);
}

/* ------------------------------------------------------ allocation failure */

/* Failing each of our allocations in turn gives PK_ENOMEM and no leak
 * (run under valgrind or ASan to see the leaks). */
static void test_allocation_failures(void **state)
{
	(void)state;
	pk_profile *p = make_rich_profile();
	size_t size;
	char *json = to_json(p, &size);
	bool read_ok = false, write_ok = false;
	pk_set_allocator(chaos_malloc, chaos_free);
	for (long n = 0; n < 10000 && !(read_ok && write_ok); n++) {
		pk_profile *q = NULL;
		pk_error err = PK_ERROR_INIT;
		chaos_reset(n + 1, 1); /* the first n succeed, then none */
		int rc = pk_profile_read_buffer(json, size, NULL, &q, NULL, &err);
		chaos_reset(0, 0);
		if (rc == 0)
			read_ok = true;
		else
			assert_int_equal(rc, PK_ENOMEM);
		pk_profile_free(q);

		pk_write_options wo = PK_WRITE_OPTIONS_INIT;
		wo.format = json_format();
		void *out = NULL;
		size_t out_size = 0;
		pk_error_init(&err);
		chaos_reset(n + 1, 1); /* the first n succeed, then none */
		rc = pk_profile_write_buffer(p, &wo, &out, &out_size, &err);
		chaos_reset(0, 0);
		if (rc == 0) {
			write_ok = true;
			assert_int_equal(out_size, size);
			assert_memory_equal(out, json, size);
		} else {
			assert_int_equal(rc, PK_ENOMEM);
		}
		pk_free(out);
	}
	pk_set_allocator(NULL, NULL);
	assert_true(read_ok && write_ok);
	free(json);
	pk_profile_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rich_round_trip),
	    cmocka_unit_test(test_empty_round_trip),
	    cmocka_unit_test(test_edge_values_round_trip),
	    cmocka_unit_test(test_rich_output_shape),
	    cmocka_unit_test(test_deterministic),
	    cmocka_unit_test(test_pprof_json_pprof),
	    cmocka_unit_test(test_fixtures_round_trip),
	    cmocka_unit_test(test_hand_written),
	    cmocka_unit_test(test_fast_reader),
	    cmocka_unit_test(test_label_strings_repeat),
	    cmocka_unit_test(test_writer_escapes),
	    cmocka_unit_test(test_sniff),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_deep_nesting),
	    cmocka_unit_test(test_error_position_in_big_document),
	    cmocka_unit_test(test_string_table_at_the_end),
	    cmocka_unit_test(test_functions_and_locations_found),
	    cmocka_unit_test(test_mapped_file),
	    cmocka_unit_test(test_sample_batches),
	    cmocka_unit_test(test_samples_in_parts),
	    cmocka_unit_test(test_error_in_a_part),
	    cmocka_unit_test(test_ends_after_a_key),
	    cmocka_unit_test(test_errors_beside_parts),
	    cmocka_unit_test(test_sample_numbers),
	    cmocka_unit_test(test_quick_samples),
	    cmocka_unit_test(test_function_forms),
	    cmocka_unit_test(test_location_forms),
	    cmocka_unit_test(test_part_guesses),
	    cmocka_unit_test(test_parts_allocation_failures),
	    cmocka_unit_test(test_writer_stack_ids),
	    cmocka_unit_test(test_written_to_file),
	    cmocka_unit_test(test_allocation_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
