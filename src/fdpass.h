/*
 * fdpass.h: a message and its descriptors in one SCM_RIGHTS sendmsg, as
 * workers hand jobs to the CGI runner and the Titan writer.
 */
#ifndef CAPSULED_FDPASS_H
#define CAPSULED_FDPASS_H

#include <sys/types.h>

#define FDPASS_MAX	2	/* descriptors a message may carry */

/* msg (len bytes) with nfd descriptors, without waiting; 0 or -1. */
int	fdpass_send(int sock, const void *msg, size_t len, const int *fds,
	    size_t nfd);

/*
 * One message into msg (size bytes) with exactly nfd descriptors, made
 * close-on-exec.  Any other shape (more or fewer descriptors, a cut
 * message) is dropped whole, its descriptors closed, so not even a
 * compromised worker can make the receiver hoard them.  The message's
 * length; 0 when there was none to take (or it was dropped); -1 at end
 * of file (every sender has gone) or on an error.
 */
ssize_t	fdpass_recv(int sock, void *msg, size_t size, int *fds, size_t nfd);

#endif
