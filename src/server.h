/*
 * server.h: listening sockets and the worker's event loop.
 */
#ifndef CAPSULED_SERVER_H
#define CAPSULED_SERVER_H

#include <sys/types.h>
#include <signal.h>
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
 * The parent's word to a worker.  SIG_RETIRE (a reload, a log rotation):
 * close the listening sockets at once, finish every response in flight,
 * each for as long as it makes progress (write_timeout), then exit.
 * SIGTERM (stop): the same, but what is still open after stop_timeout
 * is cut, and logged as cut.
 */
#define SIG_RETIRE	SIGUSR2

/*
 * A worker: serve on the listening sockets until SIG_RETIRE or SIGTERM
 * (above), then exit.  cgi_sock is the socket to the CGI runner, or -1.
 * Never returns.
 */
void	server_worker(const struct config *cf, struct tls *tls,
	    const int *listenfds, const int *rootfds, int cgi_sock)
	    __attribute__((noreturn));

/*
 * Per-worker connection counts shared by all workers (see server.c).
 * Parent: init once before the first fork; claim a slot before forking a
 * worker, bind it to the pid after (pid 0 frees it), release by pid when
 * the worker is reaped.  The new worker: server_slot_mine(slot).
 */
int	server_shared_init(char *err, size_t errlen);
int	server_slot_claim(void);
void	server_slot_bind(int slot, pid_t pid);
void	server_slot_release(pid_t pid);
void	server_slot_mine(int slot);

/* Raise RLIMIT_NOFILE for max_connections, or say why it cannot be. */
void	server_fd_limit(const struct config *cf);

#endif
