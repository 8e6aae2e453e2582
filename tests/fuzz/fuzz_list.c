// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for the list parsers: binary records, ASCII lines, and
 * the streaming reader with every probe (format, bank, byte order). Every
 * record parsed is also formatted as ASCII, text and JSON, and an ASCII
 * line that parses must format back to itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "list_ascii.h"
#include "list_reader.h"
#include "record_print.h"
#include "tail_format.h"

static FILE *devnull;
static struct template_desc custom;

/* A ring-buffer record through the live stream's formatter (docs/tail.md). */
static void fuzz_tail(const struct imacapture_rec *r)
{
	static char json[TAIL_LINE_MAX], text[TAIL_LINE_MAX];
	uint8_t buf[TAIL_VIEW_BUF];
	const struct hash_alg *bank;
	struct ima_record rec;
	struct tail_meta m;

	if (tail_view_capture(r, "d-ng|n-ng|sig|iuid", buf, &rec, &bank, &m, NULL))
		return;
	m.time_ns = r->ktime_ns;
	if (!tail_format(&m, &rec, bank, json, text, NULL) &&
	    (strchr(json, '\n') != json + strlen(json) - 1 ||
	     strchr(text, '\n') != text + strlen(text) - 1))
		abort();	/* one record, one line */
}

static void exercise(const struct ima_record *rec, const struct hash_alg *bank)
{
	static char line[2 * IMA_RECORD_MAX + 4096];
	static struct imacapture_rec r;
	struct errmsg em;

	list_ascii_format(rec, NULL, line, sizeof(line), &em);
	list_ascii_format(rec, &custom, line, sizeof(line), &em);
	record_print_text(devnull, rec, NULL, &em);
	record_print_json(devnull, rec, bank, &custom, &em);
	/* the same record as the BPF program would have sent it */
	r.seq = rec->index;
	r.pcr = (int32_t)rec->pcr;
	r.digest_alg = bank->tpm_id;
	memcpy(r.digest, rec->digest, rec->digest_len < sizeof(r.digest) ? rec->digest_len : sizeof(r.digest));
	snprintf(r.template_name, sizeof(r.template_name), "%.15s", rec->name);
	r.data_len = rec->data_len < IMACAPTURE_DATA_MAX ? rec->data_len : IMACAPTURE_DATA_MAX;
	r.flags = rec->data_len > IMACAPTURE_DATA_MAX ? IMACAPTURE_F_TRUNCATED : 0;
	memcpy(r.data, rec->data, r.data_len);
	fuzz_tail(&r);
}

static void fuzz_binary(const uint8_t *d, size_t n, uint16_t width,
			enum list_endian endian)
{
	const struct hash_alg *bank = hash_alg_by_name("sha1");
	struct ima_record rec;
	size_t pos = 0;
	long r;

	while (pos < n) {
		r = ima_record_parse(d + pos, n - pos, width, endian, 0, pos, &rec, NULL);
		if (r <= 0)
			break;
		exercise(&rec, bank);
		pos += (size_t)r;
	}
}

static void fuzz_ascii(const uint8_t *d, size_t n, uint16_t width)
{
	static uint8_t bin[1 << 20];
	static char again[1 << 21];
	struct ima_record rec;
	long r, m;

	if (n > sizeof(bin))
		return;
	r = list_ascii_parse_line((const char *)d, n, width, &custom, true,
				  bin, sizeof(bin), NULL);
	if (r <= 0)
		return;
	if (ima_record_parse(bin, (size_t)r, width, LIST_ENDIAN_LITTLE, 0, 0, &rec, NULL) != r)
		abort();	/* the rebuilt record must be well formed */
	m = list_ascii_format(&rec, &custom, again, sizeof(again), NULL);
	if (m > 0 && ((size_t)m != n + 1 || memcmp(again, d, n)))
		/* not every line is canonical (upper-case hex, "+"), but the
		 * canonical one must parse to the same record */
		fuzz_ascii((const uint8_t *)again, (size_t)m - 1, width) ;
}

static void fuzz_reader(const uint8_t *d, size_t n)
{
	struct list_reader_opts o = { .path = "fuzz" };
	struct list_reader *r;
	struct ima_record rec;
	int fd = memfd_create("fuzz", 0);

	if (fd < 0)
		return;
	if (write(fd, d, n) == (ssize_t)n && lseek(fd, 0, SEEK_SET) == 0 &&
	    !list_reader_open(&r, fd, &o, NULL)) {
		o.template_fmt = NULL;
		while (list_reader_next(r, &rec, NULL) > 0)
			exercise(&rec, list_reader_bank(r));
		list_reader_free(r);
	}
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t widths[] = { 20, 32, 48, 64 };
	uint8_t mode;

	if (!devnull) {
		devnull = fopen("/dev/null", "w");
		template_from_fmt("", "d-ng|n-ng|sig|iuid|igid|imode|buf|xattrnames|d-ngv2|unknownfield",
				  &custom, NULL);
	}
	if (size < 1)
		return 0;
	mode = data[0];
	data++;
	size--;
	switch (mode & 3) {
	case 0:
		fuzz_binary(data, size, widths[(mode >> 2) & 3],
			    (mode & 16) ? LIST_ENDIAN_BIG : LIST_ENDIAN_LITTLE);
		break;
	case 1:
		fuzz_ascii(data, size, widths[(mode >> 2) & 3]);
		break;
	case 2:
		fuzz_reader(data, size);
		break;
	default: {
		/* raw bytes as a ring-buffer record */
		static struct imacapture_rec r;

		memset(&r, 0, sizeof(r));
		memcpy(&r, data, size < sizeof(r) ? size : sizeof(r));
		fuzz_tail(&r);
		break;
	}
	}
	return 0;
}
