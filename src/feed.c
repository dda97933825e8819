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
#include <limits.h>
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
#include "rules.h"
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

/* A blank as a marker line has them: space, tab, a CR before its LF. */
static int
marker_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

int
feed_is_marker(const char *s, size_t n)
{
	static const char	open[] = "<!--", ns[] = "capsuled:";
	size_t			i = 0;

	/* blanks, and U+FEFF, which joined files leave at a line's start */
	for (;;) {
		if (i < n && marker_blank(s[i]))
			i++;
		else if (n - i >= 3 && memcmp(s + i, BOM, 3) == 0)
			i += 3;
		else
			break;
	}
	if (n - i < sizeof(open) - 1 || memcmp(s + i, open,
	    sizeof(open) - 1) != 0)
		return 0;
	i += sizeof(open) - 1;
	while (i < n && marker_blank(s[i]))
		i++;
	return n - i >= sizeof(ns) - 1 &&
	    strncasecmp(s + i, ns, sizeof(ns) - 1) == 0;
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

/* Lower-case ASCII copy of the first word of s (n bytes), or "". */
static void
first_word(const char *s, size_t n, char *w, size_t wlen)
{
	size_t	i;

	for (i = 0; i < n && i + 1 < wlen && s[i] != ' ' && s[i] != ',' &&
	    s[i] != ':' && s[i] != '!'; i++)
		w[i] = (s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i];
	w[i] = '\0';
}

/* "Dear James Mass,", "Hi Ian": a greeting word and a few words. */
static int
is_salutation(const char *s, size_t n)
{
	static const char *const greet[] = { "dear", "hi", "hello", "hey",
				    "hiya", "greetings" };
	char	w[16];
	size_t	i, words = 1;

	first_word(s, n, w, sizeof(w));
	for (i = 0; i < sizeof(greet) / sizeof(greet[0]); i++)
		if (strcmp(w, greet[i]) == 0)
			break;
	if (i == sizeof(greet) / sizeof(greet[0]))
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] == ' ')
			words++;
	return words <= 5;
}

/*
 * "Date inferred: about late October 2024", "Published: ...",
 * "Editor's note: ...": a label before a colon, not the post's words.
 */
static int
is_label(const char *s, size_t n)
{
	static const char *const labels[] = { "date", "dated", "published",
				    "posted", "updated", "editor's",
				    "editor\xe2\x80\x99s", "editors'",
				    "editors\xe2\x80\x99" };
	const char	*colon;
	char		 w[16];
	size_t		 i;

	if ((colon = memchr(s, ':', n < 40 ? n : 40)) == NULL)
		return 0;
	first_word(s, (size_t)(colon - s), w, sizeof(w));
	for (i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
		if (strcmp(w, labels[i]) == 0)
			return 1;
	return 0;
}

/*
 * The next real paragraph (see feed.h) from *pos: cleaned into out
 * (cut at FEED_SUMMARY_MAX, *cut set), its raw line in *raw, *rawlen.
 * Returns its cleaned length, 0 when there is no more.
 */
static size_t
next_paragraph(const char *text, size_t len, size_t *pos, int *pre,
    char *out, int *cut, const char **raw, size_t *rawlen)
{
	const char	*s;
	size_t		 n, k;

	while (next_line(text, len, pos, &s, &n)) {
		/* a marker line is the server's, never the post's words */
		if (line_type(s, n, pre) != L_TEXT ||
		    (n >= 1 && s[0] == '>') || (n >= 2 && s[0] == '*' &&
		    s[1] == ' ') || feed_is_marker(s, n))
			continue;
		if ((k = clean(s, n, out, FEED_SUMMARY_MAX, cut)) == 0 ||
		    is_dateline(out, k) || is_salutation(out, k) ||
		    is_label(out, k))
			continue;
		*raw = s;
		*rawlen = n;
		return k;
	}
	out[0] = '\0';
	return 0;
}

size_t
feed_summary_nth(const char *text, size_t len, size_t k, char *out)
{
	const char	*raw;
	size_t		 n, rawlen, pos = text_start(text, len), i = 0;
	int		 pre = 0, cut;

	while ((n = next_paragraph(text, len, &pos, &pre, out, &cut, &raw,
	    &rawlen)) > 0)
		if (i++ == k)
			return mark_cut(out, n, cut, 1);
	out[0] = '\0';
	return 0;
}

size_t
feed_summary(const char *text, size_t len, char *out)
{
	return feed_summary_nth(text, len, 0, out);
}

int
feed_date_inferred(const char *text, size_t len)
{
	const char	*s;
	size_t		 n, pos = text_start(text, len);
	int		 pre = 0;

	while (next_line(text, len, &pos, &s, &n))
		if (line_type(s, n, &pre) == L_TEXT &&
		    n >= sizeof(FEED_INFERRED) - 1 &&
		    memcmp(s, FEED_INFERRED, sizeof(FEED_INFERRED) - 1) == 0)
			return 1;
	return 0;
}

/* FNV-1a, 64 bits, of a line with its ends' white space trimmed. */
static uint64_t
line_hash(const char *s, size_t n)
{
	uint64_t	h = 14695981039346656037ULL;

	while (n > 0 && is_blank(s[0]))
		s++, n--;
	while (n > 0 && is_blank(s[n - 1]))
		n--;
	while (n-- > 0)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

size_t
feed_paragraphs(const char *text, size_t len, uint64_t *h, size_t max)
{
	char		 out[FEED_SUMMARY_MAX + sizeof(FEED_ELLIPSIS)];
	const char	*raw;
	size_t		 rawlen, pos = text_start(text, len), n = 0;
	int		 pre = 0, cut;

	if (max > FEED_PARAS)
		max = FEED_PARAS;
	while (n < max && next_paragraph(text, len, &pos, &pre, out, &cut,
	    &raw, &rawlen) > 0)
		h[n++] = line_hash(raw, rawlen);
	return n;
}

/* Whether any entry but v[self] has the paragraph hash h. */
static int
shared(const struct feed_entry *v, size_t n, size_t self, uint64_t h)
{
	size_t	i, k;

	for (i = 0; i < n; i++)
		for (k = 0; i != self && k < v[i].npara && k < FEED_PARAS; k++)
			if (v[i].para[k] == h)
				return 1;
	return 0;
}

void
feed_pick_paragraphs(const struct feed_entry *v, size_t n, size_t *want)
{
	size_t	i, k;

	for (i = 0; i < n; i++) {
		for (k = 0; k < v[i].npara && k < FEED_PARAS; k++)
			if (!shared(v, n, i, v[i].para[k]))
				break;
		want[i] = k < v[i].npara && k < FEED_PARAS ? k : FEED_PARAS;
	}
}

/* 00:00 UTC of "YYYY-MM-DD" (a date feed_name_date accepted). */
static time_t
date_start(const char *date)
{
	struct tm	tm;
	int		v;

	memset(&tm, 0, sizeof(tm));
	if (!is_digits(date, 4, &v))
		return 0;
	tm.tm_year = v - 1900;
	if (!is_digits(date + 5, 2, &v))
		return 0;
	tm.tm_mon = v - 1;
	if (!is_digits(date + 8, 2, &v))
		return 0;
	tm.tm_mday = v;
	return timegm(&tm);
}

void
feed_entry_times(const struct feed_entry *e, time_t now, time_t *published,
    time_t *updated)
{
	time_t	day = date_start(e->date);

	*updated = e->mtime < now ? e->mtime : now;
	*published = day < *updated ? day : *updated;
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

const char *
feed_entry_label(const struct feed_entry *e, char *buf, size_t len)
{
	if (e->title[0] != '\0')
		return e->title;
	entry_slug(e, buf, len);
	return buf;
}

void
feed_put_label(struct buf *b, const struct feed_entry *e)
{
	char	slug[NAME_MAX + 1];

	buf_puts(b, feed_entry_label(e, slug, sizeof(slug)));
	if (e->inferred)
		buf_puts(b, FEED_INFERRED_MARK);
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
		buf_puts(b, "=> ");
		buf_puts(b, enc);
		buf_puts(b, " ");
		buf_puts(b, v[i].date);
		buf_puts(b, " ");
		feed_put_label(b, &v[i]);
		buf_puts(b, "\n");
	}
	buf_puts(b, "\n=> " FEED_ATOM " Atom feed\n" FEED_HOME);
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

/* "<name>2024-07-16T09:30:00Z</name>" (RFC 3339, UTC). */
static void
xml_time(struct buf *b, const char *indent, const char *name, time_t t)
{
	struct tm	tm;
	char		s[32];

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(s, sizeof(s), "1970-01-01T00:00:00Z");
	xml_element(b, indent, name, s);
}

static void
atom_entry(struct buf *b, const struct feed_atom_info *fi,
    const struct feed_entry *e)
{
	char	enc[NAME_MAX * 3 + 1], slug[NAME_MAX + 1];
	time_t	published, updated;

	if (url_encode_path(e->name, enc, sizeof(enc)) == -1)
		return;
	buf_puts(b, "  <entry>\n    <id>");
	xml_url(b, fi, enc);
	buf_puts(b, "</id>\n    <title>");
	/* a feed reader shows the title: an inferred date says so there */
	xml_puts(b, feed_entry_label(e, slug, sizeof(slug)));
	if (e->inferred)
		xml_puts(b, FEED_INFERRED_MARK);
	buf_puts(b, "</title>\n");
	feed_entry_times(e, fi->now, &published, &updated);
	xml_time(b, "    ", "updated", updated);
	xml_time(b, "    ", "published", published);
	xml_link(b, "    ", "alternate", "text/gemini", fi, enc);
	if (e->summary[0] != '\0')
		xml_element(b, "    ", "summary", e->summary);
	buf_puts(b, "  </entry>\n");
}

int
feed_write_atom(struct buf *b, const struct feed_atom_info *fi,
    const struct feed_entry *v, size_t n)
{
	time_t		 newest, published, updated;
	size_t		 i;

	if (v == NULL)
		n = 0;
	newest = n == 0 && fi->updated < fi->now ? fi->updated : fi->now;
	for (i = 0; i < n; i++) {
		feed_entry_times(&v[i], fi->now, &published, &updated);
		if (i == 0 || updated > newest)
			newest = updated;
	}
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
	xml_time(b, "  ", "updated", newest);
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
	unsigned long		 gen;		/* new with every rescan */
};

static struct feed_cache	*caches;
static struct feed_stats	 stats;
static unsigned long		 gens;

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
	fc->gen = ++gens;
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
cache_fresh(const struct feed_cache *fc, int dirfd, const struct stat *dst,
    size_t need)
{
	struct stat	st;
	size_t		i;

	if (fc->racy || !fs_id_same(&fc->dirid, dst))
		return 0;
	for (i = 0; i < fc->n && i < need; i++)
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
	e->inferred = feed_date_inferred(buf, len);
	e->npara = feed_paragraphs(buf, len, e->para, FEED_PARAS);
	e->sumpara = 0;
	e->mtime = st.st_mtim.tv_sec;
	fs_id_set(id, &st, now);
	return 0;
}

/*
 * Sum up e by its real paragraph number k (FEED_PARAS: none), reading
 * the file again; on failure the summary is left empty, the entry is.
 */
static void
resummarise(int dirfd, struct feed_entry *e, size_t k, char *buf)
{
	struct stat	st;
	size_t		len = 0;
	ssize_t		r;
	int		fd;

	e->summary[0] = '\0';
	e->sumpara = k;
	if (k >= FEED_PARAS || (fd = fs_open_in(dirfd, e->name, &st)) == -1)
		return;
	while (len < FEED_READ_MAX &&
	    (r = read(fd, buf + len, FEED_READ_MAX - len)) > 0)
		len += r;
	close(fd);
	stats.reads++;
	feed_summary_nth(buf, len, k, e->summary);
}

/*
 * Skip boilerplate: an entry whose summary paragraph other entries
 * share is summed up by its first paragraph of its own (read again).
 */
static int
pick_summaries(int dirfd, struct feed_entry *v, size_t n, char *buf)
{
	size_t	*want, i;

	if (n == 0)
		return 0;
	if ((want = calloc(n, sizeof(*want))) == NULL)
		return -1;
	feed_pick_paragraphs(v, n, want);
	for (i = 0; i < n; i++)
		if (want[i] != v[i].sumpara)
			resummarise(dirfd, &v[i], want[i], buf);
	free(want);
	return 0;
}

/*
 * A post under an access rule that its section's index is not under (a
 * members' post in a public section): not listed in the section's
 * index, its Atom feed or any latest-posts block, which would show its
 * title and summary to whoever reads the section.  Nor is a post that
 * is `gone` (52: aggregators are to stop asking for it).
 */
static int
hidden_post(const struct host_cfg *h, const struct feed_cfg *f,
    const char *name)
{
	char			 dir[sizeof(f->dir) + 2];
	char			 path[sizeof(dir) + NAME_MAX + 1];

	if (h->naccess == 0 && h->rules.npaths == 0)
		return 0;
	if (snprintf(dir, sizeof(dir), "/%s/", f->dir) >= (int)sizeof(dir) ||
	    snprintf(path, sizeof(path), "%s%s", dir, name) >=
	    (int)sizeof(path))
		return 1;
	if (rules_gone(&h->rules, path))
		return 1;
	return config_gated_from(h, dir, path);
}

/*
 * Read the directory again.  An entry whose stat is unchanged (and was
 * not racy) keeps what was read from it; only the others are read.
 */
static int
rescan(struct feed_cache *fc, const struct host_cfg *h,
    const struct feed_cfg *f, int dirfd, const struct stat *dst)
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
		    !S_ISREG(st.st_mode) || hidden_post(h, f, names[i]))
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
	if (pick_summaries(dirfd, v, n, buf) == -1)
		goto fail;
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
	char			 path[sizeof(f->dir) + 2];
	char			 enc[sizeof(path) * 3];

	if (snprintf(path, sizeof(path), "/%s/", f->dir) >=
	    (int)sizeof(path) ||
	    url_encode_path(path, enc, sizeof(enc)) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memset(&fi, 0, sizeof(fi));
	fi.title = feed_name(f);
	fi.base = base;
	fi.dirpath = enc;
	/* RFC 4287 4.1.1: a feed needs an author; the host knows no better */
	fi.author = h->feed_author[0] != '\0' ? h->feed_author : h->name;
	/*
	 * The section's own lang (a PATH rule) or the host's; xml:lang
	 * takes one tag, so a list is left to the reader.
	 */
	fi.lang = rules_lang(&h->rules, path, h->lang);
	if (strchr(fi.lang, ',') != NULL)
		fi.lang = NULL;
	fi.updated = dst->st_mtim.tv_sec;
	fi.now = time(NULL);
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

/* The slot for (h, f), brought up to date. */
/* The slot for (h, f), up to date in its newest `need` entries. */
static struct feed_cache *
cache_current(const struct host_cfg *h, const struct feed_cfg *f,
    int dirfd, const struct stat *st, size_t need)
{
	struct feed_cache	*fc;

	if ((fc = cache_slot(h, f)) == NULL)
		return NULL;
	if (!cache_fresh(fc, dirfd, st, need) && rescan(fc, h, f, dirfd, st) == -1)
		return NULL;
	return fc;
}

int
feed_entries(const struct host_cfg *h, const struct feed_cfg *f,
    int dirfd, const struct stat *st, size_t need,
    const struct feed_entry **v, size_t *n, unsigned long *gen)
{
	struct feed_cache	*fc;

	if ((fc = cache_current(h, f, dirfd, st, need)) == NULL)
		return -1;
	*v = fc->v;
	*n = fc->n;
	*gen = fc->gen;
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

	if ((fc = cache_current(h, f, dirfd, st, SIZE_MAX)) == NULL)
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
