/* mailbox_dump - test helper over lib/mail/mailbox and pop3_uidl: opens
 * (and so syncs) the Maildir given on the command line the way a POP3
 * session would and prints "V <uidvalidity>" and then one line per
 * message, "<uid> <vsize> <uidl> <flags>" (UIDL in pop3_uidl_format,
 * default %08Xu%08Xv). Used by tests/interop/test_pop3_dovecot.py to
 * compare with what Dovecot's pop3 serves. Exits 1 on any error. */
#include <stdio.h>

#include "mail/mailbox.h"
#include "mail/pop3_uidl.h"
#include "util/strbuf.h"

int
main(int argc, char **argv)
{
	const char *format = argc > 2 ? argv[2] : "%08Xu%08Xv";
	struct mailbox *box;
	const char *error;
	struct strbuf sb;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: mailbox_dump MAILDIR [UIDL-FORMAT]\n");
		return 1;
	}
	if (pop3_uidl_check_format(format, &error) < 0 ||
	    mailbox_open(argv[1], NULL, &box, &error) < 0) {
		fprintf(stderr, "mailbox_dump: %s\n", error);
		return 1;
	}
	strbuf_init(&sb, 1024);
	printf("V %u\n", box->uid_validity);
	for (size_t i = 0; i < box->count; i++) {
		const struct mailbox_msg *msg = &box->msgs[i];
		struct pop3_uidl_vars vars = {msg->uid, box->uid_validity,
					      msg->filename};
		uint64_t vsize;

		strbuf_reset(&sb);
		if (mailbox_msg_vsize(box, i, &vsize, &error) < 0 ||
		    pop3_uidl_expand(format, &vars, &sb, &error) < 0) {
			fprintf(stderr, "mailbox_dump: %s\n", error);
			return 1;
		}
		printf("%u %llu %s %s\n", msg->uid, (unsigned long long)vsize,
		       strbuf_cstr(&sb), mailbox_msg_flags(msg));
	}
	strbuf_release(&sb);
	mailbox_close(&box);
	return 0;
}
