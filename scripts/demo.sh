#!/bin/sh
# Dovetail on its embedded default, in ./demo (Debian 12, as root):
# installs the build packages, builds, writes a configuration for a demo
# instance (SQLite accounts with a demo domain and user, a self-signed
# certificate, loopback ports), prints how to reach it, and runs master in
# the foreground (^C stops it). Every daemon that has been built is
# included; run it again after pulling to get the new ones.
# DEMO_DIR overrides the instance directory; DEMO_NO_RUN=1 sets it up and
# starts it in the background instead of running it in the foreground.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh scripts/install-deps.sh build
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDOVETAIL_TESTS=OFF \
	>build.log 2>&1 || { cat build.log; exit 1; }
make -C build -j"$(nproc 2>/dev/null || echo 2)" >>build.log 2>&1 ||
	{ tail -n 40 build.log; exit 1; }

bin=$top/build/bin
# The daemons run as unprivileged users that must reach the instance: keep
# it in the checkout only when they can (scripts/common.sh).
. "$top/scripts/common.sh"
if [ -n "${DEMO_DIR:-}" ]; then
	demo=$DEMO_DIR
elif searchable "$top"; then
	demo=$top/demo
else
	demo=/var/tmp/dovetail-demo
fi
etc=$demo/etc
mkdir -p "$etc/sql" "$etc/ssl" "$demo/data" "$demo/vmail"
dovetail() { "$bin/dovetail" -c "$etc" "$@"; }

# A running demo instance is stopped first, so the run starts clean.
[ -f "$etc/main.cf" ] && dovetail stop >/dev/null 2>&1 || true

domain=example.test
host=mail.$domain
user=demo@$domain
pass=demo

# main.cf: only parameters this build knows are written (the catalog grows
# as daemons arrive), so the file always passes "dovetail check".
cat >"$etc/main.cf" <<CF
# Dovetail demo instance (written by scripts/demo.sh).
queue_directory = $demo/spool
daemon_directory = $bin
command_directory = $bin
maillog_file = $demo/mail.log
myhostname = $host
mydomain = $domain
inet_interfaces = 127.0.0.1
CF
known() { dovetail config "$1" >/dev/null 2>&1; }
setp() { if known "$1"; then printf '%s = %s\n' "$1" "$2" >>"$etc/main.cf"; fi; }

setp mydestination "localhost"
setp virtual_mailbox_domains "sqlite:$etc/sql/virtual-mailbox-domains.cf"
setp virtual_mailbox_maps "sqlite:$etc/sql/virtual-mailbox-maps.cf"
setp virtual_alias_maps "sqlite:$etc/sql/virtual-alias-maps.cf, sqlite:$etc/sql/email2email.cf"
setp smtpd_sender_login_maps "sqlite:$etc/sql/sender-login-maps.cf"
setp passdb "sqlite:$etc/sql/passdb.cf"
setp userdb "static:uid=vmail gid=vmail home=$demo/vmail/%d/%n"
setp default_pass_scheme SHA512-CRYPT
setp disable_plaintext_auth no
setp mail_location "maildir:~/Maildir"
setp mail_uid vmail
setp mail_gid vmail
setp smtpd_tls_cert_file "$etc/ssl/cert.pem"
setp smtpd_tls_key_file "$etc/ssl/key.pem"
setp smtpd_tls_security_level may
setp ssl_cert "<$etc/ssl/cert.pem"
setp ssl_key "<$etc/ssl/key.pem"

# SQLite accounts: the tutorial schema and queries, pointed at demo/data.
db=$demo/data/accounts.sqlite
for f in conf/sql/sqlite-*.cf; do
	name=$(basename "$f" | sed 's/^sqlite-//')
	sed "s|^dbpath = .*|dbpath = $db|" "$f" >"$etc/sql/$name"
done
rm -f "$db"
sqlite3 "$db" <conf/sql/sqlite-schema.sql
hash=$(dovetail pw -s SHA512-CRYPT -p "$pass")
sqlite3 "$db" "INSERT INTO virtual_domains (name) VALUES ('$domain');
INSERT INTO virtual_users (domain_id, password, email)
  VALUES (1, '$hash', '$user');
INSERT INTO virtual_aliases (domain_id, source, destination)
  VALUES (1, 'postmaster@$domain', '$user');"

# A self-signed certificate for the TLS ports.
if [ ! -s "$etc/ssl/cert.pem" ]; then
	openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$host" \
		-addext "subjectAltName=DNS:$host" \
		-keyout "$etc/ssl/key.pem" -out "$etc/ssl/cert.pem" 2>/dev/null
	chmod 600 "$etc/ssl/key.pem"
fi

# master.cf: each built daemon with its demo port or socket.
: >"$etc/master.cf"
ports=""
svc() { # service type private unpriv chroot wakeup maxproc command [args]
	printf '%-12s %-5s %-7s %-7s %-7s %-7s %-7s' "$1" "$2" "$3" "$4" "$5" \
		"$6" "$7" >>"$etc/master.cf"
	shift 7
	echo " $*" >>"$etc/master.cf"
}
have() { [ -x "$bin/$1" ]; }
if have auth; then
	svc auth unix - - n - 1 auth
	svc auth-userdb unix - - n - 1 auth userdb
	ports="$ports\n  auth socket     $demo/spool/private/auth (Dovecot auth protocol)"
fi
if have smtpd; then
	svc 127.0.0.1:2525 inet n - n - - smtpd
	svc submit unix n - n - - smtpd -o smtpd_local_submission=yes
	svc 127.0.0.1:5587 inet n - n - - smtpd \
		-o smtpd_tls_security_level=encrypt -o smtpd_sasl_auth_enable=yes \
		-o smtpd_client_restrictions=permit_sasl_authenticated,reject
	svc 127.0.0.1:4465 inet n - n - - smtpd -o smtpd_tls_wrappermode=yes \
		-o smtpd_sasl_auth_enable=yes \
		-o smtpd_client_restrictions=permit_sasl_authenticated,reject
	ports="$ports\n  SMTP            127.0.0.1:2525 (MX, STARTTLS)"
	ports="$ports\n  submission      127.0.0.1:5587 (STARTTLS + AUTH), 127.0.0.1:4465 (TLS + AUTH)"
fi
have qmgr && svc qmgr unix n - n 300 1 qmgr
have smtp && svc lmtp unix - - n - - smtp
# lmtpd runs as the virtual mail user, in mail_owner's group so it can
# reach auth's userdb socket (dovetail setup creates vmail if missing).
have lmtpd && svc dovetail-lmtp unix - vmail:dovetail n - - lmtpd
# IMAP and POP3: the login processes on the demo ports, the session
# services as vmail (in mail_owner's group, like lmtpd).
if have imapd && have imap-login; then
	svc 127.0.0.1:1143 inet n - n - - imap-login
	svc 127.0.0.1:9993 inet n - n - - imap-login -o login_tls_wrappermode=yes
	svc imap unix - vmail:dovetail n - 1 imapd
	ports="$ports\n  IMAP            127.0.0.1:1143 (STARTTLS), IMAPS 127.0.0.1:9993"
fi
if have pop3d && have pop3-login; then
	svc 127.0.0.1:1110 inet n - n - - pop3-login
	svc 127.0.0.1:9995 inet n - n - - pop3-login -o login_tls_wrappermode=yes
	svc pop3 unix - vmail:dovetail n - 1 pop3d
	ports="$ports\n  POP3            127.0.0.1:1110 (STLS), POP3S 127.0.0.1:9995"
fi

dovetail setup
chown vmail:vmail "$demo/vmail"
dovetail check

cat <<INFO

Dovetail demo instance in $demo
  configuration   $etc (dovetail -c $etc status|check|config -n)
  log             $demo/mail.log$(printf "$ports")
  demo account    $user / $pass   (SQLite: $db)
Try it:
INFO
if have smtpd; then
	echo "  swaks --server 127.0.0.1:2525 --to $user --tls     (then: ls $demo/vmail/$domain/demo/Maildir/new)"
	echo "  swaks --server 127.0.0.1:5587 --tls --auth PLAIN --auth-user $user --auth-password $pass --from $user --to someone@$domain"
else
	echo "  $bin/dovetail -c $etc status"
fi
if have imap-login; then
	echo "  curl -k --user '$user:$pass' imaps://127.0.0.1:9993/INBOX   (UIDs; then .../INBOX;UID=1)"
fi
if have pop3-login; then
	echo "  curl -k --user '$user:$pass' pop3s://127.0.0.1:9995/1"
fi
echo

if [ "${DEMO_NO_RUN:-}" = 1 ]; then
	dovetail start
	dovetail status
else
	exec "$bin/dovetail" -c "$etc" start -f
fi
