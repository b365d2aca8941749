/*
 * search_body - the text of a message for SEARCH BODY and TEXT: header
 * fields with RFC 2047 words decoded, and the bodies of its text parts
 * (and the headers of encapsulated messages) decoded from base64 or
 * quoted-printable and converted to UTF-8 from their charset (iconv,
 * streaming: an incomplete sequence is carried to the next chunk). The
 * message is untrusted mail, mapped by the caller; it is read in chunks of
 * SEARCH_CHUNK bytes and never copied whole, and the walk over its MIME
 * tree (bounded by mime_parse's limits) is iterative.
 */
#include <errno.h>
#include <iconv.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "mail/mime_decode.h"
#include "mail/mime_parse.h"
#include "mail/rfc822_header.h"
#include "mail/search_match.h"
#include "search_eval.h"
#include "util/strbuf.h"

#define SEARCH_CHUNK 16384
#define SEARCH_MAX_FIELDS 10000

/* Feeds a header block, field by field with encoded words decoded. */
void
search_body_feed_header(struct search_match *sm,
			const struct rfc822_header *hdr)
{
	unsigned int i;

	for (i = 0; i < hdr->count && !sm->matched; i++) {
		const struct rfc822_field *f = &hdr->fields[i];
		struct strbuf dec;

		strbuf_init(&dec, f->value_len * 4 + 16);
		if (rfc822_decode_words(&dec, f->value, f->value_len) == 0) {
			(void)search_match_feed(sm, f->name, f->name_len);
			(void)search_match_feed(sm, ": ", 2);
			(void)search_match_feed(sm, strbuf_cstr(&dec), dec.len);
			(void)search_match_feed(sm, "\n", 1);
		}
		strbuf_release(&dec);
	}
}

/* Streaming conversion of a text part's charset to UTF-8. */
struct conv {
	enum { CONV_UTF8, CONV_LATIN1, CONV_ICONV } mode;
	iconv_t cd;
	struct strbuf carry; /* an incomplete sequence */
};

static void
conv_init(struct conv *cv, const char *charset)
{
	memset(cv, 0, sizeof(*cv));
	strbuf_init(&cv->carry, STRBUF_UNLIMITED);
	if (charset == NULL || strcasecmp(charset, "utf-8") == 0 ||
	    strcasecmp(charset, "us-ascii") == 0 ||
	    strcasecmp(charset, "ascii") == 0)
		cv->mode = CONV_UTF8;
	else if (strcasecmp(charset, "iso-8859-1") == 0 ||
		 strcasecmp(charset, "latin1") == 0)
		cv->mode = CONV_LATIN1;
	else if ((cv->cd = iconv_open("UTF-8", charset)) != (iconv_t)-1)
		cv->mode = CONV_ICONV;
	else
		cv->mode = CONV_UTF8; /* unknown: searched as it is */
}

static void
conv_feed(struct conv *cv, const char *data, size_t len,
	  struct search_match *sm)
{
	char out[4096];
	size_t i, o;

	if (cv->mode == CONV_UTF8) {
		(void)search_match_feed(sm, data, len);
		return;
	}
	if (cv->mode == CONV_LATIN1) {
		for (i = 0, o = 0; i < len; i++) {
			unsigned char ch = (unsigned char)data[i];

			if (ch < 0x80)
				out[o++] = (char)ch;
			else {
				out[o++] = (char)(0xc0 | (ch >> 6));
				out[o++] = (char)(0x80 | (ch & 0x3f));
			}
			if (o >= sizeof(out) - 2) {
				(void)search_match_feed(sm, out, o);
				o = 0;
			}
		}
		(void)search_match_feed(sm, out, o);
		return;
	}
	/* iconv: carry + data; an incomplete tail is carried over */
	(void)strbuf_append(&cv->carry, data, len);
	{
		char *in = cv->carry.data;
		size_t inleft = cv->carry.len;

		while (inleft > 0) {
			char *op = out;
			size_t oleft = sizeof(out);
			size_t r = iconv(cv->cd, &in, &inleft, &op, &oleft);
			int err = errno;

			(void)search_match_feed(sm, out, sizeof(out) - oleft);
			if (r != (size_t)-1 || err == E2BIG)
				continue;
			if (err == EINVAL)
				break; /* incomplete: wait for more */
			(void)search_match_feed(sm, "\xef\xbf\xbd", 3);
			in++;
			inleft--;
			iconv(cv->cd, NULL, NULL, NULL, NULL);
		}
		strbuf_consume(&cv->carry, cv->carry.len - inleft);
	}
}

static void
conv_finish(struct conv *cv, struct search_match *sm)
{
	if (cv->mode == CONV_ICONV) {
		if (cv->carry.len > 0)
			(void)search_match_feed(sm, "\xef\xbf\xbd", 3);
		iconv_close(cv->cd);
	}
	strbuf_release(&cv->carry);
}

/* Content-Type of a part: is it text (or absent), and its charset. */
static bool
part_text_info(const struct rfc822_header *hdr, char *charset,
	       size_t charset_size, enum mime_encoding *enc_r)
{
	const struct rfc822_field *f;
	struct strbuf type, subtype, tok;
	struct rfc822_lex lx;
	bool text = true;

	charset[0] = '\0';
	*enc_r = MIME_ENCODING_7BIT;
	if ((f = rfc822_header_find(hdr, "Content-Transfer-Encoding", false)) !=
	    NULL) {
		strbuf_init(&tok, 256);
		rfc822_lex_init(&lx, f->value, f->value_len, NULL);
		(void)rfc822_lex_skip_lwsp(&lx);
		if (rfc822_lex_mime_token(&lx, &tok) >= 0)
			*enc_r = mime_encoding_from_name(strbuf_cstr(&tok));
		strbuf_release(&tok);
	}
	if ((f = rfc822_header_find(hdr, "Content-Type", false)) == NULL)
		return true;
	strbuf_init(&type, 256);
	strbuf_init(&subtype, 256);
	rfc822_lex_init(&lx, f->value, f->value_len, NULL);
	if (rfc822_lex_content_type(&lx, &type, &subtype) == 0) {
		struct rfc822_params params;
		const char *cs;

		text = strcasecmp(strbuf_cstr(&type), "text") == 0;
		rfc822_params_parse(&lx, &params);
		if ((cs = rfc822_params_get(&params, "charset")) != NULL &&
		    strlen(cs) < charset_size)
			memcpy(charset, cs, strlen(cs) + 1);
		rfc822_params_free(&params);
	}
	strbuf_release(&type);
	strbuf_release(&subtype);
	return text;
}

/* Feeds the decoded text of every text part under part (iteratively in
   document order; the tree is bounded by mime_parse's limits). */
void
search_body_feed(const char *data, const struct mime_part *root,
		 struct search_match *sm)
{
	const struct mime_part *p = root;
	struct strbuf dec;

	strbuf_init(&dec, SEARCH_CHUNK * 2);
	while (p != NULL && !sm->matched) {
		/* the header of an encapsulated message is body text of the
		   outer one */
		if (p->parent != NULL &&
		    (p->parent->flags & MIME_PART_FLAG_MESSAGE) != 0) {
			struct rfc822_header h;

			rfc822_header_parse(data + p->header_offset,
					    (size_t)p->header.physical,
					    SEARCH_MAX_FIELDS, &h);
			search_body_feed_header(sm, &h);
			rfc822_header_free(&h);
		}
		if (p->children == NULL &&
		    (p->flags & MIME_PART_FLAG_MULTIPART) == 0) {
			struct rfc822_header h;
			enum mime_encoding enc;
			char charset[64];
			bool text;

			rfc822_header_parse(data + p->header_offset,
					    (size_t)p->header.physical,
					    SEARCH_MAX_FIELDS, &h);
			text =
			    part_text_info(&h, charset, sizeof(charset), &enc);
			rfc822_header_free(&h);
			if (text) {
				struct mime_decoder md;
				struct conv cv;
				const char *b = data + p->body_offset;
				uint64_t left = p->body.physical, n;

				mime_decoder_init(&md, enc);
				conv_init(&cv,
					  charset[0] != '\0' ? charset : NULL);
				while (left > 0 && !sm->matched) {
					n = left < SEARCH_CHUNK ? left
								: SEARCH_CHUNK;
					strbuf_reset(&dec);
					(void)mime_decoder_feed(&md, b, n,
								&dec);
					conv_feed(&cv, strbuf_cstr(&dec),
						  dec.len, sm);
					b += n;
					left -= n;
				}
				strbuf_reset(&dec);
				(void)mime_decoder_finish(&md, &dec);
				conv_feed(&cv, strbuf_cstr(&dec), dec.len, sm);
				conv_finish(&cv, sm);
				/* parts do not run into each other */
				(void)search_match_feed(sm, "\n", 1);
			}
		}
		/* next in document order */
		if (p->children != NULL)
			p = p->children;
		else {
			while (p != NULL && p->next == NULL)
				p = p->parent;
			if (p != NULL)
				p = p->next;
		}
	}
	strbuf_release(&dec);
}
