/*
 * metrics_test.c: what each call counts, a dead worker's counters kept
 * by the parent (no counter goes backwards), and the text exposition
 * format the parent writes (promtool checks the whole file in
 * tests/regress/test_metrics.py).
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "logfmt.h"
#include "metrics.h"
#include "shared.h"
#include "tap.h"

static struct access_entry
entry(int hostid, int status, long msec)
{
	struct access_entry	e;

	memset(&e, 0, sizeof(e));
	e.addr = "-";
	e.host = "";
	e.hostid = hostid;
	e.status = status;
	e.bytes = 1000;
	e.header = 24;
	e.msec = msec;
	return e;
}

static uint64_t
at(size_t i)
{
	struct metrics_counts	c;

	metrics_snapshot(&c);
	return c.v[i];
}

static void
counting(const struct config *cf)
{
	struct access_entry	e;

	/* host ids: 0 is "-", then the hosts in the order first seen */
	e = entry(1, 51, 3);
	metrics_access(&e);
	e = entry(-1, 59, 12000);
	metrics_access(&e);
	ok(at(M_REQUESTS + 2 * METRICS_CLASSES + 5) == 1,
	    "a 51 for the second host: its 5x");
	ok(at(M_REQUESTS + 0 * METRICS_CLASSES + 5) == 1,
	    "a 59 before any host: host \"-\"");
	ok(at(M_BYTES + 2) == 976, "body bytes, not the header's");
	ok(at(M_STATUS + 51) == 1 && at(M_STATUS + 59) == 1, "by status");
	ok(at(M_DURATION + 0) == 1 && at(M_DURATION + 11) == 1 &&
	    at(M_DURATION_MS) == 12003, "duration: 3 ms <= 5 ms, 12 s <= 30 s, "
	    "and the sum");
	e = entry(0, 0, 40000);
	metrics_access(&e);
	ok(at(M_DURATION + METRICS_BUCKETS) == 1 &&
	    at(M_REQUESTS + 1 * METRICS_CLASSES + 0) == 1,
	    "over 30 s: +Inf; no response: class none");
	e = entry(0, 30, 1);
	e.kind = ENTRY_TITAN_DELETE;
	metrics_access(&e);
	e.kind = ENTRY_TITAN_WRITE;
	e.status = 40;
	metrics_access(&e);
	e.kind = ENTRY_TITAN_REFUSED;
	e.status = 61;
	metrics_access(&e);
	ok(at(M_TITAN + METRICS_TITAN_DELETED) == 1 &&
	    at(M_TITAN + METRICS_TITAN_FAILED) == 1 &&
	    at(M_TITAN + METRICS_TITAN_REFUSED) == 1 &&
	    at(M_TITAN + METRICS_TITAN_WRITTEN) == 0, "uploads by outcome");
	metrics_handshake(METRICS_TLS_RESUMED);
	metrics_limit(METRICS_LIMIT_RATE);
	metrics_cgi(METRICS_CGI_TIMEOUT);
	metrics_timeout(METRICS_TIMEOUT_RESPONSE);
	metrics_log_lost();
	ok(at(M_TLS + METRICS_TLS_RESUMED) == 1 &&
	    at(M_LIMITS + METRICS_LIMIT_RATE) == 1 &&
	    at(M_CGI + METRICS_CGI_TIMEOUT) == 1 &&
	    at(M_TIMEOUTS + METRICS_TIMEOUT_RESPONSE) == 1 &&
	    at(M_LOG_LOST) == 1, "one each: handshake, limit, CGI, timeout, "
	    "log line lost");
	(void)cf;
}

/* A worker counts in its slot; once it is reaped, the parent has it. */
static void
folding(const struct config *cf)
{
	char		err[256];
	uint64_t	before;
	int		slot;
	struct access_entry e = entry(1, 20, 1);

	ok(shared_init(16, err, sizeof(err)) == 0 &&
	    metrics_init(err, sizeof(err)) == 0, "shared memory mapped");
	slot = shared_slot_claim();
	shared_slot_bind(slot, getpid());
	before = at(M_STATUS + 20);
	metrics_worker(slot, cf);
	metrics_access(&e);
	metrics_access(&e);
	ok(at(M_STATUS + 20) == before + 2, "a worker's counts are summed");
	metrics_reaped(shared_slot_release(getpid()));
	ok(at(M_STATUS + 20) == before + 2, "and kept when it is reaped");
	metrics_access(&e);	/* into the freed slot: nobody's */
	ok(at(M_STATUS + 20) == before + 2, "a free slot is not summed");
}

static const char *
line_of(const char *text, const char *prefix)
{
	const char	*p = text;

	while ((p = strstr(p, prefix)) != NULL) {
		if (p == text || p[-1] == '\n')
			return p;
		p++;
	}
	return NULL;
}

static void
has(const char *text, const char *line)
{
	const char	*p = line_of(text, line);
	size_t		 n = strlen(line);

	ok(p != NULL && (p[n] == '\n'), "a line: %s", line);
}

static void
rendering(void)
{
	static const char *const hosts[] = { "-", "a\"b\\c\nd", "(other)" };
	struct metrics_counts	c;
	struct metrics_view	v;
	char			small[64], *buf;
	size_t			need, i;

	memset(&c, 0, sizeof(c));
	c.v[M_REQUESTS + 1 * METRICS_CLASSES + 2] = 7;
	c.v[M_STATUS + 20] = 7;
	c.v[M_STATUS + 25] = 1;
	c.v[M_DURATION + 0] = 2;
	c.v[M_DURATION + 3] = 1;
	c.v[M_DURATION + METRICS_BUCKETS] = 1;
	c.v[M_DURATION_MS] = 31234;
	c.v[M_CGI + METRICS_CGI_CANCELLED] = 4;
	memset(&v, 0, sizeof(v));
	v.counts = &c;
	v.hosts = hosts;
	v.nhosts = 3;
	v.open = 5;
	v.workers = 2;
	v.started = 1728568536;
	v.version = "0.1";
	v.tls_library = "OpenSSL \"3\"";
	need = metrics_render(&v, small, sizeof(small));
	ok(need > sizeof(small) && strlen(small) < sizeof(small),
	    "too small a buffer: the size needed, nothing written past it");
	buf = malloc(need + 1);
	ok(buf != NULL && metrics_render(&v, buf, need + 1) == need &&
	    strlen(buf) == need, "then all of it");
	if (buf == NULL)
		return;
	has(buf, "capsuled_build_info{version=\"0.1\",tls=\"OpenSSL \\\"3\\\"\"} 1");
	has(buf, "capsuled_connections_open 5");
	has(buf, "capsuled_workers 2");
	has(buf, "capsuled_requests_total{host=\"a\\\"b\\\\c\\nd\",class=\"2x\"} 7");
	has(buf, "capsuled_requests_total{host=\"(other)\",class=\"none\"} 0");
	has(buf, "capsuled_responses_total{status=\"25\"} 1");
	has(buf, "capsuled_responses_total{status=\"44\"} 0");
	ok(line_of(buf, "capsuled_responses_total{status=\"26\"}") == NULL,
	    "an undefined status never sent is left out");
	has(buf, "capsuled_request_duration_seconds_bucket{le=\"0.005\"} 2");
	has(buf, "capsuled_request_duration_seconds_bucket{le=\"0.05\"} 3");
	has(buf, "capsuled_request_duration_seconds_bucket{le=\"30\"} 3");
	has(buf, "capsuled_request_duration_seconds_bucket{le=\"+Inf\"} 4");
	has(buf, "capsuled_request_duration_seconds_sum 31.234");
	has(buf, "capsuled_request_duration_seconds_count 4");
	has(buf, "capsuled_cgi_runs_total{outcome=\"cancelled\"} 4");
	has(buf, "# TYPE capsuled_request_duration_seconds histogram");
	for (i = 0; i < need; i++)
		if (buf[i] == '\0')
			break;
	ok(i == need && buf[need - 1] == '\n', "text, ending in a newline");
	free(buf);
}

int
main(void)
{
	struct host_cfg	hosts[2];
	struct config	cf;

	memset(&cf, 0, sizeof(cf));
	memset(hosts, 0, sizeof(hosts));
	snprintf(hosts[0].name, sizeof(hosts[0].name), "localhost");
	snprintf(hosts[1].name, sizeof(hosts[1].name), "example.org");
	cf.hosts = hosts;
	cf.nhosts = 2;
	metrics_hosts(&cf);
	metrics_worker(-1, &cf);	/* no slot: counts in its own */
	counting(&cf);
	folding(&cf);
	rendering();
	return tap_done();
}
