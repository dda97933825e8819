/*
 * rules.h: a host's routing rules, from its config section.
 *
 *	redirect = FROM TO [permanent]	30 (31) to TO
 *	gone = PATH			52
 *	lang = PATH TAG[,TAG...]	the lang parameter of text/gemini
 *	mime = .EXT TYPE		the type of the files named *.EXT
 *
 * A FROM or PATH is an exact path ("/old.gmi") or, ending in '/', a
 * prefix ("/blog/") that also covers its directory's name without the
 * slash ("/blog").  Paths are written as in a URL (percent escapes
 * allowed) and compared decoded, as request paths are.  The longest
 * match wins; redirect and gone share one table, so a redirect inside
 * a gone section (or the reverse) is the more specific rule.
 *
 * A redirect's TO is a path on this host or an absolute gemini:// URL,
 * with no query: the request's own query is carried over (the spec has
 * clients use a redirect "as is", never adding the query themselves).
 * A prefix rule whose TO ends in '/' carries the rest of the path over
 * ("/blog/x.gmi" -> "/news/x.gmi"); any other TO takes every path
 * under FROM to that one place.
 *
 * Pure: no I/O, no globals.  The tables are the caller's: zeroed, then
 * grown by rules_add_* (malloc) and sealed by rules_seal before the
 * first lookup; rules_free releases them.
 */
#ifndef CAPSULED_RULES_H
#define CAPSULED_RULES_H

#include <stddef.h>

#include "url.h"

#define RULES_PATH_MAX	256	/* a decoded FROM, PATH or TO, NUL counted */
#define RULES_LANG_MAX	64	/* a tag list, NUL counted */
#define RULES_EXT_MAX	32	/* ".epub", NUL counted */
#define RULES_TYPE_MAX	128	/* "application/epub+zip", NUL counted */
#define RULES_CHAIN_MAX	5	/* redirects in a row clients follow */
#define RULES_WHY_MAX	512	/* room for any message of rules_* */

enum rules_kind { RULES_REDIRECT, RULES_GONE };

struct rules_path {
	char	from[RULES_PATH_MAX];	/* first: the lookups key on it */
	int	kind;			/* RULES_REDIRECT or RULES_GONE */
	int	status;			/* 30, 31 or 52 */
	char	to[RULES_PATH_MAX];	/* decoded path */
	char	host[URL_HOST_MAX + 1];	/* "" -> this host; canonical */
	int	port;			/* the URL's, 1965 when absent */
	int	port_given;
	int	carry;			/* prefix FROM, TO ends in '/' */
	int	line;			/* in the config file */
};

struct rules_lang {
	char	from[RULES_PATH_MAX];	/* first, as above */
	char	lang[RULES_LANG_MAX];
	int	line;
};

struct rules_mime {
	char	ext[RULES_EXT_MAX];	/* ".epub", as written */
	char	type[RULES_TYPE_MAX];
	int	line;
};

struct rules {
	struct rules_path	*paths;		/* sorted by from once sealed */
	size_t			 npaths;
	struct rules_lang	*langs;		/* the same */
	size_t			 nlangs;
	struct rules_mime	*mimes;
	size_t			 nmimes;
};

/*
 * Add one rule from its config value (what follows "key = "), written
 * on config line `line`.  0, or -1 with a message in why (whylen bytes,
 * RULES_WHY_MAX is enough) that starts with the key's name.
 */
int	rules_add_redirect(struct rules *, const char *value, int line,
	    char *why, size_t whylen);
int	rules_add_gone(struct rules *, const char *value, int line,
	    char *why, size_t whylen);
int	rules_add_lang(struct rules *, const char *value, int line,
	    char *why, size_t whylen);
int	rules_add_mime(struct rules *, const char *value, int line,
	    char *why, size_t whylen);

/*
 * A FROM, PATH or TO path as written (n bytes): it starts with '/';
 * percent escapes are decoded, not to '/' (no request path holds one
 * inside a segment) or a control; no space, control, '?' or '#' is
 * written raw; the result is UTF-8 with no empty segment, no "." or
 * ".." and no dotfile (never served).  0, or -1 with *msg ("is not a
 * path (it starts with /)").  The PATH of other keys is written so too
 * (upstream.h).
 */
int	rules_path_parse(const char *s, size_t n, char out[RULES_PATH_MAX],
	    const char **msg);

/*
 * 1 if s is one BCP 47 language tag or a comma-separated list of them
 * ("en-GB", "cy,en"), shorter than RULES_LANG_MAX; else 0.
 */
int	rules_lang_ok(const char *s);

/*
 * After the last rules_add_*: sort the tables for the lookups and
 * refuse a path (redirect or gone) or extension given twice.  0, or -1
 * with *line (the repeat's) and why set.
 */
int	rules_seal(struct rules *, int *line, char *why, size_t whylen);

/*
 * A host of ours, to the loop check: the sealed rules of the host an
 * absolute target names (canonical host, port), or NULL when it is
 * another server's.
 */
typedef const struct rules *(*rules_host_fn)(const char *host, int port,
	    void *arg);

/*
 * Follow every redirect of rs from its own FROM, across hosts of ours
 * (`ours`; NULL: absolute targets are never ours): -1 when a chain
 * comes back to a path it passed (a loop), grows past
 * RULES_CHAIN_MAX redirects (clients stop following) or past URL_MAX
 * bytes, with *line (the earliest rule that starts such a chain) and
 * why ("redirect: loop: /a -> /b -> /a") set; else 0.
 */
int	rules_check_loops(const struct rules *rs, rules_host_fn ours,
	    void *arg, int *line, char *why, size_t whylen);

/*
 * The redirect or gone rule that matches path (decoded, as in struct
 * url) longest, or NULL; *rest is what the rule's FROM leaves of the
 * path ("" for an exact match).
 */
const struct rules_path *rules_match(const struct rules *, const char *path,
	    const char **rest);

/*
 * The answer rules give a request for path with query (raw, without
 * '?'; NULL when the request had no '?'): 0 when no rule matches; 30 or
 * 31 with meta the target (a path-absolute reference on this host, or
 * the absolute URL, percent-encoded, with the query); 52 with a reason;
 * 50 when the target would not fit in meta (len bytes; URL_MAX + 1 is
 * what a Gemini meta may hold).
 */
int	rules_answer(const struct rules *, const char *path, const char *query,
	    char *meta, size_t len);

/*
 * A Titan upload to path: 0 when no redirect or gone rule covers it,
 * else 50 with the reason (and where the path went) in meta.
 */
int	rules_titan(const struct rules *, const char *path, char *meta,
	    size_t len);

/* 1 if a gone rule is the one that covers path. */
int	rules_gone(const struct rules *, const char *path);

/* The lang rule that matches path longest, or dflt. */
const char *rules_lang(const struct rules *, const char *path,
	    const char *dflt);

/*
 * The type a `mime` rule gives the file named name (a path; its last
 * segment counts): the longest extension that ends it, compared without
 * regard to case; NULL when none does.
 */
const char *rules_mime(const struct rules *, const char *name);

void	rules_free(struct rules *);

#endif
