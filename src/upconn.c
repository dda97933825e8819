/*
 * upconn.c: connections to upstreams (see upconn.h).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "certlist.h"
#include "config.h"
#include "tlsctx.h"
#include "upconn.h"
#include "upstream.h"

/* A worker's kept FastCGI connections and TLS sessions, per upstream. */
struct kept {
	int		*fds;		/* keepalive of them */
	int		 n;
	SSL_SESSION	*session;	/* a proxy's last, to resume */
};

static const struct upconn	*conns;
static struct kept		*kept;

static int __attribute__((format(printf, 5, 6)))
fail(const struct config *cf, const struct upstream_cfg *u, char *err,
    size_t errlen, const char *fmt, ...)
{
	char	msg[CONFIG_ERR_MAX];
	va_list	ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	(void)snprintf(err, errlen, "%s:%d: %s: %s", cf->file, u->line,
	    upstream_key(u->kind), msg);
	return -1;
}

static int
resolve(const struct config *cf, struct upstream_cfg *u, char *err,
    size_t errlen)
{
	struct addrinfo	 hints, *res;
	char		 port[8];
	int		 r;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	(void)snprintf(port, sizeof(port), "%d", u->port);
	if ((r = getaddrinfo(u->host, port, &hints, &res)) != 0)
		return fail(cf, u, err, errlen, "%s: %s", u->host,
		    gai_strerror(r));
	if (res->ai_addrlen > sizeof(u->ss)) {
		freeaddrinfo(res);
		return fail(cf, u, err, errlen, "%s: address too long",
		    u->host);
	}
	memcpy(&u->ss, res->ai_addr, res->ai_addrlen);
	u->sslen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/*
 * A chrooted worker knows the socket by its path inside the chroot,
 * and cannot reach one outside it.
 */
static int
jail(const struct config *cf, struct upstream_cfg *u, char *err,
    size_t errlen)
{
	char	top[PATH_MAX], parent[PATH_MAX], dir[PATH_MAX], *slash;
	size_t	n;
	int	len;

	if (realpath(cf->chroot, top) == NULL)
		return fail(cf, u, err, errlen, "chroot %s: %s", cf->chroot,
		    strerror(errno));
	(void)snprintf(parent, sizeof(parent), "%s", u->sun_path);
	slash = strrchr(parent, '/');
	*slash = '\0';
	if (realpath(parent[0] != '\0' ? parent : "/", dir) == NULL)
		return fail(cf, u, err, errlen, "%s: %s", u->sun_path,
		    strerror(errno));
	n = strcmp(top, "/") == 0 ? 0 : strlen(top);
	if (strncmp(dir, top, n) != 0 || (dir[n] != '/' && dir[n] != '\0'))
		return fail(cf, u, err, errlen, "%s is outside chroot %s: "
		    "workers cannot reach it", u->sun_path, cf->chroot);
	len = snprintf(u->sun_jail, sizeof(u->sun_jail), "%s/%s", dir + n,
	    strrchr(u->sun_path, '/') + 1);
	if (len < 0 || (size_t)len >= sizeof(u->sun_jail))
		return fail(cf, u, err, errlen, "%s: path too long",
		    u->sun_path);
	return 0;
}

/* A worker keeps the newest session per upstream, to resume with. */
static int
new_session(SSL *ssl, SSL_SESSION *s)
{
	const struct upstream_cfg	*u = SSL_get_app_data(ssl);

	if (u == NULL || kept == NULL)
		return 0;
	SSL_SESSION_free(kept[u->index].session);
	kept[u->index].session = s;
	return 1;	/* the reference is ours */
}

/* The certificate a pin refused last (a worker is one thread). */
static unsigned char	refused[32];

/*
 * verify=sha256: the upstream's own certificate must be the pinned one,
 * whatever the rest of its chain and its dates (a Gemini server's is
 * self-signed).  Checked as the certificate arrives, so that a server
 * that is not the pinned one ends the handshake before capsuled has
 * sent anything of its own (its cert=, over TLS 1.2 or 1.3).
 */
static int
pin_verify(int preverified, X509_STORE_CTX *store)
{
	SSL				*ssl;
	const struct upstream_cfg	*u;
	X509				*x;
	unsigned char			 md[EVP_MAX_MD_SIZE];
	unsigned int			 len = 0;

	(void)preverified;
	ssl = X509_STORE_CTX_get_ex_data(store,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	u = ssl != NULL ? SSL_get_app_data(ssl) : NULL;
	if (u == NULL || (x = X509_STORE_CTX_get0_cert(store)) == NULL ||
	    X509_digest(x, EVP_sha256(), md, &len) != 1 ||
	    len != sizeof(refused))
		return 0;
	if (memcmp(md, u->pin, sizeof(refused)) == 0)
		return 1;
	memcpy(refused, md, sizeof(refused));
	X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
	return 0;
}

static SSL_CTX *
client_ctx(const struct config *cf, const struct upstream_cfg *u, char *err,
    size_t errlen)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		fail(cf, u, err, errlen, "SSL_CTX_new: %s", tls_last_error());
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, new_session);
	if (u->verify == UP_VERIFY_CA) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		if (SSL_CTX_load_verify_locations(ctx, u->ca, NULL) != 1) {
			fail(cf, u, err, errlen, "%s: cannot load the CA "
			    "certificates: %s", u->ca, tls_last_error());
			goto fail;
		}
	} else if (u->verify == UP_VERIFY_PIN)
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, pin_verify);
	else
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (u->cert[0] != '\0' &&
	    (SSL_CTX_use_certificate_chain_file(ctx, u->cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, u->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)) {
		fail(cf, u, err, errlen, "%s, %s: cannot load the client "
		    "certificate: %s", u->cert, u->key, tls_last_error());
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

int
upconn_prepare(struct config *cf, int chrooted, struct upconn *uc,
    char *err, size_t errlen)
{
	struct upstream_cfg	*u;
	size_t			 i, j;

	memset(uc, 0, sizeof(*uc));
	if (cf->nups == 0)
		return 0;
	if ((uc->ctx = calloc(cf->nups, sizeof(SSL_CTX *))) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return -1;
	}
	uc->n = cf->nups;
	for (i = 0; i < cf->nhosts; i++)
		for (j = 0; j < cf->hosts[i].nups; j++) {
			u = &cf->hosts[i].ups[j];
			if (u->sun_path[0] == '\0' && u->sslen == 0 &&
			    resolve(cf, u, err, errlen) == -1)
				return -1;
			if (u->sun_path[0] != '\0' && chrooted &&
			    jail(cf, u, err, errlen) == -1)
				return -1;
			if (u->kind == UP_GEMINI && (uc->ctx[u->index] =
			    client_ctx(cf, u, err, errlen)) == NULL)
				return -1;
		}
	return 0;
}

void
upconn_free(struct upconn *uc)
{
	size_t	i;

	for (i = 0; i < uc->n; i++)
		SSL_CTX_free(uc->ctx[i]);
	free(uc->ctx);
	uc->ctx = NULL;
	uc->n = 0;
}

void
upconn_worker_init(const struct config *cf, const struct upconn *uc)
{
	const struct upstream_cfg	*u;
	size_t				 i, j;

	conns = uc;
	if (cf->nups == 0 || (kept = calloc(cf->nups, sizeof(*kept))) == NULL)
		return;		/* none kept: each request connects */
	for (i = 0; i < cf->nhosts; i++)
		for (j = 0; j < cf->hosts[i].nups; j++) {
			u = &cf->hosts[i].ups[j];
			if (u->keepalive > 0)
				kept[u->index].fds = calloc((size_t)u->keepalive,
				    sizeof(int));
		}
}

/*
 * A kept connection the responder has not closed meanwhile: nothing
 * to read on it (it owes us nothing), and no end of file.
 */
static int
take_kept(const struct upstream_cfg *u)
{
	struct kept	*k;
	char		 c;
	int		 fd;

	if (kept == NULL)
		return -1;
	k = &kept[u->index];
	while (k->n > 0) {
		fd = k->fds[--k->n];
		if (recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == -1 &&
		    (errno == EAGAIN || errno == EWOULDBLOCK))
			return fd;
		close(fd);
	}
	return -1;
}

int
upconn_open(const struct upstream_cfg *u, int fresh, int *reused,
    int *pending)
{
	struct sockaddr_un	 sun;
	const struct sockaddr	*sa = (const struct sockaddr *)&u->ss;
	socklen_t		 len = u->sslen;
	int			 fd, saved;

	*pending = 0;
	if ((*reused = !fresh && (fd = take_kept(u)) != -1))
		return fd;
	if (u->sun_path[0] != '\0') {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		memcpy(sun.sun_path, u->sun_jail, strlen(u->sun_jail) + 1);
		sa = (const struct sockaddr *)&sun;
		len = sizeof(sun);
	}
	if ((fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, sa, len) == 0)
		return fd;
	if (errno == EINPROGRESS) {
		*pending = 1;
		return fd;
	}
	/* a UNIX socket's backlog full (EAGAIN) is a responder too busy */
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int
upconn_connected(int fd)
{
	socklen_t	len = sizeof(int);
	int		err = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return errno;
	return err;
}

void
upconn_keep(const struct upstream_cfg *u, int fd)
{
	struct kept	*k;

	if (kept == NULL || (k = &kept[u->index])->fds == NULL ||
	    k->n >= u->keepalive) {
		close(fd);
		return;
	}
	k->fds[k->n++] = fd;
}

/* An address, not a name: no SNI (RFC 6066 3), an IP check instead. */
static int
is_address(const char *name)
{
	struct in6_addr	a;

	return inet_pton(AF_INET, name, &a) == 1 ||
	    inet_pton(AF_INET6, name, &a) == 1;
}

SSL *
upconn_tls(const struct upstream_cfg *u, int fd)
{
	const char	*name = u->sni[0] != '\0' ? u->sni : u->host;
	SSL		*ssl;
	int		 ip = is_address(name);

	if (conns == NULL || (ssl = SSL_new(conns->ctx[u->index])) == NULL)
		return NULL;
	SSL_set_app_data(ssl, (void *)u);
	if (SSL_set_fd(ssl, fd) != 1 ||
	    (!ip && SSL_set_tlsext_host_name(ssl, name) != 1))
		goto fail;
	if (u->verify == UP_VERIFY_CA && (ip ?
	    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) :
	    X509_VERIFY_PARAM_set1_host(SSL_get0_param(ssl), name, 0)) != 1)
		goto fail;
	if (kept != NULL && kept[u->index].session != NULL)
		(void)SSL_set_session(ssl, kept[u->index].session);
	SSL_set_connect_state(ssl);
	return ssl;
fail:
	ERR_clear_error();
	SSL_free(ssl);
	return NULL;
}

static int
not_pinned(const unsigned char hash[32], char *why, size_t whylen)
{
	char	hex[CERTLIST_HEX_LEN + 1];

	certlist_hex(hash, hex);
	(void)snprintf(why, whylen, "its certificate %s is not the pinned one",
	    hex);
	return -1;
}

int
upconn_tls_check(const struct upstream_cfg *u, SSL *ssl, char *why,
    size_t whylen)
{
	unsigned char	hash[32];

	if (u->verify != UP_VERIFY_PIN)
		return 0;
	if (tls_client_hash(ssl, hash) == -1) {
		(void)snprintf(why, whylen, "the upstream sent no certificate");
		return -1;
	}
	if (memcmp(hash, u->pin, sizeof(hash)) != 0)
		return not_pinned(hash, why, whylen);
	return 0;
}

int
upconn_tls_refused(const struct upstream_cfg *u, SSL *ssl, char *why,
    size_t whylen)
{
	if (u->verify != UP_VERIFY_PIN ||
	    SSL_get_verify_result(ssl) != X509_V_ERR_CERT_REJECTED)
		return 0;
	ERR_clear_error();
	return not_pinned(refused, why, whylen);
}

void
upconn_tls_end(SSL *ssl, int whole)
{
	/* without it OpenSSL forgets the session: the next is a full one */
	if (whole)
		(void)SSL_shutdown(ssl);
	ERR_clear_error();
	SSL_free(ssl);
}
