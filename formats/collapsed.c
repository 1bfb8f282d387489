/* collapsed.c - folded stacks (FlameGraph's "a;b;c 12"), both ways.
 *
 * The reader takes the grammar of flamegraph.pl: a line is a stack, one
 * space or tab, and a count that ends the line; a second count before it
 * makes the line a difference ("stack base new", as difffolded.pl writes).
 * Where flamegraph.pl skips a line it cannot read, we stop with the line and
 * column, so that no sample is lost unnoticed. Lines with the same stack are
 * merged. Fractional counts are scaled to integers by a power of ten that
 * the whole file shares, found in a first, cheap pass over the line ends.
 *
 * The writer walks the call tree (core/calltree.c), so its frames are named
 * as pprof names them and the options sample_type, base and granularity
 * apply. docs/formats/collapsed.md describes both directions. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

/* Fractional counts keep at most this many digits; more are rounded. */
#define MAX_FRACTION_DIGITS 6
/* Sniffers look for NUL bytes in this many bytes at most. */
#define SNIFF_TEXT_BYTES 4096

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* Whether [s, e) is a count: -?\d+(\.\d*)?. The sign is our extension, so
 * that profkit reads back the negative counts of the diffs it writes. */
static bool is_count(const unsigned char *d, size_t s, size_t e)
{
	if (s < e && d[s] == '-')
		s++;
	size_t digits = s;
	while (s < e && is_digit(d[s]))
		s++;
	if (s == digits)
		return false;
	if (s < e && d[s] == '.')
		for (s++; s < e && is_digit(d[s]);)
			s++;
	return s == e;
}

/* The fractional digits of count [s, e) that matter: trailing zeros do not
 * ("3.50" has one, "3.0" none), and at most MAX_FRACTION_DIGITS count. */
static int fraction_digits(const unsigned char *d, size_t s, size_t e)
{
	const unsigned char *dot = memchr(d + s, '.', e - s);
	if (dot == NULL)
		return 0;
	size_t first = (size_t)(dot - d) + 1;
	while (e > first && d[e - 1] == '0')
		e--;
	return e - first > MAX_FRACTION_DIGITS ? MAX_FRACTION_DIGITS : (int)(e - first);
}

/* Count [s, e) times 10^digits, its extra fractional digits rounded half
 * up (away from zero). False if the result does not fit in an int64. */
static bool count_value(const unsigned char *d, size_t s, size_t e, int digits, int64_t *out)
{
	bool negative = d[s] == '-';
	if (negative)
		s++;
	uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	uint64_t v = 0;
	int taken = -1; /* fractional digits taken; -1 while in the integer part */
	bool round_up = false;
	for (; s < e; s++) {
		if (d[s] == '.') {
			taken = 0;
			continue;
		}
		if (taken == digits) {
			round_up = d[s] >= '5';
			break;
		}
		unsigned digit = (unsigned)(d[s] - '0');
		if (v > (limit - digit) / 10)
			return false;
		v = v * 10 + digit;
		if (taken >= 0)
			taken++;
	}
	for (taken = taken < 0 ? 0 : taken; taken < digits; taken++) {
		if (v > limit / 10)
			return false;
		v *= 10;
	}
	if (round_up && v++ == limit)
		return false;
	*out = negative ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

/* ----------------------------------------------------------------- lines */

/* The line that starts at *pos: [*s, *e), without its "\n" or "\r\n" (a
 * "\r" just before the end of the input goes too). *pos moves past it.
 * False at the end of the input. */
static bool next_line(const unsigned char *d, size_t size, size_t *pos, size_t *s, size_t *e)
{
	if (*pos >= size)
		return false;
	*s = *pos;
	const unsigned char *nl = memchr(d + *pos, '\n', size - *pos);
	*e = nl ? (size_t)(nl - d) : size;
	*pos = nl ? *e + 1 : size;
	if (*e > *s && d[*e - 1] == '\r')
		(*e)--;
	return true;
}

static bool is_blank(const unsigned char *d, size_t s, size_t e)
{
	while (s < e && is_space(d[s]))
		s++;
	return s == e;
}

/* Where a line's counts are: the stack is [line start, stack_end). */
typedef struct counts {
	int n;            /* 0 (no count at the end), 1 or 2 */
	size_t stack_end; /* the separator before the first count */
	size_t start[2];  /* each count, in line order */
	size_t end[2];
	size_t last_space; /* the last space or tab of the line, or SIZE_MAX */
} counts;

/* flamegraph.pl's /^(.*)\s+?(\d+(?:\.\d*)?)$/, applied twice: the count is
 * what follows the last space or tab, and a count before that, also after
 * a space or tab, makes two. Names may hold spaces; a leaf whose name ends
 * in a space and digits reads as a second count, as it does there. */
static void find_counts(const unsigned char *d, size_t s, size_t e, counts *c)
{
	c->n = 0;
	c->last_space = SIZE_MAX;
	size_t w = e;
	while (w > s && !is_space(d[w - 1]))
		w--;
	if (w == s)
		return;
	c->last_space = w - 1;
	if (!is_count(d, w, e))
		return;
	c->n = 1;
	c->start[0] = w;
	c->end[0] = e;
	c->stack_end = w - 1;
	/* Only a number can come between the two separators, so the scan
	 * back stops at the first byte that cannot be part of one. */
	size_t v = w - 1;
	while (v > s && (is_digit(d[v - 1]) || d[v - 1] == '.' || d[v - 1] == '-'))
		v--;
	if (v > s && v < w - 1 && is_space(d[v - 1]) && is_count(d, v, w - 1)) {
		c->n = 2;
		c->start[1] = c->start[0];
		c->end[1] = c->end[0];
		c->start[0] = v;
		c->end[0] = w - 1;
		c->stack_end = v - 1;
	}
}

/* --------------------------------------------------------------- importer */

/* A distinct stack: where its text is in the input (the trailing ';'
 * gone), and its counts summed. The text is not copied, as the input
 * outlives the import: a large file is not held twice. */
typedef struct stack_rec {
	size_t start, len;
	uint64_t hash;
	int64_t sum[2];
} stack_rec;

typedef struct importer {
	const unsigned char *d;
	size_t size;
	pk_error *err;
	long line;         /* 1-based number of the line being read */
	size_t line_start; /* where its columns start counting */
	size_t bad_at;     /* the first NUL byte or lone "\r", or SIZE_MAX */
	int digits;        /* every count is multiplied by 10^digits */
	int arity;         /* counts per line, 0 before the first */
	long arity_line;   /* the line that set it */
	pk__vec stacks;    /* stack_rec, in the order of their first lines */
	uint32_t *slots;   /* hash table of stack index + 1; 0 = empty */
	size_t slot_count; /* a power of two */
	pk_profile *p;
	pk__vec loc_of; /* uint32_t by pk_str: a frame name's location + 1, or 0 */
	pk__vec frames; /* uint32_t: the locations of a stack being added */
	int64_t scale;  /* 10^digits */
} importer;

/* A PK_EFORMAT error at byte `at` of the current line. Columns count
 * characters (UTF-8 sequences), as the JSON reader's do. */
static int fail_at(importer *im, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_at(importer *im, size_t at, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = pk__error_at_text(im->err, im->d, im->line_start, im->line, at, fmt, ap);
	va_end(ap);
	return rc;
}

static int out_of_memory(importer *im)
{
	return pk__error_set(im->err, PK_ENOMEM, "out of memory");
}

/* A count's text for a message, cut short if it is long. */
#define SHOWN_COUNT 40
static int shown_length(size_t s, size_t e)
{
	return e - s > SHOWN_COUNT ? SHOWN_COUNT : (int)(e - s);
}

/* The first NUL byte, or "\r" that neither ends a line nor the input. */
static size_t find_bad_byte(const unsigned char *d, size_t size)
{
	const unsigned char *nul = memchr(d, '\0', size);
	size_t bad = nul ? (size_t)(nul - d) : SIZE_MAX;
	for (size_t at = 0; at < size && at < bad;) {
		const unsigned char *cr = memchr(d + at, '\r', (bad < size ? bad : size) - at);
		if (cr == NULL)
			break;
		at = (size_t)(cr - d) + 1;
		if (at < size && d[at] != '\n')
			bad = at - 1;
	}
	return bad;
}

/* Check the non-blank line [s, e) and find its parts; c->stack_end gets
 * the end of its stack, trailing ';' dropped (Perl's split drops trailing
 * empty fields; inner and leading empty frames are errors). */
static int parse_line(importer *im, size_t s, size_t e, counts *c)
{
	const unsigned char *d = im->d;
	if (im->bad_at >= s && im->bad_at < e)
		return fail_at(im, im->bad_at,
		               d[im->bad_at] == '\0'
		                   ? "a NUL byte; folded stacks are text"
		                   : "a carriage return inside a line; lines end in \\n or \\r\\n");
	find_counts(d, s, e, c);
	if (c->n == 0) {
		if (is_space(d[e - 1])) {
			size_t at = e;
			while (at > s && is_space(d[at - 1]))
				at--;
			return fail_at(im, at, "the line ends in whitespace instead of a count");
		}
		if (c->last_space == SIZE_MAX && is_count(d, s, e))
			return fail_at(im, s, "a count without a stack");
		return fail_at(im, c->last_space == SIZE_MAX ? e : c->last_space + 1,
		               "expected a count (digits after a space or tab) at the end of the "
		               "line");
	}
	size_t end = c->stack_end;
	while (end > s && d[end - 1] == ';')
		end--;
	if (end == s)
		return fail_at(im, s, "a count without a stack");
	c->stack_end = end;
	if (d[s] == ';')
		return fail_at(im, s, "the stack starts with ';', an empty frame name");
	for (const unsigned char *semi = memchr(d + s, ';', end - s); semi != NULL;
	     semi = memchr(semi + 1, ';', (size_t)(d + end - semi - 1)))
		if (semi[1] == ';')
			return fail_at(im, (size_t)(semi - d) + 1,
			               "two ';' in a row make an empty frame name");
	if (im->arity == 0) {
		im->arity = c->n;
		im->arity_line = im->line;
	} else if (c->n != im->arity) {
		return fail_at(
		    im, c->start[0],
		    "%s, but line %ld has %s; every line needs the same number of counts",
		    c->n == 2 ? "two counts" : "one count", im->arity_line,
		    im->arity == 2 ? "two" : "one");
	}
	return 0;
}

/* The first pass: how many fractional digits the counts need. Lines that
 * are not well formed are passed over here; the second pass reports them. */
static int count_digits(const unsigned char *d, size_t size, size_t from)
{
	int digits = 0;
	size_t pos = from, s, e;
	while (digits < MAX_FRACTION_DIGITS && next_line(d, size, &pos, &s, &e)) {
		counts c;
		find_counts(d, s, e, &c);
		for (int i = 0; i < c.n; i++) {
			int n = fraction_digits(d, c.start[i], c.end[i]);
			digits = n > digits ? n : digits;
		}
	}
	return digits;
}

/* The record of stack [start, start + len), added if it is new. */
static int find_stack(importer *im, size_t start, size_t len, stack_rec **out)
{
	if ((im->stacks.count + 1) * 2 > im->slot_count)
		PK_FORWARD(pk__slots_grow(&im->slots, &im->slot_count, im->stacks.items,
		                          im->stacks.count, sizeof(stack_rec),
		                          offsetof(stack_rec, hash)));
	const unsigned char *text = im->d + start;
	uint64_t h = pk__hash_bytes(text, len);
	size_t mask = im->slot_count - 1, at = h & mask;
	for (; im->slots[at] != 0; at = (at + 1) & mask) {
		stack_rec *r = &PK_VEC_AT(im->stacks, stack_rec, im->slots[at] - 1);
		if (r->hash == h && r->len == len && memcmp(im->d + r->start, text, len) == 0) {
			*out = r;
			return 0;
		}
	}
	if (im->stacks.count >= UINT32_MAX - 1)
		return PK_ENOMEM;
	stack_rec r = {start, len, h, {0, 0}};
	size_t index;
	PK_FORWARD(pk__vec_push(&im->stacks, sizeof r, &r, 1, &index));
	im->slots[at] = (uint32_t)index + 1;
	*out = &PK_VEC_AT(im->stacks, stack_rec, index);
	return 0;
}

/* Add line's counts to its stack's, merging lines with the same stack. */
static int add_line(importer *im, size_t s, const counts *c)
{
	int64_t v[2];
	for (int i = 0; i < c->n; i++) {
		if (!count_value(im->d, c->start[i], c->end[i], im->digits, &v[i])) {
			if (im->digits == 0)
				return fail_at(
				    im, c->start[i], "the count %.*s does not fit in 64 bits",
				    shown_length(c->start[i], c->end[i]), im->d + c->start[i]);
			return fail_at(
			    im, c->start[i],
			    "the count %.*s, multiplied by %lld, does not fit in 64 bits",
			    shown_length(c->start[i], c->end[i]), im->d + c->start[i],
			    (long long)im->scale);
		}
	}
	stack_rec *r;
	if (find_stack(im, s, c->stack_end - s, &r) < 0)
		return out_of_memory(im);
	int64_t *sum = r->sum;
	for (int i = 0; i < c->n; i++) {
		int64_t a = sum[i], b = v[i];
		if ((b > 0 && a > INT64_MAX - b) || (b < 0 && a < INT64_MIN - b))
			return fail_at(im, c->start[i],
			               "the counts of this stack add up to more than 64 bits hold");
		sum[i] = a + b;
	}
	return 0;
}

/* The location of frame name [name, name + len), added with its function
 * when the name is new: one function and one location per name, ids 1..n. */
static int frame_location(importer *im, const char *name, size_t len, uint32_t *out)
{
	pk_str str;
	PK_FORWARD(pk_profile_intern(im->p, name, len, &str));
	if (str >= im->loc_of.count)
		PK_FORWARD(pk__vec_push(&im->loc_of, sizeof(uint32_t), NULL,
		                        str + 1 - im->loc_of.count, NULL));
	uint32_t *loc = &PK_VEC_AT(im->loc_of, uint32_t, str);
	if (*loc != 0) {
		*out = *loc - 1;
		return 0;
	}
	uint64_t id = pk_profile_location_count(im->p) + 1;
	pk_function f = {id, str, str, 0, 0};
	pk_line line = {0, 0, 0};
	PK_FORWARD(pk_profile_add_function(im->p, &f, &line.function));
	pk_location l = {id, PK_NONE, 0, 0};
	PK_FORWARD(pk_profile_add_location(im->p, &l, &line, 1, out));
	*loc = *out + 1;
	return 0;
}

/* A stack as a sample: its frames split on ';', leaf first. */
static int add_stack(importer *im, const stack_rec *r)
{
	const char *text = (const char *)im->d + r->start;
	im->frames.count = 0;
	for (const char *f = text, *end = text + r->len; f < end;) {
		const char *semi = memchr(f, ';', (size_t)(end - f));
		size_t n = semi ? (size_t)(semi - f) : (size_t)(end - f);
		uint32_t loc;
		PK_FORWARD(frame_location(im, f, n, &loc));
		PK_FORWARD(pk__vec_push(&im->frames, sizeof loc, &loc, 1, NULL));
		f += n + 1;
	}
	uint32_t *locs = im->frames.items;
	for (size_t i = 0, j = im->frames.count - 1; i < j; i++, j--) {
		uint32_t t = locs[i];
		locs[i] = locs[j];
		locs[j] = t;
	}
	return pk_profile_add_sample(im->p, locs, im->frames.count, r->sum, (size_t)im->arity, NULL,
	                             0);
}

static int add_type(pk_profile *p, const char *type, pk_str *type_out)
{
	pk_str t, u;
	PK_FORWARD(pk_profile_intern(p, type, strlen(type), &t));
	PK_FORWARD(pk_profile_intern(p, "count", 5, &u));
	if (type_out)
		*type_out = t;
	return pk_profile_add_sample_type(p, (pk_value_type){t, u});
}

/* The model: sample types, then each distinct stack in the order of its
 * first line, then the note on scaled counts. */
static int build(importer *im)
{
	pk_profile *p = im->p;
	if (im->arity == 2) {
		pk_str new_type;
		PK_FORWARD(add_type(p, "base", NULL));
		PK_FORWARD(add_type(p, "new", &new_type));
		pk_profile_set_default_sample_type(p, new_type);
	} else {
		PK_FORWARD(add_type(p, "samples", NULL));
	}
	for (size_t i = 0; i < im->stacks.count; i++)
		PK_FORWARD(add_stack(im, &PK_VEC_AT(im->stacks, stack_rec, i)));
	if (im->digits > 0) {
		char note[128];
		int n =
		    snprintf(note, sizeof note,
		             "profkit: folded counts were fractional; each is multiplied by %lld",
		             (long long)im->scale);
		pk_str s;
		PK_FORWARD(pk_profile_intern(p, note, (size_t)n, &s));
		PK_FORWARD(pk_profile_add_comment(p, s));
	}
	return 0;
}

/* A UTF-8 byte order mark, which some Windows tools write, is skipped. */
static size_t bom_length(const unsigned char *d, size_t size)
{
	return size >= 3 && d[0] == 0xef && d[1] == 0xbb && d[2] == 0xbf ? 3 : 0;
}

static int read_lines(importer *im)
{
	size_t pos = bom_length(im->d, im->size), s, e;
	im->digits = count_digits(im->d, im->size, pos);
	im->scale = 1;
	for (int i = 0; i < im->digits; i++)
		im->scale *= 10;
	im->bad_at = find_bad_byte(im->d, im->size);
	for (im->line = 1; next_line(im->d, im->size, &pos, &s, &e); im->line++) {
		im->line_start = s;
		if (is_blank(im->d, s, e))
			continue;
		counts c;
		PK_FORWARD(parse_line(im, s, e, &c));
		PK_FORWARD(add_line(im, s, &c));
	}
	return 0;
}

static int collapsed_import(const unsigned char *data, size_t size, pk_profile **out, pk_error *err)
{
	importer im = {.d = data, .size = size, .err = err};
	int rc = read_lines(&im);
	if (rc == 0 && pk_profile_new(&im.p) < 0)
		rc = out_of_memory(&im);
	if (rc == 0 && (rc = build(&im)) < 0)
		rc = rc == PK_ENOMEM ? out_of_memory(&im)
		                     : pk__error_set(err, rc, "cannot build the profile");
	pk__vec_free(&im.stacks);
	pk__free(im.slots);
	pk__vec_free(&im.loc_of);
	pk__vec_free(&im.frames);
	if (rc < 0) {
		pk_profile_free(im.p);
		return rc;
	}
	*out = im.p;
	return 0;
}

/* Text without NUL bytes whose first two non-blank lines end in a space
 * or tab and a count (the second only when it is complete: data may be
 * the head of a large input). Binary formats, pprof among them, have NUL
 * bytes early or break lines at their 0x0a bytes in places that fail this
 * at once (in pprof a line ends in a field's key or value, not after a
 * space); the second line keeps Go's legacy text profiles out, whose
 * headers end in a number ("goroutine profile: total 20"). The rest of
 * the lines is the importer's to judge, so that a stack with an empty
 * frame gets its precise error. */
static int collapsed_sniff(const unsigned char *data, size_t size)
{
	size_t head = size < SNIFF_TEXT_BYTES ? size : SNIFF_TEXT_BYTES;
	if (memchr(data, '\0', head) != NULL)
		return PK_ENOTMINE;
	size_t pos = bom_length(data, size), s, e;
	int seen = 0;
	while (seen < 2 && next_line(data, size, &pos, &s, &e)) {
		if (is_blank(data, s, e))
			continue;
		if (seen == 1 && data[pos - 1] != '\n')
			break;
		counts c;
		find_counts(data, s, e, &c);
		if (c.n == 0)
			return PK_ENOTMINE;
		seen++;
	}
	return seen > 0 ? 0 : PK_ENOTMINE;
}

/* --------------------------------------------------------------- exporter */

typedef struct writer {
	const pk__tree *t;
	pk__sink *sink;
	pk__vec names;        /* char: every frame's name as written */
	size_t *name_at;      /* frame i's name is names[name_at[i], name_at[i + 1]) */
	bool *ends_in_number; /* frame i's name ends in a space or tab and a number */
	uint32_t *frames;     /* the frames of the stack being written */
	pk__vec path;         /* char: the stack being written */
	pk__vec ends;         /* size_t by depth - 1: where path ends at that depth */
	bool started;         /* a line has been written */
} writer;

/* A frame name as a folded line can hold it: ';' (the separator) becomes
 * ':', and a newline, carriage return or NUL byte, which would end the line
 * or make it binary, a space. *ends_in_number tells whether the name ends
 * in a space or tab and a number, which would be read as a count where the
 * name ends a one-count line (see write_line). */
static int add_name(writer *w, const char *name, size_t len, bool *ends_in_number)
{
	size_t start = w->names.count;
	PK_FORWARD(pk__vec_push(&w->names, 1, name, len, NULL));
	unsigned char *n = (unsigned char *)w->names.items + start;
	for (size_t i = 0; i < len; i++) {
		if (n[i] == ';')
			n[i] = ':';
		else if (n[i] == '\n' || n[i] == '\r' || n[i] == '\0')
			n[i] = ' ';
	}
	size_t sp = len;
	while (sp > 0 && !is_space(n[sp - 1]))
		sp--;
	*ends_in_number = sp > 0 && is_count(n, sp, len);
	return 0;
}

/* One line: the path, then the base's count (in a diff) and the count.
 * A leaf whose name ends in a space and a number gets a ';' after it in a
 * one-count line, or readers would take that number for a first count;
 * they drop a trailing ';', as Perl's split drops the empty field after
 * it, and so read the name whole. Two-count lines need none: readers take
 * two counts at most. */
static int write_line(writer *w, size_t i)
{
	/* Readers skip a byte order mark at the start: a first name that
	 * begins with one keeps it behind one more. One that begins as gzip
	 * does would be gunzipped: a blank line first keeps it text. */
	if (!w->started && bom_length(w->path.items, w->path.count) > 0)
		PK_FORWARD(pk__sink_write(w->sink, "\xef\xbb\xbf", 3));
	else if (!w->started && pk__is_gzip(w->path.items, w->path.count))
		PK_FORWARD(pk__sink_write(w->sink, "\n", 1));
	w->started = true;
	PK_FORWARD(pk__sink_write(w->sink, w->path.items, w->path.count));
	const pk__tree_stack *st = &w->t->stacks[i];
	/* The ';' goes before the counts, in one write with them. */
	char buf[48], *end = buf + sizeof buf, *s = end;
	*--s = '\n';
	s = pk__format_int(w->t->self[i], s);
	*--s = ' ';
	if (w->t->has_base) {
		s = pk__format_int(w->t->base_self[i], s);
		*--s = ' ';
	}
	if (w->ends_in_number[w->frames[st->len - 1]] && !w->t->has_base)
		*--s = ';';
	return pk__sink_write(w->sink, s, (size_t)(end - s));
}

/* Every stack with a count, in the tree's (name) order, so the same
 * profile always gives the same bytes. The root's own stack (samples
 * without locations) has no line to go on. */
static int write_stacks(writer *w)
{
	const pk__tree *t = w->t;
	w->frames = pk__calloc((size_t)t->max_len + 1, sizeof *w->frames);
	if (w->frames == NULL)
		return PK_ENOMEM;
	if (t->max_len > 0)
		PK_FORWARD(pk__vec_push(&w->ends, sizeof(size_t), NULL, t->max_len, NULL));
	size_t *ends = w->ends.items; /* by depth - 1: where the path ends there */
	for (size_t i = 0; i < t->stack_count; i++) {
		const pk__tree_stack *st = &t->stacks[i];
		if (st->len == 0)
			continue;
		pk__tree_frames(t, i, w->frames);
		/* The frames it shares with the stack before are in the path. */
		w->path.count = st->shared ? ends[st->shared - 1] : 0;
		for (uint32_t d = st->shared; d < st->len; d++) {
			if (d > 0)
				PK_FORWARD(pk__vec_append(&w->path, 1, ";", 1));
			size_t from = w->name_at[w->frames[d]], to = w->name_at[w->frames[d] + 1];
			PK_FORWARD(
			    pk__vec_append(&w->path, 1, (char *)w->names.items + from, to - from));
			ends[d] = w->path.count;
		}
		if (t->self[i] != 0 || (t->has_base && t->base_self[i] != 0))
			PK_FORWARD(write_line(w, i));
	}
	return 0;
}

static int write_folded(writer *w)
{
	const pk__tree *t = w->t;
	w->name_at = pk__calloc(t->frame_count + 1, sizeof *w->name_at);
	w->ends_in_number = pk__calloc(t->frame_count + 1, sizeof *w->ends_in_number);
	if (w->name_at == NULL || w->ends_in_number == NULL)
		return PK_ENOMEM;
	for (size_t f = 0; f < t->frame_count; f++) {
		PK_FORWARD(
		    add_name(w, t->frames[f].name, t->frames[f].name_len, &w->ends_in_number[f]));
		w->name_at[f + 1] = w->names.count;
	}
	return write_stacks(w);
}

static int collapsed_export(const pk_profile *p, const pk_write_options *opts, pk__sink *sink,
                            pk_error *err)
{
	/* A profile without sample types has no samples: nothing to write. */
	bool any_type = opts->sample_type != NULL && opts->sample_type[0] != '\0';
	if (pk_profile_sample_type_count(p) == 0 && !any_type && opts->base == NULL)
		return 0;
	pk__tree_options to = {opts->sample_type, opts->base, opts->granularity, false, false};
	pk__tree *t = NULL;
	PK_FORWARD(pk__tree_build(p, &to, &t, err));
	writer w = {.t = t, .sink = sink};
	int rc = write_folded(&w);
	pk__vec_free(&w.names);
	pk__free(w.name_at);
	pk__free(w.ends_in_number);
	pk__free(w.frames);
	pk__vec_free(&w.path);
	pk__vec_free(&w.ends);
	pk__tree_free(t);
	return rc == PK_ENOMEM ? pk__error_set(err, rc, "out of memory") : rc;
}

static const char *const collapsed_extensions[] = {".collapsed", ".folded", NULL};

const pk_format pk__format_collapsed = {
    .name = "folded",
    .description = "folded stacks as FlameGraph reads them (root;...;leaf count)",
    .extensions = collapsed_extensions,
    .one_value = true,
    .sniff = collapsed_sniff,
    .import = collapsed_import,
    .export = collapsed_export,
};
