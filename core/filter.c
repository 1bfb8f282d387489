/* filter.c - pprof's -focus, -ignore, -hide, -show, -tagfocus and
 * -tagignore (profile/filter.go, driver/driver_focus.go).
 *
 * pprof's expressions are Go regexps (RE2 syntax). PCRE2 reads nearly all
 * of RE2's syntax the same way (classes, \d \w \s, non-greedy repeats,
 * (?i) flags, \Q..\E); POSIX ERE lacks \d, non-greedy repeats and
 * (?flags). Differences: PCRE2 also accepts backreferences and lookaround,
 * which RE2 refuses; RE2's (?P<name>) works in both; \C and \z differ
 * slightly. Matching is unanchored (Go's MatchString) in UTF mode. */
#include "internal.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct regex {
	pcre2_code *code;
	pcre2_match_data *match;
} regex;

static int regex_compile(regex *r, const char *option, const char *pattern, pk_error *err)
{
	int code;
	PCRE2_SIZE offset;
	r->code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &code,
	                        &offset, NULL);
	if (r->code == NULL) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(code, msg, sizeof msg);
		return pk__error_set(err, PK_EINVAL,
		                     "invalid regular expression for %s at offset %zu: %s: %s",
		                     option, (size_t)offset, (const char *)msg, pattern);
	}
	r->match = pcre2_match_data_create_from_pattern(r->code, NULL);
	if (r->match == NULL) {
		pcre2_code_free(r->code);
		r->code = NULL;
		return pk__error_set(err, PK_ENOMEM, "out of memory");
	}
	return 0;
}

static void regex_free(regex *r)
{
	pcre2_match_data_free(r->match);
	pcre2_code_free(r->code);
	r->code = NULL;
	r->match = NULL;
}

static bool regex_match(const regex *r, const char *s, size_t len)
{
	/* Names that are not valid UTF-8 are matched byte by byte. */
	int rc = pcre2_match(r->code, (PCRE2_SPTR)s, len, 0, PCRE2_NO_UTF_CHECK, r->match, NULL);
	return rc >= 0;
}

static bool match_str(const regex *r, const pk_profile *p, pk_str s)
{
	return regex_match(r, pk_profile_string(p, s), pk_profile_string_length(p, s));
}

/* Location.matchesName's parts: a line's function name or file. */
static bool line_matches(const regex *r, const pk_profile *p, const pk_line *l)
{
	const pk_function *f = pk_profile_function(p, l->function);
	return match_str(r, p, f->name) || match_str(r, p, f->filename);
}

static bool mapping_matches(const regex *r, const pk_profile *p, const pk_location *loc)
{
	if (loc->mapping == PK_NONE)
		return false;
	return match_str(r, p, pk_profile_mapping(p, loc->mapping)->filename);
}

static bool location_matches(const regex *r, const pk_profile *p, size_t i)
{
	const pk_line *lines;
	size_t n = pk_profile_location_lines(p, i, &lines);
	for (size_t l = 0; l < n; l++)
		if (line_matches(r, p, &lines[l]))
			return true;
	return mapping_matches(r, p, pk_profile_location(p, i));
}

typedef struct filter_ctx {
	const pk_profile *p;
	regex focus, ignore, hide, show;
	/* per location: 1 focus, 2 ignore, 0 neither */
	unsigned char *focus_or_ignore;
	bool *hidden;
	bool any_hidden;
	/* tag filters: key (NULL: any), and regexes or a numeric range */
	struct tag_filter {
		bool set;
		char *key;
		regex rx[16];
		size_t count;
		/* a range: values v, in unit, with lo <= v <= hi (has_lo/hi) */
		bool numeric, has_lo, has_hi;
		double lo, hi;
		char *unit;
	} tag_focus, tag_ignore;
	/* the unit of each numeric label key (NumLabelUnits), for ranges */
	pk__vec num_units; /* pk__num_unit */
} filter_ctx;

/* hide and show change the lines of locations */
static void filter_location(void *ctx, pk_location *loc, pk_line *lines, size_t *count)
{
	filter_ctx *c = ctx;
	const pk_profile *p = c->p;
	size_t n = *count, k;
	if (c->hide.code) {
		if (mapping_matches(&c->hide, p, loc)) {
			n = 0;
		} else {
			k = 0;
			for (size_t i = 0; i < n; i++)
				if (!line_matches(&c->hide, p, &lines[i]))
					lines[k++] = lines[i];
			n = k;
		}
	}
	if (c->show.code && !mapping_matches(&c->show, p, loc)) {
		k = 0;
		for (size_t i = 0; i < n; i++)
			if (line_matches(&c->show, p, &lines[i]))
				lines[k++] = lines[i];
		n = k;
	}
	*count = n;
}

/* One match of pprof's tagFilterRangeRx, ([+-]?[[:digit:]]+)([[:alpha:]]+)?,
 * the leftmost at or after s: the number at [*num, *num_end), its unit up
 * to *end. */
static bool range_match(const char *s, const char **num, const char **num_end, const char **end)
{
	for (; *s; s++) {
		const char *d = s;
		if ((*d == '+' || *d == '-') && d[1] >= '0' && d[1] <= '9')
			d++;
		if (*d < '0' || *d > '9')
			continue;
		*num = s;
		while (*d >= '0' && *d <= '9')
			d++;
		*num_end = d;
		while ((*d >= 'a' && *d <= 'z') || (*d >= 'A' && *d <= 'Z'))
			d++;
		*end = d;
		return true;
	}
	return false;
}

static int range_value(const char *num, const char *num_end, const char *option, int64_t *out,
                       pk_error *err)
{
	char buf[32];
	size_t n = (size_t)(num_end - num);
	if (n >= sizeof buf)
		n = sizeof buf - 1; /* too long for an int64: strtoll says so */
	memcpy(buf, num, n);
	buf[n] = '\0';
	errno = 0;
	long long v = strtoll(buf, NULL, 10);
	if (errno != 0 || n != (size_t)(num_end - num))
		return pk__error_set(err, PK_EINVAL, "%s: number out of range: %.*s", option,
		                     (int)(num_end - num), num);
	*out = v;
	return 0;
}

/* driver_focus.go's parseTagFilterRange: "N", "N:", ":N" or "N:M", each N
 * a number with an optional unit ("32kB", "2MB", "10ms"); label values are
 * compared after converting them to the first N's unit. Anything else is
 * left to be read as regular expressions (t->numeric stays false). */
static int parse_range(struct tag_filter *t, const char *filter, pk_error *err)
{
	const char *n1, *n1_end, *e1, *n2, *n2_end, *e2;
	if (!range_match(filter, &n1, &n1_end, &e1))
		return 0;
	bool two = range_match(e1, &n2, &n2_end, &e2);
	size_t len1 = (size_t)(e1 - n1), flen = strlen(filter);
	bool lo = false, hi = false;
	if (!two) {
		/* the whole filter is "N", "N:" or ":N" */
		if (n1 == filter && flen == len1)
			lo = hi = true;
		else if (n1 == filter && flen == len1 + 1 && filter[len1] == ':')
			lo = true;
		else if (n1 == filter + 1 && filter[0] == ':' && flen == len1 + 1)
			hi = true;
		else
			return 0;
	} else if (n1 != filter || *e1 != ':' || n2 != e1 + 1 || *e2 != '\0') {
		return 0; /* not "N:M" */
	}
	char unit1[64], unit2[64];
	size_t u1 = (size_t)(e1 - n1_end), u2 = two ? (size_t)(e2 - n2_end) : 0;
	if (u1 >= sizeof unit1 || u2 >= sizeof unit2)
		return 0; /* no unit is that long; read as a regexp */
	memcpy(unit1, n1_end, u1);
	unit1[u1] = '\0';
	int64_t v1, v2 = 0;
	PK_FORWARD(range_value(n1, n1_end, "tagfilter", &v1, err));
	const char *unit;
	double s1 = pk__scale(v1, unit1, unit1, &unit);
	char *unit_copy = pk__strdup(unit);
	PK_CHECK_ALLOC(unit_copy, err);
	double s2 = 0;
	if (two) {
		memcpy(unit2, n2_end, u2);
		unit2[u2] = '\0';
		const char *unit_b;
		int rc = range_value(n2, n2_end, "tagfilter", &v2, err);
		if (rc < 0) {
			pk__free(unit_copy);
			return rc;
		}
		s2 = pk__scale(v2, unit2, unit_copy, &unit_b);
		if (strcmp(unit_b, unit_copy) != 0) {
			pk__free(unit_copy);
			return 0;
		}
		lo = hi = true;
		t->lo = s1;
		t->hi = s2;
	} else {
		t->lo = t->hi = s1;
	}
	t->numeric = true;
	t->has_lo = lo;
	t->has_hi = hi;
	t->unit = unit_copy;
	return 0;
}

static int tag_filter_compile(struct tag_filter *t, const char *option, const char *value,
                              pk_error *err)
{
	if (value == NULL || *value == '\0')
		return 0;
	t->set = true;
	const char *eq = strchr(value, '=');
	if (eq) {
		t->key = pk__malloc((size_t)(eq - value) + 1);
		PK_CHECK_ALLOC(t->key, err);
		memcpy(t->key, value, (size_t)(eq - value));
		t->key[eq - value] = '\0';
		value = eq + 1;
	}
	int rc = parse_range(t, value, err);
	if (rc < 0 || t->numeric)
		return rc;
	char *copy = pk__strdup(value);
	PK_CHECK_ALLOC(copy, err);
	for (char *s = copy, *next; rc == 0 && s; s = next) {
		next = strchr(s, ',');
		if (next)
			*next++ = '\0';
		if (t->count == sizeof t->rx / sizeof t->rx[0]) {
			rc = pk__error_set(err, PK_EINVAL, "%s has more than 16 expressions",
			                   option);
			break;
		}
		rc = regex_compile(&t->rx[t->count], option, s, err);
		if (rc == 0)
			t->count++;
	}
	pk__free(copy);
	return rc;
}

static void tag_filter_free(struct tag_filter *t)
{
	for (size_t i = 0; i < t->count; i++)
		regex_free(&t->rx[i]);
	pk__free(t->key);
	pk__free(t->unit);
}

static bool in_range(const struct tag_filter *t, int64_t v, const char *unit)
{
	const char *su;
	double sv = pk__scale(v, unit, t->unit, &su);
	if (strcmp(su, t->unit) != 0)
		return false;
	return (!t->has_lo || sv >= t->lo) && (!t->has_hi || sv <= t->hi);
}

/* driver_focus.go's compileTagFilter. */
static bool tag_matches(const filter_ctx *c, const struct tag_filter *t, const pk_sample *s,
                        pk__vec *text)
{
	const pk_profile *p = c->p;
	if (t->numeric) {
		for (size_t l = 0; l < s->label_count; l++) {
			const pk_label *lb = &pk__profile_labels(p)[s->labels[l]];
			if (lb->str != 0 ||
			    (t->key && strcmp(pk_profile_string(p, lb->key), t->key) != 0))
				continue;
			if (in_range(t, lb->num, pk__num_label_unit(&c->num_units, lb->key)))
				return true;
		}
		return false;
	}
	if (t->key) {
		for (size_t r = 0; r < t->count; r++)
			for (size_t l = 0; l < s->label_count; l++) {
				const pk_label *lb = &pk__profile_labels(p)[s->labels[l]];
				if (lb->str != 0 &&
				    strcmp(pk_profile_string(p, lb->key), t->key) == 0 &&
				    match_str(&t->rx[r], p, lb->str))
					return true;
			}
		return false;
	}
	for (size_t r = 0; r < t->count; r++) {
		bool matched = false;
		for (size_t l = 0; !matched && l < s->label_count; l++) {
			const pk_label *lb = &pk__profile_labels(p)[s->labels[l]];
			if (lb->str == 0)
				continue;
			text->count = 0;
			if (pk__vec_push(text, 1, pk_profile_string(p, lb->key),
			                 pk_profile_string_length(p, lb->key), NULL) < 0 ||
			    pk__vec_push(text, 1, ":", 1, NULL) < 0 ||
			    pk__vec_push(text, 1, pk_profile_string(p, lb->str),
			                 pk_profile_string_length(p, lb->str), NULL) < 0)
				return false;
			matched = regex_match(&t->rx[r], text->items, text->count);
		}
		if (!matched)
			return false;
	}
	return true;
}

int pk__num_label_units(const pk_profile *p, pk__vec *units)
{
	for (size_t i = 0; i < pk_profile_sample_count(p); i++) {
		pk_sample s;
		pk_profile_sample(p, i, &s);
		for (size_t l = 0; l < s.label_count; l++) {
			const pk_label *lb = &pk__profile_labels(p)[s.labels[l]];
			if (lb->str != 0)
				continue;
			pk__num_unit *u = units->items;
			size_t k = 0;
			while (k < units->count && u[k].key != lb->key)
				k++;
			if (k == units->count) {
				pk__num_unit nu = {lb->key, NULL};
				PK_FORWARD(pk__vec_push(units, sizeof nu, &nu, 1, NULL));
				u = units->items;
			}
			if (u[k].unit == NULL && lb->num_unit != 0)
				u[k].unit = pk_profile_string(p, lb->num_unit);
		}
	}
	pk__num_unit *u = units->items;
	for (size_t k = 0; k < units->count; k++) {
		if (u[k].unit)
			continue;
		const char *key = pk_profile_string(p, u[k].key);
		u[k].unit =
		    strcmp(key, "alignment") == 0 || strcmp(key, "request") == 0 ? "bytes" : key;
	}
	return 0;
}

const char *pk__num_label_unit(const pk__vec *units, pk_str key)
{
	const pk__num_unit *u = units->items;
	for (size_t i = 0; i < units->count; i++)
		if (u[i].key == key)
			return u[i].unit;
	return "";
}

static int compile_all(filter_ctx *c, const pk_filter_options *o, pk_error *err)
{
	struct {
		regex *r;
		const char *name, *value;
	} res[] = {{&c->focus, "focus", o->focus},
	           {&c->ignore, "ignore", o->ignore},
	           {&c->hide, "hide", o->hide},
	           {&c->show, "show", o->show}};
	for (size_t i = 0; i < 4; i++)
		if (res[i].value && *res[i].value)
			PK_FORWARD(regex_compile(res[i].r, res[i].name, res[i].value, err));
	PK_FORWARD(tag_filter_compile(&c->tag_focus, "tagfocus", o->tag_focus, err));
	PK_FORWARD(tag_filter_compile(&c->tag_ignore, "tagignore", o->tag_ignore, err));
	return 0;
}

static int filter_samples(filter_ctx *c, pk_profile *q)
{
	const pk_profile *p = c->p;
	pk__vec stack = {0}, text = {0}, labels = {0};
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < pk_profile_sample_count(p); i++) {
		pk_sample s;
		pk_profile_sample(p, i, &s);
		/* focusedAndNotIgnored */
		bool focused = false, ignored = false;
		for (size_t d = 0; d < s.depth; d++) {
			unsigned char f = c->focus_or_ignore[s.locations[d]];
			if (f == 2)
				ignored = true;
			else if (f == 1)
				focused = true;
		}
		if (!focused || ignored)
			continue;
		stack.count = 0;
		for (size_t d = 0; rc == 0 && d < s.depth; d++)
			if (!c->hidden[s.locations[d]])
				rc = pk__vec_push(&stack, sizeof(uint32_t), &s.locations[d], 1,
				                  NULL);
		if (rc < 0 || (c->any_hidden && stack.count == 0))
			continue;
		if (c->tag_focus.set && !tag_matches(c, &c->tag_focus, &s, &text))
			continue;
		if (c->tag_ignore.set && tag_matches(c, &c->tag_ignore, &s, &text))
			continue;
		rc = pk__sample_labels(p, &s, &labels);
		if (rc == 0)
			rc = pk_profile_add_sample(q, stack.items, stack.count, s.values,
			                           s.value_count, labels.items, labels.count);
	}
	pk__vec_free(&stack);
	pk__vec_free(&text);
	pk__vec_free(&labels);
	return rc;
}

int pk_profile_filter(const pk_profile *p, const pk_filter_options *o, pk_profile **out,
                      pk_error *err)
{
	if (o == NULL || o->version < 1 || o->version > PK_FILTER_OPTIONS_VERSION)
		return pk__error_set(err, PK_EINVAL, "unknown pk_filter_options version");
	filter_ctx c = {0};
	c.p = p;
	int rc = compile_all(&c, o, err);
	size_t n = pk_profile_location_count(p);
	if (rc == 0) {
		c.focus_or_ignore = pk__calloc(n + 1, 1);
		c.hidden = pk__calloc(n + 1, sizeof *c.hidden);
		if (!c.focus_or_ignore || !c.hidden)
			rc = pk__error_set(err, PK_ENOMEM, "out of memory");
	}
	if (rc == 0 && (c.tag_focus.numeric || c.tag_ignore.numeric) &&
	    (rc = pk__num_label_units(p, &c.num_units)) < 0)
		rc = pk__error_set(err, rc, "out of memory");
	pk_profile *q = NULL;
	if (rc == 0) {
		for (size_t i = 0; i < n; i++) {
			if (c.ignore.code && location_matches(&c.ignore, p, i))
				c.focus_or_ignore[i] = 2;
			else if (c.focus.code == NULL || location_matches(&c.focus, p, i))
				c.focus_or_ignore[i] = 1;
		}
		pk__copy_hooks h = {NULL, filter_location, pk__no_samples, &c};
		rc = pk__profile_copy(p, &h, &q);
		if (rc < 0)
			rc = pk__error_set(err, rc, "out of memory");
	}
	if (rc == 0 && (c.hide.code || c.show.code)) {
		for (size_t i = 0; i < n; i++) {
			const pk_line *lines;
			size_t before = pk_profile_location_lines(p, i, &lines);
			size_t after = pk_profile_location_lines(q, i, &lines);
			/* hide empties only locations it matched; show empties any */
			if (after == 0 &&
			    (c.show.code || before > 0 ||
			     mapping_matches(&c.hide, p, pk_profile_location(p, i)))) {
				c.hidden[i] = true;
				c.any_hidden = true;
			}
		}
	}
	if (rc == 0 && (rc = filter_samples(&c, q)) < 0)
		rc = pk__error_set(err, rc, "out of memory");
	regex *res[] = {&c.focus, &c.ignore, &c.hide, &c.show};
	for (size_t i = 0; i < 4; i++)
		if (res[i]->code)
			regex_free(res[i]);
	tag_filter_free(&c.tag_focus);
	tag_filter_free(&c.tag_ignore);
	pk__free(c.focus_or_ignore);
	pk__free(c.hidden);
	pk__vec_free(&c.num_units);
	if (rc < 0) {
		pk_profile_free(q);
		return rc;
	}
	*out = q;
	return 0;
}
