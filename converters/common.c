/* common.c - option parsing, help text and error reporting for the tools. */
#include "common.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

static int find_option(const cli_tool *tool, const char *name, size_t len)
{
	for (size_t i = 0; i < tool->option_count; i++)
		if (strlen(tool->options[i].name) == len &&
		    strncmp(tool->options[i].name, name, len) == 0)
			return (int)i;
	return -1;
}

static int find_short(const cli_tool *tool, char c)
{
	for (size_t i = 0; i < tool->option_count; i++)
		if (tool->options[i].short_name == c)
			return (int)i;
	return -1;
}

/* Print "tool: message" as one line. The message quotes argv, and a
 * newline or an ESC there would forge a second line or drive the terminal,
 * so every control byte becomes '?', as the library does in its errors. */
static void report(const char *tool, bool see_help, const char *fmt, va_list ap)
{
	char text[4096];
	vsnprintf(text, sizeof text, fmt, ap);
	for (unsigned char *c = (unsigned char *)text; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			*c = '?';
	if (see_help)
		fprintf(stderr, "%s: %s (see '%s --help')\n", tool, text, tool);
	else
		fprintf(stderr, "%s: %s\n", tool, text);
}

void cli_error(const char *tool, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report(tool, false, fmt, ap);
	va_end(ap);
}

int cli_usage_error(const cli_tool *tool, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report(tool->name, true, fmt, ap);
	va_end(ap);
	return EXIT_USAGE;
}

int cli_flush_stdout(const char *tool)
{
	/* A full disk or a closed pipe may show only now, when the buffer is
	 * written: without this, "profkit --help >/dev/full" would exit 0. */
	if (fflush(stdout) == 0 && !ferror(stdout))
		return EXIT_OK;
	cli_error(tool, "cannot write to standard output: %s", strerror(errno));
	return EXIT_ERROR;
}

void cli_usage(const cli_tool *tool, FILE *fp)
{
	fprintf(fp, "Usage: %s %s\n\n%s\n\nOptions:\n", tool->name, tool->synopsis, tool->summary);
	for (size_t i = 0; i < tool->option_count; i++) {
		const cli_option *o = &tool->options[i];
		char left[64];
		if (o->short_name)
			snprintf(left, sizeof left, "-%c, --%s%s%s", o->short_name, o->name,
			         o->arg ? " " : "", o->arg ? o->arg : "");
		else
			snprintf(left, sizeof left, "    --%s%s%s", o->name, o->arg ? " " : "",
			         o->arg ? o->arg : "");
		fprintf(fp, "  %-28s %s\n", left, o->help);
	}
	fprintf(fp, "  %-28s %s\n  %-28s %s\n", "-h, --help", "show this help and exit",
	        "    --version", "show the version and exit");
}

int cli_parse(const cli_tool *tool, int argc, char **argv, cli_args *out)
{
	memset(out, 0, sizeof *out);
	bool options_done = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (options_done || a[0] != '-' || strcmp(a, "-") == 0) {
			if (out->positional_count == CLI_MAX_POSITIONAL)
				return cli_usage_error(tool, "too many arguments");
			out->positional[out->positional_count++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			options_done = true;
			continue;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0 || strcmp(a, "-help") == 0) {
			cli_usage(tool, stdout);
			return cli_flush_stdout(tool->name);
		}
		if (strcmp(a, "--version") == 0 || strcmp(a, "-version") == 0) {
			printf("%s (profkit) %s\n", tool->name, pk_version());
			return cli_flush_stdout(tool->name);
		}
		int opt;
		const char *inline_value = NULL;
		if (a[1] != '-' && a[2] == '\0') {
			opt = find_short(tool, a[1]);
		} else {
			const char *name = a + (a[1] == '-' ? 2 : 1);
			const char *eq = strchr(name, '=');
			opt = find_option(tool, name, eq ? (size_t)(eq - name) : strlen(name));
			if (eq)
				inline_value = eq + 1;
			/* Not a long name after one dash: a short option with its
			 * value attached, as getopt reads "-ofile.json" (and
			 * "-o=file.json", as long options take "="). */
			int short_opt = a[1] != '-' ? find_short(tool, a[1]) : -1;
			if (opt < 0 && short_opt >= 0 && tool->options[short_opt].arg != NULL) {
				opt = short_opt;
				inline_value = a + (a[2] == '=' ? 3 : 2);
			}
		}
		if (opt < 0)
			return cli_usage_error(tool, "unknown option '%s'", a);
		const cli_option *o = &tool->options[opt];
		if (o->arg == NULL) {
			if (inline_value)
				return cli_usage_error(tool, "option '%s' takes no value", a);
			out->value[opt] = "";
		} else if (inline_value) {
			out->value[opt] = inline_value;
		} else {
			if (i + 1 >= argc)
				return cli_usage_error(tool, "option '%s' needs a value (%s)", a,
				                       o->arg);
			out->value[opt] = argv[++i];
		}
	}
	return -1;
}

const char *cli_get(const cli_tool *tool, const cli_args *args, const char *name)
{
	int i = find_option(tool, name, strlen(name));
	return i < 0 ? NULL : args->value[i];
}

int cli_fail(const char *tool, const pk_error *err)
{
	char line[PK_ERROR_SOURCE_MAX + PK_ERROR_MESSAGE_MAX + 64];
	pk_error_describe(err, line, sizeof line);
	fprintf(stderr, "%s: %s\n", tool, line);
	return EXIT_ERROR;
}

int cli_format(const cli_tool *tool, const char *name, bool for_output, const pk_format **out)
{
	const pk_format *f = pk_format_by_name(name);
	if (f == NULL || !(for_output ? pk_format_can_export(f) : pk_format_can_import(f))) {
		char names[256] = "";
		for (size_t i = 0; (f = pk_format_at(i)) != NULL; i++)
			if (for_output ? pk_format_can_export(f) : pk_format_can_import(f))
				snprintf(names + strlen(names), sizeof names - strlen(names), " %s",
				         pk_format_name(f));
		cli_error(tool->name, "profkit cannot %s the format '%s'; it %s:%s",
		          for_output ? "write" : "read", name, for_output ? "writes" : "reads",
		          names);
		return EXIT_USAGE;
	}
	*out = f;
	return -1;
}

int cli_read_profile(const cli_tool *tool, const char *path, const char *format_name,
                     pk_profile **out)
{
	pk_read_options opts = PK_READ_OPTIONS_INIT;
	if (format_name != NULL) {
		int rc = cli_format(tool, format_name, false, &opts.format);
		if (rc >= 0)
			return rc;
	}
	pk_error err = PK_ERROR_INIT;
	if (pk_profile_read_path(path, &opts, out, NULL, &err) < 0)
		return cli_fail(tool->name, &err);
	return -1;
}
