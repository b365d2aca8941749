/*
 * pop3_session - one POP3 client after authentication (RFC 1939
 * TRANSACTION and UPDATE states), plain blocking code on its own thread
 * (lib/login/session_host.h): reads command lines with a hard length limit
 * and the idle timeout (pop3_client_timeout), writes through a bounded
 * buffer, opens INBOX (creating the Maildir as Dovecot does), holds
 * Dovecot's POP3 session lock when pop3_lock_session = yes, and applies
 * DELE only on QUIT: a dropped connection, a timeout or a server stop
 * deletes nothing. Client bytes are untrusted; the user name and the mail
 * location come from the session host (trusted).
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mail/dotlock.h"
#include "mail/mail_params.h"
#include "mail/mailbox.h"
#include "mail/maildir.h"
#include "mail/maildir_uidlist.h"
#include "mail/pop3_proto.h"
#include "pop3d.h"
#include "util/log.h"
#include "util/xmem.h"

/* Dovecot's POP3_LOCK_FNAME, in the mail root; our dotlock adds ".lock". */
#define POP3_SESSION_LOCK_BASE "dovecot-pop3-session"
/* Dovecot: wait 10 s for the lock, stale after 5 minutes, refreshed so
 * that a long session keeps it. */
#define POP3_SESSION_LOCK_TIMEOUT 10
#define POP3_SESSION_LOCK_STALE 300
#define POP3_SESSION_LOCK_TOUCH 60
/* Waiting for dovecot-uidlist.lock to save UIDLs at the end. */
#define POP3_UIDLIST_LOCK_TIMEOUT 30
#define POP3_OUT_MAX (256 * 1024)

/* Dovecot's MAIL_ERRSTR_CRITICAL_MSG. */
#define POP3_INTERNAL_ERROR                                                    \
	"-ERR [SYS/TEMP] Internal error occurred. Refer to server log for "    \
	"more information."

enum read_result {
	READ_LINE = 1,
	READ_EOF = 0,
	READ_ERROR = -1,
	READ_TOO_LONG = -2,
	READ_TIMEOUT = -3,
	READ_STOP = -4,
};

static int64_t
now_secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

static int
write_all(struct pop3_client *c, const char *data, size_t len)
{
	while (len > 0 && !c->write_failed) {
		ssize_t n =
		    send(c->s->out_fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == ENOTSOCK) /* -P: stdout is a pipe */
			n = write(c->s->out_fd, data, len);
		if (n > 0) {
			data += n;
			len -= (size_t)n;
			c->out_bytes += (uint64_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = {.fd = c->s->out_fd,
					     .events = POLLOUT};
			int ret =
			    poll(&pfd, 1, (int)var_pop3_client_timeout * 1000);

			if (ret > 0 || (ret < 0 && errno == EINTR))
				continue;
			if (ret == 0 && c->reason == NULL)
				c->reason = "Disconnected for inactivity "
					    "in reading our output";
		}
		c->write_failed = true;
	}
	return c->write_failed ? -1 : 0;
}

int
pop3_flush(struct pop3_client *c)
{
	int ret = 0;

	if (c->out.len > 0)
		ret = write_all(c, c->out.data, c->out.len);
	strbuf_reset(&c->out);
	return ret;
}

int
pop3_out(struct pop3_client *c, const char *data, size_t len)
{
	if (c->write_failed)
		return -1;
	if (strbuf_append(&c->out, data, len) < 0) {
		if (pop3_flush(c) < 0)
			return -1;
		if (len >= POP3_OUT_MAX)
			return write_all(c, data, len);
		(void)strbuf_append(&c->out, data, len);
	}
	if (c->out.len >= POP3D_OUT_FLUSH)
		return pop3_flush(c);
	return 0;
}

void
pop3_reply(struct pop3_client *c, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 3)
		n = (int)sizeof(buf) - 3; /* our own text: never this long */
	memcpy(buf + n, "\r\n", 2);
	(void)pop3_out(c, buf, (size_t)n + 2);
}

/* Refreshes the session lock's mtime so that it does not look stale. */
static void
lock_touch(struct pop3_client *c)
{
	if (c->session_lock == NULL ||
	    now_secs() - c->lock_touched < POP3_SESSION_LOCK_TOUCH)
		return;
	if (futimens(dotlock_fd(c->session_lock), NULL) < 0)
		log_warning("pop3(%s): futimens(%s/%s.lock): %s", c->user,
			    c->box_dir, POP3_SESSION_LOCK_BASE,
			    strerror(errno));
	c->lock_touched = now_secs();
}

static enum read_result
wait_input(struct pop3_client *c)
{
	int64_t deadline = now_secs() + var_pop3_client_timeout;

	for (;;) {
		struct pollfd pfd[2] = {
		    {.fd = c->s->in_fd, .events = POLLIN},
		    {.fd = session_host_stop_fd(), .events = POLLIN},
		};
		int64_t left = deadline - now_secs();
		int ret;

		if (session_host_stopping())
			return READ_STOP;
		if (left <= 0)
			return READ_TIMEOUT;
		lock_touch(c);
		if (left > POP3_SESSION_LOCK_TOUCH)
			left = POP3_SESSION_LOCK_TOUCH;
		ret = poll(pfd, 2, (int)left * 1000);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			log_error("pop3(%s): poll: %s", c->user,
				  strerror(errno));
			return READ_ERROR;
		}
		if (pfd[1].revents != 0 && session_host_stopping())
			return READ_STOP;
		if (pfd[0].revents != 0)
			return READ_LINE;
	}
}

/* Copies the next command line (without CRLF, NUL-terminated) to line
 * (POP3_LINE_MAX + 1 bytes). */
static enum read_result
read_line(struct pop3_client *c, char *line, size_t *len_r)
{
	for (;;) {
		char *lf = memchr(c->in, '\n', c->in_len);
		enum read_result ret;
		ssize_t n;

		if (lf != NULL) {
			size_t len = (size_t)(lf - c->in);
			size_t used = len + 1;

			if (len > 0 && c->in[len - 1] == '\r')
				len--;
			if (len > POP3_LINE_MAX)
				return READ_TOO_LONG;
			memcpy(line, c->in, len);
			line[len] = '\0';
			memmove(c->in, c->in + used, c->in_len - used);
			c->in_len -= used;
			*len_r = len;
			return READ_LINE;
		}
		if (c->in_len > POP3_LINE_MAX + 1)
			return READ_TOO_LONG;
		if (c->pending_len > 0) {
			size_t n2 = sizeof(c->in) - c->in_len;

			if (n2 > c->pending_len)
				n2 = c->pending_len;
			memcpy(c->in + c->in_len, c->pending, n2);
			c->in_len += n2;
			c->pending += n2;
			c->pending_len -= n2;
			continue;
		}
		/* nothing more pipelined: the client waits for our replies */
		if (pop3_flush(c) < 0)
			return READ_ERROR;
		ret = wait_input(c);
		if (ret != READ_LINE)
			return ret;
		n = read(c->s->in_fd, c->in + c->in_len,
			 sizeof(c->in) - c->in_len);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			if (errno != ECONNRESET)
				log_info("pop3(%s): read: %s", c->user,
					 strerror(errno));
			return READ_ERROR;
		}
		if (n == 0)
			return READ_EOF;
		c->in_len += (size_t)n;
	}
}

/* \Seen for the messages RETR sent (Dovecot sets it at the end of the
 * session, QUIT or not, as pop3_no_flag_updates = no does). */
static void
apply_seen(struct pop3_client *c)
{
	for (size_t i = 0; i < c->count; i++) {
		const char *error, *flags;
		char *newflags;
		int fd;

		if (!c->seen[i] || c->deleted[i])
			continue;
		c->seen[i] = false;
		/* picks up a rename by another session (IMAP flags) */
		if (mailbox_msg_open(c->box, i, &fd, NULL, &error) < 0)
			continue;
		close(fd);
		flags = mailbox_msg_flags(&c->box->msgs[i]);
		if (strchr(flags, 'S') != NULL)
			continue;
		newflags = xasprintf("%sS", flags);
		if (mailbox_msg_set_flags(c->box, i, newflags, &error) < 0)
			log_error("pop3(%s): setting \\Seen: %s", c->user,
				  error);
		xfree(&newflags);
	}
}

void
pop3_update(struct pop3_client *c)
{
	unsigned int failed = 0;

	for (size_t i = 0; i < c->count; i++) {
		const char *error;

		if (c->deleted[i] &&
		    mailbox_msg_expunge(c->box, i, &error) < 0) {
			log_error("pop3(%s): expunge: %s", c->user, error);
			failed++;
		}
	}
	apply_seen(c);
	c->quit = true;
	if (failed > 0) {
		pop3_reply(c, POP3_INTERNAL_ERROR);
		c->reason = "Storage error during logout.";
		return;
	}
	c->delete_success = true;
	c->reason = "Logged out";
	/* Dovecot's wording */
	pop3_reply(c, c->deleted_count > 0
			  ? "+OK Logging out, messages deleted."
			  : "+OK Logging out.");
}

/* pop3_save_uidl = yes: the UIDLs the client saw become permanent in
 * dovecot-uidlist ("P" field), as Dovecot's mail_update_pop3_uidl() does,
 * so a later pop3_uidl_format change does not change them. */
static void
save_uidls(struct pop3_client *c)
{
	struct maildir_uidlist *list = NULL;
	struct dotlock *lock;
	const char *error, *ignored;
	bool changed = false;
	size_t todo = 0;
	int ret;

	for (size_t i = 0; c->uidl_save != NULL && i < c->count; i++) {
		if (c->uidl_save[i])
			todo++;
	}
	if (todo == 0)
		return;
	ret = maildir_uidlist_lock(c->box_dir, POP3_UIDLIST_LOCK_TIMEOUT, &lock,
				   &error);
	if (ret <= 0) {
		log_error("pop3(%s): pop3_save_uidl: %s", c->user, error);
		return;
	}
	if (maildir_uidlist_read(c->box_dir, &list, &error) <= 0) {
		if (list == NULL)
			error = "dovecot-uidlist vanished";
		log_error("pop3(%s): pop3_save_uidl: %s", c->user, error);
		(void)dotlock_delete(&lock, &ignored);
		return;
	}
	for (size_t i = 0; i < c->count; i++) {
		const struct maildir_uidlist_rec *rec;
		struct maildir_uidlist_rec *wrec;
		const char *uidl;
		char *ext;

		if (!c->uidl_save[i])
			continue;
		rec = maildir_uidlist_lookup(list, c->box->msgs[i].uid);
		if (rec == NULL || maildir_uidlist_rec_ext(rec, 'P') != NULL)
			continue;
		wrec = &list->recs[rec - list->recs];
		/* Dovecot writes an empty "P" when the UIDL is the base name */
		uidl =
		    strcmp(c->uidls[i], wrec->filename) == 0 ? "" : c->uidls[i];
		ext = wrec->ext == NULL ? xasprintf("P%s", uidl)
					: xasprintf("%s P%s", wrec->ext, uidl);
		xfree(&wrec->ext);
		wrec->ext = ext;
		changed = true;
	}
	if (!changed) {
		(void)dotlock_delete(&lock, &ignored);
	} else if (maildir_uidlist_write(&lock, list, &error) < 0) {
		log_error("pop3(%s): pop3_save_uidl: %s", c->user, error);
	}
	maildir_uidlist_free(&list);
}

/* Opens INBOX and reads the maildrop's sizes; sends the error reply
 * itself. */
static int
open_maildrop(struct pop3_client *c)
{
	const struct mail_location *loc = &c->s->user.loc;
	const char *error;
	int ret;

	if (loc->format != MAIL_LOCATION_MAILDIR) {
		log_error("pop3(%s): mail_location: only maildir is supported "
			  "by pop3d",
			  c->user);
		pop3_reply(c, POP3_INTERNAL_ERROR);
		return -1;
	}
	c->box_dir = xstrdup(loc->inbox != NULL ? loc->inbox : loc->root);
	ret = maildir_exists(c->box_dir, &error);
	if (ret == 0)
		ret = maildir_create(c->box_dir, false, &error) < 0 ? -1 : 1;
	if (ret < 0) {
		log_error("pop3(%s): INBOX: %s", c->user, error);
		pop3_reply(c, POP3_INTERNAL_ERROR);
		return -1;
	}
	if (var_pop3_lock_session) {
		/* RFC 1939: the maildrop is locked before +OK */
		struct dotlock_settings set = {
		    .timeout_secs = POP3_SESSION_LOCK_TIMEOUT,
		    .stale_secs = POP3_SESSION_LOCK_STALE,
		};
		char *path =
		    xasprintf("%s/%s", c->box_dir, POP3_SESSION_LOCK_BASE);

		ret = dotlock_create(path, &set, &c->session_lock, &error);
		xfree(&path);
		if (ret <= 0) {
			if (ret < 0)
				log_error("pop3(%s): %s", c->user, error);
			c->reason = "Couldn't lock POP3 session";
			pop3_reply(c, ret < 0 ? "-ERR [SYS/TEMP] Failed to "
						"create POP3 session lock."
					      : "-ERR [IN-USE] Mailbox is "
						"locked by another POP3 "
						"session.");
			return -1;
		}
		c->lock_touched = now_secs();
	}
	if (mailbox_open(c->box_dir, NULL, &c->box, &error) < 0) {
		log_error("pop3(%s): INBOX: %s", c->user, error);
		pop3_reply(c, POP3_INTERNAL_ERROR);
		return -1;
	}
	/* sizes of every message now (STAT needs the total); a message
	 * expunged meanwhile means a new sync, as Dovecot retries */
	for (unsigned int tries = 0;; tries++) {
		size_t i;

		c->sizes = xreallocarray(c->sizes, c->box->count + 1,
					 sizeof(*c->sizes));
		c->total_size = 0;
		for (i = 0; i < c->box->count; i++) {
			if (mailbox_msg_vsize(c->box, i, &c->sizes[i], &error) <
			    0)
				break;
			c->total_size += c->sizes[i];
		}
		if (i == c->box->count)
			break;
		if (tries == 2 || mailbox_sync(c->box, &error) < 0) {
			log_error("pop3(%s): INBOX: %s", c->user, error);
			pop3_reply(c, "-ERR [SYS/TEMP] Couldn't sync mailbox.");
			return -1;
		}
	}
	c->count = c->box->count;
	c->deleted = xcalloc(c->count + 1, sizeof(*c->deleted));
	c->seen = xcalloc(c->count + 1, sizeof(*c->seen));
	return 0;
}

static void
client_free(struct pop3_client *c)
{
	const char *error;

	if (c->uidls != NULL) {
		for (size_t i = 0; i < c->count; i++)
			xfree(&c->uidls[i]);
	}
	xfree(&c->uidls);
	xfree(&c->uidl_save);
	xfree(&c->sizes);
	xfree(&c->deleted);
	xfree(&c->seen);
	mailbox_close(&c->box);
	if (c->session_lock != NULL &&
	    dotlock_delete(&c->session_lock, &error) < 0)
		log_warning("pop3(%s): session lock: %s", c->user, error);
	xfree(&c->box_dir);
	strbuf_release(&c->out);
}

static void
command_loop(struct pop3_client *c)
{
	char line[POP3_LINE_MAX + 1];
	size_t len;

	while (!c->quit && !c->write_failed) {
		switch (read_line(c, line, &len)) {
		case READ_LINE:
			break;
		case READ_EOF:
		case READ_ERROR:
			c->reason = "Connection closed";
			return;
		case READ_TOO_LONG:
			pop3_reply(c, "-ERR Input line too long.");
			c->reason = "Input line too long";
			return;
		case READ_TIMEOUT:
			pop3_reply(c, "-ERR Disconnected for inactivity.");
			c->reason = "Disconnected for inactivity";
			return;
		case READ_STOP:
			pop3_reply(c, "-ERR [SYS/TEMP] Server shutting down.");
			c->reason = "Server shutting down.";
			return;
		}
		if (++c->commands > (unsigned long long)var_pop3_max_commands) {
			pop3_reply(c, "-ERR Too many commands.");
			c->reason = "Too many commands (pop3_max_commands)";
			return;
		}
		if (pop3_cmd_run(c, line, len) == 0) {
			c->bad_commands = 0;
		} else if (++c->bad_commands > POP3D_MAX_BAD_COMMANDS) {
			pop3_reply(c, "-ERR Too many bad commands.");
			c->reason = "Too many bad commands.";
			return;
		}
	}
	if (c->write_failed && c->reason == NULL)
		c->reason = "Connection closed";
}

void
pop3_session_run(struct session *s)
{
	struct pop3_client c = {0};

	c.s = s;
	c.user = s->user.name != NULL ? s->user.name : s->info.user;
	c.pending = s->pending;
	c.pending_len = s->pending != NULL ? s->pending_len : 0;
	strbuf_init(&c.out, POP3_OUT_MAX);

	if (s->refuse != NULL) {
		pop3_reply(&c, "-ERR [%s] %s",
			   s->refuse_temp ? "SYS/TEMP" : "IN-USE", s->refuse);
		(void)pop3_flush(&c);
		log_info("pop3(%s): Disconnected: %s", c.user, s->refuse);
		client_free(&c);
		return;
	}
	if (open_maildrop(&c) < 0) {
		(void)pop3_flush(&c);
		log_info("pop3(%s): Disconnected: %s", c.user,
			 c.reason != NULL ? c.reason : "Couldn't open INBOX");
		client_free(&c);
		return;
	}
	pop3_reply(&c, "+OK Logged in.");
	command_loop(&c);
	if (!c.quit)
		apply_seen(&c); /* no deletions without QUIT */
	save_uidls(&c);
	(void)pop3_flush(&c);
	/* Dovecot's pop3_logout_format "top=%t/%p, retr=%r/%b, del=%d/%m,
	 * size=%s" after the reason */
	log_info("pop3(%s): Disconnected: %s top=%u/%llu, retr=%u/%llu, "
		 "del=%zu/%zu, size=%llu",
		 c.user, c.reason != NULL ? c.reason : "Connection closed",
		 c.top_count, (unsigned long long)c.top_bytes, c.retr_count,
		 (unsigned long long)c.retr_bytes,
		 c.delete_success ? c.deleted_count : 0, c.count,
		 (unsigned long long)c.total_size);
	client_free(&c);
}
