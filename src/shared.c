/*
 * shared.c: memory shared by the parent and every worker (shared.h).
 */
#include <sys/types.h>
#include <sys/mman.h>

#include <sys/socket.h>

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "limit.h"
#include "shared.h"

#define LIMIT_SLOTS_MIN	4096	/* per-client table: at least, */
#define LIMIT_SLOTS_MAX	(1 << 20)	/* at most (40 bytes each) */
#define LOCK_SPINS	64	/* tries before yielding the CPU */

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

/*
 * The per-client table (limit.c) for every worker, so that a client's
 * connections and requests count once whichever worker takes them.  One
 * lock, held for a table lookup (tens of nanoseconds; no system call
 * inside): a spin lock that holds its owner's pid, so the parent can free
 * it should a worker die holding it.  A worker that dies with connections
 * open leaves counts nobody can take back: the parent sets every count to
 * zero (a client may then have more than max_per_client open until its
 * connections close); buckets stay.
 */
struct shared_limits {
	_Atomic pid_t	lock;	/* 0: free; else the holder */
	char		pad[64 - sizeof(pid_t)];	/* its own cache line */
};

static struct shared_limits	*slim;

/* What the parent says to every worker, old generations' too. */
struct shared_ctl {
	_Atomic int	stop_timeout;	/* the current config's; -1: unset */
};

static struct shared_ctl	*ctl;
static struct limits		*ltab;
static pid_t			 mypid;

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

static void *
shared_map(size_t size, char *err, size_t errlen)
{
	void	*p;

	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANON,
	    -1, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "shared memory (%zu bytes): %s", size,
		    strerror(errno));
		return NULL;
	}
	return p;	/* zero-filled */
}

static uint64_t
shared_seed(void)
{
	uint64_t	v = 0;

	if (getentropy(&v, sizeof(v)) == -1)
		v = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL ^
		    (uint64_t)time(NULL);
	return v;
}

/*
 * clients: how many connections the workers may hold in all; the table
 * gets four slots for each (a flood of strangers reuses idle slots), so
 * it is sized once, from the config at start: a reload keeps it, with
 * every count and bucket.
 */
int
shared_init(size_t clients, char *err, size_t errlen)
{
	size_t	n;
	void	*p;

	if (shared != NULL)
		return 0;
	if ((p = shared_map(SHARED_SLOTS * sizeof(*shared), err,
	    errlen)) == NULL)
		return -1;
	shared = p;	/* every slot free */
	n = clients > LIMIT_SLOTS_MAX / 4 ? LIMIT_SLOTS_MAX : clients * 4;
	if (n < LIMIT_SLOTS_MIN)
		n = LIMIT_SLOTS_MIN;
	if ((p = shared_map(sizeof(*slim) + limits_size(n), err,
	    errlen)) == NULL)
		return -1;
	slim = p;
	ltab = limits_init(slim + 1, n, shared_seed());
	if ((p = shared_map(sizeof(*ctl), err, errlen)) == NULL)
		return -1;
	ctl = p;
	atomic_store(&ctl->stop_timeout, -1);
	mypid = getpid();
	return 0;
}

static void
lim_lock(void)
{
	pid_t	expect;
	int	spins = 0;

	for (;;) {
		expect = 0;
		if (atomic_compare_exchange_weak_explicit(&slim->lock, &expect,
		    mypid, memory_order_acquire, memory_order_relaxed))
			return;
		if (++spins % LOCK_SPINS == 0)
			sched_yield();	/* the holder may be off the CPU */
	}
}

static void
lim_unlock(void)
{
	atomic_store_explicit(&slim->lock, 0, memory_order_release);
}

int
shared_limits_open(const struct sockaddr *sa, socklen_t len, int max,
    int64_t now_ms)
{
	struct limit_key	key;
	int			slot;

	if (ltab == NULL || limit_key(sa, len, &key) == -1)
		return LIMIT_UNTRACKED;
	lim_lock();
	slot = limits_open(ltab, &key, max, now_ms);
	lim_unlock();
	return slot;
}

void
shared_limits_close(int slot)
{
	if (ltab == NULL || slot < 0)
		return;
	lim_lock();
	limits_close(ltab, slot);
	lim_unlock();
}

int
shared_limits_request(int slot, const struct limit_rate *r, int64_t now_ms)
{
	int	wait;

	if (ltab == NULL || slot < 0 || r->rate <= 0 || r->period <= 0)
		return 0;
	lim_lock();
	wait = limits_request(ltab, slot, r, now_ms);
	lim_unlock();
	return wait;
}

/*
 * The parent, a worker gone: free the lock if it died holding it, and
 * forget every count if it died with connections open.
 */
static void
lim_reaped(pid_t pid, int conns)
{
	pid_t	expect = pid;

	if (slim == NULL)
		return;
	atomic_compare_exchange_strong(&slim->lock, &expect, 0);
	if (conns == 0)
		return;
	lim_lock();
	limits_forget_conns(ltab);
	lim_unlock();
}

void
shared_set_stop_timeout(int seconds)
{
	if (ctl != NULL)
		atomic_store(&ctl->stop_timeout, seconds);
}

int
shared_stop_timeout(int fallback)
{
	int	v = ctl != NULL ? atomic_load(&ctl->stop_timeout) : -1;

	return v >= 0 ? v : fallback;
}

size_t
shared_slots_free(void)
{
	size_t	n = 0;
	int	i;

	for (i = 0; shared != NULL && i < SHARED_SLOTS; i++)
		n += atomic_load(&shared[i].pid) == 0;
	return n;
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

int
shared_slot_release(pid_t pid)
{
	int	i;

	for (i = 0; shared != NULL && i < SHARED_SLOTS; i++)
		if (atomic_load(&shared[i].pid) == pid) {
			lim_reaped(pid, atomic_load(&shared[i].conns));
			shared_slot_bind(i, 0);
			return i;
		}
	return -1;
}

int
shared_slot_used(int slot)
{
	return shared != NULL && slot >= 0 && slot < SHARED_SLOTS &&
	    atomic_load_explicit(&shared[slot].pid, memory_order_relaxed) != 0;
}

long
shared_census(int *workers)
{
	long	open = 0;
	int	i;

	*workers = 0;
	for (i = 0; shared != NULL && i < SHARED_SLOTS; i++)
		if (atomic_load_explicit(&shared[i].pid,
		    memory_order_relaxed) > 0) {
			(*workers)++;
			open += atomic_load_explicit(&shared[i].conns,
			    memory_order_relaxed);
		}
	return open;
}

void
shared_slot_mine(int slot)
{
	myslot = slot;
	mypid = getpid();
}
