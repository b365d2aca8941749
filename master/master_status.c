/*
 * master_status - writes $queue_directory/pid/master.status, the file
 * "dovetail status" and "dovetail start" read. Written atomically (temp
 * file, fsync, rename) after every change, so a reader never sees half a
 * file. Format, one record per line, fields separated by one space:
 *   master PID
 *   service NAME TYPE ADDRESS MAXPROC STATE     (STATE: running|throttled)
 *   process NAME TYPE PID STATE                 (STATE:
 * ready|starting|stopping) Names and addresses come from master.cf and contain
 * no white space. Must not block for long: the file is small and local.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "master.h"
#include "util/log.h"
#include "util/safe_file.h"
#include "util/strbuf.h"
#include "util/xmem.h"

#define MASTER_STATUS_MAX (1024 * 1024)

static char *
master_status_path(void)
{
	return xasprintf("%s/pid/master.status",
			 master.settings.queue_directory);
}

void
master_status_update(void)
{
	struct strbuf sb;
	const char *error;
	char *path;
	int ret = 0;

	if (master.settings.queue_directory == NULL)
		return;
	strbuf_init(&sb, MASTER_STATUS_MAX);
	ret |= strbuf_printf(&sb, "master %d\n", (int)getpid());
	for (struct master_svc *s = master.services; s != NULL; s = s->next) {
		if (s->retired)
			continue;
		ret |= strbuf_printf(&sb, "service %s %s %s %u %s\n", s->name,
				     master_service_type_name(s->type),
				     s->address, s->maxproc,
				     s->throttled ? "throttled" : "running");
	}
	for (struct master_proc *p = master.procs; p != NULL; p = p->next) {
		const char *state = p->stopping ? "stopping"
				    : p->ready	? "ready"
						: "starting";

		ret |= strbuf_printf(&sb, "process %s %s %d %s\n",
				     p->service->name,
				     master_service_type_name(p->service->type),
				     (int)p->pid, state);
	}
	if (ret != 0) {
		log_warning("master: status file would exceed %d bytes",
			    MASTER_STATUS_MAX);
		strbuf_release(&sb);
		return;
	}
	path = master_status_path();
	if (safe_file_write(path, sb.data, sb.len, 0644, &error) < 0)
		log_warning("master: %s", error);
	xfree(&path);
	strbuf_release(&sb);
}

void
master_status_remove(void)
{
	char *path;

	if (master.settings.queue_directory == NULL)
		return;
	path = master_status_path();
	if (unlink(path) < 0 && errno != ENOENT)
		log_warning("master: unlink %s: %s", path, strerror(errno));
	xfree(&path);
}
