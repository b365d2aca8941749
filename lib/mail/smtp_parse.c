/*
 * smtp_parse - SMTP/LMTP command line parser (RFC 5321, 1869, 3461, 4954,
 * 6152, 3030, 6531). The line is untrusted network input, bounded by the
 * length the caller gives; every copy goes into a fixed buffer of struct
 * smtp_command. Must not do I/O, log or keep state; replies are only
 * suggested, the session sends them.
 */
#include "mail/smtp_parse.h"

#include <string.h>
#include <strings.h>

#include "mail/xtext.h"
#include "util/strbuf.h"

#define ERROR_DETAIL_MAX 64

static const struct {
	const char *name;
	enum smtp_verb verb;
} verbs[] = {
    {"HELO", SMTP_VERB_HELO}, {"EHLO", SMTP_VERB_EHLO},
    {"LHLO", SMTP_VERB_LHLO}, {"MAIL", SMTP_VERB_MAIL},
    {"RCPT", SMTP_VERB_RCPT}, {"DATA", SMTP_VERB_DATA},
    {"BDAT", SMTP_VERB_BDAT}, {"RSET", SMTP_VERB_RSET},
    {"NOOP", SMTP_VERB_NOOP}, {"QUIT", SMTP_VERB_QUIT},
    {"VRFY", SMTP_VERB_VRFY}, {"EXPN", SMTP_VERB_EXPN},
    {"HELP", SMTP_VERB_HELP}, {"STARTTLS", SMTP_VERB_STARTTLS},
    {"AUTH", SMTP_VERB_AUTH},
};

const char *
smtp_verb_name(enum smtp_verb verb)
{
	size_t i;

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (verbs[i].verb == verb)
			return verbs[i].name;
	}
	return "UNKNOWN";
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Sets the suggested reply; detail (untrusted) is appended made printable
   and shortened. Always returns -1 so callers can "return set_error()". */
static int
set_error(struct smtp_command *cmd, unsigned int code, const char *enhanced,
	  const char *text, const char *detail, size_t detail_len)
{
	struct smtp_parse_error *e = &cmd->error;
	size_t n = 0, i;

	e->code = code;
	e->enhanced = enhanced;
	for (i = 0; text[i] != '\0' && n < SMTP_ERROR_TEXT_MAX; i++)
		e->text[n++] = text[i];
	for (i = 0; detail != NULL && i < detail_len && n < SMTP_ERROR_TEXT_MAX;
	     i++) {
		unsigned char c = (unsigned char)detail[i];

		if (i == ERROR_DETAIL_MAX) {
			for (i = 0; i < 3 && n < SMTP_ERROR_TEXT_MAX; i++)
				e->text[n++] = '.';
			break;
		}
		e->text[n++] = c >= 32 && c < 127 ? (char)c : '?';
	}
	e->text[n] = '\0';
	return -1;
}

int
smtp_parse_decimal(const char *s, size_t len, size_t max_digits,
		   uint64_t *value_r)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
	}
	if (len > max_digits)
		return 1;
	for (i = 0; i < len; i++) {
		unsigned int d = (unsigned int)(s[i] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return 1;
		v = v * 10 + d;
	}
	*value_r = v;
	return 0;
}

/* Copies the xtext-decoded value into buf (max bytes + NUL). */
static int
decode_xtext_into(const char *v, size_t vlen, char *buf, size_t max)
{
	struct strbuf sb;
	const char *error;
	int ret = 0;

	strbuf_init(&sb, max);
	if (vlen == 0 || xtext_decode(v, vlen, &sb, &error) < 0)
		ret = -1;
	else {
		memcpy(buf, strbuf_cstr(&sb), sb.len);
		buf[sb.len] = '\0';
	}
	strbuf_release(&sb);
	return ret;
}

static bool
word_is(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(s, word, len) == 0;
}

static int
parse_notify(const char *v, size_t vlen, unsigned int *notify_r)
{
	unsigned int mask = 0;
	size_t start = 0, i;

	for (i = 0; i <= vlen; i++) {
		size_t n;

		if (i < vlen && v[i] != ',')
			continue;
		n = i - start;
		if (word_is(v + start, n, "NEVER"))
			mask |= SMTP_NOTIFY_NEVER;
		else if (word_is(v + start, n, "SUCCESS"))
			mask |= SMTP_NOTIFY_SUCCESS;
		else if (word_is(v + start, n, "FAILURE"))
			mask |= SMTP_NOTIFY_FAILURE;
		else if (word_is(v + start, n, "DELAY"))
			mask |= SMTP_NOTIFY_DELAY;
		else
			return -1;
		start = i + 1;
	}
	if ((mask & SMTP_NOTIFY_NEVER) != 0 && mask != SMTP_NOTIFY_NEVER)
		return -1;
	*notify_r = mask;
	return 0;
}

static int
parse_orcpt(const char *v, size_t vlen, struct smtp_params *p)
{
	const char *semi = memchr(v, ';', vlen);
	size_t tlen, i;

	if (semi == NULL)
		return -1;
	tlen = (size_t)(semi - v);
	if (tlen == 0 || tlen > SMTP_ORCPT_TYPE_MAX)
		return -1;
	for (i = 0; i < tlen; i++) {
		char c = v[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-'))
			return -1;
	}
	memcpy(p->orcpt_type, v, tlen);
	p->orcpt_type[tlen] = '\0';
	return decode_xtext_into(semi + 1, vlen - tlen - 1, p->orcpt_addr,
				 SMTP_XTEXT_VALUE_MAX);
}

struct param_def {
	const char *name;
	unsigned int bit;    /* SMTP_PARAM_* */
	enum smtp_verb verb; /* MAIL or RCPT */
	unsigned int ext;    /* SMTP_PARSE_EXT_* that must be offered */
	const char *bad;     /* reply text for a bad value */
};

static const struct param_def params[] = {
    {"SIZE", SMTP_PARAM_SIZE, SMTP_VERB_MAIL, SMTP_PARSE_EXT_SIZE,
     "Bad message size syntax"},
    {"BODY", SMTP_PARAM_BODY, SMTP_VERB_MAIL, SMTP_PARSE_EXT_8BITMIME,
     "Bad BODY keyword value"},
    {"SMTPUTF8", SMTP_PARAM_SMTPUTF8, SMTP_VERB_MAIL, SMTP_PARSE_EXT_SMTPUTF8,
     "Bad SMTPUTF8 parameter syntax"},
    {"RET", SMTP_PARAM_RET, SMTP_VERB_MAIL, SMTP_PARSE_EXT_DSN,
     "Bad RET parameter syntax"},
    {"ENVID", SMTP_PARAM_ENVID, SMTP_VERB_MAIL, SMTP_PARSE_EXT_DSN,
     "Bad ENVID parameter syntax"},
    {"AUTH", SMTP_PARAM_AUTH, SMTP_VERB_MAIL, SMTP_PARSE_EXT_AUTH,
     "Bad AUTH parameter syntax"},
    {"NOTIFY", SMTP_PARAM_NOTIFY, SMTP_VERB_RCPT, SMTP_PARSE_EXT_DSN,
     "Error: Bad NOTIFY parameter syntax"},
    {"ORCPT", SMTP_PARAM_ORCPT, SMTP_VERB_RCPT, SMTP_PARSE_EXT_DSN,
     "Error: Bad ORCPT parameter syntax"},
};

/* Parses the value of one known parameter; -1 means "bad value". */
static int
parse_param_value(struct smtp_command *cmd, const struct param_def *def,
		  const char *v, size_t vlen, bool has_value,
		  unsigned int flags)
{
	struct smtp_params *p = &cmd->params;
	int ret;

	if (def->bit == SMTP_PARAM_SMTPUTF8)
		return has_value ? -1 : 0;
	if (!has_value)
		return -1;
	switch (def->bit) {
	case SMTP_PARAM_SIZE:
		ret =
		    smtp_parse_decimal(v, vlen, SMTP_BDAT_DIGITS_MAX, &p->size);
		if (ret > 0)
			return set_error(cmd, 552, "5.3.4",
					 "Message size exceeds fixed limit",
					 NULL, 0);
		return ret;
	case SMTP_PARAM_BODY:
		if (word_is(v, vlen, "7BIT"))
			p->body = SMTP_BODY_7BIT;
		else if (word_is(v, vlen, "8BITMIME"))
			p->body = SMTP_BODY_8BITMIME;
		else if (word_is(v, vlen, "BINARYMIME") &&
			 (flags & SMTP_PARSE_EXT_BINARYMIME) != 0)
			p->body = SMTP_BODY_BINARYMIME;
		else
			return -1;
		return 0;
	case SMTP_PARAM_RET:
		if (word_is(v, vlen, "FULL"))
			p->ret = SMTP_RET_FULL;
		else if (word_is(v, vlen, "HDRS"))
			p->ret = SMTP_RET_HDRS;
		else
			return -1;
		return 0;
	case SMTP_PARAM_ENVID:
		return decode_xtext_into(v, vlen, p->envid, SMTP_ENVID_MAX);
	case SMTP_PARAM_AUTH:
		if (vlen == 2 && v[0] == '<' && v[1] == '>') {
			memcpy(p->auth, "<>", 3);
			return 0;
		}
		return decode_xtext_into(v, vlen, p->auth,
					 SMTP_XTEXT_VALUE_MAX);
	case SMTP_PARAM_NOTIFY:
		return parse_notify(v, vlen, &p->notify);
	case SMTP_PARAM_ORCPT:
		return parse_orcpt(v, vlen, p);
	}
	return -1;
}

static int
parse_param(struct smtp_command *cmd, const char *tok, size_t toklen,
	    unsigned int flags)
{
	const char *eq = memchr(tok, '=', toklen);
	size_t klen = eq != NULL ? (size_t)(eq - tok) : toklen;
	const char *v = eq != NULL ? eq + 1 : NULL;
	size_t vlen = eq != NULL ? toklen - klen - 1 : 0;
	const struct param_def *def = NULL;
	char msg[64];
	size_t i;

	for (i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		if (word_is(tok, klen, params[i].name)) {
			def = &params[i];
			break;
		}
	}
	if (def == NULL || def->verb != cmd->verb || (flags & def->ext) == 0)
		return set_error(cmd, 555, "5.5.4", "Unsupported option: ", tok,
				 toklen);
	if ((cmd->params.present & def->bit) != 0) {
		struct strbuf sb;

		strbuf_init(&sb, sizeof(msg) - 1);
		(void)strbuf_printf(&sb, "Duplicate %s parameter", def->name);
		memcpy(msg, strbuf_cstr(&sb), sb.len + 1);
		strbuf_release(&sb);
		return set_error(cmd, 501, "5.5.4", msg, NULL, 0);
	}
	cmd->params.present |= def->bit;
	for (i = 0; i < vlen; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c < 33 || c > 126)
			return set_error(cmd, 501, "5.5.4", def->bad, NULL, 0);
	}
	if (parse_param_value(cmd, def, v, vlen, eq != NULL, flags) < 0) {
		if (cmd->error.code != 0)
			return -1;
		return set_error(cmd, 501, "5.5.4", def->bad, NULL, 0);
	}
	return 0;
}

/* Returns the start of the next white-space separated token of s at or
   after *pos, sets *tlen_r to its length (0 at the end) and advances *pos. */
static size_t
next_token(const char *s, size_t len, size_t *pos, size_t *tlen_r)
{
	size_t start;

	while (*pos < len && is_space(s[*pos]))
		(*pos)++;
	start = *pos;
	while (*pos < len && !is_space(s[*pos]))
		(*pos)++;
	*tlen_r = *pos - start;
	return start;
}

static bool
params_have_smtputf8(const char *s, size_t len)
{
	size_t pos = 0, tlen, start;

	while ((start = next_token(s, len, &pos, &tlen)), tlen > 0) {
		if (word_is(s + start, tlen, "SMTPUTF8"))
			return true;
	}
	return false;
}

/* Finds the '>' that closes the path starting at s[0] == '<'; quoted
   strings may contain '>'. Returns its index or len if there is none. */
static size_t
path_end(const char *s, size_t len)
{
	bool quoted = false;
	size_t i;

	for (i = 1; i < len; i++) {
		if (quoted && s[i] == '\\')
			i++;
		else if (s[i] == '"')
			quoted = !quoted;
		else if (!quoted && s[i] == '>')
			return i;
	}
	return len;
}

static bool
has_high_bytes(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] >= 0x80)
			return true;
	}
	return false;
}

static int
parse_envelope(struct smtp_command *cmd, const char *s, size_t len,
	       unsigned int flags)
{
	bool mail = cmd->verb == SMTP_VERB_MAIL;
	const char *keyword = mail ? "FROM:" : "TO:";
	const char *syntax =
	    mail ? "Syntax: MAIL FROM:<address>" : "Syntax: RCPT TO:<address>";
	const char *bad_enh = mail ? "5.1.7" : "5.1.3";
	const char *bad =
	    mail ? "Bad sender address syntax" : "Bad recipient address syntax";
	size_t klen = strlen(keyword), pos, plen, tlen, start;
	unsigned int aflags = ADDRESS_PARSE_ALLOW_NO_DOMAIN;
	const char *path, *error;
	int ret;

	if (len < klen || strncasecmp(s, keyword, klen) != 0)
		return set_error(cmd, 501, "5.5.4", syntax, NULL, 0);
	pos = klen;
	if (pos < len && is_space(s[pos])) {
		if ((flags & SMTP_PARSE_STRICT) != 0)
			return set_error(cmd, 501, "5.5.4", syntax, NULL, 0);
		while (pos < len && is_space(s[pos]))
			pos++;
	}
	if (pos == len)
		return set_error(cmd, 501, "5.5.4", syntax, NULL, 0);
	path = s + pos;
	if (path[0] == '<') {
		plen = path_end(path, len - pos);
		if (plen == len - pos)
			return set_error(cmd, 501, bad_enh, bad, NULL, 0);
		plen++;
	} else {
		if ((flags & SMTP_PARSE_STRICT) != 0)
			return set_error(cmd, 501, bad_enh, bad, NULL, 0);
		for (plen = 0; plen < len - pos && !is_space(path[plen]);)
			plen++;
	}
	pos += plen;
	if (pos < len && !is_space(s[pos]))
		return set_error(cmd, 501, bad_enh, bad, NULL, 0);

	if (mail) {
		aflags |= ADDRESS_PARSE_ALLOW_NULL;
		if ((flags & SMTP_PARSE_EXT_SMTPUTF8) != 0 &&
		    params_have_smtputf8(s + pos, len - pos))
			aflags |= ADDRESS_PARSE_UTF8;
	} else if ((flags & SMTP_PARSE_UTF8_TRANSACTION) != 0) {
		aflags |= ADDRESS_PARSE_UTF8;
	}
	if (has_high_bytes(path, plen) && (aflags & ADDRESS_PARSE_UTF8) == 0)
		return set_error(
		    cmd, 553, "5.6.7",
		    "Must declare SMTPUTF8 to send unicode address", NULL, 0);
	if (path[0] == '<')
		ret =
		    address_parse_path(path, plen, aflags, &cmd->path, &error);
	else {
		ret = address_parse_mailbox(path, plen,
					    aflags & ~ADDRESS_PARSE_ALLOW_NULL,
					    &cmd->path, &error);
		cmd->path.flags |= ADDRESS_FLAG_NO_BRACKETS;
	}
	if (ret < 0)
		return set_error(cmd, 501, bad_enh, bad, NULL, 0);

	while ((start = next_token(s, len, &pos, &tlen)), tlen > 0) {
		if (parse_param(cmd, s + start, tlen, flags) < 0)
			return -1;
	}
	return 0;
}

static int
parse_bdat(struct smtp_command *cmd, const char *s, size_t len)
{
	size_t pos = 0, start, tlen, lstart, ltlen;
	int ret;

	start = next_token(s, len, &pos, &tlen);
	lstart = next_token(s, len, &pos, &ltlen);
	if (tlen == 0 || pos != len ||
	    (ltlen > 0 && !word_is(s + lstart, ltlen, "LAST")))
		return set_error(cmd, 501, "5.5.4", "Syntax: BDAT count [LAST]",
				 NULL, 0);
	ret = smtp_parse_decimal(s + start, tlen, SMTP_BDAT_DIGITS_MAX,
				 &cmd->bdat_size);
	if (ret < 0)
		return set_error(cmd, 501, "5.5.4", "Syntax: BDAT count [LAST]",
				 NULL, 0);
	if (ret > 0)
		return set_error(cmd, 552, "5.3.4",
				 "Chunk exceeds message size limit", NULL, 0);
	cmd->bdat_last = ltlen > 0;
	return 0;
}

static int
parse_auth(struct smtp_command *cmd, const char *s, size_t len)
{
	size_t pos = 0, start, tlen, istart, itlen, i;

	start = next_token(s, len, &pos, &tlen);
	istart = next_token(s, len, &pos, &itlen);
	if (tlen == 0 || tlen > 20 || pos != len)
		return set_error(cmd, 501, "5.5.4", "Syntax: AUTH mechanism",
				 NULL, 0);
	for (i = 0; i < tlen; i++) {
		char c = s[start + i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return set_error(cmd, 501, "5.5.4",
					 "Syntax: AUTH mechanism", NULL, 0);
	}
	for (i = 0; i < itlen; i++) {
		char c = s[istart + i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '+' || c == '/' ||
		      c == '='))
			return set_error(cmd, 501, "5.5.2",
					 "Invalid base64 data in initial "
					 "response",
					 NULL, 0);
	}
	cmd->arg = s + start;
	cmd->arg_len = tlen;
	if (itlen > 0) {
		cmd->auth_initial = s + istart;
		cmd->auth_initial_len = itlen;
	}
	return 0;
}

static int
parse_args(struct smtp_command *cmd, const char *s, size_t len,
	   unsigned int flags)
{
	switch (cmd->verb) {
	case SMTP_VERB_HELO:
	case SMTP_VERB_EHLO:
	case SMTP_VERB_LHLO:
		if (len == 0) {
			return set_error(cmd, 501, "",
					 cmd->verb == SMTP_VERB_HELO
					     ? "Syntax: HELO hostname"
					 : cmd->verb == SMTP_VERB_EHLO
					     ? "Syntax: EHLO hostname"
					     : "Syntax: LHLO hostname",
					 NULL, 0);
		}
		cmd->helo_valid = s[0] == '['
				      ? address_valid_literal(s, len)
				      : address_valid_domain(s, len, false);
		break;
	case SMTP_VERB_MAIL:
	case SMTP_VERB_RCPT:
		return parse_envelope(cmd, s, len, flags);
	case SMTP_VERB_BDAT:
		return parse_bdat(cmd, s, len);
	case SMTP_VERB_AUTH:
		return parse_auth(cmd, s, len);
	case SMTP_VERB_DATA:
	case SMTP_VERB_RSET:
	case SMTP_VERB_STARTTLS:
		if (len > 0) {
			char msg[32] = "Syntax: ";

			memcpy(msg + 8, smtp_verb_name(cmd->verb),
			       strlen(smtp_verb_name(cmd->verb)) + 1);
			return set_error(cmd, 501, "5.5.4", msg, NULL, 0);
		}
		return 0;
	case SMTP_VERB_VRFY:
	case SMTP_VERB_EXPN:
		if (len == 0)
			return set_error(cmd, 501, "5.5.4",
					 cmd->verb == SMTP_VERB_VRFY
					     ? "Syntax: VRFY address"
					     : "Syntax: EXPN address",
					 NULL, 0);
		break;
	case SMTP_VERB_QUIT:
		/* Postfix ignores arguments of QUIT: never keep a client
		   that wants to leave. */
		return 0;
	case SMTP_VERB_NOOP:
	case SMTP_VERB_HELP:
	case SMTP_VERB_UNKNOWN:
		break;
	}
	if (len > 0) {
		cmd->arg = s;
		cmd->arg_len = len;
	}
	return 0;
}

int
smtp_parse_command(const char *line, size_t len, unsigned int flags,
		   struct smtp_command *cmd_r)
{
	size_t i, start, vlen;

	memset(cmd_r, 0, sizeof(*cmd_r));
	for (i = 0; i < len; i++) {
		if (line[i] == '\0' || line[i] == '\r' || line[i] == '\n')
			return set_error(cmd_r, 500, "5.5.2",
					 "Error: bad syntax", NULL, 0);
	}
	while (len > 0 && is_space(line[len - 1]))
		len--;
	for (start = 0; start < len && is_space(line[start]); start++)
		;
	if (start == len)
		return set_error(cmd_r, 500, "5.5.2", "Error: bad syntax", NULL,
				 0);
	for (i = start; i < len && !is_space(line[i]); i++)
		;
	vlen = i - start;
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (word_is(line + start, vlen, verbs[i].name)) {
			cmd_r->verb = verbs[i].verb;
			break;
		}
	}
	if (cmd_r->verb == SMTP_VERB_UNKNOWN)
		return set_error(cmd_r, 502, "5.5.2",
				 "Error: command not recognized", NULL, 0);
	start += vlen;
	while (start < len && is_space(line[start]))
		start++;
	return parse_args(cmd_r, line + start, len - start, flags);
}
