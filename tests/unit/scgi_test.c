/*
 * scgi_test.c: the SCGI request header, as the SCGI protocol
 * specification has it: a netstring ("LEN:" content ","), of
 * NUL-terminated names and values, CONTENT_LENGTH first, then "SCGI"
 * "1"; no duplicate names, no empty name.
 */
#include <stdio.h>
#include <string.h>

#include "scgi.h"
#include "tap.h"

int
main(void)
{
	const char	*names[] = { "SCRIPT_NAME", "REMOTE_USER", "PATH_INFO" };
	const char	*values[] = { "/app", NULL, "" };
	const char	 want[] = "52:CONTENT_LENGTH\0" "0\0SCGI\0" "1\0"
	    "SCRIPT_NAME\0/app\0PATH_INFO\0\0,";
	char		 out[256];
	size_t		 len;

	len = scgi_request(out, sizeof(out), names, values, 3);
	ok(len == sizeof(want) - 1 && memcmp(out, want, len) == 0,
	    "the header is one netstring: its length, ':', CONTENT_LENGTH "
	    "first, SCGI 1, the variables, ','; a NULL value left out, an "
	    "empty one sent");
	ok(scgi_request(out, len, names, values, 3) == len,
	    "a header that just fits is made");
	ok(scgi_request(out, len - 1, names, values, 3) == 0 &&
	    scgi_request(out, 5, names, values, 3) == 0 &&
	    scgi_request(out, 0, names, values, 3) == 0,
	    "one that does not fit is refused, not cut");
	names[0] = "";
	ok(scgi_request(out, sizeof(out), names, values, 3) == 0,
	    "a variable with an empty name is refused");
	len = scgi_request(out, sizeof(out), names, values, 0);
	ok(len == 28 && memcmp(out, "24:", 3) == 0 && out[len - 1] == ',',
	    "no variables: CONTENT_LENGTH and SCGI alone");
	return tap_done();
}
