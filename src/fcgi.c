/*
 * fcgi.c: the FastCGI record codec (see fcgi.h).
 */
#include <stddef.h>
#include <string.h>

#include "fcgi.h"

#define FCGI_VERSION_1		1
#define FCGI_RESPONDER		1
#define FCGI_KEEP_CONN		1

/* Bytes into records of one type, a new record when one is full. */
struct stream {
	unsigned char	*out;
	size_t		 cap, len;
	size_t		 hdr;		/* the open record's header */
	int		 open, failed;
	int		 type;
};

static void
header(unsigned char *h, int type, size_t clen)
{
	h[0] = FCGI_VERSION_1;
	h[1] = (unsigned char)type;
	h[2] = 0;
	h[3] = FCGI_REQUEST_ID;
	h[4] = (unsigned char)(clen >> 8);
	h[5] = (unsigned char)clen;
	h[6] = 0;		/* no padding */
	h[7] = 0;
}

static void
record_close(struct stream *s)
{
	if (s->open)
		header(s->out + s->hdr, s->type, s->len - s->hdr -
		    FCGI_HEADER_LEN);
	s->open = 0;
}

/* An empty record: the end of a stream (PARAMS, STDIN). */
static void
record_empty(struct stream *s, int type)
{
	record_close(s);
	if (s->failed || s->cap - s->len < FCGI_HEADER_LEN) {
		s->failed = 1;
		return;
	}
	header(s->out + s->len, type, 0);
	s->len += FCGI_HEADER_LEN;
}

static void
put(struct stream *s, const void *p, size_t n)
{
	const unsigned char	*b = p;
	size_t			 take;

	while (n > 0 && !s->failed) {
		if (s->open && s->len - s->hdr - FCGI_HEADER_LEN ==
		    FCGI_CONTENT_MAX)
			record_close(s);
		if (!s->open) {
			if (s->cap - s->len <= FCGI_HEADER_LEN) {
				s->failed = 1;
				return;
			}
			s->hdr = s->len;
			s->len += FCGI_HEADER_LEN;
			s->open = 1;
		}
		take = FCGI_CONTENT_MAX - (s->len - s->hdr - FCGI_HEADER_LEN);
		if (take > n)
			take = n;
		if (take > s->cap - s->len) {
			s->failed = 1;
			return;
		}
		memcpy(s->out + s->len, b, take);
		s->len += take;
		b += take;
		n -= take;
	}
}

/* A length as FastCGI writes it: one byte below 128, else four. */
static void
put_len(struct stream *s, size_t n)
{
	unsigned char	b[4];

	if (n < 128) {
		b[0] = (unsigned char)n;
		put(s, b, 1);
		return;
	}
	b[0] = (unsigned char)((n >> 24) | 0x80);
	b[1] = (unsigned char)(n >> 16);
	b[2] = (unsigned char)(n >> 8);
	b[3] = (unsigned char)n;
	put(s, b, 4);
}

size_t
fcgi_request(char *out, size_t cap, int keep, const char *const *names,
    const char *const *values, size_t n)
{
	struct stream	s;
	unsigned char	begin[FCGI_HEADER_LEN + 8];
	size_t		i, nlen, vlen;

	memset(&s, 0, sizeof(s));
	s.out = (unsigned char *)out;
	s.cap = cap;
	header(begin, FCGI_BEGIN_REQUEST, 8);
	memset(begin + FCGI_HEADER_LEN, 0, 8);
	begin[FCGI_HEADER_LEN + 1] = FCGI_RESPONDER;
	begin[FCGI_HEADER_LEN + 2] = keep ? FCGI_KEEP_CONN : 0;
	if (cap < sizeof(begin))
		return 0;
	memcpy(out, begin, sizeof(begin));
	s.len = sizeof(begin);
	s.type = FCGI_PARAMS;
	for (i = 0; i < n; i++) {
		if (values[i] == NULL)
			continue;
		nlen = strlen(names[i]);
		vlen = strlen(values[i]);
		if (nlen > 0x7fffffff || vlen > 0x7fffffff)
			return 0;
		put_len(&s, nlen);
		put_len(&s, vlen);
		put(&s, names[i], nlen);
		put(&s, values[i], vlen);
	}
	record_empty(&s, FCGI_PARAMS);
	record_empty(&s, FCGI_STDIN);
	return s.failed ? 0 : s.len;
}

void
fcgi_reader_init(struct fcgi_reader *r)
{
	memset(r, 0, sizeof(*r));
}

static size_t
bad(struct fcgi_chunk *c, const char *why)
{
	c->ev = FCGI_BAD;
	c->why = why;
	return 0;
}

/* The header is whole: check it and start its record; NULL or why not. */
static const char *
record_start(struct fcgi_reader *r)
{
	const unsigned char	*h = r->hdr;
	unsigned		 id = (unsigned)h[2] << 8 | h[3];

	r->hlen = 0;
	r->type = h[1];
	r->left = (size_t)h[4] << 8 | h[5];
	r->pad = h[6];
	r->endlen = 0;
	r->mgmt = id == 0;
	if (h[0] != FCGI_VERSION_1)
		return "a record that is not FastCGI version 1";
	if (r->type == 0)	/* no such type; 0 is "between records" here */
		return "a record of type 0";
	if (r->mgmt)
		return NULL;	/* GET_VALUES_RESULT, UNKNOWN_TYPE: skipped */
	if (id != FCGI_REQUEST_ID)
		return "a record for another request";
	if (r->type != FCGI_STDOUT && r->type != FCGI_STDERR &&
	    r->type != FCGI_END_REQUEST)
		return "a record of a type a responder does not send";
	if (r->type == FCGI_END_REQUEST && r->left < 8)
		return "an END_REQUEST record shorter than 8 bytes";
	return NULL;
}

/* The management record's content, END_REQUEST's, or padding. */
static size_t
skip(struct fcgi_reader *r, const char *buf, size_t len)
{
	size_t	n;

	if (r->left > 0) {
		n = r->left < len ? r->left : len;
		if (r->type == FCGI_END_REQUEST && r->endlen < 8) {
			if (n > 8 - r->endlen)
				n = 8 - r->endlen;
			memcpy(r->end + r->endlen, buf, n);
			r->endlen += n;
		}
		r->left -= n;
	} else {
		n = r->pad < len ? r->pad : len;
		r->pad -= n;
	}
	return n;
}

static void
end_event(struct fcgi_reader *r, struct fcgi_chunk *c)
{
	r->ended = 1;
	c->ev = FCGI_END;
	c->app_status = (unsigned long)r->end[0] << 24 |
	    (unsigned long)r->end[1] << 16 | (unsigned long)r->end[2] << 8 |
	    r->end[3];
	c->protocol_status = r->end[4];
}

size_t
fcgi_parse(struct fcgi_reader *r, const char *buf, size_t len, size_t room,
    struct fcgi_chunk *c)
{
	const char	*why;
	size_t		 used = 0, n;

	memset(c, 0, sizeof(*c));
	if (r->ended && len > 0)
		return bad(c, "bytes after END_REQUEST");
	while (used < len) {
		if (r->type == 0) {
			n = FCGI_HEADER_LEN - r->hlen;
			if (n > len - used)
				n = len - used;
			memcpy(r->hdr + r->hlen, buf + used, n);
			r->hlen += n;
			used += n;
			if (r->hlen < FCGI_HEADER_LEN)
				break;
			if ((why = record_start(r)) != NULL)
				return bad(c, why) + used;
			/* an empty STDOUT or STDERR ends that stream: nothing */
		} else if (r->left > 0 && !r->mgmt && (r->type == FCGI_STDOUT ||
		    r->type == FCGI_STDERR)) {
			n = len - used < r->left ? len - used : r->left;
			if (r->type == FCGI_STDOUT && n > room)
				n = room;
			if (n == 0)
				break;
			c->ev = r->type == FCGI_STDOUT ? FCGI_OUT : FCGI_ERR;
			c->data = buf + used;
			c->len = n;
			r->left -= n;
			used += n;
		} else
			used += skip(r, buf + used, len - used);
		if (r->type != 0 && r->left == 0 && r->pad == 0) {
			if (r->type == FCGI_END_REQUEST && !r->mgmt) {
				r->type = 0;
				end_event(r, c);
				return used;
			}
			r->type = 0;
		}
		if (c->ev != FCGI_NEED)
			return used;
	}
	c->ev = FCGI_NEED;
	return used;
}
