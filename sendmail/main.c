/*
 * sendmail - posts a message read on standard input, as Postfix's
 * sendmail(1) does for mail(1), cron and scripts. Options: -t (recipients
 * from To/Cc/Bcc, Bcc removed), -i / -oi (a lone "." does not end the
 * message), -f/-r ADDR (envelope sender), -F NAME (full name for an added
 * From:), -bs (SMTP on stdin/stdout), -bm (default), -bp (as mailq),
 * -C DIR (config), -v; -odi, -odb, -oem, -B, -N, -R, -V and other
 * -o options are accepted and ignored. The input is the invoking user's:
 * bounded per header block and passed to smtpd, which decides. Runs with
 * the user's own privileges; never touches the queue directly.
 */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "dovetail_paths.h"
#include "mail/config.h"
#include "mail/mail_params.h"
#include "sendmail.h"
#include "util/log.h"
#include "util/sock.h"
#include "util/strbuf.h"
#include "util/xmem.h"

struct sendmail_opts {
	const char *config_dir;
	const char *sender;
	const char *full_name;
	bool extract, ignore_dots, smtp_mode, verbose, list_queue, flush;
};

static void
usage(void)
{
	fprintf(stderr, "usage: sendmail [-t] [-i] [-f sender] [-F name] "
			"[-C config_dir] [-bs|-bm] [recipient ...]\n");
	exit(EX_USAGE);
}

/* Reads one input line (any length) into sb without its LF/CRLF. 0 at
 * EOF with nothing read, 1 otherwise. */
static int
read_line(FILE *in, struct strbuf *sb)
{
	int c;

	strbuf_reset(sb);
	while ((c = getc(in)) != EOF) {
		if (c == '\n')
			break;
		strbuf_append_char(sb, (char)c);
	}
	if (c == EOF && sb->len == 0)
		return 0;
	if (sb->len > 0 && sb->data[sb->len - 1] == '\r')
		strbuf_truncate(sb, sb->len - 1);
	return 1;
}

static bool
header_is(const char *line, const char *name)
{
	size_t n = strlen(name);

	return strncasecmp(line, name, n) == 0 && line[n] == ':';
}

static void
add_missing_headers(FILE *out, const struct sendmail_opts *o,
		    const char *sender, bool have_from, bool have_date,
		    bool have_msgid)
{
	char host[256], date[64];
	time_t now = time(NULL);
	struct tm tm;

	if (!have_from) {
		if (o->full_name != NULL && o->full_name[0] != '\0')
			fprintf(out, "From: %s <%s>\r\n", o->full_name, sender);
		else
			fprintf(out, "From: %s\r\n", sender);
	}
	if (!have_date) {
		localtime_r(&now, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
		fprintf(out, "Date: %s\r\n", date);
	}
	if (!have_msgid) {
		unsigned int rnd = 0;

		if (getentropy(&rnd, sizeof(rnd)) < 0)
			rnd = (unsigned int)getpid() ^ (unsigned int)now;
		snprintf(host, sizeof(host), "%s", var_myhostname);
		fprintf(out, "Message-Id: <%lld.%d.%08x@%s>\r\n",
			(long long)now, (int)getpid(), rnd, host);
	}
}

/* Reads the message into a temp file with CRLF line ends; with -t
 * collects recipients from the headers and drops Bcc:. */
static FILE *
read_message(const struct sendmail_opts *o, struct sendmail_msg *msg)
{
	FILE *out = tmpfile();
	struct strbuf line, header;
	bool in_headers = true, drop = false, have_from = false,
	     have_date = false, have_msgid = false;
	size_t header_bytes = 0;

	if (out == NULL) {
		fprintf(stderr, "sendmail: tmpfile: %s\n", strerror(errno));
		exit(EX_TEMPFAIL);
	}
	strbuf_init(&line, STRBUF_UNLIMITED);
	strbuf_init(&header, SENDMAIL_MAX_HEADER);
	/* Headers are held until the blank line so missing ones can be
	 * added first and Bcc removed. */
	struct strbuf headers;
	strbuf_init(&headers, SENDMAIL_MAX_HEADER * 2);
	bool first = true;

	while (read_line(stdin, &line)) {
		const char *l = strbuf_cstr(&line);

		/* An mbox "From " line before the headers is not a header. */
		if (first && strncmp(l, "From ", 5) == 0) {
			first = false;
			continue;
		}
		first = false;

		if (!o->ignore_dots && line.len == 1 && l[0] == '.')
			break;
		for (size_t i = 0; i < line.len; i++)
			msg->eightbit |= (unsigned char)l[i] >= 0x80;
		if (in_headers) {
			bool cont =
			    line.len > 0 && (l[0] == ' ' || l[0] == '\t');
			bool is_header =
			    line.len > 0 &&
			    (cont || (strchr(l, ':') != NULL &&
				      strcspn(l, ": \t") ==
					  (size_t)(strchr(l, ':') - l)));

			if (!is_header) {
				/* End of headers (blank line or body text). */
				if (o->extract && header.len > 0)
					sendmail_header_rcpts(
					    strbuf_cstr(&header), msg);
				in_headers = false;
				add_missing_headers(out, o, msg->sender,
						    have_from, have_date,
						    have_msgid);
				fwrite(headers.data == NULL ? "" : headers.data,
				       1, headers.len, out);
				if (line.len > 0)
					fputs("\r\n", out);
				fwrite(l, 1, line.len, out);
				fputs("\r\n", out);
				continue;
			}
			header_bytes += line.len;
			if (header_bytes > SENDMAIL_MAX_HEADER) {
				fprintf(stderr, "sendmail: message header too "
						"long\n");
				exit(EX_DATAERR);
			}
			if (!cont) {
				if (o->extract && header.len > 0)
					sendmail_header_rcpts(
					    strbuf_cstr(&header), msg);
				strbuf_reset(&header);
				drop = header_is(l, "Bcc") ||
				       header_is(l, "Resent-Bcc");
				have_from |= header_is(l, "From");
				have_date |= header_is(l, "Date");
				have_msgid |= header_is(l, "Message-Id");
				if (o->extract &&
				    (header_is(l, "To") || header_is(l, "Cc") ||
				     header_is(l, "Bcc")))
					strbuf_append_str(&header,
							  strchr(l, ':') + 1);
			} else if (header.len > 0) {
				strbuf_append(&header, l, line.len);
			}
			if (!drop) {
				strbuf_append(&headers, l, line.len);
				strbuf_append_str(&headers, "\r\n");
			}
			continue;
		}
		fwrite(l, 1, line.len, out);
		fputs("\r\n", out);
	}
	if (in_headers) {
		if (o->extract && header.len > 0)
			sendmail_header_rcpts(strbuf_cstr(&header), msg);
		add_missing_headers(out, o, msg->sender, have_from, have_date,
				    have_msgid);
		fwrite(headers.data == NULL ? "" : headers.data, 1, headers.len,
		       out);
		fputs("\r\n", out);
	}
	strbuf_release(&line);
	strbuf_release(&header);
	strbuf_release(&headers);
	if (fflush(out) != 0 || ferror(stdin)) {
		fprintf(stderr, "sendmail: reading the message: %s\n",
			strerror(errno));
		exit(EX_TEMPFAIL);
	}
	rewind(out);
	return out;
}

static int
connect_submit(void)
{
	char *path = xasprintf("%s/public/submit", var_queue_directory);
	const char *error;
	int fd = sock_connect_unix(path, &error);

	if (fd < 0) {
		fprintf(stderr,
			"sendmail: fatal: cannot reach the mail system "
			"at %s: %s (is Dovetail running? \"dovetail start\")\n",
			path, error);
		free(path);
		exit(EX_TEMPFAIL);
	}
	free(path);
	return fd;
}

int
main(int argc, char **argv)
{
	struct sendmail_opts o = {.config_dir = DOVETAIL_CONFIG_DIR};
	struct sendmail_msg msg = {0};
	struct config_report report = {0};
	const char *prog = strrchr(argv[0], '/');
	bool tempfail;
	char *full_name_owned = NULL;
	int c, fd;

	prog = prog == NULL ? argv[0] : prog + 1;
	if (strcmp(prog, "mailq") == 0)
		o.list_queue = true;
	if (getenv("MAIL_CONFIG") != NULL)
		o.config_dir = getenv("MAIL_CONFIG");
	log_init("dovetail", "sendmail");
	log_set_syslog(false);
	log_set_stderr(true);
	while ((c = getopt(argc, argv, "B:b:C:F:f:h:iN:no:p:q::R:r:tV:vX:")) !=
	       -1) {
		switch (c) {
		case 'b':
			if (strcmp(optarg, "s") == 0)
				o.smtp_mode = true;
			else if (strcmp(optarg, "p") == 0)
				o.list_queue = true;
			else if (strcmp(optarg, "m") != 0 &&
				 strcmp(optarg, "d") != 0) {
				fprintf(stderr,
					"sendmail: -b%s is not "
					"supported\n",
					optarg);
				exit(EX_USAGE);
			}
			break;
		case 'C':
			o.config_dir = optarg;
			break;
		case 'F':
			o.full_name = optarg;
			break;
		case 'f':
		case 'r':
			o.sender = optarg;
			break;
		case 'i':
			o.ignore_dots = true;
			break;
		case 'o':
			/* -oi is -i; -odi, -odb, -oem, -oXvalue: ignored. */
			if (strcmp(optarg, "i") == 0)
				o.ignore_dots = true;
			break;
		case 't':
			o.extract = true;
			break;
		case 'v':
			o.verbose = true;
			break;
		case 'q':
			/* -q, -qR..., -qS...: flush the queue (Postfix
			 * flushes everything); -q<interval>: ignored, as in
			 * Postfix (qmgr runs the queue itself). */
			if (optarg == NULL || optarg[0] == 'R' ||
			    optarg[0] == 'S' || optarg[0] == 'I')
				o.flush = true;
			else
				exit(0);
			break;
		case 'B':
		case 'h':
		case 'N':
		case 'n':
		case 'p':
		case 'R':
		case 'V':
		case 'X':
			break;
		default:
			usage();
		}
	}
	if (config_load(o.config_dir, NULL, NULL, 0, &report) < 0) {
		for (size_t i = 0; i < report.n_errors; i++)
			fprintf(stderr, "sendmail: %s\n", report.errors[i]);
		exit(EX_CONFIG);
	}
	config_report_free(&report);
	if (o.list_queue)
		return mailq_list() < 0 ? EX_NOPERM : 0;
	if (o.flush)
		return mailq_flush() < 0 ? EX_UNAVAILABLE : 0;
	if (o.smtp_mode) {
		fd = connect_submit();
		return sendmail_proxy(fd) < 0 ? EX_IOERR : 0;
	}
	if (o.sender != NULL) {
		msg.sender =
		    xstrdup(strcmp(o.sender, "<>") == 0 ? "" : o.sender);
	} else {
		struct passwd *pw = getpwuid(getuid());

		if (pw == NULL) {
			fprintf(stderr,
				"sendmail: who are you? (uid %d has no "
				"passwd entry)\n",
				(int)getuid());
			exit(EX_NOUSER);
		}
		msg.sender = xasprintf("%s@%s", pw->pw_name, var_myorigin);
		if (o.full_name == NULL && pw->pw_gecos != NULL) {
			size_t n = strcspn(pw->pw_gecos, ",");
			if (n > 0)
				o.full_name = full_name_owned =
				    xstrndup(pw->pw_gecos, n);
		}
	}
	for (int i = optind; i < argc; i++)
		sendmail_header_rcpts(argv[i], &msg);
	msg.content = read_message(&o, &msg);
	if (msg.n_rcpts == 0) {
		fprintf(stderr, "sendmail: no recipients specified\n");
		exit(EX_USAGE);
	}
	fd = connect_submit();
	int ret = sendmail_submit(fd, &msg, o.verbose, &tempfail) < 0
		      ? (tempfail ? EX_TEMPFAIL : EX_UNAVAILABLE)
		      : 0;
	close(fd);
	for (unsigned int i = 0; i < msg.n_rcpts; i++)
		free(msg.rcpts[i]);
	free(msg.rcpts);
	free(msg.sender);
	if (full_name_owned != NULL)
		free(full_name_owned);
	fclose(msg.content);
	return ret;
}
