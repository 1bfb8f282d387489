/* parts.c - an input's parts decoded on two threads and added in order.
 *
 * An importer whose records are mostly decoding and partly adding to the
 * model in order (the samples of pprof and of JSON) cuts them into parts
 * that either thread decodes, each into a slot of its own, while the
 * calling thread adds them in order: a helper thread decodes the next
 * part not handed out yet, and the caller, when the part it needs next is
 * not decoded, decodes the next one not handed out rather than wait (see
 * pk__parts_next). The first slots are each used once; the last `ring`
 * ones take turns after them, which bounds the parts held ahead. */
#include "internal.h"

#include <assert.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>

struct pk__parts {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* a part decoded or added, or quit */
	pthread_t thread;
	const pk__parts_ops *ops;
	void *ctx;
	size_t slots, ring;
	size_t claimed, consumed; /* parts handed out, and added */
	size_t next_start, end;   /* where the next part starts; the last ends */
	bool started, quit;
	pk__part parts[];
};

/* Part c's slot: the first ones have one each, the rest take turns. */
static pk__part *slot_of(pk__parts *q, size_t c)
{
	return &q->parts[c < q->slots ? c : q->slots - q->ring + (c - q->slots) % q->ring];
}

/* Hand out the next part (q locked); NULL when there is none or its slot
 * is not free. */
static pk__part *claim(pk__parts *q)
{
	if (q->quit || q->next_start >= q->end ||
	    (q->claimed >= q->slots && q->claimed - q->consumed >= q->ring))
		return NULL;
	pk__part *pt = slot_of(q, q->claimed);
	pt->start = q->next_start;
	pt->end = q->ops->cut(q->ctx, pt, q->end);
	if (pt->end <= pt->start) {
		q->end = q->next_start; /* no part starts there: the last is out */
		pthread_cond_broadcast(&q->cond);
		return NULL;
	}
	q->claimed++;
	pt->done = false;
	q->next_start = pt->end;
	return pt;
}

/* Decode pt, claimed, on thread `view` (0 the helper, 1 the caller's):
 * called, and returns, with q locked, which it is not meanwhile. */
static void decode_claimed(pk__parts *q, pk__part *pt, unsigned view)
{
	pthread_mutex_unlock(&q->lock);
	q->ops->decode(q->ctx, pt, view);
	pthread_mutex_lock(&q->lock);
	pt->done = true;
	pthread_cond_broadcast(&q->cond);
}

/* How many times a helper whose slots are all full yields before it
 * sleeps: about as long as the caller takes to add a part. A helper that
 * slept for each slot freed was woken on the caller's core, and there the
 * two took turns while the other core idled (2 cores, other jobs running:
 * 4 runs in 10 of a 200k-sample pprof file's read). */
#define HELPER_YIELDS 400

/* Wait (q locked) for a slot freed, or for the caller to quit: yielding
 * while the caller adds, so the helper stays runnable and on a core of its
 * own, then sleeping. */
static void helper_wait(pk__parts *q)
{
	size_t seen = q->consumed;
	pthread_mutex_unlock(&q->lock);
	for (int i = 0;
	     i < HELPER_YIELDS && __atomic_load_n(&q->consumed, __ATOMIC_RELAXED) == seen &&
	     !__atomic_load_n(&q->quit, __ATOMIC_RELAXED);
	     i++)
		sched_yield();
	pthread_mutex_lock(&q->lock);
	if (q->consumed == seen && !q->quit)
		pthread_cond_wait(&q->cond, &q->lock);
}

static void *helper_main(void *arg)
{
	pk__parts *q = arg;
	pthread_mutex_lock(&q->lock);
	for (;;) {
		pk__part *pt = claim(q);
		if (pt == NULL && (q->quit || q->next_start >= q->end))
			break;
		if (pt == NULL)
			helper_wait(q);
		else
			decode_claimed(q, pt, 0);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

int pk__parts_new(pk__parts **out, size_t slots, size_t ring, const pk__parts_ops *ops, void *ctx)
{
	assert(ring > 0 && ring <= slots);
	pk__parts *q = pk__malloc(sizeof *q + slots * sizeof(pk__part));
	if (q == NULL)
		return PK_ENOMEM;
	memset(q, 0, sizeof *q + slots * sizeof(pk__part));
	q->ops = ops;
	q->ctx = ctx;
	q->slots = slots;
	q->ring = ring;
	*out = q;
	return 0;
}

pk__part *pk__parts_slot(pk__parts *q, size_t i)
{
	return &q->parts[i];
}

int pk__parts_run(pk__parts *q, size_t start, size_t end)
{
	q->next_start = start;
	q->end = end;
	if (pthread_mutex_init(&q->lock, NULL) != 0)
		return PK_ENOMEM;
	if (pthread_cond_init(&q->cond, NULL) != 0) {
		pthread_mutex_destroy(&q->lock);
		return PK_ENOMEM;
	}
	if (pthread_create(&q->thread, NULL, helper_main, q) != 0) {
		pthread_cond_destroy(&q->cond);
		pthread_mutex_destroy(&q->lock);
		return PK_ENOMEM;
	}
	q->started = true;
	return 0;
}

pk__part *pk__parts_next(pk__parts *q, size_t c)
{
	pthread_mutex_lock(&q->lock);
	pk__part *pt = NULL;
	for (;;) {
		if (c < q->claimed && slot_of(q, c)->done) {
			pt = slot_of(q, c);
			break;
		}
		if (c >= q->claimed && q->next_start >= q->end)
			break;
		pk__part *other = claim(q);
		if (other != NULL)
			decode_claimed(q, other, 1);
		else if (c < q->claimed || q->next_start < q->end) /* (not if it ended them) */
			pthread_cond_wait(&q->cond, &q->lock);
	}
	pthread_mutex_unlock(&q->lock);
	return pt;
}

void pk__parts_added(pk__parts *q, size_t c)
{
	pthread_mutex_lock(&q->lock);
	__atomic_store_n(&q->consumed, c + 1, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

void pk__run_on_two(void *(*run)(void *), void *here, void *there)
{
	pthread_t thread;
	bool started = pthread_create(&thread, NULL, run, there) == 0;
	run(here);
	if (started)
		pthread_join(thread, NULL);
	else
		run(there);
}

void pk__parts_free(pk__parts *q)
{
	if (q == NULL)
		return;
	if (q->started) {
		pthread_mutex_lock(&q->lock);
		__atomic_store_n(&q->quit, true, __ATOMIC_RELAXED);
		pthread_cond_broadcast(&q->cond);
		pthread_mutex_unlock(&q->lock);
		pthread_join(q->thread, NULL);
		pthread_cond_destroy(&q->cond);
		pthread_mutex_destroy(&q->lock);
	}
	pk__free(q);
}
