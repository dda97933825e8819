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
	/* the last line repeats the 5000th: found, and said where */
	len = 0;
	for (i = 0; i < CERTLIST_MAX; i++)
		len += (size_t)snprintf(buf + len, 73, "SHA256:%064zX\n",
		    (CERTLIST_MAX - (i == CERTLIST_MAX - 1 ? 4999 : i)) * 7);
	r = parses(buf, len, 0, err, sizeof(err));
	ok(r == -1 && strstr(err, ":10000: fingerprint listed twice") != NULL,
	    "a repeat 5,000 lines apart, in a list of 10,000 (%s)", err);
	free(buf);
}

/* Issue 19.15: the list is searched by fingerprint, not walked. */
static void
test_order(void)
{
	struct certlist		 l;
	unsigned char		 h[32];
	char			 err[256];
	int			 i;
	const char		 text[] = "SHA256:" HEXB " B\nSHA256:" HEXA " A\n";

	ok(certlist_parse(text, sizeof(text) - 1, "f", &l, err,
	    sizeof(err)) == 0 && l.n == 2, "two, not in order");
	for (i = 0; i < 32; i++)	/* HEXA */
		h[i] = (unsigned char)(0x01 + 0x22 * (i % 8));
	ok(certlist_find(&l, h) != NULL && strcmp(certlist_find(&l,
	    h)->name, "A") == 0 && certlist_find(&l, h)->line == 2,
	    "each is found, with its name and line");
	for (i = 0; i < 32; i++)	/* HEXB */
		h[i] = (unsigned char)(0xff - 0x11 * (i % 16));
	ok(certlist_find(&l, h) != NULL && strcmp(certlist_find(&l,
	    h)->name, "B") == 0, "the other too");
	certlist_free(&l);
	ok(parses(L("SHA256:" HEXA "\nSHA256:" HEXA "\nnonsense\n"), 0, err,
	    sizeof(err)) == -1 && strstr(err, ":2: fingerprint listed twice"),
	    "the first fault in the file is the one told (%s)", err);
	/* while a list may be half written: the old and the new together */
	{
		struct certlist	 o, n, u;

		ok(certlist_parse(L("SHA256:" HEXA " Old\n"), "f", &o, err,
		    sizeof(err)) == 0 && certlist_parse(L("SHA256:" HEXB
		    " New\nSHA256:" HEXA " Renamed\n"), "f", &n, err,
		    sizeof(err)) == 0 && certlist_union(&o, &n, &u) == 0 &&
		    u.n == 2 && strcmp(u.v[0].name, "Renamed") == 0,
		    "certlist_union: each once, the new name wins");
		certlist_free(&u);
		ok(certlist_union(&n, &o, &u) == 0 && u.n == 2 &&
		    strcmp(u.v[0].name, "Old") == 0 &&
		    strcmp(u.v[1].name, "New") == 0,
		    "certlist_union: what the new list drops stays");
		certlist_free(&u);
		certlist_free(&o);
		certlist_free(&n);
	}
	ok(parses(L("nonsense\nSHA256:" HEXA "\nSHA256:" HEXA "\n"), 0, err,
	    sizeof(err)) == -1 && strstr(err, ":1: expected"),
	    "a bad line before a repeat is told first (%s)", err);
}

int
main(void)
{
	test_parse();
	test_hex();
	test_many();
	test_order();
	return tap_done();
}
