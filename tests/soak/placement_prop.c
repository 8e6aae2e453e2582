// SPDX-License-Identifier: GPL-2.0-only
/*
 * Property test of placement (docs/trimming.md §3, §5, §6; store-format.md
 * §9): imastored against a fake kernel (placement_fake.h) driven by random
 * steps from a printed seed, the oracle checked after every step.
 *
 * Steps: measure k records (violations, re-measured, periodic and new
 * files; duplicates where the kernel's duplicate table lets them through),
 * a drain cycle, a daemon restart, SIGKILL at a failpoint (a forked daemon)
 * then a restart, another process's N / A / D, kexec (with or without a
 * staged batch), reboot (same boot_aggregate, PCRs reset). Per boot: TPM
 * or not (PCR reads lag one record at times), duplicate table on / flushed
 * (N refused, A/D only) / disabled, staging or not, flavor N or A/D, the
 * daemon's keep and trim_records.
 *
 * Knobs (environment):
 *   IMASTORE_PROP_SEED=N       replay a run (printed at the start and on failure)
 *   IMASTORE_PROP_STEPS=N      steps in all (default 100000; split over the
 *                              five modes unless IMASTORE_PROP_MODE is set)
 *   IMASTORE_PROP_MODE=M       n | ad | kexec | reboot | all (all: every step
 *                              kind mixed); unset: each of the five in turn
 *   IMASTORE_PROP_KEEP_GOING=1 after a failure, count it, start a new
 *                              machine and go on (each property printed once)
 *   IMASTORE_PROP_RELAX=p,q    count these properties, do not fail on them
 *   IMASTORE_PROP_INVISIBLE=1  also make foreign deletions that a boot
 *                              without a TPM cannot possibly notice
 *   IMASTORE_PROP_WEIGHTS=a,b,..  the mode's step weights instead, in the
 *                              order measure,cycle,restart,kill,foreignN,
 *                              foreignA,foreignD,kexec,kexec-staged,reboot
 *   IMASTORE_PROP_LOG=N        the daemon's log level (default: silent)
 */

/* The daemon, from build/libimastored.a. */
#include "daemon/bootchain.h"
#include "daemon/drain.h"
#include "daemon/kernel_ops.h"
#include "daemon/log.h"

#include "placement_fake.h"

enum {
	PS_MEASURE, PS_CYCLE, PS_RESTART, PS_KILL, PS_FOREIGN_N, PS_FOREIGN_A, PS_FOREIGN_D,
	PS_KEXEC, PS_KEXEC_STAGED, PS_REBOOT, PS_KINDS
};

struct mode_def {
	const char *name;
	unsigned w[PS_KINDS];
	unsigned staged_pct, ad_pct, flush_pct, off_pct, tpm_pct;
};

static const struct mode_def modes[] = {
	/*           meas cyc rst kill fN fA fD kexec kexecS reboot */
	{ "n",      { 30, 32, 6, 14, 6, 0, 0, 0, 0, 0 }, 0, 0, 0, 20, 60 },
	{ "ad",     { 30, 32, 6, 14, 5, 3, 3, 0, 0, 0 }, 100, 70, 25, 15, 60 },
	{ "kexec",  { 28, 30, 5, 12, 4, 2, 2, 6, 4, 0 }, 50, 50, 15, 15, 60 },
	{ "reboot", { 28, 30, 5, 12, 4, 2, 2, 0, 0, 6 }, 50, 50, 15, 15, 60 },
	{ "all",    { 28, 30, 5, 12, 4, 2, 2, 3, 2, 3 }, 50, 50, 15, 15, 60 },
};
#define NMODES (sizeof(modes) / sizeof(modes[0]))

static uint64_t base_seed, steps_per_mode;
static const char *only_mode;

static void draw_cfg(const struct mode_def *md, struct pf_bootcfg *c)
{
	static const uint64_t keeps[] = { 1, 1, 2, 3, 10 }, trims[] = { 1, 2, 5, 20, 60 };
	unsigned r;

	memset(c, 0, sizeof(*c));
	c->tpm = pf_chance(md->tpm_pct);
	c->staged_files = pf_chance(md->staged_pct);
	r = (unsigned)pf_below(100);
	c->ht = c->staged_files && r < md->flush_pct ? HT_FLUSH :
		r >= md->flush_pct && r < md->flush_pct + md->off_pct ? HT_OFF : HT_ON;
	c->flavor_ad = c->staged_files && pf_chance(md->ad_pct);
	c->lag_pct = c->tpm && pf_chance(50) ? 30 : 0;
	c->keep = keeps[pf_below(5)];
	c->trim_records = trims[pf_below(5)];
}

static void cfg_note(const char *what)
{
	const struct pf_boot *b = pf_tboot();

	pf_note("%s: boot %.8s (tpm=%s htable=%s staged=%s flavor=%s keep=%" PRIu64 " trim=%" PRIu64 "), list %u [T%" PRIu64 "..], staged 0",
		what, b->id, b->cfg.tpm ? "y" : "n", pf_ht_name[b->cfg.ht],
		b->cfg.staged_files ? "y" : "n", b->cfg.flavor_ad ? "AD" : "N", b->cfg.keep,
		b->cfg.trim_records, K->ncur, b->first_index);
}

static bool machine_full(void)
{
	return K->nrecs > PF_EPOCH_RECS || pf_tchain()->n > PF_CHAIN_RECS ||
	       K->ncur + K->nstg > PF_LIST_LONG || K->nchains >= PF_MAX_CHAINS - 2 ||
	       K->nboots >= PF_MAX_BOOTS - 2 || K->arena_used > PF_ARENA - (8u << 20);
}

static void step(const struct mode_def *md)
{
	struct pf_bootcfg cfg;
	unsigned total = 0, pick;
	int kind = 0;

	pf_step_begin();
	if (machine_full()) {
		draw_cfg(md, &cfg);
		pf_epoch(&cfg);
		cfg_note("new machine");
		pf_step_end();
		return;
	}
	for (int i = 0; i < PS_KINDS; i++)
		total += md->w[i];
	pick = (unsigned)pf_below(total);
	while (pick >= md->w[kind])
		pick -= md->w[kind++];
	switch (kind) {
	case PS_MEASURE: {
		uint64_t k = pf_logrange(1, 40), added = 0, tries = 0;

		while (added < k && tries++ < 6 * k)
			added += pf_measure_random();
		pf_sync_files();
		pf_note("measure %" PRIu64 ": +%" PRIu64 " (%" PRIu64 " suppressed), list %u, staged %u",
			k, added, tries - added, K->ncur, K->nstg);
		break;
	}
	case PS_CYCLE:
		pf_cycle();
		break;
	case PS_RESTART:
		pf_note("restart");
		pf_restart();
		break;
	case PS_KILL:
		pf_kill_at(pf_failpoints[pf_below(PF_NFAILPOINTS)]);
		break;
	case PS_FOREIGN_N: {
		bool done = false;

		for (int t = 0; t < 6 && !done; t++)
			done = pf_foreign_n(pf_logrange(1, K->ncur + 5), !G.allow_invisible);
		if (!done)
			pf_note("foreign N skipped: no deletion a TPM-less boot could notice");
		break;
	}
	case PS_FOREIGN_A:
		pf_foreign_a();
		break;
	case PS_FOREIGN_D:
		if (!pf_foreign_d(!G.allow_invisible))
			pf_note("foreign D skipped: a TPM-less boot could not notice it");
		break;
	case PS_KEXEC:
		draw_cfg(md, &cfg);
		pf_kexec(&cfg);
		cfg_note("kexec");
		break;
	case PS_KEXEC_STAGED: {
		const struct pf_bootcfg *b = &pf_tboot()->cfg;

		/* kexec begins during a cycle: after its A (D gets ESTALE), or before its N */
		if (b->flavor_ad || b->ht == HT_FLUSH)
			K->suspend_after_a = true;
		else
			K->suspended = true;
		pf_note("kexec under way (%s); ", K->suspended ? "N gets ESTALE" : "from the next A on");
		pf_cycle();
		pf_note("; staged %u; ", K->nstg);
		draw_cfg(md, &cfg);
		pf_kexec(&cfg);
		cfg_note("kexec");
		break;
	}
	case PS_REBOOT:
		draw_cfg(md, &cfg);
		pf_reboot(&cfg, pf_chance(5));
		cfg_note("reboot");
		break;
	}
	pf_step_end();
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t mode_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 1099511628211ull;
	return h;
}

static void run_mode(const struct mode_def *mdef)
{
	const char *w = getenv("IMASTORE_PROP_WEIGHTS");
	struct mode_def mcopy = *mdef, *md = &mcopy;
	struct pf_bootcfg cfg;
	double t0 = now_s(), dt;
	uint64_t steps = steps_per_mode;

	if (only_mode && strcmp(only_mode, md->name)) {
		skip();
		return;
	}
	for (int i = 0; w && *w && i < PS_KINDS; i++) {
		char *end;

		md->w[i] = (unsigned)strtoul(w, &end, 10);
		w = *end == ',' ? end + 1 : end;
	}
	pf_init("prop");
	G.mode = md->name;
	G.steps = steps;
	G.seed = base_seed;
	G.rng = pf_mix(base_seed ^ mode_hash(md->name));
	printf("placement property, mode %s: IMASTORE_PROP_SEED=%" PRIu64 ", %" PRIu64 " steps%s%s\n",
	       md->name, base_seed, steps, G.keep_going ? ", keep going" : "",
	       RUNNING_ON_VALGRIND ? " (valgrind)" : "");
	fflush(stdout);
	draw_cfg(md, &cfg);
	pf_epoch(&cfg);
	while (G.step < steps) {
		step(md);
		if (G.step_failed) {
			if (!G.keep_going)
				break;
			draw_cfg(md, &cfg);
			pf_epoch(&cfg);
			G.desc[0] = '\0';
			cfg_note("(after the failure) new machine");
			pf_log_step();
		}
	}
	dt = now_s() - t0;
	printf("mode %s: %" PRIu64 " steps in %.1f s (%.0f steps/s): %" PRIu64 " cycles (%" PRIu64 " completed, %" PRIu64 " errors), %" PRIu64 " kills (%" PRIu64 " killed), %" PRIu64 " records measured (%" PRIu64 " suppressed), foreign N/A/D %" PRIu64 "/%" PRIu64 "/%" PRIu64 " (%" PRIu64 " not evident: skipped), %" PRIu64 " kexecs, %" PRIu64 " reboots, %" PRIu64 " machines, %" PRIu64 " report checks dropped after a kill\n",
	       md->name, G.step, dt, dt > 0 ? (double)G.step / dt : 0.0, G.cycles, G.completed_cycles,
	       G.cycle_errors, G.kills, G.killed, G.measured, G.suppressed, G.foreign_n, G.foreign_a,
	       G.foreign_d, G.invisible_skipped, G.kexecs, G.reboots, G.epochs, G.reports_dropped);
	for (unsigned i = 0; i < G.nprops; i++)
		printf("  property %-18s failed %" PRIu64 " times, first at step %" PRIu64 "%s\n",
		       G.prop_name[i], G.prop_count[i], G.prop_first_step[i],
		       pf_relaxed(G.prop_name[i]) ? " (relaxed)" : "");
	fflush(stdout);
	{
		uint64_t failures = G.total_failures, at = G.step;

		pf_fini();
		if (failures)
			fail_msg("mode %s: %" PRIu64 " contract failures (first run stopped at step %" PRIu64 "); replay with IMASTORE_PROP_SEED=%" PRIu64 " IMASTORE_PROP_MODE=%s",
				 md->name, failures, at, base_seed, md->name);
	}
}

static void test_mode_n(void **state) { (void)state; run_mode(&modes[0]); }
static void test_mode_ad(void **state) { (void)state; run_mode(&modes[1]); }
static void test_mode_kexec(void **state) { (void)state; run_mode(&modes[2]); }
static void test_mode_reboot(void **state) { (void)state; run_mode(&modes[3]); }
static void test_mode_all(void **state) { (void)state; run_mode(&modes[4]); }

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mode_n),
		cmocka_unit_test(test_mode_ad),
		cmocka_unit_test(test_mode_kexec),
		cmocka_unit_test(test_mode_reboot),
		cmocka_unit_test(test_mode_all),
	};
	const char *e = getenv("IMASTORE_PROP_SEED");
	uint64_t steps;

	base_seed = e ? strtoull(e, NULL, 0) :
		    (((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid()) & 0xffffffffffffull;
	e = getenv("IMASTORE_PROP_STEPS");
	steps = e ? strtoull(e, NULL, 0) : 100000;
	if (RUNNING_ON_VALGRIND)
		steps /= 100;
	else if (PF_ASAN)
		steps /= 10;
	only_mode = getenv("IMASTORE_PROP_MODE");
	if (only_mode && !*only_mode)
		only_mode = NULL;
	if (only_mode) {
		bool known = false;

		for (size_t i = 0; i < NMODES; i++)
			known |= !strcmp(modes[i].name, only_mode);
		if (!known) {
			fprintf(stderr, "IMASTORE_PROP_MODE=%s: one of n, ad, kexec, reboot, all\n", only_mode);
			return 2;
		}
	}
	steps_per_mode = only_mode ? steps : steps / NMODES;
	if (!steps_per_mode)
		steps_per_mode = 1;
	printf("IMASTORE_PROP_SEED=%" PRIu64 "\n", base_seed);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
