/*
 * fcgi.h: the FastCGI record codec (the FastCGI specification 1.0, the
 * Responder role).  A request is built whole in the caller's buffer; a
 * responder's records are taken apart as they come, from any bytes at
 * all: a header split across reads, padding, management records,
 * a record for another request or of a type a responder never sends.
 * No I/O, no globals, no allocation.
 */
#ifndef CAPSULED_FCGI_H
#define CAPSULED_FCGI_H

#include <stddef.h>

#define FCGI_HEADER_LEN		8
#define FCGI_REQUEST_ID		1	/* one request per connection */
#define FCGI_CONTENT_MAX	65535

enum fcgi_type {
	FCGI_BEGIN_REQUEST = 1,
	FCGI_ABORT_REQUEST,
	FCGI_END_REQUEST,
	FCGI_PARAMS,
	FCGI_STDIN,
	FCGI_STDOUT,
	FCGI_STDERR,
	FCGI_DATA,
	FCGI_GET_VALUES,
	FCGI_GET_VALUES_RESULT,
	FCGI_UNKNOWN_TYPE,
};

/* END_REQUEST's protocolStatus */
#define FCGI_REQUEST_COMPLETE	0
#define FCGI_CANT_MPX_CONN	1
#define FCGI_OVERLOADED		2
#define FCGI_UNKNOWN_ROLE	3

/*
 * A Responder request with no body: BEGIN_REQUEST (FCGI_KEEP_CONN when
 * keep), the n name-value pairs as PARAMS records, an empty PARAMS and
 * an empty STDIN, into out.  A NULL value leaves its pair out.  Returns
 * the length, or 0 when it does not fit in cap bytes.
 */
size_t	fcgi_request(char *out, size_t cap, int keep,
	    const char *const *names, const char *const *values, size_t n);

/* Where a responder's record stream is, between calls. */
struct fcgi_reader {
	unsigned char	hdr[FCGI_HEADER_LEN];
	size_t		hlen;		/* header bytes so far */
	int		type;		/* of the record being read; 0: none */
	int		mgmt;		/* it is request 0's: skipped */
	size_t		left;		/* its content bytes still to come */
	size_t		pad;		/* then its padding */
	unsigned char	end[8];		/* END_REQUEST's body */
	size_t		endlen;
	int		ended;		/* END_REQUEST read whole */
};

enum fcgi_event {
	FCGI_NEED,	/* every byte given was used: more are needed */
	FCGI_OUT,	/* STDOUT bytes: data, len */
	FCGI_ERR,	/* STDERR bytes: data, len */
	FCGI_END,	/* END_REQUEST, its padding included */
	FCGI_BAD,	/* not a responder's stream: why; read no more */
};

struct fcgi_chunk {
	enum fcgi_event	 ev;
	const char	*data;		/* OUT, ERR: within the bytes given */
	size_t		 len;
	unsigned long	 app_status;	/* END */
	int		 protocol_status;
	const char	*why;		/* BAD */
};

/* Before the first byte of a response. */
void	fcgi_reader_init(struct fcgi_reader *);

/*
 * Take what buf's len bytes hold, up to the next event: returns how
 * many were used, and *c.  STDOUT bytes come at most room at a time
 * (room > 0: what the caller can take); STDERR bytes as they are.
 * Records of request 0 (management) are skipped; any other request
 * id, a version other than 1, a type a responder does not send, or a
 * byte after END_REQUEST is FCGI_BAD.
 */
size_t	fcgi_parse(struct fcgi_reader *, const char *buf, size_t len,
	    size_t room, struct fcgi_chunk *c);

#endif
