/*
 * metrics.h: counters for Prometheus (metrics_file, metrics_interval).
 *
 * Each worker counts in a block of its own, in memory the parent maps
 * before the first fork (one block per shared.c slot): one writer per
 * block, so a count is a plain load and store, no lock.  The parent sums
 * the blocks of the live workers and its own total, into which it folds
 * a dead worker's block before the slot is used again (so no counter
 * goes backwards when a worker is killed), and writes the text
 * exposition format to metrics_file with an atomic rename.
 *
 * Workers count with one call where a thing happens: metrics_access
 * where the access-log line is written (a response carried out), and
 * handshakes, limits hit, CGI runs and timeouts where they are decided.
 */
#ifndef CAPSULED_METRICS_H
#define CAPSULED_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "logfmt.h"

#define METRICS_HOSTS	64	/* "-" (none yet), 62 names, "(other)" */
#define METRICS_CLASSES	7	/* none (no response), 1x .. 6x */
#define METRICS_STATUSES 70	/* 0, and 10 .. 69 */
#define METRICS_BUCKETS	12	/* request duration: finite buckets */

enum metrics_tls { METRICS_TLS_FULL, METRICS_TLS_RESUMED, METRICS_TLS_FAILED,
	METRICS_TLS_N };
enum metrics_limit { METRICS_LIMIT_PER_CLIENT, METRICS_LIMIT_FULL,
	METRICS_LIMIT_RATE, METRICS_LIMIT_CGI, METRICS_LIMIT_N };
enum metrics_cgi { METRICS_CGI_OK, METRICS_CGI_FAILED, METRICS_CGI_TIMEOUT,
	METRICS_CGI_CANCELLED, METRICS_CGI_N };
enum metrics_titan { METRICS_TITAN_WRITTEN, METRICS_TITAN_DELETED,
	METRICS_TITAN_REFUSED, METRICS_TITAN_FAILED, METRICS_TITAN_N };
enum metrics_timeout { METRICS_TIMEOUT_HANDSHAKE, METRICS_TIMEOUT_REQUEST,
	METRICS_TIMEOUT_UPLOAD, METRICS_TIMEOUT_RESPONSE, METRICS_TIMEOUT_N };

/* Where each counter is in a block. */
enum {
	M_REQUESTS = 0,		/* [host][class] */
	M_BYTES = M_REQUESTS + METRICS_HOSTS * METRICS_CLASSES,  /* [host] */
	M_STATUS = M_BYTES + METRICS_HOSTS,	/* [status] */
	M_DURATION = M_STATUS + METRICS_STATUSES,	/* [bucket], +Inf */
	M_DURATION_MS = M_DURATION + METRICS_BUCKETS + 1,	/* the sum */
	M_TLS = M_DURATION_MS + 1,
	M_LIMITS = M_TLS + METRICS_TLS_N,
	M_CGI = M_LIMITS + METRICS_LIMIT_N,
	M_UPSTREAM = M_CGI + METRICS_CGI_N,	/* the same outcomes */
	M_TITAN = M_UPSTREAM + METRICS_CGI_N,
	M_TIMEOUTS = M_TITAN + METRICS_TITAN_N,
	M_LOG_LOST = M_TIMEOUTS + METRICS_TIMEOUT_N,
	M_RESTARTS,
	M_COUNT
};

struct metrics_counts {
	uint64_t	v[M_COUNT];
};

/* The upper bounds of the duration buckets, in milliseconds. */
extern const long metrics_bucket_ms[METRICS_BUCKETS];

/* What the exposition shows besides the counters. */
struct metrics_view {
	const struct metrics_counts *counts;
	const char	*const *hosts;	/* the name of each host id */
	size_t		 nhosts;
	long		 open;		/* connections open */
	int		 workers;	/* worker processes alive */
	long long	 started;	/* the parent's start, Unix seconds */
	const char	*version;
	const char	*tls_library;
};

/*
 * Pure: the text exposition format (version 0.0.4) of a view into buf;
 * returns the length it needs (as snprintf), which is written whole only
 * when it is below len.
 */
size_t	metrics_render(const struct metrics_view *, char *buf, size_t len);

/* Parent: map the blocks once, before the first fork; 0 or -1. */
int	metrics_init(char *err, size_t errlen);
/* Parent, at start, -n and reload: can metrics_file be written there? */
int	metrics_check(const struct config *, char *err, size_t errlen);
/* Parent, before a generation forks: give its host names ids. */
void	metrics_hosts(const struct config *);
/* A new worker: count in slot's block, for cf's hosts. */
void	metrics_worker(int slot, const struct config *cf);
/* Parent: slot's worker is gone (-1: not a worker): fold its block. */
void	metrics_reaped(int slot);
/* Parent: the totals now, its own and every live worker's. */
void	metrics_snapshot(struct metrics_counts *);
/* Parent: a serving worker died (not retired): it is restarted. */
void	metrics_worker_died(void);
/*
 * Parent, each turn of its loop: write metrics_file when it is due;
 * how long to wait for the next (NULL: no metrics, wait for a signal).
 */
struct timespec *metrics_tick(const struct config *);

/* Workers: one call each, where the thing happens. */
void	metrics_access(const struct access_entry *);
void	metrics_handshake(enum metrics_tls);
void	metrics_limit(enum metrics_limit);
void	metrics_cgi(enum metrics_cgi);
void	metrics_upstream(enum metrics_cgi);	/* fastcgi, scgi, proxy */
void	metrics_timeout(enum metrics_timeout);
/* Any process: a log line that could not be written. */
void	metrics_log_lost(void);

#endif
