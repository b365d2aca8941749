/*
 * smtp_sasl - SASL client login for the smtp delivery agent (RFC 4954),
 * through libsasl2, with Postfix's parameters and behaviour:
 * - only when smtp_sasl_auth_enable is on, the server announced AUTH, and
 *   smtp_sasl_password_maps has "user:password" for the server's host
 *   name or, failing that, for the next hop as written ("[relay]:587",
 *   the domain); without a password the mail goes without AUTH;
 * - AUTH offered but no mechanism left after smtp_sasl_mechanism_filter,
 *   or none libsasl2 accepts under smtp_sasl_[tls_]security_options:
 *   the session fails 4.7.0 and the next address is tried;
 * - the server refusing the login (535 ...): the session fails with the
 *   server's reply, 5xx softened to 4xx by smtp_sasl_auth_soft_bounce.
 * Trust: server replies are hostile (challenges are length-bounded by the
 * reply reader and decoded with checks; at most 100 round trips); the maps
 * and parameters are the admin's. Runs on worker threads after
 * smtp_sasl_init(): libsasl2 is given real mutexes, every connection
 * object is private to one session. Never logs, and the password goes
 * only to libsasl2 (wiped after use), never into a text.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sasl/sasl.h>
#include <sasl/saslutil.h>

#include "mail/map.h"
#include "mail/mail_params.h"
#include "smtp_sasl.h"
#include "util/xmem.h"

#define SMTP_SASL_MAX_MAPS 16
#define SMTP_SASL_MAX_STEPS 100 /* Postfix's protocol loop limit */
/* A decoded challenge: the reply reader already caps a line at
 * line_length_limit, so base64 text never decodes to more than this. */
#define SMTP_SASL_MAX_CHALLENGE 16384
/* libsasl2 stores every callback as int (*)(void); void (*)(void) in
 * between is the cast that compilers accept for any function type. */
#define SMTP_SASL_CB(fn) ((int (*)(void))(void (*)(void))(fn))

static bool smtp_sasl_ready;
static unsigned int smtp_sasl_flags, smtp_sasl_tls_flags;
static struct map *smtp_sasl_maps[SMTP_SASL_MAX_MAPS];
static unsigned int smtp_sasl_map_count;

/* libsasl2's default mutexes do nothing; the sessions run on threads. */
static void *
smtp_sasl_mutex_alloc(void)
{
	pthread_mutex_t *m = xmalloc(sizeof(*m));

	pthread_mutex_init(m, NULL);
	return m;
}

static int
smtp_sasl_mutex_lock(void *m)
{
	return pthread_mutex_lock(m) == 0 ? SASL_OK : SASL_FAIL;
}

static int
smtp_sasl_mutex_unlock(void *m)
{
	return pthread_mutex_unlock(m) == 0 ? SASL_OK : SASL_FAIL;
}

static void
smtp_sasl_mutex_free(void *m)
{
	pthread_mutex_destroy(m);
	free(m);
}

/* libsasl2 would log to syslog from worker threads; the session's result
 * text says what failed instead. */
static int
smtp_sasl_log_cb(void *ctx, int level, const char *message)
{
	(void)ctx;
	(void)level;
	(void)message;
	return SASL_OK;
}

/* Postfix's option names -> SASL_SEC_* flags. -1 on an unknown name. */
static int
smtp_sasl_parse_options(const char *value, unsigned int *flags_r,
			const char **bad_r)
{
	static const struct {
		const char *name;
		unsigned int flag;
	} names[] = {
	    {"noplaintext", SASL_SEC_NOPLAINTEXT},
	    {"noactive", SASL_SEC_NOACTIVE},
	    {"nodictionary", SASL_SEC_NODICTIONARY},
	    {"noanonymous", SASL_SEC_NOANONYMOUS},
	    {"mutual_auth", SASL_SEC_MUTUAL_AUTH},
	};
	static __thread char bad[64];
	const char *p = value;

	*flags_r = 0;
	while (*p != '\0') {
		size_t len;
		bool found = false;

		p += strspn(p, ", \t\n");
		len = strcspn(p, ", \t\n");
		if (len == 0)
			break;
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			if (strlen(names[i].name) == len &&
			    strncasecmp(names[i].name, p, len) == 0) {
				*flags_r |= names[i].flag;
				found = true;
			}
		}
		if (!found) {
			snprintf(bad, sizeof(bad), "%.*s",
				 (int)(len > 60 ? 60 : len), p);
			*bad_r = bad;
			return -1;
		}
		p += len;
	}
	return 0;
}

int
smtp_sasl_init(const char **error_r)
{
	static const sasl_callback_t global_cbs[] = {
	    {SASL_CB_LOG, SMTP_SASL_CB(smtp_sasl_log_cb), NULL},
	    {SASL_CB_LIST_END, NULL, NULL},
	};
	static char errbuf[1024];
	const char *bad, *error;
	char *copy, *save = NULL;
	int ret;

	if (smtp_sasl_parse_options(var_smtp_sasl_security_options,
				    &smtp_sasl_flags, &bad) < 0) {
		snprintf(errbuf, sizeof(errbuf),
			 "smtp_sasl_security_options: unknown option \"%s\" "
			 "(expected noplaintext, noactive, nodictionary, "
			 "noanonymous or mutual_auth)",
			 bad);
		*error_r = errbuf;
		return -1;
	}
	if (smtp_sasl_parse_options(var_smtp_sasl_tls_security_options,
				    &smtp_sasl_tls_flags, &bad) < 0) {
		snprintf(errbuf, sizeof(errbuf),
			 "smtp_sasl_tls_security_options: unknown option "
			 "\"%s\" (expected noplaintext, noactive, "
			 "nodictionary, noanonymous or mutual_auth)",
			 bad);
		*error_r = errbuf;
		return -1;
	}
	copy = xstrdup(var_smtp_sasl_password_maps);
	for (char *tok = strtok_r(copy, ", \t\n", &save); tok != NULL;
	     tok = strtok_r(NULL, ", \t\n", &save)) {
		struct map *m;

		if (smtp_sasl_map_count == SMTP_SASL_MAX_MAPS) {
			*error_r = "smtp_sasl_password_maps: too many maps";
			free(copy);
			return -1;
		}
		/* Host names and next hops are case-insensitive; Postfix
		 * folds the keys of this table too. */
		m = map_open(tok, MAP_FOLD_CASE, &error);
		if (m == NULL) {
			snprintf(errbuf, sizeof(errbuf),
				 "smtp_sasl_password_maps: %s", error);
			*error_r = errbuf;
			free(copy);
			return -1;
		}
		smtp_sasl_maps[smtp_sasl_map_count++] = m;
	}
	free(copy);
	sasl_set_mutex(smtp_sasl_mutex_alloc, smtp_sasl_mutex_lock,
		       smtp_sasl_mutex_unlock, smtp_sasl_mutex_free);
	ret = sasl_client_init(global_cbs);
	if (ret != SASL_OK) {
		snprintf(errbuf, sizeof(errbuf),
			 "SASL library initialization: %s",
			 sasl_errstring(ret, NULL, NULL));
		*error_r = errbuf;
		return -1;
	}
	smtp_sasl_ready = true;
	return 0;
}

bool
smtp_sasl_enabled(void)
{
	return smtp_sasl_ready;
}

void
smtp_sasl_ehlo(struct smtp_sasl_session *ss, const char *ehlo_text)
{
	const char *p = strchr(ehlo_text, '\n');

	ss->offered = false;
	ss->mechs[0] = '\0';
	ss->authenticated = false;
	while (p != NULL) {
		const char *kw = p + 1, *end = strchr(kw, '\n');
		size_t len = end == NULL ? strlen(kw) : (size_t)(end - kw);

		p = end;
		if (len < 4 || strncasecmp(kw, "AUTH", 4) != 0 ||
		    (len > 4 && kw[4] != ' ' && kw[4] != '='))
			continue;
		/* Servers announce "AUTH ..." and, for old clients, also
		 * "AUTH=...": the first one counts. */
		if (ss->offered)
			continue;
		kw += 4;
		len -= 4;
		if (len > 0) {
			kw++;
			len--;
		}
		/* An empty list: as Postfix, the server does not do AUTH. */
		while (len > 0 && (*kw == ' ' || *kw == '\t')) {
			kw++;
			len--;
		}
		if (len == 0)
			continue;
		ss->offered = true;
		if (len >= sizeof(ss->mechs))
			len = sizeof(ss->mechs) - 1;
		memcpy(ss->mechs, kw, len);
		ss->mechs[len] = '\0';
	}
}

/* The offered mechanisms that smtp_sasl_mechanism_filter lets through,
 * space separated, into out. */
static void
smtp_sasl_filter(const char *offered, char *out, size_t size)
{
	const char *filter = var_smtp_sasl_mechanism_filter;
	const char *p = offered;
	size_t used = 0;

	out[0] = '\0';
	while (*p != '\0') {
		size_t len;
		bool keep = filter[0] == '\0';

		p += strspn(p, " \t");
		len = strcspn(p, " \t");
		if (len == 0)
			break;
		for (const char *f = filter; *f != '\0' && !keep;) {
			size_t flen;

			f += strspn(f, ", \t\n");
			flen = strcspn(f, ", \t\n");
			keep = flen == len && strncasecmp(f, p, len) == 0;
			f += flen;
		}
		if (keep && used + len + 2 <= size) {
			if (used > 0)
				out[used++] = ' ';
			memcpy(out + used, p, len);
			used += len;
			out[used] = '\0';
		}
		p += len;
	}
}

/* "user:password" for key: 1 found (*value_r allocated), 0 not found,
 * -1 lookup error (*error_r). */
static int
smtp_sasl_lookup(const char *key, char **value_r, const char **error_r)
{
	for (unsigned int i = 0; i < smtp_sasl_map_count; i++) {
		struct map_result res;
		enum map_status st =
		    map_lookup(smtp_sasl_maps[i], key, &res, error_r);

		if (st == MAP_TEMPFAIL)
			return -1;
		if (st == MAP_FOUND) {
			*value_r = xstrdup(map_result_value(&res));
			map_result_free(&res);
			return 1;
		}
	}
	return 0;
}

/* The credentials libsasl2 asks for, one session's. */
struct smtp_sasl_creds {
	char *user;
	sasl_secret_t *secret;
};

static int
smtp_sasl_get_simple(void *ctx, int id, const char **result, unsigned *len)
{
	struct smtp_sasl_creds *c = ctx;

	if (id == SASL_CB_AUTHNAME) {
		*result = c->user;
	} else if (id == SASL_CB_USER) {
		/* No authorization identity: the login name is the one. */
		*result = "";
	} else {
		return SASL_BADPARAM;
	}
	if (len != NULL)
		*len = (unsigned)strlen(*result);
	return SASL_OK;
}

static int
smtp_sasl_get_secret(sasl_conn_t *conn, void *ctx, int id,
		     sasl_secret_t **secret)
{
	struct smtp_sasl_creds *c = ctx;

	(void)conn;
	if (id != SASL_CB_PASS)
		return SASL_BADPARAM;
	*secret = c->secret;
	return SASL_OK;
}

/* "535 5.7.8 text text" from the current reply (lines joined by ' '). */
static char *
smtp_sasl_reply_str(const struct smtp_reply *r)
{
	struct strbuf sb;

	strbuf_init(&sb, DELIVER_PROTO_MAX_TEXT - 1);
	strbuf_printf(&sb, "%u", r->code);
	if (r->enhanced[0] != '\0')
		strbuf_printf(&sb, " %s", r->enhanced);
	if (r->text.len > 0)
		strbuf_append_char(&sb, ' ');
	for (size_t i = 0; i < r->text.len; i++)
		strbuf_append_char(
		    &sb, r->text.data[i] == '\n' ? ' ' : r->text.data[i]);
	return sb.data == NULL ? xstrdup("") : strbuf_steal(&sb);
}

/* Sends one line (AUTH or a response) and reads the reply. */
static int
smtp_sasl_chat(struct smtp_io *io, struct smtp_reply *reply, const char *line)
{
	if (strbuf_append_str(&io->wbuf, line) < 0 ||
	    strbuf_append_str(&io->wbuf, "\r\n") < 0) {
		snprintf(io->error, sizeof(io->error),
			 "SASL response too long for %s", io->peer);
		return -1;
	}
	if (smtp_io_flush(io) < 0 || smtp_io_read_reply(io, reply) < 0)
		return -1;
	return 0;
}

/* base64 of data into a new string ("" for none). */
static char *
smtp_sasl_encode(const char *data, unsigned int len)
{
	unsigned int size = (len + 2) / 3 * 4 + 1, outlen;
	char *out = xmalloc(size);

	if (len == 0 || sasl_encode64(data, len, out, size, &outlen) != SASL_OK)
		out[0] = '\0';
	return out;
}

/* The dialogue once a mechanism list and credentials are known. 1 logged
 * in, 0 refused by the server (reply holds the answer), -1 failed here
 * (text_r set; dsn set). */
static int
smtp_sasl_dialogue(sasl_conn_t *conn, const char *mechs, struct smtp_io *io,
		   struct smtp_reply *reply, const char *relay, char *dsn,
		   size_t size, char **text_r)
{
	const char *out = NULL, *mech = NULL;
	unsigned int outlen = 0;
	char *line, *enc, *challenge;
	int ret, steps = 0;

	ret = sasl_client_start(conn, mechs, NULL, &out, &outlen, &mech);
	if (ret != SASL_OK && ret != SASL_CONTINUE) {
		snprintf(dsn, size, "4.7.0");
		*text_r = xasprintf("SASL authentication failed; cannot "
				    "authenticate to server %s: %s",
				    relay, sasl_errstring(ret, NULL, NULL));
		return -1;
	}
	/* As Postfix: an initial response only when there is one; an
	 * empty one is left to the server's 334. */
	enc = smtp_sasl_encode(out, out == NULL ? 0 : outlen);
	line = enc[0] != '\0' ? xasprintf("AUTH %s %s", mech, enc)
			      : xasprintf("AUTH %s", mech);
	xmem_wipe(enc, strlen(enc));
	free(enc);
	ret = smtp_sasl_chat(io, reply, line);
	xmem_wipe(line, strlen(line));
	free(line);
	if (ret < 0)
		goto io_fail;
	challenge = xmalloc(SMTP_SASL_MAX_CHALLENGE);
	while (reply->code / 100 == 3) {
		unsigned int clen;

		if (++steps > SMTP_SASL_MAX_STEPS) {
			snprintf(dsn, size, "4.3.0");
			*text_r = xasprintf("SASL authentication failed; "
					    "authentication protocol loop "
					    "with server %s",
					    relay);
			free(challenge);
			return -1;
		}
		/* One line of base64 (RFC 4954 4); anything else is a
		 * protocol error, as is text that does not decode. */
		if (memchr(reply->text.data, '\n', reply->text.len) != NULL ||
		    sasl_decode64(strbuf_cstr(&reply->text),
				  (unsigned)reply->text.len, challenge,
				  SMTP_SASL_MAX_CHALLENGE, &clen) != SASL_OK)
			ret = SASL_BADPROT;
		else
			ret = sasl_client_step(conn, challenge, clen, NULL,
					       &out, &outlen);
		if (ret != SASL_OK && ret != SASL_CONTINUE) {
			snprintf(dsn, size, "4.7.0");
			*text_r = xasprintf(
			    "SASL authentication failed; cannot authenticate "
			    "to server %s: %s",
			    relay, sasl_errstring(ret, NULL, NULL));
			free(challenge);
			return -1;
		}
		enc = smtp_sasl_encode(out, out == NULL ? 0 : outlen);
		ret = smtp_sasl_chat(io, reply, enc);
		xmem_wipe(enc, strlen(enc));
		free(enc);
		if (ret < 0) {
			free(challenge);
			goto io_fail;
		}
	}
	free(challenge);
	return reply->code / 100 == 2 ? 1 : 0;
io_fail:
	snprintf(dsn, size, "4.4.2");
	*text_r = xstrdup(io->error);
	return -1;
}

int
smtp_sasl_login(struct smtp_sasl_session *ss, struct smtp_io *io,
		struct smtp_reply *reply, const struct smtp_delivery *d,
		const struct smtp_target *t, const char *relay,
		enum deliver_action *action_r, char *dsn, size_t size,
		char **text_r)
{
	const char *dest, *error = NULL, *colon;
	char *value = NULL, mechs[sizeof(ss->mechs)];
	struct smtp_sasl_creds creds;
	sasl_callback_t cbs[4];
	sasl_security_properties_t props;
	sasl_conn_t *conn = NULL;
	sasl_ssf_t ssf;
	size_t plen;
	int found, ret;

	if (!smtp_sasl_ready || !ss->offered)
		return 0;
	*action_r = DELIVER_DEFERRED;
	/* Postfix's order: the server's host name, then the next hop as
	 * written in relayhost or transport_maps. */
	dest = smtp_effective_nexthop(d->req);
	if (strncmp(dest, "inet:", 5) == 0)
		dest += 5;
	found = smtp_sasl_lookup(t->host, &value, &error);
	if (found == 0 && strcasecmp(dest, t->host) != 0)
		found = smtp_sasl_lookup(dest, &value, &error);
	if (found < 0) {
		snprintf(dsn, size, "4.3.0");
		*text_r = xasprintf("smtp_sasl_password_maps lookup error: %s",
				    error != NULL ? error : "unknown");
		return -1;
	}
	if (found == 0)
		return 0; /* no password: deliver without AUTH (Postfix) */
	smtp_sasl_filter(ss->mechs, mechs, sizeof(mechs));
	if (mechs[0] == '\0') {
		snprintf(dsn, size, "4.7.0");
		*text_r = xasprintf("SASL authentication failed: server %s "
				    "offered no compatible authentication "
				    "mechanisms for this type of connection "
				    "security",
				    relay);
		xmem_wipe(value, strlen(value));
		free(value);
		return -1;
	}
	colon = strchr(value, ':');
	plen = colon == NULL ? 0 : strlen(colon + 1);
	creds.user = xstrndup(value, colon == NULL ? strlen(value)
						   : (size_t)(colon - value));
	creds.secret = xcalloc(1, sizeof(sasl_secret_t) + plen + 1);
	creds.secret->len = plen;
	if (plen > 0)
		memcpy(creds.secret->data, colon + 1, plen);
	xmem_wipe(value, strlen(value));
	free(value);

	cbs[0] = (sasl_callback_t){SASL_CB_USER,
				   SMTP_SASL_CB(smtp_sasl_get_simple), &creds};
	cbs[1] = (sasl_callback_t){SASL_CB_AUTHNAME,
				   SMTP_SASL_CB(smtp_sasl_get_simple), &creds};
	cbs[2] = (sasl_callback_t){SASL_CB_PASS,
				   SMTP_SASL_CB(smtp_sasl_get_secret), &creds};
	cbs[3] = (sasl_callback_t){SASL_CB_LIST_END, NULL, NULL};
	ret = sasl_client_new("smtp", t->host, NULL, NULL, cbs, 0, &conn);
	if (ret != SASL_OK) {
		snprintf(dsn, size, "4.7.0");
		*text_r = xasprintf("SASL per-connection initialization "
				    "failed: %s",
				    sasl_errstring(ret, NULL, NULL));
		ret = -1;
		goto out;
	}
	/* No SASL security layer (max_ssf 0), as Postfix: TLS is the
	 * protection, and libsasl2 counts it (a plaintext mechanism is no
	 * longer "plaintext" over it). */
	memset(&props, 0, sizeof(props));
	props.security_flags =
	    io->ssl != NULL ? smtp_sasl_tls_flags : smtp_sasl_flags;
	if (sasl_setprop(conn, SASL_SEC_PROPS, &props) != SASL_OK)
		goto setprop_fail;
	if (io->ssl != NULL) {
		int bits = SSL_get_cipher_bits(io->ssl, NULL);

		ssf = bits > 0 ? (sasl_ssf_t)bits : 1;
		if (sasl_setprop(conn, SASL_SSF_EXTERNAL, &ssf) != SASL_OK)
			goto setprop_fail;
	}
	ret = smtp_sasl_dialogue(conn, mechs, io, reply, relay, dsn, size,
				 text_r);
	if (ret == 1) {
		ss->authenticated = true;
		ret = 0;
	} else if (ret == 0) {
		char *said = smtp_sasl_reply_str(reply);

		if (reply->enhanced[0] != '\0')
			snprintf(dsn, size, "%s", reply->enhanced);
		else
			snprintf(dsn, size, "%u.0.0", reply->code / 100);
		if (var_smtp_sasl_auth_soft_bounce && dsn[0] == '5')
			dsn[0] = '4';
		*action_r = dsn[0] == '5' ? DELIVER_BOUNCED : DELIVER_DEFERRED;
		*text_r =
		    xasprintf("SASL authentication failed; server %s said: %s",
			      relay, said);
		free(said);
		ret = -1;
	}
	goto out;
setprop_fail:
	snprintf(dsn, size, "4.7.0");
	*text_r = xasprintf("SASL per-connection initialization failed: %s",
			    sasl_errdetail(conn));
	ret = -1;
out:
	if (conn != NULL)
		sasl_dispose(&conn);
	xmem_wipe(creds.secret->data, plen);
	free(creds.secret);
	free(creds.user);
	return ret;
}
