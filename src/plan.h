/*
 * plan.h: what a routing step may know of a connection (the facts) and
 * what it gives back (the response plan).  Steps decide; the engine
 * (conn.c) carries plans out: the header, the body, the waits, the
 * access-log line.  A step never calls the event loop or the engine,
 * and nothing here does either.
 */
#ifndef CAPSULED_PLAN_H
#define CAPSULED_PLAN_H

#include <sys/types.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "config.h"
#include "logfmt.h"
#include "request.h"
#include "url.h"

/* The client's certificate, as the engine found it for this request. */
enum plan_cert {
	CERT_NONE,		/* none sent */
	CERT_IN_DATE,		/* sent, and within its validity dates now */
	CERT_OUT_OF_DATE,	/* sent, but not yet or no longer valid */
};

/* What a step may know of where a request came from. */
struct facts {
	const struct config	*cf;
	const int		*rootfds;	/* cf->hosts[i]'s root: [i] */
	const struct host_cfg	*host;		/* the target check's choice */
	int			 rootfd;	/* host's root; -1 before */
	const char		*sni;		/* canonical, or NULL */
	const char		*peer_addr;	/* "192.0.2.1", "::1" */
	const char		*peer_log;	/* as the logs name it (log_ip) */
	int			 peer_port;
	const char		*local_addr;	/* what the client connected to */
	int			 local_port;
	SSL			*ssl;		/* TLS_* for CGI; NULL in tests */
	enum plan_cert		 cert;
	const unsigned char	*client_hash;	/* SHA-256, when cert != NONE */
	int			 lslot;		/* per-client limits (shared.h) */
	long			 now;		/* ms since accept: jobs' clock */
};

/*
 * A job (a stream or a sink, below) says what it waits for: fd ready
 * for events (-1: the client's socket), or also readable (-1: nothing
 * more), for at most left ms.  The engine waits; the job never touches
 * the event loop.
 */
#define PLAN_READ	1
#define PLAN_WRITE	2

struct plan_wait {
	int	fd;
	int	events;		/* PLAN_READ or PLAN_WRITE */
	int	also;
	long	left;
};

/*
 * A stream: the response comes from an upstream descriptor (a CGI
 * script's stdout; SCGI, FastCGI or a proxied server would be others),
 * its header checked before anything reaches the client.  Times are the
 * connection's (facts.now).
 */
struct stream_ops {
	/*
	 * 1: *status and meta are the header to send, the upstream's own
	 * or, when it gave none that may be sent (a bad header, its time
	 * is up), the answer this kind gives then (logged); a status that
	 * is not 2x ends the stream.  0: wait as *w says.
	 */
	int	(*header)(void *, long now, int *status, char meta[URL_MAX + 1],
		    struct plan_wait *w);
	/*
	 * Body bytes into buf: > 0 read; 0 none now, wait as *w says; -1
	 * the body is over, *cut when it is not whole (logged).
	 */
	ssize_t	(*read)(void *, char *buf, size_t room, long now, int *cut,
		    struct plan_wait *w);
	/* Done with it, whole or not: stop the upstream and free it all. */
	void	(*finish)(void *);
};

/*
 * A sink: an upload.  The engine reads the body the client sends after
 * its request line (exactly the plan's sink_size bytes) and feeds it to
 * the sink; the sink's answer becomes the response.  The sink says how
 * long every wait may be, the engine's for the client included.
 */
struct sink_ops {
	/*
	 * Before each read from the client: 1 read on, and *w says what
	 * to watch meanwhile (also: the sink's descriptor, which speaks
	 * when it stops taking the body) and for how long (left); 0 not
	 * yet, wait as *w says; -1 it takes no more (its answer says why).
	 */
	int	(*ready)(void *, long now, struct plan_wait *w);
	/* Take body bytes: > 0 taken; 0 none now, wait as *w says; -1 it
	 * takes no more. */
	ssize_t	(*write)(void *, const char *buf, size_t len, long now,
		    struct plan_wait *w);
	/* Once the body is in (or refused): 1 *status and meta, its
	 * answer; 0 wait as *w says. */
	int	(*answer)(void *, long now, int *status,
		    char meta[URL_MAX + 1], struct plan_wait *w);
	/*
	 * A wait ran out of time (client: it was the client's): 1 the job
	 * is dropped and *status and meta are the answer; 0 wait on (a
	 * change under way is not cut short).
	 */
	int	(*expire)(void *, long now, int client, int *status,
		    char meta[URL_MAX + 1]);
	void	(*finish)(void *);
};

#define PLAN_USER_MAX	159	/* an uploader's name or fingerprint */

enum plan_body {
	PLAN_NONE,	/* the header alone */
	PLAN_FILE,	/* an open file, fd, of size bytes */
	PLAN_MEM,	/* mem, len bytes (malloc'd: the engine frees it) */
	PLAN_STREAM,	/* the upstream's header and body */
	PLAN_SINK,	/* an upload, then the sink's answer */
};

/*
 * The response plan.  The engine owns whatever body the plan holds
 * once a step has returned it; plan_free releases it unused.
 */
struct plan {
	int			 status;	/* 10..69; 0 for a stream, sink */
	char			 meta[URL_MAX + 1];
	enum plan_body		 body;
	int			 fd;		/* PLAN_FILE */
	off_t			 size;
	char			*mem;		/* PLAN_MEM */
	size_t			 len;
	const struct stream_ops	*stream;	/* PLAN_STREAM */
	const struct sink_ops	*sink;		/* PLAN_SINK */
	void			*job;		/* the stream's or the sink's */
	long long		 sink_size;	/* body bytes the client sends */
	/* for the access-log line and its metrics (the engine copies them) */
	const struct host_cfg	*host;		/* NULL: not ours (53) */
	const char		*log_request;	/* NULL: the line as sent */
	char			 log_user[PLAN_USER_MAX + 1];	/* "": none */
	enum entry_kind		 log_kind;	/* an upload's: logfmt.h */
	const char		*log_upstream;	/* the upstream's name (it
						   outlives the plan); NULL */
	int			 cert_checked;	/* against a list: log it */
};

/*
 * A routing step: 1 when it planned the response, 0 when the request is
 * not its business.  log_request, when a step sets it, lives as long as
 * the plan (its job's, or static).
 */
typedef int (*route_fn)(const struct facts *, const struct request *,
	    struct plan *);

/* Empty: no status, no body. */
void	plan_init(struct plan *);

/*
 * The header: status (10..69) and meta, copied and cut to URL_MAX bytes
 * on a UTF-8 boundary.  Returns 1, a step's "answered".
 */
int	plan_reply(struct plan *, int status, const char *meta);

/* After plan_reply(p, 2x, ...): the body (else fd is closed, mem freed). */
void	plan_file(struct plan *, int fd, off_t size);
void	plan_mem(struct plan *, char *mem, size_t len);

/* Instead of plan_reply: the response is the job's.  Returns 1. */
int	plan_stream(struct plan *, const struct stream_ops *, void *job);
int	plan_sink(struct plan *, const struct sink_ops *, void *job,
	    long long size);

/*
 * Who made the request, for its log line: the name a certificate list
 * gives it (or its fingerprint) once it is let in; cut.
 */
void	plan_user(struct plan *, const char *who);

/* Release the body: close, free, finish the job.  Empty after. */
void	plan_free(struct plan *);

#endif
