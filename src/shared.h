/*
 * shared.h: memory shared by the parent and every worker.
 *
 * Each worker's count of open connections, so that a worker at its cap
 * can tell whether another still has room, and the total can be capped;
 * and the per-client limits, one table for all workers.
 * Parent: shared_init once before the first fork; claim a slot before
 * forking a worker, bind it to the pid after (pid 0 frees it), release
 * by pid when the worker is reaped.  The new worker: shared_slot_mine.
 */
#ifndef CAPSULED_SHARED_H
#define CAPSULED_SHARED_H

#include <sys/types.h>
#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "limit.h"

#define SHARED_SLOTS	1280	/* workers and draining workers, at most */

int	shared_init(size_t clients, char *err, size_t errlen);
int	shared_slot_claim(void);
void	shared_slot_bind(int slot, pid_t pid);
/* The slot pid had (-1: none), now free. */
int	shared_slot_release(pid_t pid);
void	shared_slot_mine(int slot);
/* The parent, for metrics: is the slot a worker's (or being forked)? */
int	shared_slot_used(int slot);
/* Connections open in every worker; *workers: how many are alive. */
long	shared_census(int *workers);

/* Slots free for workers to come (a reload needs one per worker). */
size_t	shared_slots_free(void);

/*
 * stop_timeout as the current config has it, for every worker: a reload
 * that changes it reaches the old generations still finishing their
 * responses.  The parent sets it; a worker reads it (fallback: its own
 * config's, when unset).
 */
void	shared_set_stop_timeout(int seconds);
int	shared_stop_timeout(int fallback);

/* A worker: its count, and whether it accepts and is below its cap. */
void	shared_publish(size_t conns, int room);

enum shared_admit {
	SHARED_ADMIT,	/* room here */
	SHARED_PAUSE,	/* full here, room in another worker: wait */
	SHARED_CLOSE,	/* every worker full, or the total reached */
};

/* What to do with a new connection, this worker having nconns open. */
enum shared_admit shared_admission(size_t nconns, const struct config *cf);

/*
 * The per-client limits (limit.h) of every worker, in one table: a
 * client's slot (or LIMIT_UNTRACKED, LIMIT_REFUSED over max), then for
 * each request 0 or the seconds to wait, and its close.
 */
int	shared_limits_open(const struct sockaddr *sa, socklen_t len, int max,
	    int64_t now_ms);
int	shared_limits_request(int slot, const struct limit_rate *r,
	    int64_t now_ms);
void	shared_limits_close(int slot);

#endif
