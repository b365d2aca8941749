/*
 * fuzz_mime - libFuzzer target for the message layer: the input is a
 * message parsed by mime_parse with small limits, whole and in 7-byte
 * chunks (the trees must be equal and consistent: offsets inside the
 * parent, sizes adding up, limits kept); then BODYSTRUCTURE, BODY and
 * ENVELOPE are written into a bounded buffer, and the header decoders
 * (RFC 2047 words, parameters, addresses) run on the input, and the
 * body decoders and the SEARCH matcher on every part's body.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/imap_bodystructure.h"
#include "mail/mime_decode.h"
#include "mail/mime_parse.h"
#include "mail/rfc822_header.h"
#include "mail/search_match.h"
#include "util/strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct mime_limits limits = {
    .max_depth = 8,
    .max_parts = 40,
    .max_header_size = 2048,
    .max_header_field = 512,
};

static void
check(int cond)
{
	if (!cond)
		abort();
}

static unsigned int
check_tree(const struct mime_part *part, uint64_t end, unsigned int depth)
{
	const struct mime_part *child;
	unsigned int count = 1, n = 0;
	uint64_t prev = part->body_offset;

	check(part->depth == depth && depth < limits.max_depth);
	check(part->header_offset + part->header.physical == part->body_offset);
	check(part->body_offset + part->body.physical <= end);
	check(part->header.virtual >= part->header.physical &&
	      part->body.virtual >= part->body.physical);
	check(part->header.lines <= part->header.physical &&
	      part->body.lines <= part->body.physical);
	for (child = part->children; child != NULL; child = child->next) {
		check(child->parent == part);
		check(child->header_offset >= prev);
		count += check_tree(
		    child, part->body_offset + part->body.physical, depth + 1);
		prev = child->body_offset + child->body.physical;
		n++;
	}
	check(n == part->children_count);
	if ((part->flags & MIME_PART_FLAG_MESSAGE) != 0)
		check(n <= 1);
	if ((part->flags &
	     (MIME_PART_FLAG_MESSAGE | MIME_PART_FLAG_MULTIPART)) == 0)
		check(n == 0);
	return count;
}

static int
same_tree(const struct mime_part *a, const struct mime_part *b)
{
	for (; a != NULL && b != NULL; a = a->next, b = b->next) {
		if (a->flags != b->flags ||
		    a->header_offset != b->header_offset ||
		    a->body_offset != b->body_offset ||
		    memcmp(&a->header, &b->header, sizeof(a->header)) != 0 ||
		    memcmp(&a->body, &b->body, sizeof(a->body)) != 0 ||
		    !same_tree(a->children, b->children))
			return 0;
	}
	return a == NULL && b == NULL;
}

/* Decodes each part's body as base64 and as quoted-printable in 5-byte
   pieces, searching the result for a key split across pieces. */
static void
decode_bodies(const uint8_t *data, const struct mime_part *part)
{
	static const enum mime_encoding encs[] = {MIME_ENCODING_BASE64,
						  MIME_ENCODING_QP};
	const struct mime_part *child;
	unsigned int i;

	for (i = 0; i < 2; i++) {
		struct mime_decoder dec;
		struct search_match m;
		struct strbuf out;
		uint64_t off;

		strbuf_init(&out, 1 << 20);
		mime_decoder_init(&dec, encs[i]);
		check(search_match_init(&m,
					"\xc3\x9f"
					"a",
					3, 64) == 0);
		for (off = 0; off < part->body.physical; off += 5) {
			uint64_t n = part->body.physical - off < 5
					 ? part->body.physical - off
					 : 5;

			strbuf_reset(&out);
			check(mime_decoder_feed(&dec,
						data + part->body_offset + off,
						(size_t)n, &out) == 0);
			(void)search_match_feed(&m, out.data, out.len);
		}
		strbuf_reset(&out);
		check(mime_decoder_finish(&dec, &out) == 0);
		(void)search_match_feed(&m, out.data, out.len);
		(void)search_match_finish(&m);
		search_match_deinit(&m);
		strbuf_release(&out);
	}
	for (child = part->children; child != NULL; child = child->next)
		decode_bodies(data, child);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_parser *p;
	struct mime_part *root, *root2;
	struct strbuf out;
	struct rfc822_lex lx;
	struct rfc822_params params;
	struct rfc822_address *addrs;
	size_t off;
	unsigned int i;

	root = mime_parse_message(data, size, &limits);
	p = mime_parser_new(&limits);
	for (off = 0; off < size; off += 7)
		mime_parser_feed(p, data + off,
				 size - off < 7 ? size - off : 7);
	root2 = mime_parser_finish(&p);
	check(same_tree(root, root2));
	check(root->header_offset == 0 &&
	      root->header.physical + root->body.physical == size);
	check(check_tree(root, size, 0) <= limits.max_parts + 1);

	decode_bodies(data, root);
	strbuf_init(&out, 1 << 20);
	(void)imap_bodystructure_write(&out, data, size, root, true);
	strbuf_reset(&out);
	(void)imap_bodystructure_write(&out, data, size, root, false);
	strbuf_reset(&out);
	check(imap_envelope_write(&out, data, (size_t)root->header.physical) ==
		  0 ||
	      out.len > 0);
	strbuf_reset(&out);

	(void)rfc822_decode_words(&out, (const char *)data, size);
	rfc822_lex_init(&lx, data, size, NULL);
	rfc822_params_parse(&lx, &params);
	for (i = 0; i < params.count; i++) {
		strbuf_reset(&out);
		(void)rfc822_param_decode(&out, &params.v[i]);
	}
	rfc822_params_free(&params);
	addrs = rfc822_address_parse((const char *)data, size, 100);
	rfc822_address_free(&addrs);
	strbuf_release(&out);
	mime_part_free(&root);
	mime_part_free(&root2);
	return 0;
}
