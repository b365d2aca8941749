/*
 * fuzz_maildir - libFuzzer target for what the Maildir storage reads from
 * disk or gets from clients: dovecot-uidlist, dovecot-keywords, Maildir
 * file names and modified UTF-7 folder names. The first byte chooses the
 * parser. Checks: a parsed uidlist serializes to something that parses
 * again to the same records; keywords round-trip; a decodable mUTF-7 name
 * re-encodes to a name that decodes to the same UTF-8.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/maildir_keywords.h"
#include "mail/maildir_name.h"
#include "mail/maildir_uidlist.h"
#include "mail/mutf7.h"
#include "util/strbuf.h"
#include "util/xmem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int cond)
{
	if (!cond)
		abort();
}

static void
fuzz_uidlist(const char *p, size_t n)
{
	struct maildir_uidlist *a, *b;
	const char *error;
	size_t len;
	char *out;

	if (maildir_uidlist_parse(p, n, &a, &error) < 0)
		return;
	out = maildir_uidlist_serialize(a, &len);
	check(maildir_uidlist_parse(out, len, &b, &error) == 0);
	check(a->count == b->count && a->next_uid == b->next_uid &&
	      a->uid_validity == b->uid_validity);
	for (size_t i = 0; i < a->count; i++) {
		check(a->recs[i].uid == b->recs[i].uid);
		check(strcmp(a->recs[i].filename, b->recs[i].filename) == 0);
		check(maildir_uidlist_lookup(b, a->recs[i].uid) != NULL);
	}
	xfree(&out);
	maildir_uidlist_free(&a);
	maildir_uidlist_free(&b);
}

static void
fuzz_keywords(const char *p, size_t n)
{
	struct maildir_keywords a, b;
	const char *error;
	size_t len;
	char *out;

	if (maildir_keywords_parse(p, n, &a, &error) < 0)
		return;
	out = maildir_keywords_serialize(&a, &len);
	check(maildir_keywords_parse(out, len, &b, &error) == 0);
	for (size_t i = 0; i < MAILDIR_KEYWORDS_MAX; i++)
		check((a.names[i] == NULL) == (b.names[i] == NULL) &&
		      (a.names[i] == NULL ||
		       strcmp(a.names[i], b.names[i]) == 0));
	xfree(&out);
	maildir_keywords_clear(&a);
	maildir_keywords_clear(&b);
}

static void
fuzz_mutf7(const char *s)
{
	struct strbuf utf8, enc, again;

	strbuf_init(&utf8, 4096);
	strbuf_init(&enc, 16384);
	strbuf_init(&again, 4096);
	if (mutf7_decode(s, &utf8) == 0) {
		check(mutf7_encode(strbuf_cstr(&utf8), &enc) == 0);
		check(mutf7_decode(strbuf_cstr(&enc), &again) == 0);
		check(again.len == utf8.len &&
		      memcmp(strbuf_cstr(&again), strbuf_cstr(&utf8),
			     utf8.len) == 0);
	}
	strbuf_reset(&enc);
	(void)mutf7_encode(s, &enc);
	strbuf_release(&utf8);
	strbuf_release(&enc);
	strbuf_release(&again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct maildir_name mn;
	char *s;

	if (size < 1)
		return 0;
	s = xstrndup((const char *)data + 1, size - 1);
	switch (data[0] % 4) {
	case 0:
		fuzz_uidlist((const char *)data + 1, size - 1);
		break;
	case 1:
		fuzz_keywords((const char *)data + 1, size - 1);
		break;
	case 2:
		fuzz_mutf7(s);
		break;
	default:
		if (maildir_name_parse(s, &mn) == 0)
			check(mn.base_len <= strlen(s));
		break;
	}
	xfree(&s);
	return 0;
}
