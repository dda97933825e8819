/*
 * linger.c: close a connection without resetting away its response.
 *
 * Closing a socket with unread input makes the kernel send a reset, and
 * a reset that reaches the client before it has read the response makes
 * its kernel throw that response away: a client that sent a 200 KB
 * request line would, now and then, never see its 59.  So when input is
 * waiting at the end, or the client was cut off in the middle of its
 * request line (the rest is on its way, even if none is here yet), we
 * half-close (our FIN follows the response) and
 * read and drop what the client still sends until it closes, as nginx's
 * lingering close does.  The cost is bounded three ways: a time limit
 * for the whole linger (a trickle cannot keep it open), a byte budget
 * for the whole linger, and a budget per wake-up (a fast sender cannot
 * hold the worker's loop).  Past a limit the close may still reset; by
 * then the client has had LINGER_MSEC to read its response.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <errno.h>
#include <unistd.h>

#include "linger.h"

int
linger_start(int fd, struct linger_state *l, int more, long now)
{
	int	pending = 0;

	if (!more && (ioctl(fd, FIONREAD, &pending) == -1 || pending == 0))
		return 0;
	if (shutdown(fd, SHUT_WR) == -1)
		return 0;
	l->end = now + LINGER_MSEC;
	l->drained = 0;
	return 1;
}

int
linger_drain(int fd, struct linger_state *l, long now)
{
	char	buf[16384];
	size_t	turn = 0;
	ssize_t	n;

	while (l->drained < LINGER_MAX && now < l->end) {
		if (turn >= LINGER_TURN)
			return 0;	/* readable still: back soon */
		n = read(fd, buf, sizeof(buf));
		if (n > 0) {
			l->drained += (size_t)n;
			turn += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return 1;	/* end of file: the client has read it all */
	}
	return 1;
}
