/* profkit.c - the profkit command: convert between formats, describe a
 * profile. Each subcommand picks a source, operations and a sink; the work
 * itself is in the library. */
#include "common.h"

#include <inttypes.h>
#include <stdlib.h>
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
    "(.folded, .collapsed), callgrind (.callgrind, callgrind.out.*), speedscope\n"
    "(.speedscope.json) and svg (.svg, write only). Folded, callgrind, speedscope and SVG\n"
    "output are chosen, subtracted and grouped by the options below (callgrind and\n"
    "speedscope write every sample type unless one is chosen); the SVG options are\n"
    "flamegraph.pl's.",
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
	if (rc < 0 && (rc = cli_view_filter(&convert_tool, &view, &p)) >= 0)
		pk_profile_free(p);
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

/* ---------------------------------------------------------------- reports */

#define REPORT_OPTIONS                                                                             \
	CLI_VIEW_OPTIONS,                                                                          \
	    {"diff_base", 0, "FILE", "show the change from FILE, percentages of FILE's total"},    \
	    {"mean", 0, NULL, "values divided by the first sample type (e.g. mean delay)"},        \
	    {"noinlines", 0, NULL, "charge inlined functions to the function they are in"},        \
	    {"cum", 0, NULL, "sort by cumulative value"},                                          \
	    {"flat", 0, NULL, "sort by flat value (the default)"},                                 \
	    {"nodecount", 0, "N", "show at most N nodes (default: all for top, 80 for tree)"},     \
	    {"nodefraction", 0, "F", "drop nodes below F of the total (default 0.005)"},           \
	    {"edgefraction", 0, "F", "drop edges below F of the total (default 0.001)"},           \
	    {"unit", 0, "UNIT", "show values in UNIT (default: one chosen for the report)"},       \
	    {"relative_percentages", 0, NULL, "percentages of what the filters keep"},             \
	{                                                                                          \
		"output", 'o', "OUT", "write to OUT instead of stdout"                             \
	}

static const cli_option report_options[] = {REPORT_OPTIONS};

static const cli_tool top_tool = {
    "profkit top",
    "IN... [options]",
    "Print the functions of IN that cost most, as 'go tool pprof -text' prints them, byte\n"
    "for byte. Several inputs are merged. The options are go tool pprof's.",
    report_options,
    sizeof report_options / sizeof report_options[0],
};
static const cli_tool traces_tool = {
    "profkit traces",
    "IN... [options]",
    "Print every sample of IN with its stack, as 'go tool pprof -traces' prints them.",
    report_options,
    sizeof report_options / sizeof report_options[0],
};
static const cli_tool tree_tool = {
    "profkit tree",
    "IN... [options]",
    "Print each function of IN with its callers and callees, as 'go tool pprof -tree'.",
    report_options,
    sizeof report_options / sizeof report_options[0],
};

/* The merge key of mapping i, as pk_profile_merge matches mappings. */
static bool same_mapping(const pk_profile *p, size_t i, size_t j)
{
	const pk_mapping *a = pk_profile_mapping(p, i), *b = pk_profile_mapping(p, j);
	uint64_t sa = (a->memory_limit - a->memory_start + 0xfff) & ~(uint64_t)0xfff;
	uint64_t sb = (b->memory_limit - b->memory_start + 0xfff) & ~(uint64_t)0xfff;
	pk_str ia = a->build_id ? a->build_id : a->filename;
	pk_str ib = b->build_id ? b->build_id : b->filename;
	return sa == sb && a->file_offset == b->file_offset &&
	       strcmp(pk_profile_string(p, ia), pk_profile_string(p, ib)) == 0;
}

/* Whether merging p alone (as go tool pprof loads one profile) would leave
 * every -text and -tree report of it as it is: no negative values (so
 * samples that add up keep their sums of |value|, and none cancels), no
 * two mappings that would become one, no comment twice. Reports count
 * per stack and name what they count by content, so the rest of what the
 * merge does (equal samples, locations and functions made one, objects
 * renumbered) does not show. Then the report needs no copy. */
static bool merge_keeps_report(const pk_profile *p)
{
	size_t maps = pk_profile_mapping_count(p);
	if (maps > 256)
		return false;
	for (size_t i = 0; i < maps; i++)
		for (size_t j = i + 1; j < maps; j++)
			if (same_mapping(p, i, j))
				return false;
	size_t comments = pk_profile_comment_count(p);
	for (size_t i = 0; i < comments; i++)
		for (size_t j = i + 1; j < comments; j++)
			if (pk_profile_comment(p, i) == pk_profile_comment(p, j))
				return false;
	size_t samples = pk_profile_sample_count(p);
	for (size_t i = 0; i < samples; i++) {
		pk_sample s;
		pk_profile_sample(p, i, &s);
		for (size_t t = 0; t < s.value_count; t++)
			if (s.values[t] < 0)
				return false;
	}
	return true;
}

/* Read and merge the profiles named in paths. With as_is, one profile
 * that merging would not change for a -text or -tree report is left as
 * it is. */
static int read_merged(const cli_tool *tool, const char *const *paths, size_t n, bool as_is,
                       pk_profile **out)
{
	pk_profile *list[CLI_MAX_POSITIONAL];
	size_t count = 0;
	int rc = -1;
	for (size_t i = 0; i < n && rc < 0; i++) {
		if (count == CLI_MAX_POSITIONAL) {
			rc = cli_usage_error(tool, "too many profiles");
			break;
		}
		rc = cli_read_profile(tool, paths[i], NULL, &list[count]);
		if (rc < 0)
			count++;
	}
	if (rc < 0 && as_is && count == 1 && merge_keeps_report(list[0])) {
		*out = list[0];
		return rc;
	}
	/* Even one profile is merged, as go tool pprof loads it: equal
	 * samples add up, samples of only zeros go. */
	if (rc < 0) {
		pk_error err = PK_ERROR_INIT;
		if (pk_profile_merge((const pk_profile *const *)list, count, out, &err) < 0)
			rc = cli_fail(tool->name, &err);
	}
	for (size_t i = 0; i < count; i++)
		pk_profile_free(list[i]);
	return rc;
}

static int parse_fraction(const cli_tool *tool, const char *name, const char *text, double *out)
{
	char *end;
	double v = strtod(text, &end);
	if (end == text || *end != '\0' || !(v >= 0 && v <= 1))
		return cli_usage_error(tool, "-%s needs a number from 0 to 1, not '%s'", name,
		                       text);
	*out = v;
	return -1;
}

static int cmd_report(const cli_tool *tool, int kind, int argc, char **argv)
{
	cli_args args;
	int rc = cli_parse(tool, argc, argv, &args);
	if (rc >= 0)
		return rc;
	if (args.positional_count < 1)
		return cli_usage_error(tool, "give an input profile");
	const char *base = cli_get(tool, &args, "base");
	const char *diff_base = cli_get(tool, &args, "diff_base");
	if (base && diff_base)
		return cli_usage_error(tool, "-base and -diff_base flags cannot both be specified");
	pk_report_options o = PK_REPORT_OPTIONS_INIT;
	o.kind = kind;
	o.mean = cli_get(tool, &args, "mean") != NULL;
	o.no_inlines = cli_get(tool, &args, "noinlines") != NULL;
	o.sort_cum = cli_get(tool, &args, "cum") != NULL;
	o.unit = cli_get(tool, &args, "unit");
	o.relative_percentages = cli_get(tool, &args, "relative_percentages") != NULL;
	const char *text;
	if ((text = cli_get(tool, &args, "nodecount")) != NULL) {
		char *end;
		long v = strtol(text, &end, 10);
		if (end == text || *end != '\0')
			return cli_usage_error(tool, "-nodecount needs a whole number, not '%s'",
			                       text);
		o.node_count = v;
	}
	if ((text = cli_get(tool, &args, "nodefraction")) != NULL &&
	    (rc = parse_fraction(tool, "nodefraction", text, &o.node_fraction)) >= 0)
		return rc;
	if ((text = cli_get(tool, &args, "edgefraction")) != NULL &&
	    (rc = parse_fraction(tool, "edgefraction", text, &o.edge_fraction)) >= 0)
		return rc;

	/* cli_view_parse reads -base itself; read it here, as a list */
	cli_args view_args = args;
	for (size_t i = 0; i < tool->option_count; i++)
		if (strcmp(tool->options[i].name, "base") == 0)
			view_args.value[i] = NULL;
	cli_view view;
	if ((rc = cli_view_parse(tool, &view_args, &view)) >= 0)
		return rc;
	o.sample_type = view.write.sample_type;
	o.granularity = view.write.granularity;
	o.filter = view.filtering ? &view.filter : NULL;

	pk_profile *p = NULL, *b = NULL;
	const char *base_path = base ? base : diff_base;
	rc = read_merged(tool, (const char *const *)args.positional, args.positional_count,
	                 kind != PK_REPORT_TRACES && base_path == NULL, &p);
	if (rc < 0 && base_path)
		rc = read_merged(tool, &base_path, 1, false, &b);
	pk_error err = PK_ERROR_INIT;
	if (rc < 0 && b) {
		pk_profile *d;
		if (pk_profile_diff(b, p, diff_base ? PK_DIFF_DIFF_BASE : PK_DIFF_BASE, &d, &err) <
		    0) {
			rc = cli_fail(tool->name, &err);
		} else {
			pk_profile_free(p);
			p = d;
		}
	}
	if (rc < 0) {
		const char *out = cli_get(tool, &args, "output");
		rc = pk_report_write_path(p, out ? out : "-", &o, &err) < 0
		         ? cli_fail(tool->name, &err)
		         : EXIT_OK;
		if (rc == EXIT_OK && out == NULL)
			rc = cli_flush_stdout(tool->name);
	}
	pk_profile_free(p);
	pk_profile_free(b);
	cli_view_free(&view);
	return rc;
}

/* ------------------------------------------------------------ merge, diff */

static const cli_option merge_options[] = {
    {"output", 'o', "OUT", "write the merged profile to OUT (pprof unless its extension says)"},
};

static const cli_tool merge_tool = {
    "profkit merge",
    "A B... -o OUT",
    "Merge profiles of the same sample types into one, as 'go tool pprof -proto A B...':\n"
    "samples with the same stack and labels add up, samples that sum to 0 are dropped.",
    merge_options,
    sizeof merge_options / sizeof merge_options[0],
};

static int write_profile(const cli_tool *tool, const pk_profile *p, const char *path)
{
	pk_write_options w = PK_WRITE_OPTIONS_INIT;
	w.progress = cli_progress;
	if ((w.format = pk_format_by_path(path)) == NULL)
		w.format = pk_format_by_name("pprof");
	pk_error err = PK_ERROR_INIT;
	if (pk_profile_write_path(p, path, &w, &err) < 0)
		return cli_fail(tool->name, &err);
	return EXIT_OK;
}

static int cmd_merge(int argc, char **argv)
{
	cli_args args;
	int rc = cli_parse(&merge_tool, argc, argv, &args);
	if (rc >= 0)
		return rc;
	const char *out = cli_get(&merge_tool, &args, "output");
	if (args.positional_count < 1)
		return cli_usage_error(&merge_tool, "give the profiles to merge");
	if (out == NULL)
		return cli_usage_error(&merge_tool, "give the output with -o OUT");
	static const bool no_negate[CLI_MAX_POSITIONAL];
	pk_profile *m = NULL;
	rc = cli_merge_profiles(&merge_tool, (const char *const *)args.positional,
	                        args.positional_count, no_negate, &m);
	if (rc < 0)
		rc = write_profile(&merge_tool, m, out);
	pk_profile_free(m);
	return rc;
}

static const cli_option diff_options[] = {
    {"output", 'o', "OUT", "write the difference as a profile to OUT"},
    CLI_VIEW_OPTIONS,
};

static const cli_tool diff_tool = {
    "profkit diff",
    "BASE NEW [-o OUT]",
    "The change from BASE to NEW: BASE's values subtracted from NEW's, as 'go tool pprof\n"
    "-base BASE NEW'. With -o OUT it writes that profile; without, it prints the growth as\n"
    "'go tool pprof -text -base BASE NEW' shows it (a leak report).",
    diff_options,
    sizeof diff_options / sizeof diff_options[0],
};

static int cmd_diff(int argc, char **argv)
{
	cli_args args;
	int rc = cli_parse(&diff_tool, argc, argv, &args);
	if (rc >= 0)
		return rc;
	if (args.positional_count != 2)
		return cli_usage_error(&diff_tool, "give BASE and NEW");
	const char *out = cli_get(&diff_tool, &args, "output");
	cli_view view;
	if ((rc = cli_view_parse(&diff_tool, &args, &view)) >= 0)
		return rc;
	/* the base negated and merged after NEW, as pk_profile_diff does */
	static const bool negate[2] = {true, false};
	pk_profile *d = NULL;
	pk_error err = PK_ERROR_INIT;
	rc = cli_merge_profiles(&diff_tool, (const char *const *)args.positional, 2, negate, &d);
	if (rc < 0 && out) {
		if ((rc = cli_view_filter(&diff_tool, &view, &d)) < 0)
			rc = write_profile(&diff_tool, d, out);
	} else if (rc < 0) {
		pk_report_options o = PK_REPORT_OPTIONS_INIT;
		o.sample_type = view.write.sample_type;
		o.granularity = view.write.granularity;
		o.filter = view.filtering ? &view.filter : NULL;
		rc = pk_report_write_path(d, "-", &o, &err) < 0 ? cli_fail(diff_tool.name, &err)
		                                                : cli_flush_stdout(diff_tool.name);
	}
	pk_profile_free(d);
	cli_view_free(&view);
	return rc;
}

static void usage(FILE *fp)
{
	fprintf(fp, "Usage: profkit COMMAND [options]\n\n"
	            "Read, convert and describe performance profiles.\n\n"
	            "Commands:\n"
	            "  convert IN -o OUT   convert a profile between formats\n"
	            "  info IN             describe a profile\n"
	            "  top IN...           the costliest functions (go tool pprof -text)\n"
	            "  traces IN...        every sample with its stack (-traces)\n"
	            "  tree IN...          callers and callees of each function (-tree)\n"
	            "  merge A B... -o OUT merge profiles (go tool pprof -proto A B)\n"
	            "  diff BASE NEW       the change from BASE to NEW (-base)\n\n"
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
	if (strcmp(cmd, "top") == 0)
		return cmd_report(&top_tool, PK_REPORT_TOP, argc - 1, argv + 1);
	if (strcmp(cmd, "traces") == 0)
		return cmd_report(&traces_tool, PK_REPORT_TRACES, argc - 1, argv + 1);
	if (strcmp(cmd, "tree") == 0)
		return cmd_report(&tree_tool, PK_REPORT_TREE, argc - 1, argv + 1);
	if (strcmp(cmd, "merge") == 0)
		return cmd_merge(argc - 1, argv + 1);
	if (strcmp(cmd, "diff") == 0)
		return cmd_diff(argc - 1, argv + 1);
	cli_error("profkit", "unknown command '%s' (see 'profkit --help')", cmd);
	return EXIT_USAGE;
}
