/* report.c - the graph behind pprof's text reports (-text, -tree): nodes
 * named by NodeInfo, flat and cumulative values counted once per sample,
 * edges marked inline, and pprof's trimming, sorting and choice of unit
 * (internal/graph/graph.go and internal/report/report.go of Go 1.19's
 * pprof). formats/text.c prints what this computes. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ measurement */

typedef struct unit_def {
	const char *name;
	const char *const *aliases;
	double factor;
} unit_def;

typedef struct unit_family {
	const unit_def *units;
	size_t count;
	const char *default_name;
	double default_factor;
} unit_family;

static const char *const a_b[] = {"b", "byte", NULL};
static const char *const a_kb[] = {"kb", "kbyte", "kilobyte", NULL};
static const char *const a_mb[] = {"mb", "mbyte", "megabyte", NULL};
static const char *const a_gb[] = {"gb", "gbyte", "gigabyte", NULL};
static const char *const a_tb[] = {"tb", "tbyte", "terabyte", NULL};
static const char *const a_pb[] = {"pb", "pbyte", "petabyte", NULL};
static const unit_def bytes_units[] = {
    {"B", a_b, 1},
    {"kB", a_kb, 1024.0},
    {"MB", a_mb, 1048576.0},
    {"GB", a_gb, 1073741824.0},
    {"TB", a_tb, 1099511627776.0},
    {"PB", a_pb, 1125899906842624.0},
};
static const char *const a_ns[] = {"ns", "nanosecond", NULL};
static const char *const a_us[] = {"\xce\xbcs", "us", "microsecond", NULL};
static const char *const a_ms[] = {"ms", "millisecond", NULL};
static const char *const a_s[] = {"s", "sec", "second", NULL};
static const char *const a_hr[] = {"hour", "hr", NULL};
static const unit_def time_units[] = {
    {"ns", a_ns, 1}, {"us", a_us, 1e3}, {"ms", a_ms, 1e6}, {"s", a_s, 1e9}, {"hrs", a_hr, 3.6e12},
};
static const char *const a_ngcu[] = {"nanogcu", NULL};
static const char *const a_ugcu[] = {"microgcu", NULL};
static const char *const a_mgcu[] = {"milligcu", NULL};
static const char *const a_gcu[] = {"gcu", NULL};
static const char *const a_kgcu[] = {"kilogcu", NULL};
static const char *const a_Mgcu[] = {"megagcu", NULL};
static const char *const a_Ggcu[] = {"gigagcu", NULL};
static const char *const a_Tgcu[] = {"teragcu", NULL};
static const char *const a_Pgcu[] = {"petagcu", NULL};
static const unit_def gcu_units[] = {
    {"n*GCU", a_ngcu, 1e-9}, {"u*GCU", a_ugcu, 1e-6}, {"m*GCU", a_mgcu, 1e-3},
    {"GCU", a_gcu, 1},       {"k*GCU", a_kgcu, 1e3},  {"M*GCU", a_Mgcu, 1e6},
    {"G*GCU", a_Ggcu, 1e9},  {"T*GCU", a_Tgcu, 1e12}, {"P*GCU", a_Pgcu, 1e15},
};
static const unit_family families[] = {
    {bytes_units, 6, "B", 1},
    {time_units, 5, "s", 1e9},
    {gcu_units, 9, "GCU", 1},
};

/* measurement's sniffUnit: lower case, a trailing "s" dropped from names
 * longer than 2 bytes, then an alias. */
static const unit_def *sniff_unit(const unit_family *f, const char *unit)
{
	char low[64];
	size_t n = strlen(unit);
	if (n >= sizeof low)
		return NULL;
	for (size_t i = 0; i <= n; i++)
		low[i] = (char)((unit[i] >= 'A' && unit[i] <= 'Z') ? unit[i] + 32 : unit[i]);
	if (n > 2 && low[n - 1] == 's')
		low[n - 1] = '\0';
	for (size_t i = 0; i < f->count; i++)
		for (const char *const *a = f->units[i].aliases; *a; a++)
			if (strcmp(low, *a) == 0)
				return &f->units[i];
	return NULL;
}

double pk__scale(int64_t value, const char *from, const char *to, const char **unit_out)
{
	if (value < 0 && -(uint64_t)value != (uint64_t)value) {
		double v = pk__scale(-value, from, to, unit_out);
		return -v;
	}
	bool automatic = strcmp(to, "minimum") == 0 || strcmp(to, "auto") == 0;
	for (size_t fi = 0; fi < sizeof families / sizeof families[0]; fi++) {
		const unit_family *f = &families[fi];
		const unit_def *fu = sniff_unit(f, from);
		if (fu == NULL)
			continue;
		double v = (double)value * fu->factor;
		if (automatic) {
			double best = 0;
			const char *name = NULL;
			for (size_t i = 0; i < f->count; i++) {
				if (f->units[i].factor >= best && v / f->units[i].factor >= 1.0) {
					best = f->units[i].factor;
					name = f->units[i].name;
				}
			}
			if (name) {
				*unit_out = name;
				return v / best;
			}
			*unit_out = f->default_name;
			return v / f->default_factor;
		}
		const unit_def *tu = sniff_unit(f, to);
		if (tu == NULL) {
			*unit_out = f->default_name;
			return v / f->default_factor;
		}
		*unit_out = tu->name;
		return v / tu->factor;
	}
	if (strcmp(to, "count") == 0 || strcmp(to, "sample") == 0 || strcmp(to, "unit") == 0 ||
	    automatic)
		*unit_out = "";
	else
		*unit_out = to;
	return (double)value;
}

void pk__scaled_label(char *buf, size_t size, int64_t value, const char *from, const char *to)
{
	const char *unit;
	double v = pk__scale(value, from, to, &unit);
	char num[64];
	snprintf(num, sizeof num, "%.2f", v);
	size_t n = strlen(num);
	if (n >= 3 && strcmp(num + n - 3, ".00") == 0)
		num[n - 3] = '\0';
	if (strcmp(num, "0") == 0 || strcmp(num, "-0") == 0)
		snprintf(buf, size, "0");
	else
		snprintf(buf, size, "%s%s", num, unit);
}

void pk__percentage(char *buf, size_t size, int64_t value, int64_t total)
{
	double ratio = 0;
	if (total != 0)
		ratio = fabs((double)value / (double)total) * 100;
	if (ratio >= 99.95 && ratio <= 100.05)
		snprintf(buf, size, "  100%%");
	else if (ratio >= 1.0)
		snprintf(buf, size, "%5.2f%%", ratio);
	else
		snprintf(buf, size, "%5.2g%%", ratio);
}

/* ------------------------------------------------------------- node infos */

static int64_t abs64(int64_t v)
{
	return v < 0 ? (int64_t)(0 - (uint64_t)v) : v;
}

struct pk__report_data {
	pk__strtab *keys;    /* NodeInfo keys: key i + 1 is info i's */
	pk__strtab *strings; /* printable names built, Sprint forms */
	pk__vec infos;       /* pk__report_info */
	uint32_t *loc_start; /* into loc_infos, per location */
	uint32_t *loc_count;
	pk__vec loc_infos; /* uint32_t info per line, the location's lines in order */
	/* By function: the info of its named lines at functions granularity,
	 * whose key is the name alone, or PK_NONE before the first (most
	 * lines are of a function met before). NULL at other granularities. */
	uint32_t *function_info;
	/* the graph being built: per info */
	uint32_t *stamp;
	bool *in_graph;
	/* edges: hash of (src, dst) -> edge index + 1 */
	uint32_t *edge_slots;
	size_t edge_slot_count;
	pk__vec edges;   /* pk__report_edge */
	pk__vec scratch; /* char */
	pk__vec sprint;  /* char */
	/* the stacks with a sample of nonzero value (or divisor), in the order
	 * of their first such sample, and their values summed: a graph is
	 * built per stack, not per sample (addition wraps, so the sums are
	 * the same in any order) */
	uint32_t *stacks;
	int64_t *stack_w, *stack_dw; /* stack_dw: NULL without mean */
	size_t stack_count;
	const pk_profile *p;
	const pk__report_options *o;
};

static int add_str(pk__strtab *t, const char *s, size_t len, const char **out)
{
	uint32_t id;
	PK_FORWARD(pk__strtab_intern(t, s, len, &id));
	*out = pk__strtab_get(t, id, NULL);
	return 0;
}

/* pprof's nodeInfo, after Profile.Aggregate at the granularity: the
 * fields the granularity drops are zero; an unnamed function keeps its
 * object file and start line. */
static int info_of(struct pk__report_data *d, const pk_location *loc, const pk_line *line,
                   uint32_t *out)
{
	const pk_profile *p = d->p;
	int g = d->o->granularity;
	bool addresses = g == PK_GRANULARITY_ADDRESSES;
	bool want_name = g != PK_GRANULARITY_FILES;
	bool want_file = g != PK_GRANULARITY_FUNCTIONS;
	bool want_line = g == PK_GRANULARITY_LINES || addresses;
	const pk_mapping *m = loc->mapping != PK_NONE ? pk_profile_mapping(p, loc->mapping) : NULL;
	const char *objfile = m ? pk_profile_string(p, m->filename) : "";
	const pk_function *fn = line ? pk_profile_function(p, line->function) : NULL;

	pk__vec *t = &d->scratch;
	t->count = 0;
	uint64_t address = addresses ? loc->address : 0;
	const char *name = fn && want_name ? pk_profile_string(p, fn->name) : "";
	size_t name_len = fn && want_name ? pk_profile_string_length(p, fn->name) : 0;
	int64_t lineno = fn && want_line ? line->line : 0;
	int64_t start_line = 0;
	PK_FORWARD(pk__vec_push(t, 1, name, name_len, NULL));
	PK_FORWARD(pk__vec_push(t, 1, "", 1, NULL));
	size_t file_at = t->count;
	if (fn && want_file && pk_profile_string_length(p, fn->filename) > 0)
		PK_FORWARD(pk__clean_path(t, pk_profile_string(p, fn->filename)));
	size_t file_len = t->count - file_at;
	PK_FORWARD(pk__vec_push(t, 1, "", 1, NULL));
	if (fn == NULL || name_len == 0) {
		PK_FORWARD(pk__vec_push(t, 1, objfile, strlen(objfile), NULL));
		start_line = fn ? fn->start_line : 0;
	} else {
		objfile = "";
	}
	/* the numbers as bytes: the key is only compared, never shown */
	int64_t num[3] = {(int64_t)address, lineno, start_line};
	PK_FORWARD(pk__vec_push(t, 1, num, sizeof num, NULL));
	uint32_t id;
	PK_FORWARD(pk__strtab_intern(d->keys, t->items, t->count, &id));
	if (d->function_info && name_len > 0)
		d->function_info[line->function] = id - 1;
	if (id - 1 < d->infos.count) {
		*out = id - 1;
		return 0;
	}
	pk__report_info info = {0};
	info.address = address;
	info.lineno = lineno;
	info.start_line = start_line;

	/* fmt.Sprint(NodeInfo), pprof's last tie-break, from the key's name
	 * and file: only it and the printable name are kept. */
	pk__vec *v = &d->sprint;
	const char *chars = t->items;
	v->count = 0;
	char head[160];
	PK_FORWARD(pk__vec_push(v, 1, "{", 1, NULL));
	PK_FORWARD(pk__vec_push(v, 1, chars, name_len, NULL));
	int n = snprintf(head, sizeof head, "  %llu ", (unsigned long long)address);
	PK_FORWARD(pk__vec_push(v, 1, head, (size_t)n, NULL));
	PK_FORWARD(pk__vec_push(v, 1, chars + file_at, file_len, NULL));
	n = snprintf(head, sizeof head, " %lld %lld ", (long long)start_line, (long long)lineno);
	PK_FORWARD(pk__vec_push(v, 1, head, (size_t)n, NULL));
	PK_FORWARD(pk__vec_push(v, 1, objfile, strlen(objfile), NULL));
	PK_FORWARD(pk__vec_push(v, 1, "}", 1, NULL));
	PK_FORWARD(add_str(d->strings, v->items, v->count, &info.sprint));
	info.sprint_len = v->count;

	/* PrintableName: most are the function's name, which the profile
	 * holds already. */
	t->count = 0;
	PK_FORWARD(pk__frame_name(p, loc, line, g, t, NULL, NULL));
	info.printable_len = t->count;
	if (name_len > 0 && t->count == name_len && memcmp(t->items, name, name_len) == 0)
		info.printable = name;
	else
		PK_FORWARD(add_str(d->strings, t->items, t->count, &info.printable));

	PK_FORWARD(pk__vec_push(&d->infos, sizeof info, &info, 1, NULL));
	*out = id - 1;
	return 0;
}

/* The infos of every location's lines (the last line alone without
 * inlines; one empty line for a location without lines). */
static int index_locations(struct pk__report_data *d)
{
	const pk_profile *p = d->p;
	size_t n = pk_profile_location_count(p);
	d->loc_start = pk__calloc(n ? n : 1, sizeof *d->loc_start);
	d->loc_count = pk__calloc(n ? n : 1, sizeof *d->loc_count);
	if (!d->loc_start || !d->loc_count)
		return PK_ENOMEM;
	if (d->o->granularity == PK_GRANULARITY_FUNCTIONS) {
		size_t functions = pk_profile_function_count(p);
		d->function_info = pk__malloc(pk__mul(functions ? functions : 1, sizeof(uint32_t)));
		if (d->function_info == NULL)
			return PK_ENOMEM;
		memset(d->function_info, 0xff, functions * sizeof(uint32_t));
	}
	for (size_t i = 0; i < n; i++) {
		const pk_location *loc = pk_profile_location(p, i);
		const pk_line *lines;
		size_t count = pk_profile_location_lines(p, i, &lines);
		d->loc_start[i] = (uint32_t)d->loc_infos.count;
		if (count == 0) {
			uint32_t id;
			PK_FORWARD(info_of(d, loc, NULL, &id));
			PK_FORWARD(pk__vec_push(&d->loc_infos, sizeof id, &id, 1, NULL));
			d->loc_count[i] = 1;
			continue;
		}
		size_t first = d->o->no_inlines ? count - 1 : 0;
		for (size_t l = first; l < count; l++) {
			uint32_t id =
			    d->function_info ? d->function_info[lines[l].function] : PK_NONE;
			if (id == PK_NONE)
				PK_FORWARD(info_of(d, loc, &lines[l], &id));
			PK_FORWARD(pk__vec_push(&d->loc_infos, sizeof id, &id, 1, NULL));
		}
		d->loc_count[i] = (uint32_t)(count - first);
	}
	return 0;
}

/* d->stacks and their values: see struct pk__report_data. */
static int index_stacks(struct pk__report_data *d, size_t type, bool mean)
{
	const pk_profile *p = d->p;
	size_t n = pk_profile_stack_count(p);
	uint32_t *at = pk__malloc(pk__mul(n ? n : 1, sizeof *at));
	d->stacks = pk__malloc(pk__mul(n ? n : 1, sizeof *d->stacks));
	d->stack_w = pk__malloc(pk__mul(n ? n : 1, sizeof *d->stack_w));
	if (mean)
		d->stack_dw = pk__malloc(pk__mul(n ? n : 1, sizeof *d->stack_dw));
	if (!at || !d->stacks || !d->stack_w || (mean && !d->stack_dw)) {
		pk__free(at);
		return PK_ENOMEM;
	}
	memset(at, 0xff, n * sizeof *at);
	size_t samples = pk_profile_sample_count(p), count = 0;
	for (size_t si = 0; si < samples; si++) {
		pk_sample s;
		pk__profile_sample_shallow(p, si, &s);
		int64_t w = s.values[type];
		int64_t dw = mean ? s.values[0] : 0;
		if (w == 0 && dw == 0)
			continue;
		uint32_t i = at[s.stack];
		if (i == PK_NONE) {
			i = at[s.stack] = (uint32_t)count++;
			d->stacks[i] = s.stack;
			d->stack_w[i] = 0;
			if (mean)
				d->stack_dw[i] = 0;
		}
		d->stack_w[i] = pk__add(d->stack_w[i], w);
		if (mean)
			d->stack_dw[i] = pk__add(d->stack_dw[i], dw);
	}
	d->stack_count = count;
	pk__free(at);
	return 0;
}

/* ------------------------------------------------------------------ graph */

static uint64_t edge_hash(uint32_t a, uint32_t b)
{
	uint64_t h = ((uint64_t)a << 32 | b) * 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 29);
}

static int edge_find(pk__report *r, uint32_t src, uint32_t dst, pk__report_edge **out)
{
	struct pk__report_data *d = r->data;
	if ((d->edges.count + 1) * 2 > d->edge_slot_count) {
		size_t count = d->edge_slot_count ? d->edge_slot_count * 2 : 256;
		uint32_t *slots = pk__calloc(count, sizeof *slots);
		if (!slots)
			return PK_ENOMEM;
		for (size_t i = 0; i < d->edges.count; i++) {
			pk__report_edge *e = &PK_VEC_AT(d->edges, pk__report_edge, i);
			size_t s = edge_hash(e->src, e->dst) & (count - 1);
			while (slots[s])
				s = (s + 1) & (count - 1);
			slots[s] = (uint32_t)i + 1;
		}
		pk__free(d->edge_slots);
		d->edge_slots = slots;
		d->edge_slot_count = count;
	}
	size_t mask = d->edge_slot_count - 1;
	size_t s = edge_hash(src, dst) & mask;
	while (d->edge_slots[s]) {
		pk__report_edge *e = &PK_VEC_AT(d->edges, pk__report_edge, d->edge_slots[s] - 1);
		if (e->src == src && e->dst == dst) {
			*out = e;
			return 0;
		}
		s = (s + 1) & mask;
	}
	pk__report_edge e = {0};
	e.src = src;
	e.dst = dst;
	e.inline_call = true;
	size_t at;
	PK_FORWARD(pk__vec_push(&d->edges, sizeof e, &e, 1, &at));
	d->edge_slots[s] = (uint32_t)at + 1;
	*out = &PK_VEC_AT(d->edges, pk__report_edge, at);
	return 0;
}

/* graph.newGraph: kept (NULL: all) is a mask over infos. Without edges,
 * only the nodes' values (what trimming looks at first). */
static int build_graph(pk__report *r, const bool *kept, bool edges)
{
	struct pk__report_data *d = r->data;
	size_t n = d->infos.count;
	memset(r->flat, 0, n * sizeof *r->flat);
	memset(r->cum, 0, n * sizeof *r->cum);
	if (r->flat_div) {
		memset(r->flat_div, 0, n * sizeof *r->flat_div);
		memset(r->cum_div, 0, n * sizeof *r->cum_div);
	}
	memset(d->stamp, 0, n * sizeof *d->stamp);
	d->edges.count = 0;
	if (d->edge_slots)
		memset(d->edge_slots, 0, d->edge_slot_count * sizeof *d->edge_slots);
	const pk_profile *p = d->p;
	for (size_t si = 0; si < d->stack_count; si++) {
		const uint32_t *locations;
		size_t depth = pk_profile_stack(p, d->stacks[si], &locations);
		int64_t w = d->stack_w[si], dw = d->stack_dw ? d->stack_dw[si] : 0;
		uint32_t stamp = (uint32_t)si + 1;
		uint32_t parent = PK_NONE;
		bool residual = false;
		for (size_t i = depth; i-- > 0;) {
			uint32_t loc = locations[i];
			const uint32_t *infos =
			    &PK_VEC_AT(d->loc_infos, uint32_t, d->loc_start[loc]);
			uint32_t count = d->loc_count[loc];
			for (uint32_t ni = count; ni-- > 0;) {
				uint32_t node = infos[ni];
				if (kept && !kept[node]) {
					residual = true;
					continue;
				}
				if (d->stamp[node] != stamp) {
					d->stamp[node] = stamp;
					r->cum[node] = pk__add(r->cum[node], w);
					if (r->cum_div)
						r->cum_div[node] = pk__add(r->cum_div[node], dw);
				}
				if (edges && parent != PK_NONE && node != parent) {
					pk__report_edge *e;
					PK_FORWARD(edge_find(r, parent, node, &e));
					if (e->stamp != stamp) {
						e->stamp = stamp;
						e->weight = pk__add(e->weight, w);
						if (ni == count - 1)
							e->inline_call = false;
					}
				}
				parent = node;
				residual = false;
			}
		}
		if (parent != PK_NONE && !residual) {
			r->flat[parent] = pk__add(r->flat[parent], w);
			if (r->flat_div)
				r->flat_div[parent] = pk__add(r->flat_div[parent], dw);
		}
	}
	/* the graph's nodes: those with a value */
	r->node_count = 0;
	for (size_t i = 0; i < n; i++)
		if ((!kept || kept[i]) && (r->cum[i] != 0 || r->flat[i] != 0))
			r->nodes[r->node_count++] = (uint32_t)i;
	r->edges = d->edges.items;
	r->edge_count = d->edges.count;
	for (size_t i = 0; i < r->edge_count; i++)
		r->edges[i].removed = false;
	return 0;
}

int64_t pk__report_flat(const pk__report *r, uint32_t node)
{
	return r->flat_div && r->flat_div[node] ? r->flat[node] / r->flat_div[node] : r->flat[node];
}

int64_t pk__report_cum(const pk__report *r, uint32_t node)
{
	return r->cum_div && r->cum_div[node] ? r->cum[node] / r->cum_div[node] : r->cum[node];
}

static int cmp_str(const char *a, size_t al, const char *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);
	if (c)
		return c;
	return al < bl ? -1 : al > bl;
}

/* A merge sort that passes ctx to cmp: qsort has no context argument and
 * qsort_r differs between C libraries, and the library keeps no global
 * state. Runs this long are sorted by insertion before they are merged. */
#define SORT_RUN 8

int pk__sort(uint32_t *items, size_t n, int (*cmp)(const void *, const void *, void *), void *ctx)
{
	if (n < 2)
		return 0;
	uint32_t *tmp = pk__malloc(pk__mul(n, sizeof *tmp));
	if (tmp == NULL)
		return PK_ENOMEM;
	for (size_t lo = 0; lo < n; lo += SORT_RUN) {
		size_t hi = n - lo < SORT_RUN ? n : lo + SORT_RUN;
		for (size_t i = lo + 1; i < hi; i++) {
			uint32_t x = items[i];
			size_t j = i;
			for (; j > lo && cmp(&x, &items[j - 1], ctx) < 0; j--)
				items[j] = items[j - 1];
			items[j] = x;
		}
	}
	/* Runs merge back and forth between items and tmp. */
	uint32_t *from = items, *to = tmp;
	for (size_t width = SORT_RUN; width < n; width *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * width) {
			size_t mid = n - lo < width ? n : lo + width;
			size_t hi = n - mid < width ? n : mid + width;
			size_t i = lo, j = mid, k = lo;
			while (i < mid && j < hi)
				to[k++] = cmp(&from[j], &from[i], ctx) < 0 ? from[j++] : from[i++];
			while (i < mid)
				to[k++] = from[i++];
			while (j < hi)
				to[k++] = from[j++];
		}
		uint32_t *t = from;
		from = to;
		to = t;
	}
	if (from != items)
		memcpy(items, from, n * sizeof *items);
	pk__free(tmp);
	return 0;
}

static int cmp_nodes(const void *pa, const void *pb, void *ctx)
{
	const pk__report *r = ctx;
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	const pk__report_info *ia = &r->infos[a], *ib = &r->infos[b];
	int64_t x1 = abs64(r->cum_sort ? r->cum[a] : r->flat[a]);
	int64_t y1 = abs64(r->cum_sort ? r->cum[b] : r->flat[b]);
	if (x1 != y1)
		return x1 > y1 ? -1 : 1;
	int c = cmp_str(ia->printable, ia->printable_len, ib->printable, ib->printable_len);
	if (c)
		return c;
	int64_t x2 = abs64(r->cum_sort ? r->flat[a] : r->cum[a]);
	int64_t y2 = abs64(r->cum_sort ? r->flat[b] : r->cum[b]);
	if (x2 != y2)
		return x2 > y2 ? -1 : 1;
	return cmp_str(ia->sprint, ia->sprint_len, ib->sprint, ib->sprint_len);
}

static int sort_nodes(pk__report *r)
{
	return pk__sort(r->nodes, r->node_count, cmp_nodes, r);
}

static int trim_edges(pk__report *r, int64_t cutoff)
{
	int dropped = 0;
	bool *in_graph = r->data->in_graph;
	memset(in_graph, 0, r->data->infos.count * sizeof *in_graph);
	for (size_t i = 0; i < r->node_count; i++)
		in_graph[r->nodes[i]] = true;
	for (size_t i = 0; i < r->edge_count; i++) {
		pk__report_edge *e = &r->edges[i];
		if (!e->removed && in_graph[e->dst] && abs64(e->weight) < cutoff) {
			e->removed = true;
			dropped++;
		}
	}
	return dropped;
}

void pk__report_free(pk__report *r)
{
	if (r == NULL)
		return;
	struct pk__report_data *d = r->data;
	if (d) {
		pk__strtab_free(d->keys);
		pk__strtab_free(d->strings);
		pk__vec_free(&d->infos);
		pk__vec_free(&d->loc_infos);
		pk__vec_free(&d->edges);
		pk__vec_free(&d->scratch);
		pk__vec_free(&d->sprint);
		pk__free(d->loc_start);
		pk__free(d->loc_count);
		pk__free(d->function_info);
		pk__free(d->stamp);
		pk__free(d->in_graph);
		pk__free(d->edge_slots);
		pk__free(d->stacks);
		pk__free(d->stack_w);
		pk__free(d->stack_dw);
		pk__free(d);
	}
	pk__free(r->flat);
	pk__free(r->cum);
	pk__free(r->flat_div);
	pk__free(r->cum_div);
	pk__free(r->nodes);
	pk__free(r);
}

static bool is_diff_base(const pk_profile *p, const pk_sample *s)
{
	for (size_t i = 0; i < s->label_count; i++) {
		const pk_label *l = &pk__profile_labels(p)[s->labels[i]];
		if (strcmp(pk_profile_string(p, l->key), "pprof::base") == 0 &&
		    strcmp(pk_profile_string(p, l->str), "true") == 0)
			return true;
	}
	return false;
}

int64_t pk__report_total(const pk_profile *p, size_t type, bool mean)
{
	int64_t div = 0, total = 0, diff_div = 0, diff_total = 0;
	for (size_t i = 0; i < pk_profile_sample_count(p); i++) {
		pk_sample s;
		pk__profile_sample_shallow(p, i, &s);
		int64_t v = abs64(s.values[type]);
		int64_t dv = mean ? s.values[0] : 0;
		total = pk__add(total, v);
		div = pk__add(div, dv);
		if (is_diff_base(p, &s)) {
			diff_total = pk__add(diff_total, v);
			diff_div = pk__add(diff_div, dv);
		}
	}
	if (diff_total > 0) {
		total = diff_total;
		div = diff_div;
	}
	return div != 0 ? total / div : total;
}

int pk__report_new(const pk_profile *p, const pk__report_options *o, pk__report **out,
                   pk_error *err)
{
	pk__report *r = pk__calloc(1, sizeof *r);
	PK_CHECK_ALLOC(r, err);
	struct pk__report_data *d = pk__calloc(1, sizeof *d);
	if (d == NULL) {
		pk__free(r);
		return pk__error_set(err, PK_ENOMEM, "out of memory");
	}
	r->data = d;
	d->p = p;
	d->o = o;
	r->sample_type = o->sample_type;
	r->mean = o->mean;
	r->cum_sort = o->cum_sort;
	int rc = pk__strtab_new(&d->keys);
	if (rc == 0)
		rc = pk__strtab_new(&d->strings);
	if (rc == 0)
		rc = index_locations(d);
	/* The infos are found: what found them goes before the graph is
	 * built (the infos point at the strings, which stay). */
	pk__strtab_free(d->keys);
	d->keys = NULL;
	pk__strtab_forget(d->strings);
	pk__free(d->function_info);
	d->function_info = NULL;
	pk__vec_free(&d->scratch);
	pk__vec_free(&d->sprint);
	if (rc == 0 && !o->no_graph)
		rc = index_stacks(d, o->sample_type, o->mean);
	size_t n = d->infos.count;
	if (rc == 0) {
		r->infos = d->infos.items;
		r->info_count = n;
		size_t m = n ? n : 1;
		r->flat = pk__calloc(m, sizeof *r->flat);
		r->cum = pk__calloc(m, sizeof *r->cum);
		/* divisors only for -mean: without it every one is 0 */
		if (o->mean) {
			r->flat_div = pk__calloc(m, sizeof *r->flat_div);
			r->cum_div = pk__calloc(m, sizeof *r->cum_div);
		}
		r->nodes = pk__calloc(m, sizeof *r->nodes);
		d->stamp = pk__calloc(m, sizeof *d->stamp);
		d->in_graph = pk__calloc(m, sizeof *d->in_graph);
		if (!r->flat || !r->cum || (o->mean && (!r->flat_div || !r->cum_div)) ||
		    !r->nodes || !d->stamp || !d->in_graph)
			rc = PK_ENOMEM;
	}
	bool *kept = NULL;
	if (rc == 0 && (kept = pk__calloc(n ? n : 1, sizeof *kept)) == NULL)
		rc = PK_ENOMEM;
	/* Trimming by node fraction usually drops most nodes and builds the
	 * graph again: the edges of the first graph are only needed when it
	 * drops none. */
	bool edges_later = o->trim;
	if (rc == 0 && !o->no_graph)
		rc = build_graph(r, NULL, !edges_later);
	if (rc == 0 && o->no_graph) {
		/* no nodes */
	} else if (rc == 0 && o->trim) {
		int64_t total = 0;
		for (size_t i = 0; i < r->node_count; i++)
			total = pk__add(total, r->flat[r->nodes[i]]);
		int64_t node_cutoff = abs64((int64_t)((double)total * o->node_fraction));
		int64_t edge_cutoff = abs64((int64_t)((double)total * o->edge_fraction));
		if (node_cutoff > 0) {
			size_t k = 0;
			for (size_t i = 0; i < r->node_count; i++) {
				uint32_t node = r->nodes[i];
				kept[node] = abs64(r->cum[node]) >= node_cutoff;
				k += kept[node];
			}
			if (k != r->node_count) {
				r->dropped_nodes = r->node_count - k;
				rc = build_graph(r, kept, true);
				edges_later = false;
			}
		}
		if (rc == 0 && edges_later)
			rc = build_graph(r, NULL, true);
		r->orig_count = r->node_count;
		if (rc == 0)
			rc = sort_nodes(r);
		if (rc == 0 && o->node_count > 0) {
			trim_edges(r, edge_cutoff);
			if ((size_t)o->node_count < r->node_count) {
				memset(kept, 0, n * sizeof *kept);
				for (size_t i = 0; i < (size_t)o->node_count; i++)
					kept[r->nodes[i]] = true;
				rc = build_graph(r, kept, true);
				if (rc == 0)
					rc = sort_nodes(r);
			}
		}
		if (rc == 0)
			r->dropped_edges = trim_edges(r, edge_cutoff);
	} else if (rc == 0) {
		r->orig_count = r->node_count;
		rc = sort_nodes(r);
	}
	pk__free(kept);
	if (rc < 0) {
		pk__report_free(r);
		return pk__error_set(err, rc, "out of memory");
	}
	*out = r;
	return 0;
}

size_t pk__report_location_infos(const pk__report *r, uint32_t location, const uint32_t **infos)
{
	struct pk__report_data *d = r->data;
	*infos = &PK_VEC_AT(d->loc_infos, uint32_t, d->loc_start[location]);
	return d->loc_count[location];
}
