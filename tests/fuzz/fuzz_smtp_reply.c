/*
 * fuzz_smtp_reply - libFuzzer target for the SMTP reply reader: the input
 * is split at '\n' into lines fed one by one with small limits. Each
 * complete reply is written back with smtp_reply_format() and must read
 * back to the same code, enhanced code and text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/smtp_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int cond)
{
	if (!cond)
		abort();
}

static void
roundtrip(const struct smtp_reply *r)
{
	struct smtp_reply_limits big = {
	    .max_line = 1 << 20, .max_lines = 1 << 20, .max_total = 1 << 22};
	struct strbuf out;
	struct smtp_reply r2;
	const char *p, *crlf, *error;
	int ret = 0;

	strbuf_init(&out, 1 << 22);
	if (smtp_reply_format(&out, r->code, r->enhanced,
			      strbuf_cstr(&r->text)) < 0) {
		strbuf_release(&out);
		return;
	}
	smtp_reply_init(&r2, &big);
	for (p = out.data; (crlf = strstr(p, "\r\n")) != NULL; p = crlf + 2) {
		check(ret == 0);
		ret = smtp_reply_feed(&r2, p, (size_t)(crlf - p), &error);
	}
	check(ret == 1);
	check(r2.code == r->code);
	check(strcmp(r2.enhanced, r->enhanced) == 0);
	check(r2.text.len == r->text.len &&
	      memcmp(strbuf_cstr(&r2.text), strbuf_cstr(&r->text),
		     r->text.len) == 0);
	smtp_reply_deinit(&r2);
	strbuf_release(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_reply_limits lim = {
	    .max_line = 512, .max_lines = 8, .max_total = 2048};
	struct smtp_reply r;
	const char *s = (const char *)data, *nl, *error;
	size_t left = size;

	smtp_reply_init(&r, &lim);
	while (left > 0) {
		size_t len;
		int ret;

		nl = memchr(s, '\n', left);
		len = nl != NULL ? (size_t)(nl - s) : left;
		ret = smtp_reply_feed(&r, s, len, &error);
		if (ret < 0) {
			check(error != NULL);
			smtp_reply_reset(&r);
		} else if (ret == 1) {
			check(r.code >= 200 && r.code <= 599);
			check(r.lines <= lim.max_lines);
			check(r.text.len <= lim.max_total);
			roundtrip(&r);
			smtp_reply_reset(&r);
		}
		if (nl == NULL)
			break;
		left -= len + 1;
		s = nl + 1;
	}
	(void)smtp_reply_finish(&r, &error);
	smtp_reply_deinit(&r);
	return 0;
}
