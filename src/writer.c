/*
 * writer.c: the Titan writer process (see writer.h).
 *
 * Its own process so that workers stay read-only: only the writer's
 * sandbox allows writing, and only beneath the `titan` directories.
 * One child per job, so that a slow client's upload never holds up
 * another, and blocking I/O with a timeout is all a job needs.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

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
#include "fs.h"
#include "log.h"
#include "sandbox.h"
#include "selfpipe.h"
#include "titan.h"
#include "writer.h"

static const struct config	*cf;
static const int		*rootfds;
static size_t			 running;

static void
reap(void)
{
	selfpipe_drain();
	while (running > 0 && waitpid(-1, NULL, WNOHANG) > 0)
		running--;
}

/* One line, in one write: the worker reads the answer whole. */
static void
answer(int sock, const char *line)
{
	char	buf[1100];
	int	n;

	n = snprintf(buf, sizeof(buf), "%s\n", line);
	if (n < 0 || (size_t)n >= sizeof(buf))
		n = snprintf(buf, sizeof(buf), "40 Answer too long\n");
	if (write(sock, buf, (size_t)n) != n) {
		/* the worker has gone: nobody is left to tell */
	}
}

/* Exactly size bytes from sock into fd, each wait bounded; 0 or -1. */
static int
copy_body(int sock, int fd, long long size, const char **why)
{
	char		buf[65536];
	struct pollfd	pfd;
	long long	left = size;
	ssize_t		n, w, off;

	pfd.fd = sock;
	pfd.events = POLLIN;
	while (left > 0) {
		if (poll(&pfd, 1, cf->request_timeout * 1000) <= 0)
			return *why = "body stalled past request_timeout", -1;
		n = read(sock, buf, left < (long long)sizeof(buf) ?
		    (size_t)left : sizeof(buf));
		if (n == 0)
			return *why = "body ended short", -1;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return *why = strerror(errno), -1;
		}
		for (off = 0; off < n; off += w)
			if ((w = write(fd, buf + off, (size_t)(n - off))) < 0)
				return *why = strerror(errno), -1;
		left -= n;
	}
	return 0;
}

/* Write the body beside the target, then put it in place whole. */
static const char *
replace(int dirfd, const char *name, int sock, long long size)
{
	char		 tmp[64];
	const char	*why = NULL;
	int		 fd;

	snprintf(tmp, sizeof(tmp), ".titan-%ld-%lx", (long)getpid(),
	    (unsigned long)time(NULL));
	if ((fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0644)) == -1)
		return strerror(errno);
	if (copy_body(sock, fd, size, &why) == -1 || fchmod(fd, 0644) == -1 ||
	    fsync(fd) == -1 || close(fd) == -1) {
		if (why == NULL)
			why = strerror(errno);
		(void)close(fd);	/* EBADF after a failed close: fine */
		unlinkat(dirfd, tmp, 0);
		return why;
	}
	if (renameat(dirfd, tmp, dirfd, name) == -1) {
		why = strerror(errno);
		unlinkat(dirfd, tmp, 0);
		return why;
	}
	return NULL;
}

/* The child for one job: never returns. */
static void __attribute__((noreturn))
job_run(const struct host_cfg *h, int rootfd, const char *path,
    long long size, int sock)
{
	char		 dir[URL_MAX + 1], line[WRITER_ANSWER];
	const char	*name = strrchr(path, '/') + 1, *why;
	struct stat	 st;
	int		 dirfd;

	memcpy(dir, path + 1, (size_t)(name - path - 1));
	dir[name - path - 1] = '\0';
	if ((dirfd = fs_open_dir(rootfd, dir)) == -1) {
		why = errno == ENOENT ? "51 No such directory" :
		    "50 The directory is not one uploads may go to";
		goto done;
	}
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    !S_ISREG(st.st_mode)) {
		why = "50 Only a regular file can be replaced";
		goto done;
	}
	if (size == 0) {
		if (unlinkat(dirfd, name, 0) == -1)
			why = errno == ENOENT ? "51 Not found" :
			    "40 Cannot delete the file";
		else
			why = fsync(dirfd) == -1 ? "40 Cannot sync" : "30";
		goto done;
	}
	if ((why = replace(dirfd, name, sock, size)) != NULL) {
		log_warnx("titan: %s %s: %s", h->name, path, why);
		snprintf(line, sizeof(line), "40 Upload failed: %s", why);
		why = line;
		goto done;
	}
	why = fsync(dirfd) == -1 ? "40 Cannot sync the directory" : "30";
done:
	answer(sock, why);
	_exit(0);
}

/* The value of "KEY=value" at *p, advancing p; NULL if key differs. */
static const char *
field(const char **p, const char *end, const char *key)
{
	const char	*s = *p, *nul;
	size_t		 klen = strlen(key);

	if ((nul = memchr(s, '\0', (size_t)(end - s))) == NULL ||
	    strncmp(s, key, klen) != 0 || s[klen] != '=')
		return NULL;
	*p = nul + 1;
	return s + klen + 1;
}

/* The path again, as the worker should have checked it. */
static int
path_allowed(const struct host_cfg *h, const char *path)
{
	const char	*why;
	size_t		 i;

	if (strlen(path) > URL_MAX || path[0] != '/')
		return 0;
	for (i = 0; i < h->ntitan; i++)
		if (titan_path_ok(path, h->titan[i].path, &why) == 0)
			return 1;
	return 0;
}

/* Check a job and fork its child; sock is closed here either way. */
static void
job_start(const char *msg, size_t len, int sock)
{
	const char		*p = msg, *end = msg + len, *v, *path;
	const struct host_cfg	*h;
	long			 host;
	long long		 size;
	pid_t			 pid;

	if ((v = field(&p, end, "HOST")) == NULL ||
	    (host = strtol(v, NULL, 10)) < 0 || (size_t)host >= cf->nhosts)
		goto bad;
	h = &cf->hosts[host];
	if ((path = field(&p, end, "PATH")) == NULL || !path_allowed(h, path))
		goto bad;
	if ((v = field(&p, end, "SIZE")) == NULL ||
	    (size = strtoll(v, NULL, 10)) < 0 || size > h->titan_max_size ||
	    p != end)
		goto bad;
	if (running >= WRITER_JOBS) {
		answer(sock, "44 5");
		goto bad;
	}
	if ((pid = fork()) == -1) {
		log_warnx("titan writer: fork: %s", strerror(errno));
		goto bad;
	}
	if (pid == 0) {
		signal(SIGTERM, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		job_run(h, rootfds[host], path, size, sock);
	}
	running++;
bad:
	close(sock);
}

/* One job from a worker, with its body's socket; -1: every worker gone. */
static int
receive(int sock)
{
	char		 msg[WRITER_MSG_MAX];
	ssize_t		 n;
	int		 fd;

	if ((n = fdpass_recv(sock, msg, sizeof(msg), &fd, 1)) <= 0)
		return (int)n;
	job_start(msg, (size_t)n, fd);
	return 0;
}

void
writer_main(const struct config *config, const int *roots, int sock)
{
	struct pollfd		 pfd[2];
	int			 open_sock = 1, tries;

	cf = config;
	rootfds = roots;
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	/* SIGCHLD, and SIGTERM (the parent, stopping: kill what runs, go) */
	if (selfpipe_init() == -1)
		_exit(1);
	while ((open_sock || running > 0) && !selfpipe_term()) {
		pfd[0].fd = selfpipe_fd();
		pfd[0].events = POLLIN;
		pfd[1].fd = open_sock ? sock : -1;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, -1) == -1 && errno != EINTR)
			break;
		reap();
		if (pfd[1].revents && receive(sock) == -1)
			open_sock = 0;
	}
	/* stopping: jobs in flight end within request_timeout; wait a bit */
	for (tries = 0; running > 0 && tries < 100; tries++) {
		reap();
		poll(NULL, 0, 10);
	}
	sandbox_leak_check();
	_exit(0);
}
