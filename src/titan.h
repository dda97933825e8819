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
 * request_parse() checks it, with the same 59 answers.  TYPE is a media
 * type and may have parameters of its own, as clients send them:
 * Lagrange's File tab "mime=text/gemini; charset=utf-8" (the blank
 * too), or percent-encoded ("text/gemini%3B%20charset%3Dutf-8").
 */
#ifndef CAPSULED_TITAN_H
#define CAPSULED_TITAN_H

#include <stddef.h>

#include "request.h"

#define TITAN_MIME_MAX		127
#define TITAN_CHARSET_MAX	63
#define TITAN_TOKEN_MAX		255
#define TITAN_SIZE_LIMIT	(1LL << 50)	/* sizes past this: 59 */
#define TITAN_DEFAULT_MIME	"text/gemini"

struct titan_params {
	long long	size;			/* bytes of body; 0: delete */
	char		mime[TITAN_MIME_MAX + 1];	/* type/subtype, lower-cased */
	char		charset[TITAN_CHARSET_MAX + 1];	/* lower-cased; "" if none */
	char		token[TITAN_TOKEN_MAX + 1];	/* decoded; "" if none */
	int		has_token;
	char		why[96];	/* a refusal that names a parameter */
	/* the line as sent, its token left out: as the access log shows it */
	char		sent[URL_MAX + 1];
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
 * no path or no parameters, a query, a parameter that is unknown (named
 * when it is a plain word), repeated, empty or badly encoded, no size, a
 * size that is not a plain decimal number or is past TITAN_SIZE_LIMIT, a
 * mime that is not type/subtype with attribute=value parameters.  A
 * parameter after mime that is not size or token is one of the media
 * type's own.  *why may point into *tp.
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
 * (dotfiles stay the admin's), a control character (C0, DEL, C1) or
 * bytes that are not UTF-8 (names admin tools and shells meet), a name
 * over 255 bytes.
 */
int	titan_path_ok(const char *path, const char *prefix, const char **why);

/* 1 if mime is one of the space-separated types in list. */
int	titan_mime_ok(const char *list, const char *mime);

/*
 * 1 if the declared charset is one a text upload may have: none, or
 * utf-8 or us-ascii (what every Gemini client reads text as); always 1
 * for a type that is not text (type "text").
 */
int	titan_charset_ok(const struct titan_params *tp);

/*
 * Does an upload declared as type declared (type/subtype) fit the name
 * it goes to, served (the type the file route gives that name, from its
 * extension: mime_by_name) or NULL (an extension it does not know, so
 * the content would decide)?  1 when served's type/subtype is declared;
 * and text/plain fits text/gemini (Lagrange's Text tab always says
 * text/plain).  Else 0: the name, not the declaration, decides how the
 * file is served.
 */
int	titan_type_fits(const char *declared, const char *served);

/*
 * A post's name for the directory dir ("/news/", URL path) from an
 * upload's name: "/news/TODAY-SLUG.gmi", the slug the name's own words
 * (lower-case letters, digits, '-'; "slug" when none).  today is
 * "YYYY-MM-DD".  0, or -1 when out (outlen bytes) is too small.
 */
int	titan_post_example(const char *dir, const char *name, const char *today,
	    char *out, size_t outlen);

/*
 * How long an upload of size bytes may take from its request line to
 * its last byte, in ms: request_timeout (s), then size at min_rate
 * (bytes a second; > 0).  A client slower than that is cut off, so one
 * that trickles cannot hold a writer's slot for days.
 */
long long titan_deadline_ms(long long size, int request_timeout,
	    long min_rate);

/* Who an upload is from, as the writer's caps count them. */
struct titan_client {
	unsigned char	cert[32];	/* its certificate's SHA-256 */
	unsigned char	addr[16];	/* its address as limit.c keys it */
};

struct titan_caps {
	size_t	jobs;		/* uploads at once, in all */
	size_t	reserve;	/* of those, kept for clients with none */
	int	per_cert;	/* uploads at once per certificate; 0: any */
	int	per_addr;	/* per address (an IPv6 /64); 0: any */
};

/*
 * May who start an upload beside the n running ones?  NULL, or why not
 * (for the log; the client is answered 44): every slot taken; the last
 * caps->reserve slots only for a client whose certificate and address
 * have no upload running; its certificate or its address at its cap.
 */
const char *titan_admit(const struct titan_client *running, size_t n,
	    const struct titan_client *who, const struct titan_caps *caps);

#endif
