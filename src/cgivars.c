/*
 * cgivars.c: the variables of a request, for CGI, FastCGI and SCGI
 * alike (see cgivars.h).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/ssl.h>

#include "access.h"
#include "cgivars.h"
#include "config.h"
#include "logfmt.h"
#include "plan.h"
#include "request.h"
#include "tlsctx.h"

/* The one table of names: enum cgi_var's order. */
static const char *const names[CV_NVARS] = {
	"GATEWAY_INTERFACE", "SERVER_PROTOCOL", "SERVER_SOFTWARE",
	"SERVER_NAME", "SERVER_PORT", "GEMINI_URL", "GEMINI_URL_PATH",
	"SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "DOCUMENT_ROOT",
	"SCRIPT_FILENAME", "REMOTE_ADDR", "REMOTE_HOST", "REMOTE_PORT",
	"TLS_VERSION", "TLS_CIPHER", "PATH", "AUTH_TYPE", "REMOTE_USER",
	"TLS_CLIENT_HASH", "TLS_CLIENT_NOT_BEFORE", "TLS_CLIENT_NOT_AFTER",
	"TLS_CLIENT_SERIAL_NUMBER",
};

const char *
cgi_var_name(enum cgi_var v)
{
	return names[v];
}

void
cgi_vars_clean(char *v, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			v[i] = '?';
		else if ((unsigned char)v[i] == 0xc2 && i + 1 < len &&
		    (unsigned char)v[i + 1] >= 0x80 &&
		    (unsigned char)v[i + 1] <= 0x9f) {
			v[i] = '?';
			v[i + 1] = '?';
		}
	}
}

/* len bytes of s as v's value, cleaned; -1 when it does not fit. */
static int
put_n(struct cgi_vars *cv, enum cgi_var v, const char *s, size_t len)
{
	char	*dst = cv->buf + cv->len;

	if (len >= sizeof(cv->buf) - cv->len)
		return -1;
	memcpy(dst, s, len);
	dst[len] = '\0';
	cgi_vars_clean(dst, len);
	cv->val[v] = dst;
	cv->len += len + 1;
	return 0;
}

static int
put(struct cgi_vars *cv, enum cgi_var v, const char *s)
{
	return put_n(cv, v, s, strlen(s));
}

static int
put_int(struct cgi_vars *cv, enum cgi_var v, long n)
{
	char	num[32];

	(void)snprintf(num, sizeof(num), "%ld", n);
	return put(cv, v, num);
}

/* AUTH_TYPE, REMOTE_USER and the TLS_CLIENT_* set, with a certificate. */
static int
client_cert(struct cgi_vars *cv, const struct facts *f, const char *path)
{
	static const char	 hex[] = "0123456789ABCDEF";
	struct tls_client	 cc;
	const char		*user;
	char			 hash[8 + 64 + 1];
	int			 i;

	if (f->cert == CERT_NONE || tls_client_info(f->ssl, &cc) == -1)
		return 0;
	memcpy(hash, "SHA256:", 7);
	for (i = 0; i < 32; i++) {
		hash[7 + 2 * i] = hex[f->client_hash[i] >> 4];
		hash[8 + 2 * i] = hex[f->client_hash[i] & 15];
	}
	hash[7 + 64] = '\0';
	/* the name an access list gives it, else the certificate's CN */
	user = access_user(f, path);
	return put(cv, CV_AUTH_TYPE, "CERTIFICATE") |
	    put(cv, CV_REMOTE_USER, user != NULL ? user : cc.cn) |
	    put(cv, CV_TLS_CLIENT_HASH, hash) |
	    put(cv, CV_TLS_CLIENT_NOT_BEFORE, cc.not_before) |
	    put(cv, CV_TLS_CLIENT_NOT_AFTER, cc.not_after) |
	    put(cv, CV_TLS_CLIENT_SERIAL_NUMBER, cc.serial);
}

/* DOCUMENT_ROOT and SCRIPT_FILENAME, for a CGI wrapper upstream. */
static int
wrapper(struct cgi_vars *cv, const char *docroot, const char *script)
{
	char	file[PATH_MAX + URL_MAX + 1];
	size_t	n = strlen(docroot);
	int	len;

	while (n > 1 && docroot[n - 1] == '/')
		n--;		/* "/srv/gemini/" + "/cgi-bin/x" */
	len = snprintf(file, sizeof(file), "%.*s%s", (int)n, docroot, script);
	if (len < 0 || (size_t)len >= sizeof(file))
		return -1;
	return put_n(cv, CV_DOCUMENT_ROOT, docroot, n) |
	    put(cv, CV_SCRIPT_FILENAME, n == 1 ? script : file);
}

int
cgi_vars_fill(struct cgi_vars *cv, const struct facts *f,
    const struct request *r, size_t scriptlen, const char *docroot)
{
	char	addr[LOGFMT_ADDR_MAX];
	int	rv;

	memset(cv->val, 0, sizeof(cv->val));
	cv->len = 0;
	rv = put(cv, CV_GATEWAY_INTERFACE, "CGI/1.1") |
	    put(cv, CV_SERVER_PROTOCOL, "GEMINI") |
	    put(cv, CV_SERVER_SOFTWARE, "capsuled/" CAPSULED_VERSION) |
	    put(cv, CV_SERVER_NAME, f->host->name) |
	    put_int(cv, CV_SERVER_PORT, f->local_port) |
	    put(cv, CV_GEMINI_URL, r->line) |
	    put(cv, CV_GEMINI_URL_PATH, r->url.path) |
	    put_n(cv, CV_SCRIPT_NAME, r->url.path, scriptlen) |
	    put(cv, CV_PATH_INFO, r->url.path + scriptlen) |
	    put(cv, CV_QUERY_STRING, r->url.query);
	if (docroot != NULL)
		rv |= wrapper(cv, docroot, cv->val[CV_SCRIPT_NAME] != NULL ?
		    cv->val[CV_SCRIPT_NAME] : "");
	/*
	 * What a script sees of the client follows log_ip: what it writes
	 * to stderr goes to the error log, and what it keeps is the
	 * branch's to answer for.  The port too names a reader (behind a
	 * carrier's NAT, address, port and time do): only with full.
	 */
	logfmt_cgi_addr(f->peer_addr, f->cf->log_ip, addr);
	rv |= put(cv, CV_REMOTE_ADDR, addr) | put(cv, CV_REMOTE_HOST, addr);
	if (f->cf->log_ip == LOG_IP_FULL)
		rv |= put_int(cv, CV_REMOTE_PORT, f->peer_port);
	if (f->ssl != NULL)	/* NULL: a routing test's facts */
		rv |= put(cv, CV_TLS_VERSION, SSL_get_version(f->ssl)) |
		    put(cv, CV_TLS_CIPHER, SSL_get_cipher_name(f->ssl));
	if (docroot == NULL)
		rv |= put(cv, CV_PATH, "/usr/bin:/bin");
	rv |= client_cert(cv, f, r->url.path);
	return rv == 0 ? 0 : -1;
}
