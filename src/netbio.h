/*
 * netbio.h: the BIO between a connection's SSL and its socket.  Small
 * writes are held and go out together when the worker is about to wait
 * or close, so a Gemini response leaves in one segment, not four.
 */
#ifndef CAPSULED_NETBIO_H
#define CAPSULED_NETBIO_H

#include <openssl/bio.h>

/*
 * A BIO over fd (not closed with the BIO), or NULL.  For SSL_set_bio;
 * keep the pointer for the calls below: SSL_get_wbio() is not always
 * this BIO (LibreSSL pushes a buffering BIO of its own above it during
 * a TLS 1.2 handshake), and these take nothing else.
 */
BIO	*netbio_new(int fd);

/*
 * Write out what is held.  last: nothing more will follow, so the
 * kernel may send it with the FIN.  1 done, 0 the socket is full (wait
 * until it is writable and flush again), -1 the connection is broken
 * (what was held is dropped).
 */
int	 netbio_flush(BIO *, int last);

/*
 * more: the writes that follow are part of a run the worker makes at
 * once (a file's records), so the kernel may hold a part-filled segment
 * for the next one; the run's last write is made with more unset.
 */
void	 netbio_more(BIO *, int more);

/* Bytes held, not yet given to the kernel. */
size_t	 netbio_held(BIO *);

#endif
