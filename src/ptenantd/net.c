/* The daemon's side of tenant networking: address allocation at create,
 * the host side of the veth at every start (a spawn hook), the firewall
 * table at startup, cleanup at rm. All of it is a no-op with network =
 * off (the default), so a daemon in the host's netns changes nothing. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "daemon.h"
#include "fault.h"
#include "firewall.h"
#include "fsutil.h"
#include "netlink.h"
#include "plan.h"
#include "spawn.h"

/* The gateway's home: tenants reach it through their permanent
 * neighbour entry and the host's local table, no L2 involved. */
#define ANCHOR "lo"
#define NET_JSON "net.json"

static const struct pt_netconf *nc(const struct daemon *d)
{
	return &d->cfg.net;
}

/* A tenant has two host veths: slot 0 is net.json's name, slot 1 the
 * same with an "s". Its run uses the one in st.veth_slot and its standby
 * (the next run, set up ahead: standby.c) the other, so that the standby
 * is wired before it is needed and a respawn only moves the route. Both
 * match the firewall's "ptv*". */
void net_veth_name(const struct tenant *t, unsigned slot, char buf[PT_IFNAME_MAX])
{
	snprintf(buf, PT_IFNAME_MAX, "%s%s", t->net.veth, slot ? "s" : "");
}

static struct pt_fw_tenant fw_of(const struct tenant *t, const char *veth)
{
	return (struct pt_fw_tenant){ veth, t->net.addr, t->net.mac };
}

static unsigned n_slots(const struct daemon *d)
{
	return d->cfg.respawn_standby ? 2 : 1;
}

/* Its rules, for every slot in use: they depend only on its address, MAC
 * and veth names, fixed for its life. */
static int fw_add(struct daemon *d, struct tenant *t, pt_err *err)
{
	char name[PT_IFNAME_MAX];
	int r = 0;

	for (unsigned s = 0; r == 0 && s < n_slots(d); s++) {
		struct pt_fw_tenant fw;

		net_veth_name(t, s, name);
		fw = fw_of(t, name);
		r = pt_fw_tenant_add(&fw, err);
	}
	return r;
}

static int write_record(int dfd, const struct tenant *t, pt_err *err)
{
	char *text = pt_ipam_record_format(&t->net);
	int r;

	if (!text)
		return pt_err_set(err, -ENOMEM, "format " NET_JSON);
	r = pt_write_file_atomic(dfd, NET_JSON, text, strlen(text), 0600, err);
	free(text);
	return r;
}

/* Picks the lowest free address and persists it in dfd/net.json. */
static int allocate(struct daemon *d, struct tenant *t, int dfd, pt_err *err)
{
	_cleanup_free_ uint32_t *used = calloc(d->n_tenants + 1, sizeof(uint32_t));
	size_t n = 0;
	uint32_t addr;
	int r;

	if (!used)
		return pt_err_set(err, -ENOMEM, "allocate an address");
	for (size_t i = 0; i < d->n_tenants; i++)
		if (d->tenants[i] != t && d->tenants[i]->net.addr)
			used[n++] = d->tenants[i]->net.addr;
	r = pt_ipam_pick(used, n, nc(d)->subnet, nc(d)->prefix, &addr, err);
	if (r < 0)
		return r;
	pt_ipam_fill(&t->net, t->spec.slug[0] ? t->spec.slug : "", addr, nc(d)->subnet);
	r = PT_FAULT_ERR("net.record", err);
	if (r == 0)
		r = write_record(dfd, t, err);
	if (r < 0)
		memset(&t->net, 0, sizeof(t->net));
	return r;
}

int net_tenant_alloc(struct daemon *d, struct tenant *t, const char *dir, pt_err *err)
{
	_cleanup_close_ int dfd = -1;

	if (!nc(d)->enabled)
		return 0;
	dfd = open(dir, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return pt_err_set(err, -errno, "open %s", dir);
	return allocate(d, t, dfd, err);
}

int net_tenant_load(struct daemon *d, struct tenant *t, int dfd, pt_err *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r;

	if (!nc(d)->enabled)
		return 0;
	r = pt_read_file(dfd, NET_JSON, 4096, &text, &len, err);
	if (r == -ENOENT)
		return 0; /* made with network = off: net_daemon_init allocates */
	if (r < 0)
		return pt_err_prefix(err, "%s/" NET_JSON, t->dir);
	r = pt_ipam_record_parse(text, len, t->spec.slug, nc(d)->subnet, nc(d)->prefix,
				 &t->net, err);
	return r < 0 ? pt_err_prefix(err, "%s", t->dir) : 0;
}

/* A tenant whose net.json is lost: the host side of its running
 * container's veth still says whose it is (its alias), and its name says
 * the address (pt_ipam_fill makes the name from it). 1 when found. */
int net_tenant_recover(struct daemon *d, struct tenant *t, pt_err *err)
{
	const size_t plen = strlen(PT_VETH_PREFIX);
	char name[IFNAMSIZ], *end;
	unsigned long off;
	int r;

	if (!nc(d)->enabled)
		return 0;
	r = pt_nl_tenant_link_find(t->spec.slug, name, err);
	if (r <= 0)
		return r;
	off = strncmp(name, PT_VETH_PREFIX, plen) == 0 ? strtoul(name + plen, &end, 16) : 0;
	if (off != 0 && end[0] == 's' && !end[1])
		end++; /* its standby's slot (net_veth_name) */
	if (off != 0 && !*end && off < (1ul << (32 - nc(d)->prefix)) - 1) {
		pt_ipam_fill(&t->net, t->spec.slug, nc(d)->subnet + (uint32_t)off, nc(d)->subnet);
		if (strncmp(t->net.veth, name, strlen(t->net.veth)) == 0)
			return 1;
		memset(&t->net, 0, sizeof(t->net));
	}
	return pt_err_set(err, -EBADMSG, "tenant %s: its link %s is not named for an address of the subnet",
			  t->spec.slug, name);
}

static int write_sysctl(const char *path, const char *value, pt_err *err)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(value);

	if (fd < 0 && errno == ENOENT)
		return 0; /* that protocol is not there, nothing to turn off */
	if (fd < 0 || write(fd, value, len) != (ssize_t)len)
		return pt_err_set(err, -errno, "write %s", path);
	return 0;
}

/* Strict reverse-path filtering on the tenant's link (a packet from the
 * tenant must come from the address routed to it) and no IPv6 on it. */
static int host_side_sysctls(const char *ifname, pt_err *err)
{
	char path[128];
	int r;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/rp_filter", ifname);
	r = write_sysctl(path, "1", err);
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);
	if (r == 0)
		r = write_sysctl(path, "1", err);
	return r;
}

static int spawn_hook(void *ctx, pid_t pid, pt_err *err)
{
	struct net_hook *h = ctx;
	struct tenant *t = h->t;
	char name[PT_IFNAME_MAX];
	struct pt_veth_req v = {
		.slug = t->spec.slug, .host_name = name, .pid = pid,
		.addr = t->net.addr, .gw = pt_ipam_gateway(nc(h->d)->subnet),
		.no_route = h->standby,
	};
	int r;

	net_veth_name(t, h->slot, name);

	memcpy(v.peer_mac, t->net.mac, 6);
	pt_ipam_host_mac(t->net.addr, v.host_mac);
	/* Rules first: the tenant's traffic is checked from its first packet.
	 * They depend only on its address, MAC and veth name, fixed for its
	 * life, so they are added once (here or by the daemon's start) and
	 * kept across its runs until rm: a start does not pay nft's
	 * transaction again (it is a fork and a netlink round trip). */
	r = PT_FAULT_ERR("net.firewall", err);
	if (r == 0 && !t->fw_elements)
		r = fw_add(h->d, t, err);
	if (r == 0)
		t->fw_elements = true;
	if (r == 0)
		r = PT_FAULT_ERR("net.veth-create", err);
	if (r == 0)
		r = pt_nl_veth_create(&v, err);
	if (r < 0)
		return r; /* nothing of ours to undo: a clash is not ours to delete */
	r = PT_FAULT_ERR("net.veth-up", err);
	if (r == 0)
		r = host_side_sysctls(name, err);
	if (r == 0)
		r = pt_nl_veth_host_up(&v, err);
	if (r < 0)
		pt_nl_tenant_link_delete(name, t->spec.slug, NULL);
	return r;
}

int net_spawn(struct daemon *d, struct tenant *t, struct pt_plan *plan,
	      struct pt_spawn_req *req, struct net_hook *ctx, bool standby, pt_err *err)
{
	struct pt_plan_net pn = { .enabled = 1 };

	if (!nc(d)->enabled)
		return 0;
	if (!t->net.addr)
		return pt_err_set(err, -EADDRNOTAVAIL, "tenant %s has no address", t->spec.slug);
	pn.addr = t->net.addr;
	pn.gw = pt_ipam_gateway(nc(d)->subnet);
	pt_ipam_host_mac(t->net.addr, pn.gw_mac);
	ctx->d = d;
	ctx->t = t;
	ctx->standby = standby;
	/* A cold start keeps the slot its last run had (its rules are in);
	 * without standbys only slot 0 has rules. */
	if (!standby && !d->cfg.respawn_standby)
		t->st.veth_slot = 0;
	ctx->slot = standby ? !t->st.veth_slot : t->st.veth_slot;
	req->net_hook = spawn_hook;
	req->net_ctx = ctx;
	return pt_plan_add_network(plan, &pn, nc(d)->resolvers, nc(d)->n_resolvers, err);
}

/* The standby takes over (standby.c): the tenant's address is routed to
 * its link from now on. */
int net_standby_promote(struct daemon *d, struct tenant *t, pt_err *err)
{
	char name[PT_IFNAME_MAX];

	if (!nc(d)->enabled || !t->net.addr)
		return 0;
	net_veth_name(t, !t->st.veth_slot, name);
	return pt_nl_route_to(name, t->net.addr, pt_ipam_gateway(nc(d)->subnet), err);
}

void net_tenant_release(struct daemon *d, struct tenant *t)
{
	char name[PT_IFNAME_MAX];
	pt_err err = { 0 };

	if (!nc(d)->enabled || !t->net.addr)
		return;
	/* The pair usually died with the tenant's netns; delete it anyway
	 * (the netns may still be tearing down), then the rules. Both slots,
	 * whatever respawn_standby says now. */
	for (unsigned s = 0; s < 2; s++) {
		struct pt_fw_tenant fw;

		net_veth_name(t, s, name);
		fw = fw_of(t, name);
		if (pt_nl_tenant_link_delete(name, t->spec.slug, &err) < 0 ||
		    (pt_fw_tenant_remove(&fw, &err) < 0 && s < n_slots(d)))
			fprintf(stderr, "ptenantd: tenant %s: release network: %s\n", t->spec.slug, err.msg);
	}
	memset(&t->net, 0, sizeof(t->net));
	t->fw_elements = false;
}

static int sync_firewall(struct daemon *d, pt_err *err)
{
	_cleanup_free_ struct pt_fw_tenant *fw = calloc(2 * d->n_tenants + 1, sizeof(*fw));
	size_t n = 0;
	int r;

	if (!fw)
		return pt_err_set(err, -ENOMEM, "firewall tenants");
	_cleanup_free_ char (*names)[PT_IFNAME_MAX] = calloc(2 * d->n_tenants + 1, PT_IFNAME_MAX);

	if (!names)
		return pt_err_set(err, -ENOMEM, "firewall tenants");
	for (size_t i = 0; i < d->n_tenants; i++)
		for (unsigned s = 0; d->tenants[i]->net.addr && s < n_slots(d); s++) {
			net_veth_name(d->tenants[i], s, names[n]);
			fw[n] = fw_of(d->tenants[i], names[n]);
			n++;
		}
	r = pt_fw_sync(nc(d), fw, n, err);
	for (size_t i = 0; r == 0 && i < d->n_tenants; i++)
		d->tenants[i]->fw_elements = d->tenants[i]->net.addr != 0;
	return r;
}

/* Tenants made while network was off get an address now. */
static int allocate_missing(struct daemon *d, pt_err *err)
{
	for (size_t i = 0; i < d->n_tenants; i++) {
		struct tenant *t = d->tenants[i];
		_cleanup_close_ int dfd = -1;
		int r;

		if (t->broken || t->net.addr)
			continue;
		dfd = open(t->dir, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		r = dfd < 0 ? pt_err_set(err, -errno, "open %s", t->dir) : allocate(d, t, dfd, err);
		if (r < 0)
			return pt_err_prefix(err, "tenant %s", t->spec.slug);
	}
	return 0;
}

int net_daemon_init(struct daemon *d, pt_err *err)
{
	int r;

	if (!nc(d)->enabled)
		return 0;
	r = allocate_missing(d, err);
	if (r == 0)
		r = pt_nl_anchor_ensure(ANCHOR, pt_ipam_gateway(nc(d)->subnet), err);
	/* Forwarding only for masquerade: without it a tenant talks to
	 * nothing but the host, and the host needs no forwarding for that. */
	if (r == 0 && nc(d)->masquerade)
		r = write_sysctl("/proc/sys/net/ipv4/ip_forward", "1", err);
	if (r == 0)
		r = sync_firewall(d, err);
	return r < 0 ? pt_err_prefix(err, "network") : 0;
}

void net_daemon_exit(struct daemon *d)
{
	pt_err err = { 0 };

	if (nc(d)->enabled && nc(d)->firewall_remove_on_exit && pt_fw_remove(&err) < 0)
		fprintf(stderr, "ptenantd: %s\n", err.msg);
}

void net_inspect(struct daemon *d, struct tenant *t, json_t *info)
{
	char addr[PT_IPV4_STR], gw[PT_IPV4_STR], mac[18], veth[PT_IFNAME_MAX];

	if (!nc(d)->enabled || !t->net.addr)
		return;
	pt_ipv4_format(t->net.addr, addr);
	pt_ipv4_format(pt_ipam_gateway(nc(d)->subnet), gw);
	pt_mac_format(t->net.mac, mac);
	net_veth_name(t, t->st.veth_slot, veth);
	json_object_set_new(info, "network", json_pack("{s:s, s:s, s:s, s:s, s:s}",
		"address", addr, "gateway", gw, "mac", mac, "veth", veth,
		"interface", "eth0"));
}
