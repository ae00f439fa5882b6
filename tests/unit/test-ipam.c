#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ipam.h"
#include "netconf.h"

#define NET 0x0ad50000u /* 10.213.0.0 */

static void test_capacity(void **state)
{
	(void)state;
	assert_int_equal(pt_ipam_capacity(16), 65533);
	assert_int_equal(pt_ipam_capacity(30), 1);
	assert_int_equal(pt_ipam_capacity(24), 253);
	assert_int_equal(pt_ipam_capacity(31), 0);
	assert_int_equal(pt_ipam_gateway(NET), NET + 1);
}

static void test_valid(void **state)
{
	(void)state;
	assert_false(pt_ipam_valid(NET, NET, 24));         /* network */
	assert_false(pt_ipam_valid(NET + 1, NET, 24));     /* gateway */
	assert_true(pt_ipam_valid(NET + 2, NET, 24));
	assert_true(pt_ipam_valid(NET + 254, NET, 24));
	assert_false(pt_ipam_valid(NET + 255, NET, 24));   /* broadcast */
	assert_false(pt_ipam_valid(NET + 256, NET, 24));
	assert_false(pt_ipam_valid(NET - 1, NET, 24));
}

static void test_pick_lowest_free(void **state)
{
	uint32_t used[] = { NET + 4, NET + 2, NET + 3, NET + 6, 0x01020304 };
	uint32_t a = 0;
	pt_err err = { 0 };

	(void)state;
	assert_int_equal(pt_ipam_pick(NULL, 0, NET, 16, &a, &err), 0);
	assert_int_equal(a, NET + 2);
	assert_int_equal(pt_ipam_pick(used, 5, NET, 16, &a, &err), 0);
	assert_int_equal(a, NET + 5); /* the first gap; the stray address is ignored */
}

static void test_pick_exhausted(void **state)
{
	uint32_t used[] = { NET + 2 }, a = 7;
	pt_err err = { 0 };

	(void)state;
	assert_int_equal(pt_ipam_pick(used, 1, NET, 30, &a, &err), -ENOSPC);
	assert_int_equal(a, 7); /* untouched on failure */
	assert_non_null(strstr(err.msg, "subnet 10.213.0.0/30 is full"));
	assert_non_null(strstr(err.msg, "all 1 tenant"));
}

static void test_pick_fills_a_24(void **state)
{
	uint32_t used[253], a;
	pt_err err = { 0 };

	(void)state;
	for (size_t i = 0; i < 253; i++) {
		assert_int_equal(pt_ipam_pick(used, i, NET, 24, &a, &err), 0);
		assert_int_equal(a, NET + 2 + i);
		used[i] = a;
	}
	assert_int_equal(pt_ipam_pick(used, 253, NET, 24, &a, &err), -ENOSPC);
	used[100] = used[252]; /* release NET+102 */
	assert_int_equal(pt_ipam_pick(used, 252, NET, 24, &a, &err), 0);
	assert_int_equal(a, NET + 102);
}

static void test_fill(void **state)
{
	struct pt_tenant_net a, b, a2;
	char mac[18];
	uint8_t hmac[6];

	(void)state;
	pt_ipam_fill(&a, "acme", NET + 2, NET);
	pt_ipam_fill(&a2, "acme", NET + 2, NET);
	pt_ipam_fill(&b, "globex", NET + 0x10203, NET);
	assert_string_equal(a.veth, "ptv000002");
	assert_string_equal(b.veth, "ptv010203");
	assert_memory_equal(a.mac, a2.mac, 6);   /* stable */
	assert_memory_not_equal(a.mac, b.mac, 6);
	assert_int_equal(a.mac[0], 0x02);         /* local, unicast */
	pt_ipam_host_mac(NET + 2, hmac);
	pt_mac_format(hmac, mac);
	assert_string_equal(mac, "06:70:0a:d5:00:02");
	/* The longest slug still fits; the name never depends on it. */
	assert_true(strlen(a.veth) < PT_IFNAME_MAX);
}

static void test_record_roundtrip(void **state)
{
	struct pt_tenant_net a, back;
	pt_err err = { 0 };
	char *text;

	(void)state;
	pt_ipam_fill(&a, "acme", NET + 9, NET);
	text = pt_ipam_record_format(&a);
	assert_non_null(text);
	assert_non_null(strstr(text, "\"address\": \"10.213.0.9\""));
	assert_int_equal(pt_ipam_record_parse(text, strlen(text), "acme", NET, 16, &back, &err), 0);
	assert_memory_equal(&a, &back, sizeof(a));
	/* The same file for another slug: the MAC no longer matches. */
	assert_int_equal(pt_ipam_record_parse(text, strlen(text), "evil", NET, 16, &back, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "do not match"));
	/* Another subnet: the address is not ours. */
	assert_int_equal(pt_ipam_record_parse(text, strlen(text), "acme", 0x0a000000u, 16, &back, &err), -EBADMSG);
	free(text);
}

static void test_record_rejects(void **state)
{
	static const char *const bad[] = {
		"",
		"[]",
		"{\"address\": \"10.213.0.9\"}",
		"{\"address\": \"10.213.0.1\", \"mac\": \"x\", \"veth\": \"ptv000001\"}",
		"{\"address\": \"10.213.0.9\", \"mac\": \"x\", \"veth\": \"y\", \"more\": 1}",
		"{\"address\": 5, \"mac\": \"x\", \"veth\": \"y\"}",
		"{\"address\": \"10.213.0.9\", \"address\": \"10.213.0.9\", \"mac\": \"x\", \"veth\": \"y\"}",
	};
	struct pt_tenant_net back;
	pt_err err = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pt_ipam_record_parse(bad[i], strlen(bad[i]), "acme", NET, 16,
						      &back, &err), -EBADMSG);
}

static void test_ipv4_parse(void **state)
{
	uint32_t a;
	char buf[PT_IPV4_STR];

	(void)state;
	assert_true(pt_ipv4_parse("10.213.0.1", &a));
	assert_int_equal(a, NET + 1);
	pt_ipv4_format(a, buf);
	assert_string_equal(buf, "10.213.0.1");
	assert_true(pt_ipv4_parse("0.0.0.0", &a));
	assert_true(pt_ipv4_parse("255.255.255.255", &a));
	assert_int_equal(a, 0xffffffffu);
	assert_false(pt_ipv4_parse("256.0.0.1", &a));
	assert_false(pt_ipv4_parse("10.0.0", &a));
	assert_false(pt_ipv4_parse("10.0.0.1.2", &a));
	assert_false(pt_ipv4_parse("010.0.0.1", &a));
	assert_false(pt_ipv4_parse("10..0.1", &a));
	assert_false(pt_ipv4_parse("10.0.0.1 ", &a));
	assert_false(pt_ipv4_parse("", &a));
	assert_false(pt_ipv4_parse("1000.0.0.1", &a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_pick_lowest_free),
		cmocka_unit_test(test_pick_exhausted),
		cmocka_unit_test(test_pick_fills_a_24),
		cmocka_unit_test(test_fill),
		cmocka_unit_test(test_record_roundtrip),
		cmocka_unit_test(test_record_rejects),
		cmocka_unit_test(test_ipv4_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
