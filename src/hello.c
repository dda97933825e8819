/*
 * hello.c: the server name in a ClientHello.  See hello.h.
 *
 * Strict: anything that is not exactly the structure RFC 5246 and RFC
 * 8446 give is "no name here", and the TLS library, which reads the
 * same bytes after us, refuses it or decides as it would without us.
 */
#include <stdint.h>
#include <string.h>

#include "hello.h"

#define MT_CLIENT_HELLO		1
#define EXT_SERVER_NAME		0
#define NAME_TYPE_HOST		0
#define RANDOM_LEN		32
#define SESSION_ID_MAX		32

/* A reader over len bytes: each take fails, and stays failed, past the end. */
struct rd {
	const unsigned char	*p;
	size_t			 left;
	int			 bad;
};

static const unsigned char *
take(struct rd *r, size_t n)
{
	const unsigned char	*at = r->p;

	if (r->bad || n > r->left) {
		r->bad = 1;
		return NULL;
	}
	r->p += n;
	r->left -= n;
	return at;
}

/* A big-endian integer of n (1 to 3) bytes; 0 once the reader is bad. */
static size_t
num(struct rd *r, size_t n)
{
	const unsigned char	*p = take(r, n);
	size_t			 v = 0, i;

	for (i = 0; p != NULL && i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* A vector with an n-byte length before it: *v reads just its bytes. */
static int
vec(struct rd *r, size_t n, struct rd *v)
{
	size_t	len = num(r, n);

	v->p = take(r, len);
	v->left = len;
	v->bad = r->bad;
	return r->bad ? -1 : 0;
}

int
hello_sni_ext(const unsigned char *ext, size_t len, char *out, size_t outlen)
{
	struct rd	r = { ext, len, 0 }, list, name;

	if (vec(&r, 2, &list) == -1 || r.left != 0 ||
	    num(&list, 1) != NAME_TYPE_HOST || vec(&list, 2, &name) == -1)
		return -1;
	if (name.left == 0 || name.left >= outlen ||
	    memchr(name.p, '\0', name.left) != NULL)
		return -1;
	memcpy(out, name.p, name.left);
	out[name.left] = '\0';
	return 0;
}

int
hello_sni(const unsigned char *msg, size_t len, char *out, size_t outlen)
{
	struct rd	r = { msg, len, 0 }, skip, exts, data;
	size_t		type, body;

	if (num(&r, 1) != MT_CLIENT_HELLO)
		return -1;
	body = num(&r, 3);
	if (r.bad || body != r.left)
		return -1;
	take(&r, 2 + RANDOM_LEN);		/* legacy_version, random */
	if (vec(&r, 1, &skip) == -1 || skip.left > SESSION_ID_MAX ||
	    vec(&r, 2, &skip) == -1 ||		/* cipher_suites */
	    vec(&r, 1, &skip) == -1 ||		/* compression_methods */
	    vec(&r, 2, &exts) == -1 || r.left != 0)
		return -1;
	while (exts.left > 0) {
		type = num(&exts, 2);
		if (vec(&exts, 2, &data) == -1)
			return -1;
		if (type == EXT_SERVER_NAME)
			return hello_sni_ext(data.p, data.left, out, outlen);
	}
	return -1;
}
