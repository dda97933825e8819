/*
 * upload.c: the worker's side of a Titan upload (see upload.h and
 * writer.h).  Everything is decided before a byte of the body is read:
 * the rule, the certificate (60/61/62), size and type, the path, and
 * that its directory resolves beneath the root with no symlink.  Then
 * the upload is the plan's sink: the engine streams the body from the
 * client to the writer through a socket, and the writer's answer
 * becomes ours.  The worker writes nothing.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access.h"
#include "certlist.h"
#include "config.h"
#include "fdpass.h"
#include "fs.h"
#include "log.h"
#include "plan.h"
#include "request.h"
#include "rules.h"
#include "titan.h"
#include "upload.h"
#include "url.h"
#include "writer.h"

struct upload {
	int		 sock;		/* the job's stream to the writer */
	int		 answering;	/* the body is all passed on */
	long		 wait_ms;	/* each wait: request_timeout */
	char		 answer[WRITER_ANSWER];
	size_t		 alen;
	char		 target[URL_HOST_MAX + URL_MAX * 3 + 32];
	char		 logreq[URL_MAX * 3 + 64];	/* no token */
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

/*
 * What the writer will find: the directory beneath the root with no
 * symlink on the way, the target absent or a regular file.  Checked
 * here too so the client hears before it sends the body.
 */
static int
check_target(const struct facts *f, const char *path, long long size,
    struct plan *p)
{
	char		 dir[URL_MAX + 1];
	const char	*name = strrchr(path, '/') + 1;
	struct stat	 st;
	int		 dirfd, r;

	memcpy(dir, path + 1, (size_t)(name - path - 1));
	dir[name - path - 1] = '\0';
	if ((dirfd = fs_open_dir(f->rootfd, dir)) == -1)
		return errno == ENOENT ? plan_reply(p, 51, "No such directory") :
		    plan_reply(p, 50, "The directory is not one uploads may "
		    "go to");
	r = fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW);
	close(dirfd);
	if (r == 0 && !S_ISREG(st.st_mode))
		return plan_reply(p, 50, "Only a regular file can be replaced");
	if (r == -1 && size == 0)
		return plan_reply(p, 51, "Not found");
	return 0;
}

/* The job: HOST, PATH, SIZE and one end of a fresh stream socket. */
static int
send_job(const struct facts *f, const char *path, long long size)
{
	char	msg[WRITER_MSG_MAX];
	int	sv[2], n;

	n = snprintf(msg, sizeof(msg), "HOST=%ld%cPATH=%s%cSIZE=%lld%c",
	    (long)(f->host - f->cf->hosts), 0, path, 0, size, 0);
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
upload_new(const struct facts *f, const struct request *r)
{
	struct upload	*u;

	if ((u = calloc(1, sizeof(*u))) == NULL)
		return NULL;
	u->sock = -1;
	u->wait_ms = f->cf->request_timeout * 1000L;
	if (set_target(u, r) == -1) {
		free(u);
		return NULL;
	}
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

int
route_titan(const struct facts *f, const struct request *r, struct plan *p)
{
	const struct host_cfg	*h = f->host;
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
		return plan_reply(p, 50, meta);
	if ((rule = titan_rule(h, r->url.path)) == NULL)
		return plan_reply(p, 50, "Uploads are not accepted here");
	if (access_check(f, rule->file, &who, p))
		return 1;
	if (tp->size > h->titan_max_size) {
		snprintf(meta, sizeof(meta), "Upload too large: at most %ld "
		    "bytes (titan_max_size)", h->titan_max_size);
		return plan_reply(p, 50, meta);
	}
	if (tp->size > 0 && !titan_mime_ok(h->titan_mime, tp->mime)) {
		snprintf(meta, sizeof(meta), "Type %s not accepted; "
		    "titan_mime: %s", tp->mime, h->titan_mime);
		return plan_reply(p, 50, meta);
	}
	if (titan_path_ok(r->url.path, rule->path, &why) == -1)
		return plan_reply(p, 50, why);
	if (check_target(f, r->url.path, tp->size, p))
		return 1;
	if ((u = upload_new(f, r)) == NULL)
		return plan_reply(p, 40, "Out of memory");
	if ((u->sock = send_job(f, r->url.path, tp->size)) == -1) {
		log_warnx("%s: titan %s: cannot reach the writer: %s",
		    f->peer_log, r->url.path, strerror(errno));
		upload_free(u);
		return plan_reply(p, 40, "Cannot store uploads now");
	}
	p->log_request = u->logreq;
	p->log_kind = tp->size == 0 ? ENTRY_TITAN_DELETE : ENTRY_TITAN_WRITE;
	return plan_sink(p, &upload_sink, u, tp->size);
}

/* Each wait of an upload has request_timeout: a stall leaves nothing. */
static void
upload_wait(const struct upload *u, int fd, int events, struct plan_wait *w)
{
	w->fd = fd;
	w->events = events;
	w->also = -1;
	w->left = u->wait_ms;
}

/* The client's turn: read the body on. */
static int
upload_ready(void *arg, long now, struct plan_wait *w)
{
	(void)now;
	upload_wait(arg, -1, PLAN_READ, w);
	return 1;
}

/* Body bytes to the writer; -1 when it has said no (its answer says why). */
static ssize_t
upload_write(void *arg, const char *buf, size_t len, long now,
    struct plan_wait *w)
{
	struct upload	*u = arg;
	ssize_t		 n;

	(void)now;
	for (;;) {
		if ((n = send(u->sock, buf, len, MSG_NOSIGNAL)) >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -1;
		upload_wait(u, u->sock, PLAN_WRITE, w);
		return 0;
	}
}

/* An answer's meta, cut as a header's is (request_header). */
static void
set_meta(char meta[URL_MAX + 1], const char *s)
{
	size_t	len = request_meta_len(s, URL_MAX);

	memcpy(meta, s, len);
	meta[len] = '\0';
}

/* The writer's line: "30", or "NN why". */
static int
upload_answer(void *arg, long now, int *status, char meta[URL_MAX + 1],
    struct plan_wait *w)
{
	struct upload	*u = arg;
	char		*nl;
	ssize_t		 n;

	(void)now;
	u->answering = 1;
	while ((nl = memchr(u->answer, '\n', u->alen)) == NULL) {
		if (u->alen == sizeof(u->answer) - 1)
			break;
		n = read(u->sock, u->answer + u->alen,
		    sizeof(u->answer) - 1 - u->alen);
		if (n < 0 && errno == EAGAIN) {
			upload_wait(u, u->sock, PLAN_READ, w);
			return 0;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		u->alen += (size_t)n;
	}
	*status = 40;
	set_meta(meta, "Upload failed");
	if (nl == NULL || u->alen < 2 || u->answer[0] < '1' ||
	    u->answer[0] > '6' || u->answer[1] < '0' || u->answer[1] > '9')
		return 1;
	*nl = '\0';
	*status = (u->answer[0] - '0') * 10 + u->answer[1] - '0';
	set_meta(meta, *status == 30 ? u->target :
	    u->answer[2] == ' ' ? u->answer + 3 : "");
	return 1;
}

/* No progress for request_timeout: the writer drops the job. */
static int
upload_expire(void *arg, long now, int client, int *status,
    char meta[URL_MAX + 1])
{
	struct upload	*u = arg;

	(void)now;
	(void)client;
	if (u->sock != -1) {
		close(u->sock);		/* the writer drops the job */
		u->sock = -1;
	}
	*status = 59;
	set_meta(meta, u->answering ? "Upload timeout" :
	    "Upload timeout: the body did not come in time");
	return 1;
}

static const struct sink_ops	upload_sink = {
	upload_ready,
	upload_write,
	upload_answer,
	upload_expire,
	upload_free,
};
