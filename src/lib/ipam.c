#include "ipam.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netconf.h"

uint32_t pt_ipam_capacity(uint8_t prefix)
{
	if (prefix < 1 || prefix > 30)
		return 0;
	/* minus network, gateway and broadcast */
	return (uint32_t)((1ULL << (32 - prefix)) - 3);
}

uint32_t pt_ipam_gateway(uint32_t subnet)
{
	return subnet + 1;
}

bool pt_ipam_valid(uint32_t addr, uint32_t subnet, uint8_t prefix)
{
	uint32_t cap = pt_ipam_capacity(prefix);

	return cap && addr >= subnet + 2 && addr - (subnet + 2) < cap;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int pt_ipam_pick(const uint32_t *used, size_t n, uint32_t subnet, uint8_t prefix,
		 uint32_t *ret, pt_err *err)
{
	uint32_t cap = pt_ipam_capacity(prefix), next = subnet + 2, *sorted;
	char net[PT_IPV4_STR];

	sorted = malloc((n + 1) * sizeof(*sorted));
	if (!sorted)
		return pt_err_set(err, -ENOMEM, "allocate an address");
	if (n)
		memcpy(sorted, used, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_u32);
	/* Walk the sorted list: the first gap at or after `next` is free.
	 * Addresses outside the subnet (a changed config) are skipped. */
	for (size_t i = 0; i < n; i++) {
		if (sorted[i] < next)
			continue;
		if (sorted[i] > next)
			break;
		next++;
	}
	free(sorted);
	if (cap == 0 || next - (subnet + 2) >= cap) {
		pt_ipv4_format(subnet, net);
		return pt_err_set(err, -ENOSPC,
				  "subnet %s/%u is full: all %u tenant addresses are in use",
				  net, prefix, cap);
	}
	*ret = next;
	return 0;
}

/* FNV-1a: stable across builds and architectures, unlike a seeded hash. */
static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

void pt_ipam_fill(struct pt_tenant_net *net, const char *slug, uint32_t addr,
		  uint32_t subnet)
{
	uint64_t h = fnv1a(slug);

	memset(net, 0, sizeof(*net));
	net->addr = addr;
	/* Locally administered unicast (02:...). Two tenants may share a MAC
	 * without harm: no two tenants share a link. */
	net->mac[0] = 0x02;
	for (int i = 1; i < 6; i++)
		net->mac[i] = (uint8_t)(h >> (8 * (i - 1)));
	/* From the address, not the slug: unique by construction, stable for
	 * the tenant's life, and it fits IFNAMSIZ for any subnet down to /8. */
	snprintf(net->veth, sizeof(net->veth), PT_VETH_PREFIX "%06x",
		 (addr - subnet) & 0xffffffu);
}

void pt_ipam_host_mac(uint32_t addr, uint8_t mac[6])
{
	mac[0] = 0x06; /* locally administered, and never equal to 02:... */
	mac[1] = 0x70;
	mac[2] = (uint8_t)(addr >> 24);
	mac[3] = (uint8_t)(addr >> 16);
	mac[4] = (uint8_t)(addr >> 8);
	mac[5] = (uint8_t)addr;
}

void pt_mac_format(const uint8_t m[6], char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
		 m[3], m[4], m[5]);
}

char *pt_ipam_record_format(const struct pt_tenant_net *net)
{
	char addr[PT_IPV4_STR], mac[18];
	json_t *j;
	char *text;

	pt_ipv4_format(net->addr, addr);
	pt_mac_format(net->mac, mac);
	j = json_pack("{s:s, s:s, s:s}", "address", addr, "mac", mac, "veth", net->veth);
	text = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	json_decref(j);
	return text;
}

int pt_ipam_record_parse(const char *text, size_t len, const char *slug,
			 uint32_t subnet, uint8_t prefix,
			 struct pt_tenant_net *ret, pt_err *err)
{
	const char *addr = NULL, *mac = NULL, *veth = NULL;
	struct pt_tenant_net want;
	char want_mac[18];
	json_error_t jerr;
	json_t *j;
	uint32_t a;
	int r = 0;

	j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j)
		return pt_err_set(err, -EBADMSG, "net.json: %s", jerr.text);
	if (json_unpack(j, "{s:s, s:s, s:s !}", "address", &addr, "mac", &mac,
			"veth", &veth) < 0)
		r = pt_err_set(err, -EBADMSG, "net.json: want address, mac and veth strings only");
	else if (!pt_ipv4_parse(addr, &a) || !pt_ipam_valid(a, subnet, prefix))
		r = pt_err_set(err, -EBADMSG, "net.json: address '%.32s' is not a tenant address of the configured subnet", addr);
	if (r == 0) {
		pt_ipam_fill(&want, slug, a, subnet);
		pt_mac_format(want.mac, want_mac);
		if (strcmp(mac, want_mac) != 0 || strcmp(veth, want.veth) != 0)
			r = pt_err_set(err, -EBADMSG, "net.json: mac %.20s / veth %.20s do not match address %.32s (want %s / %s)",
				       mac, veth, addr, want_mac, want.veth);
		else
			*ret = want;
	}
	json_decref(j);
	return r;
}
