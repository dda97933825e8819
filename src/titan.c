/*
 * titan.c: the Titan request line and the decisions about an upload
 * that need no I/O (see titan.h).  Pure: no I/O, no globals, no
 * allocation.
 */

#include <string.h>
#include <strings.h>

#include "request.h"
#include "titan.h"
#include "url.h"

static int
reject(int *status, const char **why, const char *msg)
{
	if (status != NULL)
		*status = 59;
	if (why != NULL)
		*why = msg;
	return -1;
}

int
titan_is(const char *line, size_t len)
{
	return line != NULL && len >= 6 && strncasecmp(line, "titan:", 6) == 0;
}

size_t
titan_redact(const char *line, size_t len, char *out)
{
	size_t	i = 0, n = 0, end;

	while (i < len) {
		if (line[i] == ';' && len - i > 6 &&
		    strncasecmp(line + i + 1, "token=", 6) == 0) {
			/* to the next parameter, the query or the line's end */
			for (end = i + 1; end < len && line[end] != ';' &&
			    line[end] != '?' && line[end] != '\r' &&
			    line[end] != '\n'; end++)
				;
			i = end;
			continue;
		}
		out[n++] = line[i++];
	}
	out[n] = '\0';
	return n;
}

/*
 * Percent-decode a parameter value into out (size bytes, NUL kept).
 * Only what a path segment may hold comes raw (RFC 3986 3.3 pchar
 * less ';', which separates parameters, plus '/' for types); nothing
 * decodes to a control byte.  0 or -1.
 */
static int
decode_value(const char *s, const char *e, char *out, size_t size)
{
	size_t	n = 0;
	int	c, hi, lo;

	for (; s < e; s++) {
		c = (unsigned char)*s;
		if (c == '%') {
			if (e - s < 3 || (hi = url_hexval((unsigned char)s[1])) < 0 ||
			    (lo = url_hexval((unsigned char)s[2])) < 0)
				return -1;
			c = hi << 4 | lo;
			s += 2;
		} else if (c < 0x80 && strchr("abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,=:@/",
		    c) == NULL)
			return -1;
		if (c < 0x20 || c == 0x7f || n + 1 >= size)
			return -1;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return url_utf8_valid(out, n) ? 0 : -1;
}

/* A plain decimal number: digits only, no sign, no space. */
static int
parse_size(const char *v, long long *out)
{
	long long	n = 0;

	if (*v == '\0')
		return -1;
	for (; *v != '\0'; v++) {
		if (*v < '0' || *v > '9')
			return -1;
		n = n * 10 + (*v - '0');
		if (n > TITAN_SIZE_LIMIT)
			return -1;
	}
	*out = n;
	return 0;
}

/* RFC 2045 token characters, for a type and its subtype. */
static int
is_token(const char *s, size_t n)
{
	size_t	i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f ||
		    strchr("()<>@,;:\\\"/[]?=", s[i]) != NULL)
			return 0;
	return 1;
}

/* "type/subtype", lower-cased in place; 0 or -1. */
static int
check_mime(char *m)
{
	char	*slash = strchr(m, '/');
	size_t	 i;

	if (slash == NULL || !is_token(m, (size_t)(slash - m)) ||
	    !is_token(slash + 1, strlen(slash + 1)))
		return -1;
	for (i = 0; m[i] != '\0'; i++)
		if (m[i] >= 'A' && m[i] <= 'Z')
			m[i] += 'a' - 'A';
	return 0;
}

enum { P_SIZE = 1, P_MIME = 2, P_TOKEN = 4 };

/* One "key=value" of p..e into tp; NULL, or why it is refused. */
static const char *
param(const char *p, const char *e, struct titan_params *tp, int *seen)
{
	const char	*eq = memchr(p, '=', (size_t)(e - p));
	char		 num[32];
	size_t		 klen;

	if (p == e)
		return "Empty Titan parameter";
	if (eq == NULL)
		return "Titan parameter without a value";
	klen = (size_t)(eq - p);
	if (klen == 4 && memcmp(p, "size", 4) == 0) {
		if (*seen & P_SIZE)
			return "Titan parameter size given twice";
		*seen |= P_SIZE;
		if (e - eq - 1 >= (long)sizeof(num) ||
		    decode_value(eq + 1, e, num, sizeof(num)) == -1 ||
		    parse_size(num, &tp->size) == -1)
			return "Titan size is not a byte count";
	} else if (klen == 4 && memcmp(p, "mime", 4) == 0) {
		if (*seen & P_MIME)
			return "Titan parameter mime given twice";
		*seen |= P_MIME;
		if (decode_value(eq + 1, e, tp->mime, sizeof(tp->mime)) == -1 ||
		    check_mime(tp->mime) == -1)
			return "Titan mime is not a type/subtype";
	} else if (klen == 5 && memcmp(p, "token", 5) == 0) {
		if (*seen & P_TOKEN)
			return "Titan parameter token given twice";
		*seen |= P_TOKEN;
		if (decode_value(eq + 1, e, tp->token, sizeof(tp->token)) == -1)
			return "Titan token is badly encoded or too long";
		tp->has_token = 1;
	} else
		return "Unknown Titan parameter (size, mime, token)";
	return NULL;
}

/* The parameters p..e (after the first ';'); NULL, or why not. */
static const char *
params(const char *p, const char *e, struct titan_params *tp)
{
	const char	*semi, *msg;
	int		 seen = 0;

	for (;;) {
		if ((semi = memchr(p, ';', (size_t)(e - p))) == NULL)
			semi = e;
		if ((msg = param(p, semi, tp, &seen)) != NULL)
			return msg;
		if (semi == e)
			break;
		p = semi + 1;
	}
	if (!(seen & P_SIZE))
		return "Titan request without ;size=";
	if (!(seen & P_MIME))
		memcpy(tp->mime, TITAN_DEFAULT_MIME, sizeof(TITAN_DEFAULT_MIME));
	return NULL;
}

int
titan_parse(const char *line, size_t len, struct request *r,
    struct titan_params *tp, int *status, const char **why)
{
	char		 url[REQUEST_MAX];
	const char	*p, *e, *semi, *msg;

	memset(tp, 0, sizeof(*tp));
	memset(r, 0, sizeof(*r));
	if (line == NULL || len < 2 || line[len - 2] != '\r' ||
	    line[len - 1] != '\n')
		return reject(status, why, "Request line must end with CRLF");
	if (len - 2 > URL_MAX)
		return reject(status, why, "URL longer than 1024 bytes");
	if (len < 8 + 2 || strncasecmp(line, "titan://", 8) != 0)
		return reject(status, why, "Not a titan URL");
	/* the parameters start at the first ';' of the path */
	e = line + len - 2;
	p = line + 8;
	while (p < e && *p != '/' && *p != '?' && *p != ';')
		p++;
	if (p == e || *p != '/')
		return reject(status, why, "Titan URL has no path");
	if ((semi = memchr(p, ';', (size_t)(e - p))) == NULL)
		return reject(status, why, "Titan URL has no ;size= parameter");
	if (memchr(line, '?', (size_t)(e - line)) != NULL)
		return reject(status, why, "Titan URL has a query");
	/* the URL without them is checked as any URL is: the same 59s */
	memcpy(url, line, (size_t)(semi - line));
	url[semi - line] = '\r';
	url[semi - line + 1] = '\n';
	if (request_parse(url, (size_t)(semi - line) + 2, r, status,
	    why) == -1)
		return -1;
	if ((msg = params(semi + 1, e, tp)) != NULL)
		return reject(status, why, msg);
	r->titan = tp;
	return 0;
}

int
titan_request_parse(const char *line, size_t len, struct request *r,
    struct titan_params *tp, int *status, const char **why)
{
	if (titan_is(line, len))
		return titan_parse(line, len, r, tp, status, why);
	return request_parse(line, len, r, status, why);
}

int
titan_path_ok(const char *path, const char *prefix, const char **why)
{
	const char	*s, *name;
	size_t		 plen = strlen(prefix);

	if (plen == 0 || prefix[plen - 1] != '/' ||
	    strncmp(path, prefix, plen) != 0)
		return *why = "Uploads are not accepted here", -1;
	if (path[strlen(path) - 1] == '/')
		return *why = "Cannot upload to a directory", -1;
	for (s = path; (s = strchr(s, '/')) != NULL; s++)
		if (s[1] == '.' || s[1] == '/')
			return *why = "Cannot upload a dotfile or dot segment",
			    -1;
	name = strrchr(path, '/') + 1;
	if (strlen(name) > 255)
		return *why = "File name longer than 255 bytes", -1;
	return 0;
}

int
titan_mime_ok(const char *list, const char *mime)
{
	size_t	n = strlen(mime), w;

	if (n == 0)
		return 0;
	while (*list != '\0') {
		list += strspn(list, " \t");
		w = strcspn(list, " \t");
		if (w == n && strncasecmp(list, mime, n) == 0)
			return 1;
		list += w;
	}
	return 0;
}
