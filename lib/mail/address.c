/*
 * address - RFC 5321 path and mailbox parsing, relay-policy helpers and
 * quoting for output. Input is untrusted network data bounded by the
 * caller's length; all output goes into fixed buffers of struct address or
 * a bounded strbuf. Must not do I/O, log or keep state.
 */
#include "mail/address.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "util/strbuf.h"

static bool
is_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static bool
is_ldh(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

bool
address_valid_utf8(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		unsigned char c = p[i];
		unsigned int cp, min;
		size_t n, k;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
			min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
			min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else {
			return false;
		}
		if (len - i <= n)
			return false;
		for (k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

static bool
has_high_bytes(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] >= 0x80)
			return true;
	}
	return false;
}

bool
address_valid_domain(const char *s, size_t len, bool utf8)
{
	size_t i, label_start = 0;

	if (len == 0 || len > ADDRESS_DOMAIN_MAX)
		return false;
	if (has_high_bytes(s, len) && (!utf8 || !address_valid_utf8(s, len)))
		return false;
	for (i = 0; i <= len; i++) {
		unsigned char c = i < len ? (unsigned char)s[i] : '.';

		if (c == '.') {
			size_t llen = i - label_start;

			if (llen == 0 || llen > ADDRESS_LABEL_MAX ||
			    s[label_start] == '-' || s[i - 1] == '-')
				return false;
			label_start = i + 1;
		} else if (!is_ldh(c) && c < 0x80) {
			return false;
		}
	}
	return true;
}

static bool
valid_ipv4(const char *s, size_t len)
{
	unsigned int parts = 0, value = 0, digits = 0;
	size_t i;

	for (i = 0; i <= len; i++) {
		char c = i < len ? s[i] : '.';

		if (c >= '0' && c <= '9') {
			if (++digits > 3)
				return false;
			value = value * 10 + (unsigned int)(c - '0');
		} else if (c == '.') {
			if (digits == 0 || value > 255 || ++parts > 4)
				return false;
			digits = 0;
			value = 0;
		} else {
			return false;
		}
	}
	return parts == 4;
}

bool
address_valid_literal(const char *s, size_t len)
{
	char buf[64];
	struct in6_addr a6;
	size_t i;

	if (len < 3 || s[0] != '[' || s[len - 1] != ']')
		return false;
	s++;
	len -= 2;
	if (len > 5 && strncasecmp(s, "IPv6:", 5) == 0) {
		if (len - 5 >= sizeof(buf))
			return false;
		/* inet_pton() stops at a NUL: allow only what it parses. */
		for (i = 5; i < len; i++) {
			if (!isxdigit((unsigned char)s[i]) && s[i] != ':' &&
			    s[i] != '.')
				return false;
		}
		memcpy(buf, s + 5, len - 5);
		buf[len - 5] = '\0';
		return inet_pton(AF_INET6, buf, &a6) == 1;
	}
	return valid_ipv4(s, len);
}

static bool
valid_domain_or_literal(const char *s, size_t len, bool utf8)
{
	if (len > 0 && s[0] == '[')
		return len <= ADDRESS_DOMAIN_MAX &&
		       address_valid_literal(s, len);
	return address_valid_domain(s, len, utf8);
}

static int
local_add(struct address *addr, unsigned char c, const char **error_r)
{
	if (addr->local_len >= ADDRESS_LOCAL_MAX) {
		*error_r = "local part too long";
		return -1;
	}
	addr->local[addr->local_len++] = (char)c;
	return 0;
}

/* Parses the local part at s[*pos..len) up to the '@' or the end. */
static int
parse_local(const char *s, size_t len, size_t *pos, unsigned int flags,
	    struct address *addr, const char **error_r)
{
	size_t i = *pos;

	if (i < len && s[i] == '"') {
		addr->flags |= ADDRESS_FLAG_QUOTED;
		for (i++;; i++) {
			unsigned char c;

			if (i >= len) {
				*error_r = "unterminated quoted local part";
				return -1;
			}
			c = (unsigned char)s[i];
			if (c == '"')
				break;
			if (c == '\\') {
				if (++i >= len || (unsigned char)s[i] < 32 ||
				    (unsigned char)s[i] > 126) {
					*error_r = "invalid quoted-pair in "
						   "local part";
					return -1;
				}
				c = (unsigned char)s[i];
			} else if (c < 32 || c == 127) {
				*error_r = "invalid character in quoted "
					   "local part";
				return -1;
			}
			if (local_add(addr, c, error_r) < 0)
				return -1;
		}
		i++;
		if (i < len && s[i] != '@') {
			*error_r = "garbage after quoted local part";
			return -1;
		}
	} else {
		for (; i < len && s[i] != '@'; i++) {
			unsigned char c = (unsigned char)s[i];

			if (!is_atext(c) && c != '.' && c < 0x80) {
				*error_r = "invalid character in local part";
				return -1;
			}
			if (local_add(addr, c, error_r) < 0)
				return -1;
		}
		if (addr->local_len == 0) {
			*error_r = "empty local part";
			return -1;
		}
	}
	addr->local[addr->local_len] = '\0';
	if (has_high_bytes(addr->local, addr->local_len)) {
		if ((flags & ADDRESS_PARSE_UTF8) == 0) {
			*error_r = "non-ASCII local part without SMTPUTF8";
			return -1;
		}
		if (!address_valid_utf8(addr->local, addr->local_len)) {
			*error_r = "invalid UTF-8 in local part";
			return -1;
		}
		addr->flags |= ADDRESS_FLAG_UTF8;
	}
	if (addr->local_len > ADDRESS_LOCAL_RFC_MAX)
		addr->flags |= ADDRESS_FLAG_LONG_LOCAL;
	*pos = i;
	return 0;
}

static int
parse_mailbox(const char *s, size_t len, unsigned int flags,
	      struct address *addr, const char **error_r)
{
	size_t pos = 0, dlen;
	const char *d;

	if (parse_local(s, len, &pos, flags, addr, error_r) < 0)
		return -1;
	if (pos == len) {
		if ((flags & ADDRESS_PARSE_ALLOW_NO_DOMAIN) == 0) {
			*error_r = "missing domain";
			return -1;
		}
		addr->flags |= ADDRESS_FLAG_NO_DOMAIN;
		return 0;
	}
	d = s + pos + 1;
	dlen = len - pos - 1;
	if (dlen == 0 || dlen > ADDRESS_DOMAIN_MAX) {
		*error_r = dlen == 0 ? "empty domain" : "domain too long";
		return -1;
	}
	if (has_high_bytes(d, dlen) && (flags & ADDRESS_PARSE_UTF8) == 0) {
		*error_r = "non-ASCII domain without SMTPUTF8";
		return -1;
	}
	if (!valid_domain_or_literal(d, dlen,
				     (flags & ADDRESS_PARSE_UTF8) != 0)) {
		*error_r = "invalid domain";
		return -1;
	}
	if (d[0] == '[')
		addr->flags |= ADDRESS_FLAG_LITERAL;
	if (has_high_bytes(d, dlen))
		addr->flags |= ADDRESS_FLAG_UTF8;
	memcpy(addr->domain, d, dlen);
	addr->domain[dlen] = '\0';
	addr->domain_len = dlen;
	return 0;
}

int
address_parse_mailbox(const char *s, size_t len, unsigned int flags,
		      struct address *addr_r, const char **error_r)
{
	memset(addr_r, 0, sizeof(*addr_r));
	if (len == 0 && (flags & ADDRESS_PARSE_ALLOW_NULL) != 0) {
		addr_r->flags = ADDRESS_FLAG_NULL;
		return 0;
	}
	return parse_mailbox(s, len, flags, addr_r, error_r);
}

/* Parses "@d1,@d2:" at the start of s; returns the bytes it used. */
static int
parse_route(const char *s, size_t len, struct address *addr, size_t *used_r,
	    const char **error_r)
{
	size_t i = 0, start;

	for (;;) {
		if (i >= len || s[i] != '@') {
			*error_r = "invalid source route";
			return -1;
		}
		start = ++i;
		while (i < len && s[i] != ',' && s[i] != ':')
			i++;
		if (i >= len ||
		    !valid_domain_or_literal(s + start, i - start, false)) {
			*error_r = "invalid source route";
			return -1;
		}
		if (s[i] == ':')
			break;
		i++;
	}
	if (i > ADDRESS_ROUTE_MAX) {
		*error_r = "source route too long";
		return -1;
	}
	memcpy(addr->route, s, i);
	addr->route[i] = '\0';
	addr->flags |= ADDRESS_FLAG_ROUTE;
	*used_r = i + 1;
	return 0;
}

int
address_parse_path(const char *s, size_t len, unsigned int flags,
		   struct address *addr_r, const char **error_r)
{
	size_t used = 0;

	memset(addr_r, 0, sizeof(*addr_r));
	if (len < 2 || s[0] != '<' || s[len - 1] != '>') {
		*error_r = "missing angle brackets";
		return -1;
	}
	s++;
	len -= 2;
	if (len == 0) {
		if ((flags & ADDRESS_PARSE_ALLOW_NULL) == 0) {
			*error_r = "null address not allowed";
			return -1;
		}
		addr_r->flags = ADDRESS_FLAG_NULL;
		return 0;
	}
	if (s[0] == '@' && parse_route(s, len, addr_r, &used, error_r) < 0)
		return -1;
	return parse_mailbox(s + used, len - used, flags, addr_r, error_r);
}

bool
address_has_routing_chars(const struct address *addr)
{
	return memchr(addr->local, '%', addr->local_len) != NULL ||
	       memchr(addr->local, '!', addr->local_len) != NULL ||
	       memchr(addr->local, '@', addr->local_len) != NULL;
}

bool
address_split_detail(const struct address *addr, const char *delimiters,
		     size_t *user_len_r, const char **detail_r)
{
	size_t n;

	if (delimiters == NULL || delimiters[0] == '\0' ||
	    addr->local_len == 0 ||
	    strcasecmp(addr->local, "postmaster") == 0 ||
	    strcasecmp(addr->local, "MAILER-DAEMON") == 0)
		return false;
	n = strcspn(addr->local, delimiters);
	if (n == 0 || n >= addr->local_len)
		return false;
	*user_len_r = n;
	*detail_r = addr->local + n + 1;
	return true;
}

static bool
local_needs_quotes(const char *local, size_t len)
{
	size_t i;

	if (len == 0 || local[0] == '.' || local[len - 1] == '.')
		return true;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)local[i];

		if (c == '.' && i + 1 < len && local[i + 1] == '.')
			return true;
		if (c != '.' && c < 0x80 && !is_atext(c))
			return true;
	}
	return false;
}

int
address_quote_local(const char *local, size_t len, struct strbuf *out)
{
	size_t i;

	if (!local_needs_quotes(local, len))
		return strbuf_append(out, local, len);
	if (strbuf_append_char(out, '"') < 0)
		return -1;
	for (i = 0; i < len; i++) {
		if ((local[i] == '"' || local[i] == '\\') &&
		    strbuf_append_char(out, '\\') < 0)
			return -1;
		if (strbuf_append_char(out, local[i]) < 0)
			return -1;
	}
	return strbuf_append_char(out, '"');
}

int
address_format(const struct address *addr, struct strbuf *out)
{
	if ((addr->flags & ADDRESS_FLAG_NULL) != 0)
		return 0;
	if (address_quote_local(addr->local, addr->local_len, out) < 0)
		return -1;
	if (addr->domain_len == 0)
		return 0;
	if (strbuf_append_char(out, '@') < 0)
		return -1;
	return strbuf_append(out, addr->domain, addr->domain_len);
}
