/*
 * client - the command loop of one authenticated IMAP client: reading
 * command lines and literals through mail/imap_parse.h, dispatching to the
 * modules' command tables (imapd.h), the state checks (the output queue
 * is client_out.c), the inactivity timeout, and the commands of no
 * module in particular: CAPABILITY NOOP LOGOUT ID ENABLE NAMESPACE CHECK
 * IDLE (and BAD for LOGIN/AUTHENTICATE/STARTTLS after login).
 *
 * Trust: every byte read from the client is untrusted. Lines are bounded
 * by imap_max_line_length, in-memory literals and whole commands by the
 * parser limits below, a streamed literal (APPEND) by message_size_limit;
 * a too-long line is discarded as it arrives, never buffered. Runs on the
 * session's own thread as the mail user; all state is in struct client
 * (no static mutable data). The fds are blocking when handed over; this
 * file sets O_NONBLOCK for the session and waits with poll() so that every
 * read and write has a timeout, and restores the flags at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client_private.h"
#include "imapd.h"
#include "login/session_host.h"
#include "mail/imap_write.h"
#include "mail/mail_params.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmem.h"

/*
 * Limits. A line is at most imap_max_line_length bytes (Dovecot's
 * setting, default 64 KiB). A literal kept in memory (a SEARCH string, a
 * mailbox name) is at most that long too, and a whole command (lines and
 * in-memory literals) at most twice that: like Dovecot, only APPEND's
 * message may be bigger, and it is streamed to disk. The streamed literal
 * is bounded by message_size_limit, or 1 GiB when that is 0 ("none").
 */
#define CLIENT_INBUF_INITIAL 4096
#define CLIENT_STREAM_LITERAL_CAP (1ULL << 30)
#define CLIENT_MAX_DEPTH 64
#define CLIENT_MAX_ARGS 10000
/* As Dovecot (CLIENT_MAX_BAD_COMMANDS): a client that keeps sending
 * garbage is not worth serving. */
#define CLIENT_MAX_BAD_COMMANDS 20


struct client *
client_of(struct imap_client *c)
{
	/* every imap_client is the first member of a struct client */
	return (struct client *)c;
}

int64_t
client_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
client_set_end(struct client *cl, enum client_end end)
{
	if (cl->end == END_NONE)
		cl->end = end;
	cl->c.disconnect = true;
}

const char *
client_capabilities(const struct imap_client *c)
{
	/* c is const for callers; the text lives in the client */
	struct client *cl = client_of((struct imap_client *)c);

	snprintf(cl->caps, sizeof(cl->caps),
		 "IMAP4rev1 IMAP4rev2 LITERAL+ ENABLE IDLE UIDPLUS MOVE "
		 "NAMESPACE ID UNSELECT CHILDREN LIST-EXTENDED LIST-STATUS "
		 "SPECIAL-USE CREATE-SPECIAL-USE ESEARCH SEARCHRES SORT "
		 "THREAD=REFERENCES "
		 "THREAD=ORDEREDSUBJECT CONDSTORE QRESYNC BINARY "
		 "APPENDLIMIT=%llu QUOTA QUOTA=RES-STORAGE%s UTF8=ACCEPT",
		 (unsigned long long)cl->limits.max_stream_literal,
		 imap_quota_has_messages(c) ? " QUOTA=RES-MESSAGE" : "");
	return cl->caps;
}

/*
 * Input
 */

/* Waits until in_fd (or extra_fd) is readable, the stop fd fires or
 * timeout_ms passes. Returns a mask: 1 in_fd, 2 extra_fd; 0 timeout;
 * -1 stopping or a poll error (cl->end set). Queued output is written
 * first: whoever waits for the client has said what it had to say. */
int
client_wait(struct client *cl, int extra_fd, int timeout_ms)
{
	struct pollfd pfd[3];
	nfds_t n = 0;
	int ret, mask = 0;
	int stop_idx = -1, extra_idx = -1;

	if (client_flush(&cl->c) < 0)
		return -1;
	pfd[n++] = (struct pollfd){.fd = cl->in_fd, .events = POLLIN};
	if (extra_fd >= 0) {
		extra_idx = (int)n;
		pfd[n++] = (struct pollfd){.fd = extra_fd, .events = POLLIN};
	}
	if (cl->stop_fd >= 0) {
		stop_idx = (int)n;
		pfd[n++] = (struct pollfd){.fd = cl->stop_fd, .events = POLLIN};
	}
	ret = poll(pfd, n, timeout_ms < 0 ? 0 : timeout_ms);
	if (ret < 0) {
		if (errno == EINTR)
			return 0;
		log_error("imap(%s): poll: %s", cl->c.user, strerror(errno));
		client_set_end(cl, END_INTERNAL);
		return -1;
	}
	if ((stop_idx >= 0 && (pfd[stop_idx].revents & POLLIN) != 0) ||
	    session_host_stopping()) {
		client_send_line(&cl->c, "* BYE Server shutting down.");
		(void)client_flush(&cl->c);
		client_set_end(cl, END_STOP);
		return -1;
	}
	if (pfd[0].revents != 0)
		mask |= 1;
	if (extra_idx >= 0 && pfd[extra_idx].revents != 0)
		mask |= 2;
	return mask;
}

/* Milliseconds until the inactivity timeout (<= 0: passed). */
int64_t
client_idle_left(const struct client *cl)
{
	return cl->last_input_ms + var_imap_client_timeout * 1000LL - client_now_ms();
}

void
client_timed_out(struct client *cl)
{
	client_send_line(&cl->c, "* BYE Disconnected for inactivity.");
	(void)client_flush(&cl->c);
	client_set_end(cl, END_TIMEOUT);
}

/* Makes room for more input at in_end. */
static void
client_make_room(struct client *cl)
{
	if (cl->in_start == cl->in_end) {
		cl->in_start = cl->in_end = 0;
	} else if (cl->in_start > 0) {
		memmove(cl->in, cl->in + cl->in_start,
			cl->in_end - cl->in_start);
		cl->in_end -= cl->in_start;
		cl->in_start = 0;
	}
	if (cl->in_end == cl->in_size && cl->in_size < cl->in_max) {
		size_t size = cl->in_size * 2;

		if (size > cl->in_max)
			size = cl->in_max;
		cl->in = xrealloc(cl->in, size);
		cl->in_size = size;
	}
}

/* One read() of what is there. 1 data, 0 nothing yet, -1 EOF or error
 * (cl->end set). */
int
client_read_some(struct client *cl)
{
	ssize_t n;

	client_make_room(cl);
	if (cl->in_end == cl->in_size)
		log_panic("client_read_some: input buffer full");
	n = read(cl->in_fd, cl->in + cl->in_end, cl->in_size - cl->in_end);
	if (n > 0) {
		cl->in_end += (size_t)n;
		cl->bytes_in += (unsigned long long)n;
		cl->last_input_ms = client_now_ms();
		cl->c.last_input = time(NULL);
		return 1;
	}
	if (n < 0 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	client_set_end(cl, END_EOF);
	return -1;
}

/* Blocks until more input arrived: 0, or -1 (EOF, timeout, stop). */
static int
client_fill(struct client *cl)
{
	for (;;) {
		int64_t left = client_idle_left(cl);
		int r;

		if (left <= 0) {
			client_timed_out(cl);
			return -1;
		}
		r = client_wait(cl, -1, left > 60000 ? 60000 : (int)left);
		if (r < 0)
			return -1;
		if ((r & 1) == 0)
			continue;
		r = client_read_some(cl);
		if (r < 0)
			return -1;
		if (r > 0)
			return 0;
	}
}

static void
client_keep_tail(struct client *cl, const char *data, size_t len)
{
	size_t keep = sizeof(cl->tail);

	if (len >= keep) {
		memcpy(cl->tail, data + len - keep, keep);
		cl->tail_len = keep;
		return;
	}
	if (cl->tail_len + len > keep) {
		size_t drop = cl->tail_len + len - keep;

		memmove(cl->tail, cl->tail + drop, cl->tail_len - drop);
		cl->tail_len -= drop;
	}
	memcpy(cl->tail + cl->tail_len, data, len);
	cl->tail_len += len;
}

/* True when the discarded line ended in a non-synchronising literal
 * announcement "{N+}": its bytes follow unasked and cannot be framed. */
static bool
client_tail_nonsync_literal(const struct client *cl)
{
	size_t i = cl->tail_len;

	if (i > 0 && cl->tail[i - 1] == '\r')
		i--;
	if (i < 4 || cl->tail[i - 1] != '}' || cl->tail[i - 2] != '+')
		return false;
	i -= 2;
	if (i == 0 || cl->tail[i - 1] < '0' || cl->tail[i - 1] > '9')
		return false;
	while (i > 0 && cl->tail[i - 1] >= '0' && cl->tail[i - 1] <= '9')
		i--;
	return i > 0 && cl->tail[i - 1] == '{';
}

/*
 * The next line (CRLF or bare LF removed) in *line_r, valid until the next
 * read. LINE_OK; LINE_TOOLONG when it was over imap_max_line_length (it
 * was discarded); LINE_MORE when block is false and no full line is
 * buffered; LINE_END when the client went away (cl->end set).
 */
int
client_line(struct client *cl, bool block, const char **line_r, size_t *len_r)
{
	for (;;) {
		char *start = cl->in + cl->in_start;
		size_t avail = cl->in_end - cl->in_start;
		char *nl = memchr(start, '\n', avail);

		if (nl != NULL) {
			size_t len = (size_t)(nl - start);

			cl->in_start += len + 1;
			if (cl->discarding) {
				client_keep_tail(cl, start, len);
				cl->discarding = false;
				return LINE_TOOLONG;
			}
			if (len > 0 && start[len - 1] == '\r')
				len--;
			if (len > cl->limits.max_line) {
				cl->tail_len = 0;
				client_keep_tail(cl, start, len);
				return LINE_TOOLONG;
			}
			*line_r = start;
			*len_r = len;
			return LINE_OK;
		}
		if (cl->discarding || avail > cl->limits.max_line + 1) {
			if (!cl->discarding)
				cl->tail_len = 0;
			client_keep_tail(cl, start, avail);
			cl->discarding = true;
			cl->in_start = cl->in_end = 0;
		}
		if (!block)
			return LINE_MORE;
		if (client_fill(cl) < 0)
			return LINE_END;
	}
}

/* Reads size bytes of a literal, handing them to fn while it returns
 * >= 0. 0, -1 when the client went away, -2 when fn failed (the bytes
 * were still read). */
static int
client_read_bytes(struct client *cl, uint64_t size,
		  int (*fn)(void *ctx, const void *data, size_t len), void *ctx)
{
	bool failed = false;

	while (size > 0) {
		size_t n = cl->in_end - cl->in_start;

		if (n == 0) {
			if (client_fill(cl) < 0)
				return -1;
			continue;
		}
		if (n > size)
			n = (size_t)size;
		if (!failed && fn != NULL &&
		    fn(ctx, cl->in + cl->in_start, n) < 0)
			failed = true;
		cl->in_start += n;
		size -= n;
	}
	return failed ? -2 : 0;
}

/* The rest of the command line after a streamed literal: only spaces may
 * follow (we offer no MULTIAPPEND). */
static int
client_literal_rest(struct client *cl)
{
	const char *line;
	size_t len, i;
	int r = client_line(cl, true, &line, &len);

	if (r == LINE_END)
		return -1;
	if (r == LINE_OK) {
		for (i = 0; i < len && line[i] == ' '; i++)
			;
		if (i == len)
			return 0;
	}
	client_send_line(&cl->c, "* BYE Unexpected input after the literal "
				 "(MULTIAPPEND is not supported).");
	client_set_end(cl, END_FATAL);
	return -1;
}

int
client_read_literal(struct imap_client *c, uint64_t size, bool sync,
		    int (*fn)(void *ctx, const void *data, size_t len),
		    void *ctx)
{
	struct client *cl = client_of(c);
	int r;

	(void)sync; /* the loop knows how the literal was announced */
	if (c->disconnect)
		return -1;
	if (!cl->lit_pending || cl->lit_started || size != cl->lit_size) {
		log_error("imap(%s): %s: client_read_literal() without a "
			  "streamed literal of %llu bytes pending",
			  c->user, c->cmd_name, (unsigned long long)size);
		client_set_end(cl, END_INTERNAL);
		return -1;
	}
	cl->lit_started = true;
	if (cl->lit_sync) {
		client_send_raw(c, "+ OK\r\n", 6);
		if (client_flush(c) < 0)
			return -1;
	}
	r = client_read_bytes(cl, cl->lit_size, fn, ctx);
	if (r == -1)
		return -1;
	if (client_literal_rest(cl) < 0)
		return -1;
	cl->lit_done = true;
	return r < 0 ? -1 : 0;
}

/* After a command with a streamed literal: if the command did not read
 * it, drop the bytes that come anyway (non-synchronising), and the rest
 * of the line. A synchronising literal that got no "+ OK" never comes. */
static void
client_literal_cleanup(struct client *cl)
{
	if (!cl->lit_pending || cl->lit_done || cl->c.disconnect)
		return;
	if (cl->lit_sync && !cl->lit_started)
		return;
	if (client_read_bytes(cl, cl->lit_size, NULL, NULL) < 0)
		return;
	(void)client_literal_rest(cl);
}

static int
client_parser_feed(void *ctx, const void *data, size_t len)
{
	size_t used;

	return imap_parser_feed_literal(ctx, data, len, &used) < 0 ? -1 : 0;
}

/*
 * Dispatch
 */

static const struct imap_command_def *const client_tables[] = {
    imap_cmds_client, imap_cmds_view,	imap_cmds_fetch,
    imap_cmds_save,   imap_cmds_search, imap_cmds_list,
};

static const struct imap_command_def *
client_find_command(const char *name)
{
	size_t t;

	for (t = 0; t < sizeof(client_tables) / sizeof(client_tables[0]); t++) {
		const struct imap_command_def *d;

		for (d = client_tables[t]; d->name != NULL; d++)
			if (strcasecmp(d->name, name) == 0)
				return d;
	}
	return NULL;
}

/* One more BAD reply in a row. */
static void
client_count_bad(struct client *cl)
{
	if (++cl->bad_commands >= CLIENT_MAX_BAD_COMMANDS &&
	    !cl->c.disconnect) {
		client_send_line(&cl->c,
				 "* BYE Too many invalid IMAP commands.");
		client_set_end(cl, END_BAD);
	}
}

static void
client_bad(struct client *cl, const char *tag, const char *text)
{
	client_send_line(&cl->c, "%s BAD %s", tag, text);
	client_count_bad(cl);
}

static void
client_parse_error(struct client *cl)
{
	const struct imap_parse_error *e = imap_parser_error(cl->c.parser);

	if (e->fatal) {
		client_send_line(&cl->c, "* BYE %s", e->text);
		client_set_end(cl, END_FATAL);
		return;
	}
	client_bad(cl, imap_parser_tag(cl->c.parser), e->text);
}

/* RFC 7889 (APPENDLIMIT): a message over the limit gets NO [TOOBIG];
 * a synchronising literal got no "+ OK", so no bytes come. */
static void
client_append_toobig(struct client *cl, bool sync, uint64_t size)
{
	const char *tag = imap_parser_tag(cl->c.parser);
	const char *line;
	size_t len;

	if (!sync) {
		if (client_read_bytes(cl, size, NULL, NULL) < 0)
			return;
		/* the rest of the command line */
		if (client_line(cl, true, &line, &len) == LINE_END)
			return;
	}
	client_send_line(&cl->c,
			 "%s NO [TOOBIG] Message size exceeds the limit "
			 "(APPENDLIMIT=%llu)",
			 tag,
			 (unsigned long long)cl->limits.max_stream_literal);
}

static void
client_too_long(struct client *cl)
{
	if (client_tail_nonsync_literal(cl)) {
		client_send_line(&cl->c, "* BYE [TOOBIG] Command line too "
					 "long.");
		client_set_end(cl, END_FATAL);
		return;
	}
	/* the tag went with the line */
	client_bad(cl, "*", "[TOOBIG] Command line too long.");
}

static void
client_run_command(struct client *cl, const struct imap_command *cmd)
{
	struct imap_client *c = &cl->c;
	const struct imap_command_def *def;
	const struct imap_arg *args = cmd->args;
	unsigned int count = cmd->count;

	c->tag = cmd->tag;
	c->cmd_name = cmd->name;
	c->uid_cmd = false;
	def = client_find_command(cmd->name);
	if (def == NULL && strcmp(cmd->name, "UID") == 0 && count > 0 &&
	    args[0].type == IMAP_ARG_ATOM &&
	    args[0].len <= IMAP_PARSE_NAME_MAX) {
		def = client_find_command(args[0].str);
		if (def != NULL && (def->flags & IMAP_CMD_UID) != 0) {
			size_t i;

			snprintf(cl->name_buf, sizeof(cl->name_buf), "UID %s",
				 args[0].str);
			for (i = 4; cl->name_buf[i] != '\0'; i++)
				if (cl->name_buf[i] >= 'a' &&
				    cl->name_buf[i] <= 'z')
					cl->name_buf[i] -= 'a' - 'A';
			c->cmd_name = cl->name_buf;
			c->uid_cmd = true;
			args++;
			count--;
		} else {
			def = NULL;
		}
	}
	if (def == NULL) {
		/* Dovecot's words */
		client_bad(cl, cmd->tag,
			   "Error in IMAP command received by server.");
		return;
	}
	if ((def->flags & IMAP_CMD_SELECTED) != 0 && c->view == NULL) {
		client_bad(cl, cmd->tag, "No mailbox selected.");
		return;
	}
	cl->def = def;
	cl->tagged_sent = false;
	cl->tagged_bad = false;
	cl->synced = false;
	cl->no_sync = false;
	cl->sync_flags = IMAP_SYNC_FAST;
	/* RFC 3501 7.4.1: no EXPUNGE during FETCH, STORE, SEARCH; their UID
	 * forms may have them */
	if ((def->flags & IMAP_CMD_NO_EXPUNGE) != 0 && !c->uid_cmd)
		cl->sync_flags |= IMAP_SYNC_NO_EXPUNGE;
	def->fn(c, args, count);
	if (!cl->tagged_sent && !c->disconnect) {
		log_error("imap(%s): %s: the command sent no tagged reply",
			  c->user, c->cmd_name);
		client_send_tagged(c, "NO",
				   "[SERVERBUG] Internal error occurred. "
				   "Refer to server log for more information.");
	}
	/* a run of BAD replies (bad arguments too) counts; any other
	 * reply ends it */
	if (cl->tagged_bad)
		client_count_bad(cl);
	else
		cl->bad_commands = 0;
	c->state = c->view != NULL ? IMAP_STATE_SELECTED : IMAP_STATE_AUTH;
	if (cl->end == END_LOGOUT)
		c->state = IMAP_STATE_LOGOUT;
}

/* True when the first argument of a command line is a literal
 * ("tag APPEND {5}"): APPEND's mailbox name, not its message. */
static bool
client_first_arg_literal(const char *line, size_t len)
{
	size_t i = 0;
	int word;

	for (word = 0; word < 2; word++) {
		while (i < len && line[i] != ' ')
			i++;
		while (i < len && line[i] == ' ')
			i++;
	}
	if (i < len && line[i] == '~')
		i++;
	return i < len && line[i] == '{';
}

/* An idle session keeps only a small input buffer. */
static void
client_trim_input(struct client *cl)
{
	if (cl->in_start == cl->in_end && cl->in_size > CLIENT_INBUF_INITIAL) {
		xfree(&cl->in);
		cl->in = xmalloc(CLIENT_INBUF_INITIAL);
		cl->in_size = CLIENT_INBUF_INITIAL;
		cl->in_start = cl->in_end = 0;
	}
}

/* Reads, parses and runs one command. Returns -1 when the session ends. */
static int
client_command(struct client *cl)
{
	struct imap_client *c = &cl->c;
	struct imap_parser *p = c->parser;
	enum imap_parse_result r;
	const char *line;
	size_t len;
	int lr;
	bool first_literal = true, mailbox_literal;

	cl->lit_pending = cl->lit_started = cl->lit_done = false;
	client_trim_input(cl);
	lr = client_line(cl, true, &line, &len);
	if (lr == LINE_END)
		return -1;
	if (lr == LINE_TOOLONG) {
		client_too_long(cl);
		return c->disconnect ? -1 : 0;
	}
	mailbox_literal = client_first_arg_literal(line, len);
	r = imap_parser_feed_line(p, line, len);
	while (r == IMAP_PARSE_LITERAL) {
		const struct imap_literal_info *lit = imap_parser_literal(p);
		const struct imap_command_def *def =
		    client_find_command(imap_parser_name(p));
		bool stream = !(first_literal && mailbox_literal);

		first_literal = false;
		if (def != NULL &&
		    (def->flags & IMAP_CMD_STREAM_LITERAL) != 0 && stream) {
			if (imap_parser_literal_streamed(p) == 0) {
				/* The command reads the bytes itself; what
				 * follows them ends the line
				 * (client_literal_rest()). */
				cl->lit_pending = true;
				cl->lit_sync = lit->sync;
				cl->lit_size = lit->size;
				r = imap_parser_feed_line(p, "", 0);
				break;
			}
			/* over message_size_limit but within max_literal:
			 * a LITERAL+ one is read away (at most max_literal
			 * bytes, the parser saw to that) */
			client_append_toobig(cl, lit->sync, lit->size);
			imap_parser_reset(p);
			return c->disconnect ? -1 : 0;
		}
		if (lit->must_stream) {
			if (!lit->sync) {
				client_send_line(c, "* BYE [TOOBIG] Literal "
						    "size too large");
				client_set_end(cl, END_FATAL);
				return -1;
			}
			client_bad(cl, imap_parser_tag(p),
				   "[TOOBIG] Literal size too large");
			imap_parser_reset(p);
			return c->disconnect ? -1 : 0;
		}
		if (lit->sync)
			client_send_raw(c, "+ OK\r\n", 6);
		if (client_read_bytes(cl, lit->size, client_parser_feed, p) !=
		    0) {
			imap_parser_reset(p);
			return -1;
		}
		lr = client_line(cl, true, &line, &len);
		if (lr == LINE_END) {
			imap_parser_reset(p);
			return -1;
		}
		if (lr == LINE_TOOLONG) {
			imap_parser_reset(p);
			client_too_long(cl);
			return c->disconnect ? -1 : 0;
		}
		r = imap_parser_feed_line(p, line, len);
	}
	if (r == IMAP_PARSE_ERROR)
		client_parse_error(cl);
	else
		client_run_command(cl, imap_parser_command(p));
	client_literal_cleanup(cl);
	c->tag = NULL;
	c->cmd_name = NULL;
	cl->def = NULL;
	imap_parser_reset(p);
	if (client_flush(c) < 0)
		return -1;
	return c->disconnect ? -1 : 0;
}

/*
 * The session
 */

static void
client_refuse(struct session *s)
{
	char buf[1024];
	int n;

	if (s->tag != NULL && s->tag[0] != '\0')
		/* RFC 5530: UNAVAILABLE for a subsystem that is down, LIMIT
		 * for an implementation limit (connections per user+IP) */
		n = snprintf(buf, sizeof(buf), "%s NO [%s] %s\r\n* BYE %s\r\n",
			     s->tag, s->refuse_temp ? "UNAVAILABLE" : "LIMIT",
			     s->refuse, s->refuse);
	else
		n = snprintf(buf, sizeof(buf), "* BYE %s\r\n", s->refuse);
	if (n > 0 && (size_t)n < sizeof(buf) &&
	    write(s->out_fd, buf, (size_t)n) < 0)
		log_info("imap(%s): Disconnected: %s",
			 s->user.name != NULL ? s->user.name : s->info.user,
			 strerror(errno));
}

static const char *
client_end_text(enum client_end end)
{
	switch (end) {
	case END_LOGOUT:
		return "Logged out";
	case END_TIMEOUT:
		return "Disconnected for inactivity";
	case END_STOP:
		return "Server shutting down";
	case END_WRITE:
		return "Connection closed (write failed or timed out)";
	case END_BAD:
		return "Too many invalid IMAP commands";
	case END_FATAL:
		return "Protocol error";
	case END_INTERNAL:
		return "Internal error";
	case END_EOF:
	case END_NONE:
		break;
	}
	return "Connection closed";
}

static void
client_init(struct client *cl, struct session *s)
{
	struct imap_client *c = &cl->c;
	uint64_t stream_max;

	cl->s = s;
	cl->in_fd = s->in_fd;
	cl->out_fd = s->out_fd;
	cl->stop_fd = session_host_stop_fd();
	cl->in_flags = fcntl(cl->in_fd, F_GETFL);
	cl->out_flags = fcntl(cl->out_fd, F_GETFL);
	if (cl->in_flags >= 0)
		(void)fcntl(cl->in_fd, F_SETFL, cl->in_flags | O_NONBLOCK);
	if (cl->out_fd != cl->in_fd && cl->out_flags >= 0)
		(void)fcntl(cl->out_fd, F_SETFL, cl->out_flags | O_NONBLOCK);
	{
		/* each command's reply already leaves in one write(); with
		   Nagle the reply to the second of two pipelined commands
		   (IDLE's DONE + NOOP, LOGIN + SELECT) waited for the
		   client's delayed ACK, 40 ms. Not a TCP socket (-P, a
		   TLS proxy's socketpair): ENOTSOCK/EOPNOTSUPP, ignored. */
		int one = 1;

		(void)setsockopt(cl->out_fd, IPPROTO_TCP, TCP_NODELAY, &one,
				 sizeof(one));
	}

	stream_max = var_message_size_limit > 0
			 ? (uint64_t)var_message_size_limit
			 : CLIENT_STREAM_LITERAL_CAP;
	if (stream_max > CLIENT_STREAM_LITERAL_CAP)
		stream_max = CLIENT_STREAM_LITERAL_CAP;
	cl->limits = (struct imap_parse_limits){
	    .max_line = (size_t)var_imap_max_line_length,
	    .max_literal = (uint64_t)var_imap_max_line_length,
	    .max_stream_literal = stream_max,
	    .max_command = 2 * (size_t)var_imap_max_line_length,
	    .max_depth = CLIENT_MAX_DEPTH,
	    .max_args = CLIENT_MAX_ARGS,
	    .flags = IMAP_PARSE_LITERAL_PLUS | IMAP_PARSE_LITERAL8,
	};
	/* a line, its LF and CR, and a little slack */
	cl->in_max = cl->limits.max_line + 64;
	cl->in_size = s->pending_len > CLIENT_INBUF_INITIAL
			  ? s->pending_len
			  : CLIENT_INBUF_INITIAL;
	if (cl->in_size > cl->in_max)
		cl->in_max = cl->in_size;
	cl->in = xmalloc(cl->in_size);
	if (s->pending_len > 0) {
		memcpy(cl->in, s->pending, s->pending_len);
		cl->in_end = s->pending_len;
		cl->bytes_in += s->pending_len;
	}
	cl->last_input_ms = client_now_ms();

	c->session = s;
	c->user = s->user.name != NULL ? s->user.name : s->info.user;
	c->state = IMAP_STATE_AUTH;
	c->parser = imap_parser_new(&cl->limits);
	strbuf_init(&c->out, STRBUF_UNLIMITED);
	imap_seqset_init(&c->saved);
	c->last_input = time(NULL);
}

static void
client_deinit(struct client *cl, bool folders)
{
	struct imap_client *c = &cl->c;

	if (c->view != NULL)
		imap_view_close(c);
	if (folders)
		imap_folders_deinit(c);
	imap_seqset_release(&c->saved);
	imap_parser_free(&c->parser);
	strbuf_release(&c->out);
	xfree(&cl->in);
	if (cl->in_flags >= 0)
		(void)fcntl(cl->in_fd, F_SETFL, cl->in_flags);
	if (cl->out_fd != cl->in_fd && cl->out_flags >= 0)
		(void)fcntl(cl->out_fd, F_SETFL, cl->out_flags);
}

void
imap_session_run(struct session *s)
{
	struct client *cl;
	struct imap_client *c;
	const char *error;
	bool tagged_login = s->tag != NULL && s->tag[0] != '\0';

	if (s->refuse != NULL) {
		client_refuse(s);
		return;
	}
	cl = xcalloc(1, sizeof(*cl));
	client_init(cl, s);
	c = &cl->c;
	if (imap_folders_init(c, &error) < 0) {
		log_error("imap(%s): %s", c->user, error);
		if (tagged_login)
			client_send_line(c,
					 "%s NO [SERVERBUG] Internal error "
					 "occurred. Refer to server log for "
					 "more information.",
					 s->tag);
		client_send_line(c, "* BYE Internal error");
		(void)client_flush(c);
		client_deinit(cl, false);
		xfree(&cl);
		return;
	}
	if (s->preauth)
		client_send_line(c, "* PREAUTH [CAPABILITY %s] Logged in as %s",
				 client_capabilities(c), c->user);
	else if (tagged_login)
		/* Dovecot's reply to the login command */
		client_send_line(c, "%s OK [CAPABILITY %s] Logged in", s->tag,
				 client_capabilities(c));
	while (client_command(cl) == 0)
		;
	(void)client_flush(c);
	log_info("imap(%s): Disconnected: %s in=%llu out=%llu", c->user,
		 client_end_text(cl->end), cl->bytes_in, cl->bytes_out);
	client_deinit(cl, true);
	xfree(&cl);
}
