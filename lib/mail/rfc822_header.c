/*
 * rfc822_header - splits a message header block into fields and looks them
 * up (see rfc822_header.h). The block is untrusted and read only within
 * the length given; no I/O, no logging.
 */
#include "mail/rfc822_header.h"

#include <string.h>
#include <strings.h>

#include "util/xmem.h"

static bool
is_blank_line(const unsigned char *p, size_t len)
{
	return (len == 1 && p[0] == '\n') ||
	       (len == 2 && p[0] == '\r' && p[1] == '\n');
}

/* Length of a line without its line break. */
static size_t
line_content_len(const unsigned char *p, size_t len)
{
	if (len > 0 && p[len - 1] == '\n') {
		len--;
		if (len > 0 && p[len - 1] == '\r')
			len--;
	}
	return len;
}

/* Copies len bytes to dst, a NUL as U+FFFD (as Dovecot shows it), and
   NUL-terminates; returns the bytes written (without the NUL). */
static size_t
copy_nonul(char *dst, const unsigned char *src, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		if (src[i] == '\0') {
			memcpy(dst + n, "\xef\xbf\xbd", 3);
			n += 3;
		} else {
			dst[n++] = (char)src[i];
		}
	}
	dst[n] = '\0';
	return n;
}

void
rfc822_header_parse(const void *data, size_t len, unsigned int max_fields,
		    struct rfc822_header *hdr_r)
{
	const unsigned char *p = data, *end = p + len, *nl;
	size_t lines = 1, alloc_fields = 0;
	struct rfc822_field *cur = NULL;
	char *w;

	memset(hdr_r, 0, sizeof(*hdr_r));
	for (nl = p; (nl = memchr(nl, '\n', (size_t)(end - nl))) != NULL; nl++)
		lines++;
	/* Every byte is copied at most once (a NUL as three bytes), plus two
	   bytes a line. */
	hdr_r->buf = xmalloc(3 * len + 2 * lines + 1);
	/* w is where the next byte goes; a field's value ends at w, its NUL
	   is overwritten when a continuation line follows. */
	w = hdr_r->buf;

	while (p < end) {
		size_t line_len, content_len;

		nl = memchr(p, '\n', (size_t)(end - p));
		line_len =
		    nl != NULL ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		if (is_blank_line(p, line_len))
			break;
		content_len = line_content_len(p, line_len);
		if (p[0] == ' ' || p[0] == '\t') {
			if (cur != NULL) {
				/* keep the folding break */
				size_t n;

				*w++ = '\n';
				n = copy_nonul(w, p, content_len);
				w += n;
				cur->value_len += 1 + n;
			}
		} else {
			const unsigned char *colon =
			    memchr(p, ':', content_len);

			if (cur != NULL)
				w++; /* past the previous value's NUL */
			cur = NULL;
			if (colon != NULL && hdr_r->count < max_fields) {
				const unsigned char *v = colon + 1;
				size_t name_len = (size_t)(colon - p);

				while (name_len > 0 &&
				       (p[name_len - 1] == ' ' ||
					p[name_len - 1] == '\t'))
					name_len--;
				while (v < p + content_len &&
				       (*v == ' ' || *v == '\t'))
					v++;
				if (hdr_r->count == alloc_fields) {
					alloc_fields = alloc_fields == 0
							   ? 16
							   : alloc_fields * 2;
					hdr_r->fields = xreallocarray(
					    hdr_r->fields, alloc_fields,
					    sizeof(*hdr_r->fields));
				}
				cur = &hdr_r->fields[hdr_r->count++];
				cur->name = w;
				cur->name_len = copy_nonul(w, p, name_len);
				w += cur->name_len + 1;
				cur->value = w;
				cur->value_len = copy_nonul(
				    w, v, (size_t)(p + content_len - v));
				w += cur->value_len;
			}
		}
		if (cur != NULL)
			*w = '\0';
		p += line_len;
	}
}

void
rfc822_header_free(struct rfc822_header *hdr)
{
	xfree(&hdr->buf);
	xfree(&hdr->fields);
	hdr->count = 0;
}

const struct rfc822_field *
rfc822_header_find(const struct rfc822_header *hdr, const char *name, bool last)
{
	const struct rfc822_field *found = NULL;
	unsigned int i;

	for (i = 0; i < hdr->count; i++) {
		if (strcasecmp(hdr->fields[i].name, name) != 0)
			continue;
		found = &hdr->fields[i];
		if (!last)
			break;
	}
	return found;
}

int
rfc822_unfold(struct strbuf *out, const char *value, size_t len)
{
	size_t i, start = 0;

	for (i = 0; i < len; i++) {
		if (value[i] != '\r' && value[i] != '\n')
			continue;
		if (strbuf_append(out, value + start, i - start) < 0)
			return -1;
		start = i + 1;
	}
	return strbuf_append(out, value + start, len - start);
}
