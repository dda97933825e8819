/*
 * log.c: error and access logs.  See log.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

static int		 foreground = 1;
static enum log_target	 access_target = ACCESS_STDERR;
static int		 access_fd = -1;	/* ACCESS_FILE */
static int		 facility = LOG_DAEMON;

void
log_init(int fg)
{
	foreground = fg;
	if (!fg)
		openlog("capsuled", LOG_PID | LOG_NDELAY, facility);
}

/* Also opens syslog in the foreground, for access_log = syslog. */
void
log_facility(int fac)
{
	facility = fac;
	closelog();
	openlog("capsuled", LOG_PID | LOG_NDELAY, facility);
}

int
log_open_access(const struct config *cf, char *err, size_t errlen)
{
	int	fd = -1;

	/* a failed reload leaves the running target and file as they were */
	if (cf->access_log == ACCESS_FILE && (fd = open(cf->access_log_file,
	    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640)) == -1) {
		snprintf(err, errlen, "%s: access_log %s: %s", cf->file,
		    cf->access_log_file, strerror(errno));
		return -1;
	}
	if (access_fd != -1)
		close(access_fd);
	access_fd = fd;
	access_target = cf->access_log;
	return 0;
}

size_t
log_escape(char *dst, size_t dstlen, const char *src, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t		 o = 0, i;
	unsigned char	 c;

	if (dstlen == 0)
		return 0;
	for (i = 0; i < len; i++) {
		c = (unsigned char)src[i];
		if (c < 0x20 || c == 0x7f || c == '\\' || c == '"') {
			if (o + 4 >= dstlen)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		} else {
			if (o + 1 >= dstlen)
				break;
			dst[o++] = (char)c;
		}
	}
	dst[o] = '\0';
	return o;
}

/* One line, one write: stderr lines are prefixed with the time. */
static void
emit(int fd, int prio, const char *line)
{
	char		 buf[4096], ts[32];
	struct tm	 tm;
	time_t		 now;
	int		 n;

	if (fd == -1) {
		syslog(prio, "%s", line);
		return;
	}
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	n = snprintf(buf, sizeof(buf), "%s %s\n", ts, line);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf)) {
		n = sizeof(buf) - 1;
		buf[n - 1] = '\n';
	}
	(void)write(fd, buf, n);
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
	emit(foreground ? STDERR_FILENO : -1, prio, line);
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

void
log_access(const struct access_entry *e)
{
	char	req[URL_MAX * 4 + 8], host[URL_HOST_MAX * 4 + 8], line[6000];
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
	log_escape(req, sizeof(req), e->request ? e->request : "",
	    e->request ? e->reqlen : 0);
	log_escape(host, sizeof(host), e->host, strlen(e->host));
	snprintf(line, sizeof(line), "%s %s \"%s\" %d %llu %ldms",
	    e->addr, *host ? host : "-", req, e->status, e->bytes, e->msec);
	emit(fd, LOG_INFO, line);
}
