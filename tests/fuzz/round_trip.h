/* round_trip.h - the body every importer's fuzz target shares.
 *
 * Any input either fails to import, cleanly, with a one-line error whose
 * code the caller can act on, or imports into a model that the exporter
 * can write and the importer read back into the same model, and writing
 * that again gives the same bytes: a fixed point after one round. What the
 * exporter writes, the sniffer recognizes. Each target includes this and
 * defines LLVMFuzzerTestOneInput with its format's name. */
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
 * and every sample's stack and values. */
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
	}
	return 1;
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
