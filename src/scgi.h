/*
 * scgi.h: an SCGI request's header (the SCGI protocol specification):
 * one netstring of NUL-terminated names and values, CONTENT_LENGTH
 * first, then "SCGI" "1", then the request's variables.  capsuled sends
 * no body, so CONTENT_LENGTH is "0" and the header is the request.
 * No I/O, no globals, no allocation.
 */
#ifndef CAPSULED_SCGI_H
#define CAPSULED_SCGI_H

#include <stddef.h>

/*
 * The header with the n name-value pairs (a NULL value leaves its pair
 * out; a name may not be empty) into out.  Returns its length, or 0
 * when it does not fit in cap bytes.
 */
size_t	scgi_request(char *out, size_t cap, const char *const *names,
	    const char *const *values, size_t n);

#endif
