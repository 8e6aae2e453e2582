/* SPDX-License-Identifier: GPL-2.0-only */
/* Little-endian fields of the store's files and of checkpoint payloads. */
#ifndef IMASTORE_BYTEORDER_H
#define IMASTORE_BYTEORDER_H

#include <stdint.h>

uint64_t get_le64(const uint8_t *p);
uint32_t get_le32(const uint8_t *p);
uint16_t get_le16(const uint8_t *p);
void put_le64(uint8_t *p, uint64_t v);
void put_le32(uint8_t *p, uint32_t v);
void put_le16(uint8_t *p, uint16_t v);

#endif
