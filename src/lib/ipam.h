/* Address management for tenants, pure (no kernel, no files): which
 * address a new tenant gets, and what follows from it (the host-side
 * interface name, the MACs), plus the net.json record that persists it.
 *
 * The subnet's layout: the first address is the network, the second the
 * gateway every tenant routes through (it lives on the host's anchor
 * interface), the last the broadcast; everything between is for tenants.
 * Routing is /32 per tenant, so network and broadcast are not needed, but
 * keeping them unused means no tool ever mistakes a tenant for them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define PT_IFNAME_MAX 16   /* IFNAMSIZ */
#define PT_VETH_PREFIX "ptv"

struct pt_tenant_net {
	uint32_t addr;                 /* host byte order; 0 = none */
	uint8_t mac[6];                /* the tenant's eth0 */
	char veth[PT_IFNAME_MAX];      /* the host side */
};

/* How many tenants the subnet holds. */
uint32_t pt_ipam_capacity(uint8_t prefix);
uint32_t pt_ipam_gateway(uint32_t subnet);
/* Whether addr is a tenant address of subnet/prefix. */
bool pt_ipam_valid(uint32_t addr, uint32_t subnet, uint8_t prefix);
/* The lowest tenant address not in used[0..n). -ENOSPC when the subnet
 * is full, with a message naming it. */
int pt_ipam_pick(const uint32_t *used, size_t n, uint32_t subnet, uint8_t prefix,
		 uint32_t *ret, pt_err *err);
/* Everything that follows from (slug, addr): MAC and interface name. */
void pt_ipam_fill(struct pt_tenant_net *net, const char *slug, uint32_t addr,
		  uint32_t subnet);
/* The host side's MAC, the one the tenant's gateway neighbor points to. */
void pt_ipam_host_mac(uint32_t addr, uint8_t mac[6]);
void pt_mac_format(const uint8_t mac[6], char buf[18]);

/* net.json: {"address": "...", "mac": "...", "veth": "..."}. Parsing
 * checks the address is in the subnet and that mac and veth are what the
 * address and slug imply, so a hand-edited file cannot point a tenant at
 * another's interface. */
char *pt_ipam_record_format(const struct pt_tenant_net *net);
int pt_ipam_record_parse(const char *text, size_t len, const char *slug,
			 uint32_t subnet, uint8_t prefix,
			 struct pt_tenant_net *ret, pt_err *err);
