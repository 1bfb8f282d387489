/* common.c - option parsing, help text and error reporting for the tools. */
#include "common.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

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

/* The progress bar: drawn on stderr when it is a terminal, once the run
 * has taken a second (PROFKIT_PROGRESS_DELAY seconds, if set), at most 10
 * times a second; --quiet turns it off. */
static struct {
	bool quiet;
	int tty; /* -1: not asked yet */
	double delay, start, last;
	const char *phase; /* the last drawn; the library's are static */
	bool shown;
} progress = {false, -1, 1.0, 0, 0, NULL, false};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Blocks of 256 KiB and more are mapped, in every tool, before main: the
 * C library's heap otherwise takes blocks up to the size of the largest
 * freed so far, and arrays that grow while others are freed (a merge's,
 * while its inputs go; an export's, after the input's pages) leave holes
 * there that hold on to memory, where mapped blocks grow in place and go
 * back to the system when freed. 1-2 MB less at the peak of most commands
 * on medium profiles (gogen heap callgrind 35.1 -> 33.0 MB), no slower. */
__attribute__((constructor)) static void map_big_blocks(void)
{
#ifdef M_MMAP_THRESHOLD
	mallopt(M_MMAP_THRESHOLD, 256 << 10);
#endif
}

void cli_progress(void *ctx, const char *phase, uint64_t done, uint64_t total)
{
	(void)ctx;
	if (progress.quiet)
		return;
	if (progress.tty < 0) {
		progress.tty = isatty(STDERR_FILENO);
		const char *delay = getenv("PROFKIT_PROGRESS_DELAY");
		char *end;
		double d = delay ? strtod(delay, &end) : 1.0;
		if (delay != NULL && end != delay && *end == '\0' && d >= 0 && d <= 3600)
			progress.delay = d;
	}
	double t = now();
	bool new_phase = phase != progress.phase;
	if (!progress.tty || t - progress.start < progress.delay ||
	    (progress.shown && !new_phase && t - progress.last < 0.1))
		return;
	progress.last = t;
	progress.phase = phase;
	progress.shown = true;
	double mb = (double)done / 1e6;
	if (done == 0 && total > 0) {
		fprintf(stderr, "\r%-14s %.1f MB\033[K", phase, (double)total / 1e6);
	} else if (total == 0) {
		fprintf(stderr, "\r%-14s %9.1f MB\033[K", phase, mb);
	} else {
		int width = 30, filled = (int)((double)width * (double)done / (double)total);
		if (filled > width)
			filled = width;
		fprintf(stderr, "\r%-14s [%.*s%*s] %3d%% %.1f/%.1f MB\033[K", phase, filled,
		        "##############################", width - filled, "",
		        (int)(100.0 * (double)done / (double)total), mb, (double)total / 1e6);
	}
	fflush(stderr);
}

void cli_progress_end(void)
{
	if (progress.shown) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		progress.shown = false;
	}
}

/* Print "tool: message" as one line. The message quotes argv, and a
 * newline or an ESC there would forge a second line or drive the terminal,
 * so every control byte becomes '?', as the library does in its errors. */
static void report(const char *tool, bool see_help, const char *fmt, va_list ap)
{
	char text[4096];
	cli_progress_end();
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
	fprintf(fp, "  %-28s %s\n  %-28s %s\n  %-28s %s\n", "-q, --quiet",
	        "no progress bar (shown on a terminal for runs over a second)", "-h, --help",
	        "show this help and exit", "    --version", "show the version and exit");
}

int cli_parse(const cli_tool *tool, int argc, char **argv, cli_args *out)
{
	memset(out, 0, sizeof *out);
	if (progress.start == 0) {
		progress.start = now();
		atexit(cli_progress_end);
	}
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
		if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0 || strcmp(a, "-quiet") == 0) {
			progress.quiet = true;
			continue;
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
	cli_progress_end();
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
	opts.progress = cli_progress;
	pk_error err = PK_ERROR_INIT;
	if (pk_profile_read_path(path, &opts, out, NULL, &err) < 0)
		return cli_fail(tool->name, &err);
	cli_progress_end();
	return -1;
}

/* cli_merge_profiles' shared state. Positions are in merge order; the
 * profile at a position may be read once those before it, but at most
 * ahead of them, are merged, and only while the files read ahead of the
 * one merging are within a byte budget: the window bounds the profiles
 * held. */
typedef struct merge_batch {
	const char *const *paths;
	size_t count;
	size_t *order;     /* position -> index in paths */
	size_t next;       /* the next position to read */
	size_t merged;     /* positions merged (or dropped) so far */
	size_t ahead;      /* positions read beyond the one merging */
	off_t *sizes;      /* by position: the file's size, 0 if not known */
	off_t budget;      /* of sizes read ahead */
	pk_profile **list; /* by position */
	int *codes;        /* by position */
	bool *ready;       /* by position */
	pk_error *errors;  /* by position */
	bool merging;      /* a worker merges position merged */
	pk_merger *merger;
	const bool *negate; /* by index in paths */
	int rc;             /* the merge's: the first error (in err) */
	pk_error *err;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* a profile was read, or one merged */
} merge_batch;

/* The bar is drawn by one thread at a time. */
static pthread_mutex_t progress_lock = PTHREAD_MUTEX_INITIALIZER;
static void locked_progress(void *ctx, const char *phase, uint64_t done, uint64_t total)
{
	pthread_mutex_lock(&progress_lock);
	cli_progress(ctx, phase, done, total);
	pthread_mutex_unlock(&progress_lock);
}

/* Read position b->next, which may be read: called, and returns, with
 * the lock held. */
static void read_next(merge_batch *b)
{
	size_t i = b->next++;
	pthread_mutex_unlock(&b->lock);
	pk_read_options opts = PK_READ_OPTIONS_INIT;
	opts.progress = locked_progress;
	opts.one_thread = 1; /* the other workers have the other cores */
	int rc =
	    pk_profile_read_path(b->paths[b->order[i]], &opts, &b->list[i], NULL, &b->errors[i]);
	pthread_mutex_lock(&b->lock);
	b->codes[i] = rc;
	b->ready[i] = true;
	pthread_cond_broadcast(&b->cond);
}

static bool may_read(const merge_batch *b)
{
	if (b->next >= b->count || b->next > b->merged + b->ahead)
		return false;
	off_t held = 0;
	for (size_t i = b->merged + 1; i <= b->next; i++)
		held += b->sizes[i];
	return b->next == b->merged || held <= b->budget;
}

/* Merge position b->merged, which is read, and free it: called, and
 * returns, with the lock held. After a failure the rest is read still:
 * an input that does not read is reported before a merge's error. */
static void merge_next(merge_batch *b)
{
	size_t i = b->merged;
	b->merging = true;
	pthread_mutex_unlock(&b->lock);
	bool negate = b->negate[b->order[i]];
	if (b->rc == 0 && b->codes[i] < 0) {
		b->rc = b->codes[i];
	} else if (b->rc == 0 && i == 0) {
		/* the first becomes the merge's own, if it can */
		b->rc = pk_merger_add_owned(b->merger, b->list[i], negate, b->err);
		b->list[i] = NULL;
	} else if (b->rc == 0) {
		b->rc = pk_merger_add(b->merger, b->list[i], negate, b->err);
	}
	/* the next read starts first: freeing a large profile takes a few
	 * ms of unmapping (a diff's reads wait for it) */
	pthread_mutex_lock(&b->lock);
	b->merging = false;
	b->merged = i + 1;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
	pk_profile_free(b->list[i]);
	b->list[i] = NULL;
	pthread_mutex_lock(&b->lock);
}

/* A worker merges the profile whose turn it is as soon as that is read,
 * or else reads the next one the window allows, or waits. Each worker
 * reads and merges: with a thread that only merged, beside a reader a
 * core, that thread waited 3-5 ms for a core to merge a profile read
 * (gogen shallow merge of 10, 2 cores), and the profile was held so
 * long. */
static void *merge_worker(void *arg)
{
	merge_batch *b = arg;
	pthread_mutex_lock(&b->lock);
	while (b->merged < b->count) {
		if (!b->merging && b->ready[b->merged])
			merge_next(b);
		else if (may_read(b))
			read_next(b);
		else
			pthread_cond_wait(&b->cond, &b->lock);
	}
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

/* While many small inputs are read one after another (a merge of a
 * fleet's profiles), the memory of each freed is the next one's: it stays
 * in the C library's heap, where blocks of 256 KiB and more would be
 * mapped anew and fault in every page again (with the pprof reader
 * keeping a small input's pages, shallow merge of 10 parts: page faults
 * 14.8k -> 5.5k, CPU -20%; peak +3 MB, +15 MB on gogen labels, 1.37 ->
 * 1.69x its parts); one arena, so that what one worker frees the
 * other takes. Not for a few large inputs (a diff's two): there the holes
 * that map_big_blocks avoids cost 7 MB at the peak. Before any thread
 * starts, as the arenas are made at a thread's first block.
 * The heap is then grown once and its pages made huge: each 4 KiB page
 * still faulted in once, ~3 us a fault here (merge of 10 parts, faults:
 * gogen shallow 4.9k -> 0.9k, CPU -7%; labels 27k -> 10k, CPU -5-8%; peak
 * up to 2 MB more for each array that grows: labels 1.56-1.66 -> 1.62-1.84x
 * its parts, shallow 1.00-1.14 -> 1.01-1.22x). */
static void keep_heap(void)
{
#ifdef M_MMAP_THRESHOLD
	mallopt(M_MMAP_THRESHOLD, 32 << 20); /* the most glibc takes */
	mallopt(M_TRIM_THRESHOLD, 1 << 30);
	mallopt(M_TOP_PAD, 64 << 20); /* the heap grows in few steps */
	mallopt(M_ARENA_MAX, 1);
#ifdef MADV_HUGEPAGE
	const uintptr_t huge = (uintptr_t)2 << 20, grow = (uintptr_t)16 << 20;
	char *block = malloc(grow);
	uintptr_t from = ((uintptr_t)block + huge - 1) & ~(huge - 1);
	uintptr_t to = (uintptr_t)sbrk(0) & ~(huge - 1);
	free(block);
	/* only where the block came from the heap's top (not a sanitizer's
	 * allocator): the pages from it to the break are the heap's */
	if (block != NULL && to > from && to - from <= grow + (64 << 20))
		(void)madvise((void *)from, to - from, MADV_HUGEPAGE);
#endif
#endif
}

int cli_merge_profiles(const cli_tool *tool, const char *const *paths, size_t count,
                       const bool *negate, pk_profile **out)
{
	enum { MAX_THREADS = 8 };
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	size_t threads = cores > 1 ? (size_t)cores : 1;
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	if (threads > count)
		threads = count;
	pk_error err = PK_ERROR_INIT;
	merge_batch b = {.paths = paths,
	                 .count = count,
	                 .ahead = threads,
	                 .negate = negate,
	                 .err = &err,
	                 .lock = PTHREAD_MUTEX_INITIALIZER,
	                 .cond = PTHREAD_COND_INITIALIZER};
	b.order = calloc(count, sizeof *b.order);
	b.sizes = calloc(count, sizeof *b.sizes);
	b.list = calloc(count, sizeof *b.list);
	b.codes = calloc(count, sizeof *b.codes);
	b.ready = calloc(count, sizeof *b.ready);
	b.errors = calloc(count, sizeof *b.errors);
	pk_merger *m = NULL;
	int rc = -1;
	if (count > 0 && (b.order == NULL || b.sizes == NULL || b.list == NULL || b.codes == NULL ||
	                  b.ready == NULL || b.errors == NULL)) {
		cli_error(tool->name, "out of memory");
		rc = EXIT_ERROR;
	} else if (pk_merger_new(&m, &err) < 0) {
		rc = cli_fail(tool->name, &err);
	}
	if (rc < 0) {
		/* the negated are merged last, as pk_profile_diff merges the base */
		size_t n = 0;
		for (int pass = 0; pass < 2; pass++)
			for (size_t i = 0; i < count; i++)
				if (negate[i] == (pass == 1))
					b.order[n++] = i;
		/* A profile read ahead is held with the merge so far: at most
		 * a quarter of the inputs (by file size) is, so that a few
		 * large inputs are read one at a time, and many small ones
		 * while others merge. A diff's two are read at once: the
		 * first becomes the merge (pk_merger_add_owned), so the second
		 * is held beside one profile, not beside it and its copy
		 * (shallow medium: peak 1.41-1.47x the inputs, as one at a
		 * time). */
		off_t total = 0;
		for (size_t i = 0; i < count; i++) {
			struct stat st;
			if (stat(paths[b.order[i]], &st) == 0 && S_ISREG(st.st_mode))
				b.sizes[i] = st.st_size;
			total += b.sizes[i];
		}
		b.budget = total / 4;
		bool small = count > 1;
		for (size_t i = 0; i < count; i++)
			small = small && b.sizes[i] > 0 && b.sizes[i] <= b.budget;
		if (count == 2)
			b.budget = total;
		if (small)
			keep_heap();
		for (size_t i = 0; i < count; i++) {
			pk_error init = PK_ERROR_INIT;
			b.errors[i] = init;
		}
		/* A worker a core, the calling thread one of them. A thread
		 * that cannot start leaves its share to the others. */
		b.merger = m;
		pthread_t ids[MAX_THREADS];
		size_t started = 0;
		while (started + 1 < threads &&
		       pthread_create(&ids[started], NULL, merge_worker, &b) == 0)
			started++;
		merge_worker(&b);
		for (size_t i = 0; i < started; i++)
			pthread_join(ids[i], NULL);
		cli_progress_end();
		/* the first path that failed to read, in the order given */
		for (size_t i = 0; i < count && rc < 0; i++)
			for (size_t at = 0; at < count && rc < 0; at++)
				if (b.order[at] == i && b.codes[at] < 0)
					rc = cli_fail(tool->name, &b.errors[at]);
		if (rc < 0 && (b.rc < 0 || pk_merger_finish(m, out, &err) < 0))
			rc = cli_fail(tool->name, &err);
	}
	pk_merger_free(m);
	free(b.order);
	free(b.sizes);
	free(b.list);
	free(b.codes);
	free(b.ready);
	free(b.errors);
	return rc;
}

/* A positive number, no larger than max; *percent (if given) is set when it
 * ends in '%'. */
static int parse_number(const cli_tool *tool, const char *name, const char *text, double max,
                        double *out, bool *percent)
{
	char *end;
	errno = 0;
	double v = strtod(text, &end);
	bool pct = percent != NULL && *end == '%';
	if (pct)
		end++;
	if (end == text || *end != '\0' || errno != 0 || !isfinite(v) || v <= 0 || v > max)
		return cli_usage_error(tool, "--%s needs a positive number up to %g, not '%s'",
		                       name, max, text);
	*out = v;
	if (percent)
		*percent = pct;
	return -1;
}

int cli_view_parse(const cli_tool *tool, const cli_args *args, cli_view *v)
{
	static const pk_write_options write_init = PK_WRITE_OPTIONS_INIT;
	static const pk_flamegraph_options flame_init = PK_FLAMEGRAPH_OPTIONS_INIT;
	static const pk_filter_options filter_init = PK_FILTER_OPTIONS_INIT;
	v->write = write_init;
	v->write.progress = cli_progress;
	v->flame = flame_init;
	v->base = NULL;
	/* The input's file name names the output where a format has a name. */
	const char *in =
	    args->positional_count ? args->positional[args->positional_count - 1] : "-";
	if (strcmp(in, "-") != 0) {
		const char *slash = strrchr(in, '/');
		v->write.name = slash && slash[1] ? slash + 1 : in;
	}
	v->filter = filter_init;
	v->filter.focus = cli_get(tool, args, "focus");
	v->filter.ignore = cli_get(tool, args, "ignore");
	v->filter.hide = cli_get(tool, args, "hide");
	v->filter.show = cli_get(tool, args, "show");
	v->filter.tag_focus = cli_get(tool, args, "tagfocus");
	v->filter.tag_ignore = cli_get(tool, args, "tagignore");
	v->filtering = v->filter.focus || v->filter.ignore || v->filter.hide || v->filter.show ||
	               v->filter.tag_focus || v->filter.tag_ignore;

	static const char *const shortcuts[] = {"inuse_space", "inuse_objects", "alloc_space",
	                                        "alloc_objects"};
	const char *chosen = NULL, *chosen_by = NULL;
	for (size_t i = 0; i < sizeof shortcuts / sizeof shortcuts[0]; i++) {
		if (cli_get(tool, args, shortcuts[i]) == NULL)
			continue;
		if (chosen)
			return cli_usage_error(tool, "-%s and -%s cannot both be given", chosen_by,
			                       shortcuts[i]);
		chosen = chosen_by = shortcuts[i];
	}
	const char *index = cli_get(tool, args, "sample_index");
	if (index && chosen)
		return cli_usage_error(tool, "-sample_index and -%s cannot both be given",
		                       chosen_by);
	v->write.sample_type = index ? index : chosen;

	static const struct {
		const char *name;
		int granularity;
	} granularities[] = {
	    {"functions", PK_GRANULARITY_FUNCTIONS},
	    {"filefunctions", PK_GRANULARITY_FILEFUNCTIONS},
	    {"files", PK_GRANULARITY_FILES},
	    {"lines", PK_GRANULARITY_LINES},
	    {"addresses", PK_GRANULARITY_ADDRESSES},
	};
	const char *granularity_by = NULL;
	for (size_t i = 0; i < sizeof granularities / sizeof granularities[0]; i++) {
		if (cli_get(tool, args, granularities[i].name) == NULL)
			continue;
		if (granularity_by)
			return cli_usage_error(tool, "-%s and -%s cannot both be given",
			                       granularity_by, granularities[i].name);
		granularity_by = granularities[i].name;
		v->write.granularity = granularities[i].granularity;
	}
	v->functions = granularity_by && v->write.granularity == PK_GRANULARITY_FUNCTIONS;

	pk_flamegraph_options *f = &v->flame;
	f->title = cli_get(tool, args, "title");
	f->subtitle = cli_get(tool, args, "subtitle");
	f->font_type = cli_get(tool, args, "fonttype");
	f->count_name = cli_get(tool, args, "countname");
	f->colors = cli_get(tool, args, "colors");
	f->hash = cli_get(tool, args, "hash") != NULL;
	f->reverse = cli_get(tool, args, "reverse") != NULL;
	f->inverted = cli_get(tool, args, "inverted") != NULL;
	f->negate = cli_get(tool, args, "negate") != NULL;
	const char *text;
	double number;
	int rc;
	if ((text = cli_get(tool, args, "width")) != NULL) {
		if ((rc = parse_number(tool, "width", text, 1e6, &number, NULL)) >= 0)
			return rc;
		f->width = (unsigned int)number;
	}
	if ((text = cli_get(tool, args, "height")) != NULL) {
		if ((rc = parse_number(tool, "height", text, 1e4, &number, NULL)) >= 0)
			return rc;
		f->height = (unsigned int)number;
	}
	if ((text = cli_get(tool, args, "fontsize")) != NULL &&
	    (rc = parse_number(tool, "fontsize", text, 1e4, &f->font_size, NULL)) >= 0)
		return rc;
	if ((text = cli_get(tool, args, "minwidth")) != NULL) {
		bool percent;
		if ((rc = parse_number(tool, "minwidth", text, 1e6, &f->min_width, &percent)) >= 0)
			return rc;
		f->min_width_percent = percent;
	}
	v->write.flamegraph = f;

	const char *base = cli_get(tool, args, "base");
	if (base != NULL) {
		if ((rc = cli_read_profile(tool, base, NULL, &v->base)) >= 0)
			return rc;
		v->write.base = v->base;
	}
	return -1;
}

/* The library groups pprof and JSON output at the granularity of the write
 * options, except functions, the default, which leaves the profile as it
 * is; an explicit -functions groups it too. */
static int aggregate_functions(const cli_tool *tool, cli_view *v, pk_profile **p)
{
	const char *name = v->write.format ? pk_format_name(v->write.format) : "";
	if (!v->functions || (strcmp(name, "pprof") != 0 && strcmp(name, "json") != 0))
		return -1;
	pk_error err = PK_ERROR_INIT;
	pk_profile *agg;
	if (pk_profile_aggregate(*p, PK_GRANULARITY_FUNCTIONS, 1, &agg, &err) < 0)
		return cli_fail(tool->name, &err);
	pk_profile_free(*p);
	*p = agg;
	return -1;
}

int cli_view_filter(const cli_tool *tool, cli_view *v, pk_profile **p)
{
	if (!v->filtering)
		return aggregate_functions(tool, v, p);
	pk_error err = PK_ERROR_INIT;
	pk_profile *filtered;
	if (pk_profile_filter(*p, &v->filter, &filtered, &err) < 0)
		return cli_fail(tool->name, &err);
	pk_profile_free(*p);
	*p = filtered;
	if (v->base != NULL) {
		if (pk_profile_filter(v->base, &v->filter, &filtered, &err) < 0)
			return cli_fail(tool->name, &err);
		pk_profile_free(v->base);
		v->base = filtered;
		v->write.base = filtered;
	}
	return aggregate_functions(tool, v, p);
}

void cli_view_free(cli_view *v)
{
	pk_profile_free(v->base);
	v->base = NULL;
}

int cli_convert_run(const cli_tool *tool, const cli_args *args, const char *format,
                    const char *out_path)
{
	cli_view view;
	int rc = cli_view_parse(tool, args, &view);
	if (rc >= 0)
		return rc;
	view.write.format = pk_format_by_name(format);
	view.write.compress = PK_COMPRESS_NONE;
	if (view.write.format == NULL || !pk_format_can_export(view.write.format)) {
		cli_view_free(&view);
		cli_error(tool->name, "this build of profkit cannot write %s", format);
		return EXIT_ERROR;
	}
	if (strcmp(format, "svg") != 0)
		view.write.flamegraph = NULL;

	pk_profile *p;
	rc = cli_read_profile(tool, args->positional[0], cli_get(tool, args, "from"), &p);
	if (rc < 0 && (rc = cli_view_filter(tool, &view, &p)) >= 0)
		pk_profile_free(p);
	if (rc < 0) {
		pk_error err = PK_ERROR_INIT;
		rc = pk_profile_write_path(p, out_path ? out_path : "-", &view.write, &err) < 0
		         ? cli_fail(tool->name, &err)
		         : EXIT_OK;
		pk_profile_free(p);
	}
	cli_view_free(&view);
	return rc;
}
