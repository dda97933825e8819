/*
 * proxy.c: the PROXY protocol header, versions 1 (text) and 2 (binary),
 * as HAProxy's proxy-protocol.txt defines them.  See proxy.h.
 *
 * Strict on purpose: only a balancer we put in front of a listener
 * marked "proxy" talks to it, so anything that is not exactly a header
 * is a connection to refuse, not one to guess about.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <string.h>

#include "proxy.h"

#define V1_PREFIX	"PROXY "
#define V1_PREFIX_LEN	6
#define V2_SIG		"\r\n\r\n\0\r\nQUIT\n"
#define V2_SIG_LEN	12

#define V2_CMD_LOCAL	0x0
#define V2_CMD_PROXY	0x1
#define V2_AF_UNSPEC	0x0
#define V2_AF_INET	0x1
#define V2_AF_INET6	0x2
#define V2_AF_UNIX	0x3
#define V2_STREAM	0x1
#define V2_INET_LEN	12	/* two IPv4 addresses, two ports */
#define V2_INET6_LEN	36	/* two IPv6 addresses, two ports */

/* The first n bytes of buf agree with the first n of want. */
static int
prefix(const unsigned char *buf, size_t len, const char *want, size_t wlen)
{
	return memcmp(buf, want, len < wlen ? len : wlen) == 0;
}

static void
set_addr(struct sockaddr_storage *ss, socklen_t *sslen, int af,
    const void *addr, const void *port)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (af == AF_INET) {
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, addr, 4);
		memcpy(&sin->sin_port, port, 2);	/* network order */
		*sslen = sizeof(*sin);
	} else {
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, addr, 16);
		memcpy(&sin6->sin6_port, port, 2);
		*sslen = sizeof(*sin6);
	}
}

/* v1 port: 1 to 5 digits, at most 65535, no sign, no leading zero. */
static int
v1_port(const char *s, size_t len, unsigned char out[2])
{
	unsigned long	v = 0;
	size_t		i;

	if (len == 0 || len > 5 || (s[0] == '0' && len > 1))
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	out[0] = (unsigned char)(v >> 8);
	out[1] = (unsigned char)(v & 0xff);
	return 0;
}

/* Split "a b c d" (single spaces, none at the ends) into n fields. */
static int
v1_fields(const char *s, size_t len, const char **f, size_t *flen, int n)
{
	const char	*sp, *end = s + len;
	int		 i;

	for (i = 0; i < n; i++) {
		sp = memchr(s, ' ', (size_t)(end - s));
		if ((sp == NULL) != (i == n - 1))
			return -1;
		if (sp == NULL)
			sp = end;
		if (sp == s)
			return -1;	/* empty field: two spaces */
		f[i] = s;
		flen[i] = (size_t)(sp - s);
		s = sp + 1;
	}
	return 0;
}

/* "TCP4 src dst sport dport" after "PROXY "; line has no CRLF. */
static int
v1_addresses(const char *line, size_t len, struct proxy_hdr *h)
{
	const char	*f[5];
	size_t		 flen[5];
	char		 a[2][64];
	unsigned char	 bin[2][16], port[2][2];
	int		 af, i;

	if (len >= 8 && memcmp(line, "UNKNOWN", 7) == 0 && line[7] == ' ')
		return 0;	/* the rest is ignored, by the spec */
	if (len == 7 && memcmp(line, "UNKNOWN", 7) == 0)
		return 0;
	if (v1_fields(line, len, f, flen, 5) == -1 || flen[0] != 4)
		return -1;
	if (memcmp(f[0], "TCP4", 4) == 0)
		af = AF_INET;
	else if (memcmp(f[0], "TCP6", 4) == 0)
		af = AF_INET6;
	else
		return -1;
	for (i = 0; i < 2; i++) {
		if (flen[1 + i] >= sizeof(a[i]))
			return -1;
		memcpy(a[i], f[1 + i], flen[1 + i]);
		a[i][flen[1 + i]] = '\0';
		if (inet_pton(af, a[i], bin[i]) != 1 ||
		    v1_port(f[3 + i], flen[3 + i], port[i]) == -1)
			return -1;
	}
	set_addr(&h->src, &h->srclen, af, bin[0], port[0]);
	set_addr(&h->dst, &h->dstlen, af, bin[1], port[1]);
	h->has_addr = 1;
	return 0;
}

static ssize_t
parse_v1(const unsigned char *buf, size_t len, struct proxy_hdr *h)
{
	size_t	i, max = len < PROXY_V1_MAX ? len : PROXY_V1_MAX;

	for (i = 0; i < max; i++) {
		if (buf[i] == '\r' && i + 1 < max && buf[i + 1] == '\n')
			break;
		/* printable ASCII only; a CR is fine while its LF is due */
		if ((buf[i] < 0x20 || buf[i] > 0x7e) &&
		    !(buf[i] == '\r' && i + 1 == len))
			return -1;
	}
	if (i == max)
		return len >= PROXY_V1_MAX ? -1 : 0;
	if (i < V1_PREFIX_LEN)
		return -1;
	h->version = 1;
	if (v1_addresses((const char *)buf + V1_PREFIX_LEN, i - V1_PREFIX_LEN,
	    h) == -1)
		return -1;
	return (ssize_t)(i + 2);
}

static ssize_t
parse_v2(const unsigned char *buf, size_t len, struct proxy_hdr *h)
{
	size_t	alen, need;
	int	cmd, fam;

	if (len < PROXY_V2_HDR)
		return 0;
	if ((buf[12] >> 4) != 2)
		return -1;
	cmd = buf[12] & 0xf;
	fam = buf[13] >> 4;
	alen = (size_t)buf[14] << 8 | buf[15];
	h->version = 2;
	if (cmd == V2_CMD_LOCAL)
		return (ssize_t)(PROXY_V2_HDR + alen);	/* health checks */
	if (cmd != V2_CMD_PROXY || fam > V2_AF_UNIX)
		return -1;
	if (fam == V2_AF_UNSPEC || fam == V2_AF_UNIX)
		return (ssize_t)(PROXY_V2_HDR + alen);
	if ((buf[13] & 0xf) != V2_STREAM)
		return -1;	/* we are a TCP server */
	need = fam == V2_AF_INET ? V2_INET_LEN : V2_INET6_LEN;
	if (alen < need)
		return -1;
	if (len < PROXY_V2_HDR + need)
		return 0;
	buf += PROXY_V2_HDR;
	if (fam == V2_AF_INET) {
		set_addr(&h->src, &h->srclen, AF_INET, buf, buf + 8);
		set_addr(&h->dst, &h->dstlen, AF_INET, buf + 4, buf + 10);
	} else {
		set_addr(&h->src, &h->srclen, AF_INET6, buf, buf + 32);
		set_addr(&h->dst, &h->dstlen, AF_INET6, buf + 16, buf + 34);
	}
	h->has_addr = 1;
	return (ssize_t)(PROXY_V2_HDR + alen);
}

ssize_t
proxy_parse(const unsigned char *buf, size_t len, struct proxy_hdr *h)
{
	memset(h, 0, sizeof(*h));
	if (len == 0)
		return 0;
	if (prefix(buf, len, V2_SIG, V2_SIG_LEN))
		return len < V2_SIG_LEN ? 0 : parse_v2(buf, len, h);
	if (prefix(buf, len, V1_PREFIX, V1_PREFIX_LEN))
		return len < V1_PREFIX_LEN ? 0 : parse_v1(buf, len, h);
	return -1;
}

size_t
proxy_v2_encode(unsigned char out[PROXY_V2_MAX], const struct sockaddr *src,
    const struct sockaddr *dst)
{
	static const unsigned char	 sig[V2_SIG_LEN] = V2_SIG;
	const struct sockaddr_in	*s4 = (const void *)src;
	const struct sockaddr_in	*d4 = (const void *)dst;
	const struct sockaddr_in6	*s6 = (const void *)src;
	const struct sockaddr_in6	*d6 = (const void *)dst;
	size_t				 len;

	memcpy(out, sig, sizeof(sig));
	out[12] = 0x20 | V2_CMD_LOCAL;		/* version 2 */
	out[13] = V2_AF_UNSPEC << 4;
	len = 0;
	if (src != NULL && dst != NULL && src->sa_family == AF_INET &&
	    dst->sa_family == AF_INET) {
		out[12] = 0x20 | V2_CMD_PROXY;
		out[13] = V2_AF_INET << 4 | V2_STREAM;
		memcpy(out + 16, &s4->sin_addr, 4);
		memcpy(out + 20, &d4->sin_addr, 4);
		memcpy(out + 24, &s4->sin_port, 2);
		memcpy(out + 26, &d4->sin_port, 2);
		len = V2_INET_LEN;
	} else if (src != NULL && dst != NULL && src->sa_family == AF_INET6 &&
	    dst->sa_family == AF_INET6) {
		out[12] = 0x20 | V2_CMD_PROXY;
		out[13] = V2_AF_INET6 << 4 | V2_STREAM;
		memcpy(out + 16, &s6->sin6_addr, 16);
		memcpy(out + 32, &d6->sin6_addr, 16);
		memcpy(out + 48, &s6->sin6_port, 2);
		memcpy(out + 50, &d6->sin6_port, 2);
		len = V2_INET6_LEN;
	}
	out[14] = (unsigned char)(len >> 8);
	out[15] = (unsigned char)len;
	return PROXY_V2_HDR + len;
}
