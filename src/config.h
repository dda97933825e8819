/*
 * config.h: the INI configuration (parsed with inih) as one validated,
 * immutable struct config.  Parsing is pure (config_parse_string); only
 * config_load touches the file system, to read the file.
 */
#ifndef CAPSULED_CONFIG_H
#define CAPSULED_CONFIG_H

#include <sys/socket.h>
#include <limits.h>
#include <stddef.h>

#include "rules.h"
#include "upstream.h"
#include "url.h"

#define CONFIG_MAX_LISTEN	16
#define CONFIG_MAX_FEEDS	16
#define CONFIG_MAX_RULES	8	/* access, and titan, per host */
#define CONFIG_ERR_MAX		(PATH_MAX + 256)
#define CONFIG_LINE_MAX		198	/* inih's default buffer, CR LF aside */

struct listen_addr {
	struct sockaddr_storage	ss;
	socklen_t		sslen;
	char			text[64];	/* as written: "[::1]:1965" */
	int			port;
	int			proxy;		/* expects a PROXY header */
};

struct feed_cfg {
	char	dir[256];		/* directory under the root, no slashes at ends */
	char	title[256];		/* "" -> the directory's name */
};

/*
 * `access = PATH FILE` and `titan = PATH FILE`: a URL path (decoded,
 * starts with '/'; a directory's ends with '/') and the fingerprint
 * list that is let in (certlist.h).
 */
struct rule_cfg {
	char	path[256];
	char	file[PATH_MAX];
};

struct host_cfg {
	char		name[URL_HOST_MAX + 1];	/* canonical (url_host_canonical) */
	int		line;			/* where its section starts */
	char		root[PATH_MAX];
	char		cert[PATH_MAX];
	char		key[PATH_MAX];
	char		lang[64];		/* "" -> no lang parameter */
	char		index[256];
	int		autoindex;
	int		autoindex_max;	/* entries listed, at most */
	char		cgi[256];		/* directory under root; "" -> off */
	int		cgi_timeout;		/* seconds */
	struct feed_cfg	feeds[CONFIG_MAX_FEEDS];
	size_t		nfeeds;
	int		feed_entries;		/* at most this many per feed */
	char		feed_author[256];	/* "" -> the host name */
	struct rule_cfg	access[CONFIG_MAX_RULES];	/* 60/61/62 */
	size_t		naccess;
	struct rule_cfg	titan[CONFIG_MAX_RULES];	/* uploads */
	size_t		ntitan;
	long		titan_max_size;		/* bytes */
	char		titan_mime[256];	/* space-separated types */
	long		titan_quota;		/* bytes per titan tree; 0: off */
	struct rules	rules;		/* redirect, gone, lang PATH, mime */
	struct upstream_cfg *ups;		/* fastcgi, scgi, proxy */
	size_t		nups;
	int		upstream_timeout;	/* seconds; 0: cgi_timeout */
};

enum log_target { ACCESS_OFF, ACCESS_STDERR, ACCESS_SYSLOG, ACCESS_FILE };
/* log_format: the access log's lines (logfmt.h) */
enum log_format { LOG_CAPSULED, LOG_COMMON, LOG_COMBINED, LOG_JSON };
/* log_ip: what the logs keep of a client's address */
enum log_ip { LOG_IP_FULL, LOG_IP_TRUNCATED, LOG_IP_OFF };

struct config {
	char			file[PATH_MAX];	/* as given, for messages */
	char			dir[PATH_MAX];	/* relative paths resolve here */
	struct listen_addr	listen[CONFIG_MAX_LISTEN];
	size_t			nlisten;
	int			workers;	/* 0 = auto: one per CPU */
	enum log_target		access_log;
	char			access_log_file[PATH_MAX];
	enum log_format		log_format;
	enum log_ip		log_ip;
	char			metrics_file[PATH_MAX];	/* "" -> none */
	int			metrics_line;	/* where it is set, for errors */
	int			metrics_interval;	/* seconds */
	int			syslog_facility;	/* LOG_DAEMON, LOG_LOCAL0.. */
	char			syslog_socket[108];	/* a sun_path: /dev/log */
	char			pidfile[PATH_MAX];	/* "" -> none */
	char			ticket_keys[PATH_MAX];	/* "" -> per-start keys */
	int			request_timeout;	/* handshake + request line */
	int			write_timeout;		/* no write progress */
	int			stop_timeout;		/* SIGTERM's grace */
	int			max_connections;	/* per worker */
	int			max_connections_total;	/* 0: workers x per worker */
	int			max_per_client;		/* per worker; 0: no cap */
	int			rate_limit;	/* requests per rate_period; 0: off */
	int			rate_period;	/* seconds */
	int			rate_burst;	/* 0: rate_limit */
	char			user[33];	/* "" -> capsuled / _capsuled */
	char			chroot[PATH_MAX];	/* "" -> none */
	int			cgi_max;		/* concurrent scripts per worker */
	long			cgi_max_output;		/* bytes */
	long			titan_min_rate;		/* upload bytes a second */
	int			titan_jobs_per_cert;	/* uploads at once; 0: any */
	int			titan_jobs_per_address;	/* the same per address */
	struct host_cfg		*hosts;		/* hosts[0] is the default */
	size_t			nhosts;
	size_t			nups;		/* upstreams of all hosts */
};

/*
 * Parse text as the configuration file named name (used in messages);
 * relative paths resolve against dir.  Returns 0, or -1 with err set to
 * "file:line: message".  On success *cf must be released with
 * config_free(); on failure nothing needs freeing.
 */
int	config_parse_string(const char *text, const char *name,
	    const char *dir, struct config *cf, char *err, size_t errlen);

/* Read and parse a file: config_parse_string plus the I/O. */
int	config_load(const char *path, struct config *cf, char *err,
	    size_t errlen);

void	config_free(struct config *cf);

/* The host for a canonical name, or NULL. */
/*
 * 1 if an access or titan rule's PATH covers the URL path: "/members/"
 * covers "/members", "/members/" and everything under it.
 */
int	config_rule_covers(const char *rule, const char *path);
/* The first `access` rule of h that covers path, or NULL: public. */
const struct rule_cfg *config_access_rule(const struct host_cfg *h,
	    const char *path);

/*
 * 1 if path, listed in the directory dir (URL paths), is under another
 * access rule than dir is: a list never shows what it lists to those
 * the listed page is gated from (listings, feeds, latest blocks).
 */
int	config_gated_from(const struct host_cfg *h, const char *dir,
	    const char *path);

const struct host_cfg *config_find_host(const struct config *cf,
	    const char *name);

#endif
