/*
 * map_lookup_tool - test helper: opens one map and answers commands read
 * from stdin, one per line, so a test script can act on a database between
 * lookups on the same handle:
 *   lookup KEY  ->  FOUND <n_rows> <value>  |  NOTFOUND  |  TEMPFAIL <error>
 *   get KEY NAME -> FOUND <value of column NAME in row 1> | NOTFOUND | ...
 *   check       ->  OK  |  ERROR <error>
 * Usage: map_lookup_tool [-f] [-D] type:arg  (-f MAP_FOLD_CASE,
 * -D MAP_DOVECOT_EXPANSIONS). Not installed; tests only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mail/map.h"

static void
answer(struct map *map, const char *key, const char *name)
{
	struct map_result res;
	const char *error = NULL, *value;

	switch (map_lookup(map, key, &res, &error)) {
	case MAP_FOUND:
		value = name == NULL ? map_result_value(&res) :
			map_result_get(&res, name);
		printf("FOUND %zu %s\n", res.n_rows, value != NULL ? value : "(null)");
		map_result_free(&res);
		break;
	case MAP_NOTFOUND:
		printf("NOTFOUND\n");
		break;
	case MAP_TEMPFAIL:
		printf("TEMPFAIL %s\n", error);
		break;
	}
}

int
main(int argc, char **argv)
{
	unsigned int flags = 0;
	const char *error;
	struct map *map;
	char line[8192];
	int c;

	while ((c = getopt(argc, argv, "fD")) != -1) {
		if (c == 'f')
			flags |= MAP_FOLD_CASE;
		else if (c == 'D')
			flags |= MAP_DOVECOT_EXPANSIONS;
		else
			return 2;
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: map_lookup_tool [-f] [-D] type:arg\n");
		return 2;
	}
	map = map_open(argv[optind], flags, &error);
	if (map == NULL) {
		printf("OPENERROR %s\n", error);
		return 1;
	}
	printf("READY\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "lookup ", 7) == 0) {
			answer(map, line + 7, NULL);
		} else if (strncmp(line, "get ", 4) == 0) {
			char *sp = strrchr(line + 4, ' ');

			if (sp == NULL) {
				printf("BADCMD\n");
			} else {
				*sp = '\0';
				answer(map, line + 4, sp + 1);
			}
		} else if (strcmp(line, "check") == 0) {
			if (map_check(map, &error) == 0)
				printf("OK\n");
			else
				printf("ERROR %s\n", error);
		} else {
			printf("BADCMD\n");
		}
		fflush(stdout);
	}
	map_close(&map);
	return 0;
}
