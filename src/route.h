/*
 * route.h: the routing table.  A request line and the facts of its
 * connection in, a response plan out (plan.h); nothing is sent here.
 */
#ifndef CAPSULED_ROUTE_H
#define CAPSULED_ROUTE_H

#include <stddef.h>

#include "plan.h"

/*
 * Plan the response to a complete request line (len bytes, CRLF
 * included, as request_find_end delimits it): 59 for a line that does
 * not parse, 53 for a target that is not ours, else what the first step
 * that answers plans, and 51 when none does.  p->host is the host
 * chosen (NULL before the target check).
 */
void	route_request(const struct facts *, const char *line, size_t len,
	    struct plan *p);

#endif
