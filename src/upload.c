/*
 * upload.c: the worker's side of a Titan upload (see upload.h and
 * writer.h).  Everything is decided before a byte of the body is read:
 * the rule, the certificate (60/61/62), size and type, the path, and
 * that its directory resolves beneath the root with no symlink.  Then
 * the body streams from the client to the writer through a socket,
 * and the writer's answer becomes ours.  The worker writes nothing.
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
#include "rules.h"
#include "titan.h"
#include "upload.h"
#include "url.h"
#include "writer.h"

#define UPLOAD_BUF	16384

enum { U_BODY, U_ANSWER };

struct upload {
	int		 sock;		/* the job's stream to the writer */
	int		 phase;
	long long	 left;		/* body bytes not yet read */
	char		 buf[UPLOAD_BUF];
	size_t		 len, off;	/* read, not yet passed on */
	char		 answer[WRITER_ANSWER];
	size_t		 alen;
	char		 target[URL_HOST_MAX + URL_MAX * 3 + 32];
	char		 logreq[URL_MAX * 3 + 64];	/* no token */
	char		 who[CERTLIST_NAME_MAX + CERTLIST_HEX_LEN + 4];
};

static int	writer_sock = -1;

void
upload_worker_init(int sock)
{
	writer_sock = sock;
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

/*
 * What the writer will find: the directory beneath the root with no
 * symlink on the way, the target absent or a regular file.  Checked
 * here too so the client hears before it sends the body.
 */
static int
check_target(struct conn *c, const char *path, long long size)
{
	char		 dir[URL_MAX + 1];
	const char	*name = strrchr(path, '/') + 1;
	struct stat	 st;
	int		 dirfd, r;

	memcpy(dir, path + 1, (size_t)(name - path - 1));
	dir[name - path - 1] = '\0';
	if ((dirfd = writer_open_dir(conn_info(c)->rootfd, dir)) == -1)
		return errno == ENOENT ? reply(c, 51, "No such directory") :
		    reply(c, 50, "The directory is not one uploads may go to");
	r = fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW);
	close(dirfd);
	if (r == 0 && !S_ISREG(st.st_mode))
		return reply(c, 50, "Only a regular file can be replaced");
	if (r == -1 && size == 0)
		return reply(c, 51, "Not found");
	return 0;
}

/* The job: HOST, PATH, SIZE and one end of a fresh stream socket. */
static int
send_job(const struct conn_info *ci, const char *path, long long size)
{
	char	msg[WRITER_MSG_MAX];
	int	sv[2], n;

	n = snprintf(msg, sizeof(msg), "HOST=%ld%cPATH=%s%cSIZE=%lld%c",
	    (long)(ci->host - ci->cf->hosts), 0, path, 0, size, 0);
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

/* "gemini://host[:port]/path" for the 30, the path encoded. */
static int
set_target(struct upload *u, const struct request *r)
{
	char		 enc[URL_MAX * 3 + 1], port[16] = "";
	const char	*v6 = strchr(r->url.host, ':');
	int		 n;

	if (url_encode_path(r->url.path, enc, sizeof(enc)) == -1)
		return -1;
	if (r->url.port_given)
		(void)snprintf(port, sizeof(port), ":%d", r->url.port);
	n = snprintf(u->target, sizeof(u->target), "gemini://%s%s%s%s%s",
	    v6 ? "[" : "", r->url.host, v6 ? "]" : "", port, enc);
	if (n < 0 || (size_t)n >= sizeof(u->target))
		return -1;
	n = snprintf(u->logreq, sizeof(u->logreq), "titan://%s%s%s%s%s;"
	    "size=%lld;mime=%s", v6 ? "[" : "", r->url.host, v6 ? "]" : "",
	    port, enc, r->titan->size, r->titan->mime);
	return n < 0 || (size_t)n >= sizeof(u->logreq) ? -1 : 0;
}

static struct upload *
upload_new(struct conn *c, const struct request *r,
    const struct cert_entry *who)
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
	if (who->name[0] != '\0')
		snprintf(u->who, sizeof(u->who), "%s", who->name);
	else
		certlist_hex(ci->client_hash, u->who);
	u->left = r->titan->size;
	u->phase = u->left > 0 ? U_BODY : U_ANSWER;
	return u;
}

/* The connection reads the body now; bytes that came with the line
 * are the body's first (more than size: the rest is not ours). */
static void
upload_begin(struct conn *c, struct upload *u)
{
	const char	*pending;
	size_t		 n = conn_upload(c, u, &pending);

	if ((long long)n > u->left)
		n = (size_t)u->left;
	memcpy(u->buf, pending, n);
	u->len = n;
	u->left -= (long long)n;
}

int
route_titan(struct conn *c, const struct request *r)
{
	const struct conn_info	*ci = conn_info(c);
	const struct host_cfg	*h = ci->host;
	const struct titan_params *tp = r->titan;
	const struct rule_cfg	*rule;
	const struct cert_entry	*who;
	struct upload		*u;
	const char		*why;
	char			 meta[512];

	if (tp == NULL)
		return 0;
	/* a redirected or gone path takes no upload (route_rules let it by) */
	if (rules_titan(&h->rules, r->url.path, meta, sizeof(meta)) != 0)
		return reply(c, 50, meta);
	if ((rule = titan_rule(h, r->url.path)) == NULL)
		return reply(c, 50, "Uploads are not accepted here");
	if (access_check(c, rule->file, &who))
		return 1;
	if (tp->size > h->titan_max_size) {
		snprintf(meta, sizeof(meta), "Upload too large: at most %ld "
		    "bytes (titan_max_size)", h->titan_max_size);
		return reply(c, 50, meta);
	}
	if (tp->size > 0 && !titan_mime_ok(h->titan_mime, tp->mime)) {
		snprintf(meta, sizeof(meta), "Type %s not accepted; "
		    "titan_mime: %s", tp->mime, h->titan_mime);
		return reply(c, 50, meta);
	}
	if (titan_path_ok(r->url.path, rule->path, &why) == -1)
		return reply(c, 50, why);
	if (check_target(c, r->url.path, tp->size))
		return 1;
	if ((u = upload_new(c, r, who)) == NULL)
		return reply(c, 40, "Out of memory");
	if ((u->sock = send_job(ci, r->url.path, tp->size)) == -1) {
		log_warnx("%s: titan %s: cannot reach the writer: %s",
		    ci->peer_addr, r->url.path, strerror(errno));
		upload_free(u);
		return reply(c, 40, "Cannot store uploads now");
	}
	upload_begin(c, u);
	return 1;
}

/* After a failed SSL_read: wait as OpenSSL asks; -1 the client is gone. */
static int
client_wait(struct conn *c, int r)
{
	switch (SSL_get_error(conn_info(c)->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		conn_wait_upload(c, -1, EV_READ);
		return 0;
	case SSL_ERROR_WANT_WRITE:
		conn_wait_upload(c, -1, EV_WRITE);
		return 0;
	default:
		ERR_clear_error();
		return -1;
	}
}

/* Client -> writer until the body is all passed on; 1 when it is. */
static int
pass_body(struct conn *c, struct upload *u)
{
	ssize_t	w;
	int	r;

	for (;;) {
		while (u->off < u->len) {
			w = send(u->sock, u->buf + u->off, u->len - u->off,
			    MSG_NOSIGNAL);
			if (w < 0 && errno == EAGAIN) {
				conn_wait_upload(c, u->sock, EV_WRITE);
				return 0;
			}
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return 1;	/* the writer said no: read why */
			u->off += (size_t)w;
		}
		if (u->left == 0)
			return 1;
		r = SSL_read(conn_info(c)->ssl, u->buf, u->left < UPLOAD_BUF ?
		    (int)u->left : UPLOAD_BUF);
		if (r <= 0)
			return client_wait(c, r);
		u->len = (size_t)r;
		u->off = 0;
		u->left -= r;
	}
}

/* The writer's line: "30", or "NN why". */
static int
read_answer(struct conn *c, struct upload *u)
{
	char	*nl;
	ssize_t	 n;
	int	 status;

	while ((nl = memchr(u->answer, '\n', u->alen)) == NULL) {
		if (u->alen == sizeof(u->answer) - 1)
			break;
		n = read(u->sock, u->answer + u->alen,
		    sizeof(u->answer) - 1 - u->alen);
		if (n < 0 && errno == EAGAIN) {
			conn_wait_upload(c, u->sock, EV_READ);
			return 0;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return reply(c, 40, "Upload failed");
		u->alen += (size_t)n;
	}
	if (nl == NULL || u->alen < 2 || u->answer[0] < '1' ||
	    u->answer[0] > '6' || u->answer[1] < '0' || u->answer[1] > '9')
		return reply(c, 40, "Upload failed");
	*nl = '\0';
	status = (u->answer[0] - '0') * 10 + u->answer[1] - '0';
	if (status == 30)
		return reply(c, 30, u->target);
	return reply(c, status, u->answer[2] == ' ' ? u->answer + 3 : "");
}

int
upload_step(struct conn *c, struct upload *u)
{
	int	r;

	if (u->phase == U_BODY) {
		if ((r = pass_body(c, u)) != 1)
			return r;
		u->phase = U_ANSWER;
	}
	return read_answer(c, u);
}

void
upload_timeout(struct conn *c, struct upload *u)
{
	if (u->sock != -1) {
		close(u->sock);		/* the writer drops the job */
		u->sock = -1;
	}
	conn_reply(c, 59, u->phase == U_BODY ? "Upload timeout: the body "
	    "did not come in time" : "Upload timeout");
}

void
upload_log(const struct upload *u, struct access_entry *e)
{
	/* one line at a time, logged at once: a worker has one thread */
	static char	 redacted[REQUEST_MAX + 1];
	size_t		 len = e->reqlen;

	if (u == NULL) {
		/* refused before an upload began: the token is still secret */
		if (e->request == NULL || !titan_is(e->request, len))
			return;
		if (len > sizeof(redacted) - 1)
			len = sizeof(redacted) - 1;
		e->reqlen = titan_redact(e->request, len, redacted);
		e->request = redacted;
		return;
	}
	e->request = u->logreq;
	e->reqlen = strlen(u->logreq);
	e->user = u->who;
}

void
upload_free(struct upload *u)
{
	if (u == NULL)
		return;
	if (u->sock != -1)
		close(u->sock);
	free(u);
}
