#include "netconf.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_SUBNET 0x0ad50000u /* 10.213.0.0 */
#define DEFAULT_PREFIX 16
#define LIST_SEP " \t,"

void pt_netconf_defaults(struct pt_netconf *n)
{
	memset(n, 0, sizeof(*n));
	n->subnet = DEFAULT_SUBNET;
	n->prefix = DEFAULT_PREFIX;
}

bool pt_ipv4_parse(const char *s, uint32_t *ret)
{
	uint32_t addr = 0;

	for (int i = 0; i < 4; i++) {
		unsigned v = 0;
		int digits = 0;

		for (; *s >= '0' && *s <= '9'; s++, digits++) {
			v = v * 10 + (unsigned)(*s - '0');
			if (v > 255)
				return false;
		}
		/* No leading zeros: "010" is octal to inet_aton, decimal to
		 * others; refuse the ambiguity. */
		if (digits == 0 || digits > 3 || (digits > 1 && s[-digits] == '0'))
			return false;
		addr = addr << 8 | v;
		if (i < 3 && *s++ != '.')
			return false;
	}
	if (*s != '\0')
		return false;
	*ret = addr;
	return true;
}

void pt_ipv4_format(uint32_t a, char buf[PT_IPV4_STR])
{
	snprintf(buf, PT_IPV4_STR, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255,
		 (a >> 8) & 255, a & 255);
}

static bool bool_ok(const char *v, bool *ret, char *why)
{
	if (strcmp(v, "on") == 0) {
		*ret = true;
		return true;
	}
	if (strcmp(v, "off") == 0) {
		*ret = false;
		return true;
	}
	snprintf(why, PT_NET_WHY_MAX, "'%.32s' must be on or off", v);
	return false;
}

/* Loopback, "this network", link-local, multicast and reserved ranges
 * would break routing or collide with what the kernel gives them. */
static bool unicast_range(uint32_t a)
{
	uint8_t top = (uint8_t)(a >> 24);

	return top != 0 && top != 127 && top < 224 && (a >> 16) != 0xa9fe;
}

static bool subnet_ok(struct pt_netconf *n, const char *v, char *why)
{
	char addr[PT_IPV4_STR + 1], gw[PT_IPV4_STR];
	const char *slash = strchr(v, '/');
	uint32_t a, mask;
	unsigned prefix = 0;
	const char *p;

	if (!slash || (size_t)(slash - v) >= sizeof(addr)) {
		snprintf(why, PT_NET_WHY_MAX, "'%.32s' is not ADDRESS/PREFIX", v);
		return false;
	}
	snprintf(addr, sizeof(addr), "%.*s", (int)(slash - v), v);
	for (p = slash + 1; *p >= '0' && *p <= '9' && prefix <= 32; p++)
		prefix = prefix * 10 + (unsigned)(*p - '0');
	if (!pt_ipv4_parse(addr, &a) || p == slash + 1 || *p != '\0') {
		snprintf(why, PT_NET_WHY_MAX, "'%.32s' is not ADDRESS/PREFIX", v);
		return false;
	}
	/* /30 is the smallest with a gateway and one tenant; /8 is 16M
	 * tenants, far past anything one host runs. */
	if (prefix < 8 || prefix > 30) {
		snprintf(why, PT_NET_WHY_MAX, "prefix /%u out of range /8../30", prefix);
		return false;
	}
	mask = ~0u << (32 - prefix);
	if (a & ~mask) {
		pt_ipv4_format(a & mask, gw);
		snprintf(why, PT_NET_WHY_MAX, "host bits set (did you mean %s/%u?)", gw, prefix);
		return false;
	}
	if (!unicast_range(a)) {
		snprintf(why, PT_NET_WHY_MAX, "%s is not a unicast range", addr);
		return false;
	}
	n->subnet = a;
	n->prefix = (uint8_t)prefix;
	return true;
}

/* Splits a space/comma separated list into words of at most size-1
 * bytes; calls f on each. */
static bool each_word(const char *v, char *why, size_t max, size_t *count,
		      bool (*f)(void *ctx, const char *word, char *why), void *ctx)
{
	char buf[512], *save = NULL, *w;

	if (strlen(v) >= sizeof(buf)) {
		snprintf(why, PT_NET_WHY_MAX, "list too long");
		return false;
	}
	snprintf(buf, sizeof(buf), "%s", v);
	*count = 0;
	for (w = strtok_r(buf, LIST_SEP, &save); w; w = strtok_r(NULL, LIST_SEP, &save)) {
		if (*count >= max) {
			snprintf(why, PT_NET_WHY_MAX, "more than %zu entries", max);
			return false;
		}
		if (!f(ctx, w, why))
			return false;
		(*count)++;
	}
	return true;
}

static bool resolver_word(void *ctx, const char *w, char *why)
{
	struct pt_netconf *n = ctx;
	uint32_t a;

	if (!pt_ipv4_parse(w, &a) || a == 0) {
		snprintf(why, PT_NET_WHY_MAX, "'%.32s' is not an IPv4 address", w);
		return false;
	}
	n->resolvers[n->n_resolvers++] = a;
	return true;
}

static bool allow_word(void *ctx, const char *w, char *why)
{
	struct pt_netconf *n = ctx;
	const char *colon = strchr(w, ':'), *p;
	unsigned port = 0;
	uint8_t proto;

	if (colon && colon - w == 3 && strncmp(w, "tcp", 3) == 0)
		proto = IPPROTO_TCP;
	else if (colon && colon - w == 3 && strncmp(w, "udp", 3) == 0)
		proto = IPPROTO_UDP;
	else {
		snprintf(why, PT_NET_WHY_MAX, "'%.32s' is not tcp:PORT or udp:PORT", w);
		return false;
	}
	for (p = colon + 1; *p >= '0' && *p <= '9' && port <= 65535; p++)
		port = port * 10 + (unsigned)(*p - '0');
	if (p == colon + 1 || *p != '\0' || port == 0 || port > 65535) {
		snprintf(why, PT_NET_WHY_MAX, "'%.32s': port must be 1..65535", w);
		return false;
	}
	n->allow[n->n_allow].proto = proto;
	n->allow[n->n_allow++].port = (uint16_t)port;
	return true;
}

static const char *const net_keys[] = {
	"network", "subnet", "resolvers", "masquerade", "host_allow",
	"firewall_remove_on_exit",
};

bool pt_netconf_is_key(const char *key)
{
	for (size_t i = 0; i < sizeof(net_keys) / sizeof(net_keys[0]); i++)
		if (strcmp(key, net_keys[i]) == 0)
			return true;
	return false;
}

bool pt_netconf_apply(struct pt_netconf *n, const char *key, const char *v,
		      char *why)
{
	struct pt_netconf tmp = *n;
	size_t count;
	bool ok;

	if (strcmp(key, "network") == 0)
		ok = bool_ok(v, &tmp.enabled, why);
	else if (strcmp(key, "masquerade") == 0)
		ok = bool_ok(v, &tmp.masquerade, why);
	else if (strcmp(key, "firewall_remove_on_exit") == 0)
		ok = bool_ok(v, &tmp.firewall_remove_on_exit, why);
	else if (strcmp(key, "subnet") == 0)
		ok = subnet_ok(&tmp, v, why);
	else if (strcmp(key, "resolvers") == 0) {
		tmp.n_resolvers = 0;
		ok = each_word(v, why, PT_NET_RESOLVERS_MAX, &count, resolver_word, &tmp);
	} else if (strcmp(key, "host_allow") == 0) {
		tmp.n_allow = 0;
		ok = each_word(v, why, PT_NET_ALLOW_MAX, &count, allow_word, &tmp);
	} else {
		snprintf(why, PT_NET_WHY_MAX, "unknown key");
		ok = false;
	}
	if (ok)
		*n = tmp;
	return ok;
}
