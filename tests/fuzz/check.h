/*
 * check.h: the fuzz targets' invariant check.  CHECK(cond) names the
 * file, line and condition on stderr, then aborts, so that libFuzzer
 * keeps the input and the corpus replay (fuzz_*_regress) fails on it.
 */
#ifndef CAPSULED_FUZZ_CHECK_H
#define CAPSULED_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: invariant failed: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

#endif
