/*
 * auth_client_tool - drives lib/mail/auth_client against a running auth
 * daemon for test_auth_protocol.py:
 *   auth_client_tool plain SOCKET USER PASSWORD [RIP]
 *   auth_client_tool login SOCKET USER PASSWORD
 *   auth_client_tool userdb SOCKET USER
 * prints the outcome ("OK user", "FAIL", "TEMPFAIL", "NOTFOUND", "USER
 * user field...") and exits 0 when the exchange ended at all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/auth_client.h"
#include "mail/auth_proto.h"
#include "util/base64.h"
#include "util/event.h"
#include "util/strbuf.h"

static struct event_loop *loop;
static struct auth_client *client;
static struct auth_client_request *req;
static const char *login_user, *login_pass;
static int login_round;

static void
print_result(const struct auth_client_reply *reply)
{
	switch (reply->status) {
	case AUTH_CLIENT_OK:
		printf("OK %s\n", reply->user != NULL ? reply->user : "");
		break;
	case AUTH_CLIENT_FAIL:
		printf("FAIL%s%s\n", reply->reason != NULL ? " " : "",
		       reply->reason != NULL ? reply->reason : "");
		break;
	case AUTH_CLIENT_TEMPFAIL:
		printf("TEMPFAIL\n");
		break;
	case AUTH_CLIENT_CONTINUE:
		printf("CONTINUE %s\n", reply->challenge);
		return;
	}
	event_loop_stop(loop);
}

static void
plain_cb(const struct auth_client_reply *reply, void *ctx)
{
	(void)ctx;
	print_result(reply);
}

static void
login_cb(const struct auth_client_reply *reply, void *ctx)
{
	struct strbuf b64;
	const char *answer;

	(void)ctx;
	if (reply->status != AUTH_CLIENT_CONTINUE) {
		print_result(reply);
		return;
	}
	answer = login_round++ == 0 ? login_user : login_pass;
	strbuf_init(&b64, 4096);
	if (base64_encode(answer, strlen(answer), &b64) < 0)
		exit(2);
	auth_client_continue(req, strbuf_cstr(&b64));
	strbuf_release(&b64);
}

static void
userdb_cb(enum auth_client_status status, const char *user, char *const *fields,
	  size_t n_fields, void *ctx)
{
	(void)ctx;
	if (status == AUTH_CLIENT_OK) {
		printf("USER %s", user);
		for (size_t i = 0; i < n_fields; i++)
			printf(" %s", fields[i]);
		printf("\n");
	} else {
		printf("%s\n",
		       status == AUTH_CLIENT_FAIL ? "NOTFOUND" : "TEMPFAIL");
	}
	event_loop_stop(loop);
}

/* event_loop_stop() from a deferred call takes effect at the next
 * wake-up; a ticking timer provides one. */
static void
tick(void *ctx)
{
	(void)ctx;
}

int
main(int argc, char **argv)
{
	struct auth_client_info info = {
	    .service = "smtp",
	    .local_ip = "192.0.2.1",
	    .remote_ip = "192.0.2.99",
	    .secured = true,
	};

	if (argc < 4)
		return 2;
	loop = event_loop_new();
	(void)event_timer_add(loop, 50, true, tick, NULL);
	if (strcmp(argv[1], "userdb") == 0) {
		auth_client_userdb_lookup(loop, argv[2], argv[3], "lmtp", 10000,
					  userdb_cb, NULL);
	} else if (argc >= 5) {
		client = auth_client_new(loop, argv[2]);
		if (argc >= 6)
			info.remote_ip = argv[5];
		if (strcmp(argv[1], "plain") == 0) {
			req = auth_client_plain(client, &info, argv[3], argv[4],
						plain_cb, NULL);
		} else {
			login_user = argv[3];
			login_pass = argv[4];
			info.mech = "LOGIN";
			req = auth_client_begin(client, &info, login_cb, NULL);
		}
	} else {
		return 2;
	}
	event_loop_run(loop);
	auth_client_free(&client);
	event_loop_free(&loop);
	return 0;
}
