/*
 * log.h: the error log (stderr with -d, else syslog) and the access log
 * (one line per request: stderr, syslog, a file, or off; its formats
 * are logfmt.c's).  Every line is written with a single write(2) so
 * workers never interleave, and no line ever carries a raw control
 * character.
 */
#ifndef CAPSULED_LOG_H
#define CAPSULED_LOG_H

#include <stddef.h>

#include "config.h"
#include "logfmt.h"

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

/* fn (the metrics' count) is told of each line a log could not take. */
void	log_on_lost(void (*fn)(void));

void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * One access-log line in the format of the config last opened
 * (log_open_access), one write(2); a line the log cannot take is
 * counted as lost (metrics) and said in the error log.
 */
void	log_access(const struct access_entry *);

#endif
