/*
 * Unit tests for deliver_proto: request and reply round trips, framing
 * across partial input, and strict rejection of malformed messages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mail/deliver_proto.h"
#include "mail/queue_file.h"

static void
make_request(struct deliver_request *req, struct deliver_rcpt *rcpts)
{
	memset(req, 0, sizeof(*req));
	req->queue_id = "5BMTd73Jg8z1blGG";
	req->queue_file = "active/5BMTd73Jg8z1blGG";
	req->nexthop = "unix:private/dovetail-lmtp";
	req->sender = "a,b:c@example.org"; /* framing bytes inside */
	req->content_offset = 123;
	req->content_size = 4567;
	req->arrival_us = 1700000000123456ULL;
	req->active_time = "1700000001.000001";
	req->envid = "env";
	req->ret = "HDRS";
	req->body = "8BITMIME";
	req->smtputf8 = true;
	req->backlog = true;
	rcpts[0] = (struct deliver_rcpt){
	    3, "x@example.org", "rfc822;y@example.org", QUEUE_NOTIFY_SUCCESS};
	rcpts[1] = (struct deliver_rcpt){7, "12:z,@example.org", "", 0};
	req->rcpts = rcpts;
	req->rcpt_count = 2;
}

static void
test_request_round_trip(void **state)
{
	struct deliver_request req, *got;
	struct deliver_rcpt rcpts[2];
	struct strbuf out;
	const char *payload, *error;
	size_t plen, used;

	(void)state;
	make_request(&req, rcpts);
	strbuf_init(&out, DELIVER_PROTO_MAX_FRAME + 64);
	assert_int_equal(deliver_proto_encode_request(&out, &req), 0);
	/* Every proper prefix needs more input. */
	for (size_t n = 0; n < out.len; n++)
		assert_int_equal(deliver_proto_frame(out.data, n, &payload,
						     &plen, &used, &error),
				 0);
	assert_int_equal(deliver_proto_frame(out.data, out.len, &payload, &plen,
					     &used, &error),
			 1);
	assert_int_equal(used, out.len);
	assert_int_equal(
	    deliver_proto_decode_request(payload, plen, &got, &error), 0);
	assert_string_equal(got->queue_id, req.queue_id);
	assert_string_equal(got->queue_file, req.queue_file);
	assert_string_equal(got->nexthop, req.nexthop);
	assert_string_equal(got->sender, req.sender);
	assert_int_equal(got->content_offset, 123);
	assert_int_equal(got->content_size, 4567);
	assert_true(got->arrival_us == req.arrival_us);
	assert_string_equal(got->active_time, req.active_time);
	assert_string_equal(got->envid, "env");
	assert_string_equal(got->ret, "HDRS");
	assert_string_equal(got->body, "8BITMIME");
	assert_true(got->smtputf8);
	assert_true(got->backlog);
	assert_int_equal(got->rcpt_count, 2);
	assert_int_equal(got->rcpts[0].index, 3);
	assert_string_equal(got->rcpts[0].orcpt, "rfc822;y@example.org");
	assert_int_equal(got->rcpts[0].notify, QUEUE_NOTIFY_SUCCESS);
	assert_int_equal(got->rcpts[1].index, 7);
	assert_string_equal(got->rcpts[1].address, "12:z,@example.org");
	deliver_request_free(&got);
	assert_null(got);
	strbuf_release(&out);
}

static void
test_reply_round_trip(void **state)
{
	struct deliver_result res[2] = {
	    {3, DELIVER_SENT, "2.0.0", "host[/p]", "250 2.0.0 Saved"},
	    {7, DELIVER_BOUNCED, "5.1.1", "host[/p]", "550 5.1.1 unknown"},
	};
	struct deliver_reply reply = {res, 2}, *got;
	struct strbuf out;
	const char *payload, *error;
	size_t plen, used;

	(void)state;
	strbuf_init(&out, DELIVER_PROTO_MAX_FRAME + 64);
	assert_int_equal(deliver_proto_encode_reply(&out, &reply), 0);
	/* Two frames back to back: the first is found alone. */
	assert_int_equal(deliver_proto_encode_reply(&out, &reply), 0);
	assert_int_equal(deliver_proto_frame(out.data, out.len, &payload, &plen,
					     &used, &error),
			 1);
	assert_int_equal(used * 2, out.len);
	assert_int_equal(
	    deliver_proto_decode_reply(payload, plen, &got, &error), 0);
	assert_int_equal(got->count, 2);
	assert_int_equal(got->results[1].index, 7);
	assert_int_equal(got->results[1].action, DELIVER_BOUNCED);
	assert_string_equal(got->results[1].dsn, "5.1.1");
	assert_string_equal(got->results[0].text, "250 2.0.0 Saved");
	deliver_reply_free(&got);
	strbuf_release(&out);
}

static int
decode_reply_str(const char *s)
{
	struct deliver_reply *r = NULL;
	const char *error;
	int ret = deliver_proto_decode_reply(s, strlen(s), &r, &error);

	deliver_reply_free(&r);
	return ret;
}

static void
test_malformed_rejected(void **state)
{
	const char *payload, *error;
	size_t plen, used;
	struct deliver_request *req;

	(void)state;
	/* Framing. */
	assert_int_equal(
	    deliver_proto_frame("x:", 2, &payload, &plen, &used, &error), -1);
	assert_int_equal(
	    deliver_proto_frame("01:a,", 5, &payload, &plen, &used, &error),
	    -1);
	assert_int_equal(
	    deliver_proto_frame("1:ab", 4, &payload, &plen, &used, &error), -1);
	assert_int_equal(deliver_proto_frame("999999999:", 10, &payload, &plen,
					     &used, &error),
			 -1);
	/* Replies: good, then each kind of damage. */
	assert_int_equal(
	    decode_reply_str("6:status,1:1,1:0,4:sent,5:2.0.0,1:r,1:t,"), 0);
	assert_int_equal(decode_reply_str("6:status,1:0,"), 0);
	assert_int_equal(
	    decode_reply_str("6:status,1:1,1:0,4:sent,5:2.0.0,1:r,"), -1);
	assert_int_equal(
	    decode_reply_str("6:status,1:1,1:0,4:sent,5:2.0.0,1:r,1:t,1:x,"),
	    -1);
	assert_int_equal(
	    decode_reply_str("6:status,1:1,1:0,4:lost,5:2.0.0,1:r,1:t,"), -1);
	assert_int_equal(
	    decode_reply_str("6:status,1:1,2:-1,4:sent,5:2.0.0,1:r,1:t,"), -1);
	assert_int_equal(decode_reply_str("6:status,2:01,"), -1);
	assert_int_equal(decode_reply_str("7:deliver,1:0,"), -1);
	assert_int_equal(decode_reply_str("6:status,5:99999,"), -1);
	assert_int_equal(
	    decode_reply_str("6:status,1:1,1:0,4:sent,5:2.0.0,1:r,2:t,"), -1);
	/* A request with zero recipients or a bad smtputf8 flag. */
	const char *r0 =
	    "7:deliver,1:i,1:f,1:n,0:,1:0,1:0,1:0,1:0,0:,0:,0:,1:0,1:0,1:0,";
	assert_int_equal(
	    deliver_proto_decode_request(r0, strlen(r0), &req, &error), -1);
	const char *r1 =
	    "7:deliver,1:i,1:f,1:n,0:,1:0,1:0,1:0,1:0,0:,0:,0:,1:2,1:0,1:1,"
	    "1:0,1:a,0:,1:0,";
	assert_int_equal(
	    deliver_proto_decode_request(r1, strlen(r1), &req, &error), -1);
	const char *r2 =
	    "7:deliver,1:i,1:f,1:n,0:,1:0,1:0,1:0,1:0,0:,0:,0:,1:1,1:0,1:1,"
	    "1:0,1:a,0:,1:0,";
	assert_int_equal(
	    deliver_proto_decode_request(r2, strlen(r2), &req, &error), 0);
	deliver_request_free(&req);
	/* A bad backlog flag; a request without one (old format). */
	const char *r3 =
	    "7:deliver,1:i,1:f,1:n,0:,1:0,1:0,1:0,1:0,0:,0:,0:,1:1,1:x,1:1,"
	    "1:0,1:a,0:,1:0,";
	assert_int_equal(
	    deliver_proto_decode_request(r3, strlen(r3), &req, &error), -1);
	const char *r4 = "7:deliver,1:i,1:f,1:n,0:,1:0,1:0,1:0,1:0,0:,0:,0:,1:1,"
			 "1:1,1:0,1:a,0:,1:0,";
	assert_int_equal(
	    deliver_proto_decode_request(r4, strlen(r4), &req, &error), -1);
	/* NUL inside a field is refused. */
	char nul[] =
	    "7:deliver,1:i,1:f,1:n,0:,1:0,1:0,1:0,1:0,0:,0:,0:,1:1,1:0,1:1,"
	    "1:0,1:a,0:,1:0,";
	nul[sizeof(nul) - 10] = '\0';
	assert_int_equal(
	    deliver_proto_decode_request(nul, sizeof(nul) - 1, &req, &error),
	    -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request_round_trip),
	    cmocka_unit_test(test_reply_round_trip),
	    cmocka_unit_test(test_malformed_rejected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
