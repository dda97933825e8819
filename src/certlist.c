/*
 * certlist.c: fingerprint list files (see certlist.h).  Pure: no I/O,
 * no globals; the entries are the only allocation.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "certlist.h"
#include "url.h"

/* 64 hex digits at s (pairs may be split by ':'); the bytes read or 0. */
static size_t
parse_hash(const char *s, const char *e, unsigned char hash[32])
{
	const char	*p = s;
	int		 i, hi, lo;

	for (i = 0; i < 32; i++) {
		if (i > 0 && p < e && *p == ':')
			p++;
		if (e - p < 2 || (hi = url_hexval((unsigned char)p[0])) < 0 ||
		    (lo = url_hexval((unsigned char)p[1])) < 0)
			return 0;
		hash[i] = (unsigned char)(hi << 4 | lo);
		p += 2;
	}
	if (p < e && *p != ' ' && *p != '\t')
		return 0;	/* more digits, or junk glued on */
	return (size_t)(p - s);
}

int
certlist_hash(const char *s, unsigned char hash[32])
{
	size_t	len = strlen(s), n;

	if (len >= 7 && strncasecmp(s, "SHA256:", 7) == 0)
		s += 7, len -= 7;
	return (n = parse_hash(s, s + len, hash)) != 0 && n == len ? 0 : -1;
}

static int
is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* One line s..e (no LF) into *ent; 0 entry, 1 blank or comment, -1 bad. */
static int
parse_line(const char *s, const char *e, struct cert_entry *ent,
    const char **why)
{
	size_t	n, i;

	while (s < e && is_space((unsigned char)*s))
		s++;
	while (e > s && is_space((unsigned char)e[-1]))
		e--;
	if (s == e || *s == '#')
		return 1;
	if (e - s < 7 || strncasecmp(s, "SHA256:", 7) != 0 ||
	    (n = parse_hash(s + 7, e, ent->hash)) == 0) {
		*why = "expected SHA256: and 64 hex digits, then an optional "
		    "name";
		return -1;
	}
	for (s += 7 + n; s < e && is_space((unsigned char)*s); s++)
		;
	if ((size_t)(e - s) > CERTLIST_NAME_MAX) {
		*why = "name longer than 64 bytes";
		return -1;
	}
	for (i = 0; s + i < e; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			*why = "control character in the name";
			return -1;
		}
	if (!url_utf8_valid(s, (size_t)(e - s))) {
		*why = "name is not UTF-8";
		return -1;
	}
	memcpy(ent->name, s, (size_t)(e - s));
	ent->name[e - s] = '\0';
	return 0;
}

static int
fail(char *err, size_t errlen, const char *file, int line, const char *why)
{
	if (snprintf(err, errlen, "%s:%d: %s", file, line, why) < 0 &&
	    errlen > 0)
		err[0] = '\0';
	return -1;
}

int
certlist_parse(const char *buf, size_t len, const char *file,
    struct certlist *out, char *err, size_t errlen)
{
	struct cert_entry	 ent, *v = NULL, *nv;
	const char		*p = buf, *e = buf + len, *lf, *why = NULL;
	size_t			 n = 0, cap = 0, i;
	int			 line, r;

	memset(out, 0, sizeof(*out));
	if (len > CERTLIST_FILE_MAX)
		return fail(err, errlen, file, 0, "file larger than 1 MiB");
	if (len > 0 && memchr(buf, '\0', len) != NULL)
		return fail(err, errlen, file, 0, "NUL byte in the file");
	for (line = 1; p < e; line++, p = lf + 1) {
		if ((lf = memchr(p, '\n', (size_t)(e - p))) == NULL)
			lf = e;
		memset(&ent, 0, sizeof(ent));
		if ((r = parse_line(p, lf, &ent, &why)) == 1)
			continue;
		if (r == -1)
			goto bad;
		for (i = 0; i < n; i++)
			if (memcmp(v[i].hash, ent.hash, 32) == 0) {
				why = "fingerprint listed twice";
				goto bad;
			}
		if (n == CERTLIST_MAX) {
			why = "more than 10000 fingerprints";
			goto bad;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nv = reallocarray(v, cap, sizeof(*v))) == NULL) {
				why = "out of memory";
				goto bad;
			}
			v = nv;
		}
		v[n++] = ent;
	}
	out->v = v;
	out->n = n;
	return 0;
bad:
	free(v);
	return fail(err, errlen, file, line, why);
}

void
certlist_free(struct certlist *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

const struct cert_entry *
certlist_find(const struct certlist *l, const unsigned char hash[32])
{
	size_t	i;

	for (i = 0; l != NULL && i < l->n; i++)
		if (memcmp(l->v[i].hash, hash, 32) == 0)
			return &l->v[i];
	return NULL;
}

void
certlist_hex(const unsigned char hash[32], char out[CERTLIST_HEX_LEN + 1])
{
	static const char	hex[] = "0123456789ABCDEF";
	int			i;

	memcpy(out, "SHA256:", 7);
	for (i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[hash[i] >> 4];
		out[8 + 2 * i] = hex[hash[i] & 15];
	}
	out[CERTLIST_HEX_LEN] = '\0';
}
