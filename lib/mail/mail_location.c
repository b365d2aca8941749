/*
 * mail_location - parse and expand mail_location. Pure: no I/O, no
 * logging. The user name is untrusted in the sense that it must not be
 * able to move a path outside its template.
 */
#include <string.h>

#include "mail/mail_location.h"
#include "util/strbuf.h"
#include "util/xmem.h"

#define MAIL_LOCATION_PATH_MAX 4096

static bool
mail_location_safe_part(const char *s, size_t len)
{
	if (len == 0 || s[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '/' || (unsigned char)s[i] < 0x20)
			return false;
	}
	return true;
}

/* Expands one path template into *path_r. */
static int
mail_location_expand(const char *tmpl, size_t len, const char *user,
		     const char *home, char **path_r, const char **error_r)
{
	const char *at = strrchr(user, '@');
	size_t ulen = strlen(user);
	size_t nlen = at != NULL ? (size_t)(at - user) : ulen;
	struct strbuf sb;
	int ret = 0;

	strbuf_init(&sb, MAIL_LOCATION_PATH_MAX);
	for (size_t i = 0; i < len && ret == 0; i++) {
		if (i == 0 && tmpl[0] == '~' && (len == 1 || tmpl[1] == '/')) {
			if (home == NULL || home[0] != '/') {
				*error_r = "~ used but the user has no home";
				goto fail;
			}
			ret = strbuf_append_str(&sb, home);
			continue;
		}
		if (tmpl[i] != '%') {
			ret = strbuf_append_char(&sb, tmpl[i]);
			continue;
		}
		if (++i == len) {
			*error_r = "% at end of mail_location";
			goto fail;
		}
		switch (tmpl[i]) {
		case '%':
			ret = strbuf_append_char(&sb, '%');
			break;
		case 'u':
			if (!mail_location_safe_part(user, ulen))
				goto unsafe;
			ret = strbuf_append(&sb, user, ulen);
			break;
		case 'n':
			if (!mail_location_safe_part(user, nlen))
				goto unsafe;
			ret = strbuf_append(&sb, user, nlen);
			break;
		case 'd':
			if (at == NULL)
				break;
			if (!mail_location_safe_part(at + 1, strlen(at + 1)))
				goto unsafe;
			ret = strbuf_append_str(&sb, at + 1);
			break;
		case 'h':
			if (home == NULL || home[0] != '/') {
				*error_r = "%h used but the user has no home";
				goto fail;
			}
			ret = strbuf_append_str(&sb, home);
			break;
		default:
			*error_r = "unknown %variable in mail_location";
			goto fail;
		}
	}
	if (ret < 0) {
		*error_r = "mail_location path too long";
		goto fail;
	}
	if (sb.len == 0 || sb.data[0] != '/') {
		*error_r = "mail_location path is not absolute";
		goto fail;
	}
	while (sb.len > 1 && sb.data[sb.len - 1] == '/')
		strbuf_truncate(&sb, sb.len - 1);
	*path_r = strbuf_steal(&sb);
	return 0;
unsafe:
	*error_r = "user name not usable in a path";
fail:
	strbuf_release(&sb);
	return -1;
}

int
mail_location_parse(const char *spec, const char *user, const char *home,
		    struct mail_location *loc_r, const char **error_r)
{
	const char *p, *end;

	memset(loc_r, 0, sizeof(*loc_r));
	if (strncmp(spec, "maildir:", 8) == 0) {
		loc_r->format = MAIL_LOCATION_MAILDIR;
		p = spec + 8;
	} else if (strncmp(spec, "mbox:", 5) == 0) {
		loc_r->format = MAIL_LOCATION_MBOX;
		p = spec + 5;
	} else {
		*error_r = "mail_location: only maildir: and mbox: are "
			   "supported";
		return -1;
	}
	end = strchr(p, ':');
	if (mail_location_expand(p, end != NULL ? (size_t)(end - p) : strlen(p),
				 user, home, &loc_r->root, error_r) < 0)
		return -1;
	while (end != NULL) {
		const char *key = end + 1, *kend;

		end = strchr(key, ':');
		kend = end != NULL ? end : key + strlen(key);
		if (strncmp(key, "INBOX=", 6) == 0) {
			xfree(&loc_r->inbox);
			if (mail_location_expand(
				key + 6, (size_t)(kend - key - 6), user, home,
				&loc_r->inbox, error_r) < 0)
				goto fail;
		} else if (strncmp(key, "LAYOUT=", 7) == 0 &&
			   !(kend - key == 15 &&
			     strncmp(key + 7, "maildir++", 9) == 0)) {
			*error_r = "mail_location: only LAYOUT=maildir++ is "
				   "supported";
			goto fail;
		}
	}
	return 0;
fail:
	mail_location_clear(loc_r);
	return -1;
}

void
mail_location_clear(struct mail_location *loc)
{
	xfree(&loc->root);
	xfree(&loc->inbox);
}
