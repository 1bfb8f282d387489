/* json.c - profkit's own JSON form of the model, read and written.
 *
 * The document is one object whose arrays (samples above all) can hold
 * millions of elements and is read and written at hundreds of MB/s, so
 * neither side builds a jansson tree. The exporter formats the document
 * itself into blocks of bytes, exactly as jansson's compact form did. The
 * importer walks the outer object once to find each key's value, then
 * reads each element straight from the input bytes with a small reader of
 * this schema; an element that reader is not sure of is parsed by jansson
 * and read by the code that read every element before, which keeps every
 * message and position as it was. Memory stays the input plus the model
 * (and a few parts of the samples read ahead by a second thread, see
 * "samples on two threads"), and every element keeps its place in the
 * input for messages.
 *
 * Objects refer to each other by pprof id, as in profile.proto; strings are
 * written out, not as string-table indices. The string table still comes
 * last, so that its order (which decides pprof's bytes) survives a round
 * trip. jansson integers are int64, so the uint64 fields are written as
 * "0x..." strings, and ids too large for int64 as decimal strings.
 * docs/formats/json.md has the schema. */
#include "internal.h"

#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define JSON_MARKER "profkit-profile"
#define JSON_VERSION 1

/* The top-level keys, in the order the exporter writes them. */
enum {
	K_FORMAT,
	K_VERSION,
	K_SAMPLE_TYPES,
	K_DEFAULT_SAMPLE_TYPE,
	K_PERIOD_TYPE,
	K_PERIOD,
	K_TIME_NANOS,
	K_DURATION_NANOS,
	K_COMMENTS,
	K_DROP_FRAMES,
	K_KEEP_FRAMES,
	K_DOC_URL,
	K_MAPPINGS,
	K_FUNCTIONS,
	K_LOCATIONS,
	K_SAMPLES,
	K_STRING_TABLE,
	K_COUNT
};

static const char *const top_keys[K_COUNT] = {
    "format",       "version",     "sample_types", "default_sample_type",
    "period_type",  "period",      "time_nanos",   "duration_nanos",
    "comments",     "drop_frames", "keep_frames",  "doc_url",
    "mappings",     "functions",   "locations",    "samples",
    "string_table",
};

/* ----------------------------------------------------------- field tables */

/* The fields of an element, shared by the importer and the exporter so
 * that the two cannot drift apart. Fields at their default (0, "", false)
 * are left out when writing, unless `always`; `required` ones must be there
 * when reading. F_ANY fields are handled by the caller. */
typedef enum { F_ID, F_ADDR, F_I64, F_STR, F_BOOL, F_ANY } field_kind;

typedef struct field {
	const char *key;
	field_kind kind;
	bool required, always;
	size_t offset; /* of a uint64_t, int64_t, pk_str or unsigned char */
} field;

/* Locations and lines refer to other objects by id in JSON, by index in
 * the model; these records hold the JSON side. */
typedef struct location_rec {
	uint64_t id, mapping_id, address;
	unsigned char is_folded;
} location_rec;

typedef struct line_rec {
	uint64_t function_id;
	int64_t line, column;
} line_rec;

static const field value_type_fields[] = {
    {"type", F_STR, false, true, offsetof(pk_value_type, type)},
    {"unit", F_STR, false, true, offsetof(pk_value_type, unit)},
    {NULL, F_ANY, false, false, 0},
};

static const field mapping_fields[] = {
    {"id", F_ID, true, true, offsetof(pk_mapping, id)},
    {"memory_start", F_ADDR, false, false, offsetof(pk_mapping, memory_start)},
    {"memory_limit", F_ADDR, false, false, offsetof(pk_mapping, memory_limit)},
    {"file_offset", F_ADDR, false, false, offsetof(pk_mapping, file_offset)},
    {"filename", F_STR, false, false, offsetof(pk_mapping, filename)},
    {"build_id", F_STR, false, false, offsetof(pk_mapping, build_id)},
    {"has_functions", F_BOOL, false, false, offsetof(pk_mapping, has_functions)},
    {"has_filenames", F_BOOL, false, false, offsetof(pk_mapping, has_filenames)},
    {"has_line_numbers", F_BOOL, false, false, offsetof(pk_mapping, has_line_numbers)},
    {"has_inline_frames", F_BOOL, false, false, offsetof(pk_mapping, has_inline_frames)},
    {NULL, F_ANY, false, false, 0},
};

static const field function_fields[] = {
    {"id", F_ID, true, true, offsetof(pk_function, id)},
    {"name", F_STR, false, false, offsetof(pk_function, name)},
    {"system_name", F_STR, false, false, offsetof(pk_function, system_name)},
    {"filename", F_STR, false, false, offsetof(pk_function, filename)},
    {"start_line", F_I64, false, false, offsetof(pk_function, start_line)},
    {NULL, F_ANY, false, false, 0},
};

static const field location_fields[] = {
    {"id", F_ID, true, true, offsetof(location_rec, id)},
    {"mapping_id", F_ID, false, false, offsetof(location_rec, mapping_id)},
    {"address", F_ADDR, false, false, offsetof(location_rec, address)},
    {"is_folded", F_BOOL, false, false, offsetof(location_rec, is_folded)},
    {"lines", F_ANY, false, false, 0},
    {NULL, F_ANY, false, false, 0},
};

static const field line_fields[] = {
    {"function_id", F_ID, true, true, offsetof(line_rec, function_id)},
    {"line", F_I64, false, false, offsetof(line_rec, line)},
    {"column", F_I64, false, false, offsetof(line_rec, column)},
    {NULL, F_ANY, false, false, 0},
};

/* Written by hand (see label_json): "num" stays even when 0 in a numeric
 * label, so that the label reads as one. */
static const field label_fields[] = {
    {"key", F_STR, true, true, offsetof(pk_label, key)},
    {"str", F_STR, false, false, offsetof(pk_label, str)},
    {"num", F_I64, false, false, offsetof(pk_label, num)},
    {"num_unit", F_STR, false, false, offsetof(pk_label, num_unit)},
    {NULL, F_ANY, false, false, 0},
};

static const field sample_fields[] = {
    {"locations", F_ANY, false, true, 0},
    {"values", F_ANY, true, true, 0},
    {"labels", F_ANY, false, false, 0},
    {NULL, F_ANY, false, false, 0},
};

/* --------------------------------------------------------------- importer */

/* The fast path's answer for an element it leaves to jansson: anything
 * unusual (an escape in a key, a real number, a duplicate key, a dangling
 * id, bad syntax...). The element is then parsed again by jansson and read
 * by the code below, which accepts what it should and reports any error
 * with the message and place it always had. */
#define MISS 1

/* Where a value is, for messages: "period", "samples[3]" or
 * "locations[2].lines[0]", and the input offset of that element. */
typedef struct where {
	const char *name;
	size_t index; /* SIZE_MAX: none */
	const char *sub;
	size_t sub_index;
	size_t at;
} where;

/* Labels repeat their keys, and often their values, sample after sample:
 * a string equal to the last of its label field at the same position in a
 * sample is interned already, and is found without a hash and a look in
 * the string table. By position, as writers put a sample's labels in the
 * same order: one entry per field would see each key replaced by the next
 * label's. */
#define LABEL_FIELDS 4
#define RECENT_LABELS 16
#define RECENT_MAX 64
typedef struct recent_str {
	bool valid;
	size_t len;
	pk_str str;
	unsigned char bytes[RECENT_MAX];
} recent_str;

/* A sample the fast path read, waiting in a batch to be added: its
 * locations, values and labels are in the import state's scratch arrays
 * after those of the samples before it. */
#define SAMPLE_BATCH 16
typedef struct pending_sample {
	size_t locs, depth, labels, label_count;
	uint32_t hash;
} pending_sample;

typedef struct importer {
	const unsigned char *data;
	size_t size;
	pk_profile *p;
	pk_error *err;
	size_t top;             /* offset of the outer '{' */
	size_t unknown_at;      /* offset of the first unknown key, or SIZE_MAX */
	bool seen[K_COUNT];     /* top-level keys present */
	size_t at[K_COUNT];     /* offset of each top-level value */
	size_t counts[K_COUNT]; /* elements of the array values */
	pk__import_state st;    /* id maps and scratch arrays */
	pk__vec bytes;          /* char: a decoded {"hex": ...} string */
	pk__vec scratch;        /* char: the fast path's unescaped strings */
	pk__vec label_recs;     /* label_rec: the fast path's labels */
	/* A mapped input's first byte that the pass over it still holds;
	 * NULL for an input in memory, which is held whole. */
	const unsigned char *kept;
	bool guess;         /* guess_tail may find the string table */
	size_t samples_end; /* where it says the samples end; 0: no guess */
	size_t table_end;   /* and where the string table ends */
	/* guess_middle's keys after the functions and after the locations
	 * (each's opening quote); 0: not guessed */
	size_t after_functions, after_locations;
	size_t walked_end; /* where the last walk_array ended */
	/* n when the n locations have the ids 1 to n in order, as writers
	 * number them: a sample's ids are then their indices + 1, without a
	 * look in the id map (a cache miss a frame); else 0 */
	size_t plain_ids;
	/* each label string field's last string, by the label's position */
	recent_str recent[RECENT_LABELS][LABEL_FIELDS];
	pending_sample batch[SAMPLE_BATCH];
	size_t batch_count;
	/* a view that reads samples on either thread (see decode_part): it
	 * allocates nothing, and misses where its arrays are full */
	bool fixed;
} importer;
_Static_assert(sizeof label_fields / sizeof label_fields[0] == LABEL_FIELDS + 1,
               "a recent string for each label field");

/* A pass over a mapped input gives back the pages behind it a MiB at a
 * time (a call per element would cost more than the memory is worth):
 * the text is larger than the model, and every pass but the first reads
 * only part of it. A page looked at again comes back from the file. */
#define DISCARD_STEP ((size_t)1 << 20)

static void pass_start(importer *im, size_t pos)
{
	if (im->kept != NULL)
		im->kept = im->data + pos;
}

static inline void pass_at(importer *im, size_t pos)
{
	if (im->kept != NULL && (size_t)(im->data + pos - im->kept) >= DISCARD_STEP)
		im->kept =
		    pk__discard_pages((unsigned char *)im->kept, (unsigned char *)im->data + pos);
}

/* Some Windows tools start UTF-8 text with a byte order mark; JSON allows
 * a reader to ignore it, and we do. Returns the bytes to skip. */
static size_t bom_length(const unsigned char *d, size_t size)
{
	return size >= 3 && d[0] == 0xef && d[1] == 0xbb && d[2] == 0xbf ? 3 : 0;
}

/* The 1-based line and column of byte `at`; columns count characters, as
 * jansson's do. Only called for an error, so a scan from the start is fine. */
static void locate(const importer *im, size_t at, long *line, long *column)
{
	long l = 1, c = 0;
	for (size_t i = bom_length(im->data, im->size); i < at && i < im->size; i++) {
		if (im->data[i] == '\n') {
			l++;
			c = 0;
		} else if ((im->data[i] & 0xc0) != 0x80) {
			c++;
		}
	}
	*line = l;
	*column = c + 1;
}

static int vfail_at(importer *im, size_t at, const char *prefix, const char *fmt, va_list ap)
{
	if (im->err == NULL || im->err->code != 0)
		return PK_EFORMAT;
	char msg[PK_ERROR_MESSAGE_MAX];
	vsnprintf(msg, sizeof msg, fmt, ap);
	long line, column;
	locate(im, at, &line, &column);
	return pk__error_at_line(im->err, PK_EFORMAT, line, column, (long long)at, "%s%s", prefix,
	                         msg);
}

/* A PK_EFORMAT error at byte `at`. */
static int fail_at(importer *im, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_at(importer *im, size_t at, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = vfail_at(im, at, "", fmt, ap);
	va_end(ap);
	return rc;
}

/* A PK_EFORMAT error about the element w; the message starts with its
 * path, so fmt continues it: ".id is 0", " is not an object". */
static int fail_in(importer *im, const where *w, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_in(importer *im, const where *w, const char *fmt, ...)
{
	char path[160];
	int n = snprintf(path, sizeof path, "%s", w->name);
	if (w->index != SIZE_MAX && n >= 0 && (size_t)n < sizeof path)
		n += snprintf(path + n, sizeof path - (size_t)n, "[%zu]", w->index);
	if (w->sub != NULL && n >= 0 && (size_t)n < sizeof path)
		snprintf(path + n, sizeof path - (size_t)n, ".%s[%zu]", w->sub, w->sub_index);
	va_list ap;
	va_start(ap, fmt);
	int rc = vfail_at(im, w->at, path, fmt, ap);
	va_end(ap);
	return rc;
}

static int out_of_memory(importer *im)
{
	if (im->fixed)
		return MISS;
	return pk__error_set(im->err, PK_ENOMEM, "out of memory");
}

/* The name of a member for messages: "", ".id" or ".values[2]". */
static const char *member_name(char *buf, size_t size, const char *key, size_t index)
{
	if (key == NULL)
		snprintf(buf, size, "%s", "");
	else if (index == SIZE_MAX)
		snprintf(buf, size, ".%s", key);
	else
		snprintf(buf, size, ".%s[%zu]", key, index);
	return buf;
}

/* ------------------------------------------------ the outer structure */

static bool is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_delimiter(unsigned char c)
{
	return is_ws(c) || c == ',' || c == ':' || c == '[' || c == ']' || c == '{' || c == '}' ||
	       c == '"';
}

static size_t skip_ws(const unsigned char *d, size_t size, size_t pos)
{
	while (pos < size && is_ws(d[pos]))
		pos++;
	return pos;
}

/* The first byte in [i, size) that is a quote, a bracket, a brace or c,
 * or size. Sixteen bytes a step where SSE2 is there: the outer walk runs
 * over the whole input, and most of it is digits between these few bytes. */
static inline size_t find_special(const unsigned char *d, size_t size, size_t i, char c)
{
#ifdef __SSE2__
	const __m128i quote = _mm_set1_epi8('"'), open = _mm_set1_epi8('['),
	              close = _mm_set1_epi8(']'), open_brace = _mm_set1_epi8('{'),
	              close_brace = _mm_set1_epi8('}'), other = _mm_set1_epi8(c);
	for (; size - i >= 16; i += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(d + i));
		__m128i hit = _mm_or_si128(
		    _mm_or_si128(
		        _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, open)),
		        _mm_or_si128(_mm_cmpeq_epi8(x, close), _mm_cmpeq_epi8(x, open_brace))),
		    _mm_or_si128(_mm_cmpeq_epi8(x, close_brace), _mm_cmpeq_epi8(x, other)));
		unsigned bits = (unsigned)_mm_movemask_epi8(hit);
		if (bits != 0)
			return i + (size_t)__builtin_ctz(bits);
	}
#endif
	while (i < size && d[i] != '"' && d[i] != '[' && d[i] != ']' && d[i] != '{' &&
	       d[i] != '}' && d[i] != (unsigned char)c)
		i++;
	return i;
}

/* The last byte in [floor, end) that is a quote, a bracket or a brace, or
 * SIZE_MAX: guess_tail's scan back over the string table, as
 * find_special. */
static inline size_t find_special_back(const unsigned char *d, size_t floor, size_t end)
{
#ifdef __SSE2__
	const __m128i quote = _mm_set1_epi8('"'), open = _mm_set1_epi8('['),
	              close = _mm_set1_epi8(']'), open_brace = _mm_set1_epi8('{'),
	              close_brace = _mm_set1_epi8('}');
	for (; end - floor >= 16; end -= 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(d + end - 16));
		__m128i hit =
		    _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, open)),
		                 _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, close),
		                                           _mm_cmpeq_epi8(x, open_brace)),
		                              _mm_cmpeq_epi8(x, close_brace)));
		unsigned bits = (unsigned)_mm_movemask_epi8(hit);
		if (bits != 0)
			return end - 16 + (size_t)(31 - __builtin_clz(bits));
	}
#endif
	while (end > floor) {
		unsigned char c = d[--end];
		if (c == '"' || c == '[' || c == ']' || c == '{' || c == '}')
			return end;
	}
	return SIZE_MAX;
}

/* Find where the JSON value at pos ends, without parsing it (the element
 * readers do that later): strings and brackets nested to any depth are
 * matched, a bare scalar runs to the next delimiter. *count (optional) gets
 * the number of elements of an array. Returns SIZE_MAX if the input ends
 * first. This runs over the whole input once, so it only stops at the
 * bytes that can change the nesting; commas only count in the value's own
 * array. */
static size_t skip_value(importer *im, size_t pos, size_t *count)
{
	const unsigned char *d = im->data;
	size_t size = im->size;
	if (pos >= size)
		return pos;
	if (d[pos] != '"' && d[pos] != '[' && d[pos] != '{') {
		while (pos < size && !is_delimiter(d[pos]))
			pos++;
		return pos;
	}
	size_t depth = 0, commas = 0;
	/* An array has elements unless only white space is inside it. */
	size_t first = skip_ws(d, size, pos + 1);
	bool content = d[pos] != '"' && first < size && d[first] != ']' && d[first] != '}';
	for (size_t i = pos; i < size; i++) {
		/* Commas only count in the value's own array. */
		i = find_special(d, size, i, depth == 1 ? ',' : '"');
		if (i >= size)
			break;
		pass_at(im, i);
		switch (d[i]) {
		case '"':
			/* A quote ends the string unless an odd number of
			 * backslashes precede it (the opening quote stops them). */
			for (i++;; i++) {
				const unsigned char *q = memchr(d + i, '"', size - i);
				if (q == NULL)
					return SIZE_MAX;
				i = (size_t)(q - d);
				size_t k = i;
				while (d[k - 1] == '\\')
					k--;
				if ((i - k) % 2 == 0)
					break;
			}
			if (depth == 0)
				return i + 1;
			break;
		case '[':
		case '{': depth++; break;
		case ']':
		case '}':
			if (--depth == 0) {
				if (count)
					*count = content ? commas + 1 : 0;
				return i + 1;
			}
			break;
		default: /* ',' */ commas++; break;
		}
	}
	return SIZE_MAX;
}

/* Report jansson's error for bytes parsed from `start`. jansson's position
 * counts the bytes it read, the offending one included. */
static int syntax_error(importer *im, size_t start, const json_error_t *e)
{
	if (json_error_code(e) == json_error_out_of_memory)
		return out_of_memory(im);
	size_t at = start + (e->position > 0 ? (size_t)e->position - 1 : 0);
	if (at >= im->size)
		at = im->size > 0 ? im->size - 1 : 0;
	while (at > start && (im->data[at] & 0xc0) == 0x80)
		at--;
	return fail_at(im, at, "invalid JSON: %s", e->text);
}

/* Parse the value in [start, end) with jansson; *out is owned. */
static int parse_span(importer *im, size_t start, size_t end, json_t **out)
{
	if (end - start > INT_MAX) /* jansson counts positions in int */
		return fail_at(im, start, "a JSON value of %zu bytes is too large", end - start);
	json_error_t e;
	*out = json_loadb((const char *)im->data + start, end - start,
	                  JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e);
	return *out ? 0 : syntax_error(im, start, &e);
}

/* "expected WHAT, found X" about the byte at pos. */
static int expected(importer *im, size_t pos, const char *what)
{
	if (pos >= im->size)
		return fail_at(im, pos, "expected %s, found the end of the input", what);
	unsigned char c = im->data[pos];
	if (c < 0x20 || c > 0x7e)
		return fail_at(im, pos, "expected %s, found byte 0x%02x", what, c);
	return fail_at(im, pos, "expected %s, found '%c'", what, c);
}

/* The end of the value at pos, which must be there. */
static int value_end(importer *im, size_t pos, size_t *count, size_t *out)
{
	size_t end = skip_value(im, pos, count);
	if (end == SIZE_MAX) {
		/* The input ends inside it: let jansson say where and why. */
		json_t *v = NULL;
		PK_FORWARD(parse_span(im, pos, im->size, &v));
		json_decref(v);
		return fail_at(im, pos, "the input ends inside a JSON value");
	}
	if (end == pos)
		return expected(im, pos, "a JSON value");
	*out = end;
	return 0;
}

/* The top-level key at pos: *k gets its K_* index, or K_COUNT if it is
 * unknown. The first unknown key is only noted here and reported after the
 * version check, so that a newer version gets the better message. */
static int read_key(importer *im, size_t pos, int *k, size_t *end)
{
	if (pos >= im->size || im->data[pos] != '"')
		return expected(im, pos, "a key string");
	PK_FORWARD(value_end(im, pos, NULL, end));
	json_t *key = NULL;
	PK_FORWARD(parse_span(im, pos, *end, &key));
	for (*k = 0; *k < K_COUNT; (*k)++)
		if (json_string_length(key) == strlen(top_keys[*k]) &&
		    strcmp(json_string_value(key), top_keys[*k]) == 0)
			break;
	json_decref(key);
	if (*k == K_COUNT && im->unknown_at == SIZE_MAX)
		im->unknown_at = pos;
	if (*k < K_COUNT && im->seen[*k])
		return fail_at(im, pos, "the key \"%s\" appears twice", top_keys[*k]);
	return 0;
}

/* Only whitespace may follow the outer object, which ends before pos. */
static int check_end(importer *im, size_t pos)
{
	pos = skip_ws(im->data, im->size, pos);
	if (pos < im->size)
		return fail_at(im, pos, "unexpected data after the end of the profile");
	return 0;
}

/* The end of the white space that ends before `end` (and after `floor`). */
static size_t skip_ws_back(const unsigned char *d, size_t floor, size_t end)
{
	while (end > floor && is_ws(d[end - 1]))
		end--;
	return end;
}

/* The samples are most of a profile, and the string table after them is
 * read first: rather than skip the samples to find it, take it from the
 * end, where the exporter writes it (`, "string_table": [...] }`), with a
 * scan back over the table alone. The guess is checked as the samples and
 * the table are read: each must end where it says, and the bytes between
 * and after them are checked here, so the document is then the one the
 * whole scan would have found. If a check fails, or the import fails, it
 * starts again with the whole scan, which gives every message as before. */
static bool guess_tail(importer *im, size_t samples_at)
{
	static const char key[] = "\"string_table\"";
	const size_t key_len = sizeof key - 1;
	const unsigned char *d = im->data;
	size_t i = skip_ws_back(d, samples_at, im->size);
	if (im->seen[K_STRING_TABLE] || samples_at >= im->size || d[samples_at] != '[' ||
	    i == samples_at || d[i - 1] != '}')
		return false;
	i = skip_ws_back(d, samples_at, i - 1);
	if (i == samples_at || d[i - 1] != ']')
		return false;
	size_t table_end = i, depth = 0;
	bool in_string = false;
	for (i--; i > samples_at; i--) {
		i = find_special_back(d, samples_at + 1, i + 1);
		if (i == SIZE_MAX) {
			i = samples_at;
			break;
		}
		if (d[i] == '"') {
			size_t k = i;
			while (d[k - 1] == '\\')
				k--;
			in_string ^= (i - k) % 2 == 0;
		} else if (!in_string && (d[i] == ']' || d[i] == '}')) {
			depth++;
		} else if (!in_string && (d[i] == '[' || d[i] == '{') && --depth == 0) {
			break;
		}
	}
	if (i == samples_at || d[i] != '[')
		return false;
	size_t table_at = i;
	i = skip_ws_back(d, samples_at, table_at);
	if (i == samples_at || d[i - 1] != ':')
		return false;
	i = skip_ws_back(d, samples_at, i - 1);
	if (i - samples_at <= key_len || memcmp(d + i - key_len, key, key_len) != 0)
		return false;
	i = skip_ws_back(d, samples_at, i - key_len);
	if (i == samples_at || d[i - 1] != ',')
		return false;
	im->samples_end = skip_ws_back(d, samples_at, i - 1);
	im->table_end = table_end;
	im->seen[K_SAMPLES] = im->seen[K_STRING_TABLE] = true;
	im->at[K_SAMPLES] = samples_at;
	im->at[K_STRING_TABLE] = table_at;
	return true;
}

/* Whether the key (with its quotes) of an array is at i, after from: its
 * array's start then in *value. A quote after a comma cannot be inside a
 * string, so in JSON that parses this is a key (of the outer object or
 * not: the walks check, see guess_middle). */
static bool array_key_at(const importer *im, size_t from, size_t i, const char *key, size_t len,
                         size_t *value)
{
	const unsigned char *d = im->data;
	size_t size = im->size, before = skip_ws_back(d, from, i);
	if (size - i <= len || memcmp(d + i, key, len) != 0 || before == from ||
	    d[before - 1] != ',')
		return false;
	size_t v = skip_ws(d, size, i + len);
	if (v >= size || d[v] != ':')
		return false;
	v = skip_ws(d, size, v + 1);
	*value = v;
	return v < size && d[v] == '[';
}

/* The lines in [from, to): with one element a line, as writers put them,
 * a bound on an array's elements to size its id map by. */
static size_t count_lines(const unsigned char *d, size_t from, size_t to)
{
	size_t n = 0;
	for (const unsigned char *at; from < to && (at = memchr(d + from, '\n', to - from)); n++)
		from = (size_t)(at - d) + 1;
	return n;
}

/* The key of an outer object's array after from (see array_key_at), and
 * the array's start in *value; SIZE_MAX if none. *lines gets the lines
 * before it. A key that starts a line, as the exporter puts it, is found
 * while the lines are counted; else by a search for its text. The pages
 * passed are given back as the scan goes (the walks come back for them
 * one at a time), else they would be the peak of a mapped input. */
static size_t find_array_key(importer *im, size_t from, const char *key, size_t *value,
                             size_t *lines)
{
	const unsigned char *d = im->data;
	size_t size = im->size, len = strlen(key), n = 0, i = from;
	for (const unsigned char *at; (at = memchr(d + i, '\n', size - i)) != NULL; n++) {
		for (i = (size_t)(at - d) + 1; i < size && (d[i] == ' ' || d[i] == '\t'); i++)
			;
		pass_at(im, i);
		if (i < size && d[i] == '"' && array_key_at(im, from, i, key, len, value)) {
			*lines = n + 1;
			return i;
		}
	}
	for (i = from; i < size; i++) {
		const unsigned char *at = memmem(d + i, size - i, key, len);
		if (at == NULL)
			break;
		i = (size_t)(at - d);
		pass_at(im, i);
		if (array_key_at(im, from, i, key, len, value)) {
			*lines = count_lines(d, from, i);
			return i;
		}
	}
	return SIZE_MAX;
}

/* The functions and locations before the samples are a fifth of the
 * text, and skipping them (a byte at a time, for the nesting) would cost
 * the caller's thread more than reading them: in the exporter's order
 * (`"functions": [...], "locations": [...], "samples": [...],
 * "string_table": [...] }`), the locations and samples keys are found by
 * a search for their text instead, and the walks of the functions and
 * the locations must each end right before the next key, the samples
 * and the table where guess_tail says: the document is then the one the
 * whole scan would have found. A wrong guess makes the import start
 * again with the whole scan, as guess_tail's does. */
static bool guess_middle(importer *im, size_t functions_at)
{
	const unsigned char *d = im->data;
	size_t locations_at, samples_at, locations_key, samples_key;
	if (im->seen[K_LOCATIONS] || im->seen[K_SAMPLES] || functions_at >= im->size ||
	    d[functions_at] != '[')
		return false;
	/* Sized by lines, not elements: the whole scan counted those. */
	size_t functions, locations;
	locations_key =
	    find_array_key(im, functions_at, "\"locations\"", &locations_at, &functions);
	if (locations_key == SIZE_MAX)
		return false;
	samples_key = find_array_key(im, locations_at, "\"samples\"", &samples_at, &locations);
	if (samples_key == SIZE_MAX || !guess_tail(im, samples_at))
		return false;
	im->seen[K_FUNCTIONS] = im->seen[K_LOCATIONS] = true;
	im->at[K_FUNCTIONS] = functions_at;
	im->at[K_LOCATIONS] = locations_at;
	im->counts[K_FUNCTIONS] = functions;
	im->counts[K_LOCATIONS] = locations;
	im->after_functions = locations_key;
	im->after_locations = samples_key;
	return true;
}

/* Walk the outer object once, noting where each key's value is. */
static int scan_top(importer *im)
{
	const unsigned char *d = im->data;
	size_t pos = skip_ws(d, im->size, bom_length(d, im->size));
	pass_start(im, pos);
	if (pos >= im->size || d[pos] != '{')
		return expected(im, pos, "'{' to start a profkit JSON profile");
	im->top = pos;
	pos = skip_ws(d, im->size, pos + 1);
	if (pos < im->size && d[pos] == '}')
		return check_end(im, pos + 1);
	for (;;) {
		int k = K_COUNT;
		size_t end, count = 0;
		PK_FORWARD(read_key(im, pos, &k, &end));
		pos = skip_ws(d, im->size, end);
		if (pos >= im->size || d[pos] != ':')
			return expected(im, pos, "':' after a key");
		pos = skip_ws(d, im->size, pos + 1);
		if (k == K_SAMPLES && im->guess && guess_tail(im, pos))
			return 0;
		if (k == K_FUNCTIONS && im->guess && guess_middle(im, pos))
			return 0;
		PK_FORWARD(value_end(im, pos, &count, &end));
		if (k < K_COUNT) {
			im->seen[k] = true;
			im->at[k] = pos;
			im->counts[k] = count;
		}
		pos = skip_ws(d, im->size, end);
		if (pos < im->size && d[pos] == '}')
			return check_end(im, pos + 1);
		if (pos >= im->size || d[pos] != ',')
			return expected(im, pos, "',' or '}' after a value");
		pos = skip_ws(d, im->size, pos + 1);
	}
}

/* Parse the top-level value k; *out is owned. */
static int parse_top(importer *im, int k, json_t **out)
{
	size_t end;
	PK_FORWARD(value_end(im, im->at[k], NULL, &end));
	return parse_span(im, im->at[k], end, out);
}

typedef int (*fast_reader)(importer *im, size_t *pos);
typedef int (*json_reader)(importer *im, json_t *v, const where *w);

/* Read the elements of a top-level array from the one at *pos, w's
 * index'th, until one starts at or past stop (*pos then there) or the
 * array ends (*pos then SIZE_MAX): `fast` reads an element's bytes and
 * returns 0, a negative error or MISS (it may be NULL: always MISS);
 * `slow` gets the element parsed by jansson. */
static int walk_from(importer *im, where *w, size_t *pos, size_t stop, fast_reader fast,
                     json_reader slow)
{
	size_t at = *pos;
	for (; at < stop; w->index++) {
		size_t end = at;
		w->at = at;
		pass_at(im, at);
		int rc = fast != NULL ? fast(im, &end) : MISS;
		PK_FORWARD(rc);
		if (rc == MISS) {
			json_t *v = NULL;
			PK_FORWARD(value_end(im, at, NULL, &end));
			PK_FORWARD(parse_span(im, at, end, &v));
			rc = slow(im, v, w);
			json_decref(v);
			PK_FORWARD(rc);
		}
		at = skip_ws(im->data, im->size, end);
		im->walked_end = at + 1;
		if (at < im->size && im->data[at] == ']') {
			*pos = SIZE_MAX;
			return 0;
		}
		if (at >= im->size || im->data[at] != ',')
			return expected(im, at, "',' or ']' after an element");
		at = skip_ws(im->data, im->size, at + 1);
	}
	*pos = at;
	return 0;
}

/* Where the elements of the top-level array k start (*pos), or SIZE_MAX
 * when it has none: 0, or an error if it is not an array. */
static int array_start(importer *im, int k, size_t *pos)
{
	*pos = SIZE_MAX;
	if (!im->seen[k])
		return 0;
	where w = {top_keys[k], SIZE_MAX, NULL, 0, im->at[k]};
	size_t at = im->at[k];
	if (im->data[at] != '[')
		return fail_in(im, &w, " must be an array");
	at = skip_ws(im->data, im->size, at + 1);
	im->walked_end = at + 1;
	if (at < im->size && im->data[at] == ']')
		return 0;
	pass_start(im, at);
	*pos = at;
	return 0;
}

/* Call a reader on each element of the top-level array k (see walk_from). */
static int walk_array(importer *im, int k, fast_reader fast, json_reader slow)
{
	size_t pos;
	PK_FORWARD(array_start(im, k, &pos));
	where w = {top_keys[k], 0, NULL, 0, pos};
	return pos == SIZE_MAX ? 0 : walk_from(im, &w, &pos, SIZE_MAX, fast, slow);
}

/* walk_array, then MISS unless the array ends right before the key at
 * next (0: nothing guessed), as guess_middle said. */
static int walk_to_key(importer *im, int k, size_t next, fast_reader fast, json_reader slow)
{
	PK_FORWARD(walk_array(im, k, fast, slow));
	if (next == 0)
		return 0;
	const unsigned char *d = im->data;
	size_t i = skip_ws(d, im->size, im->walked_end);
	return i < im->size && d[i] == ',' && skip_ws(d, im->size, i + 1) == next ? 0 : MISS;
}

/* ------------------------------------------------------- scalar values */

static bool parse_u64_text(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		for (size_t i = 2; i < len; i++) {
			char c = s[i];
			unsigned digit = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
			                 : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
			                 : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
			                                        : 16;
			if (digit == 16 || v > UINT64_MAX >> 4)
				return false;
			v = v << 4 | digit;
		}
	} else {
		if (len == 0)
			return false;
		for (size_t i = 0; i < len; i++) {
			if (s[i] < '0' || s[i] > '9')
				return false;
			unsigned digit = (unsigned)(s[i] - '0');
			if (v > (UINT64_MAX - digit) / 10)
				return false;
			v = v * 10 + digit;
		}
	}
	*out = v;
	return true;
}

/* A uint64: a non-negative integer, or a "0x..." or decimal string. */
static int to_u64(importer *im, const where *w, const char *key, size_t index, json_t *v,
                  uint64_t *out)
{
	char name[96];
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (json_is_string(v) && parse_u64_text(json_string_value(v), json_string_length(v), out))
		return 0;
	return fail_in(im, w,
	               "%s must be a non-negative integer, a \"0x...\" hex string or a decimal "
	               "string of at most 64 bits",
	               member_name(name, sizeof name, key, index));
}

static int to_i64(importer *im, const where *w, const char *key, size_t index, json_t *v,
                  int64_t *out)
{
	char name[96];
	if (!json_is_integer(v))
		return fail_in(im, w, "%s must be an integer",
		               member_name(name, sizeof name, key, index));
	*out = json_integer_value(v);
	return 0;
}

static int hex_digit(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                              : -1;
}

/* A string: a JSON string, or {"hex": "..."} for bytes that are not UTF-8. */
static int to_str(importer *im, const where *w, const char *key, size_t index, json_t *v,
                  pk_str *out)
{
	char name[96];
	const char *s = NULL;
	size_t len = 0;
	if (json_is_string(v)) {
		s = json_string_value(v);
		len = json_string_length(v);
	} else if (json_is_object(v) && json_object_size(v) == 1 &&
	           json_is_string(json_object_get(v, "hex"))) {
		json_t *hex = json_object_get(v, "hex");
		const char *h = json_string_value(hex);
		size_t n = json_string_length(hex);
		im->bytes.count = 0;
		if (n % 2 != 0)
			return fail_in(im, w, "%s.hex has an odd number of digits",
			               member_name(name, sizeof name, key, index));
		if (pk__vec_reserve(&im->bytes, 1, n / 2) < 0)
			return out_of_memory(im);
		for (size_t i = 0; i < n; i += 2) {
			int hi = hex_digit(h[i]), lo = hex_digit(h[i + 1]);
			if (hi < 0 || lo < 0)
				return fail_in(im, w, "%s.hex must hold hex digits only",
				               member_name(name, sizeof name, key, index));
			((char *)im->bytes.items)[im->bytes.count++] = (char)(hi << 4 | lo);
		}
		s = im->bytes.items;
		len = im->bytes.count;
	} else {
		return fail_in(im, w, "%s must be a string or a {\"hex\": ...} object",
		               member_name(name, sizeof name, key, index));
	}
	if (pk_profile_intern(im->p, len ? s : "", len, out) < 0)
		return out_of_memory(im);
	return 0;
}

/* Read the fields of the object v into rec (F_ANY ones are the caller's);
 * any other key is an error, so that a typo does not lose data. */
static int read_fields(importer *im, const where *w, json_t *v, const field *fields, void *rec)
{
	if (!json_is_object(v))
		return fail_in(im, w, " must be an object");
	size_t known = 0;
	for (const field *f = fields; f->key != NULL; f++) {
		json_t *m = json_object_get(v, f->key);
		if (m == NULL) {
			if (f->required)
				return fail_in(im, w, " has no \"%s\"", f->key);
			continue;
		}
		known++;
		/* rec is NULL for samples, whose fields are all F_ANY */
		unsigned char *at = rec != NULL ? (unsigned char *)rec + f->offset : NULL;
		uint64_t u = 0;
		int64_t i = 0;
		pk_str s = 0;
		switch (f->kind) {
		case F_ID:
		case F_ADDR:
			PK_FORWARD(to_u64(im, w, f->key, SIZE_MAX, m, &u));
			memcpy(at, &u, sizeof u);
			break;
		case F_I64:
			PK_FORWARD(to_i64(im, w, f->key, SIZE_MAX, m, &i));
			memcpy(at, &i, sizeof i);
			break;
		case F_STR:
			PK_FORWARD(to_str(im, w, f->key, SIZE_MAX, m, &s));
			memcpy(at, &s, sizeof s);
			break;
		case F_BOOL:
			if (!json_is_boolean(m))
				return fail_in(im, w, ".%s must be true or false", f->key);
			*at = json_is_true(m);
			break;
		case F_ANY: break;
		}
	}
	if (known == json_object_size(v))
		return 0;
	const char *key;
	size_t key_len;
	json_t *m;
	json_object_keylen_foreach(v, key, key_len, m)
	{
		const field *f = fields;
		while (f->key != NULL &&
		       !(strlen(f->key) == key_len && memcmp(f->key, key, key_len) == 0))
			f++;
		if (f->key == NULL)
			break;
	}
	return fail_in(im, w, " has an unknown key \"%s\"", key ? key : "");
}

/* An optional array member of an element; *out is NULL if absent. */
static int get_array(importer *im, const where *w, json_t *v, const char *key, json_t **out)
{
	*out = json_object_get(v, key);
	if (*out != NULL && !json_is_array(*out))
		return fail_in(im, w, ".%s must be an array", key);
	return 0;
}

/* Check a new object's id before adding it as the n-th of its kind. */
static int check_new_id(importer *im, const where *w, const pk__idmap *ids, uint64_t id)
{
	if (id == 0)
		return fail_in(im, w, " has id 0, which is reserved for \"none\"");
	uint32_t earlier = pk__idmap_get(ids, id);
	if (earlier != PK_NONE)
		return fail_in(im, w, " has id %" PRIu64 ", which %s[%u] has too", id, w->name,
		               earlier);
	return 0;
}

/* -------------------------------------------------------- the sections */

static int read_sample_type(importer *im, json_t *v, const where *w)
{
	pk_value_type vt = {0, 0};
	PK_FORWARD(read_fields(im, w, v, value_type_fields, &vt));
	if (pk_profile_add_sample_type(im->p, vt) < 0)
		return out_of_memory(im);
	return 0;
}

/* The string table only fixes the order of the strings (and keeps unused
 * ones): everything else names its strings itself. */
static int read_table_string(importer *im, json_t *v, const where *w)
{
	pk_str s;
	return to_str(im, w, NULL, SIZE_MAX, v, &s);
}

static int read_comment(importer *im, json_t *v, const where *w)
{
	pk_str s;
	PK_FORWARD(to_str(im, w, NULL, SIZE_MAX, v, &s));
	if (pk_profile_add_comment(im->p, s) < 0)
		return out_of_memory(im);
	return 0;
}

static int read_mapping(importer *im, json_t *v, const where *w)
{
	pk_mapping m = {0};
	PK_FORWARD(read_fields(im, w, v, mapping_fields, &m));
	PK_FORWARD(check_new_id(im, w, &im->st.mapping_ids, m.id));
	uint32_t index;
	if (pk_profile_add_mapping(im->p, &m, &index) < 0 ||
	    pk__idmap_put(&im->st.mapping_ids, m.id, index) < 0)
		return out_of_memory(im);
	return 0;
}

static int read_function(importer *im, json_t *v, const where *w)
{
	pk_function f = {0};
	PK_FORWARD(read_fields(im, w, v, function_fields, &f));
	PK_FORWARD(check_new_id(im, w, &im->st.function_ids, f.id));
	uint32_t index;
	if (pk_profile_add_function(im->p, &f, &index) < 0 ||
	    pk__idmap_put(&im->st.function_ids, f.id, index) < 0)
		return out_of_memory(im);
	return 0;
}

static int read_location(importer *im, json_t *v, const where *w)
{
	location_rec rec = {0};
	PK_FORWARD(read_fields(im, w, v, location_fields, &rec));
	PK_FORWARD(check_new_id(im, w, &im->st.location_ids, rec.id));
	pk_location loc = {rec.id, PK_NONE, rec.address, rec.is_folded};
	if (rec.mapping_id != 0) {
		loc.mapping = pk__idmap_get(&im->st.mapping_ids, rec.mapping_id);
		if (loc.mapping == PK_NONE)
			return fail_in(im, w,
			               " refers to mapping id %" PRIu64 ", which no mapping has",
			               rec.mapping_id);
	}
	json_t *lines;
	PK_FORWARD(get_array(im, w, v, "lines", &lines));
	im->st.lines.count = 0;
	where lw = *w;
	lw.sub = "lines";
	for (lw.sub_index = 0; lw.sub_index < json_array_size(lines); lw.sub_index++) {
		line_rec lr = {0};
		json_t *lv = json_array_get(lines, lw.sub_index);
		PK_FORWARD(read_fields(im, &lw, lv, line_fields, &lr));
		uint32_t function = pk__idmap_get(&im->st.function_ids, lr.function_id);
		if (function == PK_NONE)
			return fail_in(im, &lw,
			               " refers to function id %" PRIu64 ", which no function has",
			               lr.function_id);
		pk_line line = {function, lr.line, lr.column};
		if (pk__vec_push(&im->st.lines, sizeof line, &line, 1, NULL) < 0)
			return out_of_memory(im);
	}
	uint32_t index;
	if (pk_profile_add_location(im->p, &loc, im->st.lines.items, im->st.lines.count, &index) <
	        0 ||
	    pk__idmap_put(&im->st.location_ids, loc.id, index) < 0)
		return out_of_memory(im);
	return 0;
}

static int read_sample(importer *im, json_t *v, const where *w)
{
	PK_FORWARD(read_fields(im, w, v, sample_fields, NULL));
	json_t *locations, *values, *labels;
	PK_FORWARD(get_array(im, w, v, "locations", &locations));
	PK_FORWARD(get_array(im, w, v, "values", &values));
	PK_FORWARD(get_array(im, w, v, "labels", &labels));
	im->st.u32s.count = im->st.values.count = im->st.labels.count = 0;

	size_t types = pk_profile_sample_type_count(im->p);
	if (types == 0)
		return fail_in(im, w, " is a sample, but the profile has no sample types");
	if (json_array_size(values) != types)
		return fail_in(im, w, " has %zu values but needs one per sample type (%zu)",
		               json_array_size(values), types);
	if (pk__vec_reserve(&im->st.values, sizeof(int64_t), types) < 0)
		return out_of_memory(im);
	for (size_t i = 0; i < types; i++) {
		int64_t value;
		PK_FORWARD(to_i64(im, w, "values", i, json_array_get(values, i), &value));
		pk__vec_push(&im->st.values, sizeof value, &value, 1, NULL);
	}

	size_t depth = json_array_size(locations);
	if (pk__vec_reserve(&im->st.u32s, sizeof(uint32_t), depth) < 0)
		return out_of_memory(im);
	for (size_t i = 0; i < depth; i++) {
		uint64_t id;
		PK_FORWARD(to_u64(im, w, "locations", i, json_array_get(locations, i), &id));
		uint32_t index = pk__idmap_get(&im->st.location_ids, id);
		if (index == PK_NONE)
			return fail_in(im, w,
			               ".locations[%zu] refers to location id %" PRIu64
			               ", which no location has",
			               i, id);
		pk__vec_push(&im->st.u32s, sizeof index, &index, 1, NULL);
	}

	where lw = *w;
	lw.sub = "labels";
	for (lw.sub_index = 0; lw.sub_index < json_array_size(labels); lw.sub_index++) {
		pk_label label = {0, 0, 0, 0};
		PK_FORWARD(read_fields(im, &lw, json_array_get(labels, lw.sub_index), label_fields,
		                       &label));
		if (pk__vec_push(&im->st.labels, sizeof label, &label, 1, NULL) < 0)
			return out_of_memory(im);
	}
	if (pk_profile_add_sample(im->p, im->st.u32s.items, im->st.u32s.count, im->st.values.items,
	                          im->st.values.count, im->st.labels.items,
	                          im->st.labels.count) < 0)
		return out_of_memory(im);
	return 0;
}

/* -------------------------------------------------------- the fast path */

/* The elements are read straight from the input bytes: the schema is
 * fixed, so a small hand-written reader of it does the work that jansson
 * did through a tree of allocated values. It only reads what it is sure
 * of and leaves the rest to the jansson path (MISS), and it changes
 * nothing (no string interned, no object added) before it has read and
 * checked the whole element, so that the jansson path can start afresh. */

/* A string read by the fast path: its bytes in the input, or (once
 * unescaped) in im->scratch. */
typedef struct span {
	size_t at, len;
	bool scratch;
} span;

/* A label as read, its strings not yet interned. */
typedef struct label_rec {
	pk_label label;
	span strs[4]; /* by label_fields index */
	unsigned seen;
} label_rec;

static const unsigned char *span_bytes(const importer *im, span s)
{
	return s.scratch ? (const unsigned char *)im->scratch.items + s.at : im->data + s.at;
}

/* Bytes that stand for themselves inside a string: printable ASCII but
 * the quote and the backslash. */
static const unsigned char plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* The first byte at or after i that is not plain, or size; sixteen a
 * step where SSE2 is there (names and file names are most of the text
 * before the samples, which one thread reads alone). */
static inline size_t plain_run(const unsigned char *d, size_t size, size_t i)
{
#ifdef __SSE2__
	for (; size - i >= 16; i += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(d + i));
		/* signed: below 0x20 are the control bytes and those from 0x80 */
		__m128i hit = _mm_or_si128(_mm_cmplt_epi8(x, _mm_set1_epi8(0x20)),
		                           _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
		                                        _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))));
		unsigned bits = (unsigned)_mm_movemask_epi8(hit);
		if (bits != 0)
			return i + (size_t)__builtin_ctz(bits);
	}
#endif
	while (i < size && plain[d[i]])
		i++;
	return i;
}

/* The length of the UTF-8 sequence at s, or 0 if it is not one that
 * jansson accepts (RFC 3629: no overlong forms, no surrogates, nothing
 * above U+10FFFF). */
static size_t utf8_length(const unsigned char *s, size_t avail)
{
	unsigned c = s[0];
	size_t n;
	uint32_t v;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		v = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		v = c & 0x07;
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3f);
	}
	if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff) || (n == 3 && v < 0x800) ||
	    (n == 4 && v < 0x10000))
		return 0;
	return n;
}

/* Room for n more elements in v: 0, or MISS in a fixed view. */
static inline int room(importer *im, pk__vec *v, size_t elem, size_t n)
{
	if (v->capacity - v->count >= n)
		return 0;
	if (im->fixed)
		return MISS;
	return pk__vec_reserve(v, elem, n) < 0 ? out_of_memory(im) : 0;
}

static int scratch_put(importer *im, const void *bytes, size_t n)
{
	if (pk__vec_push(&im->scratch, 1, bytes, n, NULL) < 0)
		return out_of_memory(im);
	return 0;
}

/* Four hex digits at d[i..i+4), or -1. */
static long hex4(const unsigned char *d, size_t size, size_t i)
{
	if (size < 4 || i > size - 4)
		return -1;
	long v = 0;
	for (size_t j = i; j < i + 4; j++) {
		int x = hex_digit((char)d[j]);
		if (x < 0)
			return -1;
		v = v << 4 | x;
	}
	return v;
}

/* The rest of a string with escapes, from the backslash at i; the bytes
 * before it, from start, are plain. The result goes to im->scratch. */
static int fast_escaped_string(importer *im, size_t start, size_t i, size_t *pos, span *out)
{
	const unsigned char *d = im->data;
	size_t size = im->size, at = im->scratch.count;
	if (im->fixed)
		return MISS; /* it would need memory */
	PK_FORWARD(scratch_put(im, d + start, i - start));
	for (;;) {
		size_t run = i;
		while (i < size && plain[d[i]])
			i++;
		PK_FORWARD(scratch_put(im, d + run, i - run));
		if (i >= size)
			return MISS;
		unsigned char c = d[i];
		if (c == '"')
			break;
		if (c >= 0x80) {
			size_t n = utf8_length(d + i, size - i);
			if (n == 0)
				return MISS;
			PK_FORWARD(scratch_put(im, d + i, n));
			i += n;
			continue;
		}
		if (c != '\\' || i + 1 >= size)
			return MISS; /* a control character, or the end */
		char e = (char)d[i + 1], b;
		switch (e) {
		case '"':
		case '\\':
		case '/': b = e; break;
		case 'b': b = '\b'; break;
		case 'f': b = '\f'; break;
		case 'n': b = '\n'; break;
		case 'r': b = '\r'; break;
		case 't': b = '\t'; break;
		case 'u': {
			long cp = hex4(d, size, i + 2);
			if (cp < 0 || (cp >= 0xdc00 && cp <= 0xdfff))
				return MISS;
			i += 6;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				long lo = i + 1 < size && d[i] == '\\' && d[i + 1] == 'u'
				              ? hex4(d, size, i + 2)
				              : -1;
				if (lo < 0xdc00 || lo > 0xdfff)
					return MISS;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				i += 6;
			}
			unsigned char u[4];
			size_t n;
			if (cp < 0x80) {
				u[0] = (unsigned char)cp;
				n = 1;
			} else if (cp < 0x800) {
				u[0] = (unsigned char)(0xc0 | cp >> 6);
				u[1] = (unsigned char)(0x80 | (cp & 0x3f));
				n = 2;
			} else if (cp < 0x10000) {
				u[0] = (unsigned char)(0xe0 | cp >> 12);
				u[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
				u[2] = (unsigned char)(0x80 | (cp & 0x3f));
				n = 3;
			} else {
				u[0] = (unsigned char)(0xf0 | cp >> 18);
				u[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
				u[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
				u[3] = (unsigned char)(0x80 | (cp & 0x3f));
				n = 4;
			}
			PK_FORWARD(scratch_put(im, u, n));
			continue;
		}
		default: return MISS;
		}
		PK_FORWARD(scratch_put(im, &b, 1));
		i += 2;
	}
	*out = (span){at, im->scratch.count - at, true};
	*pos = i + 1;
	return 0;
}

/* The string at *pos. Without escapes it stays where it is in the input. */
static int fast_string(importer *im, size_t *pos, span *out)
{
	const unsigned char *d = im->data;
	size_t size = im->size, start = *pos + 1, i = start;
	if (*pos >= size || d[*pos] != '"')
		return MISS;
	for (;;) {
		i = plain_run(d, size, i);
		if (i >= size)
			return MISS;
		if (d[i] == '"')
			break;
		if (d[i] == '\\')
			return fast_escaped_string(im, start, i, pos, out);
		size_t n = d[i] >= 0x80 ? utf8_length(d + i, size - i) : 0;
		if (n == 0)
			return MISS;
		i += n;
	}
	*out = (span){start, i - start, false};
	*pos = i + 1;
	return 0;
}

/* A string field: a string, or {"hex": "..."} (its digits without
 * escapes) decoded into im->scratch. */
static int fast_str(importer *im, size_t *pos, span *out)
{
	const unsigned char *d = im->data;
	size_t size = im->size, i = *pos;
	if (i < size && d[i] == '"')
		return fast_string(im, pos, out);
	if (i >= size || d[i] != '{')
		return MISS;
	i = skip_ws(d, size, i + 1);
	if (size - i < 5 || memcmp(d + i, "\"hex\"", 5) != 0)
		return MISS;
	i = skip_ws(d, size, i + 5);
	if (i >= size || d[i] != ':')
		return MISS;
	i = skip_ws(d, size, i + 1);
	span hex;
	int rc = fast_string(im, &i, &hex);
	if (rc != 0)
		return rc;
	i = skip_ws(d, size, i);
	if (i >= size || d[i] != '}' || hex.scratch || hex.len % 2 != 0)
		return MISS;
	size_t at = im->scratch.count;
	rc = room(im, &im->scratch, 1, hex.len / 2);
	if (rc != 0)
		return rc;
	unsigned char *to = (unsigned char *)im->scratch.items + at;
	for (size_t j = 0; j < hex.len; j += 2) {
		int hi = hex_digit((char)d[hex.at + j]), lo = hex_digit((char)d[hex.at + j + 1]);
		if (hi < 0 || lo < 0)
			return MISS;
		*to++ = (unsigned char)(hi << 4 | lo);
	}
	im->scratch.count += hex.len / 2;
	*out = (span){at, hex.len / 2, true};
	*pos = i + 1;
	return 0;
}

/* An integer as jansson reads one: no fraction, no exponent, no leading
 * zero, within int64. */
static int fast_i64(importer *im, size_t *pos, int64_t *out)
{
	const unsigned char *d = im->data;
	size_t size = im->size, i = *pos;
	bool negative = i < size && d[i] == '-';
	i += negative;
	if (i >= size || d[i] < '0' || d[i] > '9')
		return MISS;
	/* 20 digits are too many anyway (u may wrap then), so that is
	 * where the loop stops. */
	size_t start = i, limit = size - i > 20 ? i + 20 : size;
	uint64_t u = 0;
	unsigned digit;
	while (i < limit && (digit = (unsigned)d[i] - '0') < 10) {
		u = u * 10 + digit;
		i++;
	}
	if (i - start > 19 || (d[start] == '0' && i - start > 1))
		return MISS;
	if (i < size && (d[i] == '.' || d[i] == 'e' || d[i] == 'E'))
		return MISS;
	if (u > (uint64_t)INT64_MAX + negative)
		return MISS;
	*out = !negative ? (int64_t)u : u > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)u;
	*pos = i;
	return 0;
}

/* A uint64: a non-negative integer, or a "0x..." or decimal string. */
static int fast_u64(importer *im, size_t *pos, uint64_t *out)
{
	if (*pos < im->size && im->data[*pos] == '"') {
		span s;
		int rc = fast_string(im, pos, &s);
		if (rc != 0)
			return rc;
		return parse_u64_text((const char *)span_bytes(im, s), s.len, out) ? 0 : MISS;
	}
	int64_t v;
	int rc = fast_i64(im, pos, &v);
	if (rc != 0 || v < 0)
		return rc != 0 ? rc : MISS;
	*out = (uint64_t)v;
	return 0;
}

/* Whether the input at i is want and a closing quote (*end then at it). */
static inline bool key_at(const unsigned char *d, size_t size, size_t i, const char *want,
                          size_t *end)
{
	for (; *want != '\0'; want++, i++)
		if (i >= size || d[i] != (unsigned char)*want)
			return false;
	if (i >= size || d[i] != '"')
		return false;
	*end = i;
	return true;
}

/* Reads an F_ANY member, the field fields[index], at *pos. */
typedef int (*fast_member)(importer *im, size_t *pos, size_t index, void *ctx);

/* The object at *pos with the given fields into rec (strings into strs, by
 * field index, to be interned later; *seen gets a bit per field found). */
static int fast_fields(importer *im, size_t *pos, const field *fields, void *rec, span *strs,
                       unsigned *seen, fast_member member, void *ctx)
{
	const unsigned char *d = im->data;
	size_t size = im->size, i = *pos;
	if (i >= size || d[i] != '{')
		return MISS;
	*seen = 0;
	size_t next = 0; /* the field to try first */
	i = skip_ws(d, size, i + 1);
	if (i < size && d[i] == '}')
		i++;
	else
		for (;;) {
			if (i >= size || d[i] != '"')
				return MISS;
			/* Each field's name tried against the input, from the
			 * one after the last found, as writers keep the order:
			 * cheaper than finding the key's end a byte at a time
			 * first. A key no field matches (unknown, or escaped)
			 * is a miss. */
			size_t index = next, end = 0;
			while (!key_at(d, size, i + 1, fields[index].key, &end)) {
				index = fields[index + 1].key != NULL ? index + 1 : 0;
				if (index == next)
					return MISS;
			}
			next = fields[index + 1].key != NULL ? index + 1 : 0;
			const field *f = &fields[index];
			if (*seen & 1u << index)
				return MISS; /* twice */
			*seen |= 1u << index;
			i = skip_ws(d, size, end + 1);
			if (i >= size || d[i] != ':')
				return MISS;
			i = skip_ws(d, size, i + 1);
			/* rec is NULL for samples, whose fields are all F_ANY */
			unsigned char *at = rec != NULL ? (unsigned char *)rec + f->offset : NULL;
			uint64_t u;
			int64_t v;
			int rc = 0;
			switch (f->kind) {
			case F_ID:
			case F_ADDR:
				rc = fast_u64(im, &i, &u);
				if (rc == 0)
					memcpy(at, &u, sizeof u);
				break;
			case F_I64:
				rc = fast_i64(im, &i, &v);
				if (rc == 0)
					memcpy(at, &v, sizeof v);
				break;
			case F_STR: rc = fast_str(im, &i, &strs[index]); break;
			case F_BOOL:
				if (size - i >= 4 && memcmp(d + i, "true", 4) == 0) {
					*at = 1;
					i += 4;
				} else if (size - i >= 5 && memcmp(d + i, "false", 5) == 0) {
					*at = 0;
					i += 5;
				} else {
					rc = MISS;
				}
				break;
			case F_ANY: rc = member ? member(im, &i, index, ctx) : MISS; break;
			}
			if (rc != 0)
				return rc;
			i = skip_ws(d, size, i);
			if (i < size && d[i] == ',') {
				i = skip_ws(d, size, i + 1);
				continue;
			}
			if (i >= size || d[i] != '}')
				return MISS;
			i++;
			break;
		}
	for (size_t index = 0; fields[index].key != NULL; index++)
		if (fields[index].required && !(*seen & 1u << index))
			return MISS;
	*pos = i;
	return 0;
}

/* Intern the strings fast_fields found, in the order of the fields as the
 * jansson path does, since that order becomes the string table's; recent
 * (NULL: none) has an entry per field. */
static int intern_fields(importer *im, const field *fields, void *rec, const span *strs,
                         unsigned seen, recent_str *recent)
{
	for (size_t index = 0; fields[index].key != NULL; index++) {
		if (fields[index].kind != F_STR || !(seen & 1u << index))
			continue;
		const unsigned char *bytes = span_bytes(im, strs[index]);
		size_t len = strs[index].len;
		recent_str *r = recent != NULL ? &recent[index] : NULL;
		pk_str s;
		if (r != NULL && r->valid && r->len == len && memcmp(r->bytes, bytes, len) == 0) {
			s = r->str;
		} else {
			if (pk_profile_intern(im->p, (const char *)bytes, len, &s) < 0)
				return out_of_memory(im);
			if (r != NULL && len <= RECENT_MAX) {
				r->valid = true;
				r->len = len;
				r->str = s;
				memcpy(r->bytes, bytes, len);
			}
		}
		memcpy((unsigned char *)rec + fields[index].offset, &s, sizeof s);
	}
	return 0;
}

/* Calls element() at each element of the array at *pos. */
static int fast_array(importer *im, size_t *pos,
                      int (*element)(importer *im, size_t *pos, void *ctx), void *ctx)
{
	const unsigned char *d = im->data;
	size_t size = im->size, i = *pos;
	if (i >= size || d[i] != '[')
		return MISS;
	i = skip_ws(d, size, i + 1);
	if (i < size && d[i] == ']') {
		*pos = i + 1;
		return 0;
	}
	for (;;) {
		int rc = element(im, &i, ctx);
		if (rc != 0)
			return rc;
		i = skip_ws(d, size, i);
		if (i < size && d[i] == ',') {
			i = skip_ws(d, size, i + 1);
			continue;
		}
		if (i >= size || d[i] != ']')
			return MISS;
		*pos = i + 1;
		return 0;
	}
}

static bool fresh_id(const pk__idmap *ids, uint64_t id)
{
	return id != 0 && pk__idmap_get(ids, id) == PK_NONE;
}

static int fast_table_string(importer *im, size_t *pos)
{
	im->scratch.count = 0;
	span s;
	int rc = fast_str(im, pos, &s);
	if (rc != 0)
		return rc;
	pk_str out;
	if (pk_profile_intern(im->p, (const char *)span_bytes(im, s), s.len, &out) < 0)
		return out_of_memory(im);
	return 0;
}

static int fast_mapping(importer *im, size_t *pos)
{
	im->scratch.count = 0;
	pk_mapping m = {0};
	span strs[16];
	unsigned seen;
	uint32_t index;
	int rc = fast_fields(im, pos, mapping_fields, &m, strs, &seen, NULL, NULL);
	if (rc != 0 || !fresh_id(&im->st.mapping_ids, m.id))
		return rc != 0 ? rc : MISS;
	PK_FORWARD(intern_fields(im, mapping_fields, &m, strs, seen, NULL));
	if (pk_profile_add_mapping(im->p, &m, &index) < 0 ||
	    pk__idmap_put(&im->st.mapping_ids, m.id, index) < 0)
		return out_of_memory(im);
	return 0;
}

static inline bool quick_uint(const unsigned char *d, size_t size, size_t *pos, uint64_t *out);
static inline bool literal(const unsigned char *d, size_t size, size_t *i, const char *s, size_t n);
#define LITERAL(d, size, i, s) literal(d, size, i, s, sizeof s - 1)

/* A function as the exporter writes it (compact, fields in order, the
 * numbers plain): f and strs as fast_fields fills them, or MISS. The
 * functions are read on the caller's thread alone, before any sample is
 * added, and matching each key against every field's cost most of that. */
static int quick_function(importer *im, size_t *pos, pk_function *f, span *strs, unsigned *seen)
{
	const unsigned char *d = im->data;
	size_t size = im->size, i = *pos;
	if (!LITERAL(d, size, &i, "{\"id\":") || !quick_uint(d, size, &i, &f->id))
		return MISS;
	*seen = 1;
	static const struct {
		const char *key;
		size_t len;
	} keys[] = {{",\"name\":", 8}, {",\"system_name\":", 15}, {",\"filename\":", 12}};
	for (size_t k = 0; k < 3; k++) {
		if (!literal(d, size, &i, keys[k].key, keys[k].len))
			continue;
		int rc = fast_string(im, &i, &strs[k + 1]);
		if (rc != 0)
			return rc;
		*seen |= 1u << (k + 1);
	}
	uint64_t line;
	if (LITERAL(d, size, &i, ",\"start_line\":")) {
		if (!quick_uint(d, size, &i, &line))
			return MISS;
		f->start_line = (int64_t)line;
		*seen |= 1u << 4;
	}
	if (!LITERAL(d, size, &i, "}"))
		return MISS;
	*pos = i;
	return 0;
}

static int fast_function(importer *im, size_t *pos)
{
	im->scratch.count = 0;
	pk_function f = {0};
	span strs[16];
	unsigned seen;
	uint32_t index;
	int rc = quick_function(im, pos, &f, strs, &seen);
	if (rc == MISS) {
		im->scratch.count = 0;
		f = (pk_function){0};
		rc = fast_fields(im, pos, function_fields, &f, strs, &seen, NULL, NULL);
	}
	if (rc != 0 || !fresh_id(&im->st.function_ids, f.id))
		return rc != 0 ? rc : MISS;
	PK_FORWARD(intern_fields(im, function_fields, &f, strs, seen, NULL));
	if (pk_profile_add_function(im->p, &f, &index) < 0 ||
	    pk__idmap_put(&im->st.function_ids, f.id, index) < 0)
		return out_of_memory(im);
	return 0;
}

static int fast_line(importer *im, size_t *pos, void *ctx)
{
	(void)ctx;
	line_rec lr = {0};
	unsigned seen;
	int rc = fast_fields(im, pos, line_fields, &lr, NULL, &seen, NULL, NULL);
	if (rc != 0)
		return rc;
	pk_line line = {pk__idmap_get(&im->st.function_ids, lr.function_id), lr.line, lr.column};
	if (line.function == PK_NONE)
		return MISS;
	if (pk__vec_push(&im->st.lines, sizeof line, &line, 1, NULL) < 0)
		return out_of_memory(im);
	return 0;
}

static int fast_location_member(importer *im, size_t *pos, size_t index, void *ctx)
{
	(void)index; /* "lines" is the only F_ANY field */
	return fast_array(im, pos, fast_line, ctx);
}

/* Whether the input at *i is the n bytes of s (*i then past them). */
static inline bool literal(const unsigned char *d, size_t size, size_t *i, const char *s, size_t n)
{
	if (size - *i < n || memcmp(d + *i, s, n) != 0)
		return false;
	*i += n;
	return true;
}

/* A location as the exporter writes it (compact, fields in order, numbers
 * plain, the address in hex): rec and im->st.lines filled, or MISS for
 * fast_fields to read it. A walk of the locations is the caller's thread's
 * alone, and fast_fields' generality cost it most of its time there. */
static int quick_location(importer *im, size_t *pos, location_rec *rec)
{
	const unsigned char *d = im->data;
	size_t size = im->size, i = *pos;
	uint64_t line = 0, column = 0;
	if (!LITERAL(d, size, &i, "{\"id\":") || !quick_uint(d, size, &i, &rec->id) ||
	    (LITERAL(d, size, &i, ",\"mapping_id\":") &&
	     !quick_uint(d, size, &i, &rec->mapping_id)))
		return MISS;
	if (LITERAL(d, size, &i, ",\"address\":\"0x")) {
		size_t start = i;
		int x;
		for (; i - start < 16 && i < size && (x = hex_digit((char)d[i])) >= 0; i++)
			rec->address = rec->address << 4 | (uint64_t)x;
		if (i == start || !LITERAL(d, size, &i, "\""))
			return MISS;
	}
	if (LITERAL(d, size, &i, ",\"lines\":[")) {
		do {
			line_rec lr = {0, 0, 0};
			if (!LITERAL(d, size, &i, "{\"function_id\":") ||
			    !quick_uint(d, size, &i, &lr.function_id) ||
			    (LITERAL(d, size, &i, ",\"line\":") &&
			     !quick_uint(d, size, &i, &line)) ||
			    (LITERAL(d, size, &i, ",\"column\":") &&
			     !quick_uint(d, size, &i, &column)) ||
			    !LITERAL(d, size, &i, "}"))
				return MISS;
			pk_line l = {pk__idmap_get(&im->st.function_ids, lr.function_id),
			             (int64_t)line, (int64_t)column};
			line = column = 0;
			if (l.function == PK_NONE)
				return MISS;
			if (pk__vec_push(&im->st.lines, sizeof l, &l, 1, NULL) < 0)
				return out_of_memory(im);
		} while (LITERAL(d, size, &i, ","));
		if (!LITERAL(d, size, &i, "]"))
			return MISS;
	}
	if (!LITERAL(d, size, &i, "}"))
		return MISS;
	*pos = i;
	return 0;
}

static int fast_location(importer *im, size_t *pos)
{
	im->scratch.count = 0;
	im->st.lines.count = 0;
	location_rec rec = {0};
	unsigned seen;
	int rc = quick_location(im, pos, &rec);
	if (rc == MISS) {
		im->st.lines.count = 0;
		rec = (location_rec){0};
		rc = fast_fields(im, pos, location_fields, &rec, NULL, &seen, fast_location_member,
		                 NULL);
	}
	if (rc != 0 || !fresh_id(&im->st.location_ids, rec.id))
		return rc != 0 ? rc : MISS;
	pk_location loc = {rec.id, PK_NONE, rec.address, rec.is_folded};
	if (rec.mapping_id != 0) {
		loc.mapping = pk__idmap_get(&im->st.mapping_ids, rec.mapping_id);
		if (loc.mapping == PK_NONE)
			return MISS;
	}
	uint32_t index;
	if (pk_profile_add_location(im->p, &loc, im->st.lines.items, im->st.lines.count, &index) <
	        0 ||
	    pk__idmap_put(&im->st.location_ids, loc.id, index) < 0)
		return out_of_memory(im);
	return 0;
}

static int fast_label(importer *im, size_t *pos, void *ctx)
{
	pk__vec *labels = ctx;
	label_rec rec = {{0, 0, 0, 0}, {{0, 0, false}}, 0};
	int rc = fast_fields(im, pos, label_fields, &rec.label, rec.strs, &rec.seen, NULL, NULL);
	if (rc != 0)
		return rc;
	rc = room(im, labels, sizeof rec, 1);
	if (rc != 0)
		return rc;
	PK_VEC_AT(*labels, label_rec, labels->count++) = rec;
	return 0;
}

/* A plain non-negative integer of 1 to 18 digits (so within int64) at
 * *pos, followed by a byte that cannot continue it: the ids and values of
 * samples, millions of them. False, with nothing read, for anything else,
 * which the general readers take. */
static inline bool quick_uint(const unsigned char *d, size_t size, size_t *pos, uint64_t *out)
{
	size_t start = *pos, i = start, limit = size - i > 18 ? i + 18 : size;
	uint64_t u = 0;
	unsigned digit;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	/* Up to 7 digits from one 8-byte word, without a branch per digit:
	 * the loop's exit mispredicted at nearly every number, whose lengths
	 * vary. */
	if (size - i >= 8) {
		const uint64_t ones = 0x0101010101010101u, threes = 0x30 * ones;
		uint64_t w;
		memcpy(&w, d + i, 8);
		/* A byte is a digit when it and it + 6 are both 0x3?; a carry
		 * out of a byte only spoils the bytes after it. */
		uint64_t bad =
		    ((w & 0xf0 * ones) ^ threes) | (((w + 6 * ones) & 0xf0 * ones) ^ threes);
		size_t n = bad != 0 ? (size_t)__builtin_ctzll(bad) / 8 : 8;
		if (n < 8) {
			/* The digits to the top (a borrow only moves up, out
			 * of them), then pairs, fours and eights combined. */
			uint64_t v = n > 0 ? (w - threes) << (64 - 8 * n) : 0;
			v = (v * 10 + (v >> 8)) & 0x00ff00ff00ff00ffu;
			v = (v * 100 + (v >> 16)) & 0x0000ffff0000ffffu;
			u = (v * 10000 + (v >> 32)) & 0xffffffffu;
			i += n;
			limit = i;
		}
	}
#endif
	while (i < limit && (digit = (unsigned)d[i] - '0') < 10) {
		u = u * 10 + digit;
		i++;
	}
	if (i == start || i >= size || (unsigned)d[i] - '0' < 10 || d[i] == '.' || d[i] == 'e' ||
	    d[i] == 'E' || (d[start] == '0' && i - start > 1))
		return false;
	*out = u;
	*pos = i;
	return true;
}

/* The common case of an array element that is a number, as writers put
 * the ids and values of samples: 1 to 7 digits, no leading zero, then ','
 * (returns 1) or ']' (returns 0), *pos then past it. -1, with nothing
 * read, for anything else. All from one 8-byte word, checked at once. */
static inline int quick_element(const unsigned char *d, size_t size, size_t *pos, uint64_t *out)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	size_t i = *pos;
	if (size - i < 8)
		return -1;
	const uint64_t ones = 0x0101010101010101u, threes = 0x30 * ones;
	uint64_t w;
	memcpy(&w, d + i, 8);
	/* as in quick_uint */
	uint64_t bad = ((w & 0xf0 * ones) ^ threes) | (((w + 6 * ones) & 0xf0 * ones) ^ threes);
	if ((bad & 0xff) != 0 || bad == 0)
		return -1; /* no digit first, or 8 of them */
	size_t n = (size_t)__builtin_ctzll(bad) / 8;
	unsigned end = (unsigned)(w >> 8 * n) & 0xff;
	if ((end != ',' && end != ']') || (n > 1 && (w & 0xff) == '0'))
		return -1;
	uint64_t v = (w - threes) << (64 - 8 * n);
	v = (v * 10 + (v >> 8)) & 0x00ff00ff00ff00ffu;
	v = (v * 100 + (v >> 16)) & 0x0000ffff0000ffffu;
	*out = (v * 10000 + (v >> 32)) & 0xffffffffu;
	*pos = i + n + 1;
	return end == ',';
#else
	(void)d, (void)size, (void)pos, (void)out;
	return -1;
#endif
}

#define QUICK_WINDOW 64
#define QUICK_MAX (QUICK_WINDOW / 2)

/* The value of the len (1 to 8) digits in the low bytes of w (little
 * endian), as quick_uint reads them. */
static inline uint64_t digits_value(uint64_t w, size_t len)
{
	const uint64_t threes = 0x3030303030303030u;
	uint64_t v = (w - threes) << (64 - 8 * len);
	v = (v * 10 + (v >> 8)) & 0x00ff00ff00ff00ffu;
	v = (v * 100 + (v >> 16)) & 0x0000ffff0000ffffu;
	return (v * 10000 + (v >> 32)) & 0xffffffffu;
}

/* The common case of a sample's numbers, from the element at *pos, in
 * the QUICK_WINDOW bytes there: each 1 to 16 digits without a leading
 * zero, then ',' or ']'. Each number's end comes from a mask of the bytes
 * that are not digits, so that finding it does not wait on reading the
 * number before (a load, then its digits, then the next load: the cost
 * of quick_element's chain). Returns the numbers read into out, *pos
 * past the last one's comma or the ']'; *more is 0 at the ']', 1 where
 * the window ended (the next one may go on), 2 where an element is not
 * one of these (or SSE2 is not there). */
static inline size_t quick_numbers(const unsigned char *d, size_t size, size_t *pos,
                                   uint64_t out[QUICK_MAX], int *more)
{
	*more = 2;
#if defined __SSE2__ && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	size_t i = *pos, at = 0, n = 0;
	if (size - i < QUICK_WINDOW + 8)
		return 0;
	const __m128i zero = _mm_set1_epi8('0'), nine = _mm_set1_epi8(9);
	uint64_t digits = 0;
	for (int k = 0; k < QUICK_WINDOW / 16; k++) {
		__m128i x = _mm_sub_epi8(
		    _mm_loadu_si128((const __m128i *)(const void *)(d + i + 16 * k)), zero);
		__m128i digit = _mm_cmpeq_epi8(_mm_min_epu8(x, nine), x);
		digits |= (uint64_t)(unsigned)_mm_movemask_epi8(digit) << 16 * k;
	}
	for (*more = 1; at < QUICK_WINDOW;) {
		uint64_t rest = ~digits >> at;
		if (rest == 0) /* digits to the window's end */
			break;
		size_t len = (size_t)__builtin_ctzll(rest);
		if (len == 0 || len > 16) {
			*more = 2;
			break;
		}
		unsigned char end = d[i + at + len];
		uint64_t w;
		memcpy(&w, d + i + at, 8);
		if ((end != ',' && end != ']') || (len > 1 && (w & 0xff) == '0')) {
			*more = 2;
			break;
		}
		if (len <= 8) {
			out[n++] = digits_value(w, len);
		} else {
			uint64_t low;
			memcpy(&low, d + i + at + len - 8, 8);
			out[n++] = digits_value(w, len - 8) * 100000000 + digits_value(low, 8);
		}
		at += len + 1;
		if (end == ']') {
			*more = 0;
			break;
		}
	}
	if (n == 0 && *more == 1)
		*more = 2; /* a number longer than the window */
	*pos = i + at;
	return n;
#else
	(void)d, (void)size, (void)pos, (void)out;
	return 0;
#endif
}

/* After an element of an array: 1 at a comma (*pos then past it and any
 * white space), 0 at the closing bracket (*pos past it), 2 otherwise. */
static inline int next_element(const unsigned char *d, size_t size, size_t *pos)
{
	size_t i = *pos;
	if (i < size && is_ws(d[i]))
		i = skip_ws(d, size, i);
	if (i < size && d[i] == ',') {
		*pos = skip_ws(d, size, i + 1);
		return 1;
	}
	if (i < size && d[i] == ']') {
		*pos = i + 1;
		return 0;
	}
	return 2;
}

/* A sample's "locations" and "values", with quick_uint for the common
 * numbers. */
static int fast_sample_numbers(importer *im, size_t *pos, bool locations)
{
	const unsigned char *d = im->data;
	size_t size = im->size, i = *pos;
	pk__vec *v = locations ? &im->st.u32s : &im->st.values;
	size_t elem = locations ? sizeof(uint32_t) : sizeof(int64_t);
	if (i >= size || d[i] != '[')
		return MISS;
	i = skip_ws(d, size, i + 1);
	if (i < size && d[i] == ']') {
		*pos = i + 1;
		return 0;
	}
	for (int more = 1; more == 1 && v->capacity - v->count >= QUICK_MAX;) {
		uint64_t quick[QUICK_MAX];
		size_t n = quick_numbers(d, size, &i, quick, &more);
		if (locations) {
			uint32_t *to = (uint32_t *)v->items + v->count;
			for (size_t k = 0; k < n; k++) {
				uint64_t u = quick[k];
				to[k] = u - 1 < im->plain_ids
				            ? (uint32_t)(u - 1)
				            : pk__idmap_get(&im->st.location_ids, u);
				if (to[k] == PK_NONE)
					return MISS;
			}
		} else {
			int64_t *to = (int64_t *)v->items + v->count;
			for (size_t k = 0; k < n; k++)
				to[k] = (int64_t)quick[k];
		}
		v->count += n;
		if (more == 0) {
			*pos = i;
			return 0;
		}
	}
	i = skip_ws(d, size, i);
	for (;;) {
		uint64_t u;
		int64_t value;
		int more = quick_element(d, size, &i, &u);
		if (more >= 0) {
			value = (int64_t)u;
		} else if (quick_uint(d, size, &i, &u)) {
			value = (int64_t)u;
		} else {
			int rc = locations ? fast_u64(im, &i, &u) : fast_i64(im, &i, &value);
			if (rc != 0)
				return rc;
		}
		if (v->count == v->capacity) {
			int rc = room(im, v, elem, 1);
			if (rc != 0)
				return rc;
		}
		if (locations) {
			uint32_t index = u - 1 < im->plain_ids
			                     ? (uint32_t)(u - 1)
			                     : pk__idmap_get(&im->st.location_ids, u);
			if (index == PK_NONE)
				return MISS;
			((uint32_t *)v->items)[v->count++] = index;
		} else {
			((int64_t *)v->items)[v->count++] = value;
		}
		if (more < 0)
			more = next_element(d, size, &i);
		if (more == 0) {
			*pos = i;
			return 0;
		}
		if (more != 1)
			return MISS;
	}
}

static int fast_sample_member(importer *im, size_t *pos, size_t index, void *ctx)
{
	switch (index) {
	case 0: return fast_sample_numbers(im, pos, true);
	case 1: return fast_sample_numbers(im, pos, false);
	default: return fast_array(im, pos, fast_label, ctx);
	}
}

/* The numbers of a sample's array as the exporter writes them, from the
 * first element at *pos: each 1 to 16 digits without a leading zero, a
 * comma between two, then ']' (*pos then past it), into v as
 * fast_sample_numbers puts them. The bytes are classified QUICK_WINDOW at
 * a time and the list's form checked on the masks at once, so that a
 * number costs its conversion and no branch on its bytes (a sample's
 * numbers were most of an import's instructions). MISS, with v as it was,
 * for anything else; out of memory as the importer's error. */
/* (inlined whole, so that each caller's loop knows which array it fills) */
static inline __attribute__((always_inline)) int quick_list(importer *im, size_t *pos,
                                                            bool locations)
{
#if defined __SSE2__ && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const unsigned char *d = im->data;
	size_t size = im->size, i = *pos;
	pk__vec *v = locations ? &im->st.u32s : &im->st.values;
	size_t count = v->count;
	for (;;) {
		/* a window holds at most QUICK_MAX numbers */
		if (size - i < QUICK_WINDOW + 8)
			return MISS;
		int rc = room(im, v, locations ? sizeof(uint32_t) : sizeof(int64_t),
		              count - v->count + QUICK_MAX);
		if (rc != 0) /* MISS in a fixed view, or out of memory */
			return rc;
		uint64_t digits = 0, commas = 0, zeros = 0;
		for (int k = 0; k < QUICK_WINDOW / 16; k++) {
			__m128i b =
			    _mm_loadu_si128((const __m128i *)(const void *)(d + i + 16 * k));
			__m128i x = _mm_sub_epi8(b, _mm_set1_epi8('0'));
			__m128i digit = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(9)), x);
			digits |= (uint64_t)(unsigned)_mm_movemask_epi8(digit) << 16 * k;
			commas |= (uint64_t)(unsigned)_mm_movemask_epi8(
			              _mm_cmpeq_epi8(b, _mm_set1_epi8(',')))
			          << 16 * k;
			zeros |= (uint64_t)(unsigned)_mm_movemask_epi8(
			             _mm_cmpeq_epi8(x, _mm_setzero_si128()))
			         << 16 * k;
		}
		/* The list's bytes in this window: to the first that is neither
		 * a digit nor a comma, which must be the ']'; else through the
		 * last comma, and the next window goes on after it. */
		uint64_t other = ~(digits | commas), list;
		size_t end;
		if (other != 0) {
			end = (size_t)__builtin_ctzll(other);
			if (end == 0 || d[i + end] != ']')
				return MISS;
			list = ~(uint64_t)0 >> (64 - end);
		} else {
			if (commas == 0)
				return MISS;
			end = 63 - (size_t)__builtin_clzll(commas);
			list = ~(uint64_t)0 >> (63 - end);
		}
		digits &= list;
		commas &= list;
		/* numbers with single commas between: a digit first, no two
		 * commas side by side, and a digit last (or the window's last
		 * comma, with a digit first in the next window) */
		uint64_t starts = digits & ~(digits << 1), ends = digits & ~(digits >> 1);
		if (!(digits & 1) || (commas & commas >> 1) != 0 ||
		    (other != 0 && !(digits >> (end - 1) & 1)) || (starts & ~ends & zeros) != 0)
			return MISS;
		void *items = v->items;
		size_t direct = im->plain_ids;
		while (starts != 0) {
			size_t at = (size_t)__builtin_ctzll(starts),
			       len = (size_t)__builtin_ctzll(ends) + 1 - at;
			starts &= starts - 1;
			ends &= ends - 1;
			uint64_t w, u;
			memcpy(&w, d + i + at, 8);
			if (len <= 8) {
				u = digits_value(w, len);
			} else if (len <= 16) {
				uint64_t low;
				memcpy(&low, d + i + at + len - 8, 8);
				u = digits_value(w, len - 8) * 100000000 + digits_value(low, 8);
			} else {
				return MISS;
			}
			if (locations) {
				uint32_t index = u - 1 < direct
				                     ? (uint32_t)(u - 1)
				                     : pk__idmap_get(&im->st.location_ids, u);
				if (index == PK_NONE)
					return MISS;
				((uint32_t *)items)[count++] = index;
			} else {
				((int64_t *)items)[count++] = (int64_t)u;
			}
		}
		i += end + 1;
		if (other != 0) {
			v->count = count;
			*pos = i;
			return 0;
		}
	}
#else
	(void)im, (void)pos, (void)locations;
	return MISS;
#endif
}

/* A sample as the exporter writes it (compact, its fields in order): its
 * locations, values and labels as fast_fields reads them, or MISS, or an
 * error (out of memory) that the slow path must not hide. */
static int quick_sample(importer *im, size_t *pos, pk__vec *labels)
{
	const unsigned char *d = im->data;
	size_t size = im->size, i = *pos;
	if (!LITERAL(d, size, &i, "{\"locations\":["))
		return MISS;
	int rc = quick_list(im, &i, true);
	if (rc == 0 && !LITERAL(d, size, &i, ",\"values\":["))
		rc = MISS;
	if (rc == 0)
		rc = quick_list(im, &i, false);
	if (rc == 0 && LITERAL(d, size, &i, ",\"labels\":"))
		rc = fast_array(im, &i, fast_label, labels);
	if (rc != 0)
		return rc;
	if (!LITERAL(d, size, &i, "}"))
		return MISS;
	*pos = i;
	return 0;
}

/* A sample's fields into the scratch arrays: quick_sample's form, else
 * fast_fields from the sample's start. */
static int sample_fields_at(importer *im, size_t *pos, pk__vec *labels)
{
	size_t locs = im->st.u32s.count, values = im->st.values.count, recs = labels->count,
	       scratch = im->scratch.count;
	int rc = quick_sample(im, pos, labels);
	if (rc != MISS)
		return rc;
	im->st.u32s.count = locs;
	im->st.values.count = values;
	labels->count = recs;
	im->scratch.count = scratch;
	unsigned seen;
	return fast_fields(im, pos, sample_fields, NULL, NULL, &seen, fast_sample_member, labels);
}

/* Add the batch of samples the fast path read: their stacks' hash slots
 * were fetched as they were read, their stored locations are fetched
 * now, then they are looked up, so that the cache misses of a batch
 * overlap (as formats/pprof.c does). */
static int add_batch(importer *im)
{
	const uint32_t *locs = im->st.u32s.items;
	const int64_t *values = im->st.values.items;
	const pk_label *labels = im->st.labels.items;
	size_t types = pk_profile_sample_type_count(im->p);
	for (size_t i = 0; i < im->batch_count; i++)
		pk__profile_prefetch_stack(im->p, im->batch[i].hash, true);
	for (size_t i = 0; i < im->batch_count; i++) {
		const pending_sample *s = &im->batch[i];
		uint32_t stack;
		if (pk__profile_intern_stack(im->p, s->depth ? locs + s->locs : NULL, s->depth,
		                             s->hash, &stack) < 0 ||
		    pk__profile_add_stack_sample(im->p, stack, values + i * types,
		                                 s->label_count ? labels + s->labels : NULL,
		                                 s->label_count) < 0)
			return out_of_memory(im);
	}
	im->batch_count = im->st.u32s.count = im->st.values.count = im->st.labels.count = 0;
	return 0;
}

static int fast_sample(importer *im, size_t *pos)
{
	if (im->batch_count == 0) /* the jansson path leaves its sample there */
		im->st.u32s.count = im->st.values.count = im->st.labels.count = 0;
	pending_sample *s = &im->batch[im->batch_count];
	s->locs = im->st.u32s.count;
	s->labels = im->st.labels.count;
	size_t values = im->st.values.count, types = pk_profile_sample_type_count(im->p);
	im->scratch.count = 0;
	im->label_recs.count = 0;
	int rc = sample_fields_at(im, pos, &im->label_recs);
	if (rc == 0 && (types == 0 || im->st.values.count - values != types))
		rc = MISS;
	if (rc != 0) {
		im->st.u32s.count = s->locs;
		im->st.values.count = values;
		/* The jansson path adds this one: the ones before go first. */
		if (rc == MISS)
			PK_FORWARD(add_batch(im));
		return rc;
	}
	if (pk__vec_reserve(&im->st.labels, sizeof(pk_label), im->label_recs.count) < 0)
		return out_of_memory(im);
	for (size_t i = 0; i < im->label_recs.count; i++) {
		label_rec *rec = &PK_VEC_AT(im->label_recs, label_rec, i);
		recent_str *recent = i < RECENT_LABELS ? im->recent[i] : NULL;
		PK_FORWARD(
		    intern_fields(im, label_fields, &rec->label, rec->strs, rec->seen, recent));
		PK_VEC_AT(im->st.labels, pk_label, im->st.labels.count++) = rec->label;
	}
	s->depth = im->st.u32s.count - s->locs;
	s->label_count = im->st.labels.count - s->labels;
	s->hash = pk__stack_hash((const uint32_t *)im->st.u32s.items + s->locs, s->depth);
	pk__profile_prefetch_stack(im->p, s->hash, false);
	return ++im->batch_count == SAMPLE_BATCH ? add_batch(im) : 0;
}

/* ------------------------------------------------ samples on two threads */

/* Reading the samples' text is most of an import and adding them is the
 * rest, so the samples are cut into parts of about PART_SIZE bytes that
 * both threads read (decode_part), each into a slot of fixed arrays, and
 * the caller's thread adds them in order (add_part; see pk__parts). The
 * helper thread starts as soon as the outer object is scanned: while the
 * caller reads the string table, functions and locations, it reads up to
 * EARLY_PARTS parts, each into a slot of its own that is freed once
 * added; then they take turns on PARTS slots, which bounds the memory.
 * Until the locations are read, a part can only take their ids as the writer
 * numbers them (1 to n in order; a part read before n is known notes the
 * highest it read); if they are not, or the sample types differ from
 * their count, the parts are dropped.
 *
 * A part starts where the text looks like a sample's start (`,
 * {"locations":`, which in any document that parses is one), and is used
 * only if the caller's walk arrives exactly there. A part read stops
 * before an element it cannot read (an escape, a full slot, bad
 * syntax...) and before the array's last element, and the caller's walk
 * reads on from there as it always did, so every message is as before. */
#define PART_SIZE ((size_t)128 << 10)
#define EARLY_PARTS 32
#define PARTS 4
/* room in a slot for the most the text of a part can hold: an id or
 * value takes 2 bytes ("1,"), a sample 8 or more, a label 11 or more */
#define PART_NUMBERS (PART_SIZE / 2 + 64)
#define PART_SAMPLES (PART_SIZE / 8)
#define PART_LABELS (PART_SIZE / 16)

typedef struct decoded_sample {
	uint32_t depth, labels, hash;
} decoded_sample;

/* A slot (pk__part's data): a part's start is a sample's start, its end
 * a guess at another's. */
typedef struct part {
	size_t reached;                        /* where the reading stopped: an element's start */
	uint32_t ids;                          /* the location ids it takes: 1 to ids */
	uint32_t limit;                        /* then 1 + the highest location index read, or 0 */
	void *mem;                             /* the arrays below, of fixed capacity */
	pk__vec samples, u32s, values, labels; /* decoded_sample, ..., label_rec */
} part;

typedef struct helper {
	pk__parts *q;
	importer view[2]; /* fixed views for the helper and the caller */
	size_t types;     /* what the parts take the profile to have */
	/* the locations' count once known, else PK_NONE: set on the
	 * caller's thread, read as parts are cut (atomically) */
	uint32_t ids;
	size_t first_end; /* the caller's own first part */
	size_t slots;
	part parts[EARLY_PARTS];
} helper;

/* The start of a sample at or after from, where the exporter writes one,
 * within a window; end if none. */
static size_t part_boundary(const unsigned char *d, size_t from, size_t end)
{
	static const char key[] = "{\"locations\":";
	size_t window = from + PART_SIZE / 4 < end ? from + PART_SIZE / 4 : end;
	while (from < window) {
		const unsigned char *at = memmem(d + from, window - from, key, sizeof key - 1);
		if (at == NULL)
			break;
		size_t i = skip_ws_back(d, 0, (size_t)(at - d));
		if (i > 0 && d[i - 1] == ',')
			return (size_t)(at - d);
		from = (size_t)(at - d) + 1;
	}
	return end;
}

/* The next part's end, its slot told the ids it may take. */
static size_t cut_part(void *ctx, pk__part *c, size_t end)
{
	helper *h = ctx;
	part *pt = c->data;
	pt->ids = __atomic_load_n(&h->ids, __ATOMIC_RELAXED);
	return part_boundary(h->view[0].data, c->start + PART_SIZE, end);
}

/* Read the samples of part c into its slot with view `view`, which
 * allocates nothing: each sample's locations, values and labels, as
 * fast_sample reads them, for add_part to add. */
static void decode_part(void *ctx, pk__part *c, unsigned view)
{
	helper *h = ctx;
	importer *v = &h->view[view];
	part *pt = c->data;
	const unsigned char *d = v->data;
	size_t pos = c->start;
	v->plain_ids = pt->ids;
	pt->samples.count = pt->u32s.count = pt->values.count = pt->labels.count = 0;
	v->st.u32s = pt->u32s;
	v->st.values = pt->values;
	v->label_recs = pt->labels;
	while (pos < c->end && pt->samples.count < pt->samples.capacity) {
		size_t i = pos, locs = v->st.u32s.count, values = v->st.values.count,
		       labels = v->label_recs.count;
		int rc = sample_fields_at(v, &i, &v->label_recs);
		if (rc == 0 && v->st.values.count - values != h->types)
			rc = MISS;
		i = skip_ws(d, v->size, i);
		if (rc != 0 || i >= v->size || d[i] != ',') {
			v->st.u32s.count = locs;
			v->st.values.count = values;
			v->label_recs.count = labels;
			break;
		}
		size_t depth = v->st.u32s.count - locs;
		decoded_sample s = {
		    (uint32_t)depth, (uint32_t)(v->label_recs.count - labels),
		    pk__stack_hash((const uint32_t *)v->st.u32s.items + locs, depth)};
		PK_VEC_AT(pt->samples, decoded_sample, pt->samples.count++) = s;
		pos = skip_ws(d, v->size, i + 1);
	}
	pt->u32s = v->st.u32s;
	pt->values = v->st.values;
	pt->labels = v->label_recs;
	pt->reached = pos;
	const uint32_t *index = pt->u32s.items;
	uint32_t limit = 0;
	for (size_t i = 0; pt->ids == PK_NONE && i < pt->u32s.count; i++)
		limit = index[i] >= limit ? index[i] + 1 : limit;
	pt->limit = limit;
}

static const pk__parts_ops part_ops = {cut_part, decode_part};

/* Add the samples read into pt, in order. Their stacks' hash slots are
 * fetched PREFETCH_AHEAD samples ahead and the stored locations there half
 * as far, so that a look-up rarely waits on memory: each half is a cache
 * miss where the stack table outgrows the caches, and a batch's fetches
 * made just before its look-ups (as add_batch does) left the first
 * look-ups of each batch waiting. */
#define PREFETCH_AHEAD 16
static int add_part(importer *im, const part *pt)
{
	PK_FORWARD(add_batch(im));
	const decoded_sample *s = pt->samples.items;
	const uint32_t *locs = pt->u32s.items;
	const int64_t *values = pt->values.items;
	const label_rec *recs = pt->labels.items;
	size_t types = pk_profile_sample_type_count(im->p), n = pt->samples.count;
	for (size_t i = 0; i < n && i < PREFETCH_AHEAD; i++)
		pk__profile_prefetch_stack(im->p, s[i].hash, false);
	for (size_t i = 0; i < n; i++) {
		if (i + PREFETCH_AHEAD < n)
			pk__profile_prefetch_stack(im->p, s[i + PREFETCH_AHEAD].hash, false);
		if (i + PREFETCH_AHEAD / 2 < n)
			pk__profile_prefetch_stack(im->p, s[i + PREFETCH_AHEAD / 2].hash, true);
		im->st.labels.count = 0;
		if (pk__vec_reserve(&im->st.labels, sizeof(pk_label), s[i].labels) < 0)
			return out_of_memory(im);
		for (size_t j = 0; j < s[i].labels; j++) {
			label_rec r = *recs++;
			recent_str *recent = j < RECENT_LABELS ? im->recent[j] : NULL;
			PK_FORWARD(
			    intern_fields(im, label_fields, &r.label, r.strs, r.seen, recent));
			PK_VEC_AT(im->st.labels, pk_label, im->st.labels.count++) = r.label;
		}
		uint32_t stack;
		if (pk__profile_intern_stack(im->p, s[i].depth ? locs : NULL, s[i].depth, s[i].hash,
		                             &stack) < 0 ||
		    pk__profile_add_stack_sample(im->p, stack, values + i * types,
		                                 s[i].labels ? im->st.labels.items : NULL,
		                                 s[i].labels) < 0)
			return out_of_memory(im);
		locs += s[i].depth;
	}
	im->st.labels.count = 0;
	return 0;
}

/* Stop h's thread (pk__parts_free joins it) and free h, if any. */
static void helper_free(helper *h)
{
	if (h == NULL)
		return;
	pk__parts_free(h->q);
	for (size_t i = 0; i < h->slots; i++)
		pk__free(h->parts[i].mem);
	pk__free(h);
}

/* Slot pt's arrays, in one block. */
static bool part_alloc(part *pt)
{
	const size_t counts[4] = {PART_SAMPLES, PART_NUMBERS, PART_NUMBERS, PART_LABELS};
	const size_t sizes[4] = {sizeof(decoded_sample), sizeof(uint32_t), sizeof(int64_t),
	                         sizeof(label_rec)};
	pk__vec *vecs[4] = {&pt->samples, &pt->u32s, &pt->values, &pt->labels};
	size_t total = 0;
	for (size_t i = 0; i < 4; i++)
		total += (counts[i] * sizes[i] + 15) & ~(size_t)15;
	pt->mem = pk__malloc(total);
	if (pt->mem == NULL)
		return false;
	total = 0;
	for (size_t i = 0; i < 4; i++) {
		*vecs[i] = (pk__vec){(unsigned char *)pt->mem + total, 0, counts[i]};
		total += (counts[i] * sizes[i] + 15) & ~(size_t)15;
	}
	return true;
}

/* A helper thread reading parts of the samples, or NULL where there are
 * few samples or no memory or thread for it: the caller's walk then
 * reads them all. Called once the outer object is scanned. */
static helper *helper_start(importer *im)
{
	const unsigned char *d = im->data;
	size_t at = im->at[K_SAMPLES];
	if (im->samples_end == 0 || im->counts[K_SAMPLE_TYPES] == 0 || d[at] != '[')
		return NULL;
	size_t first = skip_ws(d, im->size, at + 1);
	if (first >= im->samples_end || im->samples_end - first <= 2 * PART_SIZE)
		return NULL;
	helper *h = pk__malloc(sizeof *h);
	if (h == NULL)
		return NULL;
	memset(h, 0, sizeof *h);
	size_t parts = (im->samples_end - first) / PART_SIZE + 1;
	h->slots = parts < EARLY_PARTS ? parts : EARLY_PARTS;
	if (h->slots < PARTS)
		h->slots = PARTS;
	for (size_t i = 0; i < h->slots; i++)
		if (!part_alloc(&h->parts[i])) {
			h->slots = i;
			helper_free(h);
			return NULL;
		}
	h->types = im->counts[K_SAMPLE_TYPES];
	h->ids = PK_NONE;
	for (size_t i = 0; i < 2; i++) {
		/* No id map: only the ids 1 to n are read (see part.ids). */
		importer *v = &h->view[i];
		*v = *im;
		v->p = NULL;
		v->err = NULL;
		v->kept = NULL;
		v->fixed = true;
		v->st = (pk__import_state){0};
		v->bytes = v->scratch = v->label_recs = (pk__vec){0};
	}
	h->first_end = part_boundary(d, first + PART_SIZE, im->samples_end);
	if (pk__parts_new(&h->q, h->slots, PARTS, &part_ops, h) < 0) {
		helper_free(h);
		return NULL;
	}
	for (size_t i = 0; i < h->slots; i++)
		pk__parts_slot(h->q, i)->data = &h->parts[i];
	if (pk__parts_run(h->q, h->first_end, im->samples_end) < 0) {
		helper_free(h);
		return NULL;
	}
	return h;
}

/* The parts cut from now on take the ids 1 to n only. */
static void helper_ids_known(helper *h, size_t n)
{
	__atomic_store_n(&h->ids, (uint32_t)n, __ATOMIC_RELAXED);
}

/* The samples, with the parts h read (NULL: none). */
static int walk_samples(importer *im, helper *h)
{
	size_t pos;
	PK_FORWARD(array_start(im, K_SAMPLES, &pos));
	where w = {top_keys[K_SAMPLES], 0, NULL, 0, pos};
	if (pos == SIZE_MAX)
		return 0;
	if (h == NULL)
		return walk_from(im, &w, &pos, SIZE_MAX, fast_sample, read_sample);
	PK_FORWARD(walk_from(im, &w, &pos, h->first_end, fast_sample, read_sample));
	for (size_t c = 0; pos != SIZE_MAX; c++) {
		pk__part *next = pk__parts_next(h->q, c);
		size_t stop = SIZE_MAX;
		if (next != NULL) {
			part *pt = next->data;
			stop = next->end;
			if (pos == next->start && pt->limit <= im->plain_ids) {
				PK_FORWARD(add_part(im, pt));
				w.index += pt->samples.count;
				pos = pt->reached;
				pass_at(im, pos);
			}
			pk__parts_added(h->q, c);
			/* an early part's slot is not used again */
			if (c < h->slots - PARTS) {
				pk__free(pt->mem);
				pt->mem = NULL;
			}
		}
		PK_FORWARD(walk_from(im, &w, &pos, stop, fast_sample, read_sample));
	}
	return 0;
}

/* The marker and the version, checked before anything else. */
static int check_marker(importer *im)
{
	where w = {"the profile", SIZE_MAX, NULL, 0, im->top};
	if (!im->seen[K_FORMAT])
		return fail_in(im, &w, " has no \"format\": \"%s\" marker", JSON_MARKER);
	if (!im->seen[K_VERSION])
		return fail_in(im, &w, " has no \"version\"");
	json_t *v = NULL;
	PK_FORWARD(parse_top(im, K_FORMAT, &v));
	w = (where){"format", SIZE_MAX, NULL, 0, im->at[K_FORMAT]};
	int rc = 0;
	if (!json_is_string(v) || json_string_length(v) != strlen(JSON_MARKER) ||
	    strcmp(json_string_value(v), JSON_MARKER) != 0)
		rc = fail_in(im, &w, " must be \"%s\"", JSON_MARKER);
	json_decref(v);
	PK_FORWARD(rc);
	PK_FORWARD(parse_top(im, K_VERSION, &v));
	w = (where){"version", SIZE_MAX, NULL, 0, im->at[K_VERSION]};
	if (!json_is_integer(v))
		rc = fail_in(im, &w, " must be an integer");
	else if (json_integer_value(v) != JSON_VERSION)
		rc = fail_in(im, &w,
		             " is %" JSON_INTEGER_FORMAT ", but this profkit reads version %d only",
		             json_integer_value(v), JSON_VERSION);
	json_decref(v);
	PK_FORWARD(rc);
	if (im->unknown_at != SIZE_MAX) {
		size_t end;
		PK_FORWARD(value_end(im, im->unknown_at, NULL, &end));
		PK_FORWARD(parse_span(im, im->unknown_at, end, &v));
		rc = fail_at(im, im->unknown_at, "unknown key \"%s\" in the profile",
		             json_string_value(v));
		json_decref(v);
		return rc;
	}
	w = (where){"the profile", SIZE_MAX, NULL, 0, im->top};
	if (!im->seen[K_SAMPLE_TYPES])
		return fail_in(im, &w, " has no \"sample_types\"");
	return 0;
}

/* The string table, then the header fields. */
static int read_header(importer *im)
{
	/* The string table before any other string is interned, so that its
	 * order is kept. */
	PK_FORWARD(walk_array(im, K_STRING_TABLE, fast_table_string, read_table_string));
	if (im->samples_end != 0 && im->walked_end != im->table_end)
		return MISS;
	static const int scalars[] = {K_DEFAULT_SAMPLE_TYPE, K_PERIOD_TYPE,    K_PERIOD,
	                              K_TIME_NANOS,          K_DURATION_NANOS, K_DROP_FRAMES,
	                              K_KEEP_FRAMES,         K_DOC_URL};
	for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++) {
		int k = scalars[i];
		if (!im->seen[k])
			continue;
		json_t *v = NULL;
		PK_FORWARD(parse_top(im, k, &v));
		where w = {top_keys[k], SIZE_MAX, NULL, 0, im->at[k]};
		pk_str s = 0;
		int64_t n = 0;
		pk_value_type vt = {0, 0};
		int rc = 0;
		switch (k) {
		case K_DEFAULT_SAMPLE_TYPE:
		case K_DROP_FRAMES:
		case K_KEEP_FRAMES:
		case K_DOC_URL:
			rc = to_str(im, &w, NULL, SIZE_MAX, v, &s);
			if (rc == 0 && k == K_DEFAULT_SAMPLE_TYPE)
				pk_profile_set_default_sample_type(im->p, s);
			else if (rc == 0 && k == K_DROP_FRAMES)
				pk_profile_set_drop_frames(im->p, s);
			else if (rc == 0 && k == K_KEEP_FRAMES)
				pk_profile_set_keep_frames(im->p, s);
			else if (rc == 0)
				pk_profile_set_doc_url(im->p, s);
			break;
		case K_PERIOD_TYPE:
			rc = read_fields(im, &w, v, value_type_fields, &vt);
			if (rc == 0)
				pk_profile_set_period_type(im->p, vt);
			break;
		default:
			rc = to_i64(im, &w, NULL, SIZE_MAX, v, &n);
			if (rc == 0 && k == K_PERIOD)
				pk_profile_set_period(im->p, n);
			else if (rc == 0 && k == K_TIME_NANOS)
				pk_profile_set_time_nanos(im->p, n);
			else if (rc == 0)
				pk_profile_set_duration_nanos(im->p, n);
			break;
		}
		json_decref(v);
		PK_FORWARD(rc);
	}
	PK_FORWARD(walk_array(im, K_SAMPLE_TYPES, NULL, read_sample_type));
	return walk_array(im, K_COMMENTS, NULL, read_comment);
}

/* One try at an import: with guess, guess_tail may find the string table,
 * and MISS says that the guess was wrong. */
static int import_once(const unsigned char *data, size_t size, bool mapped, bool guess,
                       pk_profile **out, pk_error *err)
{
	importer im = {.data = data,
	               .size = size,
	               .err = err,
	               .unknown_at = SIZE_MAX,
	               .kept = mapped ? data : NULL,
	               .guess = guess};
	if (pk_profile_new(&im.p) < 0)
		return pk__error_set(err, PK_ENOMEM, "out of memory");
	int rc = scan_top(&im);
	if (rc == 0)
		rc = check_marker(&im);
	helper *h = rc == 0 ? helper_start(&im) : NULL;
	if (rc == 0)
		rc = read_header(&im);
	if (rc == 0 && pk__import_state_init(&im.st, im.counts[K_MAPPINGS], im.counts[K_FUNCTIONS],
	                                     im.counts[K_LOCATIONS]) < 0)
		rc = out_of_memory(&im);
	if (rc == 0)
		rc = walk_array(&im, K_MAPPINGS, fast_mapping, read_mapping);
	if (rc == 0)
		rc =
		    walk_to_key(&im, K_FUNCTIONS, im.after_functions, fast_function, read_function);
	if (rc == 0)
		rc =
		    walk_to_key(&im, K_LOCATIONS, im.after_locations, fast_location, read_location);
	if (rc == 0 && pk__profile_reserve_samples(im.p, im.counts[K_SAMPLES]) < 0)
		rc = out_of_memory(&im);
	size_t locations = rc == 0 ? pk_profile_location_count(im.p) : 0;
	while (im.plain_ids < locations &&
	       pk_profile_location(im.p, im.plain_ids)->id == im.plain_ids + 1)
		im.plain_ids++;
	if (im.plain_ids < locations)
		im.plain_ids = 0;
	if (h != NULL && (rc != 0 || im.plain_ids != locations ||
	                  pk_profile_sample_type_count(im.p) != h->types)) {
		helper_free(h);
		h = NULL;
	}
	if (h != NULL)
		helper_ids_known(h, im.plain_ids);
	if (rc == 0)
		rc = walk_samples(&im, h);
	helper_free(h);
	if (rc == 0)
		rc = add_batch(&im);
	if (rc == 0 && im.samples_end != 0 && im.walked_end != im.samples_end)
		rc = MISS;
	pk__import_state_free(&im.st);
	pk__vec_free(&im.bytes);
	pk__vec_free(&im.scratch);
	pk__vec_free(&im.label_recs);
	if (rc == 0) {
		*out = im.p;
		return 0;
	}
	pk_profile_free(im.p);
	return im.samples_end != 0 && rc != PK_ENOMEM ? MISS : rc;
}

static int import(const unsigned char *data, size_t size, bool mapped, pk_profile **out,
                  pk_error *err)
{
	pk_error before = err != NULL ? *err : (pk_error){0};
	int rc = import_once(data, size, mapped, true, out, err);
	if (rc != MISS)
		return rc;
	if (err != NULL)
		*err = before;
	return import_once(data, size, mapped, false, out, err);
}

static int json_import(const unsigned char *data, size_t size, pk_profile **out, pk_error *err)
{
	return import(data, size, false, out, err);
}

static int json_import_mapped(const unsigned char *data, size_t size, pk_profile **out,
                              pk_error *err)
{
	return import(data, size, true, out, err);
}

/* An object whose "format" key has our marker near the start. The
 * exporter writes the marker first; other writers should too. */
static int json_sniff(const unsigned char *data, size_t size)
{
	static const char key[] = "\"format\"", marker[] = "\"" JSON_MARKER "\"";
	size_t key_len = sizeof key - 1, marker_len = sizeof marker - 1;
	size_t n = size < 4096 ? size : 4096;
	size_t pos = skip_ws(data, n, bom_length(data, n));
	if (pos >= n || data[pos] != '{')
		return PK_ENOTMINE;
	for (; n - pos >= key_len; pos++) {
		if (memcmp(data + pos, key, key_len) != 0)
			continue;
		size_t at = skip_ws(data, n, pos + key_len);
		if (at >= n || data[at] != ':')
			continue;
		at = skip_ws(data, n, at + 1);
		if (n - at >= marker_len && memcmp(data + at, marker, marker_len) == 0)
			return 0;
	}
	return PK_ENOTMINE;
}

/* --------------------------------------------------------------- exporter */

/* The exporter formats into blocks of memory and hands the sink whole
 * blocks: a call per value (jansson's dump callback, fprintf) cost more
 * than the formatting itself. A sink with a buffer of its own (a file's,
 * gzip's) is written into directly, which saves a copy of every byte and
 * a block of memory; else the writer's own block is. The bytes are exactly
 * jansson's compact form, which the files written so far have. */
#define OUT_OWN ((size_t)1 << 16)
#define OUT_SLACK 64 /* room always left for one number or a short token */

typedef struct writer {
	const pk_profile *p;
	pk__sink *sink;
	pk_error *err;
	int rc;             /* the sink's first failure */
	unsigned char *own; /* OUT_OWN + OUT_SLACK bytes */
	unsigned char *buf; /* the sink's buffer or own */
	size_t len, limit;  /* len below limit after every put; limit +
	                       OUT_SLACK bytes at buf */
	/* Each location's id as the samples' stacks write it, by index: ","
	 * and up to 7 digits as the bytes of a word, the first the lowest,
	 * zeros after; 0 for a longer id. Formatting each frame of millions of
	 * stacks cost more than the rest of the samples, and reading the ids
	 * from the locations themselves missed the cache at every frame. */
	uint64_t *id_text;
	size_t location_count;
} writer;

/* Where the next bytes go: the rest of the sink's buffer when it has room
 * for more than a few tokens, else the own block. */
static void aim(writer *w)
{
	pk__sink *s = w->sink;
	if (w->rc == 0 && s->buf != NULL && s->cap - s->len >= OUT_OWN / 4) {
		w->buf = s->buf;
		w->len = s->len;
		w->limit = s->cap - OUT_SLACK;
	} else {
		w->buf = w->own;
		w->len = 0;
		w->limit = OUT_OWN;
	}
}

/* Leave the bytes written with the sink, as pk__sink_write does. */
static void settle(writer *w)
{
	if (w->buf == w->sink->buf)
		w->sink->len = w->len;
	else if (w->rc == 0 && w->len > 0)
		w->rc = pk__sink_write(w->sink, w->buf, w->len);
	w->len = 0;
}

/* Out of line, so that the puts stay small enough to inline. */
static __attribute__((noinline)) void flush(writer *w)
{
	bool direct = w->buf == w->sink->buf;
	settle(w);
	if (direct && w->rc == 0)
		w->rc = pk__sink_flush(w->sink);
	aim(w);
}

/* After writing up to OUT_SLACK bytes at w->buf + w->len. */
static inline void advance(writer *w, size_t n)
{
	w->len += n;
	if (w->len >= w->limit)
		flush(w);
}

static __attribute__((noinline)) void put_large(writer *w, const void *data, size_t n)
{
	flush(w);
	if (n < w->limit - w->len) {
		memcpy(w->buf + w->len, data, n);
		w->len += n;
		return;
	}
	if (w->rc == 0)
		w->rc = pk__sink_write(w->sink, data, n);
	aim(w);
}

static inline void put_bytes(writer *w, const void *data, size_t n)
{
	if (n >= w->limit - w->len) {
		put_large(w, data, n);
		return;
	}
	memcpy(w->buf + w->len, data, n);
	w->len += n;
}

static void put_text(writer *w, const char *s)
{
	put_bytes(w, s, strlen(s));
}

static void put_char(writer *w, char c)
{
	w->buf[w->len] = (unsigned char)c;
	advance(w, 1);
}

static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324"
                                     "25262728293031323334353637383940414243444546474849"
                                     "50515253545556575859606162636465666768697071727374"
                                     "75767778798081828384858687888990919293949596979899";

/* v in decimal at to; returns the length. Two digits a step, from the
 * end. The length comes from the bit length (log10(2) ~ 1233 / 4096),
 * without a loop whose exit mispredicts as the lengths vary. */
static size_t format_u64(unsigned char *to, uint64_t v)
{
	static const uint64_t powers[20] = {1u,
	                                    10u,
	                                    100u,
	                                    1000u,
	                                    10000u,
	                                    100000u,
	                                    1000000u,
	                                    10000000u,
	                                    100000000u,
	                                    1000000000u,
	                                    10000000000u,
	                                    100000000000u,
	                                    1000000000000u,
	                                    10000000000000u,
	                                    100000000000000u,
	                                    1000000000000000u,
	                                    10000000000000000u,
	                                    100000000000000000u,
	                                    1000000000000000000u,
	                                    10000000000000000000u};
	size_t t = (size_t)(64 - __builtin_clzll(v | 1)) * 1233 >> 12;
	size_t n = t + 1 - ((v | 1) < powers[t]);
	unsigned char *at = to + n;
	while (v >= 100) {
		const char *pair = digit_pairs + 2 * (v % 100);
		v /= 100;
		*--at = (unsigned char)pair[1];
		*--at = (unsigned char)pair[0];
	}
	if (v >= 10) {
		*--at = (unsigned char)digit_pairs[2 * v + 1];
		*--at = (unsigned char)digit_pairs[2 * v];
	} else {
		*--at = (unsigned char)('0' + v);
	}
	return n;
}

static void put_u64(writer *w, uint64_t v)
{
	advance(w, format_u64(w->buf + w->len, v));
}

static void put_i64(writer *w, int64_t v)
{
	unsigned char *to = w->buf + w->len;
	if (v >= 0) {
		advance(w, format_u64(to, (uint64_t)v));
		return;
	}
	to[0] = '-';
	advance(w, 1 + format_u64(to + 1, 0 - (uint64_t)v));
}

static const char hex_digits[] = "0123456789abcdef";

/* Ids are numbers while int64 can hold them (jansson's integers), decimal
 * strings beyond. */
static void put_id(writer *w, uint64_t id)
{
	if (id <= INT64_MAX) {
		put_u64(w, id);
		return;
	}
	unsigned char *to = w->buf + w->len;
	to[0] = '"';
	size_t n = 1 + format_u64(to + 1, id);
	to[n] = '"';
	advance(w, n + 1);
}

static void put_addr(writer *w, uint64_t v)
{
	unsigned char *to = w->buf + w->len;
	size_t n = 3, digits = 1;
	while (digits < 16 && v >> 4 * digits != 0)
		digits++;
	memcpy(to, "\"0x", 3);
	for (size_t i = digits; i-- > 0;)
		to[n++] = (unsigned char)hex_digits[v >> 4 * i & 15];
	to[n++] = '"';
	advance(w, n);
}

static bool utf8_valid(const unsigned char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t n = utf8_length(s + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

/* A string: a JSON string if it is UTF-8 as jansson checks it, escaped as
 * jansson does, else its bytes as {"hex": "..."}. */
static void put_string(writer *w, pk_str str)
{
	const unsigned char *s = (const unsigned char *)pk_profile_string(w->p, str);
	size_t len = pk_profile_string_length(w->p, str), i = 0;
	if (s == NULL)
		s = (const unsigned char *)"", len = 0;
	while (i < len && plain[s[i]])
		i++;
	if (i < len && !utf8_valid(s + i, len - i)) {
		put_text(w, "{\"hex\":\"");
		for (i = 0; i < len; i++) {
			w->buf[w->len] = (unsigned char)hex_digits[s[i] >> 4];
			w->buf[w->len + 1] = (unsigned char)hex_digits[s[i] & 15];
			advance(w, 2);
		}
		put_text(w, "\"}");
		return;
	}
	put_char(w, '"');
	size_t run = 0;
	for (;;) {
		while (i < len && (plain[s[i]] || s[i] >= 0x80))
			i++;
		put_bytes(w, s + run, i - run);
		if (i >= len)
			break;
		static const char short_escapes[32] = {
		    ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't',
		};
		unsigned char c = s[i], *to = w->buf + w->len;
		to[0] = '\\';
		if (c == '"' || c == '\\') {
			to[1] = c;
			advance(w, 2);
		} else if (short_escapes[c] != 0) {
			to[1] = (unsigned char)short_escapes[c];
			advance(w, 2);
		} else {
			memcpy(to + 1, "u00", 3);
			to[4] = (unsigned char)"0123456789ABCDEF"[c >> 4];
			to[5] = (unsigned char)"0123456789ABCDEF"[c & 15];
			advance(w, 6);
		}
		run = ++i;
	}
	put_char(w, '"');
}

/* "key": as jansson writes it compactly, after a comma unless first. */
static void put_key(writer *w, const char *key, bool *first)
{
	if (!*first)
		put_char(w, ',');
	*first = false;
	put_char(w, '"');
	put_text(w, key);
	put_bytes(w, "\":", 2);
}

/* rec's fields, F_ANY ones left out, without the closing brace. */
static void put_fields(writer *w, const field *fields, const void *rec, bool *first)
{
	put_char(w, '{');
	*first = true;
	for (const field *f = fields; f->key != NULL; f++) {
		const unsigned char *at = (const unsigned char *)rec + f->offset;
		uint64_t u = 0;
		int64_t i = 0;
		pk_str s = 0;
		switch (f->kind) {
		case F_ID:
		case F_ADDR:
			memcpy(&u, at, sizeof u);
			if (u == 0 && !f->always)
				break;
			put_key(w, f->key, first);
			if (f->kind == F_ID)
				put_id(w, u);
			else
				put_addr(w, u);
			break;
		case F_I64:
			memcpy(&i, at, sizeof i);
			if (i == 0 && !f->always)
				break;
			put_key(w, f->key, first);
			put_i64(w, i);
			break;
		case F_STR:
			memcpy(&s, at, sizeof s);
			if (s == 0 && !f->always)
				break;
			put_key(w, f->key, first);
			put_string(w, s);
			break;
		case F_BOOL:
			if (*at == 0 && !f->always)
				break;
			put_key(w, f->key, first);
			put_text(w, *at != 0 ? "true" : "false");
			break;
		case F_ANY: break;
		}
	}
}

static void put_object(writer *w, const field *fields, const void *rec)
{
	bool first;
	put_fields(w, fields, rec, &first);
	put_char(w, '}');
}

static void sample_type_json(writer *w, size_t i)
{
	pk_value_type vt = pk_profile_sample_type(w->p, i);
	put_object(w, value_type_fields, &vt);
}

static void comment_json(writer *w, size_t i)
{
	put_string(w, pk_profile_comment(w->p, i));
}

static void table_string_json(writer *w, size_t i)
{
	put_string(w, (pk_str)i);
}

static void mapping_json(writer *w, size_t i)
{
	put_object(w, mapping_fields, pk_profile_mapping(w->p, i));
}

static void function_json(writer *w, size_t i)
{
	put_object(w, function_fields, pk_profile_function(w->p, i));
}

static void location_json(writer *w, size_t i)
{
	const pk_profile *p = w->p;
	const pk_location *loc = pk_profile_location(p, i);
	const pk_mapping *m = loc->mapping == PK_NONE ? NULL : pk_profile_mapping(p, loc->mapping);
	location_rec rec = {loc->id, m ? m->id : 0, loc->address, loc->is_folded};
	bool first;
	put_fields(w, location_fields, &rec, &first);
	const pk_line *lines;
	size_t count = pk_profile_location_lines(p, i, &lines);
	if (count > 0) {
		put_key(w, "lines", &first);
		for (size_t j = 0; j < count; j++) {
			const pk_function *f = pk_profile_function(p, lines[j].function);
			line_rec lr = {f ? f->id : 0, lines[j].line, lines[j].column};
			put_char(w, j == 0 ? '[' : ',');
			put_object(w, line_fields, &lr);
		}
		put_char(w, ']');
	}
	put_char(w, '}');
}

/* Written by hand: "num" stays even when 0 in a numeric label, so that the
 * label reads as one. */
static void label_json(writer *w, const pk_label *l)
{
	bool first = true;
	put_char(w, '{');
	put_key(w, "key", &first);
	put_string(w, l->key);
	if (l->str != 0) {
		put_key(w, "str", &first);
		put_string(w, l->str);
	}
	if (l->num != 0 || l->str == 0) {
		put_key(w, "num", &first);
		put_i64(w, l->num);
	}
	if (l->num_unit != 0) {
		put_key(w, "num_unit", &first);
		put_string(w, l->num_unit);
	}
	put_char(w, '}');
}

/* Fill w->id_text. */
static int format_location_ids(writer *w)
{
	size_t count = pk_profile_location_count(w->p);
	w->location_count = count;
	w->id_text = pk__malloc(pk__mul(count, sizeof *w->id_text));
	if (w->id_text == NULL && count > 0)
		return pk__error_set(w->err, PK_ENOMEM, "out of memory");
	for (size_t i = 0; i < count; i++) {
		uint64_t id = pk_profile_location(w->p, i)->id, word = 0;
		unsigned char text[24] = ",";
		if (id < 10000000) {
			size_t n = 1 + format_u64(text + 1, id);
			while (n-- > 0)
				word = word << 8 | text[n];
		}
		w->id_text[i] = word;
	}
	return 0;
}

/* A stack's location ids, comma-separated. */
static void put_stack(writer *w, const uint32_t *locations, size_t depth)
{
	for (size_t j = 0; j < depth; j++) {
		uint32_t index = locations[j];
		uint64_t word = index < w->location_count ? w->id_text[index] : 0;
		if (word == 0) {
			if (j > 0)
				put_char(w, ',');
			put_id(w, index < w->location_count ? pk_profile_location(w->p, index)->id
			                                    : 0);
			continue;
		}
		size_t n = (size_t)(71 - __builtin_clzll(word)) / 8;
		if (j == 0) {
			word >>= 8; /* no comma before the first */
			n--;
		}
		unsigned char *to = w->buf + w->len;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		memcpy(to, &word, 8);
#else
		for (size_t k = 0; k < n; k++)
			to[k] = (unsigned char)(word >> 8 * k);
#endif
		advance(w, n);
	}
}

static void sample_json(writer *w, size_t i)
{
	pk_sample s;
	if (pk_profile_sample(w->p, i, &s) < 0) {
		/* The jansson exporter failed the same way on a bad index. */
		if (w->rc == 0)
			w->rc = pk__error_set(w->err, PK_ENOMEM, "out of memory");
		return;
	}
	put_bytes(w, "{\"locations\":[", 14);
	put_stack(w, s.locations, s.depth);
	put_bytes(w, "],\"values\":[", 12);
	for (size_t j = 0; j < s.value_count; j++) {
		if (j > 0)
			put_char(w, ',');
		put_i64(w, s.values[j]);
	}
	put_char(w, ']');
	if (s.label_count > 0) {
		put_bytes(w, ",\"labels\":", 10);
		const pk_label *labels = pk__profile_labels(w->p);
		for (size_t j = 0; j < s.label_count; j++) {
			put_char(w, j == 0 ? '[' : ',');
			label_json(w, &labels[s.labels[j]]);
		}
		put_char(w, ']');
	}
	put_char(w, '}');
}

static void put_top_key(writer *w, int k)
{
	put_text(w, k == K_FORMAT ? "{\n  \"" : ",\n  \"");
	put_text(w, top_keys[k]);
	put_bytes(w, "\": ", 3);
}

/* A top-level array, one element a line. */
static void put_array(writer *w, int k, size_t count, void (*element)(writer *w, size_t i))
{
	put_top_key(w, k);
	if (count == 0) {
		put_bytes(w, "[]", 2);
		return;
	}
	for (size_t i = 0; i < count && w->rc == 0; i++) {
		put_bytes(w, i == 0 ? "[\n    " : ",\n    ", 6);
		element(w, i);
	}
	put_bytes(w, "\n  ]", 4);
}

static void put_top_string(writer *w, int k, pk_str s)
{
	put_top_key(w, k);
	put_string(w, s);
}

static void put_top_integer(writer *w, int k, int64_t v)
{
	put_top_key(w, k);
	put_i64(w, v);
}

static int json_export(const pk_profile *p, const pk_write_options *opts, pk__sink *sink,
                       pk_error *err)
{
	(void)opts; /* nothing in them applies to this format */
	writer w = {p, sink, err, 0, pk__malloc(OUT_OWN + OUT_SLACK), NULL, 0, 0, NULL, 0};
	if (w.own == NULL)
		return pk__error_set(err, PK_ENOMEM, "out of memory");
	if (format_location_ids(&w) < 0) {
		pk__free(w.own);
		return PK_ENOMEM;
	}
	aim(&w);
	pk_value_type pt = pk_profile_period_type(p);
	put_top_key(&w, K_FORMAT);
	put_text(&w, "\"" JSON_MARKER "\"");
	put_top_integer(&w, K_VERSION, JSON_VERSION);
	put_array(&w, K_SAMPLE_TYPES, pk_profile_sample_type_count(p), sample_type_json);
	put_top_string(&w, K_DEFAULT_SAMPLE_TYPE, pk_profile_default_sample_type(p));
	put_top_key(&w, K_PERIOD_TYPE);
	put_object(&w, value_type_fields, &pt);
	put_top_integer(&w, K_PERIOD, pk_profile_period(p));
	put_top_integer(&w, K_TIME_NANOS, pk_profile_time_nanos(p));
	put_top_integer(&w, K_DURATION_NANOS, pk_profile_duration_nanos(p));
	put_array(&w, K_COMMENTS, pk_profile_comment_count(p), comment_json);
	put_top_string(&w, K_DROP_FRAMES, pk_profile_drop_frames(p));
	put_top_string(&w, K_KEEP_FRAMES, pk_profile_keep_frames(p));
	put_top_string(&w, K_DOC_URL, pk_profile_doc_url(p));
	put_array(&w, K_MAPPINGS, pk_profile_mapping_count(p), mapping_json);
	put_array(&w, K_FUNCTIONS, pk_profile_function_count(p), function_json);
	put_array(&w, K_LOCATIONS, pk_profile_location_count(p), location_json);
	put_array(&w, K_SAMPLES, pk_profile_sample_count(p), sample_json);
	put_array(&w, K_STRING_TABLE, pk_profile_string_count(p), table_string_json);
	put_bytes(&w, "\n}\n", 3);
	settle(&w);
	pk__free(w.own);
	pk__free(w.id_text);
	return w.rc;
}

static const char *const json_extensions[] = {".json", NULL};

const pk_format pk__format_json = {
    .name = "json",
    .description = "profkit's lossless JSON form of the model",
    .extensions = json_extensions,
    .gzip_by_default = false,
    .sniff = json_sniff,
    .import = json_import,
    .import_mapped = json_import_mapped,
    .export = json_export,
};
