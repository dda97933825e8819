/*
 * log_test.c: log_escape, the one function between a client's bytes and
 * a log line.  No line may carry a raw control character.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "tap.h"

static void
same(const char *in, size_t len, const char *want, const char *name)
{
	char	out[256];
	size_t	n;

	n = log_escape(out, sizeof(out), in, len);
	ok(strcmp(out, want) == 0 && n == strlen(want), "%s: got \"%s\"",
	    name, out);
}

static void
no_controls(void)
{
	char	in[256], out[1100];
	size_t	i;
	int	clean = 1;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (char)i;
	log_escape(out, sizeof(out), in, sizeof(in));
	for (i = 0; out[i] != '\0'; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			clean = 0;
	ok(clean, "no byte 0x00-0x1f or 0x7f survives");
	/* 33 controls, quote and backslash, and 128 bytes that are no
	 * UTF-8 in this order: each 4 bytes instead of 1 */
	ok(strlen(out) == 256 + (33 + 2 + 128) * 3, "every byte kept, escaped");
}

static void
truncation(void)
{
	char	out[8];
	size_t	n;

	n = log_escape(out, 6, "ab\ncdef", 7);
	ok(n == 2 && strcmp(out, "ab") == 0,
	    "an escape is never cut in half: \"%s\"", out);
	n = log_escape(out, sizeof(out), "abcdefghij", 10);
	ok(n == 7 && out[7] == '\0', "always NUL-terminated");
	ok(log_escape(out, 0, "a", 1) == 0, "zero-sized buffer");
}

int
main(void)
{
	same("gemini://a/b", 12, "gemini://a/b", "plain text unchanged");
	same("a\r\nb", 4, "a\\x0d\\x0ab", "CR LF escaped");
	same("\x1b[2J", 4, "\\x1b[2J", "terminal escape");
	same("a\0b", 3, "a\\x00b", "NUL escaped, not the end");
	same("\x7f", 1, "\\x7f", "DEL escaped");
	same("\"\\", 2, "\\x22\\x5c", "quote and backslash: unambiguous");
	same("caf\xc3\xa9", 5, "caf\xc3\xa9", "UTF-8 kept");
	same("\x9b" "31m", 4, "\\x9b31m", "a raw C1 CSI byte escaped");
	same("\xc2\x9b" "31m", 5, "\\xc2\\x9b31m",
	    "U+009B (CSI) in UTF-8 escaped");
	same("\xc2\xa0\xe2\x82\xac", 5, "\xc2\xa0\xe2\x82\xac",
	    "U+00A0 and the euro sign kept");
	same("\xe2\x82", 2, "\\xe2\\x82", "a cut sequence escaped");
	no_controls();
	truncation();
	return tap_done();
}
