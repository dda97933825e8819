/*
 * conn.h: the engine.  One connection from accept to its access-log
 * line: the PROXY header, TLS, the request line, routing (route.h) and
 * the plan it returns carried out (plan.h): the one header, the body
 * with back-pressure, the waits and their deadlines, close_notify, the
 * lingering close.  server.c accepts connections and hands them here.
 */
#ifndef CAPSULED_CONN_H
#define CAPSULED_CONN_H

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <stddef.h>

#include "config.h"
#include "tlsctx.h"

#define CONN_ADDR_MAX	INET6_ADDRSTRLEN	/* "::1", NUL included */

struct conn_env {
	const struct config	*cf;
	struct tls		*tls;
	const int		*rootfds;	/* cf->hosts[i]'s root: [i] */
	/* the count of open connections changed; closed: by a close */
	void			(*count)(size_t open, int closed);
	/* a client behind a proxy was over max_per_client: closed */
	void			(*refused)(void);
};

/* Once per worker, before the first connection. */
void	conn_init(const struct conn_env *);

/*
 * Take the accepted socket fd (non-blocking) of the client at ss.
 * laddr and lport: the listener's address (it must live as long as the
 * worker); proxy: a PROXY header comes first, which names the client
 * and the address instead; lslot: the client's per-client limits slot
 * (shared.h), released at the close.
 */
void	conn_start(int fd, const struct sockaddr_storage *ss,
	    const char *laddr, int lport, int proxy, int lslot);

/* The text of ss's address and its port. */
void	conn_addr(const struct sockaddr_storage *ss,
	    char addr[CONN_ADDR_MAX], int *port);

/*
 * Stop: close every connection now, each logged with what it was sent
 * and marked cut when an exchange was under way (a response not whole,
 * an upload's body, a script's header awaited).
 */
void	conn_cut_all(void);

#endif
