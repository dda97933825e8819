/*
 * config_test.c: the configuration parser, one row per rule.  Errors
 * must name the file and the line.
 */
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "config.h"
#include "tap.h"

#define LONG_NAME	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
			"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
			"aaaaaaaaaa"
#define HOST	"[host localhost]\nroot = r\ncert = c\nkey = k\n"

static const struct {
	const char	*text;
	const char	*error;		/* NULL: must parse */
	const char	*rule;
} cases[] = {
	{ HOST, NULL, "a host with root, cert and key is enough" },
	{ "[server]\nlisten = 127.0.0.1:1965 [::1]:1965\n" HOST, NULL,
	  "listen takes several addresses, IPv6 in brackets" },
	{ "[server]\nlisten = 127.0.0.1:1966 proxy\n" HOST, NULL,
	  "listen takes the proxy flag" },
	{ "[server]\nworkers = auto\nrequest_timeout = 5\n" HOST, NULL,
	  "workers auto and timeouts" },
	{ "; comment\n[server]\naccess_log = off ; inline\n" HOST, NULL,
	  "comments, inline comments" },
	{ HOST "lang = en,cy\nautoindex = yes\nindex = home.gmi\n", NULL,
	  "lang list, autoindex yes, index name" },
	{ HOST "cgi = cgi-bin\ncgi_timeout = 5\nfeeds = news letters\n"
	  "feed_title = news Branch news\nfeed_entries = 10\n", NULL,
	  "cgi and feeds keys" },
	{ HOST "feed_author = Barnet UNISON\n", NULL,
	  "feed_author takes words" },
	{ HOST "feed_author =\n", "test.ini:5: feed_author: expected a name",
	  "an empty feed_author is an error" },
	{ "", "test.ini: no [host NAME] section", "no host is an error" },
	{ "[server]\nbogus = 1\n" HOST, "test.ini:2: unknown key \"bogus\"",
	  "unknown server key names its line" },
	{ HOST "colour = red\n", "test.ini:5: unknown key \"colour\"",
	  "unknown host key names its line" },
	{ "[srever]\n" HOST, "test.ini:1: unknown section [srever]",
	  "unknown section names its line" },
	{ "[hots x]\n" HOST, "test.ini:1: unknown section",
	  "misspelt host section is an error even when empty" },
	{ "[server]\nworkers = 0\n" HOST, "test.ini:2: workers:",
	  "workers 0 is out of range" },
	{ "[server]\nrequest_timeout = 10s\n" HOST,
	  "test.ini:2: request_timeout: expected a number",
	  "numbers are whole numbers" },
	{ "[server]\nlisten = localhost:1965\n" HOST, "test.ini:2: listen:",
	  "listen needs a numeric address" },
	{ "[server]\nlisten = 127.0.0.1:70000\n" HOST, "test.ini:2: listen:",
	  "listen port out of range" },
	{ "[server]\nlisten = [::1:1965\n" HOST, "test.ini:2: listen:",
	  "unclosed IPv6 bracket" },
	{ "[server]\nworkers = 2\nworkers = 3\n" HOST,
	  "test.ini:3: key \"workers\" set twice", "duplicate key" },
	{ "[server]\n[server]\n" HOST, "test.ini:2: [server] appears twice",
	  "a repeated section is an error" },
	{ "[host localhost]\nroot = r\ncert = c\n",
	  "test.ini:1: host has no key", "missing key names the host line" },
	{ HOST HOST, "test.ini:5: [host localhost] appears twice",
	  "a host defined twice" },
	{ "[host a]\n" HOST, "test.ini:1: host has no keys",
	  "an empty host section is an error, not dropped" },
	{ "[host a]\n; only a comment\n\n" HOST,
	  "test.ini:1: host has no keys", "comments are not keys" },
	{ HOST "[host b]\n", "test.ini:5: host has no keys",
	  "an empty host section at the end too" },
	{ "[server]\nlisten = 127.0.0.1:1965 [::1]:1965 127.0.0.1:1965\n" HOST,
	  "test.ini:2: listen: 127.0.0.1:1965 given twice",
	  "a listen address given twice names its line" },
	{ HOST "lang = en GB\n", "test.ini:5: lang:", "lang is a tag" },
	{ HOST "autoindex = perhaps\n", "test.ini:5: autoindex:",
	  "autoindex is a boolean" },
	{ HOST "index = ../x\n", "test.ini:5: index:", "index is a name" },
	{ HOST "cgi = ../bin\n", "test.ini:5: cgi:", "cgi stays under root" },
	{ HOST "feeds = .git\n", "test.ini:5: feeds:", "no dot directories" },
	{ HOST "feed_title = news X\n", "test.ini:5: feed_title:",
	  "feed_title needs feeds first" },
	{ HOST "access = /members/ lists/members\naccess = /m2 /x\n"
	  "titan = /news/ admins\ntitan = / admins\ntitan_max_size = 10\n"
	  "titan_mime = text/gemini  image/png\n", NULL,
	  "access and titan repeat; titan_max_size; titan_mime" },
	{ HOST "access = /members/\n", "test.ini:5: access: expected PATH FILE",
	  "access needs a FILE" },
	{ HOST "access = members/ f\n", "test.ini:5: access: expected",
	  "an access PATH is a URL path" },
	{ HOST "titan = /news/../x f\n", "test.ini:5: titan: expected",
	  "no dot segment in a titan PATH" },
	{ HOST "titan = /.git/ f\n", "test.ini:5: titan: expected",
	  "no dot directory in a titan PATH" },
	{ HOST "titan_max_size = 0\n", "test.ini:5: titan_max_size:",
	  "titan_max_size is at least 1" },
	{ HOST "titan_mime = text\n", "test.ini:5: titan_mime: expected",
	  "titan_mime words are type/subtype" },
	{ HOST "titan_mime = text/gemini a/\n", "test.ini:5: titan_mime:",
	  "an empty subtype" },
	{ "root = r\n" HOST, "test.ini:1: \"root\" is outside any section",
	  "keys before any section" },
	{ "[server]\nsyslog_facility = local7\npidfile = run/c.pid\n"
	  "ticket_keys = /etc/capsuled/t.keys\n" HOST, NULL,
	  "syslog_facility, pidfile and ticket_keys" },
	{ "[server]\nsyslog_facility = kern\n" HOST,
	  "test.ini:2: syslog_facility: expected daemon or local0",
	  "facilities other than daemon and local0-7 are refused" },
	{ "[server]\nsyslog_facility = local8\n" HOST,
	  "test.ini:2: syslog_facility:", "there is no local8" },
	{ "[server]\nsyslog_socket = run/log\n" HOST,
	  "test.ini:2: syslog_socket: expected an absolute path",
	  "syslog_socket is absolute (connected before the chroot)" },
	{ "[server]\nsyslog_socket = /run/" LONG_NAME "\n" HOST,
	  "test.ini:2: syslog_socket: expected an absolute path of at most "
	  "107 bytes", "syslog_socket fits a sun_path" },
	{ "[server]\npidfile =\n" HOST, "test.ini:2: pidfile: bad path",
	  "an empty pidfile" },
	{ "[server]\nticket_keys = a\nticket_keys = b\n" HOST,
	  "test.ini:3: key \"ticket_keys\" set twice", "ticket_keys once" },
	{ "[server]\nlisten = 127.0.0.1:1966 proxy [::1]:1966\n"
	  "listen = 127.0.0.1:1965\n" HOST, NULL,
	  "proxy applies to its line's addresses wherever it stands" },
	{ "[server]\nuser = _capsuled\nchroot = /var/gemini\n" HOST, NULL,
	  "user and chroot" },
	{ "[server]\nuser = x;rm\n" HOST, "test.ini:2: user: \"x;rm\" is not",
	  "a user name is letters, digits, _ . -" },
	{ "[server]\nuser = -x\n" HOST, "test.ini:2: user:",
	  "a user name does not start with -" },
	{ "[server]\nuser = \n" HOST, "test.ini:2: user:", "an empty user" },
	{ "[server]\nchroot =\n" HOST, "test.ini:2: chroot: bad path",
	  "an empty chroot" },
	{ "[server]\nrate_limit = 0\nmax_per_client = 0\n"
	  "max_connections_total = 0\n" HOST, NULL, "0 turns limits off" },
	{ "[server]\nrate_limit = 10\nrate_period = 1\nrate_burst = 5\n"
	  HOST, NULL, "rate_limit, rate_period, rate_burst" },
	{ "[server]\nrate_period = 0\n" HOST, "test.ini:2: rate_period:",
	  "a rate period of 0 seconds is refused" },
	{ "[server]\nmax_per_client = -1\n" HOST,
	  "test.ini:2: max_per_client:", "no negative caps" },
	{ "[server]\nlog_format = combined\nlog_ip = off\n"
	  "metrics_file = m.prom\nmetrics_interval = 5\n" HOST, NULL,
	  "log_format, log_ip, metrics_file and metrics_interval" },
	{ "[server]\nlog_format = xml\n" HOST,
	  "test.ini:2: log_format: expected capsuled, common, combined or json",
	  "log_format names its four formats" },
	{ "[server]\nlog_ip = partial\n" HOST,
	  "test.ini:2: log_ip: expected full, truncated or off",
	  "log_ip names its three choices" },
	{ "[server]\nmetrics_interval = 0\n" HOST,
	  "test.ini:2: metrics_interval: expected a number from 1 to 3600",
	  "metrics_interval is 1 to 3600 seconds" },
	{ "[server]\nmetrics_file = /var/lib/prom/\n" HOST,
	  "test.ini:2: metrics_file: expected a file's path",
	  "metrics_file names a file, not a directory" },
	{ "[server]\nmetrics_file =\n" HOST,
	  "test.ini:2: metrics_file: expected a file's path",
	  "an empty metrics_file" },
	{ "[server\n" HOST, "test.ini:1: unterminated section header",
	  "unterminated header" },
	{ "[server]\njust words\n" HOST, "test.ini:2: syntax error",
	  "a line without =" },
	{ "[server]\njust words\nbogus = 1\n" HOST,
	  "test.ini:2: syntax error", "a line without =, then a bad key: "
	  "the first error, and its own message" },
	{ "[server]\nbogus = 1\njust words\n" HOST,
	  "test.ini:2: unknown key \"bogus\"", "a bad key, then a line "
	  "without =: the first error" },
	/* the routing rules (rules.h; rules_test.c has their own rows) */
	{ HOST "redirect = /old.gmi /new.gmi\nredirect = /blog/ /news/ "
	  "permanent\ngone = /campaign/\nlang = en-GB\nlang = /cy/ cy\n"
	  "lang = /en/ en\nmime = .epub application/epub+zip\n"
	  "mime = .txt text/plain; charset=iso-8859-1\n", NULL,
	  "redirect, gone, lang PATH and mime repeat" },
	{ HOST "lang = en\nlang = /cy/ cy\nlang = cy\n",
	  "test.ini:7: key \"lang\" set twice",
	  "the host-wide lang is set once" },
	{ HOST "lang = /cy/ cy_GB\n", "test.ini:5: lang: \"cy_GB\" is not",
	  "a lang PATH's tag is BCP 47" },
	{ HOST "redirect = /a news\n", "test.ini:5: redirect: TO \"news\" "
	  "is neither", "a TO that is not a path or URL names its line" },
	{ HOST "redirect = a /b\n", "test.ini:5: redirect: FROM \"a\" is "
	  "not a path", "a FROM that is not a path names its line" },
	{ HOST "gone = /a\nredirect = /a /b\n", "test.ini:6: redirect: /a "
	  "has a gone rule already (line 5)",
	  "a path both gone and redirected names the second" },
	{ HOST "redirect = /a /b\n; a comment\n\n  \nredirect = /b /a\n",
	  "test.ini:5: redirect: loop: /a -> /b -> /a",
	  "a loop names the line of its first rule, past comments and blanks" },
	{ HOST "redirect = /x /y\nredirect = /a/ /b/\nredirect = /b/ /a/\n",
	  "test.ini:6: redirect: loop: /a/ -> /b/ -> /a/",
	  "a loop among other rules" },
	{ HOST "redirect = / /new/\n", "test.ini:5: redirect: more than 5",
	  "a chain without end" },
	{ HOST "mime = .epub epub\n", "test.ini:5: mime: \"epub\" is not",
	  "a mime TYPE is type/subtype" },
	{ "[host a.example]\nroot = r\ncert = c\nkey = k\n"
	  "redirect = /x gemini://b.example/y\n[host b.example]\nroot = r\n"
	  "cert = c\nkey = k\nredirect = /y gemini://A.example/x\n",
	  "test.ini:5: redirect: loop: /x -> gemini://b.example/y -> "
	  "gemini://a.example/x", "a loop across two hosts of ours" },
	{ "[server]\nlisten = 127.0.0.1:1966\n" HOST
	  "redirect = /a gemini://localhost:1999/a\n", NULL,
	  "a URL on a port we do not listen on is another server's" },
	{ "[server]\nlisten = 127.0.0.1:1966\n" HOST
	  "redirect = /a gemini://localhost:1966/a\n",
	  "test.ini:7: redirect: loop: /a -> gemini://localhost:1966/a",
	  "a URL on a port we listen on is ours" },
	{ HOST "redirect = /x /y\n  /b /a\nredirect = /a /b\n",
	  "test.ini:6: redirect: loop: /b -> /a -> /b",
	  "an indented line continues a key (inih): a rule of its own line" },
	{ HOST "gone = /g ; a comment: with = and :\nredirect = /a /a\n",
	  "test.ini:6: redirect: loop", "an inline comment is no key line" },
	{ "\xef\xbb\xbf" HOST "redirect = /a /a\n",
	  "test.ini:5: redirect: loop", "a byte order mark is no line" },
	{ "[server]\naccess_log = /var/log/"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "\n" HOST, "test.ini:2: line longer than 198 bytes",
	  "a line inih would cut in two is refused where it is" },
	{ HOST "fastcgi = /app/ unix:/run/fcgiwrap.socket keepalive=2\n"
	  "scgi = /scgi 127.0.0.1:4000\nproxy = /wiki/ gemini://[::1]:1966/w/ "
	  "verify=none\nupstream_timeout = 5\n", NULL,
	  "fastcgi, scgi, proxy and upstream_timeout in a host" },
	{ HOST "fastcgi = /app/ unix:run/f.sock\n", "test.ini:5: fastcgi: "
	  "\"unix:run/f.sock\": a UNIX socket is unix: and an absolute path",
	  "a UNIX socket's path is absolute" },
	{ HOST "scgi = /app/ localhost\n", "test.ini:5: scgi: \"localhost\" "
	  "is not a socket", "a TCP socket has a port" },
	{ HOST "proxy = /w/ gemini://wiki.example/\n", "test.ini:5: proxy: "
	  "gemini://wiki.example/: say how its certificate is checked",
	  "a proxy says how the upstream's certificate is checked: nobody "
	  "proxies to a stranger by accident" },
	{ HOST "proxy = /w/ gemini://wiki.example/\n"
	  "  verify=sha256:0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"
	  "0123456789ABCDEF\n", NULL,
	  "options may go on an indented line after the key's (inih)" },
	{ HOST "proxy = /w/ gemini://wiki.example/ verify=none\n"
	  "  cert=c.pem\n", "test.ini:5: proxy: gemini://wiki.example/: cert= "
	  "and key= go together", "a client certificate needs its key; the "
	  "error names the key's first line" },
	{ HOST "proxy = /w/ https://wiki.example/ verify=none\n",
	  "test.ini:5: proxy: \"https://wiki.example/\": the upstream is a "
	  "gemini:// URL", "a proxy's upstream is a Gemini server" },
	{ HOST "fastcgi = /app/ unix:/a\nscgi = /app/ unix:/b\n",
	  "test.ini:6: scgi: PATH /app/ is given to another upstream on "
	  "line 5", "two upstreams for one PATH" },
	{ HOST "fastcgi = /app/ unix:/a sni=x\n", "test.ini:5: fastcgi: "
	  "unknown option \"sni=x\"", "a proxy's options are not FastCGI's" },
};

static void
test_paths(void)
{
	struct config	cf;
	char		err[CONFIG_ERR_MAX];
	int		r;

	r = config_parse_string("[server]\naccess_log = logs/a.log\n"
	    "[host Example.ORG]\nroot = /srv/g\ncert = c.crt\nkey = /k\n",
	    "x.ini", "/etc/capsuled", &cf, err, sizeof(err));
	ok(r == 0, "parses: %s", r == 0 ? "" : err);
	if (r != 0)
		return;
	ok(strcmp(cf.hosts[0].root, "/srv/g") == 0, "absolute path kept");
	ok(strcmp(cf.hosts[0].cert, "/etc/capsuled/c.crt") == 0,
	    "relative path resolves against the config directory");
	ok(strcmp(cf.access_log_file, "/etc/capsuled/logs/a.log") == 0,
	    "relative access_log resolves too");
	ok(strcmp(cf.hosts[0].name, "example.org") == 0,
	    "host names are lower-cased");
	ok(strcmp(cf.hosts[0].index, "index.gmi") == 0 &&
	    cf.hosts[0].cgi_timeout == 10 && cf.request_timeout == 10,
	    "defaults: index.gmi, cgi_timeout 10, request_timeout 10");
	ok(cf.nlisten == 2 && cf.listen[0].port == 1965,
	    "default listen: 0.0.0.0:1965 and [::]:1965");
	ok(config_find_host(&cf, "example.org") == &cf.hosts[0] &&
	    config_find_host(&cf, "other") == NULL, "config_find_host");
	ok(cf.pidfile[0] == '\0' && cf.ticket_keys[0] == '\0' &&
	    cf.syslog_facility == LOG_DAEMON,
	    "defaults: no pid file, no ticket keys, facility daemon");
	ok(strcmp(cf.syslog_socket, "/dev/log") == 0,
	    "default syslog_socket: /dev/log");
	config_free(&cf);
}

static void
test_limits_and_user(void)
{
	struct config	cf;
	char		err[CONFIG_ERR_MAX];
	int		r;

	r = config_parse_string(HOST, "x.ini", "/etc/capsuled", &cf, err,
	    sizeof(err));
	ok(r == 0, "parses: %s", r == 0 ? "" : err);
	if (r != 0)
		return;
	ok(cf.max_per_client == 16 && cf.rate_limit == 60 &&
	    cf.rate_period == 60 && cf.rate_burst == 0 &&
	    cf.max_connections_total == 0, "limits are on by default");
	ok(cf.user[0] == '\0' && cf.chroot[0] == '\0',
	    "no user (the platform's default) and no chroot by default");
	ok(cf.log_format == LOG_CAPSULED && cf.log_ip == LOG_IP_TRUNCATED &&
	    cf.metrics_file[0] == '\0' && cf.metrics_interval == 15,
	    "defaults: capsuled lines, truncated addresses, no metrics, 15 s");
	config_free(&cf);
	r = config_parse_string("[server]\nchroot = jail\n" HOST, "x.ini",
	    "/etc/capsuled", &cf, err, sizeof(err));
	ok(r == 0 && strcmp(cf.chroot, "/etc/capsuled/jail") == 0,
	    "a relative chroot resolves against the config directory");
	if (r == 0)
		config_free(&cf);
}

static void
test_operations(void)
{
	struct config	cf;
	char		err[CONFIG_ERR_MAX];
	int		r;

	r = config_parse_string("[server]\nlisten = 127.0.0.1:1966 proxy "
	    "[::1]:1966\nlisten = 127.0.0.1:1965\nsyslog_facility = local3\n"
	    "pidfile = run/c.pid\nticket_keys = /k/t.keys\n" HOST, "x.ini",
	    "/etc/capsuled", &cf, err, sizeof(err));
	ok(r == 0, "parses: %s", r == 0 ? "" : err);
	if (r != 0)
		return;
	ok(cf.nlisten == 3 && cf.listen[0].proxy && cf.listen[1].proxy &&
	    !cf.listen[2].proxy, "proxy marks its own line only");
	ok(cf.syslog_facility == LOG_LOCAL3, "local3");
	ok(strcmp(cf.pidfile, "/etc/capsuled/run/c.pid") == 0,
	    "relative pidfile resolves against the config directory");
	ok(strcmp(cf.ticket_keys, "/k/t.keys") == 0, "ticket_keys path");
	config_free(&cf);
	r = config_parse_string("[server]\nworkers = 2\n\nmetrics_file = "
	    "m/c.prom\nlog_format = json\n" HOST, "x.ini", "/etc/capsuled", &cf,
	    err, sizeof(err));
	ok(r == 0 && strcmp(cf.metrics_file, "/etc/capsuled/m/c.prom") == 0 &&
	    cf.metrics_line == 4 && cf.log_format == LOG_JSON,
	    "metrics_file resolves, and knows its line for later errors");
	if (r == 0)
		config_free(&cf);
}

static void
test_upstreams(void)
{
	struct config			 cf;
	const struct upstream_cfg	*u;
	char				 err[CONFIG_ERR_MAX];
	int				 r;

	r = config_parse_string(HOST "proxy = /w/ gemini://wiki.example/ "
	    "verify=ca:ca.pem\n  cert=c.pem key=/k.pem proxy_protocol\n"
	    "fastcgi = /cgi-bin/ 127.0.0.1:9000\n[host b]\nroot = r\n"
	    "cert = c\nkey = k\nscgi = /s/ unix:/run/s.sock root=/var/www\n",
	    "x.ini", "/etc/capsuled", &cf, err, sizeof(err));
	ok(r == 0, "parses: %s", r == 0 ? "" : err);
	if (r != 0)
		return;
	u = cf.hosts[0].ups;
	ok(cf.nups == 3 && cf.hosts[0].nups == 2 && cf.hosts[1].nups == 1 &&
	    u[0].index == 0 && u[1].index == 1 && cf.hosts[1].ups[0].index ==
	    2, "upstreams are numbered across hosts");
	ok(strcmp(u[0].ca, "/etc/capsuled/ca.pem") == 0 &&
	    strcmp(u[0].cert, "/etc/capsuled/c.pem") == 0 &&
	    strcmp(u[0].key, "/k.pem") == 0 && u[0].proxy_protocol &&
	    u[0].line == 5, "a continuation line's options join its key's "
	    "rule; files resolve against the config directory");
	ok(u[1].sslen != 0 && u[1].port == 9000 && u[1].keepalive == 0,
	    "an address needs no resolving; no keep-alive unless asked");
	ok(strcmp(cf.hosts[1].ups[0].root, "/var/www") == 0 &&
	    cf.hosts[0].upstream_timeout == 0, "root= is kept as written; "
	    "upstream_timeout 0: cgi_timeout's");
	config_free(&cf);
}

int
main(void)
{
	struct config	 cf;
	char		 err[CONFIG_ERR_MAX];
	size_t		 i;
	int		 r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = config_parse_string(cases[i].text, "test.ini", "/cfg", &cf,
		    err, sizeof(err));
		if (cases[i].error == NULL)
			ok(r == 0, "%s%s%s", cases[i].rule, r ? ": " : "",
			    r ? err : "");
		else
			ok(r == -1 && strncmp(err, cases[i].error,
			    strlen(cases[i].error)) == 0, "%s (got \"%s\")",
			    cases[i].rule, r ? err : "success");
		if (r == 0)
			config_free(&cf);
	}
	test_paths();
	test_operations();
	test_upstreams();
	test_limits_and_user();
	return tap_done();
}
