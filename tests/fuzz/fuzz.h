/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer entry point shared by the fuzz targets, and what fuzz-main.c
 * needs to run them without libFuzzer.  A target reports a broken
 * property with fuzz_check(), which aborts so that both libFuzzer and the
 * plain driver (under ASan) see a crash.
 */
#ifndef L2TP_FUZZ_H
#define L2TP_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define fuzz_check(cond)                                                                   \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "%s:%d: property broken: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                           \
		}                                                                          \
	} while (0)

#endif
