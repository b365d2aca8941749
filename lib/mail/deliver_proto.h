/*
 * deliver_proto - the typed messages between qmgr and a delivery agent
 * (smtp in LMTP or SMTP mode) over $queue_directory/private/<transport>.
 *
 * Pure encode/decode: no I/O, no logging. Decoding trusts nothing: every
 * length is bounded and an unknown, malformed or out-of-order message is
 * an error (the caller then drops the connection).
 *
 * Wire format: each message is one frame, a netstring
 *     <decimal length> ':' <payload> ','
 * (length at most DELIVER_PROTO_MAX_FRAME) whose payload is a list of
 * netstrings ("<len>:<bytes>,"), the first being the message type.
 *
 * request  "deliver", queue_id, queue_file (path relative to
 *          queue_directory, e.g. "active/<ID>"), nexthop ("unix:/path",
 *          "inet:host:port"), sender, content_offset, content_size,
 *          arrival (microseconds since the epoch), active_time (sec.usec when
 * qmgr took it), envid, ret, body, smtputf8 ("0"/"1"), backlog ("0"/"1":
 *          qmgr has more mail for this destination), rcpt_count, then per
 *          recipient: index, address, orcpt, notify.
 * reply    "status", rcpt_count, then per recipient: index, action
 *          ("sent", "deferred", "bounced"), dsn ("2.0.0"), relay, text.
 * One request per connection turn: qmgr sends a request and waits for the
 * reply before it sends another on the same connection.
 */
#ifndef DELIVER_PROTO_H
#define DELIVER_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "util/strbuf.h"

#define DELIVER_PROTO_MAX_FRAME (16u * 1024 * 1024)
#define DELIVER_PROTO_MAX_RCPTS 10000
#define DELIVER_PROTO_MAX_FIELD 4096
#define DELIVER_PROTO_MAX_TEXT 8192

struct deliver_rcpt {
	unsigned int index; /* in the queue file */
	char *address;
	char *orcpt;	     /* "" when none */
	unsigned int notify; /* QUEUE_NOTIFY_* */
};

struct deliver_request {
	char *queue_id;
	char *queue_file;
	char *nexthop;
	char *sender;
	off_t content_offset;
	off_t content_size;
	unsigned long long arrival_us;
	char *active_time;	  /* "sec.usec" */
	char *envid, *ret, *body; /* "" when none */
	bool smtputf8;
	/* qmgr has more mail waiting for this (transport, nexthop): the
	 * agent may keep its connection open for it (Postfix's
	 * smtp_connection_cache_on_demand). */
	bool backlog;
	struct deliver_rcpt *rcpts;
	unsigned int rcpt_count;
};

enum deliver_action {
	DELIVER_SENT,
	DELIVER_DEFERRED,
	DELIVER_BOUNCED,
};

struct deliver_result {
	unsigned int index;
	enum deliver_action action;
	char *dsn;
	char *relay;
	char *text;
};

struct deliver_reply {
	struct deliver_result *results;
	unsigned int count;
};

/* Appends one framed request/reply to out. -1 when a field is over its
 * limit or out's maximum is reached. */
int deliver_proto_encode_request(struct strbuf *out,
				 const struct deliver_request *req);
int deliver_proto_encode_reply(struct strbuf *out,
			       const struct deliver_reply *reply);

/* Finds one frame at the start of buf: 1 with *payload_r, *payload_len_r
 * and *consumed_r (bytes of buf the frame used), 0 when more bytes are
 * needed, -1 and *error_r (static) when buf cannot start a valid frame. */
int deliver_proto_frame(const char *buf, size_t len, const char **payload_r,
			size_t *payload_len_r, size_t *consumed_r,
			const char **error_r);

/* Decode one frame payload into a new struct (free with the matching
 * free function). -1 and *error_r (static) when malformed. */
int deliver_proto_decode_request(const char *payload, size_t len,
				 struct deliver_request **req_r,
				 const char **error_r);
int deliver_proto_decode_reply(const char *payload, size_t len,
			       struct deliver_reply **reply_r,
			       const char **error_r);
void deliver_request_free(struct deliver_request **reqp);
void deliver_reply_free(struct deliver_reply **replyp);

const char *deliver_action_name(enum deliver_action action);

#endif
