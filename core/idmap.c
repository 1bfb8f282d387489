/* idmap.c - id to index lookup for importers and validation, and the
 * state importers of id-keyed formats share. */
#include "internal.h"

int pk__idmap_init(pk__idmap *m, size_t dense_hint)
{
	*m = (pk__idmap){0};
	if (dense_hint > 0) {
		m->dense = pk__calloc(dense_hint, sizeof *m->dense);
		if (m->dense == NULL)
			return PK_ENOMEM;
		m->dense_count = dense_hint;
	}
	return 0;
}

void pk__idmap_free(pk__idmap *m)
{
	pk__free(m->dense);
	pk__free(m->keys);
	pk__free(m->values);
	*m = (pk__idmap){0};
}

static size_t slot_of(uint64_t id, size_t count)
{
	id ^= id >> 33;
	id *= 0xff51afd7ed558ccdu;
	id ^= id >> 33;
	return (size_t)id & (count - 1);
}

static int grow(pk__idmap *m)
{
	size_t count = m->slot_count ? m->slot_count * 2 : 64;
	uint64_t *keys = pk__calloc(count, sizeof *keys);
	uint32_t *values = pk__calloc(count, sizeof *values);
	if (keys == NULL || values == NULL) {
		pk__free(keys);
		pk__free(values);
		return PK_ENOMEM;
	}
	for (size_t i = 0; i < m->slot_count; i++) {
		if (m->keys[i] == 0)
			continue;
		size_t at = slot_of(m->keys[i], count);
		while (keys[at] != 0)
			at = (at + 1) & (count - 1);
		keys[at] = m->keys[i];
		values[at] = m->values[i];
	}
	pk__free(m->keys);
	pk__free(m->values);
	m->keys = keys;
	m->values = values;
	m->slot_count = count;
	return 0;
}

int pk__idmap_put(pk__idmap *m, uint64_t id, uint32_t index)
{
	if (id == 0)
		return PK_EFORMAT;
	if (id <= m->dense_count) {
		if (m->dense[id - 1] != 0)
			return PK_EFORMAT;
		m->dense[id - 1] = index + 1;
		return 0;
	}
	if ((m->used + 1) * 2 > m->slot_count)
		PK_FORWARD(grow(m));
	size_t at = slot_of(id, m->slot_count);
	for (; m->keys[at] != 0; at = (at + 1) & (m->slot_count - 1))
		if (m->keys[at] == id)
			return PK_EFORMAT;
	m->keys[at] = id;
	m->values[at] = index;
	m->used++;
	return 0;
}

uint32_t pk__idmap_get_hashed(const pk__idmap *m, uint64_t id)
{
	if (id == 0 || id <= m->dense_count)
		return PK_NONE;
	if (m->slot_count == 0)
		return PK_NONE;
	for (size_t at = slot_of(id, m->slot_count); m->keys[at] != 0;
	     at = (at + 1) & (m->slot_count - 1))
		if (m->keys[at] == id)
			return m->values[at];
	return PK_NONE;
}

int pk__import_state_init(pk__import_state *st, size_t mappings, size_t functions, size_t locations)
{
	*st = (pk__import_state){0};
	if (pk__idmap_init(&st->mapping_ids, mappings) < 0 ||
	    pk__idmap_init(&st->function_ids, functions) < 0 ||
	    pk__idmap_init(&st->location_ids, locations) < 0) {
		pk__import_state_free(st);
		return PK_ENOMEM;
	}
	return 0;
}

void pk__import_state_free(pk__import_state *st)
{
	pk__idmap_free(&st->mapping_ids);
	pk__idmap_free(&st->function_ids);
	pk__idmap_free(&st->location_ids);
	pk__vec_free(&st->u32s);
	pk__vec_free(&st->values);
	pk__vec_free(&st->labels);
	pk__vec_free(&st->lines);
}
