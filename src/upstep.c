/*
 * upstep.c: route_upstream (see upstep.h): the request an upstream is
 * sent, made from the request and its connection's facts.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgivars.h"
#include "config.h"
#include "fcgi.h"
#include "fs.h"
#include "log.h"
#include "logfmt.h"
#include "plan.h"
#include "proxy.h"
#include "request.h"
#include "scgi.h"
#include "upjob.h"
#include "upstep.h"
#include "upstream.h"
#include "url.h"

/* params or a header: the variables and what frames them */
#define CGI_REQUEST_MAX	(CGI_VARS_BUF + 2048)

/* "/app" -> 31 "/app/" (the query kept), so relative links work. */
static int
to_directory(const struct request *r, struct plan *p)
{
	char	enc[URL_MAX * 3 + 1], meta[URL_MAX + 1];
	int	n;

	if (url_encode_path(r->url.path, enc, sizeof(enc)) == -1)
		return plan_reply(p, 59, "Request too long");
	n = snprintf(meta, sizeof(meta), "%s/%s%s", enc,
	    r->url.has_query ? "?" : "", r->url.query);
	if (n < 0 || (size_t)n >= sizeof(meta))
		return plan_reply(p, 59, "Request too long");
	return plan_reply(p, 31, meta);
}

/*
 * SCRIPT_NAME: the first leading part of the path under PATH that is a
 * file beneath the root (a CGI wrapper runs it; the rest is PATH_INFO),
 * else PATH itself (an application mounted there).
 */
static size_t
script_len(const struct facts *f, const struct upstream_cfg *u,
    const char *path)
{
	struct stat	st;
	size_t		n = strlen(u->path), end;

	if ((end = fs_leading_file(f->rootfd, path, n, &st)) > 0)
		return end;
	return u->path[n - 1] == '/' ? n - 1 : n;
}

/* FastCGI's PARAMS or SCGI's header: CGI's variables, the one table. */
static int
cgi_request(const struct facts *f, const struct request *r,
    const struct upstream_cfg *u, struct upjob_args *a)
{
	struct cgi_vars	 cv;
	const char	*names[CV_NVARS];
	int		 i;

	if (cgi_vars_fill(&cv, f, r, script_len(f, u, r->url.path),
	    u->root[0] != '\0' ? u->root : f->host->root) == -1)
		return -1;
	for (i = 0; i < CV_NVARS; i++)
		names[i] = cgi_var_name(i);
	if ((a->req = malloc(CGI_REQUEST_MAX)) == NULL)
		return -1;
	a->reqlen = u->kind == UP_FASTCGI ? fcgi_request(a->req,
	    CGI_REQUEST_MAX, u->keepalive > 0, names, cv.val, CV_NVARS) :
	    scgi_request(a->req, CGI_REQUEST_MAX, names, cv.val, CV_NVARS);
	if (a->reqlen == 0) {
		free(a->req);
		a->req = NULL;
		return -1;
	}
	return 0;
}

/* addr (text) and port as a socket address; 0 or -1. */
static int
sockaddr_of(const char *addr, int port, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((unsigned short)port);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((unsigned short)port);
		return 0;
	}
	return -1;
}

/* An IPv4 address as IPv6 (::ffff:a.b.c.d), to match the other's family. */
static void
mapped(struct sockaddr_storage *ss)
{
	struct sockaddr_in	 sin = *(struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = sin.sin_port;
	sin6->sin6_addr.s6_addr[10] = 0xff;
	sin6->sin6_addr.s6_addr[11] = 0xff;
	memcpy(&sin6->sin6_addr.s6_addr[12], &sin.sin_addr, 4);
}

/*
 * The PROXY header names the reader as the logs do (log_ip): the
 * address in full with its port, its network without, or nobody; and,
 * as the address it connected to, the upstream's own, so that what the
 * upstream checks a request's port against is the URL's.
 */
static void
proxy_header(const struct facts *f, const struct upstream_cfg *u,
    struct upjob_args *a)
{
	struct sockaddr_storage	src, dst;
	char			addr[LOGFMT_ADDR_MAX];
	int			full = f->cf->log_ip == LOG_IP_FULL;

	logfmt_addr(f->peer_addr, f->cf->log_ip, addr);
	memcpy(&dst, &u->ss, sizeof(dst));
	if (f->cf->log_ip == LOG_IP_OFF || u->sslen == 0 ||
	    sockaddr_of(addr, full ? f->peer_port : 0, &src) == -1) {
		a->pplen = proxy_v2_encode(a->pp, NULL, NULL);
		return;
	}
	if (src.ss_family == AF_INET && dst.ss_family == AF_INET6)
		mapped(&src);
	else if (src.ss_family == AF_INET6 && dst.ss_family == AF_INET)
		mapped(&dst);
	a->pplen = proxy_v2_encode(a->pp, (struct sockaddr *)&src,
	    (struct sockaddr *)&dst);
}

int
route_upstream(const struct facts *f, const struct request *r,
    struct plan *p)
{
	const struct host_cfg		*h = f->host;
	const struct upstream_cfg	*u;
	struct upjob_args		 a;
	struct upjob			*j;
	char				 line[URL_MAX + 3];
	int				 slash, n;
	long				 timeout;

	if (h->nups == 0 || (u = upstream_find(h->ups, h->nups, r->url.path,
	    &slash)) == NULL)
		return 0;
	if (slash)
		return to_directory(r, p);
	memset(&a, 0, sizeof(a));
	a.u = u;
	if (u->kind == UP_GEMINI) {
		/* the upstream's URL: BASE and the rest, never the client's */
		if ((n = upstream_url(u, r->url.path, r->url.has_query ?
		    r->url.query : NULL, line, sizeof(line))) == -1)
			return plan_reply(p, 59, "Request too long for the "
			    "upstream server");
		if ((a.req = strdup(line)) == NULL)
			return plan_reply(p, 40, "Out of memory");
		a.reqlen = (size_t)n;
		if (u->proxy_protocol)
			proxy_header(f, u, &a);
	} else if (cgi_request(f, r, u, &a) == -1) {
		log_warnx("%s: %s %s: the request's variables do not fit",
		    f->peer_log, u->name, r->url.path);
		return plan_reply(p, 43, "Proxy error: request too large");
	}
	timeout = h->upstream_timeout > 0 ? h->upstream_timeout :
	    h->cgi_timeout;
	a.addr = f->peer_log;
	a.path = r->url.path;
	a.now = f->now;
	a.stall = timeout * 1000L;
	/* FastCGI and SCGI are CGI's replacements: CGI's bounds */
	a.deadline = u->kind == UP_GEMINI ? -1 : f->now +
	    h->cgi_timeout * 1000L;
	a.max = u->kind == UP_GEMINI ? -1 : f->cf->cgi_max_output;
	if ((j = upjob_new(&a)) == NULL)
		return plan_reply(p, 40, "Out of memory");
	p->log_upstream = u->name;
	return plan_stream(p, &upjob_stream, j);
}
