/*
 * titan.h: the Titan upload request line (the Gemini upload companion
 * protocol, gemini://transjovian.org/titan/page/The%20Titan%20Specification)
 * and the decisions about it that need no I/O.  Pure: no I/O, no
 * globals, no allocation.
 *
 *	titan://HOST[:PORT]/PATH;size=N[;mime=TYPE][;token=T]\r\n
 *	<exactly N bytes>
 *
 * The parameters follow the path, any order, each at most once; the
 * first ';' of the path starts them (a path that holds a ';' must
 * encode it as %3B).  What precedes them is a URL like any gemini URL:
 * request_parse() checks it, with the same 59 answers.
 */
#ifndef CAPSULED_TITAN_H
#define CAPSULED_TITAN_H

#include <stddef.h>

#include "request.h"

#define TITAN_MIME_MAX		127
#define TITAN_TOKEN_MAX		255
#define TITAN_SIZE_LIMIT	(1LL << 50)	/* sizes past this: 59 */
#define TITAN_DEFAULT_MIME	"text/gemini"

struct titan_params {
	long long	size;			/* bytes of body; 0: delete */
	char		mime[TITAN_MIME_MAX + 1];	/* lower-cased */
	char		token[TITAN_TOKEN_MAX + 1];	/* decoded; "" if none */
	int		has_token;
};

/* 1 if the request line (len bytes) has the titan scheme. */
int	titan_is(const char *line, size_t len);

/*
 * A Titan request line as the access log may show it: every ";token="
 * parameter (the key in any case) left out, whether or not the line
 * parses.  out needs len + 1 bytes; returns the length written.
 */
size_t	titan_redact(const char *line, size_t len, char *out);

/*
 * Parse a complete Titan request line (CRLF included, as delimited by
 * request_find_end).  On success 0: r as request_parse() gives it for
 * the URL without its parameters (r->url.scheme is "titan"), and *tp.
 * Else -1 with *status (59) and *why: everything request_parse rejects,
 * no path or no parameters, a query, a parameter that is unknown,
 * repeated, empty or badly encoded, no size, a size that is not a plain
 * decimal number or is past TITAN_SIZE_LIMIT, a mime that is not
 * type/subtype.
 */
int	titan_parse(const char *line, size_t len, struct request *r,
	    struct titan_params *tp, int *status, const char **why);

/* The request line, whichever scheme: titan_parse for titan, else
 * request_parse (tp unused).  As those. */
int	titan_request_parse(const char *line, size_t len, struct request *r,
	    struct titan_params *tp, int *status, const char **why);

/*
 * May path (a parsed URL path) be written under prefix (a `titan`
 * PATH: starts and ends with '/')?  0, or -1 with *why: not under
 * prefix, a directory (ends in '/'), a segment that starts with '.'
 * (dotfiles stay the admin's), a name over 255 bytes.
 */
int	titan_path_ok(const char *path, const char *prefix, const char **why);

/* 1 if mime is one of the space-separated types in list. */
int	titan_mime_ok(const char *list, const char *mime);

#endif
