/*
 * fcgi_test.c: the FastCGI record codec.  The rules are the FastCGI
 * specification 1.0's (sections 3.3 records, 3.4 name-value pairs,
 * 5.1 BEGIN_REQUEST, 5.3 stream records, 5.5 END_REQUEST); each case
 * names one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi.h"
#include "tap.h"

/* A record as a responder sends it. */
static size_t
rec(char *out, int version, int type, int id, const char *content,
    size_t len, int pad)
{
	out[0] = (char)version;
	out[1] = (char)type;
	out[2] = (char)(id >> 8);
	out[3] = (char)id;
	out[4] = (char)(len >> 8);
	out[5] = (char)len;
	out[6] = (char)pad;
	out[7] = 0;
	memcpy(out + 8, content, len);
	memset(out + 8 + len, 'P', (size_t)pad);
	return 8 + len + (size_t)pad;
}

static size_t
end_rec(char *out, unsigned long app, int proto, int pad)
{
	char	body[8] = { (char)(app >> 24), (char)(app >> 16),
	    (char)(app >> 8), (char)app, (char)proto, 0, 0, 0 };

	return rec(out, 1, FCGI_END_REQUEST, 1, body, 8, pad);
}

struct result {
	char		out[4096], err[4096];
	size_t		outlen, errlen;
	int		ended, bad, events;
	unsigned long	app;
	int		proto;
	const char	*why;
	size_t		after;	/* bytes left unread after END or BAD */
};

/* Feed buf in pieces of step bytes, taking at most room per OUT. */
static void
feed(const char *buf, size_t len, size_t step, size_t room,
    struct result *res)
{
	struct fcgi_reader	r;
	struct fcgi_chunk	c;
	size_t			off = 0, avail, n, got;

	memset(res, 0, sizeof(*res));
	fcgi_reader_init(&r);
	while (off < len && !res->ended && !res->bad) {
		avail = len - off < step ? len - off : step;
		got = 0;
		do {
			n = fcgi_parse(&r, buf + off + got, avail - got, room,
			    &c);
			got += n;
			res->events++;
			if (c.ev == FCGI_OUT) {
				if (c.len > room)
					abort();
				memcpy(res->out + res->outlen, c.data, c.len);
				res->outlen += c.len;
			} else if (c.ev == FCGI_ERR) {
				memcpy(res->err + res->errlen, c.data, c.len);
				res->errlen += c.len;
			} else if (c.ev == FCGI_END) {
				res->ended = 1;
				res->app = c.app_status;
				res->proto = c.protocol_status;
			} else if (c.ev == FCGI_BAD) {
				res->bad = 1;
				res->why = c.why;
			}
		} while (c.ev != FCGI_NEED && c.ev != FCGI_END &&
		    c.ev != FCGI_BAD && got < avail);
		off += got;
	}
	res->after = len - off;
}

/* A whole response: header, body, stderr, padding, empty records. */
static size_t
response(char *buf)
{
	size_t	n = 0;

	n += rec(buf + n, 1, FCGI_STDERR, 1, "oops\n", 5, 3);
	n += rec(buf + n, 1, FCGI_STDOUT, 1, "20 text/gemini\r\n", 16, 0);
	n += rec(buf + n, 1, FCGI_GET_VALUES_RESULT, 0, "\x0e\x01"
	    "FCGI_MPXS_CONNS0", 17, 7);
	n += rec(buf + n, 1, FCGI_STDOUT, 1, "# Hi\n", 5, 2);
	n += rec(buf + n, 1, FCGI_STDERR, 1, "", 0, 0);
	n += rec(buf + n, 1, FCGI_STDOUT, 1, "", 0, 0);
	n += end_rec(buf + n, 0, FCGI_REQUEST_COMPLETE, 0);
	return n;
}

static void
test_parse_whole(void)
{
	static const size_t	steps[] = { 1, 2, 7, 8, 9, 4096 };
	static const size_t	rooms[] = { 1, 3, 4096 };
	struct result		res;
	char			buf[512];
	size_t			len = response(buf), i, j;
	int			all = 1;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		for (j = 0; j < sizeof(rooms) / sizeof(rooms[0]); j++) {
			feed(buf, len, steps[i], rooms[j], &res);
			all &= res.ended && !res.bad && res.after == 0 &&
			    res.outlen == 21 && memcmp(res.out,
			    "20 text/gemini\r\n# Hi\n", 21) == 0 &&
			    res.errlen == 5 && memcmp(res.err, "oops\n", 5) ==
			    0 && res.app == 0 && res.proto == 0;
		}
	ok(all, "a response read whole, byte by byte, and with every record "
	    "split: STDOUT and STDERR apart, padding and management records "
	    "skipped, END_REQUEST last (5.3, 5.5)");
}

static void
test_parse_end(void)
{
	struct result	res;
	char		buf[64];
	size_t		n;

	n = end_rec(buf, 0x01020304UL, FCGI_OVERLOADED, 5);
	feed(buf, n, 3, 16, &res);
	ok(res.ended && res.app == 0x01020304UL && res.proto ==
	    FCGI_OVERLOADED && res.after == 0, "END_REQUEST: appStatus is "
	    "four bytes big-endian, protocolStatus follows; its padding is "
	    "read before the end is told (a kept connection is clean)");
	n = rec(buf, 1, FCGI_END_REQUEST, 1, "\0\0\0\0\0\0\0\0\0\0", 10, 0);
	feed(buf, n, 64, 16, &res);
	ok(res.ended && res.after == 0, "a longer END_REQUEST body is read "
	    "and its rest skipped");
	n = end_rec(buf, 0, 0, 0);
	memcpy(buf + n, "x", 1);
	feed(buf, n + 1, 64, 16, &res);
	ok(res.ended && res.after == 1, "the end is told before any byte "
	    "after it is looked at");
}

static void
test_parse_bad(void)
{
	static const struct {
		int		 version, type, id;
		size_t		 len;
		const char	*rule;
	} cases[] = {
		{ 2, FCGI_STDOUT, 1, 4, "version must be 1 (3.3)" },
		{ 0, FCGI_STDOUT, 1, 4, "version 0 is not FastCGI" },
		{ 1, FCGI_STDOUT, 2, 4, "a record for another request id" },
		{ 1, FCGI_STDOUT, 256, 4, "request id 256 is not 1" },
		{ 1, FCGI_PARAMS, 1, 4, "a responder never sends PARAMS" },
		{ 1, FCGI_BEGIN_REQUEST, 1, 8, "nor BEGIN_REQUEST" },
		{ 1, FCGI_STDIN, 1, 4, "nor STDIN" },
		{ 1, 99, 1, 4, "nor a type of its own" },
		{ 1, 0, 1, 4, "no record has type 0 (8: types start at 1)" },
		{ 1, 0, 0, 4, "not even a management record (request 0)" },
		{ 1, FCGI_END_REQUEST, 1, 4, "END_REQUEST's body is 8 bytes "
		  "(5.5)" },
	};
	struct result	res;
	char		buf[64];
	size_t		i, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = rec(buf, cases[i].version, cases[i].type, cases[i].id,
		    "abcdefgh", cases[i].len, 0);
		feed(buf, n, 3, 16, &res);
		ok(res.bad && res.why != NULL && res.outlen == 0 &&
		    !res.ended, "refused: %s (%s)", cases[i].rule,
		    res.why ? res.why : "no reason");
	}
	n = rec(buf, 1, FCGI_UNKNOWN_TYPE, 0, "\x63\0\0\0\0\0\0\0", 8, 0);
	n += end_rec(buf + n, 0, 0, 0);
	feed(buf, n, 64, 16, &res);
	ok(res.ended && !res.bad, "a management record (request 0) of any "
	    "type is skipped (3.3)");
}

/* Read the name-value pairs of a PARAMS stream back (3.4). */
static int
pairs(const unsigned char *p, size_t len, char names[][64],
    char values[][80000], size_t max)
{
	size_t	off = 0, n = 0, l[2];
	int	k;

	while (off < len && n < max) {
		for (k = 0; k < 2; k++) {
			if (p[off] & 0x80) {
				l[k] = (size_t)(p[off] & 0x7f) << 24 |
				    (size_t)p[off + 1] << 16 |
				    (size_t)p[off + 2] << 8 | p[off + 3];
				off += 4;
			} else
				l[k] = p[off++];
		}
		memcpy(names[n], p + off, l[0]);
		names[n][l[0]] = '\0';
		memcpy(values[n], p + off + l[0], l[1]);
		values[n][l[1]] = '\0';
		off += l[0] + l[1];
		n++;
	}
	return off == len ? (int)n : -1;
}

static char	big[70000 + 1];
static char	got_names[4][64], got_values[4][80000];

static void
test_request(void)
{
	const char	*names[] = { "SCRIPT_NAME", "NOPE", "LONG_VALUE",
	    "QUERY_STRING" };
	const char	*values[] = { "/cgi-bin/strike", NULL, big, "" };
	static char	 out[100000], stream[100000];
	const unsigned char *u = (const unsigned char *)out;
	size_t		 len, off, slen = 0, clen, records = 0;
	int		 good = 1, n;

	memset(big, 'v', sizeof(big) - 1);
	len = fcgi_request(out, sizeof(out), 1, names, values, 4);
	ok(len > 16 && memcmp(out, "\1\1\0\1\0\10\0\0\0\1\1\0\0\0\0\0", 16)
	    == 0, "BEGIN_REQUEST first: version 1, request 1, 8 bytes, role "
	    "RESPONDER, FCGI_KEEP_CONN (5.1)");
	len = fcgi_request(out, sizeof(out), 0, names, values, 4);
	ok(len > 16 && out[10] == 0, "flags 0 without keep-alive: the "
	    "responder closes the connection (5.1)");
	/* the PARAMS records, their content joined; then the two ends */
	for (off = 16; off + 8 <= len && u[off + 1] == FCGI_PARAMS;
	    off += 8 + clen + u[off + 6]) {
		clen = (size_t)u[off + 4] << 8 | u[off + 5];
		good &= u[off] == 1 && u[off + 3] == 1 && clen <=
		    FCGI_CONTENT_MAX;
		if (clen == 0)
			break;
		memcpy(stream + slen, out + off + 8, clen);
		slen += clen;
		records++;
	}
	ok(good && records == 2, "a stream over 65535 bytes goes in more "
	    "than one PARAMS record, each at most 65535 (3.3)");
	ok(off + 16 == len && u[off + 1] == FCGI_PARAMS && u[off + 5] == 0 &&
	    u[off + 9] == FCGI_STDIN && u[off + 13] == 0, "an empty PARAMS "
	    "ends the parameters, an empty STDIN the (absent) body (5.2, "
	    "5.3)");
	n = pairs((const unsigned char *)stream, slen, got_names, got_values,
	    4);
	ok(n == 3 && strcmp(got_names[0], "SCRIPT_NAME") == 0 &&
	    strcmp(got_values[0], "/cgi-bin/strike") == 0 &&
	    strcmp(got_names[1], "LONG_VALUE") == 0 &&
	    strlen(got_values[1]) == 70000 && strcmp(got_names[2],
	    "QUERY_STRING") == 0 && got_values[2][0] == '\0', "name-value "
	    "pairs: one-byte lengths below 128, four bytes with the top bit "
	    "above; a NULL value is left out, an empty one sent (3.4)");
	ok(fcgi_request(out, len - 1, 0, names, values, 4) == 0 &&
	    fcgi_request(out, 10, 0, names, values, 4) == 0,
	    "a request that does not fit is refused, not cut");
	ok(fcgi_request(out, len, 0, names, values, 4) == len,
	    "a request that just fits is made");
}

int
main(void)
{
	test_parse_whole();
	test_parse_end();
	test_parse_bad();
	test_request();
	return tap_done();
}
