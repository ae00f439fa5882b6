/* libFuzzer target: specs arrive from API clients, so the parser must never
 * crash, leak or read out of bounds, and whatever it accepts must survive
 * a round trip through pt_spec_to_json unchanged. */
#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ptenant/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Canonical text of a spec, to compare two specs field by field. */
static char *dump(const struct pt_spec *s, bool with_secrets)
{
	json_t *j = pt_spec_to_json(s, with_secrets);
	char *text;

	if (!j)
		abort();
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!text)
		abort();
	return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pt_spec a, b, before;
	pt_err err = { 0 };
	char *text, *again, *names;

	memset(&a, 0x5a, sizeof(a));
	before = a;
	if (pt_spec_parse((const char *)data, size, &a, &err) < 0) {
		/* failure leaves *ret untouched and always explains itself */
		if (memcmp(&a, &before, sizeof(a)) != 0 || err.msg[0] == '\0' ||
		    err.code != -EINVAL)
			abort();
		return 0;
	}
	text = dump(&a, true);
	if (pt_spec_parse(text, strlen(text), &b, &err) < 0)
		abort();
	again = dump(&b, true);
	if (strcmp(text, again) != 0)
		abort();
	names = dump(&a, false);
	free(names);
	free(again);
	free(text);
	pt_spec_free(&a);
	pt_spec_free(&b);
	return 0;
}
