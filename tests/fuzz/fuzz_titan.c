/*
 * fuzz_titan.c: libFuzzer target for the Titan request line.
 *
 * Arbitrary bytes go through request_find_end and titan_parse as the
 * server drives them, then through titan_path_ok and titan_mime_ok.
 * Besides memory errors it checks what the upload path relies on: a
 * parsed request has the titan scheme, a path that starts with '/' and
 * holds no dot segment, NUL or ';'-parameters; a size within
 * TITAN_SIZE_LIMIT; a mime that is lower-case "type/subtype" and a
 * charset lower-case with no blank or control byte; a token with no
 * control byte; every failure is 59 with a reason fit for a meta line;
 * a path titan_path_ok accepts is under its prefix, not a directory,
 * has no dotfile and no control byte and is UTF-8; a post's example
 * name fits its buffer or says it does not.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "request.h"
#include "titan.h"
#include "url.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_why(const char *why)
{
	const char	*p;

	CHECK(why != NULL && *why != '\0' && strlen(why) <= 1024);
	for (p = why; *p != '\0'; p++)
		CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
}

static void
check_parsed(const struct request *r, const struct titan_params *tp)
{
	const char	*p, *slash;

	CHECK(strcmp(r->url.scheme, "titan") == 0);
	CHECK(r->url.path[0] == '/');
	CHECK(strstr(r->url.path, "/./") == NULL);
	CHECK(strstr(r->url.path, "/../") == NULL);
	CHECK(strstr(r->url.path, "//") == NULL);
	CHECK(strchr(r->line, ';') == NULL);
	CHECK(tp->size >= 0 && tp->size <= TITAN_SIZE_LIMIT);
	slash = strchr(tp->mime, '/');
	CHECK(slash != NULL && slash != tp->mime && slash[1] != '\0');
	for (p = tp->mime; *p != '\0'; p++)
		CHECK(!(*p >= 'A' && *p <= 'Z') && (unsigned char)*p > 0x20);
	for (p = tp->charset; *p != '\0'; p++)
		CHECK(!(*p >= 'A' && *p <= 'Z') && (unsigned char)*p >= 0x20 &&
		    *p != 0x7f);
	for (p = tp->token; *p != '\0'; p++)
		CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
	CHECK(url_utf8_valid(tp->token, strlen(tp->token)));
}

static void
check_path(const char *path, const char *prefix)
{
	const char	*why = NULL, *p;

	if (titan_path_ok(path, prefix, &why) == -1) {
		check_why(why);
		return;
	}
	CHECK(strncmp(path, prefix, strlen(prefix)) == 0);
	CHECK(path[strlen(path) - 1] != '/');
	CHECK(strstr(path, "/.") == NULL);
	CHECK(url_utf8_valid(path, strlen(path)));
	for (p = path; *p != '\0'; p++)
		CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
}

static void
check_example(const char *path)
{
	char	out[64];
	size_t	n;

	if (titan_post_example("/news/", strrchr(path, '/') + 1, "2026-01-01",
	    out, sizeof(out)) == -1)
		return;
	n = strlen(out);
	CHECK(n < sizeof(out) && strncmp(out, "/news/2026-01-01-", 17) == 0);
	CHECK(n > 21 && strcmp(out + n - 4, ".gmi") == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct request		 r;
	struct titan_params	 tp;
	const char		*in = (const char *)data, *why = NULL;
	ssize_t			 end;
	int			 status = 0;

	end = request_find_end(in, size);
	if (end <= 0)
		return 0;
	if (titan_parse(in, (size_t)end, &r, &tp, &status, &why) == -1) {
		CHECK(status == 59);
		check_why(why);
		return 0;
	}
	CHECK(titan_is(in, (size_t)end));
	check_parsed(&r, &tp);
	check_path(r.url.path, "/");
	check_path(r.url.path, "/news/");
	(void)titan_mime_ok("text/gemini text/plain", tp.mime);
	CHECK(titan_mime_ok(tp.mime, tp.mime));
	(void)titan_charset_ok(&tp);
	CHECK(titan_type_fits(tp.mime, tp.mime));
	check_example(r.url.path);
	return 0;
}
