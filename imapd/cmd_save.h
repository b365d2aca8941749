/*
 * cmd_save.h - private to imapd's APPEND/COPY/MOVE modules (cmd_save.c,
 * cmd_append.c, cmd_copy.c): helpers they share. Inputs are as trusted
 * as in those files (client arguments untrusted, checked there).
 */
#ifndef IMAPD_CMD_SAVE_H
#define IMAPD_CMD_SAVE_H

#include <stddef.h>
#include <stdint.h>

#include "imapd.h"
#include "mail/mailbox.h"

#define SAVE_SERVERBUG_TEXT                                                    \
	"[SERVERBUG] Internal error occurred. Refer to server log for more "   \
	"information."

struct save_sysflag {
	const char *name;
	uint32_t flag;
	char letter;
};
#define SAVE_SYSFLAGS_COUNT 5
/* The system flags that can be stored, with their Maildir letters. */
extern const struct save_sysflag save_sysflags[SAVE_SYSFLAGS_COUNT];

/* The Maildir flag letters (sorted, as Maildir wants) of system flags
   plus keyword letters. */
void save_flag_letters(uint32_t flags, const char *kw_letters, char *out,
		       size_t out_size);
/* The target mailbox's directory, or NULL with the reply sent (BAD for a
   bad name, NO [TRYCREATE] when it does not exist). Caller frees. */
char *save_target_dir(struct imap_client *c, const struct imap_arg *arg);
/* The index in box of the file whose base (before ":2,") equals base, or
   -1. */
long save_find_base(const struct mailbox *box, const char *base,
		    size_t base_len);
/* The path of message idx of box. Caller frees. */
char *save_msg_path(const struct mailbox *box, size_t idx);

imap_command_fn cmd_append; /* cmd_append.c */
imap_command_fn cmd_copy;   /* cmd_copy.c */
imap_command_fn cmd_move;

#endif
