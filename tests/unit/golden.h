/*
 * golden - helpers for golden-file tests: read an .in file of one case per
 * line (with escapes), compare produced lines with an .ref file. Test-only
 * code; the files come from the source tree.
 *
 * .in syntax: blank lines and lines starting with "#" are skipped, except
 * "#flags: a,b,c" which the test interprets. Escapes: \0 NUL, \r CR, \n LF,
 * \t TAB, \\ backslash, \xHH any byte, \{N*c} N copies of character c; any
 * other backslash is literal. Setting DOVETAIL_GOLDEN_WRITE=file writes the
 * produced lines there (to review and copy into the .ref).
 */
#ifndef GOLDEN_H
#define GOLDEN_H

#include <stddef.h>

struct strbuf;

/* Called for each case: input (len bytes, may hold NUL), current #flags
   value ("" if none); appends one result line (no newline) to out. */
typedef void golden_case_fn(const char *input, size_t len, const char *flags,
			    struct strbuf *out);

/* Runs every case of in_name against ref_name (relative to
   $DOVETAIL_SOURCE_DIR/tests/unit); returns the number of mismatches
   (printed on stderr) or -1 if the files cannot be read. */
int golden_run(const char *in_name, const char *ref_name, golden_case_fn *fn);

/* Appends s as a printable, double-quoted string (\xHH for others). */
void golden_quote(struct strbuf *out, const char *s, size_t len);

#endif
