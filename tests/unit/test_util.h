/* SPDX-License-Identifier: GPL-2.0-only */
/* Shared by the cmocka unit tests. */
#ifndef IMASTORE_TEST_UTIL_H
#define IMASTORE_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#endif
