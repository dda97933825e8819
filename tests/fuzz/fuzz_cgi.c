/*
 * fuzz_cgi.c: libFuzzer target for the CGI header check
 * (cgi_parse_header), the only thing between a script's output and the
 * client's response header.
 *
 * Besides memory errors it checks what conn_reply relies on: a header
 * it accepts ends in CRLF within the input, has a status 10..69 and a
 * meta of at most 1024 bytes, valid UTF-8 and free of control bytes;
 * a refusal says why; and until the LF has arrived it asks for more.
 * cgi.c needs the connection and TLS calls below, which it never makes
 * from cgi_parse_header: they abort if it does.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "cgi.h"
#include "conn.h"
#include "tlsctx.h"
#include "url.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

const struct conn_info *
conn_info(const struct conn *c)
{
	(void)c;
	abort();
}

void
conn_reply(struct conn *c, int status, const char *meta)
{
	(void)c;
	(void)status;
	(void)meta;
	abort();
}

void
conn_cgi(struct conn *c, int outfd, int ctlfd, const char *script,
    int timeout, long max)
{
	(void)c;
	(void)outfd;
	(void)ctlfd;
	(void)script;
	(void)timeout;
	(void)max;
	abort();
}

int
tls_client_info(SSL *ssl, struct tls_client *out)
{
	(void)ssl;
	(void)out;
	abort();
}

const char *
access_user(const struct conn_info *ci, const char *path)
{
	(void)ci;
	(void)path;
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
