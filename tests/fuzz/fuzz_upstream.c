/*
 * fuzz_upstream.c: libFuzzer target for the fastcgi, scgi and proxy
 * lines and the URL a proxied request goes to (upstream.c).
 *
 * The input is a kind byte, then a config value, a request path and a
 * query, NUL-separated (the path and query as a request line gives
 * them: url_parse's, dot segments gone).  Besides memory errors it checks the promise
 * that makes capsuled no open proxy: whatever the path and query, the
 * URL sent parses, is a gemini:// URL of the configured host and port
 * (the SNI name's, when one is set), is at most 1024 bytes, ends in
 * CRLF and carries nothing else; and a rule that parses names a place
 * (a UNIX socket or a host and port) and covers its own PATH.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "upstream.h"
#include "url.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* path and query as a request gives them: parsed, as the server does */
static void
check_url(const struct upstream_cfg *u, const char *path, const char *query)
{
	char		 out[URL_MAX + 3], line[4096];
	struct url	 url, req;
	const char	*why;
	int		 n, status, slash;

	n = snprintf(line, sizeof(line), "gemini://h%s%s%s", path,
	    *query != '\0' ? "?" : "", query);
	if (n < 0 || (size_t)n >= sizeof(line) ||
	    url_parse(line, (size_t)n, &req, &status, &why) == -1)
		return;
	/* only what routing sends there: "/search../x" is not /search's */
	if (upstream_find(u, 1, req.path, &slash) != u || slash)
		return;
	if ((n = upstream_url(u, req.path, req.has_query ? req.query : NULL,
	    out, sizeof(out))) == -1)
		return;
	if (n < 4 || (size_t)n != strlen(out) || n > URL_MAX + 2 ||
	    out[n - 2] != '\r' || out[n - 1] != '\n' ||
	    memchr(out, '\n', (size_t)n - 1) != NULL)
		abort();
	if (url_parse(out, (size_t)n - 2, &url, &status, &why) == -1)
		abort();	/* we would send what a server must refuse */
	if (strcmp(url.scheme, "gemini") != 0 || url.port != u->port ||
	    strcmp(url.host, u->sni[0] != '\0' ? u->sni : u->host) != 0)
		abort();	/* another server than the configured one */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct upstream_cfg	 u;
	char			 buf[2048], why[UPSTREAM_WHY_MAX];
	const char		*value, *path, *query;
	size_t			 n;
	int			 slash;

	if (size < 1 || size > sizeof(buf) - 3)
		return 0;
	memcpy(buf, data + 1, size - 1);
	memset(buf + size - 1, 0, 3);
	value = buf;
	path = value + strlen(value) + 1;
	n = (size_t)(path - buf);
	query = n < size ? path + strlen(path) + 1 : "";
	if ((size_t)(query - buf) >= size)
		query = "";
	if (path - buf >= (ptrdiff_t)size)
		path = "/";
	if (upstream_parse((enum upstream_kind)(data[0] % 3), value, "/etc", 1,
	    &u, why, sizeof(why)) == -1) {
		if (why[0] == '\0')
			abort();
		return 0;
	}
	if (u.path[0] != '/' || (u.sun_path[0] == '\0' && (u.host[0] == '\0' ||
	    u.port < 1 || u.port > 65535)))
		abort();
	if (upstream_find(&u, 1, u.path, &slash) != &u || slash)
		abort();
	if (u.kind == UP_GEMINI)
		check_url(&u, path, query);
	return 0;
}
