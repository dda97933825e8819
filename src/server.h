/*
 * server.h: a worker: its event loop, accept, retire and stop.
 */
#ifndef CAPSULED_SERVER_H
#define CAPSULED_SERVER_H

#include <sys/types.h>
#include <signal.h>
#include <stddef.h>

#include "config.h"
#include "tlsctx.h"

/*
 * The parent's word to a worker.  SIG_RETIRE (a reload, a log rotation):
 * close the listening sockets at once, finish every response in flight,
 * each for as long as it makes progress (write_timeout), then exit.
 * SIGTERM (stop): the same, but what is still open after stop_timeout
 * is cut, and logged as cut.
 */
#define SIG_RETIRE	SIGUSR2

/*
 * A worker: serve on the listening sockets until SIG_RETIRE or SIGTERM
 * (above), then exit.  Never returns.
 */
void	server_worker(const struct config *cf, struct tls *tls,
	    const int *listenfds, const int *rootfds)
	    __attribute__((noreturn));

#endif
