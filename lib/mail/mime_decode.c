/*
 * mime_decode - streaming base64 and quoted-printable decoders (see
 * mime_decode.h). Input is untrusted message body data; state is bounded.
 * No I/O, no logging.
 */
#include "mail/mime_decode.h"

#include <strings.h>

#include "util/base64.h"
#include "util/strbuf.h"

enum mime_encoding
mime_encoding_from_name(const char *name)
{
	if (name == NULL || strcasecmp(name, "7bit") == 0 ||
	    strcasecmp(name, "8bit") == 0 || strcasecmp(name, "binary") == 0)
		return MIME_ENCODING_7BIT;
	if (strcasecmp(name, "base64") == 0)
		return MIME_ENCODING_BASE64;
	if (strcasecmp(name, "quoted-printable") == 0)
		return MIME_ENCODING_QP;
	return MIME_ENCODING_UNKNOWN;
}

void
mime_decoder_init(struct mime_decoder *dec, enum mime_encoding enc)
{
	*dec = (struct mime_decoder){.enc = enc};
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
b64_feed(struct mime_decoder *dec, const unsigned char *d, size_t len,
	 struct strbuf *out)
{
	size_t i;

	for (i = 0; i < len; i++) {
		int v = base64_value(d[i]);

		if (v < 0) {
			if (d[i] == '=') {
				/* padding ends a quantum */
				dec->bits = 0;
				dec->acc = 0;
			} else if (d[i] != '\r' && d[i] != '\n' &&
				   d[i] != ' ' && d[i] != '\t') {
				dec->broken = true;
			}
			continue;
		}
		dec->acc = ((dec->acc << 6) | (unsigned int)v) & 0xffffff;
		dec->bits += 6;
		if (dec->bits >= 8) {
			dec->bits -= 8;
			if (strbuf_append_char(
				out, (char)((dec->acc >> dec->bits) & 0xff)) <
			    0)
				return -1;
		}
	}
	return 0;
}

static int
flush_ws(struct mime_decoder *dec, struct strbuf *out)
{
	int ret = strbuf_append(out, dec->ws, dec->ws_len);

	dec->ws_len = 0;
	return ret;
}

/* One byte of quoted-printable outside an escape. */
static int
qp_plain(struct mime_decoder *dec, unsigned char c, struct strbuf *out)
{
	if (c == ' ' || c == '\t') {
		if (dec->ws_len == sizeof(dec->ws) && flush_ws(dec, out) < 0)
			return -1;
		dec->ws[dec->ws_len++] = (char)c;
		return 0;
	}
	if (c == '\r' || c == '\n') {
		/* blanks at the end of a line are transport padding */
		dec->ws_len = 0;
		return strbuf_append_char(out, (char)c);
	}
	if (flush_ws(dec, out) < 0)
		return -1;
	return strbuf_append_char(out, (char)c);
}

static int
qp_feed(struct mime_decoder *dec, const unsigned char *d, size_t len,
	struct strbuf *out)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = d[i];

		if (dec->esc_len == 0) {
			if (c == '=') {
				if (flush_ws(dec, out) < 0)
					return -1;
				dec->esc[dec->esc_len++] = '=';
			} else if (qp_plain(dec, c, out) < 0) {
				return -1;
			}
			continue;
		}
		if (dec->esc_len == 1) {
			if (c == '\n') {
				dec->esc_len = 0; /* soft line break */
			} else if (c == '\r' || hexval(c) >= 0) {
				dec->esc[dec->esc_len++] = (char)c;
			} else {
				dec->broken = true;
				dec->esc_len = 0;
				if (strbuf_append_char(out, '=') < 0 ||
				    qp_plain(dec, c, out) < 0)
					return -1;
			}
			continue;
		}
		/* esc_len == 2 */
		if (dec->esc[1] == '\r') {
			dec->esc_len = 0;
			if (c == '\n')
				continue; /* soft line break */
			dec->broken = true;
			if (strbuf_append(out, "=\r", 2) < 0 ||
			    qp_plain(dec, c, out) < 0)
				return -1;
			continue;
		}
		dec->esc_len = 0;
		if (hexval(c) >= 0) {
			if (strbuf_append_char(
				out,
				(char)(hexval((unsigned char)dec->esc[1]) * 16 +
				       hexval(c))) < 0)
				return -1;
			continue;
		}
		dec->broken = true;
		if (strbuf_append(out, dec->esc, 2) < 0 ||
		    qp_plain(dec, c, out) < 0)
			return -1;
	}
	return 0;
}

int
mime_decoder_feed(struct mime_decoder *dec, const void *data, size_t len,
		  struct strbuf *out)
{
	switch (dec->enc) {
	case MIME_ENCODING_BASE64:
		return b64_feed(dec, data, len, out);
	case MIME_ENCODING_QP:
		return qp_feed(dec, data, len, out);
	default:
		return strbuf_append(out, data, len);
	}
}

int
mime_decoder_finish(struct mime_decoder *dec, struct strbuf *out)
{
	int ret = 0;

	if (dec->enc == MIME_ENCODING_BASE64) {
		if (dec->bits >= 6)
			dec->broken = true; /* a lone sextet */
		dec->bits = 0;
	} else if (dec->enc == MIME_ENCODING_QP) {
		if (dec->esc_len > 0) {
			dec->broken = true;
			ret = strbuf_append(out, dec->esc, dec->esc_len);
			dec->esc_len = 0;
		}
		dec->ws_len = 0; /* trailing blanks are padding */
	}
	return ret;
}
