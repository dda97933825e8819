/*
 * server.c: the worker's event loop and the connection state machine.
 *
 * One libevent loop per worker process over many connections.  Each
 * connection has a single event, re-armed for whatever OpenSSL wants
 * next (read or write) with the time left before its deadline: the
 * handshake and request line share request_timeout; once a response has
 * started, every wait for the client gets write_timeout.  Nothing here
 * ever blocks on a client.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "cgi.h"
#include "cgijob.h"
#include "config.h"
#include "conn.h"
#include "limit.h"
#include "linger.h"
#include "log.h"
#include "memstat.h"
#include "netbio.h"
#include "proxyin.h"
#include "request.h"
#include "sandbox.h"
#include "server.h"
#include "shared.h"
#include "titan.h"
#include "tlsctx.h"
#include "upload.h"
#include "url.h"

#define OUTBUF_SIZE	16384	/* one TLS record of header and body */
#define FILE_OUTBUF	65536	/* a bigger file: a quarter of the read(2)s */
#define ACCEPT_BATCH	32	/* accepts per wake-up */
#define WRITE_BURST	16	/* records per turn, so big files share */
#define ADDR_MAX	(INET6_ADDRSTRLEN + 1)
#define REFUSED_REPORT	10	/* seconds between "refused" log lines */

enum conn_state {
	C_PROXY,	/* a "proxy" listener: reading the PROXY header */
	C_HANDSHAKE,	/* TLS handshake */
	C_REQUEST,	/* reading the request line */
	C_CGI_HEADER,	/* reading and checking a CGI script's header */
	C_UPLOAD,	/* a Titan body, to the writer (upload.c) */
	C_REPLY,	/* writing header and body */
	C_SHUTDOWN,	/* sending close_notify */
	C_FLUSH,	/* the last bytes held by netbio are going out */
	C_LINGER,	/* draining what the client still sends, then close */
};

struct conn {
	LIST_ENTRY(conn)	 entry;		/* the worker's open ones */
	int			 fd;
	SSL			*ssl;
	BIO			*nb;		/* ours (not SSL_get_wbio) */
	struct event		 ev;
	enum conn_state		 state;
	struct timespec		 start;
	int			 listener;	/* index into listeners */
	int			 lslot;		/* per-client limits slot */
	char			 addr[ADDR_MAX];	/* the client */
	int			 port;
	char			 laddr[ADDR_MAX];	/* what it connected to */
	int			 lport;
	struct proxy_in		 pin;		/* C_PROXY */
	const struct host_cfg	*host;
	int			 rootfd;

	char			*req;		/* REQUEST_MAX, once bytes came */
	size_t			 reqlen;	/* bytes received */
	size_t			 linelen;	/* request line incl. CRLF */

	int			 status;	/* 0 until conn_reply */
	unsigned long long	 sent;

	char			*out;		/* pending bytes */
	size_t			 outcap, outlen, outoff;
	int			 bodyfd;	/* -1 when none */
	off_t			 bodyleft;
	char			*mem;		/* generated body */
	size_t			 memlen, memoff;
	struct cgi_job		*cgi;		/* a script's output, or NULL */
	int			 has_client_cert;
	unsigned char		 client_hash[32];
	int			 truncated;	/* the body was cut short */
	struct linger_state	 linger;	/* C_LINGER */
	int			 unread;	/* the request line was not */
	struct upload		*up;		/* a Titan upload, or NULL */
};

struct listener {
	int		fd;
	int		proxy;		/* a PROXY header comes first */
	int		port;
	char		addr[ADDR_MAX];
	struct event	ev;
};

LIST_HEAD(conn_list, conn);
static struct conn_list		 conns = LIST_HEAD_INITIALIZER(conns);
static size_t			 nconns;
static const struct config	*cf;
static struct tls		*tls;
static const int		*rootfds;
static struct listener		*listeners;
static size_t			 nlisteners;
static int			 stopping;	/* retired: no more accepts */
static int			 accepting;
static struct event		 ev_sigterm, ev_sigusr2, ev_accept_pause, ev_stop,
				 ev_refused;
static int			 spare_fd = -1;	/* given up to accept on EMFILE */
static unsigned long		 refused_client, refused_full;
static int			 emfile_said;	/* this report period */

static void	conn_step(struct conn *);
static void	conn_close(struct conn *);
static void	accept_pause(void);
static void	conn_timeout(struct conn *);
static void	publish(void);
static int	admit(const struct sockaddr *, socklen_t);
static void	note_refused(unsigned long *);

static long
elapsed_ms(const struct timespec *since)
{
	struct timespec	now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1000 +
	    (now.tv_nsec - since->tv_nsec) / 1000000;
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

static void
conn_wait_fd(struct conn *c, int fd, short what, long left)
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
 * Wait for the socket to be readable or writable, bounded in time.  A
 * client gone (flush -1) is seen by the next step: the socket is
 * writable at once and every SSL call on it fails from then on.
 */
static void
conn_wait(struct conn *c, short what)
{
	long	left;

	if (conn_flush(c) != 1)
		what = EV_WRITE;
	if (c->state <= C_REQUEST)
		left = (long)cf->request_timeout * 1000 - elapsed_ms(&c->start);
	else if (c->state == C_LINGER)
		left = c->linger.end - elapsed_ms(&c->start);
	else
		left = (long)cf->write_timeout * 1000;
	conn_wait_fd(c, c->fd, what, left);
}

/*
 * Wait for the script's output (or for the runner to say how it
 * ended).  The runner kills it at the deadline, which ends the pipe.
 * -1 when the client has gone: the caller closes, and the runner kills
 * the script.
 */
static int
conn_wait_pipe(struct conn *c)
{
	long	left;
	int	r, fd;

	if ((r = conn_flush(c)) != 1) {
		if (r == 0)
			conn_wait(c, EV_WRITE);
		return r;
	}
	fd = cgi_job_wait(c->cgi, elapsed_ms(&c->start), &left);
	conn_wait_fd(c, fd, EV_READ, left);
	return 0;
}

/* The runner says the script has ended: see what is left to read. */
static void
cgi_event(int fd, short what, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)what;
	event_del(&c->ev);
	conn_step(c);
}

const struct conn_info *
conn_info(const struct conn *c)
{
	static struct conn_info	 info;
	static char		 sni[URL_HOST_MAX + 1];
	const char		*name;

	memset(&info, 0, sizeof(info));
	info.cf = cf;
	info.host = c->host;
	info.rootfd = c->rootfd;
	/* a name that has no canonical form stays as sent: it never matches */
	name = SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name);
	if (name != NULL)
		info.sni = url_host_canonical(name, sni, sizeof(sni)) == 0 ?
		    sni : name;
	info.peer_addr = c->addr;
	info.peer_port = c->port;
	info.local_addr = c->laddr;
	info.local_port = c->lport;
	info.ssl = c->ssl;
	info.has_client_cert = c->has_client_cert;
	info.client_hash = c->has_client_cert ? c->client_hash : NULL;
	return &info;
}

void
conn_set_host(struct conn *c, const struct host_cfg *h)
{
	c->host = h;
	c->rootfd = rootfds[h - cf->hosts];
}

void
conn_reply(struct conn *c, int status, const char *meta)
{
	if (c->status != 0)
		return;		/* one header per connection, ever */
	if (status < 10 || status > 69) {
		log_warnx("internal: status %d is not a Gemini status", status);
		status = 40;
		meta = "Internal error";
	}
	if (c->out == NULL && (c->out = malloc(OUTBUF_SIZE)) == NULL) {
		c->status = status;
		c->state = C_SHUTDOWN;
		return;
	}
	c->outcap = OUTBUF_SIZE;
	c->status = status;
	c->outlen = request_header(c->out, status, meta);
	c->outoff = 0;
	c->state = C_REPLY;
}

void
conn_body_fd(struct conn *c, int fd, off_t size)
{
	char	*big;

	if (c->status < 20 || c->status > 29 || c->bodyfd != -1) {
		close(fd);
		return;
	}
	c->bodyfd = fd;
	c->bodyleft = size;
	if (size > OUTBUF_SIZE && (big = realloc(c->out, FILE_OUTBUF)) != NULL) {
		c->out = big;
		c->outcap = FILE_OUTBUF;
	}
}

void
conn_body_mem(struct conn *c, char *mem, size_t len)
{
	if (c->status < 20 || c->status > 29 || c->mem != NULL) {
		free(mem);
		return;
	}
	c->mem = mem;
	c->memlen = len;
	c->memoff = 0;
}

/* Stop reading the script; closing the control socket kills its group. */
static void
cgi_end(struct conn *c)
{
	cgi_job_free(c->cgi);
	c->cgi = NULL;
}

void
conn_cgi(struct conn *c, int outfd, int ctlfd, const char *script,
    int timeout, long max_output)
{
	c->cgi = cgi_job_new(outfd, ctlfd, script, c->addr,
	    elapsed_ms(&c->start) + timeout * 1000L, max_output, cgi_event, c);
	if (c->cgi == NULL)
		cgi_finished();
	if (c->out == NULL && (c->out = malloc(OUTBUF_SIZE)) == NULL)
		cgi_end(c);
	if (c->cgi == NULL) {
		conn_reply(c, 42, "Out of memory");
		return;
	}
	c->outcap = OUTBUF_SIZE;
	c->state = C_CGI_HEADER;
}

/* Top up the output buffer from the body; 0 when nothing is left. */
static size_t
fill_out(struct conn *c)
{
	size_t	room, n;
	ssize_t	r;
	int	cut;

	if (c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
	room = c->outcap - c->outlen;
	if (room > 0 && c->mem != NULL && c->memoff < c->memlen) {
		n = c->memlen - c->memoff < room ? c->memlen - c->memoff : room;
		memcpy(c->out + c->outlen, c->mem + c->memoff, n);
		c->memoff += n;
		c->outlen += n;
	} else if (room > 0 && c->bodyfd != -1 && c->bodyleft > 0) {
		n = (off_t)room < c->bodyleft ? room : (size_t)c->bodyleft;
		r = read(c->bodyfd, c->out + c->outlen, n);
		if (r <= 0) {
			/* the file shrank or failed under us: stop here */
			log_warnx("%s: %s while sending; cut", c->addr,
			    r < 0 ? strerror(errno) : "file shrank");
			c->truncated = 1;
			c->bodyleft = 0;
		} else {
			c->bodyleft -= r;
			c->outlen += r;
		}
	} else if (room > 0 && c->cgi != NULL) {
		r = cgi_job_read(c->cgi, c->out + c->outlen, room,
		    elapsed_ms(&c->start), &cut);
		if (r > 0)
			c->outlen += r;
		else if (r < 0) {
			c->truncated |= cut;
			cgi_end(c);
		}
	}
	return c->outlen - c->outoff;
}

static void
conn_timeout(struct conn *c)
{
	if (c->state == C_UPLOAD) {
		upload_timeout(c, c->up);
		conn_step(c);
		return;
	}
	if (c->state == C_CGI_HEADER) {
		log_warnx("%s: CGI script timed out before its header",
		    c->addr);
		cgi_end(c);
		conn_reply(c, 42, "CGI script timed out");
		conn_step(c);
		return;
	}
	if (c->state == C_REQUEST) {
		/* handshake done, no complete request line in time */
		conn_reply(c, 59, "Request timeout: no complete request line");
		conn_step(c);
		return;
	}
	conn_close(c);
}

/* After a failed SSL call: wait as OpenSSL asks, or give up. */
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

static void
handshake_done(struct conn *c)
{
	if (tls_client_hash(c->ssl, c->client_hash) == 0)
		c->has_client_cert = 1;
	c->state = C_REQUEST;
}

static void
request_ready(struct conn *c, size_t linelen)
{
	struct request		 r;
	struct titan_params	 tp;
	const char		*why;
	int			 status;

	c->linelen = linelen;
	if (titan_request_parse(c->req, linelen, &r, &tp, &status,
	    &why) == -1) {
		conn_reply(c, status, why);
		return;
	}
	route_request(c, &r);
	if (c->status == 0 && c->state != C_CGI_HEADER &&
	    c->state != C_UPLOAD)
		conn_reply(c, 51, "Not found");
}

size_t
conn_upload(struct conn *c, struct upload *u, const char **pending)
{
	c->up = u;
	c->state = C_UPLOAD;
	*pending = c->req + c->linelen;
	return c->reqlen - c->linelen;
}

/* Each wait of an upload has request_timeout: a stall leaves nothing. */
void
conn_wait_upload(struct conn *c, int fd, short what)
{
	if (conn_flush(c) != 1) {
		fd = c->fd;
		what = EV_WRITE;
	} else if (fd == -1)
		fd = c->fd;
	conn_wait_fd(c, fd, what, (long)cf->request_timeout * 1000);
}

/*
 * Read until the first CRLF; bytes after it are never looked at.  Into
 * the worker's buffer first: a connection that sends nothing (10,000 of
 * them, say) then holds no request buffer of its own.
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
			conn_reply(c, 59, "Request line too long: the URL is "
			    "at most 1024 bytes");
			return 1;
		}
	}
}

/* Read the script's header line and check it before replying; 1 when
 * done, 0 waiting for more, -1 when the client has gone. */
static int
read_cgi_header(struct conn *c)
{
	char		 meta[URL_MAX + 1];
	const char	*why;
	int		 status;

	if (cgi_job_header(c->cgi, elapsed_ms(&c->start), &status, meta,
	    &why) == 0)
		return conn_wait_pipe(c);
	if (why != NULL) {
		cgi_end(c);
		conn_reply(c, 42, why);
		return 1;
	}
	conn_reply(c, status, meta);
	if (status < 20 || status > 29)
		cgi_end(c);	/* no body may follow: stop the script */
	return 1;
}

/* Write header and body; 1 when all is sent, 0 waiting, -1 failed. */
static int
write_reply(struct conn *c)
{
	int	r, burst;

	for (burst = 0; burst < WRITE_BURST; burst++) {
		if (fill_out(c) == 0) {
			if (c->cgi == NULL)
				return 1;
			return conn_wait_pipe(c);  /* the script has more */
		}
		/*
		 * A file's records leave in full-sized segments (64 KB on
		 * lo) instead of one each, pushed by the burst's last write
		 * or the close; a script's output goes as it comes.
		 */
		netbio_more(c->nb, c->cgi == NULL &&
		    burst < WRITE_BURST - 1);
		r = SSL_write(c->ssl, c->out + c->outoff,
		    (int)(c->outlen - c->outoff));
		if (r <= 0)
			return ssl_wait(c, r) == 0 ? 0 : -1;
		c->outoff += r;
		c->sent += r;
	}
	conn_wait(c, EV_WRITE);		/* let other connections run */
	return 0;
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
		if (r == -1 || linger_start(c->fd, &c->linger, c->unread,
		    elapsed_ms(&c->start)) == 0) {
			conn_close(c);
			return;
		}
		c->state = C_LINGER;
	}
	if (linger_drain(c->fd, &c->linger, elapsed_ms(&c->start)) == 0)
		conn_wait(c, EV_READ);
	else
		conn_close(c);
}

static void
peer_name(const struct sockaddr_storage *ss, char *addr, int *port)
{
	const struct sockaddr_in	*sin = (const void *)ss;
	const struct sockaddr_in6	*sin6 = (const void *)ss;

	if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &sin6->sin6_addr, addr, ADDR_MAX);
		*port = ntohs(sin6->sin6_port);
	} else {
		inet_ntop(AF_INET, &sin->sin_addr, addr, ADDR_MAX);
		*port = ntohs(sin->sin_port);
	}
}

/*
 * A proxy listener: the client's address and the address it connected
 * to, from the balancer's header, replace the balancer's.  1 done, 0
 * waiting, -1 refuse.
 */
static int
proxy_read(struct conn *c)
{
	struct proxy_hdr	*h = &c->pin.h;
	int			 r;

	if ((r = proxy_in_read(c->fd, &c->pin)) == 0)
		conn_wait(c, EV_READ);
	if (r == PROXY_IN_BAD)
		log_info("%s: no valid PROXY header on a proxy listener; "
		    "closed", c->addr);
	if (r != 1)
		return r < 0 ? -1 : 0;
	if (h->has_addr) {
		peer_name(&h->src, c->addr, &c->port);
		peer_name(&h->dst, c->laddr, &c->lport);
		if ((c->lslot = admit((const struct sockaddr *)&h->src,
		    h->srclen)) == LIMIT_REFUSED) {
			c->lslot = LIMIT_UNTRACKED;
			note_refused(&refused_client);
			return -1;
		}
	}
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
				if (ssl_wait(c, r) == -1)
					conn_close(c);
				return;
			}
			handshake_done(c);
			break;
		case C_REQUEST:
			if ((r = read_request(c)) == -1)
				conn_close(c);
			if (r != 1)
				return;
			break;
		case C_CGI_HEADER:
			if ((r = read_cgi_header(c)) == -1)
				conn_close(c);
			if (r != 1)
				return;
			break;
		case C_UPLOAD:
			if ((r = upload_step(c, c->up)) == -1)
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
			c->state = c->truncated ? C_FLUSH : C_SHUTDOWN;
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

static void
conn_close(struct conn *c)
{
	struct access_entry	e;

	event_del(&c->ev);
	if (c->state >= C_REQUEST || c->status != 0) {
		memset(&e, 0, sizeof(e));
		e.addr = c->addr;
		e.host = c->host ? c->host->name : "";
		e.request = c->req;
		e.reqlen = c->linelen >= 2 ? c->linelen - 2 : c->reqlen;
		e.status = c->status;
		e.bytes = c->sent;
		e.msec = elapsed_ms(&c->start);
		e.cut = c->truncated;
		upload_log(c->up, &e);
		log_access(&e);
	}
	/*
	 * What netbio still holds goes out now, in one try that never
	 * waits: after a failed handshake it is the alert that says why,
	 * which the client would otherwise never see (a bare EOF).
	 */
	(void)netbio_flush(c->nb, 1);
	LIST_REMOVE(c, entry);
	SSL_free(c->ssl);
	close(c->fd);
	if (c->bodyfd != -1)
		close(c->bodyfd);
	cgi_end(c);
	upload_free(c->up);
	free(c->mem);
	free(c->out);
	free(c->req);
	shared_limits_close(c->lslot);
	free(c);
	nconns--;
	publish();
	if (stopping && nconns == 0)
		event_loopexit(NULL);
	else if (!accepting && !stopping)
		accept_pause();		/* maybe room again */
}

static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
refused_report(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	log_warnx("refused %lu connection(s) in %d s: %lu over max_per_client "
	    "%d, %lu with every worker full or out of descriptors",
	    refused_client + refused_full, REFUSED_REPORT, refused_client,
	    cf->max_per_client, refused_full);
	refused_client = refused_full = 0;
	emfile_said = 0;
}

/* One log line sums refusals up, not one per connection. */
static void
note_refused(unsigned long *counter)
{
	struct timeval	tv = { REFUSED_REPORT, 0 };

	if (refused_client + refused_full == 0)
		evtimer_add(&ev_refused, &tv);
	(*counter)++;
}

/* Close at once. */
static void
refuse(int fd, unsigned long *counter)
{
	close(fd);
	note_refused(counter);
}

/* A client's limits slot, or LIMIT_REFUSED over max_per_client. */
static int
admit(const struct sockaddr *sa, socklen_t len)
{
	return shared_limits_open(sa, len, cf->max_per_client, now_ms());
}

static void
conn_new(int fd, size_t li, const struct sockaddr_storage *ss, socklen_t sslen)
{
	struct conn		*c;
	BIO			*bio = NULL;
	int			 slot = LIMIT_UNTRACKED;

	/* behind a balancer the client is known from the PROXY header */
	if (!listeners[li].proxy && (slot = admit((const struct sockaddr *)ss,
	    sslen)) == LIMIT_REFUSED) {
		refuse(fd, &refused_client);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->ssl = SSL_new(tls->ctx[0])) == NULL ||
	    (bio = netbio_new(fd)) == NULL) {
		if (c != NULL)
			SSL_free(c->ssl);
		free(c);
		close(fd);
		shared_limits_close(slot);
		return;
	}
	SSL_set_bio(c->ssl, bio, bio);
	c->nb = bio;
	SSL_set_accept_state(c->ssl);
	/* set now: a connection can fail (and be closed) before any wait */
	event_set(&c->ev, fd, EV_READ, conn_event, c);
	c->fd = fd;
	c->bodyfd = -1;
	c->rootfd = -1;
	c->lslot = slot;
	c->listener = (int)li;
	c->state = listeners[li].proxy ? C_PROXY : C_HANDSHAKE;
	clock_gettime(CLOCK_MONOTONIC, &c->start);
	peer_name(ss, c->addr, &c->port);
	memcpy(c->laddr, listeners[li].addr, sizeof(c->laddr));
	c->lport = listeners[li].port;
	LIST_INSERT_HEAD(&conns, c, entry);
	nconns++;
	publish();
	conn_step(c);
}

int
conn_rate_wait(struct conn *c)
{
	struct limit_rate	r;

	r.rate = cf->rate_limit;
	r.period = cf->rate_period;
	r.burst = cf->rate_burst;
	return shared_limits_request(c->lslot, &r, now_ms());
}

static void
listeners_enable(int on)
{
	size_t	i;

	accepting = on;
	for (i = 0; i < nlisteners; i++) {
		if (on)
			event_add(&listeners[i].ev, NULL);
		else
			event_del(&listeners[i].ev);
	}
}

/* This worker's count, for the others to see. */
static void
publish(void)
{
	shared_publish(nconns, !stopping &&
	    nconns < (size_t)cf->max_connections);
}

static void
accept_resume(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	if (!stopping && shared_admission(nconns, cf) != SHARED_PAUSE)
		listeners_enable(1);
	else if (!stopping)
		accept_pause();
}

/* Out of descriptors, or full while others have room: wait a moment. */
static void
accept_pause(void)
{
	struct timeval	tv = { 0, 200000 };

	if (accepting)
		listeners_enable(0);
	if (!evtimer_pending(&ev_accept_pause, NULL))
		evtimer_add(&ev_accept_pause, &tv);
}

/*
 * Out of descriptors: the spare one lets us take what waits in the queue
 * off it and close it, so those clients learn at once instead of timing
 * out; then pause.  Said in the log once per report period.
 */
static void
accept_emfile(int lfd, int err)
{
	int	fd, i;

	if (!emfile_said) {
		log_warnx("accept: %s; closing new connections until "
		    "descriptors are free", strerror(err));
		emfile_said = 1;
	}
	for (i = 0; spare_fd != -1 && i < ACCEPT_BATCH; i++) {
		close(spare_fd);
		if ((fd = accept(lfd, NULL, NULL)) != -1)
			refuse(fd, &refused_full);
		spare_fd = fcntl(lfd, F_DUPFD_CLOEXEC, 0);	/* that slot */
		if (fd == -1)
			break;
	}
	accept_pause();
}

static void
accept_cb(int lfd, short ev, void *arg)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	size_t			 li = (struct listener *)arg - listeners;
	enum shared_admit	 a;
	int			 fd, i;

	(void)ev;
	memset(&ss, 0, sizeof(ss));
	for (i = 0; i < ACCEPT_BATCH; i++) {
		if ((a = shared_admission(nconns, cf)) == SHARED_PAUSE) {
			accept_pause();
			return;
		}
		len = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				accept_emfile(lfd, errno);
			return;		/* EAGAIN, ECONNABORTED, ... */
		}
		if (a == SHARED_CLOSE)
			refuse(fd, &refused_full);
		else
			conn_new(fd, li, &ss, len);
	}
}

/*
 * SIGTERM's grace is over: every connection still open is closed now,
 * logged with what it was sent and marked cut (a response not yet
 * ended by close_notify is, to the client, incomplete).
 */
static void
stop_now(int fd, short ev, void *arg)
{
	struct conn	*c;

	(void)fd;
	(void)ev;
	(void)arg;
	if (LIST_EMPTY(&conns))
		event_loopexit(NULL);
	while ((c = LIST_FIRST(&conns)) != NULL) {
		if (c->state < C_FLUSH)
			c->truncated = 1;
		conn_close(c);	/* the last one ends the loop */
	}
}

/*
 * Retired (SIGUSR2: a reload or a log rotation; SIGTERM too): the
 * listening sockets are closed at once, so that a new generation can
 * bind their addresses (or a wider one) and no client waits in a queue
 * that nobody accepts from; the connections open go on, each for as
 * long as it makes progress within its timeouts, and the worker exits
 * after the last.
 */
static void
worker_retire(int sig, short ev, void *arg)
{
	size_t	i;

	(void)sig;
	(void)ev;
	(void)arg;
	if (stopping)
		return;
	stopping = 1;
	publish();
	listeners_enable(0);
	evtimer_del(&ev_accept_pause);
	for (i = 0; i < nlisteners; i++) {
		close(listeners[i].fd);
		listeners[i].fd = -1;
	}
	if (spare_fd != -1)
		close(spare_fd);	/* a copy of a listening socket */
	spare_fd = -1;
	if (nconns == 0)
		event_loopexit(NULL);
}

/* Stop: retire, and cut what is still open after stop_timeout. */
static void
sigterm_cb(int sig, short ev, void *arg)
{
	struct timeval	tv = { cf->stop_timeout, 0 };

	worker_retire(sig, ev, arg);
	if (nconns == 0 || evtimer_pending(&ev_stop, NULL))
		return;
	evtimer_add(&ev_stop, &tv);
}

void
server_worker(const struct config *config, struct tls *t,
    const int *listenfds, const int *roots, int cgi_sock)
{
	struct sockaddr_storage	ss;
	size_t			i;
	int			port;

	cf = config;
	tls = t;
	rootfds = roots;
	cgi_worker_init(cgi_sock);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);	/* the parent turns ^C into SIGTERM */
	event_init();
	nlisteners = cf->nlisten;
	if ((listeners = calloc(nlisteners, sizeof(*listeners))) == NULL)
		_exit(1);
	for (i = 0; i < nlisteners; i++) {
		listeners[i].fd = listenfds[i];
		ss = cf->listen[i].ss;
		peer_name(&ss, listeners[i].addr, &port);
		listeners[i].port = cf->listen[i].port;
		listeners[i].proxy = cf->listen[i].proxy;
		event_set(&listeners[i].ev, listenfds[i], EV_READ | EV_PERSIST,
		    accept_cb, &listeners[i]);
	}
	evtimer_set(&ev_accept_pause, accept_resume, NULL);
	evtimer_set(&ev_refused, refused_report, NULL);
	evtimer_set(&ev_stop, stop_now, NULL);
	spare_fd = fcntl(listenfds[0], F_DUPFD_CLOEXEC, 0);
	publish();
	signal_set(&ev_sigterm, SIGTERM, sigterm_cb, NULL);
	signal_add(&ev_sigterm, NULL);
	signal_set(&ev_sigusr2, SIG_RETIRE, worker_retire, NULL);
	signal_add(&ev_sigusr2, NULL);
	memstat_init();
	listeners_enable(1);
	event_dispatch();
	sandbox_leak_check();
	_exit(0);
}
