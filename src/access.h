/*
 * access.h: client-certificate rules, `access = PATH FILE` (60, 61, 62
 * before a page is served) and the same check for `titan = PATH FILE`.
 *
 * The parent loads every fingerprint list at start, -n and reload
 * (access_prepare: an error names file:line and the config is refused)
 * and opens each list's directory, which workers may then read (and
 * nothing else there: see sandbox.c).  A worker stats a list on each
 * use and reads it again when it changed, so an admin edits it (adds a
 * fingerprint, rotates one, removes one) with no reload; a re-read that
 * fails keeps the old list and says why in the error log, once.
 */
#ifndef CAPSULED_ACCESS_H
#define CAPSULED_ACCESS_H

#include <stddef.h>

#include "certlist.h"
#include "config.h"
#include "plan.h"
#include "request.h"

struct access_files;

/* Parent: load every list of cf and open their directories.  NULL
 * with err set ("file:line: why"); cf without lists gives an empty set. */
struct access_files *access_prepare(const struct config *cf, char *err,
	    size_t errlen);
void	access_free(struct access_files *);
/* Close the list directories (the lists stay): before another
 * generation forks, which must not inherit them. */
void	access_close_fds(struct access_files *);
/* The list directories, for the sandbox: *n descriptors, and their
 * paths in the same order. */
const int *access_dirfds(const struct access_files *, size_t *n);
const char *const *access_dirs(const struct access_files *);

/* Worker, after fork: the lists it checks. */
void	access_worker_init(struct access_files *);

/*
 * The certificate check of one rule: 0 when the client's certificate
 * is listed in file and in date (*who: its entry), else it plans 60,
 * 61 (the meta holds the fingerprint, SHA256:HEX) or 62 and returns 1.
 */
int	access_check(const struct facts *, const char *file,
	    const struct cert_entry **who, struct plan *);

/* Routing step: the host's access rules for gemini requests. */
int	route_certs(const struct facts *, const struct request *,
	    struct plan *);

/* The listed name of the client under an access rule for path, or NULL
 * (CGI's REMOTE_USER). */
const char *access_user(const struct facts *, const char *path);

#endif
