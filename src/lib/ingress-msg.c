#include "ingress-msg.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char *const kind_names[] = {
	[PT_MSG_WAKE] = "wake", [PT_MSG_ACTIVE] = "active",
	[PT_MSG_READY] = "ready", [PT_MSG_FAIL] = "fail", [PT_MSG_SERVED] = "served",
};

static bool to_daemon_kind(int k)
{
	return k == PT_MSG_WAKE || k == PT_MSG_ACTIVE || k == PT_MSG_SERVED;
}

/* 1 to PT_INGRESS_SERVED_MAX, decimal, no sign or leading zero. */
static int parse_count(const char *s, size_t len, unsigned *ret)
{
	unsigned long v = 0;

	if (len == 0 || len > 7 || s[0] == '0')
		return -EBADMSG;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EBADMSG;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > PT_INGRESS_SERVED_MAX)
		return -EBADMSG;
	*ret = (unsigned)v;
	return 0;
}

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
	for (int k = PT_MSG_WAKE; k <= PT_MSG_SERVED; k++)
		if (to_daemon_kind(k) == to_daemon && klen == strlen(kind_names[k]) &&
		    memcmp(buf, kind_names[k], klen) == 0)
			m.kind = (enum pt_ingress_msg_kind)k;
	if (!m.kind)
		return -EBADMSG;
	slug = sp + 1;
	end = memchr(slug, ' ', len - klen - 1);
	slen = end ? (size_t)(end - slug) : len - klen - 1;
	if (slen == 0 || slen > PT_SLUG_MAX ||
	    (end && m.kind != PT_MSG_FAIL && m.kind != PT_MSG_SERVED))
		return -EBADMSG;
	memcpy(m.slug, slug, slen);
	m.slug[slen] = '\0';
	/* A NUL inside would make the slug shorter than what was sent. */
	if (strlen(m.slug) != slen || pt_slug_validate(m.slug, "slug", NULL) < 0)
		return -EBADMSG;
	if (m.kind == PT_MSG_SERVED &&
	    (!end || parse_count(end + 1, len - (size_t)(end + 1 - buf), &m.count) < 0))
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

	if (m->kind < PT_MSG_WAKE || m->kind > PT_MSG_SERVED ||
	    pt_slug_validate(m->slug, "slug", NULL) < 0 ||
	    (m->kind == PT_MSG_SERVED && (m->count < 1 || m->count > PT_INGRESS_SERVED_MAX)))
		return -EINVAL;
	if (m->kind == PT_MSG_SERVED) {
		n = snprintf(buf, size, "served %s %u", m->slug, m->count);
	} else if (m->kind != PT_MSG_FAIL) {
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
