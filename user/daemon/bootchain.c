// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bootchain.h"
#include "kernel_ima.h"
#include "list_reader.h"
#include "log.h"
#include "template.h"

const struct hash_alg *boot_chain_list_bank(const struct chain *c)
{
	const struct chain_meta *m = chain_meta(c);

	for (unsigned i = 0; i < m->nbanks; i++)
		if (m->banks[i]->tpm_id == m->bank->tpm_id)
			return m->banks[i];
	return m->bank;
}

static bool is_boot_aggregate(const struct ima_record *rec)
{
	struct field_view f[TEMPLATE_FIELDS_MAX];
	int n = template_split(rec, f, TEMPLATE_FIELDS_MAX, NULL);

	return n >= 2 && f[1].len >= 14 && !memcmp(f[1].data, "boot_aggregate", 14);
}

/* hashed or padded: which computation gives the list's template digest */
static int bank_mode(const struct ima_record *rec, const struct hash_alg *bank,
		     const struct hash_alg **out)
{
	const struct hash_alg *cand[2] = { bank, hash_alg_padded(bank) };
	uint8_t d[IMA_MAX_DIGEST];
	struct hash_ctx *ctx;
	int ret;

	for (int i = 0; i < 2; i++) {
		if (hash_ctx_new_template(cand[i], &ctx))
			continue;
		ret = ima_record_template_digest(rec, ctx, d);
		hash_ctx_free(ctx);
		if (!ret && !memcmp(d, rec->digest, rec->digest_len)) {
			*out = cand[i];
			return 0;
		}
	}
	return -EBADMSG;
}

/* What the head of one bank's list tells. */
struct probe {
	const struct hash_alg *mode;	/* the bank, or its padded twin */
	bool little_endian;
	bool starts_at_boot;		/* first record is boot_aggregate */
};

/* The first record that is not a violation in one list file decides. */
static int probe_file(const char *path, const struct hash_alg *bank,
		      struct probe *p, bool *first_seen, struct errmsg *em)
{
	struct list_reader_opts lo = { .format = LIST_FORMAT_BINARY, .bank = bank,
				       .path = path };
	struct list_reader *r = NULL;
	struct ima_record rec;
	int fd, ret;

	ret = kernel_open_list(path, O_RDONLY, 5000, &fd, em);
	if (ret)
		return ret;
	ret = list_reader_open(&r, fd, &lo, em);
	while (!ret && (ret = list_reader_next(r, &rec, em)) > 0) {
		if (!*first_seen) {
			*first_seen = true;
			p->little_endian = rec.little_endian;
			p->starts_at_boot = is_boot_aggregate(&rec);
		}
		if (ima_record_is_violation(&rec))
			continue;
		ret = bank_mode(&rec, bank, &p->mode) ?
		      errmsg_set(em, -EBADMSG, "%s: record %llu matches neither a %s nor a padded SHA-1 template digest",
				 path, (unsigned long long)rec.index, bank->name) : 0;
		break;
	}
	list_reader_free(r);
	close(fd);
	return ret < 0 ? ret : 0;
}

/*
 * A bank's mode, from its list, or from its staged batch when "A" moved
 * the whole list there (the staged records come first in list order).
 */
static int probe_bank(const struct hash_alg *bank, struct probe *p,
		      struct errmsg *em)
{
	char path[PATH_MAX], staged[PATH_MAX + 8];
	bool first_seen = false;
	int ret;

	memset(p, 0, sizeof(*p));
	ret = ima_kernel_list_path(bank, path, sizeof(path));
	if (ret)
		return errmsg_set(em, ret, "no list for bank %s", bank->name);
	snprintf(staged, sizeof(staged), "%s_staged", path);
	if (!access(staged, F_OK))
		ret = probe_file(staged, bank, p, &first_seen, em);
	if (!ret && !p->mode)
		ret = probe_file(path, bank, p, &first_seen, em);
	if (!ret && !p->mode) {
		/* nothing measured yet to tell: the kernel has the hash, most likely */
		dlog(LOG_P_WARNING, "%s: no record to tell the bank's mode from; taking it as hashed",
		     path);
		p->mode = bank;
	}
	return ret;
}

static int create_chain(struct store *s, const struct kernel_info *ki,
			const char *boot_id, struct chain **out, struct errmsg *em)
{
	const struct hash_alg *banks[PCR_MAX_BANKS];
	struct chain_meta m;
	struct probe p;
	unsigned n;
	int ret;

	memset(&m, 0, sizeof(m));
	snprintf(m.chain, sizeof(m.chain), "%s", boot_id);
	m.bank = hash_alg_by_tpm_id(ki->bank->tpm_id);
	n = kernel_banks(banks, PCR_MAX_BANKS);
	for (unsigned i = 0; i < n; i++) {
		ret = probe_bank(banks[i], &p, em);
		if (ret)
			return ret;
		m.banks[m.nbanks++] = p.mode;
		if (banks[i]->tpm_id != ki->bank->tpm_id)
			continue;
		m.little_endian = p.little_endian;
		/* the chain's record 0 must be the boot's first (store-format §9) */
		if (!p.starts_at_boot)
			dlog(LOG_P_WARNING, "%s does not start with boot_aggregate: records were deleted before imastored ran; they are lost to the store and verify will say so",
			     ki->list);
	}
	m.nboots = 1;
	snprintf(m.boots[0].id, sizeof(m.boots[0].id), "%s", boot_id);
	ret = store_chain_create(s, &m, out, em);
	if (!ret)
		dlog(LOG_P_NOTICE, "new chain %s (bank %s, %u banks)", boot_id, m.bank->name, m.nbanks);
	return ret;
}

/*
 * Is the kernel's list the continuation of chain c after a kexec (PCRs not
 * reset: the new kernel's list begins with the records the old one still
 * held, kernel-interface.md §7)? Then its head is, byte for byte, the
 * chain's records from some j on; *first = j. Since imastored always keeps
 * at least one record in the kernel, a kexec'ed list always overlaps.
 */
static int kexec_overlap(struct chain *c, const struct kernel_info *ki,
			 uint64_t *first, bool *found, struct errmsg *em)
{
	const struct chain_meta *m = chain_meta(c);
	struct list_reader_opts lo = { .format = LIST_FORMAT_BINARY,
				       .bank = boot_chain_list_bank(c) };
	struct list_reader *r = NULL;
	struct chain_iter *it = NULL, *scan = NULL;
	struct ima_record k, st;
	uint64_t lo_idx = 0, j;
	uint8_t *head = NULL;
	size_t head_len = 0;
	char path[PATH_MAX];
	int fd = -1, ret;

	*found = false;
	if (m->bank->tpm_id != ki->bank->tpm_id ||
	    ima_kernel_list_path(lo.bank, path, sizeof(path)))
		return 0;
	/* the old kernel's head is at or after its last completed trim */
	if (m->nboots)
		lo_idx = m->boots[m->nboots - 1].first_index;
	chain_trim_last_done(c, m->boots[m->nboots - 1].id, &lo_idx, NULL);
	lo.path = path;
	ret = kernel_open_list(path, O_RDONLY, 5000, &fd, em);
	if (!ret)
		ret = list_reader_open(&r, fd, &lo, em);
	if (!ret && (ret = list_reader_next(r, &k, em)) > 0) {
		head_len = k.raw_len;
		head = malloc(head_len);
		ret = head ? 0 : -ENOMEM;
		if (head)
			memcpy(head, k.raw, head_len);
	}
	/* one pass over the chain for records equal to the kernel's head */
	if (!ret && head)
		ret = chain_iter_open(c, lo_idx, &scan, em);
	for (j = lo_idx; !ret && head && j < chain_durable(c) && !*found; j++) {
		bool same = true;

		ret = chain_iter_next(scan, &st, em);
		if (ret <= 0)
			break;
		ret = 0;
		if (st.raw_len != head_len || memcmp(st.raw, head, head_len))
			continue;
		/* candidate j: the kernel's records must be the chain's from j */
		list_reader_free(r);
		r = NULL;
		if (lseek(fd, 0, SEEK_SET) || (ret = list_reader_open(&r, fd, &lo, em)) ||
		    (ret = chain_iter_open(c, j, &it, em)))
			break;
		for (uint64_t i = j; same && i < chain_durable(c); i++) {
			int a = list_reader_next(r, &k, em);
			int b = chain_iter_next(it, &st, em);

			if (a <= 0 || b <= 0)
				same = a == 0 && i > j;	/* the kernel list ended: fine */
			else
				same = k.raw_len == st.raw_len && !memcmp(k.raw, st.raw, k.raw_len);
			if (a <= 0)
				break;
		}
		chain_iter_free(it);
		it = NULL;
		if (same) {
			*found = true;
			*first = j;
		}
	}
	chain_iter_free(scan);
	free(head);
	list_reader_free(r);
	if (fd >= 0)
		close(fd);
	return ret < 0 ? ret : 0;
}

int boot_chain_open(struct store *s, const struct kernel_info *ki,
		    const char *boot_id, struct chain **out, struct errmsg *em)
{
	char (*ids)[STORE_ID_MAX] = NULL;
	struct chain *c = NULL;
	uint64_t first = 0;
	bool found = false;
	size_t n = 0;
	int ret = store_chain_open(s, boot_id, out, em);

	if (ret != -ENOENT)
		return ret;
	/* a kexec continues the newest chain (store-format.md §9) */
	ret = store_chain_list(s, &ids, &n, em);
	if (!ret && n && !store_chain_open(s, ids[0], &c, NULL))
		ret = kexec_overlap(c, ki, &first, &found, em);
	free(ids);
	if (!ret && found) {
		ret = chain_add_boot(c, boot_id, first, em);
		if (!ret) {
			dlog(LOG_P_NOTICE, "boot %s continues chain %s from record %llu (kexec)",
			     boot_id, chain_meta(c)->chain, (unsigned long long)first);
			*out = c;
			return 0;
		}
	}
	chain_close(c);
	if (ret)
		return ret;
	return create_chain(s, ki, boot_id, out, em);
}
