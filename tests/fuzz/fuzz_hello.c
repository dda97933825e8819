/*
 * fuzz_hello.c: libFuzzer target for the ClientHello server name.
 *
 * The bytes go through hello_sni as a whole handshake message and
 * through hello_sni_ext as an extension body.  Besides memory errors it
 * checks what tlsctx.c relies on: a name found is NUL-terminated within
 * the buffer, holds no NUL, is not empty, and is bytes of the input; a
 * buffer one byte too small for it gives no name, never a cut one.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hello.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

typedef int (*parse_fn)(const unsigned char *, size_t, char *, size_t);

static void
check(parse_fn parse, const uint8_t *data, size_t size)
{
	char	out[HELLO_NAME_MAX + 1], small[HELLO_NAME_MAX + 1];
	size_t	n;
	int	r;

	memset(out, 'x', sizeof(out));
	r = parse(data, size, out, sizeof(out));
	CHECK(r == 0 || r == -1);
	if (r == -1)
		return;
	CHECK(memchr(out, '\0', sizeof(out)) != NULL);
	n = strlen(out);
	CHECK(n > 0 && n <= HELLO_NAME_MAX);
	CHECK(memmem(data, size, out, n) != NULL);
	CHECK(parse(data, size, small, n) == -1);
	CHECK(parse(data, size, small, n + 1) == 0 && strcmp(small, out) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(hello_sni, data, size);
	check(hello_sni_ext, data, size);
	return 0;
}
