/*
 * server.h: the worker's event loop.
 */
#ifndef CAPSULED_SERVER_H
#define CAPSULED_SERVER_H

#include <sys/types.h>
#include <stddef.h>

#include "config.h"
#include "tls.h"

/*
 * A worker: serve on the listening sockets until SIGTERM, then finish
 * in-flight responses (at most a few seconds) and exit.  cgi_sock is
 * the socket to the CGI runner, or -1.  Never returns.
 */
void	server_worker(const struct config *cf, struct tls *tls,
	    const int *listenfds, const int *rootfds, int cgi_sock)
	    __attribute__((noreturn));

#endif
