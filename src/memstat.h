/*
 * memstat.h: a worker tells, on SIGUSR1, how much heap it has in use.
 */
#ifndef CAPSULED_MEMSTAT_H
#define CAPSULED_MEMSTAT_H

/* After event_init(): SIGUSR1 logs "worker PID: heap in use N bytes". */
void	memstat_init(void);

#endif
