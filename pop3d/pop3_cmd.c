/*
 * pop3_cmd - the TRANSACTION-state commands of RFC 1939 (STAT, LIST, RETR,
 * DELE, NOOP, RSET, QUIT, TOP, UIDL) and CAPA (RFC 2449). Arguments come
 * from the client (untrusted, already bounded and free of control bytes
 * by pop3_parse_command); replies use Dovecot's wording where clients or
 * admins may see a difference. Messages are streamed from their files
 * through pop3_body_writer (CRLF, dot-stuffing, TOP's line limit), never
 * read whole into memory.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mail/mail_params.h"
#include "mail/mailbox.h"
#include "mail/pop3_proto.h"
#include "mail/pop3_uidl.h"
#include "pop3d.h"
#include "util/log.h"
#include "util/xmem.h"

#define POP3_UIDL_MAX 256
/* How much of a message's header pop3_reuse_xuidl reads. */
#define POP3_XUIDL_HEADER_MAX (64 * 1024)

/* RFC 2449 capabilities after login; Dovecot 2.3's list (the login
 * process adds STLS, USER and SASL before authentication). */
static const char *const pop3_caps[] = {
    "CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE",
};

/* Message number argument -> index; replies itself on errors. */
static int
get_msgnum(struct pop3_client *c, const char *arg, size_t *idx_r)
{
	uint32_t n;

	if (arg == NULL || arg[0] < '0' || arg[0] > '9') {
		pop3_reply(c, "-ERR Invalid message number: %s",
			   arg != NULL ? arg : "");
		return -1;
	}
	if (pop3_parse_number(arg, &n) < 0) {
		if (strspn(arg, "0123456789") != strlen(arg))
			pop3_reply(c, "-ERR Invalid message number: %s", arg);
		else if (strspn(arg, "0") == strlen(arg))
			pop3_reply(c, "-ERR There's no message 0.");
		else
			pop3_reply(c, "-ERR Message number too large: %s", arg);
		return -1;
	}
	if (n > c->count) {
		pop3_reply(c, "-ERR There's no message %u.", n);
		return -1;
	}
	if (c->deleted[n - 1]) {
		pop3_reply(c, "-ERR Message is deleted.");
		return -1;
	}
	*idx_r = n - 1;
	return 0;
}

/* A TOP line count: decimal, any size (beyond the message: all of it). */
static int
get_lines(struct pop3_client *c, const char *arg, long long *lines_r)
{
	unsigned long long n = 0;

	if (arg == NULL || arg[0] < '0' || arg[0] > '9' ||
	    strspn(arg, "0123456789") != strlen(arg)) {
		pop3_reply(c, "-ERR Invalid size: %s", arg != NULL ? arg : "");
		return -1;
	}
	for (; *arg != '\0'; arg++) {
		n = n * 10 + (unsigned long long)(*arg - '0');
		if (n > (unsigned long long)1 << 62)
			n = (unsigned long long)1 << 62;
	}
	*lines_r = (long long)n;
	return 0;
}

static int
no_more_args(struct pop3_client *c, const struct pop3_command *cmd,
	     unsigned int max)
{
	if (cmd->argc > max) {
		pop3_reply(c, "-ERR Noise after message number: %s",
			   cmd->args[max]);
		return -1;
	}
	return 0;
}

/* RETR (lines < 0) or TOP. */
static int
send_message(struct pop3_client *c, size_t idx, long long lines,
	     uint64_t *counter)
{
	struct pop3_body_writer w;
	const char *error;
	bool expunged;
	char buf[8192];
	int fd;

	if (mailbox_msg_open(c->box, idx, &fd, &expunged, &error) < 0) {
		if (expunged) {
			/* an IMAP session (or another POP3 one) removed it */
			pop3_reply(c, "-ERR Message %zu expunged.", idx + 1);
			return -1;
		}
		log_error("pop3(%s): %s", c->user, error);
		pop3_reply(c, "-ERR [SYS/TEMP] Internal error occurred. Refer "
			      "to server log for more information.");
		return -1;
	}
	if (lines < 0)
		pop3_reply(c, "+OK %llu octets",
			   (unsigned long long)c->sizes[idx]);
	else
		pop3_reply(c, "+OK");
	pop3_body_writer_init(&w, lines);
	while (!w.done) {
		ssize_t n = read(fd, buf, sizeof(buf));
		size_t before;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			/* +OK is out: all we can do is end the session */
			log_error("pop3(%s): read(%s): %s", c->user,
				  c->box->msgs[idx].filename, strerror(errno));
			close(fd);
			c->quit = true;
			c->reason = "Message read failed";
			return 0;
		}
		if (n == 0)
			break;
		/* the buffer holds at most POP3D_OUT_FLUSH before this and
		 * a chunk grows at most twofold: it fits */
		before = c->out.len;
		if (pop3_body_writer_feed(&w, buf, (size_t)n, &c->out) < 0)
			log_panic("pop3: output buffer too small");
		*counter += c->out.len - before;
		if (c->out.len >= POP3D_OUT_FLUSH && pop3_flush(c) < 0)
			break;
	}
	close(fd);
	if (pop3_body_writer_finish(&w, &c->out) < 0)
		log_panic("pop3: output buffer too small");
	return 0;
}

/* pop3_reuse_xuidl: the message's first X-UIDL: header (unfolded,
 * trimmed), or NULL. Dovecot takes the header as it is; we also require
 * RFC 1939's unique-id syntax (1-70 of 0x21-0x7E), so a bad header falls
 * back to pop3_uidl_format instead of breaking the UIDL listing. Reads
 * at most POP3_XUIDL_HEADER_MAX bytes of header. */
static char *
xuidl_lookup(struct pop3_client *c, size_t i)
{
	struct strbuf hdr, val;
	const char *error, *p, *end;
	char buf[4096];
	bool found = false;
	char *result = NULL;
	int fd;

	if (mailbox_msg_open(c->box, i, &fd, NULL, &error) < 0)
		return NULL; /* the file is gone: RETR will say so */
	strbuf_init(&hdr, POP3_XUIDL_HEADER_MAX);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || strbuf_append(&hdr, buf, (size_t)n) < 0 ||
		    memmem(hdr.data, hdr.len, "\n\n", 2) != NULL ||
		    memmem(hdr.data, hdr.len, "\n\r\n", 3) != NULL)
			break;
	}
	close(fd);
	strbuf_init(&val, POP3_UIDL_MAX);
	p = hdr.data != NULL ? hdr.data : "";
	end = p + hdr.len;
	while (p < end && *p != '\n' && *p != '\r') {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol != NULL ? eol + 1 : end;

		if (found && (*p == ' ' || *p == '\t')) {
			/* a continuation of X-UIDL: unfold */
			(void)strbuf_append(&val, p, (size_t)(next - p));
		} else if (found) {
			break;
		} else if (next - p > 7 && strncasecmp(p, "X-UIDL:", 7) == 0) {
			found = true;
			(void)strbuf_append(&val, p + 7,
					    (size_t)(next - p - 7));
		}
		p = next;
	}
	strbuf_release(&hdr);
	if (found) {
		const char *v = strbuf_cstr(&val), *ve;
		bool ok = true;

		v += strspn(v, " \t\r\n");
		ve = v + strlen(v);
		while (ve > v && strchr(" \t\r\n", ve[-1]) != NULL)
			ve--;
		if (ve == v || ve - v > 70)
			ok = false;
		for (const char *q = v; ok && q < ve; q++) {
			if (*q < 0x21 || *q > 0x7e)
				ok = false;
		}
		if (ok)
			result = xstrndup(v, (size_t)(ve - v));
	}
	strbuf_release(&val);
	return result;
}

const char *
pop3_cmd_uidl(struct pop3_client *c, size_t i)
{
	const struct mailbox_msg *msg = &c->box->msgs[i];
	struct pop3_uidl_vars vars;
	struct strbuf sb;
	const char *error;
	char *base;

	if (c->uidls == NULL)
		c->uidls = xcalloc(c->count + 1, sizeof(*c->uidls));
	if (c->uidls[i] != NULL)
		return c->uidls[i];
	if (msg->pop3_uidl != NULL) {
		/* a saved UIDL wins over pop3_uidl_format, as in Dovecot; an
		 * empty "P" is Dovecot's short form for the file's base name
		 * (what it writes when pop3_uidl_format = %f saved it) */
		c->uidls[i] =
		    msg->pop3_uidl[0] != '\0'
			? xstrdup(msg->pop3_uidl)
			: xstrndup(msg->filename, strcspn(msg->filename, ":"));
		return c->uidls[i];
	}
	if (var_pop3_reuse_xuidl && (c->uidls[i] = xuidl_lookup(c, i)) != NULL)
		goto save;
	base = xstrndup(msg->filename, strcspn(msg->filename, ":"));
	vars = (struct pop3_uidl_vars){
	    .uid = msg->uid,
	    .uid_validity = c->box->uid_validity,
	    .file_base = base,
	};
	strbuf_init(&sb, POP3_UIDL_MAX);
	if (pop3_uidl_expand(var_pop3_uidl_format, &vars, &sb, &error) < 0 ||
	    sb.len == 0) {
		log_error("pop3(%s): pop3_uidl_format: %s", c->user,
			  sb.len == 0 ? "empty UIDL" : error);
		strbuf_release(&sb);
		xfree(&base);
		return NULL;
	}
	xfree(&base);
	c->uidls[i] = strbuf_steal(&sb);
save:
	if (var_pop3_save_uidl &&
	    strcspn(c->uidls[i], " \t") == strlen(c->uidls[i])) {
		if (c->uidl_save == NULL)
			c->uidl_save =
			    xcalloc(c->count + 1, sizeof(*c->uidl_save));
		c->uidl_save[i] = true;
	}
	return c->uidls[i];
}

static int
cmd_uidl(struct pop3_client *c, const struct pop3_command *cmd)
{
	const char *uidl;
	size_t idx;

	if (cmd->argc > 0) {
		if (no_more_args(c, cmd, 1) < 0 ||
		    get_msgnum(c, cmd->args[0], &idx) < 0)
			return -1;
		if ((uidl = pop3_cmd_uidl(c, idx)) == NULL)
			goto fail;
		pop3_reply(c, "+OK %zu %s", idx + 1, uidl);
		return 0;
	}
	/* all UIDLs first: a failure must not leave a half list */
	for (size_t i = 0; i < c->count; i++) {
		if (!c->deleted[i] && pop3_cmd_uidl(c, i) == NULL)
			goto fail;
	}
	pop3_reply(c, "+OK");
	for (size_t i = 0; i < c->count; i++) {
		if (!c->deleted[i])
			pop3_reply(c, "%zu %s", i + 1, c->uidls[i]);
	}
	pop3_reply(c, ".");
	return 0;
fail:
	pop3_reply(c, "-ERR [SYS/TEMP] Internal error occurred. Refer to "
		      "server log for more information.");
	c->quit = true;
	c->reason = "POP3 UIDLs couldn't be listed";
	return -1;
}

static int
cmd_list(struct pop3_client *c, const struct pop3_command *cmd)
{
	size_t idx;

	if (cmd->argc > 0) {
		if (no_more_args(c, cmd, 1) < 0 ||
		    get_msgnum(c, cmd->args[0], &idx) < 0)
			return -1;
		pop3_reply(c, "+OK %zu %llu", idx + 1,
			   (unsigned long long)c->sizes[idx]);
		return 0;
	}
	pop3_reply(c, "+OK %zu messages:", c->count - c->deleted_count);
	for (size_t i = 0; i < c->count; i++) {
		if (!c->deleted[i])
			pop3_reply(c, "%zu %llu", i + 1,
				   (unsigned long long)c->sizes[i]);
	}
	pop3_reply(c, ".");
	return 0;
}

int
pop3_cmd_run(struct pop3_client *c, char *line, size_t len)
{
	struct pop3_command cmd;
	const char *error;
	long long lines;
	size_t idx;

	if (pop3_parse_command(line, len, &cmd, &error) < 0) {
		pop3_reply(c, "-ERR Invalid command: %s.", error);
		return -1;
	}
	switch (cmd.cmd) {
	case POP3_CMD_CAPA:
		pop3_reply(c, "+OK");
		for (size_t i = 0; i < sizeof(pop3_caps) / sizeof(*pop3_caps);
		     i++)
			pop3_reply(c, "%s", pop3_caps[i]);
		pop3_reply(c, ".");
		return 0;
	case POP3_CMD_STAT:
		pop3_reply(
		    c, "+OK %zu %llu", c->count - c->deleted_count,
		    (unsigned long long)(c->total_size - c->deleted_size));
		return 0;
	case POP3_CMD_LIST:
		return cmd_list(c, &cmd);
	case POP3_CMD_UIDL:
		return cmd_uidl(c, &cmd);
	case POP3_CMD_RETR:
		if (no_more_args(c, &cmd, 1) < 0 ||
		    get_msgnum(c, cmd.args[0], &idx) < 0)
			return -1;
		c->retr_count++;
		if (send_message(c, idx, -1, &c->retr_bytes) < 0)
			return -1;
		if (strchr(mailbox_msg_flags(&c->box->msgs[idx]), 'S') == NULL)
			c->seen[idx] = true;
		return 0;
	case POP3_CMD_TOP:
		if (get_msgnum(c, cmd.args[0], &idx) < 0 ||
		    get_lines(c, cmd.argc > 1 ? cmd.args[1] : NULL, &lines) < 0)
			return -1;
		c->top_count++;
		return send_message(c, idx, lines, &c->top_bytes);
	case POP3_CMD_DELE:
		if (no_more_args(c, &cmd, 1) < 0 ||
		    get_msgnum(c, cmd.args[0], &idx) < 0)
			return -1;
		c->deleted[idx] = true;
		c->deleted_count++;
		c->deleted_size += c->sizes[idx];
		pop3_reply(c, "+OK Marked to be deleted.");
		return 0;
	case POP3_CMD_NOOP:
		pop3_reply(c, "+OK");
		return 0;
	case POP3_CMD_RSET:
		/* unmarks deletions and, as Dovecot does, forgets the
		 * \Seen flags RETR would have set */
		memset(c->deleted, 0, c->count * sizeof(*c->deleted));
		memset(c->seen, 0, c->count * sizeof(*c->seen));
		c->deleted_count = 0;
		c->deleted_size = 0;
		pop3_reply(c, "+OK");
		return 0;
	case POP3_CMD_QUIT:
		pop3_update(c);
		return 0;
	case POP3_CMD_USER:
	case POP3_CMD_PASS:
	case POP3_CMD_APOP:
	case POP3_CMD_AUTH:
	case POP3_CMD_STLS:
		/* AUTHORIZATION-state commands (RFC 1939, 2595, 5034) */
		pop3_reply(c, "-ERR Already logged in.");
		return -1;
	case POP3_CMD_UNKNOWN:
		break;
	}
	pop3_reply(c, "-ERR Unknown command: %s", cmd.keyword);
	return -1;
}
