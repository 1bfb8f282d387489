/* calltree.c - the prefix tree of stacks that every one-value exporter
 * reads. Frames are named as pprof names graph nodes, so what a flame graph
 * shows is what `go tool pprof -traces` and -text show. Each distinct stack
 * and each location is resolved once, so a sample costs one addition. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pk__tree_data {
	pk__strtab *names;   /* frame names: name i + 1 is frame i's */
	pk__strtab *strings; /* functions and files of frames */
	pk__vec frames;      /* pk__tree_frame */
	pk__vec nodes;       /* pk__tree_node */
	uint32_t *slots;     /* (parent, frame) -> node + 1; 0 = empty */
	size_t slot_count;
};

/* What one profile's walk keeps: each location's frames, root first, and
 * each stack's deepest node, both found on first use. */
typedef struct walk {
	pk__tree *t;
	const pk_profile *p;
	const pk__tree_options *o;
	uint32_t *loc_start; /* index into loc_frames + 1; 0 = not yet */
	uint32_t *loc_count;
	pk__vec loc_frames;   /* uint32_t: frame, high bit = inlined */
	uint32_t *stack_node; /* node + 1; 0 = not yet */
	pk__vec text;         /* char: a frame name being put together */
} walk;

#define INLINED_BIT 0x80000000u

/* ----------------------------------------------------------------- names */

static int vec_add(pk__vec *text, const char *s, size_t len)
{
	return pk__vec_push(text, 1, s, len, NULL);
}

/* Go's filepath.Clean, which pprof applies to file names: single slashes,
 * no "." elements, and ".." taking away the element before it. */
int pk__clean_path(pk__vec *text, const char *path)
{
	size_t base = text->count;
	bool rooted = path[0] == '/';
	if (rooted)
		PK_FORWARD(vec_add(text, "/", 1));
	size_t floor = text->count; /* where the elements start */
	size_t dotdot = floor;      /* the end of leading ".."s, which stay */
	for (const char *s = path; *s;) {
		while (*s == '/')
			s++;
		size_t n = strcspn(s, "/");
		const char *e = s;
		s += n;
		if (n == 0 || (n == 1 && e[0] == '.'))
			continue;
		if (n == 2 && e[0] == '.' && e[1] == '.') {
			const char *chars = text->items;
			size_t at = text->count;
			if (at > dotdot) {
				while (at > dotdot && chars[at - 1] != '/')
					at--;
				text->count = at > dotdot ? at - 1 : dotdot;
				continue;
			}
			if (rooted)
				continue;
		}
		if (text->count > floor)
			PK_FORWARD(vec_add(text, "/", 1));
		PK_FORWARD(vec_add(text, e, n));
		if (n == 2 && e[0] == '.' && e[1] == '.')
			dotdot = text->count;
	}
	if (text->count == base)
		PK_FORWARD(vec_add(text, ".", 1));
	return 0;
}

static const char *str_of(const pk_profile *p, pk_str s)
{
	return pk_profile_string(p, s);
}

int pk__frame_name(const pk_profile *p, const pk_location *loc, const pk_line *line,
                   int granularity, pk__vec *text, size_t *file_start, size_t *file_end)
{
	int g = granularity;
	bool want_name = g != PK_GRANULARITY_FILES;
	bool want_file = g != PK_GRANULARITY_FUNCTIONS;
	bool want_line = g == PK_GRANULARITY_LINES || g == PK_GRANULARITY_ADDRESSES;
	const pk_function *fn = line ? pk_profile_function(p, line->function) : NULL;
	const char *name = fn && want_name ? str_of(p, fn->name) : "";
	/* Names may hold NUL bytes (pprof's strings can): take their length. */
	size_t name_len = fn && want_name ? pk_profile_string_length(p, fn->name) : 0;
	const char *file = fn && want_file ? str_of(p, fn->filename) : "";
	int64_t lineno = line && want_line ? line->line : 0;
	uint64_t address = g == PK_GRANULARITY_ADDRESSES ? loc->address : 0;

	size_t start = text->count;
	char num[32];
	if (address != 0) {
		snprintf(num, sizeof num, "%016llx", (unsigned long long)address);
		PK_FORWARD(vec_add(text, num, strlen(num)));
	}
	if (name_len) {
		if (text->count > start)
			PK_FORWARD(vec_add(text, " ", 1));
		PK_FORWARD(vec_add(text, name, name_len));
	}
	size_t fs = text->count, fe = text->count; /* the cleaned file within text */
	if (lineno != 0 || *file) {
		if (text->count > start)
			PK_FORWARD(vec_add(text, " ", 1));
		fs = text->count;
		if (*file)
			PK_FORWARD(pk__clean_path(text, file));
		fe = text->count;
		if (lineno != 0) {
			snprintf(num, sizeof num, ":%lld", (long long)lineno);
			PK_FORWARD(vec_add(text, num, strlen(num)));
		}
	} else if (name_len == 0) {
		const pk_mapping *m =
		    loc->mapping != PK_NONE ? pk_profile_mapping(p, loc->mapping) : NULL;
		const char *obj = m ? str_of(p, m->filename) : "";
		if (text->count > start)
			PK_FORWARD(vec_add(text, " ", 1));
		if (*obj) {
			const char *slash = strrchr(obj, '/');
			const char *base = slash && slash[1] ? slash + 1 : obj;
			PK_FORWARD(vec_add(text, "[", 1));
			PK_FORWARD(vec_add(text, base, strlen(base)));
			PK_FORWARD(vec_add(text, "]", 1));
		} else {
			PK_FORWARD(vec_add(text, "<unknown>", 9));
		}
	}
	if (file_start)
		*file_start = fs;
	if (file_end)
		*file_end = fe;
	return 0;
}

/* The frame of one line of a location (line NULL: a location without
 * lines), named as pprof's NodeInfo.PrintableName at the granularity. */
static int frame_of(walk *w, const pk_location *loc, const pk_line *line, uint32_t *out)
{
	const pk_profile *p = w->p;
	int g = w->o->granularity;
	const pk_function *fn = line ? pk_profile_function(p, line->function) : NULL;
	int64_t lineno =
	    line && (g == PK_GRANULARITY_LINES || g == PK_GRANULARITY_ADDRESSES) ? line->line : 0;
	uint64_t address = g == PK_GRANULARITY_ADDRESSES ? loc->address : 0;
	w->text.count = 0;
	size_t file_start, file_end;
	PK_FORWARD(pk__frame_name(p, loc, line, g, &w->text, &file_start, &file_end));

	/* Names are never empty, and the table's string 0 is "": frame i is
	 * name i + 1. */
	struct pk__tree_data *d = w->t->data;
	uint32_t id;
	PK_FORWARD(pk__strtab_intern(d->names, w->text.items, w->text.count, &id));
	if (id - 1 < d->frames.count) {
		*out = id - 1;
		return 0;
	}
	if (id >= INLINED_BIT - 1)
		return PK_EFORMAT;
	pk__tree_frame f = {0};
	f.name = pk__strtab_get(d->names, id, &f.name_len);
	uint32_t s;
	const char *fname = fn ? str_of(p, fn->name) : "";
	PK_FORWARD(pk__strtab_intern(d->strings, fname, strlen(fname), &s));
	f.function = pk__strtab_get(d->strings, s, NULL);
	const char *shown = (const char *)w->text.items + file_start;
	PK_FORWARD(pk__strtab_intern(d->strings, shown, file_end - file_start, &s));
	f.file = pk__strtab_get(d->strings, s, NULL);
	f.line = lineno;
	f.address = address;
	PK_FORWARD(pk__vec_push(&d->frames, sizeof f, &f, 1, NULL));
	*out = id - 1;
	return 0;
}

/* The frames of location i, root first: its last line (the caller) first,
 * then the functions inlined into it. */
static int location_frames(walk *w, uint32_t i, const uint32_t **frames, uint32_t *count)
{
	if (w->loc_start[i] == 0) {
		const pk_location *loc = pk_profile_location(w->p, i);
		const pk_line *lines;
		size_t n = pk_profile_location_lines(w->p, i, &lines);
		size_t start = w->loc_frames.count;
		if (start >= UINT32_MAX - 1)
			return PK_ENOMEM;
		uint32_t f;
		if (n == 0) {
			PK_FORWARD(frame_of(w, loc, NULL, &f));
			PK_FORWARD(pk__vec_push(&w->loc_frames, sizeof f, &f, 1, NULL));
		}
		for (size_t k = n; k-- > 0;) {
			PK_FORWARD(frame_of(w, loc, &lines[k], &f));
			if (k != n - 1)
				f |= INLINED_BIT;
			PK_FORWARD(pk__vec_push(&w->loc_frames, sizeof f, &f, 1, NULL));
		}
		w->loc_start[i] = (uint32_t)start + 1;
		w->loc_count[i] = (uint32_t)(w->loc_frames.count - start);
	}
	*frames = &PK_VEC_AT(w->loc_frames, uint32_t, w->loc_start[i] - 1);
	*count = w->loc_count[i];
	return 0;
}

/* ----------------------------------------------------------------- nodes */

static size_t slot_of(uint32_t parent, uint32_t frame, size_t mask)
{
	uint64_t h = ((uint64_t)parent << 32 | frame) * 0x9e3779b97f4a7c15u;
	return (size_t)(h >> 29) & mask;
}

static int grow_slots(struct pk__tree_data *d)
{
	size_t count = d->slot_count ? d->slot_count * 2 : 1024;
	uint32_t *slots = pk__calloc(count, sizeof *slots);
	if (slots == NULL)
		return PK_ENOMEM;
	const pk__tree_node *nodes = d->nodes.items;
	for (size_t n = 1; n < d->nodes.count; n++) {
		size_t at = slot_of(nodes[n].parent, nodes[n].frame, count - 1);
		while (slots[at] != 0)
			at = (at + 1) & (count - 1);
		slots[at] = (uint32_t)n + 1;
	}
	pk__free(d->slots);
	d->slots = slots;
	d->slot_count = count;
	return 0;
}

static int child_of(walk *w, uint32_t parent, uint32_t frame, uint32_t *out)
{
	struct pk__tree_data *d = w->t->data;
	bool inlined = frame & INLINED_BIT;
	frame &= ~INLINED_BIT;
	if ((d->nodes.count + 1) * 2 > d->slot_count)
		PK_FORWARD(grow_slots(d));
	size_t mask = d->slot_count - 1;
	size_t at = slot_of(parent, frame, mask);
	pk__tree_node *nodes = d->nodes.items;
	for (; d->slots[at] != 0; at = (at + 1) & mask) {
		pk__tree_node *n = &nodes[d->slots[at] - 1];
		if (n->parent == parent && n->frame == frame) {
			n->inlined |= inlined;
			*out = d->slots[at] - 1;
			return 0;
		}
	}
	if (d->nodes.count >= PK_NONE - 1)
		return PK_ENOMEM;
	pk__tree_node n = {parent,  frame, PK_NONE, PK_NONE, nodes[parent].depth + 1,
	                   inlined, 0,     0,       0,       0};
	size_t index;
	PK_FORWARD(pk__vec_push(&d->nodes, sizeof n, &n, 1, &index));
	d->slots[at] = (uint32_t)index + 1;
	*out = (uint32_t)index;
	return 0;
}

/* The node a stack ends at, root first (or leaf first when reversed). */
static int stack_node(walk *w, uint32_t s, uint32_t *out)
{
	if (w->stack_node[s] != 0) {
		*out = w->stack_node[s] - 1;
		return 0;
	}
	const uint32_t *locs;
	size_t depth = pk_profile_stack(w->p, s, &locs);
	uint32_t node = 0;
	for (size_t k = 0; k < depth; k++) {
		uint32_t loc = w->o->reverse ? locs[k] : locs[depth - 1 - k];
		const uint32_t *frames;
		uint32_t count;
		PK_FORWARD(location_frames(w, loc, &frames, &count));
		for (uint32_t j = 0; j < count; j++) {
			uint32_t f = w->o->reverse ? frames[count - 1 - j] : frames[j];
			PK_FORWARD(child_of(w, node, f, &node));
		}
	}
	w->stack_node[s] = node + 1;
	*out = node;
	return 0;
}

static int add_profile(pk__tree *t, const pk_profile *p, size_t type, bool base,
                       const pk__tree_options *o)
{
	walk w = {t, p, o, NULL, NULL, {0}, NULL, {0}};
	size_t locations = pk_profile_location_count(p), stacks = pk_profile_stack_count(p);
	w.loc_start = pk__calloc(locations + 1, sizeof *w.loc_start);
	w.loc_count = pk__calloc(locations + 1, sizeof *w.loc_count);
	w.stack_node = pk__calloc(stacks + 1, sizeof *w.stack_node);
	int rc = w.loc_start && w.loc_count && w.stack_node ? 0 : PK_ENOMEM;
	size_t samples = pk_profile_sample_count(p);
	for (size_t i = 0; rc == 0 && i < samples; i++) {
		pk_sample s;
		pk_profile_sample(p, i, &s);
		int64_t v = s.values[type];
		uint32_t node;
		if (v == 0 || (rc = stack_node(&w, s.stack, &node)) < 0)
			continue;
		pk__tree_node *n = &((pk__tree_node *)t->data->nodes.items)[node];
		if (base)
			n->base_self = pk__add(n->base_self, v);
		else
			n->self = pk__add(n->self, v);
	}
	pk__free(w.loc_start);
	pk__free(w.loc_count);
	pk__free(w.stack_node);
	pk__vec_free(&w.loc_frames);
	pk__vec_free(&w.text);
	return rc;
}

/* ------------------------------------------------------------ finishing */

typedef struct sort_key {
	uint64_t key;
	uint32_t item;
} sort_key;

static int by_key(const void *a, const void *b)
{
	uint64_t x = ((const sort_key *)a)->key, y = ((const sort_key *)b)->key;
	return x < y ? -1 : x > y;
}

typedef struct named {
	const char *name;
	size_t len;
	uint32_t item;
} named;

static int by_name(const void *a, const void *b)
{
	const named *x = a, *y = b;
	int c = memcmp(x->name, y->name, x->len < y->len ? x->len : y->len);
	return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Totals from the leaves up, and each node's children linked in name order,
 * so that every walk of the tree is the same for the same profile. */
static int finish(pk__tree *t)
{
	struct pk__tree_data *d = t->data;
	pk__tree_node *nodes = d->nodes.items;
	size_t nn = d->nodes.count, nf = d->frames.count;
	for (size_t i = 0; i < nn; i++) {
		nodes[i].total = nodes[i].self;
		nodes[i].base_total = nodes[i].base_self;
	}
	for (size_t i = nn; i-- > 1;) {
		pk__tree_node *parent = &nodes[nodes[i].parent];
		parent->total = pk__add(parent->total, nodes[i].total);
		parent->base_total = pk__add(parent->base_total, nodes[i].base_total);
	}

	named *names = pk__calloc(nf + 1, sizeof *names);
	uint32_t *rank = pk__calloc(nf + 1, sizeof *rank);
	sort_key *keys = pk__calloc(nn, sizeof *keys);
	if (names == NULL || rank == NULL || keys == NULL) {
		pk__free(names);
		pk__free(rank);
		pk__free(keys);
		return PK_ENOMEM;
	}
	const pk__tree_frame *frames = d->frames.items;
	for (size_t f = 0; f < nf; f++)
		names[f] = (named){frames[f].name, frames[f].name_len, (uint32_t)f};
	qsort(names, nf, sizeof *names, by_name);
	for (size_t r = 0; r < nf; r++)
		rank[names[r].item] = (uint32_t)r;
	for (size_t i = 1; i < nn; i++)
		keys[i - 1] =
		    (sort_key){(uint64_t)nodes[i].parent << 32 | rank[nodes[i].frame], (uint32_t)i};
	qsort(keys, nn ? nn - 1 : 0, sizeof *keys, by_key);
	/* Linked back to front, so each list ends up in sorted order. */
	for (size_t k = nn ? nn - 1 : 0; k-- > 0;) {
		pk__tree_node *n = &nodes[keys[k].item];
		n->next_sibling = nodes[n->parent].first_child;
		nodes[n->parent].first_child = keys[k].item;
	}
	pk__free(names);
	pk__free(rank);
	pk__free(keys);
	return 0;
}

/* The type in base that matches p's type `type` by name and unit. */
static int base_type(const pk_profile *p, size_t type, const pk_profile *base, size_t *out,
                     pk_error *err)
{
	pk_value_type vt = pk_profile_sample_type(p, type);
	const char *name = str_of(p, vt.type), *unit = str_of(p, vt.unit);
	for (size_t i = 0; i < pk_profile_sample_type_count(base); i++) {
		pk_value_type b = pk_profile_sample_type(base, i);
		if (strcmp(str_of(base, b.type), name) == 0 &&
		    strcmp(str_of(base, b.unit), unit) == 0) {
			*out = i;
			return 0;
		}
	}
	return pk__error_set(err, PK_ENOTFOUND, "the base profile has no sample type %s/%s", name,
	                     unit);
}

/* A profile whose two sample types are "base" and "new" of one unit, as
 * two-count folded lines give, is a diff by itself: *base_out gets the
 * index of "base" and *type_out that of "new". */
static bool is_self_diff(const pk_profile *p, size_t *type_out, size_t *base_out)
{
	if (pk_profile_sample_type_count(p) != 2)
		return false;
	pk_value_type a = pk_profile_sample_type(p, 0), b = pk_profile_sample_type(p, 1);
	if (a.unit != b.unit)
		return false;
	const char *na = str_of(p, a.type), *nb = str_of(p, b.type);
	if (strcmp(na, "base") == 0 && strcmp(nb, "new") == 0) {
		*base_out = 0;
		*type_out = 1;
		return true;
	}
	if (strcmp(na, "new") == 0 && strcmp(nb, "base") == 0) {
		*base_out = 1;
		*type_out = 0;
		return true;
	}
	return false;
}

int pk__tree_build(const pk_profile *p, const pk__tree_options *o, pk__tree **out, pk_error *err)
{
	size_t type, btype = 0;
	const pk_profile *base = o->base;
	bool no_type = o->sample_type == NULL || *o->sample_type == '\0';
	if (base == NULL && no_type && is_self_diff(p, &type, &btype))
		base = p;
	else
		PK_FORWARD(pk_profile_find_sample_type(p, o->sample_type, &type, err));
	if (o->base)
		PK_FORWARD(base_type(p, type, o->base, &btype, err));
	pk__tree *t = pk__calloc(1, sizeof *t);
	struct pk__tree_data *d = pk__calloc(1, sizeof *d);
	if (t == NULL || d == NULL) {
		pk__free(t);
		pk__free(d);
		return pk__error_set(err, PK_ENOMEM, "out of memory");
	}
	t->data = d;
	t->has_base = base != NULL;
	t->sample_type = type;
	t->type = str_of(p, pk_profile_sample_type(p, type).type);
	t->unit = str_of(p, pk_profile_sample_type(p, type).unit);
	pk__tree_node root = {PK_NONE, PK_NONE, PK_NONE, PK_NONE, 0, false, 0, 0, 0, 0};
	int rc = pk__strtab_new(&d->names);
	if (rc == 0)
		rc = pk__strtab_new(&d->strings);
	if (rc == 0)
		rc = pk__vec_push(&d->nodes, sizeof root, &root, 1, NULL);
	if (rc == 0)
		rc = add_profile(t, p, type, false, o);
	if (rc == 0 && base)
		rc = add_profile(t, base, btype, true, o);
	if (rc == 0)
		rc = finish(t);
	if (rc < 0) {
		pk__tree_free(t);
		return rc == PK_ENOMEM ? pk__error_set(err, rc, "out of memory")
		                       : pk__error_set(err, rc, "the call tree is too large");
	}
	t->frames = d->frames.items;
	t->frame_count = d->frames.count;
	t->nodes = d->nodes.items;
	t->node_count = d->nodes.count;
	*out = t;
	return 0;
}

void pk__tree_free(pk__tree *t)
{
	if (t == NULL)
		return;
	pk__strtab_free(t->data->names);
	pk__strtab_free(t->data->strings);
	pk__vec_free(&t->data->frames);
	pk__vec_free(&t->data->nodes);
	pk__free(t->data->slots);
	pk__free(t->data);
	pk__free(t);
}
