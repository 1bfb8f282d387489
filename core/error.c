/* error.c - the caller-owned error record. The first error wins, so the
 * innermost, most precise failure is what the user sees. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

/* Error text is printed on terminals and in logs, one line per error, and
 * what is interpolated into it (file names, JSON keys, protobuf strings)
 * comes from outside: a newline would forge a second line and an ESC a
 * terminal escape sequence. So every control byte becomes '?', visibly. */
static void make_printable(char *s)
{
	for (unsigned char *c = (unsigned char *)s; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			*c = '?';
}

void pk_error_init(pk_error *err)
{
	if (err == NULL)
		return;
	memset(err, 0, sizeof *err);
	err->offset = -1;
}

static int error_vset(pk_error *err, int code, long line, long column, long long offset,
                      const char *fmt, va_list ap)
{
	if (err == NULL || err->code != 0)
		return code;
	err->code = code;
	err->line = line;
	err->column = column;
	err->offset = offset;
	vsnprintf(err->message, sizeof err->message, fmt, ap);
	make_printable(err->message);
	return code;
}

int pk__error_set(pk_error *err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	error_vset(err, code, 0, 0, -1, fmt, ap);
	va_end(ap);
	return code;
}

int pk__error_at(pk_error *err, int code, long long offset, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	error_vset(err, code, 0, 0, offset, fmt, ap);
	va_end(ap);
	return code;
}

int pk__error_at_line(pk_error *err, int code, long line, long column, long long offset,
                      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	error_vset(err, code, line, column, offset, fmt, ap);
	va_end(ap);
	return code;
}

int pk__error_at_text(pk_error *err, const unsigned char *text, size_t line_start, long line,
                      size_t at, const char *fmt, va_list ap)
{
	long column = 1;
	for (size_t i = line_start; i < at; i++)
		column += (text[i] & 0xc0) != 0x80;
	error_vset(err, PK_EFORMAT, line, column, (long long)at, fmt, ap);
	return PK_EFORMAT;
}

void pk__error_locate(pk_error *err, const char *source, const char *format)
{
	if (err == NULL)
		return;
	if (source != NULL && err->source[0] == '\0') {
		snprintf(err->source, sizeof err->source, "%s", source);
		make_printable(err->source);
	}
	if (format != NULL && err->format == NULL)
		err->format = format;
}

int pk_error_describe(const pk_error *err, char *buf, size_t size)
{
	const char *src = err->source[0] ? err->source : "<input>";
	if (err->line > 0 && err->column > 0)
		return snprintf(buf, size, "%s:%ld:%ld: %s", src, err->line, err->column,
		                err->message);
	if (err->line > 0)
		return snprintf(buf, size, "%s:%ld: %s", src, err->line, err->message);
	if (err->offset >= 0)
		return snprintf(buf, size, "%s: byte %lld: %s", src, err->offset, err->message);
	/* An error of no input (a bad option, say) names none. */
	if (err->source[0] == '\0')
		return snprintf(buf, size, "%s", err->message);
	return snprintf(buf, size, "%s: %s", src, err->message);
}

const char *pk_strerror(int code)
{
	switch (code) {
	case PK_OK: return "no error";
	case PK_ENOMEM: return "out of memory or over a size limit";
	case PK_EIO: return "input/output error";
	case PK_EFORMAT: return "malformed input";
	case PK_EUNSUPPORTED: return "not supported by this format";
	case PK_ENOTFOUND: return "not found";
	case PK_EINVAL: return "invalid argument";
	default: return "unknown error";
	}
}

const char *pk_version(void)
{
	return PACKAGE_VERSION;
}
