/*
 * dovetail_setup - "dovetail setup" (also run by "dovetail start"):
 * creates the mail_owner system user, like Postfix's "postfix" user, and
 * the instance's directories with their owners and modes, fixing those
 * that drifted. The directories are one table so later work adds queue
 * subdirectories in one place. Runs as root on the admin's configuration;
 * never follows a symlink for a directory it changes and never deletes.
 */
#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dovetail.h"
#include "mail/mail_params.h"
#include "mail/master_cf.h"
#include "util/log.h"
#include "util/safe_file.h"
#include "util/xmem.h"

#define SETUP_USERADD "/usr/sbin/useradd"
#define SETUP_NOLOGIN "/usr/sbin/nologin"

enum setup_base {
	SETUP_QUEUE, /* relative to queue_directory */
	SETUP_DATA,  /* relative to data_directory */
};

enum setup_owner {
	SETUP_ROOT,
	SETUP_MAIL_OWNER,
};

struct setup_dir {
	enum setup_base base;
	const char *sub; /* "" = the base itself */
	enum setup_owner owner;
	mode_t mode;
};

static const struct setup_dir setup_dirs[] = {
    {SETUP_QUEUE, "", SETUP_ROOT, 0755},
    {SETUP_QUEUE, "pid", SETUP_ROOT, 0755},
    /* master binds the private sockets here (mode 0660, group of
     * mail_owner): the mail system's processes connect to them, including
     * services that run as another user in mail_owner's group (lmtpd as
     * vmail). */
    {SETUP_QUEUE, "private", SETUP_MAIL_OWNER, 0710},
    /* Local users reach public/submit (sendmail) and public/qmgr: search
     * access for all, no listing. smtpd identifies them by SO_PEERCRED. */
    {SETUP_QUEUE, "public", SETUP_MAIL_OWNER, 0711},
    /* The mail queue (lib/mail/queue_file.h): only mail_owner's
     * processes (smtpd, qmgr, smtp) read or write it. */
    {SETUP_QUEUE, "incoming", SETUP_MAIL_OWNER, 0700},
    {SETUP_QUEUE, "active", SETUP_MAIL_OWNER, 0700},
    {SETUP_QUEUE, "deferred", SETUP_MAIL_OWNER, 0700},
    {SETUP_QUEUE, "hold", SETUP_MAIL_OWNER, 0700},
    {SETUP_QUEUE, "corrupt", SETUP_MAIL_OWNER, 0700},
    {SETUP_QUEUE, "maildrop", SETUP_MAIL_OWNER, 0700},
    {SETUP_DATA, "", SETUP_MAIL_OWNER, 0700},
};

/* Creates system user name (own group); extra_group, if not NULL, becomes
 * a supplementary group so the user can reach the private sockets. */
static int
setup_useradd(const char *name, const char *extra_group)
{
	int wstatus;
	pid_t pid;

	pid = fork();
	if (pid < 0) {
		log_error("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		if (extra_group != NULL)
			execl(SETUP_USERADD, "useradd", "--system",
			      "--no-create-home", "--home-dir", "/nonexistent",
			      "--shell", SETUP_NOLOGIN, "--user-group",
			      "--groups", extra_group, "--comment",
			      "Dovetail mail system", name, (char *)NULL);
		else
			execl(SETUP_USERADD, "useradd", "--system",
			      "--no-create-home", "--home-dir",
			      var_queue_directory, "--shell", SETUP_NOLOGIN,
			      "--user-group", "--comment",
			      "Dovetail mail system", name, (char *)NULL);
		dprintf(2, "dovetail: exec %s: %s\n", SETUP_USERADD,
			strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &wstatus, 0) < 0) {
		if (errno != EINTR) {
			log_error("waitpid: %s", strerror(errno));
			return -1;
		}
	}
	if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
		/* Another "dovetail setup" may have created it meanwhile. */
		if (getpwnam(name) != NULL)
			return 0;
		log_error("%s %s failed", SETUP_USERADD, name);
		return -1;
	}
	return 0;
}

static int
setup_user(bool quiet, uid_t *uid_r, gid_t *gid_r)
{
	struct passwd *pw;

	if (strchr(var_mail_owner, ':') != NULL || var_mail_owner[0] == '\0') {
		log_error("mail_owner: \"%s\" is not a user name",
			  var_mail_owner);
		return -1;
	}
	pw = getpwnam(var_mail_owner);
	if (pw == NULL) {
		if (setup_useradd(var_mail_owner, NULL) < 0)
			return -1;
		pw = getpwnam(var_mail_owner);
		if (pw == NULL) {
			log_error("user %s: not found after useradd",
				  var_mail_owner);
			return -1;
		}
		log_info("created system user %s (uid %d)", var_mail_owner,
			 (int)pw->pw_uid);
	} else if (!quiet) {
		log_info("user %s exists (uid %d)", var_mail_owner,
			 (int)pw->pw_uid);
	}
	if (pw->pw_uid == 0 || pw->pw_gid == 0) {
		log_error("mail_owner %s: must not be root or in group root",
			  var_mail_owner);
		return -1;
	}
	*uid_r = pw->pw_uid;
	*gid_r = pw->pw_gid;
	return 0;
}

static int
setup_one_dir(const struct setup_dir *d, uid_t owner_uid, gid_t owner_gid)
{
	const char *base =
	    d->base == SETUP_QUEUE ? var_queue_directory : var_data_directory;
	uid_t uid = d->owner == SETUP_ROOT ? 0 : owner_uid;
	gid_t gid = d->owner == SETUP_ROOT ? 0 : owner_gid;
	const char *error;
	struct stat st;
	char *path;
	bool existed;
	int ret = 0;

	if (base[0] != '/') {
		log_error("%s: must be an absolute path",
			  d->base == SETUP_QUEUE ? "queue_directory"
						 : "data_directory");
		return -1;
	}
	path = d->sub[0] == '\0' ? xstrdup(base)
				 : xasprintf("%s/%s", base, d->sub);
	existed = lstat(path, &st) == 0;
	if (existed && !S_ISDIR(st.st_mode)) {
		log_error("%s: exists and is not a directory", path);
		xfree(&path);
		return -1;
	}
	if (existed && st.st_uid == uid && st.st_gid == gid &&
	    (st.st_mode & 07777) == d->mode) {
		xfree(&path);
		return 0;
	}
	if (safe_mkdir_p(path, d->mode, uid, gid, &error) < 0) {
		log_error("%s", error);
		ret = -1;
	} else if (!existed) {
		log_info("created %s (mode %04o)", path, (unsigned int)d->mode);
	} else {
		log_info("fixed owner/mode of %s (mode %04o)", path,
			 (unsigned int)d->mode);
	}
	xfree(&path);
	return ret;
}

/* Creates the users master.cf names in its unpriv column (e.g. vmail for
 * lmtpd) when they do not exist, in mail_owner's group. A group named
 * there must exist already: setup does not guess what it is for. */
static int
setup_service_users(gid_t owner_gid)
{
	struct master_cf cf;
	struct group *gr;
	char *path, *error = NULL;
	int ret = 0;

	path = xasprintf("%s/master.cf", dovetail_config_dir);
	if (master_cf_parse_file(path, &cf, &error) < 0) {
		/* dovetail check reports the details. */
		log_error("%s", error);
		free(error);
		xfree(&path);
		return -1;
	}
	xfree(&path);
	gr = getgrgid(owner_gid);
	for (size_t i = 0; i < cf.n_services; i++) {
		const struct master_service *svc = &cf.services[i];
		struct passwd *pw;

		if (svc->user == NULL || getpwnam(svc->user) != NULL)
			continue;
		if (setup_useradd(svc->user, gr != NULL ? gr->gr_name : NULL) <
			0 ||
		    (pw = getpwnam(svc->user)) == NULL) {
			ret = -1;
			continue;
		}
		log_info("created system user %s (uid %d) for service %s",
			 svc->user, (int)pw->pw_uid, svc->name);
	}
	master_cf_free(&cf);
	return ret;
}

int
dovetail_setup_run(bool quiet)
{
	uid_t uid;
	gid_t gid;
	int ret = 0;

	if (geteuid() != 0) {
		log_error("setup: must be run as root");
		return -1;
	}
	if (setup_user(quiet, &uid, &gid) < 0)
		return -1;
	if (setup_service_users(gid) < 0)
		ret = -1;
	for (size_t i = 0; i < sizeof(setup_dirs) / sizeof(setup_dirs[0]);
	     i++) {
		if (setup_one_dir(&setup_dirs[i], uid, gid) < 0)
			ret = -1;
	}
	return ret;
}

int
dovetail_cmd_setup(int argc, char **argv)
{
	if (dovetail_getopt(argc, argv, NULL, NULL, NULL) != argc)
		return 2;
	if (dovetail_load_main() < 0)
		return 1;
	return dovetail_setup_run(false) < 0 ? 1 : 0;
}
