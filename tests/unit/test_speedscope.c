/* test_speedscope.c - speedscope files both ways: sampled and evented
 * profiles into the model, several profiles as sample types, fractional
 * weights, numbers as JSON writes them, errors with their line and column;
 * the writer's exact bytes, diffs and negative values, strings that are not
 * UTF-8, detection, and allocation failures on both sides. */
#include "helpers.h"
#include "internal.h"

#include <glob.h>
#include <stdio.h>

#define SCHEMA "\"$schema\": \"https://www.speedscope.app/file-format-schema.json\""

static const pk_format *speedscope(void)
{
	const pk_format *f = pk_format_by_name("speedscope");
	assert_non_null(f);
	return f;
}

static int read_text(const char *text, pk_profile **out, pk_error *err)
{
	pk_read_options ro = PK_READ_OPTIONS_INIT;
	ro.format = speedscope();
	pk_error_init(err);
	*out = NULL;
	return pk_profile_read_buffer(text, strlen(text), &ro, out, NULL, err);
}

static pk_profile *read_ok(const char *text)
{
	pk_profile *p = NULL;
	pk_error err;
	if (read_text(text, &p, &err) != 0)
		fail_msg("reading failed: %s (line %ld, column %ld)", err.message, err.line,
		         err.column);
	return p;
}

static char *write_text(const pk_profile *p, pk_write_options *wo, size_t *size)
{
	wo->format = speedscope();
	void *out = NULL;
	pk_error err = PK_ERROR_INIT;
	if (pk_profile_write_buffer(p, wo, &out, size, &err) != 0)
		fail_msg("writing failed: %s", err.message);
	char *s = malloc(*size + 1);
	assert_non_null(s);
	memcpy(s, out, *size);
	s[*size] = '\0';
	pk_free(out);
	return s;
}

/* A sample as "frame;frame;... v1 v2" (root first), for comparisons. */
static void sample_text(const pk_profile *p, size_t i, char *buf, size_t size)
{
	pk_sample s;
	assert_int_equal(pk_profile_sample(p, i, &s), 0);
	size_t n = 0;
	buf[0] = '\0';
	for (size_t k = s.depth; k-- > 0;) {
		const pk_line *lines;
		assert_int_equal(pk_profile_location_lines(p, s.locations[k], &lines), 1);
		const pk_function *f = pk_profile_function(p, lines[0].function);
		n += (size_t)snprintf(buf + n, size - n, "%s%s", k + 1 == s.depth ? "" : ";",
		                      pk_profile_string(p, f->name));
	}
	for (size_t k = 0; k < s.value_count; k++)
		n += (size_t)snprintf(buf + n, size - n, " %lld", (long long)s.values[k]);
}

static void assert_samples(const pk_profile *p, const char *const *want, size_t count)
{
	assert_int_equal(pk_profile_sample_count(p), count);
	for (size_t i = 0; i < count; i++) {
		char buf[512];
		sample_text(p, i, buf, sizeof buf);
		assert_string_equal(buf, want[i]);
	}
}

static void assert_type(const pk_profile *p, size_t i, const char *type, const char *unit)
{
	pk_value_type vt = pk_profile_sample_type(p, i);
	assert_string_equal(pk_profile_string(p, vt.type), type);
	assert_string_equal(pk_profile_string(p, vt.unit), unit);
}

/* --------------------------------------------------------------- reading */

static void test_sampled(void **state)
{
	(void)state;
	pk_profile *p =
	    read_ok("{" SCHEMA ",\n"
	            " \"shared\": {\"frames\": [{\"name\": \"main\", \"file\": \"a.c\", "
	            "\"line\": 3, \"col\": 5}, {\"name\": \"f\"}, {\"name\": \"g\"}, "
	            "{\"name\": \"unused\"}]},\n"
	            " \"profiles\": [{\"type\": \"sampled\", \"name\": \"cpu\", "
	            "\"unit\": \"milliseconds\", \"startValue\": 0, \"endValue\": 9, "
	            "\"samples\": [[0, 1], [0, 1, 2], [0, 1], [0], [], [0, 2]], "
	            "\"weights\": [2, 3, 1, 0, 4, 5]}]}");
	assert_int_equal(pk_profile_sample_type_count(p), 1);
	assert_type(p, 0, "cpu", "milliseconds");
	assert_string_equal(pk_profile_string(p, pk_profile_default_sample_type(p)), "cpu");
	/* one sample per distinct stack, in order of first use; weight 0
	 * adds nothing; the empty stack is a sample without locations */
	static const char *const want[] = {"main;f 3", "main;f;g 3", " 4", "main;g 5"};
	assert_samples(p, want, 4);
	/* a location and a function per frame used, ids in order of use */
	assert_int_equal(pk_profile_location_count(p), 3);
	const pk_line *lines;
	pk_profile_location_lines(p, 0, &lines);
	const pk_function *f = pk_profile_function(p, lines[0].function);
	assert_string_equal(pk_profile_string(p, f->name), "main");
	assert_string_equal(pk_profile_string(p, f->system_name), "main");
	assert_string_equal(pk_profile_string(p, f->filename), "a.c");
	assert_int_equal(f->start_line, 3);
	assert_int_equal(lines[0].line, 3);
	assert_int_equal(lines[0].column, 5);
	assert_int_equal(pk_profile_mapping_count(p), 0);
	pk_profile_free(p);
}

static void test_evented(void **state)
{
	(void)state;
	/* a(0..10) { b(1..4) { c(2..3) }  b(5..9) { b(6..8) } }, gap, a(12..13) */
	pk_profile *p =
	    read_ok("{" SCHEMA ", \"profiles\": [{\"type\": \"evented\", \"name\": \"t\", "
	            "\"unit\": \"none\", \"startValue\": 0, \"endValue\": 13, \"events\": ["
	            "{\"type\": \"O\", \"frame\": 0, \"at\": 0},"
	            "{\"type\": \"O\", \"frame\": 1, \"at\": 1},"
	            "{\"type\": \"O\", \"frame\": 2, \"at\": 2},"
	            "{\"type\": \"C\", \"frame\": 2, \"at\": 3},"
	            "{\"type\": \"C\", \"frame\": 1, \"at\": 4},"
	            "{\"at\": 5, \"frame\": 1, \"type\": \"O\"},"
	            "{\"type\": \"O\", \"frame\": 1, \"at\": 6, \"extra\": [1]},"
	            "{\"type\": \"C\", \"frame\": 1, \"at\": 8},"
	            "{\"type\": \"C\", \"frame\": 1, \"at\": 9},"
	            "{\"type\": \"C\", \"frame\": 0, \"at\": 10},"
	            "{\"type\": \"O\", \"frame\": 0, \"at\": 12},"
	            "{\"type\": \"C\", \"frame\": 0, \"at\": 13}]}],"
	            " \"shared\": {\"frames\": [{\"name\": \"a\"}, {\"name\": \"b\"}, "
	            "{\"name\": \"c\"}]}, \"name\": \"x\", \"exporter\": \"y\"}");
	assert_type(p, 0, "t", "count");
	static const char *const want[] = {"a 4", "a;b 4", "a;b;c 1", "a;b;b 2"};
	assert_samples(p, want, 4);
	pk_profile_free(p);
}

static void test_several_profiles(void **state)
{
	(void)state;
	pk_profile *p = read_ok(
	    "{" SCHEMA ", \"shared\": {\"frames\": [{\"name\": \"a\"}, {\"name\": \"b\"}]},"
	    " \"activeProfileIndex\": 1, \"profiles\": ["
	    "{\"type\": \"sampled\", \"name\": \"objects\", \"unit\": \"none\", \"startValue\": 0, "
	    "\"endValue\": 3, \"samples\": [[0], [0, 1]], \"weights\": [1, 2]},"
	    "{\"type\": \"sampled\", \"name\": \"space\", \"unit\": \"bytes\", \"startValue\": 0, "
	    "\"endValue\": 3, \"samples\": [[0, 1], [1]], \"weights\": [64, 32]},"
	    "{\"type\": \"evented\", \"name\": \"\", \"unit\": \"seconds\", \"startValue\": 0, "
	    "\"endValue\": 3, \"events\": [{\"type\": \"O\", \"frame\": 1, \"at\": 1}, "
	    "{\"type\": \"C\", \"frame\": 1, \"at\": 3}]}]}");
	assert_int_equal(pk_profile_sample_type_count(p), 3);
	assert_type(p, 0, "objects", "count");
	assert_type(p, 1, "space", "bytes");
	assert_type(p, 2, "samples", "seconds"); /* a nameless profile */
	assert_string_equal(pk_profile_string(p, pk_profile_default_sample_type(p)), "space");
	static const char *const want[] = {"a 1 0 0", "a;b 2 64 0", "b 0 32 2"};
	assert_samples(p, want, 3);
	pk_profile_free(p);
}

/* One sampled profile of two frames with these weights and unit. */
static pk_profile *weights(const char *unit, const char *w, pk_error *err, int *rc)
{
	char text[1024];
	snprintf(text, sizeof text,
	         "{" SCHEMA ", \"shared\": {\"frames\": [{\"name\": \"a\"}, {\"name\": \"b\"}]},"
	         " \"profiles\": [{\"type\": \"sampled\", \"name\": \"w\", \"unit\": \"%s\","
	         " \"startValue\": 0, \"endValue\": 1, \"samples\": [[0], [0, 1]], \"weights\": "
	         "[%s]}]}",
	         unit, w);
	pk_profile *p = NULL;
	*rc = read_text(text, &p, err);
	return p;
}

static void check_weights(const char *unit, const char *w, const char *want_unit, int64_t a,
                          int64_t b, const char *comment)
{
	pk_error err;
	int rc;
	pk_profile *p = weights(unit, w, &err, &rc);
	if (rc != 0)
		fail_msg("%s [%s]: %s", unit, w, err.message);
	assert_type(p, 0, "w", want_unit);
	char want_a[64], want_b[64];
	snprintf(want_a, sizeof want_a, "a %lld", (long long)a);
	snprintf(want_b, sizeof want_b, "a;b %lld", (long long)b);
	const char *want[] = {want_a, want_b};
	assert_samples(p, want, 2);
	if (comment == NULL) {
		assert_int_equal(pk_profile_comment_count(p), 0);
	} else {
		assert_int_equal(pk_profile_comment_count(p), 1);
		assert_string_equal(pk_profile_string(p, pk_profile_comment(p, 0)), comment);
	}
	pk_profile_free(p);
}

static void test_numbers(void **state)
{
	(void)state;
	check_weights("none", "1, 20", "count", 1, 20, NULL);
	check_weights("none", "1E1, 2e+1", "count", 10, 20, NULL);
	check_weights("none", "1.0, 20.000", "count", 1, 20, NULL);
	check_weights("none", "-3, -7", "count", -3, -7, NULL);
	check_weights("none", "1.5, 0.25", "count", 150, 25,
	              "profkit: the speedscope weights of \"w\" were fractional; each is "
	              "multiplied by 100");
	check_weights("bytes", "0.1234567, 1", "bytes", 123457, 1000000,
	              "profkit: the speedscope weights of \"w\" were fractional; each is "
	              "multiplied by 1000000");
	/* time units go finer as far as needed, to nanoseconds at most */
	check_weights("milliseconds", "1.5, 2", "microseconds", 1500, 2000, NULL);
	check_weights("milliseconds", "1.0005, 2", "nanoseconds", 1000500, 2000000, NULL);
	check_weights("seconds", "15e-1, 2", "milliseconds", 1500, 2000, NULL);
	check_weights("seconds", "1e-9, 25e-10", "nanoseconds", 1, 3, NULL);
	check_weights("nanoseconds", "2.5, 3.49", "nanoseconds", 3, 3, NULL);
	check_weights("microseconds", "9223372036854775.807, 1", "nanoseconds", INT64_MAX, 1000,
	              NULL);
	check_weights("none", "9223372036854775807, -9223372036854775808", "count", INT64_MAX,
	              INT64_MIN, NULL);
	check_weights("none", "12345678901234567890123456789012345678901234567890e-40, 0.5",
	              "count", 1234567890123457, 500000,
	              "profkit: the speedscope weights of \"w\" were fractional; each is "
	              "multiplied by 1000000");
	/* units speedscope does not know are kept */
	check_weights("furlongs", "1, 2", "furlongs", 1, 2, NULL);
}

/* The error for text, at line:column with the message. */
static void check_error(const char *text, long line, long column, const char *message)
{
	pk_profile *p = NULL;
	pk_error err;
	int rc = read_text(text, &p, &err);
	if (rc == 0)
		fail_msg("no error for %s", text);
	assert_int_equal(rc, PK_EFORMAT);
	assert_null(p);
	if (err.line != line || err.column != column || strcmp(err.message, message) != 0)
		fail_msg("got %ld:%ld: %s\nwanted %ld:%ld: %s", err.line, err.column, err.message,
		         line, column, message);
}

#define FRAMES "\"shared\": {\"frames\": [{\"name\": \"a\"}]}"
#define SAMPLED(w) "{\"type\": \"sampled\", \"samples\": [[0]], \"weights\": [" w "]}"

static void test_errors(void **state)
{
	(void)state;
	check_error("\n ", 2, 2, "a speedscope file must be an object");
	check_error("[]", 1, 1, "a speedscope file must be an object");
	check_error("{" SCHEMA "}", 1, 1, "a speedscope file needs \"shared\" (the frames)");
	check_error(" {" SCHEMA ", " FRAMES "}", 1, 2, "a speedscope file needs \"profiles\"");
	check_error("{\"$schema\": \"http://x\"}", 1, 13,
	            "\"$schema\" must be \"https://www.speedscope.app/file-format-schema.json\"");
	check_error("{" SCHEMA ", " FRAMES ", " FRAMES "}", 1, 106,
	            "the key \"shared\" appears twice");
	check_error("{" SCHEMA ", " FRAMES ", \"profiles\": []} x", 1, 122,
	            "unexpected data after the end of the file");
	check_error("{" SCHEMA
	            ",\n \"shared\": {\"frames\": [{\"file\": \"a\"}]}, \"profiles\": []}",
	            2, 24, "frame 0 has no \"name\"");
	check_error("{" SCHEMA ",\n \"shared\": {\"frames\": [{\"name\": 1}]}, \"profiles\": []}",
	            2, 33, "a frame's \"name\" must be a string");
	check_error("{" SCHEMA ",\n \"shared\": {\"frames\": [{\"name\": \"a\", \"line\": 1.5}]}, "
	            "\"profiles\": []}",
	            2, 46, "a frame's \"line\" must be an integer of at most 64 bits");
	check_error("{" SCHEMA ",\n \"shared\": {\"frames\": [{\"name\": \"a\tb\"}]}, "
	            "\"profiles\": []}",
	            2, 35, "a control character inside a string");
	check_error("{" SCHEMA ",\n \"shared\": {\"frames\": [{\"name\": \"\\x\"}]}, "
	            "\"profiles\": []}",
	            2, 35, "invalid JSON: invalid escape near '\"\\x'");
	check_error("{" SCHEMA ",\n " FRAMES ",\n \"profiles\": [" SAMPLED("1") ", 5]}", 3, 70,
	            "profile 1 must be an object");
	check_error("{" SCHEMA ",\n " FRAMES ",\n \"profiles\": [{\"type\": \"sampled\"}]}", 3, 15,
	            "profile 0 is sampled but has no \"samples\"");
	check_error("{" SCHEMA ",\n " FRAMES ",\n \"profiles\": [{\"samples\": []}]}", 3, 15,
	            "profile 0 has no \"type\"");
	check_error("{" SCHEMA ",\n " FRAMES
	            ",\n \"profiles\": [{\"type\": \"evented\", \"events\": "
	            "[], \"samples\": []}]}",
	            3, 60, "an evented profile has no \"samples\"");
	check_error("{" SCHEMA ",\n " FRAMES ",\n \"profiles\": [" SAMPLED("1, ") "]}", 3, 68,
	            "expected a number, found ']'");
	check_error("{" SCHEMA ",\n " FRAMES ",\n \"profiles\": [" SAMPLED("01") "]}", 3, 66,
	            "expected ',' or the end of the number, found '1'");
	check_error("{" SCHEMA ",\n " FRAMES ",\n \"profiles\": [" SAMPLED("\"1\"") "]}", 3, 65,
	            "expected a number, found '\"'");
	check_error("{" SCHEMA ",\n " FRAMES
	            ",\n \"profiles\": [" SAMPLED("9223372036854775807, 1") "]}",
	            3, 64, "\"weights\" has 2 numbers, but \"samples\" has 1 stacks");
	check_error("{" SCHEMA ",\n " FRAMES
	            ",\n \"profiles\": [{\"type\": \"sampled\", \"samples\": "
	            "[[0], [0]], \"weights\": [9223372036854775807, 1]}]}",
	            3, 91, "the weights of this stack add up to more than 64 bits hold");
	check_error("{" SCHEMA ",\n " FRAMES
	            ",\n \"profiles\": [{\"type\": \"sampled\", \"samples\": "
	            "[[0.5]], \"weights\": [1]}]}",
	            3, 48, "frame index 0.5 is not one of the 1 frames of \"shared\"");
	check_error("{" SCHEMA ",\n " FRAMES
	            ",\n \"profiles\": [{\"type\": \"evented\", \"events\": "
	            "[{\"type\": \"X\", \"frame\": 0, \"at\": 0}]}]}",
	            3, 55, "an event's \"type\" must be \"O\" (open) or \"C\" (close)");
	check_error("{" SCHEMA ",\n " FRAMES
	            ",\n \"profiles\": [{\"type\": \"evented\", \"events\": "
	            "[{\"type\": \"O\", \"frame\": 0}]}]}",
	            3, 46, "event 0 has no \"at\"");
	check_error("{" SCHEMA ",\n " FRAMES
	            ",\n \"profiles\": [{\"type\": \"evented\", \"events\": "
	            "[{\"type\": \"O\", \"frame\": 0, \"at\": -9223372036854775808}, {\"type\": "
	            "\"C\", \"frame\": 0, \"at\": 9223372036854775807}]}]}",
	            3, 133, "the distance to the event before does not fit in 64 bits");
	check_error("{" SCHEMA ",\n " FRAMES
	            ",\n \"profiles\": [" SAMPLED("1") "],\n"
	                                               " \"activeProfileIndex\": -1}",
	            4, 24, "\"activeProfileIndex\" is -1, but the file has 1 profiles");
	check_error("{" SCHEMA ",\n " FRAMES ",\n \"profiles\": [" SAMPLED("1") "],\n"
	                                                                        " \"other\": [1, }",
	            4, 15, "invalid JSON: unexpected token near '}'");
	check_error("{" SCHEMA ",\n " FRAMES ",\n \"profiles\": [" SAMPLED("1"), 3, 67,
	            "invalid JSON: ']' expected near end of file");
}

/* --------------------------------------------------------------- writing */

static void test_export_rich(void **state)
{
	(void)state;
	pk_profile *p = make_rich_profile();
	pk_write_options wo = PK_WRITE_OPTIONS_INIT;
	size_t size;
	char *out = write_text(p, &wo, &size);
	char want[4096];
	snprintf(want, sizeof want,
	         "{\"$schema\": \"https://www.speedscope.app/file-format-schema.json\",\n"
	         " \"exporter\": \"profkit %s\",\n"
	         " \"name\": \"app\",\n"
	         " \"activeProfileIndex\": 1,\n"
	         " \"profiles\": [\n"
	         "  {\"type\": \"sampled\", \"name\": \"alloc_objects\", \"unit\": \"none\", "
	         "\"startValue\": 0, \"endValue\": 5,\n"
	         "   \"samples\": [\n    [0],\n    [0,1,2]\n   ],\n"
	         "   \"weights\": [\n    3,\n    2\n   ]},\n"
	         "  {\"type\": \"sampled\", \"name\": \"alloc_space\", \"unit\": \"bytes\", "
	         "\"startValue\": 0, \"endValue\": 5120,\n"
	         "   \"samples\": [\n    [0],\n    [0,1,2]\n   ],\n"
	         "   \"weights\": [\n    3072,\n    2048\n   ]}\n"
	         " ],\n"
	         " \"shared\": {\"frames\": [\n"
	         "  {\"name\": \"main.main\", \"file\": \"app/main.go\", \"line\": 1},\n"
	         "  {\"name\": \"main.work\", \"file\": \"app/main.go\", \"line\": 6},\n"
	         "  {\"name\": \"main.leaf\", \"file\": \"app/main.go\", \"line\": 11}\n"
	         " ]}\n"
	         "}\n",
	         pk_version());
	assert_string_equal(out, want);
	free(out);

	/* One sample type; at lines granularity frames carry the line. */
	wo.sample_type = "alloc_objects";
	wo.granularity = PK_GRANULARITY_LINES;
	out = write_text(p, &wo, &size);
	assert_non_null(strstr(out, " \"activeProfileIndex\": 0,\n"));
	assert_null(strstr(out, "alloc_space"));
	assert_non_null(strstr(out, "{\"name\": \"main.leaf app/main.go:30\", \"file\": "
	                            "\"app/main.go\", \"line\": 30}"));
	free(out);

	/* Against itself as the base: nothing grew. */
	wo = (pk_write_options)PK_WRITE_OPTIONS_INIT;
	wo.base = p;
	out = write_text(p, &wo, &size);
	assert_non_null(strstr(out, "\"name\": \"alloc_space (growth over the base)\", \"unit\": "
	                            "\"bytes\", \"startValue\": 0, \"endValue\": 0,\n"
	                            "   \"samples\": [],\n   \"weights\": []}"));
	free(out);
	pk_profile_free(p);
}

/* A frame shows the smallest start line of the functions of its name and
 * cleaned file, used or not; none when none has one. */
static void test_export_start_lines(void **state)
{
	(void)state;
	pk_profile *p;
	assert_int_equal(pk_profile_new(&p), 0);
	assert_int_equal(
	    pk_profile_add_sample_type(p, (pk_value_type){intern(p, "cpu"), intern(p, "count")}),
	    0);
	const char *fns[][2] = {
	    {"f", "./src/a.c"}, {"f", "src/a.c"}, {"f", "src//a.c"}, {"g", "src/b.c"}};
	int64_t starts[] = {0, 12, 9, 0};
	uint32_t ids[4];
	for (size_t i = 0; i < 4; i++) {
		pk_function f = {0, intern(p, fns[i][0]), intern(p, fns[i][0]),
		                 intern(p, fns[i][1]), starts[i]};
		assert_int_equal(pk_profile_add_function(p, &f, &ids[i]), 0);
	}
	pk_location l = {0, PK_NONE, 0, 0};
	pk_line lf = {ids[0], 3, 0}, lg = {ids[3], 5, 0};
	uint32_t locs[2];
	assert_int_equal(pk_profile_add_location(p, &l, &lg, 1, &locs[0]), 0);
	assert_int_equal(pk_profile_add_location(p, &l, &lf, 1, &locs[1]), 0);
	int64_t v = 1;
	assert_int_equal(pk_profile_add_sample(p, locs, 2, &v, 1, NULL, 0), 0);
	pk_write_options wo = PK_WRITE_OPTIONS_INIT;
	size_t size;
	char *out = write_text(p, &wo, &size);
	assert_non_null(strstr(out, " \"shared\": {\"frames\": [\n"
	                            "  {\"name\": \"f\", \"file\": \"src/a.c\", \"line\": 9},\n"
	                            "  {\"name\": \"g\", \"file\": \"src/b.c\"}\n ]}"));
	free(out);
	pk_profile_free(p);
}

static void test_export_negative(void **state)
{
	(void)state;
	pk_profile *p = read_ok("{" SCHEMA ", \"shared\": {\"frames\": [{\"name\": \"a\"}, "
	                        "{\"name\": \"b\"}]}, \"profiles\": [{\"type\": \"sampled\", "
	                        "\"name\": \"cpu\", \"unit\": \"nanoseconds\", \"samples\": "
	                        "[[0], [0, 1], [], [1]], \"weights\": [-5, 7, 2, -1]}]}");
	pk_write_options wo = PK_WRITE_OPTIONS_INIT;
	size_t size;
	char *out = write_text(p, &wo, &size);
	assert_non_null(strstr(
	    out,
	    "{\"type\": \"sampled\", \"name\": \"cpu (stacks of negative value, -6 "
	    "nanoseconds in all, are left out)\", \"unit\": \"nanoseconds\", \"startValue\": 0, "
	    "\"endValue\": 9,\n   \"samples\": [\n    [],\n    [0,1]\n   ],\n   \"weights\": [\n"
	    "    2,\n    7\n   ]}"));
	free(out);
	pk_profile_free(p);
}

static void test_export_empty_and_strings(void **state)
{
	(void)state;
	pk_profile *p = NULL;
	assert_int_equal(pk_profile_new(&p), 0);
	pk_write_options wo = PK_WRITE_OPTIONS_INIT;
	size_t size;
	char *out = write_text(p, &wo, &size);
	assert_non_null(strstr(out,
	                       " \"name\": \"profile\",\n \"activeProfileIndex\": 0,\n"
	                       " \"profiles\": [\n  {\"type\": \"sampled\", \"name\": "
	                       "\"samples\", \"unit\": \"none\", \"startValue\": 0, "
	                       "\"endValue\": 0,\n   \"samples\": [],\n   \"weights\": []}\n ],"
	                       "\n \"shared\": {\"frames\": []}\n}\n"));
	free(out);
	pk_profile_free(p);

	/* Names that JSON must escape, bytes that are not UTF-8, a NUL. */
	assert_int_equal(pk_profile_new(&p), 0);
	pk_str type, unit, name;
	assert_int_equal(pk_profile_intern(p, "t", 1, &type), 0);
	assert_int_equal(pk_profile_intern(p, "count", 5, &unit), 0);
	static const char odd[] = "q\"b\\s/\x01\n\xc3\xa9\xff\xc3 \xe2\x82\xac\0z";
	assert_int_equal(pk_profile_intern(p, odd, sizeof odd - 1, &name), 0);
	assert_int_equal(pk_profile_add_sample_type(p, (pk_value_type){type, unit}), 0);
	pk_function f = {1, name, name, 0, 0};
	pk_line line = {0, 0, 0};
	assert_int_equal(pk_profile_add_function(p, &f, &line.function), 0);
	pk_location loc = {1, PK_NONE, 0, 0};
	uint32_t li;
	assert_int_equal(pk_profile_add_location(p, &loc, &line, 1, &li), 0);
	int64_t v = 4;
	assert_int_equal(pk_profile_add_sample(p, &li, 1, &v, 1, NULL, 0), 0);
	out = write_text(p, &wo, &size);
	assert_non_null(strstr(out, "{\"name\": \"q\\\"b\\\\s/\\u0001\\u000a\xc3\xa9\\ufffd\\ufffd "
	                            "\xe2\x82\xac\\u0000z\"}"));
	/* and it reads back */
	pk_profile *q = read_ok(out);
	const pk_function *g = pk_profile_function(q, 0);
	static const char back[] = "q\"b\\s/\x01\n\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd \xe2\x82\xac\0z";
	assert_int_equal(pk_profile_string_length(q, g->name), sizeof back - 1);
	assert_memory_equal(pk_profile_string(q, g->name), back, sizeof back - 1);
	pk_profile_free(q);
	free(out);
	pk_profile_free(p);
}

/* ----------------------------------------------------- detection, fixtures */

static void test_detect(void **state)
{
	(void)state;
	const pk_format *f = speedscope();
	assert_ptr_equal(pk_format_by_path("a/b.speedscope.json"), f);
	assert_ptr_equal(pk_format_by_path("a/b.speedscope.json.gz"), f);
	assert_ptr_equal(pk_format_by_path("b.json"), pk_format_by_name("json"));
	static const char a[] = "\xef\xbb\xbf {\"x\": [1, {\"$schema\": 2}], \"$schema\" :\n "
	                        "\"https://www.speedscope.app/file-format-schema.json\"}";
	assert_ptr_equal(pk_format_detect(a, sizeof a - 1), f);
	static const char b[] = "{\"format\": \"profkit-profile\", \"$schema\": \"other\"}";
	assert_ptr_equal(pk_format_detect(b, sizeof b - 1), pk_format_by_name("json"));
	static const char c[] =
	    "[\"$schema\": \"https://www.speedscope.app/file-format-schema.json\"]";
	assert_ptr_not_equal(pk_format_detect(c, sizeof c - 1), f);
	/* '$' signs that start no key, and a key cut off at the end. */
	static const char d[] = "{\"$x\": \"a$\", $\"$schema\": 1, \"$schema\"";
	assert_ptr_not_equal(pk_format_detect(d, sizeof d - 1), f);
	static const char e[] = "{\"a\": \"$$\\\"$\", \"$schema\":"
	                        "\"https://www.speedscope.app/file-format-schema.json\"}";
	assert_ptr_equal(pk_format_detect(e, sizeof e - 1), f);
	static const char g[] = "{$";
	assert_ptr_not_equal(pk_format_detect(g, sizeof g - 1), f);
	/* What the writer writes, the sniffer knows; profkit's JSON is not it. */
	pk_profile *p = make_rich_profile();
	pk_write_options wo = PK_WRITE_OPTIONS_INIT;
	size_t size;
	char *out = write_text(p, &wo, &size);
	assert_ptr_equal(pk_format_detect(out, size), f);
	free(out);
	wo = (pk_write_options)PK_WRITE_OPTIONS_INIT;
	wo.format = pk_format_by_name("json");
	void *json;
	assert_int_equal(pk_profile_write_buffer(p, &wo, &json, &size, NULL), 0);
	assert_ptr_equal(pk_format_detect(json, size), pk_format_by_name("json"));
	pk_free(json);
	pk_profile_free(p);
}

/* Every type's total of every sample, as written and read back. */
static void test_fixtures(void **state)
{
	(void)state;
	const char *top = getenv("TOP_SRCDIR");
	if (top == NULL)
		skip();
	char pattern[4096];
	snprintf(pattern, sizeof pattern, "%s/tests/fixtures/pprof/*.pb.gz", top);
	glob_t g;
	assert_int_equal(glob(pattern, 0, NULL, &g), 0);
	assert_true(g.gl_pathc >= 5);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		pk_profile *p = NULL, *q = NULL;
		pk_error err = PK_ERROR_INIT;
		assert_int_equal(pk_profile_read_path(g.gl_pathv[i], NULL, &p, NULL, &err), 0);
		pk_write_options wo = PK_WRITE_OPTIONS_INIT;
		size_t size;
		char *out = write_text(p, &wo, &size);
		q = read_ok(out);
		size_t n = pk_profile_sample_type_count(p);
		assert_int_equal(pk_profile_sample_type_count(q), n);
		for (size_t t = 0; t < n; t++) {
			int64_t a = 0, b = 0;
			for (size_t s = 0; s < pk_profile_sample_count(p); s++) {
				pk_sample x;
				pk_profile_sample(p, s, &x);
				a += x.values[t];
			}
			for (size_t s = 0; s < pk_profile_sample_count(q); s++) {
				pk_sample x;
				pk_profile_sample(q, s, &x);
				b += x.values[t];
			}
			assert_true(a == b);
		}
		free(out);
		pk_profile_free(p);
		pk_profile_free(q);
	}
	globfree(&g);
}

static void test_allocation_failures(void **state)
{
	(void)state;
	static const char text[] =
	    "{" SCHEMA ", \"shared\": {\"frames\": [{\"name\": \"a\\u00e9\"}, {\"name\": \"b\", "
	    "\"file\": \"f\"}]}, \"activeProfileIndex\": 1, \"profiles\": ["
	    "{\"type\": \"sampled\", \"name\": \"s\", \"unit\": \"none\", \"startValue\": 0, "
	    "\"endValue\": 3, \"samples\": [[0], [0, 1], [0]], \"weights\": [1, 2.5, 3]},"
	    "{\"type\": \"evented\", \"name\": \"e\", \"unit\": \"milliseconds\", \"startValue\": "
	    "0, "
	    "\"endValue\": 3, \"unknown\": {\"x\": [1]}, \"events\": [{\"type\": \"O\", \"frame\": "
	    "1, "
	    "\"at\": 1}, {\"type\": \"O\", \"frame\": 0, \"at\": 1.5}, {\"type\": \"C\", "
	    "\"frame\": 0, "
	    "\"at\": 2}, {\"type\": \"C\", \"frame\": 1, \"at\": 3}]}]}";
	pk_profile *want = read_ok(text);
	pk_profile *rich = make_rich_profile();
	pk_write_options wo = PK_WRITE_OPTIONS_INIT;
	size_t want_size;
	char *want_out = write_text(rich, &wo, &want_size);
	bool read_done = false, write_done = false, diff_done = false;
	pk_set_allocator(chaos_malloc, chaos_free);
	for (long n = 0; n < 100000 && !(read_done && write_done && diff_done); n++) {
		pk_profile *q = NULL;
		pk_error err = PK_ERROR_INIT;
		pk_read_options ro = PK_READ_OPTIONS_INIT;
		ro.format = speedscope();
		chaos_reset(n + 1, 1);
		int rc = pk_profile_read_buffer(text, strlen(text), &ro, &q, NULL, &err);
		if (rc == 0) {
			read_done = true;
			assert_profiles_equal(q, want);
		} else {
			assert_int_equal(rc, PK_ENOMEM);
			assert_int_equal(err.code, PK_ENOMEM);
		}
		pk_profile_free(q);
		assert_int_equal(chaos.live, 0);
		for (int diff = 0; diff < 2; diff++) {
			pk_write_options o = PK_WRITE_OPTIONS_INIT;
			o.format = speedscope();
			o.base = diff ? rich : NULL;
			void *out = NULL;
			size_t size = 0;
			pk_error_init(&err);
			chaos_reset(n + 1, 1);
			rc = pk_profile_write_buffer(rich, &o, &out, &size, &err);
			if (rc == 0) {
				*(diff ? &diff_done : &write_done) = true;
				if (!diff) {
					assert_int_equal(size, want_size);
					assert_memory_equal(out, want_out, size);
				}
			} else {
				assert_int_equal(rc, PK_ENOMEM);
				assert_int_equal(err.code, PK_ENOMEM);
			}
			pk_free(out);
			assert_int_equal(chaos.live, 0);
		}
		chaos_reset(0, 0);
	}
	pk_set_allocator(NULL, NULL);
	assert_true(read_done && write_done && diff_done);
	free(want_out);
	pk_profile_free(want);
	pk_profile_free(rich);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sampled),
	    cmocka_unit_test(test_evented),
	    cmocka_unit_test(test_several_profiles),
	    cmocka_unit_test(test_numbers),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_export_rich),
	    cmocka_unit_test(test_export_start_lines),
	    cmocka_unit_test(test_export_negative),
	    cmocka_unit_test(test_export_empty_and_strings),
	    cmocka_unit_test(test_detect),
	    cmocka_unit_test(test_fixtures),
	    cmocka_unit_test(test_allocation_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
