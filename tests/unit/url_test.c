/*
 * url_test.c: url_parse(), url_host_canonical(), url_encode_path() and
 * url_utf8_valid(), one table row per rule.
 *
 * "Gemini" below is the Gemini protocol specification,
 * gemini://geminiprotocol.net/docs/protocol-specification.gmi, section
 * "Requests" unless another is named; "3986 x.y" is RFC 3986.
 */

#include <string.h>

#include "tap.h"
#include "url.h"

/* A string literal and its length, so rows can hold NUL bytes. */
#define L(s)	(s), sizeof(s) - 1
/* A URL that must be answered 59. */
#define BAD(s)	L(s), 59, NULL, NULL, 0, NULL, NULL

struct parse_case {
	const char	*name;
	const char	*in;
	size_t		 len;
	int		 status;	/* 0: parses */
	const char	*scheme;	/* expected on success, NULL: skip */
	const char	*host;
	int		 port;		/* 0: skip */
	const char	*path;
	const char	*query;		/* NULL: no '?' in the URL */
};

static const struct parse_case parse_cases[] = {
	/* What parses, and how it is normalised. */
	{ "plain URL parses",
	  L("gemini://example.org/"),
	  0, "gemini", "example.org", 1965, "/", NULL },
	{ "empty path is the same as / (Gemini)",
	  L("gemini://example.org"),
	  0, "gemini", "example.org", 1965, "/", NULL },
	{ "scheme is lower-cased (3986 3.1, 6.2.2.1)",
	  L("GeMiNi://example.org/"),
	  0, "gemini", "example.org", 1965, "/", NULL },
	{ "scheme may hold digits, +, -, . (3986 3.1)",
	  L("a1+b-c.d://example.org/"),
	  0, "a1+b-c.d", "example.org", 1965, "/", NULL },
	{ "other schemes parse; routing answers 53 (Gemini)",
	  L("https://example.org/"),
	  0, "https", "example.org", 1965, "/", NULL },
	{ "host is lower-cased (3986 3.2.2, 6.2.2.1)",
	  L("gemini://Example.ORG/"),
	  0, "gemini", "example.org", 1965, "/", NULL },
	{ "trailing dot of a FQDN is dropped from the host",
	  L("gemini://example.org./"),
	  0, "gemini", "example.org", 1965, "/", NULL },
	{ "explicit port is kept (3986 3.2.3)",
	  L("gemini://example.org:1966/"),
	  0, "gemini", "example.org", 1966, "/", NULL },
	{ "empty port means the default 1965 (3986 3.2.3, 6.2.3)",
	  L("gemini://example.org:/"),
	  0, "gemini", "example.org", 1965, "/", NULL },
	{ "port 0 parses (routing refuses it)",
	  L("gemini://example.org:0/"),
	  0, "gemini", "example.org", 0, "/", NULL },
	{ "port 65535 is the largest",
	  L("gemini://example.org:65535/"),
	  0, "gemini", "example.org", 65535, "/", NULL },
	{ "port with leading zeros is decimal (3986 3.2.3)",
	  L("gemini://example.org:01965/"),
	  0, "gemini", "example.org", 1965, "/", NULL },
	{ "port on an empty path",
	  L("gemini://example.org:1966"),
	  0, "gemini", "example.org", 1966, "/", NULL },
	{ "IPv4 host (3986 3.2.2)",
	  L("gemini://127.0.0.1:1965/"),
	  0, "gemini", "127.0.0.1", 1965, "/", NULL },
	{ "IPv6 literal: brackets stripped (3986 3.2.2)",
	  L("gemini://[::1]/"), 0, "gemini", "::1", 1965, "/", NULL },
	{ "IPv6 literal with a port",
	  L("gemini://[::1]:1966/x"), 0, "gemini", "::1", 1966, "/x", NULL },
	{ "IPv6 literal in RFC 5952 form",
	  L("gemini://[2001:DB8:0:0:0:0:0:0001]/"),
	  0, "gemini", "2001:db8::1", 1965, "/", NULL },
	{ "IPv6 literal with an IPv4 tail (3986 3.2.2 ls32)",
	  L("gemini://[::ffff:192.0.2.1]/"),
	  0, "gemini", "::ffff:192.0.2.1", 1965, "/", NULL },
	{ "IDN host in UTF-8 becomes its A-label (RFC 3492)",
	  L("gemini://b\xc3\xbc" "cher.example/"),
	  0, "gemini", "xn--bcher-kva.example", 1965, "/", NULL },
	{ "IDN host with capitals is lower-cased before punycode",
	  L("gemini://B\xc3\x9c" "CHER.example/"),
	  0, "gemini", "xn--bcher-kva.example", 1965, "/", NULL },
	{ "A-label host is kept, lower-cased",
	  L("gemini://XN--BCHER-KVA.example/"),
	  0, "gemini", "xn--bcher-kva.example", 1965, "/", NULL },
	{ "host may hold sub-delims and _ (3986 3.2.2 reg-name)",
	  L("gemini://a_b-c~d!.example/"),
	  0, "gemini", "a_b-c~d!.example", 1965, "/", NULL },
	{ "query is kept raw, still encoded (3986 3.4)",
	  L("gemini://h/search?a%20b&c=d"),
	  0, "gemini", "h", 1965, "/search", "a%20b&c=d" },
	{ "empty query is a query (3986 3.4)",
	  L("gemini://h/?"), 0, "gemini", "h", 1965, "/", "" },
	{ "query may hold / and ? (3986 3.4)",
	  L("gemini://h/?a/b?c"), 0, "gemini", "h", 1965, "/", "a/b?c" },
	{ "query on an empty path",
	  L("gemini://h?q"), 0, "gemini", "h", 1965, "/", "q" },
	{ "query may hold UTF-8 (RFC 3987 iquery)",
	  L("gemini://h/?caf\xc3\xa9"),
	  0, "gemini", "h", 1965, "/", "caf\xc3\xa9" },
	{ "query is not dot-normalised",
	  L("gemini://h/?/../x"), 0, "gemini", "h", 1965, "/", "/../x" },
	{ "trailing slash is preserved",
	  L("gemini://h/dir/"), 0, "gemini", "h", 1965, "/dir/", NULL },
	{ "no trailing slash is preserved",
	  L("gemini://h/dir"), 0, "gemini", "h", 1965, "/dir", NULL },
	{ "path is percent-decoded (3986 2.1)",
	  L("gemini://h/a%20b"), 0, "gemini", "h", 1965, "/a b", NULL },
	{ "lower-case hex escapes decode too (3986 2.1)",
	  L("gemini://h/caf%c3%a9"),
	  0, "gemini", "h", 1965, "/caf\xc3\xa9", NULL },
	{ "raw UTF-8 path is allowed (RFC 3987 ipath)",
	  L("gemini://h/caf\xc3\xa9"),
	  0, "gemini", "h", 1965, "/caf\xc3\xa9", NULL },
	{ "pchar sub-delims, ':' and '@' are path bytes (3986 3.3)",
	  L("gemini://h/a:b@c!$&'()*+,;="),
	  0, "gemini", "h", 1965, "/a:b@c!$&'()*+,;=", NULL },
	{ "encoded ? in the path is a path byte, not a query",
	  L("gemini://h/a%3Fb"), 0, "gemini", "h", 1965, "/a?b", NULL },
	{ "encoded backslash is just a byte of the name",
	  L("gemini://h/a%5Cb"), 0, "gemini", "h", 1965, "/a\\b", NULL },
	{ "\".\" segment is removed (3986 5.2.4)",
	  L("gemini://h/a/./b"), 0, "gemini", "h", 1965, "/a/b", NULL },
	{ "\"..\" removes the segment before it (3986 5.2.4)",
	  L("gemini://h/a/b/../c"), 0, "gemini", "h", 1965, "/a/c", NULL },
	{ "trailing \"..\" keeps the trailing slash (3986 5.2.4)",
	  L("gemini://h/a/b/.."), 0, "gemini", "h", 1965, "/a/", NULL },
	{ "trailing \".\" keeps the trailing slash (3986 5.2.4)",
	  L("gemini://h/a/."), 0, "gemini", "h", 1965, "/a/", NULL },
	{ "\"/.\" is the root (3986 5.2.4)",
	  L("gemini://h/."), 0, "gemini", "h", 1965, "/", NULL },
	{ "\"..\" back to the root is fine",
	  L("gemini://h/a/.."), 0, "gemini", "h", 1965, "/", NULL },
	{ "\"/./\" is the root",
	  L("gemini://h/./"), 0, "gemini", "h", 1965, "/", NULL },
	{ "decoded %2e%2E is \"..\" (3986 6.2.2.2)",
	  L("gemini://h/a/b/%2e%2E/c"), 0, "gemini", "h", 1965, "/a/c", NULL },
	{ "decoded %2e is \".\" (3986 6.2.2.2)",
	  L("gemini://h/%2e/x"), 0, "gemini", "h", 1965, "/x", NULL },
	{ "\"..b\" and \"...\" are names, not dot segments",
	  L("gemini://h/a/..b/.../"),
	  0, "gemini", "h", 1965, "/a/..b/.../", NULL },
	{ "empty segments are merged (a leading // names a host, 3986 4.2)",
	  L("gemini://h//a//b"), 0, "gemini", "h", 1965, "/a/b", NULL },
	{ "\"//\" alone is the root",
	  L("gemini://h//"), 0, "gemini", "h", 1965, "/", NULL },
	{ "merged empty segment keeps the trailing slash",
	  L("gemini://h/a//"), 0, "gemini", "h", 1965, "/a/", NULL },
	{ "\"..\" after \"//\" drops the segment before (as a file system)",
	  L("gemini://h/a//../b"), 0, "gemini", "h", 1965, "/b", NULL },

	/* Gemini: 59 for anything malformed. */
	{ "empty URL is rejected",
	  BAD("") },
	{ "absolute-path reference is rejected (no scheme)",
	  BAD("/index.gmi") },
	{ "network-path reference is rejected (no scheme)",
	  BAD("//example.org/") },
	{ "scheme-less host/path is rejected",
	  BAD("example.org/") },
	{ "relative path is rejected",
	  BAD("index.gmi") },
	{ "garbage is rejected",
	  BAD("::::") },
	{ "scheme must start with a letter (3986 3.1)",
	  BAD("1gemini://h/") },
	{ "scheme with a bad character is rejected (3986 3.1)",
	  BAD("gem_ini://h/") },
	{ "over-long scheme is rejected",
	  BAD("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa://h/") },
	{ "URL without // authority is rejected",
	  BAD("gemini:/example.org/") },
	{ "URN-like URL without authority is rejected",
	  BAD("gemini:example.org") },
	{ "userinfo is rejected (Gemini)",
	  BAD("gemini://user@example.org/") },
	{ "userinfo with a password is rejected (Gemini)",
	  BAD("gemini://user:pw@example.org/") },
	{ "empty userinfo is rejected (Gemini)",
	  BAD("gemini://@example.org/") },
	{ "fragment is rejected (Gemini)",
	  BAD("gemini://h/#frag") },
	{ "empty fragment is rejected (Gemini)",
	  BAD("gemini://h/#") },
	{ "fragment after a query is rejected (Gemini)",
	  BAD("gemini://h/?q#frag") },
	{ "leading U+FEFF is rejected (Gemini)",
	  BAD("\xef\xbb\xbfgemini://h/") },
	{ "overlong UTF-8 is rejected (RFC 3629 3)",
	  BAD("gemini://h/\xc0\xaf") },
	{ "overlong 3-byte UTF-8 is rejected (RFC 3629 3)",
	  BAD("gemini://h/\xe0\x80\xaf") },
	{ "overlong 4-byte UTF-8 is rejected (RFC 3629 3)",
	  BAD("gemini://h/\xf0\x80\x80\xaf") },
	{ "UTF-8 surrogate is rejected (RFC 3629 3)",
	  BAD("gemini://h/\xed\xa0\x80") },
	{ "truncated UTF-8 at the end is rejected (RFC 3629 4)",
	  BAD("gemini://h/\xc3") },
	{ "truncated UTF-8 mid-line is rejected (RFC 3629 4)",
	  BAD("gemini://h/\xe2\x82x") },
	{ "UTF-8 above U+10FFFF is rejected (RFC 3629 3)",
	  BAD("gemini://h/\xf4\x90\x80\x80") },
	{ "5-byte UTF-8 lead byte is rejected (RFC 3629 3)",
	  BAD("gemini://h/\xf8\x88\x80\x80\x80") },
	{ "lone continuation byte is rejected (RFC 3629 4)",
	  BAD("gemini://h/\x80") },
	{ "byte 0xFF is rejected (RFC 3629 1)",
	  BAD("gemini://h/\xff") },
	{ "invalid UTF-8 in the host is rejected",
	  BAD("gemini://\xc3(/") },
	{ "NUL in the path is rejected",
	  BAD("gemini://h/a\0b") },
	{ "NUL at the end is rejected",
	  BAD("gemini://h/\0") },
	{ "tab is rejected (3986 2)",
	  BAD("gemini://h/a\tb") },
	{ "lone LF is rejected (3986 2)",
	  BAD("gemini://h/\n") },
	{ "CR is rejected (3986 2)",
	  BAD("gemini://h/\r") },
	{ "DEL is rejected (3986 2)",
	  BAD("gemini://h/\x7f") },
	{ "C1 control U+0085 is rejected (RFC 3987 2.2 ucschar)",
	  BAD("gemini://h/\xc2\x85") },
	{ "space is rejected (3986 2)",
	  BAD("gemini://h/a b") },
	{ "raw backslash is rejected (3986 2)",
	  BAD("gemini://h/a\\..\\b") },
	{ "raw < > \" { } | ^ ` are rejected (3986 2)",
	  BAD("gemini://h/<a>") },
	{ "raw | is rejected (3986 2)",
	  BAD("gemini://h/?a|b") },
	{ "'[' in the path is rejected (3986 3.3)",
	  BAD("gemini://h/[x]") },
	{ "'[' in the query is rejected (3986 3.4)",
	  BAD("gemini://h/?[x]") },
	{ "\"/..\" above the root is rejected",
	  BAD("gemini://h/..") },
	{ "\"/../\" above the root is rejected",
	  BAD("gemini://h/../") },
	{ "\"/../etc/passwd\" is rejected",
	  BAD("gemini://h/../etc/passwd") },
	{ "\"..\" one level too far is rejected",
	  BAD("gemini://h/a/../../b") },
	{ "\"//..\" above the root is rejected (empty segments merged)",
	  BAD("gemini://h//..") },
	{ "\".\" then \"..\" too far is rejected",
	  BAD("gemini://h/a/./../../b") },
	{ "%2e%2e above the root is rejected (3986 6.2.2.2)",
	  BAD("gemini://h/%2e%2e/x") },
	{ "%2E%2E above the root is rejected (3986 6.2.2.2)",
	  BAD("gemini://h/%2E%2E/x") },
	{ "mixed-case %2e%2E above the root is rejected",
	  BAD("gemini://h/a/%2e%2E/%2E%2e") },
	{ "half-encoded .%2e above the root is rejected",
	  BAD("gemini://h/.%2e/x") },
	{ "encoded slash %2f is rejected",
	  BAD("gemini://h/a%2fb") },
	{ "encoded slash %2F in a traversal is rejected",
	  BAD("gemini://h/..%2F..%2Fetc") },
	{ "encoded NUL %00 is rejected",
	  BAD("gemini://h/a%00.gmi") },
	{ "bad escape %zz is rejected (3986 2.1)",
	  BAD("gemini://h/%zz") },
	{ "half-hex escape %2g is rejected (3986 2.1)",
	  BAD("gemini://h/%2g") },
	{ "truncated escape at the end is rejected (3986 2.1)",
	  BAD("gemini://h/a%2") },
	{ "truncated escape before a '/' is rejected (3986 2.1)",
	  BAD("gemini://h/a%2/b") },
	{ "lone % is rejected (3986 2.1)",
	  BAD("gemini://h/%") },
	{ "bad escape in the query is rejected (3986 3.4)",
	  BAD("gemini://h/?a=%zz") },
	{ "empty host is rejected (Gemini: authority needs a host)",
	  BAD("gemini:///path") },
	{ "port without a host is rejected",
	  BAD("gemini://:1965/") },
	{ "percent-encoded host is rejected",
	  BAD("gemini://%65xample.org/") },
	{ "empty label in the host is rejected",
	  BAD("gemini://a..b/") },
	{ "leading dot in the host is rejected",
	  BAD("gemini://.a/") },
	{ "port 65536 overflows (3986 3.2.3, TCP)",
	  BAD("gemini://h:65536/") },
	{ "huge port overflows",
	  BAD("gemini://h:99999999999999999999999/") },
	{ "non-digit port is rejected (3986 3.2.3)",
	  BAD("gemini://h:19a5/") },
	{ "negative port is rejected (3986 3.2.3)",
	  BAD("gemini://h:-1/") },
	{ "two ports are rejected",
	  BAD("gemini://h:1:2/") },
	{ "IPv6 literal without ']' is rejected (3986 3.2.2)",
	  BAD("gemini://[::1/") },
	{ "IPv6 literal followed by junk is rejected",
	  BAD("gemini://[::1]x/") },
	{ "IPv6 literal with nine groups is rejected",
	  BAD("gemini://[1:2:3:4:5:6:7:8:9]/") },
	{ "IPv6 literal with two :: is rejected",
	  BAD("gemini://[1::2::3]/") },
	{ "IPv6 literal with a 5-digit group is rejected",
	  BAD("gemini://[12345::1]/") },
	{ "IPv6 literal with a zone id is rejected",
	  BAD("gemini://[fe80::1%25eth0]/") },
	{ "IPvFuture literal is rejected",
	  BAD("gemini://[v1.x]/") },
	{ "host name in brackets is rejected",
	  BAD("gemini://[example.org]/") },
	{ "empty brackets are rejected",
	  BAD("gemini://[]/") },
	{ "'[' inside a host name is rejected",
	  BAD("gemini://a[b]/") },
};

static void
test_parse(void)
{
	const struct parse_case	*c;
	struct url		 u;
	const char		*why;
	size_t			 i;
	int			 r, status, good;

	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		c = &parse_cases[i];
		status = 0;
		why = NULL;
		r = url_parse(c->in, c->len, &u, &status, &why);
		if (c->status != 0) {
			ok(r == -1 && status == c->status && why != NULL,
			    "url_parse: %s", c->name);
			continue;
		}
		good = r == 0 &&
		    strcmp(u.scheme, c->scheme) == 0 &&
		    strcmp(u.host, c->host) == 0 &&
		    u.port == c->port &&
		    strcmp(u.path, c->path) == 0 &&
		    u.has_query == (c->query != NULL) &&
		    strcmp(u.query, c->query ? c->query : "") == 0;
		if (!ok(good, "url_parse: %s", c->name))
			printf("# got %d (%s) scheme=%s host=%s port=%d "
			    "path=%s query=%s\n", r, r ? why : "",
			    u.scheme, u.host, u.port, u.path, u.query);
	}
}

/* port_given says whether a port was written; an empty one is not. */
static void
test_port_given(void)
{
	struct url	 u;
	const char	*why;
	int		 status;

	ok(url_parse(L("gemini://h:1965/"), &u, &status, &why) == 0 &&
	    u.port_given == 1, "url_parse: \":1965\" sets port_given");
	ok(url_parse(L("gemini://h/"), &u, &status, &why) == 0 &&
	    u.port_given == 0, "url_parse: no port leaves port_given 0");
	ok(url_parse(L("gemini://h:/"), &u, &status, &why) == 0 &&
	    u.port_given == 0,
	    "url_parse: empty port leaves port_given 0 (3986 6.2.3)");
	ok(url_parse(NULL, 0, &u, &status, &why) == -1 && status == 59,
	    "url_parse: NULL input is an empty request");
}

/* Gemini: the URL is at most 1024 bytes. */
static void
test_length(void)
{
	char		 buf[URL_MAX + 2];
	struct url	 u;
	const char	*why;
	size_t		 pre;
	int		 status;

	pre = strlen("gemini://h/");
	memcpy(buf, "gemini://h/", pre);
	memset(buf + pre, 'a', sizeof(buf) - pre);
	ok(url_parse(buf, URL_MAX, &u, &status, &why) == 0 &&
	    strlen(u.path) == URL_MAX - pre + 1,
	    "url_parse: a URL of exactly 1024 bytes parses (Gemini)");
	status = 0;
	ok(url_parse(buf, URL_MAX + 1, &u, &status, &why) == -1 &&
	    status == 59,
	    "url_parse: a URL of 1025 bytes is rejected (Gemini)");
	memcpy(buf + pre, "?", 1);
	ok(url_parse(buf, URL_MAX, &u, &status, &why) == 0 &&
	    strlen(u.query) == URL_MAX - pre - 1,
	    "url_parse: a 1024-byte URL that is mostly query fits");
}

struct host_case {
	const char	*name;
	const char	*in;
	const char	*out;	/* NULL: -1 expected */
};

/* Punycode values checked against Python's "punycode" codec. */
static const struct host_case host_cases[] = {
	{ "ASCII host is lower-cased", "Example.ORG", "example.org" },
	{ "Latin-1 label to A-label (RFC 3492)", "b\xc3\xbc" "cher.example",
	  "xn--bcher-kva.example" },
	{ "Latin-1 capital is lower-cased first (UTS #46 mapping)",
	  "M\xc3\x9cNCHEN.de", "xn--mnchen-3ya.de" },
	{ "Cyrillic label to A-label (RFC 3492)",
	  "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.example",
	  "xn--e1afmkfd.example" },
	{ "Cyrillic capital is lower-cased first",
	  "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.example",
	  "xn--e1afmkfd.example" },
	{ "Greek label to A-label (RFC 3492)",
	  "\xcf\x80\xce\xb1\xcf\x81\xce\xac\xce\xb4\xce\xb5\xce\xb9\xce\xb3"
	  "\xce\xbc\xce\xb1", "xn--hxajbheg2az3al" },
	{ "CJK label to A-label (RFC 3492)",
	  "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e.jp", "xn--wgv71a119e.jp" },
	{ "mixed kana/kanji label to A-label (RFC 3492)",
	  "\xe3\x83\x89\xe3\x83\xa1\xe3\x82\xa4\xe3\x83\xb3\xe5\x90\x8d"
	  "\xe4\xbe\x8b", "xn--eckwd4c7cu47r2wf" },
	{ "ideographic full stop separates labels (RFC 3490 3.1)",
	  "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x80\x82jp",
	  "xn--wgv71a119e.jp" },
	{ "A-label is kept, lower-cased", "XN--BCHER-KVA.Example",
	  "xn--bcher-kva.example" },
	{ "trailing dot (DNS root) is dropped", "example.org.", "example.org" },
	{ "IPv4 address is kept", "192.0.2.1", "192.0.2.1" },
	{ "IPv6 in brackets loses them", "[::1]", "::1" },
	{ "IPv6 without brackets (config, SNI)", "::1", "::1" },
	{ "IPv6 :: alone", "::", "::" },
	{ "IPv6 hex is lower-cased (RFC 5952 4.3)", "2001:DB8::A",
	  "2001:db8::a" },
	{ "IPv6 leading zeros go (RFC 5952 4.1)", "2001:0db8::0001",
	  "2001:db8::1" },
	{ "IPv6 longest zero run is :: (RFC 5952 4.2.1)",
	  "2001:db8:0:0:0:0:2:1", "2001:db8::2:1" },
	{ "IPv6 lone zero group is not :: (RFC 5952 4.2.2)",
	  "2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1" },
	{ "IPv6 longer run wins (RFC 5952 4.2.3)",
	  "2001:0:0:1:0:0:0:1", "2001:0:0:1::1" },
	{ "IPv6 first run wins a tie (RFC 5952 4.2.3)",
	  "2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1" },
	{ "IPv6 trailing zeros", "1:0:0:0:0:0:0:0", "1::" },
	{ "IPv4-mapped IPv6 in mixed notation (RFC 5952 5)",
	  "::ffff:c000:0201", "::ffff:192.0.2.1" },
	{ "IPv6 with IPv4 tail, not mapped", "64:ff9b::192.0.2.1",
	  "64:ff9b::c000:201" },
	{ "empty host fails", "", NULL },
	{ "lone dot fails", ".", NULL },
	{ "empty label fails", "a..b", NULL },
	{ "leading dot fails", ".a", NULL },
	{ "invalid UTF-8 fails", "b\xc3(cher", NULL },
	{ "space fails (not a reg-name character)", "a b", NULL },
	{ "slash fails (not a reg-name character)", "a/b", NULL },
	{ "percent fails (encoded hosts not supported)", "%41", NULL },
	{ "C1 control fails", "a\xc2\x85" "b", NULL },
	{ "colon that is not IPv6 fails", "host:1965", NULL },
	{ "bad IPv6 fails", "1:::2", NULL },
	{ "IPv6 with a trailing colon fails", "1::2:", NULL },
	{ "IPv6 with a leading colon fails", ":1::2", NULL },
	{ "IPv6 with 8 groups and :: fails", "1:2:3:4::5:6:7:8", NULL },
	{ "IPv6 with a bad IPv4 tail fails", "::1.2.3.256", NULL },
	{ "IPv6 with an IPv4 leading zero fails", "::1.2.3.04", NULL },
	{ "unclosed bracket fails", "[::1", NULL },
};

static void
test_host(void)
{
	const struct host_case	*c;
	char			 out[URL_HOST_MAX + 1];
	size_t			 i;
	int			 r;

	for (i = 0; i < sizeof(host_cases) / sizeof(host_cases[0]); i++) {
		c = &host_cases[i];
		memset(out, 0, sizeof(out));
		r = url_host_canonical(c->in, out, sizeof(out));
		if (c->out == NULL)
			ok(r == -1, "url_host_canonical: %s", c->name);
		else if (!ok(r == 0 && strcmp(out, c->out) == 0,
		    "url_host_canonical: %s", c->name))
			printf("# got %d \"%s\"\n", r, out);
	}
	ok(url_host_canonical("example.org", out, 12) == 0 &&
	    strcmp(out, "example.org") == 0,
	    "url_host_canonical: a host that just fits");
	ok(url_host_canonical("example.org", out, 11) == -1,
	    "url_host_canonical: a host one byte too long fails");
	ok(url_host_canonical("b\xc3\xbc" "cher", out, 13) == -1,
	    "url_host_canonical: an A-label that does not fit fails");
	ok(url_host_canonical("::1", out, 3) == -1,
	    "url_host_canonical: an IPv6 address that does not fit fails");
	ok(url_host_canonical("b\xc3\xbc" "cher", out, sizeof(out)) == 0 &&
	    url_host_canonical(out, out + 100, sizeof(out) - 100) == 0 &&
	    strcmp(out, out + 100) == 0,
	    "url_host_canonical: canonical form is a fixed point");
}

struct enc_case {
	const char	*name;
	const char	*in;
	const char	*out;
};

static const struct enc_case enc_cases[] = {
	{ "unreserved and / are kept (3986 2.3)",
	  "/a-Z_0.~/", "/a-Z_0.~/" },
	{ "sub-delims and @ are kept (3986 3.3 pchar)",
	  "/!$&'()*+,;=@", "/!$&'()*+,;=@" },
	{ "space is encoded (3986 2.1, upper-case hex)", "/a b", "/a%20b" },
	{ "UTF-8 bytes are encoded", "/caf\xc3\xa9", "/caf%C3%A9" },
	{ "':' is encoded (a first segment would read as a scheme, 3986 4.2)",
	  "a:b", "a%3Ab" },
	{ "'?', '#', '%' are encoded (they would start a query, "
	  "a fragment, an escape)", "/?#%", "/%3F%23%25" },
	{ "control bytes and backslash are encoded", "\t\\\x7f",
	  "%09%5C%7F" },
	{ "empty path encodes to empty", "", "" },
};

static void
test_encode(void)
{
	const struct enc_case	*c;
	char			 out[64];
	size_t			 i;
	int			 r;

	for (i = 0; i < sizeof(enc_cases) / sizeof(enc_cases[0]); i++) {
		c = &enc_cases[i];
		r = url_encode_path(c->in, out, sizeof(out));
		if (!ok(r == (int)strlen(c->out) && strcmp(out, c->out) == 0,
		    "url_encode_path: %s", c->name))
			printf("# got %d \"%s\"\n", r, r >= 0 ? out : "");
	}
	ok(url_encode_path("/a b", out, 7) == 6 && strcmp(out, "/a%20b") == 0,
	    "url_encode_path: output that just fits");
	ok(url_encode_path("/a b", out, 6) == -1,
	    "url_encode_path: output one byte short fails");
	ok(url_encode_path("", out, 0) == -1,
	    "url_encode_path: no room for the NUL fails");
}

struct utf8_case {
	const char	*name;
	const char	*in;
	size_t		 len;
	int		 valid;
};

/* RFC 3629 section 4 (syntax) and 3 (what must be rejected). */
static const struct utf8_case utf8_cases[] = {
	{ "ASCII is valid", L("abc"), 1 },
	{ "empty is valid", L(""), 1 },
	{ "2-byte sequence is valid", L("\xc3\xa9"), 1 },
	{ "3-byte sequence is valid", L("\xe2\x82\xac"), 1 },
	{ "4-byte sequence is valid", L("\xf0\x9f\x98\x80"), 1 },
	{ "U+10FFFF is valid", L("\xf4\x8f\xbf\xbf"), 1 },
	{ "U+FEFF is valid UTF-8", L("\xef\xbb\xbf"), 1 },
	{ "U+D7FF (below surrogates) is valid", L("\xed\x9f\xbf"), 1 },
	{ "U+E000 (above surrogates) is valid", L("\xee\x80\x80"), 1 },
	{ "overlong 2-byte C0 is invalid", L("\xc0\x80"), 0 },
	{ "overlong 2-byte C1 is invalid", L("\xc1\xbf"), 0 },
	{ "overlong 3-byte is invalid", L("\xe0\x9f\xbf"), 0 },
	{ "overlong 4-byte is invalid", L("\xf0\x8f\xbf\xbf"), 0 },
	{ "high surrogate is invalid", L("\xed\xa0\x80"), 0 },
	{ "low surrogate is invalid", L("\xed\xbf\xbf"), 0 },
	{ "U+110000 is invalid", L("\xf4\x90\x80\x80"), 0 },
	{ "F5 lead byte is invalid", L("\xf5\x80\x80\x80"), 0 },
	{ "lone continuation is invalid", L("\x80"), 0 },
	{ "truncated 2-byte is invalid", L("\xc3"), 0 },
	{ "truncated 4-byte is invalid", L("\xf0\x9f\x98"), 0 },
	{ "bad continuation is invalid", L("\xe2\x28\xa1"), 0 },
	{ "FE and FF are invalid", L("\xfe\xff"), 0 },
};

static void
test_utf8(void)
{
	const struct utf8_case	*c;
	size_t			 i;

	for (i = 0; i < sizeof(utf8_cases) / sizeof(utf8_cases[0]); i++) {
		c = &utf8_cases[i];
		ok(url_utf8_valid(c->in, c->len) == c->valid,
		    "url_utf8_valid: %s", c->name);
	}
}

/* What the fs layer relies on: encoded links parse back to the path. */
static void
test_round_trip(void)
{
	const char	*paths[] = { "/a b/caf\xc3\xa9/", "/x?y#z%", "/:@!",
			    "/%2e%2e" };
	char		 line[256];
	struct url	 u;
	const char	*why;
	size_t		 i;
	int		 n, status;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		memcpy(line, "gemini://h", 10);
		n = url_encode_path(paths[i], line + 10, sizeof(line) - 10);
		ok(n > 0 && url_parse(line, 10 + (size_t)n, &u, &status,
		    &why) == 0 && strcmp(u.path, paths[i]) == 0,
		    "url_encode_path then url_parse gives the path back (%zu)",
		    i);
	}
}

int
main(void)
{
	test_parse();
	test_port_given();
	test_length();
	test_host();
	test_encode();
	test_utf8();
	test_round_trip();
	return tap_done();
}
