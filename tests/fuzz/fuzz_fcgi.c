/*
 * fuzz_fcgi.c: libFuzzer target for the FastCGI codec (fcgi.c).
 *
 * The first two bytes choose how the rest arrives (pieces of 1..256
 * bytes) and how much STDOUT the caller can take at a time (1..256);
 * the rest is a responder's stream, hostile.  Besides memory errors it
 * checks what upjob.c relies on: an OUT chunk never exceeds room and
 * lies within the bytes given; a parse uses no byte it was not given
 * and always moves on or says it needs more; after END or BAD nothing
 * more is read; and the same stream read in other pieces tells the
 * same story.  Then the input, cut into NUL-separated names and values,
 * is encoded as a request and read back: every pair, in order.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct story {
	unsigned char	out[65536];
	size_t		outlen, errlen;
	int		end, bad;
	unsigned long	app;
};

static void
read_stream(const char *buf, size_t len, size_t step, size_t room,
    struct story *s)
{
	struct fcgi_reader	r;
	struct fcgi_chunk	c;
	size_t			off = 0, avail, n;

	memset(s, 0, sizeof(*s));
	fcgi_reader_init(&r);
	while (off < len) {
		avail = len - off < step ? len - off : step;
		n = fcgi_parse(&r, buf + off, avail, room, &c);
		if (n > avail)
			abort();
		if (c.ev == FCGI_OUT || c.ev == FCGI_ERR) {
			if (c.len == 0 || c.data < buf + off ||
			    c.data + c.len > buf + off + n)
				abort();
			if (c.ev == FCGI_OUT) {
				if (c.len > room)
					abort();
				if (s->outlen + c.len <= sizeof(s->out))
					memcpy(s->out + s->outlen, c.data,
					    c.len);
				s->outlen += c.len;
			} else
				s->errlen += c.len;
		}
		if (c.ev == FCGI_NEED && n != avail)
			abort();	/* "more" only once all is used */
		if (c.ev != FCGI_BAD && c.ev != FCGI_END && n == 0)
			abort();	/* no progress */
		off += n;
		if (c.ev == FCGI_END) {
			s->end = 1;
			s->app = c.app_status;
			return;
		}
		if (c.ev == FCGI_BAD) {
			if (c.why == NULL)
				abort();
			s->bad = 1;
			return;
		}
	}
}

/* The pairs read back out of a request fcgi_request made. */
static void
check_request(const uint8_t *data, size_t size)
{
	static char	 out[70000];
	const char	*names[16] = { NULL }, *values[16] = { NULL };
	char		 copy[1024], *p, *end;
	const unsigned char *u = (const unsigned char *)out;
	size_t		 n = 0, len, off, clen, i, l[2], k, pos;
	static unsigned char stream[70000];
	size_t		 slen = 0;

	if (size > sizeof(copy) - 1)
		size = sizeof(copy) - 1;
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (p = copy, end = copy + size; p < end && n < 16; n++) {
		names[n] = p;
		p += strlen(p) + 1;
		values[n] = p < end ? p : "";
		p += p < end ? strlen(p) + 1 : 0;
	}
	if ((len = fcgi_request(out, sizeof(out), 1, names, values, n)) == 0)
		abort();
	if (len < 16 + 16 || u[1] != FCGI_BEGIN_REQUEST)
		abort();
	for (off = 16; off + 8 <= len; off += 8 + clen + u[off + 6]) {
		clen = (size_t)u[off + 4] << 8 | u[off + 5];
		if (u[off + 1] != FCGI_PARAMS || clen == 0)
			break;
		memcpy(stream + slen, out + off + 8, clen);
		slen += clen;
	}
	if (off + 16 != len || u[off + 9] != FCGI_STDIN)
		abort();
	for (pos = 0, i = 0; pos < slen; i++) {
		for (k = 0; k < 2; k++) {
			if (stream[pos] & 0x80) {
				l[k] = (size_t)(stream[pos] & 0x7f) << 24 |
				    (size_t)stream[pos + 1] << 16 |
				    (size_t)stream[pos + 2] << 8 |
				    stream[pos + 3];
				pos += 4;
			} else
				l[k] = stream[pos++];
		}
		if (i >= n || l[0] != strlen(names[i]) ||
		    l[1] != strlen(values[i]) ||
		    memcmp(stream + pos, names[i], l[0]) != 0 ||
		    memcmp(stream + pos + l[0], values[i], l[1]) != 0)
			abort();
		pos += l[0] + l[1];
	}
	if (pos != slen || i != n)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct story	a, b;

	if (size < 2)
		return 0;
	read_stream((const char *)data + 2, size - 2, (size_t)data[0] + 1,
	    (size_t)data[1] + 1, &a);
	read_stream((const char *)data + 2, size - 2, 65536, 65536, &b);
	if (a.end != b.end || a.bad != b.bad || a.outlen != b.outlen ||
	    a.errlen != b.errlen || a.app != b.app ||
	    memcmp(a.out, b.out, a.outlen < sizeof(a.out) ? a.outlen :
	    sizeof(a.out)) != 0)
		abort();	/* the pieces changed the story */
	check_request(data + 2, size - 2);
	return 0;
}
