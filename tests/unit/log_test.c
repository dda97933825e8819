/*
 * log_test.c: log_escape, the one function between a client's bytes and
 * a log line (no line may carry a raw control character); each
 * log_format's line, field by field; the Gemini-to-HTTP status table of
 * common and combined; and what log_ip leaves of an address.
 */
#include <stdio.h>
#include <string.h>

#include "logfmt.h"
#include "tap.h"

#define NOW	1728568536	/* 2024-10-10T13:55:36Z */

static void
same(const char *in, size_t len, const char *want, const char *name)
{
	char	out[256];
	size_t	n;

	n = log_escape(out, sizeof(out), in, len);
	ok(strcmp(out, want) == 0 && n == strlen(want), "%s: got \"%s\"",
	    name, out);
}

static void
no_controls(void)
{
	char	in[256], out[1100];
	size_t	i;
	int	clean = 1;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (char)i;
	log_escape(out, sizeof(out), in, sizeof(in));
	for (i = 0; out[i] != '\0'; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			clean = 0;
	ok(clean, "no byte 0x00-0x1f or 0x7f survives");
	/* 33 controls, quote and backslash, and 128 bytes that are no
	 * UTF-8 in this order: each 4 bytes instead of 1 */
	ok(strlen(out) == 256 + (33 + 2 + 128) * 3, "every byte kept, escaped");
}

static void
truncation(void)
{
	char	out[8];
	size_t	n;

	n = log_escape(out, 6, "ab\ncdef", 7);
	ok(n == 2 && strcmp(out, "ab") == 0,
	    "an escape is never cut in half: \"%s\"", out);
	n = log_escape(out, sizeof(out), "abcdefghij", 10);
	ok(n == 7 && out[7] == '\0', "always NUL-terminated");
	ok(log_escape(out, 0, "a", 1) == 0, "zero-sized buffer");
}

static struct access_entry
entry(void)
{
	struct access_entry	e;

	memset(&e, 0, sizeof(e));
	e.addr = "192.0.2.0";
	e.host = "localhost";
	e.hostid = 0;
	e.request = "gemini://localhost/news/";
	e.reqlen = strlen(e.request);
	e.status = 20;
	e.bytes = 142;
	e.header = 42;
	e.msec = 7;
	e.tls = "TLSv1.3";
	return e;
}

static void
line_is(enum log_format f, const struct access_entry *e, const char *want,
    const char *name)
{
	char	line[LOGFMT_LINE_MAX];
	size_t	n;

	n = logfmt_line(line, f, e, NOW);
	if (!ok(strcmp(line, want) == 0 && n == strlen(want), "%s", name))
		printf("#  got  %s\n#  want %s\n", line, want);
}

static void
formats(void)
{
	struct access_entry	e = entry();
	unsigned char		hash[32];
	size_t			i;

	line_is(LOG_CAPSULED, &e, "192.0.2.0 localhost "
	    "\"gemini://localhost/news/\" 20 142 7ms",
	    "capsuled: as before, header bytes counted");
	line_is(LOG_COMMON, &e, "192.0.2.0 20 - [10/Oct/2024:13:55:36 +0000] "
	    "\"gemini://localhost/news/\" 200 100",
	    "common: the Gemini status second, the HTTP one, body bytes");
	line_is(LOG_COMBINED, &e, "192.0.2.0 20 - [10/Oct/2024:13:55:36 +0000] "
	    "\"gemini://localhost/news/\" 200 100 \"-\" \"-\" 7 -",
	    "combined: no referer, no user agent; ms and cut after");
	line_is(LOG_JSON, &e, "{\"time\":\"2024-10-10T13:55:36Z\","
	    "\"client\":\"192.0.2.0\",\"host\":\"localhost\","
	    "\"request\":\"gemini://localhost/news/\",\"status\":20,"
	    "\"meta\":null,\"bytes\":100,\"header_bytes\":42,"
	    "\"duration_ms\":7,\"tls\":\"TLSv1.3\",\"resumed\":false,"
	    "\"cert\":null,\"user\":null,\"upload\":null,\"upstream\":null,\"cut\":false}",
	    "json: every field, null where there is none");

	e = entry();
	e.addr = "-";
	e.host = "";
	e.request = NULL;
	e.reqlen = 0;
	e.status = 59;
	e.meta = "Request timeout";
	e.bytes = e.header = 21;
	e.msec = 3000;
	e.tls = NULL;
	line_is(LOG_CAPSULED, &e, "- - \"\" 59 21 3000ms",
	    "capsuled: no request, no host");
	line_is(LOG_COMMON, &e, "- 59 - [10/Oct/2024:13:55:36 +0000] \"-\" "
	    "400 0", "common: no request is \"-\", as Apache writes it");
	line_is(LOG_JSON, &e, "{\"time\":\"2024-10-10T13:55:36Z\","
	    "\"client\":null,\"host\":null,\"request\":null,\"status\":59,"
	    "\"meta\":\"Request timeout\",\"bytes\":0,\"header_bytes\":21,"
	    "\"duration_ms\":3000,\"tls\":null,\"resumed\":false,"
	    "\"cert\":null,\"user\":null,\"upload\":null,\"upstream\":null,\"cut\":false}",
	    "json: log_ip off is a null client; the meta of a 5x");

	e = entry();
	for (i = 0; i < sizeof(hash); i++)
		hash[i] = (unsigned char)(i * 17);
	e.request = "titan://localhost/news/a.gmi;size=9;mime=text/gemini";
	e.reqlen = strlen(e.request);
	e.status = 30;
	e.meta = "gemini://localhost/news/a.gmi";
	e.bytes = e.header = 36;
	e.user = "Branch \"sec\" 1";
	e.kind = ENTRY_TITAN_WRITE;
	e.cert = hash;
	e.resumed = 1;
	e.cut = 1;
	line_is(LOG_CAPSULED, &e, "192.0.2.0 localhost "
	    "\"titan://localhost/news/a.gmi;size=9;mime=text/gemini\" 30 36 "
	    "7ms \"Branch \\x22sec\\x22 1\" cut",
	    "capsuled: an upload names its sender, cut stays last");
	line_is(LOG_COMBINED, &e, "192.0.2.0 30 Branch\\x20\\x22sec\\x22\\x201 "
	    "[10/Oct/2024:13:55:36 +0000] "
	    "\"titan://localhost/news/a.gmi;size=9;mime=text/gemini\" 302 0 "
	    "\"-\" \"-\" 7 cut",
	    "combined: the user field, its spaces escaped");
	line_is(LOG_JSON, &e, "{\"time\":\"2024-10-10T13:55:36Z\","
	    "\"client\":\"192.0.2.0\",\"host\":\"localhost\","
	    "\"request\":\"titan://localhost/news/a.gmi;size=9;"
	    "mime=text/gemini\",\"status\":30,"
	    "\"meta\":\"gemini://localhost/news/a.gmi\",\"bytes\":0,"
	    "\"header_bytes\":36,\"duration_ms\":7,\"tls\":\"TLSv1.3\","
	    "\"resumed\":true,\"cert\":\"SHA256:"
	    "00112233445566778899AABBCCDDEEFF"
	    "102132435465768798A9BACBDCEDFE0F\","
	    "\"user\":\"Branch \\\\x22sec\\\\x22 1\",\"upload\":\"write\","
	    "\"upstream\":null,\"cut\":true}", "json: certificate, user, upload, cut");
}

/* Hostile bytes stay escaped in every format; JSON's own escapes too. */
static void
hostile(void)
{
	static const char	req[] = "gemini://h/\x1b[2J\"\\\x00\xff\xc2\x9b";
	struct access_entry	e = entry();
	char			line[LOGFMT_LINE_MAX], big[1100];
	enum log_format		f;
	size_t			i;
	int			clean = 1;

	e.request = req;
	e.reqlen = sizeof(req) - 1;
	line_is(LOG_JSON, &e, "{\"time\":\"2024-10-10T13:55:36Z\","
	    "\"client\":\"192.0.2.0\",\"host\":\"localhost\","
	    "\"request\":\"gemini://h/\\\\x1b[2J\\\\x22\\\\x5c\\\\x00\\\\xff"
	    "\\\\xc2\\\\x9b\",\"status\":20,\"meta\":null,\"bytes\":100,"
	    "\"header_bytes\":42,\"duration_ms\":7,\"tls\":\"TLSv1.3\","
	    "\"resumed\":false,\"cert\":null,\"user\":null,\"upload\":null,"
	    "\"upstream\":null,\"cut\":false}", "json: a client's escapes are text, not JSON's");
	memset(big, '\x01', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';	/* meta is a string */
	e.request = big;
	e.reqlen = sizeof(big) - 1;
	e.meta = big;
	e.status = 40;
	e.user = "x";
	for (f = LOG_CAPSULED; f <= LOG_JSON; f++) {
		(void)logfmt_line(line, f, &e, NOW);
		for (i = 0; line[i] != '\0'; i++)
			if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
				clean = 0;
		ok(strstr(line, "\\x01...") != NULL && strlen(line) < 4096,
		    "format %d: a long request is cut, and says so", f);
	}
	ok(clean, "no control byte in any format");
}

static void
status_table(void)
{
	static const struct {
		int	gemini, http;
	} rows[] = {
		{ 10, 100 }, { 11, 100 }, { 20, 200 }, { 30, 302 }, { 31, 301 },
		{ 40, 503 }, { 41, 503 }, { 42, 500 }, { 43, 502 }, { 44, 429 },
		{ 50, 400 }, { 51, 404 }, { 52, 410 }, { 53, 421 }, { 59, 400 },
		{ 60, 401 }, { 61, 403 }, { 62, 403 }, { 0, 499 },
		{ 25, 200 }, { 38, 302 }, { 47, 503 }, { 55, 400 }, { 69, 403 },
	};
	size_t	i;
	int	st, all = 1;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		ok(logfmt_http_status(rows[i].gemini) == rows[i].http,
		    "Gemini %d is HTTP %d", rows[i].gemini, rows[i].http);
	/* GoAccess 1.7 takes 100-599 only: a two-digit status is an error */
	for (st = 10; st < 70; st++)
		if (logfmt_http_status(st) < 100 ||
		    logfmt_http_status(st) > 599)
			all = 0;
	ok(all, "every status 10-69 is an HTTP status GoAccess reads");
}

static void
addr_is(const char *in, enum log_ip m, const char *want, int cgi)
{
	char	out[LOGFMT_ADDR_MAX];

	if (cgi)
		logfmt_cgi_addr(in, m, out);
	else
		logfmt_addr(in, m, out);
	ok(strcmp(out, want) == 0, "%s%s (log_ip %d) is \"%s\": \"%s\"",
	    cgi ? "REMOTE_ADDR " : "", in, m, want, out);
}

static void
addresses(void)
{
	addr_is("192.0.2.77", LOG_IP_FULL, "192.0.2.77", 0);
	addr_is("192.0.2.77", LOG_IP_TRUNCATED, "192.0.2.0", 0);
	addr_is("192.0.2.77", LOG_IP_OFF, "-", 0);
	addr_is("2001:db8:1234:5678:9abc::1", LOG_IP_TRUNCATED,
	    "2001:db8:1234::", 0);
	addr_is("::1", LOG_IP_TRUNCATED, "::", 0);
	addr_is("::ffff:192.0.2.77", LOG_IP_TRUNCATED, "::ffff:192.0.2.0", 0);
	addr_is("2001:db8::7", LOG_IP_OFF, "-", 0);
	addr_is("not an address", LOG_IP_TRUNCATED, "-", 0);
	addr_is("192.0.2.77", LOG_IP_TRUNCATED, "192.0.2.0", 1);
	addr_is("192.0.2.77", LOG_IP_OFF, "0.0.0.0", 1);
	addr_is("2001:db8::7", LOG_IP_OFF, "::", 1);
	addr_is("2001:db8::7", LOG_IP_FULL, "2001:db8::7", 1);
}

int
main(void)
{
	same("gemini://a/b", 12, "gemini://a/b", "plain text unchanged");
	same("a\r\nb", 4, "a\\x0d\\x0ab", "CR LF escaped");
	same("\x1b[2J", 4, "\\x1b[2J", "terminal escape");
	same("a\0b", 3, "a\\x00b", "NUL escaped, not the end");
	same("\x7f", 1, "\\x7f", "DEL escaped");
	same("\"\\", 2, "\\x22\\x5c", "quote and backslash: unambiguous");
	same("caf\xc3\xa9", 5, "caf\xc3\xa9", "UTF-8 kept");
	same("\x9b" "31m", 4, "\\x9b31m", "a raw C1 CSI byte escaped");
	same("\xc2\x9b" "31m", 5, "\\xc2\\x9b31m",
	    "U+009B (CSI) in UTF-8 escaped");
	same("\xc2\xa0\xe2\x82\xac", 5, "\xc2\xa0\xe2\x82\xac",
	    "U+00A0 and the euro sign kept");
	same("\xe2\x82", 2, "\\xe2\\x82", "a cut sequence escaped");
	no_controls();
	truncation();
	formats();
	hostile();
	status_table();
	addresses();
	return tap_done();
}
