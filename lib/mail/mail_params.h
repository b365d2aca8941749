/*
 * mail_params - the parameter catalog: every configuration parameter of the
 * suite, with its type, default and bounds, bound to a global variable
 * (var_<name>) that config_load() fills. Names are Postfix's for the MTA
 * side and Dovecot's for the access side. One catalog for every daemon so
 * "dovetail check" and "dovetail config" know all parameters.
 */
#ifndef MAIL_PARAMS_H
#define MAIL_PARAMS_H

#include <stdbool.h>
#include <stddef.h>

enum param_type {
	PARAM_STR,  /* char *; expanded */
	PARAM_INT,  /* long long within [min, max] */
	PARAM_BOOL, /* yes/no (also true/false, 1/0) */
	PARAM_TIME, /* long long seconds; units s m h d w (Postfix) and
		       "N secs/mins/hours/days/weeks" (Dovecot); unit is the
		       default unit letter when the value has none */
	PARAM_SIZE, /* long long bytes; plain number, or k/M/G suffix */
};

struct param_def {
	const char *name;
	enum param_type type;
	const char *def; /* default as text, before expansion */
	long long min, max;
	void *var; /* char ** | long long * | bool * */
	char unit; /* PARAM_TIME default unit: 's', 'm', 'h', 'd', 'w' */
	/* When non-NULL the default is computed at load time (def is then
	 * only a description for humans, e.g. "(the host's FQDN)"). expand
	 * returns the expanded value of another parameter, or NULL. Returns
	 * allocated literal text (not expanded again). */
	char *(*def_fn)(const char *(*expand)(const char *name));
};

extern const struct param_def mail_param_table[];
extern const size_t mail_param_count;

/* Looks up a definition by name; NULL if unknown. */
const struct param_def *mail_param_find(const char *name);
/* The default text of def, allocated: def->def, or what def_fn computes
 * (expand as for def_fn; NULL is allowed and means "no other values"). */
char *mail_param_default(const struct param_def *def,
			 const char *(*expand)(const char *name));

/* Foundation: paths, identity, logging, processes. */
extern char *var_queue_directory;
extern char *var_daemon_directory;
extern char *var_command_directory;
extern char *var_data_directory;
extern char *var_mail_owner;
extern char *var_syslog_name;
extern char *var_maillog_file;
extern char *var_myhostname;
extern char *var_mydomain;
extern char *var_myorigin;
extern char *var_mydestination;
extern char *var_inet_interfaces;
extern long long var_max_use;
extern long long var_max_idle;
extern long long var_default_process_limit;
extern long long var_service_throttle_time;
extern long long var_daemon_shutdown_timeout;
extern long long var_worker_threads;
/* Dovecot's: stop the daemons' client sessions when master stops. */
extern bool var_shutdown_clients;
/* Limits. 0 = no limit (Postfix). */
extern long long var_message_size_limit;

/* auth daemon (Dovecot's names). */
extern char *var_auth_mechanisms;
extern bool var_disable_plaintext_auth;
extern char *var_auth_allow_cleartext;
extern long long var_auth_cache_size;
extern long long var_auth_cache_ttl;
extern long long var_auth_cache_negative_ttl;
extern long long var_auth_failure_delay;
extern char *var_auth_username_format;
extern char *var_auth_username_chars;
extern char *var_auth_default_realm;
extern bool var_auth_verbose;
extern bool var_auth_debug;
extern char *var_passdb;
extern char *var_userdb;
extern char *var_default_pass_scheme;
extern char *var_auth_syslog_name;

/* issue 4: queue, qmgr, smtp (LMTP), sendmail (Postfix's names). */
extern long long var_queue_run_delay;
extern long long var_minimal_backoff_time;
extern long long var_maximal_backoff_time;
extern long long var_maximal_queue_lifetime;
extern char *var_default_transport;
extern char *var_virtual_transport;
extern char *var_local_transport;
extern char *var_transport_maps;
extern long long var_default_destination_concurrency_limit;
extern long long var_qmgr_message_active_limit;
extern long long var_lmtp_connect_timeout;
extern long long var_lmtp_data_done_timeout;
extern long long var_lmtp_cmd_timeout;
extern char *var_lmtp_lhlo_name;

/* issue 4: smtpd (Postfix's names; smtpd_local_submission is ours). */
extern char *var_smtpd_banner;
extern long long var_line_length_limit;
extern long long var_smtpd_recipient_limit;
extern long long var_smtpd_timeout;
extern long long var_smtpd_hard_error_limit;
extern long long var_smtpd_client_connection_count_limit;
extern bool var_smtpd_peername_lookup;
extern char *var_virtual_mailbox_domains;
extern char *var_virtual_mailbox_maps;
extern char *var_virtual_alias_maps;
extern char *var_recipient_delimiter;
extern char *var_mynetworks;
extern char *var_relay_domains;
extern char *var_smtpd_tls_cert_file;
extern char *var_smtpd_tls_key_file;
extern char *var_smtpd_tls_security_level;
extern bool var_smtpd_local_submission;

/* issue 5: submission (Postfix's names; smtpd_user_message_rate_limit is
 * ours). */
extern bool var_smtpd_sasl_auth_enable;
extern char *var_smtpd_sasl_type;
extern char *var_smtpd_sasl_path;
extern bool var_smtpd_tls_auth_only;
extern bool var_smtpd_sasl_authenticated_header;
extern bool var_broken_sasl_auth_clients;
extern bool var_smtpd_tls_wrappermode;
extern char *var_smtpd_client_restrictions;
extern char *var_smtpd_sender_restrictions;
extern char *var_smtpd_sender_login_maps;
extern long long var_smtpd_client_message_rate_limit;
extern long long var_smtpd_user_message_rate_limit;
extern long long var_anvil_rate_time_unit;
extern bool var_always_add_missing_headers;

/* issue 4: lmtpd (Dovecot's names; lmtp_user_lookup_timeout is ours). */
extern char *var_mail_location;
extern char *var_mail_uid;
extern char *var_mail_gid;
extern char *var_mail_temp_dir;
extern char *var_auth_socket_path;
extern bool var_lmtp_save_to_detail_mailbox;
extern bool var_lda_mailbox_autocreate;
extern long long var_lmtp_user_lookup_timeout;

/* issue 5: smtp client */
extern char *var_relayhost;
extern char *var_smtp_tls_security_level;
extern char *var_smtp_tls_CAfile;
extern char *var_smtp_helo_name;
extern long long var_smtp_connect_timeout;
extern long long var_smtp_helo_timeout;
extern long long var_smtp_data_done_timeout;
extern long long var_smtp_cmd_timeout;
extern long long var_smtp_mx_address_limit;
extern char *var_dns_resolver;
extern char *var_dns_trust_anchor_file;
extern long long var_dns_timeout;
extern char *var_inet_protocols;

/* issue 5: bounces (Postfix's names). */
extern long long var_bounce_size_limit;
extern long long var_delay_warning_time;
extern long long var_bounce_queue_lifetime;
extern char *var_double_bounce_sender;
extern char *var_2bounce_notice_recipient;

/* issue 6/7: login processes, IMAP and POP3 sessions (Dovecot's names,
 * except where marked ours in mail_params.c). */
extern char *var_ssl;
extern char *var_ssl_cert;
extern char *var_ssl_key;
extern bool var_login_tls_wrappermode;
extern long long var_login_max_auth_failures;
extern long long var_login_timeout;
extern char *var_auth_client_path;
extern char *var_login_session_service;
extern long long var_mail_max_userip_connections;
extern long long var_session_thread_stack;
extern long long var_imap_max_line_length;
extern long long var_imap_client_timeout;
extern long long var_imap_idle_notify_interval;
extern char *var_imap_special_use;
extern char *var_imap_autocreate;
extern long long var_imap_search_max_keys;
extern char *var_pop3_uidl_format;
extern bool var_pop3_lock_session;
extern bool var_pop3_save_uidl;
extern bool var_pop3_reuse_xuidl;
extern long long var_pop3_client_timeout;
extern long long var_pop3_max_commands;

/* issue 5 (session 3): smtp client and qmgr additions (Postfix's names). */
extern bool var_smtp_connection_cache_on_demand;
extern char *var_smtp_connection_cache_destinations;
extern long long var_smtp_connection_cache_time_limit;
extern long long var_smtp_connection_reuse_time_limit;
extern long long var_smtp_connection_reuse_count_limit;
extern long long var_smtp_rset_timeout;
extern long long var_default_destination_rate_delay;
extern long long var_default_destination_recipient_limit;
extern bool var_disable_mime_output_conversion;
/* smtp SASL client login (Postfix's names). */
extern bool var_smtp_sasl_auth_enable;
extern char *var_smtp_sasl_password_maps;
extern char *var_smtp_sasl_security_options;
extern char *var_smtp_sasl_tls_security_options;
extern char *var_smtp_sasl_mechanism_filter;
extern bool var_smtp_sasl_auth_soft_bounce;

#endif
