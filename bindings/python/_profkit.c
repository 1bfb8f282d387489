/* _profkit.c - the C half of the Python package profkit: a thin layer over
 * the public API of libprofkit (profkit.h only). It owns profiles, turns
 * their records into Python values and the library's error records into
 * exceptions; profkit/__init__.py adds the friendlier surface.
 *
 * Every call into the library that reads, converts or writes runs without
 * the GIL: the library has no global state, and a profile is only ever
 * read once it has been made, so threads may share one. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <profkit.h>

#include <string.h>

#ifndef PK_PYTHON_EXECUTABLE
#define PK_PYTHON_EXECUTABLE ""
#endif
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)
#define HEADER_VERSION                                                                             \
	STRINGIFY(PK_VERSION_MAJOR) "." STRINGIFY(PK_VERSION_MINOR) "." STRINGIFY(PK_VERSION_PATCH)

/* ------------------------------------------------------------- exceptions */

static PyObject *Error, *FormatError, *FileError, *UnsupportedError, *NotFoundError,
    *OutOfMemoryError, *InvalidArgumentError;

static PyObject *error_class(int code)
{
	switch (code) {
	case PK_ENOMEM: return OutOfMemoryError;
	case PK_EIO: return FileError;
	case PK_EFORMAT: return FormatError;
	case PK_EUNSUPPORTED: return UnsupportedError;
	case PK_ENOTFOUND: return NotFoundError;
	case PK_EINVAL: return InvalidArgumentError;
	default: return Error;
	}
}

static int set_attr(PyObject *o, const char *name, PyObject *v)
{
	if (v == NULL)
		return -1;
	int rc = PyObject_SetAttrString(o, name, v);
	Py_DECREF(v);
	return rc;
}

/* Raise the exception of code, carrying the record's fields. Returns NULL. */
static PyObject *raise_error(int code, const pk_error *err)
{
	pk_error none = PK_ERROR_INIT;
	if (err == NULL || err->code == 0) {
		none.code = code;
		snprintf(none.message, sizeof none.message, "%s", pk_strerror(code));
		err = &none;
	}
	char text[PK_ERROR_SOURCE_MAX + PK_ERROR_MESSAGE_MAX + 64];
	pk_error_describe(err, text, sizeof text);
	PyObject *e = PyObject_CallFunction(error_class(code), "s", text);
	if (e == NULL)
		return NULL;
	if (set_attr(e, "code", PyLong_FromLong(code)) < 0 ||
	    set_attr(e, "message",
	             PyUnicode_DecodeUTF8(err->message, strlen(err->message), "replace")) < 0 ||
	    set_attr(e, "format",
	             err->format ? PyUnicode_FromString(err->format) : Py_NewRef(Py_None)) < 0 ||
	    set_attr(e, "source",
	             PyUnicode_DecodeUTF8(err->source, strlen(err->source), "replace")) < 0 ||
	    set_attr(e, "line", PyLong_FromLong(err->line)) < 0 ||
	    set_attr(e, "column", PyLong_FromLong(err->column)) < 0 ||
	    set_attr(e, "offset",
	             err->offset >= 0 ? PyLong_FromLongLong(err->offset) : Py_NewRef(Py_None)) <
	        0) {
		Py_DECREF(e);
		return NULL;
	}
	PyErr_SetObject((PyObject *)Py_TYPE(e), e);
	Py_DECREF(e);
	return NULL;
}

static PyObject *raise_message(int code, const char *fmt, const char *arg)
{
	pk_error err = PK_ERROR_INIT;
	err.code = code;
	snprintf(err.message, sizeof err.message, fmt, arg);
	return raise_error(code, &err);
}

/* ------------------------------------------------------ record structseqs */

static PyTypeObject *FrameType, *SampleType, *LabelType, *FunctionType;

static PyStructSequence_Field frame_fields[] = {
    {"function", "the function's name ('' if unknown)"},
    {"file", "its source file ('' if unknown)"},
    {"line", "the source line (0 if unknown)"},
    {"address", "the instruction address (0 if unknown)"},
    {"inlined", "True when this frame was inlined into the next one (its caller)"},
    {"system_name", "the function's system (e.g. mangled) name"},
    {"column", "the source column (0 if unknown)"},
    {"mapping", "the file name of the binary the address is in ('' if none)"},
    {NULL, NULL}};
static PyStructSequence_Desc frame_desc = {
    "profkit.Frame", "One frame of a stack: a function at a line of a location.", frame_fields, 5};

static PyStructSequence_Field sample_fields[] = {{"stack", "the frames, leaf first (as pprof)"},
                                                 {"values", "one int per sample type"},
                                                 {"labels", "the labels, a tuple of Label"},
                                                 {NULL, NULL}};
static PyStructSequence_Desc sample_desc = {"profkit.Sample", "One sample of a profile.",
                                            sample_fields, 3};

static PyStructSequence_Field label_fields[] = {
    {"key", "the label's name"},
    {"value", "a str for a string label, an int for a numeric one"},
    {"unit", "a numeric label's unit, or None"},
    {NULL, NULL}};
static PyStructSequence_Desc label_desc = {"profkit.Label", "A sample label.", label_fields, 3};

static PyStructSequence_Field function_fields[] = {
    {"name", "the function's name"},
    {"system_name", "its system (e.g. mangled) name"},
    {"file", "its source file"},
    {"start_line", "the line it starts at (0 if unknown)"},
    {NULL, NULL}};
static PyStructSequence_Desc function_desc = {"profkit.Function", "A function of a profile.",
                                              function_fields, 4};

/* ---------------------------------------------------------------- Profile */

typedef struct {
	PyObject ob_base;
	pk_profile *p;
	const pk_format *format; /* the format it was read from, or NULL */
	PyObject **frames;       /* per location: a tuple of Frame, made on first use */
	size_t frame_count;
} ProfileObject;

static PyTypeObject ProfileType;

/* Wrap p (takes ownership); frees p when wrapping fails. */
static PyObject *profile_wrap(pk_profile *p, const pk_format *format)
{
	ProfileObject *o = PyObject_New(ProfileObject, &ProfileType);
	if (o == NULL) {
		pk_profile_free(p);
		return NULL;
	}
	o->p = p;
	o->format = format;
	o->frames = NULL;
	o->frame_count = 0;
	return (PyObject *)o;
}

static void profile_dealloc(ProfileObject *o)
{
	for (size_t i = 0; i < o->frame_count; i++)
		Py_XDECREF(o->frames[i]);
	PyMem_Free(o->frames);
	pk_profile_free(o->p);
	PyObject_Free(o);
}

static PyObject *str_of(const pk_profile *p, pk_str s)
{
	return PyUnicode_DecodeUTF8(pk_profile_string(p, s), pk_profile_string_length(p, s),
	                            "surrogateescape");
}

static PyObject *optional_str(const pk_profile *p, pk_str s)
{
	return s ? str_of(p, s) : Py_NewRef(Py_None);
}

static PyObject *value_type(const pk_profile *p, pk_value_type vt)
{
	PyObject *t = str_of(p, vt.type), *u = str_of(p, vt.unit);
	PyObject *r = t && u ? PyTuple_Pack(2, t, u) : NULL;
	Py_XDECREF(t);
	Py_XDECREF(u);
	return r;
}

static int dict_put(PyObject *d, const char *key, PyObject *v)
{
	if (v == NULL)
		return -1;
	int rc = PyDict_SetItemString(d, key, v);
	Py_DECREF(v);
	return rc;
}

static PyObject *profile_header(ProfileObject *o, PyObject *unused)
{
	const pk_profile *p = o->p;
	PyObject *d = PyDict_New(), *types = NULL, *comments = NULL;
	if (d == NULL)
		return NULL;
	size_t n = pk_profile_sample_type_count(p);
	if ((types = PyList_New((Py_ssize_t)n)) == NULL)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		PyObject *vt = value_type(p, pk_profile_sample_type(p, i));
		if (vt == NULL)
			goto fail;
		PyList_SET_ITEM(types, (Py_ssize_t)i, vt);
	}
	n = pk_profile_comment_count(p);
	if ((comments = PyList_New((Py_ssize_t)n)) == NULL)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		PyObject *c = str_of(p, pk_profile_comment(p, i));
		if (c == NULL)
			goto fail;
		PyList_SET_ITEM(comments, (Py_ssize_t)i, c);
	}
	int rc = dict_put(d, "sample_types", types);
	types = NULL;
	if (rc == 0)
		rc = dict_put(d, "comments", comments);
	comments = NULL;
	if (rc < 0 ||
	    dict_put(d, "default_sample_type",
	             optional_str(p, pk_profile_default_sample_type(p))) ||
	    dict_put(d, "period_type", value_type(p, pk_profile_period_type(p))) ||
	    dict_put(d, "period", PyLong_FromLongLong(pk_profile_period(p))) ||
	    dict_put(d, "time_nanos", PyLong_FromLongLong(pk_profile_time_nanos(p))) ||
	    dict_put(d, "duration_nanos", PyLong_FromLongLong(pk_profile_duration_nanos(p))) ||
	    dict_put(d, "drop_frames", optional_str(p, pk_profile_drop_frames(p))) ||
	    dict_put(d, "keep_frames", optional_str(p, pk_profile_keep_frames(p))) ||
	    dict_put(d, "doc_url", optional_str(p, pk_profile_doc_url(p))) ||
	    dict_put(d, "format",
	             o->format ? PyUnicode_FromString(pk_format_name(o->format))
	                       : Py_NewRef(Py_None)))
		goto fail;
	return d;
fail:
	Py_XDECREF(types);
	Py_XDECREF(comments);
	Py_DECREF(d);
	return NULL;
}

static Py_ssize_t profile_length(ProfileObject *o)
{
	return (Py_ssize_t)pk_profile_sample_count(o->p);
}

static PyObject *make_function(const pk_profile *p, const pk_function *f)
{
	PyObject *r = PyStructSequence_New(FunctionType);
	if (r == NULL)
		return NULL;
	PyObject *v[4] = {str_of(p, f->name), str_of(p, f->system_name), str_of(p, f->filename),
	                  PyLong_FromLongLong(f->start_line)};
	for (int i = 0; i < 4; i++)
		PyStructSequence_SetItem(r, i, v[i]);
	for (int i = 0; i < 4; i++)
		if (v[i] == NULL) {
			Py_DECREF(r);
			return NULL;
		}
	return r;
}

/* The frames of location i, innermost inlined function first. */
static PyObject *location_frames(ProfileObject *o, uint32_t i)
{
	const pk_profile *p = o->p;
	if (o->frames == NULL) {
		size_t n = pk_profile_location_count(p);
		o->frames = PyMem_Calloc(n ? n : 1, sizeof *o->frames);
		if (o->frames == NULL)
			return PyErr_NoMemory();
		o->frame_count = n;
	}
	if (i >= o->frame_count)
		return raise_message(PK_EFORMAT, "a sample refers to a location out of range%s",
		                     "");
	if (o->frames[i])
		return Py_NewRef(o->frames[i]);
	const pk_location *loc = pk_profile_location(p, i);
	const pk_line *lines;
	size_t n = pk_profile_location_lines(p, i, &lines);
	const pk_mapping *m = loc->mapping != PK_NONE ? pk_profile_mapping(p, loc->mapping) : NULL;
	PyObject *t = PyTuple_New((Py_ssize_t)(n ? n : 1));
	if (t == NULL)
		return NULL;
	for (size_t k = 0; k < (n ? n : 1); k++) {
		const pk_function *f = n ? pk_profile_function(p, lines[k].function) : NULL;
		PyObject *fr = PyStructSequence_New(FrameType);
		if (fr == NULL) {
			Py_DECREF(t);
			return NULL;
		}
		PyTuple_SET_ITEM(t, (Py_ssize_t)k, fr);
		PyObject *v[8] = {
		    str_of(p, f ? f->name : 0),
		    str_of(p, f ? f->filename : 0),
		    PyLong_FromLongLong(n ? lines[k].line : 0),
		    PyLong_FromUnsignedLongLong(loc->address),
		    PyBool_FromLong(k + 1 < n),
		    str_of(p, f ? f->system_name : 0),
		    PyLong_FromLongLong(n ? lines[k].column : 0),
		    str_of(p, m ? m->filename : 0),
		};
		int bad = 0;
		for (int j = 0; j < 8; j++) {
			PyStructSequence_SetItem(fr, j, v[j]);
			bad |= v[j] == NULL;
		}
		if (bad) {
			Py_DECREF(t);
			return NULL;
		}
	}
	o->frames[i] = Py_NewRef(t);
	return t;
}

static PyObject *make_label(const pk_profile *p, const pk_label *l)
{
	PyObject *r = PyStructSequence_New(LabelType);
	if (r == NULL)
		return NULL;
	PyObject *v[3] = {str_of(p, l->key),
	                  l->str ? str_of(p, l->str) : PyLong_FromLongLong(l->num),
	                  l->str || !l->num_unit ? Py_NewRef(Py_None) : str_of(p, l->num_unit)};
	for (int i = 0; i < 3; i++)
		PyStructSequence_SetItem(r, i, v[i]);
	for (int i = 0; i < 3; i++)
		if (v[i] == NULL) {
			Py_DECREF(r);
			return NULL;
		}
	return r;
}

static PyObject *profile_item(ProfileObject *o, Py_ssize_t i)
{
	const pk_profile *p = o->p;
	if (i < 0 || (size_t)i >= pk_profile_sample_count(p)) {
		PyErr_SetString(PyExc_IndexError, "sample index out of range");
		return NULL;
	}
	pk_sample s;
	int rc = pk_profile_sample(p, (size_t)i, &s);
	if (rc < 0)
		return raise_error(rc, NULL);
	PyObject *stack = PyList_New(0), *values = PyTuple_New((Py_ssize_t)s.value_count),
	         *labels = PyTuple_New((Py_ssize_t)s.label_count), *r = NULL;
	if (stack == NULL || values == NULL || labels == NULL)
		goto done;
	for (size_t k = 0; k < s.depth; k++) {
		PyObject *fr = location_frames(o, s.locations[k]);
		if (fr == NULL)
			goto done;
		Py_ssize_t end = PyList_GET_SIZE(stack);
		rc = PyList_SetSlice(stack, end, end, fr);
		Py_DECREF(fr);
		if (rc < 0)
			goto done;
	}
	for (size_t k = 0; k < s.value_count; k++) {
		PyObject *v = PyLong_FromLongLong(s.values[k]);
		if (v == NULL)
			goto done;
		PyTuple_SET_ITEM(values, (Py_ssize_t)k, v);
	}
	for (size_t k = 0; k < s.label_count; k++) {
		pk_label label = pk_profile_label(p, s.labels[k]);
		PyObject *l = make_label(p, &label);
		if (l == NULL)
			goto done;
		PyTuple_SET_ITEM(labels, (Py_ssize_t)k, l);
	}
	PyObject *st = PyList_AsTuple(stack);
	if (st == NULL)
		goto done;
	if ((r = PyStructSequence_New(SampleType)) == NULL) {
		Py_DECREF(st);
		goto done;
	}
	PyStructSequence_SetItem(r, 0, st);
	PyStructSequence_SetItem(r, 1, values);
	PyStructSequence_SetItem(r, 2, labels);
	values = labels = NULL;
done:
	Py_XDECREF(stack);
	Py_XDECREF(values);
	Py_XDECREF(labels);
	return r;
}

static PyObject *profile_functions(ProfileObject *o, PyObject *unused)
{
	size_t n = pk_profile_function_count(o->p);
	PyObject *l = PyList_New((Py_ssize_t)n);
	if (l == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		PyObject *f = make_function(o->p, pk_profile_function(o->p, i));
		if (f == NULL) {
			Py_DECREF(l);
			return NULL;
		}
		PyList_SET_ITEM(l, (Py_ssize_t)i, f);
	}
	return l;
}

static PyObject *profile_find_sample_type(ProfileObject *o, PyObject *args)
{
	const char *spec = NULL;
	if (!PyArg_ParseTuple(args, "z:find_sample_type", &spec))
		return NULL;
	pk_error err = PK_ERROR_INIT;
	size_t i;
	int rc = pk_profile_find_sample_type(o->p, spec, &i, &err);
	if (rc < 0)
		return raise_error(rc, &err);
	return PyLong_FromSize_t(i);
}

static PyObject *profile_total(ProfileObject *o, PyObject *args)
{
	Py_ssize_t index;
	if (!PyArg_ParseTuple(args, "n:total", &index))
		return NULL;
	const pk_profile *p = o->p;
	if (index < 0 || (size_t)index >= pk_profile_sample_type_count(p)) {
		PyErr_SetString(PyExc_IndexError, "sample type index out of range");
		return NULL;
	}
	int64_t sum = 0;
	PyObject *big = NULL; /* the sum so far once it leaves 64 bits */
	size_t n = pk_profile_sample_count(p);
	for (size_t i = 0; i < n; i++) {
		pk_sample s;
		if (pk_profile_sample(p, i, &s) < 0 || (size_t)index >= s.value_count)
			continue;
		int64_t v = s.values[index], t;
		if (!__builtin_add_overflow(sum, v, &t)) {
			sum = t;
			continue;
		}
		/* Overflow: move the sum so far into a Python int. */
		PyObject *a = PyLong_FromLongLong(sum), *b = PyLong_FromLongLong(v);
		PyObject *ab = a && b ? PyNumber_Add(a, b) : NULL;
		Py_XDECREF(a);
		Py_XDECREF(b);
		PyObject *nb = ab && big ? PyNumber_Add(big, ab) : Py_XNewRef(ab);
		Py_XDECREF(ab);
		Py_XDECREF(big);
		if ((big = nb) == NULL)
			return NULL;
		sum = 0;
	}
	PyObject *r = PyLong_FromLongLong(sum);
	if (big && r) {
		PyObject *t = PyNumber_Add(big, r);
		Py_DECREF(r);
		r = t;
	}
	Py_XDECREF(big);
	return r;
}

/* A copy of p whose default sample type is type index. */
static PyObject *profile_with_default(ProfileObject *o, PyObject *args)
{
	Py_ssize_t index;
	if (!PyArg_ParseTuple(args, "n:with_default", &index))
		return NULL;
	if (index < 0 || (size_t)index >= pk_profile_sample_type_count(o->p)) {
		PyErr_SetString(PyExc_IndexError, "sample type index out of range");
		return NULL;
	}
	pk_profile *q = NULL;
	pk_error err = PK_ERROR_INIT;
	int rc;
	PyThreadState *ts = PyEval_SaveThread();
	rc = pk_profile_scale(o->p, 1.0, &q, &err);
	PyEval_RestoreThread(ts);
	if (rc < 0)
		return raise_error(rc, &err);
	pk_profile_set_default_sample_type(q, pk_profile_sample_type(q, (size_t)index).type);
	return profile_wrap(q, o->format);
}

static PyObject *profile_scale(ProfileObject *o, PyObject *args)
{
	double ratio;
	if (!PyArg_ParseTuple(args, "d:scale", &ratio))
		return NULL;
	pk_profile *q = NULL;
	pk_error err = PK_ERROR_INIT;
	int rc;
	PyThreadState *ts = PyEval_SaveThread();
	rc = pk_profile_scale(o->p, ratio, &q, &err);
	PyEval_RestoreThread(ts);
	if (rc < 0)
		return raise_error(rc, &err);
	return profile_wrap(q, NULL);
}

static PyObject *profile_diff(ProfileObject *o, PyObject *args)
{
	ProfileObject *base;
	int mode;
	if (!PyArg_ParseTuple(args, "O!i:diff", &ProfileType, &base, &mode))
		return NULL;
	pk_profile *q = NULL;
	pk_error err = PK_ERROR_INIT;
	int rc;
	PyThreadState *ts = PyEval_SaveThread();
	rc = pk_profile_diff(base->p, o->p, mode, &q, &err);
	PyEval_RestoreThread(ts);
	if (rc < 0)
		return raise_error(rc, &err);
	return profile_wrap(q, NULL);
}

static PyObject *profile_aggregate(ProfileObject *o, PyObject *args)
{
	int granularity, inlines;
	if (!PyArg_ParseTuple(args, "ip:aggregate", &granularity, &inlines))
		return NULL;
	pk_profile *q = NULL;
	pk_error err = PK_ERROR_INIT;
	int rc;
	PyThreadState *ts = PyEval_SaveThread();
	rc = pk_profile_aggregate(o->p, granularity, inlines, &q, &err);
	PyEval_RestoreThread(ts);
	if (rc < 0)
		return raise_error(rc, &err);
	return profile_wrap(q, NULL);
}

static char *filter_kw[] = {"focus", "ignore", "hide", "show", "tagfocus", "tagignore", NULL};

static PyObject *profile_filter(ProfileObject *o, PyObject *args, PyObject *kw)
{
	pk_filter_options f = PK_FILTER_OPTIONS_INIT;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|$zzzzzz:filter", filter_kw, &f.focus,
	                                 &f.ignore, &f.hide, &f.show, &f.tag_focus, &f.tag_ignore))
		return NULL;
	pk_profile *q = NULL;
	pk_error err = PK_ERROR_INIT;
	int rc;
	PyThreadState *ts = PyEval_SaveThread();
	rc = pk_profile_filter(o->p, &f, &q, &err);
	PyEval_RestoreThread(ts);
	if (rc < 0)
		return raise_error(rc, &err);
	return profile_wrap(q, NULL);
}

static PyObject *profile_report(ProfileObject *o, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"kind",
	                         "sample_type",
	                         "mean",
	                         "granularity",
	                         "no_inlines",
	                         "cum",
	                         "node_count",
	                         "node_fraction",
	                         "edge_fraction",
	                         "unit",
	                         "relative_percentages",
	                         "focus",
	                         "ignore",
	                         "hide",
	                         "show",
	                         "tagfocus",
	                         "tagignore",
	                         NULL};
	pk_report_options r = PK_REPORT_OPTIONS_INIT;
	pk_filter_options f = PK_FILTER_OPTIONS_INIT;
	if (!PyArg_ParseTupleAndKeywords(
	        args, kw, "|$izpipplddzpzzzzzz:report", kwlist, &r.kind, &r.sample_type, &r.mean,
	        &r.granularity, &r.no_inlines, &r.sort_cum, &r.node_count, &r.node_fraction,
	        &r.edge_fraction, &r.unit, &r.relative_percentages, &f.focus, &f.ignore, &f.hide,
	        &f.show, &f.tag_focus, &f.tag_ignore))
		return NULL;
	if (f.focus || f.ignore || f.hide || f.show || f.tag_focus || f.tag_ignore)
		r.filter = &f;
	void *buf = NULL;
	size_t size = 0;
	pk_error err = PK_ERROR_INIT;
	int rc;
	PyThreadState *ts = PyEval_SaveThread();
	rc = pk_report_write_buffer(o->p, &r, &buf, &size, &err);
	PyEval_RestoreThread(ts);
	if (rc < 0)
		return raise_error(rc, &err);
	PyObject *s = PyUnicode_DecodeUTF8(buf, (Py_ssize_t)size, "surrogateescape");
	pk_free(buf);
	return s;
}

static const pk_format *format_named(const char *name)
{
	const pk_format *f = pk_format_by_name(name);
	if (f == NULL)
		raise_message(PK_ENOTFOUND, "no format is named '%s'", name);
	return f;
}

/* write(path, format, ...): writes path, or returns the bytes when path is None. */
static PyObject *profile_write(ProfileObject *o, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {
	    "path",      "format",    "compress",   "sample_type", "base",      "granularity",
	    "title",     "subtitle",  "width",      "height",      "min_width", "min_width_percent",
	    "font_type", "font_size", "count_name", "colors",      "hash",      "reverse",
	    "inverted",  "negate",    NULL};
	PyObject *path = NULL, *base = Py_None;
	const char *format = NULL;
	pk_write_options w = PK_WRITE_OPTIONS_INIT;
	pk_flamegraph_options g = PK_FLAMEGRAPH_OPTIONS_INIT;
	if (!PyArg_ParseTupleAndKeywords(
	        args, kw, "O&z|$izOizzIIdpzdzzpppp:write", kwlist, PyUnicode_FSConverter, &path,
	        &format, &w.compress, &w.sample_type, &base, &w.granularity, &g.title, &g.subtitle,
	        &g.width, &g.height, &g.min_width, &g.min_width_percent, &g.font_type, &g.font_size,
	        &g.count_name, &g.colors, &g.hash, &g.reverse, &g.inverted, &g.negate))
		return NULL;
	PyObject *r = NULL;
	if (base != Py_None) {
		if (!PyObject_TypeCheck(base, &ProfileType)) {
			PyErr_SetString(PyExc_TypeError, "base must be a profile");
			goto done;
		}
		w.base = ((ProfileObject *)base)->p;
	}
	if (format && (w.format = format_named(format)) == NULL)
		goto done;
	w.flamegraph = &g;
	const char *p = PyBytes_AS_STRING(path);
	pk_error err = PK_ERROR_INIT;
	int rc;
	if (*p) {
		PyThreadState *ts = PyEval_SaveThread();
		rc = pk_profile_write_path(o->p, p, &w, &err);
		PyEval_RestoreThread(ts);
		if (rc < 0)
			raise_error(rc, &err);
		else
			r = Py_NewRef(Py_None);
	} else {
		void *buf = NULL;
		size_t size = 0;
		PyThreadState *ts = PyEval_SaveThread();
		rc = pk_profile_write_buffer(o->p, &w, &buf, &size, &err);
		PyEval_RestoreThread(ts);
		if (rc < 0)
			raise_error(rc, &err);
		else
			r = PyBytes_FromStringAndSize(buf, (Py_ssize_t)size);
		pk_free(buf);
	}
done:
	Py_DECREF(path);
	return r;
}

static PyMethodDef profile_methods[] = {
    {"header", (PyCFunction)profile_header, METH_NOARGS, "The header fields, as a dict."},
    {"functions", (PyCFunction)profile_functions, METH_NOARGS, "The functions, a list."},
    {"find_sample_type", (PyCFunction)profile_find_sample_type, METH_VARARGS,
     "The index of the sample type spec names (pprof's -sample_index)."},
    {"total", (PyCFunction)profile_total, METH_VARARGS, "The sum of sample type i."},
    {"with_default", (PyCFunction)profile_with_default, METH_VARARGS,
     "A copy whose default sample type is type i."},
    {"scale", (PyCFunction)profile_scale, METH_VARARGS, "A copy with values times ratio."},
    {"diff", (PyCFunction)profile_diff, METH_VARARGS, "diff(base, mode): self minus base."},
    {"aggregate", (PyCFunction)profile_aggregate, METH_VARARGS,
     "aggregate(granularity, inlines): a copy grouped at a granularity."},
    {"filter", (PyCFunction)(void (*)(void))profile_filter, METH_VARARGS | METH_KEYWORDS,
     "A copy with pprof's filters applied."},
    {"report", (PyCFunction)(void (*)(void))profile_report, METH_VARARGS | METH_KEYWORDS,
     "A text report, as go tool pprof prints it."},
    {"write", (PyCFunction)(void (*)(void))profile_write, METH_VARARGS | METH_KEYWORDS,
     "write(path, format, **options): to path, or bytes when path is ''."},
    {NULL, NULL, 0, NULL}};

static PySequenceMethods profile_as_sequence = {
    .sq_length = (lenfunc)profile_length,
    .sq_item = (ssizeargfunc)profile_item,
};

static PyTypeObject ProfileType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "profkit._profkit.RawProfile",
    .tp_doc = "A profile owned by libprofkit (use profkit.Profile).",
    .tp_basicsize = sizeof(ProfileObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)profile_dealloc,
    .tp_as_sequence = &profile_as_sequence,
    .tp_methods = profile_methods,
};

/* ---------------------------------------------------------------- module */

static int read_options(const char *format, const char *source_name, unsigned long long max_size,
                        pk_read_options *r)
{
	r->source_name = source_name;
	r->max_size = max_size;
	if (format && (r->format = format_named(format)) == NULL)
		return -1;
	return 0;
}

static PyObject *mod_read_path(PyObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"path", "format", "source_name", "max_size", NULL};
	PyObject *path = NULL;
	const char *format = NULL, *source_name = NULL;
	unsigned long long max_size = 0;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|zzK:read_path", kwlist,
	                                 PyUnicode_FSConverter, &path, &format, &source_name,
	                                 &max_size))
		return NULL;
	pk_read_options r = PK_READ_OPTIONS_INIT;
	PyObject *out = NULL;
	if (read_options(format, source_name, max_size, &r) == 0) {
		pk_profile *p = NULL;
		const pk_format *f = NULL;
		pk_error err = PK_ERROR_INIT;
		const char *s = PyBytes_AS_STRING(path);
		int rc;
		PyThreadState *ts = PyEval_SaveThread();
		rc = pk_profile_read_path(s, &r, &p, &f, &err);
		PyEval_RestoreThread(ts);
		if (rc < 0)
			raise_error(rc, &err);
		else
			out = profile_wrap(p, f);
	}
	Py_DECREF(path);
	return out;
}

static PyObject *mod_read_buffer(PyObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"data", "format", "source_name", "max_size", NULL};
	Py_buffer data;
	const char *format = NULL, *source_name = NULL;
	unsigned long long max_size = 0;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "y*|zzK:read_buffer", kwlist, &data, &format,
	                                 &source_name, &max_size))
		return NULL;
	pk_read_options r = PK_READ_OPTIONS_INIT;
	PyObject *out = NULL;
	if (read_options(format, source_name, max_size, &r) == 0) {
		pk_profile *p = NULL;
		const pk_format *f = NULL;
		pk_error err = PK_ERROR_INIT;
		int rc;
		PyThreadState *ts = PyEval_SaveThread();
		rc = pk_profile_read_buffer(data.buf, (size_t)data.len, &r, &p, &f, &err);
		PyEval_RestoreThread(ts);
		if (rc < 0)
			raise_error(rc, &err);
		else
			out = profile_wrap(p, f);
	}
	PyBuffer_Release(&data);
	return out;
}

static PyObject *mod_merge(PyObject *self, PyObject *arg)
{
	PyObject *seq = PySequence_Fast(arg, "merge needs a sequence of profiles");
	if (seq == NULL)
		return NULL;
	Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
	const pk_profile **in = PyMem_Calloc(n ? (size_t)n : 1, sizeof *in);
	PyObject *r = NULL;
	if (in == NULL) {
		PyErr_NoMemory();
		goto done;
	}
	for (Py_ssize_t i = 0; i < n; i++) {
		PyObject *o = PySequence_Fast_GET_ITEM(seq, i);
		if (!PyObject_TypeCheck(o, &ProfileType)) {
			PyErr_SetString(PyExc_TypeError, "merge needs profiles");
			goto done;
		}
		in[i] = ((ProfileObject *)o)->p;
	}
	pk_profile *q = NULL;
	pk_error err = PK_ERROR_INIT;
	int rc;
	/* seq holds a reference to every profile while the GIL is released. */
	PyThreadState *ts = PyEval_SaveThread();
	rc = pk_profile_merge(in, (size_t)n, &q, &err);
	PyEval_RestoreThread(ts);
	if (rc < 0)
		raise_error(rc, &err);
	else
		r = profile_wrap(q, NULL);
done:
	PyMem_Free(in);
	Py_DECREF(seq);
	return r;
}

static PyObject *mod_formats(PyObject *self, PyObject *unused)
{
	PyObject *l = PyList_New(0);
	for (size_t i = 0; l && pk_format_at(i); i++) {
		const pk_format *f = pk_format_at(i);
		PyObject *t = Py_BuildValue("(ssOO)", pk_format_name(f), pk_format_description(f),
		                            pk_format_can_import(f) ? Py_True : Py_False,
		                            pk_format_can_export(f) ? Py_True : Py_False);
		if (t == NULL || PyList_Append(l, t) < 0) {
			Py_XDECREF(t);
			Py_DECREF(l);
			return NULL;
		}
		Py_DECREF(t);
	}
	return l;
}

static PyObject *mod_format_for_path(PyObject *self, PyObject *arg)
{
	PyObject *path = NULL;
	if (!PyUnicode_FSConverter(arg, &path))
		return NULL;
	const pk_format *f = pk_format_by_path(PyBytes_AS_STRING(path));
	Py_DECREF(path);
	return f ? PyUnicode_FromString(pk_format_name(f)) : Py_NewRef(Py_None);
}

static PyObject *mod_build_info(PyObject *self, PyObject *unused)
{
	return Py_BuildValue("{s:s,s:s,s:s,s:s}", "profkit_version", pk_version(), "header_version",
	                     HEADER_VERSION, "python_version", PY_VERSION, "python_executable",
	                     PK_PYTHON_EXECUTABLE);
}

static PyMethodDef module_methods[] = {
    {"read_path", (PyCFunction)(void (*)(void))mod_read_path, METH_VARARGS | METH_KEYWORDS,
     "Read a profile from a file."},
    {"read_buffer", (PyCFunction)(void (*)(void))mod_read_buffer, METH_VARARGS | METH_KEYWORDS,
     "Read a profile from bytes."},
    {"merge", (PyCFunction)mod_merge, METH_O, "Merge a sequence of profiles."},
    {"formats", (PyCFunction)mod_formats, METH_NOARGS,
     "The formats: (name, description, can_import, can_export) tuples."},
    {"format_for_path", (PyCFunction)mod_format_for_path, METH_O,
     "The format a file name implies, or None."},
    {"build_info", (PyCFunction)mod_build_info, METH_NOARGS, "What this extension was built with."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_profkit",
    .m_doc = "The C half of profkit (use the profkit package).",
    .m_size = -1,
    .m_methods = module_methods,
};

static int add_error(PyObject *m, PyObject **slot, const char *name, PyObject *bases,
                     const char *doc)
{
	char full[64];
	snprintf(full, sizeof full, "profkit.%s", name);
	*slot = PyErr_NewExceptionWithDoc(full, doc, bases, NULL);
	Py_XDECREF(bases);
	if (*slot == NULL)
		return -1;
	return PyModule_AddObjectRef(m, name, *slot);
}

static int add_struct(PyObject *m, PyTypeObject **slot, PyStructSequence_Desc *desc,
                      const char *name)
{
	*slot = PyStructSequence_NewType(desc);
	if (*slot == NULL)
		return -1;
	return PyModule_AddObjectRef(m, name, (PyObject *)*slot);
}

PyMODINIT_FUNC PyInit__profkit(void)
{
	if (PyType_Ready(&ProfileType) < 0)
		return NULL;
	PyObject *m = PyModule_Create(&module);
	if (m == NULL)
		return NULL;
	if (add_error(m, &Error, "Error", NULL,
	              "A profkit call failed. Attributes: code (a negative PK_E* code), message, "
	              "format, source, line, column (0 if none) and offset (None if none).") < 0 ||
	    add_error(m, &FormatError, "FormatError", PyTuple_Pack(2, Error, PyExc_ValueError),
	              "The input is malformed, or the model is invalid.") < 0 ||
	    add_error(m, &FileError, "FileError", PyTuple_Pack(2, Error, PyExc_OSError),
	              "Reading or writing a file failed.") < 0 ||
	    add_error(m, &UnsupportedError, "UnsupportedError", PyTuple_Pack(1, Error),
	              "The format cannot do this (e.g. read an SVG).") < 0 ||
	    add_error(m, &NotFoundError, "NotFoundError", PyTuple_Pack(2, Error, PyExc_LookupError),
	              "No such sample type, format or index.") < 0 ||
	    add_error(m, &OutOfMemoryError, "OutOfMemoryError",
	              PyTuple_Pack(2, Error, PyExc_MemoryError),
	              "Out of memory, or a size limit was hit.") < 0 ||
	    add_error(m, &InvalidArgumentError, "InvalidArgumentError",
	              PyTuple_Pack(2, Error, PyExc_ValueError),
	              "A bad argument, e.g. an invalid regular expression.") < 0 ||
	    add_struct(m, &FrameType, &frame_desc, "Frame") < 0 ||
	    add_struct(m, &SampleType, &sample_desc, "Sample") < 0 ||
	    add_struct(m, &LabelType, &label_desc, "Label") < 0 ||
	    add_struct(m, &FunctionType, &function_desc, "Function") < 0 ||
	    PyModule_AddObjectRef(m, "RawProfile", (PyObject *)&ProfileType) < 0 ||
	    PyModule_AddIntConstant(m, "DIFF_BASE", PK_DIFF_BASE) < 0 ||
	    PyModule_AddIntConstant(m, "DIFF_DIFF_BASE", PK_DIFF_DIFF_BASE) < 0) {
		Py_DECREF(m);
		return NULL;
	}
	return m;
}
