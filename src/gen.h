/*
 * gen.h: a generation: one config and everything made from it before
 * any worker forks (TLS contexts, the sandbox's plan, roots, fingerprint
 * lists, listening sockets, the helpers' sockets), and its workers.  A
 * reload builds a whole new one and only then lets the old one go; if
 * anything in the new config is wrong, the old one keeps serving.
 */
#ifndef CAPSULED_GEN_H
#define CAPSULED_GEN_H

#include <sys/types.h>
#include <stddef.h>
#include <time.h>

#include "access.h"
#include "config.h"
#include "helper.h"
#include "sandbox.h"
#include "tlsctx.h"
#include "upconn.h"

#define GEN_MAX_WORKERS	256

struct generation {
	struct config	 cf;
	struct tls	 tls;
	struct upconn	 up;		/* upstreams: addresses, TLS */
	struct sandbox	 sb;
	int		 listenfds[CONFIG_MAX_LISTEN];
	int		*rootfds;
	struct helper	 runner;	/* CGI: the only process that execs */
	struct helper	 writer;	/* Titan: the only one that writes */
	struct access_files *af;	/* fingerprint lists (access.h) */
	int		 nworkers;
	pid_t		 pids[GEN_MAX_WORKERS];
	time_t		 started[GEN_MAX_WORKERS];
};

/* Read and check the config file; NULL with err ("file:line: why"). */
struct generation *gen_config(const char *path, char *err, size_t errlen);

/*
 * Everything but the sockets and the workers: certificates (made when
 * missing, unless check_only: then only said), TLS contexts, roots,
 * fingerprint lists, the sandbox's plan.  0, or -1 with err (g is then
 * still the caller's to gen_free).
 */
int	gen_prepare(struct generation *g, int check_only, char *err,
	    size_t errlen);

/*
 * Bind the listening sockets (reusing old's for identical addresses)
 * and open the access log; on failure nothing is left bound, and errno
 * says whether an address was in use.
 */
int	gen_bind(struct generation *g, const struct generation *old,
	    char *err, size_t errlen);

/* A new address on an old one's port and family, but not the same one. */
int	gen_overlaps(const struct generation *g, const struct generation *old);

/* 1 if the two listen entries are the same address. */
int	gen_same_addr(const struct listen_addr *, const struct listen_addr *);

/*
 * Close the parent's copies of g's descriptors (listening sockets, but
 * those keep shares: still used by keep; roots; list directories; the
 * helpers' sockets).  Done before another generation forks, it keeps
 * them out of the new processes.  gen_close_listeners: the sockets only.
 */
void	gen_close_fds(struct generation *g, const struct generation *keep);
void	gen_close_listeners(struct generation *g,
	    const struct generation *keep);

void	gen_free(struct generation *g, const struct generation *keep);

#endif
