/*
 * titan_test.c: titan_parse(), titan_path_ok() and titan_mime_ok(), one
 * row per rule.  "Titan" is the Titan specification,
 * gemini://transjovian.org/titan/page/The%20Titan%20Specification.
 */

#include <string.h>

#include "request.h"
#include "tap.h"
#include "titan.h"

#define L(s)	(s), sizeof(s) - 1

struct parse_case {
	const char	*name;
	const char	*in;
	size_t		 len;
	int		 ok;
	const char	*path;
	long long	 size;
	const char	*mime;
	const char	*token;
};

static const struct parse_case cases[] = {
	{ "size only; mime defaults to text/gemini (Titan)",
	  L("titan://h/news/a.gmi;size=5\r\n"), 1, "/news/a.gmi", 5,
	  "text/gemini", "" },
	{ "parameters in any order (Titan)",
	  L("titan://h/a;token=t;mime=text/plain;size=12\r\n"), 1, "/a", 12,
	  "text/plain", "t" },
	{ "size=0 is a delete (Titan)", L("titan://h/a;size=0\r\n"), 1, "/a",
	  0, "text/gemini", "" },
	{ "token is percent-decoded", L("titan://h/a;size=1;token=a%20b\r\n"),
	  1, "/a", 1, "text/gemini", "a b" },
	{ "mime is lower-cased", L("titan://h/a;size=1;mime=Text/Plain\r\n"),
	  1, "/a", 1, "text/plain", "" },
	{ "scheme is case-insensitive (3986 3.1)",
	  L("TITAN://h:1965/a;size=1\r\n"), 1, "/a", 1, "text/gemini", "" },
	{ "the path is decoded as any path",
	  L("titan://h/a%20b/c;size=1\r\n"), 1, "/a b/c", 1, "text/gemini",
	  "" },
	{ "dot segments are removed as in gemini URLs",
	  L("titan://h/news/../x;size=1\r\n"), 1, "/x", 1, "text/gemini", "" },
	{ "a ';' in the path is encoded: %3B",
	  L("titan://h/a%3Bb;size=1\r\n"), 1, "/a;b", 1, "text/gemini", "" },
	{ "no size", L("titan://h/a;mime=text/plain\r\n"), 0, 0, 0, 0, 0 },
	{ "no parameters", L("titan://h/a\r\n"), 0, 0, 0, 0, 0 },
	{ "no path", L("titan://h;size=1\r\n"), 0, 0, 0, 0, 0 },
	{ "size twice", L("titan://h/a;size=1;size=1\r\n"), 0, 0, 0, 0, 0 },
	{ "mime twice", L("titan://h/a;size=1;mime=a/b;mime=a/b\r\n"), 0, 0,
	  0, 0, 0 },
	{ "negative size", L("titan://h/a;size=-1\r\n"), 0, 0, 0, 0, 0 },
	{ "size with a sign", L("titan://h/a;size=+1\r\n"), 0, 0, 0, 0, 0 },
	{ "empty size", L("titan://h/a;size=\r\n"), 0, 0, 0, 0, 0 },
	{ "size past the limit", L("titan://h/a;size=99999999999999999999\r\n"),
	  0, 0, 0, 0, 0 },
	{ "unknown parameter", L("titan://h/a;size=1;x=y\r\n"), 0, 0, 0, 0, 0 },
	{ "empty parameter", L("titan://h/a;size=1;\r\n"), 0, 0, 0, 0, 0 },
	{ "parameter without '='", L("titan://h/a;size\r\n"), 0, 0, 0, 0, 0 },
	{ "mime not type/subtype", L("titan://h/a;size=1;mime=text\r\n"), 0, 0,
	  0, 0, 0 },
	{ "mime with a space", L("titan://h/a;size=1;mime=text/a%20b\r\n"), 0,
	  0, 0, 0, 0 },
	{ "token decoding to a control byte",
	  L("titan://h/a;size=1;token=%0a\r\n"), 0, 0, 0, 0, 0 },
	{ "token not UTF-8", L("titan://h/a;size=1;token=%ff\r\n"), 0, 0, 0, 0,
	  0 },
	{ "a query", L("titan://h/a?q;size=1\r\n"), 0, 0, 0, 0, 0 },
	{ "climbing above the root (59, as gemini)",
	  L("titan://h/../a;size=1\r\n"), 0, 0, 0, 0, 0 },
	{ "encoded climb", L("titan://h/%2e%2e/a;size=1\r\n"), 0, 0, 0, 0, 0 },
	{ "encoded slash (59, as gemini)", L("titan://h/a%2Fb;size=1\r\n"), 0,
	  0, 0, 0, 0 },
	{ "userinfo (59, as gemini)", L("titan://u@h/a;size=1\r\n"), 0, 0, 0,
	  0, 0 },
	{ "fragment (59, as gemini)", L("titan://h/a;size=1#f\r\n"), 0, 0, 0,
	  0, 0 },
	{ "no CRLF", L("titan://h/a;size=1\n"), 0, 0, 0, 0, 0 },
	{ "not titan", L("gemini://h/a;size=1\r\n"), 0, 0, 0, 0, 0 },
	{ "space in a parameter", L("titan://h/a;size=1 \r\n"), 0, 0, 0, 0,
	  0 },
};

static void
test_parse(void)
{
	const struct parse_case	*c;
	struct request		 r;
	struct titan_params	 tp;
	const char		*why = NULL;
	size_t			 i;
	int			 status = 0, rv;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = &cases[i];
		status = 0;
		rv = titan_parse(c->in, c->len, &r, &tp, &status, &why);
		if (!c->ok) {
			ok(rv == -1 && status == 59 && why != NULL,
			    "titan_parse: 59 for %s (%s)", c->name,
			    why ? why : "?");
			continue;
		}
		ok(rv == 0 && r.titan == &tp && strcmp(r.url.path, c->path) ==
		    0 && tp.size == c->size && strcmp(tp.mime, c->mime) == 0 &&
		    strcmp(tp.token, c->token) == 0 &&
		    strcmp(r.url.scheme, "titan") == 0,
		    "titan_parse: %s", c->name);
	}
	rv = titan_request_parse(L("gemini://h/a;size=1\r\n"), &r, &tp,
	    &status, &why);
	ok(rv == 0 && r.titan == NULL && strcmp(r.url.path, "/a;size=1") == 0,
	    "titan_request_parse: a gemini line is a gemini request");
	ok(titan_is(L("TiTaN://x")) && !titan_is(L("titan")) &&
	    !titan_is(L("gemini://x")), "titan_is: the scheme, any case");
}

/* The media types clients send (Lagrange, gmid's titan(1), the spec). */
static const struct {
	const char	*name;
	const char	*in;
	int		 ok;
	const char	*mime, *charset, *why;
} media[] = {
	{ "Lagrange 1.7.3 File tab: the type's parameter, with its blank",
	  "titan://h/a.gmi;mime=text/gemini; charset=utf-8;size=78\r\n", 1,
	  "text/gemini", "utf-8", NULL },
	{ "the type's parameter without the blank",
	  "titan://h/a.gmi;mime=text/gemini;charset=utf-8;size=78\r\n", 1,
	  "text/gemini", "utf-8", NULL },
	{ "percent-encoded whole",
	  "titan://h/a.gmi;size=78;mime=text/gemini%3B%20charset%3DUTF-8\r\n",
	  1, "text/gemini", "utf-8", NULL },
	{ "a quoted charset (RFC 2045 quoted-string)",
	  "titan://h/a;size=1;mime=text/plain%3Bcharset%3D%22us-ascii%22\r\n",
	  1, "text/plain", "us-ascii", NULL },
	{ "several of the type's parameters, then the token",
	  "titan://h/a;mime=text/gemini; lang=en; charset=utf-8;size=1;"
	  "token=t\r\n", 1, "text/gemini", "utf-8", NULL },
	{ "gmid titan(1): size, token, mime",
	  "titan://h/a.gmi;size=5;token=x;mime=text/gemini\r\n", 1,
	  "text/gemini", "", NULL },
	{ "Lagrange's delete", "titan://h:1965/a.gmi;mime=application/"
	  "octet-stream;size=0\r\n", 1, "application/octet-stream", "", NULL },
	{ "an unknown parameter is named",
	  "titan://h/a;size=1;colour=red\r\n", 0, NULL, NULL,
	  "Unknown Titan parameter colour (size, mime, token)" },
	{ "an unknown parameter before mime is not the type's",
	  "titan://h/a;charset=utf-8;mime=text/plain;size=1\r\n", 0, NULL,
	  NULL, "Unknown Titan parameter charset (size, mime, token)" },
	{ "charset twice", "titan://h/a;size=1;mime=text/plain;charset=utf-8;"
	  "charset=utf-8\r\n", 0, NULL, NULL, NULL },
	{ "a type parameter without a value",
	  "titan://h/a;size=1;mime=text/plain; charset\r\n", 0, NULL, NULL,
	  NULL },
	{ "an empty type parameter", "titan://h/a;size=1;mime=text/plain; \r\n",
	  0, NULL, NULL, NULL },
	{ "a trailing ';' in the encoded type",
	  "titan://h/a;size=1;mime=text/plain%3B\r\n", 0, NULL, NULL, NULL },
};

static void
test_media(void)
{
	struct request		 r;
	struct titan_params	 tp;
	const char		*why = NULL;
	size_t			 i;
	int			 status, rv;

	for (i = 0; i < sizeof(media) / sizeof(media[0]); i++) {
		status = 0;
		why = NULL;
		rv = titan_parse(media[i].in, strlen(media[i].in), &r, &tp,
		    &status, &why);
		if (!media[i].ok)
			ok(rv == -1 && status == 59 && why != NULL &&
			    (media[i].why == NULL ||
			    strcmp(why, media[i].why) == 0),
			    "titan_parse: 59 for %s (%s)", media[i].name,
			    why ? why : "?");
		else
			ok(rv == 0 && strcmp(tp.mime, media[i].mime) == 0 &&
			    strcmp(tp.charset, media[i].charset) == 0,
			    "titan_parse: %s (%s %s)", media[i].name,
			    rv == 0 ? tp.mime : why, tp.charset);
	}
	memset(&tp, 0, sizeof(tp));
	memcpy(tp.mime, "text/plain", sizeof("text/plain"));
	ok(titan_charset_ok(&tp), "titan_charset_ok: no charset");
	memcpy(tp.charset, "us-ascii", sizeof("us-ascii"));
	ok(titan_charset_ok(&tp), "titan_charset_ok: us-ascii");
	memcpy(tp.charset, "iso-8859-1", sizeof("iso-8859-1"));
	ok(!titan_charset_ok(&tp), "titan_charset_ok: not latin-1 text");
	memcpy(tp.mime, "image/png", sizeof("image/png"));
	ok(titan_charset_ok(&tp), "titan_charset_ok: charset of non-text "
	    "is not looked at");
}

static void
test_path(void)
{
	const char	*why;

	ok(titan_path_ok("/news/a.gmi", "/news/", &why) == 0,
	    "titan_path_ok: a file under the PATH");
	ok(titan_path_ok("/news/2026/a.gmi", "/news/", &why) == 0,
	    "titan_path_ok: a file deeper under the PATH");
	ok(titan_path_ok("/newsx.gmi", "/news/", &why) == -1,
	    "titan_path_ok: a sibling name is not under the PATH");
	ok(titan_path_ok("/news/", "/news/", &why) == -1,
	    "titan_path_ok: the directory itself is refused");
	ok(titan_path_ok("/news/sub/", "/news/", &why) == -1,
	    "titan_path_ok: a path ending in '/' is refused");
	ok(titan_path_ok("/news/.a", "/news/", &why) == -1,
	    "titan_path_ok: a dotfile is refused");
	ok(titan_path_ok("/news/.git/x", "/news/", &why) == -1,
	    "titan_path_ok: a dot directory is refused");
	ok(titan_path_ok("/x.gmi", "/", &why) == 0,
	    "titan_path_ok: PATH / covers the capsule");
	ok(titan_path_ok("/news/a\nb.gmi", "/news/", &why) == -1 &&
	    strstr(why, "control") != NULL, "titan_path_ok: LF in a name");
	ok(titan_path_ok("/news/a\x1b[2J.gmi", "/news/", &why) == -1,
	    "titan_path_ok: ESC in a name");
	ok(titan_path_ok("/news/a\x7f.gmi", "/news/", &why) == -1,
	    "titan_path_ok: DEL in a name");
	ok(titan_path_ok("/news/a\xc2\x85.gmi", "/news/", &why) == -1,
	    "titan_path_ok: a C1 control (NEL) in a name");
	ok(titan_path_ok("/news/a\xff.gmi", "/news/", &why) == -1 &&
	    strstr(why, "UTF-8") != NULL, "titan_path_ok: not UTF-8");
	ok(titan_path_ok("/news/gr\xc3\xa8ve.gmi", "/news/", &why) == 0,
	    "titan_path_ok: UTF-8 letters are fine");
}

static void
test_names(void)
{
	char	out[128];

	ok(titan_type_fits("text/gemini", "text/gemini"),
	    "titan_type_fits: the name's type");
	ok(titan_type_fits("text/plain", "text/plain; charset=utf-8"),
	    "titan_type_fits: the served type's parameters do not count");
	ok(titan_type_fits("text/plain", "text/gemini"),
	    "titan_type_fits: text/plain onto gemtext (Lagrange's Text tab)");
	ok(!titan_type_fits("text/gemini", "text/plain; charset=utf-8"),
	    "titan_type_fits: but not gemtext onto a .txt");
	ok(!titan_type_fits("text/gemini", "text/html; charset=utf-8"),
	    "titan_type_fits: a .html is served as HTML");
	ok(!titan_type_fits("text/gemini", NULL),
	    "titan_type_fits: an unknown extension: the content would decide");
	ok(!titan_type_fits("text/plain", "text/plain-x"),
	    "titan_type_fits: a prefix is not the type");
	ok(titan_post_example("/news/", "Branch Notes.gmi", "2026-03-04", out,
	    sizeof(out)) == 0 && strcmp(out, "/news/2026-03-04-branch-notes.gmi")
	    == 0, "titan_post_example: the name's words as a slug (%s)", out);
	ok(titan_post_example("/news/", ".gmi", "2026-03-04", out,
	    sizeof(out)) == 0 && strcmp(out, "/news/2026-03-04-slug.gmi") == 0,
	    "titan_post_example: no words: 'slug'");
	ok(titan_post_example("/news/", "x.gmi", "2026-03-04", out, 10) == -1,
	    "titan_post_example: too small a buffer");
}

static void
test_deadline(void)
{
	ok(titan_deadline_ms(0, 10, 1024) == 10000,
	    "titan_deadline_ms: no body: request_timeout");
	ok(titan_deadline_ms(1048576, 10, 1024) == 10000 + 1024000,
	    "titan_deadline_ms: 1 MiB at 1 KiB/s: 1024 s more");
	ok(titan_deadline_ms(1, 1, 1000) == 1001,
	    "titan_deadline_ms: rounds up");
	ok(titan_deadline_ms(1LL << 50, 3600, 1) > 0,
	    "titan_deadline_ms: no overflow at the largest size");
}

static void
test_admit(void)
{
	struct titan_client	 run[8], a, b;
	struct titan_caps	 caps = { 8, 2, 2, 3 };
	size_t			 n = 0;

	memset(run, 0, sizeof(run));
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.cert[0] = 1;
	a.addr[0] = 1;
	b.cert[0] = 2;
	b.addr[0] = 2;
	ok(titan_admit(run, n, &a, &caps) == NULL, "titan_admit: room");
	run[n++] = a;
	run[n++] = a;
	ok(titan_admit(run, n, &a, &caps) != NULL,
	    "titan_admit: a certificate at titan_jobs_per_cert");
	b.addr[0] = 1;
	run[n++] = b;
	ok(titan_admit(run, n, &b, &caps) != NULL,
	    "titan_admit: an address at titan_jobs_per_address (3)");
	b.addr[0] = 2;
	ok(titan_admit(run, n, &b, &caps) == NULL,
	    "titan_admit: that certificate from another address");
	while (n < 6) {
		run[n] = b;
		run[n].cert[1] = (unsigned char)n;
		run[n].addr[1] = (unsigned char)n;
		n++;
	}
	ok(titan_admit(run, n, &a, &caps) != NULL,
	    "titan_admit: the last slots are not for a client with one");
	b.cert[0] = b.addr[0] = 9;
	ok(titan_admit(run, n, &b, &caps) == NULL,
	    "titan_admit: they are for one with none");
	run[n++] = b;
	b.cert[0] = b.addr[0] = 10;
	run[n++] = b;
	b.cert[0] = b.addr[0] = 11;
	ok(titan_admit(run, n, &b, &caps) != NULL, "titan_admit: all taken");
	caps.per_cert = caps.per_addr = 0;
	caps.reserve = 0;
	ok(titan_admit(run, 2, &a, &caps) == NULL, "titan_admit: caps 0: any");
}

static void
test_mime(void)
{
	ok(titan_mime_ok("text/gemini text/plain", "text/plain"),
	    "titan_mime_ok: a listed type");
	ok(!titan_mime_ok("text/gemini text/plain", "text/plai"),
	    "titan_mime_ok: a prefix is not a type");
	ok(!titan_mime_ok("text/gemini", "image/png"),
	    "titan_mime_ok: an unlisted type");
	ok(titan_mime_ok("  text/gemini\timage/png ", "image/png"),
	    "titan_mime_ok: spaces and tabs separate");
	ok(!titan_mime_ok("text/gemini", ""), "titan_mime_ok: empty type");
}

/* The access log never shows a token, parsed or not. */
static const struct {
	const char	*in, *out, *why;
} redact[] = {
	{ "titan://h/a.gmi;size=3;token=s3cret;mime=text/plain",
	  "titan://h/a.gmi;size=3;mime=text/plain", "a token between" },
	{ "titan://h/a.gmi;size=3;token=s3cret",
	  "titan://h/a.gmi;size=3", "a token last" },
	{ "titan://h/a.gmi;TOKEN=x;Token=y;size=1",
	  "titan://h/a.gmi;size=1", "any case, twice" },
	{ "titan://h/a.gmi;size=1;token=x?q", "titan://h/a.gmi;size=1?q",
	  "up to a query" },
	{ "titan://h/a.gmi;size=1;tokens=x", "titan://h/a.gmi;size=1;tokens=x",
	  "another key is kept" },
	{ "titan://h/a.gmi;token=", "titan://h/a.gmi", "an empty token" },
};

static void
test_redact(void)
{
	char	out[256];
	size_t	i, n;

	for (i = 0; i < sizeof(redact) / sizeof(redact[0]); i++) {
		n = titan_redact(redact[i].in, strlen(redact[i].in), out);
		ok(n == strlen(out) && strcmp(out, redact[i].out) == 0,
		    "titan_redact: %s (%s)", redact[i].why, out);
	}
}

int
main(void)
{
	test_parse();
	test_media();
	test_path();
	test_names();
	test_deadline();
	test_admit();
	test_mime();
	test_redact();
	return tap_done();
}
