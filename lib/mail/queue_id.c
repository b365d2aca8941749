/*
 * queue_id - Postfix-style long queue IDs from time and inode number.
 * Pure: no I/O. Input is trusted (our own clock and inode numbers);
 * queue_id_valid() checks names read from queue directories.
 */
#include "mail/queue_id.h"

#include <string.h>

/* Digits and consonants without 'z' (the separator): 51 symbols. */
static const char queue_id_digits[] =
    "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxy";
#define QUEUE_ID_BASE (sizeof(queue_id_digits) - 1)
#define QUEUE_ID_USEC_DIGITS 4 /* 51^4 > 10^6 */

static size_t
queue_id_encode(char *buf, size_t room, unsigned long long v, size_t min)
{
	char tmp[32];
	size_t n = 0;

	do {
		tmp[n++] = queue_id_digits[v % QUEUE_ID_BASE];
		v /= QUEUE_ID_BASE;
	} while (v != 0 && n < sizeof(tmp));
	while (n < min && n < sizeof(tmp))
		tmp[n++] = queue_id_digits[0];
	if (n > room)
		n = room;
	for (size_t i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return n;
}

void
queue_id_make(char buf[QUEUE_ID_MAX], long long sec, long usec,
	      unsigned long long inode)
{
	size_t pos = 0;

	if (sec < 0)
		sec = 0;
	if (usec < 0 || usec > 999999)
		usec = 0;
	pos += queue_id_encode(buf + pos, QUEUE_ID_MAX - 1 - pos,
			       (unsigned long long)sec, 1);
	pos += queue_id_encode(buf + pos, QUEUE_ID_MAX - 1 - pos,
			       (unsigned long long)usec, QUEUE_ID_USEC_DIGITS);
	if (pos < QUEUE_ID_MAX - 1)
		buf[pos++] = 'z';
	pos += queue_id_encode(buf + pos, QUEUE_ID_MAX - 1 - pos, inode, 1);
	buf[pos] = '\0';
}

bool
queue_id_valid(const char *s)
{
	size_t len = strlen(s);
	const char *z;

	if (len < 4 || len >= QUEUE_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] != 'z' && strchr(queue_id_digits, s[i]) == NULL)
			return false;
	}
	z = strchr(s, 'z');
	if (z == NULL || strchr(z + 1, 'z') != NULL)
		return false;
	/* At least one time digit plus the microseconds, and an inode. */
	return z - s >= 1 + QUEUE_ID_USEC_DIGITS && z[1] != '\0';
}
