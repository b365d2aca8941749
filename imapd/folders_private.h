/*
 * folders_private - between imapd's folder commands: the name helpers and
 * the imap_special_use mapping (folders.c), STATUS items (cmd_status.c)
 * and the command handlers listed in imap_cmds_list (cmd_list.c).
 */
#ifndef FOLDERS_PRIVATE_H
#define FOLDERS_PRIVATE_H

#include <stdbool.h>

#include "imapd.h"

/* Longest mailbox name or pattern argument accepted (bytes). */
#define FOLDERS_ARG_MAX 4096

/* Logs the error and sends "NO [SERVERBUG]" as Dovecot words it. */
void folders_send_serverbug(struct imap_client *c, const char *what,
			    const char *error);
/* A name or pattern from the client as UTF-8 (allocated; mUTF-7 decoded
 * unless UTF8=ACCEPT/IMAP4rev2 is enabled), or NULL when it is invalid. */
char *folders_decode_name(struct imap_client *c, const char *s);
/* Decodes and checks a mailbox argument: the canonical name (allocated),
 * or NULL with the reply sent. Names breaking the rules get NO, as
 * Dovecot. */
char *folders_arg_checked(struct imap_client *c, const struct imap_arg *arg);
/* Appends a mailbox name for a reply (quoted or literal, mUTF-7 or
 * UTF-8 as the client enabled). */
void folders_append_name(struct imap_client *c, struct strbuf *sb,
			 const char *name);
/* Sends "NO [NONEXISTENT] Mailbox doesn't exist: name". */
void folders_send_nonexistent(struct imap_client *c, const char *name);
/* The special-use attribute ("\Sent") of the canonical name per
 * imap_special_use, or NULL (a per-thread buffer). With name NULL, calls
 * fn for each valid entry instead and returns NULL. */
const char *folders_special_use_of(const char *name,
				   void (*fn)(void *ctx, const char *use,
					      const char *folder),
				   void *ctx);

/* STATUS items (cmd_status.c): the bits of a STATUS item list, 0 (BAD
 * sent) when invalid; and one "* STATUS" line for dir. */
unsigned int cmd_status_items_parse(struct imap_client *c,
				    const struct imap_arg *arg);
int cmd_status_send(struct imap_client *c, const char *name, const char *dir,
		    unsigned int items, const char **error_r);

/* The command handlers (imap_command_def's fn). */
void cmd_create(struct imap_client *c, const struct imap_arg *args,
		unsigned int count);
void cmd_delete(struct imap_client *c, const struct imap_arg *args,
		unsigned int count);
void cmd_rename(struct imap_client *c, const struct imap_arg *args,
		unsigned int count);
void cmd_subscribe(struct imap_client *c, const struct imap_arg *args,
		   unsigned int count);
void cmd_unsubscribe(struct imap_client *c, const struct imap_arg *args,
		     unsigned int count);
void cmd_status(struct imap_client *c, const struct imap_arg *args,
		unsigned int count);
void cmd_getquotaroot(struct imap_client *c, const struct imap_arg *args,
		      unsigned int count);
void cmd_getquota(struct imap_client *c, const struct imap_arg *args,
		  unsigned int count);
void cmd_setquota(struct imap_client *c, const struct imap_arg *args,
		  unsigned int count);

#endif
