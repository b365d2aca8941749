"""dovetail domain|user|alias|pw against a private MariaDB (tutorial
schema), then our auth daemon authenticating the user the command made.

Shows: the account scenario (tests/lib/accounts_scenario.py) over MySQL
with --map naming an admin map file (the passdb map's user may only
SELECT, as in the tutorials; the command then says the server denied the
write); auth with passdb = mysql:... (the tutorial password_query)
accepts alice's password and refuses a wrong one with a plain FAIL; a user
added while auth runs logs in at once; with the MariaDB server stopped an
AUTH is a temporary failure (FAIL ... temp), never a wrong-password FAIL;
after the server starts again logins work again.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

import dovetail_test
from accounts_scenario import ALICE, ALICE_PW, run_scenario
from dovecot_auth_client import AuthClient, start_auth, stop_auth, log_text
from mariadb import MariaDB

failures = []


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what)
    if not cond:
        failures.append(what)


def main():
    exe = dovetail_test.bin_path("dovetail")
    auth = dovetail_test.bin_path("auth")
    if not os.path.exists(exe):
        dovetail_test.missing("the dovetail command (build it)")
    if not os.path.exists(auth):
        dovetail_test.missing("the auth daemon (build it)")
    dovetail_test.need_root()
    tmp = tempfile.mkdtemp(prefix="test_accounts_mysql.")
    os.chmod(tmp, 0o755)  # auth runs as nobody
    try:
        with MariaDB() as db:
            run(tmp, exe, auth, db)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    print("all checks passed")


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def run(tmp, exe, auth_exe, db):
    src = os.path.join(dovetail_test.SOURCE_DIR, "conf", "sql")
    with open(os.path.join(src, "mysql-schema.sql")) as f:
        db.create_database("mailserver", f.read())
    db.create_user("mailadmin", "adm'in pw", "mailserver",
                   privileges="SELECT, INSERT, UPDATE, DELETE")
    db.create_user("mailuser", "secret", "mailserver")
    # the admin's file over the unix socket; auth's over TCP, with the
    # shipped password_query
    admin_cf = os.path.join(tmp, "mysql-admin.cf")
    write(admin_cf, "hosts = unix:%s\nuser = mailadmin\npassword = adm'in pw\n"
          "dbname = mailserver\nquery = SELECT 1\n" % db.socket, 0o600)
    with open(os.path.join(src, "mysql-passdb.cf")) as f:
        text = f.read()
    out = []
    for l in text.split("\n"):
        if l.startswith("hosts"):
            l = "hosts = inet:127.0.0.1:%d" % db.port
        elif l.startswith("user"):
            l = "user = mailuser"
        out.append(l)
    passdb_cf = os.path.join(tmp, "mysql-passdb.cf")
    write(passdb_cf, "\n".join(out) + "\nconnect_timeout = 3\ntimeout = 5\n",
          0o600)
    conf = os.path.join(tmp, "etc")
    os.mkdir(conf)
    write(os.path.join(conf, "main.cf"),
          "queue_directory = %s/queue\npassdb = mysql:%s\n"
          % (tmp, passdb_cf))
    # no cache (each AUTH asks the database) and no failure delay, so the
    # outage below is seen at once
    write(os.path.join(conf, "auth.cf"),
          "auth_cache_size = 0\nauth_failure_delay = 0\n")

    def dt(*args, input=None):
        return subprocess.run([exe, "-c", conf, *args, "--map",
                               "mysql:" + admin_cf], input=input,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=60)

    def stored_hash(user):
        out = db.sql("SELECT password FROM virtual_users WHERE email = '%s';"
                     % user.replace("'", "''"), "mailserver").strip()
        return out or None

    run_scenario(dt, stored_hash, check)

    # the passdb map's read-only user: the server's refusal, said plainly
    r = subprocess.run([exe, "-c", conf, "user", "add", "eve@example.test",
                        "-p", "x"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=60)
    check(r.returncode != 0 and "denied" in r.stderr and
          len(r.stderr.strip().split("\n")) == 1,
          "passdb with a SELECT-only user: one-line error (%s)"
          % r.stderr.strip())
    r = subprocess.run([exe, "-c", conf, "user", "list"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=60)
    check(r.returncode == 0 and r.stdout == ALICE + "\n",
          "user list through passdb (read-only is enough): %r" % r.stdout)

    sock = os.path.join(tmp, "auth.sock")
    p = None
    try:
        p = start_auth(auth_exe, conf, sock)
        with AuthClient(sock) as c:
            check("PLAIN" in c.mechs, "auth offers PLAIN: %r" % c.mechs)
            st, f = c.plain(ALICE, ALICE_PW, secured=True)
            check(st == "OK" and f.get("user") == ALICE,
                  "alice authenticates over mysql passdb: %s %r" % (st, f))
            st, f = c.plain(ALICE, "wrong", secured=True)
            check(st == "FAIL" and "temp" not in f,
                  "wrong password: plain FAIL: %s %r" % (st, f))
        r = dt("user", "add", "dave@example.test", "-p", "dave pw")
        with AuthClient(sock) as c:
            st, f = c.plain("dave@example.test", "dave pw", secured=True)
            check(r.returncode == 0 and st == "OK",
                  "a user added while auth runs logs in: %s %r" % (st, f))

        db.stop()
        with AuthClient(sock) as c:
            for user, pw in ((ALICE, ALICE_PW), (ALICE, "wrong"),
                             ("nobody@example.test", "x")):
                st, f = c.plain(user, pw, secured=True)
                check(st == "FAIL" and "temp" in f,
                      "database down: %s/%s -> temporary failure: %s %r"
                      % (user, "right" if pw == ALICE_PW else "other", st, f))
        db.start()
        ok = False
        for _ in range(20):
            with AuthClient(sock) as c:
                st, f = c.plain(ALICE, ALICE_PW, secured=True)
            if st == "OK":
                ok = True
                break
            time.sleep(0.5)
        check(ok, "after the database is back alice logs in again")
        check(p.poll() is None, "auth is still running")
    except (RuntimeError, EOFError, OSError) as e:
        check(False, "auth daemon: %s" % e)
    finally:
        stop_auth(p)
        if failures:
            print("--- auth log ---\n" + log_text(sock))


if __name__ == "__main__":
    main()
