/*
 * cgi.h: the CGI hook.
 *
 * Workers never exec: route_cgi() builds the script's environment and
 * hands it, with the write end of a pipe for the script's stdout and one
 * end of a control socket, to the runner process (runner.h) over a
 * SOCK_SEQPACKET socket.  The runner forks and execs the script in a
 * process group of its own, and kills that group when the worker closes
 * the control socket (client gone, response done) or when cgi_timeout
 * passes.  The script's output is the plan's stream (cgijob.h): the
 * engine reads the header, which is checked before anything reaches the
 * client, then the body, streamed and capped.
 */
#ifndef CAPSULED_CGI_H
#define CAPSULED_CGI_H

#include "plan.h"
#include "request.h"

#define CGI_RETRY_SECS	5	/* the 44 answer when at cgi_max */

/* Worker side: the socket to the runner (-1: no runner). */
void	cgi_worker_init(int runner_sock);

/* Routing step: runs a script under the host's cgi directory. */
int	route_cgi(const struct facts *, const struct request *,
	    struct plan *);

#endif
