/*
 * log.c: error and access logs.  See log.h.
 *
 * Syslog without syslog(3) on Linux: glibc's is a blocking send(2) on
 * /dev/log, so a stalled journald would stall every worker.  Ours is a
 * non-blocking datagram socket, connected before the sandbox closes; a
 * line the socket has no room for is dropped and counted, and the count
 * is said once the socket takes lines again.  OpenBSD's syslog(3) uses
 * sendsyslog(2), which does not block: it is used there.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "logfmt.h"

static void		(*lost_hook)(void);	/* log_on_lost */
static int		 foreground = 1;
static enum log_target	 access_target = ACCESS_STDERR;
static enum log_format	 access_format = LOG_CAPSULED;
static int		 access_fd = -1;	/* ACCESS_FILE */
static int		 facility = LOG_DAEMON;
static char		 access_name[PATH_MAX] = "stderr";
static unsigned long	 access_lost;	/* lines, since access_said */
static time_t		 access_said;	/* monotonic s; 0: all well */

#define LOST_REPORT	60	/* seconds between "lines lost" reports */

/* A line a log could not take: counted where log_on_lost says. */
static void
lost(void)
{
	if (lost_hook != NULL)
		lost_hook();
}

void
log_on_lost(void (*fn)(void))
{
	lost_hook = fn;
}

static time_t
mono_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

#ifndef __OpenBSD__
static char		 syslog_path[sizeof(((struct sockaddr_un *)0)->sun_path)]
			    = "/dev/log";
static int		 syslog_fd = -1;
static unsigned long	 syslog_dropped;	/* lines the socket refused */
static time_t		 syslog_tried;		/* last connect, monotonic s */

static void
syslog_connect(void)
{
	struct sockaddr_un	sun;

	if (syslog_fd != -1)
		close(syslog_fd);
	syslog_tried = mono_s();
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, syslog_path, sizeof(sun.sun_path));
	if ((syslog_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) != -1 && connect(syslog_fd,
	    (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(syslog_fd);
		syslog_fd = -1;
	}
}

/* One datagram, as syslog(3) writes it; never waits. */
static int
syslog_send(int prio, const char *line)
{
	char		 buf[LOGFMT_LINE_MAX + 128], ts[32];	/* and header */
	struct tm	 tm;
	time_t		 now = time(NULL);
	int		 n;

	if (syslog_fd == -1 && mono_s() != syslog_tried)
		syslog_connect();	/* at most once a second */
	if (syslog_fd == -1)
		return -1;
	localtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%b %e %H:%M:%S", &tm);
	n = snprintf(buf, sizeof(buf), "<%d>%s capsuled[%ld]: %s",
	    facility | prio, ts, (long)getpid(), line);
	if (n < 0)
		return -1;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	if (send(syslog_fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL) == n)
		return 0;
	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS) {
		close(syslog_fd);	/* the daemon restarted: reconnect */
		syslog_fd = -1;
	}
	return -1;
}

static void
syslog_line(int prio, const char *line)
{
	char	msg[256];

	if (syslog_dropped > 0) {
		snprintf(msg, sizeof(msg), "syslog: %lu line(s) dropped: the "
		    "log socket %s was full or gone", syslog_dropped,
		    syslog_path);
		if (syslog_send(LOG_WARNING, msg) == 0)
			syslog_dropped = 0;
	}
	if (syslog_dropped > 0 || syslog_send(prio, line) == -1) {
		syslog_dropped++;
		lost();
	}
}

void
log_init(int fg)
{
	foreground = fg;
	if (!fg && syslog_fd == -1)
		syslog_connect();
}

/* Also opens syslog in the foreground, for access_log = syslog. */
void
log_facility(int fac, const char *sock)
{
	facility = fac;
	if (sock != NULL)
		snprintf(syslog_path, sizeof(syslog_path), "%s", sock);
	syslog_connect();
}
#else
static void
syslog_line(int prio, const char *line)
{
	syslog(prio, "%s", line);
}

void
log_init(int fg)
{
	foreground = fg;
	if (!fg)
		openlog("capsuled", LOG_PID | LOG_NDELAY, facility);
}

void
log_facility(int fac, const char *sock)
{
	(void)sock;	/* sendsyslog(2) */
	facility = fac;
	closelog();
	openlog("capsuled", LOG_PID | LOG_NDELAY, facility);
}
#endif

int
log_open_access(const struct config *cf, char *err, size_t errlen)
{
	int	fd = -1;

	/*
	 * A failed reload leaves the running target and file as they were.
	 * Opened by root: a link planted in the directory is refused.
	 */
	if (cf->access_log == ACCESS_FILE && (fd = open(cf->access_log_file,
	    O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0640)) == -1) {
		snprintf(err, errlen, "%s: access_log %s: %s", cf->file,
		    cf->access_log_file, errno == ELOOP ? "is a symbolic "
		    "link (refused)" : strerror(errno));
		return -1;
	}
	if (access_fd != -1)
		close(access_fd);
	access_fd = fd;
	access_target = cf->access_log;
	access_format = cf->log_format;
	snprintf(access_name, sizeof(access_name), "%s",
	    cf->access_log == ACCESS_FILE ? cf->access_log_file :
	    cf->access_log == ACCESS_SYSLOG ? "syslog" : "stderr");
	access_lost = 0;
	access_said = 0;
	return 0;
}

/*
 * One line, one write: to stderr or a file, stamped with the time unless
 * the line has its own.  -1 when a file's write failed (errno says why),
 * or it was cut short.
 */
static int
emit(int fd, int prio, const char *line, int stamp)
{
	char		 buf[LOGFMT_LINE_MAX + 32], ts[32];
	struct tm	 tm;
	time_t		 now;
	ssize_t		 w;
	int		 n;

	if (fd == -1) {
		syslog_line(prio, line);
		return 0;
	}
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ ", &tm);
	n = snprintf(buf, sizeof(buf), "%s%s\n", stamp ? ts : "", line);
	if (n < 0)
		return 0;
	if ((size_t)n >= sizeof(buf)) {
		n = sizeof(buf) - 1;
		buf[n - 1] = '\n';
	}
	if ((w = write(fd, buf, n)) == n)
		return 0;
	if (w >= 0)
		errno = ENOSPC;		/* what a short write to a file means */
	return -1;
}

/* The format attribute lets clang check the callers (-Wformat=2). */
static void __attribute__((format(printf, 2, 0)))
vlog(int prio, const char *fmt, va_list ap)
{
	char	raw[2048], line[2048];
	int	n;

	n = vsnprintf(raw, sizeof(raw), fmt, ap);
	if (n < 0)
		return;
	log_escape(line, sizeof(line), raw, strlen(raw));
	(void)emit(foreground ? STDERR_FILENO : -1, prio, line, 1);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap);
	va_end(ap);
	errno = saved;
}

/*
 * The access log cannot be written (disk full, EIO): serving goes on,
 * and the error log says so at once, then at most once a minute with
 * the lines lost since.
 */
static void
access_failed(int err)
{
	time_t	now = mono_s();

	lost();
	access_lost++;
	if (access_said != 0 && now - access_said < LOST_REPORT)
		return;
	log_warnx("access log %s: %s: %lu line(s) lost%s", access_name,
	    strerror(err), access_lost, access_said != 0 ? " in the last "
	    "minute" : "; said again each minute while it lasts");
	access_said = now > 0 ? now : 1;
	access_lost = 0;
}

void
log_access(const struct access_entry *e)
{
	char	line[LOGFMT_LINE_MAX];
	int	fd;

	switch (access_target) {
	case ACCESS_OFF:
		return;
	case ACCESS_STDERR:
		fd = STDERR_FILENO;
		break;
	case ACCESS_FILE:
		fd = access_fd;
		break;
	default:
		fd = -1;
		break;
	}
	(void)logfmt_line(line, access_format, e, time(NULL));
	if (emit(fd, LOG_INFO, line, access_format == LOG_CAPSULED) == -1)
		access_failed(errno);
}
