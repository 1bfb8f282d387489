/* flamegraph.c - SVG flame graphs, written with libxml2's xmlTextWriter. */
#include "internal.h"

static const char *const flamegraph_extensions[] = {".svg", NULL};

const pk_format pk__format_flamegraph = {
    .name = "svg",
    .description = "SVG flame graph, interactive in a browser (write only)",
    .extensions = flamegraph_extensions,
    .one_value = true,
};
