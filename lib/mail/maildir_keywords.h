/*
 * maildir_keywords - Dovecot's dovecot-keywords file: which IMAP keyword
 * each flag letter a..z of a Maildir file name stands for ("0 $Junk" means
 * letter 'a' is $Junk). Pure parse/serialize; content is untrusted and
 * bounded. Written by Dovecot under the dovecot-uidlist lock and replaced
 * with rename(), never edited in place.
 */
#ifndef MAILDIR_KEYWORDS_H
#define MAILDIR_KEYWORDS_H

#include <stddef.h>

#define MAILDIR_KEYWORDS_NAME "dovecot-keywords"
#define MAILDIR_KEYWORDS_MAX 26
#define MAILDIR_KEYWORD_LEN_MAX 255

struct maildir_keywords {
	char *names[MAILDIR_KEYWORDS_MAX]; /* NULL where unused */
};

/* Parses the file content into kw (zeroed first). -1 with a static
 * *error_r on an index outside 0..25, a duplicate index or name, a name
 * that is not an IMAP atom, or an over-long line. */
int maildir_keywords_parse(const char *data, size_t len,
			   struct maildir_keywords *kw, const char **error_r);
/* The file content (allocated, NUL-terminated; *len_r set). */
char *maildir_keywords_serialize(const struct maildir_keywords *kw,
				 size_t *len_r);
/* The letter for name ('a'..'z'), or 0 when it has none. */
char maildir_keywords_letter(const struct maildir_keywords *kw,
			     const char *name);
void maildir_keywords_clear(struct maildir_keywords *kw);

#endif
