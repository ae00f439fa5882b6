#include "notify-msg.h"

#include <errno.h>
#include <string.h>

static bool key_char(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || ch == '_';
}

/* One line: understood (READY=1, BUSY=0|1) or counted as ignored. */
static void assignment(const char *line, size_t len, struct pt_notify_msg *m)
{
	const char *eq = memchr(line, '=', len);
	size_t klen = eq ? (size_t)(eq - line) : 0;

	for (size_t i = 0; i < klen; i++)
		if (!key_char(line[i]))
			klen = 0;
	if (klen == 5 && len == 7 && memcmp(line, "READY=1", 7) == 0)
		m->ready = true;
	else if (klen == 4 && len == 6 && memcmp(line, "BUSY=", 5) == 0 &&
		 (line[5] == '0' || line[5] == '1'))
		m->busy = line[5] - '0';
	else
		m->ignored++;
}

int pt_notify_parse(const char *buf, size_t len, struct pt_notify_msg *ret)
{
	struct pt_notify_msg m = { .busy = -1 };
	size_t start = 0;

	if (len == 0 || len > PT_NOTIFY_MSG_MAX)
		return -EBADMSG;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)buf[i] < 0x20 && buf[i] != '\n')
			return -EBADMSG;
		else if (buf[i] == 0x7f)
			return -EBADMSG;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && buf[i] != '\n')
			continue;
		if (i > start)
			assignment(buf + start, i - start, &m);
		start = i + 1;
	}
	*ret = m;
	return 0;
}
