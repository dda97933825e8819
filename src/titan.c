/*
 * titan.c: the Titan request line and the decisions about an upload
 * that need no I/O (see titan.h).  Pure: no I/O, no globals, no
 * allocation.
 */

#include <stdint.h>
#include <stdio.h>
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

/* An RFC 2045 token character. */
static int
token_char(int c)
{
	return c > 0x20 && c < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* The token at *s, lower-cased into out (size bytes); its length or 0. */
static size_t
token(const char **s, char *out, size_t size)
{
	size_t	n = 0;

	while (token_char((unsigned char)**s)) {
		if (n + 1 >= size)
			return 0;
		out[n++] = (char)(**s >= 'A' && **s <= 'Z' ? **s + 'a' - 'A' :
		    **s);
		(*s)++;
	}
	out[n] = '\0';
	return n;
}

static void
skip_ows(const char **s)
{
	while (**s == ' ' || **s == '\t')
		(*s)++;
}

/* A parameter value, token or quoted-string, lower-cased; 0 or -1. */
static int
param_value(const char **s, char *out, size_t size)
{
	size_t	n = 0;

	if (**s != '"')
		return token(s, out, size) > 0 ? 0 : -1;
	for ((*s)++; **s != '"'; (*s)++) {
		if (**s == '\\' && (*s)[1] != '\0')
			(*s)++;
		if (**s == '\0' || n + 1 >= size)
			return -1;
		out[n++] = (char)(**s >= 'A' && **s <= 'Z' ? **s + 'a' - 'A' :
		    **s);
	}
	(*s)++;
	out[n] = '\0';
	return 0;
}

/*
 * A media type (RFC 2045 5.1: type/subtype, then "; attribute=value"
 * parameters) into tp: the type and subtype lower-cased, a charset
 * kept to be checked (titan_charset_ok), any other parameter (lang,
 * format) accepted and left: the file's name decides how it is served.
 */
static const char *
media_type(const char *s, struct titan_params *tp)
{
	char	 attr[32], value[64];
	size_t	 n;

	if ((n = token(&s, tp->mime, sizeof(tp->mime))) == 0 || *s != '/')
		return "Titan mime is not a type/subtype";
	s++;
	if (token(&s, tp->mime + n + 1, sizeof(tp->mime) - n - 1) == 0)
		return "Titan mime is not a type/subtype";
	tp->mime[n] = '/';
	for (;;) {
		skip_ows(&s);
		if (*s == '\0')
			return NULL;
		if (*s++ != ';')
			return "Titan mime is not a type/subtype";
		skip_ows(&s);
		if (token(&s, attr, sizeof(attr)) == 0 || *s++ != '=' ||
		    param_value(&s, value, sizeof(value)) == -1)
			return "Titan mime has a parameter that is not "
			    "attribute=value";
		if (strcmp(attr, "charset") != 0)
			continue;
		if (tp->charset[0] != '\0')
			return "Titan mime gives charset twice";
		memcpy(tp->charset, value, strlen(value) + 1);
	}
}

enum { P_SIZE = 1, P_MIME = 2, P_TOKEN = 4 };

/* What the parameters come to: the media type is checked once whole. */
struct pstate {
	int	seen;
	int	in_mime;	/* the last parameter was mime or one of its own */
	char	mime[256];	/* mime as sent, with its own parameters */
	size_t	mlen;
};

/* Decode p..e onto the media type being gathered; 0 or -1. */
static int
mime_add(struct pstate *ps, const char *sep, const char *p, const char *e)
{
	size_t	n = strlen(sep);

	if (ps->mlen + n >= sizeof(ps->mime))
		return -1;
	memcpy(ps->mime + ps->mlen, sep, n);
	if (decode_value(p, e, ps->mime + ps->mlen + n,
	    sizeof(ps->mime) - ps->mlen - n) == -1)
		return -1;
	ps->mlen += strlen(ps->mime + ps->mlen);
	return 0;
}

/*
 * A parameter that is not Titan's: after mime, one of the media type's
 * own (Lagrange sends "mime=text/gemini; charset=utf-8", the blank
 * too); anywhere else, refused by name.
 */
static const char *
foreign(const char *p, const char *e, struct titan_params *tp,
    struct pstate *ps)
{
	const char	*k = p;
	size_t		 n;

	if (ps->in_mime) {
		skip_ows(&p);
		if (p == e || mime_add(ps, "; ", p, e) == -1)
			return "Titan mime has a parameter that is not "
			    "attribute=value";
		return NULL;
	}
	for (n = 0; k + n < e && k[n] != '=' && token_char((unsigned char)
	    k[n]); n++)
		;
	if (n == 0 || n > 32 || (k + n < e && k[n] != '='))
		return "Unknown Titan parameter (size, mime, token)";
	if (snprintf(tp->why, sizeof(tp->why), "Unknown Titan parameter "
	    "%.*s (size, mime, token)", (int)n, k) >= (int)sizeof(tp->why))
		return "Unknown Titan parameter (size, mime, token)";
	return tp->why;
}

/* One "key=value" of p..e into tp; NULL, or why it is refused. */
static const char *
param(const char *p, const char *e, struct titan_params *tp,
    struct pstate *ps)
{
	const char	*eq = memchr(p, '=', (size_t)(e - p));
	char		 num[32];
	size_t		 klen;

	if (p == e)
		return "Empty Titan parameter";
	if (eq == NULL && !ps->in_mime)
		return "Titan parameter without a value";
	klen = eq != NULL ? (size_t)(eq - p) : 0;
	if (klen == 4 && memcmp(p, "size", 4) == 0) {
		if (ps->seen & P_SIZE)
			return "Titan parameter size given twice";
		ps->seen |= P_SIZE;
		if (e - eq - 1 >= (long)sizeof(num) ||
		    decode_value(eq + 1, e, num, sizeof(num)) == -1 ||
		    parse_size(num, &tp->size) == -1)
			return "Titan size is not a byte count";
	} else if (klen == 4 && memcmp(p, "mime", 4) == 0) {
		if (ps->seen & P_MIME)
			return "Titan parameter mime given twice";
		ps->seen |= P_MIME;
		if (mime_add(ps, "", eq + 1, e) == -1)
			return "Titan mime is not a type/subtype";
		ps->in_mime = 1;
		return NULL;
	} else if (klen == 5 && memcmp(p, "token", 5) == 0) {
		if (ps->seen & P_TOKEN)
			return "Titan parameter token given twice";
		ps->seen |= P_TOKEN;
		if (decode_value(eq + 1, e, tp->token, sizeof(tp->token)) == -1)
			return "Titan token is badly encoded or too long";
		tp->has_token = 1;
	} else
		return foreign(p, e, tp, ps);
	ps->in_mime = 0;
	return NULL;
}

/* The parameters p..e (after the first ';'); NULL, or why not. */
static const char *
params(const char *p, const char *e, struct titan_params *tp)
{
	struct pstate	 ps;
	const char	*semi, *msg;

	memset(&ps, 0, sizeof(ps));
	for (;;) {
		if ((semi = memchr(p, ';', (size_t)(e - p))) == NULL)
			semi = e;
		if ((msg = param(p, semi, tp, &ps)) != NULL)
			return msg;
		if (semi == e)
			break;
		p = semi + 1;
	}
	if (!(ps.seen & P_SIZE))
		return "Titan request without ;size=";
	if (!(ps.seen & P_MIME))
		memcpy(tp->mime, TITAN_DEFAULT_MIME, sizeof(TITAN_DEFAULT_MIME));
	else if ((msg = media_type(ps.mime, tp)) != NULL)
		return msg;
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
	(void)titan_redact(line, len - 2, tp->sent);
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

/* No control character (C0, DEL, C1) and well-formed UTF-8; 0 or -1. */
static int
name_chars_ok(const char *s, const char **why)
{
	size_t		n, len = strlen(s);
	uint32_t	cp;

	for (; len > 0; s += n, len -= n) {
		if ((unsigned char)*s < 0x80) {
			n = 1;
			cp = (unsigned char)*s;
		} else if ((n = url_utf8_decode(s, len, &cp)) == 0)
			return *why = "File names must be UTF-8", -1;
		if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
			return *why = "File names may not hold control "
			    "characters", -1;
	}
	return 0;
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
		return *why = "Cannot upload to a directory: add the file's "
		    "name, such as YYYY-MM-DD-slug.gmi for a post", -1;
	for (s = path; (s = strchr(s, '/')) != NULL; s++)
		if (s[1] == '.' || s[1] == '/')
			return *why = "Cannot upload a dotfile or dot segment",
			    -1;
	if (name_chars_ok(path, why) == -1)
		return -1;
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

int
titan_charset_ok(const struct titan_params *tp)
{
	return strncmp(tp->mime, "text/", 5) != 0 || tp->charset[0] == '\0' ||
	    strcmp(tp->charset, "utf-8") == 0 ||
	    strcmp(tp->charset, "us-ascii") == 0;
}

/* "type/subtype" of a type with parameters: its length. */
static size_t
essence(const char *type)
{
	size_t	n = strcspn(type, ";");

	while (n > 0 && (type[n - 1] == ' ' || type[n - 1] == '\t'))
		n--;
	return n;
}

int
titan_type_fits(const char *declared, const char *served)
{
	size_t	n;

	if (served == NULL)
		return 0;
	n = essence(served);
	if (strlen(declared) == n && strncasecmp(declared, served, n) == 0)
		return 1;
	/* Lagrange's Text tab says text/plain whatever it holds */
	return strcmp(declared, "text/plain") == 0 && n == 11 &&
	    strncasecmp(served, "text/gemini", 11) == 0;
}

int
titan_post_example(const char *dir, const char *name, const char *today,
    char *out, size_t outlen)
{
	char	slug[64];
	size_t	i, n = 0;

	/* the name's own words, as a slug: letters, digits, '-' */
	for (i = 0; name[i] != '\0' && name[i] != '.' && n < sizeof(slug) - 1;
	    i++) {
		if ((name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= '0' && name[i] <= '9'))
			slug[n++] = name[i];
		else if (name[i] >= 'A' && name[i] <= 'Z')
			slug[n++] = (char)(name[i] + 'a' - 'A');
		else if (n > 0 && slug[n - 1] != '-')
			slug[n++] = '-';
	}
	while (n > 0 && slug[n - 1] == '-')
		n--;
	if (n == 0)
		n = (size_t)snprintf(slug, sizeof(slug), "slug");
	slug[n] = '\0';
	n = (size_t)snprintf(out, outlen, "%s%s-%s.gmi", dir, today, slug);
	return n < outlen ? 0 : -1;
}

long long
titan_deadline_ms(long long size, int request_timeout, long min_rate)
{
	if (min_rate < 1)
		min_rate = 1;
	if (size < 0)
		size = 0;
	/* size <= 2^50 and min_rate >= 1: no overflow */
	return (long long)request_timeout * 1000 +
	    (size * 1000 + min_rate - 1) / min_rate;
}

const char *
titan_admit(const struct titan_client *running, size_t n,
    const struct titan_client *who, const struct titan_caps *caps)
{
	size_t	i;
	int	certs = 0, addrs = 0;

	if (n >= caps->jobs)
		return "every upload slot is taken";
	for (i = 0; i < n; i++) {
		certs += memcmp(running[i].cert, who->cert, 32) == 0;
		addrs += memcmp(running[i].addr, who->addr, 16) == 0;
	}
	if (n + caps->reserve >= caps->jobs && (certs > 0 || addrs > 0))
		return "the last upload slots are kept for other clients";
	if (caps->per_cert > 0 && certs >= caps->per_cert)
		return "this certificate has titan_jobs_per_cert uploads "
		    "running";
	if (caps->per_addr > 0 && addrs >= caps->per_addr)
		return "this address has titan_jobs_per_address uploads "
		    "running";
	return NULL;
}
