/*
 * bench/counting.c: what a worker's counting and its access-log line
 * cost per request (issue 23), alone.
 *
 *	bench/counting [-n count]
 *
 * Does count times (default 10,000,000) what a worker counts for one
 * request (a full handshake, then metrics_access where the access-log
 * line is written), into a real block of shared memory; then makes the
 * access-log line of a typical request count times in each log_format
 * (the formatting only: the write(2) is the same for all), and a
 * client's address as log_ip truncated keeps it (once per connection).
 * Prints the CPU time of each per request.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "logfmt.h"
#include "metrics.h"
#include "shared.h"

static double
cpu_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int
main(int argc, char *argv[])
{
	static const char *const names[] = { "capsuled", "common",
	    "combined", "json" };
	static const char	 req[] = "gemini://branch.example.org/disputes/"
	    "2026-03-04-strike-dates.gmi";
	struct access_entry	 e;
	struct host_cfg		 host;
	struct config		 cf;
	char			 err[256], line[LOGFMT_LINE_MAX];
	char			 addr[LOGFMT_ADDR_MAX];
	double			 t0, sink = 0;
	long			 count = 10000000, lines, i;
	int			 ch, slot, f;

	while ((ch = getopt(argc, argv, "n:")) != -1) {
		if (ch != 'n' || (count = strtol(optarg, NULL, 10)) < 1) {
			fprintf(stderr, "usage: counting [-n count]\n");
			return 2;
		}
	}
	memset(&cf, 0, sizeof(cf));
	memset(&host, 0, sizeof(host));
	snprintf(host.name, sizeof(host.name), "branch.example.org");
	cf.hosts = &host;
	cf.nhosts = 1;
	if (shared_init(1024, err, sizeof(err)) == -1 ||
	    metrics_init(err, sizeof(err)) == -1) {
		fprintf(stderr, "counting: %s\n", err);
		return 1;
	}
	metrics_hosts(&cf);
	slot = shared_slot_claim();
	shared_slot_bind(slot, getpid());
	metrics_worker(slot, &cf);
	lines = count / 10 > 0 ? count / 10 : 1;

	memset(&e, 0, sizeof(e));
	e.addr = "192.0.2.0";
	e.host = host.name;
	e.hostid = 0;
	e.request = req;
	e.reqlen = sizeof(req) - 1;
	e.status = 20;
	e.bytes = 2310;
	e.header = 28;
	e.tls = "TLSv1.3";
	t0 = cpu_ns();
	for (i = 0; i < count; i++) {
		e.msec = i & 255;	/* a different bucket now and then */
		metrics_handshake(METRICS_TLS_FULL);
		metrics_access(&e);
	}
	printf("counting: %.1f ns per request\n", (cpu_ns() - t0) /
	    (double)count);
	for (f = LOG_CAPSULED; f <= LOG_JSON; f++) {
		t0 = cpu_ns();
		for (i = 0; i < lines; i++)
			sink += (double)logfmt_line(line, (enum log_format)f,
			    &e, (time_t)1772619302 + i);
		printf("log line, %s: %.1f ns\n", names[f],
		    (cpu_ns() - t0) / (double)lines);
	}
	t0 = cpu_ns();
	for (i = 0; i < lines; i++) {
		logfmt_addr(i & 1 ? "192.0.2.77" : "2001:db8:1:2::7",
		    LOG_IP_TRUNCATED, addr);
		sink += addr[0];
	}
	printf("log_ip truncated: %.1f ns per connection\n",
	    (cpu_ns() - t0) / (double)lines);
	return sink > 0 ? 0 : 1;
}
