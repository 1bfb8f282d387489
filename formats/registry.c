/* registry.c - the table of formats, and reading and writing through it:
 * the one place that turns bytes into a profile and back. */
#include "internal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

extern const pk_format pk__format_pprof;
extern const pk_format pk__format_json;
extern const pk_format pk__format_speedscope;
extern const pk_format pk__format_collapsed;
extern const pk_format pk__format_flamegraph;
extern const pk_format pk__format_callgrind;

/* Sniffers run in this order: the strict text formats first, pprof's
 * binary sniffer (which accepts much) last. Callgrind's goes before the
 * folded one, which would take an old callgrind file's first line,
 * "version: 1", for a stack and its count. speedscope's goes before JSON's
 * (neither claims the other's files: each looks for its own key), as its
 * extension ".speedscope.json" must win over ".json". */
static const pk_format *const formats[] = {
    &pk__format_speedscope,
    &pk__format_json,
    &pk__format_callgrind,
    &pk__format_collapsed,
    &pk__format_pprof,
    &pk__format_flamegraph,
    NULL,
};

/* Formats known by how a file's name starts rather than ends: valgrind
 * names its files callgrind.out.<pid>. */
static const struct {
	const char *prefix;
	const pk_format *format;
} name_prefixes[] = {
    {"callgrind.out", &pk__format_callgrind},
};

const pk_format *pk_format_at(size_t i)
{
	return i < sizeof formats / sizeof formats[0] - 1 ? formats[i] : NULL;
}

const pk_format *pk_format_by_name(const char *name)
{
	for (size_t i = 0; formats[i] != NULL; i++)
		if (strcmp(formats[i]->name, name) == 0)
			return formats[i];
	return NULL;
}

/* Extensions match in any case: HEAP.PB.GZ is as much pprof as heap.pb.gz. */
static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);
	return len >= n && strncasecmp(s + len - n, suffix, n) == 0;
}

const pk_format *pk_format_by_path(const char *path)
{
	size_t len = strlen(path);
	/* Extensions that carry their own .gz (".pb.gz") win over a stripped one. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; formats[i] != NULL; i++)
			for (const char *const *ext = formats[i]->extensions; ext && *ext; ext++)
				if (ends_with(path, len, *ext))
					return formats[i];
		if (!ends_with(path, len, ".gz"))
			break;
		len -= 3;
	}
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	for (size_t i = 0; i < sizeof name_prefixes / sizeof name_prefixes[0]; i++)
		if (strncmp(base, name_prefixes[i].prefix, strlen(name_prefixes[i].prefix)) == 0)
			return name_prefixes[i].format;
	return NULL;
}

const char *pk_format_name(const pk_format *f)
{
	return f->name;
}

const char *pk_format_description(const pk_format *f)
{
	return f->description;
}

int pk_format_can_import(const pk_format *f)
{
	return f->import != NULL;
}

int pk_format_can_export(const pk_format *f)
{
	return f->export != NULL;
}

/* The first format that knows the bytes. With strict, a format's probe
 * (for the head of a large input) stands in for its sniffer. */
static const pk_format *detect(const unsigned char *data, size_t size, bool strict)
{
	for (size_t i = 0; formats[i] != NULL; i++) {
		int (*sniff)(const unsigned char *, size_t) =
		    strict && formats[i]->probe ? formats[i]->probe : formats[i]->sniff;
		if (formats[i]->import != NULL && sniff != NULL && sniff(data, size) == 0)
			return formats[i];
	}
	return NULL;
}

const pk_format *pk_format_detect(const void *data, size_t size)
{
	/* Sniffers look at a few KiB: a bomb need not be inflated for them. */
	pk__input in;
	if (pk__input_head(data, size, PK_INPUT_PROBE_SIZE, &in) < 0)
		return NULL;
	const pk_format *f = detect(in.data, in.size, false);
	pk__input_release(&in);
	return f;
}

/* ---------------------------------------------------------------- reading */

static int not_a_profile(bool gunzipped, pk_error *err)
{
	char names[128] = "";
	for (size_t i = 0; formats[i] != NULL; i++)
		if (formats[i]->import != NULL)
			snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
			         names[0] ? ", " : "", formats[i]->name);
	return pk__error_at(err, PK_EFORMAT, 0, "not a profile in any format profkit reads (%s)%s",
	                    names, gunzipped ? " after gunzip" : "");
}

/* Refuses a large input early when no format knows its beginning. */
static int probe_formats(const unsigned char *data, size_t size, bool gunzipped, pk_error *err)
{
	return detect(data, size, true) != NULL ? 0 : not_a_profile(gunzipped, err);
}

static pk__input_probe probe_for(const pk_read_options *opts)
{
	return opts != NULL && opts->format != NULL ? NULL : probe_formats;
}

/* *out gets the options in the current version, with those a caller of an
 * older one lacks at their defaults. */
static int check_read_options(const pk_read_options *opts, pk_read_options *out, pk_error *err)
{
	static const pk_read_options defaults = PK_READ_OPTIONS_INIT;
	*out = defaults;
	if (opts != NULL && (opts->version == 0 || opts->version > PK_READ_OPTIONS_VERSION))
		return pk__error_set(err, PK_EINVAL, "unknown pk_read_options version %u",
		                     opts->version);
	if (opts != NULL && opts->version == 1)
		memcpy(out, opts, offsetof(pk_read_options, progress));
	else if (opts != NULL && opts->version == 2)
		memcpy(out, opts, offsetof(pk_read_options, one_thread));
	else if (opts != NULL)
		*out = *opts;
	out->version = PK_READ_OPTIONS_VERSION;
	return 0;
}

/* Validate what format f's importer made of in (rc its result). */
static int finish_import(const pk__input *in, const pk_format *f, pk_profile *p, int rc,
                         bool had_error, const char *source, pk_profile **out,
                         const pk_format **format_out, pk_error *err)
{
	if (rc == 0)
		rc = pk_profile_validate(p, err);
	if (rc == 0)
		pk__profile_shrink(p);
	if (rc < 0) {
		pk_profile_free(p);
		if (err != NULL && !had_error && in->was_gzip && err->offset >= 0 &&
		    err->line == 0) {
			size_t n = strlen(err->message);
			snprintf(err->message + n, sizeof err->message - n,
			         " (offset after gunzip)");
		}
		pk__error_locate(err, source, f->name);
		return rc;
	}
	*out = p;
	if (format_out)
		*format_out = f;
	return 0;
}

/* An input still inflating goes to a format that decodes as it comes,
 * when its start says which format that is and all of it agrees later;
 * else it is had whole first. Returns 1 if it went to none. */
static int import_flow(pk__input *in, const pk_format *f, bool had_error, const char *source,
                       pk_profile **out, const pk_format **format_out, pk_error *err)
{
	size_t n = f == NULL ? pk__input_probe_size(in) : 0;
	if (n > 0)
		PK_FORWARD(probe_formats(in->data, n, true, err));
	n = pk__input_wait(in, PK_INPUT_PROBE_SIZE);
	const pk_format *early = f ? f : detect(in->data, n, false);
	if (n > 0 && early != NULL && early->import_flow != NULL) {
		pk_profile *p = NULL;
		int rc = early->import_flow(in, &p, err);
		if (rc < 0 && in->size == 0)
			return rc; /* the gunzip's error */
		if (in->size > 0 && (f != NULL || detect(in->data, in->size, false) == early))
			return finish_import(in, early, p, rc, had_error, source, out, format_out,
			                     err);
		pk_profile_free(p);
		/* Cleared of any error the importer left. */
		if (err != NULL && !had_error)
			*err = (pk_error)PK_ERROR_INIT;
		PK_FORWARD(pk__input_reload(in, err));
	}
	PK_FORWARD(pk__input_finish(in, err));
	return 1;
}

static int import_input(pk__input *in, const pk_read_options *opts, const char *source,
                        pk_profile **out, const pk_format **format_out, pk_error *err)
{
	const pk_format *f = opts ? opts->format : NULL;
	bool had_error = err != NULL && err->code != 0; /* then the first error stays as it is */
	if (in->flow != NULL) {
		int rc = import_flow(in, f, had_error, source, out, format_out, err);
		if (rc <= 0)
			return rc;
	}
	if (in->size == 0)
		return pk__error_at(err, PK_EFORMAT, 0, "empty input");
	if (f == NULL && (f = detect(in->data, in->size, false)) == NULL)
		return not_a_profile(in->was_gzip, err);
	if (f->import == NULL)
		return pk__error_set(err, PK_EUNSUPPORTED, "profkit cannot read the %s format",
		                     f->name);
	pk_profile *p = NULL;
	/* in->data is our copy, even of a caller's buffer. */
	int rc = in->map != NULL && f->import_mapped ? f->import_mapped(in->data, in->size, &p, err)
	         : f->import_owned                   ? f->import_owned(in->data, in->size, &p, err)
	                                             : f->import(in->data, in->size, &p, err);
	return finish_import(in, f, p, rc, had_error, source, out, format_out, err);
}

int pk_profile_read_path(const char *path, const pk_read_options *opts, pk_profile **out,
                         const pk_format **format_out, pk_error *err)
{
	const char *source = opts && opts->source_name ? opts->source_name : path;
	pk_read_options o;
	PK_FORWARD(check_read_options(opts, &o, err));
	pk__input in;
	pk__progress progress = {o.progress, o.progress_ctx};
	int rc = pk__input_read_path_progress(path, o.max_size, probe_for(&o), &progress, true, &in,
	                                      err);
	in.one_thread = o.one_thread != 0;
	if (rc == 0) {
		if (progress.fn && in.flow == NULL) /* else pk__input_finish says it */
			progress.fn(progress.ctx, "decoding", 0, in.size);
		rc = import_input(&in, &o, source, out, format_out, err);
	}
	pk__input_release(&in);
	pk__error_locate(err, source, NULL);
	return rc;
}

int pk_profile_read_buffer(const void *data, size_t size, const pk_read_options *opts,
                           pk_profile **out, const pk_format **format_out, pk_error *err)
{
	const char *source = opts && opts->source_name ? opts->source_name : "<buffer>";
	pk_read_options o;
	PK_FORWARD(check_read_options(opts, &o, err));
	pk__input in;
	int rc = pk__input_from_buffer(data, size, o.max_size, probe_for(&o), &in, err);
	if (rc == 0)
		rc = import_input(&in, &o, source, out, format_out, err);
	pk__input_release(&in);
	pk__error_locate(err, source, NULL);
	return rc;
}

/* ---------------------------------------------------------------- writing */

/* What every write checks before it opens anything: options it knows, a
 * format that writes, and a model worth writing (an invalid one would give
 * a file that neither profkit nor pprof reads back). *out gets the options
 * in the current version, with those a caller of an older one lacks at
 * their defaults, so exporters read every field. */
static int check_write(const pk_profile *p, const pk_format *f, const pk_write_options *opts,
                       pk_write_options *out, pk_error *err)
{
	static const pk_write_options defaults = PK_WRITE_OPTIONS_INIT;
	*out = defaults;
	if (opts != NULL && (opts->version == 0 || opts->version > PK_WRITE_OPTIONS_VERSION))
		return pk__error_set(err, PK_EINVAL, "unknown pk_write_options version %u",
		                     opts->version);
	if (opts != NULL && opts->version == 1)
		memcpy(out, opts, offsetof(pk_write_options, sample_type));
	else if (opts != NULL && opts->version == 2)
		memcpy(out, opts, offsetof(pk_write_options, name));
	else if (opts != NULL)
		*out = *opts;
	out->version = PK_WRITE_OPTIONS_VERSION;
	if (out->compress != PK_COMPRESS_AUTO && out->compress != PK_COMPRESS_NONE &&
	    out->compress != PK_COMPRESS_GZIP)
		return pk__error_set(err, PK_EINVAL, "unknown compression %d", out->compress);
	if (out->granularity < PK_GRANULARITY_FUNCTIONS ||
	    out->granularity > PK_GRANULARITY_ADDRESSES)
		return pk__error_set(err, PK_EINVAL, "unknown granularity %d", out->granularity);
	const pk_flamegraph_options *fg = out->flamegraph;
	if (fg != NULL && (fg->version == 0 || fg->version > PK_FLAMEGRAPH_OPTIONS_VERSION))
		return pk__error_set(err, PK_EINVAL, "unknown pk_flamegraph_options version %u",
		                     fg->version);
	if (f->export == NULL)
		return pk__error_set(err, PK_EUNSUPPORTED, "profkit cannot write the %s format",
		                     f->name);
	if (!f->one_value && (out->sample_type != NULL || out->base != NULL))
		return pk__error_set(err, PK_EUNSUPPORTED,
		                     "the %s format keeps every sample type; a sample type or "
		                     "base applies to one-value formats such as folded, callgrind "
		                     "and SVG",
		                     f->name);
	PK_FORWARD(pk_profile_validate(p, err));
	if (out->base != NULL)
		PK_FORWARD(pk_profile_validate(out->base, err));
	return 0;
}

static int export_to(const pk_profile *p, const pk_format *f, const pk_write_options *opts,
                     bool gzip, pk__sink *sink, pk_error *err)
{
	if (!gzip)
		return f->export(p, opts, sink, err);
	pk__gzip_sink *g;
	PK_FORWARD(pk__gzip_sink_new(sink, err, &g));
	int rc = f->export(p, opts, pk__gzip_sink_base(g), err);
	if (rc == 0)
		rc = pk__gzip_sink_finish(g);
	pk__gzip_sink_free(g);
	return rc;
}

/* Formats that keep the whole profile (pprof, JSON) group it at a
 * granularity other than functions themselves: the profile written is
 * pk_profile_aggregate's (inlined frames kept), and *o's granularity goes
 * back to functions. *agg (owned) is NULL when p is written as is. */
static int aggregate_for(const pk_profile *p, const pk_format *f, pk_write_options *o,
                         pk_profile **agg, pk_error *err)
{
	*agg = NULL;
	if (f->one_value || o->granularity == PK_GRANULARITY_FUNCTIONS)
		return 0;
	PK_FORWARD(pk_profile_aggregate(p, o->granularity, 1, agg, err));
	o->granularity = PK_GRANULARITY_FUNCTIONS;
	return 0;
}

static bool want_gzip(const pk_format *f, const pk_write_options *opts, const char *path)
{
	if (opts->compress != PK_COMPRESS_AUTO)
		return opts->compress == PK_COMPRESS_GZIP;
	if (path != NULL && ends_with(path, strlen(path), ".gz"))
		return true;
	/* ".pb" names the plain protobuf; other pprof names get gzip. */
	if (path != NULL && ends_with(path, strlen(path), ".pb"))
		return false;
	return f->gzip_by_default;
}

int pk_profile_write_path(const pk_profile *p, const char *path, const pk_write_options *opts,
                          pk_error *err)
{
	const pk_format *f = opts ? opts->format : NULL;
	if (f == NULL && (f = pk_format_by_path(path)) == NULL) {
		pk__error_set(err, PK_ENOTFOUND,
		              "cannot tell the output format from the name; give it");
		pk__error_locate(err, path, NULL);
		return PK_ENOTFOUND;
	}
	pk__file_sink *fs;
	pk_write_options o;
	pk_profile *agg = NULL;
	int rc = check_write(p, f, opts, &o, err);
	if (rc == 0)
		rc = aggregate_for(p, f, &o, &agg, err);
	if (rc == 0)
		rc = pk__file_sink_open(path, err, &fs);
	if (rc == 0) {
		pk__file_sink_set_progress(fs, (pk__progress){o.progress, o.progress_ctx});
		rc = export_to(agg ? agg : p, f, &o, want_gzip(f, &o, path), pk__file_sink_base(fs),
		               err);
		if (rc == 0)
			rc = pk__file_sink_commit(fs);
		else
			pk__file_sink_abort(fs);
	}
	pk_profile_free(agg);
	pk__error_locate(err, path, f->name);
	return rc;
}

int pk_profile_write_buffer(const pk_profile *p, const pk_write_options *opts, void **out,
                            size_t *size, pk_error *err)
{
	const pk_format *f = opts ? opts->format : NULL;
	if (f == NULL)
		return pk__error_set(err, PK_EINVAL, "no output format given");
	pk_write_options o;
	PK_FORWARD(check_write(p, f, opts, &o, err));
	pk_profile *agg;
	PK_FORWARD(aggregate_for(p, f, &o, &agg, err));
	pk__buffer_sink b;
	pk__buffer_sink_init(&b, err);
	int rc = export_to(agg ? agg : p, f, &o, want_gzip(f, &o, NULL), &b.base, err);
	pk_profile_free(agg);
	if (rc < 0) {
		pk__buffer_sink_release(&b);
		return rc;
	}
	*out = b.data;
	*size = b.size;
	return 0;
}
