/*
 * auth_settings - the auth daemon's view of its parameters (Dovecot's
 * names: auth_mechanisms, disable_plaintext_auth / auth_allow_cleartext,
 * auth_failure_delay, auth_username_format, auth_username_chars,
 * auth_default_realm, auth_verbose, auth_debug) and the user name
 * normalisation every request goes through. Parameters come from
 * root-owned files; user names from clients (bounded by AUTH_USER_MAX).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "auth_expand.h"
#include "mail/auth_proto.h"
#include "mail/mail_params.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmem.h"

struct auth_settings auth_set;

static const struct auth_mech *const auth_all_mechs[] = {
    &auth_mech_plain,
    &auth_mech_login,
    &auth_mech_scram_sha1,
    &auth_mech_scram_sha256,
};

static const struct auth_mech *
auth_mech_by_name(const char *name, size_t len)
{
	for (size_t i = 0;
	     i < sizeof(auth_all_mechs) / sizeof(auth_all_mechs[0]); i++) {
		if (strlen(auth_all_mechs[i]->name) == len &&
		    strncasecmp(auth_all_mechs[i]->name, name, len) == 0)
			return auth_all_mechs[i];
	}
	return NULL;
}

static void
auth_settings_mechs(void)
{
	const char *p = var_auth_mechanisms;

	auth_set.n_mechs = 0;
	while (*p != '\0') {
		size_t len = strcspn(p, " \t,");
		const struct auth_mech *mech;

		if (len == 0) {
			p++;
			continue;
		}
		mech = auth_mech_by_name(p, len);
		if (mech == NULL)
			log_fatal("auth_mechanisms: unsupported mechanism "
				  "\"%.*s\" (supported: plain login "
				  "scram-sha-1 scram-sha-256)",
				  (int)len, p);
		for (size_t i = 0; i < auth_set.n_mechs; i++) {
			if (auth_set.mechs[i] == mech)
				mech = NULL;
		}
		if (mech != NULL) {
			if (auth_set.n_mechs ==
			    sizeof(auth_set.mechs) / sizeof(auth_set.mechs[0]))
				log_fatal("auth_mechanisms: too many");
			auth_set.mechs[auth_set.n_mechs++] = mech;
		}
		p += len;
	}
	if (auth_set.n_mechs == 0)
		log_fatal("auth_mechanisms: no mechanisms");
}

void
auth_settings_init(void)
{
	const char *error;

	auth_settings_mechs();
	auth_set.disable_plaintext_auth = var_disable_plaintext_auth;
	/* Dovecot 2.4's name wins when it is set: it says the opposite. */
	if (var_auth_allow_cleartext[0] != '\0') {
		if (strcasecmp(var_auth_allow_cleartext, "yes") == 0)
			auth_set.disable_plaintext_auth = false;
		else if (strcasecmp(var_auth_allow_cleartext, "no") == 0)
			auth_set.disable_plaintext_auth = true;
		else
			log_fatal("auth_allow_cleartext: expected yes or no, "
				  "not \"%s\"",
				  var_auth_allow_cleartext);
	}
	auth_set.failure_delay_ms =
	    (unsigned int)(var_auth_failure_delay * 1000);
	auth_set.verbose = var_auth_verbose || var_auth_debug;
	auth_set.debug = var_auth_debug;
	if (auth_expand_check(var_auth_username_format, &error) < 0)
		log_fatal("auth_username_format: %s", error);
	if (var_auth_default_realm[0] != '\0' &&
	    strpbrk(var_auth_default_realm, "@ \t%") != NULL)
		log_fatal("auth_default_realm: not a domain: %s",
			  var_auth_default_realm);
}

const struct auth_mech *
auth_settings_find_mech(const char *name)
{
	for (size_t i = 0; i < auth_set.n_mechs; i++) {
		if (strcasecmp(auth_set.mechs[i]->name, name) == 0)
			return auth_set.mechs[i];
	}
	return NULL;
}

char *
auth_user_normalize(const char *user, const char **error_r)
{
	struct strbuf in, out;
	const char *chars = var_auth_username_chars;

	if (user[0] == '\0') {
		*error_r = "empty user name";
		return NULL;
	}
	strbuf_init(&in, AUTH_USER_MAX);
	strbuf_init(&out, AUTH_USER_MAX);
	if (strbuf_append_str(&in, user) < 0 ||
	    (var_auth_default_realm[0] != '\0' && strchr(user, '@') == NULL &&
	     strbuf_printf(&in, "@%s", var_auth_default_realm) < 0)) {
		*error_r = "user name too long";
		goto fail;
	}
	/* Check before the format so no character the admin did not allow
	 * reaches a query, a path or a log line. */
	if (chars[0] != '\0' && strspn(strbuf_cstr(&in), chars) != in.len) {
		*error_r = "invalid characters in user name";
		goto fail;
	}
	if (memchr(in.data, '\0', in.len) != NULL ||
	    auth_expand(&out, var_auth_username_format, strbuf_cstr(&in),
			error_r) < 0)
		goto fail;
	if (out.len == 0) {
		*error_r = "user name is empty after auth_username_format";
		goto fail;
	}
	strbuf_release(&in);
	return strbuf_steal(&out);
fail:
	strbuf_release(&in);
	strbuf_release(&out);
	return NULL;
}

const char *
auth_log_str(const char *s, char *buf, size_t size)
{
	size_t i;

	if (size == 0)
		return "";
	for (i = 0; s[i] != '\0' && i + 1 < size && i < 64; i++) {
		char c = s[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr(".@_+-:", c) != NULL)
			buf[i] = c;
		else
			buf[i] = '?';
	}
	buf[i] = '\0';
	return buf;
}

void
auth_settings_split_list(const char *list,
			 void (*add)(const char *item, size_t len))
{
	const char *p = list;

	while (*p != '\0') {
		size_t len;

		p += strspn(p, " \t\n,");
		len = strcspn(p, ",\n");
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len > 0)
			add(p, len);
		p += len;
		p += strcspn(p, ",\n");
	}
}
