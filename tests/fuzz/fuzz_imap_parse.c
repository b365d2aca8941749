/*
 * fuzz_imap_parse - libFuzzer target for the IMAP command parser, driven
 * as the I/O layer drives it: the first byte chooses the flags (LITERAL+,
 * LITERAL-, BINARY, streaming allowed, streaming chosen) and the rest is the
 * client byte stream, split into CRLF (or LF) lines, literals taken by size.
 * Parsed FETCH, UID FETCH and SEARCH commands go on through their item and
 * program parsers. Checks invariants and aborts when one breaks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/imap_fetch_parse.h"
#include "mail/imap_parse.h"
#include "mail/imap_search_parse.h"
#include "util/strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int cond)
{
	if (!cond)
		abort();
}

static void
check_args(const struct imap_arg *args, unsigned int count, unsigned int depth,
	   unsigned int *total)
{
	unsigned int i;

	check(depth <= 8);
	for (i = 0; i < count; i++) {
		const struct imap_arg *a = &args[i];

		(*total)++;
		switch (a->type) {
		case IMAP_ARG_ATOM:
		case IMAP_ARG_NIL:
		case IMAP_ARG_QUOTED:
			check(a->str != NULL && a->str[a->len] == '\0');
			check(a->len <= 1024);
			break;
		case IMAP_ARG_LITERAL:
			check(a->str != NULL && a->len == a->literal_size);
			check(a->len <= 256);
			break;
		case IMAP_ARG_LITERAL_STREAM:
			check(a->str == NULL && a->literal_size <= 100000);
			break;
		case IMAP_ARG_LIST:
			check_args(a->list, a->count, depth + 1, total);
			break;
		}
	}
}

static void
run_fetch(const struct imap_command *cmd)
{
	static const struct imap_fetch_limits lim = {20, 20, 300};
	const struct imap_arg *args = cmd->args;
	unsigned int count = cmd->count;
	struct imap_fetch *fetch;
	const char *error;
	unsigned int i;

	if (strcmp(cmd->name, "UID") == 0) {
		if (count == 0 || !imap_arg_atom_equals(&args[0], "FETCH"))
			return;
		args++;
		count--;
	}
	if (count < 2 || count > 3)
		return;
	if (imap_fetch_parse(&args[1], count == 3 ? &args[2] : NULL, &lim, 0x07,
			     &fetch, &error) < 0) {
		check(fetch == NULL && error != NULL);
		return;
	}
	check(fetch->body_count <= lim.max_items);
	for (i = 0; i < fetch->body_count; i++) {
		const struct imap_fetch_body *b = &fetch->bodies[i];

		check(b->name != NULL && strlen(b->name) <= lim.max_name);
		check(b->field_count <= lim.max_fields);
		check(!b->partial || b->size > 0);
	}
	imap_fetch_free(&fetch);
	check(fetch == NULL);
}

static void
run_search(const struct imap_command *cmd)
{
	static const struct imap_search_limits lim = {50, 10, 20};
	struct imap_search_program *prog;
	const char *error;
	struct strbuf sb;

	if (strcmp(cmd->name, "SEARCH") != 0)
		return;
	if (imap_search_parse(cmd->args, cmd->count, &lim, 0x07, &prog,
			      &error) < 0) {
		check(prog == NULL && error != NULL);
		return;
	}
	check(prog->node_count <= lim.max_nodes);
	strbuf_init(&sb, STRBUF_UNLIMITED);
	check(imap_search_program_dump(prog, &sb) == 0);
	strbuf_release(&sb);
	imap_search_program_free(&prog);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parse_limits lim = {
	    .max_line = 1024,
	    .max_literal = 256,
	    .max_command = 4096,
	    .max_depth = 8,
	    .max_args = 100,
	};
	const char *in = (const char *)data + 1;
	size_t len, pos = 0;
	struct imap_parser *p;
	enum imap_parse_result r = IMAP_PARSE_ERROR;
	int commands = 0;

	if (size == 0)
		return 0;
	lim.flags = data[0] & 0x07;
	if (data[0] & 0x08)
		lim.max_stream_literal = 100000;
	len = size - 1;
	p = imap_parser_new(&lim);
	while (pos < len && commands < 20) {
		const char *nl = memchr(in + pos, '\n', len - pos);
		size_t line_len =
		    nl != NULL ? (size_t)(nl - in) - pos : len - pos;
		size_t skip = line_len + (nl != NULL ? 1 : 0);

		if (line_len > 0 && in[pos + line_len - 1] == '\r')
			line_len--;
		r = imap_parser_feed_line(p, in + pos, line_len);
		pos += skip;
		if (r == IMAP_PARSE_LITERAL) {
			const struct imap_literal_info *li =
			    imap_parser_literal(p);
			size_t left = len - pos, used, half;

			check(li->size <= 100000);
			check(li->size <= lim.max_literal || li->must_stream);
			if (li->must_stream ||
			    (lim.max_stream_literal > 0 && (data[0] & 0x10))) {
				check(imap_parser_literal_streamed(p) == 0);
				pos +=
				    li->size < left ? (size_t)li->size : left;
				continue;
			}
			if (li->size > left)
				break;
			/* in two pieces, as a network read would */
			half = (size_t)li->size / 2;
			check(imap_parser_feed_literal(p, in + pos, half,
						       &used) ==
			      (li->size == 0 ? 1 : 0));
			check(used == half);
			if (li->size > 0) {
				check(imap_parser_feed_literal(
					  p, in + pos + half, left - half,
					  &used) == 1);
				check(used == li->size - half);
			}
			pos += (size_t)li->size;
			continue;
		}
		if (r == IMAP_PARSE_DONE) {
			const struct imap_command *cmd = imap_parser_command(p);
			unsigned int total = 0;
			struct strbuf sb;

			check(cmd != NULL && cmd->name[0] != '\0');
			check(strlen(cmd->tag) <= IMAP_PARSE_TAG_MAX);
			check_args(cmd->args, cmd->count, 0, &total);
			check(total <= lim.max_args);
			strbuf_init(&sb, STRBUF_UNLIMITED);
			check(imap_args_dump(&sb, cmd->args, cmd->count) == 0);
			strbuf_release(&sb);
			if (strcmp(cmd->name, "SEARCH") == 0)
				run_search(cmd);
			else
				run_fetch(cmd);
		} else {
			const struct imap_parse_error *e = imap_parser_error(p);
			size_t i;

			check(e->text[0] != '\0');
			for (i = 0; e->text[i] != '\0'; i++)
				check(e->text[i] >= 32 && e->text[i] < 127);
			if (e->fatal)
				break;
		}
		imap_parser_reset(p);
		commands++;
	}
	imap_parser_free(&p);
	return 0;
}
