/* SPDX-License-Identifier: GPL-2.0-only */
/* The clocks everyone reads: CLOCK_MONOTONIC (bpf_ktime_get_ns()'s) and CLOCK_REALTIME. */
#ifndef IMASTORE_CLOCK_H
#define IMASTORE_CLOCK_H

#include <stdint.h>

uint64_t mono_ns(void);
uint64_t mono_us(void);
uint64_t mono_ms(void);
uint64_t real_ns(void);

#endif
