/* fuzz_pprof.c - libFuzzer target for the pprof importer.
 *
 * Any input either fails to import, cleanly, or imports into a model that
 * the exporter can write and the importer read back, and writing that
 * again gives the same bytes: a fixed point after one round. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "profkit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The exporter's output for p, plain (no gzip); aborts on failure. */
static void *write_plain(const pk_profile *p, const pk_format *pprof, size_t *size)
{
	pk_write_options wo = PK_WRITE_OPTIONS_INIT;
	wo.format = pprof;
	wo.compress = PK_COMPRESS_NONE;
	void *out = NULL;
	if (pk_profile_write_buffer(p, &wo, &out, size, NULL) != 0)
		abort();
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const pk_format *pprof = pk_format_by_name("pprof");
	pk_read_options ro = PK_READ_OPTIONS_INIT;
	ro.format = pprof;
	/* gzip bombs are bounded, but not to the point of slowing the fuzzer */
	ro.max_size = 64 << 20;
	pk_profile *p = NULL;
	pk_error err = PK_ERROR_INIT;
	if (pk_profile_read_buffer(data, size, &ro, &p, NULL, &err) != 0) {
		/* errors are one line and name where they are */
		if (err.code == 0 || err.message[0] == '\0' || strchr(err.message, '\n') != NULL)
			abort();
		return 0;
	}

	size_t size1 = 0, size2 = 0;
	void *out1 = write_plain(p, pprof, &size1);
	pk_profile *q = NULL;
	if (pk_profile_read_buffer(out1, size1, &ro, &q, NULL, NULL) != 0)
		abort();
	void *out2 = write_plain(q, pprof, &size2);
	if (size1 != size2 || memcmp(out1, out2, size1) != 0)
		abort();
	/* the model itself survived the trip */
	if (pk_profile_sample_count(p) != pk_profile_sample_count(q) ||
	    pk_profile_stack_count(p) != pk_profile_stack_count(q) ||
	    pk_profile_location_count(p) != pk_profile_location_count(q))
		abort();

	pk_free(out1);
	pk_free(out2);
	pk_profile_free(q);
	pk_profile_free(p);
	return 0;
}
