/*
 * mail_params - the parameter catalog: one line per parameter, with its
 * type, default text, bounds, global variable and (for times) default unit.
 * Defaults are trusted (compiled in); the values config_load() stores come
 * from root-owned files. Must not read files or log; the only system calls
 * are gethostname()/getaddrinfo() for the computed myhostname default.
 *
 * Defaults worth knowing:
 *   data_directory = $queue_directory/data (Postfix uses /var/lib/postfix;
 *     we keep everything under the queue so a non-/usr prefix stays
 *     self-contained).
 *   myhostname: computed at load time: gethostname(), made fully qualified
 *     through getaddrinfo(AI_CANONNAME) when it has no dot.
 *   mydomain: computed at load time from the final myhostname: everything
 *     after its first dot, or "localdomain" when it has none.
 */
#include <limits.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dovetail_paths.h"
#include "mail/mail_params.h"
#include "util/xmem.h"

char *var_queue_directory;
char *var_daemon_directory;
char *var_command_directory;
char *var_data_directory;
char *var_mail_owner;
char *var_syslog_name;
char *var_maillog_file;
char *var_myhostname;
char *var_mydomain;
char *var_myorigin;
char *var_mydestination;
char *var_inet_interfaces;
long long var_max_use;
long long var_max_idle;
long long var_default_process_limit;
long long var_service_throttle_time;
long long var_daemon_shutdown_timeout;
long long var_worker_threads;
bool var_shutdown_clients;
long long var_message_size_limit;

static char *
mail_param_fqdn(const char *(*expand)(const char *name))
{
	char host[HOST_NAME_MAX + 1];
	struct addrinfo hints, *res = NULL;
	char *fqdn;

	(void)expand;
	if (gethostname(host, sizeof(host)) < 0 || host[0] == '\0')
		return xstrdup("localhost");
	host[sizeof(host) - 1] = '\0';
	if (strchr(host, '.') != NULL)
		return xstrdup(host);
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_CANONNAME;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, NULL, &hints, &res) == 0 && res != NULL &&
	    res->ai_canonname != NULL && strchr(res->ai_canonname, '.') != NULL)
		fqdn = xstrdup(res->ai_canonname);
	else
		fqdn = xstrdup(host);
	if (res != NULL)
		freeaddrinfo(res);
	return fqdn;
}

static char *
mail_param_domain_of_host(const char *(*expand)(const char *name))
{
	const char *host = expand != NULL ? expand("myhostname") : NULL;
	const char *dot = host != NULL ? strchr(host, '.') : NULL;

	if (dot == NULL || dot[1] == '\0')
		return xstrdup("localdomain");
	return xstrdup(dot + 1);
}

char *var_auth_mechanisms;
bool var_disable_plaintext_auth;
char *var_auth_allow_cleartext;
long long var_auth_cache_size;
long long var_auth_cache_ttl;
long long var_auth_cache_negative_ttl;
long long var_auth_failure_delay;
char *var_auth_username_format;
char *var_auth_username_chars;
char *var_auth_default_realm;
bool var_auth_verbose;
bool var_auth_debug;
char *var_passdb;
char *var_userdb;
char *var_default_pass_scheme;
char *var_auth_syslog_name;
/* issue 5: bounces */
long long var_bounce_size_limit;
long long var_delay_warning_time;
long long var_bounce_queue_lifetime;
char *var_double_bounce_sender;
char *var_2bounce_notice_recipient;
/* issue 4: queue, qmgr, smtp (LMTP), sendmail */
long long var_queue_run_delay;
long long var_minimal_backoff_time;
long long var_maximal_backoff_time;
long long var_maximal_queue_lifetime;
char *var_default_transport;
char *var_virtual_transport;
char *var_local_transport;
char *var_transport_maps;
long long var_default_destination_concurrency_limit;
long long var_qmgr_message_active_limit;
long long var_lmtp_connect_timeout;
long long var_lmtp_data_done_timeout;
long long var_lmtp_cmd_timeout;
char *var_lmtp_lhlo_name;

/* issue 4: smtpd */
char *var_smtpd_banner;
long long var_line_length_limit;
long long var_smtpd_recipient_limit;
long long var_smtpd_timeout;
long long var_smtpd_hard_error_limit;
long long var_smtpd_client_connection_count_limit;
bool var_smtpd_peername_lookup;
char *var_virtual_mailbox_domains;
char *var_virtual_mailbox_maps;
char *var_virtual_alias_maps;
char *var_recipient_delimiter;
char *var_mynetworks;
char *var_relay_domains;
char *var_smtpd_tls_cert_file;
char *var_smtpd_tls_key_file;
char *var_smtpd_tls_security_level;
bool var_smtpd_local_submission;

/* issue 5: submission */
bool var_smtpd_sasl_auth_enable;
char *var_smtpd_sasl_type;
char *var_smtpd_sasl_path;
bool var_smtpd_tls_auth_only;
bool var_smtpd_sasl_authenticated_header;
bool var_broken_sasl_auth_clients;
bool var_smtpd_tls_wrappermode;
char *var_smtpd_client_restrictions;
char *var_smtpd_sender_restrictions;
char *var_smtpd_sender_login_maps;
long long var_smtpd_client_message_rate_limit;
long long var_smtpd_user_message_rate_limit;
long long var_anvil_rate_time_unit;
bool var_always_add_missing_headers;

/* issue 4: lmtpd (Dovecot's names) */
char *var_mail_location;
char *var_mail_uid;
char *var_mail_gid;
char *var_mail_temp_dir;
char *var_auth_socket_path;
bool var_lmtp_save_to_detail_mailbox;
bool var_lda_mailbox_autocreate;
long long var_lmtp_user_lookup_timeout;

/* issue 5: smtp client */
char *var_relayhost;
char *var_smtp_tls_security_level;
char *var_smtp_tls_CAfile;
char *var_smtp_helo_name;
long long var_smtp_connect_timeout;
long long var_smtp_helo_timeout;
long long var_smtp_data_done_timeout;
long long var_smtp_cmd_timeout;
long long var_smtp_mx_address_limit;
char *var_dns_resolver;
char *var_dns_trust_anchor_file;
long long var_dns_timeout;
char *var_inet_protocols;

/* clang-format off */
#define STR(n, d) { #n, PARAM_STR, d, 0, 0, &var_##n, 0, NULL }
#define STR_FN(n, d, fn) { #n, PARAM_STR, d, 0, 0, &var_##n, 0, fn }
#define INT(n, d, lo, hi) { #n, PARAM_INT, d, lo, hi, &var_##n, 0, NULL }
#define BOOL(n, d) { #n, PARAM_BOOL, d, 0, 1, &var_##n, 0, NULL }
#define TIME(n, d, u, lo, hi) { #n, PARAM_TIME, d, lo, hi, &var_##n, u, NULL }
#define SIZE(n, d, lo, hi) { #n, PARAM_SIZE, d, lo, hi, &var_##n, 0, NULL }

#define DAY (24 * 3600LL)

/* Keep sorted by area; one line per parameter. Bounds of TIME are seconds. */
/* issue 6/7: login, imapd, pop3d */
char *var_ssl;
char *var_ssl_cert;
char *var_ssl_key;
bool var_login_tls_wrappermode;
long long var_login_max_auth_failures;
long long var_login_timeout;
char *var_auth_client_path;
char *var_login_session_service;
long long var_mail_max_userip_connections;
long long var_session_thread_stack;
long long var_imap_max_line_length;
long long var_imap_client_timeout;
long long var_imap_idle_notify_interval;
char *var_imap_special_use;
char *var_imap_autocreate;
long long var_imap_search_max_keys;
char *var_pop3_uidl_format;
bool var_pop3_lock_session;
bool var_pop3_save_uidl;
bool var_pop3_reuse_xuidl;
long long var_pop3_client_timeout;
long long var_pop3_max_commands;

/* issue 5 (session 3) */
bool var_smtp_connection_cache_on_demand;
char *var_smtp_connection_cache_destinations;
long long var_smtp_connection_cache_time_limit;
long long var_smtp_connection_reuse_time_limit;
long long var_smtp_connection_reuse_count_limit;
long long var_smtp_rset_timeout;
long long var_default_destination_rate_delay;
long long var_default_destination_recipient_limit;
bool var_disable_mime_output_conversion; /* smtp: 8BITMIME downgrade */
/* smtp SASL client (smtp_sasl.c) */
bool var_smtp_sasl_auth_enable;
char *var_smtp_sasl_password_maps;
char *var_smtp_sasl_security_options;
char *var_smtp_sasl_tls_security_options;
char *var_smtp_sasl_mechanism_filter;
bool var_smtp_sasl_auth_soft_bounce;

const struct param_def mail_param_table[] = {
	/* paths */
	STR(queue_directory, DOVETAIL_QUEUE_DIR),
	STR(daemon_directory, DOVETAIL_DAEMON_DIR),
	STR(command_directory, DOVETAIL_COMMAND_DIR),
	STR(data_directory, "$queue_directory/data"),
	/* identity and logging */
	STR(mail_owner, "dovetail"),
	STR(syslog_name, "dovetail"),
	STR(maillog_file, ""),
	STR_FN(myhostname, "(the host's fully qualified name)", mail_param_fqdn),
	STR_FN(mydomain, "(myhostname without its first label)",
	       mail_param_domain_of_host),
	STR(myorigin, "$myhostname"),
	STR(mydestination, "$myhostname, localhost.$mydomain, localhost"),
	STR(inet_interfaces, "all"),
	/* processes */
	INT(max_use, "100", 1, 1000000000),
	TIME(max_idle, "100s", 's', 1, 7 * DAY),
	INT(default_process_limit, "0", 0, 10000),
	TIME(service_throttle_time, "60s", 's', 1, DAY),
	TIME(daemon_shutdown_timeout, "30s", 's', 1, DAY),
	INT(worker_threads, "4", 1, 1024),
	BOOL(shutdown_clients, "yes"),
	/* limits */
	SIZE(message_size_limit, "10240000", 0, 1LL << 40),
	/* auth daemon: Dovecot's names and defaults. passdb/userdb are
	 * comma-separated lists tried in order ("passwd" = system users).
	 * auth_allow_cleartext (Dovecot 2.4) overrides
	 * disable_plaintext_auth when set. default_pass_scheme: CRYPT, the
	 * default of Dovecot's passwd-file and 2.4 (2.3's SQL driver said
	 * MD5, i.e. MD5-CRYPT, which CRYPT verifies too). auth_syslog_name:
	 * the syslog tag of auth. Default "dovecot", as Dovecot tags its
	 * auth lines, so fail2ban's stock dovecot filter (whose daemon
	 * pattern is dovecot|dovecot-auth|auth) keeps banning after a
	 * migration; "" = $syslog_name/auth like the other daemons. */
	STR(auth_mechanisms, "plain login"),
	BOOL(disable_plaintext_auth, "yes"),
	STR(auth_allow_cleartext, ""),
	SIZE(auth_cache_size, "0", 0, 1024LL * 1024 * 1024),
	TIME(auth_cache_ttl, "1h", 's', 0, 30 * DAY),
	TIME(auth_cache_negative_ttl, "1h", 's', 0, 30 * DAY),
	TIME(auth_failure_delay, "2s", 's', 0, 3600),
	STR(auth_username_format, "%Lu"),
	STR(auth_username_chars, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01234567890.-_@"),
	STR(auth_default_realm, ""),
	BOOL(auth_verbose, "no"),
	BOOL(auth_debug, "no"),
	STR(passdb, "passwd"),
	STR(userdb, "passwd"),
	STR(default_pass_scheme, "CRYPT"),
	STR(auth_syslog_name, "dovecot"),
	/* issue 5: bounces. Postfix's names and defaults (delay warnings
	 * off; the 2bounce recipient and the double bounce sender are
	 * qualified with $mydomain / $myorigin by qmgr when bare). */
	SIZE(bounce_size_limit, "50000", 1, 100LL * 1024 * 1024),
	TIME(delay_warning_time, "0h", 'h', 0, 365 * DAY),
	TIME(bounce_queue_lifetime, "5d", 'd', 0, 365 * DAY),
	STR(double_bounce_sender, "double-bounce"),
	STR(2bounce_notice_recipient, "postmaster"),
	/* issue 4: queue, qmgr, smtp (LMTP), sendmail. Postfix's names and
	 * defaults; the transports name lmtpd's socket (relative paths are
	 * relative to queue_directory, as in Postfix). */
	TIME(queue_run_delay, "300s", 's', 1, DAY),
	TIME(minimal_backoff_time, "300s", 's', 1, 30 * DAY),
	TIME(maximal_backoff_time, "4000s", 's', 1, 30 * DAY),
	TIME(maximal_queue_lifetime, "5d", 'd', 0, 100 * DAY),
	STR(default_transport, "smtp"),
	STR(virtual_transport, "lmtp:unix:private/dovetail-lmtp"),
	STR(local_transport, "lmtp:unix:private/dovetail-lmtp"),
	STR(transport_maps, ""),
	INT(default_destination_concurrency_limit, "20", 1, 10000),
	INT(qmgr_message_active_limit, "20000", 1, 10000000),
	TIME(lmtp_connect_timeout, "30s", 's', 0, 3600),
	TIME(lmtp_data_done_timeout, "600s", 's', 1, DAY),
	TIME(lmtp_cmd_timeout, "300s", 's', 1, DAY),
	STR(lmtp_lhlo_name, "$myhostname"),
	/* issue 4: smtpd. Postfix's names and defaults, except: mynetworks
	 * (Postfix computes the host's subnets; we trust loopback only),
	 * smtpd_local_submission (ours: the unix-socket service the sendmail
	 * command posts to; the client's uid is the identity, relaying is
	 * allowed). Bare <LF>/<CR> are always refused (Postfix 3.9
	 * smtpd_forbid_bare_newline = reject, without exclusions). */
	STR(smtpd_banner, "$myhostname ESMTP Dovetail"),
	INT(line_length_limit, "2048", 512, 1024 * 1024),
	INT(smtpd_recipient_limit, "1000", 1, 1000000),
	TIME(smtpd_timeout, "300s", 's', 1, 3600),
	INT(smtpd_hard_error_limit, "20", 1, 10000),
	INT(smtpd_client_connection_count_limit, "50", 0, 100000),
	BOOL(smtpd_peername_lookup, "yes"),
	STR(virtual_mailbox_domains, ""),
	STR(virtual_mailbox_maps, ""),
	STR(virtual_alias_maps, ""),
	STR(recipient_delimiter, ""),
	STR(mynetworks, "127.0.0.0/8 [::1]/128"),
	STR(relay_domains, ""),
	STR(smtpd_tls_cert_file, ""),
	STR(smtpd_tls_key_file, "$smtpd_tls_cert_file"),
	STR(smtpd_tls_security_level, ""),
	BOOL(smtpd_local_submission, "no"),
	/* issue 5: submission. Postfix's names and defaults, except:
	 * smtpd_sasl_type accepts only "dovecot" (Postfix's default is
	 * cyrus) and smtpd_sasl_path defaults to Dovecot's usual
	 * private/auth (relative to queue_directory). The restriction
	 * lists know permit, reject, permit_mynetworks,
	 * permit_sasl_authenticated and (sender) reject_sender_login_mismatch,
	 * reject_authenticated_sender_login_mismatch and
	 * reject_unauthenticated_sender_login_mismatch; they are applied
	 * at RCPT (smtpd_delay_reject = yes). Rate limits count MAIL
	 * commands per anvil_rate_time_unit in each smtpd process (Postfix
	 * counts in anvil, for all processes); smtpd_user_message_rate_limit
	 * is ours (per SASL login). */
	BOOL(smtpd_sasl_auth_enable, "no"),
	STR(smtpd_sasl_type, "dovecot"),
	STR(smtpd_sasl_path, "private/auth"),
	BOOL(smtpd_tls_auth_only, "no"),
	BOOL(smtpd_sasl_authenticated_header, "no"),
	BOOL(broken_sasl_auth_clients, "no"),
	BOOL(smtpd_tls_wrappermode, "no"),
	STR(smtpd_client_restrictions, ""),
	STR(smtpd_sender_restrictions, ""),
	STR(smtpd_sender_login_maps, ""),
	INT(smtpd_client_message_rate_limit, "0", 0, 100000000),
	INT(smtpd_user_message_rate_limit, "0", 0, 100000000),
	TIME(anvil_rate_time_unit, "60s", 's', 1, DAY),
	BOOL(always_add_missing_headers, "no"),
	/* issue 4: lmtpd, Dovecot's names and defaults. auth_socket_path
	 * is the auth daemon's userdb socket; empty: lmtpd checks
	 * recipients against virtual_mailbox_maps itself and takes every
	 * path from mail_location (%d/%n). mail_uid/mail_gid: the owner
	 * expected when the userdb names none (lmtpd never changes uid).
	 * lmtp_user_lookup_timeout is ours. lda_mailbox_autocreate: create
	 * the +detail folder when missing. */
	STR(mail_location, "maildir:~/Maildir"),
	STR(mail_uid, ""),
	STR(mail_gid, ""),
	STR(mail_temp_dir, "/tmp"),
	STR(auth_socket_path, "$queue_directory/private/auth-userdb"),
	BOOL(lmtp_save_to_detail_mailbox, "no"),
	BOOL(lda_mailbox_autocreate, "no"),
	TIME(lmtp_user_lookup_timeout, "30s", 's', 1, 3600),
	/* issue 5: smtp client. Postfix's names and defaults, except
	 * smtp_tls_security_level (Postfix: none; ours: may) and the dns_*
	 * parameters (ours: the libunbound resolver, see mail/dns.h).
	 * smtp_tls_security_level "dane"/"dane-only" (smtp/smtp_dane.c)
	 * need dns_trust_anchor_file for DNSSEC validation. */
	STR(relayhost, ""),
	STR(smtp_tls_security_level, "may"),
	STR(smtp_tls_CAfile, ""),
	STR(smtp_helo_name, "$myhostname"),
	TIME(smtp_connect_timeout, "30s", 's', 1, 3600),
	TIME(smtp_helo_timeout, "300s", 's', 1, DAY),
	TIME(smtp_data_done_timeout, "600s", 's', 1, DAY),
	TIME(smtp_cmd_timeout, "300s", 's', 1, DAY),
	INT(smtp_mx_address_limit, "5", 0, 1000),
	STR(dns_resolver, ""),
	STR(dns_trust_anchor_file, ""),
	TIME(dns_timeout, "30s", 's', 1, 3600),
	STR(inet_protocols, "all"),
	/* issue 6/7: login processes and IMAP/POP3 sessions. Dovecot's
	 * names and defaults: ssl (no|yes|required), ssl_cert/ssl_key
	 * ("<path" as Dovecot writes them, or a path), mail_max_userip_
	 * connections, imap_max_line_length, imap_idle_notify_interval,
	 * pop3_uidl_format, pop3_lock_session, pop3_save_uidl. Ours:
	 * login_tls_wrappermode (implicit TLS, as smtpd_tls_wrappermode),
	 * login_max_auth_failures (Dovecot's fixed 3), login_timeout (pre-
	 * auth idle), auth_client_path (the auth client socket the login
	 * processes use), login_session_service (the private/ socket of
	 * the session service; "" = imap or pop3), session_thread_stack,
	 * imap_client_timeout (RFC 3501: at least 30 minutes),
	 * imap_special_use and imap_autocreate (Dovecot's mailbox { auto,
	 * special_use } blocks as two lines), imap_search_max_keys,
	 * pop3_client_timeout (RFC 1939: at least 10 minutes),
	 * pop3_max_commands (per session). */
	STR(ssl, "yes"),
	STR(ssl_cert, ""),
	STR(ssl_key, ""),
	BOOL(login_tls_wrappermode, "no"),
	INT(login_max_auth_failures, "3", 1, 1000),
	TIME(login_timeout, "60s", 's', 1, 3600),
	STR(auth_client_path, "$queue_directory/private/auth"),
	STR(login_session_service, ""),
	INT(mail_max_userip_connections, "10", 0, 100000),
	SIZE(session_thread_stack, "262144", 65536, 64LL * 1024 * 1024),
	SIZE(imap_max_line_length, "65536", 1024, 16LL * 1024 * 1024),
	TIME(imap_client_timeout, "30m", 's', 60, 7 * DAY),
	TIME(imap_idle_notify_interval, "2m", 's', 1, DAY),
	STR(imap_special_use, "Drafts=Drafts Sent=Sent Trash=Trash Junk=Junk Archive=Archive"),
	STR(imap_autocreate, "subscribe"),
	INT(imap_search_max_keys, "1000", 1, 100000),
	STR(pop3_uidl_format, "%08Xu%08Xv"),
	BOOL(pop3_lock_session, "no"),
	BOOL(pop3_save_uidl, "no"),
	BOOL(pop3_reuse_xuidl, "no"),
	TIME(pop3_client_timeout, "10m", 's', 60, DAY),
	INT(pop3_max_commands, "100000", 1, 100000000),
	/* issue 5 (session 3): smtp client and qmgr. Postfix's names and
	 * defaults. */
	BOOL(smtp_connection_cache_on_demand, "yes"),
	STR(smtp_connection_cache_destinations, ""),
	TIME(smtp_connection_cache_time_limit, "2s", 's', 1, 3600),
	TIME(smtp_connection_reuse_time_limit, "300s", 's', 1, DAY),
	INT(smtp_connection_reuse_count_limit, "0", 0, 1000000),
	TIME(smtp_rset_timeout, "20s", 's', 1, 3600),
	TIME(default_destination_rate_delay, "0s", 's', 0, DAY),
	INT(default_destination_recipient_limit, "50", 1, 10000),
	/* smtp: no 8-bit to 7-bit MIME conversion (mime_8to7.c) */
	BOOL(disable_mime_output_conversion, "no"),
	/* smtp SASL client login (smtp_sasl.c, libsasl2): Postfix's names
	 * and defaults. */
	BOOL(smtp_sasl_auth_enable, "no"),
	STR(smtp_sasl_password_maps, ""),
	STR(smtp_sasl_security_options, "noplaintext, noanonymous"),
	STR(smtp_sasl_tls_security_options, "$smtp_sasl_security_options"),
	STR(smtp_sasl_mechanism_filter, ""),
	BOOL(smtp_sasl_auth_soft_bounce, "yes"),
};
/* clang-format on */

const size_t mail_param_count =
    sizeof(mail_param_table) / sizeof(mail_param_table[0]);

const struct param_def *
mail_param_find(const char *name)
{
	for (size_t i = 0; i < mail_param_count; i++) {
		if (strcmp(mail_param_table[i].name, name) == 0)
			return &mail_param_table[i];
	}
	return NULL;
}

char *
mail_param_default(const struct param_def *def,
		   const char *(*expand)(const char *name))
{
	if (def->def_fn != NULL)
		return def->def_fn(expand);
	return xstrdup(def->def);
}
