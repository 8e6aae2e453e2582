// SPDX-License-Identifier: GPL-2.0-only
/* The daemon's setup: the kernel's mode, the store, the boot's chain; SIGHUP's reload. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "bootchain.h"
#include "daemon.h"
#include "log.h"
#include "securityfs.h"

static void set_policy(struct daemon *dm)
{
	dm->pol.keep = dm->cfg.keep;
	dm->pol.trim_records = dm->cfg.trim_records;
	dm->pol.trim_bytes = dm->cfg.trim_bytes;
	dm->pol.mirror = dm->cfg.flavor == DFLAVOR_MIRROR || dm->ki.mode == KMODE_MIRROR;
	dlog_set_level(dm->cfg.log_level);
}

/* Who holds the store: the lock file holds the writer's pid. */
static void log_store_holder(const char *dir)
{
	char path[PATH_MAX + 8], pid[32] = "?";
	FILE *f;

	snprintf(path, sizeof(path), "%s/lock", dir);
	f = fopen(path, "re");
	if (f) {
		if (fgets(pid, sizeof(pid), f))
			pid[strcspn(pid, "\n")] = '\0';
		fclose(f);
	}
	dlog(LOG_P_ERR, "%s is in use by another writer (pid %s): only one imastored may trim",
	     dir, pid);
}

static int detect(struct daemon *dm)
{
	struct errmsg em = { "" };
	int ret = kernel_detect(dm->cfg.bank, &dm->ki, &em);

	if (ret) {
		dlog(LOG_P_ERR, "%s", errmsg_text(&em));
		return ret;
	}
	if (dm->cfg.flavor == DFLAVOR_N && dm->ki.mode == KMODE_MIRROR) {
		dlog(LOG_P_ERR, "flavor N asked for, but this kernel cannot delete records (lists are read-only)");
		return -EOPNOTSUPP;
	}
	if (dm->cfg.flavor == DFLAVOR_AD && dm->ki.mode != KMODE_AD &&
	    dm->ki.mode != KMODE_AD_ONLY) {
		dlog(LOG_P_ERR, "flavor AD asked for, but this kernel has no _staged files (CONFIG_IMA_STAGING)");
		return -EOPNOTSUPP;
	}
	set_policy(dm);
	dlog(LOG_P_NOTICE, "kernel mode %s, bank %s (%s): %s", kmode_name(dm->ki.mode),
	     dm->ki.bank->name, dm->ki.list,
	     dm->pol.mirror ? "mirror: stores every record, deletes nothing" :
	     dm->ki.mode == KMODE_AD_ONLY || dm->cfg.flavor == DFLAVOR_AD ?
			      "A/D: stages the list, stores it, then deletes the batch" :
			      "N: stores records, then deletes them from the kernel");
	return 0;
}

/* The chain decides the bank once it exists (it may predate a --bank). */
static int follow_chain_bank(struct daemon *dm)
{
	const struct hash_alg *b = chain_meta(dm->c)->bank;

	if (b->tpm_id == dm->ki.bank->tpm_id)
		return 0;
	dlog(LOG_P_WARNING, "the chain stores bank %s: reading that bank, not %s",
	     b->name, dm->ki.bank->name);
	dm->ki.bank = b;
	return ima_kernel_list_path(b, dm->ki.list, sizeof(dm->ki.list));
}

int daemon_setup(struct daemon *dm)
{
	unsigned flags = STORE_WRITE | STORE_CREATE | (dm->cfg.insecure ? STORE_INSECURE : 0);
	struct boot_found found = { 0 };
	struct errmsg em = { "" };
	int ret;

	ret = detect(dm);
	if (ret)
		return ret;
	ret = store_open(&dm->s, dm->cfg.store, flags, &em);
	if (ret == -EBUSY) {
		log_store_holder(dm->cfg.store);
		return ret;
	}
	if (!ret)
		ret = store_current_boot(dm->boot, sizeof(dm->boot), &em);
	if (!ret)
		ret = boot_chain_open(dm->s, &dm->ki, dm->boot, &dm->c, &found, &em);
	if (ret) {
		dlog(LOG_P_ERR, "%s", errmsg_text(&em));
		return ret;
	}
	ret = follow_chain_bank(dm);
	if (ret) {
		dlog(LOG_P_ERR, "the kernel has no list for the chain's bank %s", dm->ki.bank->name);
		return ret;
	}
	drain_init(&dm->d, dm->c, dm->boot, &dm->ki, chain_list_bank(dm->c));
	if (found.foreign)
		drain_note_foreign(&dm->d, found.why);
	if (dm->cfg.flavor == DFLAVOR_AD)
		dm->d.use_ad = true;
	dlog(LOG_P_INFO, "store %s, chain %s: %llu records", dm->cfg.store,
	     chain_meta(dm->c)->chain, (unsigned long long)chain_durable(dm->c));
	return 0;
}

void daemon_reload(struct daemon *dm)
{
	struct dconfig nc;
	struct errmsg em = { "" };

	if (dconfig_load(&nc, dm->argc, dm->argv, &em)) {
		dlog(LOG_P_ERR, "reload: %s; keeping the old configuration", errmsg_text(&em));
		return;
	}
	if (strcmp(nc.store, dm->cfg.store) || strcmp(nc.bank, dm->cfg.bank) ||
	    nc.flavor != dm->cfg.flavor || nc.bpf != dm->cfg.bpf ||
	    nc.ringbuf_size != dm->cfg.ringbuf_size || strcmp(nc.tail_socket, dm->cfg.tail_socket))
		dlog(LOG_P_WARNING, "reload: store, bank, flavor, the BPF settings and tail_socket change only at a restart");
	snprintf(nc.store, sizeof(nc.store), "%s", dm->cfg.store);
	snprintf(nc.bank, sizeof(nc.bank), "%s", dm->cfg.bank);
	nc.flavor = dm->cfg.flavor;
	snprintf(nc.tail_socket, sizeof(nc.tail_socket), "%s", dm->cfg.tail_socket);
	snprintf(nc.view, sizeof(nc.view), "%s", dm->cfg.view);	/* at a restart only */
	dm->cfg = nc;
	set_policy(dm);
	if (dm->have_cap)
		capture_set_wake_every(&dm->cap, wakeup_every(dm));
	dlog(LOG_P_NOTICE, "configuration reloaded: interval %u ms, latency %u ms, trim at %llu records, keep %llu",
	     nc.interval_ms, nc.latency_ms, (unsigned long long)nc.trim_records,
	     (unsigned long long)nc.keep);
}

void daemon_free(struct daemon *dm)
{
	drain_free(&dm->d);
	chain_close(dm->c);
	store_close(dm->s);
}
