/*
 * selfpipe.c: signals as a readable descriptor (see selfpipe.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "selfpipe.h"

static int			 fds[2] = { -1, -1 };
static volatile sig_atomic_t	 got_term;

static void
on_signal(int sig)
{
	int	saved = errno;

	if (sig == SIGTERM)
		got_term = 1;
	if (write(fds[1], "s", 1) == -1) {
		/* the pipe is full: a wake-up is pending already */
	}
	errno = saved;
}

int
selfpipe_init(void)
{
	struct sigaction	sa;
	sigset_t		none;

	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) == -1)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	return 0;
}

int
selfpipe_fd(void)
{
	return fds[0];
}

void
selfpipe_drain(void)
{
	char	buf[64];

	while (read(fds[0], buf, sizeof(buf)) > 0)
		;
}

int
selfpipe_term(void)
{
	return got_term;
}
