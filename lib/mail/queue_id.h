/*
 * queue_id - Postfix-style long queue IDs.
 *
 * An ID is made from the time the queue file was created (seconds and
 * microseconds) and the inode number of the file, like Postfix's
 * enable_long_queue_ids format: "<sec base52><usec base52>z<inode base51>",
 * e.g. "4ZxTqJ1Hbtz3Vn". The inode part makes it unique while the file
 * exists on one file system; the time part keeps IDs from being reused
 * soon after. IDs use [0-9A-Za-z] only, so they are safe in file names
 * and log lines. Pure functions: no I/O.
 */
#ifndef QUEUE_ID_H
#define QUEUE_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Longest ID plus NUL. */
#define QUEUE_ID_MAX 32

/* Writes the ID for (sec, usec, inode) into buf (QUEUE_ID_MAX bytes). */
void queue_id_make(char buf[QUEUE_ID_MAX], long long sec, long usec,
		   unsigned long long inode);
/* True when s looks like an ID made by queue_id_make (length 4..31,
 * [0-9A-Za-z] only, contains the 'z' separator). Anything else in a queue
 * directory (temp files, editor droppings) is not a queue file. */
bool queue_id_valid(const char *s);

#endif
