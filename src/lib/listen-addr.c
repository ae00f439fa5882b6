/* See listen-addr.h. */
#include "listen-addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int port_of(const char *s, uint16_t *ret)
{
	char *end;
	long v;

	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 5)
		return -EINVAL;
	v = strtol(s, &end, 10);
	if (v < 1 || v > 65535)
		return -EINVAL;
	*ret = (uint16_t)v;
	return 0;
}

int pt_listen_addr_parse(const char *text, struct pt_listen_addr *ret, char *why, size_t n)
{
	struct pt_listen_addr a = { 0 };
	char host[64];
	const char *colon;
	uint16_t port;

	if (strncmp(text, "unix:", 5) == 0) {
		const char *path = text + 5;

		if (path[0] != '/' || strlen(path) >= sizeof(a.u.un.sun_path)) {
			snprintf(why, n, "a unix socket wants an absolute path shorter than %zu bytes",
				 sizeof(a.u.un.sun_path));
			return -EINVAL;
		}
		a.family = a.u.un.sun_family = AF_UNIX;
		memcpy(a.u.un.sun_path, path, strlen(path) + 1);
		a.len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
		*ret = a;
		return 0;
	}
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close || close[1] != ':' || (size_t)(close - text - 1) >= sizeof(host)) {
			snprintf(why, n, "an IPv6 address is written [ADDRESS]:PORT");
			return -EINVAL;
		}
		memcpy(host, text + 1, (size_t)(close - text - 1));
		host[close - text - 1] = '\0';
		colon = close + 1;
		a.family = AF_INET6;
	} else {
		colon = strrchr(text, ':');
		if (!colon || (size_t)(colon - text) >= sizeof(host)) {
			snprintf(why, n, "expected ADDRESS:PORT, [ADDRESS]:PORT or unix:/PATH");
			return -EINVAL;
		}
		memcpy(host, text, (size_t)(colon - text));
		host[colon - text] = '\0';
		a.family = AF_INET;
	}
	if (port_of(colon + 1, &port) < 0) {
		snprintf(why, n, "the port must be a number 1..65535");
		return -EINVAL;
	}
	if (a.family == AF_INET6) {
		a.u.in6.sin6_family = AF_INET6;
		a.u.in6.sin6_port = htons(port);
		a.len = sizeof(a.u.in6);
		if (inet_pton(AF_INET6, host, &a.u.in6.sin6_addr) != 1) {
			snprintf(why, n, "'%.40s' is not an IPv6 address", host);
			return -EINVAL;
		}
	} else {
		a.u.in.sin_family = AF_INET;
		a.u.in.sin_port = htons(port);
		a.len = sizeof(a.u.in);
		if (inet_pton(AF_INET, host, &a.u.in.sin_addr) != 1) {
			snprintf(why, n, "'%.40s' is not an IPv4 address (names are not resolved)",
				 host);
			return -EINVAL;
		}
	}
	*ret = a;
	return 0;
}
