/*
 * gemload: a Gemini load generator, for `make bench`.
 *
 * Gemini has no keep-alive: every request is a TCP connection, a TLS
 * handshake, one request line and a response read until close_notify.
 * So this is mostly a TLS handshake generator.  Each thread runs its own
 * non-blocking event loop over its share of the connection slots; the
 * threads share only the request budget and a few flags.
 *
 * It refuses every address outside 127.0.0.0/8 and ::1: it measures our
 * own server on our own machine and must never be pointed at others'.
 */

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#ifdef __linux__
#include <sys/epoll.h>
#endif
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define GEMINI_PORT	1965
#define URL_MAX		1024		/* the spec's limit on a request URL */
#define HDR_MAX		(2 + 1 + 1024 + 2)	/* status SP meta CRLF */
#define READ_CHUNK	16384		/* one TLS record of plaintext */
#define READS_PER_TURN	64		/* then let the other connections run */
#define RAMP		128		/* idle mode: handshakes per thread */
#define MAX_EVENTS	256
#define TICK_MS		100		/* how often to look for timeouts */
#define NS		1000000000ULL

enum err {
	E_NONE = -1,
	E_CONNECT,
	E_HANDSHAKE,
	E_WRITE,
	E_READ,
	E_HEADER,
	E_STATUS,
	E_CLOSE_NOTIFY,
	E_TIMEOUT,
	E_MAX
};

static const char *const err_name[E_MAX] = {
	"connect", "handshake", "write", "read", "header", "status",
	"close_notify", "timeout"
};

enum state {
	S_FREE,
	S_CONNECT,
	S_HANDSHAKE,
	S_WRITE,
	S_READ,
	S_HOLD		/* idle mode: handshake done, nothing sent */
};

/* what a request was doing when it timed out */
static const char *const state_name[] = {
	"free", "timed out connecting", "timed out in the handshake",
	"timed out writing the request", "timed out reading the response",
	"held"
};

#define EV_IN	1
#define EV_OUT	2
#define EV_ERR	4

struct conn {
	int		 fd;
	int		 slot;
	enum state	 state;
	int		 again;		/* on the worker's again list */
	SSL		*ssl;
	SSL_SESSION	*sess;		/* -r: the slot's newest ticket */
	uint64_t	 start;		/* connect() was called, ns */
	int		 hdrdone;
	int		 badstatus;	/* answered, but not with -s */
	size_t		 hdrlen;
	char		 hdr[HDR_MAX];
};

struct stats {
	uint64_t	 tries;		/* requests (idle: connections) begun */
	uint64_t	 ok;
	uint64_t	 err[E_MAX];
	uint64_t	 bytes;		/* plaintext received, header included */
	uint64_t	 handshakes;
	uint64_t	 resumed;
	uint32_t	*lat;		/* µs of each ok request */
	size_t		 nlat;
	size_t		 latcap;
	char		 why[E_MAX][160];	/* the first error of each kind */
};

struct worker {
	pthread_t	 tid;
	SSL_CTX		*ctx;
	struct conn	*conns;
	int		 nconns;
	int		*freel;		/* slots with no connection */
	int		 nfree;
	int		 active;
	struct conn	**again;	/* stopped reading to be fair; resume */
	struct conn	**again2;
	int		 nagain;
	int		 tostart;	/* idle mode: slots never started */
	int		 inflight;	/* idle mode: started, not yet held */
#ifdef __linux__
	int		 ep;
#else
	struct pollfd	*pfd;
#endif
	struct stats	 st;
	char		 buf[READ_CHUNK];
};

static struct {
	int		 conns;
	int		 secs;
	long		 count;
	int		 threads;
	int		 resume;
	int		 status;	/* 0: any status will do */
	int		 idle;
	int		 kv;
	int		 timeout;
	const char	*url;
	const char	*hostarg;	/* -H */
	char		 host[256];	/* of the URL, without brackets */
	char		 sni[256];	/* empty: send none (IP literal) */
	int		 port;
	int		 portgiven;
	const char	*rest;		/* path and query of the URL */
	char		 req[URL_MAX + 3];
	size_t		 reqlen;
	struct sockaddr_storage addr;
	socklen_t	 addrlen;
	char		 addrname[NI_MAXHOST];
} opt;

static volatile sig_atomic_t	 stopping;
static uint64_t			 deadline;	/* ns; 0: none (-n, -i) */
static atomic_long		 budget;	/* -n: requests not yet begun */
static atomic_int		 pending;	/* -i: not yet held or failed */
static atomic_int		 held;		/* -i: connections held now */
static _Atomic uint64_t		 hold_until;	/* -i: ns; 0 while ramping */

static void	conn_drive(struct worker *, struct conn *, int);

static uint64_t
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

/* Event backends: epoll on Linux, poll(2) elsewhere. */

#ifdef __linux__
/*
 * Edge-triggered: a socket is added once, for both directions, and driven
 * until OpenSSL says WANT_READ or WANT_WRITE, which it says only after
 * the socket said EAGAIN.  So no epoll_ctl() on every state change.
 */
static int
ev_init(struct worker *w)
{
	w->ep = epoll_create1(EPOLL_CLOEXEC);
	return w->ep == -1 ? -1 : 0;
}

static int
ev_add(struct worker *w, struct conn *c)
{
	struct epoll_event	ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	ev.data.ptr = c;
	return epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void
ev_want(struct worker *w, struct conn *c, int what)
{
	(void)w;
	(void)c;
	(void)what;
}

static void
ev_del(struct worker *w, struct conn *c)
{
	/* close() takes the socket out of the epoll set */
	(void)w;
	(void)c;
}

static int
ev_wait(struct worker *w, int ms)
{
	struct epoll_event	evs[MAX_EVENTS];
	int			i, n, what;

	if ((n = epoll_wait(w->ep, evs, MAX_EVENTS, ms)) == -1)
		return errno == EINTR ? 0 : -1;
	for (i = 0; i < n; i++) {
		what = 0;
		if (evs[i].events & (EPOLLIN | EPOLLRDHUP))
			what |= EV_IN;
		if (evs[i].events & EPOLLOUT)
			what |= EV_OUT;
		if (evs[i].events & (EPOLLERR | EPOLLHUP))
			what |= EV_ERR;
		conn_drive(w, evs[i].data.ptr, what);
	}
	return 0;
}

static void
ev_free(struct worker *w)
{
	close(w->ep);
}
#else
/* Level-triggered: one pollfd per slot, its events set by ev_want(). */
static int
ev_init(struct worker *w)
{
	int	i;

	if ((w->pfd = calloc(w->nconns, sizeof(*w->pfd))) == NULL)
		return -1;
	for (i = 0; i < w->nconns; i++)
		w->pfd[i].fd = -1;
	return 0;
}

static int
ev_add(struct worker *w, struct conn *c)
{
	w->pfd[c->slot].fd = c->fd;
	w->pfd[c->slot].events = POLLOUT;
	return 0;
}

static void
ev_want(struct worker *w, struct conn *c, int what)
{
	w->pfd[c->slot].events = (what & EV_IN) ? POLLIN : POLLOUT;
}

static void
ev_del(struct worker *w, struct conn *c)
{
	w->pfd[c->slot].fd = -1;
}

static int
ev_wait(struct worker *w, int ms)
{
	int	i, n, what;
	short	re;

	if ((n = poll(w->pfd, w->nconns, ms)) == -1)
		return errno == EINTR ? 0 : -1;
	for (i = 0; i < w->nconns && n > 0; i++) {
		if ((re = w->pfd[i].revents) == 0 || w->pfd[i].fd == -1)
			continue;
		n--;
		what = 0;
		if (re & POLLIN)
			what |= EV_IN;
		if (re & POLLOUT)
			what |= EV_OUT;
		if (re & (POLLERR | POLLHUP | POLLNVAL))
			what |= EV_ERR | EV_IN;
		conn_drive(w, &w->conns[i], what);
	}
	return 0;
}

static void
ev_free(struct worker *w)
{
	free(w->pfd);
}
#endif

/* Results */

static void
lat_add(struct stats *st, uint64_t ns)
{
	uint32_t	*p;
	size_t		 cap;
	uint64_t	 us = ns / 1000;

	if (st->nlat == st->latcap) {
		cap = st->latcap ? st->latcap * 2 : 4096;
		if ((p = realloc(st->lat, cap * sizeof(*p))) == NULL)
			return;		/* a sample fewer, not a failed run */
		st->lat = p;
		st->latcap = cap;
	}
	st->lat[st->nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static void
stats_why(struct stats *st, enum err e, const char *why)
{
	if (st->why[e][0] == '\0')
		snprintf(st->why[e], sizeof(st->why[e]), "%s", why);
}

/* Connections */

static void
conn_keep_session(struct conn *c)
{
	SSL_SESSION	*s;

	if ((s = SSL_get1_session(c->ssl)) == NULL)
		return;
	if (!SSL_SESSION_is_resumable(s)) {
		SSL_SESSION_free(s);
		return;
	}
	SSL_SESSION_free(c->sess);
	c->sess = s;
}

static void
conn_tls_free(struct conn *c, enum err e)
{
	if (c->ssl == NULL)
		return;
	if (SSL_get_shutdown(c->ssl) & SSL_RECEIVED_SHUTDOWN) {
		/*
		 * A clean close.  We do not answer with our own close_notify
		 * (the server has gone), but OpenSSL must think we did, or
		 * SSL_free() marks the session not resumable.
		 */
		SSL_set_shutdown(c->ssl,
		    SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
		if (opt.resume)
			conn_keep_session(c);
	} else if (e == E_HANDSHAKE && c->sess != NULL) {
		/* the server may have refused the ticket: start afresh */
		SSL_SESSION_free(c->sess);
		c->sess = NULL;
	}
	SSL_free(c->ssl);
	c->ssl = NULL;
}

/* Idle mode: one more connection is held or failed on the way. */
static void
idle_settled(void)
{
	if (atomic_fetch_sub(&pending, 1) != 1)
		return;
	atomic_store(&hold_until, now_ns() + (uint64_t)opt.secs * NS);
	/* the driver waits for this line before it measures memory */
	fprintf(stderr, "gemload: holding %d connections for %d s\n",
	    atomic_load(&held), opt.secs);
}

static void
conn_end(struct worker *w, struct conn *c, enum err e)
{
	if (e == E_NONE) {
		w->st.ok++;
		if (!opt.idle)
			lat_add(&w->st, now_ns() - c->start);
	} else
		w->st.err[e]++;
	if (opt.idle) {
		if (c->state == S_HOLD)
			atomic_fetch_sub(&held, 1);
		else {
			w->inflight--;
			idle_settled();
		}
	}
	conn_tls_free(c, e);
	if (c->fd != -1) {
		ev_del(w, c);
		close(c->fd);
		c->fd = -1;
	}
	c->state = S_FREE;
	w->freel[w->nfree++] = c->slot;
	w->active--;
}

static void
conn_fail(struct worker *w, struct conn *c, enum err e, const char *why)
{
	stats_why(&w->st, e, why);
	conn_end(w, c, e);
}

static void
conn_fail_errno(struct worker *w, struct conn *c, enum err e,
    const char *what, int error)
{
	char	why[128];

	snprintf(why, sizeof(why), "%s: %s", what, strerror(error));
	conn_fail(w, c, e, why);
}

/* Did the peer close the socket without close_notify? */
static int
ssl_eof(int sslerr)
{
	if (sslerr == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && errno == 0)
		return 1;
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
	/* OpenSSL 3 reports it as an error of its own */
	if (sslerr == SSL_ERROR_SSL && ERR_GET_REASON(ERR_peek_error()) ==
	    SSL_R_UNEXPECTED_EOF_WHILE_READING)
		return 1;
#endif
	return 0;
}

static void
conn_fail_ssl(struct worker *w, struct conn *c, enum err e, int sslerr)
{
	char		why[128];
	unsigned long	l;

	if ((l = ERR_peek_error()) != 0)
		ERR_error_string_n(l, why, sizeof(why));
	else if (sslerr == SSL_ERROR_SYSCALL && errno != 0)
		snprintf(why, sizeof(why), "%s", strerror(errno));
	else if (sslerr == SSL_ERROR_SYSCALL)
		snprintf(why, sizeof(why), "connection closed");
	else
		snprintf(why, sizeof(why), "SSL_get_error %d", sslerr);
	ERR_clear_error();
	conn_fail(w, c, e, why);
}

/* OpenSSL's answer to r: 0 to wait for the socket, -1 failed (ended). */
static int
conn_want(struct worker *w, struct conn *c, int r, enum err e)
{
	int	sslerr = SSL_get_error(c->ssl, r);

	switch (sslerr) {
	case SSL_ERROR_WANT_READ:
		ev_want(w, c, EV_IN);
		return 0;
	case SSL_ERROR_WANT_WRITE:
		ev_want(w, c, EV_OUT);
		return 0;
	default:
		conn_fail_ssl(w, c, e, sslerr);
		return -1;
	}
}

static void
conn_start(struct worker *w, struct conn *c)
{
	int	one = 1;

	w->active++;
	w->st.tries++;
	c->start = now_ns();
	c->state = S_CONNECT;
	c->hdrlen = 0;
	c->hdrdone = 0;
	c->badstatus = 0;
	c->fd = socket(opt.addr.ss_family,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1) {
		conn_fail_errno(w, c, E_CONNECT, "socket", errno);
		return;
	}
	/* the request must not wait behind Nagle for the Finished's ACK */
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&opt.addr, opt.addrlen) == -1 &&
	    errno != EINPROGRESS) {
		conn_fail_errno(w, c, E_CONNECT, "connect", errno);
		return;
	}
	if (ev_add(w, c) == -1) {
		conn_fail_errno(w, c, E_CONNECT, "event add", errno);
		return;
	}
	ev_want(w, c, EV_OUT);
}

static int
conn_tls(struct worker *w, struct conn *c)
{
	if ((c->ssl = SSL_new(w->ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->fd) != 1) {
		conn_fail_ssl(w, c, E_HANDSHAKE, SSL_ERROR_SSL);
		return -1;
	}
	if (opt.sni[0] != '\0' &&
	    SSL_set_tlsext_host_name(c->ssl, opt.sni) != 1) {
		conn_fail_ssl(w, c, E_HANDSHAKE, SSL_ERROR_SSL);
		return -1;
	}
	if (opt.resume && c->sess != NULL)
		SSL_set_session(c->ssl, c->sess);
	SSL_set_connect_state(c->ssl);
	c->state = S_HANDSHAKE;
	return 1;
}

/* 1: connected and TLS set up, 0: not yet, -1: failed */
static int
conn_connected(struct worker *w, struct conn *c, int what)
{
	int		error = 0;
	socklen_t	len = sizeof(error);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &len) == -1)
		error = errno;
	if (error != 0) {
		conn_fail_errno(w, c, E_CONNECT, "connect", error);
		return -1;
	}
	if (!(what & EV_OUT))
		return 0;
	return conn_tls(w, c);
}

static int
conn_handshake(struct worker *w, struct conn *c)
{
	int	r;

	ERR_clear_error();
	errno = 0;
	if ((r = SSL_connect(c->ssl)) != 1)
		return conn_want(w, c, r, E_HANDSHAKE);
	w->st.handshakes++;
	if (SSL_session_reused(c->ssl))
		w->st.resumed++;
	c->state = S_WRITE;
	return 1;
}

static int
conn_write(struct worker *w, struct conn *c)
{
	int	r;

	/* without partial writes, SSL_write() sends it all or nothing */
	ERR_clear_error();
	errno = 0;
	if ((r = SSL_write(c->ssl, opt.req, (int)opt.reqlen)) <= 0)
		return conn_want(w, c, r, E_WRITE);
	c->state = S_READ;
	return 1;
}

/* The response header: two digits, then CRLF or a space and meta. */
static int
header_check(struct worker *w, struct conn *c, size_t len)
{
	char	why[160];
	int	status;

	if (len < 2 || c->hdr[0] < '1' || c->hdr[0] > '6' ||
	    c->hdr[1] < '0' || c->hdr[1] > '9' ||
	    (len > 2 && c->hdr[2] != ' ')) {
		snprintf(why, sizeof(why), "bad header \"%.*s\"",
		    (int)(len > 64 ? 64 : len), c->hdr);
		conn_fail(w, c, E_HEADER, why);
		return -1;
	}
	status = (c->hdr[0] - '0') * 10 + (c->hdr[1] - '0');
	if (opt.status != 0 && status != opt.status) {
		c->badstatus = status;
		snprintf(why, sizeof(why), "got \"%.*s\", expected %d",
		    (int)(len > 64 ? 64 : len), c->hdr, opt.status);
		stats_why(&w->st, E_STATUS, why);
	}
	c->hdrdone = 1;
	return 0;
}

static int
conn_header(struct worker *w, struct conn *c, const char *buf, size_t n)
{
	size_t	 from, take;
	char	*crlf;

	from = c->hdrlen ? c->hdrlen - 1 : 0;
	take = sizeof(c->hdr) - c->hdrlen;
	if (take > n)
		take = n;
	memcpy(c->hdr + c->hdrlen, buf, take);
	c->hdrlen += take;
	crlf = memmem(c->hdr + from, c->hdrlen - from, "\r\n", 2);
	if (crlf != NULL)
		return header_check(w, c, (size_t)(crlf - c->hdr));
	if (c->hdrlen == sizeof(c->hdr)) {
		conn_fail(w, c, E_HEADER, "no CRLF in the first 1029 bytes");
		return -1;
	}
	return 0;
}

/* close_notify came: judge the whole response. */
static void
conn_closed(struct worker *w, struct conn *c)
{
	if (!c->hdrdone)
		conn_fail(w, c, E_HEADER, c->hdrlen ?
		    "closed inside the header" : "closed without a response");
	else if (c->badstatus)
		conn_end(w, c, E_STATUS);
	else
		conn_end(w, c, E_NONE);
}

static void
conn_again(struct worker *w, struct conn *c)
{
	if (c->again)
		return;
	c->again = 1;
	w->again[w->nagain++] = c;
}

static void
conn_read(struct worker *w, struct conn *c)
{
	int	i, r, sslerr;

	for (i = 0; i < READS_PER_TURN; i++) {
		ERR_clear_error();
		errno = 0;
		if ((r = SSL_read(c->ssl, w->buf, sizeof(w->buf))) > 0) {
			w->st.bytes += (uint64_t)r;
			if (!c->hdrdone &&
			    conn_header(w, c, w->buf, (size_t)r) == -1)
				return;
			continue;
		}
		sslerr = SSL_get_error(c->ssl, r);
		if (sslerr == SSL_ERROR_ZERO_RETURN)
			conn_closed(w, c);
		else if (ssl_eof(sslerr)) {
			ERR_clear_error();
			if (c->hdrdone)
				conn_fail(w, c, E_CLOSE_NOTIFY,
				    "closed without close_notify");
			else
				conn_fail(w, c, E_READ,
				    "closed without a complete header");
		} else
			conn_want(w, c, r, E_READ);
		return;
	}
	/* a fast big response must not starve the others: come back */
	conn_again(w, c);
}

static void
conn_hold(struct worker *w, struct conn *c)
{
	c->state = S_HOLD;
	lat_add(&w->st, now_ns() - c->start);
	w->inflight--;
	atomic_fetch_add(&held, 1);
	idle_settled();
	ev_want(w, c, EV_IN);
}

/* A held connection stirred: a ticket is fine, anything else is not. */
static void
conn_held_read(struct worker *w, struct conn *c)
{
	int	r, sslerr;

	ERR_clear_error();
	errno = 0;
	if ((r = SSL_read(c->ssl, w->buf, sizeof(w->buf))) > 0) {
		conn_fail(w, c, E_READ, "data on an idle connection");
		return;
	}
	sslerr = SSL_get_error(c->ssl, r);
	if (sslerr == SSL_ERROR_ZERO_RETURN || ssl_eof(sslerr)) {
		ERR_clear_error();
		conn_fail(w, c, E_READ, "server closed an idle connection");
		return;
	}
	conn_want(w, c, r, E_READ);
}

static void
conn_drive(struct worker *w, struct conn *c, int what)
{
	switch (c->state) {
	case S_CONNECT:
		if (conn_connected(w, c, what) != 1)
			return;
		/* FALLTHROUGH */
	case S_HANDSHAKE:
		if (conn_handshake(w, c) != 1)
			return;
		if (opt.idle) {
			conn_hold(w, c);
			conn_held_read(w, c);
			return;
		}
		/* FALLTHROUGH */
	case S_WRITE:
		if (conn_write(w, c) != 1)
			return;
		/* FALLTHROUGH */
	case S_READ:
		conn_read(w, c);
		return;
	case S_HOLD:
		conn_held_read(w, c);
		return;
	case S_FREE:
		return;
	}
}

/* Workers */

static int
may_start(void)
{
	if (stopping)
		return 0;
	if (deadline != 0 && now_ns() >= deadline)
		return 0;
	if (opt.count > 0 && atomic_fetch_sub(&budget, 1) <= 0)
		return 0;
	return 1;
}

static int
worker_more(struct worker *w)
{
	if (opt.idle)
		return w->tostart > 0 && !stopping;
	if (stopping)
		return 0;
	if (deadline != 0 && now_ns() >= deadline)
		return 0;
	return opt.count == 0 || atomic_load(&budget) > 0;
}

static void
worker_fill(struct worker *w)
{
	int	n;

	/* a slot that fails at once is retried next turn, not now */
	for (n = w->nfree; n > 0 && w->nfree > 0; n--) {
		if (opt.idle) {
			/* ramp up: a SYN flood would measure the backlog */
			if (w->tostart == 0 || w->inflight >= RAMP || stopping)
				return;
			w->tostart--;
			w->inflight++;
		} else if (!may_start())
			return;
		conn_start(w, &w->conns[w->freel[--w->nfree]]);
	}
}

static void
worker_again(struct worker *w)
{
	struct conn	**list = w->again;
	int		  i, n = w->nagain;

	w->again = w->again2;
	w->again2 = list;
	w->nagain = 0;
	for (i = 0; i < n; i++) {
		list[i]->again = 0;
		if (list[i]->state == S_READ)
			conn_drive(w, list[i], EV_IN);
	}
}

static void
worker_expire(struct worker *w, uint64_t now)
{
	struct conn	*c;
	uint64_t	 limit = (uint64_t)opt.timeout * NS;
	int		 i;

	for (i = 0; i < w->nconns; i++) {
		c = &w->conns[i];
		if (c->state == S_FREE || c->state == S_HOLD)
			continue;
		if (now - c->start > limit)
			conn_fail(w, c, E_TIMEOUT, state_name[c->state]);
	}
}

static int
idle_over(uint64_t now)
{
	uint64_t	until;

	if (stopping)
		return 1;
	until = atomic_load(&hold_until);
	return until != 0 && now >= until;
}

/* Idle mode is over: held connections count as ok, the rest as late. */
static void
worker_release(struct worker *w)
{
	struct conn	*c;
	int		 i;

	for (i = 0; i < w->nconns; i++) {
		c = &w->conns[i];
		if (c->state == S_HOLD)
			conn_end(w, c, E_NONE);
		else if (c->state != S_FREE)
			conn_fail(w, c, E_TIMEOUT, "interrupted");
	}
}

static void *
worker_main(void *arg)
{
	struct worker	*w = arg;
	uint64_t	 now, scanned = now_ns();

	for (;;) {
		worker_fill(w);
		if (w->active == 0 && !worker_more(w))
			break;
		if (ev_wait(w, w->nagain ? 0 : TICK_MS) == -1) {
			warn("event wait");
			stopping = 1;
		}
		worker_again(w);
		now = now_ns();
		if (now - scanned >= (uint64_t)TICK_MS * 1000000) {
			worker_expire(w, now);
			scanned = now;
		}
		if (opt.idle && idle_over(now)) {
			worker_release(w);
			break;
		}
	}
	return NULL;
}

static SSL_CTX *
ctx_new(void)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		errx(2, "SSL_CTX_new: %s", ERR_error_string(ERR_get_error(),
		    NULL));
	/* Gemini wants TLS 1.2 or newer */
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		errx(2, "SSL_CTX_set_min_proto_version failed");
	/* trust on first use: a load generator has nothing to check */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	/* 10,000 held connections should not cost us 34 KB of buffers each */
	if (opt.idle)
		SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	return ctx;
}

static void
worker_init(struct worker *w, int nconns)
{
	int	i;

	w->nconns = nconns;
	w->ctx = ctx_new();
	w->conns = calloc(nconns, sizeof(*w->conns));
	w->freel = calloc(nconns, sizeof(*w->freel));
	w->again = calloc(nconns, sizeof(struct conn *));
	w->again2 = calloc(nconns, sizeof(struct conn *));
	if (w->conns == NULL || w->freel == NULL || w->again == NULL ||
	    w->again2 == NULL)
		err(2, "calloc");
	/* the free list is a stack: slot 0 on top */
	for (i = nconns - 1; i >= 0; i--) {
		w->conns[i].slot = i;
		w->conns[i].fd = -1;
		w->freel[w->nfree++] = i;
	}
	if (ev_init(w) == -1)
		err(2, "event init");
	if (opt.idle)
		w->tostart = nconns;
}

static void
worker_free(struct worker *w)
{
	int	i;

	for (i = 0; i < w->nconns; i++)
		SSL_SESSION_free(w->conns[i].sess);
	ev_free(w);
	SSL_CTX_free(w->ctx);
	free(w->conns);
	free(w->freel);
	free(w->again);
	free(w->again2);
	free(w->st.lat);
}

/* Setup */

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: gemload [-ijkr] [-c conns] [-d secs] "
	    "[-H host] [-n count] [-s status]\n"
	    "               [-T timeout] [-t threads] gemini://host[:port]"
	    "[/path]\n");
	exit(2);
}

static long
number(const char *s, long min, long max, const char *what)
{
	char	*end;
	long	 n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || n < min || n > max)
		errx(2, "%s must be a number from %ld to %ld: %s", what, min,
		    max, s);
	return n;
}

static int
is_ip_literal(const char *host)
{
	struct in6_addr	a6;
	struct in_addr	a4;

	return inet_pton(AF_INET, host, &a4) == 1 ||
	    inet_pton(AF_INET6, host, &a6) == 1;
}

static void
url_parse(const char *url)
{
	const char	*p, *h, *hend;
	size_t		 len;

	if (strncasecmp(url, "gemini://", 9) != 0)
		errx(2, "%s: not a gemini:// URL", url);
	if (strlen(url) > URL_MAX)
		errx(2, "the URL is longer than %d bytes", URL_MAX);
	p = url + 9;
	if (*p == '[') {
		h = p + 1;
		if ((hend = strchr(h, ']')) == NULL)
			errx(2, "%s: no ] after the IPv6 address", url);
		p = hend + 1;
	} else {
		h = p;
		p += strcspn(p, ":/?#");
		hend = p;
	}
	if ((len = (size_t)(hend - h)) == 0 || len >= sizeof(opt.host))
		errx(2, "%s: no host, or too long a one", url);
	memcpy(opt.host, h, len);
	opt.host[len] = '\0';
	opt.port = GEMINI_PORT;
	if (*p == ':') {
		len = strcspn(++p, "/?#");
		if (len == 0 || len > 5 || strspn(p, "0123456789") != len)
			errx(2, "%s: bad port", url);
		opt.port = atoi(p);
		if (opt.port < 1 || opt.port > 65535)
			errx(2, "%s: bad port", url);
		opt.portgiven = 1;
		p += len;
	}
	opt.rest = p;
}

static int
is_loopback(const struct sockaddr *sa)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	switch (sa->sa_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)(const void *)sa;
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		return IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
	default:
		return 0;
	}
}

/* Every address the host has must be loopback, or we refuse them all. */
static void
resolve(void)
{
	struct addrinfo	 hints, *res, *ai;
	char		 port[8], name[NI_MAXHOST];
	int		 e;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%d", opt.port);
	if ((e = getaddrinfo(opt.host, port, &hints, &res)) != 0)
		errx(2, "%s: %s", opt.host, gai_strerror(e));
	if (res == NULL || res->ai_addrlen > sizeof(opt.addr))
		errx(2, "%s: no usable address", opt.host);
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, name,
		    sizeof(name), NULL, 0, NI_NUMERICHOST) != 0)
			snprintf(name, sizeof(name), "?");
		if (!is_loopback(ai->ai_addr))
			errx(2, "refusing %s: it is %s, not a loopback address "
			    "(gemload connects only to 127.0.0.0/8 and ::1)",
			    opt.host, name);
		if (ai == res)
			snprintf(opt.addrname, sizeof(opt.addrname), "%s",
			    name);
	}
	memcpy(&opt.addr, res->ai_addr, res->ai_addrlen);
	opt.addrlen = res->ai_addrlen;
	freeaddrinfo(res);
}

/* The request line, and the SNI name (none for an IP address). */
static void
request_build(void)
{
	const char	*host = opt.hostarg ? opt.hostarg : opt.host;
	int		 v6 = strchr(host, ':') != NULL;
	char		 port[8] = "";
	int		 n;

	if (!is_ip_literal(host) &&
	    snprintf(opt.sni, sizeof(opt.sni), "%s", host) >=
	    (int)sizeof(opt.sni))
		errx(2, "%s: host name too long", host);
	if (opt.hostarg == NULL)
		n = snprintf(opt.req, sizeof(opt.req), "%s\r\n", opt.url);
	else {
		if (opt.portgiven)
			snprintf(port, sizeof(port), ":%d", opt.port);
		n = snprintf(opt.req, sizeof(opt.req), "gemini://%s%s%s%s%s\r\n",
		    v6 ? "[" : "", host, v6 ? "]" : "", port, opt.rest);
	}
	if (n < 0 || (size_t)n >= sizeof(opt.req))
		errx(2, "the request URL is longer than %d bytes", URL_MAX);
	opt.reqlen = (size_t)n;
}

static void
nofile_raise(int need)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		err(2, "getrlimit");
	if (rl.rlim_cur >= (rlim_t)need)
		return;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < (rlim_t)need)
		errx(2, "%d connections need %d file descriptors, the limit "
		    "is %llu: raise it with ulimit -n", opt.conns, need,
		    (unsigned long long)rl.rlim_max);
	rl.rlim_cur = (rlim_t)need;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		err(2, "setrlimit");
}

static void
on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void
signals(void)
{
	struct sigaction	sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* a server that closes first must not kill us on write */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

static void
options(int argc, char *argv[])
{
	int	ch, dflag = 0;
	long	ncpu;

	opt.conns = 32;
	opt.secs = 10;
	opt.status = 20;
	opt.timeout = 10;
	while ((ch = getopt(argc, argv, "c:d:H:ijkn:rs:T:t:")) != -1) {
		switch (ch) {
		case 'c':
			opt.conns = (int)number(optarg, 1, 1000000,
			    "connections");
			break;
		case 'd':
			opt.secs = (int)number(optarg, 1, 86400, "duration");
			dflag = 1;
			break;
		case 'H':
			opt.hostarg = optarg;
			break;
		case 'i':
			opt.idle = 1;
			break;
		case 'j':
			opt.kv = 1;
			break;
		case 'k':
			/* always so: Gemini trusts on first use */
			break;
		case 'n':
			opt.count = number(optarg, 1, LONG_MAX / 2, "count");
			break;
		case 'r':
			opt.resume = 1;
			break;
		case 's':
			opt.status = (int)number(optarg, 0, 69, "status");
			break;
		case 'T':
			opt.timeout = (int)number(optarg, 1, 3600, "timeout");
			break;
		case 't':
			opt.threads = (int)number(optarg, 1, 1024, "threads");
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 1)
		usage();
	opt.url = argv[optind];
	if (opt.idle && opt.count)
		errx(2, "-i holds -c connections for -d seconds; no -n");
	/* -n alone runs to the count; -d and -n: whichever comes first */
	if (opt.count && !dflag)
		opt.secs = 0;
	if (opt.threads == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		opt.threads = ncpu > 0 ? (int)ncpu : 1;
	}
	if (opt.threads > opt.conns)
		opt.threads = opt.conns;
}

/* Report */

static int
u32cmp(const void *a, const void *b)
{
	uint32_t	x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* nearest rank */
static uint32_t
pct(const uint32_t *v, size_t n, double q)
{
	double	want = q * (double)n;
	size_t	i = (size_t)want;

	if (n == 0)
		return 0;
	if ((double)i < want)
		i++;
	if (i < 1)
		i = 1;
	return v[(i > n ? n : i) - 1];
}

static void
stats_merge(struct stats *all, struct worker *ws, int n)
{
	struct stats	*st;
	size_t		 off = 0;
	int		 i, e;

	memset(all, 0, sizeof(*all));
	for (i = 0; i < n; i++)
		all->nlat += ws[i].st.nlat;
	if ((all->lat = calloc(all->nlat + 1, sizeof(*all->lat))) == NULL)
		err(2, "calloc");
	for (i = 0; i < n; i++) {
		st = &ws[i].st;
		all->tries += st->tries;
		all->ok += st->ok;
		all->bytes += st->bytes;
		all->handshakes += st->handshakes;
		all->resumed += st->resumed;
		for (e = 0; e < E_MAX; e++) {
			all->err[e] += st->err[e];
			if (all->why[e][0] == '\0')
				memcpy(all->why[e], st->why[e],
				    sizeof(all->why[e]));
		}
		if (st->nlat)
			memcpy(all->lat + off, st->lat,
			    st->nlat * sizeof(*st->lat));
		off += st->nlat;
	}
	qsort(all->lat, all->nlat, sizeof(*all->lat), u32cmp);
}

static uint64_t
errors(const struct stats *st)
{
	uint64_t	n = 0;
	int		e;

	for (e = 0; e < E_MAX; e++)
		n += st->err[e];
	return n;
}

static void
report_kv(const struct stats *st, double secs)
{
	int	e;

	printf("mode=%s url=%s addr=%s conns=%d threads=%d resume=%d "
	    "secs=%.3f requests=%llu ok=%llu errors=%llu",
	    opt.idle ? "idle" : "load", opt.url, opt.addrname, opt.conns,
	    opt.threads, opt.resume, secs, (unsigned long long)st->tries,
	    (unsigned long long)st->ok, (unsigned long long)errors(st));
	for (e = 0; e < E_MAX; e++)
		printf(" err_%s=%llu", err_name[e],
		    (unsigned long long)st->err[e]);
	printf(" rps=%.1f p50_us=%u p90_us=%u p99_us=%u max_us=%u "
	    "bytes=%llu mbps=%.2f handshakes=%llu resumed=%llu\n",
	    secs > 0 ? (double)st->ok / secs : 0.0,
	    pct(st->lat, st->nlat, 0.50), pct(st->lat, st->nlat, 0.90),
	    pct(st->lat, st->nlat, 0.99),
	    st->nlat ? st->lat[st->nlat - 1] : 0,
	    (unsigned long long)st->bytes,
	    secs > 0 ? (double)st->bytes / 1e6 / secs : 0.0,
	    (unsigned long long)st->handshakes,
	    (unsigned long long)st->resumed);
	/* the first error of each kind, for whoever reads the log */
	for (e = 0; e < E_MAX; e++)
		if (st->err[e])
			fprintf(stderr, "gemload: %s: %s\n", err_name[e],
			    st->why[e]);
}

static void
report_human(const struct stats *st, double secs)
{
	int	e, any = 0;

	printf("%s -> %s, %d connections, %d threads%s%s\n", opt.url,
	    opt.addrname, opt.conns, opt.threads,
	    opt.resume ? ", resuming" : "", opt.idle ? ", idle" : "");
	printf("%-12s %llu, %llu ok, %llu errors, in %.2f s: %.1f/s\n",
	    opt.idle ? "connections" : "requests",
	    (unsigned long long)st->tries, (unsigned long long)st->ok,
	    (unsigned long long)errors(st), secs,
	    secs > 0 ? (double)st->ok / secs : 0.0);
	printf("%-12s p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms%s\n",
	    "latency", pct(st->lat, st->nlat, 0.50) / 1e3,
	    pct(st->lat, st->nlat, 0.90) / 1e3,
	    pct(st->lat, st->nlat, 0.99) / 1e3,
	    (st->nlat ? st->lat[st->nlat - 1] : 0) / 1e3,
	    opt.idle ? " (handshakes)" : "");
	printf("%-12s %.2f MB, %.2f MB/s\n", "received",
	    (double)st->bytes / 1e6,
	    secs > 0 ? (double)st->bytes / 1e6 / secs : 0.0);
	printf("%-12s %llu, %llu resumed\n", "handshakes",
	    (unsigned long long)st->handshakes,
	    (unsigned long long)st->resumed);
	for (e = 0; e < E_MAX; e++) {
		if (st->err[e] == 0)
			continue;
		printf("%-12s %s %llu, first: %s\n", any++ ? "" : "errors",
		    err_name[e], (unsigned long long)st->err[e], st->why[e]);
	}
}

int
main(int argc, char *argv[])
{
	struct worker	*ws;
	struct stats	 all;
	uint64_t	 start;
	double		 secs;
	int		 i, e;

	options(argc, argv);
	url_parse(opt.url);
	resolve();
	request_build();
	nofile_raise(opt.conns + 64);
	signals();

	if ((ws = calloc(opt.threads, sizeof(*ws))) == NULL)
		err(2, "calloc");
	for (i = 0; i < opt.threads; i++)
		worker_init(&ws[i], opt.conns / opt.threads +
		    (i < opt.conns % opt.threads));
	atomic_store(&budget, opt.count);
	atomic_store(&pending, opt.conns);
	start = now_ns();
	if (opt.secs && !opt.idle)
		deadline = start + (uint64_t)opt.secs * NS;
	for (i = 0; i < opt.threads; i++)
		if ((e = pthread_create(&ws[i].tid, NULL, worker_main,
		    &ws[i])) != 0)
			errx(2, "pthread_create: %s", strerror(e));
	for (i = 0; i < opt.threads; i++)
		pthread_join(ws[i].tid, NULL);
	secs = (double)(now_ns() - start) / 1e9;

	stats_merge(&all, ws, opt.threads);
	if (opt.kv)
		report_kv(&all, secs);
	else
		report_human(&all, secs);
	for (i = 0; i < opt.threads; i++)
		worker_free(&ws[i]);
	free(ws);
	free(all.lat);
	return errors(&all) == 0 && all.ok > 0 ? 0 : 1;
}
