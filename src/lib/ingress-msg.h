/* The ingress channel's messages (ptenantd's runtime_dir/ingress.sock,
 * a SOCK_SEQPACKET socket: one message a packet). ASCII, one line, no
 * newline:
 *   ingress -> daemon   "wake SLUG"      wake the tenant, tell me when ready
 *                       "active SLUG"    it is in use (a request, an open
 *                                        connection): its idle clock restarts
 *                       "served SLUG N"  N more requests went to it (1 to
 *                                        PT_INGRESS_SERVED_MAX), for metering
 *   daemon -> ingress   "ready SLUG"     it runs and its port accepts
 *                       "fail SLUG TEXT" the wake failed, TEXT says why
 * Parsed strictly on both sides: anything else is refused, never guessed
 * at. Pure functions, so both ends and the fuzzer share them. */
#pragma once

#include <stddef.h>

#include "ptenant/spec.h"

#define PT_INGRESS_MSG_MAX 256
#define PT_INGRESS_REASON_MAX 200
#define PT_INGRESS_SERVED_MAX 1000000

enum pt_ingress_msg_kind {
	PT_MSG_WAKE = 1,
	PT_MSG_ACTIVE,
	PT_MSG_READY,
	PT_MSG_FAIL,
	PT_MSG_SERVED,           /* to the daemon, like wake and active */
};

struct pt_ingress_msg {
	enum pt_ingress_msg_kind kind;
	char slug[PT_SLUG_MAX + 1];
	char reason[PT_INGRESS_REASON_MAX + 1]; /* PT_MSG_FAIL only */
	unsigned count;                         /* PT_MSG_SERVED only */
};

/* 0 with *ret filled, or -EBADMSG. to_daemon picks which kinds are
 * acceptable (wake/active/served, or ready/fail). */
int pt_ingress_msg_parse(const char *buf, size_t len, bool to_daemon,
			 struct pt_ingress_msg *ret);
/* Formats m into buf (no NUL needed on the wire; one is written). A
 * reason is cut at PT_INGRESS_REASON_MAX and anything not printable ASCII
 * becomes '?'. Returns the length, or -EINVAL for a bad slug/kind. */
int pt_ingress_msg_format(const struct pt_ingress_msg *m, char *buf, size_t size);
