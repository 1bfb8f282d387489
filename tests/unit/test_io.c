/* test_io.c - core/io.c from the inside: gunzip, input limits, files that
 * cannot be read, atomic file output, and how errors are described. */
#include "internal.h"

#include "helpers.h"

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <isa-l/igzip_lib.h>
#include <unistd.h>

/* ----------------------------------------------------------------- helpers */

/* gzip data with ISA-L itself, independently of our sinks, at its
 * strongest level (ours writes level 1). */
static unsigned char *gzip_bytes(const void *data, size_t size, size_t *out_size)
{
	struct isal_zstream z;
	isal_deflate_init(&z);
	unsigned char *level_buf = malloc(ISAL_DEF_LVL3_DEFAULT);
	assert_non_null(level_buf);
	z.level = 3;
	z.level_buf = level_buf;
	z.level_buf_size = ISAL_DEF_LVL3_DEFAULT;
	z.gzip_flag = IGZIP_GZIP;
	z.end_of_stream = 1;
	size_t cap = size + size / 8 + 1024;
	unsigned char *out = malloc(cap);
	assert_non_null(out);
	z.next_in = (uint8_t *)data;
	z.avail_in = (uint32_t)size;
	z.next_out = out;
	z.avail_out = (uint32_t)cap;
	assert_int_equal(isal_deflate(&z), COMP_OK);
	assert_int_equal(z.internal_state.state, ZSTATE_END);
	*out_size = cap - z.avail_out;
	free(level_buf);
	return out;
}

static unsigned char *pattern(size_t size, unsigned seed)
{
	unsigned char *b = malloc(size ? size : 1);
	assert_non_null(b);
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < size; i++) {
		x = x * 1103515245u + 12345u;
		/* compressible but not trivially so */
		b[i] = (unsigned char)((x >> 16) % 7 + 'a');
	}
	return b;
}

/* A fresh empty folder under $TMPDIR; the caller removes it. */
static char *make_temp_dir(void)
{
	const char *tmp = getenv("TMPDIR");
	char *path = malloc(4096);
	assert_non_null(path);
	snprintf(path, 4096, "%s/pk_test_io.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(path));
	return path;
}

static void write_file(const char *path, const void *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	if (size > 0)
		assert_int_equal(fwrite(data, 1, size, f), size);
	assert_int_equal(fclose(f), 0);
}

static unsigned char *slurp(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	size_t cap = 4096, len = 0;
	unsigned char *b = malloc(cap);
	assert_non_null(b);
	size_t n;
	while ((n = fread(b + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			cap *= 2;
			b = realloc(b, cap);
			assert_non_null(b);
		}
	}
	fclose(f);
	*size = len;
	return b;
}

/* The names in a folder, other than . and .., joined by spaces. */
static void list_dir(const char *dir, char *out, size_t size)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	out[0] = '\0';
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		size_t n = strlen(out);
		snprintf(out + n, size - n, "%s%s", n ? " " : "", e->d_name);
	}
	closedir(d);
}

static void remove_dir(char *dir)
{
	DIR *d = opendir(dir);
	if (d != NULL) {
		struct dirent *e;
		char path[4200];
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
			if (unlink(path) != 0)
				rmdir(path);
		}
		closedir(d);
	}
	rmdir(dir);
	free(dir);
}

/* ------------------------------------------------------------------ gunzip */

static void test_plain_buffer_is_copied(void **state)
{
	(void)state;
	pk__input in;
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(pk__input_from_buffer("hello", 5, 0, NULL, &in, &err), 0);
	assert_int_equal(in.size, 5);
	assert_false(in.was_gzip);
	assert_memory_equal(in.data, "hello", 5);
	pk__input_release(&in);
	assert_null(in.data);
	assert_int_equal(in.size, 0);

	/* a lone 0x1f is not gzip */
	assert_false(pk__is_gzip("\x1f", 1));
	assert_false(pk__is_gzip("\x1f\x8c", 2));
	assert_true(pk__is_gzip("\x1f\x8b", 2));
	assert_int_equal(pk__input_from_buffer("\x1f", 1, 0, NULL, &in, &err), 0);
	assert_int_equal(in.size, 1);
	pk__input_release(&in);

	assert_int_equal(pk__input_from_buffer("", 0, 0, NULL, &in, &err), 0);
	assert_int_equal(in.size, 0);
	pk__input_release(&in);
	assert_int_equal(err.code, 0);
}

static void test_gunzip_single_member(void **state)
{
	(void)state;
	/* the output buffer is sized once, from the gzip trailer */
	size_t size = 3 * 1024 * 1024 + 17;
	unsigned char *data = pattern(size, 1);
	size_t gz_size;
	unsigned char *gz = gzip_bytes(data, size, &gz_size);
	assert_true(gz_size < size / 2);
	pk__input in;
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(pk__input_from_buffer(gz, gz_size, 0, NULL, &in, &err), 0);
	assert_true(in.was_gzip);
	assert_int_equal(in.size, size);
	assert_memory_equal(in.data, data, size);
	pk__input_release(&in);
	free(gz);

	/* an empty payload */
	gz = gzip_bytes("", 0, &gz_size);
	assert_int_equal(pk__input_from_buffer(gz, gz_size, 0, NULL, &in, &err), 0);
	assert_true(in.was_gzip);
	assert_int_equal(in.size, 0);
	pk__input_release(&in);
	free(gz);
	free(data);
}

static void test_gunzip_multi_member(void **state)
{
	(void)state;
	const char *parts[] = {"first member, ", "", "second member, ", "third"};
	unsigned char joined[256];
	size_t joined_size = 0;
	for (size_t i = 0; i < 4; i++) {
		size_t n;
		unsigned char *gz = gzip_bytes(parts[i], strlen(parts[i]), &n);
		memcpy(joined + joined_size, gz, n);
		joined_size += n;
		free(gz);
	}
	pk__input in;
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(pk__input_from_buffer(joined, joined_size, 0, NULL, &in, &err), 0);
	const char *want = "first member, second member, third";
	assert_int_equal(in.size, strlen(want));
	assert_memory_equal(in.data, want, strlen(want));
	pk__input_release(&in);

	/* garbage after a complete member */
	unsigned char trailing[300];
	memcpy(trailing, joined, joined_size);
	memcpy(trailing + joined_size, "JUNK", 4);
	assert_int_equal(pk__input_from_buffer(trailing, joined_size + 4, 0, NULL, &in, &err),
	                 PK_EFORMAT);
	assert_int_equal(err.offset, joined_size);
	assert_string_equal(err.message, "unexpected bytes after the end of the gzip stream");
	assert_null(in.data);
}

static void test_gunzip_truncated(void **state)
{
	(void)state;
	size_t size = 100000;
	unsigned char *data = pattern(size, 2);
	size_t gz_size;
	unsigned char *gz = gzip_bytes(data, size, &gz_size);
	/* cut in the deflate data, in the trailer, and right after the header */
	size_t cuts[] = {gz_size / 2, gz_size - 4, gz_size - 1, 10, 3};
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		pk__input in;
		pk_error err = PK_ERROR_INIT;
		int rc = pk__input_from_buffer(gz, cuts[i], 0, NULL, &in, &err);
		assert_int_equal(rc, PK_EFORMAT);
		assert_int_equal(err.code, PK_EFORMAT);
		assert_int_equal(err.offset, cuts[i]);
		assert_string_equal(
		    err.message, "truncated gzip stream: the input ends before the gzip trailer");
	}

	/* the second member truncated: the offset counts from the start */
	unsigned char *two = malloc(2 * gz_size);
	memcpy(two, gz, gz_size);
	memcpy(two + gz_size, gz, gz_size);
	pk__input in;
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(pk__input_from_buffer(two, gz_size + 100, 0, NULL, &in, &err), PK_EFORMAT);
	assert_int_equal(err.offset, gz_size + 100);
	free(two);
	free(gz);
	free(data);
}

static void test_gunzip_garbage(void **state)
{
	(void)state;
	/* the gzip magic, then nonsense */
	unsigned char garbage[64] = {0x1f, 0x8b};
	for (size_t i = 2; i < sizeof garbage; i++)
		garbage[i] = (unsigned char)(i * 37 + 11);
	pk__input in;
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(pk__input_from_buffer(garbage, sizeof garbage, 0, NULL, &in, &err),
	                 PK_EFORMAT);
	assert_int_equal(err.code, PK_EFORMAT);
	assert_true(err.offset >= 0 && err.offset <= (long long)sizeof garbage);
	assert_non_null(strstr(err.message, "gzip"));
	assert_null(in.data);

	/* a good header, then a corrupt deflate stream */
	size_t gz_size;
	unsigned char *gz = gzip_bytes("some text to compress, some text", 32, &gz_size);
	gz[10] ^= 0xff;
	gz[11] ^= 0x55;
	pk_error_init(&err);
	int rc = pk__input_from_buffer(gz, gz_size, 0, NULL, &in, &err);
	assert_int_equal(rc, PK_EFORMAT);
	assert_true(err.offset >= 10 && err.offset <= (long long)gz_size);
	free(gz);

	/* a bad CRC in the trailer */
	gz = gzip_bytes("checksum me", 11, &gz_size);
	gz[gz_size - 8] ^= 1;
	pk_error_init(&err);
	assert_int_equal(pk__input_from_buffer(gz, gz_size, 0, NULL, &in, &err), PK_EFORMAT);
	assert_string_equal(err.message, "corrupt gzip data: incorrect data check");
	free(gz);

	/* a bad size in the trailer */
	gz = gzip_bytes("checksum me", 11, &gz_size);
	gz[gz_size - 4] ^= 1;
	pk_error_init(&err);
	assert_int_equal(pk__input_from_buffer(gz, gz_size, 0, NULL, &in, &err), PK_EFORMAT);
	assert_string_equal(err.message, "corrupt gzip data: incorrect length check");
	free(gz);

	/* the magic alone */
	pk_error_init(&err);
	assert_int_equal(pk__input_from_buffer("\x1f\x8b", 2, 0, NULL, &in, &err), PK_EFORMAT);
	assert_int_equal(err.offset, 2);
}

static void test_max_size(void **state)
{
	(void)state;
	size_t size = 1000;
	unsigned char *data = pattern(size, 3);
	pk__input in;
	pk_error err = PK_ERROR_INIT;

	/* plain buffers: exactly at the limit passes, one byte over fails */
	assert_int_equal(pk__input_from_buffer(data, size, size, NULL, &in, &err), 0);
	pk__input_release(&in);
	assert_int_equal(pk__input_from_buffer(data, size, size - 1, NULL, &in, &err), PK_ENOMEM);
	assert_int_equal(err.offset, 0);
	assert_string_equal(err.message, "the input is larger than the limit of 999 bytes");

	/* gzip: the limit applies to the gunzipped size */
	size_t gz_size;
	unsigned char *gz = gzip_bytes(data, size, &gz_size);
	assert_true(gz_size < 999);
	pk_error_init(&err);
	assert_int_equal(pk__input_from_buffer(gz, gz_size, size, NULL, &in, &err), 0);
	assert_int_equal(in.size, size);
	pk__input_release(&in);
	assert_int_equal(pk__input_from_buffer(gz, gz_size, size - 1, NULL, &in, &err), PK_ENOMEM);
	assert_string_equal(err.message,
	                    "the gunzipped input is larger than the limit of 999 bytes");
	assert_null(in.data);
	free(gz);

	/* a gzip bomb: 64 MiB of zeros from a small input, limited to 1 MiB */
	size_t bomb_size = 64 << 20;
	unsigned char *zeros = calloc(1, bomb_size);
	gz = gzip_bytes(zeros, bomb_size, &gz_size);
	free(zeros);
	assert_true(gz_size < bomb_size / 256);
	pk_error_init(&err);
	assert_int_equal(pk__input_from_buffer(gz, gz_size, 1 << 20, NULL, &in, &err), PK_ENOMEM);
	assert_true(err.offset >= 0 && err.offset < (long long)gz_size);
	/* a look at its head inflates only what is asked for */
	assert_int_equal(pk__input_head(gz, gz_size, 4096, &in), 0);
	assert_int_equal(in.size, 4096);
	assert_true(in.was_gzip);
	pk__input_release(&in);
	assert_null(pk_format_detect(gz, gz_size));
	free(gz);

	/* files: the same limits through pk__input_read_path */
	char *dir = make_temp_dir();
	char path[4200];
	snprintf(path, sizeof path, "%s/plain", dir);
	write_file(path, data, size);
	pk_error_init(&err);
	assert_int_equal(pk__input_read_path(path, size, NULL, &in, &err), 0);
	assert_int_equal(in.size, size);
	pk__input_release(&in);
	assert_int_equal(pk__input_read_path(path, size - 1, NULL, &in, &err), PK_ENOMEM);
	assert_non_null(strstr(err.message, "larger than the limit of 999 bytes"));
	assert_null(in.data);

	gz = gzip_bytes(data, size, &gz_size);
	snprintf(path, sizeof path, "%s/packed.gz", dir);
	write_file(path, gz, gz_size);
	free(gz);
	pk_error_init(&err);
	assert_int_equal(pk__input_read_path(path, size, NULL, &in, &err), 0);
	assert_true(in.was_gzip);
	assert_int_equal(in.size, size);
	pk__input_release(&in);
	assert_int_equal(pk__input_read_path(path, size - 1, NULL, &in, &err), PK_ENOMEM);

	/* and through the public reader */
	pk_read_options ro = PK_READ_OPTIONS_INIT;
	ro.max_size = 10;
	pk_profile *p = NULL;
	pk_error_init(&err);
	assert_int_equal(pk_profile_read_path(path, &ro, &p, NULL, &err), PK_ENOMEM);
	assert_null(p);
	assert_string_equal(err.source, path);
	remove_dir(dir);
	free(data);
}

/* A plain file larger than the first read is mapped, from where the file
 * descriptor is; pages given back read again from the file, and one over
 * the size limit is refused as a read one is. */
static void test_plain_file_mapped(void **state)
{
	(void)state;
	size_t size = (3u << 20) + 123;
	unsigned char *data = pattern(size, 3);
	char *dir = make_temp_dir();
	char path[4200];
	snprintf(path, sizeof path, "%s/plain", dir);
	write_file(path, data, size);
	pk__input in;
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(pk__input_read_path(path, 0, NULL, &in, &err), 0);
	assert_non_null(in.map);
	assert_false(in.was_gzip);
	assert_int_equal(in.size, size);
	assert_memory_equal(in.data, data, size);
	pk__discard_pages(in.data, in.data + size);
	assert_memory_equal(in.data, data, size);
	pk__input_release(&in);
	assert_null(in.map);
	assert_int_equal(pk__input_read_path(path, size - 1, NULL, &in, &err), PK_ENOMEM);
	assert_null(in.data);

	/* stdin part way into a file: the rest, from an offset not on a page */
	int saved = dup(STDIN_FILENO);
	assert_true(saved >= 0);
	FILE *f = freopen(path, "rb", stdin);
	assert_non_null(f);
	assert_int_equal(lseek(STDIN_FILENO, 5000, SEEK_SET), 5000);
	pk_error_init(&err);
	assert_int_equal(pk__input_read_path("-", 0, NULL, &in, &err), 0);
	assert_non_null(in.map);
	assert_int_equal(in.size, size - 5000);
	assert_memory_equal(in.data, data + 5000, size - 5000);
	pk__input_release(&in);
	assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
	close(saved);
	remove_dir(dir);
	free(data);
}

/* A gzip member of data whose header carries a file name of name_len
 * bytes: a way to give a member any size. */
static unsigned char *gzip_named(const void *data, size_t size, size_t name_len, size_t *out_size)
{
	size_t gz_size;
	unsigned char *gz = gzip_bytes(data, size, &gz_size);
	unsigned char *named = malloc(gz_size + name_len + 1);
	assert_non_null(named);
	memcpy(named, gz, 10);
	named[3] |= 0x08; /* FNAME */
	memset(named + 10, 'n', name_len);
	named[10 + name_len] = '\0';
	memcpy(named + 11 + name_len, gz + 10, gz_size - 10);
	free(gz);
	*out_size = gz_size + name_len + 1;
	return named;
}

/* The reader's chunk in core/io.c: members that end around it. */
#define READ_CHUNK (256 * 1024)

static void test_gunzip_members_across_reads(void **state)
{
	(void)state;
	char *dir = make_temp_dir();
	char path[4200];
	snprintf(path, sizeof path, "%s/two.gz", dir);
	size_t size = 100000;
	unsigned char *data = pattern(size, 6);
	size_t gz_size;
	unsigned char *plain_gz = gzip_bytes(data, size, &gz_size);
	/* The second member's magic, and then a single stray byte, fall on
	 * either side of a read's end. */
	for (long shift = -2; shift <= 1; shift++) {
		size_t name_len = READ_CHUNK + (size_t)shift - gz_size - 1;
		size_t first_size;
		unsigned char *first = gzip_named(data, size, name_len, &first_size);
		assert_int_equal(first_size, READ_CHUNK + shift);
		unsigned char *two = malloc(first_size + gz_size + 1);
		memcpy(two, first, first_size);
		memcpy(two + first_size, plain_gz, gz_size);
		write_file(path, two, first_size + gz_size);
		pk__input in;
		pk_error err = PK_ERROR_INIT;
		assert_int_equal(pk__input_read_path(path, 0, NULL, &in, &err), 0);
		assert_int_equal(in.size, 2 * size);
		assert_memory_equal(in.data, data, size);
		assert_memory_equal(in.data + size, data, size);
		pk__input_release(&in);
		assert_int_equal(
		    pk__input_from_buffer(two, first_size + gz_size, 0, NULL, &in, &err), 0);
		assert_int_equal(in.size, 2 * size);
		pk__input_release(&in);

		/* one byte after the first member: not a second one */
		two[first_size] = 'J';
		write_file(path, two, first_size + 1);
		assert_int_equal(pk__input_read_path(path, 0, NULL, &in, &err), PK_EFORMAT);
		assert_int_equal(err.offset, first_size);
		assert_string_equal(err.message,
		                    "unexpected bytes after the end of the gzip stream");
		pk_error_init(&err);
		two[first_size] = 0x1f;
		two[first_size + 1] = 'J';
		write_file(path, two, first_size + 2);
		assert_int_equal(pk__input_read_path(path, 0, NULL, &in, &err), PK_EFORMAT);
		assert_int_equal(err.offset, first_size);
		assert_string_equal(err.message,
		                    "unexpected bytes after the end of the gzip stream");
		free(two);
		free(first);
	}
	free(plain_gz);
	free(data);
	remove_dir(dir);
}

/* Output larger than the last member's size says (several members), and
 * output of unknown size (a pipe): the buffer grows. */
static void test_gunzip_grows(void **state)
{
	(void)state;
	size_t size = 3 * 1024 * 1024 + 5;
	unsigned char *data = pattern(size, 7);
	size_t a_size, b_size;
	unsigned char *a = gzip_bytes(data, size - 1000, &a_size);
	unsigned char *b = gzip_bytes(data + size - 1000, 1000, &b_size);
	unsigned char *ab = malloc(a_size + b_size);
	memcpy(ab, a, a_size);
	memcpy(ab + a_size, b, b_size);
	pk__input in;
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(pk__input_from_buffer(ab, a_size + b_size, 0, NULL, &in, &err), 0);
	assert_int_equal(in.size, size);
	assert_memory_equal(in.data, data, size);
	pk__input_release(&in);

	char *dir = make_temp_dir();
	char path[4200];
	snprintf(path, sizeof path, "%s/ab.gz", dir);
	write_file(path, ab, a_size + b_size);
	assert_int_equal(pk__input_read_path(path, 0, NULL, &in, &err), 0);
	assert_int_equal(in.size, size);
	assert_memory_equal(in.data, data, size);
	pk__input_release(&in);
	/* and the limit holds while it grows */
	assert_int_equal(pk__input_read_path(path, size - 1, NULL, &in, &err), PK_ENOMEM);
	assert_string_equal(err.message,
	                    "the gunzipped input is larger than the limit of 3145732 bytes");

	/* through a FIFO, whose size nothing tells */
	snprintf(path, sizeof path, "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		FILE *f = fopen(path, "wb");
		size_t n = f ? fwrite(ab, 1, a_size + b_size, f) : 0;
		_exit(f != NULL && n == a_size + b_size && fclose(f) == 0 ? 0 : 1);
	}
	pk_error_init(&err);
	assert_int_equal(pk__input_read_path(path, 0, NULL, &in, &err), 0);
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(in.was_gzip);
	assert_int_equal(in.size, size);
	assert_memory_equal(in.data, data, size);
	pk__input_release(&in);
	remove_dir(dir);
	free(ab);
	free(a);
	free(b);
	free(data);
}

/* An allocator with little memory: nothing over 8 MiB. */
static void *small_malloc(size_t size)
{
	return size > (8u << 20) ? NULL : malloc(size);
}

/* A trailer that claims more than memory allows is not trusted to the
 * point of failing: the buffer starts small and grows, and the stream's
 * real size then contradicts the trailer. */
static void test_gunzip_trailer_lies(void **state)
{
	(void)state;
	size_t size = 3 * 1024 * 1024;
	unsigned char *data = pattern(size, 9);
	size_t gz_size;
	unsigned char *gz = gzip_bytes(data, size, &gz_size);
	gz[gz_size - 1] = 0x04; /* 64 MiB more */
	pk__input in;
	pk_error err = PK_ERROR_INIT;
	pk_set_allocator(small_malloc, free);
	int rc = pk__input_from_buffer(gz, gz_size, 0, NULL, &in, &err);
	pk_set_allocator(NULL, NULL);
	assert_int_equal(rc, PK_EFORMAT);
	assert_string_equal(err.message, "corrupt gzip data: incorrect length check");
	free(gz);
	free(data);
}

/* ------------------------------------------------------------- bad files */

static void test_empty_file(void **state)
{
	(void)state;
	char *dir = make_temp_dir();
	char path[4200];
	snprintf(path, sizeof path, "%s/empty.pb.gz", dir);
	write_file(path, "", 0);
	pk__input in;
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(pk__input_read_path(path, 0, NULL, &in, &err), 0);
	assert_int_equal(in.size, 0);
	assert_false(in.was_gzip);
	pk__input_release(&in);

	pk_profile *p = NULL;
	assert_int_equal(pk_profile_read_path(path, NULL, &p, NULL, &err), PK_EFORMAT);
	assert_null(p);
	assert_int_equal(err.code, PK_EFORMAT);
	assert_int_equal(err.offset, 0);
	assert_string_equal(err.message, "empty input");
	assert_string_equal(err.source, path);

	/* an empty gzip member is empty input too */
	size_t gz_size;
	unsigned char *gz = gzip_bytes("", 0, &gz_size);
	write_file(path, gz, gz_size);
	free(gz);
	pk_error_init(&err);
	assert_int_equal(pk_profile_read_path(path, NULL, &p, NULL, &err), PK_EFORMAT);
	assert_string_equal(err.message, "empty input");
	remove_dir(dir);
}

static void test_directory(void **state)
{
	(void)state;
	char *dir = make_temp_dir();
	pk__input in;
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(pk__input_read_path(dir, 0, NULL, &in, &err), PK_EIO);
	assert_string_equal(err.message, "cannot read: it is a directory");
	assert_null(in.data);

	pk_profile *p = NULL;
	pk_error_init(&err);
	assert_int_equal(pk_profile_read_path(dir, NULL, &p, NULL, &err), PK_EIO);
	assert_string_equal(err.source, dir);
	assert_null(p);

	/* writing over a folder is refused before anything is created */
	p = make_rich_profile();
	char sub[4200];
	snprintf(sub, sizeof sub, "%s/out.pb.gz", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	pk_error_init(&err);
	assert_int_equal(pk_profile_write_path(p, sub, NULL, &err), PK_EIO);
	assert_string_equal(err.message, "cannot write: it is a directory");
	assert_string_equal(err.source, sub);
	char names[512];
	list_dir(dir, names, sizeof names);
	assert_string_equal(names, "out.pb.gz");
	rmdir(sub);
	pk_profile_free(p);
	remove_dir(dir);
}

static void test_missing_file(void **state)
{
	(void)state;
	char *dir = make_temp_dir();
	char path[4200];
	snprintf(path, sizeof path, "%s/does-not-exist.pb.gz", dir);
	pk__input in;
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(pk__input_read_path(path, 0, NULL, &in, &err), PK_EIO);
	assert_int_equal(err.code, PK_EIO);
	assert_string_equal(err.message, "cannot open: No such file or directory");
	assert_null(in.data);

	pk_profile *p = NULL;
	pk_error_init(&err);
	pk_read_options ro = PK_READ_OPTIONS_INIT;
	ro.source_name = "nice-name";
	assert_int_equal(pk_profile_read_path(path, &ro, &p, NULL, &err), PK_EIO);
	assert_string_equal(err.source, "nice-name");
	char text[1024];
	pk_error_describe(&err, text, sizeof text);
	assert_non_null(strstr(text, "nice-name"));
	assert_non_null(strstr(text, "cannot open: No such file or directory"));

	/* writing into a folder that does not exist */
	snprintf(path, sizeof path, "%s/no/such/dir/out.pb.gz", dir);
	p = make_rich_profile();
	pk_error_init(&err);
	assert_int_equal(pk_profile_write_path(p, path, NULL, &err), PK_EIO);
	assert_non_null(strstr(err.message, "cannot create the output"));
	pk_profile_free(p);
	remove_dir(dir);
}

static void test_read_gzip_file(void **state)
{
	(void)state;
	char *dir = make_temp_dir();
	char path[4200];
	snprintf(path, sizeof path, "%s/big.gz", dir);
	/* larger than one read chunk, compressed and not */
	size_t size = 700000;
	unsigned char *data = pattern(size, 4);
	size_t gz_size;
	unsigned char *gz = gzip_bytes(data, size, &gz_size);
	write_file(path, gz, gz_size);
	pk__input in;
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(pk__input_read_path(path, 0, NULL, &in, &err), 0);
	assert_true(in.was_gzip);
	assert_int_equal(in.size, size);
	assert_memory_equal(in.data, data, size);
	pk__input_release(&in);

	snprintf(path, sizeof path, "%s/big", dir);
	write_file(path, data, size);
	assert_int_equal(pk__input_read_path(path, 0, NULL, &in, &err), 0);
	assert_false(in.was_gzip);
	assert_int_equal(in.size, size);
	assert_memory_equal(in.data, data, size);
	pk__input_release(&in);

	/* a truncated gzip file: the error names the file and the byte */
	snprintf(path, sizeof path, "%s/cut.pb.gz", dir);
	write_file(path, gz, gz_size / 2);
	pk_profile *p = NULL;
	pk_error_init(&err);
	assert_int_equal(pk_profile_read_path(path, NULL, &p, NULL, &err), PK_EFORMAT);
	assert_int_equal(err.offset, gz_size / 2);
	char text[5000], want[5000];
	pk_error_describe(&err, text, sizeof text);
	snprintf(want, sizeof want,
	         "%s: byte %zu: truncated gzip stream: the input ends before the gzip trailer",
	         path, gz_size / 2);
	assert_string_equal(text, want);
	free(gz);
	free(data);
	remove_dir(dir);
}

/* ------------------------------------------------------------------ sinks */

static void test_buffer_and_gzip_sinks(void **state)
{
	(void)state;
	pk_error err = PK_ERROR_INIT;
	pk__buffer_sink b;
	pk__buffer_sink_init(&b, &err);
	assert_int_equal(pk__sink_puts(&b.base, "abc"), 0);
	assert_int_equal(pk__sink_write(&b.base, NULL, 0), 0);
	assert_int_equal(pk__sink_printf(&b.base, "-%d-", 42), 0);
	char long_text[2000];
	memset(long_text, 'x', sizeof long_text - 1);
	long_text[sizeof long_text - 1] = '\0';
	assert_int_equal(pk__sink_printf(&b.base, "%s", long_text), 0);
	assert_int_equal(b.size, 3 + 4 + sizeof long_text - 1);
	assert_memory_equal(b.data, "abc-42-xxx", 10);
	pk__buffer_sink_release(&b);
	assert_null(b.data);

	/* gzip through our sink, gunzip through our reader */
	size_t size = 1 << 20;
	unsigned char *data = pattern(size, 5);
	pk__buffer_sink_init(&b, &err);
	pk__gzip_sink *g = NULL;
	assert_int_equal(pk__gzip_sink_new(&b.base, &err, &g), 0);
	for (size_t at = 0; at < size; at += 100000)
		assert_int_equal(pk__sink_write(pk__gzip_sink_base(g), data + at,
		                                size - at < 100000 ? size - at : 100000),
		                 0);
	assert_int_equal(pk__gzip_sink_finish(g), 0);
	pk__gzip_sink_free(g);
	pk__gzip_sink_free(NULL);
	assert_true(pk__is_gzip(b.data, b.size));
	pk__input in;
	assert_int_equal(pk__input_from_buffer(b.data, b.size, 0, NULL, &in, &err), 0);
	assert_int_equal(in.size, size);
	assert_memory_equal(in.data, data, size);
	pk__input_release(&in);
	pk__buffer_sink_release(&b);
	free(data);
	assert_int_equal(err.code, 0);
}

/* The same pieces, small and large, into a sink. */
static void write_pieces(pk__sink *s, const unsigned char *big, size_t big_size)
{
	for (int i = 0; i < 100000; i++) {
		assert_int_equal(pk__sink_printf(s, "%d;", i), 0);
		assert_int_equal(pk__sink_write(s, "x", i % 3), 0);
		if (i % 10000 == 0)
			assert_int_equal(pk__sink_write(s, big, big_size), 0);
		if (i % 777 == 0)
			assert_int_equal(
			    pk__sink_printf(s, "%.*s", (int)(i % 3000), (const char *)big), 0);
		assert_int_equal(pk__sink_puts(s, "\n"), 0);
	}
}

/* Write data to a file at path through write (and gzip), commit it, and
 * check that reading it back gives want. */
static void write_and_read_back(const char *path, int gzip,
                                void (*write)(pk__sink *, const unsigned char *, size_t),
                                const unsigned char *data, size_t size, const void *want,
                                size_t want_size)
{
	pk_error err = PK_ERROR_INIT;
	pk__file_sink *f = NULL;
	assert_int_equal(pk__file_sink_open(path, &err, &f), 0);
	pk__gzip_sink *g = NULL;
	if (gzip)
		assert_int_equal(pk__gzip_sink_new(pk__file_sink_base(f), &err, &g), 0);
	write(gzip ? pk__gzip_sink_base(g) : pk__file_sink_base(f), data, size);
	if (gzip)
		assert_int_equal(pk__gzip_sink_finish(g), 0);
	pk__gzip_sink_free(g);
	assert_int_equal(pk__file_sink_commit(f), 0);
	pk__input in;
	assert_int_equal(pk__input_read_path(path, 0, NULL, &in, &err), 0);
	assert_int_equal(in.was_gzip, gzip);
	assert_int_equal(in.size, want_size);
	assert_memory_equal(in.data, want, want_size);
	pk__input_release(&in);
	assert_int_equal(err.code, 0);
}

/* Small writes gather in the sinks' buffers: what comes out of a file
 * sink, plain or through gzip, is what a memory sink collects. */
static void test_sinks_gather_small_writes(void **state)
{
	(void)state;
	size_t big_size = 200000;
	unsigned char *big = pattern(big_size, 8);
	pk_error err = PK_ERROR_INIT;
	pk__buffer_sink want;
	pk__buffer_sink_init(&want, &err);
	write_pieces(&want.base, big, big_size);

	char *dir = make_temp_dir();
	char path[4200];
	snprintf(path, sizeof path, "%s/out.txt", dir);
	for (int gzip = 0; gzip < 2; gzip++)
		write_and_read_back(path, gzip, write_pieces, big, big_size, want.data, want.size);
	assert_int_equal(err.code, 0);
	pk__buffer_sink_release(&want);
	remove_dir(dir);
	free(big);
}

/* A format whose exporter writes some bytes and then fails, to see what
 * the file sink leaves behind. */
static int failing_export(const pk_profile *p, const pk_write_options *opts, pk__sink *sink,
                          pk_error *err)
{
	(void)p;
	(void)opts;
	char chunk[4096];
	memset(chunk, 'z', sizeof chunk);
	for (int i = 0; i < 100; i++)
		PK_FORWARD(pk__sink_write(sink, chunk, sizeof chunk));
	return pk__error_set(err, PK_EFORMAT, "this exporter always fails");
}

static const pk_format failing_format = {
    .name = "failing",
    .description = "fails after writing 400 KiB",
    .extensions = NULL,
    .gzip_by_default = false,
    .sniff = NULL,
    .import = NULL,
    .export = failing_export,
};

static void assert_only_file(const char *dir, const char *name, const void *data, size_t size)
{
	char names[1024], path[4200];
	list_dir(dir, names, sizeof names);
	assert_string_equal(names, name);
	snprintf(path, sizeof path, "%s/%s", dir, name);
	size_t got_size = 0;
	unsigned char *got = slurp(path, &got_size);
	assert_non_null(got);
	assert_int_equal(got_size, size);
	assert_memory_equal(got, data, size);
	free(got);
}

static void test_file_sink_failed_export_keeps_old_file(void **state)
{
	(void)state;
	char *dir = make_temp_dir();
	char path[4200];
	snprintf(path, sizeof path, "%s/out.pb.gz", dir);
	const char *old = "the old contents\n";
	write_file(path, old, strlen(old));
	pk_profile *p = make_rich_profile();

	pk_write_options wo = PK_WRITE_OPTIONS_INIT;
	wo.format = &failing_format;
	for (int compress = PK_COMPRESS_AUTO; compress <= PK_COMPRESS_GZIP; compress++) {
		wo.compress = compress;
		pk_error err = PK_ERROR_INIT;
		assert_int_equal(pk_profile_write_path(p, path, &wo, &err), PK_EFORMAT);
		assert_string_equal(err.message, "this exporter always fails");
		assert_string_equal(err.source, path);
		assert_string_equal(err.format, "failing");
		assert_only_file(dir, "out.pb.gz", old, strlen(old));
	}

	/* a format that cannot export at all */
	static const pk_format no_export = {.name = "noexport"};
	wo.format = &no_export;
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(pk_profile_write_path(p, path, &wo, &err), PK_EUNSUPPORTED);
	assert_only_file(dir, "out.pb.gz", old, strlen(old));

	/* and then a successful write replaces the file */
	wo.format = NULL;
	wo.compress = PK_COMPRESS_AUTO;
	pk_error_init(&err);
	assert_int_equal(pk_profile_write_path(p, path, &wo, &err), 0);
	char names[1024];
	list_dir(dir, names, sizeof names);
	assert_string_equal(names, "out.pb.gz");
	pk_profile *q = NULL;
	assert_int_equal(pk_profile_read_path(path, NULL, &q, NULL, &err), 0);
	assert_profiles_equal(p, q);
	pk_profile_free(q);
	pk_profile_free(p);
	remove_dir(dir);
}

/* A write error while the data goes out (the file-size limit here, as a
 * full disk would do) must not touch the old file either. The limit is set
 * in a child process so this test's own output is not affected. */
static void test_file_sink_write_error_keeps_old_file(void **state)
{
	(void)state;
	char *dir = make_temp_dir();
	char path[4200];
	snprintf(path, sizeof path, "%s/out.json", dir);
	const char *old = "{\"old\": true}\n";
	write_file(path, old, strlen(old));

	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		free(dir); /* the child's copy: keeps valgrind's leak check quiet */
		signal(SIGXFSZ, SIG_IGN);
		struct rlimit rl;
		getrlimit(RLIMIT_FSIZE, &rl);
		rl.rlim_cur = 10000;
		if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
			_exit(3);
		pk_profile *empty = NULL;
		if (pk_profile_new(&empty) != 0)
			_exit(5);
		pk_write_options wo = PK_WRITE_OPTIONS_INIT;
		wo.format = &failing_format; /* writes 400 KiB before it would fail */
		pk_error err = PK_ERROR_INIT;
		int rc = pk_profile_write_path(empty, path, &wo, &err);
		pk_profile_free(empty);
		/* the write error comes first and wins */
		_exit(rc == PK_EIO && strstr(err.message, "cannot write") != NULL ? 0 : 4);
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_only_file(dir, "out.json", old, strlen(old));

	/* the same with a successful exporter whose output does not fit: the
	 * error only shows when the file is closed */
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		free(dir); /* the child's copy: keeps valgrind's leak check quiet */
		signal(SIGXFSZ, SIG_IGN);
		struct rlimit rl;
		getrlimit(RLIMIT_FSIZE, &rl);
		rl.rlim_cur = 10;
		if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
			_exit(3);
		pk_profile *p = NULL;
		if (pk_profile_new(&p) != 0)
			_exit(5);
		pk_write_options wo = PK_WRITE_OPTIONS_INIT;
		wo.format = pk_format_by_name("pprof");
		wo.compress = PK_COMPRESS_GZIP;
		pk_error err = PK_ERROR_INIT;
		int rc = pk_profile_write_path(p, path, &wo, &err);
		pk_profile_free(p);
		_exit(rc == PK_EIO && strstr(err.message, "cannot write") != NULL ? 0 : 4);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_only_file(dir, "out.json", old, strlen(old));
	remove_dir(dir);
}

/* With an allocation failing at each step in turn, writing a file either
 * fails and leaves the old file alone, or succeeds. */
static void test_file_sink_allocation_failures(void **state)
{
	(void)state;
	char *dir = make_temp_dir();
	char path[4200];
	snprintf(path, sizeof path, "%s/out.pb.gz", dir);
	const char *old = "old";
	pk_profile *p = make_rich_profile();
	long n;
	for (n = 1;; n++) {
		write_file(path, old, strlen(old));
		pk_error err = PK_ERROR_INIT;
		chaos_reset(n, 0);
		pk_set_allocator(chaos_malloc, chaos_free);
		int rc = pk_profile_write_path(p, path, NULL, &err);
		pk_set_allocator(NULL, NULL);
		if (rc == 0) {
			assert_true(chaos.calls < n);
			break;
		}
		assert_int_equal(rc, PK_ENOMEM);
		assert_only_file(dir, "out.pb.gz", old, strlen(old));
	}
	assert_true(n > 3);
	pk_profile *q = NULL;
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(pk_profile_read_path(path, NULL, &q, NULL, &err), 0);
	assert_profiles_equal(p, q);
	pk_profile_free(q);
	pk_profile_free(p);
	remove_dir(dir);
}

static void test_file_sink_abort_and_commit(void **state)
{
	(void)state;
	char *dir = make_temp_dir();
	char path[4200];
	snprintf(path, sizeof path, "%s/direct.txt", dir);
	pk_error err = PK_ERROR_INIT;

	/* abort: the temporary file goes away, nothing is created */
	pk__file_sink *f = NULL;
	assert_int_equal(pk__file_sink_open(path, &err, &f), 0);
	assert_int_equal(pk__sink_puts(pk__file_sink_base(f), "partial"), 0);
	char names[1024];
	list_dir(dir, names, sizeof names);
	/* The temporary file is unnamed where the file system allows, and
	 * otherwise beside the target. */
	assert_true(names[0] == '\0' || strstr(names, "direct.txt.tmp") != NULL);
	pk__file_sink_abort(f);
	pk__file_sink_abort(NULL);
	list_dir(dir, names, sizeof names);
	assert_string_equal(names, "");

	/* commit: the file appears whole */
	assert_int_equal(pk__file_sink_open(path, &err, &f), 0);
	assert_int_equal(pk__sink_puts(pk__file_sink_base(f), "complete\n"), 0);
	assert_int_equal(pk__file_sink_commit(f), 0);
	assert_only_file(dir, "direct.txt", "complete\n", 9);
	assert_int_equal(err.code, 0);
	remove_dir(dir);
}

/* ---------------------------------------------------- sinks with a worker */

/* Bytes deflate cannot shrink much, so that outputs span many blocks. */
static unsigned char *noise(size_t size, unsigned seed)
{
	unsigned char *b = malloc(size ? size : 1);
	assert_non_null(b);
	uint64_t x = 0x9e3779b97f4a7c15ull * (seed + 1);
	for (size_t i = 0; i < size; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* every fourth byte repeats, so deflate still has work */
		b[i] = i % 4 == 3 ? b[i - 1] : (unsigned char)x;
	}
	return b;
}

/* Writes of every shape: small ones, flushes of a partly full buffer, and
 * pieces larger than the sinks' blocks, which go through them. */
static void write_shapes(pk__sink *s, const unsigned char *data, size_t size)
{
	size_t at = 0, step = 0;
	while (at < size) {
		size_t n = step % 5 == 4 ? 3 * 1024 * 1024 + 17 : (step * 7919) % 70000 + 1;
		if (n > size - at)
			n = size - at;
		assert_int_equal(pk__sink_write(s, data + at, n), 0);
		if (step % 7 == 3)
			assert_int_equal(pk__sink_flush(s), 0);
		at += n;
		step++;
	}
}

/* gzip data through a gzip sink into memory, in pieces of step bytes
 * each flushed (0: one write), and check that it reads back; the gzip
 * size. */
static size_t gzip_round_trip(const unsigned char *data, size_t size, size_t step)
{
	pk_error err = PK_ERROR_INIT;
	pk__buffer_sink b;
	pk__buffer_sink_init(&b, &err);
	pk__gzip_sink *g = NULL;
	assert_int_equal(pk__gzip_sink_new(&b.base, &err, &g), 0);
	pk__sink *s = pk__gzip_sink_base(g);
	for (size_t at = 0; at < size; at += step ? step : size) {
		size_t n = step && step < size - at ? step : size - at;
		assert_int_equal(pk__sink_write(s, data + at, n), 0);
		if (step)
			assert_int_equal(pk__sink_flush(s), 0);
	}
	assert_int_equal(pk__gzip_sink_finish(g), 0);
	pk__gzip_sink_free(g);
	pk__input in;
	assert_int_equal(pk__input_from_buffer(b.data, b.size, 0, NULL, &in, &err), 0);
	assert_int_equal(in.size, size);
	if (size > 0)
		assert_memory_equal(in.data, data, size);
	pk__input_release(&in);
	size_t gz_size = b.size;
	pk__buffer_sink_release(&b);
	assert_int_equal(err.code, 0);
	return gz_size;
}

/* The gzip sink's blocks, deflated apart, make one stream: each block's
 * matches into the data before it (its dictionary, which a decoder takes
 * from the output so far) read back right, even when that data came in
 * pieces shorter than the dictionary. */
static void test_gzip_blocks(void **state)
{
	(void)state;
	assert_int_equal(gzip_round_trip(NULL, 0, 0), 20); /* header, empty block, trailer */
	/* random bytes repeated every 1000: nearly every match is near */
	size_t size = 3 * 1024 * 1024 + 7;
	unsigned char *data = noise(size, 4);
	for (size_t i = 1000; i < size; i++)
		data[i] = data[i - 1000];
	gzip_round_trip(data, size, 0);
	gzip_round_trip(data, size, 999);
	gzip_round_trip(data, size, 40000);
	gzip_round_trip(data, 100000, 1);
	free(data);
}

/* data gzipped through a gzip sink into memory (ours to free). */
static unsigned char *gzip_sink_bytes(const unsigned char *data, size_t size, size_t *out_size)
{
	pk_error err = PK_ERROR_INIT;
	pk__buffer_sink b;
	pk__buffer_sink_init(&b, &err);
	pk__gzip_sink *g = NULL;
	assert_int_equal(pk__gzip_sink_new(&b.base, &err, &g), 0);
	assert_int_equal(pk__sink_write(pk__gzip_sink_base(g), data, size), 0);
	assert_int_equal(pk__gzip_sink_finish(g), 0);
	pk__gzip_sink_free(g);
	*out_size = b.size;
	return b.data;
}

/* Which thread deflates a block does not change the bytes: on one core
 * the caller deflates every block itself (no thread starts), and its
 * output is the threads' to the byte, for data that compresses and data
 * that does not fit a block's output buffer. */
static void test_gzip_one_core(void **state)
{
	(void)state;
#ifdef CPU_COUNT
	cpu_set_t all, one;
	assert_int_equal(sched_getaffinity(0, sizeof all, &all), 0);
	int cpu = 0;
	while (!CPU_ISSET(cpu, &all))
		cpu++;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	size_t size = 3 * 1024 * 1024 + 7;
	unsigned char *data = noise(size, 6);
	for (size_t i = 1000; i < size / 2; i++)
		data[i] = data[i - 1000];
	size_t threads_size, one_size;
	unsigned char *threads = gzip_sink_bytes(data, size, &threads_size);
	assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
	unsigned char *alone = gzip_sink_bytes(data, size, &one_size);
	assert_int_equal(sched_setaffinity(0, sizeof all, &all), 0);
	assert_int_equal(one_size, threads_size);
	assert_memory_equal(alone, threads, one_size);
	pk_error err = PK_ERROR_INIT;
	pk__input in;
	assert_int_equal(pk__input_from_buffer(alone, one_size, 0, NULL, &in, &err), 0);
	assert_int_equal(in.size, size);
	assert_memory_equal(in.data, data, size);
	pk__input_release(&in);
	pk_free(threads);
	pk_free(alone);
	free(data);
#else
	skip();
#endif
}

/* The blocks that the deflate and write threads take reach the file in
 * the order written, through every path into a sink's buffer. */
static void test_worker_sinks_keep_order(void **state)
{
	(void)state;
	size_t size = 12 * 1024 * 1024 + 12345;
	unsigned char *data = noise(size, 1);
	char *dir = make_temp_dir();
	char path[4200];
	snprintf(path, sizeof path, "%s/out", dir);
	for (int gzip = 0; gzip < 2; gzip++)
		write_and_read_back(path, gzip, write_shapes, data, size, data, size);
	/* over the file there now: the writer starts writing it out early */
	write_and_read_back(path, 0, write_shapes, data, size, data, size);

	/* gzip into memory, and a gzip sink freed with a block in flight */
	pk_error err = PK_ERROR_INIT;
	pk__buffer_sink b;
	pk__buffer_sink_init(&b, &err);
	pk__gzip_sink *g = NULL;
	assert_int_equal(pk__gzip_sink_new(&b.base, &err, &g), 0);
	write_shapes(pk__gzip_sink_base(g), data, size);
	assert_int_equal(pk__gzip_sink_finish(g), 0);
	pk__gzip_sink_free(g);
	pk__input in;
	assert_int_equal(pk__input_from_buffer(b.data, b.size, 0, NULL, &in, &err), 0);
	assert_int_equal(in.size, size);
	assert_memory_equal(in.data, data, size);
	pk__input_release(&in);
	assert_int_equal(pk__gzip_sink_new(&b.base, &err, &g), 0);
	assert_int_equal(pk__sink_write(pk__gzip_sink_base(g), data, size), 0);
	pk__gzip_sink_free(g);
	pk__buffer_sink_release(&b);

	/* a file sink aborted with a block in flight leaves the old file */
	write_file(path, "old", 3);
	pk__file_sink *f = NULL;
	assert_int_equal(pk__file_sink_open(path, &err, &f), 0);
	assert_int_equal(pk__sink_write(pk__file_sink_base(f), data, size), 0);
	pk__file_sink_abort(f);
	assert_only_file(dir, "out", "old", 3);
	assert_int_equal(err.code, 0);
	remove_dir(dir);
	free(data);
}

/* A sink that takes limit bytes and then fails, as a full disk does. */
typedef struct failing_sink {
	pk__sink base;
	size_t taken, limit;
} failing_sink;

static int failing_write(pk__sink *s, const void *data, size_t size)
{
	(void)data;
	failing_sink *f = (failing_sink *)s;
	if (size > f->limit - f->taken)
		return pk__error_set(s->err, PK_EIO, "cannot write: No space left on device");
	f->taken += size;
	return 0;
}

/* Failures behind the threads reach the caller, with the texts of the
 * sinks that failed: the sink behind a gzip sink, and a write on the file
 * sink's thread (the file-size limit, in a child process), before and
 * after that thread has started writing the file out. */
static void test_worker_sink_errors(void **state)
{
	(void)state;
	size_t size = 8 * 1024 * 1024;
	unsigned char *data = noise(size, 2);
	for (size_t limit = 0; limit < size; limit += size / 3) {
		pk_error err = PK_ERROR_INIT;
		failing_sink next = {{failing_write, &err, NULL, 0, 0}, 0, limit};
		pk__gzip_sink *g = NULL;
		assert_int_equal(pk__gzip_sink_new(&next.base, &err, &g), 0);
		int rc = 0;
		for (size_t at = 0; rc == 0 && at < size; at += 100000)
			rc = pk__sink_write(pk__gzip_sink_base(g), data + at,
			                    size - at < 100000 ? size - at : 100000);
		if (rc == 0)
			rc = pk__gzip_sink_finish(g);
		pk__gzip_sink_free(g);
		assert_int_equal(rc, PK_EIO);
		assert_string_equal(err.message, "cannot write: No space left on device");
	}

	char *dir = make_temp_dir();
	char path[4200];
	snprintf(path, sizeof path, "%s/out.gz", dir);
	const char *old = "old";
	for (int run = 0; run < 4; run++) {
		int gzip = run & 1;
		rlim_t limit = (run < 2 ? 3 : 6) * 1024 * 1024 + 100;
		write_file(path, old, strlen(old));
		fflush(NULL);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			signal(SIGXFSZ, SIG_IGN);
			struct rlimit rl;
			getrlimit(RLIMIT_FSIZE, &rl);
			rl.rlim_cur = limit;
			if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
				_exit(3);
			pk_error err = PK_ERROR_INIT;
			pk__file_sink *f = NULL;
			pk__gzip_sink *g = NULL;
			if (pk__file_sink_open(path, &err, &f) != 0 ||
			    (gzip && pk__gzip_sink_new(pk__file_sink_base(f), &err, &g) != 0))
				_exit(5);
			pk__sink *s = gzip ? pk__gzip_sink_base(g) : pk__file_sink_base(f);
			int rc = 0;
			size_t at = 0;
			for (; rc == 0 && at < size; at += 65536)
				rc = pk__sink_write(s, data + at, 65536);
			if (rc == 0 && gzip)
				rc = pk__gzip_sink_finish(g);
			pk__gzip_sink_free(g);
			if (rc == 0)
				rc = pk__file_sink_commit(f);
			else
				pk__file_sink_abort(f);
			/* the error shows a block or two after the limit */
			bool early = at < size || gzip;
			_exit(rc == PK_EIO && early &&
			              strcmp(err.message, "cannot write: File too large") == 0
			          ? 0
			          : 4);
		}
		int status = 0;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
		assert_only_file(dir, "out.gz", old, strlen(old));
	}
	remove_dir(dir);
	free(data);
}

/* With an allocation failing at each step in turn, a large output through
 * gzip into a file fails with PK_ENOMEM, leaves the old file and leaks
 * nothing, or succeeds. */
static void test_worker_sink_allocation_failures(void **state)
{
	(void)state;
	size_t size = 3 * 1024 * 1024;
	unsigned char *data = noise(size, 3);
	char *dir = make_temp_dir();
	char path[4200];
	snprintf(path, sizeof path, "%s/out.gz", dir);
	long n;
	for (n = 1;; n++) {
		write_file(path, "old", 3);
		pk_error err = PK_ERROR_INIT;
		chaos_reset(n, 0);
		pk_set_allocator(chaos_malloc, chaos_free);
		pk__file_sink *f = NULL;
		pk__gzip_sink *g = NULL;
		int rc = pk__file_sink_open(path, &err, &f);
		if (rc == 0)
			rc = pk__gzip_sink_new(pk__file_sink_base(f), &err, &g);
		if (rc == 0)
			rc = pk__sink_write(pk__gzip_sink_base(g), data, size);
		if (rc == 0)
			rc = pk__gzip_sink_finish(g);
		pk__gzip_sink_free(g);
		if (rc == 0)
			rc = pk__file_sink_commit(f);
		else if (f != NULL)
			pk__file_sink_abort(f);
		pk_set_allocator(NULL, NULL);
		assert_int_equal(chaos.live, 0);
		if (rc == 0) {
			assert_true(chaos.calls < n);
			break;
		}
		assert_int_equal(rc, PK_ENOMEM);
		assert_string_equal(err.message, "out of memory");
		assert_only_file(dir, "out.gz", "old", 3);
	}
	assert_true(n > 3);
	pk__input in;
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(pk__input_read_path(path, 0, NULL, &in, &err), 0);
	assert_int_equal(in.size, size);
	assert_memory_equal(in.data, data, size);
	pk__input_release(&in);
	remove_dir(dir);
	free(data);
}

/* Blocks of 8 MiB and more start on a 2 MiB boundary (so that all their
 * whole 2 MiB pages are huge), grow and shrink keeping their bytes, and a
 * user's allocator still gets every one of them. */
static void test_big_blocks(void **state)
{
	(void)state;
	const size_t mib = (size_t)1 << 20;
	unsigned char *p = pk__malloc(9 * mib + 1);
	assert_non_null(p);
	assert_int_equal((uintptr_t)p % (2 * mib), 0);
	memset(p, 0x5a, 9 * mib + 1);
	p = pk__realloc(p, 9 * mib + 1, 20 * mib);
	assert_non_null(p);
	assert_int_equal(p[0], 0x5a);
	assert_int_equal(p[9 * mib], 0x5a);
	p = pk__realloc(p, 20 * mib, mib);
	assert_non_null(p);
	assert_int_equal(p[mib - 1], 0x5a);
	pk__free(p);

	chaos_reset(0, 0);
	pk_set_allocator(chaos_malloc, chaos_free);
	p = pk__malloc(9 * mib);
	assert_non_null(p);
	assert_int_equal(chaos.calls, 1);
	pk__free(p);
	assert_int_equal(chaos.live, 0);
	chaos_reset(1, 0);
	assert_null(pk__malloc(9 * mib));
	pk_set_allocator(NULL, NULL);
}

/* A gzip file of many read chunks, read on the worker while the chunk
 * before inflates: whole, cut, damaged, and short of memory. */
static void test_read_gzip_file_in_chunks(void **state)
{
	(void)state;
	size_t size = 6 * 1024 * 1024;
	unsigned char *data = noise(size, 4);
	size_t gz_size;
	unsigned char *gz = gzip_bytes(data, size, &gz_size);
	assert_true(gz_size > 8 * READ_CHUNK);
	char *dir = make_temp_dir();
	char path[4200];
	snprintf(path, sizeof path, "%s/in.gz", dir);
	write_file(path, gz, gz_size);
	pk__input in;
	pk_error err = PK_ERROR_INIT;
	assert_int_equal(pk__input_read_path(path, 0, NULL, &in, &err), 0);
	assert_int_equal(in.size, size);
	assert_memory_equal(in.data, data, size);
	pk__input_release(&in);

	size_t cut = 5 * READ_CHUNK + 77;
	write_file(path, gz, cut);
	assert_int_equal(pk__input_read_path(path, 0, NULL, &in, &err), PK_EFORMAT);
	assert_int_equal(err.offset, cut);
	assert_string_equal(err.message,
	                    "truncated gzip stream: the input ends before the gzip trailer");

	/* the trailer's CRC, read in the last chunk */
	gz[gz_size - 8] ^= 1;
	write_file(path, gz, gz_size);
	pk_error_init(&err);
	assert_int_equal(pk__input_read_path(path, 0, NULL, &in, &err), PK_EFORMAT);
	assert_string_equal(err.message, "corrupt gzip data: incorrect data check");
	gz[gz_size - 8] ^= 1;
	write_file(path, gz, gz_size);

	long n;
	for (n = 1;; n++) {
		pk_error_init(&err);
		chaos_reset(n, 0);
		pk_set_allocator(chaos_malloc, chaos_free);
		int rc = pk__input_read_path(path, 0, NULL, &in, &err);
		pk_set_allocator(NULL, NULL);
		/* the output's first size may fail and then grow instead */
		if (rc == 0) {
			assert_int_equal(in.size, size);
			assert_memory_equal(in.data, data, size);
			pk__input_release(&in);
			if (chaos.calls < n)
				break;
			continue;
		}
		assert_int_equal(rc, PK_ENOMEM);
		assert_int_equal(chaos.live, 0);
	}
	assert_true(n > 2);
	remove_dir(dir);
	free(gz);
	free(data);
}

/* ----------------------------------------------------------------- errors */

static void test_error_describe(void **state)
{
	(void)state;
	pk_error err;
	pk_error_init(&err);
	assert_int_equal(err.code, 0);
	assert_int_equal(err.offset, -1);
	assert_null(err.format);
	pk_error_init(NULL);

	char buf[1024];
	/* source:line:col: msg */
	pk__error_at_line(&err, PK_EFORMAT, 12, 7, 345, "expected ';'");
	pk__error_locate(&err, "a.folded", "folded");
	int n = pk_error_describe(&err, buf, sizeof buf);
	assert_string_equal(buf, "a.folded:12:7: expected ';'");
	assert_int_equal(n, (int)strlen(buf));
	assert_string_equal(err.format, "folded");
	assert_int_equal(err.offset, 345);

	/* source:line: msg */
	pk_error_init(&err);
	pk__error_at_line(&err, PK_EFORMAT, 3, 0, -1, "bad line");
	pk__error_locate(&err, "in.txt", NULL);
	pk_error_describe(&err, buf, sizeof buf);
	assert_string_equal(buf, "in.txt:3: bad line");

	/* source: byte N: msg */
	pk_error_init(&err);
	pk__error_at(&err, PK_EFORMAT, 1234, "truncated protobuf");
	pk__error_locate(&err, "cpu.pb.gz", "pprof");
	pk_error_describe(&err, buf, sizeof buf);
	assert_string_equal(buf, "cpu.pb.gz: byte 1234: truncated protobuf");
	pk_error_init(&err);
	pk__error_at(&err, PK_EFORMAT, 0, "empty input");
	pk__error_locate(&err, "-", NULL);
	pk_error_describe(&err, buf, sizeof buf);
	assert_string_equal(buf, "-: byte 0: empty input");

	/* source: msg, and no source */
	pk_error_init(&err);
	pk__error_set(&err, PK_ENOMEM, "out of memory");
	pk_error_describe(&err, buf, sizeof buf);
	assert_string_equal(buf, "out of memory");
	pk__error_locate(&err, "x", NULL);
	pk_error_describe(&err, buf, sizeof buf);
	assert_string_equal(buf, "x: out of memory");

	/* the first error, source and format win */
	assert_int_equal(pk__error_set(&err, PK_EIO, "second"), PK_EIO);
	pk__error_locate(&err, "y", "json");
	pk__error_locate(&err, NULL, "pprof");
	assert_int_equal(err.code, PK_ENOMEM);
	assert_string_equal(err.message, "out of memory");
	assert_string_equal(err.source, "x");
	assert_string_equal(err.format, "json");
	assert_int_equal(pk__error_set(NULL, PK_EIO, "nowhere"), PK_EIO);
	pk__error_locate(NULL, "z", "pprof");

	/* newlines never reach the message (test_error_control_bytes has more) */
	pk_error_init(&err);
	pk__error_set(&err, PK_EFORMAT, "a\nb\r\nc %s", "d\ne");
	assert_string_equal(err.message, "a?b??c d?e");

	/* truncation: the return value is the length needed, like snprintf */
	pk_error_init(&err);
	pk__error_at(&err, PK_EFORMAT, 9, "0123456789");
	pk__error_locate(&err, "src", NULL);
	char small[8];
	n = pk_error_describe(&err, small, sizeof small);
	assert_int_equal(n, (int)strlen("src: byte 9: 0123456789"));
	assert_string_equal(small, "src: by");
	assert_int_equal(pk_error_describe(&err, NULL, 0), n);

	/* a long message is cut, not overflowed */
	char long_text[2000];
	memset(long_text, 'm', sizeof long_text - 1);
	long_text[sizeof long_text - 1] = '\0';
	pk_error_init(&err);
	pk__error_set(&err, PK_EFORMAT, "%s", long_text);
	assert_int_equal(strlen(err.message), PK_ERROR_MESSAGE_MAX - 1);

	assert_string_equal(pk_strerror(PK_OK), "no error");
	assert_string_equal(pk_strerror(PK_ENOMEM), "out of memory or over a size limit");
	assert_string_equal(pk_strerror(PK_EINVAL), "invalid argument");
	assert_string_equal(pk_strerror(12345), "unknown error");
	assert_non_null(pk_version());
	assert_string_equal(pk_version(), PACKAGE_VERSION);
}

/* No control byte of a file name or of the input reaches the error text:
 * a newline would forge a second error line, an ESC drive the terminal. */
static void assert_printable(const char *s)
{
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			fail_msg("control byte 0x%02x in \"%s\"", *c, s);
}

static void test_error_control_bytes(void **state)
{
	(void)state;
	pk_error err = PK_ERROR_INIT;
	char buf[1024];

	/* every control byte, in the format and in what it interpolates */
	pk__error_at(&err, PK_EFORMAT, 3, "a\tb\x01%s\x7f", "\x1b[31m\n");
	pk__error_locate(&err, "evil\nfile\x1b]0;title\x07.pb", "pprof");
	assert_string_equal(err.message, "a?b??[31m??");
	assert_string_equal(err.source, "evil?file?]0;title?.pb");
	pk_error_describe(&err, buf, sizeof buf);
	assert_string_equal(buf, "evil?file?]0;title?.pb: byte 3: a?b??[31m??");
	/* bytes of UTF-8 text are no control bytes */
	pk_error_init(&err);
	pk__error_set(&err, PK_EFORMAT, "caf\xc3\xa9");
	assert_string_equal(err.message, "caf\xc3\xa9");

	/* through the public calls: a file name with a newline and ESC */
	pk_error_init(&err);
	pk_profile *p = NULL;
	assert_int_equal(
	    pk_profile_read_path("/nonexistent/evil\nfile\x1b[2J.pb", NULL, &p, NULL, &err),
	    PK_EIO);
	pk_error_describe(&err, buf, sizeof buf);
	assert_printable(buf);
	assert_non_null(strstr(buf, "/nonexistent/evil?file?[2J.pb: "));

	/* and a JSON key holding ESC (\u001b), read under such a source name */
	static const char json[] = "{\"format\": \"profkit-profile\", \"version\": 1,\n"
	                           " \"\\u001b[2J\\n\": 1}";
	pk_read_options ro = PK_READ_OPTIONS_INIT;
	ro.source_name = "in\r\n.json";
	pk_error_init(&err);
	assert_int_equal(pk_profile_read_buffer(json, strlen(json), &ro, &p, NULL, &err),
	                 PK_EFORMAT);
	pk_error_describe(&err, buf, sizeof buf);
	assert_printable(buf);
	assert_non_null(strstr(buf, "in??.json:2:2: "));
	assert_non_null(strstr(buf, "?[2J?"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_buffer_is_copied),
	    cmocka_unit_test(test_plain_file_mapped),
	    cmocka_unit_test(test_gunzip_single_member),
	    cmocka_unit_test(test_gunzip_multi_member),
	    cmocka_unit_test(test_gunzip_truncated),
	    cmocka_unit_test(test_gunzip_garbage),
	    cmocka_unit_test(test_max_size),
	    cmocka_unit_test(test_gunzip_members_across_reads),
	    cmocka_unit_test(test_gunzip_grows),
	    cmocka_unit_test(test_gunzip_trailer_lies),
	    cmocka_unit_test(test_empty_file),
	    cmocka_unit_test(test_directory),
	    cmocka_unit_test(test_missing_file),
	    cmocka_unit_test(test_read_gzip_file),
	    cmocka_unit_test(test_buffer_and_gzip_sinks),
	    cmocka_unit_test(test_gzip_blocks),
	    cmocka_unit_test(test_gzip_one_core),
	    cmocka_unit_test(test_sinks_gather_small_writes),
	    cmocka_unit_test(test_file_sink_failed_export_keeps_old_file),
	    cmocka_unit_test(test_file_sink_write_error_keeps_old_file),
	    cmocka_unit_test(test_file_sink_allocation_failures),
	    cmocka_unit_test(test_file_sink_abort_and_commit),
	    cmocka_unit_test(test_worker_sinks_keep_order),
	    cmocka_unit_test(test_worker_sink_errors),
	    cmocka_unit_test(test_worker_sink_allocation_failures),
	    cmocka_unit_test(test_read_gzip_file_in_chunks),
	    cmocka_unit_test(test_big_blocks),
	    cmocka_unit_test(test_error_describe),
	    cmocka_unit_test(test_error_control_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
