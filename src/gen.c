/*
 * gen.c: a generation (see gen.h): load, check, bind, close, free.
 * What runs it (forks, signals, reloads) is supervise.c's.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access.h"
#include "config.h"
#include "gen.h"
#include "helper.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "sandbox.h"
#include "tlsctx.h"
#include "upconn.h"

static int
worker_count(const struct config *cf)
{
	long	n = cf->workers;

	if (n == 0 && (n = sysconf(_SC_NPROCESSORS_ONLN)) < 1)
		n = 1;
	return n > GEN_MAX_WORKERS ? GEN_MAX_WORKERS : (int)n;
}

struct generation *
gen_config(const char *path, char *err, size_t errlen)
{
	struct generation	*g;
	size_t			 i;

	if ((g = calloc(1, sizeof(*g))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	helper_init(&g->runner, "CGI runner");
	helper_init(&g->writer, "titan writer");
	for (i = 0; i < CONFIG_MAX_LISTEN; i++)
		g->listenfds[i] = -1;
	if (config_load(path, &g->cf, err, errlen) == -1) {
		free(g);
		return NULL;
	}
	return g;
}

/*
 * Certificates first: a missing pair is made before anything loads it.
 * In check mode nothing is written; returns how many pairs are missing.
 */
static int
gen_certs(struct generation *g, int check_only, char *err, size_t errlen)
{
	const struct host_cfg	*h;
	size_t			 i;
	int			 made, missing = 0;

	for (i = 0; i < g->cf.nhosts; i++) {
		h = &g->cf.hosts[i];
		if (check_only && access(h->cert, F_OK) == -1 &&
		    access(h->key, F_OK) == -1) {
			if (tls_can_generate(h, err, errlen) == -1) {
				tls_error_at_host(&g->cf, h, err, errlen);
				return -1;
			}
			log_info("host %s: %s and %s will be generated at "
			    "start", h->name, h->cert, h->key);
			missing++;
			continue;
		}
		if (!check_only && tls_ensure_cert(h, &made, err, errlen) == -1) {
			tls_error_at_host(&g->cf, h, err, errlen);
			return -1;
		}
		if (!check_only && made)
			log_info("host %s: generated a self-signed ECDSA P-256 "
			    "certificate %s and key %s", h->name, h->cert,
			    h->key);
	}
	return missing;
}

int
gen_prepare(struct generation *g, int check_only, char *err, size_t errlen)
{
	size_t	i;
	int	missing;

	if ((g->rootfds = calloc(g->cf.nhosts, sizeof(int))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < g->cf.nhosts; i++)
		g->rootfds[i] = -1;	/* listen_roots: -1 when closed */
	listen_fd_limit(&g->cf);	/* before the roots: they must fit */
	if (sandbox_prepare(&g->cf, &g->sb, err, errlen) == -1 ||
	    (missing = gen_certs(g, check_only, err, errlen)) == -1 ||
	    (missing == 0 ? tls_setup(&g->cf, &g->tls, err, errlen) :
	    tls_check(&g->cf, err, errlen)) == -1 ||
	    listen_roots(&g->cf, g->rootfds, err, errlen) == -1 ||
	    upconn_prepare(&g->cf, g->sb.chroot, &g->up, err, errlen) == -1 ||
	    metrics_check(&g->cf, err, errlen) == -1 ||
	    (g->af = access_prepare(&g->cf, err, errlen)) == NULL)
		return -1;
	listen_roots_check(&g->cf, g->rootfds, &g->sb);
	g->sb.listfds = access_dirfds(g->af, &g->sb.nlistfds);
	g->sb.listdirs = access_dirs(g->af);
	return 0;
}

void
gen_close_listeners(struct generation *g, const struct generation *keep)
{
	size_t	i, j;
	int	shared;

	for (i = 0; i < g->cf.nlisten; i++) {
		shared = 0;
		for (j = 0; keep != NULL && j < keep->cf.nlisten; j++)
			shared |= keep->listenfds[j] == g->listenfds[i];
		if (!shared && g->listenfds[i] != -1)
			close(g->listenfds[i]);
		g->listenfds[i] = -1;
	}
}

/*
 * Its processes hold their own copies; closed here before a new
 * generation forks, they stay out of the new processes, which would
 * otherwise hold an old port open, a root outside a new chroot, and
 * the old runner's socket (so that runner would never see its workers
 * go).
 */
void
gen_close_fds(struct generation *g, const struct generation *keep)
{
	gen_close_listeners(g, keep);
	if (g->rootfds != NULL)
		listen_roots_close(&g->cf, g->rootfds);
	access_close_fds(g->af);
	helper_close(&g->runner);	/* they end with their workers */
	helper_close(&g->writer);
}

void
gen_free(struct generation *g, const struct generation *keep)
{
	if (g == NULL)
		return;
	gen_close_fds(g, keep);
	access_free(g->af);
	free(g->rootfds);
	tls_free(&g->tls);
	upconn_free(&g->up);
	config_free(&g->cf);
	free(g);
}

int
gen_bind(struct generation *g, const struct generation *old, char *err,
    size_t errlen)
{
	size_t	i;
	int	saved;

	if (listen_bind(&g->cf, g->listenfds, old ? &old->cf : NULL,
	    old ? old->listenfds : NULL, err, errlen) == -1) {
		saved = errno;
		for (i = 0; i < g->cf.nlisten; i++)
			g->listenfds[i] = -1;	/* listen_bind closed its own */
		errno = saved;
		return -1;
	}
	if (log_open_access(&g->cf, err, errlen) == -1) {
		gen_close_listeners(g, old);
		errno = 0;
		return -1;
	}
	g->nworkers = worker_count(&g->cf);
	return 0;
}

int
gen_same_addr(const struct listen_addr *a, const struct listen_addr *b)
{
	return a->sslen == b->sslen && memcmp(&a->ss, &b->ss, a->sslen) == 0;
}

static int
addr_port(const struct listen_addr *a)
{
	const struct sockaddr_in	*sin = (const void *)&a->ss;
	const struct sockaddr_in6	*sin6 = (const void *)&a->ss;

	return a->ss.ss_family == AF_INET6 ? sin6->sin6_port : sin->sin_port;
}

int
gen_overlaps(const struct generation *g, const struct generation *old)
{
	const struct listen_addr	*a, *b;
	size_t				 i, j;

	for (i = 0; i < g->cf.nlisten; i++)
		for (j = 0; j < old->cf.nlisten; j++) {
			a = &g->cf.listen[i];
			b = &old->cf.listen[j];
			if (a->ss.ss_family == b->ss.ss_family &&
			    addr_port(a) == addr_port(b) &&
			    !gen_same_addr(a, b))
				return 1;
		}
	return 0;
}
