/*
 * helper.c: the life of a helper process (see helper.h): made, replaced,
 * retired and closed the same way whichever it is.  What it runs is the
 * caller's (supervise.c).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "helper.h"
#include "log.h"

void
helper_init(struct helper *h, const char *name)
{
	memset(h, 0, sizeof(*h));
	h->name = name;
	h->wsock = h->hsock = -1;
}

void
helper_close(struct helper *h)
{
	if (h->wsock != -1)
		close(h->wsock);
	if (h->hsock != -1)
		close(h->hsock);
	h->wsock = h->hsock = -1;
}

pid_t
helper_fork(struct helper *h)
{
	int	sv[2];

	if (h->hsock == -1) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
		    sv) == -1)
			goto fail;
		h->wsock = sv[0];
		h->hsock = sv[1];
	}
	if ((h->pid = fork()) == -1)
		goto fail;
	h->started = time(NULL);
	return h->pid;
fail:
	h->pid = 0;
	log_warnx("cannot start the %s: %s", h->name, strerror(errno));
	return -1;
}

void
helper_child(struct helper *h)
{
	close(h->wsock);
	h->wsock = -1;
}

pid_t
helper_retire(struct helper *h)
{
	pid_t	pid = h->pid;

	h->pid = 0;
	helper_close(h);
	return pid;
}

int
helper_died(struct helper *h, pid_t pid, int status, int stopping,
    int *quick)
{
	if (h->pid == 0 || pid != h->pid)
		return 0;
	h->pid = 0;
	if (stopping)
		return 2;
	log_warnx("%s %ld %s %d; starting a new one", h->name, (long)pid,
	    WIFSIGNALED(status) ? "killed by signal" : "exited with status",
	    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	if (time(NULL) - h->started >= 1)
		return 1;
	*quick = 1;
	return 2;
}
