/*
 * rfc822_header_lex - the RFC 822/2045 tokenizer, Content-Type and MIME
 * parameter lists with RFC 2231 continuations (see rfc822_header.h). The
 * semantics, including the recovery from broken input, follow Dovecot
 * 2.3's rfc822-parser.c and rfc2231-parser.c so that BODYSTRUCTURE and
 * ENVELOPE match Dovecot's byte for byte. Input is untrusted and read only
 * within the bounds given; output buffers are the caller's strbufs. No I/O.
 */
#include "mail/rfc822_header.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/xmem.h"

bool
rfc822_is_atext(unsigned char c)
{
	if (c >= 0x80)
		return true; /* 8-bit text is taken as atext, as Dovecot does */
	if (c <= ' ' || c == 0x7f)
		return false;
	return strchr("()<>[]:;@\\,.\"", c) == NULL;
}

/* token chars of RFC 2045 (atext less tspecials), plus '.' */
static bool
is_mime_token(unsigned char c)
{
	if (c == '.')
		return true;
	return rfc822_is_atext(c) && c != '/' && c != '?' && c != '=';
}

void
rfc822_lex_init(struct rfc822_lex *lx, const void *data, size_t len,
		struct strbuf *last_comment)
{
	lx->data = data;
	lx->end = lx->data + len;
	lx->last_comment = last_comment;
}

static int
skip_comment(struct rfc822_lex *lx)
{
	const unsigned char *start;
	int level = 1;

	if (lx->last_comment != NULL)
		strbuf_reset(lx->last_comment);
	start = ++lx->data;
	for (; lx->data < lx->end; lx->data++) {
		switch (*lx->data) {
		case '(':
			level++;
			break;
		case ')':
			if (--level == 0) {
				if (lx->last_comment != NULL)
					(void)strbuf_append(
					    lx->last_comment, start,
					    (size_t)(lx->data - start));
				lx->data++;
				return lx->data < lx->end ? 1 : 0;
			}
			break;
		case '\n':
			if (lx->last_comment != NULL) {
				size_t len = (size_t)(lx->data - start);

				if (len > 0 && start[len - 1] == '\r')
					len--;
				(void)strbuf_append(lx->last_comment, start,
						    len);
			}
			start = lx->data + 1;
			break;
		case '\\':
			lx->data++;
			if (lx->data >= lx->end)
				return -1;
			if (*lx->data == '\r' || *lx->data == '\n') {
				lx->data--;
				break;
			}
			if (lx->last_comment != NULL)
				(void)strbuf_append(
				    lx->last_comment, start,
				    (size_t)(lx->data - start - 1));
			start = lx->data;
			break;
		}
	}
	return -1; /* missing ')' */
}

int
rfc822_lex_skip_lwsp(struct rfc822_lex *lx)
{
	while (lx->data < lx->end) {
		unsigned char c = *lx->data;

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			lx->data++;
			continue;
		}
		if (c != '(')
			break;
		if (skip_comment(lx) < 0)
			return -1;
	}
	return lx->data < lx->end ? 1 : 0;
}

int
rfc822_lex_atom(struct rfc822_lex *lx, struct strbuf *out)
{
	const unsigned char *start = lx->data;

	if (lx->data >= lx->end || !rfc822_is_atext(*lx->data))
		return -1;
	while (lx->data < lx->end && rfc822_is_atext(*lx->data))
		lx->data++;
	if (strbuf_append(out, start, (size_t)(lx->data - start)) < 0)
		return -1;
	return rfc822_lex_skip_lwsp(lx);
}

/* An atom that may also contain '.' (obs-phrase); may be empty, as in
   Dovecot, so a phrase can be empty (":" is a group without a name). */
static int
lex_atom_or_dot(struct rfc822_lex *lx, struct strbuf *out)
{
	const unsigned char *start = lx->data;

	while (lx->data < lx->end &&
	       (rfc822_is_atext(*lx->data) || *lx->data == '.'))
		lx->data++;
	if (strbuf_append(out, start, (size_t)(lx->data - start)) < 0)
		return -1;
	if (lx->data >= lx->end)
		return 0;
	return rfc822_lex_skip_lwsp(lx);
}

int
rfc822_lex_local_part(struct rfc822_lex *lx, struct strbuf *out)
{
	const unsigned char *start;
	int ret;

	/* obs-local-part as Dovecot reads it: atext and dots, with blanks
	   allowed before a dot but not after one */
	if (lx->data >= lx->end ||
	    !(rfc822_is_atext(*lx->data) || *lx->data == '.'))
		return -1;
	for (;;) {
		start = lx->data;
		while (lx->data < lx->end &&
		       (rfc822_is_atext(*lx->data) || *lx->data == '.'))
			lx->data++;
		if (strbuf_append(out, start, (size_t)(lx->data - start)) < 0)
			return -1;
		if ((ret = rfc822_lex_skip_lwsp(lx)) <= 0)
			return ret;
		if (*lx->data != '.')
			return 1;
	}
}

int
rfc822_lex_dot_atom(struct rfc822_lex *lx, struct strbuf *out)
{
	const unsigned char *start;
	int ret;

	if (lx->data >= lx->end || !rfc822_is_atext(*lx->data))
		return -1;
	for (start = lx->data++; lx->data < lx->end;) {
		if (rfc822_is_atext(*lx->data)) {
			lx->data++;
			continue;
		}
		if (start == lx->data)
			return -1;
		if (strbuf_append(out, start, (size_t)(lx->data - start)) < 0)
			return -1;
		/* RFC 822 allows white space around '.' */
		if ((ret = rfc822_lex_skip_lwsp(lx)) <= 0)
			return ret;
		if (*lx->data != '.')
			return 1;
		lx->data++;
		if (strbuf_append_char(out, '.') < 0)
			return -1;
		/* nothing after the '.': broken */
		if (rfc822_lex_skip_lwsp(lx) <= 0)
			return -1;
		start = lx->data;
	}
	if (strbuf_append(out, start, (size_t)(lx->data - start)) < 0)
		return -1;
	return 0;
}

int
rfc822_lex_mime_token(struct rfc822_lex *lx, struct strbuf *out)
{
	const unsigned char *start = lx->data;

	while (lx->data < lx->end && is_mime_token(*lx->data))
		lx->data++;
	if (strbuf_append(out, start, (size_t)(lx->data - start)) < 0)
		return -1;
	if (lx->data >= lx->end)
		return 0;
	return rfc822_lex_skip_lwsp(lx);
}

int
rfc822_lex_quoted_string(struct rfc822_lex *lx, struct strbuf *out)
{
	const unsigned char *start;

	lx->data++; /* the opening '"' */
	for (start = lx->data; lx->data < lx->end; lx->data++) {
		switch (*lx->data) {
		case '"':
			if (strbuf_append(out, start,
					  (size_t)(lx->data - start)) < 0)
				return -1;
			lx->data++;
			return rfc822_lex_skip_lwsp(lx);
		case '\n': {
			/* folding: drop the (CR)LF */
			size_t len = (size_t)(lx->data - start);

			if (len > 0 && start[len - 1] == '\r')
				len--;
			if (strbuf_append(out, start, len) < 0)
				return -1;
			start = lx->data + 1;
			break;
		}
		case '\\':
			lx->data++;
			if (lx->data >= lx->end)
				return -1;
			if (*lx->data == '\r' || *lx->data == '\n') {
				lx->data--;
				break;
			}
			if (strbuf_append(out, start,
					  (size_t)(lx->data - start - 1)) < 0)
				return -1;
			start = lx->data;
			break;
		}
	}
	return -1; /* missing '"' */
}

int
rfc822_lex_phrase(struct rfc822_lex *lx, struct strbuf *out)
{
	int ret;

	if (lx->data >= lx->end)
		return 0;
	if (*lx->data == '.')
		return -1;
	for (;;) {
		if (*lx->data == '"')
			ret = rfc822_lex_quoted_string(lx, out);
		else
			ret = lex_atom_or_dot(lx, out);
		if (ret <= 0)
			return ret;
		if (!rfc822_is_atext(*lx->data) && *lx->data != '"' &&
		    *lx->data != '.')
			break;
		if (strbuf_append_char(out, ' ') < 0)
			return -1;
	}
	return ret;
}

static int
lex_domain_literal(struct rfc822_lex *lx, struct strbuf *out)
{
	const unsigned char *start;

	for (start = lx->data++; lx->data < lx->end; lx->data++) {
		if (*lx->data == '\\') {
			lx->data++;
			if (lx->data >= lx->end)
				break;
		} else if (*lx->data == '[') {
			return -1;
		} else if (*lx->data == ']') {
			lx->data++;
			if (strbuf_append(out, start,
					  (size_t)(lx->data - start)) < 0)
				return -1;
			return rfc822_lex_skip_lwsp(lx);
		} else if (*lx->data == '\n') {
			size_t len = (size_t)(lx->data - start);

			if (len > 0 && start[len - 1] == '\r')
				len--;
			if (strbuf_append(out, start, len) < 0)
				return -1;
			start = lx->data + 1;
		}
	}
	return -1; /* missing ']' */
}

int
rfc822_lex_domain(struct rfc822_lex *lx, struct strbuf *out)
{
	lx->data++; /* the '@' */
	if (rfc822_lex_skip_lwsp(lx) <= 0)
		return -1;
	if (*lx->data == '[')
		return lex_domain_literal(lx, out);
	return rfc822_lex_dot_atom(lx, out);
}

int
rfc822_lex_content_type(struct rfc822_lex *lx, struct strbuf *type_r,
			struct strbuf *subtype_r)
{
	size_t type_len = type_r->len;

	if (rfc822_lex_skip_lwsp(lx) <= 0)
		return -1;
	if (rfc822_lex_mime_token(lx, type_r) < 0 || type_r->len == type_len)
		return -1;
	if (lx->data >= lx->end || *lx->data != '/')
		return -1; /* keeps the type, as Dovecot does */
	lx->data++;
	if (rfc822_lex_skip_lwsp(lx) <= 0) {
		strbuf_truncate(type_r, type_len);
		return -1;
	}
	if (rfc822_lex_mime_token(lx, subtype_r) < 0 || subtype_r->len == 0) {
		strbuf_truncate(type_r, type_len);
		strbuf_truncate(subtype_r, 0);
		return -1;
	}
	return rfc822_lex_skip_lwsp(lx) < 0 ? -1 : 0;
}

/* ---- parameters ---- */

/* One ";" name "=" value. Returns 1 with key/value set, 0 at the end,
   -1 if broken (lx may have moved). */
static int
lex_content_param(struct rfc822_lex *lx, struct strbuf *key,
		  struct strbuf *value)
{
	int ret;

	strbuf_reset(key);
	strbuf_reset(value);
	if (lx->data >= lx->end)
		return 0;
	if (*lx->data != ';')
		return -1;
	lx->data++;
	if (rfc822_lex_skip_lwsp(lx) <= 0)
		return -1;
	if (rfc822_lex_mime_token(lx, key) <= 0)
		return -1;
	if (*lx->data != '=')
		return -1;
	lx->data++;
	if ((ret = rfc822_lex_skip_lwsp(lx)) <= 0) {
		/* no value */
	} else if (*lx->data == '"') {
		ret = rfc822_lex_quoted_string(lx, value);
	} else if (*lx->data == '=') {
		/* broken input: name==?utf-8?b?...?= */
		const unsigned char *start = lx->data;

		while (lx->data < lx->end && *lx->data != ';' &&
		       *lx->data != ' ' && *lx->data != '\t' &&
		       *lx->data != '\r' && *lx->data != '\n')
			lx->data++;
		if (strbuf_append(value, start, (size_t)(lx->data - start)) < 0)
			return -1;
		ret = 1;
	} else {
		ret = rfc822_lex_mime_token(lx, value);
	}
	return ret < 0 ? -1 : 1;
}

struct param_2231 {
	char *key;
	char *value;
	unsigned int idx;
	bool extended;
};

static int
param_2231_cmp(const void *p1, const void *p2)
{
	const struct param_2231 *a = p1, *b = p2;
	int ret = strcasecmp(a->key, b->key);

	if (ret != 0)
		return ret;
	return a->idx < b->idx ? -1 : (a->idx > b->idx ? 1 : 0);
}

static void
params_add(struct rfc822_params *params, char *name, char *value)
{
	if (params->count >= RFC822_MAX_PARAMS) {
		xfree(&name);
		xfree(&value);
		return;
	}
	params->v =
	    xreallocarray(params->v, params->count + 1, sizeof(*params->v));
	params->v[params->count].name = name;
	params->v[params->count].value = value;
	params->count++;
}

/* "name*<n>[*]" or "name*": fills p and returns true. For "name*" the
   index is the one of the previous RFC 2231 parameter (0 at first): a
   quirk of Dovecot 2.3 kept so that BODYSTRUCTURE stays identical. */
static bool
split_2231_key(const char *key, struct param_2231 *p)
{
	const char *star = strchr(key, '*'), *s;

	if (star == NULL)
		return false;
	s = star;
	if (s[1] != '\0') {
		p->idx = 0;
		s++;
		for (; *s >= '0' && *s <= '9'; s++) {
			if (p->idx > 100000)
				return false;
			p->idx = p->idx * 10 + (unsigned int)(*s - '0');
		}
	}
	p->extended = *s == '*';
	if (p->extended)
		s++;
	if (*s != '\0')
		return false;
	p->key = xstrndup(key, (size_t)(star - key));
	return true;
}

static void
escape_percent(struct strbuf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '%')
			(void)strbuf_append_str(out, "%25");
		else
			(void)strbuf_append_char(out, *s);
	}
}

void
rfc822_params_parse(struct rfc822_lex *lx, struct rfc822_params *params_r)
{
	size_t max = (size_t)(lx->end - lx->data) + 16;
	struct strbuf key, value, merged;
	struct param_2231 *p2 = NULL, p;
	unsigned int n2 = 0, i, j, next;
	int ret;

	memset(params_r, 0, sizeof(*params_r));
	memset(&p, 0, sizeof(p));
	strbuf_init(&key, max);
	strbuf_init(&value, max);
	while ((ret = lex_content_param(lx, &key, &value)) != 0) {
		if (ret < 0) {
			/* skip a byte and try to go on, as Dovecot does */
			if (lx->data >= lx->end)
				break;
			lx->data++;
			continue;
		}
		if (split_2231_key(strbuf_cstr(&key), &p)) {
			if (n2 >= RFC822_MAX_PARAMS) {
				xfree(&p.key);
				continue;
			}
			p.value = xstrdup(strbuf_cstr(&value));
			p2 = xreallocarray(p2, n2 + 1, sizeof(*p2));
			p2[n2++] = p;
		} else {
			params_add(params_r, xstrdup(strbuf_cstr(&key)),
				   xstrdup(strbuf_cstr(&value)));
		}
	}
	strbuf_release(&key);
	strbuf_release(&value);
	if (n2 == 0)
		return;

	qsort(p2, n2, sizeof(*p2), param_2231_cmp);
	strbuf_init(&merged, STRBUF_UNLIMITED);
	for (i = 0; i < n2; i = next) {
		bool ok = true, have_ext = false;
		unsigned int next_idx = 0;

		for (j = i; j < n2; j++) {
			if (strcasecmp(p2[i].key, p2[j].key) != 0)
				break;
			if (p2[j].idx != next_idx)
				ok = false;
			if (p2[j].extended)
				have_ext = true;
			next_idx++;
		}
		next = j;
		if (!ok) {
			/* indexes missing: keep them apart, as written */
			for (j = i; j < next; j++)
				params_add(params_r,
					   xasprintf(p2[j].extended ? "%s*%u*"
								    : "%s*%u",
						     p2[j].key, p2[j].idx),
					   xstrdup(p2[j].value));
			continue;
		}
		strbuf_reset(&merged);
		if (!p2[i].extended && have_ext)
			(void)strbuf_append_str(&merged, "''");
		for (j = i; j < next; j++) {
			if (!p2[j].extended && have_ext)
				escape_percent(&merged, p2[j].value);
			else
				(void)strbuf_append_str(&merged, p2[j].value);
		}
		params_add(params_r,
			   have_ext ? xasprintf("%s*", p2[i].key)
				    : xstrdup(p2[i].key),
			   xstrdup(strbuf_cstr(&merged)));
	}
	strbuf_release(&merged);
	for (i = 0; i < n2; i++) {
		xfree(&p2[i].key);
		xfree(&p2[i].value);
	}
	xfree(&p2);
}

void
rfc822_params_free(struct rfc822_params *params)
{
	unsigned int i;

	for (i = 0; i < params->count; i++) {
		xfree(&params->v[i].name);
		xfree(&params->v[i].value);
	}
	xfree(&params->v);
	params->count = 0;
}

const char *
rfc822_params_get(const struct rfc822_params *params, const char *name)
{
	unsigned int i;

	for (i = 0; i < params->count; i++) {
		if (strcasecmp(params->v[i].name, name) == 0)
			return params->v[i].value;
	}
	return NULL;
}
