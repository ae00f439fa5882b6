/* What a tenant may say on its notify socket (NOTIFY_SOCKET, the
 * sd_notify(3) protocol): newline-separated KEY=VALUE assignments in one
 * datagram. ptenantd acts on READY=1, BUSY=1 and BUSY=0; every other
 * assignment, and any datagram that is not plain text within
 * PT_NOTIFY_MSG_MAX, is ignored and counted. Pure, so the fuzzer and the
 * unit tests reach it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define PT_NOTIFY_MSG_MAX 512
#define PT_NOTIFY_SOCKET "/run/ptenant/notify"

struct pt_notify_msg {
	bool ready;          /* READY=1 */
	int busy;            /* BUSY=1: 1, BUSY=0: 0, not said: -1 (the last one wins) */
	unsigned ignored;    /* assignments not understood */
};

/* Parses one datagram. Returns 0 with *ret filled (ignored may be > 0), or
 * -EBADMSG when the datagram as a whole is not text: empty, longer than
 * PT_NOTIFY_MSG_MAX, a NUL or another control character but '\n'. */
int pt_notify_parse(const char *buf, size_t len, struct pt_notify_msg *ret);
