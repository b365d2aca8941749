/*
 * smtp_data - DATA phase unstuffing and strict end-of-data detection (see
 * smtp_data.h). Input is untrusted; every byte is looked at once and the
 * output is bounded by the input plus one held-back <CR>. Must stay pure.
 */
#include "mail/smtp_data.h"

enum smtp_data_state {
	DATA_BOL = 0, /* at the start of a line */
	DATA_MID,     /* inside a line */
	DATA_CR,      /* <CR> seen inside a line (held back) */
	DATA_DOT,     /* "." at the start of a line (dropped) */
	DATA_DOT_CR,  /* ".<CR>" at the start of a line */
};

void
smtp_data_init(struct smtp_data *data)
{
	data->state = DATA_BOL;
}

enum smtp_data_status
smtp_data_parse(struct smtp_data *data, const char *in, size_t in_len,
		char *out, size_t *out_len_r, size_t *consumed_r)
{
	enum smtp_data_status status = SMTP_DATA_MORE;
	size_t i, o = 0;

	for (i = 0; i < in_len && status == SMTP_DATA_MORE; i++) {
		char c = in[i];

		switch (data->state) {
		case DATA_BOL:
			if (c == '.') {
				data->state = DATA_DOT;
				break;
			}
			/* fall through */
		case DATA_MID:
			if (c == '\r') {
				data->state = DATA_CR;
			} else if (c == '\n') {
				status = SMTP_DATA_BARE_LF;
			} else {
				out[o++] = c;
				data->state = DATA_MID;
			}
			break;
		case DATA_DOT:
			/* The leading dot is dropped (RFC 5321 4.5.2). */
			if (c == '\r') {
				data->state = DATA_DOT_CR;
			} else if (c == '\n') {
				status = SMTP_DATA_BARE_LF;
			} else {
				out[o++] = c;
				data->state = DATA_MID;
			}
			break;
		case DATA_CR:
			if (c == '\n') {
				out[o++] = '\r';
				out[o++] = '\n';
				data->state = DATA_BOL;
			} else {
				status = SMTP_DATA_BARE_CR;
			}
			break;
		case DATA_DOT_CR:
			status = c == '\n' ? SMTP_DATA_END : SMTP_DATA_BARE_CR;
			break;
		}
	}
	*out_len_r = o;
	*consumed_r = i;
	return status;
}
