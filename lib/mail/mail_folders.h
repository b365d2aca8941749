/*
 * mail_folders - a user's Maildir++ folder tree as Dovecot lays it out
 * (LAYOUT=maildir++, the default): INBOX is the root Maildir, folder "a.b"
 * is the directory root/.a.b, each hierarchy level's name in modified
 * UTF-7 and "." as the hierarchy separator; every folder holds cur/ new/
 * tmp/ and an empty "maildirfolder" file. The "subscriptions" file in the
 * root is read in both of Dovecot's formats and rewritten in the format it
 * had (see mail_subs_*).
 *
 * Names here are UTF-8 (as the IMAP layer decodes them); names are
 * untrusted (they come from clients and from directory entries): every
 * name is checked before it becomes a path, and nothing outside the root
 * is created, renamed or removed. Directory entries and the subscriptions
 * file are untrusted too (anything with the mail uid writes them) and are
 * bounded. The matcher and the subscriptions parser/serializer are pure;
 * the other functions do blocking file I/O (session threads). Errors go to
 * *error_r (per-thread static, see maildir_set_error()).
 *
 * Implemented in mail_folders.c (names, matcher, listing),
 * mail_folders_tree.c (create, delete, rename, usage) and mail_subs.c
 * (subscriptions).
 */
#ifndef MAIL_FOLDERS_H
#define MAIL_FOLDERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAIL_FOLDERS_SEP '.'
/* Longest UTF-8 name considered (the encoded form is limited anyway). */
#define MAIL_FOLDERS_NAME_INPUT_MAX 2048
/* A folder's directory name (".a.b", mUTF-7) must fit NAME_MAX. */
#define MAIL_FOLDERS_DIRNAME_MAX 255
/* Most folders listed (beyond, the listing fails). */
#define MAIL_FOLDERS_MAX 20000
/* Largest subscriptions file read. */
#define MAIL_SUBS_MAX_SIZE (4u * 1024 * 1024)
/* Dovecot's unfinished-delete directory ("." + sep + DOVECOT-TRASH). */
#define MAIL_FOLDERS_TRASH_DIR "..DOVECOT-TRASH"

/* Results of the tree operations (besides 0 = done). */
enum mail_folders_status {
	MAIL_FOLDERS_OK = 0,
	MAIL_FOLDERS_ERROR = -1,    /* system error, details in *error_r */
	MAIL_FOLDERS_EXISTS = -2,   /* target exists already */
	MAIL_FOLDERS_NOTFOUND = -3, /* no such folder */
	MAIL_FOLDERS_INVALID = -4,  /* name refused; *error_r says why */
	MAIL_FOLDERS_INBOX = -5,    /* not possible for INBOX (DELETE) */
};

struct mail_folders {
	char *root;	 /* the Maildir++ root (absolute) */
	char *inbox_dir; /* INBOX's Maildir: root unless INBOX= was given */
};

struct mail_folders *mail_folders_new(const char *root, const char *inbox_dir);
void mail_folders_free(struct mail_folders **fp);

/*
 * Names. mail_folders_name_check() returns the canonical form of a UTF-8
 * name (allocated): "INBOX" in any case becomes "INBOX", as does the first
 * level of "inbox.x"; NULL with *error_r (a sentence for the client) when
 * the name is not valid UTF-8, is empty, has an empty level (a separator
 * at either end or two in a row), a '/', "*" or "%", a
 * control character, or does not fit MAIL_FOLDERS_DIRNAME_MAX once
 * encoded.
 */
char *mail_folders_name_check(const char *name, const char **error_r);
/* The directory of a checked name (allocated). */
char *mail_folders_dir(const struct mail_folders *f, const char *name);

/*
 * The IMAP LIST pattern matcher (RFC 3501 6.3.8): "*" matches anything,
 * "%" anything but the separator. The INBOX part of a name (the whole
 * name "INBOX" or its first level) is compared case-insensitively.
 * Returns MAIL_MATCH_YES, or MAIL_MATCH_NO with MAIL_MATCH_CHILDREN set
 * when some name below name (name + sep + ...) could match.
 */
#define MAIL_MATCH_NO 0
#define MAIL_MATCH_YES 1
#define MAIL_MATCH_CHILDREN 2
int mail_folders_match(const char *pattern, const char *name);

/*
 * Listing. Every folder of the tree, sorted by name (strcmp), INBOX
 * included; parents that do not exist as directories ("a" when only .a.b
 * exists) are listed with MAIL_FOLDER_NONEXISTENT. Directories whose name
 * does not decode or breaks the name rules are skipped, as are files.
 */
#define MAIL_FOLDER_NONEXISTENT 0x01 /* only a parent of other names */
#define MAIL_FOLDER_NOSELECT 0x02    /* a directory without cur/ */
#define MAIL_FOLDER_CHILDREN 0x04    /* has names below it */

struct mail_folder_info {
	char *name;
	unsigned int flags;
};

struct mail_folder_list {
	struct mail_folder_info *items;
	size_t count;
};

int mail_folders_list(const struct mail_folders *f,
		      struct mail_folder_list *list_r, const char **error_r);
void mail_folder_list_free(struct mail_folder_list *list);
/* The entry of name (canonical), or NULL. Binary search. */
const struct mail_folder_info *
mail_folder_list_find(const struct mail_folder_list *list, const char *name);
/* The index of the first entry not sorting before key (strcmp). */
size_t mail_folder_list_lower_bound(const struct mail_folder_list *list,
				    const char *key);
/* True when some entry lies below name. */
bool mail_folder_list_has_children(const struct mail_folder_list *list,
				   const char *name);

/* 1 when the folder's directory exists (INBOX: always, it is created at
 * login), 0 when not, -1 on error. */
int mail_folders_exists(const struct mail_folders *f, const char *name,
			const char **error_r);

/* Creates a folder (cur/ new/ tmp/ and "maildirfolder"): EXISTS when its
 * directory exists (INBOX always exists). Parents are not created (a
 * Maildir++ name needs none; LIST shows them as \Noselect). */
int mail_folders_create(const struct mail_folders *f, const char *name,
			const char **error_r);

/* Deletes a folder and everything in it (its index too) the way Dovecot
 * does: renamed to MAIL_FOLDERS_TRASH_DIR first, so that it vanishes at
 * once, then removed. Folders below it stay (they become children of a
 * \Noselect name, RFC 3501 6.3.4). INBOX: MAIL_FOLDERS_INBOX. */
int mail_folders_delete(const struct mail_folders *f, const char *name,
			const char **error_r);

/* Renames a folder and the folders below it. NOTFOUND when neither
 * exists, EXISTS when the new name does. Renaming INBOX moves its
 * messages (cur/ and new/, and its dovecot-keywords) into a new folder and
 * leaves INBOX empty; folders below INBOX are not moved (RFC 3501
 * 6.3.5). */
int mail_folders_rename(const struct mail_folders *f, const char *oldname,
			const char *newname, const char **error_r);

/* Bytes (S= of each file name, else its size) and number of messages in
 * every folder's cur/ and new/: the quota usage. */
int mail_folders_usage(const struct mail_folders *f, uint64_t *bytes_r,
		       uint64_t *messages_r, const char **error_r);

/*
 * Subscriptions: root/subscriptions as Dovecot 2.3 keeps it. Version 1:
 * one storage name (mUTF-7, "." between levels) per line. Version 2
 * starts with "V\t2\n\n" and separates levels by TABs, each level
 * tab-escaped (\001 1/t/r/n/0). Dovecot keeps the version the file has
 * and creates new files as version 1; so do we. Entries that do not
 * decode are kept in the file but not reported; a trailing separator
 * (written by old software) is dropped, as Dovecot does.
 */
struct mail_subs_entry {
	char *line; /* as in the file, without its newline */
	char *name; /* UTF-8 name, or NULL when the line does not decode */
};

struct mail_subs {
	unsigned int version; /* 1 or 2 */
	struct mail_subs_entry *entries;
	size_t count;
};

/* Parses file content (pure). Never fails: lines that do not decode get
 * name NULL. */
void mail_subs_parse(const char *data, size_t len, struct mail_subs *subs_r);
/* The file content (allocated). */
char *mail_subs_serialize(const struct mail_subs *subs, size_t *len_r);
/* Adds (set) or removes the canonical name; returns true if changed. */
bool mail_subs_update(struct mail_subs *subs, const char *name, bool set);
bool mail_subs_contains(const struct mail_subs *subs, const char *name);
void mail_subs_clear(struct mail_subs *subs);

/* Reads the file (missing: empty, version 1). */
int mail_subs_read(const struct mail_folders *f, struct mail_subs *subs_r,
		   const char **error_r);
/* Changes one subscription under the file's dotlock ("subscriptions.lock",
 * as Dovecot) and replaces the file when something changed. */
int mail_subs_set(const struct mail_folders *f, const char *name, bool set,
		  const char **error_r);
/* Renames the subscriptions of oldname and of the names below it. */
int mail_subs_rename(const struct mail_folders *f, const char *oldname,
		     const char *newname, const char **error_r);

#endif
