/*
 * limit.h: per-client limits, one table for all workers (shared.c puts
 * it in shared memory and locks it).  Pure: no I/O, no globals; time
 * and the hash seed are passed in.
 *
 * A client is an IPv4 address or an IPv6 /64 (one subscriber's
 * allocation: counting single IPv6 addresses would limit nothing).  Each
 * has a count of open connections (capped) and a token bucket for
 * requests.  The table has a fixed number of slots: a flood of new
 * addresses reuses the slots of clients with no open connection, oldest
 * first, so memory never grows.  The price: under such a flood an idle
 * client's bucket may be forgotten and start full again.
 */
#ifndef CAPSULED_LIMIT_H
#define CAPSULED_LIMIT_H

#include <sys/types.h>
#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

struct limit_key {
	unsigned char	b[16];	/* IPv4-mapped IPv6, or an IPv6 /64 */
};

struct limit_rate {
	int	rate;		/* requests per period; 0: no rate limit */
	int	period;		/* seconds */
	int	burst;		/* bucket size */
};

struct limits;

/* A table of at least slots entries (rounded up to a power of two, at
 * most 2^21). */
struct limits	*limits_new(size_t slots, uint64_t seed);
void		 limits_free(struct limits *);

/*
 * The same table in memory the caller gives (shared by processes, say):
 * limits_size bytes for slots, suitably aligned for int64_t; never
 * freed by limits_free.  The table holds no pointer out of that memory
 * but its own (valid in every process that maps it at the same address).
 */
size_t		 limits_size(size_t slots);
struct limits	*limits_init(void *mem, size_t slots, uint64_t seed);

/* The client a socket address stands for; 0, or -1 if not IP. */
int	limit_key(const struct sockaddr *sa, socklen_t len,
	    struct limit_key *k);

#define LIMIT_UNTRACKED	(-1)	/* no slot: admitted, not counted */
#define LIMIT_REFUSED	(-2)	/* over max_per_client */

/*
 * A new connection from k at now_ms (a monotonic clock).  Returns the
 * connection's handle, >= 0 (its client's slot, and the epoch it was
 * counted in: pass it to the calls below), LIMIT_REFUSED when the
 * client already has max connections open (max 0: no cap), or
 * LIMIT_UNTRACKED when every slot it may use holds a connected client
 * (admitted: the alternative would refuse a stranger for others' sake).
 */
int	limits_open(struct limits *, const struct limit_key *k, int max,
	    int64_t now_ms);
/* The connection with that handle (>= 0) closed. */
void	limits_close(struct limits *, int slot);

/*
 * A request on the connection with that handle: 0 if allowed (it
 * spends a token), else the whole seconds until one is there (for
 * "44 <s>").  An untracked connection (handle < 0) is always allowed,
 * and so is one counted before limits_forget_conns.
 */
int	limits_request(struct limits *, int slot, const struct limit_rate *,
	    int64_t now_ms);

/*
 * Every client's count of open connections to zero: the counts of a
 * process that died holding connections cannot be told apart.  Slots
 * and buckets stay.  The connections still open become untracked: their
 * handles no longer count (their slots may be given to other clients,
 * who must not be charged for them).
 */
void	limits_forget_conns(struct limits *);

/* For tests: the slots in use (holding some state). */
size_t	limits_used(const struct limits *);

#endif
