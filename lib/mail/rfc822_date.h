/*
 * rfc822_date - parsing of the Date: header (RFC 5322 section 3.3 with its
 * obsolete forms: two- and three-digit years, named zones, missing
 * seconds, comments) for SEARCH SENT*, SORT DATE and THREAD. Pure: no
 * I/O, no logging, no globals, no dependency on the process time zone.
 * Input is an untrusted header value and is checked field by field.
 */
#ifndef RFC822_DATE_H
#define RFC822_DATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Parses a Date value: [day-of-week ","] day month year hh:mm[:ss] zone.
 * An unknown or missing zone counts as +0000 (RFC 5322 4.3: "-0000"
 * means no zone information). *t_r is the UTC instant, *tz_minutes_r the
 * zone's offset (east positive). Returns 0, or -1 if the value is not a
 * date.
 */
int rfc822_date_parse(const char *value, size_t len, int64_t *t_r,
		      int *tz_minutes_r);

/* Days since 1970-01-01 of the civil date y-m-d (proleptic Gregorian). */
int64_t rfc822_days_from_civil(int64_t y, unsigned int m, unsigned int d);

#endif
