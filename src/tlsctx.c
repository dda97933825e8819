/*
 * tlsctx.c: SSL_CTX per host, SNI callback, certificate generation.
 *
 * Every context is made in the parent before the workers fork, so all
 * workers share each context's session-ticket keys: a ticket issued by
 * one worker resumes on any other.  Sessions are stateless tickets only
 * (no server-side cache), one ticket per handshake.  The key is made
 * once per start and kept across reloads.  With ticket_keys the keys
 * come from a file instead, shared by every node behind a balancer, so
 * a ticket resumes anywhere.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>
#if OPENSSL_VERSION_NUMBER >= 0x30000000L && !defined(LIBRESSL_VERSION_NUMBER)
#define TICKET_EVP_CB	1	/* the HMAC_CTX callback is deprecated */
#include <openssl/core_names.h>
#else
#include <openssl/hmac.h>
#endif

#include "config.h"
#include "hello.h"
#include "tlsctx.h"
#include "url.h"

#define CERT_DAYS	3650

const char *
tls_last_error(void)
{
	static char	 buf[256];
	unsigned long	 e = ERR_get_error();

	if (e == 0)
		return "unknown TLS error";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

static EVP_PKEY *
make_key(void)
{
	EVP_PKEY_CTX	*kctx;
	EVP_PKEY	*key = NULL;

	if ((kctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL)) == NULL)
		return NULL;
	if (EVP_PKEY_keygen_init(kctx) <= 0 ||
	    EVP_PKEY_CTX_set_ec_paramgen_curve_nid(kctx,
	    NID_X9_62_prime256v1) <= 0 ||
	    EVP_PKEY_keygen(kctx, &key) <= 0)
		key = NULL;
	EVP_PKEY_CTX_free(kctx);
	return key;
}

/* subjectAltName: DNS:name, or IP:addr for an address literal. */
static int
add_san(X509 *x, const char *name)
{
	X509_EXTENSION	*ext;
	X509V3_CTX	 v3;
	char		 san[URL_HOST_MAX + 8];
	unsigned char	 a[16];
	int		 ip, n;

	ip = inet_pton(AF_INET, name, a) == 1 ||
	    inet_pton(AF_INET6, name, a) == 1;
	n = snprintf(san, sizeof(san), "%s:%s", ip ? "IP" : "DNS", name);
	if (n < 0 || (size_t)n >= sizeof(san))
		return -1;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name,
	    san)) == NULL)
		return -1;
	n = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return n == 1 ? 0 : -1;
}

static X509 *
make_cert(EVP_PKEY *key, const char *name)
{
	X509		*x;
	X509_NAME	*subj;
	unsigned char	 serial[16];
	BIGNUM		*bn = NULL;

	if ((x = X509_new()) == NULL)
		return NULL;
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto fail;
	serial[0] &= 0x7f;	/* positive */
	if ((bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		goto fail;
	subj = X509_get_subject_name(x);
	if (X509_set_version(x, 2) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x),
	    (long)CERT_DAYS * 24 * 3600) == NULL ||
	    X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8,
	    (const unsigned char *)name, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, subj) != 1 ||
	    X509_set_pubkey(x, key) != 1 || add_san(x, name) == -1 ||
	    X509_sign(x, key, EVP_sha256()) == 0)
		goto fail;
	BN_free(bn);
	return x;
fail:
	BN_free(bn);
	X509_free(x);
	return NULL;
}

/* Create path exclusively (never overwrite) and write PEM into it. */
static int
write_new(const char *path, mode_t mode, EVP_PKEY *key, X509 *x)
{
	FILE	*f;
	int	 fd, ok;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    mode)) == -1)
		return -1;
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		unlink(path);
		return -1;
	}
	ok = key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) :
	    PEM_write_X509(f, x);
	if (fclose(f) != 0 || !ok) {
		unlink(path);
		return -1;
	}
	return 0;
}

/* The directory path is in can take a new file (for -n). */
static int
dir_writable(const char *path, char *err, size_t errlen)
{
	char		 dir[PATH_MAX];
	const char	*slash = strrchr(path, '/');
	int		 n;

	if (slash == NULL)
		n = snprintf(dir, sizeof(dir), ".");
	else
		n = snprintf(dir, sizeof(dir), "%.*s",
		    slash == path ? 1 : (int)(slash - path), path);
	if (n < 0 || (size_t)n >= sizeof(dir)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	if (access(dir, W_OK | X_OK) == -1) {
		snprintf(err, errlen, "%s cannot be generated: directory %s: %s",
		    path, dir, strerror(errno));
		return -1;
	}
	return 0;
}

int
tls_can_generate(const struct host_cfg *h, char *err, size_t errlen)
{
	return dir_writable(h->cert, err, errlen) == -1 ||
	    dir_writable(h->key, err, errlen) == -1 ? -1 : 0;
}

int
tls_ensure_cert(const struct host_cfg *h, int *made, char *err, size_t errlen)
{
	EVP_PKEY	*key = NULL;
	X509		*x = NULL;
	int		 have_cert, have_key, r = -1;

	*made = 0;
	have_cert = access(h->cert, F_OK) == 0;
	have_key = access(h->key, F_OK) == 0;
	if (have_cert && have_key)
		return 0;
	if (have_cert || have_key) {
		snprintf(err, errlen, "host %s: %s exists but %s does not; "
		    "not generating a new pair over it", h->name,
		    have_cert ? h->cert : h->key, have_cert ? h->key : h->cert);
		return -1;
	}
	if ((key = make_key()) == NULL || (x = make_cert(key, h->name)) == NULL) {
		snprintf(err, errlen, "host %s: cannot make a certificate: %s",
		    h->name, tls_last_error());
		goto done;
	}
	if (write_new(h->key, 0600, key, NULL) == -1) {
		snprintf(err, errlen, "%s: %s", h->key, strerror(errno));
		goto done;
	}
	if (write_new(h->cert, 0644, NULL, x) == -1) {
		snprintf(err, errlen, "%s: %s", h->cert, strerror(errno));
		unlink(h->key);
		goto done;
	}
	*made = 1;
	r = 0;
done:
	X509_free(x);
	EVP_PKEY_free(key);
	return r;
}

/* Client certificates are asked for, never required, never verified
 * here: Gemini clients use self-signed ones (authorised per path). */
static int
verify_any(int ok, X509_STORE_CTX *store)
{
	(void)ok;
	(void)store;
	return 1;
}

/*
 * A session-id context: a hash of the host's name and, for a
 * connection that sent one, of the server name as the client sent it.
 * The library resumes a session only under the context it was made
 * with, so a session stays on its host and under the very name it was
 * made with: LibreSSL ends a handshake (unrecognized_name) that
 * resumes a session under a name other than its own, byte for byte.
 */
static int
session_context(const char *host, const char *sni,
    unsigned char sid[SHA256_DIGEST_LENGTH])
{
	char	buf[2 * (URL_HOST_MAX + 1)];
	size_t	hlen = strlen(host), slen = sni ? strlen(sni) + 1 : 0;

	if (hlen + slen > sizeof(buf))
		return -1;
	memcpy(buf, host, hlen);
	if (sni != NULL) {
		buf[hlen] = '\0';
		memcpy(buf + hlen + 1, sni, slen - 1);
	}
	return EVP_Digest(buf, hlen + slen, sid, NULL, EVP_sha256(),
	    NULL) == 1 ? 0 : -1;
}

/*
 * The connection takes the context of the host the client named (the
 * default host for a name we do not serve: routing decides): its
 * certificate, and the session-id context of that host and name.  -1
 * only when the library could not switch (out of memory): better no
 * handshake than the wrong host.
 */
static int
use_host(SSL *ssl, const struct tls *t, const char *name)
{
	unsigned char	sid[SHA256_DIGEST_LENGTH];
	char		canon[URL_HOST_MAX + 1];
	size_t		i = 0, h;

	if (name == NULL)
		return 0;	/* the default host's own context */
	if (url_host_canonical(name, canon, sizeof(canon)) == 0)
		for (h = 1; h < t->n && i == 0; h++)
			if (strcmp(t->cf->hosts[h].name, canon) == 0)
				i = h;
	if (SSL_set_SSL_CTX(ssl, t->ctx[i]) == NULL ||
	    session_context(t->cf->hosts[i].name, name, sid) == -1 ||
	    SSL_set_session_id_context(ssl, sid, sizeof(sid)) != 1)
		return -1;
	return 0;
}

static int
sni_cb(SSL *ssl, int *alert, void *arg)
{
	if (use_host(ssl, arg, SSL_get_servername(ssl,
	    TLSEXT_NAMETYPE_host_name)) == 0)
		return SSL_TLSEXT_ERR_OK;
	*alert = SSL_AD_INTERNAL_ERROR;
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/*
 * Both libraries look up the session a client offers (a TLS 1.2
 * ticket, a TLS 1.3 PSK) before they call sni_cb, under the default
 * host's session-id context: a session would resume on any host (and
 * on LibreSSL, under another name, end the handshake).  So the host is
 * chosen from the ClientHello before that lookup: in OpenSSL's
 * ClientHello callback, or, as LibreSSL has none, in the message
 * callback, which sees the ClientHello before LibreSSL reads it.
 */
#ifdef SSL_CLIENT_HELLO_SUCCESS
static int
hello_cb(SSL *ssl, int *alert, void *arg)
{
	const unsigned char	*p;
	char			 name[HELLO_NAME_MAX + 1];
	size_t			 len;

	if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p,
	    &len) != 1 || hello_sni_ext(p, len, name, sizeof(name)) == -1)
		return SSL_CLIENT_HELLO_SUCCESS;	/* sni_cb decides */
	if (use_host(ssl, arg, name) == 0)
		return SSL_CLIENT_HELLO_SUCCESS;
	*alert = SSL_AD_INTERNAL_ERROR;
	return SSL_CLIENT_HELLO_ERROR;
}
#else
/* A host not chosen here (out of memory) is chosen again by sni_cb. */
static void
hello_msg_cb(int write_p, int version, int type, const void *buf,
    size_t len, SSL *ssl, void *arg)
{
	char	name[HELLO_NAME_MAX + 1];

	(void)version;
	if (write_p || type != SSL3_RT_HANDSHAKE || SSL_is_init_finished(ssl) ||
	    hello_sni(buf, len, name, sizeof(name)) == -1)
		return;
	(void)use_host(ssl, arg, name);
}
#endif

/* Say plainly why a file cannot be used, before OpenSSL says it obscurely. */
static int
readable(const char *path, const char *what, const char *host, char *err,
    size_t errlen)
{
	struct stat	st;
	int		fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s for host %s: %s", path, what,
		    host, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: %s for host %s: not a regular file",
		    path, what, host);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * ticket_keys: one or more 80-byte keys, read whole.  A readable-by-all
 * file would let any local user decrypt recorded sessions, so refuse it.
 */
static int
load_ticket_keys(const struct config *cf, struct tls *t, char *err,
    size_t errlen)
{
	struct stat	 st;
	size_t		 len;
	int		 fd;

	if ((fd = open(cf->ticket_keys, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s: ticket_keys %s: %s", cf->file,
		    cf->ticket_keys, strerror(errno));
		goto fail;
	}
	len = (size_t)st.st_size;
	if (!S_ISREG(st.st_mode) || len == 0 || len % TLS_TICKET_KEY_LEN ||
	    len > (size_t)TLS_TICKET_KEYS_MAX * TLS_TICKET_KEY_LEN) {
		snprintf(err, errlen, "%s: ticket_keys %s: expected a file of "
		    "1 to %d keys of %d random bytes (openssl rand %d)",
		    cf->file, cf->ticket_keys, TLS_TICKET_KEYS_MAX,
		    TLS_TICKET_KEY_LEN, TLS_TICKET_KEY_LEN);
		goto fail;
	}
	if (st.st_mode & (S_IROTH | S_IWOTH)) {
		snprintf(err, errlen, "%s: ticket_keys %s: readable or "
		    "writable by others; chmod 600 it", cf->file,
		    cf->ticket_keys);
		goto fail;
	}
	if ((t->tkeys = malloc(len)) == NULL ||
	    read(fd, t->tkeys, len) != (ssize_t)len) {
		snprintf(err, errlen, "%s: ticket_keys %s: %s", cf->file,
		    cf->ticket_keys, t->tkeys ? "short read" : "out of memory");
		goto fail;
	}
	t->ntkeys = len / TLS_TICKET_KEY_LEN;
	close(fd);
	return 0;
fail:
	if (fd != -1)
		close(fd);
	free(t->tkeys);
	t->tkeys = NULL;
	return -1;
}

/*
 * No ticket_keys: one random key for the life of the process, made at
 * the first setup, so that a reload (new contexts, whose own keys would
 * be new) keeps every reader's ticket good; only a restart changes it.
 */
static int
start_ticket_key(struct tls *t, char *err, size_t errlen)
{
	static unsigned char	key[TLS_TICKET_KEY_LEN];
	static int		made;

	if (!made && RAND_bytes(key, sizeof(key)) != 1) {
		snprintf(err, errlen, "ticket key: %s", tls_last_error());
		return -1;
	}
	made = 1;
	if ((t->tkeys = malloc(sizeof(key))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memcpy(t->tkeys, key, sizeof(key));
	t->ntkeys = 1;
	return 0;
}

#ifdef TICKET_EVP_CB
static int
ticket_hmac(EVP_MAC_CTX *hctx, const unsigned char *key)
{
	OSSL_PARAM	p[3];

	p[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
	    (void *)key, 32);
	p[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    "SHA256", 0);
	p[2] = OSSL_PARAM_construct_end();
	return EVP_MAC_CTX_set_params(hctx, p) == 1 ? 0 : -1;
}
#define TICKET_HMAC_CTX	EVP_MAC_CTX
#else
static int
ticket_hmac(HMAC_CTX *hctx, const unsigned char *key)
{
	return HMAC_Init_ex(hctx, key, 32, EVP_sha256(), NULL) == 1 ? 0 : -1;
}
#define TICKET_HMAC_CTX	HMAC_CTX
#endif

/*
 * Session tickets under the shared keys: the first key encrypts new
 * tickets; a ticket under any other listed key still resumes and is
 * renewed under the first (2); an unknown key means a full handshake (0).
 */
static int
ticket_cb(SSL *ssl, unsigned char name[16], unsigned char *iv,
    EVP_CIPHER_CTX *cctx, TICKET_HMAC_CTX *hctx, int enc)
{
	const struct tls	*t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	const unsigned char	*k = t->tkeys;
	size_t			 i;

	if (enc) {
		memcpy(name, k, 16);
		if (RAND_bytes(iv, EVP_CIPHER_iv_length(EVP_aes_256_cbc())) != 1 ||
		    EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k + 48,
		    iv) != 1 || ticket_hmac(hctx, k + 16) == -1)
			return -1;
		return 1;
	}
	for (i = 0; i < t->ntkeys; i++, k += TLS_TICKET_KEY_LEN)
		if (memcmp(name, k, 16) == 0)
			break;
	if (i == t->ntkeys)
		return 0;
	if (ticket_hmac(hctx, k + 16) == -1 ||
	    EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k + 48, iv) != 1)
		return -1;
	return i == 0 ? 1 : 2;
}

static void
use_ticket_keys(SSL_CTX *ctx, struct tls *t)
{
	SSL_CTX_set_app_data(ctx, t);
#ifdef TICKET_EVP_CB
	SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
#else
	SSL_CTX_set_tlsext_ticket_key_cb(ctx, ticket_cb);
#endif
}

/*
 * Each host its own session-id context, that of a connection without a
 * server name (use_host gives one with a name its own): the library
 * resumes a session only where the context matches, so a session, and
 * the client certificate it carries, stays on the host it was made
 * with, even when a client offers it under another name.
 */
static int
host_sid(SSL_CTX *ctx, const char *name)
{
	unsigned char	sid[SHA256_DIGEST_LENGTH];

	if (session_context(name, NULL, sid) == -1)
		return -1;
	return SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid)) == 1 ?
	    0 : -1;
}

/*
 * An encrypted key: never prompt.  OpenSSL's default would ask on the
 * terminal (blocking -n, a start, or a reload in the parent, which then
 * neither reaps workers nor stops); without one it fails obscurely.
 */
static int
refuse_passphrase(char *buf, int size, int rwflag, void *arg)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	*(int *)arg = 1;
	return -1;
}

static SSL_CTX *
host_ctx(const struct host_cfg *h, char *err, size_t errlen)
{
	SSL_CTX	*ctx;
	int	 asked = 0;

	if (readable(h->cert, "certificate", h->name, err, errlen) == -1 ||
	    readable(h->key, "key", h->name, err, errlen) == -1)
		return NULL;
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		snprintf(err, errlen, "SSL_CTX_new: %s", tls_last_error());
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/*
	 * AES-128-GCM first: as safe for this use and cheaper per byte than
	 * AES-256 (OpenSSL's default first choice); ChaCha20 for clients
	 * without AES instructions, who list it first.
	 */
	if (SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:"
	    "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384") != 1 ||
	    SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20:"
	    "!aNULL:!eNULL:!SHA1:!kRSA") != 1) {
		snprintf(err, errlen, "cipher list: %s", tls_last_error());
		goto fail;
	}
#ifdef SSL_OP_PRIORITIZE_CHACHA
	SSL_CTX_set_options(ctx, SSL_OP_PRIORITIZE_CHACHA);
#endif
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
	    SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
#ifdef SSL_MODE_NO_AUTO_CHAIN
	/*
	 * The chain is what the certificate file holds.  Otherwise OpenSSL
	 * tries to build one from the (empty) store on every handshake:
	 * X509_STORE_CTX_new, X509_verify_cert, free, to add nothing.
	 */
	SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
#endif
	/* whole records per read(2), not a header and then a body */
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (host_sid(ctx, h->name) == -1) {
		snprintf(err, errlen, "session id context: %s", tls_last_error());
		goto fail;
	}
#ifndef LIBRESSL_VERSION_NUMBER
	SSL_CTX_set_num_tickets(ctx, 1);
#endif
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_any);
	if (SSL_CTX_use_certificate_chain_file(ctx, h->cert) != 1) {
		snprintf(err, errlen, "%s: cannot load certificate: %s",
		    h->cert, tls_last_error());
		goto fail;
	}
	SSL_CTX_set_default_passwd_cb(ctx, refuse_passphrase);
	SSL_CTX_set_default_passwd_cb_userdata(ctx, &asked);
	if (SSL_CTX_use_PrivateKey_file(ctx, h->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		if (asked) {
			ERR_clear_error();
			snprintf(err, errlen, "%s: key is encrypted (capsuled "
			    "needs an unencrypted key)", h->key);
		} else
			snprintf(err, errlen, "%s: cannot load key for %s: %s",
			    h->key, h->cert, tls_last_error());
		goto fail;
	}
	SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

void
tls_error_at_host(const struct config *cf, const struct host_cfg *h,
    char *err, size_t errlen)
{
	char	msg[CONFIG_ERR_MAX];

	snprintf(msg, sizeof(msg), "%s", err);
	snprintf(err, errlen, "%s:%d: %s", cf->file, h->line, msg);
}

int
tls_setup(const struct config *cf, struct tls *t, char *err, size_t errlen)
{
	size_t	i;

	memset(t, 0, sizeof(*t));
	t->cf = cf;
	if (cf->ticket_keys[0] != '\0' ?
	    load_ticket_keys(cf, t, err, errlen) == -1 :
	    start_ticket_key(t, err, errlen) == -1)
		return -1;
	if ((t->ctx = calloc(cf->nhosts, sizeof(SSL_CTX *))) == NULL) {
		snprintf(err, errlen, "out of memory");
		free(t->tkeys);
		t->tkeys = NULL;
		return -1;
	}
	for (i = 0; i < cf->nhosts; i++) {
		if ((t->ctx[i] = host_ctx(&cf->hosts[i], err, errlen)) == NULL) {
			tls_error_at_host(cf, &cf->hosts[i], err, errlen);
			tls_free(t);
			return -1;
		}
		t->n++;
		/* OpenSSL asks the first context; set them all anyway */
		if (t->tkeys != NULL)
			use_ticket_keys(t->ctx[i], t);
	}
	SSL_CTX_set_tlsext_servername_callback(t->ctx[0], sni_cb);
	SSL_CTX_set_tlsext_servername_arg(t->ctx[0], t);
#ifdef SSL_CLIENT_HELLO_SUCCESS
	SSL_CTX_set_client_hello_cb(t->ctx[0], hello_cb, t);
#else
	SSL_CTX_set_msg_callback(t->ctx[0], hello_msg_cb);
	SSL_CTX_set_msg_callback_arg(t->ctx[0], t);
#endif
	return 0;
}

int
tls_check(const struct config *cf, char *err, size_t errlen)
{
	struct tls	 t;
	SSL_CTX		*ctx;
	size_t		 i;

	memset(&t, 0, sizeof(t));
	t.cf = cf;
	if (cf->ticket_keys[0] != '\0' &&
	    load_ticket_keys(cf, &t, err, errlen) == -1)
		return -1;
	tls_free(&t);
	for (i = 0; i < cf->nhosts; i++) {
		if (access(cf->hosts[i].cert, F_OK) == -1 &&
		    access(cf->hosts[i].key, F_OK) == -1)
			continue;	/* to be generated at start */
		if ((ctx = host_ctx(&cf->hosts[i], err, errlen)) == NULL) {
			tls_error_at_host(cf, &cf->hosts[i], err, errlen);
			return -1;
		}
		SSL_CTX_free(ctx);
	}
	return 0;
}

void
tls_free(struct tls *t)
{
	size_t	i;

	for (i = 0; i < t->n; i++)
		SSL_CTX_free(t->ctx[i]);
	free(t->ctx);
	if (t->tkeys != NULL) {
		OPENSSL_cleanse(t->tkeys, t->ntkeys * TLS_TICKET_KEY_LEN);
		free(t->tkeys);
	}
	memset(t, 0, sizeof(*t));
}

static X509 *
peer_cert(SSL *ssl)
{
#if OPENSSL_VERSION_NUMBER >= 0x30000000L && !defined(LIBRESSL_VERSION_NUMBER)
	return SSL_get1_peer_certificate(ssl);
#else
	return SSL_get_peer_certificate(ssl);
#endif
}

int
tls_client_hash(SSL *ssl, unsigned char out[32])
{
	X509		*x;
	unsigned int	 len = 32;
	int		 r;

	if ((x = peer_cert(ssl)) == NULL)
		return -1;
	r = X509_digest(x, EVP_sha256(), out, &len) == 1 ? 0 : -1;
	X509_free(x);
	return r;
}

int
tls_client_in_date(SSL *ssl)
{
	X509	*x;
	int	 r;

	if ((x = peer_cert(ssl)) == NULL)
		return -1;
	r = X509_cmp_current_time(X509_get0_notBefore(x)) < 0 &&
	    X509_cmp_current_time(X509_get0_notAfter(x)) > 0;
	X509_free(x);
	return r;
}

static void
iso8601(const ASN1_TIME *t, char *out, size_t len)
{
	struct tm	tm;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1 ||
	    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		out[0] = '\0';
}

int
tls_client_info(SSL *ssl, struct tls_client *cc)
{
	X509		*x;
	BIGNUM		*bn;
	char		*hex;
	int		 n;

	memset(cc, 0, sizeof(*cc));
	if ((x = peer_cert(ssl)) == NULL)
		return -1;
	n = X509_NAME_get_text_by_NID(X509_get_subject_name(x),
	    NID_commonName, cc->cn, sizeof(cc->cn));
	if (n < 0)
		cc->cn[0] = '\0';
	iso8601(X509_get0_notBefore(x), cc->not_before,
	    sizeof(cc->not_before));
	iso8601(X509_get0_notAfter(x), cc->not_after, sizeof(cc->not_after));
	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) != NULL &&
	    (hex = BN_bn2hex(bn)) != NULL) {
		snprintf(cc->serial, sizeof(cc->serial), "%s", hex);
		OPENSSL_free(hex);
	}
	BN_free(bn);
	X509_free(x);
	return 0;
}
