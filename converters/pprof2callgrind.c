/* pprof2callgrind.c - a profile as a callgrind file for KCachegrind and
 * callgrind_annotate: inclusive costs right under recursion, inlined
 * functions of their own, every sample type as an event. */
#include "common.h"

#include <string.h>

static const cli_option options[] = {
    {"output", 'o', "OUT", "write to OUT (default: callgrind.out.NAME, NAME from IN's name)"},
    {"from", 0, "FORMAT", "read IN as FORMAT instead of detecting it"},
    CLI_VIEW_OPTIONS,
};

static const cli_tool tool = {
    "pprof2callgrind",
    "[options] IN [-o OUT]",
    "Write the profile IN ('-' for stdin; pprof, gzipped or not, or any format profkit\n"
    "reads) as a callgrind file, which KCachegrind and callgrind_annotate read. Each\n"
    "sample type is an event (only the one -sample_index names, if given); costs sit at\n"
    "source lines, or at instruction addresses too with -addresses. Without -o the\n"
    "output is callgrind.out.NAME in the current folder, the name KCachegrind's file\n"
    "dialog looks for (standard output when IN is '-'). calls=N counts the samples that\n"
    "cross a call, a lower bound of the real number of calls.",
    options,
    sizeof options / sizeof options[0],
};

/* "callgrind.out.heap" for ".../heap.pb.gz": the base name up to its first
 * dot, so that every extension goes. */
static void default_output(const char *in, char *out, size_t size)
{
	const char *base = strrchr(in, '/');
	base = base ? base + 1 : in;
	size_t len = strcspn(base, ".");
	if (len == 0)
		snprintf(out, size, "callgrind.out.profile");
	else
		snprintf(out, size, "callgrind.out.%.*s", (int)len, base);
}

int main(int argc, char **argv)
{
	cli_args args;
	int rc = cli_parse(&tool, argc, argv, &args);
	if (rc >= 0)
		return rc;
	if (args.positional_count != 1)
		return cli_usage_error(&tool, "give exactly one input profile");
	const char *in = args.positional[0];
	const char *out_path = cli_get(&tool, &args, "output");
	char name[4096];
	if (out_path == NULL && strcmp(in, "-") != 0) {
		default_output(in, name, sizeof name);
		out_path = name;
	}
	return cli_convert_run(&tool, &args, "callgrind", out_path);
}
