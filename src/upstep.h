/*
 * upstep.h: the routing step for a host's upstreams (upstream.h): a
 * request under a fastcgi, scgi or proxy PATH is sent there, and the
 * upstream's response is the plan's stream (upjob.h).  The upstream
 * is the config's, never the client's: capsuled is no open proxy.
 */
#ifndef CAPSULED_UPSTEP_H
#define CAPSULED_UPSTEP_H

#include "plan.h"
#include "request.h"

/* Routing step: 31 to PATH's directory, or a stream (43 for trouble). */
int	route_upstream(const struct facts *, const struct request *,
	    struct plan *);

#endif
