/*
 * config.c: inih callbacks -> one validated struct config.
 *
 * inih reports the line of the first line a handler refused; the
 * handler leaves its message in the parse context, so every error reads
 * "file:line: message".  Checks that need the whole file (a host with
 * no root) name the line of the host's section header.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include <ini.h>

#include "config.h"
#include "rules.h"
#include "url.h"

#define HOST_PREFIX	"host "

struct parse {
	struct config	*cf;
	const char	*text;		/* for finding section lines */
	const char	*cursor;	/* the text after the key's line */
	int		 line;		/* the key's line (key_line) */
	char		 msg[CONFIG_ERR_MAX];
	int		 failed;
	int		 fail_line;	/* the key's line at the first refusal */
	int		 after_key;	/* key_line: an indented line continues */
	int		 continued;	/* this value is such a line */
	char		 section[300];	/* the [host ...] being filled */
	int		 in_server;	/* last section seen was [server] */
	int		 seen_server;
	char		 seen[32][32];	/* keys set in the current section */
	char		 headers[64][300];	/* section headers met */
	size_t		 nheaders;
	size_t		 nseen;
};

/* Copy a string that must fit; 0 or -1. */
static int
copy(char *dst, size_t dstlen, const char *src)
{
	size_t	len = strlen(src);

	if (len >= dstlen)
		return -1;
	memcpy(dst, src, len + 1);
	return 0;
}

/* Record the first error; returns 0, the inih "refused" value. */
static int __attribute__((format(printf, 2, 3)))
fail(struct parse *p, const char *fmt, ...)
{
	va_list	ap;

	if (!p->failed) {
		va_start(ap, fmt);
		(void)vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
		va_end(ap);
		p->failed = 1;
	}
	return 0;
}

/* An integer in [min, max]; 0 or -1. */
static int
parse_int(const char *s, long min, long max, long *out)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "on", "yes", "true", "1" };
	static const char *const no[] = { "off", "no", "false", "0" };
	size_t	 i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return *out = 1, 0;
		if (strcasecmp(s, no[i]) == 0)
			return *out = 0, 0;
	}
	return -1;
}

/* dir + "/" + path unless path is absolute. */
static int
resolve_path(const struct config *cf, const char *path, char *out,
    size_t outlen)
{
	int	n;

	if (*path == '\0')
		return -1;
	if (path[0] == '/')
		return copy(out, outlen, path);
	n = snprintf(out, outlen, "%s/%s", cf->dir, path);
	return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

/* "127.0.0.1:1965", "[::1]:1965". */
static int
parse_addr(const char *tok, struct listen_addr *la)
{
	char		 host[64];
	const char	*colon, *hs, *he;
	long		 port;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&la->ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&la->ss;

	memset(la, 0, sizeof(*la));
	if (tok[0] == '[') {
		hs = tok + 1;
		if ((he = strchr(hs, ']')) == NULL || he[1] != ':')
			return -1;
		colon = he + 1;
	} else {
		hs = tok;
		if ((colon = strrchr(tok, ':')) == NULL)
			return -1;
		he = colon;
	}
	if ((size_t)(he - hs) >= sizeof(host) || he == hs)
		return -1;
	memcpy(host, hs, he - hs);
	host[he - hs] = '\0';
	if (parse_int(colon + 1, 1, 65535, &port) == -1)
		return -1;
	if (tok[0] == '[' && inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		la->sslen = sizeof(*sin6);
	} else if (tok[0] != '[' &&
	    inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		la->sslen = sizeof(*sin);
	} else
		return -1;
	la->port = (int)port;
	return copy(la->text, sizeof(la->text), tok);
}

static int
server_listen(struct parse *p, const char *value)
{
	struct config		*cf = p->cf;
	struct listen_addr	*la;
	char			 buf[1024], *tok, *save = NULL;
	size_t			 first = cf->nlisten, i;
	int			 proxy = 0;

	if (copy(buf, sizeof(buf), value) == -1)
		return fail(p, "listen: line too long");
	for (tok = strtok_r(buf, " \t", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t", &save)) {
		if (strcmp(tok, "proxy") == 0) {
			proxy = 1;
			continue;
		}
		if (cf->nlisten == CONFIG_MAX_LISTEN)
			return fail(p, "listen: more than 16 addresses");
		la = &cf->listen[cf->nlisten];
		if (parse_addr(tok, la) == -1)
			return fail(p, "listen: \"%s\" is not ADDR:PORT with a "
			    "numeric address (127.0.0.1:1965, [::1]:1965)", tok);
		/* at start it would fail as "address in use", naming no line */
		for (i = 0; i < cf->nlisten; i++)
			if (cf->listen[i].sslen == la->sslen &&
			    memcmp(&cf->listen[i].ss, &la->ss, la->sslen) == 0)
				return fail(p, "listen: %s given twice", tok);
		cf->nlisten++;
	}
	if (first == cf->nlisten)
		return fail(p, "listen: no address given");
	for (i = first; i < cf->nlisten; i++)
		cf->listen[i].proxy = proxy;
	return 1;
}

static int
server_log(struct parse *p, const char *value)
{
	struct config	*cf = p->cf;

	if (strcmp(value, "stderr") == 0)
		cf->access_log = ACCESS_STDERR;
	else if (strcmp(value, "syslog") == 0)
		cf->access_log = ACCESS_SYSLOG;
	else if (strcmp(value, "off") == 0)
		cf->access_log = ACCESS_OFF;
	else {
		cf->access_log = ACCESS_FILE;
		if (resolve_path(cf, value, cf->access_log_file,
		    sizeof(cf->access_log_file)) == -1)
			return fail(p, "access_log: bad path \"%s\"", value);
	}
	return 1;
}

/* A login name: letters, digits, '_', '.', '-', not starting with '-'. */
static int
server_user(struct parse *p, const char *value)
{
	const char	*s;

	for (s = value; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' &&
		    *s != '-')
			break;
	if (*s != '\0' || *value == '\0' || *value == '-' ||
	    copy(p->cf->user, sizeof(p->cf->user), value) == -1)
		return fail(p, "user: \"%s\" is not a user name", value);
	return 1;
}

/* daemon, local0 .. local7: the facilities an admin routes by. */
static int
server_facility(struct parse *p, const char *value)
{
	static const struct {
		const char	*name;
		int		 facility;
	} fac[] = {
		{ "daemon", LOG_DAEMON }, { "local0", LOG_LOCAL0 },
		{ "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
		{ "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 },
		{ "local5", LOG_LOCAL5 }, { "local6", LOG_LOCAL6 },
		{ "local7", LOG_LOCAL7 },
	};
	size_t	i;

	for (i = 0; i < sizeof(fac) / sizeof(fac[0]); i++)
		if (strcmp(value, fac[i].name) == 0) {
			p->cf->syslog_facility = fac[i].facility;
			return 1;
		}
	return fail(p, "syslog_facility: expected daemon or local0 to "
	    "local7, not \"%s\"", value);
}

/*
 * The logs and the metrics (log_format, log_ip, metrics_file,
 * metrics_interval): 1 handled, 0 error, -1 not one of these keys.
 */
static int
server_logs_key(struct parse *p, const char *name, const char *value)
{
	static const char *const formats[] = { "capsuled", "common",
	    "combined", "json" };
	static const char *const ips[] = { "full", "truncated", "off" };
	struct config	*cf = p->cf;
	size_t		 i, len = strlen(value);
	long		 v;

	if (strcmp(name, "log_format") == 0) {
		for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
			if (strcmp(value, formats[i]) == 0)
				return cf->log_format = (enum log_format)i, 1;
		return fail(p, "log_format: expected capsuled, common, "
		    "combined or json, not \"%s\"", value);
	}
	if (strcmp(name, "log_ip") == 0) {
		for (i = 0; i < sizeof(ips) / sizeof(ips[0]); i++)
			if (strcmp(value, ips[i]) == 0)
				return cf->log_ip = (enum log_ip)i, 1;
		return fail(p, "log_ip: expected full, truncated or off, not "
		    "\"%s\"", value);
	}
	if (strcmp(name, "metrics_file") == 0) {
		/* a file: written beside it as NAME.tmp, then renamed */
		if (len == 0 || value[len - 1] == '/' || resolve_path(cf,
		    value, cf->metrics_file, sizeof(cf->metrics_file)) == -1)
			return fail(p, "metrics_file: expected a file's path, "
			    "not \"%s\"", value);
		cf->metrics_line = p->line;	/* for metrics_check */
		return 1;
	}
	if (strcmp(name, "metrics_interval") == 0) {
		if (parse_int(value, 1, 3600, &v) == -1)
			return fail(p, "metrics_interval: expected a number "
			    "from 1 to 3600, not \"%s\"", value);
		cf->metrics_interval = (int)v;
		return 1;
	}
	return -1;
}

struct int_key {
	const char	*name;
	long		 min, max;
	size_t		 offset;	/* of an int (or long) in the struct */
	int		 is_long;
};

static const struct int_key server_ints[] = {
	{ "request_timeout", 1, 3600, offsetof(struct config, request_timeout), 0 },
	{ "write_timeout", 1, 3600, offsetof(struct config, write_timeout), 0 },
	{ "stop_timeout", 0, 3600, offsetof(struct config, stop_timeout), 0 },
	{ "max_connections", 1, 1000000, offsetof(struct config, max_connections), 0 },
	{ "max_connections_total", 0, 10000000, offsetof(struct config, max_connections_total), 0 },
	{ "max_per_client", 0, 1000000, offsetof(struct config, max_per_client), 0 },
	{ "rate_limit", 0, 1000000, offsetof(struct config, rate_limit), 0 },
	{ "rate_period", 1, 86400, offsetof(struct config, rate_period), 0 },
	{ "rate_burst", 0, 1000000, offsetof(struct config, rate_burst), 0 },
	{ "cgi_max", 1, 10000, offsetof(struct config, cgi_max), 0 },
	{ "cgi_max_output", 1024, LONG_MAX, offsetof(struct config, cgi_max_output), 1 },
};

static const struct int_key host_ints[] = {
	{ "cgi_timeout", 1, 3600, offsetof(struct host_cfg, cgi_timeout), 0 },
	{ "feed_entries", 1, 100000, offsetof(struct host_cfg, feed_entries), 0 },
	{ "autoindex_max", 1, 1000000, offsetof(struct host_cfg, autoindex_max), 0 },
	{ "upstream_timeout", 0, 3600, offsetof(struct host_cfg, upstream_timeout), 0 },
};

/*
 * Titan uploads: how big (per host), how many at once and how slow (for
 * the whole server: one writer takes every host's uploads).
 */
static const struct int_key titan_server_ints[] = {
	{ "titan_min_rate", 1, 1L << 30, offsetof(struct config, titan_min_rate), 1 },
	{ "titan_jobs_per_cert", 0, 64, offsetof(struct config, titan_jobs_per_cert), 0 },
	{ "titan_jobs_per_address", 0, 64, offsetof(struct config, titan_jobs_per_address), 0 },
};

static const struct int_key titan_host_ints[] = {
	{ "titan_max_size", 1, 1L << 40, offsetof(struct host_cfg, titan_max_size), 1 },
	{ "titan_quota", 0, 1L << 40, offsetof(struct host_cfg, titan_quota), 1 },
};

/* 1: handled, 0: error, -1: not an integer key. */
static int
set_int(struct parse *p, const struct int_key *keys, size_t nkeys,
    void *base, const char *name, const char *value)
{
	long	 v;
	size_t	 i;

	for (i = 0; i < nkeys; i++) {
		if (strcmp(keys[i].name, name) != 0)
			continue;
		if (parse_int(value, keys[i].min, keys[i].max, &v) == -1)
			return fail(p, "%s: expected a number from %ld to %ld, "
			    "not \"%s\"", name, keys[i].min, keys[i].max, value);
		if (keys[i].is_long)
			*(long *)((char *)base + keys[i].offset) = v;
		else
			*(int *)((char *)base + keys[i].offset) = (int)v;
		return 1;
	}
	return -1;
}

static int
server_key(struct parse *p, const char *name, const char *value)
{
	long	v;
	int	r;

	if (strcmp(name, "listen") == 0)
		return server_listen(p, value);
	if (strcmp(name, "access_log") == 0)
		return server_log(p, value);
	if (strcmp(name, "user") == 0)
		return server_user(p, value);
	if (strcmp(name, "chroot") == 0) {
		if (resolve_path(p->cf, value, p->cf->chroot,
		    sizeof(p->cf->chroot)) == -1)
			return fail(p, "chroot: bad path \"%s\"", value);
		return 1;
	}
	if (strcmp(name, "syslog_facility") == 0)
		return server_facility(p, value);
	if (strcmp(name, "syslog_socket") == 0) {
		if (value[0] != '/' || copy(p->cf->syslog_socket,
		    sizeof(p->cf->syslog_socket), value) == -1)
			return fail(p, "syslog_socket: expected an absolute "
			    "path of at most %zu bytes, not \"%s\"",
			    sizeof(p->cf->syslog_socket) - 1, value);
		return 1;
	}
	if (strcmp(name, "pidfile") == 0 || strcmp(name, "ticket_keys") == 0) {
		if (resolve_path(p->cf, value, name[0] == 'p' ?
		    p->cf->pidfile : p->cf->ticket_keys, PATH_MAX) == -1)
			return fail(p, "%s: bad path \"%s\"", name, value);
		return 1;
	}
	if (strcmp(name, "workers") == 0) {
		if (strcmp(value, "auto") == 0)
			p->cf->workers = 0;
		else if (parse_int(value, 1, 256, &v) == 0)
			p->cf->workers = (int)v;
		else
			return fail(p, "workers: expected auto or 1 to 256, "
			    "not \"%s\"", value);
		return 1;
	}
	if ((r = server_logs_key(p, name, value)) != -1)
		return r;
	r = set_int(p, server_ints, sizeof(server_ints) / sizeof(server_ints[0]),
	    p->cf, name, value);
	if (r == -1)
		r = set_int(p, titan_server_ints, sizeof(titan_server_ints) /
		    sizeof(titan_server_ints[0]), p->cf, name, value);
	if (r != -1)
		return r;
	return fail(p, "unknown key \"%s\" in [server]", name);
}

/* A path under the root: relative, no "." or ".." segment, no dotfile. */
static int
sub_dir(const char *value, char *out, size_t outlen)
{
	const char	*s;
	size_t		 len;

	while (*value == '/')
		value++;
	if (copy(out, outlen, value) == -1 || *out == '\0')
		return -1;
	len = strlen(out);
	while (len > 0 && out[len - 1] == '/')
		out[--len] = '\0';
	/* every segment: no dot segment, no dotfile, no empty segment */
	for (s = out;; s++) {
		if (*s == '.' || *s == '/')
			return -1;
		if ((s = strchr(s, '/')) == NULL)
			return 0;
	}
}

static int
host_feeds(struct parse *p, struct host_cfg *h, const char *value)
{
	char	 buf[1024], *tok, *save = NULL;

	if (copy(buf, sizeof(buf), value) == -1)
		return fail(p, "feeds: line too long");
	for (tok = strtok_r(buf, " \t", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t", &save)) {
		if (h->nfeeds == CONFIG_MAX_FEEDS)
			return fail(p, "feeds: more than 16 directories");
		if (sub_dir(tok, h->feeds[h->nfeeds].dir,
		    sizeof(h->feeds[0].dir)) == -1)
			return fail(p, "feeds: \"%s\" is not a directory "
			    "under the root", tok);
		h->nfeeds++;
	}
	return 1;
}

/* feed_title = DIR Title words */
static int
host_feed_title(struct parse *p, struct host_cfg *h, const char *value)
{
	char	 dir[256];
	size_t	 i, n = strcspn(value, " \t");

	if (n >= sizeof(dir) || value[n] == '\0')
		return fail(p, "feed_title: expected DIR TITLE, not \"%s\"",
		    value);
	memcpy(dir, value, n);
	dir[n] = '\0';
	value += n + strspn(value + n, " \t");
	for (i = 0; i < h->nfeeds; i++)
		if (strcmp(h->feeds[i].dir, dir) == 0)
			break;
	if (i == h->nfeeds)
		return fail(p, "feed_title: \"%s\" is not listed in feeds "
		    "(set feeds first)", dir);
	if (copy(h->feeds[i].title, sizeof(h->feeds[i].title), value) == -1)
		return fail(p, "feed_title: title too long");
	return 1;
}

/* feed_author = Barnet UNISON: any text, but not empty or controls */
static int
host_feed_author(struct parse *p, struct host_cfg *h, const char *value)
{
	const char	*s;

	for (s = value; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return fail(p, "feed_author: control character");
	if (*value == '\0' || copy(h->feed_author, sizeof(h->feed_author),
	    value) == -1)
		return fail(p, "feed_author: expected a name of 1 to 255 "
		    "bytes");
	return 1;
}

/*
 * The PATH of `access` or `titan`: a URL path as requests are compared
 * in (decoded), no dot segment, no dotfile, no empty segment.  A titan
 * PATH is a directory: a '/' is added at its end.
 */
static int
rule_path(const char *s, size_t n, int dir, char *out, size_t outlen)
{
	size_t	i;

	if (n == 0 || s[0] != '/' || n + 2 > outlen)
		return -1;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f ||
		    (s[i] == '/' && i + 1 < n && (s[i + 1] == '/' ||
		    s[i + 1] == '.')))
			return -1;
	memcpy(out, s, n);
	if (dir && s[n - 1] != '/')
		out[n++] = '/';
	out[n] = '\0';
	return 0;
}

/* access = PATH FILE, titan = PATH FILE */
static int
host_rule(struct parse *p, const char *name, const char *value,
    struct rule_cfg *rules, size_t *n)
{
	size_t	plen = strcspn(value, " \t");
	const char *file = value + plen + strspn(value + plen, " \t");

	if (*n == CONFIG_MAX_RULES)
		return fail(p, "%s: more than %d rules in this host", name,
		    CONFIG_MAX_RULES);
	if (*file == '\0' || rule_path(value, plen, name[0] == 't',
	    rules[*n].path, sizeof(rules[*n].path)) == -1)
		return fail(p, "%s: expected PATH FILE (PATH a URL path such "
		    "as /members/, FILE a fingerprint list), not \"%s\"", name,
		    value);
	if (resolve_path(p->cf, file, rules[*n].file, PATH_MAX) == -1)
		return fail(p, "%s: bad path \"%s\"", name, file);
	(*n)++;
	return 1;
}

/* One word of titan_mime: type/subtype, RFC 2045 token characters. */
static int
mime_word(const char *s, size_t n)
{
	const char	*slash = memchr(s, '/', n);
	size_t		 i;

	if (slash == NULL || slash == s || slash == s + n - 1)
		return 0;
	for (i = 0; i < n; i++)
		if (s + i != slash && !isalnum((unsigned char)s[i]) &&
		    strchr("!#$&^_.+-", s[i]) == NULL)
			return 0;
	return 1;
}

/* titan_mime = TYPE ... */
static int
host_titan_mime(struct parse *p, struct host_cfg *h, const char *value)
{
	const char	*s = value;
	size_t		 n;
	int		 words = 0;

	if (copy(h->titan_mime, sizeof(h->titan_mime), value) == -1)
		return fail(p, "titan_mime: line too long");
	for (;;) {
		s += strspn(s, " \t");
		if (*s == '\0')
			break;
		n = strcspn(s, " \t");
		if (!mime_word(s, n))
			return fail(p, "titan_mime: expected type/subtype "
			    "words such as text/gemini, not \"%.*s\"", (int)n,
			    s);
		words++;
		s += n;
	}
	return words > 0 ? 1 : fail(p, "titan_mime: no type given");
}

static int
host_path(struct parse *p, const char *name, const char *value, char *out)
{
	if (resolve_path(p->cf, value, out, PATH_MAX) == -1)
		return fail(p, "%s: bad path", name);
	return 1;
}

/*
 * The routing rules (rules.h): redirect, gone, mime, and lang with a
 * PATH.  1 added, 0 refused, -1 not one of them.
 */
static int
host_rules_key(struct parse *p, struct host_cfg *h, const char *name,
    const char *value)
{
	char	why[RULES_WHY_MAX];
	int	r;

	if (strcmp(name, "redirect") == 0)
		r = rules_add_redirect(&h->rules, value, p->line, why,
		    sizeof(why));
	else if (strcmp(name, "gone") == 0)
		r = rules_add_gone(&h->rules, value, p->line, why, sizeof(why));
	else if (strcmp(name, "mime") == 0)
		r = rules_add_mime(&h->rules, value, p->line, why, sizeof(why));
	else if (strcmp(name, "lang") == 0 && value[0] == '/')
		r = rules_add_lang(&h->rules, value, p->line, why, sizeof(why));
	else
		return -1;
	return r == 0 ? 1 : fail(p, "%s", why);
}

/*
 * fastcgi, scgi, proxy (upstream.h); an indented line after one holds
 * more of its options.  1 added, 0 refused, -1 not one of them.
 */
static int
host_upstream_key(struct parse *p, struct host_cfg *h, const char *name,
    const char *value)
{
	struct upstream_cfg	*u;
	char			 why[UPSTREAM_WHY_MAX];
	enum upstream_kind	 k;

	if (strcmp(name, "fastcgi") == 0)
		k = UP_FASTCGI;
	else if (strcmp(name, "scgi") == 0)
		k = UP_SCGI;
	else if (strcmp(name, "proxy") == 0)
		k = UP_GEMINI;
	else
		return -1;
	if (p->continued && h->nups > 0 && h->ups[h->nups - 1].kind == k) {
		if (upstream_options(&h->ups[h->nups - 1], value, p->cf->dir,
		    why, sizeof(why)) == -1)
			return fail(p, "%s", why);
		return 1;
	}
	if ((u = realloc(h->ups, (h->nups + 1) * sizeof(*u))) == NULL)
		return fail(p, "out of memory");
	h->ups = u;
	if (upstream_parse(k, value, p->cf->dir, p->line, &h->ups[h->nups],
	    why, sizeof(why)) == -1)
		return fail(p, "%s", why);
	h->nups++;
	return 1;
}

static int
host_key(struct parse *p, struct host_cfg *h, const char *name,
    const char *value)
{
	int	r;

	if (strcmp(name, "root") == 0 || strcmp(name, "cert") == 0 ||
	    strcmp(name, "key") == 0)
		return host_path(p, name, value, name[0] == 'r' ? h->root :
		    name[0] == 'c' ? h->cert : h->key);
	if ((r = host_rules_key(p, h, name, value)) != -1 ||
	    (r = host_upstream_key(p, h, name, value)) != -1)
		return r;
	if (strcmp(name, "lang") == 0) {
		/* lang repeats in its PATH form only (host_rules_key) */
		if (h->lang[0] != '\0')
			return fail(p, "key \"lang\" set twice in this section "
			    "(lang = PATH TAG is the form that repeats)");
		if (!rules_lang_ok(value))
			return fail(p, "lang: \"%s\" is not a BCP 47 tag "
			    "or a comma-separated list of them", value);
		return copy(h->lang, sizeof(h->lang), value) == 0;
	}
	if (strcmp(name, "index") == 0) {
		if (*value == '\0' || *value == '.' || strchr(value, '/') ||
		    copy(h->index, sizeof(h->index), value) == -1)
			return fail(p, "index: \"%s\" is not a file name",
			    value);
		return 1;
	}
	if (strcmp(name, "autoindex") == 0) {
		if (parse_bool(value, &h->autoindex) == -1)
			return fail(p, "autoindex: expected on or off, not "
			    "\"%s\"", value);
		return 1;
	}
	if (strcmp(name, "cgi") == 0) {
		if (sub_dir(value, h->cgi, sizeof(h->cgi)) == -1)
			return fail(p, "cgi: \"%s\" is not a directory under "
			    "the root", value);
		return 1;
	}
	if (strcmp(name, "feeds") == 0)
		return host_feeds(p, h, value);
	if (strcmp(name, "feed_title") == 0)
		return host_feed_title(p, h, value);
	if (strcmp(name, "feed_author") == 0)
		return host_feed_author(p, h, value);
	if (strcmp(name, "access") == 0)
		return host_rule(p, name, value, h->access, &h->naccess);
	if (strcmp(name, "titan") == 0)
		return host_rule(p, name, value, h->titan, &h->ntitan);
	if (strcmp(name, "titan_mime") == 0)
		return host_titan_mime(p, h, value);
	r = set_int(p, host_ints, sizeof(host_ints) / sizeof(host_ints[0]),
	    h, name, value);
	if (r == -1)
		r = set_int(p, titan_host_ints, sizeof(titan_host_ints) /
		    sizeof(titan_host_ints[0]), h, name, value);
	if (r != -1)
		return r;
	return fail(p, "unknown key \"%s\" in [host]", name);
}

/* The line of "[section]" in the text, for errors found after parsing. */
static int
section_line(const char *text, const char *section)
{
	const char	*s = text, *e;
	size_t		 len = strlen(section);
	int		 line = 1;

	for (; *s != '\0'; line++) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '[' && strncmp(s + 1, section, len) == 0 &&
		    s[1 + len] == ']')
			return line;
		if ((e = strchr(s, '\n')) == NULL)
			break;
		s = e + 1;
	}
	return 0;
}

static int
new_host(struct parse *p, const char *section)
{
	struct config	*cf = p->cf;
	struct host_cfg	*h;
	const char	*name = section + strlen(HOST_PREFIX);
	size_t		 i;

	name += strspn(name, " \t");
	h = realloc(cf->hosts, (cf->nhosts + 1) * sizeof(*h));
	if (h == NULL)
		return fail(p, "out of memory");
	cf->hosts = h;
	h = &cf->hosts[cf->nhosts];
	memset(h, 0, sizeof(*h));
	if (url_host_canonical(name, h->name, sizeof(h->name)) == -1)
		return fail(p, "[host %s]: not a valid host name", name);
	for (i = 0; i < cf->nhosts; i++)
		if (strcmp(cf->hosts[i].name, h->name) == 0)
			return fail(p, "[host %s]: host defined twice", name);
	h->line = section_line(p->text, section);
	(void)copy(h->index, sizeof(h->index), "index.gmi");
	h->cgi_timeout = 10;
	h->feed_entries = 100;
	h->autoindex_max = 10000;
	h->titan_max_size = 1048576L;
	(void)copy(h->titan_mime, sizeof(h->titan_mime),
	    "text/gemini text/plain");
	cf->nhosts++;
	return 1;
}

/* Keys that may repeat; every other key may appear once per section. */
static int
repeatable(const char *name)
{
	static const char *const keys[] = {
		"listen", "feeds", "feed_title", "access", "titan",
		/* the routing rules; host_key refuses a second host-wide lang */
		"redirect", "gone", "lang", "mime",
		"fastcgi", "scgi", "proxy",
	};
	size_t	i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(name, keys[i]) == 0)
			return 1;
	return 0;
}

static int
seen_before(const struct parse *p, const char *name)
{
	size_t	i;

	for (i = 0; i < p->nseen; i++)
		if (strcmp(p->seen[i], name) == 0)
			return 1;
	return 0;
}

/* Only known keys get here, and every known key fits. */
static void
remember(struct parse *p, const char *name)
{
	if (p->nseen < sizeof(p->seen) / sizeof(p->seen[0]))
		(void)copy(p->seen[p->nseen++], sizeof(p->seen[0]), name);
}

/*
 * The line of the key inih hands the handler now, found as inih (r55,
 * multi-line values and inline comments on, its defaults) finds it: a
 * line that is not blank or a comment and either is indented after a
 * key (a continuation of its value) or, not a section header, holds
 * '=' or ':' before any inline " ;" comment; any other line is one of
 * inih's syntax errors and calls no handler.  For the checks made after
 * the parse (a redirect loop), which inih cannot place.
 */
static int
key_line(struct parse *p)
{
	const char	*s, *t, *eol;
	int		 space;

	p->continued = 0;
	while (*p->cursor != '\0') {
		s = p->cursor;
		eol = s + strcspn(s, "\n");
		p->cursor = *eol == '\n' ? eol + 1 : eol;
		/* inih skips a UTF-8 byte order mark on the first line */
		if (p->line++ == 0 && strncmp(s, "\xef\xbb\xbf", 3) == 0)
			s += 3;
		for (t = s; t < eol && isspace((unsigned char)*t); t++)
			;
		if (t == eol || *t == ';' || *t == '#')
			continue;
		if (p->after_key && t > s)
			return p->continued = 1, p->line;
		if (*t == '[') {
			p->after_key = 0;
			continue;
		}
		for (space = 0; t < eol && *t != '=' && *t != ':' &&
		    !(space && *t == ';'); t++)
			space = isspace((unsigned char)*t);
		if (t < eol && *t != ';') {
			p->after_key = 1;
			return p->line;
		}
	}
	return p->line;
}

static int
handle_key(struct parse *p, const char *section, const char *name,
    const char *value)
{
	struct config	*cf = p->cf;
	int		 r;

	if (p->failed)
		return 1;	/* inih keeps going; report the first error */
	if (strcmp(section, "server") == 0) {
		if (!p->in_server) {
			if (p->seen_server)
				return fail(p, "[server] appears twice");
			p->in_server = p->seen_server = 1;
			p->nseen = 0;
		}
	} else if (strncmp(section, HOST_PREFIX, strlen(HOST_PREFIX)) == 0) {
		if (p->in_server || strcmp(section, p->section) != 0) {
			if (!new_host(p, section))
				return 0;
			(void)copy(p->section, sizeof(p->section), section);
			p->in_server = 0;
			p->nseen = 0;
		}
	} else if (*section == '\0')
		return fail(p, "\"%s\" is outside any section", name);
	else
		return fail(p, "unknown section [%s]", section);

	if (!repeatable(name) && seen_before(p, name))
		return fail(p, "key \"%s\" set twice in this section", name);
	r = p->in_server ? server_key(p, name, value) :
	    host_key(p, &cf->hosts[cf->nhosts - 1], name, value);
	if (r == 1 && !repeatable(name))
		remember(p, name);
	return r;
}

/* Each key: its line known first, and that of the first refusal. */
static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse	*p = user;
	int		 r;

	(void)key_line(p);
	r = handle_key(p, section, name, value);
	if (p->failed && p->fail_line == 0)
		p->fail_line = p->line;
	return r;
}

static void
defaults(struct config *cf)
{
	cf->workers = 0;
	cf->access_log = ACCESS_STDERR;
	cf->log_format = LOG_CAPSULED;
	cf->log_ip = LOG_IP_TRUNCATED;	/* data minimisation: README */
	cf->metrics_interval = 15;
	cf->syslog_facility = LOG_DAEMON;
	snprintf(cf->syslog_socket, sizeof(cf->syslog_socket), "/dev/log");
	cf->request_timeout = 10;
	cf->write_timeout = 30;
	cf->stop_timeout = 10;
	cf->max_connections = 1024;
	cf->max_per_client = 16;
	cf->rate_limit = 60;
	cf->rate_period = 60;
	cf->cgi_max = 16;
	cf->cgi_max_output = 8L << 20;
	cf->titan_min_rate = 1024;
	cf->titan_jobs_per_cert = 2;
	cf->titan_jobs_per_address = 4;
}

/*
 * A redirect target on a host and port of ours, for the loop check:
 * the standard port counts as ours too (a balancer in front of us may
 * listen there).
 */
static const struct rules *
our_host(const char *host, int port, void *arg)
{
	const struct config	*cf = arg;
	const struct host_cfg	*h = config_find_host(cf, host);
	size_t			 i;

	if (h == NULL)
		return NULL;
	for (i = 0; i < cf->nlisten && port != 1965; i++)
		if (cf->listen[i].port == port)
			break;
	return port == 1965 || i < cf->nlisten ? &h->rules : NULL;
}

/* Every host's rules sorted, then no redirect chain that loops. */
static int
validate_rules(struct parse *p, int *line)
{
	struct config	*cf = p->cf;
	char		 why[RULES_WHY_MAX];
	size_t		 i;

	for (i = 0; i < cf->nhosts; i++)
		if (rules_seal(&cf->hosts[i].rules, line, why,
		    sizeof(why)) == -1)
			return fail(p, "%s", why), -1;
	for (i = 0; i < cf->nhosts; i++)
		if (rules_check_loops(&cf->hosts[i].rules, our_host, cf, line,
		    why, sizeof(why)) == -1)
			return fail(p, "%s", why), -1;
	return 0;
}

/*
 * Each upstream whole (its continuation lines read), numbered across
 * hosts (the workers' tables), and no PATH twice in a host.
 */
static int
validate_upstreams(struct parse *p, int *line)
{
	struct config		*cf = p->cf;
	struct host_cfg		*h;
	char			 why[UPSTREAM_WHY_MAX];
	size_t			 i, j, k;

	for (i = 0; i < cf->nhosts; i++) {
		h = &cf->hosts[i];
		for (j = 0; j < h->nups; j++) {
			*line = h->ups[j].line;
			if (upstream_check(&h->ups[j], why, sizeof(why)) == -1)
				return fail(p, "%s", why), -1;
			for (k = 0; k < j; k++)
				if (strcmp(h->ups[k].path, h->ups[j].path) == 0)
					return fail(p, "%s: PATH %s is given "
					    "to another upstream on line %d",
					    upstream_key(h->ups[j].kind),
					    h->ups[j].path, h->ups[k].line), -1;
			h->ups[j].index = cf->nups++;
		}
	}
	return 0;
}

/* Checks that need the whole file; 0 or -1 with line and message set. */
static int
validate(struct parse *p, int *line)
{
	struct config	*cf = p->cf;
	struct host_cfg	*h;
	size_t		 i;
	const char	*missing;

	if (cf->nhosts == 0) {
		*line = 0;
		return fail(p, "no [host NAME] section: nothing to serve"), -1;
	}
	for (i = 0; i < cf->nhosts; i++) {
		h = &cf->hosts[i];
		missing = h->root[0] == '\0' ? "root" :
		    h->cert[0] == '\0' ? "cert" :
		    h->key[0] == '\0' ? "key" : NULL;
		if (missing != NULL) {
			*line = h->line;
			return fail(p, "host has no %s", missing), -1;
		}
	}
	if (cf->nlisten == 0) {
		(void)parse_addr("0.0.0.0:1965", &cf->listen[0]);
		(void)parse_addr("[::]:1965", &cf->listen[1]);
		cf->nlisten = 2;
	}
	if (validate_upstreams(p, line) == -1)
		return -1;
	return validate_rules(p, line);
}

/*
 * inih only reports sections that hold keys, and cannot tell two
 * headers of the same name apart; look at every header here so an
 * empty, misspelt or repeated section is an error too.
 */
static int
check_header(struct parse *p, const char *name)
{
	size_t	i;

	if (strcmp(name, "server") != 0 &&
	    (strncmp(name, HOST_PREFIX, strlen(HOST_PREFIX)) != 0 ||
	    name[strlen(HOST_PREFIX) + strspn(name + strlen(HOST_PREFIX),
	    " \t")] == '\0'))
		return fail(p, "unknown section [%s] (expected [server] or "
		    "[host NAME])", name), -1;
	for (i = 0; i < p->nheaders; i++)
		if (strcasecmp(p->headers[i], name) == 0)
			return fail(p, "[%s] appears twice", name), -1;
	if (p->nheaders < sizeof(p->headers) / sizeof(p->headers[0]))
		(void)copy(p->headers[p->nheaders++], sizeof(p->headers[0]),
		    name);
	return 0;
}

/* A host section with no key would be dropped by inih without a word. */
static int
check_host_filled(struct parse *p, int host_line, int keys, int *line)
{
	if (host_line == 0 || keys > 0)
		return 0;
	*line = host_line;
	return fail(p, "host has no keys (it needs root, cert and key)"), -1;
}

static int
check_sections(struct parse *p, const char *text, int *line)
{
	const char	*s = text, *e;
	char		 name[300];
	size_t		 n;
	int		 host_line = 0, keys = 0;

	for (*line = 1; *s != '\0'; (*line)++) {
		e = strchr(s, '\n');
		/* inih would cut a longer line in two and misread the rest */
		if ((e ? (size_t)(e - s) : strlen(s)) > CONFIG_LINE_MAX)
			return fail(p, "line longer than %d bytes",
			    CONFIG_LINE_MAX), -1;
		s += strspn(s, " \t");
		if (*s == '[') {
			n = strcspn(s + 1, "]\n");
			if (s[1 + n] != ']' || n >= sizeof(name))
				return fail(p, "unterminated section header"),
				    -1;
			memcpy(name, s + 1, n);
			name[n] = '\0';
			if (check_header(p, name) == -1 ||
			    check_host_filled(p, host_line, keys, line) == -1)
				return -1;
			host_line = strcmp(name, "server") != 0 ? *line : 0;
			keys = 0;
		} else if (*s != '\0' && *s != '\n' && *s != '\r' &&
		    *s != ';' && *s != '#')
			keys++;
		if (e == NULL)
			break;
		s = e + 1;
	}
	return check_host_filled(p, host_line, keys, line);
}

int
config_parse_string(const char *text, const char *name, const char *dir,
    struct config *cf, char *err, size_t errlen)
{
	struct parse	 p;
	int		 line;

	memset(cf, 0, sizeof(*cf));
	memset(&p, 0, sizeof(p));
	p.cf = cf;
	p.text = p.cursor = text;
	defaults(cf);
	if (copy(cf->file, sizeof(cf->file), name) == -1 ||
	    copy(cf->dir, sizeof(cf->dir), dir) == -1) {
		snprintf(err, errlen, "%s: path too long", name);
		return -1;
	}
	if (check_sections(&p, text, &line) == 0)
		line = ini_parse_string(text, handler, &p);
	if (line == 0 && !p.failed && validate(&p, &line) == 0)
		return 0;
	/* inih's own error (a line with no '=') before the key we refused */
	if (!p.failed || (line > 0 && p.fail_line > line))
		(void)copy(p.msg, sizeof(p.msg), "syntax error (expected "
		    "[section], key = value, or a ; comment)");
	if (line > 0)
		snprintf(err, errlen, "%s:%d: %s", name, line, p.msg);
	else
		snprintf(err, errlen, "%s: %s", name, p.msg);
	config_free(cf);
	return -1;
}

int
config_load(const char *path, struct config *cf, char *err, size_t errlen)
{
	FILE	*f;
	char	*text = NULL, dir[PATH_MAX], tmp[PATH_MAX], *d;
	size_t	 len = 0, cap = 0, n;
	int	 r = -1;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* Relative paths in the file resolve against its directory. */
	if (copy(tmp, sizeof(tmp), path) == -1 ||
	    realpath(dirname(tmp), dir) == NULL) {
		snprintf(err, errlen, "%s: cannot resolve its directory", path);
		goto done;
	}
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			if (cap > (1 << 20) || (d = realloc(text, cap)) == NULL) {
				snprintf(err, errlen, "%s: too large", path);
				goto done;
			}
			text = d;
		}
		if ((n = fread(text + len, 1, 4096, f)) == 0)
			break;
		len += n;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto done;
	}
	if (memchr(text, '\0', len) != NULL) {
		snprintf(err, errlen, "%s: contains a NUL byte", path);
		goto done;
	}
	text[len] = '\0';
	r = config_parse_string(text, path, dir, cf, err, errlen);
done:
	free(text);
	fclose(f);
	return r;
}

void
config_free(struct config *cf)
{
	size_t	i;

	for (i = 0; i < cf->nhosts; i++) {
		rules_free(&cf->hosts[i].rules);
		free(cf->hosts[i].ups);
	}
	free(cf->hosts);
	cf->hosts = NULL;
	cf->nhosts = 0;
}

const struct host_cfg *
config_find_host(const struct config *cf, const char *name)
{
	size_t	i;

	for (i = 0; i < cf->nhosts; i++)
		if (strcmp(cf->hosts[i].name, name) == 0)
			return &cf->hosts[i];
	return NULL;
}

int
config_rule_covers(const char *rule, const char *path)
{
	size_t	n = strlen(rule);

	if (n == 0)
		return 0;
	if (strncmp(path, rule, n) == 0)
		return rule[n - 1] == '/' || path[n] == '\0' || path[n] == '/';
	/* "/members" (which redirects to "/members/") is gated too */
	return rule[n - 1] == '/' && strncmp(path, rule, n - 1) == 0 &&
	    path[n - 1] == '\0';
}

const struct rule_cfg *
config_access_rule(const struct host_cfg *h, const char *path)
{
	size_t	i;

	for (i = 0; i < h->naccess; i++)
		if (config_rule_covers(h->access[i].path, path))
			return &h->access[i];
	return NULL;
}

int
config_gated_from(const struct host_cfg *h, const char *dir,
    const char *path)
{
	const struct rule_cfg	*rule;

	if (h->naccess == 0)
		return 0;
	rule = config_access_rule(h, path);
	return rule != NULL && rule != config_access_rule(h, dir);
}
