/*
 * upload.h: the worker's side of a Titan upload (between route.c,
 * server.c and the writer; see writer.h).  route_titan decides before
 * any of the body is read; then the connection is in its upload state,
 * where server.c calls upload_step until the writer has answered.
 */
#ifndef CAPSULED_UPLOAD_H
#define CAPSULED_UPLOAD_H

#include "conn.h"
#include "log.h"
#include "request.h"

struct upload;

/* Worker side: the socket to the writer (-1: no uploads). */
void	upload_worker_init(int writer_sock);

/* Routing step: every titan request ends here, answered or uploading. */
int	route_titan(struct conn *, const struct request *);

/* Move the upload on: 1 answered (conn_reply called), 0 waiting (a
 * conn_wait_upload is set), -1 the client is gone. */
int	upload_step(struct conn *, struct upload *);
/*
 * A wait ran out: a client too slow answers 59, a writer too slow 40,
 * and the job is dropped (nothing is left); after the commit the wait
 * goes on (upload_step waits again).
 */
void	upload_timeout(struct conn *, struct upload *);
/* A Titan request's access-log line: as sent, its token left out, and
 * what it was (refused before its body, a write, a delete). */
void	upload_log(const struct upload *, struct access_entry *);
void	upload_free(struct upload *);

#endif
