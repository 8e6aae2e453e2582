// SPDX-License-Identifier: GPL-2.0-only
/*
 * The BPF build chain: the skeleton compiles, opens, and has what the
 * daemon will attach. Loading needs fexit, which only the guest kernels
 * allow; that is tested there.
 */
#include <string.h>

#include "test_util.h"

#include "imacapture.h"
#include "imacapture.skel.h"

static void test_skeleton_opens(void **state)
{
	struct imacapture_bpf *skel;

	(void)state;
	skel = imacapture_bpf__open();
	assert_non_null(skel);
	assert_non_null(skel->progs.ima_add_exit);
	assert_int_equal(bpf_program__type(skel->progs.ima_add_exit), BPF_PROG_TYPE_TRACING);
	assert_int_equal(bpf_program__expected_attach_type(skel->progs.ima_add_exit),
			 BPF_TRACE_FEXIT);
	assert_string_equal(bpf_program__section_name(skel->progs.ima_add_exit),
			    "fexit/ima_add_template_entry");
	assert_int_equal(bpf_map__value_size(skel->maps.imacapture_stats),
			 sizeof(struct imacapture_stats));
	imacapture_bpf__destroy(skel);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_skeleton_opens),
	};

	return cmocka_run_group_tests_name("bpf_skel", tests, NULL, NULL);
}
