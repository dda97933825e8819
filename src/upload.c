/*
 * upload.c: the worker's side of a Titan upload (see upload.h and
 * writer.h).  Everything is decided before a byte of the body is read:
 * the rule, the certificate (60/61/62), size, type and charset, the
 * name (its type, its characters, a post's date), and that its
 * directory resolves beneath the root with no symlink.  Then the writer
 * admits the job (or answers 44) and the body streams from the client
 * to the writer, whose answer becomes ours.  The worker writes nothing.
 *
 * The timeline, and who is blamed when a hop is late (DESIGN.md has
 * it whole): the client has request_timeout between bytes and the
 * upload's deadline (titan_deadline_ms) for all of them, else 59; the
 * writer has write_timeout to admit the job, to take each part of the
 * body and to have the file written and synced ("R"), else 40 and the
 * worker closes the job, so nothing is stored.  Once the worker has
 * said "C" it waits for the outcome however long it takes.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "access.h"
#include "certlist.h"
#include "config.h"
#include "conn.h"
#include "fdpass.h"
#include "feed.h"
#include "log.h"
#include "mime.h"
#include "rules.h"
#include "titan.h"
#include "upload.h"
#include "url.h"
#include "writer.h"

#define UPLOAD_BUF	16384

enum phase {
	U_ACCEPT,	/* the writer admits the job ("A") or says why not */
	U_BODY,		/* client -> writer */
	U_READY,	/* the file is being written and synced ("R") */
	U_COMMIT,	/* "C" said: the outcome, however long it takes */
};

struct upload {
	int		 sock;		/* the job's stream to the writer */
	enum phase	 phase;
	int		 on_client;	/* waiting for the client, not the writer */
	struct event	 watch;		/* U_BODY: the writer speaks only to stop */
	int		 watching, stopped;
	struct conn	*conn;
	long long	 size, left;	/* body bytes; not yet read */
	long long	 deadline;	/* monotonic ms: the body's last byte */
	char		 buf[UPLOAD_BUF];
	size_t		 len, off;	/* read, not yet passed on */
	char		 line[WRITER_ANSWER];
	size_t		 llen;
	unsigned long long ino;		/* what "R" said the change is */
	int		 rootfd;
	char		 path[URL_MAX + 1];
	char		 target[URL_HOST_MAX + URL_MAX * 3 + 32];
};

static int	writer_sock = -1;

void
upload_worker_init(int sock)
{
	writer_sock = sock;
}

static long long
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
reply(struct conn *c, int status, const char *meta)
{
	conn_reply(c, status, meta);
	return 1;
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

	if ((dirfd = writer_open_dir(rootfd, dir)) == -1)
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
check_target(struct conn *c, const char *path, long long size)
{
	struct stat	 st;
	int		 r;

	if ((r = target_stat(conn_info(c)->rootfd, path, &st)) == -1)
		return errno == ENOENT ? reply(c, 51, "No such directory") :
		    reply(c, 50, "The directory is not one uploads may go to");
	if (r == 1 && !S_ISREG(st.st_mode))
		return reply(c, 50, "Only a regular file can be replaced");
	if (r == 0 && size == 0)
		return reply(c, 51, "Not found");
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

/* The job: HOST, PATH, SIZE, DEADLINE, CERT, ADDR, and one end of a
 * fresh stream socket. */
static int
send_job(const struct conn_info *ci, const char *path, long long size,
    long long deadline)
{
	char	msg[WRITER_MSG_MAX], hex[CERTLIST_HEX_LEN + 1];
	int	sv[2], n;

	certlist_hex(ci->client_hash, hex);
	n = snprintf(msg, sizeof(msg), "HOST=%ld%cPATH=%s%cSIZE=%lld%c"
	    "DEADLINE=%lld%cCERT=%s%cADDR=%s%c",
	    (long)(ci->host - ci->cf->hosts), 0, path, 0, size, 0, deadline, 0,
	    hex + 7, 0, ci->peer_addr, 0);
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
upload_new(struct conn *c, const struct request *r)
{
	const struct conn_info	*ci = conn_info(c);
	struct upload		*u;

	if ((u = calloc(1, sizeof(*u))) == NULL)
		return NULL;
	u->sock = -1;
	if (set_target(u, r) == -1) {
		free(u);
		return NULL;
	}
	u->rootfd = ci->rootfd;
	memcpy(u->path, r->url.path, strlen(r->url.path) + 1);
	u->size = u->left = r->titan->size;
	u->deadline = titan_deadline_ms(u->size, ci->cf->request_timeout,
	    ci->cf->titan_min_rate);
	/* a delete has no body: the writer's "R" comes first */
	u->phase = u->size > 0 ? U_ACCEPT : U_READY;
	return u;
}

/* The connection reads the body now; bytes that came with the line
 * are the body's first (more than size: the rest is not ours). */
static void
upload_begin(struct conn *c, struct upload *u)
{
	const char	*pending;
	size_t		 n = conn_upload(c, u, &pending);

	u->conn = c;
	if ((long long)n > u->left)
		n = (size_t)u->left;
	memcpy(u->buf, pending, n);
	u->len = n;
	u->left -= (long long)n;
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
route_titan(struct conn *c, const struct request *r)
{
	const struct conn_info	*ci = conn_info(c);
	const struct host_cfg	*h = ci->host;
	const struct rule_cfg	*rule;
	const struct cert_entry	*who;
	struct upload		*u;
	const char		*why;
	char			 meta[3 * URL_MAX];

	if (r->titan == NULL)
		return 0;
	/* a redirected or gone path takes no upload (route_rules let it by) */
	if (rules_titan(&h->rules, r->url.path, meta, sizeof(meta)) != 0)
		return reply(c, 50, meta);
	if ((rule = titan_rule(h, r->url.path)) == NULL)
		return reply(c, 50, "Uploads are not accepted here");
	/* access_check names who it let in, for the log */
	if (access_check(c, rule->file, &who))
		return 1;
	if ((why = refusal(h, rule, r, meta, sizeof(meta))) != NULL)
		return reply(c, 50, why);
	if (check_target(c, r->url.path, r->titan->size))
		return 1;
	if ((u = upload_new(c, r)) == NULL)
		return reply(c, 40, "Out of memory");
	if ((u->sock = send_job(ci, r->url.path, r->titan->size,
	    u->deadline)) == -1) {
		log_warnx("%s: titan %s: cannot reach the writer: %s",
		    ci->peer_log, r->url.path, strerror(errno));
		upload_free(u);
		return reply(c, 40, "Cannot store uploads now");
	}
	u->deadline += now_ms();
	upload_begin(c, u);
	return 1;
}

static void
unwatch(struct upload *u)
{
	if (u->watching)
		event_del(&u->watch);
	u->watching = 0;
}

/* Give the job up: the writer's child removes what it wrote. */
static int
fail(struct conn *c, struct upload *u, int status, const char *why)
{
	unwatch(u);
	if (status != 59)
		log_warnx("%s: titan %s: %s", conn_info(c)->peer_addr, u->path,
		    why);
	if (u->sock != -1) {
		close(u->sock);
		u->sock = -1;
	}
	return reply(c, status, why);
}

/* The client is late: no byte for request_timeout, or past its deadline. */
static int
client_late(struct conn *c, struct upload *u)
{
	char	meta[128];

	if (now_ms() < u->deadline)
		return fail(c, u, 59, "Upload timeout: the body did not come "
		    "in time");
	(void)snprintf(meta, sizeof(meta), "Upload too slow: send at least "
	    "%ld bytes a second (titan_min_rate)",
	    conn_info(c)->cf->titan_min_rate);
	return fail(c, u, 59, meta);
}

/* Wait for the writer: each hop of its part has write_timeout. */
static int
writer_wait(struct conn *c, struct upload *u, short what)
{
	u->on_client = 0;
	conn_wait_upload(c, u->sock, what,
	    (long)conn_info(c)->cf->write_timeout * 1000);
	return 0;
}

/* The writer spoke while the body came: it has stopped taking it. */
static void
writer_stopped(int fd, short what, void *arg)
{
	struct upload	*u = arg;

	(void)fd;
	(void)what;
	u->watching = 0;
	u->stopped = 1;
	conn_wake(u->conn);
}

/* After a failed SSL_read: wait as OpenSSL asks; -1 the client is gone.
 * A client has request_timeout between bytes, and the deadline; the
 * writer is watched meanwhile (a job that failed or died). */
static int
client_wait(struct conn *c, struct upload *u, int r)
{
	long long	left = u->deadline - now_ms(), ms;

	ms = (long long)conn_info(c)->cf->request_timeout * 1000;
	if (left < ms)
		ms = left;
	u->on_client = 1;
	if (!u->watching) {
		event_set(&u->watch, u->sock, EV_READ, writer_stopped, u);
		event_add(&u->watch, NULL);
		u->watching = 1;
	}
	switch (SSL_get_error(conn_info(c)->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		conn_wait_upload(c, -1, EV_READ, (long)ms);
		return 0;
	case SSL_ERROR_WANT_WRITE:
		conn_wait_upload(c, -1, EV_WRITE, (long)ms);
		return 0;
	default:
		ERR_clear_error();
		return -1;
	}
}

/*
 * Client -> writer until the body is all passed on: 1 when it is, or
 * when the writer has stopped taking it (its line says why); 0 waiting.
 */
static int
pass_body(struct conn *c, struct upload *u)
{
	ssize_t	w;
	int	r;

	for (;;) {
		if (u->stopped)
			return 1;	/* its line says why */
		while (u->off < u->len) {
			w = send(u->sock, u->buf + u->off, u->len - u->off,
			    MSG_NOSIGNAL);
			if (w < 0 && errno == EAGAIN)
				return writer_wait(c, u, EV_WRITE);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return 1;	/* the writer said no: read why */
			u->off += (size_t)w;
		}
		if (u->left == 0)
			return 1;
		if (now_ms() >= u->deadline)
			return client_late(c, u);
		r = SSL_read(conn_info(c)->ssl, u->buf, u->left < UPLOAD_BUF ?
		    (int)u->left : UPLOAD_BUF);
		if (r <= 0)
			return client_wait(c, u, r);
		u->len = (size_t)r;
		u->off = 0;
		u->left -= r;
	}
}

/* The writer's next line into u->line: 1 read, 0 waiting, -1 it ended. */
static int
read_line(struct conn *c, struct upload *u)
{
	char	*nl;
	ssize_t	 n;

	while ((nl = memchr(u->line, '\n', u->llen)) == NULL) {
		if (u->llen == sizeof(u->line) - 1)
			return -1;
		n = read(u->sock, u->line + u->llen,
		    sizeof(u->line) - 1 - u->llen);
		if (n < 0 && errno == EAGAIN)
			return writer_wait(c, u, EV_READ);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		u->llen += (size_t)n;
	}
	*nl = '\0';
	return 1;
}

/* Done with u->line: the next one starts after it. */
static void
next_line(struct upload *u)
{
	size_t	n = strlen(u->line) + 1;

	memmove(u->line, u->line + n, u->llen - n);
	u->llen -= n;
}

/* The writer's outcome, "30" or "NN why", as our reply. */
static int
outcome(struct conn *c, struct upload *u)
{
	const char	*l = u->line;
	int		 status;

	if (l[0] < '1' || l[0] > '6' || l[1] < '0' || l[1] > '9' ||
	    (l[2] != '\0' && l[2] != ' '))
		return fail(c, u, 40, "Upload failed: the writer's answer "
		    "made no sense");
	status = (l[0] - '0') * 10 + l[1] - '0';
	if (status == 30)
		return reply(c, 30, u->target);
	return reply(c, status, l[2] == ' ' ? l + 3 : "");
}

/*
 * The writer's child ended after "C" without saying how it went: the
 * target tells.  An upload is in place when the target is the inode
 * "R" named; a delete is done when that inode is no longer there.
 */
static int
settle(struct conn *c, struct upload *u)
{
	struct stat	st;
	int		r = target_stat(u->rootfd, u->path, &st);
	int		done = u->size > 0 ? r == 1 && st.st_ino == u->ino :
			    r == 0 || (r == 1 && st.st_ino != u->ino);

	if (done) {
		log_warnx("%s: titan %s: the writer's job ended without its "
		    "answer, after the change was made", conn_info(c)->peer_addr,
		    u->path);
		return reply(c, 30, u->target);
	}
	return fail(c, u, 40, "Upload failed: the writer stopped before the "
	    "change was made; nothing was stored");
}

int
upload_step(struct conn *c, struct upload *u)
{
	unsigned long long	 ino;
	char			 end;
	int			 r;

	for (;;) {
		if (u->phase == U_BODY) {
			if ((r = pass_body(c, u)) != 1)
				return r;
			unwatch(u);
			u->phase = U_READY;
		}
		if ((r = read_line(c, u)) == 0)
			return 0;
		if (r == -1)
			return u->phase == U_COMMIT ? settle(c, u) :
			    fail(c, u, 40, "Upload failed: the writer ended "
			    "the job; nothing was stored");
		if (u->phase == U_ACCEPT && strcmp(u->line, "A") == 0) {
			next_line(u);
			u->phase = U_BODY;
			continue;
		}
		if (u->phase == U_READY && sscanf(u->line, "R %llu%c", &ino,
		    &end) == 1) {
			next_line(u);
			u->ino = ino;
			if (write(u->sock, "C\n", 2) != 2)
				return fail(c, u, 40, "Upload failed: the "
				    "writer ended the job; nothing was stored");
			u->phase = U_COMMIT;
			continue;
		}
		return outcome(c, u);
	}
}

void
upload_timeout(struct conn *c, struct upload *u)
{
	if (u->phase == U_COMMIT)
		return;		/* the change is under way: wait on */
	if (!u->on_client)
		(void)fail(c, u, 40, "Storage is slow: nothing was stored; "
		    "try again later");
	else
		(void)client_late(c, u);
}

void
upload_log(const struct upload *u, struct access_entry *e)
{
	/* one line at a time, logged at once: a worker has one thread */
	static char	 redacted[REQUEST_MAX + 1];
	size_t		 len = e->reqlen;

	/* the request as sent, but never its token: it is a secret */
	if (e->request == NULL || !titan_is(e->request, len))
		return;
	e->kind = u == NULL ? ENTRY_TITAN_REFUSED : u->size == 0 ?
	    ENTRY_TITAN_DELETE : ENTRY_TITAN_WRITE;
	if (len > sizeof(redacted) - 1)
		len = sizeof(redacted) - 1;
	e->reqlen = titan_redact(e->request, len, redacted);
	e->request = redacted;
}

void
upload_free(struct upload *u)
{
	if (u == NULL)
		return;
	unwatch(u);
	if (u->sock != -1)
		close(u->sock);
	free(u);
}
