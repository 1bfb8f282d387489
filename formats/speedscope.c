/* speedscope.c - speedscope's JSON file format, both ways.
 *
 * A speedscope file holds a table of frames shared by its profiles, and
 * profiles that are either sampled (stacks of frame indices, root first,
 * each with a weight) or evented (frames opened and closed at increasing
 * values). The reader turns every profile into a sample type of one model:
 * an evented profile becomes the stacks that were open, each weighted by
 * the time it was on top. Weights are JSON numbers, fractions included;
 * the reader parses them from their text, so that scaling them to the
 * model's integers is exact. Like json.c it walks the document itself and
 * lets jansson decode only strings it cannot take as they are, so that
 * every error has a line and column and memory stays bounded by what the
 * model needs.
 *
 * The writer writes one sampled profile per sample type from the call tree
 * (core/calltree.c): one stack per tree node with a positive value,
 * in the tree's order. speedscope refuses negative weights, so stacks of
 * negative value are left out and the profile's name says so, as the SVG
 * writer says it in its subtitle. docs/formats/speedscope.md has the
 * mapping both ways and what it loses. */
#include "internal.h"

#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define SCHEMA_URL "https://www.speedscope.app/file-format-schema.json"
/* Fractional weights of units other than time keep this many digits. */
#define MAX_FRACTION_DIGITS 6
/* Significant digits a number keeps; more only matter for rounding. */
#define MAX_DIGITS 40
/* Profiles times distinct stacks: the values the model would hold. */
#define MAX_VALUES ((size_t)1 << 27)
/* Output is handed to the sink in pieces of about this size. */
#define OUT_CHUNK (64 * 1024)

/* The units speedscope knows, finest time unit first. */
static const char *const time_units[] = {"nanoseconds", "microseconds", "milliseconds", "seconds"};
#define TIME_UNIT_COUNT 4

/* ---------------------------------------------------------------- numbers */

/* A JSON number as decimal: digits × 10^exp, exactly (up to MAX_DIGITS
 * significant digits), so that 0.1 is one tenth and not a double. */
typedef struct dec {
	bool negative;
	int count; /* significant digits, no leading or trailing zeros */
	int exp;
	char digits[MAX_DIGITS];
} dec;

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* Parse the JSON number at pos (RFC 8259's grammar); *end gets where it
 * stops. False if there is none. */
static bool parse_dec(const unsigned char *d, size_t size, size_t pos, size_t *end, dec *out)
{
	out->negative = false;
	out->count = 0;
	out->exp = 0;
	size_t i = pos;
	if (i < size && d[i] == '-') {
		out->negative = true;
		i++;
	}
	if (i >= size || !is_digit(d[i]))
		return false;
	long exp = 0;
	bool leading = true;
	int dropped = 0; /* digits past MAX_DIGITS */
	/* the integer part: "0" alone, or digits without a leading zero */
	if (d[i] == '0') {
		i++;
	} else {
		for (; i < size && is_digit(d[i]); i++) {
			leading = false;
			if (out->count < MAX_DIGITS)
				out->digits[out->count++] = (char)d[i];
			else
				dropped++;
		}
	}
	exp += dropped;
	if (i < size && d[i] == '.') {
		i++;
		if (i >= size || !is_digit(d[i]))
			return false;
		for (; i < size && is_digit(d[i]); i++) {
			if (leading && d[i] == '0') {
				exp--;
				continue;
			}
			leading = false;
			if (out->count < MAX_DIGITS) {
				out->digits[out->count++] = (char)d[i];
				exp--;
			}
		}
	}
	if (i < size && (d[i] == 'e' || d[i] == 'E')) {
		i++;
		bool neg = false;
		if (i < size && (d[i] == '+' || d[i] == '-'))
			neg = d[i++] == '-';
		if (i >= size || !is_digit(d[i]))
			return false;
		long e = 0;
		for (; i < size && is_digit(d[i]); i++)
			if (e < 1000000)
				e = e * 10 + (d[i] - '0');
		exp += neg ? -e : e;
	}
	while (out->count > 0 && out->digits[out->count - 1] == '0') {
		out->count--;
		exp++;
	}
	if (out->count == 0)
		exp = 0;
	if (exp > 1000000)
		exp = 1000000;
	if (exp < -1000000)
		exp = -1000000;
	out->exp = (int)exp;
	*end = i;
	return true;
}

/* How many digits after the point the number has. */
static int fraction_digits(const dec *x)
{
	return x->exp < 0 ? -x->exp : 0;
}

/* x × 10^scale, rounded half away from zero. False if it is outside int64. */
static bool dec_scaled(const dec *x, int scale, int64_t *out)
{
	uint64_t limit = x->negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	long e = (long)x->exp + scale;
	long keep = e >= 0 ? x->count : (long)x->count + e; /* digits before the point */
	uint64_t v = 0;
	for (long i = 0; i < keep && i < x->count; i++) {
		unsigned digit = (unsigned)(x->digits[i] - '0');
		if (v > (limit - digit) / 10)
			return false;
		v = v * 10 + digit;
	}
	for (long i = 0; e > 0 && i < e; i++) {
		if (v > limit / 10)
			return false;
		v *= 10;
	}
	if (keep >= 0 && keep < x->count && x->digits[keep] >= '5' && v++ == limit)
		return false;
	*out = x->negative ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

static long long ten_to(int n)
{
	long long v = 1;
	while (n-- > 0)
		v *= 10;
	return v;
}

/* ----------------------------------------------------------------- reader */

/* A frame of shared.frames, and the location it became (made on first use). */
typedef struct frame_rec {
	pk_str name, file;
	int64_t line, column;
	uint32_t location; /* PK_NONE until a sample uses it */
} frame_rec;

/* An event of an evented profile, its "at" still text. */
typedef struct event_rec {
	size_t at;       /* the event, for messages */
	size_t value_at; /* its "at" */
	uint32_t frame;
	bool open;
} event_rec;

/* A top-level key: where its value is. */
enum { T_SCHEMA, T_SHARED, T_PROFILES, T_NAME, T_ACTIVE, T_EXPORTER, T_COUNT };
static const char *const top_keys[T_COUNT] = {
    "$schema", "shared", "profiles", "name", "activeProfileIndex", "exporter"};

/* The keys of a profile. */
enum { P_TYPE, P_NAME, P_UNIT, P_START, P_END, P_SAMPLES, P_WEIGHTS, P_EVENTS, P_COUNT };
static const char *const profile_keys[P_COUNT] = {"type",     "name",    "unit",    "startValue",
                                                  "endValue", "samples", "weights", "events"};

typedef struct importer {
	const unsigned char *d;
	size_t size;
	pk_error *err;
	pk_profile *p;
	pk__vec scratch;      /* char: a decoded string */
	pk__vec frames;       /* frame_rec */
	size_t profile_count; /* in the file */
	size_t profile;       /* the one being read */
	/* the profile being read */
	pk__vec stack_frames; /* uint32_t: every sample's frames, root first */
	pk__vec stack_starts; /* size_t: where each sample's frames start */
	pk__vec sample_at;    /* size_t: each sample, for messages */
	pk__vec weight_at;    /* size_t: each weight */
	pk__vec events;       /* event_rec */
	pk__vec open;         /* uint32_t: frames open, outermost first */
	/* distinct stacks of all profiles */
	pk__vec stacks;      /* uint32_t: their frames, back to back */
	pk__vec stack_start; /* size_t: stack i is [start[i], start[i + 1]) */
	pk__vec values;      /* int64_t: profile_count per stack */
	uint32_t *slots;     /* hash table of stack index + 1; 0 = empty */
	size_t slot_count;
	pk__vec types;     /* pk_value_type, one per profile */
	pk__vec locations; /* uint32_t: a sample's locations, leaf first */
} importer;

/* Some Windows tools start UTF-8 text with a byte order mark; JSON allows
 * a reader to ignore it, and we do. Returns the bytes to skip. */
static size_t bom_length(const unsigned char *d, size_t size)
{
	return size >= 3 && d[0] == 0xef && d[1] == 0xbb && d[2] == 0xbf ? 3 : 0;
}

/* The 1-based line and column of byte `at`, columns in characters as
 * jansson counts them. Only called for an error, so a scan is fine. */
static void locate(const importer *im, size_t at, long *line, long *column)
{
	long l = 1, c = 0;
	for (size_t i = bom_length(im->d, im->size); i < at && i < im->size; i++) {
		if (im->d[i] == '\n') {
			l++;
			c = 0;
		} else if ((im->d[i] & 0xc0) != 0x80) {
			c++;
		}
	}
	*line = l;
	*column = c + 1;
}

/* A PK_EFORMAT error at byte `at`. */
static int fail_at(importer *im, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_at(importer *im, size_t at, const char *fmt, ...)
{
	if (im->err == NULL || im->err->code != 0)
		return PK_EFORMAT;
	char msg[PK_ERROR_MESSAGE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	long line, column;
	locate(im, at, &line, &column);
	return pk__error_at_line(im->err, PK_EFORMAT, line, column, (long long)at, "%s", msg);
}

static int out_of_memory(importer *im)
{
	return pk__error_set(im->err, PK_ENOMEM, "out of memory");
}

static bool is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t skip_ws(const importer *im, size_t pos)
{
	while (pos < im->size && is_ws(im->d[pos]))
		pos++;
	return pos;
}

/* "expected WHAT, found X" about the byte at pos. */
static int expected(importer *im, size_t pos, const char *what)
{
	if (pos >= im->size)
		return fail_at(im, pos, "expected %s, found the end of the input", what);
	unsigned char c = im->d[pos];
	if (c < 0x20 || c > 0x7e)
		return fail_at(im, pos, "expected %s, found byte 0x%02x", what, c);
	return fail_at(im, pos, "expected %s, found '%c'", what, c);
}

/* Report jansson's error for bytes parsed from `start`; its position
 * counts the bytes it read, the offending one included. */
static int syntax_error(importer *im, size_t start, const json_error_t *e)
{
	if (json_error_code(e) == json_error_out_of_memory)
		return out_of_memory(im);
	size_t at = start + (e->position > 0 ? (size_t)e->position - 1 : 0);
	if (at >= im->size)
		at = im->size > 0 ? im->size - 1 : 0;
	while (at > start && (im->d[at] & 0xc0) == 0x80)
		at--;
	return fail_at(im, at, "invalid JSON: %s", e->text);
}

/* Parse [start, end) with jansson, to check it or decode it; *out (NULL:
 * not wanted) is owned. */
static int parse_span(importer *im, size_t start, size_t end, json_t **out)
{
	if (end - start > INT_MAX) /* jansson counts positions in int */
		return fail_at(im, start, "a JSON value of %zu bytes is too large", end - start);
	json_error_t e;
	json_t *v = json_loadb((const char *)im->d + start, end - start,
	                       JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
	if (v == NULL)
		return syntax_error(im, start, &e);
	if (out)
		*out = v;
	else
		json_decref(v);
	return 0;
}

/* The string at pos: *s and *len get its bytes, which stay valid until
 * the next string is read. Plain ASCII without escapes is taken as it is;
 * anything else jansson decodes (and checks for UTF-8). */
static int read_string(importer *im, size_t pos, size_t *end, const char **s, size_t *len)
{
	if (pos >= im->size || im->d[pos] != '"')
		return expected(im, pos, "a string");
	bool plain = true;
	size_t i = pos + 1;
	for (; i < im->size && im->d[i] != '"'; i++) {
		unsigned char c = im->d[i];
		if (c < 0x20)
			return fail_at(im, i, "a control character inside a string");
		if (c == '\\') {
			plain = false;
			i++;
		} else if (c >= 0x80) {
			plain = false;
		}
	}
	if (i >= im->size)
		return fail_at(im, pos, "the input ends inside a string");
	*end = i + 1;
	if (plain) {
		*s = (const char *)im->d + pos + 1;
		*len = i - pos - 1;
		return 0;
	}
	json_t *v = NULL;
	PK_FORWARD(parse_span(im, pos, *end, &v));
	im->scratch.count = 0;
	int rc =
	    pk__vec_push(&im->scratch, 1, json_string_value(v), json_string_length(v) + 1, NULL);
	*len = json_string_length(v);
	json_decref(v);
	if (rc < 0)
		return out_of_memory(im);
	*s = im->scratch.items;
	return 0;
}

static size_t find_end(const unsigned char *d, size_t size, size_t pos, size_t *count);

static int read_number(importer *im, size_t pos, size_t *end, dec *out)
{
	if (!parse_dec(im->d, im->size, pos, end, out)) {
		size_t e = find_end(im->d, im->size, pos, NULL);
		if (e > pos && (im->d[pos] == '-' || is_digit(im->d[pos])))
			return fail_at(im, pos, "%.*s is not a JSON number",
			               (int)(e - pos > 40 ? 40 : e - pos), im->d + pos);
		return expected(im, pos, "a number");
	}
	if (*end < im->size && !is_ws(im->d[*end]) && im->d[*end] != ',' && im->d[*end] != ']' &&
	    im->d[*end] != '}')
		return expected(im, *end, "',' or the end of the number");
	return 0;
}

/* A number that must be an integer in int64. */
static int read_integer(importer *im, size_t pos, size_t *end, const char *what, int64_t *out)
{
	dec x;
	PK_FORWARD(read_number(im, pos, end, &x));
	if (fraction_digits(&x) != 0 || !dec_scaled(&x, 0, out))
		return fail_at(im, pos, "%s must be an integer of at most 64 bits", what);
	return 0;
}

/* Find where the JSON value at pos ends without parsing it: strings and
 * brackets nested to any depth are matched, a bare scalar runs to the next
 * delimiter. *count (optional) gets the number of elements of an array.
 * Returns SIZE_MAX if the input ends first. */
static size_t find_end(const unsigned char *d, size_t size, size_t pos, size_t *count)
{
	if (pos >= size)
		return pos;
	if (d[pos] != '"' && d[pos] != '[' && d[pos] != '{') {
		while (pos < size && !is_ws(d[pos]) && d[pos] != ',' && d[pos] != ']' &&
		       d[pos] != '}' && d[pos] != ':' && d[pos] != '[' && d[pos] != '{' &&
		       d[pos] != '"')
			pos++;
		return pos;
	}
	size_t depth = 0, commas = 0;
	bool content = false;
	for (size_t i = pos; i < size; i++) {
		unsigned char c = d[i];
		if (c == '"') {
			for (i++; i < size && d[i] != '"'; i++)
				if (d[i] == '\\')
					i++;
			if (i >= size)
				return SIZE_MAX;
			if (depth == 0)
				return i + 1;
			content |= depth == 1;
		} else if (c == '[' || c == '{') {
			content |= depth == 1;
			depth++;
		} else if (c == ']' || c == '}') {
			if (--depth == 0) {
				if (count)
					*count = content ? commas + 1 : 0;
				return i + 1;
			}
		} else if (depth == 1 && c == ',') {
			commas++;
		} else if (depth == 1 && !is_ws(c)) {
			content = true;
		}
	}
	return SIZE_MAX;
}

/* Find the end of the value at pos; with check, jansson parses it too:
 * values profkit does not use are still checked, so that a broken file is
 * not half read. The two large ones are read in detail later instead. */
static int value_end(importer *im, size_t pos, bool check, size_t *end, size_t *count)
{
	size_t e = find_end(im->d, im->size, pos, count);
	if (e == SIZE_MAX) {
		/* The input ends inside it: let jansson say where and why. */
		PK_FORWARD(parse_span(im, pos, im->size, NULL));
		return fail_at(im, pos, "the input ends inside a JSON value");
	}
	if (e == pos)
		return expected(im, pos, "a JSON value");
	if (check)
		PK_FORWARD(parse_span(im, pos, e, NULL));
	*end = e;
	return 0;
}

static int skip_value(importer *im, size_t pos, size_t *end, size_t *count)
{
	return value_end(im, pos, true, end, count);
}

/* Walking objects and arrays: begin at '{' or '[', then next gives each
 * member or element until *done; the caller reads the value at *at and
 * sets it->pos to where the value ends. */
typedef struct iter {
	size_t pos;
	size_t index;
	bool started;
	char close;
} iter;

static int iter_begin(importer *im, size_t pos, char open, const char *what, iter *it)
{
	if (pos >= im->size || im->d[pos] != open)
		return fail_at(im, pos, "%s must be %s", what,
		               open == '{' ? "an object" : "an array");
	it->pos = pos + 1;
	it->index = 0;
	it->started = false;
	it->close = open == '{' ? '}' : ']';
	return 0;
}

/* The next element; for an object, *key and *key_len get the member's name
 * (valid until the next string is read) and *key_at where it is. */
static int iter_next(importer *im, iter *it, const char **key, size_t *key_len, size_t *key_at,
                     size_t *at, bool *done)
{
	size_t pos = skip_ws(im, it->pos);
	*done = false;
	if (pos < im->size && im->d[pos] == it->close) {
		it->pos = pos + 1;
		*done = true;
		return 0;
	}
	if (it->started) {
		if (pos >= im->size || im->d[pos] != ',')
			return expected(im, pos,
			                it->close == '}' ? "',' or '}' after a member"
			                                 : "',' or ']' after an element");
		pos = skip_ws(im, pos + 1);
		it->index++;
	}
	it->started = true;
	if (it->close == '}') {
		size_t end;
		if (pos >= im->size || im->d[pos] != '"')
			return expected(im, pos, "a key string");
		*key_at = pos;
		PK_FORWARD(read_string(im, pos, &end, key, key_len));
		pos = skip_ws(im, end);
		if (pos >= im->size || im->d[pos] != ':')
			return expected(im, pos, "':' after a key");
		pos = skip_ws(im, pos + 1);
	}
	if (pos >= im->size)
		return expected(im, pos, "a value");
	*at = pos;
	return 0;
}

/* Which of keys[0..count) key is, or count. */
static int key_index(const char *const *keys, int count, const char *key, size_t len)
{
	for (int k = 0; k < count; k++)
		if (strlen(keys[k]) == len && memcmp(keys[k], key, len) == 0)
			return k;
	return count;
}

static int intern(importer *im, const char *s, size_t len, pk_str *out)
{
	if (pk_profile_intern(im->p, len ? s : "", len, out) < 0)
		return out_of_memory(im);
	return 0;
}

/* --------------------------------------------------------- shared.frames */

static int read_frame(importer *im, size_t pos, size_t *end)
{
	enum { F_NAME, F_FILE, F_LINE, F_COL, F_COUNT };
	static const char *const keys[F_COUNT] = {"name", "file", "line", "col"};
	frame_rec f = {0, 0, 0, 0, PK_NONE};
	bool seen[F_COUNT] = {false};
	iter it;
	char what[64];
	snprintf(what, sizeof what, "frame %zu", im->frames.count);
	PK_FORWARD(iter_begin(im, pos, '{', what, &it));
	for (;;) {
		const char *key;
		size_t key_len, key_at, at, vend = 0;
		bool done;
		PK_FORWARD(iter_next(im, &it, &key, &key_len, &key_at, &at, &done));
		if (done)
			break;
		int k = key_index(keys, F_COUNT, key, key_len);
		if (k < F_COUNT && seen[k])
			return fail_at(im, key_at, "the key \"%s\" appears twice in a frame",
			               keys[k]);
		if (k < F_COUNT)
			seen[k] = true;
		const char *s;
		size_t len;
		switch (k) {
		case F_NAME:
		case F_FILE:
			if (im->d[at] != '"')
				return fail_at(im, at, "a frame's \"%s\" must be a string",
				               keys[k]);
			PK_FORWARD(read_string(im, at, &vend, &s, &len));
			PK_FORWARD(intern(im, s, len, k == F_NAME ? &f.name : &f.file));
			break;
		case F_LINE:
		case F_COL:
			PK_FORWARD(read_integer(
			    im, at, &vend, k == F_LINE ? "a frame's \"line\"" : "a frame's \"col\"",
			    k == F_LINE ? &f.line : &f.column));
			break;
		default: PK_FORWARD(skip_value(im, at, &vend, NULL)); break;
		}
		it.pos = vend;
	}
	if (!seen[F_NAME])
		return fail_at(im, pos, "frame %zu has no \"name\"", im->frames.count);
	if (pk__vec_push(&im->frames, sizeof f, &f, 1, NULL) < 0)
		return out_of_memory(im);
	*end = it.pos;
	return 0;
}

static int read_shared(importer *im, size_t pos)
{
	iter it;
	bool have_frames = false;
	PK_FORWARD(iter_begin(im, pos, '{', "\"shared\"", &it));
	for (;;) {
		const char *key;
		size_t key_len, key_at, at, vend = 0;
		bool done;
		PK_FORWARD(iter_next(im, &it, &key, &key_len, &key_at, &at, &done));
		if (done)
			break;
		if (key_len == 6 && memcmp(key, "frames", 6) == 0) {
			if (have_frames)
				return fail_at(im, key_at, "the key \"frames\" appears twice");
			have_frames = true;
			iter ft;
			PK_FORWARD(iter_begin(im, at, '[', "\"frames\"", &ft));
			for (;;) {
				size_t fat;
				bool fdone;
				PK_FORWARD(iter_next(im, &ft, NULL, NULL, NULL, &fat, &fdone));
				if (fdone)
					break;
				if (im->frames.count >= UINT32_MAX - 1)
					return fail_at(im, fat, "too many frames");
				PK_FORWARD(read_frame(im, fat, &ft.pos));
			}
			vend = ft.pos;
		} else {
			PK_FORWARD(skip_value(im, at, &vend, NULL));
		}
		it.pos = vend;
	}
	if (!have_frames)
		return fail_at(im, pos, "\"shared\" has no \"frames\"");
	return 0;
}

/* -------------------------------------------------------------- stacks */

static uint64_t hash_stack(const uint32_t *f, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15u ^ n;
	for (size_t i = 0; i < n; i++) {
		h = (h ^ f[i]) * 0xff51afd7ed558ccdu;
		h ^= h >> 32;
	}
	return h;
}

static size_t stack_len(const importer *im, size_t s, const uint32_t **frames)
{
	const size_t *start = im->stack_start.items;
	*frames = &PK_VEC_AT(im->stacks, uint32_t, start[s]);
	return start[s + 1] - start[s];
}

static int grow_slots(importer *im)
{
	size_t count = im->slot_count ? im->slot_count * 2 : 1024;
	uint32_t *slots = pk__calloc(count, sizeof *slots);
	if (slots == NULL)
		return PK_ENOMEM;
	size_t n = im->stack_start.count - 1;
	for (size_t s = 0; s < n; s++) {
		const uint32_t *f;
		size_t len = stack_len(im, s, &f);
		size_t at = hash_stack(f, len) & (count - 1);
		while (slots[at] != 0)
			at = (at + 1) & (count - 1);
		slots[at] = (uint32_t)s + 1;
	}
	pk__free(im->slots);
	im->slots = slots;
	im->slot_count = count;
	return 0;
}

/* Add value to the current profile's sum for the stack frames[0..n), root
 * first; at is where the sample or event is, for messages. */
static int add_value(importer *im, const uint32_t *frames, size_t n, int64_t value, size_t at)
{
	size_t stacks = im->stack_start.count - 1;
	if ((stacks + 1) * 2 > im->slot_count && grow_slots(im) < 0)
		return out_of_memory(im);
	size_t mask = im->slot_count - 1, slot = hash_stack(frames, n) & mask;
	size_t s = SIZE_MAX;
	for (; im->slots[slot] != 0; slot = (slot + 1) & mask) {
		const uint32_t *f;
		size_t len = stack_len(im, im->slots[slot] - 1, &f);
		if (len == n && (n == 0 || memcmp(f, frames, n * sizeof *f) == 0)) {
			s = im->slots[slot] - 1;
			break;
		}
	}
	if (s == SIZE_MAX) {
		if (stacks >= UINT32_MAX - 1 || pk__mul(stacks + 1, im->profile_count) > MAX_VALUES)
			return fail_at(im, at,
			               "%zu profiles with more than %zu distinct stacks are more "
			               "than profkit holds",
			               im->profile_count, stacks);
		size_t end = im->stacks.count + n;
		if (pk__vec_push(&im->stacks, sizeof *frames, frames, n, NULL) < 0 ||
		    pk__vec_push(&im->stack_start, sizeof end, &end, 1, NULL) < 0 ||
		    pk__vec_push(&im->values, sizeof(int64_t), NULL, im->profile_count, NULL) < 0)
			return out_of_memory(im);
		s = stacks;
		im->slots[slot] = (uint32_t)s + 1;
	}
	int64_t *sum = &PK_VEC_AT(im->values, int64_t, s * im->profile_count + im->profile);
	if ((value > 0 && *sum > INT64_MAX - value) || (value < 0 && *sum < INT64_MIN - value))
		return fail_at(im, at,
		               "the weights of this stack add up to more than 64 bits hold");
	*sum += value;
	return 0;
}

/* ------------------------------------------------------------- profiles */

/* A frame index of a sample or event. */
static int read_frame_index(importer *im, size_t pos, size_t *end, uint32_t *out)
{
	dec x;
	int64_t v;
	PK_FORWARD(read_number(im, pos, end, &x));
	if (fraction_digits(&x) != 0 || !dec_scaled(&x, 0, &v) || v < 0 ||
	    (uint64_t)v >= im->frames.count)
		return fail_at(
		    im, pos, "frame index %.*s is not one of the %zu frames of \"shared\"",
		    (int)(*end - pos > 24 ? 24 : *end - pos), im->d + pos, im->frames.count);
	*out = (uint32_t)v;
	return 0;
}

static int read_samples(importer *im, size_t pos, size_t *end)
{
	iter it;
	PK_FORWARD(iter_begin(im, pos, '[', "\"samples\"", &it));
	for (;;) {
		size_t at;
		bool done;
		PK_FORWARD(iter_next(im, &it, NULL, NULL, NULL, &at, &done));
		if (done)
			break;
		size_t start = im->stack_frames.count;
		if (pk__vec_push(&im->stack_starts, sizeof start, &start, 1, NULL) < 0 ||
		    pk__vec_push(&im->sample_at, sizeof at, &at, 1, NULL) < 0)
			return out_of_memory(im);
		iter st;
		char what[64];
		snprintf(what, sizeof what, "sample %zu", it.index);
		PK_FORWARD(iter_begin(im, at, '[', what, &st));
		for (;;) {
			size_t fat;
			bool fdone;
			PK_FORWARD(iter_next(im, &st, NULL, NULL, NULL, &fat, &fdone));
			if (fdone)
				break;
			uint32_t f;
			PK_FORWARD(read_frame_index(im, fat, &st.pos, &f));
			if (pk__vec_push(&im->stack_frames, sizeof f, &f, 1, NULL) < 0)
				return out_of_memory(im);
		}
		it.pos = st.pos;
	}
	*end = it.pos;
	return 0;
}

/* A list of numbers; only where each is goes into *at (size_t). */
static int read_numbers(importer *im, size_t pos, const char *what, pk__vec *at, size_t *end,
                        int *digits)
{
	iter it;
	PK_FORWARD(iter_begin(im, pos, '[', what, &it));
	for (;;) {
		size_t vat;
		bool done;
		PK_FORWARD(iter_next(im, &it, NULL, NULL, NULL, &vat, &done));
		if (done)
			break;
		dec x;
		PK_FORWARD(read_number(im, vat, &it.pos, &x));
		if (fraction_digits(&x) > *digits)
			*digits = fraction_digits(&x);
		if (pk__vec_push(at, sizeof vat, &vat, 1, NULL) < 0)
			return out_of_memory(im);
	}
	*end = it.pos;
	return 0;
}

static int read_event(importer *im, size_t pos, size_t index, size_t *end, int *digits)
{
	enum { E_TYPE, E_FRAME, E_AT, E_COUNT };
	static const char *const keys[E_COUNT] = {"type", "frame", "at"};
	event_rec ev = {pos, 0, 0, false};
	bool seen[E_COUNT] = {false};
	iter it;
	char what[64];
	snprintf(what, sizeof what, "event %zu", index);
	PK_FORWARD(iter_begin(im, pos, '{', what, &it));
	for (;;) {
		const char *key, *s;
		size_t key_len, key_at, at, vend = 0, len;
		bool done;
		dec x;
		PK_FORWARD(iter_next(im, &it, &key, &key_len, &key_at, &at, &done));
		if (done)
			break;
		int k = key_index(keys, E_COUNT, key, key_len);
		if (k < E_COUNT && seen[k])
			return fail_at(im, key_at, "the key \"%s\" appears twice in an event",
			               keys[k]);
		if (k < E_COUNT)
			seen[k] = true;
		switch (k) {
		case E_TYPE:
			PK_FORWARD(read_string(im, at, &vend, &s, &len));
			if (len != 1 || (s[0] != 'O' && s[0] != 'C'))
				return fail_at(im, at,
				               "an event's \"type\" must be \"O\" (open) or \"C\" "
				               "(close)");
			ev.open = s[0] == 'O';
			break;
		case E_FRAME: PK_FORWARD(read_frame_index(im, at, &vend, &ev.frame)); break;
		case E_AT:
			PK_FORWARD(read_number(im, at, &vend, &x));
			if (fraction_digits(&x) > *digits)
				*digits = fraction_digits(&x);
			ev.value_at = at;
			break;
		default: PK_FORWARD(skip_value(im, at, &vend, NULL)); break;
		}
		it.pos = vend;
	}
	for (int k = 0; k < E_COUNT; k++)
		if (!seen[k])
			return fail_at(im, pos, "event %zu has no \"%s\"", index, keys[k]);
	if (pk__vec_push(&im->events, sizeof ev, &ev, 1, NULL) < 0)
		return out_of_memory(im);
	*end = it.pos;
	return 0;
}

static int read_events(importer *im, size_t pos, size_t *end, int *digits)
{
	iter it;
	PK_FORWARD(iter_begin(im, pos, '[', "\"events\"", &it));
	for (;;) {
		size_t at;
		bool done;
		PK_FORWARD(iter_next(im, &it, NULL, NULL, NULL, &at, &done));
		if (done)
			break;
		PK_FORWARD(read_event(im, at, it.index, &it.pos, digits));
	}
	*end = it.pos;
	return 0;
}

/* How a profile's values are scaled to integers: time units go finer
 * (milliseconds to microseconds...) as far as the fractions need, down to
 * nanoseconds; other units are multiplied by 10^digits. */
static int choose_scale(importer *im, int digits, pk_value_type *vt, const char *name,
                        size_t name_len)
{
	const char *unit = pk_profile_string(im->p, vt->unit);
	int t = 0;
	while (t < TIME_UNIT_COUNT && strcmp(unit, time_units[t]) != 0)
		t++;
	if (t < TIME_UNIT_COUNT) {
		int steps = (digits + 2) / 3;
		if (steps > t)
			steps = t;
		PK_FORWARD(
		    intern(im, time_units[t - steps], strlen(time_units[t - steps]), &vt->unit));
		return 3 * steps;
	}
	if (digits > MAX_FRACTION_DIGITS)
		digits = MAX_FRACTION_DIGITS;
	if (digits > 0) {
		char note[PK_ERROR_MESSAGE_MAX];
		int n =
		    snprintf(note, sizeof note,
		             "profkit: the speedscope weights of \"%.*s\" were fractional; each "
		             "is multiplied by %lld",
		             (int)(name_len > 200 ? 200 : name_len), name, ten_to(digits));
		pk_str s;
		PK_FORWARD(intern(im, note, (size_t)n, &s));
		if (pk_profile_add_comment(im->p, s) < 0)
			return out_of_memory(im);
	}
	return digits;
}

static int scaled_at(importer *im, size_t at, int scale, int64_t *out)
{
	dec x;
	size_t end;
	parse_dec(im->d, im->size, at, &end, &x);
	if (!dec_scaled(&x, scale, out))
		return fail_at(im, at, "the number %.*s%s does not fit in 64 bits",
		               (int)(end - at > 40 ? 40 : end - at), im->d + at,
		               scale ? " (scaled to an integer)" : "");
	return 0;
}

static int add_sampled(importer *im, size_t weights_at, int scale)
{
	size_t n = im->sample_at.count;
	if (n != im->weight_at.count)
		return fail_at(im, weights_at,
		               "\"weights\" has %zu numbers, but \"samples\" has %zu stacks",
		               im->weight_at.count, n);
	size_t end = im->stack_frames.count;
	if (pk__vec_push(&im->stack_starts, sizeof end, &end, 1, NULL) < 0)
		return out_of_memory(im);
	const size_t *starts = im->stack_starts.items;
	for (size_t i = 0; i < n; i++) {
		int64_t w;
		size_t at = PK_VEC_AT(im->weight_at, size_t, i);
		PK_FORWARD(scaled_at(im, at, scale, &w));
		if (w == 0)
			continue;
		const uint32_t *f = &PK_VEC_AT(im->stack_frames, uint32_t, starts[i]);
		PK_FORWARD(add_value(im, f, starts[i + 1] - starts[i], w, at));
	}
	return 0;
}

static const char *frame_name(importer *im, uint32_t f)
{
	return pk_profile_string(im->p, PK_VEC_AT(im->frames, frame_rec, f).name);
}

/* An evented profile: the stack open between two events gets their
 * distance as its weight. */
static int add_evented(importer *im, size_t events_at, int scale)
{
	const event_rec *ev = im->events.items;
	int64_t last = 0;
	im->open.count = 0;
	for (size_t i = 0; i < im->events.count; i++) {
		int64_t at;
		PK_FORWARD(scaled_at(im, ev[i].value_at, scale, &at));
		if (i > 0 && at < last)
			return fail_at(im, ev[i].value_at,
			               "event %zu is at an earlier value than the event before it; "
			               "events must be in order",
			               i);
		if (i > 0 && at > last && im->open.count > 0) {
			if ((last < 0 && at > INT64_MAX + last))
				return fail_at(
				    im, ev[i].value_at,
				    "the distance to the event before does not fit in 64 "
				    "bits");
			PK_FORWARD(
			    add_value(im, im->open.items, im->open.count, at - last, ev[i].at));
		}
		last = at;
		if (ev[i].open) {
			if (pk__vec_push(&im->open, sizeof(uint32_t), &ev[i].frame, 1, NULL) < 0)
				return out_of_memory(im);
			continue;
		}
		if (im->open.count == 0)
			return fail_at(im, ev[i].at,
			               "event %zu closes frame %u (\"%s\"), but no frame is open",
			               i, ev[i].frame, frame_name(im, ev[i].frame));
		uint32_t top = PK_VEC_AT(im->open, uint32_t, im->open.count - 1);
		if (top != ev[i].frame)
			return fail_at(
			    im, ev[i].at,
			    "event %zu closes frame %u (\"%s\"), but the frame open on top "
			    "is %u (\"%s\")",
			    i, ev[i].frame, frame_name(im, ev[i].frame), top, frame_name(im, top));
		im->open.count--;
	}
	if (im->open.count > 0) {
		uint32_t top = PK_VEC_AT(im->open, uint32_t, im->open.count - 1);
		return fail_at(im, events_at,
		               "frame %u (\"%s\") is still open after the last event; every "
		               "opened frame must be closed",
		               top, frame_name(im, top));
	}
	return 0;
}

static int read_profile(importer *im, size_t pos, size_t *end)
{
	bool seen[P_COUNT] = {false};
	size_t at_of[P_COUNT] = {0};
	bool evented = false;
	int digits = 0;
	pk_value_type vt = {0, 0};
	const char *name = "";
	size_t name_len = 0;
	im->stack_frames.count = im->stack_starts.count = im->sample_at.count = 0;
	im->weight_at.count = im->events.count = 0;
	iter it;
	char what[64];
	snprintf(what, sizeof what, "profile %zu", im->profile);
	PK_FORWARD(iter_begin(im, pos, '{', what, &it));
	for (;;) {
		const char *key, *s;
		size_t key_len, key_at, at, vend = 0, len;
		bool done;
		dec x;
		PK_FORWARD(iter_next(im, &it, &key, &key_len, &key_at, &at, &done));
		if (done)
			break;
		int k = key_index(profile_keys, P_COUNT, key, key_len);
		if (k < P_COUNT && seen[k])
			return fail_at(im, key_at, "the key \"%s\" appears twice in a profile",
			               profile_keys[k]);
		if (k < P_COUNT) {
			seen[k] = true;
			at_of[k] = at;
		}
		switch (k) {
		case P_TYPE:
			PK_FORWARD(read_string(im, at, &vend, &s, &len));
			if (len == 7 && memcmp(s, "evented", 7) == 0)
				evented = true;
			else if (!(len == 7 && memcmp(s, "sampled", 7) == 0))
				return fail_at(im, at,
				               "a profile's \"type\" must be \"sampled\" or "
				               "\"evented\"");
			break;
		case P_NAME:
		case P_UNIT:
			if (im->d[at] != '"')
				return fail_at(im, at, "a profile's \"%s\" must be a string",
				               profile_keys[k]);
			PK_FORWARD(read_string(im, at, &vend, &s, &len));
			if (k == P_UNIT && len == 4 && memcmp(s, "none", 4) == 0)
				s = "count", len = 5;
			PK_FORWARD(intern(im, s, len, k == P_NAME ? &vt.type : &vt.unit));
			break;
		case P_START:
		case P_END: PK_FORWARD(read_number(im, at, &vend, &x)); break;
		case P_SAMPLES: PK_FORWARD(read_samples(im, at, &vend)); break;
		case P_WEIGHTS:
			PK_FORWARD(
			    read_numbers(im, at, "\"weights\"", &im->weight_at, &vend, &digits));
			break;
		case P_EVENTS: PK_FORWARD(read_events(im, at, &vend, &digits)); break;
		default: PK_FORWARD(skip_value(im, at, &vend, NULL)); break;
		}
		it.pos = vend;
	}
	*end = it.pos;
	if (!seen[P_TYPE])
		return fail_at(im, pos, "profile %zu has no \"type\"", im->profile);
	static const int sampled_keys[] = {P_SAMPLES, P_WEIGHTS}, evented_keys[] = {P_EVENTS};
	const int *need = evented ? evented_keys : sampled_keys;
	for (size_t i = 0; i < (evented ? 1u : 2u); i++)
		if (!seen[need[i]])
			return fail_at(im, pos, "profile %zu is %s but has no \"%s\"", im->profile,
			               evented ? "evented" : "sampled", profile_keys[need[i]]);
	if (seen[evented ? P_SAMPLES : P_EVENTS])
		return fail_at(im, at_of[evented ? P_SAMPLES : P_EVENTS],
		               "a%s profile has no \"%s\"", evented ? "n evented" : " sampled",
		               profile_keys[evented ? P_SAMPLES : P_EVENTS]);
	if (vt.type == 0) {
		PK_FORWARD(intern(im, "samples", 7, &vt.type));
	}
	if (vt.unit == 0)
		PK_FORWARD(intern(im, "count", 5, &vt.unit));
	name = pk_profile_string(im->p, vt.type);
	name_len = pk_profile_string_length(im->p, vt.type);
	int scale = choose_scale(im, digits, &vt, name, name_len);
	PK_FORWARD(scale);
	if (pk__vec_push(&im->types, sizeof vt, &vt, 1, NULL) < 0)
		return out_of_memory(im);
	return evented ? add_evented(im, at_of[P_EVENTS], scale)
	               : add_sampled(im, at_of[P_WEIGHTS], scale);
}

static int read_profiles(importer *im, size_t pos)
{
	iter it;
	size_t end;
	PK_FORWARD(iter_begin(im, pos, '[', "\"profiles\"", &it));
	/* The values of each stack are a row of one per profile. */
	PK_FORWARD(value_end(im, pos, false, &end, &im->profile_count));
	for (;;) {
		size_t at;
		bool done;
		PK_FORWARD(iter_next(im, &it, NULL, NULL, NULL, &at, &done));
		if (done)
			break;
		im->profile = it.index;
		if (im->profile >= im->profile_count)
			return fail_at(im, at, "more profiles than the array holds");
		PK_FORWARD(read_profile(im, at, &it.pos));
	}
	return 0;
}

/* ------------------------------------------------------------- the model */

static int frame_location(importer *im, uint32_t f, uint32_t *out)
{
	frame_rec *r = &PK_VEC_AT(im->frames, frame_rec, f);
	if (r->location != PK_NONE) {
		*out = r->location;
		return 0;
	}
	uint64_t id = pk_profile_location_count(im->p) + 1;
	pk_function fn = {id, r->name, r->name, r->file, r->line};
	pk_line line = {0, r->line, r->column};
	PK_FORWARD(pk_profile_add_function(im->p, &fn, &line.function));
	pk_location loc = {id, PK_NONE, 0, 0};
	PK_FORWARD(pk_profile_add_location(im->p, &loc, &line, 1, &r->location));
	*out = r->location;
	return 0;
}

static int build_model(importer *im, size_t active)
{
	size_t np = im->types.count;
	for (size_t i = 0; i < np; i++)
		PK_FORWARD(
		    pk_profile_add_sample_type(im->p, PK_VEC_AT(im->types, pk_value_type, i)));
	if (np > 0)
		pk_profile_set_default_sample_type(
		    im->p, PK_VEC_AT(im->types, pk_value_type, active).type);
	size_t stacks = im->stack_start.count - 1;
	for (size_t s = 0; s < stacks; s++) {
		const int64_t *v = &PK_VEC_AT(im->values, int64_t, s * np);
		size_t k = 0;
		while (k < np && v[k] == 0)
			k++;
		if (k == np)
			continue;
		const uint32_t *f;
		size_t n = stack_len(im, s, &f);
		/* locations are made root first, so that ids follow the stacks */
		im->locations.count = 0;
		PK_FORWARD(pk__vec_reserve(&im->locations, sizeof(uint32_t), n));
		im->locations.count = n;
		for (size_t j = 0; j < n; j++)
			PK_FORWARD(frame_location(im, f[j],
			                          &PK_VEC_AT(im->locations, uint32_t, n - 1 - j)));
		PK_FORWARD(pk_profile_add_sample(im->p, im->locations.items, n, v, np, NULL, 0));
	}
	return 0;
}

/* ------------------------------------------------------------ top level */

static int speedscope_import(const unsigned char *data, size_t size, pk_profile **out,
                             pk_error *err)
{
	importer im = {.d = data, .size = size, .err = err};
	size_t at[T_COUNT];
	bool seen[T_COUNT] = {false};
	size_t zero = 0;
	int rc = pk_profile_new(&im.p) < 0 ||
	                 pk__vec_push(&im.stack_start, sizeof zero, &zero, 1, NULL) < 0
	             ? out_of_memory(&im)
	             : 0;
	iter it;
	size_t pos = skip_ws(&im, bom_length(data, size)), top = pos;
	if (rc == 0)
		rc = iter_begin(&im, pos, '{', "a speedscope file", &it);
	/* The top level first, to find the frames, which profiles refer to
	 * wherever they come in the file. */
	while (rc == 0) {
		const char *key, *s;
		size_t key_len, key_at, vat, vend = 0, len;
		bool done;
		rc = iter_next(&im, &it, &key, &key_len, &key_at, &vat, &done);
		if (rc < 0 || done)
			break;
		int k = key_index(top_keys, T_COUNT, key, key_len);
		if (k < T_COUNT && seen[k]) {
			rc = fail_at(&im, key_at, "the key \"%s\" appears twice", top_keys[k]);
			break;
		}
		if (k < T_COUNT) {
			seen[k] = true;
			at[k] = vat;
		}
		if (k == T_SCHEMA || k == T_NAME || k == T_EXPORTER) {
			if (data[vat] != '"')
				rc = fail_at(&im, vat, "\"%s\" must be a string", top_keys[k]);
			else
				rc = read_string(&im, vat, &vend, &s, &len);
			if (rc == 0 && k == T_SCHEMA &&
			    !(len == strlen(SCHEMA_URL) && memcmp(s, SCHEMA_URL, len) == 0))
				rc = fail_at(&im, vat, "\"$schema\" must be \"%s\"", SCHEMA_URL);
		} else {
			rc = value_end(&im, vat, k != T_SHARED && k != T_PROFILES, &vend, NULL);
		}
		it.pos = vend;
	}
	if (rc == 0) {
		pos = skip_ws(&im, it.pos);
		if (pos < size)
			rc = fail_at(&im, pos, "unexpected data after the end of the file");
	}
	if (rc == 0 && !seen[T_SHARED])
		rc = fail_at(&im, top, "a speedscope file needs \"shared\" (the frames)");
	if (rc == 0 && !seen[T_PROFILES])
		rc = fail_at(&im, top, "a speedscope file needs \"profiles\"");
	if (rc == 0)
		rc = read_shared(&im, at[T_SHARED]);
	if (rc == 0)
		rc = read_profiles(&im, at[T_PROFILES]);
	int64_t active = 0;
	if (rc == 0 && seen[T_ACTIVE]) {
		size_t vend;
		rc = read_integer(&im, at[T_ACTIVE], &vend, "\"activeProfileIndex\"", &active);
		if (rc == 0 &&
		    (active < 0 || (uint64_t)active >= (im.types.count ? im.types.count : 1)))
			rc = fail_at(&im, at[T_ACTIVE],
			             "\"activeProfileIndex\" is %" PRId64 ", but the file has %zu "
			             "profiles",
			             active, im.types.count);
	}
	if (rc == 0 && build_model(&im, (size_t)active) < 0)
		rc = out_of_memory(&im);
	pk__vec_free(&im.scratch);
	pk__vec_free(&im.frames);
	pk__vec_free(&im.stack_frames);
	pk__vec_free(&im.stack_starts);
	pk__vec_free(&im.sample_at);
	pk__vec_free(&im.weight_at);
	pk__vec_free(&im.events);
	pk__vec_free(&im.open);
	pk__vec_free(&im.stacks);
	pk__vec_free(&im.stack_start);
	pk__vec_free(&im.values);
	pk__free(im.slots);
	pk__vec_free(&im.types);
	pk__vec_free(&im.locations);
	if (rc < 0) {
		pk_profile_free(im.p);
		return rc;
	}
	*out = im.p;
	return 0;
}

/* An object with the key "$schema" set to speedscope's schema anywhere in
 * its first megabyte (as pk_format_detect sees it), as writers put it
 * first or last. The exact key and value cannot be inside another string,
 * whose quotes would be escaped. The search is for the key's '$', which few
 * JSON profiles hold, rather than for each of the many '"'. */
static int speedscope_sniff(const unsigned char *data, size_t size)
{
	static const char key[] = "\"$schema\"", url[] = "\"" SCHEMA_URL "\"";
	size_t key_len = sizeof key - 1, url_len = sizeof url - 1;
	/* Not further: a scan of all of a large input of another format would
	 * bring all of a mapped file into memory for nothing. */
	if (size > PK_INPUT_PROBE_SIZE)
		size = PK_INPUT_PROBE_SIZE;
	size_t pos = bom_length(data, size);
	while (pos < size && is_ws(data[pos]))
		pos++;
	if (pos >= size || data[pos] != '{')
		return PK_ENOTMINE;
	for (const unsigned char *d = memchr(data + pos, '$', size - pos); d != NULL;
	     d = d + 1 < data + size ? memchr(d + 1, '$', size - (size_t)(d + 1 - data)) : NULL) {
		size_t at = (size_t)(d - data) - 1; /* the key's opening quote */
		if (d[-1] != '"' || size - at < key_len || memcmp(data + at, key, key_len) != 0)
			continue;
		at += key_len;
		while (at < size && is_ws(data[at]))
			at++;
		if (at >= size || data[at] != ':')
			continue;
		at++;
		while (at < size && is_ws(data[at]))
			at++;
		if (size - at >= url_len && memcmp(data + at, url, url_len) == 0)
			return 0;
	}
	return PK_ENOTMINE;
}

/* ----------------------------------------------------------------- writer */

typedef struct writer {
	const pk_profile *p;
	const pk_write_options *o;
	pk__sink *sink;
	pk__vec out;        /* char: output not yet handed to the sink */
	pk__vec frame_info; /* frame_out, found through frame_tab */
	pk__item_table frame_tab;
	pk__vec starts; /* start_rec, found through start_tab */
	pk__item_table start_tab;
	pk__strtab *files; /* the start lines' files that cleaning changed */
	uint32_t *shared;  /* per tree frame: its shared frame + 1, 0 = not yet */
	uint32_t *frames;  /* the tree frames of the stack being written */
	/* the numbers of the shared frames of the last stack written, "0,4,7":
	 * those of depth 1 up to `numbered` (as far as the stacks since keep
	 * its frames); depth d's end at line_ends[d - 1] */
	pk__vec line;      /* char */
	pk__vec line_ends; /* size_t */
	size_t numbered;
} writer;

/* A shared frame as written; its strings are the tree's, which is kept
 * until the frames are written. */
typedef struct frame_out {
	const char *name, *file;
	size_t name_len;
	int64_t line;
} frame_out;

/* The start line of the functions of one name and cleaned file. */
typedef struct start_rec {
	uint32_t function; /* the first function of the key: its name and file */
	uint32_t file;     /* its file cleaned in w->files; 0: the file is clean */
	int64_t line;
} start_rec;

static int flush(writer *w)
{
	if (w->out.count == 0)
		return 0;
	int rc = pk__sink_write(w->sink, w->out.items, w->out.count);
	w->out.count = 0;
	return rc;
}

static inline int put(writer *w, const char *s, size_t n)
{
	PK_FORWARD(pk__vec_append(&w->out, 1, s, n));
	return w->out.count >= OUT_CHUNK ? flush(w) : 0;
}

static inline int puts_(writer *w, const char *s)
{
	return put(w, s, strlen(s));
}

static int put_i64(writer *w, int64_t v)
{
	char buf[32], *end = buf + sizeof buf, *s = pk__format_int(v, end);
	return put(w, s, (size_t)(end - s));
}

/* The length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_length(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t min, cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, min = 0x80, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, min = 0x800, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, min = 0x10000, cp = c & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Whether the 8 bytes at s are all printable ASCII but '"' and '\\':
 * bytes under 0x20 or 0x80 and up, or equal to either, set a high bit. */
static bool plain8(const unsigned char *s)
{
	const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
	uint64_t x, q, b;
	memcpy(&x, s, 8);
	q = x ^ ones * '"';
	b = x ^ ones * '\\';
	return ((x | (x - ones * 0x20) | ((q - ones) & ~q) | ((b - ones) & ~b)) & highs) == 0;
}

/* A JSON string: bytes that are not UTF-8 become U+FFFD, as JSON must be
 * UTF-8 and speedscope reads it as such. */
static int put_string(writer *w, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	PK_FORWARD(put(w, "\"", 1));
	size_t run = 0; /* bytes that go out as they are, from s */
	for (size_t i = 0; i < n;) {
		/* plain ASCII, nearly all of names and files, 8 bytes a step */
		if (i + 8 <= n && plain8(s + i)) {
			i += 8;
			continue;
		}
		unsigned char c = s[i];
		size_t len = c >= 0x20 && c != '"' && c != '\\' ? utf8_length(s + i, n - i) : 0;
		if (len > 0) {
			i += len;
			continue;
		}
		PK_FORWARD(put(w, (const char *)s + run, i - run));
		char esc[8];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			PK_FORWARD(put(w, esc, 2));
		} else if (c < 0x20) {
			snprintf(esc, sizeof esc, "\\u%04x", c);
			PK_FORWARD(put(w, esc, 6));
		} else {
			PK_FORWARD(put(w, "\\ufffd", 6));
		}
		run = ++i;
	}
	PK_FORWARD(put(w, (const char *)s + run, n - run));
	return put(w, "\"", 1);
}

/* The unit speedscope knows for a pprof unit, or "none". */
static const char *speedscope_unit(const char *unit)
{
	static const struct {
		const char *alias, *unit;
	} units[] = {
	    {"nanoseconds", "nanoseconds"},
	    {"nanosecond", "nanoseconds"},
	    {"ns", "nanoseconds"},
	    {"microseconds", "microseconds"},
	    {"microsecond", "microseconds"},
	    {"us", "microseconds"},
	    {"\xc2\xb5s", "microseconds"},
	    {"milliseconds", "milliseconds"},
	    {"millisecond", "milliseconds"},
	    {"ms", "milliseconds"},
	    {"seconds", "seconds"},
	    {"second", "seconds"},
	    {"s", "seconds"},
	    {"bytes", "bytes"},
	    {"byte", "bytes"},
	    {"b", "bytes"},
	};
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (strcasecmp(unit, units[i].alias) == 0)
			return units[i].unit;
	return "none";
}

static uint32_t key_hash(const char *name, size_t name_len, uint64_t more)
{
	uint64_t h = (pk__hash_bytes(name, name_len) ^ more) * 0x9e3779b97f4a7c15u;
	return (uint32_t)(h ^ (h >> 32));
}

/* Where the start line of (name, cleaned file) is, or the empty slot
 * for it. A key's name is its first function's. */
static size_t start_slot(const writer *w, const char *name, const char *file, size_t file_len,
                         uint32_t h)
{
	const pk__item_table *t = &w->start_tab;
	const start_rec *recs = w->starts.items;
	size_t at = h & (t->count - 1);
	for (; t->slots[at].item != 0; at = (at + 1) & (t->count - 1)) {
		const start_rec *r = &recs[t->slots[at].item - 1];
		if (t->slots[at].hash != h)
			continue;
		const pk_function *f = pk_profile_function(w->p, r->function);
		size_t len;
		const char *clean = r->file ? pk__strtab_get(w->files, r->file, &len)
		                            : pk_profile_string(w->p, f->filename);
		if (r->file == 0)
			len = strlen(clean);
		if (len == file_len && (len == 0 || memcmp(clean, file, len) == 0) &&
		    strcmp(pk_profile_string(w->p, f->name), name) == 0)
			break;
	}
	return at;
}

static uint32_t start_hash(const char *name, const char *file, size_t file_len)
{
	return key_hash(name, strlen(name), pk__hash_bytes(file, file_len));
}

/* The start lines of functions by (name, cleaned file): frames at the
 * functions granularity show where their function starts. Functions
 * without one add nothing: a key none has is not wanted. */
static int collect_start_lines(writer *w)
{
	pk__vec file = {0}; /* char: a function's file, cleaned */
	int rc = pk__strtab_new(&w->files);
	for (size_t i = 0; rc == 0 && i < pk_profile_function_count(w->p); i++) {
		const pk_function *f = pk_profile_function(w->p, i);
		if (f->start_line == 0)
			continue;
		const char *name = pk_profile_string(w->p, f->name);
		const char *raw = pk_profile_string(w->p, f->filename);
		file.count = 0;
		if (*raw)
			rc = pk__clean_path(&file, raw);
		size_t at = 0;
		if (rc == 0)
			rc = pk__item_table_room(&w->start_tab);
		uint32_t h = start_hash(name, file.items, file.count);
		if (rc == 0)
			at = start_slot(w, name, file.items, file.count, h);
		if (rc == 0 && w->start_tab.slots[at].item == 0) {
			/* A clean file is the profile's string: only others are copied. */
			start_rec r = {(uint32_t)i, 0, 0};
			if (file.count != strlen(raw) ||
			    (file.count && memcmp(raw, file.items, file.count) != 0))
				rc = pk__strtab_intern(w->files, file.items, file.count, &r.file);
			size_t index;
			if (rc == 0)
				rc = pk__vec_push(&w->starts, sizeof r, &r, 1, &index);
			if (rc == 0)
				pk__item_table_put(&w->start_tab, at, h, index);
		}
		if (rc < 0)
			break;
		start_rec *r = &PK_VEC_AT(w->starts, start_rec, w->start_tab.slots[at].item - 1);
		if (r->line == 0 || f->start_line < r->line)
			r->line = f->start_line;
	}
	pk__vec_free(&file);
	return rc;
}

static int start_line(writer *w, const char *function, const char *file, int64_t *out)
{
	*out = 0;
	if (w->start_tab.count == 0)
		return 0;
	size_t len = strlen(file);
	size_t at = start_slot(w, function, file, len, start_hash(function, file, len));
	if (w->start_tab.slots[at].item != 0)
		*out = PK_VEC_AT(w->starts, start_rec, w->start_tab.slots[at].item - 1).line;
	return 0;
}

/* The shared frame of tree frame f. */
static int shared_frame(writer *w, const pk__tree *t, uint32_t f, uint32_t *out)
{
	if (w->shared[f] != 0) {
		*out = w->shared[f] - 1;
		return 0;
	}
	const pk__tree_frame *tf = &t->frames[f];
	int g = w->o->granularity;
	const char *name = tf->name;
	size_t name_len = tf->name_len;
	int64_t line = 0;
	/* The tree is built at file and function granularity, its names
	 * "function file"; the function alone is the name's start (taken
	 * from the name, which keeps NUL bytes that tf->function loses). */
	if (g == PK_GRANULARITY_FUNCTIONS && tf->function[0] != '\0' && tf->file[0] != '\0')
		name_len -= strlen(tf->file) + 1;
	if (g == PK_GRANULARITY_LINES || g == PK_GRANULARITY_ADDRESSES)
		line = tf->line;
	else if (g != PK_GRANULARITY_FILES && tf->function[0] != '\0')
		PK_FORWARD(start_line(w, tf->function, tf->file, &line));
	PK_FORWARD(pk__item_table_room(&w->frame_tab));
	uint64_t more = pk__hash_bytes(tf->file, strlen(tf->file)) ^ (uint64_t)line;
	uint32_t h = key_hash(name, name_len, more);
	pk__item_table *ft = &w->frame_tab;
	const frame_out *fos = w->frame_info.items;
	size_t at = h & (ft->count - 1);
	for (; ft->slots[at].item != 0; at = (at + 1) & (ft->count - 1)) {
		const frame_out *fo = &fos[ft->slots[at].item - 1];
		if (ft->slots[at].hash == h && fo->name_len == name_len && fo->line == line &&
		    memcmp(fo->name, name, name_len) == 0 && strcmp(fo->file, tf->file) == 0)
			break;
	}
	if (ft->slots[at].item == 0) {
		frame_out fo = {name, tf->file, name_len, line};
		size_t index;
		PK_FORWARD(pk__vec_push(&w->frame_info, sizeof fo, &fo, 1, &index));
		pk__item_table_put(ft, at, h, index);
	}
	w->shared[f] = ft->slots[at].item;
	*out = ft->slots[at].item - 1;
	return 0;
}

/* Stack i's value: its own, less the base's when there is one. */
static int64_t stack_value(const pk__tree *t, size_t i)
{
	int64_t self = t->self[i];
	return t->has_base ? (int64_t)((uint64_t)self - (uint64_t)t->base_self[i]) : self;
}

/* One sampled profile from the tree of one sample type. */
static int write_profile(writer *w, const pk__tree *t, bool first)
{
	uint64_t total = 0, left_out = 0;
	size_t written = 0;
	/* The root's own stack (samples without locations) comes first. */
	size_t from = t->stack_count && t->stacks[0].len == 0 ? 1 : 0;
	int64_t root = from ? stack_value(t, 0) : 0;
	for (size_t i = 0; i < t->stack_count; i++) {
		int64_t v = stack_value(t, i);
		if (v > 0)
			total += (uint64_t)v, written++;
		else if (v < 0)
			left_out += (uint64_t)v;
	}

	const char *unit = speedscope_unit(t->unit);
	PK_FORWARD(puts_(w, first ? "\n  {\"type\": \"sampled\", \"name\": "
	                          : ",\n  {\"type\": \"sampled\", \"name\": "));
	char name[512];
	int n = snprintf(name, sizeof name, "%s", t->type);
	if (t->has_base && (size_t)n < sizeof name)
		n += snprintf(name + n, sizeof name - (size_t)n, " (growth over the base%s",
		              left_out ? "; stacks that shrank" : ")");
	else if (left_out && (size_t)n < sizeof name)
		n += snprintf(name + n, sizeof name - (size_t)n, " (stacks of negative value");
	if (left_out && (size_t)n < sizeof name) {
		const char *u = strcmp(unit, "none") == 0 ? "" : unit;
		snprintf(name + n, sizeof name - (size_t)n,
		         ", %" PRId64 "%s%s in all, are left out)", (int64_t)left_out,
		         *u ? " " : "", u);
	}
	PK_FORWARD(put_string(w, name, strlen(name)));
	PK_FORWARD(puts_(w, ", \"unit\": "));
	PK_FORWARD(put_string(w, unit, strlen(unit)));
	char buf[96];
	snprintf(buf, sizeof buf,
	         ", \"startValue\": 0, \"endValue\": %" PRIu64 ",\n   \"samples\": [", total);
	PK_FORWARD(puts_(w, buf));

	w->numbered = 0;
	/* Every profile is written from the same tree, whose frames keep
	 * their shared frames: each is looked up once (a few cache misses in
	 * the profile's functions and strings), not once per profile. */
	if (w->shared == NULL) {
		w->shared = pk__calloc(t->frame_count + 1, sizeof *w->shared);
		w->frames = pk__calloc((size_t)t->max_len + 1, sizeof *w->frames);
		if (w->shared == NULL || w->frames == NULL)
			return PK_ENOMEM;
	}
	size_t k = 0;
	char num[32] = {0}; /* a number ends at num + 16; 11 bytes go from its start */
	if (root > 0) {
		PK_FORWARD(puts_(w, "\n    []"));
		k++;
	}
	for (size_t i = from; i < t->stack_count; i++) {
		const pk__tree_stack *st = &t->stacks[i];
		/* Shared frames are numbered only as written stacks use them, so
		 * that a stack left out leaves no gap and reading the file back
		 * numbers them the same. */
		size_t depth = st->len;
		if (w->numbered > st->shared)
			w->numbered = st->shared;
		pk__tree_frames(t, i, w->frames);
		if (stack_value(t, i) <= 0)
			continue;
		PK_FORWARD(puts_(w, k++ ? ",\n    [" : "\n    ["));
		/* The frames above were numbered when the last stack was written,
		 * as far as it shares them; the rest are numbered now, in order. */
		if (w->line_ends.count < depth)
			PK_FORWARD(pk__vec_push(&w->line_ends, sizeof(size_t), NULL,
			                        depth - w->line_ends.count, NULL));
		size_t *ends = w->line_ends.items;
		w->line.count = w->numbered ? ends[w->numbered - 1] : 0;
		/* room for 11 bytes a number, which go whole (a fixed copy is
		 * quicker), the line growing by the number's own */
		PK_FORWARD(pk__vec_reserve(&w->line, 1, (depth - w->numbered) * 11));
		for (size_t j = w->numbered; j < depth; j++) {
			uint32_t f;
			PK_FORWARD(shared_frame(w, t, w->frames[j], &f));
			char *s = pk__format_int(f, num + 16);
			if (j)
				*--s = ',';
			memcpy((char *)w->line.items + w->line.count, s, 11);
			w->line.count += (size_t)(num + 16 - s);
			ends[j] = w->line.count;
		}
		w->numbered = depth;
		PK_FORWARD(put(w, w->line.items, w->line.count));
		PK_FORWARD(put(w, "]", 1));
	}
	PK_FORWARD(puts_(w, written ? "\n   ],\n   \"weights\": [" : "],\n   \"weights\": ["));
	k = 0;
	if (root > 0) {
		PK_FORWARD(puts_(w, "\n    "));
		PK_FORWARD(put_i64(w, root));
		k++;
	}
	for (size_t i = from; i < t->stack_count; i++) {
		int64_t v = stack_value(t, i);
		if (v <= 0)
			continue;
		PK_FORWARD(puts_(w, k++ ? ",\n    " : "\n    "));
		PK_FORWARD(put_i64(w, v));
	}
	return puts_(w, written ? "\n   ]}" : "]}");
}

static int write_frames(writer *w)
{
	PK_FORWARD(puts_(w, "\n ],\n \"shared\": {\"frames\": ["));
	const frame_out *fo = w->frame_info.items;
	for (size_t i = 0; i < w->frame_info.count; i++) {
		PK_FORWARD(puts_(w, i ? ",\n  {\"name\": " : "\n  {\"name\": "));
		PK_FORWARD(put_string(w, fo[i].name, fo[i].name_len));
		if (fo[i].file[0] != '\0') {
			PK_FORWARD(puts_(w, ", \"file\": "));
			PK_FORWARD(put_string(w, fo[i].file, strlen(fo[i].file)));
		}
		if (fo[i].line) {
			PK_FORWARD(puts_(w, ", \"line\": "));
			PK_FORWARD(put_i64(w, fo[i].line));
		}
		PK_FORWARD(put(w, "}", 1));
	}
	PK_FORWARD(puts_(w, w->frame_info.count ? "\n ]}\n}\n" : "]}\n}\n"));
	return flush(w);
}

/* The file's name: the base name of the main binary (the first mapping),
 * as that is what was profiled; the writer knows no file name. */
static void group_name(const pk_profile *p, const char **name, size_t *len)
{
	const pk_mapping *m = pk_profile_mapping(p, 0);
	const char *file = m ? pk_profile_string(p, m->filename) : "";
	const char *slash = strrchr(file, '/');
	if (slash != NULL && slash[1] != '\0')
		file = slash + 1;
	*name = *file ? file : "profile";
	*len = strlen(*name);
}

static int write_file(writer *w, pk_error *err)
{
	const pk_profile *p = w->p;
	size_t types = pk_profile_sample_type_count(p), first = 0, count = types, active = 0;
	bool one = w->o->sample_type != NULL && w->o->sample_type[0] != '\0';
	if (one || (types == 0 && w->o->base != NULL)) {
		PK_FORWARD(pk_profile_find_sample_type(p, w->o->sample_type, &first, err));
		count = 1;
	} else if (types > 0) {
		PK_FORWARD(pk_profile_find_sample_type(p, NULL, &active, err));
	}

	PK_FORWARD(puts_(w, "{\"$schema\": \"" SCHEMA_URL "\",\n \"exporter\": "));
	char exporter[64];
	snprintf(exporter, sizeof exporter, "profkit %s", pk_version());
	PK_FORWARD(put_string(w, exporter, strlen(exporter)));
	const char *name = w->o->name;
	size_t name_len = name ? strlen(name) : 0;
	if (name_len == 0)
		group_name(p, &name, &name_len);
	PK_FORWARD(puts_(w, ",\n \"name\": "));
	PK_FORWARD(put_string(w, name, name_len));
	char buf[64];
	snprintf(buf, sizeof buf, ",\n \"activeProfileIndex\": %zu,\n \"profiles\": [", active);
	PK_FORWARD(puts_(w, buf));
	if (types == 0) {
		/* speedscope needs a profile to show: an empty one */
		PK_FORWARD(puts_(w,
		                 "\n  {\"type\": \"sampled\", \"name\": \"samples\", \"unit\": "
		                 "\"none\", \"startValue\": 0, \"endValue\": 0,\n   \"samples\": "
		                 "[],\n   \"weights\": []}"));
	}
	/* One tree for every sample type: the stacks are walked once. */
	pk__tree *t = NULL;
	int rc = 0;
	for (size_t i = first; rc == 0 && i < first + count; i++) {
		char index[24];
		snprintf(index, sizeof index, "%zu", i);
		int g = w->o->granularity == PK_GRANULARITY_FUNCTIONS ? PK_GRANULARITY_FILEFUNCTIONS
		                                                      : w->o->granularity;
		pk__tree_options to = {index, w->o->base, g, false, count > 1};
		bool built = t != NULL;
		rc = built ? pk__tree_select_type(t, index, err) : pk__tree_build(p, &to, &t, err);
		/* After the tree, whose build is the peak of memory. */
		if (rc == 0 && !built && w->o->granularity <= PK_GRANULARITY_FILEFUNCTIONS)
			rc = collect_start_lines(w);
		if (rc == 0)
			rc = write_profile(w, t, i == first);
	}
	/* The frames' strings are the tree's. */
	if (rc == 0)
		rc = write_frames(w);
	pk__tree_free(t);
	return rc;
}

static int speedscope_export(const pk_profile *p, const pk_write_options *opts, pk__sink *sink,
                             pk_error *err)
{
	writer w = {.p = p, .o = opts, .sink = sink};
	int rc = write_file(&w, err);
	pk__vec_free(&w.out);
	pk__vec_free(&w.frame_info);
	pk__free(w.frame_tab.slots);
	pk__vec_free(&w.starts);
	pk__free(w.start_tab.slots);
	pk__strtab_free(w.files);
	pk__vec_free(&w.line);
	pk__vec_free(&w.line_ends);
	pk__free(w.shared);
	pk__free(w.frames);
	return rc == PK_ENOMEM ? pk__error_set(err, rc, "out of memory") : rc;
}

static const char *const speedscope_extensions[] = {".speedscope.json", NULL};

const pk_format pk__format_speedscope = {
    .name = "speedscope",
    .description = "speedscope's JSON file format (sampled and evented profiles)",
    .extensions = speedscope_extensions,
    .one_value = true,
    .sniff = speedscope_sniff,
    .import = speedscope_import,
    .export = speedscope_export,
};
