/*
 * master_reload - applies a configuration to the running master, at start
 * and on SIGHUP. Each service carries a fingerprint of everything that
 * shapes its processes (its master.cf entry with -o overrides, main.cf,
 * its daemon's own file); a service whose fingerprint is unchanged is left
 * alone with its live sessions, a changed one gets new processes on the
 * same listening socket while the old ones finish theirs, a removed one
 * is stopped and a new one started. A configuration with errors, or one
 * whose listeners cannot be bound, is refused as a whole and the running
 * one stays. Trusts the admin's files only; never blocks.
 */
#include <string.h>

#include "dovetail_paths.h"
#include "master.h"
#include "util/log.h"
#include "util/xmem.h"

static struct master_svc *
master_reload_find(struct master_svc *list, const struct master_svc *wanted)
{
	for (struct master_svc *s = list; s != NULL; s = s->next) {
		if (!s->retired && s->type == wanted->type &&
		    strcmp(s->name, wanted->name) == 0)
			return s;
	}
	return NULL;
}

static struct master_svc *
master_reload_find_address(struct master_svc *list,
			   const struct master_svc *wanted)
{
	for (struct master_svc *s = list; s != NULL; s = s->next) {
		if (!s->retired && s->listen_fd >= 0 &&
		    master_service_same_address(s, wanted))
			return s;
	}
	return NULL;
}

static bool
master_reload_unchanged(const struct master_svc *old,
			const struct master_svc *new)
{
	return old != NULL && old->fingerprint[0] == new->fingerprint[0] &&
	       old->fingerprint[1] == new->fingerprint[1];
}

static bool
master_reload_path_in_use(const struct master_svc *list,
			  const struct master_svc *old)
{
	for (const struct master_svc *s = list; s != NULL; s = s->next) {
		if (s != old && !s->retired && s->path != NULL &&
		    old->path != NULL && strcmp(s->path, old->path) == 0)
			return true;
	}
	return false;
}

static void
master_reload_retire(struct master_svc *old, const struct master_svc *final)
{
	old->retired = true;
	master_service_stop_timers(old);
	master_spawn_stop_service(old);
	master_service_unlisten(old, !master_reload_path_in_use(final, old));
}

int
master_reload_apply(struct master_settings *settings,
		    struct master_svc **servicesp)
{
	struct master_svc *new_list = *servicesp, *old_list;
	struct master_svc *final = NULL, **tail = &final, *next;
	bool reloading;

	/* Phase 1: everything that can fail, undone on failure. */
	for (struct master_svc *n = new_list; n != NULL; n = n->next) {
		struct master_svc *old = master_reload_find(master.services, n);

		if (master_reload_unchanged(old, n))
			continue;
		if (master_service_listen(n, master_reload_find_address(
						 master.services, n)) < 0) {
			for (struct master_svc *u = new_list; u != n;
			     u = u->next)
				master_service_unlisten(u, false);
			return -1;
		}
	}

	/* Phase 2: commit. Kept services move to the new list as they are. */
	reloading = master.services != NULL;
	old_list = master.services;
	master.services = NULL;
	for (struct master_svc *n = new_list; n != NULL; n = next) {
		struct master_svc *old = master_reload_find(old_list, n);
		struct master_svc **pp;

		next = n->next;
		n->next = NULL;
		if (master_reload_unchanged(old, n)) {
			for (pp = &old_list; *pp != old; pp = &(*pp)->next)
				;
			*pp = old->next;
			old->next = NULL;
			master_service_free(&n);
			*tail = old;
			tail = &old->next;
			continue;
		}
		if (old != NULL)
			log_info("reload: service %s/%s changed: restarting",
				 n->name, master_service_type_name(n->type));
		else if (reloading)
			log_info("reload: service %s/%s added", n->name,
				 master_service_type_name(n->type));
		*tail = n;
		tail = &n->next;
	}
	*servicesp = NULL;

	/* Whatever is left of the old list was removed or replaced. */
	while (old_list != NULL) {
		struct master_svc *old = old_list;

		old_list = old->next;
		old->next = NULL;
		if (!old->retired && master_reload_find(final, old) == NULL)
			log_info("reload: service %s/%s removed", old->name,
				 master_service_type_name(old->type));
		if (!old->retired)
			master_reload_retire(old, final);
		*tail = old;
		tail = &old->next;
	}
	master.services = final;

	master_settings_free(&master.settings);
	master.settings = *settings;
	memset(settings, 0, sizeof(*settings));

	/* Retired services without processes can go now; the others go
	 * with their last process (master_spawn.c). */
	for (struct master_svc **pp = &master.services; *pp != NULL;) {
		struct master_svc *s = *pp;
		bool busy = false;

		if (s->retired) {
			for (struct master_proc *p = master.procs; p != NULL;
			     p = p->next)
				busy |= p->service == s;
		}
		if (s->retired && !busy) {
			*pp = s->next;
			master_service_free(&s);
			continue;
		}
		pp = &s->next;
	}
	for (struct master_svc *s = master.services; s != NULL; s = s->next) {
		if (s->retired)
			continue;
		master_service_start_wakeup(s);
		master_spawn_fill(s);
	}
	master_status_update();
	return 0;
}

void
master_reload(void)
{
	struct master_settings settings;
	struct master_svc *services = NULL;
	const char *error;

	memset(&settings, 0, sizeof(settings));
	if (master_config_load(master.settings.config_dir, &settings,
			       &services) < 0) {
		log_warning("reload refused: the configuration in %s has "
			    "errors; the running configuration stays",
			    master.settings.config_dir);
		goto out;
	}
	if (strcmp(settings.queue_directory, master.settings.queue_directory) !=
	    0) {
		log_warning("reload refused: queue_directory changed from %s "
			    "to %s; that needs a stop and start",
			    master.settings.queue_directory,
			    settings.queue_directory);
		goto out;
	}
	if (master_reload_apply(&settings, &services) < 0) {
		log_warning("reload refused: a listener could not be bound; "
			    "the running configuration stays");
		goto out;
	}
	log_init(master.settings.syslog_name, "master");
	if (log_set_file(master.settings.maillog_file, &error) < 0)
		log_warning("master: maillog_file: %s", error);
	log_info("reload -- version %s, configuration %s", DOVETAIL_VERSION,
		 master.settings.config_dir);
out:
	master_service_free_list(&services);
	master_settings_free(&settings);
}
