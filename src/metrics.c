/*
 * metrics.c: counters per worker, summed and written by the parent.
 * See metrics.h.
 *
 * A count is an atomic load and store, relaxed: one process writes a
 * block, so no increment is lost, and the parent's reads never tear.
 * Host names get ids from the parent before a generation forks (ids
 * only grow, so a worker of an older generation keeps counting under
 * the right name); a worker maps its config's hosts to them once.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/opensslv.h>

#include "config.h"
#include "log.h"
#include "logfmt.h"
#include "metrics.h"
#include "shared.h"
#include "url.h"

#define HOST_NONE	0			/* no host chosen yet */
#define HOST_OTHER	(METRICS_HOSTS - 1)	/* past the last id */

const long metrics_bucket_ms[METRICS_BUCKETS] = { 5, 10, 25, 50, 100, 250,
    500, 1000, 2500, 5000, 10000, 30000 };
static const char *const bucket_le[METRICS_BUCKETS] = { "0.005", "0.01",
    "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30" };

typedef _Atomic uint64_t counter;

static counter	*blocks;		/* SHARED_SLOTS blocks */
static counter	 own[M_COUNT];		/* the parent's, and the dead's */
static counter	*mine = own;		/* where this process counts */
static char	 names[METRICS_HOSTS][URL_HOST_MAX + 1] = { "-" };
static size_t	 nnames = 1;
static unsigned char *hostmap;		/* a worker: config index -> id */
static size_t	 nhostmap;
static time_t	 started;

static void
add(size_t i, uint64_t n)
{
	atomic_store_explicit(&mine[i], atomic_load_explicit(&mine[i],
	    memory_order_relaxed) + n, memory_order_relaxed);
}

void
metrics_access(const struct access_entry *e)
{
	size_t	host = HOST_NONE, b;
	int	st = e->status >= 0 && e->status < METRICS_STATUSES ?
		    e->status : 0;

	if (e->hostid >= 0)
		host = (size_t)e->hostid < nhostmap ? hostmap[e->hostid] :
		    HOST_OTHER;
	add(M_REQUESTS + host * METRICS_CLASSES + (size_t)st / 10, 1);
	if (e->bytes > e->header)
		add(M_BYTES + host, e->bytes - e->header);
	add(M_STATUS + (size_t)st, 1);
	for (b = 0; b < METRICS_BUCKETS && e->msec > metrics_bucket_ms[b]; b++)
		continue;
	add(M_DURATION + b, 1);
	add(M_DURATION_MS, e->msec > 0 ? (uint64_t)e->msec : 0);
	if (e->kind == ENTRY_TITAN_REFUSED)
		add(M_TITAN + METRICS_TITAN_REFUSED, 1);
	else if (e->kind != ENTRY_GEMINI)
		add(M_TITAN + (st / 10 != 3 || e->cut ? METRICS_TITAN_FAILED :
		    e->kind == ENTRY_TITAN_DELETE ? METRICS_TITAN_DELETED :
		    METRICS_TITAN_WRITTEN), 1);
}

void
metrics_handshake(enum metrics_tls r)
{
	add(M_TLS + r, 1);
}

void
metrics_limit(enum metrics_limit l)
{
	add(M_LIMITS + l, 1);
}

void
metrics_cgi(enum metrics_cgi o)
{
	add(M_CGI + o, 1);
}

void
metrics_upstream(enum metrics_cgi o)
{
	add(M_UPSTREAM + o, 1);
}

void
metrics_timeout(enum metrics_timeout t)
{
	add(M_TIMEOUTS + t, 1);
}

void
metrics_log_lost(void)
{
	add(M_LOG_LOST, 1);
}

void
metrics_worker_died(void)
{
	add(M_RESTARTS, 1);
}

/* -- the parent ---------------------------------------------------------- */

int
metrics_init(char *err, size_t errlen)
{
	size_t	size = (size_t)SHARED_SLOTS * M_COUNT * sizeof(counter);
	void	*p;

	started = time(NULL);
	if (blocks != NULL)
		return 0;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANON,
	    -1, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "metrics (%zu bytes of shared memory): "
		    "%s", size, strerror(errno));
		return -1;
	}
	blocks = p;	/* zero-filled */
	log_on_lost(metrics_log_lost);	/* log.c cannot include us */
	return 0;
}

int
metrics_check(const struct config *cf, char *err, size_t errlen)
{
	char		 copy[PATH_MAX];
	const char	*dir, *why;
	struct stat	 st;

	if (cf->metrics_file[0] == '\0')
		return 0;
	snprintf(copy, sizeof(copy), "%s", cf->metrics_file);
	dir = dirname(copy);
	if (stat(dir, &st) == -1)
		why = strerror(errno);
	else if (!S_ISDIR(st.st_mode))
		why = "not a directory";
	else
		return 0;
	snprintf(err, errlen, "%s:%d: metrics_file %s: %s: %s", cf->file,
	    cf->metrics_line, cf->metrics_file, dir, why);
	return -1;
}

void
metrics_hosts(const struct config *cf)
{
	size_t	i, j;

	for (i = 0; i < cf->nhosts; i++) {
		for (j = 1; j < nnames; j++)
			if (strcmp(names[j], cf->hosts[i].name) == 0)
				break;
		if (j == nnames && nnames < HOST_OTHER)
			snprintf(names[nnames++], sizeof(names[0]), "%s",
			    cf->hosts[i].name);
	}
}

void
metrics_worker(int slot, const struct config *cf)
{
	size_t	i, j;

	if (blocks != NULL && slot >= 0 && slot < SHARED_SLOTS)
		mine = blocks + (size_t)slot * M_COUNT;
	free(hostmap);
	nhostmap = 0;
	if ((hostmap = calloc(cf->nhosts, 1)) == NULL)
		return;		/* every request counts under "(other)" */
	for (i = 0; i < cf->nhosts; i++) {
		for (j = 1; j < nnames; j++)
			if (strcmp(names[j], cf->hosts[i].name) == 0)
				break;
		hostmap[i] = j < nnames ? (unsigned char)j : HOST_OTHER;
	}
	nhostmap = cf->nhosts;
}

void
metrics_reaped(int slot)
{
	counter	*b;
	size_t	 i;

	if (blocks == NULL || slot < 0 || slot >= SHARED_SLOTS)
		return;
	b = blocks + (size_t)slot * M_COUNT;
	for (i = 0; i < M_COUNT; i++) {
		own[i] += atomic_load_explicit(&b[i], memory_order_relaxed);
		atomic_store_explicit(&b[i], 0, memory_order_relaxed);
	}
}

void
metrics_snapshot(struct metrics_counts *t)
{
	const counter	*b;
	size_t		 i;
	int		 s;

	for (i = 0; i < M_COUNT; i++)
		t->v[i] = atomic_load_explicit(&own[i], memory_order_relaxed);
	for (s = 0; blocks != NULL && s < SHARED_SLOTS; s++) {
		if (!shared_slot_used(s))
			continue;
		b = blocks + (size_t)s * M_COUNT;
		for (i = 0; i < M_COUNT; i++)
			t->v[i] += atomic_load_explicit(&b[i],
			    memory_order_relaxed);
	}
}

/* Written beside path, then renamed over it: a reader sees all or none. */
static int
write_file(const char *path, const char *buf, size_t len)
{
	char	tmp[PATH_MAX];
	size_t	off = 0;
	ssize_t	w;
	int	fd, n, saved;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* made afresh, so a link planted in its place is not followed */
	if (unlink(tmp) == -1 && errno != ENOENT)
		return -1;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0644)) == -1)
		return -1;
	while (off < len) {
		if ((w = write(fd, buf + off, len - off)) <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			if (w == 0)
				errno = ENOSPC;
			goto fail;
		}
		off += (size_t)w;
	}
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	if (rename(tmp, path) == 0)
		return 0;
	fd = -1;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	(void)unlink(tmp);
	errno = saved;
	return -1;
}

static void
metrics_write(const struct config *cf)
{
	static char	*buf;
	static size_t	 cap;
	static int	 failing;
	const char	*hosts[METRICS_HOSTS];
	struct metrics_counts t;
	struct metrics_view v;
	size_t		 i, need;
	char		*nb;

	metrics_snapshot(&t);
	for (i = 0; i < nnames; i++)
		hosts[i] = names[i];
	if (nnames == HOST_OTHER)
		hosts[nnames] = "(other)";
	memset(&v, 0, sizeof(v));
	v.counts = &t;
	v.hosts = hosts;
	v.nhosts = nnames + (nnames == HOST_OTHER);
	v.open = shared_census(&v.workers);
	v.started = (long long)started;
	v.version = CAPSULED_VERSION;
	v.tls_library = OPENSSL_VERSION_TEXT;
	while ((need = metrics_render(&v, buf, cap)) >= cap) {
		if ((nb = realloc(buf, need + 4096)) == NULL) {
			errno = ENOMEM;
			goto fail;
		}
		buf = nb;
		cap = need + 4096;
	}
	if (write_file(cf->metrics_file, buf, need) == -1)
		goto fail;
	if (failing)
		log_info("metrics_file %s: written again", cf->metrics_file);
	failing = 0;
	return;
fail:
	if (!failing)
		log_warnx("metrics_file %s: %s; said again once it is "
		    "written", cf->metrics_file, strerror(errno));
	failing = 1;
}

struct timespec *
metrics_tick(const struct config *cf)
{
	static struct timespec	next, wait;
	struct timespec		now;

	if (cf->metrics_file[0] == '\0')
		return NULL;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (next.tv_sec == 0 || now.tv_sec > next.tv_sec ||
	    (now.tv_sec == next.tv_sec && now.tv_nsec >= next.tv_nsec)) {
		metrics_write(cf);
		next = now;
		next.tv_sec += cf->metrics_interval;
	}
	wait.tv_sec = next.tv_sec - now.tv_sec;
	wait.tv_nsec = next.tv_nsec - now.tv_nsec;
	if (wait.tv_nsec < 0) {
		wait.tv_sec--;
		wait.tv_nsec += 1000000000L;
	}
	return &wait;
}

/* -- the exposition format (pure) ----------------------------------------- */

struct out {
	char	*buf;
	size_t	 len, cap;
};

static void
put(struct out *o, const char *s, size_t n)
{
	if (o->len + n < o->cap)
		memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void
puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3)))
putf(struct out *o, const char *fmt, ...)
{
	char	tmp[256];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(o, tmp, (size_t)n < sizeof(tmp) ? (size_t)n :
		    sizeof(tmp) - 1);
}

/* A label value: backslash, quote and newline escaped (the format's). */
static void
put_label(struct out *o, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			put(o, "\\\\", 2);
		else if (*s == '"')
			put(o, "\\\"", 2);
		else if (*s == '\n')
			put(o, "\\n", 2);
		else
			put(o, s, 1);
	}
}

static void
family(struct out *o, const char *name, const char *type, const char *help)
{
	putf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{label="value"} n, for each of a counter's values */
static void
labelled(struct out *o, const struct metrics_counts *c, const char *name,
    const char *label, const char *const *values, size_t base, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		putf(o, "%s{%s=\"%s\"} %llu\n", name, label, values[i],
		    (unsigned long long)c->v[base + i]);
}

/* 0, the defined Gemini statuses, and any other that was sent */
static int
status_shown(const struct metrics_counts *c, int st)
{
	static const int defined[] = { 0, 10, 11, 20, 30, 31, 40, 41, 42,
	    43, 44, 50, 51, 52, 53, 59, 60, 61, 62 };
	size_t	i;

	for (i = 0; i < sizeof(defined) / sizeof(defined[0]); i++)
		if (defined[i] == st)
			return 1;
	return c->v[M_STATUS + (size_t)st] != 0;
}

static void
render_requests(struct out *o, const struct metrics_view *v)
{
	static const char *const classes[METRICS_CLASSES] = { "none", "1x",
	    "2x", "3x", "4x", "5x", "6x" };
	const struct metrics_counts *c = v->counts;
	size_t	h, k;
	int	st;

	family(o, "capsuled_requests_total", "counter", "Requests answered, "
	    "by host (\"-\": none chosen yet) and Gemini status class "
	    "(\"none\": closed before a response).");
	for (h = 0; h < v->nhosts && h < METRICS_HOSTS; h++)
		for (k = 0; k < METRICS_CLASSES; k++) {
			puts_(o, "capsuled_requests_total{host=\"");
			put_label(o, v->hosts[h]);
			putf(o, "\",class=\"%s\"} %llu\n", classes[k],
			    (unsigned long long)c->v[M_REQUESTS +
			    h * METRICS_CLASSES + k]);
		}
	family(o, "capsuled_responses_total", "counter", "Responses by Gemini "
	    "status (0: none sent), every host.");
	for (st = 0; st < METRICS_STATUSES; st++)
		if (status_shown(c, st))
			putf(o, "capsuled_responses_total{status=\"%d\"} "
			    "%llu\n", st,
			    (unsigned long long)c->v[M_STATUS + (size_t)st]);
	family(o, "capsuled_response_bytes_total", "counter", "Body bytes "
	    "sent, by host.");
	for (h = 0; h < v->nhosts && h < METRICS_HOSTS; h++) {
		puts_(o, "capsuled_response_bytes_total{host=\"");
		put_label(o, v->hosts[h]);
		putf(o, "\"} %llu\n", (unsigned long long)c->v[M_BYTES + h]);
	}
}

static void
render_duration(struct out *o, const struct metrics_counts *c)
{
	unsigned long long	cum = 0, ms = c->v[M_DURATION_MS];
	size_t			b;

	family(o, "capsuled_request_duration_seconds", "histogram", "From a "
	    "connection's accept to its close, for each request logged.");
	for (b = 0; b < METRICS_BUCKETS; b++) {
		cum += c->v[M_DURATION + b];
		putf(o, "capsuled_request_duration_seconds_bucket{le=\"%s\"} "
		    "%llu\n", bucket_le[b], cum);
	}
	cum += c->v[M_DURATION + METRICS_BUCKETS];
	putf(o, "capsuled_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
	    "capsuled_request_duration_seconds_sum %llu.%03llu\n"
	    "capsuled_request_duration_seconds_count %llu\n", cum, ms / 1000,
	    ms % 1000, cum);
}

static void
render_events(struct out *o, const struct metrics_counts *c)
{
	static const char *const tls[] = { "full", "resumed", "failed" };
	static const char *const lim[] = { "max_per_client",
	    "max_connections", "rate_limit", "cgi_max" };
	static const char *const cgi[] = { "ok", "failed", "timeout",
	    "cancelled" };
	static const char *const titan[] = { "written", "deleted", "refused",
	    "failed" };
	static const char *const tmo[] = { "handshake", "request", "upload",
	    "response" };

	family(o, "capsuled_tls_handshakes_total", "counter", "TLS handshakes: "
	    "full, resumed (a session ticket), failed.");
	labelled(o, c, "capsuled_tls_handshakes_total", "result", tls, M_TLS,
	    METRICS_TLS_N);
	family(o, "capsuled_limits_hit_total", "counter", "Connections closed "
	    "at once (max_per_client; max_connections: every worker full) and "
	    "requests answered 44 (rate_limit, cgi_max).");
	labelled(o, c, "capsuled_limits_hit_total", "limit", lim, M_LIMITS,
	    METRICS_LIMIT_N);
	family(o, "capsuled_cgi_runs_total", "counter", "CGI scripts run, by "
	    "how they ended (cancelled: the client left first).");
	labelled(o, c, "capsuled_cgi_runs_total", "outcome", cgi, M_CGI,
	    METRICS_CGI_N);
	family(o, "capsuled_upstream_runs_total", "counter", "Requests sent "
	    "to an upstream (fastcgi, scgi, proxy), by how they ended "
	    "(cancelled: the client left first).");
	labelled(o, c, "capsuled_upstream_runs_total", "outcome", cgi,
	    M_UPSTREAM, METRICS_CGI_N);
	family(o, "capsuled_titan_uploads_total", "counter", "Titan uploads: "
	    "written, deleted (size 0), refused before the body, failed.");
	labelled(o, c, "capsuled_titan_uploads_total", "outcome", titan,
	    M_TITAN, METRICS_TITAN_N);
	family(o, "capsuled_timeouts_total", "counter", "Connections that made "
	    "no progress in time, by stage.");
	labelled(o, c, "capsuled_timeouts_total", "stage", tmo, M_TIMEOUTS,
	    METRICS_TIMEOUT_N);
	family(o, "capsuled_log_lines_lost_total", "counter", "Log lines that "
	    "could not be written (a full disk, a full syslog socket).");
	putf(o, "capsuled_log_lines_lost_total %llu\n",
	    (unsigned long long)c->v[M_LOG_LOST]);
	family(o, "capsuled_worker_restarts_total", "counter", "Workers that "
	    "died and were started again.");
	putf(o, "capsuled_worker_restarts_total %llu\n",
	    (unsigned long long)c->v[M_RESTARTS]);
}

size_t
metrics_render(const struct metrics_view *v, char *buf, size_t len)
{
	struct out	o = { buf, 0, len };

	family(&o, "capsuled_build_info", "gauge", "The version of capsuled "
	    "and of the TLS library it was built with.");
	puts_(&o, "capsuled_build_info{version=\"");
	put_label(&o, v->version);
	puts_(&o, "\",tls=\"");
	put_label(&o, v->tls_library);
	puts_(&o, "\"} 1\n");
	family(&o, "capsuled_start_time_seconds", "gauge", "When capsuled "
	    "started, in seconds since the epoch.");
	putf(&o, "capsuled_start_time_seconds %lld\n", v->started);
	family(&o, "capsuled_workers", "gauge", "Worker processes alive "
	    "(retiring ones too).");
	putf(&o, "capsuled_workers %d\n", v->workers);
	family(&o, "capsuled_connections_open", "gauge", "Client connections "
	    "open in every worker.");
	putf(&o, "capsuled_connections_open %ld\n", v->open);
	render_requests(&o, v);
	render_duration(&o, v->counts);
	render_events(&o, v->counts);
	if (o.len < len)
		buf[o.len] = '\0';
	return o.len;
}
