/*
 * log - Postfix-style log lines to syslog, stderr and/or a maillog file.
 * Messages may contain peer-supplied text; control characters are replaced
 * so no input can forge a second log line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

#define LOG_LINE_MAX 4000

static char log_syslog_name[64] = "dovetail";
static char log_daemon_name[64] = "dovetail";
static char log_ident[130] = "dovetail/dovetail";
static char log_ident_override[64];
static bool log_to_stderr;
static bool log_to_syslog = true;
static bool log_syslog_open;
static int log_file_fd = -1;
static int log_verbose;
static void (*log_fatal_hook)(void);

static void
log_copy_name(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src);
}

void
log_init(const char *syslog_name, const char *daemon_name)
{
	if (syslog_name != NULL)
		log_copy_name(log_syslog_name, sizeof(log_syslog_name), syslog_name);
	if (daemon_name != NULL)
		log_copy_name(log_daemon_name, sizeof(log_daemon_name), daemon_name);
	if (log_ident_override[0] != '\0')
		snprintf(log_ident, sizeof(log_ident), "%s", log_ident_override);
	else
		snprintf(log_ident, sizeof(log_ident), "%s/%s", log_syslog_name,
			 log_daemon_name);
	if (log_syslog_open) {
		closelog();
		log_syslog_open = false;
	}
}

void
log_set_ident(const char *ident)
{
	log_copy_name(log_ident_override, sizeof(log_ident_override),
		      ident != NULL ? ident : "");
	log_init(NULL, NULL);
}

void
log_set_stderr(bool enable)
{
	log_to_stderr = enable;
}

void
log_set_syslog(bool enable)
{
	log_to_syslog = enable;
}

int
log_set_file(const char *path, const char **error_r)
{
	static char errbuf[512];
	int fd;

	if (log_file_fd >= 0) {
		close(log_file_fd);
		log_file_fd = -1;
	}
	if (path == NULL || *path == '\0')
		return 0;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
		  0640);
	if (fd < 0) {
		snprintf(errbuf, sizeof(errbuf), "open %s: %s", path,
			 strerror(errno));
		*error_r = errbuf;
		return -1;
	}
	log_file_fd = fd;
	return 0;
}

void
log_set_verbose(int level)
{
	log_verbose = level;
}

int
log_get_verbose(void)
{
	return log_verbose;
}

void
log_set_fatal_hook(void (*hook)(void))
{
	log_fatal_hook = hook;
}

/* Formats prefix + message with control characters made visible. */
static void __attribute__((format(printf, 4, 0)))
log_format(char *out, size_t size, const char *prefix, const char *fmt,
	   va_list ap)
{
	char msg[LOG_LINE_MAX];
	size_t i, o = 0;
	int n;

	n = snprintf(out, size, "%s", prefix);
	if (n < 0)
		n = 0;
	o = (size_t)n < size ? (size_t)n : size - 1;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	for (i = 0; msg[i] != '\0' && o + 1 < size; i++) {
		unsigned char c = (unsigned char)msg[i];

		out[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	out[o] = '\0';
}

static void __attribute__((format(printf, 3, 0)))
log_emit(int priority, const char *prefix, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX + 64];
	int saved_errno = errno;

	log_format(line, sizeof(line), prefix, fmt, ap);
	if (log_to_syslog) {
		if (!log_syslog_open) {
			openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
			log_syslog_open = true;
		}
		syslog(priority, "%s", line);
	}
	if (log_to_stderr)
		dprintf(STDERR_FILENO, "%s[%ld]: %s\n", log_ident,
			(long)getpid(), line);
	if (log_file_fd >= 0) {
		char stamp[64], host[256];
		time_t now = time(NULL);
		struct tm tm;

		localtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
		if (gethostname(host, sizeof(host)) < 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		dprintf(log_file_fd, "%s %s %s[%ld]: %s\n", stamp, host,
			log_ident, (long)getpid(), line);
	}
	errno = saved_errno;
}

#define LOG_FUNC(name, prio, prefix)                                           \
	void name(const char *fmt, ...)                                        \
	{                                                                      \
		va_list ap;                                                    \
		va_start(ap, fmt);                                             \
		log_emit(prio, prefix, fmt, ap);                               \
		va_end(ap);                                                    \
	}

LOG_FUNC(log_info, LOG_INFO, "")
LOG_FUNC(log_warning, LOG_WARNING, "warning: ")
LOG_FUNC(log_error, LOG_ERR, "error: ")

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (log_verbose == 0)
		return;
	va_start(ap, fmt);
	log_emit(LOG_DEBUG, "", fmt, ap);
	va_end(ap);
}

void
log_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, "fatal: ", fmt, ap);
	va_end(ap);
	if (log_fatal_hook != NULL)
		log_fatal_hook();
	exit(1);
}

void
log_panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, "panic: ", fmt, ap);
	va_end(ap);
	abort();
}
