/*
 * feed.c: generated gemfeed indexes and Atom feeds.
 *
 * The first half is pure: names to dates, gemtext to titles and
 * summaries, entries to gemtext or Atom.  The second half finds the
 * dated files of a directory and keeps what it made in a per-worker
 * cache, one slot per (host, directory), checked on every request
 * against the directory's and each entry's stat: a new, removed or
 * renamed file changes the directory; a file edited in place changes
 * only its own times.  Only files whose stat changed are read again.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "feed.h"
#include "fs.h"
#include "url.h"

#define REPLACEMENT	"\xef\xbf\xbd"	/* U+FFFD */
#define BOM		"\xef\xbb\xbf"


static int
is_digits(const char *s, size_t n, int *v)
{
	size_t	i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		*v = *v * 10 + (s[i] - '0');
	}
	return 1;
}

static int
days_in_month(int y, int m)
{
	static const int	days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30,
				    31, 30, 31 };
	int			leap = (y % 4 == 0 && y % 100 != 0) ||
				    y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

int
feed_name_date(const char *name, char date[FEED_DATE_LEN + 1])
{
	size_t	len = strlen(name);
	int	y, m, d;

	/* "YYYY-MM-DD-", a slug of one byte or more, ".gmi" */
	if (len < FEED_DATE_LEN + 2 + 4 ||
	    strcmp(name + len - 4, ".gmi") != 0 ||
	    !is_digits(name, 4, &y) || name[4] != '-' ||
	    !is_digits(name + 5, 2, &m) || name[7] != '-' ||
	    !is_digits(name + 8, 2, &d) || name[10] != '-')
		return 0;
	if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
		return 0;
	memcpy(date, name, FEED_DATE_LEN);
	date[FEED_DATE_LEN] = '\0';
	return 1;
}

/* The next line at *pos: start and length, without its CR LF. */
static int
next_line(const char *text, size_t len, size_t *pos, const char **line,
    size_t *n)
{
	const char	*nl;

	if (*pos >= len)
		return 0;
	*line = text + *pos;
	nl = memchr(*line, '\n', len - *pos);
	*n = nl != NULL ? (size_t)(nl - *line) : len - *pos;
	*pos += *n + (nl != NULL);
	if (*n > 0 && (*line)[*n - 1] == '\r')
		(*n)--;
	return 1;
}

/* Where the text starts: after a byte order mark an editor left. */
static size_t
text_start(const char *text, size_t len)
{
	return len >= 3 && memcmp(text, BOM, 3) == 0 ? 3 : 0;
}

enum line_type { L_TEXT, L_TITLE, L_HEADING, L_LINK, L_PRE };

/* A gemtext line's type; "```" lines toggle *pre. */
static enum line_type
line_type(const char *s, size_t n, int *pre)
{
	if (n >= 3 && memcmp(s, "```", 3) == 0) {
		*pre = !*pre;
		return L_PRE;
	}
	if (*pre)
		return L_PRE;
	if (n >= 2 && memcmp(s, "=>", 2) == 0)
		return L_LINK;
	if (n >= 1 && s[0] == '#')
		return n >= 2 && s[1] == '#' ? L_HEADING : L_TITLE;
	return L_TEXT;
}

static int
is_blank(unsigned char c)
{
	return c <= 0x20 || c == 0x7f;
}

/*
 * Copy s (n bytes) to out cleaned (see feed.h), at most max bytes and
 * whole characters only, NUL-terminated.  Returns the length; *cut is
 * set when something was left out.
 */
static size_t
clean(const char *s, size_t n, char *out, size_t max, int *cut)
{
	const char	*rep;
	size_t		 i, k, replen, len = 0;
	uint32_t	 cp;

	while (n > 0 && is_blank(s[0]))
		s++, n--;
	while (n > 0 && is_blank(s[n - 1]))
		n--;
	*cut = 0;
	for (i = 0; i < n; i += k) {
		rep = s + i;
		if ((k = url_utf8_decode(s + i, n - i, &cp)) == 0) {
			k = 1;
			rep = REPLACEMENT;
		} else if (cp <= 0x20 || (cp >= 0x7f && cp < 0xa0)) {
			if (len == 0)
				continue;	/* blank after a C1 control */
			rep = " ";
		}
		replen = rep == s + i ? k : strlen(rep);
		if (len + replen > max) {
			*cut = 1;
			break;
		}
		memcpy(out + len, rep, replen);
		len += replen;
	}
	while (len > 0 && out[len - 1] == ' ')
		len--;
	out[len] = '\0';
	return len;
}

/*
 * After a cut: back off to a space in the last quarter (at_space), so
 * that no word is halved, and mark the cut with an ellipsis.  out has
 * room for it: clean() was given sizeof(FEED_ELLIPSIS) bytes less.
 */
static size_t
mark_cut(char *out, size_t len, int cut, int at_space)
{
	size_t	i;

	if (!cut)
		return len;
	if (at_space)
		for (i = len; i > len - len / 4; i--)
			if (out[i - 1] == ' ') {
				len = i - 1;
				break;
			}
	while (len > 0 && out[len - 1] == ' ')
		len--;
	memcpy(out + len, FEED_ELLIPSIS, sizeof(FEED_ELLIPSIS));
	return len + sizeof(FEED_ELLIPSIS) - 1;
}

size_t
feed_title(const char *text, size_t len, char *out)
{
	const char	*s;
	size_t		 n, k, pos = text_start(text, len);
	int		 pre = 0, cut;

	while (next_line(text, len, &pos, &s, &n))
		if (line_type(s, n, &pre) == L_TITLE &&
		    (k = clean(s + 1, n - 1, out, FEED_TITLE_MAX, &cut)) > 0)
			return mark_cut(out, k, cut, 0);
	out[0] = '\0';
	return 0;
}

/* English month and weekday names, as datelines write them. */
static const char *const date_words[] = {
	"january", "february", "march", "april", "may", "june", "july",
	"august", "september", "october", "november", "december",
	"jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept",
	"oct", "nov", "dec",
	"monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
	"sunday", "mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri",
	"sat", "sun",
};

/* One word of a dateline; *year is set when it is or holds a year. */
static int
date_token(const char *t, size_t n, int *year)
{
	char	word[16];
	size_t	d, i;
	int	v;

	if (n > 0 && t[n - 1] == '.')
		n--;
	for (d = 0; d < n && t[d] >= '0' && t[d] <= '9'; d++)
		;
	if ((d == 4 && n == 4) || (n == FEED_DATE_LEN && d == 4 &&
	    t[4] == '-' && is_digits(t + 5, 2, &v) && t[7] == '-' &&
	    is_digits(t + 8, 2, &v))) {
		*year = 1;			/* 2024, 2024-07-17 */
		return 1;
	}
	if (d == 1 || d == 2)			/* 17, 17th, 1st */
		return n == d || (n == d + 2 && (strncasecmp(t + d, "st",
		    2) == 0 || strncasecmp(t + d, "nd", 2) == 0 ||
		    strncasecmp(t + d, "rd", 2) == 0 ||
		    strncasecmp(t + d, "th", 2) == 0));
	if (d != 0 || n == 0 || n >= sizeof(word))
		return 0;
	memcpy(word, t, n);
	word[n] = '\0';
	for (i = 0; i < sizeof(date_words) / sizeof(date_words[0]); i++)
		if (strcasecmp(word, date_words[i]) == 0)
			return 1;
	return 0;
}

/*
 * A dateline: a line that is only a date, with a year ("17 July 2024",
 * "Wednesday, July 17th, 2024", "2024-07-17").  Posts often restate
 * their date under the title; the entry has it already, and a date is
 * no summary of anything.
 */
static int
is_dateline(const char *s, size_t n)
{
	size_t	i = 0, k;
	int	year = 0;

	while (i < n) {
		if (s[i] == ' ' || s[i] == ',') {
			i++;
			continue;
		}
		for (k = i; k < n && s[k] != ' ' && s[k] != ','; k++)
			;
		if (!date_token(s + i, k - i, &year))
			return 0;
		i = k;
	}
	return year;
}

size_t
feed_summary(const char *text, size_t len, char *out)
{
	const char	*s;
	size_t		 n, k, pos = text_start(text, len);
	int		 pre = 0, cut;

	while (next_line(text, len, &pos, &s, &n))
		if (line_type(s, n, &pre) == L_TEXT &&
		    (k = clean(s, n, out, FEED_SUMMARY_MAX, &cut)) > 0 &&
		    !is_dateline(out, k))
			return mark_cut(out, k, cut, 1);
	out[0] = '\0';
	return 0;
}

/* XML 1.0 section 2.2: the characters a document may hold. */
static int
xml_char(uint32_t c)
{
	return c == 0x9 || c == 0xa || c == 0xd || (c >= 0x20 &&
	    c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd) || c >= 0x10000;
}

void
feed_xml_escape(struct buf *b, const char *s, size_t len)
{
	const char	*rep;
	size_t		 i, k, start = 0;
	uint32_t	 cp;

	for (i = 0; i < len; i += k) {
		rep = NULL;
		if ((k = url_utf8_decode(s + i, len - i, &cp)) == 0) {
			k = 1;
			rep = REPLACEMENT;
		} else if (cp == '&')
			rep = "&amp;";
		else if (cp == '<')
			rep = "&lt;";
		else if (cp == '>')
			rep = "&gt;";
		else if (cp == '"')
			rep = "&quot;";
		else if (cp == '\r')
			rep = "&#13;";	/* a parser would make it LF */
		else if (!xml_char(cp))
			rep = "";
		if (rep != NULL) {
			buf_append(b, s + start, i - start);
			buf_puts(b, rep);
			start = i + k;
		}
	}
	buf_append(b, s + start, len - start);
}

static void
xml_puts(struct buf *b, const char *s)
{
	feed_xml_escape(b, s, strlen(s));
}

/* The slug of a dated name, cleaned: "2024-07-16-slug.gmi" -> "slug". */
static void
entry_slug(const struct feed_entry *e, char *out, size_t outlen)
{
	size_t	len = strlen(e->name);
	int	cut;

	if (len < FEED_DATE_LEN + 1 + 4)
		out[0] = '\0';
	else
		clean(e->name + FEED_DATE_LEN + 1, len - FEED_DATE_LEN - 1 - 4,
		    out, outlen - 1, &cut);
}

int
feed_write_index(struct buf *b, const char *title,
    const struct feed_entry *v, size_t n)
{
	char	enc[NAME_MAX * 3 + 1], label[NAME_MAX + 1];
	size_t	i;
	int	cut;

	if (v == NULL)
		n = 0;
	clean(title, strlen(title), label, sizeof(label) - 1, &cut);
	buf_puts(b, "# ");
	buf_puts(b, label);
	buf_puts(b, "\n\n");
	for (i = 0; i < n; i++) {
		if (url_encode_path(v[i].name, enc, sizeof(enc)) == -1)
			continue;
		if (v[i].title[0] == '\0')
			entry_slug(&v[i], label, sizeof(label));
		buf_puts(b, "=> ");
		buf_puts(b, enc);
		buf_puts(b, " ");
		buf_puts(b, v[i].date);
		buf_puts(b, " ");
		buf_puts(b, v[i].title[0] != '\0' ? v[i].title : label);
		buf_puts(b, "\n");
	}
	buf_puts(b, "\n=> " FEED_ATOM " Atom feed\n");
	return b->failed ? -1 : 0;
}

/* "<name>text</name>" on a line of its own. */
static void
xml_element(struct buf *b, const char *indent, const char *name,
    const char *text)
{
	buf_puts(b, indent);
	buf_puts(b, "<");
	buf_puts(b, name);
	buf_puts(b, ">");
	xml_puts(b, text);
	buf_puts(b, "</");
	buf_puts(b, name);
	buf_puts(b, ">\n");
}

/* base + path + name: an absolute gemini:// URL, escaped. */
static void
xml_url(struct buf *b, const struct feed_atom_info *fi, const char *name)
{
	xml_puts(b, fi->base);
	xml_puts(b, fi->dirpath);
	xml_puts(b, name);
}

static void
xml_link(struct buf *b, const char *indent, const char *rel,
    const char *type, const struct feed_atom_info *fi, const char *name)
{
	buf_puts(b, indent);
	buf_puts(b, "<link rel=\"");
	buf_puts(b, rel);
	buf_puts(b, "\" type=\"");
	buf_puts(b, type);
	buf_puts(b, "\" href=\"");
	xml_url(b, fi, name);
	buf_puts(b, "\"/>\n");
}

/* The companion spec: an entry's time is noon (UTC) of its date. */
static void
xml_date(struct buf *b, const char *indent, const char *date)
{
	buf_puts(b, indent);
	buf_puts(b, "<updated>");
	xml_puts(b, date);
	buf_puts(b, "T12:00:00Z</updated>\n");
}

static void
atom_entry(struct buf *b, const struct feed_atom_info *fi,
    const struct feed_entry *e)
{
	char	enc[NAME_MAX * 3 + 1], slug[NAME_MAX + 1];

	if (url_encode_path(e->name, enc, sizeof(enc)) == -1)
		return;
	if (e->title[0] == '\0')
		entry_slug(e, slug, sizeof(slug));
	buf_puts(b, "  <entry>\n    <id>");
	xml_url(b, fi, enc);
	buf_puts(b, "</id>\n");
	xml_element(b, "    ", "title", e->title[0] != '\0' ? e->title : slug);
	xml_date(b, "    ", e->date);
	xml_link(b, "    ", "alternate", "text/gemini", fi, enc);
	if (e->summary[0] != '\0')
		xml_element(b, "    ", "summary", e->summary);
	buf_puts(b, "  </entry>\n");
}

int
feed_write_atom(struct buf *b, const struct feed_atom_info *fi,
    const struct feed_entry *v, size_t n)
{
	const char	*newest = NULL;
	size_t		 i;

	if (v == NULL)
		n = 0;
	for (i = 0; i < n; i++)
		if (newest == NULL || strcmp(v[i].date, newest) > 0)
			newest = v[i].date;
	buf_puts(b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
	    "<feed xmlns=\"http://www.w3.org/2005/Atom\"");
	if (fi->lang != NULL && fi->lang[0] != '\0') {
		buf_puts(b, " xml:lang=\"");
		xml_puts(b, fi->lang);
		buf_puts(b, "\"");
	}
	buf_puts(b, ">\n  <id>");
	xml_url(b, fi, "");
	buf_puts(b, "</id>\n");
	xml_element(b, "  ", "title", fi->title);
	if (newest != NULL)
		xml_date(b, "  ", newest);
	else
		xml_element(b, "  ", "updated", fi->updated);
	/* RFC 4287 4.1.1: a feed has an author unless every entry has */
	buf_puts(b, "  <author>\n");
	xml_element(b, "    ", "name", fi->author);
	buf_puts(b, "  </author>\n");
	xml_link(b, "  ", "self", "application/atom+xml", fi, FEED_ATOM);
	xml_link(b, "  ", "alternate", "text/gemini", fi, "");
	xml_element(b, "  ", "generator", "capsuled");
	for (i = 0; i < n; i++)
		atom_entry(b, fi, &v[i]);
	buf_puts(b, "</feed>\n");
	return b->failed ? -1 : 0;
}

int
feed_base_url(const char *host, int port, char *out, size_t outlen)
{
	const char	*lb = "", *rb = "";
	int		 n;

	if (strchr(host, ':') != NULL) {
		lb = "[";	/* an IPv6 literal */
		rb = "]";
	}
	if (port == 1965)
		n = snprintf(out, outlen, "gemini://%s%s%s", lb, host, rb);
	else
		n = snprintf(out, outlen, "gemini://%s%s%s:%d", lb, host, rb,
		    port);
	if (n < 0 || (size_t)n >= outlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

const struct feed_cfg *
feed_lookup(const struct host_cfg *h, const char *path, int *atom)
{
	const char	*rest;
	size_t		 i, n;

	if (h == NULL || path[0] != '/')
		return NULL;
	for (i = 0; i < h->nfeeds; i++) {
		n = strlen(h->feeds[i].dir);
		if (strncmp(path + 1, h->feeds[i].dir, n) != 0 ||
		    path[n + 1] != '/')
			continue;
		rest = path + n + 2;
		if (*rest == '\0' || strcmp(rest, FEED_ATOM) == 0) {
			*atom = *rest != '\0';
			return &h->feeds[i];
		}
	}
	return NULL;
}

/*
 * The cache.  A slot per (host, directory) holds the newest entries
 * with the stat of each file as it was read, the directory's stat, and
 * the bodies made from them (the Atom feed for one base URL).
 */
/* A dated file that could not be read: the cache is stale when it changes. */
struct feed_skip {
	char		name[NAME_MAX + 1];
	struct fs_id	id;
};

struct feed_cache {
	struct feed_cache	*next;
	char			 host[URL_HOST_MAX + 1];
	char			 dir[sizeof(((struct feed_cfg *)0)->dir)];
	char			 title[sizeof(((struct feed_cfg *)0)->title)];
	int			 cap;
	struct fs_id		 dirid;
	int			 racy;		/* check by reading next time */
	struct feed_entry	*v;		/* newest first */
	struct fs_id		*ids;
	size_t			 n;
	struct feed_skip	*skip;		/* unreadable (mode, EMFILE) */
	size_t			 nskip;
	struct buf		 index, atom;	/* made on demand */
	char			 atom_base[URL_MAX + 1];
};

static struct feed_cache	*caches;
static struct feed_stats	 stats;

void
feed_get_stats(struct feed_stats *s)
{
	*s = stats;
}

static void
buf_free(struct buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

static void
cache_clear(struct feed_cache *fc)
{
	free(fc->v);
	free(fc->ids);
	free(fc->skip);
	fc->v = NULL;
	fc->ids = NULL;
	fc->skip = NULL;
	fc->n = fc->nskip = 0;
	fc->racy = 1;
	buf_free(&fc->index);
	buf_free(&fc->atom);
}

/* The slot for (h, f); emptied when the config it was made with changed. */
static struct feed_cache *
cache_slot(const struct host_cfg *h, const struct feed_cfg *f)
{
	struct feed_cache	*fc;

	for (fc = caches; fc != NULL; fc = fc->next)
		if (strcmp(fc->host, h->name) == 0 &&
		    strcmp(fc->dir, f->dir) == 0)
			break;
	if (fc == NULL) {
		if ((fc = calloc(1, sizeof(*fc))) == NULL)
			return NULL;
		if (snprintf(fc->host, sizeof(fc->host), "%s", h->name) >=
		    (int)sizeof(fc->host) ||
		    snprintf(fc->dir, sizeof(fc->dir), "%s", f->dir) >=
		    (int)sizeof(fc->dir)) {
			free(fc);
			errno = ENAMETOOLONG;
			return NULL;
		}
		fc->racy = 1;
		fc->next = caches;
		caches = fc;
	}
	if (fc->cap != h->feed_entries || strcmp(fc->title, f->title) != 0) {
		cache_clear(fc);
		fc->cap = h->feed_entries;
		memcpy(fc->title, f->title, sizeof(fc->title));
	}
	return fc;
}

/*
 * Unchanged since it was made: the directory, every entry's stat, and
 * every file that could not be read then (made readable since?).
 */
static int
cache_fresh(const struct feed_cache *fc, int dirfd, const struct stat *dst)
{
	struct stat	st;
	size_t		i;

	if (fc->racy || !fs_id_same(&fc->dirid, dst))
		return 0;
	for (i = 0; i < fc->n; i++)
		if (fstatat(dirfd, fc->v[i].name, &st, 0) == -1 ||
		    !fs_id_same(&fc->ids[i], &st))
			return 0;
	for (i = 0; i < fc->nskip; i++)
		if (fstatat(dirfd, fc->skip[i].name, &st, 0) == -1 ||
		    !fs_id_same(&fc->skip[i].id, &st))
			return 0;
	return 1;
}

/* Remember an unreadable entry; -1 when out of memory. */
static int
skip_add(struct feed_skip **skip, size_t *n, const char *name,
    const struct stat *st, time_t now)
{
	struct feed_skip	*ns;

	if ((ns = reallocarray(*skip, *n + 1, sizeof(**skip))) == NULL)
		return -1;
	*skip = ns;
	snprintf(ns[*n].name, sizeof(ns[*n].name), "%s", name);
	fs_id_set(&ns[*n].id, st, now);
	(*n)++;
	return 0;
}

static int
name_cmp_desc(const void *a, const void *b)
{
	return strcmp(*(char *const *)b, *(char *const *)a);
}

/* bsearch in entries sorted newest (greatest name) first. */
static int
entry_find(const void *key, const void *elem)
{
	return strcmp(((const struct feed_entry *)elem)->name, key);
}

static void
names_free(char **v, size_t n)
{
	while (n > 0)
		free(v[--n]);
	free(v);
}

/* The dated names in the directory, newest first. */
static int
scan_names(int dirfd, char ***out, size_t *count)
{
	DIR		*d;
	struct dirent	*de;
	char		 date[FEED_DATE_LEN + 1], **v = NULL, **nv;
	size_t		 n = 0, cap = 0;

	if ((d = fs_opendir(dirfd)) == NULL)
		return -1;
	/* a dotfile never matches: the name must start with a digit */
	while ((de = readdir(d)) != NULL) {
		if (!feed_name_date(de->d_name, date))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((nv = reallocarray(v, cap, sizeof(*v))) == NULL)
				goto fail;
			v = nv;
		}
		if ((v[n] = strdup(de->d_name)) == NULL)
			goto fail;
		n++;
	}
	closedir(d);
	if (n > 0)	/* v is NULL when there is none */
		qsort(v, n, sizeof(*v), name_cmp_desc);
	*out = v;
	*count = n;
	return 0;
fail:
	closedir(d);
	names_free(v, n);
	errno = ENOMEM;
	return -1;
}

/*
 * Read the start of a dated file for its title and summary; -1 with
 * errno (fs_missing tells a file that is not for us from trouble).
 */
static int
read_entry(int dirfd, const char *name, char *buf, struct feed_entry *e,
    struct fs_id *id, time_t now)
{
	struct stat	st;
	size_t		len = 0;
	ssize_t		r;
	int		fd;

	if (!feed_name_date(name, e->date) ||
	    snprintf(e->name, sizeof(e->name), "%s", name) >=
	    (int)sizeof(e->name)) {
		errno = ENOENT;
		return -1;
	}
	if ((fd = fs_open_in(dirfd, name, &st)) == -1)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		errno = ENOENT;
		return -1;
	}
	while (len < FEED_READ_MAX &&
	    (r = read(fd, buf + len, FEED_READ_MAX - len)) > 0)
		len += r;
	close(fd);
	stats.reads++;
	feed_title(buf, len, e->title);
	feed_summary(buf, len, e->summary);
	fs_id_set(id, &st, now);
	return 0;
}

/*
 * Read the directory again.  An entry whose stat is unchanged (and was
 * not racy) keeps what was read from it; only the others are read.
 */
static int
rescan(struct feed_cache *fc, int dirfd, const struct stat *dst)
{
	struct feed_entry	*v = NULL, *old;
	struct fs_id		*ids = NULL, *oldid;
	struct feed_skip	*skip = NULL;
	struct stat		 st;
	char			**names, *buf = NULL;
	size_t			 nnames, i, n = 0, nskip = 0, cap;
	time_t			 now = time(NULL);
	int			 racy = 0;

	if (scan_names(dirfd, &names, &nnames) == -1)
		return -1;
	stats.scans++;
	cap = nnames < (size_t)fc->cap ? nnames : (size_t)fc->cap;
	if ((v = calloc(cap + 1, sizeof(*v))) == NULL ||
	    (ids = calloc(cap + 1, sizeof(*ids))) == NULL ||
	    (buf = malloc(FEED_READ_MAX)) == NULL)
		goto fail;
	for (i = 0; i < nnames && n < cap; i++) {
		/* not a regular file (or gone): takes no place in the cap */
		if (fstatat(dirfd, names[i], &st, 0) == -1 ||
		    !S_ISREG(st.st_mode))
			continue;
		old = fc->n == 0 ? NULL : bsearch(names[i], fc->v, fc->n,
		    sizeof(*fc->v), entry_find);
		oldid = old != NULL ? &fc->ids[old - fc->v] : NULL;
		if (oldid != NULL && !oldid->racy && fs_id_same(oldid, &st)) {
			v[n] = *old;
			ids[n] = *oldid;
		} else if (read_entry(dirfd, names[i], buf, &v[n], &ids[n],
		    now) == -1) {
			/* unreadable: again when it changes; trouble: next time */
			if (!fs_missing(errno))
				racy = 1;
			else if (skip_add(&skip, &nskip, names[i], &st,
			    now) == -1)
				goto fail;
			else
				racy |= skip[nskip - 1].id.racy;
			continue;
		}
		racy |= ids[n++].racy;
	}
	free(buf);
	names_free(names, nnames);
	cache_clear(fc);
	fc->v = v;
	fc->ids = ids;
	fc->n = n;
	fc->skip = skip;
	fc->nskip = nskip;
	fs_id_set(&fc->dirid, dst, now);
	fc->racy = racy || fc->dirid.racy;
	return 0;
fail:
	free(v);
	free(ids);
	free(skip);
	free(buf);
	names_free(names, nnames);
	errno = ENOMEM;
	return -1;
}

static const char *
feed_name(const struct feed_cfg *f)
{
	const char	*s;

	if (f->title[0] != '\0')
		return f->title;
	return (s = strrchr(f->dir, '/')) != NULL ? s + 1 : f->dir;
}

static int
make_atom(struct feed_cache *fc, const struct host_cfg *h,
    const struct feed_cfg *f, const struct stat *dst, const char *base)
{
	struct feed_atom_info	 fi;
	struct tm		 tm;
	char			 path[sizeof(f->dir) + 2];
	char			 enc[sizeof(path) * 3], updated[32];

	if (snprintf(path, sizeof(path), "/%s/", f->dir) >=
	    (int)sizeof(path) ||
	    url_encode_path(path, enc, sizeof(enc)) == -1 ||
	    gmtime_r(&dst->st_mtim.tv_sec, &tm) == NULL ||
	    strftime(updated, sizeof(updated), "%Y-%m-%dT%H:%M:%SZ",
	    &tm) == 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memset(&fi, 0, sizeof(fi));
	fi.title = feed_name(f);
	fi.base = base;
	fi.dirpath = enc;
	fi.author = h->name;
	/* xml:lang takes one tag; a list is left to the reader */
	fi.lang = strchr(h->lang, ',') == NULL ? h->lang : NULL;
	fi.updated = updated;
	if (feed_write_atom(&fc->atom, &fi, fc->v, fc->n) == -1)
		return -1;
	/* which base URL the body holds, so another one makes it again */
	if (snprintf(fc->atom_base, sizeof(fc->atom_base), "%s", base) >=
	    (int)sizeof(fc->atom_base)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
feed_generate(const struct host_cfg *h, const struct feed_cfg *f,
    int dirfd, const struct stat *st, const char *base, int atom,
    char **out, size_t *outlen)
{
	struct feed_cache	*fc;
	struct buf		*b;
	int			 r = 0;

	if ((fc = cache_slot(h, f)) == NULL)
		return -1;
	if (!cache_fresh(fc, dirfd, st) && rescan(fc, dirfd, st) == -1)
		return -1;
	b = atom ? &fc->atom : &fc->index;
	if (atom && b->data != NULL && strcmp(fc->atom_base, base) != 0)
		buf_free(b);
	if (b->data == NULL) {
		stats.builds++;
		r = atom ? make_atom(fc, h, f, st, base) :
		    feed_write_index(b, feed_name(f), fc->v, fc->n);
	}
	if (r == -1) {
		if (b->failed)
			errno = ENOMEM;
		buf_free(b);
		return -1;
	}
	if ((*out = malloc(b->len)) == NULL)
		return -1;
	memcpy(*out, b->data, b->len);
	*outlen = b->len;
	return 0;
}
