/*
 * cgi.h: the CGI hook.
 *
 * Workers never exec: route_cgi() builds the script's environment and
 * hands it, with the write end of a pipe for the script's stdout and one
 * end of a control socket, to the runner process (cgi_runner_main) over
 * a SOCK_SEQPACKET socket.  The runner forks and execs the script in a
 * process group of its own, and kills that group when the worker closes
 * the control socket (client gone, response done) or when cgi_timeout
 * passes.  The worker reads the pipe through its event loop: first the
 * header, which cgi_parse_header() checks before anything reaches the
 * client, then the body, streamed and capped.
 */
#ifndef CAPSULED_CGI_H
#define CAPSULED_CGI_H

#include <stddef.h>

#include "config.h"
#include "conn.h"
#include "request.h"

#define CGI_HEADER_MAX	(2 + 1 + URL_MAX + 2)	/* "NN meta\r\n" */
#define CGI_RETRY_SECS	5	/* the 44 answer when at cgi_max */

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

/* Worker side: the socket to the runner (-1: no runner). */
void	cgi_worker_init(int runner_sock);
/* Routing step: runs a script under the host's cgi directory. */
int	route_cgi(struct conn *, const struct request *);
/* A connection that ran a script is closing: one fewer running. */
void	cgi_finished(void);

/* The runner process: serve spawn requests on sock until every worker
 * has closed it and no script is left.  rootfds[i] is cf->hosts[i]'s
 * root: scripts are run relative to it.  Never returns. */
void	cgi_runner_main(const struct config *cf, const int *rootfds,
	    int sock) __attribute__((noreturn));

#endif
