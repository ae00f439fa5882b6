#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "seccomp-filter.h"

static void test_default_compiles(void **state)
{
	struct pt_seccomp_bpf bpf = PT_SECCOMP_BPF_INIT;

	(void)state;
	assert_int_equal(pt_seccomp_compile(NULL, &bpf, NULL), 0);
	assert_true(bpf.prog[0].len > 100);   /* the allow-list */
	assert_true(bpf.prog[1].len > 4);     /* the ioctl deny-list */
	assert_int_equal(pt_seccomp_bpf_len(&bpf), bpf.prog[0].len + bpf.prog[1].len);
	pt_seccomp_bpf_free(&bpf);
	assert_null(bpf.prog[0].filter);
}

static void test_profile_changes_filter(void **state)
{
	char *deny[] = { "mkdir", "mkdirat", NULL }, *allow[] = { "clock_settime", NULL };
	struct pt_seccomp_profile p = { .set = true, .allow = allow, .deny = deny };
	struct pt_seccomp_bpf def = PT_SECCOMP_BPF_INIT, bpf = PT_SECCOMP_BPF_INIT;

	(void)state;
	assert_int_equal(pt_seccomp_compile(NULL, &def, NULL), 0);
	assert_int_equal(pt_seccomp_compile(&p, &bpf, NULL), 0);
	assert_true(bpf.prog[0].len != def.prog[0].len ||
		    memcmp(bpf.prog[0].filter, def.prog[0].filter,
			   def.prog[0].len * sizeof(struct sock_filter)) != 0);
	pt_seccomp_bpf_free(&def);
	pt_seccomp_bpf_free(&bpf);
}

static void test_never_list(void **state)
{
	(void)state;
	assert_true(pt_seccomp_never_allowed("mount"));
	assert_true(pt_seccomp_never_allowed("bpf"));
	assert_true(pt_seccomp_never_allowed("io_uring_setup"));
	assert_false(pt_seccomp_never_allowed("read"));
}

static void test_load_refuses_empty(void **state)
{
	struct pt_seccomp_bpf none = PT_SECCOMP_BPF_INIT;
	pt_err err = { 0 };

	(void)state;
	/* Never "load nothing and carry on unfiltered". */
	assert_int_equal(pt_seccomp_load(&none, &err), -EINVAL);
	assert_int_equal(pt_seccomp_load(NULL, &err), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_compiles),
		cmocka_unit_test(test_profile_changes_filter),
		cmocka_unit_test(test_never_list),
		cmocka_unit_test(test_load_refuses_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
