/* fuzz_speedscope.c - libFuzzer target for the speedscope importer.
 *
 * Any input either fails to import, cleanly, with a one-line error whose
 * code the caller can act on, or imports into a model that the exporter
 * writes, that the sniffer recognizes, and that reads back into a model
 * which writes the same bytes again: a fixed point after one round.
 *
 * As with folded stacks (round_trip.h's lossy case), the second model is not the first:
 * speedscope weights cannot be negative, so stacks of negative value are
 * left out (and the profile's name says so); frames of one name and file
 * become one; stacks of weight 0 go; scaled fractional weights come back
 * without the note that they were scaled; a profile without sample types
 * comes back with one, empty. What must hold is that every value read back
 * is positive, that the totals are the same when no value was negative,
 * and that the number of sample types is kept. */
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

/* The sum of type's values; *odd is set if one is negative or the sum
 * leaves int64 (then stacks merged in the call tree may wrap). */
static int64_t total(const pk_profile *p, size_t type, int *odd)
{
	int64_t sum = 0;
	for (size_t i = 0; i < pk_profile_sample_count(p); i++) {
		pk_sample s;
		if (pk_profile_sample(p, i, &s) != 0)
			abort();
		*odd |= s.values[type] < 0 || __builtin_add_overflow(sum, s.values[type], &sum);
	}
	return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const pk_format *format = pk_format_by_name("speedscope");
	pk_read_options ro = PK_READ_OPTIONS_INIT;
	ro.format = format;
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
	if (pk_format_detect(out1, size1) != format)
		abort();
	pk_profile *q = NULL;
	if (pk_profile_read_buffer(out1, size1, &ro, &q, NULL, NULL) != 0)
		abort();
	void *out2 = write_plain(q, format, &size2);
	if (size1 != size2 || memcmp(out1, out2, size1) != 0)
		abort();
	size_t types = pk_profile_sample_type_count(p);
	if (pk_profile_sample_type_count(q) != (types ? types : 1))
		abort();
	for (size_t t = 0; t < types; t++) {
		int odd = 0, q_odd = 0;
		int64_t a = total(p, t, &odd), b = total(q, t, &q_odd);
		if (q_odd || (!odd && a != b))
			abort();
	}
	pk_free(out1);
	pk_free(out2);
	pk_profile_free(q);
	pk_profile_free(p);
	return 0;
}
