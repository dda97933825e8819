/*
 * floor: what OpenSSL alone costs the server for one Gemini request.
 *
 * A client and capsuled's own server context (src/tlsctx.c, built from the
 * same kind of config the daemon reads) talk through an in-memory BIO
 * pair: no sockets, no kernel, no event loop.  Each request is a full
 * (or, with -r, resumed) TLS 1.3 handshake, the request line, a 20
 * header and a body in one record, and close_notify, with the same
 * OpenSSL calls in the same order as a worker makes them.  Only the
 * server's calls are timed (thread CPU time), so the result is the part
 * of capsuled's CPU per request that no change outside OpenSSL can
 * remove; the rest (the kernel's TCP, syscalls, libevent, our code) is
 * ours.  With valgrind --tool=callgrind --toggle-collect='server_*' the
 * instruction counts of the server side alone come out, repeatably.
 */

#include <sys/resource.h>

#include <err.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "config.h"
#include "tlsctx.h"

#define REQUEST		"gemini://localhost/2k.gmi\r\n"
#define HEADER		"20 text/gemini\r\n"
#define BODY_MAX	16000	/* one record with the header, as a worker */

struct opts {
	int		 n;		/* requests */
	int		 resume;	/* offer the last ticket */
	int		 noverify;	/* do not ask for a client certificate */
	int		 idle;		/* hold connections, measure memory */
	size_t		 body;		/* bytes after the header */
	const char	*groups;	/* both sides, e.g. "P-256" */
};

struct server {
	SSL		*ssl;
	char		 req[1030];
	char		 resp[sizeof(HEADER) + BODY_MAX];
	size_t		 resplen;
	unsigned char	 hash[32];
};

static struct opts	 opt = { 2000, 0, 0, 0, 2048, NULL };
static struct tls	 tls;
static double		 server_ns;

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: floor [-irV] [-b bytes] [-g groups] "
	    "[-n count] cert.pem key.pem\n");
	exit(2);
}

static double
cpu_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void
ssl_fail(const char *what)
{
	errx(1, "%s: %s", what, ERR_error_string(ERR_get_error(), NULL));
}

/* capsuled's context, made by tls_setup from a one-host config. */
static void
server_ctx(const char *cert, const char *key)
{
	static struct config	cf;
	char			text[3 * PATH_MAX], msg[CONFIG_ERR_MAX];
	char			dir[PATH_MAX];
	int			n;

	n = snprintf(text, sizeof(text), "[server]\nlisten = 127.0.0.1:1965\n"
	    "[host localhost]\nroot = /\ncert = %s\nkey = %s\n", cert, key);
	if (n < 0 || (size_t)n >= sizeof(text))
		errx(2, "certificate path too long");
	/* relative paths are the command line's, as for the daemon's -c */
	if (getcwd(dir, sizeof(dir)) == NULL)
		err(2, "getcwd");
	if (config_parse_string(text, "floor", dir, &cf, msg,
	    sizeof(msg)) == -1 || tls_setup(&cf, &tls, msg, sizeof(msg)) == -1)
		errx(1, "%s", msg);
	if (opt.groups != NULL &&
	    SSL_CTX_set1_groups_list(tls.ctx[0], opt.groups) != 1)
		ssl_fail("server groups");
}

static SSL_CTX *
client_ctx(void)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		ssl_fail("SSL_CTX_new");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (opt.groups != NULL &&
	    SSL_CTX_set1_groups_list(ctx, opt.groups) != 1)
		ssl_fail("client groups");
	return ctx;
}

/*
 * The worker's first turn: a new SSL for the accepted connection (the
 * previous one freed, as conn_close does), and the handshake up to the
 * wait for the client's Finished.
 */
static __attribute__((noinline)) void
server_first(struct server *s, BIO *bio)
{
	SSL_free(s->ssl);
	if ((s->ssl = SSL_new(tls.ctx[0])) == NULL)
		ssl_fail("SSL_new");
	if (opt.noverify)
		SSL_set_verify(s->ssl, SSL_VERIFY_NONE, NULL);
	SSL_set_bio(s->ssl, bio, bio);
	SSL_set_accept_state(s->ssl);
	if (SSL_do_handshake(s->ssl) != -1 ||
	    SSL_get_error(s->ssl, -1) != SSL_ERROR_WANT_READ)
		ssl_fail("server handshake, first flight");
}

/* The second turn: handshake done, request, response, close_notify. */
static __attribute__((noinline)) void
server_second(struct server *s)
{
	if (SSL_do_handshake(s->ssl) != 1)
		ssl_fail("server handshake");
	(void)tls_client_hash(s->ssl, s->hash);
	if (SSL_read(s->ssl, s->req, sizeof(s->req)) <= 0)
		ssl_fail("server read");
	if (SSL_write(s->ssl, s->resp, (int)s->resplen) != (int)s->resplen)
		ssl_fail("server write");
	if (SSL_shutdown(s->ssl) < 0)
		ssl_fail("server shutdown");
}

static void
client_read_all(SSL *c)
{
	char	buf[16384];
	int	r;

	while ((r = SSL_read(c, buf, sizeof(buf))) > 0)
		;
	if (SSL_get_error(c, r) != SSL_ERROR_ZERO_RETURN)
		ssl_fail("client read: no close_notify");
}

/* One request; returns whether the handshake was a resumption. */
static int
one(SSL_CTX *cctx, struct server *s, SSL_SESSION **sess)
{
	BIO	*sbio, *cbio;
	SSL	*c;
	double	 t0;
	int	 hit;

	if (BIO_new_bio_pair(&sbio, 0, &cbio, 0) != 1 ||
	    (c = SSL_new(cctx)) == NULL)
		ssl_fail("client");
	SSL_set_bio(c, cbio, cbio);
	SSL_set_tlsext_host_name(c, "localhost");
	if (*sess != NULL)
		SSL_set_session(c, *sess);
	SSL_set_connect_state(c);
	if (SSL_do_handshake(c) != -1)
		ssl_fail("client hello");

	t0 = cpu_ns();
	server_first(s, sbio);
	server_ns += cpu_ns() - t0;

	if (SSL_do_handshake(c) != 1)
		ssl_fail("client handshake");
	if (SSL_write(c, REQUEST, sizeof(REQUEST) - 1) <= 0)
		ssl_fail("client write");

	t0 = cpu_ns();
	server_second(s);
	server_ns += cpu_ns() - t0;

	client_read_all(c);
	hit = SSL_session_reused(c);
	/* a client that never shut down would mark the session unusable */
	SSL_set_shutdown(c, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	if (opt.resume) {
		SSL_SESSION_free(*sess);
		*sess = SSL_get1_session(c);
	}
	SSL_free(c);
	return hit;
}

/* Heap bytes in use, or 0 where glibc cannot say. */
static size_t
heap_used(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
	return mallinfo2().uordblks;
#else
	return 0;
#endif
}

/*
 * Handshakes up to the worker's wait for the request line; the server
 * side then moves to a memory BIO of its own and the pair and the client
 * are freed, so only what the server holds stays.
 */
struct held {
	SSL	*ssl;
	BIO	*mem;
};

static void
idle(SSL_CTX *cctx)
{
	struct held	*h;
	BIO		*sbio, *cbio;
	SSL		*c;
	size_t		 before, bios;
	int		 i;

	if ((h = calloc(opt.n, sizeof(*h))) == NULL)
		err(1, "calloc");
	/* the memory BIOs first, to tell what they take apart */
	before = heap_used();
	for (i = 0; i < opt.n; i++)
		if ((h[i].mem = BIO_new(BIO_s_mem())) == NULL)
			ssl_fail("BIO_new");
	bios = heap_used() - before;
	before = heap_used();
	for (i = 0; i < opt.n; i++) {
		if (BIO_new_bio_pair(&sbio, 0, &cbio, 0) != 1 ||
		    (c = SSL_new(cctx)) == NULL ||
		    (h[i].ssl = SSL_new(tls.ctx[0])) == NULL)
			ssl_fail("idle");
		SSL_set_bio(c, cbio, cbio);
		SSL_set_tlsext_host_name(c, "localhost");
		SSL_set_bio(h[i].ssl, sbio, sbio);
		SSL_set_accept_state(h[i].ssl);
		SSL_set_connect_state(c);
		if (SSL_do_handshake(c) != -1 ||
		    SSL_do_handshake(h[i].ssl) != -1 ||
		    SSL_do_handshake(c) != 1 || SSL_do_handshake(h[i].ssl) != 1)
			ssl_fail("idle handshake");
		SSL_set_bio(h[i].ssl, h[i].mem, h[i].mem);
		SSL_set_shutdown(c, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
		SSL_free(c);
	}
	printf("idle=%d heap_bytes_per_conn=%.0f (the SSL %.0f, a memory BIO "
	    "%.0f)\n", opt.n, (double)(heap_used() - before + bios) / opt.n,
	    (double)(heap_used() - before) / opt.n, (double)bios / opt.n);
	for (i = 0; i < opt.n; i++)
		SSL_free(h[i].ssl);
	free(h);
}

/* What two clock_gettime calls cost: subtracted from each timed turn. */
static double
clock_cost(void)
{
	double	t0, sum = 0;
	int	i;

	for (i = 0; i < 10000; i++) {
		t0 = cpu_ns();
		sum += cpu_ns() - t0;
	}
	return sum / 10000;
}

static void
timed(SSL_CTX *cctx, struct server *s, SSL_SESSION **sess)
{
	struct rusage	ru;
	double		clk, total;
	int		i, resumed = 0;

	server_ns = 0;
	clk = clock_cost();
	for (i = 0; i < opt.n; i++)
		resumed += one(cctx, s, sess);
	getrusage(RUSAGE_SELF, &ru);
	total = ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec +
	    ru.ru_stime.tv_sec * 1e6 + ru.ru_stime.tv_usec;
	printf("requests=%d resumed=%d verify=%s groups=%s body=%zu "
	    "server_us=%.1f clock_us=%.2f process_us=%.1f\n", opt.n, resumed,
	    opt.noverify ? "none" : "peer", opt.groups ? opt.groups :
	    "default", opt.body, (server_ns / opt.n - 2 * clk) / 1000,
	    2 * clk / 1000, total / (opt.n + 20));
}

int
main(int argc, char *argv[])
{
	struct server	 s;
	SSL_CTX		*cctx;
	SSL_SESSION	*sess = NULL;
	int		 ch, i;

	while ((ch = getopt(argc, argv, "b:g:in:rV")) != -1) {
		switch (ch) {
		case 'b':
			opt.body = strtoul(optarg, NULL, 10);
			if (opt.body > BODY_MAX)
				errx(2, "-b: at most %d", BODY_MAX);
			break;
		case 'g':
			opt.groups = optarg;
			break;
		case 'i':
			opt.idle = 1;
			break;
		case 'n':
			if ((opt.n = atoi(optarg)) < 1)
				usage();
			break;
		case 'r':
			opt.resume = 1;
			break;
		case 'V':
			opt.noverify = 1;
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 2)
		usage();
	memset(&s, 0, sizeof(s));
	memcpy(s.resp, HEADER, sizeof(HEADER) - 1);
	memset(s.resp + sizeof(HEADER) - 1, 'x', opt.body);
	s.resplen = sizeof(HEADER) - 1 + opt.body;
	server_ctx(argv[optind], argv[optind + 1]);
	cctx = client_ctx();
	/* warm up: first-use fetches and caches are not per request */
	for (i = 0; i < 20; i++)
		one(cctx, &s, &sess);
	if (opt.idle)
		idle(cctx);
	else
		timed(cctx, &s, &sess);
	SSL_free(s.ssl);
	SSL_SESSION_free(sess);
	SSL_CTX_free(cctx);
	tls_free(&tls);
	return 0;
}
