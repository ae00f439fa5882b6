#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PT_DAY_MS (24ULL * 3600 * 1000)

/* The calendar, UTC. */
uint64_t pt_day_of_ms(uint64_t unix_ms);
/* "2026-12-04" <-> day number; parse returns -EINVAL for anything else
 * (and for days before 1970 or after 9999). */
void pt_day_format(uint64_t day, char buf[11]);
int pt_day_parse(const char *text, uint64_t *ret_day);
/* "2026-12" -> the first day of the month and the first of the next. */
int pt_month_parse(const char *text, uint64_t *ret_first, uint64_t *ret_end);
/* "2026-12" of a day. */
void pt_month_of_day(uint64_t day, char buf[8]);
/* ISO 8601 UTC with milliseconds into buf (at least 32 bytes). */
void pt_format_time_ms(uint64_t ts_ms, char *buf, size_t size);
