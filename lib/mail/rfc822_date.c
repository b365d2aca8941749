/*
 * rfc822_date - RFC 5322 date-time parser. The value comes from a message
 * (untrusted): every number is range-checked and the scan never passes
 * len bytes.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "mail/rfc822_date.h"

struct cursor {
	const char *p, *end;
};

/* Skips blanks, line breaks and (nested) comments. */
static void
skip_cfws(struct cursor *c)
{
	int depth = 0;

	while (c->p < c->end) {
		char ch = *c->p;

		if (depth > 0) {
			if (ch == '\\' && c->p + 1 < c->end)
				c->p++;
			else if (ch == '(')
				depth++;
			else if (ch == ')')
				depth--;
		} else if (ch == '(')
			depth++;
		else if (ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n')
			return;
		c->p++;
	}
}

static bool
is_alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool
is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* A run of letters (at most max); returns its length, 0 if none. */
static size_t
get_word(struct cursor *c, char *buf, size_t max)
{
	size_t n = 0;

	while (c->p < c->end && is_alpha(*c->p)) {
		if (n < max)
			buf[n] = *c->p;
		n++;
		c->p++;
	}
	if (n > max)
		return 0;
	buf[n] = '\0';
	return n;
}

/* 1..maxdigits digits; -1 if none or too many. */
static int64_t
get_number(struct cursor *c, unsigned int maxdigits, unsigned int *digits_r)
{
	int64_t v = 0;
	unsigned int n = 0;

	while (c->p < c->end && is_digit(*c->p)) {
		if (++n > maxdigits)
			return -1;
		v = v * 10 + (*c->p - '0');
		c->p++;
	}
	if (digits_r != NULL)
		*digits_r = n;
	return n == 0 ? -1 : v;
}

int64_t
rfc822_days_from_civil(int64_t y, unsigned int m, unsigned int d)
{
	/* Howard Hinnant's days_from_civil */
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
month_number(const char *name)
{
	static const char *const months[] = {"jan", "feb", "mar", "apr",
					     "may", "jun", "jul", "aug",
					     "sep", "oct", "nov", "dec"};
	int i;

	for (i = 0; i < 12; i++) {
		if (strncasecmp(name, months[i], 3) == 0)
			return i + 1;
	}
	return 0;
}

static bool
is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
zone_minutes(struct cursor *c)
{
	static const struct {
		const char *name;
		int minutes;
	} zones[] = {
	    {"UT", 0},	      {"UTC", 0},	{"GMT", 0},
	    {"Z", 0},	      {"EST", -5 * 60}, {"EDT", -4 * 60},
	    {"CST", -6 * 60}, {"CDT", -5 * 60}, {"MST", -7 * 60},
	    {"MDT", -6 * 60}, {"PST", -8 * 60}, {"PDT", -7 * 60},
	};
	char word[8];
	size_t i;

	if (c->p < c->end && (*c->p == '+' || *c->p == '-')) {
		int sign = *c->p == '-' ? -1 : 1;
		unsigned int digits;
		int64_t v;

		c->p++;
		v = get_number(c, 4, &digits);
		if (v < 0 || digits != 4 || v % 100 >= 60 || v / 100 > 99)
			return 0;
		return sign * (int)((v / 100) * 60 + v % 100);
	}
	/* named zones; military and unknown ones mean "no information" */
	if (get_word(c, word, sizeof(word) - 1) == 0)
		return 0;
	for (i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		if (strcasecmp(word, zones[i].name) == 0)
			return zones[i].minutes;
	}
	return 0;
}

int
rfc822_date_parse(const char *value, size_t len, int64_t *t_r,
		  int *tz_minutes_r)
{
	static const unsigned char mdays[] = {31, 28, 31, 30, 31, 30,
					      31, 31, 30, 31, 30, 31};
	struct cursor c = {value, value + len};
	char word[16];
	int64_t day, year, hour, min, sec = 0;
	unsigned int digits;
	int month, tz;

	skip_cfws(&c);
	/* optional day of week */
	if (c.p < c.end && is_alpha(*c.p)) {
		if (get_word(&c, word, sizeof(word) - 1) == 0)
			return -1;
		skip_cfws(&c);
		if (c.p < c.end && *c.p == ',')
			c.p++;
		skip_cfws(&c);
	}
	if ((day = get_number(&c, 2, NULL)) < 1)
		return -1;
	skip_cfws(&c);
	if (c.p < c.end && *c.p == '-') /* "1-Jan-2000", seen in the wild */
		c.p++;
	if (get_word(&c, word, sizeof(word) - 1) < 3 ||
	    (month = month_number(word)) == 0)
		return -1;
	skip_cfws(&c);
	if (c.p < c.end && *c.p == '-')
		c.p++;
	if ((year = get_number(&c, 4, &digits)) < 0)
		return -1;
	/* RFC 5322 4.3: two digits are 1950..2049, three add 1900 */
	if (digits == 2)
		year += year < 50 ? 2000 : 1900;
	else if (digits == 3)
		year += 1900;
	if (year < 1900 || year > 9999 ||
	    day > mdays[month - 1] + (month == 2 && is_leap(year) ? 1 : 0))
		return -1;
	skip_cfws(&c);
	if ((hour = get_number(&c, 2, NULL)) < 0 || hour > 23)
		return -1;
	skip_cfws(&c);
	if (c.p >= c.end || *c.p != ':')
		return -1;
	c.p++;
	skip_cfws(&c);
	if ((min = get_number(&c, 2, NULL)) < 0 || min > 59)
		return -1;
	skip_cfws(&c);
	if (c.p < c.end && *c.p == ':') {
		c.p++;
		skip_cfws(&c);
		/* 60: a leap second */
		if ((sec = get_number(&c, 2, NULL)) < 0 || sec > 60)
			return -1;
		skip_cfws(&c);
	}
	tz = zone_minutes(&c);
	*t_r = rfc822_days_from_civil(year, (unsigned int)month,
				      (unsigned int)day) *
		   86400 +
	       hour * 3600 + min * 60 + sec - (int64_t)tz * 60;
	*tz_minutes_r = tz;
	return 0;
}
