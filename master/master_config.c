/*
 * master_config - turns main.cf and master.cf into master's settings and
 * service list: resolves users, socket paths, process limits and each
 * service's fingerprint (what decides on reload whether it restarts), and
 * validates every service's own parameters (its daemon file and -o
 * overrides) so a bad value is refused before any process starts. Input
 * is the admin's root-owned files; every problem is logged with its file
 * and line. Must not touch the running services.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mail/config.h"
#include "mail/mail_params.h"
#include "mail/master_cf.h"
#include "master.h"
#include "util/log.h"
#include "util/priv.h"
#include "util/safe_file.h"
#include "util/xmem.h"

#define MASTER_CF_FILE_MAX (16 * 1024 * 1024)

/* Two FNV-1a hashes with different offsets: a 128-bit change detector,
 * not a security measure (the input is the admin's own files). */
static void
master_hash(uint64_t fp[2], const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		fp[0] = (fp[0] ^ p[i]) * 0x100000001b3ULL;
		fp[1] = (fp[1] ^ p[i]) * 0x100000001b3ULL;
	}
}

static void
master_hash_str(uint64_t fp[2], const char *s)
{
	if (s != NULL)
		master_hash(fp, s, strlen(s));
	master_hash(fp, s == NULL ? "\1" : "", 1);
}

static void
master_hash_num(uint64_t fp[2], long long n)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", n);
	master_hash_str(fp, buf);
}

/* Hashes the bytes of path; a missing file hashes as a marker. */
static int
master_hash_file(uint64_t fp[2], const char *path)
{
	const char *error;
	char *data;
	size_t len;

	if (access(path, F_OK) < 0 && errno == ENOENT) {
		master_hash_str(fp, NULL);
		return 0;
	}
	if (safe_file_read(path, MASTER_CF_FILE_MAX, &data, &len, &error) < 0) {
		log_error("master: %s", error);
		return -1;
	}
	master_hash(fp, data, len);
	master_hash_str(fp, "");
	xfree(&data);
	return 0;
}

void
master_settings_free(struct master_settings *set)
{
	xfree(&set->config_dir);
	xfree(&set->queue_directory);
	xfree(&set->daemon_directory);
	xfree(&set->mail_owner);
	xfree(&set->inet_interfaces);
	xfree(&set->syslog_name);
	xfree(&set->maillog_file);
}

/* inet_interfaces: "all", "loopback-only" or one address. Several
 * addresses would need several listeners per service, which the
 * one-listener contract with the daemons does not have. */
static int
master_config_interfaces(const char *value, char **host_r)
{
	if (strcmp(value, "all") == 0 || strcmp(value, "*") == 0 ||
	    value[0] == '\0') {
		*host_r = NULL;
		return 0;
	}
	if (strcmp(value, "loopback-only") == 0) {
		*host_r = xstrdup("127.0.0.1");
		return 0;
	}
	if (strpbrk(value, ", \t") != NULL) {
		log_error("main.cf: inet_interfaces: %s: only one address (or "
			  "\"all\" or \"loopback-only\") is supported; give "
			  "each service its own host in master.cf",
			  value);
		return -1;
	}
	*host_r = xstrdup(value);
	return 0;
}

static void
master_config_settings(const char *config_dir, struct master_settings *set)
{
	long nproc;

	set->config_dir = xstrdup(config_dir);
	set->queue_directory = xstrdup(var_queue_directory);
	set->daemon_directory = xstrdup(var_daemon_directory);
	set->mail_owner = xstrdup(var_mail_owner);
	set->inet_interfaces = xstrdup(var_inet_interfaces);
	set->syslog_name = xstrdup(var_syslog_name);
	set->maillog_file = xstrdup(var_maillog_file);
	set->default_process_limit = (unsigned int)var_default_process_limit;
	if (set->default_process_limit == 0) {
		nproc = sysconf(_SC_NPROCESSORS_ONLN);
		set->default_process_limit =
		    nproc > 0 ? (unsigned int)nproc : 1;
	}
	set->throttle_time = (unsigned int)var_service_throttle_time;
	set->shutdown_timeout = (unsigned int)var_daemon_shutdown_timeout;
}

/* Loads the service's own parameters (daemon file, -o) to validate them;
 * errors already seen (main.cf) are not repeated. */
static int
master_config_check_service(const char *config_dir,
			    const struct master_service *cf)
{
	struct config_report report;
	const char *base = strrchr(cf->command, '/');
	int ret;

	base = base == NULL ? cf->command : base + 1;
	memset(&report, 0, sizeof(report));
	ret = config_load(config_dir, base, cf->overrides, cf->n_overrides,
			  &report);
	for (size_t i = 0; i < report.n_errors; i++)
		log_error("master.cf:%u: service %s: %s", cf->line, cf->name,
			  report.errors[i]);
	config_report_free(&report);
	return ret;
}

static void
master_config_fingerprint(struct master_svc *svc,
			  const struct master_service *cf,
			  const uint64_t main_fp[2], const uint64_t file_fp[2])
{
	svc->fingerprint[0] = main_fp[0];
	svc->fingerprint[1] = main_fp[1];
	master_hash(svc->fingerprint, file_fp, 2 * sizeof(file_fp[0]));
	master_hash_str(svc->fingerprint, cf->name);
	master_hash_num(svc->fingerprint, cf->type);
	master_hash_str(svc->fingerprint, svc->address);
	master_hash_num(svc->fingerprint, cf->private_service);
	master_hash_str(svc->fingerprint, svc->user);
	master_hash_num(svc->fingerprint, svc->uid);
	master_hash_num(svc->fingerprint, svc->gid);
	master_hash_str(svc->fingerprint, svc->chroot);
	master_hash_num(svc->fingerprint, svc->wakeup);
	master_hash_num(svc->fingerprint, svc->maxproc);
	master_hash_str(svc->fingerprint, svc->command);
	for (size_t i = 0; i < svc->n_args; i++)
		master_hash_str(svc->fingerprint, svc->args[i]);
	master_hash_str(svc->fingerprint, "-o");
	for (size_t i = 0; i < svc->n_overrides; i++)
		master_hash_str(svc->fingerprint, svc->overrides[i]);
}

static struct master_svc *
master_config_service(const struct master_settings *set,
		      const struct master_service *cf, const char *if_host,
		      const uint64_t main_fp[2])
{
	struct master_svc *svc = xcalloc(1, sizeof(*svc));
	uint64_t file_fp[2] = {0x84222325cbf29ce4ULL, 0x6c62272e07bb0142ULL};
	const char *error, *base;
	uid_t owner_uid;
	char *file;

	svc->listen_fd = -1;
	svc->name = xstrdup(cf->name);
	svc->type = cf->type;
	svc->private = cf->private_service;
	svc->cf_line = cf->line;
	if (cf->type == MASTER_SERVICE_INET) {
		const char *host = cf->host != NULL ? cf->host : if_host;

		svc->host = host == NULL ? NULL : xstrdup(host);
		svc->port = xasprintf("%u", cf->port);
		if (host == NULL)
			svc->address = xasprintf("*:%u", cf->port);
		else if (strchr(host, ':') != NULL)
			svc->address = xasprintf("[%s]:%u", host, cf->port);
		else
			svc->address = xasprintf("%s:%u", host, cf->port);
	} else {
		svc->path = master_service_unix_path(cf, set->queue_directory);
		svc->address = xstrdup(svc->path);
	}
	if (cf->user == NULL)
		svc->user = xstrdup(set->mail_owner);
	else if (cf->group != NULL)
		svc->user = xasprintf("%s:%s", cf->user, cf->group);
	else
		svc->user = xstrdup(cf->user);
	if (cf->chroot)
		svc->chroot = xstrdup(set->queue_directory);
	svc->wakeup = cf->wakeup;
	svc->maxproc = cf->maxproc > 0 ? (unsigned int)cf->maxproc
				       : set->default_process_limit;
	if (cf->command[0] == '/')
		svc->command = xstrdup(cf->command);
	else
		svc->command =
		    xasprintf("%s/%s", set->daemon_directory, cf->command);
	svc->n_args = cf->argc > 0 ? cf->argc - 1 : 0;
	svc->args = xcalloc(svc->n_args + 1, sizeof(char *));
	for (size_t i = 0; i < svc->n_args; i++)
		svc->args[i] = xstrdup(cf->argv[i + 1]);
	svc->n_overrides = cf->n_overrides;
	svc->overrides = xcalloc(cf->n_overrides + 1, sizeof(char *));
	for (size_t i = 0; i < cf->n_overrides; i++)
		svc->overrides[i] = xstrdup(cf->overrides[i]);

	if (priv_lookup_user(svc->user, &svc->uid, &svc->gid, &error) < 0) {
		log_error("master.cf:%u: service %s: user %s: %s", cf->line,
			  cf->name, svc->user, error);
		master_service_free(&svc);
		return NULL;
	}
	if (svc->uid == 0 || svc->gid == 0) {
		log_error("master.cf:%u: service %s: user %s: refusing to run "
			  "a service as root",
			  cf->line, cf->name, svc->user);
		master_service_free(&svc);
		return NULL;
	}
	if (priv_lookup_user(set->mail_owner, &owner_uid, &svc->socket_gid,
			     &error) < 0) {
		log_error("mail_owner %s: %s", set->mail_owner, error);
		master_service_free(&svc);
		return NULL;
	}
	if (svc->wakeup > 0 && cf->type == MASTER_SERVICE_INET) {
		log_warning("master.cf:%u: service %s: wakeup is supported for "
			    "unix services only; ignored",
			    cf->line, cf->name);
		svc->wakeup = 0;
	}
	base = strrchr(svc->command, '/') + 1;
	file = xasprintf("%s/%s.cf", set->config_dir, base);
	if (master_hash_file(file_fp, file) < 0) {
		xfree(&file);
		master_service_free(&svc);
		return NULL;
	}
	xfree(&file);
	master_config_fingerprint(svc, cf, main_fp, file_fp);
	return svc;
}

static bool
master_config_duplicate(const struct master_svc *list,
			const struct master_svc *svc)
{
	for (const struct master_svc *s = list; s != NULL; s = s->next) {
		if (master_service_same_address(s, svc)) {
			log_error("master.cf:%u: service %s: address %s is "
				  "already used by service %s (line %u)",
				  svc->cf_line, svc->name, svc->address,
				  s->name, s->cf_line);
			return true;
		}
	}
	return false;
}

static int
master_config_services(const struct master_settings *set,
		       const struct master_cf *mcf, const uint64_t main_fp[2],
		       struct master_svc **services_r)
{
	struct master_svc *list = NULL, **tail = &list;
	char *if_host = NULL;
	int ret = 0;

	if (master_config_interfaces(set->inet_interfaces, &if_host) < 0)
		return -1;
	for (size_t i = 0; i < mcf->n_services; i++) {
		const struct master_service *cf = &mcf->services[i];
		struct master_svc *svc;

		if (master_config_check_service(set->config_dir, cf) < 0)
			ret = -1;
		svc = master_config_service(set, cf, if_host, main_fp);
		if (svc == NULL) {
			ret = -1;
			continue;
		}
		if (master_config_duplicate(list, svc)) {
			master_service_free(&svc);
			ret = -1;
			continue;
		}
		*tail = svc;
		tail = &svc->next;
	}
	xfree(&if_host);
	if (ret < 0)
		master_service_free_list(&list);
	*services_r = list;
	return ret;
}

int
master_config_load(const char *config_dir, struct master_settings *set_r,
		   struct master_svc **services_r)
{
	uint64_t main_fp[2] = {0xcbf29ce484222325ULL, 0x84222325cbf29ce4ULL};
	struct config_report report;
	struct master_cf mcf;
	char abs[PATH_MAX], *path, *error;
	int ret;

	*services_r = NULL;
	if (realpath(config_dir, abs) == NULL) {
		log_error("master: config directory %s: %s", config_dir,
			  strerror(errno));
		return -1;
	}
	memset(&report, 0, sizeof(report));
	ret = config_load(abs, "master", NULL, 0, &report);
	config_report_log(&report);
	config_report_free(&report);
	if (ret < 0)
		return -1;
	master_config_settings(abs, set_r);

	path = xasprintf("%s/main.cf", abs);
	ret = master_hash_file(main_fp, path);
	xfree(&path);
	if (ret < 0)
		return -1;
	path = xasprintf("%s/master.cf", abs);
	ret = master_cf_parse_file(path, &mcf, &error);
	xfree(&path);
	if (ret < 0) {
		log_error("%s", error);
		xfree(&error);
		return -1;
	}
	ret = master_config_services(set_r, &mcf, main_fp, services_r);
	master_cf_free(&mcf);
	return ret;
}
