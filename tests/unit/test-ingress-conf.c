/* ptenant-ingress's configuration file: domains with their certificates,
 * global keys handed on, and every mistake named with its line. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ingress-conf.h"

static struct pt_ingress_conf conf;
static char globals[512];

static int record_global(void *ctx, const char *key, const char *value, pt_err *err)
{
	(void)ctx;
	if (!strcmp(key, "bad"))
		return pt_err_field(err, -EINVAL, "", "unknown key %s", key);
	snprintf(globals + strlen(globals), sizeof(globals) - strlen(globals), "%s=%s;", key, value);
	return 0;
}

static int parse(const char *text, pt_err *err)
{
	memset(&conf, 0, sizeof(conf));
	globals[0] = '\0';
	memset(err, 0, sizeof(*err));
	return pt_ingress_conf_parse(&conf, text, strlen(text), "ingress.conf", record_global, NULL,
				     err);
}

static void test_good(void **state)
{
	pt_err err;

	(void)state;
	assert_int_equal(parse("# the front door\n"
			       "listen = 0.0.0.0:80   # plain\n"
			       "https_listen=0.0.0.0:443\n"
			       "\n"
			       "[Bots.Example.COM]\n"
			       "cert = /etc/ptenant/tls/fullchain.pem\n"
			       "key = /etc/ptenant/tls/privkey.pem\n"
			       "http = redirect\n"
			       "hsts = 31536000\r\n"
			       "[demo.test]\n", &err), 0);
	assert_string_equal(globals, "listen=0.0.0.0:80;https_listen=0.0.0.0:443;");
	assert_int_equal(conf.n_domains, 2);
	assert_string_equal(conf.domains[0].name, "bots.example.com");
	assert_string_equal(conf.domains[0].cert, "/etc/ptenant/tls/fullchain.pem");
	assert_string_equal(conf.domains[0].key, "/etc/ptenant/tls/privkey.pem");
	assert_true(conf.domains[0].redirect);
	assert_int_equal(conf.domains[0].hsts, 31536000);
	assert_int_equal(conf.domains[0].line, 5);
	assert_string_equal(conf.domains[1].name, "demo.test");
	assert_string_equal(conf.domains[1].cert, "");
	assert_false(conf.domains[1].redirect);
	/* The command line's --domain adds; a name twice is refused. */
	assert_int_equal(pt_ingress_conf_add(&conf, "other.test", &err), 0);
	assert_int_equal(pt_ingress_conf_add(&conf, "DEMO.test", &err), -EEXIST);
	assert_int_equal(conf.n_domains, 3);
}

/* Each mistake: refused, with the line and what is wrong in the message. */
static void check_bad(const char *text, const char *where, const char *what)
{
	pt_err err;

	assert_true(parse(text, &err) < 0);
	if (!strstr(err.msg, where) || !strstr(err.msg, what))
		fail_msg("\"%s\": message \"%s\" lacks \"%s\" or \"%s\"", text, err.msg, where, what);
}

static void test_bad(void **state)
{
	(void)state;
	check_bad("bad = 1\n", "ingress.conf:1", "unknown key bad");
	check_bad("listen\n", "ingress.conf:1", "key = value");
	check_bad("listen =\n", "ingress.conf:1", "key = value");
	check_bad("[demo.test\n", "ingress.conf:1", "[DOMAIN]");
	check_bad("[]\n", "ingress.conf:1", "not a domain name");
	check_bad("[demo..test]\n", "ingress.conf:1", "not a domain name");
	check_bad("[demo.test.]\n", "ingress.conf:1", "not a domain name");
	check_bad("[-demo.test]\n", "ingress.conf:1", "not a domain name");
	check_bad("[demo_x.test]\n", "ingress.conf:1", "not a domain name");
	check_bad("[demo.test]\n[DEMO.TEST]\n", "ingress.conf:2", "given twice");
	check_bad("[demo.test]\nport = 1\n", "ingress.conf:2", "unknown key port in [demo.test]");
	check_bad("[demo.test]\ncert = relative.pem\nkey = /k\n", "ingress.conf:2", "absolute path");
	check_bad("[demo.test]\ncert = /c\ncert = /c\nkey = /k\n", "ingress.conf:3", "given twice");
	check_bad("[demo.test]\ncert = /c\n", "[demo.test] (line 1)", "cert and key go together");
	check_bad("[demo.test]\nkey = /k\n[b.test]\n", "[demo.test] (line 1)", "go together");
	check_bad("[demo.test]\nhttp = redirect\n", "[demo.test]", "needs a certificate");
	check_bad("[demo.test]\nhsts = 60\n", "[demo.test]", "needs a certificate");
	check_bad("[demo.test]\ncert = /c\nkey = /k\nhttp = https\n", "ingress.conf:4", "serve or redirect");
	check_bad("[demo.test]\ncert = /c\nkey = /k\nhsts = -1\n", "ingress.conf:4", "seconds");
	check_bad("[demo.test]\ncert = /c\nkey = /k\nhsts = 1y\n", "ingress.conf:4", "seconds");
	check_bad("[demo.test]\ncert = /c\nkey = /k\nhsts = 99999999999\n", "ingress.conf:4", "seconds");
}

static void test_limits(void **state)
{
	char *text = malloc(64 * 1024);
	size_t len = 0;
	pt_err err;

	(void)state;
	for (int i = 0; i <= PT_INGRESS_DOMAINS_MAX; i++)
		len += (size_t)sprintf(text + len, "[d%d.test]\n", i);
	assert_true(parse(text, &err) < 0);
	assert_non_null(strstr(err.msg, "more than 32 domains"));
	/* A line past the cap, and a NUL byte. */
	memset(text, 'a', 3000);
	memcpy(text, "listen = ", 9);
	text[3000] = '\0';
	assert_true(parse(text, &err) < 0);
	assert_non_null(strstr(err.msg, "line longer than"));
	assert_true(pt_ingress_conf_parse(&conf, "a\0b", 3, "x", record_global, NULL, &err) < 0);
	assert_non_null(strstr(err.msg, "NUL"));
	/* No global handler: every global key is unknown. */
	assert_true(pt_ingress_conf_parse(&conf, "listen = x\n", 11, "x", NULL, NULL, &err) < 0);
	free(text);
}

/* An SNI name's domain: the domain itself or one label under it. */
static void test_domain_of(void **state)
{
	pt_err err;

	(void)state;
	assert_int_equal(parse("[demo.test]\n[bots.example.com]\n", &err), 0);
	assert_int_equal(pt_ingress_domain_of(&conf, "acme.demo.test"), 0);
	assert_int_equal(pt_ingress_domain_of(&conf, "ACME.Bots.Example.Com"), 1);
	assert_int_equal(pt_ingress_domain_of(&conf, "demo.test"), 0);
	assert_int_equal(pt_ingress_domain_of(&conf, "a.b.demo.test"), -1);
	assert_int_equal(pt_ingress_domain_of(&conf, "xdemo.test"), -1);
	assert_int_equal(pt_ingress_domain_of(&conf, "example.com"), -1);
	assert_int_equal(pt_ingress_domain_of(&conf, ""), -1);
	assert_int_equal(pt_ingress_domain_of(&conf, ".demo.test"), -1);
	/* Nested: the longer domain's own name is that domain. */
	assert_int_equal(parse("[example.com]\n[bots.example.com]\n", &err), 0);
	assert_int_equal(pt_ingress_domain_of(&conf, "bots.example.com"), 1);
	assert_int_equal(pt_ingress_domain_of(&conf, "acme.bots.example.com"), 1);
	assert_int_equal(pt_ingress_domain_of(&conf, "acme.example.com"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_domain_of),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
