/* SPDX-License-Identifier: GPL-2.0 */
/* A minimal test harness: CHECK() records a failure and goes on; main ends
 * with TEST_DONE(), which prints "N passed, N failed" and sets the exit code
 * (77 = skipped, for ctest's SKIP_RETURN_CODE). */
#ifndef SFC_TESTLIB_H
#define SFC_TESTLIB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tl_pass, tl_fail;

#define CHECK(cond, ...)                                                         \
	do {                                                                     \
		if (cond) {                                                      \
			tl_pass++;                                               \
		} else {                                                         \
			tl_fail++;                                               \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                            \
			fputc('\n', stderr);                                     \
		}                                                                \
	} while (0)

#define CHECK_STR(got, want)                                                     \
	CHECK(strcmp((got), (want)) == 0, "got \"%s\", want \"%s\"", (got), (want))

#define TEST_SKIP(...)                                                           \
	do {                                                                     \
		printf("SKIP: ");                                                \
		printf(__VA_ARGS__);                                             \
		putchar('\n');                                                   \
		exit(77);                                                        \
	} while (0)

#define TEST_DONE()                                                              \
	do {                                                                     \
		printf("%d passed, %d failed\n", tl_pass, tl_fail);              \
		return tl_fail ? 1 : 0;                                          \
	} while (0)

#endif
