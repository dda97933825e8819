/*
 * certlist.h: a list of client-certificate fingerprints, the FILE of
 * `access = PATH FILE` and `titan = PATH FILE`:
 *
 *	# comment
 *	SHA256:0123...CDEF  Branch secretary
 *
 * one fingerprint a line (64 hex digits, either case, the pairs may be
 * separated by ':' as `openssl x509 -fingerprint` prints them), then an
 * optional name (logged, and given to CGI as REMOTE_USER).  Pure: no
 * I/O, no globals; certlist_parse allocates the entries, which
 * certlist_free releases.
 */
#ifndef CAPSULED_CERTLIST_H
#define CAPSULED_CERTLIST_H

#include <stddef.h>

#define CERTLIST_NAME_MAX	64	/* bytes of a name */
#define CERTLIST_MAX		10000	/* entries in a file */
#define CERTLIST_FILE_MAX	1048576L
#define CERTLIST_HEX_LEN	(7 + 64)	/* "SHA256:" + 64 hex digits */

struct cert_entry {
	unsigned char	hash[32];
	char		name[CERTLIST_NAME_MAX + 1];	/* "" when none */
	int		line;		/* where the file lists it */
};

struct certlist {
	struct cert_entry	*v;
	size_t			 n;
};

/*
 * Parse the len bytes of buf as the list file named file (for
 * messages).  0 with *out filled (sorted by fingerprint; free it with
 * certlist_free), or -1
 * with err "file:line: why" and nothing to free: a line that is not a
 * fingerprint, a name with control bytes or not UTF-8 or too long, a
 * fingerprint listed twice, NUL bytes, more than CERTLIST_MAX entries
 * or CERTLIST_FILE_MAX bytes.  An empty list is valid: nobody is let in.
 */
int	certlist_parse(const char *buf, size_t len, const char *file,
	    struct certlist *out, char *err, size_t errlen);

void	certlist_free(struct certlist *);

/*
 * Every entry of new, and those of old it does not have (two parsed
 * lists), into *out (certlist_free it): what is let in while a list
 * that just changed may still be half written.  0, or -1 out of memory.
 */
int	certlist_union(const struct certlist *old, const struct certlist *new,
	    struct certlist *out);

/* The entry for a SHA-256 fingerprint, or NULL (a binary search). */
const struct cert_entry *certlist_find(const struct certlist *,
	    const unsigned char hash[32]);

/*
 * A fingerprint as a list writes it, the whole of s: 64 hex digits,
 * either case, the pairs perhaps split by ':', "SHA256:" before them or
 * not.  0 with hash set, or -1.
 */
int	certlist_hash(const char *s, unsigned char hash[32]);

/* "SHA256:" and 64 upper-case hex digits, NUL-terminated. */
void	certlist_hex(const unsigned char hash[32],
	    char out[CERTLIST_HEX_LEN + 1]);

#endif
