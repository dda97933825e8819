/*
 * cgijob.h: a CGI script's output as the connection reads it (server.c
 * is the only user).  The job holds the script's stdout pipe, the
 * control socket to the runner (closing it kills the script), the
 * header as it comes, the output cap and the deadline, and what the
 * runner says of the script's end: "exit <wait status>" once its own
 * process has exited, or "fail <errno> <what>" when it could not be
 * started; end of file when the runner has given it up.
 *
 * Times are the connection's: milliseconds since it was accepted.
 */
#ifndef CAPSULED_CGIJOB_H
#define CAPSULED_CGIJOB_H

#include <sys/types.h>
#include <stddef.h>

#include "url.h"

struct cgi_job;

/*
 * Take outfd (non-blocking) and ctlfd; NULL when out of memory (both
 * are closed then).  addr names the client in log lines and must live
 * as long as the job.  cb(fd, what, arg) runs when the runner speaks
 * while the job waits (cgi_job_wait).
 */
struct cgi_job	*cgi_job_new(int outfd, int ctlfd, const char *script,
		    const char *addr, long deadline, long long max_output,
		    void (*cb)(int, short, void *), void *arg);
/* Close both descriptors: the runner kills what is left of the script. */
void		 cgi_job_free(struct cgi_job *);

/*
 * The header: 1 when it is there (*status and meta set) or when it
 * never will be (*why: answer 42, already logged); 0: wait.
 */
int		 cgi_job_header(struct cgi_job *, long now, int *status,
		    char meta[URL_MAX + 1], const char **why);

/* The deadline passed before the header: said in the log, and counted. */
void		 cgi_job_expired(struct cgi_job *);

/*
 * Body bytes into buf: > 0 read; 0 none now (wait); -1 the body is
 * over, whole or not (*cut, logged): free the job.
 */
ssize_t		 cgi_job_read(struct cgi_job *, char *buf, size_t room,
		    long now, int *cut);

/* What to wait for: the fd to read, and *left ms before giving up. */
int		 cgi_job_wait(struct cgi_job *, long now, long *left);

#endif
