/*
 * url.c: the request URL, parsed and normalised.
 *
 * RFC 3986 for the syntax (section numbers in the comments), RFC 3987
 * for the non-ASCII bytes an IRI may carry, RFC 3629 for UTF-8 and
 * RFC 3492 punycode for IDN host names.  Pure: no I/O, no globals, no
 * allocation; everything lands in caller-supplied buffers.
 */

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "url.h"

#define GEMINI_PORT	1965

/* RFC 3492 section 5: the punycode parameters for IDNA. */
#define PC_BASE		36
#define PC_TMIN		1
#define PC_TMAX		26
#define PC_SKEW		38
#define PC_DAMP		700
#define PC_BIAS		72
#define PC_N		128

/*
 * Output under construction.  Appends that do not fit set err instead
 * of writing, so callers check once at the end; one byte is always
 * kept free for the terminating NUL.
 */
struct out {
	char	*buf;
	size_t	 size;
	size_t	 len;
	int	 err;
};

static void
out_putc(struct out *o, int c)
{
	if (o->err || o->len + 1 >= o->size) {
		o->err = 1;
		return;
	}
	o->buf[o->len++] = (char)c;
}

static void
out_puts(struct out *o, const char *s)
{
	while (*s != '\0')
		out_putc(o, *s++);
}

/* NUL-terminate; -1 if anything did not fit. */
static int
out_end(struct out *o)
{
	if (o->err || o->size == 0)
		return -1;
	o->buf[o->len] = '\0';
	return 0;
}

static int
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

int
url_hexval(int c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* RFC 3986 2.3 */
static int
is_unreserved(int c)
{
	return is_alpha(c) || is_digit(c) || c == '-' || c == '.' ||
	    c == '_' || c == '~';
}

/* RFC 3986 2.2 */
static int
is_subdelim(int c)
{
	return c != '\0' && strchr("!$&'()*+,;=", c) != NULL;
}

/*
 * RFC 3986 3.3 pchar less pct-encoded (handled by the callers), plus
 * the bytes of non-ASCII characters (RFC 3987 ipchar), which
 * check_line() has already checked to be well-formed UTF-8.
 */
static int
is_pchar(int c)
{
	return is_unreserved(c) || is_subdelim(c) || c == ':' || c == '@' ||
	    c >= 0x80;
}

/*
 * Decode one UTF-8 sequence of at most n bytes at s.  Returns its
 * length and sets *cp, or 0 if it is not well-formed: the table in
 * RFC 3629 section 4 leaves out overlong forms, surrogates and
 * anything above U+10FFFF.
 */
static size_t
utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char	lo = 0x80, hi = 0xbf;
	size_t		len, i;
	uint32_t	c;

	if (n == 0)
		return 0;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		c = s[0] & 0x0f;
		if (s[0] == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (s[0] == 0xed)
			hi = 0x9f;	/* UTF-16 surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		c = s[0] & 0x07;
		if (s[0] == 0xf0)
			lo = 0x90;	/* overlong */
		else if (s[0] == 0xf4)
			hi = 0x8f;	/* above U+10FFFF */
	} else
		return 0;	/* continuation byte, C0, C1, F5-FF */
	if (n < len)
		return 0;	/* truncated */
	for (i = 1; i < len; i++) {
		if (s[i] < lo || s[i] > hi)
			return 0;
		lo = 0x80;
		hi = 0xbf;
		c = (c << 6) | (s[i] & 0x3f);
	}
	*cp = c;
	return len;
}

int
url_utf8_valid(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i, n;
	uint32_t		 cp;

	for (i = 0; i < len; i += n)
		if ((n = utf8_decode(p + i, len - i, &cp)) == 0)
			return 0;
	return 1;
}

size_t
url_utf8_decode(const char *s, size_t len, uint32_t *cp)
{
	return utf8_decode((const unsigned char *)s, len, cp);
}

/*
 * Simple lower-casing for the scripts most host names are written in
 * (ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic, Armenian: the
 * table was checked against Python's str.lower()), as UTS #46 maps
 * upper to lower case before punycode.  Not the whole UTS #46 table (no
 * NFC, no other scripts, no multi-character mappings): clients send
 * host names lower-cased already; this catches typed-in capitals.
 */
static uint32_t
lower(uint32_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c + 0x20;
	if ((c >= 0xc0 && c <= 0xde && c != 0xd7) ||
	    (c >= 0x391 && c <= 0x3ab && c != 0x3a2) ||
	    (c >= 0x410 && c <= 0x42f))
		return c + 0x20;
	if (c >= 0x400 && c <= 0x40f)
		return c + 0x50;
	if (c >= 0x388 && c <= 0x38a)
		return c + 0x25;
	if (c == 0x386)
		return 0x3ac;
	if (c == 0x38c)
		return 0x3cc;
	if (c == 0x38e || c == 0x38f)
		return c + 0x3f;
	if (c == 0x3cf)
		return 0x3d7;
	/* Latin Extended-A: pairs, upper case first (U+0130 has none) */
	if ((c >= 0x100 && c <= 0x12f) || (c >= 0x132 && c <= 0x137) ||
	    (c >= 0x14a && c <= 0x177))
		return c | 1;
	if (((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e)) &&
	    (c & 1))
		return c + 1;
	if (c == 0x178)
		return 0xff;
	/* Cyrillic supplement: pairs as above; Armenian: a block apart */
	if (((c >= 0x460 && c <= 0x481) || (c >= 0x48a && c <= 0x4bf) ||
	    (c >= 0x4d0 && c <= 0x52f)))
		return c | 1;
	if (c >= 0x4c1 && c <= 0x4ce && (c & 1))
		return c + 1;
	if (c == 0x4c0)
		return 0x4cf;
	if (c >= 0x531 && c <= 0x556)
		return c + 0x30;
	return c;
}

/* RFC 3492 6.1 */
static uint32_t
pc_adapt(uint32_t delta, uint32_t npoints, int first)
{
	uint32_t	k = 0;

	delta = first ? delta / PC_DAMP : delta / 2;
	delta += delta / npoints;
	while (delta > ((PC_BASE - PC_TMIN) * PC_TMAX) / 2) {
		delta /= PC_BASE - PC_TMIN;
		k += PC_BASE;
	}
	return k + (PC_BASE - PC_TMIN + 1) * delta / (delta + PC_SKEW);
}

/* RFC 3492 5: digit values 0-25 are a-z, 26-35 are 0-9 (lower case). */
static int
pc_digit(uint32_t d)
{
	return d < 26 ? 'a' + (int)d : '0' + (int)(d - 26);
}

/* RFC 3492 3.3: delta as a generalized variable-length integer. */
static void
pc_put_delta(struct out *o, uint32_t q, uint32_t bias)
{
	uint32_t	k, t;

	for (k = PC_BASE;; k += PC_BASE) {
		if (k <= bias)
			t = PC_TMIN;
		else if (k >= bias + PC_TMAX)
			t = PC_TMAX;
		else
			t = k - bias;
		if (q < t)
			break;
		out_putc(o, pc_digit(t + (q - t) % (PC_BASE - t)));
		q = (q - t) / (PC_BASE - t);
	}
	out_putc(o, pc_digit(q));
}

/*
 * RFC 3492 6.3, the encoder.  n is at most URL_HOST_MAX and code
 * points at most U+10FFFF, so delta stays below 2^29: no overflow
 * checks are needed.
 */
static void
punycode(struct out *o, const uint32_t *cp, size_t n)
{
	uint32_t	c = PC_N, delta = 0, bias = PC_BIAS, m;
	size_t		h, b, i;

	for (b = 0, i = 0; i < n; i++)
		if (cp[i] < 0x80) {
			out_putc(o, (int)cp[i]);
			b++;
		}
	if (b > 0)
		out_putc(o, '-');
	for (h = b; h < n; c++, delta++) {
		for (m = UINT32_MAX, i = 0; i < n; i++)
			if (cp[i] >= c && cp[i] < m)
				m = cp[i];
		delta += (m - c) * (uint32_t)(h + 1);
		c = m;
		for (i = 0; i < n; i++) {
			if (cp[i] < c)
				delta++;
			else if (cp[i] == c) {
				pc_put_delta(o, delta, bias);
				bias = pc_adapt(delta, (uint32_t)(h + 1),
				    h == b);
				delta = 0;
				h++;
			}
		}
	}
}

/* IDNA label separators (RFC 3490 3.1): '.' and its CJK look-alikes. */
static int
is_label_dot(uint32_t c)
{
	return c == '.' || c == 0x3002 || c == 0xff0e || c == 0xff61;
}

/*
 * A host name character: RFC 3986 3.2.2 reg-name (unreserved and
 * sub-delims; percent-encoding is not accepted) or, RFC 3987 ireg-name,
 * a non-ASCII character other than a C1 control.
 */
static int
is_host_char(uint32_t c)
{
	if (c >= 0x80)
		return c >= 0xa0;
	return is_unreserved((int)c) || is_subdelim((int)c);
}

/* One label, lower-cased: ASCII as is, anything else as an A-label. */
static void
put_label(struct out *o, const uint32_t *cp, size_t n)
{
	size_t	i;

	for (i = 0; i < n && cp[i] < 0x80; i++)
		;
	if (i == n) {
		for (i = 0; i < n; i++)
			out_putc(o, (int)cp[i]);
		return;
	}
	out_puts(o, "xn--");
	punycode(o, cp, n);
}

static int
name_canonical(const char *in, size_t len, char *out, size_t outlen)
{
	struct out		 o = { out, outlen, 0, 0 };
	const unsigned char	*s = (const unsigned char *)in;
	uint32_t		 cp[URL_HOST_MAX + 1], c;
	size_t			 i = 0, n, k;
	int			 dot;

	for (;;) {
		for (n = 0, dot = 0; i < len; ) {
			if ((k = utf8_decode(s + i, len - i, &c)) == 0)
				return -1;
			i += k;
			if ((dot = is_label_dot(c)))
				break;
			if (!is_host_char(c) || n == URL_HOST_MAX + 1)
				return -1;
			cp[n++] = lower(c);
		}
		if (n == 0)
			return -1;	/* empty label: "", ".x", "x..y" */
		put_label(&o, cp, n);
		/* A trailing dot names the DNS root: "host." is "host". */
		if (!dot || i == len)
			break;
		out_putc(&o, '.');
	}
	return out_end(&o);
}

/* RFC 3986 3.2.2 IPv4address: dec-octets, no leading zeros. */
static int
ipv4_parse(const char *s, size_t len, uint8_t a[4])
{
	size_t	i = 0, nd;
	int	part, v;

	for (part = 0; part < 4; part++) {
		if (part > 0 && (i >= len || s[i++] != '.'))
			return -1;
		for (v = 0, nd = 0; i < len && is_digit(s[i]); i++, nd++) {
			if (nd > 0 && v == 0)
				return -1;	/* "01", "00" */
			if ((v = v * 10 + (s[i] - '0')) > 255)
				return -1;
		}
		if (nd == 0)
			return -1;
		a[part] = (uint8_t)v;
	}
	return i == len ? 0 : -1;
}

/*
 * RFC 3986 3.2.2 IPv6address: up to eight groups of 1-4 hex digits,
 * at most one "::" standing for one or more zero groups, optionally
 * ending in an IPv4 address.  No zone identifiers.
 */
static int
ipv6_parse(const char *s, size_t len, uint8_t a[16])
{
	uint16_t	w[8];
	uint8_t		v4[4];
	size_t		i = 0, j, n = 0, k;
	int		gap = -1, v, d;

	if (len >= 2 && s[0] == ':' && s[1] == ':') {
		gap = 0;
		i = 2;
	}
	while (i < len) {
		if (n == 8)
			return -1;
		for (j = i, v = 0; j < len && j - i < 5 &&
		    (d = url_hexval((unsigned char)s[j])) != -1; j++)
			v = v * 16 + d;
		if (j < len && s[j] == '.') {
			if (n > 6 || ipv4_parse(s + i, len - i, v4) == -1)
				return -1;
			w[n++] = (uint16_t)(v4[0] << 8 | v4[1]);
			w[n++] = (uint16_t)(v4[2] << 8 | v4[3]);
			break;
		}
		if (j == i || j - i > 4)
			return -1;
		w[n++] = (uint16_t)v;
		if ((i = j) == len)
			break;
		/* a separator, and not a trailing one */
		if (s[i++] != ':' || i == len)
			return -1;
		if (s[i] == ':') {
			if (gap != -1)
				return -1;	/* a second "::" */
			gap = (int)n;
			i++;
		}
	}
	if (gap == -1 ? n != 8 : n > 7)
		return -1;
	memset(a, 0, 16);
	if (gap == -1)
		gap = (int)n;
	for (k = 0; k < n; k++) {
		j = k < (size_t)gap ? k : 8 - (n - k);
		a[2 * j] = (uint8_t)(w[k] >> 8);
		a[2 * j + 1] = (uint8_t)(w[k] & 0xff);
	}
	return 0;
}

static void
out_hex16(struct out *o, unsigned int v)
{
	const char	*hex = "0123456789abcdef";
	int		 shift, started = 0;

	for (shift = 12; shift >= 0; shift -= 4)
		if (((v >> shift) & 0xf) != 0 || started || shift == 0) {
			out_putc(o, hex[(v >> shift) & 0xf]);
			started = 1;
		}
}

static void
out_dec8(struct out *o, unsigned int v)
{
	if (v >= 100)
		out_putc(o, '0' + (int)(v / 100));
	if (v >= 10)
		out_putc(o, '0' + (int)(v / 10 % 10));
	out_putc(o, '0' + (int)(v % 10));
}

/*
 * RFC 5952 text form, so that every spelling of an address compares
 * equal: lower case, no leading zeros, the longest (first on a tie)
 * run of two or more zero groups as "::", IPv4-mapped addresses in
 * mixed notation (section 5).
 */
static int
ipv6_format(const uint8_t a[16], char *out, size_t outlen)
{
	struct out	o = { out, outlen, 0, 0 };
	unsigned int	w[8];
	int		i, j, best = -1, bestlen = 1, mapped, last;

	for (i = 0; i < 8; i++)
		w[i] = (unsigned int)a[2 * (size_t)i] << 8 |
		    a[2 * (size_t)i + 1];
	for (i = 0; i < 8; i = j + 1) {
		for (j = i; j < 8 && w[j] == 0; j++)
			;
		if (j - i > bestlen) {
			best = i;
			bestlen = j - i;
		}
	}
	mapped = best == 0 && bestlen == 5 && w[5] == 0xffff;
	last = mapped ? 6 : 8;
	for (i = 0; i < last; i++) {
		if (i == best) {
			out_puts(&o, "::");
			i += bestlen - 1;
			continue;
		}
		if (i > 0 && i != best + bestlen)
			out_putc(&o, ':');
		out_hex16(&o, w[i]);
	}
	if (mapped) {
		for (i = 12; i < 16; i++) {
			out_putc(&o, i == 12 ? ':' : '.');
			out_dec8(&o, a[i]);
		}
	}
	return out_end(&o);
}

int
url_host_canonical(const char *in, char *out, size_t outlen)
{
	uint8_t	a[16];
	size_t	len;

	if (in == NULL || out == NULL || outlen == 0)
		return -1;
	len = strlen(in);
	if (!url_utf8_valid(in, len))
		return -1;
	if (len > 0 && in[0] == '[') {
		if (len < 2 || in[len - 1] != ']')
			return -1;
		if (ipv6_parse(in + 1, len - 2, a) == -1)
			return -1;
		return ipv6_format(a, out, outlen);
	}
	/* No host name has a ':': an IPv6 address (as SNI or config). */
	if (memchr(in, ':', len) != NULL) {
		if (ipv6_parse(in, len, a) == -1)
			return -1;
		return ipv6_format(a, out, outlen);
	}
	return name_canonical(in, len, out, outlen);
}

int
url_encode_path(const char *in, char *out, size_t outlen)
{
	const char	*hex = "0123456789ABCDEF";
	struct out	 o = { out, outlen, 0, 0 };
	unsigned char	 c;

	if (in == NULL || out == NULL)
		return -1;
	for (; *in != '\0'; in++) {
		c = (unsigned char)*in;
		/*
		 * ':' is encoded although a path may hold it: in the first
		 * segment of a relative link it would read as a scheme
		 * (RFC 3986 4.2).  RFC 3986 2.1: upper-case hex digits.
		 */
		if (is_unreserved(c) || is_subdelim(c) || c == '/' ||
		    c == '@')
			out_putc(&o, c);
		else {
			out_putc(&o, '%');
			out_putc(&o, hex[c >> 4]);
			out_putc(&o, hex[c & 0xf]);
		}
	}
	if (out_end(&o) == -1 || o.len > INT_MAX)
		return -1;
	return (int)o.len;
}

/*
 * The whole line, before any parsing: RFC 3986 2 allows only
 * unreserved, reserved and '%' in ASCII; RFC 3987 adds non-ASCII
 * characters, which must be well-formed UTF-8 (Gemini: requests are
 * UTF-8) and not C1 controls.  '#' can only start a fragment.
 */
static const char *
check_line(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i, n;
	uint32_t		 cp;

	if (len == 0)
		return "Empty request";
	if (len > URL_MAX)
		return "URL longer than 1024 bytes";
	for (i = 0; i < len; i += n) {
		n = 1;
		if (p[i] == '\0')
			return "NUL byte in request";
		if (p[i] < 0x20 || p[i] == 0x7f)
			return "Control character in request";
		if (p[i] == ' ')
			return "Space in URL (encode it as %20)";
		if (p[i] == '#')
			return "Fragments are not allowed in requests";
		if (p[i] >= 0x80) {
			if ((n = utf8_decode(p + i, len - i, &cp)) == 0)
				return "Request is not valid UTF-8";
			if (cp < 0xa0)
				return "Control character in request";
		} else if (!is_unreserved(p[i]) && !is_subdelim(p[i]) &&
		    strchr(":/?[]@%", p[i]) == NULL)
			return "Character not allowed in a URL";
	}
	return NULL;
}

/*
 * RFC 3986 3.1: scheme ":", scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" /
 * "." ), compared case-insensitively (6.2.2.1) so stored lower-cased.
 */
static const char *
parse_scheme(const char **pp, const char *e, struct url *u)
{
	const char	*p = *pp;
	size_t		 n = 0;
	int		 c;

	if (p == e || !is_alpha((unsigned char)*p))
		return "Not an absolute URL";
	for (; p < e && *p != ':'; p++) {
		c = (unsigned char)*p;
		if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' &&
		    c != '.')
			return "Not an absolute URL";
		if (n + 1 >= sizeof(u->scheme))
			return "Scheme too long";
		u->scheme[n++] = (char)lower((uint32_t)c);
	}
	if (p == e)
		return "Not an absolute URL";
	u->scheme[n] = '\0';
	*pp = p + 1;
	return NULL;
}

/* RFC 3986 3.2.2 IP-literal: brackets around an IPv6 address. */
static const char *
parse_ip_literal(const char *a, const char *e, struct url *u,
    const char **rest)
{
	const char	*rb;
	uint8_t		 addr[16];

	if ((rb = memchr(a, ']', (size_t)(e - a))) == NULL)
		return "Bad IPv6 address";
	if (rb - a > 1 && (a[1] == 'v' || a[1] == 'V'))
		return "IPvFuture addresses are not supported";
	if (ipv6_parse(a + 1, (size_t)(rb - a - 1), addr) == -1 ||
	    ipv6_format(addr, u->host, sizeof(u->host)) == -1)
		return "Bad IPv6 address";
	*rest = rb + 1;
	if (*rest < e && **rest != ':')
		return "Bad IPv6 address";
	return NULL;
}

/* RFC 3986 3.2.2 reg-name or IPv4address, RFC 3987 ireg-name. */
static const char *
parse_reg_name(const char *a, const char *e, struct url *u,
    const char **rest)
{
	char		 tmp[URL_HOST_MAX + 1];
	const char	*h;

	for (h = a; h < e && *h != ':'; h++) {
		if (*h == '%')
			return "Percent-encoded host names are not supported";
		if (*h == '[' || *h == ']')
			return "Bad host name";
	}
	if (h == a)
		return "Empty host";
	if (h - a > URL_HOST_MAX)
		return "Host name too long";
	memcpy(tmp, a, (size_t)(h - a));
	tmp[h - a] = '\0';
	if (url_host_canonical(tmp, u->host, sizeof(u->host)) == -1)
		return "Bad host name";
	*rest = h;
	return NULL;
}

/* RFC 3986 3.2.3: port = *DIGIT; empty means the scheme's default. */
static const char *
parse_port(const char *p, const char *e, struct url *u)
{
	long	v;

	if (p == e || ++p == e)
		return NULL;
	for (v = 0; p < e; p++) {
		if (!is_digit((unsigned char)*p))
			return "Bad port";
		if ((v = v * 10 + (*p - '0')) > 65535)
			return "Port out of range";
	}
	u->port = (int)v;
	u->port_given = 1;
	return NULL;
}

/* RFC 3986 3.2: "//" authority, where authority has no userinfo here. */
static const char *
parse_authority(const char **pp, const char *e, struct url *u)
{
	const char	*a = *pp, *end, *rest, *msg;

	if (e - a < 2 || a[0] != '/' || a[1] != '/')
		return "URL has no authority (gemini://host/)";
	a += 2;
	for (end = a; end < e && *end != '/' && *end != '?'; end++)
		if (*end == '@')
			return "Userinfo is not allowed in requests";
	if (a == end || *a == ':')
		return "Empty host";
	if (*a == '[')
		msg = parse_ip_literal(a, end, u, &rest);
	else
		msg = parse_reg_name(a, end, u, &rest);
	if (msg != NULL || (msg = parse_port(rest, end, u)) != NULL)
		return msg;
	*pp = end;
	return NULL;
}

/*
 * Percent-decode one path segment into out (RFC 3986 2.1, 2.4).  The
 * segment was split off before decoding, so a decoded '/' would make
 * a new segment appear (and NUL would end the path early): rejected.
 */
static const char *
decode_segment(const char *s, const char *e, char *out, size_t size,
    size_t *np)
{
	size_t	n;
	int	c, hi, lo;

	for (n = 0; s < e; s++) {
		c = (unsigned char)*s;
		if (c == '%') {
			if (e - s < 3 ||
			    (hi = url_hexval((unsigned char)s[1])) == -1 ||
			    (lo = url_hexval((unsigned char)s[2])) == -1)
				return "Bad percent escape in path";
			c = hi << 4 | lo;
			s += 2;
			if (c == '\0')
				return "Encoded NUL (%00) in path";
			if (c == '/')
				return "Encoded slash (%2F) in path";
		} else if (!is_pchar(c))
			return "Character not allowed in path";
		if (n + 1 >= size)
			return "Path too long";
		out[n++] = (char)c;
	}
	*np = n;
	return NULL;
}

static int
is_dots(const char *s, size_t n, size_t ndots)
{
	return n == ndots && memcmp(s, "..", n) == 0;
}

/*
 * RFC 3986 3.3 path-abempty, split on '/', each segment decoded, then
 * RFC 3986 5.2.4 remove_dot_segments done segment by segment as the
 * output is built: "." is dropped, ".." drops the segment before it.
 * Decoded dots count (6.2.2.2: "%2E%2e" is ".."), and a ".." with
 * nothing left to drop is rejected rather than clamped to "/".  A
 * path that ends in a dot segment keeps its trailing slash ("/a/b/.."
 * is "/a/"), as 5.2.4 does.
 *
 * Empty segments are merged, as a file system does ("/a//b" is
 * "/a/b", "//.." climbs above the root): a path that starts with "//"
 * would read as a host name if it went back into a redirect or a link
 * (3986 4.2 network-path reference).
 */
static const char *
parse_path(const char **pp, const char *e, struct url *u)
{
	const char	*p = *pp, *end, *seg, *msg;
	char		*out = u->path;
	size_t		 o = 0, n;
	int		 last;

	if ((end = memchr(p, '?', (size_t)(e - p))) == NULL)
		end = e;
	while (p < end) {
		if (o + 2 > sizeof(u->path))	/* room for '/' and NUL */
			return "Path too long";
		seg = ++p;	/* *p was '/' */
		while (p < end && *p != '/')
			p++;
		last = p == end;
		out[o] = '/';
		msg = decode_segment(seg, p, out + o + 1,
		    sizeof(u->path) - o - 1, &n);
		if (msg != NULL)
			return msg;
		if (n == 0 || is_dots(out + o + 1, n, 1)) {
			if (last)
				o++;	/* the trailing slash */
		} else if (is_dots(out + o + 1, n, 2)) {
			if (o == 0)
				return "Path climbs above the root";
			while (out[--o] != '/')
				;
			if (last)
				o++;
		} else
			o += 1 + n;
	}
	if (o == 0)
		out[o++] = '/';	/* empty path: the same as "/" */
	out[o] = '\0';
	*pp = end;
	return NULL;
}

/* RFC 3986 3.4: query = *( pchar / "/" / "?" ), kept as sent. */
static const char *
parse_query(const char *p, const char *e, struct url *u)
{
	const char	*q;
	int		 c;

	if (p == e)
		return NULL;
	u->has_query = 1;
	for (q = ++p; q < e; q++) {
		c = (unsigned char)*q;
		if (c == '%') {
			if (e - q < 3 || url_hexval((unsigned char)q[1]) == -1 ||
			    url_hexval((unsigned char)q[2]) == -1)
				return "Bad percent escape in query";
			q += 2;
		} else if (!is_pchar(c) && c != '/' && c != '?')
			return "Character not allowed in query";
	}
	if ((size_t)(e - p) >= sizeof(u->query))
		return "Query too long";
	memcpy(u->query, p, (size_t)(e - p));
	u->query[e - p] = '\0';
	return NULL;
}

int
url_parse(const char *s, size_t len, struct url *u, int *status,
    const char **why)
{
	const char	*p = s, *e, *msg;

	memset(u, 0, sizeof(*u));
	u->port = GEMINI_PORT;
	if (s == NULL) {
		p = "";	/* as an empty line: no arithmetic on NULL */
		len = 0;
	}
	e = p + len;
	if ((msg = check_line(p, len)) == NULL &&
	    (msg = parse_scheme(&p, e, u)) == NULL &&
	    (msg = parse_authority(&p, e, u)) == NULL &&
	    (msg = parse_path(&p, e, u)) == NULL &&
	    (msg = parse_query(p, e, u)) == NULL)
		return 0;
	if (status != NULL)
		*status = 59;
	if (why != NULL)
		*why = msg;
	return -1;
}
