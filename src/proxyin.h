/*
 * proxyin.h: reading a PROXY header off the raw socket, before the TLS
 * handshake, without taking one byte of what follows it.
 */
#ifndef CAPSULED_PROXYIN_H
#define CAPSULED_PROXYIN_H

#include <stddef.h>

#include "proxy.h"

#define PROXY_IN_BAD	(-2)	/* not a valid PROXY header */

struct proxy_in {
	unsigned char		hdr[PROXY_NEED_MAX];
	size_t			have;	/* bytes consumed */
	size_t			len;	/* the header's, once known; else 0 */
	struct proxy_hdr	h;	/* once len is known */
};

/*
 * Zeroed first.  1: the whole header is consumed and p->h filled; 0: wait
 * until the socket is readable; -1: the socket failed or closed;
 * PROXY_IN_BAD.
 */
int	proxy_in_read(int fd, struct proxy_in *p);

#endif
