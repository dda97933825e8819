/*
 * runner.c: the CGI runner process, the only one that execs.
 *
 * It waits for jobs from the workers (runner.h), starts each script in
 * a new session (so it leads a process group of its own), and kills
 * that whole group with SIGKILL when the worker closes the job's
 * control socket, when the job's timeout passes, or when the script's
 * own process exits: then the worker is told how it ended ("exit
 * <wait status>" on the control socket), so a background child left
 * holding stdout cannot hold the response, and a script that failed
 * after its header gets its body marked cut.  What a script writes to
 * stderr goes to the error log here, a line at a time, escaped.  On
 * Linux it is the child subreaper, so a script's orphaned children are
 * reaped here too: nothing is left behind, not even a zombie.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "fdpass.h"
#include "log.h"
#include "runner.h"
#include "sandbox.h"
#include "selfpipe.h"

#define MAX_JOBS	1024
#define ERR_LINE	256	/* longer stderr lines are split */
#define ERR_LINES	100	/* stderr lines logged per job, at most */

struct job {
	long	deadline;	/* ms, monotonic */
	size_t	linelen;
	pid_t	pid;		/* leads the script's process group */
	int	ctl;		/* EOF here: the worker is done with it */
	int	err;		/* the script's stderr, read end */
	int	lines;		/* stderr lines logged */
	char	name[64];	/* the script, for the error log */
	char	line[ERR_LINE];	/* a stderr line so far: linelen */
};

static const struct config	*cf;
static const int		*rootfds;	/* rootfds[i]: cf->hosts[i] */
static struct job		 jobs[MAX_JOBS];
static size_t			 njobs;
static pid_t			 runner_pid;

static long
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Before exiting: wait, a second at most, for the scripts just killed,
 * so none is left a zombie for init (which may not reap, in a
 * container).  Only a process that left its group is not waited for.
 */
static void
reap_all(void)
{
	pid_t	pid;
	int	tries;

	for (tries = 0; tries < 100; tries++) {
		while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
			;
		if (pid == -1 && errno == ECHILD)
			return;
		poll(NULL, 0, 10);
	}
}

/* One line of a script's stderr to the error log (which escapes it). */
static void
err_line(struct job *j)
{
	char	line[ERR_LINE + 1];
	size_t	i;

	if (j->linelen == 0 || j->lines > ERR_LINES) {
		j->linelen = 0;
		return;
	}
	for (i = 0; i < j->linelen; i++)	/* a NUL would end it early */
		line[i] = j->line[i] == '\0' ? '?' : j->line[i];
	line[i] = '\0';
	if (j->lines++ == ERR_LINES)
		log_warnx("CGI %s: stderr: more lines dropped", j->name);
	else
		log_warnx("CGI %s: stderr: %s", j->name, line);
	j->linelen = 0;
}

/* What the script wrote to stderr: whole lines go to the log.  64 KB
 * a turn at most, so a script pouring it out cannot hold the runner. */
static void
err_read(struct job *j, int last)
{
	char	 buf[4096], *p, *nl;
	ssize_t	 n;
	size_t	 take;
	int	 turn;

	for (turn = 0; j->err != -1 && turn < 16; turn++) {
		if ((n = read(j->err, buf, sizeof(buf))) == 0) {
			err_line(j);	/* a last line without its newline */
			close(j->err);
			j->err = -1;	/* every writer has gone */
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (p = buf; p < buf + n; p += take) {
			nl = memchr(p, '\n', buf + n - p);
			take = (nl ? nl + 1 : buf + n) - p;
			if (take > sizeof(j->line) - j->linelen)
				take = sizeof(j->line) - j->linelen;
			memcpy(j->line + j->linelen, p, take);
			j->linelen += take;
			if (j->line[j->linelen - 1] == '\n') {
				j->linelen--;
				err_line(j);
			} else if (j->linelen == sizeof(j->line))
				err_line(j);
		}
	}
	if (last)
		err_line(j);	/* a last line without its newline */
}

/*
 * The job is over: kill its group, and its own process too (it may
 * not have made the group yet: a job ended at once), unless that has
 * been reaped (its pid may be anyone's now).  say: how it ended, for
 * the worker; NULL tells it nothing (the worker ended it, or time ran
 * out).
 */
static void
job_end(size_t i, const char *say)
{
	struct job	*j = &jobs[i];

	kill(-j->pid, SIGKILL);		/* ESRCH when it is all gone: fine */
	if (say == NULL)
		kill(j->pid, SIGKILL);
	else
		(void)send(j->ctl, say, strlen(say), MSG_DONTWAIT |
		    MSG_NOSIGNAL);
	err_read(j, 1);
	if (j->err != -1)
		close(j->err);
	close(j->ctl);
	jobs[i] = jobs[--njobs];
}

static size_t
job_find(pid_t pid)
{
	size_t	i;

	for (i = 0; i < njobs && jobs[i].pid != pid; i++)
		;
	return i;
}

/*
 * Reap children.  A script whose own process has exited has its group
 * killed (what it left behind), and its worker is told how it ended.
 * The process is looked at before it is reaped (WNOWAIT: POSIX, and
 * OpenBSD since 7.0), so its pid, and so its group's id, cannot have
 * gone to another process when the group is killed.
 */
static void
reap(void)
{
	char		 buf[64];	/* the word to the worker */
	pid_t		 pid;
	size_t		 i;
	int		 st;
#ifdef WNOWAIT
	siginfo_t	 si;
#endif

	selfpipe_drain();
	for (;;) {
#ifdef WNOWAIT
		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == -1 ||
		    (pid = si.si_pid) == 0)
			break;
		if ((i = job_find(pid)) < njobs)
			kill(-pid, SIGKILL);
		if (waitpid(pid, &st, 0) != pid)
			break;
#else
		if ((pid = waitpid(-1, &st, WNOHANG)) <= 0)
			break;
		if ((i = job_find(pid)) < njobs)
			kill(-pid, SIGKILL);	/* members keep the id */
#endif
		if (i < njobs) {
			snprintf(buf, sizeof(buf), "exit %d\n", st);
			job_end(i, buf);
		}
	}
}

/* The value of "KEY=value" at *p, advancing p; NULL if key differs. */
static const char *
field(const char **p, const char *end, const char *key)
{
	const char	*s = *p, *nul;
	size_t		 klen = strlen(key);

	if ((nul = memchr(s, '\0', end - s)) == NULL ||
	    strncmp(s, key, klen) != 0 || s[klen] != '=')
		return NULL;
	*p = nul + 1;
	return s + klen + 1;
}

/* A script path as the worker found it: under the host's cgi dir, no
 * dot segment, nothing a worker could use to point elsewhere. */
static int
script_ok(const struct host_cfg *h, const char *script)
{
	size_t	dirlen = strlen(h->cgi);

	return strncmp(script, h->cgi, dirlen) == 0 &&
	    script[dirlen] == '/' && script[dirlen + 1] != '\0' &&
	    strstr(script, "/.") == NULL && strstr(script, "//") == NULL;
}

/* Tell the worker why the script could not start, and give up. */
static void __attribute__((noreturn))
exec_fail(int ctl, const char *what)
{
	char	msg[64];
	int	n;

	n = snprintf(msg, sizeof(msg), "fail %d %s\n", errno, what);
	if (n > 0 && (size_t)n < sizeof(msg))
		(void)send(ctl, msg, (size_t)n, MSG_NOSIGNAL);
	_exit(127);
}

/* Every disposition back to the default, nothing blocked: the runner
 * ignores SIGINT, SIGHUP and SIGPIPE, and a script would inherit that. */
static void
signals_default(void)
{
	struct sigaction	sa;
	sigset_t		none;
	int			sig;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &sa, NULL);  /* EINVAL: KILL, STOP */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/*
 * Run script (a path under the root) from the root's descriptor: into
 * its directory with fchdir and chdir, then exec "./name".  No absolute
 * path: the runner may be in a chroot, and need not be able to search
 * the directories above the root.  The control socket stays open (close
 * on exec) at fd 3 until the exec, for exec_fail.
 */
static void __attribute__((noreturn))
exec_script(int rootfd, const char *script, char **env, const int fds[3])
{
	char		 dir[PATH_MAX], name[PATH_MAX], *slash, *argv[2];
	int		 null, ctl = 3;

	setsid();
#ifdef PR_SET_PDEATHSIG
	/* if the runner is killed outright, the script goes with it */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != runner_pid)
		_exit(127);
#endif
	signals_default();
	if (fchdir(rootfd) == -1)	/* before its fd may be reused */
		exec_fail(fds[2], "root");
	if (fds[2] < 3 || dup2(fds[0], STDOUT_FILENO) == -1 ||
	    dup2(fds[1], STDERR_FILENO) == -1 || dup2(fds[2], ctl) == -1 ||
	    fcntl(ctl, F_SETFD, FD_CLOEXEC) == -1)
		_exit(127);
	closefrom(ctl + 1);
	/* never the runner's stdin (a terminal, the journal) */
	if ((null = open("/dev/null", O_RDONLY)) == -1)
		exec_fail(ctl, "/dev/null");
	if (null != STDIN_FILENO && (dup2(null, STDIN_FILENO) == -1 ||
	    close(null) == -1))
		exec_fail(ctl, "/dev/null");
	snprintf(dir, sizeof(dir), "%s", script);
	if ((slash = strrchr(dir, '/')) == NULL)
		_exit(127);	/* script_ok: always "cgidir/name" */
	*slash = '\0';
	if (chdir(dir) == -1)
		exec_fail(ctl, "chdir");
	if (snprintf(name, sizeof(name), "./%s", slash + 1) >=
	    (int)sizeof(name))
		_exit(127);
	if (sandbox_script() == -1)
		exec_fail(ctl, "sandbox");
	argv[0] = name;
	argv[1] = NULL;
	execve(name, argv, env);
	exec_fail(ctl, "exec");
}

/*
 * Each host's cgi directory as found at start (issue 11): the runner's
 * Landlock rule allows execution beneath that directory, not beneath a
 * path, so a directory made, or renamed over it, since cannot run
 * scripts until a reload starts a new runner.  Said once per host.
 */
struct cgi_dir {
	dev_t	dev;
	ino_t	ino;
	int	said;
};
static struct cgi_dir	*cgi_dirs;

static void
cgi_dir_id(size_t i, struct cgi_dir *d)
{
	struct stat	st;

	d->dev = 0;
	d->ino = 0;
	if (cf->hosts[i].cgi[0] != '\0' && fstatat(rootfds[i],
	    cf->hosts[i].cgi, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		d->dev = st.st_dev;
		d->ino = st.st_ino;
	}
}

static void
cgi_dir_check(size_t i)
{
	struct cgi_dir	now;

	if (cgi_dirs == NULL || cgi_dirs[i].said)
		return;
	cgi_dir_id(i, &now);
	if (now.dev == cgi_dirs[i].dev && now.ino == cgi_dirs[i].ino)
		return;
	cgi_dirs[i].said = 1;
	log_warnx("host %s: cgi directory %s was %s after the CGI runner "
	    "started: where the kernel has Landlock its scripts fail (42) "
	    "until a reload (SIGHUP)", cf->hosts[i].name, cf->hosts[i].cgi,
	    cgi_dirs[i].ino == 0 ? "created" : "replaced");
}

/* Check a job and start it; the fds are closed here either way. */
static void
job_start(const char *msg, size_t len, int out, int ctl)
{
	const char		*p = msg, *end = msg + len, *v;
	const struct host_cfg	*h;
	char			*env[RUNNER_ENV_MAX + 1];
	const char		*script;
	struct job		*j;
	long			 host, timeout;
	size_t			 n = 0;
	pid_t			 pid;
	int			 err[2] = { -1, -1 }, fds[3];

	if ((v = field(&p, end, "HOST")) == NULL ||
	    (host = strtol(v, NULL, 10)) < 0 || (size_t)host >= cf->nhosts)
		goto bad;
	h = &cf->hosts[host];
	if ((script = field(&p, end, "SCRIPT")) == NULL ||
	    !script_ok(h, script) || strlen(script) >= PATH_MAX)
		goto bad;
	cgi_dir_check((size_t)host);
	if ((v = field(&p, end, "TIMEOUT")) == NULL ||
	    (timeout = strtol(v, NULL, 10)) < 1 || timeout > 3600)
		goto bad;
	while (p < end && n < RUNNER_ENV_MAX) {
		if ((v = memchr(p, '\0', end - p)) == NULL ||
		    strchr(p, '=') == NULL)
			goto bad;
		env[n++] = (char *)p;
		p = v + 1;
	}
	env[n] = NULL;
	if (p != end || njobs == MAX_JOBS)
		goto bad;
	if (pipe2(err, O_CLOEXEC) == -1 ||
	    fcntl(err[0], F_SETFL, O_NONBLOCK) == -1) {
		log_warnx("CGI runner: pipe: %s", strerror(errno));
		goto bad;
	}
	fds[0] = out;
	fds[1] = err[1];
	fds[2] = ctl;
	if ((pid = fork()) == -1) {
		log_warnx("CGI runner: fork: %s", strerror(errno));
		goto bad;
	}
	if (pid == 0)
		exec_script(rootfds[host], script, env, fds);
	close(out);
	close(err[1]);
	j = &jobs[njobs++];
	memset(j, 0, sizeof(*j));
	j->pid = pid;
	j->ctl = ctl;
	j->err = err[0];
	j->deadline = now_ms() + timeout * 1000;
	snprintf(j->name, sizeof(j->name), "%s", script);
	return;
bad:
	/* the worker sees its pipe end at once and answers 42 */
	if (err[0] != -1) {
		close(err[0]);
		close(err[1]);
	}
	close(out);
	close(ctl);
}

/*
 * One job from a worker, with its two descriptors (its stdout pipe, its
 * control socket); -1 when every worker has gone.
 */
static int
receive(int sock)
{
	char		 msg[RUNNER_MSG_MAX];
	int		 fds[2];
	ssize_t		 n;

	if ((n = fdpass_recv(sock, msg, sizeof(msg), fds, 2)) <= 0)
		return (int)n;
	job_start(msg, (size_t)n, fds[0], fds[1]);
	return 0;
}

/* Jobs whose worker closed the control socket or whose time is up. */
static void
expire(const struct pollfd *pfd, long now)
{
	char	buf[16];
	size_t	i = njobs;

	while (i-- > 0) {
		if (pfd[2 * i + 1].revents != 0)
			err_read(&jobs[i], 0);
		if (pfd[2 * i].revents != 0 &&
		    read(jobs[i].ctl, buf, sizeof(buf)) > 0)
			continue;	/* workers never write; ignore */
		if (pfd[2 * i].revents != 0 || now >= jobs[i].deadline)
			job_end(i, NULL);
	}
}

static int
next_timeout(long now)
{
	long	t = -1;
	size_t	i;

	for (i = 0; i < njobs; i++)
		if (t == -1 || jobs[i].deadline - now < t)
			t = jobs[i].deadline - now;
	return t < 0 ? (njobs ? 0 : -1) : (int)(t > 60000 ? 60000 : t);
}

void
cgi_runner_main(const struct config *config, const int *roots, int sock)
{
	struct pollfd		 pfd[2 * MAX_JOBS + 2];
	int			 open_sock = 1;
	short			 sock_ready;
	size_t			 i, n;

	cf = config;
	rootfds = roots;
	runner_pid = getpid();
	if ((cgi_dirs = calloc(cf->nhosts, sizeof(*cgi_dirs))) != NULL)
		for (i = 0; i < cf->nhosts; i++)
			cgi_dir_id(i, &cgi_dirs[i]);
	signal(SIGINT, SIG_IGN);	/* the parent stops us via the workers */
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
#ifdef PR_SET_CHILD_SUBREAPER
	prctl(PR_SET_CHILD_SUBREAPER, 1);
#endif
	/* SIGCHLD, and SIGTERM (the parent, stopping: kill what runs, go) */
	if (selfpipe_init() == -1)
		_exit(1);

	while ((open_sock || njobs > 0) && !selfpipe_term()) {
		n = njobs;
		for (i = 0; i < n; i++) {
			pfd[2 * i].fd = jobs[i].ctl;
			pfd[2 * i].events = POLLIN;
			pfd[2 * i + 1].fd = jobs[i].err;
			pfd[2 * i + 1].events = POLLIN;
		}
		pfd[2 * n].fd = selfpipe_fd();
		pfd[2 * n].events = POLLIN;
		pfd[2 * n + 1].fd = open_sock ? sock : -1;
		pfd[2 * n + 1].events = POLLIN;
		if (poll(pfd, 2 * n + 2, next_timeout(now_ms())) == -1) {
			if (errno != EINTR)
				break;
			continue;
		}
		sock_ready = pfd[2 * n + 1].revents;
		/* expire first: reap may reorder the jobs pfd was made from */
		expire(pfd, now_ms());
		reap();
		if (sock_ready && receive(sock) == -1)
			open_sock = 0;
	}
	while (njobs > 0)
		job_end(njobs - 1, NULL);
	reap_all();
	free(cgi_dirs);
	sandbox_leak_check();
	_exit(0);
}
