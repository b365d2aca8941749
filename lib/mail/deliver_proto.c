/*
 * deliver_proto - encoder and strict decoder for the qmgr <-> delivery
 * agent messages (format in deliver_proto.h). Pure: no I/O, no logging,
 * no globals. Input from the peer is untrusted: every length is bounded,
 * every field count exact, numbers strictly decimal.
 */
#include "mail/deliver_proto.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xmem.h"

/* A cursor over a list of netstrings. */
struct dp_cursor {
	const char *p;
	size_t left;
};

static int
dp_put(struct strbuf *sb, const char *s, size_t max)
{
	size_t len = strlen(s);

	if (len > max)
		return -1;
	if (strbuf_printf(sb, "%zu:", len) < 0 ||
	    strbuf_append(sb, s, len) < 0 || strbuf_append_char(sb, ',') < 0)
		return -1;
	return 0;
}

static int
dp_put_num(struct strbuf *sb, unsigned long long v)
{
	char num[24];

	snprintf(num, sizeof(num), "%llu", v);
	return dp_put(sb, num, sizeof(num));
}

static int
dp_frame(struct strbuf *out, struct strbuf *payload)
{
	int ret = -1;

	if (payload->len <= DELIVER_PROTO_MAX_FRAME &&
	    strbuf_printf(out, "%zu:", payload->len) == 0 &&
	    strbuf_append(out, payload->data, payload->len) == 0 &&
	    strbuf_append_char(out, ',') == 0)
		ret = 0;
	strbuf_release(payload);
	return ret;
}

int
deliver_proto_encode_request(struct strbuf *out,
			     const struct deliver_request *req)
{
	struct strbuf p;
	int bad = 0;

	if (req->rcpt_count == 0 || req->rcpt_count > DELIVER_PROTO_MAX_RCPTS)
		return -1;
	strbuf_init(&p, DELIVER_PROTO_MAX_FRAME);
	bad |= dp_put(&p, "deliver", 16);
	bad |= dp_put(&p, req->queue_id, DELIVER_PROTO_MAX_FIELD);
	bad |= dp_put(&p, req->queue_file, DELIVER_PROTO_MAX_FIELD);
	bad |= dp_put(&p, req->nexthop, DELIVER_PROTO_MAX_FIELD);
	bad |= dp_put(&p, req->sender, DELIVER_PROTO_MAX_FIELD);
	bad |= dp_put_num(&p, (unsigned long long)req->content_offset);
	bad |= dp_put_num(&p, (unsigned long long)req->content_size);
	bad |= dp_put_num(&p, req->arrival_us);
	bad |= dp_put(&p, req->active_time, 32);
	bad |= dp_put(&p, req->envid, DELIVER_PROTO_MAX_FIELD);
	bad |= dp_put(&p, req->ret, 16);
	bad |= dp_put(&p, req->body, 16);
	bad |= dp_put(&p, req->smtputf8 ? "1" : "0", 1);
	bad |= dp_put(&p, req->backlog ? "1" : "0", 1);
	bad |= dp_put_num(&p, req->rcpt_count);
	for (unsigned int i = 0; i < req->rcpt_count && !bad; i++) {
		const struct deliver_rcpt *r = &req->rcpts[i];

		bad |= dp_put_num(&p, r->index);
		bad |= dp_put(&p, r->address, DELIVER_PROTO_MAX_FIELD);
		bad |= dp_put(&p, r->orcpt, DELIVER_PROTO_MAX_FIELD);
		bad |= dp_put_num(&p, r->notify);
	}
	if (bad) {
		strbuf_release(&p);
		return -1;
	}
	return dp_frame(out, &p);
}

int
deliver_proto_encode_reply(struct strbuf *out,
			   const struct deliver_reply *reply)
{
	struct strbuf p;
	int bad = 0;

	if (reply->count > DELIVER_PROTO_MAX_RCPTS)
		return -1;
	strbuf_init(&p, DELIVER_PROTO_MAX_FRAME);
	bad |= dp_put(&p, "status", 16);
	bad |= dp_put_num(&p, reply->count);
	for (unsigned int i = 0; i < reply->count && !bad; i++) {
		const struct deliver_result *r = &reply->results[i];
		char text[DELIVER_PROTO_MAX_TEXT + 1];

		/* Reply texts come from the remote server: shorten, never
		 * fail the whole report for them. */
		snprintf(text, sizeof(text), "%s", r->text);
		bad |= dp_put_num(&p, r->index);
		bad |= dp_put(&p, deliver_action_name(r->action), 16);
		bad |= dp_put(&p, r->dsn, 16);
		bad |= dp_put(&p, r->relay, DELIVER_PROTO_MAX_FIELD);
		bad |= dp_put(&p, text, DELIVER_PROTO_MAX_TEXT);
	}
	if (bad) {
		strbuf_release(&p);
		return -1;
	}
	return dp_frame(out, &p);
}

/* Parses "<digits>:" at buf: 1 ok, 0 need more, -1 bad. */
static int
dp_length(const char *buf, size_t len, size_t max, size_t *value_r,
	  size_t *used_r)
{
	size_t v = 0, i;

	for (i = 0; i < len && buf[i] != ':'; i++) {
		if (buf[i] < '0' || buf[i] > '9' || i >= 9 ||
		    (i == 1 && buf[0] == '0'))
			return -1;
		v = v * 10 + (size_t)(buf[i] - '0');
	}
	if (i == len)
		return 0;
	if (i == 0 || v > max)
		return -1;
	*value_r = v;
	*used_r = i + 1;
	return 1;
}

int
deliver_proto_frame(const char *buf, size_t len, const char **payload_r,
		    size_t *payload_len_r, size_t *consumed_r,
		    const char **error_r)
{
	size_t plen, used;
	int ret = dp_length(buf, len, DELIVER_PROTO_MAX_FRAME, &plen, &used);

	if (ret < 0) {
		*error_r = "malformed frame length";
		return -1;
	}
	if (ret == 0 || len - used < plen + 1)
		return 0;
	if (buf[used + plen] != ',') {
		*error_r = "frame not terminated by ','";
		return -1;
	}
	*payload_r = buf + used;
	*payload_len_r = plen;
	*consumed_r = used + plen + 1;
	return 1;
}

/* Next field as a new NUL-terminated string (no NUL inside allowed). */
static char *
dp_get(struct dp_cursor *c, size_t max)
{
	size_t flen, used;

	if (dp_length(c->p, c->left, max, &flen, &used) != 1 ||
	    c->left - used < flen + 1 || c->p[used + flen] != ',' ||
	    memchr(c->p + used, '\0', flen) != NULL)
		return NULL;
	char *s = xstrndup(c->p + used, flen);
	c->p += used + flen + 1;
	c->left -= used + flen + 1;
	return s;
}

static int
dp_get_num(struct dp_cursor *c, unsigned long long max, unsigned long long *v_r)
{
	char *s = dp_get(c, 20), *end;
	unsigned long long v;
	int ret = -1;

	if (s == NULL)
		return -1;
	if (s[0] >= '0' && s[0] <= '9' && (s[0] != '0' || s[1] == '\0')) {
		v = strtoull(s, &end, 10);
		if (*end == '\0' && v <= max) {
			*v_r = v;
			ret = 0;
		}
	}
	free(s);
	return ret;
}

static bool
dp_expect(struct dp_cursor *c, const char *type)
{
	char *s = dp_get(c, 16);
	bool ok = s != NULL && strcmp(s, type) == 0;

	free(s);
	return ok;
}

int
deliver_proto_decode_request(const char *payload, size_t len,
			     struct deliver_request **req_r,
			     const char **error_r)
{
	struct dp_cursor c = {payload, len};
	struct deliver_request *req = xcalloc(1, sizeof(*req));
	unsigned long long off, size, arrival, count, v;
	char *utf8 = NULL, *backlog = NULL;

	if (!dp_expect(&c, "deliver"))
		goto bad;
	if ((req->queue_id = dp_get(&c, DELIVER_PROTO_MAX_FIELD)) == NULL ||
	    (req->queue_file = dp_get(&c, DELIVER_PROTO_MAX_FIELD)) == NULL ||
	    (req->nexthop = dp_get(&c, DELIVER_PROTO_MAX_FIELD)) == NULL ||
	    (req->sender = dp_get(&c, DELIVER_PROTO_MAX_FIELD)) == NULL ||
	    dp_get_num(&c, LLONG_MAX, &off) < 0 ||
	    dp_get_num(&c, LLONG_MAX, &size) < 0 ||
	    dp_get_num(&c, LLONG_MAX, &arrival) < 0 ||
	    (req->active_time = dp_get(&c, 32)) == NULL ||
	    (req->envid = dp_get(&c, DELIVER_PROTO_MAX_FIELD)) == NULL ||
	    (req->ret = dp_get(&c, 16)) == NULL ||
	    (req->body = dp_get(&c, 16)) == NULL ||
	    (utf8 = dp_get(&c, 1)) == NULL ||
	    (backlog = dp_get(&c, 1)) == NULL ||
	    dp_get_num(&c, DELIVER_PROTO_MAX_RCPTS, &count) < 0 || count == 0)
		goto bad;
	if ((strcmp(utf8, "0") != 0 && strcmp(utf8, "1") != 0) ||
	    (strcmp(backlog, "0") != 0 && strcmp(backlog, "1") != 0))
		goto bad;
	req->smtputf8 = utf8[0] == '1';
	req->backlog = backlog[0] == '1';
	req->content_offset = (off_t)off;
	req->content_size = (off_t)size;
	req->arrival_us = arrival;
	req->rcpts = xcalloc(count, sizeof(*req->rcpts));
	for (unsigned int i = 0; i < count; i++) {
		struct deliver_rcpt *r = &req->rcpts[i];

		if (dp_get_num(&c, UINT_MAX, &v) < 0)
			goto bad;
		r->index = (unsigned int)v;
		req->rcpt_count = i + 1;
		if ((r->address = dp_get(&c, DELIVER_PROTO_MAX_FIELD)) ==
			NULL ||
		    (r->orcpt = dp_get(&c, DELIVER_PROTO_MAX_FIELD)) == NULL ||
		    dp_get_num(&c, 0xf, &v) < 0)
			goto bad;
		r->notify = (unsigned int)v;
	}
	if (c.left != 0)
		goto bad;
	free(utf8);
	free(backlog);
	*req_r = req;
	return 0;
bad:
	free(utf8);
	free(backlog);
	deliver_request_free(&req);
	*error_r = "malformed delivery request";
	return -1;
}

int
deliver_proto_decode_reply(const char *payload, size_t len,
			   struct deliver_reply **reply_r, const char **error_r)
{
	struct dp_cursor c = {payload, len};
	struct deliver_reply *reply = xcalloc(1, sizeof(*reply));
	unsigned long long count, v;

	if (!dp_expect(&c, "status") ||
	    dp_get_num(&c, DELIVER_PROTO_MAX_RCPTS, &count) < 0)
		goto bad;
	reply->results =
	    xcalloc(count == 0 ? 1 : count, sizeof(*reply->results));
	for (unsigned int i = 0; i < count; i++) {
		struct deliver_result *r = &reply->results[i];
		char *action;

		if (dp_get_num(&c, UINT_MAX, &v) < 0)
			goto bad;
		r->index = (unsigned int)v;
		reply->count = i + 1;
		if ((action = dp_get(&c, 16)) == NULL)
			goto bad;
		if (strcmp(action, "sent") == 0)
			r->action = DELIVER_SENT;
		else if (strcmp(action, "deferred") == 0)
			r->action = DELIVER_DEFERRED;
		else if (strcmp(action, "bounced") == 0)
			r->action = DELIVER_BOUNCED;
		else {
			free(action);
			goto bad;
		}
		free(action);
		if ((r->dsn = dp_get(&c, 16)) == NULL ||
		    (r->relay = dp_get(&c, DELIVER_PROTO_MAX_FIELD)) == NULL ||
		    (r->text = dp_get(&c, DELIVER_PROTO_MAX_TEXT)) == NULL)
			goto bad;
	}
	if (c.left != 0)
		goto bad;
	*reply_r = reply;
	return 0;
bad:
	deliver_reply_free(&reply);
	*error_r = "malformed delivery status";
	return -1;
}

void
deliver_request_free(struct deliver_request **reqp)
{
	struct deliver_request *req = *reqp;

	if (req == NULL)
		return;
	*reqp = NULL;
	free(req->queue_id);
	free(req->queue_file);
	free(req->nexthop);
	free(req->sender);
	free(req->active_time);
	free(req->envid);
	free(req->ret);
	free(req->body);
	for (unsigned int i = 0; i < req->rcpt_count; i++) {
		free(req->rcpts[i].address);
		free(req->rcpts[i].orcpt);
	}
	free(req->rcpts);
	free(req);
}

void
deliver_reply_free(struct deliver_reply **replyp)
{
	struct deliver_reply *reply = *replyp;

	if (reply == NULL)
		return;
	*replyp = NULL;
	for (unsigned int i = 0; i < reply->count; i++) {
		free(reply->results[i].dsn);
		free(reply->results[i].relay);
		free(reply->results[i].text);
	}
	free(reply->results);
	free(reply);
}

const char *
deliver_action_name(enum deliver_action action)
{
	switch (action) {
	case DELIVER_SENT:
		return "sent";
	case DELIVER_DEFERRED:
		return "deferred";
	case DELIVER_BOUNCED:
		break;
	}
	return "bounced";
}
