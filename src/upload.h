/*
 * upload.h: the worker's side of a Titan upload (see writer.h).
 * route_titan decides before any of the body is read; an upload it
 * accepts is the plan's sink (plan.h): the engine feeds it the body and
 * the writer's answer becomes the response.
 */
#ifndef CAPSULED_UPLOAD_H
#define CAPSULED_UPLOAD_H

#include "plan.h"
#include "request.h"

/* Worker side: the socket to the writer (-1: no uploads). */
void	upload_worker_init(int writer_sock);

/* Routing step: every titan request ends here, answered or uploading. */
int	route_titan(const struct facts *, const struct request *,
	    struct plan *);

#endif
