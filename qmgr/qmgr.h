/*
 * qmgr - the queue manager: moves mail incoming -> active, resolves each
 * recipient to a transport, hands deliveries to the delivery agents over
 * deliver_proto, records the results, defers with back-off and removes
 * finished files. Never touches the network; disk work runs on workers.
 */
#ifndef QMGR_H
#define QMGR_H

#include <stdbool.h>
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

/* main.c: asks for a queue scan soon (incoming, and deferred when due). */
void qmgr_scan_request(bool deferred);
/* A message left active/: rescan if an earlier scan ran out of room. */
void qmgr_scan_room(void);

#endif
