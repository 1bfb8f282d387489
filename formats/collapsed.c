/* collapsed.c - folded stacks (FlameGraph's "a;b;c 12"), both ways. */
#include "internal.h"

static const char *const collapsed_extensions[] = {".folded", ".collapsed", NULL};

const pk_format pk__format_collapsed = {
    .name = "folded",
    .description = "folded stacks as FlameGraph reads them (root;...;leaf count)",
    .extensions = collapsed_extensions,
    .one_value = true,
};
