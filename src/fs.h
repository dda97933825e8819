/*
 * fs.h: files beneath a host root.  Nothing outside the root is ever
 * opened: not through "..", not through a symlink that points out.
 */
#ifndef CAPSULED_FS_H
#define CAPSULED_FS_H

#include <sys/stat.h>

#include <dirent.h>
#include <stddef.h>
#include <time.h>

/*
 * Open path (a normalised URL path: starts with '/', no dot segments)
 * beneath the directory rootfd, read-only and non-blocking.  Only
 * regular files and directories are opened; a name whose any segment
 * starts with '.' is treated as absent.  Returns an fd with *st filled,
 * or -1 with errno (ENOENT for anything that must look absent).
 */
int	fs_open(int rootfd, const char *path, struct stat *st);

/*
 * The script of a CGI-style path: the first leading part of path that
 * is a regular file beneath rootfd, its segments tried from byte start
 * on (where a segment begins).  Its length, with *st; 0 when there is
 * none: errno 0 when the path is all directories or ends before a file,
 * else why an open failed.
 */
size_t	fs_leading_file(int rootfd, const char *path, size_t start,
	    struct stat *st);

/*
 * Open the directory dir (a path, leading '/' or not) beneath rootfd
 * following no symlink on the way or at its end, not even one that
 * stays beneath (the Titan writer's: it writes there).  No dotfile
 * rule: its callers check the path first.  An fd, or -1 with errno.
 */
int	fs_open_dir(int rootfd, const char *dir);

/* A stream over the open directory dirfd, from its start; dirfd stays
 * open and the caller's (closedir closes only the stream). */
DIR	*fs_opendir(int dirfd);

/* Open name inside the open directory dirfd the same way. */
int	fs_open_in(int dirfd, const char *name, struct stat *st);

/*
 * After fs_open or fs_open_in failed: 1 when errno means there is nothing
 * there for a client (51), 0 when it is the server's trouble (out of
 * descriptors or memory, an I/O error: 40, and logged).
 */
int	fs_missing(int err);

/* 1 to leave the entry at URL path out of a listing (arg: the caller's). */
typedef int (*fs_hide_fn)(void *arg, const char *path);

/*
 * A gemtext listing of the open directory dirfd (not consumed), shown
 * as urlpath (ending in '/') under the root rootfd.  Names starting with
 * '.' are left out, and so is a symlink that fs_open would not follow,
 * and an entry hide (if not NULL) says to leave out; links are
 * percent-encoded; sorted by name.  At most max names are read (the
 * first the directory gives) and a last line says when there are more.
 * A listing is kept for the same directory, urlpath, max, hide and arg.
 * *out is malloc'd.  0 or -1.
 */
int	fs_listing(int rootfd, int dirfd, const char *urlpath, size_t max,
	    fs_hide_fn hide, void *arg, char **out, size_t *outlen);

/* What fs_listing did, for tests: listings made (not from its cache). */
struct fs_stats {
	unsigned long	listings_made;
};
void	fs_get_stats(struct fs_stats *);

/*
 * What a cache keeps of a file's stat to tell whether it changed.  A
 * stat taken less than FS_RACY_SEC after a change may not show the next
 * change (file systems stamp with a coarse clock, some to the second or
 * two): it is "racy", and its cache is checked by reading again until it
 * is older, as git does with its index.
 */
#define FS_RACY_SEC	2

struct fs_id {
	dev_t		dev;
	ino_t		ino;
	off_t		size;
	struct timespec	mtim, ctim;
	int		racy;	/* changed just before it was read */
};

void	fs_id_set(struct fs_id *, const struct stat *, time_t now);

/* Unchanged: the same file, size and times (ctime catches utime(2)). */
int	fs_id_same(const struct fs_id *, const struct stat *);

/* A growable buffer for generated bodies. */
struct buf {
	char	*data;
	size_t	 len, cap;
	int	 failed;	/* an append ran out of memory */
};
void	buf_append(struct buf *, const char *s, size_t len);
void	buf_puts(struct buf *, const char *s);

#endif
