/*
 * qmgr - the queue manager: moves mail incoming -> active, resolves each
 * recipient to a transport, hands deliveries to the delivery agents over
 * deliver_proto, records the results, defers with back-off and removes
 * finished files. Never touches the network; disk work runs on workers.
 */
#ifndef QMGR_H
#define QMGR_H

#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>

#include "mail/queue_file.h"

struct qmgr_msg {
	struct qmgr_msg *next; /* in the active list */
	char id[QUEUE_ID_MAX];
	char *path; /* absolute path in active/ */
	struct queue_msg *qm;
	char **transport;     /* per recipient: "lmtp" (NULL = done) */
	char **nexthop;	      /* per recipient */
	char active_time[32]; /* "sec.usec" when taken into active/ */
	unsigned int batches; /* batches waiting or in flight */
	bool finishing;
	/* Per recipient, QMGR_FRESH_* (this activation only). */
	unsigned char *fresh;
	/* The file carries QMGR_MODE_BOUNCE_OWED: a failure notice may not
	 * have been queued for its bounced recipients (crash). */
	bool bounce_owed;
};

/* Queue file mode bits used as durable flags (files are 0600 otherwise):
 * a delay warning was sent; bounced recipients are recorded whose
 * failure notice is not known to be queued (set before the bounced
 * status is appended, cleared once the notice is queued: a crash in
 * between means a duplicate notice, never a lost one). */
#define QMGR_MODE_DELAY_WARNED S_IXUSR
#define QMGR_MODE_BOUNCE_OWED S_IXGRP
/* Sets (on) or clears mode bit on fd. 0, or -1 with errno. */
int qmgr_mode_flag(int fd, mode_t bit, bool on);

/* What happened to a recipient during this activation (qmgr_notify). */
#define QMGR_FRESH_BOUNCED 0x1 /* bounced: a failure notice is owed */
#define QMGR_FRESH_SENT 0x2    /* delivered: maybe a success notice */
#define QMGR_FRESH_EXPIRE 0x4  /* deferred past the queue lifetime */

/* The results of qmgr_notify_run, logged by qmgr_notify_log. */
struct qmgr_notify {
	char bounce_id[QUEUE_ID_MAX]; /* "" = none queued */
	char success_id[QUEUE_ID_MAX];
	char delay_id[QUEUE_ID_MAX];
	bool double_bounce; /* bounce_id went to the postmaster */
	char *warnings[4];  /* allocated; NULL = unused */
};

/* qmgr_resolve.c: reads transport_maps, virtual_mailbox_domains,
 * mydestination (post_init). */
void qmgr_resolve_init(void);
/* Resolves address to *transport_r and *nexthop_r (allocated). 0, or -1
 * on a temporary map failure (*error_r). May block: worker thread. */
int qmgr_resolve(const char *address, char **transport_r, char **nexthop_r,
		 const char **error_r);

/* qmgr_deliver.c: starts the deliveries of a message just activated. */
void qmgr_deliver_msg(struct qmgr_msg *msg);
/* Frees a message struct (not the file). */
void qmgr_msg_free(struct qmgr_msg **msgp);
/* Messages in memory (active). */
extern unsigned int qmgr_active_count;

/* qmgr_notify.c: on the main thread, when a message's last batch is
 * done: marks (QMGR_FRESH_EXPIRE) and logs the recipients whose queue
 * lifetime is over. */
void qmgr_notify_expire(struct qmgr_msg *msg, time_t now);
/* On a worker thread (blocks on the disk): records the expired
 * recipients as bounced, then queues the failure, success and delay
 * notifications owed (dsn_queue). A failure notice that cannot be
 * queued puts its recipients back to deferred, so it is not lost. Never
 * logs: fills *res. Returns true when a notification was queued. */
bool qmgr_notify_run(struct qmgr_msg *msg, struct qmgr_notify *res, time_t now);
/* Main thread: logs and frees what qmgr_notify_run left in *res. */
void qmgr_notify_log(const struct qmgr_msg *msg, struct qmgr_notify *res);
/* Back-off for a recipient after attempts failed attempts (deliver). */
time_t qmgr_backoff(unsigned int attempts);

/* main.c: asks for a queue scan soon (incoming, and deferred when due). */
void qmgr_scan_request(bool deferred);
/* A message left active/: rescan if an earlier scan ran out of room. */
void qmgr_scan_room(void);

#endif
