/*
 * imap_bodystructure - BODY, BODYSTRUCTURE and ENVELOPE (see
 * imap_bodystructure.h). Each part's header is read again from the
 * message by the offsets mime_parse recorded and parsed with
 * rfc822_header; which field wins and how broken fields are shown follow
 * Dovecot 2.3 (message-part-data.c, imap-bodystructure.c,
 * imap-envelope.c). The message is untrusted; recursion is bounded by the
 * parser's depth limit. No I/O, no logging.
 */
#include "mail/imap_bodystructure.h"

#include <string.h>
#include <strings.h>

#include "mail/imap_quote.h"
#include "mail/mime_parse.h"
#include "mail/rfc822_header.h"
#include "util/strbuf.h"
#include "util/xmem.h"

/* Most header fields looked at in one part's header. */
#define BS_MAX_FIELDS 10000
#define BS_MAX_LANGUAGES 64

#define EMPTY_BODY                                                             \
	"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)"
#define EMPTY_BODYSTRUCTURE                                                    \
	"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 " \
	"NIL NIL NIL NIL)"

struct part_data {
	struct rfc822_header hdr;
	char *type, *subtype; /* NULL without a Content-Type field */
	struct rfc822_params params;
	const char *id, *description, *md5, *location;
	char *encoding;
	char *disposition;
	struct rfc822_params disp_params;
	char *langs[BS_MAX_LANGUAGES];
	unsigned int nlangs;
};

static void
parse_content_type(struct part_data *d, const struct rfc822_field *f)
{
	struct strbuf type, subtype;
	struct rfc822_lex lx;
	int ret;

	strbuf_init(&type, f->value_len + 1);
	strbuf_init(&subtype, f->value_len + 1);
	rfc822_lex_init(&lx, f->value, f->value_len, NULL);
	ret = rfc822_lex_content_type(&lx, &type, &subtype);
	d->type = strbuf_steal(&type);
	d->subtype = strbuf_steal(&subtype);
	if (d->type == NULL)
		d->type = xstrdup("");
	if (d->subtype == NULL)
		d->subtype = xstrdup("");
	if (ret == 0)
		rfc822_params_parse(&lx, &d->params);
	strbuf_release(&type);
	strbuf_release(&subtype);
}

static void
parse_encoding(struct part_data *d, const struct rfc822_field *f)
{
	struct strbuf tok;
	struct rfc822_lex lx;

	strbuf_init(&tok, f->value_len + 1);
	rfc822_lex_init(&lx, f->value, f->value_len, NULL);
	(void)rfc822_lex_skip_lwsp(&lx);
	if (rfc822_lex_mime_token(&lx, &tok) >= 0 &&
	    rfc822_lex_skip_lwsp(&lx) == 0 && tok.len > 0)
		d->encoding = strbuf_steal(&tok);
	strbuf_release(&tok);
}

static void
parse_disposition(struct part_data *d, const struct rfc822_field *f)
{
	struct strbuf tok;
	struct rfc822_lex lx;

	strbuf_init(&tok, f->value_len + 1);
	rfc822_lex_init(&lx, f->value, f->value_len, NULL);
	(void)rfc822_lex_skip_lwsp(&lx);
	if (rfc822_lex_mime_token(&lx, &tok) >= 0) {
		d->disposition = xstrdup(strbuf_cstr(&tok));
		rfc822_params_parse(&lx, &d->disp_params);
	}
	strbuf_release(&tok);
}

static void
parse_language(struct part_data *d, const struct rfc822_field *f)
{
	struct strbuf tok;
	struct rfc822_lex lx;

	strbuf_init(&tok, f->value_len + 1);
	rfc822_lex_init(&lx, f->value, f->value_len, NULL);
	(void)rfc822_lex_skip_lwsp(&lx);
	while (d->nlangs < BS_MAX_LANGUAGES &&
	       rfc822_lex_atom(&lx, &tok) >= 0) {
		d->langs[d->nlangs++] = xstrdup(strbuf_cstr(&tok));
		strbuf_reset(&tok);
		if (lx.data >= lx.end || *lx.data != ',')
			break;
		lx.data++;
		(void)rfc822_lex_skip_lwsp(&lx);
	}
	strbuf_release(&tok);
}

/* Reads the Content-* fields of a part's header; the first of each wins.
   As in Dovecot, fields other than Content-Type count only in a MIME part:
   one inside a multipart, or with MIME-Version or Content-Type. */
static void
part_data_parse(struct part_data *d, const void *hdr, size_t len,
		bool in_multipart)
{
	unsigned int i;

	memset(d, 0, sizeof(*d));
	rfc822_header_parse(hdr, len, BS_MAX_FIELDS, &d->hdr);
	if (!in_multipart &&
	    rfc822_header_find(&d->hdr, "MIME-Version", false) == NULL &&
	    rfc822_header_find(&d->hdr, "Content-Type", false) == NULL)
		return;
	for (i = 0; i < d->hdr.count; i++) {
		const struct rfc822_field *f = &d->hdr.fields[i];
		const char *n = f->name;

		if (strncasecmp(n, "Content-", 8) != 0)
			continue;
		n += 8;
		if (strcasecmp(n, "Type") == 0) {
			if (d->type == NULL)
				parse_content_type(d, f);
		} else if (strcasecmp(n, "Transfer-Encoding") == 0) {
			if (d->encoding == NULL)
				parse_encoding(d, f);
		} else if (strcasecmp(n, "ID") == 0) {
			if (d->id == NULL)
				d->id = f->value;
		} else if (strcasecmp(n, "Description") == 0) {
			if (d->description == NULL)
				d->description = f->value;
		} else if (strcasecmp(n, "MD5") == 0) {
			if (d->md5 == NULL)
				d->md5 = f->value;
		} else if (strcasecmp(n, "Location") == 0) {
			if (d->location == NULL)
				d->location = f->value;
		} else if (strcasecmp(n, "Disposition") == 0) {
			if (d->disposition == NULL)
				parse_disposition(d, f);
		} else if (strcasecmp(n, "Language") == 0) {
			if (d->nlangs == 0)
				parse_language(d, f);
		}
	}
}

static void
part_data_free(struct part_data *d)
{
	unsigned int i;

	xfree(&d->type);
	xfree(&d->subtype);
	xfree(&d->encoding);
	xfree(&d->disposition);
	rfc822_params_free(&d->params);
	rfc822_params_free(&d->disp_params);
	for (i = 0; i < d->nlangs; i++)
		xfree(&d->langs[i]);
	rfc822_header_free(&d->hdr);
}

static int
params_write(struct strbuf *out, const struct rfc822_params *params,
	     bool default_charset)
{
	bool seen_charset = false;
	unsigned int i;
	int ret = 0;

	if (!default_charset && params->count == 0)
		return strbuf_append_str(out, "NIL");
	ret |= strbuf_append_char(out, '(');
	for (i = 0; i < params->count; i++) {
		if (i > 0)
			ret |= strbuf_append_char(out, ' ');
		if (strcasecmp(params->v[i].name, "charset") == 0)
			seen_charset = true;
		ret |= imap_quote_nstring(out, params->v[i].name);
		ret |= strbuf_append_char(out, ' ');
		ret |= imap_quote_nstring(out, params->v[i].value);
	}
	if (default_charset && !seen_charset) {
		if (i > 0)
			ret |= strbuf_append_char(out, ' ');
		ret |= strbuf_append_str(out, "\"charset\" \"us-ascii\"");
	}
	ret |= strbuf_append_char(out, ')');
	return ret;
}

static int
write_common_ext(struct strbuf *out, const struct part_data *d)
{
	unsigned int i;
	int ret = 0;

	ret |= strbuf_append_char(out, ' ');
	if (d->disposition == NULL) {
		ret |= strbuf_append_str(out, "NIL");
	} else {
		ret |= strbuf_append_char(out, '(');
		ret |= imap_quote_nstring(out, d->disposition);
		ret |= strbuf_append_char(out, ' ');
		ret |= params_write(out, &d->disp_params, false);
		ret |= strbuf_append_char(out, ')');
	}
	ret |= strbuf_append_char(out, ' ');
	if (d->nlangs == 0) {
		ret |= strbuf_append_str(out, "NIL");
	} else {
		ret |= strbuf_append_char(out, '(');
		for (i = 0; i < d->nlangs; i++) {
			if (i > 0)
				ret |= strbuf_append_char(out, ' ');
			ret |= imap_quote_nstring(out, d->langs[i]);
		}
		ret |= strbuf_append_char(out, ')');
	}
	ret |= strbuf_append_char(out, ' ');
	ret |= imap_quote_nstring_nolf(out, d->location);
	return ret;
}

static int write_part(struct strbuf *out, const char *msg, size_t msg_len,
		      const struct mime_part *part, bool extended);

static int
write_multipart(struct strbuf *out, const char *msg, size_t msg_len,
		const struct mime_part *part, const struct part_data *d,
		bool extended)
{
	const struct mime_part *child;
	int ret = 0;

	if (part->children == NULL)
		ret |= strbuf_append_str(out, extended ? EMPTY_BODYSTRUCTURE
						       : EMPTY_BODY);
	for (child = part->children; child != NULL; child = child->next) {
		ret |= strbuf_append_char(out, '(');
		if (write_part(out, msg, msg_len, child, extended) < 0)
			return -1;
		ret |= strbuf_append_char(out, ')');
	}
	ret |= strbuf_append_char(out, ' ');
	ret |= imap_quote_nstring(out, d->subtype != NULL ? d->subtype : "");
	if (!extended)
		return ret;
	ret |= strbuf_append_char(out, ' ');
	ret |= params_write(out, &d->params, false);
	ret |= write_common_ext(out, d);
	return ret;
}

static bool
is_container_type(const struct part_data *d)
{
	return strcasecmp(d->type, "multipart") == 0 ||
	       (strcasecmp(d->type, "message") == 0 &&
		(strcasecmp(d->subtype, "rfc822") == 0 ||
		 strcasecmp(d->subtype, "global") == 0));
}

static int
write_leaf(struct strbuf *out, const char *msg, size_t msg_len,
	   const struct mime_part *part, const struct part_data *d,
	   bool extended)
{
	bool message = (part->flags & MIME_PART_FLAG_MESSAGE) != 0 &&
		       part->children != NULL;
	bool text = false;
	int ret = 0;

	if (message) {
		/* Dovecot writes the type in lower case here */
		if (d->subtype != NULL && strcasecmp(d->subtype, "global") == 0)
			ret |= strbuf_append_str(out, "\"message\" \"global\"");
		else
			ret |= strbuf_append_str(out, "\"message\" \"rfc822\"");
	} else if (d->type == NULL) {
		text = true;
		ret |= strbuf_append_str(out, "\"text\" \"plain\"");
	} else if (is_container_type(d)) {
		/* a container the parser did not open (depth limit) */
		ret |=
		    strbuf_append_str(out, "\"application\" \"octet-stream\"");
	} else {
		text = strcasecmp(d->type, "text") == 0;
		ret |= imap_quote_nstring(out, d->type);
		ret |= strbuf_append_char(out, ' ');
		ret |= imap_quote_nstring(out, d->subtype);
	}
	ret |= strbuf_append_char(out, ' ');
	ret |= params_write(out, &d->params, text);
	ret |= strbuf_append_char(out, ' ');
	ret |= imap_quote_nstring_nolf(out, d->id);
	ret |= strbuf_append_char(out, ' ');
	ret |= imap_quote_nstring_nolf(out, d->description);
	ret |= strbuf_append_char(out, ' ');
	if (d->encoding != NULL)
		ret |= imap_quote_nstring(out, d->encoding);
	else
		ret |= strbuf_append_str(out, "\"7bit\"");
	ret |=
	    strbuf_printf(out, " %llu", (unsigned long long)part->body.virtual);
	if (text) {
		ret |= strbuf_printf(out, " %llu",
				     (unsigned long long)part->body.lines);
	} else if (message) {
		const struct mime_part *child = part->children;

		if (child->header_offset + child->header.physical > msg_len)
			return -1;
		ret |= strbuf_append_char(out, ' ');
		ret |= imap_envelope_write(out, msg + child->header_offset,
					   (size_t)child->header.physical);
		ret |= strbuf_append_str(out, " (");
		if (write_part(out, msg, msg_len, child, extended) < 0)
			return -1;
		ret |= strbuf_printf(out, ") %llu",
				     (unsigned long long)part->body.lines);
	}
	if (!extended)
		return ret;
	ret |= strbuf_append_char(out, ' ');
	ret |= imap_quote_nstring_nolf(out, d->md5);
	ret |= write_common_ext(out, d);
	return ret;
}

static int
write_part(struct strbuf *out, const char *msg, size_t msg_len,
	   const struct mime_part *part, bool extended)
{
	struct part_data d;
	int ret;

	if (part->header_offset > msg_len ||
	    part->header.physical > msg_len - part->header_offset)
		return -1;
	part_data_parse(
	    &d, msg + part->header_offset, (size_t)part->header.physical,
	    part->parent != NULL &&
		(part->parent->flags & MIME_PART_FLAG_MULTIPART) != 0);
	if ((part->flags & MIME_PART_FLAG_MULTIPART) != 0)
		ret = write_multipart(out, msg, msg_len, part, &d, extended);
	else
		ret = write_leaf(out, msg, msg_len, part, &d, extended);
	part_data_free(&d);
	return ret < 0 ? -1 : 0;
}

/* Dovecot answers BODY of a plain 7-bit text message with a fixed,
   lower-case string (message_part_data_is_plain_7bit()). */
static bool
is_plain_7bit(const struct mime_part *part, const struct part_data *d)
{
	if (part->parent != NULL || part->children != NULL)
		return false;
	if (d->type != NULL && (strcasecmp(d->type, "text") != 0 ||
				strcasecmp(d->subtype, "plain") != 0))
		return false;
	if (d->params.count > 1 ||
	    (d->params.count == 1 &&
	     (strcasecmp(d->params.v[0].name, "charset") != 0 ||
	      strcasecmp(d->params.v[0].value, "us-ascii") != 0)))
		return false;
	if (d->id != NULL || d->description != NULL)
		return false;
	if (d->encoding != NULL && strcasecmp(d->encoding, "7bit") != 0)
		return false;
	return d->md5 == NULL && d->disposition == NULL && d->nlangs == 0 &&
	       d->location == NULL;
}

int
imap_bodystructure_write(struct strbuf *out, const void *msg, size_t msg_len,
			 const struct mime_part *part, bool extended)
{
	if (!extended && part->parent == NULL &&
	    (part->flags &
	     (MIME_PART_FLAG_MULTIPART | MIME_PART_FLAG_MESSAGE)) == 0 &&
	    part->header.physical <= msg_len) {
		struct part_data d;
		bool plain;

		part_data_parse(&d, msg, (size_t)part->header.physical, false);
		plain = is_plain_7bit(part, &d);
		part_data_free(&d);
		if (plain)
			return strbuf_printf(
			    out,
			    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") "
			    "NIL NIL "
			    "\"7bit\" %llu %llu)",
			    (unsigned long long)part->body.virtual,
			    (unsigned long long)part->body.lines);
	}
	if (strbuf_append_char(out, '(') < 0 ||
	    write_part(out, msg, msg_len, part, extended) < 0)
		return -1;
	return strbuf_append_char(out, ')');
}

/* ---- ENVELOPE ---- */

static int
write_addresses(struct strbuf *out, const struct rfc822_address *a)
{
	int ret = 0;

	if (a == NULL)
		return strbuf_append_str(out, "NIL");
	ret |= strbuf_append_char(out, '(');
	for (; a != NULL; a = a->next) {
		ret |= strbuf_append_char(out, '(');
		if (a->name == NULL)
			ret |= strbuf_append_str(out, "NIL");
		else
			ret |= imap_quote_human(out, a->name, strlen(a->name));
		ret |= strbuf_append_char(out, ' ');
		ret |= imap_quote_nstring_nolf(out, a->route);
		ret |= strbuf_append_char(out, ' ');
		ret |= imap_quote_nstring_nolf(out, a->mailbox);
		ret |= strbuf_append_char(out, ' ');
		ret |= imap_quote_nstring_nolf(out, a->domain);
		ret |= strbuf_append_char(out, ')');
	}
	ret |= strbuf_append_char(out, ')');
	return ret;
}

enum env_addr {
	ENV_FROM,
	ENV_SENDER,
	ENV_REPLY_TO,
	ENV_TO,
	ENV_CC,
	ENV_BCC,
	ENV_ADDR_COUNT
};
static const char *const env_addr_names[ENV_ADDR_COUNT] = {
    "From", "Sender", "Reply-To", "To", "Cc", "Bcc"};

int
imap_envelope_write(struct strbuf *out, const void *hdr_data, size_t hdr_len)
{
	struct rfc822_header hdr;
	struct rfc822_address *addrs[ENV_ADDR_COUNT] = {NULL};
	struct rfc822_address **tails[ENV_ADDR_COUNT];
	unsigned int counts[ENV_ADDR_COUNT] = {0};
	const struct rfc822_field *subject;
	unsigned int i, j;
	int ret = 0;

	rfc822_header_parse(hdr_data, hdr_len, BS_MAX_FIELDS, &hdr);
	for (j = 0; j < ENV_ADDR_COUNT; j++)
		tails[j] = &addrs[j];
	/* every address field of a kind adds to its list */
	for (i = 0; i < hdr.count; i++) {
		for (j = 0; j < ENV_ADDR_COUNT; j++) {
			if (strcasecmp(hdr.fields[i].name, env_addr_names[j]) ==
			    0)
				break;
		}
		if (j == ENV_ADDR_COUNT)
			continue;
		if (counts[j] >= IMAP_ENVELOPE_MAX_ADDRESSES)
			continue;
		*tails[j] = rfc822_address_parse(
		    hdr.fields[i].value, hdr.fields[i].value_len,
		    IMAP_ENVELOPE_MAX_ADDRESSES - counts[j]);
		while (*tails[j] != NULL) {
			tails[j] = &(*tails[j])->next;
			counts[j]++;
		}
	}

	ret |= strbuf_append_char(out, '(');
	{
		const struct rfc822_field *f =
		    rfc822_header_find(&hdr, "Date", true);

		ret |=
		    imap_quote_nstring_nolf(out, f != NULL ? f->value : NULL);
	}
	ret |= strbuf_append_char(out, ' ');
	subject = rfc822_header_find(&hdr, "Subject", true);
	if (subject == NULL)
		ret |= strbuf_append_str(out, "NIL");
	else
		ret |=
		    imap_quote_human(out, subject->value, subject->value_len);
	for (j = 0; j < ENV_ADDR_COUNT; j++) {
		const struct rfc822_address *a = addrs[j];

		if (a == NULL && (j == ENV_SENDER || j == ENV_REPLY_TO))
			a = addrs[ENV_FROM];
		ret |= strbuf_append_char(out, ' ');
		ret |= write_addresses(out, a);
	}
	{
		const struct rfc822_field *irt =
		    rfc822_header_find(&hdr, "In-Reply-To", true);
		const struct rfc822_field *mid =
		    rfc822_header_find(&hdr, "Message-ID", true);

		ret |= strbuf_append_char(out, ' ');
		ret |= imap_quote_nstring_nolf(out,
					       irt != NULL ? irt->value : NULL);
		ret |= strbuf_append_char(out, ' ');
		ret |= imap_quote_nstring_nolf(out,
					       mid != NULL ? mid->value : NULL);
	}
	ret |= strbuf_append_char(out, ')');
	for (j = 0; j < ENV_ADDR_COUNT; j++)
		rfc822_address_free(&addrs[j]);
	rfc822_header_free(&hdr);
	return ret < 0 ? -1 : 0;
}
