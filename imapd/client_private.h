/*
 * client_private - between imapd's command loop (client.c) and the
 * commands that live in the loop's own state (cmd_client.c: IDLE needs
 * to wait on the client's input).
 */
#ifndef CLIENT_PRIVATE_H
#define CLIENT_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include "imapd.h"

enum client_end {
	END_NONE,
	END_LOGOUT,
	END_EOF,
	END_TIMEOUT,
	END_STOP,
	END_WRITE,
	END_BAD,
	END_FATAL,
	END_INTERNAL,
};

/* The results of client_line() */
#define LINE_OK 1
#define LINE_TOOLONG 2
#define LINE_MORE 0
#define LINE_END (-1)

struct client {
	struct imap_client c; /* first: what imapd.h shows of us */
	struct session *s;
	int in_fd, out_fd, stop_fd;
	int in_flags, out_flags; /* to restore */

	/* input buffer: unread bytes are in[start..end) */
	char *in;
	size_t in_size, in_start, in_end, in_max;
	bool discarding; /* inside a too-long line */
	char tail[24];	 /* the last bytes of the discarded line */
	size_t tail_len;
	int64_t last_input_ms;

	unsigned long long bytes_in, bytes_out;
	bool write_failed; /* then output is dropped */
	struct imap_parse_limits limits;
	unsigned int bad_commands;
	enum client_end end;

	/* the current command */
	const struct imap_command_def *def;
	char name_buf[IMAP_PARSE_NAME_MAX * 2 + 8];
	bool tagged_sent;
	bool tagged_bad;
	bool synced;
	bool no_sync;
	unsigned int sync_flags;
	/* its streamed literal (APPEND) */
	bool lit_pending; /* the command has one */
	bool lit_started; /* "+ OK" sent (sync) or bytes taken */
	bool lit_done;	  /* all bytes and the rest of the line read */
	bool lit_sync;
	uint64_t lit_size;

	char caps[512];
};

struct client *client_of(struct imap_client *c);
int64_t client_now_ms(void);
void client_set_end(struct client *cl, enum client_end end);
int client_wait(struct client *cl, int extra_fd, int timeout_ms);
int64_t client_idle_left(const struct client *cl);
void client_timed_out(struct client *cl);
int client_read_some(struct client *cl);
int client_line(struct client *cl, bool block, const char **line_r,
		size_t *len_r);

#endif
