/*
 * runner.h: the message a worker sends the CGI runner (see cgi.h).
 * One SOCK_SEQPACKET datagram of NUL-terminated strings:
 *   HOST=<index>  SCRIPT=<path under the root>  TIMEOUT=<seconds>
 * then the script's environment, one KEY=value each; with it, by
 * SCM_RIGHTS, the write end of the stdout pipe and the control socket.
 */
#ifndef CAPSULED_RUNNER_H
#define CAPSULED_RUNNER_H

#define RUNNER_MSG_MAX	16384
#define RUNNER_ENV_MAX	64	/* variables a job may carry */

#endif
