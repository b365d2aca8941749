/*
 * imap_seqset - IMAP sequence sets (RFC 3501 "sequence-set", RFC 5182 "$"):
 * "1:*", "5,7:9,*:3", "$". A set is parsed into raw ranges, then resolved
 * against the largest number in use ("*"), which sorts and merges them
 * into a normalised list of disjoint ascending ranges for membership
 * tests and iteration. Pure: no I/O, no logging, no globals. The text is
 * untrusted: numbers are 1..4294967295 (0 and larger values are refused
 * without overflow) and the number of ranges is bounded by the caller.
 */
#ifndef IMAP_SEQSET_H
#define IMAP_SEQSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strbuf;

/* In a raw (unresolved) range, "*". */
#define IMAP_SEQ_STAR 0

struct imap_seq_range {
	uint32_t first, last; /* resolved: 1 <= first <= last */
};

struct imap_seqset {
	struct imap_seq_range *ranges;
	unsigned int count, alloc;
	bool saved;    /* "$": the caller substitutes the saved result */
	bool resolved; /* ranges normalised (imap_seqset_resolve()) */
};

/* An empty, resolved set. */
void imap_seqset_init(struct imap_seqset *set);
void imap_seqset_release(struct imap_seqset *set);

/*
 * Parses s (len bytes) into *set_r (initialised here; release it even on
 * error). "$" alone sets saved (allowed only when allow_saved, else an
 * error). More than max_ranges comma-separated items is an error. Returns
 * 0, or -1 with *error_r (static text) on a syntax error, a zero or a
 * number over 4294967295.
 */
int imap_seqset_parse(const char *s, size_t len, unsigned int max_ranges,
		      bool allow_saved, struct imap_seqset *set_r,
		      const char **error_r);

/* Replaces "*" with star (the highest sequence number or UID in use),
   orders each range, sorts and merges. With star 0 (empty mailbox) the
   "*" ends are dropped: "1:*" becomes "1" and "*" becomes empty. */
void imap_seqset_resolve(struct imap_seqset *set, uint32_t star);

/* Adds first..last (either order, both >= 1) to a resolved set, keeping
   it normalised. */
void imap_seqset_add(struct imap_seqset *set, uint32_t first, uint32_t last);

/* Resolved set: membership (binary search). */
bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n);
/* Resolved set: number of members. */
uint64_t imap_seqset_count(const struct imap_seqset *set);
/* Resolved set: largest member, 0 when empty. */
uint32_t imap_seqset_max(const struct imap_seqset *set);

/* Iteration over a resolved set in ascending order:
	struct imap_seqset_iter it = {0}; uint32_t n;
	while (imap_seqset_next(set, &it, &n)) ... */
struct imap_seqset_iter {
	unsigned int idx;
	uint64_t next; /* 0 = start of ranges[idx] */
};
bool imap_seqset_next(const struct imap_seqset *set,
		      struct imap_seqset_iter *it, uint32_t *n_r);

/* Appends the set as "1:3,5" ("$" when saved, "*" for raw stars).
   Returns -1 if sb is full. */
int imap_seqset_format(const struct imap_seqset *set, struct strbuf *sb);

#endif
