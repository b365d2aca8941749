/*
 * log - Postfix-style logging. Every line is "syslog_name/daemon[pid]: text";
 * warnings, fatal errors and panics are prefixed "warning: ", "fatal: " and
 * "panic: " as Postfix does, so fail2ban, pflogsumm and logwatch rules match.
 * Output goes to syslog (facility mail), to stderr (foreground), and/or to a
 * file named by maillog_file (a host without a syslog daemon still gets a
 * mail.log; lines there carry a syslog-style time stamp and host name).
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>
#include <stdbool.h>

/* Sets the names used in the prefix; may be called again after config load. */
void log_init(const char *syslog_name, const char *daemon_name);
/* Replaces the tag "syslog_name/daemon_name" with ident (NULL or ""
 * restores it), e.g. "dovecot" so that tools reading Dovecot's log lines
 * (fail2ban's dovecot filter) read the auth daemon's. A later log_init()
 * keeps the replacement. */
void log_set_ident(const char *ident);
/* Also (or only) write to stderr. */
void log_set_stderr(bool enable);
/* Write to syslog (the default is on). */
void log_set_syslog(bool enable);
/* Appends to path (opened O_APPEND); NULL or "" closes it. -1 on error. */
int log_set_file(const char *path, const char **error_r);
/* Verbosity for log_debug (0 = off). */
void log_set_verbose(int level);
int log_get_verbose(void);
/* Called before exit by log_fatal (e.g. to flush a status); may be NULL. */
void log_set_fatal_hook(void (*hook)(void));

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Broken environment or configuration: logs and exits with status 1. */
void log_fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
/* A bug: logs and aborts. */
void log_panic(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

#endif
