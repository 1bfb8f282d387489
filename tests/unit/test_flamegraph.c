/* test_flamegraph.c - the SVG flame graph: geometry, titles and units,
 * escaping, options, palettes, differential colors, determinism, and
 * allocation failures. The SVGs are read back with libxml2. */
#include "helpers.h"
#include "internal.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

/* ---------------------------------------------------------------- helpers */

/* A profile of one sample type from folded-like stacks ("a;b;c", root
 * first), one function and location per distinct name. */
typedef struct stack_value {
	const char *stack;
	int64_t value;
} stack_value;

static uint32_t location_of(pk_profile *p, const char *name, size_t len)
{
	pk_str s;
	assert_int_equal(pk_profile_intern(p, name, len, &s), 0);
	for (size_t i = 0; i < pk_profile_location_count(p); i++) {
		const pk_line *line;
		assert_int_equal(pk_profile_location_lines(p, i, &line), 1);
		if (pk_profile_function(p, line->function)->name == s)
			return (uint32_t)i;
	}
	pk_function f = {0};
	f.name = f.system_name = s;
	uint32_t fi, li;
	assert_int_equal(pk_profile_add_function(p, &f, &fi), 0);
	pk_location loc = {0};
	loc.mapping = PK_NONE;
	pk_line line = {fi, 0, 0};
	assert_int_equal(pk_profile_add_location(p, &loc, &line, 1, &li), 0);
	return li;
}

static void add_stack(pk_profile *p, const char *stack, const int64_t *values, size_t n)
{
	uint32_t locs[64];
	size_t depth = 0;
	for (const char *s = stack; *s;) {
		size_t len = strcspn(s, ";");
		assert_true(depth < 64);
		locs[depth++] = location_of(p, s, len);
		s += len;
		if (*s == ';')
			s++;
	}
	for (size_t i = 0; i < depth / 2; i++) {
		uint32_t t = locs[i];
		locs[i] = locs[depth - 1 - i];
		locs[depth - 1 - i] = t;
	}
	assert_int_equal(pk_profile_add_sample(p, locs, depth, values, n, NULL, 0), 0);
}

static pk_profile *make_profile(const char *type, const char *unit, const stack_value *stacks,
                                size_t count)
{
	pk_profile *p = NULL;
	assert_int_equal(pk_profile_new(&p), 0);
	assert_int_equal(
	    pk_profile_add_sample_type(p, (pk_value_type){intern(p, type), intern(p, unit)}), 0);
	for (size_t i = 0; i < count; i++)
		add_stack(p, stacks[i].stack, &stacks[i].value, 1);
	assert_int_equal(pk_profile_validate(p, NULL), 0);
	return p;
}

/* The spec's example: "main;foo;bar" 30 and 20, "main;foo" 10, a name
 * that needs escaping, and an annotated kernel frame. Total 67. */
static const stack_value example[] = {
    {"main;foo;bar", 30}, {"main;foo", 10},    {"main;baz<T>&x", 5},
    {"main;foo;bar", 20}, {"main;qux_[k]", 2},
};
#define EXAMPLE_COUNT (sizeof example / sizeof example[0])

static pk_profile *example_profile(void)
{
	return make_profile("samples", "count", example, EXAMPLE_COUNT);
}

/* Writes p as SVG; returns the code, and the text in *out (free it). */
static int try_svg(const pk_profile *p, const pk_profile *base, const pk_flamegraph_options *fo,
                   char **out, size_t *size, pk_error *err)
{
	pk_write_options wo = PK_WRITE_OPTIONS_INIT;
	wo.format = pk_format_by_name("svg");
	assert_non_null(wo.format);
	wo.base = base;
	wo.flamegraph = fo;
	void *data = NULL;
	size_t n = 0;
	pk_error_init(err);
	*out = NULL;
	int rc = pk_profile_write_buffer(p, &wo, &data, &n, err);
	if (rc == 0) {
		*out = malloc(n + 1);
		assert_non_null(*out);
		memcpy(*out, data, n);
		(*out)[n] = '\0';
		pk_free(data);
		if (size)
			*size = n;
	}
	return rc;
}

static char *svg_of(const pk_profile *p, const pk_profile *base, const pk_flamegraph_options *fo)
{
	char *svg;
	pk_error err;
	int rc = try_svg(p, base, fo, &svg, NULL, &err);
	if (rc != 0)
		fail_msg("writing the SVG failed: %s", err.message);
	return svg;
}

/* One frame as the SVG has it. */
typedef struct frame {
	char title[256], text[256], fill[32];
	double x, y, width, height;
} frame;

typedef struct picture {
	double width, height;
	char title[128], subtitle[256], message[256];
	frame frames[64];
	size_t count;
} picture;

static void copy_text(char *dst, size_t size, xmlNode *n)
{
	xmlChar *s = xmlNodeGetContent(n);
	snprintf(dst, size, "%s", s ? (const char *)s : "");
	xmlFree(s);
}

static double num_attr(xmlNode *n, const char *name)
{
	xmlChar *s = xmlGetProp(n, (const xmlChar *)name);
	if (s == NULL)
		fail_msg("<%s> has no %s", (const char *)n->name, name);
	double v = atof((const char *)s);
	xmlFree(s);
	return v;
}

static xmlNode *child(xmlNode *n, const char *name)
{
	for (xmlNode *c = n->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, name) == 0)
			return c;
	fail_msg("<%s> has no <%s>", (const char *)n->name, name);
	return NULL;
}

static bool has_id(xmlNode *n, const char *id)
{
	xmlChar *s = xmlGetProp(n, (const xmlChar *)"id");
	bool yes = s && strcmp((const char *)s, id) == 0;
	xmlFree(s);
	return yes;
}

/* Parse the SVG (it must be well-formed XML) into a picture. */
static void parse_svg(const char *svg, picture *pic)
{
	memset(pic, 0, sizeof *pic);
	xmlDoc *doc = xmlReadMemory(svg, (int)strlen(svg), "test.svg", NULL,
	                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (doc == NULL)
		fail_msg("the SVG is not well-formed XML");
	xmlNode *root = xmlDocGetRootElement(doc);
	assert_string_equal((const char *)root->name, "svg");
	pic->width = num_attr(root, "width");
	pic->height = num_attr(root, "height");
	for (xmlNode *n = root->children; n; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (has_id(n, "title"))
			copy_text(pic->title, sizeof pic->title, n);
		if (has_id(n, "subtitle"))
			copy_text(pic->subtitle, sizeof pic->subtitle, n);
		if (has_id(n, "message"))
			copy_text(pic->message, sizeof pic->message, n);
		if (!has_id(n, "frames"))
			continue;
		for (xmlNode *g = n->children; g; g = g->next) {
			if (g->type != XML_ELEMENT_NODE)
				continue;
			assert_true(pic->count < 64);
			frame *f = &pic->frames[pic->count++];
			copy_text(f->title, sizeof f->title, child(g, "title"));
			copy_text(f->text, sizeof f->text, child(g, "text"));
			xmlNode *r = child(g, "rect");
			f->x = num_attr(r, "x");
			f->y = num_attr(r, "y");
			f->width = num_attr(r, "width");
			f->height = num_attr(r, "height");
			xmlChar *fill = xmlGetProp(r, (const xmlChar *)"fill");
			snprintf(f->fill, sizeof f->fill, "%s", (const char *)fill);
			xmlFree(fill);
		}
	}
	xmlFreeDoc(doc);
}

/* The frame whose title begins with "name (", or NULL. */
static const frame *find(const picture *pic, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < pic->count; i++)
		if (strncmp(pic->frames[i].title, name, n) == 0 &&
		    strncmp(pic->frames[i].title + n, " (", 2) == 0)
			return &pic->frames[i];
	return NULL;
}

static const frame *must_find(const picture *pic, const char *name)
{
	const frame *f = find(pic, name);
	if (f == NULL) {
		fail_msg("no frame %s", name);
		abort(); /* not reached: fail_msg does not return */
	}
	return f;
}

static void assert_near(double got, double want)
{
	if (got < want - 0.001 || got > want + 0.001)
		fail_msg("%g is not %g", got, want);
}

static picture *picture_of(const pk_profile *p, const pk_profile *base,
                           const pk_flamegraph_options *fo)
{
	picture *pic = malloc(sizeof *pic);
	assert_non_null(pic);
	char *svg = svg_of(p, base, fo);
	parse_svg(svg, pic);
	free(svg);
	return pic;
}

/* --------------------------------------------------------------- geometry */

static void test_geometry(void **state)
{
	(void)state;
	pk_profile *p = example_profile();
	picture *pic = picture_of(p, NULL, NULL);
	assert_near(pic->width, 1200);
	/* depth 3 (all, main, foo, bar): 4 rows of 16, 36 above, 34 below */
	assert_near(pic->height, 134);
	assert_string_equal(pic->title, "Flame Graph");
	assert_int_equal(pic->count, 6);
	/* depth first, children by name: baz<T>&x, foo, qux_[k] */
	const char *order[] = {"all", "main", "baz<T>&x", "foo", "bar", "qux"};
	for (size_t i = 0; i < 6; i++)
		assert_non_null(strstr(pic->frames[i].title, order[i]));

	/* 1180 pixels for 67 samples: edges rounded to tenths of a pixel */
	struct {
		const char *name;
		double x, width, y;
	} want[] = {
	    {"all", 10.0, 1180.0, 85}, {"main", 10.0, 1180.0, 69}, {"baz<T>&x", 10.0, 88.1, 53},
	    {"foo", 98.1, 1056.7, 53}, {"qux", 1154.8, 35.2, 53},  {"bar", 98.1, 880.6, 37},
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		const frame *f = must_find(pic, want[i].name);
		assert_near(f->x, want[i].x);
		assert_near(f->width, want[i].width);
		assert_near(f->y, want[i].y);
		assert_near(f->height, 15);
	}
	/* labels: as many characters as fit at 12 * 0.59 pixels each */
	assert_string_equal(must_find(pic, "all")->text, "all");
	assert_string_equal(must_find(pic, "foo")->text, "foo");
	assert_string_equal(must_find(pic, "baz<T>&x")->text, "baz<T>&x");
	assert_string_equal(must_find(pic, "qux")->text, "qux");
	/* flamegraph.pl's colors: the sum of the name's bytes seeds drand48 */
	assert_string_equal(must_find(pic, "foo")->fill, "rgb(220,71,17)");
	assert_string_equal(must_find(pic, "main")->fill, "rgb(243,179,42)");
	assert_string_equal(must_find(pic, "all")->fill, "rgb(213,39,9)");
	free(pic);
	pk_profile_free(p);
}

static void test_label_truncation(void **state)
{
	(void)state;
	/* 7.08 pixels a character: 1180 * 20/1000 = 23.6 px holds 3 */
	stack_value s[] = {{"a_rather_long_function_name", 20}, {"zzz", 980}};
	pk_profile *p = make_profile("samples", "count", s, 2);
	picture *pic = picture_of(p, NULL, NULL);
	assert_string_equal(must_find(pic, "a_rather_long_function_name")->text, "a..");
	free(pic);
	pk_profile_free(p);

	/* UTF-8 is cut between characters, never inside one */
	const char *six = "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9";
	const char *seven = "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9";
	stack_value u[] = {{six, 40}, {"z", 960}};
	p = make_profile("samples", "count", u, 2);
	pic = picture_of(p, NULL, NULL);
	/* 47.2 px: 6 characters fit, so nothing is cut */
	assert_string_equal(must_find(pic, six)->text, six);
	free(pic);
	pk_profile_free(p);
	stack_value v[] = {{seven, 32}, {"z", 968}};
	p = make_profile("samples", "count", v, 2);
	pic = picture_of(p, NULL, NULL);
	/* 37.8 px: 5 fit, so 3 and ".." */
	assert_string_equal(must_find(pic, seven)->text, "\xc3\xa9\xc3\xa9\xc3\xa9..");
	free(pic);
	pk_profile_free(p);
}

/* ----------------------------------------------------------------- titles */

static void test_titles_and_counts(void **state)
{
	(void)state;
	pk_profile *p = example_profile();
	picture *pic = picture_of(p, NULL, NULL);
	assert_string_equal(must_find(pic, "all")->title, "all (67 samples, 100.00%)");
	assert_string_equal(must_find(pic, "foo")->title, "foo (60 samples, 89.55%)");
	assert_string_equal(must_find(pic, "bar")->title, "bar (50 samples, 74.63%)");
	assert_string_equal(must_find(pic, "baz<T>&x")->title, "baz<T>&x (5 samples, 7.46%)");
	assert_string_equal(must_find(pic, "qux")->title, "qux (2 samples, 2.99%)");
	free(pic);

	pk_flamegraph_options fo = PK_FLAMEGRAPH_OPTIONS_INIT;
	fo.count_name = "widgets";
	pic = picture_of(p, NULL, &fo);
	assert_string_equal(must_find(pic, "foo")->title, "foo (60 widgets, 89.55%)");
	free(pic);
	pk_profile_free(p);

	stack_value big[] = {{"main;hot", 1234567}, {"main;cold", 1000}};
	p = make_profile("contentions", "count", big, 2);
	pic = picture_of(p, NULL, NULL);
	assert_string_equal(must_find(pic, "all")->title, "all (1,235,567 samples, 100.00%)");
	assert_string_equal(must_find(pic, "cold")->title, "cold (1,000 samples, 0.08%)");
	free(pic);
	pk_profile_free(p);

	/* a unit that is neither bytes nor time names the counts */
	p = make_profile("cpu", "cycles", big, 2);
	pic = picture_of(p, NULL, NULL);
	assert_string_equal(must_find(pic, "hot")->title, "hot (1,234,567 cycles, 99.92%)");
	free(pic);
	pk_profile_free(p);
}

static void test_titles_bytes_and_time(void **state)
{
	(void)state;
	stack_value bytes[] = {
	    {"main;a", 1228800}, {"main;b", 1024}, {"main;c", 1000}, {"main;d", 5 << 20}};
	pk_profile *p = make_profile("alloc_space", "bytes", bytes, 4);
	picture *pic = picture_of(p, NULL, NULL);
	assert_string_equal(must_find(pic, "a")->title, "a (1.17MB, 18.98%)");
	assert_string_equal(must_find(pic, "b")->title, "b (1kB, 0.02%)");
	assert_string_equal(must_find(pic, "c")->title, "c (1000B, 0.02%)");
	assert_string_equal(must_find(pic, "d")->title, "d (5MB, 80.99%)");
	assert_string_equal(must_find(pic, "all")->title, "all (6.17MB, 100.00%)");
	free(pic);
	pk_profile_free(p);

	stack_value ns[] = {
	    {"main;a", 240000000}, {"main;b", 1930000000}, {"main;c", 1500}, {"main;d", 999}};
	p = make_profile("cpu", "nanoseconds", ns, 4);
	pic = picture_of(p, NULL, NULL);
	assert_string_equal(must_find(pic, "a")->title, "a (240ms, 11.06%)");
	assert_string_equal(must_find(pic, "b")->title, "b (1.93s, 88.94%)");
	assert_string_equal(must_find(pic, "all")->title, "all (2.17s, 100.00%)");
	free(pic);
	/* with a minimum width of 0, the tiny frames are drawn too */
	pk_flamegraph_options fo = PK_FLAMEGRAPH_OPTIONS_INIT;
	fo.min_width = 1e-9;
	pic = picture_of(p, NULL, &fo);
	assert_string_equal(must_find(pic, "c")->title, "c (1.50us, 0.00%)");
	assert_string_equal(must_find(pic, "d")->title, "d (999ns, 0.00%)");
	free(pic);
	/* a count name prints the raw values */
	fo.count_name = "nanoseconds";
	pic = picture_of(p, NULL, &fo);
	assert_string_equal(must_find(pic, "a")->title, "a (240,000,000 nanoseconds, 11.06%)");
	free(pic);
	pk_profile_free(p);

	stack_value ms[] = {{"main;a", 90}};
	p = make_profile("delay", "milliseconds", ms, 1);
	pic = picture_of(p, NULL, NULL);
	assert_string_equal(must_find(pic, "a")->title, "a (90ms, 100.00%)");
	free(pic);
	pk_profile_free(p);
}

/* --------------------------------------------------------------- escaping */

static void test_escaping(void **state)
{
	(void)state;
	stack_value s[] = {{"main;<script>alert(\"x&y\")</script>", 500},
	                   {"main;bad\xff\x01utf8", 500}};
	pk_flamegraph_options fo = PK_FLAMEGRAPH_OPTIONS_INIT;
	fo.title = "A <title> & \"more\"";
	fo.subtitle = "sub\x02title";
	pk_profile *p = make_profile("samples", "count", s, 2);
	char *svg = svg_of(p, NULL, &fo);
	/* nothing a name holds becomes markup */
	assert_null(strstr(svg, "<script>alert"));
	assert_null(strstr(svg, "<title> &"));
	assert_non_null(strstr(svg, "&lt;script&gt;alert("));
	picture pic;
	parse_svg(svg, &pic);
	assert_string_equal(pic.title, "A <title> & \"more\"");
	assert_string_equal(pic.subtitle, "sub\xef\xbf\xbdtitle");
	assert_string_equal(must_find(&pic, "<script>alert(\"x&y\")</script>")->title,
	                    "<script>alert(\"x&y\")</script> (500 samples, 50.00%)");
	/* bytes that are not UTF-8 and control characters become U+FFFD */
	assert_non_null(must_find(&pic, "bad\xef\xbf\xbd\xef\xbf\xbdutf8"));
	free(svg);
	pk_profile_free(p);

	/* so do those of a unit, which names the counts */
	p = make_profile("samples", "we\x01ird\xc3", s, 2);
	svg = svg_of(p, NULL, NULL);
	parse_svg(svg, &pic);
	assert_string_equal(must_find(&pic, "all")->title,
	                    "all (1,000 we\xef\xbf\xbdird\xef\xbf\xbd, 100.00%)");
	free(svg);
	pk_profile_free(p);
}

/* ------------------------------------------------------------ determinism */

static void test_determinism(void **state)
{
	(void)state;
	pk_profile *p = example_profile();
	size_t n1, n2;
	char *a, *b;
	pk_error err;
	assert_int_equal(try_svg(p, NULL, NULL, &a, &n1, &err), 0);
	assert_int_equal(try_svg(p, NULL, NULL, &b, &n2, &err), 0);
	assert_int_equal(n1, n2);
	assert_memory_equal(a, b, n1);
	/* the same stacks in another order give the same bytes */
	stack_value shuffled[EXAMPLE_COUNT];
	for (size_t i = 0; i < EXAMPLE_COUNT; i++)
		shuffled[i] = example[EXAMPLE_COUNT - 1 - i];
	pk_profile *q = make_profile("samples", "count", shuffled, EXAMPLE_COUNT);
	free(b);
	assert_int_equal(try_svg(q, NULL, NULL, &b, &n2, &err), 0);
	assert_int_equal(n1, n2);
	assert_memory_equal(a, b, n1);
	/* and a gzipped write is the same SVG */
	free(a);
	free(b);
	pk_profile_free(p);
	pk_profile_free(q);
}

/* ---------------------------------------------------------------- options */

static void test_inverted(void **state)
{
	(void)state;
	pk_profile *p = example_profile();
	pk_flamegraph_options fo = PK_FLAMEGRAPH_OPTIONS_INIT;
	fo.inverted = 1;
	picture *pic = picture_of(p, NULL, &fo);
	assert_string_equal(pic->title, "Icicle Graph");
	assert_near(pic->height, 134);
	/* the root on top, right under the title area */
	assert_near(must_find(pic, "all")->y, 36);
	assert_near(must_find(pic, "main")->y, 52);
	assert_near(must_find(pic, "bar")->y, 84);
	assert_near(must_find(pic, "bar")->x, 98.1);
	free(pic);
	fo.title = "Mine";
	fo.subtitle = "below";
	pic = picture_of(p, NULL, &fo);
	assert_string_equal(pic->title, "Mine");
	assert_string_equal(pic->subtitle, "below");
	/* the subtitle takes 24 more pixels, above the frames */
	assert_near(pic->height, 158);
	assert_near(must_find(pic, "all")->y, 60);
	free(pic);
	pk_profile_free(p);
}

static void test_reverse(void **state)
{
	(void)state;
	pk_profile *p = example_profile();
	pk_flamegraph_options fo = PK_FLAMEGRAPH_OPTIONS_INIT;
	fo.reverse = 1;
	picture *pic = picture_of(p, NULL, &fo);
	/* leaves first: all; bar, baz<T>&x, foo, qux_[k] under the root */
	const char *order[] = {"all",  "bar", "foo",  "main", "baz<T>&x",
	                       "main", "foo", "main", "qux",  "main"};
	assert_int_equal(pic->count, 10);
	for (size_t i = 0; i < pic->count; i++) {
		size_t n = strlen(order[i]);
		if (strncmp(pic->frames[i].title, order[i], n) != 0)
			fail_msg("frame %zu is %s, not %s", i, pic->frames[i].title, order[i]);
	}
	assert_string_equal(pic->frames[1].title, "bar (50 samples, 74.63%)");
	assert_near(pic->frames[1].width, 880.6);
	assert_near(pic->height, 134);
	free(pic);
	pk_profile_free(p);
}

static void test_min_width(void **state)
{
	(void)state;
	pk_profile *p = example_profile();
	pk_flamegraph_options fo = PK_FLAMEGRAPH_OPTIONS_INIT;
	fo.min_width = 100; /* pixels: baz (88.1) and qux (35.2) go */
	picture *pic = picture_of(p, NULL, &fo);
	assert_int_equal(pic->count, 4);
	assert_null(find(pic, "baz<T>&x"));
	assert_null(find(pic, "qux"));
	/* what is left keeps its place: the gaps stay */
	assert_near(must_find(pic, "foo")->x, 98.1);
	assert_near(pic->height, 134);
	free(pic);

	fo.min_width = 900; /* bar (880.6) goes, and with it a row */
	pic = picture_of(p, NULL, &fo);
	assert_null(find(pic, "bar"));
	assert_near(pic->height, 118);
	free(pic);

	fo.min_width = 5; /* percent: baz (7.46%) stays, qux (2.99%) goes */
	fo.min_width_percent = 1;
	pic = picture_of(p, NULL, &fo);
	assert_non_null(find(pic, "baz<T>&x"));
	assert_null(find(pic, "qux"));
	free(pic);

	/* at 100%, only frames as wide as the root stay */
	fo.min_width = 100;
	pic = picture_of(p, NULL, &fo);
	assert_int_equal(pic->count, 2);
	free(pic);
	pk_profile_free(p);
}

static void test_geometry_options(void **state)
{
	(void)state;
	pk_profile *p = example_profile();
	pk_flamegraph_options fo = PK_FLAMEGRAPH_OPTIONS_INIT;
	fo.width = 690; /* 670 pixels: 10 a sample */
	fo.height = 20;
	fo.font_size = 10;
	fo.font_type = "DejaVu Sans, sans-serif";
	char *svg = svg_of(p, NULL, &fo);
	assert_non_null(strstr(svg, "font-family:DejaVu Sans, sans-serif; font-size:10px;"));
	assert_non_null(strstr(svg, "fontSize: 10,"));
	picture pic;
	parse_svg(svg, &pic);
	/* 4 rows of 20, 30 above and 30 below */
	assert_near(pic.height, 140);
	assert_near(must_find(&pic, "foo")->x, 60);
	assert_near(must_find(&pic, "foo")->width, 600);
	assert_near(must_find(&pic, "foo")->height, 19);
	assert_near(must_find(&pic, "all")->y, 140 - 30 - 20 + 1);
	free(svg);
	pk_profile_free(p);
}

static void test_bad_options(void **state)
{
	(void)state;
	pk_profile *p = example_profile();
	struct {
		pk_flamegraph_options fo;
		const char *message;
	} bad[] = {
	    {PK_FLAMEGRAPH_OPTIONS_INIT, "unknown flame graph palette 'rainbow'"},
	    {PK_FLAMEGRAPH_OPTIONS_INIT, "a flame graph needs a width of more than 20 pixels"},
	    {PK_FLAMEGRAPH_OPTIONS_INIT, "bad font size"},
	    {PK_FLAMEGRAPH_OPTIONS_INIT, "bad minimum width 150%"},
	    {PK_FLAMEGRAPH_OPTIONS_INIT, "bad minimum width -1"},
	    {PK_FLAMEGRAPH_OPTIONS_INIT, "the font type may not hold"},
	};
	bad[0].fo.colors = "rainbow";
	bad[1].fo.width = 20;
	bad[2].fo.font_size = -3;
	bad[3].fo.min_width = 150;
	bad[3].fo.min_width_percent = 1;
	bad[4].fo.min_width = -1;
	bad[5].fo.font_type = "x; } text { fill:red";
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *svg;
		pk_error err;
		assert_int_equal(try_svg(p, NULL, &bad[i].fo, &svg, NULL, &err), PK_EINVAL);
		assert_null(svg);
		if (strstr(err.message, bad[i].message) == NULL)
			fail_msg("'%s' does not say '%s'", err.message, bad[i].message);
	}

	/* nothing is written: an existing file stays as it was */
	char path[] = "/tmp/profkit-fg-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "old", 3), 3);
	close(fd);
	pk_write_options wo = PK_WRITE_OPTIONS_INIT;
	wo.format = pk_format_by_name("svg");
	wo.flamegraph = &bad[0].fo;
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(pk_profile_write_path(p, path, &wo, &err), PK_EINVAL);
	FILE *f = fopen(path, "r");
	char buf[8] = {0};
	assert_non_null(f);
	assert_int_equal(fread(buf, 1, sizeof buf, f), 3);
	fclose(f);
	assert_string_equal(buf, "old");
	unlink(path);
	pk_profile_free(p);
}

/* --------------------------------------------------------------- palettes */

static void test_palettes(void **state)
{
	(void)state;
	pk_profile *p = example_profile();
	pk_flamegraph_options fo = PK_FLAMEGRAPH_OPTIONS_INIT;
	/* foo's value is 0.310776 (the sum 324 through drand48) */
	struct {
		const char *palette, *foo, *background;
	} want[] = {
	    {"hot", "rgb(220,71,17)", "#eeeeb0"},     {"mem", "rgb(0,205,65)", "#e0ffe0"},
	    {"io", "rgb(98,98,207)", "#e0e0ff"},      {"red", "rgb(217,74,74)", "#e8e8e8"},
	    {"green", "rgb(68,217,68)", "#e8e8e8"},   {"blue", "rgb(98,98,220)", "#e8e8e8"},
	    {"yellow", "rgb(192,192,56)", "#e8e8e8"}, {"purple", "rgb(210,98,210)", "#e8e8e8"},
	    {"aqua", "rgb(68,182,182)", "#e8e8e8"},   {"orange", "rgb(210,110,0)", "#e8e8e8"},
	    {"java", "rgb(217,74,74)", "#eeeeb0"},    {"js", "rgb(217,74,74)", "#eeeeb0"},
	    {"perl", "rgb(217,74,74)", "#eeeeb0"},    {"wakeup", "rgb(68,182,182)", "#e0e0ff"},
	    {"chain", "rgb(98,98,220)", "#e0e0ff"},
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		fo.colors = want[i].palette;
		char *svg = svg_of(p, NULL, &fo);
		char stop[64];
		snprintf(stop, sizeof stop, "stop-color=\"%s\"", want[i].background);
		if (strstr(svg, stop) == NULL)
			fail_msg("%s: no %s", want[i].palette, stop);
		picture pic;
		parse_svg(svg, &pic);
		if (strcmp(must_find(&pic, "foo")->fill, want[i].foo) != 0)
			fail_msg("%s: foo is %s, not %s", want[i].palette,
			         must_find(&pic, "foo")->fill, want[i].foo);
		free(svg);
	}
	pk_profile_free(p);

	/* the language palettes pick by name and annotation */
	stack_value java[] = {{"java/lang/Thread.run;Foo::bar;do_syscall_[k];jitted_[j]", 10},
	                      {"java/lang/Thread.run;inl_[i]", 10}};
	p = make_profile("samples", "count", java, 2);
	fo.colors = "java";
	picture *pic = picture_of(p, NULL, &fo);
	/* green (g largest), yellow (b smallest), orange (b 0), green, aqua */
	const frame *f = must_find(pic, "java/lang/Thread.run");
	int r, g, b;
	assert_int_equal(sscanf(f->fill, "rgb(%d,%d,%d)", &r, &g, &b), 3);
	assert_true(g >= 200 && r < 111 && b < 111);
	assert_int_equal(sscanf(must_find(pic, "Foo::bar")->fill, "rgb(%d,%d,%d)", &r, &g, &b), 3);
	assert_true(r == g && r >= 175 && b <= 70);
	assert_int_equal(sscanf(must_find(pic, "do_syscall")->fill, "rgb(%d,%d,%d)", &r, &g, &b),
	                 3);
	assert_true(r >= 190 && b == 0);
	assert_int_equal(sscanf(must_find(pic, "jitted")->fill, "rgb(%d,%d,%d)", &r, &g, &b), 3);
	assert_true(g >= 200 && r < 111);
	assert_int_equal(sscanf(must_find(pic, "inl")->fill, "rgb(%d,%d,%d)", &r, &g, &b), 3);
	assert_true(g == b && g >= 165 && r < 111);
	/* the annotations are not shown */
	assert_string_equal(must_find(pic, "jitted")->title, "jitted (10 samples, 50.00%)");
	free(pic);
	pk_profile_free(p);
}

static void test_hash_colors(void **state)
{
	(void)state;
	/* with hash, names that begin alike look alike; without, their byte sums decide */
	stack_value s[] = {{"main;abcdef", 10}, {"main;abcxyz", 10}, {"main;zzz", 10}};
	pk_profile *p = make_profile("samples", "count", s, 3);
	pk_flamegraph_options fo = PK_FLAMEGRAPH_OPTIONS_INIT;
	fo.hash = 1;
	picture *pic = picture_of(p, NULL, &fo);
	int r1, g1, b1, r2, g2, b2;
	assert_int_equal(sscanf(must_find(pic, "abcdef")->fill, "rgb(%d,%d,%d)", &r1, &g1, &b1), 3);
	assert_int_equal(sscanf(must_find(pic, "abcxyz")->fill, "rgb(%d,%d,%d)", &r2, &g2, &b2), 3);
	/* v1 (g) from the first three bytes: the same; v2 (b) from the last ones */
	assert_int_equal(g1, g2);
	assert_int_not_equal(b1, b2);
	char first[32];
	snprintf(first, sizeof first, "%s", must_find(pic, "abcdef")->fill);
	free(pic);
	pic = picture_of(p, NULL, &fo);
	assert_string_equal(must_find(pic, "abcdef")->fill, first);
	free(pic);
	fo.hash = 0;
	pic = picture_of(p, NULL, &fo);
	assert_string_not_equal(must_find(pic, "abcdef")->fill, first);
	free(pic);
	pk_profile_free(p);

	/* "-" and "--" are the separators some collapsers insert: grey */
	stack_value sep[] = {{"main;-;x", 10}, {"main;--;y", 10}};
	p = make_profile("samples", "count", sep, 2);
	pic = picture_of(p, NULL, NULL);
	assert_string_equal(must_find(pic, "-")->fill, "rgb(200,200,200)");
	assert_string_equal(must_find(pic, "--")->fill, "rgb(160,160,160)");
	free(pic);
	pk_profile_free(p);
}

/* ----------------------------------------------------------- differential */

static void test_differential(void **state)
{
	(void)state;
	stack_value old[] = {{"main;foo", 10}, {"main;bar", 30}, {"main;gone", 5}};
	stack_value now[] = {{"main;foo", 20}, {"main;bar", 10}};
	pk_profile *base = make_profile("samples", "count", old, 3);
	pk_profile *p = make_profile("samples", "count", now, 2);
	picture *pic = picture_of(p, base, NULL);
	/* the largest change is bar's -20 */
	assert_string_equal(must_find(pic, "foo")->title, "foo (20 samples, 66.67%; +33.33%)");
	assert_string_equal(must_find(pic, "foo")->fill, "rgb(255,105,105)");
	assert_string_equal(must_find(pic, "bar")->title, "bar (10 samples, 33.33%; -66.67%)");
	assert_string_equal(must_find(pic, "bar")->fill, "rgb(0,0,255)");
	assert_string_equal(must_find(pic, "main")->title, "main (30 samples, 100.00%; 0.00%)");
	assert_string_equal(must_find(pic, "main")->fill, "rgb(255,255,255)");
	/* a frame only in the base has no width in the new profile */
	assert_null(find(pic, "gone"));
	assert_near(must_find(pic, "foo")->width, 786.7);
	free(pic);

	pk_flamegraph_options fo = PK_FLAMEGRAPH_OPTIONS_INIT;
	fo.negate = 1;
	pic = picture_of(p, base, &fo);
	assert_string_equal(must_find(pic, "foo")->fill, "rgb(105,105,255)");
	assert_string_equal(must_find(pic, "bar")->fill, "rgb(255,0,0)");
	assert_string_equal(must_find(pic, "foo")->title, "foo (20 samples, 66.67%; +33.33%)");
	free(pic);
	pk_profile_free(p);
	pk_profile_free(base);

	/* two-count folded input: sample types "base" and "new" in one profile */
	pk_profile *d = NULL;
	assert_int_equal(pk_profile_new(&d), 0);
	pk_str unit = intern(d, "count");
	assert_int_equal(pk_profile_add_sample_type(d, (pk_value_type){intern(d, "base"), unit}),
	                 0);
	assert_int_equal(pk_profile_add_sample_type(d, (pk_value_type){intern(d, "new"), unit}), 0);
	int64_t foo[2] = {10, 20}, bar[2] = {30, 10};
	add_stack(d, "main;foo", foo, 2);
	add_stack(d, "main;bar", bar, 2);
	pic = picture_of(d, NULL, NULL);
	assert_string_equal(must_find(pic, "foo")->title, "foo (20 samples, 66.67%; +33.33%)");
	assert_string_equal(must_find(pic, "bar")->fill, "rgb(0,0,255)");
	free(pic);
	pk_profile_free(d);
}

/* ------------------------------------------------- negative values, empty */

static void test_negative_values(void **state)
{
	(void)state;
	/* a diff pprof wrote: stacks of negative value are not drawn */
	stack_value s[] = {{"main;grew", 30}, {"main;shrank", -20}, {"main;grew;deeper", 10}};
	pk_profile *p = make_profile("samples", "count", s, 3);
	picture *pic = picture_of(p, NULL, NULL);
	assert_string_equal(must_find(pic, "all")->title, "all (40 samples, 100.00%)");
	assert_string_equal(must_find(pic, "grew")->title, "grew (40 samples, 100.00%)");
	assert_null(find(pic, "shrank"));
	assert_string_equal(pic->subtitle,
	                    "stacks of negative value (-20 samples in all) are not drawn");
	free(pic);
	pk_flamegraph_options fo = PK_FLAMEGRAPH_OPTIONS_INIT;
	fo.subtitle = "mine";
	pic = picture_of(p, NULL, &fo);
	assert_string_equal(pic->subtitle,
	                    "mine; stacks of negative value (-20 samples in all) are not drawn");
	free(pic);
	pk_profile_free(p);
}

static void test_empty(void **state)
{
	(void)state;
	pk_profile *p = make_profile("cpu", "nanoseconds", NULL, 0);
	picture *pic = picture_of(p, NULL, NULL);
	assert_int_equal(pic->count, 0);
	assert_string_equal(pic->message, "Nothing to draw: no stack has a positive cpu value");
	assert_near(pic->height, 86);
	free(pic);
	pk_profile_free(p);

	stack_value s[] = {{"main;a", -5}};
	p = make_profile("samples", "count", s, 1);
	pic = picture_of(p, NULL, NULL);
	assert_int_equal(pic->count, 0);
	assert_non_null(strstr(pic->message, "Nothing to draw"));
	assert_string_equal(pic->subtitle,
	                    "stacks of negative value (-5 samples in all) are not drawn");
	free(pic);
	pk_profile_free(p);
}

/* ------------------------------------------------------------ many frames */

/* "main" calling n leaves f0000, f0001, ..., one sample of 1 each; every
 * seventh leaf's name is long, so that runs of frames differ in size. */
static pk_profile *many_leaves(size_t n)
{
	pk_profile *p = NULL;
	assert_int_equal(pk_profile_new(&p), 0);
	assert_int_equal(pk_profile_add_sample_type(
	                     p, (pk_value_type){intern(p, "samples"), intern(p, "count")}),
	                 0);
	uint32_t locs[2];
	locs[1] = location_of(p, "main", 4);
	char name[400];
	for (size_t i = 0; i < n; i++) {
		int len = snprintf(name, sizeof name, "f%04zu", i);
		if (i % 7 == 0)
			len += snprintf(name + len, sizeof name - (size_t)len, "%0300d", 0);
		pk_function f = {0};
		f.name = f.system_name = 0;
		assert_int_equal(pk_profile_intern(p, name, (size_t)len, &f.name), 0);
		uint32_t fi;
		assert_int_equal(pk_profile_add_function(p, &f, &fi), 0);
		pk_location loc = {0};
		loc.mapping = PK_NONE;
		pk_line line = {fi, 0, 0};
		assert_int_equal(pk_profile_add_location(p, &loc, &line, 1, &locs[0]), 0);
		int64_t one = 1;
		assert_int_equal(pk_profile_add_sample(p, locs, 2, &one, 1, NULL, 0), 0);
	}
	assert_int_equal(pk_profile_validate(p, NULL), 0);
	return p;
}

/* Enough frames that a second thread formats every other run of them:
 * every frame, whole and in order. */
static void test_frames_on_two_threads(void **state)
{
	(void)state;
	size_t n = 5000;
	pk_profile *p = many_leaves(n);
	char *svg = svg_of(p, NULL, NULL);
	xmlDoc *doc = xmlReadMemory(svg, (int)strlen(svg), "test.svg", NULL,
	                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	assert_non_null(doc);
	xmlFreeDoc(doc);
	const char *at = svg;
	char want[400];
	for (size_t i = 0; i < n + 2; i++) {
		if (i < 2) {
			snprintf(want, sizeof want,
			         "<g><title>%s (5,000 samples, 100.00%%)</title>",
			         i ? "main" : "all");
		} else {
			int len = snprintf(want, sizeof want, "<g><title>f%04zu", i - 2);
			if ((i - 2) % 7 == 0)
				len += snprintf(want + len, sizeof want - (size_t)len, "%0300d", 0);
			snprintf(want + len, sizeof want - (size_t)len,
			         " (1 samples, 0.02%%)</title>");
		}
		at = strstr(at, "<g><title>");
		assert_non_null(at);
		assert_memory_equal(at, want, strlen(want));
		at = strstr(at, "</g>\n");
		assert_non_null(at);
	}
	assert_null(strstr(at, "<g><title>"));
	assert_non_null(strstr(at, "</svg>"));
	free(svg);
	pk_profile_free(p);
}

/* A write that fails while the second thread formats: the error, no file,
 * no hang. */
static void test_two_threads_write_fails(void **state)
{
	(void)state;
	pk_profile *p = many_leaves(5000);
	char path[] = "/tmp/pk-svg-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	struct rlimit old, small;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small = old;
	small.rlim_cur = 64 * 1024;
	void (*was)(int) = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	pk_write_options wo = PK_WRITE_OPTIONS_INIT;
	wo.format = pk_format_by_name("svg");
	pk_error err;
	pk_error_init(&err);
	int rc = pk_profile_write_path(p, path, &wo, &err);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, was);
	assert_int_equal(rc, PK_EIO);
	assert_true(err.message[0] != '\0');
	assert_int_equal(access(path, F_OK), -1);
	pk_profile_free(p);
}

/* ----------------------------------------------------- allocation failure */

static void test_allocation_failures(void **state)
{
	(void)state;
	pk_profile *p = example_profile();
	pk_flamegraph_options fo = PK_FLAMEGRAPH_OPTIONS_INIT;
	fo.subtitle = "with a note";
	char *want;
	size_t want_size;
	pk_error err;
	assert_int_equal(try_svg(p, NULL, &fo, &want, &want_size, &err), 0);
	pk_set_allocator(chaos_malloc, chaos_free);
	for (long n = 0;; n++) {
		chaos_reset(n + 1, 1);
		char *svg;
		size_t size = 0;
		int rc = try_svg(p, NULL, &fo, &svg, &size, &err);
		long calls = chaos.calls;
		if (rc == 0) {
			assert_int_equal(chaos.live, 0);
			assert_true(calls <= n);
			assert_int_equal(size, want_size);
			assert_memory_equal(svg, want, size);
			free(svg);
			break;
		}
		assert_int_equal(rc, PK_ENOMEM);
		assert_string_equal(err.message, "out of memory");
		assert_null(svg);
		assert_int_equal(chaos.live, 0);
	}
	chaos_reset(0, 0);
	pk_set_allocator(NULL, NULL);
	free(want);
	pk_profile_free(p);
}

/* pk__format_fixed writes what printf's %f does (in the C locale), ties
 * and signs included, with and without trimming. */
static void test_format_fixed(void **state)
{
	(void)state;
	const double special[] = {0,        -0.0,       0.125, -0.125,    2.5,
	                          0.005,    1.005,      0.015, 1e9,       -1e9,
	                          999.9995, 123456.785, 1e300, 0.0004999, 1234567.8901};
	for (int decimals = 0; decimals <= 4; decimals++) {
		for (int trim = 0; trim <= 1; trim++) {
			for (size_t i = 0; i < 2000 + sizeof special / sizeof special[0]; i++) {
				double v =
				    i < sizeof special / sizeof special[0]
				        ? special[i]
				        : (double)((long)(i * 2654435761u % 20000001) - 10000000) /
				              (double)(1 + i % 1000);
				char want[400], got[64];
				snprintf(want, sizeof want, "%.*f", decimals, v);
				size_t n = strlen(want);
				if (trim && strchr(want, '.')) {
					while (want[n - 1] == '0')
						n--;
					if (want[n - 1] == '.')
						n--;
					want[n] = '\0';
				}
				pk__format_fixed(got, sizeof got, v, decimals, trim);
				if (n < sizeof got)
					assert_string_equal(got, want);
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_geometry),
	    cmocka_unit_test(test_label_truncation),
	    cmocka_unit_test(test_titles_and_counts),
	    cmocka_unit_test(test_titles_bytes_and_time),
	    cmocka_unit_test(test_escaping),
	    cmocka_unit_test(test_determinism),
	    cmocka_unit_test(test_inverted),
	    cmocka_unit_test(test_reverse),
	    cmocka_unit_test(test_min_width),
	    cmocka_unit_test(test_geometry_options),
	    cmocka_unit_test(test_bad_options),
	    cmocka_unit_test(test_palettes),
	    cmocka_unit_test(test_hash_colors),
	    cmocka_unit_test(test_differential),
	    cmocka_unit_test(test_negative_values),
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_frames_on_two_threads),
	    cmocka_unit_test(test_two_threads_write_fails),
	    cmocka_unit_test(test_allocation_failures),
	    cmocka_unit_test(test_format_fixed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
