/*
 * fuzz_log.c: libFuzzer target for the access-log line (logfmt.c).
 *
 * The input is an entry: a byte of flags, four lengths, then the
 * address, host, user, meta and request bytes, every one of them the
 * client's to choose.  In each format the line must be one line of
 * UTF-8 with no control character (C0, DEL, C1), within its bound; a
 * json line must be one valid JSON object; a common or combined line
 * must split into its fields (no quote of the client's ends a quoted
 * field early, no space splits an unquoted one).  The addresses are
 * truncated and checked the same way.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logfmt.h"
#include "url.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* -- a JSON checker: RFC 8259, enough to say valid or not ------------- */

static const char	*value(const char *, int);

static const char *
ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static const char *
string(const char *p)
{
	int	i;

	if (*p++ != '"')
		return NULL;
	for (;;) {
		if ((unsigned char)*p < 0x20)
			return NULL;	/* the end, or a raw control */
		if (*p == '"')
			return p + 1;
		if (*p++ != '\\')
			continue;
		if (*p == 'u') {
			for (i = 1; i <= 4; i++)
				if (strchr("0123456789abcdefABCDEF", p[i]) ==
				    NULL || p[i] == '\0')
					return NULL;
			p += 5;
		} else if (*p != '\0' && strchr("\"\\/bfnrt", *p) != NULL)
			p++;
		else
			return NULL;
	}
}

static const char *
number(const char *p)
{
	const char	*s;

	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return NULL;
	if (*p == '.') {
		s = ++p;
		while (*p >= '0' && *p <= '9')
			p++;
		if (p == s)
			return NULL;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		s = p;
		while (*p >= '0' && *p <= '9')
			p++;
		if (p == s)
			return NULL;
	}
	return p;
}

static const char *
members(const char *p, char close, int depth)
{
	p = ws(p + 1);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (close == '}') {
			if ((p = string(p)) == NULL || *(p = ws(p)) != ':')
				return NULL;
			p++;
		}
		if ((p = value(p, depth + 1)) == NULL)
			return NULL;
		p = ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
		p = ws(p);
	}
}

static const char *
value(const char *p, int depth)
{
	if (depth > 16)
		return NULL;
	p = ws(p);
	if (*p == '{')
		return members(p, '}', depth);
	if (*p == '[')
		return members(p, ']', depth);
	if (*p == '"')
		return string(p);
	if (strncmp(p, "true", 4) == 0)
		return p + 4;
	if (strncmp(p, "false", 5) == 0)
		return p + 5;
	if (strncmp(p, "null", 4) == 0)
		return p + 4;
	return number(p);
}

static int
json_object(const char *line)
{
	const char	*end;

	return *ws(line) == '{' && (end = value(line, 0)) != NULL &&
	    *ws(end) == '\0';
}

/* -- common and combined: the fields ---------------------------------- */

/* An unquoted field: no space, no quote; returns past the space. */
static const char *
word(const char *p)
{
	const char	*s = p;

	while (*p != ' ' && *p != '\0' && *p != '"')
		p++;
	return p > s && *p == ' ' ? p + 1 : NULL;
}

static const char *
quoted(const char *p)
{
	if (*p++ != '"')
		return NULL;
	p += strcspn(p, "\"");
	return *p == '"' && p[1] == ' ' ? p + 2 : NULL;
}

static const char *
digits(const char *p)
{
	const char	*s = p;

	while (*p >= '0' && *p <= '9')
		p++;
	return p > s ? p : NULL;
}

/*
 * ADDR GEMINI USER [DD/Mon/YYYY:HH:MM:SS +0000] "REQ" HTTP BYTES
 * and for combined: "-" "-" MS CUT
 */
static int
clf(const char *p, int combined)
{
	if ((p = word(p)) == NULL || (p = digits(p)) == NULL || *p++ != ' ' ||
	    (p = word(p)) == NULL || *p != '[' ||
	    strlen(p) < 29 || strncmp(p + 21, " +0000] ", 8) != 0 ||
	    (p = quoted(p + 29)) == NULL || (p = digits(p)) == NULL ||
	    *p++ != ' ' || (p = digits(p)) == NULL)
		return 0;
	if (!combined)
		return *p == '\0';
	if (strncmp(p, " \"-\" \"-\" ", 9) != 0 || (p = digits(p + 9)) == NULL)
		return 0;
	return strcmp(p, " -") == 0 || strcmp(p, " cut") == 0;
}

/* -- the line, whatever the format ------------------------------------- */

static void
clean(const char *line, size_t n)
{
	uint32_t	cp;
	size_t		i, k;

	if (n >= LOGFMT_LINE_MAX || strlen(line) != n)
		abort();
	for (i = 0; i < n; i += k) {
		if ((k = url_utf8_decode(line + i, n - i, &cp)) == 0 ||
		    cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			abort();
	}
}

static char *
take(const uint8_t **p, size_t *left, size_t n)
{
	char	*s;

	if (n > *left)
		n = *left;
	if ((s = malloc(n + 1)) == NULL)
		abort();
	memcpy(s, *p, n);
	s[n] = '\0';	/* the request alone may hold a NUL of its own */
	*p += n;
	*left -= n;
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct access_entry	 e;
	char			 line[LOGFMT_LINE_MAX], addr[LOGFMT_ADDR_MAX];
	char			*a, *h, *u, *m, *r;
	unsigned char		 cert[32];
	const uint8_t		*p = data + 5;
	size_t			 left, n;
	enum log_format		 f;
	int			 ip;

	if (size < 5)
		return 0;
	left = size - 5;
	a = take(&p, &left, data[1] % 80);
	h = take(&p, &left, data[2] * 4u);
	u = take(&p, &left, data[3] * 2u);
	m = take(&p, &left, data[4] * 8u);
	n = left;
	r = take(&p, &left, left);
	memset(cert, data[0], sizeof(cert));
	memset(&e, 0, sizeof(e));
	e.addr = a;
	e.host = h;
	e.hostid = -1;
	e.request = (data[0] & 1) ? NULL : r;
	e.reqlen = n;
	e.status = data[0] % 70;
	e.meta = (data[0] & 2) ? m : NULL;
	e.bytes = (unsigned long long)size * 1000003ULL;
	e.header = size;
	e.msec = (long)size * 7;
	e.cut = data[0] & 4;
	e.user = (data[0] & 8) ? u : NULL;
	e.kind = (enum entry_kind)((data[0] >> 4) % 4);
	e.tls = (data[0] & 64) ? m : NULL;
	e.resumed = data[0] & 32;
	e.cert = (data[0] & 128) ? cert : NULL;
	for (f = LOG_CAPSULED; f <= LOG_JSON; f++) {
		n = logfmt_line(line, f, &e, (time_t)size * 86399);
		clean(line, n);
		if (f == LOG_JSON && !json_object(line))
			abort();
		if ((f == LOG_COMMON || f == LOG_COMBINED) &&
		    !clf(line, f == LOG_COMBINED))
			abort();
	}
	for (ip = LOG_IP_FULL; ip <= LOG_IP_OFF; ip++) {
		logfmt_addr(a, (enum log_ip)ip, addr);
		if (strlen(addr) >= LOGFMT_ADDR_MAX ||
		    (ip == LOG_IP_OFF && strcmp(addr, "-") != 0))
			abort();
		logfmt_cgi_addr(a, (enum log_ip)ip, addr);
		if (strlen(addr) >= LOGFMT_ADDR_MAX)
			abort();
	}
	free(a);
	free(h);
	free(u);
	free(m);
	free(r);
	return 0;
}
