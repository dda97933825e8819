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

/* By fingerprint, then line: a fingerprint's first line comes first. */
static int
entry_cmp(const void *a, const void *b)
{
	const struct cert_entry	*x = a, *y = b;
	int			 c = memcmp(x->hash, y->hash, 32);

	return c != 0 ? c : (x->line > y->line) - (x->line < y->line);
}

/*
 * Sort the n entries by fingerprint (for certlist_find) and find a
 * fingerprint listed twice: the earliest line that repeats one, or 0.
 * O(n log n): a 10,000-entry list is parsed in a few milliseconds, not
 * the 60 of comparing every pair.
 */
static int
sort_find_twice(struct cert_entry *v, size_t n)
{
	size_t	i;
	int	line = 0;

	if (n > 1)
		qsort(v, n, sizeof(*v), entry_cmp);
	for (i = 1; i < n; i++)
		if (memcmp(v[i - 1].hash, v[i].hash, 32) == 0 &&
		    (line == 0 || v[i].line < line))
			line = v[i].line;
	return line;
}

int
certlist_parse(const char *buf, size_t len, const char *file,
    struct certlist *out, char *err, size_t errlen)
{
	struct cert_entry	 ent, *v = NULL, *nv;
	const char		*p = buf, *e = buf + len, *lf, *why = NULL;
	size_t			 n = 0, cap = 0;
	int			 line, r, twice;

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
		ent.line = line;
		v[n++] = ent;
	}
	if ((twice = sort_find_twice(v, n)) != 0) {
		free(v);
		return fail(err, errlen, file, twice,
		    "fingerprint listed twice");
	}
	out->v = v;
	out->n = n;
	return 0;
bad:
	/* the first fault in the file: a repeat on an earlier line wins */
	if ((twice = sort_find_twice(v, n)) != 0) {
		line = twice;
		why = "fingerprint listed twice";
	}
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

static int
hash_cmp(const void *key, const void *elem)
{
	return memcmp(key, ((const struct cert_entry *)elem)->hash, 32);
}

const struct cert_entry *
certlist_find(const struct certlist *l, const unsigned char hash[32])
{
	if (l == NULL || l->n == 0)
		return NULL;
	return bsearch(hash, l->v, l->n, sizeof(*l->v), hash_cmp);
}

int
certlist_union(const struct certlist *old, const struct certlist *new,
    struct certlist *out)
{
	struct cert_entry	*v;
	size_t			 i = 0, j = 0, n = 0;
	int			 c;

	memset(out, 0, sizeof(*out));
	if (old->n + new->n == 0)
		return 0;
	if ((v = reallocarray(NULL, old->n + new->n, sizeof(*v))) == NULL)
		return -1;
	/* both sorted by fingerprint: a merge; the new entry wins a tie */
	while (i < old->n || j < new->n) {
		c = i == old->n ? 1 : j == new->n ? -1 :
		    memcmp(old->v[i].hash, new->v[j].hash, 32);
		if (c < 0)
			v[n++] = old->v[i++];
		else {
			i += c == 0;
			v[n++] = new->v[j++];
		}
	}
	out->v = v;
	out->n = n;
	return 0;
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
