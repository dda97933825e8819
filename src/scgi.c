/*
 * scgi.c: an SCGI request's header (see scgi.h).
 */
#include <stdio.h>
#include <string.h>

#include "scgi.h"

/* "name\0value\0" at out + *len (out NULL: counted only); 0 or -1. */
static int
pair(char *out, size_t cap, size_t *len, const char *name,
    const char *value)
{
	size_t	nlen = strlen(name) + 1, vlen = strlen(value) + 1;

	if (nlen == 1)
		return -1;
	if (out != NULL) {
		if (nlen + vlen > cap - *len)
			return -1;
		memcpy(out + *len, name, nlen);
		memcpy(out + *len + nlen, value, vlen);
	}
	*len += nlen + vlen;
	return 0;
}

/* The netstring's content at out + *len (out NULL: its length). */
static int
content(char *out, size_t cap, size_t *len, const char *const *names,
    const char *const *values, size_t n)
{
	size_t	i;

	if (pair(out, cap, len, "CONTENT_LENGTH", "0") == -1 ||
	    pair(out, cap, len, "SCGI", "1") == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (values[i] != NULL &&
		    pair(out, cap, len, names[i], values[i]) == -1)
			return -1;
	return 0;
}

size_t
scgi_request(char *out, size_t cap, const char *const *names,
    const char *const *values, size_t n)
{
	size_t	clen = 0, len;
	int	w;

	if (content(NULL, 0, &clen, names, values, n) == -1)
		return 0;
	w = snprintf(out, cap, "%zu:", clen);
	if (w < 0 || (size_t)w >= cap)
		return 0;
	len = (size_t)w;
	if (content(out, cap, &len, names, values, n) == -1 || len >= cap)
		return 0;
	out[len++] = ',';
	return len;
}
