/*
 * fuzz_smtp_data - libFuzzer target for DATA end-of-data detection. The
 * first input byte picks a piece size; the rest is fed in pieces of that
 * size and, again, whole. Both runs must agree on status, consumed bytes
 * and output; the output never holds a bare CR or LF; on SMTP_DATA_END the
 * consumed input ends in CRLF "." CRLF and holds no earlier such sequence.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/smtp_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int cond)
{
	if (!cond)
		abort();
}

static enum smtp_data_status
feed(const char *in, size_t len, size_t step, char *out, size_t *out_len_r,
     size_t *consumed_r)
{
	enum smtp_data_status st = SMTP_DATA_MORE;
	struct smtp_data d;
	size_t pos = 0, o_total = 0;

	smtp_data_init(&d);
	while (pos < len && st == SMTP_DATA_MORE) {
		size_t n = len - pos < step ? len - pos : step, o, used;

		st = smtp_data_parse(&d, in + pos, n, out + o_total, &o, &used);
		check(used <= n && o <= n + 1);
		check(st != SMTP_DATA_MORE || used == n);
		o_total += o;
		pos += used;
	}
	*out_len_r = o_total;
	*consumed_r = pos;
	return st;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data + 1;
	size_t len, step, o1, o2, c1, c2;
	enum smtp_data_status s1, s2;
	char *out1, *out2;

	if (size < 1)
		return 0;
	len = size - 1;
	step = (size_t)data[0] % 17 + 1;
	out1 = malloc(len + 2);
	out2 = malloc(len + 2);
	s1 = feed(in, len, step, out1, &o1, &c1);
	s2 = feed(in, len, len + 1, out2, &o2, &c2);
	check(s1 == s2 && c1 == c2 && o1 == o2);
	check(o1 == 0 || memcmp(out1, out2, o1) == 0);
	for (size_t i = 0; i < o1; i++) {
		if (out1[i] == '\n')
			check(i > 0 && out1[i - 1] == '\r');
		if (out1[i] == '\r')
			check(i + 1 < o1 && out1[i + 1] == '\n');
	}
	if (s1 == SMTP_DATA_END) {
		/* "\r\n.\r\n" with the DATA line's CRLF as the first pair. */
		check(c1 >= 3 && memcmp(in + c1 - 3, ".\r\n", 3) == 0);
		check(c1 == 3 ||
		      (c1 >= 5 && in[c1 - 5] == '\r' && in[c1 - 4] == '\n'));
		for (size_t i = 0; i + 5 <= c1 - 3; i++)
			check(memcmp(in + i, "\r\n.\r\n", 5) != 0);
	}
	free(out1);
	free(out2);
	return 0;
}
