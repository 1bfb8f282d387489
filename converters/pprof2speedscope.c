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
	const char *out_path = cli_get(&tool, &args, "output");
	cli_view view;
	if ((rc = cli_view_parse(&tool, &args, &view)) >= 0)
		return rc;
	view.write.format = pk_format_by_name("speedscope");
	view.write.compress = PK_COMPRESS_NONE;
	view.write.flamegraph = NULL;
	if (view.write.format == NULL || !pk_format_can_export(view.write.format)) {
		cli_view_free(&view);
		cli_error(tool.name, "this build of profkit cannot write speedscope files");
		return EXIT_ERROR;
	}

	pk_profile *p;
	rc = cli_read_profile(&tool, args.positional[0], cli_get(&tool, &args, "from"), &p);
	if (rc < 0 && (rc = cli_view_filter(&tool, &view, &p)) >= 0)
		pk_profile_free(p);
	if (rc < 0) {
		pk_error err = PK_ERROR_INIT;
		rc = pk_profile_write_path(p, out_path ? out_path : "-", &view.write, &err) < 0
		         ? cli_fail(tool.name, &err)
		         : EXIT_OK;
		pk_profile_free(p);
	}
	cli_view_free(&view);
	return rc;
}
