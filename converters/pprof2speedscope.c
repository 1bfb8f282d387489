/* pprof2speedscope.c - a profile as a speedscope file, every sample type a
 * profile of its own, ready for https://www.speedscope.app or the
 * speedscope command. */
#include "common.h"

static const cli_option options[] = {
    {"output", 'o', "OUT", "write to OUT (default: standard output)"},
    {"from", 0, "FORMAT", "read IN as FORMAT instead of detecting it"},
    CLI_VIEW_OPTIONS,
};

static const cli_tool tool = {
    "pprof2speedscope",
    "[options] IN [-o OUT]",
    "Write the profile IN ('-' for stdin; pprof, gzipped or not, or any format profkit\n"
    "reads) as a speedscope file (name it NAME.speedscope.json), which speedscope opens\n"
    "with its frames' source files and lines. Each sample type is a profile of its own\n"
    "(only the one -sample_index names, if given); the default sample type is shown\n"
    "first. Inlined functions are frames of their own. With -base, each profile shows\n"
    "the growth from the base profile; stacks that shrank are left out, as speedscope\n"
    "cannot show negative weights, and the profile's name says by how much.",
    options,
    sizeof options / sizeof options[0],
};

int main(int argc, char **argv)
{
	cli_args args;
	int rc = cli_parse(&tool, argc, argv, &args);
	if (rc >= 0)
		return rc;
	if (args.positional_count != 1)
		return cli_usage_error(&tool, "give exactly one input profile");
	return cli_convert_run(&tool, &args, "speedscope", cli_get(&tool, &args, "output"));
}
