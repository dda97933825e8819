/*
 * latest.h: a generated block in a hand-written gemtext page: the
 * newest posts across some of the host's feed directories, where the
 * admin puts a marker line of its own:
 *
 *	<!-- capsuled:latest N DIR [DIR...] -->
 *
 * The first half (parse, scan, sort, render, splice) is pure: buffers
 * in, values out, no I/O or globals; the writers grow a struct buf and
 * nothing else.  The unit tests and the fuzzer drive it.  latest_page()
 * is the part with I/O and the per-worker caches.
 */
#ifndef CAPSULED_LATEST_H
#define CAPSULED_LATEST_H

#include <sys/stat.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "feed.h"
#include "fs.h"

#define LATEST_MAX	100		/* N: 1 to this */
#define LATEST_MARKS	16		/* markers per page that get a block */
#define LATEST_WHY_MAX	160		/* bytes of an error message */
#define LATEST_PAGE_MAX	262144		/* 256 KiB: bigger ones stream as they are */

/* One marker line, as latest_scan found it. */
struct latest_mark {
	int		line;			/* 1-based, for messages */
	int		n;			/* 0: malformed (why), dropped */
	uint32_t	dirs;			/* bit i: dirs[i] of the list */
	char		why[LATEST_WHY_MAX];
};

/*
 * Parse a marker line against the host's feed directories (dirs[0..
 * ndirs), at most 32): 1 and m filled when it is exactly "<!--
 * capsuled:latest N DIR [DIR...] -->" (tokens between runs of blanks;
 * N from 1 to LATEST_MAX; each DIR one of dirs, slashes at its ends
 * allowed, repeats counted once); -1 with m->why when it is a marker
 * line but not that; 0 when it is no marker line.  m->line is left
 * alone.
 */
int	latest_parse(const char *s, size_t n, const char *const *dirs,
	    size_t ndirs, struct latest_mark *m);

/*
 * The marker lines of a gemtext page, in order: the first max of them
 * into v (with their line numbers).  Lines inside preformatted blocks
 * ("```" toggles) are text, so a page can show the syntax.  Returns how
 * many marker lines there are in all (may be more than max).
 */
size_t	latest_scan(const char *text, size_t len, const char *const *dirs,
	    size_t ndirs, struct latest_mark *v, size_t max);

/* A post of one of the feeds, for the block. */
struct latest_item {
	const char		*dir;	/* "news": the feed's directory */
	const struct feed_entry	*e;
};

/* Newest first: by the name's date, then name, then directory. */
void	latest_sort(struct latest_item *v, size_t n);

/*
 * The block: one "=> /DIR/NAME DATE TITLE" line per item, as the
 * gemfeed index writes them but with absolute, percent-encoded paths;
 * an entry with no title shows its slug.  0, or -1 (out of memory).
 */
int	latest_render(struct buf *b, const struct latest_item *v, size_t n);

/*
 * The page with its marker lines replaced: the k-th marker line (as
 * latest_scan counts them) by blocks[k] when k < nblocks, every other
 * marker line dropped, all else byte for byte.  0, or -1.
 */
int	latest_splice(struct buf *out, const char *text, size_t len,
	    const struct buf *blocks, size_t nblocks);

/* Told of each problem with a page: "PATH:LINE: why". */
typedef void	(*latest_warn_fn)(void *arg, const char *msg);

/*
 * A text/gemini file of host h (root rootfd) about to be served: path
 * (for messages), open as fd with st its fstat.  0: serve the file as
 * it is (no marker line, or bigger than LATEST_PAGE_MAX); 1: serve
 * *out, *outlen bytes, malloc'd and the caller's; -1 with errno: the
 * server's trouble.  A marker that is malformed, or names a directory
 * that is missing, is dropped; why goes to warn, once each time the
 * page (or a feed it names) changes, in each worker.  A page known to
 * have no marker (by its stat) is not read again.
 */
int	latest_page(const struct host_cfg *h, int rootfd, const char *path,
	    int fd, const struct stat *st, char **out, size_t *outlen,
	    latest_warn_fn warn, void *arg);

/* What the caches did in this worker, for the tests. */
struct latest_stats {
	unsigned long	reads;		/* pages read */
	unsigned long	builds;		/* pages with blocks made */
};
void	latest_get_stats(struct latest_stats *);

#endif
