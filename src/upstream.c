/*
 * upstream.c: a host's fastcgi, scgi and proxy lines (see upstream.h).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certlist.h"
#include "rules.h"
#include "upstream.h"
#include "url.h"

#define WORD_MAX	(PATH_MAX + 16)	/* "cert=" and a path */

static const char *const keys[] = { "fastcgi", "scgi", "proxy" };

const char *
upstream_key(enum upstream_kind k)
{
	return keys[k];
}

static int __attribute__((format(printf, 4, 5)))
say(const struct upstream_cfg *u, char *why, size_t whylen,
    const char *fmt, ...)
{
	va_list	ap;
	int	n;

	n = snprintf(why, whylen, "%s: ", keys[u->kind]);
	if (n < 0 || (size_t)n >= whylen)
		return -1;
	va_start(ap, fmt);
	(void)vsnprintf(why + n, whylen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* The next blank-separated word of *s into w; 0 when there is none. */
static int
word(const char **s, char *w, size_t wlen, int *toolong)
{
	size_t	n;

	*s += strspn(*s, " \t");
	if (**s == '\0')
		return 0;
	n = strcspn(*s, " \t");
	*toolong = n >= wlen;
	if (!*toolong) {
		memcpy(w, *s, n);
		w[n] = '\0';
	}
	*s += n;
	return 1;
}

/* dir + "/" + path unless path is absolute; 0 or -1. */
static int
file_path(const char *dir, const char *path, char out[PATH_MAX])
{
	int	n;

	if (path[0] == '\0')
		return -1;
	n = path[0] == '/' ? snprintf(out, PATH_MAX, "%s", path) :
	    snprintf(out, PATH_MAX, "%s/%s", dir, path);
	return n < 0 || n >= PATH_MAX ? -1 : 0;
}

/* An address written as such (no name to resolve) into ss; 0 or -1. */
static int
literal(struct upstream_cfg *u)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&u->ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&u->ss;

	memset(&u->ss, 0, sizeof(u->ss));
	if (inet_pton(AF_INET, u->host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((unsigned short)u->port);
		u->sslen = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, u->host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((unsigned short)u->port);
		u->sslen = sizeof(*sin6);
		return 0;
	}
	u->sslen = 0;
	return -1;
}

/* A decimal number in [min, max], the whole of s; 0 or -1. */
static int
number(const char *s, int min, int max, int *out)
{
	char	*end;
	long	 v;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtol(s, &end, 10);
	if (*end != '\0' || v < min || v > max)
		return -1;
	*out = (int)v;
	return 0;
}

/* unix:/PATH, HOST:PORT or [V6]:PORT */
static int
socket_of(struct upstream_cfg *u, const char *w, char *why, size_t whylen)
{
	char		 host[URL_HOST_MAX + 1];
	const char	*colon;
	size_t		 n;

	if (strncmp(w, "unix:", 5) == 0) {
		if (w[5] != '/' || strlen(w + 5) >= sizeof(u->sun_path))
			return say(u, why, whylen, "\"%s\": a UNIX socket is "
			    "unix: and an absolute path of at most %zu bytes",
			    w, sizeof(u->sun_path) - 1);
		memcpy(u->sun_path, w + 5, strlen(w + 5) + 1);
		memcpy(u->sun_jail, w + 5, strlen(w + 5) + 1);
		return 0;
	}
	if (w[0] == '[') {
		if ((colon = strstr(w, "]:")) == NULL)
			goto bad;
		n = (size_t)(colon - w - 1);
		colon++;
		w++;
	} else if ((colon = strrchr(w, ':')) == NULL ||
	    memchr(w, ':', (size_t)(colon - w)) != NULL)
		goto bad;
	else
		n = (size_t)(colon - w);
	if (n == 0 || n >= sizeof(host) || number(colon + 1, 1, 65535, &u->port) == -1)
		goto bad;
	memcpy(host, w, n);
	host[n] = '\0';
	if (url_host_canonical(host, u->host, sizeof(u->host)) == -1)
		goto bad;
	(void)literal(u);
	return 0;
bad:
	return say(u, why, whylen, "\"%s\" is not a socket (unix:/PATH, "
	    "HOST:PORT or [ADDRESS]:PORT)", w);
}

/* gemini://HOST[:PORT][/BASE], no query, no fragment, no userinfo */
static int
url_of(struct upstream_cfg *u, const char *w, char *why, size_t whylen)
{
	struct url	 url;
	const char	*msg;
	int		 status;

	if (url_parse(w, strlen(w), &url, &status, &msg) == -1)
		return say(u, why, whylen, "\"%s\": %s", w, msg);
	if (strcmp(url.scheme, "gemini") != 0)
		return say(u, why, whylen, "\"%s\": the upstream is a gemini:// "
		    "URL", w);
	if (url.has_query)
		return say(u, why, whylen, "\"%s\" has a query (the request's "
		    "own is sent)", w);
	if (url.port < 1 || url.port > 65535)
		return say(u, why, whylen, "\"%s\": port %d is no port", w,
		    url.port);
	if (strlen(url.path) >= sizeof(u->base))
		return say(u, why, whylen, "\"%s\": the path is too long", w);
	memcpy(u->host, url.host, strlen(url.host) + 1);
	memcpy(u->base, url.path, strlen(url.path) + 1);
	u->port = url.port;
	(void)literal(u);
	return 0;
}

static int
option(struct upstream_cfg *u, const char *w, const char *dir, char *why,
    size_t whylen)
{
	const char	*v = strchr(w, '=');

	v = v != NULL ? v + 1 : "";
	if (u->kind == UP_FASTCGI && strncmp(w, "keepalive=", 10) == 0) {
		if (number(v, 0, UPSTREAM_KEEP_MAX, &u->keepalive) == -1)
			return say(u, why, whylen, "keepalive: expected 0 to "
			    "%d, not \"%s\"", UPSTREAM_KEEP_MAX, v);
		return 0;
	}
	if (u->kind != UP_GEMINI && strncmp(w, "root=", 5) == 0) {
		if (v[0] != '/' || strlen(v) >= sizeof(u->root))
			return say(u, why, whylen, "root: expected the absolute "
			    "path the responder knows the root by, not \"%s\"",
			    v);
		memcpy(u->root, v, strlen(v) + 1);
		return 0;
	}
	if (u->kind != UP_GEMINI)
		return say(u, why, whylen, "unknown option \"%s\"", w);
	if (strcmp(w, "proxy_protocol") == 0) {
		u->proxy_protocol = 1;
		return 0;
	}
	if (strncmp(w, "sni=", 4) == 0) {
		if (url_host_canonical(v, u->sni, sizeof(u->sni)) == -1)
			return say(u, why, whylen, "sni: \"%s\" is not a host "
			    "name", v);
		return 0;
	}
	if (strncmp(w, "cert=", 5) == 0 || strncmp(w, "key=", 4) == 0) {
		if (file_path(dir, v, w[0] == 'c' ? u->cert : u->key) == -1)
			return say(u, why, whylen, "bad path in \"%s\"", w);
		return 0;
	}
	if (strcmp(w, "verify=none") == 0) {
		u->verify = UP_VERIFY_NONE;
		return 0;
	}
	if (strncmp(w, "verify=sha256:", 14) == 0) {
		if (certlist_hash(v + 7, u->pin) == -1)
			return say(u, why, whylen, "verify: sha256: takes the "
			    "certificate's 64 hex digits, not \"%s\"", v + 7);
		u->verify = UP_VERIFY_PIN;
		return 0;
	}
	if (strncmp(w, "verify=ca:", 10) == 0) {
		if (file_path(dir, v + 3, u->ca) == -1)
			return say(u, why, whylen, "verify: bad path in "
			    "\"%s\"", v);
		u->verify = UP_VERIFY_CA;
		return 0;
	}
	return say(u, why, whylen, "unknown option \"%s\" (sni=, verify=, "
	    "cert=, key=, proxy_protocol)", w);
}

int
upstream_options(struct upstream_cfg *u, const char *value, const char *dir,
    char *why, size_t whylen)
{
	char	w[WORD_MAX];
	int	toolong;

	while (word(&value, w, sizeof(w), &toolong))
		if (toolong || option(u, w, dir, why, whylen) == -1)
			return toolong ? say(u, why, whylen, "an option is too "
			    "long") : -1;
	return 0;
}

/* "fastcgi:unix:/run/fcgiwrap.socket", "gemini://host/": 0 or -1 */
static int
name_of(struct upstream_cfg *u, const char *where)
{
	int	n;

	n = snprintf(u->name, sizeof(u->name), "%s%s%s",
	    u->kind == UP_GEMINI ? "" : keys[u->kind],
	    u->kind == UP_GEMINI ? "" : ":", where);
	return n < 0 || (size_t)n >= sizeof(u->name) ? -1 : 0;
}

int
upstream_parse(enum upstream_kind kind, const char *value, const char *dir,
    int line, struct upstream_cfg *u, char *why, size_t whylen)
{
	char		 path[WORD_MAX], where[WORD_MAX];
	const char	*msg;
	int		 toolong, toolong2;

	memset(u, 0, sizeof(*u));
	u->kind = kind;
	u->line = line;
	if (!word(&value, path, sizeof(path), &toolong) ||
	    !word(&value, where, sizeof(where), &toolong2) || toolong ||
	    toolong2)
		return say(u, why, whylen, "expected PATH %s, then options",
		    kind == UP_GEMINI ? "gemini://HOST[:PORT][/BASE]" :
		    "SOCKET");
	if (rules_path_parse(path, strlen(path), u->path, &msg) == -1)
		return say(u, why, whylen, "PATH \"%s\" %s", path, msg);
	if ((kind == UP_GEMINI ? url_of(u, where, why, whylen) :
	    socket_of(u, where, why, whylen)) == -1)
		return -1;
	if (name_of(u, where) == -1)
		return say(u, why, whylen, "\"%s\" is too long", where);
	return upstream_options(u, value, dir, why, whylen);
}

int
upstream_check(const struct upstream_cfg *u, char *why, size_t whylen)
{
	if (u->kind != UP_GEMINI)
		return 0;
	if (u->verify == UP_VERIFY_UNSET)
		return say(u, why, whylen, "%s: say how its certificate is "
		    "checked: verify=sha256:HEX (its fingerprint), "
		    "verify=ca:FILE, or verify=none", u->name);
	if ((u->cert[0] == '\0') != (u->key[0] == '\0'))
		return say(u, why, whylen, "%s: cert= and key= go together",
		    u->name);
	return 0;
}

/* 1 if the rule's PATH covers path; *slash: path is PATH less its '/' */
static int
covers(const char *rule, const char *path, int *slash)
{
	size_t	n = strlen(rule);

	*slash = 0;
	if (strncmp(path, rule, n) == 0)
		return rule[n - 1] == '/' || path[n] == '\0' || path[n] == '/';
	if (rule[n - 1] == '/' && n > 1 && strncmp(path, rule, n - 1) == 0 &&
	    path[n - 1] == '\0')
		return *slash = 1;
	return 0;
}

const struct upstream_cfg *
upstream_find(const struct upstream_cfg *v, size_t n, const char *path,
    int *slash)
{
	const struct upstream_cfg	*best = NULL;
	size_t				 i, blen = 0, len;
	int				 s;

	*slash = 0;
	for (i = 0; i < n; i++) {
		len = strlen(v[i].path);
		if (covers(v[i].path, path, &s) && (best == NULL ||
		    len > blen)) {
			best = &v[i];
			blen = len;
			*slash = s;
		}
	}
	return best;
}

const char *
upstream_rest(const struct upstream_cfg *u, const char *path)
{
	size_t	n = strlen(u->path);

	return strncmp(path, u->path, n) == 0 ? path + n : "";
}

int
upstream_url(const struct upstream_cfg *u, const char *path,
    const char *query, char *out, size_t outlen)
{
	char		 joined[URL_MAX * 3 + 1], enc[URL_MAX * 3 + 1];
	const char	*rest = upstream_rest(u, path), *host;
	size_t		 blen = strlen(u->base);
	int		 n, v6;

	/*
	 * A prefix "/app/" maps onto BASE as a directory ("/app/x" ->
	 * BASE/x); "/app" onto BASE itself ("/app/x" -> BASE/x too).
	 */
	if (u->path[strlen(u->path) - 1] == '/')
		n = snprintf(joined, sizeof(joined), "%s%s%s", u->base,
		    u->base[blen - 1] != '/' ? "/" : "", rest);
	else {
		while (blen > 1 && u->base[blen - 1] == '/')
			blen--;
		if (*rest == '/' && u->base[blen - 1] == '/')
			blen--;		/* BASE "/": "/app/x" -> "/x" */
		n = snprintf(joined, sizeof(joined), "%.*s%s", (int)blen,
		    u->base, rest);
		if (n == 0)
			n = snprintf(joined, sizeof(joined), "/");
	}
	if (n < 0 || (size_t)n >= sizeof(joined) ||
	    url_encode_path(joined, enc, sizeof(enc)) == -1)
		return -1;
	host = u->sni[0] != '\0' ? u->sni : u->host;
	v6 = strchr(host, ':') != NULL;
	n = snprintf(out, outlen, "gemini://%s%s%s", v6 ? "[" : "", host,
	    v6 ? "]" : "");
	if (n > 0 && u->port != 1965 && (size_t)n < outlen)
		n += snprintf(out + n, outlen - (size_t)n, ":%d", u->port);
	if (n > 0 && (size_t)n < outlen)
		n += snprintf(out + n, outlen - (size_t)n, "%s%s%s", enc,
		    query != NULL ? "?" : "", query != NULL ? query : "");
	if (n < 0 || (size_t)n > URL_MAX || (size_t)n + 2 >= outlen)
		return -1;
	memcpy(out + n, "\r\n", 3);
	return n + 2;
}
