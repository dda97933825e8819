/*
 * regress_main.c: runs a fuzz target's LLVMFuzzerTestOneInput over every
 * file of its corpus without libFuzzer, so `make check` (and its
 * sanitizer build) replays every seed and every past crash input.
 * FUZZ_CORPUS is the corpus directory, set when this is compiled; other
 * files or directories may be given as arguments instead.  TAP output.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/tap.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
run_file(const char *path)
{
	FILE		*f;
	unsigned char	*buf = NULL, *nb;
	size_t		 len = 0, cap = 0, n;

	if ((f = fopen(path, "rb")) == NULL)
		return -1;
	for (;;) {
		if (len + 4096 > cap) {
			cap = cap ? cap * 2 : 8192;
			if ((nb = realloc(buf, cap)) == NULL)
				break;
			buf = nb;
		}
		if ((n = fread(buf + len, 1, 4096, f)) == 0)
			break;
		len += n;
	}
	fclose(f);
	/* a crash ends the process: the harness reports the exit status */
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
run_dir(const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[4096], **names = NULL, **nn;
	size_t		 n = 0, i;
	int		 len;

	if ((d = opendir(dir)) == NULL) {
		ok(0, "%s: cannot open", dir);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((nn = realloc(names, (n + 1) * sizeof(*names))) == NULL)
			break;
		names = nn;
		if ((names[n] = strdup(de->d_name)) == NULL)
			break;
		n++;
	}
	closedir(d);
	/* sorted, so a failure names the same input every time */
	qsort(names, n, sizeof(*names), name_cmp);
	for (i = 0; i < n; i++) {
		len = snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (len < 0 || (size_t)len >= sizeof(path))
			ok(0, "%s/%s: path too long", dir, names[i]);
		else
			ok(run_file(path) == 0, "%s", path);
		free(names[i]);
	}
	free(names);
}

int
main(int argc, char *argv[])
{
	struct stat	st;
	int		i;

	if (argc < 2) {
		run_dir(FUZZ_CORPUS);
		return tap_done();
	}
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
			run_dir(argv[i]);
		else
			ok(run_file(argv[i]) == 0, "%s", argv[i]);
	}
	return tap_done();
}
