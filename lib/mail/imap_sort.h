/*
 * imap_sort - SORT (RFC 5256 section 3): the sort criteria of a command
 * and the ordering of messages by them. The caller computes each
 * message's keys (imap_sort_addr_key(), imap_base_subject(), dates) and
 * this module orders them: strings by i;ascii-casemap, dates in UTC,
 * REVERSE per criterion, ties by mailbox order. Pure: no I/O, no logging,
 * no globals. The criteria come from the client (untrusted) and are
 * bounded by IMAP_SORT_MAX_CRITERIA.
 */
#ifndef IMAP_SORT_H
#define IMAP_SORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mail/imap_parse.h"
#include "util/strbuf.h"

enum imap_sort_key {
	IMAP_SORT_ARRIVAL,
	IMAP_SORT_CC,
	IMAP_SORT_DATE,
	IMAP_SORT_FROM,
	IMAP_SORT_SIZE,
	IMAP_SORT_SUBJECT,
	IMAP_SORT_TO,
};

#define IMAP_SORT_MAX_CRITERIA 16

struct imap_sort_criterion {
	enum imap_sort_key key;
	bool reverse;
};

/* What a message is sorted by. Strings are NUL-terminated; NULL is "". */
struct imap_sort_item {
	uint32_t seq;	       /* mailbox order, the final tie-break */
	uint32_t id;	       /* what the caller prints (seq or UID) */
	int64_t arrival, date; /* INTERNALDATE; sent date (section 2.2) */
	uint64_t size;
	char *cc, *from, *to, *subject;
};

/*
 * Parses the criteria list of SORT: "(REVERSE DATE SUBJECT)". Returns the
 * number of criteria (at least 1), or -1 with *error_r (static text) for
 * an empty list, an unknown key, REVERSE not followed by a key or more
 * than IMAP_SORT_MAX_CRITERIA.
 */
int imap_sort_parse(const struct imap_arg *list,
		    struct imap_sort_criterion crit_r[IMAP_SORT_MAX_CRITERIA],
		    const char **error_r);

/* Sorts items (stable merge sort, O(n log n)). */
void imap_sort_items(struct imap_sort_item *items, size_t count,
		     const struct imap_sort_criterion *crit,
		     unsigned int crit_count);

/*
 * The key of CC, FROM and TO (RFC 5256: the addr-mailbox of the first
 * address, compared case-insensitively): appended from a raw header value
 * (NULL: "" appended). Returns -1 only if out is full.
 */
int imap_sort_addr_key(struct strbuf *out, const char *value, size_t len);

/* Frees the strings of count items. */
void imap_sort_items_free(struct imap_sort_item *items, size_t count);

#endif
