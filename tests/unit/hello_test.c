/*
 * hello_test.c: the server name in a ClientHello.  The structure is RFC
 * 5246 7.4.1.2 and RFC 8446 4.1.2; the server_name extension RFC 6066
 * 3.  Each case names the rule it checks.
 */
#include <stdio.h>
#include <string.h>

#include "hello.h"
#include "tap.h"

#define BUF	2048

static size_t
put(unsigned char *p, size_t at, const void *src, size_t len)
{
	memcpy(p + at, src, len);
	return at + len;
}

static size_t
put_num(unsigned char *p, size_t at, size_t v, int n)
{
	while (n-- > 0)
		p[at++] = (unsigned char)(v >> (8 * n));
	return at;
}

/* A server_name extension body with one host_name entry. */
static size_t
sni_body(unsigned char *p, const char *name, size_t nlen)
{
	size_t	at = 0;

	at = put_num(p, at, nlen + 3, 2);	/* server_name_list */
	at = put_num(p, at, 0, 1);		/* host_name */
	at = put_num(p, at, nlen, 2);
	return put(p, at, name, nlen);
}

/* One extension: type, length, body. */
static size_t
ext(unsigned char *p, size_t at, int type, const unsigned char *body,
    size_t len)
{
	at = put_num(p, at, (size_t)type, 2);
	at = put_num(p, at, len, 2);
	return put(p, at, body, len);
}

/*
 * A ClientHello: msg_type 1, length, legacy_version, random, the
 * session id, two cipher suites, null compression, then the extensions
 * block (exts, or none at all when exts is NULL).
 */
static size_t
hello(unsigned char *p, size_t sidlen, const unsigned char *exts,
    size_t extlen)
{
	static const unsigned char	suites[] = { 0, 4, 0x13, 0x01, 0xc0, 0x2b };
	unsigned char			zero[64];
	size_t				at = 4;

	memset(zero, 0xaa, sizeof(zero));
	at = put_num(p, at, 0x0303, 2);
	at = put(p, at, zero, 32);
	at = put_num(p, at, sidlen, 1);
	at = put(p, at, zero, sidlen);
	at = put(p, at, suites, sizeof(suites));
	at = put_num(p, at, 0x0100, 2);		/* one method: null */
	if (exts != NULL) {
		at = put_num(p, at, extlen, 2);
		at = put(p, at, exts, extlen);
	}
	p[0] = 1;
	put_num(p, 1, at - 4, 3);
	return at;
}

static void
ext_cases(void)
{
	unsigned char	b[BUF];
	char		out[HELLO_NAME_MAX + 1], big[300];
	size_t		n;

	n = sni_body(b, "example.org", 11);
	ok(hello_sni_ext(b, n, out, sizeof(out)) == 0 &&
	    strcmp(out, "example.org") == 0, "a host_name entry");
	ok(hello_sni_ext(b, n - 1, out, sizeof(out)) == -1,
	    "the list's length must be what the extension holds");
	ok(hello_sni_ext(b, 4, out, sizeof(out)) == -1, "cut short");
	ok(hello_sni_ext(b, 0, out, sizeof(out)) == -1, "empty");
	b[2] = 1;
	ok(hello_sni_ext(b, n, out, sizeof(out)) == -1,
	    "only host_name (0) names a host");
	n = sni_body(b, "a\0b", 3);
	ok(hello_sni_ext(b, n, out, sizeof(out)) == -1,
	    "a NUL in the name: no name");
	n = sni_body(b, "", 0);
	ok(hello_sni_ext(b, n, out, sizeof(out)) == -1,
	    "an empty name is no name");
	memset(big, 'a', sizeof(big));
	n = sni_body(b, big, 255);
	ok(hello_sni_ext(b, n, out, sizeof(out)) == 0 && strlen(out) == 255,
	    "255 bytes fit");
	ok(hello_sni_ext(b, n, out, 255) == -1, "a name that does not fit");
	n = sni_body(b, big, 256);
	ok(hello_sni_ext(b, n, out, sizeof(out)) == -1,
	    "256 bytes do not fit HELLO_NAME_MAX");
	/* the list length says 3 more bytes than the name's entry: a second */
	n = sni_body(b, "x.org", 5);
	b[1] += 3;
	b[n] = 0;
	b[n + 1] = 0;
	b[n + 2] = 0;
	ok(hello_sni_ext(b, n + 3, out, sizeof(out)) == 0 &&
	    strcmp(out, "x.org") == 0, "the first entry is the name");
	n = sni_body(b, "x.org", 5);
	b[4] += 1;
	ok(hello_sni_ext(b, n, out, sizeof(out)) == -1,
	    "a name longer than its list");
}

static void
hello_cases(void)
{
	unsigned char	m[BUF], e[BUF], body[BUF];
	char		out[HELLO_NAME_MAX + 1];
	size_t		n, elen, blen, i;
	int		all;

	blen = sni_body(body, "localhost", 9);
	elen = ext(e, 0, 0, body, blen);
	n = hello(m, 32, e, elen);
	ok(hello_sni(m, n, out, sizeof(out)) == 0 &&
	    strcmp(out, "localhost") == 0, "the name of a ClientHello");
	for (all = 1, i = 0; i < n; i++)
		all &= hello_sni(m, i, out, sizeof(out)) == -1;
	ok(all, "every shorter prefix: no name (the length is checked)");
	/* the same cuts with the 24-bit length made to fit: each inner
	 * length (session id, ciphers, compression, extensions, the name)
	 * runs past the end in turn */
	for (all = 1, i = 4; i < n; i++) {
		unsigned char	cut[BUF];

		memcpy(cut, m, i);
		put_num(cut, 1, i - 4, 3);
		all &= hello_sni(cut, i, out, sizeof(out)) == -1;
	}
	ok(all, "every shorter message, its own length fixed up: no name");
	m[3] += 1;
	ok(hello_sni(m, n, out, sizeof(out)) == -1,
	    "the 24-bit length must be the body's");
	m[3] -= 1;
	m[0] = 2;
	ok(hello_sni(m, n, out, sizeof(out)) == -1,
	    "a ServerHello is not a ClientHello");

	elen = ext(e, 0, 0x000a, (const unsigned char *)"\0\2\0\x17", 4);
	elen = ext(e, elen, 0x002b, (const unsigned char *)"\2\3\3", 3);
	elen = ext(e, elen, 0, body, blen);
	n = hello(m, 0, e, elen);
	ok(hello_sni(m, n, out, sizeof(out)) == 0 &&
	    strcmp(out, "localhost") == 0, "server_name after others");

	elen = ext(e, 0, 0x000a, (const unsigned char *)"\0\2\0\x17", 4);
	n = hello(m, 0, e, elen);
	ok(hello_sni(m, n, out, sizeof(out)) == -1, "no server_name");
	n = hello(m, 0, NULL, 0);
	ok(hello_sni(m, n, out, sizeof(out)) == -1,
	    "no extensions block at all (allowed before TLS 1.3)");

	elen = ext(e, 0, 0, body, blen);
	n = hello(m, 33, e, elen);
	ok(hello_sni(m, n, out, sizeof(out)) == -1,
	    "a session id is at most 32 bytes");

	elen = ext(e, 0, 0, body, blen);
	n = hello(m, 0, e, elen);
	m[n] = 0;
	m[1] = 0;
	put_num(m, 1, n + 1 - 4, 3);
	ok(hello_sni(m, n + 1, out, sizeof(out)) == -1,
	    "bytes after the extensions block");

	elen = ext(e, 0, 0, body, blen);
	e[3] += 1;		/* the extension claims one byte more */
	n = hello(m, 0, e, elen);
	ok(hello_sni(m, n, out, sizeof(out)) == -1,
	    "an extension longer than the block");

	elen = ext(e, 0, 0, body, blen - 1);
	n = hello(m, 0, e, elen);
	ok(hello_sni(m, n, out, sizeof(out)) == -1,
	    "a malformed server_name is no name");
}

int
main(void)
{
	ext_cases();
	hello_cases();
	return tap_done();
}
