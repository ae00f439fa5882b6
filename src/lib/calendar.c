/* The calendar, UTC: day numbers since 1970-01-01 and their names. Apart
 * from the usage ledger (usage.c) so the CLI can parse a --since day
 * without linking what the ledger needs. */
#include "calendar.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Days from civil, civil from days: proleptic Gregorian, as in H.
 * Hinnant's date algorithms. */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

uint64_t pt_day_of_ms(uint64_t unix_ms)
{
	return unix_ms / PT_DAY_MS;
}

void pt_day_format(uint64_t day, char buf[11])
{
	unsigned m, d;
	int y;

	civil_from_days((int64_t)day, &y, &m, &d);
	snprintf(buf, 11, "%04d-%02u-%02u", y % 10000, m, d);
}

static unsigned days_in_month(int y, unsigned m)
{
	static const unsigned n[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : n[m - 1];
}

static int parse_digits(const char *s, size_t n, unsigned *ret)
{
	unsigned v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*ret = v;
	return 0;
}

int pt_day_parse(const char *text, uint64_t *ret_day)
{
	unsigned y, m, d;

	if (!text || strlen(text) != 10 || text[4] != '-' || text[7] != '-' ||
	    parse_digits(text, 4, &y) < 0 || parse_digits(text + 5, 2, &m) < 0 ||
	    parse_digits(text + 8, 2, &d) < 0 || y < 1970 || m < 1 || m > 12 || d < 1 ||
	    d > days_in_month((int)y, m))
		return -EINVAL;
	*ret_day = (uint64_t)days_from_civil(y, m, d);
	return 0;
}

int pt_month_parse(const char *text, uint64_t *ret_first, uint64_t *ret_end)
{
	unsigned y, m;

	if (!text || strlen(text) != 7 || text[4] != '-' || parse_digits(text, 4, &y) < 0 ||
	    parse_digits(text + 5, 2, &m) < 0 || y < 1970 || m < 1 || m > 12)
		return -EINVAL;
	*ret_first = (uint64_t)days_from_civil(y, m, 1);
	*ret_end = *ret_first + days_in_month((int)y, m);
	return 0;
}

void pt_month_of_day(uint64_t day, char buf[8])
{
	unsigned m, d;
	int y;

	civil_from_days((int64_t)day, &y, &m, &d);
	snprintf(buf, 8, "%04d-%02u", y % 10000, m);
}

void pt_format_time_ms(uint64_t ts_ms, char *buf, size_t size)
{
	time_t t = (time_t)(ts_ms / 1000);
	struct tm tm;
	size_t n;

	if (size == 0)
		return;
	if (!gmtime_r(&t, &tm)) {
		snprintf(buf, size, "invalid");
		return;
	}
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, size - n, ".%03uZ", (unsigned)(ts_ms % 1000));
}
