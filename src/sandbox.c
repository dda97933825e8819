/*
 * sandbox.c: privilege drop, chroot, Landlock, pledge and unveil.
 *
 * What each process may do once set up:
 *
 *   parent   (root, if started so) re-reads the config and certificates
 *            on SIGHUP, binds new sockets, writes generated certificates
 *            and logs, forks and signals workers.  OpenBSD: pledge
 *            "stdio rpath wpath cpath fattr flock inet proc id getpw
 *            unveil recvfd" when no chroot is configured (pledge forbids
 *            chroot(2), which the workers need after fork).  No unveil:
 *            a reload may name any path.
 *   worker   chroot (when set), then the user's uid and gid with no
 *            supplementary groups and no way back to root, not dumpable
 *            (no core files or ptrace to take the keys from).
 *            Linux: PR_SET_NO_NEW_PRIVS, and Landlock (when the kernel
 *            has it): read files and directories beneath the host roots,
 *            nothing else on the file system (no write, no exec), no TCP
 *            bind or connect, no signals or abstract sockets outside.
 *            Already open descriptors (listening sockets, the access
 *            log) keep working.  OpenBSD: unveil each root "r", then
 *            pledge "stdio rpath inet recvfd".
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
#define LL_FS_EXECUTE			(1ULL << 0)
#define LL_FS_READ_FILE			(1ULL << 2)
#define LL_FS_READ_DIR			(1ULL << 3)
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

static char	said[256];	/* the last summary logged */
static int	pledged;	/* the parent has pledged (OpenBSD) */

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

/* One line on what the workers get; logged when it changes. */
static void
describe(const struct config *cf, const struct sandbox *sb)
{
	char	line[sizeof(said)], ll[64];
	int	n;

#ifdef __OpenBSD__
	snprintf(ll, sizeof(ll), "pledge and unveil");
#else
	if (sb->landlock > 0)
		snprintf(ll, sizeof(ll), "Landlock ABI %d", sb->landlock);
	else
		snprintf(ll, sizeof(ll), "no Landlock in this kernel");
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
	describe(cf, sb);
	return 0;
}

static int
drop_user(const struct sandbox *sb)
{
	if (setgroups(1, &sb->gid) == -1 ||
	    setresgid(sb->gid, sb->gid, sb->gid) == -1 ||
	    setresuid(sb->uid, sb->uid, sb->uid) == -1) {
		log_warnx("worker: dropping to uid %ld: %s", (long)sb->uid,
		    strerror(errno));
		return -1;
	}
	/* belt and braces: there must be no way back */
	if (getuid() != sb->uid || geteuid() != sb->uid ||
	    getgid() != sb->gid || getegid() != sb->gid || setuid(0) != -1) {
		log_warnx("worker: still able to regain root; not serving");
		return -1;
	}
	return 0;
}

#ifdef HAVE_LANDLOCK
static int
landlock_apply(const struct config *cf, int abi, const int *rootfds)
{
	struct ll_ruleset_attr		attr;
	struct ll_path_beneath_attr	rule;
	size_t				i, size = sizeof(attr.handled_access_fs);
	int				fd;

	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = LL_FS_ABI1;
	if (abi >= 2)
		attr.handled_access_fs |= LL_FS_REFER;
	if (abi >= 3)
		attr.handled_access_fs |= LL_FS_TRUNCATE;
	if (abi >= 5)
		attr.handled_access_fs |= LL_FS_IOCTL_DEV;
	if (abi >= 4) {
		attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
		size = offsetof(struct ll_ruleset_attr, scoped);
	}
	if (abi >= 6) {
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
		size = sizeof(attr);
	}
	if ((fd = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0))
	    == -1)
		goto fail;
	memset(&rule, 0, sizeof(rule));
	rule.allowed_access = LL_FS_READ_FILE | LL_FS_READ_DIR;
	for (i = 0; i < cf->nhosts; i++) {
		rule.parent_fd = rootfds[i];
		if (syscall(SYS_landlock_add_rule, fd, LL_RULE_PATH_BENEATH,
		    &rule, 0) == -1) {
			close(fd);
			goto fail;
		}
	}
#ifdef HAVE_ASAN
	/* sanitizer builds only: LeakSanitizer reads /proc/self */
	if ((rule.parent_fd = open("/proc", O_PATH | O_DIRECTORY |
	    O_CLOEXEC)) != -1) {
		(void)syscall(SYS_landlock_add_rule, fd, LL_RULE_PATH_BENEATH,
		    &rule, 0);
		close(rule.parent_fd);
	}
#endif
	if (syscall(SYS_landlock_restrict_self, fd, 0) == -1) {
		close(fd);
		goto fail;
	}
	close(fd);
	return 0;
fail:
	log_warnx("worker: Landlock: %s; not serving", strerror(errno));
	return -1;
}
#endif

#ifdef __linux__
static int
confine(const struct config *cf, const struct sandbox *sb,
    const int *rootfds)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		log_warnx("worker: PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return -1;
	}
#ifdef HAVE_LANDLOCK
	if (sb->landlock > 0)
		return landlock_apply(cf, sb->landlock, rootfds);
#else
	(void)cf;
	(void)sb;
	(void)rootfds;
#endif
	return 0;
}
#elif defined(__OpenBSD__)
/*
 * unveil works on paths: each root as seen from inside the chroot,
 * worked out before entering it (sandbox_prepare checked every root is
 * inside).  Called twice: paths (before chroot), then the unveils.
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
			return NULL;
		n = strcmp(top, "/") == 0 ? 0 : strlen(top);
	}
	for (i = 0; i < cf->nhosts; i++) {
		if (realpath(cf->hosts[i].root, real) == NULL ||
		    (v[i] = strdup(real[n] == '\0' ? "/" : real + n)) == NULL)
			return NULL;
	}
	return v;
}

static int
confine(const struct config *cf, const struct sandbox *sb,
    const int *rootfds, char **paths)
{
	size_t	i;

	(void)sb;
	(void)rootfds;
	for (i = 0; i < cf->nhosts; i++)
		if (unveil(paths[i], "r") == -1) {
			log_warnx("worker: unveil %s: %s", paths[i],
			    strerror(errno));
			return -1;
		}
	if (unveil(NULL, NULL) == -1 ||
	    pledge("stdio rpath inet recvfd", NULL) == -1) {
		log_warnx("worker: pledge: %s", strerror(errno));
		return -1;
	}
	return 0;
}
#else
static int
confine(const struct config *cf, const struct sandbox *sb,
    const int *rootfds)
{
	(void)cf;
	(void)sb;
	(void)rootfds;
	return 0;
}
#endif

int
sandbox_worker(const struct config *cf, const struct sandbox *sb,
    const int *rootfds)
{
#ifdef __OpenBSD__
	char	**paths;

	if ((paths = jail_paths(cf)) == NULL) {
		log_warnx("worker: resolving the roots: %s", strerror(errno));
		return -1;
	}
#endif
	tzset();	/* no /etc/localtime inside a chroot */
	if (sb->chroot && (chroot(cf->chroot) == -1 || chdir("/") == -1)) {
		log_warnx("worker: chroot %s: %s", cf->chroot, strerror(errno));
		return -1;
	}
	if (sb->drop && drop_user(sb) == -1)
		return -1;
#ifdef __linux__
	/*
	 * No core file and no ptrace from other processes of the user (CGI
	 * scripts) to read the keys from.  A uid change already did this;
	 * not started as root, nothing did.
	 */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		log_warnx("worker: PR_SET_DUMPABLE: %s", strerror(errno));
#endif
#ifdef __OpenBSD__
	return confine(cf, sb, rootfds, paths);
#else
	return confine(cf, sb, rootfds);
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
	if (pledge("stdio rpath wpath cpath fattr flock inet proc id getpw "
	    "unveil recvfd", NULL) == -1)
		log_warnx("pledge: %s", strerror(errno));
	else
		pledged = 1;
#else
	(void)cf;
#endif
}
