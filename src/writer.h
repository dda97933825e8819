/*
 * writer.h: the Titan writer, the only process that writes into a
 * capsule.
 *
 * A worker checks an upload (titan.c, upload.c) and sends the writer a
 * job over a SOCK_SEQPACKET socket: one datagram of NUL-terminated
 *	HOST=<index>  PATH=<URL path, checked>  SIZE=<bytes>
 * with one end of a stream socket attached (SCM_RIGHTS), down which the
 * worker then streams the body as it reads it from the client.  The
 * writer checks the job again (the path under a `titan` PATH of that
 * host, no dotfile), forks a child for it, and the child resolves the
 * directory beneath the root again (no symlink followed), writes the
 * body to a temporary dotfile there, fsyncs it, renames it over the
 * target and fsyncs the directory; size 0 unlinks the target.  It
 * answers on the stream socket with one line, "30" or "4x/5x why".
 * A body that ends short or stalls past request_timeout leaves nothing.
 */
#ifndef CAPSULED_WRITER_H
#define CAPSULED_WRITER_H

#include "config.h"

#define WRITER_MSG_MAX	2048
#define WRITER_JOBS	64	/* uploads at once; past it a job is refused */
#define WRITER_ANSWER	256	/* "NN meta\n" */

/* The writer process: serve jobs on sock until every worker has closed
 * it and no job is left.  Never returns. */
void	writer_main(const struct config *cf, const int *rootfds, int sock)
	    __attribute__((noreturn));

#endif
