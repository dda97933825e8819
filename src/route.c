/*
 * route.c: the routing table.  Each step answers the request (and
 * returns 1) or passes it on (0).  Read it top to bottom.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access.h"
#include "cgi.h"
#include "config.h"
#include "conn.h"
#include "feed.h"
#include "fs.h"
#include "latest.h"
#include "log.h"
#include "mime.h"
#include "request.h"
#include "rules.h"
#include "upload.h"
#include "url.h"

static int	route_target(struct conn *, const struct request *);
static int	route_rules(struct conn *, const struct request *);
static int	route_limits(struct conn *, const struct request *);
static int	route_feed(struct conn *, const struct request *);
static int	route_file(struct conn *, const struct request *);

static const route_fn routes[] = {
	route_target,	/* 53 for other schemes, hosts, ports */
	route_rules,	/* redirect and gone: 30, 31, 52 */
	route_limits,	/* 44 */
	route_titan,	/* every titan request: 60/61/62, 5x, or the upload */
	route_certs,	/* access rules: 60, 61, 62 */
	route_cgi,	/* executables under the host's cgi directory */
	route_feed,	/* generated gemfeed index and atom.xml */
	route_file,	/* last: 51 when nothing else matched */
};

void
route_request(struct conn *c, const struct request *r)
{
	size_t	i;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (routes[i](c, r))
			return;
}

/*
 * A host we serve: a configured name, or (for clients that send no SNI
 * to an address, as the spec advises) the address the client connected
 * to, which the default host answers.
 */
static int
served(const char *host, void *arg)
{
	const struct conn_info	*ci = arg;

	return config_find_host(ci->cf, host) != NULL ||
	    strcmp(host, ci->local_addr) == 0;
}

static int
route_target(struct conn *c, const struct request *r)
{
	const struct conn_info	*ci = conn_info(c);
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
	if (request_check_target(u, ci->sni, ci->local_port, served,
	    (void *)ci, &why) != 0) {
		conn_reply(c, 53, why);
		return 1;
	}
	if ((h = config_find_host(ci->cf, r->url.host)) == NULL)
		h = &ci->cf->hosts[0];
	conn_set_host(c, h);
	return 0;
}

/*
 * The host's redirect and gone rules (rules.h), before the rate limit
 * and the access rules: a page that moved answers where it went, even
 * to a client that has no certificate for either place.  A Titan
 * upload is route_titan's to refuse, with the reason (50).
 */
static int
route_rules(struct conn *c, const struct request *r)
{
	char	meta[URL_MAX + 1];
	int	status;

	if (r->titan != NULL)
		return 0;
	status = rules_answer(&conn_info(c)->host->rules, r->url.path,
	    r->url.has_query ? r->url.query : NULL, meta, sizeof(meta));
	if (status == 0)
		return 0;
	conn_reply(c, status, meta);
	return 1;
}

/* The client's request rate (rate_limit): 44 and how long to wait. */
static int
route_limits(struct conn *c, const struct request *r)
{
	char	meta[16];
	int	wait;

	(void)r;
	if ((wait = conn_rate_wait(c)) == 0)
		return 0;
	(void)snprintf(meta, sizeof(meta), "%d", wait);
	conn_reply(c, 44, meta);
	return 1;
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
serve_file(struct conn *c, const char *name, int fd, const struct stat *st)
{
	const struct conn_info	*ci = conn_info(c);
	const char		*type = mime_for_file(&ci->host->rules, name,
				    fd, st);
	char			 meta[256], *body;
	size_t			 len;
	int			 rv = 0;

	if (strcmp(type, "text/gemini") == 0 &&
	    (rv = latest_page(ci->host, ci->rootfd, name, fd, st, &body, &len,
	    page_warn, (void *)ci->host)) == -1) {
		log_warnx("%s: %s: %s", ci->host->name, name, strerror(errno));
		close(fd);
		conn_reply(c, 40, "Temporary failure");
		return 1;
	}
	file_meta(ci->host, name, type, meta, sizeof(meta));
	conn_reply(c, 20, meta);
	if (rv == 1) {
		close(fd);
		conn_body_mem(c, body, len);
	} else
		conn_body_fd(c, fd, st->st_size);
	return 1;
}

static int
not_found(struct conn *c)
{
	conn_reply(c, 51, "Not found");
	return 1;
}

/*
 * An open under the root failed (errno): 51, or 40 when it is ours; a
 * root the worker's user may not read and search is the admin's mistake
 * (issue 11): 40 and said in the log, not a silent 51.
 */
static int
open_failed(struct conn *c, const char *path)
{
	const struct host_cfg	*h = conn_info(c)->host;
	int			 err = errno;

	if ((err == EACCES || err == EPERM) && faccessat(conn_info(c)->rootfd,
	    ".", R_OK | X_OK, AT_EACCESS) == -1) {
		log_warnx("%s: %s: %s (uid %ld): fix the mode or owner of the "
		    "root %s", h->name, path, strerror(err), (long)geteuid(),
		    h->root);
		conn_reply(c, 40, "Temporary failure");
		return 1;
	}
	errno = err;
	if (fs_missing(errno))
		return not_found(c);
	log_warnx("%s: %s: %s", conn_info(c)->host->name, path,
	    strerror(errno));
	conn_reply(c, 40, "Temporary failure");
	return 1;
}

/* "/dir" -> 31 "/dir/" (the query kept), so relative links work. */
static int
redirect_slash(struct conn *c, const struct request *r)
{
	char	enc[URL_MAX * 3 + 1], meta[URL_MAX + 1];
	int	n;

	if (url_encode_path(r->url.path, enc, sizeof(enc)) == -1)
		return not_found(c);
	n = snprintf(meta, sizeof(meta), "%s/%s%s", enc,
	    r->url.has_query ? "?" : "", r->url.query);
	if (n < 0 || (size_t)n >= sizeof(meta))
		return not_found(c);
	conn_reply(c, 31, meta);
	return 1;
}

static int
serve_listing(struct conn *c, const struct request *r, int dirfd)
{
	const struct conn_info	*ci = conn_info(c);
	char			 meta[256], *body;
	size_t			 len;

	if (fs_listing(ci->rootfd, dirfd, r->url.path,
	    (size_t)ci->host->autoindex_max, &body, &len) == -1) {
		log_warnx("%s: listing %s: %s", ci->host->name, r->url.path,
		    strerror(errno));
		conn_reply(c, 40, "Cannot list this directory");
		return 1;
	}
	file_meta(ci->host, r->url.path, "text/gemini", meta, sizeof(meta));
	conn_reply(c, 20, meta);
	conn_body_mem(c, body, len);
	return 1;
}

static int
serve_dir(struct conn *c, const struct request *r, int dirfd)
{
	const struct conn_info	*ci = conn_info(c);
	const char		*path = r->url.path;
	char			 name[URL_MAX + sizeof(ci->host->index)];
	struct stat		 st;
	int			 fd, answered;

	/* the index's path, as messages about it should name it */
	if (snprintf(name, sizeof(name), "%s%s", path, ci->host->index) >=
	    (int)sizeof(name))
		(void)snprintf(name, sizeof(name), "%s", ci->host->index);
	if (path[strlen(path) - 1] != '/')
		answered = redirect_slash(c, r);
	else if ((fd = fs_open_in(dirfd, ci->host->index, &st)) != -1 &&
	    S_ISREG(st.st_mode))
		answered = serve_file(c, name, fd, &st);
	else if (fd == -1 && !fs_missing(errno))
		answered = open_failed(c, path);
	else {
		if (fd != -1)
			close(fd);
		answered = ci->host->autoindex ? serve_listing(c, r, dirfd) :
		    not_found(c);
	}
	close(dirfd);
	return answered;
}

static int
route_file(struct conn *c, const struct request *r)
{
	const struct conn_info	*ci = conn_info(c);
	struct stat		 st;
	int			 fd;

	if ((fd = fs_open(ci->rootfd, r->url.path, &st)) == -1)
		return open_failed(c, r->url.path);
	if (S_ISDIR(st.st_mode))
		return serve_dir(c, r, fd);
	return serve_file(c, r->url.path, fd, &st);
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
route_feed(struct conn *c, const struct request *r)
{
	const struct conn_info	*ci = conn_info(c);
	const struct feed_cfg	*f;
	struct stat		 st;
	char			 base[URL_HOST_MAX + 32], meta[256], *body;
	size_t			 len;
	int			 atom, dirfd, rv;

	if ((f = feed_lookup(ci->host, r->url.path, &atom)) == NULL)
		return 0;
	if ((dirfd = fs_open(ci->rootfd, f->dir, &st)) == -1)
		return fs_missing(errno) ? 0 : open_failed(c, f->dir);
	if (!S_ISDIR(st.st_mode) ||
	    has_file(dirfd, atom ? FEED_ATOM : ci->host->index)) {
		close(dirfd);
		return 0;
	}
	/* ids are the host's own name; the port the client asked for */
	rv = feed_base_url(ci->host->name, r->url.port, base, sizeof(base));
	if (rv == 0)
		rv = feed_generate(ci->host, f, dirfd, &st, base, atom, &body,
		    &len);
	close(dirfd);
	if (rv != 0) {
		log_warnx("%s: feed %s: %s", ci->host->name, f->dir,
		    strerror(errno));
		conn_reply(c, 40, "Cannot generate the feed");
		return 1;
	}
	if (atom)
		conn_reply(c, 20, "application/atom+xml");
	else {
		file_meta(ci->host, r->url.path, "text/gemini", meta,
		    sizeof(meta));
		conn_reply(c, 20, meta);
	}
	conn_body_mem(c, body, len);
	return 1;
}
