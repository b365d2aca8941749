/*
 * fuzz_auth_proto - libFuzzer target for the Dovecot auth protocol lines:
 * the input is split at '\n' into lines (at most AUTH_PROTO_MAX_LINE);
 * each is split into fields and handed to every parser. Invariants: TAB
 * escaping round-trips every field, base64 round-trips the raw line, and
 * a decoded resp= never exceeds its bound.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/auth_proto.h"
#include "util/base64.h"
#include "util/strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int cond)
{
	if (!cond)
		abort();
}

static void
fuzz_line(const char *line, size_t len)
{
	char buf[AUTH_PROTO_MAX_LINE + 1], *args[AUTH_PROTO_MAX_ARGS];
	struct auth_proto_auth auth;
	struct auth_proto_reply reply;
	struct auth_proto_user user;
	struct auth_proto_userdb_reply ureply;
	struct strbuf sb, dec;
	const char *error, *cdata;
	unsigned int id;
	int n;

	/* base64 of the raw bytes decodes back to them. */
	strbuf_init(&sb, 4 * AUTH_PROTO_MAX_LINE);
	strbuf_init(&dec, AUTH_PROTO_MAX_LINE);
	check(base64_encode(line, len, &sb) == 0);
	check(base64_decode(sb.data != NULL ? sb.data : "", sb.len, 0, &dec) ==
	      0);
	check(dec.len == len && (len == 0 || memcmp(dec.data, line, len) == 0));
	strbuf_release(&sb);
	strbuf_release(&dec);

	memcpy(buf, line, len);
	buf[len] = '\0';
	n = auth_proto_split(buf, len, args, AUTH_PROTO_MAX_ARGS);
	if (n < 0)
		return;
	check(n >= 1 && (size_t)n <= AUTH_PROTO_MAX_ARGS);
	for (int i = 0; i < n; i++) {
		char *copy;

		strbuf_init(&sb, 4 * AUTH_PROTO_MAX_LINE);
		check(auth_proto_tabescape(&sb, args[i]) == 0);
		check(strpbrk(strbuf_cstr(&sb), "\t\r\n") == NULL);
		copy = strbuf_steal(&sb);
		if (copy == NULL)
			continue;
		auth_proto_tabunescape(copy);
		check(strcmp(copy, args[i]) == 0);
		free(copy);
	}
	(void)auth_proto_client_cmd(args[0]);
	(void)auth_proto_parse_version(args, (size_t)n, 1, &error);
	if (auth_proto_parse_auth(args, (size_t)n, &auth, &error) == 0) {
		check(auth.service != NULL && auth.mech != NULL);
		if (auth.resp != NULL) {
			strbuf_init(&dec, 64);
			if (base64_decode(auth.resp, strlen(auth.resp), 0,
					  &dec) == 0)
				check(dec.len <= 64);
			strbuf_release(&dec);
		}
	}
	(void)auth_proto_parse_cont(args, (size_t)n, &id, &cdata, &error);
	(void)auth_proto_parse_reply(args, (size_t)n, &reply, &error);
	if (auth_proto_parse_user(args, (size_t)n, &user, &error) == 0)
		check(user.user != NULL && user.service != NULL);
	(void)auth_proto_parse_userdb_reply(args, (size_t)n, &ureply, &error);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (nl != NULL ? nl : end) - p;

		if (len <= AUTH_PROTO_MAX_LINE)
			fuzz_line(p, len);
		p += len + 1;
	}
	return 0;
}
