/*
 * fuzz_smtp_parse - libFuzzer target for smtp_parse_command(). The first
 * byte chooses the flags (offered extensions, strict mode, UTF-8
 * transaction), the rest is the command line. Checks invariants of the
 * result and aborts when one breaks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/smtp_parse.h"
#include "util/strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int cond)
{
	if (!cond)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_command cmd;
	unsigned int flags;
	const char *line;
	size_t len, i;

	if (size == 0)
		return 0;
	flags = (data[0] & 0x3f) | ((data[0] & 0x40) ? SMTP_PARSE_STRICT : 0) |
		((data[0] & 0x80) ? SMTP_PARSE_UTF8_TRANSACTION : 0);
	line = (const char *)data + 1;
	len = size - 1;

	if (smtp_parse_command(line, len, flags, &cmd) < 0) {
		check(cmd.error.code >= 500 && cmd.error.code <= 555);
		check(cmd.error.enhanced != NULL);
		check(strlen(cmd.error.text) <= SMTP_ERROR_TEXT_MAX);
		for (i = 0; cmd.error.text[i] != '\0'; i++)
			check(cmd.error.text[i] >= 32 &&
			      cmd.error.text[i] < 127);
		return 0;
	}
	check(cmd.verb != SMTP_VERB_UNKNOWN);
	if (cmd.arg != NULL)
		check(cmd.arg >= line && cmd.arg + cmd.arg_len <= line + len);
	if (cmd.auth_initial != NULL)
		check(cmd.auth_initial >= line &&
		      cmd.auth_initial + cmd.auth_initial_len <= line + len);
	if (cmd.verb == SMTP_VERB_MAIL || cmd.verb == SMTP_VERB_RCPT) {
		struct strbuf sb;

		check(cmd.path.local_len == strlen(cmd.path.local));
		check(cmd.path.domain_len == strlen(cmd.path.domain));
		check(cmd.path.local_len <= ADDRESS_LOCAL_MAX);
		check(cmd.path.domain_len <= ADDRESS_DOMAIN_MAX);
		if (cmd.verb == SMTP_VERB_RCPT)
			check((cmd.path.flags & ADDRESS_FLAG_NULL) == 0);
		strbuf_init(&sb,
			    2 * ADDRESS_LOCAL_MAX + ADDRESS_DOMAIN_MAX + 4);
		check(address_format(&cmd.path, &sb) == 0);
		strbuf_release(&sb);
		check(strlen(cmd.params.envid) <= SMTP_ENVID_MAX);
		if (cmd.params.notify & SMTP_NOTIFY_NEVER)
			check(cmd.params.notify == SMTP_NOTIFY_NEVER);
	}
	return 0;
}
