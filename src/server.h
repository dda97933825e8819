/*
 * server.h: listening sockets and the worker's event loop.
 */
#ifndef CAPSULED_SERVER_H
#define CAPSULED_SERVER_H

#include <stddef.h>

#include "config.h"
#include "tls.h"

#define LISTEN_BACKLOG	4096

/*
 * Bind every listen address of cf (non-blocking, IPv6 sockets v6-only).
 * fds[i] for cf->listen[i].  Sockets already bound for an identical
 * address in old/oldfds (a reload) are reused instead.  0 or -1.
 */
int	server_bind(const struct config *cf, int *fds,
	    const struct config *old, const int *oldfds, char *err,
	    size_t errlen);

/* Open every host's root directory; rootfds[i] for cf->hosts[i]. */
int	server_open_roots(const struct config *cf, int *rootfds, char *err,
	    size_t errlen);

/*
 * A worker: serve on the listening sockets until SIGTERM, then finish
 * in-flight responses (at most a few seconds) and exit.  cgi_sock is
 * the socket to the CGI runner, or -1.  Never returns.
 */
void	server_worker(const struct config *cf, struct tls *tls,
	    const int *listenfds, const int *rootfds, int cgi_sock)
	    __attribute__((noreturn));

#endif
