/*
 * runner.h: the CGI runner process, and the message a worker sends it
 * (see cgi.h).
 * One SOCK_SEQPACKET datagram of NUL-terminated strings:
 *   HOST=<index>  SCRIPT=<path under the root>  TIMEOUT=<seconds>
 * then the script's environment, one KEY=value each; with it, by
 * SCM_RIGHTS, the write end of the stdout pipe and the control socket.
 */
#ifndef CAPSULED_RUNNER_H
#define CAPSULED_RUNNER_H

#define RUNNER_MSG_MAX	16384
#define RUNNER_ENV_MAX	64	/* variables a job may carry */

#include "config.h"

/* The runner process: serve spawn requests on sock until every worker
 * has closed it and no script is left.  rootfds[i] is cf->hosts[i]'s
 * root: scripts are run relative to it.  Never returns. */
void	cgi_runner_main(const struct config *cf, const int *rootfds,
	    int sock) __attribute__((noreturn));

#endif
