/* test_collapsed.c - folded stacks: flamegraph.pl's grammar read, the
 * model it gives, errors at their line and column, exact output bytes,
 * two-count diffs, fixed points, sniffing and allocation failures. */
#include "helpers.h"
#include "internal.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>

/* ---------------------------------------------------------------- helpers */

static const pk_format *folded_format(void)
{
	const pk_format *f = pk_format_by_name("folded");
	assert_non_null(f);
	return f;
}

/* Read text as folded stacks (the format forced); returns the code. */
static int read_folded_n(const char *text, size_t size, pk_profile **out, pk_error *err)
{
	pk_read_options ro = PK_READ_OPTIONS_INIT;
	ro.format = folded_format();
	pk_error_init(err);
	*out = NULL;
	return pk_profile_read_buffer(text, size, &ro, out, NULL, err);
}

static pk_profile *read_folded(const char *text)
{
	pk_profile *p = NULL;
	pk_error err;
	if (read_folded_n(text, strlen(text), &p, &err) != 0)
		fail_msg("reading %s failed: %ld:%ld: %s", text, err.line, err.column, err.message);
	return p;
}

/* p as folded stacks with the options given (format and compression set
 * here); the result (free it with free) is NUL-terminated. */
static char *write_folded_opts(const pk_profile *p, pk_write_options *wo, size_t *size)
{
	wo->format = folded_format();
	wo->compress = PK_COMPRESS_NONE;
	void *out = NULL;
	pk_error err = PK_ERROR_INIT;
	if (pk_profile_write_buffer(p, wo, &out, size, &err) != 0)
		fail_msg("writing folded failed: %s", err.message);
	char *copy = malloc(*size + 1);
	assert_non_null(copy);
	if (*size > 0)
		memcpy(copy, out, *size);
	copy[*size] = '\0';
	pk_free(out);
	return copy;
}

static char *write_folded(const pk_profile *p)
{
	pk_write_options wo = PK_WRITE_OPTIONS_INIT;
	size_t size;
	char *s = write_folded_opts(p, &wo, &size);
	assert_int_equal(strlen(s), size);
	return s;
}

static void assert_text(const char *got, const char *want)
{
	if (strcmp(got, want) != 0)
		fail_msg("got:\n%s\nwant:\n%s", got, want);
}

/* The string of function i's name. */
static const char *function_name(const pk_profile *p, size_t i)
{
	return pk_profile_string(p, pk_profile_function(p, i)->name);
}

/* ------------------------------------------------------------ the grammar */

typedef struct grammar_case {
	const char *input;
	const char *output; /* what the import writes back */
} grammar_case;

static const grammar_case grammar_cases[] = {
    {"main;foo 3\nmain;foo;bar 5\n", "main;foo 3\nmain;foo;bar 5\n"},
    /* names hold spaces; only the last number counts */
    {"my main;do work(int, char*) 4\n", "my main;do work(int, char*) 4\n"},
    /* a tab separates too; with more whitespace, one character is taken */
    {"a;b\t7\n", "a;b 7\n"},
    {"a;b  7\n", "a;b  7\n"},
    {"a;b\t 7\n", "a;b\t 7\n"},
    /* CRLF, blank lines, no newline at the end, a UTF-8 byte order mark */
    {"a;b 1\r\n\r\na;c 2\r\n", "a;b 1\na;c 2\n"},
    {"\n  \n\t\r\na 1\n\n", "a 1\n"},
    {"a 1", "a 1\n"},
    {"a 1\r", "a 1\n"},
    {"\xef\xbb\xbf"
     "caf\xc3\xa9;x 2\n",
     "caf\xc3\xa9;x 2\n"},
    /* a name that starts with one keeps it, behind one more when it is first */
    {"\n\xef\xbb\xbf"
     "a 1\n",
     "\xef\xbb\xbf\xef\xbb\xbf"
     "a 1\n"},
    {"b 1\n\xef\xbb\xbf"
     "a 1\n",
     "b 1\n\xef\xbb\xbf"
     "a 1\n"},
    /* and one that starts as gzip does behind a blank line */
    {"\n\x1f\x8b"
     "a 1\n",
     "\n\x1f\x8b"
     "a 1\n"},
    /* trailing ';' are dropped, as Perl's split drops trailing empty fields */
    {"a;b; 4\na;b;; 1\n", "a;b 5\n"},
    /* lines with one stack are merged, in any order; stacks come out sorted */
    {"x;y 2\nx 1\nx;y 3\nx;y\t4\nw 1\n", "w 1\nx 1\nx;y 9\n"},
    /* counts of 0 are read but write nothing */
    {"a 0\nb 2\n", "b 2\n"},
    /* one frame whose name is a number (flamegraph.pl reads it so too) */
    {"5 6\n", "5 6\n"},
    /* negative counts, which profkit writes for diffs */
    {"a -5\nb 9223372036854775807\nc -9223372036854775808\n",
     "a -5\nb 9223372036854775807\nc -9223372036854775808\n"},
    /* fractions: every count times 10^d, d the most digits that matter */
    {"a 0.5\nb 1.25\nc 3\n", "a 50\nb 125\nc 300\n"},
    {"a 1.0\nb 2.\nc 3.000\n", "a 1\nb 2\nc 3\n"},
    {"a -0.5\nb 1\n", "a -5\nb 10\n"},
    /* at most 6 digits, the next rounded half up (away from zero) */
    {"a 0.1234565\nb 1.9999995\nc -0.0000005\nd 0.1234564\n",
     "a 123457\nb 2000000\nc -1\nd 123456\n"},
    /* two counts: base and new, as difffolded.pl writes them */
    {"a;b 1 2\na 3 0\na;c 0 0\na;b 1 1\n", "a 3 0\na;b 2 3\n"},
    {"a 0.5 1\n", "a 5 10\n"},
    {"a;b\t1\t2\n", "a;b 1 2\n"},
    /* with two counts, a leaf may end in a number: only two are taken */
    {"a;x 5 1 2\n", "a;x 5 1 2\n"},
};

static void test_grammar(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof grammar_cases / sizeof grammar_cases[0]; i++) {
		pk_profile *p = read_folded(grammar_cases[i].input);
		char *out = write_folded(p);
		if (strcmp(out, grammar_cases[i].output) != 0)
			fail_msg("case %zu: got\n%s\nwant\n%s", i, out, grammar_cases[i].output);
		free(out);
		pk_profile_free(p);
	}
}

/* ---------------------------------------------------------------- the model */

static void test_model(void **state)
{
	(void)state;
	pk_profile *p = read_folded("main;work 3\nmain;work;leaf 5\nmain;idle 2\nmain;work 1\n");
	assert_int_equal(pk_profile_sample_type_count(p), 1);
	pk_value_type vt = pk_profile_sample_type(p, 0);
	assert_string_equal(pk_profile_string(p, vt.type), "samples");
	assert_string_equal(pk_profile_string(p, vt.unit), "count");
	assert_int_equal(pk_profile_default_sample_type(p), 0);
	assert_int_equal(pk_profile_comment_count(p), 0);
	assert_int_equal(pk_profile_mapping_count(p), 0);

	/* one function and one location per name, in the order first seen */
	const char *names[] = {"main", "work", "leaf", "idle"};
	assert_int_equal(pk_profile_function_count(p), 4);
	assert_int_equal(pk_profile_location_count(p), 4);
	for (size_t i = 0; i < 4; i++) {
		const pk_function *f = pk_profile_function(p, i);
		assert_int_equal(f->id, i + 1);
		assert_string_equal(function_name(p, i), names[i]);
		assert_int_equal(f->system_name, f->name);
		assert_int_equal(f->filename, 0);
		assert_int_equal(f->start_line, 0);
		const pk_location *l = pk_profile_location(p, i);
		assert_int_equal(l->id, i + 1);
		assert_int_equal(l->mapping, PK_NONE);
		assert_int_equal(l->address, 0);
		const pk_line *lines;
		assert_int_equal(pk_profile_location_lines(p, i, &lines), 1);
		assert_int_equal(lines[0].function, i);
		assert_int_equal(lines[0].line, 0);
	}

	/* one sample per distinct stack, leaf first, the counts summed */
	assert_int_equal(pk_profile_sample_count(p), 3);
	pk_sample s;
	assert_int_equal(pk_profile_sample(p, 0, &s), 0);
	assert_int_equal(s.depth, 2);
	assert_int_equal(s.locations[0], 1);
	assert_int_equal(s.locations[1], 0);
	assert_int_equal(s.value_count, 1);
	assert_int_equal(s.values[0], 4);
	assert_int_equal(s.label_count, 0);
	assert_int_equal(pk_profile_sample(p, 1, &s), 0);
	assert_int_equal(s.depth, 3);
	assert_int_equal(s.locations[0], 2);
	assert_int_equal(s.values[0], 5);
	assert_int_equal(pk_profile_sample(p, 2, &s), 0);
	assert_int_equal(s.locations[0], 3);
	assert_int_equal(s.values[0], 2);
	assert_int_equal(pk_profile_validate(p, NULL), 0);
	pk_profile_free(p);
}

static void test_model_two_counts(void **state)
{
	(void)state;
	pk_profile *p = read_folded("a;b 1 2\na 3 0\n");
	assert_int_equal(pk_profile_sample_type_count(p), 2);
	const char *types[] = {"base", "new"};
	for (size_t i = 0; i < 2; i++) {
		pk_value_type vt = pk_profile_sample_type(p, i);
		assert_string_equal(pk_profile_string(p, vt.type), types[i]);
		assert_string_equal(pk_profile_string(p, vt.unit), "count");
	}
	assert_string_equal(pk_profile_string(p, pk_profile_default_sample_type(p)), "new");
	pk_sample s;
	assert_int_equal(pk_profile_sample(p, 0, &s), 0);
	assert_int_equal(s.value_count, 2);
	assert_int_equal(s.values[0], 1);
	assert_int_equal(s.values[1], 2);
	/* either side alone, as any sample type */
	pk_write_options wo = PK_WRITE_OPTIONS_INIT;
	size_t size;
	wo.sample_type = "base";
	char *out = write_folded_opts(p, &wo, &size);
	assert_text(out, "a 3\na;b 1\n");
	free(out);
	wo.sample_type = "new";
	out = write_folded_opts(p, &wo, &size);
	assert_text(out, "a;b 2\n");
	free(out);
	pk_profile_free(p);
}

static void test_model_fractional(void **state)
{
	(void)state;
	pk_profile *p = read_folded("a 0.25\nb 2\n");
	assert_int_equal(pk_profile_comment_count(p), 1);
	assert_string_equal(pk_profile_string(p, pk_profile_comment(p, 0)),
	                    "profkit: folded counts were fractional; each is multiplied by 100");
	pk_sample s;
	assert_int_equal(pk_profile_sample(p, 1, &s), 0);
	assert_int_equal(s.values[0], 200);
	pk_profile_free(p);
	/* "1.50" has one digit that matters */
	p = read_folded("a 1.50\n");
	assert_string_equal(pk_profile_string(p, pk_profile_comment(p, 0)),
	                    "profkit: folded counts were fractional; each is multiplied by 10");
	pk_profile_free(p);
}

/* Only blank lines: an empty profile, which writes nothing. */
static void test_blank_input(void **state)
{
	(void)state;
	pk_profile *p = read_folded("\n \t\r\n\n");
	assert_int_equal(pk_profile_sample_count(p), 0);
	assert_int_equal(pk_profile_sample_type_count(p), 1);
	char *out = write_folded(p);
	assert_text(out, "");
	free(out);
	pk_profile_free(p);
	/* and a profile without sample types writes nothing either */
	assert_int_equal(pk_profile_new(&p), 0);
	out = write_folded(p);
	assert_text(out, "");
	free(out);
	pk_profile_free(p);
}

/* ------------------------------------------------------------------ errors */

typedef struct bad_case {
	const char *text;
	long line, column;
	long long offset;
	const char *message;
} bad_case;

static const bad_case bad_cases[] = {
    {"main;work 3\nmain;idle\n", 2, 10, 21,
     "expected a count (digits after a space or tab) at the end of the line"},
    {"main;work 3\nmain;work 1e3\n", 2, 11, 22,
     "expected a count (digits after a space or tab) at the end of the line"},
    {"a .5\n", 1, 3, 2, "expected a count (digits after a space or tab) at the end of the line"},
    {"a +5\n", 1, 3, 2, "expected a count (digits after a space or tab) at the end of the line"},
    {"a 5x\n", 1, 3, 2, "expected a count (digits after a space or tab) at the end of the line"},
    {"a 1.2.3\n", 1, 3, 2, "expected a count (digits after a space or tab) at the end of the line"},
    {"a 5 \n", 1, 4, 3, "the line ends in whitespace instead of a count"},
    {"a 5\t\t\r\n", 1, 4, 3, "the line ends in whitespace instead of a count"},
    {"5\n", 1, 1, 0, "a count without a stack"},
    {"a 1\n 5\n", 2, 1, 4, "a count without a stack"},
    {"a 1\n;;; 5\n", 2, 1, 4, "a count without a stack"},
    {"a 1\n 5 6\n", 2, 1, 4, "a count without a stack"},
    {"main;;work 3\n", 1, 6, 5, "two ';' in a row make an empty frame name"},
    {";main 3\n", 1, 1, 0, "the stack starts with ';', an empty frame name"},
    {"a 99999999999999999999\n", 1, 3, 2, "the count 99999999999999999999 does not fit in 64 bits"},
    {"a 9223372036854775808\n", 1, 3, 2, "the count 9223372036854775808 does not fit in 64 bits"},
    {"a -9223372036854775809\n", 1, 3, 2, "the count -9223372036854775809 does not fit in 64 bits"},
    {"a 0.5\nb 922337203685477580.8\n", 2, 3, 8,
     "the count 922337203685477580.8, multiplied by 10, does not fit in 64 bits"},
    {"a 0.5\nb 922337203685477580.75\n", 2, 3, 8,
     "the count 922337203685477580.75, multiplied by 100, does not fit in 64 bits"},
    {"a 9223372036854775807\nb 1\na 1\n", 3, 3, 28,
     "the counts of this stack add up to more than 64 bits hold"},
    {"a -9223372036854775808\na -1\n", 2, 3, 25,
     "the counts of this stack add up to more than 64 bits hold"},
    {"a;b 1 2\na 3\n", 2, 3, 10,
     "one count, but line 1 has two; every line needs the same number of counts"},
    {"\na 3\n\nb 1 2\n", 4, 3, 8,
     "two counts, but line 2 has one; every line needs the same number of counts"},
    {"a 1\nb\rc 2\n", 2, 2, 5, "a carriage return inside a line; lines end in \\n or \\r\\n"},
    {"a 1\nb\r\r\n", 2, 2, 5, "a carriage return inside a line; lines end in \\n or \\r\\n"},
    /* columns count characters; the byte order mark is not one */
    {"\xef\xbb\xbf"
     "caf\xc3\xa9;\xc3\xbc x\n",
     1, 8, 12, "expected a count (digits after a space or tab) at the end of the line"},
    /* the first error in the file wins, whichever pass could find it */
    {"a 1\nb\nc 9999999999999999999999\n", 2, 2, 5,
     "expected a count (digits after a space or tab) at the end of the line"},
};

static void test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		const bad_case *c = &bad_cases[i];
		pk_profile *p = NULL;
		pk_error err;
		int rc = read_folded_n(c->text, strlen(c->text), &p, &err);
		if (rc != PK_EFORMAT || strcmp(err.message, c->message) != 0 ||
		    err.line != c->line || err.column != c->column || err.offset != c->offset)
			fail_msg(
			    "case %zu: got %d at %ld:%ld (byte %lld) \"%s\"; want %ld:%ld (byte "
			    "%lld) \"%s\"",
			    i, rc, err.line, err.column, err.offset, err.message, c->line,
			    c->column, c->offset, c->message);
		assert_null(p);
		assert_string_equal(err.format, "folded");
		assert_string_equal(err.source, "<buffer>");
	}
}

/* NUL bytes are errors too (strlen cannot carry them). */
static void test_nul_byte(void **state)
{
	(void)state;
	static const char text[] = "a 1\nb\0c 2\n";
	pk_profile *p = NULL;
	pk_error err;
	assert_int_equal(read_folded_n(text, sizeof text - 1, &p, &err), PK_EFORMAT);
	assert_string_equal(err.message, "a NUL byte; folded stacks are text");
	assert_int_equal(err.line, 2);
	assert_int_equal(err.column, 2);
	assert_int_equal(err.offset, 5);
	assert_null(p);
	char buf[256];
	pk_error_describe(&err, buf, sizeof buf);
	assert_string_equal(buf, "<buffer>:2:2: a NUL byte; folded stacks are text");
}

/* ------------------------------------------------------------------ export */

/* The rich profile: main.leaf is inlined into main.work, called from
 * main.main; its default type alloc_space sums 3072 - 1024 there. */
static void test_export_rich(void **state)
{
	(void)state;
	pk_profile *p = make_rich_profile();
	char *out = write_folded(p);
	assert_text(out, "main.main 3072\nmain.main;main.work;main.leaf 2048\n");
	free(out);

	pk_write_options wo = PK_WRITE_OPTIONS_INIT;
	size_t size;
	wo.sample_type = "alloc_objects";
	out = write_folded_opts(p, &wo, &size);
	assert_text(out, "main.main 3\nmain.main;main.work;main.leaf 2\n");
	free(out);

	wo.sample_type = "0";
	wo.granularity = PK_GRANULARITY_LINES;
	out = write_folded_opts(p, &wo, &size);
	assert_text(out, "main.main app/main.go:12 3\n"
	                 "main.main app/main.go:12;main.work app/main.go:20;main.leaf "
	                 "app/main.go:30 2\n");
	free(out);

	/* against a base: "stack base new", as difffolded.pl writes */
	wo = (pk_write_options)PK_WRITE_OPTIONS_INIT;
	wo.base = p;
	out = write_folded_opts(p, &wo, &size);
	assert_text(out, "main.main 3072 3072\nmain.main;main.work;main.leaf 2048 2048\n");
	free(out);

	/* a sample type that is not there */
	wo = (pk_write_options)PK_WRITE_OPTIONS_INIT;
	wo.format = folded_format();
	wo.sample_type = "cpu";
	void *buf = NULL;
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(pk_profile_write_buffer(p, &wo, &buf, &size, &err), PK_ENOTFOUND);
	assert_null(buf);
	assert_string_equal(err.message,
	                    "sample_index \"cpu\" must be one of: [alloc_objects alloc_space]");
	pk_profile_free(p);
}

/* Add function `name` with a location of its own; returns the location. */
static uint32_t add_frame(pk_profile *p, const char *name, size_t len)
{
	pk_str s;
	assert_int_equal(pk_profile_intern(p, name, len, &s), 0);
	pk_function f = {pk_profile_function_count(p) + 1, s, s, 0, 0};
	pk_line line = {0, 0, 0};
	assert_int_equal(pk_profile_add_function(p, &f, &line.function), 0);
	pk_location l = {pk_profile_location_count(p) + 1, PK_NONE, 0, 0};
	uint32_t out;
	assert_int_equal(pk_profile_add_location(p, &l, &line, 1, &out), 0);
	return out;
}

static void add_sample1(pk_profile *p, const uint32_t *leaf_first, size_t depth, int64_t v)
{
	assert_int_equal(pk_profile_add_sample(p, leaf_first, depth, &v, 1, NULL, 0), 0);
}

/* Names that a line cannot hold as they are, exactly as written. */
static void test_export_exact_bytes(void **state)
{
	(void)state;
	pk_profile *p;
	assert_int_equal(pk_profile_new(&p), 0);
	assert_int_equal(pk_profile_add_sample_type(
	                     p, (pk_value_type){intern(p, "cpu"), intern(p, "nanoseconds")}),
	                 0);
	uint32_t root = add_frame(p, "main", 4);
	uint32_t semi = add_frame(p, "std::a;b", 8);
	uint32_t nl = add_frame(p, "two\nlines\rx", 11);
	uint32_t num = add_frame(p, "operator new 2", 14);
	uint32_t tab = add_frame(p, "t\t1.5", 5);
	uint32_t s1[] = {semi, root}, s2[] = {nl, semi, root}, s3[] = {num, root};
	uint32_t s4[] = {root, num, root}, s5[] = {tab, root}, s6[] = {root};
	add_sample1(p, s1, 2, 10);
	add_sample1(p, s2, 3, 20);
	add_sample1(p, s3, 2, 30);
	add_sample1(p, s4, 3, -40);
	add_sample1(p, s5, 2, 50);
	add_sample1(p, s6, 1, 60);
	add_sample1(p, s6, 1, -60); /* 0 in all: no line */
	char *out = write_folded(p);
	/* the leaf "operator new 2" gets a ';' after it so that 2 is not read as
	 * a count; above a leaf it needs none */
	assert_text(out, "main;operator new 2; 30\n"
	                 "main;operator new 2;main -40\n"
	                 "main;std::a:b 10\n"
	                 "main;std::a:b;two lines x 20\n"
	                 "main;t\t1.5; 50\n");
	/* and it reads back as what it says */
	pk_profile *q = read_folded(out);
	char *again = write_folded(q);
	assert_text(again, out);
	free(again);
	pk_profile_free(q);
	free(out);

	/* in a diff the leaf keeps its name: two counts are all a reader takes */
	pk_write_options wo = PK_WRITE_OPTIONS_INIT;
	wo.base = p;
	size_t size;
	out = write_folded_opts(p, &wo, &size);
	assert_text(out, "main;operator new 2 30 30\n"
	                 "main;operator new 2;main -40 -40\n"
	                 "main;std::a:b 10 10\n"
	                 "main;std::a:b;two lines x 20 20\n"
	                 "main;t\t1.5 50 50\n");
	free(out);
	pk_profile_free(p);
}

/* Lines far past the output buffer's size, and deep stacks. */
static void test_export_large(void **state)
{
	(void)state;
	pk_profile *p;
	assert_int_equal(pk_profile_new(&p), 0);
	assert_int_equal(pk_profile_add_sample_type(
	                     p, (pk_value_type){intern(p, "samples"), intern(p, "count")}),
	                 0);
	enum { NAMES = 200, DEPTH = 300 };
	uint32_t locs[NAMES];
	for (int i = 0; i < NAMES; i++) {
		char name[64];
		int n = snprintf(name, sizeof name, "some::rather_long_function_name_%03d", i);
		locs[i] = add_frame(p, name, (size_t)n);
	}
	uint32_t stack[DEPTH];
	for (int s = 0; s < 500; s++) {
		for (int d = 0; d < DEPTH; d++)
			stack[d] = locs[(s * 7 + d * 13) % NAMES];
		add_sample1(p, stack, (size_t)(s % DEPTH) + 1, s + 1);
	}
	char *out = write_folded(p);
	assert_true(strlen(out) > 4 * 64 * 1024); /* several of the writer's chunks */
	pk_profile *q = read_folded(out);
	char *again = write_folded(q);
	assert_text(again, out);
	pk_profile *r = read_folded(again);
	assert_profiles_equal(q, r);
	int64_t total = 0;
	for (size_t i = 0; i < pk_profile_sample_count(q); i++) {
		pk_sample s;
		assert_int_equal(pk_profile_sample(q, i, &s), 0);
		total += s.values[0];
	}
	assert_int_equal(total, 500 * 501 / 2);
	free(again);
	free(out);
	pk_profile_free(r);
	pk_profile_free(q);
	pk_profile_free(p);
}

/* ----------------------------------------------------------- fixed points */

/* import -> export -> import -> export: the same bytes, and the two later
 * models the same; a diff survives pprof too, as base and new. */
static void test_fixed_point(void **state)
{
	(void)state;
	const char *inputs[] = {
	    "b;c 1\na 2.5\nb;c;d 3\nb 0\nb;c 4\n",
	    "x;y 1 2\nx 0 3\nz 4 0\n",
	    "only 7\n",
	};
	for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
		pk_profile *p = read_folded(inputs[i]);
		char *a = write_folded(p);
		pk_profile *q = read_folded(a);
		char *b = write_folded(q);
		assert_text(b, a);
		pk_profile *r = read_folded(b);
		assert_profiles_equal(q, r);

		pk_write_options wo = PK_WRITE_OPTIONS_INIT;
		wo.format = pk_format_by_name("pprof");
		void *pb = NULL;
		size_t size;
		assert_int_equal(pk_profile_write_buffer(r, &wo, &pb, &size, NULL), 0);
		pk_profile *from_pb = NULL;
		assert_int_equal(pk_profile_read_buffer(pb, size, NULL, &from_pb, NULL, NULL), 0);
		char *c = write_folded(from_pb);
		assert_text(c, a);
		free(c);
		pk_free(pb);
		pk_profile_free(from_pb);
		free(a);
		free(b);
		pk_profile_free(p);
		pk_profile_free(q);
		pk_profile_free(r);
	}
}

static char *fixture_pattern(void)
{
	const char *top = getenv("TOP_SRCDIR");
	if (top == NULL)
		return NULL;
	size_t n = strlen(top) + 64;
	char *path = malloc(n);
	assert_non_null(path);
	snprintf(path, n, "%s/tests/fixtures/pprof/*.pb.gz", top);
	return path;
}

/* Every fixture: pprof -> folded -> model -> folded gives the same bytes,
 * for each sample type, and the totals agree with the pprof's. */
static void test_fixtures(void **state)
{
	(void)state;
	char *pattern = fixture_pattern();
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
		for (size_t t = 0; t < pk_profile_sample_type_count(p); t++) {
			char index[24];
			snprintf(index, sizeof index, "%zu", t);
			pk_write_options wo = PK_WRITE_OPTIONS_INIT;
			wo.sample_type = index;
			size_t size;
			char *a = write_folded_opts(p, &wo, &size);
			pk_profile *q = read_folded(a);
			char *b = write_folded(q);
			if (strcmp(a, b) != 0)
				fail_msg("%s type %zu: not a fixed point", g.gl_pathv[i], t);
			int64_t want = 0, got = 0;
			for (size_t s = 0; s < pk_profile_sample_count(p); s++) {
				pk_sample x;
				pk_profile_sample(p, s, &x);
				want += x.values[t];
			}
			for (size_t s = 0; s < pk_profile_sample_count(q); s++) {
				pk_sample x;
				pk_profile_sample(q, s, &x);
				got += x.values[0];
			}
			assert_int_equal(got, want);
			free(a);
			free(b);
			pk_profile_free(q);
		}
		pk_profile_free(p);
	}
	globfree(&g);
	free(pattern);
}

/* ---------------------------------------------------------------- sniffing */

static void test_sniff(void **state)
{
	(void)state;
	const char *yes[] = {
	    "main;foo 1\n",
	    "main;foo 1",
	    "\n\n  \r\nmain;foo\t12.5\r\n",
	    "a 1 2\n",
	    "\xef\xbb\xbf"
	    "a 1\n",
	    /* a second line is judged only when it is complete */
	    "my func(int, char*) 3\nanything else",
	    "a 1\nb 2\nnot a stack\n",
	    /* the importer, not the sniffer, judges the stack */
	    "a;;b 1\n",
	    " 5\n",
	};
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
		if (pk_format_detect(yes[i], strlen(yes[i])) != folded_format())
			fail_msg("yes[%zu] is not detected", i);
	const char *no[] = {
	    "",
	    "\n \n",
	    "main;foo\n",
	    "main;foo 1 \n",
	    "5\n",
	    "main;foo 1e3\n",
	    "PeriodType: cpu nanoseconds\nPeriod: 10000000\n",
	    /* Go's legacy text profiles: the header ends in a number */
	    "goroutine profile: total 20\n4 @ 0x43b2f6 0x433e17\n",
	    "a 1\n\nb\n",
	    "{\"format\":\"profkit-profile\"}",
	    "<?xml version=\"1.0\"?>\n<svg/>\n",
	};
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		if (pk_format_detect(no[i], strlen(no[i])) == folded_format())
			fail_msg("no[%zu] is detected", i);
	static const char nul[] = "a 1\n\0";
	assert_ptr_not_equal(pk_format_detect(nul, sizeof nul - 1), folded_format());

	/* our own pprof and folded output */
	pk_profile *p = make_rich_profile();
	pk_write_options wo = PK_WRITE_OPTIONS_INIT;
	wo.format = pk_format_by_name("pprof");
	wo.compress = PK_COMPRESS_NONE;
	void *pb = NULL;
	size_t size;
	assert_int_equal(pk_profile_write_buffer(p, &wo, &pb, &size, NULL), 0);
	assert_ptr_equal(pk_format_detect(pb, size), pk_format_by_name("pprof"));
	pk_free(pb);
	char *folded = write_folded(p);
	assert_ptr_equal(pk_format_detect(folded, strlen(folded)), folded_format());
	free(folded);
	pk_profile_free(p);

	/* names */
	assert_ptr_equal(pk_format_by_path("x.folded"), folded_format());
	assert_ptr_equal(pk_format_by_path("x.collapsed"), folded_format());
	assert_ptr_equal(pk_format_by_path("X.FOLDED.gz"), folded_format());
	assert_true(pk_format_can_import(folded_format()));
	assert_true(pk_format_can_export(folded_format()));
}

/* Gzipped input and output: the registry's business, checked once here. */
static void test_gzip(void **state)
{
	(void)state;
	pk_profile *p = read_folded("a 2\na;b 1\n");
	pk_write_options wo = PK_WRITE_OPTIONS_INIT;
	wo.format = folded_format();
	wo.compress = PK_COMPRESS_GZIP;
	void *gz = NULL;
	size_t size;
	assert_int_equal(pk_profile_write_buffer(p, &wo, &gz, &size, NULL), 0);
	assert_true(pk__is_gzip(gz, size));
	pk_profile *q = NULL;
	const pk_format *f = NULL;
	assert_int_equal(pk_profile_read_buffer(gz, size, NULL, &q, &f, NULL), 0);
	assert_ptr_equal(f, folded_format());
	assert_profiles_equal(p, q);
	pk_free(gz);
	pk_profile_free(p);
	pk_profile_free(q);
}

/* ------------------------------------------------------ allocation failure */

/* Failing each allocation in turn gives PK_ENOMEM and leaks nothing;
 * reading a fractional two-count file and writing the rich profile (and a
 * diff) reach every allocation. */
static void test_allocation_failures(void **state)
{
	(void)state;
	const char *text = "a;b 1.5 2\nc;d;e 3 4\na;b 1 1\n\nf 0 7\n";
	pk_profile *rich = make_rich_profile();
	pk_profile *want_read = read_folded(text);
	char *want_write = write_folded(rich);
	bool read_ok = false, write_ok = false, diff_ok = false;
	pk_set_allocator(chaos_malloc, chaos_free);
	for (long n = 0; n < 100000 && !(read_ok && write_ok && diff_ok); n++) {
		pk_profile *q = NULL;
		pk_error err = PK_ERROR_INIT;
		pk_read_options ro = PK_READ_OPTIONS_INIT;
		ro.format = folded_format();
		chaos_reset(n + 1, 1); /* the first n succeed, then none */
		int rc = pk_profile_read_buffer(text, strlen(text), &ro, &q, NULL, &err);
		if (rc == 0) {
			read_ok = true;
			assert_profiles_equal(q, want_read);
		} else {
			assert_int_equal(rc, PK_ENOMEM);
			assert_int_equal(err.code, PK_ENOMEM);
		}
		pk_profile_free(q);
		assert_int_equal(chaos.live, 0);

		for (int diff = 0; diff < 2; diff++) {
			pk_write_options wo = PK_WRITE_OPTIONS_INIT;
			wo.format = folded_format();
			wo.base = diff ? rich : NULL;
			void *out = NULL;
			size_t size = 0;
			pk_error_init(&err);
			chaos_reset(n + 1, 1);
			rc = pk_profile_write_buffer(rich, &wo, &out, &size, &err);
			if (rc == 0) {
				*(diff ? &diff_ok : &write_ok) = true;
				if (!diff) {
					assert_int_equal(size, strlen(want_write));
					assert_memory_equal(out, want_write, size);
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
	assert_true(read_ok && write_ok && diff_ok);
	free(want_write);
	pk_profile_free(want_read);
	pk_profile_free(rich);
}

/* pk__format_int, which writes two digits a step, writes what printf's
 * %lld does: every length of number, both signs, the extremes. */
static void test_format_int(void **state)
{
	(void)state;
	const int64_t special[] = {0,
	                           1,
	                           9,
	                           10,
	                           99,
	                           100,
	                           101,
	                           999,
	                           1000,
	                           -1,
	                           -9,
	                           -10,
	                           -99,
	                           -100,
	                           INT64_MAX,
	                           INT64_MIN,
	                           INT64_MAX - 1,
	                           INT64_MIN + 1,
	                           1000000000,
	                           10000000000};
	for (size_t i = 0; i < 4000; i++) {
		int64_t v = i < sizeof special / sizeof special[0]
		                ? special[i]
		                : (int64_t)((uint64_t)i * 0x9e3779b97f4a7c15u >> (i % 64));
		char want[32], got[32], *end = got + sizeof got - 1;
		snprintf(want, sizeof want, "%lld", (long long)v);
		*end = '\0';
		assert_string_equal(pk__format_int(v, end), want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_grammar),
	    cmocka_unit_test(test_model),
	    cmocka_unit_test(test_model_two_counts),
	    cmocka_unit_test(test_model_fractional),
	    cmocka_unit_test(test_blank_input),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_nul_byte),
	    cmocka_unit_test(test_export_rich),
	    cmocka_unit_test(test_export_exact_bytes),
	    cmocka_unit_test(test_export_large),
	    cmocka_unit_test(test_fixed_point),
	    cmocka_unit_test(test_fixtures),
	    cmocka_unit_test(test_sniff),
	    cmocka_unit_test(test_gzip),
	    cmocka_unit_test(test_allocation_failures),
	    cmocka_unit_test(test_format_int),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
