/*
 * helper.h: a process that serves a generation's workers over a socket
 * pair: the CGI runner, the Titan writer.  The parent keeps both ends
 * of the socket, so a helper that dies is replaced from the config in
 * memory (never the file on disk, which may be half edited) and the
 * workers carry on with the end they have.
 */
#ifndef CAPSULED_HELPER_H
#define CAPSULED_HELPER_H

#include <sys/types.h>
#include <time.h>

struct helper {
	const char	*name;		/* for the log: "CGI runner" */
	int		 wsock;		/* the workers' end; -1: none */
	int		 hsock;		/* the helper's end */
	pid_t		 pid;		/* 0: none running */
	time_t		 started;
};

void	helper_init(struct helper *, const char *name);

/* Both ends of its socket, as far as this process holds them. */
void	helper_close(struct helper *);

/*
 * Fork it, on its socket (made now if it has none).  As fork(2): 0 in
 * the child, which then keeps its own end only (helper_child); the pid
 * in the parent; -1 when it could not (logged).
 */
pid_t	helper_fork(struct helper *);

/* In the child: close the workers' end, or it would never see EOF. */
void	helper_child(struct helper *);

/*
 * It leaves by itself once its workers are gone and its jobs are done;
 * a signal now would cut short the scripts and uploads of responses
 * still in flight.  The parent lets go of it: its pid (0: none), for
 * the caller to wait for.
 */
pid_t	helper_retire(struct helper *);

/*
 * Was pid this helper?  0: no.  1: it died; start a new one now.  2:
 * not now: never while stopping, and after a death within a second of
 * its start only later (*quick set), so there is no fork storm.
 */
int	helper_died(struct helper *, pid_t pid, int status, int stopping,
	    int *quick);

#endif
