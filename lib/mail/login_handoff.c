/*
 * login_handoff - passing an authenticated client connection from a
 * login process to a session process (see login_handoff.h). The line is
 * bounded (LOGIN_HANDOFF_MAX) and checked byte by byte; at most one fd is
 * accepted, any other received fd is closed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "mail/login_handoff.h"
#include "util/base64.h"
#include "util/strbuf.h"

static bool
value_ok(const char *v, size_t max)
{
	size_t len = strlen(v);

	return len <= max && strcspn(v, "\t\r\n") == len;
}

int
login_handoff_format(const struct login_handoff *h, struct strbuf *out,
		     const char **error_r)
{
	if (h->user[0] == '\0' || !value_ok(h->user, LOGIN_HANDOFF_VALUE_MAX) ||
	    !value_ok(h->service, sizeof(h->service) - 1) ||
	    !value_ok(h->rip, sizeof(h->rip) - 1) ||
	    !value_ok(h->lip, sizeof(h->lip) - 1) ||
	    !value_ok(h->mech, sizeof(h->mech) - 1) ||
	    !value_ok(h->tag, sizeof(h->tag) - 1) ||
	    strchr(h->tag, ' ') != NULL ||
	    h->input_len > sizeof(h->input)) {
		*error_r = "handoff: invalid value";
		return -1;
	}
	if (strbuf_printf(out,
			  "HANDOFF 1\tuser=%s\tservice=%s\trip=%s\tlip=%s\t"
			  "rport=%u\tlport=%u\ttls=%d\tmech=%s\n",
			  h->user, h->service, h->rip, h->lip, h->rport,
			  h->lport, h->tls ? 1 : 0, h->mech) < 0) {
		*error_r = "handoff: line too long";
		return -1;
	}
	/* The optional fields go before the LF that ends the line. */
	strbuf_truncate(out, out->len - 1);
	if ((h->tag[0] != '\0' && strbuf_printf(out, "\ttag=%s", h->tag) < 0) ||
	    (h->input_len > 0 &&
	     (strbuf_append_str(out, "\tinput=") < 0 ||
	      base64_encode(h->input, h->input_len, out) < 0)) ||
	    strbuf_append_char(out, '\n') < 0) {
		*error_r = "handoff: line too long";
		return -1;
	}
	return 0;
}

static int
set_input(struct login_handoff *h, const char *v, size_t len)
{
	struct strbuf sb;
	int ret = -1;

	strbuf_init(&sb, sizeof(h->input));
	if (base64_decode(v, len, 0, &sb) == 0) {
		if (sb.len > 0)
			memcpy(h->input, sb.data, sb.len);
		h->input_len = sb.len;
		ret = 0;
	}
	strbuf_release(&sb);
	return ret;
}

static int
set_str(char *dest, size_t size, const char *v, size_t len)
{
	if (len >= size)
		return -1;
	memcpy(dest, v, len);
	dest[len] = '\0';
	return 0;
}

static int
set_uint(unsigned int *dest, const char *v, size_t len, unsigned int max)
{
	unsigned long n = 0;

	if (len == 0 || len > 10)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		n = n * 10 + (unsigned long)(v[i] - '0');
	}
	if (n > max)
		return -1;
	*dest = (unsigned int)n;
	return 0;
}

int
login_handoff_parse(const char *line, size_t len, struct login_handoff *h_r,
		    const char **error_r)
{
	static const char prefix[] = "HANDOFF 1";
	const char *p = line + sizeof(prefix) - 1, *end = line + len;

	memset(h_r, 0, sizeof(*h_r));
	if (len < sizeof(prefix) - 1 ||
	    memcmp(line, prefix, sizeof(prefix) - 1) != 0 ||
	    memchr(line, '\0', len) != NULL || memchr(line, '\r', len) != NULL ||
	    memchr(line, '\n', len) != NULL) {
		*error_r = "handoff: malformed line";
		return -1;
	}
	while (p < end) {
		const char *field, *eq, *next;
		size_t klen, vlen;
		unsigned int tls = 0;
		int ret = 0;

		if (*p != '\t') {
			*error_r = "handoff: malformed line";
			return -1;
		}
		field = p + 1;
		next = memchr(field, '\t', (size_t)(end - field));
		if (next == NULL)
			next = end;
		eq = memchr(field, '=', (size_t)(next - field));
		if (eq == NULL) {
			*error_r = "handoff: field without '='";
			return -1;
		}
		klen = (size_t)(eq - field);
		vlen = (size_t)(next - eq - 1);
		eq++;
#define KEY(k) (klen == sizeof(k) - 1 && memcmp(field, k, klen) == 0)
		if (KEY("user"))
			ret = set_str(h_r->user, sizeof(h_r->user), eq, vlen);
		else if (KEY("service"))
			ret = set_str(h_r->service, sizeof(h_r->service), eq,
				      vlen);
		else if (KEY("rip"))
			ret = set_str(h_r->rip, sizeof(h_r->rip), eq, vlen);
		else if (KEY("lip"))
			ret = set_str(h_r->lip, sizeof(h_r->lip), eq, vlen);
		else if (KEY("mech"))
			ret = set_str(h_r->mech, sizeof(h_r->mech), eq, vlen);
		else if (KEY("tag")) {
			ret = set_str(h_r->tag, sizeof(h_r->tag), eq, vlen);
			if (ret == 0 && strchr(h_r->tag, ' ') != NULL)
				ret = -1;
		} else if (KEY("input"))
			ret = set_input(h_r, eq, vlen);
		else if (KEY("rport"))
			ret = set_uint(&h_r->rport, eq, vlen, 65535);
		else if (KEY("lport"))
			ret = set_uint(&h_r->lport, eq, vlen, 65535);
		else if (KEY("tls")) {
			ret = set_uint(&tls, eq, vlen, 1);
			h_r->tls = tls == 1;
		}
#undef KEY
		if (ret < 0) {
			*error_r = "handoff: bad value";
			return -1;
		}
		p = next;
	}
	if (h_r->user[0] == '\0') {
		*error_r = "handoff: no user";
		return -1;
	}
	return 0;
}

int
login_handoff_send(int sock, int client_fd, const struct login_handoff *h,
		   const char **error_r)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} cmsg;
	struct strbuf line;
	size_t off = 0;

	strbuf_init(&line, LOGIN_HANDOFF_MAX - 1);
	if (login_handoff_format(h, &line, error_r) < 0) {
		strbuf_release(&line);
		return -1;
	}
	while (off < line.len) {
		struct iovec iov = {line.data + off, line.len - off};
		struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
		ssize_t n;

		if (off == 0) {
			memset(&cmsg, 0, sizeof(cmsg));
			msg.msg_control = cmsg.buf;
			msg.msg_controllen = sizeof(cmsg.buf);
			cmsg.hdr.cmsg_level = SOL_SOCKET;
			cmsg.hdr.cmsg_type = SCM_RIGHTS;
			cmsg.hdr.cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(&cmsg.hdr), &client_fd, sizeof(int));
		}
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error_r = "handoff: sendmsg failed";
			strbuf_release(&line);
			return -1;
		}
		off += (size_t)n;
	}
	strbuf_release(&line);
	return 0;
}

void
login_handoff_reader_init(struct login_handoff_reader *r)
{
	r->len = 0;
	r->fd = -1;
}

void
login_handoff_reader_clear(struct login_handoff_reader *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	r->len = 0;
}

/* Takes the fds of a control message: the first becomes r->fd if it has
 * none yet; every other one is closed. -1 when there were extra ones. */
static int
take_fds(struct login_handoff_reader *r, struct msghdr *msg)
{
	int ret = 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL;
	     c = CMSG_NXTHDR(msg, c)) {
		size_t n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (r->fd < 0) {
				r->fd = fd;
			} else {
				close(fd);
				ret = -1;
			}
		}
	}
	return ret;
}

int
login_handoff_read(int sock, struct login_handoff_reader *r,
		   struct login_handoff *h_r, int *client_fd_r,
		   const char **error_r)
{
	for (;;) {
		union {
			struct cmsghdr hdr;
			char buf[CMSG_SPACE(4 * sizeof(int))];
		} cmsg;
		struct iovec iov = {r->buf + r->len, sizeof(r->buf) - r->len};
		struct msghdr msg = {.msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = cmsg.buf,
				     .msg_controllen = sizeof(cmsg.buf)};
		ssize_t n;
		char *lf;

		if (r->len == sizeof(r->buf)) {
			*error_r = "handoff: line too long";
			return -1;
		}
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0) {
			*error_r = "handoff: recvmsg failed";
			return -1;
		}
		if (take_fds(r, &msg) < 0 || (msg.msg_flags & MSG_CTRUNC) != 0) {
			*error_r = "handoff: more than one fd";
			return -1;
		}
		if (n == 0) {
			*error_r = "handoff: EOF before the end of the line";
			return -1;
		}
		r->len += (size_t)n;
		lf = memchr(r->buf, '\n', r->len);
		if (lf == NULL)
			continue;
		if ((size_t)(lf - r->buf) + 1 != r->len) {
			*error_r = "handoff: data after the line";
			return -1;
		}
		if (r->fd < 0) {
			*error_r = "handoff: no fd passed";
			return -1;
		}
		if (login_handoff_parse(r->buf, (size_t)(lf - r->buf), h_r,
					error_r) < 0)
			return -1;
		*client_fd_r = r->fd;
		r->fd = -1;
		return 1;
	}
}

int
login_handoff_peer_uid(int sock, uid_t *uid_r)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -1;
	*uid_r = cred.uid;
	return 0;
}
