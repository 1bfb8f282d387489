/* flamegraph.c - SVG flame graphs, written with libxml2's xmlTextWriter.
 *
 * The picture is laid out as flamegraph.pl lays it out (the same geometry,
 * palettes and titles), so it reads like the flame graphs people know; the
 * script that zooms and searches is our own. The SVG streams to the sink:
 * only the call tree and two numbers per node are kept in memory, and the
 * minimum width keeps the number of frames drawn small whatever the
 * profile's size. Frames come out depth first in the tree's (name) order,
 * and nothing depends on addresses, time or chance, so the same profile
 * gives the same bytes. docs/formats/svg.md describes the result. */
#include "internal.h"

#include <libxml/globals.h>
#include <libxml/xmlIO.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlversion.h>
#include <libxml/xmlwriter.h>
#include <dlfcn.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define XPAD 10.0
#define FRAMEPAD 1.0
#define FONT_WIDTH 0.59 /* average glyph width, in font sizes */
#define SEARCH_COLOR "rgb(230,0,230)"

/* --------------------------------------------------------------- options */

enum palette {
	PAL_HOT,
	PAL_MEM,
	PAL_IO,
	PAL_RED,
	PAL_GREEN,
	PAL_BLUE,
	PAL_YELLOW,
	PAL_PURPLE,
	PAL_AQUA,
	PAL_ORANGE,
	PAL_JAVA,
	PAL_JS,
	PAL_PERL,
	PAL_WAKEUP,
	PAL_CHAIN,
	PAL_COUNT
};

/* Each palette's name and the background gradient it goes with. */
static const struct {
	const char *name;
	const char *top, *bottom;
} palettes[PAL_COUNT] = {
    [PAL_HOT] = {"hot", "#eeeeee", "#eeeeb0"},
    [PAL_MEM] = {"mem", "#eef2ee", "#e0ffe0"},
    [PAL_IO] = {"io", "#eeeeee", "#e0e0ff"},
    [PAL_RED] = {"red", "#f8f8f8", "#e8e8e8"},
    [PAL_GREEN] = {"green", "#f8f8f8", "#e8e8e8"},
    [PAL_BLUE] = {"blue", "#f8f8f8", "#e8e8e8"},
    [PAL_YELLOW] = {"yellow", "#f8f8f8", "#e8e8e8"},
    [PAL_PURPLE] = {"purple", "#f8f8f8", "#e8e8e8"},
    [PAL_AQUA] = {"aqua", "#f8f8f8", "#e8e8e8"},
    [PAL_ORANGE] = {"orange", "#f8f8f8", "#e8e8e8"},
    [PAL_JAVA] = {"java", "#eeeeee", "#eeeeb0"},
    [PAL_JS] = {"js", "#eeeeee", "#eeeeb0"},
    [PAL_PERL] = {"perl", "#eeeeee", "#eeeeb0"},
    [PAL_WAKEUP] = {"wakeup", "#eeeeee", "#e0e0ff"},
    [PAL_CHAIN] = {"chain", "#eeeeee", "#e0e0ff"},
};

/* The options with every default filled in. */
typedef struct config {
	const char *title, *subtitle, *font_type, *count_name;
	double width, frame_height, font_size, min_width;
	bool min_width_percent, hash, reverse, inverted, negate;
	enum palette palette;
} config;

static bool finite_at_least(double v, double min)
{
	return v >= min && v <= 1e9; /* false for NaN too */
}

/* Checked before anything is written, so a bad option leaves no output. */
static int read_options(const pk_flamegraph_options *o, config *c, pk_error *err)
{
	static const pk_flamegraph_options defaults = PK_FLAMEGRAPH_OPTIONS_INIT;
	if (o == NULL)
		o = &defaults;
	c->inverted = o->inverted != 0;
	c->title = o->title ? o->title : c->inverted ? "Icicle Graph" : "Flame Graph";
	c->subtitle = o->subtitle && *o->subtitle ? o->subtitle : NULL;
	c->font_type = o->font_type && *o->font_type ? o->font_type : "Verdana";
	c->count_name = o->count_name && *o->count_name ? o->count_name : NULL;
	c->width = o->width ? o->width : 1200;
	c->frame_height = o->height ? o->height : 16;
	c->font_size = o->font_size != 0 ? o->font_size : 12;
	c->min_width = o->min_width != 0 ? o->min_width : 0.1;
	c->min_width_percent = o->min_width != 0 && o->min_width_percent;
	c->hash = o->hash != 0;
	c->reverse = o->reverse != 0;
	c->negate = o->negate != 0;

	if (c->width <= 2 * XPAD)
		return pk__error_set(err, PK_EINVAL,
		                     "a flame graph needs a width of more than %d pixels, not %u",
		                     (int)(2 * XPAD), o->width);
	if (!finite_at_least(c->font_size, 0.1))
		return pk__error_set(err, PK_EINVAL, "bad font size %g", o->font_size);
	if (!finite_at_least(c->min_width, 0) || (c->min_width_percent && c->min_width > 100))
		return pk__error_set(err, PK_EINVAL, "bad minimum width %g%s", o->min_width,
		                     c->min_width_percent ? "%" : "");
	/* The font goes into the style sheet, where these would end the rule. */
	for (const char *s = c->font_type; *s; s++)
		if ((unsigned char)*s < 0x20 || strchr("{};\\<>", *s))
			return pk__error_set(err, PK_EINVAL,
			                     "the font type may not hold control characters or "
			                     "any of {};\\<>");
	const char *colors = o->colors && *o->colors ? o->colors : "hot";
	for (int i = 0; i < PAL_COUNT; i++)
		if (strcmp(colors, palettes[i].name) == 0) {
			c->palette = (enum palette)i;
			return 0;
		}
	return pk__error_set(err, PK_EINVAL,
	                     "unknown flame graph palette '%s' (hot, mem, io, red, green, blue, "
	                     "yellow, purple, aqua, orange, java, js, perl, wakeup, chain)",
	                     colors);
}

/* ---------------------------------------------------------------- numbers */

/* v with `decimals` digits after the point, as printf's %f rounds it, but
 * with a '.' whatever the locale; trim drops trailing zeros and the point. */
static void format_fixed_printf(char *buf, size_t size, double v, int decimals, bool trim)
{
	char raw[400];
	snprintf(raw, sizeof raw, "%.*f", decimals, v);
	size_t n = 0;
	bool point = false;
	for (const char *s = raw; *s && n + 1 < size;) {
		if ((*s >= '0' && *s <= '9') || *s == '-') {
			buf[n++] = *s++;
			continue;
		}
		buf[n++] = '.'; /* the locale's separator, of one byte or more */
		point = true;
		while (*s && !(*s >= '0' && *s <= '9'))
			s++;
	}
	if (trim && point) {
		while (n > 0 && buf[n - 1] == '0')
			n--;
		if (n > 0 && buf[n - 1] == '.')
			n--;
	}
	buf[n] = '\0';
}

/* format_fixed_printf without printf, which costs a frame's numbers more than all
 * else: scaled by 10^decimals, v is below 1e9, so the product is within
 * 1.2e-7 of the exact one, and where its fraction is not within 1e-6 of
 * one half, rounding it to the nearest integer rounds as printf does.
 * Near a tie (and for other values) printf decides. */
void pk__format_fixed(char *buf, size_t size, double v, int decimals, bool trim)
{
	static const double scale[] = {1, 10, 100, 1000};
	double x = decimals >= 0 && decimals <= 3 ? fabs(v) * scale[decimals] : NAN;
	uint64_t u = x < 1e9 ? (uint64_t)x : 0;
	double frac = x - (double)u;
	if (!(x < 1e9) || size < 24 || (frac > 0.5 - 1e-6 && frac < 0.5 + 1e-6)) {
		format_fixed_printf(buf, size, v, decimals, trim);
		return;
	}
	u += frac > 0.5;
	char digits[24], *end = digits + sizeof digits, *d = end;
	for (int i = 0; i < decimals || u != 0 || d == end - decimals; i++) {
		if (i == decimals && decimals > 0)
			*--d = '.';
		*--d = (char)('0' + u % 10);
		u /= 10;
	}
	size_t n = 0;
	if (signbit(v))
		buf[n++] = '-';
	size_t len = (size_t)(end - d);
	if (trim && decimals > 0) {
		while (d[len - 1] == '0')
			len--;
		if (d[len - 1] == '.')
			len--;
	}
	memcpy(buf + n, d, len);
	buf[n + len] = '\0';
}

/* An integer with thousands separators: 1,234,567. */
static void fmt_count(char *buf, size_t size, int64_t v)
{
	char digits[32];
	uint64_t m = v < 0 ? -(uint64_t)v : (uint64_t)v;
	int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)m);
	size_t at = 0;
	if (v < 0 && at + 1 < size)
		buf[at++] = '-';
	for (int i = 0; i < n && at + 1 < size; i++) {
		if (i > 0 && (n - i) % 3 == 0 && at + 2 < size)
			buf[at++] = ',';
		buf[at++] = digits[i];
	}
	buf[at] = '\0';
}

/* pprof's units (its measurement package): aliases after lowercasing and
 * dropping a plural "s", what the unit prints as, and its size in the base
 * unit of its kind. */
typedef struct unit {
	const char *aliases[4];
	const char *name;
	double factor;
} unit;

static const unit byte_units[] = {
    {{"b", "byte"}, "B", 1},
    {{"kb", "kbyte", "kilobyte"}, "kB", 1024.0},
    {{"mb", "mbyte", "megabyte"}, "MB", 1024.0 * 1024},
    {{"gb", "gbyte", "gigabyte"}, "GB", 1024.0 * 1024 * 1024},
    {{"tb", "tbyte", "terabyte"}, "TB", 1024.0 * 1024 * 1024 * 1024},
    {{"pb", "pbyte", "petabyte"}, "PB", 1024.0 * 1024 * 1024 * 1024 * 1024},
    {{NULL}, NULL, 0},
};

static const unit time_units[] = {
    {{"ns", "nanosecond"}, "ns", 1},    {{"\xce\xbcs", "us", "microsecond"}, "us", 1e3},
    {{"ms", "millisecond"}, "ms", 1e6}, {{"s", "sec", "second"}, "s", 1e9},
    {{"hour", "hr"}, "hrs", 3600e9},    {{NULL}, NULL, 0},
};

/* The unit table and entry that unit names, or NULL. */
static const unit *find_unit(const char *name, const unit **kind)
{
	char low[32];
	size_t n = strlen(name);
	if (n >= sizeof low)
		return NULL;
	for (size_t i = 0; i <= n; i++)
		low[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
	if (n > 2 && low[n - 1] == 's')
		low[n - 1] = '\0';
	const unit *const kinds[] = {byte_units, time_units};
	for (size_t k = 0; k < 2; k++)
		for (const unit *u = kinds[k]; u->name; u++)
			for (size_t a = 0; a < 4 && u->aliases[a]; a++)
				if (strcmp(low, u->aliases[a]) == 0) {
					*kind = kinds[k];
					return u;
				}
	return NULL;
}

/* v of unit `from` as pprof prints it: in the largest unit of its kind
 * that keeps it at least 1, with two decimals unless they are ".00"
 * (1.17MB, 240ms, 1.50s). */
static void fmt_scaled(char *buf, size_t size, int64_t v, const unit *kind, const unit *from)
{
	double x = (double)v * from->factor, mag = x < 0 ? -x : x;
	const unit *to = &kind[0];
	for (const unit *u = kind; u->name; u++)
		if (mag / u->factor >= 1.0)
			to = u;
	if (mag / to->factor < 1.0 && kind == time_units)
		to = &time_units[3]; /* pprof's default time unit is the second */
	pk__format_fixed(buf, size, x / to->factor, 2, false);
	size_t n = strlen(buf);
	if (n > 3 && strcmp(buf + n - 3, ".00") == 0)
		buf[n -= 3] = '\0';
	if (strcmp(buf, "0") == 0 || strcmp(buf, "-0") == 0)
		return;
	snprintf(buf + n, size - n, "%s", to->name);
}

/* ----------------------------------------------------------------- colors */

typedef struct rgb {
	int r, g, b;
} rgb;

/* "rgb(r,g,b)", without printf for channels of 0-255 (every palette's): a
 * call per frame cost more than the rest of its numbers. */
static void format_rgb(char *buf, size_t size, rgb c)
{
	const int v[3] = {c.r, c.g, c.b};
	if (size < 17 || v[0] < 0 || v[0] > 255 || v[1] < 0 || v[1] > 255 || v[2] < 0 ||
	    v[2] > 255) {
		snprintf(buf, size, "rgb(%d,%d,%d)", c.r, c.g, c.b);
		return;
	}
	char *d = buf;
	memcpy(d, "rgb(", 4);
	d += 4;
	for (int i = 0; i < 3; i++) {
		if (v[i] >= 100)
			*d++ = (char)('0' + v[i] / 100);
		if (v[i] >= 10)
			*d++ = (char)('0' + v[i] / 10 % 10);
		*d++ = (char)('0' + v[i] % 10);
		*d++ = i < 2 ? ',' : ')';
	}
	*d = '\0';
}

static bool has(const char *s, size_t len, const char *what)
{
	size_t n = strlen(what);
	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(s + i, what, n) == 0)
			return true;
	return false;
}

static bool ends(const char *s, size_t len, const char *what)
{
	size_t n = strlen(what);
	return len >= n && memcmp(s + len - n, what, n) == 0;
}

/* flamegraph.pl's default: the sum of the name's bytes seeds a drand48
 * step (as Perl's srand and rand do), so a name keeps its color from one
 * graph to the next while neighbors differ. */
static double name_sum_random(const char *name, size_t len)
{
	uint32_t sum = 0;
	for (size_t i = 0; i < len; i++)
		sum += (unsigned char)name[i];
	uint64_t x = (uint64_t)sum << 16 | 0x330e;
	x = (x * 0x5deece66dULL + 0xb) & ((1ULL << 48) - 1);
	return (double)x / (double)(1ULL << 48);
}

/* The --hash value: the first three bytes (the last three with from_end),
 * each weighing 0.7 of the one before, so that names that begin alike get
 * alike colors. 1 for "". */
static double name_hash(const char *name, size_t len, bool from_end)
{
	double v = 0, weight = 1, max = 1;
	for (size_t i = 0; i < len && i < 3; i++) {
		unsigned char c = (unsigned char)(from_end ? name[len - 1 - i] : name[i]);
		unsigned mod = 10 + (unsigned)i;
		v += weight * (double)(c % mod) / (double)(mod - 1);
		max += weight;
		weight *= 0.7;
	}
	return 1 - v / max;
}

/* Which flat palette a language palette picks for a name, by its look and
 * by the annotations (_[k] kernel, _[j] JIT, _[i] inlined, _[w] waker)
 * that perf-based stack collapsers add. */
static enum palette palette_of(enum palette p, const char *s, size_t len)
{
	static const char *const java_prefixes[] = {"java/", "javax/", "jdk/", "net/",
	                                            "org/",  "com/",   "io/",  "sun/"};
	switch (p) {
	case PAL_JAVA: {
		if (ends(s, len, "_[j]"))
			return PAL_GREEN;
		if (ends(s, len, "_[i]"))
			return PAL_AQUA;
		const char *t = s;
		size_t tl = len;
		if (tl > 0 && t[0] == 'L')
			t++, tl--;
		for (size_t i = 0; i < sizeof java_prefixes / sizeof *java_prefixes; i++) {
			size_t n = strlen(java_prefixes[i]);
			if (tl >= n && memcmp(t, java_prefixes[i], n) == 0)
				return PAL_GREEN;
		}
		if (has(s, len, ":::"))
			return PAL_GREEN;
		if (has(s, len, "::"))
			return PAL_YELLOW;
		return ends(s, len, "_[k]") ? PAL_ORANGE : PAL_RED;
	}
	case PAL_JS: {
		const char *slash = memchr(s, '/', len);
		if (ends(s, len, "_[j]"))
			return slash ? PAL_GREEN : PAL_AQUA;
		if (has(s, len, "::"))
			return PAL_YELLOW;
		if (slash && has(slash, len - (size_t)(slash - s), ".js"))
			return PAL_GREEN;
		if (memchr(s, ':', len))
			return PAL_AQUA;
		if (len == 1 && s[0] == ' ')
			return PAL_GREEN;
		return ends(s, len, "_[k]") ? PAL_ORANGE : PAL_RED;
	}
	case PAL_PERL:
		if (has(s, len, "::"))
			return PAL_YELLOW;
		if (has(s, len, "Perl") || has(s, len, ".pl"))
			return PAL_GREEN;
		return ends(s, len, "_[k]") ? PAL_ORANGE : PAL_RED;
	case PAL_WAKEUP: return PAL_AQUA;
	case PAL_CHAIN: return ends(s, len, "_[w]") ? PAL_AQUA : PAL_BLUE;
	default: return p;
	}
}

/* A frame's color from its name (the root's name is ""). */
static rgb name_color(const config *c, const char *name, size_t len)
{
	if (len == 2 && memcmp(name, "--", 2) == 0)
		return (rgb){160, 160, 160};
	if (len == 1 && name[0] == '-')
		return (rgb){200, 200, 200};
	double v1, v2, v3;
	if (c->hash) {
		v1 = name_hash(name, len, false);
		v2 = v3 = name_hash(name, len, true);
	} else {
		v1 = v2 = v3 = name_sum_random(name, len);
	}
	switch (palette_of(c->palette, name, len)) {
	case PAL_MEM: return (rgb){0, 190 + (int)(50 * v2), (int)(210 * v1)};
	case PAL_IO: return (rgb){80 + (int)(60 * v1), 80 + (int)(60 * v1), 190 + (int)(55 * v2)};
	case PAL_RED: return (rgb){200 + (int)(55 * v1), 50 + (int)(80 * v1), 50 + (int)(80 * v1)};
	case PAL_GREEN:
		return (rgb){50 + (int)(60 * v1), 200 + (int)(55 * v1), 50 + (int)(60 * v1)};
	case PAL_BLUE: return (rgb){80 + (int)(60 * v1), 80 + (int)(60 * v1), 205 + (int)(50 * v1)};
	case PAL_YELLOW:
		return (rgb){175 + (int)(55 * v1), 175 + (int)(55 * v1), 50 + (int)(20 * v1)};
	case PAL_PURPLE:
		return (rgb){190 + (int)(65 * v1), 80 + (int)(60 * v1), 190 + (int)(65 * v1)};
	case PAL_AQUA:
		return (rgb){50 + (int)(60 * v1), 165 + (int)(55 * v1), 165 + (int)(55 * v1)};
	case PAL_ORANGE: return (rgb){190 + (int)(65 * v1), 90 + (int)(65 * v1), 0};
	default: return (rgb){205 + (int)(50 * v3), (int)(230 * v1), (int)(55 * v2)};
	}
}

/* A differential frame: red as it grew, blue as it shrank, white if the
 * same, deeper the nearer delta is to the largest change in the graph. */
static rgb delta_color(double delta, double max_delta)
{
	if (delta > 0) {
		int k = (int)(210 * (max_delta - delta) / max_delta);
		return (rgb){255, k, k};
	}
	if (delta < 0) {
		int k = (int)(210 * (max_delta + delta) / max_delta);
		return (rgb){k, k, 255};
	}
	return (rgb){255, 255, 255};
}

/* ----------------------------------------------------------------- layout */

/* The drawing's scale, and what its header needs to know: how deep it
 * goes and, in a differential graph, the largest change. */
typedef struct layout {
	int64_t total;    /* the root's value: the full width */
	int64_t left_out; /* the sum of the stacks of negative value */
	uint32_t max_depth;
	double per_value; /* pixels per unit of value */
	double min_value; /* the value of the narrowest frame drawn */
	double max_delta; /* differential: the largest change drawn, at least 1 */
	size_t drawn;     /* the nodes drawn */
} layout;

/* A node of the tree that is drawn. */
typedef struct drawn {
	uint32_t depth;       /* 0 for the root, "all" */
	uint32_t frame;       /* the tree's frame; PK_NONE for the root */
	int64_t value, start; /* its width and left edge, in the profile's unit */
	int64_t delta;        /* the change of its own value from the base */
} drawn;

/* A walk over the drawn nodes, depth first, children in name order. A
 * node's subtree is a run of the tree's stacks (see pk__tree), read when
 * the node is reached to know its width; a node too narrow to draw is
 * passed over with its subtree. */
typedef struct walker {
	const pk__tree *t;
	const layout *l;
	bool started;
	size_t next;      /* the stack whose nodes come next */
	uint32_t open;    /* the depth of the deepest drawn node the walk is in */
	int64_t *at;      /* by depth: where the next child of the open node there starts */
	uint32_t *frames; /* the frames of stack read - 1 */
	size_t read;      /* the stacks whose frames were read, in turn */
} walker;

static int64_t add_saturated(int64_t a, int64_t b)
{
	return b > 0 && a > INT64_MAX - b ? INT64_MAX : a + b;
}

/* A frame is as wide as the positive values of the stacks through it, so
 * children always fit in their parent. Without negative values that is its
 * total; a profile that holds some (a diff pprof wrote without its base)
 * loses the stacks that shrank, and the subtitle says so. */
static int64_t width_of(int64_t self)
{
	return self > 0 ? self : 0;
}

/* The change of stack i's own value from the base to the new profile. */
static int64_t self_delta(const pk__tree *t, size_t i)
{
	if (!t->has_base)
		return 0;
	return (int64_t)((uint64_t)t->self[i] - (uint64_t)t->base_self[i]);
}

static int walker_init(walker *w, const pk__tree *t, const layout *l)
{
	*w = (walker){t, l, false, 0, 0, NULL, NULL, 0};
	w->at = pk__calloc((size_t)t->max_len + 1, sizeof *w->at);
	w->frames = pk__calloc((size_t)t->max_len + 1, sizeof *w->frames);
	return w->at && w->frames ? 0 : PK_ENOMEM;
}

static void walker_free(walker *w)
{
	pk__free(w->at);
	pk__free(w->frames);
}

/* Go on at stack k: the nodes it shares with the stack before are the
 * open ones (all others of that stack were closed or passed over). */
static void walk_to(walker *w, size_t k)
{
	w->next = k;
	if (k < w->t->stack_count)
		w->open = w->t->stacks[k].shared;
}

/* The next drawn node into *out; false when there is none. */
static bool next_drawn(walker *w, drawn *out)
{
	const pk__tree *t = w->t;
	const pk__tree_stack *stacks = t->stacks;
	size_t n = t->stack_count;
	if (!w->started) {
		w->started = true;
		if (w->l->total <= 0)
			return false;
		bool own = n > 0 && stacks[0].len == 0; /* samples without locations */
		*out = (drawn){0, PK_NONE, w->l->total, 0, own ? self_delta(t, 0) : 0};
		return true;
	}
	while (w->next < n) {
		size_t k = w->next;
		const pk__tree_stack *st = &stacks[k];
		if (st->len == w->open) {
			walk_to(w, k + 1);
			continue;
		}
		uint32_t depth = w->open + 1;
		int64_t value = width_of(t->self[k]);
		size_t end = k + 1;
		for (; end < n && stacks[end].shared >= depth; end++)
			value = add_saturated(value, width_of(t->self[end]));
		int64_t start = w->at[w->open];
		w->at[w->open] = add_saturated(start, value);
		if (value <= 0 || (double)value < w->l->min_value) {
			walk_to(w, end);
			continue;
		}
		w->at[depth] = start;
		w->open = depth;
		while (w->read <= k)
			pk__tree_frames(t, w->read++, w->frames);
		*out = (drawn){depth, w->frames[depth - 1], value, start,
		               st->len == depth ? self_delta(t, k) : 0};
		return true;
	}
	return false;
}

/* The scale, and a first walk for the depth and the largest change. */
static int lay_out(const pk__tree *t, const config *c, layout *l, pk_error *err)
{
	for (size_t i = 0; i < t->stack_count; i++) {
		int64_t self = t->self[i];
		l->total = add_saturated(l->total, width_of(self));
		if (self < 0)
			l->left_out = pk__add(l->left_out, self);
	}
	l->max_delta = 1;
	if (l->total <= 0)
		return 0;
	double full = c->width - 2 * XPAD;
	l->per_value = full / (double)l->total;
	l->min_value = c->min_width_percent ? (double)l->total * c->min_width / 100
	                                    : c->min_width / l->per_value;
	walker w;
	if (walker_init(&w, t, l) < 0) {
		walker_free(&w);
		return pk__error_set(err, PK_ENOMEM, "out of memory");
	}
	drawn f;
	while (next_drawn(&w, &f)) {
		l->drawn++;
		if (f.depth > l->max_depth)
			l->max_depth = f.depth;
		double mag = f.delta < 0 ? -(double)f.delta : (double)f.delta;
		if (mag > l->max_delta)
			l->max_delta = mag;
	}
	walker_free(&w);
	return 0;
}

/* ---------------------------------------------------------------- libxml2 */

/* libxml2 is loaded when an SVG is first written rather than linked: with
 * ICU and libstdc++, which Debian's libxml2 brings along, linking it cost
 * every command ~2.4 MB of resident memory, a tenth of what converting a
 * medium profile takes, for a writer only SVG output uses. */
#define LIBXML2_FUNCTIONS(F)                                                                       \
	F(xmlOutputBufferCreateIO)                                                                 \
	F(xmlOutputBufferClose)                                                                    \
	F(xmlNewTextWriter)                                                                        \
	F(xmlFreeTextWriter)                                                                       \
	F(xmlTextWriterStartDocument)                                                              \
	F(xmlTextWriterEndDocument)                                                                \
	F(xmlTextWriterWriteDTD)                                                                   \
	F(xmlTextWriterWriteComment)                                                               \
	F(xmlTextWriterStartElement)                                                               \
	F(xmlTextWriterEndElement)                                                                 \
	F(xmlTextWriterWriteAttribute)                                                             \
	F(xmlTextWriterWriteString)                                                                \
	F(xmlTextWriterWriteRaw)                                                                   \
	F(xmlTextWriterWriteRawLen)                                                                \
	F(xmlTextWriterStartCDATA)                                                                 \
	F(xmlTextWriterEndCDATA)                                                                   \
	F(xmlSetGenericErrorFunc)                                                                  \
	F(xmlSetStructuredErrorFunc)                                                               \
	F(__xmlGenericError)                                                                       \
	F(__xmlGenericErrorContext)                                                                \
	F(__xmlStructuredError)                                                                    \
	F(__xmlStructuredErrorContext)

static struct {
#define LIBXML2_POINTER(name) __typeof__(&name) name;
	LIBXML2_FUNCTIONS(LIBXML2_POINTER)
#undef LIBXML2_POINTER
	char why[200]; /* empty once loaded */
} xml;

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void load_libxml2(void)
{
	/* Never closed: the library stays for the process's next SVGs. */
	void *lib = dlopen(PK_LIBXML2_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		snprintf(xml.why, sizeof xml.why, "%s", dlerror());
		return;
	}
#define LIBXML2_LOAD(name)                                                                         \
	if (xml.why[0] == '\0' && (*(void **)&xml.name = dlsym(lib, #name)) == NULL)               \
		snprintf(xml.why, sizeof xml.why, "%s has no %s", PK_LIBXML2_SONAME, #name);
	LIBXML2_FUNCTIONS(LIBXML2_LOAD)
#undef LIBXML2_LOAD
}

static void *load_main(void *arg)
{
	(void)arg;
	pthread_once(&xml_once, load_libxml2);
	return NULL;
}

static int need_libxml2(pk_error *err)
{
	pthread_once(&xml_once, load_libxml2);
	if (xml.why[0] != '\0')
		return pk__error_set(err, PK_EIO, "SVG needs libxml2, which cannot be loaded: %s",
		                     xml.why);
	return 0;
}

/* ---------------------------------------------------------------- writing */

typedef struct svg {
	xmlTextWriterPtr w;
	pk__sink *sink;
	int sink_rc; /* the sink's error, which the writer sees only as -1 */
	pk_error *err;
	const config *c;
	const pk__tree *t;
	const layout *l;
	const unit *kind, *unit; /* the values' unit when pprof scales it */
	const char *count_name;  /* otherwise what a count is called */
	double height, ypad1, ypad2, ypad3;
	pk__vec name, text; /* char scratch */
	pk__vec element;    /* char: a frame's element, written at once */
	pk__vec subtitle;   /* char: the subtitle with its note */
} svg;

static int to_sink(void *ctx, const char *data, int len)
{
	svg *s = ctx;
	if (s->sink_rc < 0)
		return -1;
	int rc = pk__sink_write(s->sink, data, (size_t)len);
	if (rc < 0) {
		s->sink_rc = rc;
		return -1;
	}
	return len;
}

static int writer_failed(svg *s)
{
	if (s->sink_rc < 0)
		return s->sink_rc;
	return pk__error_set(s->err, PK_ENOMEM, "libxml2 could not write the SVG");
}

#define XW(s, call)                                                                                \
	do {                                                                                       \
		if ((call) < 0)                                                                    \
			return writer_failed(s);                                                   \
	} while (0)

static const xmlChar *X(const char *s)
{
	return (const xmlChar *)s;
}

/* The code point of the UTF-8 sequence at s, and its length; 0 if it is
 * not valid UTF-8 (overlong, a surrogate, past U+10FFFF, or cut short). */
static size_t utf8_next(const unsigned char *s, size_t len, uint32_t *cp)
{
	static const uint32_t mins[] = {0, 0, 0x80, 0x800, 0x10000};
	size_t n = s[0] < 0x80       ? 1
	           : s[0] >> 5 == 6  ? 2
	           : s[0] >> 4 == 14 ? 3
	           : s[0] >> 3 == 30 ? 4
	                             : 0;
	if (n == 0 || n > len)
		return 0;
	uint32_t c = n == 1 ? s[0] : s[0] & (0x7f >> n);
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < mins[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* Appends text to v as XML can hold it: bytes that are not UTF-8, control
 * characters and the two non-characters XML refuses become U+FFFD.
 * *chars (optional) counts the characters. */
static int add_text(pk__vec *v, const char *text, size_t len, size_t *chars)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t count = 0;
	for (size_t i = 0; i < len; count++) {
		/* A run of printable ASCII, the most of any name, goes at once. */
		size_t run = 0;
		while (i + run < len && s[i + run] >= 0x20 && s[i + run] < 0x7f)
			run++;
		if (run > 0) {
			PK_FORWARD(pk__vec_push(v, 1, s + i, run, NULL));
			i += run;
			count += run - 1;
			continue;
		}
		uint32_t cp = 0;
		size_t n = utf8_next(s + i, len - i, &cp);
		if (n == 0 || cp < 0x20 || cp == 0x7f || cp == 0xfffe || cp == 0xffff) {
			PK_FORWARD(pk__vec_push(v, 1, "\xef\xbf\xbd", 3, NULL));
			i += n ? n : 1;
		} else {
			PK_FORWARD(pk__vec_push(v, 1, s + i, n, NULL));
			i += n;
		}
	}
	if (chars)
		*chars = count;
	return 0;
}

static int add_str(pk__vec *v, const char *s)
{
	return pk__vec_append(v, 1, s, strlen(s));
}

/* Appends str to v as libxml2's writer writes element content
 * (xmlEncodeSpecialChars): the same bytes as through it, at a fraction of
 * the cost for the many elements of the frames. */
static int add_escaped(pk__vec *v, const char *str)
{
	for (;;) {
		size_t run = strcspn(str, "<>&\"\r");
		PK_FORWARD(pk__vec_push(v, 1, str, run, NULL));
		str += run;
		if (*str == '\0')
			return 0;
		const char *e = *str == '<'   ? "&lt;"
		                : *str == '>' ? "&gt;"
		                : *str == '&' ? "&amp;"
		                : *str == '"' ? "&quot;"
		                              : "&#13;";
		PK_FORWARD(add_str(v, e));
		str++;
	}
}

/* Appends ` name="v"` with v formatted as pk__format_fixed does. */
static int add_num_attr(pk__vec *v, const char *name, double x, int decimals, bool trim)
{
	/* put together here and appended at once (six a frame); name is one
	 * of ours, a few letters */
	char buf[96];
	size_t n = strlen(name);
	buf[0] = ' ';
	memcpy(buf + 1, name, n);
	memcpy(buf + 1 + n, "=\"", 2);
	n += 3;
	pk__format_fixed(buf + n, sizeof buf - n - 1, x, decimals, trim);
	n += strlen(buf + n);
	buf[n++] = '"';
	return pk__vec_append(v, 1, buf, n);
}

/* v's bytes as a C string (the NUL is not counted). */
static int finish_str(pk__vec *v, const char **out)
{
	PK_FORWARD(pk__vec_push(v, 1, "", 1, NULL));
	v->count--;
	*out = v->items;
	return 0;
}

static int scratch_failed(svg *s)
{
	return pk__error_set(s->err, PK_ENOMEM, "out of memory");
}

/* Writes text (any bytes) as the content of the open element. */
static int write_text(svg *s, const char *text, size_t len)
{
	const char *str;
	s->text.count = 0;
	if (add_text(&s->text, text, len, NULL) < 0 || finish_str(&s->text, &str) < 0)
		return scratch_failed(s);
	XW(s, xml.xmlTextWriterWriteString(s->w, X(str)));
	return 0;
}

static int attr(svg *s, const char *name, const char *value)
{
	XW(s, xml.xmlTextWriterWriteAttribute(s->w, X(name), X(value)));
	return 0;
}

static int attr_num(svg *s, const char *name, double v, int decimals, bool trim)
{
	char buf[64];
	pk__format_fixed(buf, sizeof buf, v, decimals, trim);
	return attr(s, name, buf);
}

static int start(svg *s, const char *element)
{
	XW(s, xml.xmlTextWriterStartElement(s->w, X(element)));
	return 0;
}

static int end(svg *s)
{
	XW(s, xml.xmlTextWriterEndElement(s->w));
	return 0;
}

static int newline(svg *s)
{
	XW(s, xml.xmlTextWriterWriteRaw(s->w, X("\n")));
	return 0;
}

/* <text id=.. x=.. y=..>text</text>; class may be NULL. */
static int text_element(svg *s, const char *id, double x, double y, const char *class,
                        const char *text)
{
	PK_FORWARD(start(s, "text"));
	PK_FORWARD(attr(s, "id", id));
	PK_FORWARD(attr_num(s, "x", x, 2, true));
	PK_FORWARD(attr_num(s, "y", y, 2, true));
	if (class)
		PK_FORWARD(attr(s, "class", class));
	PK_FORWARD(write_text(s, text, strlen(text)));
	PK_FORWARD(end(s));
	return newline(s);
}

/* A value as the titles show it: "1.17MB", "240ms" or "1,234 samples". */
static void fmt_value(const svg *s, char *buf, size_t size, int64_t v)
{
	if (s->unit) {
		fmt_scaled(buf, size, v, s->kind, s->unit);
		return;
	}
	fmt_count(buf, size, v);
	size_t n = strlen(buf);
	snprintf(buf + n, size - n, " %s", s->count_name);
}

/* The name a frame shows: perf's annotations (_[k] and the like) are for
 * the palettes only. */
static size_t shown_length(const char *name, size_t len)
{
	static const char *const notes[] = {"_[k]", "_[w]", "_[i]", "_[j]"};
	for (size_t i = 0; i < 4; i++)
		if (ends(name, len, notes[i]))
			return len - 4;
	return len;
}

/* Appends frame f's element to e, as libxml2's writer would write it. */
static int format_frame(svg *s, const drawn *f, pk__vec *e)
{
	const pk__tree *t = s->t;
	const layout *l = s->l;
	const config *c = s->c;
	const char *name = "all";
	size_t len = 3;
	if (f->frame != PK_NONE) {
		name = t->frames[f->frame].name;
		len = t->frames[f->frame].name_len;
	}
	int64_t value = f->value;

	/* "name (value, P%)", and "; +D%" in a differential graph. */
	size_t chars;
	const char *title, *shown;
	char num[256], pct[64];
	s->name.count = s->text.count = 0;
	if (add_text(&s->name, name, shown_length(name, len), &chars) < 0 ||
	    finish_str(&s->name, &shown) < 0 || add_str(&s->text, shown) < 0)
		return scratch_failed(s);
	fmt_value(s, num, sizeof num, value);
	pk__format_fixed(pct, sizeof pct, 100.0 * (double)value / (double)l->total, 2, false);
	if (add_str(&s->text, " (") < 0 || add_text(&s->text, num, strlen(num), NULL) < 0 ||
	    add_str(&s->text, ", ") < 0 || add_str(&s->text, pct) < 0 || add_str(&s->text, "%") < 0)
		return scratch_failed(s);
	if (t->has_base) {
		double d = 100.0 * (double)f->delta / (double)l->total;
		pk__format_fixed(pct, sizeof pct, d, 2, false);
		if (add_str(&s->text, d > 0 ? "; +" : "; ") < 0 || add_str(&s->text, pct) < 0 ||
		    add_str(&s->text, "%") < 0)
			return scratch_failed(s);
	}
	if (add_str(&s->text, ")") < 0 || finish_str(&s->text, &title) < 0)
		return scratch_failed(s);

	/* Edges in tenths of a pixel, so that neighbors share theirs exactly. */
	double x1 = XPAD + (double)f->start * l->per_value;
	double x2 = XPAD + ((double)f->start + (double)value) * l->per_value;
	int64_t t1 = (int64_t)(x1 * 10 + 0.5), t2 = (int64_t)(x2 * 10 + 0.5);
	double fh = c->frame_height, y1;
	if (c->inverted)
		y1 = s->ypad1 + s->ypad3 + f->depth * fh;
	else
		y1 = s->height - s->ypad2 - (f->depth + 1) * fh + FRAMEPAD;
	double y2 = y1 + fh - FRAMEPAD;

	rgb color;
	if (t->has_base) {
		double d = (double)f->delta;
		color = delta_color(c->negate ? -d : d, l->max_delta);
	} else {
		color = f->frame == PK_NONE ? name_color(c, "", 0) : name_color(c, name, len);
	}
	char fill[40];
	format_rgb(fill, sizeof fill, color);

	if (add_str(e, "<g><title>") < 0 || add_escaped(e, title) < 0 ||
	    add_str(e, "</title><rect") < 0 ||
	    add_num_attr(e, "x", (double)t1 / 10, 1, false) < 0 ||
	    add_num_attr(e, "y", y1, 2, true) < 0 ||
	    add_num_attr(e, "width", (double)(t2 - t1) / 10, 1, false) < 0 ||
	    add_num_attr(e, "height", fh - FRAMEPAD, 2, true) < 0 || add_str(e, " fill=\"") < 0 ||
	    add_str(e, fill) < 0 || add_str(e, "\" rx=\"2\" ry=\"2\"/><text") < 0 ||
	    add_num_attr(e, "x", (double)(t1 + 30) / 10, 1, false) < 0 ||
	    add_num_attr(e, "y", 3 + (y1 + y2) / 2, 2, true) < 0)
		return scratch_failed(s);
	/* As many characters as fit, the last two of a cut name turned to "..". */
	double fit = (double)(t2 - t1) / 10 / (c->font_size * FONT_WIDTH);
	size_t room = fit >= 3 ? (fit < 1e6 ? (size_t)fit : (size_t)1e6) : 0;
	if (room >= 3) {
		if (chars > room) {
			const unsigned char *u = s->name.items;
			size_t bytes = 0;
			for (size_t k = 0; k < room - 2; k++)
				do
					bytes++;
				while (bytes < s->name.count && (u[bytes] & 0xc0) == 0x80);
			s->name.count = bytes;
			if (add_str(&s->name, "..") < 0)
				return scratch_failed(s);
		}
		if (finish_str(&s->name, &shown) < 0 || add_str(e, ">") < 0 ||
		    add_escaped(e, shown) < 0 || add_str(e, "</text></g>\n") < 0)
			return scratch_failed(s);
	} else if (add_str(e, "/></g>\n") < 0) {
		return scratch_failed(s);
	}
	return 0;
}

/* N formatted bytes to libxml2, in pieces its int length can hold. */
static int write_raw(svg *s, const char *bytes, size_t n)
{
	do {
		int piece = n < INT_MAX ? (int)n : INT_MAX;
		XW(s, xml.xmlTextWriterWriteRawLen(s->w, (const xmlChar *)bytes, piece));
		bytes += piece;
		n -= (size_t)piece;
	} while (n > 0);
	return 0;
}

/* Frame f's element, handed to libxml2 in one piece. */
static int write_frame(svg *s, const drawn *f)
{
	s->element.count = 0;
	PK_FORWARD(format_frame(s, f, &s->element));
	return write_raw(s, s->element.items, s->element.count);
}

static int write_style(svg *s)
{
	const config *c = s->c;
	char size[64], title_size[64];
	pk__format_fixed(size, sizeof size, c->font_size, 2, true);
	pk__format_fixed(title_size, sizeof title_size, c->font_size + 5, 2, true);
	const char *parts[] = {
	    "\ntext { font-family:",
	    c->font_type,
	    "; font-size:",
	    size,
	    "px; fill:rgb(0,0,0); }\n#title { text-anchor:middle; font-size:",
	    title_size,
	    "px; }\n#subtitle { text-anchor:middle; fill:rgb(160,160,160); }\n"
	    "#message { text-anchor:middle; }\n"
	    "#search, #ignorecase { opacity:0.1; cursor:pointer; }\n"
	    "#search:hover, #search.show, #ignorecase:hover, #ignorecase.show { opacity:1; }\n"
	    "#unzoom { cursor:pointer; }\n"
	    "#frames > *:hover { stroke:black; stroke-width:0.5; cursor:pointer; }\n"
	    ".hide { display:none; }\n.parent { opacity:0.5; }\n"};
	const char *css;
	s->text.count = 0;
	for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
		if (add_str(&s->text, parts[i]) < 0)
			return scratch_failed(s);
	if (finish_str(&s->text, &css) < 0)
		return scratch_failed(s);
	PK_FORWARD(start(s, "style"));
	PK_FORWARD(attr(s, "type", "text/css"));
	XW(s, xml.xmlTextWriterStartCDATA(s->w));
	XW(s, xml.xmlTextWriterWriteRaw(s->w, X(css)));
	XW(s, xml.xmlTextWriterEndCDATA(s->w));
	PK_FORWARD(end(s));
	return newline(s);
}

/* The script: what zooms, searches and fills the details line. */
static const char script[] =
    "// Zoom, search and details for a profkit flame graph. The exporter writes\n"
    "// pkfg (the layout: width, xpad, font size and width, inverted) before this.\n"
    "var fg = {frames: [], zoomed: null, term: null, ignoreCase: false};\n"
    "\n"
    "function fgId(id) {\n"
    "  return document.getElementById(id);\n"
    "}\n"
    "\n"
    "function fgInit() {\n"
    "  fg.details = fgId(\"details\");\n"
    "  fg.matched = fgId(\"matched\");\n"
    "  fg.search = fgId(\"search\");\n"
    "  fg.ic = fgId(\"ignorecase\");\n"
    "  fg.unzoom = fgId(\"unzoom\");\n"
    "  fg.group = fgId(\"frames\");\n"
    "  var gs = fg.group.getElementsByTagName(\"g\");\n"
    "  for (var i = 0; i < gs.length; i++) {\n"
    "    var g = gs[i], rect = g.getElementsByTagName(\"rect\")[0];\n"
    "    var title = g.getElementsByTagName(\"title\")[0].textContent;\n"
    "    var cut = title.lastIndexOf(\" (\");\n"
    "    var f = {\n"
    "      g: g, rect: rect, text: g.getElementsByTagName(\"text\")[0],\n"
    "      title: title, name: cut >= 0 ? title.substring(0, cut) : title,\n"
    "      x: parseFloat(rect.getAttribute(\"x\")),\n"
    "      w: parseFloat(rect.getAttribute(\"width\")),\n"
    "      y: parseFloat(rect.getAttribute(\"y\")),\n"
    "      fill: rect.getAttribute(\"fill\")\n"
    "    };\n"
    "    g.fgIndex = fg.frames.length;\n"
    "    fg.frames.push(f);\n"
    "  }\n"
    "  if (fg.frames.length)\n"
    "    fg.root = fg.frames[0];\n"
    "  fg.group.addEventListener(\"mouseover\", function (e) {\n"
    "    var f = fgFrameOf(e.target);\n"
    "    if (f)\n"
    "      fg.details.textContent = f.title;\n"
    "  });\n"
    "  fg.group.addEventListener(\"mouseout\", function (e) {\n"
    "    if (fgFrameOf(e.target))\n"
    "      fg.details.textContent = \" \";\n"
    "  });\n"
    "  fg.group.addEventListener(\"click\", function (e) {\n"
    "    var f = fgFrameOf(e.target);\n"
    "    if (f)\n"
    "      fgZoom(f);\n"
    "  });\n"
    "  fg.unzoom.addEventListener(\"click\", fgResetZoom);\n"
    "  fg.search.addEventListener(\"click\", function () {\n"
    "    if (fg.term === null)\n"
    "      fgAsk();\n"
    "    else\n"
    "      fgResetSearch();\n"
    "  });\n"
    "  fg.ic.addEventListener(\"click\", fgToggleCase);\n"
    "  window.addEventListener(\"keydown\", function (e) {\n"
    "    var ctrl = e.ctrlKey || e.metaKey;\n"
    "    if (e.key === \"F3\" || e.keyCode === 114 || (ctrl && (e.key === \"f\" || e.keyCode === "
    "70))) {\n"
    "      e.preventDefault();\n"
    "      fgAsk();\n"
    "    } else if (ctrl && (e.key === \"i\" || e.keyCode === 73)) {\n"
    "      e.preventDefault();\n"
    "      fgToggleCase();\n"
    "    } else if (e.key === \"Escape\" && fg.zoomed) {\n"
    "      fgResetZoom();\n"
    "    }\n"
    "  });\n"
    "}\n"
    "\n"
    "// The frame an event happened in, or null.\n"
    "function fgFrameOf(node) {\n"
    "  while (node && node.parentNode !== fg.group)\n"
    "    node = node.parentNode;\n"
    "  return node && node.fgIndex !== undefined ? fg.frames[node.fgIndex] : null;\n"
    "}\n"
    "\n"
    "// Frames further from the root than f: higher up, or lower down in an icicle.\n"
    "function fgDeeper(e, f) {\n"
    "  return pkfg.inverted ? e.y > f.y : e.y < f.y;\n"
    "}\n"
    "\n"
    "function fgWithin(e, f) {\n"
    "  return e.x >= f.x - 0.01 && e.x + e.w <= f.x + f.w + 0.01;\n"
    "}\n"
    "\n"
    "function fgPlace(f, x, w) {\n"
    "  f.rect.setAttribute(\"x\", x.toFixed(1));\n"
    "  f.rect.setAttribute(\"width\", w.toFixed(1));\n"
    "  f.text.setAttribute(\"x\", (x + 3).toFixed(1));\n"
    "  f.text.textContent = fgFit(f.name, w);\n"
    "}\n"
    "\n"
    "// The name as fits in w pixels: cut to whole characters ending in \"..\".\n"
    "function fgFit(name, w) {\n"
    "  var chars = Math.floor(w / (pkfg.fontSize * pkfg.fontWidth));\n"
    "  if (chars < 3)\n"
    "    return \"\";\n"
    "  return name.length > chars ? name.substring(0, chars - 2) + \"..\" : name;\n"
    "}\n"
    "\n"
    "function fgShow(f, shown, dimmed) {\n"
    "  f.g.classList.toggle(\"hide\", !shown);\n"
    "  f.g.classList.toggle(\"parent\", dimmed);\n"
    "}\n"
    "\n"
    "function fgZoom(f) {\n"
    "  if (f === fg.root || !(f.w > 0)) {\n"
    "    fgResetZoom();\n"
    "    return;\n"
    "  }\n"
    "  var full = pkfg.width - 2 * pkfg.xpad, scale = full / f.w;\n"
    "  for (var i = 0; i < fg.frames.length; i++) {\n"
    "    var e = fg.frames[i];\n"
    "    if (e === f || (fgDeeper(e, f) && fgWithin(e, f))) {\n"
    "      fgShow(e, true, false);\n"
    "      fgPlace(e, pkfg.xpad + (e.x - f.x) * scale, e.w * scale);\n"
    "    } else if (fgDeeper(f, e) && fgWithin(f, e)) {\n"
    "      fgShow(e, true, true);\n"
    "      fgPlace(e, pkfg.xpad, full);\n"
    "    } else {\n"
    "      fgShow(e, false, false);\n"
    "    }\n"
    "  }\n"
    "  fg.zoomed = f;\n"
    "  fg.unzoom.classList.remove(\"hide\");\n"
    "}\n"
    "\n"
    "function fgResetZoom() {\n"
    "  for (var i = 0; i < fg.frames.length; i++) {\n"
    "    var e = fg.frames[i];\n"
    "    fgShow(e, true, false);\n"
    "    fgPlace(e, e.x, e.w);\n"
    "  }\n"
    "  fg.zoomed = null;\n"
    "  fg.unzoom.classList.add(\"hide\");\n"
    "}\n"
    "\n"
    "function fgAsk() {\n"
    "  var term = window.prompt(\"Search for (a regular expression)\" +\n"
    "    (fg.ignoreCase ? \", ignoring case\" : \"\"), fg.term === null ? \"\" : fg.term);\n"
    "  if (term !== null && term !== \"\")\n"
    "    fgSearch(term);\n"
    "}\n"
    "\n"
    "function fgToggleCase() {\n"
    "  fg.ignoreCase = !fg.ignoreCase;\n"
    "  fg.ic.classList.toggle(\"show\", fg.ignoreCase);\n"
    "  if (fg.term !== null)\n"
    "    fgSearch(fg.term);\n"
    "}\n"
    "\n"
    "// Colors the frames whose names match term, and shows what share of the\n"
    "// whole they cover: a match inside another match is not counted twice.\n"
    "function fgSearch(term) {\n"
    "  var re;\n"
    "  try {\n"
    "    re = new RegExp(term, fg.ignoreCase ? \"i\" : \"\");\n"
    "  } catch (err) {\n"
    "    fg.matched.textContent = \"Bad expression: \" + err.message;\n"
    "    return;\n"
    "  }\n"
    "  var spans = [];\n"
    "  for (var i = 0; i < fg.frames.length; i++) {\n"
    "    var f = fg.frames[i];\n"
    "    if (re.test(f.name)) {\n"
    "      f.rect.setAttribute(\"fill\", pkfg.searchColor);\n"
    "      spans.push([f.x, f.x + f.w]);\n"
    "    } else {\n"
    "      f.rect.setAttribute(\"fill\", f.fill);\n"
    "    }\n"
    "  }\n"
    "  spans.sort(function (a, b) { return a[0] - b[0]; });\n"
    "  var covered = 0, end = -Infinity;\n"
    "  for (var k = 0; k < spans.length; k++) {\n"
    "    var from = Math.max(spans[k][0], end);\n"
    "    if (spans[k][1] > from)\n"
    "      covered += spans[k][1] - from;\n"
    "    end = Math.max(end, spans[k][1]);\n"
    "  }\n"
    "  var whole = fg.root ? fg.root.w : 1, pct = 100 * covered / whole;\n"
    "  fg.term = term;\n"
    "  fg.search.classList.add(\"show\");\n"
    "  fg.matched.textContent = \"Matched: \" + (pct >= 100 ? \"100\" : pct.toFixed(1)) + \"%\";\n"
    "  fg.matched.classList.remove(\"hide\");\n"
    "}\n"
    "\n"
    "function fgResetSearch() {\n"
    "  for (var i = 0; i < fg.frames.length; i++)\n"
    "    fg.frames[i].rect.setAttribute(\"fill\", fg.frames[i].fill);\n"
    "  fg.term = null;\n"
    "  fg.search.classList.remove(\"show\");\n"
    "  fg.matched.textContent = \" \";\n"
    "}\n";

static int write_script(svg *s)
{
	const config *c = s->c;
	char width[64], size[64], params[256];
	pk__format_fixed(width, sizeof width, c->width, 2, true);
	pk__format_fixed(size, sizeof size, c->font_size, 2, true);
	snprintf(params, sizeof params,
	         "\nvar pkfg = {width: %s, xpad: %d, fontSize: %s, fontWidth: 0.59, inverted: %s, "
	         "searchColor: \"%s\"};\n",
	         width, (int)XPAD, size, c->inverted ? "true" : "false", SEARCH_COLOR);
	PK_FORWARD(start(s, "script"));
	PK_FORWARD(attr(s, "type", "text/ecmascript"));
	XW(s, xml.xmlTextWriterStartCDATA(s->w));
	XW(s, xml.xmlTextWriterWriteRaw(s->w, X(params)));
	XW(s, xml.xmlTextWriterWriteRaw(s->w, X(script)));
	XW(s, xml.xmlTextWriterEndCDATA(s->w));
	PK_FORWARD(end(s));
	return newline(s);
}

/* Above this many drawn frames, a second thread walks them and formats
 * every other run of RUN (the odd ones), handing over the nodes of the
 * others, which the writer's thread formats, and writes all in order:
 * formatting is most of an SVG's writing. */
#define THREAD_DRAWN 4096
#define RUN 256
#define RUNS 4 /* runs held at once, two of each kind */

typedef struct run {
	size_t n;     /* its nodes: RUN but in the last */
	drawn *nodes; /* an even run's */
	pk__vec text; /* char: an odd run's, formatted */
} run;

/* The second thread's side. */
typedef struct painter {
	svg s; /* the writer's, with scratch of its own and no libxml2 */
	walker w;
	run runs[RUNS]; /* run j in runs[j % RUNS] */
	pthread_t thread;
	bool synced, started;
	pthread_mutex_t lock;
	pthread_cond_t cond;  /* a run made or written, or quit */
	size_t made, written; /* runs */
	bool quit, stopped;
	pk_error err;
} painter;

static void *painter_main(void *arg)
{
	painter *p = arg;
	int rc = 0;
	for (size_t j = 0; rc == 0; j++) {
		pthread_mutex_lock(&p->lock);
		while (!p->quit && p->made >= p->written + RUNS)
			pthread_cond_wait(&p->cond, &p->lock);
		bool quit = p->quit;
		pthread_mutex_unlock(&p->lock);
		if (quit)
			break;
		run *r = &p->runs[j % RUNS];
		r->text.count = 0;
		drawn f;
		for (r->n = 0; rc == 0 && r->n < RUN && next_drawn(&p->w, &f); r->n++) {
			if (j % 2 == 0)
				r->nodes[r->n] = f;
			else
				rc = format_frame(&p->s, &f, &r->text);
		}
		pthread_mutex_lock(&p->lock);
		if (rc == 0)
			p->made++;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
		if (r->n < RUN)
			break;
	}
	pthread_mutex_lock(&p->lock);
	p->stopped = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* The frames p's thread walks, written in order: an even run's formatted
 * here, an odd one's as p formatted it. */
static int write_runs(svg *s, painter *p)
{
	for (size_t j = 0;; j++) {
		pthread_mutex_lock(&p->lock);
		while (p->made <= j && !p->stopped)
			pthread_cond_wait(&p->cond, &p->lock);
		bool ready = p->made > j;
		pthread_mutex_unlock(&p->lock);
		if (!ready) /* its scratch could not grow */
			return scratch_failed(s);
		const run *r = &p->runs[j % RUNS];
		for (size_t i = 0; j % 2 == 0 && i < r->n; i++)
			PK_FORWARD(write_frame(s, &r->nodes[i]));
		if (j % 2)
			PK_FORWARD(write_raw(s, r->text.items, r->text.count));
		if (r->n < RUN)
			return 0;
		pthread_mutex_lock(&p->lock);
		p->written = j + 1;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
	}
}

/* Stops p's thread, if it started, and frees p; NULL is a no-op. */
static void painter_free(painter *p)
{
	if (p == NULL)
		return;
	if (p->started) {
		pthread_mutex_lock(&p->lock);
		p->quit = true;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
		pthread_join(p->thread, NULL);
	}
	if (p->synced) {
		pthread_cond_destroy(&p->cond);
		pthread_mutex_destroy(&p->lock);
	}
	walker_free(&p->w);
	for (int i = 0; i < RUNS; i++) {
		pk__free(p->runs[i].nodes);
		pk__vec_free(&p->runs[i].text);
	}
	pk__vec_free(&p->s.name);
	pk__vec_free(&p->s.text);
	pk__free(p);
}

/* A painter of s's frames into *out, its thread started; *out NULL if no
 * thread could start (s then writes them alone). */
static int painter_new(svg *s, painter **out)
{
	*out = NULL;
	painter *p = pk__calloc(1, sizeof *p);
	if (p == NULL)
		return PK_ENOMEM;
	p->s = *s;
	p->s.w = NULL;
	p->s.err = &p->err;
	p->s.name = p->s.text = p->s.element = p->s.subtitle = (pk__vec){0};
	int rc = walker_init(&p->w, s->t, s->l);
	for (int i = 0; rc == 0 && i < RUNS; i++) {
		run *r = &p->runs[i];
		if (i % 2 == 0)
			rc = (r->nodes = pk__calloc(RUN, sizeof *r->nodes)) ? 0 : PK_ENOMEM;
		else
			rc = pk__vec_reserve_exact(&r->text, 1, (size_t)RUN * 256);
	}
	if (rc == 0 && pthread_mutex_init(&p->lock, NULL) == 0) {
		if (pthread_cond_init(&p->cond, NULL) == 0)
			p->synced = true;
		else
			pthread_mutex_destroy(&p->lock);
	}
	p->started = p->synced && pthread_create(&p->thread, NULL, painter_main, p) == 0;
	if (rc == 0 && p->started)
		*out = p;
	else
		painter_free(p);
	return rc;
}

/* Every drawn frame, depth first, children in the tree's order. */
static int write_frames(svg *s)
{
	painter *p = NULL;
	if (s->l->drawn >= THREAD_DRAWN && painter_new(s, &p) < 0)
		return scratch_failed(s);
	int rc = 0;
	if (p) {
		rc = write_runs(s, p);
		painter_free(p);
		return rc;
	}
	walker w;
	if (walker_init(&w, s->t, s->l) < 0) {
		walker_free(&w);
		return scratch_failed(s);
	}
	drawn f;
	while (rc == 0 && next_drawn(&w, &f))
		rc = write_frame(s, &f);
	walker_free(&w);
	return rc;
}

static int write_svg(svg *s, const char *subtitle)
{
	const config *c = s->c;
	double w = c->width, h = s->height, fs = c->font_size;
	char box[160], wbuf[64], hbuf[64];
	pk__format_fixed(wbuf, sizeof wbuf, w, 2, true);
	pk__format_fixed(hbuf, sizeof hbuf, h, 2, true);
	snprintf(box, sizeof box, "0 0 %s %s", wbuf, hbuf);

	XW(s, xml.xmlTextWriterStartDocument(s->w, NULL, NULL, "no"));
	XW(s,
	   xml.xmlTextWriterWriteDTD(s->w, X("svg"), X("-//W3C//DTD SVG 1.1//EN"),
	                             X("http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd"), NULL));
	PK_FORWARD(newline(s));
	PK_FORWARD(start(s, "svg"));
	PK_FORWARD(attr(s, "version", "1.1"));
	PK_FORWARD(attr(s, "width", wbuf));
	PK_FORWARD(attr(s, "height", hbuf));
	PK_FORWARD(attr(s, "onload", "fgInit()"));
	PK_FORWARD(attr(s, "viewBox", box));
	PK_FORWARD(attr(s, "xmlns", "http://www.w3.org/2000/svg"));
	PK_FORWARD(newline(s));
	XW(s, xml.xmlTextWriterWriteComment(s->w,
	                                    X(" Flame graph written by profkit: hover a frame for "
	                                      "its value, click it to zoom, Ctrl-F to search. ")));
	PK_FORWARD(newline(s));

	PK_FORWARD(start(s, "defs"));
	PK_FORWARD(start(s, "linearGradient"));
	PK_FORWARD(attr(s, "id", "background"));
	PK_FORWARD(attr(s, "y1", "0"));
	PK_FORWARD(attr(s, "y2", "1"));
	PK_FORWARD(attr(s, "x1", "0"));
	PK_FORWARD(attr(s, "x2", "0"));
	const char *stops[2][2] = {{palettes[c->palette].top, "5%"},
	                           {palettes[c->palette].bottom, "95%"}};
	for (int i = 0; i < 2; i++) {
		PK_FORWARD(start(s, "stop"));
		PK_FORWARD(attr(s, "stop-color", stops[i][0]));
		PK_FORWARD(attr(s, "offset", stops[i][1]));
		PK_FORWARD(end(s));
	}
	PK_FORWARD(end(s));
	PK_FORWARD(end(s));
	PK_FORWARD(newline(s));
	PK_FORWARD(write_style(s));
	PK_FORWARD(write_script(s));

	PK_FORWARD(start(s, "rect"));
	PK_FORWARD(attr(s, "x", "0"));
	PK_FORWARD(attr(s, "y", "0"));
	PK_FORWARD(attr(s, "width", wbuf));
	PK_FORWARD(attr(s, "height", hbuf));
	PK_FORWARD(attr(s, "fill", "url(#background)"));
	PK_FORWARD(end(s));
	PK_FORWARD(newline(s));
	PK_FORWARD(text_element(s, "title", w / 2, fs * 2, NULL, c->title));
	if (subtitle)
		PK_FORWARD(text_element(s, "subtitle", w / 2, fs * 4, NULL, subtitle));
	PK_FORWARD(text_element(s, "details", XPAD, h - s->ypad2 / 2, NULL, " "));
	PK_FORWARD(text_element(s, "unzoom", XPAD, fs * 2, "hide", "Reset Zoom"));
	PK_FORWARD(text_element(s, "search", w - XPAD - 100, fs * 2, NULL, "Search"));
	PK_FORWARD(text_element(s, "ignorecase", w - XPAD - 16, fs * 2, NULL, "ic"));
	PK_FORWARD(text_element(s, "matched", w - XPAD - 100, h - s->ypad2 / 2, NULL, " "));
	if (s->l->total <= 0) {
		char message[160];
		const char *type = s->t->type && *s->t->type ? s->t->type : NULL;
		snprintf(message, sizeof message,
		         "Nothing to draw: no stack has a positive %.60s%svalue", type ? type : "",
		         type ? " " : "");
		double y1 = c->inverted ? s->ypad1 + s->ypad3 : h - s->ypad2 - c->frame_height;
		PK_FORWARD(
		    text_element(s, "message", w / 2, y1 + c->frame_height / 2 + 3, NULL, message));
	}
	PK_FORWARD(start(s, "g"));
	PK_FORWARD(attr(s, "id", "frames"));
	PK_FORWARD(newline(s));
	PK_FORWARD(write_frames(s));
	PK_FORWARD(end(s));
	PK_FORWARD(newline(s));
	XW(s, xml.xmlTextWriterEndDocument(s->w));
	return 0;
}

/* The title's unit: pprof's scaled bytes and times, unless a count name
 * is given; otherwise counts of "samples" or of the unit's name. */
static void choose_unit(svg *s)
{
	const char *u = s->t->unit ? s->t->unit : "";
	if (s->c->count_name) {
		s->count_name = s->c->count_name;
		return;
	}
	s->unit = find_unit(u, &s->kind);
	static const char *const plain[] = {"",        "count", "counts", "sample",
	                                    "samples", "unit",  "units"};
	s->count_name = u;
	for (size_t i = 0; i < sizeof plain / sizeof *plain; i++)
		if (strcmp(u, plain[i]) == 0)
			s->count_name = "samples";
}

/* The subtitle the user gave, and a note when stacks were left out. */
static int make_subtitle(svg *s, const char **out)
{
	*out = s->c->subtitle;
	if (s->l->left_out >= 0)
		return 0;
	char num[96];
	fmt_value(s, num, sizeof num, s->l->left_out);
	pk__vec *v = &s->subtitle;
	if ((s->c->subtitle && (add_str(v, s->c->subtitle) < 0 || add_str(v, "; ") < 0)) ||
	    add_str(v, "stacks of negative value (") < 0 || add_str(v, num) < 0 ||
	    add_str(v, " in all) are not drawn") < 0 || finish_str(v, out) < 0)
		return scratch_failed(s);
	return 0;
}

static void quiet_generic(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

#if LIBXML_VERSION >= 21200
static void quiet_structured(void *ctx, const xmlError *error)
#else
static void quiet_structured(void *ctx, xmlErrorPtr error)
#endif
{
	(void)ctx;
	(void)error;
}

/* libxml2 reports a failed write on stderr, but the library never prints:
 * the sink's error says it all. Its handlers are the thread's own, so this
 * touches no other thread's. */
typedef struct handlers {
	xmlGenericErrorFunc generic;
	void *generic_ctx;
	xmlStructuredErrorFunc structured;
	void *structured_ctx;
} handlers;

static void silence_libxml2(handlers *saved)
{
	saved->generic = *xml.__xmlGenericError();
	saved->generic_ctx = *xml.__xmlGenericErrorContext();
	saved->structured = *xml.__xmlStructuredError();
	saved->structured_ctx = *xml.__xmlStructuredErrorContext();
	xml.xmlSetGenericErrorFunc(NULL, quiet_generic);
	xml.xmlSetStructuredErrorFunc(NULL, quiet_structured);
}

static void restore_libxml2(const handlers *saved)
{
	xml.xmlSetGenericErrorFunc(saved->generic_ctx, saved->generic);
	xml.xmlSetStructuredErrorFunc(saved->structured_ctx, saved->structured);
}

static int flamegraph_export(const pk_profile *p, const pk_write_options *opts, pk__sink *sink,
                             pk_error *err)
{
	config c;
	PK_FORWARD(read_options(opts->flamegraph, &c, err));
	pk__tree_options to = {opts->sample_type, opts->base, opts->granularity, c.reverse, false};
	pk__tree *t = NULL;
	PK_FORWARD(pk__tree_build(p, &to, &t, err));
	/* Loaded only now, and the pages the tree's building freed given
	 * back first: its pages and those are not both resident at once
	 * (shallow profiles' peak 2.03 -> 1.95x their size). For a big tree
	 * it loads on a thread of its own while the frames are laid out. */
	pk__trim_heap();
	pthread_t loader;
	bool loading =
	    t->stack_count >= THREAD_DRAWN && pthread_create(&loader, NULL, load_main, NULL) == 0;
	layout l = {0};
	int laid = lay_out(t, &c, &l, NULL);
	if (loading)
		pthread_join(loader, NULL);
	int rc = need_libxml2(err);
	if (rc == 0 && laid < 0)
		rc = pk__error_set(err, laid, "out of memory");
	if (rc < 0) {
		pk__tree_free(t);
		return rc;
	}
	svg s = {0};
	s.sink = sink;
	s.err = err;
	s.c = &c;
	s.t = t;
	s.l = &l;
	choose_unit(&s);
	const char *subtitle = NULL;
	handlers saved;
	bool silenced = false;
	rc = make_subtitle(&s, &subtitle);
	if (rc == 0) {
		s.ypad1 = c.font_size * 3;
		s.ypad2 = c.font_size * 2 + 10;
		s.ypad3 = subtitle ? c.font_size * 2 : 0;
		s.height = (l.max_depth + 1) * c.frame_height + s.ypad1 + s.ypad2 + s.ypad3;
		silence_libxml2(&saved);
		silenced = true;
		xmlOutputBufferPtr out = xml.xmlOutputBufferCreateIO(to_sink, NULL, &s, NULL);
		s.w = out ? xml.xmlNewTextWriter(out) : NULL;
		if (s.w == NULL) {
			if (out)
				xml.xmlOutputBufferClose(out);
			rc = pk__error_set(err, PK_ENOMEM, "out of memory");
		}
	}
	if (rc == 0)
		rc = write_svg(&s, subtitle);
	xml.xmlFreeTextWriter(s.w);
	if (silenced)
		restore_libxml2(&saved);
	if (rc == 0 && s.sink_rc < 0)
		rc = s.sink_rc;
	pk__vec_free(&s.subtitle);
	pk__vec_free(&s.name);
	pk__vec_free(&s.text);
	pk__vec_free(&s.element);
	pk__tree_free(t);
	return rc;
}

static const char *const flamegraph_extensions[] = {".svg", NULL};

const pk_format pk__format_flamegraph = {
    .name = "svg",
    .description = "SVG flame graph, interactive in a browser",
    .extensions = flamegraph_extensions,
    .one_value = true,
    .export = flamegraph_export,
};
