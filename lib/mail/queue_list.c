/*
 * queue_list - the mail queue listing in Postfix's mailq and
 * postqueue -j formats. Queue files are parsed by queue_file (limits,
 * corrupt files skipped); every envelope string and reply text is hostile
 * and is shown with control characters replaced ('?') or JSON-escaped.
 * Reads the queue directories only; never logs, never changes a file.
 */
#include "mail/queue_list.h"
/* For the attribute names only (queue_file.h has no accessor yet). */
#include "mail/queue_file_private.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/strbuf.h"
#include "util/xmem.h"

const struct queue_list_dir queue_list_dirs[] = {
    {QUEUE_DIR_INCOMING, ' '},
    {QUEUE_DIR_ACTIVE, '*'},
    {QUEUE_DIR_DEFERRED, ' '},
    {QUEUE_DIR_HOLD, '!'},
};
const unsigned int queue_list_dir_count =
    sizeof(queue_list_dirs) / sizeof(queue_list_dirs[0]);

/* Widths of Postfix's L_STRING_FORMAT ("%-17s %8s %-19s %s"). */
#define QL_ID_WIDTH 17
#define QL_SIZE_WIDTH 8
#define QL_TIME_WIDTH 19
#define QL_INDENT (QL_ID_WIDTH + 1 + QL_SIZE_WIDTH + 1 + QL_TIME_WIDTH + 1)

static char ql_error[512];

const char *
queue_list_attr_name(enum queue_attr attr)
{
	if ((unsigned int)attr >= QUEUE_ATTR_COUNT)
		return "unknown";
	return queue_attr_names[attr];
}

int
queue_list_scan(const char *queue_dir, queue_list_cb *cb, void *ctx,
		const char **error_r)
{
	for (unsigned int i = 0; i < queue_list_dir_count; i++) {
		char *dir =
		    xasprintf("%s/%s", queue_dir, queue_list_dirs[i].name);
		DIR *d = opendir(dir);
		struct dirent *de;
		int ret = 0;

		if (d == NULL) {
			snprintf(ql_error, sizeof(ql_error), "%s: %s", dir,
				 strerror(errno));
			*error_r = ql_error;
			free(dir);
			return -1;
		}
		while (ret == 0 && (de = readdir(d)) != NULL) {
			struct queue_msg *msg;
			const char *error;
			char *path;

			if (!queue_id_valid(de->d_name))
				continue;
			path = xasprintf("%s/%s", dir, de->d_name);
			if (queue_file_open(path, &msg, &error) == 0) {
				ret = cb(queue_list_dirs[i].name, msg, ctx);
				queue_msg_free(&msg);
			}
			free(path);
		}
		closedir(d);
		free(dir);
		if (ret < 0) {
			*error_r = "queue listing stopped";
			return -1;
		}
	}
	return 0;
}

void
queue_list_safe_text(struct strbuf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		strbuf_append_char(out, c < 0x20 || c == 0x7f ? '?' : (char)c);
	}
}

static char
ql_mark(const char *queue_name)
{
	for (unsigned int i = 0; i < queue_list_dir_count; i++) {
		if (strcmp(queue_list_dirs[i].name, queue_name) == 0)
			return queue_list_dirs[i].mark;
	}
	return ' ';
}

/* asctime()'s layout without the year, in the C locale. */
static void
ql_time(time_t t, char *buf, size_t size)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed",
					   "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr",
					     "May", "Jun", "Jul", "Aug",
					     "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL) {
		snprintf(buf, size, "?");
		return;
	}
	snprintf(buf, size, "%s %s %2d %02d:%02d:%02d", days[tm.tm_wday % 7],
		 months[tm.tm_mon % 12], tm.tm_mday, tm.tm_hour, tm.tm_min,
		 tm.tm_sec);
}

void
queue_list_heading(struct strbuf *out)
{
	strbuf_printf(out, "%-*s %*s %-*s %s\n", QL_ID_WIDTH,
		      "----Queue ID-----", QL_SIZE_WIDTH, "--Size--",
		      QL_TIME_WIDTH, "---Arrival Time----",
		      "--Sender/Recipient------");
}

static bool
ql_rcpt_listed(const struct queue_rcpt *r)
{
	return r->state == QUEUE_RCPT_PENDING ||
	       r->state == QUEUE_RCPT_DEFERRED;
}

uint64_t
queue_list_format_text(const char *queue_name, const struct queue_msg *msg,
		       struct strbuf *out)
{
	char idmark[QUEUE_ID_MAX + 2], when[64];
	const char *saved_reason = "";

	snprintf(idmark, sizeof(idmark), "%s%c", msg->id, ql_mark(queue_name));
	ql_time(msg->arrival_sec, when, sizeof(when));
	strbuf_printf(out, "%-*s %*lld %*.*s ", QL_ID_WIDTH, idmark,
		      QL_SIZE_WIDTH, (long long)msg->content_size,
		      QL_TIME_WIDTH, QL_TIME_WIDTH, when);
	queue_list_safe_text(out, msg->sender[0] == '\0' ? "MAILER-DAEMON"
							 : msg->sender);
	strbuf_append_char(out, '\n');
	for (unsigned int i = 0; i < msg->rcpt_count; i++) {
		const struct queue_rcpt *r = &msg->rcpts[i];
		const char *why;

		if (!ql_rcpt_listed(r))
			continue;
		why = r->state == QUEUE_RCPT_DEFERRED ? r->text : "";
		/* As Postfix: a "(reason)" line when it differs from the
		 * previous recipient's, right-aligned to column 78. */
		if (strcmp(why, saved_reason) != 0) {
			const char *show =
			    why[0] != '\0' ? why : "reason unavailable";
			size_t n = strlen(show);

			saved_reason = why;
			strbuf_printf(out, "%*s(", n < 76 ? (int)(76 - n) : 0,
				      "");
			queue_list_safe_text(out, show);
			strbuf_append_str(out, ")\n");
		}
		strbuf_printf(out, "%*s", QL_INDENT, "");
		queue_list_safe_text(out, r->address);
		strbuf_append_char(out, '\n');
	}
	return (uint64_t)msg->content_size;
}

void
queue_list_summary(uint64_t bytes, unsigned int requests, struct strbuf *out)
{
	if (requests == 0)
		strbuf_append_str(out, "Mail queue is empty\n");
	else
		strbuf_printf(out, "\n-- %llu Kbytes in %u Request%s.\n",
			      (unsigned long long)(bytes / 1024), requests,
			      requests == 1 ? "" : "s");
}

/* Length of the valid UTF-8 sequence at s (1..4), 0 when invalid. */
static size_t
ql_utf8_len(const unsigned char *s, size_t left)
{
	size_t n;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n > left)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

void
queue_list_json_string(struct strbuf *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	strbuf_append_char(out, '"');
	for (size_t i = 0; i < len;) {
		size_t n = ql_utf8_len(p + i, len - i);

		if (n == 0) {
			strbuf_append_str(out, "\\ufffd");
			i++;
		} else if (n > 1) {
			strbuf_append(out, p + i, n);
			i += n;
		} else {
			unsigned char c = p[i++];

			if (c == '"' || c == '\\')
				strbuf_printf(out, "\\%c", c);
			else if (c == '\n')
				strbuf_append_str(out, "\\n");
			else if (c == '\r')
				strbuf_append_str(out, "\\r");
			else if (c == '\t')
				strbuf_append_str(out, "\\t");
			else if (c < 0x20 || c == 0x7f)
				strbuf_printf(out, "\\u%04x", c);
			else
				strbuf_append_char(out, (char)c);
		}
	}
	strbuf_append_char(out, '"');
}

static void
ql_json_str(struct strbuf *out, const char *s)
{
	queue_list_json_string(out, s, strlen(s));
}

void
queue_list_format_json(const char *queue_name, const struct queue_msg *msg,
		       struct strbuf *out)
{
	bool first = true;

	strbuf_append_str(out, "{\"queue_name\": ");
	ql_json_str(out, queue_name);
	strbuf_append_str(out, ", \"queue_id\": ");
	ql_json_str(out, msg->id);
	strbuf_printf(out,
		      ", \"arrival_time\": %lld, \"message_size\": %lld, "
		      "\"forced_expire\": false, \"sender\": ",
		      (long long)msg->arrival_sec,
		      (long long)msg->content_size);
	ql_json_str(out, msg->sender);
	strbuf_append_str(out, ", \"recipients\": [");
	for (unsigned int i = 0; i < msg->rcpt_count; i++) {
		const struct queue_rcpt *r = &msg->rcpts[i];

		if (!ql_rcpt_listed(r))
			continue;
		strbuf_append_str(out, first ? "{\"address\": "
					     : ", {\"address\": ");
		first = false;
		ql_json_str(out, r->address);
		if (r->state == QUEUE_RCPT_DEFERRED && r->text[0] != '\0') {
			strbuf_append_str(out, ", \"delay_reason\": ");
			ql_json_str(out, r->text);
		}
		strbuf_append_char(out, '}');
	}
	strbuf_append_str(out, "]}\n");
}

struct ql_print {
	bool json;
	uint64_t bytes;
	unsigned int requests;
};

static int
ql_print_one(const char *queue_name, struct queue_msg *msg, void *ctx)
{
	struct ql_print *p = ctx;
	struct strbuf out;

	strbuf_init(&out, STRBUF_UNLIMITED);
	if (p->json) {
		queue_list_format_json(queue_name, msg, &out);
	} else {
		if (p->requests == 0)
			queue_list_heading(&out);
		else
			strbuf_append_char(&out, '\n');
		p->bytes += queue_list_format_text(queue_name, msg, &out);
	}
	p->requests++;
	fwrite(strbuf_cstr(&out), 1, out.len, stdout);
	strbuf_release(&out);
	return ferror(stdout) ? -1 : 0;
}

int
queue_list_print(const char *queue_dir, bool json, const char **error_r)
{
	struct ql_print p = {.json = json};
	struct strbuf out;

	if (queue_list_scan(queue_dir, ql_print_one, &p, error_r) < 0)
		return -1;
	if (!json) {
		strbuf_init(&out, STRBUF_UNLIMITED);
		queue_list_summary(p.bytes, p.requests, &out);
		fwrite(strbuf_cstr(&out), 1, out.len, stdout);
		strbuf_release(&out);
	}
	if (fflush(stdout) != 0) {
		*error_r = "write error on standard output";
		return -1;
	}
	return 0;
}
