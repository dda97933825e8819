/*
 * route_test.c: the routing table as a table.  A request line and the
 * facts of its connection in, the response plan out (status, meta, body
 * kind), for every status route.c and the steps it runs (rules, access,
 * upstreams, cgi, upload, feed, latest, file) can choose.  Linked without the engine
 * (conn.o, server.o): no TLS connection, no event loop, no daemon.  The
 * capsule is a scratch directory; the CGI runner and the Titan writer
 * are the far ends of socket pairs, where the jobs they would get are
 * read back.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "access.h"
#include "cgi.h"
#include "certlist.h"
#include "config.h"
#include "fdpass.h"
#include "limit.h"
#include "plan.h"
#include "route.h"
#include "shared.h"
#include "upload.h"
#include "files.h"
#include "tap.h"

/* The client, as the facts say it: its certificate and where it is. */
enum who {
	ANON,		/* no certificate */
	MEMBER,		/* listed, in date */
	LAPSED,		/* listed, out of date */
	STRANGER,	/* not listed, in date */
};

static const unsigned char member_hash[32] = { 0xaa, 1, 2, 3 };
static const unsigned char stranger_hash[32] = { 0xbb, 4, 5, 6 };

/* Titan's 59s: the line as titan_parse refuses it */
#define NO_SIZE	"titan://localhost/inbox/x.gmi;mime=text/gemini"

static const struct {
	const char	*line;		/* without CRLF */
	enum who	 who;
	int		 status;
	const char	*meta;		/* a part of it; NULL: not checked */
	enum plan_body	 body;
	const char	*rule;
} table[] = {
	/* request.c and titan.c, run first: 59 */
	{ "", ANON, 59, "Empty", PLAN_NONE, "an empty line is refused" },
	{ "gemini://localhost/#frag", ANON, 59, NULL, PLAN_NONE,
	    "a fragment is refused" },
	{ NO_SIZE, ANON, 59, "size", PLAN_NONE,
	    "a titan line without size" },
	{ "titan://localhost/inbox/x.gmi;size=5;colour=red", MEMBER, 59,
	    "colour", PLAN_NONE, "an unknown Titan parameter: 59 naming it" },
	/* the target check: 53 */
	{ "gemini://elsewhere.example/", ANON, 53, "host not served",
	    PLAN_NONE, "a host we do not serve" },
	{ "gemini://localhost:1966/", ANON, 53, "another port", PLAN_NONE,
	    "another port" },
	{ "https://localhost/", ANON, 53, "not a gemini URL", PLAN_NONE,
	    "another scheme" },
	{ "gemini://127.0.0.1/", ANON, 20, "text/gemini", PLAN_MEM,
	    "the address connected to, for a client without SNI" },
	/* redirect and gone (rules.c): 30, 31, 52, before everything else */
	{ "gemini://localhost/rota.gmi", ANON, 30, "/news/rota.gmi",
	    PLAN_NONE, "a redirect: 30 to its TO" },
	{ "gemini://localhost/blog/x.gmi?q", ANON, 31, "/news/x.gmi",
	    PLAN_NONE, "a permanent prefix redirect: 31, the rest carried" },
	{ "gemini://localhost/campaign/day.gmi", ANON, 52, NULL, PLAN_NONE,
	    "a gone prefix: 52" },
	{ "gemini://localhost/members/moved.gmi", ANON, 30, "/news/",
	    PLAN_NONE, "a redirect answers before an access rule asks" },
	{ "titan://localhost/blog/x.gmi;size=5;mime=text/gemini", MEMBER, 50,
	    "redirected path", PLAN_NONE,
	    "a Titan upload to a redirected path: 50, and where it went" },
	/* files: 20, 31, 51; a page is read once (latest.c), then streams */
	{ "gemini://localhost/", ANON, 20, "text/gemini; lang=en-GB",
	    PLAN_FILE, "the index file, with the host's lang" },
	{ "gemini://localhost/page.gmi", ANON, 20, "text/gemini", PLAN_MEM,
	    "a page not seen before is read (for markers)" },
	{ "gemini://localhost/page.gmi", ANON, 20, "text/gemini", PLAN_FILE,
	    "a page known to have no marker streams from its file" },
	{ "gemini://localhost/notes.txt", ANON, 20, "text/plain", PLAN_FILE,
	    "a type from the extension" },
	{ "gemini://localhost/book.epub", ANON, 20, "application/epub+zip",
	    PLAN_FILE, "a type from the host's mime rule" },
	{ "gemini://localhost/cymraeg/", ANON, 20, "lang=cy", PLAN_MEM,
	    "a path's own lang (its listing)" },
	{ "gemini://localhost/home.gmi", ANON, 20, "text/gemini", PLAN_MEM,
	    "a page with a latest-posts marker is made in memory" },
	{ "gemini://localhost/dir", ANON, 31, "/dir/", PLAN_NONE,
	    "a directory without its slash: 31 to it" },
	{ "gemini://localhost/dir?q", ANON, 31, "/dir/?q", PLAN_NONE,
	    "the query kept" },
	{ "gemini://localhost/dir/", ANON, 20, "text/gemini", PLAN_MEM,
	    "a directory without an index: its listing" },
	{ "gemini://localhost/missing.gmi", ANON, 51, "Not found", PLAN_NONE,
	    "no such file: 51" },
	{ "gemini://localhost/.hidden", ANON, 51, "Not found", PLAN_NONE,
	    "a dotfile is never served" },
	/* feeds: 20 */
	{ "gemini://localhost/news/", ANON, 20, "text/gemini", PLAN_MEM,
	    "the generated gemfeed index" },
	{ "gemini://localhost/news/atom.xml", ANON, 20,
	    "application/atom+xml", PLAN_MEM, "the generated Atom feed" },
	/* access rules: 60, 61, 62 */
	{ "gemini://localhost/members/a.gmi", ANON, 60, "required",
	    PLAN_NONE, "no certificate under an access rule: 60" },
	{ "gemini://localhost/members/a.gmi", STRANGER, 61,
	    "SHA256:BB040506", PLAN_NONE,
	    "a certificate not listed: 61 with its fingerprint" },
	{ "gemini://localhost/members/a.gmi", LAPSED, 62, "validity",
	    PLAN_NONE, "a listed certificate out of date: 62" },
	{ "gemini://localhost/members/a.txt", MEMBER, 20, "text/plain",
	    PLAN_FILE, "a listed certificate in date: the page" },
	{ "gemini://localhost/members", ANON, 60, NULL, PLAN_NONE,
	    "the rule covers its directory without the slash" },
	/* CGI: 42, and a script that does not run */
	{ "gemini://localhost/cgi-bin/run/x", ANON, 42, "Cannot start",
	    PLAN_NONE, "no runner: 42" },
	{ "gemini://localhost/cgi-bin/plain.txt", ANON, 20, "text/plain",
	    PLAN_FILE, "not executable: served as a file, never run" },
	/* upstreams: a stream (the job connects later), or 31 to PATH/ */
	{ "gemini://localhost/app/x?q", ANON, 0, NULL, PLAN_STREAM,
	    "under a fastcgi PATH: the responder's response, a stream" },
	{ "gemini://localhost/app?q", ANON, 31, "/app/?q", PLAN_NONE,
	    "a fastcgi prefix without its slash: 31 to it" },
	{ "gemini://localhost/wiki/page.gmi", ANON, 0, NULL, PLAN_STREAM,
	    "under a proxy PATH: the upstream server's response" },
	{ "gemini://localhost/members/app/x", ANON, 60, NULL, PLAN_NONE,
	    "an access rule gates an upstream's path too" },
	{ "gemini://localhost/members/app/x", MEMBER, 0, NULL, PLAN_STREAM,
	    "and lets a listed certificate through to it" },
	{ "titan://localhost/app/x.gmi;size=5;mime=text/gemini", MEMBER, 50,
	    "served by an upstream", PLAN_NONE,
	    "a Titan upload under an upstream's PATH: 50" },
	/* Titan: 50, 51, 60, 61, 62, 40 */
	{ "titan://localhost/inbox/x.gmi;size=5;mime=text/gemini", ANON, 60,
	    NULL, PLAN_NONE, "an upload without a certificate: 60" },
	{ "titan://localhost/inbox/x.gmi;size=5;mime=text/gemini", STRANGER,
	    61, "SHA256:", PLAN_NONE, "an upload from a stranger: 61" },
	{ "titan://localhost/inbox/x.gmi;size=5;mime=text/gemini", LAPSED,
	    62, NULL, PLAN_NONE, "an upload with a lapsed certificate: 62" },
	{ "titan://localhost/page.gmi;size=5;mime=text/gemini", MEMBER, 50,
	    "not accepted here", PLAN_NONE, "no titan rule there: 50" },
	{ "titan://localhost/inbox/x.gmi;size=99999;mime=text/gemini",
	    MEMBER, 50, "too large", PLAN_NONE, "over titan_max_size: 50" },
	{ "titan://localhost/inbox/x.png;size=5;mime=image/png", MEMBER, 50,
	    "not accepted", PLAN_NONE, "a type not in titan_mime: 50" },
	{ "titan://localhost/inbox/;size=5;mime=text/gemini", MEMBER, 50,
	    NULL, PLAN_NONE, "a directory is not a file to write: 50" },
	{ "titan://localhost/inbox/no/x.gmi;size=5;mime=text/gemini", MEMBER,
	    51, "No such directory", PLAN_NONE, "no such directory: 51" },
	{ "titan://localhost/inbox/gone.gmi;size=0", MEMBER, 51, "Not found",
	    PLAN_NONE, "deleting what is not there: 51" },
	{ "titan://localhost/inbox/x.gmi;size=5;mime=text/gemini", MEMBER,
	    40, "Cannot store", PLAN_NONE, "no writer: 40" },
	/* Titan's names and types (issue 19): 50 saying what would do */
	{ "titan://localhost/inbox/;size=5;mime=text/gemini", MEMBER, 50,
	    "as a post is named: /inbox/", PLAN_NONE,
	    "a directory: 50 naming a post's name to use" },
	{ "titan://localhost/news/notes.gmi;size=5;mime=text/gemini", MEMBER,
	    50, "Posts in /news/ are named YYYY-MM-DD-slug.gmi", PLAN_NONE,
	    "a feed directory's undated name: 50 with the name to use" },
	{ "titan://localhost/inbox/evil.html;size=5;mime=text/gemini", MEMBER,
	    50, "which is served as text/html", PLAN_NONE,
	    "a name served as another type than declared: 50 saying both" },
	{ "titan://localhost/inbox/x.zzz;size=5;mime=text/gemini", MEMBER, 50,
	    "is named .gmi", PLAN_NONE,
	    "a name of no known type: 50 with the extension to use" },
	{ "titan://localhost/inbox/x.epub;size=5;mime=text/gemini", MEMBER,
	    50, "served as application/epub+zip", PLAN_NONE,
	    "the name's type by the host's mime rules, as files are served" },
	{ "titan://localhost/inbox/x.gmi;size=5;mime=text/gemini; "
	    "charset=iso-8859-1", MEMBER, 50, "Charset iso-8859-1",
	    PLAN_NONE, "text in a charset not UTF-8: 50" },
	{ "titan://localhost/inbox/a%1Bb.gmi;size=5;mime=text/gemini", MEMBER,
	    50, "control", PLAN_NONE, "a name with a control byte: 50" },
	{ "titan://localhost/inbox/a%FFb.gmi;size=5;mime=text/gemini", MEMBER,
	    50, "UTF-8", PLAN_NONE, "a name not UTF-8: 50" },
	{ "titan://localhost/inbox/x.gmi;size=5;mime=text/plain", MEMBER, 40,
	    "Cannot store", PLAN_NONE,
	    "text/plain onto .gmi (Lagrange's Text tab) passes every check" },
	{ "titan://localhost/inbox/x.gmi;mime=text/gemini; charset=utf-8;"
	    "size=5", MEMBER, 40, "Cannot store", PLAN_NONE,
	    "Lagrange's File tab, the type's own charset inside, passes" },
};

static struct config	 cf;
static int		 rootfds[1];

static void
facts_for(struct facts *f, enum who who)
{
	memset(f, 0, sizeof(*f));
	f->cf = &cf;
	f->rootfds = rootfds;
	f->rootfd = -1;
	f->sni = NULL;
	f->peer_addr = "192.0.2.7";
	f->peer_log = "192.0.2.0";	/* as log_ip's default leaves it */
	f->peer_port = 50000;
	f->local_addr = "127.0.0.1";
	f->local_port = 1965;
	f->lslot = LIMIT_UNTRACKED;
	f->cert = who == ANON ? CERT_NONE : who == LAPSED ? CERT_OUT_OF_DATE :
	    CERT_IN_DATE;
	if (who != ANON)
		f->client_hash = who == STRANGER ? stranger_hash : member_hash;
}

/* One request through the table (rows run in order). */
static int
route(const char *line, const struct facts *f, struct plan *p)
{
	char	buf[2048];
	int	n;

	n = snprintf(buf, sizeof(buf), "%s\r\n", line);
	route_request(f, buf, (size_t)n, p);
	return p->status;
}

static const char *
body_name(enum plan_body b)
{
	static const char *const names[] = { "none", "file", "mem", "stream",
	    "sink" };

	return names[b];
}

static void
run_table(void)
{
	struct facts	f;
	struct plan	p;
	size_t		i;

	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		facts_for(&f, table[i].who);
		route(table[i].line, &f, &p);
		ok(p.status == table[i].status && p.body == table[i].body &&
		    (table[i].meta == NULL || strstr(p.meta, table[i].meta)) &&
		    (p.status != 53 || p.host == NULL) &&
		    (p.status == 53 || p.status == 59 || p.host == cf.hosts),
		    "%s (%d %s, %s)", table[i].rule, p.status, p.meta,
		    body_name(p.body));
		plan_free(&p);
	}
}

/* The per-client request rate: 44 with the seconds to wait. */
static void
run_rate(void)
{
	struct sockaddr_in	sin;
	struct facts		f;
	struct plan		p;
	char			err[256];

	if (shared_init(64, err, sizeof(err)) == -1) {
		ok(0, "shared_init: %s", err);
		return;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.7", &sin.sin_addr);
	facts_for(&f, ANON);
	f.lslot = shared_limits_open((struct sockaddr *)&sin, sizeof(sin), 0,
	    0);
	cf.rate_limit = 1;
	cf.rate_period = 60;
	cf.rate_burst = 1;
	route("gemini://localhost/page.gmi", &f, &p);
	ok(p.status == 20, "rate_limit: the first request goes through");
	plan_free(&p);
	route("gemini://localhost/page.gmi", &f, &p);
	ok(p.status == 44 && atoi(p.meta) > 0 && atoi(p.meta) <= 60,
	    "rate_limit: the next within the period: 44 and the wait (%s)",
	    p.meta);
	plan_free(&p);
	route("gemini://elsewhere.example/", &f, &p);
	ok(p.status == 53, "the target check comes before the rate limit");
	plan_free(&p);
	cf.rate_limit = 0;
	shared_limits_close(f.lslot);
}

/* A script to run: the runner's job, and the script's output a stream. */
static void
run_cgi(SSL *ssl)
{
	struct facts	f;
	struct plan	p, q;
	char		msg[16384];
	int		sv[2], fds[2];
	ssize_t		n;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == -1)
		abort();
	cgi_worker_init(sv[0]);
	facts_for(&f, ANON);
	f.ssl = ssl;
	route("gemini://localhost/cgi-bin/run/mental-health?x=1", &f, &p);
	ok(p.status == 0 && p.body == PLAN_STREAM && p.stream != NULL,
	    "a script: its output is the plan's stream");
	n = fdpass_recv(sv[1], msg, sizeof(msg) - 1, fds, 2);
	if (n > 0) {
		msg[n] = '\0';
		close(fds[0]);
		close(fds[1]);
	}
	ok(n > 0 && memmem(msg, (size_t)n, "SCRIPT=cgi-bin/run", 19) &&
	    memmem(msg, (size_t)n, "PATH_INFO=/mental-health", 25) &&
	    memmem(msg, (size_t)n, "QUERY_STRING=x=1", 17),
	    "the runner is asked for the script, its PATH_INFO and query");
	plan_free(&p);
	cf.cgi_max = 1;
	route("gemini://localhost/cgi-bin/run", &f, &p);
	n = fdpass_recv(sv[1], msg, sizeof(msg), fds, 2);
	if (n > 0) {
		close(fds[0]);
		close(fds[1]);
	}
	route("gemini://localhost/cgi-bin/run", &f, &q);
	ok(q.status == 44 && strcmp(q.meta, "5") == 0,
	    "cgi_max scripts running: 44 5 (%d %s)", q.status, q.meta);
	plan_free(&q);
	plan_free(&p);
	route("gemini://localhost/cgi-bin/run", &f, &p);
	ok(p.body == PLAN_STREAM, "a script ended makes room for the next");
	plan_free(&p);
	cgi_worker_init(-1);
	close(sv[0]);
	close(sv[1]);
}

/* An upload: the plan's sink, its size and its access-log facts. */
static void
run_titan(void)
{
	struct facts	f;
	struct plan	p;
	char		msg[2048];
	int		sv[2], fd;
	ssize_t		n;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == -1)
		abort();
	upload_worker_init(sv[0]);
	facts_for(&f, MEMBER);
	route("titan://localhost/inbox/x.gmi;size=5;mime=text/gemini;"
	    "token=secret", &f, &p);
	ok(p.status == 0 && p.body == PLAN_SINK && p.sink_size == 5 &&
	    p.log_kind == ENTRY_TITAN_WRITE,
	    "an upload: the plan's sink, for its 5 bytes, a write");
	ok(p.log_request != NULL && strcmp(p.log_request,
	    "titan://localhost/inbox/x.gmi;size=5;mime=text/gemini") == 0 &&
	    strcmp(p.log_user, "Branch secretary") == 0,
	    "its log line: the request without the token, the list's name");
	n = fdpass_recv(sv[1], msg, sizeof(msg), &fd, 1);
	if (n > 0)
		close(fd);
	ok(n > 0 && memmem(msg, (size_t)n, "PATH=/inbox/x.gmi", 18) &&
	    memmem(msg, (size_t)n, "SIZE=5", 7),
	    "the writer gets the job: the path checked, the size");
	plan_free(&p);
	upload_worker_init(-1);
	close(sv[0]);
	close(sv[1]);
}

/*
 * The writer's side of an upload the table planned: the job's stream
 * socket (the message's descriptor), -1 when none came.
 */
static int
writer_job(int seq)
{
	char	msg[2048];
	int	fd;

	return fdpass_recv(seq, msg, sizeof(msg), &fd, 1) > 0 ? fd : -1;
}

static void
writer_says(int job, const char *line)
{
	if (write(job, line, strlen(line)) != (ssize_t)strlen(line))
		abort();
}

/* What the writer got from the sink, as a string (at most len - 1). */
static const char *
writer_got(int job, char *buf, size_t len)
{
	ssize_t	n = read(job, buf, len - 1);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* The sink's answer now: its status, or 0 while it waits (*w says). */
static int
sink_answer(struct plan *p, long now, char meta[URL_MAX + 1],
    struct plan_wait *w)
{
	int	status;

	if (p->sink->answer(p->job, now, &status, meta, w) == 0)
		return 0;
	return status;
}

/*
 * An upload after its plan: what the writer says (writer.h's "A", "R",
 * "C", outcome) and the sink turns into the answer, and the bounds it
 * gives each wait (issue 19): 44 and the quota's 50 relayed, a delete's
 * 30 to its section, the client's 59s and the writer's 40s, and no
 * bound once "C" is said.
 */
static void
run_titan_answers(const char *root)
{
	struct facts		f;
	struct plan		p;
	struct plan_wait	w;
	struct stat		st;
	char			meta[URL_MAX + 1], buf[64];
	const long		client = cf.request_timeout * 1000L;
	int			sv[2], job, dfd, status;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == -1)
		abort();
	upload_worker_init(sv[0]);
	facts_for(&f, MEMBER);

	/* the writer's caps: the job not admitted */
	route("titan://localhost/inbox/x.gmi;size=5;mime=text/gemini", &f, &p);
	job = writer_job(sv[1]);
	writer_says(job, "44 5\n");
	ok(p.body == PLAN_SINK && p.sink->ready(p.job, 0, &w) == -1 &&
	    sink_answer(&p, 0, meta, &w) == 44 && strcmp(meta, "5") == 0,
	    "caps per certificate or address: the writer's 44 5 relayed");
	plan_free(&p);
	close(job);

	/* titan_quota, measured by the writer before the body */
	route("titan://localhost/inbox/x.gmi;size=5;mime=text/gemini", &f, &p);
	job = writer_job(sv[1]);
	writer_says(job, "50 Over titan_quota: /inbox/ holds 9 of 10\n");
	ok(p.sink->ready(p.job, 0, &w) == -1 &&
	    sink_answer(&p, 0, meta, &w) == 50 && strstr(meta, "titan_quota"),
	    "over titan_quota: the writer's 50 relayed (%s)", meta);
	plan_free(&p);
	close(job);

	/* admitted: the client's wait, the job watched; R, C, then 30 */
	route("titan://localhost/inbox/x.gmi;size=5;mime=text/gemini", &f, &p);
	job = writer_job(sv[1]);
	ok(p.sink->ready(p.job, 0, &w) == 0 && w.fd != -1 &&
	    w.events == PLAN_READ && w.left == cf.write_timeout * 1000L,
	    "before A: the writer's wait, write_timeout");
	writer_says(job, "A\n");
	ok(p.sink->ready(p.job, 0, &w) == 1 && w.fd == -1 && w.also != -1 &&
	    w.left == client, "after A: the client's wait, the job watched");
	ok(p.sink->ready(p.job, 0, &w) == 1 && p.sink->write(p.job, "hello",
	    5, 0, &w) == 5 && strcmp(writer_got(job, buf, sizeof(buf)),
	    "hello") == 0, "the body passed on to the writer");
	ok(sink_answer(&p, 0, meta, &w) == 0 && w.fd != -1 &&
	    w.left == cf.write_timeout * 1000L,
	    "the body in: the writer has write_timeout to say R");
	writer_says(job, "R 42\n");
	ok(sink_answer(&p, 0, meta, &w) == 0 &&
	    strcmp(writer_got(job, buf, sizeof(buf)), "C\n") == 0,
	    "R: the sink says C and waits for the outcome");
	ok(p.sink->expire(p.job, 999999, 0, &status, meta) == 0,
	    "after C no wait runs out: the change is under way");
	writer_says(job, "30\n");
	ok(sink_answer(&p, 0, meta, &w) == 30 &&
	    strcmp(meta, "gemini://localhost/inbox/x.gmi") == 0,
	    "the outcome: 30 to the page written (%s)", meta);
	plan_free(&p);
	close(job);

	/* a delete: 30 to its section, not to the page now gone */
	if ((dfd = open(root, O_RDONLY | O_DIRECTORY)) == -1)
		abort();
	put(dfd, "inbox/old.gmi", "old\n", 100);
	route("titan://localhost/inbox/old.gmi;size=0", &f, &p);
	job = writer_job(sv[1]);
	writer_says(job, "R 7\n");
	(void)sink_answer(&p, 0, meta, &w);
	writer_says(job, "30\n");
	ok(p.sink_size == 0 && sink_answer(&p, 0, meta, &w) == 30 &&
	    strcmp(meta, "gemini://localhost/inbox/") == 0,
	    "a delete: 30 to the section's index (%s)", meta);
	plan_free(&p);
	close(job);

	/* the job's child ends after C without a word: the target tells */
	if (fstatat(dfd, "inbox/old.gmi", &st, 0) == -1)
		abort();
	route("titan://localhost/inbox/old.gmi;size=4;mime=text/gemini", &f,
	    &p);
	job = writer_job(sv[1]);
	writer_says(job, "A\n");
	(void)p.sink->write(p.job, "new\n", 4, 0, &w);
	(void)snprintf(buf, sizeof(buf), "R %llu\n",
	    (unsigned long long)st.st_ino);
	writer_says(job, buf);
	(void)sink_answer(&p, 0, meta, &w);
	close(job);
	ok(sink_answer(&p, 0, meta, &w) == 30,
	    "no outcome, the inode R named in place: 30");
	plan_free(&p);
	route("titan://localhost/inbox/x.gmi;size=4;mime=text/gemini", &f, &p);
	job = writer_job(sv[1]);
	writer_says(job, "A\n");
	(void)p.sink->write(p.job, "new\n", 4, 0, &w);
	writer_says(job, "R 1\n");
	(void)sink_answer(&p, 0, meta, &w);
	close(job);
	ok(sink_answer(&p, 0, meta, &w) == 40 && strstr(meta, "nothing was "
	    "stored"), "no outcome, no such change: 40 (%s)", meta);
	plan_free(&p);
	close(dfd);

	/* the job fails or dies while the client is awaited: 40 at once */
	route("titan://localhost/inbox/x.gmi;size=5;mime=text/gemini", &f, &p);
	job = writer_job(sv[1]);
	writer_says(job, "A\n");
	(void)p.sink->ready(p.job, 0, &w);
	writer_says(job, "40 Cannot write the file: No space left\n");
	ok(p.sink->ready(p.job, 0, &w) == -1 &&
	    sink_answer(&p, 0, meta, &w) == 40 && strstr(meta, "No space"),
	    "the job failed during the body: its 40 at once (%s)", meta);
	plan_free(&p);
	close(job);
	route("titan://localhost/inbox/x.gmi;size=5;mime=text/gemini", &f, &p);
	job = writer_job(sv[1]);
	close(job);
	ok(p.sink->ready(p.job, 0, &w) == -1 &&
	    sink_answer(&p, 0, meta, &w) == 40 && strstr(meta, "ended the job"),
	    "the job died before A: 40 (%s)", meta);
	plan_free(&p);

	/* whose wait ran out: the client's 59s, the writer's 40 */
	route("titan://localhost/inbox/x.gmi;size=5;mime=text/gemini", &f, &p);
	job = writer_job(sv[1]);
	writer_says(job, "A\n");
	(void)p.sink->ready(p.job, 0, &w);
	ok(p.sink->expire(p.job, client, 1, &status, meta) == 1 &&
	    status == 59 && strstr(meta, "did not come in time"),
	    "no byte for request_timeout: 59 (%s)", meta);
	plan_free(&p);
	close(job);
	route("titan://localhost/inbox/x.gmi;size=5;mime=text/gemini", &f, &p);
	job = writer_job(sv[1]);
	writer_says(job, "A\n");
	ok(p.sink->ready(p.job, 10L * 60 * 60 * 1000, &w) == -1 &&
	    sink_answer(&p, 0, meta, &w) == 59 && strstr(meta, "titan_min_rate"),
	    "past the upload's deadline: 59 naming titan_min_rate (%s)", meta);
	plan_free(&p);
	close(job);
	route("titan://localhost/inbox/x.gmi;size=5;mime=text/gemini", &f, &p);
	job = writer_job(sv[1]);
	ok(p.sink->ready(p.job, 0, &w) == 0 &&
	    p.sink->expire(p.job, cf.write_timeout * 1000L, 0, &status,
	    meta) == 1 && status == 40 && strstr(meta, "Storage is slow") &&
	    read(job, buf, sizeof(buf)) == 0,
	    "the writer too slow: 40, never 59, and the job closed (%s)", meta);
	plan_free(&p);
	close(job);

	upload_worker_init(-1);
	close(sv[0]);
	close(sv[1]);
}

/*
 * What the access log may say of a certificate: its fingerprint only
 * where a list looked at it, the name the list gives it once let in.
 */
static void
run_log_facts(void)
{
	struct facts	f;
	struct plan	p;

	facts_for(&f, MEMBER);
	route("gemini://localhost/members/a.txt", &f, &p);
	ok(p.cert_checked && strcmp(p.log_user, "Branch secretary") == 0 &&
	    p.log_kind == ENTRY_GEMINI,
	    "a member let in: checked, and named as the list names them");
	plan_free(&p);
	facts_for(&f, STRANGER);
	route("gemini://localhost/members/a.txt", &f, &p);
	ok(p.status == 61 && p.cert_checked && p.log_user[0] == '\0',
	    "a stranger: checked, and no name");
	plan_free(&p);
	facts_for(&f, MEMBER);
	route("gemini://localhost/page.gmi", &f, &p);
	ok(!p.cert_checked && p.log_user[0] == '\0',
	    "a public page: the certificate was not looked at");
	plan_free(&p);
}

/* Out of descriptors: the server's trouble, 40, not "not found". */
static void
run_emfile(void)
{
	struct rlimit	old, low;
	struct facts	f;
	struct plan	p;
	int		fd;

	if (getrlimit(RLIMIT_NOFILE, &old) == -1 || (fd = dup(0)) == -1)
		abort();
	close(fd);
	low = old;
	low.rlim_cur = (rlim_t)fd;	/* no descriptor left to open */
	if (setrlimit(RLIMIT_NOFILE, &low) == -1)
		abort();
	facts_for(&f, ANON);
	route("gemini://localhost/page.gmi", &f, &p);
	setrlimit(RLIMIT_NOFILE, &old);
	ok(p.status == 40 && strstr(p.meta, "Temporary failure"),
	    "no descriptor to open the file with: 40 (%d %s)", p.status,
	    p.meta);
	plan_free(&p);
}

static void
make_capsule(const char *top, char *root, size_t rootlen, char *list,
    size_t listlen)
{
	char	path[PATH_MAX], line[200];
	int	dfd;

	snprintf(root, rootlen, "%s/root", top);
	snprintf(list, listlen, "%s/members.txt", top);
	if (mkdir(root, 0755) == -1 || (dfd = open(root, O_RDONLY)) == -1)
		abort();
	put(dfd, "index.gmi", "# Home\n", 100);
	put(dfd, "page.gmi", "# Page\n", 100);
	put(dfd, "notes.txt", "notes\n", 100);
	put(dfd, "book.epub", "PK\n", 100);
	put(dfd, ".hidden", "secret\n", 100);
	put(dfd, "home.gmi", "# Home\n\n<!-- capsuled:latest 2 news -->\n",
	    100);
	if (mkdirat(dfd, "dir", 0755) == -1 || mkdirat(dfd, "news", 0755) ==
	    -1 || mkdirat(dfd, "members", 0755) == -1 ||
	    mkdirat(dfd, "cgi-bin", 0755) == -1 ||
	    mkdirat(dfd, "inbox", 0755) == -1 ||
	    mkdirat(dfd, "cymraeg", 0755) == -1)
		abort();
	put(dfd, "dir/a.gmi", "a\n", 100);
	put(dfd, "news/2026-01-02-strike.gmi", "# Strike\n\nOn.\n", 100);
	put(dfd, "members/a.txt", "members\n", 100);
	put(dfd, "cgi-bin/run", "#!/bin/sh\nexit 0\n", 100);
	put(dfd, "cgi-bin/plain.txt", "not a script\n", 100);
	if (fchmodat(dfd, "cgi-bin/run", 0755, 0) == -1)
		abort();
	close(dfd);
	certlist_hex(member_hash, line);
	snprintf(path, sizeof(path), "%s Branch secretary\n", line);
	if ((dfd = open(top, O_RDONLY)) == -1)
		abort();
	put(dfd, "members.txt", path, 100);
	close(dfd);
}

int
main(void)
{
	char			 top[] = "/tmp/route_test.XXXXXX";
	char			 root[PATH_MAX], list[PATH_MAX], conf[8192];
	char			 err[CONFIG_ERR_MAX];
	struct access_files	*af;
	SSL_CTX			*ctx;
	SSL			*ssl;

	if (mkdtemp(top) == NULL)
		abort();
	make_capsule(top, root, sizeof(root), list, sizeof(list));
	if (snprintf(conf, sizeof(conf),
	    "[server]\nlisten = 127.0.0.1:1965\n"
	    "[host localhost]\nroot = %s\ncert = %s/c.pem\nkey = %s/k.pem\n"
	    "lang = en-GB\nautoindex = on\ncgi = cgi-bin\nfeeds = news\n"
	    "access = /members/ %s\ntitan = /inbox/ %s\ntitan = /news/ %s\n"
	    "titan_max_size = 1000\ntitan_mime = text/gemini text/plain\n"
	    "redirect = /rota.gmi /news/rota.gmi\n"
	    "redirect = /blog/ /news/ permanent\n"
	    "redirect = /members/moved.gmi /news/\n"
	    "gone = /campaign/\nlang = /cymraeg/ cy\n"
	    "mime = .epub application/epub+zip\n"
	    "fastcgi = /app/ unix:/nonexistent/fcgi.sock\n"
	    "scgi = /members/app/ unix:/nonexistent/scgi.sock\n"
	    "titan = /app/ %s\n"
	    "proxy = /wiki/ gemini://127.0.0.1:1966/w/ verify=none\n",
	    root, top, top, list, list, list, list) >= (int)sizeof(conf))
		abort();
	if (config_parse_string(conf, "route_test.ini", top, &cf, err,
	    sizeof(err)) == -1) {
		ok(0, "config: %s", err);
		return tap_done();
	}
	if ((rootfds[0] = open(root, O_RDONLY | O_DIRECTORY)) == -1 ||
	    (af = access_prepare(&cf, err, sizeof(err))) == NULL) {
		ok(0, "prepare: %s", err);
		return tap_done();
	}
	access_worker_init(af);
	run_table();
	run_rate();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    (ssl = SSL_new(ctx)) == NULL)
		abort();
	run_cgi(ssl);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	run_titan();
	run_titan_answers(root);
	run_log_facts();
	run_emfile();
	access_free(af);
	config_free(&cf);
	close(rootfds[0]);
	(void)snprintf(conf, sizeof(conf), "rm -rf '%s'", top);
	if (system(conf) != 0)
		ok(0, "clean up %s", top);
	return tap_done();
}
