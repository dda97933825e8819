/*
 * feed_test.c: dated names, titles, summaries, XML escaping, the two
 * writers, and the cache (through feed_generate on a scratch directory).
 */
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "feed.h"
#include "files.h"
#include "tap.h"
#include "url.h"

static const struct {
	const char	*name;
	int		 ok;
	const char	*rule;
} names[] = {
	{ "2024-07-16-bad-news.gmi",	1, "a dated name is an entry" },
	{ "2024-02-29-leap.gmi",	1, "29 February in a leap year" },
	{ "2000-02-29-leap.gmi",	1, "2000 is a leap year (divisible by 400)" },
	{ "2023-02-29-x.gmi",		0, "29 February in a common year" },
	{ "1900-02-29-x.gmi",		0, "1900 is not a leap year" },
	{ "2024-02-30-x.gmi",		0, "30 February does not exist" },
	{ "2024-04-31-x.gmi",		0, "31 April does not exist" },
	{ "2024-13-01-x.gmi",		0, "month 13" },
	{ "2024-00-10-x.gmi",		0, "month 0" },
	{ "2024-01-00-x.gmi",		0, "day 0" },
	{ "2024-12-31-x.gmi",		1, "31 December" },
	{ "2024-07-16-.gmi",		0, "an empty slug" },
	{ "2024-07-16.gmi",		0, "no slug at all" },
	{ "2024-07-16-x.txt",		0, "not .gmi" },
	{ "2024-07-16-x.gmi.bak",	0, ".gmi not at the end" },
	{ "2024-7-16-x.gmi",		0, "a one-digit month" },
	{ "x2024-07-16-x.gmi",		0, "something before the date" },
	{ "2024_07_16-x.gmi",		0, "underscores, not hyphens" },
	{ "2024-07-16xslug.gmi",	0, "no hyphen after the date" },
	{ ".2024-07-16-x.gmi",		0, "a dotfile" },
	{ "-024-07-16-x.gmi",		0, "a sign is not a digit" },
	{ "",				0, "the empty name" },
};

static void
test_names(void)
{
	char	date[FEED_DATE_LEN + 1];
	size_t	i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		ok(feed_name_date(names[i].name, date) == names[i].ok,
		    "name \"%s\": %s", names[i].name, names[i].rule);
	feed_name_date("2024-07-16-bad-news.gmi", date);
	ok(strcmp(date, "2024-07-16") == 0, "the date is the name's prefix");
}

static const struct {
	const char	*text;
	const char	*title;
	const char	*rule;
} titles[] = {
	{ "# Bad News\n\ntext\n",	"Bad News",	"the first # heading" },
	{ "intro\n## Sub\n# Main\n",	"Main",		"## is not the title" },
	{ "#NoSpace\n",			"NoSpace",	"# needs no space after it" },
	{ "#\n#   \n# Real\n",		"Real",		"an empty heading is skipped" },
	{ "```\n# code\n```\n# Out\n",	"Out",		"a heading in preformatted text is not one" },
	{ "```\n# never closed\n",	"",		"an unclosed preformatted block" },
	{ "# Windows\r\nx\r\n",		"Windows",	"CR LF line ends" },
	{ "\xef\xbb\xbf# BOM\n",	"BOM",		"a leading byte order mark" },
	{ "#  \tpadded \t \n",		"padded",	"white space trimmed at both ends" },
	{ "# a\tb\x01" "c\n",		"a b c",	"controls become spaces" },
	{ "# caf\xe9\n",		"caf\xef\xbf\xbd", "bytes that are not UTF-8 become U+FFFD" },
	{ "# Bread & <Roses>\n",	"Bread & <Roses>", "gemtext keeps & and < as they are" },
	{ "no heading at all\n",	"",		"no heading: empty" },
	{ "",				"",		"an empty file" },
	{ "=> link.gmi # not\n# Yes",	"Yes",		"the last line needs no newline" },
};

static void
test_titles(void)
{
	char	out[FEED_TITLE_MAX + sizeof(FEED_ELLIPSIS)];
	size_t	i, n;

	for (i = 0; i < sizeof(titles) / sizeof(titles[0]); i++) {
		n = feed_title(titles[i].text, strlen(titles[i].text), out);
		ok(strcmp(out, titles[i].title) == 0 && n == strlen(out),
		    "title: %s", titles[i].rule);
	}
}

/* A long line of repeated UTF-8 (3-byte) characters and spaces. */
static void
test_cuts(void)
{
	char	text[4096], t[FEED_TITLE_MAX + sizeof(FEED_ELLIPSIS)];
	char	s[FEED_SUMMARY_MAX + sizeof(FEED_ELLIPSIS)];
	size_t	i, len, n;

	len = 0;
	text[len++] = '#';
	for (i = 0; i < 300; i++) {
		memcpy(text + len, "\xe2\x82\xac", 3);	/* U+20AC */
		len += 3;
	}
	n = feed_title(text, len, t);
	ok(n <= FEED_TITLE_MAX + 3 && n == strlen(t),
	    "a long title is cut to FEED_TITLE_MAX plus the ellipsis");
	ok(url_utf8_valid(t, n), "the cut falls between characters");
	ok(n >= 3 && strcmp(t + n - 3, FEED_ELLIPSIS) == 0,
	    "a cut title ends in an ellipsis");

	len = 0;
	for (i = 0; i < 100; i++) {
		memcpy(text + len, "word\xc3\xa9 ", 7);
		len += 7;
	}
	n = feed_summary(text, len, s);
	ok(n <= FEED_SUMMARY_MAX + 3 && url_utf8_valid(s, n),
	    "a long summary is cut to FEED_SUMMARY_MAX on a UTF-8 boundary");
	ok(n > 6 && memcmp(s + n - 9, "word\xc3\xa9" FEED_ELLIPSIS, 9) == 0,
	    "a summary is cut at a space: no word is halved");
	n = feed_summary("short line\n", 11, s);
	ok(strcmp(s, "short line") == 0, "a short summary is not cut");
}

static const struct {
	const char	*text;
	const char	*summary;
	const char	*rule;
} summaries[] = {
	{ "# T\n\n## S\n=> x.gmi X\nFirst.\nSecond.\n", "First.",
	    "headings, blank lines and links are skipped" },
	{ "```\npre\n```\nAfter.\n",	"After.",	"preformatted text is skipped" },
	{ "# T\n\n<!-- capsuled:latest 3 news -->\n\nOur news.\n", "Our news.",
	    "a generated list's marker line is the server's, not a summary" },
	{ "  <!--capsuled:bogus-->\nWords.\n", "Words.",
	    "so is a malformed one" },
	{ "* item one\nPara.\n",	"Para.",	"a list item is no paragraph" },
	{ "> quoted\n",			"",		"a quote is not the post's words: no \"> \" leaks" },
	{ "> \xe2\x80\x9c" "For the first\xe2\x80\x9d" "\n\nThe shocking...\n", "The shocking...",
	    "quotes under the title are skipped (the heat warning post)" },
	{ "Dear James Mass,\n\nWe are writing\n", "We are writing",
	    "a salutation is no summary (the open letter)" },
	{ "Hi Ian\n\nThe letter\n",	"The letter",	"a salutation without a comma" },
	{ "Dear colleagues and friends all,\nx\n", "x",
	    "a longer salutation of five words" },
	{ "Dear Council, we write to say that six words is text\n",
	    "Dear Council, we write to say that six words is text",
	    "a sentence that starts with Dear is text" },
	{ "Hiring freeze announced\n",	"Hiring freeze announced", "Hi must be a word" },
	{ "Date inferred: about late October 2024\nBody.\n", "Body.",
	    "a date label is no summary" },
	{ "Published: 5 September 2024\nBody.\n", "Body.", "published label" },
	{ "Editor\xe2\x80\x99s note: the video is lost.\nBody.\n", "Body.",
	    "an editor's note is not the post's words" },
	{ "Update: the strike is on.\n",	"Update: the strike is on.",
	    "other labels are text" },
	{ "   \n\t\nreal\n",		"real",		"white-space lines are empty" },
	{ "# only a title\n",		"",		"no text: empty" },
	{ "# T\n\n17 July 2024\n\nOn Tuesday...\n", "On Tuesday...",
	    "a dateline under the title is no summary" },
	{ "Wednesday, July 17th, 2024\nBody.\n", "Body.",
	    "a dateline with a weekday and an ordinal" },
	{ "2024-07-17\nBody.\n",	"Body.",	"an ISO dateline" },
	{ "Sun 3 Mar. 2024\nBody.\n",	"Body.",	"abbreviated names" },
	{ "17 July\n",			"17 July",	"no year: not a dateline" },
	{ "May 2024 was hot.\n",	"May 2024 was hot.", "a sentence with a date is text" },
	{ "17 July 2024 strike\n",	"17 July 2024 strike", "a date and a word is text" },
	{ "2024\n",			"",		"a year alone is a dateline" },
	{ " \xc2\x80\x01 x \n",		"x",		"C1 controls are blank at the ends too" },
	{ "\xc2\x80\xc2\x9f\nnext\n",	"next",		"a line of C1 controls is empty" },
};

static void
test_summaries(void)
{
	char	out[FEED_SUMMARY_MAX + sizeof(FEED_ELLIPSIS)];
	size_t	i;

	for (i = 0; i < sizeof(summaries) / sizeof(summaries[0]); i++) {
		feed_summary(summaries[i].text, strlen(summaries[i].text), out);
		ok(strcmp(out, summaries[i].summary) == 0, "summary: %s",
		    summaries[i].rule);
	}
}

#define INTRO	"Barnet UNISON is a proud active fighting branch.\n\n"

/* Five messages of support open with the same paragraphs. */
static void
test_boilerplate(void)
{
	static const char *const posts[] = {
		"# A\n\n" INTRO "Shared two.\n\nThanks to Libby.\n",
		"# B\n\n" INTRO "Shared two.\n",
		"# C\n\n" INTRO "Shared two.\n\nJohn McDonnell backs us.\n",
		"# D\n\nOwn words first.\n\n" INTRO,
	};
	struct feed_entry	v[4];
	char			out[FEED_SUMMARY_MAX + sizeof(FEED_ELLIPSIS)];
	size_t			want[4], i;

	memset(v, 0, sizeof(v));
	for (i = 0; i < 4; i++)
		v[i].npara = feed_paragraphs(posts[i], strlen(posts[i]),
		    v[i].para, FEED_PARAS);
	ok(v[0].npara == 3 && v[1].npara == 2, "paragraphs: counted");
	ok(v[0].para[0] == v[3].para[1], "paragraphs: the same text, the "
	    "same hash");
	feed_pick_paragraphs(v, 4, want);
	ok(want[0] == 2 && want[2] == 2,
	    "boilerplate: the first paragraph no other post has");
	ok(want[1] == FEED_PARAS, "boilerplate: all shared: no summary");
	ok(want[3] == 0, "boilerplate: a post's own first paragraph stays");
	feed_summary_nth(posts[0], strlen(posts[0]), want[0], out);
	ok(strcmp(out, "Thanks to Libby.") == 0, "boilerplate: nth summary");
	feed_pick_paragraphs(v, 1, want);
	ok(want[0] == 0, "boilerplate: alone in its feed, nothing is shared");
}

static const struct {
	const char	*in;
	size_t		 len;
	const char	*out;
	const char	*rule;
} escapes[] = {
	{ "a & b", 5,		"a &amp; b",		"& is escaped" },
	{ "<x>", 3,		"&lt;x&gt;",		"< and > are escaped" },
	{ "say \"hi\"", 8,	"say &quot;hi&quot;",	"\" is escaped (attributes)" },
	{ "a\x01" "b\x1f" "c", 5, "abc",		"C0 controls are dropped" },
	{ "t\tn\n", 4,		"t\tn\n",		"tab and LF are kept" },
	{ "r\r", 2,		"r&#13;",		"CR is kept as a reference" },
	{ "a\0b", 3,		"ab",			"NUL is dropped" },
	{ "\xef\xbf\xbe\xef\xbf\xbf", 6, "",		"U+FFFE and U+FFFF are dropped" },
	{ "\xff", 1,		"\xef\xbf\xbd",		"a byte that is not UTF-8 is U+FFFD" },
	{ "\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd",
	    "a surrogate is not UTF-8" },
	{ "caf\xc3\xa9 \xf0\x9f\x93\xa2", 10, "caf\xc3\xa9 \xf0\x9f\x93\xa2",
	    "UTF-8 text passes as it is" },
};

static void
test_escape(void)
{
	struct buf	b;
	size_t		i;

	for (i = 0; i < sizeof(escapes) / sizeof(escapes[0]); i++) {
		memset(&b, 0, sizeof(b));
		feed_xml_escape(&b, escapes[i].in, escapes[i].len);
		ok(b.len == strlen(escapes[i].out) &&
		    (b.len == 0 || strcmp(b.data, escapes[i].out) == 0),
		    "xml: %s", escapes[i].rule);
		free(b.data);
	}
}

/* 1721120400: 2024-07-16T09:00:00Z; 1722470400: 2024-08-01T00:00:00Z */
static struct feed_entry entries[3] = {
	{ "2024-07-16-bad-news.gmi", "2024-07-16", "Bad News & <more>",
	    "First para.", 1721120400, { 0 }, 0, 0, 0 },
	{ "2024-06-01-a file.gmi", "2024-06-01", "", "", 1800000000,
	    { 0 }, 0, 0, 0 },
	{ "2024-08-01-newest.gmi", "2024-08-01", "Out of order", "x",
	    1722470400 - 3600, { 0 }, 0, 0, 0 },
};

/* README "Publishing": the one form a post says its date was inferred in */
static const struct {
	const char	*text;
	int		 inferred;
	const char	*rule;
} inferred[] = {
	{ "# T\n\nDate inferred: about October 2024.\n", 1,
	    "a line starting \"Date inferred:\" marks the date inferred" },
	{ "# T\r\nDate inferred: x\r\n", 1, "CR LF line ends" },
	{ "\xef\xbb\xbf" "Date inferred: x", 1,
	    "first line after a byte order mark, no LF at the end" },
	{ "# T\n\n17 July 2024\n", 0, "a dateline is a date, not inferred" },
	{ "# T\n```\nDate inferred: x\n```\n", 0,
	    "inside a preformatted block it is shown, not meant" },
	{ "# T\n> Date inferred: x\n", 0, "a quote" },
	{ "# T\n* Date inferred: x\n", 0, "a list item" },
	{ "# T\n Date inferred: x\n", 0, "indented: not at the line start" },
	{ "# T\ndate inferred: x\n", 0, "lower case: not the form" },
	{ "# T\nDate inferred x\n", 0, "no colon: not the form" },
	{ "# Date inferred: a title\n", 0, "a heading" },
	{ "# T\n=> /x Date inferred: x\n", 0, "a link's label" },
	{ "# T\nDate inferred:", 1, "the label alone, at the very end" },
	{ "", 0, "an empty post" },
};

static void
test_inferred(void)
{
	static struct feed_entry e[2] = {
		{ "2024-10-30-libby.gmi", "2024-10-30", "Big Thanks & more",
		    "Para.", 1730246400, { 0 }, 0, 0, 1 },
		{ "2024-10-10-tea.gmi", "2024-10-10", "", "", 1728518400,
		    { 0 }, 0, 0, 1 },
	};
	struct feed_atom_info	 fi = { "Disputes", "gemini://h.example",
				    "/disputes/", "Barnet UNISON", "en-GB",
				    1577836800, 1750000000 };
	struct buf		 b;
	size_t			 i;

	for (i = 0; i < sizeof(inferred) / sizeof(inferred[0]); i++)
		ok(feed_date_inferred(inferred[i].text,
		    strlen(inferred[i].text)) == inferred[i].inferred,
		    "inferred: %s", inferred[i].rule);

	memset(&b, 0, sizeof(b));
	ok(feed_write_index(&b, "Disputes", e, 2) == 0 && b.data != NULL &&
	    strstr(b.data, "=> 2024-10-30-libby.gmi 2024-10-30 Big Thanks & "
	    "more (date inferred)\n=> 2024-10-10-tea.gmi 2024-10-10 tea "
	    "(date inferred)\n") != NULL,
	    "index: an inferred date keeps \"DATE TITLE\" and says so after "
	    "the title (or the slug)");
	free(b.data);

	memset(&b, 0, sizeof(b));
	ok(feed_write_atom(&b, &fi, e, 2) == 0 && b.data != NULL &&
	    strstr(b.data, "<title>Big Thanks &amp; more (date inferred)"
	    "</title>") != NULL && strstr(b.data,
	    "<title>tea (date inferred)</title>") != NULL,
	    "atom: an inferred date is said in the entry's title");
	free(b.data);

	e[0].inferred = 0;
	memset(&b, 0, sizeof(b));
	feed_put_label(&b, &e[0]);
	ok(b.data != NULL && strcmp(b.data, "Big Thanks & more") == 0,
	    "label: a known date adds nothing");
	free(b.data);
}

static void
test_index(void)
{
	struct buf	b;

	memset(&b, 0, sizeof(b));
	ok(feed_write_index(&b, "Branch news", entries, 2) == 0,
	    "index: written");
	ok(b.data != NULL && strcmp(b.data,
	    "# Branch news\n\n"
	    "=> 2024-07-16-bad-news.gmi 2024-07-16 Bad News & <more>\n"
	    "=> 2024-06-01-a%20file.gmi 2024-06-01 a file\n"
	    "\n=> atom.xml Atom feed\n=> / Home page\n") == 0,
	    "index: title, one dated link per entry (encoded, slug when no "
	    "title), the Atom link, a link home");
	free(b.data);
}

static void
test_atom(void)
{
	struct feed_atom_info	 fi = { "News & views", "gemini://h.example",
				    "/news/", "Barnet UNISON", "en-GB",
				    1577836800, 1750000000 };
	struct buf		 b;
	time_t			 p, u;

	feed_entry_times(&entries[0], 1750000000, &p, &u);
	ok(p == 1721088000 && u == 1721120400,
	    "times: published the start of the named day, updated the mtime");
	feed_entry_times(&entries[0], 1721100000, &p, &u);
	ok(u == 1721100000 && p == 1721088000,
	    "times: an mtime after now is stamped now");
	feed_entry_times(&entries[2], 1750000000, &p, &u);
	ok(p == u && u == 1722470400 - 3600,
	    "times: a file older than its named day is published at its mtime");

	memset(&b, 0, sizeof(b));
	ok(feed_write_atom(&b, &fi, entries, 3) == 0, "atom: written");
	ok(strstr(b.data, "<id>gemini://h.example/news/</id>") != NULL,
	    "atom: the feed's id is the directory's URL");
	ok(strstr(b.data, "<title>News &amp; views</title>") != NULL,
	    "atom: the feed title is escaped");
	ok(strstr(b.data, "<updated>2025-06-15T15:06:40Z</updated>\n"
	    "  <author>") != NULL,
	    "atom: the feed's updated is the latest entry's, never after now");
	ok(strstr(b.data, "<author>\n    <name>Barnet UNISON</name>") != NULL,
	    "atom: the author given (RFC 4287 4.1.1)");
	ok(strstr(b.data, "<updated>2024-07-16T09:00:00Z</updated>\n"
	    "    <published>2024-07-16T00:00:00Z</published>") != NULL,
	    "atom: an entry's updated (mtime) and published (its day)");
	ok(strstr(b.data, "T12:00:00Z") == NULL,
	    "atom: no made-up noon, which is in the future every morning");
	ok(strstr(b.data, "rel=\"self\" type=\"application/atom+xml\" "
	    "href=\"gemini://h.example/news/atom.xml\"") != NULL,
	    "atom: a self link to atom.xml");
	ok(strstr(b.data, "<id>gemini://h.example/news/2024-06-01-a%20file.gmi"
	    "</id>\n    <title>a file</title>") != NULL,
	    "atom: an entry id is its encoded URL; no heading: the slug");
	ok(strstr(b.data, "<title>Bad News &amp; &lt;more&gt;</title>")
	    != NULL, "atom: an entry title is escaped");
	ok(strstr(b.data, "<summary>First para.</summary>") != NULL,
	    "atom: the summary");
	ok(strstr(b.data, "xml:lang=\"en-GB\"") != NULL, "atom: xml:lang");
	free(b.data);

	memset(&b, 0, sizeof(b));
	fi.lang = NULL;
	feed_write_atom(&b, &fi, entries, 0);
	ok(strstr(b.data, "<updated>2020-01-01T00:00:00Z</updated>") != NULL &&
	    strstr(b.data, "<entry>") == NULL,
	    "atom: no entries: updated is the time given");
	free(b.data);
	memset(&b, 0, sizeof(b));
	fi.updated = fi.now + 86400;
	feed_write_atom(&b, &fi, entries, 0);
	ok(strstr(b.data, "<updated>2025-06-15T15:06:40Z</updated>") != NULL,
	    "atom: no entries, a directory stamped ahead: now");
	ok(strstr(b.data, "xml:lang") == NULL, "atom: no lang, no xml:lang");
	free(b.data);
}

static void
test_base_url(void)
{
	char	out[64];

	ok(feed_base_url("h.example", 1965, out, sizeof(out)) == 0 &&
	    strcmp(out, "gemini://h.example") == 0, "base: no :1965");
	ok(feed_base_url("h.example", 1966, out, sizeof(out)) == 0 &&
	    strcmp(out, "gemini://h.example:1966") == 0,
	    "base: another port is kept");
	ok(feed_base_url("::1", 1965, out, sizeof(out)) == 0 &&
	    strcmp(out, "gemini://[::1]") == 0, "base: IPv6 in brackets");
	ok(feed_base_url("h.example", 1966, out, 10) == -1,
	    "base: too small is an error, not a cut URL");
}

static void
test_lookup(void)
{
	static struct host_cfg	h;
	int			atom = -1;

	memset(&h, 0, sizeof(h));
	snprintf(h.feeds[0].dir, sizeof(h.feeds[0].dir), "news");
	snprintf(h.feeds[1].dir, sizeof(h.feeds[1].dir), "a/b");
	h.nfeeds = 2;
	ok(feed_lookup(&h, "/news/", &atom) == &h.feeds[0] && atom == 0,
	    "lookup: /news/ is the index");
	ok(feed_lookup(&h, "/news/atom.xml", &atom) == &h.feeds[0] &&
	    atom == 1, "lookup: /news/atom.xml is the Atom feed");
	ok(feed_lookup(&h, "/a/b/atom.xml", &atom) == &h.feeds[1],
	    "lookup: a nested directory");
	ok(feed_lookup(&h, "/news", &atom) == NULL,
	    "lookup: no slash: the file step redirects");
	ok(feed_lookup(&h, "/newsy/", &atom) == NULL, "lookup: a prefix");
	ok(feed_lookup(&h, "/news/x.gmi", &atom) == NULL,
	    "lookup: a file in it");
	ok(feed_lookup(&h, "/a/", &atom) == NULL, "lookup: a parent");
}

static void
age_dir(int dirfd, time_t ago)
{
	struct timespec	ts[2];

	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - ago;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	futimens(dirfd, ts);
}

static char *
generate(struct host_cfg *h, int dirfd, int atom)
{
	struct stat	 st;
	char		*out, *s;
	size_t		 len;

	if (fstat(dirfd, &st) == -1 || feed_generate(h, &h->feeds[0], dirfd,
	    &st, "gemini://h.example", atom, &out, &len) == -1)
		return NULL;
	if ((s = malloc(len + 1)) == NULL)
		abort();
	memcpy(s, out, len);
	s[len] = '\0';
	free(out);
	return s;
}

static void
test_cache(void)
{
	static struct host_cfg	 h;
	struct feed_stats	 a, b;
	char			 tmpl[] = "/tmp/feed_test.XXXXXX", *body;
	int			 dirfd;

	if (mkdtemp(tmpl) == NULL || (dirfd = open(tmpl, O_RDONLY |
	    O_DIRECTORY)) == -1)
		abort();
	memset(&h, 0, sizeof(h));
	snprintf(h.name, sizeof(h.name), "h.example");
	snprintf(h.feeds[0].dir, sizeof(h.feeds[0].dir), "news");
	h.nfeeds = 1;
	h.feed_entries = 2;
	put(dirfd, "2024-01-01-one.gmi", "# One\n", 100);
	put(dirfd, "2024-02-01-two.gmi", "# Two\n", 100);
	put(dirfd, "2024-03-01-three.gmi", "# Three\n", 100);
	put(dirfd, "notes.gmi", "# not dated\n", 100);
	mkdirat(dirfd, "2024-04-01-dir.gmi", 0755);
	age_dir(dirfd, 100);

	feed_get_stats(&a);
	body = generate(&h, dirfd, 0);
	feed_get_stats(&b);
	ok(body != NULL && strstr(body, "Three") && strstr(body, "Two") &&
	    !strstr(body, "One"), "cache: at most feed_entries, newest first");
	ok(body != NULL && !strstr(body, "dir.gmi"),
	    "cache: a directory with a dated name is no entry");
	ok(b.scans == a.scans + 1 && b.reads == a.reads + 2,
	    "cache: the first request reads only the entries it shows");
	free(body);

	feed_get_stats(&a);
	free(generate(&h, dirfd, 0));
	free(generate(&h, dirfd, 1));
	free(generate(&h, dirfd, 1));
	feed_get_stats(&b);
	ok(b.scans == a.scans && b.reads == a.reads,
	    "cache: unchanged: no directory scan, no file read");
	ok(b.builds == a.builds + 1, "cache: each body is made once");

	put(dirfd, "2024-03-01-three.gmi", "# Three, edited\n", 50);
	feed_get_stats(&a);
	body = generate(&h, dirfd, 0);
	feed_get_stats(&b);
	ok(body != NULL && strstr(body, "Three, edited") != NULL,
	    "cache: a file edited in place shows (the directory is the same)");
	ok(b.reads == a.reads + 1, "cache: only the edited file is read");
	free(body);

	put(dirfd, "2024-05-01-five.gmi", "# Five\n", 100);
	age_dir(dirfd, 40);
	feed_get_stats(&a);
	body = generate(&h, dirfd, 0);
	feed_get_stats(&b);
	ok(body != NULL && strstr(body, "Five") && strstr(body, "Three") &&
	    !strstr(body, "Two"), "cache: a new file shows, the cap holds");
	ok(b.reads == a.reads + 1, "cache: only the new file is read");
	free(body);

	unlinkat(dirfd, "2024-05-01-five.gmi", 0);
	age_dir(dirfd, 30);
	body = generate(&h, dirfd, 0);
	ok(body != NULL && !strstr(body, "Five") && strstr(body, "Two"),
	    "cache: a removed file goes");
	free(body);

	put(dirfd, "2024-03-01-three.gmi", "# AAAA\n", 0);
	free(generate(&h, dirfd, 0));
	put(dirfd, "2024-03-01-three.gmi", "# BBBB\n", 0);
	body = generate(&h, dirfd, 0);
	ok(body != NULL && strstr(body, "BBBB") != NULL,
	    "cache: a rewrite with the same size and mtime is read again");
	free(body);

	/*
	 * Racy: a stat taken within FS_RACY_SEC of a change may not show
	 * the next change (coarse time stamps), so such a file is read on
	 * every request until it is older; then the cache trusts it.
	 */
	free(generate(&h, dirfd, 0));
	feed_get_stats(&a);
	free(generate(&h, dirfd, 0));
	feed_get_stats(&b);
	ok(b.reads == a.reads + 1,
	    "cache: a file changed in the last seconds is read again");
	put(dirfd, "2024-03-01-three.gmi", "# BBBB\n", 10);
	age_dir(dirfd, 10);
	free(generate(&h, dirfd, 0));
	feed_get_stats(&a);
	free(generate(&h, dirfd, 0));
	feed_get_stats(&b);
	ok(b.reads == a.reads && b.scans == a.scans,
	    "cache: once it is older it is trusted again");

	/* touch -d next year: no change can hide behind it, so trusted */
	put(dirfd, "2024-03-01-three.gmi", "# Future\n", -365 * 86400);
	age_dir(dirfd, 10);
	free(generate(&h, dirfd, 0));
	feed_get_stats(&a);
	body = generate(&h, dirfd, 0);
	feed_get_stats(&b);
	ok(body != NULL && strstr(body, "Future") != NULL &&
	    b.reads == a.reads && b.scans == a.scans,
	    "cache: a file dated in the future is not racy for ever");
	free(body);

	put(dirfd, "2024-03-01-three.gmi", "# Three\n\nDate inferred: x\n",
	    50);
	body = generate(&h, dirfd, 0);
	ok(body != NULL && strstr(body, "2024-03-01 Three (date inferred)\n"),
	    "cache: an inferred date is read with the entry and listed so");
	free(body);
	put(dirfd, "2024-03-01-three.gmi", "# Three\n\nConfirmed.\n", 40);
	body = generate(&h, dirfd, 0);
	ok(body != NULL && strstr(body, "2024-03-01 Three\n"),
	    "cache: a date confirmed later drops the mark");
	free(body);

	h.feed_entries = 1;
	body = generate(&h, dirfd, 0);
	ok(body != NULL && !strstr(body, "Two"),
	    "cache: a new feed_entries is obeyed");
	free(body);

	unlinkat(dirfd, "2024-01-01-one.gmi", 0);
	unlinkat(dirfd, "2024-02-01-two.gmi", 0);
	unlinkat(dirfd, "2024-03-01-three.gmi", 0);
	unlinkat(dirfd, "notes.gmi", 0);
	unlinkat(dirfd, "2024-04-01-dir.gmi", AT_REMOVEDIR);
	close(dirfd);
	rmdir(tmpl);
}

int
main(void)
{
	test_names();
	test_titles();
	test_cuts();
	test_summaries();
	test_inferred();
	test_boilerplate();
	test_escape();
	test_index();
	test_atom();
	test_base_url();
	test_lookup();
	test_cache();
	return tap_done();
}
