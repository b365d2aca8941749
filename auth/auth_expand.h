/*
 * auth_expand - Dovecot's %-variables for auth_username_format and the
 * static userdb template: %u the whole user, %n its local part, %d its
 * domain ("" without "@"), %% a percent; the modifiers L and U before the
 * letter lower-/upper-case the value (%Lu, %Ln, %Ud); the long forms
 * %{user}, %{username}, %{domain} too. Pure: no I/O, no logging.
 */
#ifndef AUTH_EXPAND_H
#define AUTH_EXPAND_H

struct strbuf;

/* Appends the expansion of template for user to out. 0, or -1 with a
 * static *error_r (unknown variable, or out full). */
int auth_expand(struct strbuf *out, const char *template, const char *user,
		const char **error_r);
/* Checks a template without a user: 0 or -1 with *error_r. */
int auth_expand_check(const char *template, const char **error_r);

#endif
