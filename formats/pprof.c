/* pprof.c - pprof's profile.proto, read and written.
 *
 * Reading decodes the protobuf wire format directly rather than through
 * protobuf-c's unpack: unpack allocates one message per sample and forgets
 * where each field was, and we want neither. The decoder walks the
 * top-level fields a few times, each walk handling what the earlier ones
 * made resolvable (strings, then functions and mappings, then locations,
 * then samples), because writers put messages in any order: the Go runtime
 * writes the string table last. A gzip file still inflating has its
 * samples, which come first, read meanwhile (see prescan).
 *
 * Writing encodes the wire format directly too (profile.proto stays the
 * reference for the fields): see the exporter below. */
#include "internal.h"

#include <string.h>

/* ------------------------------------------------------------- wire level */

enum { WIRE_VARINT = 0, WIRE_I64 = 1, WIRE_LEN = 2, WIRE_I32 = 5 };

/* A window of the input, with absolute offsets for errors. */
typedef struct pb_reader {
	const unsigned char *data; /* the whole input */
	size_t pos, end;
	pk_error *err;
	/* data's size, for the reads of 8 bytes at once that may pass end
	 * (0: none) */
	size_t size;
} pb_reader;

typedef struct pb_field {
	uint32_t number;
	int wire;
	size_t at;         /* offset of the key */
	uint64_t varint;   /* WIRE_VARINT value */
	size_t start, len; /* WIRE_LEN payload */
} pb_field;

/* Every varint but a one-byte one. */
static int read_varint_long(pb_reader *r, uint64_t *out)
{
	uint64_t v = 0;
	size_t start = r->pos;
	*out = 0;
	for (unsigned shift = 0; shift < 70; shift += 7) {
		if (r->pos >= r->end)
			return pk__error_at(
			    r->err, PK_EFORMAT, (long long)start,
			    "truncated protobuf: a varint runs past the end of its message");
		unsigned char b = r->data[r->pos++];
		v |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0) {
			*out = v;
			return 0;
		}
	}
	return pk__error_at(r->err, PK_EFORMAT, (long long)start,
	                    "malformed protobuf: a varint is longer than 10 bytes");
}

static inline int read_varint(pb_reader *r, uint64_t *out)
{
	/* Most varints of a profile (keys, indices, small values) are one
	 * byte: those skip the loop. */
	if (r->pos < r->end && r->data[r->pos] < 0x80) {
		*out = r->data[r->pos++];
		return 0;
	}
	return read_varint_long(r, out);
}

/* The value of a varint's bytes (at most 8, the rest of w zero), read
 * little-endian: their groups of 7 bits closed up in three steps. */
static inline uint64_t varint_bits(uint64_t w)
{
	w = (w & 0x007f007f007f007fu) | (w & 0x7f007f007f007f00u) >> 1;
	w = (w & 0x00003fff00003fffu) | (w & 0x3fff00003fff0000u) >> 2;
	return (w & 0x000000000fffffffu) | (w & 0x0fffffff00000000u) >> 4;
}

/* The 8 bytes at p as a little-endian word, the order varints are in. */
static inline uint64_t load_le64(const unsigned char *p)
{
	uint64_t w;
	memcpy(&w, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	w = __builtin_bswap64(w);
#endif
	return w;
}

/* The length of the varint at data[i] (i + 8 <= data's size), stored in
 * *out, or 0 if it runs past end or is longer than 8 bytes (read_varint_long
 * reads or reports those). The 8 bytes there say where it stops, and its
 * groups of 7 bits close up in three steps: ids and values of 1 to 4 bytes,
 * mixed at random, make a branch per byte mispredict. */
static inline size_t varint8(const unsigned char *data, size_t i, size_t end, uint64_t *out)
{
	uint64_t w = load_le64(data + i);
	uint64_t stop = ~w & 0x8080808080808080u;
	if (stop == 0)
		return 0;
	size_t n = (size_t)__builtin_ctzll(stop) / 8 + 1;
	if (n > end - i)
		return 0;
	*out = varint_bits(w & (stop ^ (stop - 1)));
	return n;
}

/* The same for the two varints at data[i], when both end within its 8
 * bytes and end: a packed run of small ids (a stack) then takes a load per
 * two. Returns their bytes, or 0. */
static inline size_t varint8_pair(const unsigned char *data, size_t i, size_t end, uint64_t *a,
                                  uint64_t *b)
{
	uint64_t w = load_le64(data + i);
	uint64_t stop = ~w & 0x8080808080808080u;
	uint64_t stop2 = stop & (stop - 1);
	if (stop2 == 0)
		return 0;
	size_t n1 = (size_t)__builtin_ctzll(stop) / 8 + 1;
	size_t n2 = (size_t)__builtin_ctzll(stop2) / 8 + 1;
	if (n2 > end - i)
		return 0;
	*a = varint_bits(w & (stop ^ (stop - 1)));
	*b = varint_bits((w & (stop2 ^ (stop2 - 1))) >> (8 * n1));
	return n2;
}

/* The same for the three varints at data[i], when all end within its 8
 * bytes and end: their groups close up together, in one varint_bits, and
 * are then cut where each stops. Ids of one to three bytes (a stack's) fit
 * three to a load nearly always. Returns their bytes, or 0. */
static inline size_t varint8_triple(const unsigned char *data, size_t i, size_t end,
                                    uint64_t out[3])
{
	uint64_t w = load_le64(data + i);
	uint64_t stop = ~w & 0x8080808080808080u;
	uint64_t stop2 = stop & (stop - 1);
	uint64_t stop3 = stop2 & (stop2 - 1);
	if (stop3 == 0)
		return 0;
	size_t n3 = (size_t)__builtin_ctzll(stop3) / 8 + 1;
	if (n3 > end - i)
		return 0;
	uint64_t bits = varint_bits(w & (stop3 ^ (stop3 - 1)));
	unsigned s1 = 7 * ((unsigned)__builtin_ctzll(stop) / 8 + 1);
	unsigned s2 = 7 * ((unsigned)__builtin_ctzll(stop2) / 8 + 1);
	out[0] = bits & ((UINT64_C(1) << s1) - 1);
	out[1] = (bits & ((UINT64_C(1) << s2) - 1)) >> s1;
	out[2] = bits >> s2;
	return n3;
}

/* The varint at r->data[*pos], within r->end: the loop of packed fields. */
static inline int read_packed_varint(const pb_reader *r, size_t *pos, size_t end, uint64_t *out)
{
	size_t i = *pos, n;
	if (r->size >= 8 && i <= r->size - 8 && (n = varint8(r->data, i, end, out)) != 0) {
		*pos = i + n;
		return 0;
	}
	pb_reader slow = {r->data, i, end, r->err, 0};
	PK_FORWARD(read_varint_long(&slow, out));
	*pos = slow.pos;
	return 0;
}

/* Read the next field. Returns 1 for a field, 0 at the end, or an error. */
static int next_field_slow(pb_reader *r, pb_field *f);

static inline int next_field(pb_reader *r, pb_field *f)
{
	if (r->pos >= r->end)
		return 0;
	/* Most fields of a profile have a one-byte key and are messages or
	 * integers. */
	size_t i = r->pos, n = 0;
	unsigned char key = r->data[i];
	int wire = key & 7;
	if (key < 0x80 && key >= 8 && (wire == WIRE_LEN || wire == WIRE_VARINT) && r->size >= 9 &&
	    i <= r->size - 9) {
		/* A message's or string's length is nearly always one byte:
		 * taken as it is (a value, of any length, goes to varint8,
		 * whose closing up of its bits cost more than the rest). */
		if (wire == WIRE_LEN && r->data[i + 1] < 0x80 && i + 1 < r->end) {
			f->varint = r->data[i + 1];
			n = 1;
		} else {
			n = varint8(r->data, i + 1, r->end, &f->varint);
		}
	}
	if (n != 0) {
		f->at = i;
		f->number = key >> 3;
		f->wire = wire;
		r->pos = i + 1 + n;
		if (wire == WIRE_VARINT)
			return 1;
		if (f->varint <= r->end - r->pos) {
			f->start = r->pos;
			f->len = (size_t)f->varint;
			r->pos += f->len;
			return 1;
		}
		r->pos = i;
	}
	return next_field_slow(r, f);
}

static int next_field_slow(pb_reader *r, pb_field *f)
{
	f->at = r->pos;
	uint64_t key;
	PK_FORWARD(read_varint(r, &key));
	f->number = (uint32_t)(key >> 3);
	f->wire = (int)(key & 7);
	if (key >> 3 == 0 || key >> 3 > 0x1fffffff)
		return pk__error_at(r->err, PK_EFORMAT, (long long)f->at,
		                    "malformed protobuf: invalid field number %llu",
		                    (unsigned long long)(key >> 3));
	switch (f->wire) {
	case WIRE_VARINT: return read_varint(r, &f->varint) < 0 ? PK_EFORMAT : 1;
	case WIRE_LEN: {
		uint64_t len;
		PK_FORWARD(read_varint(r, &len));
		if (len > r->end - r->pos)
			return pk__error_at(r->err, PK_EFORMAT, (long long)f->at,
			                    "truncated protobuf: field %u claims %llu bytes but "
			                    "its message has %zu left",
			                    f->number, (unsigned long long)len, r->end - r->pos);
		f->start = r->pos;
		f->len = (size_t)len;
		r->pos += (size_t)len;
		return 1;
	}
	case WIRE_I64:
	case WIRE_I32: {
		size_t n = f->wire == WIRE_I64 ? 8 : 4;
		if (n > r->end - r->pos)
			return pk__error_at(
			    r->err, PK_EFORMAT, (long long)f->at,
			    "truncated protobuf: a fixed-size field runs past the end");
		r->pos += n;
		return 1;
	}
	default:
		return pk__error_at(r->err, PK_EFORMAT, (long long)f->at,
		                    "malformed protobuf: unsupported wire type %d in field %u",
		                    f->wire, f->number);
	}
}

static pb_reader sub_reader(const pb_reader *parent, const pb_field *f)
{
	return (pb_reader){parent->data, f->start, f->start + f->len, parent->err, parent->size};
}

static int expect_wire(const pb_reader *r, const pb_field *f, int wire, const char *what)
{
	if (f->wire == wire)
		return 0;
	return pk__error_at(r->err, PK_EFORMAT, (long long)f->at,
	                    "malformed profile: %s (field %u) has wire type %d, expected %d", what,
	                    f->number, f->wire, wire);
}

/* A repeated integer field, packed or not (writers mix both). Calls
 * each(ctx, value, offset) per element. */
static int read_repeated(pb_reader *r, const pb_field *f, const char *what,
                         int (*each)(void *ctx, uint64_t v, size_t at), void *ctx)
{
	if (f->wire == WIRE_VARINT)
		return each(ctx, f->varint, f->at);
	PK_FORWARD(expect_wire(r, f, WIRE_LEN, what));
	pb_reader packed = sub_reader(r, f);
	while (packed.pos < packed.end) {
		size_t at = packed.pos;
		uint64_t v;
		PK_FORWARD(read_varint(&packed, &v));
		PK_FORWARD(each(ctx, v, at));
	}
	return 0;
}

/* --------------------------------------------------------------- importer */

/* Samples are added a batch at a time: a batch's stacks are decoded and
 * hashed first, and their hash slots, then their stored locations, fetched
 * ahead of the look-ups, so that the cache misses of a batch (two per
 * sample with hundreds of thousands of stacks) overlap instead of coming
 * one after the other. A sample's locations are fetched once FETCH_LEAD
 * samples more are decoded, by when its slot has come. */
enum { SAMPLE_BATCH = 32, FETCH_LEAD = 16 };

typedef struct pending_sample {
	size_t locs, depth;         /* in batch_locs */
	size_t labels, label_count; /* in st.labels */
	uint32_t hash;
} pending_sample;

typedef struct importer {
	pb_reader top;
	pk_profile *p;
	pk_error *err;
	pk_str *strings; /* pprof string index -> our interned string */
	size_t string_count;
	pk__import_state st;    /* id maps and scratch arrays */
	size_t counts[16];      /* top-level fields seen, by number */
	size_t first_sample_at; /* offset of the first sample's key */
	size_t samples_end;     /* offset after the last sample */
	/* offset after the samples that follow the first one unbroken (all
	 * of them, as writers put a repeated field): the walks before the
	 * samples' jump over them */
	size_t samples_run_end;
	/* The same for the locations, functions and strings (fields 4..6):
	 * where the first of each is, and the end of the run it starts */
	size_t run_at[3], run_end[3];
	/* Location ids 1..n that are the indices 0..n-1 (as Go and most
	 * writers number them): samples' ids need no look-up then, which
	 * misses the cache as often as not. 0 if the ids are otherwise. */
	size_t location_ids_direct;
	/* With owned input, the bytes before this are discarded: the last
	 * walk gives back what it has read, as the model grows. NULL if the
	 * input is a caller's. */
	unsigned char *kept;
	bool small; /* the input keeps its pages: see give_back */
	/* Samples decoded but not added yet: see add_samples. Their stacks
	 * lie one after the other in batch_locs, their values (sample type
	 * count each) in st.values and their labels in st.labels. */
	pending_sample batch[SAMPLE_BATCH];
	size_t batch_count;
	pk__vec batch_locs; /* uint32_t */
	/* While the input inflates (see prescan): samples' stacks are of
	 * location ids, not indices yet, and their labels of string indices. */
	bool ids_raw;
	size_t pre_types; /* sample types prescan added as placeholders */
	size_t pre_end;   /* where prescan stopped (0: it read no sample) */
} importer;

/* Resolve a string index found at offset `at`. */
static int get_string(importer *im, uint64_t index, size_t at, pk_str *out)
{
	/* The proto fields are int64, so a negative index shows as one. */
	if (index >= im->string_count)
		return pk__error_at(
		    im->err, PK_EFORMAT, (long long)at,
		    "string index %lld is out of range: the string table has %zu strings",
		    (long long)(int64_t)index, im->string_count);
	*out = im->strings[index];
	return 0;
}

static int scalar(importer *im, const pb_field *f, const char *what, uint64_t *out)
{
	PK_FORWARD(expect_wire(&im->top, f, WIRE_VARINT, what));
	*out = f->varint;
	return 0;
}

static int read_value_type(importer *im, const pb_field *f, pk_value_type *out)
{
	PK_FORWARD(expect_wire(&im->top, f, WIRE_LEN, "a value type"));
	pb_reader r = sub_reader(&im->top, f);
	pb_field g;
	int rc;
	*out = (pk_value_type){0, 0};
	while ((rc = next_field(&r, &g)) > 0) {
		if (g.number != 1 && g.number != 2)
			continue;
		uint64_t v;
		PK_FORWARD(scalar(im, &g, "ValueType.type/unit", &v));
		PK_FORWARD(get_string(im, v, g.at, g.number == 1 ? &out->type : &out->unit));
	}
	return rc;
}

static int add_comment(void *ctx, uint64_t v, size_t at)
{
	importer *im = ctx;
	pk_str s = 0;
	PK_FORWARD(get_string(im, v, at, &s));
	if (pk_profile_add_comment(im->p, s) < 0)
		return pk__error_set(im->err, PK_ENOMEM, "out of memory");
	return 0;
}

/* Walk 1: count messages, check the string table and header scalars;
 * from where prescan stopped, which counted what it read. The strings are
 * interned after it, their count known. */
static int walk_strings(importer *im)
{
	pb_reader r = im->top;
	r.pos = im->pre_end;
	pb_field f;
	int rc;
	size_t first_string_at = 0;
	/* pprof takes a time_nanos after a nonzero one for a second profile;
	 * one after a zero simply replaces it. */
	bool have_time = false;
	while ((rc = next_field(&r, &f)) > 0) {
		if (f.number < 16)
			im->counts[f.number]++;
		if (f.number == 2 && im->counts[2] == 1)
			im->first_sample_at = f.at;
		if (f.number == 2)
			im->samples_end = r.pos;
		if (f.number == 2 && (im->counts[2] == 1 || im->samples_run_end == f.at))
			im->samples_run_end = r.pos;
		if (f.number >= 4 && f.number <= 6 && im->counts[f.number] == 1)
			im->run_at[f.number - 4] = f.at;
		if (f.number >= 4 && f.number <= 6 &&
		    (im->counts[f.number] == 1 || im->run_end[f.number - 4] == f.at))
			im->run_end[f.number - 4] = r.pos;
		bool second_time = f.number == 9 && have_time;
		if (f.number == 9)
			have_time = have_time || (f.wire == WIRE_VARINT && f.varint != 0);
		if (second_time)
			rc = pk__error_at(
			    im->err, PK_EFORMAT, (long long)f.at,
			    "a second time_nanos field: two profiles were concatenated");
		else if (f.number == 6 &&
		         (rc = expect_wire(&r, &f, WIRE_LEN, "string_table")) == 0 &&
		         im->counts[6] == 1) {
			first_string_at = f.at;
			if (f.len != 0)
				rc = pk__error_at(im->err, PK_EFORMAT, (long long)f.at,
				                  "string_table[0] must be the empty string");
		}
		if (rc < 0)
			break;
	}
	size_t n = im->counts[6];
	if (rc == 0 && n == 0 && r.end > 0)
		rc = pk__error_at(im->err, PK_EFORMAT, 0, "the profile has no string table");
	if (rc < 0)
		return rc;
	/* Sized once: grown string by string, the table was built again at
	 * each doubling, on fresh pages each time. */
	im->strings = pk__calloc(n ? n : 1, sizeof *im->strings);
	if (im->strings == NULL || pk__profile_reserve_strings(im->p, n) < 0)
		return pk__error_set(im->err, PK_ENOMEM, "out of memory");
	/* Walk 1 checked the fields from the first string on. */
	r.pos = first_string_at;
	for (size_t i = 0; i < n && next_field(&r, &f) > 0;)
		if (f.number == 6 && pk_profile_intern(im->p, (const char *)im->top.data + f.start,
		                                       f.len, &im->strings[i++]) < 0)
			return pk__error_set(im->err, PK_ENOMEM, "out of memory");
	im->string_count = n;
	return 0;
}

/* The runs of fields a walk jumps over, by their start: walk 1 checked
 * the framing of each. */
typedef struct pb_skips {
	size_t at[4], end[4];
	size_t n, next; /* runs; the first not passed yet */
} pb_skips;

/* The walk's runs: the first of the samples and (the fields 4..6 whose
 * bits are in skip) of the locations, functions and strings, nearly
 * always all of each. */
static pb_skips skips_of(const importer *im, unsigned skip)
{
	pb_skips s = {.n = 0};
	if (im->counts[2] > 0) {
		s.at[0] = im->first_sample_at;
		s.end[0] = im->samples_run_end;
		s.n = 1;
	}
	for (unsigned n = 4; n <= 6; n++)
		if ((skip >> n & 1) && im->counts[n] > 0) {
			size_t i = s.n++;
			for (; i > 0 && s.at[i - 1] > im->run_at[n - 4]; i--) {
				s.at[i] = s.at[i - 1];
				s.end[i] = s.end[i - 1];
			}
			s.at[i] = im->run_at[n - 4];
			s.end[i] = im->run_end[n - 4];
		}
	return s;
}

/* next_field, over the runs of s where the walk meets their start. */
static inline int next_field_but(pb_reader *r, pb_field *f, pb_skips *s)
{
	while (s->next < s->n && r->pos >= s->at[s->next]) {
		if (r->pos == s->at[s->next])
			r->pos = s->end[s->next];
		s->next++;
	}
	return next_field(r, f);
}

/* Record the id of the object just added as index; the message at the
 * object's key says what is wrong with the id, as pprof's do. */
static int register_id(importer *im, pk__idmap *ids, uint64_t id, uint32_t index, size_t at,
                       const char *kind)
{
	int rc = pk__idmap_put(ids, id, index);
	if (rc == PK_ENOMEM)
		return pk__error_set(im->err, PK_ENOMEM, "out of memory");
	if (rc < 0 && id == 0)
		return pk__error_at(im->err, PK_EFORMAT, (long long)at,
		                    "a %s has the id 0, which is reserved", kind);
	if (rc < 0)
		return pk__error_at(im->err, PK_EFORMAT, (long long)at, "two %ss have the id %llu",
		                    kind, (unsigned long long)id);
	return 0;
}

static int read_mapping(importer *im, const pb_field *f)
{
	pb_reader r = sub_reader(&im->top, f);
	pb_field g;
	pk_mapping m = {0};
	int rc;
	while ((rc = next_field(&r, &g)) > 0) {
		if (g.number < 1 || g.number > 10)
			continue;
		uint64_t v;
		PK_FORWARD(scalar(im, &g, "a Mapping field", &v));
		switch (g.number) {
		case 1: m.id = v; break;
		case 2: m.memory_start = v; break;
		case 3: m.memory_limit = v; break;
		case 4: m.file_offset = v; break;
		case 5: PK_FORWARD(get_string(im, v, g.at, &m.filename)); break;
		case 6: PK_FORWARD(get_string(im, v, g.at, &m.build_id)); break;
		case 7: m.has_functions = v != 0; break;
		case 8: m.has_filenames = v != 0; break;
		case 9: m.has_line_numbers = v != 0; break;
		case 10: m.has_inline_frames = v != 0; break;
		}
	}
	PK_FORWARD(rc);
	uint32_t index;
	if (pk_profile_add_mapping(im->p, &m, &index) < 0)
		return pk__error_set(im->err, PK_ENOMEM, "out of memory");
	return register_id(im, &im->st.mapping_ids, m.id, index, f->at, "mapping");
}

/* read_function for a function as writers put it (as quick_location
 * takes a location): 1 if read, 0 if read_function must read it, or an
 * error. */
static int quick_function(importer *im, const pb_field *f)
{
	const unsigned char *data = im->top.data;
	size_t i = f->start, end = f->start + f->len;
	if (im->top.size < 8 || end > im->top.size - 8)
		return 0;
	pk_function fn = {0};
	while (i < end) {
		unsigned char key = data[i];
		uint64_t v;
		size_t n = varint8(data, i + 1, end, &v);
		if (n == 0 || (key >= 0x10 && key <= 0x20 && v >= im->string_count))
			return 0;
		i += 1 + n;
		switch (key) {
		case 0x08: fn.id = v; break;
		case 0x10: fn.name = im->strings[v]; break;
		case 0x18: fn.system_name = im->strings[v]; break;
		case 0x20: fn.filename = im->strings[v]; break;
		case 0x28: fn.start_line = (int64_t)v; break;
		default: return 0;
		}
	}
	uint32_t index;
	if (pk_profile_add_function(im->p, &fn, &index) < 0)
		return pk__error_set(im->err, PK_ENOMEM, "out of memory");
	PK_FORWARD(register_id(im, &im->st.function_ids, fn.id, index, f->at, "function"));
	return 1;
}

static int read_function(importer *im, const pb_field *f)
{
	int quick = quick_function(im, f);
	if (quick != 0)
		return quick < 0 ? quick : 0;
	pb_reader r = sub_reader(&im->top, f);
	pb_field g;
	pk_function fn = {0};
	int rc;
	while ((rc = next_field(&r, &g)) > 0) {
		if (g.number < 1 || g.number > 5)
			continue;
		uint64_t v;
		PK_FORWARD(scalar(im, &g, "a Function field", &v));
		switch (g.number) {
		case 1: fn.id = v; break;
		case 2: PK_FORWARD(get_string(im, v, g.at, &fn.name)); break;
		case 3: PK_FORWARD(get_string(im, v, g.at, &fn.system_name)); break;
		case 4: PK_FORWARD(get_string(im, v, g.at, &fn.filename)); break;
		case 5: fn.start_line = (int64_t)v; break;
		}
	}
	PK_FORWARD(rc);
	uint32_t index;
	if (pk_profile_add_function(im->p, &fn, &index) < 0)
		return pk__error_set(im->err, PK_ENOMEM, "out of memory");
	return register_id(im, &im->st.function_ids, fn.id, index, f->at, "function");
}

static int read_line(importer *im, const pb_reader *parent, const pb_field *f)
{
	pb_reader r = sub_reader(parent, f);
	pb_field g;
	pk_line line = {0, 0, 0};
	uint64_t function_id = 0;
	size_t function_at = f->at;
	int rc;
	while ((rc = next_field(&r, &g)) > 0) {
		if (g.number < 1 || g.number > 3)
			continue;
		uint64_t v;
		PK_FORWARD(scalar(im, &g, "a Line field", &v));
		if (g.number == 1) {
			function_id = v;
			function_at = g.at;
		} else if (g.number == 2) {
			line.line = (int64_t)v;
		} else {
			line.column = (int64_t)v;
		}
	}
	PK_FORWARD(rc);
	line.function = pk__idmap_get(&im->st.function_ids, function_id);
	if (line.function == PK_NONE)
		return pk__error_at(im->err, PK_EFORMAT, (long long)function_at,
		                    "a line refers to function id %llu, which no function has",
		                    (unsigned long long)function_id);
	/* Stored in place: pk__vec_push's copy of a variable size was a call
	 * to memmove per line. */
	if (pk__vec_reserve(&im->st.lines, sizeof line, 1) < 0)
		return pk__error_set(im->err, PK_ENOMEM, "out of memory");
	PK_VEC_AT(im->st.lines, pk_line, im->st.lines.count++) = line;
	return 0;
}

/* A line of quick_location, data[i..end): 1 if read, 0 if not in the
 * form it takes. */
static int quick_line(importer *im, const unsigned char *data, size_t i, size_t end)
{
	pk_line line = {0, 0, 0};
	uint64_t function_id = 0, v;
	while (i < end) {
		unsigned char key = data[i];
		size_t n = varint8(data, i + 1, end, &v);
		if (n == 0)
			return 0;
		i += 1 + n;
		if (key == 0x08)
			function_id = v;
		else if (key == 0x10)
			line.line = (int64_t)v;
		else if (key == 0x18)
			line.column = (int64_t)v;
		else
			return 0;
	}
	line.function = pk__idmap_get(&im->st.function_ids, function_id);
	if (line.function == PK_NONE)
		return 0;
	if (pk__vec_reserve(&im->st.lines, sizeof line, 1) < 0)
		return pk__error_set(im->err, PK_ENOMEM, "out of memory");
	PK_VEC_AT(im->st.lines, pk_line, im->st.lines.count++) = line;
	return 1;
}

/* read_location for a location as writers put it: every key one byte,
 * every field of Location and Line a varint of up to 8 bytes or a line,
 * a function id that some function has. Read in one loop over the bytes,
 * without next_field's general cases and per-field checks; 1 if read, 0
 * if anything else is there (read_location then reads it from its start
 * and reports what is wrong), or an error. */
static int quick_location(importer *im, const pb_field *f)
{
	const unsigned char *data = im->top.data;
	size_t i = f->start, end = f->start + f->len;
	/* every 8-byte load from within the message stays in the input */
	if (im->top.size < 8 || end > im->top.size - 8)
		return 0;
	pk_location loc = {0, PK_NONE, 0, 0};
	im->st.lines.count = 0;
	while (i < end) {
		unsigned char key = data[i];
		uint64_t v;
		size_t n = varint8(data, i + 1, end, &v);
		if (n == 0)
			return 0;
		i += 1 + n;
		switch (key) {
		case 0x08: loc.id = v; break;
		case 0x10: loc.mapping = pk__idmap_get(&im->st.mapping_ids, v); break;
		case 0x18: loc.address = v; break;
		case 0x28: loc.is_folded = v != 0; break;
		case 0x22: {
			if (v > end - i)
				return 0;
			int rc = quick_line(im, data, i, i + (size_t)v);
			if (rc <= 0)
				return rc;
			i += (size_t)v;
			break;
		}
		default: return 0;
		}
	}
	uint32_t index;
	if (pk_profile_add_location(im->p, &loc, im->st.lines.items, im->st.lines.count, &index) <
	    0)
		return pk__error_set(im->err, PK_ENOMEM, "out of memory");
	PK_FORWARD(register_id(im, &im->st.location_ids, loc.id, index, f->at, "location"));
	return 1;
}

static int read_location(importer *im, const pb_field *f)
{
	int quick = quick_location(im, f);
	if (quick != 0)
		return quick < 0 ? quick : 0;
	pb_reader r = sub_reader(&im->top, f);
	pb_field g;
	pk_location loc = {0, PK_NONE, 0, 0};
	int rc;
	im->st.lines.count = 0;
	while ((rc = next_field(&r, &g)) > 0) {
		if (g.number == 4) {
			PK_FORWARD(expect_wire(&r, &g, WIRE_LEN, "Location.line"));
			PK_FORWARD(read_line(im, &r, &g));
			continue;
		}
		if (g.number < 1 || g.number > 5)
			continue;
		uint64_t v;
		PK_FORWARD(scalar(im, &g, "a Location field", &v));
		switch (g.number) {
		case 1: loc.id = v; break;
		/* pprof treats an unknown mapping id as no mapping; so do we. */
		case 2: loc.mapping = pk__idmap_get(&im->st.mapping_ids, v); break;
		case 3: loc.address = v; break;
		case 5: loc.is_folded = v != 0; break;
		}
	}
	PK_FORWARD(rc);
	uint32_t index;
	if (pk_profile_add_location(im->p, &loc, im->st.lines.items, im->st.lines.count, &index) <
	    0)
		return pk__error_set(im->err, PK_ENOMEM, "out of memory");
	return register_id(im, &im->st.location_ids, loc.id, index, f->at, "location");
}

/* Sample.location_id, packed or not, appended to the batch's locations. */
static int read_location_ids(importer *im, const pb_reader *r, const pb_field *g)
{
	const pk__idmap *ids = &im->st.location_ids;
	size_t direct = im->location_ids_direct;
	size_t pos = g->at, end = 0, more = 1;
	if (g->wire != WIRE_VARINT) {
		PK_FORWARD(expect_wire(r, g, WIRE_LEN, "Sample.location_id"));
		pos = g->start;
		end = g->start + g->len;
		more = g->len; /* each id takes a byte at least */
		if (more == 0)
			return 0;
	}
	if (pk__vec_reserve(&im->batch_locs, sizeof(uint32_t), more) < 0)
		return pk__error_set(im->err, PK_ENOMEM, "out of memory");
	uint32_t *out = (uint32_t *)im->batch_locs.items + im->batch_locs.count;
	const uint32_t *first = out;
	/* Ids 1..limit are kept less one: the index of each where ids are
	 * direct, of all of them while ids stay raw (then made indices by
	 * pk__profile_stacks_from_ids, which leaves direct ones as they are). */
	uint64_t limit = im->ids_raw ? PK_NONE - 1 : direct;
	size_t pair_end = r->size >= 8 ? r->size - 8 : 0;
	do {
		size_t at = pos, n;
		uint64_t id = g->varint, id2;
		uint64_t three[3];
		/* Three or two ids at a time where all are on the fast path;
		 * any other goes one at a time below, which says what is
		 * wrong. */
		if (g->wire != WIRE_VARINT && r->size >= 8 && pos <= pair_end &&
		    (n = varint8_triple(r->data, pos, end, three)) != 0 && three[0] - 1 < limit &&
		    three[1] - 1 < limit && three[2] - 1 < limit) {
			out[0] = (uint32_t)(three[0] - 1);
			out[1] = (uint32_t)(three[1] - 1);
			out[2] = (uint32_t)(three[2] - 1);
			out += 3;
			pos += n;
			continue;
		}
		if (g->wire != WIRE_VARINT && r->size >= 8 && pos <= pair_end &&
		    (n = varint8_pair(r->data, pos, end, &id, &id2)) != 0 && id - 1 < limit &&
		    id2 - 1 < limit) {
			*out++ = (uint32_t)(id - 1);
			*out++ = (uint32_t)(id2 - 1);
			pos += n;
			continue;
		}
		id = g->varint;
		if (g->wire != WIRE_VARINT)
			PK_FORWARD(read_packed_varint(r, &pos, end, &id));
		uint32_t index = id - 1 < limit ? (uint32_t)(id - 1)
		                 : im->ids_raw  ? PK_NONE
		                                : pk__idmap_get(ids, id);
		if (index == PK_NONE)
			return pk__error_at(
			    im->err, PK_EFORMAT, (long long)at,
			    "a sample refers to location id %llu, which no location has",
			    (unsigned long long)id);
		*out++ = index;
	} while (pos < end);
	im->batch_locs.count += (size_t)(out - first);
	return 0;
}

/* Sample.value, packed or not, appended to the scratch values. */
static int read_values(importer *im, const pb_reader *r, const pb_field *g)
{
	pk__vec *values = &im->st.values;
	if (g->wire == WIRE_VARINT) {
		if (pk__vec_reserve(values, sizeof(int64_t), 1) < 0)
			return pk__error_set(im->err, PK_ENOMEM, "out of memory");
		PK_VEC_AT(*values, int64_t, values->count++) = (int64_t)g->varint;
		return 0;
	}
	PK_FORWARD(expect_wire(r, g, WIRE_LEN, "Sample.value"));
	if (pk__vec_reserve(values, sizeof(int64_t), g->len) < 0)
		return pk__error_set(im->err, PK_ENOMEM, "out of memory");
	for (size_t pos = g->start, end = g->start + g->len; pos < end;) {
		uint64_t v;
		PK_FORWARD(read_packed_varint(r, &pos, end, &v));
		PK_VEC_AT(*values, int64_t, values->count++) = (int64_t)v;
	}
	return 0;
}

/* A label's string index: while the strings are not in yet (see prescan),
 * the index itself, which pk__profile_labels_from_strings makes a string
 * (or finds out of range) once they are. */
static int label_string(importer *im, uint64_t index, size_t at, pk_str *out)
{
	if (!im->ids_raw)
		return get_string(im, index, at, out);
	if (index >= PK_NONE)
		return PK_EFORMAT; /* out of range: the walk says so */
	*out = (pk_str)index;
	return 0;
}

static int read_label(importer *im, const pb_reader *parent, const pb_field *f)
{
	pb_reader r = sub_reader(parent, f);
	pb_field g;
	pk_label label = {0, 0, 0, 0};
	int rc;
	while ((rc = next_field(&r, &g)) > 0) {
		if (g.number < 1 || g.number > 4)
			continue;
		uint64_t v;
		PK_FORWARD(scalar(im, &g, "a Label field", &v));
		switch (g.number) {
		case 1: PK_FORWARD(label_string(im, v, g.at, &label.key)); break;
		case 2: PK_FORWARD(label_string(im, v, g.at, &label.str)); break;
		case 3: label.num = (int64_t)v; break;
		case 4: PK_FORWARD(label_string(im, v, g.at, &label.num_unit)); break;
		}
	}
	PK_FORWARD(rc);
	if (pk__vec_reserve(&im->st.labels, sizeof label, 1) < 0)
		return pk__error_set(im->err, PK_ENOMEM, "out of memory");
	PK_VEC_AT(im->st.labels, pk_label, im->st.labels.count++) = label;
	return 0;
}

/* Decoded sample s added: its stack is in locs after s->locs, its values
 * at values, its labels in labels after s->labels. */
static inline int add_pending(importer *im, const pending_sample *s, const uint32_t *locs,
                              const int64_t *values, const pk_label *labels)
{
	uint32_t stack;
	if (pk__profile_intern_stack(im->p, locs + s->locs, s->depth, s->hash, &stack) < 0 ||
	    pk__profile_add_stack_sample(im->p, stack, values, labels + s->labels, s->label_count) <
	        0)
		return pk__error_set(im->err, PK_ENOMEM, "out of memory");
	return 0;
}

/* Add the batch's samples: all their hash slots were fetched as they were
 * decoded, and the stored locations of all but the last FETCH_LEAD; theirs
 * are fetched now, then all looked up. */
static int add_samples(importer *im)
{
	const uint32_t *locs = im->batch_locs.items;
	const int64_t *values = im->st.values.items;
	const pk_label *labels = im->st.labels.items;
	size_t types = pk_profile_sample_type_count(im->p);
	size_t fetched = im->batch_count > FETCH_LEAD ? im->batch_count - FETCH_LEAD : 0;
	for (size_t i = fetched; i < im->batch_count; i++)
		pk__profile_prefetch_stack(im->p, im->batch[i].hash, true);
	for (size_t i = 0; i < im->batch_count; i++)
		PK_FORWARD(add_pending(im, &im->batch[i], locs, values + i * types, labels));
	im->batch_count = im->batch_locs.count = im->st.values.count = im->st.labels.count = 0;
	return 0;
}

/* Decode sample f of a profile of `types` sample types: its stack goes
 * after batch_locs', its values after st.values', its labels after
 * st.labels', and s says where. */
static int decode_sample(importer *im, const pb_field *f, size_t types, pending_sample *s)
{
	pb_reader r = sub_reader(&im->top, f);
	pb_field g;
	int rc;
	size_t values = im->st.values.count;
	s->locs = im->batch_locs.count;
	s->labels = im->st.labels.count;
	while ((rc = next_field(&r, &g)) > 0) {
		if (g.number == 1)
			PK_FORWARD(read_location_ids(im, &r, &g));
		else if (g.number == 2)
			PK_FORWARD(read_values(im, &r, &g));
		else if (g.number == 3 && (rc = expect_wire(&r, &g, WIRE_LEN, "Sample.label")) == 0)
			PK_FORWARD(read_label(im, &r, &g));
		PK_FORWARD(rc);
	}
	PK_FORWARD(rc);
	if (im->st.values.count - values != types)
		return pk__error_at(im->err, PK_EFORMAT, (long long)f->at,
		                    "a sample has %zu values but the profile has %zu sample types",
		                    im->st.values.count - values, types);
	s->depth = im->batch_locs.count - s->locs;
	s->label_count = im->st.labels.count - s->labels;
	s->hash = pk__stack_hash((const uint32_t *)im->batch_locs.items + s->locs, s->depth);
	return 0;
}

static int read_sample(importer *im, const pb_field *f)
{
	pending_sample *s = &im->batch[im->batch_count];
	PK_FORWARD(decode_sample(im, f, pk_profile_sample_type_count(im->p), s));
	pk__profile_prefetch_stack(im->p, s->hash, false);
	if (im->batch_count >= FETCH_LEAD)
		pk__profile_prefetch_stack(im->p, im->batch[im->batch_count - FETCH_LEAD].hash,
		                           true);
	return ++im->batch_count == SAMPLE_BATCH ? add_samples(im) : 0;
}

/* Walk 2: the header and everything that refers only to strings. */
static int walk_header(importer *im)
{
	pb_reader r = im->top;
	pb_field f;
	int rc;
	size_t types = 0;
	/* nothing here of the locations and strings */
	pb_skips skips = skips_of(im, 1u << 4 | 1u << 6);
	while ((rc = next_field_but(&r, &f, &skips)) > 0) {
		uint64_t v = 0;
		pk_value_type vt;
		pk_str s = 0;
		switch (f.number) {
		case 1:
			PK_FORWARD(read_value_type(im, &f, &vt));
			if (types < im->pre_types)
				pk__profile_set_sample_type(im->p, types++, vt);
			else if (pk_profile_add_sample_type(im->p, vt) < 0)
				return pk__error_set(im->err, PK_ENOMEM, "out of memory");
			break;
		case 3:
			PK_FORWARD(expect_wire(&r, &f, WIRE_LEN, "Profile.mapping"));
			PK_FORWARD(read_mapping(im, &f));
			break;
		case 5:
			PK_FORWARD(expect_wire(&r, &f, WIRE_LEN, "Profile.function"));
			PK_FORWARD(read_function(im, &f));
			break;
		case 7:
		case 8:
		case 14:
		case 15:
			PK_FORWARD(scalar(im, &f, "a string index field", &v));
			PK_FORWARD(get_string(im, v, f.at, &s));
			if (f.number == 7)
				pk_profile_set_drop_frames(im->p, s);
			else if (f.number == 8)
				pk_profile_set_keep_frames(im->p, s);
			else if (f.number == 14)
				pk_profile_set_default_sample_type(im->p, s);
			else
				pk_profile_set_doc_url(im->p, s);
			break;
		case 9:
		case 10:
		case 12:
			PK_FORWARD(scalar(im, &f, "a Profile number field", &v));
			if (f.number == 9)
				pk_profile_set_time_nanos(im->p, (int64_t)v);
			else if (f.number == 10)
				pk_profile_set_duration_nanos(im->p, (int64_t)v);
			else
				pk_profile_set_period(im->p, (int64_t)v);
			break;
		case 11:
			PK_FORWARD(read_value_type(im, &f, &vt));
			pk_profile_set_period_type(im->p, vt);
			break;
		case 13:
			PK_FORWARD(read_repeated(&r, &f, "Profile.comment", add_comment, im));
			break;
		}
	}
	return rc;
}

/* Inputs smaller than this keep their pages: giving them back lowers the
 * peak by little beside the model, and where the freed input's memory is
 * taken again (the next part of a merge) each page faults in anew. */
#define GIVE_BACK_MIN ((size_t)4 << 20)

/* pk__discard_pages for the input's bytes, but for a small input. */
static unsigned char *give_back(const importer *im, unsigned char *start, unsigned char *end)
{
	return im->small ? start : pk__discard_pages(start, end);
}

/* Walks 3 and 4: every top-level message of one field number. With last
 * set, nothing reads the bytes behind the walk again. */
static int walk_messages(importer *im, uint32_t number, const char *what,
                         int (*read)(importer *im, const pb_field *f), bool last)
{
	pb_reader r = im->top;
	pb_field f;
	int rc;
	if (last && number == 2) {
		/* Walk 1 checked the framing of every field: the last walk
		 * needs only the span of the samples, and not the bytes around
		 * it (where Go writes the other messages and the strings). */
		r.pos = im->pre_end > im->first_sample_at ? im->pre_end : im->first_sample_at;
		r.end = im->counts[2] > 0 ? im->samples_end : r.pos;
		if (r.pos > r.end)
			r.pos = r.end;
		if (im->kept != NULL) {
			unsigned char *data = (unsigned char *)im->top.data;
			give_back(im, data + r.end, data + im->top.end);
			im->kept = give_back(im, im->kept, data + r.pos);
		}
	}
	/* Pages go back 256 KiB at a time: a madvise call per sample would
	 * cost more than the memory is worth, and a coarser step raises the
	 * peak early in the walk, where new stacks grow the model fastest. */
	const size_t discard_step = (size_t)256 << 10;
	unsigned char *kept = last ? im->kept : NULL;
	/* the fields 4..6 but number are walked over by other walks */
	pb_skips skips = skips_of(im, (1u << 4 | 1u << 5 | 1u << 6) & ~(1u << number));
	while ((rc = number == 2 ? next_field(&r, &f) : next_field_but(&r, &f, &skips)) > 0) {
		if (f.number != number)
			continue;
		PK_FORWARD(expect_wire(&r, &f, WIRE_LEN, what));
		PK_FORWARD(read(im, &f));
		if (kept != NULL && (size_t)(r.data + r.pos - kept) >= discard_step)
			kept = give_back(im, kept, kept + (r.data + r.pos - kept));
	}
	return rc;
}

/* The count of p's locations if each has its index + 1 as its id, else 0. */
static size_t direct_location_ids(const pk_profile *p)
{
	size_t n = pk_profile_location_count(p);
	for (size_t i = 0; i < n; i++)
		if (pk_profile_location(p, i)->id != i + 1)
			return 0;
	return n;
}

/* What prescan read cannot be used: the input is read again, whole. */
#define PRESCAN_VOID 1

/* The walks, after a prescan if any; im->p is made. */
static int walk_all(importer *im)
{
	int rc = walk_strings(im);
	if (rc == 0 && im->ids_raw && im->pre_types != im->counts[1])
		rc = PRESCAN_VOID; /* sample types after the samples */
	/* The walk tells which string index is wrong; two labels of equal
	 * strings at different indices are one, which the prescan's sets
	 * did not know. */
	if (rc == 0 && im->ids_raw &&
	    pk__profile_labels_from_strings(im->p, im->strings, im->string_count) < 0)
		rc = PRESCAN_VOID;
	/* A location has a line or more, but for unsymbolized ones. */
	if (rc == 0 &&
	    (pk__import_state_init(&im->st, im->counts[3], im->counts[5], im->counts[4]) < 0 ||
	     pk__profile_reserve_objects(im->p, im->counts[3], im->counts[5], im->counts[4],
	                                 im->counts[4]) < 0))
		rc = pk__error_set(im->err, PK_ENOMEM, "out of memory");
	if (rc == 0)
		rc = walk_header(im);
	if (rc == 0 && im->counts[2] > 0 && pk_profile_sample_type_count(im->p) == 0)
		rc = pk__error_at(im->err, PK_EFORMAT, (long long)im->first_sample_at,
		                  "the profile has samples but no sample types");
	/* The batch's arrays exist from here on: an offset into a NULL one,
	 * even of nothing, is undefined. The samples' room is for those
	 * prescan did not add (counted in counts[2] too): with more, a heap
	 * profile's values took huge pages (see pk__realloc) they did not
	 * fill. */
	size_t samples_left = im->counts[2] - pk_profile_sample_count(im->p);
	if (rc == 0 && (pk__profile_reserve_samples(im->p, samples_left) < 0 ||
	                pk__vec_reserve(&im->batch_locs, sizeof(uint32_t), 1024) < 0 ||
	                pk__vec_reserve(&im->st.labels, sizeof(pk_label), 1) < 0))
		rc = pk__error_set(im->err, PK_ENOMEM, "out of memory");
	if (rc == 0)
		rc = walk_messages(im, 4, "Profile.location", read_location, false);
	if (rc == 0)
		im->location_ids_direct = direct_location_ids(im->p);
	if (rc == 0 && im->ids_raw &&
	    pk__profile_stacks_from_ids(im->p, &im->st.location_ids, im->location_ids_direct) < 0)
		rc = PRESCAN_VOID; /* the sample walk tells which id is wrong */
	im->ids_raw = false;
	if (rc == 0)
		rc = walk_messages(im, 2, "Profile.sample", read_sample, true);
	if (rc == 0)
		rc = add_samples(im);
	return rc;
}

static void importer_free(importer *im)
{
	pk__free(im->strings);
	pk__vec_free(&im->batch_locs);
	pk__import_state_free(&im->st);
}

static int decode(unsigned char *owned, const unsigned char *data, size_t size, pk_profile **out,
                  pk_error *err)
{
	importer im = {.top = {data, 0, size, err, size},
	               .err = err,
	               .kept = owned,
	               .small = size < GIVE_BACK_MIN};
	int rc = pk_profile_new(&im.p);
	if (rc < 0)
		return pk__error_set(err, PK_ENOMEM, "out of memory");
	rc = walk_all(&im);
	importer_free(&im);
	if (rc < 0) {
		pk_profile_free(im.p);
		return rc;
	}
	*out = im.p;
	return 0;
}

static int pprof_import(const unsigned char *data, size_t size, pk_profile **out, pk_error *err)
{
	return decode(NULL, data, size, out, err);
}

static int pprof_import_owned(unsigned char *data, size_t size, pk_profile **out, pk_error *err)
{
	return decode(data, data, size, out, err);
}

/* ------------------------------------------------ samples on two threads */

/* Once the input is inflated, prescan's samples are read on two threads
 * (pk__parts): they are cut into parts of about PART_SIZE bytes at their
 * keys, either thread decodes a part into a slot of fixed arrays, as
 * prescan's read_sample does, and prescan adds the parts in order
 * (add_part). A part stops before a sample it cannot read (a full slot,
 * anything wrong) and is used only where prescan arrives exactly at its
 * start; prescan reads on from where it stopped as it always did, so
 * nothing is read twice or out of order, and every message is as
 * before. Until the inflating ends, the inflater has the other core. */
#define PART_SIZE ((size_t)32 << 10)
#define PART_RING 4
/* a sample takes 4 bytes at least (key, length, a value's key and
 * value), a label 4; one of 16 bytes or more each fits */
#define PART_SAMPLES (PART_SIZE / 16)
#define PART_LABELS (PART_SIZE / 4)

typedef struct sample_part {
	size_t reached; /* where the decoding stopped: a sample's key */
	size_t count;   /* samples decoded */
	pending_sample *samples;
	pk__vec locs, values, labels; /* of fixed capacity */
} sample_part;

typedef struct sample_parts {
	pk__parts *q;
	importer view[2]; /* the helper's and the caller's, to decode with */
	void *mem;        /* the slots and their arrays */
} sample_parts;

/* The key after the samples that follow pt->start, up to PART_SIZE
 * bytes of them (all of one too long), within end. */
static size_t cut_samples(void *ctx, pk__part *pt, size_t end)
{
	const sample_parts *sp = ctx;
	pb_reader r = {sp->view[0].top.data, pt->start, end, NULL, sp->view[0].top.size};
	pb_field f;
	size_t cut = pt->start;
	while (r.pos - pt->start < PART_SIZE && next_field(&r, &f) > 0 && f.number == 2 &&
	       f.wire == WIRE_LEN)
		cut = r.pos;
	return cut;
}

static void decode_samples(void *ctx, pk__part *pt, unsigned view)
{
	importer *v = &((sample_parts *)ctx)->view[view];
	sample_part *sl = pt->data;
	v->batch_locs = sl->locs;
	v->st.values = sl->values;
	v->st.labels = sl->labels;
	v->batch_locs.count = v->st.values.count = v->st.labels.count = 0;
	pb_reader r = {v->top.data, pt->start, pt->end, NULL, v->top.size};
	pb_field f;
	size_t count = 0, at = r.pos;
	while (count < PART_SAMPLES && next_field(&r, &f) > 0) {
		/* Each id, value and label takes a byte at least: what the
		 * sample reserves is there, and nothing grows. */
		if (f.len > sl->locs.capacity - v->batch_locs.count ||
		    f.len > sl->values.capacity - v->st.values.count ||
		    f.len > sl->labels.capacity - v->st.labels.count ||
		    decode_sample(v, &f, v->pre_types, &sl->samples[count]) < 0)
			break;
		count++;
		at = r.pos;
	}
	sl->count = count;
	sl->reached = at;
	sl->locs.count = v->batch_locs.count;
	sl->values.count = v->st.values.count;
	sl->labels.count = v->st.labels.count;
}

/* Whether the samples left are worth a second thread, and its core free:
 * not where the caller's own threads read other inputs meanwhile. */
static bool parts_wanted(const pk__input *in, size_t size)
{
	return !in->one_thread && size >= 16 * PART_SIZE;
}

static const pk__parts_ops sample_parts_ops = {cut_samples, decode_samples};

static void sample_parts_free(sample_parts *sp)
{
	if (sp == NULL)
		return;
	pk__parts_free(sp->q);
	pk__free(sp->mem);
	pk__free(sp);
}

/* The samples from start (a sample's key) on in parts, or NULL where
 * there is no memory or thread for it: prescan then reads them all. */
static sample_parts *sample_parts_start(const importer *im, const pk__input *in, size_t start,
                                        size_t size)
{
	sample_parts *sp = pk__malloc(sizeof *sp);
	if (sp == NULL)
		return NULL;
	memset(sp, 0, sizeof *sp);
	const size_t slot = sizeof(sample_part) + PART_SAMPLES * sizeof(pending_sample) +
	                    PART_SIZE * (sizeof(uint32_t) + sizeof(int64_t)) +
	                    PART_LABELS * sizeof(pk_label);
	sp->mem = pk__malloc(PART_RING * slot);
	if (sp->mem == NULL ||
	    pk__parts_new(&sp->q, PART_RING, PART_RING, &sample_parts_ops, sp) < 0) {
		sample_parts_free(sp);
		return NULL;
	}
	for (size_t i = 0; i < PART_RING; i++) {
		unsigned char *m = (unsigned char *)sp->mem + i * slot;
		sample_part *sl = (sample_part *)m;
		m += sizeof *sl;
		sl->values = (pk__vec){m, 0, PART_SIZE};
		m += PART_SIZE * sizeof(int64_t);
		sl->labels = (pk__vec){m, 0, PART_LABELS};
		m += PART_LABELS * sizeof(pk_label);
		sl->samples = (pending_sample *)m;
		m += PART_SAMPLES * sizeof(pending_sample);
		sl->locs = (pk__vec){m, 0, PART_SIZE};
		pk__parts_slot(sp->q, i)->data = sl;
	}
	for (size_t i = 0; i < 2; i++)
		/* Stacks of raw ids, labels of string indices, no errors told. */
		sp->view[i] = (importer){.top = {in->data, 0, size, NULL, size},
		                         .ids_raw = true,
		                         .pre_types = im->pre_types};
	if (pk__parts_run(sp->q, start, size) < 0) {
		sample_parts_free(sp);
		return NULL;
	}
	return sp;
}

/* Add the samples decoded into sl, in order: each one's hash slot is
 * fetched SAMPLE_BATCH samples ahead, its stored locations FETCH_LEAD
 * ahead, as read_sample and add_samples do. */
static int add_part(importer *im, const sample_part *sl)
{
	PK_FORWARD(add_samples(im));
	const pending_sample *s = sl->samples;
	const uint32_t *locs = sl->locs.items;
	const int64_t *values = sl->values.items;
	const pk_label *labels = sl->labels.items;
	size_t types = pk_profile_sample_type_count(im->p), n = sl->count;
	for (size_t i = 0; i < n && i < SAMPLE_BATCH; i++)
		pk__profile_prefetch_stack(im->p, s[i].hash, false);
	for (size_t i = 0; i < n && i < FETCH_LEAD; i++)
		pk__profile_prefetch_stack(im->p, s[i].hash, true);
	for (size_t i = 0; i < n; i++) {
		if (i + SAMPLE_BATCH < n)
			pk__profile_prefetch_stack(im->p, s[i + SAMPLE_BATCH].hash, false);
		if (i + FETCH_LEAD < n)
			pk__profile_prefetch_stack(im->p, s[i + FETCH_LEAD].hash, true);
		PK_FORWARD(add_pending(im, &s[i], locs, values + i * types, labels));
	}
	im->counts[2] += n;
	return 0;
}

/* What the inflater is asked for at least when the next field is not in
 * yet: a wait per small field would cost more than it saves. */
#define PRESCAN_WANT ((size_t)64 * 1024)

/* Read the samples while the input still inflates (see pk__input_wait):
 * Go and our own writer put them first, before the locations they refer
 * to, so their stacks are of location ids (less one), made indices once the
 * locations are in (pk__profile_stacks_from_ids), and their labels of
 * string indices, made strings once the strings are in
 * (pk__profile_labels_from_strings). Anything else stops it
 * where it is, silently: the walks read on from there, and say what is
 * wrong. Returns false if what it read cannot be used (out of memory). */
static bool prescan(importer *im, pk__input *in)
{
	pk_error *err = im->err;
	size_t avail = pk__input_wait(in, PRESCAN_WANT), pos = 0;
	const size_t discard_step = (size_t)256 << 10;
	bool usable = true;
	im->err = NULL;
	im->ids_raw = true;
	/* the parts, once the input is inflated: part c starts at part_at */
	sample_parts *sp = NULL;
	size_t c = 0, part_at = SIZE_MAX, polled = 0;
	for (;;) {
		if (pos == part_at) {
			pk__part *pt = pk__parts_next(sp->q, c);
			part_at = pt != NULL ? pt->end : SIZE_MAX;
			const sample_part *sl = pt != NULL ? pt->data : NULL;
			if (sl != NULL && sl->count > 0) {
				if (add_part(im, sl) < 0) {
					usable = false;
					break;
				}
				pos = im->samples_end = im->samples_run_end = im->pre_end =
				    sl->reached;
				if (in->data + pos - im->kept >= (ptrdiff_t)discard_step)
					im->kept = give_back(im, im->kept, in->data + pos);
			}
			if (pt != NULL)
				pk__parts_added(sp->q, c++);
			continue;
		}
		im->top = (pb_reader){in->data, 0, avail, NULL, avail};
		pb_reader r = im->top;
		r.pos = pos;
		pb_field f;
		int rc = next_field(&r, &f);
		if (rc <= 0) {
			/* Perhaps only cut where the inflater is. */
			size_t more = pk__input_wait(in, avail + PRESCAN_WANT);
			if (more == avail)
				break;
			avail = more;
			continue;
		}
		if (f.number == 1 && f.wire == WIRE_LEN && im->counts[2] == 0) {
			if (pk_profile_add_sample_type(im->p, (pk_value_type){0, 0}) < 0)
				break;
			im->pre_types++;
			im->counts[1]++;
		} else if (f.number == 2 && f.wire == WIRE_LEN && im->pre_types > 0) {
			if (im->counts[2] == 0 &&
			    (pk__vec_reserve(&im->batch_locs, sizeof(uint32_t), 1024) < 0 ||
			     pk__vec_reserve(&im->st.labels, sizeof(pk_label), 1) < 0)) {
				usable = false;
				break;
			}
			/* A sample it cannot read is left whole to the walk. */
			size_t locs = im->batch_locs.count, values = im->st.values.count,
			       labels = im->st.labels.count;
			rc = read_sample(im, &f);
			if (rc == PK_ENOMEM) {
				usable = false;
				break;
			}
			if (rc < 0) {
				im->batch_locs.count = locs;
				im->st.values.count = values;
				im->st.labels.count = labels;
				break;
			}
			if (im->counts[2]++ == 0) {
				im->first_sample_at = f.at;
				im->kept = in->data + f.at;
			}
			im->samples_end = im->samples_run_end = im->pre_end = r.pos;
			if (in->data + r.pos - im->kept >= (ptrdiff_t)discard_step)
				im->kept = give_back(im, im->kept, in->data + r.pos);
			/* Whether the inflater is done, and its core free, is
			 * asked every PART_SIZE bytes: a lock each time. */
			if (sp == NULL && r.pos - polled >= PART_SIZE && polled != SIZE_MAX) {
				polled = r.pos;
				if (pk__input_inflated(in)) {
					polled = SIZE_MAX;
					avail = pk__input_wait(in, avail);
					sp = parts_wanted(in, avail)
					         ? sample_parts_start(im, in, r.pos, avail)
					         : NULL;
					part_at = sp != NULL ? r.pos : SIZE_MAX;
				}
			}
		} else {
			break;
		}
		pos = r.pos;
	}
	sample_parts_free(sp);
	if (usable && add_samples(im) < 0)
		usable = false;
	usable = usable && im->counts[2] > 0;
	im->err = err;
	pk__import_state_free(&im->st);
	/* The stacks' table hashed ids, which pk__profile_stacks_from_ids
	 * makes indices: it goes now, not after the walks it would outlive. */
	pk__profile_shrink(im->p);
	return usable;
}

/* The input inflates meanwhile: see prescan. */
static int pprof_import_flow(pk__input *in, pk_profile **out, pk_error *err)
{
	importer im = {.err = err, .small = pk__input_claimed_size(in) < GIVE_BACK_MIN};
	int rc = pk_profile_new(&im.p);
	bool usable = rc == 0 && prescan(&im, in);
	size_t kept_at = im.kept != NULL ? (size_t)(im.kept - in->data) : 0;
	unsigned char *before = in->data;
	if (rc < 0)
		rc = pk__error_set(err, PK_ENOMEM, "out of memory");
	else
		rc = pk__input_finish(in, err);
	if (rc < 0) {
		importer_free(&im);
		pk_profile_free(im.p);
		return rc;
	}
	if (usable) {
		im.top = (pb_reader){in->data, 0, in->size, err, in->size};
		im.small = in->size < GIVE_BACK_MIN; /* the trailer may have lied */
		im.kept = in->data == before ? in->data + kept_at : in->data;
		rc = walk_all(&im);
	}
	importer_free(&im);
	if (rc == 0 && usable) {
		*out = im.p;
		return 0;
	}
	pk_profile_free(im.p);
	if (usable && rc != PRESCAN_VOID)
		return rc;
	/* The pages prescan read are given back: the input comes again. */
	if (im.counts[2] > 0 && in->data == before)
		PK_FORWARD(pk__input_reload(in, err));
	return decode(in->data, in->data, in->size, out, err);
}

/* Whether a top-level field's wire type suits Profile's field of that
 * number. Numbers above 15 are unknown fields, legal with any wire type
 * next_field reads. */
static bool profile_field_ok(const pb_field *f)
{
	if (f->number > 15)
		return true;
	bool is_len = f->number <= 6 || f->number == 11 || f->number == 13;
	bool is_varint = f->number >= 7 && f->number != 11;
	return (f->wire == WIRE_LEN && is_len) || (f->wire == WIRE_VARINT && is_varint);
}

/* Sniffing must tell pprof from other inputs, but nothing more: once it
 * says pprof, the importer reads every field and reports a bad one
 * precisely ("byte 6: malformed protobuf: ..."), which beats "not a
 * profile". So it checks only two things.
 *
 * Text is never pprof: a profile.proto starts with a key and then binary
 * (a sample_type is 0a 04 08 ..), while legacy pprof text ("heap profile:
 * ...") and folded stacks are printable ASCII whose first byte may still be
 * a valid key ('H' is field 9, a varint).
 *
 * The first field must be well formed and suit Profile. It must also fit
 * in the input: every writer we know starts with a sample_type of a few
 * bytes (protobuf encoders write fields in number order), so a first field
 * that runs past the end is far likelier to be some other binary than a
 * profile cut within its first bytes, and "not a profile" tells that user
 * the truth where "truncated protobuf" would mislead. A profile cut later
 * passes and gets the precise truncation error from the importer. */
static int pprof_sniff(const unsigned char *data, size_t size)
{
	size_t n = size < 64 ? size : 64, i = 0;
	while (i < n && ((data[i] >= 0x20 && data[i] < 0x7f) || data[i] == '\t' ||
	                 data[i] == '\n' || data[i] == '\r'))
		i++;
	if (i == n)
		return PK_ENOTMINE;
	pb_reader r = {data, 0, size, NULL, size};
	pb_field f;
	if (next_field(&r, &f) <= 0 || !profile_field_ok(&f))
		return PK_ENOTMINE;
	return 0;
}

/* Whether the field at `at` fails only because the input ends inside it. */
static bool field_cut_by_end(const unsigned char *data, size_t size, size_t at)
{
	pb_reader r = {data, at, size, NULL, size};
	uint64_t key, len;
	if (read_varint(&r, &key) < 0)
		return r.pos >= size;
	int wire = (int)(key & 7);
	if (wire == WIRE_LEN)
		return read_varint(&r, &len) < 0 ? r.pos >= size : len > size - r.pos;
	if (wire == WIRE_I64 || wire == WIRE_I32)
		return (size_t)(wire == WIRE_I64 ? 8 : 4) > size - r.pos;
	return wire == WIRE_VARINT && read_varint(&r, &len) < 0 && r.pos >= size;
}

/* Whether data, the first megabyte of a large streamed input, can be the
 * start of a profile: stricter than the sniffer, every top-level field in
 * it must be well formed and suit Profile, but the last, which the cut may
 * end. A real profile always passes; random bytes almost never do, so
 * /dev/urandom is refused at once instead of read up to the size limit. */
static int pprof_probe(const unsigned char *data, size_t size)
{
	if (pprof_sniff(data, size) != 0)
		return PK_ENOTMINE;
	pb_reader r = {data, 0, size, NULL, size};
	pb_field f;
	for (;;) {
		/* Samples, locations and the other messages of fields 1..6 (a
		 * one-byte key, a length of one or two bytes that fits) are
		 * nearly all of the head: stepped over here, at a few
		 * instructions each instead of next_field's ~80 (a merge probes
		 * every part). Anything else goes the general way. */
		while (r.pos + 3 <= size && (data[r.pos] & 7) == WIRE_LEN && data[r.pos] >= 0x0a &&
		       data[r.pos] <= 0x32) {
			size_t len = data[r.pos + 1], head = 2;
			if (len >= 0x80) {
				if (data[r.pos + 2] >= 0x80)
					break;
				len = (len & 0x7f) | (size_t)data[r.pos + 2] << 7;
				head = 3;
			}
			if (len > size - r.pos - head)
				break;
			r.pos += head + len;
		}
		size_t at = r.pos;
		int rc = next_field(&r, &f);
		if (rc == 0)
			return 0;
		if (rc < 0)
			return field_cut_by_end(data, size, at) ? 0 : PK_ENOTMINE;
		if (!profile_field_ok(&f))
			return PK_ENOTMINE;
	}
}

/* --------------------------------------------------------------- exporter */

/* The encoder writes the wire format itself, as protobuf-c's pack would
 * (proto3: scalars equal to 0 and empty repeated fields left out, repeated
 * integers packed, fields in number order, period_type whenever set): each
 * message's size is computed just before its bytes go into a buffer that
 * is handed to the sink in large pieces. Building protobuf-c's messages
 * for every sample, sizing and packing them cost more than the rest of a
 * conversion, and held a second copy of the profile. */

/* The encoder writes into the sink's buffer, which saves a copy of the
 * output, or into its own when the sink has none (the memory sink). */
#define PB_BUFFER_SIZE ((size_t)64 * 1024)
/* A sink's buffer this large has room for any put but put_bytes. */
#define PB_SINK_BUFFER_MIN ((size_t)4096)

typedef struct pb_writer {
	pk__sink *sink;
	unsigned char *buf; /* the sink's buffer, or own */
	size_t used, cap;
	unsigned char *own; /* NULL when buf is the sink's */
	int rc;             /* the first error; later writes do nothing */
} pb_writer;

static inline size_t varint_size(uint64_t v)
{
	size_t n = 1;
	for (; v >= 0x80; v >>= 7)
		n++;
	return n;
}

/* Write v's varint at d, which has room for 10 bytes; the end. Below
 * 2^56 its groups of 7 bits spread out in three steps (varint_bits'
 * inverse) into one 8-byte store: values of 1 to 4 bytes, mixed, make a
 * loop per byte mispredict its end. */
static inline unsigned char *varint_put(unsigned char *d, uint64_t v)
{
	if (v < 0x80) {
		*d = (unsigned char)v;
		return d + 1;
	}
	if (v >> 56 != 0) {
		for (; v >= 0x80; v >>= 7)
			*d++ = (unsigned char)(v | 0x80);
		*d++ = (unsigned char)v;
		return d;
	}
	size_t n = varint_size(v);
	uint64_t w = (v & 0x000000000fffffffu) | (v & 0x00fffffff0000000u) << 4;
	w = (w & 0x00003fff00003fffu) | (w & 0x0fffc0000fffc000u) << 2;
	w = (w & 0x007f007f007f007fu) | (w & 0x3f803f803f803f80u) << 1;
	w |= 0x8080808080808080u & (((uint64_t)1 << 8 * (n - 1)) - 1);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	w = __builtin_bswap64(w);
#endif
	memcpy(d, &w, 8);
	return d + n;
}

static int pb_start(pb_writer *w, pk__sink *sink)
{
	*w = (pb_writer){.sink = sink};
	if (sink->cap >= PB_SINK_BUFFER_MIN) {
		w->buf = sink->buf;
		w->used = sink->len;
		w->cap = sink->cap;
		return 0;
	}
	w->own = w->buf = pk__malloc(PB_BUFFER_SIZE);
	w->cap = PB_BUFFER_SIZE;
	return w->own != NULL ? 0 : PK_ENOMEM;
}

/* Hand what the sink's buffer holds back to it, before a call on the sink. */
static void pb_give_back(pb_writer *w)
{
	w->sink->len = w->used;
}

/* Take the sink's buffer again after a call on it; after a failure, its
 * start (what goes there then goes nowhere). */
static void pb_take(pb_writer *w)
{
	w->buf = w->sink->buf;
	w->used = w->rc == 0 ? w->sink->len : 0;
	w->cap = w->sink->cap;
}

static void pb_flush(pb_writer *w)
{
	if (w->own != NULL) {
		if (w->rc == 0 && w->used > 0)
			w->rc = pk__sink_write(w->sink, w->own, w->used);
		w->used = 0;
		return;
	}
	pb_give_back(w);
	if (w->rc == 0)
		w->rc = pk__sink_flush(w->sink);
	pb_take(w);
}

/* The output so far is the sink's; an own buffer is freed. */
static void pb_finish(pb_writer *w)
{
	if (w->own != NULL) {
		pb_flush(w);
		pk__free(w->own);
		w->own = NULL;
	} else {
		pb_give_back(w);
	}
}

/* Room for n (at most 64) more bytes in the buffer. */
static inline unsigned char *pb_room(pb_writer *w, size_t n)
{
	if (w->cap - w->used < n)
		pb_flush(w);
	return w->buf + w->used;
}

static inline void put_varint(pb_writer *w, uint64_t v)
{
	unsigned char *d = pb_room(w, 10);
	w->used += (size_t)(varint_put(d, v) - d);
}

static void put_bytes(pb_writer *w, const void *data, size_t len)
{
	if (len <= w->cap - w->used) {
		if (len > 0)
			memcpy(w->buf + w->used, data, len);
		w->used += len;
		return;
	}
	/* The sink takes what does not fit, filling its buffer first. */
	if (w->own != NULL)
		pb_flush(w);
	else
		pb_give_back(w);
	if (w->rc == 0)
		w->rc = pk__sink_write(w->sink, data, len);
	if (w->own == NULL)
		pb_take(w);
}

/* Field numbers here are below 16, so every key is one byte. */
static inline void put_key(pb_writer *w, unsigned field, int wire)
{
	*pb_room(w, 1) = (unsigned char)(field << 3 | (unsigned)wire);
	w->used++;
}

/* A varint field, left out when 0 (int64 values go as their two's
 * complement, ten bytes when negative). */
static inline size_t uint_size(uint64_t v)
{
	return v ? 1 + varint_size(v) : 0;
}

static inline void put_uint(pb_writer *w, unsigned field, uint64_t v)
{
	if (v == 0)
		return;
	put_key(w, field, WIRE_VARINT);
	put_varint(w, v);
}

static inline void put_len(pb_writer *w, unsigned field, size_t len)
{
	put_key(w, field, WIRE_LEN);
	put_varint(w, len);
}

/* The size of a length-delimited field holding len bytes. */
static inline size_t len_field_size(size_t len)
{
	return 1 + varint_size(len) + len;
}

static size_t value_type_size(pk_value_type vt)
{
	return uint_size(vt.type) + uint_size(vt.unit);
}

static void put_value_type(pb_writer *w, unsigned field, pk_value_type vt)
{
	put_len(w, field, value_type_size(vt));
	put_uint(w, 1, vt.type);
	put_uint(w, 2, vt.unit);
}

static void put_mapping(pb_writer *w, const pk_mapping *m)
{
	size_t size = uint_size(m->id) + uint_size(m->memory_start) + uint_size(m->memory_limit) +
	              uint_size(m->file_offset) + uint_size(m->filename) + uint_size(m->build_id) +
	              2 * (size_t)((m->has_functions != 0) + (m->has_filenames != 0) +
	                           (m->has_line_numbers != 0) + (m->has_inline_frames != 0));
	put_len(w, 3, size);
	put_uint(w, 1, m->id);
	put_uint(w, 2, m->memory_start);
	put_uint(w, 3, m->memory_limit);
	put_uint(w, 4, m->file_offset);
	put_uint(w, 5, m->filename);
	put_uint(w, 6, m->build_id);
	put_uint(w, 7, m->has_functions != 0);
	put_uint(w, 8, m->has_filenames != 0);
	put_uint(w, 9, m->has_line_numbers != 0);
	put_uint(w, 10, m->has_inline_frames != 0);
}

static void put_function(pb_writer *w, const pk_function *f)
{
	size_t size = uint_size(f->id) + uint_size(f->name) + uint_size(f->system_name) +
	              uint_size(f->filename) + uint_size((uint64_t)f->start_line);
	put_len(w, 5, size);
	put_uint(w, 1, f->id);
	put_uint(w, 2, f->name);
	put_uint(w, 3, f->system_name);
	put_uint(w, 4, f->filename);
	put_uint(w, 5, (uint64_t)f->start_line);
}

static size_t line_size(const pk_profile *p, const pk_line *l)
{
	return uint_size(pk_profile_function(p, l->function)->id) + uint_size((uint64_t)l->line) +
	       uint_size((uint64_t)l->column);
}

/* A varint field at d (room for 10 bytes and its key), left out when 0. */
static inline unsigned char *uint_put(unsigned char *d, unsigned field, uint64_t v)
{
	if (v == 0)
		return d;
	*d++ = (unsigned char)(field << 3 | WIRE_VARINT);
	return varint_put(d, v);
}

/* The most bytes a location of up to LOCATION_FAST_LINES lines takes, and
 * 10 more: the room in the buffer in which no put would pass it on. */
#define LOCATION_FAST_LINES 8
#define LOCATION_ROOM(lines) (1 + 10 + 3 * 11 + 2 + (lines) * (2 + 3 * 11) + 10)

static void put_location(pb_writer *w, const pk_profile *p, size_t i)
{
	const pk_location *loc = pk_profile_location(p, i);
	uint64_t mapping_id = loc->mapping == PK_NONE ? 0 : pk_profile_mapping(p, loc->mapping)->id;
	const pk_line *lines;
	size_t count = pk_profile_location_lines(p, i, &lines);
	size_t size = uint_size(loc->id) + uint_size(mapping_id) + uint_size(loc->address) +
	              2 * (size_t)(loc->is_folded != 0);
	if (count <= LOCATION_FAST_LINES && w->cap - w->used >= LOCATION_ROOM(count)) {
		/* Each line's function id and size found once, the location
		 * written in one go. */
		uint64_t fn[LOCATION_FAST_LINES];
		size_t line[LOCATION_FAST_LINES];
		for (size_t j = 0; j < count; j++) {
			fn[j] = pk_profile_function(p, lines[j].function)->id;
			line[j] = uint_size(fn[j]) + uint_size((uint64_t)lines[j].line) +
			          uint_size((uint64_t)lines[j].column);
			size += 2 + line[j]; /* a line's size is below 128 */
		}
		unsigned char *d = w->buf + w->used;
		*d++ = 4 << 3 | WIRE_LEN;
		d = varint_put(d, size);
		d = uint_put(d, 1, loc->id);
		d = uint_put(d, 2, mapping_id);
		d = uint_put(d, 3, loc->address);
		for (size_t j = 0; j < count; j++) {
			*d++ = 4 << 3 | WIRE_LEN;
			*d++ = (unsigned char)line[j];
			d = uint_put(d, 1, fn[j]);
			d = uint_put(d, 2, (uint64_t)lines[j].line);
			d = uint_put(d, 3, (uint64_t)lines[j].column);
		}
		d = uint_put(d, 5, loc->is_folded != 0);
		w->used = (size_t)(d - w->buf);
		return;
	}
	for (size_t j = 0; j < count; j++)
		size += len_field_size(line_size(p, &lines[j]));
	put_len(w, 4, size);
	put_uint(w, 1, loc->id);
	put_uint(w, 2, mapping_id);
	put_uint(w, 3, loc->address);
	for (size_t j = 0; j < count; j++) {
		put_len(w, 4, line_size(p, &lines[j]));
		put_uint(w, 1, pk_profile_function(p, lines[j].function)->id);
		put_uint(w, 2, (uint64_t)lines[j].line);
		put_uint(w, 3, (uint64_t)lines[j].column);
	}
	put_uint(w, 5, loc->is_folded != 0);
}

static size_t label_size(const pk_label *l)
{
	return uint_size(l->key) + uint_size(l->str) + uint_size((uint64_t)l->num) +
	       uint_size(l->num_unit);
}

/* Each distinct stack's packed location ids, encoded when a sample first
 * uses it: samples share stacks, so a sample's ids are then one copy. As
 * the samples go rather than before them, since a gzip output's deflate
 * threads wait for the first bytes and then for the encoder no more. */
typedef struct packed_stacks {
	const pk_profile *p;
	/* Each location's id as a varint of at most 8 bytes and its length,
	 * or 0 when it is longer: an id is then one 8-byte copy, where a
	 * loop per byte mispredicted its end at nearly every id. */
	unsigned char (*id_bytes)[8];
	unsigned char *id_len;
	/* Stack s's packed field, its length and then its ids, is at bytes +
	 * at[s] once at[s] is not SIZE_MAX: a sample copies it whole. */
	size_t *at;
	/* Label l's whole field (key, length, body), after a byte of its
	 * length, at bytes + label_at[l] once that is not SIZE_MAX. */
	size_t *label_at;
	unsigned char *bytes;
	size_t used, cap;
} packed_stacks;

/* Bytes readable past any field packed here (a stack's, a label's): a
 * field up to this long is copied as a whole block (of 64 bytes or this),
 * with no loop or call. */
#define PACK_SLACK 128

static unsigned char *varint_to(unsigned char *d, uint64_t v)
{
	for (; v >= 0x80; v >>= 7)
		*d++ = (unsigned char)(v | 0x80);
	*d++ = (unsigned char)v;
	return d;
}

static int pack_start(const pk_profile *p, packed_stacks *out)
{
	size_t locations = pk_profile_location_count(p), stacks = pk_profile_stack_count(p);
	*out = (packed_stacks){.p = p};
	out->id_bytes = pk__malloc(pk__mul(locations, sizeof *out->id_bytes));
	out->id_len = pk__malloc(locations);
	out->at = pk__malloc(pk__mul(stacks, sizeof *out->at));
	size_t labels = pk_profile_label_count(p);
	if (labels > 0)
		out->label_at = pk__malloc(pk__mul(labels, sizeof *out->label_at));
	if (out->id_bytes == NULL || out->id_len == NULL || out->at == NULL ||
	    (out->label_at == NULL && labels > 0))
		return PK_ENOMEM;
	if (labels > 0)
		memset(out->label_at, 0xff, labels * sizeof *out->label_at);
	for (size_t i = 0; i < locations; i++) {
		uint64_t id = pk_profile_location(p, i)->id;
		unsigned char bytes[10];
		size_t n = (size_t)(varint_to(bytes, id) - bytes);
		memcpy(out->id_bytes[i], bytes, 8);
		out->id_len[i] = n <= 8 ? (unsigned char)n : 0;
	}
	memset(out->at, 0xff, stacks * sizeof *out->at);
	return 0;
}

static void pack_free(packed_stacks *ps)
{
	pk__free(ps->id_bytes);
	pk__free(ps->id_len);
	pk__free(ps->at);
	pk__free(ps->label_at);
	pk__free(ps->bytes);
}

/* Room for need more bytes and PACK_SLACK after them. */
static int pack_room(packed_stacks *ps, size_t need)
{
	if (need > SIZE_MAX / 2 - PACK_SLACK - ps->used)
		return PK_ENOMEM;
	need += PACK_SLACK;
	if (ps->cap - ps->used >= need)
		return 0;
	size_t cap = ps->cap ? ps->cap : (size_t)64 * 1024;
	while (cap - ps->used < need)
		cap *= 2;
	unsigned char *bytes = pk__realloc(ps->bytes, ps->used, cap);
	if (bytes == NULL)
		return PK_ENOMEM;
	ps->bytes = bytes;
	ps->cap = cap;
	return 0;
}

/* The packed bytes now end at end. The writer's block copies read up to 64
 * bytes past a field (within PACK_SLACK): zeroed here, a new page is
 * faulted in once, by this write, not mapped to the zero page by such a
 * read and faulted in again by the next field's write, which also flushes
 * the TLBs of the cores the deflaters run on (shallow medium: 266 of the
 * export's 1,400 faults). */
static void pack_end(packed_stacks *ps, unsigned char *end)
{
	memset(end, 0, 64);
	ps->used = (size_t)(end - ps->bytes);
}

/* Stack s's packed ids, encoded now if they were not yet. */
static int pack_stack(packed_stacks *ps, size_t s)
{
	if (ps->at[s] != SIZE_MAX)
		return 0;
	const uint32_t *locs;
	size_t depth = pk_profile_stack(ps->p, s, &locs);
	/* 10 bytes an id: the longest varint, and room for an 8-byte copy
	 * past the end of a shorter one; 10 for the length. */
	PK_FORWARD(pack_room(ps, pk__mul(depth, 10) + 10));
	/* The ids go after room for a length of 3 bytes (up to 2 MiB of
	 * ids), which then goes right before them. */
	unsigned char *ids = ps->bytes + ps->used + 3, *d = ids;
	for (size_t j = 0; j < depth; j++) {
		uint32_t l = locs[j];
		size_t n = ps->id_len[l];
		if (n > 0) {
			memcpy(d, ps->id_bytes[l], 8);
			d += n;
		} else {
			d = varint_to(d, pk_profile_location(ps->p, l)->id);
		}
	}
	size_t len = (size_t)(d - ids), n = varint_size(len);
	if (n > 3) {
		memmove(ids + n - 3, ids, len);
		ids += n - 3;
	}
	ps->at[s] = (size_t)(ids - n - ps->bytes);
	varint_to(ids - n, len);
	pack_end(ps, ids + len);
	return 0;
}

/* A label's field: key, a one-byte length and four varint fields. */
#define LABEL_FIELD_MAX (2 + 4 * 11)

/* Label l's field, encoded now if it was not yet. */
static int pack_label(packed_stacks *ps, uint32_t l)
{
	if (ps->label_at[l] != SIZE_MAX)
		return 0;
	/* pack_room's slack takes uint_put's 8-byte stores past the field. */
	PK_FORWARD(pack_room(ps, 1 + LABEL_FIELD_MAX));
	const pk_label *label = &pk__profile_labels(ps->p)[l];
	unsigned char *start = ps->bytes + ps->used, *d = start + 1;
	*d++ = 3 << 3 | WIRE_LEN;
	*d++ = (unsigned char)label_size(label);
	d = uint_put(d, 1, label->key);
	d = uint_put(d, 2, label->str);
	d = uint_put(d, 3, (uint64_t)label->num);
	d = uint_put(d, 4, label->num_unit);
	*start = (unsigned char)(d - start - 1);
	ps->label_at[l] = ps->used;
	pack_end(ps, d);
	return 0;
}

/* The length of stack s's packed ids, and of its field without the key. */
static inline size_t packed_len(const packed_stacks *ps, size_t s, size_t *field)
{
	const unsigned char *r = ps->bytes + ps->at[s];
	size_t len = r[0] & 0x7f, n = 1;
	for (; r[n - 1] & 0x80; n++)
		len |= (size_t)(r[n] & 0x7f) << 7 * n;
	*field = n + len;
	return len;
}

/* Room in the buffer for a sample: its keys and lengths, values, ids and
 * label fields and what a block copy writes past them. */
#define SAMPLE_ROOM(field, labels, values)                                                         \
	((field) + (labels) + 10 * (values) + 3 + 2 * 10 + PACK_SLACK)
#define SAMPLE_FAST_VALUES 8

/* Most samples: a few values, written at once from their stack's and
 * labels' fields encoded before. */
static void put_sample_fast(pb_writer *w, const pk_sample *s, const packed_stacks *ps,
                            size_t ids_len, size_t field_len, size_t labels_len)
{
	const unsigned char *field = ps->bytes + ps->at[s->stack];
	unsigned char values[10 * SAMPLE_FAST_VALUES], *v = values;
	for (size_t j = 0; j < s->value_count; j++)
		v = varint_put(v, (uint64_t)s->values[j]);
	size_t values_len = (size_t)(v - values), size = 0;
	if (ids_len > 0)
		size += 1 + field_len;
	if (values_len > 0)
		size += len_field_size(values_len);
	size += labels_len;
	unsigned char *d = w->buf + w->used;
	*d++ = 2 << 3 | WIRE_LEN;
	d = varint_put(d, size);
	if (ids_len > 0) {
		*d++ = 1 << 3 | WIRE_LEN;
		if (field_len <= 64)
			memcpy(d, field, 64);
		else if (field_len <= PACK_SLACK)
			memcpy(d, field, PACK_SLACK);
		else
			memcpy(d, field, field_len);
		d += field_len;
	}
	if (values_len > 0) {
		*d++ = 2 << 3 | WIRE_LEN;
		d = varint_put(d, values_len);
		if (values_len <= 16)
			memcpy(d, values, 16);
		else
			memcpy(d, values, values_len);
		d += values_len;
	}
	for (size_t j = 0; j < s->label_count; j++) {
		const unsigned char *label = ps->bytes + ps->label_at[s->labels[j]];
		memcpy(d, label + 1, LABEL_FIELD_MAX);
		d += label[0];
	}
	w->used = (size_t)(d - w->buf);
}

static void put_sample(pb_writer *w, const pk_sample *s, packed_stacks *ps)
{
	if (pack_stack(ps, s->stack) < 0) {
		w->rc = PK_ENOMEM;
		return;
	}
	size_t labels_len = 0;
	for (size_t j = 0; j < s->label_count; j++) {
		if (pack_label(ps, s->labels[j]) < 0) {
			w->rc = PK_ENOMEM;
			return;
		}
		labels_len += ps->bytes[ps->label_at[s->labels[j]]];
	}
	/* After the labels, which may move the bytes. */
	const unsigned char *field = ps->bytes + ps->at[s->stack];
	size_t field_len, ids = packed_len(ps, s->stack, &field_len);
	if (s->value_count <= SAMPLE_FAST_VALUES &&
	    w->cap - w->used >= SAMPLE_ROOM(field_len, labels_len, s->value_count)) {
		put_sample_fast(w, s, ps, ids, field_len, labels_len);
		return;
	}
	size_t values = 0, size = 0;
	for (size_t j = 0; j < s->value_count; j++)
		values += varint_size((uint64_t)s->values[j]);
	if (ids > 0)
		size += len_field_size(ids);
	if (values > 0)
		size += len_field_size(values);
	const pk_label *labels = pk__profile_labels(ps->p);
	for (size_t j = 0; j < s->label_count; j++)
		size += len_field_size(label_size(&labels[s->labels[j]]));
	put_len(w, 2, size);
	if (ids > 0) {
		/* As put_len would, so that the buffer is passed on where it
		 * was (the gzip blocks end there). */
		put_len(w, 1, ids);
		put_bytes(w, field + field_len - ids, ids);
	}
	if (values > 0) {
		put_len(w, 2, values);
		for (size_t j = 0; j < s->value_count; j++)
			put_varint(w, (uint64_t)s->values[j]);
	}
	for (size_t j = 0; j < s->label_count; j++) {
		const pk_label *l = &labels[s->labels[j]];
		put_len(w, 3, label_size(l));
		put_uint(w, 1, l->key);
		put_uint(w, 2, l->str);
		put_uint(w, 3, (uint64_t)l->num);
		put_uint(w, 4, l->num_unit);
	}
}

/* Samples use stacks all over megabytes of packed ids: bringing those of
 * the samples a little ahead into the cache while this one is written
 * saves a seventh of the encoder's time (medium profile). The samples are
 * read a ring's length ahead, each once: where its stack is packed comes
 * into the cache then, the packed bytes half a ring later. */
#define SAMPLE_RING 16

static void put_samples(pb_writer *w, const pk_profile *p, packed_stacks *ps)
{
	pk_sample ring[SAMPLE_RING];
	size_t n = pk_profile_sample_count(p);
	for (size_t i = 0; i < n && i < SAMPLE_RING; i++)
		pk__profile_sample_shallow(p, i, &ring[i]);
	for (size_t i = 0; w->rc == 0 && i < n; i++) {
		if (i + SAMPLE_RING / 2 < n) {
			size_t at = ps->at[ring[(i + SAMPLE_RING / 2) % SAMPLE_RING].stack];
			if (at != SIZE_MAX) {
				__builtin_prefetch(ps->bytes + at);
				__builtin_prefetch(ps->bytes + at + 64);
			}
		}
		put_sample(w, &ring[i % SAMPLE_RING], ps);
		if (i + SAMPLE_RING < n) {
			pk_sample *next = &ring[i % SAMPLE_RING];
			pk__profile_sample_shallow(p, i + SAMPLE_RING, next);
			__builtin_prefetch(&ps->at[next->stack]);
		}
	}
}

static void put_header(pb_writer *w, const pk_profile *p)
{
	put_uint(w, 7, pk_profile_drop_frames(p));
	put_uint(w, 8, pk_profile_keep_frames(p));
	put_uint(w, 9, (uint64_t)pk_profile_time_nanos(p));
	put_uint(w, 10, (uint64_t)pk_profile_duration_nanos(p));
	pk_value_type pt = pk_profile_period_type(p);
	if (pt.type != 0 || pt.unit != 0)
		put_value_type(w, 11, pt);
	put_uint(w, 12, (uint64_t)pk_profile_period(p));
	size_t n = pk_profile_comment_count(p), size = 0;
	for (size_t i = 0; i < n; i++)
		size += varint_size(pk_profile_comment(p, i));
	if (n > 0) {
		put_len(w, 13, size);
		for (size_t i = 0; i < n; i++)
			put_varint(w, pk_profile_comment(p, i));
	}
	put_uint(w, 14, pk_profile_default_sample_type(p));
	put_uint(w, 15, pk_profile_doc_url(p));
}

static int pprof_export(const pk_profile *p, const pk_write_options *opts, pk__sink *sink,
                        pk_error *err)
{
	(void)opts; /* nothing in them applies to this format */
	pb_writer w;
	packed_stacks ps = {0};
	if (pb_start(&w, sink) < 0 || pack_start(p, &ps) < 0) {
		pk__free(w.own);
		pack_free(&ps);
		return pk__error_set(err, PK_ENOMEM, "out of memory");
	}
	for (size_t i = 0, n = pk_profile_sample_type_count(p); i < n; i++)
		put_value_type(&w, 1, pk_profile_sample_type(p, i));
	put_samples(&w, p, &ps);
	for (size_t i = 0, n = pk_profile_mapping_count(p); i < n; i++)
		put_mapping(&w, pk_profile_mapping(p, i));
	for (size_t i = 0, n = pk_profile_location_count(p); w.rc == 0 && i < n; i++)
		put_location(&w, p, i);
	for (size_t i = 0, n = pk_profile_function_count(p); w.rc == 0 && i < n; i++)
		put_function(&w, pk_profile_function(p, i));
	for (size_t i = 0, n = pk_profile_string_count(p); w.rc == 0 && i < n; i++) {
		size_t len = pk_profile_string_length(p, (pk_str)i);
		put_len(&w, 6, len);
		put_bytes(&w, pk_profile_string(p, (pk_str)i), len);
	}
	put_header(&w, p);
	pb_finish(&w);
	pack_free(&ps);
	/* A sink's failure is in err already; the first error wins. */
	if (w.rc == PK_ENOMEM)
		pk__error_set(err, PK_ENOMEM, "out of memory");
	return w.rc;
}

static const char *const pprof_extensions[] = {".pb.gz", ".pprof", ".prof", ".pb", NULL};

const pk_format pk__format_pprof = {
    .name = "pprof",
    .description = "pprof profile.proto, gzipped (default) or plain",
    .extensions = pprof_extensions,
    .gzip_by_default = true,
    .sniff = pprof_sniff,
    .probe = pprof_probe,
    .import = pprof_import,
    .import_owned = pprof_import_owned,
    .import_flow = pprof_import_flow,
    .export = pprof_export,
};
