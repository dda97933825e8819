/*
 * fuzz_rules.c: libFuzzer target for the routing rules (rules.h) as the
 * config gives them and as requests meet them.
 *
 * The input is config lines for the host self.example (redirect, gone,
 * lang, mime, or anything else: it goes through config_parse_string
 * whole), then a line "--", then request paths ("/a/b?q").  Besides
 * memory errors it checks what routing relies on:
 * - an answer is 0, 30, 31, 50 or 52 with a meta fit for a header; a
 *   redirect's target is a URL reference that parses, carries the
 *   request's query, and 52 is exactly rules_gone;
 * - rules_titan refuses exactly the paths a rule answers for;
 * - a lang is NULL or a valid tag list; a mime type is clean text;
 * - a config that passed the loop check has no chain, from any
 *   redirect's FROM, that loops or makes a client follow more than 5
 *   redirects: followed here as a client would, through the answers.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config.h"
#include "rules.h"
#include "url.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define HEAD	"[host self.example]\nroot = /r\ncert = c\nkey = k\n"
#define SEP	"\n--\n"

static void
check_text(const char *s)
{
	for (; *s != '\0'; s++)
		CHECK((unsigned char)*s >= 0x20 && *s != 0x7f);
}

/* A target as a client resolves it against gemini://self.example/. */
static int
resolve(const char *meta, struct url *u)
{
	char	abs[URL_MAX * 2];
	int	status, n;
	const char *why;

	if (meta[0] == '/')
		n = snprintf(abs, sizeof(abs), "gemini://self.example%s", meta);
	else
		n = snprintf(abs, sizeof(abs), "%s", meta);
	CHECK(n > 0 && (size_t)n < sizeof(abs));
	return url_parse(abs, (size_t)n, u, &status, &why);
}

/* The host of ours a URL names, as config.c's loop check sees it. */
static const struct host_cfg *
ours(const struct config *cf, const struct url *u)
{
	const struct host_cfg	*h = config_find_host(cf, u->host);
	size_t			 i;

	if (h == NULL || u->port == 1965)
		return h;
	for (i = 0; i < cf->nlisten; i++)
		if (cf->listen[i].port == u->port)
			return h;
	return NULL;
}

/* One request: the answer, and what else the rules say of its path. */
static void
one_path(const struct host_cfg *h, const char *line, size_t len)
{
	char		 abs[URL_MAX * 2], meta[URL_MAX + 1], tmeta[512];
	struct url	 u, t;
	const char	*why, *q, *lang, *type;
	int		 status, st;

	if (len > URL_MAX || snprintf(abs, sizeof(abs),
	    "gemini://self.example%.*s", (int)len, line) >= (int)sizeof(abs))
		return;
	/* the path as the server has it: parsed and normalised */
	if (url_parse(abs, strlen(abs), &u, &status, &why) == -1)
		return;
	q = u.has_query ? u.query : NULL;
	st = rules_answer(&h->rules, u.path, q, meta, sizeof(meta));
	CHECK(st == 0 || st == 30 || st == 31 || st == 50 || st == 52);
	CHECK((st == 52) == rules_gone(&h->rules, u.path));
	CHECK((st != 0) == (rules_titan(&h->rules, u.path, tmeta,
	    sizeof(tmeta)) == 50));
	if (st != 0) {
		CHECK(strlen(meta) <= URL_MAX && meta[0] != '\0');
		check_text(meta);
		check_text(tmeta);
	}
	if (st == 30 || st == 31) {
		CHECK(resolve(meta, &t) == 0);
		CHECK(strcmp(t.scheme, "gemini") == 0);
		CHECK(q == NULL ? !t.has_query : strcmp(t.query, q) == 0);
	}
	if ((lang = rules_lang(&h->rules, u.path, NULL)) != NULL)
		CHECK(rules_lang_ok(lang));
	if ((type = rules_mime(&h->rules, u.path)) != NULL) {
		CHECK(strchr(type, '/') != NULL);
		check_text(type);
	}
}

/* Follow a redirect's FROM as a client would: at most 5, no loop. */
static void
follow(const struct config *cf, const struct host_cfg *h, const char *from)
{
	const struct host_cfg	*seen_h[RULES_CHAIN_MAX + 2];
	char			 seen[RULES_CHAIN_MAX + 2][URL_MAX + 1];
	char			 meta[URL_MAX + 1];
	struct url		 u;
	size_t			 n = 0, i;
	int			 st;

	snprintf(seen[0], sizeof(seen[0]), "%s", from);
	seen_h[n++] = h;
	for (;;) {
		st = rules_answer(&h->rules, seen[n - 1], NULL, meta,
		    sizeof(meta));
		if (st != 30 && st != 31)
			return;
		/* the check promised at most RULES_CHAIN_MAX in a row */
		CHECK(n <= RULES_CHAIN_MAX);
		if (resolve(meta, &u) == -1)
			return;		/* no client goes on from here */
		if (meta[0] != '/' && (h = ours(cf, &u)) == NULL)
			return;
		for (i = 0; i < n; i++)
			CHECK(seen_h[i] != h || strcmp(seen[i], u.path) != 0);
		snprintf(seen[n], sizeof(seen[n]), "%s", u.path);
		seen_h[n++] = h;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	 cf;
	const char	*in = (const char *)data, *sep, *p, *e;
	char		*text, err[CONFIG_ERR_MAX];
	size_t		 clen, i, k;

	if (memchr(data, '\0', size) != NULL)
		return 0;	/* config_load refuses a NUL */
	sep = memmem(in, size, SEP, strlen(SEP));
	clen = sep != NULL ? (size_t)(sep - in) : size;
	if ((text = malloc(sizeof(HEAD) + clen + 1)) == NULL)
		return 0;
	memcpy(text, HEAD, sizeof(HEAD) - 1);
	memcpy(text + sizeof(HEAD) - 1, in, clen);
	text[sizeof(HEAD) - 1 + clen] = '\0';
	if (config_parse_string(text, "fuzz.ini", "/fuzz", &cf, err,
	    sizeof(err)) == -1) {
		CHECK(strncmp(err, "fuzz.ini", 8) == 0);
		free(text);
		return 0;
	}
	free(text);
	for (k = 0; k < cf.nhosts; k++)
		for (i = 0; i < cf.hosts[k].rules.npaths; i++)
			if (cf.hosts[k].rules.paths[i].kind == RULES_REDIRECT)
				follow(&cf, &cf.hosts[k],
				    cf.hosts[k].rules.paths[i].from);
	for (p = sep != NULL ? sep + strlen(SEP) : in + size; p < in + size;
	    p = e + 1) {
		if ((e = memchr(p, '\n', (size_t)(in + size - p))) == NULL)
			e = in + size;
		one_path(&cf.hosts[0], p, (size_t)(e - p));
	}
	config_free(&cf);
	return 0;
}
