/*
 * request_test.c: request_find_end(), request_parse() and
 * request_check_target(), one table row per rule.
 *
 * "Gemini" below is the Gemini protocol specification,
 * gemini://geminiprotocol.net/docs/protocol-specification.gmi: section
 * "Requests" for the request line, "Status codes" for 53 and 59;
 * "3986 x.y" is RFC 3986.
 */

#include <string.h>

#include "request.h"
#include "tap.h"

/* A string literal and its length, so rows can hold NUL bytes. */
#define L(s)	(s), sizeof(s) - 1

struct end_case {
	const char	*name;
	const char	*in;
	size_t		 len;
	ssize_t		 end;
};

static const struct end_case end_cases[] = {
	{ "CRLF ends the request (Gemini)", L("gemini://h/\r\n"), 13 },
	{ "no CRLF yet: wait for more", L("gemini://h/"), 0 },
	{ "nothing yet: wait for more", L(""), 0 },
	{ "lone LF does not end a request (Gemini: CRLF)",
	  L("gemini://h/\n"), 0 },
	{ "lone CR does not end a request: wait for the LF",
	  L("gemini://h/\r"), 0 },
	{ "LF then CR is not CRLF", L("gemini://h/\n\r"), 0 },
	{ "LF inside the line, then CRLF: found (parse rejects)",
	  L("gemini://h/\nx\r\n"), 15 },
	{ "bytes after the first CRLF are not part of the line",
	  L("gemini://h/\r\ngemini://x/\r\n"), 13 },
	{ "empty line is found (parse rejects it)", L("\r\n"), 2 },
	{ "NUL before CRLF is still found (parse rejects it)",
	  L("a\0b\r\n"), 5 },
	{ "CR CR LF ends after the second CR", L("a\r\r\n"), 4 },
};

static void
test_find_end(void)
{
	const struct end_case	*c;
	char			 buf[REQUEST_MAX + 16];
	size_t			 i;

	for (i = 0; i < sizeof(end_cases) / sizeof(end_cases[0]); i++) {
		c = &end_cases[i];
		ok(request_find_end(c->in, c->len) == c->end,
		    "request_find_end: %s", c->name);
	}

	/* Gemini: at most 1024 bytes of URL, then CRLF. */
	memset(buf, 'a', sizeof(buf));
	ok(request_find_end(buf, REQUEST_MAX - 1) == 0,
	    "request_find_end: %d bytes without CRLF: wait for more",
	    REQUEST_MAX - 1);
	ok(request_find_end(buf, REQUEST_MAX) == -1,
	    "request_find_end: %d bytes without CRLF: no valid request "
	    "can come (59)", REQUEST_MAX);
	memcpy(buf + URL_MAX, "\r\n", 2);
	ok(request_find_end(buf, REQUEST_MAX) == REQUEST_MAX,
	    "request_find_end: 1024-byte URL + CRLF is found");
	ok(request_find_end(buf, sizeof(buf)) == REQUEST_MAX,
	    "request_find_end: 1024-byte URL + CRLF is found, "
	    "later bytes ignored");
	memset(buf, 'a', sizeof(buf));
	memcpy(buf + URL_MAX + 1, "\r\n", 2);
	ok(request_find_end(buf, sizeof(buf)) == -1,
	    "request_find_end: 1025-byte URL: CRLF past the limit is "
	    "not looked for");
	ok(request_find_end(buf, REQUEST_MAX) == -1,
	    "request_find_end: CR as byte %d, LF not yet: over the limit",
	    REQUEST_MAX);
}

struct parse_case {
	const char	*name;
	const char	*in;
	size_t		 len;
	int		 status;	/* 0: parses */
	const char	*host;		/* expected on success */
	const char	*path;
};

static const struct parse_case parse_cases[] = {
	{ "plain request parses", L("gemini://example.org/\r\n"), 0,
	  "example.org", "/" },
	{ "empty path is the same as / (Gemini)",
	  L("gemini://example.org\r\n"), 0, "example.org", "/" },
	{ "IDN host in UTF-8 is canonical (RFC 3492)",
	  L("gemini://b\xc3\xbc" "cher.example/\r\n"), 0,
	  "xn--bcher-kva.example", "/" },
	{ "IPv6 literal host", L("gemini://[::1]:1965/x\r\n"), 0, "::1",
	  "/x" },
	{ "trailing slash is kept", L("gemini://h/dir/\r\n"), 0, "h",
	  "/dir/" },
	{ "dot segments are removed (3986 5.2.4)",
	  L("gemini://h/a/../b/./c\r\n"), 0, "h", "/b/c" },

	{ "empty line is rejected (Gemini)", L("\r\n"), 59, NULL, NULL },
	{ "line without CRLF is rejected", L("gemini://h/"), 59, NULL, NULL },
	{ "line ended by LF alone is rejected (Gemini: CRLF)",
	  L("gemini://h/\n"), 59, NULL, NULL },
	{ "line ended by CR alone is rejected", L("gemini://h/\r"), 59,
	  NULL, NULL },
	{ "nothing at all is rejected", L(""), 59, NULL, NULL },
	{ "leading U+FEFF is rejected (Gemini)",
	  L("\xef\xbb\xbfgemini://h/\r\n"), 59, NULL, NULL },
	{ "lone U+FEFF is rejected (Gemini)", L("\xef\xbb\xbf\r\n"), 59,
	  NULL, NULL },
	{ "relative URL is rejected (Gemini: absolute URI)",
	  L("/index.gmi\r\n"), 59, NULL, NULL },
	{ "scheme-less URL is rejected (Gemini: absolute URI)",
	  L("example.org/index.gmi\r\n"), 59, NULL, NULL },
	{ "garbage is rejected", L("\x01\x02\x03garbage\r\n"), 59, NULL,
	  NULL },
	{ "HTTP request line is rejected",
	  L("GET / HTTP/1.1\r\n"), 59, NULL, NULL },
	{ "userinfo is rejected (Gemini)", L("gemini://u@h/\r\n"), 59,
	  NULL, NULL },
	{ "fragment is rejected (Gemini)", L("gemini://h/#frag\r\n"), 59,
	  NULL, NULL },
	{ "overlong UTF-8 is rejected (Gemini: UTF-8; RFC 3629 3)",
	  L("gemini://h/\xc0\xae\xc0\xae/\r\n"), 59, NULL, NULL },
	{ "UTF-8 surrogate is rejected (RFC 3629 3)",
	  L("gemini://h/\xed\xb2\x80\r\n"), 59, NULL, NULL },
	{ "truncated UTF-8 is rejected (RFC 3629 4)",
	  L("gemini://h/\xe2\x82\r\n"), 59, NULL, NULL },
	{ "UTF-8 above U+10FFFF is rejected (RFC 3629 3)",
	  L("gemini://h/\xf4\x90\x80\x80\r\n"), 59, NULL, NULL },
	{ "NUL is rejected", L("gemini://h/\0\r\n"), 59, NULL, NULL },
	{ "NUL hiding a suffix is rejected",
	  L("gemini://h/a.gmi\0.cgi\r\n"), 59, NULL, NULL },
	{ "two lines passed as one are rejected (CR, LF are controls)",
	  L("gemini://h/\r\ngemini://h/\r\n"), 59, NULL, NULL },
	{ "\"/../\" above the root is rejected",
	  L("gemini://h/../etc/passwd\r\n"), 59, NULL, NULL },
	{ "%2e%2e above the root is rejected (3986 6.2.2.2)",
	  L("gemini://h/%2e%2e/etc/passwd\r\n"), 59, NULL, NULL },
	{ "mixed-case %2E%2e above the root is rejected (3986 6.2.2.2)",
	  L("gemini://h/a/%2E%2e/%2e%2E/x\r\n"), 59, NULL, NULL },
	{ "%2f is rejected", L("gemini://h/..%2f..%2fetc\r\n"), 59, NULL,
	  NULL },
	{ "%2F is rejected", L("gemini://h/a%2Fb\r\n"), 59, NULL, NULL },
	{ "%00 is rejected", L("gemini://h/a%00b\r\n"), 59, NULL, NULL },
	{ "raw backslash is rejected (3986 2)",
	  L("gemini://h/..\\..\\x\r\n"), 59, NULL, NULL },
	{ "port overflow is rejected", L("gemini://h:70000/\r\n"), 59, NULL,
	  NULL },
};

static void
test_parse(void)
{
	const struct parse_case	*c;
	struct request		 r;
	const char		*why;
	size_t			 i;
	int			 rv, status;

	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		c = &parse_cases[i];
		status = 0;
		why = NULL;
		rv = request_parse(c->in, c->len, &r, &status, &why);
		if (c->status != 0)
			ok(rv == -1 && status == c->status && why != NULL,
			    "request_parse: %s", c->name);
		else if (!ok(rv == 0 && strcmp(r.url.host, c->host) == 0 &&
		    strcmp(r.url.path, c->path) == 0 &&
		    r.len == c->len - 2 &&
		    memcmp(r.line, c->in, r.len) == 0 &&
		    r.line[r.len] == '\0', "request_parse: %s", c->name))
			printf("# got %d (%s) host=%s path=%s\n", rv,
			    rv ? why : "", r.url.host, r.url.path);
	}
}

/* Gemini: "<URL> is a UTF-8 encoded absolute URL ... 1024 bytes". */
static void
test_length(void)
{
	char		 buf[REQUEST_MAX + 8];
	struct request	 r;
	const char	*why;
	size_t		 pre;
	int		 status;

	pre = strlen("gemini://h/");
	memset(buf, 'a', sizeof(buf));
	memcpy(buf, "gemini://h/", pre);
	memcpy(buf + URL_MAX, "\r\n", 2);
	ok(request_parse(buf, REQUEST_MAX, &r, &status, &why) == 0 &&
	    r.len == URL_MAX,
	    "request_parse: a 1024-byte URL is accepted (Gemini)");
	memset(buf + URL_MAX, 'a', 2);
	memcpy(buf + URL_MAX + 1, "\r\n", 2);
	status = 0;
	ok(request_parse(buf, REQUEST_MAX + 1, &r, &status, &why) == -1 &&
	    status == 59,
	    "request_parse: a 1025-byte URL is rejected (Gemini)");
	status = 0;
	ok(request_parse(NULL, 0, &r, &status, &why) == -1 && status == 59,
	    "request_parse: NULL line is rejected");
}

/* The hosts this test's server "serves", in canonical form. */
static int
served(const char *host, void *arg)
{
	const char	**h;

	for (h = arg; *h != NULL; h++)
		if (strcmp(host, *h) == 0)
			return 1;
	return 0;
}

struct target_case {
	const char	*name;
	const char	*url;
	const char	*sni;
	int		 port;
	int		 status;
};

static const struct target_case target_cases[] = {
	{ "our host, SNI and port: ours", "gemini://example.org/",
	  "example.org", 1965, 0 },
	{ "scheme compare is case-insensitive (3986 3.1)",
	  "GEMINI://example.org/", "example.org", 1965, 0 },
	{ "host compare is case-insensitive (3986 3.2.2)",
	  "gemini://EXAMPLE.org/", "example.org", 1965, 0 },
	{ "SNI compare is case-insensitive (RFC 6066 3)",
	  "gemini://example.org/", "Example.ORG", 1965, 0 },
	{ "SNI with a trailing dot matches",
	  "gemini://example.org/", "example.org.", 1965, 0 },
	{ "UTF-8 host matches an A-label SNI name",
	  "gemini://b\xc3\xbc" "cher.example/", "xn--bcher-kva.example",
	  1965, 0 },
	{ "A-label host matches a UTF-8 SNI name",
	  "gemini://xn--bcher-kva.example/", "b\xc3\xbc" "cher.example",
	  1965, 0 },
	{ "explicit default port is ours", "gemini://example.org:1965/",
	  "example.org", 1965, 0 },
	{ "empty port is the default (3986 3.2.3)",
	  "gemini://example.org:/", "example.org", 1965, 0 },
	{ "non-default port when we listen on it",
	  "gemini://example.org:1966/", "example.org", 1966, 0 },
	{ "IP host without SNI, served: ours (Gemini: no SNI for IPs)",
	  "gemini://127.0.0.1/", NULL, 1965, 0 },
	{ "IPv6 literal without SNI, served: ours",
	  "gemini://[0:0::1]/", NULL, 1965, 0 },
	{ "host name without SNI, served: ours",
	  "gemini://example.org/", NULL, 1965, 0 },

	{ "https scheme is refused (Gemini: 53)", "https://example.org/",
	  "example.org", 1965, 53 },
	{ "gopher scheme is refused (Gemini: 53)", "gopher://example.org/",
	  "example.org", 1965, 53 },
	{ "gemini+x scheme is refused", "gemini+x://example.org/",
	  "example.org", 1965, 53 },
	{ "host we do not serve is refused (Gemini: 53)",
	  "gemini://example.com/", "example.com", 1965, 53 },
	{ "host we do not serve, no SNI, is refused",
	  "gemini://example.com/", NULL, 1965, 53 },
	{ "IP we do not serve, no SNI, is refused",
	  "gemini://192.0.2.1/", NULL, 1965, 53 },
	{ "host differing from SNI is refused (Gemini: 53)",
	  "gemini://other.example/", "example.org", 1965, 53 },
	{ "IP host with a name as SNI is refused",
	  "gemini://127.0.0.1/", "example.org", 1965, 53 },
	{ "SNI that is no host name is refused",
	  "gemini://example.org/", "example..org", 1965, 53 },
	{ "another port is refused (Gemini: 53)",
	  "gemini://example.org:1966/", "example.org", 1965, 53 },
	{ "no port means 1965: refused on another port",
	  "gemini://example.org/", "example.org", 1966, 53 },
	{ "port 0 is refused", "gemini://example.org:0/", "example.org",
	  1965, 53 },
};

static void
test_target(void)
{
	const char		*hosts[] = { "example.org",
				    "xn--bcher-kva.example", "other.example",
				    "127.0.0.1", "::1", NULL };
	const struct target_case *c;
	struct url		 u;
	const char		*why;
	size_t			 i;
	int			 status, rv;

	for (i = 0; i < sizeof(target_cases) / sizeof(target_cases[0]);
	    i++) {
		c = &target_cases[i];
		why = NULL;
		if (url_parse(c->url, strlen(c->url), &u, &status, &why)
		    == -1) {
			ok(0, "request_check_target: %s (url: %s)", c->name,
			    why);
			continue;
		}
		why = NULL;
		rv = request_check_target(&u, c->sni, c->port, served, hosts,
		    &why);
		ok(rv == c->status && (rv == 0 || why != NULL),
		    "request_check_target: %s", c->name);
	}
	url_parse(L("gemini://example.org/"), &u, &status, &why);
	ok(request_check_target(&u, "example.org", 1965, NULL, NULL, &why)
	    == 53, "request_check_target: no served callback serves nothing");
}

int
main(void)
{
	test_find_end();
	test_parse();
	test_length();
	test_target();
	return tap_done();
}
