/*
 * tap.h: the smallest TAP producer the unit tests need.
 * ok(cond, fmt, ...) prints "ok N - name" or "not ok N - name";
 * tap_done() prints the plan and returns the exit status for main().
 */
#ifndef CAPSULED_TAP_H
#define CAPSULED_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_n, tap_failed;

static inline int __attribute__((format(printf, 2, 3)))
ok(int cond, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	return cond;
}

static inline int
tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
