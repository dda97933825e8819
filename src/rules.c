/*
 * rules.c: a host's redirect, gone, lang and mime rules (see rules.h).
 *
 * The path tables are sorted once (rules_seal), so a lookup is a
 * binary search for each candidate the request's path offers, longest
 * first: the path itself, its name with a slash added (a prefix rule
 * covers its directory's name), then each of its prefixes that ends in
 * '/'.  A request pays for its own depth, not for the number of rules.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules.h"
#include "url.h"

#define TSPECIALS	"()<>@,;:\\\"/[]?="	/* RFC 2045 5.1 */
#define WALK_MAX	(RULES_CHAIN_MAX + 1)

/* A chain of redirects followed from one rule's FROM. */
struct walk {
	const struct rules	*t[WALK_MAX];	/* whose rules apply there */
	const struct rules_path	*via[WALK_MAX];	/* the rule that led there */
	char			 path[WALK_MAX][URL_MAX + 1];
	size_t			 n;
};

/* The message for a refusal, into why; returns -1. */
static int __attribute__((format(printf, 3, 4)))
say(char *why, size_t whylen, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	(void)vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Up to max blank-separated words of s: their starts and lengths. */
static size_t
words(const char *s, const char **w, size_t *wn, size_t max)
{
	size_t	n = 0, len;

	for (;;) {
		s += strspn(s, " \t");
		if (*s == '\0')
			return n;
		len = strcspn(s, " \t");
		if (n == max)
			return max + 1;		/* one too many */
		w[n] = s;
		wn[n++] = len;
		s += len;
	}
}

static int
is_prefix(const char *path)
{
	return path[0] != '\0' && path[strlen(path) - 1] == '/';
}

int
rules_path_parse(const char *s, size_t n, char out[RULES_PATH_MAX],
    const char **msg)
{
	size_t		i, o = 0;
	int		hi, lo;
	unsigned char	c;

	if (n == 0 || s[0] != '/')
		return *msg = "is not a path (it starts with /)", -1;
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c <= 0x20 || c == 0x7f || c == '?' || c == '#')
			return *msg = "holds a space, a control, ? or #", -1;
		if (c == '%') {
			if (n - i < 3 || (hi = url_hexval(s[i + 1])) == -1 ||
			    (lo = url_hexval(s[i + 2])) == -1)
				return *msg = "has a bad percent escape", -1;
			c = (unsigned char)(hi << 4 | lo);
			if (c < 0x20 || c == 0x7f || c == '/')
				return *msg = "escapes a / or a control", -1;
			i += 2;
		}
		if (o + 1 >= RULES_PATH_MAX)
			return *msg = "is too long", -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	if (!url_utf8_valid(out, o))
		return *msg = "is not UTF-8", -1;
	for (i = 0; i < o; i++)
		if (out[i] == '/' && (out[i + 1] == '/' || out[i + 1] == '.'))
			return *msg = "has an empty segment, a dot segment or "
			    "a dotfile", -1;
	return 0;
}

/* A redirect's TO: a path on this host, or an absolute gemini URL. */
static int
parse_to(struct rules_path *p, const char *s, size_t n, const char **msg)
{
	struct url	 u;
	int		 status;

	if (s[0] == '/')
		return rules_path_parse(s, n, p->to, msg);
	if (url_parse(s, n, &u, &status, msg) == -1)
		return *msg = "is neither a path (/...) nor a valid URL", -1;
	if (strcmp(u.scheme, "gemini") != 0)
		return *msg = "is a URL of another scheme than gemini", -1;
	if (u.has_query)
		return *msg = "has a query (the request's own is carried "
		    "over)", -1;
	if (strlen(u.path) >= sizeof(p->to))
		return *msg = "is too long", -1;
	memcpy(p->host, u.host, strlen(u.host) + 1);
	memcpy(p->to, u.path, strlen(u.path) + 1);
	p->port = u.port;
	p->port_given = u.port_given;
	return 0;
}

/*
 * One more entry for a table of n (each size bytes), its room doubled
 * at 8, 16, 32...: the new entry, or NULL when memory ran out.
 */
static void *
grow(void *tablep, size_t *n, size_t size)
{
	void	**table = tablep;
	void	 *t;
	size_t	  cap;

	if (*n == 0 || (*n >= 8 && (*n & (*n - 1)) == 0)) {
		cap = *n == 0 ? 8 : *n * 2;
		if ((t = realloc(*table, cap * size)) == NULL)
			return NULL;
		*table = t;
	}
	t = (char *)*table + (*n)++ * size;
	memset(t, 0, size);
	return t;
}

int
rules_add_redirect(struct rules *rs, const char *value, int line, char *why,
    size_t whylen)
{
	struct rules_path	 p, *e;
	const char		*w[3], *msg;
	size_t			 wn[3], nw;

	nw = words(value, w, wn, 3);
	if (nw < 2 || nw > 3 || (nw == 3 && (wn[2] != strlen("permanent") ||
	    strncmp(w[2], "permanent", wn[2]) != 0)))
		return say(why, whylen, "redirect: expected FROM TO "
		    "[permanent], not \"%s\"", value);
	memset(&p, 0, sizeof(p));
	if (rules_path_parse(w[0], wn[0], p.from, &msg) == -1)
		return say(why, whylen, "redirect: FROM \"%.*s\" %s",
		    (int)wn[0], w[0], msg);
	if (parse_to(&p, w[1], wn[1], &msg) == -1)
		return say(why, whylen, "redirect: TO \"%.*s\" %s",
		    (int)wn[1], w[1], msg);
	p.kind = RULES_REDIRECT;
	p.status = nw == 3 ? 31 : 30;
	p.carry = is_prefix(p.from) && is_prefix(p.to);
	p.line = line;
	if ((e = grow(&rs->paths, &rs->npaths, sizeof(*e))) == NULL)
		return say(why, whylen, "redirect: out of memory");
	*e = p;
	return 0;
}

int
rules_add_gone(struct rules *rs, const char *value, int line, char *why,
    size_t whylen)
{
	struct rules_path	*e;
	char			 from[RULES_PATH_MAX];
	const char		*w[1], *msg;
	size_t			 wn[1];

	if (words(value, w, wn, 1) != 1)
		return say(why, whylen, "gone: expected one PATH, not \"%s\"",
		    value);
	if (rules_path_parse(w[0], wn[0], from, &msg) == -1)
		return say(why, whylen, "gone: PATH \"%s\" %s", value, msg);
	if ((e = grow(&rs->paths, &rs->npaths, sizeof(*e))) == NULL)
		return say(why, whylen, "gone: out of memory");
	memcpy(e->from, from, sizeof(from));
	e->kind = RULES_GONE;
	e->status = 52;
	e->line = line;
	return 0;
}

/* One tag: subtags of 1 to 8 letters or digits joined by '-'. */
static int
lang_tag(const char *s, size_t n)
{
	size_t	i, len = 0, k = 0;
	int	alpha = 1;

	for (i = 0; i <= n; i++) {
		if (i < n && s[i] != '-') {
			if (!isalnum((unsigned char)s[i]))
				return 0;
			alpha &= isalpha((unsigned char)s[i]) != 0;
			len++;
			continue;
		}
		/* the language: 2 to 8 letters, or x- (private) or i- */
		if (len == 0 || len > 8 || (k == 0 && (!alpha || (len == 1 &&
		    (i == n || strchr("xXiI", s[0]) == NULL)))))
			return 0;
		k++;
		len = 0;
	}
	return 1;
}

int
rules_lang_ok(const char *s)
{
	size_t	n;

	if (*s == '\0' || strlen(s) >= RULES_LANG_MAX)
		return 0;
	for (;;) {
		n = strcspn(s, ",");
		if (!lang_tag(s, n))
			return 0;
		if (s[n] == '\0')
			return 1;
		s += n + 1;
	}
}

int
rules_add_lang(struct rules *rs, const char *value, int line, char *why,
    size_t whylen)
{
	struct rules_lang	*e;
	char			 from[RULES_PATH_MAX], tags[RULES_LANG_MAX];
	const char		*w[2], *msg;
	size_t			 wn[2];

	if (words(value, w, wn, 2) != 2)
		return say(why, whylen, "lang: expected PATH TAG[,TAG...] "
		    "or one TAG[,TAG...], not \"%s\"", value);
	if (rules_path_parse(w[0], wn[0], from, &msg) == -1)
		return say(why, whylen, "lang: PATH \"%.*s\" %s", (int)wn[0],
		    w[0], msg);
	if (wn[1] >= sizeof(tags))
		return say(why, whylen, "lang: tags too long");
	memcpy(tags, w[1], wn[1]);
	tags[wn[1]] = '\0';
	if (!rules_lang_ok(tags))
		return say(why, whylen, "lang: \"%s\" is not a BCP 47 tag or "
		    "a comma-separated list of them", tags);
	if ((e = grow(&rs->langs, &rs->nlangs, sizeof(*e))) == NULL)
		return say(why, whylen, "lang: out of memory");
	memcpy(e->from, from, sizeof(from));
	memcpy(e->lang, tags, sizeof(tags));
	e->line = line;
	return 0;
}

/* RFC 2045 5.1 token: printable ASCII, no space and no tspecial. */
static size_t
token(const char *s)
{
	size_t	n = 0;

	while ((unsigned char)s[n] > 0x20 && (unsigned char)s[n] < 0x7f &&
	    strchr(TSPECIALS, s[n]) == NULL)
		n++;
	return n;
}

/* A quoted-string: printable ASCII, '\' escaping the next; its length. */
static size_t
quoted(const char *s)
{
	size_t	n = 1;

	if (s[0] != '"')
		return 0;
	for (; s[n] != '"'; n++) {
		if (s[n] == '\\')
			n++;
		if ((unsigned char)s[n] < 0x20 || (unsigned char)s[n] >= 0x7f)
			return 0;
	}
	return n + 1;
}

/* type/subtype, then any "; name=value" (RFC 2045 5.1). */
static int
mime_type_ok(const char *s)
{
	size_t	n;

	if ((n = token(s)) == 0 || s[n] != '/' || (n = token(s += n + 1)) == 0)
		return 0;
	for (s += n;;) {
		s += strspn(s, " \t");
		if (*s == '\0')
			return 1;
		if (*s++ != ';')
			return 0;
		s += strspn(s, " \t");
		if ((n = token(s)) == 0 || s[n] != '=')
			return 0;
		s += n + 1;
		if ((n = token(s)) == 0 && (n = quoted(s)) == 0)
			return 0;
		s += n;
	}
}

/* ".epub", ".tar.gz": a dot, then letters, digits and "._+-". */
static int
mime_ext_ok(const char *s, size_t n)
{
	size_t	i;

	if (n < 2 || n >= RULES_EXT_MAX || s[0] != '.' || s[n - 1] == '.')
		return 0;
	for (i = 1; i < n; i++)
		if ((!isalnum((unsigned char)s[i]) &&
		    strchr("._+-", s[i]) == NULL) ||
		    (s[i] == '.' && s[i - 1] == '.'))
			return 0;
	return 1;
}

int
rules_add_mime(struct rules *rs, const char *value, int line, char *why,
    size_t whylen)
{
	struct rules_mime	*e;
	const char		*type;
	size_t			 n = strcspn(value, " \t");

	type = value + n + strspn(value + n, " \t");
	if (!mime_ext_ok(value, n) || *type == '\0')
		return say(why, whylen, "mime: expected .EXT TYPE (.epub "
		    "application/epub+zip), not \"%s\"", value);
	if (strlen(type) >= RULES_TYPE_MAX || !mime_type_ok(type))
		return say(why, whylen, "mime: \"%s\" is not a type/subtype "
		    "with optional ; name=value parameters", type);
	if ((e = grow(&rs->mimes, &rs->nmimes, sizeof(*e))) == NULL)
		return say(why, whylen, "mime: out of memory");
	memcpy(e->ext, value, n);
	e->ext[n] = '\0';
	memcpy(e->type, type, strlen(type) + 1);
	e->line = line;
	return 0;
}

/* Entries start with their path: one comparison for sort and search. */
static int
by_path(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int
by_ext(const void *a, const void *b)
{
	return strcasecmp(((const struct rules_mime *)a)->ext,
	    ((const struct rules_mime *)b)->ext);
}

static const char *
kind_name(int kind)
{
	return kind == RULES_GONE ? "gone" : "redirect";
}

/* The later of two rules for one path is the error. */
static int
repeat(const char *key, const char *what, int a, int b, const char *okey,
    int *line, char *why, size_t whylen)
{
	*line = a > b ? a : b;
	return say(why, whylen, "%s: %s has a %s rule already (line %d)", key,
	    what, okey, a > b ? b : a);
}

int
rules_seal(struct rules *rs, int *line, char *why, size_t whylen)
{
	const struct rules_path	*p, *q;
	size_t			 i;

	/* qsort may not be given a NULL table, even of no entries */
	if (rs->npaths > 1)
		qsort(rs->paths, rs->npaths, sizeof(*rs->paths), by_path);
	if (rs->nlangs > 1)
		qsort(rs->langs, rs->nlangs, sizeof(*rs->langs), by_path);
	if (rs->nmimes > 1)
		qsort(rs->mimes, rs->nmimes, sizeof(*rs->mimes), by_ext);
	for (i = 1; i < rs->npaths; i++) {
		p = &rs->paths[i - 1];
		q = &rs->paths[i];
		if (strcmp(p->from, q->from) == 0)
			return repeat(kind_name((p->line > q->line ? p : q)->kind),
			    p->from, p->line, q->line,
			    kind_name((p->line > q->line ? q : p)->kind), line,
			    why, whylen);
	}
	for (i = 1; i < rs->nlangs; i++)
		if (strcmp(rs->langs[i - 1].from, rs->langs[i].from) == 0)
			return repeat("lang", rs->langs[i].from,
			    rs->langs[i - 1].line, rs->langs[i].line, "lang",
			    line, why, whylen);
	for (i = 1; i < rs->nmimes; i++)
		if (by_ext(&rs->mimes[i - 1], &rs->mimes[i]) == 0)
			return repeat("mime", rs->mimes[i].ext,
			    rs->mimes[i - 1].line, rs->mimes[i].line, "mime",
			    line, why, whylen);
	return 0;
}

/* The entry whose path is the first n bytes of s (plus '/' if slash). */
static const void *
find(const void *base, size_t nel, size_t size, const char *s, size_t n,
    int slash)
{
	char	key[RULES_PATH_MAX];

	if (n + (slash ? 1 : 0) >= sizeof(key))
		return NULL;		/* longer than any rule's */
	memcpy(key, s, n);
	if (slash)
		key[n++] = '/';
	key[n] = '\0';
	return bsearch(key, base, nel, size, by_path);
}

/* The entry of a sealed table that matches path longest (rules.h). */
static const void *
longest(const void *base, size_t nel, size_t size, const char *path,
    const char **rest)
{
	const void	*e;
	size_t		 len = strlen(path), i;

	if (nel == 0 || len == 0)
		return NULL;
	*rest = path + len;
	if ((e = find(base, nel, size, path, len, 0)) != NULL)
		return e;
	if (len > 0 && path[len - 1] != '/' &&
	    (e = find(base, nel, size, path, len, 1)) != NULL)
		return e;
	for (i = len - 1; i > 0; i--)
		if (path[i - 1] == '/' &&
		    (e = find(base, nel, size, path, i, 0)) != NULL) {
			*rest = path + i;
			return e;
		}
	return NULL;
}

const struct rules_path *
rules_match(const struct rules *rs, const char *path, const char **rest)
{
	return longest(rs->paths, rs->npaths, sizeof(*rs->paths), path, rest);
}

/* Append what fits of s at out[*o] (len bytes); -1 if it did not fit. */
static int
put(char *out, size_t len, size_t *o, const char *s)
{
	int	n = snprintf(out + *o, len - *o, "%s", s);

	if (n < 0 || (size_t)n >= len - *o) {
		*o = len - 1;
		return -1;
	}
	*o += (size_t)n;
	return 0;
}

/* Append path percent-encoded; -1 if it did not fit. */
static int
put_path(char *out, size_t len, size_t *o, const char *path)
{
	int	n = url_encode_path(path, out + *o, len - *o);

	if (n < 0)
		return -1;
	*o += (size_t)n;
	return 0;
}

/* Where p sends a request whose path p's FROM left rest of. */
static int
target(const struct rules_path *p, const char *rest, const char *query,
    char *out, size_t len)
{
	char	port[16];
	int	v6 = strchr(p->host, ':') != NULL;
	size_t	o = 0;

	if (len == 0)
		return -1;
	out[0] = '\0';
	(void)snprintf(port, sizeof(port), ":%d", p->port);
	if (p->host[0] != '\0' && (put(out, len, &o, "gemini://") == -1 ||
	    put(out, len, &o, v6 ? "[" : "") == -1 ||
	    put(out, len, &o, p->host) == -1 ||
	    put(out, len, &o, v6 ? "]" : "") == -1 ||
	    put(out, len, &o, p->port_given ? port : "") == -1))
		return -1;
	if (put_path(out, len, &o, p->to) == -1 ||
	    put_path(out, len, &o, p->carry ? rest : "") == -1)
		return -1;
	if (query != NULL && (put(out, len, &o, "?") == -1 ||
	    put(out, len, &o, query) == -1))
		return -1;
	return 0;
}

static void
set(char *out, size_t len, const char *s)
{
	if (len > 0)
		(void)snprintf(out, len, "%s", s);
}

int
rules_answer(const struct rules *rs, const char *path, const char *query,
    char *meta, size_t len)
{
	const struct rules_path	*p;
	const char		*rest;

	if ((p = rules_match(rs, path, &rest)) == NULL)
		return 0;
	if (p->kind == RULES_GONE) {
		set(meta, len, "Gone: removed for good");
		return 52;
	}
	if (target(p, rest, query, meta, len) == -1) {
		set(meta, len, "Cannot redirect: the new address would be "
		    "too long");
		return 50;
	}
	return p->status;
}

int
rules_titan(const struct rules *rs, const char *path, char *meta,
    size_t len)
{
	const struct rules_path	*p;
	const char		*rest;
	char			 to[URL_MAX + 1];

	if ((p = rules_match(rs, path, &rest)) == NULL)
		return 0;
	if (p->kind == RULES_GONE)
		set(meta, len, "No uploads to a path that is gone (52)");
	else if (target(p, rest, NULL, to, sizeof(to)) == -1 ||
	    snprintf(meta, len, "No uploads to a redirected path: it moved "
	    "to %s", to) >= (int)len)
		set(meta, len, "No uploads to a redirected path");
	return 50;
}

int
rules_gone(const struct rules *rs, const char *path)
{
	const struct rules_path	*p;
	const char		*rest;

	return (p = rules_match(rs, path, &rest)) != NULL &&
	    p->kind == RULES_GONE;
}

const char *
rules_lang(const struct rules *rs, const char *path, const char *dflt)
{
	const struct rules_lang	*l;
	const char		*rest;

	l = longest(rs->langs, rs->nlangs, sizeof(*rs->langs), path, &rest);
	return l != NULL ? l->lang : dflt;
}

const char *
rules_mime(const struct rules *rs, const char *name)
{
	const char	*base = strrchr(name, '/'), *best = NULL;
	size_t		 i, n, elen, blen = 0;

	base = base != NULL ? base + 1 : name;
	n = strlen(base);
	for (i = 0; i < rs->nmimes; i++) {
		elen = strlen(rs->mimes[i].ext);
		if (n > elen && elen > blen &&
		    strcasecmp(base + n - elen, rs->mimes[i].ext) == 0) {
			best = rs->mimes[i].type;
			blen = elen;
		}
	}
	return best;
}

/* "/a -> /b -> gemini://host/c" into why, after its head. */
static void
chain_text(const struct walk *w, const char *head, const char *tail,
    char *why, size_t whylen)
{
	const struct rules_path	*v;
	size_t			 o = 0, i;
	char			 port[16];

	if (whylen == 0)
		return;
	why[0] = '\0';
	(void)put(why, whylen, &o, head);
	for (i = 0; i < w->n; i++) {
		v = w->via[i];
		if (i > 0)
			(void)put(why, whylen, &o, " -> ");
		if (v != NULL && v->host[0] != '\0') {
			(void)snprintf(port, sizeof(port), ":%d", v->port);
			(void)put(why, whylen, &o, "gemini://");
			(void)put(why, whylen, &o, v->host);
			(void)put(why, whylen, &o, v->port_given ? port : "");
		}
		(void)put(why, whylen, &o, w->path[i]);
	}
	(void)put(why, whylen, &o, tail);
}

/* 1 if (t, path) is a stop the chain made before its last. */
static int
seen(const struct walk *w, const struct rules *t, const char *path)
{
	size_t	i;

	for (i = 0; i + 1 < w->n; i++)
		if (w->t[i] == t && strcmp(w->path[i], path) == 0)
			return 1;
	return 0;
}

/* Follow the redirects from start's FROM: 0, or -1 with why. */
static int
walk(struct walk *w, const struct rules *rs, const struct rules_path *start,
    rules_host_fn ours, void *arg, char *why, size_t whylen)
{
	const struct rules_path	*m;
	const struct rules	*t;
	const char		*rest;
	size_t			 hops, i;
	int			 n;

	w->t[0] = rs;
	w->via[0] = NULL;
	memcpy(w->path[0], start->from, strlen(start->from) + 1);
	w->n = 1;
	for (hops = 0;; hops++) {
		i = w->n - 1;
		m = rules_match(w->t[i], w->path[i], &rest);
		if (m == NULL || m->kind == RULES_GONE)
			return 0;
		if (hops == RULES_CHAIN_MAX) {
			chain_text(w, "redirect: more than 5 redirects in a "
			    "row (clients follow at most 5): ", " -> ...", why,
			    whylen);
			return -1;
		}
		t = m->host[0] == '\0' ? w->t[i] : ours == NULL ? NULL :
		    ours(m->host, m->port, arg);
		if (t == NULL)
			return 0;	/* another server's: not ours to say */
		n = snprintf(w->path[w->n], sizeof(w->path[0]), "%s%s", m->to,
		    m->carry ? rest : "");
		w->t[w->n] = t;
		w->via[w->n++] = m;
		if (n < 0 || (size_t)n >= sizeof(w->path[0])) {
			chain_text(w, "redirect: the path grows past 1024 "
			    "bytes: ", "", why, whylen);
			return -1;
		}
		if (seen(w, t, w->path[w->n - 1])) {
			chain_text(w, "redirect: loop: ", "", why, whylen);
			return -1;
		}
	}
}

int
rules_check_loops(const struct rules *rs, rules_host_fn ours, void *arg,
    int *line, char *why, size_t whylen)
{
	struct walk	*w;
	char		 msg[RULES_WHY_MAX];
	size_t		 i;
	int		 found = 0;

	*line = 0;
	if (rs->npaths == 0)
		return 0;
	if ((w = malloc(sizeof(*w))) == NULL)
		return say(why, whylen, "redirect: out of memory");
	/* the rule written first that starts a bad chain: file order */
	for (i = 0; i < rs->npaths; i++)
		if (rs->paths[i].kind == RULES_REDIRECT &&
		    (!found || rs->paths[i].line < *line) &&
		    walk(w, rs, &rs->paths[i], ours, arg, msg,
		    sizeof(msg)) == -1) {
			found = 1;
			*line = rs->paths[i].line;
			set(why, whylen, msg);
		}
	free(w);
	return found ? -1 : 0;
}

void
rules_free(struct rules *rs)
{
	free(rs->paths);
	free(rs->langs);
	free(rs->mimes);
	memset(rs, 0, sizeof(*rs));
}
