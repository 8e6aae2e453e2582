// SPDX-License-Identifier: GPL-2.0-only
/* The running boot's chain: opened, continued after a kexec, or created with every bank's mode. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bootchain.h"
#include "klist.h"
#include "securityfs.h"
#include "list_reader.h"
#include "log.h"
#include "template.h"

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
			p->starts_at_boot = record_is_boot_aggregate(&rec);
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
	/* no record to tell: the kernel's lists are in host order (no ima_canonical_fmt) */
	p->little_endian = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
	ret = ima_kernel_list_path(bank, path, sizeof(path));
	if (ret)
		return errmsg_set(em, ret, "no list for bank %s", bank->name);
	ima_staged_path(path, staged, sizeof(staged));
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

/* Create the chain of meta `m` (banks filled), logging how it began. */
static int create_meta(struct store *s, struct chain_meta *m, const char *boot_id,
		       const struct boot_placement *bp, struct chain **out,
		       struct errmsg *em)
{
	int ret;

	snprintf(m->origin, sizeof(m->origin), "%s", boot_origin_name(bp->origin));
	m->nboots = 1;
	m->boots[0].first_index = 0;
	snprintf(m->boots[0].id, sizeof(m->boots[0].id), "%s", boot_id);
	ret = store_chain_create(s, m, out, em);
	if (!ret)
		dlog(bp->origin == BOOT_FRESH ? LOG_P_NOTICE : LOG_P_WARNING,
		     "new chain %s (%s: %s; bank %s, %u banks)", m->chain, m->origin, bp->why,
		     m->bank->name, m->nbanks);
	return ret;
}

static int create_chain(struct store *s, const struct kernel_info *ki,
			const char *boot_id, const struct boot_placement *bp,
			struct chain **out, struct errmsg *em)
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
		if (banks[i]->tpm_id == ki->bank->tpm_id)
			m.little_endian = p.little_endian;
	}
	return create_meta(s, &m, boot_id, bp, out, em);
}

/*
 * The kernel's list for a boot without a chain, the PCRs read after it and
 * the list read again (trimming.md §3.1.3), then placement decides (§3.3).
 */
/* The staged batch (if any) and then the list: the kernel's whole list. */
static int read_kernel(const struct kernel_info *ki, struct klist *kl, struct errmsg *em)
{
	char staged[PATH_MAX + 8];
	int fd = -1, ret = 0;

	klist_free(kl);
	klist_init(kl, ki->list, ki->bank->size, LIST_ENDIAN_AUTO);
	ima_staged_path(ki->list, staged, sizeof(staged));
	if (ki->mode == KMODE_AD || ki->mode == KMODE_AD_ONLY) {
		ret = kernel_open_list(staged, O_RDONLY, 5000, &fd, em);
		if (!ret)
			ret = klist_read(kl, fd, 0, em);
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	if (!ret)
		ret = kernel_open_list(ki->list, O_RDONLY, 5000, &fd, em);
	if (!ret)
		ret = klist_read(kl, fd, 0, em);
	if (fd >= 0)
		close(fd);
	return ret;
}

/*
 * The kernel's list for a boot without a chain, the PCRs read after it and
 * the list read again (trimming.md §3.1.3), then placement decides (§3.3).
 */
static int place_boot(struct store *s, const struct kernel_info *ki,
		      struct boot_placement *bp, struct errmsg *em)
{
	struct klist kl = { 0 };
	struct kernel_head kh;
	struct place_tpm t = { 0 }, *tp = NULL;
	struct pcr_set pcrs;
	struct errmsg tem = { "" };
	size_t n0;
	int ret;

	ret = read_kernel(ki, &kl, em);
	n0 = kl.n;
	if (!ret && kernel_ops->read_pcrs && !kernel_ops->read_pcrs(1u << 10, &pcrs, &tem)) {
		t.pcrs = &pcrs;
		tp = &t;
		ret = read_kernel(ki, &kl, em);
		t.more = kl.n > n0 ? kl.n - n0 : 0;
	}
	if (!ret) {
		klist_head(&kl, &kh);
		ret = place_new_boot(s, ki->bank, &kh, tp, bp, em);
	}
	klist_free(&kl);
	return ret;
}

int boot_chain_open(struct store *s, const struct kernel_info *ki,
		    const char *boot_id, struct chain **out, struct boot_found *bf,
		    struct errmsg *em)
{
	struct boot_placement bp;
	struct chain *c = NULL;
	int ret = store_chain_open(s, boot_id, out, em);

	memset(bf, 0, sizeof(*bf));
	if (ret != -ENOENT)
		return ret;
	ret = place_boot(s, ki, &bp, em);
	if (ret)
		return ret;
	bf->foreign = bp.foreign;
	snprintf(bf->why, sizeof(bf->why), "%s", bp.why);
	if (bp.origin != BOOT_CONTINUES)
		return create_chain(s, ki, boot_id, &bp, out, em);
	ret = store_chain_open_name(s, bp.chain, &c, em);
	if (!ret)
		ret = chain_add_boot(c, boot_id, bp.first, em);
	if (ret) {
		chain_close(c);
		return ret;
	}
	dlog(LOG_P_NOTICE, "boot %s continues chain %s from record %llu (kexec; %s)",
	     boot_id, chain_meta(c)->chain, (unsigned long long)bp.first, bp.why);
	*out = c;
	return 0;
}

int boot_chain_unlinked(struct store *s, struct chain *prev, const char *boot_id,
			struct chain **out, struct errmsg *em)
{
	struct boot_placement bp = { .origin = BOOT_UNLINKED };
	struct chain_meta m = *chain_meta(prev);
	struct chain *c;
	int ret = -EEXIST;

	/* inside the writer window: the banks are the previous chain's, not probed */
	snprintf(m.after, sizeof(m.after), "%s@%llu", chain_meta(prev)->chain,
		 (unsigned long long)chain_durable(prev));
	snprintf(bp.why, sizeof(bp.why), "records after %s were deleted unseen", m.after);
	m.created = 0;
	for (unsigned i = 1; i < 100 && ret == -EEXIST; i++) {
		snprintf(m.chain, sizeof(m.chain), "%.36s_u%u", boot_id, i);
		if (!store_chain_open(s, m.chain, &c, NULL)) {
			chain_close(c);
			continue;
		}
		ret = create_meta(s, &m, boot_id, &bp, out, em);
	}
	if (!ret)
		ret = store_relink_boot(*out, boot_id, em);
	return ret;
}
