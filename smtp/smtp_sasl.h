/*
 * smtp_sasl - the smtp client's SASL login to the next hop (RFC 4954)
 * through libsasl2, as Postfix's smtp client does it: the password comes
 * from smtp_sasl_password_maps, the mechanism from what the server offers
 * in EHLO (filtered by smtp_sasl_mechanism_filter and libsasl2's security
 * properties). Server challenges are hostile input: bounded and decoded
 * with checks. Worker threads (after smtp_sasl_init on the loop); never
 * logs and never puts the password into a note or a result text.
 */
#ifndef SMTP_SASL_H
#define SMTP_SASL_H

#include <stdbool.h>
#include <stddef.h>

#include "mail/deliver_proto.h"
#include "smtp.h"
#include "smtp_io.h"

/* What the last EHLO said about AUTH, per session. */
struct smtp_sasl_session {
	bool offered;	    /* the server announced AUTH */
	char mechs[512];    /* its mechanisms, space separated (cut to fit) */
	bool authenticated; /* this connection logged in (never cached) */
};

/* Once per process, as root before chroot (libsasl2 loads its plugins
 * there): the library, its mutexes, the security options and the password
 * maps. Only when smtp_sasl_auth_enable is on. 0, or -1 with *error_r. */
int smtp_sasl_init(const char **error_r);
/* True once smtp_sasl_init() succeeded. */
bool smtp_sasl_enabled(void);

/* Records the AUTH keyword of an EHLO reply (text as smtp_reply joins it:
 * the server name, then one extension per '\n'-separated line; both
 * "AUTH mech ..." and the obsolete "AUTH=mech ..." forms). Resets ss
 * first, so it is called for every EHLO. */
void smtp_sasl_ehlo(struct smtp_sasl_session *ss, const char *ehlo_text);

/* After the last EHLO (the one after STARTTLS when TLS is on): logs in
 * when SASL is enabled, the server offered AUTH and a password for it is
 * found (by t->host, then by the next hop as written). Returns 0 when the
 * session may go on (logged in, or no login wanted), or -1 when it must
 * end: *action_r, dsn (size bytes) and *text_r (allocated, for the
 * recipients' results) say why, as Postfix words it ("SASL authentication
 * failed; server X said: 535 ..."). relay: "host[addr]:port" for texts. */
int smtp_sasl_login(struct smtp_sasl_session *ss, struct smtp_io *io,
		    struct smtp_reply *reply, const struct smtp_delivery *d,
		    const struct smtp_target *t, const char *relay,
		    enum deliver_action *action_r, char *dsn, size_t size,
		    char **text_r);

#endif
