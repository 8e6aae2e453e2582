// SPDX-License-Identifier: GPL-2.0-only
/*
 * PCR files as `evmctl ima_measurement --pcrs [ALG,]FILE` reads them:
 *
 *	PCR-00: 3d458cfe55cc03ea1f443f1562beec8df51c75e1
 *	PCR-01: 3D 45 8C FE 55 CC 03 EA 1F 44 3F 15 62 BE EC 8D F5 1C 75 E1
 *
 * The second form is the TPM 1.2 sysfs "pcrs" file; evmctl's hex2bin()
 * skips one space before each byte, so both work there. evmctl is lax (it
 * ignores lines it does not expect and stops at the first gap in the PCR
 * numbering); we accept any order and subset but reject everything we do
 * not understand, with file and line, so a typo is not a silent mismatch.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdio.h"
#include "pcr_values.h"

#define PCR_LINE_MAX 1024	/* sha512 with spaces is 200; more is junk */
#define PCR_ALG_NAME_MAX 32

static int hex_val(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static const char *skip_blank(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* "NN:" after "PCR-"; one to three digits so that PCR-100 gets a clear error. */
static int parse_index(const char **pp, unsigned *idx, struct errmsg *em)
{
	const char *p = *pp;
	unsigned n = 0, digits = 0;

	while (isdigit((unsigned char)*p) && digits < 3) {
		n = n * 10 + (unsigned)(*p++ - '0');
		digits++;
	}
	if (!digits || isdigit((unsigned char)*p) || *p != ':')
		return errmsg_set(em, -EBADMSG,
				  "expected \"PCR-NN: <hex digest>\"");
	if (n >= IMA_PCR_COUNT)
		return errmsg_set(em, -EBADMSG,
				  "PCR index %u out of range (0-%d)", n,
				  IMA_PCR_COUNT - 1);
	*idx = n;
	*pp = p + 1;
	return 0;
}

/* Hex bytes, optionally separated by blanks (never inside a byte). */
static int parse_digest(const char *p, const struct hash_alg *alg,
			unsigned idx, uint8_t *out, struct errmsg *em)
{
	size_t n = 0;
	int hi, lo;

	for (p = skip_blank(p); *p; p = skip_blank(p)) {
		hi = hex_val((unsigned char)p[0]);
		lo = hi < 0 ? -1 : hex_val((unsigned char)p[1]);
		if (hi < 0 || lo < 0) {
			const char *bad = hi < 0 ? p : p + 1;

			if (!*bad || *bad == ' ' || *bad == '\t')
				return errmsg_set(em, -EBADMSG,
						  "PCR-%02u: odd number of hex digits",
						  idx);
			return errmsg_set(em, -EBADMSG,
					  "PCR-%02u: invalid character '%c' in digest",
					  idx, isprint((unsigned char)*bad) ? *bad : '?');
		}
		if (n < alg->size)
			out[n] = (uint8_t)(hi << 4 | lo);
		n++;
		p += 2;
	}
	if (n != alg->size)
		return errmsg_set(em, -EBADMSG,
				  "PCR-%02u: digest is %zu bytes, a %s PCR is %u",
				  idx, n, alg->name, alg->size);
	return 0;
}

/* One line, already without its end-of-line characters. */
static int parse_line(const char *line, struct pcr_bank *bank,
		      struct errmsg *em)
{
	uint8_t digest[IMA_MAX_DIGEST];
	const char *p = skip_blank(line);
	unsigned idx = 0;
	int err;

	if (strncmp(p, "PCR-", 4))
		return errmsg_set(em, -EBADMSG,
				  "expected \"PCR-NN: <hex digest>\"");
	p += 4;
	err = parse_index(&p, &idx, em);
	if (err)
		return err;
	err = parse_digest(p, bank->alg, idx, digest, em);
	if (err)
		return err;
	if (bank->valid & (1u << idx))
		return errmsg_set(em, -EBADMSG, "PCR-%02u given twice", idx);
	memcpy(bank->value[idx], digest, bank->alg->size);
	bank->valid |= 1u << idx;
	return 0;
}

/* Trailing blanks too, so a blank line ends up empty. */
static void strip_eol(char *line, size_t *len)
{
	while (*len && (line[*len - 1] == '\n' || line[*len - 1] == '\r' ||
			line[*len - 1] == ' ' || line[*len - 1] == '\t'))
		line[--*len] = '\0';
}

static int check_line(const char *line, size_t len, struct errmsg *em)
{
	if (len > PCR_LINE_MAX)
		return errmsg_set(em, -EBADMSG, "line too long (%zu bytes)",
				  len);
	if (strlen(line) != len)
		return errmsg_set(em, -EBADMSG, "NUL byte in line");
	return 0;
}

/* Parse the whole stream into `bank` (which starts empty). */
static int read_bank(FILE *f, const char *path, struct pcr_bank *bank,
		     struct errmsg *em)
{
	char *line = NULL;
	size_t cap = 0, len;
	unsigned lineno = 0;
	ssize_t n;
	int err = 0;

	errno = 0;
	while ((n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		len = (size_t)n;
		err = check_line(line, len, em);
		if (err)
			goto bad_line;
		strip_eol(line, &len);
		/* Blank lines are harmless (a trailing one is common). */
		if (!len)
			continue;
		err = parse_line(line, bank, em);
		if (err)
			goto bad_line;
	}
	if (ferror(f) || errno == ENOMEM) {
		int e = errno ? errno : EIO;

		err = errmsg_set(em, -e, "%s: read error: %s", path,
				 strerror(e));
		goto out;
	}
	if (!bank->valid)
		err = errmsg_set(em, -EBADMSG, "%s: no \"PCR-NN: <hex>\" lines",
				 path);
	goto out;
bad_line:
	errmsg_prefix(em, "%s:%u", path, lineno);
out:
	free(line);
	return err;
}

/* Split "[ALG,]FILE" as evmctl does: at the first comma; no ALG is sha1. */
static int parse_spec(const char *spec, const struct hash_alg **alg,
		      const char **path, struct errmsg *em)
{
	char name[PCR_ALG_NAME_MAX];
	const char *comma = spec ? strchr(spec, ',') : NULL;
	size_t len;

	if (!spec || !*spec)
		return errmsg_set(em, -EINVAL, "empty PCR file argument");
	if (!comma) {
		*alg = hash_alg_by_name("sha1");
		*path = spec;
		return 0;
	}
	len = (size_t)(comma - spec);
	*alg = NULL;
	if (len < sizeof(name)) {
		memcpy(name, spec, len);
		name[len] = '\0';
		*alg = hash_alg_by_name(name);
	}
	if (!*alg)
		return errmsg_set(em, -EINVAL,
				  "%s: unknown hash algorithm \"%.*s\" (expected ALG,FILE with ALG e.g. sha1, sha256)",
				  spec, (int)(len < 64 ? len : 64), spec);
	*path = comma + 1;
	if (!**path)
		return errmsg_set(em, -EINVAL, "%s: no file name after the comma",
				  spec);
	return 0;
}

static void merge_bank(struct pcr_bank *dst, const struct pcr_bank *src)
{
	for (unsigned i = 0; i < IMA_PCR_COUNT; i++) {
		if (!(src->valid & (1u << i)))
			continue;
		memcpy(dst->value[i], src->value[i], IMA_MAX_DIGEST);
		dst->valid |= 1u << i;
	}
}

int pcr_file_read(const char *spec, struct pcr_set *set, struct errmsg *em)
{
	const struct hash_alg *alg = NULL;
	struct pcr_bank *tmp = NULL, *dst;
	const char *path = NULL;
	FILE *f = NULL;
	int err;

	err = parse_spec(spec, &alg, &path, em);
	if (err)
		return err;
	f = fopen(path, "re");
	if (!f && errno == ENOENT && !strchr(spec, ',') && hash_alg_by_name(spec))
		return errmsg_set(em, -ENOENT,
				  "cannot open PCR file %s: %s ('%s' names a bank: the argument is [ALG,]FILE, e.g. %s,pcrs-%s.txt)",
				  path, strerror(ENOENT), spec, spec, spec);
	if (!f)
		return errmsg_set(em, -errno, "cannot open PCR file %s: %s",
				  path, strerror(errno));
	/* Parse aside so that a bad file leaves the set untouched. */
	tmp = calloc(1, sizeof(*tmp));
	if (!tmp) {
		err = errmsg_set(em, -ENOMEM, "out of memory");
		goto out;
	}
	tmp->alg = alg;
	err = read_bank(f, path, tmp, em);
	if (err)
		goto out;
	dst = pcr_set_add_bank(set, alg);
	if (!dst) {
		err = errmsg_set(em, -ENOSPC, "%s: more than %d PCR banks",
				 path, PCR_MAX_BANKS);
		goto out;
	}
	/* A second file for the same bank adds to it, like evmctl. */
	merge_bank(dst, tmp);
out:
	free(tmp);
	fclose(f);
	return err;
}

/*
 * "PCR-NN: <lowercase hex>\n" as evmctl's own documentation builds it from
 * the sysfs pcr-<alg>/N files. evmctl 1.4 only reads PCRs 0, 1, 2, ... up
 * to the first one missing, so for evmctl pass a bank with all PCRs valid.
 */
int pcr_file_write(const struct pcr_bank *bank, int fd, struct errmsg *em)
{
	static const char hex[] = "0123456789abcdef";
	char buf[IMA_PCR_COUNT * (sizeof("PCR-00: \n") + 2 * IMA_MAX_DIGEST)];
	size_t len = 0;
	int err;

	if (!bank || !bank->alg)
		return errmsg_set(em, -EINVAL, "no PCR bank to write");
	if (!(bank->valid & ((1ull << IMA_PCR_COUNT) - 1)))
		return errmsg_set(em, -EINVAL, "%s bank has no PCR values to write",
				  bank->alg->name);
	for (unsigned i = 0; i < IMA_PCR_COUNT; i++) {
		if (!(bank->valid & (1u << i)))
			continue;
		len += (size_t)snprintf(buf + len, sizeof(buf) - len,
					"PCR-%02u: ", i);
		for (unsigned j = 0; j < bank->alg->size; j++) {
			buf[len++] = hex[bank->value[i][j] >> 4];
			buf[len++] = hex[bank->value[i][j] & 0xf];
		}
		buf[len++] = '\n';
	}
	err = fd_write_all(fd, buf, len);
	if (err)
		return errmsg_set(em, err, "cannot write %s PCR file: %s",
				  bank->alg->name, strerror(-err));
	return 0;
}
