// SPDX-License-Identifier: GPL-2.0-only
/* The clocks everyone reads (see clock.h). */
#include <time.h>

#include "clock.h"

static uint64_t ns_of(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t mono_ns(void)
{
	return ns_of(CLOCK_MONOTONIC);
}

uint64_t mono_us(void)
{
	return mono_ns() / 1000u;
}

uint64_t mono_ms(void)
{
	return mono_ns() / 1000000u;
}

uint64_t real_ns(void)
{
	return ns_of(CLOCK_REALTIME);
}
