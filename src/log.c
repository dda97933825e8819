/*
 * log.c: error and access logs.  See log.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "url.h"

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
	if (e->user != NULL && n < sizeof(line) - 4) {
		line[n] = ' ';
		line[n + 1] = '"';
		n += 2 + log_escape(line + n + 2, sizeof(line) - n - 3, e->user,
		    strlen(e->user));
		line[n] = '"';
		line[n + 1] = '\0';
	}
	emit(fd, LOG_INFO, line);
}
