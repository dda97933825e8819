/*
 * supervise.c: the parent, once it serves (see supervise.h).
 *
 * It forks the workers and the helpers (the CGI runner, the Titan
 * writer) of the current generation and restarts what dies.  A reload
 * (SIGHUP) builds a complete new generation (config, TLS contexts,
 * roots, sockets, workers) and only then tells the old workers to
 * finish their in-flight responses and exit; if anything in the new
 * config is wrong the old generation keeps serving and the error is
 * logged.
 */
#include <sys/types.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "access.h"
#include "cgi.h"
#include "config.h"
#include "gen.h"
#include "helper.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "runner.h"
#include "sandbox.h"
#include "server.h"
#include "shared.h"
#include "supervise.h"
#include "upconn.h"
#include "upload.h"
#include "writer.h"

#define STOP_MARGIN	5	/* past stop_timeout: the parent kills */
#define REBIND_TRIES	40	/* 50 ms apart: old workers let go */

static struct generation	*gen;
static unsigned			 gen_serial;	/* gen's, for draining */
/*
 * Old workers, and old helpers (which end once their workers have), by
 * generation.  At most MAX_DRAINING generations finish their responses
 * at once: a reload past that is refused (the table was fixed and
 * silently full).
 */
#define MAX_DRAINING	16
static struct {
	pid_t		pid;
	int		helper;
	unsigned	gen;
} draining[MAX_DRAINING * (GEN_MAX_WORKERS + 2)];
static volatile sig_atomic_t	 got_hup, got_term, got_chld, got_usr1,
				 got_alrm;
static int			 pidfd = -1;	/* the parent's alone */
static const char		*pidpath;

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

/* Name a child for ps(1) and top(1): "capsuled-worker" and so on. */
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

static int
uses_titan(const struct config *cf)
{
	size_t	i;

	for (i = 0; i < cf->nhosts; i++)
		if (cf->hosts[i].ntitan > 0)
			return 1;
	return 0;
}

/* In a helper's child: its own end only, nothing of the other's. */
static void
helper_start(struct generation *g, struct helper *h, const char *title)
{
	size_t	i;

	proc_title(title);
	helper_child(h);	/* or it would never see EOF */
	if (pidfd != -1)
		close(pidfd);	/* as in spawn: the lock stays here */
	helper_close(h == &g->runner ? &g->writer : &g->runner);
	for (i = 0; i < g->cf.nlisten; i++)
		close(g->listenfds[i]);
}

/* The CGI runner (scripts answer 42 while there is none). */
static void
spawn_runner(struct generation *g)
{
	if (!uses_cgi(&g->cf) || helper_fork(&g->runner) != 0)
		return;
	helper_start(g, &g->runner, "cgi");
	if (sandbox_runner(&g->cf, &g->sb, g->rootfds) == -1)
		_exit(1);
	cgi_runner_main(&g->cf, g->rootfds, g->runner.hsock);
}

/* The Titan writer (uploads answer 40 while there is none). */
static void
spawn_writer(struct generation *g)
{
	if (!uses_titan(&g->cf) || helper_fork(&g->writer) != 0)
		return;
	helper_start(g, &g->writer, "titan");
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
		metrics_worker(slot, &g->cf);
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
		cgi_worker_init(g->runner.wsock);
		upload_worker_init(g->writer.wsock);
		upconn_worker_init(&g->cf, &g->up);
		if (sandbox_worker(&g->cf, &g->sb, g->rootfds) == -1)
			_exit(1);
		server_worker(&g->cf, &g->tls, g->listenfds, g->rootfds);
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

	metrics_hosts(&g->cf);
	spawn_runner(g);
	spawn_writer(g);
	for (i = 0; i < g->nworkers; i++)
		spawn(g, i);
}

static void
drain_add(pid_t pid, int helper)
{
	size_t	i;

	for (i = 0; i < sizeof(draining) / sizeof(draining[0]); i++)
		if (draining[i].pid == 0) {
			draining[i].pid = pid;
			draining[i].helper = helper;
			draining[i].gen = gen_serial;
			return;
		}
}

/*
 * Why a reload (or a log rotation's new workers) cannot start now, or
 * NULL: MAX_DRAINING generations are still finishing their responses,
 * or the shared slots are too few for new workers.
 */
static const char *
drain_full(int workers)
{
	unsigned	seen[MAX_DRAINING] = { 0 };
	size_t		i, j, n = 0;

	for (i = 0; i < sizeof(draining) / sizeof(draining[0]); i++) {
		if (draining[i].pid <= 0)
			continue;
		for (j = 0; j < n && seen[j] != draining[i].gen; j++)
			;
		if (j < n)
			continue;
		if (n == MAX_DRAINING - 1)
			return "16 older generations are still finishing their "
			    "responses";
		seen[n++] = draining[i].gen;
	}
	if (shared_slots_free() < (size_t)workers)
		return "too many old workers are still finishing their "
		    "responses";
	return NULL;
}

static void
drain_helper(struct helper *h)
{
	pid_t	pid;

	if ((pid = helper_retire(h)) > 0)
		drain_add(pid, 1);
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
	const char	*why;
	int		 i;

	if ((why = drain_full(g->nworkers)) != NULL) {
		log_warnx("log rotation: the workers go on writing to the old "
		    "file for now: %s", why);
		return;
	}
	for (i = 0; i < g->nworkers; i++) {
		if (g->pids[i] > 0) {
			kill(g->pids[i], SIG_RETIRE);
			drain_add(g->pids[i], 0);
			g->pids[i] = 0;
		}
		spawn(g, i);
	}
	gen_serial++;	/* the old ones drain as a generation of their own */
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
	drain_helper(&g->runner);
	drain_helper(&g->writer);
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
			kept |= gen_same_addr(&gen->cf.listen[i],
			    &g->cf.listen[j]);
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
	const char		*why;
	char			 err[CONFIG_ERR_MAX];

	if ((why = drain_full(GEN_MAX_WORKERS)) != NULL) {
		log_warnx("reload refused, still serving the old config: %s; "
		    "try again once they have, or stop and start", why);
		return;
	}
	if ((g = gen_config(path, err, sizeof(err))) == NULL) {
		log_warnx("reload failed, still serving the old config: %s",
		    err);
		return;
	}
	if (gen_prepare(g, 0, err, sizeof(err)) == -1 ||
	    (gen_bind(g, gen, err, sizeof(err)) == -1 &&
	    (errno != EADDRINUSE || !gen_overlaps(g, gen) ||
	    handover(g, err, sizeof(err)) == -1))) {
		log_warnx("reload failed, still serving the old config: %s",
		    err);
		gen_free(g, NULL);
		return;
	}
	if (strcmp(g->cf.pidfile, gen->cf.pidfile) != 0)
		log_warnx("reload: a new pidfile takes effect at the next "
		    "start; still using %s", pidpath != NULL && pidpath[0] ?
		    pidpath : "none");
	log_facility(g->cf.syslog_facility, g->cf.syslog_socket);
	sandbox_describe(&g->cf, &g->sb);
	gen_close_fds(gen, g);	/* before the fork: the old processes have theirs */
	spawn_all(g);
	retire(gen, SIG_RETIRE);
	gen_free(gen, g);
	gen = g;
	gen_serial++;
	shared_set_stop_timeout(gen->cf.stop_timeout);
	log_info("reloaded %s: %zu host(s), %d worker(s)", path,
	    gen->cf.nhosts, gen->nworkers);
}

/* Reap children; restart a current worker unless it keeps dying. */
static void
reap(void)
{
	pid_t	pid;
	int	status, i, died, quick = 0;
	size_t	j;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		metrics_reaped(shared_slot_release(pid));
		for (j = 0; j < sizeof(draining) / sizeof(draining[0]); j++)
			if (draining[j].pid == pid)
				draining[j].pid = 0;
		if ((died = helper_died(&gen->runner, pid, status, got_term,
		    &quick)) != 0) {
			if (died == 1)
				spawn_runner(gen);
			continue;
		}
		if ((died = helper_died(&gen->writer, pid, status, got_term,
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
			metrics_worker_died();
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
		if (!draining[j].helper)
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

void
supervise(struct generation *g, const char *path, int parentfd,
    const char *parentpath)
{
	sigset_t	 mask, old;
	struct sigaction sa;
	time_t		 stop_at = 0;
	int		 sigs[] = { SIGHUP, SIGTERM, SIGINT, SIGCHLD, SIGUSR1,
			    SIGALRM };
	size_t		 i;

	gen = g;
	pidfd = parentfd;
	pidpath = parentpath;
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
	shared_set_stop_timeout(gen->cf.stop_timeout);
	spawn_all(gen);
	log_info("serving %zu host(s) with %d worker(s)", gen->cf.nhosts,
	    gen->nworkers);
	notify("READY=1");
	for (;;) {
		/* sigsuspend(), woken for metrics_file when it is due too */
		(void)pselect(0, NULL, NULL, NULL, metrics_tick(&gen->cf),
		    &old);
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

