/*
 * maildir_name - Maildir file names as Dovecot writes and reads them:
 *   <secs>.M<usecs>P<pid>.<host>,S=<size>,W=<vsize>[:2,<flags>]
 * (Dovecot's maildir_filename_generate() plus the S= and W= fields its
 * saving code appends). Pure except maildir_name_unique_time(), which
 * keeps per-process state behind a mutex so worker threads get distinct
 * names. Names read from disk are untrusted: the parser is bounded by
 * the string and refuses what it cannot represent.
 */
#ifndef MAILDIR_NAME_H
#define MAILDIR_NAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>
#include <sys/types.h>

struct strbuf;

/* Longest name we create or accept (NAME_MAX of common filesystems). */
#define MAILDIR_NAME_MAX 255

/* Appends hostname made safe for a Maildir name: '/' becomes "\057" and
 * ':' becomes "\072" (the Maildir spec's rule); other bytes are kept.
 * -1 if dest is full. */
int maildir_name_host(const char *hostname, struct strbuf *dest);

/* Returns a time for a new name in *tv_io: the given time, or, when it is
 * not later than the last one this process handed out, the last one plus
 * one microsecond (Dovecot's rule; names stay unique within a process
 * without a counter). Thread-safe. */
void maildir_name_unique_time(struct timeval *tv_io);

/* Appends "<secs>.M<usecs>P<pid>.<host>" (host already made safe by
 * maildir_name_host). -1 if dest is full. */
int maildir_name_base(struct strbuf *dest, const struct timeval *tv, pid_t pid,
		      const char *safe_host);

/* Appends ",S=<size>,W=<vsize>". */
int maildir_name_append_sizes(struct strbuf *dest, uint64_t size,
			      uint64_t vsize);

struct maildir_name {
	size_t base_len; /* bytes before ":2," (or the whole name) */
	bool has_size;	 /* ",S=" present in the base */
	bool has_vsize;	 /* ",W=" present in the base */
	uint64_t size, vsize;
	const char *flags; /* after ":2,", in the parsed string; NULL if the
			      name has no info part */
};

/* Parses a file name (no '/'): the base, its S= and W= fields and the
 * flags after ":2,". -1 for an empty or over-long name, one containing
 * '/' or a NUL-free control byte, a malformed S=/W= value, or an info
 * part other than ":2,...". */
int maildir_name_parse(const char *name, struct maildir_name *name_r);

#endif
