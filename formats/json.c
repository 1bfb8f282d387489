/* json.c - placeholder until the JSON format lands. */
#include "internal.h"

const pk_format pk__format_json = {
	.name = "json",
	.description = "profkit's lossless JSON form of the model",
	.extensions = (const char *const[]){".json", NULL},
};
