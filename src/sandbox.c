/*
 * sandbox.c: privilege drop, chroot, Landlock, pledge and unveil.
 *
 * The parent (root, if started so) keeps what a reload needs; workers
 * and the CGI runner give up everything else after fork: chroot (when
 * set), the user's uid and gid with no other groups and no way back,
 * not dumpable, and then Landlock and PR_SET_NO_NEW_PRIVS (Linux) or
 * unveil and pledge (OpenBSD).  Descriptors opened before (listening
 * sockets, roots, the access log) keep working.  The table of what each
 * process may do, and why, is in DESIGN.md ("Sandbox: what each process
 * may do"); keep the two in step.
 */
#include <sys/types.h>
#include <sys/stat.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "sandbox.h"

#if defined(__linux__) && defined(SYS_landlock_create_ruleset) && \
    defined(SYS_landlock_add_rule) && defined(SYS_landlock_restrict_self)
#define HAVE_LANDLOCK	1

/*
 * The Landlock ABI (linux/landlock.h), spelt out here so that building
 * against older kernel headers still gets the newer rights: the kernel
 * is asked for its ABI version and only what it knows is used.
 */
#define LL_CREATE_RULESET_VERSION	(1U << 0)
#define LL_RULE_PATH_BENEATH		1
#define LL_RULE_NET_PORT		2
#define LL_FS_EXECUTE			(1ULL << 0)
#define LL_FS_WRITE_FILE		(1ULL << 1)
#define LL_FS_READ_FILE			(1ULL << 2)
#define LL_FS_READ_DIR			(1ULL << 3)
#define LL_FS_REMOVE_FILE		(1ULL << 5)
#define LL_FS_MAKE_REG			(1ULL << 8)
#define LL_FS_ABI1			((1ULL << 13) - 1)	/* 0 .. 12 */
#define LL_FS_REFER			(1ULL << 13)		/* ABI 2 */
#define LL_FS_TRUNCATE			(1ULL << 14)		/* ABI 3 */
#define LL_FS_IOCTL_DEV			(1ULL << 15)		/* ABI 5 */
#define LL_NET_BIND_TCP			(1ULL << 0)		/* ABI 4 */
#define LL_NET_CONNECT_TCP		(1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX		(1ULL << 0)		/* ABI 6 */
#define LL_SCOPE_SIGNAL			(1ULL << 1)

struct ll_ruleset_attr {
	uint64_t	handled_access_fs;
	uint64_t	handled_access_net;
	uint64_t	scoped;
};

struct ll_path_beneath_attr {
	uint64_t	allowed_access;
	int32_t		parent_fd;
} __attribute__((packed));

struct ll_net_port_attr {
	uint64_t	allowed_access;
	uint64_t	port;
};
#endif

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN	1
#endif
#endif
#ifdef HAVE_ASAN
#include <sanitizer/lsan_interface.h>
#endif

static char	said[512];	/* the last summary logged */
static int	pledged;	/* the parent has pledged (OpenBSD) */
static int	script_abi;	/* the runner: Landlock ABI for scripts */

static const char *
user_name(const struct config *cf)
{
	return cf->user[0] != '\0' ? cf->user : SANDBOX_DEFAULT_USER;
}

/* 0 when the kernel has no Landlock (or it is disabled at boot). */
static int
landlock_abi(void)
{
#ifdef HAVE_LANDLOCK
	long	abi;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LL_CREATE_RULESET_VERSION);
	return abi > 0 ? (int)abi : 0;
#else
	return 0;
#endif
}

/* dir is inside (or is) top; both resolved through symlinks. */
static int
inside(const char *dir, const char *top)
{
	char	rd[PATH_MAX], rt[PATH_MAX];
	size_t	n;

	if (realpath(dir, rd) == NULL || realpath(top, rt) == NULL)
		return 0;
	n = strlen(rt);
	if (n == 1)
		return 1;	/* chroot "/" */
	return strncmp(rd, rt, n) == 0 && (rd[n] == '\0' || rd[n] == '/');
}

static int
check_chroot(const struct config *cf, char *err, size_t errlen)
{
	struct stat	st;
	size_t		i;

	if (stat(cf->chroot, &st) == -1 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: chroot %s: %s", cf->file,
		    cf->chroot, errno ? strerror(errno) : "not a directory");
		return -1;
	}
	for (i = 0; i < cf->nhosts; i++)
		if (!inside(cf->hosts[i].root, cf->chroot)) {
			snprintf(err, errlen, "%s:%d: host %s: root %s is not "
			    "inside chroot %s", cf->file, cf->hosts[i].line,
			    cf->hosts[i].name, cf->hosts[i].root, cf->chroot);
			return -1;
		}
	return 0;
}

/* Started as root: the user must exist and must not be root. */
static int
find_user(const struct config *cf, struct sandbox *sb, char *err,
    size_t errlen)
{
	struct passwd	*pw;
	const char	*name = user_name(cf);

	errno = 0;
	if ((pw = getpwnam(name)) == NULL) {
		snprintf(err, errlen, "%s: user %s does not exist: create it "
		    "(useradd --system --no-create-home %s) or name another "
		    "with user = in [server]", cf->file, name, name);
		return -1;
	}
	if (pw->pw_uid == 0 || pw->pw_gid == 0) {
		snprintf(err, errlen, "%s: user %s has uid or gid 0: workers "
		    "never run as root; name an unprivileged user", cf->file,
		    name);
		return -1;
	}
	sb->drop = 1;
	sb->uid = pw->pw_uid;
	sb->gid = pw->pw_gid;
	return 0;
}

void
sandbox_describe(const struct config *cf, const struct sandbox *sb)
{
	char	line[sizeof(said)], ll[160];
	int	n;

#ifdef __OpenBSD__
	snprintf(ll, sizeof(ll), "pledge and unveil");
#else
	if (sb->landlock >= 6)
		snprintf(ll, sizeof(ll), "Landlock ABI %d", sb->landlock);
	else if (sb->landlock > 0)
		snprintf(ll, sizeof(ll), "Landlock ABI %d, no signal scoping "
		    "(ABI 6): CGI scripts can signal workers and the runner",
		    sb->landlock);
	else
		snprintf(ll, sizeof(ll), "no Landlock in this kernel: CGI "
		    "scripts can signal workers and the runner");
#endif
	if (sb->drop)
		n = snprintf(line, sizeof(line), "workers run as %s (uid %ld), "
		    "%s%s, %s", user_name(cf), (long)sb->uid,
		    sb->chroot ? "chroot " : "no chroot",
		    sb->chroot ? cf->chroot : "", ll);
	else
		n = snprintf(line, sizeof(line), "not started as root: workers "
		    "run as uid %ld without chroot (user and chroot need "
		    "root), %s", (long)getuid(), ll);
	if (n < 0 || (size_t)n >= sizeof(line) || strcmp(line, said) == 0)
		return;
	memcpy(said, line, sizeof(said));
	log_info("sandbox: %s", line);
}

int
sandbox_prepare(const struct config *cf, struct sandbox *sb, char *err,
    size_t errlen)
{
	memset(sb, 0, sizeof(*sb));
	if (pledged && cf->chroot[0] != '\0') {
		snprintf(err, errlen, "%s: chroot was not set at start: "
		    "restart capsuled to use it", cf->file);
		return -1;
	}
	if (geteuid() == 0) {
		if (find_user(cf, sb, err, errlen) == -1)
			return -1;
		if (cf->chroot[0] != '\0') {
			if (check_chroot(cf, err, errlen) == -1)
				return -1;
			sb->chroot = 1;
		}
	}
	sb->landlock = landlock_abi();
	return 0;
}

static int
drop_user(const struct sandbox *sb, const char *who)
{
	if (setgroups(1, &sb->gid) == -1 ||
	    setresgid(sb->gid, sb->gid, sb->gid) == -1 ||
	    setresuid(sb->uid, sb->uid, sb->uid) == -1) {
		log_warnx("%s: dropping to uid %ld: %s", who, (long)sb->uid,
		    strerror(errno));
		return -1;
	}
	/* belt and braces: there must be no way back */
	if (getuid() != sb->uid || geteuid() != sb->uid ||
	    getgid() != sb->gid || getegid() != sb->gid || setuid(0) != -1) {
		log_warnx("%s: still able to regain root; stopping", who);
		return -1;
	}
	return 0;
}

#ifdef HAVE_LANDLOCK
#define LL_FILE_RIGHTS	(LL_FS_EXECUTE | LL_FS_WRITE_FILE | \
			    LL_FS_READ_FILE | LL_FS_TRUNCATE | LL_FS_IOCTL_DEV)

/*
 * A ruleset handling every file system right this kernel knows (so
 * anything not allowed by a rule is denied), TCP bind and connect when
 * net is set, and signals and abstract sockets out of the domain.
 */
static int
ll_ruleset(int abi, int net, uint64_t *handled)
{
	struct ll_ruleset_attr	attr;
	size_t			size = sizeof(attr.handled_access_fs);

	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = LL_FS_ABI1;
	if (abi >= 2)
		attr.handled_access_fs |= LL_FS_REFER;
	if (abi >= 3)
		attr.handled_access_fs |= LL_FS_TRUNCATE;
	if (abi >= 5)
		attr.handled_access_fs |= LL_FS_IOCTL_DEV;
	if (abi >= 4) {
		if (net)
			attr.handled_access_net = LL_NET_BIND_TCP |
			    LL_NET_CONNECT_TCP;
		size = offsetof(struct ll_ruleset_attr, scoped);
	}
	if (abi >= 6) {
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
		size = sizeof(attr);
	}
	*handled = attr.handled_access_fs;
	return (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
}

/* Allow rights beneath (or on, for a file) the open fd. */
static int
ll_allow_fd(int ruleset, int fd, uint64_t rights, uint64_t handled)
{
	struct ll_path_beneath_attr	rule;
	struct stat			st;

	if (fstat(fd, &st) == -1)
		return -1;
	if (!S_ISDIR(st.st_mode))
		rights &= LL_FILE_RIGHTS;	/* the kernel refuses others */
	memset(&rule, 0, sizeof(rule));
	rule.allowed_access = rights & handled;
	rule.parent_fd = fd;
	return (int)syscall(SYS_landlock_add_rule, ruleset,
	    LL_RULE_PATH_BENEATH, &rule, 0);
}

/* The same by path; a path this system lacks is no error. */
static int
ll_allow_path(int ruleset, const char *path, uint64_t rights,
    uint64_t handled)
{
	int	fd, r;

	if ((fd = open(path, O_PATH | O_CLOEXEC)) == -1)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
	r = ll_allow_fd(ruleset, fd, rights, handled);
	close(fd);
	return r;
}

static int
ll_restrict(int ruleset, const char *who)
{
	int	r;

	r = (int)syscall(SYS_landlock_restrict_self, ruleset, 0);
	close(ruleset);
	if (r == -1)
		log_warnx("%s: Landlock: %s", who, strerror(errno));
	return r;
}

/*
 * TCP connections to the ports of the upstreams (Landlock's network
 * rules, ABI 4, know ports, not addresses); none to any other.
 */
static int
ll_allow_upstreams(int ruleset, const struct config *cf, int abi)
{
	struct ll_net_port_attr		 rule;
	const struct upstream_cfg	*u;
	size_t				 i, j;

	if (abi < 4)
		return 0;
	for (i = 0; i < cf->nhosts; i++)
		for (j = 0; j < cf->hosts[i].nups; j++) {
			u = &cf->hosts[i].ups[j];
			if (u->sun_path[0] != '\0')
				continue;
			memset(&rule, 0, sizeof(rule));
			rule.allowed_access = LL_NET_CONNECT_TCP;
			rule.port = (uint64_t)u->port;
			if (syscall(SYS_landlock_add_rule, ruleset,
			    LL_RULE_NET_PORT, &rule, 0) == -1)
				return -1;
		}
	return 0;
}

/*
 * Workers: read beneath the roots, and the files (not the listing) of
 * the fingerprint lists' directories, nothing else; no TCP in, and out
 * only to the upstreams' ports.
 */
static int
landlock_worker(const struct config *cf, const struct sandbox *sb, int abi,
    const int *rootfds)
{
	uint64_t	handled, rd = LL_FS_READ_FILE | LL_FS_READ_DIR;
	size_t		i;
	int		fd;

	if ((fd = ll_ruleset(abi, 1, &handled)) == -1)
		goto fail;
	if (ll_allow_upstreams(fd, cf, abi) == -1) {
		close(fd);
		goto fail;
	}
	for (i = 0; i < cf->nhosts; i++)
		if (ll_allow_fd(fd, rootfds[i], rd, handled) == -1) {
			close(fd);
			goto fail;
		}
	for (i = 0; i < sb->nlistfds; i++)
		if (ll_allow_fd(fd, sb->listfds[i], LL_FS_READ_FILE,
		    handled) == -1) {
			close(fd);
			goto fail;
		}
#ifdef HAVE_ASAN
	/* sanitizer builds only: LeakSanitizer reads /proc/self */
	(void)ll_allow_path(fd, "/proc", rd, handled);
#endif
	return ll_restrict(fd, "worker");
fail:
	log_warnx("worker: Landlock: %s", strerror(errno));
	return -1;
}

/*
 * What a CGI script may need from the system: its interpreter and
 * libraries (read and execute: the kernel execs ld.so and "#!"
 * interpreters on the script's behalf), a few files of /etc (not all of
 * it: keys may live there), /dev/null and the random devices, /proc.
 */
static const struct {
	const char	*path;
	int		 exec, write;
} cgi_system[] = {
	{ "/usr", 1, 0 }, { "/bin", 1, 0 }, { "/sbin", 1, 0 },
	{ "/lib", 1, 0 }, { "/lib32", 1, 0 }, { "/lib64", 1, 0 },
	{ "/libx32", 1, 0 },
	{ "/etc/ld.so.cache", 0, 0 }, { "/etc/ld.so.conf", 0, 0 },
	{ "/etc/ld.so.conf.d", 0, 0 }, { "/etc/localtime", 0, 0 },
	{ "/etc/passwd", 0, 0 }, { "/etc/group", 0, 0 },
	{ "/etc/nsswitch.conf", 0, 0 }, { "/etc/hosts", 0, 0 },
	{ "/etc/resolv.conf", 0, 0 }, { "/etc/gai.conf", 0, 0 },
	{ "/etc/host.conf", 0, 0 }, { "/etc/services", 0, 0 },
	{ "/etc/protocols", 0, 0 }, { "/etc/mime.types", 0, 0 },
	{ "/etc/ssl/certs", 0, 0 }, { "/etc/ca-certificates", 0, 0 },
	{ "/dev/null", 0, 1 }, { "/dev/zero", 0, 0 },
	{ "/dev/random", 0, 0 }, { "/dev/urandom", 0, 0 },
	{ "/proc", 0, 0 },
};

/*
 * The runner, and so every script: read beneath the roots, read and
 * execute beneath the cgi directories and the system's program
 * directories; write nowhere but /dev/null.  Network is left alone:
 * a script may well talk to a database or an API.
 */
static int
landlock_runner(const struct config *cf, int abi, const int *rootfds)
{
	uint64_t	handled, rd = LL_FS_READ_FILE | LL_FS_READ_DIR, r;
	size_t		i;
	int		fd, dir, ok;

	if ((fd = ll_ruleset(abi, 0, &handled)) == -1)
		goto fail;
	for (i = 0; i < cf->nhosts; i++) {
		if (ll_allow_fd(fd, rootfds[i], rd, handled) == -1)
			goto fail_fd;
		if (cf->hosts[i].cgi[0] == '\0')
			continue;
		dir = openat(rootfds[i], cf->hosts[i].cgi, O_PATH |
		    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dir == -1)
			continue;	/* none yet: scripts answer 51 */
		ok = ll_allow_fd(fd, dir, rd | LL_FS_EXECUTE, handled);
		close(dir);
		if (ok == -1)
			goto fail_fd;
	}
	for (i = 0; i < sizeof(cgi_system) / sizeof(cgi_system[0]); i++) {
		r = rd | (cgi_system[i].exec ? LL_FS_EXECUTE : 0) |
		    (cgi_system[i].write ? LL_FS_WRITE_FILE : 0);
		if (ll_allow_path(fd, cgi_system[i].path, r, handled) == -1)
			goto fail_fd;
	}
	return ll_restrict(fd, "CGI runner");
fail_fd:
	close(fd);
fail:
	log_warnx("CGI runner: Landlock: %s", strerror(errno));
	return -1;
}

/*
 * The Titan writer: beneath each `titan` directory, read, and make,
 * replace (rename in the same directory) and remove regular files;
 * nothing anywhere else, no TCP.  A titan directory missing at start
 * gets no rule: uploads there fail until a reload.
 */
static int
landlock_writer(const struct config *cf, int abi, const int *rootfds)
{
	uint64_t	handled, rw;
	size_t		i, j;
	int		fd, dir, ok;

	if ((fd = ll_ruleset(abi, 1, &handled)) == -1)
		goto fail;
	rw = LL_FS_READ_FILE | LL_FS_READ_DIR | LL_FS_WRITE_FILE |
	    LL_FS_MAKE_REG | LL_FS_REMOVE_FILE | LL_FS_TRUNCATE;
	for (i = 0; i < cf->nhosts; i++)
		for (j = 0; j < cf->hosts[i].ntitan; j++) {
			dir = openat(rootfds[i], cf->hosts[i].titan[j].path[1] ?
			    cf->hosts[i].titan[j].path + 1 : ".", O_PATH |
			    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (dir == -1) {
				log_warnx("titan writer: %s%s: %s",
				    cf->hosts[i].root, cf->hosts[i].titan[j].path,
				    strerror(errno));
				continue;
			}
			ok = ll_allow_fd(fd, dir, rw, handled);
			close(dir);
			if (ok == -1) {
				close(fd);
				goto fail;
			}
		}
#ifdef HAVE_ASAN
	(void)ll_allow_path(fd, "/proc", LL_FS_READ_FILE | LL_FS_READ_DIR,
	    handled);
#endif
	return ll_restrict(fd, "titan writer");
fail:
	log_warnx("titan writer: Landlock: %s", strerror(errno));
	return -1;
}
#endif

#ifdef __OpenBSD__
/*
 * Each root's path as a process inside the chroot names it, for unveil
 * (Landlock and the rest of capsuled work from descriptors).  Worked
 * out before entering the chroot; sandbox_prepare checked every root
 * is inside.
 */
static char **
jail_paths(const struct config *cf)
{
	char	**v, top[PATH_MAX], real[PATH_MAX];
	size_t	  i, n = 0;

	if ((v = calloc(cf->nhosts, sizeof(*v))) == NULL)
		return NULL;
	if (cf->chroot[0] != '\0') {
		if (realpath(cf->chroot, top) == NULL)
			goto fail;
		n = strcmp(top, "/") == 0 ? 0 : strlen(top);
	}
	for (i = 0; i < cf->nhosts; i++) {
		if (n == 0)
			v[i] = strdup(cf->hosts[i].root);
		else if (realpath(cf->hosts[i].root, real) != NULL)
			v[i] = strdup(real[n] == '\0' ? "/" : real + n);
		if (v[i] == NULL)
			goto fail;
	}
	return v;
fail:
	log_warnx("sandbox: resolving the roots: %s", strerror(errno));
	for (i = 0; i < cf->nhosts; i++)
		free(v[i]);	/* calloc'd: the rest are NULL */
	free(v);
	return NULL;
}
#endif

/* chroot, then the user; both only when started as root. */
static int
enter(const struct config *cf, const struct sandbox *sb, const char *who)
{
	tzset();	/* no /etc/localtime inside a chroot */
	if (sb->chroot && (chroot(cf->chroot) == -1 || chdir("/") == -1)) {
		log_warnx("%s: chroot %s: %s", who, cf->chroot,
		    strerror(errno));
		return -1;
	}
	if (sb->drop && drop_user(sb, who) == -1)
		return -1;
#ifdef __linux__
	/*
	 * No core file and no ptrace from other processes of the user (CGI
	 * scripts) to read the keys from.  A uid change already did this;
	 * not started as root, nothing did.
	 */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		log_warnx("%s: PR_SET_DUMPABLE: %s", who, strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		log_warnx("%s: PR_SET_NO_NEW_PRIVS: %s", who, strerror(errno));
		return -1;
	}
#endif
	return 0;
}

#ifdef __OpenBSD__
static int
unveil_roots(const struct config *cf, char **paths, int cgi)
{
	char	dir[PATH_MAX];
	size_t	i;
	int	n;

	for (i = 0; i < cf->nhosts; i++) {
		if (unveil(paths[i], "r") == -1)
			goto fail;
		if (!cgi || cf->hosts[i].cgi[0] == '\0')
			continue;
		n = snprintf(dir, sizeof(dir), "%s/%s", paths[i],
		    cf->hosts[i].cgi);
		if (n < 0 || (size_t)n >= sizeof(dir) ||
		    (unveil(dir, "rx") == -1 && errno != ENOENT))
			goto fail;
	}
	return 0;
fail:
	log_warnx("unveil %s: %s", paths[i], strerror(errno));
	return -1;
}

/*
 * The fingerprint lists' directories, read only, as the chroot names
 * them; one outside the chroot is out of reach (the list is not read
 * again until a reload, and the log says so once).
 */
static int
unveil_lists(const struct config *cf, const struct sandbox *sb)
{
	char	top[PATH_MAX], real[PATH_MAX];
	size_t	i, n = 0;

	if (cf->chroot[0] != '\0' && realpath(cf->chroot, top) != NULL)
		n = strcmp(top, "/") == 0 ? 0 : strlen(top);
	for (i = 0; i < sb->nlistfds; i++) {
		if (realpath(sb->listdirs[i], real) == NULL ||
		    (n > 0 && (strncmp(real, top, n) != 0 ||
		    (real[n] != '/' && real[n] != '\0')))) {
			log_warnx("worker: %s is outside the chroot: its lists "
			    "are read again only at a reload", sb->listdirs[i]);
			continue;
		}
		if (unveil(real[n] == '\0' ? "/" : real + n, "r") == -1) {
			log_warnx("unveil %s: %s", real, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/*
 * The upstreams' UNIX sockets, as the chroot names them: connect(2)
 * needs "w" on the socket (and the "unix" promise, *any: some).
 */
static int
unveil_upstreams(const struct config *cf, int *any)
{
	const struct upstream_cfg	*u;
	size_t				 i, j;

	*any = 0;
	for (i = 0; i < cf->nhosts; i++)
		for (j = 0; j < cf->hosts[i].nups; j++) {
			u = &cf->hosts[i].ups[j];
			if (u->sun_path[0] == '\0')
				continue;
			*any = 1;
			if (unveil(u->sun_jail, "w") == -1 && errno != ENOENT) {
				log_warnx("unveil %s: %s", u->sun_jail,
				    strerror(errno));
				return -1;
			}
		}
	return 0;
}

/*
 * What execve(2) opens for a script while the runner's unveil still
 * holds (inside the chroot, if any): ld.so and its hints for a
 * dynamically linked program (the OpenBSD regress tests unveil the
 * libraries too), and the program directories for "#!" interpreters.
 * exec drops unveil, so the running script needs nothing more from here.
 * A path missing in a chroot is skipped.
 */
static int
unveil_exec(void)
{
	static const char *const rules[][2] = {
		{ "/usr/libexec/ld.so", "r" }, { "/var/run/ld.so.hints", "r" },
		{ "/usr/lib", "r" }, { "/usr/local/lib", "r" },
		{ "/bin", "rx" }, { "/sbin", "rx" }, { "/usr/bin", "rx" },
		{ "/usr/sbin", "rx" }, { "/usr/local/bin", "rx" },
		{ "/dev/null", "r" },
	};
	size_t	i;

	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (unveil(rules[i][0], rules[i][1]) == -1 && errno != ENOENT) {
			log_warnx("unveil %s: %s", rules[i][0],
			    strerror(errno));
			return -1;
		}
	return 0;
}
#endif

int
sandbox_worker(const struct config *cf, const struct sandbox *sb,
    const int *rootfds)
{
#ifdef __OpenBSD__
	char	**paths;
	int	  r, unix_ups;

	(void)rootfds;		/* unveil works on paths */
	if ((paths = jail_paths(cf)) == NULL || enter(cf, sb, "worker") == -1)
		return -1;
	r = unveil_roots(cf, paths, 0);
	if (r == 0)
		r = unveil_lists(cf, sb);
	if (r == 0)
		r = unveil_upstreams(cf, &unix_ups);
	if (r == 0 && (unveil(NULL, NULL) == -1 ||
	    pledge(unix_ups ? "stdio rpath inet unix sendfd" :
	    "stdio rpath inet sendfd", NULL) == -1)) {
		log_warnx("worker: pledge: %s", strerror(errno));
		r = -1;
	}
	return r;
#else
	if (enter(cf, sb, "worker") == -1)
		return -1;
#ifdef HAVE_LANDLOCK
	if (sb->landlock > 0)
		return landlock_worker(cf, sb, sb->landlock, rootfds);
#endif
	(void)rootfds;
	return 0;
#endif
}

int
sandbox_runner(const struct config *cf, const struct sandbox *sb,
    const int *rootfds)
{
#ifdef __OpenBSD__
	char	**paths;

	if ((paths = jail_paths(cf)) == NULL ||
	    enter(cf, sb, "CGI runner") == -1)
		return -1;
	if (unveil_roots(cf, paths, 1) == -1 || unveil_exec() == -1 ||
	    unveil(NULL, NULL) == -1 ||
	    pledge("stdio rpath proc exec recvfd", NULL) == -1) {
		log_warnx("CGI runner: unveil or pledge: %s", strerror(errno));
		return -1;
	}
	(void)rootfds;
	return 0;
#else
	if (enter(cf, sb, "CGI runner") == -1)
		return -1;
#ifdef HAVE_LANDLOCK
	script_abi = sb->landlock;
	if (sb->landlock > 0)
		return landlock_runner(cf, sb->landlock, rootfds);
#endif
	(void)rootfds;
	return 0;
#endif
}

int
sandbox_script(void)
{
#ifdef HAVE_LANDLOCK
	struct ll_ruleset_attr	attr;
	int			fd;

	if (script_abi < 6)
		return 0;
	/* no file system rules: the runner's domain still holds for those */
	memset(&attr, 0, sizeof(attr));
	attr.scoped = LL_SCOPE_SIGNAL;
	if ((fd = (int)syscall(SYS_landlock_create_ruleset, &attr,
	    sizeof(attr), 0)) == -1)
		return -1;
	return ll_restrict(fd, "CGI script");
#else
	return 0;
#endif
}

int
sandbox_writer(const struct config *cf, const struct sandbox *sb,
    const int *rootfds)
{
#ifdef __OpenBSD__
	char	**paths, dir[PATH_MAX];
	size_t	  i, j;
	int	  n;

	(void)rootfds;
	if ((paths = jail_paths(cf)) == NULL ||
	    enter(cf, sb, "titan writer") == -1)
		return -1;
	for (i = 0; i < cf->nhosts; i++)
		for (j = 0; j < cf->hosts[i].ntitan; j++) {
			n = snprintf(dir, sizeof(dir), "%s%s", paths[i],
			    cf->hosts[i].titan[j].path);
			if (n < 0 || (size_t)n >= sizeof(dir) ||
			    (unveil(dir, "rwc") == -1 && errno != ENOENT)) {
				log_warnx("titan writer: unveil %s: %s", dir,
				    strerror(errno));
				return -1;
			}
		}
	if (unveil(NULL, NULL) == -1 ||
	    pledge("stdio rpath wpath cpath fattr proc recvfd", NULL) == -1) {
		log_warnx("titan writer: pledge: %s", strerror(errno));
		return -1;
	}
	return 0;
#else
	if (enter(cf, sb, "titan writer") == -1)
		return -1;
#ifdef HAVE_LANDLOCK
	if (sb->landlock > 0)
		return landlock_writer(cf, sb->landlock, rootfds);
#endif
	(void)rootfds;
	return 0;
#endif
}

void
sandbox_leak_check(void)
{
#ifdef HAVE_ASAN
	/* it needs /proc/self, which a chroot may not have */
	if (access("/proc/self/maps", R_OK) == 0)
		__lsan_do_leak_check();
#endif
}

void
sandbox_parent(const struct config *cf)
{
#ifdef __OpenBSD__
	if (cf->chroot[0] != '\0')
		return;
	if (pledge("stdio rpath wpath cpath fattr flock inet proc exec id "
	    "getpw unveil sendfd recvfd", NULL) == -1)
		log_warnx("pledge: %s", strerror(errno));
	else
		pledged = 1;
#else
	(void)cf;
#endif
}
