/* profile.c - the profile model: building, reading back, validating.
 *
 * Everything lives in a few growable arrays owned by the profile. A sample
 * costs 4 bytes for its stack, 4 for its labels once any sample has some,
 * and 4 for its values while few samples' differ (else the values). Its
 * stack, its labels and those values are interned, so samples that share
 * them share their storage. */
#include "internal.h"

#include <assert.h>
#include <string.h>

/* 40 bytes (so at most 4G lines): a profile has a location per frame of its
 * code. */
typedef struct location_rec {
	pk_location pub;
	uint32_t line_start;
	uint32_t line_count;
} location_rec;

/* A slot of the stack hash table. It holds what a lookup compares, so
 * finding a stack touches the slot and the stack's locations only: with
 * hundreds of thousands of stacks each touch is a cache miss. */
typedef struct stack_slot {
	uint64_t start; /* of the stack's locations in the pool */
	uint32_t index; /* stack index + 1; 0 = empty */
	uint32_t hash;
} stack_slot;

/* A slot of the table of distinct value vectors. */
typedef struct value_slot {
	uint32_t index; /* vector index + 1; 0 = empty */
	uint32_t hash;
} value_slot;

/* A slot of the table of labels: the label itself, so that finding one
 * reads the slots only (an importer looks up every label it reads). */
typedef struct label_slot {
	pk_str key, str;
	int64_t num;
	pk_str num_unit;
	uint32_t index; /* label index + 1; 0 = empty */
} label_slot;

struct pk_profile {
	pk__strtab *strings;
	pk__vec sample_types; /* pk_value_type */
	pk_str default_sample_type;
	pk_value_type period_type;
	int64_t period, time_nanos, duration_nanos;
	pk_str drop_frames, keep_frames, doc_url;
	pk__vec comments;  /* pk_str */
	pk__vec mappings;  /* pk_mapping */
	pk__vec functions; /* pk_function */
	pk__vec locations; /* location_rec */
	pk__vec lines;     /* pk_line */
	pk__vec stacks;    /* uint64_t: where each stack's locations start in the pool */
	/* uint32_t, the pool: each stack is its depth then its locations */
	pk__vec stack_locations;
	stack_slot *stack_slots; /* open addressing, a power of two of them */
	size_t stack_slot_count;
	pk__vec samples; /* uint32_t: each sample's stack */
	/* uint32_t: each sample's label set (0: none); empty until a sample
	 * has labels, as most profiles' samples have none */
	pk__vec sample_labels;
	/* int64_t, sample_types.count per vector: each sample's, or (until
	 * own_values) each distinct one's */
	pk__vec values;
	/* uint32_t: each sample's vector in values. A CPU profile's values
	 * are a few multiples of its period, so samples share them; once many
	 * are distinct (a heap profile's), samples keep their own. */
	pk__vec value_refs;
	value_slot *value_slots; /* open addressing, a power of two of them */
	size_t value_slot_count;
	bool own_values;
	/* pk_label: each distinct label once. Samples refer to sets of
	 * label indices, interned as stacks are: a label takes 4 bytes in a
	 * set, where most profiles have few distinct labels (a handler, a
	 * thread) and few sets, and some a set per sample. */
	pk__vec labels;
	label_slot *label_slots; /* open addressing, a power of two of them */
	size_t label_slot_count;
	/* uint32_t, the sets' pool: each set is its count then its labels */
	pk__vec set_labels;
	/* uint32_t: where each set's labels start in the pool; set 0 is the
	 * empty one, once there are sets */
	pk__vec label_sets;
	pk__item_table set_table; /* label sets by content */
};

int pk_profile_new(pk_profile **out)
{
	pk_profile *p = pk__calloc(1, sizeof *p);
	if (p == NULL)
		return PK_ENOMEM;
	if (pk__strtab_new(&p->strings) < 0) {
		pk__free(p);
		return PK_ENOMEM;
	}
	*out = p;
	return 0;
}

void pk_profile_free(pk_profile *p)
{
	if (p == NULL)
		return;
	pk__strtab_free(p->strings);
	pk__vec *vecs[] = {&p->sample_types, &p->comments,      &p->mappings,  &p->functions,
	                   &p->locations,    &p->lines,         &p->stacks,    &p->stack_locations,
	                   &p->samples,      &p->sample_labels, &p->values,    &p->value_refs,
	                   &p->labels,       &p->set_labels,    &p->label_sets};
	for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++)
		pk__vec_free(vecs[i]);
	pk__free(p->stack_slots);
	pk__free(p->value_slots);
	pk__free(p->label_slots);
	pk__free(p->set_table.slots);
	pk__free(p);
}

/* --------------------------------------------------------------- strings */

int pk_profile_intern(pk_profile *p, const char *s, size_t len, pk_str *out)
{
	if (s == NULL && len > 0)
		return PK_EINVAL;
	return pk__strtab_intern(p->strings, s ? s : "", len, out);
}

int pk__profile_reserve_strings(pk_profile *p, size_t more)
{
	return pk__strtab_reserve(p->strings, more);
}

int pk__profile_intern_from(pk_profile *q, const pk_profile *p, pk_str s, bool known_new,
                            pk_str *out)
{
	return pk__strtab_intern_from(q->strings, p->strings, s, known_new, out);
}

void pk__profile_find_strings(const pk_profile *q, const pk_profile *p, pk_str *out)
{
	pk__strtab_find_from(q->strings, p->strings, out);
}

const char *pk_profile_string(const pk_profile *p, pk_str s)
{
	return pk__strtab_get(p->strings, s, NULL);
}

size_t pk_profile_string_length(const pk_profile *p, pk_str s)
{
	size_t len;
	pk__strtab_get(p->strings, s, &len);
	return len;
}

size_t pk_profile_string_count(const pk_profile *p)
{
	return pk__strtab_count(p->strings);
}

static bool str_ok(const pk_profile *p, pk_str s)
{
	return s < pk__strtab_count(p->strings);
}

/* ---------------------------------------------------------------- header */

int pk_profile_add_sample_type(pk_profile *p, pk_value_type vt)
{
	if (!str_ok(p, vt.type) || !str_ok(p, vt.unit))
		return PK_EINVAL;
	if (p->samples.count > 0)
		return PK_EINVAL; /* the value stride is fixed by the first sample */
	return pk__vec_push(&p->sample_types, sizeof vt, &vt, 1, NULL);
}

void pk__profile_set_sample_type(pk_profile *p, size_t i, pk_value_type vt)
{
	assert(i < p->sample_types.count && str_ok(p, vt.type) && str_ok(p, vt.unit));
	PK_VEC_AT(p->sample_types, pk_value_type, i) = vt;
}

size_t pk_profile_sample_type_count(const pk_profile *p)
{
	return p->sample_types.count;
}

pk_value_type pk_profile_sample_type(const pk_profile *p, size_t i)
{
	if (i >= p->sample_types.count)
		return (pk_value_type){0, 0};
	return PK_VEC_AT(p->sample_types, pk_value_type, i);
}

size_t pk__profile_value_stride(const pk_profile *p)
{
	return p->sample_types.count;
}

/* Plain header fields: one setter and getter each. */
#define PK_HEADER_FIELD(type, name)                                                                \
	void pk_profile_set_##name(pk_profile *p, type v)                                          \
	{                                                                                          \
		p->name = v;                                                                       \
	}                                                                                          \
	type pk_profile_##name(const pk_profile *p)                                                \
	{                                                                                          \
		return p->name;                                                                    \
	}

PK_HEADER_FIELD(pk_str, default_sample_type)
PK_HEADER_FIELD(pk_value_type, period_type)
PK_HEADER_FIELD(int64_t, period)
PK_HEADER_FIELD(int64_t, time_nanos)
PK_HEADER_FIELD(int64_t, duration_nanos)
PK_HEADER_FIELD(pk_str, drop_frames)
PK_HEADER_FIELD(pk_str, keep_frames)
PK_HEADER_FIELD(pk_str, doc_url)

int pk_profile_add_comment(pk_profile *p, pk_str comment)
{
	if (!str_ok(p, comment))
		return PK_EINVAL;
	return pk__vec_push(&p->comments, sizeof comment, &comment, 1, NULL);
}

size_t pk_profile_comment_count(const pk_profile *p)
{
	return p->comments.count;
}

pk_str pk_profile_comment(const pk_profile *p, size_t i)
{
	return i < p->comments.count ? PK_VEC_AT(p->comments, pk_str, i) : 0;
}

/* --------------------------------------------------------------- objects */

/* Append one record; *out gets its index. Indices must fit in 32 bits. */
/* Inline, the record copied as the words it is: importers add tens of
 * thousands of functions and locations, where pk__vec_push's call and
 * memcpy of a size it is told cost more than the record. */
static inline int push_object(pk__vec *v, size_t elem, const void *rec, uint32_t *out)
{
	if (v->count >= PK_NONE)
		return PK_ENOMEM;
	PK_FORWARD(pk__vec_reserve(v, elem, 1));
	memcpy((unsigned char *)v->items + v->count * elem, rec, elem);
	if (out)
		*out = (uint32_t)v->count;
	v->count++;
	return 0;
}

int pk_profile_add_mapping(pk_profile *p, const pk_mapping *m, uint32_t *out)
{
	if (!str_ok(p, m->filename) || !str_ok(p, m->build_id))
		return PK_EINVAL;
	pk_mapping rec = *m;
	if (rec.id == 0)
		rec.id = p->mappings.count + 1;
	return push_object(&p->mappings, sizeof rec, &rec, out);
}

size_t pk_profile_mapping_count(const pk_profile *p)
{
	return p->mappings.count;
}

const pk_mapping *pk_profile_mapping(const pk_profile *p, size_t i)
{
	return i < p->mappings.count ? &PK_VEC_AT(p->mappings, pk_mapping, i) : NULL;
}

int pk_profile_add_function(pk_profile *p, const pk_function *f, uint32_t *out)
{
	if (!str_ok(p, f->name) || !str_ok(p, f->system_name) || !str_ok(p, f->filename))
		return PK_EINVAL;
	pk_function rec = *f;
	if (rec.id == 0)
		rec.id = p->functions.count + 1;
	return push_object(&p->functions, sizeof rec, &rec, out);
}

size_t pk_profile_function_count(const pk_profile *p)
{
	return p->functions.count;
}

const pk_function *pk_profile_function(const pk_profile *p, size_t i)
{
	return i < p->functions.count ? &PK_VEC_AT(p->functions, pk_function, i) : NULL;
}

int pk_profile_add_location(pk_profile *p, const pk_location *loc, const pk_line *lines,
                            size_t line_count, uint32_t *out)
{
	if (loc->mapping != PK_NONE && loc->mapping >= p->mappings.count)
		return PK_EINVAL;
	if (line_count > UINT32_MAX || (line_count > 0 && lines == NULL))
		return PK_EINVAL;
	for (size_t i = 0; i < line_count; i++)
		if (lines[i].function >= p->functions.count)
			return PK_EINVAL;
	if (line_count > UINT32_MAX - p->lines.count)
		return PK_ENOMEM;
	location_rec rec = {*loc, (uint32_t)p->lines.count, (uint32_t)line_count};
	if (rec.pub.id == 0)
		rec.pub.id = p->locations.count + 1;
	PK_FORWARD(pk__vec_reserve(&p->lines, sizeof *lines, line_count));
	PK_FORWARD(push_object(&p->locations, sizeof rec, &rec, out));
	/* nearly always one line: copied in place, not by a memcpy call */
	pk_line *to = &PK_VEC_AT(p->lines, pk_line, p->lines.count);
	for (size_t i = 0; i < line_count; i++)
		to[i] = lines[i];
	p->lines.count += line_count;
	return 0;
}

size_t pk_profile_location_count(const pk_profile *p)
{
	return p->locations.count;
}

const pk_location *pk_profile_location(const pk_profile *p, size_t i)
{
	return i < p->locations.count ? &PK_VEC_AT(p->locations, location_rec, i).pub : NULL;
}

/* What an empty list of lines points at: the array may not exist yet, and
 * even an empty offset from NULL is undefined. */
static const pk_line no_lines[1];

size_t pk_profile_location_lines(const pk_profile *p, size_t i, const pk_line **lines)
{
	if (i >= p->locations.count) {
		*lines = NULL;
		return 0;
	}
	const location_rec *rec = &PK_VEC_AT(p->locations, location_rec, i);
	*lines = rec->line_count ? &PK_VEC_AT(p->lines, pk_line, rec->line_start) : no_lines;
	return rec->line_count;
}

/* ---------------------------------------------------------------- stacks */

uint32_t pk__stack_hash(const uint32_t *locs, size_t depth)
{
	/* Two lanes of 8 bytes each step: an import hashes a stack per
	 * sample, and one lane's chain of multiplies was twice as long. */
	uint64_t a = 0x9e3779b97f4a7c15u ^ depth, b = 0xc2b2ae3d27d4eb4fu;
	size_t i = 0;
	for (; i + 4 <= depth; i += 4) {
		uint64_t x, y;
		memcpy(&x, locs + i, 8);
		memcpy(&y, locs + i + 2, 8);
		a = (a ^ x) * 0xff51afd7ed558ccdu;
		b = (b ^ y) * 0xc4ceb9fe1a85ec53u;
		a ^= a >> 32;
		b ^= b >> 32;
	}
	for (; i < depth; i++)
		a = (a ^ locs[i]) * 0x100000001b3u;
	uint64_t h = (a ^ b * 0x9e3779b97f4a7c15u) * 0xc4ceb9fe1a85ec53u;
	h ^= h >> 29;
	return (uint32_t)(h ^ (h >> 32));
}

/* Whether a table of n slots is too full for one stack more than count.
 * Up to 3/4 full: a lookup reads slots that lie side by side, where a
 * larger table would be an import's largest array but for the input. */
static bool stack_slots_full(size_t count, size_t n)
{
	return (count + 1) * 4 > n * 3;
}

static int rebuild_stack_slots(pk_profile *p, bool *distinct);

static int grow_stack_slots(pk_profile *p)
{
	if (p->stack_slots == NULL && p->stacks.count > 0)
		return rebuild_stack_slots(p, NULL);
	stack_slot *grown =
	    pk__hashed_slots_grow(p->stack_slots, &p->stack_slot_count, 1024, sizeof *grown,
	                          offsetof(stack_slot, index), offsetof(stack_slot, hash));
	if (grown == NULL)
		return PK_ENOMEM;
	p->stack_slots = grown;
	return 0;
}

/* memcmp of two stacks, inline: most compared are equal, and short
 * enough that calling memcmp cost more than the comparing. Two locations
 * a step: one a step was 7 instructions a location. */
static bool same_locations(const uint32_t *a, const uint32_t *b, size_t depth)
{
	uint64_t diff = 0;
	size_t i = 0;
	for (; i + 2 <= depth; i += 2) {
		uint64_t x, y;
		memcpy(&x, a + i, sizeof x);
		memcpy(&y, b + i, sizeof y);
		diff |= x ^ y;
	}
	if (i < depth)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

/* The slot of the stack of the depth locations locs (of hash h), or the
 * empty slot where it goes. */
static size_t find_stack(const pk_profile *p, const uint32_t *locs, size_t depth, uint32_t h)
{
	const uint32_t *pool = p->stack_locations.items;
	size_t mask = p->stack_slot_count - 1;
	size_t at = h & mask;
	for (const stack_slot *s; (s = &p->stack_slots[at])->index != 0; at = (at + 1) & mask)
		if (s->hash == h && pool[s->start - 1] == depth &&
		    same_locations(pool + s->start, locs, depth))
			break;
	return at;
}

/* The table pk__profile_shrink dropped, built again for every stack;
 * *distinct (if asked) says whether no two stacks are equal (look-ups then
 * find the first of equal ones). */
static int rebuild_stack_slots(pk_profile *p, bool *distinct)
{
	size_t n = 1024;
	while (stack_slots_full(p->stacks.count, n))
		n *= 2;
	p->stack_slots = pk__calloc(n, sizeof *p->stack_slots);
	if (p->stack_slots == NULL)
		return PK_ENOMEM;
	p->stack_slot_count = n;
	const uint32_t *pool = p->stack_locations.items;
	bool all = true;
	for (size_t i = 0; i < p->stacks.count; i++) {
		uint64_t start = PK_VEC_AT(p->stacks, uint64_t, i);
		uint32_t h = pk__stack_hash(pool + start, pool[start - 1]);
		size_t at = find_stack(p, pool + start, pool[start - 1], h);
		if (p->stack_slots[at].index == 0)
			p->stack_slots[at] = (stack_slot){start, (uint32_t)(i + 1), h};
		else
			all = false;
	}
	if (distinct)
		*distinct = all;
	return 0;
}

int pk__profile_index_stacks(pk_profile *p, bool *distinct)
{
	pk__profile_shrink(p);
	return rebuild_stack_slots(p, distinct);
}

/* Make the depth locations in the pool's tail (after room for the depth
 * word, all reserved) the next stack; its index. */
static uint32_t push_tail_stack(pk_profile *p, size_t depth)
{
	uint32_t *pool = p->stack_locations.items;
	size_t start = p->stack_locations.count + 1, index = p->stacks.count++;
	PK_VEC_AT(p->stacks, uint64_t, index) = start;
	pool[start - 1] = (uint32_t)depth;
	p->stack_locations.count = start + depth;
	return (uint32_t)index;
}

/* The index of the stack of the depth locations locs (of hash h), added
 * if new. locs NULL means the locations lie in the pool's free tail, after
 * the word kept for its depth (reserved by the caller): then the tail
 * becomes the new stack's storage, else it is left as scratch, so a sample
 * whose stack was seen before costs no copy. */
static int intern_stack(pk_profile *p, const uint32_t *locs, size_t depth, uint32_t h,
                        uint32_t *out)
{
	if (p->stacks.count >= PK_NONE - 1 || p->stack_slot_count > UINT32_MAX)
		return PK_ENOMEM;
	PK_FORWARD(pk__vec_reserve(&p->stacks, sizeof(uint64_t), 1));
	/* Room for the depth word and the locations; with locations in the
	 * tail, pk__profile_stack_room reserved it already. */
	PK_FORWARD(pk__vec_reserve(&p->stack_locations, sizeof(uint32_t), 1 + depth));
	if (stack_slots_full(p->stacks.count, p->stack_slot_count))
		PK_FORWARD(grow_stack_slots(p));
	uint32_t *pool = p->stack_locations.items;
	size_t start = p->stack_locations.count + 1;
	if (locs == NULL) {
		locs = pool + start;
		h = pk__stack_hash(locs, depth);
	}
	size_t at = find_stack(p, locs, depth, h);
	if (p->stack_slots[at].index != 0) {
		*out = p->stack_slots[at].index - 1;
		return 0;
	}
	if (locs != pool + start && depth > 0)
		memcpy(pool + start, locs, depth * sizeof *locs);
	p->stack_slots[at] = (stack_slot){start, (uint32_t)(p->stacks.count + 1), h};
	*out = push_tail_stack(p, depth);
	return 0;
}

int pk__profile_append_tail_stack(pk_profile *p, size_t depth, uint32_t *out)
{
	if (depth > UINT32_MAX || p->stacks.count >= PK_NONE - 1)
		return PK_ENOMEM;
	PK_FORWARD(pk__vec_reserve(&p->stacks, sizeof(uint64_t), 1));
	PK_FORWARD(pk__vec_reserve(&p->stack_locations, sizeof(uint32_t), 1 + depth));
	pk__profile_shrink(p);
	*out = push_tail_stack(p, depth);
	return 0;
}

void pk__profile_prefetch_stack(const pk_profile *p, uint32_t hash, bool locations)
{
	if (p->stack_slots == NULL)
		return;
	const stack_slot *s = &p->stack_slots[hash & (p->stack_slot_count - 1)];
	if (!locations)
		__builtin_prefetch(s);
	else if (s->index != 0 && s->hash == hash)
		__builtin_prefetch((const uint32_t *)p->stack_locations.items + s->start - 1);
}

uint32_t pk__profile_find_stack(const pk_profile *p, const uint32_t *locs, size_t depth,
                                uint32_t hash)
{
	if (p->stack_slots == NULL)
		return PK_NONE;
	size_t at = find_stack(p, locs, depth, hash);
	return p->stack_slots[at].index - 1; /* PK_NONE if empty */
}

int pk__profile_intern_stack(pk_profile *p, const uint32_t *locs, size_t depth, uint32_t hash,
                             uint32_t *out)
{
	if (depth > UINT32_MAX)
		return PK_ENOMEM;
	return intern_stack(p, locs, depth, hash, out);
}

int pk__profile_stacks_from_ids(pk_profile *p, const pk__idmap *ids, size_t direct)
{
	uint32_t *pool = p->stack_locations.items;
	for (size_t i = 0; i < p->stacks.count; i++) {
		uint64_t start = PK_VEC_AT(p->stacks, uint64_t, i);
		/* Go numbers locations 1..n: then nothing changes. */
		for (uint32_t *loc = pool + start, *end = loc + pool[start - 1]; loc < end; loc++)
			if (*loc >= direct &&
			    (*loc = pk__idmap_get(ids, (uint64_t)*loc + 1)) == PK_NONE)
				return PK_ENOTFOUND;
	}
	/* The hashes were of the ids: the table is built again when needed. */
	pk__profile_shrink(p);
	return 0;
}

int pk__profile_stack_room(pk_profile *p, size_t depth, size_t more, uint32_t **out)
{
	pk__vec *pool = &p->stack_locations;
	if (depth > SIZE_MAX - 1 - pool->count)
		return PK_ENOMEM;
	/* With locations in the tail, the room for them and the depth word
	 * is there: this reserves nothing then. */
	PK_FORWARD(pk__vec_reserve(pool, sizeof(uint32_t), 1 + depth));
	/* Counted while the pool grows, the tail's words are kept. */
	pool->count += 1 + depth;
	int rc = pk__vec_reserve(pool, sizeof(uint32_t), more);
	pool->count -= 1 + depth;
	PK_FORWARD(rc);
	*out = (uint32_t *)pool->items + pool->count + 1;
	return 0;
}

int pk__profile_reserve_objects(pk_profile *p, size_t mappings, size_t functions, size_t locations,
                                size_t lines)
{
	if (mappings > PK_NONE || functions > PK_NONE || locations > PK_NONE || lines > PK_NONE)
		return 0; /* a hint only; adding them will say what is wrong */
	PK_FORWARD(pk__vec_reserve_exact(&p->mappings, sizeof(pk_mapping), mappings));
	PK_FORWARD(pk__vec_reserve_exact(&p->functions, sizeof(pk_function), functions));
	PK_FORWARD(pk__vec_reserve_exact(&p->locations, sizeof(location_rec), locations));
	return pk__vec_reserve_exact(&p->lines, sizeof(pk_line), lines);
}

void pk__profile_shrink(pk_profile *p)
{
	pk__free(p->stack_slots);
	p->stack_slots = NULL;
	p->stack_slot_count = 0;
}

/* Room for exactly more elements in v. One that grew by doubling (the
 * samples an importer read before it knew their count) gives its spare
 * room back: past 8 MiB, its huge pages (see pk__realloc) would be
 * resident to the next 2 MiB, unfilled. */
static int fit(pk__vec *v, size_t elem, size_t more)
{
	size_t need = v->count + more;
	if (v->capacity <= need || need == 0)
		return pk__vec_reserve_exact(v, elem, more);
	void *items = pk__realloc(v->items, v->count * elem, need * elem);
	if (items != NULL) { /* else it stays as it was */
		v->items = items;
		v->capacity = need;
	}
	return 0;
}

int pk__profile_reserve_samples(pk_profile *p, size_t samples)
{
	if (samples > PK_NONE)
		return 0; /* a hint only; adding them will say what is wrong */
	PK_FORWARD(fit(&p->samples, sizeof(uint32_t), samples));
	if (!p->own_values)
		return fit(&p->value_refs, sizeof(uint32_t), samples);
	return fit(&p->values, sizeof(int64_t), pk__mul(samples, p->sample_types.count));
}

size_t pk_profile_stack_count(const pk_profile *p)
{
	return p->stacks.count;
}

size_t pk_profile_stack(const pk_profile *p, size_t s, const uint32_t **locations)
{
	if (s >= p->stacks.count) {
		*locations = NULL;
		return 0;
	}
	const uint32_t *at =
	    (const uint32_t *)p->stack_locations.items + PK_VEC_AT(p->stacks, uint64_t, s);
	*locations = at;
	return at[-1];
}

/* --------------------------------------------------------------- samples */

static uint32_t hash_label(pk_str key, pk_str str, int64_t num, pk_str num_unit)
{
	uint64_t h = (key ^ (uint64_t)str << 32) * 0xff51afd7ed558ccdu;
	h = (h ^ (uint64_t)num) * 0xc4ceb9fe1a85ec53u;
	h = (h ^ num_unit) * 0xff51afd7ed558ccdu;
	return (uint32_t)(h ^ h >> 32);
}

/* Room in the table and the array for more labels: up to 3/4 full, as the
 * stacks' table. */
static int label_room(pk_profile *p, size_t more)
{
	if (more >= PK_NONE - 1 - p->labels.count)
		return PK_ENOMEM;
	PK_FORWARD(pk__vec_reserve(&p->labels, sizeof(pk_label), more));
	size_t n = p->label_slot_count ? p->label_slot_count : 256;
	while ((p->labels.count + more) * 4 > n * 3)
		n *= 2;
	if (n == p->label_slot_count)
		return 0;
	label_slot *grown = pk__calloc(n, sizeof *grown);
	if (grown == NULL)
		return PK_ENOMEM;
	for (size_t i = 0; i < p->label_slot_count; i++) {
		const label_slot *s = &p->label_slots[i];
		if (s->index == 0)
			continue;
		size_t at = hash_label(s->key, s->str, s->num, s->num_unit) & (n - 1);
		while (grown[at].index != 0)
			at = (at + 1) & (n - 1);
		grown[at] = *s;
	}
	pk__free(p->label_slots);
	p->label_slots = grown;
	p->label_slot_count = n;
	return 0;
}

/* The index of label l, of hash h, with room for it (label_room). */
static uint32_t intern_label(pk_profile *p, const pk_label *l, uint32_t h)
{
	size_t mask = p->label_slot_count - 1, at = h & mask;
	for (const label_slot *s; (s = &p->label_slots[at])->index != 0; at = (at + 1) & mask)
		if (s->key == l->key && s->str == l->str && s->num == l->num &&
		    s->num_unit == l->num_unit)
			return s->index - 1;
	size_t index = p->labels.count++;
	PK_VEC_AT(p->labels, pk_label, index) = *l;
	p->label_slots[at] = (label_slot){l->key, l->str, l->num, l->num_unit, (uint32_t)index + 1};
	return (uint32_t)index;
}

/* The string refs of p's header and objects, each with f. */
static void each_string(pk_profile *p, void (*f)(pk_str *s, const pk_str *map, bool *ok),
                        const pk_str *map, bool *ok)
{
	for (size_t i = 0; i < p->sample_types.count; i++) {
		pk_value_type *vt = &PK_VEC_AT(p->sample_types, pk_value_type, i);
		f(&vt->type, map, ok);
		f(&vt->unit, map, ok);
	}
	pk_str *header[] = {&p->default_sample_type, &p->period_type.type, &p->period_type.unit,
	                    &p->drop_frames,         &p->keep_frames,      &p->doc_url};
	for (size_t i = 0; i < sizeof header / sizeof header[0]; i++)
		f(header[i], map, ok);
	for (size_t i = 0; i < p->comments.count; i++)
		f(&PK_VEC_AT(p->comments, pk_str, i), map, ok);
	for (size_t i = 0; i < p->mappings.count; i++) {
		pk_mapping *m = &PK_VEC_AT(p->mappings, pk_mapping, i);
		f(&m->filename, map, ok);
		f(&m->build_id, map, ok);
	}
	for (size_t i = 0; i < p->functions.count; i++) {
		pk_function *fn = &PK_VEC_AT(p->functions, pk_function, i);
		f(&fn->name, map, ok);
		f(&fn->system_name, map, ok);
		f(&fn->filename, map, ok);
	}
	for (size_t i = 0; i < p->labels.count; i++) {
		pk_label *l = &PK_VEC_AT(p->labels, pk_label, i);
		f(&l->key, map, ok);
		f(&l->str, map, ok);
		f(&l->num_unit, map, ok);
	}
}

static void check_string(pk_str *s, const pk_str *map, bool *ok)
{
	*ok = *ok && map[*s] != PK_NONE;
}

static void renumber_string(pk_str *s, const pk_str *map, bool *ok)
{
	(void)ok;
	*s = map[*s];
}

/* p's strings renumbered as r says (see pk__profile_renumber). */
static int renumber_strings(pk_profile *p, const pk__renumbering *r, bool *done)
{
	size_t count = pk__strtab_count(p->strings);
	pk_str *map = pk__malloc(pk__mul(count, sizeof *map));
	if (map == NULL)
		return PK_ENOMEM;
	memset(map, 0xff, count * sizeof *map);
	for (size_t i = 0; i < r->string_count; i++)
		map[r->strings[i]] = (pk_str)i;
	*done = true;
	each_string(p, check_string, map, done);
	int rc = *done ? pk__strtab_reorder(p->strings, r->strings, r->string_count) : 0;
	if (rc == 0 && *done) {
		each_string(p, renumber_string, map, done);
		/* the labels' table holds their strings: built again */
		size_t labels = p->labels.count;
		pk__free(p->label_slots);
		p->label_slots = NULL;
		p->label_slot_count = 0;
		p->labels.count = 0;
		rc = labels > 0 ? label_room(p, labels) : 0;
		for (size_t i = 0; rc == 0 && i < labels; i++) {
			const pk_label *l = &PK_VEC_AT(p->labels, pk_label, i);
			intern_label(p, l, hash_label(l->key, l->str, l->num, l->num_unit));
		}
		p->labels.count = labels;
	}
	pk__free(map);
	return rc;
}

/* The kept of count records of elem bytes in v, record i at new[i]: kept
 * of them, in a new array (*out) whose ids (if id) are index + 1. */
static int renumber_records(const pk__vec *v, size_t elem, const uint32_t *new_index, size_t kept,
                            bool id, pk__vec *out)
{
	*out = (pk__vec){0};
	PK_FORWARD(pk__vec_reserve_exact(out, elem, kept));
	for (size_t i = 0; i < v->count; i++) {
		if (new_index[i] == PK_NONE)
			continue;
		unsigned char *dst = (unsigned char *)out->items + new_index[i] * elem;
		memcpy(dst, (const unsigned char *)v->items + i * elem, elem);
		if (id) {
			/* every record kind renumbered begins with its id */
			uint64_t n = new_index[i] + 1;
			memcpy(dst, &n, sizeof n);
		}
	}
	out->count = kept;
	return 0;
}

int pk__profile_renumber(pk_profile *p, const pk__renumbering *r, bool *done)
{
	pk__vec maps = {0}, fns = {0}, locs = {0}, stacks = {0};
	int rc = renumber_records(&p->mappings, sizeof(pk_mapping), r->mappings, r->mapping_count,
	                          true, &maps);
	if (rc == 0)
		rc = renumber_records(&p->functions, sizeof(pk_function), r->functions,
		                      r->function_count, true, &fns);
	if (rc == 0)
		rc = renumber_records(&p->locations, sizeof(location_rec), r->locations,
		                      r->location_count, true, &locs);
	if (rc == 0)
		rc = renumber_records(&p->stacks, sizeof(uint64_t), r->stacks, r->stack_count,
		                      false, &stacks);
	if (rc < 0) {
		pk__vec *made[] = {&maps, &fns, &locs, &stacks};
		for (size_t i = 0; i < sizeof made / sizeof made[0]; i++)
			pk__vec_free(made[i]);
		return rc;
	}
	for (size_t i = 0; i < locs.count; i++) {
		pk_location *l = &PK_VEC_AT(locs, location_rec, i).pub;
		if (l->mapping != PK_NONE)
			l->mapping = r->mappings[l->mapping];
	}
	/* the lines of locations dropped are no one's (PK_NONE, if their
	 * functions went too) */
	for (size_t i = 0; i < p->lines.count; i++) {
		pk_line *l = &PK_VEC_AT(p->lines, pk_line, i);
		if (l->function < p->functions.count)
			l->function = r->functions[l->function];
	}
	uint32_t *pool = p->stack_locations.items;
	for (size_t i = 0; i < stacks.count; i++) {
		uint64_t start = PK_VEC_AT(stacks, uint64_t, i);
		for (uint32_t *loc = pool + start, *end = loc + pool[start - 1]; loc < end; loc++)
			*loc = r->locations[*loc];
	}
	for (size_t i = 0; i < p->samples.count; i++) {
		uint32_t *stack = &PK_VEC_AT(p->samples, uint32_t, i);
		*stack = r->stacks[*stack];
	}
	pk__vec_free(&p->mappings);
	pk__vec_free(&p->functions);
	pk__vec_free(&p->locations);
	pk__vec_free(&p->stacks);
	p->mappings = maps;
	p->functions = fns;
	p->locations = locs;
	p->stacks = stacks;
	pk__profile_shrink(p); /* its hashes were of other numbers */
	return renumber_strings(p, r, done);
}

int pk__profile_intern_label(pk_profile *p, const pk_label *l, uint32_t *out)
{
	PK_FORWARD(label_room(p, 1));
	*out = intern_label(p, l, hash_label(l->key, l->str, l->num, l->num_unit));
	return 0;
}

int pk__profile_labels_from_strings(pk_profile *p, const pk_str *strings, size_t count)
{
	/* The table keeps its size: emptied, it takes each label again, in
	 * its place in the array, hashed anew. */
	size_t n = p->labels.count;
	if (n == 0)
		return 0;
	memset(p->label_slots, 0, p->label_slot_count * sizeof *p->label_slots);
	p->labels.count = 0;
	for (size_t i = 0; i < n; i++) {
		pk_label l = PK_VEC_AT(p->labels, pk_label, i);
		if (l.key >= count || l.str >= count || l.num_unit >= count)
			return PK_ENOTFOUND;
		l = (pk_label){strings[l.key], strings[l.str], l.num, strings[l.num_unit]};
		if (intern_label(p, &l, hash_label(l.key, l.str, l.num, l.num_unit)) != i)
			return PK_ENOTFOUND;
	}
	return 0;
}

int pk__profile_label_room(pk_profile *p, size_t count, uint32_t **out)
{
	pk__vec *pool = &p->set_labels;
	if (p->label_sets.count == 0) {
		/* set 0, the empty one: a count of 0 */
		uint32_t zero = 0, start = 1;
		PK_FORWARD(pk__vec_reserve(pool, sizeof zero, 1));
		PK_FORWARD(pk__vec_push(&p->label_sets, sizeof start, &start, 1, NULL));
		(void)pk__vec_push(pool, sizeof zero, &zero, 1, NULL);
	}
	if (count >= UINT32_MAX - 1 - pool->count)
		return PK_ENOMEM; /* a set's start must fit in 32 bits */
	PK_FORWARD(pk__vec_reserve(pool, sizeof(uint32_t), 1 + count));
	*out = (uint32_t *)pool->items + pool->count + 1;
	return 0;
}

int pk__profile_intern_tail_labels(pk_profile *p, size_t count, uint32_t *out)
{
	if (p->label_sets.count >= PK_NONE - 1)
		return PK_ENOMEM;
	PK_FORWARD(pk__vec_reserve(&p->label_sets, sizeof(uint32_t), 1));
	PK_FORWARD(pk__item_table_room(&p->set_table));
	pk__vec *pool = &p->set_labels;
	uint32_t *seen = pool->items;
	size_t start = pool->count + 1;
	const uint32_t *ids = seen + start;
	uint64_t h64 = pk__hash_bytes(ids, count * sizeof *ids);
	uint32_t h = (uint32_t)(h64 ^ h64 >> 32);
	const uint32_t *starts = p->label_sets.items;
	size_t mask = p->set_table.count - 1, at = h & mask;
	for (const pk__slot *s; (s = &p->set_table.slots[at])->item != 0; at = (at + 1) & mask) {
		uint32_t o = starts[s->item - 1];
		if (s->hash == h && seen[o - 1] == count &&
		    memcmp(seen + o, ids, count * sizeof *ids) == 0) {
			*out = s->item - 1;
			return 0;
		}
	}
	size_t index = p->label_sets.count++;
	PK_VEC_AT(p->label_sets, uint32_t, index) = (uint32_t)start;
	seen[start - 1] = (uint32_t)count;
	pool->count = start + count;
	pk__item_table_put(&p->set_table, at, h, index);
	*out = (uint32_t)index;
	return 0;
}

/* The index of the label set labels[0..count), added if new (count > 0). */
static int intern_labels(pk_profile *p, const pk_label *labels, size_t count, uint32_t *out)
{
	uint32_t *ids;
	PK_FORWARD(pk__profile_label_room(p, count, &ids));
	PK_FORWARD(label_room(p, count));
	/* The labels' slots asked for together (their hashes kept in ids
	 * meanwhile): looked up one by one, each was a cache miss in turn. */
	size_t mask = p->label_slot_count - 1;
	for (size_t i = 0; i < count; i++) {
		const pk_label *l = &labels[i];
		ids[i] = hash_label(l->key, l->str, l->num, l->num_unit);
		PK_PREFETCH(&p->label_slots[ids[i] & mask]);
	}
	for (size_t i = 0; i < count; i++)
		ids[i] = intern_label(p, &labels[i], ids[i]);
	return pk__profile_intern_tail_labels(p, count, out);
}

int pk__profile_intern_tail_stack(pk_profile *p, size_t depth, uint32_t *out)
{
	if (depth > UINT32_MAX)
		return PK_ENOMEM;
	return intern_stack(p, NULL, depth, 0, out);
}

/* A sample's values hashed and compared inline: every sample of a profile
 * whose vectors are shared asks, and a vector is a few words, fewer than
 * the calls to pk__hash_bytes and memcmp cost. */
static uint32_t values_hash(const int64_t *values, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15u ^ n;
	for (size_t i = 0; i < n; i++) {
		h = (h ^ (uint64_t)values[i]) * 0xff51afd7ed558ccdu;
		h ^= h >> 32;
	}
	return (uint32_t)h;
}

static bool same_values(const int64_t *a, const int64_t *b, size_t n)
{
	uint64_t diff = 0;
	for (size_t i = 0; i < n; i++)
		diff |= (uint64_t)(a[i] ^ b[i]);
	return diff == 0;
}

/* The slot of the distinct vector equal to values, or the empty one
 * where it goes. */
static size_t find_values(const pk_profile *p, const int64_t *values, uint32_t hash)
{
	size_t stride = p->sample_types.count, mask = p->value_slot_count - 1;
	const int64_t *seen = p->values.items;
	size_t at = hash & mask;
	for (const value_slot *s; (s = &p->value_slots[at])->index != 0; at = (at + 1) & mask)
		if (s->hash == hash && same_values(seen + (s->index - 1) * stride, values, stride))
			break;
	return at;
}

/* Give each sample its own values: sharing saves too little. */
static int own_values(pk_profile *p)
{
	size_t stride = p->sample_types.count;
	pk__vec own = {0};
	PK_FORWARD(
	    pk__vec_reserve_exact(&own, sizeof(int64_t), pk__mul(p->samples.capacity, stride)));
	const int64_t *seen = p->values.items;
	int64_t *dst = own.items;
	for (size_t i = 0; i < p->samples.count; i++, dst += stride)
		memcpy(dst, seen + PK_VEC_AT(p->value_refs, uint32_t, i) * stride,
		       stride * sizeof *dst);
	own.count = p->samples.count * stride;
	pk__vec_free(&p->values);
	pk__vec_free(&p->value_refs);
	pk__free(p->value_slots);
	p->value_slots = NULL;
	p->value_slot_count = 0;
	p->values = own;
	p->own_values = true;
	return 0;
}

/* Append values, a sample's, to the vectors (all reserved). */
static void add_values(pk_profile *p, const int64_t *values)
{
	size_t stride = p->sample_types.count;
	int64_t *dst = (int64_t *)p->values.items + p->values.count;
	if (p->own_values) {
		for (size_t i = 0; i < stride; i++)
			dst[i] = values[i];
		p->values.count += stride;
		return;
	}
	uint32_t h = values_hash(values, stride);
	size_t at = find_values(p, values, h);
	size_t index = p->values.count / stride;
	if (p->value_slots[at].index == 0) {
		memcpy(dst, values, stride * sizeof *values);
		p->values.count += stride;
		p->value_slots[at] = (value_slot){(uint32_t)(index + 1), h};
	}
	PK_VEC_AT(p->value_refs, uint32_t, p->value_refs.count++) = p->value_slots[at].index - 1;
	/* Once a quarter of the samples have a vector of their own, the
	 * references and the table cost more than they save. A failure here
	 * leaves them shared, as they were. */
	if (index >= 1024 && index * 4 > p->samples.count)
		(void)own_values(p);
}

/* A sample of stack (PK_NONE: the stack in the pool's tail, of depth). */
static int add_sample(pk_profile *p, uint32_t stack, size_t depth, const int64_t *values,
                      const pk_label *labels, size_t label_count)
{
	if (depth > UINT32_MAX)
		return PK_ENOMEM;
	size_t stride = p->sample_types.count;
	if (stride == 0)
		p->own_values = true; /* there is nothing to share */
	/* Reserve first, so that a failure leaves no stack without a sample
	 * (a label set without one is harmless). */
	PK_FORWARD(pk__vec_reserve(&p->values, sizeof *values, stride));
	PK_FORWARD(pk__vec_reserve(&p->samples, sizeof stack, 1));
	if (!p->own_values) {
		PK_FORWARD(pk__vec_reserve(&p->value_refs, sizeof(uint32_t), 1));
		if ((p->values.count / stride + 1) * 2 > p->value_slot_count) {
			value_slot *grown = pk__hashed_slots_grow(
			    p->value_slots, &p->value_slot_count, 256, sizeof *grown,
			    offsetof(value_slot, index), offsetof(value_slot, hash));
			if (grown == NULL)
				return PK_ENOMEM;
			p->value_slots = grown;
		}
	}
	pk__vec *sets = &p->sample_labels;
	uint32_t set = 0;
	bool labeled = label_count > 0 || sets->count > 0;
	if (labeled) {
		/* The first sample with labels gives the samples before it set 0,
		 * and room for as many samples as were reserved. */
		size_t before = p->samples.count - sets->count;
		PK_FORWARD(pk__vec_reserve(sets, sizeof set, p->samples.capacity - sets->count));
		memset((uint32_t *)sets->items + sets->count, 0, before * sizeof set);
		sets->count += before;
	}
	if (label_count > 0)
		PK_FORWARD(intern_labels(p, labels, label_count, &set));
	if (stack == PK_NONE)
		PK_FORWARD(intern_stack(p, NULL, depth, 0, &stack));
	PK_VEC_AT(p->samples, uint32_t, p->samples.count++) = stack;
	if (labeled)
		PK_VEC_AT(*sets, uint32_t, sets->count++) = set;
	add_values(p, values);
	return 0;
}

int pk__profile_add_tail_sample(pk_profile *p, size_t depth, const int64_t *values,
                                const pk_label *labels, size_t label_count)
{
	return add_sample(p, PK_NONE, depth, values, labels, label_count);
}

int pk__profile_add_stack_sample(pk_profile *p, uint32_t stack, const int64_t *values,
                                 const pk_label *labels, size_t label_count)
{
	assert(stack < p->stacks.count);
	return add_sample(p, stack, 0, values, labels, label_count);
}

size_t pk__profile_label_set(const pk_profile *p, uint32_t set, const uint32_t **out)
{
	assert(set > 0 && set < p->label_sets.count);
	const uint32_t *at =
	    (const uint32_t *)p->set_labels.items + PK_VEC_AT(p->label_sets, uint32_t, set);
	*out = at;
	return at[-1];
}

size_t pk_profile_label_count(const pk_profile *p)
{
	return p->labels.count;
}

pk_label pk_profile_label(const pk_profile *p, size_t i)
{
	if (i >= p->labels.count)
		return (pk_label){0, 0, 0, 0};
	return PK_VEC_AT(p->labels, pk_label, i);
}

const pk_label *pk__profile_labels(const pk_profile *p)
{
	return p->labels.items;
}

int pk__sample_labels(const pk_profile *p, const pk_sample *s, pk__vec *out)
{
	out->count = 0;
	PK_FORWARD(pk__vec_reserve(out, sizeof(pk_label), s->label_count));
	for (size_t i = 0; i < s->label_count; i++)
		PK_VEC_AT(*out, pk_label, i) = PK_VEC_AT(p->labels, pk_label, s->labels[i]);
	out->count = s->label_count;
	return 0;
}

void pk__profile_drop_samples(pk_profile *p)
{
	pk__vec *mine[] = {&p->samples, &p->sample_labels, &p->values, &p->value_refs};
	for (size_t i = 0; i < sizeof mine / sizeof mine[0]; i++)
		pk__vec_free(mine[i]);
	pk__free(p->value_slots);
	p->value_slots = NULL;
	p->value_slot_count = 0;
	p->own_values = false;
}

void pk__profile_take_samples(pk_profile *p, pk__vec *stacks, pk__vec *sets, pk__vec *values)
{
	assert(p->samples.count == 0 && (sets->count == 0 || sets->count == stacks->count));
	pk__profile_drop_samples(p);
	p->own_values = true;
	p->samples = *stacks;
	p->sample_labels = *sets;
	p->values = *values;
	*stacks = *sets = *values = (pk__vec){0};
}

int pk_profile_add_sample(pk_profile *p, const uint32_t *locations, size_t depth,
                          const int64_t *values, size_t value_count, const pk_label *labels,
                          size_t label_count)
{
	if (value_count != p->sample_types.count || value_count == 0 || values == NULL)
		return PK_EINVAL;
	if (depth > UINT32_MAX || label_count > UINT32_MAX || (depth > 0 && locations == NULL) ||
	    (label_count > 0 && labels == NULL))
		return PK_EINVAL;
	for (size_t i = 0; i < depth; i++)
		if (locations[i] >= p->locations.count)
			return PK_EINVAL;
	for (size_t i = 0; i < label_count; i++)
		if (!str_ok(p, labels[i].key) || !str_ok(p, labels[i].str) ||
		    !str_ok(p, labels[i].num_unit))
			return PK_EINVAL;
	uint32_t *room;
	PK_FORWARD(pk__profile_stack_room(p, 0, depth, &room));
	if (depth > 0)
		memcpy(room, locations, depth * sizeof *locations);
	return pk__profile_add_tail_sample(p, depth, values, labels, label_count);
}

size_t pk_profile_sample_count(const pk_profile *p)
{
	return p->samples.count;
}

void pk__profile_sample_shallow(const pk_profile *p, size_t i, pk_sample *out)
{
	size_t stride = p->sample_types.count;
	uint32_t set = pk__profile_sample_label_set(p, i);
	out->stack = PK_VEC_AT(p->samples, uint32_t, i);
	out->locations = NULL;
	out->depth = 0;
	size_t v = p->own_values ? i : PK_VEC_AT(p->value_refs, uint32_t, i);
	out->values = &PK_VEC_AT(p->values, int64_t, v * stride);
	out->value_count = stride;
	out->labels = NULL;
	out->label_count = set ? pk__profile_label_set(p, set, &out->labels) : 0;
}

const int64_t *pk__profile_sample_values(const pk_profile *p, size_t i, uint32_t *stack)
{
	*stack = PK_VEC_AT(p->samples, uint32_t, i);
	size_t v = p->own_values ? i : PK_VEC_AT(p->value_refs, uint32_t, i);
	return &PK_VEC_AT(p->values, int64_t, v * p->sample_types.count);
}

uint32_t pk__profile_sample_label_set(const pk_profile *p, size_t i)
{
	return p->sample_labels.count ? PK_VEC_AT(p->sample_labels, uint32_t, i) : 0;
}

size_t pk__profile_label_set_count(const pk_profile *p)
{
	return p->label_sets.count;
}

int pk_profile_sample(const pk_profile *p, size_t i, pk_sample *out)
{
	if (i >= p->samples.count)
		return PK_ENOTFOUND;
	/* Callers go through the samples in order, and a sample's stack is a
	 * cache miss or two away: those of the samples ahead are fetched
	 * now, so that the misses overlap. */
	const uint32_t *stack_of = p->samples.items;
	const uint64_t *starts = p->stacks.items;
	if (i + 16 < p->samples.count)
		PK_PREFETCH(&starts[stack_of[i + 16]]);
	if (i + 8 < p->samples.count)
		PK_PREFETCH((const uint32_t *)p->stack_locations.items + starts[stack_of[i + 8]] -
		            1);
	pk__profile_sample_shallow(p, i, out);
	out->depth = pk_profile_stack(p, out->stack, &out->locations);
	return 0;
}

/* ------------------------------------------------------------ validation */

/* Ids of one kind of object must be nonzero and unique. */
static int check_ids(const pk__vec *v, size_t elem, size_t id_offset, const char *kind,
                     pk_error *err)
{
	/* Ids 1..n in order (as Go and our builders number them) are unique
	 * and nonzero: no map needed, nor its pages. */
	size_t in_order = 0;
	for (uint64_t id; in_order < v->count; in_order++) {
		memcpy(&id, (const unsigned char *)v->items + in_order * elem + id_offset,
		       sizeof id);
		if (id != in_order + 1)
			break;
	}
	if (in_order == v->count)
		return 0;
	pk__idmap ids;
	if (pk__idmap_init(&ids, v->count) < 0)
		return pk__error_set(err, PK_ENOMEM, "out of memory");
	int rc = 0;
	for (size_t i = 0; i < v->count && rc == 0; i++) {
		uint64_t id;
		memcpy(&id, (const unsigned char *)v->items + i * elem + id_offset, sizeof id);
		if (pk__idmap_put(&ids, id, (uint32_t)i) == PK_ENOMEM)
			rc = pk__error_set(err, PK_ENOMEM, "out of memory");
		else if (id == 0)
			rc =
			    pk__error_set(err, PK_EFORMAT, "%s %zu has the reserved id 0", kind, i);
		else if (pk__idmap_get(&ids, id) != i)
			rc = pk__error_set(err, PK_EFORMAT, "two %ss have the id %llu", kind,
			                   (unsigned long long)id);
	}
	pk__idmap_free(&ids);
	return rc;
}

int pk_profile_validate(const pk_profile *p, pk_error *err)
{
	if (p->samples.count > 0 && p->sample_types.count == 0)
		return pk__error_set(err, PK_EFORMAT,
		                     "the profile has samples but no sample types");
	PK_FORWARD(
	    check_ids(&p->mappings, sizeof(pk_mapping), offsetof(pk_mapping, id), "mapping", err));
	PK_FORWARD(check_ids(&p->functions, sizeof(pk_function), offsetof(pk_function, id),
	                     "function", err));
	PK_FORWARD(check_ids(&p->locations, sizeof(location_rec),
	                     offsetof(location_rec, pub) + offsetof(pk_location, id), "location",
	                     err));
	/* The builders check references as objects are added; checking the
	 * header fields here covers what setters cannot refuse. */
	pk_str header[] = {p->default_sample_type, p->period_type.type, p->period_type.unit,
	                   p->drop_frames,         p->keep_frames,      p->doc_url};
	for (size_t i = 0; i < sizeof header / sizeof header[0]; i++)
		if (!str_ok(p, header[i]))
			return pk__error_set(err, PK_EFORMAT,
			                     "a header field names string %u of %zu", header[i],
			                     pk_profile_string_count(p));
	return 0;
}
