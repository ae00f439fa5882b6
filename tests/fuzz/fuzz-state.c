/* libFuzzer target: state.json is read back after crashes and full disks,
 * so any bytes must give either a state or -EBADMSG with a message; and a
 * state that parsed must survive format + parse unchanged, or a restart
 * would lose what the daemon knew. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const struct pt_tenant_state *a, const struct pt_tenant_state *b)
{
	return a->host_uid == b->host_uid && a->desired == b->desired &&
	       a->pid == b->pid && a->pid_starttime == b->pid_starttime &&
	       a->started_at == b->started_at && a->restarts == b->restarts &&
	       a->last_exit == b->last_exit && a->last_code == b->last_code &&
	       a->last_exit_at == b->last_exit_at && a->healthy_at == b->healthy_at &&
	       a->veth_slot == b->veth_slot && a->idle == b->idle;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pt_tenant_state s, before, again;
	pt_err err = { 0 };
	char *text = NULL;

	memset(&s, 0x5A, sizeof(s));
	before = s;
	if (pt_state_parse((const char *)data, size, &s, &err) < 0) {
		/* Failure is always -EBADMSG, explained, and leaves *ret. */
		if (err.code != -EBADMSG || err.msg[0] == '\0' ||
		    memcmp(&s, &before, sizeof(s)) != 0)
			abort();
		return 0;
	}
	if (pt_state_format(&s, &text) < 0)
		abort();
	if (pt_state_parse(text, strlen(text), &again, NULL) < 0)
		abort();
	if (!same(&s, &again))
		abort();
	free(text);
	return 0;
}
