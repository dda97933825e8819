/*
 * conn.c: the engine (see conn.h): the connection state machine, and
 * the response plans it carries out.
 *
 * Each connection has a single event, re-armed for whatever comes next
 * (the client's socket, as OpenSSL asks, or a job's descriptor) with the
 * time left before its deadline: the handshake and request line share
 * request_timeout; once a response has started, every wait for the
 * client gets write_timeout; a job (a stream, a sink) says how long its
 * own waits may be.  Nothing here ever blocks, and nothing below it
 * (route.c and its steps) touches the event loop or writes a byte to
 * the client: they plan, this carries the plan out.
 *
 * What a connection holds, by state: an idle one (handshaken, waiting
 * for its request line) only struct conn and OpenSSL's; the request
 * buffer once bytes come; the reply (its buffer, its body) once there
 * is a response.  10,000 idle connections is bench/run.sh's memory case.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "config.h"
#include "conn.h"
#include "limit.h"
#include "linger.h"
#include "log.h"
#include "logfmt.h"
#include "metrics.h"
#include "netbio.h"
#include "plan.h"
#include "proxyin.h"
#include "request.h"
#include "route.h"
#include "shared.h"
#include "titan.h"
#include "tlsctx.h"
#include "url.h"

#define OUTBUF_SIZE	16384	/* one TLS record of header and body */
#define FILE_OUTBUF	65536	/* a bigger file: a quarter of the read(2)s */
#define WRITE_BURST	16	/* records per turn, so big files share */

enum conn_state {
	C_PROXY,	/* a "proxy" listener: reading the PROXY header */
	C_HANDSHAKE,	/* TLS handshake */
	C_REQUEST,	/* reading the request line */
	C_HEADER,	/* a stream's header, checked before it is sent */
	C_SINK,		/* an upload: the client's body to the sink */
	C_REPLY,	/* writing header and body */
	C_SHUTDOWN,	/* sending close_notify */
	C_FLUSH,	/* the last bytes held by netbio are going out */
	C_LINGER,	/* draining what the client still sends, then close */
};

/* Once there is a response: its buffer, its body, its job. */
struct reply {
	char			*out;		/* pending bytes */
	size_t			 outcap, outlen, outoff;
	unsigned long long	 sent;
	int			 fd;		/* PLAN_FILE; -1 when none */
	off_t			 fileleft;
	char			*mem;		/* PLAN_MEM */
	size_t			 memlen, memoff;
	const struct stream_ops	*stream;	/* PLAN_STREAM, until over */
	const struct sink_ops	*sink;		/* PLAN_SINK */
	void			*job;
	long long		 sinkleft;	/* body bytes still to read */
	int			 answering;	/* the sink has the body */
	int			 on_client;	/* the sink's last wait was */
	struct event		 also;		/* a job's second descriptor */
	int			 alsofd;	/* -1: not set */
	/* for the access-log line and the metrics */
	const struct host_cfg	*host;
	char			*log_request, *log_user;
	enum entry_kind		 log_kind;
	const char		*upstream;	/* which answered: its name */
	int			 cert_checked;	/* against a list: log it */
	int			 on_stream;	/* the last wait was the job's */
	size_t			 hdrlen;	/* of the header made */
	char			*meta;		/* of a response not 2x */
	struct linger_state	 linger;	/* C_LINGER */
};

struct conn {
	LIST_ENTRY(conn)	 entry;		/* the worker's open ones */
	struct event		 ev;
	SSL			*ssl;
	BIO			*nb;		/* ours (not SSL_get_wbio) */
	struct proxy_in		*pin;		/* C_PROXY only */
	char			*req;		/* REQUEST_MAX, once bytes came */
	struct reply		*rp;		/* once there is a response */
	const char		*laddr;		/* what the client connected to */
	int64_t			 start;		/* ms, CLOCK_MONOTONIC */
	int			 fd;
	int			 lslot;		/* per-client limits slot */
	unsigned short		 reqlen;	/* bytes received */
	unsigned short		 linelen;	/* request line incl. CRLF */
	unsigned short		 port, lport;
	unsigned char		 state;		/* enum conn_state */
	unsigned char		 status;	/* 0 until a header is made */
	unsigned char		 cut;		/* the body was cut short */
	unsigned char		 unread;	/* the request line was not */
	unsigned char		 own_laddr;	/* laddr is ours to free */
	char			 addr[CONN_ADDR_MAX];	/* the client */
};

LIST_HEAD(conn_list, conn);
static struct conn_list		 conns = LIST_HEAD_INITIALIZER(conns);
static size_t			 nconns;
static struct conn_env		 env;

static void	conn_step(struct conn *);
static void	conn_close(struct conn *);
static void	conn_timeout(struct conn *);

static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The connection's clock: ms since accept (plan.h's "now"). */
static long
elapsed_ms(const struct conn *c)
{
	return (long)(now_ms() - c->start);
}

void
conn_init(const struct conn_env *e)
{
	env = *e;
}

void
conn_addr(const struct sockaddr_storage *ss, char addr[CONN_ADDR_MAX],
    int *port)
{
	const struct sockaddr_in	*sin = (const void *)ss;
	const struct sockaddr_in6	*sin6 = (const void *)ss;

	if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &sin6->sin6_addr, addr, CONN_ADDR_MAX);
		*port = ntohs(sin6->sin6_port);
	} else {
		inet_ntop(AF_INET, &sin->sin_addr, addr, CONN_ADDR_MAX);
		*port = ntohs(sin->sin_port);
	}
}

static void
conn_event(int fd, short what, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	if (what & EV_TIMEOUT) {
		conn_timeout(c);
		return;
	}
	conn_step(c);
}

/* The client as the logs name it (log_ip): its own storage is buf. */
static const char *
conn_logaddr(const struct conn *c, char buf[LOGFMT_ADDR_MAX])
{
	logfmt_addr(c->addr, env.cf->log_ip, buf);
	return buf;
}

/* A job's second descriptor spoke (a CGI runner: the script ended). */
static void
also_event(int fd, short what, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)what;
	event_del(&c->ev);
	conn_step(c);
}

static void
wait_fd(struct conn *c, int fd, short what, long left)
{
	struct timeval	tv;

	if (left < 1)
		left = 1;
	tv.tv_sec = left / 1000;
	tv.tv_usec = (left % 1000) * 1000;
	event_set(&c->ev, fd, what, conn_event, c);
	event_add(&c->ev, &tv);
}

/*
 * What netbio holds goes out before any wait: the client may be waiting
 * for it.  1 when it went, 0 when the socket is full and the rest must
 * wait for it, -1 when the client is gone.
 */
static int
conn_flush(struct conn *c)
{
	return netbio_flush(c->nb, 0);
}

/*
 * Wait for the client's socket to be readable or writable, bounded in
 * time.  A client gone (flush -1) is seen by the next step: the socket
 * is writable at once and every SSL call on it fails from then on.
 */
static void
conn_wait(struct conn *c, short what)
{
	long	left;

	if (conn_flush(c) != 1)
		what = EV_WRITE;
	if (c->state <= C_REQUEST)
		left = (long)env.cf->request_timeout * 1000 - elapsed_ms(c);
	else if (c->state == C_LINGER)
		left = c->rp->linger.end - elapsed_ms(c);
	else
		left = (long)env.cf->write_timeout * 1000;
	if (c->rp != NULL)
		c->rp->on_stream = 0;
	wait_fd(c, c->fd, what, left);
}

/* After a failed SSL call: wait as OpenSSL asks, or give up (-1). */
static int
ssl_wait(struct conn *c, int r)
{
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		conn_wait(c, EV_READ);
		return 0;
	case SSL_ERROR_WANT_WRITE:
		conn_wait(c, EV_WRITE);
		return 0;
	default:
		ERR_clear_error();
		return -1;
	}
}

static short
ev_of(int events)
{
	return (events & PLAN_WRITE) ? EV_WRITE : EV_READ;
}

/* Watch a job's second descriptor (-1: none) besides the main wait. */
static void
also_watch(struct conn *c, int fd)
{
	struct reply	*rp = c->rp;

	if (rp->alsofd != fd) {
		if (rp->alsofd != -1)
			event_del(&rp->also);
		if ((rp->alsofd = fd) == -1)
			return;
		event_set(&rp->also, fd, EV_READ, also_event, c);
	}
	if (fd != -1 && !event_pending(&rp->also, EV_READ, NULL))
		event_add(&rp->also, NULL);
}

/*
 * A stream's wait, as it asks, once what netbio holds has gone; -1 when
 * the client has gone (the caller closes, which ends the job).
 */
static int
stream_wait(struct conn *c, const struct plan_wait *w)
{
	int	r;

	if ((r = conn_flush(c)) != 1) {
		if (r == 0)
			conn_wait(c, EV_WRITE);
		return r;
	}
	also_watch(c, w->also);
	c->rp->on_stream = 1;
	wait_fd(c, w->fd != -1 ? w->fd : c->fd, ev_of(w->events), w->left);
	return 0;
}

/*
 * An upload's wait, as its sink says: on the sink's descriptor, or (-1)
 * the client's socket (and also the sink's, which speaks when it stops
 * taking the body), for as long as it allows.
 */
static void
sink_wait(struct conn *c, int fd, short what, const struct plan_wait *w)
{
	if (conn_flush(c) != 1) {
		fd = c->fd;
		what = EV_WRITE;
	} else if (fd == -1)
		fd = c->fd;
	also_watch(c, fd == c->fd ? w->also : -1);
	c->rp->on_client = fd == c->fd;
	wait_fd(c, fd, what, w->left);
}

/* Stop reading the stream (a CGI job: the runner kills the script). */
static void
stream_end(struct conn *c)
{
	struct reply	*rp = c->rp;

	if (rp->stream == NULL)
		return;
	also_watch(c, -1);
	rp->stream->finish(rp->job);
	rp->stream = NULL;
	rp->job = NULL;
}

static void
reply_free(struct reply *rp)
{
	if (rp->alsofd != -1)
		event_del(&rp->also);
	if (rp->fd != -1)
		close(rp->fd);
	if (rp->stream != NULL)
		rp->stream->finish(rp->job);
	if (rp->sink != NULL)
		rp->sink->finish(rp->job);
	free(rp->mem);
	free(rp->out);
	free(rp->log_request);
	free(rp->log_user);
	free(rp->meta);
	free(rp);
}

static struct reply *
reply_new(void)
{
	struct reply	*rp;

	if ((rp = calloc(1, sizeof(*rp))) == NULL)
		return NULL;
	if ((rp->out = malloc(OUTBUF_SIZE)) == NULL) {
		free(rp);
		return NULL;
	}
	rp->outcap = OUTBUF_SIZE;
	rp->fd = rp->alsofd = -1;
	return rp;
}

/*
 * The only function that makes a response header: "NN meta\r\n", status
 * 10..69 (else 40), meta cut to 1024 bytes on a UTF-8 boundary with its
 * control characters made spaces (request_header).  Once per connection.
 */
static void
reply_header(struct conn *c, int status, const char *meta)
{
	struct reply	*rp;

	if (c->status != 0) {
		/* one header per connection, ever: a second is a bug */
		log_warnx("internal: a second response header (%d)", status);
		c->cut = 1;
		c->state = C_FLUSH;
		return;
	}
	if (status < 10 || status > 69) {
		log_warnx("internal: status %d is not a Gemini status", status);
		status = 40;
		meta = "Internal error";
	}
	c->status = (unsigned char)status;
	if (c->rp == NULL && (c->rp = reply_new()) == NULL) {
		c->state = C_SHUTDOWN;
		return;
	}
	rp = c->rp;
	rp->outlen = rp->hdrlen = request_header(rp->out, status, meta);
	rp->outoff = 0;
	c->state = C_REPLY;
	/* as sent (cut, controls made spaces), for the log's meta */
	if (status / 10 != 2)
		rp->meta = strndup(rp->out + 3, rp->hdrlen - 5);
}

/* A file or bytes after a 2x header (else they are not sent). */
static void
reply_body(struct conn *c, struct plan *p)
{
	struct reply	*rp = c->rp;
	char		*big;

	if (rp == NULL || c->status < 20 || c->status > 29) {
		plan_free(p);
		return;
	}
	if (p->body == PLAN_FILE) {
		rp->fd = p->fd;
		rp->fileleft = p->size;
		if (p->size > OUTBUF_SIZE &&
		    (big = realloc(rp->out, FILE_OUTBUF)) != NULL) {
			rp->out = big;
			rp->outcap = FILE_OUTBUF;
		}
	} else if (p->body == PLAN_MEM) {
		rp->mem = p->mem;
		rp->memlen = p->len;
	}
}

/*
 * An upload: the bytes that came after the request line are the body's
 * first (more than its size: the rest is not ours).
 */
static void
sink_start(struct conn *c, const struct plan *p)
{
	struct reply	*rp = c->rp;
	size_t		 n = (size_t)(c->reqlen - c->linelen);

	rp->sink = p->sink;
	rp->job = p->job;
	if ((long long)n > p->sink_size)
		n = (size_t)p->sink_size;
	memcpy(rp->out, c->req + c->linelen, n);
	rp->outlen = n;
	rp->outoff = 0;
	rp->sinkleft = p->sink_size - (long long)n;
	c->state = C_SINK;
}

/* Carry out the plan route_request made. */
static void
reply_start(struct conn *c, struct plan *p)
{
	struct reply	*rp;

	if ((rp = c->rp) == NULL && (rp = c->rp = reply_new()) == NULL) {
		plan_free(p);
		c->status = 40;
		c->state = C_SHUTDOWN;
		return;
	}
	rp->host = p->host;
	/* copies: the job they came from may end before the log line */
	if (p->log_request != NULL)
		rp->log_request = strdup(p->log_request);
	if (p->log_user[0] != '\0')
		rp->log_user = strdup(p->log_user);
	rp->log_kind = p->log_kind;
	rp->upstream = p->log_upstream;
	rp->cert_checked = p->cert_checked;
	switch (p->body) {
	case PLAN_STREAM:
		rp->stream = p->stream;
		rp->job = p->job;
		c->state = C_HEADER;
		break;
	case PLAN_SINK:
		sink_start(c, p);
		break;
	default:
		reply_header(c, p->status, p->meta);
		reply_body(c, p);
		break;
	}
}

/* What a step may know of this connection, for this request. */
static void
facts_of(struct conn *c, struct facts *f, char sni[URL_HOST_MAX + 1],
    char logaddr[LOGFMT_ADDR_MAX], unsigned char hash[32])
{
	const char	*name;

	memset(f, 0, sizeof(*f));
	f->cf = env.cf;
	f->rootfds = env.rootfds;
	f->rootfd = -1;
	/* a name that has no canonical form stays as sent: it never matches */
	name = SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name);
	if (name != NULL)
		f->sni = url_host_canonical(name, sni, URL_HOST_MAX + 1) == 0 ?
		    sni : name;
	f->peer_addr = c->addr;
	f->peer_log = conn_logaddr(c, logaddr);
	f->peer_port = c->port;
	f->local_addr = c->laddr;
	f->local_port = c->lport;
	f->ssl = c->ssl;
	f->cert = CERT_NONE;
	if (tls_client_hash(c->ssl, hash) == 0) {
		f->client_hash = hash;
		f->cert = tls_client_in_date(c->ssl) == 1 ? CERT_IN_DATE :
		    CERT_OUT_OF_DATE;
	}
	f->lslot = c->lslot;
	f->now = elapsed_ms(c);
}

static void
request_ready(struct conn *c, size_t linelen)
{
	struct facts	f;
	struct plan	p;
	char		sni[URL_HOST_MAX + 1], logaddr[LOGFMT_ADDR_MAX];
	unsigned char	hash[32];

	c->linelen = (unsigned short)linelen;
	facts_of(c, &f, sni, logaddr, hash);
	route_request(&f, c->req, linelen, &p);
	reply_start(c, &p);
}

/*
 * Read until the first CRLF; bytes after it are never looked at (an
 * upload's body excepted: they are its first).  Into the worker's
 * buffer first: a connection that sends nothing (10,000 of them, say)
 * then holds no request buffer of its own.
 */
static int
read_request(struct conn *c)
{
	static char	buf[REQUEST_MAX];
	ssize_t		end;
	int		r;

	for (;;) {
		r = SSL_read(c->ssl, buf, (int)(REQUEST_MAX - c->reqlen));
		if (r <= 0)
			return ssl_wait(c, r);
		if (c->req == NULL && (c->req = malloc(REQUEST_MAX)) == NULL)
			return -1;
		memcpy(c->req + c->reqlen, buf, r);
		c->reqlen += r;
		end = request_find_end(c->req, c->reqlen);
		if (end > 0) {
			request_ready(c, (size_t)end);
			return 1;
		}
		if (end < 0) {
			c->linelen = c->reqlen;
			c->unread = 1;	/* the rest of it may still come */
			reply_header(c, 59, "Request line too long: the URL is "
			    "at most 1024 bytes");
			return 1;
		}
	}
}

/* A stream's header, before anything is sent; 1 done, 0 wait, -1 gone. */
static int
read_header(struct conn *c)
{
	struct reply		*rp = c->rp;
	struct plan_wait	 w;
	char			 meta[URL_MAX + 1];
	int			 status;

	if (rp->stream->header(rp->job, elapsed_ms(c), &status, meta, &w) == 0)
		return stream_wait(c, &w);
	if (status < 20 || status > 29)
		stream_end(c);	/* no body may follow: stop it */
	reply_header(c, status, meta);
	return 1;
}

/* After a failed SSL_read of an upload: wait as OpenSSL asks, or -1. */
static int
sink_client_wait(struct conn *c, int r, const struct plan_wait *w)
{
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		sink_wait(c, -1, EV_READ, w);
		return 0;
	case SSL_ERROR_WANT_WRITE:
		sink_wait(c, -1, EV_WRITE, w);
		return 0;
	default:
		ERR_clear_error();
		return -1;
	}
}

/*
 * Client -> sink until the body is all passed on, or the sink takes no
 * more: 1 then, 0 waiting, -1 the client is gone.
 */
static int
sink_feed(struct conn *c)
{
	struct reply		*rp = c->rp;
	struct plan_wait	 w;
	ssize_t			 n;
	int			 r;

	for (;;) {
		while (rp->outoff < rp->outlen) {
			n = rp->sink->write(rp->job, rp->out + rp->outoff,
			    rp->outlen - rp->outoff, elapsed_ms(c), &w);
			if (n == 0) {
				sink_wait(c, w.fd, ev_of(w.events), &w);
				return 0;
			}
			if (n < 0)
				return 1;	/* it said no: its answer why */
			rp->outoff += (size_t)n;
		}
		if (rp->sinkleft == 0)
			return 1;
		if ((r = rp->sink->ready(rp->job, elapsed_ms(c), &w)) < 0)
			return 1;
		if (r == 0) {
			sink_wait(c, w.fd, ev_of(w.events), &w);
			return 0;
		}
		r = SSL_read(c->ssl, rp->out, rp->sinkleft < (long long)
		    rp->outcap ? (int)rp->sinkleft : (int)rp->outcap);
		if (r <= 0)
			return sink_client_wait(c, r, &w);
		rp->outlen = (size_t)r;
		rp->outoff = 0;
		rp->sinkleft -= r;
	}
}

/* An upload: the body to the sink, then its answer as the header. */
static int
sink_step(struct conn *c)
{
	struct reply		*rp = c->rp;
	struct plan_wait	 w;
	char			 meta[URL_MAX + 1];
	int			 r, status;

	if (!rp->answering) {
		if ((r = sink_feed(c)) != 1)
			return r;
		also_watch(c, -1);
		rp->answering = 1;
	}
	if (rp->sink->answer(rp->job, elapsed_ms(c), &status, meta, &w) ==
	    0) {
		sink_wait(c, w.fd, ev_of(w.events), &w);
		return 0;
	}
	rp->outlen = rp->outoff = 0;
	reply_header(c, status, meta);
	return 1;
}

/*
 * Top up the output buffer from the body; 0 when nothing is left (a
 * stream that has more to come sets *w).
 */
static size_t
fill_out(struct conn *c, struct plan_wait *w)
{
	struct reply	*rp = c->rp;
	char		 logaddr[LOGFMT_ADDR_MAX];
	size_t		 room, n;
	ssize_t		 r;
	int		 cut;

	if (rp->outoff == rp->outlen)
		rp->outoff = rp->outlen = 0;
	room = rp->outcap - rp->outlen;
	if (room > 0 && rp->mem != NULL && rp->memoff < rp->memlen) {
		n = rp->memlen - rp->memoff < room ? rp->memlen - rp->memoff :
		    room;
		memcpy(rp->out + rp->outlen, rp->mem + rp->memoff, n);
		rp->memoff += n;
		rp->outlen += n;
	} else if (room > 0 && rp->fd != -1 && rp->fileleft > 0) {
		n = (off_t)room < rp->fileleft ? room : (size_t)rp->fileleft;
		r = read(rp->fd, rp->out + rp->outlen, n);
		if (r <= 0) {
			/* the file shrank or failed under us: stop here */
			log_warnx("%s: %s while sending; cut",
			    conn_logaddr(c, logaddr), r < 0 ? strerror(errno) :
			    "file shrank");
			c->cut = 1;
			rp->fileleft = 0;
		} else {
			rp->fileleft -= r;
			rp->outlen += r;
		}
	} else if (room > 0 && rp->stream != NULL) {
		r = rp->stream->read(rp->job, rp->out + rp->outlen, room,
		    elapsed_ms(c), &cut, w);
		if (r > 0)
			rp->outlen += r;
		else if (r < 0) {
			c->cut |= cut;
			stream_end(c);
		}
	}
	return rp->outlen - rp->outoff;
}

/* Write header and body; 1 when all is sent, 0 waiting, -1 failed. */
static int
write_reply(struct conn *c)
{
	struct reply		*rp = c->rp;
	struct plan_wait	 w = { -1, PLAN_READ, -1, 0 };
	int			 r, burst;

	for (burst = 0; burst < WRITE_BURST; burst++) {
		if (fill_out(c, &w) == 0) {
			if (rp->stream == NULL)
				return 1;
			return stream_wait(c, &w);  /* it has more */
		}
		/*
		 * A file's records leave in full-sized segments (64 KB on
		 * lo) instead of one each, pushed by the burst's last write
		 * or the close; a stream's output goes as it comes.
		 */
		netbio_more(c->nb, rp->stream == NULL &&
		    burst < WRITE_BURST - 1);
		r = SSL_write(c->ssl, rp->out + rp->outoff,
		    (int)(rp->outlen - rp->outoff));
		if (r <= 0)
			return ssl_wait(c, r) == 0 ? 0 : -1;
		rp->outoff += r;
		rp->sent += r;
	}
	conn_wait(c, EV_WRITE);		/* let other connections run */
	return 0;
}

static void
conn_timeout(struct conn *c)
{
	struct reply	*rp = c->rp;
	char		 meta[URL_MAX + 1];
	int		 status;

	switch (c->state) {
	case C_REQUEST:
		/* handshake done, no complete request line in time */
		metrics_timeout(METRICS_TIMEOUT_REQUEST);
		reply_header(c, 59, "Request timeout: no complete request "
		    "line");
		break;
	case C_HEADER:
		break;		/* the stream knows its deadline: ask it */
	case C_SINK:
		if (rp->sink->expire(rp->job, elapsed_ms(c), rp->on_client,
		    &status, meta) == 1) {
			metrics_timeout(METRICS_TIMEOUT_UPLOAD);
			also_watch(c, -1);
			rp->outlen = rp->outoff = 0;
			reply_header(c, status, meta);
		}
		break;
	case C_REPLY:
		if (rp->on_stream)
			break;	/* its wait, not the client's: ask it too */
		/* FALLTHROUGH */
	default:
		/* a response that stops here is incomplete: the log says cut */
		if (c->state == C_REPLY)
			c->cut = 1;
		if (c->state != C_LINGER)	/* a linger's end is no fault */
			metrics_timeout(c->state < C_REQUEST ?
			    METRICS_TIMEOUT_HANDSHAKE :
			    METRICS_TIMEOUT_RESPONSE);
		conn_close(c);
		return;
	}
	conn_step(c);
}

/*
 * The end: what netbio holds goes out, then the close, lingering first
 * when the client still sends (linger.c says why).
 */
static void
conn_finish(struct conn *c)
{
	int	r;

	if (c->state != C_LINGER) {
		c->state = C_FLUSH;
		if ((r = netbio_flush(c->nb, 1)) == 0) {
			conn_wait(c, EV_WRITE);
			return;
		}
		if (r == -1 || c->rp == NULL || linger_start(c->fd,
		    &c->rp->linger, c->unread, elapsed_ms(c)) == 0) {
			conn_close(c);
			return;
		}
		c->state = C_LINGER;
	}
	if (linger_drain(c->fd, &c->rp->linger, elapsed_ms(c)) == 0)
		conn_wait(c, EV_READ);
	else
		conn_close(c);
}

/*
 * A proxy listener: the client's address and the address it connected
 * to, from the balancer's header, replace the balancer's.  1 done, 0
 * waiting, -1 refuse.
 */
static int
proxy_read(struct conn *c)
{
	struct proxy_hdr	*h = &c->pin->h;
	struct sockaddr_storage	 src;
	socklen_t		 srclen = sizeof(src);
	char			 laddr[CONN_ADDR_MAX], logaddr[LOGFMT_ADDR_MAX];
	int			 r, port;

	if ((r = proxy_in_read(c->fd, c->pin)) == 0)
		conn_wait(c, EV_READ);
	if (r == PROXY_IN_BAD)
		log_info("%s: no valid PROXY header on a proxy listener; "
		    "closed", conn_logaddr(c, logaddr));
	if (r != 1)
		return r < 0 ? -1 : 0;
	if (h->has_addr) {
		conn_addr(&h->src, c->addr, &port);
		c->port = (unsigned short)port;
		conn_addr(&h->dst, laddr, &port);
		c->lport = (unsigned short)port;
		if ((c->laddr = strdup(laddr)) == NULL)
			return -1;
		c->own_laddr = 1;
		src = h->src;
		srclen = h->srclen;
	} else if (getpeername(c->fd, (struct sockaddr *)&src,
	    &srclen) == -1)
		return -1;
	/*
	 * UNKNOWN (v1) or LOCAL (v2) names no client: the balancer's own
	 * connection (a health check), or one it cannot describe.  It is
	 * counted under the balancer's address, so max_per_client and
	 * rate_limit still hold.
	 */
	if ((c->lslot = shared_limits_open((const struct sockaddr *)&src,
	    srclen, env.cf->max_per_client, now_ms())) == LIMIT_REFUSED) {
		c->lslot = LIMIT_UNTRACKED;
		env.refused();
		return -1;
	}
	free(c->pin);
	c->pin = NULL;
	return 1;
}

static void
conn_step(struct conn *c)
{
	int	r;

	for (;;) {
		switch (c->state) {
		case C_PROXY:
			if ((r = proxy_read(c)) == -1)
				conn_close(c);
			if (r != 1)
				return;
			c->state = C_HANDSHAKE;
			break;
		case C_HANDSHAKE:
			if ((r = SSL_do_handshake(c->ssl)) != 1) {
				if (ssl_wait(c, r) == -1) {
					metrics_handshake(METRICS_TLS_FAILED);
					conn_close(c);
				}
				return;
			}
			metrics_handshake(SSL_session_reused(c->ssl) ?
			    METRICS_TLS_RESUMED : METRICS_TLS_FULL);
			c->state = C_REQUEST;
			break;
		case C_REQUEST:
			if ((r = read_request(c)) == -1)
				conn_close(c);
			if (r != 1)
				return;
			break;
		case C_HEADER:
			if ((r = read_header(c)) == -1)
				conn_close(c);
			if (r != 1)
				return;
			break;
		case C_SINK:
			if ((r = sink_step(c)) == -1)
				conn_close(c);
			if (r != 1)
				return;
			break;
		case C_REPLY:
			if ((r = write_reply(c)) == -1)
				conn_close(c);
			if (r != 1)
				return;
			/*
			 * close_notify says the response is whole (Gemini:
			 * without it, a client must take the body as cut
			 * short); a cut body ends with a bare close instead.
			 */
			c->state = c->cut ? C_FLUSH : C_SHUTDOWN;
			break;
		case C_SHUTDOWN:
			if ((r = SSL_shutdown(c->ssl)) < 0) {
				if (ssl_wait(c, r) == -1)
					conn_close(c);
				return;
			}
			conn_finish(c);
			return;
		case C_FLUSH:
		case C_LINGER:
			conn_finish(c);
			return;
		}
	}
}

/*
 * The request as the log shows it: the plan's words for it (an upload
 * that began), else the line as sent, but never a Titan line's token,
 * a secret (and such a line, answered before a body, is a refusal).
 */
static void
entry_request(const struct conn *c, struct access_entry *e,
    char buf[REQUEST_MAX + 1])
{
	const struct reply	*rp = c->rp;
	size_t			 len;

	if (rp != NULL && rp->log_request != NULL) {
		e->request = rp->log_request;
		e->reqlen = strlen(rp->log_request);
		return;
	}
	e->request = c->req;
	e->reqlen = c->linelen >= 2 ? c->linelen - 2u : c->reqlen;
	if (c->req == NULL || !titan_is(c->req, e->reqlen))
		return;
	len = e->reqlen > REQUEST_MAX ? REQUEST_MAX : e->reqlen;
	e->reqlen = titan_redact(c->req, len, buf);
	e->request = buf;
	e->kind = ENTRY_TITAN_REFUSED;
}

/*
 * The one access-log line of a connection that had a request, and what
 * the metrics count of it.
 */
static void
conn_log(const struct conn *c)
{
	const struct reply	*rp = c->rp;
	struct access_entry	 e;
	char			 logaddr[LOGFMT_ADDR_MAX];
	char			 redacted[REQUEST_MAX + 1];
	unsigned char		 hash[32];

	memset(&e, 0, sizeof(e));
	e.addr = conn_logaddr(c, logaddr);
	e.host = rp != NULL && rp->host != NULL ? rp->host->name : "";
	e.hostid = rp != NULL && rp->host != NULL ?
	    (int)(rp->host - env.cf->hosts) : -1;
	if (rp != NULL)
		e.kind = rp->log_kind;
	entry_request(c, &e, redacted);
	e.status = c->status;
	if (rp != NULL) {
		e.meta = rp->meta;
		e.bytes = rp->sent;
		e.header = rp->sent < rp->hdrlen ? rp->sent : rp->hdrlen;
		e.user = rp->log_user;
		e.upstream = rp->upstream;
	}
	e.msec = elapsed_ms(c);
	e.cut = c->cut;
	e.tls = SSL_is_init_finished(c->ssl) ? SSL_get_version(c->ssl) : NULL;
	e.resumed = SSL_session_reused(c->ssl);
	/* a fingerprint tracks a reader: only where a list looked at it */
	if ((env.cf->log_ip == LOG_IP_FULL || (rp != NULL &&
	    rp->cert_checked)) && tls_client_hash(c->ssl, hash) == 0)
		e.cert = hash;
	log_access(&e);
	metrics_access(&e);
}

static void
conn_close(struct conn *c)
{
	event_del(&c->ev);
	if (c->state >= C_REQUEST || c->status != 0)
		conn_log(c);
	/*
	 * What netbio still holds goes out now, in one try that never
	 * waits: after a failed handshake it is the alert that says why,
	 * which the client would otherwise never see (a bare EOF).
	 */
	(void)netbio_flush(c->nb, 1);
	LIST_REMOVE(c, entry);
	if (c->rp != NULL)
		reply_free(c->rp);
	SSL_free(c->ssl);
	close(c->fd);
	free(c->pin);
	free(c->req);
	if (c->own_laddr)
		free((char *)c->laddr);
	shared_limits_close(c->lslot);
	free(c);
	nconns--;
	env.count(nconns, 1);
}

void
conn_start(int fd, const struct sockaddr_storage *ss, const char *laddr,
    int lport, int proxy, int lslot)
{
	struct conn	*c;
	BIO		*bio = NULL;
	int		 port;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (proxy && (c->pin = calloc(1, sizeof(*c->pin))) == NULL) ||
	    (c->ssl = SSL_new(env.tls->ctx[0])) == NULL ||
	    (bio = netbio_new(fd)) == NULL) {
		if (c != NULL) {
			SSL_free(c->ssl);
			free(c->pin);
		}
		free(c);
		close(fd);
		shared_limits_close(lslot);
		return;
	}
	SSL_set_bio(c->ssl, bio, bio);
	c->nb = bio;
	SSL_set_accept_state(c->ssl);
	/* set now: a connection can fail (and be closed) before any wait */
	event_set(&c->ev, fd, EV_READ, conn_event, c);
	c->fd = fd;
	c->lslot = lslot;
	c->state = proxy ? C_PROXY : C_HANDSHAKE;
	c->start = now_ms();
	conn_addr(ss, c->addr, &port);
	c->port = (unsigned short)port;
	c->laddr = laddr;
	c->lport = (unsigned short)lport;
	LIST_INSERT_HEAD(&conns, c, entry);
	nconns++;
	env.count(nconns, 0);
	conn_step(c);
}

void
conn_cut_all(void)
{
	struct conn	*c;

	while ((c = LIST_FIRST(&conns)) != NULL) {
		/*
		 * cut: an exchange under way, a response not yet ended by
		 * close_notify (a connection that sent no request yet, or
		 * was answered whole, lost nothing)
		 */
		if (c->state == C_HEADER || c->state == C_SINK ||
		    (c->status != 0 && c->state < C_FLUSH))
			c->cut = 1;
		conn_close(c);
	}
}
