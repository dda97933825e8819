/*
 * upload.c: the worker's side of a Titan upload (see upload.h and
 * writer.h).  Everything is decided before a byte of the body is read:
 * the rule, the certificate (60/61/62), size, type and charset, the
 * name (its type, its characters, a post's date), and that its
 * directory resolves beneath the root with no symlink.  Then the upload
 * is the plan's sink: the writer admits the job (or answers 44), the
 * engine streams the body from the client to the writer through a
 * socket, and the writer's answer becomes ours.  The worker writes
 * nothing.
 *
 * The timeline, and who is blamed when a hop is late (DESIGN.md has
 * it whole): the client has request_timeout between bytes and the
 * upload's deadline (titan_deadline_ms) for all of them, else 59; the
 * writer has write_timeout to admit the job, to take each part of the
 * body and to have the file written and synced ("R"), else 40 and the
 * job is closed, so nothing is stored.  Once the worker has said "C" it
 * waits for the outcome however long it takes.  The sink tells the
 * engine each wait's bound and whose it is; the engine waits.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "access.h"
#include "certlist.h"
#include "config.h"
#include "fdpass.h"
#include "feed.h"
#include "fs.h"
#include "log.h"
#include "logfmt.h"
#include "mime.h"
#include "plan.h"
#include "request.h"
#include "rules.h"
#include "titan.h"
#include "upload.h"
#include "url.h"
#include "writer.h"

enum phase {
	U_ACCEPT,	/* the writer admits the job ("A") or says why not */
	U_BODY,		/* client -> writer */
	U_READY,	/* the file is being written and synced ("R") */
	U_COMMIT,	/* "C" said: the outcome, however long it takes */
};

struct upload {
	int		 sock;		/* the job's stream to the writer */
	enum phase	 phase;
	long		 client_ms;	/* each wait for the client */
	long		 writer_ms;	/* each wait for the writer */
	long		 min_rate;	/* titan_min_rate, for the 59 */
	long long	 size;		/* body bytes */
	long long	 deadline;	/* the connection's ms: its last byte */
	int		 status;	/* given up: our answer; else 0 */
	char		 meta[URL_MAX + 1];
	char		 line[WRITER_ANSWER];
	size_t		 llen;
	int		 have_line;	/* line holds one, NUL-ended */
	unsigned long long ino;		/* what "R" said the change is */
	int		 rootfd;
	char		 path[URL_MAX + 1];
	char		 peer[LOGFMT_ADDR_MAX];	/* as the logs name it */
	char		 logreq[URL_MAX + 1];	/* the line as sent, no token */
	char		 target[URL_HOST_MAX + URL_MAX * 3 + 32];
};

static const struct sink_ops	upload_sink;
static int			writer_sock = -1;

void
upload_worker_init(int sock)
{
	writer_sock = sock;
}

static const struct rule_cfg *
titan_rule(const struct host_cfg *h, const char *path)
{
	size_t	i;

	for (i = 0; i < h->ntitan; i++)
		if (strncmp(path, h->titan[i].path,
		    strlen(h->titan[i].path)) == 0)
			return &h->titan[i];
	return NULL;
}

/* The directory of path ("/news/a.gmi": "news/") into dir; the name. */
static const char *
split(const char *path, char dir[URL_MAX + 1])
{
	const char	*name = strrchr(path, '/') + 1;

	memcpy(dir, path + 1, (size_t)(name - path - 1));
	dir[name - path - 1] = '\0';
	return name;
}

/* path's target now: 1 and *st, 0 absent, -1 the directory is not. */
static int
target_stat(int rootfd, const char *path, struct stat *st)
{
	char		 dir[URL_MAX + 1];
	const char	*name = split(path, dir);
	int		 dirfd, r;

	if ((dirfd = fs_open_dir(rootfd, dir)) == -1)
		return -1;
	r = fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW);
	close(dirfd);
	return r == 0 ? 1 : 0;
}

/*
 * What the writer will find: the directory beneath the root with no
 * symlink on the way, the target absent or a regular file.  Checked
 * here too so the client hears before it sends the body.
 */
static int
check_target(const struct facts *f, const char *path, long long size,
    struct plan *p)
{
	struct stat	 st;
	int		 r;

	if ((r = target_stat(f->rootfd, path, &st)) == -1)
		return errno == ENOENT ? plan_reply(p, 51, "No such directory") :
		    plan_reply(p, 50, "The directory is not one uploads may "
		    "go to");
	if (r == 1 && !S_ISREG(st.st_mode))
		return plan_reply(p, 50, "Only a regular file can be replaced");
	if (r == 0 && size == 0)
		return plan_reply(p, 51, "Not found");
	return 0;
}

/* Today's date, UTC, as a post's name starts. */
static void
today(char out[FEED_DATE_LEN + 1])
{
	struct tm	tm;
	time_t		now = time(NULL);

	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(out, FEED_DATE_LEN + 1, "%Y-%m-%d", &tm) == 0)
		memcpy(out, "YYYY-MM-DD", FEED_DATE_LEN + 1);
}

/* A directory of the host's feeds lists only dated posts: 1 if path's. */
static int
in_feed(const struct host_cfg *h, const char *path)
{
	char	dir[URL_MAX + 1];
	size_t	i, n;

	(void)split(path, dir);
	if ((n = strlen(dir)) > 0)
		dir[n - 1] = '\0';
	for (i = 0; i < h->nfeeds; i++)
		if (strcmp(h->feeds[i].dir, dir) == 0)
			return 1;
	return 0;
}

/*
 * The name's part: the type it will be served as must be the declared
 * one (an upload said text/gemini to evil.html would be served as
 * text/html), and a file in a feed directory must be a dated post, or
 * it would never be listed.  NULL, or the 50's meta in meta.
 */
static const char *
check_name(const struct host_cfg *h, const char *path, const char *mime,
    char *meta, size_t len)
{
	char		 dir[URL_MAX + 2], date[FEED_DATE_LEN + 1];
	char		 example[URL_MAX + 64];
	const char	*name = split(path, dir + 1), *served, *ext;

	/* the file route's lookup: the host's mime rules, then the table */
	if ((served = rules_mime(&h->rules, name)) == NULL)
		served = mime_by_name(name);
	if (!titan_type_fits(mime, served)) {
		if (served != NULL)
			(void)snprintf(meta, len, "Type %s does not fit the "
			    "name %s, which is served as %s", mime, name,
			    served);
		else if ((ext = mime_extension(mime)) != NULL)
			(void)snprintf(meta, len, "The name %s has no "
			    "extension this server knows: a %s upload is "
			    "named .%s", name, mime, ext);
		else
			(void)snprintf(meta, len, "The name %s has no "
			    "extension this server knows", name);
		return meta;
	}
	if (!in_feed(h, path) || feed_name_date(name, date))
		return NULL;
	today(date);
	dir[0] = '/';
	if (titan_post_example(dir, name, date, example,
	    sizeof(example)) == -1)
		(void)snprintf(example, sizeof(example), "%sYYYY-MM-DD-slug.gmi",
		    dir);
	(void)snprintf(meta, len, "Posts in %s are named YYYY-MM-DD-slug.gmi "
	    "to be listed, such as %s", dir, example);
	return meta;
}

/*
 * The job: HOST, PATH, SIZE, DEADLINE, CERT, ADDR, and one end of a
 * fresh stream socket.
 */
static int
send_job(const struct facts *f, const char *path, long long size,
    long long deadline)
{
	char	msg[WRITER_MSG_MAX], hex[CERTLIST_HEX_LEN + 1];
	int	sv[2], n;

	if (f->client_hash == NULL)
		return -1;	/* access_check let no one in without one */
	certlist_hex(f->client_hash, hex);
	n = snprintf(msg, sizeof(msg), "HOST=%ld%cPATH=%s%cSIZE=%lld%c"
	    "DEADLINE=%lld%cCERT=%s%cADDR=%s%c",
	    (long)(f->host - f->cf->hosts), 0, path, 0, size, 0, deadline, 0,
	    hex + 7, 0, f->peer_addr, 0);
	if (n < 0 || (size_t)n >= sizeof(msg) || writer_sock == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return -1;
	if (fdpass_send(writer_sock, msg, (size_t)n, &sv[1], 1) == -1 ||
	    fcntl(sv[0], F_SETFL, O_NONBLOCK) == -1) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	close(sv[1]);
	return sv[0];
}

/*
 * "gemini://host[:port]/path" for the 30, the path encoded; a delete's
 * is its directory's (the file is gone: the section shows it is).
 */
static int
set_target(struct upload *u, const struct request *r)
{
	char		 enc[URL_MAX * 3 + 1], port[16] = "", dir[URL_MAX + 2];
	const char	*v6 = strchr(r->url.host, ':');
	int		 n;

	dir[0] = '/';
	(void)split(r->url.path, dir + 1);
	if (url_encode_path(r->titan->size == 0 ? dir : r->url.path, enc,
	    sizeof(enc)) == -1)
		return -1;
	if (r->url.port_given)
		(void)snprintf(port, sizeof(port), ":%d", r->url.port);
	n = snprintf(u->target, sizeof(u->target), "gemini://%s%s%s%s%s",
	    v6 ? "[" : "", r->url.host, v6 ? "]" : "", port, enc);
	return n < 0 || (size_t)n >= sizeof(u->target) ? -1 : 0;
}

static struct upload *
upload_new(const struct facts *f, const struct request *r)
{
	const struct config	*cf = f->cf;
	struct upload		*u;

	if ((u = calloc(1, sizeof(*u))) == NULL)
		return NULL;
	u->sock = -1;
	if (set_target(u, r) == -1) {
		free(u);
		return NULL;
	}
	u->rootfd = f->rootfd;
	memcpy(u->path, r->url.path, strlen(r->url.path) + 1);
	(void)snprintf(u->peer, sizeof(u->peer), "%s", f->peer_log);
	memcpy(u->logreq, r->titan->sent, sizeof(u->logreq));
	u->size = r->titan->size;
	u->client_ms = cf->request_timeout * 1000L;
	u->writer_ms = cf->write_timeout * 1000L;
	u->min_rate = cf->titan_min_rate;
	/* a delete has no body: the writer's "R" comes first */
	u->phase = u->size > 0 ? U_ACCEPT : U_READY;
	return u;
}

static void
upload_free(void *arg)
{
	struct upload	*u = arg;

	if (u->sock != -1)
		close(u->sock);
	free(u);
}

/* The refusals that need no I/O, in the order a client can fix them. */
static const char *
refusal(const struct host_cfg *h, const struct rule_cfg *rule,
    const struct request *r, char *meta, size_t len)
{
	const struct titan_params *tp = r->titan;
	char			 example[URL_MAX + 64], date[FEED_DATE_LEN + 1];
	const char		*why;

	if (tp->size > h->titan_max_size) {
		(void)snprintf(meta, len, "Upload too large: at most %ld "
		    "bytes (titan_max_size)", h->titan_max_size);
		return meta;
	}
	if (tp->size > 0 && !titan_mime_ok(h->titan_mime, tp->mime)) {
		(void)snprintf(meta, len, "Type %s not accepted; titan_mime: "
		    "%s", tp->mime, h->titan_mime);
		return meta;
	}
	if (tp->size > 0 && !titan_charset_ok(tp)) {
		(void)snprintf(meta, len, "Charset %s not accepted: send "
		    "text as UTF-8 (charset utf-8 or us-ascii)", tp->charset);
		return meta;
	}
	if (titan_path_ok(r->url.path, rule->path, &why) == -1) {
		today(date);
		if (r->url.path[strlen(r->url.path) - 1] != '/' ||
		    titan_post_example(r->url.path, "slug", date, example,
		    sizeof(example)) == -1)
			return why;
		(void)snprintf(meta, len, "Cannot upload to a directory: name "
		    "the file, as a post is named: %s", example);
		return meta;
	}
	if (tp->size > 0)
		return check_name(h, r->url.path, tp->mime, meta, len);
	return NULL;
}

int
route_titan(const struct facts *f, const struct request *r, struct plan *p)
{
	const struct host_cfg	*h = f->host;
	const struct rule_cfg	*rule;
	const struct cert_entry	*who;
	struct upload		*u;
	const char		*why;
	char			 meta[3 * URL_MAX];
	long long		 ms;
	int			 slash;

	if (r->titan == NULL)
		return 0;
	/* a redirected or gone path takes no upload (route_rules let it by) */
	if (rules_titan(&h->rules, r->url.path, meta, sizeof(meta)) != 0)
		return plan_reply(p, 50, meta);
	/* nor one under an upstream's PATH: its application's to take */
	if (upstream_find(h->ups, h->nups, r->url.path, &slash) != NULL)
		return plan_reply(p, 50, "Uploads are not accepted here: the "
		    "path is served by an upstream");
	if ((rule = titan_rule(h, r->url.path)) == NULL)
		return plan_reply(p, 50, "Uploads are not accepted here");
	/* access_check names who it let in, for the log */
	if (access_check(f, rule->file, &who, p))
		return 1;
	if ((why = refusal(h, rule, r, meta, sizeof(meta))) != NULL)
		return plan_reply(p, 50, why);
	if (check_target(f, r->url.path, r->titan->size, p))
		return 1;
	if ((u = upload_new(f, r)) == NULL)
		return plan_reply(p, 40, "Out of memory");
	ms = titan_deadline_ms(u->size, f->cf->request_timeout,
	    f->cf->titan_min_rate);
	if ((u->sock = send_job(f, r->url.path, u->size, ms)) == -1) {
		log_warnx("%s: titan %s: cannot reach the writer: %s",
		    f->peer_log, r->url.path, strerror(errno));
		upload_free(u);
		return plan_reply(p, 40, "Cannot store uploads now");
	}
	u->deadline = f->now + ms;
	/* as a refusal's: the line as sent, its token left out */
	p->log_request = u->logreq;
	p->log_kind = u->size == 0 ? ENTRY_TITAN_DELETE : ENTRY_TITAN_WRITE;
	return plan_sink(p, &upload_sink, u, u->size);
}

/* An answer's meta, cut as a header's is (request_header). */
static void
set_meta(char meta[URL_MAX + 1], const char *s)
{
	size_t	len = request_meta_len(s, URL_MAX);

	memcpy(meta, s, len);
	meta[len] = '\0';
}

/*
 * Give the job up: the writer's child removes what it wrote.  Our
 * answer is status and why; the server's own trouble is logged.
 */
static void
give_up(struct upload *u, int status, const char *why)
{
	if (status != 59)
		log_warnx("%s: titan %s: %s", u->peer, u->path, why);
	if (u->sock != -1) {
		close(u->sock);
		u->sock = -1;
	}
	u->status = status;
	set_meta(u->meta, why);
}

/* The client is late: no byte for request_timeout, or past its deadline. */
static void
client_late(struct upload *u, long now)
{
	char	meta[128];

	if (now < u->deadline) {
		give_up(u, 59, "Upload timeout: the body did not come in time");
		return;
	}
	(void)snprintf(meta, sizeof(meta), "Upload too slow: send at least "
	    "%ld bytes a second (titan_min_rate)", u->min_rate);
	give_up(u, 59, meta);
}

/* Wait for the writer: each hop of its part has write_timeout. */
static void
writer_wait(const struct upload *u, int events, struct plan_wait *w)
{
	w->fd = u->sock;
	w->events = events;
	w->also = -1;
	w->left = u->writer_ms;
}

/*
 * The writer's next line into u->line: 1 read, 0 none yet (wait as *w
 * says), -1 the job ended without one.
 */
static int
read_line(struct upload *u, struct plan_wait *w)
{
	char	*nl;
	ssize_t	 n;

	if (u->have_line)
		return 1;
	while ((nl = memchr(u->line, '\n', u->llen)) == NULL) {
		if (u->llen == sizeof(u->line) - 1)
			return -1;
		n = read(u->sock, u->line + u->llen,
		    sizeof(u->line) - 1 - u->llen);
		if (n < 0 && errno == EAGAIN) {
			writer_wait(u, PLAN_READ, w);
			return 0;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		u->llen += (size_t)n;
	}
	*nl = '\0';
	u->have_line = 1;
	return 1;
}

/* Done with u->line: the next one starts after it. */
static void
next_line(struct upload *u)
{
	size_t	n = strlen(u->line) + 1;

	memmove(u->line, u->line + n, u->llen - n);
	u->llen -= n;
	u->have_line = 0;
}

/*
 * Before the body: the writer's "A" (it admitted the job).  1 it came,
 * 0 wait as *w says, -1 the writer said no or ended (the answer says).
 */
static int
admitted(struct upload *u, struct plan_wait *w)
{
	int	r;

	if (u->phase != U_ACCEPT)
		return 1;
	if ((r = read_line(u, w)) != 1)
		return r;
	if (strcmp(u->line, "A") != 0)
		return -1;	/* "44 5", a refusal: the answer relays it */
	next_line(u);
	u->phase = U_BODY;
	return 1;
}

/*
 * While the body comes the writer speaks only to stop taking it (a job
 * that failed, or died): 1 it has, its line (or its end) to be read.
 */
static int
writer_stopped(struct upload *u)
{
	ssize_t	n;

	if (u->llen == sizeof(u->line) - 1)
		return 1;
	n = read(u->sock, u->line + u->llen, sizeof(u->line) - 1 - u->llen);
	if (n < 0)
		return errno != EAGAIN && errno != EINTR;
	u->llen += (size_t)n;
	return 1;	/* bytes, or its end */
}

/*
 * The client's turn: read on, for request_timeout and no later than the
 * deadline, the writer watched meanwhile (also).
 */
static int
upload_ready(void *arg, long now, struct plan_wait *w)
{
	struct upload	*u = arg;
	long long	 left;
	int		 r;

	if (u->status != 0)
		return -1;
	if ((r = admitted(u, w)) != 1)
		return r;
	if (writer_stopped(u))
		return -1;
	if ((left = u->deadline - now) <= 0) {
		client_late(u, now);
		return -1;
	}
	w->fd = -1;
	w->events = PLAN_READ;
	w->also = u->sock;
	w->left = left < u->client_ms ? (long)left : u->client_ms;
	return 1;
}

/* Body bytes to the writer; -1 when it has said no (its answer says why). */
static ssize_t
upload_write(void *arg, const char *buf, size_t len, long now,
    struct plan_wait *w)
{
	struct upload	*u = arg;
	ssize_t		 n;
	int		 r;

	(void)now;
	if (u->status != 0)
		return -1;
	if ((r = admitted(u, w)) != 1)
		return r;
	for (;;) {
		if ((n = send(u->sock, buf, len, MSG_NOSIGNAL)) >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -1;	/* the writer said no: read why */
		writer_wait(u, PLAN_WRITE, w);
		return 0;
	}
}

/* The writer's outcome, "30" or "NN why", as our answer. */
static void
outcome(struct upload *u)
{
	const char	*l = u->line;
	int		 status;

	if (l[0] < '1' || l[0] > '6' || l[1] < '0' || l[1] > '9' ||
	    (l[2] != '\0' && l[2] != ' ')) {
		give_up(u, 40, "Upload failed: the writer's answer made no "
		    "sense");
		return;
	}
	status = (l[0] - '0') * 10 + l[1] - '0';
	u->status = status;
	set_meta(u->meta, status == 30 ? u->target : l[2] == ' ' ? l + 3 :
	    "");
}

/*
 * The writer's child ended after "C" without saying how it went: the
 * target tells.  An upload is in place when the target is the inode
 * "R" named; a delete is done when that inode is no longer there.
 */
static void
settle(struct upload *u)
{
	struct stat	st;
	int		r = target_stat(u->rootfd, u->path, &st);
	int		done = u->size > 0 ? r == 1 && st.st_ino == u->ino :
			    r == 0 || (r == 1 && st.st_ino != u->ino);

	if (!done) {
		give_up(u, 40, "Upload failed: the writer stopped before the "
		    "change was made; nothing was stored");
		return;
	}
	log_warnx("%s: titan %s: the writer's job ended without its answer, "
	    "after the change was made", u->peer, u->path);
	u->status = 30;
	set_meta(u->meta, u->target);
}

/*
 * Once the body is in (or refused): the writer's lines to the outcome.
 * "R <inode>" (written and synced) is answered "C" (commit), and the
 * outcome follows.  1 decided (u->status), 0 wait as *w says.
 */
static int
decide(struct upload *u, struct plan_wait *w)
{
	unsigned long long	ino;
	char			end;
	int			r;

	if (u->phase == U_BODY)
		u->phase = U_READY;
	while (u->status == 0) {
		if ((r = read_line(u, w)) == 0)
			return 0;
		if (r == -1) {
			if (u->phase == U_COMMIT)
				settle(u);
			else
				give_up(u, 40, "Upload failed: the writer "
				    "ended the job; nothing was stored");
			break;
		}
		if (u->phase == U_READY && sscanf(u->line, "R %llu%c", &ino,
		    &end) == 1) {
			next_line(u);
			u->ino = ino;
			if (write(u->sock, "C\n", 2) != 2)
				give_up(u, 40, "Upload failed: the writer "
				    "ended the job; nothing was stored");
			u->phase = U_COMMIT;
			continue;
		}
		outcome(u);
	}
	return 1;
}

static int
upload_answer(void *arg, long now, int *status, char meta[URL_MAX + 1],
    struct plan_wait *w)
{
	struct upload	*u = arg;

	(void)now;
	if (decide(u, w) == 0)
		return 0;
	*status = u->status;
	memcpy(meta, u->meta, sizeof(u->meta));
	return 1;
}

/*
 * A wait ran out: a client too slow is answered 59, a writer too slow
 * 40, and the job is dropped (nothing is left); after the commit the
 * change is under way: wait on.
 */
static int
upload_expire(void *arg, long now, int client, int *status,
    char meta[URL_MAX + 1])
{
	struct upload	*u = arg;

	if (u->phase == U_COMMIT)
		return 0;
	if (client)
		client_late(u, now);
	else
		give_up(u, 40, "Storage is slow: nothing was stored; try "
		    "again later");
	*status = u->status;
	memcpy(meta, u->meta, sizeof(u->meta));
	return 1;
}

static const struct sink_ops	upload_sink = {
	upload_ready,
	upload_write,
	upload_answer,
	upload_expire,
	upload_free,
};
