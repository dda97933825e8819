/*
 * sandbox.h: privilege drop, chroot, and the platform's confinement
 * (Landlock and PR_SET_NO_NEW_PRIVS on Linux, pledge and unveil on
 * OpenBSD).  All platform code of capsuled lives in sandbox.c.
 *
 * The parent resolves everything that needs the file system or the
 * password database (sandbox_prepare) while it loads a generation; a
 * worker (sandbox_worker) and the CGI runner (sandbox_runner) then
 * confine themselves right after fork, after the sockets, keys, logs,
 * roots and libmagic database are open.
 */
#ifndef CAPSULED_SANDBOX_H
#define CAPSULED_SANDBOX_H

#include <sys/types.h>
#include <stddef.h>

#include "config.h"

#ifdef __OpenBSD__
#define SANDBOX_DEFAULT_USER	"_capsuled"
#else
#define SANDBOX_DEFAULT_USER	"capsuled"
#endif

struct sandbox {
	int	drop;		/* started as root: switch to uid/gid */
	uid_t	uid;
	gid_t	gid;
	int	chroot;		/* chroot to cf->chroot */
	int	landlock;	/* Landlock ABI version; 0 when absent */
	const int *listfds;	/* access.c: the fingerprint lists' dirs, */
	const char *const *listdirs;	/* and their paths, whose */
	size_t	nlistfds;	/* files workers may read */
};

/*
 * Parent, for every configuration it loads: look up the user (refusing
 * uid 0 and a user that does not exist when started as root), check the
 * chroot directory and that every root is inside it, and find what the
 * kernel offers.  0, or -1 with err set.
 */
int	sandbox_prepare(const struct config *cf, struct sandbox *sb,
	    char *err, size_t errlen);

/* Say in the log what workers get (once; again only if it changes). */
void	sandbox_describe(const struct config *cf, const struct sandbox *sb);

/* Parent, once it is set up: its own pledge on OpenBSD (see .c). */
void	sandbox_parent(const struct config *cf);

/*
 * A worker, right after fork: chroot, drop to the user, then confine
 * itself to reading beneath the roots (rootfds[i] for cf->hosts[i]).
 * 0, or -1 (logged): the worker must not serve then.
 */
int	sandbox_worker(const struct config *cf, const struct sandbox *sb,
	    const int *rootfds);

/*
 * The CGI runner, right after fork: chroot, drop to the user, then
 * confine itself (and so every script it starts) as sandbox.c says.
 * 0, or -1 (logged): the runner must not run.
 */
int	sandbox_runner(const struct config *cf, const struct sandbox *sb,
	    const int *rootfds);

/*
 * A script, in the runner's child just before exec: a Landlock domain
 * of its own nested in the runner's, scoped for signals (ABI 6), so it
 * cannot signal the runner, the workers or other scripts; its own
 * children it can.  0 (also where the kernel lacks it), or -1.
 */
int	sandbox_script(void);

/*
 * The Titan writer, right after fork: chroot, the user, then read and
 * write (create, replace, remove files) only beneath each host's
 * `titan` directories.  0, or -1 (logged): the writer must not run.
 */
int	sandbox_writer(const struct config *cf, const struct sandbox *sb,
	    const int *rootfds);

/*
 * A worker about to _exit: in a build with AddressSanitizer, look for
 * leaks as exit(3) would have (CI's sanitizer run); nothing otherwise.
 */
void	sandbox_leak_check(void);

#endif
