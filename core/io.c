/* io.c - bytes in and out: whole inputs read into memory and gunzipped on
 * sight; outputs through sinks (memory, gzip, atomically renamed files). */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define IO_CHUNK (256 * 1024)

/* ----------------------------------------------------------------- input */

bool pk__is_gzip(const void *data, size_t size)
{
	const unsigned char *b = data;
	return size >= 2 && b[0] == 0x1f && b[1] == 0x8b;
}

static void *zalloc(void *opaque, unsigned items, unsigned size)
{
	(void)opaque;
	return pk__malloc(pk__mul(items, size));
}

static void zfree(void *opaque, void *ptr)
{
	(void)opaque;
	pk__free(ptr);
}

/* Inflate one or more concatenated gzip members, as Go's reader does. */
/* Inflate into out, at most max_size bytes: more is an error, or with
 * head set the end of what is wanted. */
static int gunzip(const unsigned char *data, size_t size, uint64_t max_size, bool head,
                  pk__input_probe probe, const pk__progress *progress, pk__input *out,
                  pk_error *err)
{
	z_stream z = {0};
	z.zalloc = zalloc;
	z.zfree = zfree;
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return pk__error_set(err, PK_ENOMEM, "out of memory");
	size_t cap = size < IO_CHUNK ? IO_CHUNK : size * 4, len = 0;
	if (cap > max_size)
		cap = (size_t)max_size + 1;
	unsigned char *buf = pk__malloc(cap);
	int rc = 0;
	size_t pos = 0;
	if (buf == NULL)
		rc = pk__error_set(err, PK_ENOMEM, "out of memory");
	while (rc == 0) {
		if (len == cap) {
			if (cap > max_size) {
				rc = pk__error_at(
				    err, PK_ENOMEM, (long long)pos,
				    "the gunzipped input is larger than the limit of %llu bytes",
				    (unsigned long long)max_size);
				break;
			}
			size_t ncap = cap * 2 > max_size + 1 ? (size_t)max_size + 1 : cap * 2;
			unsigned char *nbuf = pk__realloc(buf, len, ncap);
			if (nbuf == NULL) {
				rc = pk__error_set(err, PK_ENOMEM, "out of memory");
				break;
			}
			buf = nbuf;
			cap = ncap;
		}
		/* zlib counts in uInt, so feed at most 1 GiB at a time. */
		size_t in_avail = size - pos, out_avail = cap - len;
		z.next_in = (unsigned char *)data + pos;
		z.avail_in = in_avail > (1u << 30) ? (1u << 30) : (uInt)in_avail;
		z.next_out = buf + len;
		/* With a progress callback, inflate 4 MiB at a time to tell it. */
		size_t step = progress && progress->fn ? (4u << 20) : (1u << 30);
		z.avail_out = out_avail > step ? (uInt)step : (uInt)out_avail;
		uInt in_before = z.avail_in, out_before = z.avail_out;
		int zr = inflate(&z, Z_NO_FLUSH);
		pos += in_before - z.avail_in;
		len += out_before - z.avail_out;
		if (progress && progress->fn)
			progress->fn(progress->ctx, "decompressing", pos, size);
		/* The buffer holds one byte more than the limit, so a stream that
		 * ends exactly as it fills is still too large. */
		if (len > max_size && head) {
			len = (size_t)max_size;
			break;
		}
		if (len > max_size) {
			rc = pk__error_at(
			    err, PK_ENOMEM, (long long)pos,
			    "the gunzipped input is larger than the limit of %llu bytes",
			    (unsigned long long)max_size);
			break;
		}
		if (probe != NULL && len >= PK_INPUT_PROBE_SIZE) {
			rc = probe(buf, len, true, err);
			probe = NULL;
			if (rc < 0)
				break;
		}
		if (zr == Z_STREAM_END) {
			if (pos == size)
				break;
			if (!pk__is_gzip(data + pos, size - pos)) {
				rc = pk__error_at(
				    err, PK_EFORMAT, (long long)pos,
				    "unexpected bytes after the end of the gzip stream");
				break;
			}
			inflateReset(&z);
		} else if (zr == Z_DATA_ERROR) {
			rc = pk__error_at(err, PK_EFORMAT, (long long)pos, "corrupt gzip data: %s",
			                  z.msg ? z.msg : "invalid data");
		} else if (zr == Z_MEM_ERROR) {
			rc = pk__error_set(err, PK_ENOMEM, "out of memory");
		} else if (zr == Z_BUF_ERROR || (zr == Z_OK && pos == size && z.avail_out > 0)) {
			if (pos == size)
				rc = pk__error_at(err, PK_EFORMAT, (long long)pos,
				                  "truncated gzip stream: the input ends before "
				                  "the gzip trailer");
		} else if (zr != Z_OK) {
			rc = pk__error_at(err, PK_EFORMAT, (long long)pos, "gzip error %d", zr);
		}
	}
	inflateEnd(&z);
	if (rc < 0) {
		pk__free(buf);
		return rc;
	}
	out->data = buf;
	out->size = len;
	out->was_gzip = true;
	return 0;
}

int pk__input_from_buffer(const void *data, size_t size, uint64_t max_size, pk__input_probe probe,
                          pk__input *out, pk_error *err)
{
	if (max_size == 0)
		max_size = PK_DEFAULT_MAX_INPUT;
	*out = (pk__input){0};
	if (pk__is_gzip(data, size))
		return gunzip(data, size, max_size, false, probe, NULL, out, err);
	if (size > max_size)
		return pk__error_at(err, PK_ENOMEM, 0,
		                    "the input is larger than the limit of %llu bytes",
		                    (unsigned long long)max_size);
	out->data = pk__malloc(size);
	PK_CHECK_ALLOC(out->data, err);
	if (size > 0)
		memcpy(out->data, data, size);
	out->size = size;
	return 0;
}

int pk__input_head(const void *data, size_t size, size_t limit, pk__input *out)
{
	*out = (pk__input){0};
	if (pk__is_gzip(data, size))
		return gunzip(data, size, limit, true, NULL, NULL, out, NULL);
	size_t n = size < limit ? size : limit;
	out->data = pk__malloc(n);
	if (out->data == NULL)
		return PK_ENOMEM;
	if (n > 0)
		memcpy(out->data, data, n);
	out->size = n;
	return 0;
}

/* Probe what the first megabyte of a gzip stream inflates to. If it does
 * not inflate, reading goes on: the whole stream's gunzip then says why. */
static int probe_gzip_head(const unsigned char *data, size_t size, pk__input_probe probe,
                           pk_error *err)
{
	pk__input head;
	if (pk__input_head(data, size, PK_INPUT_PROBE_SIZE, &head) < 0)
		return 0;
	int rc = head.size > 0 ? probe(head.data, head.size, true, err) : 0;
	pk__input_release(&head);
	return rc;
}

/* Read all of fd into memory, at most max_size bytes even when they are
 * gzip (which is larger than its data only for data no profile is). Plain
 * data from a pipe or device is probed as it comes, gzip after inflating. */
static int read_all(int fd, uint64_t max_size, pk__input_probe probe, const pk__progress *progress,
                    unsigned char **out, size_t *out_size, pk_error *err)
{
	size_t cap = IO_CHUNK, len = 0;
	uint64_t total = 0;
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		total = (uint64_t)st.st_size;
		/* A regular file's size bounds the read already. */
		probe = NULL;
		if ((uint64_t)st.st_size < max_size)
			cap = (size_t)st.st_size + 1;
	}
	/* The limit is only checked when the buffer fills, so it must not
	 * start larger than the limit allows. */
	if (cap > max_size)
		cap = (size_t)max_size + 1;
	unsigned char *buf = pk__malloc(cap);
	PK_CHECK_ALLOC(buf, err);
	for (;;) {
		if (len == cap) {
			if (cap > max_size) {
				pk__free(buf);
				return pk__error_at(
				    err, PK_ENOMEM, (long long)len,
				    "the input is larger than the limit of %llu bytes",
				    (unsigned long long)max_size);
			}
			size_t ncap = cap * 2 > max_size + 1 ? (size_t)max_size + 1 : cap * 2;
			unsigned char *nbuf = pk__realloc(buf, len, ncap);
			if (nbuf == NULL) {
				pk__free(buf);
				return pk__error_set(err, PK_ENOMEM, "out of memory");
			}
			buf = nbuf;
			cap = ncap;
		}
		if (probe != NULL && len >= PK_INPUT_PROBE_SIZE) {
			int rc = pk__is_gzip(buf, len) ? probe_gzip_head(buf, len, probe, err)
			                               : probe(buf, len, false, err);
			probe = NULL;
			if (rc < 0) {
				pk__free(buf);
				return rc;
			}
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			pk__free(buf);
			return pk__error_at(err, PK_EIO, (long long)len, "cannot read: %s",
			                    strerror(e));
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (progress && progress->fn)
			progress->fn(progress->ctx, "reading", len, total > len ? total : len);
	}
	*out = buf;
	*out_size = len;
	return 0;
}

int pk__input_read_path(const char *path, uint64_t max_size, pk__input_probe probe, pk__input *out,
                        pk_error *err)
{
	return pk__input_read_path_progress(path, max_size, probe, NULL, out, err);
}

int pk__input_read_path_progress(const char *path, uint64_t max_size, pk__input_probe probe,
                                 const pk__progress *progress, pk__input *out, pk_error *err)
{
	if (max_size == 0)
		max_size = PK_DEFAULT_MAX_INPUT;
	*out = (pk__input){0};
	bool is_stdin = strcmp(path, "-") == 0;
	int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pk__error_at(err, PK_EIO, 0, "cannot open: %s", strerror(errno));
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		if (!is_stdin)
			close(fd);
		return pk__error_at(err, PK_EIO, 0, "cannot read: it is a directory");
	}
	unsigned char *raw = NULL;
	size_t raw_size = 0;
	int rc = read_all(fd, max_size, probe, progress, &raw, &raw_size, err);
	if (!is_stdin)
		close(fd);
	PK_FORWARD(rc);
	if (!pk__is_gzip(raw, raw_size)) {
		out->data = raw;
		out->size = raw_size;
		return 0;
	}
	rc = gunzip(raw, raw_size, max_size, false, probe, progress, out, err);
	pk__free(raw);
	return rc;
}

void pk__input_release(pk__input *in)
{
	pk__free(in->data);
	*in = (pk__input){0};
}

/* ----------------------------------------------------------------- sinks */

int pk__sink_write(pk__sink *s, const void *data, size_t size)
{
	return size == 0 ? 0 : s->write(s, data, size);
}

int pk__sink_puts(pk__sink *s, const char *str)
{
	return pk__sink_write(s, str, strlen(str));
}

int pk__sink_printf(pk__sink *s, const char *fmt, ...)
{
	char small[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		return pk__error_set(s->err, PK_EINVAL, "bad format string");
	if ((size_t)n < sizeof small)
		return pk__sink_write(s, small, (size_t)n);
	char *big = pk__malloc((size_t)n + 1);
	PK_CHECK_ALLOC(big, s->err);
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	int rc = pk__sink_write(s, big, (size_t)n);
	pk__free(big);
	return rc;
}

static int buffer_write(pk__sink *s, const void *data, size_t size)
{
	pk__buffer_sink *b = (pk__buffer_sink *)s;
	if (size > b->capacity - b->size) {
		if (size > SIZE_MAX / 2 - b->size)
			return pk__error_set(s->err, PK_ENOMEM, "output too large");
		size_t cap = b->capacity ? b->capacity : 4096;
		while (cap - b->size < size)
			cap *= 2;
		unsigned char *nd = pk__realloc(b->data, b->size, cap);
		PK_CHECK_ALLOC(nd, s->err);
		b->data = nd;
		b->capacity = cap;
	}
	memcpy(b->data + b->size, data, size);
	b->size += size;
	return 0;
}

void pk__buffer_sink_init(pk__buffer_sink *b, pk_error *err)
{
	*b = (pk__buffer_sink){{buffer_write, err}, NULL, 0, 0};
}

void pk__buffer_sink_release(pk__buffer_sink *b)
{
	pk__free(b->data);
	b->data = NULL;
	b->size = b->capacity = 0;
}

struct pk__gzip_sink {
	pk__sink base;
	pk__sink *next;
	z_stream z;
	unsigned char out[IO_CHUNK];
};

static int gzip_pump(pk__gzip_sink *g, int flush)
{
	int zr;
	do {
		g->z.next_out = g->out;
		g->z.avail_out = sizeof g->out;
		zr = deflate(&g->z, flush);
		if (zr == Z_STREAM_ERROR)
			return pk__error_set(g->base.err, PK_EIO, "gzip compression failed");
		PK_FORWARD(pk__sink_write(g->next, g->out, sizeof g->out - g->z.avail_out));
	} while (g->z.avail_out == 0 || (flush == Z_FINISH && zr != Z_STREAM_END));
	return 0;
}

static int gzip_write(pk__sink *s, const void *data, size_t size)
{
	pk__gzip_sink *g = (pk__gzip_sink *)s;
	const unsigned char *p = data;
	while (size > 0) {
		uInt n = size > (1u << 30) ? (1u << 30) : (uInt)size;
		g->z.next_in = (unsigned char *)p;
		g->z.avail_in = n;
		PK_FORWARD(gzip_pump(g, Z_NO_FLUSH));
		p += n;
		size -= n;
	}
	return 0;
}

int pk__gzip_sink_new(pk__sink *next, pk_error *err, pk__gzip_sink **out)
{
	pk__gzip_sink *g = pk__calloc(1, sizeof *g);
	PK_CHECK_ALLOC(g, err);
	g->base = (pk__sink){gzip_write, err};
	g->next = next;
	g->z.zalloc = zalloc;
	g->z.zfree = zfree;
	/* Level 1, as Go's runtime/pprof writes profiles: profiles are mostly
	 * varints that level 6 shrinks only a few percent more (4% on the
	 * benchmark's), at several times the time. */
	if (deflateInit2(&g->z, Z_BEST_SPEED, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) !=
	    Z_OK) {
		pk__free(g);
		return pk__error_set(err, PK_ENOMEM, "out of memory");
	}
	*out = g;
	return 0;
}

pk__sink *pk__gzip_sink_base(pk__gzip_sink *g)
{
	return &g->base;
}

int pk__gzip_sink_finish(pk__gzip_sink *g)
{
	g->z.next_in = NULL;
	g->z.avail_in = 0;
	return gzip_pump(g, Z_FINISH);
}

void pk__gzip_sink_free(pk__gzip_sink *g)
{
	if (g == NULL)
		return;
	deflateEnd(&g->z);
	pk__free(g);
}

/* Three ways to the output: stdout and files that are not regular (a
 * device, a FIFO) get the whole output at commit, from memory, since they
 * cannot be renamed over; regular files get a temporary file beside them
 * that is renamed over them at commit. The temporary file is an unnamed
 * O_TMPFILE where the file system allows, so a killed process leaves
 * nothing behind; elsewhere a named one. */
struct pk__file_sink {
	pk__sink base;
	char *target;  /* the file written; NULL for stdout */
	bool buffered; /* stdout or not a regular file: output waits in pending */
	pk__buffer_sink pending;
	FILE *fp;       /* the temporary file */
	bool anonymous; /* fp is an O_TMPFILE, not yet linked */
	char *tmp_path; /* its name, once it has one */
	mode_t mode;    /* of the file it replaces, or 0 */
	pk__progress progress;
	uint64_t written;
};

void pk__file_sink_set_progress(pk__file_sink *f, pk__progress progress)
{
	f->progress = progress;
}

static int file_write(pk__sink *s, const void *data, size_t size)
{
	pk__file_sink *f = (pk__file_sink *)s;
	if (f->progress.fn && (f->written >> 20) != ((f->written + size) >> 20))
		f->progress.fn(f->progress.ctx, "writing", f->written + size, 0);
	f->written += size;
	if (f->buffered)
		return pk__sink_write(&f->pending.base, data, size);
	if (fwrite(data, 1, size, f->fp) != size)
		return pk__error_set(s->err, PK_EIO, "cannot write: %s", strerror(errno));
	return 0;
}

/* Fresh names beside the target, one per try, until create takes one that
 * is not taken yet; f->tmp_path keeps the last name (NULL if out of
 * memory). Returns create's result: -1 with errno when all failed. */
static int take_temp_name(pk__file_sink *f, int (*create)(const char *path, void *ctx), void *ctx)
{
	size_t n = strlen(f->target) + 64;
	f->tmp_path = pk__malloc(n);
	if (f->tmp_path == NULL)
		return -1;
	int rc = -1;
	for (unsigned tries = 0; tries < 100; tries++) {
		snprintf(f->tmp_path, n, "%s.tmp%ld.%lx.%u", f->target, (long)getpid(),
		         (unsigned long)time(NULL), tries);
		rc = create(f->tmp_path, ctx);
		if (rc >= 0 || errno != EEXIST)
			break;
	}
	return rc;
}

/* O_EXCL with a new name each try, which unlike mkstemp keeps the umask's
 * permissions. */
static int create_exclusive(const char *path, void *ctx)
{
	(void)ctx;
	return open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
}

static int open_named_temp(pk__file_sink *f)
{
	return take_temp_name(f, create_exclusive, NULL);
}

static int open_temp(pk__file_sink *f)
{
#ifdef O_TMPFILE
	/* The file is named at commit through /proc, which a chroot or a
	 * minimal sandbox may lack. */
	if (access("/proc/self/fd", X_OK) != 0)
		return open_named_temp(f);
	char *slash = strrchr(f->target, '/');
	const char *dir = ".";
	if (slash == f->target)
		dir = "/";
	else if (slash != NULL)
		*slash = '\0', dir = f->target;
	int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
	if (slash != NULL)
		*slash = '/';
	if (fd >= 0) {
		f->anonymous = true;
		return fd;
	}
	/* Not every file system has O_TMPFILE; a missing folder fails below too. */
#endif
	return open_named_temp(f);
}

/* Where writing to path should go (ours to free): a symbolic link is
 * written through, not over, even when its target does not exist yet. */
static char *link_target(const char *path)
{
	char *resolved = realpath(path, NULL); /* malloc's, not ours */
	if (resolved != NULL) {
		char *target = pk__strdup(resolved);
		free(resolved);
		return target;
	}
	char link[4096];
	ssize_t n = readlink(path, link, sizeof link - 1);
	if (n <= 0 || (size_t)n >= sizeof link - 1)
		return pk__strdup(path);
	link[n] = '\0';
	const char *slash = strrchr(path, '/');
	if (link[0] == '/' || slash == NULL)
		return pk__strdup(link);
	/* A relative link is relative to the folder that holds it. */
	size_t dir = (size_t)(slash - path) + 1;
	char *target = pk__malloc(dir + (size_t)n + 1);
	if (target != NULL) {
		memcpy(target, path, dir);
		memcpy(target + dir, link, (size_t)n + 1);
	}
	return target;
}

int pk__file_sink_open(const char *path, pk_error *err, pk__file_sink **out)
{
	pk__file_sink *f = pk__calloc(1, sizeof *f);
	PK_CHECK_ALLOC(f, err);
	f->base = (pk__sink){file_write, err};
	pk__buffer_sink_init(&f->pending, err);
	if (strcmp(path, "-") == 0) {
		f->buffered = true;
		*out = f;
		return 0;
	}
	f->target = link_target(path);
	if (f->target == NULL) {
		pk__file_sink_abort(f);
		return pk__error_set(err, PK_ENOMEM, "out of memory");
	}
	struct stat st;
	if (stat(f->target, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			pk__file_sink_abort(f);
			return pk__error_set(err, PK_EIO, "cannot write: it is a directory");
		}
		if (access(f->target, W_OK) != 0) {
			int e = errno;
			pk__file_sink_abort(f);
			return pk__error_set(err, PK_EIO, "cannot write: %s", strerror(e));
		}
		if (!S_ISREG(st.st_mode)) {
			f->buffered = true;
			*out = f;
			return 0;
		}
		f->mode = st.st_mode & 07777;
	}
	int fd = open_temp(f);
	if (fd < 0 || (f->mode != 0 && fchmod(fd, f->mode) != 0) ||
	    (f->fp = fdopen(fd, "wb")) == NULL) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		if (!f->anonymous && f->tmp_path != NULL && fd >= 0)
			unlink(f->tmp_path);
		pk__free(f->tmp_path);
		f->tmp_path = NULL;
		pk__file_sink_abort(f);
		return pk__error_set(err, PK_EIO, "cannot create the output: %s", strerror(e));
	}
	*out = f;
	return 0;
}

pk__sink *pk__file_sink_base(pk__file_sink *f)
{
	return &f->base;
}

/* Write the whole pending output to stdout or to the file as it is. */
static int write_pending(pk__file_sink *f)
{
	FILE *fp = f->target ? fopen(f->target, "wb") : stdout;
	if (fp == NULL)
		return pk__error_set(f->base.err, PK_EIO, "cannot open: %s", strerror(errno));
	bool ok = fwrite(f->pending.data, 1, f->pending.size, fp) == f->pending.size;
	ok = (f->target ? fclose(fp) : fflush(fp)) == 0 && ok;
	return ok ? 0 : pk__error_set(f->base.err, PK_EIO, "cannot write: %s", strerror(errno));
}

static int create_link(const char *path, void *proc_path)
{
	return linkat(AT_FDCWD, proc_path, AT_FDCWD, path, AT_SYMLINK_FOLLOW);
}

/* Give the anonymous temporary file a name beside the target, through
 * /proc, which needs no privilege. */
static int link_anonymous(pk__file_sink *f)
{
	char proc[64];
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fileno(f->fp));
	if (take_temp_name(f, create_link, proc) == 0) {
		f->anonymous = false;
		return 0;
	}
	if (f->tmp_path == NULL)
		return pk__error_set(f->base.err, PK_ENOMEM, "out of memory");
	int e = errno;
	pk__free(f->tmp_path);
	f->tmp_path = NULL;
	return pk__error_set(f->base.err, PK_EIO, "cannot name the output: %s", strerror(e));
}

int pk__file_sink_commit(pk__file_sink *f)
{
	int rc = 0;
	if (f->buffered) {
		rc = write_pending(f);
	} else {
		if (fflush(f->fp) != 0)
			rc =
			    pk__error_set(f->base.err, PK_EIO, "cannot write: %s", strerror(errno));
		if (rc == 0 && f->anonymous)
			rc = link_anonymous(f);
		if (fclose(f->fp) != 0 && rc == 0)
			rc =
			    pk__error_set(f->base.err, PK_EIO, "cannot write: %s", strerror(errno));
		f->fp = NULL;
		if (rc == 0 && rename(f->tmp_path, f->target) != 0)
			rc = pk__error_set(f->base.err, PK_EIO,
			                   "cannot rename the output into place: %s",
			                   strerror(errno));
	}
	if (rc < 0) {
		pk__file_sink_abort(f);
		return rc;
	}
	pk__buffer_sink_release(&f->pending);
	pk__free(f->target);
	pk__free(f->tmp_path);
	pk__free(f);
	return 0;
}

void pk__file_sink_abort(pk__file_sink *f)
{
	if (f == NULL)
		return;
	if (f->fp != NULL)
		fclose(f->fp);
	if (f->tmp_path != NULL && !f->anonymous)
		unlink(f->tmp_path);
	pk__buffer_sink_release(&f->pending);
	pk__free(f->target);
	pk__free(f->tmp_path);
	pk__free(f);
}
