/*
 * pop3_proto - POP3 command parsing and RETR/TOP output (see
 * pop3_proto.h). Pure: no I/O, no logging; every input is bounded.
 */
#include <string.h>

#include "mail/pop3_proto.h"
#include "util/strbuf.h"

static const struct {
	const char *name;
	enum pop3_cmd cmd;
} pop3_cmds[] = {
    {"USER", POP3_CMD_USER}, {"PASS", POP3_CMD_PASS},
    {"APOP", POP3_CMD_APOP}, {"AUTH", POP3_CMD_AUTH},
    {"CAPA", POP3_CMD_CAPA}, {"STLS", POP3_CMD_STLS},
    {"QUIT", POP3_CMD_QUIT}, {"STAT", POP3_CMD_STAT},
    {"LIST", POP3_CMD_LIST}, {"RETR", POP3_CMD_RETR},
    {"DELE", POP3_CMD_DELE}, {"NOOP", POP3_CMD_NOOP},
    {"RSET", POP3_CMD_RSET}, {"TOP", POP3_CMD_TOP},
    {"UIDL", POP3_CMD_UIDL},
};

int
pop3_parse_command(char *line, size_t len, struct pop3_command *cmd_r,
		   const char **error_r)
{
	size_t i = 0, klen;
	char *p;

	memset(cmd_r, 0, sizeof(*cmd_r));
	if (len == 0 || len > POP3_LINE_MAX) {
		*error_r = len == 0 ? "empty command" : "command line too long";
		return -1;
	}
	for (size_t j = 0; j < len; j++) {
		unsigned char c = (unsigned char)line[j];

		if (c < 0x20 || c == 0x7f) {
			*error_r = "control character in command";
			return -1;
		}
	}
	line[len] = '\0';
	while (i < len && line[i] != ' ')
		i++;
	klen = i;
	if (klen < 3 || klen > 4) {
		*error_r = "bad command keyword";
		return -1;
	}
	for (size_t j = 0; j < klen; j++) {
		char c = line[j];

		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c < 'A' || c > 'Z') {
			*error_r = "bad command keyword";
			return -1;
		}
		cmd_r->keyword[j] = c;
	}
	cmd_r->keyword[klen] = '\0';
	cmd_r->cmd = POP3_CMD_UNKNOWN;
	for (size_t j = 0; j < sizeof(pop3_cmds) / sizeof(pop3_cmds[0]); j++) {
		if (strcmp(pop3_cmds[j].name, cmd_r->keyword) == 0)
			cmd_r->cmd = pop3_cmds[j].cmd;
	}
	if (i == len)
		return 0;
	p = line + i + 1;
	if (cmd_r->cmd == POP3_CMD_PASS) {
		/* the password is the rest of the line, spaces included */
		if (*p == '\0' || strlen(p) > POP3_ARG_MAX) {
			*error_r = "bad argument";
			return -1;
		}
		line[i] = '\0';
		cmd_r->args[0] = p;
		cmd_r->argc = 1;
		return 0;
	}
	line[i] = '\0';
	for (;;) {
		char *sp = strchr(p, ' ');
		size_t alen = sp != NULL ? (size_t)(sp - p) : strlen(p);

		if (alen == 0 || alen > POP3_ARG_MAX) {
			*error_r = "bad argument";
			return -1;
		}
		if (cmd_r->argc == POP3_ARGS_MAX) {
			*error_r = "too many arguments";
			return -1;
		}
		cmd_r->args[cmd_r->argc++] = p;
		if (sp == NULL)
			return 0;
		*sp = '\0';
		p = sp + 1;
	}
}

int
pop3_parse_number(const char *arg, uint32_t *n_r)
{
	uint64_t n = 0;

	if (*arg == '\0')
		return -1;
	for (; *arg != '\0'; arg++) {
		if (*arg < '0' || *arg > '9')
			return -1;
		n = n * 10 + (uint64_t)(*arg - '0');
		if (n > UINT32_MAX)
			return -1;
	}
	if (n == 0)
		return -1;
	*n_r = (uint32_t)n;
	return 0;
}

void
pop3_body_writer_init(struct pop3_body_writer *w, long long body_lines)
{
	memset(w, 0, sizeof(*w));
	w->body_lines = body_lines;
	w->line_start = true;
	w->header_line_empty = true;
}

static int
writer_byte(struct pop3_body_writer *w, char c, struct strbuf *out)
{
	if (w->done)
		return 0;
	if (w->line_start && c == '.' && strbuf_append_char(out, '.') < 0)
		return -1;
	w->line_start = false;
	w->header_line_empty = false;
	return strbuf_append_char(out, c);
}

static int
writer_eol(struct pop3_body_writer *w, struct strbuf *out)
{
	if (w->done)
		return 0;
	if (strbuf_append(out, "\r\n", 2) < 0)
		return -1;
	w->line_start = true;
	if (!w->in_body) {
		if (w->header_line_empty) {
			w->in_body = true;
			if (w->body_lines == 0)
				w->done = true;
		}
	} else if (w->body_lines > 0 && --w->body_lines == 0) {
		w->done = true;
	}
	w->header_line_empty = true;
	return 0;
}

int
pop3_body_writer_feed(struct pop3_body_writer *w, const char *data,
		      size_t len, struct strbuf *out)
{
	for (size_t i = 0; i < len && !w->done; i++) {
		char c = data[i];

		if (w->pending_cr) {
			w->pending_cr = false;
			if (c == '\n') {
				if (writer_eol(w, out) < 0)
					return -1;
				continue;
			}
			/* a bare CR is content */
			if (writer_byte(w, '\r', out) < 0)
				return -1;
		}
		if (c == '\r') {
			w->pending_cr = true;
		} else if (c == '\n') {
			if (writer_eol(w, out) < 0)
				return -1;
		} else if (writer_byte(w, c, out) < 0) {
			return -1;
		}
	}
	return 0;
}

int
pop3_body_writer_finish(struct pop3_body_writer *w, struct strbuf *out)
{
	if (w->pending_cr) {
		w->pending_cr = false;
		if (writer_byte(w, '\r', out) < 0)
			return -1;
	}
	if (!w->line_start && !w->done && strbuf_append(out, "\r\n", 2) < 0)
		return -1;
	return strbuf_append(out, ".\r\n", 3);
}
