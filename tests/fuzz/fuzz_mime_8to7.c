/*
 * fuzz_mime_8to7 - libFuzzer target for the 8-bit to 7-bit MIME
 * conversion (lib/mail/mime_8to7.c): the input is a message converted
 * whole, in 7-byte and in 1-byte chunks; the outputs, flags and results
 * must agree, an output without MIME_8TO7_CHANGED must equal the input,
 * and one without MIME_8TO7_8BIT_LEFT must hold no 8-bit octet.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/mime_8to7.h"
#include "util/strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int cond)
{
	if (!cond)
		abort();
}

static int
collect(void *ctx, const char *data, size_t len)
{
	return strbuf_append(ctx, data, len);
}

static int
run(const uint8_t *data, size_t size, size_t chunk, struct strbuf *out,
    unsigned int *flags_r)
{
	struct mime_8to7 *m = mime_8to7_new(collect, out);
	int ret = 0;

	for (size_t off = 0; off < size && ret == 0; off += chunk)
		ret = mime_8to7_feed(m, data + off,
				     size - off < chunk ? size - off : chunk);
	if (ret == 0)
		ret = mime_8to7_finish(m);
	*flags_r = mime_8to7_flags(m);
	mime_8to7_free(&m);
	return ret;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t chunks[] = {7, 1};
	struct strbuf out, out2;
	unsigned int flags, flags2;
	int ret, ret2;

	strbuf_init(&out, STRBUF_UNLIMITED);
	ret = run(data, size, size > 0 ? size : 1, &out, &flags);
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		strbuf_init(&out2, STRBUF_UNLIMITED);
		ret2 = run(data, size, chunks[i], &out2, &flags2);
		check(ret2 == ret && flags2 == flags && out2.len == out.len);
		check(out.len == 0 ||
		      memcmp(out.data, out2.data, out.len) == 0);
		strbuf_release(&out2);
	}
	if (ret == 0 && (flags & MIME_8TO7_CHANGED) == 0)
		check(out.len == size &&
		      (size == 0 || memcmp(out.data, data, size) == 0));
	if ((flags & MIME_8TO7_8BIT_LEFT) == 0)
		for (size_t i = 0; i < out.len; i++)
			check((unsigned char)out.data[i] < 0x80);
	check(ret == 0 || (flags & MIME_8TO7_ERR_NESTING) != 0);
	strbuf_release(&out);
	return 0;
}
