/*
 * queue_list - lists the mail queue as Postfix's mailq (postqueue -p)
 * and postqueue -j do, and shows one message as postcat does. Shared by
 * "dovetail queue" and mailq. Queue files are parsed by queue_file with
 * its limits; envelope strings and reply texts are hostile and are made
 * safe for a terminal (control characters shown as '?') and for JSON
 * (escaped, invalid UTF-8 replaced by U+FFFD). Reads the queue only;
 * never logs.
 */
#ifndef QUEUE_LIST_H
#define QUEUE_LIST_H

#include <stdbool.h>
#include <stdint.h>

#include "mail/queue_file.h"

struct strbuf;

/* Queue directories in listing order (Postfix's showq order), with the
 * mark mailq puts after the ID ('*' active, '!' hold). */
struct queue_list_dir {
	const char *name;
	char mark;
};
extern const struct queue_list_dir queue_list_dirs[];
extern const unsigned int queue_list_dir_count;

/* Called for each parsed message; return -1 to stop the scan. msg is
 * freed after the call. */
typedef int queue_list_cb(const char *queue_name, struct queue_msg *msg,
			  void *ctx);

/*
 * Calls cb for every queue file in incoming/, active/, deferred/ and
 * hold/ under queue_dir (files whose name is not a queue ID are skipped;
 * files that vanish or do not parse are skipped, as a message moves
 * between queues while we read). -1 with *error_r (valid until the next
 * call) when a queue directory can not be read or cb stopped the scan.
 */
int queue_list_scan(const char *queue_dir, queue_list_cb *cb, void *ctx,
		    const char **error_r);

/* Appends one message in mailq format (sender line, then each recipient
 * not yet done, preceded by "(reason)" when it changes). No blank line
 * before or after. Returns the message size. */
uint64_t queue_list_format_text(const char *queue_name,
				const struct queue_msg *msg,
				struct strbuf *out);
/* mailq's heading line (Postfix's long-queue-ID layout). */
void queue_list_heading(struct strbuf *out);
/* "\n-- N Kbytes in M Requests.\n" or "Mail queue is empty\n". */
void queue_list_summary(uint64_t bytes, unsigned int requests,
			struct strbuf *out);

/* Appends one message as one line of postqueue -j JSON:
 * {"queue_name": ..., "queue_id": ..., "arrival_time": N,
 *  "message_size": N, "forced_expire": false, "sender": ...,
 *  "recipients": [{"address": ..., "delay_reason": ...}, ...]} + "\n". */
void queue_list_format_json(const char *queue_name, const struct queue_msg *msg,
			    struct strbuf *out);

/* Appends s as a JSON string (with the quotes). */
void queue_list_json_string(struct strbuf *out, const char *s, size_t len);
/* Appends s with control characters shown as '?'. */
void queue_list_safe_text(struct strbuf *out, const char *s);

/* The name of an envelope attribute as stored ("client_name"). */
const char *queue_list_attr_name(enum queue_attr attr);

/* Writes a whole mailq listing of queue_dir to stdout (text or JSON).
 * 0, or -1 with *error_r. */
int queue_list_print(const char *queue_dir, bool json, const char **error_r);

#endif
