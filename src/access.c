/*
 * access.c: client-certificate rules (see access.h).  The pure part,
 * parsing a list and finding a fingerprint, is certlist.c.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "access.h"
#include "certlist.h"
#include "config.h"
#include "fs.h"
#include "log.h"
#include "plan.h"

struct listfile {
	char		path[PATH_MAX];		/* as configured, for messages */
	int		dirfd;			/* its directory */
	char		base[NAME_MAX + 1];
	struct certlist	list;
	struct fs_id	id;			/* the stat it was read under */
	struct fs_id	bad;			/* a re-read that failed */
	int		has_bad;
};

struct access_files {
	struct listfile	*v;
	size_t		 n;
	int		*fds;
	char		**dirs;		/* the directories' paths, for unveil */
};

static struct access_files	*files;	/* this worker's */

/* Read and parse the list in lf's directory; st is its stat. */
static int
list_read(const struct listfile *lf, struct certlist *out, struct stat *st,
    char *err, size_t errlen)
{
	char	*buf = NULL;
	size_t	 len = 0;
	ssize_t	 r;
	int	 fd, rv = -1;

	if ((fd = openat(lf->dirfd, lf->base, O_RDONLY | O_NONBLOCK |
	    O_CLOEXEC)) == -1 || fstat(fd, st) == -1)
		goto fail;
	if (!S_ISREG(st->st_mode) || st->st_size > CERTLIST_FILE_MAX) {
		errno = S_ISREG(st->st_mode) ? EFBIG : EINVAL;
		goto fail;
	}
	if ((buf = malloc((size_t)st->st_size + 1)) == NULL)
		goto fail;
	while (len <= (size_t)st->st_size &&
	    (r = read(fd, buf + len, (size_t)st->st_size + 1 - len)) > 0)
		len += (size_t)r;
	if (len > (size_t)st->st_size) {
		errno = EAGAIN;		/* it grew as we read: next time */
		goto fail;
	}
	rv = certlist_parse(buf, len, lf->path, out, err, errlen);
	free(buf);
	close(fd);
	return rv;
fail:
	snprintf(err, errlen, "%s: %s", lf->path, strerror(errno));
	free(buf);
	if (fd != -1)
		close(fd);
	return -1;
}

static struct listfile *
find_file(const struct access_files *af, const char *path)
{
	size_t	i;

	for (i = 0; af != NULL && i < af->n; i++)
		if (strcmp(af->v[i].path, path) == 0)
			return &af->v[i];
	return NULL;
}

static int
add_file(struct access_files *af, const char *path, char *err, size_t errlen)
{
	struct listfile	*lf;
	struct stat	 st;
	char		 dir[PATH_MAX];
	const char	*slash = strrchr(path, '/');

	if (find_file(af, path) != NULL)
		return 0;
	lf = &af->v[af->n];
	memset(lf, 0, sizeof(*lf));
	lf->dirfd = -1;
	/* config.c made it absolute: there is a '/' */
	if (slash == NULL || slash[1] == '\0' ||
	    strlen(slash + 1) > NAME_MAX ||
	    snprintf(lf->path, sizeof(lf->path), "%s", path) >=
	    (int)sizeof(lf->path)) {
		snprintf(err, errlen, "%s: not a file name", path);
		return -1;
	}
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	memcpy(lf->base, slash + 1, strlen(slash + 1) + 1);
	if ((lf->dirfd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1 ||
	    (af->dirs[af->n] = strdup(dir[0] ? dir : "/")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (lf->dirfd != -1)
			close(lf->dirfd);
		lf->dirfd = -1;
		return -1;
	}
	af->fds[af->n++] = lf->dirfd;
	if (list_read(lf, &lf->list, &st, err, errlen) == -1)
		return -1;
	fs_id_set(&lf->id, &st, time(NULL));
	return 0;
}

struct access_files *
access_prepare(const struct config *cf, char *err, size_t errlen)
{
	struct access_files	*af;
	size_t			 i, j, max = 0;
	const struct host_cfg	*h;

	for (i = 0; i < cf->nhosts; i++)
		max += cf->hosts[i].naccess + cf->hosts[i].ntitan;
	if ((af = calloc(1, sizeof(*af))) == NULL ||
	    (af->v = calloc(max + 1, sizeof(*af->v))) == NULL ||
	    (af->fds = calloc(max + 1, sizeof(int))) == NULL ||
	    (af->dirs = calloc(max + 1, sizeof(char *))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (i = 0; i < cf->nhosts; i++) {
		h = &cf->hosts[i];
		for (j = 0; j < h->naccess; j++)
			if (add_file(af, h->access[j].file, err, errlen) == -1)
				goto fail;
		for (j = 0; j < h->ntitan; j++)
			if (add_file(af, h->titan[j].file, err, errlen) == -1)
				goto fail;
	}
	return af;
fail:
	access_free(af);
	return NULL;
}

void
access_free(struct access_files *af)
{
	size_t	i;

	if (af == NULL)
		return;
	for (i = 0; af->v != NULL && i < af->n; i++) {
		if (af->v[i].dirfd != -1)
			close(af->v[i].dirfd);
		certlist_free(&af->v[i].list);
		free(af->dirs[i]);
	}
	free(af->dirs);
	free(af->v);
	free(af->fds);
	free(af);
}

void
access_close_fds(struct access_files *af)
{
	size_t	i;

	for (i = 0; af != NULL && i < af->n; i++) {
		if (af->v[i].dirfd != -1)
			close(af->v[i].dirfd);
		af->v[i].dirfd = af->fds[i] = -1;
	}
}

const int *
access_dirfds(const struct access_files *af, size_t *n)
{
	*n = af != NULL ? af->n : 0;
	return af != NULL ? af->fds : NULL;
}

const char *const *
access_dirs(const struct access_files *af)
{
	return af != NULL ? (const char *const *)af->dirs : NULL;
}

void
access_worker_init(struct access_files *af)
{
	files = af;
}

/* Is the stat taken into id still within its racy window at now? */
static int
racy_now(const struct fs_id *id, time_t now)
{
	return id->racy && id->mtim.tv_sec >= now - FS_RACY_SEC;
}

/*
 * Nothing to read: st is the stat id was taken from, and the read it
 * stands for is good, or racy and still within the window (a change
 * that stat cannot show is looked for once, when the window has passed,
 * not at every request meanwhile).
 */
static int
settled(const struct fs_id *id, const struct stat *st, time_t now)
{
	return fs_id_same(id, st) && (!id->racy || racy_now(id, now));
}

/*
 * The list as it is on disk now: read again when its stat changed, and
 * once more when a change was too recent for the stat to be trusted.
 * A list that changed within FS_RACY_SEC may be an edit in place half
 * written (truncate, then write): until the file has stood still that
 * long, a fingerprint it adds is let in at once but one it drops is
 * not yet shut out (the old and new lists together), and one that
 * fails to parse leaves the previous list in force, unlogged; then what
 * it holds is trusted, or its failure logged once for that state.
 */
static const struct certlist *
list_now(const char *path)
{
	struct listfile	*lf;
	struct certlist	 nl, both;
	struct fs_id	 seen;
	struct stat	 st;
	time_t		 now = time(NULL);
	char		 err[PATH_MAX + 128];

	if ((lf = find_file(files, path)) == NULL)
		return NULL;	/* not prepared: nobody is let in */
	if (fstatat(lf->dirfd, lf->base, &st, 0) == -1) {
		if (!lf->has_bad || lf->bad.ino != 0) {
			log_warnx("%s: %s; keeping the previous list (%zu "
			    "fingerprints)", path, strerror(errno),
			    lf->list.n);
			memset(&lf->bad, 0, sizeof(lf->bad));
			lf->has_bad = 1;
		}
		return &lf->list;
	}
	if (settled(&lf->id, &st, now) ||
	    (lf->has_bad && settled(&lf->bad, &st, now)))
		return &lf->list;
	if (list_read(lf, &nl, &st, err, sizeof(err)) == -1) {
		fs_id_set(&seen, &st, now);
		if (!seen.racy)
			log_warnx("%s; keeping the previous list (%zu "
			    "fingerprints)", err, lf->list.n);
		lf->bad = seen;
		lf->has_bad = 1;
		return &lf->list;
	}
	fs_id_set(&seen, &st, now);
	if (seen.racy) {
		if (certlist_union(&lf->list, &nl, &both) == -1) {
			certlist_free(&nl);
			return &lf->list;	/* out of memory: next time */
		}
		certlist_free(&nl);
		nl = both;
	}
	certlist_free(&lf->list);
	lf->list = nl;
	lf->id = seen;		/* racy: read again once it is not */
	lf->has_bad = 0;
	return &lf->list;
}

int
access_check(const struct facts *f, const char *file,
    const struct cert_entry **who, struct plan *p)
{
	const struct cert_entry	*e;
	char			 hex[CERTLIST_HEX_LEN + 1], meta[256];

	if (f->cert == CERT_NONE)
		return plan_reply(p, 60, "Client certificate required: choose "
		    "an identity for this page and try again");
	p->cert_checked = 1;	/* the access log may show its fingerprint */
	if ((e = certlist_find(list_now(file), f->client_hash)) == NULL) {
		certlist_hex(f->client_hash, hex);
		(void)snprintf(meta, sizeof(meta), "Certificate not "
		    "authorised here; an admin can add %s", hex);
		return plan_reply(p, 61, meta);
	}
	if (f->cert != CERT_IN_DATE)
		return plan_reply(p, 62, "Certificate not valid: outside its "
		    "validity dates; make a new identity");
	certlist_hex(f->client_hash, hex);
	plan_user(p, e->name[0] != '\0' ? e->name : hex);
	*who = e;
	return 0;
}

int
route_certs(const struct facts *f, const struct request *r, struct plan *p)
{
	const struct rule_cfg	*rule;
	const struct cert_entry	*who;

	if (r->titan != NULL ||
	    (rule = config_access_rule(f->host, r->url.path)) == NULL)
		return 0;
	return access_check(f, rule->file, &who, p);
}

const char *
access_user(const struct facts *f, const char *path)
{
	const struct rule_cfg	*rule;
	const struct cert_entry	*e;

	if (f->cert == CERT_NONE ||
	    (rule = config_access_rule(f->host, path)) == NULL ||
	    (e = certlist_find(list_now(rule->file), f->client_hash)) ==
	    NULL || e->name[0] == '\0')
		return NULL;
	return e->name;
}
