/*
 * upconn.h: connections to upstreams (upstream.h).
 *
 * The parent, for each config it loads (start, -n, reload): resolves
 * upstream host names (a worker has no resolver, and never asks one),
 * checks that a UNIX socket lies inside the chroot, and makes each
 * proxy's TLS client context (its client certificate and CA file read
 * then, while it still may).  A worker: connects, without blocking;
 * keeps the FastCGI connections a responder lets it keep (keepalive=N,
 * FCGI_KEEP_CONN), N at most per upstream; resumes TLS sessions with a
 * proxy's upstream; checks a pinned certificate.
 */
#ifndef CAPSULED_UPCONN_H
#define CAPSULED_UPCONN_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "config.h"
#include "upstream.h"

/* What the parent made for a generation's workers. */
struct upconn {
	SSL_CTX		**ctx;		/* [u->index]: a proxy's; else NULL */
	size_t		  n;
};

/*
 * Parent: resolve every upstream name of cf, check every UNIX socket
 * is inside the chroot (chrooted: the workers will be) and note the
 * path they know it by, make the proxies' TLS contexts.  0, or -1 with
 * err ("file:line: why").
 */
int	upconn_prepare(struct config *cf, int chrooted, struct upconn *uc,
	    char *err, size_t errlen);
void	upconn_free(struct upconn *uc);

/* Worker, after fork: the contexts it connects with. */
void	upconn_worker_init(const struct config *cf, const struct upconn *uc);

/*
 * A connection to u: one kept from before (*reused set; never when
 * fresh, as a retry after a kept one failed asks), or a new one,
 * non-blocking, its connect perhaps still under way (*pending: wait
 * until it is writable, then upconn_connected).  -1 with errno.
 */
int	upconn_open(const struct upstream_cfg *u, int fresh, int *reused,
	    int *pending);

/* A connect under way has ended: 0, or its errno. */
int	upconn_connected(int fd);

/*
 * Done with a FastCGI connection whose response was whole and read to
 * its last byte: kept for the next request when u allows and there is
 * room, else closed.
 */
void	upconn_keep(const struct upstream_cfg *u, int fd);

/* A proxy's TLS over fd: SNI, the name checked (verify=ca), the
 * session resumed.  NULL when out of memory. */
SSL	*upconn_tls(const struct upstream_cfg *u, int fd);

/*
 * After the handshake: 0 when the upstream's certificate is the pinned
 * one (verify=sha256), or when another check applies; -1 with why.  The
 * pin is checked in the handshake already (the upstream's certificate
 * refused as it arrives); this is for a resumed session's, which the
 * handshake does not check again.
 */
int	upconn_tls_check(const struct upstream_cfg *u, SSL *ssl, char *why,
	    size_t whylen);

/* After a failed handshake: -1 with why when the pin refused the
 * upstream's certificate, else 0 (another reason: the library's). */
int	upconn_tls_refused(const struct upstream_cfg *u, SSL *ssl, char *why,
	    size_t whylen);

/* Done with it: close_notify when the exchange was whole; freed. */
void	upconn_tls_end(SSL *ssl, int whole);

#endif
