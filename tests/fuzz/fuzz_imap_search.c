/*
 * fuzz_imap_search - libFuzzer target for the SEARCH program parser and
 * the sequence-set and date parsers under it. The first byte chooses the
 * flags (RETURN, MODSEQ, "$"); the rest is one line following "a SEARCH ".
 * The same bytes are also tried as a sequence set (resolved, iterated,
 * formatted and parsed back) and as a date and a date-time. Checks
 * invariants and aborts when one breaks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/imap_date.h"
#include "mail/imap_parse.h"
#include "mail/imap_search_parse.h"
#include "mail/imap_seqset.h"
#include "util/strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int cond)
{
	if (!cond)
		abort();
}

static unsigned int
node_depth(const struct imap_search_node *n)
{
	unsigned int max = 0;

	for (n = n->children; n != NULL; n = n->next) {
		unsigned int d = node_depth(n);

		if (d > max)
			max = d;
	}
	return max + 1;
}

static void
run_seqset(const char *s, size_t len, uint32_t star)
{
	struct imap_seqset set, again;
	struct imap_seqset_iter it = {0};
	const char *error;
	struct strbuf sb;
	uint32_t n, prev = 0;
	unsigned int i, steps = 0;

	if (imap_seqset_parse(s, len, 16, true, &set, &error) < 0) {
		check(error != NULL);
		imap_seqset_release(&set);
		return;
	}
	imap_seqset_resolve(&set, star);
	for (i = 0; i < set.count; i++) {
		check(set.ranges[i].first >= 1);
		check(set.ranges[i].first <= set.ranges[i].last);
		if (i > 0)
			check(set.ranges[i].first >
			      (uint64_t)set.ranges[i - 1].last + 1);
	}
	while (steps < 1000 && imap_seqset_next(&set, &it, &n)) {
		check(n > prev || steps == 0);
		check(imap_seqset_contains(&set, n));
		prev = n;
		steps++;
	}
	strbuf_init(&sb, STRBUF_UNLIMITED);
	check(imap_seqset_format(&set, &sb) == 0);
	if (!set.saved && set.count > 0) {
		check(imap_seqset_parse(sb.data, sb.len, 16, false, &again,
					&error) == 0);
		imap_seqset_resolve(&again, star);
		check(again.count == set.count);
		check(imap_seqset_count(&again) == imap_seqset_count(&set));
		imap_seqset_release(&again);
	}
	strbuf_release(&sb);
	imap_seqset_release(&set);
}

static void
run_dates(const char *s, size_t len)
{
	struct imap_date d;
	struct strbuf sb;
	int64_t t, t2;
	int tz, tz2;

	strbuf_init(&sb, 100);
	if (imap_date_parse(s, len, &d) == 0) {
		check(d.month >= 1 && d.month <= 12 && d.day >= 1 &&
		      d.day <= 31);
		check(imap_date_format(&sb, &d) == 0);
	}
	strbuf_reset(&sb);
	if (imap_datetime_parse(s, len, &t, &tz) == 0) {
		check(imap_datetime_format(&sb, t, tz) == 0);
		check(sb.len == 28);
		check(imap_datetime_parse(sb.data + 1, sb.len - 2, &t2, &tz2) ==
		      0);
		check(t == t2 && tz == tz2);
	}
	strbuf_release(&sb);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct imap_parse_limits plim = {
	    .max_line = 2048,
	    .max_literal = 0,
	    .max_command = 2048,
	    .max_depth = 30,
	    .max_args = 500,
	};
	static const struct imap_search_limits slim = {100, 20, 16};
	struct imap_parser *p;
	struct imap_search_program *prog;
	const char *error;
	struct strbuf line;

	if (size == 0 || size > 2000)
		return 0;
	run_seqset((const char *)data + 1, size - 1, data[0] & 0x03 ? 0 : 7);
	run_dates((const char *)data + 1, size - 1);
	strbuf_init(&line, STRBUF_UNLIMITED);
	strbuf_append_str(&line, "a SEARCH ");
	strbuf_append(&line, data + 1, size - 1);
	p = imap_parser_new(&plim);
	if (imap_parser_feed_line(p, line.data, line.len) == IMAP_PARSE_DONE) {
		const struct imap_command *cmd = imap_parser_command(p);

		if (imap_search_parse(cmd->args, cmd->count, &slim,
				      data[0] & 0x07, &prog, &error) == 0) {
			struct strbuf sb;

			check(prog->node_count <= slim.max_nodes);
			/* the root AND plus max_depth levels below it */
			check(node_depth(prog->root) <= slim.max_depth + 2);
			strbuf_init(&sb, STRBUF_UNLIMITED);
			check(imap_search_program_dump(prog, &sb) == 0);
			strbuf_release(&sb);
			imap_search_program_free(&prog);
			check(prog == NULL);
		} else {
			check(prog == NULL && error != NULL);
		}
	}
	imap_parser_free(&p);
	strbuf_release(&line);
	return 0;
}
