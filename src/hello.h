/*
 * hello.h: the server name a TLS ClientHello asks for (RFC 6066 3), read
 * by capsuled itself so that the host, and with it the session-id
 * context, is chosen before the TLS library looks up the session the
 * client offers.  Pure: bytes in, result out; no I/O, no globals, no
 * allocation.
 */
#ifndef CAPSULED_HELLO_H
#define CAPSULED_HELLO_H

#include <stddef.h>

#define HELLO_NAME_MAX	255	/* RFC 6066 3: a DNS host name */

/*
 * The body of a server_name extension: the first entry of its list
 * when that is a host_name.  0 and the name in out (NUL-terminated;
 * it is at most outlen - 1 bytes and holds no NUL), or -1 when the
 * body is malformed, names no host, or the name does not fit.
 */
int	hello_sni_ext(const unsigned char *ext, size_t len, char *out,
	    size_t outlen);

/*
 * A whole ClientHello handshake message (RFC 5246 7.4.1.2, RFC 8446
 * 4.1.2: type 1, a 24-bit length, then the body), as the library hands
 * it over: the server_name extension's host name as hello_sni_ext
 * gives it.  0 and the name, or -1: not a ClientHello, malformed, or
 * no server_name extension (the library then decides).
 */
int	hello_sni(const unsigned char *msg, size_t len, char *out,
	    size_t outlen);

#endif
