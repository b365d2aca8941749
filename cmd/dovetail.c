/*
 * dovetail - the admin command: start, stop, reload, status, check,
 * config and setup, each taking -c DIR for another configuration
 * directory (several instances side by side). This file dispatches and
 * holds the helpers the sub-commands share. Trusts the admin's files;
 * must not leave a half-started or half-stopped system without saying so.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dovetail.h"
#include "dovetail_paths.h"
#include "mail/config.h"
#include "mail/mail_params.h"
#include "util/log.h"
#include "util/xmem.h"

const char *dovetail_config_dir = DOVETAIL_CONFIG_DIR;

struct dovetail_cmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
};

static const struct dovetail_cmd dovetail_cmds[] = {
    {"start", dovetail_cmd_start,
     "[-f]        start master and its services (-f: in the foreground)"},
    {"stop", dovetail_cmd_stop, "            stop master and every service"},
    {"reload", dovetail_cmd_reload,
     "          re-read the configuration (services whose settings "
     "changed restart)"},
    {"status", dovetail_cmd_status,
     "          show master and each service with its processes"},
    {"check", dovetail_cmd_check,
     "           check every configuration file and map"},
    {"config", dovetail_cmd_config,
     "[-n] [name...] print parameters (-n: only non-default ones)"},
    {"setup", dovetail_cmd_setup,
     "           create the mail_owner user and the directories"},
    {"domain", dovetail_cmd_domain,
     "add|del [-f]|list DOMAIN   virtual domains (--map TYPE:PATH)"},
    {"user", dovetail_cmd_user,
     "add|del|list|passwd ...      mailbox users (--map TYPE:PATH)"},
    {"alias", dovetail_cmd_alias,
     "add|del|list ...            aliases (--map TYPE:PATH)"},
    {"queue", dovetail_cmd_queue,
     "list|show ID|flush|hold ID|release ID|requeue ID|delete ID|ALL "
     "[--json]   the mail queue"},
    {"pw", dovetail_cmd_pw,
     "[-l] [-s SCHEME] [-r ROUNDS] [-p PASSWORD] [-t HASH] hash a password"},
};

static void __attribute__((noreturn)) dovetail_usage(FILE *out, int status)
{
	fprintf(out, "usage: dovetail [-c config_dir] [-v] command [options]\n"
		     "commands (each also takes -c config_dir):\n");
	for (size_t i = 0; i < sizeof(dovetail_cmds) / sizeof(dovetail_cmds[0]);
	     i++)
		fprintf(out, "  %s %s\n", dovetail_cmds[i].name,
			dovetail_cmds[i].usage);
	exit(status);
}

int
dovetail_getopt(int argc, char **argv, const char *opts,
		void (*handler)(int opt, const char *arg, void *ctx), void *ctx)
{
	char *all = xasprintf("+c:vh%s", opts != NULL ? opts : "");
	int c, ret;

	optind = 1;
	opterr = 1;
	while ((c = getopt(argc, argv, all)) != -1) {
		switch (c) {
		case 'c':
			dovetail_config_dir = optarg;
			break;
		case 'v':
			log_set_verbose(log_get_verbose() + 1);
			break;
		case 'h':
			xfree(&all);
			dovetail_usage(stdout, 0);
		case '?':
			xfree(&all);
			return -1;
		default:
			if (handler != NULL)
				handler(c, optarg, ctx);
			break;
		}
	}
	xfree(&all);
	ret = optind;
	return ret;
}

int
dovetail_load_main(void)
{
	struct config_report report;
	int ret;

	memset(&report, 0, sizeof(report));
	ret = config_load(dovetail_config_dir, NULL, NULL, 0, &report);
	for (size_t i = 0; i < report.n_warnings; i++)
		fprintf(stderr, "dovetail: warning: %s\n", report.warnings[i]);
	for (size_t i = 0; i < report.n_errors; i++)
		fprintf(stderr, "dovetail: error: %s\n", report.errors[i]);
	config_report_free(&report);
	if (ret < 0) {
		fprintf(stderr,
			"dovetail: fatal: the configuration in %s has "
			"errors (run \"dovetail -c %s check\")\n",
			dovetail_config_dir, dovetail_config_dir);
		return -1;
	}
	log_init(var_syslog_name, "dovetail");
	return 0;
}

pid_t
dovetail_master_pid(void)
{
	char *path = xasprintf("%s/pid/master.pid", var_queue_directory);
	struct flock fl;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT) {
			xfree(&path);
			return 0;
		}
		fprintf(stderr, "dovetail: open %s: %s\n", path,
			strerror(errno));
		xfree(&path);
		return -1;
	}
	/* Master holds a write lock for its whole life; F_GETLK names the
	 * holder even if the file's text is stale. */
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_GETLK, &fl) < 0) {
		fprintf(stderr, "dovetail: lock %s: %s\n", path,
			strerror(errno));
		close(fd);
		xfree(&path);
		return -1;
	}
	close(fd);
	xfree(&path);
	return fl.l_type == F_UNLCK ? 0 : fl.l_pid;
}

int
main(int argc, char **argv)
{
	int first;

	log_init("dovetail", "dovetail");
	log_set_stderr(true);
	log_set_syslog(false);
	first = dovetail_getopt(argc, argv, NULL, NULL, NULL);
	if (first < 0)
		dovetail_usage(stderr, 2);
	if (first >= argc)
		dovetail_usage(stderr, 2);
	for (size_t i = 0; i < sizeof(dovetail_cmds) / sizeof(dovetail_cmds[0]);
	     i++) {
		if (strcmp(argv[first], dovetail_cmds[i].name) == 0)
			return dovetail_cmds[i].run(argc - first, argv + first);
	}
	fprintf(stderr, "dovetail: unknown command \"%s\"\n", argv[first]);
	dovetail_usage(stderr, 2);
}
