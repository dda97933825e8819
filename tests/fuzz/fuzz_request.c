/*
 * fuzz_request.c: libFuzzer target for the request line.
 *
 *	clang -std=c11 -D_GNU_SOURCE -g -O1 \
 *	    -fsanitize=fuzzer,address,undefined -Isrc \
 *	    -o fuzz_request tests/fuzz/fuzz_request.c src/request.c src/url.c
 *	./fuzz_request -max_len=1100 tests/corpus/request
 *
 * Arbitrary bytes go through request_find_end, request_parse and
 * request_check_target as the server drives them, and straight into
 * url_parse, url_host_canonical and url_encode_path.  Besides memory
 * errors (the sanitizers), it checks what the rest of the server
 * relies on: a parsed path starts with '/', never holds a dot segment,
 * "//" or NUL, and survives encoding and parsing again unchanged; a
 * canonical host is lower-case ASCII and a fixed point; every failure
 * is 59 (parse) or 53 (target) with a reason fit for a meta line.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "request.h"
#include "url.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
serve_all(const char *host, void *arg)
{
	(void)host;
	(void)arg;
	return 1;
}

static int
serve_none(const char *host, void *arg)
{
	(void)host;
	(void)arg;
	return 0;
}

/* A reason is sent as the meta of the reply: short, one line. */
static void
check_why(const char *why)
{
	const char	*p;

	CHECK(why != NULL && *why != '\0' && strlen(why) <= 1024);
	for (p = why; *p != '\0'; p++)
		CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
}

static int
has_dot_segment(const char *path)
{
	const char	*p, *seg;
	size_t		 n;

	for (p = path; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		seg = p + 1;
		n = strcspn(seg, "/");
		if ((n == 1 && seg[0] == '.') ||
		    (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return 1;
	}
	return 0;
}

static void
check_host(const char *host)
{
	char		 again[URL_HOST_MAX + 1];
	const char	*p;

	CHECK(*host != '\0');
	for (p = host; *p != '\0'; p++)
		CHECK((unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f &&
		    !(*p >= 'A' && *p <= 'Z'));
	CHECK(url_host_canonical(host, again, sizeof(again)) == 0);
	CHECK(strcmp(host, again) == 0);
}

/* Encode the path again, parse it again: the same path and host. */
static void
check_round_trip(const struct url *u)
{
	char		 line[URL_MAX * 4], *p;
	struct url	 v;
	const char	*why;
	size_t		 n;
	int		 enc, status;

	n = (size_t)snprintf(line, sizeof(line), strchr(u->host, ':') ?
	    "gemini://[%s]" : "gemini://%s", u->host);
	CHECK(n < sizeof(line));
	p = line + n;
	enc = url_encode_path(u->path, p, sizeof(line) - n);
	CHECK(enc > 0 && (size_t)enc == strlen(p));
	if (n + (size_t)enc > URL_MAX)
		return;
	CHECK(url_parse(line, n + (size_t)enc, &v, &status, &why) == 0);
	CHECK(strcmp(v.path, u->path) == 0);
	CHECK(strcmp(v.host, u->host) == 0);
}

static void
check_url(const struct url *u, const char *line, size_t len)
{
	const char	*why;
	size_t		 i;
	int		 r;

	/* What was accepted: UTF-8, no controls, spaces or fragment. */
	CHECK(len > 0 && len <= URL_MAX && url_utf8_valid(line, len));
	for (i = 0; i < len; i++)
		CHECK((unsigned char)line[i] >= 0x20 && line[i] != 0x7f &&
		    line[i] != ' ' && line[i] != '#');

	CHECK(u->scheme[0] >= 'a' && u->scheme[0] <= 'z');
	for (i = 0; u->scheme[i] != '\0'; i++)
		CHECK(!(u->scheme[i] >= 'A' && u->scheme[i] <= 'Z'));
	check_host(u->host);
	CHECK(u->port >= 0 && u->port <= 65535);
	CHECK(u->port_given || u->port == 1965);

	CHECK(u->path[0] == '/');
	CHECK(strlen(u->path) <= len);
	CHECK(!has_dot_segment(u->path));
	CHECK(strstr(u->path, "/../") == NULL && strstr(u->path, "/./") ==
	    NULL);
	CHECK(strstr(u->path, "//") == NULL);	/* never a network path */
	CHECK(u->has_query || u->query[0] == '\0');
	CHECK(strchr(u->query, '#') == NULL);
	check_round_trip(u);

	why = NULL;
	r = request_check_target(u, NULL, u->port, serve_all, NULL, &why);
	CHECK(strcmp(u->scheme, "gemini") == 0 ? r == 0 : r == 53);
	if (r != 0)
		check_why(why);
	r = request_check_target(u, u->host, u->port, serve_all, NULL, &why);
	CHECK(strcmp(u->scheme, "gemini") == 0 ? r == 0 : r == 53);
	CHECK(request_check_target(u, NULL, u->port, serve_none, NULL,
	    &why) == 53);
	check_why(why);
	CHECK(request_check_target(u, u->host, (u->port + 1) % 65536,
	    serve_all, NULL, &why) == 53);
	check_why(why);
	r = request_check_target(u, "sni.invalid", u->port, serve_all, NULL,
	    &why);
	CHECK(r == 53 || strcmp(u->host, "sni.invalid") == 0);
}

static void
check_find_end(const char *buf, size_t len, ssize_t end)
{
	size_t	lim = len < REQUEST_MAX ? len : REQUEST_MAX, i;

	CHECK(end >= -1);
	if (end == -1)
		CHECK(len >= REQUEST_MAX);
	if (end > 0) {
		CHECK(end >= 2 && (size_t)end <= lim);
		CHECK(buf[end - 2] == '\r' && buf[end - 1] == '\n');
		lim = (size_t)end - 1;	/* no earlier CRLF */
	}
	for (i = 0; i + 1 < lim; i++)
		CHECK(!(buf[i] == '\r' && buf[i + 1] == '\n'));
}

static void
fuzz_request(const char *buf, size_t len)
{
	struct request	 r;
	const char	*why;
	ssize_t		 end;
	int		 status;

	end = request_find_end(buf, len);
	check_find_end(buf, len, end);
	if (end <= 0)
		return;
	status = 0;
	why = NULL;
	if (request_parse(buf, (size_t)end, &r, &status, &why) == -1) {
		CHECK(status == 59);
		check_why(why);
		return;
	}
	CHECK(r.len == (size_t)end - 2 && memcmp(r.line, buf, r.len) == 0);
	CHECK(!(r.len >= 3 && memcmp(r.line, "\xef\xbb\xbf", 3) == 0));
	check_url(&r.url, r.line, r.len);
}

static void
fuzz_url(const char *buf, size_t len)
{
	struct url	 u;
	const char	*why = NULL;
	int		 status = 0;

	if (url_parse(buf, len, &u, &status, &why) == -1) {
		CHECK(status == 59);
		check_why(why);
		return;
	}
	check_url(&u, buf, len);
}

static void
fuzz_host(const char *buf, size_t len)
{
	char	in[URL_HOST_MAX * 2 + 1], out[URL_HOST_MAX + 1];

	if (len >= sizeof(in))
		len = sizeof(in) - 1;
	memcpy(in, buf, len);
	in[len] = '\0';
	if (url_host_canonical(in, out, sizeof(out)) == 0)
		check_host(out);
}

/* Upper-case only: RFC 3986 2.1 says producers should use it. */
static int
hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Encoding keeps only safe bytes and decodes back to the input. */
static void
fuzz_encode(const char *buf, size_t len)
{
	char		 in[URL_MAX + 1], out[URL_MAX * 3 + 1], *p;
	const char	*q;
	int		 n, hi, lo;

	if (len >= sizeof(in))
		len = sizeof(in) - 1;
	memcpy(in, buf, len);
	in[len] = '\0';
	n = url_encode_path(in, out, sizeof(out));
	CHECK(n >= 0 && (size_t)n == strlen(out));
	for (p = in, q = out; *q != '\0'; p++, q++) {
		CHECK(strchr(" \"#<>?[\\]^`{|}:%", *q) == NULL || *q == '%');
		if (*q == '%') {
			hi = hex_digit(q[1]);
			lo = hex_digit(q[2]);
			CHECK(hi >= 0 && lo >= 0);
			CHECK((unsigned char)*p == (hi << 4 | lo));
			q += 2;
		} else {
			CHECK((unsigned char)*q > 0x20 &&
			    (unsigned char)*q < 0x7f);
			CHECK(*p == *q);
		}
	}
	CHECK(*p == '\0');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*buf = (const char *)data;

	fuzz_request(buf, size);
	fuzz_url(buf, size);
	fuzz_host(buf, size);
	fuzz_encode(buf, size);
	return 0;
}
