/*
 * imap_seqset - IMAP sequence-set parser and range list (see
 * imap_seqset.h). The text is untrusted client input; numbers are
 * checked against 32 bits digit by digit, and the number of ranges is
 * bounded by the caller. No I/O, no logging.
 */
#include "mail/imap_seqset.h"

#include <stdlib.h>
#include <string.h>

#include "util/strbuf.h"
#include "util/xmem.h"

void
imap_seqset_init(struct imap_seqset *set)
{
	memset(set, 0, sizeof(*set));
	set->resolved = true;
}

void
imap_seqset_release(struct imap_seqset *set)
{
	xfree(&set->ranges);
	set->count = set->alloc = 0;
}

static void
append_range(struct imap_seqset *set, uint32_t first, uint32_t last)
{
	if (set->count == set->alloc) {
		set->alloc = set->alloc == 0 ? 4 : set->alloc * 2;
		set->ranges = xreallocarray(set->ranges, set->alloc,
					    sizeof(*set->ranges));
	}
	set->ranges[set->count].first = first;
	set->ranges[set->count].last = last;
	set->count++;
}

/* Parses a seq-number at s[*ip]: "*" or 1..4294967295. */
static int
parse_number(const char *s, size_t len, size_t *ip, uint32_t *n_r,
	     const char **error_r)
{
	size_t i = *ip;
	uint64_t n = 0;

	if (i < len && s[i] == '*') {
		*n_r = IMAP_SEQ_STAR;
		*ip = i + 1;
		return 0;
	}
	if (i == len || s[i] < '0' || s[i] > '9') {
		*error_r = "Invalid messageset";
		return -1;
	}
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		n = n * 10 + (uint64_t)(s[i] - '0');
		if (n > UINT32_MAX) {
			*error_r = "Invalid messageset: number too large";
			return -1;
		}
	}
	if (n == 0) {
		*error_r = "Invalid messageset: 0 is not a valid number";
		return -1;
	}
	*n_r = (uint32_t)n;
	*ip = i;
	return 0;
}

int
imap_seqset_parse(const char *s, size_t len, unsigned int max_ranges,
		  bool allow_saved, struct imap_seqset *set_r,
		  const char **error_r)
{
	size_t i = 0;

	memset(set_r, 0, sizeof(*set_r));
	if (len == 1 && s[0] == '$') {
		if (!allow_saved) {
			*error_r = "Saved search result not allowed here";
			return -1;
		}
		set_r->saved = true;
		set_r->resolved = true;
		return 0;
	}
	for (;;) {
		uint32_t first, last;

		if (parse_number(s, len, &i, &first, error_r) < 0)
			return -1;
		last = first;
		if (i < len && s[i] == ':') {
			i++;
			if (parse_number(s, len, &i, &last, error_r) < 0)
				return -1;
		}
		if (set_r->count >= max_ranges) {
			*error_r = "Invalid messageset: too many ranges";
			return -1;
		}
		append_range(set_r, first, last);
		if (i == len)
			return 0;
		if (s[i] != ',') {
			*error_r = "Invalid messageset";
			return -1;
		}
		i++;
	}
}

static int
range_cmp(const void *a, const void *b)
{
	const struct imap_seq_range *ra = a, *rb = b;

	if (ra->first != rb->first)
		return ra->first < rb->first ? -1 : 1;
	return 0;
}

/* Sorts and merges ranges that overlap or touch. */
static void
normalise(struct imap_seqset *set)
{
	unsigned int i, n = 0;

	if (set->count == 0)
		return;
	qsort(set->ranges, set->count, sizeof(*set->ranges), range_cmp);
	for (i = 1; i < set->count; i++) {
		struct imap_seq_range *cur = &set->ranges[n];

		if (set->ranges[i].first <= cur->last ||
		    set->ranges[i].first - 1 == cur->last) {
			if (set->ranges[i].last > cur->last)
				cur->last = set->ranges[i].last;
		} else {
			set->ranges[++n] = set->ranges[i];
		}
	}
	set->count = n + 1;
}

void
imap_seqset_resolve(struct imap_seqset *set, uint32_t star)
{
	unsigned int i, n = 0;

	if (set->resolved)
		return;
	for (i = 0; i < set->count; i++) {
		uint32_t a = set->ranges[i].first, b = set->ranges[i].last;

		if (star == 0) {
			if (a == IMAP_SEQ_STAR)
				a = b;
			if (b == IMAP_SEQ_STAR)
				b = a;
			if (a == IMAP_SEQ_STAR)
				continue;
		} else {
			if (a == IMAP_SEQ_STAR)
				a = star;
			if (b == IMAP_SEQ_STAR)
				b = star;
		}
		set->ranges[n].first = a < b ? a : b;
		set->ranges[n].last = a < b ? b : a;
		n++;
	}
	set->count = n;
	set->resolved = true;
	normalise(set);
}

void
imap_seqset_add(struct imap_seqset *set, uint32_t first, uint32_t last)
{
	uint32_t lo = first < last ? first : last;
	uint32_t hi = first < last ? last : first;
	struct imap_seq_range *tail;

	if (lo == 0)
		return;
	/* ascending additions (search results, UIDPLUS) need no sort */
	tail = set->count > 0 ? &set->ranges[set->count - 1] : NULL;
	if (tail != NULL && lo >= tail->first &&
	    (uint64_t)lo <= (uint64_t)tail->last + 1) {
		if (hi > tail->last)
			tail->last = hi;
		return;
	}
	if (tail != NULL && lo < tail->first) {
		append_range(set, lo, hi);
		normalise(set);
	} else {
		append_range(set, lo, hi);
	}
}

bool
imap_seqset_contains(const struct imap_seqset *set, uint32_t n)
{
	unsigned int lo = 0, hi = set->count;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (n < set->ranges[mid].first)
			hi = mid;
		else if (n > set->ranges[mid].last)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

uint64_t
imap_seqset_count(const struct imap_seqset *set)
{
	uint64_t total = 0;
	unsigned int i;

	for (i = 0; i < set->count; i++)
		total +=
		    (uint64_t)set->ranges[i].last - set->ranges[i].first + 1;
	return total;
}

uint32_t
imap_seqset_max(const struct imap_seqset *set)
{
	return set->count == 0 ? 0 : set->ranges[set->count - 1].last;
}

bool
imap_seqset_next(const struct imap_seqset *set, struct imap_seqset_iter *it,
		 uint32_t *n_r)
{
	while (it->idx < set->count) {
		const struct imap_seq_range *r = &set->ranges[it->idx];

		if (it->next == 0)
			it->next = r->first;
		if (it->next <= r->last) {
			*n_r = (uint32_t)it->next++;
			return true;
		}
		it->idx++;
		it->next = 0;
	}
	return false;
}

static int
format_number(struct strbuf *sb, uint32_t n)
{
	if (n == IMAP_SEQ_STAR)
		return strbuf_append_char(sb, '*');
	return strbuf_printf(sb, "%u", n);
}

int
imap_seqset_format(const struct imap_seqset *set, struct strbuf *sb)
{
	unsigned int i;
	int ret = 0;

	if (set->saved)
		return strbuf_append_char(sb, '$');
	for (i = 0; i < set->count; i++) {
		if (i > 0)
			ret |= strbuf_append_char(sb, ',');
		ret |= format_number(sb, set->ranges[i].first);
		if (set->ranges[i].last != set->ranges[i].first) {
			ret |= strbuf_append_char(sb, ':');
			ret |= format_number(sb, set->ranges[i].last);
		}
	}
	return ret < 0 ? -1 : 0;
}
