/*
 * priv - user lookup, privilege drop and chroot for the daemon skeleton.
 */
#ifndef PRIV_H
#define PRIV_H

#include <sys/types.h>

/* Looks up "user" (its primary group) or "user:group". Numeric ids are
 * accepted when no such name exists (a numeric uid needs an explicit
 * group). 0, or -1 and *error_r (valid until the next priv_* call). */
int priv_lookup_user(const char *spec, uid_t *uid_r, gid_t *gid_r,
		     const char **error_r);
/* Drops to uid/gid for good: supplementary groups from username
 * (initgroups) or just gid, then setresgid, setresuid. Verifies that all
 * real/effective/saved ids changed and, for a non-root uid, that setuid(0)
 * fails. -1 and *error_r on any failure: the caller must exit. */
int priv_drop(uid_t uid, gid_t gid, const char *username, const char **error_r);
/* chdir(dir), chroot("."), chdir("/"). Needs root. */
int priv_chroot(const char *dir, const char **error_r);

#endif
