/* common.h - what the command-line tools share: a declarative option
 * table that also writes --help, and error reporting. Tools use only the
 * public header. */
#ifndef PK_CLI_COMMON_H
#define PK_CLI_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "profkit.h"

/* Exit codes of every tool. */
enum {
	EXIT_OK = 0,
	EXIT_ERROR = 1, /* the input could not be read or the output written */
	EXIT_USAGE = 2, /* bad command line */
};

#define CLI_MAX_POSITIONAL 16

/* One option. Both "-name" and "--name" are accepted (go tool pprof uses
 * single dashes, flamegraph.pl double), and "--name=value" too. */
typedef struct cli_option {
	const char *name; /* long name without dashes */
	char short_name;  /* 0 if none */
	const char *arg;  /* name of its argument, NULL for a flag */
	const char *help;
} cli_option;

typedef struct cli_args {
	const char *value[64]; /* by option index; flags get "" when given */
	const char *positional[CLI_MAX_POSITIONAL];
	size_t positional_count;
} cli_args;

/* A tool's description, used for parsing and for --help. */
typedef struct cli_tool {
	const char *name;     /* as in messages: "profkit convert" */
	const char *synopsis; /* "IN -o OUT [options]" */
	const char *summary;  /* one paragraph */
	const cli_option *options;
	size_t option_count;
} cli_tool;

/* Parse argv (argv[0] is the tool or subcommand). Handles --help and
 * --version itself. Returns -1 to go on, or an exit code to return. */
int cli_parse(const cli_tool *tool, int argc, char **argv, cli_args *out);

/* The value of option `name`, or NULL if it was not given. */
const char *cli_get(const cli_tool *tool, const cli_args *args, const char *name);

void cli_usage(const cli_tool *tool, FILE *fp);

/* Print "tool: message" as one line, control bytes shown as '?'. */
void cli_error(const char *tool, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print "tool: message" for a usage error; returns EXIT_USAGE. */
int cli_usage_error(const cli_tool *tool, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Flush stdout: EXIT_OK, or EXIT_ERROR after an error line if writing
 * failed. Every command that prints to stdout ends with it. */
int cli_flush_stdout(const char *tool);

/* A pk_progress_fn that draws a progress bar on stderr when it is a
 * terminal, the run has taken a second and --quiet was not given; and
 * what clears it (before anything else is printed, and at exit). */
void cli_progress(void *ctx, const char *phase, uint64_t done, uint64_t total);
void cli_progress_end(void);

/* Print the error record as one line; returns EXIT_ERROR. */
int cli_fail(const char *tool, const pk_error *err);

/* Find a format named on the command line; prints an error if unknown. */
int cli_format(const cli_tool *tool, const char *name, bool for_output, const pk_format **out);

/* Read IN (a path or "-"), with an optional forced format. */
int cli_read_profile(const cli_tool *tool, const char *path, const char *format_name,
                     pk_profile **out);
/* Read count profiles (format detected) and merge them into *out (owned),
 * those where negate is set negated and last, as pk_profile_diff merges
 * its base. Each is merged once read and freed; others are read ahead,
 * several at a time on a machine with more than one core, a few at most.
 * On an error, that of the first path that failed to read is printed
 * (else the merge's), and the exit code returned; otherwise -1. */
int cli_merge_profiles(const cli_tool *tool, const char *const *paths, size_t count,
                       const bool *negate, pk_profile **out);

/* The options of every tool that writes one value per stack (folded, SVG):
 * which sample type, a base to subtract, and what a frame stands for.
 * Spelled as go tool pprof spells them. */
#define CLI_VIEW_OPTIONS                                                                           \
	{"sample_index", 0, "N|NAME",                                                              \
	 "the sample type shown, by index or name (default: the profile's default, else the "      \
	 "last)"},                                                                                 \
	    {"inuse_space", 0, NULL, "same as -sample_index=inuse_space"},                         \
	    {"inuse_objects", 0, NULL, "same as -sample_index=inuse_objects"},                     \
	    {"alloc_space", 0, NULL, "same as -sample_index=alloc_space"},                         \
	    {"alloc_objects", 0, NULL, "same as -sample_index=alloc_objects"},                     \
	    {"base", 0, "FILE", "show the change from the profile FILE (values subtracted)"},      \
	    {"functions", 0, NULL, "a frame per function (the default)"},                          \
	    {"filefunctions", 0, NULL, "a frame per function and source file"},                    \
	    {"files", 0, NULL, "a frame per source file"},                                         \
	    {"lines", 0, NULL, "a frame per source line"},                                         \
	    {"addresses", 0, NULL, "a frame per instruction address"},                             \
	    {"focus", 0, "REGEXP", "keep only samples with a frame matching REGEXP"},              \
	    {"ignore", 0, "REGEXP", "drop samples with a frame matching REGEXP"},                  \
	    {"hide", 0, "REGEXP", "remove frames matching REGEXP from stacks"},                    \
	    {"show", 0, "REGEXP", "keep only frames matching REGEXP in stacks"},                   \
	    {"tagfocus", 0, "[KEY=]REGEXP|RANGE",                                                  \
	     "keep only samples with a matching label (RANGE: 1kB:, :64, 2:4)"},                   \
	{                                                                                          \
		"tagignore", 0, "[KEY=]REGEXP|RANGE", "drop samples with a matching label"         \
	}

/* The options of SVG flame graphs, spelled as flamegraph.pl spells them. */
#define CLI_FLAME_OPTIONS                                                                          \
	{"title", 0, "TEXT", "the title (default: Flame Graph, or Icicle Graph)"},                 \
	    {"subtitle", 0, "TEXT", "a second line under the title"},                              \
	    {"width", 0, "PIXELS", "the image width (default 1200)"},                              \
	    {"height", 0, "PIXELS", "the height of a frame (default 16)"},                         \
	    {"minwidth", 0, "PIXELS|N%", "leave out frames narrower than this (default 0.1)"},     \
	    {"fonttype", 0, "FONT", "the font (default Verdana)"},                                 \
	    {"fontsize", 0, "SIZE", "the font size (default 12)"},                                 \
	    {"countname", 0, "NAME", "what a count is called (default samples)"},                  \
	    {"colors", 0, "PALETTE",                                                               \
	     "hot (default), mem, io, red, green, blue, yellow, purple, aqua, orange, java, js, "  \
	     "perl, wakeup or chain"},                                                             \
	    {"hash", 0, NULL, "color by a hash of the name, so a name keeps its color"},           \
	    {"reverse", 0, NULL, "stacks leaf first, merged from the leaves up"},                  \
	    {"inverted", 0, NULL, "an icicle graph: the root at the top"},                         \
	{                                                                                          \
		"negate", 0, NULL,                                                                 \
		    "swap the colors of growth and shrinking in a differential graph"              \
	}

/* What those options say, ready for pk_profile_write_path. */
typedef struct cli_view {
	pk_write_options write;
	pk_flamegraph_options flame;
	pk_profile *base; /* owned; write.base points at it */
	/* -focus, -ignore, -hide, -show, -tagfocus, -tagignore (PCRE2) */
	pk_filter_options filter;
	bool filtering; /* any of them given */
	bool functions; /* -functions given */
} cli_view;

/* Fill v from the options given (an option missing from the tool's table
 * counts as not given); reads the base profile. Returns -1 to go on, or an
 * exit code. Free with cli_view_free. */
int cli_view_parse(const cli_tool *tool, const cli_args *args, cli_view *v);
void cli_view_free(cli_view *v);

/* Apply the view's filters to *p (replacing it) and to its base: the model
 * operation every tool runs before it writes; and an explicit -functions
 * to pprof or JSON output, which the library leaves as it is otherwise.
 * Returns -1 to go on, or an exit code after printing the error. */
int cli_view_filter(const cli_tool *tool, cli_view *v, pk_profile **p);

/* The work of a one-format front end after cli_parse: read the one input
 * (--from), apply the view options, write it as format to out_path (NULL:
 * standard output), uncompressed. Returns the exit code. */
int cli_convert_run(const cli_tool *tool, const cli_args *args, const char *format,
                    const char *out_path);

#endif
