/*
 * files.h: fixture files for the unit tests that read directories
 * (feed_test, latest_test).
 */
#ifndef CAPSULED_TEST_FILES_H
#define CAPSULED_TEST_FILES_H

#include <sys/stat.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Write a file and put its mtime `ago` seconds in the past. */
static inline void
put(int dirfd, const char *name, const char *text, time_t ago)
{
	struct timespec	ts[2];
	int		fd;

	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd == -1 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - ago;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	futimens(fd, ts);
	close(fd);
}

#endif
