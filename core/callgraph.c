/* callgraph.c - the call graph that callgrind (and any report of flat and
 * cumulative values) reads: functions, their positions, and calls from a
 * position to a function, with a vector of values each.
 *
 * Frames are expanded and named as the call tree does (core/calltree.c):
 * each line of a location is a frame, its last line the caller, and a
 * function is named as pprof names it at function granularity. Samples
 * first add their values to their stack's. Stacks are then walked twice:
 * the first walk finds the functions, positions and calls, which are
 * sorted into the graph's arrays of their exact sizes, and the second
 * adds the values there (for a graph without cumulative values, on two
 * threads, each adding what falls on its half of the positions). So the
 * graph is built without a copy, and a call costs its final record and
 * values only. A stack is a path of positions;
 * where a sum may be dropped as negative, stacks (and the base's) that are
 * the same path meet first. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* A frame's node with this bit set was reached as an inlined call. */
#define INLINED_BIT 0x80000000u
#define MAX_ITEMS (INLINED_BIT - 2)

struct pk__graph_data {
	pk__strtab *strings; /* the names that are no profile's string */
};

/* A name of the graph: a profile's string where it is one, else a copy
 * in strings; each distinct one once. */
typedef struct gname {
	const char *s; /* NUL-terminated at len */
	uint32_t len;
	uint32_t hash;
} gname;

typedef struct gfunc {
	uint32_t name, file, object; /* in names */
	uint32_t host;               /* the file of the code it was inlined into */
	int64_t start_line;
} gfunc;

typedef struct gnode {
	uint32_t func;
	/* how many of the first walk's stacks hold it (a hint, which may
	 * wrap): how the second walk's threads share the nodes */
	uint32_t stacks;
	int64_t line;
	uint64_t address;
} gnode;

/* A distinct path of nodes, when stacks must meet by their paths: the
 * first stack found with it (stack of walks[walk]). */
typedef struct gpath {
	uint32_t walk, stack;
} gpath;

/* Where a location's nodes are: count of them in loc_nodes from first,
 * or, for one node (most locations), first is the node itself, which the
 * walks then read with the count; count 0: not yet. */
typedef struct span {
	uint32_t first, count;
} span;

/* What one profile's walk keeps: each location's nodes, root first (high
 * bit: inlined), found on first use, the names of functions and objects,
 * each interned once, and the sums of each stack's samples. */
typedef struct walk {
	const pk_profile *p;
	span *locs;          /* by location */
	pk__vec loc_nodes;   /* uint32_t */
	uint32_t *fn_name;   /* by function with a name: its name's id + 1, 0 = not yet */
	uint32_t *fn_file;   /* by function: its cleaned file's id (with fn_name) */
	uint32_t *object_id; /* by mapping (the last: none): its file's id + 1 */
	int64_t *sums;       /* nv per stack of the profile (negated for a base) */
	uint32_t *counts;    /* by stack: its samples of any value */
	uint32_t *path;      /* by stack, with paths: its path, PK_NONE if empty */
	uint64_t *called;    /* a bit by location: its inlined calls are added */
	uint8_t *lines;      /* by location: its nodes, 0 for UINT8_MAX or more */
} walk;

typedef struct builder {
	const pk__graph_options *o;
	size_t nv;
	pk__strtab *strings;
	pk__vec names;           /* gname */
	pk__item_table name_tab; /* finds names by their bytes */
	walk walks[2];           /* the profile's, the base's */
	size_t walk_count;
	pk__vec funcs, nodes;                        /* gfunc, gnode: until sorted into the graph */
	size_t frames;                               /* the walks' location lines: the most nodes */
	pk__item_table func_tab, node_tab, path_tab; /* find them by key */
	/* the calls the first walk finds, caller << 32 | callee, + 1 (0 =
	 * empty): calls are the most numerous items, so only keys are kept;
	 * narrow, in 32 bits (caller << 16 | callee, + 1) when every node and
	 * function index fits 16 */
	void *calls;
	bool narrow;
	size_t call_slots, call_count;
	/* more of them, in an array (the first walk's second thread's), some
	 * more than once, and some in calls too */
	void *extra;
	size_t extra_count;
	/* what the stack at hand counted (edges: the walker's): set as
	 * counted, cleared after the stack (only its own items, not the whole
	 * arrays); a bit each */
	uint64_t *func_seen, *node_seen;
	/* Stacks whose sums could be dropped as negative meet by their paths
	 * first (a base's stack meets the profile's); else each stack is
	 * walked on its own, which adds up to the same. */
	bool paths;
	pk__vec path_reps, path_values; /* gpath; int64_t, nv per path */
	pk__vec text;                   /* char: a name being put together */
	pk__vec path;                   /* uint32_t: the nodes of the stack at hand, root first */
	size_t longest;                 /* the first walk's longest path */
	size_t frames_walked;           /* the first walk's paths' nodes */
	uint32_t split; /* the second walk's threads: nodes below it, and the rest */
	int64_t *total, *left_out;
} builder;

/* One thread of the second walk: it adds what the stacks give nodes
 * [lo, hi) and the calls made from them, so the two threads write apart.
 * Its arrays are made before the thread starts (no allocation there), the
 * paths with room for the longest. */
typedef struct walker {
	builder *b;
	pk__graph *g;
	uint32_t lo, hi;
	/* uint32_t: the stack's nodes; the calls it adds (by callee's place
	 * in path); their edges whose weight is due */
	pk__vec path, calls, pending;
	uint64_t *edge_seen; /* a bit per edge: counted in this stack */
	int64_t *v;          /* the stack's values, as walked */
	int rc;
} walker;

/* ------------------------------------------------------------ hashing */

static uint32_t mix(uint64_t a, uint64_t b)
{
	uint64_t h = (a ^ 0x9e3779b97f4a7c15u) * 0xff51afd7ed558ccdu;
	h = (h ^ (h >> 32) ^ b) * 0xc4ceb9fe1a85ec53u;
	return (uint32_t)(h ^ (h >> 29) ^ (h >> 47));
}

/* The first slot of hash h's probe sequence; room is made first. */
static int table_probe(pk__item_table *t, uint32_t h, size_t *at)
{
	PK_FORWARD(pk__item_table_room(t));
	*at = h & (t->count - 1);
	return 0;
}

static int func_of(builder *b, uint32_t name, uint32_t file, uint32_t object, uint32_t host,
                   uint32_t *out)
{
	uint32_t h = mix((uint64_t)name << 32 | file, (uint64_t)object << 32 | host);
	size_t at;
	PK_FORWARD(table_probe(&b->func_tab, h, &at));
	const gfunc *funcs = b->funcs.items;
	for (pk__item_table *t = &b->func_tab; t->slots[at].item != 0;
	     at = (at + 1) & (t->count - 1)) {
		const gfunc *f = &funcs[t->slots[at].item - 1];
		if (t->slots[at].hash == h && f->name == name && f->file == file &&
		    f->object == object && f->host == host) {
			*out = t->slots[at].item - 1;
			return 0;
		}
	}
	if (b->funcs.count >= MAX_ITEMS)
		return PK_ENOMEM;
	gfunc f = {name, file, object, host, 0};
	size_t index;
	PK_FORWARD(pk__vec_push(&b->funcs, sizeof f, &f, 1, &index));
	pk__item_table_put(&b->func_tab, at, h, index);
	*out = (uint32_t)index;
	return 0;
}

static int node_of(builder *b, uint32_t func, int64_t line, uint64_t address, uint32_t *out)
{
	uint32_t h = mix((uint64_t)func << 32 ^ (uint64_t)line, address);
	size_t at;
	PK_FORWARD(table_probe(&b->node_tab, h, &at));
	const gnode *nodes = b->nodes.items;
	for (pk__item_table *t = &b->node_tab; t->slots[at].item != 0;
	     at = (at + 1) & (t->count - 1)) {
		const gnode *n = &nodes[t->slots[at].item - 1];
		if (t->slots[at].hash == h && n->func == func && n->line == line &&
		    n->address == address) {
			*out = t->slots[at].item - 1;
			return 0;
		}
	}
	if (b->nodes.count >= MAX_ITEMS)
		return PK_ENOMEM;
	gnode n = {func, 0, line, address};
	size_t index;
	PK_FORWARD(pk__vec_push(&b->nodes, sizeof n, &n, 1, &index));
	pk__item_table_put(&b->node_tab, at, h, index);
	*out = (uint32_t)index;
	return 0;
}

static size_t call_size(bool narrow)
{
	return narrow ? sizeof(uint32_t) : sizeof(uint64_t);
}

static uint64_t call_get(bool narrow, const void *slots, size_t i)
{
	return narrow ? ((const uint32_t *)slots)[i] : ((const uint64_t *)slots)[i];
}

static void call_set(bool narrow, void *slots, size_t i, uint64_t key)
{
	if (narrow)
		((uint32_t *)slots)[i] = (uint32_t)key;
	else
		((uint64_t *)slots)[i] = key;
}

static int grow_calls(builder *b)
{
	size_t count = b->call_slots ? b->call_slots * 2 : 256;
	void *slots = pk__calloc(count, call_size(b->narrow));
	if (slots == NULL)
		return PK_ENOMEM;
	unsigned shift = b->narrow ? 16 : 32;
	for (size_t i = 0; i < b->call_slots; i++) {
		uint64_t key = call_get(b->narrow, b->calls, i);
		if (key-- == 0)
			continue;
		size_t at = mix(key >> shift, key & ((1ull << shift) - 1)) & (count - 1);
		while (call_get(b->narrow, slots, at) != 0)
			at = (at + 1) & (count - 1);
		call_set(b->narrow, slots, at, key + 1);
	}
	pk__free(b->calls);
	b->calls = slots;
	b->call_slots = count;
	return 0;
}

/* The slot of the call from node caller to function callee. */
static size_t call_slot(const builder *b, uint32_t caller, uint32_t callee)
{
	return mix(caller, callee) & (b->call_slots - 1);
}

/* The slot of key in a table of count slots, probed from at, or the
 * empty slot where it goes. */
static inline size_t call_find(bool narrow, const void *slots, size_t count, uint64_t key,
                               size_t at)
{
	for (uint64_t k; (k = call_get(narrow, slots, at)) != 0 && k != key;)
		at = (at + 1) & (count - 1);
	return at;
}

/* Inline: the first walk adds every call of every stack. */
static inline int add_call(builder *b, uint32_t caller, uint32_t callee)
{
	/* Slots are keys themselves, so they can be fuller than the tables
	 * of indices. */
	if ((b->call_count + 1) * 4 > b->call_slots * 3)
		PK_FORWARD(grow_calls(b));
	uint64_t key = ((uint64_t)caller << (b->narrow ? 16 : 32) | callee) + 1;
	size_t at =
	    call_find(b->narrow, b->calls, b->call_slots, key, call_slot(b, caller, callee));
	if (call_get(b->narrow, b->calls, at) == key)
		return 0;
	if (b->call_count >= MAX_ITEMS)
		return PK_ENOMEM;
	call_set(b->narrow, b->calls, at, key);
	b->call_count++;
	return 0;
}

/* ------------------------------------------------------------- frames */

/* The name of the len bytes at s, found or added: s itself if kept
 * (a profile's string, which outlives the graph), else a copy of it. */
static int name_of(builder *b, const char *s, size_t len, bool kept, uint32_t *out)
{
	uint64_t x = pk__hash_bytes(s, len);
	uint32_t h = (uint32_t)(x ^ (x >> 32));
	size_t at;
	PK_FORWARD(table_probe(&b->name_tab, h, &at));
	const gname *names = b->names.items;
	for (pk__item_table *t = &b->name_tab; t->slots[at].item != 0;
	     at = (at + 1) & (t->count - 1)) {
		const gname *n = &names[t->slots[at].item - 1];
		if (t->slots[at].hash == h && n->len == len && memcmp(n->s, s, len) == 0) {
			*out = t->slots[at].item - 1;
			return 0;
		}
	}
	if (len > UINT32_MAX || b->names.count >= MAX_ITEMS)
		return PK_ENOMEM;
	if (!kept) {
		uint32_t id;
		PK_FORWARD(pk__strtab_intern(b->strings, s, len, &id));
		s = pk__strtab_get(b->strings, id, NULL);
	}
	gname n = {s, (uint32_t)len, h};
	size_t index;
	PK_FORWARD(pk__vec_push(&b->names, sizeof n, &n, 1, &index));
	pk__item_table_put(&b->name_tab, at, h, index);
	*out = (uint32_t)index;
	return 0;
}

/* The name of the cleaned file of a function's file, the profile's string
 * when cleaning leaves it as it is. */
static int file_name(builder *b, const char *file, uint32_t *out)
{
	b->text.count = 0;
	if (*file)
		PK_FORWARD(pk__clean_path(&b->text, file));
	size_t len = b->text.count;
	bool same = strlen(file) == len && (len == 0 || memcmp(file, b->text.items, len) == 0);
	return name_of(b, same ? file : b->text.items, len, same, out);
}

/* The node of one line of a location (line NULL: one without lines).
 * *host is the file of the location's last line, the code the others were
 * inlined into: PK_NONE for that line itself, which sets it. */
static int frame_node(builder *b, walk *w, const pk_location *loc, const pk_line *line,
                      uint32_t *host, uint32_t *out)
{
	const pk_profile *p = w->p;
	const pk_function *fn = line ? pk_profile_function(p, line->function) : NULL;
	/* A function with a name is named by it alone (a nameless one by its
	 * location's mapping): its name and file are put together once. */
	bool named = fn && pk_profile_string_length(p, fn->name) > 0;
	uint32_t name, file_id, object_id, func;
	if (named && w->fn_name[line->function] != 0) {
		name = w->fn_name[line->function] - 1;
		file_id = w->fn_file[line->function];
	} else {
		/* at function granularity, a name is the function's own */
		if (named) {
			PK_FORWARD(name_of(b, pk_profile_string(p, fn->name),
			                   pk_profile_string_length(p, fn->name), true, &name));
		} else {
			b->text.count = 0;
			PK_FORWARD(pk__frame_name(p, loc, line, PK_GRANULARITY_FUNCTIONS, &b->text,
			                          NULL, NULL));
			PK_FORWARD(name_of(b, b->text.items, b->text.count, false, &name));
		}
		PK_FORWARD(file_name(b, fn ? pk_profile_string(p, fn->filename) : "", &file_id));
		if (named) {
			w->fn_name[line->function] = name + 1;
			w->fn_file[line->function] = file_id;
		}
	}
	size_t mi = loc->mapping != PK_NONE ? loc->mapping : pk_profile_mapping_count(p);
	if (w->object_id[mi] != 0) {
		object_id = w->object_id[mi] - 1;
	} else {
		const pk_mapping *m =
		    loc->mapping != PK_NONE ? pk_profile_mapping(p, loc->mapping) : NULL;
		const char *object = m ? pk_profile_string(p, m->filename) : "";
		PK_FORWARD(name_of(b, object, strlen(object), true, &object_id));
		w->object_id[mi] = object_id + 1;
	}
	if (*host == PK_NONE)
		*host = file_id;
	PK_FORWARD(func_of(b, name, file_id, object_id, *host, &func));
	gfunc *f = &PK_VEC_AT(b->funcs, gfunc, func);
	if (fn && fn->start_line > 0 && (f->start_line == 0 || fn->start_line < f->start_line))
		f->start_line = fn->start_line;
	int g = b->o->granularity;
	bool lines = g == PK_GRANULARITY_LINES || g == PK_GRANULARITY_ADDRESSES;
	int64_t lineno = line && lines ? line->line : 0;
	uint64_t address = g == PK_GRANULARITY_ADDRESSES ? loc->address : 0;
	return node_of(b, func, lineno, address, out);
}

/* Location i's nodes to w->loc_nodes: its last line's (the caller) first. */
static int add_location_nodes(builder *b, walk *w, uint32_t i)
{
	const pk_location *loc = pk_profile_location(w->p, i);
	const pk_line *lines;
	size_t n = pk_profile_location_lines(w->p, i, &lines);
	size_t start = w->loc_nodes.count;
	if (start >= UINT32_MAX - 1)
		return PK_ENOMEM;
	uint32_t node, host = PK_NONE;
	if (n == 0) {
		PK_FORWARD(frame_node(b, w, loc, NULL, &host, &node));
		PK_FORWARD(pk__vec_push(&w->loc_nodes, sizeof node, &node, 1, NULL));
	}
	for (size_t k = n; k-- > 0;) {
		PK_FORWARD(frame_node(b, w, loc, &lines[k], &host, &node));
		if (k != n - 1)
			node |= INLINED_BIT;
		PK_FORWARD(pk__vec_push(&w->loc_nodes, sizeof node, &node, 1, NULL));
	}
	w->locs[i] = (span){(uint32_t)start, (uint32_t)(w->loc_nodes.count - start)};
	if (w->locs[i].count == 1)
		w->locs[i].first = PK_VEC_AT(w->loc_nodes, uint32_t, --w->loc_nodes.count);
	return 0;
}

/* Inline: the stacks' walks ask for every location of every stack, and
 * all but the first ask of each find its nodes there. */
static inline int location_nodes(builder *b, walk *w, uint32_t i, const uint32_t **nodes,
                                 uint32_t *count)
{
	const span *at = &w->locs[i];
	if (at->count == 0)
		PK_FORWARD(add_location_nodes(b, w, i));
	*nodes = at->count == 1 ? &at->first : &PK_VEC_AT(w->loc_nodes, uint32_t, at->first);
	*count = at->count;
	return 0;
}

/* ------------------------------------------------------------ the walk */

static void add_vector(int64_t *to, const int64_t *v, size_t nv)
{
	for (size_t k = 0; k < nv; k++)
		to[k] = pk__add(to[k], v[k]);
}

/* Count once: whether item i was not yet seen in this stack. */
static bool first_visit(uint64_t *seen, uint32_t i)
{
	uint64_t bit = (uint64_t)1 << (i & 63);
	if (seen[i >> 6] & bit)
		return false;
	seen[i >> 6] |= bit;
	return true;
}

static void clear_visit(uint64_t *seen, uint32_t i)
{
	seen[i >> 6] &= ~((uint64_t)1 << (i & 63));
}

/* Put the nodes of stack s of walk w, root first, in path. */
static int expand(builder *b, walk *w, size_t s, pk__vec *path)
{
	const uint32_t *locs;
	size_t depth = pk_profile_stack(w->p, s, &locs);
	path->count = 0;
	/* Where each location's nodes are, asked for together (most hold
	 * their one node: a second load, for the rest, is not asked ahead). */
	for (size_t k = 0; k < depth; k++)
		PK_PREFETCH(&w->locs[locs[k]]);
	for (size_t k = depth; k-- > 0;) {
		const uint32_t *nodes;
		uint32_t count;
		PK_FORWARD(location_nodes(b, w, locs[k], &nodes, &count));
		/* most locations are one node: no copy call for those */
		if (count == 1 && path->count < path->capacity)
			PK_VEC_AT(*path, uint32_t, path->count++) = nodes[0];
		else
			PK_FORWARD(pk__vec_append(path, sizeof(uint32_t), nodes, count));
	}
	return path->count < UINT32_MAX ? 0 : PK_ENOMEM;
}

/* Whether path r has the nodes of b->path, inlined or not. */
static int same_path(builder *b, const gpath *r, bool *out)
{
	walk *w = &b->walks[r->walk];
	const uint32_t *locs, *path = b->path.items;
	size_t depth = pk_profile_stack(w->p, r->stack, &locs), len = b->path.count, i = 0;
	*out = false;
	for (size_t k = depth; k-- > 0;) {
		const uint32_t *nodes;
		uint32_t count;
		PK_FORWARD(location_nodes(b, w, locs[k], &nodes, &count));
		for (uint32_t j = 0; j < count; j++, i++)
			if (i == len || ((nodes[j] ^ path[i]) & ~INLINED_BIT) != 0)
				return 0;
	}
	*out = i == len;
	return 0;
}

/* The path of stack s of walks[wi] (in b->path), found or added. */
static int path_of(builder *b, uint32_t wi, uint32_t s, uint32_t *out)
{
	const uint32_t *path = b->path.items;
	size_t len = b->path.count;
	uint64_t x = len;
	for (size_t i = 0; i < len; i++)
		x = (x ^ (path[i] & ~INLINED_BIT)) * 0x100000001b3u;
	uint32_t h = mix(x, len);
	size_t at;
	PK_FORWARD(table_probe(&b->path_tab, h, &at));
	for (pk__item_table *t = &b->path_tab; t->slots[at].item != 0;
	     at = (at + 1) & (t->count - 1)) {
		if (t->slots[at].hash != h)
			continue;
		bool same;
		PK_FORWARD(
		    same_path(b, &PK_VEC_AT(b->path_reps, gpath, t->slots[at].item - 1), &same));
		if (same) {
			*out = t->slots[at].item - 1;
			return 0;
		}
	}
	if (b->path_reps.count >= MAX_ITEMS)
		return PK_ENOMEM;
	gpath r = {wi, s};
	size_t index;
	PK_FORWARD(pk__vec_push(&b->path_reps, sizeof r, &r, 1, &index));
	PK_FORWARD(pk__vec_push(&b->path_values, sizeof(int64_t), NULL, b->nv, NULL));
	pk__item_table_put(&b->path_tab, at, h, index);
	*out = (uint32_t)index;
	return 0;
}

/* Sum the samples of profile p, whose sample type types[k] is value k,
 * negated for a base, by stack into a new walk. */
static int sum_profile(builder *b, const pk_profile *p, const size_t *types, bool base)
{
	size_t nv = b->nv;
	size_t stacks = pk_profile_stack_count(p), locations = pk_profile_location_count(p);
	size_t functions = pk_profile_function_count(p), mappings = pk_profile_mapping_count(p);
	walk *w = &b->walks[b->walk_count++];
	w->p = p;
	w->sums = pk__calloc(pk__mul(stacks + 1, nv), sizeof *w->sums);
	w->counts = pk__calloc(stacks + 1, sizeof *w->counts);
	w->locs = pk__calloc(locations + 1, sizeof *w->locs);
	w->fn_name = pk__calloc(functions + 1, sizeof *w->fn_name);
	w->fn_file = pk__calloc(functions + 1, sizeof *w->fn_file);
	w->object_id = pk__calloc(mappings + 1, sizeof *w->object_id);
	w->called = pk__calloc(locations / 64 + 1, sizeof *w->called);
	w->lines = pk__malloc(locations + 1);
	if (!w->sums || !w->counts || !w->locs || !w->fn_name || !w->fn_file || !w->object_id ||
	    !w->called || !w->lines)
		return PK_ENOMEM;
	size_t frames = 0;
	for (size_t i = 0; i < locations; i++) {
		const pk_line *lines;
		size_t n = pk_profile_location_lines(p, i, &lines);
		frames += n ? n : 1;
		w->lines[i] = n == 0 ? 1 : n < UINT8_MAX ? (uint8_t)n : 0;
	}
	b->frames += frames;
	PK_FORWARD(pk__vec_reserve_exact(&w->loc_nodes, sizeof(uint32_t), frames));
	size_t samples = pk_profile_sample_count(p);
	for (size_t i = 0; i < samples; i++) {
		pk_sample s;
		pk__profile_sample_shallow(p, i, &s);
		int64_t *sum = &w->sums[(size_t)s.stack * nv];
		bool any = false;
		for (size_t k = 0; k < nv; k++) {
			int64_t v = s.values[types[k]];
			v = base ? (int64_t)(0 - (uint64_t)v) : v;
			any |= v != 0;
			b->total[k] = pk__add(b->total[k], v);
			sum[k] = pk__add(sum[k], v);
		}
		w->counts[s.stack] += any;
	}
	return 0;
}

/* With paths: each stack's path, and each path's sums; a path's negative
 * sums go to left_out. */
static int add_paths(builder *b)
{
	size_t nv = b->nv;
	for (uint32_t wi = 0; wi < b->walk_count; wi++) {
		walk *w = &b->walks[wi];
		size_t stacks = pk_profile_stack_count(w->p);
		w->path = pk__malloc(pk__mul(stacks + 1, sizeof *w->path));
		if (w->path == NULL)
			return PK_ENOMEM;
		for (size_t s = 0; s < stacks; s++) {
			w->path[s] = PK_NONE;
			if (w->counts[s] == 0)
				continue;
			PK_FORWARD(expand(b, w, s, &b->path));
			if (b->path.count == 0)
				continue;
			PK_FORWARD(path_of(b, wi, (uint32_t)s, &w->path[s]));
			add_vector(&PK_VEC_AT(b->path_values, int64_t, (size_t)w->path[s] * nv),
			           &w->sums[s * nv], nv);
		}
	}
	const int64_t *sums = b->path_values.items;
	for (size_t i = 0; i < b->path_values.count; i++)
		if (sums[i] < 0)
			b->left_out[i % nv] = pk__add(b->left_out[i % nv], sums[i]);
	return 0;
}

/* The first walk: the calls between the nodes of location i of walk w,
 * named, once: every stack through it makes the same. */
static int add_location_calls(builder *b, walk *w, uint32_t i)
{
	uint32_t count = w->locs[i].count;
	if (count < 2 || !first_visit(w->called, i))
		return 0;
	const gnode *nodes = b->nodes.items;
	const uint32_t *at = &PK_VEC_AT(w->loc_nodes, uint32_t, w->locs[i].first);
	for (uint32_t j = 1; j < count; j++)
		PK_FORWARD(add_call(b, at[j - 1] & ~INLINED_BIT, nodes[at[j] & ~INLINED_BIT].func));
	return 0;
}

/* The first walk: the inlined calls of stack s of walk w, in its
 * locations. */
static int add_inlined_calls(builder *b, walk *w, size_t s)
{
	const uint32_t *locs;
	size_t depth = pk_profile_stack(w->p, s, &locs);
	for (size_t k = 0; k < depth; k++)
		PK_FORWARD(add_location_calls(b, w, locs[k]));
	return 0;
}

/* The first walk: the calls of the stack in b->path from one location
 * to the next (add_inlined_calls has the others). */
static int add_calls(builder *b)
{
	const uint32_t *path = b->path.items;
	size_t depth = b->path.count;
	gnode *nodes = b->nodes.items;
	if (b->call_slots > 0)
		for (size_t k = 1; k < depth; k++)
			if (!(path[k] & INLINED_BIT))
				PK_PREFETCH(
				    (const char *)b->calls +
				    call_slot(b, path[k - 1] & ~INLINED_BIT, nodes[path[k]].func) *
				        call_size(b->narrow));
	/* loaded for the calls: the counts cost no miss */
	for (size_t k = 0; k < depth; k++)
		nodes[path[k] & ~INLINED_BIT].stacks++;
	for (size_t k = 1; k < depth; k++)
		if (!(path[k] & INLINED_BIT))
			PK_FORWARD(add_call(b, path[k - 1] & ~INLINED_BIT, nodes[path[k]].func));
	return 0;
}

/* The edge from node caller to function callee, which the first walk
 * found: the caller's edges are sorted by callee. */
static uint32_t find_edge(const pk__graph *g, uint32_t caller, uint32_t callee)
{
	uint32_t lo = g->nodes[caller].first_edge, hi = g->nodes[caller + 1].first_edge;
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (g->edges[mid].callee <= callee)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* The second walk: the stack in k->path (nodes of the graph), whose
 * values are k->v, adds them to its leaf's flat values, and once to the
 * cumulative values of each distinct position and function in it and the
 * weight of each distinct call, where k adds those. */
static void walk_stack(walker *k, uint32_t samples)
{
	builder *b = k->b;
	pk__graph *g = k->g;
	size_t nv = b->nv;
	const int64_t *v = k->v;
	const uint32_t *path = k->path.items;
	size_t depth = k->path.count;
	uint32_t lo = k->lo, width = k->hi - k->lo; /* node n is k's if n - lo < width */
	bool cumulative = g->node_cum != NULL;      /* then k has every node */
	uint32_t *pending = k->pending.items, *calls = k->calls.items;
	size_t due = 0, own = 0;
	/* The calls k adds (path[i - 1] to path[i]), then their positions and
	 * where their edges are likely found, asked for together. */
	for (size_t i = 1; i < depth; i++)
		if ((path[i - 1] & ~INLINED_BIT) - lo < width)
			calls[own++] = (uint32_t)i;
	for (size_t j = 0; j < own; j++) {
		PK_PREFETCH(&g->nodes[path[calls[j]] & ~INLINED_BIT]);
		PK_PREFETCH(&g->nodes[path[calls[j] - 1] & ~INLINED_BIT]);
	}
	for (size_t j = 0; j < own; j++) {
		const pk__graph_node *n = &g->nodes[path[calls[j] - 1] & ~INLINED_BIT];
		PK_PREFETCH(&g->edges[(n[0].first_edge + n[1].first_edge) / 2]);
	}
	uint32_t leaf = path[depth - 1] & ~INLINED_BIT;
	if (leaf - lo < width)
		add_vector(&g->node_flat[leaf * nv], v, nv);
	if (cumulative) {
		add_vector(&g->function_flat[g->nodes[leaf].function * nv], v, nv);
		for (size_t i = 0; i < depth; i++) {
			uint32_t node = path[i] & ~INLINED_BIT, func = g->nodes[node].function;
			if (first_visit(b->node_seen, node))
				add_vector(&g->node_cum[node * nv], v, nv);
			if (first_visit(b->func_seen, func))
				add_vector(&g->function_cum[func * nv], v, nv);
		}
	}
	for (size_t j = 0; j < own; j++) {
		uint32_t callee = path[calls[j]];
		uint32_t e = find_edge(g, path[calls[j] - 1] & ~INLINED_BIT,
		                       g->nodes[callee & ~INLINED_BIT].function);
		pk__graph_edge *edge = &g->edges[e];
		edge->inlined |= (callee & INLINED_BIT) != 0;
		if (first_visit(k->edge_seen, e)) {
			pending[due++] = e;
			PK_PREFETCH(&g->edge_weight[(size_t)e * nv]);
			edge->samples += samples;
		}
	}
	/* The weights last, each edge's once: their loads were asked for. */
	for (size_t i = 0; i < due; i++) {
		add_vector(&g->edge_weight[(size_t)pending[i] * nv], v, nv);
		clear_visit(k->edge_seen, pending[i]);
	}
	for (size_t i = 0; cumulative && i < depth; i++) {
		uint32_t node = path[i] & ~INLINED_BIT;
		clear_visit(b->node_seen, node);
		clear_visit(b->func_seen, g->nodes[node].function);
	}
}

/* The values stack s of walk w is walked with, in v; false if none is
 * left. With drop_negative, a value whose sum (its path's, with paths) is
 * negative counts 0. */
static bool stack_values(const builder *b, const walk *w, size_t s, int64_t *v)
{
	if (w->counts[s] == 0 || (b->paths && w->path[s] == PK_NONE))
		return false;
	size_t nv = b->nv;
	const int64_t *sum = &w->sums[s * nv], *of = sum;
	if (b->paths)
		of = &PK_VEC_AT(b->path_values, int64_t, (size_t)w->path[s] * nv);
	bool any = false;
	for (size_t k = 0; k < nv; k++) {
		bool dropped = b->o->drop_negative && of[k] < 0;
		v[k] = dropped ? 0 : sum[k];
		any |= !dropped && of[k] != 0;
	}
	return any;
}

/* The first walk of stacks [from, to) of walk w: the calls of every
 * stack with a value, which names their locations. */
static int walk_named(builder *b, walk *w, size_t from, size_t to, int64_t *v)
{
	for (size_t s = from; s < to; s++) {
		if (!stack_values(b, w, s, v))
			continue;
		PK_FORWARD(expand(b, w, s, &b->path));
		if (b->path.count == 0)
			continue;
		if (b->path.count > b->longest)
			b->longest = b->path.count;
		b->frames_walked += b->path.count;
		PK_FORWARD(add_calls(b));
		PK_FORWARD(add_inlined_calls(b, w, s));
	}
	return 0;
}

/* The first walk of the profile's stacks on two threads, which take
 * chunks of CHUNK stacks in turn. The calling thread walks its chunks as
 * walk_named does. The other names nothing, as the names' tables are the
 * calling thread's: it keeps each call as the pair of its locations
 * (caller's << 32 | callee's, + 1; narrow: << 16) in a table made before
 * it starts, and each location's stacks, which the calling thread adds
 * as calls once both are done (add_pairs). Where the table would be over
 * 3/4 full, it stops (at stop, in a chunk that ends at stop_end) and the
 * calling thread walks the rest. Either way, the graph is the same. */
typedef struct first_part {
	builder *b; /* the pairs': a copy made before the threads start, as the
	               calling thread writes next to what it reads all along */
	bool named;
	size_t *next; /* the next chunk to take, shared */
	size_t stacks, stop, stop_end;
	void *pairs;
	size_t slots, count;
	uint32_t *loc_stacks; /* by location: its stacks in the pairs' chunks */
	size_t longest, frames_walked;
	int64_t *v;
	int rc;
} first_part;

#define CHUNK 256

static void add_pair(first_part *t, bool narrow, uint32_t caller, uint32_t callee)
{
	uint64_t key = ((uint64_t)caller << (narrow ? 16 : 32) | callee) + 1;
	size_t at =
	    call_find(narrow, t->pairs, t->slots, key, mix(caller, callee) & (t->slots - 1));
	if (call_get(narrow, t->pairs, at) == key)
		return;
	call_set(narrow, t->pairs, at, key);
	t->count++;
}

/* The pairs and counts of stacks [from, to) of the profile; where the
 * table would fill, the stack it stops at. */
static size_t walk_pairs(first_part *t, const builder *b, size_t from, size_t to)
{
	const walk *w = &b->walks[0];
	size_t s = from;
	for (; s < to; s++) {
		if (!stack_values(b, w, s, t->v))
			continue;
		const uint32_t *locs;
		size_t depth = pk_profile_stack(w->p, s, &locs), frames = 0;
		if ((t->count + depth) * 4 > t->slots * 3)
			break;
		/* the slots asked for together, as add_calls does */
		for (size_t k = 1; k < depth; k++)
			PK_PREFETCH((const char *)t->pairs +
			            (mix(locs[k], locs[k - 1]) & (t->slots - 1)) *
			                call_size(b->narrow));
		for (size_t k = 0; k < depth; k++) {
			size_t n = w->lines[locs[k]];
			if (n == 0) {
				const pk_line *lines;
				n = pk_profile_location_lines(w->p, locs[k], &lines);
			}
			frames += n;
			t->loc_stacks[locs[k]]++;
			if (k > 0)
				add_pair(t, b->narrow, locs[k], locs[k - 1]);
		}
		if (frames >= UINT32_MAX) /* expand's error, on the calling thread */
			break;
		if (frames > t->longest)
			t->longest = frames;
		t->frames_walked += frames;
	}
	return s;
}

static void *first_part_main(void *arg)
{
	first_part *h = arg;
	first_part t = *h; /* a copy: the counts stay in this thread's lines */
	size_t chunks = (t.stacks + CHUNK - 1) / CHUNK;
	for (size_t c;
	     t.rc == 0 && (c = __atomic_fetch_add(t.next, 1, __ATOMIC_RELAXED)) < chunks;) {
		size_t from = c * CHUNK, to = from + CHUNK < t.stacks ? from + CHUNK : t.stacks;
		size_t at = to;
		if (t.named)
			t.rc = walk_named(t.b, &t.b->walks[0], from, to, t.v);
		else if ((at = walk_pairs(&t, t.b, from, to)) < to) {
			t.stop = at;
			t.stop_end = to;
			break;
		}
	}
	if (t.named)
		h->rc = t.rc;
	else
		*h = t;
	return NULL;
}

/* The pairs' locations and pairs as nodes and calls: the calls in the
 * pairs' table, in place, as extra keys of b. */
static int add_pairs(builder *b, first_part *h)
{
	walk *w = &b->walks[0];
	const uint32_t *nodes;
	uint32_t count;
	for (uint32_t i = 0; i < pk_profile_location_count(w->p); i++) {
		if (h->loc_stacks[i] == 0)
			continue;
		PK_FORWARD(location_nodes(b, w, i, &nodes, &count));
		for (uint32_t j = 0; j < count; j++)
			PK_VEC_AT(b->nodes, gnode, nodes[j] & ~INLINED_BIT).stacks +=
			    h->loc_stacks[i];
		PK_FORWARD(add_location_calls(b, w, i));
	}
	/* Every location is named above (nodes stay where they are); the
	 * calls go to the front of the table, some more than once. */
	unsigned shift = b->narrow ? 16 : 32;
	size_t n = 0;
	for (size_t i = 0; i < h->slots; i++) {
		uint64_t key = call_get(b->narrow, h->pairs, i);
		if (key-- == 0)
			continue;
		PK_FORWARD(location_nodes(b, w, (uint32_t)(key >> shift), &nodes, &count));
		uint32_t caller = nodes[count - 1] & ~INLINED_BIT;
		PK_FORWARD(
		    location_nodes(b, w, (uint32_t)(key & ((1ull << shift) - 1)), &nodes, &count));
		uint32_t callee = PK_VEC_AT(b->nodes, gnode, nodes[0] & ~INLINED_BIT).func;
		call_set(b->narrow, h->pairs, n++, ((uint64_t)caller << shift | callee) + 1);
	}
	b->extra = h->pairs;
	b->extra_count = n;
	h->pairs = NULL;
	if (h->longest > b->longest)
		b->longest = h->longest;
	b->frames_walked += h->frames_walked;
	return 0;
}

/* Below this many stacks in the profile, the first walk takes one thread. */
#define THREAD_STACKS 1024

/* The first walk: the profile's stacks, on two threads (first_part)
 * where they are many, then the base's. */
static int walk_calls(builder *b)
{
	walk *w = &b->walks[0];
	size_t stacks = pk_profile_stack_count(w->p), locations = pk_profile_location_count(w->p);
	bool two = stacks >= THREAD_STACKS && b->o->first_walk != 1;
	size_t next = 0;
	builder view = *b;
	first_part h[2] = {{0}, {0}};
	int rc = 0;
	for (size_t i = 0; i < 2; i++) {
		h[i] = (first_part){
		    .b = i == 0 ? b : &view, .named = i == 0, .next = &next, .stacks = stacks};
		if ((h[i].v = pk__calloc(b->nv + 1, sizeof *h[i].v)) == NULL)
			rc = PK_ENOMEM;
	}
	if (rc == 0 && two) {
		/* Room for a few pairs per distinct line (past it, the calling
		 * thread walks the rest). */
		size_t slots = 256;
		while (slots < b->frames * 3 && slots < MAX_ITEMS)
			slots *= 2;
		h[1].pairs = pk__calloc(slots, call_size(b->narrow));
		h[1].loc_stacks = pk__calloc(locations + 1, sizeof *h[1].loc_stacks);
		h[1].slots = slots;
		if (h[1].pairs == NULL || h[1].loc_stacks == NULL)
			rc = PK_ENOMEM;
	}
	if (rc == 0 && two && b->o->first_walk == 2) {
		first_part_main(&h[1]);
		first_part_main(&h[0]);
	} else if (rc == 0 && two) {
		pk__run_on_two(first_part_main, &h[0], &h[1]);
	} else if (rc == 0) {
		rc = walk_named(b, w, 0, stacks, h[0].v);
	}
	if (rc == 0 && two && (rc = h[0].rc) == 0)
		rc = add_pairs(b, &h[1]);
	if (rc == 0 && two)
		rc = walk_named(b, w, h[1].stop, h[1].stop_end, h[0].v);
	for (uint32_t wi = 1; rc == 0 && wi < b->walk_count; wi++)
		rc =
		    walk_named(b, &b->walks[wi], 0, pk_profile_stack_count(b->walks[wi].p), h[0].v);
	for (size_t i = 0; i < 2; i++) {
		pk__free(h[i].v);
		pk__free(h[i].pairs);
		pk__free(h[i].loc_stacks);
	}
	return rc;
}

/* The second walk of k's part: the stacks of the first, every location
 * named, so nothing is added (nor allocated) but values. */
static int walk_values(walker *k)
{
	builder *b = k->b;
	for (uint32_t wi = 0; wi < b->walk_count; wi++) {
		walk *w = &b->walks[wi];
		size_t stacks = pk_profile_stack_count(w->p);
		for (size_t s = 0; s < stacks; s++) {
			if (!stack_values(b, w, s, k->v))
				continue;
			PK_FORWARD(expand(b, w, s, &k->path));
			if (k->path.count > 0)
				walk_stack(k, wi == 0 ? w->counts[s] : 0);
		}
	}
	return 0;
}

static void *walker_main(void *arg)
{
	walker *k = arg;
	k->rc = walk_values(k);
	return NULL;
}

/* Below this many nodes on the first walk's paths, one thread walks. */
#define THREAD_FRAMES 4096

/* The second walk, into g: on two threads (nodes below b->split and the
 * rest: each stack is expanded twice, its misses shared) where the graph
 * is not cumulative and large, else on one. */
static int second_walk(builder *b, pk__graph *g)
{
	size_t nn = g->node_count, ne = g->edge_count;
	bool two = g->node_cum == NULL && b->split > 0 && b->split < nn &&
	           b->frames_walked >= THREAD_FRAMES;
	walker k[2] = {{0}, {0}};
	int rc = 0;
	for (size_t i = 0; i < (two ? 2u : 1u); i++) {
		k[i] = (walker){b, g, 0, (uint32_t)nn, {0}, {0}, {0}, NULL, NULL, 0};
		if (two) {
			k[i].lo = i == 0 ? 0 : b->split;
			k[i].hi = i == 0 ? b->split : (uint32_t)nn;
		}
		k[i].edge_seen = pk__calloc(ne / 64 + 1, sizeof *k[i].edge_seen);
		k[i].v = pk__calloc(b->nv + 1, sizeof *k[i].v);
		if (!k[i].edge_seen || !k[i].v ||
		    pk__vec_reserve_exact(&k[i].path, sizeof(uint32_t), b->longest + 1) < 0 ||
		    pk__vec_reserve_exact(&k[i].calls, sizeof(uint32_t), b->longest + 1) < 0 ||
		    pk__vec_reserve_exact(&k[i].pending, sizeof(uint32_t), b->longest + 1) < 0)
			rc = PK_ENOMEM;
	}
	if (rc == 0 && two)
		pk__run_on_two(walker_main, &k[0], &k[1]);
	else if (rc == 0)
		walker_main(&k[0]);
	if (rc == 0)
		rc = k[0].rc != 0 ? k[0].rc : k[1].rc;
	for (size_t i = 0; i < 2; i++) {
		pk__free(k[i].edge_seen);
		pk__free(k[i].v);
		pk__vec_free(&k[i].path);
		pk__vec_free(&k[i].calls);
		pk__vec_free(&k[i].pending);
	}
	return rc;
}

/* ------------------------------------------------------------ sorting */

/* Orders for pk__sort of indices (the indices take less room than
 * copies of the keys). Names are ranked once, so that functions compare
 * by four numbers instead of up to four strings. */
static int by_name(const void *a, const void *b, void *ctx)
{
	const gname *names = ctx;
	return strcmp(names[*(const uint32_t *)a].s, names[*(const uint32_t *)b].s);
}

typedef struct func_order {
	const gfunc *funcs;
	const uint32_t *name_rank;
} func_order;

/* After the name: file, object, host. */
static int func_cmp(const func_order *o, uint32_t a, uint32_t b)
{
	const gfunc *x = &o->funcs[a], *y = &o->funcs[b];
	uint32_t xs[] = {x->file, x->object, x->host}, ys[] = {y->file, y->object, y->host};
	for (size_t k = 0; k < 3; k++) {
		uint32_t rx = o->name_rank[xs[k]], ry = o->name_rank[ys[k]];
		if (rx != ry)
			return rx < ry ? -1 : 1;
	}
	return 0;
}

static int by_file(const void *a, const void *b, void *ctx)
{
	return func_cmp(ctx, *(const uint32_t *)a, *(const uint32_t *)b);
}

static bool line_before(const gnode *x, const gnode *y)
{
	return x->line != y->line ? x->line < y->line : x->address < y->address;
}

static int by_line(const void *a, const void *b, void *ctx)
{
	const gnode *nodes = ctx;
	const gnode *x = &nodes[*(const uint32_t *)a], *y = &nodes[*(const uint32_t *)b];
	return line_before(x, y) ? -1 : line_before(y, x);
}

/* Buckets this small are sorted by insertion: most hold a few items. */
#define SMALL_BUCKET 16

static int by_key(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static void sort_keys(uint64_t *keys, size_t n)
{
	if (n > SMALL_BUCKET) {
		qsort(keys, n, sizeof *keys, by_key);
		return;
	}
	for (size_t i = 1; i < n; i++) {
		uint64_t x = keys[i];
		size_t j = i;
		for (; j > 0 && keys[j - 1] > x; j--)
			keys[j] = keys[j - 1];
		keys[j] = x;
	}
}

/* A function's nodes (indices in order) by line and address. */
static int sort_lines(uint32_t *order, size_t n, const gnode *nodes)
{
	if (n > SMALL_BUCKET)
		return pk__sort(order, n, by_line, (void *)nodes);
	for (size_t i = 1; i < n; i++) {
		uint32_t x = order[i];
		size_t j = i;
		for (; j > 0 && line_before(&nodes[x], &nodes[order[j - 1]]); j--)
			order[j] = order[j - 1];
		order[j] = x;
	}
	return 0;
}

/* Functions of one name (indices in order) by file, object and host. */
static int sort_files(uint32_t *order, size_t n, const func_order *o)
{
	if (n > SMALL_BUCKET)
		return pk__sort(order, n, by_file, (void *)o);
	for (size_t i = 1; i < n; i++) {
		uint32_t x = order[i];
		size_t j = i;
		for (; j > 0 && func_cmp(o, x, order[j - 1]) < 0; j--)
			order[j] = order[j - 1];
		order[j] = x;
	}
	return 0;
}

/* The names' ranks in strcmp order. */
static int rank_names(builder *b, uint32_t **out)
{
	size_t nm = b->names.count;
	uint32_t *order = pk__malloc((nm + 1) * sizeof *order);
	uint32_t *rank = pk__malloc((nm + 1) * sizeof *rank);
	int rc = order && rank ? 0 : PK_ENOMEM;
	for (size_t i = 0; rc == 0 && i < nm; i++)
		order[i] = (uint32_t)i;
	if (rc == 0)
		rc = pk__sort(order, nm, by_name, b->names.items);
	for (size_t r = 0; rc == 0 && r < nm; r++)
		rank[order[r]] = (uint32_t)r;
	pk__free(order);
	if (rc < 0) {
		pk__free(rank);
		return rc;
	}
	*out = rank;
	return 0;
}

/* The graph's functions (by name, file and object), each function's
 * nodes (by line and address) and each node's edges (by callee), from
 * what the first walk found; the walks' nodes become the graph's. What
 * only the first walk needed is freed as soon as it is read. */
static int sort_graph(builder *b, pk__graph *g)
{
	size_t nf = b->funcs.count, nn = b->nodes.count, ne = b->call_count + b->extra_count;
	/* Every location walked is named: what named them goes first. */
	for (size_t i = 0; i < b->walk_count; i++) {
		walk *w = &b->walks[i];
		pk__free(w->fn_name);
		pk__free(w->fn_file);
		pk__free(w->object_id);
		pk__free(w->called);
		pk__free(w->lines);
		w->fn_name = w->fn_file = w->object_id = NULL;
		w->called = NULL;
		w->lines = NULL;
	}
	pk__vec_free(&b->text);
	pk__free(b->func_tab.slots);
	pk__free(b->node_tab.slots);
	b->func_tab = b->node_tab = (pk__item_table){0};
	/* The calls' keys, in an array of their own: the table's block is
	 * left whole for what comes next. */
	uint64_t *keys = pk__malloc(pk__mul(ne + 1, sizeof *keys));
	if (keys == NULL)
		return PK_ENOMEM;
	unsigned shift = b->narrow ? 16 : 32;
	size_t got = 0;
	for (size_t i = 0; i < b->call_slots + b->extra_count; i++) {
		uint64_t key = i < b->call_slots ? call_get(b->narrow, b->calls, i)
		                                 : call_get(b->narrow, b->extra, i - b->call_slots);
		if (key-- != 0)
			keys[got++] = (key >> shift) << 32 | (key & ((1ull << shift) - 1));
	}
	pk__free(b->calls);
	pk__free(b->extra);
	b->extra = NULL;
	b->calls = keys;
	b->call_slots = ne + 1;

	uint32_t *name_rank = NULL;
	uint32_t *func_rank =
	    pk__calloc((nf > b->names.count ? nf : b->names.count) + 1, sizeof *func_rank);
	uint32_t *node_rank = pk__calloc(nn + 1, sizeof *node_rank);
	uint32_t *order = pk__calloc((nf > nn ? nf : nn) + 1, sizeof *order);
	g->functions = pk__calloc(nf + 1, sizeof *g->functions);
	int rc = func_rank && node_rank && order && g->functions ? 0 : PK_ENOMEM;
	if (rc < 0)
		goto done;
	/* Functions by name into buckets (names are ranked), then each
	 * bucket by the other names; nodes the same way below. */
	rc = rank_names(b, &name_rank);
	if (rc < 0)
		goto done;
	const gfunc *funcs = b->funcs.items;
	size_t nm = b->names.count;
	uint32_t *next = func_rank; /* where each name's next function goes */
	for (size_t i = 0; i < nf; i++)
		next[name_rank[funcs[i].name]]++;
	for (size_t r = 0, at = 0; r < nm; r++) {
		uint32_t n = next[r];
		next[r] = (uint32_t)at;
		at += n;
	}
	for (size_t i = 0; i < nf; i++)
		order[next[name_rank[funcs[i].name]]++] = (uint32_t)i;
	func_order fo = {funcs, name_rank};
	for (size_t r = 0, at = 0; rc == 0 && r < nm; r++) {
		rc = sort_files(&order[at], next[r] - at, &fo);
		at = next[r];
	}
	if (rc < 0)
		goto done;
	for (size_t r = 0; r < nf; r++) {
		const gfunc *f = &funcs[order[r]];
		func_rank[order[r]] = (uint32_t)r;
		const gname *names = b->names.items;
		g->functions[r] = (pk__graph_function){names[f->name].s,
		                                       names[f->file].s,
		                                       names[f->object].s,
		                                       names[f->host].s,
		                                       f->start_line,
		                                       0,
		                                       0};
	}
	pk__vec_free(&b->funcs);
	pk__vec_free(&b->names);
	pk__free(b->name_tab.slots);
	b->name_tab = (pk__item_table){0};

	g->nodes = pk__calloc(nn + 1, sizeof *g->nodes);
	if (b->o->granularity == PK_GRANULARITY_ADDRESSES)
		g->addresses = pk__calloc(nn + 1, sizeof *g->addresses);
	if (g->nodes == NULL || (b->o->granularity == PK_GRANULARITY_ADDRESSES && !g->addresses)) {
		rc = PK_ENOMEM;
		goto done;
	}
	const gnode *nodes = b->nodes.items;
	for (size_t i = 0; i < nn; i++)
		g->functions[func_rank[nodes[i].func]].node_count++;
	for (size_t f = 0, at = 0; f < nf; f++) {
		g->functions[f].first_node = (uint32_t)at;
		at += g->functions[f].node_count;
		g->functions[f].node_count = 0;
	}
	for (size_t i = 0; i < nn; i++) {
		pk__graph_function *f = &g->functions[func_rank[nodes[i].func]];
		order[f->first_node + f->node_count++] = (uint32_t)i;
	}
	for (size_t f = 0; rc == 0 && f < nf; f++)
		rc = sort_lines(&order[g->functions[f].first_node], g->functions[f].node_count,
		                nodes);
	if (rc < 0)
		goto done;
	/* The second walk's threads get about half the nodes' stacks each. */
	uint64_t work = 0, below = 0;
	for (size_t i = 0; i < nn; i++)
		work += nodes[i].stacks;
	for (size_t r = 0; r < nn; r++) {
		const gnode *n = &nodes[order[r]];
		if (below * 2 < work) {
			below += n->stacks;
			b->split = (uint32_t)r + 1;
		}
		node_rank[order[r]] = (uint32_t)r;
		g->nodes[r] = (pk__graph_node){func_rank[n->func], 0, n->line};
		if (g->addresses)
			g->addresses[r] = n->address;
	}
	pk__vec_free(&b->nodes);
	for (size_t i = 0; i < b->walk_count; i++) {
		walk *w = &b->walks[i];
		uint32_t *loc_nodes = w->loc_nodes.items;
		for (size_t k = 0; k < w->loc_nodes.count; k++)
			loc_nodes[k] =
			    node_rank[loc_nodes[k] & ~INLINED_BIT] | (loc_nodes[k] & INLINED_BIT);
		for (size_t k = 0; k < pk_profile_location_count(w->p); k++)
			if (w->locs[k].count == 1)
				w->locs[k].first = node_rank[w->locs[k].first];
	}

	/* The keys in the graph's order, in place (qsort would want a copy):
	 * by caller into buckets, each a node's edges, then each bucket by
	 * callee. Then each key's slot takes its edge, and the graph the
	 * slots. */
	for (size_t i = 0; i < ne; i++) {
		uint32_t caller = node_rank[keys[i] >> 32];
		keys[i] = (uint64_t)caller << 32 | func_rank[keys[i] & UINT32_MAX];
		g->nodes[caller + 1].first_edge++;
	}
	next = order; /* where each bucket's next key goes */
	for (size_t r = 0; r < nn; r++) {
		next[r] = g->nodes[r].first_edge;
		g->nodes[r + 1].first_edge += next[r];
	}
	for (uint32_t r = 0; r < nn; r++) {
		const pk__graph_node *n = &g->nodes[r];
		while (next[r] < n[1].first_edge) {
			uint64_t key = keys[next[r]];
			uint32_t to = (uint32_t)(key >> 32);
			if (to != r) {
				keys[next[r]] = keys[next[to]];
				keys[next[to]++] = key;
			} else {
				next[r]++;
			}
		}
		sort_keys(&keys[n->first_edge], n[1].first_edge - n->first_edge);
	}
	/* Each key once (the extra ones may repeat), bucket by bucket. */
	for (uint32_t r = 0, end = 0, at = 0; r < nn; r++) {
		uint32_t first = end;
		end = g->nodes[r + 1].first_edge;
		g->nodes[r].first_edge = at;
		for (uint32_t i = first; i < end; i++)
			if (i == first || keys[i] != keys[i - 1])
				keys[at++] = keys[i];
		if (r + 1 == nn)
			g->nodes[nn].first_edge = at;
	}
	size_t all = ne;
	ne = nn > 0 ? g->nodes[nn].first_edge : 0;
	/* the repeated keys' room back (the graph keeps this block) */
	if (ne < all) {
		uint64_t *fewer =
		    pk__realloc(keys, (all + 1) * sizeof *keys, (ne + 1) * sizeof *keys);
		if (fewer == NULL) {
			rc = PK_ENOMEM;
			goto done;
		}
		keys = b->calls = fewer;
	}
	_Static_assert(sizeof(pk__graph_edge) == sizeof *keys, "an edge takes its key's slot");
	for (size_t r = 0; r < ne; r++) {
		pk__graph_edge e = {(uint32_t)keys[r], 0, 0};
		memcpy(&keys[r], &e, sizeof e);
	}
	g->edges = (pk__graph_edge *)keys;
	b->calls = NULL;
	g->function_count = nf;
	g->node_count = nn;
	g->edge_count = ne;
done:
	pk__free(name_rank);
	pk__free(func_rank);
	pk__free(node_rank);
	pk__free(order);
	return rc;
}

/* Zeroed values for the second walk, and what counts positions and
 * functions once. */
static int add_values(builder *b, pk__graph *g)
{
	size_t nv = b->nv, nf = g->function_count, nn = g->node_count, ne = g->edge_count;
	/* edge_seen is each walker's (second_walk) */
	g->node_flat = pk__calloc(pk__mul(nn + 1, nv), sizeof(int64_t));
	g->edge_weight = pk__calloc(pk__mul(ne + 1, nv), sizeof(int64_t));
	if (!g->node_flat || !g->edge_weight)
		return PK_ENOMEM;
	if (!b->o->cumulative)
		return 0;
	g->function_flat = pk__calloc(pk__mul(nf + 1, nv), sizeof(int64_t));
	g->function_cum = pk__calloc(pk__mul(nf + 1, nv), sizeof(int64_t));
	g->node_cum = pk__calloc(pk__mul(nn + 1, nv), sizeof(int64_t));
	b->func_seen = pk__calloc(nf / 64 + 1, sizeof *b->func_seen);
	b->node_seen = pk__calloc(nn / 64 + 1, sizeof *b->node_seen);
	return g->function_flat && g->function_cum && g->node_cum && b->func_seen && b->node_seen
	           ? 0
	           : PK_ENOMEM;
}

/* ------------------------------------------------------------ building */

/* The type in base that matches p's type `type` by name and unit. */
static int base_type(const pk_profile *p, size_t type, const pk_profile *base, size_t *out,
                     pk_error *err)
{
	pk_value_type vt = pk_profile_sample_type(p, type);
	const char *name = pk_profile_string(p, vt.type), *unit = pk_profile_string(p, vt.unit);
	for (size_t i = 0; i < pk_profile_sample_type_count(base); i++) {
		pk_value_type t = pk_profile_sample_type(base, i);
		if (strcmp(pk_profile_string(base, t.type), name) == 0 &&
		    strcmp(pk_profile_string(base, t.unit), unit) == 0) {
			*out = i;
			return 0;
		}
	}
	return pk__error_set(err, PK_ENOTFOUND, "the base profile has no sample type %s/%s", name,
	                     unit);
}

static void builder_free(builder *b)
{
	pk__vec_free(&b->funcs);
	pk__vec_free(&b->nodes);
	pk__vec_free(&b->names);
	pk__free(b->name_tab.slots);
	pk__free(b->func_tab.slots);
	pk__free(b->node_tab.slots);
	pk__free(b->calls);
	pk__free(b->extra);
	for (size_t i = 0; i < b->walk_count; i++) {
		walk *w = &b->walks[i];
		void *arrays[] = {w->locs,   w->fn_name, w->fn_file, w->object_id, w->sums,
		                  w->counts, w->path,    w->called,  w->lines};
		for (size_t k = 0; k < sizeof arrays / sizeof arrays[0]; k++)
			pk__free(arrays[k]);
		pk__vec_free(&w->loc_nodes);
	}
	pk__vec *vecs[] = {&b->path_reps, &b->path_values, &b->text, &b->path};
	for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++)
		pk__vec_free(vecs[i]);
	pk__free(b->path_tab.slots);
	pk__free(b->func_seen);
	pk__free(b->node_seen);
}

/* Whether a stack of the profile or base sums to a negative value. */
static bool any_negative(const builder *b)
{
	for (size_t i = 0; i < b->walk_count; i++) {
		const walk *w = &b->walks[i];
		size_t n = pk_profile_stack_count(w->p) * b->nv;
		for (size_t k = 0; k < n; k++)
			if (w->sums[k] < 0)
				return true;
	}
	return false;
}

int pk__graph_build(const pk_profile *p, const pk__graph_options *o, pk__graph **out, pk_error *err)
{
	*out = NULL;
	size_t count = pk_profile_sample_type_count(p);
	bool every = o->all_types && (o->sample_type == NULL || *o->sample_type == '\0');
	size_t one;
	if (!every || count == 0)
		PK_FORWARD(pk_profile_find_sample_type(p, o->sample_type, &one, err));
	/* sample counts (of a stack, of an edge) are 32 bits wide */
	if (pk_profile_sample_count(p) > UINT32_MAX ||
	    (o->base && pk_profile_sample_count(o->base) > UINT32_MAX))
		return pk__error_set(err, PK_EUNSUPPORTED, "too many samples for a call graph");
	size_t nv = every ? count : 1;
	pk__graph *g = pk__calloc(1, sizeof *g);
	struct pk__graph_data *d = pk__calloc(1, sizeof *d);
	size_t *types = pk__calloc(nv, sizeof *types);
	size_t *base_types = pk__calloc(nv, sizeof *base_types);
	int64_t *total = pk__calloc(nv, sizeof *total);
	int64_t *left_out = pk__calloc(nv, sizeof *left_out);
	if (!g || !d || !types || !base_types || !total || !left_out) {
		pk__free(g);
		pk__free(d);
		pk__free(types);
		pk__free(base_types);
		pk__free(total);
		pk__free(left_out);
		return pk__error_set(err, PK_ENOMEM, "out of memory");
	}
	g->data = d;
	g->types = types;
	g->total = total;
	g->left_out = left_out;
	g->value_count = nv;
	g->has_base = o->base != NULL;
	for (size_t k = 0; k < nv; k++)
		types[k] = every ? k : one;
	int rc = 0;
	for (size_t k = 0; o->base && rc == 0 && k < nv; k++)
		rc = base_type(p, types[k], o->base, &base_types[k], err);
	builder b = {0};
	b.o = o;
	b.nv = nv;
	b.total = total;
	b.left_out = left_out;
	if (rc == 0)
		rc = pk__strtab_new(&d->strings);
	b.strings = d->strings;
	if (rc == 0)
		rc = sum_profile(&b, p, types, false);
	if (rc == 0 && o->base)
		rc = sum_profile(&b, o->base, base_types, true);
	/* Room for the nodes up front, as arrays grown by doubling leave
	 * their old copies behind as holes. */
	if (rc == 0)
		rc = pk__vec_reserve_exact(&b.nodes, sizeof(gnode), b.frames);
	if (rc == 0)
		rc = pk__vec_reserve_exact(&b.funcs, sizeof(gfunc), b.frames);
	b.narrow = b.frames <= UINT16_MAX;
	b.paths = rc == 0 && o->drop_negative && (o->base || any_negative(&b));
	if (b.paths)
		rc = add_paths(&b);
	if (rc == 0)
		rc = walk_calls(&b);
	if (rc == 0)
		rc = sort_graph(&b, g);
	if (rc == 0)
		rc = add_values(&b, g);
	if (rc == 0)
		rc = second_walk(&b, g);
	builder_free(&b);
	pk__free(base_types);
	if (rc < 0) {
		pk__graph_free(g);
		return rc == PK_ENOMEM ? pk__error_set(err, rc, "out of memory") : rc;
	}
	*out = g;
	return 0;
}

void pk__graph_free(pk__graph *g)
{
	if (g == NULL)
		return;
	pk__strtab_free(g->data->strings);
	pk__free(g->data);
	pk__free(g->types);
	pk__free(g->functions);
	pk__free(g->nodes);
	pk__free(g->addresses);
	pk__free(g->edges);
	pk__free(g->node_flat);
	pk__free(g->node_cum);
	pk__free(g->function_flat);
	pk__free(g->function_cum);
	pk__free(g->edge_weight);
	pk__free(g->total);
	pk__free(g->left_out);
	pk__free(g);
}
