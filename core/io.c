/* io.c - bytes in and out: whole inputs read into memory and gunzipped on
 * sight; outputs through sinks (memory, gzip, atomically renamed files). */
#include "internal.h"

#include <errno.h>
#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define IO_CHUNK (256 * 1024)
/* What small writes to a sink gather into before they go on. */
#define SINK_BUFFER (64 * 1024)

/* ---------------------------------------------------------------- worker */

/* A second thread for the byte work (read, write) beside the
 * caller's, which hands it one job at a time and waits for it before the
 * next. Jobs touch only their buffers and file descriptors: errors,
 * progress callbacks and allocations stay on the caller's thread, which
 * the caller's error record and allocator may rely on. */
typedef struct worker {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* busy or quit changed */
	pthread_t thread;
	bool started, busy, quit;
	void (*job)(void *ctx);
	void *ctx;
} worker;

static void *worker_main(void *arg)
{
	worker *w = arg;
	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->busy && !w->quit)
			pthread_cond_wait(&w->cond, &w->lock);
		if (!w->busy)
			break;
		pthread_mutex_unlock(&w->lock);
		w->job(w->ctx);
		pthread_mutex_lock(&w->lock);
		w->busy = false;
		pthread_cond_signal(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Lock w once the job handed over is done. */
static void worker_lock_idle(worker *w)
{
	pthread_mutex_lock(&w->lock);
	while (w->busy)
		pthread_cond_wait(&w->cond, &w->lock);
}

/* Until the job handed over is done. */
static void worker_wait(worker *w)
{
	if (!w->started)
		return;
	worker_lock_idle(w);
	pthread_mutex_unlock(&w->lock);
}

/* Hand job(ctx) to the thread, started on the first job; where no thread
 * can start, the job runs here and now. */
static void worker_run(worker *w, void (*job)(void *ctx), void *ctx)
{
	if (!w->started) {
		*w = (worker){0};
		bool ok = pthread_mutex_init(&w->lock, NULL) == 0;
		if (ok && pthread_cond_init(&w->cond, NULL) != 0) {
			pthread_mutex_destroy(&w->lock);
			ok = false;
		}
		if (ok && pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			pthread_cond_destroy(&w->cond);
			pthread_mutex_destroy(&w->lock);
			ok = false;
		}
		if (!ok) {
			job(ctx);
			return;
		}
		w->started = true;
	}
	worker_lock_idle(w);
	w->job = job;
	w->ctx = ctx;
	w->busy = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* Wait for the last job and end the thread. */
static void worker_stop(worker *w)
{
	if (!w->started)
		return;
	worker_lock_idle(w);
	w->quit = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	w->started = false;
}

/* ----------------------------------------------------------------- input */

bool pk__is_gzip(const void *data, size_t size)
{
	const unsigned char *b = data;
	return size >= 2 && b[0] == 0x1f && b[1] == 0x8b;
}

/* A gunzip in progress: ISA-L's inflater, the output so far and its
 * limits. The input comes in pieces (a file a chunk at a time, or a whole
 * buffer), one or more concatenated gzip members as Go's reader takes. */
typedef struct inflater {
	struct inflate_state *state;
	unsigned char *buf;
	size_t len, cap;
	uint64_t max_size;
	bool head;         /* the first max_size bytes are wanted, no more */
	bool done;         /* head has them */
	uint64_t in_total; /* the compressed size if known, else 0 */
	uint64_t pos;      /* compressed bytes taken in */
	bool between;      /* a member ended: another must begin, or nothing */
	unsigned char magic[2];
	size_t magic_len;
	uint64_t member_end; /* where the last member ended */
	pk__input_probe probe;
	pk_error *err;
} inflater;

static int too_large_gunzipped(inflater *g, uint64_t at)
{
	return pk__error_at(g->err, PK_ENOMEM, (long long)at,
	                    "the gunzipped input is larger than the limit of %llu bytes",
	                    (unsigned long long)g->max_size);
}

/* The gzip trailer's ISIZE is the size of a single member's data (modulo
 * 4 GiB), which lets the output be allocated once at its final size. It is
 * only a guess: a file of several members, or a hostile one, may say
 * anything, so the output still grows when it must, and a size deflate
 * cannot reach (over 1032 times the input) is not believed. */
static size_t first_capacity(uint64_t in_size, const unsigned char *isize, uint64_t max_size)
{
	uint64_t cap = in_size < IO_CHUNK / 4 ? IO_CHUNK : in_size * 4;
	if (isize != NULL) {
		uint64_t claimed = (uint64_t)isize[0] | (uint64_t)isize[1] << 8 |
		                   (uint64_t)isize[2] << 16 | (uint64_t)isize[3] << 24;
		/* One byte more than the data, so that the stream's end is seen
		 * before the buffer is full. */
		if (claimed <= in_size * 1032 + 1024)
			cap = claimed + 1;
	}
	/* The limit is only checked when the buffer fills, so it must not
	 * start larger than the limit allows. */
	if (cap > max_size + 1)
		cap = max_size + 1;
	return (size_t)cap;
}

static int gunzip_start(inflater *g, size_t cap, uint64_t max_size, bool head, uint64_t in_total,
                        pk__input_probe probe, pk_error *err)
{
	*g = (inflater){
	    .max_size = max_size, .head = head, .in_total = in_total, .probe = probe, .err = err};
	g->state = pk__malloc(sizeof *g->state);
	PK_CHECK_ALLOC(g->state, err);
	isal_inflate_init(g->state);
	g->state->crc_flag = ISAL_GZIP;
	g->buf = pk__malloc(cap);
	/* A size claimed by the trailer may be more than memory allows (a
	 * hostile one, or a tight ulimit): then it grows as it goes. */
	if (g->buf == NULL && cap > IO_CHUNK)
		g->buf = pk__malloc(cap = IO_CHUNK);
	if (g->buf == NULL) {
		pk__free(g->state);
		g->state = NULL;
		return pk__error_set(err, PK_ENOMEM, "out of memory");
	}
	g->cap = cap;
	return 0;
}

static void gunzip_discard(inflater *g)
{
	pk__free(g->state);
	pk__free(g->buf);
	g->state = NULL;
	g->buf = NULL;
}

/* Room for more output: to the size the rest of the input suggests when
 * its size is known (a file of several members), else twice as much. */
static int gunzip_grow(inflater *g)
{
	if (g->cap > g->max_size)
		return too_large_gunzipped(g, g->pos);
	uint64_t ncap = (uint64_t)g->cap * 2;
	if (g->in_total > g->pos && g->pos > 0) {
		double ratio = (double)g->len / (double)g->pos;
		uint64_t rest = (uint64_t)((double)(g->in_total - g->pos) * ratio * 1.125);
		if (g->len + rest + IO_CHUNK > g->cap + g->cap / 4)
			ncap = g->len + rest + IO_CHUNK;
	}
	if (ncap > g->max_size + 1)
		ncap = g->max_size + 1;
	unsigned char *nbuf = pk__realloc(g->buf, g->len, (size_t)ncap);
	PK_CHECK_ALLOC(nbuf, g->err);
	g->buf = nbuf;
	g->cap = (size_t)ncap;
	return 0;
}

static uint32_t le32(const unsigned char *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* zlib's words for what went wrong, which messages have always used. */
static int corrupt(inflater *g, int isal_rc, const unsigned char *in, size_t taken, uint64_t base)
{
	struct inflate_state *s = g->state;
	/* ISA-L reads ahead into a bit buffer; the bytes still in it were
	 * not taken yet. */
	size_t ahead = (size_t)(s->read_in_length > 0 ? s->read_in_length / 8 : 0);
	size_t at = taken > ahead ? taken - ahead : 0;
	const char *why = "invalid data";
	switch (isal_rc) {
	case ISAL_INVALID_BLOCK: {
		/* A block of the reserved type 3 fails right after its three
		 * header bits: the last two bits read are its type. */
		uint64_t bits =
		    (uint64_t)taken * 8 - (uint64_t)(s->read_in_length > 0 ? s->read_in_length : 0);
		why = "invalid block";
		if (bits >= 2 && bits / 8 < taken + 1) {
			uint64_t b1 = bits - 1, b2 = bits - 2;
			bool t1 = b1 / 8 < taken && (in[b1 / 8] >> (b1 % 8) & 1);
			bool t2 = b2 / 8 < taken && (in[b2 / 8] >> (b2 % 8) & 1);
			if (t1 && t2)
				why = "invalid block type";
		}
		break;
	}
	case ISAL_INVALID_SYMBOL: why = "invalid literal/length or distance code"; break;
	case ISAL_INVALID_LOOKBACK: why = "invalid distance too far back"; break;
	case ISAL_INVALID_WRAPPER: why = "invalid gzip header"; break;
	case ISAL_UNSUPPORTED_METHOD: why = "unknown compression method"; break;
	case ISAL_INCORRECT_CHECKSUM:
		/* The trailer (CRC-32, then the size) was just read; which of
		 * them is wrong? Before the data, it was the header's CRC. */
		why = "header crc mismatch";
		if (s->block_state == ISAL_BLOCK_FINISH && taken >= 8)
			why = le32(in + taken - 8) != s->crc ? "incorrect data check"
			                                     : "incorrect length check";
		else if (s->block_state == ISAL_BLOCK_FINISH)
			why = "incorrect data check";
		break;
	}
	return pk__error_at(g->err, PK_EFORMAT, (long long)(base + at), "corrupt gzip data: %s",
	                    why);
}

/* Inflate in (at most 1 GiB) until it is all taken in or a member ends;
 * *used says how much was taken. */
static int inflate_piece(inflater *g, const unsigned char *in, size_t size, size_t *used)
{
	struct inflate_state *s = g->state;
	s->next_in = (uint8_t *)in;
	s->avail_in = (uint32_t)size;
	*used = 0;
	for (;;) {
		if (g->len == g->cap)
			PK_FORWARD(gunzip_grow(g));
		size_t room = g->cap - g->len;
		if (room > (1u << 30))
			room = 1u << 30;
		s->next_out = g->buf + g->len;
		s->avail_out = (uint32_t)room;
		int rc = isal_inflate(s);
		g->len += room - s->avail_out;
		size_t taken = (size_t)(s->next_in - in);
		*used = taken;
		if (rc < 0)
			return corrupt(g, rc, in, taken, g->pos);
		/* The buffer holds one byte more than the limit, so a stream that
		 * ends exactly as it fills is still too large. */
		if (g->len > g->max_size && g->head) {
			g->len = (size_t)g->max_size;
			g->done = true;
			return 0;
		}
		if (g->len > g->max_size)
			return too_large_gunzipped(g, g->pos + taken);
		if (g->probe != NULL && g->len >= PK_INPUT_PROBE_SIZE) {
			pk__input_probe probe = g->probe;
			g->probe = NULL;
			PK_FORWARD(probe(g->buf, g->len, true, g->err));
		}
		if (s->block_state == ISAL_BLOCK_FINISH) {
			g->between = true;
			g->magic_len = 0;
			g->member_end = g->pos + taken;
			return 0;
		}
		if (s->avail_in == 0 && s->avail_out > 0)
			return 0;
	}
}

/* Take in the next piece of the compressed stream. */
static int gunzip_feed(inflater *g, const unsigned char *data, size_t size)
{
	while (size > 0 && !g->done) {
		size_t used;
		if (g->between) {
			/* Another member must begin here: its magic may come in
			 * two pieces, so it is gathered first. */
			while (g->magic_len < 2 && size > 0) {
				g->magic[g->magic_len++] = *data++;
				size--;
			}
			if (g->magic_len < 2)
				break;
			if (!pk__is_gzip(g->magic, 2))
				return pk__error_at(
				    g->err, PK_EFORMAT, (long long)g->member_end,
				    "unexpected bytes after the end of the gzip stream");
			g->between = false;
			isal_inflate_reset(g->state);
			g->state->crc_flag = ISAL_GZIP;
			/* Two bytes of header: they are taken in, not inflated. */
			int rc = inflate_piece(g, g->magic, 2, &used);
			g->pos += used;
			PK_FORWARD(rc);
			continue;
		}
		size_t n = size > (1u << 30) ? (1u << 30) : size;
		int rc = inflate_piece(g, data, n, &used);
		g->pos += used;
		PK_FORWARD(rc);
		data += used;
		size -= used;
	}
	return 0;
}

/* The input ended: the output is out's (owned), or an error. */
static int gunzip_finish(inflater *g, pk__input *out)
{
	int rc = 0;
	if (g->between && g->magic_len == 1)
		rc = pk__error_at(g->err, PK_EFORMAT, (long long)g->member_end,
		                  "unexpected bytes after the end of the gzip stream");
	else if (!g->between && !g->done)
		rc = pk__error_at(g->err, PK_EFORMAT, (long long)g->pos,
		                  "truncated gzip stream: the input ends before the gzip trailer");
	pk__free(g->state);
	g->state = NULL;
	if (rc < 0) {
		gunzip_discard(g);
		return rc;
	}
	out->data = g->buf;
	out->size = g->len;
	out->was_gzip = true;
	g->buf = NULL;
	return 0;
}

/* Inflate a whole gzip buffer into out, at most max_size bytes: more is an
 * error, or with head set the end of what is wanted. */
static int gunzip(const unsigned char *data, size_t size, uint64_t max_size, bool head,
                  pk__input_probe probe, pk__input *out, pk_error *err)
{
	inflater g;
	size_t cap = first_capacity(size, size >= 18 ? data + size - 4 : NULL, max_size);
	PK_FORWARD(gunzip_start(&g, cap, max_size, head, size, probe, err));
	int rc = gunzip_feed(&g, data, size);
	if (rc < 0) {
		gunzip_discard(&g);
		return rc;
	}
	return gunzip_finish(&g, out);
}

int pk__input_from_buffer(const void *data, size_t size, uint64_t max_size, pk__input_probe probe,
                          pk__input *out, pk_error *err)
{
	if (max_size == 0)
		max_size = PK_DEFAULT_MAX_INPUT;
	*out = (pk__input){0};
	if (pk__is_gzip(data, size))
		return gunzip(data, size, max_size, false, probe, out, err);
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
		return gunzip(data, size, limit, true, NULL, out, NULL);
	size_t n = size < limit ? size : limit;
	out->data = pk__malloc(n);
	if (out->data == NULL)
		return PK_ENOMEM;
	if (n > 0)
		memcpy(out->data, data, n);
	out->size = n;
	return 0;
}

/* read(2) until size bytes or the end: the count read, or -1 with errno. */
static ssize_t read_full(int fd, unsigned char *buf, size_t size)
{
	size_t len = 0;
	while (len < size) {
		ssize_t n = read(fd, buf + len, size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	return (ssize_t)len;
}

static int cannot_read(int e, uint64_t at, pk_error *err)
{
	return pk__error_at(err, PK_EIO, (long long)at, "cannot read: %s", strerror(e));
}

/* A read of fd on the worker: the next chunk comes in while the one
 * before is inflated, which the read's copy would otherwise add to. */
typedef struct chunk_read {
	int fd;
	unsigned char *buf;
	ssize_t got;
	int errno_;
} chunk_read;

static void read_job(void *ctx)
{
	chunk_read *r = ctx;
	r->got = read_full(r->fd, r->buf, IO_CHUNK);
	r->errno_ = r->got < 0 ? errno : 0;
}

/* Gunzip the rest of fd as it is read, a chunk at a time, so that the
 * compressed bytes are never all in memory: chunk (head_len bytes, ours to
 * free) is what was read already. total is the compressed size of a
 * regular file (0 if not known), isize its last four bytes (or NULL). */
static int gunzip_fd(int fd, unsigned char *chunk, size_t head_len, uint64_t total,
                     const unsigned char *isize, uint64_t max_size, pk__input_probe probe,
                     const pk__progress *progress, pk__input *out, pk_error *err)
{
	inflater g;
	size_t cap = first_capacity(total ? total : head_len, isize, max_size);
	int rc = gunzip_start(&g, cap, max_size, false, total, probe, err);
	if (rc < 0) {
		pk__free(chunk);
		return rc;
	}
	/* A short first read was the end: then no thread and no second chunk. */
	chunk_read next = {fd, head_len == IO_CHUNK ? pk__malloc(IO_CHUNK) : NULL, 0, 0};
	worker reader = {0};
	uint64_t in = 0;
	size_t len = head_len;
	if (head_len == IO_CHUNK && next.buf == NULL)
		rc = pk__error_set(err, PK_ENOMEM, "out of memory");
	while (rc == 0 && len > 0) {
		in += len;
		/* Compressed input larger than the limit is refused as plain
		 * input is: a profile's gzip is smaller than its data. */
		if (in > max_size) {
			rc = pk__error_at(err, PK_ENOMEM, (long long)in,
			                  "the input is larger than the limit of %llu bytes",
			                  (unsigned long long)max_size);
			break;
		}
		next.got = 0;
		if (len == IO_CHUNK)
			worker_run(&reader, read_job, &next);
		rc = gunzip_feed(&g, chunk, len);
		worker_wait(&reader);
		if (rc < 0)
			break;
		if (progress && progress->fn)
			progress->fn(progress->ctx, "decompressing", in, total > in ? total : 0);
		if (next.got < 0)
			rc = cannot_read(next.errno_, in, err);
		len = next.got > 0 ? (size_t)next.got : 0;
		unsigned char *t = chunk;
		chunk = next.buf;
		next.buf = t;
	}
	worker_stop(&reader);
	pk__free(chunk);
	pk__free(next.buf);
	if (rc < 0) {
		gunzip_discard(&g);
		return rc;
	}
	return gunzip_finish(&g, out);
}

/* A gzip file inflating on the worker into a buffer of the size its
 * trailer claims, while the caller decodes what is there already (a
 * profile's first messages need not wait for its last). The worker only
 * inflates: on anything but a single member of the claimed size it stops,
 * and pk__input_finish reads the file again the usual way, which says
 * what is wrong or copes with what is unusual (several members). */
typedef struct pk__inflow {
	worker thread;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* ready or stopped changed */
	size_t ready;        /* bytes of data inflated */
	/* ready once it first reached PK_INPUT_PROBE_SIZE, or 0 */
	size_t probe_at;
	bool stopped, ok, quit;
	inflater g;
	unsigned char *chunk;
	size_t chunk_len;
	int fd;
	bool own_fd;
	off_t start; /* where the gzip stream starts in the file */
	uint64_t total, max_size;
	pk__input_probe probe; /* for pk__input_reload; the caller probes the flow */
	unsigned char isize[4];
	const pk__progress *progress;
} pk__inflow;

/* Inputs smaller than this inflate at once: a thread would gain little. */
#define FLOW_MIN ((size_t)1 << 20)

/* Tell the caller how far the worker got; a quit asked for stops it. */
static void flow_publish(pk__inflow *f, size_t ready, bool stopped, bool ok)
{
	pthread_mutex_lock(&f->lock);
	f->ready = ready;
	if (f->probe_at == 0 && ready >= PK_INPUT_PROBE_SIZE)
		f->probe_at = ready;
	f->stopped = stopped || f->quit;
	f->ok = ok;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

/* The worker tells how far it got after each chunk read, as gunzip_fd
 * inflates them, so that the caller probes the same bytes gunzip_fd
 * would; on a failure, as far as the chunk before. */
static void flow_job(void *ctx)
{
	pk__inflow *f = ctx;
	inflater *g = &f->g;
	struct inflate_state *s = g->state;
	size_t len = f->chunk_len;
	for (;;) {
		s->next_in = f->chunk;
		s->avail_in = (uint32_t)len;
		size_t room;
		do {
			room = g->cap - g->len < (1u << 30) ? g->cap - g->len : (1u << 30);
			s->next_out = g->buf + g->len;
			s->avail_out = (uint32_t)room;
			/* A full buffer means the trailer's size was wrong. */
			if (room == 0 || isal_inflate(s) < 0) {
				flow_publish(f, f->ready, true, false);
				return;
			}
			g->len += room - s->avail_out;
		} while (s->block_state != ISAL_BLOCK_FINISH && s->avail_out == 0);
		/* At the end there must be nothing more, in this chunk or the
		 * file. */
		bool end = s->block_state == ISAL_BLOCK_FINISH;
		bool ok = end && s->avail_in == 0 && read_full(f->fd, f->chunk, 1) == 0;
		flow_publish(f, g->len, end, ok);
		if (f->stopped)
			return;
		ssize_t n = read_full(f->fd, f->chunk, IO_CHUNK);
		if (n <= 0) {
			flow_publish(f, f->ready, true, false);
			return;
		}
		len = (size_t)n;
	}
}

/* Start inflating fd on the worker when it is worth it: chunk (len bytes)
 * was read from start already and stays ours either way. Returns false if
 * the file goes the usual way. */
static bool flow_start(int fd, bool own_fd, off_t start, unsigned char *chunk, size_t len,
                       uint64_t total, const unsigned char *isize, uint64_t max_size,
                       pk__input_probe probe, const pk__progress *progress, pk__input *out)
{
	size_t cap = first_capacity(total, isize, max_size);
	if (len != IO_CHUNK || isize == NULL || cap < FLOW_MIN || cap != le32(isize) + (size_t)1)
		return false;
	pk__inflow *f = pk__malloc(sizeof *f);
	if (f == NULL)
		return false;
	*f = (pk__inflow){.chunk = chunk,
	                  .chunk_len = len,
	                  .fd = fd,
	                  .own_fd = own_fd,
	                  .start = start,
	                  .total = total,
	                  .max_size = max_size,
	                  .probe = probe,
	                  .progress = progress};
	memcpy(f->isize, isize, 4);
	if (gunzip_start(&f->g, cap, max_size, false, total, NULL, NULL) < 0 || f->g.cap != cap) {
		gunzip_discard(&f->g);
		pk__free(f);
		return false;
	}
	bool ok = pthread_mutex_init(&f->lock, NULL) == 0;
	if (ok && pthread_cond_init(&f->cond, NULL) != 0) {
		pthread_mutex_destroy(&f->lock);
		ok = false;
	}
	if (!ok) {
		gunzip_discard(&f->g);
		pk__free(f);
		return false;
	}
	worker_run(&f->thread, flow_job, f);
	*out = (pk__input){.data = f->g.buf, .was_gzip = true, .flow = f};
	return true;
}

/* The bar, on the caller's thread: bytes inflated of the trailer's size. */
static void flow_progress(const pk__inflow *f, size_t ready)
{
	if (f->progress && f->progress->fn)
		f->progress->fn(f->progress->ctx, "decompressing", ready, le32(f->isize));
}

size_t pk__input_wait(pk__input *in, size_t want)
{
	pk__inflow *f = in->flow;
	if (in->size > 0 || f == NULL)
		return in->size;
	pthread_mutex_lock(&f->lock);
	while (f->ready < want && !f->stopped)
		pthread_cond_wait(&f->cond, &f->lock);
	size_t n = f->ready;
	pthread_mutex_unlock(&f->lock);
	flow_progress(f, n);
	return n;
}

bool pk__input_inflated(pk__input *in)
{
	pk__inflow *f = in->flow;
	if (in->size > 0 || f == NULL)
		return true;
	pthread_mutex_lock(&f->lock);
	bool done = f->stopped && f->ok;
	pthread_mutex_unlock(&f->lock);
	return done;
}

size_t pk__input_probe_size(pk__input *in)
{
	pk__inflow *f = in->flow;
	pthread_mutex_lock(&f->lock);
	while (f->probe_at == 0 && !f->stopped)
		pthread_cond_wait(&f->cond, &f->lock);
	size_t n = f->probe_at;
	pthread_mutex_unlock(&f->lock);
	return n;
}

size_t pk__input_claimed_size(const pk__input *in)
{
	return le32(in->flow->isize);
}

/* Stop the worker (at once with quit). */
static void flow_stop(pk__inflow *f, bool quit)
{
	pthread_mutex_lock(&f->lock);
	f->quit = f->quit || quit;
	pthread_mutex_unlock(&f->lock);
	worker_stop(&f->thread);
}

int pk__input_reload(pk__input *in, pk_error *err)
{
	pk__inflow *f = in->flow;
	flow_stop(f, true);
	gunzip_discard(&f->g);
	in->data = NULL;
	in->size = 0;
	ssize_t n = -1;
	if (lseek(f->fd, f->start, SEEK_SET) == f->start)
		n = read_full(f->fd, f->chunk, IO_CHUNK);
	if (n < 0)
		return cannot_read(errno, 0, err);
	unsigned char *chunk = f->chunk;
	f->chunk = pk__malloc(IO_CHUNK);
	if (f->chunk == NULL) {
		pk__free(chunk);
		return pk__error_set(err, PK_ENOMEM, "out of memory");
	}
	pk__input whole;
	PK_FORWARD(gunzip_fd(f->fd, chunk, (size_t)n, f->total, f->isize, f->max_size, f->probe,
	                     f->progress, &whole, err));
	in->data = whole.data;
	in->size = whole.size;
	return 0;
}

int pk__input_finish(pk__input *in, pk_error *err)
{
	pk__inflow *f = in->flow;
	if (in->size > 0)
		return 0;
	/* The bar moves with each chunk inflated until the worker stops. */
	pthread_mutex_lock(&f->lock);
	while (!f->stopped) {
		size_t ready = f->ready;
		pthread_mutex_unlock(&f->lock);
		flow_progress(f, ready);
		pthread_mutex_lock(&f->lock);
		while (f->ready == ready && !f->stopped)
			pthread_cond_wait(&f->cond, &f->lock);
	}
	pthread_mutex_unlock(&f->lock);
	flow_stop(f, false);
	if (!f->ok)
		return pk__input_reload(in, err);
	in->size = f->g.len;
	if (f->progress && f->progress->fn)
		f->progress->fn(f->progress->ctx, "decoding", 0, in->size);
	return 0;
}

static void flow_free(pk__inflow *f)
{
	flow_stop(f, true);
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->lock);
	pk__free(f->g.state);
	pk__free(f->chunk);
	if (f->own_fd)
		close(f->fd);
	pk__free(f);
}

/* Read all of fd into memory, at most max_size bytes; head (head_len
 * bytes, ours to free) is what was read already. Plain data from a pipe or
 * device is probed as it comes. */
static int read_all(int fd, unsigned char *head, size_t head_len, uint64_t total, uint64_t max_size,
                    pk__input_probe probe, const pk__progress *progress, pk__input *out,
                    pk_error *err)
{
	size_t cap = IO_CHUNK, len = head_len;
	/* A regular file's size bounds the read already: one exact read. */
	if (total > 0) {
		probe = NULL;
		if (total < max_size)
			cap = (size_t)total + 1;
	}
	/* The limit is only checked when the buffer fills, so it must not
	 * start larger than the limit allows. */
	if (cap > max_size)
		cap = (size_t)max_size + 1;
	if (cap < len)
		cap = len;
	unsigned char *buf = pk__realloc(head, head_len, cap);
	if (buf == NULL) {
		pk__free(head);
		return pk__error_set(err, PK_ENOMEM, "out of memory");
	}
	int rc = 0;
	for (;;) {
		if (len == cap) {
			if (cap > max_size) {
				rc =
				    pk__error_at(err, PK_ENOMEM, (long long)len,
				                 "the input is larger than the limit of %llu bytes",
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
		if (probe != NULL && len >= PK_INPUT_PROBE_SIZE) {
			rc = probe(buf, len, false, err);
			probe = NULL;
			if (rc < 0)
				break;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = cannot_read(errno, len, err);
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (progress && progress->fn)
			progress->fn(progress->ctx, "reading", len, total > len ? total : len);
	}
	if (rc < 0) {
		pk__free(buf);
		return rc;
	}
	out->data = buf;
	out->size = len;
	return 0;
}

int pk__input_read_path(const char *path, uint64_t max_size, pk__input_probe probe, pk__input *out,
                        pk_error *err)
{
	return pk__input_read_path_progress(path, max_size, probe, NULL, false, out, err);
}

/* What is left of a regular file from where fd is (stdin may be part way
 * in), and its last four bytes (a gzip member's size) in isize; 0 if fd is
 * not a regular file. */
static uint64_t regular_size(int fd, const struct stat *st, unsigned char isize[4], bool *has_isize)
{
	*has_isize = false;
	if (!S_ISREG(st->st_mode))
		return 0;
	off_t at = lseek(fd, 0, SEEK_CUR);
	if (at < 0 || at > st->st_size)
		return 0;
	uint64_t left = (uint64_t)(st->st_size - at);
	if (left >= 18 && pread(fd, isize, 4, st->st_size - 4) == 4)
		*has_isize = true;
	return left;
}

/* Map the rest of a regular file (total bytes from where fd is) instead of
 * reading it: the importer reads the page cache in place, and pages it has
 * passed can be given back (pk__discard_pages) and come back from the file
 * if it looks again, so a text larger than the model need not be whole in
 * memory. A file cut short while it is mapped faults, as any mapped file
 * does. Returns false (nothing done) if it cannot be mapped. */
static bool map_rest(int fd, const struct stat *st, uint64_t total, pk__input *out)
{
	long page = sysconf(_SC_PAGESIZE);
	off_t start = st->st_size - (off_t)total;
	off_t from = start - start % (page > 0 ? page : 4096);
	if ((uint64_t)(st->st_size - from) > SIZE_MAX)
		return false;
	size_t len = (size_t)(st->st_size - from);
	void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, from);
	if (map == MAP_FAILED)
		return false;
	out->data = (unsigned char *)map + (start - from);
	out->size = (size_t)total;
	out->map = map;
	out->map_size = len;
	return true;
}

int pk__input_read_path_progress(const char *path, uint64_t max_size, pk__input_probe probe,
                                 const pk__progress *progress, bool may_flow, pk__input *out,
                                 pk_error *err)
{
	if (max_size == 0)
		max_size = PK_DEFAULT_MAX_INPUT;
	*out = (pk__input){0};
	bool is_stdin = strcmp(path, "-") == 0;
	int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pk__error_at(err, PK_EIO, 0, "cannot open: %s", strerror(errno));
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		rc = pk__error_at(err, PK_EIO, 0, "cannot read: it is a directory");
	} else {
		unsigned char isize[4];
		bool has_isize = false;
		uint64_t total = regular_size(fd, &st, isize, &has_isize);
		/* The first bytes say whether it is gzip; a gzip stream then
		 * goes through chunks as it is read. */
		unsigned char *chunk = pk__malloc(IO_CHUNK);
		ssize_t n = chunk ? read_full(fd, chunk, IO_CHUNK) : 0;
		if (chunk == NULL) {
			rc = pk__error_set(err, PK_ENOMEM, "out of memory");
		} else if (n < 0) {
			rc = cannot_read(errno, 0, err);
			pk__free(chunk);
		}
		/* flow_start, gunzip_fd and read_all take the chunk over. */
		else if (pk__is_gzip(chunk, (size_t)n) && may_flow &&
		         flow_start(fd, !is_stdin, (off_t)(st.st_size - (off_t)total), chunk,
		                    (size_t)n, total, has_isize ? isize : NULL, max_size, probe,
		                    progress, out))
			return 0;
		else if (pk__is_gzip(chunk, (size_t)n))
			rc = gunzip_fd(fd, chunk, (size_t)n, total, has_isize ? isize : NULL,
			               max_size, probe, progress, out, err);
		else if (total > (uint64_t)n && total <= max_size &&
		         map_rest(fd, &st, total, out)) {
			pk__free(chunk);
			if (progress && progress->fn)
				progress->fn(progress->ctx, "reading", total, total);
		} else
			rc = read_all(fd, chunk, (size_t)n, total, max_size, probe, progress, out,
			              err);
	}
	if (!is_stdin)
		close(fd);
	return rc;
}

void pk__input_release(pk__input *in)
{
	if (in->flow != NULL)
		flow_free(in->flow);
	if (in->map != NULL)
		munmap(in->map, in->map_size);
	else
		pk__free(in->data);
	*in = (pk__input){0};
}

/* ----------------------------------------------------------------- sinks */

int pk__sink_write_slow(pk__sink *s, const void *data, size_t size)
{
	if (size == 0)
		return 0;
	if (s->cap == 0)
		return s->write(s, data, size);
	/* Fill the buffer up and pass it on whole; what is left goes in the
	 * buffer too, or straight on when it is a block by itself. */
	size_t room = s->cap - s->len;
	memcpy(s->buf + s->len, data, room);
	s->len = s->cap;
	data = (const unsigned char *)data + room;
	size -= room;
	PK_FORWARD(pk__sink_flush(s));
	if (size >= s->cap)
		return s->write(s, data, size);
	memcpy(s->buf, data, size);
	s->len = size;
	return 0;
}

int pk__sink_flush(pk__sink *s)
{
	if (s->len == 0)
		return 0;
	size_t n = s->len;
	s->len = 0;
	return s->write(s, s->buf, n);
}

int pk__sink_puts(pk__sink *s, const char *str)
{
	return pk__sink_write(s, str, strlen(str));
}

int pk__sink_printf(pk__sink *s, const char *fmt, ...)
{
	va_list ap;
	/* Straight into the sink's buffer when it fits there. */
	size_t room = s->cap - s->len;
	if (room > 0) {
		va_start(ap, fmt);
		int n = vsnprintf((char *)s->buf + s->len, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			return pk__error_set(s->err, PK_EINVAL, "bad format string");
		if ((size_t)n < room) {
			s->len += (size_t)n;
			return 0;
		}
	}
	char small[512];
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
	/* Its writes are copies already: no buffer in front. */
	*b = (pk__buffer_sink){{buffer_write, err, NULL, 0, 0}, NULL, 0, 0};
}

void pk__buffer_sink_release(pk__buffer_sink *b)
{
	pk__free(b->data);
	b->data = NULL;
	b->size = b->capacity = 0;
}

/* ISA-L's level 2. On the benchmark's medium profile (22.3 MB of pprof)
 * levels 1, 2 and 3 write 13.80, 13.43 and 13.37 MB in 46, 51 and 65 ms;
 * zlib's level 1, which Go's runtime/pprof writes, 13.69 MB in 540 ms. */
#define GZIP_LEVEL 2
#define GZIP_LEVEL_BUF ISAL_DEF_LVL2_DEFAULT

/* Deflate costs more than the pprof encoder, so the output is cut into
 * blocks that threads deflate while the encoder fills the next. Each
 * block has the 32 KiB before it as its dictionary and ends byte-aligned
 * (a sync flush), so the blocks' output joins into one deflate stream of
 * the same size as a single thread's (13.42 MB on medium). When every
 * slot is taken the caller deflates a queued block itself rather than
 * sleep: a thread handed one block at a time in turn waited for each
 * wake-up (two cores: both idle a quarter of the export). Like the
 * worker's jobs, deflating touches only the blocks; errors, writes and
 * allocations stay on the caller's thread. */
#define GZIP_BLOCK ((size_t)256 * 1024)
#define GZIP_DICT ((size_t)ISAL_DEF_HIST_SIZE)
/* A block's deflate output; a block whose output does not fit is deflated
 * again on the caller's thread, written out as it goes. */
#define GZIP_OUT (GZIP_BLOCK + GZIP_BLOCK / 8)
/* Threads beside the caller's, at most one fewer than the cores. */
#define GZIP_DEFLATERS 2
/* Blocks in the sink at once: the one being filled and those queued,
 * in deflate or deflated but not yet passed on in order. */
#define GZIP_SLOTS 3

typedef struct deflate_stream {
	struct isal_zstream z;
	unsigned char *level_buf;
} deflate_stream;

/* A block's state, under the sink's lock once handed over. */
enum { BLOCK_QUEUED, BLOCK_DONE, BLOCK_FULL, BLOCK_REFUSED };

typedef struct gzip_block {
	unsigned char *in;  /* its bytes, after dict bytes of dictionary */
	unsigned char *out; /* GZIP_OUT bytes */
	size_t n, dict, out_len;
	bool last;
	int state;
} gzip_block;

struct pk__gzip_sink {
	pk__sink base; /* its buffer is the slot being filled, after its dictionary */
	pk__sink *next;
	unsigned char *slots; /* GZIP_SLOTS of GZIP_DICT + GZIP_BLOCK + GZIP_OUT bytes */
	gzip_block block[GZIP_SLOTS];
	/* Blocks by number: [passed, taken) are being deflated or deflated,
	 * [taken, filled) wait for a thread, and filled is being filled. */
	uint64_t passed, taken, filled;
	size_t dict;        /* dictionary bytes before base.buf */
	uint32_t crc, size; /* of the input so far, for the trailer */
	deflate_stream own; /* the caller's, which deflates rather than waits */
	deflate_stream d[GZIP_DEFLATERS];
	int threads, started;
	pthread_t thread[GZIP_DEFLATERS];
	pthread_mutex_t lock;
	pthread_cond_t work, done; /* a block queued or quit; a block deflated */
	int idle;                  /* threads waiting for work */
	bool waiting, quit;        /* the caller waits for done; the threads are to end */
};

static gzip_block *gzip_block_of(pk__gzip_sink *g, uint64_t b)
{
	return &g->block[b % GZIP_SLOTS];
}

static bool deflated(const struct isal_zstream *z)
{
	return z->avail_in == 0 && z->avail_out > 0 &&
	       (!z->end_of_stream || z->internal_state.state == ZSTATE_END);
}

/* Deflate z's input into its output until one of them ends. */
static bool deflate_more(struct isal_zstream *z)
{
	do {
		if (isal_deflate(z) != COMP_OK)
			return false;
	} while (z->avail_out > 0 && !deflated(z));
	return true;
}

/* Start deflating b into its output with a fresh stream primed with its
 * dictionary. */
static bool deflate_start(deflate_stream *s, gzip_block *b)
{
	struct isal_zstream *z = &s->z;
	isal_deflate_reset(z);
	z->next_in = b->in;
	z->avail_in = (uint32_t)b->n;
	z->flush = b->last ? NO_FLUSH : SYNC_FLUSH;
	z->end_of_stream = b->last;
	z->next_out = b->out;
	z->avail_out = GZIP_OUT;
	return (b->dict == 0 ||
	        isal_deflate_set_dict(z, b->in - b->dict, (uint32_t)b->dict) == COMP_OK) &&
	       deflate_more(z);
}

/* Deflate b, on any thread; its state to set under the lock. */
static int deflate_block(deflate_stream *s, gzip_block *b)
{
	if (!deflate_start(s, b))
		return BLOCK_REFUSED;
	b->out_len = (size_t)(s->z.next_out - b->out);
	return deflated(&s->z) ? BLOCK_DONE : BLOCK_FULL;
}

static void *deflate_thread(void *arg)
{
	pk__gzip_sink *g = arg;
	pthread_mutex_lock(&g->lock);
	deflate_stream *s = &g->d[g->started++];
	for (;;) {
		while (!g->quit && g->taken == g->filled) {
			g->idle++;
			pthread_cond_wait(&g->work, &g->lock);
			g->idle--;
		}
		if (g->quit)
			break;
		gzip_block *b = gzip_block_of(g, g->taken++);
		pthread_mutex_unlock(&g->lock);
		int state = deflate_block(s, b);
		pthread_mutex_lock(&g->lock);
		b->state = state;
		if (g->waiting)
			pthread_cond_signal(&g->done);
	}
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

/* Pass block b's output on, after deflating it here again when it did not
 * fit its output buffer. */
static int gzip_pass_on(pk__gzip_sink *g, gzip_block *b)
{
	if (b->state == BLOCK_DONE)
		return pk__sink_write(g->next, b->out, b->out_len);
	struct isal_zstream *z = &g->own.z;
	bool ok = b->state == BLOCK_FULL && deflate_start(&g->own, b);
	while (ok) {
		PK_FORWARD(pk__sink_write(g->next, b->out, (size_t)(z->next_out - b->out)));
		if (deflated(z))
			return 0;
		z->next_out = b->out;
		z->avail_out = GZIP_OUT;
		ok = deflate_more(z);
	}
	return pk__error_set(g->base.err, PK_EIO, "gzip compression failed");
}

/* Until at most keep blocks are left in the sink: pass deflated blocks on
 * in order, and deflate queued ones here rather than wait for a thread. */
static int gzip_settle(pk__gzip_sink *g, uint64_t keep)
{
	int rc = 0;
	pthread_mutex_lock(&g->lock);
	while (rc == 0 && g->filled - g->passed > keep) {
		gzip_block *b = gzip_block_of(g, g->passed);
		if (g->passed < g->taken && b->state != BLOCK_QUEUED) {
			pthread_mutex_unlock(&g->lock);
			rc = gzip_pass_on(g, b);
			pthread_mutex_lock(&g->lock);
			g->passed++;
		} else if (g->taken < g->filled) {
			b = gzip_block_of(g, g->taken++);
			pthread_mutex_unlock(&g->lock);
			int state = deflate_block(&g->own, b);
			pthread_mutex_lock(&g->lock);
			b->state = state;
		} else {
			g->waiting = true;
			pthread_cond_wait(&g->done, &g->lock);
			g->waiting = false;
		}
	}
	pthread_mutex_unlock(&g->lock);
	return rc;
}

/* Start the threads, as many as there are other cores this thread may
 * run on; fewer if they cannot start, the caller's thread deflating what
 * they would. */
static void gzip_start_threads(pk__gzip_sink *g)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
#ifdef CPU_COUNT
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) == 0)
		cores = CPU_COUNT(&set);
#endif
	int n = cores > GZIP_DEFLATERS ? GZIP_DEFLATERS : cores > 1 ? (int)cores - 1 : 0;
	int i = 0;
	while (i < n && pthread_create(&g->thread[i], NULL, deflate_thread, g) == 0)
		i++;
	g->threads = i;
}

/* Queue the n bytes of the slot being filled (the output's end with last)
 * and start filling the next one, once it is free. */
static int gzip_hand_over(pk__gzip_sink *g, size_t n, bool last)
{
	if (g->filled == 0) {
		/* gzip's header, as ISA-L writes it */
		static const unsigned char header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
		PK_FORWARD(pk__sink_write(g->next, header, sizeof header));
		/* Output that fits one block needs no thread. */
		if (!last)
			gzip_start_threads(g);
	}
	unsigned char *in = g->base.buf;
	g->crc = crc32_gzip_refl(g->crc, in, n);
	g->size += (uint32_t)n;
	gzip_block *b = gzip_block_of(g, g->filled);
	b->n = n;
	b->dict = g->dict;
	b->last = last;
	b->state = BLOCK_QUEUED;
	pthread_mutex_lock(&g->lock);
	g->filled++;
	if (g->idle > 0)
		pthread_cond_signal(&g->work);
	pthread_mutex_unlock(&g->lock);
	PK_FORWARD(gzip_settle(g, last ? 0 : GZIP_SLOTS - 1));
	if (last)
		return 0;
	/* The next block's dictionary: the end of this one and, when it is
	 * short, of the dictionary before it. */
	size_t dict = n + g->dict < GZIP_DICT ? n + g->dict : GZIP_DICT;
	unsigned char *next = gzip_block_of(g, g->filled)->in;
	memcpy(next - dict, in + n - dict, dict);
	g->dict = dict;
	g->base.buf = next;
	return 0;
}

/* A write from outside a sink's buffer, for the sinks that hand their
 * buffer to the worker (which cannot read the caller's memory after the
 * call): through the buffer, a piece at a time. */
static int write_through_buffer(pk__sink *s, const unsigned char *data, size_t size)
{
	while (size >= s->cap) {
		memcpy(s->buf, data, s->cap);
		s->len = s->cap;
		PK_FORWARD(pk__sink_flush(s));
		data += s->cap;
		size -= s->cap;
	}
	memcpy(s->buf, data, size);
	s->len = size;
	return 0;
}

static int gzip_write(pk__sink *s, const void *data, size_t size)
{
	pk__gzip_sink *g = (pk__gzip_sink *)s;
	if (data == s->buf)
		return gzip_hand_over(g, size, false);
	return write_through_buffer(s, data, size);
}

static bool deflate_stream_init(deflate_stream *s)
{
	s->level_buf = pk__malloc(GZIP_LEVEL_BUF);
	isal_deflate_init(&s->z);
	s->z.gzip_flag = IGZIP_DEFLATE;
	s->z.level = GZIP_LEVEL;
	s->z.level_buf = s->level_buf;
	s->z.level_buf_size = GZIP_LEVEL_BUF;
	return s->level_buf != NULL;
}

int pk__gzip_sink_new(pk__sink *next, pk_error *err, pk__gzip_sink **out)
{
	pk__gzip_sink *g = pk__calloc(1, sizeof *g);
	PK_CHECK_ALLOC(g, err);
	if (pthread_mutex_init(&g->lock, NULL) != 0) {
		pk__free(g);
		return pk__error_set(err, PK_ENOMEM, "out of memory");
	}
	pthread_cond_init(&g->work, NULL);
	pthread_cond_init(&g->done, NULL);
	const size_t slot = GZIP_DICT + GZIP_BLOCK + GZIP_OUT;
	g->slots = pk__malloc(GZIP_SLOTS * slot);
	bool ok = g->slots != NULL && deflate_stream_init(&g->own);
	for (int i = 0; i < GZIP_DEFLATERS && ok; i++)
		ok = deflate_stream_init(&g->d[i]);
	if (!ok) {
		pk__gzip_sink_free(g);
		return pk__error_set(err, PK_ENOMEM, "out of memory");
	}
	for (int i = 0; i < GZIP_SLOTS; i++) {
		g->block[i].in = g->slots + (size_t)i * slot + GZIP_DICT;
		g->block[i].out = g->block[i].in + GZIP_BLOCK;
	}
	g->base = (pk__sink){gzip_write, err, g->block[0].in, 0, GZIP_BLOCK};
	g->next = next;
	*out = g;
	return 0;
}

pk__sink *pk__gzip_sink_base(pk__gzip_sink *g)
{
	return &g->base;
}

int pk__gzip_sink_finish(pk__gzip_sink *g)
{
	size_t n = g->base.len;
	g->base.len = 0;
	PK_FORWARD(gzip_hand_over(g, n, true));
	unsigned char trailer[8];
	for (int i = 0; i < 4; i++) {
		trailer[i] = (unsigned char)(g->crc >> 8 * i);
		trailer[4 + i] = (unsigned char)(g->size >> 8 * i);
	}
	return pk__sink_write(g->next, trailer, sizeof trailer);
}

void pk__gzip_sink_free(pk__gzip_sink *g)
{
	if (g == NULL)
		return;
	pthread_mutex_lock(&g->lock);
	g->quit = true;
	pthread_cond_broadcast(&g->work);
	pthread_mutex_unlock(&g->lock);
	for (int i = 0; i < g->threads; i++)
		pthread_join(g->thread[i], NULL);
	pthread_cond_destroy(&g->work);
	pthread_cond_destroy(&g->done);
	pthread_mutex_destroy(&g->lock);
	pk__free(g->own.level_buf);
	for (int i = 0; i < GZIP_DEFLATERS; i++)
		pk__free(g->d[i].level_buf);
	pk__free(g->slots);
	pk__free(g);
}

/* Three ways to the output: stdout and files that are not regular (a
 * device, a FIFO) get the whole output at commit, from memory, since they
 * cannot be renamed over; regular files get a temporary file beside them
 * that is renamed over them at commit. The temporary file is an unnamed
 * O_TMPFILE where the file system allows, so a killed process leaves
 * nothing behind; elsewhere a named one. */
struct pk__file_sink {
	pk__sink base; /* its buffer: chunk, then blocks[filling] */
	char *target;  /* the file written; NULL for stdout */
	bool buffered; /* stdout or not a regular file: output waits in pending */
	pk__buffer_sink pending;
	int fd;         /* the temporary file, or -1 */
	bool anonymous; /* fd is an O_TMPFILE, not yet linked */
	char *tmp_path; /* its name, once it has one */
	mode_t mode;    /* of the file it replaces, or 0 */
	bool replaces;  /* a file is there: rename would write ours out first */
	pk__progress progress;
	uint64_t written;
	unsigned char *blocks; /* two FILE_BLOCKs, once the output outgrows chunk */
	int filling;
	worker writer;
	const unsigned char *job_data; /* the block the writer writes, or NULL */
	size_t job_size;
	uint64_t job_at; /* its offset in the file */
	uint64_t synced; /* the bytes the writer has started writing out */
	int job_errno;   /* of its failure, or 0 */
	unsigned char chunk[SINK_BUFFER];
};

/* A large output goes out a block at a time from the worker while the
 * exporter fills the next: the write calls are a tenth of a JSON export.
 * 256 KiB blocks write medium's 64 MB of JSON as fast as 1 MiB ones did,
 * and the two blocks sit on the peak of callgrind and speedscope exports. */
#define FILE_BLOCK ((size_t)256 << 10)

void pk__file_sink_set_progress(pk__file_sink *f, pk__progress progress)
{
	f->progress = progress;
}

static void count_written(pk__file_sink *f, size_t size)
{
	if (f->progress.fn && (f->written >> 20) != ((f->written + size) >> 20))
		f->progress.fn(f->progress.ctx, "writing", f->written + size, 0);
	f->written += size;
}

/* write(2) all of data: 0, or the errno of the failure. */
static int write_full(int fd, const unsigned char *data, size_t size)
{
	while (size > 0) {
		ssize_t n = write(fd, data, size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? errno : EIO;
		data += n;
		size -= (size_t)n;
	}
	return 0;
}

static int cannot_write(pk__file_sink *f, int e)
{
	return pk__error_set(f->base.err, PK_EIO, "cannot write: %s", strerror(e));
}

#define SYNC_EVERY ((uint64_t)4 << 20)

static void write_job(void *ctx)
{
	pk__file_sink *f = ctx;
	f->job_errno = write_full(f->fd, f->job_data, f->job_size);
	/* ext4 writes out a file renamed over another at the rename (so that
	 * a crash cannot leave it empty), on the caller's thread: starting
	 * that here, every few MiB, takes it off the exporter's path. */
#ifdef SYNC_FILE_RANGE_WRITE
	uint64_t end = f->job_at + f->job_size;
	if (f->job_errno == 0 && f->replaces && end - f->synced >= SYNC_EVERY) {
		sync_file_range(f->fd, (off_t)f->synced, (off_t)(end - f->synced),
		                SYNC_FILE_RANGE_WRITE);
		f->synced = end;
	}
#endif
}

/* Wait for the block in flight to be written. */
static int file_settle(pk__file_sink *f)
{
	if (f->job_data == NULL)
		return 0;
	worker_wait(&f->writer);
	f->job_data = NULL;
	return f->job_errno != 0 ? cannot_write(f, f->job_errno) : 0;
}

static int file_write(pk__sink *s, const void *data, size_t size)
{
	pk__file_sink *f = (pk__file_sink *)s;
	if (f->buffered) {
		count_written(f, size);
		return pk__sink_write(&f->pending.base, data, size);
	}
	if (f->blocks == NULL) {
		/* The first chunk is written here, so that an output that
		 * cannot be written (a full disk, a size limit) fails before
		 * the exporter's work, and a small one needs no thread. */
		count_written(f, size);
		int e = write_full(f->fd, data, size);
		if (e != 0)
			return cannot_write(f, e);
		f->blocks = pk__malloc(2 * FILE_BLOCK);
		PK_CHECK_ALLOC(f->blocks, s->err);
		s->buf = f->blocks;
		s->cap = FILE_BLOCK;
		return 0;
	}
	if (data != s->buf)
		return write_through_buffer(s, data, size);
	PK_FORWARD(file_settle(f));
	f->job_at = f->written;
	count_written(f, size);
	f->job_data = data;
	f->job_size = size;
	worker_run(&f->writer, write_job, f);
	f->filling = !f->filling;
	s->buf = f->blocks + (size_t)f->filling * FILE_BLOCK;
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
	f->base = (pk__sink){file_write, err, f->chunk, 0, sizeof f->chunk};
	f->fd = -1;
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
		f->replaces = true;
	}
	int fd = open_temp(f);
	if (fd < 0 || (f->mode != 0 && fchmod(fd, f->mode) != 0)) {
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
	f->fd = fd;
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
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", f->fd);
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
		rc = pk__sink_flush(&f->base);
		if (rc == 0)
			rc = write_pending(f);
	} else {
		/* The rest is written here: nothing is left to overlap it. */
		rc = file_settle(f);
		worker_stop(&f->writer);
		if (rc == 0) {
			count_written(f, f->base.len);
			int e = write_full(f->fd, f->base.buf, f->base.len);
			if (e != 0)
				rc = cannot_write(f, e);
		}
		if (rc == 0 && f->anonymous)
			rc = link_anonymous(f);
		if (close(f->fd) != 0 && rc == 0)
			rc = cannot_write(f, errno);
		f->fd = -1;
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
	pk__free(f->blocks);
	pk__free(f->target);
	pk__free(f->tmp_path);
	pk__free(f);
	return 0;
}

void pk__file_sink_abort(pk__file_sink *f)
{
	if (f == NULL)
		return;
	worker_stop(&f->writer);
	if (f->fd >= 0)
		close(f->fd);
	if (f->tmp_path != NULL && !f->anonymous)
		unlink(f->tmp_path);
	pk__buffer_sink_release(&f->pending);
	pk__free(f->blocks);
	pk__free(f->target);
	pk__free(f->tmp_path);
	pk__free(f);
}
