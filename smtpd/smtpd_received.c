/*
 * smtpd_received - the Received header smtpd puts on top of each message,
 * laid out as Postfix lays it out (with the TLS protocol and cipher when
 * the session is encrypted; "from userid N" for local submission) and
 * the queue ID, so a header leads to the log lines. The
 * HELO name and addresses come from the client and were bounded and
 * checked by the parser; nothing here may add a CR or LF of the client's.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mail/mail_params.h"
#include "mail/queue_file.h"
#include "smtpd.h"

/* Copies s without control characters (a HELO name is checked already;
 * this is the belt to the parser's braces). */
static void
received_clean(char *dst, size_t size, const char *s)
{
	size_t o = 0;

	for (; *s != '\0' && o + 1 < size; s++)
		dst[o++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
	dst[o] = '\0';
}

int
smtpd_received_header(struct smtpd_client *c, struct strbuf *out)
{
	const char *tls = smtp_session_tls_description(c->session);
	char date[64], helo[256];
	struct tm tm;
	time_t now = time(NULL);
	int ret = 0;

	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z (%Z)", &tm);
	if (c->local) {
		return strbuf_printf(out,
				     "Received: by %s (Dovetail, from userid "
				     "%lu)\r\n\tid %s; %s\r\n",
				     var_myhostname, (unsigned long)c->uid,
				     queue_file_writer_id(c->writer), date);
	}
	received_clean(helo, sizeof(helo), smtp_session_helo(c->session));
	ret |= strbuf_printf(out, "Received: from %s (%s [%s])\r\n", helo,
			     c->name, c->addr);
	if (tls != NULL)
		ret |= strbuf_printf(out, "\t(using %s)\r\n", tls);
	/* issue 5: smtpd_sasl_authenticated_header, as Postfix words it. */
	if (var_smtpd_sasl_authenticated_header && smtpd_sasl_user(c) != NULL)
		ret |= strbuf_printf(out, "\t(Authenticated sender: %s)\r\n",
				     smtpd_sasl_user(c));
	ret |= strbuf_printf(out, "\tby %s (Dovetail) with %s id %s",
			     var_myhostname, smtp_session_protocol(c->session),
			     queue_file_writer_id(c->writer));
	if (c->rcpt_given == 1 && c->first_rcpt != NULL)
		ret |= strbuf_printf(out, "\r\n\tfor <%s>", c->first_rcpt);
	ret |= strbuf_printf(out, "; %s\r\n", date);
	return ret;
}
