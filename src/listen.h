/*
 * listen.h: what the parent opens for its workers before it forks them:
 * the listening sockets, the hosts' root directories, and enough
 * descriptors for max_connections.
 */
#ifndef CAPSULED_LISTEN_H
#define CAPSULED_LISTEN_H

#include <stddef.h>

#include "config.h"
#include "sandbox.h"

#define LISTEN_BACKLOG	4096

/*
 * Bind every listen address of cf (non-blocking, IPv6 sockets v6-only).
 * fds[i] for cf->listen[i].  Sockets already bound for an identical
 * address in old/oldfds (a reload) are reused instead.  0 or -1.
 */
int	listen_bind(const struct config *cf, int *fds,
	    const struct config *old, const int *oldfds, char *err,
	    size_t errlen);

/*
 * Open every host's root directory; rootfds[i] for cf->hosts[i].  Hosts
 * with the same root share one descriptor: close them with
 * listen_roots_close (each once; all set to -1).  A config needing more
 * descriptors than the limit is refused, saying so.
 */
int	listen_roots(const struct config *cf, int *rootfds, char *err,
	    size_t errlen);
void	listen_roots_close(const struct config *cf, int *rootfds);

/*
 * Warn (naming file:line, path and user) about each root and cgi
 * directory the workers' user cannot read and search: requests for it
 * would fail.  For start, -n and every reload.
 */
void	listen_roots_check(const struct config *cf, const int *rootfds,
	    const struct sandbox *sb);

/* Raise RLIMIT_NOFILE for max_connections, or say why it cannot be. */
void	listen_fd_limit(const struct config *cf);

#endif
