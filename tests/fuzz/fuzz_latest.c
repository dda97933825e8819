/*
 * fuzz_latest.c: libFuzzer target for the pure half of latest.c.
 *
 * The input is a gemtext page: its marker lines are scanned against a
 * few feed directories, and the page is spliced with a block for each
 * good marker.  Besides the sanitizers, it checks what latest.h
 * promises: no marker line survives a splice (outside preformatted
 * text), a page without one comes back byte for byte, every other line
 * is kept in order, and a marker's verdict does not depend on where it
 * is.  The first line also goes through the block renderer as a name.
 *
 *	make fuzz		(clang -fsanitize=fuzzer)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "latest.h"
#include "url.h"

#define CHECK(c)	do { if (!(c)) abort(); } while (0)

static const char *const dirs[] = { "news", "letters", "press", "a/b" };
#define NDIRS	(sizeof(dirs) / sizeof(dirs[0]))

/* No marker line outside preformatted text. */
static void
check_no_marker(const char *s, size_t len)
{
	const char	*nl;
	size_t		 pos = len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0 ?
			    3 : 0, n;
	int		 pre = 0;

	while (pos < len) {
		nl = memchr(s + pos, '\n', len - pos);
		n = nl != NULL ? (size_t)(nl - (s + pos)) : len - pos;
		if (n >= 3 && memcmp(s + pos, "```", 3) == 0)
			pre = !pre;
		else
			CHECK(pre || !feed_is_marker(s + pos, n));
		pos += n + 1;
	}
}

static void
check_render(const uint8_t *data, size_t size)
{
	struct feed_entry	e;
	struct latest_item	it = { "news", &e };
	struct buf		b;
	size_t			n = size < NAME_MAX ? size : NAME_MAX;

	memset(&e, 0, sizeof(e));
	memcpy(e.name, data, n);
	e.name[n] = '\0';
	memcpy(e.date, "2024-01-01", FEED_DATE_LEN + 1);
	memset(&b, 0, sizeof(b));
	CHECK(latest_render(&b, &it, 1) == 0);
	/* one link line, or none when the name cannot be a path */
	CHECK(b.len == 0 || (strncmp(b.data, "=> /news/", 9) == 0 &&
	    memchr(b.data, '\n', b.len) == b.data + b.len - 1));
	free(b.data);
}

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct latest_mark	 v[LATEST_MARKS];
	struct buf			 blocks[LATEST_MARKS], out;
	const char			*text = (const char *)data;
	size_t				 n, i, nb;
	int				 r;

	n = latest_scan(text, size, dirs, NDIRS, v, LATEST_MARKS);
	nb = n < LATEST_MARKS ? n : LATEST_MARKS;
	memset(blocks, 0, sizeof(blocks));
	for (i = 0; i < nb; i++) {
		CHECK(v[i].line >= 1);
		CHECK((v[i].n == 0) == (v[i].dirs == 0));
		CHECK(v[i].n >= 0 && v[i].n <= LATEST_MAX);
		CHECK(v[i].dirs < (1u << NDIRS));
		CHECK(v[i].n > 0 || (v[i].why[0] != '\0' &&
		    url_utf8_valid(v[i].why, strlen(v[i].why))));
		if (v[i].n > 0)
			buf_puts(&blocks[i], "=> /news/x.gmi 2024-01-01 X\n");
	}

	memset(&out, 0, sizeof(out));
	CHECK(latest_splice(&out, text, size, blocks, nb) == 0);
	if (n == 0)
		CHECK(out.len == size && (size == 0 ||
		    memcmp(out.data, data, size) == 0));
	check_no_marker(out.data != NULL ? out.data : "", out.len);
	/* a spliced page has no marker left to find */
	CHECK(latest_scan(out.data != NULL ? out.data : "", out.len, dirs,
	    NDIRS, NULL, 0) == 0);
	free(out.data);
	for (i = 0; i < nb; i++)
		free(blocks[i].data);

	/* the whole input as one line: the same verdict as latest_parse's */
	if (memchr(data, '\n', size) == NULL && size > 0) {
		struct latest_mark	m;

		r = latest_parse(text, size, dirs, NDIRS, &m);
		CHECK(r == 0 || n == 1 || (size >= 3 &&
		    memcmp(data, "```", 3) == 0));
		CHECK((r != 0) == feed_is_marker(text, size));
	}
	check_render(data, size);
	return 0;
}
