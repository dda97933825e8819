/*
 * strike: the strike-day counter, a Gemini CGI script run by capsuled.
 *
 * It reads the branch's disputes from an INI file (the format and the
 * counting conventions are written at the top of capsule/.data/disputes.ini)
 * and prints a whole Gemini response: "20 text/gemini" and today's counts,
 * or one 40/50 line naming the file and line at fault.  A bad data file
 * must never become a crash or a malformed header: capsuled would answer
 * 42 and the admin would learn nothing from it.
 *
 * Environment:
 *	PATH_INFO	"/ID" shows the dispute [dispute ID] alone
 *	SCRIPT_NAME	the script's own path, for links between the pages
 *	STRIKE_DATA	the data file; default ../.data/disputes.ini, since
 *			capsuled runs a script in the script's directory: a
 *			dot directory of the capsule, which capsuled never
 *			serves, so the file's notes stay out of reach
 *	STRIKE_TODAY	YYYY-MM-DD instead of the clock, for tests
 *
 * POSIX and inih only, so that it builds on OpenBSD as it does on Linux.
 * Dates are whole days counted with integer arithmetic (days from civil);
 * mktime() and time_t never touch a date from the file.
 */

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ini.h>

#define DATA_DEFAULT	"../.data/disputes.ini"
#define TZ_DEFAULT	"Europe/London"
/* the same zone as a POSIX rule, for a system (or chroot) without it */
#define TZ_DEFAULT_RULE	"GMT0BST,M3.5.0/1,M10.5.0"
#define ZONEINFO	"/usr/share/zoneinfo"	/* or $TZDIR, as the C library */
#define CONTENT_TYPE	"text/gemini; lang=en-GB"
#define META_MAX	1024		/* Gemini's limit on a header's meta */
#define ERR_MAX		256
#define VALUE_MAX	INI_MAX_LINE	/* inih never hands over more */
#define ID_MAX		40
#define DISPUTES_MAX	64
#define STRIKES_MAX	4096		/* strike lines, all disputes */
#define SPAN_MAX	36525		/* strike days lie within a century */
#define QUOTE_MAX	40		/* bytes of a bad value shown back */
#define YEAR_MIN	1900
#define YEAR_MAX	2999
#define LETTERS		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#define NONE		LONG_MIN	/* no such day */

#define ATTR_PRINTF(f, a)	__attribute__((__format__(printf, f, a)))

enum state {
	STATE_NONE,
	STATE_LIVE,
	STATE_SUSPENDED,
	STATE_SETTLED
};

struct date {
	long	day;		/* days since 1970-01-01 */
	int	line;		/* where the file said it; 0: not given */
};

/*
 * A block of days, as one announcement gave it: known from "announced"
 * (without it, from its first day), and, if "cancelled", never struck
 * and no longer planned from that day.
 */
struct strike {
	long	first, last;
	int	weekdays;	/* count Monday to Friday only */
	struct date announced, cancelled;
	int	line;
	size_t	dispute;	/* index into disputes[] */
};

struct dispute {
	char		id[ID_MAX + 1];
	int		line;		/* of the [dispute ID] header */
	char		title[VALUE_MAX];
	int		title_line;
	char		factsheet[VALUE_MAX];
	int		factsheet_line;
	enum state	state;
	int		state_line;
	struct date	began, ended, suspended;
	struct date	asof;		/* the newest source's date */
};

struct data {
	const char	*path;
	FILE		*fp;
	int		 line;		/* the line inih is working on */
	char		 tz[VALUE_MAX];
	int		 tz_line;
	struct dispute	 disputes[DISPUTES_MAX];
	size_t		 ndisputes;
	struct strike	 strikes[STRIKES_MAX];
	size_t		 nstrikes;
	int		 status;	/* of the first error; 0: none */
	int		 err_line;	/* 0: the error is not on a line */
	char		 err[ERR_MAX];
};

/* What was known on a given day ("today"); NONE: no such day. */
struct counts {
	long	since;		/* days since the dispute began */
	long	first;		/* the first strike day, if by today */
	long	before;		/* strike days before today */
	int	today;		/* today is a strike day */
	long	unsure;		/* of those by today, after asof */
	long	planned;	/* announced by today, after today */
	long	last, next;	/* the last before today, the next after */
};

static long	days_from_civil(int, int, int);
static void	civil_from_days(long, int *, int *, int *);
static int	weekday(long);
static int	date_parse(const char *, size_t, long *);
static int	date_format(char *, size_t, long);
static int	utf8_valid(const char *);
static void	quote(char *, size_t, const char *);
static int	fail(struct data *, int, int, const char *, ...)
		    ATTR_PRINTF(4, 5);
static char	*data_reader(char *, int, void *);
static char	*section_end(char *);
static int	section_begin(struct data *, const char *);
static int	dispute_end(struct data *);
static int	strikes_check(struct data *, const struct dispute *, size_t);
static int	on_value(void *, const char *, const char *, const char *);
static int	global_value(struct data *, const char *, const char *);
static int	set_title(struct data *, struct dispute *, const char *);
static int	set_factsheet(struct data *, struct dispute *, const char *);
static int	set_state(struct data *, struct dispute *, const char *);
static int	set_date(struct data *, struct date *, const char *,
		    const char *);
static int	set_began(struct data *, struct dispute *, const char *);
static int	set_ended(struct data *, struct dispute *, const char *);
static int	set_suspended(struct data *, struct dispute *, const char *);
static int	set_asof(struct data *, struct dispute *, const char *);
static int	set_strike(struct data *, struct dispute *, const char *);
static const char *word(const char *, size_t *);
static int	strike_flags(struct data *, struct strike *, const char *);
static int	strike_date(struct data *, const char **, struct date *);
static int	tz_check(struct data *, const char *);
static const char *zoneinfo(void);
static void	default_zone(struct data *);
static int	text_check(struct data *, const char *, const char *);
static const char *plural(long);
static const char *was(long);
static void	data_load(struct data *);
static int	today_get(struct data *, long *);
static void	counts_get(const struct data *, size_t, long,
		    struct counts *);
static void	reply_error(const struct data *);
static void	render_dispute(const struct data *, size_t, long, int,
		    const char *);
static void	render_state(const struct dispute *, long);
static void	render(const struct data *, const struct dispute *, long,
		    const char *);
static const char *script_name(void);

static const char *const months[] = {
	"January", "February", "March", "April", "May", "June", "July",
	"August", "September", "October", "November", "December"
};
static const char *const days[] = {
	"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
	"Saturday"
};

/* One bit per day from a dispute's first day: distinct days count once. */
static unsigned char	struck[(SPAN_MAX + 7) / 8];
static unsigned char	planned[(SPAN_MAX + 7) / 8];
static struct data	data;

/*
 * Howard Hinnant's days_from_civil: the proleptic Gregorian calendar in
 * integers, so leap years and time zones cannot leak in via mktime().
 */
static long
days_from_civil(int y, int m, int d)
{
	long	 era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(long z, int *y, int *m, int *d)
{
	long	 era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

/* 0 is Sunday; 1970-01-01 was a Thursday. */
static int
weekday(long day)
{
	return (int)(((day % 7) + 7 + 4) % 7);
}

/* Exactly YYYY-MM-DD, a real date: 0 on success, -1 otherwise. */
static int
date_parse(const char *s, size_t len, long *day)
{
	static const int mdays[] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	int	 y, m, d, leap, max;
	size_t	 i;

	if (len != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	for (i = 0; i < len; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return -1;
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
	    (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < YEAR_MIN || y > YEAR_MAX || m < 1 || m > 12)
		return -1;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	max = mdays[m - 1] + (m == 2 && leap);
	if (d < 1 || d > max)
		return -1;
	*day = days_from_civil(y, m, d);
	return 0;
}

/* "Friday 12 July 2024": English names, whatever the locale. */
static int
date_format(char *buf, size_t size, long day)
{
	int	 y, m, d, r;

	civil_from_days(day, &y, &m, &d);
	r = snprintf(buf, size, "%s %d %s %d", days[weekday(day)], d,
	    months[m - 1], y);
	if (r < 0 || (size_t)r >= size)
		return -1;
	return 0;
}

/* Titles go out in a text/gemini body, which must be UTF-8. */
static int
utf8_valid(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	unsigned long		 cp;
	int			 n, i;

	while (*p) {
		if (*p < 0x80) {
			p++;
			continue;
		}
		if (*p >= 0xc2 && *p <= 0xdf)
			n = 1, cp = *p & 0x1f;
		else if (*p >= 0xe0 && *p <= 0xef)
			n = 2, cp = *p & 0x0f;
		else if (*p >= 0xf0 && *p <= 0xf4)
			n = 3, cp = *p & 0x07;
		else
			return 0;
		for (i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		/* overlong forms, surrogates, past U+10FFFF */
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return 0;
		p += n + 1;
	}
	return 1;
}

/*
 * A value shown back in an error: printable ASCII only and cut short, so
 * that no byte of the file can break the header line or its 1024 bytes.
 */
static void
quote(char *buf, size_t size, const char *s)
{
	size_t	 i, max;

	max = size - 4;		/* room for "..." and the NUL */
	if (max > QUOTE_MAX)
		max = QUOTE_MAX;
	for (i = 0; i < max && s[i] != '\0'; i++)
		buf[i] = (s[i] < 0x20 || s[i] > 0x7e) ? '?' : s[i];
	if (s[i] != '\0')
		buf[i++] = '.', buf[i++] = '.', buf[i++] = '.';
	buf[i] = '\0';
}

/* Keep the first error only: later ones are often its consequences. */
static int
fail(struct data *d, int status, int line, const char *fmt, ...)
{
	va_list	 ap;
	int	 r;

	if (d->status != 0)
		return 0;
	d->status = status;
	d->err_line = line;
	va_start(ap, fmt);
	r = vsnprintf(d->err, sizeof(d->err), fmt, ap);
	va_end(ap);
	if (r < 0)
		(void)snprintf(d->err, sizeof(d->err), "unprintable error");
	else if ((size_t)r >= sizeof(d->err))
		memcpy(d->err + sizeof(d->err) - 4, "...", 4);
	return 0;
}

/*
 * inih's line reader.  Reading the lines ourselves gives what inih's
 * handler is not told: the line number, and the section headers even of
 * sections with no keys.  It also refuses what inih would silently
 * misread: a line longer than its buffer (inih would parse the rest as a
 * new line), a NUL byte, and an indented line (inih would take it as the
 * continuation of the previous value).  Returning NULL stops the parse.
 */
static char *
data_reader(char *buf, int size, void *arg)
{
	struct data	*d = arg;
	char		*s, *t, *end;
	int		 c, n = 0, toolong = 0;

	if (d->status != 0)
		return NULL;
	while ((c = getc(d->fp)) != EOF && c != '\n') {
		if (c == '\0') {
			fail(d, 50, d->line + 1, "NUL byte");
			return NULL;
		}
		if (n < size - 1)
			buf[n++] = (char)c;
		else
			toolong = 1;
	}
	if (c == EOF && (ferror(d->fp) || n == 0))
		return NULL;
	buf[n] = '\0';
	d->line++;
	if (toolong) {
		fail(d, 50, d->line, "line longer than %d bytes", size - 1);
		return NULL;
	}
	s = buf;
	if (d->line == 1 && strncmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3;
	for (t = s; isspace((unsigned char)*t); t++)
		continue;
	if (t != s && *t != '\0' && *t != ';' && *t != '#') {
		fail(d, 50, d->line, "line starts with white space");
		return NULL;
	}
	if (*s == '[' && (end = section_end(s + 1)) != NULL) {
		*end = '\0';
		c = section_begin(d, s + 1);
		*end = ']';
		if (c == 0)
			return NULL;
	}
	return buf;
}

/*
 * The ']' closing a section header, found as inih finds it: a ';' after
 * white space starts a comment first, and then inih reports the line.
 */
static char *
section_end(char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == ']')
			return s;
		if (*s == ';' && (s[-1] == ' ' || s[-1] == '\t'))
			return NULL;
	}
	return NULL;
}

/* [dispute ID]: ID is lower-case letters, digits and '-', as in a URL. */
static int
section_begin(struct data *d, const char *name)
{
	struct dispute	*dp;
	const char	*id;
	char		 q[QUOTE_MAX + 4];
	size_t		 i, len;

	if (d->ndisputes > 0 && dispute_end(d) == 0)
		return 0;
	quote(q, sizeof(q), name);
	if (strncmp(name, "dispute ", 8) != 0)
		return fail(d, 50, d->line, "unknown section [%s] "
		    "(want [dispute ID])", q);
	id = name + 8;
	len = strlen(id);
	if (len == 0 || len > ID_MAX || strspn(id,
	    "abcdefghijklmnopqrstuvwxyz0123456789-") != len || *id == '-')
		return fail(d, 50, d->line, "bad dispute id in [%s] (want "
		    "1 to %d of a-z, 0-9, -)", q, ID_MAX);
	for (i = 0; i < d->ndisputes; i++)
		if (strcmp(d->disputes[i].id, id) == 0)
			return fail(d, 50, d->line, "dispute %s already "
			    "given on line %d", id, d->disputes[i].line);
	if (d->ndisputes == DISPUTES_MAX)
		return fail(d, 50, d->line, "more than %d disputes",
		    DISPUTES_MAX);
	dp = &d->disputes[d->ndisputes++];
	memset(dp, 0, sizeof(*dp));
	memcpy(dp->id, id, len + 1);
	dp->line = d->line;
	return 1;
}

/* A dispute is whole: the checks that need more than one key. */
static int
dispute_end(struct data *d)
{
	struct dispute	*dp = &d->disputes[d->ndisputes - 1];
	const char	*missing = NULL;

	if (dp->title_line == 0)
		missing = "title";
	else if (dp->began.line == 0)
		missing = "began";
	else if (dp->state == STATE_NONE)
		missing = "state";
	else if (dp->factsheet_line == 0)
		missing = "factsheet";
	else if (dp->asof.line == 0)
		missing = "asof";
	if (missing != NULL)
		return fail(d, 50, dp->line, "dispute %s has no %s", dp->id,
		    missing);
	if (dp->ended.line != 0 && dp->state != STATE_SETTLED)
		return fail(d, 50, dp->ended.line, "ended is for a settled "
		    "dispute, and this one is not");
	if (dp->suspended.line != 0 && dp->state != STATE_SUSPENDED)
		return fail(d, 50, dp->suspended.line, "suspended is for a "
		    "suspended dispute, and this one is not");
	if (dp->ended.line != 0 && dp->ended.day < dp->began.day)
		return fail(d, 50, dp->ended.line, "ended before it began");
	if (dp->suspended.line != 0 && dp->suspended.day < dp->began.day)
		return fail(d, 50, dp->suspended.line,
		    "suspended before it began");
	/* what the page says about the present, no source said yet */
	if (dp->asof.day < dp->began.day)
		return fail(d, 50, dp->asof.line, "asof before the dispute "
		    "began");
	if (dp->ended.line != 0 && dp->ended.day > dp->asof.day)
		return fail(d, 50, dp->ended.line, "ended after asof, the "
		    "newest source's date");
	if (dp->suspended.line != 0 && dp->suspended.day > dp->asof.day)
		return fail(d, 50, dp->suspended.line, "suspended after "
		    "asof, the newest source's date");
	return strikes_check(d, dp, d->ndisputes - 1);
}

static int
strikes_check(struct data *d, const struct dispute *dp, size_t n)
{
	const struct strike	*s;
	size_t			 i;

	for (i = 0; i < d->nstrikes; i++) {
		s = &d->strikes[i];
		if (s->dispute != n)
			continue;
		if (s->first < dp->began.day)
			return fail(d, 50, s->line, "strike before the "
			    "dispute began");
		if (s->last - dp->began.day >= SPAN_MAX)
			return fail(d, 50, s->line, "strike more than a "
			    "century after the dispute began");
		if (s->announced.line != 0 && s->announced.day >
		    dp->asof.day)
			return fail(d, 50, s->line, "announced after asof, "
			    "the newest source's date");
		if (s->cancelled.line != 0 && s->cancelled.day >
		    dp->asof.day)
			return fail(d, 50, s->line, "cancelled after asof, "
			    "the newest source's date");
		/* a cancelled block was never struck: nothing to contradict */
		if (s->cancelled.line != 0)
			continue;
		if (dp->ended.line != 0 && s->last > dp->ended.day)
			return fail(d, 50, s->line, "strike after the "
			    "dispute ended");
		if (dp->suspended.line != 0 && s->last > dp->suspended.day)
			return fail(d, 50, s->line, "strike after the "
			    "dispute was suspended (if action has resumed, "
			    "say state = live)");
	}
	return 1;
}

/* inih's handler: 1 to go on, 0 for an error (already recorded). */
static int
on_value(void *arg, const char *section, const char *name,
    const char *value)
{
	static const struct {
		const char	*name;
		int		(*set)(struct data *, struct dispute *,
				    const char *);
	} keys[] = {
		{ "title",	set_title },
		{ "began",	set_began },
		{ "state",	set_state },
		{ "ended",	set_ended },
		{ "suspended",	set_suspended },
		{ "factsheet",	set_factsheet },
		{ "asof",	set_asof },
		{ "strike",	set_strike },
	};
	struct data	*d = arg;
	char		 q[QUOTE_MAX + 4];
	size_t		 i;

	if (d->status != 0)
		return 0;
	if (*section == '\0')
		return global_value(d, name, value);
	if (d->ndisputes == 0)	/* the reader saw every header: cannot be */
		return fail(d, 50, d->line, "key outside any [dispute ID]");
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(name, keys[i].name) == 0)
			return keys[i].set(d,
			    &d->disputes[d->ndisputes - 1], value);
	quote(q, sizeof(q), name);
	return fail(d, 50, d->line, "unknown key \"%s\" in a dispute", q);
}

static int
global_value(struct data *d, const char *name, const char *value)
{
	char	 q[QUOTE_MAX + 4];

	quote(q, sizeof(q), name);
	if (strcmp(name, "timezone") != 0)
		return fail(d, 50, d->line, "unknown key \"%s\" (before the "
		    "first [dispute ID] only timezone is allowed)", q);
	if (d->tz_line != 0)
		return fail(d, 50, d->line, "timezone already given on "
		    "line %d", d->tz_line);
	if (tz_check(d, value) == 0)
		return 0;
	memcpy(d->tz, value, strlen(value) + 1);
	d->tz_line = d->line;
	return 1;
}

/*
 * A POSIX rule must begin with the standard zone's name (three letters
 * or more, or <...>) and its offset (hours, optionally :mm:ss); without
 * the offset glibc reads the whole rule as UTC and says nothing.
 */
static int
tz_rule_starts_well(const char *tz)
{
	const char	*p = tz, *end;

	if (*p == '<') {
		if ((end = strchr(p, '>')) == NULL || end - p < 4)
			return 0;
		p = end + 1;
	} else {
		if (strspn(p, LETTERS) < 3)
			return 0;
		p += strspn(p, LETTERS);
	}
	if (*p == '+' || *p == '-')
		p++;
	return *p >= '0' && *p <= '9';
}

/*
 * A zone name must exist under /usr/share/zoneinfo, or the C library
 * would quietly use UTC and "today" would be wrong for an hour each
 * summer night.  A POSIX rule (GMT0BST,M3.5.0/1,M10.5.0) needs no file,
 * which is what a chroot without zoneinfo wants.
 */
static int
tz_check(struct data *d, const char *tz)
{
	char	 q[QUOTE_MAX + 4], path[PATH_MAX];
	size_t	 len = strlen(tz), alpha;
	int	 r;

	quote(q, sizeof(q), tz);
	if (len == 0 || strspn(tz, LETTERS "0123456789/_+-,.:<>") != len ||
	    *tz == '/' || *tz == ':' || strstr(tz, "..") != NULL)
		return fail(d, 50, d->line, "bad timezone \"%s\"", q);
	/* "GMT0BST,...", "EST5EDT", "<+14>-14": a rule, not a file name */
	alpha = strspn(tz, LETTERS);
	if (strchr(tz, ',') != NULL || tz[0] == '<' || (alpha >= 3 &&
	    tz[alpha] != '\0' && strchr("+-0123456789", tz[alpha]) != NULL)) {
		/* the C library takes a rule it cannot read for UTC */
		if (!tz_rule_starts_well(tz))
			return fail(d, 50, d->line, "bad timezone rule \"%s\" "
			    "(want a name and an offset first, as in "
			    "GMT0BST,M3.5.0/1,M10.5.0)", q);
		return 1;
	}
	r = snprintf(path, sizeof(path), "%s/%s", zoneinfo(), tz);
	if (r < 0 || (size_t)r >= sizeof(path))
		return fail(d, 50, d->line, "bad timezone \"%s\"", q);
	if (access(path, R_OK) == -1)
		return fail(d, 50, d->line, "unknown timezone \"%s\" (no %s; "
		    "a POSIX rule such as GMT0BST,M3.5.0/1,M10.5.0 needs no "
		    "file)", q, path);
	return 1;
}

/* Where the C library looks for zone files. */
static const char *
zoneinfo(void)
{
	const char	*dir = getenv("TZDIR");

	return dir != NULL && *dir == '/' ? dir : ZONEINFO;
}

/* Text that goes on a gemtext line: UTF-8, no control characters. */
static int
text_check(struct data *d, const char *what, const char *v)
{
	const unsigned char	*p;

	if (*v == '\0')
		return fail(d, 50, d->line, "empty %s", what);
	if (!utf8_valid(v))
		return fail(d, 50, d->line, "%s is not UTF-8", what);
	for (p = (const unsigned char *)v; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return fail(d, 50, d->line, "control character in "
			    "%s", what);
	return 1;
}

static int
set_title(struct data *d, struct dispute *dp, const char *v)
{
	if (dp->title_line != 0)
		return fail(d, 50, d->line, "title already given on line %d",
		    dp->title_line);
	if (text_check(d, "title", v) == 0)
		return 0;
	memcpy(dp->title, v, strlen(v) + 1);
	dp->title_line = d->line;
	return 1;
}

/* The URL of a link line ends at the first space: so none are allowed. */
static int
set_factsheet(struct data *d, struct dispute *dp, const char *v)
{
	if (dp->factsheet_line != 0)
		return fail(d, 50, d->line, "factsheet already given on "
		    "line %d", dp->factsheet_line);
	if (text_check(d, "factsheet", v) == 0)
		return 0;
	if (strpbrk(v, " \t") != NULL)
		return fail(d, 50, d->line, "white space in factsheet "
		    "(percent-encode it as %%20)");
	memcpy(dp->factsheet, v, strlen(v) + 1);
	dp->factsheet_line = d->line;
	return 1;
}

static int
set_state(struct data *d, struct dispute *dp, const char *v)
{
	char	 q[QUOTE_MAX + 4];

	if (dp->state != STATE_NONE)
		return fail(d, 50, d->line, "state already given on line %d",
		    dp->state_line);
	if (strcmp(v, "live") == 0)
		dp->state = STATE_LIVE;
	else if (strcmp(v, "suspended") == 0)
		dp->state = STATE_SUSPENDED;
	else if (strcmp(v, "settled") == 0)
		dp->state = STATE_SETTLED;
	else {
		quote(q, sizeof(q), v);
		return fail(d, 50, d->line, "bad state \"%s\" (want live, "
		    "suspended or settled)", q);
	}
	dp->state_line = d->line;
	return 1;
}

static int
set_date(struct data *d, struct date *dt, const char *key, const char *v)
{
	char	 q[QUOTE_MAX + 4];

	if (dt->line != 0)
		return fail(d, 50, d->line, "%s already given on line %d",
		    key, dt->line);
	if (date_parse(v, strlen(v), &dt->day) == -1) {
		quote(q, sizeof(q), v);
		return fail(d, 50, d->line, "bad date \"%s\"", q);
	}
	dt->line = d->line;
	return 1;
}

static int
set_began(struct data *d, struct dispute *dp, const char *v)
{
	return set_date(d, &dp->began, "began", v);
}

static int
set_ended(struct data *d, struct dispute *dp, const char *v)
{
	return set_date(d, &dp->ended, "ended", v);
}

static int
set_suspended(struct data *d, struct dispute *dp, const char *v)
{
	return set_date(d, &dp->suspended, "suspended", v);
}

static int
set_asof(struct data *d, struct dispute *dp, const char *v)
{
	return set_date(d, &dp->asof, "asof", v);
}

/* The next word of s (spaces and tabs skipped): its start and length. */
static const char *
word(const char *s, size_t *len)
{
	s += strspn(s, " \t");
	*len = strcspn(s, " \t");
	return s;
}

/* The date after "announced" or "cancelled"; *p moves past it. */
static int
strike_date(struct data *d, const char **p, struct date *dt)
{
	const char	*w;
	char		 q[QUOTE_MAX + 4];
	size_t		 len;

	w = word(*p, &len);
	if (len != 10 || date_parse(w, len, &dt->day) == -1) {
		quote(q, sizeof(q), w);
		if (strlen(q) > 10)
			q[10] = '\0';
		return fail(d, 50, d->line, "bad date \"%s\"", q);
	}
	dt->line = d->line;
	*p = w + len;
	return 1;
}

/* After the dates: [weekdays] [announced DATE [cancelled DATE]]. */
static int
strike_flags(struct data *d, struct strike *s, const char *p)
{
	const char	*w;
	char		 q[QUOTE_MAX + 4];
	size_t		 len;

	w = word(p, &len);
	if (len == 8 && strncmp(w, "weekdays", len) == 0) {
		s->weekdays = 1;
		w = word(w + len, &len);
	}
	if (len == 9 && strncmp(w, "announced", len) == 0) {
		p = w + len;
		if (strike_date(d, &p, &s->announced) == 0)
			return 0;
		w = word(p, &len);
	}
	if (len == 9 && strncmp(w, "cancelled", len) == 0) {
		p = w + len;
		if (strike_date(d, &p, &s->cancelled) == 0)
			return 0;
		w = word(p, &len);
	}
	if (len == 0)
		return 1;
	quote(q, sizeof(q), w);
	return fail(d, 50, d->line, "bad strike flag \"%s\" (want "
	    "weekdays, announced DATE, cancelled DATE, in that order)", q);
}

/*
 * DATE or DATE..DATE, then [weekdays] [announced DATE [cancelled DATE]]:
 * when the block was made public, and when it was called off unstruck.
 */
static int
set_strike(struct data *d, struct dispute *dp, const char *v)
{
	struct strike	*s;
	char		 q[QUOTE_MAX + 4];
	const char	*bad, *range;
	size_t		 len;

	if (d->nstrikes == STRIKES_MAX)
		return fail(d, 50, d->line, "more than %d strike lines",
		    STRIKES_MAX);
	s = &d->strikes[d->nstrikes];
	memset(s, 0, sizeof(*s));
	s->line = d->line;
	s->dispute = dp - d->disputes;
	range = word(v, &len);
	if (strike_flags(d, s, range + len) == 0)
		return 0;
	if (len == 10) {
		bad = date_parse(range, 10, &s->first) == -1 ? range : NULL;
		s->last = s->first;
		if (bad == NULL && s->weekdays)
			return fail(d, 50, d->line, "weekdays is for a range "
			    "of dates");
	} else if (len == 22 && strncmp(range + 10, "..", 2) == 0) {
		bad = date_parse(range, 10, &s->first) == -1 ? range :
		    date_parse(range + 12, 10, &s->last) == -1 ? range + 12 :
		    NULL;
	} else {
		quote(q, sizeof(q), v);
		return fail(d, 50, d->line, "bad strike \"%s\" (want "
		    "YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD)", q);
	}
	if (bad != NULL) {
		quote(q, sizeof(q), bad);
		if (strlen(q) > 10)
			q[10] = '\0';
		return fail(d, 50, d->line, "bad date \"%s\"", q);
	}
	if (s->last < s->first)
		return fail(d, 50, d->line, "reversed range (ends before it "
		    "starts)");
	if (s->announced.line != 0 && s->announced.day > s->first)
		return fail(d, 50, d->line, "announced after its first day "
		    "(a block is announced before it begins)");
	if (s->cancelled.line != 0 && s->announced.line == 0)
		return fail(d, 50, d->line, "cancelled needs announced DATE "
		    "(a block never announced was never planned)");
	if (s->cancelled.line != 0 && s->cancelled.day < s->announced.day)
		return fail(d, 50, d->line, "cancelled before it was "
		    "announced");
	/* a block partly struck is two blocks: the days struck, the rest */
	if (s->cancelled.line != 0 && s->cancelled.day > s->first)
		return fail(d, 50, d->line, "cancelled after its first day "
		    "(give the days struck a line of their own)");
	d->nstrikes++;
	return 1;
}

static void
data_load(struct data *d)
{
	int	 r;

	if ((d->fp = fopen(d->path, "r")) == NULL) {
		fail(d, 40, 0, "%s", strerror(errno));
		return;
	}
	r = ini_parse_stream(data_reader, d, on_value, d);
	if (d->status == 0 && ferror(d->fp))
		fail(d, 40, 0, "read error");
	(void)fclose(d->fp);
	d->fp = NULL;
	/* inih reports lines it cannot parse; the earlier error wins */
	if (r > 0 && (d->status == 0 || r < d->err_line)) {
		d->status = 0;
		fail(d, 50, r, "syntax error (want key = value, "
		    "[dispute ID], or a ; comment)");
	}
	if (d->status == 0 && d->ndisputes > 0)
		dispute_end(d);
	/*
	 * The default zone without its file (a chroot, no tzdata) would be
	 * UTC without a word: an hour wrong each summer night.  Its rule
	 * then; the page still names the zone.
	 */
	if (d->status == 0 && d->tz_line == 0)
		default_zone(d);
}

/*
 * The default zone without its file (a chroot, no tzdata) would be UTC
 * without a word: an hour wrong each summer night.  Its POSIX rule then;
 * the page still names the zone.
 */
static void
default_zone(struct data *d)
{
	char	path[PATH_MAX];
	int	r;

	r = snprintf(path, sizeof(path), "%s/%s", zoneinfo(), TZ_DEFAULT);
	snprintf(d->tz, sizeof(d->tz), "%s", r > 0 &&
	    (size_t)r < sizeof(path) && access(path, R_OK) == 0 ?
	    TZ_DEFAULT : TZ_DEFAULT_RULE);
}

/* STRIKE_TODAY for tests, or else the clock in the data file's zone. */
static int
today_get(struct data *d, long *today)
{
	const char	*fixed = getenv("STRIKE_TODAY");
	char		 q[QUOTE_MAX + 4];
	struct tm	 tm;
	time_t		 now;

	if (fixed != NULL) {
		if (date_parse(fixed, strlen(fixed), today) == 0)
			return 0;
		quote(q, sizeof(q), fixed);
		d->path = "STRIKE_TODAY";
		fail(d, 50, 0, "bad date \"%s\"", q);
		return -1;
	}
	if (setenv("TZ", d->tz, 1) == -1) {
		fail(d, 40, 0, "setenv: %s", strerror(errno));
		return -1;
	}
	tzset();
	if (time(&now) == (time_t)-1 || localtime_r(&now, &tm) == NULL) {
		fail(d, 40, 0, "cannot read the clock");
		return -1;
	}
	*today = days_from_civil(tm.tm_year + 1900, tm.tm_mon + 1,
	    tm.tm_mday);
	return 0;
}

/*
 * What was known on the day "today": the days struck up to it (a fact
 * now, whatever was known then), and the days planned after it as
 * announced by then and not yet cancelled.  Nothing announced later is
 * shown, so that a past date does not show its future.
 */
static void
counts_get(const struct data *d, size_t n, long today, struct counts *c)
{
	const struct dispute	*dp = &d->disputes[n];
	const struct strike	*s;
	long			 day, bit, wd, known;
	size_t			 i;
	int			 open;

	memset(struck, 0, sizeof(struck));
	memset(planned, 0, sizeof(planned));
	for (i = 0; i < d->nstrikes; i++) {
		s = &d->strikes[i];
		if (s->dispute != n)
			continue;
		known = s->announced.line != 0 ? s->announced.day : s->first;
		open = known <= today && (s->cancelled.line == 0 ||
		    s->cancelled.day > today);
		for (day = s->first; day <= s->last; day++) {
			wd = weekday(day);
			if (s->weekdays && (wd == 0 || wd == 6))
				continue;
			bit = day - dp->began.day;
			if (s->cancelled.line == 0 && day <= today)
				struck[bit / 8] |= 1 << (bit % 8);
			else if (day > today && open)
				planned[bit / 8] |= 1 << (bit % 8);
		}
	}
	memset(c, 0, sizeof(*c));
	c->since = today - dp->began.day;
	c->first = c->last = c->next = NONE;
	for (bit = 0; bit < SPAN_MAX; bit++) {
		day = dp->began.day + bit;
		if (planned[bit / 8] & (1 << (bit % 8))) {
			if (c->planned++ == 0)
				c->next = day;
			continue;
		}
		if ((struck[bit / 8] & (1 << (bit % 8))) == 0)
			continue;
		if (c->first == NONE)
			c->first = day;
		if (day > dp->asof.day)
			c->unsure++;
		if (day == today)
			c->today = 1;
		else {
			c->before++;
			c->last = day;
		}
	}
}

/*
 * "50 ../.data/disputes.ini:7: bad date "2024-13-01"".  The path comes from
 * the environment and may be anything: show its printable tail only.
 */
static void
reply_error(const struct data *d)
{
	char		 meta[META_MAX + 1], where[256];
	const char	*p = d->path;
	size_t		 len = strlen(p), i;
	int		 r, cut = 0;

	if (len > 200) {
		p += len - 200;
		cut = 1;
	}
	for (i = 0; p[i] != '\0'; i++)
		where[i] = (p[i] < 0x20 || p[i] > 0x7e) ? '?' : p[i];
	where[i] = '\0';
	if (d->err_line > 0)
		r = snprintf(meta, sizeof(meta), "%s%s:%d: %s",
		    cut ? "..." : "", where, d->err_line, d->err);
	else
		r = snprintf(meta, sizeof(meta), "%s%s: %s",
		    cut ? "..." : "", where, d->err);
	if (r < 0 || (size_t)r >= sizeof(meta))	/* cannot be: 3+200+256 */
		printf("%d bad data file\r\n", d->status);
	else
		printf("%d %s\r\n", d->status, meta);
}

static const char *
plural(long n)
{
	return n == 1 ? "" : "s";
}

static const char *
was(long n)
{
	return n == 1 ? "was" : "were";
}

/*
 * "N days since" counts from two days a reader may mean: the day the
 * dispute began, and the first strike day (the branch's "400 days since
 * the dispute first began" counts from the first walkout).  Both are
 * shown, each with its date, so that neither is mistaken for the other.
 * On a strike day the count says which day of action today is, and
 * that the days "taken" are the ones before it, as reports count them.
 * Past the newest source (asof), nothing is said as if it were known.
 */
static void
render_dispute(const struct data *d, size_t n, long today, int heading,
    const char *script)
{
	const struct dispute	*dp = &d->disputes[n];
	struct counts		 c;
	char			 began[64], first[64], last[64], next[64];
	char			 asof[64];
	int			 late = today > dp->asof.day;

	counts_get(d, n, today, &c);
	if (date_format(began, sizeof(began), dp->began.day) == -1 ||
	    date_format(asof, sizeof(asof), dp->asof.day) == -1 ||
	    (c.first != NONE &&
	    date_format(first, sizeof(first), c.first) == -1) ||
	    (c.last != NONE &&
	    date_format(last, sizeof(last), c.last) == -1) ||
	    (c.next != NONE &&
	    date_format(next, sizeof(next), c.next) == -1))
		return;		/* cannot be: years have four digits */
	if (heading)
		printf("## %s\n\n", dp->title);
	if (c.since >= 0)
		printf("%ld day%s since the dispute began on %s.\n", c.since,
		    plural(c.since), began);
	else
		printf("The dispute begins on %s.\n", began);
	if (c.first != NONE)
		printf("%ld day%s since the first strike day, %s.\n",
		    today - c.first, plural(today - c.first), first);
	if (c.today)
		printf("%ld day%s of strike action taken before today; today "
		    "is day %ld of strike action.\n", c.before,
		    plural(c.before), c.before + 1);
	else
		printf("%ld day%s of strike action taken; today is not a "
		    "strike day.\n", c.before, plural(c.before));
	if (c.unsure > 0)
		printf("%ld of these days (after %s, the newest report we "
		    "hold) %s only planned: not confirmed as taken.\n",
		    c.unsure, asof, was(c.unsure));
	if (c.planned > 0)
		printf("%ld more day%s of strike action planned after today"
		    "%s%s.\n", c.planned, plural(c.planned),
		    late ? ", as of " : "", late ? asof : "");
	if (late)
		printf("The newest report we hold is of %s: nothing after it "
		    "is known here.\n", asof);
	printf("\n* Last strike day before today: %s\n",
	    c.last == NONE ? "none" : last);
	printf("* Next strike day after today: %s%s%s\n",
	    c.next == NONE ? "none planned" : next,
	    c.next == NONE && late ? ", as of " : "",
	    c.next == NONE && late ? asof : "");
	render_state(dp, today);
	printf("\n=> %s Fact sheet: %s\n", dp->factsheet, dp->title);
	if (script != NULL && heading)
		printf("=> %s/%s Counter for this dispute only\n", script,
		    dp->id);
	else if (script != NULL)
		printf("=> %s All disputes\n", script);
}

/*
 * The state on the day "today", from the data file's dates: live until
 * the day strike action was suspended or the dispute settled (without a
 * date, from asof).  "suspended" is the strike action's state, not the
 * dispute's: a dispute whose action is suspended is still live (talks,
 * or a new ballot), and the page must not read as if it were over.
 * After asof it is said as of asof, in the past tense.
 */
static void
render_state(const struct dispute *dp, long today)
{
	char	 when[64], asof[64];
	long	 since;
	int	 late = today > dp->asof.day;

	if (date_format(asof, sizeof(asof), dp->asof.day) == -1)
		return;		/* cannot be: years have four digits */
	if (late)
		printf("* State: as of the newest report we hold, of %s, ",
		    asof);
	else
		printf("* State: ");
	since = dp->state == STATE_SUSPENDED ? (dp->suspended.line != 0 ?
	    dp->suspended.day : dp->asof.day) : dp->state == STATE_SETTLED ?
	    (dp->ended.line != 0 ? dp->ended.day : dp->asof.day) : NONE;
	if (since == NONE || since > today)
		printf("%s\n", late ? "the dispute was live" : "live");
	else if (dp->state == STATE_SETTLED && dp->ended.line != 0 &&
	    date_format(when, sizeof(when), since) == 0)
		printf("the dispute %s settled on %s\n", late ? "had been" :
		    "was", when);
	else if (dp->state == STATE_SETTLED)
		printf("the dispute %s settled\n", late ? "had been" : "is");
	else if (dp->suspended.line != 0 &&
	    date_format(when, sizeof(when), since) == 0)
		printf("the dispute %s live; only strike action %s "
		    "suspended, on %s\n", late ? "was" : "is",
		    late ? "had been" : "was", when);
	else
		printf("the dispute %s live; only strike action %s "
		    "suspended\n", late ? "was" : "is", late ? "was" : "is");
}

static void
render(const struct data *d, const struct dispute *only, long today,
    const char *script)
{
	char	 date[64];
	size_t	 i;

	if (date_format(date, sizeof(date), today) == -1)
		date[0] = '\0';
	printf("20 %s\r\n", CONTENT_TYPE);
	printf("# %s\n\n", only != NULL ? only->title :
	    "Strike-day counter");
	printf("Today is %s (%s).\n", date, getenv("STRIKE_TODAY") != NULL ?
	    "date fixed by STRIKE_TODAY" : d->tz_line == 0 ? TZ_DEFAULT : d->tz);
	if (only != NULL) {
		printf("\n");
		render_dispute(d, only - d->disputes, today, 0, script);
		printf("=> / Home\n");
		return;
	}
	if (d->ndisputes == 0)
		printf("\nNo disputes are listed.\n");
	for (i = 0; i < d->ndisputes; i++) {
		printf("\n");
		render_dispute(d, i, today, 1, script);
	}
	printf("\n=> / Home\n");
}

/* Links back to the script need its path; leave them out if it is odd. */
static const char *
script_name(void)
{
	const char	*s = getenv("SCRIPT_NAME");

	if (s == NULL || *s != '/' || strlen(s) > 512 ||
	    strpbrk(s, " \t\r\n") != NULL || !utf8_valid(s))
		return NULL;
	return s;
}

int
main(void)
{
	struct data		*d = &data;
	const struct dispute	*only = NULL;
	const char		*info;
	long			 today = 0;
	size_t			 i, len;

	d->path = getenv("STRIKE_DATA");
	if (d->path == NULL || *d->path == '\0')
		d->path = DATA_DEFAULT;
	data_load(d);
	if (d->status == 0)
		(void)today_get(d, &today);
	if (d->status != 0) {
		reply_error(d);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	/* "/ID", with or without a trailing slash; "" and "/" mean all */
	info = getenv("PATH_INFO");
	if (info != NULL && *info == '/')
		info++;
	if (info != NULL && *info != '\0') {
		len = strlen(info);
		if (len > 0 && info[len - 1] == '/')
			len--;
		for (i = 0; i < d->ndisputes && only == NULL; i++)
			if (strlen(d->disputes[i].id) == len &&
			    strncmp(d->disputes[i].id, info, len) == 0)
				only = &d->disputes[i];
		if (only == NULL) {
			printf("51 No such dispute\r\n");
			return fflush(stdout) == 0 ? 0 : 1;
		}
	}
	render(d, only, today, script_name());
	return fflush(stdout) == 0 ? 0 : 1;
}
