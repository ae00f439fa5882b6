#include "ingress-msg.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char *const kind_names[] = {
	[PT_MSG_WAKE] = "wake", [PT_MSG_ACTIVE] = "active",
	[PT_MSG_READY] = "ready", [PT_MSG_FAIL] = "fail",
};

static bool printable(char ch)
{
	return ch >= 0x20 && ch < 0x7f;
}

int pt_ingress_msg_parse(const char *buf, size_t len, bool to_daemon,
			 struct pt_ingress_msg *ret)
{
	struct pt_ingress_msg m = { 0 };
	const char *sp = memchr(buf, ' ', len), *slug, *end;
	size_t klen, slen;

	if (len == 0 || len > PT_INGRESS_MSG_MAX || !sp)
		return -EBADMSG;
	klen = (size_t)(sp - buf);
	for (int k = to_daemon ? PT_MSG_WAKE : PT_MSG_READY;
	     k <= (to_daemon ? PT_MSG_ACTIVE : PT_MSG_FAIL); k++)
		if (klen == strlen(kind_names[k]) && memcmp(buf, kind_names[k], klen) == 0)
			m.kind = (enum pt_ingress_msg_kind)k;
	if (!m.kind)
		return -EBADMSG;
	slug = sp + 1;
	end = memchr(slug, ' ', len - klen - 1);
	slen = end ? (size_t)(end - slug) : len - klen - 1;
	if (slen == 0 || slen > PT_SLUG_MAX || (end && m.kind != PT_MSG_FAIL))
		return -EBADMSG;
	memcpy(m.slug, slug, slen);
	m.slug[slen] = '\0';
	/* A NUL inside would make the slug shorter than what was sent. */
	if (strlen(m.slug) != slen || pt_slug_validate(m.slug, "slug", NULL) < 0)
		return -EBADMSG;
	if (m.kind == PT_MSG_FAIL) {
		size_t rlen;

		if (!end)
			return -EBADMSG;
		rlen = len - (size_t)(end + 1 - buf);
		if (rlen == 0 || rlen > PT_INGRESS_REASON_MAX)
			return -EBADMSG;
		for (size_t i = 0; i < rlen; i++)
			if (!printable(end[1 + i]))
				return -EBADMSG;
		memcpy(m.reason, end + 1, rlen);
		m.reason[rlen] = '\0';
	}
	*ret = m;
	return 0;
}

int pt_ingress_msg_format(const struct pt_ingress_msg *m, char *buf, size_t size)
{
	char reason[PT_INGRESS_REASON_MAX + 1];
	int n;

	if (m->kind < PT_MSG_WAKE || m->kind > PT_MSG_FAIL ||
	    pt_slug_validate(m->slug, "slug", NULL) < 0)
		return -EINVAL;
	if (m->kind != PT_MSG_FAIL) {
		n = snprintf(buf, size, "%s %s", kind_names[m->kind], m->slug);
	} else {
		size_t i;

		for (i = 0; m->reason[i] && i < PT_INGRESS_REASON_MAX; i++)
			reason[i] = printable(m->reason[i]) ? m->reason[i] : '?';
		if (i == 0)
			reason[i++] = '?';
		reason[i] = '\0';
		n = snprintf(buf, size, "fail %s %s", m->slug, reason);
	}
	return n < 0 || (size_t)n >= size ? -ENOBUFS : n;
}
