/* profkit.h - the one public header of libprofkit.
 *
 * libprofkit reads, transforms and writes performance profiles. Everything
 * goes through one model, a pk_profile shaped like pprof's profile.proto:
 * sample types, samples, locations, functions, mappings and labels.
 *
 * Conventions:
 * - Functions return 0 or a negative PK_E* code. When they fail they fill
 *   the caller's optional pk_error record (the first error wins).
 * - "owned" results are the caller's to free; "borrowed" pointers belong to
 *   their parent object and live as long as it does and is not modified.
 * - Strings live in the profile's interned string table and are referred to
 *   by pk_str index; index 0 is always the empty string.
 * - Objects refer to each other by index (not by pprof id). Indices are
 *   dense, 0-based, in insertion order.
 * - The plain records (pk_mapping, pk_function, pk_line, pk_location,
 *   pk_label, pk_sample) are part of the ABI as they are: a new field
 *   means a new major version. Option structs grow at their end instead,
 *   guarded by their version field.
 * - A profile may be read from several threads at once; changing it needs
 *   the caller's lock. pk_set_allocator is the only global state.
 */
#ifndef PROFKIT_H
#define PROFKIT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define PK_EXTERN __declspec(dllexport)
#else
#define PK_EXTERN __attribute__((visibility("default")))
#endif

#define PK_VERSION_MAJOR 0
#define PK_VERSION_MINOR 2
#define PK_VERSION_PATCH 0
#define PK_VERSION_NUMBER (PK_VERSION_MAJOR * 10000 + PK_VERSION_MINOR * 100 + PK_VERSION_PATCH)

/** The library's version as "MAJOR.MINOR.PATCH" (borrowed, static). */
PK_EXTERN const char *pk_version(void);

/* ------------------------------------------------------------------ errors */

/** Error codes. Every failing call returns one of these (negative). */
enum {
	PK_OK = 0,
	PK_ENOMEM = -1,       /**< out of memory, or a size limit was hit */
	PK_EIO = -2,          /**< reading or writing a file failed */
	PK_EFORMAT = -3,      /**< the input is malformed or the model is invalid */
	PK_EUNSUPPORTED = -4, /**< the format cannot do this (e.g. import an SVG) */
	PK_ENOTFOUND = -5,    /**< no such index, name or format */
	PK_EINVAL = -6,       /**< a bad argument from the caller */
};

#define PK_ERROR_SOURCE_MAX 256
#define PK_ERROR_MESSAGE_MAX 512

/** Where and why a call failed. Caller-owned; initialize with
 * pk_error_init() or PK_ERROR_INIT. The library writes source and message
 * with every control byte (below 0x20, and 0x7f: newlines, ESC) replaced
 * by '?', so they print as one line that cannot drive a terminal. */
typedef struct pk_error {
	int code;                           /**< 0 or a PK_E* code */
	const char *format;                 /**< format name (static), or NULL */
	char source[PK_ERROR_SOURCE_MAX];   /**< file name, "-" for stdin, or "" */
	long line;                          /**< 1-based line in a text format, 0 if none */
	long column;                        /**< 1-based column, 0 if none */
	long long offset;                   /**< byte offset in the input, -1 if none */
	char message[PK_ERROR_MESSAGE_MAX]; /**< one sentence, no newline */
} pk_error;

/* clang-format off */
#define PK_ERROR_INIT {0, NULL, {0}, 0, 0, -1, {0}}
/* clang-format on */

/** Reset an error record to "no error". */
PK_EXTERN void pk_error_init(pk_error *err);

/** Render the record as one line: "source:line:column: message",
 * "source: byte N: message", "source: message", or the message alone when
 * no input is involved (source empty, no position). Returns the length that
 * the full text needs, like snprintf. */
PK_EXTERN int pk_error_describe(const pk_error *err, char *buf, size_t size);

/** A short static text for an error code. */
PK_EXTERN const char *pk_strerror(int code);

/* -------------------------------------------------------------- allocator */

/** Replace the allocator used by every later call. Both functions must be
 * given; pass NULLs to restore malloc/free. Not thread-safe: call it before
 * any other profkit function. */
PK_EXTERN void pk_set_allocator(void *(*malloc_fn)(size_t), void (*free_fn)(void *));

/** Free memory that a profkit call returned as owned (e.g. a buffer). */
PK_EXTERN void pk_free(void *ptr);

/* ------------------------------------------------------------------ model */

/** An interned string: an index into the profile's string table. */
typedef uint32_t pk_str;

/** "No object", for an optional index such as a location's mapping. */
#define PK_NONE UINT32_MAX

/** The profile: owns every string, object and sample in it. */
typedef struct pk_profile pk_profile;

/** A (type, unit) pair such as ("alloc_space", "bytes"). */
typedef struct pk_value_type {
	pk_str type;
	pk_str unit;
} pk_value_type;

/** A mapped binary. id is the pprof id (nonzero, unique); 0 when adding
 * means "assign index + 1". */
typedef struct pk_mapping {
	uint64_t id;
	uint64_t memory_start;
	uint64_t memory_limit;
	uint64_t file_offset;
	pk_str filename;
	pk_str build_id;
	unsigned char has_functions;
	unsigned char has_filenames;
	unsigned char has_line_numbers;
	unsigned char has_inline_frames;
} pk_mapping;

/** A function. id as for pk_mapping. */
typedef struct pk_function {
	uint64_t id;
	pk_str name;
	pk_str system_name;
	pk_str filename;
	int64_t start_line;
} pk_function;

/** One source line of a location: a function index, line and column. */
typedef struct pk_line {
	uint32_t function;
	int64_t line;
	int64_t column;
} pk_line;

/** A code location. Its lines are kept apart (pk_profile_location_lines):
 * lines[0] is the innermost inlined function, the last line the function
 * the code was inlined into. mapping is an index or PK_NONE. */
typedef struct pk_location {
	uint64_t id;
	uint32_t mapping;
	uint64_t address;
	unsigned char is_folded;
} pk_location;

/** A sample label: a string label has str != 0; otherwise it is numeric,
 * num with an optional unit. */
typedef struct pk_label {
	pk_str key;
	pk_str str;
	int64_t num;
	pk_str num_unit;
} pk_label;

/** A view of one sample (all pointers borrowed from the profile).
 * locations[0] is the leaf. values has one entry per sample type. */
typedef struct pk_sample {
	uint32_t stack;            /**< index of the distinct stack */
	const uint32_t *locations; /**< location indices, leaf first */
	size_t depth;
	const int64_t *values;
	size_t value_count;
	const uint32_t *labels; /**< label indices (pk_profile_label) */
	size_t label_count;
} pk_sample;

/** Create an empty profile (owned). */
PK_EXTERN int pk_profile_new(pk_profile **out);

/** Free a profile and everything in it. NULL is a no-op. */
PK_EXTERN void pk_profile_free(pk_profile *p);

/** Intern len bytes of s (need not be NUL-terminated); *out gets its
 * index. The same bytes always give the same index. */
PK_EXTERN int pk_profile_intern(pk_profile *p, const char *s, size_t len, pk_str *out);

/** The string at index s (borrowed, NUL-terminated), or NULL if s is out
 * of range. */
PK_EXTERN const char *pk_profile_string(const pk_profile *p, pk_str s);

/** The length in bytes of string s (strings may hold NUL bytes), 0 if out of range. */
PK_EXTERN size_t pk_profile_string_length(const pk_profile *p, pk_str s);

/** The number of interned strings, "" included. */
PK_EXTERN size_t pk_profile_string_count(const pk_profile *p);

/* Header fields. Setters take interned strings (pk_str). */

/** Append a sample type. Sample types must all be added before the first
 * sample. */
PK_EXTERN int pk_profile_add_sample_type(pk_profile *p, pk_value_type vt);
PK_EXTERN size_t pk_profile_sample_type_count(const pk_profile *p);
/** Sample type i; {0, 0} if i is out of range. */
PK_EXTERN pk_value_type pk_profile_sample_type(const pk_profile *p, size_t i);

/** The type name of the preferred sample type, 0 if unset (then tools use
 * the last sample type, as pprof does). */
PK_EXTERN void pk_profile_set_default_sample_type(pk_profile *p, pk_str type);
PK_EXTERN pk_str pk_profile_default_sample_type(const pk_profile *p);

PK_EXTERN void pk_profile_set_period_type(pk_profile *p, pk_value_type vt);
PK_EXTERN pk_value_type pk_profile_period_type(const pk_profile *p);
PK_EXTERN void pk_profile_set_period(pk_profile *p, int64_t period);
PK_EXTERN int64_t pk_profile_period(const pk_profile *p);
/** Collection time, nanoseconds since the Unix epoch (0 if unknown). */
PK_EXTERN void pk_profile_set_time_nanos(pk_profile *p, int64_t t);
PK_EXTERN int64_t pk_profile_time_nanos(const pk_profile *p);
PK_EXTERN void pk_profile_set_duration_nanos(pk_profile *p, int64_t d);
PK_EXTERN int64_t pk_profile_duration_nanos(const pk_profile *p);
/** Regular expressions (pprof's drop_frames / keep_frames); 0 if unset. */
PK_EXTERN void pk_profile_set_drop_frames(pk_profile *p, pk_str re);
PK_EXTERN pk_str pk_profile_drop_frames(const pk_profile *p);
PK_EXTERN void pk_profile_set_keep_frames(pk_profile *p, pk_str re);
PK_EXTERN pk_str pk_profile_keep_frames(const pk_profile *p);
PK_EXTERN void pk_profile_set_doc_url(pk_profile *p, pk_str url);
PK_EXTERN pk_str pk_profile_doc_url(const pk_profile *p);

PK_EXTERN int pk_profile_add_comment(pk_profile *p, pk_str comment);
PK_EXTERN size_t pk_profile_comment_count(const pk_profile *p);
PK_EXTERN pk_str pk_profile_comment(const pk_profile *p, size_t i);

/* Objects. Each add copies the record; *out (optional) gets the new index.
 * References (strings, function and mapping indices) are checked. */

PK_EXTERN int pk_profile_add_mapping(pk_profile *p, const pk_mapping *m, uint32_t *out);
PK_EXTERN size_t pk_profile_mapping_count(const pk_profile *p);
/** Mapping i (borrowed), or NULL if out of range. */
PK_EXTERN const pk_mapping *pk_profile_mapping(const pk_profile *p, size_t i);

PK_EXTERN int pk_profile_add_function(pk_profile *p, const pk_function *f, uint32_t *out);
PK_EXTERN size_t pk_profile_function_count(const pk_profile *p);
PK_EXTERN const pk_function *pk_profile_function(const pk_profile *p, size_t i);

/** Add a location with its lines (innermost inlined first, caller last). */
PK_EXTERN int pk_profile_add_location(pk_profile *p, const pk_location *loc, const pk_line *lines,
                                      size_t line_count, uint32_t *out);
PK_EXTERN size_t pk_profile_location_count(const pk_profile *p);
PK_EXTERN const pk_location *pk_profile_location(const pk_profile *p, size_t i);
/** The lines of location i (borrowed); returns their number, 0 if i is out
 * of range. */
PK_EXTERN size_t pk_profile_location_lines(const pk_profile *p, size_t i, const pk_line **lines);

/** Add a sample: a stack of location indices (leaf first), exactly one
 * value per sample type, and labels. The stack and each label are stored
 * once however many samples share them. */
PK_EXTERN int pk_profile_add_sample(pk_profile *p, const uint32_t *locations, size_t depth,
                                    const int64_t *values, size_t value_count,
                                    const pk_label *labels, size_t label_count);
PK_EXTERN size_t pk_profile_sample_count(const pk_profile *p);
/** Fill *out with a view of sample i. */
PK_EXTERN int pk_profile_sample(const pk_profile *p, size_t i, pk_sample *out);

/** The distinct labels of the samples: each is stored once, and a sample's
 * labels are indices into them (pk_sample.labels). Label i; {0, 0, 0, 0}
 * if i is out of range. */
PK_EXTERN size_t pk_profile_label_count(const pk_profile *p);
PK_EXTERN pk_label pk_profile_label(const pk_profile *p, size_t i);

/** The distinct stacks. Returns the depth of stack s and points *locations
 * (borrowed) at its location indices, leaf first. */
PK_EXTERN size_t pk_profile_stack_count(const pk_profile *p);
PK_EXTERN size_t pk_profile_stack(const pk_profile *p, size_t s, const uint32_t **locations);

/** Check the whole model: sample types present when there are samples, ids
 * nonzero and unique, every reference in range. */
PK_EXTERN int pk_profile_validate(const pk_profile *p, pk_error *err);

/* ------------------------------------------------------------- operations */

/** Find the sample type that spec names, as `go tool pprof -sample_index`
 * does: NULL or "" is the default sample type, or else the last one; a
 * number is an index; otherwise the first type named spec, or spec without
 * a leading "inuse_" (so "inuse_space" finds a legacy "space"). *out gets
 * the index; PK_ENOTFOUND when nothing matches. */
PK_EXTERN int pk_profile_find_sample_type(const pk_profile *p, const char *spec, size_t *out,
                                          pk_error *err);

/** What a frame of a report or a flame graph stands for, as pprof's
 * -functions, -filefunctions, -files, -lines and -addresses. */
enum {
	PK_GRANULARITY_FUNCTIONS = 0, /**< the function name (the default) */
	PK_GRANULARITY_FILEFUNCTIONS, /**< name and source file */
	PK_GRANULARITY_FILES,         /**< the source file only */
	PK_GRANULARITY_LINES,         /**< name, file and line */
	PK_GRANULARITY_ADDRESSES,     /**< address, name, file and line */
};

/** Merge profiles as `go tool pprof A B ...` does (pprof's profile.Merge):
 * all must have the same sample types (type and unit, in order) and period
 * type. Samples with the same stack and labels add up; samples whose values
 * are all 0 are dropped; locations, functions and mappings that are the
 * same are kept once, in order of first use. Time is the earliest, duration
 * the sum, period the largest; comments are the union. Merging is
 * associative. *out is owned; in and its profiles are borrowed. */
PK_EXTERN int pk_profile_merge(const pk_profile *const *in, size_t n, pk_profile **out,
                               pk_error *err);

/** Profiles merged one at a time, so that each can be freed once merged:
 * pk_merger_finish gives what pk_profile_merge gives for them all, in the
 * order added. Create with pk_merger_new (owned: free with pk_merger_free). */
typedef struct pk_merger pk_merger;

PK_EXTERN int pk_merger_new(pk_merger **out, pk_error *err);

/** Merge p (borrowed, not kept) into m; with negate, its values count
 * negated, as pk_profile_diff takes the base. A profile whose sample or
 * period types differ from the first's fails (PK_EINVAL, the message
 * names it by its number); after any failure m takes no more. */
PK_EXTERN int pk_merger_add(pk_merger *m, const pk_profile *p, int negate, pk_error *err);

/** pk_merger_add of p, taking ownership of p (freed, also on failure): the
 * first profile added may become the merge's own instead of being copied,
 * which saves its memory and the copy's time. The merge is the same. */
PK_EXTERN int pk_merger_add_owned(pk_merger *m, pk_profile *p, int negate, pk_error *err);

/** The merge of what was added (*out, owned); m takes no more after. */
PK_EXTERN int pk_merger_finish(pk_merger *m, pk_profile **out, pk_error *err);

/** Free m (NULL: nothing). */
PK_EXTERN void pk_merger_free(pk_merger *m);

/** A copy of p (owned, in *out) with every value multiplied by ratio and
 * rounded as pprof's Profile.Scale does (-1 negates exactly). */
PK_EXTERN int pk_profile_scale(const pk_profile *p, double ratio, pk_profile **out, pk_error *err);

/** How pk_profile_diff treats the base. */
enum {
	PK_DIFF_BASE = 0, /**< `-base`: the base is subtracted, equal stacks cancel */
	/** `-diff_base`: the base's samples get the label pprof::base=true, so
	 * they stay apart, and reports take their total from the base alone */
	PK_DIFF_DIFF_BASE = 1,
};

/** The change from base to p (*out, owned): base scaled by -1 and merged
 * with p, as `go tool pprof -base BASE P` (or -diff_base with
 * PK_DIFF_DIFF_BASE). Stacks that cancel are removed; the rest may be
 * negative. */
PK_EXTERN int pk_profile_diff(const pk_profile *base, const pk_profile *p, int mode,
                              pk_profile **out, pk_error *err);

/** A copy of p (*out, owned) grouped at a granularity as pprof's
 * Profile.Aggregate: what the granularity leaves out (names, files, lines,
 * addresses) is cleared; without inlines a location keeps only its last
 * line (the function the others were inlined into). */
PK_EXTERN int pk_profile_aggregate(const pk_profile *p, int granularity, int inlines,
                                   pk_profile **out, pk_error *err);

#define PK_FILTER_OPTIONS_VERSION 1

/** Which samples and frames to keep, as go tool pprof's -focus, -ignore,
 * -hide, -show, -tagfocus and -tagignore. NULL or "" means no filter.
 * Expressions are PCRE2 (close to pprof's RE2 syntax) and match anywhere
 * in a function name, a source file name or a mapping's file, as pprof's.
 * Initialize with PK_FILTER_OPTIONS_INIT. */
typedef struct pk_filter_options {
	unsigned int version;
	const char *focus;  /**< keep samples with a matching frame */
	const char *ignore; /**< drop samples with a matching frame */
	const char *hide;   /**< remove matching frames from stacks */
	const char *show;   /**< keep only matching frames in stacks */
	/** keep samples with a matching label: "regexp[,regexp]" matched
	 * against "key:value", or "key=regexp"; for numeric labels a range
	 * "N", "N:M", "N:", ":M" with an optional unit ("1kB:", "key=2:4") */
	const char *tag_focus;
	const char *tag_ignore; /**< drop samples with a matching label, same syntax */
} pk_filter_options;

/* clang-format off */
#define PK_FILTER_OPTIONS_INIT {PK_FILTER_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, NULL}
/* clang-format on */

/** Apply the filters of o to a copy of p (*out, owned), in pprof's order:
 * focus, ignore, hide and show, then the tag filters. An invalid regular
 * expression is PK_EINVAL with a message naming the option. */
PK_EXTERN int pk_profile_filter(const pk_profile *p, const pk_filter_options *o, pk_profile **out,
                                pk_error *err);

/** Text reports, as `go tool pprof -text` (or -top), -traces and -tree. */
enum {
	PK_REPORT_TOP = 0, /**< one line per node: flat, flat%, sum%, cum, cum% */
	PK_REPORT_TRACES,  /**< every sample with its stack */
	PK_REPORT_TREE,    /**< each node with its callers and callees */
};

#define PK_REPORT_OPTIONS_VERSION 1

/** What a text report shows; the fields follow go tool pprof's options.
 * Initialize with PK_REPORT_OPTIONS_INIT (pprof's defaults). */
typedef struct pk_report_options {
	unsigned int version;
	int kind;                /**< PK_REPORT_* */
	const char *sample_type; /**< -sample_index, as pk_profile_find_sample_type reads it */
	int mean;                /**< -mean: values divided by sample type 0 (e.g. mean delay) */
	int granularity;         /**< PK_GRANULARITY_* */
	int no_inlines;          /**< -noinlines: inlined frames go to their caller */
	int sort_cum;            /**< -cum: sort by cumulative value, not flat */
	long node_count;         /**< -nodecount; -1: none for top, 80 for tree */
	double node_fraction;    /**< -nodefraction (default 0.005) */
	double edge_fraction;    /**< -edgefraction (default 0.001) */
	const char *unit;        /**< -unit; NULL: "minimum", one unit for the report */
	/** Borrowed; NULL: none. Applied before the report, and listed in
	 * its header as "Active filters:". */
	const pk_filter_options *filter;
	/** -relative_percentages: percentages of what the filters keep, not
	 * of the whole profile */
	int relative_percentages;
} pk_report_options;

/* clang-format off */
#define PK_REPORT_OPTIONS_INIT {PK_REPORT_OPTIONS_VERSION, PK_REPORT_TOP, NULL, 0, \
	PK_GRANULARITY_FUNCTIONS, 0, 0, -1, 0.005, 0.001, NULL, NULL, 0}
/* clang-format on */

/** Write a text report of p to path ("-" is stdout), byte for byte as
 * Go 1.19's `go tool pprof` prints it. The Time: line is in the local
 * time zone (TZ). */
PK_EXTERN int pk_report_write_path(const pk_profile *p, const char *path,
                                   const pk_report_options *opts, pk_error *err);
/** Write a text report to memory: *out (owned, free with pk_free), *size. */
PK_EXTERN int pk_report_write_buffer(const pk_profile *p, const pk_report_options *opts, void **out,
                                     size_t *size, pk_error *err);

/* ---------------------------------------------------------------- formats */

/** A file format (static, borrowed). */
typedef struct pk_format pk_format;

/** Look a format up by name ("pprof", "json", ...). NULL if unknown. */
PK_EXTERN const pk_format *pk_format_by_name(const char *name);
/** The format a file name's extension implies (".pb.gz", ".json", ...),
 * after any trailing ".gz", or else how its base name starts (valgrind's
 * "callgrind.out.<pid>"). NULL if none. */
PK_EXTERN const pk_format *pk_format_by_path(const char *path);
/** Format i of the registry, NULL past the end: for listing them. */
PK_EXTERN const pk_format *pk_format_at(size_t i);
PK_EXTERN const char *pk_format_name(const pk_format *f);
/** A one-line description (static). */
PK_EXTERN const char *pk_format_description(const pk_format *f);
PK_EXTERN int pk_format_can_import(const pk_format *f);
PK_EXTERN int pk_format_can_export(const pk_format *f);
/** Guess the format of some bytes (gzip is undone first). NULL if none
 * matches. */
PK_EXTERN const pk_format *pk_format_detect(const void *data, size_t size);

/** Told how far a read or a write is, a few times a second at most for a
 * big profile (every 256 KiB read or inflated, every MiB written), never
 * per sample: phase is "reading", "decompressing", "decoding" or
 * "writing" (static); done of total bytes, total 0 when it is not known
 * (writing). ctx is the options' progress_ctx. It must not call back into
 * the library with the same objects. */
typedef void (*pk_progress_fn)(void *ctx, const char *phase, uint64_t done, uint64_t total);

#define PK_READ_OPTIONS_VERSION 3

/** How to read. Initialize with PK_READ_OPTIONS_INIT; fields are only ever
 * appended (version 2 added progress and progress_ctx, version 3
 * one_thread). */
typedef struct pk_read_options {
	unsigned int version;
	const pk_format *format; /**< NULL: detect from the bytes */
	const char *source_name; /**< name used in errors; NULL: the path */
	uint64_t max_size;       /**< largest input after gunzip; 0: 2 GiB */
	pk_progress_fn progress; /**< NULL: none */
	void *progress_ctx;      /**< passed to progress */
	/** nonzero: a large pprof file is decoded on the calling thread
	 * only (it may still inflate on a second), for a caller whose own
	 * threads keep the other cores busy, such as reads of several
	 * inputs at once */
	int one_thread;
} pk_read_options;

/* clang-format off */
#define PK_READ_OPTIONS_INIT {PK_READ_OPTIONS_VERSION, NULL, NULL, 0, NULL, NULL, 0}
/* clang-format on */

/** Read a profile from a file ("-" is stdin), gzipped or not. On success
 * *out is owned by the caller; *format_out (optional) gets the format. */
PK_EXTERN int pk_profile_read_path(const char *path, const pk_read_options *opts, pk_profile **out,
                                   const pk_format **format_out, pk_error *err);
/** Read a profile from memory, gzipped or not. */
PK_EXTERN int pk_profile_read_buffer(const void *data, size_t size, const pk_read_options *opts,
                                     pk_profile **out, const pk_format **format_out, pk_error *err);

/** Compression of the output. */
enum {
	PK_COMPRESS_AUTO = 0, /**< the format's default (pprof: gzip), or ".gz" in the path */
	PK_COMPRESS_NONE = 1,
	PK_COMPRESS_GZIP = 2,
};

#define PK_FLAMEGRAPH_OPTIONS_VERSION 1

/** How an SVG flame graph looks; the fields follow flamegraph.pl's
 * options. Initialize with PK_FLAMEGRAPH_OPTIONS_INIT: zero and NULL mean
 * the default. */
typedef struct pk_flamegraph_options {
	unsigned int version;
	const char *title;      /**< NULL: "Flame Graph", or "Icicle Graph" */
	const char *subtitle;   /**< NULL: none */
	unsigned int width;     /**< image width in pixels; 0: 1200 */
	unsigned int height;    /**< frame height in pixels; 0: 16 */
	double min_width;       /**< frames narrower are left out; 0: 0.1 */
	int min_width_percent;  /**< min_width is a percentage of the total */
	const char *font_type;  /**< NULL: "Verdana" */
	double font_size;       /**< 0: 12 */
	const char *count_name; /**< what a count is called; NULL: from the unit */
	const char *colors;     /**< palette: hot (NULL), mem, io, red, green,
	                             blue, yellow, purple, aqua, orange, java, js,
	                             perl, wakeup, chain */
	int hash;               /**< color by a hash of the name, not its sum */
	int reverse;            /**< stacks leaf first, merged from the leaves */
	int inverted;           /**< an icicle graph: the root at the top */
	int negate;             /**< swap the colors of growth and shrinking */
} pk_flamegraph_options;

/* clang-format off */
#define PK_FLAMEGRAPH_OPTIONS_INIT {PK_FLAMEGRAPH_OPTIONS_VERSION, NULL, NULL, 0, 0, 0, 0, NULL, 0, \
	NULL, NULL, 0, 0, 0, 0}
/* clang-format on */

#define PK_WRITE_OPTIONS_VERSION 3

/** How to write. Initialize with PK_WRITE_OPTIONS_INIT; fields are only
 * ever appended (version 2 added those after compress, version 3 those
 * from name on). */
typedef struct pk_write_options {
	unsigned int version;
	const pk_format *format; /**< NULL: from the path's extension */
	int compress;            /**< PK_COMPRESS_* */
	/** For formats of one value per stack (folded, SVG): the sample type,
	 * as pk_profile_find_sample_type reads it. NULL: the default. */
	const char *sample_type;
	/** Borrowed; not NULL: show the change from this profile to the one
	 * written (folded: "stack base new" lines; SVG: a differential flame
	 * graph). It needs the same sample type. */
	const pk_profile *base;
	int granularity; /**< PK_GRANULARITY_*, for frames of folded and SVG */
	/** Borrowed; NULL: defaults. */
	const pk_flamegraph_options *flamegraph;
	/** What the profile is called, such as its input file's name, for
	 * formats that carry a name (speedscope). NULL: from the profile
	 * (its main binary's name). */
	const char *name;
	pk_progress_fn progress; /**< NULL: none; told the bytes written so far */
	void *progress_ctx;      /**< passed to progress */
} pk_write_options;

/* clang-format off */
#define PK_WRITE_OPTIONS_INIT {PK_WRITE_OPTIONS_VERSION, NULL, PK_COMPRESS_AUTO, NULL, NULL, \
	PK_GRANULARITY_FUNCTIONS, NULL, NULL, NULL, NULL}
/* clang-format on */

/** Write a profile to a file, atomically: the data goes to a temporary file
 * in the same folder that is renamed over path only when complete, so a
 * failure leaves no file and an existing one untouched. "-" is stdout. */
PK_EXTERN int pk_profile_write_path(const pk_profile *p, const char *path,
                                    const pk_write_options *opts, pk_error *err);
/** Write a profile to memory: *out (owned, free with pk_free) and *size. */
PK_EXTERN int pk_profile_write_buffer(const pk_profile *p, const pk_write_options *opts, void **out,
                                      size_t *size, pk_error *err);

#ifdef __cplusplus
}
#endif

#endif /* PROFKIT_H */
