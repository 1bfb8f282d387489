/* profkit.c - the profkit command: convert between formats, describe a
 * profile. Each subcommand picks a source, operations and a sink; the work
 * itself is in the library. */
#include "common.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

static const cli_option convert_options[] = {
    {"output", 'o', "OUT", "write to OUT ('-' for stdout); its extension picks the format"},
    {"from", 0, "FORMAT", "read IN as FORMAT instead of detecting it"},
    {"to", 0, "FORMAT", "write FORMAT instead of the one OUT's extension implies"},
    {"plain", 0, NULL, "do not gzip the output (pprof is gzipped unless OUT ends in .pb)"},
    {"gzip", 0, NULL, "gzip the output"},
    CLI_VIEW_OPTIONS,
    CLI_FLAME_OPTIONS,
};

static const cli_tool convert_tool = {
    "profkit convert",
    "IN -o OUT [--from FORMAT] [--to FORMAT] [--plain|--gzip]",
    "Convert the profile IN ('-' for stdin) into OUT. IN's format is detected from its bytes\n"
    "after any gzip is undone. OUT is written to a temporary file and renamed into place, so\n"
    "a failed conversion leaves no output and an existing OUT untouched.\n"
    "Formats: pprof (.pb.gz, .pprof, .prof; .pb is written plain), json (.json), folded\n"
    "(.folded, .collapsed), callgrind (.callgrind, callgrind.out.*) and svg (.svg, write\n"
    "only). Folded, callgrind and SVG output are chosen, subtracted and grouped by the\n"
    "options below (callgrind writes every sample type unless one is chosen); the SVG\n"
    "options are flamegraph.pl's.",
    convert_options,
    sizeof convert_options / sizeof convert_options[0],
};

static int cmd_convert(int argc, char **argv)
{
	cli_args args;
	int rc = cli_parse(&convert_tool, argc, argv, &args);
	if (rc >= 0)
		return rc;
	const char *out_path = cli_get(&convert_tool, &args, "output");
	const char *to = cli_get(&convert_tool, &args, "to");
	bool plain = cli_get(&convert_tool, &args, "plain") != NULL;
	bool gzip = cli_get(&convert_tool, &args, "gzip") != NULL;
	if (args.positional_count != 1)
		return cli_usage_error(&convert_tool, "give exactly one input profile");
	if (out_path == NULL)
		return cli_usage_error(&convert_tool, "give the output with -o OUT");
	if (plain && gzip)
		return cli_usage_error(&convert_tool, "--plain and --gzip cannot both be given");

	pk_write_options wopts = PK_WRITE_OPTIONS_INIT;
	if (to != NULL && (rc = cli_format(&convert_tool, to, true, &wopts.format)) >= 0)
		return rc;
	if (wopts.format == NULL && (wopts.format = pk_format_by_path(out_path)) == NULL)
		return cli_usage_error(&convert_tool,
		                       "cannot tell the output format from '%s'; give --to FORMAT",
		                       out_path);
	if (!pk_format_can_export(wopts.format))
		return cli_format(&convert_tool, pk_format_name(wopts.format), true, &wopts.format);
	wopts.compress = plain ? PK_COMPRESS_NONE : gzip ? PK_COMPRESS_GZIP : PK_COMPRESS_AUTO;

	cli_view view;
	if ((rc = cli_view_parse(&convert_tool, &args, &view)) >= 0)
		return rc;
	view.write.format = wopts.format;
	view.write.compress = wopts.compress;

	pk_profile *p;
	rc = cli_read_profile(&convert_tool, args.positional[0],
	                      cli_get(&convert_tool, &args, "from"), &p);
	if (rc < 0) {
		pk_error err = PK_ERROR_INIT;
		rc = pk_profile_write_path(p, out_path, &view.write, &err) < 0
		         ? cli_fail(convert_tool.name, &err)
		         : EXIT_OK;
		pk_profile_free(p);
	}
	cli_view_free(&view);
	return rc;
}

static const cli_option info_options[] = {
    {"from", 0, "FORMAT", "read IN as FORMAT instead of detecting it"},
};

static const cli_tool info_tool = {
    "profkit info",
    "IN [--from FORMAT]",
    "Describe the profile IN ('-' for stdin): its sample types with their totals, the\n"
    "default type, the counts of samples, stacks, locations, functions and mappings, the\n"
    "period, the time and the duration.",
    info_options,
    sizeof info_options / sizeof info_options[0],
};

/* The sample type tools use when none is asked for: pprof's rule. */
static size_t default_type_index(const pk_profile *p)
{
	size_t n = pk_profile_sample_type_count(p);
	pk_str dflt = pk_profile_default_sample_type(p);
	for (size_t i = 0; dflt != 0 && i < n; i++)
		if (pk_profile_sample_type(p, i).type == dflt)
			return i;
	return n - 1;
}

static void print_time(int64_t nanos)
{
	time_t secs = (time_t)(nanos / 1000000000);
	long frac = (long)(nanos % 1000000000);
	if (frac < 0) {
		secs--;
		frac += 1000000000;
	}
	struct tm tm;
	char buf[64];
	if (gmtime_r(&secs, &tm) == NULL ||
	    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		printf("Time: %" PRId64 " ns since the epoch\n", nanos);
	else
		printf("Time: %s.%09ld UTC\n", buf, frac);
}

/* Sum sample type t into *out. Values are int64 and so is a total we
 * print, but a partial sum may leave int64 and come back when values have
 * both signs: count how often the sum wrapped each way, so that *out is
 * the true total exactly when the count ends at 0. Returns false if the
 * true total does not fit int64. */
static bool type_total(const pk_profile *p, size_t t, int64_t *out)
{
	int64_t sum = 0, wraps = 0;
	for (size_t i = 0; i < pk_profile_sample_count(p); i++) {
		pk_sample s;
		pk_profile_sample(p, i, &s);
		if (__builtin_add_overflow(sum, s.values[t], &sum))
			wraps += s.values[t] > 0 ? 1 : -1;
	}
	*out = sum;
	return wraps == 0;
}

static int cmd_info(int argc, char **argv)
{
	cli_args args;
	int rc = cli_parse(&info_tool, argc, argv, &args);
	if (rc >= 0)
		return rc;
	if (args.positional_count != 1)
		return cli_usage_error(&info_tool, "give exactly one input profile");
	pk_profile *p;
	rc = cli_read_profile(&info_tool, args.positional[0], cli_get(&info_tool, &args, "from"),
	                      &p);
	if (rc >= 0)
		return rc;

	size_t types = pk_profile_sample_type_count(p), samples = pk_profile_sample_count(p);
	printf("File: %s\n", args.positional[0]);
	printf("Sample types:\n");
	size_t dflt = types ? default_type_index(p) : 0;
	for (size_t t = 0; t < types; t++) {
		int64_t total;
		char text[32] = "overflows int64";
		if (type_total(p, t, &total))
			snprintf(text, sizeof text, "%" PRId64, total);
		pk_value_type vt = pk_profile_sample_type(p, t);
		printf("  %zu: %s/%s total %s%s\n", t, pk_profile_string(p, vt.type),
		       pk_profile_string(p, vt.unit), text, t == dflt ? " (default)" : "");
	}
	printf("Samples: %zu\n", samples);
	printf("Stacks: %zu distinct\n", pk_profile_stack_count(p));
	printf("Locations: %zu\n", pk_profile_location_count(p));
	printf("Functions: %zu\n", pk_profile_function_count(p));
	printf("Mappings: %zu\n", pk_profile_mapping_count(p));
	pk_value_type pt = pk_profile_period_type(p);
	bool has_period_type = pt.type != 0 || pt.unit != 0;
	if (has_period_type || pk_profile_period(p) != 0) {
		printf("Period: %" PRId64, pk_profile_period(p));
		if (has_period_type)
			printf(" %s/%s", pk_profile_string(p, pt.type),
			       pk_profile_string(p, pt.unit));
		printf("\n");
	}
	if (pk_profile_time_nanos(p) != 0)
		print_time(pk_profile_time_nanos(p));
	if (pk_profile_duration_nanos(p) != 0)
		printf("Duration: %.3fs\n", (double)pk_profile_duration_nanos(p) / 1e9);
	for (size_t i = 0; i < pk_profile_comment_count(p); i++)
		printf("Comment: %s\n", pk_profile_string(p, pk_profile_comment(p, i)));
	pk_profile_free(p);
	return cli_flush_stdout(info_tool.name);
}

static void usage(FILE *fp)
{
	fprintf(fp, "Usage: profkit COMMAND [options]\n\n"
	            "Read, convert and describe performance profiles.\n\n"
	            "Commands:\n"
	            "  convert IN -o OUT   convert a profile between formats\n"
	            "  info IN             describe a profile\n\n"
	            "Formats:\n");
	const pk_format *f;
	for (size_t i = 0; (f = pk_format_at(i)) != NULL; i++)
		fprintf(fp, "  %-10s %s%s\n", pk_format_name(f), pk_format_description(f),
		        pk_format_can_import(f) ? "" : " (write only)");
	fprintf(fp, "\n'profkit COMMAND --help' describes a command's options.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "profkit: no command given (see 'profkit --help')\n");
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		return cli_flush_stdout("profkit");
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-version") == 0) {
		printf("profkit %s\n", pk_version());
		return cli_flush_stdout("profkit");
	}
	if (strcmp(cmd, "convert") == 0)
		return cmd_convert(argc - 1, argv + 1);
	if (strcmp(cmd, "info") == 0)
		return cmd_info(argc - 1, argv + 1);
	cli_error("profkit", "unknown command '%s' (see 'profkit --help')", cmd);
	return EXIT_USAGE;
}
