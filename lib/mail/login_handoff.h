/*
 * login_handoff - how a pre-auth login process (pop3d's or imapd's login
 * part, no rights to mail) hands an authenticated client connection to the
 * post-auth session process (running as the mail user): over a private
 * unix stream socket, one message of one text line
 *   "HANDOFF 1\tuser=<u>\tservice=<s>\trip=<ip>\tlip=<ip>\trport=<n>\t
 *    lport=<n>\ttls=<0|1>\tmech=<m>[\ttag=<t>][\tinput=<base64>]\n"
 * with the client's fd attached (SCM_RIGHTS) to its first byte. For a TLS
 * client the login process keeps the TLS session and passes one end of a
 * socketpair instead (it proxies; tls=1 says so), as Dovecot's login
 * processes do. Values may not contain tab, CR, LF or NUL (refused when
 * sending, refused when received). The receiving side trusts the sender
 * for the user name (the socket is only reachable by the login user:
 * protect it with its mode and check login_handoff_peer_uid()); the bytes
 * are still parsed with limits. Parse/format are pure; send/read do
 * socket I/O only (no logging).
 */
#ifndef LOGIN_HANDOFF_H
#define LOGIN_HANDOFF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct strbuf;

#define LOGIN_HANDOFF_MAX 8192
#define LOGIN_HANDOFF_VALUE_MAX 255
/* Client input the login process read beyond the login command
 * (pipelining), passed on base64-encoded in "input=". */
#define LOGIN_HANDOFF_INPUT_MAX 4096
#define LOGIN_HANDOFF_TAG_MAX 64

struct login_handoff {
	char user[LOGIN_HANDOFF_VALUE_MAX + 1];
	char service[32];
	char rip[64], lip[64];
	unsigned int rport, lport;
	bool tls;
	char mech[32];
	char tag[LOGIN_HANDOFF_TAG_MAX + 1]; /* IMAP: the login command's
						tag ("tag="), else "" */
	unsigned char input[LOGIN_HANDOFF_INPUT_MAX];
	size_t input_len;
};

/* Appends the line for h. -1 with a static *error_r when a value contains
 * a forbidden byte, is too long or user is empty. */
int login_handoff_format(const struct login_handoff *h, struct strbuf *out,
			 const char **error_r);
/* Parses one line (len bytes, without the LF). Unknown keys are ignored;
 * user is required. -1 with a static *error_r when malformed. */
int login_handoff_parse(const char *line, size_t len, struct login_handoff *h_r,
			const char **error_r);

/* Sends h with client_fd attached over sock (blocking until all is
 * written). The caller still owns client_fd (close it after success). */
int login_handoff_send(int sock, int client_fd, const struct login_handoff *h,
		       const char **error_r);

/* Incremental receiving on a (non-blocking) socket, for event loops. */
struct login_handoff_reader {
	char buf[LOGIN_HANDOFF_MAX];
	size_t len;
	int fd; /* the received client fd, -1 until it came */
};

void login_handoff_reader_init(struct login_handoff_reader *r);
/* Reads what is available: 1 and *h_r, *client_fd_r (now the caller's)
 * when the line is complete; 0 when more is needed (EAGAIN); -1 on error,
 * EOF before the end, a line without an fd, extra fds or data after the
 * line. */
int login_handoff_read(int sock, struct login_handoff_reader *r,
		       struct login_handoff *h_r, int *client_fd_r,
		       const char **error_r);
/* Closes a received fd still held by the reader. */
void login_handoff_reader_clear(struct login_handoff_reader *r);

/* The uid of the process at the other end of a unix socket. */
int login_handoff_peer_uid(int sock, uid_t *uid_r);

#endif
