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
/* No progress for request_timeout: drop the job (nothing is left). */
void	upload_timeout(struct conn *, struct upload *);
/* The access-log line of the upload: its own request text and user. */
void	upload_log(const struct upload *, struct access_entry *);
void	upload_free(struct upload *);

#endif
