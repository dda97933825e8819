/*
 * log.h: the error log (stderr with -d, else syslog) and the access log
 * (one line per request: stderr, syslog, a file, or off).  Every line is
 * written with a single write(2) so workers never interleave, and no
 * line ever carries a raw control character.
 */
#ifndef CAPSULED_LOG_H
#define CAPSULED_LOG_H

#include <stddef.h>

#include "config.h"
#include "request.h"

/* Error log: foreground -> stderr; otherwise syslog as "capsuled". */
void	log_init(int foreground);
/*
 * The syslog facility for both logs (syslog_facility in the config) and
 * the socket (syslog_socket; NULL: as before), connected now: workers
 * cannot connect once sandboxed.  Never blocks: a full socket drops the
 * line and counts it.
 */
void	log_facility(int facility, const char *sock);
/* Open (or reopen, for rotation) the access log named by the config. */
int	log_open_access(const struct config *cf, char *err, size_t errlen);

void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct access_entry {
	const char	*addr;		/* client address */
	const char	*host;		/* "" when not known yet */
	const char	*request;	/* raw bytes as sent, may be NULL */
	size_t		 reqlen;
	int		 status;	/* 0: no response was sent */
	unsigned long long bytes;	/* body and header bytes sent */
	long		 msec;		/* from accept to close */
	int		 cut;		/* the body was cut short */
	const char	*user;		/* a Titan upload's certificate name
					   or fingerprint; NULL otherwise */
};
void	log_access(const struct access_entry *);

/*
 * A request line as the access log may show it: a Titan line's token
 * (a secret) left out, into out; any other line as it is.  *len is the
 * line's length, then the result's.
 */
const char *log_request(const char *line, size_t *len,
	    char out[REQUEST_MAX + 1]);

/* Copy src to dst escaping control bytes, '\\' and '"' as \xNN. */
size_t	log_escape(char *dst, size_t dstlen, const char *src, size_t len);

#endif
