/*
 * fuzz_dsn_bounce - libFuzzer target for the notification writer: the
 * first byte picks kind, RET, SMTPUTF8 and 7-bit-only; the rest is split
 * at 0x01 into sender, address, ORCPT, status, diagnostic, remote MTA and
 * the original message. Whatever the input, the report must be written,
 * every line must end in CRLF and be at most 998 bytes, and a 7-bit-only
 * report without SMTPUTF8 must hold no byte >= 0x80 and no NUL.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/dsn_bounce.h"
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
	char *f[7], *buf;
	size_t flen[7], pos = 0;
	struct dsn_report rep;
	struct dsn_rcpt r;
	struct strbuf out;
	const char *error;
	uint8_t flags;

	if (size < 1)
		return 0;
	flags = data[0];
	buf = malloc(size);
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	for (int i = 0; i < 7; i++) {
		char *sep =
		    i < 6 ? memchr(buf + pos, 0x01, size - 1 - pos) : NULL;

		f[i] = buf + pos;
		flen[i] =
		    sep != NULL ? (size_t)(sep - (buf + pos)) : size - 1 - pos;
		if (sep != NULL) {
			*sep = '\0';
			pos += flen[i] + 1;
		} else {
			pos = size - 1;
		}
	}
	memset(&rep, 0, sizeof(rep));
	memset(&r, 0, sizeof(r));
	r.address = f[1];
	r.orcpt = f[2];
	r.status = f[3];
	r.diagnostic = f[4];
	r.remote_mta = f[5];
	r.action = (enum dsn_action)((flags >> 5) % 5);
	r.last_attempt = 1790000000;
	r.will_retry_until = 1790400000;
	rep.kind = (enum dsn_kind)(flags & 3);
	rep.ret = (enum dsn_ret)((flags >> 2) % 3);
	rep.smtputf8 = (flags & 0x10) != 0;
	rep.seven_bit_only = (flags & 0x80) != 0;
	rep.myhostname = "mx.example.org";
	rep.queue_id = "4ZxTqJ1Hbtz3Vn";
	rep.sender = f[0][0] != '\0' ? f[0] : "s@example.com";
	rep.now = 1790000000;
	rep.arrival = 1789990000;
	rep.content = f[6];
	rep.content_len = rep.content_size = flen[6];
	rep.bounce_size_limit = 4096;
	rep.rcpts = &r;
	rep.rcpt_count = 1;
	strbuf_init(&out, 1 << 22);
	check(dsn_bounce_write(&rep, &out, NULL, &error) == 0);
	size_t linelen = 0;
	for (size_t i = 0; i < out.len; i++) {
		unsigned char c = (unsigned char)out.data[i];

		if (c == '\r') {
			check(i + 1 < out.len && out.data[i + 1] == '\n');
			i++;
			linelen = 0;
			continue;
		}
		check(c != '\n');
		check(++linelen <= 998);
		if (rep.seven_bit_only && !rep.smtputf8)
			check(c < 0x80 && c != 0);
	}
	check(linelen == 0);
	strbuf_release(&out);
	free(buf);
	return 0;
}
