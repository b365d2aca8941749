/* Helpers for the map unit tests: a private temporary directory with files. */
#ifndef MAP_TEST_UTIL_H
#define MAP_TEST_UTIL_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char map_test_dir[64];

static int
map_test_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
map_test_setup(void **state)
{
	(void)state;
	snprintf(map_test_dir, sizeof(map_test_dir), "/tmp/test_map.XXXXXX");
	return mkdtemp(map_test_dir) == NULL ? -1 : 0;
}

static int
map_test_teardown(void **state)
{
	(void)state;
	return nftw(map_test_dir, map_test_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes text to name in the test directory; returns a static path. */
static const char *
map_test_file(const char *name, const char *text)
{
	static char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", map_test_dir, name);
	fp = fopen(path, "w");
	if (fp == NULL || fputs(text, fp) < 0 || fclose(fp) != 0)
		abort();
	return path;
}

/* "type:path-of-name" in a static buffer. */
static const char *
map_test_spec(const char *type, const char *name)
{
	static char spec[300];

	snprintf(spec, sizeof(spec), "%s:%s/%s", type, map_test_dir, name);
	return spec;
}

#endif
