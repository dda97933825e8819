/*
 * selfpipe.h: SIGCHLD and SIGTERM as a readable descriptor, for the poll
 * loops of the processes that start children: the CGI runner and the
 * Titan writer.  One per process.
 */
#ifndef CAPSULED_SELFPIPE_H
#define CAPSULED_SELFPIPE_H

/*
 * Make the pipe, catch SIGCHLD (not for stops) and SIGTERM, and unblock
 * every signal; 0, or -1 when the pipe cannot be made.
 */
int	selfpipe_init(void);
/* The end to poll for POLLIN: a signal came. */
int	selfpipe_fd(void);
/* Take what the signals wrote, before reaping. */
void	selfpipe_drain(void);
/* 1 once SIGTERM came: the parent is stopping. */
int	selfpipe_term(void);

#endif
