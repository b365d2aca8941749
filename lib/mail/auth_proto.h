/*
 * auth_proto - Dovecot's authentication protocol (version 1), the lines
 * both sides exchange over the auth sockets, as pure functions: splitting a
 * line into TAB-separated fields, Dovecot's TAB escaping (\001 then '1',
 * 't', 'n' or 'r' for \001, TAB, LF and CR, exactly as str_tabescape()),
 * the client commands (VERSION, CPID, AUTH, CONT, CANCEL),
 * the server's handshake and replies (VERSION, MECH, SPID, CUID, COOKIE,
 * DONE; OK, FAIL, CONT) and the userdb side (USER id user service=... ->
 * USER id user fields / NOTFOUND id / FAIL id).
 *
 * Every line comes from a peer and is untrusted: lengths are bounded by
 * the caller (AUTH_PROTO_MAX_LINE), the number of fields by
 * AUTH_PROTO_MAX_ARGS. No I/O, no logging, no globals. Parsed structs point
 * into the caller's (modified) line buffer.
 */
#ifndef AUTH_PROTO_H
#define AUTH_PROTO_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf;

#define AUTH_PROTO_MAJOR_VERSION 1
/* The client protocol's minor version as Dovecot 2.3 sends it. */
#define AUTH_PROTO_MINOR_VERSION 2
/* The userdb (master) protocol's versions. */
#define AUTH_PROTO_MASTER_MAJOR_VERSION 1
#define AUTH_PROTO_MASTER_MINOR_VERSION 0
/* Longest line either side accepts, terminator included (Dovecot's
 * AUTH_CLIENT_MAX_LINE_LENGTH). */
#define AUTH_PROTO_MAX_LINE 8192
/* Most TAB-separated fields in one line. */
#define AUTH_PROTO_MAX_ARGS 64
/* Bytes of the server's COOKIE (sent as 32 hex digits). */
#define AUTH_PROTO_COOKIE_SIZE 16

/* Mechanism security flags, as Dovecot announces them in MECH lines. */
#define AUTH_MECH_SEC_PRIVATE 0x01u
#define AUTH_MECH_SEC_ANONYMOUS 0x02u
#define AUTH_MECH_SEC_PLAINTEXT 0x04u
#define AUTH_MECH_SEC_DICTIONARY 0x08u
#define AUTH_MECH_SEC_ACTIVE 0x10u
#define AUTH_MECH_SEC_FORWARD_SECRECY 0x20u
#define AUTH_MECH_SEC_MUTUAL_AUTH 0x40u

/* Appends src with Dovecot's TAB escaping. 0, or -1 if dest is full (dest
 * then holds a partial value; the caller discards the line). */
int auth_proto_tabescape(struct strbuf *dest, const char *src);
/* Undoes the escaping in place; returns the new length. An unknown escape
 * keeps the escaped character, a trailing \001 is dropped (as Dovecot). */
size_t auth_proto_tabunescape(char *str);

/* Splits line (len bytes, no terminator) at TABs in place and unescapes
 * each field. Returns the number of fields (at least 1), or -1 if the line
 * holds a NUL byte or more than max_args fields. */
int auth_proto_split(char *line, size_t len, char **args_r, size_t max_args);

/* "name=value" -> name, value; "name" -> name, "". Modifies arg. */
void auth_proto_kv(char *arg, const char **name_r, const char **value_r);

/* A decimal unsigned int without sign or leading junk, at most UINT_MAX.
 * 0 or -1. */
int auth_proto_parse_uint(const char *str, unsigned int *num_r);

/* --- client -> server --- */

enum auth_proto_client_cmd {
	AUTH_PROTO_CMD_UNKNOWN = 0,
	AUTH_PROTO_CMD_VERSION,
	AUTH_PROTO_CMD_CPID,
	AUTH_PROTO_CMD_AUTH,
	AUTH_PROTO_CMD_CONT,
	AUTH_PROTO_CMD_CANCEL,
};

/* The command word of args[0]. */
enum auth_proto_client_cmd auth_proto_client_cmd(const char *word);

/* "VERSION major minor": 0 if the major version is ours, else -1. Also
 * used for the userdb side's VERSION line. */
int auth_proto_parse_version(char *const *args, size_t n, unsigned int major,
			     const char **error_r);

struct auth_proto_auth {
	unsigned int id;
	const char *mech;
	const char *service;		       /* required */
	const char *lip, *rip, *lport, *rport; /* NULL when absent */
	const char *session;
	const char *resp; /* base64 initial response; NULL when absent */
	bool secured;	  /* "secured" or "secured=..." */
	bool nologin;
	bool no_penalty;
	bool valid_client_cert;
};

/* "AUTH id mech [name[=value] ...] [resp=base64]": resp must be last, the
 * service is required, unknown names are ignored (as Dovecot). 0 or -1
 * with a static *error_r. */
int auth_proto_parse_auth(char *const *args, size_t n,
			  struct auth_proto_auth *auth_r, const char **error_r);
/* "CONT id base64". */
int auth_proto_parse_cont(char *const *args, size_t n, unsigned int *id_r,
			  const char **data_r, const char **error_r);

/* --- server -> client --- */

struct auth_proto_mech {
	const char *name;
	unsigned int flags; /* AUTH_MECH_SEC_* */
};

/* The whole handshake: VERSION 1 2, one MECH line per mechanism (flags
 * that are not PRIVATE), SPID, CUID, COOKIE (32 lower-case hex digits),
 * DONE; each line LF-terminated. 0 or -1 if out is full. */
int auth_proto_handshake(struct strbuf *out,
			 const struct auth_proto_mech *mechs, size_t n_mechs,
			 unsigned long spid, unsigned int cuid,
			 const unsigned char cookie[AUTH_PROTO_COOKIE_SIZE]);
/* Appends "\tname=escaped-value" (or "\tname" when value is NULL). */
int auth_proto_add_field(struct strbuf *out, const char *name,
			 const char *value);

enum auth_proto_reply_kind {
	AUTH_PROTO_REPLY_OK,
	AUTH_PROTO_REPLY_FAIL,
	AUTH_PROTO_REPLY_CONT,
};

struct auth_proto_reply {
	enum auth_proto_reply_kind kind;
	unsigned int id;
	const char *data;   /* CONT: base64 challenge */
	const char *user;   /* OK/FAIL: user=, NULL if absent */
	const char *reason; /* FAIL: reason=, NULL if absent */
	const char *resp;   /* OK: resp= (base64 final server message) */
	bool temp;	    /* FAIL: temporary failure */
	bool authz;	    /* FAIL: authorization failed */
	bool nologin;
	/* Every name=value field after the id, for other fields. */
	char *const *fields;
	size_t n_fields;
};

/* Parses a server reply line (OK, FAIL or CONT). 0 or -1. */
int auth_proto_parse_reply(char *const *args, size_t n,
			   struct auth_proto_reply *reply_r,
			   const char **error_r);

/* --- userdb (master) socket --- */

struct auth_proto_user {
	unsigned int id;
	const char *user;
	const char *service; /* required */
	const char *lip, *rip;
};

/* "USER id user [name=value ...]" (args[0] is "USER"; also for "PASS").
 * 0 or -1. */
int auth_proto_parse_user(char *const *args, size_t n,
			  struct auth_proto_user *user_r, const char **error_r);

enum auth_proto_userdb_kind {
	AUTH_PROTO_USERDB_USER,
	AUTH_PROTO_USERDB_NOTFOUND,
	AUTH_PROTO_USERDB_FAIL,
};

struct auth_proto_userdb_reply {
	enum auth_proto_userdb_kind kind;
	unsigned int id;
	const char *user;    /* USER */
	const char *reason;  /* FAIL: reason=, or NULL */
	char *const *fields; /* USER: "name=value" fields after the user */
	size_t n_fields;
};

/* Parses a userdb reply line. 0 or -1. */
int auth_proto_parse_userdb_reply(char *const *args, size_t n,
				  struct auth_proto_userdb_reply *reply_r,
				  const char **error_r);

#endif
