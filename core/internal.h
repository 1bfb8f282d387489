/* internal.h - what the library's own files share; never installed. */
#ifndef PK_INTERNAL_H
#define PK_INTERNAL_H

#include "config.h"
#include "profkit.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---------------------------------------------------------------- memory */

void *pk__malloc(size_t size);
void *pk__calloc(size_t count, size_t size);
/* realloc through our allocator, which has no realloc of its own. */
void *pk__realloc(void *ptr, size_t old_size, size_t new_size);
void pk__free(void *ptr);
/* Give back to the system the whole pages of [start, end), a block of ours
 * whose bytes there are no longer wanted (they read as zeros after, or
 * from the file again in a pk__input's mapping); the block is still freed
 * as usual. Returns where the next call for the rest
 * of the block should start: end, rounded down to a page. */
unsigned char *pk__discard_pages(unsigned char *start, unsigned char *end);
/* Give the C library's free heap pages back to the system (glibc keeps
 * the pages of freed small blocks resident): before a phase that brings
 * in pages of its own, so that the two do not add up in the peak. */
void pk__trim_heap(void);
char *pk__strdup(const char *s);

/* a * b, or SIZE_MAX when it overflows (every allocation of SIZE_MAX fails). */
static inline size_t pk__mul(size_t a, size_t b)
{
	return (b != 0 && a > SIZE_MAX / b) ? SIZE_MAX : a * b;
}

/* A growable array: `items` holds `count` elements of `elem` bytes. */
typedef struct pk__vec {
	void *items;
	size_t count;
	size_t capacity;
} pk__vec;

/* Make room for `more` elements; returns 0 or PK_ENOMEM. Inline: most
 * calls find room already, a few times per sample of an import. */
int pk__vec_grow(pk__vec *v, size_t elem, size_t more);
static inline int pk__vec_reserve(pk__vec *v, size_t elem, size_t more)
{
	return more <= v->capacity - v->count ? 0 : pk__vec_grow(v, elem, more);
}
/* The same for a count known up front: room for exactly that many more
 * (growing later doubles from there). */
int pk__vec_reserve_exact(pk__vec *v, size_t elem, size_t more);
/* Append n elements copied from src (NULL: zeroed); *at gets their index. */
int pk__vec_push(pk__vec *v, size_t elem, const void *src, size_t n, size_t *at);
/* pk__vec_push of n elements from src, inline where there is room: for
 * writers that append millions of pieces of a few bytes, which only need
 * a copy. */
static inline int pk__vec_append(pk__vec *v, size_t elem, const void *src, size_t n)
{
	if (n == 0 || n > v->capacity - v->count)
		return pk__vec_push(v, elem, src, n, NULL);
	memcpy((unsigned char *)v->items + v->count * elem, src, n * elem);
	v->count += n;
	return 0;
}
void pk__vec_free(pk__vec *v);
#define PK_VEC_AT(v, type, i) (((type *)(v).items)[i])

/* A hint to load what p points at: tables outgrow the caches, and the
 * look-ups of a stack asked for together overlap their waits. */
#if defined(__GNUC__) || defined(__clang__)
#define PK_PREFETCH(p) __builtin_prefetch(p)
#else
#define PK_PREFETCH(p) ((void)(p))
#endif

/* ---------------------------------------------------------------- errors */

/* Sniffers return this to pass a buffer to the next format. */
#define PK_ENOTMINE (-100)

/* Fill err (if given and still empty) and return code. */
int pk__error_set(pk_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int pk__error_at(pk_error *err, int code, long long offset, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int pk__error_at_line(pk_error *err, int code, long line, long column, long long offset,
                      const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* A PK_EFORMAT error at byte `at` of a text whose line number `line`
 * starts at byte line_start; the column counts characters (UTF-8
 * sequences), as every text reader reports them. */
int pk__error_at_text(pk_error *err, const unsigned char *text, size_t line_start, long line,
                      size_t at, const char *fmt, va_list ap);
/* Name the source and format of an error that is already set. */
void pk__error_locate(pk_error *err, const char *source, const char *format);

#define PK_FORWARD(expr)                                                                           \
	do {                                                                                       \
		int pk__rc = (expr);                                                               \
		if (pk__rc < 0)                                                                    \
			return pk__rc;                                                             \
	} while (0)

#define PK_CHECK_ALLOC(ptr, err)                                                                   \
	do {                                                                                       \
		if ((ptr) == NULL)                                                                 \
			return pk__error_set((err), PK_ENOMEM, "out of memory");                   \
	} while (0)

/* ----------------------------------------------------------- string table */

/* Interned strings: each distinct byte string once, indexed densely. */
typedef struct pk__strtab pk__strtab;

int pk__strtab_new(pk__strtab **out);
void pk__strtab_free(pk__strtab *t);
int pk__strtab_intern(pk__strtab *t, const char *s, size_t len, uint32_t *out);
/* As pk__strtab_intern, but a new s is not copied: it must stay where it
 * is, NUL-terminated at len, for as long as t. */
int pk__strtab_intern_kept(pk__strtab *t, const char *s, size_t len, uint32_t *out);
/* Room to intern more strings without growing (a hint: 0 or PK_ENOMEM). */
int pk__strtab_reserve(pk__strtab *t, size_t more);
/* Intern string i of another table (its hash is not computed again); with
 * known_new the caller knows t lacks it, and it is added without a look-up. */
int pk__strtab_intern_from(pk__strtab *t, const pk__strtab *from, uint32_t i, bool known_new,
                           uint32_t *out);
/* For every string i of from, its index in t, or PK_NONE: out[i]. For a
 * caller that asks about many strings at once. */
void pk__strtab_find_from(const pk__strtab *t, const pk__strtab *from, uint32_t *out);
/* Keep strings order[0..n) only, string order[i] becoming i (order[0] is
 * 0, ""; no index twice); their bytes stay where they are. 0 or PK_ENOMEM,
 * t unchanged then. */
int pk__strtab_reorder(pk__strtab *t, const uint32_t *order, size_t n);
const char *pk__strtab_get(const pk__strtab *t, uint32_t i, size_t *len);
size_t pk__strtab_count(const pk__strtab *t);
/* Free what finds and numbers the strings, once they are all in: their
 * bytes stay where they are until pk__strtab_free, the only call left. */
void pk__strtab_forget(pk__strtab *t);

/* ----------------------------------------------------------- hash tables */

/* A 64-bit hash of bytes, for the tables of strings and stacks. */
uint64_t pk__hash_bytes(const void *data, size_t len);

/* The open-addressing tables here hold record index + 1 in their slots
 * (0 = empty; slot_count a power of two), each record keeping its hash as
 * a uint64_t at hash_offset. Doubles *slots and puts the first count
 * records back in. */
int pk__slots_grow(uint32_t **slots, size_t *slot_count, const void *records, size_t count,
                   size_t stride, size_t hash_offset);
/* The tables whose slots carry their key's 32-bit hash, so that growing
 * reads no record: each slot of slot_size bytes holds uint32_t index + 1
 * (0 = empty) at index_offset and the hash at hash_offset. Returns slots
 * doubled (first_count of them when *slot_count is 0) with every used slot
 * put back, and frees the old ones; NULL (nothing changed) when out of
 * memory. */
void *pk__hashed_slots_grow(void *slots, size_t *slot_count, size_t first_count, size_t slot_size,
                            size_t index_offset, size_t hash_offset);

/* Open addressing over the indices of a caller's items, each slot with
 * its key's hash, so that keys are read from the items (not copied) and
 * growing does not need them. The caller probes from hash & (count - 1)
 * to an empty slot (item 0) or its key's. */
typedef struct pk__slot {
	uint32_t hash;
	uint32_t item; /* index + 1; 0 = empty */
} pk__slot;

typedef struct pk__item_table {
	pk__slot *slots;
	size_t count; /* a power of two, or 0 */
	size_t used;
} pk__item_table;

/* Room for one more item: slots compare hashes first, so the table may be
 * 3/4 full. 0 or PK_ENOMEM. */
int pk__item_table_room(pk__item_table *t);
void pk__item_table_put(pk__item_table *t, size_t at, uint32_t hash, size_t item);

/* ------------------------------------------------------------ id lookup */

/* Maps pprof's 64-bit ids to our dense indices. Ids are usually 1..n, so
 * those go in a plain array; others in a hash table. */
typedef struct pk__idmap {
	uint32_t *dense; /* dense[id - 1] = index + 1 for id <= dense_count */
	size_t dense_count;
	uint64_t *keys; /* hash table for the rest; key 0 = empty */
	uint32_t *values;
	size_t slot_count, used;
} pk__idmap;

/* dense_hint: how many ids are expected (ids up to it take the fast path). */
int pk__idmap_init(pk__idmap *m, size_t dense_hint);
void pk__idmap_free(pk__idmap *m);
/* Returns 0, PK_ENOMEM, or PK_EFORMAT if id is 0 or already present. */
int pk__idmap_put(pk__idmap *m, uint64_t id, uint32_t index);
/* The hash-table half of pk__idmap_get. */
uint32_t pk__idmap_get_hashed(const pk__idmap *m, uint64_t id);
/* Index of id, or PK_NONE. Inline: importers look up every stack frame. */
static inline uint32_t pk__idmap_get(const pk__idmap *m, uint64_t id)
{
	if (id - 1 < m->dense_count)                      /* id 0 wraps around and fails this */
		return (uint32_t)(m->dense[id - 1] - 1u); /* an empty slot (0) gives PK_NONE */
	return pk__idmap_get_hashed(m, id);
}

/* What importers of id-keyed formats (pprof, our JSON) share: ids to
 * indices for each kind of object, and scratch arrays reused from one
 * element to the next, so that a sample costs no allocation. */
typedef struct pk__import_state {
	pk__idmap mapping_ids, function_ids, location_ids;
	pk__vec u32s;   /* uint32_t */
	pk__vec values; /* int64_t */
	pk__vec labels; /* pk_label */
	pk__vec lines;  /* pk_line */
} pk__import_state;

/* The counts size the id maps' fast paths. */
int pk__import_state_init(pk__import_state *st, size_t mappings, size_t functions,
                          size_t locations);
void pk__import_state_free(pk__import_state *st);

/* ------------------------------------------------------------- call tree */

/* The prefix tree of a profile's stacks for one sample type, root first,
 * with inlined frames expanded as frames of their own (a location's last
 * line is the caller). Folded stacks, flame graphs and speedscope read it.
 * With a base profile every stack also carries the base's value, so a
 * diff keeps both sides. */
typedef struct pk__tree_frame {
	const char *name; /* what the frame shows at the tree's granularity */
	size_t name_len;
	/* "" when the location has no lines; the profile's string */
	const char *function;
	const char *file; /* "" when unknown or not wanted */
	int64_t line;     /* 0 when unknown or not wanted */
	uint64_t address; /* 0 unless granularity is addresses */
} pk__tree_frame;

/* A distinct stack (its frames' names differ from every other's); what
 * the samples that end in it add up to is in pk__tree's self. Only the
 * frames it adds to the stack before are kept (pk__tree_frames). */
typedef struct pk__tree_stack {
	uint32_t first;  /* where the frames it adds start in the tree's store */
	uint32_t len;    /* its frames; 0: the root's own (samples without locations) */
	uint32_t shared; /* leading frames in common with the stack before */
} pk__tree_stack;

/* The tree is its stacks in the order of their frames' names, each after
 * the stacks it extends: read front to back they give the nodes depth
 * first, children in name order. Stack i adds the nodes past its first
 * `shared` frames; a node's subtree is the run of stacks that keep its
 * path (whose `shared` is at least its depth). Nodes that end no stack
 * have no value of their own, so they take no memory. */
typedef struct pk__tree {
	pk__tree_frame *frames; /* in name order */
	size_t frame_count;
	pk__tree_stack *stacks;
	size_t stack_count;
	/* by stack: the profile's value (apart from the stacks, which would
	 * pad each to 24 bytes) */
	int64_t *self;
	uint32_t max_len; /* the longest stack */
	bool has_base;
	int64_t *base_self;         /* with a base: the base's value of each stack; else NULL */
	size_t sample_type;         /* the index in the profile */
	const char *type, *unit;    /* borrowed from the profile */
	struct pk__tree_data *data; /* storage behind the arrays */
} pk__tree;

typedef struct pk__tree_options {
	const char *sample_type; /* as pk_profile_find_sample_type reads it */
	const pk_profile *base;  /* NULL: none; it needs the same type and unit */
	int granularity;         /* PK_GRANULARITY_* */
	bool reverse;            /* stacks leaf first */
	/* stacks for the samples of every sample type, so that
	 * pk__tree_select_type can show another type on the same stacks */
	bool all_types;
} pk__tree_options;

/* A profile whose sample types are exactly "base" and "new" (two-count
 * folded input) is built as new against base when no sample type or base
 * is asked for. Samples of value 0 add nothing, so stacks whose values are
 * 0 on both sides exist only where positive and negative values cancel (or,
 * with all_types, where other sample types have values). */
int pk__tree_build(const pk_profile *p, const pk__tree_options *o, pk__tree **out, pk_error *err);
/* The values of another sample type (and its base's) on a tree built with
 * all_types, as pk__tree_build would give them; t->sample_type, type and
 * unit follow. */
int pk__tree_select_type(pk__tree *t, const char *sample_type, pk_error *err);
void pk__tree_free(pk__tree *t);
/* The frames of stack i (indices into t->frames), root first (leaf first
 * when reversed), into out, which has room for t->max_len: only those past
 * its first `shared`, so out must hold stack i - 1's frames (from the call
 * for it) where i > 0. */
void pk__tree_frames(const pk__tree *t, size_t i, uint32_t *out);

/* Append to text the name pprof gives one line of a location (line NULL:
 * a location without lines) at a granularity (NodeInfo.PrintableName), as
 * call tree frames and call graph functions are named. *file_start and
 * *file_end (optional) get where the cleaned file name lies in text. */
int pk__frame_name(const pk_profile *p, const pk_location *loc, const pk_line *line,
                   int granularity, pk__vec *text, size_t *file_start, size_t *file_end);
/* Append path to text as Go's filepath.Clean writes it, as pprof shows files. */
int pk__clean_path(pk__vec *text, const char *path);

/* ------------------------------------------------------------ call graph */

/* The call graph of a profile, as callgrind holds it: functions, each
 * with its positions (a source line, and an address at address
 * granularity), and calls from a position to a function. Every value is a
 * vector, one entry per chosen sample type ("event"). Inlined frames are
 * functions of their own, called from the position they were inlined at,
 * as pprof makes them nodes; one per file they were inlined into (host).
 * A stack is a path of positions: samples (of the profile, and negated of
 * the base) whose stacks are the same path add up. Each stack adds its
 * values once to the cumulative value of each distinct position and
 * function in it and to the weight of each distinct call in it, so
 * recursion does not count twice; its leaf position and function get them
 * as flat values. Samples whose chosen values are all 0 add nothing.
 * Names are the profiles' strings where they are theirs (so the graph
 * must not outlive them), else the graph's copies. */
typedef struct pk__graph_function {
	const char *name;   /* pprof's name at function granularity; never "" */
	const char *file;   /* cleaned as pprof shows it; "" when unknown */
	const char *object; /* the mapping's file; "" when unknown */
	/* the file of the location's last line, the function the code was
	 * inlined into; file itself when not inlined */
	const char *host;
	int64_t start_line; /* the smallest nonzero start line given, or 0 */
	/* its positions: nodes [first_node, first_node + node_count), by
	 * line then address */
	uint32_t first_node, node_count;
} pk__graph_function;

typedef struct pk__graph_node {
	uint32_t function;
	/* the calls made here: edges [first_edge, the next node's
	 * first_edge), by callee */
	uint32_t first_edge;
	int64_t line; /* 0 when unknown or below line granularity */
} pk__graph_node;

/* A call from the node whose edges it is among. */
typedef struct pk__graph_edge {
	uint32_t callee : 31; /* a function */
	uint32_t inlined : 1; /* at least once an inlined call */
	uint32_t samples;     /* samples of the profile (not the base) that cross it */
} pk__graph_edge;

typedef struct pk__graph {
	size_t value_count; /* values per vector */
	size_t *types;      /* the sample type of each value */
	/* by name, file, then object */
	pk__graph_function *functions;
	size_t function_count;
	/* grouped by function, in function order; one more after them, whose
	 * first_edge is edge_count */
	pk__graph_node *nodes;
	size_t node_count;
	uint64_t *addresses;   /* by node at address granularity; else NULL (all 0) */
	pk__graph_edge *edges; /* grouped by caller, in node order */
	size_t edge_count;
	/* value_count entries per item: item i's are [i * value_count, ...);
	 * node_cum and the function's only with the option cumulative (else
	 * NULL) */
	int64_t *node_flat, *node_cum;
	int64_t *function_flat, *function_cum;
	int64_t *edge_weight;
	int64_t *total; /* value_count: every sample's values, summed */
	/* value_count: with drop_negative, the sum of the stacks left out
	 * (<= 0); else 0 */
	int64_t *left_out;
	bool has_base; /* the base's values are in, negated */
	/* storage behind the strings */
	struct pk__graph_data *data;
} pk__graph;

typedef struct pk__graph_options {
	/* as pk_profile_find_sample_type reads it; with all_types, NULL or
	 * "" means every sample type */
	const char *sample_type;
	bool all_types;
	const pk_profile *base; /* NULL: none; it needs each type by name and unit */
	/* PK_GRANULARITY_LINES: positions are lines; _ADDRESSES: addresses
	 * and lines; coarser ones: one position (line 0) per function */
	int granularity;
	/* a stack whose value (after the base) is negative adds 0 to that
	 * value instead, so every value in the graph is >= 0 */
	bool drop_negative;
	/* node_cum, function_flat and function_cum too (callgrind needs
	 * none, and they cost memory) */
	bool cumulative;
	/* for tests: 1, the first walk on one thread; 2, its second thread's
	 * part first, then the calling thread's, both on the calling thread */
	int first_walk;
} pk__graph_options;

int pk__graph_build(const pk_profile *p, const pk__graph_options *o, pk__graph **out,
                    pk_error *err);
void pk__graph_free(pk__graph *g);

/* Overflow wraps, as in pprof (Go's int64), instead of being undefined. */
static inline int64_t pk__add(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a + (uint64_t)b);
}

/* Decimal digits of u, written backwards ending at end (20 bytes are
 * enough); returns the start. For writers that format many numbers. */
static inline char *pk__format_uint(uint64_t u, char *end)
{
	/* two digits a division: weights and counts have 6 to 12 */
	static const char pairs[] = "00010203040506070809101112131415161718192021222324"
	                            "25262728293031323334353637383940414243444546474849"
	                            "50515253545556575859606162636465666768697071727374"
	                            "75767778798081828384858687888990919293949596979899";
	for (; u >= 100; u /= 100) {
		end -= 2;
		memcpy(end, pairs + 2 * (u % 100), 2);
	}
	if (u >= 10) {
		end -= 2;
		memcpy(end, pairs + 2 * u, 2);
	} else {
		*--end = (char)('0' + u);
	}
	return end;
}

/* The same for v, with a '-' (21 bytes are enough). */
static inline char *pk__format_int(int64_t v, char *end)
{
	end = pk__format_uint(v < 0 ? 0 - (uint64_t)v : (uint64_t)v, end);
	if (v < 0)
		*--end = '-';
	return end;
}

/* v with `decimals` digits after the point into buf, as printf's %f rounds
 * it, but with a '.' whatever the locale; trim drops trailing zeros and the
 * point. (formats/flamegraph.c) */
void pk__format_fixed(char *buf, size_t size, double v, int decimals, bool trim);

/* ---------------------------------------------------------------- reports */

/* pprof's measurement package: Scale converts value from unit `from` to
 * `to` ("minimum"/"auto": the best unit of the family) and sets *unit_out
 * (static) to the unit shown; ScaledLabel and Percentage format as pprof. */
double pk__scale(int64_t value, const char *from, const char *to, const char **unit_out);
void pk__scaled_label(char *buf, size_t size, int64_t value, const char *from, const char *to);
void pk__percentage(char *buf, size_t size, int64_t value, int64_t total);
/* Profile.NumLabelUnits: the unit of each numeric label key (its first
 * nonempty unit; else "bytes" for "alignment" and "request", else the key
 * itself), pushed to units as pk__num_unit; strings are p's. */
typedef struct pk__num_unit {
	pk_str key;
	const char *unit;
} pk__num_unit;
int pk__num_label_units(const pk_profile *p, pk__vec *units);
/* the unit of key in units; "" if it is not there */
const char *pk__num_label_unit(const pk__vec *units, pk_str key);
/* Sort n indices by cmp, which gets pointers to two of them and a context
 * (the library has no global state). Stable: a merge sort, which compares
 * least, for orders that read strings. 0 or PK_ENOMEM. */
int pk__sort(uint32_t *items, size_t n, int (*cmp)(const void *, const void *, void *), void *ctx);

/* A node of pprof's report graph: a NodeInfo at the report's granularity. */
typedef struct pk__report_info {
	uint64_t address;
	int64_t lineno, start_line;
	const char *printable; /* NodeInfo.PrintableName */
	size_t printable_len;
	const char *sprint; /* fmt.Sprint(NodeInfo), the last tie-break */
	size_t sprint_len;
} pk__report_info;

typedef struct pk__report_edge {
	uint32_t src, dst; /* infos */
	int64_t weight;
	uint32_t stamp; /* the stack that last added to it */
	bool inline_call, removed;
} pk__report_edge;

typedef struct pk__report_options {
	size_t sample_type;
	bool mean; /* divide by value 0, as pprof's -mean */
	int granularity;
	bool no_inlines;
	bool cum_sort;
	bool trim;     /* apply node_count, node_fraction, edge_fraction */
	bool no_graph; /* only the infos (pk__report_location_infos), no graph */
	int node_count;
	double node_fraction, edge_fraction;
} pk__report_options;

/* The trimmed, sorted graph of report.newTrimmedGraph. Values are per
 * info; nodes lists the infos in the graph, sorted. */
typedef struct pk__report {
	const pk__report_info *infos;
	size_t info_count;
	int64_t *flat, *cum;
	int64_t *flat_div, *cum_div; /* the mean's divisors; NULL without mean */
	uint32_t *nodes;
	size_t node_count;
	pk__report_edge *edges; /* removed ones are to be skipped */
	size_t edge_count;
	size_t orig_count, dropped_nodes;
	int dropped_edges;
	size_t sample_type;
	bool mean, cum_sort;
	struct pk__report_data *data;
} pk__report;

int pk__report_new(const pk_profile *p, const pk__report_options *o, pk__report **out,
                   pk_error *err);
void pk__report_free(pk__report *r);
/* FlatValue and CumValue: divided by the mean divisor if any. */
int64_t pk__report_flat(const pk__report *r, uint32_t node);
int64_t pk__report_cum(const pk__report *r, uint32_t node);
/* The infos of location i's lines (all lines, inlined ones first, or the
 * last alone with no_inlines; one for a location without lines). */
size_t pk__report_location_infos(const pk__report *r, uint32_t location, const uint32_t **infos);
/* report.computeTotal: sum of |value| (of pprof::base samples if any). */
int64_t pk__report_total(const pk_profile *p, size_t type, bool mean);

/* How pk__profile_copy changes what it copies; NULL hooks copy as is. */
typedef struct pk__copy_hooks {
	/* change a function record (strings are the source's) */
	void (*function)(void *ctx, pk_function *f);
	/* change a location and its lines in place; *count may shrink */
	void (*location)(void *ctx, pk_location *loc, pk_line *lines, size_t *count);
	/* change a sample's values (a copy); return false to leave it out */
	bool (*sample)(void *ctx, int64_t *values, size_t count);
	void *ctx;
} pk__copy_hooks;

/* A copy of p with the same strings, objects and indices, through hooks
 * (NULL: an exact copy). */
int pk__profile_copy(const pk_profile *p, const pk__copy_hooks *h, pk_profile **out);
/* A sample hook that leaves every sample out (to add them by hand). */
bool pk__no_samples(void *ctx, int64_t *values, size_t count);

/* ------------------------------------------------------------ byte output */

/* Where an exporter writes: a callback, so one exporter serves files,
 * memory and gzip alike. Exporters write many small pieces: a sink with a
 * buffer (cap > 0) gathers them there and calls write with blocks of up to
 * cap bytes; pk__sink_flush passes on the rest, which the sinks below do
 * before they finish or commit. */
typedef struct pk__sink {
	int (*write)(struct pk__sink *s, const void *data, size_t size);
	pk_error *err;
	unsigned char *buf; /* cap bytes, len of them used; NULL if cap is 0 */
	size_t len, cap;
} pk__sink;

int pk__sink_write_slow(pk__sink *s, const void *data, size_t size);
/* Inline: most writes are a few bytes that only need a copy. */
static inline int pk__sink_write(pk__sink *s, const void *data, size_t size)
{
	if (size <= s->cap - s->len) {
		if (size > 0)
			__builtin_memcpy(s->buf + s->len, data, size);
		s->len += size;
		return 0;
	}
	return pk__sink_write_slow(s, data, size);
}
int pk__sink_flush(pk__sink *s);
int pk__sink_puts(pk__sink *s, const char *str);
int pk__sink_printf(pk__sink *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A sink that collects everything in memory. */
typedef struct pk__buffer_sink {
	pk__sink base;
	unsigned char *data;
	size_t size;
	size_t capacity;
} pk__buffer_sink;

void pk__buffer_sink_init(pk__buffer_sink *b, pk_error *err);
void pk__buffer_sink_release(pk__buffer_sink *b);

/* A sink that gzips into another sink. finish writes the trailer. */
typedef struct pk__gzip_sink pk__gzip_sink;
int pk__gzip_sink_new(pk__sink *next, pk_error *err, pk__gzip_sink **out);
pk__sink *pk__gzip_sink_base(pk__gzip_sink *g);
int pk__gzip_sink_finish(pk__gzip_sink *g);
void pk__gzip_sink_free(pk__gzip_sink *g);

/* A file written atomically: a temporary file beside path, renamed over it
 * by commit; abort (or free without commit) removes it. "-" is stdout. */
typedef struct pk__file_sink pk__file_sink;
int pk__file_sink_open(const char *path, pk_error *err, pk__file_sink **out);
/* A caller's progress callback (fn NULL: none) and its context. */
typedef struct pk__progress {
	pk_progress_fn fn;
	void *ctx;
} pk__progress;
/* Tell progress the bytes written, every MiB. */
void pk__file_sink_set_progress(pk__file_sink *f, pk__progress progress);
pk__sink *pk__file_sink_base(pk__file_sink *f);
int pk__file_sink_commit(pk__file_sink *f);
void pk__file_sink_abort(pk__file_sink *f);

/* ------------------------------------------------------------- byte input */

/* The whole input in memory, gunzipped if it was gzip. */
typedef struct pk__input {
	unsigned char *data;
	size_t size;
	bool was_gzip;
	/* Non-NULL when data is a read-only mapping of a file (map_size
	 * bytes from map), whose pages read back from the file after
	 * pk__discard_pages. */
	void *map;
	size_t map_size;
	/* Non-NULL when a gzip file inflates on a thread into data (of its
	 * final size, in->size 0 until pk__input_finish): see
	 * pk__input_wait. */
	struct pk__inflow *flow;
	/* The importer starts no thread of its own (pk_read_options'
	 * one_thread). */
	bool one_thread;
} pk__input;

#define PK_DEFAULT_MAX_INPUT ((uint64_t)2 << 30)

/* A look at the first PK_INPUT_PROBE_SIZE bytes of a large input (after
 * gunzip), so that one no format can read is refused before all of it,
 * up to the size limit, is in memory. Returns 0 to go on. */
typedef int (*pk__input_probe)(const unsigned char *data, size_t size, bool gunzipped,
                               pk_error *err);
#define PK_INPUT_PROBE_SIZE ((size_t)1 << 20)

/* probe may be NULL. */
int pk__input_read_path(const char *path, uint64_t max_size, pk__input_probe probe, pk__input *out,
                        pk_error *err);
/* The same, telling progress (may be NULL) of "reading" and "decompressing".
 * With may_flow, a large gzip file may come back still inflating (out->flow
 * set, out->size 0), for an importer that decodes its start meanwhile. */
int pk__input_read_path_progress(const char *path, uint64_t max_size, pk__input_probe probe,
                                 const pk__progress *progress, bool may_flow, pk__input *out,
                                 pk_error *err);
/* With in->flow set: how many bytes of in->data are inflated, once at
 * least want are or the inflating stopped (then perhaps fewer). */
size_t pk__input_wait(pk__input *in, size_t want);
/* With in->flow set: how much of it a probe looks at (the bytes
 * pk__input_read_path_progress would give it), or 0 for none. */
size_t pk__input_probe_size(pk__input *in);
/* With in->flow set: the size its gzip trailer claims, which in->size
 * will be unless the file is unusual. */
size_t pk__input_claimed_size(const pk__input *in);
/* With in->flow set: whether the inflating is over and went well, so
 * that in->data stays as it is until pk__input_finish (no wait). */
bool pk__input_inflated(pk__input *in);
/* Have all of in, or the error reading it gives. The bytes are those
 * pk__input_wait showed, but in->data may move. */
int pk__input_finish(pk__input *in, pk_error *err);
/* Read in's gzip file again, whole (after pk__discard_pages on it), as
 * pk__input_finish; in must have come with a flow. */
int pk__input_reload(pk__input *in, pk_error *err);
/* Copies (or inflates) data into out. */
int pk__input_from_buffer(const void *data, size_t size, uint64_t max_size, pk__input_probe probe,
                          pk__input *out, pk_error *err);
/* The first limit bytes of data (gunzipped if it is gzip), for a look at
 * what it is; a gzip stream cut after them is fine. */
int pk__input_head(const void *data, size_t size, size_t limit, pk__input *out);
void pk__input_release(pk__input *in);
bool pk__is_gzip(const void *data, size_t size);

/* --------------------------------------------------------------- formats */

/* A format descriptor; each file in formats/ defines one. */
struct pk_format {
	const char *name;
	const char *description;
	const char *const *extensions; /* NULL-terminated, longest first */
	bool gzip_by_default;
	/* The exporter writes one value per stack, so it honors the write
	 * options sample_type, base and granularity; others refuse them. */
	bool one_value;
	/* 0 if the bytes look like this format, PK_ENOTMINE otherwise. */
	int (*sniff)(const unsigned char *data, size_t size);
	/* Optional, stricter: 0 if data, the first PK_INPUT_PROBE_SIZE bytes
	 * of a large input, can begin this format. NULL: the sniffer. */
	int (*probe)(const unsigned char *data, size_t size);
	/* Build a profile from the bytes; errors carry offsets or lines. */
	int (*import)(const unsigned char *data, size_t size, pk_profile **out, pk_error *err);
	/* Optional: import for bytes that are the library's own copy, which
	 * the importer may discard (pk__discard_pages) once it is done with
	 * them, so that the input and the model need not both be whole; it
	 * must not write to them (a file's may be a read-only mapping). */
	int (*import_owned)(unsigned char *data, size_t size, pk_profile **out, pk_error *err);
	/* Optional, before import_owned: import for bytes mapped read-only
	 * from a file, whose pages the importer may discard whenever it is
	 * past them: they read back from the file if it looks again. */
	int (*import_mapped)(const unsigned char *data, size_t size, pk_profile **out,
	                     pk_error *err);
	/* Optional, before the others: import from an input still inflating
	 * (in->flow set), decoding what pk__input_wait shows before it has
	 * it all from pk__input_finish, whose error it returns as it is. */
	int (*import_flow)(pk__input *in, pk_profile **out, pk_error *err);
	/* Write p; opts is complete (the current version, defaults filled in). */
	int (*export)(const pk_profile *p, const pk_write_options *opts, pk__sink *sink,
	              pk_error *err);
};

/* ------------------------------------------------------------- the model */

/* Internal fast paths for importers. */
size_t pk__profile_value_stride(const pk_profile *p);
/* Presize the sample arrays for a count known up front (a hint: 0 or
 * PK_ENOMEM). Call after the sample types are added. */
int pk__profile_reserve_samples(pk_profile *p, size_t samples);
/* A sample's stack is decoded straight into the free tail of the stack
 * pool: *out gets room for depth + more locations there, the first depth
 * of them already written (*out moves when the pool grows). Then pk__profile_add_tail_sample adds
 * the sample whose stack is the depth locations there, each a valid location index, with
 * sample-type-count values and labels of valid strings; the tail is kept
 * only if the stack is new. Both return 0 or PK_ENOMEM. */
int pk__profile_stack_room(pk_profile *p, size_t depth, size_t more, uint32_t **out);
/* Room for more strings, as pk__strtab_reserve. */
int pk__profile_reserve_strings(pk_profile *p, size_t more);
/* Presize the object arrays for counts known up front (a hint, as
 * pk__profile_reserve_samples). */
int pk__profile_reserve_objects(pk_profile *p, size_t mappings, size_t functions, size_t locations,
                                size_t lines);
/* A profile built (an import ends here): what only adding stacks needs,
 * their hash table (16-byte slots, up to 3/4 full), goes back to make room
 * for what reads the profile next; adding more builds it again. */
void pk__profile_shrink(pk_profile *p);
/* Sample i (< the sample count) without its stack's locations, which
 * cost a cache miss per sample to look at: locations NULL, depth 0. */
void pk__profile_sample_shallow(const pk_profile *p, size_t i, pk_sample *out);
/* Sample i's values (borrowed, one per sample type) and in *stack its
 * stack: what walks over every sample for their values need. */
const int64_t *pk__profile_sample_values(const pk_profile *p, size_t i, uint32_t *stack);
/* The label set of sample i (< the sample count): 0 for none, else below
 * pk__profile_label_set_count(p); samples with equal labels have one set. */
uint32_t pk__profile_sample_label_set(const pk_profile *p, size_t i);
/* The table of p's distinct labels (borrowed; pk_profile_label_count of
 * them), which a sample's label indices point into: for exporters that
 * read every sample's labels. */
const pk_label *pk__profile_labels(const pk_profile *p);
/* Replace the pk_label records in out with those of sample s of p, for
 * copying the sample with pk_profile_add_sample. 0 or PK_ENOMEM. */
int pk__sample_labels(const pk_profile *p, const pk_sample *s, pk__vec *out);
/* Intern p's string s in q (0 or PK_ENOMEM; PK_EINVAL if s is not p's);
 * with known_new the caller knows q lacks it (no look-up). */
int pk__profile_intern_from(pk_profile *q, const pk_profile *p, pk_str s, bool known_new,
                            pk_str *out);
size_t pk__profile_label_set_count(const pk_profile *p);
/* For every string s of p, its index in q, or PK_NONE: out[s]. */
void pk__profile_find_strings(const pk_profile *q, const pk_profile *p, pk_str *out);
int pk__profile_add_tail_sample(pk_profile *p, size_t depth, const int64_t *values,
                                const pk_label *labels, size_t label_count);
/* The index of the stack of the depth locations in the pool's tail (as
 * pk__profile_stack_room gives it), added if new: for a caller that adds
 * its samples later by stack, with pk__profile_add_stack_sample (stack an
 * index of p's stacks) or all at once with pk__profile_take_samples. Both
 * return 0 or PK_ENOMEM. */
int pk__profile_intern_tail_stack(pk_profile *p, size_t depth, uint32_t *out);
/* The same for a stack the caller knows p lacks: added without a look-up.
 * p's stack table is dropped then, built again when a look-up needs it. */
int pk__profile_append_tail_stack(pk_profile *p, size_t depth, uint32_t *out);
int pk__profile_add_stack_sample(pk_profile *p, uint32_t stack, const int64_t *values,
                                 const pk_label *labels, size_t label_count);
/* The same for the depth locations at locs (valid location indices, of
 * hash pk__stack_hash), copied into the pool if new: for an importer that
 * looks up a batch of stacks at once. Before, pk__profile_prefetch_stack
 * with locations false, then (later) true, fetches the stack's hash slot,
 * then its stored locations, so that the cache misses of a batch overlap
 * (a hint: it changes nothing). */
/* For an importer that interned stacks of location ids less one, before
 * it knew the locations: each becomes its location's index (those below
 * direct are indices already, the others' ids are looked up in ids).
 * PK_ENOTFOUND, the stacks in a mess, if an id has no location. */
int pk__profile_stacks_from_ids(pk_profile *p, const pk__idmap *ids, size_t direct);
/* For an importer that interned labels of string indices, before it knew
 * the strings: each becomes strings[index] (count of them). PK_ENOTFOUND,
 * the labels in a mess, if an index is out of range or two labels become
 * one (equal strings at two indices: their sets would be wrong). */
int pk__profile_labels_from_strings(pk_profile *p, const pk_str *strings, size_t count);
/* Replace sample type i (added before samples as a placeholder). */
void pk__profile_set_sample_type(pk_profile *p, size_t i, pk_value_type vt);
uint32_t pk__stack_hash(const uint32_t *locs, size_t depth);
void pk__profile_prefetch_stack(const pk_profile *p, uint32_t hash, bool locations);
int pk__profile_intern_stack(pk_profile *p, const uint32_t *locs, size_t depth, uint32_t hash,
                             uint32_t *out);
/* The index of the stack of the depth locations at locs (of hash
 * pk__stack_hash), or PK_NONE if p lacks it (or has dropped its table):
 * a look-up that adds nothing. */
uint32_t pk__profile_find_stack(const pk_profile *p, const uint32_t *locs, size_t depth,
                                uint32_t hash);
/* The index in p's table of label l (of valid strings), added if new. 0 or
 * PK_ENOMEM. */
int pk__profile_intern_label(pk_profile *p, const pk_label *l, uint32_t *out);
/* A label set is built as stacks are, in the free tail of a pool: *out
 * gets room for count label indices there (it moves when the pool grows),
 * then pk__profile_intern_tail_labels gives the index (> 0) of the set of
 * the count (> 0) labels written there, added if new. 0 or PK_ENOMEM. */
int pk__profile_label_room(pk_profile *p, size_t count, uint32_t **out);
int pk__profile_intern_tail_labels(pk_profile *p, size_t count, uint32_t *out);
/* The labels of p's label set set (> 0): *out (borrowed) gets their
 * indices in p's table; returns their count. */
size_t pk__profile_label_set(const pk_profile *p, uint32_t set, const uint32_t **out);
/* Give p, which has no samples, the samples a merge built: per sample its
 * stack (uint32_t, one of p's), its label set (uint32_t, one of p's, 0 for
 * none; or no entries at all) and its values (int64_t, a vector each).
 * p takes the arrays; the vecs are left empty. */
void pk__profile_take_samples(pk_profile *p, pk__vec *stacks, pk__vec *sets, pk__vec *values);

/* New numbers for a profile's strings and objects. */
typedef struct pk__renumbering {
	const pk_str *strings; /* string i becomes strings[i]'s; strings[0] is 0 */
	size_t string_count;
	/* per mapping, function, location and stack: its new index, or
	 * PK_NONE (dropped: nothing kept may refer to it); and how many */
	const uint32_t *mappings, *functions, *locations, *stacks;
	size_t mapping_count, function_count, location_count, stack_count;
} pk__renumbering;
/* For a merge that takes p as its own (its first profile, or its result
 * when samples cancel): p's objects renumbered as r says (the ids of those
 * kept their index + 1, the samples' stacks too), then its strings, the
 * others dropped, if no header field, mapping, function or label refers to
 * one dropped (*done; else the strings are unchanged). 0 or PK_ENOMEM.
 * Either way p is the same profile but for the order of its parts. */
int pk__profile_renumber(pk_profile *p, const pk__renumbering *r, bool *done);
/* p's stack table built again; *distinct says whether its stacks are (if
 * not, look-ups find the first of equal ones). 0 or PK_ENOMEM. */
int pk__profile_index_stacks(pk_profile *p, bool *distinct);
/* p without its samples (their stacks and label sets stay). */
void pk__profile_drop_samples(pk_profile *p);

/* -------------------------------------------------------------- parts */

/* An input's parts decoded on two threads, added in order on the
 * caller's (see core/parts.c). A part is [start, end) of the input; data
 * is the importer's slot it is decoded into. */
typedef struct pk__part {
	size_t start, end;
	bool done;
	void *data;
} pk__part;

typedef struct pk__parts_ops {
	/* The end of part pt from pt->start (at most end): called in the
	 * parts' order, with the queue locked; pt->start or less if no part
	 * starts there, which ends the parts. */
	size_t (*cut)(void *ctx, pk__part *pt, size_t end);
	/* Decode pt into pt->data, on thread `view` (0 the helper's, 1 the
	 * caller's): it must allocate nothing and tell no errors. */
	void (*decode)(void *ctx, pk__part *pt, unsigned view);
} pk__parts_ops;

typedef struct pk__parts pk__parts;

/* A queue of `slots` parts (*out owned), the last `ring` of them taking
 * turns once the others are used; its slots' data is set, then it runs. */
int pk__parts_new(pk__parts **out, size_t slots, size_t ring, const pk__parts_ops *ops, void *ctx);
/* Slot i of q (borrowed), to set its data before pk__parts_run. */
pk__part *pk__parts_slot(pk__parts *q, size_t i);
/* Start the helper thread on the parts from start to end. */
int pk__parts_run(pk__parts *q, size_t start, size_t end);
/* Part c (0 the first) once decoded, which the caller's thread may do
 * meanwhile, or NULL when the parts ended before it. */
pk__part *pk__parts_next(pk__parts *q, size_t c);
/* Part c is added: its slot may be used again. */
void pk__parts_added(pk__parts *q, size_t c);
/* Stop the helper thread and free q; NULL is a no-op. */
void pk__parts_free(pk__parts *q);

/* run(here) on the calling thread while run(there) runs on a thread of
 * its own, or after it here when no thread starts. */
void pk__run_on_two(void *(*run)(void *), void *here, void *there);

#endif /* PK_INTERNAL_H */
