/*
 * imap_date - IMAP "date" and "date-time" (RFC 3501 section 9): parsing
 * SEARCH dates ("1-Feb-1994") and APPEND date-times ("01-Feb-1994
 * 21:52:25 -0800"), and formatting INTERNALDATE. Pure: no I/O, no
 * logging, no globals, no dependency on the process time zone. Input is
 * untrusted and checked field by field (day of month, hour, zone).
 */
#ifndef IMAP_DATE_H
#define IMAP_DATE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct strbuf;

struct imap_date {
	int year;  /* 1..9999 */
	int month; /* 1..12 */
	int day;   /* 1..31, valid for the month */
};

/* Parses "d-Mon-yyyy" or "dd-Mon-yyyy" (month name case-insensitive).
   Returns 0 or -1. */
int imap_date_parse(const char *s, size_t len, struct imap_date *date_r);

/* Seconds since the epoch of the date's midnight UTC (may be negative). */
int64_t imap_date_to_time(const struct imap_date *date);

/* Parses a date-time without its quotes: "dd-Mon-yyyy hh:mm:ss +hhmm",
   the day may be " d" (space-padded) or "d". *t_r is the UTC instant,
   *tz_minutes_r the zone offset (east positive). Returns 0 or -1. */
int imap_datetime_parse(const char *s, size_t len, int64_t *t_r,
			int *tz_minutes_r);

/* Appends t as a quoted date-time in zone tz_minutes (-1439..1439):
   "\"22-Nov-2026 16:27:30 +0000\"" (day space-padded, RFC 3501). Returns
   -1 if sb is full or the values are out of range. */
int imap_datetime_format(struct strbuf *sb, int64_t t, int tz_minutes);

/* Appends a date as "1-Feb-1994". -1 if sb is full. */
int imap_date_format(struct strbuf *sb, const struct imap_date *date);

#endif
