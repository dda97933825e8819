/*
 * route.c: the routing table.  The request line is parsed (59) and its
 * target checked (53), which chooses the host; then each step plans the
 * response (and returns 1) or passes it on (0).  Read it top to bottom.
 * Nothing here sends a byte: the engine carries the plan out.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "access.h"
#include "cgi.h"
#include "config.h"
#include "feed.h"
#include "fs.h"
#include "latest.h"
#include "log.h"
#include "metrics.h"
#include "mime.h"
#include "plan.h"
#include "request.h"
#include "route.h"
#include "rules.h"
#include "shared.h"
#include "titan.h"
#include "upload.h"
#include "upstep.h"
#include "url.h"

static int	route_rules(const struct facts *, const struct request *,
		    struct plan *);
static int	route_limits(const struct facts *, const struct request *,
		    struct plan *);
static int	route_feed(const struct facts *, const struct request *,
		    struct plan *);
static int	route_file(const struct facts *, const struct request *,
		    struct plan *);

static const route_fn routes[] = {
	route_rules,	/* redirect and gone: 30, 31, 52 */
	route_limits,	/* 44 */
	route_titan,	/* every titan request: 60/61/62, 5x, or the upload */
	route_certs,	/* access rules: 60, 61, 62 */
	route_upstream,	/* fastcgi, scgi, proxy PATHs: a stream, or 31 */
	route_cgi,	/* executables under the host's cgi directory */
	route_feed,	/* generated gemfeed index and atom.xml */
	route_file,	/* last: 51 when nothing else matched */
};

/*
 * A host we serve: a configured name, or (for clients that send no SNI
 * to an address, as the spec advises) the address the client connected
 * to, which the default host answers.
 */
static int
served(const char *host, void *arg)
{
	const struct facts	*f = arg;

	return config_find_host(f->cf, host) != NULL ||
	    strcmp(host, f->local_addr) == 0;
}

/* 53 for other schemes, hosts and ports; else the host, chosen. */
static int
route_target(struct facts *f, const struct request *r, struct plan *p)
{
	const struct host_cfg	*h;
	const struct url	*u = &r->url;
	struct url		 g;
	const char		*why;

	if (r->titan != NULL) {
		/* a titan URL names a gemini resource: the same checks */
		g = r->url;
		memcpy(g.scheme, "gemini", sizeof("gemini"));
		u = &g;
	}
	if (request_check_target(u, f->sni, f->local_port, served, f,
	    &why) != 0)
		return plan_reply(p, 53, why);
	if ((h = config_find_host(f->cf, r->url.host)) == NULL)
		h = &f->cf->hosts[0];
	f->host = p->host = h;
	f->rootfd = f->rootfds[h - f->cf->hosts];
	return 0;
}

void
route_request(const struct facts *in, const char *line, size_t len,
    struct plan *p)
{
	struct facts		 f = *in;
	struct request		 r;
	struct titan_params	 tp;
	const char		*why;
	size_t			 i;
	int			 status;

	plan_init(p);
	if (titan_request_parse(line, len, &r, &tp, &status, &why) == -1) {
		plan_reply(p, status, why);
		return;
	}
	if (route_target(&f, &r, p))
		return;
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (routes[i](&f, &r, p))
			return;
	plan_reply(p, 51, "Not found");
}

/*
 * The host's redirect and gone rules (rules.h), before the rate limit
 * and the access rules: a page that moved answers where it went, even
 * to a client that has no certificate for either place.  A Titan
 * upload is route_titan's to refuse, with the reason (50).
 */
static int
route_rules(const struct facts *f, const struct request *r, struct plan *p)
{
	char	meta[URL_MAX + 1];
	int	status;

	if (r->titan != NULL)
		return 0;
	status = rules_answer(&f->host->rules, r->url.path,
	    r->url.has_query ? r->url.query : NULL, meta, sizeof(meta));
	if (status == 0)
		return 0;
	return plan_reply(p, status, meta);
}

static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The client's request rate (rate_limit): 44 and how long to wait.  One
 * table counts for every worker (shared.h).
 */
static int
route_limits(const struct facts *f, const struct request *r, struct plan *p)
{
	struct limit_rate	rate;
	char			meta[16];
	int			wait;

	(void)r;
	rate.rate = f->cf->rate_limit;
	rate.period = f->cf->rate_period;
	rate.burst = f->cf->rate_burst;
	if ((wait = shared_limits_request(f->lslot, &rate, now_ms())) == 0)
		return 0;
	metrics_limit(METRICS_LIMIT_RATE);
	(void)snprintf(meta, sizeof(meta), "%d", wait);
	return plan_reply(p, 44, meta);
}

/*
 * "text/gemini; lang=en-GB" for the page at path: the longest `lang`
 * PATH that covers it, or the host's; a list of languages is quoted.
 */
static void
file_meta(const struct host_cfg *h, const char *path, const char *type,
    char *meta, size_t len)
{
	const char	*lang = rules_lang(&h->rules, path, h->lang);
	const char	*q = strchr(lang, ',') ? "\"" : "";

	if (lang[0] == '\0' || strcmp(type, "text/gemini") != 0 ||
	    snprintf(meta, len, "%s; lang=%s%s%s", type, q, lang, q) >=
	    (int)len)
		snprintf(meta, len, "%s", type);
}

/* A problem with a page's markers, for the admin. */
static void
page_warn(void *arg, const char *msg)
{
	log_warnx("%s: %s", ((const struct host_cfg *)arg)->name, msg);
}

/*
 * A gemtext page may carry generated blocks (latest.h); one without a
 * marker line streams as it is, as every other file does.
 */
static int
serve_file(const struct facts *f, const char *name, int fd,
    const struct stat *st, struct plan *p)
{
	const char	*type = mime_for_file(&f->host->rules, name, fd, st);
	char		 meta[256], *body;
	size_t		 len;
	int		 rv = 0;

	if (strcmp(type, "text/gemini") == 0 &&
	    (rv = latest_page(f->host, f->rootfd, name, fd, st, &body, &len,
	    page_warn, (void *)f->host)) == -1) {
		log_warnx("%s: %s: %s", f->host->name, name, strerror(errno));
		close(fd);
		return plan_reply(p, 40, "Temporary failure");
	}
	file_meta(f->host, name, type, meta, sizeof(meta));
	plan_reply(p, 20, meta);
	if (rv == 1) {
		close(fd);
		plan_mem(p, body, len);
	} else
		plan_file(p, fd, st->st_size);
	return 1;
}

static int
not_found(struct plan *p)
{
	return plan_reply(p, 51, "Not found");
}

/*
 * An open under the root failed (errno): 51, or 40 when it is ours; a
 * root the worker's user may not read and search is the admin's mistake
 * (issue 11): 40 and said in the log, not a silent 51.
 */
static int
open_failed(const struct facts *f, const char *path, struct plan *p)
{
	const struct host_cfg	*h = f->host;
	int			 err = errno;

	if ((err == EACCES || err == EPERM) && faccessat(f->rootfd, ".",
	    R_OK | X_OK, AT_EACCESS) == -1) {
		log_warnx("%s: %s: %s (uid %ld): fix the mode or owner of the "
		    "root %s", h->name, path, strerror(err), (long)geteuid(),
		    h->root);
		return plan_reply(p, 40, "Temporary failure");
	}
	errno = err;
	if (fs_missing(errno))
		return not_found(p);
	log_warnx("%s: %s: %s", h->name, path, strerror(errno));
	return plan_reply(p, 40, "Temporary failure");
}

/* "/dir" -> 31 "/dir/" (the query kept), so relative links work. */
static int
redirect_slash(const struct request *r, struct plan *p)
{
	char	enc[URL_MAX * 3 + 1], meta[URL_MAX + 1];
	int	n;

	if (url_encode_path(r->url.path, enc, sizeof(enc)) == -1)
		return not_found(p);
	n = snprintf(meta, sizeof(meta), "%s/%s%s", enc,
	    r->url.has_query ? "?" : "", r->url.query);
	if (n < 0 || (size_t)n >= sizeof(meta))
		return not_found(p);
	return plan_reply(p, 31, meta);
}

/* A listing shows nothing gone, or gated by another rule than its
 * directory's, as feeds do. */
static int
listing_hides(void *arg, const char *path)
{
	const struct host_cfg	*h = arg;
	char			 dir[URL_MAX + 1];
	size_t			 n = (size_t)(strrchr(path, '/') - path) + 1;

	if (n >= sizeof(dir) || rules_gone(&h->rules, path))
		return 1;
	memcpy(dir, path, n);
	dir[n] = '\0';
	return config_gated_from(h, dir, path);
}

static int
serve_listing(const struct facts *f, const struct request *r, int dirfd,
    struct plan *p)
{
	char	meta[256], *body;
	size_t	len;

	if (fs_listing(f->rootfd, dirfd, r->url.path,
	    (size_t)f->host->autoindex_max, listing_hides,
	    (void *)f->host, &body, &len) == -1) {
		log_warnx("%s: listing %s: %s", f->host->name, r->url.path,
		    strerror(errno));
		return plan_reply(p, 40, "Cannot list this directory");
	}
	file_meta(f->host, r->url.path, "text/gemini", meta, sizeof(meta));
	plan_reply(p, 20, meta);
	plan_mem(p, body, len);
	return 1;
}

static int
serve_dir(const struct facts *f, const struct request *r, int dirfd,
    struct plan *p)
{
	const struct host_cfg	*h = f->host;
	const char		*path = r->url.path;
	char			 name[URL_MAX + sizeof(h->index)];
	struct stat		 st;
	int			 fd;

	/* the index's path, as messages about it should name it */
	if (snprintf(name, sizeof(name), "%s%s", path, h->index) >=
	    (int)sizeof(name))
		(void)snprintf(name, sizeof(name), "%s", h->index);
	if (path[strlen(path) - 1] != '/')
		redirect_slash(r, p);
	else if ((fd = fs_open_in(dirfd, h->index, &st)) != -1 &&
	    S_ISREG(st.st_mode))
		serve_file(f, name, fd, &st, p);
	else if (fd == -1 && !fs_missing(errno))
		open_failed(f, path, p);
	else {
		if (fd != -1)
			close(fd);
		if (h->autoindex)
			serve_listing(f, r, dirfd, p);
		else
			not_found(p);
	}
	close(dirfd);
	return 1;
}

static int
route_file(const struct facts *f, const struct request *r, struct plan *p)
{
	struct stat	st;
	int		fd;

	if ((fd = fs_open(f->rootfd, r->url.path, &st)) == -1)
		return open_failed(f, r->url.path, p);
	if (S_ISDIR(st.st_mode))
		return serve_dir(f, r, fd, p);
	return serve_file(f, r->url.path, fd, &st, p);
}

/* A regular file of that name in the directory: the admin's wins. */
static int
has_file(int dirfd, const char *name)
{
	struct stat	st;
	int		fd;

	if ((fd = fs_open_in(dirfd, name, &st)) == -1)
		return 0;
	close(fd);
	return S_ISREG(st.st_mode);
}

/*
 * "/news/" (when news/ has no index file) and "/news/atom.xml" (when
 * there is no such file) for a directory the host lists in feeds.
 */
static int
route_feed(const struct facts *f, const struct request *r, struct plan *p)
{
	const struct host_cfg	*h = f->host;
	const struct feed_cfg	*feed;
	struct stat		 st;
	char			 base[URL_HOST_MAX + 32], meta[256], *body;
	size_t			 len;
	int			 atom, dirfd, rv;

	if ((feed = feed_lookup(h, r->url.path, &atom)) == NULL)
		return 0;
	if ((dirfd = fs_open(f->rootfd, feed->dir, &st)) == -1)
		return fs_missing(errno) ? 0 : open_failed(f, feed->dir, p);
	if (!S_ISDIR(st.st_mode) ||
	    has_file(dirfd, atom ? FEED_ATOM : h->index)) {
		close(dirfd);
		return 0;
	}
	/* ids are the host's own name; the port the client asked for */
	rv = feed_base_url(h->name, r->url.port, base, sizeof(base));
	if (rv == 0)
		rv = feed_generate(h, feed, dirfd, &st, base, atom, &body,
		    &len);
	close(dirfd);
	if (rv != 0) {
		log_warnx("%s: feed %s: %s", h->name, feed->dir,
		    strerror(errno));
		return plan_reply(p, 40, "Cannot generate the feed");
	}
	if (atom)
		plan_reply(p, 20, "application/atom+xml");
	else {
		file_meta(h, r->url.path, "text/gemini", meta, sizeof(meta));
		plan_reply(p, 20, meta);
	}
	plan_mem(p, body, len);
	return 1;
}
