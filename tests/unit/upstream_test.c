/*
 * upstream_test.c: the fastcgi, scgi and proxy lines, and the URL a
 * proxied request is sent to.  The URL is built from the config alone
 * (BASE, and the rest of the path after PATH, and the query): never
 * the client's host or port, so capsuled is no open proxy.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "upstream.h"

static const struct {
	int		 kind;
	const char	*value;
	const char	*why;	/* NULL: parses; else how its why starts */
	const char	*rule;
} lines[] = {
	{ UP_FASTCGI, "/app/ unix:/run/fcgiwrap.socket", NULL,
	  "a UNIX socket" },
	{ UP_FASTCGI, "/app/ 127.0.0.1:9000 keepalive=4 root=/var/www", NULL,
	  "an address, keep-alive and the responder's root" },
	{ UP_SCGI, "/app [::1]:4000", NULL, "an IPv6 address in brackets" },
	{ UP_SCGI, "/app scgi.internal:4000", NULL,
	  "a host name, resolved at load" },
	{ UP_GEMINI, "/w/ gemini://wiki.example verify=none", NULL,
	  "a proxy without BASE" },
	{ UP_FASTCGI, "app/ unix:/x", "fastcgi: PATH \"app/\"",
	  "PATH is a path" },
	{ UP_FASTCGI, "/a/../b/ unix:/x", "fastcgi: PATH \"/a/../b/\"",
	  "no dot segment in PATH" },
	{ UP_FASTCGI, "/app/", "fastcgi: expected PATH SOCKET",
	  "SOCKET is needed" },
	{ UP_FASTCGI, "/app/ unix:/x keepalive=65", "fastcgi: keepalive:",
	  "keepalive is bounded" },
	{ UP_FASTCGI, "/app/ unix:/x keepalive=-1", "fastcgi: keepalive:",
	  "keepalive is not negative" },
	{ UP_FASTCGI, "/app/ unix:/x root=www", "fastcgi: root:",
	  "root is absolute" },
	{ UP_SCGI, "/app/ 127.0.0.1:0", "scgi: \"127.0.0.1:0\" is not",
	  "port 0 is no port" },
	{ UP_SCGI, "/app/ ::1:4000", "scgi: \"::1:4000\" is not",
	  "an IPv6 address needs its brackets" },
	{ UP_SCGI, "/app/ unix:/x keepalive=1", "scgi: unknown option",
	  "SCGI keeps no connection (one per request)" },
	{ UP_GEMINI, "/w/ gemini://wiki.example/?q verify=none",
	  "proxy: \"gemini://wiki.example/?q\" has a query",
	  "BASE has no query" },
	{ UP_GEMINI, "/w/ gemini://u@wiki.example/ verify=none",
	  "proxy: \"gemini://u@wiki.example/\":", "no userinfo" },
	{ UP_GEMINI, "/w/ gemini://wiki.example/ verify=sha256:abc",
	  "proxy: verify: sha256: takes", "a pin is 64 hex digits" },
	{ UP_GEMINI, "/w/ gemini://wiki.example/ verify=md5:ab",
	  "proxy: unknown option", "verify's forms are three" },
	{ UP_GEMINI, "/w/ gemini://wiki.example/ sni=a%20b",
	  "proxy: sni: \"a%20b\" is not a host name", "sni is a host name" },
};

static void
test_lines(void)
{
	struct upstream_cfg	u;
	char			why[UPSTREAM_WHY_MAX];
	size_t			i;
	int			r;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		why[0] = '\0';
		r = upstream_parse(lines[i].kind, lines[i].value, "/etc", 3, &u,
		    why, sizeof(why));
		if (lines[i].why == NULL)
			ok(r == 0, "%s (%s)", lines[i].rule, why);
		else
			ok(r == -1 && strncmp(why, lines[i].why,
			    strlen(lines[i].why)) == 0, "%s (%s)",
			    lines[i].rule, why);
	}
}

static void
test_fields(void)
{
	struct upstream_cfg	 u;
	char			 why[UPSTREAM_WHY_MAX];
	const struct sockaddr_in6 *sin6 = (const void *)&u.ss;

	upstream_parse(UP_FASTCGI, "/app/ unix:/run/fcgiwrap.socket", "/etc",
	    3, &u, why, sizeof(why));
	ok(strcmp(u.sun_path, "/run/fcgiwrap.socket") == 0 && u.sslen == 0 &&
	    strcmp(u.name, "fastcgi:unix:/run/fcgiwrap.socket") == 0 &&
	    strcmp(u.path, "/app/") == 0 && u.line == 3, "a UNIX socket, "
	    "and the name the access log gives the upstream");
	upstream_parse(UP_SCGI, "/%41pp [::1]:4000", "/etc", 3, &u, why,
	    sizeof(why));
	ok(strcmp(u.path, "/App") == 0 && strcmp(u.host, "::1") == 0 &&
	    u.port == 4000 && u.sslen == sizeof(*sin6) &&
	    sin6->sin6_family == AF_INET6 && ntohs(sin6->sin6_port) == 4000,
	    "PATH decoded as request paths are; an address is ready to "
	    "connect to");
	upstream_parse(UP_SCGI, "/app Scgi.Internal:4000", "/etc", 3, &u, why,
	    sizeof(why));
	ok(strcmp(u.host, "scgi.internal") == 0 && u.sslen == 0,
	    "a name is kept, canonical, for the load to resolve");
	upstream_parse(UP_GEMINI, "/w/ gemini://Wiki.Example:1966/base/ "
	    "verify=sha256:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:"
	    "01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef", "/etc", 3, &u,
	    why, sizeof(why));
	ok(strcmp(u.host, "wiki.example") == 0 && u.port == 1966 &&
	    strcmp(u.base, "/base/") == 0 && u.verify == UP_VERIFY_PIN &&
	    u.pin[0] == 0x01 && u.pin[31] == 0xef && upstream_check(&u, why,
	    sizeof(why)) == 0, "a proxy: host, port, BASE, a pin written "
	    "as openssl prints it");
	upstream_parse(UP_GEMINI, "/w/ gemini://wiki.example/", "/etc", 3, &u,
	    why, sizeof(why));
	ok(upstream_check(&u, why, sizeof(why)) == -1 &&
	    upstream_options(&u, "verify=ca:ca.pem cert=c key=k", "/etc", why,
	    sizeof(why)) == 0 && upstream_check(&u, why, sizeof(why)) == 0 &&
	    strcmp(u.ca, "/etc/ca.pem") == 0 && strcmp(u.cert, "/etc/c") == 0,
	    "options added later (a continuation line) complete a rule");
}

static void
test_find(void)
{
	struct upstream_cfg	 v[3];
	char			 why[UPSTREAM_WHY_MAX];
	int			 slash;

	upstream_parse(UP_FASTCGI, "/app/ unix:/a", "/", 1, &v[0], why,
	    sizeof(why));
	upstream_parse(UP_SCGI, "/app/deep/ unix:/b", "/", 2, &v[1], why,
	    sizeof(why));
	upstream_parse(UP_SCGI, "/search unix:/c", "/", 3, &v[2], why,
	    sizeof(why));
	ok(upstream_find(v, 3, "/app/x", &slash) == &v[0] && !slash &&
	    upstream_find(v, 3, "/app/deep/x", &slash) == &v[1],
	    "the longest PATH wins");
	ok(upstream_find(v, 3, "/app", &slash) == &v[0] && slash,
	    "a prefix's directory without its slash: sent to it (31)");
	ok(upstream_find(v, 3, "/application", &slash) == NULL &&
	    upstream_find(v, 3, "/searching", &slash) == NULL,
	    "a PATH covers whole segments only");
	ok(upstream_find(v, 3, "/search", &slash) == &v[2] && !slash &&
	    upstream_find(v, 3, "/search/more", &slash) == &v[2],
	    "an exact PATH covers itself and what is under it");
	ok(strcmp(upstream_rest(&v[0], "/app/x/y"), "x/y") == 0 &&
	    strcmp(upstream_rest(&v[2], "/search/q"), "/q") == 0 &&
	    strcmp(upstream_rest(&v[2], "/search"), "") == 0,
	    "the rest of the path after PATH");
}

static const struct {
	const char	*line;
	const char	*path, *query;
	const char	*want;	/* NULL: refused */
} urls[] = {
	{ "/w/ gemini://wiki.example/", "/w/page.gmi", NULL,
	  "gemini://wiki.example/page.gmi\r\n" },
	{ "/w/ gemini://wiki.example/base", "/w/a/b", "q=1%202",
	  "gemini://wiki.example/base/a/b?q=1%202\r\n" },
	{ "/w/ gemini://wiki.example/base/", "/w/", "",
	  "gemini://wiki.example/base/?\r\n" },
	{ "/w/ gemini://wiki.example:1966", "/w/x y", NULL,
	  "gemini://wiki.example:1966/x%20y\r\n" },
	{ "/search gemini://search.example/", "/search", NULL,
	  "gemini://search.example/\r\n" },
	{ "/search gemini://search.example/", "/search/q", NULL,
	  "gemini://search.example/q\r\n" },
	{ "/search gemini://search.example/s/", "/search/q", NULL,
	  "gemini://search.example/s/q\r\n" },
	{ "/w/ gemini://[::1]:1966/ verify=none", "/w/x", NULL,
	  "gemini://[::1]:1966/x\r\n" },
	{ "/w/ gemini://127.0.0.1:1966/ sni=wiki.example", "/w/x", NULL,
	  "gemini://wiki.example:1966/x\r\n" },
};

static void
test_url(void)
{
	struct upstream_cfg	u;
	char			why[UPSTREAM_WHY_MAX], out[URL_MAX + 3];
	char			longpath[URL_MAX];
	size_t			i;
	int			n;

	for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		n = upstream_parse(UP_GEMINI, urls[i].line, "/", 1, &u, why,
		    sizeof(why));
		if (n == 0)
			n = upstream_url(&u, urls[i].path, urls[i].query, out,
			    sizeof(out));
		ok(n > 0 && strcmp(out, urls[i].want) == 0 &&
		    (size_t)n == strlen(urls[i].want), "%s + %s%s%s -> %.*s",
		    urls[i].line, urls[i].path, urls[i].query ? "?" : "",
		    urls[i].query ? urls[i].query : "",
		    (int)strlen(urls[i].want) - 2, urls[i].want);
	}
	upstream_parse(UP_GEMINI, "/w/ gemini://wiki.example/", "/", 1, &u,
	    why, sizeof(why));
	memset(longpath, 'a', sizeof(longpath) - 1);
	memcpy(longpath, "/w/", 3);
	longpath[sizeof(longpath) - 1] = '\0';
	ok(upstream_url(&u, longpath, NULL, out, sizeof(out)) == -1,
	    "a URL over 1024 bytes is not sent (Gemini: the upstream would "
	    "refuse it)");
}

int
main(void)
{
	test_lines();
	test_fields();
	test_find();
	test_url();
	return tap_done();
}
