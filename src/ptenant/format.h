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
