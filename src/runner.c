/*
 * runner.c: the CGI runner process, the only one that execs.
 *
 * It waits for jobs from the workers (runner.h), starts each script in
 * a new session (so it leads a process group of its own), and kills
 * that whole group with SIGKILL when the worker closes the job's
 * control socket or when the job's timeout passes.  On Linux it is the
 * child subreaper, so a script's orphaned children are reaped here too:
 * nothing is left behind, not even a zombie.
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

#include "cgi.h"
#include "config.h"
#include "log.h"
#include "runner.h"
#include "sandbox.h"

#define MAX_JOBS	1024

struct job {
	pid_t	pid;		/* leads the script's process group */
	int	ctl;		/* EOF here: the worker is done with it */
	long	deadline;	/* ms, monotonic */
};

static const struct config	*cf;
static const int		*rootfds;	/* rootfds[i]: cf->hosts[i] */
static struct job		 jobs[MAX_JOBS];
static size_t			 njobs;
static int			 sigpipe_fds[2] = { -1, -1 };
static volatile sig_atomic_t	 got_term;
static pid_t			 runner_pid;

static long
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* SIGCHLD, and SIGTERM (the parent, stopping: kill the scripts, go) */
static void
on_signal(int sig)
{
	int	saved = errno;

	if (sig == SIGTERM)
		got_term = 1;
	(void)write(sigpipe_fds[1], "s", 1);
	errno = saved;
}

static void
reap(void)
{
	char	buf[64];

	while (read(sigpipe_fds[0], buf, sizeof(buf)) > 0)
		;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
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

static void
job_end(size_t i)
{
	kill(-jobs[i].pid, SIGKILL);	/* ESRCH when it is all gone: fine */
	close(jobs[i].ctl);
	jobs[i] = jobs[--njobs];
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

/*
 * Run script (a path under the root) from the root's descriptor: into
 * its directory with fchdir and chdir, then exec "./name".  No absolute
 * path: the runner may be in a chroot, and need not be able to search
 * the directories above the root.
 */
static void __attribute__((noreturn))
exec_script(int rootfd, const char *script, char **env, int out)
{
	char		 dir[PATH_MAX], name[PATH_MAX], *slash, *argv[2];
	sigset_t	 none;
	int		 null;

	setsid();
#ifdef PR_SET_PDEATHSIG
	/* if the runner is killed outright, the script goes with it */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != runner_pid)
		_exit(127);
#endif
	if (dup2(out, STDOUT_FILENO) == -1)
		_exit(127);
	if ((null = open("/dev/null", O_RDONLY)) != -1) {
		dup2(null, STDIN_FILENO);
		if (null != STDIN_FILENO)
			close(null);
	}
	if (fchdir(rootfd) == -1)
		_exit(127);
	closefrom(STDERR_FILENO + 1);
	snprintf(dir, sizeof(dir), "%s", script);
	if ((slash = strrchr(dir, '/')) == NULL)
		_exit(127);	/* script_ok: always "cgidir/name" */
	*slash = '\0';
	if (chdir(dir) == -1 ||
	    snprintf(name, sizeof(name), "./%s", slash + 1) >=
	    (int)sizeof(name))
		_exit(127);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	argv[0] = name;
	argv[1] = NULL;
	execve(name, argv, env);
	_exit(127);
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
	long			 host, timeout;
	size_t			 n = 0;
	pid_t			 pid;

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
	if ((pid = fork()) == -1) {
		log_warnx("CGI runner: fork: %s", strerror(errno));
		goto bad;
	}
	if (pid == 0)
		exec_script(rootfds[host], script, env, out);
	close(out);
	jobs[njobs].pid = pid;
	jobs[njobs].ctl = ctl;
	jobs[njobs].deadline = now_ms() + timeout * 1000;
	njobs++;
	return;
bad:
	/* the worker sees its pipe end at once and answers 42 */
	close(out);
	close(ctl);
}

/*
 * A job's two descriptors (its stdout pipe, its control socket), in one
 * SCM_RIGHTS message and nothing else; any other shape is closed whole,
 * so not even a compromised worker can make the runner hoard descriptors.
 */
static int
take_fds(struct msghdr *mh, int fds[2])
{
	struct cmsghdr	*cm;
	size_t		 i, nfd;
	int		 fd, got = 0, nmsg = 0;

	for (cm = CMSG_FIRSTHDR(mh); cm != NULL; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		nmsg++;
		nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfd; i++) {
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(fd));
			if (got < 2)
				fds[got++] = fd;
			else
				close(fd);
		}
	}
	if (nmsg == 1 && got == 2 &&
	    (mh->msg_flags & (MSG_TRUNC | MSG_CTRUNC)) == 0)
		return 0;
	while (got-- > 0)
		close(fds[got]);
	return -1;
}

/* One job from a worker; -1 when every worker has gone. */
static int
receive(int sock)
{
	char		 msg[RUNNER_MSG_MAX];
	struct msghdr	 mh;
	struct iovec	 iov = { msg, sizeof(msg) };
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(2 * sizeof(int))];
	} cbuf;
	int		 fds[2];
	ssize_t		 n;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf.buf;
	mh.msg_controllen = sizeof(cbuf.buf);
	if ((n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC)) == 0)
		return -1;
	if (n < 0)
		return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
	if (take_fds(&mh, fds) == -1)
		return 0;
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
		if (pfd[i].revents != 0 &&
		    read(jobs[i].ctl, buf, sizeof(buf)) > 0)
			continue;	/* workers never write; ignore */
		if (pfd[i].revents != 0 || now >= jobs[i].deadline)
			job_end(i);
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
	struct pollfd		 pfd[MAX_JOBS + 2];
	struct sigaction	 sa;
	sigset_t		 none;
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
	if (pipe2(sigpipe_fds, O_CLOEXEC | O_NONBLOCK) == -1)
		_exit(1);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	while ((open_sock || njobs > 0) && !got_term) {
		n = njobs;
		for (i = 0; i < n; i++) {
			pfd[i].fd = jobs[i].ctl;
			pfd[i].events = POLLIN;
		}
		pfd[n].fd = sigpipe_fds[0];
		pfd[n].events = POLLIN;
		pfd[n + 1].fd = open_sock ? sock : -1;
		pfd[n + 1].events = POLLIN;
		if (poll(pfd, n + 2, next_timeout(now_ms())) == -1) {
			if (errno != EINTR)
				break;
			continue;
		}
		sock_ready = pfd[n + 1].revents;
		reap();
		expire(pfd, now_ms());
		if (sock_ready && receive(sock) == -1)
			open_sock = 0;
	}
	while (njobs > 0)
		job_end(njobs - 1);
	reap_all();
	free(cgi_dirs);
	sandbox_leak_check();
	_exit(0);
}
