/*
 * proxy.h: the PROXY protocol header (HAProxy's, versions 1 and 2) that
 * a load balancer sends before the client's bytes, naming the client.
 * Pure: bytes in, result out; no I/O, no globals, no allocation.
 */
#ifndef CAPSULED_PROXY_H
#define CAPSULED_PROXY_H

#include <sys/types.h>
#include <sys/socket.h>
#include <stddef.h>

#define PROXY_V1_MAX	107	/* "PROXY TCP6 <39> <39> 65535 65535\r\n" */
#define PROXY_V2_HDR	16	/* signature, version/command, family, length */
#define PROXY_NEED_MAX	PROXY_V1_MAX	/* most bytes proxy_parse looks at */
#define PROXY_V2_MAX	(PROXY_V2_HDR + 36)	/* two IPv6 addresses, ports */

struct proxy_hdr {
	int			version;	/* 1 or 2 */
	/*
	 * 0: LOCAL (v2) or UNKNOWN (v1), or an address family we do not
	 * use (v2 AF_UNIX, AF_UNSPEC): the connection's own addresses
	 * stand.  1: src and dst below are the client's and the address
	 * it connected to.
	 */
	int			has_addr;
	struct sockaddr_storage	src, dst;
	socklen_t		srclen, dstlen;
};

/*
 * Look at the first len bytes a connection sent.
 *   > 0  a complete, valid header of that many bytes; *h is filled.
 *        For v2 this can be more than len: what lies beyond the
 *        addresses (TLVs) is never looked at, and the caller discards
 *        it unread.
 *   0    every byte so far is part of a header that is not complete:
 *        wait for more (never more than PROXY_NEED_MAX bytes in all).
 *   -1   not a valid PROXY header.
 * Bytes after the header are never looked at.
 */
ssize_t	proxy_parse(const unsigned char *buf, size_t len,
	    struct proxy_hdr *h);

/*
 * A v2 header for an upstream: PROXY, TCP, naming the client src and
 * the address it connected to dst when both are of one family (IPv4 or
 * IPv6); else (either NULL, or the families differ) LOCAL, which names
 * nobody.  Its length.
 */
size_t	proxy_v2_encode(unsigned char out[PROXY_V2_MAX],
	    const struct sockaddr *src, const struct sockaddr *dst);

#endif
