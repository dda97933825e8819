/*
 * latest.c: the "latest posts" block of a hand-written page.
 *
 * The first half is pure: marker lines parsed, posts sorted and
 * rendered, the page spliced.  The second half keeps two caches per
 * worker: which files have no marker (by stat identity: such a page is
 * then streamed as it is, never read again), and, for the few pages
 * with markers, their text, their markers and the page as last made,
 * good while the page's stat and the generation of each feed it lists
 * (feed.c's cache) are the same.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "feed.h"
#include "fs.h"
#include "latest.h"
#include "url.h"

#define BOM		"\xef\xbb\xbf"
#define MARK_OPEN	"<!--"
#define MARK_LATEST	"capsuled:latest"
#define MARK_CLOSE	"-->"
#define MAX_TOKENS	(3 + 32 + 1)

static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Blanks, and U+FEFF, which joined files leave at a line's start. */
static size_t
lead(const char *s, size_t n)
{
	size_t	i = 0;

	while (i < n && (is_blank(s[i]) || (n - i >= 3 &&
	    memcmp(s + i, BOM, 3) == 0)))
		i += is_blank(s[i]) ? 1 : 3;
	return i;
}

/* The line's tokens between runs of blanks; -1 when there are too many. */
static int
tokens(const char *s, size_t n, const char **tok, size_t *len, size_t *ntok)
{
	size_t	i = 0, k;

	*ntok = 0;
	for (;;) {
		while (i < n && is_blank(s[i]))
			i++;
		if (i == n)
			return 0;
		if (*ntok == MAX_TOKENS)
			return -1;
		for (k = i; k < n && !is_blank(s[k]); k++)
			;
		tok[*ntok] = s + i;
		len[(*ntok)++] = k - i;
		i = k;
	}
}

static int
tok_is(const char *tok, size_t len, const char *word)
{
	return len == strlen(word) && memcmp(tok, word, len) == 0;
}

/* A printable, short copy of a token for a message. */
static void
tok_show(const char *tok, size_t len, char *out, size_t outlen)
{
	size_t	i;

	if (len > 40)
		len = 40;
	for (i = 0; i < len && i + 1 < outlen; i++)
		out[i] = (unsigned char)tok[i] < 0x20 || tok[i] == 0x7f ||
		    (unsigned char)tok[i] >= 0x80 ? '?' : tok[i];
	out[i] = '\0';
}

/* m->why = "marker: " pre TOKEN post; -1 */
static int
bad(struct latest_mark *m, const char *pre, const char *tok, size_t len,
    const char *post)
{
	char	shown[48];

	tok_show(tok, len, shown, sizeof(shown));
	(void)snprintf(m->why, sizeof(m->why), "marker: %s%s%s", pre, shown,
	    post);
	m->n = 0;
	m->dirs = 0;
	return -1;
}

/* Which of dirs the token names ("news", "/news/"); -1 if none. */
static int
dir_index(const char *tok, size_t len, const char *const *dirs,
    size_t ndirs)
{
	size_t	i;

	while (len > 0 && tok[0] == '/')
		tok++, len--;
	while (len > 0 && tok[len - 1] == '/')
		len--;
	for (i = 0; i < ndirs && i < 32; i++)
		if (len > 0 && tok_is(tok, len, dirs[i]))
			return (int)i;
	return -1;
}

int
latest_parse(const char *s, size_t n, const char *const *dirs,
    size_t ndirs, struct latest_mark *m)
{
	const char	*tok[MAX_TOKENS];
	size_t		 len[MAX_TOKENS], ntok, i;
	int		 v = 0, d;

	if (!feed_is_marker(s, n))
		return 0;
	m->why[0] = '\0';
	i = lead(s, n);
	if (tokens(s + i, n - i, tok, len, &ntok) == -1)
		return bad(m, "more than 32 directories", "", 0, "");
	if (ntok < 2)	/* "<!--capsuled:..." is one token */
		return bad(m, "expected '<!-- capsuled:latest N DIR ... "
		    "-->', not '", ntok == 1 ? tok[0] : "", ntok == 1 ?
		    len[0] : 0, "'");
	if (!tok_is(tok[0], len[0], MARK_OPEN))
		return bad(m, "expected '<!-- capsuled:latest N DIR ... "
		    "-->', not '", tok[0], len[0], "'");
	if (!tok_is(tok[1], len[1], MARK_LATEST))
		return bad(m, "unknown marker '", tok[1], len[1],
		    "' (capsuled:latest is the only one)");
	if (!tok_is(tok[ntok - 1], len[ntok - 1], MARK_CLOSE))
		return bad(m, "does not end in ' -->' ('",
		    tok[ntok - 1], len[ntok - 1], "')");
	if (ntok < 4)
		return bad(m, "expected a number N of posts", "", 0, "");
	for (i = 0; i < len[2] && v <= LATEST_MAX; i++) {
		if (tok[2][i] < '0' || tok[2][i] > '9')
			break;
		v = v * 10 + (tok[2][i] - '0');
	}
	if (i != len[2] || v < 1 || v > LATEST_MAX)
		return bad(m, "N must be a number from 1 to 100, not '",
		    tok[2], len[2], "'");
	if (ntok < 5)
		return bad(m, "no directory after N", "", 0, "");
	m->dirs = 0;
	for (i = 3; i < ntok - 1; i++) {
		if ((d = dir_index(tok[i], len[i], dirs, ndirs)) == -1)
			return bad(m, "'", tok[i], len[i],
			    "' is not one of the host's feeds");
		m->dirs |= (uint32_t)1 << d;
	}
	m->n = v;
	return 1;
}

/* The next line at *pos: start and length, without its LF. */
static int
next_line(const char *text, size_t len, size_t *pos, const char **line,
    size_t *n, size_t *next)
{
	const char	*nl;

	if (*pos >= len)
		return 0;
	*line = text + *pos;
	nl = memchr(*line, '\n', len - *pos);
	*n = nl != NULL ? (size_t)(nl - *line) : len - *pos;
	*next = *pos + *n + (nl != NULL);
	return 1;
}

/* Where the text starts: after a byte order mark an editor left. */
static size_t
text_start(const char *text, size_t len)
{
	return len >= 3 && memcmp(text, BOM, 3) == 0 ? 3 : 0;
}

/* A marker line outside preformatted text; "```" lines toggle *pre. */
static int
marker_here(const char *s, size_t n, int *pre)
{
	if (n >= 3 && memcmp(s, "```", 3) == 0) {
		*pre = !*pre;
		return 0;
	}
	return !*pre && feed_is_marker(s, n);
}

size_t
latest_scan(const char *text, size_t len, const char *const *dirs,
    size_t ndirs, struct latest_mark *v, size_t max)
{
	const char	*s;
	size_t		 n, next, pos = text_start(text, len), count = 0;
	int		 pre = 0, line = 0;

	while (next_line(text, len, &pos, &s, &n, &next)) {
		line++;
		pos = next;
		if (!marker_here(s, n, &pre))
			continue;
		if (count < max) {
			(void)latest_parse(s, n, dirs, ndirs, &v[count]);
			v[count].line = line;
		}
		count++;
	}
	return count;
}

static int
item_cmp(const void *a, const void *b)
{
	const struct latest_item	*x = a, *y = b;
	int				 r;

	/* names start with their date: newest first is the greater name */
	if ((r = strcmp(y->e->name, x->e->name)) != 0)
		return r;
	return strcmp(y->dir, x->dir);
}

void
latest_sort(struct latest_item *v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof(*v), item_cmp);
}

int
latest_render(struct buf *b, const struct latest_item *v, size_t n)
{
	char	path[2 * NAME_MAX + 256], enc[sizeof(path) * 3];
	size_t	i;
	int	k;

	for (i = 0; i < n; i++) {
		k = snprintf(path, sizeof(path), "/%s/%s", v[i].dir,
		    v[i].e->name);
		if (k < 0 || (size_t)k >= sizeof(path) ||
		    url_encode_path(path, enc, sizeof(enc)) == -1)
			continue;
		buf_puts(b, "=> ");
		buf_puts(b, enc);
		buf_puts(b, " ");
		buf_puts(b, v[i].e->date);
		buf_puts(b, " ");
		feed_put_label(b, v[i].e);
		buf_puts(b, "\n");
	}
	return b->failed ? -1 : 0;
}

int
latest_splice(struct buf *out, const char *text, size_t len,
    const struct buf *blocks, size_t nblocks)
{
	const char	*s;
	size_t		 n, next, pos = text_start(text, len), k = 0;
	int		 pre = 0;

	buf_append(out, text, pos);
	while (next_line(text, len, &pos, &s, &n, &next)) {
		if (!marker_here(s, n, &pre)) {
			/*
			 * A line that starts with U+FEFF never becomes the
			 * page's first (the markers before it gone): a reader
			 * takes a leading one for the byte order mark, and a
			 * "```" after it would then open preformatted text.
			 */
			if (out->len == 0 && pos > 0 && n >= 3 &&
			    memcmp(s, BOM, 3) == 0)
				buf_append(out, "\n", 1);
			buf_append(out, s, next - pos);
		} else if (k++ < nblocks && blocks[k - 1].len > 0)
			buf_append(out, blocks[k - 1].data, blocks[k - 1].len);
		pos = next;
	}
	return out->failed ? -1 : 0;
}

/*
 * The caches.  "Plain": a direct-mapped table of files known to have no
 * marker line, by stat identity; a collision only costs a read.
 * "Pages": the few pages with marker lines, least recently used out.
 */
#define PLAIN_SLOTS	1024
#define PAGE_SLOTS	8

struct page {
	char			 host[URL_HOST_MAX + 1];
	struct fs_id		 id;
	unsigned long		 used;		/* for eviction */
	char			*text;
	size_t			 len;
	struct latest_mark	 marks[LATEST_MARKS];
	size_t			 nmarks;	/* marker lines in all */
	uint32_t		 want;		/* feeds any marker lists */
	int			 built;		/* body is good for gens */
	size_t			 need[CONFIG_MAX_FEEDS];	/* posts shown */
	unsigned long		 gens[CONFIG_MAX_FEEDS];
	const struct rule_cfg	*rule;		/* the access rule built for */
	struct buf		 body;		/* as last made */
};

static struct fs_id		 plain[PLAIN_SLOTS];
static struct page		 pages[PAGE_SLOTS];
static unsigned long		 clock_used;
static struct latest_stats	 stats;

void
latest_get_stats(struct latest_stats *s)
{
	*s = stats;
}

static struct fs_id *
plain_slot(const struct stat *st)
{
	uint64_t	h = (uint64_t)st->st_ino * 0x9e3779b97f4a7c15ULL ^
			    (uint64_t)st->st_dev;

	return &plain[(h >> 20) % PLAIN_SLOTS];
}

static void
buf_reset(struct buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* The slot of this file of this host, or NULL. */
static struct page *
page_find(const struct host_cfg *h, const struct stat *st)
{
	struct page	*p;

	for (p = pages; p < pages + PAGE_SLOTS; p++)
		if (p->text != NULL && p->id.dev == st->st_dev &&
		    p->id.ino == st->st_ino && strcmp(p->host, h->name) == 0)
			return p;
	return NULL;
}

static void
page_free(struct page *p)
{
	free(p->text);
	buf_reset(&p->body);
	memset(p, 0, sizeof(*p));
}

/* An empty slot: the least recently used one is given up. */
static struct page *
page_new(void)
{
	struct page	*p, *old = &pages[0];

	for (p = pages; p < pages + PAGE_SLOTS; p++)
		if (p->used < old->used)
			old = p;
	page_free(old);
	return old;
}

/* The file from its start, up to LATEST_PAGE_MAX + 1 bytes. */
static char *
read_page(int fd, size_t *len)
{
	char	*buf, *small;
	ssize_t	 r;

	if ((buf = malloc(LATEST_PAGE_MAX + 1)) == NULL)
		return NULL;
	*len = 0;
	while (*len <= LATEST_PAGE_MAX && (r = pread(fd, buf + *len,
	    LATEST_PAGE_MAX + 1 - *len, (off_t)*len)) != 0) {
		if (r == -1) {
			if (errno == EINTR)
				continue;
			free(buf);
			return NULL;
		}
		*len += (size_t)r;
	}
	stats.reads++;
	if (*len <= LATEST_PAGE_MAX && (small = realloc(buf, *len + 1)) != NULL)
		buf = small;	/* kept or served: no more than it needs */
	return buf;
}

static void
warn_marks(const struct page *p, const char *path, latest_warn_fn warn,
    void *arg)
{
	char	msg[PATH_MAX + LATEST_WHY_MAX + 32];
	size_t	i;

	for (i = 0; i < p->nmarks && i < LATEST_MARKS; i++)
		if (p->marks[i].n == 0) {
			(void)snprintf(msg, sizeof(msg), "%s:%d: %s", path,
			    p->marks[i].line, p->marks[i].why);
			warn(arg, msg);
		}
	if (p->nmarks > LATEST_MARKS) {
		(void)snprintf(msg, sizeof(msg), "%s: more than %d markers: "
		    "the rest are dropped", path, LATEST_MARKS);
		warn(arg, msg);
	}
}

/* Take the page's new text (buf, len: now p's); a new one is parsed. */
static void
page_take(struct page *p, const struct host_cfg *h, char *buf, size_t len,
    const char *path, latest_warn_fn warn, void *arg)
{
	const char	*dirs[CONFIG_MAX_FEEDS];
	size_t		 i, k;

	if (p->text != NULL && p->len == len &&
	    memcmp(p->text, buf, len) == 0) {
		free(buf);	/* the same words (a racy stat): as before */
		return;
	}
	free(p->text);
	buf_reset(&p->body);
	p->built = 0;
	(void)snprintf(p->host, sizeof(p->host), "%s", h->name);
	p->text = buf;
	p->len = len;
	for (i = 0; i < h->nfeeds && i < CONFIG_MAX_FEEDS; i++)
		dirs[i] = h->feeds[i].dir;
	p->nmarks = latest_scan(buf, len, dirs, i, p->marks, LATEST_MARKS);
	p->want = 0;
	memset(p->need, 0, sizeof(p->need));
	for (i = 0; i < p->nmarks && i < LATEST_MARKS; i++) {
		p->want |= p->marks[i].dirs;
		for (k = 0; k < CONFIG_MAX_FEEDS; k++)
			if ((p->marks[i].dirs & ((uint32_t)1 << k)) &&
			    p->need[k] < (size_t)p->marks[i].n)
				p->need[k] = (size_t)p->marks[i].n;
	}
	warn_marks(p, path, warn, arg);
}

/*
 * The entries of feed i of h (the newest `need` current), and its
 * generation (0: missing).
 */
static int
feed_now(const struct host_cfg *h, int rootfd, size_t i, size_t need,
    const struct feed_entry **v, size_t *n, unsigned long *gen)
{
	struct stat	st;
	int		dirfd, r;

	*v = NULL;
	*n = 0;
	*gen = 0;
	if ((dirfd = fs_open(rootfd, h->feeds[i].dir, &st)) == -1)
		return fs_missing(errno) ? 0 : -1;
	r = S_ISDIR(st.st_mode) ? feed_entries(h, &h->feeds[i], dirfd, &st,
	    need, v, n, gen) : 0;
	close(dirfd);
	return r;
}

/*
 * Feed i is shown on a page if it is public or under the page's own
 * access rule: a public page never lists a members' section (feed.c
 * leaves out of a section the posts under another rule than its own).
 */
static int
feed_shown(const struct host_cfg *h, size_t i, const struct rule_cfg *rule)
{
	const struct rule_cfg	*r;
	char			 dir[sizeof(h->feeds[i].dir) + 2];

	if (h->naccess == 0)
		return 1;
	if (snprintf(dir, sizeof(dir), "/%s/", h->feeds[i].dir) >=
	    (int)sizeof(dir))
		return 0;
	r = config_access_rule(h, dir);
	return r == NULL || r == rule;
}

/* One marker's block: the newest m->n posts of its feeds. */
static int
make_block(struct buf *b, const struct latest_mark *m,
    const struct host_cfg *h, const struct rule_cfg *rule,
    const struct feed_entry *const *ev, const size_t *en)
{
	struct latest_item	*items;
	size_t			 i, k, n = 0, cap = 0;
	uint32_t		 dirs = 0;
	int			 r;

	for (i = 0; i < h->nfeeds; i++)
		if ((m->dirs & ((uint32_t)1 << i)) && feed_shown(h, i, rule)) {
			dirs |= (uint32_t)1 << i;
			cap += en[i] < (size_t)m->n ? en[i] : (size_t)m->n;
		}
	if (cap == 0)
		return 0;
	if ((items = calloc(cap, sizeof(*items))) == NULL)
		return -1;
	for (i = 0; i < h->nfeeds; i++)
		for (k = 0; (dirs & ((uint32_t)1 << i)) && k < en[i] &&
		    k < (size_t)m->n; k++) {
			items[n].dir = h->feeds[i].dir;
			items[n++].e = &ev[i][k];
		}
	latest_sort(items, n);
	r = latest_render(b, items, n < (size_t)m->n ? n : (size_t)m->n);
	free(items);
	return r;
}

/* The page with its blocks, from the feeds as they are (ev, en). */
static int
page_build(struct page *p, const struct host_cfg *h, const char *path,
    const struct feed_entry *const *ev, const size_t *en,
    const unsigned long *gens, latest_warn_fn warn, void *arg)
{
	struct buf	blocks[LATEST_MARKS];
	char		msg[PATH_MAX + 300];
	size_t		i, k, nb = p->nmarks < LATEST_MARKS ? p->nmarks :
			    LATEST_MARKS;
	int		r = 0, missing;

	memset(blocks, 0, sizeof(blocks));
	for (k = 0; k < nb && r == 0; k++) {
		missing = 0;
		for (i = 0; i < h->nfeeds; i++)
			if ((p->marks[k].dirs & ((uint32_t)1 << i)) &&
			    gens[i] == 0) {
				/* once: only a change of gens builds again */
				(void)snprintf(msg, sizeof(msg), "%s:%d: marker: "
				    "directory '%s' is missing", path,
				    p->marks[k].line, h->feeds[i].dir);
				warn(arg, msg);
				missing = 1;
			}
		/* a marker with a directory gone is dropped, as a bad one */
		if (p->marks[k].n > 0 && !missing)
			r = make_block(&blocks[k], &p->marks[k], h, p->rule,
			    ev, en);
	}
	buf_reset(&p->body);
	p->built = 0;
	if (r == 0)
		r = latest_splice(&p->body, p->text, p->len, blocks, nb);
	for (k = 0; k < nb; k++)
		free(blocks[k].data);
	if (r == -1) {
		buf_reset(&p->body);
		errno = ENOMEM;
		return -1;
	}
	memcpy(p->gens, gens, sizeof(p->gens));
	p->built = 1;
	stats.builds++;
	return 0;
}

/* Bring p's body up to date with the feeds it lists. */
static int
page_current(struct page *p, const struct host_cfg *h, int rootfd,
    const char *path, latest_warn_fn warn, void *arg)
{
	const struct feed_entry	*ev[CONFIG_MAX_FEEDS];
	unsigned long		 gens[CONFIG_MAX_FEEDS];
	size_t			 en[CONFIG_MAX_FEEDS], i;
	const struct rule_cfg	*rule = config_access_rule(h, path);
	int			 same = p->built && p->rule == rule;

	/* a file reached by two paths (a link) is built for each one's rule */
	p->rule = rule;
	memset(gens, 0, sizeof(gens));
	for (i = 0; i < h->nfeeds && i < CONFIG_MAX_FEEDS; i++) {
		ev[i] = NULL;
		en[i] = 0;
		if ((p->want & ((uint32_t)1 << i)) && feed_now(h, rootfd, i,
		    p->need[i], &ev[i], &en[i], &gens[i]) == -1)
			return -1;
		same &= gens[i] == p->gens[i];
	}
	if (same)
		return 0;
	return page_build(p, h, path, ev, en, gens, warn, arg);
}

int
latest_page(const struct host_cfg *h, int rootfd, const char *path,
    int fd, const struct stat *st, char **out, size_t *outlen,
    latest_warn_fn warn, void *arg)
{
	struct fs_id	*pl = plain_slot(st);
	struct page	*p;
	char		*buf;
	size_t		 len;
	time_t		 now = time(NULL);

	if (st->st_size > LATEST_PAGE_MAX ||
	    (!pl->racy && fs_id_same(pl, st)))
		return 0;
	p = page_find(h, st);
	if (p == NULL || p->id.racy || !fs_id_same(&p->id, st)) {
		if ((buf = read_page(fd, &len)) == NULL)
			return -1;
		if (len > LATEST_PAGE_MAX) {	/* it grew: as it is */
			free(buf);
			return 0;
		}
		if (latest_scan(buf, len, NULL, 0, NULL, 0) == 0) {
			fs_id_set(pl, st, now);
			if (p != NULL)		/* its markers are gone */
				page_free(p);
			*out = buf;	/* read already: serve these bytes */
			*outlen = len;
			return 1;
		}
		if (p == NULL)
			p = page_new();
		page_take(p, h, buf, len, path, warn, arg);
		fs_id_set(&p->id, st, now);
	}
	p->used = ++clock_used;
	if (page_current(p, h, rootfd, path, warn, arg) == -1)
		return -1;
	if ((*out = malloc(p->body.len + 1)) == NULL)
		return -1;
	if (p->body.len > 0)
		memcpy(*out, p->body.data, p->body.len);
	*outlen = p->body.len;
	return 1;
}
