"""dovetail domain|user|alias|pw against SQLite (the tutorial schema).

Shows: the backend comes from passdb in main.cf (a sqlite: map file), or
from --map without any configuration; domain/user/alias add, list, del and
passwd change the tables as asserted; the stored hash verifies with
"dovetail pw -t" and is what the passdb map (sqlite-passdb.cf's query)
returns; a duplicate user and a user of an unknown domain are refused; a
quote in a name is bound as data.
"""
import os
import pty
import select
import shutil
import sqlite3
import subprocess
import sys
import tempfile

import dovetail_test
from accounts_scenario import ALICE, ALICE_PW, run_scenario, pw_verifies

failures = []


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what)
    if not cond:
        failures.append(what)


def setup(tmp):
    src = os.path.join(dovetail_test.SOURCE_DIR, "conf", "sql")
    dbpath = os.path.join(tmp, "accounts.sqlite")
    with open(os.path.join(src, "sqlite-schema.sql")) as f:
        con = sqlite3.connect(dbpath)
        con.executescript(f.read())
        con.close()
    # the shipped passdb file with our dbpath
    with open(os.path.join(src, "sqlite-passdb.cf")) as f:
        text = f.read()
    text = "\n".join(("dbpath = " + dbpath) if l.startswith("dbpath") else l
                     for l in text.split("\n"))
    passdb_cf = os.path.join(tmp, "sqlite-passdb.cf")
    with open(passdb_cf, "w") as f:
        f.write(text)
    conf = os.path.join(tmp, "etc")
    os.mkdir(conf)
    with open(os.path.join(conf, "main.cf"), "w") as f:
        f.write("queue_directory = %s/queue\npassdb = sqlite:%s\n"
                % (tmp, passdb_cf))
    return dbpath, passdb_cf, conf


def pw_on_tty(exe, answers):
    """Runs "dovetail pw -s SHA256-CRYPT" on a pseudo-terminal, typing
    answers; returns (exit code, what the terminal showed)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(exe, [exe, "pw", "-s", "SHA256-CRYPT"])
    out = b""
    for a in answers:
        while b"password: " not in out.split(b"\n")[-1]:
            r, _, _ = select.select([fd], [], [], 10)
            if not r:
                break
            try:
                out += os.read(fd, 1024)
            except OSError:
                break
        os.write(fd, a.encode() + b"\n")
        out += b"\n"
    while True:
        r, _, _ = select.select([fd], [], [], 10)
        if not r:
            break
        try:
            data = os.read(fd, 1024)
        except OSError:
            break
        if not data:
            break
        out += data
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


def main():
    exe = dovetail_test.bin_path("dovetail")
    if not os.path.exists(exe):
        dovetail_test.missing("the dovetail command (build it)")
    tmp = tempfile.mkdtemp(prefix="test_accounts_sqlite.")
    try:
        run(tmp, exe)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    print("all checks passed")


def run(tmp, exe):
    dbpath, passdb_cf, conf = setup(tmp)

    def dt(*args, input=None):
        r = subprocess.run([exe, "-c", conf, *args], input=input,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=60)
        return r

    def stored_hash(user):
        con = sqlite3.connect(dbpath)
        row = con.execute("SELECT password FROM virtual_users WHERE email=?",
                          (user,)).fetchone()
        con.close()
        return row[0] if row else None

    r = dt("config", "passdb")
    check(r.returncode == 0 and passdb_cf in r.stdout,
          "passdb is a catalog parameter (%s)" % (r.stdout + r.stderr).strip())
    run_scenario(dt, stored_hash, check)

    # what auth's passdb map reads is what the command wrote
    tool = os.path.join(dovetail_test.BUILD_DIR, "tests", "map_lookup_tool")
    if os.path.exists(tool):
        r = subprocess.run([tool, "-D", "-f", "sqlite:" + passdb_cf],
                           input="get Alice@example.test password\n",
                           stdout=subprocess.PIPE, text=True, timeout=30)
        out = r.stdout.split("\n")
        check(len(out) > 1 and out[1] == "FOUND 1 " + stored_hash(ALICE),
              "the passdb map returns alice's hash: %r" % out[1:2])
    else:
        check(False, "map_lookup_tool is built")

    # --map without any configuration
    r = subprocess.run([exe, "-c", os.path.join(tmp, "no-such-dir"), "user",
                        "list", "--map", "sqlite:" + passdb_cf],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=30)
    check(r.returncode == 0 and r.stdout == ALICE + "\n",
          "--map sqlite:FILE works without main.cf (%s)" % r.stderr.strip())
    # no usable passdb: a clear error
    bare = os.path.join(tmp, "bare")
    os.mkdir(bare)
    with open(os.path.join(bare, "main.cf"), "w") as f:
        f.write("queue_directory = %s/queue\n" % tmp)
    r = subprocess.run([exe, "-c", bare, "user", "list"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=30)
    check(r.returncode != 0 and "passdb" in r.stderr,
          "no passdb map: error names passdb (%s)" % r.stderr.strip())
    # a database file that does not exist is not created
    missing_cf = os.path.join(tmp, "missing.cf")
    with open(missing_cf, "w") as f:
        f.write("dbpath = %s/nope.sqlite\nquery = SELECT 1\n" % tmp)
    r = subprocess.run([exe, "domain", "list", "--map", "sqlite:" + missing_cf],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=30)
    check(r.returncode != 0 and "nope.sqlite" in r.stderr and
          not os.path.exists(os.path.join(tmp, "nope.sqlite")),
          "missing dbpath is an error, not a new file (%s)" % r.stderr.strip())
    check(pw_verifies(stored_hash(ALICE), ALICE_PW), "alice still verifies")

    # no -p on a terminal: asked twice, without echo
    rc, shown = pw_on_tty(exe, ["tty secret", "tty secret"])
    hashes = [l.strip() for l in shown.split("\n")
              if l.strip().startswith("{SHA256-CRYPT}")]
    check(rc == 0 and "Enter new password:" in shown and
          "Retype new password:" in shown and "tty secret" not in shown and
          len(hashes) == 1 and pw_verifies(hashes[0], "tty secret"),
          "pw asks twice on a terminal, echo off: %r" % shown)
    rc, shown = pw_on_tty(exe, ["one", "two"])
    check(rc != 0 and "don't match" in shown,
          "different answers on the terminal are refused: %r" % shown)


if __name__ == "__main__":
    main()
