/*
 * cgijob.c: a CGI script's output as the engine reads it (see
 * cgijob.h): its header, checked before anything reaches the client;
 * its body, capped; and its end, which the runner reports, so that the
 * body ends when the script's own process has exited and what it wrote
 * is read (a background child holding stdout cannot hold it), and is
 * marked cut when the script failed after its header.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgijob.h"
#include "log.h"
#include "logfmt.h"
#include "metrics.h"
#include "plan.h"
#include "url.h"

#define GRACE_MS	1000	/* past the deadline: a runner that cannot */

struct cgi_job {
	int		 out;		/* the script's stdout; -1 once over */
	int		 ctl;		/* to the runner */
	char		 addr[LOGFMT_ADDR_MAX];	/* the client, as logged */
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

static int	jobs;		/* open in this worker */

int
cgi_parse_header(const char *buf, size_t len, int *status,
    char meta[URL_MAX + 1], const char **why)
{
	const char	*lf = memchr(buf, '\n', len);
	size_t		 mlen, i;

	if (lf == NULL)
		return 0;
	if (lf == buf || lf[-1] != '\r')
		return *why = "header ends with a lone LF", -1;
	len = lf - buf - 1;		/* the line without CRLF */
	if (len < 2 || buf[0] < '1' || buf[0] > '6' || buf[1] < '0' ||
	    buf[1] > '9')
		return *why = "header does not start with a status "
		    "10 to 69", -1;
	if (len > 2 && buf[2] != ' ')
		return *why = "header: no space after the status", -1;
	mlen = len > 3 ? len - 3 : 0;
	if (mlen > URL_MAX)
		return *why = "header meta over 1024 bytes", -1;
	for (i = 0; i < mlen; i++)
		if ((unsigned char)buf[3 + i] < 0x20 || buf[3 + i] == 0x7f)
			return *why = "header meta has control bytes", -1;
	if (!url_utf8_valid(buf + 3, mlen))
		return *why = "header meta is not UTF-8", -1;
	*status = (buf[0] - '0') * 10 + (buf[1] - '0');
	memcpy(meta, buf + 3, mlen);
	meta[mlen] = '\0';
	return (int)(lf - buf + 1);
}

size_t
cgi_header_rest(const char *hdr, size_t len, size_t *off, char *buf,
    size_t room)
{
	if (*off >= len)
		return 0;
	if (room > len - *off)
		room = len - *off;
	memcpy(buf, hdr + *off, room);
	*off += room;
	return room;
}

int
cgi_job_count(void)
{
	return jobs;
}

struct cgi_job *
cgi_job_new(int outfd, int ctlfd, const char *script, const char *addr,
    long deadline, long long max_output)
{
	struct cgi_job	*j;

	if ((j = calloc(1, sizeof(*j))) == NULL) {
		close(outfd);
		close(ctlfd);
		return NULL;
	}
	j->out = outfd;
	j->ctl = ctlfd;
	(void)snprintf(j->addr, sizeof(j->addr), "%s", addr);
	(void)snprintf(j->script, sizeof(j->script), "%s", script);
	j->deadline = deadline;
	j->left = max_output;
	j->outcome = METRICS_CGI_CANCELLED;	/* until it is known */
	jobs++;
	return j;
}

/* Close both descriptors: the runner kills what is left of the script. */
static void
job_finish(void *arg)
{
	struct cgi_job	*j = arg;

	metrics_cgi(j->outcome);
	if (j->out != -1)
		close(j->out);
	close(j->ctl);
	free(j);
	jobs--;
}

/*
 * What to wait for: the script's output, and (while the runner has not
 * said how it ended) the control socket too, since a script may end
 * with its stdout held by a child that escaped its group; once the
 * output is over, only the control socket.
 */
static void
job_wait(const struct cgi_job *j, long now, struct plan_wait *w)
{
	w->left = j->deadline - now + (j->header_done ? GRACE_MS : 0);
	w->events = PLAN_READ;
	w->fd = j->out != -1 ? j->out : j->ctl;
	w->also = j->out != -1 && !j->ended ? j->ctl : -1;
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

/*
 * Read the script's stdout.  When it has nothing (EAGAIN) and the
 * script turns out to have ended since, read once more: what it wrote
 * before it ended is in the pipe by now, and an empty read from before
 * must not stand for all it wrote (42 "ended without output", or a body
 * cut short and called whole).
 */
static ssize_t
read_out(struct cgi_job *j, char *buf, size_t len)
{
	ssize_t	n;

	n = read(j->out, buf, len);
	if (n < 0 && errno == EAGAIN && !j->ended) {
		if (ended(j))
			n = read(j->out, buf, len);
		else
			errno = EAGAIN;	/* ended() read the control socket */
	}
	return n;
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

/*
 * The header: 1 when it is there (*status and meta) or when it never
 * will be (42 and why, logged); 0: wait.
 */
static int
job_header(void *arg, long now, int *status, char meta[URL_MAX + 1],
    struct plan_wait *w)
{
	struct cgi_job	*j = arg;
	const char	*f, *why = NULL;
	char		 bad[96];
	ssize_t		 n;
	int		 end;

	for (;;) {
		if ((end = cgi_parse_header(j->hdr, j->hdrlen, status, meta,
		    &why)) > 0) {
			j->hdroff = (size_t)end;
			j->left -= (long long)(j->hdrlen - j->hdroff);
			j->header_done = 1;
			/* a body to come is not over yet: no body, done */
			if (*status / 10 != 2)
				j->outcome = METRICS_CGI_OK;
			return 1;
		}
		if (end < 0) {
			(void)snprintf(bad, sizeof(bad), "CGI %s", why);
			why = bad;
			break;
		}
		if (j->hdrlen == sizeof(j->hdr)) {
			why = "CGI header line too long";
			break;
		}
		n = read_out(j, j->hdr + j->hdrlen, sizeof(j->hdr) - j->hdrlen);
		if (n > 0) {
			j->hdrlen += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN && !ended(j) &&
		    now < j->deadline) {
			job_wait(j, now, w);
			return 0;
		}
		if (now >= j->deadline) {
			/* its time is up (the runner's kill may be seen first) */
			log_warnx("%s: CGI %s timed out before its header",
			    j->addr, j->script);
			j->outcome = METRICS_CGI_TIMEOUT;
			*status = 42;
			(void)snprintf(meta, URL_MAX + 1, "CGI script timed out");
			return 1;
		}
		why = j->hdrlen ? "CGI script ended inside its header" :
		    "CGI script ended without output";
		/* it never ran: say why (the start's errno) instead */
		if ((f = failure(j)) != NULL && strncmp(f, "could not", 9) == 0) {
			log_warnx("%s: CGI %s %s", j->addr, j->script, f);
			why = "CGI script could not be run";
		}
		break;
	}
	log_warnx("%s: %s: %s", j->addr, j->script, why);
	j->outcome = METRICS_CGI_FAILED;
	*status = 42;
	(void)snprintf(meta, URL_MAX + 1, "%s", why);
	return 1;
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

/*
 * Body bytes into buf: > 0 read; 0 none now (wait); -1 the body is
 * over, whole or not (*cut, logged).
 */
static ssize_t
job_read(void *arg, char *buf, size_t room, long now, int *cut,
    struct plan_wait *w)
{
	struct cgi_job	*j = arg;
	ssize_t		 r;
	size_t		 n;

	*cut = 0;
	if ((n = cgi_header_rest(j->hdr, j->hdrlen, &j->hdroff, buf,
	    room)) > 0)
		return (ssize_t)n;
	/* asked again past its grace: the runner never ended it; we do */
	if (now >= j->deadline + GRACE_MS)
		return over(j, 0, now, cut);
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
		if ((r = read_out(j, buf, room)) > 0) {
			j->left -= r;
			return r;
		}
		if (r < 0 && errno == EINTR) {
			job_wait(j, now, w);
			return 0;
		}
		if (r < 0 && errno != EAGAIN)
			return over(j, errno, now, cut);
		if (r < 0 && !ended(j)) {
			job_wait(j, now, w);
			return 0;	/* running: more may come */
		}
		close(j->out);	/* end of file, or all of it read */
		j->out = -1;
	}
	if (!ended(j)) {
		job_wait(j, now, w);
		return 0;	/* the runner will say how it ended */
	}
	return over(j, 0, now, cut);
}

const struct stream_ops	cgi_stream = {
	job_header,
	job_read,
	job_finish,
};
