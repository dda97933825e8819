/*
 * rules_test.c: redirect, gone, lang and mime rules (rules.h), one row
 * per rule.  "Spec" is the Gemini protocol specification
 * (gemini://geminiprotocol.net/docs/protocol-specification.gmi).
 */
#include <stdio.h>
#include <string.h>

#include "rules.h"
#include "tap.h"

/* One rule as a config line would give it. */
struct line {
	const char	*key;
	const char	*value;
};

static int
add(struct rules *rs, const char *key, const char *value, int line,
    char *why, size_t whylen)
{
	if (strcmp(key, "redirect") == 0)
		return rules_add_redirect(rs, value, line, why, whylen);
	if (strcmp(key, "gone") == 0)
		return rules_add_gone(rs, value, line, why, whylen);
	if (strcmp(key, "lang") == 0)
		return rules_add_lang(rs, value, line, why, whylen);
	return rules_add_mime(rs, value, line, why, whylen);
}

/* Lines 1, 2, ... of a table; 0, or -1 with why (and *line, if sealed). */
static int
load(struct rules *rs, const struct line *v, int *line, char *why,
    size_t whylen)
{
	int	i;

	memset(rs, 0, sizeof(*rs));
	*line = 0;
	for (i = 0; v[i].key != NULL; i++)
		if (add(rs, v[i].key, v[i].value, i + 1, why, whylen) == -1) {
			*line = i + 1;
			return -1;
		}
	return rules_seal(rs, line, why, whylen);
}

static const struct {
	const char	*key, *value;
	const char	*error;		/* NULL: taken; else a part of why */
	const char	*rule;
} values[] = {
	{ "redirect", "/old.gmi /new.gmi", NULL, "an exact path to a path" },
	{ "redirect", "/blog/ /news/ permanent", NULL, "a prefix, permanent" },
	{ "redirect", "/ gemini://new.example.org/", NULL,
	  "the whole capsule to another host" },
	{ "redirect", "/x gemini://[2001:db8::1]:1966/y", NULL,
	  "an IPv6 host and a port" },
	{ "redirect", "/caf%C3%A9.gmi /cafe.gmi", NULL,
	  "percent escapes are decoded" },
	{ "redirect", "/a", "expected FROM TO", "TO is required" },
	{ "redirect", "/a /b temporary", "expected FROM TO [permanent]",
	  "only `permanent` may follow" },
	{ "redirect", "/a /b permanent extra", "expected FROM TO",
	  "nothing after permanent" },
	{ "redirect", "old.gmi /new.gmi", "FROM \"old.gmi\" is not a path",
	  "FROM is a path" },
	{ "redirect", "/a?x=1 /b", "FROM \"/a?x=1\" holds", "FROM has no query" },
	{ "redirect", "/a/../b /c", "dot segment", "FROM has no dot segment" },
	{ "redirect", "/.git/ /c", "dotfile", "FROM names no dotfile" },
	{ "redirect", "/a//b /c", "empty segment", "FROM has no empty segment" },
	{ "redirect", "/a%2Fb /c", "escapes a /", "FROM escapes no slash" },
	{ "redirect", "/a%zz /c", "bad percent escape", "a bad escape" },
	{ "redirect", "/a%ff /c", "not UTF-8", "FROM is UTF-8 once decoded" },
	{ "redirect", "/a news/b", "TO \"news/b\" is neither",
	  "TO is a path or a URL" },
	{ "redirect", "/a https://example.org/", "another scheme",
	  "TO is a gemini URL" },
	{ "redirect", "/a gemini://example.org/b?q", "has a query",
	  "TO has no query: the request's is carried over" },
	{ "redirect", "/a gemini://example.org/b#f", "is neither",
	  "TO has no fragment (spec: URLs carry none)" },
	{ "redirect", "/a gemini://u@example.org/", "is neither",
	  "TO has no userinfo" },
	{ "gone", "/press/2024-01-01-retracted.gmi", NULL, "an exact path" },
	{ "gone", "/campaign/", NULL, "a prefix" },
	{ "gone", "/a /b", "expected one PATH", "one path only" },
	{ "gone", "campaign", "is not a path", "a path starts with /" },
	{ "lang", "/cy/ cy", NULL, "a prefix and a tag" },
	{ "lang", "/bi/ cy,en-GB", NULL, "a list of tags" },
	{ "lang", "/x/ x-klingon", NULL, "private use (BCP 47)" },
	{ "lang", "/cy/", "expected PATH TAG", "a tag is required" },
	{ "lang", "/cy/ cy_GB", "not a BCP 47 tag", "an underscore" },
	{ "lang", "/cy/ c", "not a BCP 47 tag", "a one-letter language" },
	{ "lang", "/cy/ cy-", "not a BCP 47 tag", "an empty subtag" },
	{ "lang", "/cy/ 12", "not a BCP 47 tag", "a numeric language" },
	{ "lang", "/cy/ cy,,en", "not a BCP 47 tag", "an empty tag in a list" },
	{ "lang", "/cy/ abcdefghi", "not a BCP 47 tag", "a subtag over 8" },
	{ "mime", ".epub application/epub+zip", NULL, "an extension, a type" },
	{ "mime", ".txt text/plain; charset=iso-8859-1", NULL,
	  "a type with a parameter (RFC 2045 5.1)" },
	{ "mime", ".x text/plain; a=\"b c\"", NULL, "a quoted value" },
	{ "mime", ".tar.gz application/gzip", NULL, "a two-part extension" },
	{ "mime", "epub application/epub+zip", "expected .EXT TYPE",
	  "the extension starts with a dot" },
	{ "mime", ".epub", "expected .EXT TYPE", "a type is required" },
	{ "mime", ".epub epub", "is not a type/subtype", "type/subtype" },
	{ "mime", ".epub a/b;", "is not a type/subtype", "a bare ;" },
	{ "mime", ".epub a/b; c", "is not a type/subtype", "a name no value" },
	{ "mime", ".epub a/b c", "is not a type/subtype", "a stray word" },
	{ "mime", ".e/x a/b", "expected .EXT TYPE", "no slash in an ext" },
	{ "mime", ".. a/b", "expected .EXT TYPE", "no empty extension" },
};

static void
test_values(void)
{
	struct rules	rs;
	char		why[RULES_WHY_MAX];
	size_t		i;
	int		r;

	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		memset(&rs, 0, sizeof(rs));
		why[0] = '\0';
		r = add(&rs, values[i].key, values[i].value, 7, why,
		    sizeof(why));
		if (values[i].error == NULL)
			ok(r == 0, "%s: %s", values[i].rule, why);
		else
			ok(r == -1 && strncmp(why, values[i].key,
			    strlen(values[i].key)) == 0 &&
			    strstr(why, values[i].error) != NULL,
			    "%s (%s)", values[i].rule, why);
		rules_free(&rs);
	}
}

static const struct line capsule[] = {
	{ "redirect", "/old.gmi /new.gmi" },
	{ "redirect", "/blog/ /news/ permanent" },
	{ "redirect", "/blog/special/ gemini://other.example/s/" },
	{ "redirect", "/blog/special/keep.gmi /kept.gmi" },
	{ "redirect", "/strike/ /disputes/2026-strike.gmi" },
	{ "redirect", "/moved gemini://other.example:1966/x%20y/" },
	{ "redirect", "/v6/ gemini://[2001:db8::1]/" },
	{ "redirect", "/caf%C3%A9.gmi /menu/caf%C3%A9.gmi" },
	{ "redirect", "/search /cgi-bin/search" },
	{ "gone", "/press/2024-05-01-retracted.gmi" },
	{ "gone", "/campaign/" },
	{ "redirect", "/campaign/results.gmi /news/results.gmi" },
	{ NULL, NULL },
};

static const struct {
	const char	*path, *query;
	int		 status;
	const char	*meta;
	const char	*rule;
} answers[] = {
	{ "/old.gmi", NULL, 30, "/new.gmi",
	  "an exact FROM: 30 to TO (spec 30: temporary)" },
	{ "/old.gmi/", NULL, 0, NULL, "an exact FROM is exact" },
	{ "/old.gmix", NULL, 0, NULL, "an exact FROM is not a prefix" },
	{ "/blog/x.gmi", NULL, 31, "/news/x.gmi",
	  "a prefix carries the rest over; permanent is 31 (spec 31)" },
	{ "/blog/a/b/c.gmi", NULL, 31, "/news/a/b/c.gmi",
	  "the rest is every segment after FROM" },
	{ "/blog/", NULL, 31, "/news/", "the prefix itself" },
	{ "/blog", NULL, 31, "/news/",
	  "a prefix covers its directory's name without the slash" },
	{ "/blogs/x", NULL, 0, NULL, "a prefix ends at a slash" },
	{ "/blog/special/x.gmi", NULL, 30, "gemini://other.example/s/x.gmi",
	  "the longest FROM wins" },
	{ "/blog/special/keep.gmi", NULL, 30, "/kept.gmi",
	  "an exact FROM inside a prefix wins" },
	{ "/strike/day1.gmi", NULL, 30, "/disputes/2026-strike.gmi",
	  "a TO that does not end in / takes in every path under FROM" },
	{ "/moved", NULL, 30, "gemini://other.example:1966/x%20y/",
	  "a URL's port is kept; its path percent-encoded" },
	{ "/v6/a b", NULL, 30, "gemini://[2001:db8::1]/a%20b",
	  "an IPv6 host in brackets; the rest encoded" },
	{ "/caf\xc3\xa9.gmi", NULL, 30, "/menu/caf%C3%A9.gmi",
	  "decoded paths compare; the target is encoded (RFC 3986 2.1)" },
	{ "/search", "union%20news", 30, "/cgi-bin/search?union%20news",
	  "the query is carried over (spec: clients use a redirect as is)" },
	{ "/search", "", 30, "/cgi-bin/search?", "an empty query is a query" },
	{ "/blog/x.gmi", "a=1", 31, "/news/x.gmi?a=1",
	  "the query follows the carried rest" },
	{ "/press/2024-05-01-retracted.gmi", NULL, 52,
	  "Gone: removed for good", "gone, exact: 52 (spec 52)" },
	{ "/press/2024-05-02-other.gmi", NULL, 0, NULL,
	  "gone is exact when FROM is" },
	{ "/campaign/", NULL, 52, "Gone: removed for good",
	  "gone, a prefix: the directory" },
	{ "/campaign", NULL, 52, "Gone: removed for good",
	  "gone, a prefix: the directory's name" },
	{ "/campaign/leaflet.pdf", NULL, 52, "Gone: removed for good",
	  "gone, a prefix: what is under it" },
	{ "/campaign/results.gmi", NULL, 30, "/news/results.gmi",
	  "a redirect inside a gone section is the longer match" },
	{ "/", NULL, 0, NULL, "no rule for /" },
	{ "/news/x.gmi", NULL, 0, NULL, "no rule for the target" },
};

static void
test_answers(void)
{
	struct rules	rs;
	char		why[RULES_WHY_MAX], meta[URL_MAX + 1], small[20];
	size_t		i;
	int		line, st;

	if (!ok(load(&rs, capsule, &line, why, sizeof(why)) == 0,
	    "the capsule's rules load (%s)", why))
		return;
	for (i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
		meta[0] = '\0';
		st = rules_answer(&rs, answers[i].path, answers[i].query, meta,
		    sizeof(meta));
		ok(st == answers[i].status && (answers[i].meta == NULL ||
		    strcmp(meta, answers[i].meta) == 0), "%s: %s -> %d %s",
		    answers[i].rule, answers[i].path, st, st ? meta : "");
	}
	st = rules_answer(&rs, "/blog/a-rather-long-name.gmi", NULL, small,
	    sizeof(small));
	ok(st == 50 && strlen(small) < sizeof(small),
	    "a target that does not fit is 50, never a cut URL (%s)", small);
	ok(rules_gone(&rs, "/campaign/x") && !rules_gone(&rs, "/blog/x") &&
	    !rules_gone(&rs, "/campaign/results.gmi"),
	    "rules_gone: only where gone is the longest match");
	st = rules_titan(&rs, "/blog/x.gmi", meta, sizeof(meta));
	ok(st == 50 && strstr(meta, "/news/x.gmi") != NULL,
	    "Titan to a redirected path: 50, saying where it went (%s)", meta);
	st = rules_titan(&rs, "/campaign/x.gmi", meta, sizeof(meta));
	ok(st == 50 && strstr(meta, "gone") != NULL,
	    "Titan to a gone path: 50 (%s)", meta);
	ok(rules_titan(&rs, "/news/x.gmi", meta, sizeof(meta)) == 0,
	    "Titan elsewhere: no word from the rules");
	rules_free(&rs);
	ok(rs.paths == NULL && rs.npaths == 0, "rules_free empties the table");
}

static const struct line langs[] = {
	{ "lang", "/cy/ cy" },
	{ "lang", "/cy/en/ en-GB" },
	{ "lang", "/bilingual.gmi cy,en" },
	{ "mime", ".epub application/epub+zip" },
	{ "mime", ".gz application/gzip" },
	{ "mime", ".tar.gz application/x-gtar" },
	{ "mime", ".GMI text/gemini" },
	{ NULL, NULL },
};

static void
test_lang_mime(void)
{
	struct rules	rs;
	char		why[RULES_WHY_MAX];
	const char	*t;
	int		line;

	if (!ok(load(&rs, langs, &line, why, sizeof(why)) == 0,
	    "lang and mime rules load (%s)", why))
		return;
	ok(strcmp(rules_lang(&rs, "/cy/index.gmi", "en"), "cy") == 0,
	    "a page under a lang PATH gets its tag");
	ok(strcmp(rules_lang(&rs, "/cy/", "en"), "cy") == 0,
	    "the directory itself (its listing, its index)");
	ok(strcmp(rules_lang(&rs, "/cy/en/a.gmi", "en"), "en-GB") == 0,
	    "the longest PATH wins");
	ok(strcmp(rules_lang(&rs, "/bilingual.gmi", "en"), "cy,en") == 0,
	    "an exact PATH, a list");
	ok(strcmp(rules_lang(&rs, "/news/a.gmi", "en"), "en") == 0,
	    "elsewhere the host's own");
	ok(rules_lang(&rs, "/news/a.gmi", NULL) == NULL,
	    "elsewhere the default given, NULL too");
	t = rules_mime(&rs, "/books/rulebook.epub");
	ok(t != NULL && strcmp(t, "application/epub+zip") == 0,
	    "a mime rule gives the type");
	t = rules_mime(&rs, "/x/A.TAR.GZ");
	ok(t != NULL && strcmp(t, "application/x-gtar") == 0,
	    "the longest extension wins, without regard to case");
	t = rules_mime(&rs, "/x/a.gz");
	ok(t != NULL && strcmp(t, "application/gzip") == 0,
	    "the shorter one where the longer does not end the name");
	t = rules_mime(&rs, "/x/a.gmi");
	ok(t != NULL && strcmp(t, "text/gemini") == 0,
	    "an extension written in capitals matches any case");
	ok(rules_mime(&rs, "/x/.epub") == NULL,
	    "a name that is only the extension is not of that type");
	ok(rules_mime(&rs, "/epub.d/readme") == NULL,
	    "only the last segment counts");
	ok(rules_mime(&rs, "/x/a.pdf") == NULL, "no rule: NULL");
	rules_free(&rs);
}

static const struct {
	struct line	 v[7];		/* ends with a NULL key */
	int		 line;		/* 0: no error */
	const char	*error;
	const char	*rule;
} loops[] = {
	{ { { "redirect", "/a /b" }, { "redirect", "/b /c" } }, 0, NULL,
	  "a chain that ends" },
	{ { { "redirect", "/a /a" } }, 1, "loop: /a -> /a",
	  "a rule to its own FROM" },
	{ { { "redirect", "/a /b" }, { "redirect", "/b /a" } }, 1,
	  "loop: /a -> /b -> /a", "two rules back to the first" },
	{ { { "redirect", "/x /y" }, { "redirect", "/a/ /b/" },
	    { "redirect", "/b/ /a/" } }, 2, "loop: /a/ -> /b/ -> /a/",
	  "prefixes in a circle, reported at the first rule of it" },
	{ { { "redirect", "/a/ /a/b/" } }, 1, "more than 5 redirects",
	  "a prefix into itself grows without end" },
	{ { { "redirect", "/ /new/" } }, 1, "more than 5 redirects",
	  "the whole capsule into a part of it" },
	{ { { "redirect", "/1 /2" }, { "redirect", "/2 /3" },
	    { "redirect", "/3 /4" }, { "redirect", "/4 /5" },
	    { "redirect", "/5 /6" } }, 0, NULL,
	  "five redirects in a row: what clients follow (spec)" },
	{ { { "redirect", "/1 /2" }, { "redirect", "/2 /3" },
	    { "redirect", "/3 /4" }, { "redirect", "/4 /5" },
	    { "redirect", "/5 /6" }, { "redirect", "/6 /7" } }, 1,
	  "more than 5 redirects", "six in a row: clients stop at five" },
	{ { { "redirect", "/a /b" }, { "gone", "/b" } }, 0, NULL,
	  "a redirect to a gone path ends there" },
	{ { { "redirect", "/a gemini://other.example/a" } }, 0, NULL,
	  "another server's URL is not followed" },
	{ { { "redirect", "/a/ /b/" }, { "redirect", "/b/x/ /a/x/" } }, 2,
	  "loop: /b/x/ -> /a/x/ -> /b/x/",
	  "a loop that only a longer path closes" },
};

/* ours: "self" (any port) is the table under test. */
static const struct rules *
self(const char *host, int port, void *arg)
{
	(void)port;
	return strcmp(host, "self.example") == 0 ? arg : NULL;
}

static void
test_loops(void)
{
	struct rules	rs;
	char		why[RULES_WHY_MAX];
	size_t		i;
	int		line, r;

	for (i = 0; i < sizeof(loops) / sizeof(loops[0]); i++) {
		why[0] = '\0';
		if (!ok(load(&rs, loops[i].v, &line, why, sizeof(why)) == 0,
		    "loads: %s (%s)", loops[i].rule, why))
			continue;
		r = rules_check_loops(&rs, NULL, NULL, &line, why,
		    sizeof(why));
		if (loops[i].line == 0)
			ok(r == 0, "%s (%s)", loops[i].rule, r ? why : "");
		else
			ok(r == -1 && line == loops[i].line &&
			    strncmp(why, "redirect: ", 10) == 0 &&
			    strstr(why, loops[i].error) != NULL,
			    "%s: line %d: %s", loops[i].rule, line, why);
		rules_free(&rs);
	}
	memset(&rs, 0, sizeof(rs));
	(void)rules_add_redirect(&rs, "/a gemini://self.example/b", 1, why,
	    sizeof(why));
	(void)rules_add_redirect(&rs, "/b /a", 2, why, sizeof(why));
	(void)rules_seal(&rs, &line, why, sizeof(why));
	ok(rules_check_loops(&rs, NULL, NULL, &line, why, sizeof(why)) == 0,
	    "with no way to tell our hosts, a URL is another server's");
	r = rules_check_loops(&rs, self, &rs, &line, why, sizeof(why));
	ok(r == -1 && line == 1 && strstr(why, "loop: /a -> "
	    "gemini://self.example/b -> /a") != NULL,
	    "a URL naming a host of ours is followed (%s)", why);
	rules_free(&rs);
}

static const struct {
	struct line	 v[4];		/* ends with a NULL key */
	int		 line;
	const char	*error;
	const char	*rule;
} repeats[] = {
	{ { { "redirect", "/a /b" }, { "redirect", "/a /c" } }, 2,
	  "redirect: /a has a redirect rule already (line 1)",
	  "a FROM given twice: the second is named" },
	{ { { "gone", "/a/" }, { "redirect", "/x /y" },
	    { "redirect", "/a/ /c/" } }, 3,
	  "redirect: /a/ has a gone rule already (line 1)",
	  "a path both gone and redirected" },
	{ { { "redirect", "/caf%C3%A9 /b" }, { "gone", "/caf\xc3\xa9" } }, 2,
	  "gone: /caf\xc3\xa9 has a redirect rule already (line 1)",
	  "the same path, escaped once and once not" },
	{ { { "lang", "/cy/ cy" }, { "lang", "/cy/ en" } }, 2,
	  "lang: /cy/ has a lang rule already (line 1)", "a lang PATH twice" },
	{ { { "mime", ".epub a/b" }, { "mime", ".EPUB c/d" } }, 2,
	  "mime: .EPUB has a mime rule already (line 1)",
	  "an extension twice, in another case" },
	{ { { "redirect", "/a /b" }, { "lang", "/a cy" } }, 0, NULL,
	  "a lang and a redirect for one path are two tables" },
};

static void
test_repeats(void)
{
	struct rules	rs;
	char		why[RULES_WHY_MAX];
	size_t		i;
	int		line, r;

	for (i = 0; i < sizeof(repeats) / sizeof(repeats[0]); i++) {
		why[0] = '\0';
		r = load(&rs, repeats[i].v, &line, why, sizeof(why));
		if (repeats[i].line == 0)
			ok(r == 0, "%s (%s)", repeats[i].rule, why);
		else
			ok(r == -1 && line == repeats[i].line &&
			    strcmp(why, repeats[i].error) == 0,
			    "%s: line %d: %s", repeats[i].rule, line, why);
		rules_free(&rs);
	}
}

static void
test_many(void)
{
	struct rules	rs;
	char		why[RULES_WHY_MAX], v[64], meta[URL_MAX + 1];
	int		i, line, bad = 0;

	memset(&rs, 0, sizeof(rs));
	for (i = 0; i < 5000; i++) {
		(void)snprintf(v, sizeof(v), "/old/%d.gmi /new/%d.gmi", i, i);
		bad |= rules_add_redirect(&rs, v, i + 1, why, sizeof(why));
	}
	ok(bad == 0 && rules_seal(&rs, &line, why, sizeof(why)) == 0 &&
	    rules_check_loops(&rs, NULL, NULL, &line, why, sizeof(why)) == 0,
	    "5000 redirects load and seal");
	for (i = 0; i < 5000; i += 499) {
		(void)snprintf(v, sizeof(v), "/old/%d.gmi", i);
		if (rules_answer(&rs, v, NULL, meta, sizeof(meta)) != 30 ||
		    strncmp(meta, "/new/", 5) != 0 ||
		    strcmp(meta + 5, v + 5) != 0)
			bad = 1;
	}
	ok(!bad, "each is found among them");
	rules_free(&rs);
}

int
main(void)
{
	test_values();
	test_answers();
	test_lang_mime();
	test_loops();
	test_repeats();
	test_many();
	return tap_done();
}
