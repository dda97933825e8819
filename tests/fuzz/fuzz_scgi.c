/*
 * fuzz_scgi.c: libFuzzer target for the SCGI header (scgi.c).  The
 * input, cut into NUL-separated names and values, is encoded and read
 * back as an SCGI application reads it (the specification's netstring):
 * the length is the content's, the content ends with ',', and the pairs
 * come back in order after CONTENT_LENGTH 0 and SCGI 1; a header that
 * does not fit, or a variable with an empty name, is refused whole.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scgi.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The next NUL-terminated string at *pos, or NULL past end. */
static const char *
next(const char *s, size_t end, size_t *pos)
{
	const char	*v = s + *pos;
	const char	*nul = memchr(v, '\0', end - *pos);

	if (*pos >= end || nul == NULL)
		return NULL;
	*pos += (size_t)(nul - v) + 1;
	return v;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*names[16] = { NULL }, *values[16] = { NULL }, *k, *v;
	char		 copy[1024], out[2048], *p, *end, *colon;
	size_t		 n = 0, len, clen, pos, i, cap;
	int		 empty = 0;

	if (size < 1)
		return 0;
	cap = (size_t)data[0] * 8;
	if (size - 1 > sizeof(copy) - 1)
		size = sizeof(copy);
	memcpy(copy, data + 1, size - 1);
	copy[size - 1] = '\0';
	for (p = copy, end = copy + size - 1; p < end && n < 16; n++) {
		names[n] = p;
		empty |= *p == '\0';
		p += strlen(p) + 1;
		values[n] = p < end ? p : "";
		p += p < end ? strlen(p) + 1 : 0;
	}
	len = scgi_request(out, cap, names, values, n);
	if (len == 0) {
		/* refused: an empty name, or it would not fit in cap */
		if (!empty && scgi_request(out, sizeof(out), names, values,
		    n) <= cap)
			abort();
		return 0;
	}
	if (empty || len > cap)
		abort();
	clen = strtoul(out, &colon, 10);
	if (*colon != ':' || out[0] == '0' ||
	    (size_t)(colon - out) + 1 + clen + 1 != len || out[len - 1] != ',')
		abort();
	pos = (size_t)(colon - out) + 1;
	end = out + len - 1;
	if ((k = next(out, len - 1, &pos)) == NULL || strcmp(k,
	    "CONTENT_LENGTH") != 0 || (v = next(out, len - 1, &pos)) == NULL ||
	    strcmp(v, "0") != 0 || (k = next(out, len - 1, &pos)) == NULL ||
	    strcmp(k, "SCGI") != 0 || (v = next(out, len - 1, &pos)) == NULL ||
	    strcmp(v, "1") != 0)
		abort();
	for (i = 0; i < n; i++)
		if ((k = next(out, len - 1, &pos)) == NULL ||
		    strcmp(k, names[i]) != 0 ||
		    (v = next(out, len - 1, &pos)) == NULL ||
		    strcmp(v, values[i]) != 0)
			abort();
	if (out + pos != end)
		abort();
	return 0;
}
