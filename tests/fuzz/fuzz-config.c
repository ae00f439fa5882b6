/* libFuzzer target: ptenantd.conf is admin-written, but the parser must
 * still never crash, leak or read out of bounds on any input. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pt_config c, before;
	pt_err err = { 0 };
	int r;

	pt_config_defaults(&c);
	before = c;
	r = pt_config_parse(&c, (const char *)data, size, "fuzz", &err);
	/* the contract the daemon relies on: failure leaves *c untouched
	 * and always explains itself */
	if (r < 0 && (memcmp(&c, &before, sizeof(c)) != 0 || err.msg[0] == '\0'))
		__builtin_trap();
	if (r == 0 && (c.state_dir[0] != '/' || c.runtime_dir[0] != '/'))
		__builtin_trap();
	return 0;
}
