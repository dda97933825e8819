/*
 * feed.h: generated gemfeed indexes and Atom feeds for the dated files
 * ("YYYY-MM-DD-slug.gmi") of the directories a host lists in `feeds`.
 *
 * The parsing and writing functions are pure (buffers in, values out; the
 * writers grow a struct buf and nothing else): the unit tests and the
 * fuzzer drive them.  feed_generate() is the part with I/O and the
 * per-worker cache.
 */
#ifndef CAPSULED_FEED_H
#define CAPSULED_FEED_H

#include <sys/stat.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "fs.h"

#define FEED_ATOM		"atom.xml"
#define FEED_DATE_LEN		10	/* "YYYY-MM-DD" */
#define FEED_TITLE_MAX		256	/* bytes of a title before the cut */
#define FEED_SUMMARY_MAX	300	/* bytes of a summary before the cut */
#define FEED_ELLIPSIS		"\xe2\x80\xa6"	/* U+2026, marks a cut */
#define FEED_READ_MAX		65536	/* bytes of a file read for both */
#define FEED_PARAS		8	/* paragraphs weighed for a summary */
#define FEED_HOME		"=> / Home page\n"	/* ends an index */
#define FEED_INFERRED		"Date inferred:"	/* a post says so */
#define FEED_INFERRED_MARK	" (date inferred)"	/* lists say so */

/* One dated file, as the writers need it. */
struct feed_entry {
	char	name[NAME_MAX + 1];		/* "2024-07-16-slug.gmi" */
	char	date[FEED_DATE_LEN + 1];	/* "2024-07-16" */
	char	title[FEED_TITLE_MAX + sizeof(FEED_ELLIPSIS)];
	char	summary[FEED_SUMMARY_MAX + sizeof(FEED_ELLIPSIS)];
	time_t	mtime;				/* the file's, when read */
	/* the first real paragraphs (hashes), to tell boilerplate */
	uint64_t	para[FEED_PARAS];
	size_t		npara;
	size_t		sumpara;	/* which one summary holds */
	int		inferred;	/* the name's date is not known */
};

/*
 * 1 if name is "YYYY-MM-DD-SLUG.gmi" with a real calendar date and a
 * non-empty slug, with date set to "YYYY-MM-DD"; else 0.
 */
int	feed_name_date(const char *name, char date[FEED_DATE_LEN + 1]);

/*
 * The title of a gemtext document of len bytes: its first level-1
 * heading ("#", not "##") outside preformatted blocks that is not
 * empty.  The text is cleaned (see below) and cut to FEED_TITLE_MAX
 * bytes.  out must hold FEED_TITLE_MAX + sizeof(FEED_ELLIPSIS) bytes.
 * Returns the length written; 0 (out = "") when there is none.
 */
size_t	feed_title(const char *text, size_t len, char *out);

/*
 * The summary: the first real paragraph.  A paragraph is a text line
 * (gemtext has no other kind); a real one is not a heading, a link,
 * preformatted, a quote ("> ", the post quoting someone else), a list
 * item, a generated list's marker line (feed_is_marker: the server's,
 * never shown), a dateline (only a date with a year: "17 July 2024", "Wed, July
 * 17th, 2024", "2024-07-17"), a date label ("Date inferred: ...",
 * "Published: ..."), an editor's note ("Editor's note: ..."), or a
 * salutation ("Dear James Mass,", "Hi Ian": a greeting word and at most
 * five words).  Cleaned and cut to FEED_SUMMARY_MAX bytes, at a space
 * when one is near.  out must hold FEED_SUMMARY_MAX + sizeof(FEED_ELLIPSIS)
 * bytes.  Returns the length; 0 when there is none.
 *
 * Cleaned means: white space trimmed at both ends, control characters
 * (tabs too) turned into spaces, bytes that are not UTF-8 turned into
 * U+FFFD; a cut falls between characters and ends in FEED_ELLIPSIS.
 */
size_t	feed_summary(const char *text, size_t len, char *out);

/*
 * Whether the line s (n bytes, without its LF; a CR before it is
 * allowed) is a marker line of a generated list (latest.h): after
 * blanks and U+FEFF, "<!--", blanks and "capsuled:" (any case).  Every
 * such line is the server's, never shown: a well-formed one becomes its
 * block, any other is dropped, and no summary is made of one.
 */
int	feed_is_marker(const char *s, size_t n);

/*
 * 1 when the post says its date was inferred: a text line (outside
 * preformatted blocks) that starts with FEED_INFERRED, "Date inferred:",
 * exactly.  The date in its name is then a stand-in, and every list of
 * it says so (FEED_INFERRED_MARK after the title); else 0.
 */
int	feed_date_inferred(const char *text, size_t len);

/* The same for the real paragraph number k (0: feed_summary's). */
size_t	feed_summary_nth(const char *text, size_t len, size_t k, char *out);

/*
 * Hashes of the first max (<= FEED_PARAS) real paragraphs, in order,
 * into h; returns how many.  Two posts with the same paragraph give the
 * same hash.
 */
size_t	feed_paragraphs(const char *text, size_t len, uint64_t *h,
	    size_t max);

/*
 * Boilerplate: which paragraph each of the n entries should be summed
 * up by: want[i] is the first of v[i].para that no other entry has,
 * FEED_PARAS when every one is shared (no summary then).  A paragraph
 * several posts of a feed share (an introduction they all open with)
 * tells a reader nothing about any one of them.
 */
void	feed_pick_paragraphs(const struct feed_entry *v, size_t n,
	    size_t *want);

/*
 * An entry's times (RFC 4287 4.2.9, 4.2.15), never after now:
 * updated is the file's mtime, published the start (00:00 UTC) of the
 * date in its name, or updated when that is earlier (a post named for
 * a day that had not begun yet).  An edit moves updated only.
 */
void	feed_entry_times(const struct feed_entry *e, time_t now,
	    time_t *published, time_t *updated);

/*
 * What an entry is shown as: its title, or its slug (cleaned) when it
 * has none.  buf holds the slug; NAME_MAX + 1 bytes.
 */
const char *feed_entry_label(const struct feed_entry *e, char *buf,
	    size_t len);

/*
 * An entry's label as a list line shows it: feed_entry_label, and
 * FEED_INFERRED_MARK when its date was inferred.  Gemtext (the index, a
 * latest block) takes it as it is; Atom escapes it.
 */
void	feed_put_label(struct buf *b, const struct feed_entry *e);

/*
 * Append s (len bytes) to b as XML 1.0 character data or an attribute
 * value: & < > " escaped, characters XML 1.0 does not allow (controls
 * other than tab, LF, CR; U+FFFE, U+FFFF) dropped, bytes that are not
 * UTF-8 turned into U+FFFD.
 */
void	feed_xml_escape(struct buf *b, const char *s, size_t len);

/*
 * The gemfeed index (Gemini subscription companion spec): "# title",
 * one "=> NAME DATE TITLE" line per entry in the order given (the
 * caller sorts newest first; an empty title shows the slug; an inferred
 * date adds FEED_INFERRED_MARK after the title, so that the line keeps
 * the companion spec's "DATE TITLE" form and says so), a link
 * to the Atom feed and one home (FEED_HOME).  v may be NULL when n is 0.  Returns 0, or -1 if
 * memory ran out.
 */
int	feed_write_index(struct buf *b, const char *title,
	    const struct feed_entry *v, size_t n);

struct feed_atom_info {
	const char	*title;		/* the feed's title */
	const char	*base;		/* "gemini://host[:port]", no slash */
	const char	*dirpath;	/* "/news/": encoded, both slashes */
	const char	*author;	/* RFC 4287 4.1.1: the feed's author */
	const char	*lang;		/* xml:lang, or NULL */
	time_t		 updated;	/* used when n == 0 */
	time_t		 now;		/* nothing is stamped after it */
};

/*
 * An Atom 1.0 (RFC 4287) feed of the entries in the order given: an
 * entry's id and link are its gemini:// URL, its times those of
 * feed_entry_times(), its title feed_put_label's; the feed's updated is the latest entry's updated
 * (with no entry, fi->updated; never after fi->now).  0, or -1.
 */
int	feed_write_atom(struct buf *b, const struct feed_atom_info *fi,
	    const struct feed_entry *v, size_t n);

/*
 * "gemini://host" with ":port" unless 1965; an IPv6 host in brackets.
 * 0, or -1 (ENAMETOOLONG) when it does not fit: never a cut URL.
 */
int	feed_base_url(const char *host, int port, char *out, size_t outlen);

/*
 * Which feed of h the normalised URL path names: its directory
 * ("/news/", *atom = 0) or its Atom feed ("/news/atom.xml", *atom = 1).
 * NULL when neither.
 */
const struct feed_cfg *feed_lookup(const struct host_cfg *h,
	    const char *path, int *atom);

/*
 * The body for feed f of host h, whose directory is open as dirfd (st
 * its fstat): the gemfeed index, or (atom) the Atom feed with URLs under
 * base ("gemini://host[:port]").  Made from the worker's cache when the
 * directory and the files in it are unchanged.  *out is malloc'd and
 * the caller's.  Returns 0, or -1 with errno set.
 */
int	feed_generate(const struct host_cfg *h, const struct feed_cfg *f,
	    int dirfd, const struct stat *st, const char *base, int atom,
	    char **out, size_t *outlen);

/*
 * The newest entries of feed f (as feed_generate keeps them), for a
 * page that lists them: *v (newest first, n of them) stays valid until
 * the next call for the same host and feed.  Only the first `need` are
 * sure to be current (an edit further down is not looked for: a page
 * showing 5 posts pays 5 stats, not feed_entries).  *gen is new
 * whenever they may have changed (never 0).  0, or -1 with errno.
 */
int	feed_entries(const struct host_cfg *h, const struct feed_cfg *f,
	    int dirfd, const struct stat *st, size_t need,
	    const struct feed_entry **v, size_t *n, unsigned long *gen);

/* What the cache did in this worker, for the tests. */
struct feed_stats {
	unsigned long	scans;		/* directories read */
	unsigned long	reads;		/* files read for title and summary */
	unsigned long	builds;		/* bodies made */
};
void	feed_get_stats(struct feed_stats *);

#endif
