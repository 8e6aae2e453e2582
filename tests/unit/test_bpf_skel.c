// SPDX-License-Identifier: GPL-2.0-only
/*
 * The BPF build chain: the skeleton compiles, opens, and has what the
 * daemon will attach. Loading needs fexit, which only the guest kernels
 * allow; that is tested there.
 */
#include <stddef.h>
#include <string.h>

#include <bpf/btf.h>

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
	assert_int_equal(bpf_map__type(skel->maps.imacapture_stats), BPF_MAP_TYPE_PERCPU_ARRAY);
	assert_int_equal(bpf_map__value_size(skel->maps.imacapture_state),
			 sizeof(struct imacapture_state));
	imacapture_bpf__destroy(skel);
}

/* The daemon sizes the ring before load (--ringbuf-size). */
static void test_ringbuf_resizable(void **state)
{
	struct imacapture_bpf *skel;

	(void)state;
	skel = imacapture_bpf__open();
	assert_non_null(skel);
	assert_int_equal(bpf_map__type(skel->maps.imacapture_rb), BPF_MAP_TYPE_RINGBUF);
	assert_int_equal(bpf_map__max_entries(skel->maps.imacapture_rb),
			 IMACAPTURE_RINGBUF_DEFAULT);
	assert_int_equal(bpf_map__set_max_entries(skel->maps.imacapture_rb, 4096), 0);
	assert_int_equal(bpf_map__max_entries(skel->maps.imacapture_rb), 4096);
	/* the wake-up policy's knobs, set before load; armed: wake for the first */
	assert_int_equal(skel->data->wake_every, 1);
	assert_int_equal(skel->rodata->wake_bytes, IMACAPTURE_RINGBUF_DEFAULT / 2);
	assert_int_equal(skel->data->armed, 1);
	imacapture_bpf__destroy(skel);
}

/*
 * The record as the BPF object's BTF describes it must be the one user space
 * compiles: the BPF side has its own _Static_asserts, this ties the two.
 */
static void test_record_btf_matches(void **state)
{
	struct imacapture_bpf *skel;
	const struct btf_member *m;
	const struct btf_type *t;
	const struct btf *btf;
	int id;

	(void)state;
	skel = imacapture_bpf__open();
	assert_non_null(skel);
	btf = bpf_object__btf(skel->obj);
	assert_non_null(btf);
	id = btf__find_by_name_kind(btf, "scratch", BTF_KIND_STRUCT);
	assert_true(id > 0);
	t = btf__type_by_id(btf, (__u32)id);
	m = btf_members(t);
	t = btf__type_by_id(btf, m[0].type);
	assert_int_equal(t->size, sizeof(struct imacapture_rec));
	m = btf_members(t);
	for (int i = 0; i < btf_vlen(t); i++) {
		const char *name = btf__name_by_offset(btf, m[i].name_off);
		size_t off = btf_member_bit_offset(t, (__u32)i) / 8;

		if (!strcmp(name, "data"))
			assert_int_equal(off, offsetof(struct imacapture_rec, data));
		else if (!strcmp(name, "digest"))
			assert_int_equal(off, offsetof(struct imacapture_rec, digest));
		else if (!strcmp(name, "template_name"))
			assert_int_equal(off, offsetof(struct imacapture_rec, template_name));
		else if (!strcmp(name, "seq"))
			assert_int_equal(off, offsetof(struct imacapture_rec, seq));
	}
	imacapture_bpf__destroy(skel);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_skeleton_opens),
		cmocka_unit_test(test_ringbuf_resizable),
		cmocka_unit_test(test_record_btf_matches),
	};

	return cmocka_run_group_tests_name("bpf_skel", tests, NULL, NULL);
}
