/*
 * limit_test.c: per-client caps and the request token bucket.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include "limit.h"
#include "tap.h"

static struct limit_key
v4(const char *a)
{
	struct sockaddr_in	sin;
	struct limit_key	k;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, a, &sin.sin_addr);
	limit_key((struct sockaddr *)&sin, sizeof(sin), &k);
	return k;
}

static struct limit_key
v6(const char *a)
{
	struct sockaddr_in6	sin6;
	struct limit_key	k;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, a, &sin6.sin6_addr);
	limit_key((struct sockaddr *)&sin6, sizeof(sin6), &k);
	return k;
}

static void
test_keys(void)
{
	struct limit_key	a = v6("2001:db8:1:2::1"), b = v6("2001:db8:1:2:ffff::9"),
				c = v6("2001:db8:1:3::1"), d = v4("192.0.2.1"),
				e = v6("::ffff:192.0.2.1");
	struct sockaddr		sa;

	ok(memcmp(&a, &b, sizeof(a)) == 0, "one IPv6 /64 is one client");
	ok(memcmp(&a, &c, sizeof(a)) != 0, "another /64 is another client");
	ok(memcmp(&d, &e, sizeof(d)) == 0,
	    "an IPv4-mapped address is the IPv4 client");
	memset(&sa, 0, sizeof(sa));
	sa.sa_family = AF_UNIX;
	ok(limit_key(&sa, sizeof(sa), &a) == -1, "not IP: no key");
}

static void
test_connection_cap(void)
{
	struct limits		*l = limits_new(64, 1);
	struct limit_key	 a = v4("192.0.2.1"), b = v4("192.0.2.2");
	int			 s[4], i;

	for (i = 0; i < 3; i++)
		s[i] = limits_open(l, &a, 3, 0);
	ok(s[0] >= 0 && s[0] == s[1] && s[1] == s[2],
	    "one slot per client");
	ok(limits_open(l, &a, 3, 0) == LIMIT_REFUSED,
	    "the fourth connection over max_per_client 3 is refused");
	ok(limits_open(l, &b, 3, 0) >= 0, "another client is not affected");
	limits_close(l, s[0]);
	ok((s[3] = limits_open(l, &a, 3, 0)) == s[0],
	    "a closed connection makes room");
	ok(limits_open(l, &a, 0, 0) >= 0, "max 0: no cap");
	limits_free(l);
}

static void
test_rate(void)
{
	struct limits		*l = limits_new(64, 2);
	struct limit_key	 a = v4("198.51.100.7");
	struct limit_rate	 r = { 60, 60, 10 };	/* 1/s, bursts of 10 */
	int			 s, i, allowed = 0, w;

	s = limits_open(l, &a, 0, 1000);
	for (i = 0; i < 20; i++)
		allowed += limits_request(l, s, &r, 1000) == 0;
	ok(allowed == 10, "a burst of 10 passes, then no more (%d)", allowed);
	w = limits_request(l, s, &r, 1000);
	ok(w == 1, "44 says wait 1 second (%d)", w);
	ok(limits_request(l, s, &r, 1500) > 0, "half a second is too soon");
	ok(limits_request(l, s, &r, 2000) == 0, "after a second: one more");
	ok(limits_request(l, s, &r, 2000) > 0, "and only one");
	for (i = 0; i < 100; i++)
		(void)limits_request(l, s, &r, 2000 + i * 10);
	ok(limits_request(l, s, &r, 3100) == 0,
	    "refused requests do not push the wait further");
	ok(limits_request(l, s, &r, 3100 + 60000) == 0 &&
	    limits_request(l, s, &r, 3100 + 60000) == 0,
	    "an idle minute refills the bucket");
	allowed = 0;
	for (i = 0; i < 20; i++)
		allowed += limits_request(l, s, &r, 3100 + 60000) == 0;
	ok(allowed == 8, "but never above the burst (%d)", allowed);

	r.rate = 0;
	ok(limits_request(l, s, &r, 0) == 0, "rate 0: no limit");
	r = (struct limit_rate){ 1, 3600, 1 };
	ok(limits_request(l, s, &r, 500000) == 0, "1 an hour: the first");
	w = limits_request(l, s, &r, 500000);
	ok(w == 3600, "1 an hour: wait an hour (%d)", w);
	ok(limits_request(l, LIMIT_UNTRACKED, &r, 0) == 0,
	    "an untracked connection is never limited");
	limits_free(l);
}

static void
test_flood_stays_bounded(void)
{
	struct limits		*l = limits_new(256, 3);
	struct limit_key	 k, first = v4("10.0.0.1");
	struct limit_rate	 r = { 1, 60, 1 };
	char			 addr[32];
	int			 i, s, held = 0, busy;

	busy = limits_open(l, &first, 0, 0);
	(void)limits_request(l, busy, &r, 0);
	for (i = 0; i < 100000; i++) {
		snprintf(addr, sizeof(addr), "11.%d.%d.%d", (i >> 16) & 255,
		    (i >> 8) & 255, i & 255);
		k = v4(addr);
		if ((s = limits_open(l, &k, 0, i)) >= 0) {
			held += s == busy;
			limits_close(l, s);
		}
	}
	ok(limits_used(l) <= 256, "100,000 addresses fit in 256 slots");
	ok(held == 0, "a client with an open connection is never evicted");
	ok(limits_request(l, busy, &r, 1000) > 0,
	    "and keeps its bucket through the flood");
	limits_free(l);
}

/*
 * Issue 19.16: a worker dies with connections open and every count is
 * forgotten; a connection that survives in another worker must not
 * then charge the client its slot is given to, nor its own client's
 * new count.
 */
static void
test_forgotten_handles(void)
{
	struct limits		*l = limits_new(16, 4);	/* one window */
	struct limit_key	 a = v4("192.0.2.1"), b = v4("192.0.2.2"), k;
	struct limit_rate	 r = { 1, 60, 1 };
	int			 ha, hb, i, t = 0;
	char			 addr[32];

	ha = limits_open(l, &a, 1, t++);
	limits_forget_conns(l);
	for (i = 0; i < 15; i++) {	/* idle clients fill the window */
		(void)snprintf(addr, sizeof(addr), "198.51.100.%d", i + 1);
		k = v4(addr);
		limits_close(l, limits_open(l, &k, 1, t++));
	}
	hb = limits_open(l, &b, 1, t++);	/* a's slot, the stalest */
	ok(hb >= 0, "another client takes the forgotten client's slot");
	limits_close(l, ha);
	ok(limits_open(l, &b, 1, t++) == LIMIT_REFUSED,
	    "the survivor's close does not lower the new client's count");
	ok(limits_request(l, ha, &r, t) == 0 && limits_request(l, hb, &r,
	    t) == 0, "nor does its request spend the new client's token");
	limits_close(l, hb);
	limits_free(l);

	l = limits_new(16, 5);
	ha = limits_open(l, &a, 1, 0);
	limits_forget_conns(l);
	hb = limits_open(l, &a, 1, 1);		/* the same client, again */
	limits_close(l, ha);
	ok(limits_open(l, &a, 1, 2) == LIMIT_REFUSED,
	    "a survivor's close does not lower its own client's new count");
	limits_free(l);
}

int
main(void)
{
	test_keys();
	test_connection_cap();
	test_forgotten_handles();
	test_rate();
	test_flood_stays_bounded();
	return tap_done();
}
