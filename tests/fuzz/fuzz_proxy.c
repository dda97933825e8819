/*
 * fuzz_proxy.c: libFuzzer target for proxy_parse.  Besides not
 * crashing, it checks the promise the reader (proxyin.c) relies on:
 * when a prefix of the bytes is "incomplete" (0), every byte of it is
 * header, so a longer read never ends the header before that prefix.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "proxy.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_hdr	h;
	ssize_t			r, p;
	size_t			i;

	r = proxy_parse(data, size, &h);
	if (r < -1)
		abort();
	if (r == 0 && size >= PROXY_NEED_MAX)
		abort();	/* must have decided by now */
	if (r > 0 && h.version == 1 && (size_t)r > size)
		abort();	/* v1 ends at a CRLF we have seen */
	if (r > 0 && h.version == 2 && r < PROXY_V2_HDR)
		abort();
	if (size > 256)
		return 0;
	for (i = 0; i < size; i++) {
		p = proxy_parse(data, i, &h);
		if (p == 0 && r > 0 && (size_t)r < i)
			abort();	/* consumed past the header */
		if (p > 0 && p != r)
			abort();	/* more bytes changed the answer */
		if (p == -1 && r != -1)
			abort();	/* a refused prefix stays refused */
	}
	return 0;
}
