#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "firewall.h"

static const uint8_t mac_a[6] = { 2, 1, 2, 3, 4, 5 };

static char *render(bool masq, size_t n)
{
	struct pt_netconf nc;
	struct pt_fw_tenant t[1] = { { "ptv000002", 0x0ad50002u, mac_a } };
	char why[PT_NET_WHY_MAX], *text = NULL;

	pt_netconf_defaults(&nc);
	nc.masquerade = masq;
	assert_true(pt_netconf_apply(&nc, "host_allow", "tcp:53 udp:5353", why));
	assert_int_equal(pt_fw_render(&nc, t, n, &text), 0);
	return text;
}

static void test_render_rules(void **state)
{
	char *s = render(false, 1);

	(void)state;
	/* Atomic replace of our own tables, nothing else. */
	assert_non_null(strstr(s, "add table inet ptenant\ndelete table inet ptenant\n"));
	assert_non_null(strstr(s, "add table arp ptenant\ndelete table arp ptenant\n"));
	assert_non_null(strstr(s, "\"ptv000002\" . 10.213.0.2"));
	assert_non_null(strstr(s, "\"ptv000002\" . 02:01:02:03:04:05"));
	assert_non_null(strstr(s, "tcp . 53, udp . 5353"));
	assert_non_null(strstr(s, "iifname . ether saddr != @tenant_mac counter drop"));
	assert_non_null(strstr(s, "iifname . ip saddr != @tenant_ip counter drop"));
	assert_non_null(strstr(s, "iifname \"ptv*\" oifname \"ptv*\" counter drop"));
	assert_non_null(strstr(s, "comment \"masquerade off\""));
	assert_null(strstr(s, "masquerade\n"));
	assert_null(strstr(s, "postrouting"));
	free(s);
}

static void test_render_masquerade(void **state)
{
	char *s = render(true, 1);

	(void)state;
	assert_non_null(strstr(s, "ip saddr 10.213.0.0/16 oifname != \"ptv*\" masquerade"));
	assert_non_null(strstr(s, "iifname \"ptv*\" accept comment \"outbound, masqueraded\""));
	free(s);
}

static void test_render_empty(void **state)
{
	char *s = render(false, 0);

	(void)state;
	/* An empty set has no elements clause (nft rejects "{ }"). */
	assert_null(strstr(s, "\"ptv000002\""));
	assert_non_null(strstr(s, "set tenant_ip {\n    type ifname . ipv4_addr\n  }"));
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_rules),
		cmocka_unit_test(test_render_masquerade),
		cmocka_unit_test(test_render_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
