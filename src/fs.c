/*
 * fs.c: path -> open file beneath a host root.
 *
 * On Linux openat2(RESOLVE_BENEATH) resolves the whole path in the
 * kernel, following symlinks that stay inside the root and failing with
 * EXDEV on any that leave it, with no race.  Elsewhere (or on kernels
 * before 5.6) we walk the path one segment at a time with O_NOFOLLOW,
 * which refuses every symlink; OpenBSD's unveil(2) confines the workers
 * to the roots in any case.  The Titan writer's directories are opened
 * by the same resolver in its other mode: no symlink at all.
 */
#include <sys/types.h>
#include <sys/stat.h>
#ifdef __linux__
#include <sys/syscall.h>
#include <linux/openat2.h>
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "url.h"

#define OPEN_FLAGS	(O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)

/* Any segment starting with '.' (dotfiles; dot segments never get here). */
static int
has_dot_segment(const char *path)
{
	const char	*s;

	for (s = path; (s = strchr(s, '/')) != NULL; s++)
		if (s[1] == '.')
			return 1;
	return path[0] == '.';
}

/* Regular files and directories only; anything else looks absent. */
static int
check_type(int fd, struct stat *st)
{
	if (fstat(fd, st) == -1 ||
	    (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode))) {
		close(fd);
		errno = ENOENT;
		return -1;
	}
	return fd;
}

/*
 * Segment by segment, refusing every symlink (O_NOFOLLOW): where there
 * is no openat2.  The last segment is opened with flags.
 */
static int
walk_open(int rootfd, const char *rel, int flags)
{
	char	 seg[NAME_MAX + 1];
	int	 dirfd = rootfd, fd;
	size_t	 n;

	for (;;) {
		while (*rel == '/')
			rel++;
		if (*rel == '\0')
			return openat(dirfd, ".", flags | O_DIRECTORY);
		n = strcspn(rel, "/");
		if (n > NAME_MAX) {
			errno = ENAMETOOLONG;
			fd = -1;
			break;
		}
		memcpy(seg, rel, n);
		seg[n] = '\0';
		rel += n;
		fd = openat(dirfd, seg, (*rel == '/' ? OPEN_FLAGS | O_DIRECTORY :
		    flags) | O_NOFOLLOW);
		if (fd == -1 || rel[strspn(rel, "/")] == '\0')
			break;
		if (dirfd != rootfd)
			close(dirfd);
		dirfd = fd;
	}
	if (dirfd != rootfd)
		close(dirfd);
	return fd;
}

/*
 * The one resolver: rel beneath rootfd, never out of it.  FS_FOLLOW
 * follows symlinks that stay beneath (openat2 RESOLVE_BENEATH; the walk
 * follows none); FS_NOFOLLOW follows none at all.
 */
enum fs_links { FS_FOLLOW, FS_NOFOLLOW };

static int
beneath_open(int rootfd, const char *rel, int flags, enum fs_links links)
{
#if defined(__linux__) && defined(SYS_openat2)
	static int	 no_openat2;
	struct open_how	 how;
	int		 fd;

	if (!no_openat2) {
		memset(&how, 0, sizeof(how));
		how.flags = flags;
		how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS |
		    (links == FS_NOFOLLOW ? RESOLVE_NO_SYMLINKS : 0);
		fd = (int)syscall(SYS_openat2, rootfd, *rel ? rel : ".",
		    &how, sizeof(how));
		if (fd != -1 || errno != ENOSYS)
			return fd;
		no_openat2 = 1;
	}
#else
	(void)links;
#endif
	return walk_open(rootfd, rel, flags);
}

int
fs_open(int rootfd, const char *path, struct stat *st)
{
	int	fd;

	if (has_dot_segment(path)) {
		errno = ENOENT;
		return -1;
	}
	while (*path == '/')
		path++;
	if ((fd = beneath_open(rootfd, path, OPEN_FLAGS, FS_FOLLOW)) == -1) {
		if (errno == EXDEV || errno == ELOOP || errno == ENOTDIR)
			errno = ENOENT;
		return -1;
	}
	return check_type(fd, st);
}

void
fs_id_set(struct fs_id *id, const struct stat *st, time_t now)
{
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtim = st->st_mtim;
	id->ctim = st->st_ctim;
	/*
	 * Not a time stamp in the future (touch -d, or a clock set back
	 * since): a change now would give an older, so different, one; and
	 * such a file would otherwise be read again on every request, for
	 * as long as the date is ahead.
	 */
	id->racy = st->st_mtim.tv_sec >= now - FS_RACY_SEC &&
	    st->st_mtim.tv_sec <= now + 1;
}

static int
ts_equal(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

int
fs_id_same(const struct fs_id *id, const struct stat *st)
{
	return id->dev == st->st_dev && id->ino == st->st_ino &&
	    id->size == st->st_size && ts_equal(&id->mtim, &st->st_mtim) &&
	    ts_equal(&id->ctim, &st->st_ctim);
}

int
fs_missing(int err)
{
	return err == ENOENT || err == ENOTDIR || err == ELOOP ||
	    err == EXDEV || err == ENAMETOOLONG || err == EACCES ||
	    err == EPERM;
}

int
fs_open_in(int dirfd, const char *name, struct stat *st)
{
	int	fd;

	if (name[0] == '.' || strchr(name, '/') != NULL) {
		errno = ENOENT;
		return -1;
	}
	if ((fd = beneath_open(dirfd, name, OPEN_FLAGS, FS_FOLLOW)) == -1)
		return -1;
	return check_type(fd, st);
}

int
fs_open_dir(int rootfd, const char *dir)
{
	while (*dir == '/')
		dir++;
	return beneath_open(rootfd, dir, OPEN_FLAGS | O_DIRECTORY,
	    FS_NOFOLLOW);
}

void
buf_append(struct buf *b, const char *s, size_t len)
{
	char	*p;
	size_t	 cap;

	if (b->failed)
		return;
	if (b->len + len + 1 > b->cap) {
		cap = b->cap ? b->cap : 4096;
		while (cap < b->len + len + 1)
			cap *= 2;
		if ((p = realloc(b->data, cap)) == NULL) {
			b->failed = 1;
			return;
		}
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void
buf_puts(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char * const *)a, *(char * const *)b);
}

/* A label safe on one gemtext line: the name, or its encoding. */
static void
append_label(struct buf *b, const char *name, const char *encoded)
{
	const char	*s;

	for (s = name; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			break;
	if (*s != '\0' || !url_utf8_valid(name, strlen(name)))
		buf_puts(b, encoded);
	else
		buf_puts(b, name);
}

static void
append_entry(struct buf *b, const char *name, int is_dir)
{
	char	enc[NAME_MAX * 3 + 1];

	if (url_encode_path(name, enc, sizeof(enc)) == -1)
		return;
	buf_puts(b, "=> ");
	buf_puts(b, enc);
	if (is_dir)
		buf_puts(b, "/");
	buf_puts(b, " ");
	append_label(b, name, enc);
	buf_puts(b, is_dir ? "/\n" : "\n");
}

DIR *
fs_opendir(int dirfd)
{
	DIR	*d;
	int	 fd;

	if ((fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0)) == -1)
		return NULL;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return NULL;
	}
	rewinddir(d);	/* the dup shares dirfd's offset */
	return d;
}

/*
 * What a listing shows of an entry: a regular file or a directory as a
 * request for it would find it.  A symlink is resolved the way fs_open
 * serves it (beneath the root), so a link out of the root is not listed:
 * the listing tells nothing of what lies outside.
 */
static int
entry_stat(int rootfd, int dirfd, const char *urlpath, const char *name,
    struct stat *st, int *links)
{
	char	path[PATH_MAX];
	int	fd;

	if (fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) == -1)
		return -1;
	if (S_ISLNK(st->st_mode)) {
		*links = 1;
		if (snprintf(path, sizeof(path), "%s%s", urlpath, name) >=
		    (int)sizeof(path) || (fd = fs_open(rootfd, path, st)) == -1)
			return -1;
		close(fd);
	}
	return S_ISREG(st->st_mode) || S_ISDIR(st->st_mode) ? 0 : -1;
}

static void
names_free(char **v, size_t n)
{
	while (n > 0)
		free(v[--n]);
	free(v);
}

/*
 * The names a listing may show (not starting with '.'), unsorted and
 * not yet looked at, at most max of them; *more: the directory has more.
 * Reading stops there: every name read costs about as much as a stat
 * (readdir, a copy, its share of the sort), so a listing's cost has a
 * bound however big the directory is.
 */
static int
read_names(int dirfd, size_t max, char ***out, size_t *count, int *more)
{
	DIR		*d;
	struct dirent	*de;
	char		**v = NULL, **nv;
	size_t		 n = 0, cap = 0;

	if ((d = fs_opendir(dirfd)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == max) {
			*more = 1;
			break;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((nv = reallocarray(v, cap, sizeof(*v))) == NULL)
				goto fail;
			v = nv;
		}
		if ((v[n] = strdup(de->d_name)) == NULL)
			goto fail;
		n++;
	}
	closedir(d);
	*out = v;
	*count = n;
	return 0;
fail:
	/* not a listing with entries missing: the caller answers 40 */
	closedir(d);
	names_free(v, n);
	errno = ENOMEM;
	return -1;
}

/* What a listing is made for: who decides what it hides. */
struct listing_filter {
	fs_hide_fn	 hide;
	void		*arg;
};

/* Is name, in the directory at urlpath, one the caller hides? */
static int
hidden(const struct listing_filter *f, const char *urlpath, const char *name)
{
	char	path[PATH_MAX];

	if (f->hide == NULL)
		return 0;
	if (snprintf(path, sizeof(path), "%s%s", urlpath, name) >=
	    (int)sizeof(path))
		return 1;
	return f->hide(f->arg, path);
}

/* The entries, sorted by name.  *links: a symlink was among them. */
static void
append_entries(struct buf *b, int rootfd, int dirfd, const char *urlpath,
    const struct listing_filter *f, char **v, size_t n, int *links)
{
	struct stat	st;
	size_t		i;

	if (n > 0)
		qsort(v, n, sizeof(*v), name_cmp);
	for (i = 0; i < n; i++)
		if (!hidden(f, urlpath, v[i]) &&
		    entry_stat(rootfd, dirfd, urlpath, v[i], &st, links) == 0)
			append_entry(b, v[i], S_ISDIR(st.st_mode));
}

/*
 * Listings made lately, per worker: listing a big directory costs a stat
 * per entry (20,000 entries: about 40 ms, in the event loop).  A slot is
 * good while the directory's stat is the same (adding, removing or
 * renaming an entry changes it) and was not racy.  A listing with a
 * symlink in it is not kept: what a link names can change while the
 * directory does not.  Nor is one over LISTING_KEEP_MAX bytes.
 */
#define LISTING_SLOTS		8
#define LISTING_KEEP_MAX	(4 << 20)

static struct listing_slot {
	struct fs_id	 dir;
	char		*path;		/* the urlpath: it is in the text */
	size_t		 max;		/* entries at most: it is too */
	struct listing_filter	 f;	/* what it hides: the host's rules */
	char		*body;
	size_t		 len;
	unsigned long	 used;		/* for least recently used */
} lslots[LISTING_SLOTS];
static unsigned long		lclock;
static struct fs_stats		fstats;

void
fs_get_stats(struct fs_stats *st)
{
	*st = fstats;
}

static struct listing_slot *
listing_find(const struct stat *dst, const char *urlpath, size_t max,
    const struct listing_filter *f)
{
	size_t	i;

	for (i = 0; i < LISTING_SLOTS; i++)
		if (lslots[i].body != NULL && !lslots[i].dir.racy &&
		    fs_id_same(&lslots[i].dir, dst) && lslots[i].max == max &&
		    lslots[i].f.hide == f->hide && lslots[i].f.arg == f->arg &&
		    strcmp(lslots[i].path, urlpath) == 0)
			return &lslots[i];
	return NULL;
}

/* Keep a listing (a copy) in the least recently used slot. */
static void
listing_keep(const struct stat *dst, const char *urlpath, size_t max,
    const struct listing_filter *f, const char *body, size_t len)
{
	struct listing_slot	*ls = &lslots[0];
	char			*b, *p;
	size_t			 i;

	if (len > LISTING_KEEP_MAX)
		return;
	for (i = 1; i < LISTING_SLOTS; i++)
		if (lslots[i].used < ls->used)
			ls = &lslots[i];
	if ((b = malloc(len)) == NULL || (p = strdup(urlpath)) == NULL) {
		free(b);
		return;
	}
	memcpy(b, body, len);
	free(ls->body);
	free(ls->path);
	ls->body = b;
	ls->path = p;
	ls->len = len;
	ls->max = max;
	ls->f = *f;
	ls->used = ++lclock;
	fs_id_set(&ls->dir, dst, time(NULL));
}

static int
listing_copy(const struct listing_slot *ls, char **out, size_t *outlen)
{
	if ((*out = malloc(ls->len + 1)) == NULL)
		return -1;
	memcpy(*out, ls->body, ls->len);
	(*out)[ls->len] = '\0';
	*outlen = ls->len;
	return 0;
}

int
fs_listing(int rootfd, int dirfd, const char *urlpath, size_t max,
    fs_hide_fn hide, void *arg, char **out, size_t *outlen)
{
	struct listing_filter	 f = { hide, arg };
	struct listing_slot	*ls;
	struct buf		 b = { 0 };
	struct stat		 dst;
	char			 enc[URL_MAX * 3 + 1], **v = NULL;
	size_t			 n = 0;
	int			 links = 0, more = 0;

	if (fstat(dirfd, &dst) == -1)
		return -1;
	if ((ls = listing_find(&dst, urlpath, max, &f)) != NULL) {
		ls->used = ++lclock;
		return listing_copy(ls, out, outlen);
	}
	if (url_encode_path(urlpath, enc, sizeof(enc)) == -1 ||
	    read_names(dirfd, max, &v, &n, &more) == -1)
		return -1;
	fstats.listings_made++;
	buf_puts(&b, "# Index of ");
	append_label(&b, urlpath, enc);
	buf_puts(&b, "\n\n");
	if (strcmp(urlpath, "/") != 0)
		buf_puts(&b, "=> ../ Parent directory\n");
	append_entries(&b, rootfd, dirfd, urlpath, &f, v, n, &links);
	names_free(v, n);
	if (more)
		buf_puts(&b, "\nThis directory has more entries than this "
		    "listing shows (autoindex_max).\n");
	if (b.failed) {
		free(b.data);
		return -1;
	}
	if (!links)
		listing_keep(&dst, urlpath, max, &f, b.data, b.len);
	*out = b.data;
	*outlen = b.len;
	return 0;
}

size_t
fs_leading_file(int rootfd, const char *path, size_t start, struct stat *st)
{
	char	part[PATH_MAX];
	size_t	end;
	int	fd;

	for (end = start; path[end] != '\0'; end++) {
		end += strcspn(path + end, "/");
		if (end >= sizeof(part)) {
			errno = ENAMETOOLONG;
			return 0;
		}
		memcpy(part, path, end);
		part[end] = '\0';
		if ((fd = fs_open(rootfd, part, st)) == -1)
			return 0;
		close(fd);
		if (S_ISREG(st->st_mode))
			return end;
		if (path[end] == '\0')
			break;
	}
	errno = 0;
	return 0;
}
