/* replay.c - runs a fuzz target on saved inputs, without libFuzzer, so the
 * corpora are replayed by every `make check` (with sanitizers when the
 * build has them). Linked with one target's source into replay_<target>.
 *
 * Usage: replay_<target> FILE|FOLDER...   (folders are not recursed into)
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Feed one file to the target. The buffer is exactly the file's size, so a
 * sanitizer catches reads past the end. Returns 0 or -1. */
static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || st.st_size < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		fclose(f);
		return -1;
	}
	size_t size = (size_t)st.st_size;
	uint8_t *data = malloc(size ? size : 1);
	if (data == NULL || fread(data, 1, size, f) != size) {
		fprintf(stderr, "replay: %s: cannot read\n", path);
		free(data);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(data, size);
	free(data);
	return 0;
}

static int skip_entry(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|FOLDER...\n", argv[0]);
		return 2;
	}
	long ran = 0;
	int failed = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			failed = 1;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (run_file(argv[i]) == 0)
				ran++;
			else
				failed = 1;
			continue;
		}
		/* sorted, so a crash always happens at the same place */
		struct dirent **entries;
		int n = scandir(argv[i], &entries, skip_entry, alphasort);
		if (n < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			failed = 1;
			continue;
		}
		for (int j = 0; j < n; j++) {
			size_t len = strlen(argv[i]) + strlen(entries[j]->d_name) + 2;
			char *path = malloc(len);
			if (path == NULL) {
				failed = 1;
				break;
			}
			snprintf(path, len, "%s/%s", argv[i], entries[j]->d_name);
			if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
				if (run_file(path) == 0)
					ran++;
				else
					failed = 1;
			}
			free(path);
		}
		for (int j = 0; j < n; j++)
			free(entries[j]);
		free(entries);
	}
	printf("%s: ran %ld inputs\n", argv[0], ran);
	return failed;
}
