/* The network part of ptenantd.conf, parsed and validated: see
 * ptenantd(8) and doc/network.md. Pure: no kernel, no files. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PT_NET_RESOLVERS_MAX 3   /* what the libc resolver reads */
#define PT_NET_ALLOW_MAX 32
#define PT_NET_WHY_MAX 160
#define PT_IPV4_STR 16

struct pt_host_port {
	uint8_t proto;           /* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t port;
};

struct pt_netconf {
	bool enabled;            /* network = on|off, default off */
	uint32_t subnet;         /* host byte order, host bits zero */
	uint8_t prefix;          /* 8..30 */
	uint32_t resolvers[PT_NET_RESOLVERS_MAX];
	size_t n_resolvers;
	bool masquerade;         /* default off */
	struct pt_host_port allow[PT_NET_ALLOW_MAX];
	size_t n_allow;
	bool firewall_remove_on_exit; /* default off: tenants outlive the daemon */
};

void pt_netconf_defaults(struct pt_netconf *n);
/* Whether `key` is one of the network keys. */
bool pt_netconf_is_key(const char *key);
/* Validates `value` for `key` and stores it; false with `why` filled
 * (PT_NET_WHY_MAX bytes) on a bad value. */
bool pt_netconf_apply(struct pt_netconf *n, const char *key, const char *value,
		      char *why);

/* Dotted quad to host byte order; false on anything else. */
bool pt_ipv4_parse(const char *s, uint32_t *ret);
void pt_ipv4_format(uint32_t addr, char buf[PT_IPV4_STR]);
