/* pprof.c - pprof's profile.proto, read and written.
 *
 * Reading decodes the protobuf wire format directly rather than through
 * protobuf-c's unpack: unpack allocates one message per sample and forgets
 * where each field was, and we want neither. The decoder walks the
 * top-level fields a few times, each walk handling what the earlier ones
 * made resolvable (strings, then functions and mappings, then locations,
 * then samples), because writers put messages in any order: the Go runtime
 * writes the string table last.
 *
 * Writing fills the messages generated from profile.proto by protoc-c and
 * lets protobuf-c encode them straight into the output sink; only the
 * string table is encoded by hand, as its strings may hold NUL bytes. */
#include "internal.h"
#include "profile.pb-c.h"

#include <string.h>

/* ------------------------------------------------------------- wire level */

enum { WIRE_VARINT = 0, WIRE_I64 = 1, WIRE_LEN = 2, WIRE_I32 = 5 };

/* A window of the input, with absolute offsets for errors. */
typedef struct pb_reader {
	const unsigned char *data; /* the whole input */
	size_t pos, end;
	pk_error *err;
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

/* The varint at data[*pos], within end: the loop of packed fields, where
 * ids and values take one to three bytes. */
static inline int read_packed_varint(const unsigned char *data, size_t *pos, size_t end,
                                     pk_error *err, uint64_t *out)
{
	size_t i = *pos;
	if (data[i] < 0x80) {
		*out = data[i];
		*pos = i + 1;
		return 0;
	}
	if (end - i >= 2 && data[i + 1] < 0x80) {
		*out = (uint64_t)(data[i] & 0x7f) | (uint64_t)data[i + 1] << 7;
		*pos = i + 2;
		return 0;
	}
	pb_reader r = {data, i, end, err};
	PK_FORWARD(read_varint_long(&r, out));
	*pos = r.pos;
	return 0;
}

/* Read the next field. Returns 1 for a field, 0 at the end, or an error. */
static int next_field(pb_reader *r, pb_field *f)
{
	if (r->pos >= r->end)
		return 0;
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
	return (pb_reader){parent->data, f->start, f->start + f->len, parent->err};
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

typedef struct importer {
	pb_reader top;
	pk_profile *p;
	pk_error *err;
	pk_str *strings; /* pprof string index -> our interned string */
	size_t string_count;
	pk__import_state st;    /* id maps and scratch arrays */
	size_t counts[16];      /* top-level fields seen, by number */
	size_t first_sample_at; /* offset of the first sample's key */
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

/* Walk 1: count messages, collect the string table and header scalars. */
static int walk_strings(importer *im)
{
	pb_reader r = im->top;
	pb_field f;
	int rc;
	pk__vec spans = {0}; /* size_t pairs: start, len */
	/* pprof takes a time_nanos after a nonzero one for a second profile;
	 * one after a zero simply replaces it. */
	bool have_time = false;
	while ((rc = next_field(&r, &f)) > 0) {
		if (f.number < 16)
			im->counts[f.number]++;
		if (f.number == 2 && im->counts[2] == 1)
			im->first_sample_at = f.at;
		bool second_time = f.number == 9 && have_time;
		if (f.number == 9)
			have_time = have_time || (f.wire == WIRE_VARINT && f.varint != 0);
		if (second_time)
			rc = pk__error_at(
			    im->err, PK_EFORMAT, (long long)f.at,
			    "a second time_nanos field: two profiles were concatenated");
		else if (f.number == 6 &&
		         (rc = expect_wire(&r, &f, WIRE_LEN, "string_table")) == 0) {
			if (spans.count == 0 && f.len != 0)
				rc = pk__error_at(im->err, PK_EFORMAT, (long long)f.at,
				                  "string_table[0] must be the empty string");
			else if (pk__vec_push(&spans, 2 * sizeof(size_t),
			                      (size_t[]){f.start, f.len}, 1, NULL) < 0)
				rc = pk__error_set(im->err, PK_ENOMEM, "out of memory");
		}
		if (rc < 0)
			break;
	}
	if (rc == 0 && spans.count == 0 && r.end > 0)
		rc = pk__error_at(im->err, PK_EFORMAT, 0, "the profile has no string table");
	if (rc == 0) {
		const size_t *span = spans.items;
		im->strings = pk__calloc(spans.count ? spans.count : 1, sizeof *im->strings);
		if (im->strings == NULL)
			rc = pk__error_set(im->err, PK_ENOMEM, "out of memory");
		for (size_t i = 0; rc == 0 && i < spans.count; i++)
			if (pk_profile_intern(im->p, (const char *)im->top.data + span[2 * i],
			                      span[2 * i + 1], &im->strings[i]) < 0)
				rc = pk__error_set(im->err, PK_ENOMEM, "out of memory");
		im->string_count = rc == 0 ? spans.count : 0;
	}
	pk__vec_free(&spans);
	return rc < 0 ? rc : 0;
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

static int read_function(importer *im, const pb_field *f)
{
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
	if (pk__vec_push(&im->st.lines, sizeof line, &line, 1, NULL) < 0)
		return pk__error_set(im->err, PK_ENOMEM, "out of memory");
	return 0;
}

static int read_location(importer *im, const pb_field *f)
{
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

/* Sample.location_id, packed or not, decoded straight into the tail of
 * the profile's stack pool after the depth ids already there. */
static int read_location_ids(importer *im, const pb_reader *r, const pb_field *g, size_t *depth)
{
	const pk__idmap *ids = &im->st.location_ids;
	uint32_t *room;
	size_t pos = g->at, end = 0, more = 1;
	if (g->wire != WIRE_VARINT) {
		PK_FORWARD(expect_wire(r, g, WIRE_LEN, "Sample.location_id"));
		pos = g->start;
		end = g->start + g->len;
		more = g->len; /* each id takes a byte at least */
		if (more == 0)
			return 0;
	}
	if (pk__profile_stack_room(im->p, *depth, more, &room) < 0)
		return pk__error_set(im->err, PK_ENOMEM, "out of memory");
	uint32_t *out = room + *depth;
	do {
		size_t at = pos;
		uint64_t id = g->varint;
		if (g->wire != WIRE_VARINT)
			PK_FORWARD(read_packed_varint(r->data, &pos, end, im->err, &id));
		uint32_t index = pk__idmap_get(ids, id);
		if (index == PK_NONE)
			return pk__error_at(
			    im->err, PK_EFORMAT, (long long)at,
			    "a sample refers to location id %llu, which no location has",
			    (unsigned long long)id);
		*out++ = index;
	} while (pos < end);
	*depth = (size_t)(out - room);
	return 0;
}

/* Sample.value, packed or not, appended to the scratch values. */
static int read_values(importer *im, const pb_reader *r, const pb_field *g)
{
	pk__vec *values = &im->st.values;
	if (g->wire == WIRE_VARINT) {
		int64_t v = (int64_t)g->varint;
		if (pk__vec_push(values, sizeof v, &v, 1, NULL) < 0)
			return pk__error_set(im->err, PK_ENOMEM, "out of memory");
		return 0;
	}
	PK_FORWARD(expect_wire(r, g, WIRE_LEN, "Sample.value"));
	if (pk__vec_reserve(values, sizeof(int64_t), g->len) < 0)
		return pk__error_set(im->err, PK_ENOMEM, "out of memory");
	for (size_t pos = g->start, end = g->start + g->len; pos < end;) {
		uint64_t v;
		PK_FORWARD(read_packed_varint(r->data, &pos, end, im->err, &v));
		PK_VEC_AT(*values, int64_t, values->count++) = (int64_t)v;
	}
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
		case 1: PK_FORWARD(get_string(im, v, g.at, &label.key)); break;
		case 2: PK_FORWARD(get_string(im, v, g.at, &label.str)); break;
		case 3: label.num = (int64_t)v; break;
		case 4: PK_FORWARD(get_string(im, v, g.at, &label.num_unit)); break;
		}
	}
	PK_FORWARD(rc);
	if (pk__vec_push(&im->st.labels, sizeof label, &label, 1, NULL) < 0)
		return pk__error_set(im->err, PK_ENOMEM, "out of memory");
	return 0;
}

static int read_sample(importer *im, const pb_field *f)
{
	pb_reader r = sub_reader(&im->top, f);
	pb_field g;
	int rc;
	size_t depth = 0;
	im->st.values.count = im->st.labels.count = 0;
	while ((rc = next_field(&r, &g)) > 0) {
		if (g.number == 1)
			PK_FORWARD(read_location_ids(im, &r, &g, &depth));
		else if (g.number == 2)
			PK_FORWARD(read_values(im, &r, &g));
		else if (g.number == 3 && (rc = expect_wire(&r, &g, WIRE_LEN, "Sample.label")) == 0)
			PK_FORWARD(read_label(im, &r, &g));
		PK_FORWARD(rc);
	}
	PK_FORWARD(rc);
	size_t types = pk_profile_sample_type_count(im->p);
	if (im->st.values.count != types)
		return pk__error_at(im->err, PK_EFORMAT, (long long)f->at,
		                    "a sample has %zu values but the profile has %zu sample types",
		                    im->st.values.count, types);
	if (pk__profile_add_tail_sample(im->p, depth, im->st.values.items, im->st.labels.items,
	                                im->st.labels.count) < 0)
		return pk__error_set(im->err, PK_ENOMEM, "out of memory");
	return 0;
}

/* Walk 2: the header and everything that refers only to strings. */
static int walk_header(importer *im)
{
	pb_reader r = im->top;
	pb_field f;
	int rc;
	while ((rc = next_field(&r, &f)) > 0) {
		uint64_t v = 0;
		pk_value_type vt;
		pk_str s = 0;
		switch (f.number) {
		case 1:
			PK_FORWARD(read_value_type(im, &f, &vt));
			if (pk_profile_add_sample_type(im->p, vt) < 0)
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

/* Walks 3 and 4: every top-level message of one field number. */
static int walk_messages(importer *im, uint32_t number, const char *what,
                         int (*read)(importer *im, const pb_field *f))
{
	pb_reader r = im->top;
	pb_field f;
	int rc;
	while ((rc = next_field(&r, &f)) > 0) {
		if (f.number != number)
			continue;
		PK_FORWARD(expect_wire(&r, &f, WIRE_LEN, what));
		PK_FORWARD(read(im, &f));
	}
	return rc;
}

static int pprof_import(const unsigned char *data, size_t size, pk_profile **out, pk_error *err)
{
	importer im = {.top = {data, 0, size, err}, .err = err};
	int rc = pk_profile_new(&im.p);
	if (rc < 0)
		return pk__error_set(err, PK_ENOMEM, "out of memory");
	rc = walk_strings(&im);
	if (rc == 0 && pk__import_state_init(&im.st, im.counts[3], im.counts[5], im.counts[4]) < 0)
		rc = pk__error_set(err, PK_ENOMEM, "out of memory");
	if (rc == 0)
		rc = walk_header(&im);
	if (rc == 0 && im.counts[2] > 0 && pk_profile_sample_type_count(im.p) == 0)
		rc = pk__error_at(err, PK_EFORMAT, (long long)im.first_sample_at,
		                  "the profile has samples but no sample types");
	if (rc == 0 && pk__profile_reserve_samples(im.p, im.counts[2]) < 0)
		rc = pk__error_set(err, PK_ENOMEM, "out of memory");
	if (rc == 0)
		rc = walk_messages(&im, 4, "Profile.location", read_location);
	if (rc == 0)
		rc = walk_messages(&im, 2, "Profile.sample", read_sample);
	pk__free(im.strings);
	pk__import_state_free(&im.st);
	if (rc < 0) {
		pk_profile_free(im.p);
		return rc;
	}
	*out = im.p;
	return 0;
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
	pb_reader r = {data, 0, size, NULL};
	pb_field f;
	if (next_field(&r, &f) <= 0 || !profile_field_ok(&f))
		return PK_ENOTMINE;
	return 0;
}

/* Whether the field at `at` fails only because the input ends inside it. */
static bool field_cut_by_end(const unsigned char *data, size_t size, size_t at)
{
	pb_reader r = {data, at, size, NULL};
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
	pb_reader r = {data, 0, size, NULL};
	pb_field f;
	for (;;) {
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

typedef struct sink_buffer {
	ProtobufCBuffer base;
	pk__sink *sink;
	int rc;
} sink_buffer;

static void sink_append(ProtobufCBuffer *b, size_t len, const uint8_t *data)
{
	sink_buffer *sb = (sink_buffer *)b;
	if (sb->rc == 0)
		sb->rc = pk__sink_write(sb->sink, data, len);
}

typedef Perftools__Profiles__ValueType PbValueType;
typedef Perftools__Profiles__Sample PbSample;
typedef Perftools__Profiles__Label PbLabel;
typedef Perftools__Profiles__Mapping PbMapping;
typedef Perftools__Profiles__Location PbLocation;
typedef Perftools__Profiles__Line PbLine;
typedef Perftools__Profiles__Function PbFunction;

/* Everything the message tree points at, in a few big arrays. */
typedef struct export_arrays {
	PbValueType *types, **type_ptrs, period_type;
	PbMapping *mappings, **mapping_ptrs;
	PbFunction *functions, **function_ptrs;
	PbLocation *locations, **location_ptrs;
	PbLine *lines, **line_ptrs;
	PbSample *samples, **sample_ptrs;
	PbLabel *labels, **label_ptrs;
	uint64_t *stack_ids; /* each distinct stack's location ids, once */
	size_t *stack_starts;
	int64_t *comments;
} export_arrays;

static void free_arrays(export_arrays *a)
{
	void *all[] = {a->types,     a->type_ptrs,     a->mappings,  a->mapping_ptrs,
	               a->functions, a->function_ptrs, a->locations, a->location_ptrs,
	               a->lines,     a->line_ptrs,     a->samples,   a->sample_ptrs,
	               a->labels,    a->label_ptrs,    a->stack_ids, a->stack_starts,
	               a->comments};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		pk__free(all[i]);
}

/* Allocate n records and n pointers to them. */
#define ALLOC_MESSAGES(arr, ptrs, n, init)                                                         \
	do {                                                                                       \
		(arr) = pk__calloc((n), sizeof *(arr));                                            \
		(ptrs) = pk__calloc((n), sizeof *(ptrs));                                          \
		if ((arr) == NULL || (ptrs) == NULL)                                               \
			return PK_ENOMEM;                                                          \
		for (size_t k = 0; k < (n); k++) {                                                 \
			(arr)[k] = (__typeof__((arr)[k]))init;                                     \
			(ptrs)[k] = &(arr)[k];                                                     \
		}                                                                                  \
	} while (0)

static int fill_objects(const pk_profile *p, export_arrays *a, Perftools__Profiles__Profile *m)
{
	size_t n = pk_profile_sample_type_count(p);
	ALLOC_MESSAGES(a->types, a->type_ptrs, n, PERFTOOLS__PROFILES__VALUE_TYPE__INIT);
	for (size_t i = 0; i < n; i++) {
		pk_value_type vt = pk_profile_sample_type(p, i);
		a->types[i].type = vt.type;
		a->types[i].unit = vt.unit;
	}
	m->n_sample_type = n;
	m->sample_type = a->type_ptrs;

	n = pk_profile_mapping_count(p);
	ALLOC_MESSAGES(a->mappings, a->mapping_ptrs, n, PERFTOOLS__PROFILES__MAPPING__INIT);
	for (size_t i = 0; i < n; i++) {
		const pk_mapping *src = pk_profile_mapping(p, i);
		PbMapping *d = &a->mappings[i];
		d->id = src->id;
		d->memory_start = src->memory_start;
		d->memory_limit = src->memory_limit;
		d->file_offset = src->file_offset;
		d->filename = src->filename;
		d->build_id = src->build_id;
		d->has_functions = src->has_functions;
		d->has_filenames = src->has_filenames;
		d->has_line_numbers = src->has_line_numbers;
		d->has_inline_frames = src->has_inline_frames;
	}
	m->n_mapping = n;
	m->mapping = a->mapping_ptrs;

	n = pk_profile_function_count(p);
	ALLOC_MESSAGES(a->functions, a->function_ptrs, n, PERFTOOLS__PROFILES__FUNCTION__INIT);
	for (size_t i = 0; i < n; i++) {
		const pk_function *src = pk_profile_function(p, i);
		PbFunction *d = &a->functions[i];
		d->id = src->id;
		d->name = src->name;
		d->system_name = src->system_name;
		d->filename = src->filename;
		d->start_line = src->start_line;
	}
	m->n_function = n;
	m->function = a->function_ptrs;

	n = pk_profile_location_count(p);
	size_t total_lines = 0;
	for (size_t i = 0; i < n; i++) {
		const pk_line *lines;
		total_lines += pk_profile_location_lines(p, i, &lines);
	}
	ALLOC_MESSAGES(a->locations, a->location_ptrs, n, PERFTOOLS__PROFILES__LOCATION__INIT);
	ALLOC_MESSAGES(a->lines, a->line_ptrs, total_lines, PERFTOOLS__PROFILES__LINE__INIT);
	for (size_t i = 0, next_line = 0; i < n; i++) {
		const pk_location *src = pk_profile_location(p, i);
		PbLocation *d = &a->locations[i];
		d->id = src->id;
		d->mapping_id =
		    src->mapping == PK_NONE ? 0 : pk_profile_mapping(p, src->mapping)->id;
		d->address = src->address;
		d->is_folded = src->is_folded;
		const pk_line *lines;
		size_t count = pk_profile_location_lines(p, i, &lines);
		d->n_line = count;
		d->line = a->line_ptrs + next_line;
		for (size_t j = 0; j < count; j++, next_line++) {
			a->lines[next_line].function_id =
			    pk_profile_function(p, lines[j].function)->id;
			a->lines[next_line].line = lines[j].line;
			a->lines[next_line].column = lines[j].column;
		}
	}
	m->n_location = n;
	m->location = a->location_ptrs;
	return 0;
}

static int fill_samples(const pk_profile *p, export_arrays *a, Perftools__Profiles__Profile *m)
{
	/* Each distinct stack's ids are computed once and shared. */
	size_t stacks = pk_profile_stack_count(p), total_depth = 0;
	a->stack_starts = pk__calloc(stacks + 1, sizeof *a->stack_starts);
	if (a->stack_starts == NULL)
		return PK_ENOMEM;
	for (size_t s = 0; s < stacks; s++) {
		const uint32_t *locs;
		a->stack_starts[s] = total_depth;
		total_depth += pk_profile_stack(p, s, &locs);
	}
	a->stack_ids = pk__calloc(total_depth, sizeof *a->stack_ids);
	if (a->stack_ids == NULL)
		return PK_ENOMEM;
	for (size_t s = 0; s < stacks; s++) {
		const uint32_t *locs;
		size_t depth = pk_profile_stack(p, s, &locs);
		for (size_t j = 0; j < depth; j++)
			a->stack_ids[a->stack_starts[s] + j] = pk_profile_location(p, locs[j])->id;
	}

	size_t n = pk_profile_sample_count(p), total_labels = 0;
	pk_sample s;
	for (size_t i = 0; i < n; i++) {
		pk_profile_sample(p, i, &s);
		total_labels += s.label_count;
	}
	ALLOC_MESSAGES(a->samples, a->sample_ptrs, n, PERFTOOLS__PROFILES__SAMPLE__INIT);
	ALLOC_MESSAGES(a->labels, a->label_ptrs, total_labels, PERFTOOLS__PROFILES__LABEL__INIT);
	for (size_t i = 0, next_label = 0; i < n; i++) {
		pk_profile_sample(p, i, &s);
		PbSample *d = &a->samples[i];
		d->n_location_id = s.depth;
		d->location_id = a->stack_ids + a->stack_starts[s.stack];
		d->n_value = s.value_count;
		d->value = (int64_t *)s.values; /* only read while packing */
		d->n_label = s.label_count;
		d->label = a->label_ptrs + next_label;
		for (size_t j = 0; j < s.label_count; j++, next_label++) {
			PbLabel *l = &a->labels[next_label];
			l->key = s.labels[j].key;
			l->str = s.labels[j].str;
			l->num = s.labels[j].num;
			l->num_unit = s.labels[j].num_unit;
		}
	}
	m->n_sample = n;
	m->sample = a->sample_ptrs;
	return 0;
}

static int fill_header(const pk_profile *p, export_arrays *a, Perftools__Profiles__Profile *m)
{
	size_t n = pk_profile_comment_count(p);
	a->comments = pk__calloc(n, sizeof *a->comments);
	if (a->comments == NULL)
		return PK_ENOMEM;
	for (size_t i = 0; i < n; i++)
		a->comments[i] = pk_profile_comment(p, i);
	m->n_comment = n;
	m->comment = a->comments;

	pk_value_type pt = pk_profile_period_type(p);
	if (pt.type != 0 || pt.unit != 0) {
		a->period_type = (PbValueType)PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
		a->period_type.type = pt.type;
		a->period_type.unit = pt.unit;
		m->period_type = &a->period_type;
	}
	m->period = pk_profile_period(p);
	m->time_nanos = pk_profile_time_nanos(p);
	m->duration_nanos = pk_profile_duration_nanos(p);
	m->drop_frames = pk_profile_drop_frames(p);
	m->keep_frames = pk_profile_keep_frames(p);
	m->default_sample_type = pk_profile_default_sample_type(p);
	m->doc_url = pk_profile_doc_url(p);
	return 0;
}

/* One string_table entry: key, length, bytes. */
static int write_string(pk__sink *sink, const char *s, size_t len)
{
	unsigned char head[11] = {6 << 3 | WIRE_LEN};
	size_t n = 1;
	uint64_t v = len;
	for (; v >= 0x80; v >>= 7)
		head[n++] = (unsigned char)(v | 0x80);
	head[n++] = (unsigned char)v;
	PK_FORWARD(pk__sink_write(sink, head, n));
	return pk__sink_write(sink, s, len);
}

static int pprof_export(const pk_profile *p, const pk_write_options *opts, pk__sink *sink,
                        pk_error *err)
{
	(void)opts; /* nothing in them applies to this format */
	Perftools__Profiles__Profile m = PERFTOOLS__PROFILES__PROFILE__INIT;
	export_arrays a = {0};
	int rc = fill_header(p, &a, &m);
	if (rc == 0)
		rc = fill_objects(p, &a, &m);
	if (rc == 0)
		rc = fill_samples(p, &a, &m);
	if (rc < 0) {
		free_arrays(&a);
		return pk__error_set(err, PK_ENOMEM, "out of memory");
	}
	/* protobuf-c's strings end at their first NUL byte and pprof's may
	 * hold some, so the string table (field 6) is written by hand between
	 * fields 1-5 and 7-15: the bytes are those one pack would give. */
	Perftools__Profiles__Profile objects = PERFTOOLS__PROFILES__PROFILE__INIT;
	objects.n_sample_type = m.n_sample_type;
	objects.sample_type = m.sample_type;
	objects.n_sample = m.n_sample;
	objects.sample = m.sample;
	objects.n_mapping = m.n_mapping;
	objects.mapping = m.mapping;
	objects.n_location = m.n_location;
	objects.location = m.location;
	objects.n_function = m.n_function;
	objects.function = m.function;
	m.n_sample_type = m.n_sample = m.n_mapping = m.n_location = m.n_function = 0;
	sink_buffer sb = {{sink_append}, sink, 0};
	protobuf_c_message_pack_to_buffer(&objects.base, &sb.base);
	for (size_t i = 0; sb.rc == 0 && i < pk_profile_string_count(p); i++)
		sb.rc = write_string(sink, pk_profile_string(p, (pk_str)i),
		                     pk_profile_string_length(p, (pk_str)i));
	if (sb.rc == 0)
		protobuf_c_message_pack_to_buffer(&m.base, &sb.base);
	free_arrays(&a);
	return sb.rc;
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
    .export = pprof_export,
};
