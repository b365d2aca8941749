/*
 * queue_file_private - helpers shared by the queue file writer and reader
 * (record framing and the per-thread error text). Not for other modules.
 */
#ifndef QUEUE_FILE_PRIVATE_H
#define QUEUE_FILE_PRIVATE_H

#include <stdarg.h>
#include <stddef.h>

#include "util/strbuf.h"

#define QUEUE_REC_VERSION 'V'
#define QUEUE_REC_TIME 'T'
#define QUEUE_REC_ATTR 'A'
#define QUEUE_REC_SENDER 'S'
#define QUEUE_REC_RCPT 'R'
#define QUEUE_REC_CONTENT 'M'
#define QUEUE_REC_END 'X'
#define QUEUE_REC_STATUS 'D'

/* Width of the M record's zero-padded content length. */
#define QUEUE_CONTENT_LEN_DIGITS 20
/* Longest record header "<type><10 digits>:". */
#define QUEUE_REC_HDR_MAX 12

/* Appends "<type><len>:<data>\n"; -1 if sb's max is exceeded. */
int queue_rec_append(struct strbuf *sb, char type, const void *data,
		     size_t len);
/* Appends the netstring "<len>:<data>,". */
int queue_field_append(struct strbuf *sb, const void *data, size_t len);
int queue_field_append_str(struct strbuf *sb, const char *s);

/* Formats an error into a per-thread buffer and returns it. */
const char *queue_file_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Attribute names as stored in A records (index: enum queue_attr). */
extern const char *const queue_attr_names[];

#endif
