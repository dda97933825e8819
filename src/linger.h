/*
 * linger.h: the lingering close, on the raw socket once the response
 * (and close_notify) has gone.  No TLS, no event loop: the caller waits
 * for input and passes the time.
 */
#ifndef CAPSULED_LINGER_H
#define CAPSULED_LINGER_H

#include <stddef.h>

#define LINGER_MSEC	2000		/* draining, in all */
#define LINGER_MAX	(4 << 20)	/* bytes drained, in all */
#define LINGER_TURN	(256 << 10)	/* bytes per wake-up */

struct linger_state {
	long	end;		/* the caller's ms clock */
	size_t	drained;
};

/*
 * now: the caller's clock in ms.  1 when input is waiting, or expected
 * (more != 0: the client was cut off in the middle of what it sends):
 * the socket is half-closed (our FIN goes after the response) and the
 * caller lingers; 0 when there is nothing to drain: close now.
 */
int	linger_start(int fd, struct linger_state *, int more, long now);

/*
 * Read and drop what has come.  0: wait until the socket is readable
 * (at most until l->end); 1: close now (the client closed, the time or
 * the byte budget is spent, or an error).
 */
int	linger_drain(int fd, struct linger_state *, long now);

#endif
