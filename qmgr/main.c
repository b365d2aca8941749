/*
 * qmgr - queue manager daemon (TRIGGER kind): woken on public/qmgr by
 * Postfix's request bytes: "W" wakeup (smtpd after each queued message,
 * master's timer), "I" scan incoming/, "D" scan deferred/, "A" and "F"
 * scan deferred/ ignoring the back-off times ("dovetail queue flush").
 * hold/ is never scanned.
 * A scan runs on a worker thread: stale temp files are removed, incoming/
 * files (and deferred/ ones whose time has come) are renamed into active/
 * and parsed; on the first scan active/ itself is taken back (a restart
 * resumes everything). Corrupt files go to corrupt/. Trigger bytes are
 * untrusted and only counted; queue files are checked by queue_file.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "mail/mail_params.h"
#include "mail/queue_file.h"
#include "qmgr.h"
#include "server/server.h"
#include "server/worker.h"
#include "util/log.h"
#include "util/safe_file.h"
#include "util/xmem.h"

/* Temp files older than this in incoming/ belong to a dead writer. */
#define QMGR_STALE_TEMP_SECS (24 * 3600)

struct qmgr_scan {
	bool first, deferred, force;
	unsigned int room;
	struct qmgr_msg *found; /* parsed, now in active/ */
	char **warnings;
	unsigned int n_warnings;
};

static bool scan_running, scan_again, scan_again_deferred, first_scan = true;
/* The next deferred scan ignores the files' next-attempt times. */
static bool scan_force;
/* The last scan stopped at qmgr_message_active_limit: rescan when room
 * frees up. */
static bool scan_limited;
static time_t next_deferred_scan;

static void
qmgr_scan_warn(struct qmgr_scan *scan, char *text)
{
	scan->warnings =
	    xreallocarray(scan->warnings, scan->n_warnings + 1, sizeof(char *));
	scan->warnings[scan->n_warnings++] = text;
}

static char *
qmgr_qpath(const char *sub, const char *name)
{
	return xasprintf("%s/%s/%s", var_queue_directory, sub, name);
}

/* Parses active/<id>; a corrupt file is moved to corrupt/. */
static void
qmgr_scan_load(struct qmgr_scan *scan, const char *id)
{
	char *path = qmgr_qpath(QUEUE_DIR_ACTIVE, id);
	struct queue_msg *qm;
	struct qmgr_msg *msg;
	struct timeval tv;
	const char *error;

	if (queue_file_open(path, &qm, &error) < 0) {
		if (errno == EINVAL) {
			char *to = qmgr_qpath(QUEUE_DIR_CORRUPT, id);

			if (rename(path, to) == 0)
				qmgr_scan_warn(
				    scan, xasprintf("%s: %s: moved to corrupt/",
						    id, error));
			else
				qmgr_scan_warn(
				    scan,
				    xasprintf("%s: %s; rename to corrupt/: %s",
					      id, error, strerror(errno)));
			free(to);
		} else {
			qmgr_scan_warn(scan, xstrdup(error));
		}
		free(path);
		return;
	}
	if (qm->torn_tail && truncate(path, qm->valid_size) < 0) {
		qmgr_scan_warn(scan, xasprintf("%s: truncate torn status: %s",
					       id, strerror(errno)));
		queue_msg_free(&qm);
		free(path);
		return;
	}
	msg = xcalloc(1, sizeof(*msg));
	{
		struct stat stb;

		msg->bounce_owed = stat(path, &stb) == 0 &&
				   (stb.st_mode & QMGR_MODE_BOUNCE_OWED) != 0;
	}
	/* id passed queue_id_valid(): shorter than QUEUE_ID_MAX. */
	snprintf(msg->id, sizeof(msg->id), "%.*s", QUEUE_ID_MAX - 1, id);
	msg->path = path;
	msg->qm = qm;
	gettimeofday(&tv, NULL);
	snprintf(msg->active_time, sizeof(msg->active_time), "%lld.%06ld",
		 (long long)tv.tv_sec, (long)tv.tv_usec);
	msg->transport = xcalloc(qm->rcpt_count, sizeof(char *));
	msg->nexthop = xcalloc(qm->rcpt_count, sizeof(char *));
	for (unsigned int i = 0; i < qm->rcpt_count; i++) {
		enum queue_rcpt_state st = qm->rcpts[i].state;

		if (st == QUEUE_RCPT_DELIVERED || st == QUEUE_RCPT_BOUNCED)
			continue;
		if (qmgr_resolve(qm->rcpts[i].address, &msg->transport[i],
				 &msg->nexthop[i], &error) < 0) {
			/* Left unresolved: deferred by qmgr_deliver. */
			qmgr_scan_warn(scan, xasprintf("%s: transport lookup "
						       "for %s: %s",
						       id, qm->rcpts[i].address,
						       error));
			msg->transport[i] = xstrdup("");
			msg->nexthop[i] = xstrdup("");
		}
	}
	msg->next = scan->found;
	scan->found = msg;
}

/* Renames sub/<id> files into active/ (deferred: only those due) and
 * loads them; on the first scan loads active/ as it is. */
static void
qmgr_scan_dir(struct qmgr_scan *scan, const char *sub, bool move)
{
	char *dirpath = xasprintf("%s/%s", var_queue_directory, sub);
	DIR *dir = opendir(dirpath);
	struct dirent *de;
	time_t now = time(NULL);
	bool moved = false;

	if (dir == NULL) {
		qmgr_scan_warn(scan, xasprintf("opendir %s: %s", dirpath,
					       strerror(errno)));
		free(dirpath);
		return;
	}
	/* active/ at start is taken whole, whatever the limit: those files
	 * were already admitted, and later scans never look there again. */
	while ((!move || scan->room > 0) && (de = readdir(dir)) != NULL) {
		struct stat st;
		char *path;

		if (de->d_name[0] == '.') {
			if (strcmp(sub, QUEUE_DIR_INCOMING) != 0 ||
			    strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			path = qmgr_qpath(sub, de->d_name);
			if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
			    st.st_mtime < now - QMGR_STALE_TEMP_SECS) {
				(void)unlink(path);
				qmgr_scan_warn(
				    scan,
				    xasprintf("removed stale temp file %s",
					      path));
			}
			free(path);
			continue;
		}
		if (!queue_id_valid(de->d_name))
			continue;
		if (move) {
			path = qmgr_qpath(sub, de->d_name);
			if (strcmp(sub, QUEUE_DIR_DEFERRED) == 0 &&
			    (stat(path, &st) < 0 ||
			     (!scan->force && st.st_mtime > now))) {
				free(path);
				continue;
			}
			char *to = qmgr_qpath(QUEUE_DIR_ACTIVE, de->d_name);
			int ret = rename(path, to);
			free(path);
			free(to);
			if (ret < 0)
				continue;
			moved = true;
		}
		qmgr_scan_load(scan, de->d_name);
		if (scan->room > 0)
			scan->room--;
	}
	closedir(dir);
	free(dirpath);
	if (moved) {
		const char *error;
		char *active =
		    xasprintf("%s/%s", var_queue_directory, QUEUE_DIR_ACTIVE);

		if (safe_file_fsync_dir(active, &error) < 0)
			qmgr_scan_warn(scan, xstrdup(error));
		free(active);
	}
}

static void
qmgr_scan_run(void *job)
{
	struct qmgr_scan *scan = job;

	if (scan->first)
		qmgr_scan_dir(scan, QUEUE_DIR_ACTIVE, false);
	qmgr_scan_dir(scan, QUEUE_DIR_INCOMING, true);
	if (scan->deferred)
		qmgr_scan_dir(scan, QUEUE_DIR_DEFERRED, true);
}

static void
qmgr_scan_done(void *job)
{
	struct qmgr_scan *scan = job;
	struct qmgr_msg *msg, *next;
	bool full = scan->room == 0;

	scan_limited = full;

	for (unsigned int i = 0; i < scan->n_warnings; i++) {
		log_warning("%s", scan->warnings[i]);
		free(scan->warnings[i]);
	}
	free(scan->warnings);
	for (msg = scan->found; msg != NULL; msg = next) {
		next = msg->next;
		msg->next = NULL;
		log_info("%s: from=<%s>, size=%lld, nrcpt=%u (queue active)",
			 msg->id, msg->qm->sender,
			 (long long)msg->qm->content_size, msg->qm->rcpt_count);
		qmgr_deliver_msg(msg);
	}
	free(scan);
	scan_running = false;
	if (scan_again || full) {
		bool d = scan_again_deferred;

		scan_again = scan_again_deferred = false;
		if (!full || qmgr_active_count < var_qmgr_message_active_limit)
			qmgr_scan_request(d);
	}
}

void
qmgr_scan_room(void)
{
	if (scan_limited || scan_again)
		qmgr_scan_request(false);
}

void
qmgr_scan_request(bool deferred)
{
	struct qmgr_scan *scan;

	if (scan_running) {
		scan_again = true;
		scan_again_deferred |= deferred;
		return;
	}
	if (qmgr_active_count >= var_qmgr_message_active_limit) {
		scan_again = true;
		scan_again_deferred |= deferred;
		return;
	}
	scan = xcalloc(1, sizeof(*scan));
	scan->first = first_scan;
	scan->deferred = deferred || first_scan;
	if (scan->deferred) {
		scan->force = scan_force;
		scan_force = false;
	}
	scan->room =
	    (unsigned int)(var_qmgr_message_active_limit - qmgr_active_count);
	first_scan = false;
	scan_running = true;
	if (scan->deferred)
		next_deferred_scan = time(NULL) + var_queue_run_delay;
	worker_submit(server_workers(), qmgr_scan_run, qmgr_scan_done, scan);
}

static void
qmgr_on_trigger(const char *data, size_t len, void *ctx)
{
	bool deferred = time(NULL) >= next_deferred_scan;

	(void)ctx;
	/* Untrusted bytes: unknown ones are ignored, as Postfix does. */
	for (size_t i = 0; i < len; i++) {
		switch (data[i]) {
		case 'A': /* QMGR_REQ_SCAN_ALL: ignore the time stamps */
		case 'F': /* QMGR_REQ_FLUSH_DEAD: forget the back-off */
			scan_force = true;
			deferred = true;
			break;
		case 'D': /* QMGR_REQ_SCAN_DEFERRED */
			deferred = true;
			break;
		default: /* 'I', 'W', master's wakeup */
			break;
		}
	}
	/* Incoming always; deferred when asked or its time has come. */
	qmgr_scan_request(deferred);
}

static void
qmgr_on_timer(void *ctx)
{
	(void)ctx;
	if (time(NULL) >= next_deferred_scan)
		qmgr_scan_request(true);
}

static void
qmgr_post_init(void *ctx)
{
	(void)ctx;
	qmgr_resolve_init();
	qmgr_scan_request(true);
}

int
main(int argc, char **argv)
{
	static const struct server_spec spec = {
	    .name = "qmgr",
	    .kind = SERVER_KIND_TRIGGER,
	    .post_init = qmgr_post_init,
	    .on_trigger = qmgr_on_trigger,
	    .on_timer = qmgr_on_timer,
	    .timer_interval = 1,
	};

	server_main(argc, argv, &spec);
}
