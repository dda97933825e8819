/*
 * plan.c: making and releasing response plans (see plan.h).  The rules
 * for what a header may hold are the engine's (conn.c); these only
 * build the plan a step returns.
 */
#include <sys/types.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plan.h"
#include "request.h"

void
plan_init(struct plan *p)
{
	memset(p, 0, sizeof(*p));
	p->body = PLAN_NONE;
	p->fd = -1;
}

int
plan_reply(struct plan *p, int status, const char *meta)
{
	size_t	len = request_meta_len(meta, URL_MAX);

	p->status = status;
	memcpy(p->meta, meta, len);
	p->meta[len] = '\0';
	return 1;
}

static int
success(const struct plan *p)
{
	return p->status >= 20 && p->status <= 29 && p->body == PLAN_NONE;
}

void
plan_file(struct plan *p, int fd, off_t size)
{
	if (!success(p)) {
		close(fd);
		return;
	}
	p->body = PLAN_FILE;
	p->fd = fd;
	p->size = size;
}

void
plan_mem(struct plan *p, char *mem, size_t len)
{
	if (!success(p)) {
		free(mem);
		return;
	}
	p->body = PLAN_MEM;
	p->mem = mem;
	p->len = len;
}

int
plan_stream(struct plan *p, const struct stream_ops *ops, void *job)
{
	p->status = 0;
	p->body = PLAN_STREAM;
	p->stream = ops;
	p->job = job;
	return 1;
}

int
plan_sink(struct plan *p, const struct sink_ops *ops, void *job,
    long long size)
{
	p->status = 0;
	p->body = PLAN_SINK;
	p->sink = ops;
	p->job = job;
	p->sink_size = size;
	return 1;
}

void
plan_user(struct plan *p, const char *who)
{
	size_t	len = request_meta_len(who, PLAN_USER_MAX);

	memcpy(p->log_user, who, len);
	p->log_user[len] = '\0';
}

void
plan_free(struct plan *p)
{
	switch (p->body) {
	case PLAN_FILE:
		close(p->fd);
		break;
	case PLAN_MEM:
		free(p->mem);
		break;
	case PLAN_STREAM:
		p->stream->finish(p->job);
		break;
	case PLAN_SINK:
		p->sink->finish(p->job);
		break;
	case PLAN_NONE:
		break;
	}
	p->body = PLAN_NONE;
	p->fd = -1;
	p->mem = NULL;
	p->job = NULL;
	p->log_request = NULL;
}
