/* Where a listener of ptenantd's binds (ptenantd.conf metrics_listen):
 * "127.0.0.1:9464", "[::1]:9464" or "unix:/run/ptenant/metrics.sock".
 * Pure parsing: a name is not resolved. */
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>

#include "error.h"

struct pt_listen_addr {
	int family;              /* AF_INET, AF_INET6, AF_UNIX */
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
		struct sockaddr_un un;
	} u;
	socklen_t len;
};

/* 0, or -EINVAL with why (at most 160 bytes) saying what is wrong. */
int pt_listen_addr_parse(const char *text, struct pt_listen_addr *ret, char *why, size_t n);
