/* libFuzzer target: rollout.json is read back by a new ptenantd after a
 * crash, so any bytes must give either a rollout or -EBADMSG with a
 * message (never a crash), and a rollout that parsed must survive
 * format + parse unchanged, or a restart would move tenants it should
 * not. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rollout-state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pt_rollout r, again;
	char *text = NULL, *text2 = NULL;
	pt_err err = { 0 };

	if (pt_rollout_parse((const char *)data, size, &r, &err) < 0) {
		if ((err.code != -EBADMSG && err.code != -ENOMEM) || err.msg[0] == '\0')
			abort();
		return 0;
	}
	if (pt_rollout_format(&r, &text) < 0)
		abort();
	if (pt_rollout_parse(text, strlen(text), &again, NULL) < 0)
		abort();
	if (pt_rollout_format(&again, &text2) < 0 || strcmp(text, text2) != 0)
		abort();
	free(text);
	free(text2);
	pt_rollout_free(&r);
	pt_rollout_free(&again);
	return 0;
}
