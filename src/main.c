/*
 * main.c: flags, start-up, and the parent that supervises the workers.
 *
 * The parent reads the config, makes missing certificates, loads every
 * certificate and key, opens the roots and binds the sockets, then
 * forks the workers.  It restarts a worker that dies.  A reload (SIGHUP)
 * builds a complete new generation (config, TLS contexts, roots,
 * sockets, workers) and only then tells the old workers to finish their
 * in-flight responses and exit; if anything in the new config is wrong
 * the old generation keeps serving and the error is logged.
 */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "access.h"
#include "cgi.h"
#include "config.h"
#include "listen.h"
#include "log.h"
#include "mime.h"
#include "sandbox.h"
#include "server.h"
#include "shared.h"
#include "tlsctx.h"
#include "upload.h"
#include "writer.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR	"/etc"
#endif
#define DEFAULT_CONFIG	SYSCONFDIR "/capsuled.ini"
#define MAX_WORKERS	256
#define STOP_MARGIN	5	/* past stop_timeout: the parent kills */
#define REBIND_TRIES	40	/* 50 ms apart: old workers let go */

/*
 * A process that serves a generation's workers over a socket: the CGI
 * runner, the Titan writer.  The parent keeps both ends of the socket,
 * so one that dies is replaced from the config in memory (never the
 * file on disk, which may be half edited) and the workers carry on
 * with the end they have.
 */
struct helper {
	const char	*name;		/* for the log: "CGI runner" */
	int		 wsock;		/* the workers' end; -1: none */
	int		 hsock;		/* the helper's end */
	pid_t		 pid;
	time_t		 started;
};

struct generation {
	struct config	 cf;
	struct tls	 tls;
	struct sandbox	 sb;
	int		 listenfds[CONFIG_MAX_LISTEN];
	int		*rootfds;
	struct helper	 runner;	/* CGI: the only process that execs */
	struct helper	 writer;	/* Titan: the only one that writes */
	struct access_files *af;	/* fingerprint lists (access.h) */
	int		 nworkers;
	pid_t		 pids[MAX_WORKERS];
	time_t		 started[MAX_WORKERS];
};

static struct generation	*gen;
/* old workers, and old CGI runners (which end once their workers have) */
static struct {
	pid_t	pid;
	int	runner;
} draining[4 * MAX_WORKERS];
static volatile sig_atomic_t	 got_hup, got_term, got_chld, got_usr1,
				 got_alrm;
static int			 pidfd = -1;	/* locked while we run */
static char			 pidpath[PATH_MAX];

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: capsuled [-dnV] [-c file]\n");
	exit(1);
}

static void
on_signal(int sig)
{
	switch (sig) {
	case SIGHUP:
		got_hup = 1;
		break;
	case SIGCHLD:
		got_chld = 1;
		break;
	case SIGUSR1:
		got_usr1 = 1;
		break;
	case SIGALRM:
		got_alrm = 1;
		break;
	default:
		got_term = 1;
		break;
	}
}

static int
worker_count(const struct config *cf)
{
	long	n = cf->workers;

	if (n == 0 && (n = sysconf(_SC_NPROCESSORS_ONLN)) < 1)
		n = 1;
	return n > MAX_WORKERS ? MAX_WORKERS : (int)n;
}

static void
helper_init(struct helper *h, const char *name)
{
	memset(h, 0, sizeof(*h));
	h->name = name;
	h->wsock = h->hsock = -1;
}

/* Both ends of its socket, as far as this process holds them. */
static void
helper_close(struct helper *h)
{
	if (h->wsock != -1)
		close(h->wsock);
	if (h->hsock != -1)
		close(h->hsock);
	h->wsock = h->hsock = -1;
}

/*
 * Close the parent's copies of a generation's descriptors: its listening
 * sockets (but those keep shares after a reload), roots and the runner's
 * socket.  Its processes hold their own copies; done before a new
 * generation forks, it keeps them out of the new processes, which would
 * otherwise hold an old port open, a root outside a new chroot, and the
 * old runner's socket (so that runner would never see its workers go).
 */
static void
gen_close_listeners(struct generation *g, const struct generation *keep)
{
	size_t	i, j;
	int	shared;

	for (i = 0; i < g->cf.nlisten; i++) {
		shared = 0;
		for (j = 0; keep != NULL && j < keep->cf.nlisten; j++)
			shared |= keep->listenfds[j] == g->listenfds[i];
		if (!shared && g->listenfds[i] != -1)
			close(g->listenfds[i]);
		g->listenfds[i] = -1;
	}
}

/* All of a generation's descriptors the parent holds (see above). */
static void
gen_close_fds(struct generation *g, const struct generation *keep)
{
	gen_close_listeners(g, keep);
	if (g->rootfds != NULL)
		listen_roots_close(&g->cf, g->rootfds);
	access_close_fds(g->af);
	helper_close(&g->runner);	/* they end with their workers */
	helper_close(&g->writer);
}

static void
gen_free(struct generation *g, const struct generation *keep)
{
	if (g == NULL)
		return;
	gen_close_fds(g, keep);
	access_free(g->af);
	free(g->rootfds);
	tls_free(&g->tls);
	config_free(&g->cf);
	free(g);
}

/*
 * Certificates first: a missing pair is made before anything loads it.
 * In check mode nothing is written; returns how many pairs are missing.
 */
static int
gen_certs(struct generation *g, int check_only, char *err, size_t errlen)
{
	const struct host_cfg	*h;
	size_t			 i;
	int			 made, missing = 0;

	for (i = 0; i < g->cf.nhosts; i++) {
		h = &g->cf.hosts[i];
		if (check_only && access(h->cert, F_OK) == -1 &&
		    access(h->key, F_OK) == -1) {
			if (tls_can_generate(h, err, errlen) == -1) {
				tls_error_at_host(&g->cf, h, err, errlen);
				return -1;
			}
			log_info("host %s: %s and %s will be generated at "
			    "start", h->name, h->cert, h->key);
			missing++;
			continue;
		}
		if (!check_only && tls_ensure_cert(h, &made, err, errlen) == -1) {
			tls_error_at_host(&g->cf, h, err, errlen);
			return -1;
		}
		if (!check_only && made)
			log_info("host %s: generated a self-signed ECDSA P-256 "
			    "certificate %s and key %s", h->name, h->cert,
			    h->key);
	}
	return missing;
}

/*
 * Lock the pid file before anything else is set up, so a second
 * instance on the same file stops here and says who holds it.  The lock
 * is flock(2): it belongs to the open file, so it survives the fork
 * into the background and is held until the parent exits.
 */
static int
pidfile_lock(const struct config *cf, char *err, size_t errlen)
{
	char	pid[32];
	ssize_t	n;
	int	fd;

	/* opened by root: a link planted in its directory is refused */
	if ((fd = open(cf->pidfile, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0644)) == -1) {
		snprintf(err, errlen, "%s: pidfile %s: %s", cf->file,
		    cf->pidfile, errno == ELOOP ? "is a symbolic link "
		    "(refused)" : strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		n = errno == EWOULDBLOCK ? pread(fd, pid, sizeof(pid) - 1, 0) : 0;
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		if (errno == EWOULDBLOCK || n > 0)
			snprintf(err, errlen, "pidfile %s is locked: capsuled "
			    "is already running (pid %s)", cf->pidfile,
			    *pid ? pid : "unknown");
		else
			snprintf(err, errlen, "pidfile %s: lock: %s",
			    cf->pidfile, strerror(errno));
		close(fd);
		return -1;
	}
	n = snprintf(pidpath, sizeof(pidpath), "%s", cf->pidfile);
	if (n < 0 || (size_t)n >= sizeof(pidpath)) {
		snprintf(err, errlen, "pidfile %s: path too long", cf->pidfile);
		close(fd);
		return -1;
	}
	pidfd = fd;
	return 0;
}

static int
pidfile_write(void)
{
	char	buf[32];
	int	n;

	if (pidfd == -1)
		return 0;
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(buf) || ftruncate(pidfd, 0) == -1 ||
	    pwrite(pidfd, buf, n, 0) != n) {
		fprintf(stderr, "capsuled: pidfile %s: %s\n", pidpath,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * daemon(3), except that the process started in the foreground exits
 * only once the daemon has written its pid file: a service manager that
 * reads the file then (systemd, Type=forking) finds the right pid.
 */
static int
daemonise(void)
{
	char	c;
	pid_t	pid;
	int	p[2], fd;

	if (pipe(p) == -1 || (pid = fork()) == -1) {
		fprintf(stderr, "capsuled: daemon: %s\n", strerror(errno));
		return -1;
	}
	if (pid > 0) {
		close(p[1]);
		_exit(read(p[0], &c, 1) == 1 ? 0 : 1);
	}
	close(p[0]);
	if (setsid() == -1 || chdir("/") == -1) {
		fprintf(stderr, "capsuled: daemon: %s\n", strerror(errno));
		return -1;
	}
	if (pidfile_write() == -1)
		return -1;
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	if (write(p[1], "", 1) == -1) {
		/* the parent reads EOF instead and exits 1: nothing to add */
	}
	close(p[1]);
	return 0;
}

/*
 * Bind the listening sockets (reusing old's for identical addresses) and
 * open the access log; on failure nothing is left bound, and errno says
 * whether an address was in use.
 */
static int
gen_bind(struct generation *g, const struct generation *old, char *err,
    size_t errlen)
{
	size_t	i;
	int	saved;

	if (listen_bind(&g->cf, g->listenfds, old ? &old->cf : NULL,
	    old ? old->listenfds : NULL, err, errlen) == -1) {
		saved = errno;
		for (i = 0; i < g->cf.nlisten; i++)
			g->listenfds[i] = -1;	/* listen_bind closed its own */
		errno = saved;
		return -1;
	}
	if (log_open_access(&g->cf, err, errlen) == -1) {
		gen_close_listeners(g, old);
		errno = 0;
		return -1;
	}
	g->nworkers = worker_count(&g->cf);
	return 0;
}

/*
 * Everything but the workers (and, when reloading, the sockets: see
 * reload); on failure nothing of it is left.
 */
static struct generation *
gen_load(const char *path, int check_only, const struct generation *old,
    char *err, size_t errlen)
{
	struct generation	*g;
	size_t			 i;
	int			 missing;

	if ((g = calloc(1, sizeof(*g))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	helper_init(&g->runner, "CGI runner");
	helper_init(&g->writer, "titan writer");
	for (i = 0; i < CONFIG_MAX_LISTEN; i++)
		g->listenfds[i] = -1;
	if (config_load(path, &g->cf, err, errlen) == -1) {
		free(g);
		return NULL;
	}
	if (old == NULL && !check_only && g->cf.pidfile[0] != '\0' &&
	    pidfile_lock(&g->cf, err, errlen) == -1) {
		config_free(&g->cf);
		free(g);
		return NULL;
	}
	if ((g->rootfds = calloc(g->cf.nhosts, sizeof(int))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (i = 0; i < g->cf.nhosts; i++)
		g->rootfds[i] = -1;	/* listen_roots: -1 when closed */
	listen_fd_limit(&g->cf);	/* before the roots: they must fit */
	if (sandbox_prepare(&g->cf, &g->sb, err, errlen) == -1 ||
	    (missing = gen_certs(g, check_only, err, errlen)) == -1 ||
	    (missing == 0 ? tls_setup(&g->cf, &g->tls, err, errlen) :
	    tls_check(&g->cf, err, errlen)) == -1 ||
	    listen_roots(&g->cf, g->rootfds, err, errlen) == -1 ||
	    (g->af = access_prepare(&g->cf, err, errlen)) == NULL)
		goto fail;
	listen_roots_check(&g->cf, g->rootfds, &g->sb);
	g->sb.listfds = access_dirfds(g->af, &g->sb.nlistfds);
	g->sb.listdirs = access_dirs(g->af);
	if (check_only || old != NULL || gen_bind(g, NULL, err, errlen) == 0)
		return g;
fail:
	gen_free(g, NULL);	/* nothing is bound: listenfds are all -1 */
	return NULL;
}

/* Name a child for ps(1) and top(1): "capsuled: worker" and so on. */
static void
proc_title(const char *role)
{
#if defined(__linux__)
	char	name[16];

	snprintf(name, sizeof(name), "capsuled-%s", role);
	prctl(PR_SET_NAME, name);
#elif defined(__OpenBSD__)
	setproctitle("%s", role);
#else
	(void)role;
#endif
}

static int
uses_cgi(const struct config *cf)
{
	size_t	i;

	for (i = 0; i < cf->nhosts; i++)
		if (cf->hosts[i].cgi[0] != '\0')
			return 1;
	return 0;
}

/* In a helper's child: its own end only, nothing of the other's. */
static void
helper_child(struct generation *g, struct helper *h, const char *title)
{
	size_t	i;

	proc_title(title);
	close(h->wsock);	/* or it would never see EOF */
	h->wsock = -1;
	if (pidfd != -1)
		close(pidfd);	/* as in spawn: the lock stays here */
	helper_close(h == &g->runner ? &g->writer : &g->runner);
	for (i = 0; i < g->cf.nlisten; i++)
		close(g->listenfds[i]);
}

/* Fork a helper on its socket, made now if it has none; 0 or -1. */
static int
helper_fork(struct helper *h)
{
	int	sv[2];

	if (h->hsock == -1) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
		    sv) == -1)
			goto fail;
		h->wsock = sv[0];
		h->hsock = sv[1];
	}
	if ((h->pid = fork()) == -1)
		goto fail;
	h->started = time(NULL);
	return 0;
fail:
	h->pid = 0;
	log_warnx("cannot start the %s: %s", h->name, strerror(errno));
	return -1;
}

/* The CGI runner (scripts answer 42 while there is none). */
static void
spawn_runner(struct generation *g)
{
	if (!uses_cgi(&g->cf) || helper_fork(&g->runner) == -1 ||
	    g->runner.pid != 0)
		return;
	helper_child(g, &g->runner, "cgi");
	if (sandbox_runner(&g->cf, &g->sb, g->rootfds) == -1)
		_exit(1);
	cgi_runner_main(&g->cf, g->rootfds, g->runner.hsock);
}

static int
uses_titan(const struct config *cf)
{
	size_t	i;

	for (i = 0; i < cf->nhosts; i++)
		if (cf->hosts[i].ntitan > 0)
			return 1;
	return 0;
}

/* The Titan writer (uploads answer 40 while there is none). */
static void
spawn_writer(struct generation *g)
{
	if (!uses_titan(&g->cf) || helper_fork(&g->writer) == -1 ||
	    g->writer.pid != 0)
		return;
	helper_child(g, &g->writer, "titan");
	if (sandbox_writer(&g->cf, &g->sb, g->rootfds) == -1)
		_exit(1);
	writer_main(&g->cf, g->rootfds, g->writer.hsock);
}

static pid_t
spawn(struct generation *g, int i)
{
	sigset_t	none;
	pid_t		pid;
	int		slot = shared_slot_claim();

	if ((pid = fork()) == -1) {
		log_warnx("fork: %s", strerror(errno));
		shared_slot_bind(slot, 0);
		return -1;
	}
	if (pid == 0) {
		proc_title("worker");
		shared_slot_mine(slot);
		signal(SIGHUP, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		signal(SIGALRM, SIG_DFL);
		/*
		 * The parent's handlers only set its flags: a SIGTERM that
		 * came before the worker's own handler would be lost, and
		 * the worker would serve on, retired, for ever.
		 */
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_IGN);
		signal(SIGUSR1, SIG_IGN);
		if (pidfd != -1)
			close(pidfd);	/* the lock stays with the parent */
		/* jobs are the helpers': their ends are not the workers' */
		if (g->runner.hsock != -1)
			close(g->runner.hsock);
		if (g->writer.hsock != -1)
			close(g->writer.hsock);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		access_worker_init(g->af);
		upload_worker_init(g->writer.wsock);
		if (sandbox_worker(&g->cf, &g->sb, g->rootfds) == -1)
			_exit(1);
		server_worker(&g->cf, &g->tls, g->listenfds, g->rootfds,
		    g->runner.wsock);
	}
	shared_slot_bind(slot, pid);
	g->pids[i] = pid;
	g->started[i] = time(NULL);
	return pid;
}

static void
spawn_all(struct generation *g)
{
	int	i;

	spawn_runner(g);
	spawn_writer(g);
	for (i = 0; i < g->nworkers; i++)
		spawn(g, i);
}

static void
drain_add(pid_t pid, int runner)
{
	size_t	i;

	for (i = 0; i < sizeof(draining) / sizeof(draining[0]); i++)
		if (draining[i].pid == 0) {
			draining[i].pid = pid;
			draining[i].runner = runner;
			return;
		}
}

/*
 * A helper leaves by itself once its workers are gone and its jobs are
 * done; a signal now would cut short the scripts and uploads of
 * responses still in flight (kill_all sees to it later).
 */
static void
helper_retire(struct helper *h)
{
	if (h->pid > 0)
		drain_add(h->pid, 1);
	h->pid = 0;
	helper_close(h);
}

static void
signal_workers(const struct generation *g, int sig)
{
	int	i;

	for (i = 0; i < g->nworkers; i++)
		if (g->pids[i] > 0)
			kill(g->pids[i], sig);
}

/*
 * Log rotation: the parent has reopened the access log, which sandboxed
 * workers cannot do; fresh workers inherit the new descriptor and the
 * old ones finish their in-flight responses on the old one.
 */
static void
renew_workers(struct generation *g)
{
	int	i;

	for (i = 0; i < g->nworkers; i++) {
		if (g->pids[i] > 0) {
			kill(g->pids[i], SIG_RETIRE);
			drain_add(g->pids[i], 0);
			g->pids[i] = 0;
		}
		spawn(g, i);
	}
}

/* Tell a generation's workers to finish up; they are reaped, not restarted. */
static void
retire(struct generation *g, int sig)
{
	int	i;

	signal_workers(g, sig);
	for (i = 0; i < g->nworkers; i++)
		if (g->pids[i] > 0) {
			drain_add(g->pids[i], 0);
			g->pids[i] = 0;
		}
	helper_retire(&g->runner);
	helper_retire(&g->writer);
}

static int
same_addr(const struct listen_addr *a, const struct listen_addr *b)
{
	return a->sslen == b->sslen && memcmp(&a->ss, &b->ss, a->sslen) == 0;
}

static int
addr_port(const struct listen_addr *a)
{
	const struct sockaddr_in	*sin = (const void *)&a->ss;
	const struct sockaddr_in6	*sin6 = (const void *)&a->ss;

	return a->ss.ss_family == AF_INET6 ? sin6->sin6_port : sin->sin_port;
}

/* A new address on an old one's port and family, but not the same one. */
static int
overlaps(const struct generation *g, const struct generation *old)
{
	const struct listen_addr	*a, *b;
	size_t				 i, j;

	for (i = 0; i < g->cf.nlisten; i++)
		for (j = 0; j < old->cf.nlisten; j++) {
			a = &g->cf.listen[i];
			b = &old->cf.listen[j];
			if (a->ss.ss_family == b->ss.ss_family &&
			    addr_port(a) == addr_port(b) && !same_addr(a, b))
				return 1;
		}
	return 0;
}

/*
 * The new config binds an address that overlaps one of the running
 * generation's (0.0.0.0:1965 where 127.0.0.1:1965 was, say), which the
 * kernel refuses while the old socket listens: the old must go first.
 * Its workers retire (they close their listening sockets at once and
 * finish what is in flight) and the parent closes its copies of those
 * the new config does not keep; then bind again, for a moment.  If that
 * still fails, the old config is bound again and served by new workers.
 */
static int
handover(struct generation *g, char *err, size_t errlen)
{
	struct timespec	ts = { 0, 50 * 1000000L };
	char		again[CONFIG_ERR_MAX];
	size_t		i, j;
	int		kept, tries, kept_fds[CONFIG_MAX_LISTEN];

	log_info("reload: a new listen address overlaps an old one; the "
	    "old workers give up their sockets first");
	retire(gen, SIG_RETIRE);
	for (i = 0; i < gen->cf.nlisten; i++) {
		for (j = 0, kept = 0; j < g->cf.nlisten; j++)
			kept |= same_addr(&gen->cf.listen[i], &g->cf.listen[j]);
		if (!kept && gen->listenfds[i] != -1) {
			close(gen->listenfds[i]);
			gen->listenfds[i] = -1;
		}
	}
	for (tries = 0; tries < REBIND_TRIES; tries++) {
		nanosleep(&ts, NULL);
		if (gen_bind(g, gen, err, errlen) == 0)
			return 0;
		if (errno != EADDRINUSE)
			break;
	}
	/* what was closed is bound afresh (-1 is never reused) */
	memcpy(kept_fds, gen->listenfds, sizeof(kept_fds));
	if (listen_bind(&gen->cf, gen->listenfds, &gen->cf, kept_fds,
	    again, sizeof(again)) == -1) {
		log_warnx("reload: cannot bind the old addresses again "
		    "either: %s; serving nothing until a reload succeeds",
		    again);
		memcpy(gen->listenfds, kept_fds, sizeof(kept_fds));
		gen_close_fds(gen, NULL);
		gen->nworkers = 0;
		return -1;
	}
	gen_close_fds(g, gen);	/* the new roots and lists: not theirs */
	spawn_all(gen);
	return -1;
}

static void
reload(const char *path)
{
	struct generation	*g;
	char			 err[CONFIG_ERR_MAX];

	if ((g = gen_load(path, 0, gen, err, sizeof(err))) == NULL) {
		log_warnx("reload failed, still serving the old config: %s",
		    err);
		return;
	}
	if (gen_bind(g, gen, err, sizeof(err)) == -1 && (errno != EADDRINUSE ||
	    !overlaps(g, gen) || handover(g, err, sizeof(err)) == -1)) {
		log_warnx("reload failed, still serving the old config: %s",
		    err);
		gen_free(g, NULL);
		return;
	}
	if (strcmp(g->cf.pidfile, gen->cf.pidfile) != 0)
		log_warnx("reload: a new pidfile takes effect at the next "
		    "start; still using %s", pidpath[0] ? pidpath : "none");
	log_facility(g->cf.syslog_facility, g->cf.syslog_socket);
	sandbox_describe(&g->cf, &g->sb);
	gen_close_fds(gen, g);	/* before the fork: the old processes have theirs */
	spawn_all(g);
	retire(gen, SIG_RETIRE);
	gen_free(gen, g);
	gen = g;
	log_info("reloaded %s: %zu host(s), %d worker(s)", path,
	    gen->cf.nhosts, gen->nworkers);
}

/*
 * Was pid this helper?  0: no.  1: it died; start a new one now.  2: not
 * now: while stopping never, and after a death within a second of its
 * start only at the alarm (*quick set), so there is no fork storm.
 */
static int
helper_died(struct helper *h, pid_t pid, int status, int *quick)
{
	if (h->pid == 0 || pid != h->pid)
		return 0;
	h->pid = 0;
	if (got_term)
		return 2;
	log_warnx("%s %ld %s %d; starting a new one", h->name, (long)pid,
	    WIFSIGNALED(status) ? "killed by signal" : "exited with status",
	    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	if (time(NULL) - h->started >= 1)
		return 1;
	*quick = 1;
	return 2;
}

/* Reap children; restart a current worker unless it keeps dying. */
static void
reap(void)
{
	pid_t	pid;
	int	status, i, died, quick = 0;
	size_t	j;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		shared_slot_release(pid);
		for (j = 0; j < sizeof(draining) / sizeof(draining[0]); j++)
			if (draining[j].pid == pid)
				draining[j].pid = 0;
		if ((died = helper_died(&gen->runner, pid, status,
		    &quick)) != 0) {
			if (died == 1)
				spawn_runner(gen);
			continue;
		}
		if ((died = helper_died(&gen->writer, pid, status,
		    &quick)) != 0) {
			if (died == 1)
				spawn_writer(gen);
			continue;
		}
		for (i = 0; i < gen->nworkers; i++) {
			if (gen->pids[i] != pid)
				continue;
			gen->pids[i] = 0;
			if (got_term)
				break;
			log_warnx("worker %ld %s %d; restarting", (long)pid,
			    WIFSIGNALED(status) ? "killed by signal" :
			    "exited with status", WIFSIGNALED(status) ?
			    WTERMSIG(status) : WEXITSTATUS(status));
			if (time(NULL) - gen->started[i] < 1)
				quick = 1;	/* wait a second: no fork storm */
			else
				spawn(gen, i);
		}
	}
	if (quick)
		alarm(1);
}

static void
respawn_missing(void)
{
	int	i;

	if (gen->runner.pid == 0 && gen->runner.hsock != -1)
		spawn_runner(gen);
	if (gen->writer.pid == 0 && gen->writer.hsock != -1)
		spawn_writer(gen);
	for (i = 0; i < gen->nworkers; i++)
		if (gen->pids[i] == 0)
			spawn(gen, i);
}

static int
children_left(void)
{
	size_t	j;
	int	i;

	for (i = 0; i < gen->nworkers; i++)
		if (gen->pids[i] > 0)
			return 1;
	for (j = 0; j < sizeof(draining) / sizeof(draining[0]); j++)
		if (draining[j].pid > 0)
			return 1;
	return 0;
}

/*
 * SIGTERM: workers finish their in-flight responses; runners are left to
 * end with them.  SIGKILL, when that takes too long: workers die at once,
 * and runners get SIGTERM, on which they kill every script they started
 * before they go (a SIGKILL would leave the scripts running, orphaned).
 */
static void
kill_all(int sig)
{
	size_t	j;

	retire(gen, sig);
	for (j = 0; j < sizeof(draining) / sizeof(draining[0]); j++) {
		if (draining[j].pid <= 0)
			continue;
		if (!draining[j].runner)
			kill(draining[j].pid, sig);
		else if (sig == SIGKILL)
			kill(draining[j].pid, SIGTERM);
	}
}

/*
 * systemd's readiness protocol (Type=notify): one datagram to the socket
 * named by NOTIFY_SOCKET.  Elsewhere the variable is unset and this does
 * nothing; no libsystemd needed.
 */
static void
notify(const char *state)
{
	struct sockaddr_un	 sun;
	const char		*path = getenv("NOTIFY_SOCKET");
	size_t			 len;
	int			 fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    (len = strlen(path)) >= sizeof(sun.sun_path))
		return;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, len);
	if (sun.sun_path[0] == '@')
		sun.sun_path[0] = '\0';	/* Linux abstract namespace */
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return;
	(void)sendto(fd, state, strlen(state), 0, (struct sockaddr *)&sun,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
	close(fd);
}

static void
supervise(const char *path)
{
	sigset_t	 mask, old;
	struct sigaction sa;
	time_t		 stop_at = 0;
	int		 sigs[] = { SIGHUP, SIGTERM, SIGINT, SIGCHLD, SIGUSR1,
			    SIGALRM };
	size_t		 i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], &sa, NULL);
		sigaddset(&mask, sigs[i]);
	}
	signal(SIGPIPE, SIG_IGN);
	/*
	 * For workers only: blocked here for good, and so in a worker from
	 * its fork until its own handler is set; one that comes before that
	 * is not lost (the worker, with nothing in flight yet, dies of it).
	 */
	sigaddset(&mask, SIG_RETIRE);
	sigprocmask(SIG_BLOCK, &mask, &old);
	sigaddset(&old, SIG_RETIRE);
	spawn_all(gen);
	log_info("serving %zu host(s) with %d worker(s)", gen->cf.nhosts,
	    gen->nworkers);
	notify("READY=1");
	for (;;) {
		sigsuspend(&old);
		if (got_chld) {
			got_chld = 0;
			reap();
		}
		if (got_term && stop_at == 0) {
			log_info("stopping: finishing in-flight responses");
			notify("STOPPING=1");
			kill_all(SIGTERM);
			stop_at = time(NULL) + gen->cf.stop_timeout + STOP_MARGIN;
			alarm(1);
		}
		if (stop_at != 0) {
			if (!children_left())
				break;
			if (time(NULL) >= stop_at)
				kill_all(SIGKILL);
			alarm(1);
			continue;
		}
		if (got_hup) {
			got_hup = 0;
			notify("RELOADING=1");
			reload(path);
			notify("READY=1");
		}
		if (got_usr1) {
			char	err[CONFIG_ERR_MAX];

			got_usr1 = 0;
			if (log_open_access(&gen->cf, err, sizeof(err)) == -1)
				log_warnx("reopening logs: %s", err);
			else if (gen->cf.access_log == ACCESS_FILE)
				renew_workers(gen);
		}
		if (got_alrm) {
			got_alrm = 0;
			respawn_missing();
		}
	}
	log_info("stopped");
}

int
main(int argc, char *argv[])
{
	const char	*path = DEFAULT_CONFIG;
	char		 err[CONFIG_ERR_MAX], abspath[PATH_MAX];
	int		 ch, dflag = 0, nflag = 0;

	while ((ch = getopt(argc, argv, "c:dnV")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'd':
			dflag = 1;
			break;
		case 'n':
			nflag = 1;
			break;
		case 'V':
			/* the library it runs with: OpenSSL, or OpenBSD's */
			printf("capsuled %s (%s)\n", CAPSULED_VERSION,
			    OpenSSL_version(OPENSSL_VERSION));
			return 0;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_init(1);
	if ((gen = gen_load(path, nflag, NULL, err, sizeof(err))) == NULL) {
		fprintf(stderr, "capsuled: %s\n", err);
		if (pidfd != -1)
			unlink(pidpath);
		return 1;
	}
	if (nflag) {
		fprintf(stderr, "capsuled: %s: configuration OK\n", path);
		return 0;
	}
	/* reloads happen after daemon(3) has moved to "/" */
	if (realpath(path, abspath) != NULL)
		path = abspath;
	if (mime_init() == -1)
		log_warnx("libmagic database not loaded: files with unknown "
		    "extensions are served as application/octet-stream");
	log_facility(gen->cf.syslog_facility, gen->cf.syslog_socket);
	if (dflag ? pidfile_write() == -1 : daemonise() == -1) {
		if (pidfd != -1)
			unlink(pidpath);
		return 1;
	}
	if (!dflag)
		log_init(0);
	if (shared_init((size_t)gen->nworkers * (size_t)gen->cf.max_connections,
	    err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return 1;
	}
	sandbox_describe(&gen->cf, &gen->sb);
	sandbox_parent(&gen->cf);
	supervise(path);
	if (pidfd != -1)
		unlink(pidpath);	/* before the lock goes with us */
	return 0;
}
