/*
 * netbio.c: the connection's socket BIO, holding small writes.
 *
 * OpenSSL writes every record as soon as it is made and flushes after
 * each flight and each session ticket: a Gemini request costs the
 * server four write(2)s (its handshake flight, the ticket, the
 * response, close_notify) and as many segments, each of which the
 * loopback or the NIC, and the client, must handle.  Here records are
 * held instead and OpenSSL's flush is a no-op; the worker flushes when
 * it is about to wait for anything or to close (conn.c), so the
 * flight is one write and the ticket, the response and close_notify
 * another.  A big write with nothing held goes straight to the kernel,
 * so files stream without a copy.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>

#include "netbio.h"

#define HOLD_MAX	(16384 + 512)	/* a full record, a ticket and an alert */
#define DIRECT_MIN	4096		/* alone, this big goes straight out */

struct netbio {
	int	 fd;
	char	*buf;		/* HOLD_MAX bytes while anything is held */
	size_t	 len;
	int	 more;		/* netbio_more: more records follow at once */
	int	 err;		/* the socket failed (errno): it stays failed */
};

static BIO_METHOD	*method;

static int
retry(BIO *b, int write)
{
	struct netbio	*nb = BIO_get_data(b);

	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
		if (write)
			BIO_set_retry_write(b);
		else
			BIO_set_retry_read(b);
	} else
		nb->err = errno;
	return -1;
}

/*
 * A socket that failed once (the client reset it) fails every call from
 * then on, held data or not: a small write would otherwise be held again
 * and "succeed", and the worker would go on feeding a client that is gone
 * (a CGI script would run to its timeout).
 */
static int
failed(BIO *b, struct netbio *nb)
{
	BIO_clear_retry_flags(b);
	errno = nb->err;
	return -1;
}

static void
drop(struct netbio *nb)
{
	free(nb->buf);
	nb->buf = NULL;
	nb->len = 0;
}

/* Hold data; 0, or -1 when there is no memory for it. */
static int
hold(struct netbio *nb, const char *data, size_t len)
{
	if (nb->buf == NULL && (nb->buf = malloc(HOLD_MAX)) == NULL)
		return -1;
	memcpy(nb->buf + nb->len, data, len);
	nb->len += len;
	return 0;
}

static int
send_flags(int more)
{
	int	flags = 0;

#ifdef MSG_NOSIGNAL
	flags |= MSG_NOSIGNAL;
#endif
#ifdef MSG_MORE
	if (more)
		flags |= MSG_MORE;
#else
	(void)more;
#endif
	return flags;
}

/* What is held and data in one sendmsg(2); the part of data written. */
static int
write_through(BIO *b, struct netbio *nb, const char *data, size_t len)
{
	struct iovec	iov[2];
	struct msghdr	msg;
	ssize_t		n;
	int		i = 0;

	if (nb->len > 0) {
		iov[i].iov_base = nb->buf;
		iov[i++].iov_len = nb->len;
	}
	iov[i].iov_base = (void *)data;
	iov[i++].iov_len = len;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = i;
	if ((n = sendmsg(nb->fd, &msg, send_flags(nb->more))) == -1)
		return retry(b, 1);
	if ((size_t)n < nb->len) {
		memmove(nb->buf, nb->buf + n, nb->len - n);
		nb->len -= n;
		BIO_set_retry_write(b);
		return -1;
	}
	n -= nb->len;
	drop(nb);
	if (n == 0) {
		BIO_set_retry_write(b);
		return -1;
	}
	return (int)n;
}

static int
nb_write(BIO *b, const char *data, int len)
{
	struct netbio	*nb = BIO_get_data(b);

	BIO_clear_retry_flags(b);
	if (nb->err)
		return failed(b, nb);
	if (len <= 0)
		return 0;
	if ((nb->len > 0 || len < DIRECT_MIN) &&
	    nb->len + len <= HOLD_MAX && hold(nb, data, len) == 0)
		return len;
	return write_through(b, nb, data, (size_t)len);
}

static int
nb_read(BIO *b, char *buf, int len)
{
	struct netbio	*nb = BIO_get_data(b);
	ssize_t		 n;

	BIO_clear_retry_flags(b);
	if (nb->err)
		return failed(b, nb);
	if (len <= 0)
		return 0;
	/*
	 * While we hold output the client is waiting for it, so its answer
	 * cannot be here yet: say "retry" without a read(2) that would only
	 * fail.  The worker flushes before it waits; anything that did come
	 * meanwhile is still there for the next read.
	 */
	if (nb->len > 0) {
		BIO_set_retry_read(b);
		return -1;
	}
	if ((n = read(nb->fd, buf, len)) == -1)
		return retry(b, 0);
	return (int)n;
}

static long
nb_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct netbio	*nb = BIO_get_data(b);

	(void)num;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;	/* the worker flushes before it waits */
	case BIO_CTRL_WPENDING:
		return (long)nb->len;
	case BIO_CTRL_PENDING:
		return 0;
	case BIO_C_GET_FD:
		if (ptr != NULL)
			*(int *)ptr = nb->fd;
		return nb->fd;
	default:
		return 0;
	}
}

static int
nb_create(BIO *b)
{
	struct netbio	*nb;

	if ((nb = calloc(1, sizeof(*nb))) == NULL)
		return 0;
	nb->fd = -1;
	BIO_set_data(b, nb);
	BIO_set_init(b, 1);
	return 1;
}

static int
nb_destroy(BIO *b)
{
	struct netbio	*nb = BIO_get_data(b);

	if (nb != NULL) {
		drop(nb);
		free(nb);
	}
	BIO_set_data(b, NULL);
	return 1;
}

static BIO_METHOD *
netbio_method(void)
{
	BIO_METHOD	*m;

	if (method != NULL)
		return method;
	m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK |
	    BIO_TYPE_DESCRIPTOR, "capsuled socket");
	if (m == NULL)
		return NULL;
	if (BIO_meth_set_write(m, nb_write) != 1 ||
	    BIO_meth_set_read(m, nb_read) != 1 ||
	    BIO_meth_set_ctrl(m, nb_ctrl) != 1 ||
	    BIO_meth_set_create(m, nb_create) != 1 ||
	    BIO_meth_set_destroy(m, nb_destroy) != 1) {
		BIO_meth_free(m);
		return NULL;
	}
	return method = m;
}

BIO *
netbio_new(int fd)
{
	BIO_METHOD	*m;
	BIO		*b;

	if ((m = netbio_method()) == NULL || (b = BIO_new(m)) == NULL)
		return NULL;
	((struct netbio *)BIO_get_data(b))->fd = fd;
	return b;
}

int
netbio_flush(BIO *b, int last)
{
	struct netbio	*nb = BIO_get_data(b);
	ssize_t		 n;

	if (nb->err)
		return -1;
	if (nb->len == 0)
		return 1;
	/*
	 * last: held back until the close(2) or shutdown(2) that follows,
	 * so one segment carries the response, close_notify and the FIN.
	 */
	if ((n = send(nb->fd, nb->buf, nb->len, send_flags(last))) == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		nb->err = errno;
		drop(nb);
		return -1;
	}
	if ((size_t)n < nb->len) {
		memmove(nb->buf, nb->buf + n, nb->len - n);
		nb->len -= n;
		return 0;
	}
	drop(nb);
	return 1;
}

void
netbio_more(BIO *b, int more)
{
	((struct netbio *)BIO_get_data(b))->more = more;
}

size_t
netbio_held(BIO *b)
{
	return ((struct netbio *)BIO_get_data(b))->len;
}
