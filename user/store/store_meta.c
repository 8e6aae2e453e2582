// SPDX-License-Identifier: GPL-2.0-only
/* The chain's meta file (docs/store-format.md §4). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_int.h"
#include "store_io.h"

#define META_MAX (64u << 10)

const struct hash_alg *chain_meta_bank(const struct chain_meta *m,
				       const struct hash_alg *bank)
{
	for (unsigned i = 0; i < m->nbanks; i++)
		if (m->banks[i]->tpm_id == bank->tpm_id)
			return m->banks[i];
	return bank;
}

static int parse_banks(struct chain_meta *m, char *v)
{
	char *save = NULL;

	for (char *tok = strtok_r(v, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':');
		const struct hash_alg *alg;

		if (!colon || m->nbanks == PCR_MAX_BANKS)
			return -EBADMSG;
		*colon = '\0';
		alg = hash_alg_by_name(tok);
		if (!alg)
			return -EBADMSG;
		if (!strcmp(colon + 1, "padded"))
			alg = hash_alg_padded(alg);
		else if (strcmp(colon + 1, "hashed"))
			return -EBADMSG;
		m->banks[m->nbanks++] = alg;
	}
	return 0;
}

static int parse_boots(struct chain_meta *m, char *v)
{
	char *save = NULL;

	for (char *tok = strtok_r(v, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *at = strchr(tok, '@'), *end;

		if (!at || m->nboots == STORE_BOOTS_MAX ||
		    (size_t)(at - tok) >= STORE_ID_MAX)
			return -EBADMSG;
		*at = '\0';
		strcpy(m->boots[m->nboots].id, tok);
		m->boots[m->nboots].first_index = strtoull(at + 1, &end, 10);
		if (*end)
			return -EBADMSG;
		m->nboots++;
	}
	return 0;
}

static int parse_line(struct chain_meta *m, char *line)
{
	char *eq = strchr(line, '='), *v;
	const struct hash_alg *alg;

	if (!eq)
		return -EBADMSG;
	*eq = '\0';
	v = eq + 1;
	if (!strcmp(line, "format"))
		return strcmp(v, "1") ? -EPROTONOSUPPORT : 0;
	if (!strcmp(line, "chain")) {
		if (strlen(v) >= sizeof(m->chain))
			return -EBADMSG;
		strcpy(m->chain, v);
	} else if (!strcmp(line, "bank")) {
		alg = hash_alg_by_name(v);
		if (!alg)
			return -EBADMSG;
		m->bank = alg;
	} else if (!strcmp(line, "byte_order")) {
		m->little_endian = !strcmp(v, "little");
	} else if (!strcmp(line, "template_fmt")) {
		if (strlen(v) >= sizeof(m->template_fmt))
			return -EBADMSG;
		strcpy(m->template_fmt, v);
	} else if (!strcmp(line, "banks")) {
		return parse_banks(m, v);
	} else if (!strcmp(line, "boots")) {
		return parse_boots(m, v);
	} else if (!strcmp(line, "created")) {
		m->created = strtoull(v, NULL, 10);
	} else if (!strcmp(line, "origin")) {
		if (strlen(v) >= sizeof(m->origin))
			return -EBADMSG;
		strcpy(m->origin, v);
	} else if (!strcmp(line, "after")) {
		if (strlen(v) >= sizeof(m->after))
			return -EBADMSG;
		strcpy(m->after, v);
	}
	/* digest_size is derived from bank; unknown keys: ignored */
	return 0;
}

int meta_read(int dirfd, struct chain_meta *m, struct errmsg *em)
{
	char *buf, *save = NULL;
	ssize_t n;
	int fd, ret = 0;
	unsigned line = 0;

	memset(m, 0, sizeof(*m));
	fd = openat(dirfd, "meta", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errmsg_set(em, -errno, "meta: %s", strerror(errno));
	buf = malloc(META_MAX + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	n = read(fd, buf, META_MAX);
	close(fd);
	if (n < 0) {
		ret = errmsg_set(em, -errno, "meta: %s", strerror(errno));
		goto out;
	}
	buf[n] = '\0';
	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		line++;
		ret = parse_line(m, l);
		if (ret) {
			errmsg_set(em, ret, "meta:%u: cannot read '%s'", line, l);
			goto out;
		}
	}
	if (!m->chain[0] || !m->bank || !m->nboots)
		ret = errmsg_set(em, -EBADMSG, "meta: chain, bank or boots missing");
out:
	free(buf);
	return ret;
}

static int meta_format(const struct chain_meta *m, char *buf, size_t len)
{
	size_t pos = 0;

#define OUT(...) do { \
	int k_ = snprintf(buf + pos, len - pos, __VA_ARGS__); \
	if (k_ < 0 || (size_t)k_ >= len - pos) return -ENOSPC; \
	pos += (size_t)k_; } while (0)
	OUT("format=1\nchain=%s\nbank=%s\ndigest_size=%u\nbyte_order=%s\n",
	    m->chain, m->bank->name, m->bank->size,
	    m->little_endian ? "little" : "big");
	OUT("banks=");
	for (unsigned i = 0; i < m->nbanks; i++)
		OUT("%s%s:%s", i ? "," : "", m->banks[i]->name,
		    m->banks[i]->padded_sha1 ? "padded" : "hashed");
	OUT("\ntemplate_fmt=%s\nboots=", m->template_fmt);
	for (unsigned i = 0; i < m->nboots; i++)
		OUT("%s%s@%" PRIu64, i ? "," : "", m->boots[i].id,
		    m->boots[i].first_index);
	OUT("\ncreated=%" PRIu64 "\n", m->created);
	if (m->origin[0])
		OUT("origin=%s\n", m->origin);
	if (m->after[0])
		OUT("after=%s\n", m->after);
#undef OUT
	return (int)pos;
}

int meta_write(int dirfd, const struct chain_meta *m, struct errmsg *em)
{
	char *buf;
	int fd, n, ret;

	buf = malloc(META_MAX);
	if (!buf)
		return -ENOMEM;
	n = meta_format(m, buf, META_MAX);
	if (n < 0) {
		free(buf);
		return errmsg_set(em, n, "meta: too large");
	}
	fd = store_io->openat(dirfd, "meta.tmp",
			      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = errmsg_set(em, -errno, "meta.tmp: %s", strerror(errno));
		goto out;
	}
	ret = io_write_all(fd, buf, (size_t)n, 0);
	if (!ret && store_io->fsync(fd))
		ret = -errno;
	close(fd);
	if (!ret && store_io->renameat(dirfd, "meta.tmp", dirfd, "meta"))
		ret = -errno;
	if (ret) {
		errmsg_set(em, ret, "meta: %s", strerror(-ret));
		goto out;
	}
	ret = store_fsync_dir(dirfd, em, "chain directory");
out:
	free(buf);
	return ret;
}
