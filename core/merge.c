/* merge.c - operations that make a new profile from others: merge (pprof's
 * profile.Merge), scale, diff (-base, -diff_base) and aggregate
 * (Profile.Aggregate). Results are new profiles; inputs are not changed. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------ copy */

/* A copy of p with the same strings, objects and indices, through hooks. */
int pk__profile_copy(const pk_profile *p, const pk__copy_hooks *h, pk_profile **out)
{
	pk_profile *q;
	PK_FORWARD(pk_profile_new(&q));
	int rc = 0;
	/* Strings first, in order: the table has no duplicates, so every
	 * string keeps its index. */
	for (size_t i = 1; rc == 0 && i < pk_profile_string_count(p); i++) {
		pk_str s;
		rc = pk_profile_intern(q, pk_profile_string(p, (pk_str)i),
		                       pk_profile_string_length(p, (pk_str)i), &s);
	}
	for (size_t i = 0; rc == 0 && i < pk_profile_sample_type_count(p); i++)
		rc = pk_profile_add_sample_type(q, pk_profile_sample_type(p, i));
	if (rc == 0) {
		pk_profile_set_default_sample_type(q, pk_profile_default_sample_type(p));
		pk_profile_set_period_type(q, pk_profile_period_type(p));
		pk_profile_set_period(q, pk_profile_period(p));
		pk_profile_set_time_nanos(q, pk_profile_time_nanos(p));
		pk_profile_set_duration_nanos(q, pk_profile_duration_nanos(p));
		pk_profile_set_drop_frames(q, pk_profile_drop_frames(p));
		pk_profile_set_keep_frames(q, pk_profile_keep_frames(p));
		pk_profile_set_doc_url(q, pk_profile_doc_url(p));
	}
	for (size_t i = 0; rc == 0 && i < pk_profile_comment_count(p); i++)
		rc = pk_profile_add_comment(q, pk_profile_comment(p, i));
	for (size_t i = 0; rc == 0 && i < pk_profile_mapping_count(p); i++)
		rc = pk_profile_add_mapping(q, pk_profile_mapping(p, i), NULL);
	for (size_t i = 0; rc == 0 && i < pk_profile_function_count(p); i++) {
		pk_function f = *pk_profile_function(p, i);
		if (h && h->function)
			h->function(h->ctx, &f);
		rc = pk_profile_add_function(q, &f, NULL);
	}
	pk__vec lines = {0}, values = {0}, labels = {0};
	for (size_t i = 0; rc == 0 && i < pk_profile_location_count(p); i++) {
		pk_location loc = *pk_profile_location(p, i);
		const pk_line *src;
		size_t n = pk_profile_location_lines(p, i, &src);
		lines.count = 0;
		rc = pk__vec_push(&lines, sizeof(pk_line), src, n, NULL);
		if (rc == 0 && h && h->location)
			h->location(h->ctx, &loc, lines.items, &n);
		if (rc == 0)
			rc = pk_profile_add_location(q, &loc, lines.items, n, NULL);
	}
	size_t types = pk_profile_sample_type_count(p);
	if (rc == 0)
		rc = pk__vec_reserve(&values, sizeof(int64_t), types + 1);
	for (size_t i = 0; rc == 0 && i < pk_profile_sample_count(p); i++) {
		pk_sample s;
		pk_profile_sample(p, i, &s);
		int64_t *v = values.items;
		memcpy(v, s.values, types * sizeof *v);
		if (h && h->sample && !h->sample(h->ctx, v, types))
			continue;
		rc = pk__sample_labels(p, &s, &labels);
		if (rc == 0)
			rc = pk_profile_add_sample(q, s.locations, s.depth, v, types, labels.items,
			                           labels.count);
	}
	pk__vec_free(&lines);
	pk__vec_free(&values);
	pk__vec_free(&labels);
	if (rc < 0) {
		pk_profile_free(q);
		return rc;
	}
	*out = q;
	return 0;
}

bool pk__no_samples(void *ctx, int64_t *values, size_t count)
{
	(void)ctx;
	(void)values;
	(void)count;
	return false;
}

/* ----------------------------------------------------------------- scale */

static bool scale_sample(void *ctx, int64_t *values, size_t count)
{
	double r = *(const double *)ctx;
	for (size_t i = 0; i < count; i++) {
		if (r == -1)
			values[i] = (int64_t)(0 - (uint64_t)values[i]);
		else if (r != 1)
			values[i] = (int64_t)round((double)values[i] * r);
	}
	return true;
}

int pk_profile_scale(const pk_profile *p, double ratio, pk_profile **out, pk_error *err)
{
	if (!isfinite(ratio))
		return pk__error_set(err, PK_EINVAL, "the scale ratio must be a finite number");
	pk__copy_hooks h = {NULL, NULL, scale_sample, &ratio};
	int rc = pk__profile_copy(p, &h, out);
	return rc < 0 ? pk__error_set(err, rc, "out of memory") : 0;
}

/* ------------------------------------------------------------- aggregate */

typedef struct aggregate_ctx {
	bool inlines, function, filename, linenumber, address;
} aggregate_ctx;

static void aggregate_function(void *ctx, pk_function *f)
{
	const aggregate_ctx *a = ctx;
	if (!a->function) {
		f->name = 0;
		f->system_name = 0;
	}
	if (!a->filename)
		f->filename = 0;
}

static void aggregate_location(void *ctx, pk_location *loc, pk_line *lines, size_t *count)
{
	const aggregate_ctx *a = ctx;
	if (!a->inlines && *count > 1) {
		lines[0] = lines[*count - 1];
		*count = 1;
	}
	if (!a->linenumber)
		for (size_t i = 0; i < *count; i++)
			lines[i].line = 0;
	if (!a->address)
		loc->address = 0;
}

int pk_profile_aggregate(const pk_profile *p, int granularity, int inlines, pk_profile **out,
                         pk_error *err)
{
	aggregate_ctx a = {inlines != 0, false, false, false, false};
	switch (granularity) {
	case PK_GRANULARITY_ADDRESSES:
		a.function = a.filename = a.linenumber = a.address = true;
		break;
	case PK_GRANULARITY_LINES: a.function = a.filename = a.linenumber = true; break;
	case PK_GRANULARITY_FILES: a.filename = true; break;
	case PK_GRANULARITY_FUNCTIONS: a.function = true; break;
	case PK_GRANULARITY_FILEFUNCTIONS: a.function = a.filename = true; break;
	default: return pk__error_set(err, PK_EINVAL, "unknown granularity %d", granularity);
	}
	pk__copy_hooks h = {aggregate_function, aggregate_location, NULL, &a};
	int rc = pk__profile_copy(p, &h, out);
	return rc < 0 ? pk__error_set(err, rc, "out of memory") : 0;
}

/* ----------------------------------------------------------------- merge */

/* A table from byte keys to indices: interned keys are dense ids. */
typedef struct keymap {
	pk__strtab *keys;
	pk__vec index; /* uint32_t per key id */
} keymap;

static int keymap_find(keymap *m, const void *key, size_t len, uint32_t **slot)
{
	uint32_t id;
	PK_FORWARD(pk__strtab_intern(m->keys, key, len, &id));
	while (m->index.count <= id) {
		uint32_t none = PK_NONE;
		PK_FORWARD(pk__vec_push(&m->index, sizeof none, &none, 1, NULL));
	}
	*slot = &PK_VEC_AT(m->index, uint32_t, id);
	return 0;
}

/* Profiles merged one at a time (pk_merger_add): what pk_profile_merge
 * does in one call. */
typedef struct pk_merger {
	pk_profile *q; /* what the merge makes: strings, objects and stacks */
	size_t added;  /* profiles merged so far */
	int failed;    /* the error that stopped the merge, or 0 */
	keymap mappings;
	pk__item_table fns, locs; /* our functions and locations by content */
	/* per source: its index -> ours (PK_NONE: not yet), so that each
	 * record is looked up once, not once per sample that uses it */
	uint32_t *loc_of, *fn_of, *map_of, *str_of, *stack_of;
	int64_t *map_offset;
	/* uint32_t per stack of q: its sample without labels, or PK_NONE.
	 * Stacks and label sets are interned in q as they are met, so that
	 * q takes the samples as they are at the end. */
	pk__vec stack_sample;
	/* The samples, as q takes them at the end: per sample its stack of
	 * q, its label set of q (0: none) and its values. */
	pk__vec sample_stacks; /* uint32_t */
	pk__vec sample_sets;   /* uint32_t */
	pk__vec values;        /* int64_t, types per sample */
	/* The table of the labelled samples by (stack, set), the merge's
	 * largest: a power of two of slots, each a sample's index + 1 in the
	 * bits below the count (0: empty) and above them bits of its hash,
	 * which spare most look-ups a look at the sample's key. */
	uint32_t *sample_slots;
	size_t sample_slot_count, labelled;
	/* label sets: a source's (by its index of the set) -> q's, whose
	 * labels are sorted; and the source's labels -> q's */
	uint32_t *set_of, *label_of;
	pk__vec key;     /* char */
	pk__vec scratch; /* uint32_t / pk_line */
	pk__vec vector;  /* int64_t, types: a sample's values, negated */
	size_t types;
	size_t source_strings; /* the size of str_of */
	/* The source is itself what a merger made (the second merge after
	 * samples cancelled): its strings, functions, locations, stacks and
	 * labelled samples are distinct by the keys, so each is new, found by
	 * no look-up. */
	bool canonical;
} merger;

static int str_of(merger *m, const pk_profile *p, pk_str s, pk_str *out)
{
	if (s == 0) {
		*out = 0;
		return 0;
	}
	bool cached = m->str_of && s < m->source_strings;
	if (cached && m->str_of[s] != PK_NONE) {
		*out = m->str_of[s];
		return 0;
	}
	PK_FORWARD(pk__profile_intern_from(m->q, p, s, m->canonical, out));
	if (cached)
		m->str_of[s] = *out;
	return 0;
}

static int key_add(pk__vec *k, const void *data, size_t len)
{
	return pk__vec_push(k, 1, data, len, NULL);
}

static int key_str(pk__vec *k, const pk_profile *p, pk_str s)
{
	uint64_t len = pk_profile_string_length(p, s);
	PK_FORWARD(key_add(k, &len, sizeof len));
	return key_add(k, pk_profile_string(p, s), len);
}

/* One more word into a hash of words, for the tables keyed by content. */
static uint64_t mix_word(uint64_t h, uint64_t word)
{
	return (h ^ word) * 0x9e3779b97f4a7c15u + (h >> 29);
}

/* map_mapping for a mapping not met yet in this source; without add, only
 * one that q has (else *out is PK_NONE). */
/* The key of p's mapping src into m->key. */
static int mapping_key(merger *m, const pk_profile *p, const pk_mapping *src)
{
	pk__vec *k = &m->key;
	k->count = 0;
	uint64_t size = src->memory_limit - src->memory_start;
	size = size + 0xfff;
	size -= size % 0x1000;
	PK_FORWARD(key_add(k, &size, sizeof size));
	PK_FORWARD(key_add(k, &src->file_offset, sizeof src->file_offset));
	pk_str id = src->build_id ? src->build_id : src->filename;
	return key_str(k, p, id);
}

static int find_mapping(merger *m, const pk_profile *p, uint32_t i, bool add, uint32_t *out)
{
	const pk_mapping *src = pk_profile_mapping(p, i);
	pk__vec *k = &m->key;
	PK_FORWARD(mapping_key(m, p, src));
	uint32_t *slot;
	PK_FORWARD(keymap_find(&m->mappings, k->items, k->count, &slot));
	if (*slot != PK_NONE) {
		const pk_mapping *ours = pk_profile_mapping(m->q, *slot);
		m->map_of[i] = *slot;
		m->map_offset[i] = (int64_t)(ours->memory_start - src->memory_start);
		*out = *slot;
		return 0;
	}
	*out = PK_NONE;
	if (!add)
		return 0;
	pk_mapping c = *src;
	c.id = pk_profile_mapping_count(m->q) + 1;
	PK_FORWARD(str_of(m, p, src->filename, &c.filename));
	PK_FORWARD(str_of(m, p, src->build_id, &c.build_id));
	uint32_t at;
	PK_FORWARD(pk_profile_add_mapping(m->q, &c, &at));
	*slot = at;
	m->map_of[i] = at;
	m->map_offset[i] = 0;
	*out = at;
	return 0;
}

/* Inline: every new location asks, and all but a few mappings are met. */
static inline int map_mapping(merger *m, const pk_profile *p, uint32_t i, uint32_t *out)
{
	*out = m->map_of[i];
	return *out != PK_NONE ? 0 : find_mapping(m, p, i, true, out);
}

/* The key of a function (with our strings): all but its id. */
static uint32_t function_hash(const pk_function *c)
{
	uint64_t mixed = mix_word(mix_word(mix_word(0, (uint64_t)c->start_line),
	                                   (uint64_t)c->name << 32 | c->system_name),
	                          c->filename);
	return (uint32_t)(mixed ^ mixed >> 32);
}

/* Our function of c's key whose hash is h, or PK_NONE and the free slot at
 * *at where it goes. */
static uint32_t find_function(const merger *m, const pk_function *c, uint32_t h, size_t *at)
{
	size_t mask = m->fns.count - 1;
	for (*at = h & mask; m->fns.slots[*at].item; *at = (*at + 1) & mask) {
		const pk__slot *e = &m->fns.slots[*at];
		if (e->hash != h)
			continue;
		const pk_function *f = pk_profile_function(m->q, e->item - 1);
		if (f->start_line == c->start_line && f->name == c->name &&
		    f->system_name == c->system_name && f->filename == c->filename)
			return e->item - 1;
	}
	return PK_NONE;
}

static int map_function(merger *m, const pk_profile *p, uint32_t i, uint32_t *out)
{
	if (m->fn_of[i] != PK_NONE) {
		*out = m->fn_of[i];
		return 0;
	}
	const pk_function *src = pk_profile_function(p, i);
	/* Our strings stand for theirs in the key: equal strings are one
	 * index, and interning them before the look-up adds no string that
	 * adding the function would not. */
	pk_function c = *src;
	PK_FORWARD(str_of(m, p, src->name, &c.name));
	PK_FORWARD(str_of(m, p, src->system_name, &c.system_name));
	PK_FORWARD(str_of(m, p, src->filename, &c.filename));
	if (m->canonical) {
		c.id = pk_profile_function_count(m->q) + 1;
		PK_FORWARD(pk_profile_add_function(m->q, &c, out));
		m->fn_of[i] = *out;
		return 0;
	}
	uint32_t h = function_hash(&c);
	PK_FORWARD(pk__item_table_room(&m->fns));
	size_t at;
	uint32_t j = find_function(m, &c, h, &at);
	if (j != PK_NONE) {
		*out = m->fn_of[i] = j;
		return 0;
	}
	c.id = pk_profile_function_count(m->q) + 1;
	PK_FORWARD(pk_profile_add_function(m->q, &c, &j));
	pk__item_table_put(&m->fns, at, h, j);
	*out = m->fn_of[i] = j;
	return 0;
}

static bool same_location(const pk_profile *q, uint32_t j, const pk_location *c,
                          const pk_line *lines, size_t n)
{
	const pk_location *loc = pk_profile_location(q, j);
	if (loc->mapping != c->mapping || loc->address != c->address ||
	    loc->is_folded != c->is_folded)
		return false;
	const pk_line *ours;
	if (pk_profile_location_lines(q, j, &ours) != n)
		return false;
	/* the key has no columns, as pprof's */
	for (size_t l = 0; l < n; l++)
		if (ours[l].function != lines[l].function || ours[l].line != lines[l].line)
			return false;
	return true;
}

/* The key of a location of ours: the address in the mapping (one mapping
 * of ours has one start, so the address itself), the mapping, folding,
 * the lines (without columns, as pprof's), mixed word by word in place. */
static uint64_t location_key(const pk_location *c)
{
	return mix_word(mix_word(0, c->address), (uint64_t)c->mapping << 8 | c->is_folded);
}

static uint64_t line_key(uint64_t h, uint32_t function, int64_t line)
{
	return mix_word(mix_word(h, function), (uint64_t)line);
}

static uint32_t location_hash(const pk_location *c, const pk_line *lines, size_t n)
{
	uint64_t h = location_key(c);
	for (size_t l = 0; l < n; l++)
		h = line_key(h, lines[l].function, lines[l].line);
	return (uint32_t)(h ^ h >> 32);
}

/* Our location of the key of c and lines whose hash is h, or PK_NONE and
 * the free slot at *at where it goes. */
static uint32_t find_location(const merger *m, const pk_location *c, const pk_line *lines, size_t n,
                              uint32_t h, size_t *at)
{
	size_t mask = m->locs.count - 1;
	for (*at = h & mask; m->locs.slots[*at].item; *at = (*at + 1) & mask) {
		const pk__slot *e = &m->locs.slots[*at];
		if (e->hash == h && same_location(m->q, e->item - 1, c, lines, n))
			return e->item - 1;
	}
	return PK_NONE;
}

static int map_location(merger *m, const pk_profile *p, uint32_t i, uint32_t *out)
{
	if (m->loc_of[i] != PK_NONE) {
		*out = m->loc_of[i];
		return 0;
	}
	const pk_location *src = pk_profile_location(p, i);
	pk_location c = *src;
	c.mapping = PK_NONE;
	if (src->mapping != PK_NONE) {
		PK_FORWARD(map_mapping(m, p, src->mapping, &c.mapping));
		c.address = (uint64_t)((int64_t)src->address + m->map_offset[src->mapping]);
	}
	const pk_line *lines;
	size_t n = pk_profile_location_lines(p, i, &lines);
	m->scratch.count = 0;
	PK_FORWARD(pk__vec_reserve(&m->scratch, sizeof(pk_line), n));
	pk_line *ours = m->scratch.items;
	for (size_t l = 0; l < n; l++) {
		ours[l] = lines[l];
		PK_FORWARD(map_function(m, p, lines[l].function, &ours[l].function));
	}
	if (m->canonical) {
		c.id = pk_profile_location_count(m->q) + 1;
		PK_FORWARD(pk_profile_add_location(m->q, &c, ours, n, out));
		m->loc_of[i] = *out;
		return 0;
	}
	uint32_t h = location_hash(&c, ours, n);
	PK_FORWARD(pk__item_table_room(&m->locs));
	size_t at;
	uint32_t j = find_location(m, &c, ours, n, h, &at);
	if (j != PK_NONE) {
		*out = m->loc_of[i] = j;
		return 0;
	}
	c.id = pk_profile_location_count(m->q) + 1;
	PK_FORWARD(pk_profile_add_location(m->q, &c, ours, n, &j));
	pk__item_table_put(&m->locs, at, h, j);
	*out = m->loc_of[i] = j;
	return 0;
}

/* Labels sorted by (kind, key), values in their order: the sample key's
 * canonical form. */
static int cmp_label_keys(const pk_profile *q, const pk_label *a, const pk_label *b)
{
	bool an = a->str == 0, bn = b->str == 0;
	if (an != bn)
		return an ? 1 : -1;
	if (a->key == b->key)
		return 0;
	const char *x = pk_profile_string(q, a->key), *y = pk_profile_string(q, b->key);
	size_t xl = pk_profile_string_length(q, a->key), yl = pk_profile_string_length(q, b->key);
	int c = memcmp(x, y, xl < yl ? xl : yl);
	return c ? c : (xl > yl) - (xl < yl);
}

static bool all_zero(const int64_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] != 0)
			return false;
	return true;
}

/* Our stack for source stack st, interned among ours: once per distinct
 * source stack, not per sample, which is why only then are the stack's
 * locations (a cache miss away) looked at. */
static int map_stack(merger *m, const pk_profile *p, uint32_t st, uint32_t *out)
{
	if (m->stack_of[st] != PK_NONE) {
		*out = m->stack_of[st];
		return 0;
	}
	const uint32_t *locs;
	size_t depth = pk_profile_stack(p, st, &locs);
	/* The source records of the stack's new locations, asked for
	 * together: fetched one by one, each was a cache miss in turn. */
	const pk_line *lines;
	for (size_t d = 0; d < depth; d++)
		if (m->loc_of[locs[d]] == PK_NONE)
			PK_PREFETCH(pk_profile_location(p, locs[d]));
	for (size_t d = 0; d < depth; d++)
		if (m->loc_of[locs[d]] == PK_NONE &&
		    pk_profile_location_lines(p, locs[d], &lines) > 0)
			PK_PREFETCH(lines);
	/* mapped straight into the tail of q's pool, where q interns it */
	uint32_t *room;
	PK_FORWARD(pk__profile_stack_room(m->q, 0, depth, &room));
	for (size_t d = 0; d < depth; d++)
		PK_FORWARD(map_location(m, p, locs[d], &room[d]));
	uint32_t stack;
	if (m->canonical)
		PK_FORWARD(pk__profile_append_tail_stack(m->q, depth, &stack));
	else
		PK_FORWARD(pk__profile_intern_tail_stack(m->q, depth, &stack));
	if (stack == m->stack_sample.count) {
		uint32_t none = PK_NONE;
		PK_FORWARD(pk__vec_push(&m->stack_sample, sizeof none, &none, 1, NULL));
	}
	*out = m->stack_of[st] = stack;
	return 0;
}

/* Add values to sample i's. */
static inline void add_to(merger *m, uint32_t i, const int64_t *values)
{
	int64_t *v = &PK_VEC_AT(m->values, int64_t, (size_t)i * m->types);
	for (size_t t = 0; t < m->types; t++)
		v[t] = pk__add(v[t], values[t]);
}

/* Add values to the sample *slot, or to a new one of stack and set (put
 * in *slot) if PK_NONE. */
static int add_values(merger *m, uint32_t *slot, const int64_t *values, uint32_t stack,
                      uint32_t set)
{
	if (*slot != PK_NONE) {
		add_to(m, *slot, values);
		return 0;
	}
	size_t n = m->sample_stacks.count;
	if (n >= PK_NONE - 1)
		return PK_ENOMEM;
	/* all reserved first, so that a failure adds no part of a sample */
	PK_FORWARD(pk__vec_reserve(&m->values, sizeof(int64_t), m->types));
	PK_FORWARD(pk__vec_reserve(&m->sample_sets, sizeof set, 1));
	PK_FORWARD(pk__vec_reserve(&m->sample_stacks, sizeof stack, 1));
	PK_VEC_AT(m->sample_stacks, uint32_t, n) = stack;
	PK_VEC_AT(m->sample_sets, uint32_t, n) = set;
	m->sample_stacks.count = m->sample_sets.count = n + 1;
	/* Stored one by one: memcpy's wide stores, read back narrower by
	 * the next sample's sum, stalled the merge; and values may be where
	 * they go (merge_again). */
	int64_t *v = &PK_VEC_AT(m->values, int64_t, m->values.count);
	for (size_t t = 0; t < m->types; t++)
		v[t] = values[t];
	m->values.count += m->types;
	*slot = (uint32_t)n;
	return 0;
}

/* q's label for label l of p, looked up once per source. */
static int map_label(merger *m, const pk_profile *p, uint32_t l, uint32_t *out)
{
	if (m->label_of[l] != PK_NONE) {
		*out = m->label_of[l];
		return 0;
	}
	pk_label c = pk__profile_labels(p)[l];
	PK_FORWARD(str_of(m, p, c.key, &c.key));
	PK_FORWARD(str_of(m, p, c.str, &c.str));
	PK_FORWARD(str_of(m, p, c.num_unit, &c.num_unit));
	PK_FORWARD(pk__profile_intern_label(m->q, &c, out));
	m->label_of[l] = *out;
	return 0;
}

/* q's label set for a sample's labels, the source's set number set: mapped,
 * sorted and looked up once per distinct set in a source, not once per
 * sample. */
static int map_labels(merger *m, const pk_profile *p, const pk_sample *s, uint32_t set,
                      uint32_t *out)
{
	if (m->set_of[set] != PK_NONE) {
		*out = m->set_of[set];
		return 0;
	}
	size_t nl = s->label_count;
	uint32_t *ids;
	PK_FORWARD(pk__profile_label_room(m->q, nl, &ids));
	for (size_t l = 0; l < nl; l++) {
		uint32_t c;
		PK_FORWARD(map_label(m, p, s->labels[l], &c));
		/* a stable sort by key, as they come */
		const pk_label *ours = pk__profile_labels(m->q);
		size_t j = l;
		for (; j > 0 && cmp_label_keys(m->q, &ours[ids[j - 1]], &ours[c]) > 0; j--)
			ids[j] = ids[j - 1];
		ids[j] = c;
	}
	PK_FORWARD(pk__profile_intern_tail_labels(m->q, nl, out));
	m->set_of[set] = *out;
	return 0;
}

static uint64_t sample_hash(uint32_t stack, uint32_t set)
{
	uint64_t h = ((uint64_t)stack << 32 | set) * 0x9e3779b97f4a7c15ull;
	return h ^ h >> 31;
}

/* The slot of the labelled sample (stack, set), or the empty one where it
 * goes. */
static size_t find_sample(const merger *m, uint32_t stack, uint32_t set)
{
	uint64_t h = sample_hash(stack, set);
	uint32_t mask = (uint32_t)(m->sample_slot_count - 1), tag = (uint32_t)(h >> 32) & ~mask;
	const uint32_t *stacks = m->sample_stacks.items, *sets = m->sample_sets.items;
	size_t at = h & mask;
	for (uint32_t e; (e = m->sample_slots[at]) != 0; at = (at + 1) & mask)
		if ((e & ~mask) == tag && stacks[(e & mask) - 1] == stack &&
		    sets[(e & mask) - 1] == set)
			break;
	return at;
}

/* A table for the labelled samples and one more, up to seven eighths
 * full, whose slots hold every sample's index: built again from them. */
static int grow_sample_slots(merger *m)
{
	size_t n = m->sample_stacks.count,
	       count = m->sample_slot_count ? m->sample_slot_count : 1024;
	while ((m->labelled + 1) * 8 > count * 7 || n + 2 > count)
		count *= 2;
	if (count - 1 > UINT32_MAX)
		return PK_ENOMEM;
	uint32_t *slots = pk__calloc(count, sizeof *slots);
	if (slots == NULL)
		return PK_ENOMEM;
	pk__free(m->sample_slots);
	m->sample_slots = slots;
	m->sample_slot_count = count;
	uint32_t mask = (uint32_t)(count - 1);
	const uint32_t *stacks = m->sample_stacks.items, *sets = m->sample_sets.items;
	for (uint32_t i = 0; i < n; i++)
		if (sets[i] != 0) {
			size_t at = find_sample(m, stacks[i], sets[i]);
			uint64_t h = sample_hash(stacks[i], sets[i]);
			slots[at] = ((uint32_t)(h >> 32) & ~mask) | (i + 1);
		}
	return 0;
}

static int add_sample(merger *m, uint32_t stack, uint32_t labels, const int64_t *values);

/* Add values to the sample of our stack without labels, or to a new one. */
static int add_unlabelled(merger *m, uint32_t stack, const int64_t *values)
{
	uint32_t *slot = &PK_VEC_AT(m->stack_sample, uint32_t, stack);
	uint32_t at = *slot;
	/* most samples of a later source add to one there already */
	if (at != PK_NONE) {
		add_to(m, at, values);
		return 0;
	}
	PK_FORWARD(add_values(m, &at, values, stack, 0));
	*slot = at;
	return 0;
}

/* values as merged: negated (in m->vector, reserved for m->types) for a
 * base, as pprof's -base scales it by -1. */
static const int64_t *signed_values(merger *m, const int64_t *values, bool negate)
{
	if (!negate)
		return values;
	int64_t *negated = m->vector.items;
	for (size_t t = 0; t < m->types; t++)
		negated[t] = (int64_t)(0 - (uint64_t)values[t]);
	return negated;
}

/* Sample s of p, whose labels are p's set number set, with values. */
static int map_sample(merger *m, const pk_profile *p, const pk_sample *s, uint32_t set,
                      const int64_t *values)
{
	uint32_t stack;
	PK_FORWARD(map_stack(m, p, s->stack, &stack));
	if (s->label_count == 0)
		return add_unlabelled(m, stack, values);
	uint32_t labels;
	PK_FORWARD(map_labels(m, p, s, set, &labels));
	return add_sample(m, stack, labels, values);
}

/* Add values to the sample of our stack and label set (> 0), or to a new
 * one. */
static int add_sample(merger *m, uint32_t stack, uint32_t labels, const int64_t *values)
{
	if (m->canonical) {
		uint32_t slot = PK_NONE;
		return add_values(m, &slot, values, stack, labels);
	}
	/* the sample of (stack, labels) */
	if ((m->labelled + 1) * 8 > m->sample_slot_count * 7 ||
	    m->sample_stacks.count + 2 > m->sample_slot_count)
		PK_FORWARD(grow_sample_slots(m));
	uint32_t mask = (uint32_t)(m->sample_slot_count - 1);
	size_t at = find_sample(m, stack, labels);
	uint32_t i = m->sample_slots[at] ? (m->sample_slots[at] & mask) - 1 : PK_NONE;
	PK_FORWARD(add_values(m, &i, values, stack, labels));
	if (m->sample_slots[at] == 0) {
		uint64_t h = sample_hash(stack, labels);
		m->sample_slots[at] = ((uint32_t)(h >> 32) & ~mask) | (i + 1);
		m->labelled++;
	}
	return 0;
}

static bool same_type(const pk_profile *a, pk_value_type x, const pk_profile *b, pk_value_type y)
{
	return strcmp(pk_profile_string(a, x.type), pk_profile_string(b, y.type)) == 0 &&
	       strcmp(pk_profile_string(a, x.unit), pk_profile_string(b, y.unit)) == 0;
}

/* Check p, the profile number m->added + 1, against the first (whose types
 * q has) and fold its header into q's. */
static int add_header(merger *m, const pk_profile *p, pk_error *err)
{
	pk_profile *q = m->q;
	if (m->added > 0) {
		pk_value_type x = pk_profile_period_type(q), y = pk_profile_period_type(p);
		if (!same_type(q, x, p, y))
			return pk__error_set(err, PK_EINVAL,
			                     "incompatible period types: profile %zu has %s/%s, "
			                     "profile 1 %s/%s",
			                     m->added + 1, pk_profile_string(p, y.type),
			                     pk_profile_string(p, y.unit),
			                     pk_profile_string(q, x.type),
			                     pk_profile_string(q, x.unit));
		bool same = pk_profile_sample_type_count(q) == pk_profile_sample_type_count(p);
		for (size_t t = 0; same && t < pk_profile_sample_type_count(q); t++)
			same = same_type(q, pk_profile_sample_type(q, t), p,
			                 pk_profile_sample_type(p, t));
		if (!same)
			return pk__error_set(err, PK_EINVAL,
			                     "incompatible sample types: profile %zu differs from "
			                     "profile 1",
			                     m->added + 1);
	}
	int64_t t = pk_profile_time_nanos(q);
	if (t == 0 || pk_profile_time_nanos(p) < t)
		pk_profile_set_time_nanos(q, pk_profile_time_nanos(p));
	pk_profile_set_duration_nanos(
	    q, pk__add(pk_profile_duration_nanos(q), pk_profile_duration_nanos(p)));
	if (pk_profile_period(q) == 0 || pk_profile_period(q) < pk_profile_period(p))
		pk_profile_set_period(q, pk_profile_period(p));
	size_t comments = pk_profile_comment_count(q);
	for (size_t c = 0; c < pk_profile_comment_count(p); c++) {
		pk_str cs;
		PK_FORWARD(str_of(m, p, pk_profile_comment(p, c), &cs));
		bool seen = false;
		for (size_t j = 0; j < comments; j++)
			seen |= pk_profile_comment(q, j) == cs;
		if (!seen)
			PK_FORWARD(pk_profile_add_comment(q, cs));
		comments = pk_profile_comment_count(q);
	}
	pk_str s;
	if (pk_profile_default_sample_type(q) == 0) {
		PK_FORWARD(str_of(m, p, pk_profile_default_sample_type(p), &s));
		pk_profile_set_default_sample_type(q, s);
	}
	if (pk_profile_doc_url(q) == 0) {
		PK_FORWARD(str_of(m, p, pk_profile_doc_url(p), &s));
		pk_profile_set_doc_url(q, s);
	}
	if (m->added > 0)
		return 0;
	for (size_t i = 0; i < pk_profile_sample_type_count(p); i++) {
		pk_value_type vt = pk_profile_sample_type(p, i);
		PK_FORWARD(str_of(m, p, vt.type, &vt.type));
		PK_FORWARD(str_of(m, p, vt.unit, &vt.unit));
		PK_FORWARD(pk_profile_add_sample_type(q, vt));
	}
	pk_value_type pt = pk_profile_period_type(p);
	PK_FORWARD(str_of(m, p, pt.type, &pt.type));
	PK_FORWARD(str_of(m, p, pt.unit, &pt.unit));
	pk_profile_set_period_type(q, pt);
	PK_FORWARD(str_of(m, p, pk_profile_drop_frames(p), &s));
	pk_profile_set_drop_frames(q, s);
	PK_FORWARD(str_of(m, p, pk_profile_keep_frames(p), &s));
	pk_profile_set_keep_frames(q, s);
	return 0;
}

/* What only the merging needed. */
static void drop_tables(merger *m)
{
	pk__strtab_free(m->mappings.keys);
	m->mappings.keys = NULL;
	pk__vec_free(&m->mappings.index);
	pk__free(m->fns.slots);
	pk__free(m->locs.slots);
	m->fns = m->locs = (pk__item_table){NULL, 0, 0};
	pk__free(m->sample_slots);
	m->sample_slots = NULL;
}

/* What only merging the last source needed: not held while the next is
 * read. */
static void end_source(merger *m)
{
	pk__free(m->loc_of);
	pk__free(m->fn_of);
	pk__free(m->map_of);
	pk__free(m->str_of);
	pk__free(m->stack_of);
	pk__free(m->map_offset);
	pk__free(m->set_of);
	pk__free(m->label_of);
	m->loc_of = m->fn_of = m->map_of = m->str_of = m->stack_of = m->set_of = m->label_of = NULL;
	m->map_offset = NULL;
}

static void merger_free(merger *m)
{
	drop_tables(m);
	end_source(m);
	pk__vec *vecs[] = {&m->sample_stacks, &m->sample_sets, &m->values, &m->stack_sample,
	                   &m->key,           &m->scratch,     &m->vector};
	for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++)
		pk__vec_free(vecs[i]);
}

/* A table of count entries of PK_NONE (or zeros), replacing *t. */
static int fresh_table(void **t, size_t count, size_t elem, int fill)
{
	pk__free(*t);
	*t = pk__malloc(pk__mul(count + 1, elem));
	if (*t == NULL)
		return PK_ENOMEM;
	memset(*t, fill, (count + 1) * elem);
	return 0;
}

/* A fresh cache of p's strings, before add_header maps the first of them:
 * the last source's indexes mean other strings. */
static int begin_strings(merger *m, const pk_profile *p)
{
	m->source_strings = pk_profile_string_count(p);
	return fresh_table((void **)&m->str_of, m->source_strings, sizeof *m->str_of, 0xff);
}

/* Make ready for samples of p. */
static int begin_source(merger *m, const pk_profile *p)
{
	size_t nm = pk_profile_mapping_count(p), nl = pk_profile_location_count(p);
	/* q starts with room for the objects of the first source, all of
	 * which but duplicates it takes: grown by doubling, they were copied
	 * and fresh pages touched at each step. Lines: one per location. */
	if (m->added == 0) {
		PK_FORWARD(
		    pk__profile_reserve_objects(m->q, nm, pk_profile_function_count(p), nl, nl));
		PK_FORWARD(pk__vec_reserve_exact(&m->stack_sample, sizeof(uint32_t),
		                                 pk_profile_stack_count(p)));
	}
	PK_FORWARD(fresh_table((void **)&m->loc_of, nl, sizeof *m->loc_of, 0xff));
	PK_FORWARD(
	    fresh_table((void **)&m->fn_of, pk_profile_function_count(p), sizeof *m->fn_of, 0xff));
	PK_FORWARD(fresh_table((void **)&m->map_of, nm, sizeof *m->map_of, 0xff));
	PK_FORWARD(fresh_table((void **)&m->stack_of, pk_profile_stack_count(p),
	                       sizeof *m->stack_of, 0xff));
	PK_FORWARD(fresh_table((void **)&m->map_offset, nm, sizeof *m->map_offset, 0));
	if (pk_profile_mapping_count(m->q) == 0 && nm > 0) {
		uint32_t ignored;
		PK_FORWARD(map_mapping(m, p, 0, &ignored));
	}
	PK_FORWARD(fresh_table((void **)&m->label_of, pk_profile_label_count(p),
	                       sizeof *m->label_of, 0xff));
	return fresh_table((void **)&m->set_of, pk__profile_label_set_count(p), sizeof *m->set_of,
	                   0xff);
}

/* ------------------------------------------------- what q has already */

/* Before a source's samples, its strings, mappings, functions and
 * locations that q has already are found all at once (found one by one as
 * the samples first used them, each look-up waited for its cache misses in
 * turn: most of merging profiles much like the ones before). Those q lacks
 * stay unmapped and are added at their first use, so q's order is the
 * same. The look-ups run in stages a few records apart: the slot is
 * fetched, then the record it names, then (locations) its lines, and then
 * the key is compared. */
#define KNOWN_STEP 4
#define KNOWN_RING 16 /* > 3 steps, a power of two */

/* Our string for p's s, or PK_NONE if q lacks it. */
static pk_str known_str(const merger *m, pk_str s)
{
	return s == 0 ? 0 : s < m->source_strings ? m->str_of[s] : PK_NONE;
}

/* Source function i with our strings in *c, if q has them all. */
static bool known_function(const merger *m, const pk_profile *p, uint32_t i, pk_function *c)
{
	*c = *pk_profile_function(p, i);
	c->name = known_str(m, c->name);
	c->system_name = known_str(m, c->system_name);
	c->filename = known_str(m, c->filename);
	return c->name != PK_NONE && c->system_name != PK_NONE && c->filename != PK_NONE;
}

/* The first record a slot of t names for hash h, to fetch early. */
static uint32_t first_item(const pk__item_table *t, uint32_t h)
{
	size_t mask = t->count - 1, at = h & mask;
	for (; t->slots[at].item; at = (at + 1) & mask)
		if (t->slots[at].hash == h)
			return t->slots[at].item - 1;
	return PK_NONE;
}

static void find_known_functions(merger *m, const pk_profile *p)
{
	uint32_t ring[KNOWN_RING];    /* key hashes */
	bool known[KNOWN_RING];       /* q has the key's strings */
	pk_function keys[KNOWN_RING]; /* the keys, with our strings */
	size_t n = pk_profile_function_count(p);
	for (size_t i = 0; i < n + 2 * KNOWN_STEP; i++) {
		if (i < n) {
			size_t r = i % KNOWN_RING;
			known[r] = known_function(m, p, (uint32_t)i, &keys[r]);
			if (known[r]) {
				ring[r] = function_hash(&keys[r]);
				PK_PREFETCH(&m->fns.slots[ring[r] & (m->fns.count - 1)]);
			}
		}
		size_t j = i - KNOWN_STEP, r = j % KNOWN_RING;
		if (i >= KNOWN_STEP && j < n && known[r]) {
			uint32_t f = first_item(&m->fns, ring[r]);
			if (f != PK_NONE)
				PK_PREFETCH(pk_profile_function(m->q, f));
		}
		j -= KNOWN_STEP;
		r = j % KNOWN_RING;
		if (i >= 2 * KNOWN_STEP && j < n && known[r]) {
			size_t at;
			m->fn_of[j] = find_function(m, &keys[r], ring[r], &at);
		}
	}
}

/* Source location i as ours in *c (mapping and address) and the hash of
 * its key in *h, if q has its mapping and functions. Its lines (in *lines
 * and *n) are the source's, their functions mapped as they are read: no
 * copy. */
static bool known_location(const merger *m, const pk_profile *p, uint32_t i, pk_location *c,
                           uint32_t *h, const pk_line **lines, size_t *n)
{
	const pk_location *src = pk_profile_location(p, i);
	*c = *src;
	if (src->mapping != PK_NONE) {
		c->mapping = m->map_of[src->mapping];
		if (c->mapping == PK_NONE)
			return false;
		c->address = (uint64_t)((int64_t)src->address + m->map_offset[src->mapping]);
	}
	*n = pk_profile_location_lines(p, i, lines);
	uint64_t k = location_key(c);
	for (size_t l = 0; l < *n; l++) {
		uint32_t f = m->fn_of[(*lines)[l].function];
		if (f == PK_NONE)
			return false;
		k = line_key(k, f, (*lines)[l].line);
	}
	*h = (uint32_t)(k ^ k >> 32);
	return true;
}

/* find_location for a source location of those lines, whose key
 * known_location made. */
static uint32_t find_known_location(const merger *m, const pk_line *lines, size_t n,
                                    const pk_location *c, uint32_t h)
{
	size_t mask = m->locs.count - 1;
	for (size_t at = h & mask; m->locs.slots[at].item; at = (at + 1) & mask) {
		const pk__slot *e = &m->locs.slots[at];
		if (e->hash != h)
			continue;
		uint32_t j = e->item - 1;
		const pk_location *loc = pk_profile_location(m->q, j);
		const pk_line *ours;
		if (loc->mapping != c->mapping || loc->address != c->address ||
		    loc->is_folded != c->is_folded ||
		    pk_profile_location_lines(m->q, j, &ours) != n)
			continue;
		size_t l = 0;
		while (l < n && ours[l].function == m->fn_of[lines[l].function] &&
		       ours[l].line == lines[l].line)
			l++;
		if (l == n)
			return j;
	}
	return PK_NONE;
}

static void find_known_locations(merger *m, const pk_profile *p)
{
	uint32_t ring[KNOWN_RING], first[KNOWN_RING];
	bool known[KNOWN_RING];
	pk_location keys[KNOWN_RING];
	const pk_line *lines[KNOWN_RING];
	size_t counts[KNOWN_RING];
	size_t n = pk_profile_location_count(p);
	for (size_t i = 0; i < n + 3 * KNOWN_STEP; i++) {
		if (i < n) {
			size_t r = i % KNOWN_RING;
			known[r] = known_location(m, p, (uint32_t)i, &keys[r], &ring[r], &lines[r],
			                          &counts[r]);
			if (known[r])
				PK_PREFETCH(&m->locs.slots[ring[r] & (m->locs.count - 1)]);
		}
		size_t j = i - KNOWN_STEP, r = j % KNOWN_RING;
		if (i >= KNOWN_STEP && j < n && known[r]) {
			first[r] = first_item(&m->locs, ring[r]);
			if (first[r] != PK_NONE)
				PK_PREFETCH(pk_profile_location(m->q, first[r]));
		}
		j -= KNOWN_STEP;
		r = j % KNOWN_RING;
		if (i >= 2 * KNOWN_STEP && j < n && known[r]) {
			const pk_line *ours;
			if (first[r] != PK_NONE &&
			    pk_profile_location_lines(m->q, first[r], &ours) > 0)
				PK_PREFETCH(ours);
		}
		j -= KNOWN_STEP;
		r = j % KNOWN_RING;
		if (i >= 3 * KNOWN_STEP && j < n && known[r])
			m->loc_of[j] =
			    find_known_location(m, lines[r], counts[r], &keys[r], ring[r]);
	}
}

/* The source stack locs as ours in *ours, if q has all its locations. */
static bool known_stack(const merger *m, const uint32_t *locs, size_t depth, uint32_t *ours)
{
	for (size_t d = 0; d < depth; d++)
		if ((ours[d] = m->loc_of[locs[d]]) == PK_NONE)
			return false;
	return true;
}

/* m->scratch made KNOWN_RING stacks of room for depth locations each (from
 * *stride), the stacks in it kept. */
static int widen_ring(merger *m, size_t *stride, size_t depth)
{
	size_t wide = *stride * 2 > depth ? *stride * 2 : depth;
	PK_FORWARD(pk__vec_reserve(&m->scratch, sizeof(uint32_t), pk__mul(wide, KNOWN_RING)));
	uint32_t *ring = m->scratch.items;
	for (size_t r = KNOWN_RING; r-- > 1;)
		memmove(ring + r * wide, ring + r * *stride, *stride * sizeof *ring);
	*stride = wide;
	return 0;
}

/* The source's stacks that q has, found as its locations are: the
 * look-ups of a later source's stacks (a diff's base: most of them known)
 * were its merge's largest wait, a slot then the stack's locations, each a
 * cache miss. Each stack is mapped once, into a ring in m->scratch. */
static int find_known_stacks(merger *m, const pk_profile *p)
{
	uint32_t ring[KNOWN_RING];
	bool known[KNOWN_RING];
	size_t depths[KNOWN_RING];
	size_t n = pk_profile_stack_count(p), stride = 0;
	m->scratch.count = 0;
	PK_FORWARD(widen_ring(m, &stride, 32));
	for (size_t i = 0; i < n + 2 * KNOWN_STEP; i++) {
		if (i < n) {
			size_t r = i % KNOWN_RING;
			const uint32_t *locs;
			size_t depth = pk_profile_stack(p, (uint32_t)i, &locs);
			if (depth > stride)
				PK_FORWARD(widen_ring(m, &stride, depth));
			uint32_t *ours = (uint32_t *)m->scratch.items + r * stride;
			known[r] = known_stack(m, locs, depth, ours);
			depths[r] = depth;
			if (known[r]) {
				ring[r] = pk__stack_hash(ours, depth);
				pk__profile_prefetch_stack(m->q, ring[r], false);
			}
		}
		size_t j = i - KNOWN_STEP, r = j % KNOWN_RING;
		if (i >= KNOWN_STEP && j < n && known[r])
			pk__profile_prefetch_stack(m->q, ring[r], true);
		j -= KNOWN_STEP;
		r = j % KNOWN_RING;
		if (i >= 2 * KNOWN_STEP && j < n && known[r])
			m->stack_of[j] = pk__profile_find_stack(
			    m->q, (uint32_t *)m->scratch.items + r * stride, depths[r], ring[r]);
	}
	return 0;
}

static int find_known(merger *m, const pk_profile *p)
{
	pk__profile_find_strings(m->q, p, m->str_of);
	uint32_t ours;
	for (uint32_t i = 0; i < pk_profile_mapping_count(p); i++)
		if (m->map_of[i] == PK_NONE)
			PK_FORWARD(find_mapping(m, p, i, false, &ours));
	if (m->fns.count > 0)
		find_known_functions(m, p);
	if (m->locs.count > 0)
		find_known_locations(m, p);
	return find_known_stacks(m, p);
}

/* Samples ahead of the one merged whose sums (for a stack known already)
 * are fetched: SAMPLE_AHEAD before, its stack's sample; half that, its
 * values. A later source's samples add to sums all over the merge. */
#define SAMPLE_AHEAD 16

/* Our stack of source sample si if it has no labels and q has its
 * stack (else PK_NONE), its sample's slot fetched: what prefetch_values
 * takes SAMPLE_AHEAD / 2 samples later. */
static uint32_t prefetch_sample(const merger *m, const pk_profile *p, size_t si)
{
	uint32_t stack;
	pk__profile_sample_values(p, si, &stack);
	stack = m->stack_of[stack];
	if (stack == PK_NONE || pk__profile_sample_label_set(p, si) != 0)
		return PK_NONE;
	PK_PREFETCH(&PK_VEC_AT(m->stack_sample, uint32_t, stack));
	return stack;
}

static void prefetch_values(const merger *m, uint32_t stack)
{
	uint32_t at = stack != PK_NONE ? PK_VEC_AT(m->stack_sample, uint32_t, stack) : PK_NONE;
	if (at != PK_NONE)
		PK_PREFETCH(&PK_VEC_AT(m->values, int64_t, (size_t)at * m->types));
}

/* Merge p's samples, negated with negate, as pprof's -base scales the
 * base by -1 before merging. */
static int add_source(merger *m, const pk_profile *p, bool negate)
{
	PK_FORWARD(pk__vec_reserve(&m->vector, sizeof(int64_t), m->types));
	PK_FORWARD(begin_source(m, p));
	/* the first source finds nothing, and a canonical one only itself */
	if (m->added > 0 && !m->canonical)
		PK_FORWARD(find_known(m, p));
	size_t samples = pk_profile_sample_count(p);
	/* the stacks of the samples ahead, each looked at once */
	uint32_t ahead[SAMPLE_AHEAD];
	bool fetch = m->added > 0;
	for (size_t si = 0; fetch && si < samples && si < SAMPLE_AHEAD; si++)
		ahead[si] = prefetch_sample(m, p, si);
	for (size_t si = 0; si < samples; si++) {
		if (fetch && si + SAMPLE_AHEAD / 2 < samples)
			prefetch_values(m, ahead[(si + SAMPLE_AHEAD / 2) % SAMPLE_AHEAD]);
		uint32_t known = fetch ? ahead[si % SAMPLE_AHEAD] : PK_NONE;
		if (fetch && si + SAMPLE_AHEAD < samples)
			ahead[si % SAMPLE_AHEAD] = prefetch_sample(m, p, si + SAMPLE_AHEAD);
		/* Most samples of a later source add to a sum there already,
		 * of a stack without labels that prefetch_sample found: added
		 * here, without the sample's record (all_zero: the sum is the
		 * same). */
		uint32_t at =
		    known != PK_NONE ? PK_VEC_AT(m->stack_sample, uint32_t, known) : PK_NONE;
		if (at != PK_NONE) {
			uint32_t stack;
			const int64_t *v = pk__profile_sample_values(p, si, &stack);
			add_to(m, at, signed_values(m, v, negate));
			continue;
		}
		pk_sample s;
		pk__profile_sample_shallow(p, si, &s);
		if (all_zero(s.values, s.value_count))
			continue;
		PK_FORWARD(map_sample(m, p, &s, pk__profile_sample_label_set(p, si),
		                      signed_values(m, s.values, negate)));
	}
	return 0;
}

static int merger_init(merger *m)
{
	memset(m, 0, sizeof *m);
	PK_FORWARD(pk_profile_new(&m->q));
	return pk__strtab_new(&m->mappings.keys);
}

static int finish(merger *m, pk_profile **out);

/* As pprof: merge m's result again, which drops what cancelled and the
 * objects only it used; m is freed. The samples stay where they are: the
 * second merge writes each it keeps over m's arrays, at or before where it
 * read it, so that they are not held twice. */
static int merge_again(merger *m, pk_profile **out)
{
	merger again;
	int rc = merger_init(&again);
	size_t n = m->sample_stacks.count, types = m->types;
	again.types = types;
	again.canonical = true;
	again.sample_stacks = m->sample_stacks;
	again.sample_sets = m->sample_sets;
	again.values = m->values;
	again.sample_stacks.count = again.sample_sets.count = again.values.count = 0;
	m->sample_stacks = m->sample_sets = m->values = (pk__vec){0};
	if (rc == 0)
		rc = begin_strings(&again, m->q);
	if (rc == 0)
		rc = add_header(&again, m->q, NULL);
	if (rc == 0)
		rc = begin_source(&again, m->q);
	/* The arrays have room for all n, so adding to them moves nothing, and
	 * sample i is read before anything is written at or after it. */
	const uint32_t *stacks = again.sample_stacks.items, *sets = again.sample_sets.items;
	const int64_t *values = again.values.items;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (all_zero(values + i * types, types))
			continue;
		pk_sample s = {0};
		s.stack = stacks[i];
		if (sets[i] != 0)
			s.label_count = pk__profile_label_set(m->q, sets[i], &s.labels);
		rc = map_sample(&again, m->q, &s, sets[i], values + i * types);
	}
	pk_profile_free(m->q);
	merger_free(m);
	if (rc == 0)
		return finish(&again, out);
	merger_free(&again);
	pk_profile_free(again.q);
	return rc;
}

static int drop_cancelled(merger *m, bool *done);

/* Give m's samples to m->q and hand it to *out; m is freed either way. */
static int finish(merger *m, pk_profile **out)
{
	drop_tables(m);
	bool zero = false;
	for (size_t i = 0; !zero && i < m->sample_stacks.count; i++)
		zero = all_zero(&PK_VEC_AT(m->values, int64_t, i * m->types), m->types);
	bool done = false;
	int rc = zero ? drop_cancelled(m, &done) : 0;
	if (rc < 0) {
		pk_profile_free(m->q);
		merger_free(m);
		return rc;
	}
	if (zero && !done)
		return merge_again(m, out);
	if (pk__profile_label_set_count(m->q) == 0)
		pk__vec_free(&m->sample_sets); /* no sample has labels */
	pk_profile *q = m->q;
	pk__profile_take_samples(q, &m->sample_stacks, &m->sample_sets, &m->values);
	merger_free(m);
	pk__profile_shrink(q);
	*out = q;
	return 0;
}

int pk_merger_new(pk_merger **out, pk_error *err)
{
	pk_merger *m = pk__malloc(sizeof *m);
	int rc = m ? merger_init(m) : PK_ENOMEM;
	if (rc < 0) {
		pk_merger_free(m);
		return pk__error_set(err, rc, "out of memory");
	}
	*out = m;
	return 0;
}

/* A merger that failed or finished takes nothing more. */
static int refuse(const pk_merger *m, pk_error *err)
{
	return pk__error_set(err, m->failed,
	                     m->q ? "an earlier profile failed to merge"
	                          : "the merge is finished already");
}

int pk_merger_add(pk_merger *m, const pk_profile *p, int negate, pk_error *err)
{
	if (m->failed)
		return refuse(m, err);
	if (m->added == 0)
		m->types = pk_profile_sample_type_count(p);
	int rc = begin_strings(m, p);
	if (rc == 0)
		rc = add_header(m, p, err);
	if (rc == 0)
		rc = add_source(m, p, negate != 0);
	end_source(m);
	if (rc < 0) {
		m->failed = rc;
		/* incompatible profiles have their message already */
		return rc == PK_ENOMEM ? pk__error_set(err, rc, "out of memory") : rc;
	}
	m->added++;
	return 0;
}

/* ----------------------------------------------------- the first, adopted */

/* Taking the first profile as the merge's own, instead of copying it (a
 * diff's NEW: the copy was a second profile in memory, and ~25 ms on gogen
 * shallow medium), is possible when the copy would be the profile itself
 * but for the order of its parts and its samples (those of the same stack
 * and labels add up): none of its samples zero, its mappings, functions
 * and locations distinct, its label sets sorted. The copy numbers strings
 * and objects by first use and drops the unused: the profile is renumbered
 * so, and the result is the same to the byte. Anything else is copied. */

/* What walking p in the copy's order found: the new numbers. */
typedef struct first_use {
	const pk_profile *p;
	pk_str *str_new; /* p's string -> its number in the copy, or PK_NONE */
	pk__vec order;   /* pk_str: p's strings in the copy's order */
	uint32_t *stack_new, *loc_new, *fn_new, *map_new; /* or PK_NONE */
	size_t stacks, locs, fns, maps;                   /* how many so far */
	bool *set_seen;
	bool ok; /* the copy would be p renumbered */
} first_use;

/* A table of count entries of PK_NONE (or NULL if it cannot be made). */
static uint32_t *none_table(size_t count)
{
	uint32_t *t = pk__malloc(pk__mul(count + 1, sizeof *t));
	if (t != NULL)
		memset(t, 0xff, (count + 1) * sizeof *t);
	return t;
}

static int use_str(first_use *u, pk_str s)
{
	if (u->str_new[s] != PK_NONE)
		return 0;
	u->str_new[s] = (pk_str)u->order.count;
	return pk__vec_push(&u->order, sizeof s, &s, 1, NULL);
}

/* Whether this use of object i is its first: then it is numbered next. */
static bool first_time(uint32_t *new_index, size_t *next, uint32_t i)
{
	if (new_index[i] != PK_NONE)
		return false;
	new_index[i] = (uint32_t)(*next)++;
	return true;
}

static int use_mapping(first_use *u, uint32_t i)
{
	if (!first_time(u->map_new, &u->maps, i))
		return 0;
	const pk_mapping *mp = pk_profile_mapping(u->p, i);
	PK_FORWARD(use_str(u, mp->filename));
	return use_str(u, mp->build_id);
}

static int use_location(first_use *u, uint32_t i)
{
	const pk_profile *p = u->p;
	if (!first_time(u->loc_new, &u->locs, i))
		return 0;
	const pk_location *loc = pk_profile_location(p, i);
	if (loc->mapping != PK_NONE)
		PK_FORWARD(use_mapping(u, loc->mapping));
	const pk_line *lines;
	size_t n = pk_profile_location_lines(p, i, &lines);
	for (size_t l = 0; l < n; l++) {
		if (!first_time(u->fn_new, &u->fns, lines[l].function))
			continue;
		const pk_function *fn = pk_profile_function(p, lines[l].function);
		PK_FORWARD(use_str(u, fn->name));
		PK_FORWARD(use_str(u, fn->system_name));
		PK_FORWARD(use_str(u, fn->filename));
	}
	return 0;
}

static int use_labels(first_use *u, uint32_t set)
{
	if (u->set_seen[set])
		return 0;
	u->set_seen[set] = true;
	const pk_label *labels = pk__profile_labels(u->p);
	const uint32_t *ids;
	size_t n = pk__profile_label_set(u->p, set, &ids);
	for (size_t l = 0; l < n; l++) {
		const pk_label *c = &labels[ids[l]];
		/* the copy sorts a set's labels, stably */
		u->ok = u->ok && (l == 0 || cmp_label_keys(u->p, &labels[ids[l - 1]], c) <= 0);
		PK_FORWARD(use_str(u, c->key));
		PK_FORWARD(use_str(u, c->str));
		PK_FORWARD(use_str(u, c->num_unit));
	}
	return 0;
}

/* A sample of stack and label set (0: none) of u->p. */
static int use_sample(first_use *u, uint32_t stack, uint32_t set)
{
	if (first_time(u->stack_new, &u->stacks, stack)) {
		const uint32_t *locs;
		size_t depth = pk_profile_stack(u->p, stack, &locs);
		for (size_t d = 0; d < depth; d++)
			PK_FORWARD(use_location(u, locs[d]));
	}
	return set != 0 ? use_labels(u, set) : 0;
}

/* Walk u->p's header as pk_merger_add copies a first profile (add_header,
 * then begin_source); its samples follow, each with use_sample. */
static int walk_header(first_use *u)
{
	const pk_profile *p = u->p;
	PK_FORWARD(use_str(u, 0));
	for (size_t c = 0; c < pk_profile_comment_count(p); c++) {
		pk_str cs = pk_profile_comment(p, c);
		for (size_t j = 0; j < c; j++)
			u->ok = u->ok && pk_profile_comment(p, j) != cs; /* the copy drops it */
		PK_FORWARD(use_str(u, cs));
	}
	PK_FORWARD(use_str(u, pk_profile_default_sample_type(p)));
	PK_FORWARD(use_str(u, pk_profile_doc_url(p)));
	for (size_t i = 0; i < pk_profile_sample_type_count(p); i++) {
		pk_value_type vt = pk_profile_sample_type(p, i);
		PK_FORWARD(use_str(u, vt.type));
		PK_FORWARD(use_str(u, vt.unit));
	}
	pk_value_type pt = pk_profile_period_type(p);
	PK_FORWARD(use_str(u, pt.type));
	PK_FORWARD(use_str(u, pt.unit));
	PK_FORWARD(use_str(u, pk_profile_drop_frames(p)));
	PK_FORWARD(use_str(u, pk_profile_keep_frames(p)));
	return pk_profile_mapping_count(p) > 0 ? use_mapping(u, 0) : 0;
}

/* The tables of a walk of p (ok if all could be made). */
static bool first_use_init(first_use *u, const pk_profile *p)
{
	*u = (first_use){p, NULL, {0}, NULL, NULL, NULL, NULL, 0, 0, 0, 0, NULL, true};
	u->str_new = none_table(pk_profile_string_count(p));
	u->stack_new = none_table(pk_profile_stack_count(p));
	u->loc_new = none_table(pk_profile_location_count(p));
	u->fn_new = none_table(pk_profile_function_count(p));
	u->map_new = none_table(pk_profile_mapping_count(p));
	u->set_seen = pk__calloc(pk__profile_label_set_count(p) + 1, sizeof *u->set_seen);
	return u->str_new && u->stack_new && u->loc_new && u->fn_new && u->map_new && u->set_seen;
}

static void first_use_free(first_use *u)
{
	pk__free(u->str_new);
	pk__free(u->stack_new);
	pk__free(u->loc_new);
	pk__free(u->fn_new);
	pk__free(u->map_new);
	pk__free(u->set_seen);
	pk__vec_free(&u->order);
}

/* Renumber u->p (u's walk done) as the walk found. */
static int renumber(first_use *u, pk_profile *p, bool *done)
{
	pk__renumbering r = {u->order.items, u->order.count, u->map_new, u->fn_new, u->loc_new,
	                     u->stack_new,   u->maps,        u->fns,     u->locs,   u->stacks};
	return pk__profile_renumber(p, &r, done);
}

/* What merge_again makes of m, made of m->q in place: q's objects are
 * distinct and its label sets sorted, so the second merge would be q
 * without what only the samples that cancelled used, numbered by first
 * use (shallow medium diff: merge_again 58M instructions). *done false if
 * not (a label only those samples had: its strings would go); m's samples
 * and q, renumbered or not, are the same merge still. */
static int drop_cancelled(merger *m, bool *done)
{
	*done = false;
	first_use u;
	int rc = first_use_init(&u, m->q) ? walk_header(&u) : PK_ENOMEM;
	size_t n = m->sample_stacks.count, types = m->types, kept = 0;
	uint32_t *stacks = m->sample_stacks.items, *sets = m->sample_sets.items;
	int64_t *values = m->values.items;
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (!all_zero(values + i * types, types))
			rc = use_sample(&u, stacks[i], sets[i]);
	if (rc == 0 && u.ok) {
		/* the samples kept move down, their stacks renumbered */
		for (size_t i = 0; i < n; i++) {
			if (all_zero(values + i * types, types))
				continue;
			stacks[kept] = u.stack_new[stacks[i]];
			sets[kept] = sets[i];
			for (size_t t = 0; t < types; t++)
				values[kept * types + t] = values[i * types + t];
			kept++;
		}
		m->sample_stacks.count = m->sample_sets.count = kept;
		m->values.count = kept * types;
		rc = renumber(&u, m->q, done);
	}
	first_use_free(&u);
	return rc;
}

/* m's look-up tables of p's mappings, locations and functions, as the copy
 * builds them: *ok false if two are the same. */
static int index_objects(merger *m, const pk_profile *p, bool *ok)
{
	for (uint32_t i = 0; *ok && i < pk_profile_mapping_count(p); i++) {
		uint32_t *slot;
		PK_FORWARD(mapping_key(m, p, pk_profile_mapping(p, i)));
		PK_FORWARD(keymap_find(&m->mappings, m->key.items, m->key.count, &slot));
		*ok = *slot == PK_NONE;
		*slot = i;
	}
	for (uint32_t i = 0; *ok && i < pk_profile_function_count(p); i++) {
		const pk_function *f = pk_profile_function(p, i);
		uint32_t h = function_hash(f);
		size_t at;
		PK_FORWARD(pk__item_table_room(&m->fns));
		*ok = find_function(m, f, h, &at) == PK_NONE;
		pk__item_table_put(&m->fns, at, h, i);
	}
	for (uint32_t i = 0; *ok && i < pk_profile_location_count(p); i++) {
		const pk_location *c = pk_profile_location(p, i);
		const pk_line *lines;
		size_t n = pk_profile_location_lines(p, i, &lines), at;
		uint32_t h = location_hash(c, lines, n);
		PK_FORWARD(pk__item_table_room(&m->locs));
		*ok = find_location(m, c, lines, n, h, &at) == PK_NONE;
		pk__item_table_put(&m->locs, at, h, i);
	}
	return 0;
}

/* m's samples from p's, as the copy adds them: those of the same stack
 * and labels add up. */
static int index_samples(merger *m, const pk_profile *p, bool negate)
{
	size_t n = pk_profile_sample_count(p);
	PK_FORWARD(
	    pk__vec_reserve_exact(&m->stack_sample, sizeof(uint32_t), pk_profile_stack_count(p)));
	m->stack_sample.count = pk_profile_stack_count(p);
	if (m->stack_sample.count > 0)
		memset(m->stack_sample.items, 0xff, m->stack_sample.count * sizeof(uint32_t));
	PK_FORWARD(pk__vec_reserve(&m->vector, sizeof(int64_t), m->types));
	for (size_t si = 0; si < n; si++) {
		uint32_t stack, set = pk__profile_sample_label_set(p, si);
		const int64_t *v =
		    signed_values(m, pk__profile_sample_values(p, si, &stack), negate);
		PK_FORWARD(set != 0 ? add_sample(m, stack, set, v) : add_unlabelled(m, stack, v));
	}
	return 0;
}

/* Make p, the first profile, m's own if the copy would be p itself but
 * for the order of its parts (then renumbered): *adopted; if not, m is as
 * it was (p may be renumbered, the same profile). */
static int adopt(merger *m, pk_profile *p, bool negate, bool *adopted)
{
	*adopted = false;
	first_use u;
	int rc = first_use_init(&u, p) ? walk_header(&u) : PK_ENOMEM;
	for (size_t si = 0; rc == 0 && u.ok && si < pk_profile_sample_count(p); si++) {
		uint32_t stack;
		const int64_t *v = pk__profile_sample_values(p, si, &stack);
		u.ok = !all_zero(v, pk_profile_sample_type_count(p)); /* the copy drops it */
		rc = use_sample(&u, stack, pk__profile_sample_label_set(p, si));
	}
	/* The tables are built in a merger of their own, given to m if all
	 * is well. Renumbering p changes no content: a copy of p after is
	 * what it was before. */
	merger a;
	bool ok = rc == 0 && u.ok;
	if (ok && (rc = merger_init(&a)) < 0) {
		merger_free(&a);
		pk_profile_free(a.q);
	} else if (ok) {
		pk_profile_free(a.q);
		a.q = p;
		a.types = pk_profile_sample_type_count(p);
		rc = renumber(&u, p, &ok);
		if (rc == 0 && ok)
			rc = index_objects(&a, p, &ok);
		if (rc == 0 && ok)
			rc = pk__profile_index_stacks(p, &ok);
		if (rc == 0 && ok)
			rc = index_samples(&a, p, negate);
		if (rc == 0 && ok) {
			pk__profile_drop_samples(p);
			a.added = 1;
			merger_free(m);
			pk_profile_free(m->q);
			*m = a;
			*adopted = true;
		} else {
			a.q = NULL;
			merger_free(&a);
		}
	}
	first_use_free(&u);
	return rc;
}

int pk_merger_add_owned(pk_merger *m, pk_profile *p, int negate, pk_error *err)
{
	bool adopted = false;
	int rc = 0;
	if (!m->failed && m->added == 0)
		rc = adopt(m, p, negate != 0, &adopted);
	if (rc < 0) {
		pk_profile_free(p);
		m->failed = rc;
		return pk__error_set(err, rc, "out of memory");
	}
	if (!adopted) {
		rc = pk_merger_add(m, p, negate, err);
		pk_profile_free(p);
	}
	return rc;
}

int pk_merger_finish(pk_merger *m, pk_profile **out, pk_error *err)
{
	if (m->failed)
		return refuse(m, err);
	if (m->added == 0)
		return pk__error_set(err, PK_EINVAL, "no profiles to merge");
	int rc = finish(m, out);
	/* finish freed the tables, and q or handed it over */
	m->q = NULL;
	m->failed = PK_EINVAL;
	return rc < 0 ? pk__error_set(err, rc, "out of memory") : 0;
}

void pk_merger_free(pk_merger *m)
{
	if (m == NULL)
		return;
	merger_free(m);
	pk_profile_free(m->q);
	pk__free(m);
}

/* Merge in[0..n), in[i] negated where negate (NULL: none) says. */
static int merge(const pk_profile *const *in, const bool *negate, size_t n, pk_profile **out,
                 pk_error *err)
{
	if (n == 0)
		return pk__error_set(err, PK_EINVAL, "no profiles to merge");
	pk_merger *m;
	PK_FORWARD(pk_merger_new(&m, err));
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = pk_merger_add(m, in[i], negate && negate[i], err);
	if (rc == 0)
		rc = pk_merger_finish(m, out, err);
	pk_merger_free(m);
	return rc;
}

int pk_profile_merge(const pk_profile *const *in, size_t n, pk_profile **out, pk_error *err)
{
	return merge(in, NULL, n, out, err);
}

/* ------------------------------------------------------------------ diff */

static int with_base_label(const pk_profile *p, pk_profile **out)
{
	pk_profile *q;
	pk__copy_hooks h = {NULL, NULL, pk__no_samples, NULL};
	PK_FORWARD(pk__profile_copy(p, &h, &q));
	pk_str key, val;
	int rc = pk_profile_intern(q, "pprof::base", 11, &key);
	if (rc == 0)
		rc = pk_profile_intern(q, "true", 4, &val);
	pk__vec labels = {0};
	for (size_t i = 0; rc == 0 && i < pk_profile_sample_count(p); i++) {
		pk_sample s;
		pk_profile_sample(p, i, &s);
		rc = pk__sample_labels(p, &s, &labels);
		/* the base label replaces one the sample may have */
		pk_label *l = labels.items;
		size_t n = 0;
		for (size_t j = 0; j < labels.count; j++)
			if (l[j].key != key)
				l[n++] = l[j];
		labels.count = n;
		pk_label base = {key, val, 0, 0};
		if (rc == 0)
			rc = pk__vec_push(&labels, sizeof base, &base, 1, NULL);
		if (rc == 0)
			rc = pk_profile_add_sample(q, s.locations, s.depth, s.values, s.value_count,
			                           labels.items, labels.count);
	}
	pk__vec_free(&labels);
	if (rc < 0) {
		pk_profile_free(q);
		return rc;
	}
	*out = q;
	return 0;
}

int pk_profile_diff(const pk_profile *base, const pk_profile *p, int mode, pk_profile **out,
                    pk_error *err)
{
	if (mode != PK_DIFF_BASE && mode != PK_DIFF_DIFF_BASE)
		return pk__error_set(err, PK_EINVAL, "unknown diff mode %d", mode);
	pk_profile *labelled = NULL;
	int rc = 0;
	if (mode == PK_DIFF_DIFF_BASE && (rc = with_base_label(base, &labelled)) < 0)
		return pk__error_set(err, rc, "out of memory");
	/* the base is negated as it is merged, not copied negated first */
	const pk_profile *both[2] = {p, labelled ? labelled : base};
	static const bool negate[2] = {false, true};
	rc = merge(both, negate, 2, out, err);
	pk_profile_free(labelled);
	return rc;
}
