/*
 * imap_arg - accessors for the argument tree built by imap_parse, and its
 * canonical dump for tests. The arguments are untrusted client data: the
 * accessors refuse strings holding NUL bytes where a C string is handed
 * out. No I/O, no logging.
 */
#include "mail/imap_parse.h"

#include <string.h>
#include <strings.h>

#include "mail/imap_seqset.h"
#include "util/strbuf.h"

bool
imap_arg_get_astring(const struct imap_arg *arg, const char **str_r)
{
	switch (arg->type) {
	case IMAP_ARG_NIL: /* astring "NIL" is the string NIL */
	case IMAP_ARG_ATOM:
	case IMAP_ARG_QUOTED:
	case IMAP_ARG_LITERAL:
		if (memchr(arg->str, '\0', arg->len) != NULL)
			return false;
		*str_r = arg->str;
		return true;
	default:
		return false;
	}
}

bool
imap_arg_get_nstring(const struct imap_arg *arg, const char **str_r)
{
	if (arg->type == IMAP_ARG_NIL) {
		*str_r = NULL;
		return true;
	}
	if (arg->type == IMAP_ARG_ATOM)
		return false;
	return imap_arg_get_astring(arg, str_r);
}

bool
imap_arg_get_atom(const struct imap_arg *arg, const char **str_r)
{
	if (arg->type != IMAP_ARG_ATOM)
		return false;
	*str_r = arg->str;
	return true;
}

bool
imap_arg_atom_equals(const struct imap_arg *arg, const char *name)
{
	return arg->type == IMAP_ARG_ATOM && strcasecmp(arg->str, name) == 0;
}

int
imap_arg_get_seqset(const struct imap_arg *arg, unsigned int max_ranges,
		    bool allow_saved, struct imap_seqset *set_r,
		    const char **error_r)
{
	if (arg->type != IMAP_ARG_ATOM) {
		memset(set_r, 0, sizeof(*set_r));
		*error_r = "Invalid messageset";
		return -1;
	}
	return imap_seqset_parse(arg->str, arg->len, max_ranges, allow_saved,
				 set_r, error_r);
}

static int
dump_string(struct strbuf *sb, const char *s, size_t len)
{
	size_t i;
	int ret = strbuf_append_char(sb, '"');

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 32 && c < 127 && c != '"' && c != '\\')
			ret |= strbuf_append_char(sb, (char)c);
		else
			ret |= strbuf_printf(sb, "\\x%02X", c);
	}
	return ret | strbuf_append_char(sb, '"');
}

int
imap_args_dump(struct strbuf *sb, const struct imap_arg *args,
	       unsigned int count)
{
	unsigned int i;
	int ret = 0;

	for (i = 0; i < count; i++) {
		const struct imap_arg *a = &args[i];

		if (i > 0)
			ret |= strbuf_append_char(sb, ' ');
		switch (a->type) {
		case IMAP_ARG_NIL:
			ret |= strbuf_append_str(sb, "NIL");
			break;
		case IMAP_ARG_ATOM:
			ret |= strbuf_append(sb, a->str, a->len);
			break;
		case IMAP_ARG_QUOTED:
			ret |= dump_string(sb, a->str, a->len);
			break;
		case IMAP_ARG_LITERAL:
			ret |= strbuf_printf(
			    sb, "%s{%llu}", a->literal8 ? "~" : "",
			    (unsigned long long)a->literal_size);
			ret |= dump_string(sb, a->str, a->len);
			break;
		case IMAP_ARG_LITERAL_STREAM:
			ret |= strbuf_printf(
			    sb, "%s{%llu}<stream>", a->literal8 ? "~" : "",
			    (unsigned long long)a->literal_size);
			break;
		case IMAP_ARG_LIST:
			ret |= strbuf_append_char(sb, '(');
			ret |= imap_args_dump(sb, a->list, a->count);
			ret |= strbuf_append_char(sb, ')');
			break;
		}
	}
	return ret < 0 ? -1 : 0;
}
