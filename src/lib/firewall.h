/* ptenant's own nftables tables, through libnftables: `inet ptenant` (anti-
 * spoofing, tenant isolation, the host allow-list, masquerade) and
 * `arp ptenant` (no ARP from tenants at all). Nothing outside these two
 * tables is ever touched. See doc/network.md for the rules and why. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "netconf.h"

#define PT_FW_TABLE "ptenant"

struct pt_fw_tenant {
	const char *veth;        /* host side */
	uint32_t addr;
	const uint8_t *mac;      /* 6 bytes */
};

/* The whole ruleset as nft text, replacing both tables in one atomic
 * transaction (so a rebuild never opens a window without rules). Pure:
 * the unit tests read it. The caller frees *ret. */
int pt_fw_render(const struct pt_netconf *nc, const struct pt_fw_tenant *t,
		 size_t n, char **ret);
/* render + apply: creates the tables, or repairs them to exactly this. */
int pt_fw_sync(const struct pt_netconf *nc, const struct pt_fw_tenant *t,
	       size_t n, pt_err *err);
/* One tenant's set elements; both idempotent. */
int pt_fw_tenant_add(const struct pt_fw_tenant *t, pt_err *err);
int pt_fw_tenant_remove(const struct pt_fw_tenant *t, pt_err *err);
/* Deletes both tables; 0 when they do not exist. */
int pt_fw_remove(pt_err *err);
/* Runs nft text; the error carries nft's own first error line. */
int pt_fw_run(const char *text, const char *what, pt_err *err);
