/*
 * upjob.h: an upstream's response as the engine reads it, a stream
 * (plan.h), for the three kinds alike: a FastCGI responder's STDOUT
 * records (its STDERR to the error log), an SCGI application's bytes
 * to the end of the connection, a proxied Gemini server's over TLS to
 * its close_notify.
 *
 * The job connects (never blocking), sends the request, reads the
 * header and checks it as a CGI script's is (cgi_parse_header), then
 * the body.  An upstream that is down, stalls before its header or
 * sends a bad one is answered 43 and logged with the reason; one that
 * stalls, fails or resets after its header leaves the body cut (logged,
 * no close_notify for the client).  Times are the connection's.
 */
#ifndef CAPSULED_UPJOB_H
#define CAPSULED_UPJOB_H

#include <stddef.h>

#include "plan.h"
#include "proxy.h"
#include "upstream.h"

struct upjob_args {
	const struct upstream_cfg *u;
	char			*req;		/* the request, malloc'd: the */
	size_t			 reqlen;	/* job frees it */
	unsigned char		 pp[PROXY_V2_MAX];	/* sent first: a */
	size_t			 pplen;		/* PROXY header; 0: none */
	const char		*addr;		/* the client, as logged */
	const char		*path;		/* the request's, for logs */
	long			 now;
	long			 deadline;	/* the whole response; or -1 */
	long			 stall;		/* ms: the longest wait */
	long long		 max;		/* body bytes; -1: no cap */
};

/* NULL when out of memory (the request is freed then). */
struct upjob	*upjob_new(const struct upjob_args *);

extern const struct stream_ops	upjob_stream;

#endif
