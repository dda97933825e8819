/*
 * request.h: a Gemini request line -> struct request, and the status
 * decisions that need no I/O.  No sockets, no globals, no allocation.
 */
#ifndef CAPSULED_REQUEST_H
#define CAPSULED_REQUEST_H

#include <stddef.h>
#include <sys/types.h>

#include "url.h"

/* A request line is at most URL_MAX bytes of URL plus CRLF. */
#define REQUEST_MAX	(URL_MAX + 2)

struct titan_params;

struct request {
	char		line[URL_MAX + 1];	/* URL as sent, no CRLF */
	size_t		len;
	struct url	url;
	/* titan.h: a Titan upload's parameters; NULL for gemini */
	const struct titan_params *titan;
};

/*
 * Look for the end of the request line in the bytes received so far.
 * Returns the length of the line including its CRLF when a CRLF has
 * arrived; 0 when more bytes are needed (a lone LF does not end a
 * request); -1 when no valid request can come any more because
 * REQUEST_MAX bytes arrived without CRLF.  Bytes after the first CRLF
 * are never looked at.
 */
ssize_t	request_find_end(const char *buf, size_t len);

/*
 * Parse a complete request line (CRLF included, as delimited by
 * request_find_end).  Returns 0, or -1 with *status (59) and *why set.
 * Rejects an empty line, a leading U+FEFF, and everything url_parse()
 * rejects.
 */
int	request_parse(const char *line, size_t len, struct request *r,
	    int *status, const char **why);

/*
 * The proxy check (Gemini: 53 "proxy request refused").  sni is the
 * canonical SNI host name or NULL when the client sent none (it is put
 * in canonical form again here, so the raw name works too, and a name
 * that has no canonical form never matches); port is the
 * port the connection is for.  served(host, arg) says whether this server
 * serves a canonical host name.  Returns 0 when the request is for us,
 * or 53 with *why set: another scheme, a host we do not serve, a host
 * that differs from the SNI name, or another port.
 */
int	request_check_target(const struct url *u, const char *sni, int port,
	    int (*served)(const char *host, void *arg), void *arg,
	    const char **why);

/* meta's length cut to at most max bytes, never inside a UTF-8 sequence. */
size_t	request_meta_len(const char *meta, size_t max);

/*
 * The response header "NN meta\r\n" into out (room for URL_MAX + 5
 * bytes): meta cut to URL_MAX bytes on a UTF-8 boundary, control
 * characters in it made spaces.  status must be 10..69.  Its length.
 */
size_t	request_header(char *out, int status, const char *meta);

#endif
