/*
 * fuzz_cgi.c: libFuzzer target for the CGI header check
 * (cgi_parse_header), the only thing between a script's output and the
 * client's response header.
 *
 * Besides memory errors it checks what the engine's header writer
 * relies on: a header it accepts ends in CRLF within the input, has a
 * status 10..69 and a meta of at most 1024 bytes, valid UTF-8 and free
 * of control bytes; a refusal says why; and until the LF has arrived it
 * asks for more.  cgijob.c counts in metrics.c, which it never does
 * from cgi_parse_header: the stub below aborts if it does.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgijob.h"
#include "metrics.h"
#include "url.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

void
metrics_cgi(enum metrics_cgi o)
{
	(void)o;
	abort();
}

static void
check(const char *buf, size_t len)
{
	char		 meta[URL_MAX + 1];
	const char	*why = NULL, *lf = memchr(buf, '\n', len);
	int		 status = 0, n, again;
	size_t		 i, mlen;

	n = cgi_parse_header(buf, len, &status, meta, &why);
	if (lf == NULL) {
		if (n != 0)
			abort();	/* no LF yet: more, never a verdict */
		return;
	}
	if (n == 0)
		abort();
	if (n < 0) {
		if (why == NULL || *why == '\0')
			abort();
		return;
	}
	if ((size_t)n != (size_t)(lf - buf) + 1 || n < 4 || buf[n - 2] != '\r')
		abort();
	if (status < 10 || status > 69)
		abort();
	mlen = strlen(meta);
	if (mlen > URL_MAX || !url_utf8_valid(meta, mlen))
		abort();
	for (i = 0; i < mlen; i++)
		if ((unsigned char)meta[i] < 0x20 || meta[i] == 0x7f)
			abort();
	/* the same header, cut before its LF, is not complete yet */
	again = cgi_parse_header(buf, (size_t)n - 1, &status, meta, &why);
	if (again != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check((const char *)data, size);
	return 0;
}
