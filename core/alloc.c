/* alloc.c - every allocation goes through here, so users and tests can
 * swap the allocator (tests fail the N-th allocation with it). */
#include "internal.h"

#include <stdint.h>
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void *(*pk_malloc_fn)(size_t) = malloc;
static void (*pk_free_fn)(void *) = free;

void pk_set_allocator(void *(*malloc_fn)(size_t), void (*free_fn)(void *))
{
	if (malloc_fn == NULL || free_fn == NULL) {
		pk_malloc_fn = malloc;
		pk_free_fn = free;
		return;
	}
	pk_malloc_fn = malloc_fn;
	pk_free_fn = free_fn;
}

/* Ask for transparent huge pages under a big block of the C library's.
 * A first touch of a 4 KiB page costs a fault and, on virtual machines,
 * often the host's work too: for the arrays of a large profile that is a
 * quarter of an import's time, and 2 MiB pages make it ~5x cheaper. */
static void *huge_pages(void *p, size_t size)
{
#ifdef MADV_HUGEPAGE
	const uintptr_t huge = (uintptr_t)2 << 20;
	if (p != NULL && size >= 4 * huge) {
		uintptr_t start = ((uintptr_t)p + huge - 1) & ~(huge - 1);
		uintptr_t end = ((uintptr_t)p + size) & ~(huge - 1);
		if (end > start)
			(void)madvise((void *)start, end - start, MADV_HUGEPAGE);
	}
#else
	(void)size;
#endif
	return p;
}

/* A block of 2 MiB or more on a 2 MiB boundary, its whole 2 MiB pages
 * huge: for blocks written whole at once (calloc's), whose every page is
 * resident anyway, so a fault per 2 MiB instead of per 4 KiB costs no
 * memory. NULL if the C library's allocator is not ours or says no. */
static void *huge_block(size_t size)
{
#ifdef MADV_HUGEPAGE
	const size_t huge = (size_t)2 << 20;
	void *p;
	if (pk_malloc_fn != malloc || pk_free_fn != free || size < huge ||
	    posix_memalign(&p, huge, size) != 0)
		return NULL;
	(void)madvise(p, size & ~(huge - 1), MADV_HUGEPAGE);
	return p;
#else
	(void)size;
	return NULL;
#endif
}

void *pk__malloc(size_t size)
{
	if (size == 0)
		size = 1;
	if (size == SIZE_MAX)
		return NULL;
	if (pk_malloc_fn != malloc)
		return pk_malloc_fn(size);
	/* A block big enough for huge_pages starts on a 2 MiB boundary too,
	 * so that all its whole 2 MiB are huge: where the C library puts it,
	 * a third of the time one fewer is (the inflated input of a medium
	 * profile, 9.3 MiB: 511 page faults more in one run of three). */
	void *p = size >= (size_t)8 << 20 ? huge_block(size) : NULL;
	return p != NULL ? p : huge_pages(malloc(size), size);
}

void *pk__calloc(size_t count, size_t size)
{
	size_t total = pk__mul(count, size);
	void *p = total == SIZE_MAX ? NULL : huge_block(total);
	if (p == NULL)
		p = pk__malloc(total);
	if (p != NULL)
		memset(p, 0, total == 0 ? 1 : total);
	return p;
}

void *pk__realloc(void *ptr, size_t old_size, size_t new_size)
{
	/* The C library's realloc grows big blocks in place or by remapping
	 * pages, where a copy would briefly hold both (the peak memory of
	 * every large import); a user's allocator has no realloc to call. */
	if (pk_malloc_fn == malloc && pk_free_fn == free) {
		if (new_size == 0)
			new_size = 1;
		return new_size == SIZE_MAX ? NULL : huge_pages(realloc(ptr, new_size), new_size);
	}
	void *p = pk__malloc(new_size);
	if (p == NULL)
		return NULL;
	if (ptr != NULL) {
		memcpy(p, ptr, old_size < new_size ? old_size : new_size);
		pk__free(ptr);
	}
	return p;
}

void pk__free(void *ptr)
{
	if (ptr != NULL)
		pk_free_fn(ptr);
}

unsigned char *pk__discard_pages(unsigned char *start, unsigned char *end)
{
#ifdef MADV_DONTNEED
	long size = sysconf(_SC_PAGESIZE);
	uintptr_t page = size > 0 ? (uintptr_t)size : 4096;
	uintptr_t from = ((uintptr_t)start + page - 1) & ~(page - 1);
	uintptr_t to = (uintptr_t)end & ~(page - 1);
	/* A user's allocator may hand out memory that madvise does not suit. */
	if (pk_malloc_fn != malloc || to <= from)
		return start;
	(void)madvise((void *)from, to - from, MADV_DONTNEED);
	return (unsigned char *)to;
#else
	(void)end;
	return start;
#endif
}

void pk__trim_heap(void)
{
#ifdef __GLIBC__
	if (pk_free_fn == free)
		(void)malloc_trim(0);
#endif
}

void pk_free(void *ptr)
{
	pk__free(ptr);
}

char *pk__strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = pk__malloc(n);
	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

/* Room for more elements: exactly that many, or (else) the next power of
 * two of at least 16, so that appending one at a time costs amortized O(1). */
static int vec_grow(pk__vec *v, size_t elem, size_t more, bool exact)
{
	if (more <= v->capacity - v->count)
		return 0;
	if (more > SIZE_MAX - v->count)
		return PK_ENOMEM;
	size_t need = v->count + more;
	size_t cap = exact ? need : v->capacity ? v->capacity : 16;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	size_t bytes = pk__mul(cap, elem);
	void *items = pk__realloc(v->items, v->count * elem, bytes);
	if (items == NULL)
		return PK_ENOMEM;
	v->items = items;
	v->capacity = cap;
	return 0;
}

int pk__vec_grow(pk__vec *v, size_t elem, size_t more)
{
	return vec_grow(v, elem, more, false);
}

int pk__vec_reserve_exact(pk__vec *v, size_t elem, size_t more)
{
	return vec_grow(v, elem, more, true);
}

int pk__vec_push(pk__vec *v, size_t elem, const void *src, size_t n, size_t *at)
{
	PK_FORWARD(pk__vec_reserve(v, elem, n));
	/* With n == 0 the array may still be NULL, which memcpy must not see. */
	if (n > 0) {
		unsigned char *dst = (unsigned char *)v->items + v->count * elem;
		if (src != NULL)
			memcpy(dst, src, n * elem);
		else
			memset(dst, 0, n * elem);
	}
	if (at != NULL)
		*at = v->count;
	v->count += n;
	return 0;
}

void pk__vec_free(pk__vec *v)
{
	pk__free(v->items);
	v->items = NULL;
	v->count = v->capacity = 0;
}
