/* pprof2flame.c - a flame graph (SVG) or folded stacks from a profile, in
 * one command: what `go tool pprof -raw | stackcollapse-go.pl |
 * flamegraph.pl` does, with inlined frames, every sample type and diffs. */
#include "common.h"

static const cli_option options[] = {
    {"output", 'o', "OUT", "write to OUT (default: standard output)"},
    {"folded", 0, NULL, "write folded stacks (root;...;leaf count) instead of SVG"},
    {"from", 0, "FORMAT", "read IN as FORMAT instead of detecting it"},
    CLI_VIEW_OPTIONS,
    CLI_FLAME_OPTIONS,
};

static const cli_tool tool = {
    "pprof2flame",
    "[options] IN [-o OUT]",
    "Draw the profile IN ('-' for stdin; pprof, gzipped or not, or any format profkit\n"
    "reads) as an SVG flame graph, or write its folded stacks with --folded. Inlined\n"
    "functions are frames of their own. With -base, the graph shows the change from the\n"
    "base profile: red where a frame grew, blue where it shrank; folded output then has\n"
    "two counts per line (base, then new), as difffolded.pl writes. For a heap leak:\n"
    "  pprof2flame -base heap_t1.pb.gz heap_t2.pb.gz -o growth.svg",
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
	const char *format = cli_get(&tool, &args, "folded") != NULL ? "folded" : "svg";
	return cli_convert_run(&tool, &args, format, cli_get(&tool, &args, "output"));
}
