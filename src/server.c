/*
 * server.c: a worker: its event loop, its listening sockets, accept and
 * admission (room here, in another worker, or none; the per-client
 * cap), retiring and stopping.  Each connection it accepts is the
 * engine's from then on (conn.c).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event.h>

#include "config.h"
#include "conn.h"
#include "limit.h"
#include "log.h"
#include "memstat.h"
#include "metrics.h"
#include "sandbox.h"
#include "server.h"
#include "shared.h"
#include "tlsctx.h"

#define ACCEPT_BATCH	32	/* accepts per wake-up */
#define REFUSED_REPORT	10	/* seconds between "refused" log lines */

struct listener {
	int		fd;
	int		proxy;		/* a PROXY header comes first */
	int		port;
	char		addr[CONN_ADDR_MAX];
	struct event	ev;
};

static size_t			 nconns;
static const struct config	*cf;
static struct listener		*listeners;
static size_t			 nlisteners;
static int			 stopping;	/* retired: no more accepts */
static int			 accepting;
static struct event		 ev_sigterm, ev_sigusr2, ev_accept_pause, ev_stop,
				 ev_refused;
static int			 spare_fd = -1;	/* given up to accept on EMFILE */
static unsigned long		 refused_client, refused_full;
static int			 emfile_said;	/* this report period */

static void	accept_pause(void);
static void	publish(void);
static void	note_refused(unsigned long *);

/* The engine's word: the count changed; a close may make room. */
static void
counted(size_t open, int closed)
{
	nconns = open;
	publish();
	memstat_busy();
	if (!closed)
		return;
	if (stopping && nconns == 0)
		event_loopexit(NULL);
	else if (!accepting && !stopping)
		accept_pause();		/* maybe room again */
}

/* A client behind a proxy, over max_per_client. */
static void
refused_proxied(void)
{
	note_refused(&refused_client);
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
	metrics_limit(counter == &refused_client ? METRICS_LIMIT_PER_CLIENT :
	    METRICS_LIMIT_FULL);
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
accepted(int fd, size_t li, const struct sockaddr_storage *ss, socklen_t sslen)
{
	const struct listener	*l = &listeners[li];
	int			 slot = LIMIT_UNTRACKED;

	/* behind a balancer the client is known from the PROXY header */
	if (!l->proxy && (slot = admit((const struct sockaddr *)ss,
	    sslen)) == LIMIT_REFUSED) {
		refuse(fd, &refused_client);
		return;
	}
	conn_start(fd, ss, l->addr, l->port, l->proxy, slot);
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
			accepted(fd, li, &ss, len);
	}
}

/*
 * SIGTERM's grace is over: every connection still open is closed now,
 * logged with what it was sent, and marked cut when an exchange was
 * under way (conn_cut_all).
 */
static void
stop_now(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	if (nconns == 0)
		event_loopexit(NULL);
	conn_cut_all();		/* the last one ends the loop */
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
	/* the current config's, though this worker's may be older */
	struct timeval	tv = { shared_stop_timeout(cf->stop_timeout), 0 };

	worker_retire(sig, ev, arg);
	if (nconns == 0 || evtimer_pending(&ev_stop, NULL))
		return;
	evtimer_add(&ev_stop, &tv);
}

void
server_worker(const struct config *config, struct tls *t,
    const int *listenfds, const int *roots)
{
	struct conn_env		e;
	struct sockaddr_storage	ss;
	size_t			i;
	int			port;

	cf = config;
	e.cf = config;
	e.tls = t;
	e.rootfds = roots;
	e.count = counted;
	e.refused = refused_proxied;
	conn_init(&e);
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
		conn_addr(&ss, listeners[i].addr, &port);
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
