/* text.c - text reports as Go 1.19's `go tool pprof` prints them: -text
 * (-top), -traces and -tree (report.printText, printTraces, printTree).
 * core/report.c builds the graph; this file chooses the unit and prints. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct text_report {
	const pk_profile *p; /* filtered */
	const pk_report_options *o;
	pk__sink *out;
	size_t type;
	const char *type_name, *unit; /* the sample type's */
	const char *output_unit;
	int64_t total;
	pk__vec num_units; /* pk__num_unit, for -traces */
} text_report;

static void format_value(const text_report *t, char *buf, size_t size, int64_t v)
{
	pk__scaled_label(buf, size, v, t->unit, t->output_unit);
}

/* Go's time.Format(t, "Jan 2, 2006 at 3:04pm (MST)") in the local zone. */
static int print_time(pk__sink *s, int64_t nanos)
{
	time_t secs = (time_t)(nanos / 1000000000);
	if (nanos % 1000000000 < 0)
		secs--;
	struct tm tm;
	if (localtime_r(&secs, &tm) == NULL)
		return pk__sink_printf(s, "Time: %lld\n", (long long)nanos);
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	int hour = tm.tm_hour % 12;
	char zone[64];
	if (tm.tm_zone && *tm.tm_zone) {
		snprintf(zone, sizeof zone, "%s", tm.tm_zone);
	} else {
		long off = tm.tm_gmtoff / 60;
		snprintf(zone, sizeof zone, "%c%02ld%02ld", off < 0 ? '-' : '+', labs(off) / 60,
		         labs(off) % 60);
	}
	return pk__sink_printf(s, "Time: %s %d, %d at %d:%02d%s (%s)\n", months[tm.tm_mon],
	                       tm.tm_mday, tm.tm_year + 1900, hour ? hour : 12, tm.tm_min,
	                       tm.tm_hour < 12 ? "am" : "pm", zone);
}

/* report.ProfileLabels */
static int profile_labels(const text_report *t)
{
	const pk_profile *p = t->p;
	pk__sink *s = t->out;
	if (pk_profile_mapping_count(p) > 0) {
		const pk_mapping *m = pk_profile_mapping(p, 0);
		const char *file = pk_profile_string(p, m->filename);
		if (*file) {
			/* filepath.Base */
			size_t n = strlen(file);
			while (n > 1 && file[n - 1] == '/')
				n--;
			size_t b = n;
			while (b > 0 && file[b - 1] != '/')
				b--;
			if (n == 1 && file[0] == '/')
				PK_FORWARD(pk__sink_puts(s, "File: /\n"));
			else
				PK_FORWARD(
				    pk__sink_printf(s, "File: %.*s\n", (int)(n - b), file + b));
		}
		const char *build = pk_profile_string(p, m->build_id);
		if (*build)
			PK_FORWARD(pk__sink_printf(s, "Build ID: %s\n", build));
	}
	for (size_t i = 0; i < pk_profile_comment_count(p); i++) {
		const char *c = pk_profile_string(p, pk_profile_comment(p, i));
		if (c[0] != '#')
			PK_FORWARD(pk__sink_printf(s, "%s\n", c));
	}
	PK_FORWARD(pk__sink_printf(s, "Type: %s%s\n", t->o->mean ? "mean_" : "", t->type_name));
	if (pk_profile_time_nanos(p) != 0)
		PK_FORWARD(print_time(s, pk_profile_time_nanos(p)));
	int64_t duration = pk_profile_duration_nanos(p);
	if (duration != 0) {
		char d[64], total[64], ratio[48] = "";
		pk__scaled_label(d, sizeof d, duration, "nanoseconds", "auto");
		const char *unit;
		double nanos = pk__scale(t->total, t->unit, "nanoseconds", &unit);
		if (strcmp(unit, "ns") == 0 && nanos != 0) {
			char pct[32];
			pk__percentage(pct, sizeof pct, (int64_t)nanos, duration);
			snprintf(ratio, sizeof ratio, "(%s)", pct);
		}
		format_value(t, total, sizeof total, t->total);
		PK_FORWARD(
		    pk__sink_printf(s, "Duration: %s, Total samples = %s %s\n", d, total, ratio));
	}
	return 0;
}

static int active_filters(const text_report *t)
{
	const pk_filter_options *f = t->o->filter;
	if (f == NULL)
		return 0;
	const char *names[] = {"focus", "ignore", "hide", "show", "tagfocus", "tagignore"};
	const char *values[] = {f->focus, f->ignore, f->hide, f->show, f->tag_focus, f->tag_ignore};
	bool any = false;
	for (size_t i = 0; i < 6; i++) {
		if (values[i] == NULL || *values[i] == '\0')
			continue;
		if (!any)
			PK_FORWARD(pk__sink_puts(t->out, "Active filters:\n"));
		any = true;
		size_t len = strlen(names[i]) + 1 + strlen(values[i]);
		if (len > 80) {
			char buf[81];
			snprintf(buf, sizeof buf, "%s=%s", names[i], values[i]);
			PK_FORWARD(pk__sink_printf(t->out, "   %s\xe2\x80\xa6\n", buf));
		} else {
			PK_FORWARD(pk__sink_printf(t->out, "   %s=%s\n", names[i], values[i]));
		}
	}
	return 0;
}

/* report.selectOutputUnit */
static void select_output_unit(text_report *t, const pk__report *r)
{
	if (strcmp(t->output_unit, "minimum") != 0 || r->node_count == 0)
		return;
	int64_t min = 0;
	for (size_t i = 0; i < r->node_count; i++) {
		int64_t v = pk__report_flat(r, r->nodes[i]);
		if (v == 0)
			v = pk__report_cum(r, r->nodes[i]);
		if (v < 0)
			v = -v;
		if (v > 0 && (min == 0 || v < min))
			min = v;
	}
	int64_t max = t->total;
	if (min == 0)
		min = max;
	const char *min_unit, *max_unit, *unit;
	pk__scale(min, t->unit, "minimum", &min_unit);
	pk__scale(max, t->unit, "minimum", &max_unit);
	unit = min_unit;
	if (strcmp(min_unit, max_unit) != 0 && pk__add(min * 100, 0) < max)
		pk__scale(100 * min, t->unit, "minimum", &unit);
	t->output_unit = *unit ? unit : t->unit;
}

/* report.reportLabels */
static int report_labels(const text_report *t, const pk__report *r)
{
	PK_FORWARD(profile_labels(t));
	PK_FORWARD(active_filters(t));
	int64_t flat_sum = 0;
	for (size_t i = 0; i < r->node_count; i++)
		flat_sum = pk__add(flat_sum, pk__report_flat(r, r->nodes[i]));
	char a[64], b[64], pct[32];
	format_value(t, a, sizeof a, flat_sum);
	format_value(t, b, sizeof b, t->total);
	pk__percentage(pct, sizeof pct, flat_sum, t->total);
	const char *trimmed = pct + strspn(pct, " ");
	PK_FORWARD(pk__sink_printf(t->out, "Showing nodes accounting for %s, %s of %s total\n", a,
	                           trimmed, b));
	if (t->total != 0) {
		if (r->dropped_nodes > 0) {
			int64_t cut = (int64_t)((double)t->total * t->o->node_fraction);
			format_value(t, a, sizeof a, cut < 0 ? -cut : cut);
			PK_FORWARD(pk__sink_printf(t->out, "Dropped %zu node%s (cum <= %s)\n",
			                           r->dropped_nodes,
			                           r->dropped_nodes > 1 ? "s" : "", a));
		}
		if (r->node_count > 0 && r->node_count < r->orig_count)
			PK_FORWARD(pk__sink_printf(t->out, "Showing top %zu nodes out of %zu\n",
			                           r->node_count, r->orig_count));
	}
	return 0;
}

static void graph_options(const text_report *t, pk__report_options *g)
{
	const pk_report_options *o = t->o;
	memset(g, 0, sizeof *g);
	g->sample_type = t->type;
	g->mean = o->mean != 0;
	g->granularity = o->granularity;
	g->no_inlines = o->no_inlines != 0;
	g->cum_sort = o->sort_cum != 0;
	g->trim = true;
	g->node_count = (int)(o->node_count < 0            ? (o->kind == PK_REPORT_TOP ? 0 : 80)
	                      : o->node_count > 1000000000 ? 1000000000
	                                                   : o->node_count);
	g->node_fraction = o->node_fraction;
	g->edge_fraction = o->edge_fraction;
}

static int print_top(text_report *t, pk_error *err)
{
	pk__report_options go;
	graph_options(t, &go);
	pk__report *r;
	PK_FORWARD(pk__report_new(t->p, &go, &r, err));
	select_output_unit(t, r);
	int rc = report_labels(t, r);
	if (rc == 0)
		rc = pk__sink_printf(t->out, "%10s %5s%% %5s%% %10s %5s%%\n", "flat", "flat", "sum",
		                     "cum", "cum");
	/* which nodes have inline and non-inline callers */
	unsigned char *in_kind = NULL;
	if (rc == 0 && (in_kind = pk__calloc(r->info_count ? r->info_count : 1, 1)) == NULL)
		rc = pk__error_set(err, PK_ENOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < r->edge_count; i++)
		if (!r->edges[i].removed)
			in_kind[r->edges[i].dst] |= r->edges[i].inline_call ? 1 : 2;
	int64_t flat_sum = 0;
	for (size_t i = 0; rc == 0 && i < r->node_count; i++) {
		uint32_t n = r->nodes[i];
		int64_t flat = pk__report_flat(r, n), cum = pk__report_cum(r, n);
		flat_sum = pk__add(flat_sum, flat);
		char f[64], c[64], fp[32], sp[32], cp[32];
		format_value(t, f, sizeof f, flat);
		format_value(t, c, sizeof c, cum);
		pk__percentage(fp, sizeof fp, flat, t->total);
		pk__percentage(sp, sizeof sp, flat_sum, t->total);
		pk__percentage(cp, sizeof cp, cum, t->total);
		const char *inl = in_kind[n] == 1   ? " (inline)"
		                  : in_kind[n] == 3 ? " (partial-inline)"
		                                    : "";
		rc = pk__sink_printf(t->out, "%10s %s %s %10s %s  ", f, fp, sp, c, cp);
		if (rc == 0)
			rc = pk__sink_write(t->out, r->infos[n].printable,
			                    r->infos[n].printable_len);
		if (rc == 0)
			rc = pk__sink_printf(t->out, "%s\n", inl);
	}
	pk__free(in_kind);
	pk__report_free(r);
	return rc;
}

static int cmp_edges_by(const pk__report *r, const pk__report_edge *a, const pk__report_edge *b)
{
	if (a->weight != b->weight) {
		int64_t x = a->weight < 0 ? -a->weight : a->weight;
		int64_t y = b->weight < 0 ? -b->weight : b->weight;
		if (x != y)
			return x > y ? -1 : 1;
		return 0;
	}
	const pk__report_info *as = &r->infos[a->src], *bs = &r->infos[b->src];
	int c = strcmp(as->printable, bs->printable);
	if (c)
		return c;
	return strcmp(r->infos[a->dst].printable, r->infos[b->dst].printable);
}

static int cmp_edges(const void *pa, const void *pb, void *ctx)
{
	const pk__report *r = ctx;
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	/* ties keep the order of the edges: pk__sort is stable */
	return cmp_edges_by(r, &r->edges[a], &r->edges[b]);
}

static int print_edges(text_report *t, const pk__report *r, uint32_t *list, size_t n, int64_t cum,
                       bool incoming)
{
	PK_FORWARD(pk__sort(list, n, cmp_edges, (void *)r));
	for (size_t i = 0; i < n; i++) {
		const pk__report_edge *e = &r->edges[list[i]];
		char w[64], pct[32];
		format_value(t, w, sizeof w, e->weight);
		pk__percentage(pct, sizeof pct, e->weight, cum);
		PK_FORWARD(pk__sink_printf(t->out, "%50s %s |   ", w, pct));
		const pk__report_info *other = &r->infos[incoming ? e->src : e->dst];
		PK_FORWARD(pk__sink_write(t->out, other->printable, other->printable_len));
		PK_FORWARD(pk__sink_printf(t->out, "%s\n", e->inline_call ? " (inline)" : ""));
	}
	return 0;
}

static int print_tree(text_report *t, pk_error *err)
{
	static const char separator[] =
	    "----------------------------------------------------------+-------------\n";
	pk__report_options go;
	graph_options(t, &go);
	pk__report *r;
	PK_FORWARD(pk__report_new(t->p, &go, &r, err));
	select_output_unit(t, r);
	int rc = report_labels(t, r);
	if (rc == 0)
		rc = pk__sink_puts(t->out, separator);
	if (rc == 0)
		rc = pk__sink_puts(t->out,
		                   "      flat  flat%   sum%        cum   cum%   calls calls% + "
		                   "context \t \t \n");
	uint32_t *list = NULL;
	if (rc == 0 && (list = pk__calloc(r->edge_count ? r->edge_count : 1, sizeof *list)) == NULL)
		rc = pk__error_set(err, PK_ENOMEM, "out of memory");
	int64_t flat_sum = 0;
	for (size_t i = 0; rc == 0 && i < r->node_count; i++) {
		uint32_t n = r->nodes[i];
		int64_t flat = pk__report_flat(r, n), cum = pk__report_cum(r, n);
		rc = pk__sink_puts(t->out, separator);
		size_t k = 0;
		for (size_t e = 0; e < r->edge_count; e++)
			if (!r->edges[e].removed && r->edges[e].dst == n)
				list[k++] = (uint32_t)e;
		if (rc == 0)
			rc = print_edges(t, r, list, k, cum, true);
		flat_sum = pk__add(flat_sum, flat);
		char f[64], c[64], fp[32], sp[32], cp[32];
		format_value(t, f, sizeof f, flat);
		format_value(t, c, sizeof c, cum);
		pk__percentage(fp, sizeof fp, flat, t->total);
		pk__percentage(sp, sizeof sp, flat_sum, t->total);
		pk__percentage(cp, sizeof cp, cum, t->total);
		if (rc == 0)
			rc = pk__sink_printf(t->out, "%10s %s %s %10s %s                | ", f, fp,
			                     sp, c, cp);
		if (rc == 0)
			rc = pk__sink_write(t->out, r->infos[n].printable,
			                    r->infos[n].printable_len);
		if (rc == 0)
			rc = pk__sink_puts(t->out, "\n");
		k = 0;
		for (size_t e = 0; e < r->edge_count; e++)
			if (!r->edges[e].removed && r->edges[e].src == n)
				list[k++] = (uint32_t)e;
		if (rc == 0)
			rc = print_edges(t, r, list, k, cum, false);
	}
	if (rc == 0 && r->node_count > 0)
		rc = pk__sink_puts(t->out, separator);
	pk__free(list);
	pk__report_free(r);
	return rc;
}

typedef struct label_line {
	const char *text;
	size_t len;
} label_line;

static int cmp_label_lines(const void *a, const void *b)
{
	const label_line *x = a, *y = b;
	int c = memcmp(x->text, y->text, x->len < y->len ? x->len : y->len);
	return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* "%10s:  v1 v2\n" per key of the numeric (num) or string labels, sorted. */
static int print_labels(text_report *t, const pk_sample *s, bool num, pk__vec *text, pk__vec *lines)
{
	const pk_profile *p = t->p;
	const pk_label *labels = pk__profile_labels(p);
	text->count = 0;
	lines->count = 0;
	for (size_t i = 0; i < s->label_count; i++) {
		const pk_label *l = &labels[s->labels[i]];
		if ((l->str == 0) != num)
			continue;
		bool seen = false;
		for (size_t j = 0; j < i; j++)
			if (labels[s->labels[j]].key == l->key &&
			    (labels[s->labels[j]].str == 0) == num)
				seen = true;
		if (seen)
			continue;
		/* every value of this key */
		size_t start = text->count;
		char head[64];
		const char *key = pk_profile_string(p, l->key);
		int n = snprintf(head, sizeof head, "%10s:  ", key);
		if ((size_t)n >= sizeof head) {
			PK_FORWARD(pk__vec_push(text, 1, key, strlen(key), NULL));
			PK_FORWARD(pk__vec_push(text, 1, ":  ", 3, NULL));
		} else {
			PK_FORWARD(pk__vec_push(text, 1, head, (size_t)n, NULL));
		}
		bool first = true;
		const char *unit = num ? pk__num_label_unit(&t->num_units, l->key) : NULL;
		for (size_t j = i; j < s->label_count; j++) {
			const pk_label *m = &labels[s->labels[j]];
			if (m->key != l->key || (m->str == 0) != num)
				continue;
			if (!first)
				PK_FORWARD(pk__vec_push(text, 1, " ", 1, NULL));
			first = false;
			if (num) {
				char v[64];
				pk__scaled_label(v, sizeof v, m->num, unit, "auto");
				PK_FORWARD(pk__vec_push(text, 1, v, strlen(v), NULL));
			} else {
				PK_FORWARD(pk__vec_push(text, 1, pk_profile_string(p, m->str),
				                        pk_profile_string_length(p, m->str), NULL));
			}
		}
		PK_FORWARD(pk__vec_push(text, 1, "\n", 1, NULL));
		label_line ll = {(const char *)(uintptr_t)start, text->count - start};
		PK_FORWARD(pk__vec_push(lines, sizeof ll, &ll, 1, NULL));
	}
	label_line *ls = lines->items;
	for (size_t i = 0; i < lines->count; i++)
		ls[i].text = (const char *)text->items + (uintptr_t)ls[i].text;
	if (lines->count > 1)
		qsort(ls, lines->count, sizeof *ls, cmp_label_lines);
	for (size_t i = 0; i < lines->count; i++)
		PK_FORWARD(pk__sink_write(t->out, ls[i].text, ls[i].len));
	return 0;
}

static int print_traces(text_report *t, pk_error *err)
{
	static const char separator[] =
	    "-----------+-------------------------------------------------------\n";
	PK_FORWARD(profile_labels(t));
	pk__report_options go;
	graph_options(t, &go);
	go.trim = false;
	go.no_graph = true; /* the traces name frames as the graph would, no more */
	pk__report *r;
	PK_FORWARD(pk__report_new(t->p, &go, &r, err));
	const pk_profile *p = t->p;
	pk__vec text = {0}, lines = {0};
	int rc = pk__num_label_units(p, &t->num_units);
	for (size_t i = 0; rc == 0 && i < pk_profile_sample_count(p); i++) {
		pk_sample s;
		pk_profile_sample(p, i, &s);
		if (s.depth == 0)
			continue;
		rc = pk__sink_puts(t->out, separator);
		if (rc == 0)
			rc = print_labels(t, &s, false, &text, &lines);
		if (rc == 0)
			rc = print_labels(t, &s, true, &text, &lines);
		int64_t v = s.values[t->type];
		int64_t d = t->o->mean ? s.values[0] : 0;
		if (d != 0)
			v /= d;
		bool first = true;
		for (size_t l = 0; rc == 0 && l < s.depth; l++) {
			const uint32_t *infos;
			size_t n = pk__report_location_infos(r, s.locations[l], &infos);
			for (size_t k = 0; rc == 0 && k < n; k++) {
				char vs[64] = "";
				if (first)
					format_value(t, vs, sizeof vs, v);
				first = false;
				const pk__report_info *info = &r->infos[infos[k]];
				rc = pk__sink_printf(t->out, "%10s   ", vs);
				if (rc == 0)
					rc = pk__sink_write(t->out, info->printable,
					                    info->printable_len);
				if (rc == 0)
					rc = pk__sink_puts(t->out,
					                   k != n - 1 ? " (inline)\n" : "\n");
			}
		}
	}
	if (rc == 0)
		rc = pk__sink_puts(t->out, separator);
	pk__vec_free(&text);
	pk__vec_free(&lines);
	pk__vec_free(&t->num_units);
	pk__report_free(r);
	if (rc == PK_ENOMEM)
		rc = pk__error_set(err, rc, "out of memory");
	return rc;
}

static int write_report(const pk_profile *p, const pk_report_options *opts, pk__sink *out,
                        pk_error *err)
{
	static const pk_report_options defaults = PK_REPORT_OPTIONS_INIT;
	const pk_report_options *o = opts ? opts : &defaults;
	if (o->version < 1 || o->version > PK_REPORT_OPTIONS_VERSION)
		return pk__error_set(err, PK_EINVAL, "unknown pk_report_options version %u",
		                     o->version);
	if (o->kind < PK_REPORT_TOP || o->kind > PK_REPORT_TREE)
		return pk__error_set(err, PK_EINVAL, "unknown report kind %d", o->kind);
	if (o->granularity < PK_GRANULARITY_FUNCTIONS || o->granularity > PK_GRANULARITY_ADDRESSES)
		return pk__error_set(err, PK_EINVAL, "unknown granularity %d", o->granularity);
	text_report t = {0};
	t.o = o;
	t.out = out;
	PK_FORWARD(pk_profile_find_sample_type(p, o->sample_type, &t.type, err));
	pk_value_type vt = pk_profile_sample_type(p, t.type);
	t.type_name = pk_profile_string(p, vt.type);
	t.unit = pk_profile_string(p, vt.unit);
	t.output_unit = o->unit && *o->unit ? o->unit : "minimum";

	pk_profile *filtered = NULL;
	const pk_filter_options *f = o->filter;
	bool filtering =
	    f && ((f->focus && *f->focus) || (f->ignore && *f->ignore) || (f->hide && *f->hide) ||
	          (f->show && *f->show) || (f->tag_focus && *f->tag_focus) ||
	          (f->tag_ignore && *f->tag_ignore));
	if (!filtering || !o->relative_percentages)
		t.total = pk__report_total(p, t.type, o->mean != 0);
	if (filtering)
		PK_FORWARD(pk_profile_filter(p, f, &filtered, err));
	t.p = filtered ? filtered : p;
	if (filtering && o->relative_percentages)
		t.total = pk__report_total(t.p, t.type, o->mean != 0);
	int rc;
	switch (o->kind) {
	case PK_REPORT_TRACES: rc = print_traces(&t, err); break;
	case PK_REPORT_TREE: rc = print_tree(&t, err); break;
	default: rc = print_top(&t, err); break;
	}
	pk_profile_free(filtered);
	return rc;
}

int pk_report_write_path(const pk_profile *p, const char *path, const pk_report_options *opts,
                         pk_error *err)
{
	pk__file_sink *fs;
	int rc = pk__file_sink_open(path, err, &fs);
	if (rc == 0) {
		rc = write_report(p, opts, pk__file_sink_base(fs), err);
		if (rc == 0)
			rc = pk__file_sink_commit(fs);
		else
			pk__file_sink_abort(fs);
	}
	return rc;
}

int pk_report_write_buffer(const pk_profile *p, const pk_report_options *opts, void **out,
                           size_t *size, pk_error *err)
{
	pk__buffer_sink b;
	pk__buffer_sink_init(&b, err);
	int rc = write_report(p, opts, &b.base, err);
	if (rc < 0) {
		pk__buffer_sink_release(&b);
		return rc;
	}
	*out = b.data;
	*size = b.size;
	return 0;
}
