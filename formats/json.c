/* json.c - profkit's own JSON form of the model, read and written.
 *
 * The document is one object whose arrays (samples above all) can hold
 * millions of elements, so neither side keeps the whole document as a
 * jansson tree. The exporter writes the outer object itself and lets
 * jansson encode one element at a time. The importer walks the outer
 * object itself, finds where each element's bytes end, and lets jansson
 * parse just those bytes. Memory then stays bounded by the largest element,
 * and every element keeps its place in the input, which jansson does not
 * record for values it has parsed.
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

/* Where a value is, for messages: "period", "samples[3]" or
 * "locations[2].lines[0]", and the input offset of that element. */
typedef struct where {
	const char *name;
	size_t index; /* SIZE_MAX: none */
	const char *sub;
	size_t sub_index;
	size_t at;
} where;

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
} importer;

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

/* Find where the JSON value at pos ends, without parsing it (jansson does
 * that later): strings and brackets nested to any depth are matched, a bare
 * scalar runs to the next delimiter. *count (optional) gets the number of
 * elements of an array. Returns SIZE_MAX if the input ends first. */
static size_t skip_value(const unsigned char *d, size_t size, size_t pos, size_t *count)
{
	if (pos >= size)
		return pos;
	if (d[pos] != '"' && d[pos] != '[' && d[pos] != '{') {
		while (pos < size && !is_delimiter(d[pos]))
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
	size_t end = skip_value(im->data, im->size, pos, count);
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

/* Walk the outer object once, noting where each key's value is. */
static int scan_top(importer *im)
{
	const unsigned char *d = im->data;
	size_t pos = skip_ws(d, im->size, bom_length(d, im->size));
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

/* Call `read` on each element of the top-level array k, parsed alone. */
static int walk_array(importer *im, int k, int (*read)(importer *im, json_t *v, const where *w))
{
	if (!im->seen[k])
		return 0;
	where w = {top_keys[k], SIZE_MAX, NULL, 0, im->at[k]};
	size_t pos = im->at[k];
	if (im->data[pos] != '[')
		return fail_in(im, &w, " must be an array");
	pos = skip_ws(im->data, im->size, pos + 1);
	if (pos < im->size && im->data[pos] == ']')
		return 0;
	for (w.index = 0;; w.index++) {
		size_t end;
		json_t *v = NULL;
		w.at = pos;
		PK_FORWARD(value_end(im, pos, NULL, &end));
		PK_FORWARD(parse_span(im, pos, end, &v));
		int rc = read(im, v, &w);
		json_decref(v);
		PK_FORWARD(rc);
		pos = skip_ws(im->data, im->size, end);
		if (pos < im->size && im->data[pos] == ']')
			return 0;
		if (pos >= im->size || im->data[pos] != ',')
			return expected(im, pos, "',' or ']' after an element");
		pos = skip_ws(im->data, im->size, pos + 1);
	}
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
		unsigned char *at = (unsigned char *)rec + f->offset;
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
	PK_FORWARD(walk_array(im, K_STRING_TABLE, read_table_string));
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
	PK_FORWARD(walk_array(im, K_SAMPLE_TYPES, read_sample_type));
	return walk_array(im, K_COMMENTS, read_comment);
}

static int json_import(const unsigned char *data, size_t size, pk_profile **out, pk_error *err)
{
	importer im = {.data = data, .size = size, .err = err, .unknown_at = SIZE_MAX};
	if (pk_profile_new(&im.p) < 0)
		return pk__error_set(err, PK_ENOMEM, "out of memory");
	int rc = scan_top(&im);
	if (rc == 0)
		rc = check_marker(&im);
	if (rc == 0)
		rc = read_header(&im);
	if (rc == 0 && pk__import_state_init(&im.st, im.counts[K_MAPPINGS], im.counts[K_FUNCTIONS],
	                                     im.counts[K_LOCATIONS]) < 0)
		rc = out_of_memory(&im);
	if (rc == 0)
		rc = walk_array(&im, K_MAPPINGS, read_mapping);
	if (rc == 0)
		rc = walk_array(&im, K_FUNCTIONS, read_function);
	if (rc == 0)
		rc = walk_array(&im, K_LOCATIONS, read_location);
	if (rc == 0)
		rc = walk_array(&im, K_SAMPLES, read_sample);
	pk__import_state_free(&im.st);
	pk__vec_free(&im.bytes);
	if (rc < 0) {
		pk_profile_free(im.p);
		return rc;
	}
	*out = im.p;
	return 0;
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

typedef struct writer {
	const pk_profile *p;
	pk__sink *sink;
	pk_error *err;
	int rc; /* the sink's first failure */
} writer;

/* A string: a JSON string if it is UTF-8 (jansson checks), else its bytes
 * as {"hex": "..."}. NULL if out of memory. */
static json_t *string_json(const pk_profile *p, pk_str s)
{
	const char *str = pk_profile_string(p, s);
	size_t len = pk_profile_string_length(p, s);
	json_t *v = json_stringn(str ? str : "", len);
	if (v != NULL)
		return v;
	static const char digits[] = "0123456789abcdef";
	char *hex = pk__malloc(pk__mul(len, 2));
	if (hex == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		hex[2 * i] = digits[(unsigned char)str[i] >> 4];
		hex[2 * i + 1] = digits[(unsigned char)str[i] & 15];
	}
	v = json_object();
	if (v != NULL && json_object_set_new(v, "hex", json_stringn(hex, 2 * len)) < 0) {
		json_decref(v);
		v = NULL;
	}
	pk__free(hex);
	return v;
}

/* Ids are numbers while int64 can hold them, decimal strings beyond. */
static json_t *id_json(uint64_t id)
{
	if (id <= INT64_MAX)
		return json_integer((json_int_t)id);
	char buf[24];
	snprintf(buf, sizeof buf, "%" PRIu64, id);
	return json_string(buf);
}

static json_t *addr_json(uint64_t v)
{
	char buf[24];
	snprintf(buf, sizeof buf, "0x%" PRIx64, v);
	return json_string(buf);
}

/* Add key: value to obj, taking value; false (and obj dropped) on failure. */
static bool put(json_t **obj, const char *key, json_t *value)
{
	if (*obj != NULL && value != NULL && json_object_set_new(*obj, key, value) == 0)
		return true;
	json_decref(value);
	json_decref(*obj);
	*obj = NULL;
	return false;
}

/* The object for rec's fields, F_ANY ones left out. NULL if out of memory. */
static json_t *fields_json(const pk_profile *p, const field *fields, const void *rec)
{
	json_t *obj = json_object();
	for (const field *f = fields; obj != NULL && f->key != NULL; f++) {
		const unsigned char *at = (const unsigned char *)rec + f->offset;
		uint64_t u = 0;
		int64_t i = 0;
		pk_str s = 0;
		switch (f->kind) {
		case F_ID:
		case F_ADDR:
			memcpy(&u, at, sizeof u);
			if (u != 0 || f->always)
				put(&obj, f->key, f->kind == F_ID ? id_json(u) : addr_json(u));
			break;
		case F_I64:
			memcpy(&i, at, sizeof i);
			if (i != 0 || f->always)
				put(&obj, f->key, json_integer(i));
			break;
		case F_STR:
			memcpy(&s, at, sizeof s);
			if (s != 0 || f->always)
				put(&obj, f->key, string_json(p, s));
			break;
		case F_BOOL:
			if (*at != 0 || f->always)
				put(&obj, f->key, json_boolean(*at != 0));
			break;
		case F_ANY: break;
		}
	}
	return obj;
}

static json_t *sample_type_json(const pk_profile *p, size_t i)
{
	pk_value_type vt = pk_profile_sample_type(p, i);
	return fields_json(p, value_type_fields, &vt);
}

static json_t *comment_json(const pk_profile *p, size_t i)
{
	return string_json(p, pk_profile_comment(p, i));
}

static json_t *table_string_json(const pk_profile *p, size_t i)
{
	return string_json(p, (pk_str)i);
}

static json_t *mapping_json(const pk_profile *p, size_t i)
{
	return fields_json(p, mapping_fields, pk_profile_mapping(p, i));
}

static json_t *function_json(const pk_profile *p, size_t i)
{
	return fields_json(p, function_fields, pk_profile_function(p, i));
}

static json_t *location_json(const pk_profile *p, size_t i)
{
	const pk_location *loc = pk_profile_location(p, i);
	const pk_mapping *m = loc->mapping == PK_NONE ? NULL : pk_profile_mapping(p, loc->mapping);
	location_rec rec = {loc->id, m ? m->id : 0, loc->address, loc->is_folded};
	json_t *obj = fields_json(p, location_fields, &rec);
	const pk_line *lines;
	size_t count = pk_profile_location_lines(p, i, &lines);
	if (obj == NULL || count == 0)
		return obj;
	json_t *arr = json_array();
	for (size_t j = 0; arr != NULL && j < count; j++) {
		const pk_function *f = pk_profile_function(p, lines[j].function);
		line_rec lr = {f ? f->id : 0, lines[j].line, lines[j].column};
		if (json_array_append_new(arr, fields_json(p, line_fields, &lr)) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	put(&obj, "lines", arr);
	return obj;
}

static json_t *label_json(const pk_profile *p, const pk_label *l)
{
	json_t *obj = json_object();
	put(&obj, "key", string_json(p, l->key));
	if (l->str != 0)
		put(&obj, "str", string_json(p, l->str));
	if (l->num != 0 || l->str == 0)
		put(&obj, "num", json_integer(l->num));
	if (l->num_unit != 0)
		put(&obj, "num_unit", string_json(p, l->num_unit));
	return obj;
}

static json_t *sample_json(const pk_profile *p, size_t i)
{
	pk_sample s;
	if (pk_profile_sample(p, i, &s) < 0)
		return NULL;
	json_t *obj = json_object(), *locations = json_array(), *values = json_array();
	for (size_t j = 0; locations != NULL && j < s.depth; j++) {
		const pk_location *loc = pk_profile_location(p, s.locations[j]);
		if (json_array_append_new(locations, id_json(loc ? loc->id : 0)) < 0) {
			json_decref(locations);
			locations = NULL;
		}
	}
	for (size_t j = 0; values != NULL && j < s.value_count; j++) {
		if (json_array_append_new(values, json_integer(s.values[j])) < 0) {
			json_decref(values);
			values = NULL;
		}
	}
	if (!put(&obj, "locations", locations)) {
		json_decref(values);
		return NULL;
	}
	if (!put(&obj, "values", values) || s.label_count == 0)
		return obj;
	json_t *labels = json_array();
	for (size_t j = 0; labels != NULL && j < s.label_count; j++) {
		if (json_array_append_new(labels, label_json(p, &s.labels[j])) < 0) {
			json_decref(labels);
			labels = NULL;
		}
	}
	put(&obj, "labels", labels);
	return obj;
}

static int dump_to_sink(const char *buffer, size_t size, void *data)
{
	writer *w = data;
	if (w->rc == 0)
		w->rc = pk__sink_write(w->sink, buffer, size);
	return w->rc < 0 ? -1 : 0;
}

/* Write v compactly and drop it; NULL means building it ran out of memory. */
static int emit(writer *w, json_t *v)
{
	if (v == NULL)
		return pk__error_set(w->err, PK_ENOMEM, "out of memory");
	int r = json_dump_callback(v, dump_to_sink, w, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(v);
	if (w->rc < 0)
		return w->rc;
	return r < 0 ? pk__error_set(w->err, PK_ENOMEM, "out of memory") : 0;
}

static int emit_key(writer *w, int k)
{
	return pk__sink_printf(w->sink, "%s  \"%s\": ", k == K_FORMAT ? "{\n" : ",\n", top_keys[k]);
}

/* A top-level array, one element a line. */
static int emit_array(writer *w, int k, size_t count,
                      json_t *(*element)(const pk_profile *p, size_t i))
{
	PK_FORWARD(emit_key(w, k));
	if (count == 0)
		return pk__sink_puts(w->sink, "[]");
	for (size_t i = 0; i < count; i++) {
		PK_FORWARD(pk__sink_puts(w->sink, i == 0 ? "[\n    " : ",\n    "));
		PK_FORWARD(emit(w, element(w->p, i)));
	}
	return pk__sink_puts(w->sink, "\n  ]");
}

static int emit_string(writer *w, int k, pk_str s)
{
	PK_FORWARD(emit_key(w, k));
	return emit(w, string_json(w->p, s));
}

static int emit_integer(writer *w, int k, int64_t v)
{
	PK_FORWARD(emit_key(w, k));
	return emit(w, json_integer(v));
}

static int json_export(const pk_profile *p, const pk_write_options *opts, pk__sink *sink,
                       pk_error *err)
{
	(void)opts; /* nothing in them applies to this format */
	writer w = {p, sink, err, 0};
	pk_value_type pt = pk_profile_period_type(p);
	PK_FORWARD(emit_key(&w, K_FORMAT));
	PK_FORWARD(emit(&w, json_string(JSON_MARKER)));
	PK_FORWARD(emit_integer(&w, K_VERSION, JSON_VERSION));
	PK_FORWARD(
	    emit_array(&w, K_SAMPLE_TYPES, pk_profile_sample_type_count(p), sample_type_json));
	PK_FORWARD(emit_string(&w, K_DEFAULT_SAMPLE_TYPE, pk_profile_default_sample_type(p)));
	PK_FORWARD(emit_key(&w, K_PERIOD_TYPE));
	PK_FORWARD(emit(&w, fields_json(p, value_type_fields, &pt)));
	PK_FORWARD(emit_integer(&w, K_PERIOD, pk_profile_period(p)));
	PK_FORWARD(emit_integer(&w, K_TIME_NANOS, pk_profile_time_nanos(p)));
	PK_FORWARD(emit_integer(&w, K_DURATION_NANOS, pk_profile_duration_nanos(p)));
	PK_FORWARD(emit_array(&w, K_COMMENTS, pk_profile_comment_count(p), comment_json));
	PK_FORWARD(emit_string(&w, K_DROP_FRAMES, pk_profile_drop_frames(p)));
	PK_FORWARD(emit_string(&w, K_KEEP_FRAMES, pk_profile_keep_frames(p)));
	PK_FORWARD(emit_string(&w, K_DOC_URL, pk_profile_doc_url(p)));
	PK_FORWARD(emit_array(&w, K_MAPPINGS, pk_profile_mapping_count(p), mapping_json));
	PK_FORWARD(emit_array(&w, K_FUNCTIONS, pk_profile_function_count(p), function_json));
	PK_FORWARD(emit_array(&w, K_LOCATIONS, pk_profile_location_count(p), location_json));
	PK_FORWARD(emit_array(&w, K_SAMPLES, pk_profile_sample_count(p), sample_json));
	PK_FORWARD(emit_array(&w, K_STRING_TABLE, pk_profile_string_count(p), table_string_json));
	return pk__sink_puts(sink, "\n}\n");
}

static const char *const json_extensions[] = {".json", NULL};

const pk_format pk__format_json = {
    .name = "json",
    .description = "profkit's lossless JSON form of the model",
    .extensions = json_extensions,
    .gzip_by_default = false,
    .sniff = json_sniff,
    .import = json_import,
    .export = json_export,
};
