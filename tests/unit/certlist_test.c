/*
 * certlist_test.c: certlist_parse(), certlist_find(), certlist_hex():
 * the fingerprint list files of `access` and `titan`.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certlist.h"
#include "tap.h"

#define L(s)	(s), sizeof(s) - 1
#define HEXA	"0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"
#define HEXB	"FFEEDDCCBBAA99887766554433221100FFEEDDCCBBAA99887766554433221100"

static int
parses(const char *text, size_t len, size_t n, char *err, size_t errlen)
{
	struct certlist	l;
	int		r;

	r = certlist_parse(text, len, "admins", &l, err, errlen);
	if (r == 0) {
		r = l.n == n ? 0 : -2;
		certlist_free(&l);
	}
	return r;
}

struct bad_case {
	const char	*name;
	const char	*text;
	size_t		 len;
	const char	*err;
};

static const struct bad_case bad[] = {
	{ "not a fingerprint", L("# c\nhello\n"), "admins:2: expected" },
	{ "63 digits", L("SHA256:" "0123456789ABCDEF0123456789ABCDEF"
	  "0123456789ABCDEF0123456789ABCDE\n"), "admins:1: expected" },
	{ "65 digits", L("SHA256:" HEXA "0\n"), "admins:1: expected" },
	{ "other digest", L("SHA1:" HEXA "\n"), "admins:1: expected" },
	{ "a non-hex digit", L("SHA256:G123456789ABCDEF0123456789ABCDEF"
	  "0123456789ABCDEF0123456789ABCDEF\n"), "admins:1: expected" },
	{ "listed twice", L("SHA256:" HEXA " a\n\nsha256:" HEXA " b\n"),
	  "admins:3: fingerprint listed twice" },
	{ "control byte in the name", L("SHA256:" HEXA " a\x01b\n"),
	  "admins:1: control character" },
	{ "name not UTF-8", L("SHA256:" HEXA " \xff\n"),
	  "admins:1: name is not UTF-8" },
	{ "name too long", L("SHA256:" HEXA " "
	  "0123456789012345678901234567890123456789012345678901234567890123x\n"),
	  "admins:1: name longer" },
	{ "NUL byte", L("SHA256:" HEXA "\n\0\n"), "admins:0: NUL" },
};

static void
test_parse(void)
{
	char			 err[256];
	struct certlist		 l;
	const struct cert_entry	*e;
	unsigned char		 a[32], b[32];
	size_t			 i;

	ok(parses(L(""), 0, err, sizeof(err)) == 0,
	    "an empty file is an empty list: nobody is let in");
	ok(parses(L("# admins\n\n   \n\t# indented\n"), 0, err,
	    sizeof(err)) == 0, "comments and blank lines only");
	ok(parses(L("SHA256:" HEXA "\r\nSHA256:" HEXB " Chair\r\n"), 2, err,
	    sizeof(err)) == 0, "CRLF line ends");
	ok(parses(L("SHA256:" HEXA), 1, err, sizeof(err)) == 0,
	    "no newline at the end");
	ok(parses(L("  sha256:" HEXA "  Branch secretary  \n"), 1, err,
	    sizeof(err)) == 0, "any case, spaces around");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ok(parses(bad[i].text, bad[i].len, 0, err, sizeof(err)) == -1 &&
		    strncmp(err, bad[i].err, strlen(bad[i].err)) == 0,
		    "refused with file:line: %s (%s)", bad[i].name, err);
	}

	memcpy(a, "\x01\x23\x45\x67\x89\xab\xcd\xef\x01\x23\x45\x67\x89\xab"
	    "\xcd\xef\x01\x23\x45\x67\x89\xab\xcd\xef\x01\x23\x45\x67\x89\xab"
	    "\xcd\xef", 32);
	memset(b, 0x5a, sizeof(b));
	ok(certlist_parse(L("SHA256:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:"
	    "CD:EF:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef Sec\n"),
	    "admins", &l, err, sizeof(err)) == 0 && l.n == 1,
	    "colon-separated pairs (openssl x509 -fingerprint)");
	e = certlist_find(&l, a);
	ok(e != NULL && strcmp(e->name, "Sec") == 0,
	    "certlist_find: the listed fingerprint, with its name");
	ok(certlist_find(&l, b) == NULL, "certlist_find: another is not");
	ok(certlist_find(NULL, b) == NULL, "certlist_find: no list");
	certlist_free(&l);
}

static void
test_hex(void)
{
	unsigned char	h[32];
	char		out[CERTLIST_HEX_LEN + 1];

	memset(h, 0xab, sizeof(h));
	h[0] = 0x01;
	certlist_hex(h, out);
	ok(strncmp(out, "SHA256:01ABAB", 13) == 0 && strlen(out) == 71,
	    "certlist_hex: SHA256: and upper-case hex");
}

static void
test_many(void)
{
	char		*buf, err[256];
	size_t		 i, len = 0;
	int		 r;

	if ((buf = malloc((CERTLIST_MAX + 1) * 72 + 1)) == NULL)	/* + NUL */
		return;
	for (i = 0; i <= CERTLIST_MAX; i++)
		len += (size_t)snprintf(buf + len, 73, "SHA256:%064zX\n", i);
	r = parses(buf, len - 72, CERTLIST_MAX, err, sizeof(err));
	ok(r == 0, "10000 fingerprints are accepted");
	r = parses(buf, len, 0, err, sizeof(err));
	ok(r == -1 && strstr(err, "more than 10000") != NULL,
	    "10001 are refused (%s)", err);
	free(buf);
}

int
main(void)
{
	test_parse();
	test_hex();
	test_many();
	return tap_done();
}
