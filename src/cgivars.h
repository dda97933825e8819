/*
 * cgivars.h: the variables a request gives a script or an application,
 * named once.  CGI puts them in a script's environment (cgi.c); FastCGI
 * and SCGI send them as the request's parameters (upstep.c).  Values
 * are copied and cleaned: no control character (C0, DEL, C1) reaches
 * a script, much of it being the client's.
 */
#ifndef CAPSULED_CGIVARS_H
#define CAPSULED_CGIVARS_H

#include <stddef.h>

#include "plan.h"
#include "request.h"

enum cgi_var {
	CV_GATEWAY_INTERFACE,
	CV_SERVER_PROTOCOL,
	CV_SERVER_SOFTWARE,
	CV_SERVER_NAME,
	CV_SERVER_PORT,
	CV_GEMINI_URL,
	CV_GEMINI_URL_PATH,
	CV_SCRIPT_NAME,
	CV_PATH_INFO,
	CV_QUERY_STRING,
	CV_DOCUMENT_ROOT,	/* upstreams only: for a CGI wrapper */
	CV_SCRIPT_FILENAME,	/* upstreams only */
	CV_REMOTE_ADDR,
	CV_REMOTE_HOST,
	CV_REMOTE_PORT,		/* log_ip = full only */
	CV_TLS_VERSION,
	CV_TLS_CIPHER,
	CV_PATH,		/* CGI only: the script's own PATH */
	CV_AUTH_TYPE,		/* these with a client certificate only */
	CV_REMOTE_USER,
	CV_TLS_CLIENT_HASH,
	CV_TLS_CLIENT_NOT_BEFORE,
	CV_TLS_CLIENT_NOT_AFTER,
	CV_TLS_CLIENT_SERIAL_NUMBER,
	CV_NVARS
};

#define CGI_VARS_BUF	8192	/* every value, NULs included */

struct cgi_vars {
	const char	*val[CV_NVARS];	/* NULL: not given */
	char		 buf[CGI_VARS_BUF];
	size_t		 len;
};

/* The variable's name: "GATEWAY_INTERFACE". */
const char	*cgi_var_name(enum cgi_var);

/*
 * The variables of request r for the script at the first scriptlen
 * bytes of its path (SCRIPT_NAME; the rest is PATH_INFO).  docroot
 * NULL: for a CGI script; else for an upstream, which also gets
 * DOCUMENT_ROOT (docroot) and SCRIPT_FILENAME, and no PATH.  0, or -1
 * when they do not fit.
 */
int	cgi_vars_fill(struct cgi_vars *, const struct facts *,
	    const struct request *, size_t scriptlen, const char *docroot);

/* Control characters (C0, DEL, C1) in v made '?', in place. */
void	cgi_vars_clean(char *v, size_t len);

#endif
