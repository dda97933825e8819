/*
 * cgijob.h: a CGI script's output as the engine reads it, a stream
 * (plan.h).  The job holds the script's stdout pipe, the control socket
 * to the runner (closing it kills the script), the header as it comes,
 * the output cap and the deadline, and what the runner says of the
 * script's end: "exit <wait status>" once its own process has exited,
 * or "fail <errno> <what>" when it could not be started; end of file
 * when the runner has given it up.
 *
 * Times are the connection's: milliseconds since it was accepted.
 */
#ifndef CAPSULED_CGIJOB_H
#define CAPSULED_CGIJOB_H

#include <sys/types.h>
#include <stddef.h>

#include "plan.h"
#include "url.h"

#define CGI_HEADER_MAX	(2 + 1 + URL_MAX + 2)	/* "NN meta\r\n" */

/*
 * Check a script's header line.  buf holds len bytes read so far.
 * Returns the header's length (CRLF included) and sets *status and
 * meta (NUL-terminated, at most URL_MAX bytes) when it is complete and
 * valid; 0 when more bytes are needed; -1 with *why when it is bad:
 * not two digits 10..69, no space or CRLF after them, meta over 1024
 * bytes, control bytes or invalid UTF-8 in meta, a lone LF.
 */
int	cgi_parse_header(const char *buf, size_t len, int *status,
	    char meta[URL_MAX + 1], const char **why);

/*
 * The body bytes that came in the reads that brought the header:
 * hdr[*off, len) into buf, at most room, *off moved on; how many, 0
 * once all are taken.  CGI's and the upstreams' streams hand them on
 * before they read again.
 */
size_t	cgi_header_rest(const char *hdr, size_t len, size_t *off, char *buf,
	    size_t room);

struct cgi_job;

/*
 * Take outfd (non-blocking) and ctlfd; NULL when out of memory (both
 * are closed then).  addr names the client in log lines (as the logs
 * give it: logfmt_addr); deadline is when the runner kills the script
 * (the connection's clock).
 */
struct cgi_job	*cgi_job_new(int outfd, int ctlfd, const char *script,
		    const char *addr, long deadline, long long max_output);

/*
 * The job as a stream: header (a bad one, the script's end before it
 * or its deadline answer 42 and are logged), capped body, finish (the
 * runner kills what is left of the script).
 */
extern const struct stream_ops	cgi_stream;

/* Jobs this worker has open (cgi_max). */
int		 cgi_job_count(void);

#endif
