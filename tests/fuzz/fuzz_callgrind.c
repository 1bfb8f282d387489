/* fuzz_callgrind.c - libFuzzer target for the callgrind importer.
 *
 * Any input either fails to import, cleanly, with a one-line error whose
 * code the caller can act on, or imports into a valid model whose values
 * are costs (never negative) and which the pprof exporter writes and the
 * pprof importer reads back into the same model: the same bytes when
 * written again. (Callgrind has no exporter of its own yet; when it has,
 * the round trip through it belongs here.) */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "profkit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void *write_pprof(const pk_profile *p, size_t *size)
{
	pk_write_options wo = PK_WRITE_OPTIONS_INIT;
	wo.format = pk_format_by_name("pprof");
	wo.compress = PK_COMPRESS_NONE;
	void *out = NULL;
	if (pk_profile_write_buffer(p, &wo, &out, size, NULL) != 0)
		abort();
	return out;
}

/* The counts of everything, and every sample's stack and values. */
static int same_model(const pk_profile *a, const pk_profile *b)
{
	if (pk_profile_sample_type_count(a) != pk_profile_sample_type_count(b) ||
	    pk_profile_mapping_count(a) != pk_profile_mapping_count(b) ||
	    pk_profile_function_count(a) != pk_profile_function_count(b) ||
	    pk_profile_location_count(a) != pk_profile_location_count(b) ||
	    pk_profile_sample_count(a) != pk_profile_sample_count(b) ||
	    pk_profile_comment_count(a) != pk_profile_comment_count(b))
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pk_read_options ro = PK_READ_OPTIONS_INIT;
	ro.format = pk_format_by_name("callgrind");
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
	for (size_t i = 0; i < pk_profile_sample_count(p); i++) {
		pk_sample s;
		if (pk_profile_sample(p, i, &s) != 0 || s.depth == 0)
			abort();
		for (size_t k = 0; k < s.value_count; k++)
			if (s.values[k] < 0)
				abort();
	}
	size_t size1 = 0, size2 = 0;
	void *out1 = write_pprof(p, &size1);
	pk_read_options pro = PK_READ_OPTIONS_INIT;
	pro.format = pk_format_by_name("pprof");
	pk_profile *q = NULL;
	if (pk_profile_read_buffer(out1, size1, &pro, &q, NULL, NULL) != 0)
		abort();
	void *out2 = write_pprof(q, &size2);
	if (size1 != size2 || memcmp(out1, out2, size1) != 0 || !same_model(p, q))
		abort();
	pk_free(out1);
	pk_free(out2);
	pk_profile_free(q);
	pk_profile_free(p);
	return 0;
}
