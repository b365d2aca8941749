/*
 * maildir - the Maildir++ tree as Dovecot lays it out: INBOX is the root
 * (cur/ new/ tmp/), a folder "A.B" (IMAP name, '.' as hierarchy
 * separator) lives in root/.A.B with its name in modified UTF-7 and a
 * "maildirfolder" file. Directories are created mode 0700, as Dovecot
 * creates them. Blocking file-system work: call from worker threads.
 * Folder names are untrusted (they come from "user+folder@" addresses):
 * anything that could leave the root or name a non-folder is refused.
 */
#ifndef MAILDIR_H
#define MAILDIR_H

#include <stdbool.h>

/* Longest folder name (UTF-8 bytes) accepted. */
#define MAILDIR_FOLDER_NAME_MAX 200

/* Sets *dir_r (allocated) to the directory of folder under root: root
 * itself for NULL, "" or INBOX (any case), else root/.<mUTF-7 name>.
 * -1 with *error_r when the name is invalid: not UTF-8, over
 * MAILDIR_FOLDER_NAME_MAX, an empty hierarchy level ("A..B", ".A", "A."),
 * a '/' or control character. */
int maildir_folder_dir(const char *root, const char *folder, char **dir_r,
		       const char **error_r);

/* 1 when dir holds cur/, new/ and tmp/ directories, 0 when dir does not
 * exist or lacks one of them, -1 on another error. */
int maildir_exists(const char *dir, const char **error_r);

/* Creates dir (missing parents too) and its cur/ new/ tmp/, all mode 0700;
 * existing ones are kept. A folder (is_folder) also gets an empty
 * "maildirfolder" file (mode 0600). *error_r is per-thread static. */
int maildir_create(const char *dir, bool is_folder, const char **error_r);

/* The per-thread error buffer the maildir modules fill (internal). */
const char *maildir_set_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif
