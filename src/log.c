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
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "request.h"
#include "titan.h"
#include "url.h"

static int		 foreground = 1;
static enum log_target	 access_target = ACCESS_STDERR;
static int		 access_fd = -1;	/* ACCESS_FILE */
static int		 facility = LOG_DAEMON;
static char		 access_name[PATH_MAX] = "stderr";
static unsigned long	 access_lost;	/* lines, since access_said */
static time_t		 access_said;	/* monotonic s; 0: all well */

#define LOST_REPORT	60	/* seconds between "lines lost" reports */

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
	char		 buf[4352], ts[32];	/* an access line is < 4 KB */
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
	if (syslog_dropped > 0 || syslog_send(prio, line) == -1)
		syslog_dropped++;
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
	snprintf(access_name, sizeof(access_name), "%s",
	    cf->access_log == ACCESS_FILE ? cf->access_log_file :
	    cf->access_log == ACCESS_SYSLOG ? "syslog" : "stderr");
	access_lost = 0;
	access_said = 0;
	return 0;
}

/*
 * How many bytes at src[i] go to the log as they are: a printable ASCII
 * byte, or a whole well-formed UTF-8 character that is not a C1 control
 * (U+0080-U+009F: CSI among them, a terminal escape to 8-bit terminals);
 * 0 when the byte must be escaped.
 */
static size_t
plain_len(const char *src, size_t len, size_t i)
{
	unsigned char	c = (unsigned char)src[i];
	uint32_t	cp;
	size_t		n;

	if (c < 0x80)
		return c < 0x20 || c == 0x7f || c == '\\' || c == '"' ? 0 : 1;
	if ((n = url_utf8_decode(src + i, len - i, &cp)) == 0 ||
	    (cp >= 0x80 && cp <= 0x9f))
		return 0;
	return n;
}

/* log_escape, and *used: how much of src fit. */
static size_t
escape(char *dst, size_t dstlen, const char *src, size_t len, size_t *used)
{
	static const char hex[] = "0123456789abcdef";
	size_t		 o = 0, i = 0, n;
	unsigned char	 c;

	*used = 0;
	if (dstlen == 0)
		return 0;
	while (i < len) {
		if ((n = plain_len(src, len, i)) > 0) {
			if (o + n >= dstlen)
				break;
			memcpy(dst + o, src + i, n);
			o += n;
			i += n;
			continue;
		}
		if (o + 4 >= dstlen)
			break;
		c = (unsigned char)src[i++];
		dst[o++] = '\\';
		dst[o++] = 'x';
		dst[o++] = hex[c >> 4];
		dst[o++] = hex[c & 15];
	}
	dst[o] = '\0';
	*used = i;
	return o;
}

size_t
log_escape(char *dst, size_t dstlen, const char *src, size_t len)
{
	size_t	used;

	return escape(dst, dstlen, src, len, &used);
}

#define ACCESS_REQUEST_MAX	2048	/* escaped bytes of a request logged */

/*
 * One line, one write: stderr lines are prefixed with the time.  -1 when
 * a file's write failed (errno says why), or it was cut short.
 */
static int
emit(int fd, int prio, const char *line)
{
	char		 buf[4096], ts[32];
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
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	n = snprintf(buf, sizeof(buf), "%s %s\n", ts, line);
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
	(void)emit(foreground ? STDERR_FILENO : -1, prio, line);
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

	access_lost++;
	if (access_said != 0 && now - access_said < LOST_REPORT)
		return;
	log_warnx("access log %s: %s: %lu line(s) lost%s", access_name,
	    strerror(err), access_lost, access_said != 0 ? " in the last "
	    "minute" : "; said again each minute while it lasts");
	access_said = now > 0 ? now : 1;
	access_lost = 0;
}

const char *
log_request(const char *line, size_t *len, char out[REQUEST_MAX + 1])
{
	if (line == NULL || !titan_is(line, *len))
		return line;
	if (*len > REQUEST_MAX)
		*len = REQUEST_MAX;
	*len = titan_redact(line, *len, out);
	return out;
}

void
log_access(const struct access_entry *e)
{
	char	req[ACCESS_REQUEST_MAX + 4], host[URL_HOST_MAX * 4 + 8];
	char	line[sizeof(req) + sizeof(host) + 128];
	size_t	n, used, len = e->request ? e->reqlen : 0;
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
	/*
	 * Escaped, a request can be four times its 1024 bytes: cut it, so
	 * the status, bytes and time after it always fit in the line.
	 */
	n = escape(req, ACCESS_REQUEST_MAX + 1, e->request ? e->request : "",
	    len, &used);
	if (used < len)
		memcpy(req + n, "...", 4);
	log_escape(host, sizeof(host), e->host, strlen(e->host));
	n = (size_t)snprintf(line, sizeof(line), "%s %s \"%s\" %d %llu %ldms",
	    e->addr, *host ? host : "-", req, e->status, e->bytes, e->msec);
	/* an upload's line names who sent it: its list name or fingerprint */
	if (e->user != NULL && n < sizeof(line) - 8) {
		line[n] = ' ';
		line[n + 1] = '"';
		n += 2 + log_escape(line + n + 2, sizeof(line) - n - 8, e->user,
		    strlen(e->user));
		line[n++] = '"';
		line[n] = '\0';
	}
	/* last, always: what reads the log looks for it at the end */
	if (e->cut && n < sizeof(line) - 5)
		memcpy(line + n, " cut", 5);
	if (emit(fd, LOG_INFO, line) == -1)
		access_failed(errno);
}
