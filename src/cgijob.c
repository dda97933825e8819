/*
 * cgijob.c: a CGI script's output as a connection reads it (see
 * cgijob.h): its header, checked before anything reaches the client;
 * its body, capped; and its end, which the runner reports, so that the
 * body ends when the script's own process has exited and what it wrote
 * is read (a background child holding stdout cannot hold it), and is
 * marked cut when the script failed after its header.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgi.h"
#include "cgijob.h"
#include "log.h"
#include "metrics.h"

#define GRACE_MS	1000	/* past the deadline: a runner that cannot */

struct cgi_job {
	int		 out;		/* the script's stdout; -1 once over */
	int		 ctl;		/* to the runner */
	struct event	 ev;		/* ctl, while waiting for output */
	const char	*addr;
	char		 script[64];
	long		 deadline;
	long long	 left;		/* output cap left */
	char		 hdr[CGI_HEADER_MAX];
	size_t		 hdrlen;	/* bytes read into hdr */
	size_t		 hdroff;	/* past the header: body bytes */
	int		 header_done;
	char		 msg[64];	/* a line from the runner, so far */
	size_t		 msglen;
	int		 ended;		/* exit said, or the runner closed */
	int		 exited;	/* exit said, with this wait status: */
	int		 wstatus;
	int		 err;		/* start failed: errno, and where */
	char		 what[16];
	char		 why[96];
	enum metrics_cgi outcome;	/* counted when the job is freed */
};

struct cgi_job *
cgi_job_new(int outfd, int ctlfd, const char *script, const char *addr,
    long deadline, long long max_output, void (*cb)(int, short, void *),
    void *arg)
{
	struct cgi_job	*j;

	if ((j = calloc(1, sizeof(*j))) == NULL) {
		close(outfd);
		close(ctlfd);
		return NULL;
	}
	j->out = outfd;
	j->ctl = ctlfd;
	j->addr = addr;
	snprintf(j->script, sizeof(j->script), "%s", script);
	j->deadline = deadline;
	j->left = max_output;
	j->outcome = METRICS_CGI_CANCELLED;	/* until it is known */
	event_set(&j->ev, ctlfd, EV_READ, cb, arg);
	return j;
}

void
cgi_job_free(struct cgi_job *j)
{
	if (j == NULL)
		return;
	metrics_cgi(j->outcome);
	event_del(&j->ev);
	if (j->out != -1)
		close(j->out);
	close(j->ctl);
	free(j);
	cgi_finished();
}

/* "exit <wait status>" from the runner, "fail <errno> <what>" from the
 * script's process when it could not start. */
static void
runner_line(struct cgi_job *j)
{
	char	*end;
	long	 v;

	j->msg[j->msglen] = '\0';
	if (strncmp(j->msg, "exit ", 5) == 0) {
		j->wstatus = (int)strtol(j->msg + 5, NULL, 10);
		j->exited = 1;
		j->ended = 1;
	} else if (strncmp(j->msg, "fail ", 5) == 0) {
		v = strtol(j->msg + 5, &end, 10);
		j->err = v > 0 && v < 4096 ? (int)v : EIO;
		if (*end == ' ')
			snprintf(j->what, sizeof(j->what), "%s", end + 1);
	}
	j->msglen = 0;
}

/* Read what the runner has said; 1 once the script's process is over. */
static int
ended(struct cgi_job *j)
{
	char	buf[64];
	ssize_t	n, i;

	while (!j->ended) {
		n = read(j->ctl, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			j->ended = 1;	/* the runner is done with it */
			break;
		}
		for (i = 0; i < n; i++) {
			if (buf[i] == '\n')
				runner_line(j);
			else if (j->msglen < sizeof(j->msg) - 1)
				j->msg[j->msglen++] = buf[i];
		}
	}
	return j->ended;
}

/* How the script failed, or NULL when it exited 0. */
static const char *
failure(struct cgi_job *j)
{
	int	n;

	(void)ended(j);
	if (j->err != 0)
		n = snprintf(j->why, sizeof(j->why), "could not be run: %s: %s",
		    j->what, strerror(j->err));
	else if (!j->exited)
		n = snprintf(j->why, sizeof(j->why), "was stopped by the "
		    "runner");
	else if (WIFSIGNALED(j->wstatus))
		n = snprintf(j->why, sizeof(j->why), "was killed by signal %d",
		    WTERMSIG(j->wstatus));
	else if (WIFEXITED(j->wstatus) && WEXITSTATUS(j->wstatus) != 0)
		n = snprintf(j->why, sizeof(j->why), "exited with status %d",
		    WEXITSTATUS(j->wstatus));
	else
		return NULL;
	return n < 0 ? "failed" : j->why;
}

int
cgi_job_header(struct cgi_job *j, long now, int *status,
    char meta[URL_MAX + 1], const char **why)
{
	const char	*f;
	ssize_t		 n;
	int		 end;

	*why = NULL;
	for (;;) {
		if ((end = cgi_parse_header(j->hdr, j->hdrlen, status, meta,
		    why)) > 0) {
			j->hdroff = (size_t)end;
			j->left -= (long long)(j->hdrlen - j->hdroff);
			j->header_done = 1;
			/* a body to come is not over yet: no body, done */
			if (*status / 10 != 2)
				j->outcome = METRICS_CGI_OK;
			return 1;
		}
		if (end < 0)
			break;
		if (j->hdrlen == sizeof(j->hdr)) {
			*why = "CGI header line too long";
			break;
		}
		n = read(j->out, j->hdr + j->hdrlen, sizeof(j->hdr) - j->hdrlen);
		if (n > 0) {
			j->hdrlen += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN && !ended(j))
			return 0;
		if (now >= j->deadline) {
			/* the runner's kill at cgi_timeout was seen first */
			cgi_job_expired(j);
			*why = "CGI script timed out";
			return 1;
		}
		*why = j->hdrlen ? "CGI script ended inside its header" :
		    "CGI script ended without output";
		/* the runner kills it at the deadline: that is a timeout,
		 * whether its end or our timer is seen first */
		if (now >= j->deadline)
			*why = "CGI script timed out";
		/* it never ran: say why (the start's errno) instead */
		if ((f = failure(j)) != NULL && strncmp(f, "could not", 9) == 0) {
			log_warnx("%s: CGI %s %s", j->addr, j->script, f);
			*why = "CGI script could not be run";
		}
		break;
	}
	log_warnx("%s: %s: %s", j->addr, j->script, *why);
	j->outcome = METRICS_CGI_FAILED;
	return 1;
}

void
cgi_job_expired(struct cgi_job *j)
{
	log_warnx("%s: CGI %s timed out before its header", j->addr,
	    j->script);
	j->outcome = METRICS_CGI_TIMEOUT;
}

/* The body is over: whole only if the script exited 0 in time. */
static ssize_t
over(struct cgi_job *j, int err, long now, int *cut)
{
	char		 buf[64];
	const char	*why;

	j->outcome = METRICS_CGI_FAILED;
	if (err != 0) {
		snprintf(buf, sizeof(buf), "output failed: %s", strerror(err));
		why = buf;
	} else if (now >= j->deadline) {
		why = "ran out of cgi_timeout";
		j->outcome = METRICS_CGI_TIMEOUT;
	} else if ((why = failure(j)) == NULL)
		j->outcome = METRICS_CGI_OK;
	if (why != NULL) {
		log_warnx("%s: CGI %s %s after its header; cut", j->addr,
		    j->script, why);
		*cut = 1;
	}
	return -1;
}

ssize_t
cgi_job_read(struct cgi_job *j, char *buf, size_t room, long now, int *cut)
{
	ssize_t	r;

	*cut = 0;
	if (j->hdroff < j->hdrlen) {	/* what came with the header */
		if (room > j->hdrlen - j->hdroff)
			room = j->hdrlen - j->hdroff;
		memcpy(buf, j->hdr + j->hdroff, room);
		j->hdroff += room;
		return (ssize_t)room;
	}
	if (j->out != -1) {
		if (j->left <= 0) {
			log_warnx("%s: CGI %s: output over cgi_max_output; "
			    "cut", j->addr, j->script);
			j->outcome = METRICS_CGI_FAILED;
			*cut = 1;
			return -1;
		}
		if ((long long)room > j->left)
			room = (size_t)j->left;
		if ((r = read(j->out, buf, room)) > 0) {
			j->left -= r;
			return r;
		}
		if (r < 0 && errno == EINTR)
			return 0;
		if (r < 0 && errno != EAGAIN)
			return over(j, errno, now, cut);
		if (r < 0 && !ended(j))
			return 0;	/* running: more may come */
		close(j->out);	/* end of file, or all of it read */
		j->out = -1;
	}
	if (!ended(j))
		return 0;	/* the runner will say how it ended */
	return over(j, 0, now, cut);
}

int
cgi_job_wait(struct cgi_job *j, long now, long *left)
{
	*left = j->deadline - now + (j->header_done ? GRACE_MS : 0);
	if (j->out == -1)
		return j->ctl;	/* output over: how did the script end? */
	if (!j->ended)
		event_add(&j->ev, NULL);  /* it may end with stdout held */
	return j->out;
}
