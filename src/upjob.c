/*
 * upjob.c: an upstream's response as a stream (see upjob.h).
 *
 * The three kinds differ only in how bytes come (pull): FastCGI records
 * taken apart (fcgi.c), an SCGI application's bytes as they are, a
 * Gemini server's through TLS.  The rest is one: the connection, the
 * request, the header check, the cap, the clocks, the log lines.
 *
 * Two clocks bound a job.  The deadline (FastCGI and SCGI: cgi_timeout,
 * as a CGI script has) ends the whole response; the stall (the host's
 * upstream_timeout, else cgi_timeout) ends any one wait for the
 * upstream, counted from the moment the job found nothing to read, so
 * a reader that is slow to take the body never counts against it.  The
 * header, besides, must have come one stall after the request: an
 * upstream that dribbles it a byte at a time holds the reader no longer.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "cgijob.h"
#include "fcgi.h"
#include "log.h"
#include "logfmt.h"
#include "metrics.h"
#include "plan.h"
#include "upconn.h"
#include "upjob.h"
#include "upstream.h"

#define IN_SIZE		8192	/* FastCGI records, as read */
#define FCGI_READS_PER_TURN 8	/* of them, with nothing for the reader */
#define ERR_LINE	256	/* longer stderr lines are split */
#define ERR_LINES	100	/* stderr lines logged per request */

enum step {
	S_CONNECT,	/* the connection (a kept one, or a new one) */
	S_PROXY,	/* a PROXY header, before TLS */
	S_HANDSHAKE,	/* TLS with a proxied server */
	S_SEND,		/* the request */
	S_HEADER,	/* the response's header, checked */
	S_BODY,
	S_OVER,		/* the upstream's part is over */
};

struct upjob {
	const struct upstream_cfg *u;
	int		 fd;
	SSL		*ssl;
	enum step	 step;
	int		 pending;	/* a connect under way */
	int		 reused;	/* a kept connection */
	int		 retried;	/* a kept one failed: a new one */
	char		*req;
	size_t		 reqlen, reqoff;
	unsigned char	 pp[PROXY_V2_MAX];
	size_t		 pplen, ppoff;
	char		 hdr[CGI_HEADER_MAX];
	size_t		 hdrlen, hdroff;
	struct fcgi_reader fr;
	char		*in;		/* FastCGI: records read, not taken */
	size_t		 inlen, inoff;
	char		 err[ERR_LINE];	/* a stderr line so far */
	size_t		 errlen;
	int		 errlines;
	int		 whole;		/* the upstream ended it properly */
	int		 heard;		/* any byte came from the upstream */
	int		 got;		/* bytes came since the last wait */
	long		 idle_since;	/* the wait for the upstream began */
	long		 deadline, stall;
	long		 header_by;	/* the header's own deadline */
	enum metrics_cgi outcome;	/* for the metrics, at the finish */
	int		 capped;	/* the body has a cap: */
	long long	 left;		/* bytes of it left */
	char		 why[256];	/* why the upstream's part ended */
	char		 addr[LOGFMT_ADDR_MAX];
	char		 path[128];
};

static void __attribute__((format(printf, 2, 3)))
say(struct upjob *j, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	(void)vsnprintf(j->why, sizeof(j->why), fmt, ap);
	va_end(ap);
}

/* A log line about this request: the client, the upstream, the path. */
static void __attribute__((format(printf, 2, 3)))
warn(const struct upjob *j, const char *fmt, ...)
{
	char	msg[512];
	va_list	ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s: %s %s: %s", j->addr, j->u->name, j->path, msg);
}

struct upjob *
upjob_new(const struct upjob_args *a)
{
	struct upjob	*j;

	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (a->u->kind == UP_FASTCGI && (j->in = malloc(IN_SIZE)) == NULL)) {
		free(j);
		free(a->req);
		return NULL;
	}
	j->u = a->u;
	j->fd = -1;
	j->req = a->req;
	j->reqlen = a->reqlen;
	memcpy(j->pp, a->pp, a->pplen);
	j->pplen = a->pplen;
	j->idle_since = a->now;
	j->deadline = a->deadline;
	j->stall = a->stall;
	j->header_by = a->now + a->stall;
	j->outcome = METRICS_CGI_CANCELLED;	/* until it is known */
	j->capped = a->max >= 0;
	j->left = a->max;
	fcgi_reader_init(&j->fr);
	(void)snprintf(j->addr, sizeof(j->addr), "%s", a->addr);
	(void)snprintf(j->path, sizeof(j->path), "%s", a->path);
	return j;
}

/*
 * Wait on the upstream: 1 with w->left set, or 0 when the time is up
 * (the stall, counted from when nothing more came; or the deadline).
 */
static int
waiting(struct upjob *j, long now, struct plan_wait *w)
{
	long	left;

	if (j->got) {
		j->idle_since = now;
		j->got = 0;
	}
	left = j->idle_since + j->stall - now;
	if (j->deadline >= 0 && j->deadline - now < left)
		left = j->deadline - now;
	if (j->step < S_BODY && j->header_by - now < left)
		left = j->header_by - now;
	w->left = left;
	w->also = -1;
	return left > 0;
}

static void
wait_on(struct upjob *j, struct plan_wait *w, int events)
{
	w->fd = j->fd;
	w->events = events;
	w->also = -1;
}

/* What the upstream wrote to stderr: whole lines to the error log. */
static void
err_line(struct upjob *j)
{
	size_t	i;

	for (i = 0; i < j->errlen; i++)	/* a NUL would end it early */
		if (j->err[i] == '\0')
			j->err[i] = '?';
	if (j->errlen > 0 && j->errlines < ERR_LINES)
		warn(j, "stderr: %.*s", (int)j->errlen, j->err);
	else if (j->errlen > 0 && j->errlines == ERR_LINES)
		warn(j, "stderr: more lines dropped");
	if (j->errlen > 0)
		j->errlines++;
	j->errlen = 0;
}

static void
err_bytes(struct upjob *j, const char *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\n') {
			if (j->errlen > 0 && j->err[j->errlen - 1] == '\r')
				j->errlen--;
			err_line(j);
			continue;
		}
		j->err[j->errlen++] = p[i];
		if (j->errlen == sizeof(j->err))
			err_line(j);
	}
}

static const char *
ssl_why(const struct upjob *j, int r)
{
	static char	 buf[160];
	unsigned long	 e;
	long		 v;

	/* a pinned or unchecked peer's chain has a result too: not ours */
	if (j->u->verify == UP_VERIFY_CA &&
	    (v = SSL_get_verify_result(j->ssl)) != X509_V_OK) {
		ERR_clear_error();
		return X509_verify_cert_error_string(v);
	}
	if ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		ERR_clear_error();
		return buf;
	}
	if (SSL_get_error(j->ssl, r) == SSL_ERROR_SYSCALL && errno != 0)
		return strerror(errno);
	return "the connection was closed";
}

/* An SSL call that did not complete: 0 wait (w set), -1 failed. */
static int
tls_wait(struct upjob *j, int r, struct plan_wait *w)
{
	switch (SSL_get_error(j->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		wait_on(j, w, PLAN_READ);
		return 0;
	case SSL_ERROR_WANT_WRITE:
		wait_on(j, w, PLAN_WRITE);
		return 0;
	default:
		return -1;
	}
}

/* SCGI: the response is what comes until the application closes. */
static ssize_t
pull_raw(struct upjob *j, char *buf, size_t room, struct plan_wait *w)
{
	ssize_t	n;

	if ((n = read(j->fd, buf, room)) > 0)
		return n;
	if (n == 0) {
		j->whole = 1;
		return -1;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
		wait_on(j, w, PLAN_READ);
		return 0;
	}
	say(j, "reading: %s", strerror(errno));
	return -1;
}

/* A proxied server: whole when it says so (close_notify). */
static ssize_t
pull_tls(struct upjob *j, char *buf, size_t room, struct plan_wait *w)
{
	int	r;

	ERR_clear_error();
	errno = 0;
	if ((r = SSL_read(j->ssl, buf, room > INT_MAX ? INT_MAX :
	    (int)room)) > 0)
		return r;
	if (SSL_get_error(j->ssl, r) == SSL_ERROR_ZERO_RETURN) {
		j->whole = 1;
		return -1;
	}
	if (tls_wait(j, r, w) == 0)
		return 0;
	if (SSL_get_error(j->ssl, r) == SSL_ERROR_SYSCALL && errno == 0)
		say(j, "closed without close_notify");
	else
		say(j, "%s", ssl_why(j, r));
	return -1;
}

/* END_REQUEST: whole only when the request was done and exited 0. */
static ssize_t
fcgi_end(struct upjob *j, const struct fcgi_chunk *c)
{
	static const char *const refusals[] = { NULL,
	    "cannot multiplex connections", "overloaded", "unknown role" };

	err_line(j);
	if (c->protocol_status != 0)
		say(j, "the responder refused the request: %s",
		    c->protocol_status <= 3 ? refusals[c->protocol_status] :
		    "unknown protocol status");
	else if (c->app_status != 0)
		say(j, "its application ended with status %lu",
		    c->app_status);
	else
		j->whole = 1;
	return -1;
}

/* FastCGI: STDOUT records' content; STDERR's to the log. */
static ssize_t
pull_fcgi(struct upjob *j, char *buf, size_t room, struct plan_wait *w)
{
	struct fcgi_chunk	c;
	ssize_t			n;
	int			reads = 0;

	for (;;) {
		if (j->inoff < j->inlen) {
			j->inoff += fcgi_parse(&j->fr, j->in + j->inoff,
			    j->inlen - j->inoff, room, &c);
			switch (c.ev) {
			case FCGI_OUT:
				memcpy(buf, c.data, c.len);
				return (ssize_t)c.len;
			case FCGI_ERR:
				err_bytes(j, c.data, c.len);
				continue;
			case FCGI_END:
				return fcgi_end(j, &c);
			case FCGI_BAD:
				say(j, "%s", c.why);
				return -1;
			case FCGI_NEED:
				break;
			}
		}
		j->inoff = j->inlen = 0;
		/*
		 * Records with nothing for the reader (stderr, management,
		 * padding) as fast as the responder writes them must not hold
		 * the worker: after a few reads, the engine's wait, which
		 * keeps the deadline, and the other connections get a turn.
		 */
		if (reads++ == FCGI_READS_PER_TURN) {
			wait_on(j, w, PLAN_READ);
			return 0;
		}
		if ((n = read(j->fd, j->in, IN_SIZE)) > 0) {
			j->inlen = (size_t)n;
			j->heard = j->got = 1;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR)) {
			wait_on(j, w, PLAN_READ);
			return 0;
		}
		say(j, "%s before END_REQUEST", n == 0 ? "the responder "
		    "closed the connection" : strerror(errno));
		return -1;
	}
}

/* Response bytes: > 0 read, 0 wait (w), -1 over (whole, or why). */
static ssize_t
pull(struct upjob *j, char *buf, size_t room, struct plan_wait *w)
{
	ssize_t	n;

	switch (j->u->kind) {
	case UP_FASTCGI:
		n = pull_fcgi(j, buf, room, w);
		break;
	case UP_SCGI:
		n = pull_raw(j, buf, room, w);
		break;
	default:
		n = pull_tls(j, buf, room, w);
		break;
	}
	if (n > 0)
		j->heard = j->got = 1;
	return n;
}

/* Write what is left of buf; 1 all gone, 0 wait, -1 failed (why). */
static int
push(struct upjob *j, const void *buf, size_t len, size_t *off, int tls,
    struct plan_wait *w)
{
	ssize_t	n;
	int	r;

	while (*off < len) {
		if (tls) {
			ERR_clear_error();
			r = SSL_write(j->ssl, (const char *)buf + *off,
			    (int)(len - *off));
			if (r <= 0) {
				if (tls_wait(j, r, w) == 0)
					return 0;
				say(j, "sending the request: %s", ssl_why(j, r));
				return -1;
			}
			n = r;
		} else if ((n = write(j->fd, (const char *)buf + *off,
		    len - *off)) == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR) {
				wait_on(j, w, PLAN_WRITE);
				return 0;
			}
			say(j, "sending the request: %s", strerror(errno));
			return -1;
		}
		*off += (size_t)n;
		j->got = 1;
	}
	return 1;
}

static int
connect_step(struct upjob *j, struct plan_wait *w)
{
	struct pollfd	p;
	int		err;

	if (j->fd == -1) {
		if ((j->fd = upconn_open(j->u, j->retried, &j->reused,
		    &j->pending)) == -1) {
			say(j, "cannot connect: %s", strerror(errno));
			return -1;
		}
		j->got = 1;
	}
	if (j->pending) {
		p.fd = j->fd;
		p.events = POLLOUT;
		if (poll(&p, 1, 0) == 0) {
			wait_on(j, w, PLAN_WRITE);
			return 0;
		}
		if ((err = upconn_connected(j->fd)) != 0) {
			say(j, "cannot connect: %s", strerror(err));
			return -1;
		}
		j->pending = 0;
	}
	j->step = j->pplen > 0 ? S_PROXY : j->u->kind == UP_GEMINI ?
	    S_HANDSHAKE : S_SEND;
	return 1;
}

static int
handshake_step(struct upjob *j, struct plan_wait *w)
{
	int	r;

	if (j->ssl == NULL && (j->ssl = upconn_tls(j->u, j->fd)) == NULL) {
		say(j, "TLS: out of memory");
		return -1;
	}
	ERR_clear_error();
	errno = 0;
	if ((r = SSL_connect(j->ssl)) != 1) {
		if (tls_wait(j, r, w) == 0)
			return 0;
		if (upconn_tls_refused(j->u, j->ssl, j->why,
		    sizeof(j->why)) == 0)
			say(j, "TLS handshake: %s", ssl_why(j, r));
		return -1;
	}
	/* nothing is sent to a server that is not the pinned one */
	if (upconn_tls_check(j->u, j->ssl, j->why, sizeof(j->why)) == -1)
		return -1;
	j->got = 1;
	j->step = S_SEND;
	return 1;
}

/* Connect, PROXY header, handshake, request: 1 done, 0 wait, -1 why. */
static int
advance(struct upjob *j, struct plan_wait *w)
{
	int	r;

	for (;;) {
		switch (j->step) {
		case S_CONNECT:
			r = connect_step(j, w);
			break;
		case S_PROXY:
			if ((r = push(j, j->pp, j->pplen, &j->ppoff, 0, w)) ==
			    1)
				j->step = S_HANDSHAKE;
			break;
		case S_HANDSHAKE:
			r = handshake_step(j, w);
			break;
		case S_SEND:
			if ((r = push(j, j->req, j->reqlen, &j->reqoff,
			    j->ssl != NULL, w)) == 1)
				j->step = S_HEADER;
			break;
		default:
			return 1;
		}
		if (r != 1)
			return r;
	}
}

/*
 * A kept FastCGI connection the responder closed under us, before it
 * said a word: once, the request again on a new one.
 */
static int
retry(struct upjob *j)
{
	if (!j->reused || j->retried || j->heard)
		return 0;
	close(j->fd);
	j->fd = -1;
	j->reused = 0;
	j->retried = 1;
	j->reqoff = 0;
	j->inlen = j->inoff = 0;
	fcgi_reader_init(&j->fr);
	j->step = S_CONNECT;
	return 1;
}

/* No header that may be sent: 43, and the reason in the log. */
static int
refuse(struct upjob *j, int *status, char meta[URL_MAX + 1],
    const char *why)
{
	warn(j, "%s", why);
	j->step = S_OVER;
	j->outcome = METRICS_CGI_FAILED;
	*status = 43;
	(void)snprintf(meta, URL_MAX + 1, "Proxy error: the upstream %s",
	    j->u->kind == UP_GEMINI ? "server failed" :
	    "application failed");
	return 1;
}

/* No header in time: refused, and counted as a timeout. */
static int
refuse_late(struct upjob *j, int *status, char meta[URL_MAX + 1],
    const char *why)
{
	refuse(j, status, meta, why);
	j->outcome = METRICS_CGI_TIMEOUT;
	return 1;
}

static int
job_header(void *arg, long now, int *status, char meta[URL_MAX + 1],
    struct plan_wait *w)
{
	struct upjob	*j = arg;
	const char	*why = NULL;
	ssize_t		 n;
	int		 end;

	for (;;) {
		if (j->step < S_HEADER) {
			if ((end = advance(j, w)) == 1)
				continue;
			if (end == -1 && retry(j))
				continue;
			if (end == -1)
				return refuse(j, status, meta, j->why);
			if (!waiting(j, now, w))
				return refuse_late(j, status, meta, j->step ==
				    S_CONNECT ? "timed out connecting" :
				    "timed out before its header");
			return 0;
		}
		if ((end = cgi_parse_header(j->hdr, j->hdrlen, status, meta,
		    &why)) > 0) {
			j->hdroff = (size_t)end;
			if (j->capped)
				j->left -= (long long)(j->hdrlen - j->hdroff);
			j->step = S_BODY;
			if (*status / 10 != 2)	/* no body: answered */
				j->outcome = METRICS_CGI_OK;
			return 1;
		}
		if (end < 0) {
			say(j, "its %s", why);
			return refuse(j, status, meta, j->why);
		}
		if (j->hdrlen == sizeof(j->hdr))
			return refuse(j, status, meta, "its header line is too "
			    "long (meta over 1024 bytes, or no CRLF)");
		n = pull(j, j->hdr + j->hdrlen, sizeof(j->hdr) - j->hdrlen, w);
		if (n > 0) {
			j->hdrlen += (size_t)n;
			continue;
		}
		if (n == 0 && waiting(j, now, w))
			return 0;
		if (n == 0)
			return refuse_late(j, status, meta, "timed out before "
			    "its header");
		if (retry(j))
			continue;
		if (j->why[0] == '\0')
			say(j, "%s", j->hdrlen ? "ended inside its header" :
			    "ended without a response");
		return refuse(j, status, meta, j->why);
	}
}

/* The body is over: cut unless the upstream ended it properly. */
static ssize_t
over(struct upjob *j, int *cut)
{
	j->step = S_OVER;
	if (j->whole)
		j->outcome = METRICS_CGI_OK;
	else {
		if (j->outcome != METRICS_CGI_TIMEOUT)
			j->outcome = METRICS_CGI_FAILED;
		warn(j, "%s after its header; cut", j->why[0] != '\0' ? j->why :
		    "ended");
		*cut = 1;
	}
	return -1;
}

static ssize_t
job_read(void *arg, char *buf, size_t room, long now, int *cut,
    struct plan_wait *w)
{
	struct upjob	*j = arg;
	ssize_t		 n;

	*cut = 0;
	if ((n = (ssize_t)cgi_header_rest(j->hdr, j->hdrlen, &j->hdroff, buf,
	    room)) > 0)
		return n;
	if (j->deadline >= 0 && now >= j->deadline) {
		say(j, "ran out of cgi_timeout");
		j->outcome = METRICS_CGI_TIMEOUT;
		return over(j, cut);
	}
	if (j->capped && j->left <= 0) {
		say(j, "output over cgi_max_output");
		return over(j, cut);
	}
	if (j->capped && (long long)room > j->left)
		room = (size_t)j->left;
	if ((n = pull(j, buf, room, w)) > 0) {
		j->left -= n;
		return n;
	}
	if (n < 0)
		return over(j, cut);
	if (waiting(j, now, w))
		return 0;
	if (j->deadline >= 0 && now >= j->deadline)
		say(j, "ran out of cgi_timeout");
	else
		say(j, "stalled: nothing for %ld s", j->stall / 1000);
	j->outcome = METRICS_CGI_TIMEOUT;
	return over(j, cut);
}

static void
job_finish(void *arg)
{
	struct upjob	*j = arg;

	metrics_upstream(j->outcome);
	err_line(j);
	if (j->ssl != NULL)
		upconn_tls_end(j->ssl, j->whole);
	/* a whole FastCGI exchange, every byte of it read: kept */
	if (j->fd != -1 && j->u->kind == UP_FASTCGI && j->whole &&
	    j->inoff == j->inlen)
		upconn_keep(j->u, j->fd);
	else if (j->fd != -1)
		close(j->fd);
	free(j->req);
	free(j->in);
	free(j);
}

const struct stream_ops	upjob_stream = {
	job_header,
	job_read,
	job_finish,
};
