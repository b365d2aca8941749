/*
 * auth_map - a map as the auth daemon uses it: shared by the worker
 * threads, and for the flat-file maps (passwd-file:, texthash:) re-read
 * when the file changes, as Dovecot re-reads a changed passwd-file, so
 * "dovetail user add" works without restarting auth. SQL maps are used as
 * they are (every lookup asks the database).
 */
#ifndef AUTH_MAP_H
#define AUTH_MAP_H

#include "mail/map.h"

struct auth_map;

/* map_open() with Dovecot's %-expansions. NULL with *error_r (as
 * map_open's) on failure. */
struct auth_map *auth_map_open(const char *spec, const char **error_r);
void auth_map_close(struct auth_map **mapp);

/* Any thread. Like map_lookup(), but *error_r is allocated (caller frees)
 * on MAP_TEMPFAIL. A file that changed is re-read first; if it no longer
 * parses, lookups fail temporarily until it is fixed (the old contents are
 * not served: they may hold a user the admin just removed). */
enum map_status auth_map_lookup(struct auth_map *map, const char *key,
				struct map_result *result, char **error_r);

#endif
