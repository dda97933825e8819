/*
 * logfmt.c: access-log lines and logged addresses.  See logfmt.h.
 *
 * A line is built in a fixed buffer by appends that stop, never
 * overflow, when it is full; each client field is escaped and cut to
 * a bound first, and the bounds add up to less than a line, so a line
 * is never cut (a JSON line cut would not parse).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "logfmt.h"
#include "url.h"

#define REQUEST_FIELD	2048	/* escaped bytes of a request, at most */
#define META_FIELD	1024
#define USER_FIELD	512
#define UPSTREAM_FIELD	512	/* its name: a kind and a socket or URL */
#define HOST_FIELD	((size_t)URL_HOST_MAX * 4)	/* every byte escaped */
#define ESC_SPACE	1	/* escape ' ' too: a field with no quotes */
#define DASH		2	/* put_text: "-" for an empty field */

struct line {
	char	*buf;
	size_t	 len;
	int	 full;		/* an append did not fit */
};

/*
 * How many bytes at src[i] go to the log as they are: a printable ASCII
 * byte, or a whole well-formed UTF-8 character that is not a C1 control
 * (U+0080-U+009F: CSI among them, a terminal escape to 8-bit terminals);
 * 0 when the byte must be escaped.
 */
static size_t
plain_len(const char *src, size_t len, size_t i, int flags)
{
	unsigned char	c = (unsigned char)src[i];
	uint32_t	cp;
	size_t		n;

	if (c < 0x80)
		return c < 0x20 || c == 0x7f || c == '\\' || c == '"' ||
		    (c == ' ' && (flags & ESC_SPACE)) ? 0 : 1;
	if ((n = url_utf8_decode(src + i, len - i, &cp)) == 0 ||
	    (cp >= 0x80 && cp <= 0x9f))
		return 0;
	return n;
}

/* log_escape, with flags, and *used: how much of src fit. */
static size_t
escape(char *dst, size_t dstlen, const char *src, size_t len, int flags,
    size_t *used)
{
	static const char hex[] = "0123456789abcdef";
	size_t		 o = 0, i = 0, n;
	unsigned char	 c;

	*used = 0;
	if (dstlen == 0)
		return 0;
	while (i < len) {
		if ((n = plain_len(src, len, i, flags)) > 0) {
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

	return escape(dst, dstlen, src, len, 0, &used);
}

static void
put(struct line *l, const char *s, size_t n)
{
	if (l->full || n >= LOGFMT_LINE_MAX - l->len) {
		l->full = 1;
		return;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
	l->buf[l->len] = '\0';
}

static void
puts_(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3)))
putf(struct line *l, const char *fmt, ...)
{
	char	tmp[128];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		l->full = 1;
		return;
	}
	put(l, tmp, (size_t)n);
}

/*
 * src escaped into out (max + 4 bytes), at most max bytes of it and
 * then "..." when it was cut; NULL src is empty.  Returns the length.
 */
static size_t
field(char *out, size_t max, const char *src, size_t len, int flags)
{
	size_t	n, used;

	if (src == NULL)
		len = 0;
	n = escape(out, max + 1, src != NULL ? src : "", len, flags, &used);
	if (used < len) {
		memcpy(out + n, "...", 4);
		n += 3;
	}
	return n;
}

/* A field of a text format, escaped; "-" when empty and dash is set. */
static void
put_text(struct line *l, const char *src, size_t len, size_t max, int flags)
{
	char	tmp[REQUEST_FIELD + 4];
	size_t	n;

	n = field(tmp, max, src, len, flags & ~DASH);
	if (n == 0 && (flags & DASH))
		put(l, "-", 1);
	else
		put(l, tmp, n);
}

/*
 * A JSON string, or null when src is NULL.  Escaped as in every other
 * format, so the only character JSON still wants escaped is the
 * backslash of our own \xNN escapes.
 */
static void
put_json(struct line *l, const char *src, size_t len, size_t max)
{
	char	tmp[REQUEST_FIELD + 4];
	size_t	n, i, start = 0;

	if (src == NULL) {
		puts_(l, "null");
		return;
	}
	n = field(tmp, max, src, len, 0);
	put(l, "\"", 1);
	for (i = 0; i < n; i++)
		if (tmp[i] == '\\') {
			put(l, tmp + start, i - start + 1);
			start = i;	/* the backslash again: doubled */
		}
	put(l, tmp + start, n - start);
	put(l, "\"", 1);
}

static void
put_jstr(struct line *l, const char *s, size_t max)
{
	put_json(l, s, s != NULL ? strlen(s) : 0, max);
}

int
logfmt_http_status(int gemini)
{
	switch (gemini) {
	case 30:
		return 302;	/* Found: a temporary redirect */
	case 31:
		return 301;	/* Moved Permanently */
	case 42:
		return 500;	/* as a web server answers a broken CGI */
	case 43:
		return 502;	/* Bad Gateway */
	case 44:
		return 429;	/* Too Many Requests */
	case 51:
		return 404;
	case 52:
		return 410;	/* Gone */
	case 53:
		return 421;	/* Misdirected Request */
	case 60:
		return 401;	/* Unauthorized: a certificate is wanted */
	default:
		break;
	}
	switch (gemini / 10) {
	case 1:
		return 100;	/* input: not an answer yet, send more */
	case 2:
		return 200;
	case 3:
		return 302;
	case 4:
		return 503;	/* temporary failure: Service Unavailable */
	case 5:
		return 400;	/* permanent: the request will not do */
	case 6:
		return 403;	/* 61, 62: Forbidden */
	default:
		return 499;	/* no response: the client closed first */
	}
}

static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May",
    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* "-" or the name, its spaces escaped too: a field with no quotes */
static void
put_user(struct line *l, const struct access_entry *e)
{
	put_text(l, e->user, e->user != NULL ? strlen(e->user) : 0,
	    USER_FIELD, ESC_SPACE | DASH);
}

static unsigned long long
body_bytes(const struct access_entry *e)
{
	return e->bytes > e->header ? e->bytes - e->header : 0;
}

/*
 * common:   ADDR GEMINI USER [TIME] "REQUEST" HTTP BYTES
 * combined: the same, then "-" "-" (no referer, no user agent) MS CUT
 *
 * The exact Gemini status goes in the second field, RFC 1413's identity,
 * which no Gemini client has and every analyser skips: a common line
 * keeps its seven fields (GoAccess reads a common line's bytes to its
 * end).  A combined line adds the duration and "cut" or "-" after its
 * nine: a field always there, so that an analyser told to read the
 * duration (GoAccess: "%L %^") finds a word after it.
 */
static void
line_clf(struct line *l, const struct access_entry *e, const struct tm *tm,
    int combined)
{
	put_text(l, e->addr, strlen(e->addr), LOGFMT_ADDR_MAX,
	    ESC_SPACE | DASH);
	putf(l, " %d ", e->status);
	put_user(l, e);
	putf(l, " [%02d/%s/%04d:%02d:%02d:%02d +0000] \"", tm->tm_mday,
	    months[tm->tm_mon % 12], tm->tm_year + 1900, tm->tm_hour,
	    tm->tm_min, tm->tm_sec);
	put_text(l, e->request, e->reqlen, REQUEST_FIELD, DASH);
	putf(l, "\" %d %llu", logfmt_http_status(e->status), body_bytes(e));
	if (combined)
		putf(l, " \"-\" \"-\" %ld %s", e->msec, e->cut ? "cut" : "-");
}

/* "SHA256:" and 64 upper-case hex digits, as a 61's meta shows them. */
static const char *
cert_hex(const unsigned char *cert, char hex[7 + 64 + 1])
{
	static const char	digits[] = "0123456789ABCDEF";
	int			i;

	memcpy(hex, "SHA256:", 7);
	for (i = 0; i < 32; i++) {
		hex[7 + 2 * i] = digits[cert[i] >> 4];
		hex[8 + 2 * i] = digits[cert[i] & 15];
	}
	hex[7 + 64] = '\0';
	return hex;
}

static void
line_json(struct line *l, const struct access_entry *e, const struct tm *tm)
{
	static const char *const kinds[] = { NULL, NULL, "write", "delete" };
	char			 hex[7 + 64 + 1];

	putf(l, "{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02dZ\",\"client\":",
	    tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday, tm->tm_hour,
	    tm->tm_min, tm->tm_sec);
	put_jstr(l, strcmp(e->addr, "-") != 0 ? e->addr : NULL,
	    LOGFMT_ADDR_MAX);
	puts_(l, ",\"host\":");
	put_jstr(l, e->host[0] != '\0' ? e->host : NULL, HOST_FIELD);
	puts_(l, ",\"request\":");
	put_json(l, e->request, e->reqlen, REQUEST_FIELD);
	putf(l, ",\"status\":%d,\"meta\":", e->status);
	put_jstr(l, e->status / 10 != 2 ? e->meta : NULL, META_FIELD);
	putf(l, ",\"bytes\":%llu,\"header_bytes\":%llu,\"duration_ms\":%ld,"
	    "\"tls\":", body_bytes(e), e->bytes - body_bytes(e), e->msec);
	put_jstr(l, e->tls, 32);
	putf(l, ",\"resumed\":%s,\"cert\":", e->resumed ? "true" : "false");
	if (e->cert != NULL)
		put_jstr(l, cert_hex(e->cert, hex), sizeof(hex));
	else
		puts_(l, "null");
	puts_(l, ",\"user\":");
	put_jstr(l, e->user, USER_FIELD);
	puts_(l, ",\"upload\":");
	put_jstr(l, e->kind <= ENTRY_TITAN_DELETE ? kinds[e->kind] : NULL, 8);
	puts_(l, ",\"upstream\":");
	put_jstr(l, e->upstream, UPSTREAM_FIELD);
	putf(l, ",\"cut\":%s}", e->cut ? "true" : "false");
}

/*
 * Today's line:
 * ADDR HOST "REQUEST" STATUS BYTES MSms[ "USER"][ upstream=NAME][ cut]
 */
static void
line_capsuled(struct line *l, const struct access_entry *e)
{
	char		 tmp[USER_FIELD + 4], hex[7 + 64 + 1];
	const char	*who = NULL;
	size_t		 n;

	put_text(l, e->addr, strlen(e->addr), LOGFMT_ADDR_MAX,
	    ESC_SPACE | DASH);
	put(l, " ", 1);
	put_text(l, e->host, strlen(e->host), HOST_FIELD, DASH);
	puts_(l, " \"");
	put_text(l, e->request, e->reqlen, REQUEST_FIELD, 0);
	putf(l, "\" %d %llu %ldms", e->status, e->bytes, e->msec);
	/*
	 * A Titan request's line names who sent it (refused or not): its
	 * list name or fingerprint; a 61's, the fingerprint a list was
	 * checked for, which an admin copies from here to add it.
	 */
	if (e->user != NULL && e->kind != ENTRY_GEMINI)
		who = e->user;
	else if (e->status == 61 && e->cert != NULL)
		who = cert_hex(e->cert, hex);
	if (who != NULL) {
		n = field(tmp, USER_FIELD, who, strlen(who), 0);
		puts_(l, " \"");
		put(l, tmp, n);
		put(l, "\"", 1);
	}
	/* which upstream answered: fastcgi:unix:/run/fcgiwrap.socket */
	if (e->upstream != NULL) {
		puts_(l, " upstream=");
		put_text(l, e->upstream, strlen(e->upstream), UPSTREAM_FIELD,
		    ESC_SPACE);
	}
	/* last, always: what reads the log looks for it at the end */
	if (e->cut)
		puts_(l, " cut");
}

size_t
logfmt_line(char buf[LOGFMT_LINE_MAX], enum log_format fmt,
    const struct access_entry *e, time_t now)
{
	struct line	l = { buf, 0, 0 };
	struct tm	tm;

	buf[0] = '\0';
	if (fmt != LOG_CAPSULED && gmtime_r(&now, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	switch (fmt) {
	case LOG_COMMON:
	case LOG_COMBINED:
		line_clf(&l, e, &tm, fmt == LOG_COMBINED);
		break;
	case LOG_JSON:
		line_json(&l, e, &tm);
		break;
	default:
		line_capsuled(&l, e);
		break;
	}
	if (l.full) {
		/* cannot happen (the fields' bounds fit): still, a line */
		l.len = 0;
		l.full = 0;
		puts_(&l, fmt == LOG_JSON ? "{\"error\":\"line too long\"}" :
		    "- line too long");
	}
	return l.len;
}

union addr {
	struct in_addr	v4;
	struct in6_addr	v6;
};

/* AF_INET or AF_INET6, or -1 when addr is neither. */
static int
parse(const char *addr, union addr *a)
{
	if (inet_pton(AF_INET, addr, &a->v4) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, addr, &a->v6) == 1)
		return AF_INET6;
	return -1;
}

void
logfmt_addr(const char *addr, enum log_ip mode, char out[LOGFMT_ADDR_MAX])
{
	union addr	a;
	size_t		len = strlen(addr);
	int		af;

	if (mode == LOG_IP_FULL && len < LOGFMT_ADDR_MAX) {
		memcpy(out, addr, len + 1);
		return;
	}
	if (mode != LOG_IP_TRUNCATED || (af = parse(addr, &a)) == -1) {
		memcpy(out, "-", 2);
		return;
	}
	if (af == AF_INET)
		((unsigned char *)&a.v4)[3] = 0;	/* /24 */
	else if (IN6_IS_ADDR_V4MAPPED(&a.v6))
		a.v6.s6_addr[15] = 0;			/* its IPv4 /24 */
	else
		memset(a.v6.s6_addr + 6, 0, 10);	/* /48 */
	if (inet_ntop(af, &a, out, LOGFMT_ADDR_MAX) == NULL)
		memcpy(out, "-", 2);
}

void
logfmt_cgi_addr(const char *addr, enum log_ip mode, char out[LOGFMT_ADDR_MAX])
{
	union addr	a;

	if (mode != LOG_IP_OFF) {
		logfmt_addr(addr, mode, out);
		if (strcmp(out, "-") != 0)
			return;
	}
	if (parse(addr, &a) == AF_INET6)
		memcpy(out, "::", 3);
	else
		memcpy(out, "0.0.0.0", 8);
}
