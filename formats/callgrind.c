/* callgrind.c - valgrind's callgrind files, read into the model.
 *
 * A callgrind file holds costs, not stacks: the self cost of each source
 * position of each function, and the inclusive cost of each call edge (a
 * call site in the caller and the function it calls). The reader takes in
 * all of one part (one dump, or one thread's dump) into a call graph, then
 * rebuilds weighted stacks from it: every function's self cost is spread
 * over the call paths that reach it, in proportion to the inclusive cost
 * each call edge sent into it, up to the functions nobody calls. Self costs
 * and event totals stay exact; which path a given cost really came through
 * is unknowable from the file. docs/formats/callgrind.md has the details.
 *
 * The grammar is the one valgrind documents (cl-format), read the way
 * KCachegrind and callgrind_annotate read it: names are compressed per kind
 * (files, functions, objects) across all parts, relative subpositions are
 * relative to the last cost line (a calls= or jump target never moves it),
 * unknown "key:" and "key=" lines are skipped. Where those readers warn
 * and go on, we stop with the line and column, so that no cost is lost
 * unnoticed. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sniffers look at this many bytes at most. */
#define SNIFF_BYTES 8192
/* Events (sample types) a file may name; valgrind writes at most ~20. */
#define MAX_EVENTS 64
/* Call paths kept per function; the lightest beyond are dropped and the
 * rest scaled up to keep the totals. */
#define MAX_PATHS 16
/* Frames per rebuilt stack; deeper stacks lose their root end. */
#define MAX_DEPTH 512
/* Frames in all rebuilt stacks together, per byte of input and in all: a
 * small file whose call graph makes many deep paths to many positions
 * could ask for gigabytes. Real files need up to ~15 a byte (2.2 MB of
 * --dump-instr=yes: 34 million), most 1 or 2. */
#define FRAMES_PER_BYTE 32
#define MIN_FRAMES ((size_t)1 << 24)
#define MAX_FRAMES ((size_t)1 << 29)
/* Longest piece of a bad line quoted in a message. */
#define SHOWN 40

enum { KIND_FILE, KIND_FUNCTION, KIND_OBJECT, KIND_COUNT };
static const char *const kind_names[KIND_COUNT] = {"file", "function", "object"};

/* The columns of a cost line's position, as "positions:" orders them. */
enum { COL_INSTR, COL_BB, COL_LINE, COL_COUNT };
static const char *const column_names[COL_COUNT] = {"instr", "bb", "line"};

/* What the next cost line is: a self cost, the inclusive cost of the call
 * that a calls= line announced, or the source of a jump (no cost). */
enum { NEXT_SELF, NEXT_CALL, NEXT_JUMP };

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int hex_value(unsigned char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static size_t skip_spaces(const unsigned char *d, size_t pos, size_t end)
{
	while (pos < end && is_space(d[pos]))
		pos++;
	return pos;
}

/* The end of the token at pos: the next space, tab or the line's end. */
static size_t token_end(const unsigned char *d, size_t pos, size_t end)
{
	while (pos < end && !is_space(d[pos]))
		pos++;
	return pos;
}

/* The line that starts at *pos: [*s, *e), without its "\n". *pos moves past
 * it. False at the end of the input. */
static bool next_line(const unsigned char *d, size_t size, size_t *pos, size_t *s, size_t *e)
{
	if (*pos >= size)
		return false;
	*s = *pos;
	const unsigned char *nl = memchr(d + *pos, '\n', size - *pos);
	*e = nl ? (size_t)(nl - d) : size;
	*pos = nl ? *e + 1 : size;
	return true;
}

/* A UTF-8 byte order mark is skipped, as the other text readers do. */
static size_t bom_length(const unsigned char *d, size_t size)
{
	return size >= 3 && d[0] == 0xef && d[1] == 0xbb && d[2] == 0xbf ? 3 : 0;
}

static bool word_is(const unsigned char *d, size_t s, size_t e, const char *word)
{
	size_t n = strlen(word);
	return e - s == n && memcmp(d + s, word, n) == 0;
}

/* ------------------------------------------------------------ line kinds */

typedef enum { LINE_BLANK, LINE_COST, LINE_HEADER, LINE_SPEC, LINE_BAD } line_kind;

/* What the line [s, e) is. Leading and trailing whitespace (a "\r" before
 * the "\n" included) do not count: *cs and *ce get the rest. A "key: value"
 * header or a "key=value" spec line gets its key in [*ks, *ke) and the
 * start of its value (past the separator and spaces) in *vs. The first of
 * ':' and '=' decides which it is, so "cmd: a=b" is a header and
 * "fn=a::b" a spec. */
static line_kind classify(const unsigned char *d, size_t s, size_t e, size_t *cs, size_t *ce,
                          size_t *ks, size_t *ke, size_t *vs)
{
	s = skip_spaces(d, s, e);
	while (e > s && (is_space(d[e - 1]) || d[e - 1] == '\r'))
		e--;
	*cs = s;
	*ce = e;
	if (s == e || d[s] == '#')
		return LINE_BLANK;
	unsigned char c = d[s];
	if (is_digit(c) || c == '+' || c == '-' || c == '*')
		return LINE_COST;
	if (!is_alpha(c))
		return LINE_BAD;
	size_t j = s;
	while (j < e && d[j] != ':' && d[j] != '=')
		j++;
	if (j == e)
		return LINE_BAD;
	*ks = s;
	*ke = j;
	*vs = skip_spaces(d, j + 1, e);
	return d[j] == ':' ? LINE_HEADER : LINE_SPEC;
}

/* Header keys that begin a new part when they follow body lines: each part
 * repeats them (valgrind's --combine-dumps, or files put end to end). */
static bool starts_part(const unsigned char *d, size_t ks, size_t ke)
{
	static const char *const keys[] = {"version", "creator", "pid",       "thread", "part",
	                                   "cmd",     "desc",    "positions", "events", "event"};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (word_is(d, ks, ke, keys[i]))
			return true;
	return false;
}

/* ------------------------------------------------------------ hash tables */

/* A set of records (kept in a pk__vec, each `stride` bytes, its key in its
 * first key_size bytes) found by key. Keys are plain structs without
 * padding, compared as bytes. */
typedef struct table {
	uint32_t *slots; /* record index + 1; 0 is empty */
	size_t slot_count;
} table;

static uint64_t hash_key(const void *key, size_t size)
{
	const unsigned char *b = key;
	uint64_t h = 0xcbf29ce484222325u;
	for (size_t i = 0; i < size; i++)
		h = (h ^ b[i]) * 0x100000001b3u;
	h ^= h >> 31;
	h *= 0x9e3779b97f4a7c15u;
	return h ^ (h >> 29);
}

static int table_grow(table *t, const pk__vec *records, size_t stride, size_t key_size)
{
	size_t count = t->slot_count ? t->slot_count * 2 : 256;
	uint32_t *slots = pk__calloc(count, sizeof *slots);
	if (slots == NULL)
		return PK_ENOMEM;
	for (size_t i = 0; i < records->count; i++) {
		const unsigned char *r = (const unsigned char *)records->items + i * stride;
		size_t at = hash_key(r, key_size) & (count - 1);
		while (slots[at] != 0)
			at = (at + 1) & (count - 1);
		slots[at] = (uint32_t)(i + 1);
	}
	pk__free(t->slots);
	t->slots = slots;
	t->slot_count = count;
	return 0;
}

/* The index of the record whose key is rec's, added as a copy of rec if
 * there is none; *added (optional) tells which. */
static int table_intern(table *t, pk__vec *records, size_t stride, const void *rec, size_t key_size,
                        uint32_t *out, bool *added)
{
	if ((records->count + 1) * 2 > t->slot_count)
		PK_FORWARD(table_grow(t, records, stride, key_size));
	size_t mask = t->slot_count - 1;
	size_t at = hash_key(rec, key_size) & mask;
	for (; t->slots[at] != 0; at = (at + 1) & mask) {
		const unsigned char *r =
		    (const unsigned char *)records->items + (size_t)(t->slots[at] - 1) * stride;
		if (memcmp(r, rec, key_size) == 0) {
			*out = t->slots[at] - 1;
			if (added)
				*added = false;
			return 0;
		}
	}
	if (records->count >= UINT32_MAX - 1)
		return PK_ENOMEM;
	size_t index;
	PK_FORWARD(pk__vec_push(records, stride, rec, 1, &index));
	t->slots[at] = (uint32_t)(index + 1);
	*out = (uint32_t)index;
	if (added)
		*added = true;
	return 0;
}

static void table_free(table *t)
{
	pk__free(t->slots);
	*t = (table){0};
}

/* ---------------------------------------------------------------- records */

/* Names are ids in the importer's own string table (0 is "", which stands
 * for an unknown file or object: callgrind writes "???"). */

/* A function of the call graph: callgrind's identity of a function is its
 * object, the file it was defined in (fl=) and its name. */
typedef struct node_rec {
	uint32_t object, file, name;
} node_rec;

/* A position: where a cost or a call happened. One becomes one location,
 * whose line names the function and the file of that position (fi= and fe=
 * put a function's inlined code in another file). */
typedef struct pos_rec {
	uint32_t object, name, file, zero;
	int64_t line;
	uint64_t address;
	uint32_t location; /* PK_NONE until a stack uses it */
	uint32_t pad;
} pos_rec;
#define POS_KEY offsetof(pos_rec, location)

/* A node's self cost at a position; the costs are kept apart. */
typedef struct item_rec {
	uint32_t node, pos;
} item_rec;

/* A call edge: the caller, its call site, the callee; the inclusive costs
 * are kept apart. */
typedef struct edge_rec {
	uint32_t caller, pos, callee, zero;
	uint64_t count;
} edge_rec;
#define EDGE_KEY offsetof(edge_rec, count)

/* A model function: name and file. */
typedef struct func_rec {
	uint32_t name, file;
	uint32_t index;
} func_rec;
#define FUNC_KEY offsetof(func_rec, index)

/* ------------------------------------------------------------------ state */

/* What belongs to one part: its header and the call graph of its body. */
typedef struct part {
	int columns[COL_COUNT]; /* COL_* of each position column, in order */
	size_t column_count;
	bool has_events;             /* an events: line was read */
	uint32_t events[MAX_EVENTS]; /* the global event of each cost column */
	size_t event_count;
	bool has_body; /* a spec or cost line was read */
	uint64_t last[COL_COUNT];
	/* the position of cost lines: ob=, fl= (the function's file), the
	 * file of the code (fl=, fi=, fe=) and fn= */
	uint32_t object, fn_file, file, name;
	bool has_function;
	uint32_t node; /* the current node, PK_NONE when to be looked up */
	/* the callee of the next call: cob=, cfi=/cfl= and the cfn= node */
	uint32_t call_object, call_file;
	bool has_call_object, has_call_file;
	uint32_t callee; /* PK_NONE before the first cfn= */
	int next;        /* NEXT_* */
	uint64_t call_count;
	long call_line;
	bool has_thread, has_number;
	int64_t thread, number;
	table node_table, item_table, edge_table;
	pk__vec nodes;      /* node_rec */
	pk__vec items;      /* item_rec */
	pk__vec item_costs; /* int64_t, event_count of the file per item */
	pk__vec edges;      /* edge_rec */
	pk__vec edge_costs; /* uint64_t, the same */
} part;

typedef struct importer {
	const unsigned char *d;
	size_t size;
	pk_error *err;
	long line;         /* 1-based number of the line being read */
	size_t line_start; /* where its columns start counting */
	pk_profile *p;
	pk__strtab *names;            /* files, functions, objects, events, comments */
	pk__idmap ids[KIND_COUNT];    /* compressed id + 1 -> slot in id_names */
	pk__vec id_names[KIND_COUNT]; /* uint32_t name by slot */
	pk__vec event_of;             /* uint32_t by name: the event's index + 1, or 0 */
	size_t event_count;           /* of the whole file: the sample types */
	uint64_t totals[MAX_EVENTS];
	size_t part_count;  /* found by the first pass */
	bool label_parts;   /* the parts are told apart by a "part" label */
	size_t part_index;  /* 1-based, of the part being read */
	bool any_events;    /* some part had an events: line */
	pk__vec comment_of; /* unsigned char by name: already a comment */
	table pos_table, func_table;
	pk__vec positions;  /* pos_rec */
	pk__vec funcs;      /* func_rec */
	pk__vec mapping_of; /* uint32_t by name: mapping index + 1, or 0 */
	pk_str thread_key, part_key;
	size_t frames, max_frames;  /* in the samples so far, and at most */
	uint64_t costs[MAX_EVENTS]; /* a cost line's, by column */
	size_t cost_at[MAX_EVENTS];
	part part;
} importer;

/* A PK_EFORMAT error at byte `at` of the current line. Columns count
 * characters (UTF-8 sequences), as the other text readers' do. */
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

static int shown(size_t s, size_t e)
{
	return e - s > SHOWN ? SHOWN : (int)(e - s);
}

/* ---------------------------------------------------------------- numbers */

typedef enum { NUM_OK, NUM_BAD, NUM_TOO_LARGE } num_status;

/* The Number of the grammar at *pos: decimal digits, or "0x" and hex
 * digits, ending at a space, tab or the line's end. *pos moves past it. */
static num_status read_number(const unsigned char *d, size_t *pos, size_t end, uint64_t *out)
{
	size_t s = *pos;
	uint64_t v = 0;
	bool too_large = false;
	if (end - s > 2 && d[s] == '0' && (d[s + 1] == 'x' || d[s + 1] == 'X') &&
	    hex_value(d[s + 2]) >= 0) {
		for (s += 2; s < end && hex_value(d[s]) >= 0; s++) {
			too_large |= v > UINT64_MAX >> 4;
			v = v << 4 | (uint64_t)hex_value(d[s]);
		}
	} else {
		if (s >= end || !is_digit(d[s]))
			return NUM_BAD;
		for (; s < end && is_digit(d[s]); s++) {
			unsigned digit = (unsigned)(d[s] - '0');
			too_large |= v > (UINT64_MAX - digit) / 10;
			v = v * 10 + digit;
		}
	}
	if (s < end && !is_space(d[s]))
		return NUM_BAD;
	*pos = s;
	*out = v;
	return too_large ? NUM_TOO_LARGE : NUM_OK;
}

/* ------------------------------------------------------------------ names */

static int intern_name(importer *im, const unsigned char *s, size_t len, uint32_t *out)
{
	return pk__strtab_intern(im->names, (const char *)s, len, out);
}

/* The name of a position spec's value [s, e): "(N) name" defines id N of
 * its kind and uses it, "(N)" uses it, anything else is the name itself
 * (a name never starts with "(" and a digit). Files and objects named
 * "???" are unknown: name 0. */
static int read_name(importer *im, int kind, size_t s, size_t e, uint32_t *out)
{
	const unsigned char *d = im->d;
	uint32_t name;
	if (e - s >= 2 && d[s] == '(' && is_digit(d[s + 1])) {
		size_t at = s + 1;
		uint64_t id = 0;
		bool too_large = false;
		for (; at < e && is_digit(d[at]); at++) {
			unsigned digit = (unsigned)(d[at] - '0');
			too_large |= id > (UINT64_MAX - 1 - digit) / 10;
			id = id * 10 + digit;
		}
		if (too_large)
			return fail_at(im, s + 1, "the compressed %s id %.*s is too large",
			               kind_names[kind], shown(s + 1, at), d + s + 1);
		if (at >= e || d[at] != ')')
			return fail_at(im, at, "expected ')' after the compressed %s id",
			               kind_names[kind]);
		size_t rest = skip_spaces(d, at + 1, e);
		uint32_t slot = pk__idmap_get(&im->ids[kind], id + 1);
		if (rest == e) {
			if (slot == PK_NONE)
				return fail_at(im, s,
				               "the compressed %s id (%llu) is used before it is "
				               "defined",
				               kind_names[kind], (unsigned long long)id);
			*out = PK_VEC_AT(im->id_names[kind], uint32_t, slot);
			return 0;
		}
		PK_FORWARD(intern_name(im, d + rest, e - rest, &name));
		if (kind != KIND_FUNCTION && word_is(d, rest, e, "???"))
			name = 0;
		/* A redefinition replaces the name, as callgrind_annotate does:
		 * files put end to end each define their ids anew. */
		if (slot == PK_NONE) {
			size_t at_slot = im->id_names[kind].count;
			if (at_slot >= UINT32_MAX - 1)
				return PK_ENOMEM;
			PK_FORWARD(pk__vec_push(&im->id_names[kind], sizeof name, &name, 1, NULL));
			PK_FORWARD(pk__idmap_put(&im->ids[kind], id + 1, (uint32_t)at_slot));
		} else {
			PK_VEC_AT(im->id_names[kind], uint32_t, slot) = name;
		}
		*out = name;
		return 0;
	}
	PK_FORWARD(intern_name(im, d + s, e - s, &name));
	*out = kind != KIND_FUNCTION && word_is(d, s, e, "???") ? 0 : name;
	return 0;
}

/* ----------------------------------------------------------- graph records */

static int node_of(importer *im, uint32_t object, uint32_t file, uint32_t name, uint32_t *out)
{
	part *pt = &im->part;
	node_rec n = {object, file, name};
	return table_intern(&pt->node_table, &pt->nodes, sizeof n, &n, sizeof n, out, NULL);
}

static int pos_of(importer *im, int64_t line, uint64_t address, uint32_t *out)
{
	part *pt = &im->part;
	pos_rec r = {pt->object, pt->name, pt->file, 0, line, address, PK_NONE, 0};
	return table_intern(&im->pos_table, &im->positions, sizeof r, &r, POS_KEY, out, NULL);
}

/* Add a self cost line's costs (by column) to its item. */
static int add_self(importer *im, uint32_t node, uint32_t pos)
{
	part *pt = &im->part;
	bool any = false;
	for (size_t c = 0; c < pt->event_count; c++)
		any |= im->costs[c] != 0;
	if (!any)
		return 0;
	/* Every event's total must fit in an int64, or the samples cannot
	 * carry it; a smaller sum (an item's) then fits too. */
	for (size_t c = 0; c < pt->event_count; c++) {
		uint32_t ev = pt->events[c];
		if (im->costs[c] > (uint64_t)INT64_MAX - im->totals[ev])
			return fail_at(
			    im, im->cost_at[c],
			    "the %s costs add up to more than 9223372036854775807, the "
			    "largest total profkit holds",
			    pk_profile_string(im->p, pk_profile_sample_type(im->p, ev).type));
	}
	item_rec rec = {node, pos};
	uint32_t index;
	bool added;
	PK_FORWARD(table_intern(&pt->item_table, &pt->items, sizeof rec, &rec, sizeof rec, &index,
	                        &added));
	if (added)
		PK_FORWARD(
		    pk__vec_push(&pt->item_costs, sizeof(int64_t), NULL, im->event_count, NULL));
	int64_t *sum = &PK_VEC_AT(pt->item_costs, int64_t, (size_t)index * im->event_count);
	for (size_t c = 0; c < pt->event_count; c++) {
		uint32_t ev = pt->events[c];
		im->totals[ev] += im->costs[c];
		sum[ev] += (int64_t)im->costs[c];
	}
	return 0;
}

/* Add a call cost line's inclusive costs to its edge. They only weigh the
 * call paths, so their sums saturate instead of failing. */
static int add_call(importer *im, uint32_t node, uint32_t pos)
{
	part *pt = &im->part;
	edge_rec rec = {node, pos, pt->callee, 0, 0};
	uint32_t index;
	bool added;
	PK_FORWARD(
	    table_intern(&pt->edge_table, &pt->edges, sizeof rec, &rec, EDGE_KEY, &index, &added));
	if (added)
		PK_FORWARD(
		    pk__vec_push(&pt->edge_costs, sizeof(uint64_t), NULL, im->event_count, NULL));
	edge_rec *e = &PK_VEC_AT(pt->edges, edge_rec, index);
	e->count = e->count > UINT64_MAX - pt->call_count ? UINT64_MAX : e->count + pt->call_count;
	uint64_t *sum = &PK_VEC_AT(pt->edge_costs, uint64_t, (size_t)index * im->event_count);
	for (size_t c = 0; c < pt->event_count; c++) {
		uint32_t ev = pt->events[c];
		sum[ev] = sum[ev] > UINT64_MAX - im->costs[c] ? UINT64_MAX : sum[ev] + im->costs[c];
	}
	return 0;
}

/* -------------------------------------------------------------- cost lines */

/* What each column holds, for messages. */
static const char *const column_what[COL_COUNT] = {"instruction address", "basic block address",
                                                   "line number"};

/* One subposition of column `col` at *pos, into *value (which holds the
 * last cost line's): a Number, "+N", "-N" or "*". */
static int read_subposition(importer *im, size_t *pos, size_t end, int col, uint64_t *value)
{
	const unsigned char *d = im->d;
	size_t s = *pos, tok_end = token_end(d, s, end);
	uint64_t limit = col == COL_LINE ? (uint64_t)INT64_MAX : UINT64_MAX;
	const char *what = column_what[col];
	if (d[s] == '*' && tok_end == s + 1) {
		*pos = tok_end;
		return 0;
	}
	size_t at = d[s] == '+' || d[s] == '-' ? s + 1 : s;
	uint64_t n;
	num_status st = read_number(d, &at, end, &n);
	if (st == NUM_BAD)
		return fail_at(im, s, "expected %s %s (a number, +N, -N or *), found '%.*s'",
		               col == COL_INSTR ? "an" : "a", what, shown(s, tok_end), d + s);
	if (d[s] == '-') {
		if (st != NUM_OK || n > *value)
			return fail_at(im, s, "the relative %s %.*s goes below 0 from %llu", what,
			               shown(s, tok_end), d + s, (unsigned long long)*value);
		*value -= n;
	} else if (d[s] == '+') {
		if (st != NUM_OK || n > limit - *value)
			return fail_at(im, s, "the relative %s %.*s goes past %llu from %llu", what,
			               shown(s, tok_end), d + s, (unsigned long long)limit,
			               (unsigned long long)*value);
		*value += n;
	} else {
		if (st != NUM_OK || n > limit)
			return fail_at(im, s, "the %s %.*s is larger than %llu", what,
			               shown(s, tok_end), d + s, (unsigned long long)limit);
		*value = n;
	}
	*pos = at;
	return 0;
}

static int cost_line(importer *im, size_t s, size_t e)
{
	const unsigned char *d = im->d;
	part *pt = &im->part;
	pt->has_body = true;
	if (!pt->has_events)
		return fail_at(im, s, "a cost line before the events: line");
	uint64_t v[COL_COUNT];
	memcpy(v, pt->last, sizeof v);
	size_t pos = s;
	for (size_t c = 0; c < pt->column_count; c++) {
		int col = pt->columns[c];
		if (pos >= e)
			return fail_at(im, pos, "expected %s %s, found the end of the line",
			               col == COL_INSTR ? "an" : "a", column_what[col]);
		PK_FORWARD(read_subposition(im, &pos, e, col, &v[col]));
		pos = skip_spaces(d, pos, e);
	}
	size_t n = 0;
	while (pos < e) {
		size_t tok = pos, tok_end = token_end(d, pos, e);
		if (n == pt->event_count)
			return fail_at(im, tok,
			               "more costs than the %zu event%s of the events: line",
			               pt->event_count, pt->event_count == 1 ? "" : "s");
		num_status st = read_number(d, &pos, e, &im->costs[n]);
		if (st == NUM_BAD)
			return fail_at(im, tok,
			               "expected a cost (a decimal or 0x hex number), found '%.*s'",
			               shown(tok, tok_end), d + tok);
		if (st == NUM_TOO_LARGE)
			return fail_at(im, tok, "the cost %.*s does not fit in 64 bits",
			               shown(tok, tok_end), d + tok);
		if (im->costs[n] > (uint64_t)INT64_MAX)
			return fail_at(
			    im, tok,
			    "the cost %.*s is larger than 9223372036854775807, the largest "
			    "profkit holds",
			    shown(tok, tok_end), d + tok);
		im->cost_at[n++] = tok;
		pos = skip_spaces(d, pos, e);
	}
	for (; n < pt->event_count; n++)
		im->costs[n] = 0;
	memcpy(pt->last, v, sizeof v);
	if (pt->next == NEXT_JUMP) {
		pt->next = NEXT_SELF;
		return 0;
	}
	if (!pt->has_function)
		return fail_at(im, s, "a cost line before any fn= line");
	if (pt->node == PK_NONE)
		PK_FORWARD(node_of(im, pt->object, pt->fn_file, pt->name, &pt->node));
	uint32_t p;
	PK_FORWARD(pos_of(im, (int64_t)v[COL_LINE], v[COL_INSTR], &p));
	if (pt->next == NEXT_CALL) {
		pt->next = NEXT_SELF;
		return add_call(im, pt->node, p);
	}
	return add_self(im, pt->node, p);
}

/* ------------------------------------------------------------ spec lines */

static int mapping_of(importer *im, uint32_t object, uint32_t *out);

static int spec_line(importer *im, size_t ks, size_t ke, size_t vs, size_t e)
{
	const unsigned char *d = im->d;
	part *pt = &im->part;
	uint32_t name;
	pt->has_body = true;
	if (word_is(d, ks, ke, "fn")) {
		PK_FORWARD(read_name(im, KIND_FUNCTION, vs, e, &pt->name));
		pt->has_function = true;
		pt->node = PK_NONE;
	} else if (word_is(d, ks, ke, "fl")) {
		PK_FORWARD(read_name(im, KIND_FILE, vs, e, &name));
		pt->fn_file = pt->file = name;
		pt->node = PK_NONE;
	} else if (word_is(d, ks, ke, "fi") || word_is(d, ks, ke, "fe")) {
		PK_FORWARD(read_name(im, KIND_FILE, vs, e, &pt->file));
	} else if (word_is(d, ks, ke, "ob")) {
		PK_FORWARD(read_name(im, KIND_OBJECT, vs, e, &pt->object));
		pt->node = PK_NONE;
		/* Mappings in the order objects appear, so that the first is
		 * the program (pprof names a profile after its first one). */
		uint32_t mapping;
		PK_FORWARD(mapping_of(im, pt->object, &mapping));
	} else if (word_is(d, ks, ke, "cob")) {
		PK_FORWARD(read_name(im, KIND_OBJECT, vs, e, &pt->call_object));
		pt->has_call_object = true;
	} else if (word_is(d, ks, ke, "cfi") || word_is(d, ks, ke, "cfl")) {
		PK_FORWARD(read_name(im, KIND_FILE, vs, e, &pt->call_file));
		pt->has_call_file = true;
	} else if (word_is(d, ks, ke, "cfn")) {
		/* The callee is in the caller's object and the current file
		 * unless cob= and cfi= say otherwise, for this cfn= only. */
		PK_FORWARD(read_name(im, KIND_FUNCTION, vs, e, &name));
		PK_FORWARD(node_of(im, pt->has_call_object ? pt->call_object : pt->object,
		                   pt->has_call_file ? pt->call_file : pt->file, name,
		                   &pt->callee));
		pt->has_call_object = pt->has_call_file = false;
	} else if (word_is(d, ks, ke, "calls") || word_is(d, ks, ke, "rcalls")) {
		/* The target position after the count is not used (nor by
		 * KCachegrind and callgrind_annotate): it does not move the
		 * position relative ones refer to. */
		size_t at = vs, tok_end = token_end(d, vs, e);
		num_status st = read_number(d, &at, e, &pt->call_count);
		if (st == NUM_BAD)
			return fail_at(im, vs, "expected a call count after calls=, found '%.*s'",
			               shown(vs, tok_end), d + vs);
		if (st == NUM_TOO_LARGE)
			pt->call_count = UINT64_MAX; /* it only weighs paths */
		if (pt->callee == PK_NONE)
			return fail_at(im, ks, "a calls= line before any cfn= line");
		pt->next = NEXT_CALL;
		pt->call_line = im->line;
	} else if (word_is(d, ks, ke, "jump") || word_is(d, ks, ke, "jcnd")) {
		pt->next = NEXT_JUMP;
	} else if (word_is(d, ks, ke, "jfi")) {
		PK_FORWARD(read_name(im, KIND_FILE, vs, e, &name)); /* may define an id */
	} else if (word_is(d, ks, ke, "jfn")) {
		PK_FORWARD(read_name(im, KIND_FUNCTION, vs, e, &name));
	}
	/* other keys (a later version's, or rec=, frfn=) are skipped */
	return 0;
}

/* ----------------------------------------------------------- header lines */

/* "key: value" as a comment of the profile, once per distinct text. */
static int add_comment(importer *im, size_t ks, size_t ke, size_t vs, size_t e)
{
	char buf[512];
	size_t klen = ke - ks, vlen = e - vs;
	char *text = klen + vlen + 2 <= sizeof buf ? buf : pk__malloc(klen + vlen + 2);
	if (text == NULL)
		return PK_ENOMEM;
	memcpy(text, im->d + ks, klen);
	text[klen] = ':';
	text[klen + 1] = ' ';
	memcpy(text + klen + 2, im->d + vs, vlen);
	size_t len = vlen > 0 ? klen + 2 + vlen : klen + 1;
	uint32_t id;
	int rc = pk__strtab_intern(im->names, text, len, &id);
	if (rc == 0 && id >= im->comment_of.count)
		rc = pk__vec_push(&im->comment_of, 1, NULL, id + 1 - im->comment_of.count, NULL);
	if (rc == 0 && !PK_VEC_AT(im->comment_of, unsigned char, id)) {
		pk_str s;
		rc = pk_profile_intern(im->p, text, len, &s);
		if (rc == 0)
			rc = pk_profile_add_comment(im->p, s);
		if (rc == 0)
			PK_VEC_AT(im->comment_of, unsigned char, id) = 1;
	}
	if (text != buf)
		pk__free(text);
	return rc;
}

static int positions_line(importer *im, size_t vs, size_t e)
{
	const unsigned char *d = im->d;
	part *pt = &im->part;
	pt->column_count = 0;
	for (size_t s = vs; s < e; s = skip_spaces(d, s, e)) {
		size_t t = token_end(d, s, e);
		int col = COL_COUNT;
		for (int c = 0; c < COL_COUNT; c++)
			if (word_is(d, s, t, column_names[c]))
				col = c;
		if (col == COL_COUNT)
			return fail_at(
			    im, s, "unknown position '%.*s' (positions: names instr, bb and line)",
			    shown(s, t), d + s);
		for (size_t c = 0; c < pt->column_count; c++)
			if (pt->columns[c] == col)
				return fail_at(im, s, "positions: names %s twice",
				               column_names[col]);
		pt->columns[pt->column_count++] = col;
		s = t;
	}
	return 0;
}

static int events_line(importer *im, size_t vs, size_t e)
{
	const unsigned char *d = im->d;
	part *pt = &im->part;
	pt->event_count = 0;
	for (size_t s = vs; s < e; s = skip_spaces(d, s, e)) {
		size_t t = token_end(d, s, e);
		uint32_t name;
		PK_FORWARD(intern_name(im, d + s, t - s, &name));
		uint32_t ev =
		    name < im->event_of.count ? PK_VEC_AT(im->event_of, uint32_t, name) : 0;
		if (ev == 0)
			return fail_at(im, s,
			               "more than %d different events; profkit reads at most %d",
			               MAX_EVENTS, MAX_EVENTS);
		for (size_t c = 0; c < pt->event_count; c++)
			if (pt->events[c] == ev - 1)
				return fail_at(im, s, "the events: line names %.*s twice",
				               shown(s, t), d + s);
		pt->events[pt->event_count++] = ev - 1;
		s = t;
	}
	if (pt->event_count == 0)
		return fail_at(im, vs, "the events: line names no event");
	pt->has_events = true;
	im->any_events = true;
	return 0;
}

/* A header's number (pid:, thread:, part:), or false if it is not one. */
static bool header_number(const unsigned char *d, size_t vs, size_t e, int64_t *out)
{
	size_t at = vs;
	uint64_t v;
	if (read_number(d, &at, e, &v) != NUM_OK || at != e || v > (uint64_t)INT64_MAX)
		return false;
	*out = (int64_t)v;
	return true;
}

static int build_part(importer *im);
static void reset_part(importer *im);

static int header_line(importer *im, size_t ks, size_t ke, size_t vs, size_t e)
{
	const unsigned char *d = im->d;
	part *pt = &im->part;
	if (pt->has_body && starts_part(d, ks, ke)) {
		PK_FORWARD(build_part(im));
		reset_part(im);
		im->part_index++;
	}
	if (word_is(d, ks, ke, "version")) {
		size_t at = vs;
		while (at < e && is_digit(d[at]))
			at++;
		if (at == vs)
			return fail_at(im, vs, "expected a version number after version:");
		if (at - vs > 1 || d[vs] > '1')
			return fail_at(
			    im, vs,
			    "version %.*s of the callgrind format is not supported (profkit "
			    "reads version 1)",
			    shown(vs, e), d + vs);
	} else if (word_is(d, ks, ke, "positions")) {
		return positions_line(im, vs, e);
	} else if (word_is(d, ks, ke, "events")) {
		return events_line(im, vs, e);
	} else if (word_is(d, ks, ke, "thread")) {
		pt->has_thread = header_number(d, vs, e, &pt->thread);
	} else if (word_is(d, ks, ke, "part")) {
		pt->has_number = header_number(d, vs, e, &pt->number);
	} else if (word_is(d, ks, ke, "creator") || word_is(d, ks, ke, "cmd") ||
	           word_is(d, ks, ke, "pid") || word_is(d, ks, ke, "desc") ||
	           word_is(d, ks, ke, "event") || word_is(d, ks, ke, "summary") ||
	           word_is(d, ks, ke, "totals")) {
		return add_comment(im, ks, ke, vs, e);
	}
	/* other keys (a later version's) are skipped */
	return 0;
}

/* ----------------------------------------------------- rebuilding stacks */

/* A call path, shared by the paths that extend it: the call site of its
 * innermost call and the path to its caller. */
typedef struct path_rec {
	uint32_t parent; /* PK_NONE: the caller is a root */
	uint32_t pos;
} path_rec;

/* The call paths of a node, each with the share of the node's cost that
 * comes through it, per event (each event's shares add up to 1). */
typedef struct contexts {
	uint32_t count;
	uint32_t *paths; /* PK_NONE: the node is a root */
	double *shares;  /* count * event_count */
} contexts;

typedef struct candidate {
	uint32_t edge, context; /* an in-edge (index among the active ones) and a
	                           context of its caller */
	double weight;
} candidate;

typedef struct builder {
	importer *im;
	part *pt;
	size_t events, n, m;
	uint32_t *in_start, *in_list;     /* in-edges of each node */
	uint32_t *out_start, *out_list;   /* out-edges */
	uint32_t *item_start, *item_list; /* self cost items */
	uint32_t *order;                  /* depth first post-order */
	uint32_t *refs;                   /* callees still to see a node's contexts */
	uint32_t *cursor;
	unsigned char *back, *needed, *state;
	contexts *ctx;
	pk__vec paths;      /* path_rec */
	pk__vec active;     /* uint32_t: the active in-edges of a node */
	pk__vec shares;     /* double: their shares of its cost, per event */
	pk__vec candidates; /* candidate */
	pk__vec values;     /* int64_t: one item's values per context */
	pk__vec frames;     /* uint32_t: a stack being added */
	pk_label labels[2];
	size_t label_count;
} builder;

/* Group `count` records by a uint32_t key at `offset` in each (records are
 * `stride` bytes apart, keys below n): record indices by key in list, key
 * v's from start[v] to start[v + 1], in record order. */
static int group(size_t n, size_t count, const void *records, size_t stride, size_t offset,
                 uint32_t **start_out, uint32_t **list_out)
{
	uint32_t *start = pk__calloc(n + 1, sizeof *start);
	uint32_t *list = pk__calloc(count ? count : 1, sizeof *list);
	*start_out = start;
	*list_out = list;
	if (start == NULL || list == NULL)
		return PK_ENOMEM;
	const unsigned char *r = records;
	uint32_t key;
	for (size_t i = 0; i < count; i++) {
		memcpy(&key, r + i * stride + offset, sizeof key);
		start[key + 1]++;
	}
	for (size_t v = 0; v < n; v++)
		start[v + 1] += start[v];
	/* start[v] moves to the end of v's run as it fills, then back */
	for (size_t i = 0; i < count; i++) {
		memcpy(&key, r + i * stride + offset, sizeof key);
		list[start[key]++] = (uint32_t)i;
	}
	for (size_t v = n; v > 0; v--)
		start[v] = start[v - 1];
	start[0] = 0;
	return 0;
}

static const edge_rec *edge_at(const builder *b, uint32_t e)
{
	return &PK_VEC_AT(b->pt->edges, edge_rec, e);
}

/* Depth first search over the calls, from the functions nobody else calls
 * (then from any left, which only cycles reach): an edge to a function on
 * the search's stack closes a cycle (recursion) and is marked back. Without
 * the back edges the graph has no cycle, and the post-order lists callees
 * before their callers. Roots and callees are taken last first, so that
 * the post-order backwards has them in the order of the file. */
static void find_back_edges(builder *b)
{
	size_t done = 0, top = 0;
	uint32_t *stack = b->refs; /* borrowed until the refs are counted */
	for (size_t i = 0; i < 2 * b->n; i++) {
		/* pass one, roots from the last; pass two, the rest from the first */
		size_t root = i < b->n ? b->n - 1 - i : i - b->n;
		if (b->state[root] != 0)
			continue;
		if (i < b->n) {
			bool called = false;
			for (uint32_t j = b->in_start[root]; j < b->in_start[root + 1]; j++)
				called |= edge_at(b, b->in_list[j])->caller != root;
			if (called)
				continue;
		}
		b->state[root] = 1;
		b->cursor[root] = b->out_start[root + 1];
		stack[top++] = (uint32_t)root;
		while (top > 0) {
			uint32_t v = stack[top - 1];
			if (b->cursor[v] > b->out_start[v]) {
				uint32_t e = b->out_list[--b->cursor[v]];
				uint32_t w = edge_at(b, e)->callee;
				if (b->state[w] == 1) {
					b->back[e] = 1;
				} else if (b->state[w] == 0) {
					b->state[w] = 1;
					b->cursor[w] = b->out_start[w + 1];
					stack[top++] = w;
				}
				continue;
			}
			top--;
			b->state[v] = 2;
			b->order[done++] = v;
		}
	}
}

/* Which nodes need contexts (they have self cost or call one that does),
 * and for each, how many of its edges lead to such callees. */
static void find_needed(builder *b)
{
	for (size_t i = 0; i < b->n; i++) {
		uint32_t v = b->order[i];
		bool needed = b->item_start[v] < b->item_start[v + 1];
		uint32_t refs = 0;
		for (uint32_t j = b->out_start[v]; j < b->out_start[v + 1]; j++) {
			uint32_t e = b->out_list[j];
			if (!b->back[e] && b->needed[edge_at(b, e)->callee]) {
				needed = true;
				refs++;
			}
		}
		b->needed[v] = needed;
		b->refs[v] = refs;
	}
}

static void free_contexts(contexts *c)
{
	pk__free(c->paths);
	pk__free(c->shares);
	*c = (contexts){0};
}

static int alloc_contexts(contexts *c, size_t count, size_t events)
{
	c->paths = pk__calloc(count, sizeof *c->paths);
	c->shares = pk__calloc(pk__mul(count, events), sizeof *c->shares);
	if (c->paths == NULL || c->shares == NULL) {
		free_contexts(c);
		return PK_ENOMEM;
	}
	c->count = (uint32_t)count;
	return 0;
}

/* The share of a node's cost that each of its active in-edges brings,
 * per event: the edge's inclusive cost over that of all of them. An event
 * that none of them carries falls back on their costs of all events, then
 * on their call counts, then on equal shares. */
static int edge_shares(builder *b)
{
	size_t a = b->active.count, E = b->events;
	b->shares.count = 0;
	PK_FORWARD(pk__vec_push(&b->shares, sizeof(double), NULL, pk__mul(a, E + 1), NULL));
	double *q = b->shares.items, *basis = q + a * E;
	const uint32_t *act = b->active.items;
	const uint64_t *costs = b->pt->edge_costs.items;
	bool have_basis = false;
	for (size_t k = 0; k < E; k++) {
		double total = 0;
		for (size_t i = 0; i < a; i++)
			total += (double)costs[(size_t)act[i] * E + k];
		if (total > 0) {
			for (size_t i = 0; i < a; i++)
				q[i * E + k] = (double)costs[(size_t)act[i] * E + k] / total;
			continue;
		}
		for (int kind = 0; !have_basis; kind++) {
			total = 0;
			for (size_t i = 0; i < a; i++) {
				double w = kind == 2 ? 1 : 0;
				if (kind == 0)
					for (size_t j = 0; j < E; j++)
						w += (double)costs[(size_t)act[i] * E + j];
				else if (kind == 1)
					w = (double)edge_at(b, act[i])->count;
				basis[i] = w;
				total += w;
			}
			if (total > 0) {
				for (size_t i = 0; i < a; i++)
					basis[i] /= total;
				have_basis = true;
			}
		}
		for (size_t i = 0; i < a; i++)
			q[i * E + k] = basis[i];
	}
	return 0;
}

static int compare_candidates(const void *x, const void *y)
{
	const candidate *a = x, *b = y;
	if (a->weight != b->weight)
		return a->weight > b->weight ? -1 : 1;
	if (a->edge != b->edge)
		return a->edge < b->edge ? -1 : 1;
	return a->context < b->context ? -1 : a->context > b->context;
}

/* The contexts of node v from those of its callers. */
static int make_contexts(builder *b, uint32_t v)
{
	size_t E = b->events;
	contexts *out = &b->ctx[v];
	b->active.count = 0;
	for (uint32_t j = b->in_start[v]; j < b->in_start[v + 1]; j++)
		if (!b->back[b->in_list[j]])
			PK_FORWARD(
			    pk__vec_push(&b->active, sizeof(uint32_t), &b->in_list[j], 1, NULL));
	if (b->active.count == 0) {
		PK_FORWARD(alloc_contexts(out, 1, E));
		out->paths[0] = PK_NONE;
		for (size_t k = 0; k < E; k++)
			out->shares[k] = 1;
		return 0;
	}
	PK_FORWARD(edge_shares(b));
	const double *q = b->shares.items;
	const uint32_t *act = b->active.items;
	b->candidates.count = 0;
	for (size_t i = 0; i < b->active.count; i++) {
		const contexts *from = &b->ctx[edge_at(b, act[i])->caller];
		for (uint32_t c = 0; c < from->count; c++) {
			double w = 0;
			for (size_t k = 0; k < E; k++)
				w += q[i * E + k] * from->shares[(size_t)c * E + k];
			if (w <= 0)
				continue;
			candidate cand = {(uint32_t)i, c, w};
			PK_FORWARD(pk__vec_push(&b->candidates, sizeof cand, &cand, 1, NULL));
		}
	}
	size_t count = b->candidates.count;
	if (count > MAX_PATHS) {
		qsort(b->candidates.items, count, sizeof(candidate), compare_candidates);
		count = MAX_PATHS;
	}
	if (count == 0) /* every share was 0: keep the first path */
		count = 1;
	PK_FORWARD(alloc_contexts(out, count, E));
	if (b->candidates.count == 0) {
		candidate first = {0, 0, 1};
		PK_FORWARD(pk__vec_push(&b->candidates, sizeof first, &first, 1, NULL));
	}
	const candidate *cands = b->candidates.items;
	for (size_t c = 0; c < count; c++) {
		const edge_rec *e = edge_at(b, act[cands[c].edge]);
		const contexts *from = &b->ctx[e->caller];
		path_rec path = {from->paths[cands[c].context], e->pos};
		size_t at;
		if (b->paths.count >= PK_NONE - 1)
			return PK_ENOMEM;
		PK_FORWARD(pk__vec_push(&b->paths, sizeof path, &path, 1, &at));
		out->paths[c] = (uint32_t)at;
		for (size_t k = 0; k < E; k++)
			out->shares[c * E + k] = q[(size_t)cands[c].edge * E + k] *
			                         from->shares[(size_t)cands[c].context * E + k];
	}
	/* The kept paths take the dropped ones' shares, in proportion; an
	 * event that only dropped paths carried goes to the heaviest. */
	for (size_t k = 0; k < E; k++) {
		double sum = 0;
		for (size_t c = 0; c < count; c++)
			sum += out->shares[c * E + k];
		for (size_t c = 0; c < count; c++)
			out->shares[c * E + k] = sum > 0 ? out->shares[c * E + k] / sum : c == 0;
	}
	return 0;
}

/* ------------------------------------------------------------- the model */

static int mapping_of(importer *im, uint32_t object, uint32_t *out)
{
	if (object == 0) {
		*out = PK_NONE;
		return 0;
	}
	if (object >= im->mapping_of.count)
		PK_FORWARD(pk__vec_push(&im->mapping_of, sizeof(uint32_t), NULL,
		                        object + 1 - im->mapping_of.count, NULL));
	uint32_t *m = &PK_VEC_AT(im->mapping_of, uint32_t, object);
	if (*m == 0) {
		size_t len;
		const char *name = pk__strtab_get(im->names, object, &len);
		pk_mapping rec = {0};
		PK_FORWARD(pk_profile_intern(im->p, name, len, &rec.filename));
		rec.has_functions = rec.has_filenames = rec.has_line_numbers = 1;
		uint32_t index;
		PK_FORWARD(pk_profile_add_mapping(im->p, &rec, &index));
		*m = index + 1;
	}
	*out = *m - 1;
	return 0;
}

static int function_of(importer *im, uint32_t name, uint32_t file, uint32_t *out)
{
	func_rec rec = {name, file, PK_NONE};
	uint32_t index;
	bool added;
	PK_FORWARD(
	    table_intern(&im->func_table, &im->funcs, sizeof rec, &rec, FUNC_KEY, &index, &added));
	func_rec *f = &PK_VEC_AT(im->funcs, func_rec, index);
	if (f->index == PK_NONE) {
		size_t len;
		const char *s;
		pk_function fn = {0};
		s = pk__strtab_get(im->names, name, &len);
		PK_FORWARD(pk_profile_intern(im->p, s, len, &fn.name));
		fn.system_name = fn.name;
		s = pk__strtab_get(im->names, file, &len);
		PK_FORWARD(pk_profile_intern(im->p, s, len, &fn.filename));
		uint32_t at;
		PK_FORWARD(pk_profile_add_function(im->p, &fn, &at));
		PK_VEC_AT(im->funcs, func_rec, index).index = at;
	}
	*out = PK_VEC_AT(im->funcs, func_rec, index).index;
	return 0;
}

/* The location of position p, added when a stack first uses it. */
static int location_of(importer *im, uint32_t p, uint32_t *out)
{
	pos_rec *r = &PK_VEC_AT(im->positions, pos_rec, p);
	if (r->location == PK_NONE) {
		pk_line line = {0, r->line, 0};
		pk_location loc = {0, PK_NONE, r->address, 0};
		PK_FORWARD(function_of(im, r->name, r->file, &line.function));
		PK_FORWARD(mapping_of(im, r->object, &loc.mapping));
		uint32_t at;
		PK_FORWARD(pk_profile_add_location(im->p, &loc, &line, 1, &at));
		PK_VEC_AT(im->positions, pos_rec, p).location = at;
	}
	*out = PK_VEC_AT(im->positions, pos_rec, p).location;
	return 0;
}

/* Split v over the contexts c of a node by their shares of event k, so
 * that the parts add up to v exactly: each context gets the rounded
 * cumulative share minus what the ones before it got. */
static void split(const contexts *c, size_t E, size_t k, int64_t v, int64_t *values)
{
	long double cum = 0;
	int64_t given = 0;
	for (uint32_t i = 0; i < c->count; i++) {
		cum += c->shares[(size_t)i * E + k];
		int64_t upto = v;
		if (i + 1 < c->count) {
			long double x = (long double)v * cum + 0.5L;
			upto = x <= (long double)given ? given
			       : x >= (long double)v   ? v
			                               : (int64_t)x;
		}
		values[(size_t)i * E + k] = upto - given;
		given = upto;
	}
}

/* The samples of node v: each self cost item over each context. */
static int add_samples(builder *b, uint32_t v)
{
	importer *im = b->im;
	size_t E = b->events;
	const contexts *c = &b->ctx[v];
	b->values.count = 0;
	PK_FORWARD(pk__vec_push(&b->values, sizeof(int64_t), NULL, pk__mul(c->count, E), NULL));
	int64_t *values = b->values.items;
	for (uint32_t j = b->item_start[v]; j < b->item_start[v + 1]; j++) {
		uint32_t item = b->item_list[j];
		const int64_t *cost = &PK_VEC_AT(b->pt->item_costs, int64_t, (size_t)item * E);
		for (size_t k = 0; k < E; k++)
			split(c, E, k, cost[k], values);
		uint32_t leaf;
		PK_FORWARD(location_of(im, PK_VEC_AT(b->pt->items, item_rec, item).pos, &leaf));
		for (uint32_t i = 0; i < c->count; i++) {
			const int64_t *vals = &values[(size_t)i * E];
			bool any = false;
			for (size_t k = 0; k < E; k++)
				any |= vals[k] != 0;
			if (!any)
				continue;
			b->frames.count = 0;
			PK_FORWARD(pk__vec_push(&b->frames, sizeof leaf, &leaf, 1, NULL));
			for (uint32_t path = c->paths[i];
			     path != PK_NONE && b->frames.count < MAX_DEPTH;) {
				const path_rec *pr = &PK_VEC_AT(b->paths, path_rec, path);
				uint32_t loc;
				PK_FORWARD(location_of(im, pr->pos, &loc));
				PK_FORWARD(pk__vec_push(&b->frames, sizeof loc, &loc, 1, NULL));
				path = pr->parent;
			}
			im->frames += b->frames.count;
			if (im->frames > im->max_frames)
				return pk__error_set(
				    im->err, PK_ENOMEM,
				    "the stacks rebuilt from the call graph would hold "
				    "more than %zu frames",
				    im->max_frames);
			PK_FORWARD(pk_profile_add_sample(im->p, b->frames.items, b->frames.count,
			                                 vals, E, b->labels, b->label_count));
		}
	}
	return 0;
}

/* Done with v: its callers' contexts go once their last callee is done. */
static void release(builder *b, uint32_t v)
{
	for (uint32_t j = b->in_start[v]; j < b->in_start[v + 1]; j++) {
		uint32_t e = b->in_list[j];
		if (b->back[e])
			continue;
		uint32_t caller = edge_at(b, e)->caller;
		if (--b->refs[caller] == 0)
			free_contexts(&b->ctx[caller]);
	}
	if (b->refs[v] == 0)
		free_contexts(&b->ctx[v]);
}

static int rebuild(builder *b)
{
	part *pt = b->pt;
	b->n = pt->nodes.count;
	b->m = pt->edges.count;
	size_t n = b->n, m = b->m;
	PK_FORWARD(group(n, m, pt->edges.items, sizeof(edge_rec), offsetof(edge_rec, callee),
	                 &b->in_start, &b->in_list));
	PK_FORWARD(group(n, m, pt->edges.items, sizeof(edge_rec), offsetof(edge_rec, caller),
	                 &b->out_start, &b->out_list));
	PK_FORWARD(group(n, pt->items.count, pt->items.items, sizeof(item_rec),
	                 offsetof(item_rec, node), &b->item_start, &b->item_list));
	b->order = pk__calloc(n + 1, sizeof *b->order);
	b->refs = pk__calloc(n + 1, sizeof *b->refs);
	b->cursor = pk__calloc(n + 1, sizeof *b->cursor);
	b->back = pk__calloc(m + 1, 1);
	b->needed = pk__calloc(n + 1, 1);
	b->state = pk__calloc(n + 1, 1);
	b->ctx = pk__calloc(n + 1, sizeof *b->ctx);
	if (!b->order || !b->refs || !b->cursor || !b->back || !b->needed || !b->state || !b->ctx)
		return PK_ENOMEM;
	find_back_edges(b);
	find_needed(b);
	/* Callers before callees: the post-order backwards. */
	for (size_t i = n; i-- > 0;) {
		uint32_t v = b->order[i];
		if (!b->needed[v])
			continue;
		PK_FORWARD(make_contexts(b, v));
		PK_FORWARD(add_samples(b, v));
		release(b, v);
	}
	return 0;
}

static void builder_free(builder *b)
{
	if (b->ctx)
		for (size_t v = 0; v < b->n; v++)
			free_contexts(&b->ctx[v]);
	uint32_t *arrays[] = {b->in_start,  b->in_list, b->out_start, b->out_list, b->item_start,
	                      b->item_list, b->order,   b->refs,      b->cursor};
	for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++)
		pk__free(arrays[i]);
	pk__free(b->back);
	pk__free(b->needed);
	pk__free(b->state);
	pk__free(b->ctx);
	pk__vec *vecs[] = {&b->paths,      &b->active, &b->shares,
	                   &b->candidates, &b->values, &b->frames};
	for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++)
		pk__vec_free(vecs[i]);
}

/* Turn the part read so far into samples. */
static int build_part(importer *im)
{
	part *pt = &im->part;
	if (pt->items.count == 0)
		return 0;
	builder b = {.im = im, .pt = pt, .events = im->event_count};
	if (pt->has_thread)
		b.labels[b.label_count++] = (pk_label){im->thread_key, 0, pt->thread, 0};
	if (im->label_parts)
		b.labels[b.label_count++] = (pk_label){
		    im->part_key, 0, pt->has_number ? pt->number : (int64_t)im->part_index, 0};
	int rc = rebuild(&b);
	builder_free(&b);
	return rc;
}

static void free_part(part *pt)
{
	table_free(&pt->node_table);
	table_free(&pt->item_table);
	table_free(&pt->edge_table);
	pk__vec_free(&pt->nodes);
	pk__vec_free(&pt->items);
	pk__vec_free(&pt->item_costs);
	pk__vec_free(&pt->edges);
	pk__vec_free(&pt->edge_costs);
}

/* A new part: its header's defaults, no graph. Names and their compressed
 * ids carry over. */
static void reset_part(importer *im)
{
	part *pt = &im->part;
	free_part(pt);
	*pt = (part){0};
	pt->columns[0] = COL_LINE; /* "positions: line" is the default */
	pt->column_count = 1;
	pt->node = pt->callee = PK_NONE;
}

/* --------------------------------------------------------------- importer */

/* The number of a part that ends: whether it differs from the first's. */
static void end_part(importer *im, bool has_number, int64_t number, int64_t *first)
{
	int64_t value = has_number ? number : (int64_t)im->part_count;
	if (im->part_count == 1)
		*first = value;
	else if (value != *first)
		im->label_parts = true;
}

/* Whether x, the name part of a long event name "x (unit)", is the event
 * `name` as profkit's writer makes event names: each byte but letters,
 * digits and '_' made '_', maybe an 'e' in front, maybe "_N" after. */
static bool long_name_matches(const unsigned char *name, size_t nlen, const unsigned char *x,
                              size_t xlen)
{
	for (size_t skip = 0; skip < 2; skip++) {
		if (skip == 1 && (nlen == 0 || name[0] != 'e'))
			break;
		if (nlen < skip + xlen)
			continue;
		bool same = true;
		for (size_t i = 0; same && i < xlen; i++) {
			unsigned char c = x[i];
			bool ok = is_alpha(c) || is_digit(c) || c == '_';
			same = name[skip + i] == (ok ? c : '_');
		}
		size_t at = skip + xlen;
		if (!same)
			continue;
		if (at == nlen)
			return true;
		/* "_N" after a name made equal to another; "eN" for an empty one */
		size_t digits = at + (xlen > 0 && name[at] == '_');
		if (digits == at && xlen > 0)
			continue;
		size_t k = digits;
		while (k < nlen && is_digit(name[k]))
			k++;
		if (k == nlen && k > digits)
			return true;
	}
	return false;
}

/* The unit an "event: NAME : LONG" line [vs, ce) gives when LONG is "x
 * (unit)" with x the event's name as profkit writes them: unit_of[NAME]
 * becomes the unit's name + 1 (the first line for a name wins). Other
 * event: lines (valgrind's "Ir : Instruction Fetches", derived events)
 * give none. */
static int event_unit(importer *im, size_t vs, size_t ce, pk__vec *unit_of)
{
	const unsigned char *d = im->d;
	size_t ne = vs;
	while (ne < ce && !is_space(d[ne]) && d[ne] != '=' && d[ne] != ':')
		ne++;
	size_t ls = skip_spaces(d, ne, ce);
	if (ne == vs || ls >= ce || d[ls] != ':')
		return 0;
	ls = skip_spaces(d, ls + 1, ce);
	if (ce - ls < 3 || d[ce - 1] != ')')
		return 0;
	size_t open = ce - 1;
	while (open > ls && d[open - 1] != '(' && d[open - 1] != ')')
		open--;
	/* "x (unit)", or "(unit)" for an event of no name */
	if (open == ls || d[open - 1] != '(' || (open - 1 > ls && !is_space(d[open - 2])))
		return 0;
	size_t xe = open - 1;
	while (xe > ls && is_space(d[xe - 1]))
		xe--;
	if (!long_name_matches(d + vs, ne - vs, d + ls, xe - ls))
		return 0;
	uint32_t name, unit;
	PK_FORWARD(intern_name(im, d + vs, ne - vs, &name));
	PK_FORWARD(intern_name(im, d + open, ce - 1 - open, &unit));
	if (name >= unit_of->count)
		PK_FORWARD(
		    pk__vec_push(unit_of, sizeof(uint32_t), NULL, name + 1 - unit_of->count, NULL));
	uint32_t *u = &PK_VEC_AT(*unit_of, uint32_t, name);
	if (*u == 0)
		*u = unit + 1;
	return 0;
}

/* The sample types: one per event, named as it, with the unit its event:
 * line gives ("alloc_space : alloc_space (bytes)", as profkit writes
 * them), else "count". */
static int add_sample_types(importer *im, const uint32_t *names, const pk__vec *unit_of)
{
	for (size_t i = 0; i < im->event_count; i++) {
		size_t len, ulen = 5;
		const char *name = pk__strtab_get(im->names, names[i], &len), *unit = "count";
		if (names[i] < unit_of->count && PK_VEC_AT(*unit_of, uint32_t, names[i]) != 0)
			unit = pk__strtab_get(im->names,
			                      PK_VEC_AT(*unit_of, uint32_t, names[i]) - 1, &ulen);
		pk_str type_id, unit_id;
		PK_FORWARD(pk_profile_intern(im->p, name, len, &type_id));
		PK_FORWARD(pk_profile_intern(im->p, unit, ulen, &unit_id));
		PK_FORWARD(pk_profile_add_sample_type(im->p, (pk_value_type){type_id, unit_id}));
	}
	return 0;
}

/* The first pass: the events of all parts, which become the sample types
 * (they must all be there before the first sample), and whether there are
 * parts with different numbers (valgrind numbers the dumps of a run, but
 * gives each thread's the same). Lines it cannot read are left for the
 * second pass to report. */
static int first_pass(importer *im)
{
	const unsigned char *d = im->d;
	size_t pos = bom_length(d, im->size), s, e;
	bool body = false, has_number = false;
	int64_t number = 0, first = 0;
	uint32_t names[MAX_EVENTS]; /* of each event */
	pk__vec unit_of = {0};      /* uint32_t by name: its unit's name + 1, or 0 */
	int rc = 0;
	im->part_count = 1;
	while (rc == 0 && next_line(d, im->size, &pos, &s, &e)) {
		size_t cs, ce, ks = 0, ke = 0, vs = 0;
		line_kind kind = classify(d, s, e, &cs, &ce, &ks, &ke, &vs);
		if (kind == LINE_COST || kind == LINE_SPEC) {
			body = true;
			continue;
		}
		if (kind != LINE_HEADER)
			continue;
		if (body && starts_part(d, ks, ke)) {
			end_part(im, has_number, number, &first);
			im->part_count++;
			body = has_number = false;
		}
		if (word_is(d, ks, ke, "part"))
			has_number = header_number(d, vs, ce, &number);
		if (word_is(d, ks, ke, "event"))
			rc = event_unit(im, vs, ce, &unit_of);
		if (!word_is(d, ks, ke, "events"))
			continue;
		for (size_t t = vs; rc == 0 && t < ce; t = skip_spaces(d, t, ce)) {
			size_t te = token_end(d, t, ce);
			uint32_t name;
			rc = intern_name(im, d + t, te - t, &name);
			if (rc == 0 && name >= im->event_of.count)
				rc = pk__vec_push(&im->event_of, sizeof(uint32_t), NULL,
				                  name + 1 - im->event_of.count, NULL);
			if (rc < 0)
				break;
			uint32_t *ev = &PK_VEC_AT(im->event_of, uint32_t, name);
			if (*ev == 0 && im->event_count < MAX_EVENTS) {
				names[im->event_count] = name;
				*ev = (uint32_t)++im->event_count;
			}
			t = te;
		}
	}
	if (rc == 0)
		rc = add_sample_types(im, names, &unit_of);
	pk__vec_free(&unit_of);
	PK_FORWARD(rc);
	end_part(im, has_number, number, &first);
	/* The first event is the one callgrind_annotate and KCachegrind sort
	 * by, and the one valgrind always has (Ir). */
	if (im->event_count > 0)
		pk_profile_set_default_sample_type(im->p, pk_profile_sample_type(im->p, 0).type);
	return 0;
}

static int read_lines(importer *im)
{
	const unsigned char *d = im->d;
	size_t pos = bom_length(d, im->size), s = pos, e = pos, last_start = pos;
	const unsigned char *nul = memchr(d, '\0', im->size);
	size_t bad_at = nul ? (size_t)(nul - d) : SIZE_MAX;
	part *pt = &im->part;
	im->part_index = 1;
	for (im->line = 1; next_line(d, im->size, &pos, &s, &e); im->line++) {
		im->line_start = last_start = s;
		if (bad_at >= s && bad_at < e)
			return fail_at(im, bad_at, "a NUL byte; callgrind files are text");
		size_t cs, ce, ks = 0, ke = 0, vs = 0;
		line_kind kind = classify(d, s, e, &cs, &ce, &ks, &ke, &vs);
		if (kind == LINE_BLANK)
			continue;
		if (kind == LINE_COST) {
			PK_FORWARD(cost_line(im, cs, ce));
			continue;
		}
		if (pt->next == NEXT_CALL)
			return fail_at(im, cs, "expected the cost line of the calls= on line %ld",
			               pt->call_line);
		if (pt->next == NEXT_JUMP)
			pt->next = NEXT_SELF;
		if (kind == LINE_SPEC)
			PK_FORWARD(spec_line(im, ks, ke, vs, ce));
		else if (kind == LINE_HEADER)
			PK_FORWARD(header_line(im, ks, ke, vs, ce));
		else
			return fail_at(im, cs,
			               "expected a cost line, a \"key: value\" header or a "
			               "\"spec=name\" line, found '%.*s'",
			               shown(cs, token_end(d, cs, ce)), d + cs);
	}
	/* Errors at the end point just past the last byte. */
	if (im->size > 0 && d[im->size - 1] != '\n') {
		im->line--;
		im->line_start = last_start;
	} else {
		im->line_start = im->size;
	}
	if (pt->next == NEXT_CALL)
		return fail_at(
		    im, im->size,
		    "the input ends after the calls= on line %ld, which needs a cost line",
		    pt->call_line);
	if (!im->any_events)
		return fail_at(im, im->size, "no events: line; a callgrind file needs one");
	return build_part(im);
}

static int callgrind_import(const unsigned char *data, size_t size, pk_profile **out, pk_error *err)
{
	importer im = {.d = data, .size = size, .err = err};
	size_t max_frames = pk__mul(size, FRAMES_PER_BYTE);
	im.max_frames = max_frames < MIN_FRAMES   ? MIN_FRAMES
	                : max_frames > MAX_FRAMES ? MAX_FRAMES
	                                          : max_frames;
	reset_part(&im);
	int rc = pk_profile_new(&im.p);
	if (rc == 0)
		rc = pk__strtab_new(&im.names);
	for (int k = 0; k < KIND_COUNT && rc == 0; k++)
		rc = pk__idmap_init(&im.ids[k], 0);
	if (rc == 0)
		rc = pk_profile_intern(im.p, "thread", 6, &im.thread_key);
	if (rc == 0)
		rc = pk_profile_intern(im.p, "part", 4, &im.part_key);
	if (rc == 0)
		rc = first_pass(&im);
	if (rc == 0)
		rc = read_lines(&im);
	if (rc == PK_ENOMEM)
		pk__error_set(err, PK_ENOMEM, "out of memory");
	else if (rc < 0)
		pk__error_set(err, rc, "cannot build the profile");
	free_part(&im.part);
	pk__strtab_free(im.names);
	for (int k = 0; k < KIND_COUNT; k++) {
		pk__idmap_free(&im.ids[k]);
		pk__vec_free(&im.id_names[k]);
	}
	pk__vec_free(&im.event_of);
	pk__vec_free(&im.comment_of);
	table_free(&im.pos_table);
	table_free(&im.func_table);
	pk__vec_free(&im.positions);
	pk__vec_free(&im.funcs);
	pk__vec_free(&im.mapping_of);
	if (rc < 0) {
		pk_profile_free(im.p);
		return rc;
	}
	*out = im.p;
	return 0;
}

/* ---------------------------------------------------------------- sniffer */

/* Text whose first line is "# callgrind format" (valgrind writes it since
 * 3.13), or whose lines up to an "events:" line near the start are header
 * lines (after blank lines and comments), the first a known one, as older
 * files and other writers (cachegrind, Xdebug) have. Folded stacks and
 * JSON start otherwise, and binary formats have NUL bytes before. */
static int callgrind_sniff(const unsigned char *data, size_t size)
{
	static const char marker[] = "# callgrind format";
	static const char *const keys[] = {"version", "creator", "pid",    "cmd",
	                                   "part",    "thread",  "desc",   "positions",
	                                   "events",  "event",   "summary"};
	size_t n = size < SNIFF_BYTES ? size : SNIFF_BYTES;
	size_t pos = bom_length(data, n), s, e;
	bool first = true;
	while (next_line(data, n, &pos, &s, &e)) {
		if (first && e - s >= sizeof marker - 1 &&
		    memcmp(data + s, marker, sizeof marker - 1) == 0)
			return 0;
		if (memchr(data + s, '\0', e - s) != NULL)
			return PK_ENOTMINE;
		size_t cs, ce, ks = 0, ke = 0, vs = 0;
		line_kind kind = classify(data, s, e, &cs, &ce, &ks, &ke, &vs);
		if (kind == LINE_BLANK)
			continue;
		/* Every line before events: is a header, the first a known one. */
		if (kind != LINE_HEADER)
			return PK_ENOTMINE;
		bool known = false;
		for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
			known |= word_is(data, ks, ke, keys[i]);
		if (first && !known)
			return PK_ENOTMINE;
		first = false;
		if (word_is(data, ks, ke, "events"))
			return 0;
	}
	return PK_ENOTMINE;
}

/* ---------------------------------------------------------------- writer */

/* The writer: the call graph (core/callgraph.c) as one fn= block per
 * function with the self cost of each of its positions (source lines, and
 * addresses with the address granularity), and after each position the
 * calls made from it, with their inclusive cost. Every sample type is an
 * event unless one is chosen. Inlined functions get blocks of their own,
 * called from where they were inlined, as pprof makes them nodes of their
 * own: so callgrind_annotate's self cost per function is pprof's flat. The
 * block sits in the file of the code it was inlined into (fl=), and its
 * lines in the function's own file (fi=), as valgrind marks inlined code.
 * Callgrind costs are unsigned: a stack whose value is negative (a base
 * that was larger) counts 0, and the header says how much was left out. */

/* Output is handed to the sink in pieces of about this size. */
#define CGW_CHUNK (64 * 1024)
/* How many calls ahead the body asks for the callee's record. */
#define CGW_AHEAD 8
/* KCachegrind reads a relative subposition into 32 bits. */
#define CGW_MAX_DIFF UINT32_MAX

/* The ids of names of one kind, by first use. The graph's names are
 * interned, so a name is its pointer: no copy of it is kept. */
typedef struct cgw_name_id {
	const char *name; /* NULL: an empty slot */
	uint32_t id;
} cgw_name_id;

typedef struct cgw_ids {
	cgw_name_id *slots;
	size_t count; /* a power of two, or 0 */
	size_t used;
} cgw_ids;

typedef struct cgw_writer {
	const pk_profile *p;
	const pk__graph *g;
	pk__sink *sink;
	pk__vec out;      /* char: not yet handed to the sink */
	bool addresses;   /* positions: instr line */
	cgw_ids objects;  /* ob= and cob= names */
	cgw_ids files;    /* fl=, fi= and cfl= names */
	uint32_t *fn_ids; /* per graph function: its fn= id, 0 = not yet */
	uint32_t next_fn_id;
	uint64_t *entry_addr; /* per function: its lowest address (NULL: all 0) */
	size_t line_room;     /* the most bytes of a calls= line and its cost line */
	bool have_last;       /* a cost line was written in this block */
	uint64_t last_addr;
	uint64_t last_line;
} cgw_writer;

/* ----------------------------------------------------------------- output */

static int cgw_flush(cgw_writer *w)
{
	int rc = pk__sink_write(w->sink, w->out.items, w->out.count);
	w->out.count = 0;
	return rc;
}

static inline int cgw_put(cgw_writer *w, const char *s, size_t len)
{
	return pk__vec_append(&w->out, 1, s, len);
}

static inline int cgw_puts(cgw_writer *w, const char *s)
{
	return cgw_put(w, s, strlen(s));
}

/* A name on one line: line breaks would end it, so they become spaces. */
static int cgw_put_name(cgw_writer *w, const char *s)
{
	size_t start = w->out.count, len = strlen(s);
	PK_FORWARD(cgw_put(w, s, len));
	char *c = (char *)w->out.items + start;
	if (memchr(c, '\n', len) == NULL && memchr(c, '\r', len) == NULL)
		return 0; /* as names are: no byte-by-byte pass */
	for (size_t i = 0; i < len; i++)
		if (c[i] == '\n' || c[i] == '\r')
			c[i] = ' ';
	return 0;
}

/* The body's lines are put together in place: room for a whole line is
 * made first (a number takes CGW_NUM bytes at most), then it is kept. */
#define CGW_NUM 24

static inline char *cgw_room(cgw_writer *w, size_t n)
{
	return pk__vec_reserve(&w->out, 1, n) == 0 ? (char *)w->out.items + w->out.count : NULL;
}

static inline void cgw_keep(cgw_writer *w, const char *end)
{
	w->out.count = (size_t)(end - (const char *)w->out.items);
}

/* v at o in decimal, or in hex after "0x"; returns the end. The digits
 * are copied as one CGW_NUM-byte block, which the room allows. */
static inline char *cgw_number(char *o, uint64_t v, bool hex)
{
	char buf[2 * CGW_NUM], *s = buf + CGW_NUM;
	if (hex) {
		do {
			*--s = "0123456789abcdef"[v & 15];
			v >>= 4;
		} while (v != 0);
		*--s = 'x';
		*--s = '0';
	} else {
		s = pk__format_uint(v, s);
	}
	memcpy(o, s, CGW_NUM);
	return o + (buf + CGW_NUM - s);
}

static int cgw_put_u64(cgw_writer *w, uint64_t v)
{
	char *o = cgw_room(w, CGW_NUM);
	if (o == NULL)
		return PK_ENOMEM;
	cgw_keep(w, cgw_number(o, v, false));
	return 0;
}

/* Digits of v in decimal, or in hex with its "0x". */
static size_t cgw_digits(uint64_t v, bool hex)
{
	if (hex)
		return 2 + (size_t)(67 - __builtin_clzll(v | 1)) / 4;
	size_t n = 1;
	for (; v >= 100; v /= 100)
		n += 2;
	return n + (v >= 10);
}

/* -------------------------------------------------------------- names */

/* "" is unknown, written "???": the two are one name. */
static const char cgw_unknown[] = "???";

static uint32_t cgw_name_slot(const cgw_ids *t, const char *name)
{
	uint64_t h = (uint64_t)(uintptr_t)name * 0x9e3779b97f4a7c15u;
	return (uint32_t)(h >> 32) & (uint32_t)(t->count - 1);
}

/* The id of a name (from 1), *first set if it has none yet. */
static int cgw_id_of(cgw_ids *t, const char *name, uint32_t *id, bool *first)
{
	if ((t->used + 1) * 2 > t->count) {
		size_t count = t->count ? t->count * 2 : 64;
		cgw_name_id *slots = pk__calloc(count, sizeof *slots);
		if (slots == NULL)
			return PK_ENOMEM;
		cgw_ids grown = {slots, count, t->used};
		for (size_t i = 0; i < t->count; i++) {
			if (t->slots[i].name == NULL)
				continue;
			uint32_t at = cgw_name_slot(&grown, t->slots[i].name);
			while (slots[at].name != NULL)
				at = (at + 1) & (uint32_t)(count - 1);
			slots[at] = t->slots[i];
		}
		pk__free(t->slots);
		*t = grown;
	}
	uint32_t at = cgw_name_slot(t, name);
	for (; t->slots[at].name != NULL; at = (at + 1) & (uint32_t)(t->count - 1)) {
		if (t->slots[at].name == name) {
			*id = t->slots[at].id;
			*first = false;
			return 0;
		}
	}
	t->slots[at] = (cgw_name_id){name, (uint32_t)++t->used};
	*id = t->slots[at].id;
	*first = true;
	return 0;
}

/* "spec=(id) name\n", or "spec=(id)\n" with name NULL. Inline (and the
 * two below): spec's length is known then, and its copy a move. */
static inline int cgw_put_id(cgw_writer *w, const char *spec, uint32_t id, const char *name)
{
	size_t len = strlen(spec);
	char *o = cgw_room(w, len + 4 + CGW_NUM);
	if (o == NULL)
		return PK_ENOMEM;
	memcpy(o, spec, len);
	o += len;
	*o++ = '=';
	*o++ = '(';
	o = cgw_number(o, id, false);
	*o++ = ')';
	if (name) {
		*o++ = ' ';
		cgw_keep(w, o);
		PK_FORWARD(cgw_put_name(w, name));
		if ((o = cgw_room(w, 1)) == NULL)
			return PK_ENOMEM;
	}
	*o++ = '\n';
	cgw_keep(w, o);
	return 0;
}

/* "spec=(id) name" the first time a name of this kind is written,
 * "spec=(id)" after: files and objects share one table per kind, as
 * callgrind_annotate and KCachegrind read them. */
static inline int cgw_put_compressed(cgw_writer *w, const char *spec, cgw_ids *t, const char *name)
{
	if (*name == '\0' || (*name == '?' && strcmp(name, cgw_unknown) == 0))
		name = cgw_unknown;
	uint32_t id;
	bool first;
	PK_FORWARD(cgw_id_of(t, name, &id, &first));
	return cgw_put_id(w, spec, id, first ? name : NULL);
}

/* Functions get one id each (not one per name), for KCachegrind keeps
 * the file and object a function id was first given with. */
static inline int cgw_put_function(cgw_writer *w, const char *spec, uint32_t f)
{
	bool first = w->fn_ids[f] == 0;
	if (first)
		w->fn_ids[f] = ++w->next_fn_id;
	return cgw_put_id(w, spec, w->fn_ids[f], first ? w->g->functions[f].name : NULL);
}

/* ---------------------------------------------------------- positions */

/* Lines are unsigned in callgrind (and 32-bit in KCachegrind): others are
 * written as 0, unknown. */
static uint64_t cgw_line(int64_t line)
{
	return line > 0 && line <= (int64_t)UINT32_MAX ? (uint64_t)line : 0;
}

/* One subposition at o: "*" when it repeats the last cost line's,
 * "+N"/"-N" when that is shorter, else absolute. */
static char *cgw_sub(const cgw_writer *w, char *o, uint64_t v, uint64_t last, bool hex)
{
	if (w->have_last && v == last) {
		*o++ = '*';
		return o;
	}
	size_t absolute = cgw_digits(v, hex);
	uint64_t diff = v > last ? v - last : last - v;
	if (w->have_last && diff <= CGW_MAX_DIFF && 1 + cgw_digits(diff, false) < absolute) {
		*o++ = v > last ? '+' : '-';
		return cgw_number(o, diff, false);
	}
	return cgw_number(o, v, hex);
}

/* A position at o (2 * CGW_NUM + 2 bytes of room), relative to the last
 * cost line; a cost line's becomes the last one, a calls= target's does
 * not. */
static char *cgw_position(cgw_writer *w, char *o, uint64_t address, uint64_t line, bool cost_line)
{
	if (w->addresses) {
		o = cgw_sub(w, o, address, w->last_addr, true);
		*o++ = ' ';
	}
	o = cgw_sub(w, o, line, w->last_line, false);
	if (cost_line) {
		w->have_last = true;
		w->last_addr = address;
		w->last_line = line;
	}
	return o;
}

/* A cost line at o: its position and v. */
static char *cgw_cost_line(cgw_writer *w, char *o, uint64_t address, uint64_t line,
                           const int64_t *v)
{
	o = cgw_position(w, o, address, line, true);
	for (size_t k = 0; k < w->g->value_count; k++) {
		*o++ = ' ';
		o = cgw_number(o, (uint64_t)v[k], false);
	}
	*o++ = '\n';
	return o;
}

static bool cgw_any(const int64_t *v, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (v[k] != 0)
			return true;
	return false;
}

/* ------------------------------------------------------------- header */

/* An event name as both readers take one: letters, digits and '_' (the
 * callgrind grammar's Name, plus the '_' that KCachegrind and
 * callgrind_annotate accept), starting with a letter or '_'; names made
 * equal get "_2", "_3"... */
static int cgw_event_name(const char *type, size_t k, pk__strtab *taken, pk__vec *name)
{
	name->count = 0;
	if (*type == '\0' || (*type >= '0' && *type <= '9'))
		PK_FORWARD(pk__vec_push(name, 1, "e", 1, NULL));
	for (const char *c = type; *c; c++) {
		bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		          (*c >= '0' && *c <= '9') || *c == '_';
		PK_FORWARD(pk__vec_push(name, 1, ok ? c : "_", 1, NULL));
	}
	if (*type == '\0') {
		char num[24];
		int n = snprintf(num, sizeof num, "%zu", k);
		PK_FORWARD(pk__vec_push(name, 1, num, (size_t)n, NULL));
	}
	size_t base = name->count;
	for (unsigned suffix = 2;; suffix++) {
		size_t before = pk__strtab_count(taken);
		uint32_t id;
		PK_FORWARD(pk__strtab_intern(taken, name->items, name->count, &id));
		if (pk__strtab_count(taken) != before)
			break;
		char num[24];
		int n = snprintf(num, sizeof num, "_%u", suffix);
		name->count = base;
		PK_FORWARD(pk__vec_push(name, 1, num, (size_t)n, NULL));
	}
	return pk__vec_push(name, 1, "", 1, NULL);
}

/* A comment line on what event `event` lost to stacks of negative value,
 * appended to notes: "# profkit: stacks whose inuse_space fell are left
 * out (-4096 bytes in all)". Comments may go anywhere; these go before
 * events:, where whoever reads the header sees them. */
static int cgw_note(const cgw_writer *w, pk__vec *notes, const char *event, const char *unit,
                    int64_t left_out)
{
	char num[32];
	snprintf(num, sizeof num, "%lld", (long long)left_out);
	bool base = w->g->has_base;
	const char *parts[] = {"# profkit: stacks ",
	                       base ? "whose " : "of negative ",
	                       event,
	                       base ? " fell" : "",
	                       " are left out (",
	                       num,
	                       *unit ? " " : "",
	                       unit,
	                       " in all)"};
	size_t start = notes->count;
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
		PK_FORWARD(pk__vec_push(notes, 1, parts[i], strlen(parts[i]), NULL));
	/* The unit on one line, as names are written. */
	for (char *c = (char *)notes->items + start; c < (char *)notes->items + notes->count; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	return pk__vec_push(notes, 1, "\n", 1, NULL);
}

static int cgw_header(cgw_writer *w)
{
	const pk_profile *p = w->p;
	const pk__graph *g = w->g;
	PK_FORWARD(cgw_puts(w, "# callgrind format\nversion: 1\ncreator: profkit "));
	PK_FORWARD(cgw_puts(w, pk_version()));
	PK_FORWARD(cgw_puts(w, "\n"));
	const pk_mapping *m = pk_profile_mapping(p, 0);
	const char *cmd = m ? pk_profile_string(p, m->filename) : "";
	if (*cmd) {
		PK_FORWARD(cgw_puts(w, "cmd: "));
		PK_FORWARD(cgw_put_name(w, cmd));
		PK_FORWARD(cgw_puts(w, "\n"));
	}
	PK_FORWARD(cgw_puts(w, w->addresses ? "positions: instr line\n" : "positions: line\n"));

	pk__strtab *taken = NULL;
	pk__vec name = {0}, names = {0}; /* names: the events: line */
	pk__vec notes = {0};             /* the comments on stacks left out */
	int rc = pk__strtab_new(&taken);
	for (size_t k = 0; rc == 0 && k < g->value_count; k++) {
		pk_value_type vt = pk_profile_sample_type(p, g->types[k]);
		const char *type = pk_profile_string(p, vt.type);
		rc = cgw_event_name(type, k, taken, &name);
		if (rc == 0 && g->left_out[k] < 0)
			rc = cgw_note(w, &notes, name.items, pk_profile_string(p, vt.unit),
			              g->left_out[k]);
		if (rc == 0)
			rc = cgw_puts(w, "event: ");
		if (rc == 0)
			rc = cgw_puts(w, name.items);
		if (rc == 0)
			rc = cgw_puts(w, " : ");
		if (rc == 0)
			rc = cgw_put_name(w, type);
		if (rc == 0)
			rc = cgw_puts(w, " (");
		if (rc == 0)
			rc = cgw_put_name(w, pk_profile_string(p, vt.unit));
		if (rc == 0)
			rc = cgw_puts(w, ")\n");
		if (rc == 0)
			rc = pk__vec_push(&names, 1, " ", 1, NULL);
		if (rc == 0)
			rc = pk__vec_push(&names, 1, name.items, name.count - 1, NULL);
	}
	if (rc == 0)
		rc = cgw_put(w, notes.items, notes.count);
	/* callgrind_annotate reads the header up to events:, so it is last. */
	if (rc == 0)
		rc = cgw_puts(w, "events:");
	if (rc == 0)
		rc = cgw_put(w, names.items, names.count);
	if (rc == 0)
		rc = cgw_puts(w, "\n");
	pk__strtab_free(taken);
	pk__vec_free(&name);
	pk__vec_free(&names);
	pk__vec_free(&notes);
	return rc;
}

/* --------------------------------------------------------------- body */

static uint64_t cgw_address(const pk__graph *g, uint32_t node)
{
	return g->addresses ? g->addresses[node] : 0;
}

/* Where a call to function f is said to go: its start line, or else its
 * first line, and its lowest address. */
static void cgw_entry(const cgw_writer *w, uint32_t f, uint64_t *address, uint64_t *line)
{
	const pk__graph_function *fn = &w->g->functions[f];
	*address = w->entry_addr ? w->entry_addr[f] : 0;
	*line = cgw_line(fn->start_line);
	if (*line == 0 && fn->node_count > 0)
		*line = cgw_line(w->g->nodes[fn->first_node].line);
}

/* Call e, made at site. */
static int cgw_call(cgw_writer *w, const char *object, const char *file, uint32_t site, uint32_t e)
{
	const pk__graph *g = w->g;
	const pk__graph_edge *edge = &g->edges[e];
	const pk__graph_function *callee = &g->functions[edge->callee];
	if (callee->object != object)
		PK_FORWARD(cgw_put_compressed(w, "cob", &w->objects, callee->object));
	if (callee->file != file)
		PK_FORWARD(cgw_put_compressed(w, "cfl", &w->files, callee->file));
	PK_FORWARD(cgw_put_function(w, "cfn", edge->callee));
	char *o = cgw_room(w, w->line_room);
	if (o == NULL)
		return PK_ENOMEM;
	/* Samples that cross a call: each stands for one call at least. */
	memcpy(o, "calls=", 6);
	o = cgw_number(o + 6, edge->samples > 0 ? edge->samples : 1, false);
	*o++ = ' ';
	uint64_t address, line;
	cgw_entry(w, edge->callee, &address, &line);
	o = cgw_position(w, o, address, line, false);
	*o++ = '\n';
	o = cgw_cost_line(w, o, cgw_address(g, site), cgw_line(g->nodes[site].line),
	                  &g->edge_weight[(size_t)e * g->value_count]);
	cgw_keep(w, o);
	return 0;
}

/* Whether function f has a cost line or a call to write. */
static bool cgw_has_lines(const pk__graph *g, uint32_t f)
{
	const pk__graph_function *fn = &g->functions[f];
	size_t nv = g->value_count;
	for (uint32_t n = fn->first_node; n < fn->first_node + fn->node_count; n++) {
		if (cgw_any(&g->node_flat[(size_t)n * nv], nv))
			return true;
		const pk__graph_node *node = &g->nodes[n];
		for (uint32_t e = node->first_edge; e < node[1].first_edge; e++)
			if (cgw_any(&g->edge_weight[(size_t)e * nv], nv))
				return true;
	}
	return false;
}

static int cgw_body(cgw_writer *w)
{
	const pk__graph *g = w->g;
	size_t nv = g->value_count;
	const char *object = NULL, *file = NULL; /* as last written */
	for (uint32_t f = 0; f < g->function_count; f++) {
		if (!cgw_has_lines(g, f))
			continue;
		const pk__graph_function *fn = &g->functions[f];
		PK_FORWARD(cgw_puts(w, "\n"));
		if (fn->object != object)
			PK_FORWARD(cgw_put_compressed(w, "ob", &w->objects, fn->object));
		if (fn->host != file)
			PK_FORWARD(cgw_put_compressed(w, "fl", &w->files, fn->host));
		object = fn->object;
		file = fn->host;
		PK_FORWARD(cgw_put_function(w, "fn", f));
		/* Inlined code from another file: its lines are in its own
		 * file, so that callgrind_annotate keys them "file:function",
		 * as the function's own block. The block has no line of the
		 * host's file (every line of a function is in its file), so no
		 * fe= follows. callgrind_annotate keeps the fi= file for the
		 * next fn=, KCachegrind goes back to the fl= file: the next
		 * block says fl= again. */
		if (fn->file != fn->host) {
			PK_FORWARD(cgw_put_compressed(w, "fi", &w->files, fn->file));
			file = NULL;
		}
		/* Each block starts from absolute positions, for readers that
		 * would not carry the last one over. */
		w->have_last = false;
		for (uint32_t n = fn->first_node; n < fn->first_node + fn->node_count; n++) {
			const pk__graph_node *node = &g->nodes[n];
			const int64_t *flat = &g->node_flat[(size_t)n * nv];
			if (cgw_any(flat, nv)) {
				char *o = cgw_room(w, w->line_room);
				if (o == NULL)
					return PK_ENOMEM;
				cgw_keep(w, cgw_cost_line(w, o, cgw_address(g, n),
				                          cgw_line(node->line), flat));
			}
			for (uint32_t e = node->first_edge; e < node[1].first_edge; e++) {
				/* edges go in order, their callees all over */
				if (e + CGW_AHEAD < g->edge_count)
					PK_PREFETCH(&g->functions[g->edges[e + CGW_AHEAD].callee]);
				if (cgw_any(&g->edge_weight[(size_t)e * nv], nv))
					PK_FORWARD(cgw_call(w, fn->object, fn->file, n, e));
			}
			/* a position at a time: a block can be long */
			if (w->out.count >= CGW_CHUNK)
				PK_FORWARD(cgw_flush(w));
		}
	}
	return 0;
}

/* The sum of the self costs, as totals: line at the end, which
 * callgrind_annotate shows as PROGRAM TOTALS. */
static int cgw_totals(cgw_writer *w)
{
	const pk__graph *g = w->g;
	size_t nv = g->value_count;
	PK_FORWARD(cgw_puts(w, "\ntotals:"));
	for (size_t k = 0; k < nv; k++) {
		uint64_t sum = 0;
		for (size_t n = 0; n < g->node_count; n++)
			sum += (uint64_t)g->node_flat[n * nv + k];
		PK_FORWARD(cgw_put(w, " ", 1));
		PK_FORWARD(cgw_put_u64(w, sum));
	}
	return cgw_puts(w, "\n");
}

/* ------------------------------------------------------- negative costs */

static const char *cgw_type(const cgw_writer *w, size_t k)
{
	return pk_profile_string(w->p, pk_profile_sample_type(w->p, w->g->types[k]).type);
}

/* Every cost is a sum of values >= 0 (the graph drops negative stacks);
 * a total past INT64_MAX would not read back, so it is refused. */
static int cgw_check_totals(const cgw_writer *w, pk_error *err)
{
	const pk__graph *g = w->g;
	size_t nv = g->value_count;
	for (size_t k = 0; k < nv; k++) {
		uint64_t sum = 0;
		for (size_t n = 0; n < g->node_count; n++) {
			int64_t v = g->node_flat[n * nv + k];
			sum += (uint64_t)v;
			if (v < 0 || sum > (uint64_t)INT64_MAX)
				return pk__error_set(err, PK_EUNSUPPORTED,
				                     "the total %s is too large for callgrind",
				                     cgw_type(w, k));
		}
	}
	return 0;
}

/* ------------------------------------------------------------ exporter */

static int cgw_write(cgw_writer *w)
{
	const pk__graph *g = w->g;
	w->line_room = 16 + 4 * (CGW_NUM + 2) + g->value_count * (CGW_NUM + 1);
	w->fn_ids = pk__calloc(g->function_count + 1, sizeof *w->fn_ids);
	if (w->fn_ids == NULL)
		return PK_ENOMEM;
	if (g->addresses &&
	    (w->entry_addr = pk__calloc(g->function_count + 1, sizeof *w->entry_addr)) == NULL)
		return PK_ENOMEM;
	for (size_t f = 0; g->addresses && f < g->function_count; f++) {
		const pk__graph_function *fn = &g->functions[f];
		uint64_t lowest = fn->node_count ? UINT64_MAX : 0;
		for (uint32_t n = fn->first_node; n < fn->first_node + fn->node_count; n++)
			if (g->addresses[n] < lowest)
				lowest = g->addresses[n];
		w->entry_addr[f] = lowest;
	}
	PK_FORWARD(cgw_header(w));
	PK_FORWARD(cgw_body(w));
	PK_FORWARD(cgw_totals(w));
	return cgw_flush(w);
}

static int callgrind_export(const pk_profile *p, const pk_write_options *opts, pk__sink *sink,
                            pk_error *err)
{
	bool addresses = opts->granularity == PK_GRANULARITY_ADDRESSES;
	pk__graph_options go = {opts->sample_type,
	                        true,
	                        opts->base,
	                        addresses ? PK_GRANULARITY_ADDRESSES : PK_GRANULARITY_LINES,
	                        true,
	                        false,
	                        0};
	pk__graph *g = NULL;
	PK_FORWARD(pk__graph_build(p, &go, &g, err));
	cgw_writer w = {0};
	w.p = p;
	w.g = g;
	w.sink = sink;
	w.addresses = addresses;
	int rc = cgw_check_totals(&w, err);
	if (rc == 0)
		rc = cgw_write(&w);
	pk__vec_free(&w.out);
	pk__free(w.objects.slots);
	pk__free(w.files.slots);
	pk__free(w.fn_ids);
	pk__free(w.entry_addr);
	pk__graph_free(g);
	return rc == PK_ENOMEM ? pk__error_set(err, rc, "out of memory") : rc;
}

static const char *const callgrind_extensions[] = {".callgrind", NULL};

const pk_format pk__format_callgrind = {
    .name = "callgrind",
    .description = "valgrind's callgrind profiles (callgrind.out.*), as KCachegrind reads them",
    .extensions = callgrind_extensions,
    .one_value = true,
    .sniff = callgrind_sniff,
    .import = callgrind_import,
    .export = callgrind_export,
};
