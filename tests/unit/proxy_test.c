/*
 * proxy_test.c: the PROXY protocol header parser.  The rules are from
 * HAProxy's proxy-protocol.txt (versions 1 and 2); each case names one.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include "proxy.h"
#include "tap.h"

#define SIG	"\r\n\r\n\0\r\nQUIT\n"

static const char *
addr(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const struct sockaddr_in	*sin = (const void *)ss;
	const struct sockaddr_in6	*sin6 = (const void *)ss;
	char				 a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET)
		snprintf(buf, len, "%s:%d", inet_ntop(AF_INET, &sin->sin_addr,
		    a, sizeof(a)), ntohs(sin->sin_port));
	else if (ss->ss_family == AF_INET6)
		snprintf(buf, len, "[%s]:%d", inet_ntop(AF_INET6,
		    &sin6->sin6_addr, a, sizeof(a)), ntohs(sin6->sin6_port));
	else
		snprintf(buf, len, "-");
	return buf;
}

struct v1case {
	const char	*in;
	ssize_t		 want;	/* proxy_parse's return */
	const char	*src, *dst;	/* NULL: no addresses */
	const char	*rule;
};

static const struct v1case v1[] = {
	{ "PROXY TCP4 192.0.2.1 198.51.100.2 56324 1965\r\n", 46,
	  "192.0.2.1:56324", "198.51.100.2:1965", "TCP4 line" },
	{ "PROXY TCP6 2001:db8::1 2001:db8::2 4000 1965\r\n", 46,
	  "[2001:db8::1]:4000", "[2001:db8::2]:1965", "TCP6 line" },
	{ "PROXY TCP4 192.0.2.1 198.51.100.2 56324 1965\r\nTLS", 46,
	  "192.0.2.1:56324", "198.51.100.2:1965",
	  "bytes after the CRLF are not part of the header" },
	{ "PROXY UNKNOWN\r\n", 15, NULL, NULL, "UNKNOWN alone" },
	{ "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", 35, NULL, NULL,
	  "UNKNOWN: the rest of the line is ignored" },
	{ "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n", 104,
	  "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
	  "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
	  "the longest TCP6 line" },
	{ "PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n", 32, "0.0.0.0:0",
	  "0.0.0.0:0", "port 0 is a port" },
	{ "", 0, NULL, NULL, "nothing yet: wait" },
	{ "P", 0, NULL, NULL, "one byte of the prefix: wait" },
	{ "PROXY TCP4 192.0.2.1", 0, NULL, NULL, "half a line: wait" },
	{ "PROXY TCP4 192.0.2.1 198.51.100.2 1 2\r", 0, NULL, NULL,
	  "CR without its LF yet: wait" },
	{ "GET / HTTP/1.0\r\n", -1, NULL, NULL, "not PROXY" },
	{ "\x16\x03\x01\x02\x00", -1, NULL, NULL,
	  "a TLS ClientHello with no header is refused" },
	{ "proxy TCP4 192.0.2.1 198.51.100.2 1 2\r\n", -1, NULL, NULL,
	  "the keyword is upper case" },
	{ "PROXY TCP4 192.0.2.1 198.51.100.2 1 2\n", -1, NULL, NULL,
	  "a bare LF does not end the line" },
	{ "PROXY TCP4 192.0.2.1 198.51.100.2 1 2\r\r\n", -1, NULL, NULL,
	  "a stray CR" },
	{ "PROXY TCP4  192.0.2.1 198.51.100.2 1 2\r\n", -1, NULL, NULL,
	  "two spaces" },
	{ "PROXY TCP4 192.0.2.1 198.51.100.2 1 2 \r\n", -1, NULL, NULL,
	  "a trailing space" },
	{ "PROXY TCP4 192.0.2.1 198.51.100.2 1\r\n", -1, NULL, NULL,
	  "a field missing" },
	{ "PROXY TCP4 192.0.2.1 198.51.100.2 1 2 3\r\n", -1, NULL, NULL,
	  "a field too many" },
	{ "PROXY TCP4 2001:db8::1 192.0.2.2 1 2\r\n", -1, NULL, NULL,
	  "TCP4 with an IPv6 address" },
	{ "PROXY TCP6 192.0.2.1 192.0.2.2 1 2\r\n", -1, NULL, NULL,
	  "TCP6 with IPv4 addresses" },
	{ "PROXY TCP4 192.0.2.256 192.0.2.2 1 2\r\n", -1, NULL, NULL,
	  "an octet over 255" },
	{ "PROXY TCP4 192.0.2.1 192.0.2.2 65536 2\r\n", -1, NULL, NULL,
	  "a port over 65535" },
	{ "PROXY TCP4 192.0.2.1 192.0.2.2 01 2\r\n", -1, NULL, NULL,
	  "a port with a leading zero" },
	{ "PROXY TCP4 192.0.2.1 192.0.2.2 -1 2\r\n", -1, NULL, NULL,
	  "a negative port" },
	{ "PROXY TCP4 192.0.2.1 192.0.2.2 +1 2\r\n", -1, NULL, NULL,
	  "a signed port" },
	{ "PROXY UDP4 192.0.2.1 192.0.2.2 1 2\r\n", -1, NULL, NULL,
	  "UDP is not a protocol of v1" },
	{ "PROXY \r\n", -1, NULL, NULL, "no protocol" },
	{ "PROXY\r\n", -1, NULL, NULL, "no space after PROXY" },
	{ "PROXY TCP4 192.0.2.1\0 192.0.2.2 1 2\r\n", -1, NULL, NULL,
	  "a NUL in the line" },
};

static void
run_v1(void)
{
	struct proxy_hdr	 h;
	char			 a[80], b[80];
	size_t			 i, len;
	ssize_t			 r;
	int			 good;

	for (i = 0; i < sizeof(v1) / sizeof(v1[0]); i++) {
		/* the NUL case: measure through the embedded NUL */
		len = strlen(v1[i].in);
		if (strstr(v1[i].rule, "NUL") != NULL)
			len += 1 + strlen(v1[i].in + len + 1);
		r = proxy_parse((const unsigned char *)v1[i].in, len, &h);
		good = r == v1[i].want;
		if (good && r > 0 && v1[i].src != NULL)
			good = h.has_addr && h.version == 1 &&
			    strcmp(addr(&h.src, a, sizeof(a)), v1[i].src) == 0 &&
			    strcmp(addr(&h.dst, b, sizeof(b)), v1[i].dst) == 0;
		else if (good && r > 0)
			good = !h.has_addr;
		ok(good, "v1: %s (got %zd)", v1[i].rule, r);
	}
}

static void
v1_length_limit(void)
{
	char			 line[256];
	struct proxy_hdr	 h;

	/* 107 bytes with no CRLF: no valid v1 header can follow */
	memset(line, 'a', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	ok(proxy_parse((unsigned char *)line, 106, &h) == 0,
	    "v1: 106 bytes without CRLF: still waiting");
	ok(proxy_parse((unsigned char *)line, 107, &h) == -1,
	    "v1: 107 bytes without CRLF: refused (the line is at most 107)");
	memcpy(line + 105, "\r\n", 2);
	ok(proxy_parse((unsigned char *)line, 200, &h) == 107,
	    "v1: a 107-byte UNKNOWN line is accepted");
	memcpy(line + 105, "a\r\n", 3);
	ok(proxy_parse((unsigned char *)line, 200, &h) == -1,
	    "v1: a 108-byte line is refused");
}

/* A v2 header: signature, version/command, family/transport, length. */
static size_t
v2(unsigned char *out, int vercmd, int famtrans, const void *addrs,
    size_t alen, size_t extra)
{
	size_t	total = alen + extra;

	memcpy(out, SIG, 12);
	out[12] = (unsigned char)vercmd;
	out[13] = (unsigned char)famtrans;
	out[14] = (unsigned char)(total >> 8);
	out[15] = (unsigned char)(total & 0xff);
	memcpy(out + 16, addrs, alen);
	memset(out + 16 + alen, 0xee, extra);	/* TLVs, never read */
	return 16 + total;
}

static void
run_v2(void)
{
	static const unsigned char inet[12] = { 192, 0, 2, 1, 198, 51, 100, 2,
	    0xdc, 0x04, 0x07, 0xad };	/* ports 56324 and 1965 */
	static const unsigned char unix_addrs[216];	/* two sun_paths */
	unsigned char		 inet6[36], buf[600];
	struct proxy_hdr	 h;
	char			 a[80], b[80];
	size_t			 n, i;
	ssize_t			 r;

	n = v2(buf, 0x21, 0x11, inet, sizeof(inet), 0);
	r = proxy_parse(buf, n, &h);
	ok(r == 28 && h.version == 2 && h.has_addr &&
	    strcmp(addr(&h.src, a, sizeof(a)), "192.0.2.1:56324") == 0 &&
	    strcmp(addr(&h.dst, b, sizeof(b)), "198.51.100.2:1965") == 0,
	    "v2: PROXY over TCP/IPv4 (%s -> %s)", a, b);

	memset(inet6, 0, sizeof(inet6));
	inet6[0] = 0x20; inet6[1] = 0x01; inet6[2] = 0x0d; inet6[3] = 0xb8;
	inet6[15] = 1;
	inet6[16] = 0x20; inet6[17] = 0x01; inet6[18] = 0x0d; inet6[19] = 0xb8;
	inet6[31] = 2;
	inet6[32] = 0x0f; inet6[33] = 0xa0; inet6[34] = 0x07; inet6[35] = 0xad;
	n = v2(buf, 0x21, 0x21, inet6, sizeof(inet6), 0);
	r = proxy_parse(buf, n, &h);
	ok(r == 52 && h.has_addr &&
	    strcmp(addr(&h.src, a, sizeof(a)), "[2001:db8::1]:4000") == 0 &&
	    strcmp(addr(&h.dst, b, sizeof(b)), "[2001:db8::2]:1965") == 0,
	    "v2: PROXY over TCP/IPv6 (%s -> %s)", a, b);

	n = v2(buf, 0x21, 0x11, inet, sizeof(inet), 400);
	r = proxy_parse(buf, 28, &h);
	ok(r == 428 && h.has_addr, "v2: TLVs count in the length but are "
	    "not needed to parse (got %zd)", r);

	for (i = 0, r = 0; i < 28 && r == 0; i++)
		r = proxy_parse(buf, i, &h);
	ok(i == 28 && r == 0, "v2: every prefix of the header waits");

	n = v2(buf, 0x20, 0x00, "", 0, 0);
	r = proxy_parse(buf, n, &h);
	ok(r == 16 && !h.has_addr, "v2: LOCAL (a health check) keeps the "
	    "connection's own addresses");
	n = v2(buf, 0x20, 0x11, inet, sizeof(inet), 0);
	ok(proxy_parse(buf, n, &h) == 28 && !h.has_addr,
	    "v2: LOCAL ignores an address block");
	n = v2(buf, 0x21, 0x00, "", 0, 0);
	ok(proxy_parse(buf, n, &h) == 16 && !h.has_addr,
	    "v2: PROXY with AF_UNSPEC keeps the connection's addresses");
	n = v2(buf, 0x21, 0x31, unix_addrs, sizeof(unix_addrs), 0);
	ok(proxy_parse(buf, n, &h) == 232 && !h.has_addr,
	    "v2: PROXY from AF_UNIX keeps the connection's addresses");

	n = v2(buf, 0x11, 0x11, inet, sizeof(inet), 0);
	ok(proxy_parse(buf, n, &h) == -1, "v2: version 1 in a v2 header");
	n = v2(buf, 0x31, 0x11, inet, sizeof(inet), 0);
	ok(proxy_parse(buf, n, &h) == -1, "v2: version 3");
	n = v2(buf, 0x22, 0x11, inet, sizeof(inet), 0);
	ok(proxy_parse(buf, n, &h) == -1, "v2: command 2 is not defined");
	n = v2(buf, 0x21, 0x41, inet, sizeof(inet), 0);
	ok(proxy_parse(buf, n, &h) == -1, "v2: family 4 is not defined");
	n = v2(buf, 0x21, 0x12, inet, sizeof(inet), 0);
	ok(proxy_parse(buf, n, &h) == -1, "v2: DGRAM on a TCP listener");
	n = v2(buf, 0x21, 0x11, inet, 8, 0);
	ok(proxy_parse(buf, n, &h) == -1,
	    "v2: a length too short for two IPv4 addresses and ports");
	n = v2(buf, 0x21, 0x21, inet6, 12, 0);
	ok(proxy_parse(buf, n, &h) == -1,
	    "v2: IPv6 with only an IPv4-sized block");
	n = v2(buf, 0x21, 0x11, inet, sizeof(inet), 0);
	buf[5] = 'x';
	ok(proxy_parse(buf, n, &h) == -1, "v2: a wrong signature");
	ok(proxy_parse(buf, 5, &h) == 0, "v2: a signature prefix waits");
	buf[5] = '\r';
	buf[11] = 'x';
	ok(proxy_parse(buf, 11, &h) == 0 && proxy_parse(buf, 12, &h) == -1,
	    "v2: the twelfth signature byte decides");

	/* the largest length field: 16 + 65535 bytes to discard */
	n = v2(buf, 0x21, 0x11, inet, sizeof(inet), 0);
	buf[14] = 0xff;
	buf[15] = 0xff;
	ok(proxy_parse(buf, n, &h) == 16 + 65535,
	    "v2: the length is 16 bits, TLVs up to it are skipped");
}

/* The header capsuled sends an upstream: read back by our own parser. */
static void
run_encode(void)
{
	struct sockaddr_in	 s4, d4;
	struct sockaddr_in6	 s6, d6;
	struct proxy_hdr	 h;
	unsigned char		 out[PROXY_V2_MAX];
	char			 a[80], b[80];
	size_t			 n;

	memset(&s4, 0, sizeof(s4));
	memset(&d4, 0, sizeof(d4));
	s4.sin_family = d4.sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.7", &s4.sin_addr);
	inet_pton(AF_INET, "198.51.100.1", &d4.sin_addr);
	s4.sin_port = htons(40000);
	d4.sin_port = htons(1965);
	n = proxy_v2_encode(out, (struct sockaddr *)&s4,
	    (struct sockaddr *)&d4);
	ok(n == 28 && out[12] == 0x21 && out[13] == 0x11 &&
	    proxy_parse(out, n, &h) == (ssize_t)n && h.has_addr &&
	    strcmp(addr(&h.src, a, sizeof(a)), "192.0.2.7:40000") == 0 &&
	    strcmp(addr(&h.dst, b, sizeof(b)), "198.51.100.1:1965") == 0,
	    "encode: v2 PROXY TCP over IPv4, the client first (2.2)");
	memset(&s6, 0, sizeof(s6));
	memset(&d6, 0, sizeof(d6));
	s6.sin6_family = d6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::7", &s6.sin6_addr);
	inet_pton(AF_INET6, "2001:db8::1", &d6.sin6_addr);
	s6.sin6_port = htons(40001);
	d6.sin6_port = htons(1966);
	n = proxy_v2_encode(out, (struct sockaddr *)&s6,
	    (struct sockaddr *)&d6);
	ok(n == 52 && out[13] == 0x21 && proxy_parse(out, n, &h) ==
	    (ssize_t)n && strcmp(addr(&h.src, a, sizeof(a)),
	    "[2001:db8::7]:40001") == 0 && strcmp(addr(&h.dst, b, sizeof(b)),
	    "[2001:db8::1]:1966") == 0, "encode: v2 PROXY TCP over IPv6");
	n = proxy_v2_encode(out, (struct sockaddr *)&s4,
	    (struct sockaddr *)&d6);
	ok(n == 16 && out[12] == 0x20 && out[13] == 0 && out[15] == 0 &&
	    proxy_parse(out, n, &h) == 16 && !h.has_addr,
	    "encode: families that differ: LOCAL, naming nobody");
	n = proxy_v2_encode(out, NULL, NULL);
	ok(n == 16 && out[12] == 0x20 && proxy_parse(out, n, &h) == 16 &&
	    !h.has_addr, "encode: no client to name: LOCAL");
}

int
main(void)
{
	run_v1();
	v1_length_limit();
	run_v2();
	run_encode();
	return tap_done();
}
