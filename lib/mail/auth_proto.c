/*
 * auth_proto - Dovecot authentication protocol lines: splitting, escaping
 * and command/reply parsing (base64 is util/base64). Input: lines from an
 * untrusted peer, already bounded by the reader. Pure: no I/O, no logging, no
 * globals; must never read past the given lengths.
 */
#include <limits.h>
#include <string.h>

#include "mail/auth_proto.h"
#include "util/strbuf.h"

int
auth_proto_tabescape(struct strbuf *dest, const char *src)
{
	const char *p, *start = src;
	char esc[2] = {'\001', 0};

	for (p = src; *p != '\0'; p++) {
		switch (*p) {
		case '\001':
			esc[1] = '1';
			break;
		case '\t':
			esc[1] = 't';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		default:
			continue;
		}
		if (strbuf_append(dest, start, (size_t)(p - start)) < 0 ||
		    strbuf_append(dest, esc, 2) < 0)
			return -1;
		start = p + 1;
	}
	return strbuf_append(dest, start, (size_t)(p - start));
}

size_t
auth_proto_tabunescape(char *str)
{
	char *src = str, *dest = str;

	while (*src != '\0') {
		if (*src != '\001') {
			*dest++ = *src++;
			continue;
		}
		src++;
		switch (*src) {
		case '\0':
			continue;
		case '1':
			*dest++ = '\001';
			break;
		case 't':
			*dest++ = '\t';
			break;
		case 'n':
			*dest++ = '\n';
			break;
		case 'r':
			*dest++ = '\r';
			break;
		default:
			*dest++ = *src;
			break;
		}
		src++;
	}
	*dest = '\0';
	return (size_t)(dest - str);
}

int
auth_proto_split(char *line, size_t len, char **args_r, size_t max_args)
{
	size_t n = 0, i, start = 0;

	if (max_args == 0 || memchr(line, '\0', len) != NULL)
		return -1;
	for (i = 0; i <= len; i++) {
		if (i < len && line[i] != '\t')
			continue;
		if (n == max_args)
			return -1;
		line[i] = '\0';
		args_r[n] = line + start;
		(void)auth_proto_tabunescape(args_r[n]);
		n++;
		start = i + 1;
	}
	return (int)n;
}

void
auth_proto_kv(char *arg, const char **name_r, const char **value_r)
{
	char *eq = strchr(arg, '=');

	*name_r = arg;
	if (eq == NULL) {
		*value_r = "";
	} else {
		*eq = '\0';
		*value_r = eq + 1;
	}
}

int
auth_proto_parse_uint(const char *str, unsigned int *num_r)
{
	unsigned long long n = 0;

	if (*str == '\0')
		return -1;
	for (; *str != '\0'; str++) {
		if (*str < '0' || *str > '9')
			return -1;
		n = n * 10 + (unsigned int)(*str - '0');
		if (n > UINT_MAX)
			return -1;
	}
	*num_r = (unsigned int)n;
	return 0;
}

enum auth_proto_client_cmd
auth_proto_client_cmd(const char *word)
{
	static const struct {
		const char *name;
		enum auth_proto_client_cmd cmd;
	} cmds[] = {
	    {"VERSION", AUTH_PROTO_CMD_VERSION}, {"CPID", AUTH_PROTO_CMD_CPID},
	    {"AUTH", AUTH_PROTO_CMD_AUTH},	 {"CONT", AUTH_PROTO_CMD_CONT},
	    {"CANCEL", AUTH_PROTO_CMD_CANCEL},
	};

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(word, cmds[i].name) == 0)
			return cmds[i].cmd;
	}
	return AUTH_PROTO_CMD_UNKNOWN;
}

int
auth_proto_parse_version(char *const *args, size_t n, unsigned int major,
			 const char **error_r)
{
	unsigned int got_major, got_minor;

	if (n < 3 || strcmp(args[0], "VERSION") != 0 ||
	    auth_proto_parse_uint(args[1], &got_major) < 0 ||
	    auth_proto_parse_uint(args[2], &got_minor) < 0) {
		*error_r = "broken VERSION line";
		return -1;
	}
	if (got_major != major) {
		*error_r = "incompatible protocol major version";
		return -1;
	}
	return 0;
}

int
auth_proto_parse_auth(char *const *args, size_t n,
		      struct auth_proto_auth *auth_r, const char **error_r)
{
	size_t i;

	memset(auth_r, 0, sizeof(*auth_r));
	if (n < 3 || auth_proto_parse_uint(args[1], &auth_r->id) < 0 ||
	    args[2][0] == '\0') {
		*error_r = "broken AUTH request";
		return -1;
	}
	auth_r->mech = args[2];
	for (i = 3; i < n; i++) {
		const char *name, *value;

		if (auth_r->resp != NULL) {
			*error_r = "AUTH parameters after resp";
			return -1;
		}
		auth_proto_kv(args[i], &name, &value);
		if (strcmp(name, "service") == 0)
			auth_r->service = value;
		else if (strcmp(name, "lip") == 0)
			auth_r->lip = value;
		else if (strcmp(name, "rip") == 0)
			auth_r->rip = value;
		else if (strcmp(name, "lport") == 0)
			auth_r->lport = value;
		else if (strcmp(name, "rport") == 0)
			auth_r->rport = value;
		else if (strcmp(name, "session") == 0)
			auth_r->session = value;
		else if (strcmp(name, "secured") == 0)
			auth_r->secured = true;
		else if (strcmp(name, "nologin") == 0)
			auth_r->nologin = true;
		else if (strcmp(name, "no-penalty") == 0)
			auth_r->no_penalty = true;
		else if (strcmp(name, "valid-client-cert") == 0)
			auth_r->valid_client_cert = true;
		else if (strcmp(name, "resp") == 0)
			auth_r->resp = value;
	}
	if (auth_r->service == NULL || auth_r->service[0] == '\0') {
		*error_r = "AUTH request without service";
		return -1;
	}
	return 0;
}

int
auth_proto_parse_cont(char *const *args, size_t n, unsigned int *id_r,
		      const char **data_r, const char **error_r)
{
	if (n != 3 || auth_proto_parse_uint(args[1], id_r) < 0) {
		*error_r = "broken CONT request";
		return -1;
	}
	*data_r = args[2];
	return 0;
}

static int
hex_append(struct strbuf *out, const unsigned char *data, size_t len)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		char pair[2] = {hex[data[i] >> 4], hex[data[i] & 15]};

		if (strbuf_append(out, pair, 2) < 0)
			return -1;
	}
	return 0;
}

int
auth_proto_handshake(struct strbuf *out, const struct auth_proto_mech *mechs,
		     size_t n_mechs, unsigned long spid, unsigned int cuid,
		     const unsigned char cookie[AUTH_PROTO_COOKIE_SIZE])
{
	static const struct {
		unsigned int flag;
		const char *name;
	} flag_names[] = {
	    /* Dovecot's order. */
	    {AUTH_MECH_SEC_ANONYMOUS, "anonymous"},
	    {AUTH_MECH_SEC_PLAINTEXT, "plaintext"},
	    {AUTH_MECH_SEC_DICTIONARY, "dictionary"},
	    {AUTH_MECH_SEC_ACTIVE, "active"},
	    {AUTH_MECH_SEC_FORWARD_SECRECY, "forward-secrecy"},
	    {AUTH_MECH_SEC_MUTUAL_AUTH, "mutual-auth"},
	};

	if (strbuf_printf(out, "VERSION\t%u\t%u\n", AUTH_PROTO_MAJOR_VERSION,
			  AUTH_PROTO_MINOR_VERSION) < 0)
		return -1;
	for (size_t i = 0; i < n_mechs; i++) {
		if ((mechs[i].flags & AUTH_MECH_SEC_PRIVATE) != 0)
			continue;
		if (strbuf_append_str(out, "MECH\t") < 0 ||
		    strbuf_append_str(out, mechs[i].name) < 0)
			return -1;
		for (size_t j = 0;
		     j < sizeof(flag_names) / sizeof(flag_names[0]); j++) {
			if ((mechs[i].flags & flag_names[j].flag) == 0)
				continue;
			if (strbuf_append_char(out, '\t') < 0 ||
			    strbuf_append_str(out, flag_names[j].name) < 0)
				return -1;
		}
		if (strbuf_append_char(out, '\n') < 0)
			return -1;
	}
	if (strbuf_printf(out, "SPID\t%lu\nCUID\t%u\nCOOKIE\t", spid, cuid) <
		0 ||
	    hex_append(out, cookie, AUTH_PROTO_COOKIE_SIZE) < 0 ||
	    strbuf_append_str(out, "\nDONE\n") < 0)
		return -1;
	return 0;
}

int
auth_proto_add_field(struct strbuf *out, const char *name, const char *value)
{
	if (strbuf_append_char(out, '\t') < 0 ||
	    strbuf_append_str(out, name) < 0)
		return -1;
	if (value == NULL)
		return 0;
	if (strbuf_append_char(out, '=') < 0)
		return -1;
	return auth_proto_tabescape(out, value);
}

int
auth_proto_parse_reply(char *const *args, size_t n,
		       struct auth_proto_reply *reply_r, const char **error_r)
{
	memset(reply_r, 0, sizeof(*reply_r));
	if (n < 2 || auth_proto_parse_uint(args[1], &reply_r->id) < 0) {
		*error_r = "broken reply";
		return -1;
	}
	if (strcmp(args[0], "CONT") == 0) {
		if (n != 3) {
			*error_r = "broken CONT reply";
			return -1;
		}
		reply_r->kind = AUTH_PROTO_REPLY_CONT;
		reply_r->data = args[2];
		return 0;
	}
	if (strcmp(args[0], "OK") == 0)
		reply_r->kind = AUTH_PROTO_REPLY_OK;
	else if (strcmp(args[0], "FAIL") == 0)
		reply_r->kind = AUTH_PROTO_REPLY_FAIL;
	else {
		*error_r = "unknown reply";
		return -1;
	}
	reply_r->fields = args + 2;
	reply_r->n_fields = n - 2;
	for (size_t i = 2; i < n; i++) {
		const char *arg = args[i];
		size_t nlen = strcspn(arg, "=");
		const char *value = arg[nlen] == '=' ? arg + nlen + 1 : NULL;

		if (nlen == 4 && strncmp(arg, "user", 4) == 0 && value != NULL)
			reply_r->user = value;
		else if (nlen == 6 && strncmp(arg, "reason", 6) == 0 &&
			 value != NULL)
			reply_r->reason = value;
		else if (nlen == 4 && strncmp(arg, "resp", 4) == 0 &&
			 value != NULL)
			reply_r->resp = value;
		else if (strcmp(arg, "temp") == 0)
			reply_r->temp = true;
		else if (strcmp(arg, "authz") == 0)
			reply_r->authz = true;
		else if (nlen == 7 && strncmp(arg, "nologin", 7) == 0)
			reply_r->nologin = true;
	}
	return 0;
}

int
auth_proto_parse_user(char *const *args, size_t n,
		      struct auth_proto_user *user_r, const char **error_r)
{
	memset(user_r, 0, sizeof(*user_r));
	if (n < 3 || auth_proto_parse_uint(args[1], &user_r->id) < 0 ||
	    args[2][0] == '\0') {
		*error_r = "broken USER request";
		return -1;
	}
	user_r->user = args[2];
	for (size_t i = 3; i < n; i++) {
		const char *name, *value;

		auth_proto_kv(args[i], &name, &value);
		if (strcmp(name, "service") == 0)
			user_r->service = value;
		else if (strcmp(name, "lip") == 0)
			user_r->lip = value;
		else if (strcmp(name, "rip") == 0)
			user_r->rip = value;
	}
	if (user_r->service == NULL || user_r->service[0] == '\0') {
		*error_r = "USER request without service";
		return -1;
	}
	return 0;
}

int
auth_proto_parse_userdb_reply(char *const *args, size_t n,
			      struct auth_proto_userdb_reply *reply_r,
			      const char **error_r)
{
	memset(reply_r, 0, sizeof(*reply_r));
	if (n < 2 || auth_proto_parse_uint(args[1], &reply_r->id) < 0) {
		*error_r = "broken userdb reply";
		return -1;
	}
	if (strcmp(args[0], "USER") == 0) {
		if (n < 3 || args[2][0] == '\0') {
			*error_r = "USER reply without user";
			return -1;
		}
		reply_r->kind = AUTH_PROTO_USERDB_USER;
		reply_r->user = args[2];
		reply_r->fields = args + 3;
		reply_r->n_fields = n - 3;
	} else if (strcmp(args[0], "NOTFOUND") == 0) {
		reply_r->kind = AUTH_PROTO_USERDB_NOTFOUND;
	} else if (strcmp(args[0], "FAIL") == 0) {
		reply_r->kind = AUTH_PROTO_USERDB_FAIL;
		for (size_t i = 2; i < n; i++) {
			if (strncmp(args[i], "reason=", 7) == 0)
				reply_r->reason = args[i] + 7;
		}
	} else {
		*error_r = "unknown userdb reply";
		return -1;
	}
	return 0;
}
