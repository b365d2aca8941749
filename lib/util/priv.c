/*
 * priv - giving up root. Input is trusted configuration (user and
 * directory names). It must never return success while any real,
 * effective or saved id still allows regaining root.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/priv.h"

#define PRIV_NAME_MAX 256
#define PRIV_GETPW_BUF 16384

static char priv_error_buf[512];

static const char *
priv_error(const char *func, const char *object, const char *detail)
{
	snprintf(priv_error_buf, sizeof(priv_error_buf), "%s: %s: %s", func,
		 object, detail);
	return priv_error_buf;
}

static int
priv_parse_id(const char *s, unsigned long *id_r)
{
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	*id_r = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || *id_r >= (unsigned long)(uid_t)-1)
		return -1;
	return 0;
}

int
priv_lookup_user(const char *spec, uid_t *uid_r, gid_t *gid_r,
		 const char **error_r)
{
	char user[PRIV_NAME_MAX], buf[PRIV_GETPW_BUF];
	const char *colon = strchr(spec, ':'), *group = NULL;
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;
	size_t len = colon != NULL ? (size_t)(colon - spec) : strlen(spec);
	unsigned long id;

	if (len == 0 || len >= sizeof(user)) {
		*error_r =
		    priv_error("priv_lookup_user", spec, "bad user name");
		return -1;
	}
	memcpy(user, spec, len);
	user[len] = '\0';
	if (colon != NULL) {
		group = colon + 1;
		if (group[0] == '\0' || strlen(group) >= PRIV_NAME_MAX) {
			*error_r = priv_error("priv_lookup_user", spec,
					      "bad group name");
			return -1;
		}
	}
	if (getpwnam_r(user, &pw, buf, sizeof(buf), &pwp) == 0 && pwp != NULL) {
		*uid_r = pw.pw_uid;
		*gid_r = pw.pw_gid;
	} else if (priv_parse_id(user, &id) == 0 && group != NULL) {
		*uid_r = (uid_t)id;
	} else {
		*error_r = priv_error("priv_lookup_user", user, "no such user");
		return -1;
	}
	if (group == NULL)
		return 0;
	if (getgrnam_r(group, &gr, buf, sizeof(buf), &grp) == 0 &&
	    grp != NULL) {
		*gid_r = gr.gr_gid;
	} else if (priv_parse_id(group, &id) == 0) {
		*gid_r = (gid_t)id;
	} else {
		*error_r =
		    priv_error("priv_lookup_user", group, "no such group");
		return -1;
	}
	return 0;
}

int
priv_drop(uid_t uid, gid_t gid, const char *username, const char **error_r)
{
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;

	if (username != NULL ? initgroups(username, gid) < 0
			     : setgroups(1, &gid) < 0) {
		*error_r =
		    priv_error("priv_drop", "setgroups", strerror(errno));
		return -1;
	}
	if (setresgid(gid, gid, gid) < 0) {
		*error_r =
		    priv_error("priv_drop", "setresgid", strerror(errno));
		return -1;
	}
	if (setresuid(uid, uid, uid) < 0) {
		*error_r =
		    priv_error("priv_drop", "setresuid", strerror(errno));
		return -1;
	}
	if (getresuid(&ruid, &euid, &suid) < 0 ||
	    getresgid(&rgid, &egid, &sgid) < 0 || ruid != uid || euid != uid ||
	    suid != uid || rgid != gid || egid != gid || sgid != gid) {
		*error_r =
		    priv_error("priv_drop", "verify", "ids did not change");
		return -1;
	}
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		*error_r =
		    priv_error("priv_drop", "verify", "could regain root");
		return -1;
	}
	return 0;
}

int
priv_chroot(const char *dir, const char **error_r)
{
	if (chdir(dir) < 0) {
		*error_r = priv_error("priv_chroot", dir, strerror(errno));
		return -1;
	}
	if (chroot(".") < 0) {
		*error_r = priv_error("priv_chroot", dir, strerror(errno));
		return -1;
	}
	if (chdir("/") < 0) {
		*error_r = priv_error("priv_chroot", "/", strerror(errno));
		return -1;
	}
	return 0;
}
