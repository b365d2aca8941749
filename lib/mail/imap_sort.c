/*
 * imap_sort - SORT criteria and ordering (RFC 5256). Criteria are
 * untrusted client input; the items are built by the caller from message
 * headers (untrusted, already reduced to keys).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mail/imap_base_subject.h"
#include "mail/imap_sort.h"
#include "mail/rfc822_header.h"
#include "util/xmem.h"

int
imap_sort_parse(const struct imap_arg *list,
		struct imap_sort_criterion crit_r[IMAP_SORT_MAX_CRITERIA],
		const char **error_r)
{
	static const struct {
		const char *name;
		enum imap_sort_key key;
	} keys[] = {
	    {"ARRIVAL", IMAP_SORT_ARRIVAL}, {"CC", IMAP_SORT_CC},
	    {"DATE", IMAP_SORT_DATE},	    {"FROM", IMAP_SORT_FROM},
	    {"SIZE", IMAP_SORT_SIZE},	    {"SUBJECT", IMAP_SORT_SUBJECT},
	    {"TO", IMAP_SORT_TO},
	};
	unsigned int i, n = 0;
	bool reverse = false;
	size_t k;

	if (list->type != IMAP_ARG_LIST || list->count == 0) {
		*error_r = "Invalid sort criteria";
		return -1;
	}
	for (i = 0; i < list->count; i++) {
		const struct imap_arg *a = &list->list[i];

		if (imap_arg_atom_equals(a, "REVERSE")) {
			if (reverse) {
				*error_r = "REVERSE given twice";
				return -1;
			}
			reverse = true;
			continue;
		}
		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			if (imap_arg_atom_equals(a, keys[k].name))
				break;
		}
		if (k == sizeof(keys) / sizeof(keys[0])) {
			*error_r = "Unknown sort criterion";
			return -1;
		}
		if (n == IMAP_SORT_MAX_CRITERIA) {
			*error_r = "Too many sort criteria";
			return -1;
		}
		crit_r[n].key = keys[k].key;
		crit_r[n].reverse = reverse;
		n++;
		reverse = false;
	}
	if (reverse || n == 0) {
		*error_r = "REVERSE without a sort criterion";
		return -1;
	}
	return (int)n;
}

static int
str_cmp(const char *a, const char *b)
{
	if (a == NULL)
		a = "";
	if (b == NULL)
		b = "";
	return imap_ascii_casemap_cmp(a, strlen(a), b, strlen(b));
}

static int
num_cmp(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b ? 1 : 0;
}

static int
time_cmp(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b ? 1 : 0;
}

static int
item_cmp(const struct imap_sort_item *a, const struct imap_sort_item *b,
	 const struct imap_sort_criterion *crit, unsigned int crit_count)
{
	unsigned int i;
	int r = 0;

	for (i = 0; i < crit_count && r == 0; i++) {
		switch (crit[i].key) {
		case IMAP_SORT_ARRIVAL:
			r = time_cmp(a->arrival, b->arrival);
			break;
		case IMAP_SORT_DATE:
			r = time_cmp(a->date, b->date);
			break;
		case IMAP_SORT_SIZE:
			r = num_cmp(a->size, b->size);
			break;
		case IMAP_SORT_CC:
			r = str_cmp(a->cc, b->cc);
			break;
		case IMAP_SORT_FROM:
			r = str_cmp(a->from, b->from);
			break;
		case IMAP_SORT_TO:
			r = str_cmp(a->to, b->to);
			break;
		case IMAP_SORT_SUBJECT:
			r = str_cmp(a->subject, b->subject);
			break;
		}
		if (crit[i].reverse)
			r = -r;
	}
	/* RFC 5256: exact matches keep the mailbox order (REVERSE applies
	   to its own criterion only) */
	return r != 0 ? r : num_cmp(a->seq, b->seq);
}

void
imap_sort_items(struct imap_sort_item *items, size_t count,
		const struct imap_sort_criterion *crit, unsigned int crit_count)
{
	struct imap_sort_item *tmp, *src = items, *dst;
	size_t width, i, l, r, lend, rend, k;

	if (count < 2)
		return;
	tmp = xreallocarray(NULL, count, sizeof(*tmp));
	dst = tmp;
	/* bottom-up merge sort, ping-ponging between the two arrays */
	for (width = 1; width < count; width *= 2) {
		for (i = 0; i < count; i += 2 * width) {
			l = i;
			lend = i + width < count ? i + width : count;
			r = lend;
			rend = i + 2 * width < count ? i + 2 * width : count;
			k = i;
			while (l < lend && r < rend) {
				if (item_cmp(&src[r], &src[l], crit,
					     crit_count) < 0)
					dst[k++] = src[r++];
				else
					dst[k++] = src[l++];
			}
			while (l < lend)
				dst[k++] = src[l++];
			while (r < rend)
				dst[k++] = src[r++];
		}
		struct imap_sort_item *t = src;
		src = dst;
		dst = t;
	}
	if (src != items)
		memcpy(items, src, count * sizeof(*items));
	xfree(&tmp);
}

int
imap_sort_addr_key(struct strbuf *out, const char *value, size_t len)
{
	struct rfc822_address *list, *a;
	int ret = 0;

	if (value == NULL)
		return 0;
	list = rfc822_address_parse(value, len, 100);
	/* the first real address: group starts and ends carry no domain */
	for (a = list; a != NULL; a = a->next) {
		if (a->domain != NULL && a->mailbox != NULL) {
			ret = strbuf_append_str(out, a->mailbox);
			break;
		}
	}
	rfc822_address_free(&list);
	return ret;
}

void
imap_sort_items_free(struct imap_sort_item *items, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++) {
		xfree(&items[i].cc);
		xfree(&items[i].from);
		xfree(&items[i].to);
		xfree(&items[i].subject);
	}
}
