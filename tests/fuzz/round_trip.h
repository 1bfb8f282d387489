/* round_trip.h - the body every importer's fuzz target shares.
 *
 * Any input either fails to import, cleanly, with a one-line error whose
 * code the caller can act on, or imports into a model that the exporter
 * can write and the importer read back into the same model, and writing
 * that again gives the same bytes: a fixed point after one round. What the
 * exporter writes, the sniffer recognizes. Each target includes this and
 * defines LLVMFuzzerTestOneInput with its format's name.
 *
 * Folded stacks hold less than the model, so for them the second model is
 * not the first: the exporter merges stacks, leaves out those whose count
 * is 0, and orders them by name, and scaled fractional counts come back as
 * integers without the note that they were scaled. What must hold there is
 * that both models write the same bytes and have the same totals. */
#ifndef PK_FUZZ_ROUND_TRIP_H
#define PK_FUZZ_ROUND_TRIP_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "profkit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The exporter's output for p, plain; aborts on failure. */
static void *write_plain(const pk_profile *p, const pk_format *format, size_t *size)
{
	pk_write_options wo = PK_WRITE_OPTIONS_INIT;
	wo.format = format;
	wo.compress = PK_COMPRESS_NONE;
	void *out = NULL;
	if (pk_profile_write_buffer(p, &wo, &out, size, NULL) != 0)
		abort();
	return out;
}

static int same_string(const pk_profile *a, pk_str sa, const pk_profile *b, pk_str sb)
{
	size_t n = pk_profile_string_length(a, sa);
	return n == pk_profile_string_length(b, sb) &&
	       memcmp(pk_profile_string(a, sa), pk_profile_string(b, sb), n) == 0;
}

/* A cheap check that a and b are the same model: counts, the string table,
 * and every sample's stack, values and labels. */
static int same_model(const pk_profile *a, const pk_profile *b)
{
	if (pk_profile_string_count(a) != pk_profile_string_count(b) ||
	    pk_profile_sample_type_count(a) != pk_profile_sample_type_count(b) ||
	    pk_profile_mapping_count(a) != pk_profile_mapping_count(b) ||
	    pk_profile_function_count(a) != pk_profile_function_count(b) ||
	    pk_profile_location_count(a) != pk_profile_location_count(b) ||
	    pk_profile_stack_count(a) != pk_profile_stack_count(b) ||
	    pk_profile_sample_count(a) != pk_profile_sample_count(b) ||
	    pk_profile_comment_count(a) != pk_profile_comment_count(b))
		return 0;
	for (size_t i = 0; i < pk_profile_string_count(a); i++)
		if (!same_string(a, (pk_str)i, b, (pk_str)i))
			return 0;
	for (size_t i = 0; i < pk_profile_sample_count(a); i++) {
		pk_sample x, y;
		if (pk_profile_sample(a, i, &x) != 0 || pk_profile_sample(b, i, &y) != 0 ||
		    x.depth != y.depth || x.label_count != y.label_count ||
		    (x.depth && memcmp(x.locations, y.locations, x.depth * sizeof *x.locations)) ||
		    memcmp(x.values, y.values, x.value_count * sizeof *x.values) != 0)
			return 0;
		for (size_t j = 0; j < x.label_count; j++) {
			pk_label u = pk_profile_label(a, x.labels[j]),
			         v = pk_profile_label(b, y.labels[j]);
			if (u.key != v.key || u.str != v.str || u.num != v.num ||
			    u.num_unit != v.num_unit)
				return 0;
		}
	}
	return 1;
}

/* The sum of every sample's value of each type (wrapping, as Go's int64),
 * into totals[0..count); 0 if the profile has another number of types. */
static int sum_values(const pk_profile *p, uint64_t *totals, size_t count)
{
	if (pk_profile_sample_type_count(p) != count)
		return 0;
	memset(totals, 0, count * sizeof *totals);
	for (size_t i = 0; i < pk_profile_sample_count(p); i++) {
		pk_sample s;
		if (pk_profile_sample(p, i, &s) != 0)
			return 0;
		for (size_t j = 0; j < count; j++)
			totals[j] += (uint64_t)s.values[j];
	}
	return 1;
}

/* Folded stacks hold one or two sample types, and the same totals. */
static int same_totals(const pk_profile *a, const pk_profile *b)
{
	uint64_t x[2], y[2];
	size_t n = pk_profile_sample_type_count(a);
	return n <= 2 && sum_values(a, x, n) && sum_values(b, y, n) &&
	       memcmp(x, y, n * sizeof *x) == 0;
}

/* Whether format a is tried before b when the format is detected. */
static int sniffs_before(const pk_format *a, const pk_format *b)
{
	for (size_t i = 0; pk_format_at(i) != NULL; i++) {
		if (pk_format_at(i) == b)
			return 0;
		if (pk_format_at(i) == a)
			return 1;
	}
	return 0;
}

/* The lossy round trip of folded stacks (see the top of this file). */
static int fuzz_round_trip_folded(const pk_format *format, const pk_read_options *ro, pk_profile *p)
{
	size_t size1 = 0, size2 = 0;
	void *out1 = write_plain(p, format, &size1);
	if (size1 == 0) {
		/* Only stacks whose counts are all 0: nothing to write. */
		uint64_t zero[2] = {0, 0}, totals[2];
		size_t n = pk_profile_sample_type_count(p);
		if (n > 2 || !sum_values(p, totals, n) || memcmp(totals, zero, n * sizeof *totals))
			abort();
		pk_free(out1);
		pk_profile_free(p);
		return 0;
	}
	pk_profile *q = NULL;
	if (pk_profile_read_buffer(out1, size1, ro, &q, NULL, NULL) != 0)
		abort();
	void *out2 = write_plain(q, format, &size2);
	if (size1 != size2 || memcmp(out1, out2, size1) != 0)
		abort();
	if (!same_totals(p, q))
		abort();
	/* Sniffers that run before folded's (JSON's, callgrind's) may rightly
	 * claim a first frame such as "# callgrind format" or "{" followed by
	 * JSON's marker: the text is theirs as much as folded. */
	const pk_format *detected = pk_format_detect(out1, size1);
	if (detected != format && !sniffs_before(detected, format))
		abort();
	pk_free(out1);
	pk_free(out2);
	pk_profile_free(q);
	pk_profile_free(p);
	return 0;
}

static int fuzz_round_trip(const char *format_name, const uint8_t *data, size_t size)
{
	const pk_format *format = pk_format_by_name(format_name);
	pk_read_options ro = PK_READ_OPTIONS_INIT;
	ro.format = format;
	/* gzip bombs are bounded, but not to the point of slowing the fuzzer */
	ro.max_size = 64 << 20;
	pk_profile *p = NULL;
	pk_error err = PK_ERROR_INIT;
	int rc = pk_profile_read_buffer(data, size, &ro, &p, NULL, &err);
	if (rc != 0) {
		if (err.code != rc || (rc != PK_EFORMAT && rc != PK_ENOMEM) ||
		    err.message[0] == '\0' || strchr(err.message, '\n') != NULL || err.line < 0 ||
		    err.column < 0)
			abort();
		return 0;
	}
	if (strcmp(format_name, "folded") == 0)
		return fuzz_round_trip_folded(format, &ro, p);

	size_t size1 = 0, size2 = 0;
	void *out1 = write_plain(p, format, &size1);
	pk_profile *q = NULL;
	if (pk_profile_read_buffer(out1, size1, &ro, &q, NULL, NULL) != 0)
		abort();
	void *out2 = write_plain(q, format, &size2);
	if (size1 != size2 || memcmp(out1, out2, size1) != 0)
		abort();
	if (!same_model(p, q))
		abort();
	if (pk_format_detect(out1, size1) != format)
		abort();

	pk_free(out1);
	pk_free(out2);
	pk_profile_free(q);
	pk_profile_free(p);
	return 0;
}

#endif
