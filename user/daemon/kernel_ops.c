// SPDX-License-Identifier: GPL-2.0-only
/* The daemon's seam to the running kernel: its mode, opening, deleting (N, A/D), PCRs, holders. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kernel_ops.h"
#include "securityfs.h"
#include "log.h"

int kernel_real_open_list(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/* kernel-interface.md §3: one write(2) is one command, "N\n". */
static int real_delete_oldest(int fd, uint64_t n)
{
	char cmd[24];
	int len = snprintf(cmd, sizeof(cmd), "%llu\n", (unsigned long long)n);
	ssize_t w = write(fd, cmd, (size_t)len);

	if (w < 0)
		return -errno;
	return w == len ? 0 : -EIO;
}

static int real_staged_command(int fd, char cmd)
{
	char buf[2] = { cmd, '\n' };
	ssize_t w = write(fd, buf, 2);

	if (w < 0)
		return -errno;
	return w == 2 ? 0 : -EIO;
}

/* The TCTI from the environment (TPM2TOOLS_TCTI ...), else /dev/tpmrm0. */
static int real_read_pcrs(uint32_t mask, struct pcr_set *out, struct errmsg *em)
{
	return tpm_read_pcrs(NULL, mask, out, em);
}

const struct kernel_ops kernel_ops_default = {
	.open_list = kernel_real_open_list,
	.delete_oldest = real_delete_oldest,
	.staged_command = real_staged_command,
	.read_pcrs = real_read_pcrs,
};

const struct kernel_ops *kernel_ops = &kernel_ops_default;

const char *kmode_name(enum kmode m)
{
	static const char *const names[] = { "none", "mirror", "N", "A/D", "A/D only" };

	return names[m];
}

/* Strongest first (trimming.md §2). */
static const char *const bank_order[] = { "sha512", "sha384", "sha256", "sm3", "sha1" };

static int pick_bank(const char *want, struct kernel_info *ki, struct errmsg *em)
{
	const struct hash_alg *a;

	if (want && *want) {
		a = hash_alg_by_name(want);
		if (!a || ima_kernel_list_path(a, ki->list, sizeof(ki->list)))
			return errmsg_set(em, -ENOENT, "the kernel has no list for bank %s", want);
		ki->bank = a;
		return 0;
	}
	for (size_t i = 0; i < sizeof(bank_order) / sizeof(bank_order[0]); i++) {
		a = hash_alg_by_name(bank_order[i]);
		if (a && !ima_kernel_list_path(a, ki->list, sizeof(ki->list))) {
			ki->bank = a;
			return 0;
		}
	}
	return errmsg_set(em, -ENOENT, "no binary measurement list in %s", ima_securityfs_dir());
}

static bool cmdline_has(const char *word)
{
	char buf[4096], *tok, *save;
	FILE *f = fopen("/proc/cmdline", "re");
	size_t n = strlen(word);
	bool found = false;

	if (!f)
		return false;
	if (fgets(buf, sizeof(buf), f))
		for (tok = strtok_r(buf, " \t\n", &save); tok && !found;
		     tok = strtok_r(NULL, " \t\n", &save))
			found = !strncmp(tok, word, n) && (!tok[n] || tok[n] == '=');
	fclose(f);
	return found;
}

int kernel_detect(const char *bank_name, struct kernel_info *ki, struct errmsg *em)
{
	char staged[PATH_MAX + 8];
	struct stat st;
	int ret;

	memset(ki, 0, sizeof(*ki));
	if (stat(ima_securityfs_dir(), &st) || !S_ISDIR(st.st_mode))
		return errmsg_set(em, -ENODEV, "IMA is not enabled (no %s)", ima_securityfs_dir());
	ret = pick_bank(bank_name, ki, em);
	if (ret)
		return ret;
	if (stat(ki->list, &st))
		return errmsg_set(em, -errno, "%s: %s", ki->list, strerror(errno));
	/* 0440 before 7.2: the kernel has no deletion at all */
	if (!(st.st_mode & 0222)) {
		ki->mode = KMODE_MIRROR;
		return 0;
	}
	ima_staged_path(ki->list, staged, sizeof(staged));
	ki->mode = access(staged, F_OK) ? KMODE_N : KMODE_AD;
	if (ki->mode == KMODE_AD && cmdline_has("ima_flush_htable"))
		ki->mode = KMODE_AD_ONLY;
	return 0;
}

/* Every open of a list that met EBUSY, counted (the view's tests read it). */
uint64_t kernel_busy_opens;

static int counted_open(const char *path, int flags)
{
	int ret = kernel_ops->open_list(path, flags);

	if (ret == -EBUSY)
		kernel_busy_opens++;
	return ret;
}

int kernel_open_list(const char *path, int flags, unsigned max_ms, int *fd,
		     struct errmsg *em)
{
	return ima_open_list(path, flags, max_ms, counted_open, fd, em);
}

static void comm_of(const char *pid, char *out, size_t len)
{
	char path[64];
	FILE *f;

	snprintf(out, len, "?");
	snprintf(path, sizeof(path), "/proc/%.20s/comm", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(out, (int)len, f))
		out[strcspn(out, "\n")] = '\0';
	fclose(f);
}

/* One process: its fds that point into the IMA directory. */
static void holders_of(const char *pid, const char *dir, size_t dlen)
{
	char path[300], link[PATH_MAX], comm[64];
	struct dirent *de;
	ssize_t n;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%.20s/fd/%.20s", pid, de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strncmp(link, dir, dlen) || (link[dlen] && link[dlen] != '/'))
			continue;
		comm_of(pid, comm, sizeof(comm));
		dlog(LOG_P_WARNING, "pid %s (%s) holds %s open (fd %s): deletion waits for it",
		     pid, comm, link, de->d_name);
	}
	closedir(d);
}

void kernel_log_holders(void)
{
	const char *dir = ima_securityfs_dir();
	char self[24], real[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir("/proc");

	if (!d)
		return;
	/* fds name the real path: on 7.2 security/ima links to integrity/ima */
	if (realpath(dir, real))
		dir = real;
	snprintf(self, sizeof(self), "%d", (int)getpid());
	while ((de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9' || !strcmp(de->d_name, self))
			continue;
		holders_of(de->d_name, dir, strlen(dir));
	}
	closedir(d);
}

int kernel_read_list(int fd, off_t from, uint8_t **buf, size_t *len,
		     struct errmsg *em)
{
	size_t cap = 1u << 16, n = 0;
	uint8_t *b = malloc(cap), *nb;
	ssize_t r;

	if (!b)
		return -ENOMEM;
	/* a fd that already read keeps its seq position (kernel-interface §3) */
	if (lseek(fd, from, SEEK_SET) < 0) {
		free(b);
		return errmsg_set(em, -errno, "lseek: %s", strerror(errno));
	}
	for (;;) {
		if (n == cap) {
			nb = realloc(b, cap * 2);
			if (!nb) {
				free(b);
				return -ENOMEM;
			}
			b = nb;
			cap *= 2;
		}
		r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(b);
			return errmsg_set(em, -errno, "read: %s", strerror(errno));
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*buf = b;
	*len = n;
	return 0;
}

/* One decimal number from a securityfs file of IMA's. */
static int read_number(const char *file, uint64_t *n)
{
	char path[PATH_MAX], buf[32];
	int fd, ret = 0;
	ssize_t r;

	snprintf(path, sizeof(path), "%s/%s", ima_securityfs_dir(), file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = read(fd, buf, sizeof(buf) - 1);
	if (r <= 0)
		ret = r < 0 ? -errno : -EIO;
	close(fd);
	if (ret)
		return ret;
	buf[r] = '\0';
	*n = strtoull(buf, NULL, 10);
	return 0;
}

int kernel_count(uint64_t *n)
{
	return read_number("runtime_measurements_count", n);
}

int kernel_violations(uint64_t *n)
{
	return read_number("violations", n);
}

unsigned kernel_banks(const struct hash_alg **banks, unsigned max)
{
	const struct hash_alg *all = hash_alg_all();
	char path[PATH_MAX];
	unsigned n = 0;

	for (size_t i = 0; i < hash_alg_count() && n < max; i++) {
		/* the padded twins share a name with the real bank */
		if (hash_alg_by_name(all[i].name) != &all[i])
			continue;
		if (!ima_kernel_list_path(&all[i], path, sizeof(path)))
			banks[n++] = &all[i];
	}
	return n;
}
