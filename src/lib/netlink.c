#include "netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <linux/neighbour.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "netconf.h"

#define ALIAS_PREFIX "ptenant "

int pt_nl_errno(int nle)
{
	switch (nle < 0 ? -nle : nle) {
	case NLE_SUCCESS: return 0;
	case NLE_EXIST: return -EEXIST;
	case NLE_NODEV: return -ENODEV;
	case NLE_OBJ_NOTFOUND: return -ENOENT;
	case NLE_PERM: return -EPERM;
	case NLE_NOACCESS: return -EACCES;
	case NLE_NOMEM: return -ENOMEM;
	case NLE_INVAL: return -EINVAL;
	case NLE_RANGE: return -ERANGE;
	case NLE_BUSY: return -EBUSY;
	case NLE_AGAIN: return -EAGAIN;
	case NLE_INTR: return -EINTR;
	case NLE_OPNOTSUPP: return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT: return -EAFNOSUPPORT;
	case NLE_NOADDR: return -EADDRNOTAVAIL;
	case NLE_MSGSIZE: return -EMSGSIZE;
	case NLE_BAD_SOCK: return -EBADF;
	case NLE_PROTO_MISMATCH: return -EPROTONOSUPPORT;
	default: return -EIO;
	}
}

/* Records a libnl failure as "netlink: <op>: <strerror>". */
static int nl_fail(pt_err *err, int nle, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int nl_fail(pt_err *err, int nle, const char *fmt, ...)
{
	char what[PT_ERR_MSG_MAX - 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return pt_err_set(err, pt_nl_errno(nle), "netlink: %s", what);
}

static void sock_freep(struct nl_sock **sk)
{
	if (*sk)
		nl_socket_free(*sk);
}
static void link_putp(struct rtnl_link **l)
{
	if (*l)
		rtnl_link_put(*l);
}
static void addr_putp(struct nl_addr **a)
{
	if (*a)
		nl_addr_put(*a);
}
#define _cleanup_sock_ __attribute__((cleanup(sock_freep)))
#define _cleanup_link_ __attribute__((cleanup(link_putp)))
#define _cleanup_nladdr_ __attribute__((cleanup(addr_putp)))

static struct nl_sock *open_sock(const char *what, pt_err *err)
{
	struct nl_sock *sk = nl_socket_alloc();
	int r;

	if (!sk) {
		pt_err_set(err, -ENOMEM, "netlink: socket for %s", what);
		return NULL;
	}
	r = nl_connect(sk, NETLINK_ROUTE);
	if (r < 0) {
		nl_fail(err, r, "connect for %s", what);
		nl_socket_free(sk);
		return NULL;
	}
	return sk;
}

static struct nl_addr *ipv4(uint32_t a, int prefix)
{
	uint32_t be = htonl(a);
	struct nl_addr *n = nl_addr_build(AF_INET, &be, sizeof(be));

	if (n)
		nl_addr_set_prefixlen(n, prefix);
	return n;
}

static struct nl_addr *mac(const uint8_t m[6])
{
	return nl_addr_build(AF_LLC, m, 6);
}

/* ifindex of name in the socket's netns, or -errno. */
static int ifindex(struct nl_sock *sk, const char *name, struct rtnl_link **ret)
{
	struct rtnl_link *l = NULL;
	int r = rtnl_link_get_kernel(sk, 0, name, &l);

	if (r < 0)
		return pt_nl_errno(r);
	r = rtnl_link_get_ifindex(l);
	if (ret)
		*ret = l;
	else
		rtnl_link_put(l);
	return r;
}

static int add_route(struct nl_sock *sk, int oif, uint32_t dst, int plen,
		     uint32_t via, uint32_t src, const char *dev, pt_err *err)
{
	struct rtnl_route *rt = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	_cleanup_nladdr_ struct nl_addr *d = ipv4(dst, plen), *g = NULL, *s = NULL;
	char dbuf[PT_IPV4_STR];
	int r = -NLE_NOMEM;

	pt_ipv4_format(dst, dbuf);
	if (rt && nh && d) {
		rtnl_route_set_family(rt, AF_INET);
		rtnl_route_set_table(rt, RT_TABLE_MAIN);
		rtnl_route_set_dst(rt, d);
		rtnl_route_set_scope(rt, via ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
		rtnl_route_nh_set_ifindex(nh, oif);
		if (via && (g = ipv4(via, 32)))
			rtnl_route_nh_set_gateway(nh, g);
		if (src && (s = ipv4(src, 32)))
			rtnl_route_set_pref_src(rt, s);
		rtnl_route_add_nexthop(rt, nh);
		nh = NULL; /* the route owns it now */
		r = rtnl_route_add(sk, rt, NLM_F_CREATE | NLM_F_REPLACE);
	}
	if (nh)
		rtnl_route_nh_free(nh);
	if (rt)
		rtnl_route_put(rt);
	if (r < 0)
		return nl_fail(err, r, "add route %s/%d dev %s", dbuf, plen, dev);
	return 0;
}

static int add_neigh(struct nl_sock *sk, int ifi, uint32_t ip, const uint8_t m[6],
		     const char *dev, pt_err *err)
{
	struct rtnl_neigh *n = rtnl_neigh_alloc();
	_cleanup_nladdr_ struct nl_addr *dst = ipv4(ip, 32), *ll = mac(m);
	char buf[PT_IPV4_STR];
	int r = -NLE_NOMEM;

	pt_ipv4_format(ip, buf);
	if (n && dst && ll) {
		rtnl_neigh_set_ifindex(n, ifi);
		rtnl_neigh_set_dst(n, dst);
		rtnl_neigh_set_lladdr(n, ll);
		rtnl_neigh_set_state(n, NUD_PERMANENT);
		r = rtnl_neigh_add(sk, n, NLM_F_CREATE | NLM_F_REPLACE);
	}
	if (n)
		rtnl_neigh_put(n);
	if (r < 0)
		return nl_fail(err, r, "add permanent neighbour %s on %s", buf, dev);
	return 0;
}

/* EEXIST is fine: the anchor address survives daemon restarts. */
static int add_addr(struct nl_sock *sk, int ifi, uint32_t ip, const char *dev,
		    bool exist_ok, pt_err *err)
{
	struct rtnl_addr *a = rtnl_addr_alloc();
	_cleanup_nladdr_ struct nl_addr *local = ipv4(ip, 32);
	char buf[PT_IPV4_STR];
	int r = -NLE_NOMEM;

	pt_ipv4_format(ip, buf);
	if (a && local) {
		rtnl_addr_set_ifindex(a, ifi);
		rtnl_addr_set_local(a, local);
		r = rtnl_addr_add(sk, a, 0);
	}
	if (a)
		rtnl_addr_put(a);
	if (r == -NLE_EXIST && exist_ok)
		r = 0;
	if (r < 0)
		return nl_fail(err, r, "add address %s/32 to %s", buf, dev);
	return 0;
}

static int set_up(struct nl_sock *sk, struct rtnl_link *l, const char *dev, pt_err *err)
{
	_cleanup_link_ struct rtnl_link *change = rtnl_link_alloc();
	int r;

	if (!change)
		return pt_err_set(err, -ENOMEM, "netlink: set %s up", dev);
	rtnl_link_set_flags(change, IFF_UP);
	r = rtnl_link_change(sk, l, change, 0);
	if (r < 0)
		return nl_fail(err, r, "set %s up", dev);
	return 0;
}

static int delete_by_name(struct nl_sock *sk, const char *name, pt_err *err)
{
	_cleanup_link_ struct rtnl_link *l = rtnl_link_alloc();
	int r;

	if (!l)
		return pt_err_set(err, -ENOMEM, "netlink: delete link %s", name);
	rtnl_link_set_name(l, name);
	r = rtnl_link_delete(sk, l);
	if (r == -NLE_NODEV || r == -NLE_OBJ_NOTFOUND)
		return 0;
	if (r < 0)
		return nl_fail(err, r, "delete link %s", name);
	return 0;
}

int pt_nl_tenant_link_find(const char *slug, char ret_name[IFNAMSIZ], pt_err *err)
{
	_cleanup_sock_ struct nl_sock *sk = open_sock("the links", err);
	struct nl_cache *cache = NULL;
	char want[96];
	int r, found = 0;

	if (!sk)
		return err ? err->code : -EIO;
	r = rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache);
	if (r < 0)
		return nl_fail(err, r, "list links (looking for tenant %s's)", slug);
	snprintf(want, sizeof(want), ALIAS_PREFIX "%s", slug);
	for (struct nl_object *o = nl_cache_get_first(cache); o && !found;
	     o = nl_cache_get_next(o)) {
		struct rtnl_link *l = (struct rtnl_link *)o;
		const char *alias = rtnl_link_get_ifalias(l);

		if (alias && strcmp(alias, want) == 0 && rtnl_link_get_name(l)) {
			snprintf(ret_name, IFNAMSIZ, "%s", rtnl_link_get_name(l));
			found = 1;
		}
	}
	nl_cache_free(cache);
	return found;
}

int pt_nl_link_exists(const char *name, pt_err *err)
{
	_cleanup_sock_ struct nl_sock *sk = open_sock(name, err);
	int r;

	if (!sk)
		return err ? err->code : -EIO;
	r = ifindex(sk, name, NULL);
	if (r == -ENODEV || r == -ENOENT)
		return 0;
	if (r < 0)
		return pt_err_set(err, r, "netlink: look up link %s", name);
	return 1;
}

/* Whether the link `l` is tenant `slug`'s: its alias names that very
 * tenant. One with another slug's alias is that tenant's live link (two
 * tenants on one name is a bug elsewhere, and deleting it would cut the
 * other tenant off); one without our prefix is the operator's. Returns 0
 * when it is ours, else -EEXIST saying whose it is. */
static int link_is_tenants(struct rtnl_link *l, const char *verb, const char *name,
			   const char *slug, pt_err *err)
{
	const char *alias = rtnl_link_get_ifalias(l);
	char want[96];

	snprintf(want, sizeof(want), ALIAS_PREFIX "%s", slug);
	if (alias && strcmp(alias, want) == 0)
		return 0;
	if (alias && strncmp(alias, ALIAS_PREFIX, strlen(ALIAS_PREFIX)) == 0)
		return pt_err_set(err, -EEXIST,
				  "netlink: %s %s for tenant %s: that interface belongs to tenant %.64s",
				  verb, name, slug, alias + strlen(ALIAS_PREFIX));
	return pt_err_set(err, -EEXIST,
			  "netlink: %s %s for tenant %s: an interface of that name exists and is not ptenant's",
			  verb, name, slug);
}

/* Deletes `name` if it exists and is tenant `slug`'s. */
static int delete_if_tenants(struct nl_sock *sk, const char *verb, const char *name,
			     const char *slug, pt_err *err)
{
	_cleanup_link_ struct rtnl_link *l = NULL;
	int r = ifindex(sk, name, &l);

	if (r == -ENODEV || r == -ENOENT)
		return 0;
	if (r < 0)
		return pt_err_set(err, r, "netlink: look up link %s", name);
	r = link_is_tenants(l, verb, name, slug, err);
	return r < 0 ? r : delete_by_name(sk, name, err);
}

int pt_nl_tenant_link_delete(const char *name, const char *slug, pt_err *err)
{
	_cleanup_sock_ struct nl_sock *sk = open_sock(name, err);

	return sk ? delete_if_tenants(sk, "delete link", name, slug, err) : err ? err->code : -EIO;
}

static int make_pair(struct nl_sock *sk, const struct pt_veth_req *v, pt_err *err)
{
	struct rtnl_link *l = rtnl_link_veth_alloc(), *peer;
	_cleanup_nladdr_ struct nl_addr *hm = mac(v->host_mac), *pm = mac(v->peer_mac);
	char alias[96];
	int r = -NLE_NOMEM;

	if (l && hm && pm) {
		peer = rtnl_link_veth_get_peer(l);
		snprintf(alias, sizeof(alias), ALIAS_PREFIX "%s", v->slug);
		rtnl_link_set_name(l, v->host_name);
		rtnl_link_set_addr(l, hm);
		rtnl_link_set_ifalias(l, alias);
		rtnl_link_set_name(peer, "eth0");
		rtnl_link_set_addr(peer, pm);
		rtnl_link_set_ns_pid(peer, v->pid);
		/* Without queue counts the kernel makes one queue per CPU and
		 * then cuts them to one on the registered device, which waits
		 * for an expedited RCU grace period (IPIs to every CPU) on
		 * each veth: up to 2 ms of the daemon's round in a burst. */
		rtnl_link_set_num_tx_queues(l, 1);
		rtnl_link_set_num_rx_queues(l, 1);
		rtnl_link_set_num_tx_queues(peer, 1);
		rtnl_link_set_num_rx_queues(peer, 1);
		rtnl_link_put(peer);
		r = rtnl_link_add(sk, l, NLM_F_CREATE | NLM_F_EXCL);
	}
	if (l)
		rtnl_link_veth_release(l);
	if (r < 0)
		return nl_fail(err, r, "create veth %s (peer eth0 in tenant %s's netns, pid %d)",
			       v->host_name, v->slug, (int)v->pid);
	return 0;
}

int pt_nl_veth_create(const struct pt_veth_req *v, pt_err *err)
{
	_cleanup_sock_ struct nl_sock *sk = open_sock(v->host_name, err);
	_cleanup_link_ struct rtnl_link *l = NULL;
	int r, ifi;

	if (!sk)
		return err ? err->code : -EIO;
	/* An interface of our name left by an earlier run of this tenant:
	 * the kernel tears a dead tenant's netns (and with it the pair) down
	 * asynchronously, so a fast respawn can still find it. */
	r = delete_if_tenants(sk, "create veth", v->host_name, v->slug, err);
	if (r == 0)
		r = make_pair(sk, v, err);
	if (r < 0)
		return r;
	ifi = ifindex(sk, v->host_name, &l);
	if (ifi < 0)
		return pt_err_set(err, ifi, "netlink: look up new link %s", v->host_name);
	/* Older kernels ignore the alias on creation; set it again, so that
	 * delete_if_tenants always recognises the link as ours. */
	if (!rtnl_link_get_ifalias(l)) {
		_cleanup_link_ struct rtnl_link *change = rtnl_link_alloc();
		char alias[96];

		snprintf(alias, sizeof(alias), ALIAS_PREFIX "%s", v->slug);
		if (!change)
			return pt_err_set(err, -ENOMEM, "netlink: set alias of %s", v->host_name);
		rtnl_link_set_ifalias(change, alias);
		r = rtnl_link_change(sk, l, change, 0);
		if (r < 0)
			return nl_fail(err, r, "set alias of %s", v->host_name);
	}
	return 0;
}

int pt_nl_veth_host_up(const struct pt_veth_req *v, pt_err *err)
{
	_cleanup_sock_ struct nl_sock *sk = open_sock(v->host_name, err);
	_cleanup_link_ struct rtnl_link *l = NULL;
	int r, ifi;

	if (!sk)
		return err ? err->code : -EIO;
	ifi = ifindex(sk, v->host_name, &l);
	if (ifi < 0)
		return pt_err_set(err, ifi, "netlink: look up link %s", v->host_name);
	/* Up before the route: the kernel refuses a route on a down link. */
	r = set_up(sk, l, v->host_name, err);
	if (r == 0)
		r = add_neigh(sk, ifi, v->addr, v->peer_mac, v->host_name, err);
	if (r == 0 && !v->no_route)
		r = add_route(sk, ifi, v->addr, 32, 0, v->gw, v->host_name, err);
	return r;
}

int pt_nl_route_to(const char *dev, uint32_t addr, uint32_t gw, pt_err *err)
{
	_cleanup_sock_ struct nl_sock *sk = open_sock(dev, err);
	int ifi;

	if (!sk)
		return err ? err->code : -EIO;
	ifi = ifindex(sk, dev, NULL);
	if (ifi < 0)
		return pt_err_set(err, ifi, "netlink: look up link %s", dev);
	return add_route(sk, ifi, addr, 32, 0, gw, dev, err);
}

int pt_nl_anchor_ensure(const char *name, uint32_t gw, pt_err *err)
{
	_cleanup_sock_ struct nl_sock *sk = open_sock(name, err);
	_cleanup_link_ struct rtnl_link *l = NULL;
	int r, ifi;

	if (!sk)
		return err ? err->code : -EIO;
	ifi = ifindex(sk, name, &l);
	if (ifi < 0)
		return pt_err_set(err, ifi, "netlink: look up link %s", name);
	r = add_addr(sk, ifi, gw, name, true, err);
	if (r == 0 && !(rtnl_link_get_flags(l) & IFF_UP))
		r = set_up(sk, l, name, err);
	return r;
}

int pt_nl_eth0_setup(uint32_t addr, uint32_t gw, const uint8_t gw_mac[6],
		     pt_err *err)
{
	_cleanup_sock_ struct nl_sock *sk = open_sock("eth0", err);
	_cleanup_link_ struct rtnl_link *l = NULL;
	int r, ifi;

	if (!sk)
		return err ? err->code : -EIO;
	ifi = ifindex(sk, "eth0", &l);
	if (ifi < 0)
		return pt_err_set(err, ifi, "netlink: look up eth0 in the tenant's netns");
	r = add_addr(sk, ifi, addr, "eth0", false, err);
	if (r == 0 && !(rtnl_link_get_flags(l) & IFF_UP))
		r = set_up(sk, l, "eth0", err);
	/* A permanent entry: the tenant never needs ARP, so the host can
	 * drop every ARP packet a tenant sends. */
	if (r == 0)
		r = add_neigh(sk, ifi, gw, gw_mac, "eth0", err);
	if (r == 0)
		r = add_route(sk, ifi, gw, 32, 0, addr, "eth0", err);
	if (r == 0)
		r = add_route(sk, ifi, 0, 0, gw, addr, "eth0", err);
	return r;
}
