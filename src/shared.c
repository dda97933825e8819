/*
 * shared.c: memory shared by the parent and every worker (shared.h).
 */
#include <sys/types.h>
#include <sys/mman.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "shared.h"

#define SHARED_SLOTS	1280	/* workers and draining workers, at most */

/*
 * Every worker's open connections, in memory shared by all of them (the
 * parent maps it before the first fork), so that a worker at its cap can
 * tell whether another still has room: if one has, it stops accepting
 * and leaves the connection to that worker; if none has (or the global
 * cap is reached) it accepts and closes at once rather than letting the
 * listen queue hold clients who will never be served.  Slots are given
 * out by the parent and zeroed when it reaps the worker.
 */
struct shared_slot {
	_Atomic pid_t	pid;	/* 0: free; -1: claimed, being forked */
	_Atomic int	conns;
	_Atomic int	room;	/* accepting and below its cap */
};

static struct shared_slot	*shared;
static int			 myslot = -1;

/* This worker's count, for the others to see. */
void
shared_publish(size_t conns, int room)
{
	if (shared == NULL || myslot < 0)
		return;
	atomic_store_explicit(&shared[myslot].conns, (int)conns,
	    memory_order_relaxed);
	atomic_store_explicit(&shared[myslot].room, room,
	    memory_order_relaxed);
}

/* Connections open in every worker; *room: another worker has room. */
static long
shared_total(int *room)
{
	long	total = 0;
	int	i;

	*room = 0;
	for (i = 0; shared != NULL && i < SHARED_SLOTS; i++) {
		if (atomic_load_explicit(&shared[i].pid,
		    memory_order_relaxed) == 0)
			continue;
		total += atomic_load_explicit(&shared[i].conns,
		    memory_order_relaxed);
		if (i != myslot && atomic_load_explicit(&shared[i].room,
		    memory_order_relaxed))
			*room = 1;
	}
	return total;
}

/* Room here; else room in another worker (wait); else close at once. */
enum shared_admit
shared_admission(size_t nconns, const struct config *cf)
{
	long	total;
	int	room;

	if (nconns < (size_t)cf->max_connections &&
	    cf->max_connections_total == 0)
		return SHARED_ADMIT;
	total = shared_total(&room);
	if (cf->max_connections_total > 0 &&
	    total >= cf->max_connections_total)
		return SHARED_CLOSE;
	if (nconns < (size_t)cf->max_connections)
		return SHARED_ADMIT;
	return room ? SHARED_PAUSE : SHARED_CLOSE;
}

int
shared_init(char *err, size_t errlen)
{
	void	*p;

	if (shared != NULL)
		return 0;
	p = mmap(NULL, SHARED_SLOTS * sizeof(*shared), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANON, -1, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "shared memory: %s", strerror(errno));
		return -1;
	}
	shared = p;	/* zero-filled: every slot free */
	return 0;
}

int
shared_slot_claim(void)
{
	int	i;

	for (i = 0; shared != NULL && i < SHARED_SLOTS; i++)
		if (atomic_load(&shared[i].pid) == 0) {
			/* room: a worker still starting will have some */
			atomic_store(&shared[i].conns, 0);
			atomic_store(&shared[i].room, 1);
			atomic_store(&shared[i].pid, -1);
			return i;
		}
	return -1;
}

void
shared_slot_bind(int slot, pid_t pid)
{
	if (shared == NULL || slot < 0 || slot >= SHARED_SLOTS)
		return;
	if (pid == 0) {
		atomic_store(&shared[slot].conns, 0);
		atomic_store(&shared[slot].room, 0);
	}
	atomic_store(&shared[slot].pid, pid);
}

void
shared_slot_release(pid_t pid)
{
	int	i;

	for (i = 0; shared != NULL && i < SHARED_SLOTS; i++)
		if (atomic_load(&shared[i].pid) == pid) {
			shared_slot_bind(i, 0);
			return;
		}
}

void
shared_slot_mine(int slot)
{
	myslot = slot;
}
