/*
 * fuzz_feed.c: libFuzzer target for the pure parts of feed.c.
 *
 * One input is used as a file name, as a gemtext document and as text
 * to escape; then the entries made from it go through both writers.
 * Besides the sanitizers, it checks the promises feed.h makes: titles
 * and summaries are short, UTF-8, free of controls; escaped text holds
 * no markup and no character XML 1.0 forbids.
 *
 *	make fuzz		(clang -fsanitize=fuzzer)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "url.h"

#define CHECK(c)	do { if (!(c)) abort(); } while (0)

/* A cleaned line: UTF-8, no controls, no white space at its ends. */
static void
check_clean(const char *s, size_t len, size_t max)
{
	size_t	i;

	CHECK(len == strlen(s) && len <= max);
	CHECK(url_utf8_valid(s, len));
	for (i = 0; i < len; i++)
		CHECK((unsigned char)s[i] >= 0x20 && s[i] != 0x7f);
	CHECK(len == 0 || (s[0] != ' ' && s[len - 1] != ' '));
}

/* Escaped XML: no raw markup, references known, characters allowed. */
static void
check_xml_text(const char *s, size_t len)
{
	static const char	*refs[] = { "&amp;", "&lt;", "&gt;", "&quot;",
				    "&#13;" };
	size_t			 i, k, r;
	uint32_t		 cp;

	CHECK(url_utf8_valid(s, len));
	for (i = 0; i < len; i += k) {
		k = url_utf8_decode(s + i, len - i, &cp);
		CHECK(k > 0);
		CHECK(cp != '<' && cp != '>' && cp != '"' && cp != '\r');
		CHECK(cp == '\t' || cp == '\n' || (cp >= 0x20 &&
		    cp != 0xfffe && cp != 0xffff));
		if (cp != '&')
			continue;
		for (r = 0; r < sizeof(refs) / sizeof(refs[0]); r++)
			if (strncmp(s + i, refs[r], strlen(refs[r])) == 0)
				break;
		CHECK(r < sizeof(refs) / sizeof(refs[0]));
	}
}

static void
check_name(const uint8_t *data, size_t size)
{
	char	name[NAME_MAX + 1], date[FEED_DATE_LEN + 1];
	size_t	n = size < NAME_MAX ? size : NAME_MAX;

	memcpy(name, data, n);
	name[n] = '\0';
	if (feed_name_date(name, date)) {
		CHECK(strlen(name) > FEED_DATE_LEN + 5);
		CHECK(strncmp(name, date, FEED_DATE_LEN) == 0);
		CHECK(strcmp(name + strlen(name) - 4, ".gmi") == 0);
		CHECK(date[4] == '-' && date[7] == '-');
	}
}

static void
check_writers(const uint8_t *data, size_t size, struct feed_entry *e)
{
	struct feed_atom_info	 fi = { "t", "gemini://h", "/d/", "h", "en",
				    946684800, 1750000000 };
	struct buf		 b;
	size_t			 n = size < NAME_MAX ? size : NAME_MAX;

	memcpy(e->name, data, n);
	e->name[n] = '\0';
	memcpy(e->date, "2024-01-01", FEED_DATE_LEN + 1);
	e->mtime = size > 8 ? (time_t)data[0] << 32 | data[1] : 0;

	memset(&b, 0, sizeof(b));
	CHECK(feed_write_index(&b, e->title, e, 1) == 0);
	/* one title line, one entry (unless the name holds a NUL) */
	CHECK(b.data != NULL && strncmp(b.data, "# ", 2) == 0);
	CHECK(url_utf8_valid(b.data, b.len));
	free(b.data);

	memset(&b, 0, sizeof(b));
	fi.title = e->summary;
	CHECK(feed_write_atom(&b, &fi, e, 1) == 0);
	CHECK(url_utf8_valid(b.data, b.len));
	CHECK(strstr(b.data, "</feed>\n") != NULL);
	free(b.data);
}

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct feed_entry	 e;
	const char			*text = (const char *)data;
	struct buf			 b;
	size_t				 n;

	check_name(data, size);

	n = feed_title(text, size, e.title);
	check_clean(e.title, n, FEED_TITLE_MAX + sizeof(FEED_ELLIPSIS) - 1);
	n = feed_summary(text, size, e.summary);
	check_clean(e.summary, n,
	    FEED_SUMMARY_MAX + sizeof(FEED_ELLIPSIS) - 1);

	memset(&b, 0, sizeof(b));
	feed_xml_escape(&b, text, size);
	CHECK(!b.failed);
	check_xml_text(b.data != NULL ? b.data : "", b.len);
	free(b.data);

	e.inferred = feed_date_inferred(text, size);
	CHECK(e.inferred == 0 || e.inferred == 1);

	/* every paragraph weighed is one feed_summary_nth finds */
	e.npara = feed_paragraphs(text, size, e.para, FEED_PARAS);
	CHECK(e.npara <= FEED_PARAS);
	for (n = 0; n < e.npara; n++)
		CHECK(feed_summary_nth(text, size, n, e.summary) > 0);
	check_writers(data, size, &e);
	return 0;
}
