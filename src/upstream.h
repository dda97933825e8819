/*
 * upstream.h: a host's upstreams, from its config section.
 *
 *	fastcgi = PATH SOCKET [keepalive=N] [root=DIR]
 *	scgi = PATH SOCKET [root=DIR]
 *	proxy = PATH gemini://HOST[:PORT][/BASE] [sni=NAME]
 *	    [verify=none|sha256:HEX|ca:FILE] [cert=FILE key=FILE]
 *	    [proxy_protocol]
 *
 * PATH is written as the routing rules' (rules.h): "/app/" covers what
 * is under it (and "/app", which is sent to "/app/"), "/app" itself
 * and what is under "/app/".  SOCKET is unix:/ABSOLUTE/PATH or
 * HOST:PORT ([v6]:PORT).  A HOST that is not an address is resolved
 * when the config is loaded (upconn.h), never by a worker.  Options may
 * go on indented lines after the key's (inih's continuation lines).
 *
 * The URL a proxied request is sent to is never the client's: it is
 * the configured BASE with the rest of the path after PATH, and the
 * query, appended (upstream_url).
 *
 * Pure: no I/O, no globals, no allocation.
 */
#ifndef CAPSULED_UPSTREAM_H
#define CAPSULED_UPSTREAM_H

#include <sys/types.h>
#include <sys/socket.h>
#include <limits.h>
#include <stddef.h>

#include "rules.h"
#include "url.h"

#define UPSTREAM_NAME_MAX	(16 + URL_MAX)	/* "fastcgi:unix:/..." */
#define UPSTREAM_WHY_MAX	(PATH_MAX + 256)
#define UPSTREAM_KEEP_MAX	64	/* keepalive=N, at most */
#define UPSTREAM_SUN_MAX	108	/* a sun_path, NUL counted */

enum upstream_kind { UP_FASTCGI, UP_SCGI, UP_GEMINI };

enum upstream_verify {
	UP_VERIFY_UNSET,	/* an error once the line is read */
	UP_VERIFY_NONE,		/* written: verify=none */
	UP_VERIFY_PIN,		/* the leaf certificate's SHA-256 */
	UP_VERIFY_CA,		/* a chain to the CA file, and the name */
};

struct upstream_cfg {
	enum upstream_kind	 kind;
	int			 line;		/* its key's, in the config */
	size_t			 index;		/* among all the config's */
	char			 path[RULES_PATH_MAX];	/* decoded */
	char			 name[UPSTREAM_NAME_MAX];	/* as logged */
	/* where: a UNIX socket, or a TCP host and port */
	char			 sun_path[UPSTREAM_SUN_MAX];	/* "": TCP */
	char			 sun_jail[UPSTREAM_SUN_MAX];	/* as a chrooted
						   worker knows it (upconn.h) */
	char			 host[URL_HOST_MAX + 1];	/* canonical */
	int			 port;
	struct sockaddr_storage	 ss;	/* an address, or resolved at load */
	socklen_t		 sslen;	/* 0: not yet */
	/* fastcgi and scgi */
	int			 keepalive;	/* idle connections kept */
	char			 root[PATH_MAX];  /* DOCUMENT_ROOT; "": host's */
	/* proxy */
	char			 base[RULES_PATH_MAX];	/* decoded, "/..." */
	char			 sni[URL_HOST_MAX + 1];	/* "": none sent */
	enum upstream_verify	 verify;
	unsigned char		 pin[32];
	char			 ca[PATH_MAX];
	char			 cert[PATH_MAX], key[PATH_MAX];	/* "": none */
	int			 proxy_protocol;
};

/*
 * The key's value (what follows "fastcgi = "), written on config line
 * line; relative FILEs resolve against dir.  0, or -1 with why (that
 * starts with the key's name).
 */
int	upstream_parse(enum upstream_kind, const char *value, const char *dir,
	    int line, struct upstream_cfg *, char *why, size_t whylen);

/* More options for u, from a continuation line.  0 or -1 with why. */
int	upstream_options(struct upstream_cfg *, const char *value,
	    const char *dir, char *why, size_t whylen);

/*
 * Once the line and its continuations are read: what needs all the
 * options (a proxy's verify, cert with key).  0 or -1 with why.
 */
int	upstream_check(const struct upstream_cfg *, char *why,
	    size_t whylen);

/* The key's name: "fastcgi", "scgi", "proxy". */
const char *upstream_key(enum upstream_kind);

/*
 * The upstream of v (n of them) whose PATH covers path (decoded)
 * longest, or NULL.  *slash is set when path is a prefix PATH without
 * its last '/' ("/app" for "/app/"): the answer is then 31 "/app/".
 */
const struct upstream_cfg *upstream_find(const struct upstream_cfg *v,
	    size_t n, const char *path, int *slash);

/*
 * What path leaves after u's PATH: "" for PATH itself, "x/y" under a
 * prefix "/app/", "/y" under "/app".
 */
const char *upstream_rest(const struct upstream_cfg *, const char *path);

/*
 * The request line a proxied request is sent as (path is one that
 * upstream_find gave u for, slash unset): gemini://, the SNI
 * name (else HOST), the port unless 1965, BASE with the rest of path
 * after PATH, percent-encoded, "?query" when query is not NULL, CRLF.
 * Its length, or -1 when the URL would be longer than URL_MAX.
 */
int	upstream_url(const struct upstream_cfg *, const char *path,
	    const char *query, char *out, size_t outlen);

#endif
