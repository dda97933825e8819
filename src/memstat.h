/*
 * memstat.h: a worker's heap: how much is in use, said on SIGUSR1; and
 * the free pages a burst of connections leaves behind, handed back.
 */
#ifndef CAPSULED_MEMSTAT_H
#define CAPSULED_MEMSTAT_H

/* After event_init(): SIGUSR1 logs "worker PID: heap in use N bytes". */
void	memstat_init(void);

/*
 * Connections came or went.  Once that has not happened for
 * MEMSTAT_QUIET_MS, the whole pages the heap holds free go back to the
 * kernel (glibc's malloc_trim; other allocators return them by
 * themselves).  A handshake frees most of what it took (OpenSSL's
 * buffers, its handshake state), and after a burst those pieces lie
 * between the connections that stay, where the allocator keeps them:
 * 0.7 KB per connection when 10,000 arrive 256 at a time.
 */
#define MEMSTAT_QUIET_MS	500
void	memstat_busy(void);

#endif
