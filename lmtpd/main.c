/*
 * lmtpd - LMTP delivery into Maildir (mbox for spool users), run by master
 * as the virtual mail user (master.cf "dovetail-lmtp unix ... lmtpd").
 * This file wires the smtp_server engine in LMTP mode to the recipient
 * lookups (lmtpd_user.c) and the delivery (lmtpd_deliver.c). Clients are
 * the mail system's own (qmgr's smtp, Postfix, ...) but still untrusted:
 * the engine bounds everything they send. Must not run as root.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "lmtpd.h"
#include "mail/address.h"
#include "mail/mail_params.h"
#include "mail/map.h"
#include "mail/smtp_server.h"
#include "server/server.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmem.h"

#define LMTPD_ADDR_MAX 1024

struct map *lmtpd_mailbox_map;
static struct smtp_server_settings lmtpd_settings;

void
lmtpd_rcpt_clear(struct lmtpd_rcpt *r)
{
	xfree(&r->address);
	xfree(&r->user);
	xfree(&r->detail);
	xfree(&r->home);
	xfree(&r->mail);
	xfree(&r->uid);
	xfree(&r->gid);
	xfree(&r->reply);
}

static void
lmtpd_reset(struct lmtpd_session *ls)
{
	for (unsigned int i = 0; i < ls->count; i++)
		lmtpd_rcpt_clear(&ls->rcpts[i]);
	ls->count = 0;
	xfree(&ls->sender);
	if (ls->tmp_fd >= 0)
		close(ls->tmp_fd);
	ls->tmp_fd = -1;
	ls->data_failed = false;
}

/* A transaction id like Dovecot's (22 base64 characters). */
static void
lmtpd_new_id(struct lmtpd_session *ls)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqr"
				  "stuvwxyz0123456789+/";
	unsigned char raw[22];

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		memset(raw, 0, sizeof(raw));
	for (size_t i = 0; i < sizeof(raw); i++)
		ls->id[i] = b64[raw[i] & 63];
	ls->id[sizeof(raw)] = '\0';
}

static void
lmtpd_cb_mail(struct smtp_session *s, const struct smtp_command *cmd, void *ctx)
{
	struct lmtpd_session *ls = ctx;
	struct strbuf addr;

	lmtpd_reset(ls);
	strbuf_init(&addr, LMTPD_ADDR_MAX);
	if (address_format(&cmd->path, &addr) < 0) {
		strbuf_release(&addr);
		smtp_session_reply(s, "501 5.1.7 Invalid sender address");
		return;
	}
	ls->sender = strbuf_steal(&addr);
	lmtpd_new_id(ls);
	smtp_session_reply(s, "250 2.1.0 OK");
}

/* Splits the local part at the first recipient_delimiter character:
 * user (without the detail) into *user_r, the detail into *detail_r. */
static void
lmtpd_split_detail(const struct address *a, char **user_r, char **detail_r)
{
	const char *delims = var_recipient_delimiter;
	size_t cut = a->local_len;

	*detail_r = NULL;
	if (delims[0] != '\0') {
		cut = strcspn(a->local, delims);
		if (cut > a->local_len)
			cut = a->local_len;
	}
	/* "+x@d" (empty user) keeps the whole local part, as Postfix */
	if (cut == 0 || cut == a->local_len) {
		cut = a->local_len;
	} else {
		*detail_r =
		    xstrndup(a->local + cut + 1, a->local_len - cut - 1);
	}
	if (a->domain_len > 0)
		*user_r = xasprintf("%.*s@%s", (int)cut, a->local, a->domain);
	else
		*user_r = xstrndup(a->local, cut);
}

static void
lmtpd_cb_rcpt(struct smtp_session *s, const struct smtp_command *cmd, void *ctx)
{
	struct lmtpd_session *ls = ctx;
	struct strbuf addr;

	strbuf_init(&addr, LMTPD_ADDR_MAX);
	if (address_format(&cmd->path, &addr) < 0 || addr.len == 0) {
		strbuf_release(&addr);
		smtp_session_reply(s, "501 5.1.3 Invalid recipient address");
		return;
	}
	lmtpd_rcpt_clear(&ls->pending);
	ls->pending.address = strbuf_steal(&addr);
	lmtpd_split_detail(&cmd->path, &ls->pending.user, &ls->pending.detail);
	lmtpd_user_lookup(ls);
}

static int
lmtpd_cb_data_start(struct smtp_session *s, const char **reply_r, void *ctx)
{
	struct lmtpd_session *ls = ctx;

	(void)s;
	ls->tmp_fd =
	    open(var_mail_temp_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (ls->tmp_fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
		/* no O_TMPFILE on this file system: create and unlink */
		char *path = xasprintf("%s/lmtpd.XXXXXX", var_mail_temp_dir);

		ls->tmp_fd = mkostemp(path, O_CLOEXEC);
		if (ls->tmp_fd >= 0)
			(void)unlink(path);
		xfree(&path);
	}
	if (ls->tmp_fd < 0) {
		log_error("lmtpd: temporary file in %s: %s", var_mail_temp_dir,
			  strerror(errno));
		*reply_r = "451 4.3.0 Temporary internal error";
		return -1;
	}
	ls->data_failed = false;
	return 0;
}

static int
lmtpd_cb_data_chunk(struct smtp_session *s, const char *data, size_t len,
		    void *ctx)
{
	struct lmtpd_session *ls = ctx;

	(void)s;
	while (len > 0) {
		ssize_t n = write(ls->tmp_fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_error("lmtpd: write to temporary file in %s: %s",
				  var_mail_temp_dir,
				  n < 0 ? strerror(errno) : "short write");
			ls->data_failed = true;
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static void
lmtpd_cb_data_end(struct smtp_session *s, bool ok, void *ctx)
{
	struct lmtpd_session *ls = ctx;

	if (!ok || ls->data_failed) {
		for (unsigned int i = 0; i < ls->count; i++) {
			char *reply = xasprintf("451 4.3.0 <%s> Temporary "
						"internal error",
						ls->rcpts[i].address);
			smtp_session_data_reply(s, reply);
			xfree(&reply);
		}
		lmtpd_reset(ls);
		return;
	}
	lmtpd_deliver(ls);
}

static void
lmtpd_cb_data_abort(struct smtp_session *s, void *ctx)
{
	struct lmtpd_session *ls = ctx;

	(void)s;
	if (ls->tmp_fd >= 0)
		close(ls->tmp_fd);
	ls->tmp_fd = -1;
}

static void
lmtpd_cb_disconnect(struct smtp_session *s, void *ctx)
{
	struct lmtpd_session *ls = ctx;

	(void)s;
	lmtpd_reset(ls);
	lmtpd_rcpt_clear(&ls->pending);
	xfree(&ls->rcpts);
	xfree(&ls);
	server_client_done();
}

static const struct smtp_server_callbacks lmtpd_callbacks = {
    .mail = lmtpd_cb_mail,
    .rcpt = lmtpd_cb_rcpt,
    .data_start = lmtpd_cb_data_start,
    .data_chunk = lmtpd_cb_data_chunk,
    .data_end = lmtpd_cb_data_end,
    .data_abort = lmtpd_cb_data_abort,
    .disconnect = lmtpd_cb_disconnect,
};

static void
lmtpd_on_connect(int fd, void *ctx)
{
	struct lmtpd_session *ls = xcalloc(1, sizeof(*ls));

	(void)ctx;
	ls->tmp_fd = -1;
	ls->s = smtp_session_new(server_loop(), fd, &lmtpd_settings,
				 &lmtpd_callbacks, ls);
}

static void
lmtpd_pre_init(void *ctx)
{
	const char *error;

	(void)ctx;
	if (var_auth_socket_path[0] == '\0') {
		if (var_virtual_mailbox_maps[0] == '\0')
			log_fatal("lmtpd: auth_socket_path is empty and "
				  "virtual_mailbox_maps is not set: no way to "
				  "know the recipients");
		lmtpd_mailbox_map =
		    map_open(var_virtual_mailbox_maps, MAP_FOLD_CASE, &error);
		if (lmtpd_mailbox_map == NULL)
			log_fatal("lmtpd: virtual_mailbox_maps: %s", error);
	}
}

static void
lmtpd_post_init(void *ctx)
{
	(void)ctx;
	if (geteuid() == 0)
		log_fatal("lmtpd: refusing to run as root");
	lmtpd_settings.hostname = var_myhostname;
	lmtpd_settings.banner =
	    xasprintf("%s Dovetail LMTP ready", var_myhostname);
	lmtpd_settings.lmtp = true;
	lmtpd_settings.line_length_limit = (size_t)var_line_length_limit;
	lmtpd_settings.message_size_limit = (uint64_t)var_message_size_limit;
	lmtpd_settings.recipient_limit =
	    (unsigned int)var_smtpd_recipient_limit;
	lmtpd_settings.timeout_secs = (unsigned int)var_smtpd_timeout;
	lmtpd_settings.hard_error_limit =
	    (unsigned int)var_smtpd_hard_error_limit;
	lmtpd_settings.tls = SMTP_SERVER_TLS_NONE;
	lmtpd_settings.enable_chunking = true;
	lmtpd_settings.enable_smtputf8 = true;
	lmtpd_settings.enable_dsn = true;
}

int
main(int argc, char **argv)
{
	static const struct server_spec spec = {
	    .name = "lmtpd",
	    .kind = SERVER_KIND_LISTENER,
	    .pre_init = lmtpd_pre_init,
	    .post_init = lmtpd_post_init,
	    .on_connect = lmtpd_on_connect,
	};

	server_main(argc, argv, &spec);
}
