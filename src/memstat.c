/*
 * memstat.c: a worker's heap in use, said in the error log when the
 * worker (not the parent: its SIGUSR1 rotates the logs) gets SIGUSR1;
 * and the free pages of the heap handed back once connections stop
 * coming and going for a moment (memstat.h says why).
 *
 * From the allocator's own counters, not the resident size: glibc's
 * high-water mark keeps rising for a dozen rounds of a load before it
 * levels off, so a resident size compared before and after a load flags
 * the allocator warming up as a leak, or hides a leak under the slack
 * that warming up needs.  Bytes in use go back to where they were when
 * every connection has closed, or there is a leak
 * (tests/regress/test_hostile.py).  Where no counter is known (OpenBSD)
 * the line says so.
 */
#include <sys/types.h>

#include <signal.h>
#include <stddef.h>
#include <time.h>
#include <unistd.h>

#include <event.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MEMSTAT_ASAN	1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define MEMSTAT_ASAN	1
#endif
#if !defined(MEMSTAT_ASAN) && defined(__GLIBC__) && \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#define MEMSTAT_GLIBC	1
#endif
#if !defined(MEMSTAT_ASAN) && defined(__GLIBC__)
#define MEMSTAT_TRIM	1
#include <malloc.h>
#endif

#include "log.h"
#include "memstat.h"

#ifdef MEMSTAT_ASAN
/* the sanitizer's allocator: malloc(3)'s own counters see none of it */
size_t	__sanitizer_get_current_allocated_bytes(void);
#endif

static struct event	ev_usr1, ev_trim;
static struct timespec	last_busy;

/* -1 when this allocator has no counter we know */
static long long
heap_in_use(void)
{
#if defined(MEMSTAT_ASAN)
	return (long long)__sanitizer_get_current_allocated_bytes();
#elif defined(MEMSTAT_GLIBC)
	struct mallinfo2	mi = mallinfo2();

	return (long long)mi.uordblks + (long long)mi.hblkhd;
#else
	return -1;
#endif
}

static void
memstat_cb(int sig, short ev, void *arg)
{
	long long	n = heap_in_use();

	(void)sig;
	(void)ev;
	(void)arg;
	if (n < 0)
		log_info("worker %ld: heap in use unknown (no allocator "
		    "counter)", (long)getpid());
	else
		log_info("worker %ld: heap in use %lld bytes", (long)getpid(),
		    n);
}

static long
quiet_ms(void)
{
	struct timespec	now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - last_busy.tv_sec) * 1000 +
	    (now.tv_nsec - last_busy.tv_nsec) / 1000000;
}

static void
trim_later(long ms)
{
	struct timeval	tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(&ev_trim, &tv);
}

/* Quiet long enough: trim; else look again when it would be. */
static void
trim_cb(int fd, short ev, void *arg)
{
	long	quiet = quiet_ms();

	(void)fd;
	(void)ev;
	(void)arg;
	if (quiet < MEMSTAT_QUIET_MS) {
		trim_later(MEMSTAT_QUIET_MS - quiet);
		return;
	}
#ifdef MEMSTAT_TRIM
	malloc_trim(0);		/* about 0.7 ms with 10,000 connections */
#endif
}

void
memstat_busy(void)
{
	clock_gettime(CLOCK_MONOTONIC, &last_busy);
	if (!evtimer_pending(&ev_trim, NULL))
		trim_later(MEMSTAT_QUIET_MS);
}

void
memstat_init(void)
{
	signal_set(&ev_usr1, SIGUSR1, memstat_cb, NULL);
	signal_add(&ev_usr1, NULL);
	evtimer_set(&ev_trim, trim_cb, NULL);
}
