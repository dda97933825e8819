/*
 * main.c: flags, the pid file, going into the background, and the
 * start: the first generation (gen.c) is loaded, checked and bound
 * here, in the foreground, so that every start-up error is one line on
 * stderr; then the parent supervises (supervise.c).
 */
#include <sys/types.h>
#include <sys/file.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "config.h"
#include "gen.h"
#include "log.h"
#include "metrics.h"
#include "mime.h"
#include "sandbox.h"
#include "shared.h"
#include "supervise.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR	"/etc"
#endif
#define DEFAULT_CONFIG	SYSCONFDIR "/capsuled.ini"

static int			 pidfd = -1;	/* locked while we run */
static char			 pidpath[PATH_MAX];

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: capsuled [-dnV] [-c file]\n");
	exit(1);
}

/* A start-up error into err, cut to fit (a path may be PATH_MAX). */
static int __attribute__((format(printf, 3, 4)))
say(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
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
	    0644)) == -1)
		return say(err, errlen, "%s: pidfile %s: %s", cf->file,
		    cf->pidfile, errno == ELOOP ? "is a symbolic link "
		    "(refused)" : strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		n = errno == EWOULDBLOCK ? pread(fd, pid, sizeof(pid) - 1, 0) : 0;
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		if (errno == EWOULDBLOCK || n > 0)
			say(err, errlen, "pidfile %s is locked: capsuled "
			    "is already running (pid %s)", cf->pidfile,
			    *pid ? pid : "unknown");
		else
			say(err, errlen, "pidfile %s: lock: %s",
			    cf->pidfile, strerror(errno));
		close(fd);
		return -1;
	}
	n = snprintf(pidpath, sizeof(pidpath), "%s", cf->pidfile);
	if (n < 0 || (size_t)n >= sizeof(pidpath)) {
		close(fd);
		return say(err, errlen, "pidfile %s: path too long",
		    cf->pidfile);
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

int
main(int argc, char *argv[])
{
	struct generation	*g;
	const char		*path = DEFAULT_CONFIG;
	char			 err[CONFIG_ERR_MAX], abspath[PATH_MAX];
	int			 ch, dflag = 0, nflag = 0;

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
	/* the pid file is locked before anything is bound or made */
	if ((g = gen_config(path, err, sizeof(err))) == NULL ||
	    (!nflag && g->cf.pidfile[0] != '\0' &&
	    pidfile_lock(&g->cf, err, sizeof(err)) == -1) ||
	    gen_prepare(g, nflag, err, sizeof(err)) == -1 ||
	    (!nflag && gen_bind(g, NULL, err, sizeof(err)) == -1)) {
		fprintf(stderr, "capsuled: %s\n", err);
		gen_free(g, NULL);	/* nothing is bound */
		if (pidfd != -1)
			unlink(pidpath);
		return 1;
	}
	if (nflag) {
		fprintf(stderr, "capsuled: %s: configuration OK\n", path);
		gen_free(g, NULL);
		return 0;
	}
	/* reloads happen after daemon(3) has moved to "/" */
	if (realpath(path, abspath) != NULL)
		path = abspath;
	if (mime_init() == -1)
		log_warnx("libmagic database not loaded: files with unknown "
		    "extensions are served as application/octet-stream");
	log_facility(g->cf.syslog_facility, g->cf.syslog_socket);
	if (dflag ? pidfile_write() == -1 : daemonise() == -1) {
		if (pidfd != -1)
			unlink(pidpath);
		return 1;
	}
	if (!dflag)
		log_init(0);
	if (shared_init((size_t)g->nworkers * (size_t)g->cf.max_connections,
	    err, sizeof(err)) == -1 || metrics_init(err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return 1;
	}
	sandbox_describe(&g->cf, &g->sb);
	sandbox_parent(&g->cf);
	supervise(g, path, pidfd, pidpath);
	if (pidfd != -1)
		unlink(pidpath);	/* before the lock goes with us */
	return 0;
}
