/* select.c - naming a sample type as `go tool pprof -sample_index` does. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool type_is(const pk_profile *p, size_t i, const char *name, size_t len)
{
	pk_str t = pk_profile_sample_type(p, i).type;
	return pk_profile_string_length(p, t) == len &&
	       memcmp(pk_profile_string(p, t), name, len) == 0;
}

/* "[a b c]", as Go prints a list of names in pprof's message. */
static int no_such_type(const pk_profile *p, const char *spec, pk_error *err)
{
	char names[512];
	size_t used = 0;
	for (size_t i = 0; i < pk_profile_sample_type_count(p) && used < sizeof names; i++) {
		const char *t = pk_profile_string(p, pk_profile_sample_type(p, i).type);
		int n = snprintf(names + used, sizeof names - used, "%s%s", i ? " " : "", t);
		used += n > 0 ? (size_t)n : 0;
	}
	if (used >= sizeof names)
		strcpy(names + sizeof names - 4, "...");
	names[used < sizeof names ? used : sizeof names - 1] = '\0';
	return pk__error_set(err, PK_ENOTFOUND, "sample_index \"%s\" must be one of: [%s]", spec,
	                     names);
}

int pk_profile_find_sample_type(const pk_profile *p, const char *spec, size_t *out, pk_error *err)
{
	size_t count = pk_profile_sample_type_count(p);
	if (count == 0)
		return pk__error_set(err, PK_ENOTFOUND, "the profile has no sample types");
	if (spec == NULL || *spec == '\0') {
		pk_str dflt = pk_profile_default_sample_type(p);
		*out = count - 1;
		for (size_t i = 0; dflt != 0 && i < count; i++) {
			if (pk_profile_sample_type(p, i).type == dflt) {
				*out = i;
				break;
			}
		}
		return 0;
	}
	if (spec[strspn(spec, "0123456789")] == '\0') {
		char *end;
		unsigned long long i = strtoull(spec, &end, 10);
		if (i >= count)
			return pk__error_set(err, PK_ENOTFOUND,
			                     "sample_index %s is outside the range [0..%zu]", spec,
			                     count - 1);
		*out = (size_t)i;
		return 0;
	}
	const char *bare = strncmp(spec, "inuse_", 6) == 0 ? spec + 6 : NULL;
	for (size_t i = 0; i < count; i++) {
		if (type_is(p, i, spec, strlen(spec)) ||
		    (bare && type_is(p, i, bare, strlen(bare)))) {
			*out = i;
			return 0;
		}
	}
	return no_such_type(p, spec, err);
}
