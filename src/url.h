/*
 * url.h: RFC 3986 parsing of a Gemini request URL.  No I/O, no globals,
 * no allocation: everything lands in the caller's struct url.
 */
#ifndef CAPSULED_URL_H
#define CAPSULED_URL_H

#include <stddef.h>
#include <stdint.h>

#define URL_MAX		1024	/* Gemini: a request URL is at most 1024 bytes */
#define URL_HOST_MAX	255

struct url {
	char	scheme[32];		/* lower-cased, e.g. "gemini" */
	char	host[URL_HOST_MAX + 1];	/* canonical: see url_host_canonical() */
	int	port;			/* 1965 when absent or empty */
	int	port_given;		/* 1 if the URL carried ":port" */
	char	path[URL_MAX + 1];	/* percent-decoded, dot segments removed,
					   empty segments merged ("//" -> "/"),
					   always starts with '/' ("" -> "/") */
	char	query[URL_MAX + 1];	/* raw, still percent-encoded, no '?' */
	int	has_query;		/* 1 if a '?' was present (even empty) */
};

/*
 * Parse an absolute URL of len bytes (no CRLF).  Returns 0 on success.
 * On failure returns -1 and sets *status to the Gemini status to answer
 * (59 for anything malformed) and *why to a static, human-readable reason.
 * Rejected: relative or scheme-less URLs, userinfo, fragments, empty or
 * over-long input, bytes that are not UTF-8, NUL or other control bytes,
 * spaces, bad percent escapes, a percent-decoded '/' or NUL inside a
 * path segment, and dot segments that climb above the root.
 * The scheme is not checked here: "https://x/" parses; routing answers 53.
 */
int	url_parse(const char *s, size_t len, struct url *u, int *status,
	    const char **why);

/*
 * Canonical host form used everywhere hosts are compared: ASCII
 * lower-cased, IPv6 literal without brackets, non-ASCII labels converted
 * to their IDNA A-label ("xn--...", RFC 3492 punycode).  in is
 * NUL-terminated UTF-8.  Returns 0, or -1 if the host is not valid UTF-8,
 * has an empty label, or does not fit in outlen bytes.
 * Also: a trailing dot (DNS root) is dropped; IPv6 addresses (with or
 * without brackets) come out in RFC 5952 form; -1 for a character no
 * host name has (RFC 3986 reg-name: unreserved, sub-delims, non-ASCII
 * but not C1 controls; so no '%', space, '/') and for a ':' in
 * something that is not an IPv6 address.
 */
int	url_host_canonical(const char *in, char *out, size_t outlen);

/*
 * Percent-encode a path for use in a gemtext link or a redirect: keeps
 * RFC 3986 unreserved characters, '/', the sub-delims and '@'; encodes
 * everything else, including ':' (a relative link's first segment
 * would read as a scheme) and bytes >= 0x80.
 * Returns the length written, or -1 if out is too small.
 */
int	url_encode_path(const char *in, char *out, size_t outlen);

/* 1 if s is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int	url_utf8_valid(const char *s, size_t len);

/*
 * Decode the UTF-8 sequence at s (at most len bytes): its length with
 * *cp set, or 0 if it is not well-formed (the rules of url_utf8_valid).
 */
size_t	url_utf8_decode(const char *s, size_t len, uint32_t *cp);

/* The value of hex digit c (either case), or -1. */
int	url_hexval(int c);

#endif
