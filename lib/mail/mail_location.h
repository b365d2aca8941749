/*
 * mail_location - Dovecot's mail_location setting (and the userdb "mail"
 * field), e.g. "maildir:~/Maildir", "maildir:/var/vmail/%d/%n",
 * "mbox:~/mail:INBOX=/var/mail/%u": the format, the root directory and
 * the INBOX path, with ~ and the variables %u (user), %n (user's local
 * part), %d (domain), %h (home) and %% expanded. Pure. The template is
 * trusted (config or userdb); the user name is checked so that no
 * expansion can leave its directory ('/' and a leading '.' refused).
 */
#ifndef MAIL_LOCATION_H
#define MAIL_LOCATION_H

enum mail_location_format {
	MAIL_LOCATION_MAILDIR,
	MAIL_LOCATION_MBOX,
};

struct mail_location {
	enum mail_location_format format;
	char *root;  /* mail root directory (absolute) */
	char *inbox; /* INBOX= (mbox: the spool file), or NULL */
};

/* Parses and expands spec for user (user@domain or user) with home (may be
 * NULL: then "~" and %h are errors). Keys other than INBOX= (INDEX=,
 * CONTROL=, ...) are accepted and ignored, as they do not affect where
 * mail is delivered; LAYOUT=fs is refused (Maildir++ only). -1 with a
 * static *error_r. */
int mail_location_parse(const char *spec, const char *user, const char *home,
			struct mail_location *loc_r, const char **error_r);
void mail_location_clear(struct mail_location *loc);

#endif
