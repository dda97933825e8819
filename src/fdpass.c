/*
 * fdpass.c: a message and its descriptors in one SCM_RIGHTS message
 * (see fdpass.h).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "fdpass.h"

union fdpass_cmsg {
	struct cmsghdr	hdr;
	char		buf[CMSG_SPACE(FDPASS_MAX * sizeof(int))];
};

int
fdpass_send(int sock, const void *msg, size_t len, const int *fds,
    size_t nfd)
{
	struct msghdr		 mh;
	struct iovec		 iov;
	struct cmsghdr		*cm;
	union fdpass_cmsg	 cbuf;

	if (nfd == 0 || nfd > FDPASS_MAX)
		return -1;
	memset(&mh, 0, sizeof(mh));
	memset(&cbuf, 0, sizeof(cbuf));
	iov.iov_base = (void *)msg;	/* sendmsg only reads it */
	iov.iov_len = len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf.buf;
	mh.msg_controllen = CMSG_SPACE(nfd * sizeof(int));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(nfd * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, nfd * sizeof(int));
	return sendmsg(sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) ==
	    (ssize_t)len ? 0 : -1;
}

/* Exactly nfd descriptors in one SCM_RIGHTS message, or none kept. */
static int
take_fds(struct msghdr *mh, int *fds, size_t nfd)
{
	struct cmsghdr	*cm;
	size_t		 i, n, got = 0;
	int		 fd, nmsg = 0, extra = 0;

	for (cm = CMSG_FIRSTHDR(mh); cm != NULL; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		nmsg++;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(fd));
			if (got < nfd)
				fds[got++] = fd;
			else {
				close(fd);
				extra = 1;
			}
		}
	}
	if (nmsg == 1 && got == nfd && !extra &&
	    (mh->msg_flags & (MSG_TRUNC | MSG_CTRUNC)) == 0)
		return 0;
	while (got-- > 0)
		close(fds[got]);
	return -1;
}

ssize_t
fdpass_recv(int sock, void *msg, size_t size, int *fds, size_t nfd)
{
	struct msghdr		mh;
	struct iovec		iov;
	union fdpass_cmsg	cbuf;
	ssize_t			n;

	if (nfd == 0 || nfd > FDPASS_MAX)
		return -1;
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = msg;
	iov.iov_len = size;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf.buf;
	mh.msg_controllen = sizeof(cbuf.buf);
	if ((n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC)) == 0)
		return -1;
	if (n < 0)
		return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
	if (take_fds(&mh, fds, nfd) == -1)
		return 0;
	return n;
}
