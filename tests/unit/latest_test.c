/*
 * latest_test.c: the "latest posts" block: marker lines parsed, posts
 * sorted and rendered, pages spliced; and latest_page's caches on a
 * scratch capsule (which pages are read, which are made again, what is
 * logged).
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "feed.h"
#include "latest.h"
#include "files.h"
#include "tap.h"

static const char *const dirs[] = { "news", "letters", "a/b" };
#define NDIRS	(sizeof(dirs) / sizeof(dirs[0]))

static const struct {
	const char	*line;
	int		 want;		/* latest_parse's answer */
	int		 n;
	uint32_t	 mask;
	const char	*why;		/* in m.why when want == -1 */
	const char	*rule;
} marks[] = {
	{ "<!-- capsuled:latest 5 news letters -->", 1, 5, 3, NULL,
	    "the marker: N and two feeds" },
	{ "<!-- capsuled:latest 1 a/b -->\r", 1, 1, 4, NULL,
	    "a nested feed; a CR before the LF" },
	{ "  <!--\tcapsuled:latest  100 /news/  -->  ", 1, 100, 1, NULL,
	    "runs of blanks, slashes at a directory's ends" },
	{ "<!-- capsuled:latest 3 news news -->", 1, 3, 1, NULL,
	    "a directory twice counts once" },
	{ "<!-- capsuled:latest 0 news -->", -1, 0, 0, "1 to 100",
	    "N of 0 is no block" },
	{ "<!-- capsuled:latest 101 news -->", -1, 0, 0, "1 to 100",
	    "N over LATEST_MAX" },
	{ "<!-- capsuled:latest 99999999999999999999 news -->", -1, 0, 0,
	    "1 to 100", "a huge N does not overflow" },
	{ "<!-- capsuled:latest five news -->", -1, 0, 0, "'five'",
	    "N is a number" },
	{ "<!-- capsuled:latest 5 -->", -1, 0, 0, "no directory",
	    "no directory" },
	{ "<!-- capsuled:latest -->", -1, 0, 0, "number N",
	    "no N" },
	{ "<!-- capsuled:latest 5 press -->", -1, 0, 0,
	    "'press' is not one of the host's feeds",
	    "a directory that is not in feeds" },
	{ "<!-- capsuled:latest 5 news press -->", -1, 0, 0, "'press'",
	    "one bad directory spoils the marker" },
	{ "<!-- capsuled:latest 5 news", -1, 0, 0, "does not end in",
	    "not closed" },
	{ "<!-- capsuled:latest 5 news-->", -1, 0, 0, "'news-->'",
	    "no blank before -->" },
	{ "<!--capsuled:latest 5 news -->", -1, 0, 0, "expected",
	    "no blank after <!--" },
	{ "<!-- capsuled:newest 5 news -->", -1, 0, 0,
	    "unknown marker 'capsuled:newest'", "another name" },
	{ "<!-- CAPSULED:latest 5 news -->", -1, 0, 0, "unknown marker",
	    "ours in any case, but the name is exact" },
	{ "\xef\xbb\xbf" "<!-- capsuled:latest 1 news -->", 1, 1, 1, NULL,
	    "a U+FEFF before it (files joined together)" },
	{ "<!-- a comment -->", 0, 0, 0, NULL, "other comments are text" },
	{ "Text <!-- capsuled:latest 5 news -->", 0, 0, 0, NULL,
	    "a marker must be a line of its own" },
	{ "=> <!-- capsuled:latest 5 news -->", 0, 0, 0, NULL,
	    "in a link line it is the link's text" },
	{ "", 0, 0, 0, NULL, "an empty line" },
};

static void
test_parse(void)
{
	struct latest_mark	m;
	size_t			i;
	int			r;

	for (i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		memset(&m, 0, sizeof(m));
		r = latest_parse(marks[i].line, strlen(marks[i].line), dirs,
		    NDIRS, &m);
		ok(r == marks[i].want && (r != 1 || (m.n == marks[i].n &&
		    m.dirs == marks[i].mask)) && (r != -1 || (m.n == 0 &&
		    strstr(m.why, marks[i].why) != NULL)),
		    "parse: %s", marks[i].rule);
		ok(feed_is_marker(marks[i].line, strlen(marks[i].line)) ==
		    (marks[i].want != 0), "is_marker: %s", marks[i].rule);
	}
	memset(&m, 0, sizeof(m));
	ok(latest_parse("<!-- capsuled:latest 5 n\x01\xff -->", 30, dirs,
	    NDIRS, &m) == -1 && strstr(m.why, "'n?" "?'") != NULL,
	    "parse: a message shows no control or raw byte");
}

#define PAGE	"# Home\n\n## Latest\n\n<!-- capsuled:latest 2 news -->\n\n" \
		"```\n<!-- capsuled:latest 2 news -->\n```\n" \
		"<!-- capsuled:latest 0 news -->\nEnd\n"

static void
test_scan(void)
{
	struct latest_mark	v[2];
	size_t			n;

	memset(v, 0, sizeof(v));
	n = latest_scan(PAGE, strlen(PAGE), dirs, NDIRS, v, 2);
	ok(n == 2, "scan: two marker lines; one in preformatted text is text");
	ok(v[0].line == 5 && v[0].n == 2 && v[1].line == 10 && v[1].n == 0,
	    "scan: their lines, one good and one malformed");
	ok(latest_scan(PAGE, strlen(PAGE), dirs, NDIRS, v, 1) == 2,
	    "scan: counts past max");
	ok(latest_scan("# plain\n", 8, NULL, 0, NULL, 0) == 0,
	    "scan: a page without markers");
	ok(latest_scan("\xef\xbb\xbf<!-- capsuled:latest 1 news -->", 34,
	    dirs, NDIRS, v, 2) == 1 && v[0].line == 1 && v[0].n == 1,
	    "scan: after a byte order mark, no LF at the end");
}

static struct feed_entry	e_news[2] = {
	{ "2024-07-16-housing.gmi", "2024-07-16", "Housing", "", 0,
	    { 0 }, 0, 0, 1 },
	{ "2023-01-01-old.gmi", "2023-01-01", "Old", "", 0, { 0 }, 0, 0, 0 },
};
static struct feed_entry	e_letters[1] = {
	{ "2024-08-01-a letter.gmi", "2024-08-01", "", "", 0, { 0 }, 0, 0, 0 },
};

static void
test_render(void)
{
	struct latest_item	v[3] = { { "news", &e_news[0] },
				    { "news", &e_news[1] },
				    { "letters", &e_letters[0] } };
	struct buf		b;

	latest_sort(v, 3);
	ok(v[0].e == &e_letters[0] && v[1].e == &e_news[0] &&
	    v[2].e == &e_news[1], "sort: newest first across feeds");
	memset(&b, 0, sizeof(b));
	ok(latest_render(&b, v, 2) == 0 && b.data != NULL && strcmp(b.data,
	    "=> /letters/2024-08-01-a%20letter.gmi 2024-08-01 a letter\n"
	    "=> /news/2024-07-16-housing.gmi 2024-07-16 Housing (date "
	    "inferred)\n") == 0,
	    "render: gemfeed lines, absolute and encoded; the slug for no "
	    "title; an inferred date says so after the title");
	free(b.data);
}

static char *
do_splice(const char *text, const char *b0, const char *b1, size_t nb)
{
	struct buf	blocks[2], out;

	memset(blocks, 0, sizeof(blocks));
	memset(&out, 0, sizeof(out));
	buf_puts(&blocks[0], b0);
	buf_puts(&blocks[1], b1);
	if (latest_splice(&out, text, strlen(text), blocks, nb) == -1)
		abort();
	buf_append(&out, "", 1);
	free(blocks[0].data);
	free(blocks[1].data);
	return out.data;
}

static const struct {
	const char	*in, *out;
	size_t		 nb;
	const char	*rule;
} splices[] = {
	{ PAGE, "# Home\n\n## Latest\n\nB0\n\n```\n<!-- capsuled:latest 2 "
	    "news -->\n```\nEnd\n", 1, "the block in the marker's place; a "
	    "malformed marker line goes, its block unused" },
	{ "a\r\n<!-- capsuled:latest 1 news -->\r\nb\r\n", "a\r\nB0\nb\r\n", 2,
	    "CR LF lines around a marker are kept" },
	{ "\xef\xbb\xbf<!-- capsuled:latest 1 news -->", "\xef\xbb\xbf" "B0\n", 2,
	    "the byte order mark stays; a last line without LF" },
	{ "x\n<!-- capsuled:x -->\n<!-- capsuled:latest 1 news -->\n"
	    "<!-- capsuled:y -->\n", "x\nB0\nB1\n", 2,
	    "blocks by marker order; past the blocks, markers go" },
	{ "no marker\n```\n", "no marker\n```\n", 2, "no marker: the same bytes" },
};

static void
test_splice(void)
{
	char	*s;
	size_t	 i;

	for (i = 0; i < sizeof(splices) / sizeof(splices[0]); i++) {
		s = do_splice(splices[i].in, "B0\n", "B1\n", splices[i].nb);
		ok(strcmp(s, splices[i].out) == 0, "splice: %s",
		    splices[i].rule);
		free(s);
	}
	s = do_splice("<!-- capsuled:latest 1 news -->\n", "", "", 2);
	ok(strcmp(s, "") == 0, "splice: an empty block leaves no line");
	free(s);
	s = do_splice("<!-- capsuled:x -->\n\xef\xbb\xbf```\n"
	    "<!-- capsuled:latest 1 news -->\n", "", "", 2);
	ok(strcmp(s, "\n\xef\xbb\xbf```\n") == 0, "splice: a line led by "
	    "U+FEFF never becomes the first when the markers before it go (a "
	    "reader takes it for the byte order mark, and the \"```\" after "
	    "it would open preformatted text)");
	free(s);
}

/* The I/O half, on a scratch root. */
static int	warnings;
static char	last_warning[512];

static void
warn(void *arg, const char *msg)
{
	(void)arg;
	warnings++;
	(void)snprintf(last_warning, sizeof(last_warning), "%s", msg);
}

static void
age(int dirfd, const char *name, time_t ago)
{
	struct timespec	ts[2];

	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - ago;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	utimensat(dirfd, name, ts, 0);
}

/* latest_page on root/name: the body (NUL-terminated), or NULL: as is */
static char *
page(struct host_cfg *h, int rootfd, const char *name, int *rv)
{
	struct stat	 st;
	char		*out = NULL, *s;
	size_t		 len;
	int		 fd;

	if ((fd = openat(rootfd, name, O_RDONLY)) == -1 ||
	    fstat(fd, &st) == -1)
		abort();
	*rv = latest_page(h, rootfd, name, fd, &st, &out, &len, warn, NULL);
	close(fd);
	if (*rv != 1)
		return NULL;
	if ((s = malloc(len + 1)) == NULL)
		abort();
	memcpy(s, out, len);
	s[len] = '\0';
	free(out);
	return s;
}

#define HOME	"# Home\n<!-- capsuled:latest 2 news letters -->\nEnd\n"

static void
test_page(void)
{
	static struct host_cfg	 h;
	struct latest_stats	 a, b;
	struct feed_stats	 fa, fb;
	char			 tmpl[] = "/tmp/latest_test.XXXXXX", *body;
	int			 rootfd, news, rv;

	if (mkdtemp(tmpl) == NULL || (rootfd = open(tmpl, O_RDONLY |
	    O_DIRECTORY)) == -1 || mkdirat(rootfd, "news", 0755) == -1 ||
	    mkdirat(rootfd, "letters", 0755) == -1 ||
	    (news = openat(rootfd, "news", O_RDONLY | O_DIRECTORY)) == -1)
		abort();
	memset(&h, 0, sizeof(h));
	snprintf(h.name, sizeof(h.name), "h.example");
	snprintf(h.feeds[0].dir, sizeof(h.feeds[0].dir), "news");
	snprintf(h.feeds[1].dir, sizeof(h.feeds[1].dir), "letters");
	snprintf(h.feeds[2].dir, sizeof(h.feeds[2].dir), "gone");
	h.nfeeds = 3;
	h.feed_entries = 100;
	put(news, "2024-01-01-one.gmi", "# One\n", 100);
	put(news, "2024-02-01-two.gmi", "# Two\n", 100);
	put(rootfd, "plain.gmi", "# Plain <!-- capsuled: in text -->\n", 100);
	put(rootfd, "index.gmi", HOME, 100);
	age(rootfd, "news", 100);
	age(rootfd, "letters", 100);

	latest_get_stats(&a);
	body = page(&h, rootfd, "plain.gmi", &rv);
	ok(rv == 1 && strcmp(body, "# Plain <!-- capsuled: in text -->\n")
	    == 0, "page: read once, a page without markers is as it is");
	free(body);
	body = page(&h, rootfd, "plain.gmi", &rv);
	latest_get_stats(&b);
	ok(rv == 0 && body == NULL && b.reads == a.reads + 1,
	    "page: then known by its stat: streamed, not read again");

	body = page(&h, rootfd, "index.gmi", &rv);
	ok(rv == 1 && strcmp(body, "# Home\n"
	    "=> /news/2024-02-01-two.gmi 2024-02-01 Two\n"
	    "=> /news/2024-01-01-one.gmi 2024-01-01 One\n"
	    "End\n") == 0, "page: the block in the marker's place");
	free(body);
	latest_get_stats(&a);
	free(page(&h, rootfd, "index.gmi", &rv));
	latest_get_stats(&b);
	ok(b.reads == a.reads && b.builds == a.builds,
	    "page: nothing changed: not read, not made again");

	put(news, "2024-03-01-three.gmi", "# Three\n", 50);
	age(rootfd, "news", 40);
	body = page(&h, rootfd, "index.gmi", &rv);
	ok(body != NULL && strstr(body, "2024-03-01 Three\n=> /news/2024-02-01"
	    "-two.gmi") != NULL && strstr(body, "One") == NULL,
	    "page: a new post shows at once, the oldest makes room");
	free(body);

	put(news, "2024-03-01-three.gmi", "# Three, edited\n", 30);
	body = page(&h, rootfd, "index.gmi", &rv);
	ok(body != NULL && strstr(body, "Three, edited") != NULL,
	    "page: a post edited in place shows");
	free(body);

	unlinkat(news, "2024-03-01-three.gmi", 0);
	age(rootfd, "news", 20);
	body = page(&h, rootfd, "index.gmi", &rv);
	ok(body != NULL && strstr(body, "Three") == NULL &&
	    strstr(body, "One") != NULL, "page: a removed post goes");
	free(body);

	/* a page showing 1 post checks 1: an edit further down is not its */
	put(rootfd, "one.gmi", "<!-- capsuled:latest 1 news -->\n", 100);
	free(page(&h, rootfd, "one.gmi", &rv));
	put(news, "2024-01-01-one.gmi", "# One, edited\n", 90);
	feed_get_stats(&fa);
	body = page(&h, rootfd, "one.gmi", &rv);
	feed_get_stats(&fb);
	ok(body != NULL && strcmp(body, "=> /news/2024-02-01-two.gmi "
	    "2024-02-01 Two\n") == 0 && fb.scans == fa.scans &&
	    fb.reads == fa.reads, "page: only the posts shown are looked at");
	free(body);
	unlinkat(rootfd, "one.gmi", 0);

	warnings = 0;
	put(rootfd, "index.gmi", "# Home\n<!-- capsuled:latest 2 press -->\n"
	    "<!-- capsuled:latest 1 gone -->\n", 10);
	body = page(&h, rootfd, "index.gmi", &rv);
	ok(body != NULL && strcmp(body, "# Home\n") == 0,
	    "page: a bad marker and one of a missing directory are dropped");
	ok(warnings == 2 && strstr(last_warning, "index.gmi:3: marker: "
	    "directory 'gone' is missing") != NULL,
	    "page: each is logged with the page and line");
	free(body);
	free(page(&h, rootfd, "index.gmi", &rv));
	ok(warnings == 2, "page: once, not on every request");

	put(rootfd, "index.gmi", "# Home, no marker now\n", 5);
	body = page(&h, rootfd, "index.gmi", &rv);
	ok(body != NULL && strcmp(body, "# Home, no marker now\n") == 0,
	    "page: the marker removed, the page is as it is");
	free(body);

	unlinkat(news, "2024-01-01-one.gmi", 0);
	unlinkat(news, "2024-02-01-two.gmi", 0);
	close(news);
	unlinkat(rootfd, "news", AT_REMOVEDIR);
	unlinkat(rootfd, "letters", AT_REMOVEDIR);
	unlinkat(rootfd, "plain.gmi", 0);
	unlinkat(rootfd, "index.gmi", 0);
	close(rootfd);
	rmdir(tmpl);
}

int
main(void)
{
	test_parse();
	test_scan();
	test_render();
	test_splice();
	test_page();
	return tap_done();
}
