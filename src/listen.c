/*
 * listen.c: the listening sockets, roots and descriptor limit (listen.h).
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "listen.h"
#include "log.h"
#include "sandbox.h"

/* The fd of an identical, already bound address from before a reload. */
static int
reuse_fd(const struct listen_addr *la, const struct config *old,
    const int *oldfds)
{
	size_t	i;

	for (i = 0; old != NULL && i < old->nlisten; i++)
		if (old->listen[i].sslen == la->sslen &&
		    memcmp(&old->listen[i].ss, &la->ss, la->sslen) == 0)
			return oldfds[i];
	return -1;
}

static int
bind_one(const struct listen_addr *la, char *err, size_t errlen)
{
	int	fd, one = 1;

	fd = socket(la->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/*
	 * No Nagle wait for what netbio sends (it coalesces already).  Set
	 * here, the accepted sockets inherit it (Linux, the BSDs): one
	 * setsockopt(2) per connection fewer.
	 */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (la->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&la->ss, la->sslen) == -1 ||
	    listen(fd, LISTEN_BACKLOG) == -1)
		goto fail;
	return fd;
fail:
	snprintf(err, errlen, "listen %s: %s", la->text, strerror(errno));
	if (fd != -1)
		close(fd);
	return -1;
}

int
listen_bind(const struct config *c, int *fds, const struct config *old,
    const int *oldfds, char *err, size_t errlen)
{
	size_t	i;

	for (i = 0; i < c->nlisten; i++) {
		if ((fds[i] = reuse_fd(&c->listen[i], old, oldfds)) != -1)
			continue;
		if ((fds[i] = bind_one(&c->listen[i], err, errlen)) == -1) {
			while (i-- > 0)
				if (reuse_fd(&c->listen[i], old, oldfds) == -1)
					close(fds[i]);
			return -1;
		}
	}
	return 0;
}

/* The host before i with the same root, or i: they share a descriptor. */
static size_t
same_root(const struct config *c, size_t i)
{
	size_t	j;

	for (j = 0; j < i; j++)
		if (strcmp(c->hosts[j].root, c->hosts[i].root) == 0)
			return j;
	return i;
}

static size_t
distinct_roots(const struct config *c)
{
	size_t	i, n = 0;

	for (i = 0; i < c->nhosts; i++)
		n += same_root(c, i) == i;
	return n;
}

/* Connections to FastCGI responders a worker may keep between requests. */
static rlim_t
kept_upstream_fds(const struct config *c)
{
	rlim_t	n = 0;
	size_t	i, j;

	for (i = 0; i < c->nhosts; i++)
		for (j = 0; j < c->hosts[i].nups; j++)
			n += (rlim_t)c->hosts[i].ups[j].keepalive;
	return n;
}

/*
 * Descriptors a worker holds whatever its load: listeners, roots, the
 * upstream connections it keeps, and about 16 more (logs, the runner's socket, the event loop's, libmagic's,
 * the spare one for EMFILE).
 */
static rlim_t
fixed_fds(const struct config *c)
{
	return (rlim_t)c->nlisten + (rlim_t)distinct_roots(c) +
	    kept_upstream_fds(c) + 16;
}

void
listen_roots_close(const struct config *c, int *fds)
{
	size_t	i;

	for (i = 0; i < c->nhosts; i++)
		if (fds[i] != -1 && same_root(c, i) == i)
			close(fds[i]);
	for (i = 0; i < c->nhosts; i++)
		fds[i] = -1;
}

int
listen_roots(const struct config *c, int *fds, char *err, size_t errlen)
{
	struct rlimit	rl;
	size_t		i, j;

	/* a config too large says so, not "Too many open files" */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur !=
	    RLIM_INFINITY && fixed_fds(c) > rl.rlim_cur) {
		snprintf(err, errlen, "%s: %zu hosts with %zu roots and %zu "
		    "listen addresses need at least %llu descriptors, but the "
		    "limit is %llu: raise it (ulimit -n, LimitNOFILE=, "
		    "login.conf openfiles)", c->file, c->nhosts,
		    distinct_roots(c), c->nlisten,
		    (unsigned long long)fixed_fds(c),
		    (unsigned long long)rl.rlim_cur);
		return -1;
	}
	for (i = 0; i < c->nhosts; i++)
		fds[i] = -1;
	for (i = 0; i < c->nhosts; i++) {
		if ((j = same_root(c, i)) != i) {
			fds[i] = fds[j];
			continue;
		}
		fds[i] = open(c->hosts[i].root, O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC);
		if (fds[i] == -1) {
			snprintf(err, errlen, "%s:%d: host %s: root %s: %s",
			    c->file, c->hosts[i].line, c->hosts[i].name,
			    c->hosts[i].root, strerror(errno));
			listen_roots_close(c, fds);
			return -1;
		}
	}
	return 0;
}

/*
 * Each connection needs its socket and maybe a file, on top of what a
 * worker always holds: raise the soft descriptor limit (inherited by the
 * workers) as far as the hard one allows, and say so when
 * max_connections cannot be reached.  Called before the roots are
 * opened, so that they fit.
 */
void
listen_fd_limit(const struct config *c)
{
	struct rlimit	rl;
	rlim_t		want = (rlim_t)c->max_connections * 2 + 48 +
			    fixed_fds(c);

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ?
		    want : rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < want)
		log_warnx("max_connections %d needs about %llu descriptors per "
		    "worker but the limit is %llu: raise it (ulimit -n, "
		    "LimitNOFILE=, login.conf openfiles)", c->max_connections,
		    (unsigned long long)want, (unsigned long long)rl.rlim_cur);
}

/*
 * Whether the workers' user may do `want` (R_OK, X_OK) to the directory
 * at path under fd: by the mode bits for a user of its own (workers
 * have only the user's group); by faccessat for ourselves when we do
 * not switch users.  ACLs are not read: they can only say more.
 */
static int
user_may(int fd, const char *path, const struct sandbox *sb, int want)
{
	struct stat	st;
	mode_t		bits;

	if (!sb->drop)
		return faccessat(fd, path, want, AT_EACCESS) == 0;
	if (fstatat(fd, path, &st, 0) == -1)
		return 1;	/* gone: other checks say so */
	if (st.st_uid == sb->uid)
		bits = (st.st_mode >> 6) & 7;
	else if (st.st_gid == sb->gid)
		bits = (st.st_mode >> 3) & 7;
	else
		bits = st.st_mode & 7;
	return (bits & (mode_t)want) == (mode_t)want;
}

static void
say_denied(const struct config *c, const struct host_cfg *h, const char *what,
    const char *path, const struct sandbox *sb)
{
	const char	*user = c->user[0] ? c->user : SANDBOX_DEFAULT_USER;

	if (sb->drop)
		log_warnx("%s:%d: host %s: %s %s: user %s (uid %ld) cannot "
		    "read and search it: its requests will fail (4x) until "
		    "its mode or owner is fixed", c->file, h->line, h->name,
		    what, path, user, (long)sb->uid);
	else
		log_warnx("%s:%d: host %s: %s %s: this user (uid %ld) cannot "
		    "read and search it: its requests will fail (4x) until "
		    "its mode or owner is fixed", c->file, h->line, h->name,
		    what, path, (long)geteuid());
}

void
listen_roots_check(const struct config *c, const int *fds,
    const struct sandbox *sb)
{
	const struct host_cfg	*h;
	char			 part[PATH_MAX];
	size_t			 i, end, len;

	for (i = 0; i < c->nhosts; i++) {
		h = &c->hosts[i];
		if (!user_may(fds[i], ".", sb, R_OK | X_OK)) {
			say_denied(c, h, "root", h->root, sb);
			continue;
		}
		len = strlen(h->cgi);
		if (len == 0 || len >= sizeof(part))
			continue;
		/* every directory on the way needs search, the last read */
		for (end = 0; end < len; end++) {
			end += strcspn(h->cgi + end, "/");
			memcpy(part, h->cgi, end);
			part[end] = '\0';
			if (!user_may(fds[i], part, sb, end == len ?
			    R_OK | X_OK : X_OK)) {
				say_denied(c, h, "cgi directory", part, sb);
				break;
			}
		}
	}
}
