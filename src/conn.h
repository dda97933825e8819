/*
 * conn.h: what routing steps may do with a connection.  The connection
 * machinery itself (TLS, the event loop, deadlines) is in server.c.
 */
#ifndef CAPSULED_CONN_H
#define CAPSULED_CONN_H

#include <sys/types.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "config.h"
#include "request.h"

struct conn;

/* What the routing steps know of where a request came from. */
struct conn_info {
	const struct config	*cf;
	const struct host_cfg	*host;		/* set by the target check */
	int			 rootfd;	/* host's root directory */
	const char		*sni;		/* canonical, or NULL */
	const char		*peer_addr;	/* "192.0.2.1", "::1" */
	const char		*peer_log;	/* as the logs name it (log_ip) */
	int			 peer_port;
	const char		*local_addr;
	int			 local_port;
	SSL			*ssl;
	int			 has_client_cert;
	const unsigned char	*client_hash;	/* 32 bytes when present */
};
const struct conn_info *conn_info(const struct conn *);

/*
 * The only function that writes a response header: "NN meta\r\n".
 * status must be 10..69; meta is cut to 1024 bytes on a UTF-8 boundary,
 * control characters in it become spaces.  Call once per connection.
 */
void	conn_reply(struct conn *, int status, const char *meta);

/* After conn_reply(c, 2x, ...): the body.  The connection owns fd/mem. */
void	conn_body_fd(struct conn *, int fd, off_t size);
void	conn_body_mem(struct conn *, char *mem, size_t len);

/*
 * Instead of conn_reply: the response comes from a CGI script's stdout
 * (outfd, non-blocking), checked by cgi_parse_header before anything is
 * sent.  Closing ctlfd (done when the connection ends) tells the runner
 * to kill the script.  The connection owns both fds.
 */
void	conn_cgi(struct conn *, int outfd, int ctlfd, const char *script,
	    int timeout, long max_output);

/* Routing: 1 answered (conn_reply or conn_cgi was called), 0 not mine. */
typedef int (*route_fn)(struct conn *, const struct request *);

/* route.c: run the routing table for a parsed request. */
void	route_request(struct conn *, const struct request *);

/*
 * server.c: spend one of the client's request tokens: 0 if it had one,
 * else the seconds until it will (the 44 meta).
 */
int	conn_rate_wait(struct conn *);

/*
 * server.c, for access.c: the client's certificate was checked against
 * a list (the access log may show its fingerprint); user: the name the
 * list gives it (or its fingerprint) once it is let in, else NULL.
 */
void	conn_identify(struct conn *, const char *user);

/* server.c: set the host once the target check has chosen it. */
void	conn_set_host(struct conn *, const struct host_cfg *);

/*
 * server.c, for upload.c: instead of conn_reply, the connection reads
 * a Titan body (state C_UPLOAD, upload_step drives it); returns the
 * bytes that came after the request line.  conn_wait_upload: a wait,
 * for at most ms, on fd (-1: the client's socket); upload_timeout is
 * told when it runs out.
 */
struct upload;
size_t	conn_upload(struct conn *, struct upload *, const char **pending);
/* An event of upload.c's own (the writer spoke while the client was
 * awaited) fired: the connection's wait ends and its step runs now. */
void	conn_wake(struct conn *);
void	conn_wait_upload(struct conn *, int fd, short what, long ms);

#endif
