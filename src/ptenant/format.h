/* The CLI's tables, as functions of a daemon response that write to a
 * FILE: no socket, no globals, so a unit test can check the exact text. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct json_t;

/* The incident journal as a table. Each column is as wide as its longest
 * value (or header), so a long event name or slug never pushes the
 * columns after it out of line; MESSAGE, last, is not padded. */
void cli_print_events(FILE *out, struct json_t *events);
/* events -f: one batch of rows at a fixed width, the header first. */
void cli_print_events_follow(FILE *out, struct json_t *events, bool header);

/* The last OOM incident of a tenant object of a `stats` response, as
 * "acme: last OOM: 128.0 MiB peak (of 128.0 MiB) at
 * 2026-12-02T07:23:15.043Z"; false, buf untouched, when it has none. */
bool cli_format_last_oom(struct json_t *tenant, char *buf, size_t n);

/* The LAST-EXIT column of `ls` for a tenant object: "exit:3", "signal:9",
 * "oom-killed:9"; the reason alone when there is no code (reason unknown,
 * code -1: the journal's exit record has no code either); "-" when it
 * never exited. */
void cli_format_last_exit(struct json_t *tenant, char *buf, size_t n);
