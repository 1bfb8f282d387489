/* calltree.c - the prefix tree of stacks that the one-value exporters
 * read, kept as its distinct stacks in depth-first order. Frames are named
 * as pprof names graph nodes, so what a flame graph shows is what `go tool
 * pprof -traces` and -text show. Each distinct stack and each location is
 * resolved once, so a sample costs one addition. */
#include "internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SOURCE_BASE 0x80000000u

/* Above this many stacks, the tree is built partly on two threads. */
#define THREAD_RECS 8192

/* Where a location's frames are; together, as stacks read both. */
typedef struct span {
	uint32_t first, count; /* count 0: not yet */
} span;

/* What one profile adds: each location's frames and the tree stack of
 * each of its stacks, kept so that the values of another sample type can
 * be put on the same ones. */
typedef struct source {
	const pk_profile *p;
	uint32_t *to_tree;  /* tree stack + 1; 0 = none (no value) */
	span *locs;         /* by location: its frames in loc_frames */
	pk__vec loc_frames; /* uint32_t: the frames of each location in the tree's order */
	bool reverse;       /* stacks are read leaf first */
} source;

/* A stack a profile uses (stack has SOURCE_BASE set for the base's), while
 * the tree's stacks are sorted. */
typedef struct rec {
	uint32_t stack;
	uint32_t len;    /* its frames */
	uint32_t key;    /* where its key starts in the keys, in frames */
	uint32_t shared; /* once sorted: frames in common with the stack kept
	                  * before, SAME_FRAMES if they are all of both; while
	                  * sorted: word_at of the frames being sorted on */
} rec;

#define SAME_FRAMES UINT32_MAX

struct pk__tree_data {
	pk__strtab *names;   /* frame names: name i + 1 is frame i's */
	pk__strtab *strings; /* files of frames that are not the profile's */
	pk__vec frames;      /* pk__tree_frame */
	pk__vec recs;        /* rec, while building */
	/* each tree stack's frames past its `shared`, as in its key */
	unsigned char *added;
	size_t width; /* bytes a frame there */
	source main, base;
	pk__tree_options o;
	bool self_diff; /* the base is p itself (two-count folded) */
};

/* What one profile's walk keeps while it names frames. */
typedef struct walk {
	pk__tree *t;
	const pk_profile *p;
	const pk__tree_options *o;
	source *src;
	pk__vec text;       /* char: a frame name being put together */
	uint32_t *fn_frame; /* by function: its frame + 1 where only it names one */
} walk;

/* ----------------------------------------------------------------- names */

static int vec_add(pk__vec *text, const char *s, size_t len)
{
	return pk__vec_push(text, 1, s, len, NULL);
}

/* The length of path if filepath.Clean leaves it as it is (most file
 * names are clean: one pass, not an append per element), else 0: an
 * element that is empty, "." or "..", or a slash at the end. */
static size_t clean_length(const char *path)
{
	const char *s = path + (path[0] == '/');
	if (*s == '\0')
		return (size_t)(s - path); /* "/" is clean, "" is not */
	for (;;) {
		const char *e = s;
		while (*s != '/' && *s != '\0')
			s++;
		size_t n = (size_t)(s - e);
		if (n == 0 || (e[0] == '.' && (n == 1 || (n == 2 && e[1] == '.'))))
			return 0;
		if (*s == '\0')
			return (size_t)(s - path);
		if (*++s == '\0')
			return 0;
	}
}

/* Go's filepath.Clean, which pprof applies to file names: single slashes,
 * no "." elements, and ".." taking away the element before it. */
int pk__clean_path(pk__vec *text, const char *path)
{
	size_t clean = clean_length(path);
	if (clean > 0)
		return vec_add(text, path, clean);
	size_t base = text->count;
	bool rooted = path[0] == '/';
	if (rooted)
		PK_FORWARD(vec_add(text, "/", 1));
	size_t floor = text->count; /* where the elements start */
	size_t dotdot = floor;      /* the end of leading ".."s, which stay */
	for (const char *s = path; *s;) {
		while (*s == '/')
			s++;
		size_t n = strcspn(s, "/");
		const char *e = s;
		s += n;
		if (n == 0 || (n == 1 && e[0] == '.'))
			continue;
		if (n == 2 && e[0] == '.' && e[1] == '.') {
			const char *chars = text->items;
			size_t at = text->count;
			if (at > dotdot) {
				while (at > dotdot && chars[at - 1] != '/')
					at--;
				text->count = at > dotdot ? at - 1 : dotdot;
				continue;
			}
			if (rooted)
				continue;
		}
		if (text->count > floor)
			PK_FORWARD(vec_add(text, "/", 1));
		PK_FORWARD(vec_add(text, e, n));
		if (n == 2 && e[0] == '.' && e[1] == '.')
			dotdot = text->count;
	}
	if (text->count == base)
		PK_FORWARD(vec_add(text, ".", 1));
	return 0;
}

static const char *str_of(const pk_profile *p, pk_str s)
{
	return pk_profile_string(p, s);
}

int pk__frame_name(const pk_profile *p, const pk_location *loc, const pk_line *line,
                   int granularity, pk__vec *text, size_t *file_start, size_t *file_end)
{
	int g = granularity;
	bool want_name = g != PK_GRANULARITY_FILES;
	bool want_file = g != PK_GRANULARITY_FUNCTIONS;
	bool want_line = g == PK_GRANULARITY_LINES || g == PK_GRANULARITY_ADDRESSES;
	const pk_function *fn = line ? pk_profile_function(p, line->function) : NULL;
	const char *name = fn && want_name ? str_of(p, fn->name) : "";
	/* Names may hold NUL bytes (pprof's strings can): take their length. */
	size_t name_len = fn && want_name ? pk_profile_string_length(p, fn->name) : 0;
	const char *file = fn && want_file ? str_of(p, fn->filename) : "";
	int64_t lineno = line && want_line ? line->line : 0;
	uint64_t address = g == PK_GRANULARITY_ADDRESSES ? loc->address : 0;

	size_t start = text->count;
	char num[32];
	if (address != 0) {
		snprintf(num, sizeof num, "%016llx", (unsigned long long)address);
		PK_FORWARD(vec_add(text, num, strlen(num)));
	}
	if (name_len) {
		if (text->count > start)
			PK_FORWARD(vec_add(text, " ", 1));
		PK_FORWARD(vec_add(text, name, name_len));
	}
	size_t fs = text->count, fe = text->count; /* the cleaned file within text */
	if (lineno != 0 || *file) {
		if (text->count > start)
			PK_FORWARD(vec_add(text, " ", 1));
		fs = text->count;
		if (*file)
			PK_FORWARD(pk__clean_path(text, file));
		fe = text->count;
		if (lineno != 0) {
			snprintf(num, sizeof num, ":%lld", (long long)lineno);
			PK_FORWARD(vec_add(text, num, strlen(num)));
		}
	} else if (name_len == 0) {
		const pk_mapping *m =
		    loc->mapping != PK_NONE ? pk_profile_mapping(p, loc->mapping) : NULL;
		const char *obj = m ? str_of(p, m->filename) : "";
		if (text->count > start)
			PK_FORWARD(vec_add(text, " ", 1));
		if (*obj) {
			const char *slash = strrchr(obj, '/');
			const char *base = slash && slash[1] ? slash + 1 : obj;
			PK_FORWARD(vec_add(text, "[", 1));
			PK_FORWARD(vec_add(text, base, strlen(base)));
			PK_FORWARD(vec_add(text, "]", 1));
		} else {
			PK_FORWARD(vec_add(text, "<unknown>", 9));
		}
	}
	if (file_start)
		*file_start = fs;
	if (file_end)
		*file_end = fe;
	return 0;
}

/* The frame of one line of a location (line NULL: a location without
 * lines), named as pprof's NodeInfo.PrintableName at the granularity. */
static int frame_of(walk *w, const pk_location *loc, const pk_line *line, uint32_t *out)
{
	const pk_profile *p = w->p;
	int g = w->o->granularity;
	int64_t lineno =
	    line && (g == PK_GRANULARITY_LINES || g == PK_GRANULARITY_ADDRESSES) ? line->line : 0;
	uint64_t address = g == PK_GRANULARITY_ADDRESSES ? loc->address : 0;
	/* A function named before names this frame too: its function and
	 * strings, a cache miss each, are not looked at again. */
	if (line && lineno == 0 && address == 0 && w->fn_frame[line->function] != 0) {
		*out = w->fn_frame[line->function] - 1;
		return 0;
	}
	const pk_function *fn = line ? pk_profile_function(p, line->function) : NULL;
	/* Above lines, a function with a name (or a file, where files count)
	 * names its frame alone: it is named once, not once per location. */
	bool by_function =
	    fn != NULL && lineno == 0 && address == 0 &&
	    ((g != PK_GRANULARITY_FILES && pk_profile_string_length(p, fn->name) > 0) ||
	     (g != PK_GRANULARITY_FUNCTIONS && *str_of(p, fn->filename) != '\0'));
	w->text.count = 0;
	size_t file_start, file_end;
	PK_FORWARD(pk__frame_name(p, loc, line, g, &w->text, &file_start, &file_end));

	/* Names are never empty, and the table's string 0 is "": frame i is
	 * name i + 1. */
	struct pk__tree_data *d = w->t->data;
	uint32_t id;
	/* A name that is the function's is the profile's string, not a copy. */
	const char *fn_name = fn ? str_of(p, fn->name) : "";
	if (fn && w->text.count == pk_profile_string_length(p, fn->name) &&
	    memcmp(w->text.items, fn_name, w->text.count) == 0)
		PK_FORWARD(pk__strtab_intern_kept(d->names, fn_name, w->text.count, &id));
	else
		PK_FORWARD(pk__strtab_intern(d->names, w->text.items, w->text.count, &id));
	if (by_function)
		w->fn_frame[line->function] = id;
	if (id - 1 < d->frames.count) {
		*out = id - 1;
		return 0;
	}
	pk__tree_frame f = {0};
	f.name = pk__strtab_get(d->names, id, &f.name_len);
	/* The profile's strings where they are the frame's: only a file
	 * that cleaning changed needs a copy. */
	f.function = fn ? str_of(p, fn->name) : "";
	const char *shown = (const char *)w->text.items + file_start;
	size_t shown_len = file_end - file_start;
	f.file = fn ? str_of(p, fn->filename) : "";
	if (strlen(f.file) != shown_len || memcmp(f.file, shown, shown_len) != 0) {
		uint32_t s;
		PK_FORWARD(pk__strtab_intern(d->strings, shown, shown_len, &s));
		f.file = pk__strtab_get(d->strings, s, NULL);
	}
	f.line = lineno;
	f.address = address;
	PK_FORWARD(pk__vec_push(&d->frames, sizeof f, &f, 1, NULL));
	*out = id - 1;
	return 0;
}

/* The frames of location i in the tree's order: root first, its last
 * line (the caller) first, then the functions inlined into it. */
static int add_location_frames(walk *w, uint32_t i)
{
	source *src = w->src;
	span *sp = &src->locs[i];
	const pk_location *loc = pk_profile_location(w->p, i);
	const pk_line *lines;
	size_t n = pk_profile_location_lines(w->p, i, &lines);
	size_t start = src->loc_frames.count;
	if (start >= UINT32_MAX - n)
		return PK_EFORMAT;
	uint32_t f;
	if (n == 0) {
		PK_FORWARD(frame_of(w, loc, NULL, &f));
		PK_FORWARD(pk__vec_push(&src->loc_frames, sizeof f, &f, 1, NULL));
	}
	for (size_t k = 0; k < n; k++) {
		PK_FORWARD(frame_of(w, loc, &lines[w->o->reverse ? k : n - 1 - k], &f));
		PK_FORWARD(pk__vec_push(&src->loc_frames, sizeof f, &f, 1, NULL));
	}
	sp->first = (uint32_t)start;
	sp->count = (uint32_t)(src->loc_frames.count - start);
	return 0;
}

/* How many frames location i has, adding them the first time: inline, as
 * every location of every stack asks, nearly always a look-up. */
static inline int location_frames(walk *w, uint32_t i, uint32_t *count)
{
	if (w->src->locs[i].count == 0)
		PK_FORWARD(add_location_frames(w, i));
	*count = w->src->locs[i].count;
	return 0;
}

/* ---------------------------------------------------------------- stacks */

/* Whether a sample of these values has a value in some sample type. */
static bool any_value(const pk_profile *p, const int64_t *values)
{
	for (size_t k = 0; k < pk_profile_sample_type_count(p); k++)
		if (values[k] != 0)
			return true;
	return false;
}

/* The stacks of p's samples with a value (in sample type `type`, or
 * with all_types in any), marked 1 in to_tree. */
typedef struct marker {
	const pk_profile *p;
	size_t type;
	bool all_types;
	uint32_t *to_tree;
	size_t used; /* stacks marked */
} marker;

static void mark_used(marker *m)
{
	size_t samples = m->to_tree ? pk_profile_sample_count(m->p) : 0;
	for (size_t i = 0; i < samples; i++) {
		uint32_t stack;
		const int64_t *values = pk__profile_sample_values(m->p, i, &stack);
		if (m->to_tree[stack] == 0 &&
		    (values[m->type] != 0 || (m->all_types && any_value(m->p, values)))) {
			m->to_tree[stack] = 1;
			m->used++;
		}
	}
}

static void *marker_main(void *arg)
{
	mark_used(arg);
	return NULL;
}

/* Each stack of p that has a value (in sample type `type`, or with
 * all_types in any), to recs; the frames of its locations. */
static int collect(pk__tree *t, const pk_profile *p, size_t type, bool base,
                   const pk__tree_options *o)
{
	struct pk__tree_data *d = t->data;
	source *src = base ? &d->base : &d->main;
	walk w = {t, p, o, src, {0}, NULL};
	size_t locations = pk_profile_location_count(p), stacks = pk_profile_stack_count(p);
	src->p = p;
	src->reverse = o->reverse;
	src->to_tree = pk__calloc(stacks + 1, sizeof *src->to_tree);
	src->locs = pk__calloc(locations + 1, sizeof *src->locs);
	w.fn_frame = pk__calloc(pk_profile_function_count(p) + 1, sizeof *w.fn_frame);
	int rc = src->to_tree && src->locs && w.fn_frame ? 0 : PK_ENOMEM;
	if (rc == 0 && stacks >= SOURCE_BASE)
		rc = PK_EFORMAT;
	marker m = {p, type, o->all_types, rc == 0 ? src->to_tree : NULL, 0};
	/* A big profile's locations are all named while a second thread
	 * finds the stacks used (a location no stack uses adds frames no
	 * stack shows: the tree is the same). */
	pthread_t thread;
	bool started =
	    rc == 0 && stacks >= THREAD_RECS && pthread_create(&thread, NULL, marker_main, &m) == 0;
	for (size_t i = 0; started && rc == 0 && i < locations; i++) {
		uint32_t count;
		rc = location_frames(&w, (uint32_t)i, &count);
	}
	if (started)
		pthread_join(thread, NULL);
	else if (rc == 0)
		mark_used(&m);
	if (rc == 0)
		rc = pk__vec_reserve_exact(&d->recs, sizeof(rec), m.used);
	for (size_t s = 0; rc == 0 && s < stacks; s++) {
		if (src->to_tree[s] == 0)
			continue;
		const uint32_t *locs;
		size_t depth = pk_profile_stack(p, s, &locs), len = 0;
		for (size_t k = 0; rc == 0 && k < depth; k++) {
			uint32_t count = 0;
			rc = location_frames(&w, locs[k], &count);
			len += count;
		}
		if (rc == 0 && len >= UINT32_MAX)
			rc = PK_EFORMAT;
		rec r = {(uint32_t)s | (base ? SOURCE_BASE : 0), (uint32_t)len, 0, 0};
		if (rc == 0)
			rc = pk__vec_push(&d->recs, sizeof r, &r, 1, NULL);
	}
	pk__free(w.fn_frame);
	pk__vec_free(&w.text);
	return rc;
}

typedef struct named {
	const char *name;
	size_t len;
	uint32_t item;
} named;

static int by_name(const void *a, const void *b)
{
	const named *x = a, *y = b;
	int c = memcmp(x->name, y->name, x->len < y->len ? x->len : y->len);
	return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* The frames in name order: each stack's frames become their ranks. */
static int sort_frames(struct pk__tree_data *d)
{
	size_t nf = d->frames.count;
	named *names = pk__calloc(nf + 1, sizeof *names);
	uint32_t *rank = pk__calloc(nf + 1, sizeof *rank);
	pk__tree_frame *sorted = pk__calloc(nf + 1, sizeof *sorted);
	if (names == NULL || rank == NULL || sorted == NULL) {
		pk__free(names);
		pk__free(rank);
		pk__free(sorted);
		return PK_ENOMEM;
	}
	pk__tree_frame *frames = d->frames.items;
	for (size_t f = 0; f < nf; f++)
		names[f] = (named){frames[f].name, frames[f].name_len, (uint32_t)f};
	qsort(names, nf, sizeof *names, by_name);
	for (size_t r = 0; r < nf; r++) {
		rank[names[r].item] = (uint32_t)r;
		sorted[r] = frames[names[r].item];
	}
	if (nf)
		memcpy(frames, sorted, nf * sizeof *frames);
	for (int b = 0; b < 2; b++) {
		pk__vec *v = b ? &d->base.loc_frames : &d->main.loc_frames;
		uint32_t *f = v->items;
		for (size_t i = 0; i < v->count; i++)
			f[i] = rank[f[i]];
	}
	pk__free(names);
	pk__free(rank);
	pk__free(sorted);
	return 0;
}

/* The location `k` from the root of a stack of `depth`. */
static uint32_t location_at(const uint32_t *locs, size_t depth, bool reverse, size_t k)
{
	return locs[reverse ? k : depth - 1 - k];
}

/* The stacks' frames as keys that sort as bytes: each stack's frame ranks,
 * root first, big-endian, in width bytes each. */
typedef struct keys {
	rec *recs;
	unsigned char *bytes;
	size_t width;
	size_t step; /* frames sorted on at once: 2 where key_at fits 16 bits */
	/* not NULL: parts of fewer than `part` recs are left here, sorted later */
	pk__vec *parts;
	size_t part;
} keys;

/* recs at a, agreeing before frame d, to sort */
typedef struct key_part {
	uint32_t *a;
	size_t n, d;
} key_part;

/* Frame d of rec r's key plus one; 0 past its end, so shorter sorts first. */
static inline uint32_t key_at(const keys *k, const rec *r, size_t d)
{
	if (d >= r->len)
		return 0;
	const unsigned char *b = k->bytes + ((size_t)r->key + d) * k->width;
	if (k->width == 2)
		return ((uint32_t)b[0] << 8 | b[1]) + 1;
	return ((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]) + 1;
}

/* What the sort compares at frame d of rec r's key: key_at of `step`
 * frames, the first in the high bits; 0 when the key ends at d, and
 * (with two) low bits 0 when it ends at d + 1. */
static inline uint32_t word_at(const keys *k, const rec *r, size_t d)
{
	if (k->step == 1)
		return key_at(k, r, d);
	return key_at(k, r, d) << 16 | key_at(k, r, d + 1);
}

/* Keys x and y compared from frame d on; equal ones by index, as a stable
 * sort leaves them. */
static int compare_from(const keys *k, uint32_t x, uint32_t y, size_t d)
{
	const rec *a = &k->recs[x], *b = &k->recs[y];
	size_t la = a->len * k->width, lb = b->len * k->width, at = d * k->width;
	size_t n = la < lb ? la : lb;
	const unsigned char *ka = k->bytes + (size_t)a->key * k->width;
	const unsigned char *kb = k->bytes + (size_t)b->key * k->width;
	int c = n > at ? memcmp(ka + at, kb + at, n - at) : 0;
	if (c == 0)
		c = la != lb ? (la > lb) - (la < lb) : (x > y) - (x < y);
	return c;
}

static void insertion_sort(uint32_t *a, size_t n, size_t d, const keys *k)
{
	for (size_t i = 1; i < n; i++) {
		uint32_t x = a[i];
		size_t j = i;
		for (; j > 0 && compare_from(k, x, a[j - 1], d) < 0; j--)
			a[j] = a[j - 1];
		a[j] = x;
	}
}

static int by_index(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static uint32_t median3(uint32_t a, uint32_t b, uint32_t c)
{
	if (a > b) {
		uint32_t t = a;
		a = b;
		b = t;
	}
	return c < a ? a : c > b ? b : c;
}

/* Sort the n recs at a (whose keys agree before frame d) by their keys:
 * a three-way quicksort on one frame at a time (multikey quicksort), so
 * that no frame is compared again once its prefix is settled; a
 * comparison sort read whole keys from the start each time. The largest
 * part is sorted by the loop, the others (at most half each) by
 * recursion, so the recursion is at most log2(n) deep. */
static void sort_keys(uint32_t *a, size_t n, size_t d, const keys *k)
{
	rec *recs = k->recs;
	while (n > 1) {
		key_part kp = {a, n, d};
		if (k->parts && n < k->part && pk__vec_push(k->parts, sizeof kp, &kp, 1, NULL) == 0)
			return;
		if (n < 16) {
			insertion_sort(a, n, d, k);
			return;
		}
		uint32_t pivot =
		    median3(recs[a[0]].shared, recs[a[n / 2]].shared, recs[a[n - 1]].shared);
		/* keys equal up to where they end: none goes on */
		bool ended = pivot == 0 || (k->step == 2 && (pivot & 0xffff) == 0);
		size_t lt = 0, i = 0, gt = n;
		while (i < gt) {
			uint32_t x = a[i], v = recs[x].shared;
			if (v < pivot) {
				a[i++] = a[lt];
				a[lt++] = x;
			} else if (v > pivot) {
				a[i] = a[--gt];
				a[gt] = x;
			} else {
				i++;
			}
		}
		/* Keys that all end here are the same: by index. The others go
		 * on to the next frames. */
		size_t next = d + k->step;
		if (ended)
			qsort(a + lt, gt - lt, sizeof *a, by_index);
		for (size_t j = lt; !ended && j < gt; j++) {
			/* two cache misses each, overlapped: the rec, then its key */
			if (j + 16 < gt)
				PK_PREFETCH(&recs[a[j + 16]]);
			if (j + 8 < gt)
				PK_PREFETCH(k->bytes +
				            ((size_t)recs[a[j + 8]].key + next) * k->width);
			recs[a[j]].shared = word_at(k, &recs[a[j]], next);
		}
		size_t eq = ended ? 0 : gt - lt, big = lt > n - gt ? lt : n - gt;
		if (eq >= big) {
			sort_keys(a, lt, d, k);
			sort_keys(a + gt, n - gt, d, k);
			a += lt;
			n = eq;
			d = next;
		} else if (lt == big) {
			sort_keys(a + lt, eq, next, k);
			sort_keys(a + gt, n - gt, d, k);
			n = lt;
		} else {
			sort_keys(a, lt, d, k);
			sort_keys(a + lt, eq, next, k);
			a += gt;
			n -= gt;
		}
	}
}

/* How many leading frames keys a and b, of len_a and len_b frames, have in
 * common. */
static uint32_t common(const keys *k, const unsigned char *a, uint32_t len_a,
                       const unsigned char *b, uint32_t len_b)
{
	size_t n = (len_a < len_b ? len_a : len_b) * k->width, i = 0;
	/* eight bytes at a time: stacks share dozens of them */
	for (; i + 8 <= n; i += 8) {
		uint64_t x, y;
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y)
			break;
	}
	while (i < n && a[i] == b[i])
		i++;
	return (uint32_t)(i / k->width);
}

/* The keys of recs from..to, at their places in `bytes`. */
typedef struct key_maker {
	const struct pk__tree_data *d;
	const rec *recs;
	size_t from, to;
	keys *k;
} key_maker;

static void fill_keys(const key_maker *m)
{
	const struct pk__tree_data *d = m->d;
	size_t width = m->k->width;
	for (size_t i = m->from; i < m->to; i++) {
		unsigned char *at = m->k->bytes + (size_t)m->recs[i].key * width;
		const source *src = m->recs[i].stack & SOURCE_BASE ? &d->base : &d->main;
		const uint32_t *locs, *frames = src->loc_frames.items;
		size_t depth = pk_profile_stack(src->p, m->recs[i].stack & ~SOURCE_BASE, &locs);
		for (size_t k = 0; k < depth; k++) {
			span sp = src->locs[location_at(locs, depth, src->reverse, k)];
			const uint32_t *f = frames + sp.first;
			if (width == 2) {
				for (uint32_t j = 0; j < sp.count; j++, at += 2) {
					at[0] = (unsigned char)(f[j] >> 8);
					at[1] = (unsigned char)f[j];
				}
				continue;
			}
			for (uint32_t j = 0; j < sp.count; j++, at += 4) {
				at[0] = (unsigned char)(f[j] >> 24);
				at[1] = (unsigned char)(f[j] >> 16);
				at[2] = (unsigned char)(f[j] >> 8);
				at[3] = (unsigned char)f[j];
			}
		}
	}
}

static void *key_maker_main(void *arg)
{
	fill_keys(arg);
	return NULL;
}

/* The key of every stack: the frames (already ranks) of its locations. */
static int make_keys(struct pk__tree_data *d, rec *recs, size_t nr, keys *out)
{
	size_t total = 0;
	for (size_t i = 0; i < nr; i++) {
		recs[i].key = (uint32_t)total;
		total += recs[i].len;
		if (total >= UINT32_MAX)
			return PK_EFORMAT;
	}
	out->bytes = pk__malloc(pk__mul(total ? total : 1, out->width));
	if (out->bytes == NULL)
		return PK_ENOMEM;
	/* each half's keys have places of their own */
	size_t half = nr >= THREAD_RECS ? nr / 2 : nr;
	key_maker m[2] = {{d, recs, 0, half, out}, {d, recs, half, nr, out}};
	if (half < nr)
		pk__run_on_two(key_maker_main, &m[0], &m[1]);
	else
		fill_keys(&m[0]);
	return 0;
}

/* The parts of a sort on two threads, the biggest first, each taken by
 * whichever thread is free. */
typedef struct sorter {
	const keys *k;
	const key_part *parts;
	size_t count, next; /* next taken atomically */
} sorter;

static void sort_parts(sorter *s)
{
	for (;;) {
		size_t i = __atomic_fetch_add(&s->next, 1, __ATOMIC_RELAXED);
		if (i >= s->count)
			return;
		sort_keys(s->parts[i].a, s->parts[i].n, s->parts[i].d, s->k);
	}
}

static void *sorter_main(void *arg)
{
	sort_parts(arg);
	return NULL;
}

static int by_size(const void *a, const void *b)
{
	const key_part *x = a, *y = b;
	return (x->n < y->n) - (x->n > y->n);
}

/* sort_keys of all n recs at a on two threads: the first frames cut them
 * here into parts of under n / 8, which are sorted apart (a part's recs
 * are its own). */
static void sort_on_two(uint32_t *a, size_t n, keys *k)
{
	pk__vec parts = {0};
	k->parts = &parts;
	k->part = n / 8;
	sort_keys(a, n, 0, k);
	k->parts = NULL;
	if (parts.count > 0) /* none when every key ends at its first word */
		qsort(parts.items, parts.count, sizeof(key_part), by_size);
	sorter s = {k, parts.items, parts.count, 0};
	pk__run_on_two(sorter_main, &s, &s); /* each takes parts till none is left */
	pk__vec_free(&parts);
}

/* The tree's stacks from the recs in order: those whose frames are the
 * same made one, each with what it has in common with the one before and
 * the frames it adds, kept out of the keys (which it takes) so that
 * exporters read them from one small array, not each stack's locations
 * from the profile (in name order, all over its pool). */
static int keep_stacks(pk__tree *t, const uint32_t *order, keys *k)
{
	struct pk__tree_data *d = t->data;
	rec *recs = d->recs.items;
	size_t nr = d->recs.count, count = 0, added = 0, w = k->width;
	const rec *last = NULL; /* the last stack kept */
	for (size_t i = 0; i < nr; i++) {
		rec *r = &recs[order[i]];
		/* the keys are in the profile's order, read here in the tree's */
		if (i + 4 < nr)
			PK_PREFETCH(k->bytes + (size_t)recs[order[i + 4]].key * w);
		const unsigned char *key = k->bytes + (size_t)r->key * w;
		r->shared =
		    last ? common(k, k->bytes + (size_t)last->key * w, last->len, key, r->len) : 0;
		if (last && r->shared == r->len && r->shared == last->len) {
			r->shared = SAME_FRAMES;
		} else {
			count++;
			added += r->len - r->shared;
			last = r;
		}
		if (r->len > t->max_len)
			t->max_len = r->len;
		source *src = r->stack & SOURCE_BASE ? &d->base : &d->main;
		src->to_tree[r->stack & ~SOURCE_BASE] = (uint32_t)count;
	}
	if (added >= UINT32_MAX)
		return PK_EFORMAT;
	/* The frames each adds, moved to the front of the keys in the recs'
	 * order (never past where they are), and the rest given back: no
	 * second array beside the keys at the peak. rec.key becomes where its
	 * frames start. */
	size_t at = 0;
	for (size_t i = 0; i < nr; i++) {
		rec *r = &recs[i];
		if (r->shared == SAME_FRAMES)
			continue;
		size_t n = r->len - r->shared;
		memmove(k->bytes + at * w, k->bytes + ((size_t)r->key + r->shared) * w, n * w);
		r->key = (uint32_t)at;
		at += n;
	}
	d->added = pk__realloc(k->bytes, at * w, at * w);
	if (d->added == NULL)
		d->added = k->bytes; /* too big then, but whole */
	k->bytes = NULL;
	d->width = w;
	/* calloc's: a big block on huge pages, as it was at 24 bytes a stack */
	t->stacks = pk__calloc(count + 1, sizeof *t->stacks);
	t->self = pk__calloc(count + 1, sizeof *t->self);
	if (t->stacks == NULL || t->self == NULL)
		return PK_ENOMEM;
	for (size_t i = 0; i < nr; i++) {
		const rec *r = &recs[order[i]];
		if (r->shared != SAME_FRAMES)
			t->stacks[t->stack_count++] = (pk__tree_stack){r->key, r->len, r->shared};
	}
	return 0;
}

/* The tree's stacks: the profiles' stacks sorted by their frames' names. */
static int make_stacks(pk__tree *t)
{
	struct pk__tree_data *d = t->data;
	PK_FORWARD(sort_frames(d));
	size_t nr = d->recs.count;
	size_t nf = d->frames.count;
	keys k = {d->recs.items,           NULL, nf <= UINT16_MAX + 1 ? 2 : 4,
	          nf < UINT16_MAX ? 2 : 1, NULL, 0};
	uint32_t *order = pk__malloc((nr ? nr : 1) * sizeof *order);
	int rc = order ? make_keys(d, d->recs.items, nr, &k) : PK_ENOMEM;
	/* The keys hold the stacks' frames now. */
	for (int b = 0; b < 2; b++) {
		source *src = b ? &d->base : &d->main;
		pk__free(src->locs);
		pk__vec_free(&src->loc_frames);
		src->locs = NULL;
	}
	if (rc == 0) {
		for (size_t i = 0; i < nr; i++) {
			order[i] = (uint32_t)i;
			k.recs[i].shared = word_at(&k, &k.recs[i], 0);
		}
		if (nr >= THREAD_RECS)
			sort_on_two(order, nr, &k);
		else
			sort_keys(order, nr, 0, &k);
		rc = keep_stacks(t, order, &k);
	}
	pk__free(k.bytes);
	pk__free(order);
	pk__vec_free(&d->recs);
	if (rc == 0 && t->has_base) {
		t->base_self = pk__calloc(t->stack_count + 1, sizeof *t->base_self);
		if (t->base_self == NULL)
			rc = PK_ENOMEM;
	}
	return rc;
}

/* Add p's values of sample type `type` to the stacks they are of. */
static void add_values(pk__tree *t, const source *src, size_t type, bool base)
{
	size_t samples = pk_profile_sample_count(src->p);
	for (size_t i = 0; i < samples; i++) {
		uint32_t stack;
		int64_t v = pk__profile_sample_values(src->p, i, &stack)[type];
		uint32_t k = src->to_tree[stack];
		if (v == 0 || k == 0)
			continue;
		int64_t *at = base ? &t->base_self[k - 1] : &t->self[k - 1];
		*at = pk__add(*at, v);
	}
}

/* The type in base that matches p's type `type` by name and unit. */
static int base_type(const pk_profile *p, size_t type, const pk_profile *base, size_t *out,
                     pk_error *err)
{
	pk_value_type vt = pk_profile_sample_type(p, type);
	const char *name = str_of(p, vt.type), *unit = str_of(p, vt.unit);
	for (size_t i = 0; i < pk_profile_sample_type_count(base); i++) {
		pk_value_type b = pk_profile_sample_type(base, i);
		if (strcmp(str_of(base, b.type), name) == 0 &&
		    strcmp(str_of(base, b.unit), unit) == 0) {
			*out = i;
			return 0;
		}
	}
	return pk__error_set(err, PK_ENOTFOUND, "the base profile has no sample type %s/%s", name,
	                     unit);
}

/* A profile whose two sample types are "base" and "new" of one unit, as
 * two-count folded lines give, is a diff by itself: *base_out gets the
 * index of "base" and *type_out that of "new". */
static bool is_self_diff(const pk_profile *p, size_t *type_out, size_t *base_out)
{
	if (pk_profile_sample_type_count(p) != 2)
		return false;
	pk_value_type a = pk_profile_sample_type(p, 0), b = pk_profile_sample_type(p, 1);
	if (a.unit != b.unit)
		return false;
	const char *na = str_of(p, a.type), *nb = str_of(p, b.type);
	if (strcmp(na, "base") == 0 && strcmp(nb, "new") == 0) {
		*base_out = 0;
		*type_out = 1;
		return true;
	}
	if (strcmp(na, "new") == 0 && strcmp(nb, "base") == 0) {
		*base_out = 1;
		*type_out = 0;
		return true;
	}
	return false;
}

/* The sample types the tree shows: *type of p and, with a base (*base
 * set, maybe to p itself), *btype of it. */
static int resolve_types(const pk_profile *p, const pk__tree_options *o, const char *sample_type,
                         size_t *type, const pk_profile **base, size_t *btype, pk_error *err)
{
	*base = o->base;
	*btype = 0;
	bool no_type = sample_type == NULL || *sample_type == '\0';
	if (o->base == NULL && no_type && is_self_diff(p, type, btype))
		*base = p;
	else
		PK_FORWARD(pk_profile_find_sample_type(p, sample_type, type, err));
	if (o->base)
		PK_FORWARD(base_type(p, *type, o->base, btype, err));
	return 0;
}

int pk__tree_build(const pk_profile *p, const pk__tree_options *o, pk__tree **out, pk_error *err)
{
	size_t type, btype;
	const pk_profile *base;
	PK_FORWARD(resolve_types(p, o, o->sample_type, &type, &base, &btype, err));
	pk__tree *t = pk__calloc(1, sizeof *t);
	struct pk__tree_data *d = pk__calloc(1, sizeof *d);
	if (t == NULL || d == NULL) {
		pk__free(t);
		pk__free(d);
		return pk__error_set(err, PK_ENOMEM, "out of memory");
	}
	t->data = d;
	d->o = *o;
	d->self_diff = base == p;
	t->has_base = base != NULL;
	t->sample_type = type;
	t->type = str_of(p, pk_profile_sample_type(p, type).type);
	t->unit = str_of(p, pk_profile_sample_type(p, type).unit);
	int rc = pk__strtab_new(&d->names);
	if (rc == 0)
		rc = pk__strtab_new(&d->strings);
	if (rc == 0)
		rc = collect(t, p, type, false, o);
	if (rc == 0 && base)
		rc = collect(t, base, btype, true, o);
	/* Every frame is named: the frames point at the names, which are
	 * never looked up again, and the sort's keys take the room. */
	pk__strtab_forget(d->names);
	pk__strtab_forget(d->strings);
	if (rc == 0)
		rc = make_stacks(t);
	if (rc == 0) {
		add_values(t, &d->main, type, false);
		if (base)
			add_values(t, &d->base, btype, true);
	}
	if (!o->all_types) {
		pk__free(d->main.to_tree);
		pk__free(d->base.to_tree);
		d->main.to_tree = d->base.to_tree = NULL;
	}
	if (rc < 0) {
		pk__tree_free(t);
		return rc == PK_ENOMEM ? pk__error_set(err, rc, "out of memory")
		                       : pk__error_set(err, rc, "the call tree is too large");
	}
	t->frames = d->frames.items;
	t->frame_count = d->frames.count;
	*out = t;
	return 0;
}

int pk__tree_select_type(pk__tree *t, const char *sample_type, pk_error *err)
{
	struct pk__tree_data *d = t->data;
	if (!d->o.all_types)
		return pk__error_set(err, PK_EUNSUPPORTED,
		                     "the call tree has only one sample type");
	const pk_profile *p = d->main.p, *base;
	size_t type, btype;
	PK_FORWARD(resolve_types(p, &d->o, sample_type, &type, &base, &btype, err));
	if ((base != NULL) != t->has_base || (base != NULL && base == p) != d->self_diff)
		return pk__error_set(err, PK_EUNSUPPORTED, "the call tree has no such sample type");
	for (size_t k = 0; k < t->stack_count; k++)
		t->self[k] = 0;
	add_values(t, &d->main, type, false);
	if (base) {
		for (size_t k = 0; k < t->stack_count; k++)
			t->base_self[k] = 0;
		add_values(t, &d->base, btype, true);
	}
	t->sample_type = type;
	t->type = str_of(p, pk_profile_sample_type(p, type).type);
	t->unit = str_of(p, pk_profile_sample_type(p, type).unit);
	return 0;
}

void pk__tree_free(pk__tree *t)
{
	if (t == NULL)
		return;
	pk__strtab_free(t->data->names);
	pk__strtab_free(t->data->strings);
	pk__vec_free(&t->data->frames);
	pk__vec_free(&t->data->recs);
	for (int b = 0; b < 2; b++) {
		source *src = b ? &t->data->base : &t->data->main;
		pk__free(src->to_tree);
		pk__free(src->locs);
		pk__vec_free(&src->loc_frames);
	}
	pk__free(t->data->added);
	pk__free(t->data);
	pk__free(t->stacks);
	pk__free(t->self);
	pk__free(t->base_self);
	pk__free(t);
}

void pk__tree_frames(const pk__tree *t, size_t i, uint32_t *out)
{
	const pk__tree_stack *st = &t->stacks[i];
	const struct pk__tree_data *d = t->data;
	const unsigned char *b = d->added + (size_t)st->first * d->width;
	/* The frames are kept in the profile's order of stacks, not the
	 * tree's: those of a stack ahead are fetched now, or each stack
	 * would wait on a cache miss. */
	if (i + 4 < t->stack_count)
		PK_PREFETCH(d->added + (size_t)t->stacks[i + 4].first * d->width);
	for (uint32_t j = st->shared; j < st->len; j++, b += d->width)
		out[j] = d->width == 2 ? (uint32_t)b[0] << 8 | b[1]
		                       : (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
		                             (uint32_t)b[2] << 8 | b[3];
}
