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

static FILE *devnull;
static struct template_desc custom;

static void exercise(const struct ima_record *rec, const struct hash_alg *bank)
{
	static char line[2 * IMA_RECORD_MAX + 4096];
	struct errmsg em;

	list_ascii_format(rec, NULL, line, sizeof(line), &em);
	list_ascii_format(rec, &custom, line, sizeof(line), &em);
	record_print_text(devnull, rec, NULL, &em);
	record_print_json(devnull, rec, bank, &custom, &em);
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
	default:
		fuzz_reader(data, size);
		break;
	}
	return 0;
}
