"""Debian's Postfix authenticates submission clients through our auth
daemon (smtpd_sasl_type = dovecot), with accounts made by "dovetail user
add", over SQLite and over MySQL (a private MariaDB).

A private Postfix instance: its own config_directory, queue and data
directories and maillog_file in a temporary directory, two smtpd services
on free loopback ports, each with smtpd_sasl_path pointing at one of our
auth daemons (an absolute path: smtpd runs unchrooted here). No TLS: the
client connects from 127.0.0.1, which Dovecot (and our auth) count as a
secured connection, so PLAIN/LOGIN are allowed with the default
disable_plaintext_auth = yes; a real submission service adds STARTTLS and
Postfix then sends "secured" itself.

Shows: AUTH PLAIN and AUTH LOGIN as alice succeed (235) and the relay
restriction then lets a remote recipient through; a wrong password and an
unknown user get 535; without AUTH the relay is refused; Postfix logs
sasl_method/sasl_username for the login.
"""
import os
import shutil
import smtplib
import sqlite3
import subprocess
import sys
import tempfile

import dovetail_test
import peers
from peers import free_port
from dovecot_auth_client import start_auth, stop_auth, log_text

failures = []
ALICE = "alice@example.test"
ALICE_PW = "Alice's submission pw"


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what)
    if not cond:
        failures.append(what)


def postfix(base, services):
    """A private Postfix in base with one submission-like smtpd per
    (port, auth socket) pair."""
    lines = []
    for port, sock in services:
        lines += [f"127.0.0.1:{port} inet n - n - - smtpd",
                  "  -o syslog_name=postfix/submission",
                  "  -o smtpd_sasl_auth_enable=yes",
                  "  -o smtpd_sasl_type=dovecot",
                  f"  -o smtpd_sasl_path={sock}",
                  "  -o smtpd_sasl_security_options=noanonymous",
                  "  -o smtpd_relay_restrictions="
                  "permit_sasl_authenticated,reject",
                  "  -o broken_sasl_auth_clients=yes"]
    return peers.PrivatePostfix(base, "", lines,
                                [port for port, _ in services])


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def make_conf(base, name, passdb):
    conf = os.path.join(base, name)
    os.mkdir(conf)
    write(os.path.join(conf, "main.cf"),
          "queue_directory = %s/queue\npassdb = %s\n" % (base, passdb))
    # answers at once: the failure delay is Dovecot's defence, not what
    # this test is about
    write(os.path.join(conf, "auth.cf"), "auth_failure_delay = 0\n")
    return conf


def setup_sqlite(base, exe):
    src = os.path.join(dovetail_test.SOURCE_DIR, "conf", "sql")
    dbpath = os.path.join(base, "accounts.sqlite")
    with open(os.path.join(src, "sqlite-schema.sql")) as f:
        con = sqlite3.connect(dbpath)
        con.executescript(f.read())
        con.close()
    os.chmod(dbpath, 0o644)  # auth reads it as nobody
    with open(os.path.join(src, "sqlite-passdb.cf")) as f:
        text = "\n".join(("dbpath = " + dbpath) if l.startswith("dbpath")
                         else l for l in f.read().split("\n"))
    cf = os.path.join(base, "sqlite-passdb.cf")
    write(cf, text, 0o600)
    return make_conf(base, "etc-sqlite", "sqlite:" + cf), None


def setup_mysql(base, exe):
    from mariadb import MariaDB
    db = MariaDB()
    db.start()
    src = os.path.join(dovetail_test.SOURCE_DIR, "conf", "sql")
    with open(os.path.join(src, "mysql-schema.sql")) as f:
        db.create_database("mailserver", f.read())
    # one user that may write, so "dovetail user add" works through the
    # passdb map as it does with SQLite
    db.create_user("mailuser", "secret", "mailserver",
                   privileges="SELECT, INSERT, UPDATE, DELETE")
    cf = os.path.join(base, "mysql-passdb.cf")
    with open(os.path.join(src, "mysql-passdb.cf")) as f:
        # TCP: auth runs as nobody, who cannot enter MariaDB's private
        # socket directory
        text = "\n".join(("hosts = inet:127.0.0.1:%d" % db.port)
                         if l.startswith("hosts") else l
                         for l in f.read().split("\n"))
    write(cf, text, 0o600)
    return make_conf(base, "etc-mysql", "mysql:" + cf), db


def add_alice(exe, conf, label):
    for args in (("domain", "add", "example.test"),
                 ("user", "add", ALICE, "-p", ALICE_PW)):
        r = subprocess.run([exe, "-c", conf, *args], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=60)
        check(r.returncode == 0, "%s: dovetail %s (%s)"
              % (label, " ".join(args[:2]), r.stderr.strip()))


def login(port, user, password, mech="PLAIN"):
    """(code, relay_reply_code) of AUTH through Postfix; relay code is that
    of RCPT TO a remote address after the AUTH (None if AUTH failed)."""
    s = smtplib.SMTP("127.0.0.1", port, timeout=30)
    try:
        s.ehlo("client.example.test")
        s.user, s.password = user, password
        auth_obj = s.auth_plain if mech == "PLAIN" else s.auth_login
        try:
            code, _ = s.auth(mech, auth_obj, initial_response_ok=True)
        except smtplib.SMTPAuthenticationError as e:
            return e.smtp_code, None
        s.mail(ALICE)
        rcode, _ = s.rcpt("someone@remote.example")
        s.rset()
        return code, rcode
    finally:
        try:
            s.quit()
        except smtplib.SMTPException:
            s.close()


def no_auth_relay(port):
    s = smtplib.SMTP("127.0.0.1", port, timeout=30)
    try:
        s.ehlo("client.example.test")
        mechs = s.esmtp_features.get("auth", "").split()
        s.mail("x@client.example.test")
        rcode, _ = s.rcpt("someone@remote.example")
        return mechs, rcode
    finally:
        s.quit()


def exercise(port, label):
    mechs, rcode = no_auth_relay(port)
    check("PLAIN" in mechs and "LOGIN" in mechs,
          "%s: Postfix offers our mechanisms: %r" % (label, mechs))
    check(rcode == 554, "%s: without AUTH the relay is refused (%s)"
          % (label, rcode))
    code, rcode = login(port, ALICE, ALICE_PW, "PLAIN")
    check(code == 235 and rcode == 250,
          "%s: AUTH PLAIN alice -> %s, relay then -> %s" % (label, code, rcode))
    code, rcode = login(port, ALICE, ALICE_PW, "LOGIN")
    check(code == 235 and rcode == 250,
          "%s: AUTH LOGIN alice -> %s, relay then -> %s" % (label, code, rcode))
    code, _ = login(port, ALICE, "not the password", "PLAIN")
    check(code == 535, "%s: wrong password -> %s" % (label, code))
    code, _ = login(port, "mallory@example.test", ALICE_PW, "LOGIN")
    check(code == 535, "%s: unknown user -> %s" % (label, code))


def main():
    dovetail_test.need_root()
    exe = dovetail_test.bin_path("dovetail")
    auth = dovetail_test.bin_path("auth")
    if not os.path.exists(exe):
        dovetail_test.missing("the dovetail command (build it)")
    if not os.path.exists(auth):
        dovetail_test.missing("the auth daemon (build it)")
    dovetail_test.need_program("postfix", "postfix")
    base = tempfile.mkdtemp(prefix="test_auth_postfix.")
    os.chmod(base, 0o755)  # Postfix's smtpd (user postfix) reaches the sockets
    auths, db, pf = [], None, None
    try:
        conf_sqlite, _ = setup_sqlite(base, exe)
        conf_mysql, db = setup_mysql(base, exe)
        add_alice(exe, conf_sqlite, "sqlite")
        add_alice(exe, conf_mysql, "mysql")
        sock_sqlite = os.path.join(base, "auth-sqlite.sock")
        sock_mysql = os.path.join(base, "auth-mysql.sock")
        auths.append(start_auth(auth, conf_sqlite, sock_sqlite))
        auths.append(start_auth(auth, conf_mysql, sock_mysql))
        port_sqlite, port_mysql = free_port(), free_port()
        pf = postfix(os.path.join(base, "postfix"),
                      [(port_sqlite, sock_sqlite), (port_mysql, sock_mysql)])
        pf.start()
        exercise(port_sqlite, "sqlite")
        exercise(port_mysql, "mysql")
        log = pf.log()
        check("sasl_method=PLAIN, sasl_username=" + ALICE in log and
              "sasl_method=LOGIN, sasl_username=" + ALICE in log,
              "Postfix logs the SASL logins")
        check("SASL PLAIN authentication failed" in log,
              "Postfix logs the failed login")
    except RuntimeError as e:
        check(False, str(e))
    finally:
        if pf is not None:
            pf.stop()
        for p in auths:
            stop_auth(p)
        if db is not None:
            db.cleanup()
        if failures:
            if pf is not None:
                print("--- postfix maillog ---\n" + pf.log())
            for s in ("auth-sqlite.sock", "auth-mysql.sock"):
                print("--- %s log ---\n%s" % (s, log_text(os.path.join(base, s))))
        shutil.rmtree(base, ignore_errors=True)
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
