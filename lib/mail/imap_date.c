/*
 * imap_date - IMAP date and date-time parsing and formatting (see
 * imap_date.h). Input is untrusted client text; the calendar arithmetic
 * is done here (days from civil date) so nothing depends on TZ or libc
 * time-zone state. No I/O, no logging.
 */
#include "mail/imap_date.h"

#include <stdbool.h>
#include <strings.h>

#include "util/strbuf.h"

static const char *const month_names[12] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

static int
days_in_month(int year, int month)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30,
				     31, 31, 30, 31, 30, 31};
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int *y_r, int *m_r, int *d_r)
{
	int64_t era, doe, yoe, y, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d_r = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m_r = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y_r = (int)(y + (*m_r <= 2));
}

/* Reads exactly n digits at s[*ip]. */
static int
digits(const char *s, size_t len, size_t *ip, size_t n, int *value_r)
{
	size_t i;
	int v = 0;

	if (len - *ip < n)
		return -1;
	for (i = 0; i < n; i++) {
		char c = s[*ip + i];

		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*ip += n;
	*value_r = v;
	return 0;
}

/* Parses "Mon-yyyy" at s[*ip] after the day and its '-'. */
static int
month_year(const char *s, size_t len, size_t *ip, struct imap_date *date)
{
	int m;

	if (len - *ip < 4)
		return -1;
	for (m = 0; m < 12; m++) {
		if (strncasecmp(s + *ip, month_names[m], 3) == 0)
			break;
	}
	if (m == 12 || s[*ip + 3] != '-')
		return -1;
	*ip += 4;
	date->month = m + 1;
	if (digits(s, len, ip, 4, &date->year) < 0 || date->year == 0)
		return -1;
	if (date->day < 1 || date->day > days_in_month(date->year, date->month))
		return -1;
	return 0;
}

int
imap_date_parse(const char *s, size_t len, struct imap_date *date_r)
{
	size_t i = 0;

	if (digits(s, len, &i, 1, &date_r->day) < 0)
		return -1;
	if (i < len && s[i] >= '0' && s[i] <= '9') {
		int d2;

		digits(s, len, &i, 1, &d2);
		date_r->day = date_r->day * 10 + d2;
	}
	if (i == len || s[i++] != '-')
		return -1;
	if (month_year(s, len, &i, date_r) < 0)
		return -1;
	return i == len ? 0 : -1;
}

int64_t
imap_date_to_time(const struct imap_date *date)
{
	return days_from_civil(date->year, date->month, date->day) * 86400;
}

int
imap_datetime_parse(const char *s, size_t len, int64_t *t_r, int *tz_minutes_r)
{
	struct imap_date date;
	size_t i = 0;
	int hh, mm, ss, zh, zm, sign;

	if (len > 0 && s[0] == ' ')
		i++;
	if (digits(s, len, &i, 1, &date.day) < 0)
		return -1;
	if (i == 1 && s[0] != ' ' && i < len && s[i] >= '0' && s[i] <= '9') {
		int d2;

		digits(s, len, &i, 1, &d2);
		date.day = date.day * 10 + d2;
	}
	if (i == len || s[i++] != '-' || month_year(s, len, &i, &date) < 0)
		return -1;
	if (i == len || s[i++] != ' ' || digits(s, len, &i, 2, &hh) < 0 ||
	    i == len || s[i++] != ':' || digits(s, len, &i, 2, &mm) < 0 ||
	    i == len || s[i++] != ':' || digits(s, len, &i, 2, &ss) < 0 ||
	    i == len || s[i++] != ' ' || i == len)
		return -1;
	if (s[i] != '+' && s[i] != '-')
		return -1;
	sign = s[i++] == '-' ? -1 : 1;
	if (digits(s, len, &i, 2, &zh) < 0 || digits(s, len, &i, 2, &zm) < 0 ||
	    i != len)
		return -1;
	if (hh > 23 || mm > 59 || ss > 60 || zh > 23 || zm > 59)
		return -1;
	*tz_minutes_r = sign * (zh * 60 + zm);
	*t_r = imap_date_to_time(&date) + hh * 3600 + mm * 60 + ss -
	       (int64_t)*tz_minutes_r * 60;
	return 0;
}

int
imap_datetime_format(struct strbuf *sb, int64_t t, int tz_minutes)
{
	int64_t local, days, secs;
	int y, m, d, tz = tz_minutes < 0 ? -tz_minutes : tz_minutes;

	/* years 1..9999 in the given zone; the year is checked below */
	if (tz_minutes < -1439 || tz_minutes > 1439 ||
	    t < -62135596800LL - 86400 || t > 253402300799LL + 86400)
		return -1;
	local = t + (int64_t)tz_minutes * 60;
	days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
	secs = local - days * 86400;
	civil_from_days(days, &y, &m, &d);
	if (y < 1 || y > 9999)
		return -1;
	return strbuf_printf(sb, "\"%2d-%s-%04d %02d:%02d:%02d %c%02d%02d\"", d,
			     month_names[m - 1], y, (int)(secs / 3600),
			     (int)(secs / 60 % 60), (int)(secs % 60),
			     tz_minutes < 0 ? '-' : '+', tz / 60, tz % 60);
}

int
imap_date_format(struct strbuf *sb, const struct imap_date *date)
{
	if (date->month < 1 || date->month > 12)
		return -1;
	return strbuf_printf(sb, "%d-%s-%04d", date->day,
			     month_names[date->month - 1], date->year);
}
