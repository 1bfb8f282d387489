/* test_callgrind.c - the callgrind reader: the grammar (name compression,
 * relative positions, inlined files, events, jumps, parts), the stacks it
 * rebuilds from call edges, its errors with their line and column, and
 * allocation failures. */
#include "helpers.h"
#include "internal.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_EVENTS_IN_TEST 64

/* ---------------------------------------------------------------- helpers */

static const pk_format *callgrind_format(void)
{
	const pk_format *f = pk_format_by_name("callgrind");
	assert_non_null(f);
	return f;
}

/* Read text as callgrind; returns the code, fills *err. */
static int read_text(const char *text, size_t size, pk_profile **out, pk_error *err)
{
	pk_read_options ro = PK_READ_OPTIONS_INIT;
	ro.format = callgrind_format();
	pk_error_init(err);
	*out = NULL;
	return pk_profile_read_buffer(text, size, &ro, out, NULL, err);
}

static pk_profile *read_ok(const char *text)
{
	pk_profile *p = NULL;
	pk_error err;
	int rc = read_text(text, strlen(text), &p, &err);
	if (rc != 0)
		fail_msg("reading failed: %s (line %ld, column %ld)", err.message, err.line,
		         err.column);
	return p;
}

/* A growable string. */
typedef struct strbuf {
	char *s;
	size_t len, cap;
} strbuf;

static void put(strbuf *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(strbuf *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (t->len + (size_t)n + 1 > t->cap) {
		t->cap = (t->len + (size_t)n + 1) * 2;
		t->s = realloc(t->s, t->cap);
		assert_non_null(t->s);
	}
	va_start(ap, fmt);
	vsnprintf(t->s + t->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

/* A location as "name@file:line" (or "name@file:0xaddr:line"). */
static void put_location(strbuf *t, const pk_profile *p, uint32_t loc)
{
	const pk_line *lines;
	size_t n = pk_profile_location_lines(p, loc, &lines);
	assert_int_equal(n, 1);
	const pk_function *f = pk_profile_function(p, lines[0].function);
	put(t, "%s@%s:", pk_profile_string(p, f->name), pk_profile_string(p, f->filename));
	uint64_t addr = pk_profile_location(p, loc)->address;
	if (addr != 0)
		put(t, "0x%llx:", (unsigned long long)addr);
	put(t, "%lld", (long long)lines[0].line);
}

/* Every sample on a line: its stack leaf first, " = " and its values, and
 * its labels. The result is malloc'ed. */
static char *dump(const pk_profile *p)
{
	strbuf t = {0};
	put(&t, "%s", "");
	for (size_t i = 0; i < pk_profile_sample_count(p); i++) {
		pk_sample s;
		assert_int_equal(pk_profile_sample(p, i, &s), 0);
		for (size_t j = 0; j < s.depth; j++) {
			if (j > 0)
				put(&t, " <- ");
			put_location(&t, p, s.locations[j]);
		}
		put(&t, " =");
		for (size_t j = 0; j < s.value_count; j++)
			put(&t, "%s%lld", j ? "," : " ", (long long)s.values[j]);
		for (size_t j = 0; j < s.label_count; j++)
			put(&t, " %s=%lld",
			    pk_profile_string(p, pk_profile_label(p, s.labels[j]).key),
			    (long long)pk_profile_label(p, s.labels[j]).num);
		put(&t, "\n");
	}
	return t.s;
}

static void assert_samples(const pk_profile *p, const char *want)
{
	char *got = dump(p);
	if (strcmp(got, want) != 0)
		fail_msg("samples differ:\n--- got\n%s--- want\n%s", got, want);
	free(got);
}

static void assert_types(const pk_profile *p, const char *const *names, size_t n)
{
	assert_int_equal(pk_profile_sample_type_count(p), n);
	for (size_t i = 0; i < n; i++) {
		pk_value_type vt = pk_profile_sample_type(p, i);
		assert_string_equal(pk_profile_string(p, vt.type), names[i]);
		assert_string_equal(pk_profile_string(p, vt.unit), "count");
	}
}

/* The sum of each sample type's values. */
static void totals(const pk_profile *p, int64_t *out)
{
	size_t n = pk_profile_sample_type_count(p);
	memset(out, 0, n * sizeof *out);
	for (size_t i = 0; i < pk_profile_sample_count(p); i++) {
		pk_sample s;
		assert_int_equal(pk_profile_sample(p, i, &s), 0);
		for (size_t j = 0; j < n; j++)
			out[j] += s.values[j];
	}
}

/* ---------------------------------------------------------------- grammar */

static void test_compression(void **state)
{
	(void)state;
	pk_profile *p = read_ok("# callgrind format\n"
	                        "version: 1\n"
	                        "creator: test\n"
	                        "pid: 42\n"
	                        "cmd:  ./prog\n"
	                        "part: 1\n"
	                        "\n"
	                        "positions: line\n"
	                        "events: Ir\n"
	                        "summary: 216\n"
	                        "\n"
	                        "ob=(7) /bin/prog\n"
	                        "fl=(12) main.c\n"
	                        "fn=(300) main\n"
	                        "3 10\n"
	                        "+2 5\n"
	                        "cfi=(5) lib.c\n"
	                        "cfn=(301) work\n"
	                        "calls=2 10\n"
	                        "* 100\n"
	                        "* 1\n"
	                        "\n"
	                        "fl=(5)\n"
	                        "fn=(301)\n"
	                        "10 60\n"
	                        "+1 40\n"
	                        "\n"
	                        "totals: 216\n");
	const char *types[] = {"Ir"};
	assert_types(p, types, 1);
	assert_samples(p, "main@main.c:3 = 10\n"
	                  "main@main.c:5 = 6\n"
	                  "work@lib.c:10 <- main@main.c:5 = 60\n"
	                  "work@lib.c:11 <- main@main.c:5 = 40\n");
	const char *comments[] = {"creator: test", "pid: 42", "cmd: ./prog", "summary: 216",
	                          "totals: 216"};
	assert_int_equal(pk_profile_comment_count(p), 5);
	for (size_t i = 0; i < 5; i++)
		assert_string_equal(pk_profile_string(p, pk_profile_comment(p, i)), comments[i]);
	assert_int_equal(pk_profile_mapping_count(p), 1);
	assert_string_equal(pk_profile_string(p, pk_profile_mapping(p, 0)->filename), "/bin/prog");
	for (size_t i = 0; i < pk_profile_location_count(p); i++)
		assert_int_equal(pk_profile_location(p, i)->mapping, 0);
	assert_int_equal(pk_profile_function_count(p), 2);
	pk_profile_free(p);
}

/* Ids are per kind: file 1, function 1 and object 1 are three names; a
 * redefinition replaces a name; "???" is an unknown file or object. */
static void test_compression_kinds(void **state)
{
	(void)state;
	pk_profile *p = read_ok("events: Ir\n"
	                        "ob=(1) ???\n"
	                        "fl=(1) one.c\n"
	                        "fn=(1) one\n"
	                        "1 1\n"
	                        "jfi=(2) two.c\n"
	                        "fl=(2)\n"
	                        "fn=(1) uno\n"
	                        "2 2\n"
	                        "fl=(1) ???\n"
	                        "fn=(1)\n"
	                        "3 3\n");
	assert_samples(p, "one@one.c:1 = 1\n"
	                  "uno@two.c:2 = 2\n"
	                  "uno@:3 = 3\n");
	assert_int_equal(pk_profile_mapping_count(p), 0);
	assert_int_equal(pk_profile_location(p, 0)->mapping, PK_NONE);
	pk_profile_free(p);
}

/* Relative subpositions refer to the last cost line; a calls= target is
 * not one, the call's cost line is. */
static void test_relative_positions(void **state)
{
	(void)state;
	pk_profile *p = read_ok("positions: instr line\n"
	                        "events: Ir\n"
	                        "fl=f.c\n"
	                        "fn=f\n"
	                        "0x10 5 1\n"
	                        "+2 * 2\n"
	                        "-1 +3 4\n"
	                        "cfn=g\n"
	                        "calls=1 +100 -4\n"
	                        "* * 7\n"
	                        "+1 -1 3\n"
	                        "fn=g\n"
	                        "0x200 20 7\n"
	                        "* 0x15 1\n"
	                        "16 * 1\n");
	assert_samples(p, "f@f.c:0x10:5 = 1\n"
	                  "f@f.c:0x12:5 = 2\n"
	                  "f@f.c:0x11:8 = 4\n"
	                  "f@f.c:0x12:7 = 3\n"
	                  "g@f.c:0x200:20 <- f@f.c:0x11:8 = 7\n"
	                  "g@f.c:0x200:21 <- f@f.c:0x11:8 = 1\n"
	                  "g@f.c:0x10:21 <- f@f.c:0x11:8 = 1\n");
	pk_profile_free(p);
}

/* positions: instr alone, and positions: with no column at all. */
static void test_positions_variants(void **state)
{
	(void)state;
	pk_profile *p = read_ok("positions: instr\n"
	                        "events: Ir\n"
	                        "fn=f\n"
	                        "0x400 3\n"
	                        "+4 2\n");
	assert_samples(p, "f@:0x400:0 = 3\n"
	                  "f@:0x404:0 = 2\n");
	pk_profile_free(p);
	p = read_ok("positions:\n"
	            "events: Ir\n"
	            "fn=f\n"
	            "3\n"
	            "4\n");
	assert_samples(p, "f@:0 = 7\n");
	pk_profile_free(p);
	p = read_ok("positions: bb line\n"
	            "events: Ir\n"
	            "fn=f\n"
	            "0x400 3 5\n");
	assert_samples(p, "f@:3 = 5\n");
	pk_profile_free(p);
}

/* fi= and fe= put a function's (inlined) code in another file: a function
 * record of that name in that file. A cfn= with no cfi= names a function
 * of the current file, fi= included. */
static void test_inlined_files(void **state)
{
	(void)state;
	pk_profile *p = read_ok("events: Ir\n"
	                        "fl=a.c\n"
	                        "fn=f\n"
	                        "1 10\n"
	                        "fi=b.h\n"
	                        "5 20\n"
	                        "cfn=g\n"
	                        "calls=1 0\n"
	                        "6 4\n"
	                        "fe=a.c\n"
	                        "2 30\n"
	                        "fl=b.h\n"
	                        "fn=g\n"
	                        "9 4\n");
	assert_samples(p, "f@a.c:1 = 10\n"
	                  "f@b.h:5 = 20\n"
	                  "f@a.c:2 = 30\n"
	                  "g@b.h:9 <- f@b.h:6 = 4\n");
	assert_int_equal(pk_profile_function_count(p), 3);
	pk_profile_free(p);
}

/* Several events: one sample type each; missing trailing costs are 0;
 * hex costs; trailing whitespace, CRLF and comments anywhere. */
static void test_events(void **state)
{
	(void)state;
	pk_profile *p = read_ok("# a comment\r\n"
	                        "events: Ir Dr D1mr  \r\n"
	                        "event: Ir : Instruction Fetches\r\n"
	                        "fn=f \r\n"
	                        "   # an indented comment\r\n"
	                        "1 1 2 3\t\r\n"
	                        "\r\n"
	                        "2 4\r\n"
	                        "3 0x10 0 0x1\r\n");
	const char *types[] = {"Ir", "Dr", "D1mr"};
	assert_types(p, types, 3);
	assert_string_equal(pk_profile_string(p, pk_profile_default_sample_type(p)), "Ir");
	assert_samples(p, "f@:1 = 1,2,3\n"
	                  "f@:2 = 4,0,0\n"
	                  "f@:3 = 16,0,1\n");
	assert_string_equal(pk_profile_string(p, pk_profile_comment(p, 0)),
	                    "event: Ir : Instruction Fetches");
	pk_profile_free(p);
}

/* jump= and jcnd= lines and the position line after them carry no cost,
 * but that line is the last position for relative ones. */
static void test_jumps(void **state)
{
	(void)state;
	pk_profile *p = read_ok("events: Ir\n"
	                        "fn=f\n"
	                        "10 5\n"
	                        "jump=3 +5\n"
	                        "* \n"
	                        "jfi=(1) x.c\n"
	                        "jfn=(1) h\n"
	                        "jcnd=2/3 -2\n"
	                        "+1\n"
	                        "+1 7\n");
	assert_samples(p, "f@:10 = 5\n"
	                  "f@:12 = 7\n");
	pk_profile_free(p);
}

/* Lines of keys we do not know are skipped, as callgrind_annotate does. */
static void test_unknown_lines(void **state)
{
	(void)state;
	pk_profile *p = read_ok("events: Ir\n"
	                        "future: 1\n"
	                        "timeframe (BB): 12\n"
	                        "fn=f\n"
	                        "rec=2\n"
	                        "frfn=(3) g\n"
	                        "1 5\n");
	assert_samples(p, "f@:1 = 5\n");
	pk_profile_free(p);
}

/* Parts (valgrind's --separate-threads=yes --combine-dumps=yes): each its
 * own header and call graph; all events become sample types; a thread
 * label, and a part label when the parts' numbers differ. */
static void test_parts(void **state)
{
	(void)state;
	pk_profile *p = read_ok("# callgrind format\n"
	                        "version: 1\n"
	                        "part: 1\n"
	                        "thread: 1\n"
	                        "events: Ir\n"
	                        "fl=(1) m.c\n"
	                        "fn=(1) main\n"
	                        "1 10\n"
	                        "totals: 10\n"
	                        "# callgrind format\n"
	                        "version: 1\n"
	                        "part: 1\n"
	                        "thread: 2\n"
	                        "positions: instr\n"
	                        "events: Dr Ir\n"
	                        "fl=(1) w.c\n"
	                        "fn=(1) worker\n"
	                        "0x10 5 6\n"
	                        "totals: 5 6\n");
	const char *types[] = {"Ir", "Dr"};
	assert_types(p, types, 2);
	assert_samples(p, "main@m.c:1 = 10,0 thread=1\n"
	                  "worker@w.c:0x10:0 = 6,5 thread=2\n");
	pk_profile_free(p);
	p = read_ok("events: Ir\n"
	            "part: 1\n"
	            "fn=a\n"
	            "1 1\n"
	            "part: 2\n"
	            "events: Ir\n"
	            "fn=b\n"
	            "1 2\n"
	            "events: Ir\n"
	            "fn=c\n"
	            "1 3\n");
	assert_samples(p, "a@:1 = 1 part=1\n"
	                  "b@:1 = 2 part=2\n"
	                  "c@:1 = 3 part=3\n");
	pk_profile_free(p);
}

/* ----------------------------------------------------------------- stacks */

/* A diamond: c is called from a and b, whose inclusive costs into c (2 and
 * 1) split c's self cost 100: 67 and 33 after rounding, exactly 100. */
static void test_stacks_diamond(void **state)
{
	(void)state;
	pk_profile *p = read_ok("events: Ir\n"
	                        "fl=m.c\n"
	                        "fn=main\n"
	                        "1 1\n"
	                        "cfn=a\n"
	                        "calls=1 10\n"
	                        "2 300\n"
	                        "cfn=b\n"
	                        "calls=1 20\n"
	                        "3 100\n"
	                        "fn=a\n"
	                        "10 50\n"
	                        "cfn=c\n"
	                        "calls=1 30\n"
	                        "11 2\n"
	                        "fn=b\n"
	                        "20 25\n"
	                        "cfn=c\n"
	                        "calls=1 30\n"
	                        "21 1\n"
	                        "fn=c\n"
	                        "30 100\n"
	                        "31 1\n");
	assert_samples(p, "main@m.c:1 = 1\n"
	                  "a@m.c:10 <- main@m.c:2 = 50\n"
	                  "b@m.c:20 <- main@m.c:3 = 25\n"
	                  "c@m.c:30 <- a@m.c:11 <- main@m.c:2 = 67\n"
	                  "c@m.c:30 <- b@m.c:21 <- main@m.c:3 = 33\n"
	                  "c@m.c:31 <- a@m.c:11 <- main@m.c:2 = 1\n");
	pk_profile_free(p);
}

/* Recursion: the edge back into a function on the path is left out, so
 * f'2's cost goes through f only; a cycle between two functions is cut
 * where the search from main closes it. */
static void test_stacks_recursion(void **state)
{
	(void)state;
	pk_profile *p = read_ok("events: Ir\n"
	                        "fn=main\n"
	                        "1 1\n"
	                        "cfn=f\n"
	                        "calls=1 0\n"
	                        "2 100\n"
	                        "cfn=a\n"
	                        "calls=1 0\n"
	                        "3 100\n"
	                        "fn=f\n"
	                        "5 10\n"
	                        "cfn=f'2\n"
	                        "calls=1 0\n"
	                        "6 90\n"
	                        "fn=f'2\n"
	                        "7 90\n"
	                        "cfn=f'2\n"
	                        "calls=5 0\n"
	                        "8 80\n"
	                        "fn=a\n"
	                        "10 70\n"
	                        "cfn=b\n"
	                        "calls=1 0\n"
	                        "11 60\n"
	                        "fn=b\n"
	                        "20 30\n"
	                        "cfn=a\n"
	                        "calls=1 0\n"
	                        "21 30\n");
	assert_samples(p, "main@:1 = 1\n"
	                  "f@:5 <- main@:2 = 10\n"
	                  "f'2@:7 <- f@:6 <- main@:2 = 90\n"
	                  "a@:10 <- main@:3 = 70\n"
	                  "b@:20 <- a@:11 <- main@:3 = 30\n");
	pk_profile_free(p);
	/* Nobody calls x and y but each other: the search starts at x. */
	p = read_ok("events: Ir\n"
	            "fn=x\n"
	            "1 5\n"
	            "cfn=y\n"
	            "calls=1 0\n"
	            "2 5\n"
	            "fn=y\n"
	            "3 5\n"
	            "cfn=x\n"
	            "calls=1 0\n"
	            "4 5\n");
	assert_samples(p, "x@:1 = 5\n"
	                  "y@:3 <- x@:2 = 5\n");
	pk_profile_free(p);
}

/* Per event, the shares follow that event's inclusive costs; an event no
 * call edge carries falls back on the edges' costs of all events. */
static void test_stacks_per_event(void **state)
{
	(void)state;
	pk_profile *p = read_ok("events: A B C\n"
	                        "fn=main\n"
	                        "cfn=f\n"
	                        "calls=1 0\n"
	                        "1 30 10 0\n"
	                        "cfn=g\n"
	                        "calls=1 0\n"
	                        "2 10 30 0\n"
	                        "cfn=h\n"
	                        "calls=1 0\n"
	                        "3 40 40 0\n"
	                        "fn=f\n"
	                        "cfn=h\n"
	                        "calls=1 0\n"
	                        "4 30 10 0\n"
	                        "fn=g\n"
	                        "cfn=h\n"
	                        "calls=1 0\n"
	                        "5 10 30 0\n"
	                        "fn=h\n"
	                        "9 40 40 8\n");
	/* h's in-edges: from main (A 40, B 40), f (30, 10), g (10, 30); C
	 * falls back on their costs of all events: 80, 40, 40. */
	assert_samples(p, "h@:9 <- main@:3 = 20,20,4\n"
	                  "h@:9 <- f@:4 <- main@:1 = 15,5,2\n"
	                  "h@:9 <- g@:5 <- main@:2 = 5,15,2\n");
	pk_profile_free(p);
}

/* More call paths than the cap: the heaviest are kept and take the rest's
 * share, so the total stays exact. */
static void test_stacks_path_cap(void **state)
{
	(void)state;
	strbuf t = {0};
	put(&t, "events: Ir\nfn=main\n");
	for (int i = 1; i <= 20; i++)
		put(&t, "cfn=c%d\ncalls=1 0\n%d %d\n", i, i, i);
	for (int i = 1; i <= 20; i++)
		put(&t, "fn=c%d\ncfn=leaf\ncalls=1 0\n%d %d\n", i, 100 + i, i);
	put(&t, "fn=leaf\n500 210\n");
	pk_profile *p = read_ok(t.s);
	free(t.s);
	size_t leaf_samples = 0;
	int64_t sum = 0;
	for (size_t i = 0; i < pk_profile_sample_count(p); i++) {
		pk_sample s;
		assert_int_equal(pk_profile_sample(p, i, &s), 0);
		assert_int_equal(s.depth, 3);
		const pk_line *lines;
		pk_profile_location_lines(p, s.locations[1], &lines);
		const char *caller =
		    pk_profile_string(p, pk_profile_function(p, lines[0].function)->name);
		/* c1..c4 are the lightest: dropped */
		assert_true(strcmp(caller, "c1") && strcmp(caller, "c2") && strcmp(caller, "c3") &&
		            strcmp(caller, "c4"));
		leaf_samples++;
		sum += s.values[0];
	}
	assert_int_equal(leaf_samples, 16);
	assert_int_equal(sum, 210);
	pk_profile_free(p);
}

/* A chain deeper than the frame limit keeps the frames nearest the leaf,
 * and the search over it uses no recursion. */
static void test_stacks_deep_chain(void **state)
{
	(void)state;
	enum { N = 5000 };
	strbuf t = {0};
	put(&t, "events: Ir\n");
	for (int i = 0; i < N; i++)
		put(&t, "fn=(%d) f%d\n%d 1\ncfn=(%d) f%d\ncalls=1 0\n%d %d\n", i, i, i, i + 1,
		    i + 1, i, N - i);
	put(&t, "fn=(%d)\n1 1\n", N);
	pk_profile *p = read_ok(t.s);
	free(t.s);
	assert_int_equal(pk_profile_sample_count(p), N + 1);
	int64_t sum[1];
	totals(p, sum);
	assert_int_equal(sum[0], N + 1);
	size_t deepest = 0;
	for (size_t i = 0; i < pk_profile_sample_count(p); i++) {
		pk_sample s;
		assert_int_equal(pk_profile_sample(p, i, &s), 0);
		deepest = s.depth > deepest ? s.depth : deepest;
	}
	assert_int_equal(deepest, 512);
	pk_profile_free(p);
}

/* A small file whose call graph makes 16 paths of 300 frames to each of
 * 4000 positions would need 19 million frames: refused, quickly. */
static void test_stacks_frame_budget(void **state)
{
	(void)state;
	strbuf t = {0};
	put(&t, "events: Ir\nfn=j0\n1 1\n");
	for (int d = 0; d < 4; d++)
		put(&t,
		    "fn=j%d\ncfn=a%d\ncalls=1 0\n1 10\ncfn=b%d\ncalls=1 0\n2 10\n"
		    "fn=a%d\ncfn=j%d\ncalls=1 0\n1 10\nfn=b%d\ncfn=j%d\ncalls=1 0\n1 10\n",
		    d, d, d, d, d + 1, d, d + 1);
	put(&t, "fn=j4\ncfn=c0\ncalls=1 0\n1 10\n");
	for (int i = 0; i < 300; i++)
		put(&t, "fn=c%d\ncfn=c%d\ncalls=1 0\n1 10\n", i, i + 1);
	put(&t, "fn=c300\n");
	for (int i = 1; i <= 4000; i++)
		put(&t, "%d 100\n", i);
	pk_profile *p = NULL;
	pk_error err;
	assert_int_equal(read_text(t.s, t.len, &p, &err), PK_ENOMEM);
	assert_null(p);
	assert_string_equal(err.message,
	                    "the stacks rebuilt from the call graph would hold more than 16777216 "
	                    "frames");
	free(t.s);
}

/* ------------------------------------------------------------ the fixtures */

/* Each fixture's event totals are the sums of its totals: lines. */
static void test_fixtures(void **state)
{
	(void)state;
	const char *top = getenv("TOP_SRCDIR");
	if (top == NULL)
		skip();
	char pattern[4096];
	snprintf(pattern, sizeof pattern, "%s/tests/fixtures/callgrind/*.callgrind", top);
	glob_t g;
	assert_int_equal(glob(pattern, 0, NULL, &g), 0);
	assert_true(g.gl_pathc >= 7);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		FILE *f = fopen(g.gl_pathv[i], "r");
		assert_non_null(f);
		int64_t want[MAX_EVENTS_IN_TEST] = {0};
		char line[4096];
		while (fgets(line, sizeof line, f)) {
			if (strncmp(line, "totals:", 7) != 0)
				continue;
			char *s = line + 7;
			for (int k = 0; k < MAX_EVENTS_IN_TEST && *s && *s != '\n'; k++)
				want[k] += strtoll(s, &s, 10);
		}
		fclose(f);
		pk_profile *p = NULL;
		const pk_format *format = NULL;
		pk_error err = PK_ERROR_INIT;
		if (pk_profile_read_path(g.gl_pathv[i], NULL, &p, &format, &err) != 0)
			fail_msg("%s: %s", g.gl_pathv[i], err.message);
		assert_ptr_equal(format, callgrind_format());
		int64_t got[MAX_EVENTS_IN_TEST];
		totals(p, got);
		for (size_t k = 0; k < pk_profile_sample_type_count(p); k++)
			if (got[k] != want[k])
				fail_msg("%s: event %zu totals %lld, want %lld", g.gl_pathv[i], k,
				         (long long)got[k], (long long)want[k]);
		assert_int_equal(pk_profile_validate(p, NULL), 0);
		pk_profile_free(p);
	}
	globfree(&g);
}

/* ------------------------------------------------------------- detection */

static void test_sniff(void **state)
{
	(void)state;
	const pk_format *cg = callgrind_format(), *folded = pk_format_by_name("folded");
	struct {
		const char *text;
		const pk_format *want;
	} cases[] = {
	    {"# callgrind format\nversion: 1\n", cg},
	    {"version: 1\ncreator: callgrind-3.9\npid: 1\n\nevents: Ir\nfn=main\n1 1\n", cg},
	    {"\n# old cachegrind\ndesc: I1 cache: 32768 B\ncmd: ./a\nevents: Ir\n", cg},
	    {"events: Ir\nfn=main\n1 5\n", cg},
	    /* a folded stack that looks like a header line */
	    {"version: 1\n", folded},
	    {"version: 1\nmain;foo 3\nevents: x 2\n", folded},
	    {"main;foo 12\n", folded},
	    {"fn=main\nevents: Ir\n1 1\n", NULL},
	    {"{\"format\": \"profkit-profile\"}", pk_format_by_name("json")},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const pk_format *got = pk_format_detect(cases[i].text, strlen(cases[i].text));
		if (got != cases[i].want)
			fail_msg("case %zu: detected %s", i, got ? pk_format_name(got) : "nothing");
	}
	assert_ptr_equal(pk_format_by_path("callgrind.out.1234"), cg);
	assert_ptr_equal(pk_format_by_path("/tmp/x/callgrind.out.1234.1-02"), cg);
	assert_ptr_equal(pk_format_by_path("callgrind.out.77.gz"), cg);
	assert_ptr_equal(pk_format_by_path("prog.callgrind"), cg);
	assert_ptr_equal(pk_format_by_path("callgrind.out.1.pb.gz"), pk_format_by_name("pprof"));
	assert_null(pk_format_by_path("my-callgrind.out.1"));
	assert_true(pk_format_can_import(cg));
}

/* ----------------------------------------------------------------- errors */

typedef struct bad_case {
	const char *text;
	long line, column;
	const char *message;
} bad_case;

static const bad_case bad_cases[] = {
    {"fn=f\n1 2\nevents: Ir\n", 2, 1, "a cost line before the events: line"},
    {"events: Ir\nfn=(3)\n", 2, 4, "the compressed function id (3) is used before it is defined"},
    {"events: Ir\nfl=(3)\n", 2, 4, "the compressed file id (3) is used before it is defined"},
    {"events: Ir\ncob=(9)\n", 2, 5, "the compressed object id (9) is used before it is defined"},
    {"events: Ir\nfn=(12 main\n", 2, 7, "expected ')' after the compressed function id"},
    {"events: Ir\nfn=(99999999999999999999) x\n", 2, 5,
     "the compressed function id 99999999999999999999 is too large"},
    {"events: Ir\nfn=f\n1 2 3\n", 3, 5, "more costs than the 1 event of the events: line"},
    {"events: Ir Dr\nfn=f\n1 2 3 4\n", 3, 7, "more costs than the 2 events of the events: line"},
    {"events: Ir\nfn=f\n1 2x\n", 3, 3, "expected a cost (a decimal or 0x hex number), found '2x'"},
    {"events: Ir\nfn=f\n1 -2\n", 3, 3, "expected a cost (a decimal or 0x hex number), found '-2'"},
    {"events: Ir\nfn=f\n1 9223372036854775808\n", 3, 3,
     "the cost 9223372036854775808 is larger than 9223372036854775807, the largest profkit "
     "holds"},
    {"events: Ir\nfn=f\n1 18446744073709551616\n", 3, 3,
     "the cost 18446744073709551616 does not fit in 64 bits"},
    {"events: Ir\nfn=f\n1 9223372036854775807\n2 1\n", 4, 3,
     "the Ir costs add up to more than 9223372036854775807, the largest total profkit holds"},
    {"events: Ir\nfn=f\ncfn=g\ncalls=1 0\nfn=h\n", 5, 1,
     "expected the cost line of the calls= on line 4"},
    {"events: Ir\nfn=f\ncfn=g\ncalls=1 0\n", 5, 1,
     "the input ends after the calls= on line 4, which needs a cost line"},
    {"events: Ir\nfn=f\ncfn=g\ncalls=1 0", 4, 10,
     "the input ends after the calls= on line 4, which needs a cost line"},
    {"events: Ir\nfn=f\ncfn=g\ncalls=x 0\n", 4, 7, "expected a call count after calls=, found 'x'"},
    {"events: Ir\nfn=f\ncalls=1 0\n", 3, 1, "a calls= line before any cfn= line"},
    {"events: Ir\nfn=f\n+x 1\n", 3, 1,
     "expected a line number (a number, +N, -N or *), found '+x'"},
    {"events: Ir\nfn=f\n*5 1\n", 3, 1,
     "expected a line number (a number, +N, -N or *), found '*5'"},
    {"events: Ir\nfn=f\n5 1\n-7 1\n", 4, 1, "the relative line number -7 goes below 0 from 5"},
    {"events: Ir\nfn=f\n9223372036854775808 1\n", 3, 1,
     "the line number 9223372036854775808 is larger than 9223372036854775807"},
    {"events: Ir\nfn=f\n9223372036854775807 1\n+1 1\n", 4, 1,
     "the relative line number +1 goes past 9223372036854775807 from 9223372036854775807"},
    {"positions: instr line\nevents: Ir\nfn=f\n0x10\n", 4, 5,
     "expected a line number, found the end of the line"},
    {"positions: instr\nevents: Ir\nfn=f\n0x10000000000000000 1\n", 4, 1,
     "the instruction address 0x10000000000000000 is larger than 18446744073709551615"},
    {"positions: instr line\nevents: Ir\nfn=f\nx 1\n", 4, 1,
     "expected a cost line, a \"key: value\" header or a \"spec=name\" line, found 'x'"},
    {"positions: instr foo\n", 1, 18,
     "unknown position 'foo' (positions: names instr, bb and line)"},
    {"positions: line line\n", 1, 17, "positions: names line twice"},
    {"events: Ir Dr Ir\n", 1, 15, "the events: line names Ir twice"},
    {"events:\n", 1, 8, "the events: line names no event"},
    {"version: 2\n", 1, 10,
     "version 2 of the callgrind format is not supported (profkit reads version 1)"},
    {"version: one\n", 1, 10, "expected a version number after version:"},
    {"# callgrind format\nfn=f\n", 3, 1, "no events: line; a callgrind file needs one"},
    {"events: Ir\n1 2\n", 2, 1, "a cost line before any fn= line"},
    {"events: Ir\n(junk\n", 2, 1,
     "expected a cost line, a \"key: value\" header or a \"spec=name\" line, found '(junk'"},
    {"events: Ir\nno separator here\n", 2, 1,
     "expected a cost line, a \"key: value\" header or a \"spec=name\" line, found 'no'"},
    {"events: Ir\r\nfn=f\r\n1 x\r\n", 3, 3,
     "expected a cost (a decimal or 0x hex number), found 'x'"},
    {"events: Ir\nfn=\xc3\xa9t\xc3\xa9\n1 x\n", 3, 3,
     "expected a cost (a decimal or 0x hex number), found 'x'"},
    {"events: Ir\nfl=\xc3\xa9\xc3\xa9\nfn=(1\n", 3, 6, "expected ')' after the compressed"},
};

static void check_error(const char *text, size_t size, long line, long column, const char *message,
                        size_t i)
{
	pk_profile *p = NULL;
	pk_error err;
	int rc = read_text(text, size, &p, &err);
	if (rc != PK_EFORMAT || strstr(err.message, message) == NULL || err.line != line ||
	    err.column != column)
		fail_msg("case %zu: got %d at %ld:%ld \"%s\"; want %ld:%ld \"%s\"", i, rc, err.line,
		         err.column, err.message, line, column, message);
	assert_null(p);
	assert_ptr_equal(err.format, callgrind_format()->name);
	assert_null(strchr(err.message, '\n'));
	assert_true(err.offset >= 0 && (size_t)err.offset <= size);
}

static void test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++)
		check_error(bad_cases[i].text, strlen(bad_cases[i].text), bad_cases[i].line,
		            bad_cases[i].column, bad_cases[i].message, i);
	/* a NUL byte, at its offset */
	static const char nul[] = "events: Ir\nfn=a\0b\n1 1\n";
	check_error(nul, sizeof nul - 1, 2, 5, "a NUL byte; callgrind files are text", 100);
	pk_profile *p = NULL;
	pk_error err;
	assert_int_equal(read_text(nul, sizeof nul - 1, &p, &err), PK_EFORMAT);
	assert_int_equal(err.offset, 15);
	/* the 65th event */
	strbuf t = {0};
	put(&t, "events:");
	for (int i = 0; i < 65; i++)
		put(&t, " e%d", i);
	put(&t, "\n");
	long column = (long)(strstr(t.s, " e64") - t.s) + 2;
	check_error(t.s, t.len, 1, column, "more than 64 different events", 101);
	free(t.s);
}

/* ------------------------------------------------------ allocation failure */

static const char rich[] = "# callgrind format\n"
                           "version: 1\n"
                           "creator: test\n"
                           "part: 1\n"
                           "thread: 1\n"
                           "positions: instr line\n"
                           "events: Ir Dr\n"
                           "ob=(1) /bin/p\n"
                           "fl=(1) m.c\n"
                           "fn=(1) main\n"
                           "0x10 1 1 1\n"
                           "cob=(2) /lib/libc.so\n"
                           "cfi=(2) l.c\n"
                           "cfn=(2) work\n"
                           "calls=1 0x100 9\n"
                           "+1 2 30 3\n"
                           "cfn=(3) main'2\n"
                           "calls=1 0x10 1\n"
                           "+1 3 9 1\n"
                           "fn=(3)\n"
                           "0x10 1 4\n"
                           "fi=(3) i.h\n"
                           "+1 2 5 1\n"
                           "cfn=(3)\n"
                           "calls=1 0x10 1\n"
                           "* * 4 0\n"
                           "ob=(2)\n"
                           "fl=(2)\n"
                           "fn=(2)\n"
                           "0x100 9 30 3\n"
                           "totals: 40 5\n"
                           "part: 2\n"
                           "thread: 2\n"
                           "events: Ir\n"
                           "ob=(1)\n"
                           "fl=(1)\n"
                           "fn=(1)\n"
                           "1 7\n";

/* Failing each of our allocations in turn gives PK_ENOMEM and frees all
 * that was allocated. */
static void test_allocation_failures(void **state)
{
	(void)state;
	bool ok = false;
	pk_set_allocator(chaos_malloc, chaos_free);
	for (long n = 0; n < 100000 && !ok; n++) {
		pk_profile *p = NULL;
		pk_error err = PK_ERROR_INIT;
		chaos_reset(n + 1, 0); /* only the (n + 1)th fails */
		int rc = read_text(rich, sizeof rich - 1, &p, &err);
		long calls = chaos.calls;
		chaos.fail_at = 0;
		if (rc == 0) {
			ok = calls < n + 1; /* no allocation failed */
			assert_int_equal(pk_profile_validate(p, NULL), 0);
		} else {
			assert_int_equal(rc, PK_ENOMEM);
			assert_string_equal(err.message, "out of memory");
		}
		pk_profile_free(p);
		if (chaos.live != 0)
			fail_msg("failing allocation %ld leaked %ld blocks", n + 1, chaos.live);
		chaos_reset(0, 0);
	}
	pk_set_allocator(NULL, NULL);
	assert_true(ok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_compression),
	    cmocka_unit_test(test_compression_kinds),
	    cmocka_unit_test(test_relative_positions),
	    cmocka_unit_test(test_positions_variants),
	    cmocka_unit_test(test_inlined_files),
	    cmocka_unit_test(test_events),
	    cmocka_unit_test(test_jumps),
	    cmocka_unit_test(test_unknown_lines),
	    cmocka_unit_test(test_parts),
	    cmocka_unit_test(test_stacks_diamond),
	    cmocka_unit_test(test_stacks_recursion),
	    cmocka_unit_test(test_stacks_per_event),
	    cmocka_unit_test(test_stacks_path_cap),
	    cmocka_unit_test(test_stacks_deep_chain),
	    cmocka_unit_test(test_stacks_frame_budget),
	    cmocka_unit_test(test_fixtures),
	    cmocka_unit_test(test_sniff),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_allocation_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
