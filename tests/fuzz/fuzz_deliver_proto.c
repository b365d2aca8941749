/*
 * fuzz_deliver_proto - libFuzzer target for the qmgr <-> delivery agent
 * decoder: the input is tried as a frame, then its payload as a request
 * and as a reply; whatever decodes must encode and decode to the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/deliver_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int cond)
{
	if (!cond)
		abort();
}

static void
try_payload(const char *p, size_t len)
{
	struct deliver_request *req, *req2;
	struct deliver_reply *rep, *rep2;
	const char *error, *pl;
	size_t plen, used;
	struct strbuf out;

	if (deliver_proto_decode_request(p, len, &req, &error) == 0) {
		strbuf_init(&out, DELIVER_PROTO_MAX_FRAME + 64);
		if (deliver_proto_encode_request(&out, req) == 0) {
			check(deliver_proto_frame(out.data, out.len, &pl, &plen,
						  &used, &error) == 1);
			check(deliver_proto_decode_request(pl, plen, &req2,
							   &error) == 0);
			check(req2->rcpt_count == req->rcpt_count);
			check(strcmp(req2->sender, req->sender) == 0);
			deliver_request_free(&req2);
		}
		strbuf_release(&out);
		deliver_request_free(&req);
	}
	if (deliver_proto_decode_reply(p, len, &rep, &error) == 0) {
		strbuf_init(&out, DELIVER_PROTO_MAX_FRAME + 64);
		if (deliver_proto_encode_reply(&out, rep) == 0) {
			check(deliver_proto_frame(out.data, out.len, &pl, &plen,
						  &used, &error) == 1);
			check(deliver_proto_decode_reply(pl, plen, &rep2,
							 &error) == 0);
			check(rep2->count == rep->count);
			deliver_reply_free(&rep2);
		}
		strbuf_release(&out);
		deliver_reply_free(&rep);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *payload, *error;
	size_t plen, used;

	if (deliver_proto_frame((const char *)data, size, &payload, &plen,
				&used, &error) == 1)
		try_payload(payload, plen);
	try_payload((const char *)data, size);
	return 0;
}
