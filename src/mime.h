/*
 * mime.h: the MIME type of a file to serve.  The host's `mime` rules
 * (rules.h) answer first, then a built-in extension table; libmagic
 * only for names neither knows, with its answer cached by (device,
 * inode, mtime, size).
 */
#ifndef CAPSULED_MIME_H
#define CAPSULED_MIME_H

#include <sys/stat.h>

/* Load the libmagic database (before any sandbox closes).  0 or -1. */
int		 mime_init(void);

/* The type for name: from its extension, or NULL if unknown. */
const char	*mime_by_name(const char *name);

/* The first extension the table gives type (type/subtype), or NULL. */
const char	*mime_extension(const char *type);

struct rules;

/*
 * The type to serve the open regular file fd (described by st) as,
 * under the host rules rs (NULL: none).  Never NULL: falls back to
 * application/octet-stream.
 */
const char	*mime_for_file(const struct rules *rs, const char *name, int fd,
		    const struct stat *st);

#endif
