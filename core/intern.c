/* intern.c - the string table: each distinct string stored once in an
 * arena, found again through an open-addressing hash table. Profiles repeat
 * the same few thousand names millions of times, so this is what keeps them
 * small. */
#include "internal.h"

#include <string.h>

#define ARENA_CHUNK (64 * 1024)

typedef struct strtab_entry {
	const char *str;
	size_t len;
	uint64_t hash;
} strtab_entry;

typedef struct arena_chunk {
	struct arena_chunk *next;
	size_t used, size;
	char data[];
} arena_chunk;

struct pk__strtab {
	pk__vec entries;   /* strtab_entry, by index */
	uint32_t *slots;   /* index + 1, 0 = empty */
	size_t slot_count; /* power of two */
	arena_chunk *chunks;
};

uint64_t pk__hash_bytes(const void *data, size_t len)
{
	const unsigned char *s = data;
	uint64_t h = 0x9e3779b97f4a7c15u ^ len;
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdu;
		h ^= h >> 32;
	}
	for (; i < len; i++)
		h = (h ^ s[i]) * 0x100000001b3u;
	h ^= h >> 29;
	h *= 0xc4ceb9fe1a85ec53u;
	return h ^ (h >> 32);
}

static char *arena_copy(pk__strtab *t, const char *s, size_t len)
{
	arena_chunk *c = t->chunks;
	if (c == NULL || c->size - c->used < len + 1) {
		size_t size = len + 1 > ARENA_CHUNK ? len + 1 : ARENA_CHUNK;
		if (size > SIZE_MAX - sizeof *c)
			return NULL;
		c = pk__malloc(sizeof *c + size);
		if (c == NULL)
			return NULL;
		c->next = t->chunks;
		c->used = 0;
		c->size = size;
		t->chunks = c;
	}
	char *dst = c->data + c->used;
	if (len > 0)
		memcpy(dst, s, len);
	dst[len] = '\0';
	c->used += len + 1;
	return dst;
}

/* *slots made n slots (a power of two) of the count records' hashes. */
static int slots_rehash(uint32_t **slots, size_t *slot_count, size_t n, const void *records,
                        size_t count, size_t stride, size_t hash_offset)
{
	uint32_t *grown = pk__calloc(n, sizeof *grown);
	if (grown == NULL)
		return PK_ENOMEM;
	for (size_t i = 0; i < count; i++) {
		uint64_t h;
		memcpy(&h, (const char *)records + i * stride + hash_offset, sizeof h);
		size_t at = h & (n - 1);
		while (grown[at] != 0)
			at = (at + 1) & (n - 1);
		grown[at] = (uint32_t)(i + 1);
	}
	pk__free(*slots);
	*slots = grown;
	*slot_count = n;
	return 0;
}

int pk__slots_grow(uint32_t **slots, size_t *slot_count, const void *records, size_t count,
                   size_t stride, size_t hash_offset)
{
	size_t n = *slot_count ? *slot_count * 2 : 1024;
	return slots_rehash(slots, slot_count, n, records, count, stride, hash_offset);
}

static uint32_t slot_word(const unsigned char *at)
{
	uint32_t word;
	memcpy(&word, at, sizeof word);
	return word;
}

void *pk__hashed_slots_grow(void *slots, size_t *slot_count, size_t first_count, size_t slot_size,
                            size_t index_offset, size_t hash_offset)
{
	size_t n = *slot_count ? *slot_count * 2 : first_count;
	unsigned char *grown = pk__calloc(n, slot_size);
	if (grown == NULL)
		return NULL;
	for (size_t i = 0; i < *slot_count; i++) {
		const unsigned char *s = (const unsigned char *)slots + i * slot_size;
		if (slot_word(s + index_offset) == 0)
			continue;
		size_t at = slot_word(s + hash_offset) & (n - 1);
		while (slot_word(grown + at * slot_size + index_offset) != 0)
			at = (at + 1) & (n - 1);
		memcpy(grown + at * slot_size, s, slot_size);
	}
	pk__free(slots);
	*slot_count = n;
	return grown;
}

int pk__strtab_new(pk__strtab **out)
{
	pk__strtab *t = pk__calloc(1, sizeof *t);
	if (t == NULL)
		return PK_ENOMEM;
	uint32_t empty;
	if (pk__strtab_intern(t, "", 0, &empty) < 0) {
		pk__strtab_free(t);
		return PK_ENOMEM;
	}
	*out = t;
	return 0;
}

void pk__strtab_free(pk__strtab *t)
{
	if (t == NULL)
		return;
	for (arena_chunk *c = t->chunks, *next; c != NULL; c = next) {
		next = c->next;
		pk__free(c);
	}
	pk__vec_free(&t->entries);
	pk__free(t->slots);
	pk__free(t);
}

void pk__strtab_forget(pk__strtab *t)
{
	if (t == NULL)
		return;
	pk__vec_free(&t->entries);
	pk__free(t->slots);
	t->slots = NULL;
	t->slot_count = 0;
}

/* Intern s, whose hash is h; with known_new, s is not in t (no look-up);
 * with kept, a new s is not copied (it stays where it is). */
static int intern_hashed(pk__strtab *t, const char *s, size_t len, uint64_t h, bool known_new,
                         bool kept, uint32_t *out)
{
	/* Keep the load factor under 1/2 so probes stay short. */
	if ((t->entries.count + 1) * 2 > t->slot_count)
		PK_FORWARD(pk__slots_grow(&t->slots, &t->slot_count, t->entries.items,
		                          t->entries.count, sizeof(strtab_entry),
		                          offsetof(strtab_entry, hash)));
	size_t mask = t->slot_count - 1;
	size_t at = h & mask;
	for (; t->slots[at] != 0; at = (at + 1) & mask) {
		const strtab_entry *e = &PK_VEC_AT(t->entries, strtab_entry, t->slots[at] - 1);
		if (!known_new && e->hash == h && e->len == len && memcmp(e->str, s, len) == 0) {
			*out = t->slots[at] - 1;
			return 0;
		}
	}
	if (t->entries.count >= UINT32_MAX - 1)
		return PK_ENOMEM;
	PK_FORWARD(pk__vec_reserve(&t->entries, sizeof(strtab_entry), 1));
	strtab_entry e = {kept ? s : arena_copy(t, s, len), len, h};
	if (e.str == NULL)
		return PK_ENOMEM;
	/* stored in place: a call to push and copy it cost as much as the
	 * look-up */
	size_t index = t->entries.count++;
	PK_VEC_AT(t->entries, strtab_entry, index) = e;
	t->slots[at] = (uint32_t)(index + 1);
	*out = (uint32_t)index;
	return 0;
}

int pk__strtab_reserve(pk__strtab *t, size_t more)
{
	if (more > UINT32_MAX - t->entries.count)
		return 0; /* a hint only; interning them will say what is wrong */
	PK_FORWARD(pk__vec_reserve_exact(&t->entries, sizeof(strtab_entry), more));
	/* The size intern_hashed would grow the table to, at once. */
	size_t n = t->slot_count ? t->slot_count : 1024;
	while ((t->entries.count + more) * 2 > n)
		n *= 2;
	if (n == t->slot_count)
		return 0;
	return slots_rehash(&t->slots, &t->slot_count, n, t->entries.items, t->entries.count,
	                    sizeof(strtab_entry), offsetof(strtab_entry, hash));
}

int pk__strtab_intern(pk__strtab *t, const char *s, size_t len, uint32_t *out)
{
	return intern_hashed(t, s, len, pk__hash_bytes(s, len), false, false, out);
}

int pk__strtab_intern_kept(pk__strtab *t, const char *s, size_t len, uint32_t *out)
{
	return intern_hashed(t, s, len, pk__hash_bytes(s, len), false, true, out);
}

int pk__strtab_intern_from(pk__strtab *t, const pk__strtab *from, uint32_t i, bool known_new,
                           uint32_t *out)
{
	if (i >= from->entries.count)
		return PK_EINVAL;
	const strtab_entry *e = &PK_VEC_AT(from->entries, strtab_entry, i);
	return intern_hashed(t, e->str, e->len, e->hash, known_new, false, out);
}

int pk__strtab_reorder(pk__strtab *t, const uint32_t *order, size_t n)
{
	pk__vec entries = {0};
	PK_FORWARD(pk__vec_reserve_exact(&entries, sizeof(strtab_entry), n));
	for (size_t i = 0; i < n; i++)
		PK_VEC_AT(entries, strtab_entry, i) = PK_VEC_AT(t->entries, strtab_entry, order[i]);
	entries.count = n;
	size_t slots = 1024;
	while (n * 2 > slots)
		slots *= 2;
	int rc = slots_rehash(&t->slots, &t->slot_count, slots, entries.items, n,
	                      sizeof(strtab_entry), offsetof(strtab_entry, hash));
	if (rc < 0) {
		pk__vec_free(&entries);
		return rc;
	}
	pk__vec_free(&t->entries);
	t->entries = entries;
	return 0;
}

/* Three stages run ahead of the look-up: a string's slot is fetched, then
 * the entry it names, then the entry's bytes, each some strings before
 * they are compared, so that the look-ups' cache misses overlap. */
#define FIND_AHEAD 4

void pk__strtab_find_from(const pk__strtab *t, const pk__strtab *from, uint32_t *out)
{
	size_t n = from->entries.count, mask = t->slot_count - 1;
	const strtab_entry *src = from->entries.items, *ours = t->entries.items;
	for (size_t i = 0; i < n + 3 * FIND_AHEAD; i++) {
		if (i < n)
			PK_PREFETCH(&t->slots[src[i].hash & mask]);
		size_t j = i - FIND_AHEAD;
		if (i >= FIND_AHEAD && j < n && t->slots[src[j].hash & mask] != 0)
			PK_PREFETCH(&ours[t->slots[src[j].hash & mask] - 1]);
		j -= FIND_AHEAD;
		if (i >= 2 * FIND_AHEAD && j < n && t->slots[src[j].hash & mask] != 0)
			PK_PREFETCH(ours[t->slots[src[j].hash & mask] - 1].str);
		if (i < 3 * FIND_AHEAD || (j -= FIND_AHEAD) >= n)
			continue;
		const strtab_entry *s = &src[j];
		out[j] = PK_NONE;
		for (size_t at = s->hash & mask; t->slots[at] != 0; at = (at + 1) & mask) {
			const strtab_entry *e = &ours[t->slots[at] - 1];
			if (e->hash == s->hash && e->len == s->len &&
			    memcmp(e->str, s->str, s->len) == 0) {
				out[j] = t->slots[at] - 1;
				break;
			}
		}
	}
}

const char *pk__strtab_get(const pk__strtab *t, uint32_t i, size_t *len)
{
	if (i >= t->entries.count) {
		if (len)
			*len = 0;
		return NULL;
	}
	const strtab_entry *e = &PK_VEC_AT(t->entries, strtab_entry, i);
	if (len)
		*len = e->len;
	return e->str;
}

size_t pk__strtab_count(const pk__strtab *t)
{
	return t->entries.count;
}

int pk__item_table_room(pk__item_table *t)
{
	if ((t->used + 1) * 4 <= t->count * 3)
		return 0;
	pk__slot *grown = pk__hashed_slots_grow(t->slots, &t->count, 256, sizeof *grown,
	                                        offsetof(pk__slot, item), offsetof(pk__slot, hash));
	if (grown == NULL)
		return PK_ENOMEM;
	t->slots = grown;
	return 0;
}

void pk__item_table_put(pk__item_table *t, size_t at, uint32_t hash, size_t item)
{
	t->slots[at] = (pk__slot){hash, (uint32_t)item + 1};
	t->used++;
}
