/*
 * request.c: a Gemini request line -> struct request, and the status
 * decisions that need no I/O (Gemini protocol specification, section
 * "Requests"; status 53 and 59).  Pure: no I/O, no globals, no
 * allocation.
 */

#include <string.h>

#include "request.h"

static int
reject(int *status, const char **why, const char *msg)
{
	if (status != NULL)
		*status = 59;
	if (why != NULL)
		*why = msg;
	return -1;
}

/*
 * Only the first REQUEST_MAX bytes can hold a valid request, so the
 * search never looks further, and stops at the first CRLF: whatever
 * follows is not ours to read.  A lone LF is just a byte of the line;
 * url_parse() rejects it once the CRLF arrives.
 */
ssize_t
request_find_end(const char *buf, size_t len)
{
	const char	*cr;
	size_t		 n, i = 0;

	n = len < REQUEST_MAX ? len : REQUEST_MAX;
	while (i + 1 < n &&
	    (cr = memchr(buf + i, '\r', n - i - 1)) != NULL) {
		i = (size_t)(cr - buf);
		if (buf[i + 1] == '\n')
			return (ssize_t)(i + 2);
		i++;
	}
	return len >= REQUEST_MAX ? -1 : 0;
}

int
request_parse(const char *line, size_t len, struct request *r,
    int *status, const char **why)
{
	size_t	n;

	memset(r, 0, sizeof(*r));
	if (line == NULL || len < 2 || line[len - 2] != '\r' ||
	    line[len - 1] != '\n')
		return reject(status, why, "Request line must end with CRLF");
	if ((n = len - 2) == 0)
		return reject(status, why, "Empty request");
	/* Gemini: "a request MUST NOT begin with a U+FEFF byte order mark" */
	if (n >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0)
		return reject(status, why,
		    "Request starts with a byte order mark");
	if (n > URL_MAX)
		return reject(status, why, "URL longer than 1024 bytes");
	memcpy(r->line, line, n);
	r->line[n] = '\0';
	r->len = n;
	return url_parse(r->line, n, &r->url, status, why);
}

static int
refuse(const char **why, const char *msg)
{
	if (why != NULL)
		*why = msg;
	return 53;
}

/*
 * Hosts are compared in canonical form only, so the SNI name is put in
 * that form again: a caller that passes it raw still compares right,
 * and an SNI name that is no host name at all never matches.
 */
int
request_check_target(const struct url *u, const char *sni, int port,
    int (*served)(const char *host, void *arg), void *arg,
    const char **why)
{
	char	canon[URL_HOST_MAX + 1];

	if (strcmp(u->scheme, "gemini") != 0)
		return refuse(why, "Proxy request refused: not a gemini URL");
	if (u->port != port)
		return refuse(why, "Proxy request refused: another port");
	if (served == NULL || !served(u->host, arg))
		return refuse(why, "Proxy request refused: host not served");
	if (sni != NULL &&
	    (url_host_canonical(sni, canon, sizeof(canon)) == -1 ||
	    strcmp(canon, u->host) != 0))
		return refuse(why,
		    "Proxy request refused: host differs from the SNI name");
	return 0;
}

size_t
request_meta_len(const char *meta, size_t max)
{
	size_t	len = strlen(meta);

	if (len <= max)
		return len;
	len = max;
	while (len > 0 && ((unsigned char)meta[len] & 0xc0) == 0x80)
		len--;
	return len;
}

size_t
request_header(char *out, int status, const char *meta)
{
	size_t	len = request_meta_len(meta, URL_MAX), i;

	out[0] = '0' + status / 10;
	out[1] = '0' + status % 10;
	out[2] = ' ';
	memcpy(out + 3, meta, len);
	for (i = 3; i < 3 + len; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			out[i] = ' ';
	out[3 + len] = '\r';
	out[4 + len] = '\n';
	return len + 5;
}
