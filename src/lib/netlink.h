/* Links, addresses, routes and neighbours through libnl-route-3. Errors
 * are negative errno (libnl's NLE_* mapped at this edge) and every
 * message names the interface and the operation, e.g.
 * "netlink: create veth ptv000002 (peer eth0 in tenant acme): File exists". */
#pragma once

#include <net/if.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

struct pt_veth_req {
	const char *slug;            /* for messages and the link alias */
	const char *host_name;       /* host side, e.g. ptv000002 */
	uint8_t host_mac[6];
	uint8_t peer_mac[6];         /* the tenant's eth0 */
	pid_t pid;                   /* a process in the tenant's netns */
	uint32_t addr;               /* the tenant's address, host order */
	uint32_t gw;                 /* the anchor address, host order */
	/* A standby's link: up with its neighbour, but the route to addr
	 * stays where it is until pt_nl_route_to moves it here. */
	int no_route;
};

/* Creates the pair, both ends down, with the peer born inside pid's
 * netns as "eth0" (it never exists in the host's namespace). A stale
 * host side of an earlier run of the same tenant (its alias says
 * "ptenant <slug>") is deleted first; any other interface of that name
 * is a clash and an -EEXIST error. */
int pt_nl_veth_create(const struct pt_veth_req *v, pt_err *err);
/* Then (after the caller's per-link sysctls): the host side up, a
 * permanent neighbour for the tenant and the /32 route to it. */
int pt_nl_veth_host_up(const struct pt_veth_req *v, pt_err *err);
/* Points the /32 route to addr at link dev (replacing where it went). */
int pt_nl_route_to(const char *dev, uint32_t addr, uint32_t gw, pt_err *err);

/* Deletes tenant slug's link `name`; 0 when it does not exist, -EEXIST
 * (and the link left alone) when its alias names another tenant or none. */
int pt_nl_tenant_link_delete(const char *name, const char *slug, pt_err *err);
/* 1 and its name when a link's alias is "ptenant <slug>", 0 when none
 * is, or -errno. */
int pt_nl_tenant_link_find(const char *slug, char ret_name[IFNAMSIZ], pt_err *err);
/* 1 when a link of that name exists, 0 when not, or -errno. */
int pt_nl_link_exists(const char *name, pt_err *err);

/* The gateway address as a /32 on an existing link (ptenantd uses lo:
 * it needs no module, and a local address is all the gateway must be),
 * and that link up. Idempotent. */
int pt_nl_anchor_ensure(const char *name, uint32_t gw, pt_err *err);

/* In the caller's own netns (the tenant's, from the spawn child): eth0
 * gets addr/32 and goes up, the gateway a permanent neighbour entry with
 * gw_mac and a link route, and the default route points at it. */
int pt_nl_eth0_setup(uint32_t addr, uint32_t gw, const uint8_t gw_mac[6],
		     pt_err *err);

/* libnl's NLE_* as a negative errno. */
int pt_nl_errno(int nle);
