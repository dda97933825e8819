/*
 * tlsctx.h: one SSL_CTX per host, SNI picks it; self-signed certificates
 * made on first start; the client certificate's fingerprint.
 */
#ifndef CAPSULED_TLSCTX_H
#define CAPSULED_TLSCTX_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "config.h"

#define TLS_TICKET_KEY_LEN	80	/* name 16, HMAC 32, AES 32 */
#define TLS_TICKET_KEYS_MAX	16

struct tls {
	SSL_CTX			**ctx;	/* ctx[i] serves cf->hosts[i] */
	size_t			  n;
	const struct config	 *cf;
	unsigned char		 *tkeys;	/* ticket_keys: the first */
	size_t			  ntkeys;	/* encrypts, all decrypt */
};

/*
 * If neither the host's cert nor its key exists, make an ECDSA P-256
 * self-signed certificate for the host name (SAN = the name, ten years)
 * and write both, the key with mode 0600.  Never overwrites: if only one
 * of the two exists that is an error.  *made says whether it generated.
 */
int	tls_ensure_cert(const struct host_cfg *h, int *made, char *err,
	    size_t errlen);
/* For -n: whether tls_ensure_cert could write the pair; 0 or -1. */
int	tls_can_generate(const struct host_cfg *h, char *err, size_t errlen);

/*
 * Build a context per host (loading every certificate and key, and the
 * session ticket keys when cf->ticket_keys names a file).
 */
int	tls_setup(const struct config *cf, struct tls *t, char *err,
	    size_t errlen);
void	tls_free(struct tls *t);

/* Put "config:line: " (the host's section) before the message in err. */
void	tls_error_at_host(const struct config *, const struct host_cfg *,
	    char *err, size_t errlen);

/*
 * For -n while some pairs are still to be generated (so tls_setup cannot
 * run): load the ticket keys and every pair that exists, and keep none.
 */
int	tls_check(const struct config *cf, char *err, size_t errlen);

/* The library's oldest queued error as text (the queue then cleared). */
const char	*tls_last_error(void);

/* SHA-256 of the client's certificate; 0 if it sent one, else -1. */
int	tls_client_hash(SSL *ssl, unsigned char out[32]);

/* 1 if the client's certificate is within its validity dates now, 0
 * if not, -1 if it sent none. */
int	tls_client_in_date(SSL *ssl);

/* What CGI scripts are told of a client certificate. */
struct tls_client {
	char	cn[256];		/* subject CN, "" if none */
	char	not_before[32];		/* ISO 8601, UTC */
	char	not_after[32];
	char	serial[128];		/* upper-case hex */
};
int	tls_client_info(SSL *ssl, struct tls_client *out);

#endif
