/*
 * logfmt.h: the access log's line in each log_format, and a client's
 * address as the logs give it (log_ip).  Pure: no I/O, no globals; the
 * caller gives the time.
 *
 * Every byte a client chose is escaped (log_escape) in every format: no
 * line carries a control character (C0, DEL, C1), a byte that is not
 * UTF-8, or a quote or backslash of its own, so a field never ends
 * early and a JSON line is valid JSON whatever it was given.
 */
#ifndef CAPSULED_LOGFMT_H
#define CAPSULED_LOGFMT_H

#include <stddef.h>
#include <time.h>

#include "config.h"

#define LOGFMT_LINE_MAX	8192	/* a line and its NUL: never longer */
#define LOGFMT_ADDR_MAX	64	/* an address as logged, and its NUL */

/* What a request was, for a Titan upload's line and its metrics. */
enum entry_kind {
	ENTRY_GEMINI,		/* not an upload */
	ENTRY_TITAN_REFUSED,	/* a titan request answered before a body */
	ENTRY_TITAN_WRITE,	/* an upload that began: a file written */
	ENTRY_TITAN_DELETE,	/* or, with size 0, deleted */
};

struct access_entry {
	const char	*addr;		/* the client as logged: logfmt_addr */
	const char	*host;		/* "" when not known yet */
	int		 hostid;	/* the host's index in the config; -1 */
	const char	*request;	/* raw bytes as sent, may be NULL */
	size_t		 reqlen;
	int		 status;	/* 0: no response was sent */
	const char	*meta;		/* of a response not 2x; NULL: none */
	unsigned long long bytes;	/* body and header bytes sent */
	unsigned long long header;	/* of which the header's */
	long		 msec;		/* from accept to close */
	int		 cut;		/* the body was cut short */
	const char	*user;		/* the name a certificate list gives
					   (or its fingerprint); NULL */
	enum entry_kind	 kind;
	const char	*tls;		/* "TLSv1.3"; NULL: no handshake */
	int		 resumed;	/* the TLS session was resumed */
	const unsigned char *cert;	/* SHA-256 of the client's
					   certificate, to log; NULL */
	const char	*upstream;	/* the upstream that answered (its
					   name, upstream.h); NULL */
};

/*
 * Copy src to dst escaping control bytes, bytes that are not UTF-8,
 * '\\' and '"' as \xNN; an escape is never cut.  Returns the length.
 */
size_t	log_escape(char *dst, size_t dstlen, const char *src, size_t len);

/*
 * The entry's line in format fmt, without a newline, at most
 * LOGFMT_LINE_MAX - 1 bytes; now is the time it is written.  Returns
 * the length.  LOG_CAPSULED has no time: the log adds it where the
 * line goes to a file or stderr (syslog has its own).
 */
size_t	logfmt_line(char buf[LOGFMT_LINE_MAX], enum log_format fmt,
	    const struct access_entry *e, time_t now);

/* The HTTP status the common and combined formats write for a Gemini
 * status (0: none sent): capsuled.ini(5) has the table. */
int	logfmt_http_status(int gemini);

/*
 * A client's address ("192.0.2.7", "2001:db8::1") as the logs give it:
 * as it is; its network (IPv4 /24 "192.0.2.0", IPv6 /48
 * "2001:db8:1::", an IPv4-mapped address as IPv4); or "-".
 */
void	logfmt_addr(const char *addr, enum log_ip, char out[LOGFMT_ADDR_MAX]);

/*
 * REMOTE_ADDR for a CGI script, which must be an address (RFC 3875
 * 4.1.8): as logfmt_addr, but off gives the unspecified address of the
 * client's family ("0.0.0.0", "::").
 */
void	logfmt_cgi_addr(const char *addr, enum log_ip,
	    char out[LOGFMT_ADDR_MAX]);

#endif
