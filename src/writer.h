/*
 * writer.h: the Titan writer, the only process that writes into a
 * capsule.
 *
 * A worker checks an upload (titan.c, upload.c) and sends the writer a
 * job over a SOCK_SEQPACKET socket: one datagram of NUL-terminated
 *	HOST=<index>  PATH=<URL path, checked>  SIZE=<bytes>
 *	DEADLINE=<ms for the body>  CERT=<64 hex>  ADDR=<client address>
 * with one end of a stream socket attached (SCM_RIGHTS).  The writer
 * checks the job again (the path under a `titan` PATH of that host, no
 * dotfile), admits it or not (titan_admit: slots, caps per certificate
 * and address), and forks a child for it.  On the stream socket, lines:
 *
 *	child -> worker	"A"		send the body (size > 0 only)
 *	worker -> child	<size bytes>	the body
 *	child -> worker	"R <inode>"	ready: the temporary file is written
 *					and synced (a delete: the target's
 *					inode, checked)
 *	worker -> child	"C"		commit: rename (or unlink) it now
 *	child -> worker	"30" | "NN why"	the outcome
 *
 * and "NN why" in place of "A" or "R" when the job is refused or fails
 * (44 when it is not admitted, 5x for the upload's own fault, 4x for
 * the server's).  The child renames only after "C": a worker that has
 * given up closes the socket instead, and the child then removes its
 * temporary file, so a client told the upload failed never finds it
 * stored.  Once it has sent "C" the worker waits for the outcome for as
 * long as it takes; if the child ends without one, the worker compares
 * the target's inode with the one "R" gave.  A body that ends short,
 * stalls or passes its deadline leaves nothing.
 */
#ifndef CAPSULED_WRITER_H
#define CAPSULED_WRITER_H

#include "config.h"

#define WRITER_MSG_MAX	2048
#define WRITER_JOBS	64	/* uploads at once, in all */
#define WRITER_RESERVE	8	/* of those, for clients with none running */
#define WRITER_ANSWER	256	/* "NN meta\n" */
#define WRITER_BUSY	"44 5"	/* not admitted: try again in 5 s */

/* The writer process: serve jobs on sock until every worker has closed
 * it and no job is left.  Never returns. */
void	writer_main(const struct config *cf, const int *rootfds, int sock)
	    __attribute__((noreturn));

#endif
