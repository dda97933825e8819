/*
 * supervise.h: the parent, once it serves: it forks the workers and
 * the helpers of the generation, restarts what dies, and answers the
 * signals: SIGHUP reloads (a whole new generation, then the old one
 * retires), SIGUSR1 reopens the access log, SIGTERM and SIGINT stop.
 */
#ifndef CAPSULED_SUPERVISE_H
#define CAPSULED_SUPERVISE_H

#include "gen.h"

/*
 * Serve g (bound) until stopped; path is the config file reloads read.
 * pidfd (-1: none) is the parent's alone: no child keeps it; pidpath
 * names it in messages.  Returns when every child has gone.
 */
void	supervise(struct generation *g, const char *path, int pidfd,
	    const char *pidpath);

#endif
