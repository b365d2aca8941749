/*
 * pop3_uidl - POP3 UIDLs in Dovecot's pop3_uidl_format: "%08Xu%08Xv"
 * (the default) gives the UID and UIDVALIDITY as 8-digit lowercase hex
 * (Dovecot's X modifier prints "%llx"). Supported: %u (UID), %v
 * (UIDVALIDITY), %f and %g (the Maildir file's base name, which Dovecot
 * uses as the Maildir GUID), %%, an optional '0' and width (zero padding,
 * or truncation without '0' as Dovecot does), and the modifiers X, L, U.
 * %m (MD5 of the header) is not supported and refused. Pure; the format
 * comes from the administrator, the file name from disk (untrusted but
 * only copied).
 */
#ifndef POP3_UIDL_H
#define POP3_UIDL_H

#include <stdint.h>

struct strbuf;

struct pop3_uidl_vars {
	uint32_t uid;
	uint32_t uid_validity;
	const char *file_base; /* file name up to ":2," */
};

/* -1 with a static *error_r when format uses something unsupported. */
int pop3_uidl_check_format(const char *format, const char **error_r);

/* Appends the UIDL for vars to dest. -1 on an unsupported format or when
 * dest is full. */
int pop3_uidl_expand(const char *format, const struct pop3_uidl_vars *vars,
		     struct strbuf *dest, const char **error_r);

#endif
