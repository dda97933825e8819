/*
 * cgi.c: the worker's side of the CGI hook (see cgi.h): find the script,
 * build its environment and hand it to the runner; the script's output
 * is a stream (cgijob.c) the engine reads.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgi.h"
#include "cgivars.h"
#include "cgijob.h"
#include "config.h"
#include "fdpass.h"
#include "fs.h"
#include "log.h"
#include "metrics.h"
#include "plan.h"
#include "runner.h"
#include "url.h"

static int	runner_sock = -1;

void
cgi_worker_init(int sock)
{
	runner_sock = sock;
}

/*
 * The script is the first regular file along the path below the cgi
 * directory: "/cgi-bin/strike/mental-health" runs cgi-bin/strike with
 * PATH_INFO "/mental-health".  Returns the script's path length, or 0
 * when there is none or it is not executable: then route_file serves or
 * refuses it as any other file, and it never runs.  SCRIPT_DENIED: the
 * worker's user may not search the way there (the cgi directory's mode
 * or owner, issue 11): the admin's mistake, said, not a silent 51.
 */
#define SCRIPT_DENIED	((size_t)-1)

static size_t
find_script(int rootfd, const char *cgidir, const char *path)
{
	struct stat	st;
	size_t		dirlen = strlen(cgidir), end;

	if (path[0] != '/' || strncmp(path + 1, cgidir, dirlen) != 0 ||
	    path[1 + dirlen] != '/')
		return 0;
	if ((end = fs_leading_file(rootfd, path, 1 + dirlen + 1, &st)) == 0)
		return errno == EACCES || errno == EPERM ? SCRIPT_DENIED : 0;
	return (st.st_mode & 0111) ? end : 0;
}

struct env {
	char	*buf;
	size_t	 len, cap;
	int	 failed;
};

static void
env_put(struct env *e, const char *key, const char *value)
{
	size_t	klen = strlen(key) + 1;
	int	n;

	if (e->failed)
		return;
	n = snprintf(e->buf + e->len, e->cap - e->len, "%s=%s", key, value);
	if (n < 0 || (size_t)n + 1 > e->cap - e->len) {
		e->failed = 1;
		return;
	}
	cgi_vars_clean(e->buf + e->len + klen, (size_t)n - klen);
	e->len += (size_t)n + 1;	/* keep the NUL: one string each */
}

static void
env_int(struct env *e, const char *key, long v)
{
	char	num[32];

	snprintf(num, sizeof(num), "%ld", v);
	env_put(e, key, num);
}

/* The conventional Gemini CGI variables (cgivars.h), nothing of ours. */
static void
env_build(struct env *e, const struct facts *f, const struct request *r,
    size_t scriptlen)
{
	struct cgi_vars	cv;
	int		i;

	if (cgi_vars_fill(&cv, f, r, scriptlen, NULL) == -1) {
		e->failed = 1;
		return;
	}
	for (i = 0; i < CV_NVARS; i++)
		if (cv.val[i] != NULL)
			env_put(e, cgi_var_name(i), cv.val[i]);
}

/* Hand the job to the runner with the pipe and control fds; 0 or -1. */
static int
send_job(const char *msg, size_t len, int outw, int ctlr)
{
	int	fds[2] = { outw, ctlr };

	return fdpass_send(runner_sock, msg, len, fds, 2);
}

/*
 * Spawn through the runner: the job, with the pipe's write end and one
 * end of the control socket; the script's output is then the plan's
 * stream.  -1 when it could not be handed over (errno).
 */
static int
cgi_start(const struct facts *f, const char *script, const char *msg,
    size_t len, struct plan *p)
{
	const struct host_cfg	*h = f->host;
	struct cgi_job		*j;
	int			 out[2], ctl[2];

	if (pipe2(out, O_CLOEXEC) == -1)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) == -1) {
		close(out[0]);
		close(out[1]);
		return -1;
	}
	if (fcntl(out[0], F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(ctl[0], F_SETFL, O_NONBLOCK) == -1 ||
	    send_job(msg, len, out[1], ctl[1]) == -1) {
		close(out[0]);
		close(out[1]);
		close(ctl[0]);
		close(ctl[1]);
		return -1;
	}
	close(out[1]);		/* the runner holds them now */
	close(ctl[1]);
	if ((j = cgi_job_new(out[0], ctl[0], script, f->peer_log,
	    f->now + h->cgi_timeout * 1000L, f->cf->cgi_max_output)) == NULL)
		return plan_reply(p, 42, "Out of memory");
	return plan_stream(p, &cgi_stream, j);
}

int
route_cgi(const struct facts *f, const struct request *r, struct plan *p)
{
	const struct host_cfg	*h = f->host;
	char			 msg[RUNNER_MSG_MAX], retry[16];
	char			 script[URL_MAX + 1];
	struct env		 e = { msg, 0, sizeof(msg), 0 };
	size_t			 scriptlen;

	if (h->cgi[0] == '\0' ||
	    (scriptlen = find_script(f->rootfd, h->cgi, r->url.path)) == 0)
		return 0;
	if (scriptlen == SCRIPT_DENIED) {
		log_warnx("%s: %s: %s (uid %ld): fix the mode or owner of the "
		    "cgi directory %s", h->name, r->url.path, strerror(errno),
		    (long)geteuid(), h->cgi);
		return plan_reply(p, 42, "Cannot start the CGI script");
	}
	if (cgi_job_count() >= f->cf->cgi_max) {
		metrics_limit(METRICS_LIMIT_CGI);
		snprintf(retry, sizeof(retry), "%d", CGI_RETRY_SECS);
		return plan_reply(p, 44, retry);
	}
	if (runner_sock == -1) {
		log_warnx("%s: cannot start CGI %s: no CGI runner", f->peer_log,
		    r->url.path);
		metrics_cgi(METRICS_CGI_FAILED);
		return plan_reply(p, 42, "Cannot start the CGI script");
	}
	/* the job: host index, script path, timeout, then the environment */
	memcpy(script, r->url.path + 1, scriptlen - 1);
	script[scriptlen - 1] = '\0';
	env_int(&e, "HOST", (long)(h - f->cf->hosts));
	env_put(&e, "SCRIPT", script);
	env_int(&e, "TIMEOUT", h->cgi_timeout);
	env_build(&e, f, r, scriptlen);
	if (e.failed || cgi_start(f, script, msg, e.len, p) == -1) {
		log_warnx("%s: cannot start CGI %s: %s", f->peer_log,
		    r->url.path, e.failed ? "environment too large" :
		    strerror(errno));
		metrics_cgi(METRICS_CGI_FAILED);
		return plan_reply(p, 42, "Cannot start the CGI script");
	}
	return 1;
}
