/*
 * limit.c: per-client connection caps and request token buckets.  See
 * limit.h.
 *
 * Open addressing with a bounded window: a key lives in one of the
 * WINDOW slots after its hash, and every lookup scans the whole window,
 * so freeing a slot never hides another key.
 *
 * The token bucket is kept as GCRA (the "virtual scheduling" form): one
 * time stamp per client, the theoretical arrival time of its next
 * request, in microseconds.  Integer, exact, and nothing to refill.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "limit.h"

#define WINDOW		16
#define SLOT_BITS	21	/* a handle: the slot, then the epoch */
#define EPOCH_MASK	0x3ff	/* 10 bits: a handle stays a positive int */

struct slot {
	struct limit_key	key;
	int			used;
	int			conns;		/* open connections */
	int64_t			tat;		/* us: next request's due time */
	int64_t			seen;		/* ms: last open or request */
};

struct limits {
	struct slot	*slots;
	size_t		 mask;
	uint64_t	 seed;
	unsigned	 epoch;		/* new at each limits_forget_conns */
};

static size_t
table_slots(size_t n)
{
	size_t	size = WINDOW;

	while (size < n && size < ((size_t)1 << SLOT_BITS))
		size <<= 1;
	return size;
}

size_t
limits_size(size_t n)
{
	return sizeof(struct limits) + table_slots(n) * sizeof(struct slot);
}

struct limits *
limits_init(void *mem, size_t n, uint64_t seed)
{
	struct limits	*l = mem;
	size_t		 size = table_slots(n);

	memset(mem, 0, limits_size(n));
	l->slots = (struct slot *)(l + 1);
	l->mask = size - 1;
	l->seed = seed;
	return l;
}

struct limits *
limits_new(size_t n, uint64_t seed)
{
	void	*mem;

	if ((mem = malloc(limits_size(n))) == NULL)
		return NULL;
	return limits_init(mem, n, seed);
}

void
limits_free(struct limits *l)
{
	free(l);
}

int
limit_key(const struct sockaddr *sa, socklen_t len, struct limit_key *k)
{
	const struct sockaddr_in	*sin = (const void *)sa;
	const struct sockaddr_in6	*sin6 = (const void *)sa;

	memset(k, 0, sizeof(*k));
	if (sa->sa_family == AF_INET && len >= sizeof(*sin)) {
		k->b[10] = k->b[11] = 0xff;
		memcpy(k->b + 12, &sin->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6 && len >= sizeof(*sin6)) {
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			memcpy(k->b, &sin6->sin6_addr, 16);
		else
			memcpy(k->b, &sin6->sin6_addr, 8);	/* the /64 */
		return 0;
	}
	return -1;
}

/* Keyed with a random seed: clients cannot aim collisions. */
static size_t
hash(const struct limits *l, const struct limit_key *k)
{
	uint64_t	h = l->seed, w;
	size_t		i;

	for (i = 0; i < sizeof(k->b); i += 8) {
		memcpy(&w, k->b + i, 8);
		h ^= w;
		h *= 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
	}
	h *= 0xbf58476d1ce4e5b9ULL;
	return (size_t)(h ^ (h >> 32));
}

/* Pick a slot for k: its own, a free one, or the stalest idle one. */
static int
find(struct limits *l, const struct limit_key *k)
{
	size_t		 base = hash(l, k), i, idx;
	struct slot	*s, *pick = NULL;

	for (i = 0; i < WINDOW; i++) {
		idx = (base + i) & l->mask;
		s = &l->slots[idx];
		if (s->used && memcmp(&s->key, k, sizeof(*k)) == 0)
			return (int)idx;
		if (s->used && s->conns > 0)
			continue;
		if (pick == NULL || (pick->used && (!s->used ||
		    s->seen < pick->seen)))
			pick = s;
	}
	if (pick == NULL)
		return LIMIT_UNTRACKED;
	memset(pick, 0, sizeof(*pick));	/* tat 0: a full bucket */
	pick->key = *k;
	pick->used = 1;
	return (int)(pick - l->slots);
}

/*
 * A connection's handle: its slot and the epoch it was counted in.  A
 * handle from before limits_forget_conns is stale: its count is gone,
 * and its slot may be another client's since, whom it must not touch.
 */
static struct slot *
slot_of(struct limits *l, int handle)
{
	size_t	idx;

	if (handle < 0)
		return NULL;
	idx = (size_t)handle & (((size_t)1 << SLOT_BITS) - 1);
	if (idx > l->mask || ((unsigned)handle >> SLOT_BITS) !=
	    (l->epoch & EPOCH_MASK))
		return NULL;
	return &l->slots[idx];
}

int
limits_open(struct limits *l, const struct limit_key *k, int max,
    int64_t now_ms)
{
	int		 idx;
	struct slot	*s;

	if ((idx = find(l, k)) < 0)
		return idx;
	s = &l->slots[idx];
	if (max > 0 && s->conns >= max)
		return LIMIT_REFUSED;
	s->conns++;
	s->seen = now_ms;
	return idx | (int)((l->epoch & EPOCH_MASK) << SLOT_BITS);
}

void
limits_close(struct limits *l, int handle)
{
	struct slot	*s;

	if ((s = slot_of(l, handle)) != NULL && s->conns > 0)
		s->conns--;
}

int
limits_request(struct limits *l, int handle, const struct limit_rate *r,
    int64_t now_ms)
{
	struct slot	*s;
	int64_t		 now = now_ms * 1000, t, tat, late;
	int		 burst;

	if ((s = slot_of(l, handle)) == NULL || r->rate <= 0 ||
	    r->period <= 0)
		return 0;
	s->seen = now_ms;
	burst = r->burst > 0 ? r->burst : r->rate;
	t = (int64_t)r->period * 1000000 / r->rate;	/* us per request */
	if (t < 1)
		t = 1;
	tat = s->tat > now ? s->tat : now;
	/* at most burst requests may be booked ahead of now */
	late = tat + t - now - (int64_t)burst * t;
	if (late <= 0) {
		s->tat = tat + t;
		return 0;
	}
	return (int)((late + 999999) / 1000000);
}

size_t
limits_used(const struct limits *l)
{
	size_t	i, n = 0;

	for (i = 0; i <= l->mask; i++)
		n += l->slots[i].used;
	return n;
}

void
limits_forget_conns(struct limits *l)
{
	size_t	i;

	for (i = 0; i <= l->mask; i++)
		l->slots[i].conns = 0;
	l->epoch++;
}
