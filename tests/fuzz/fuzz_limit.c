/*
 * fuzz_limit.c: libFuzzer target for the per-client limits table.
 *
 * The input is a program: each 4-byte step opens a connection for one
 * of 512 clients, closes one, makes a request, moves the clock, or
 * forgets every count (a worker died holding connections).  It checks
 * what a worker relies on: a client keeps its slot while it has a
 * connection open, the cap is never exceeded (connections from before
 * a reset count no more, and their closes and requests touch nobody's
 * count), the table never holds more than its size, and a refusal's
 * wait is between 1 s and the period.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "limit.h"

#define CLIENTS	512
#define SLOTS	64
#define OPEN	256

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct open_conn {
	int	client;
	int	slot;
	int	stale;		/* opened before limits_forget_conns */
};

static struct limit_key
key_of(int client)
{
	struct sockaddr_in	sin;
	struct limit_key	k;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(0x0a000000 | (uint32_t)client);
	if (limit_key((struct sockaddr *)&sin, sizeof(sin), &k) == -1)
		abort();
	return k;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct limits		*l;
	struct limit_key	 k;
	struct limit_rate	 r;
	struct open_conn	 conns[OPEN];
	int			 held[CLIENTS], slot_of[CLIENTS], n = 0, s, c, i;
	int			 max;
	int64_t			 now = 0;
	size_t			 p;

	if (size < 4 || (l = limits_new(SLOTS, data[0])) == NULL)
		return 0;
	memset(held, 0, sizeof(held));
	max = data[1] % 8;		/* 0: no cap */
	r.rate = data[2] % 16;		/* 0: no limit */
	r.period = 1 + data[3] % 120;
	r.burst = data[3] % 5;
	for (p = 4; p + 4 <= size; p += 4) {
		c = ((data[p + 1] << 8) | data[p + 2]) % CLIENTS;
		switch (data[p] % 4) {
		case 0:
			if (n == OPEN)
				break;
			k = key_of(c);
			s = limits_open(l, &k, max, now);
			if (s == LIMIT_REFUSED) {
				if (max == 0 || held[c] < max)
					abort();	/* refused below the cap */
				break;
			}
			if (s >= 0 && held[c] > 0 && slot_of[c] != s)
				abort();	/* moved while connected */
			if (s >= 0 && held[c] >= max && max > 0)
				abort();	/* over the cap */
			if (s >= 0) {
				held[c]++;
				slot_of[c] = s;
			}
			conns[n].client = c;
			conns[n].stale = 0;
			conns[n++].slot = s;
			break;
		case 1:
			if (n == 0)
				break;
			i = c % n;
			limits_close(l, conns[i].slot);
			if (conns[i].slot >= 0 && !conns[i].stale)
				held[conns[i].client]--;
			conns[i] = conns[--n];
			break;
		case 2:
			if (n == 0)
				break;
			s = limits_request(l, conns[c % n].slot, &r, now);
			if (s < 0 || s > r.period)
				abort();
			break;
		default:
			if (data[p + 3] == 0xff) {
				limits_forget_conns(l);
				memset(held, 0, sizeof(held));
				for (i = 0; i < n; i++)
					conns[i].stale = 1;
				break;
			}
			now += data[p + 3] * (int64_t)(data[p + 1] & 1 ?
			    1000 : 7);
			break;
		}
		if (limits_used(l) > SLOTS)
			abort();
	}
	limits_free(l);
	return 0;
}
