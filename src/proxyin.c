/*
 * proxyin.c: a proxy listener's PROXY header, on the raw socket.
 *
 * The balancer's header comes before the TLS handshake.  Take exactly the
 * header and not one byte of what follows it (the ClientHello): peek,
 * let the pure parser (proxy.c) say how much of that is header, consume
 * only that, and skip v2 TLVs unread.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>

#include "proxyin.h"

/* A recv(2) returned n <= 0: wait (0), or give up (-1). */
static int
raw_wait(ssize_t n)
{
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return 0;
	return -1;
}

int
proxy_in_read(int fd, struct proxy_in *p)
{
	unsigned char	skip[512];
	ssize_t		n, r;
	size_t		take;

	while (p->len == 0) {
		n = recv(fd, p->hdr + p->have, sizeof(p->hdr) - p->have,
		    MSG_PEEK);
		if (n <= 0)
			return raw_wait(n);
		if ((r = proxy_parse(p->hdr, p->have + n, &p->h)) == -1)
			return PROXY_IN_BAD;
		take = (size_t)n;
		if (r > 0 && (size_t)r - p->have < take)
			take = (size_t)r - p->have;
		if (recv(fd, p->hdr + p->have, take, 0) != (ssize_t)take)
			return -1;
		p->have += take;
		if (r > 0)
			p->len = (size_t)r;
	}
	while (p->have < p->len) {
		take = p->len - p->have;
		n = recv(fd, skip, take < sizeof(skip) ? take : sizeof(skip), 0);
		if (n <= 0)
			return raw_wait(n);
		p->have += (size_t)n;
	}
	return 1;
}
