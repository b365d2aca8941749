/*
 * pwtool - test helper (not the user-facing "dovetail pw") that exposes
 * lib/mail/password_scheme to script tests:
 *   pwtool generate SCHEME PASSWORD [ROUNDS]   prints the hash
 *   pwtool verify HASH PASSWORD [DEFAULT_SCHEME]
 *       exit 0 "verified", 1 "mismatch", 2 "error: ..."
 *   pwtool list                                prints the scheme names
 * Arguments come from the test scripts; only for tests.
 */
#include "mail/password_scheme.h"
#include "util/xmem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
usage(void)
{
	fprintf(stderr, "usage: pwtool generate SCHEME PASSWORD [ROUNDS] | "
			"verify HASH PASSWORD [DEFAULT_SCHEME] | list\n");
	return 2;
}

int
main(int argc, char **argv)
{
	const char *error = NULL;
	const char *const *list;
	unsigned int rounds = 0;
	char *hash;
	int ret;

	if (argc == 2 && strcmp(argv[1], "list") == 0) {
		for (list = password_scheme_list(); *list != NULL; list++)
			printf("%s\n", *list);
		return 0;
	}
	if (argc >= 4 && argc <= 5 && strcmp(argv[1], "generate") == 0) {
		if (argc == 5)
			rounds = (unsigned int)strtoul(argv[4], NULL, 10);
		if (password_generate(argv[3], strlen(argv[3]), argv[2], rounds,
				      &hash, &error) < 0) {
			printf("error: %s\n", error);
			return 2;
		}
		printf("%s\n", hash);
		xfree(&hash);
		return 0;
	}
	if (argc >= 4 && argc <= 5 && strcmp(argv[1], "verify") == 0) {
		ret = password_verify(argv[3], strlen(argv[3]), argv[2],
				      argc == 5 ? argv[4] : NULL, &error);
		if (ret < 0) {
			printf("error: %s\n", error);
			return 2;
		}
		printf("%s\n", ret > 0 ? "verified" : "mismatch");
		return ret > 0 ? 0 : 1;
	}
	return usage();
}
