/*
 * auth_map - thread-safe map handle with reload of changed flat files.
 * Lookups take a read lock; a reload (open the new file, swap) takes the
 * write lock, so no lookup ever sees a closed map. The file is the admin's
 * (trusted); keys come from clients and go to map_lookup() unchanged.
 */
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

#include "auth_map.h"
#include "util/xmem.h"

struct auth_map {
	char *spec;
	const char *path; /* inside spec; NULL for maps that are not files */
	pthread_rwlock_t lock;
	pthread_mutex_t reload_lock;
	struct map *map;
	struct stat st;	    /* of the file the map was read from */
	char *reload_error; /* last failed reload, or NULL */
};

static bool
auth_map_same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

struct auth_map *
auth_map_open(const char *spec, const char **error_r)
{
	struct auth_map *map = xcalloc(1, sizeof(*map));

	map->spec = xstrdup(spec);
	if (strncmp(spec, "passwd-file:", 12) == 0)
		map->path = map->spec + 12;
	else if (strncmp(spec, "texthash:", 9) == 0)
		map->path = map->spec + 9;
	/* stat before reading: a change while reading means a re-read. */
	if (map->path != NULL && stat(map->path, &map->st) < 0)
		memset(&map->st, 0, sizeof(map->st));
	map->map = map_open(spec, MAP_DOVECOT_EXPANSIONS, error_r);
	if (map->map == NULL) {
		xfree(&map->spec);
		xfree(&map);
		return NULL;
	}
	pthread_rwlock_init(&map->lock, NULL);
	pthread_mutex_init(&map->reload_lock, NULL);
	return map;
}

void
auth_map_close(struct auth_map **mapp)
{
	struct auth_map *map = *mapp;

	if (map == NULL)
		return;
	map_close(&map->map);
	pthread_rwlock_destroy(&map->lock);
	pthread_mutex_destroy(&map->reload_lock);
	xfree(&map->reload_error);
	xfree(&map->spec);
	xfree(mapp);
}

/* Re-reads the file if it changed; one thread at a time. */
static void
auth_map_refresh(struct auth_map *map)
{
	struct stat st;
	struct map *fresh;
	const char *error;

	if (map->path == NULL)
		return;
	pthread_mutex_lock(&map->reload_lock);
	if (stat(map->path, &st) < 0 || auth_map_same_file(&st, &map->st)) {
		pthread_mutex_unlock(&map->reload_lock);
		return;
	}
	fresh = map_open(map->spec, MAP_DOVECOT_EXPANSIONS, &error);
	pthread_rwlock_wrlock(&map->lock);
	map->st = st;
	xfree(&map->reload_error);
	if (fresh != NULL) {
		map_close(&map->map);
		map->map = fresh;
	} else {
		map->reload_error = xstrdup(error);
	}
	pthread_rwlock_unlock(&map->lock);
	pthread_mutex_unlock(&map->reload_lock);
}

enum map_status
auth_map_lookup(struct auth_map *map, const char *key,
		struct map_result *result, char **error_r)
{
	enum map_status status;
	const char *error = NULL;

	auth_map_refresh(map);
	pthread_rwlock_rdlock(&map->lock);
	if (map->reload_error != NULL) {
		*error_r = xasprintf("%s (the file changed and cannot be "
				     "read again)",
				     map->reload_error);
		pthread_rwlock_unlock(&map->lock);
		return MAP_TEMPFAIL;
	}
	status = map_lookup(map->map, key, result, &error);
	if (status == MAP_TEMPFAIL)
		*error_r = xstrdup(error != NULL ? error : "lookup failed");
	pthread_rwlock_unlock(&map->lock);
	return status;
}
