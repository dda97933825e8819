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
#include <netinet/in.h>
#include <arpa/inet.h>

#include <dirent.h>
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
#include "limit.h"
#include "log.h"
#include "sandbox.h"
#include "selfpipe.h"
#include "titan.h"
#include "url.h"
#include "writer.h"

#define TEMP_PREFIX	".titan-"	/* ".titan-PID-HEX": a job's file */
#define WALK_DEPTH	16		/* directories deep, at most */

/* A job running: its child, and what the log and the caps need. */
struct job {
	size_t		 host;
	pid_t		 pid;
	char		 path[URL_MAX + 1];
	char		 addr[64];
};

static const struct config	*cf;
static const int		*rootfds;
static struct job		 jobs[WRITER_JOBS];
static struct titan_client	 clients[WRITER_JOBS];	/* jobs[i]'s */
static size_t			 running;
static pid_t			 writer_pid;
static volatile sig_atomic_t	 orphaned;	/* a job's: its writer died */

static long long
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The pid of a job's temporary file name, or 0 when it is not one. */
static pid_t
temp_pid(const char *name)
{
	const char	*p = name + sizeof(TEMP_PREFIX) - 1;
	long		 pid = 0;

	if (strncmp(name, TEMP_PREFIX, sizeof(TEMP_PREFIX) - 1) != 0 ||
	    *p < '1' || *p > '9')
		return 0;
	for (; *p >= '0' && *p <= '9' && pid < (1L << 30); p++)
		pid = pid * 10 + (*p - '0');
	if (*p++ != '-' || *p == '\0' || strspn(p, "0123456789abcdef") !=
	    strlen(p))
		return 0;
	return (pid_t)pid;
}

/*
 * Every entry beneath dirfd (not consumed), depth first, at most
 * WALK_DEPTH directories deep; no symlink is followed.  fn sees each
 * entry with its lstat.
 */
static void
walk(int dirfd, int depth, void (*fn)(int, const char *,
    const struct stat *, void *), void *arg)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	int		 fd, sub;

	if (depth > WALK_DEPTH || (fd = dup(dirfd)) == -1)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		fn(dirfd, de->d_name, &st, arg);
		if (!S_ISDIR(st.st_mode) || (sub = openat(dirfd, de->d_name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1)
			continue;
		walk(sub, depth + 1, fn, arg);
		close(sub);
	}
	closedir(d);
}

/* A job's file whose job is gone (pid 0 in *arg: any job not running). */
static void
remove_temp(int dirfd, const char *name, const struct stat *st, void *arg)
{
	pid_t	pid = temp_pid(name), want = *(pid_t *)arg;

	if (pid == 0 || !S_ISREG(st->st_mode) || (want != 0 && pid != want))
		return;
	/* not a job of a writer still running (a reload's old one) */
	if (want == 0 && (kill(pid, 0) == 0 || errno != ESRCH))
		return;
	if (unlinkat(dirfd, name, 0) == 0 && want == 0)
		log_info("titan writer: removed %s, left by a job that ended "
		    "before it was done", name);
}

static void
add_size(int dirfd, const char *name, const struct stat *st, void *arg)
{
	(void)dirfd;
	(void)name;
	if (S_ISREG(st->st_mode))
		*(long long *)arg += st->st_size;
}

/* The directory of path ("/news/a.gmi": "news/"), into dir. */
static const char *
dir_of(const char *path, char dir[URL_MAX + 1])
{
	const char	*name = strrchr(path, '/') + 1;

	memcpy(dir, path + 1, (size_t)(name - path - 1));
	dir[name - path - 1] = '\0';
	return name;
}

/*
 * At start: the files of jobs that ended before they were done (a
 * writer or job killed) beneath every titan directory, and only those.
 */
static void
remove_leftovers(void)
{
	const struct host_cfg	*h;
	size_t			 i, j;
	pid_t			 any = 0;
	int			 fd;

	for (i = 0; i < cf->nhosts; i++) {
		h = &cf->hosts[i];
		for (j = 0; j < h->ntitan; j++) {
			if ((fd = fs_open_dir(rootfds[i],
			    h->titan[j].path + 1)) == -1)
				continue;
			walk(fd, 0, remove_temp, &any);
			close(fd);
		}
	}
}

/* One line, in one write: the worker reads it whole. */
static void
say(int sock, const char *line)
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

/*
 * Wait for sock to be readable, at most ms; 1 readable, 0 not in time,
 * -1 the writer is gone (a job outlives it only to clean up: its slot
 * would be counted by nobody).
 */
static int
wait_worker(int sock, long long ms)
{
	struct pollfd	pfd;
	long long	end = now_ms() + ms, left;
	int		r;

	pfd.fd = sock;
	pfd.events = POLLIN;
	for (;;) {
		if (orphaned || getppid() != writer_pid)
			return -1;
		if ((left = end - now_ms()) <= 0)
			return 0;
		r = poll(&pfd, 1, left > 1000 ? 1000 : (int)left);
		if (r > 0)
			return 1;
		if (r == -1 && errno != EINTR)
			return 0;
	}
}

/* Exactly size bytes from sock into fd by end (ms); 0 or -1 and why. */
static int
copy_body(int sock, int fd, long long size, long long end, const char **why)
{
	char		buf[65536];
	long long	left = size;
	ssize_t		n, w, off;
	int		r;

	while (left > 0) {
		if ((r = wait_worker(sock, end - now_ms())) <= 0)
			return *why = r == 0 ? "the body did not come in time" :
			    "the writer is gone", -1;
		n = read(sock, buf, left < (long long)sizeof(buf) ?
		    (size_t)left : sizeof(buf));
		if (n == 0)
			return *why = "the body ended short", -1;
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

/* "R <inode>", then the worker's "C"; 0, or -1: it gave up (or we did). */
static int
ready(int sock, ino_t ino)
{
	char	line[64], c;

	(void)snprintf(line, sizeof(line), "R %llu", (unsigned long long)ino);
	say(sock, line);
	if (wait_worker(sock, (long long)cf->write_timeout * 1000) != 1 ||
	    read(sock, &c, 1) != 1 || c != 'C')
		return -1;
	return 0;
}

/* Is there room under titan_quota for size more bytes in this tree? */
static const char *
quota(const struct host_cfg *h, int rootfd, const char *rule,
    long long size, long long replaced, char *line, size_t len)
{
	long long	used = 0;
	int		fd;

	if (h->titan_quota == 0)
		return NULL;
	if ((fd = fs_open_dir(rootfd, rule + 1)) == -1)
		return "40 Cannot measure the directory for titan_quota";
	walk(fd, 0, add_size, &used);
	close(fd);
	if (used - replaced + size <= h->titan_quota)
		return NULL;
	(void)snprintf(line, len, "50 Over titan_quota: %s holds %lld of "
	    "%ld bytes, and this upload adds %lld", rule, used,
	    h->titan_quota, size - replaced);
	return line;
}

/*
 * Done: the rename (or unlink) has happened, so the answer is 30 even
 * when the directory cannot be synced (never "failed" for a change that
 * readers see); the log says so.
 */
static const char *
synced(int dirfd)
{
	if (fsync(dirfd) == -1)
		log_warnx("titan: the change is made, but syncing its "
		    "directory failed: %s", strerror(errno));
	return "30";
}

/* Write the body beside the target, then put it in place whole. */
static const char *
replace(int dirfd, const char *name, int sock, long long size,
    long long end, char *line, size_t len)
{
	char		 tmp[64];
	const char	*why = NULL;
	struct stat	 st;
	int		 fd;

	(void)snprintf(tmp, sizeof(tmp), TEMP_PREFIX "%ld-%lx",
	    (long)getpid(), (unsigned long)time(NULL));
	if ((fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0644)) == -1) {
		(void)snprintf(line, len, "40 Cannot store the upload: %s",
		    strerror(errno));
		return line;
	}
	say(sock, "A");
	if (copy_body(sock, fd, size, end, &why) == -1 ||
	    fchmod(fd, 0644) == -1 || fsync(fd) == -1 || fstat(fd, &st) == -1 ||
	    close(fd) == -1) {
		if (why == NULL)
			why = strerror(errno);
		(void)close(fd);	/* EBADF after a failed close: fine */
		goto fail;
	}
	if (ready(sock, st.st_ino) == -1) {
		why = "the worker gave up before the file was put in place";
		goto fail;
	}
	if (renameat(dirfd, tmp, dirfd, name) == -1) {
		why = strerror(errno);
		goto fail;
	}
	return synced(dirfd);
fail:
	unlinkat(dirfd, tmp, 0);
	(void)snprintf(line, len, "40 Upload failed: %s; nothing was stored",
	    why);
	return line;
}

/* size 0: the target goes, once the worker says so. */
static const char *
delete(int dirfd, const char *name, const struct stat *st, int sock)
{
	if (ready(sock, st->st_ino) == -1)
		return "40 Delete abandoned: the worker gave up";
	if (unlinkat(dirfd, name, 0) == -1)
		return errno == ENOENT ? "51 Not found" :
		    "40 Cannot delete the file";
	return synced(dirfd);
}

/* The child for one job: never returns. */
static void __attribute__((noreturn))
job_run(const struct job *j, const char *rule, long long size,
    long long end, int sock)
{
	const struct host_cfg	*h = &cf->hosts[j->host];
	char			 dir[URL_MAX + 1], line[WRITER_ANSWER];
	const char		*name = dir_of(j->path, dir), *why;
	struct stat		 st;
	int			 dirfd, exists;

	if ((dirfd = fs_open_dir(rootfds[j->host], dir)) == -1) {
		why = errno == ENOENT ? "51 No such directory" :
		    "50 The directory is not one uploads may go to";
		goto done;
	}
	exists = fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (exists && !S_ISREG(st.st_mode))
		why = "50 Only a regular file can be replaced";
	else if (size == 0)
		why = exists ? delete(dirfd, name, &st, sock) : "51 Not found";
	else if ((why = quota(h, rootfds[j->host], rule, size, exists ?
	    st.st_size : 0, line, sizeof(line))) == NULL)
		why = replace(dirfd, name, sock, size, end, line,
		    sizeof(line));
done:
	if (strcmp(why, "30") != 0)
		log_warnx("titan: %s %s from %s: %s", h->name, j->path,
		    j->addr, why);
	say(sock, why);
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

/* The titan PATH of h the path is under, as the worker should have
 * checked it; NULL if none. */
static const char *
path_rule(const struct host_cfg *h, const char *path)
{
	const char	*why;
	size_t		 i;

	if (strlen(path) > URL_MAX || path[0] != '/')
		return NULL;
	for (i = 0; i < h->ntitan; i++)
		if (titan_path_ok(path, h->titan[i].path, &why) == 0)
			return h->titan[i].path;
	return NULL;
}

/* The certificate (64 hex digits) and address of the job's client. */
static int
client(const char *hex, const char *addr, struct titan_client *who)
{
	struct sockaddr_in6	 sin6;
	struct sockaddr_in	 sin;
	struct limit_key	 k;
	size_t			 i;
	int			 hi, lo;

	memset(who, 0, sizeof(*who));
	if (strlen(hex) != 64)
		return -1;
	for (i = 0; i < 32; i++) {
		if ((hi = url_hexval((unsigned char)hex[2 * i])) < 0 ||
		    (lo = url_hexval((unsigned char)hex[2 * i + 1])) < 0)
			return -1;
		who->cert[i] = (unsigned char)(hi << 4 | lo);
	}
	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	sin.sin_family = AF_INET;
	sin6.sin6_family = AF_INET6;
	if (inet_pton(AF_INET, addr, &sin.sin_addr) == 1)
		(void)limit_key((struct sockaddr *)&sin, sizeof(sin), &k);
	else if (inet_pton(AF_INET6, addr, &sin6.sin6_addr) == 1)
		(void)limit_key((struct sockaddr *)&sin6, sizeof(sin6), &k);
	else
		return -1;
	memcpy(who->addr, k.b, sizeof(who->addr));
	return 0;
}

/* Everything the worker says about a job, checked again. */
struct job_msg {
	struct job		 j;
	struct titan_client	 who;
	const char		*rule;
	long long		 size, deadline;
};

static int
job_parse(const char *msg, size_t len, struct job_msg *m)
{
	const char		*p = msg, *end = msg + len, *v, *cert;
	const struct host_cfg	*h;
	long			 host;

	memset(m, 0, sizeof(*m));
	if ((v = field(&p, end, "HOST")) == NULL ||
	    (host = strtol(v, NULL, 10)) < 0 || (size_t)host >= cf->nhosts)
		return -1;
	h = &cf->hosts[host];
	m->j.host = (size_t)host;
	if ((v = field(&p, end, "PATH")) == NULL ||
	    (m->rule = path_rule(h, v)) == NULL)
		return -1;
	memcpy(m->j.path, v, strlen(v) + 1);
	if ((v = field(&p, end, "SIZE")) == NULL ||
	    (m->size = strtoll(v, NULL, 10)) < 0 ||
	    m->size > h->titan_max_size ||
	    (v = field(&p, end, "DEADLINE")) == NULL ||
	    (m->deadline = strtoll(v, NULL, 10)) <= 0 ||
	    (cert = field(&p, end, "CERT")) == NULL ||
	    (v = field(&p, end, "ADDR")) == NULL || p != end ||
	    strlen(v) >= sizeof(m->j.addr) || client(cert, v, &m->who) == -1)
		return -1;
	memcpy(m->j.addr, v, strlen(v) + 1);
	return 0;
}

static void
on_orphaned(int sig)
{
	(void)sig;
	orphaned = 1;
}

/*
 * A job ends with its writer (a new writer counts its jobs from zero):
 * told by SIGTERM (Linux: PR_SET_PDEATHSIG; elsewhere its waits look
 * at getppid), it removes its file, answers and goes, never renaming.
 */
static void
job_child(void)
{
	struct sigaction	sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_orphaned;	/* no SA_RESTART: poll returns */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGCHLD, SIG_DFL);
#ifdef PR_SET_PDEATHSIG
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1)
		_exit(1);
#endif
	if (getppid() != writer_pid)
		orphaned = 1;
}

/* Check a job and fork its child; sock is closed here either way. */
static void
job_start(const char *msg, size_t len, int sock)
{
	struct titan_caps	 caps;
	struct job_msg		 m;
	const char		*why;
	long long		 end;
	pid_t			 pid;

	if (job_parse(msg, len, &m) == -1) {
		log_warnx("titan writer: a job that does not check out; "
		    "dropped");
		goto done;
	}
	caps.jobs = WRITER_JOBS;
	caps.reserve = WRITER_RESERVE;
	caps.per_cert = cf->titan_jobs_per_cert;
	caps.per_addr = cf->titan_jobs_per_address;
	if ((why = titan_admit(clients, running, &m.who, &caps)) != NULL) {
		log_warnx("titan: %s %s from %s: not now: %s (%zu uploads "
		    "running)", cf->hosts[m.j.host].name, m.j.path, m.j.addr,
		    why, running);
		say(sock, WRITER_BUSY);
		goto done;
	}
	/* the worker's deadline, and a margin: it cuts the client off */
	end = now_ms() + m.deadline + (long long)cf->request_timeout * 1000;
	if ((pid = fork()) == -1) {
		log_warnx("titan writer: fork: %s", strerror(errno));
		say(sock, "40 Cannot store uploads now");
		goto done;
	}
	if (pid == 0) {
		job_child();
		job_run(&m.j, m.rule, m.size, end, sock);
	}
	m.j.pid = pid;
	jobs[running] = m.j;
	clients[running] = m.who;
	running++;
done:
	close(sock);
}

/* A job that ended without its outcome said: log it, and its file goes. */
static void
job_lost(const struct job *j, int status)
{
	char	dir[URL_MAX + 1];
	pid_t	pid = j->pid;
	int	fd;

	log_warnx("titan: %s %s from %s: the job (pid %ld) %s %d before it "
	    "was done; nothing of it is kept", cf->hosts[j->host].name,
	    j->path, j->addr, (long)pid, WIFSIGNALED(status) ?
	    "was killed by signal" : "exited with status", WIFSIGNALED(status) ?
	    WTERMSIG(status) : WEXITSTATUS(status));
	(void)dir_of(j->path, dir);
	if ((fd = fs_open_dir(rootfds[j->host], dir)) == -1)
		return;
	walk(fd, WALK_DEPTH, remove_temp, &pid);
	close(fd);
}

static void
reap(void)
{
	pid_t	pid;
	size_t	i;
	int	status;

	selfpipe_drain();
	while (running > 0 && (pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < running && jobs[i].pid != pid; i++)
			;
		if (i == running)
			continue;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			job_lost(&jobs[i], status);
		running--;
		jobs[i] = jobs[running];
		clients[i] = clients[running];
	}
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
	writer_pid = getpid();
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	/* SIGCHLD, and SIGTERM (the parent, stopping: kill what runs, go) */
	if (selfpipe_init() == -1)
		_exit(1);
	remove_leftovers();
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
