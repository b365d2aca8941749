"""dovetail domain|user|alias against a Dovecot passwd-file with texthash
files for domains and aliases (passdb = passwd-file:...).

Shows: the account scenario (tests/lib/accounts_scenario.py) on flat
files; users are "user@domain:{SCHEME}hash::::::" lines, domains and
aliases go to texthash files beside the passwd-file (virtual_domains,
virtual_aliases); the admin's comments, other users' extra fields and the
file's mode survive every rewrite; the passwd-file: and texthash: maps
read what the commands wrote; our auth daemon with that passdb accepts
alice's password and refuses a wrong one.
"""
import os
import shutil
import stat
import subprocess
import sys
import tempfile

import dovetail_test
from accounts_scenario import ALICE, ALICE_PW, run_scenario, pw_verifies
from dovecot_auth_client import AuthClient, start_auth, stop_auth, log_text

failures = []

OLD_LINE = ("old@legacy.test:{PLAIN}x:1000:1000::/home/old::"
            "userdb_quota_rule=*:storage=1G")


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what)
    if not cond:
        failures.append(what)


def main():
    exe = dovetail_test.bin_path("dovetail")
    if not os.path.exists(exe):
        dovetail_test.missing("the dovetail command (build it)")
    auth = dovetail_test.bin_path("auth")
    if not os.path.exists(auth):
        dovetail_test.missing("the auth daemon (build it)")
    dovetail_test.need_root()
    tmp = tempfile.mkdtemp(prefix="test_accounts_passwdfile.")
    try:
        run(tmp, exe)
        authenticate(tmp, auth)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    print("all checks passed")


def read_lines(path):
    with open(path) as f:
        return f.read().split("\n")


def run(tmp, exe):
    users = os.path.join(tmp, "users")
    with open(users, "w") as f:
        f.write("# the admin's comment\n")
    os.chmod(users, 0o600)
    conf = os.path.join(tmp, "etc")
    os.mkdir(conf)
    with open(os.path.join(conf, "main.cf"), "w") as f:
        f.write("queue_directory = %s/queue\n" % tmp)
    with open(os.path.join(conf, "auth.cf"), "w") as f:
        f.write("passdb = passwd-file:%s\n" % users)

    def dt(*args, input=None):
        return subprocess.run([exe, "-c", conf, *args], input=input,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=60)

    def stored_hash(user):
        for l in read_lines(users):
            if l.split(":")[0] == user:
                return l.split(":")[1]
        return None

    run_scenario(dt, stored_hash, check)

    # a line the admin wrote by hand, with uid, home and extra fields
    with open(users, "a") as f:
        f.write(OLD_LINE + "\n")
    r = dt("user", "add", "zed@example.test", "-p", "z")
    lines = read_lines(users)
    check(r.returncode == 0 and lines[0] == "# the admin's comment" and
          OLD_LINE in lines, "comment and the other user's line kept")
    alice = [l for l in lines if l.startswith(ALICE + ":")]
    check(len(alice) == 1 and alice[0].endswith("::::::") and
          alice[0].count(":") == 7, "alice's line has Dovecot's 8 fields: %r"
          % alice)
    check(stat.S_IMODE(os.stat(users).st_mode) == 0o600,
          "the passwd-file keeps mode 0600")
    check(read_lines(os.path.join(tmp, "virtual_domains"))[:-1] ==
          ["example.test OK"], "virtual_domains holds example.test")
    check(read_lines(os.path.join(tmp, "virtual_aliases"))[:-1] ==
          ["postmaster@example.test alice@example.test"],
          "virtual_aliases holds the postmaster alias")
    check(not [n for n in os.listdir(tmp) if "tmp" in n.lower()],
          "no temporary files left: %r" % os.listdir(tmp))
    # passwd keeps the other fields (the user's domain need not be listed)
    r = dt("user", "passwd", "old@legacy.test", "-p", "new", "-s", "PLAIN")
    lines = read_lines(users)
    check(r.returncode == 0 and
          "old@legacy.test:{PLAIN}new:1000:1000::/home/old::"
          "userdb_quota_rule=*:storage=1G" in lines,
          "passwd changes only the password field (%s)" % r.stderr.strip())

    tool = os.path.join(dovetail_test.BUILD_DIR, "tests", "map_lookup_tool")
    if os.path.exists(tool):
        r = subprocess.run([tool, "passwd-file:" + users],
                           input="get %s password\n" % ALICE,
                           stdout=subprocess.PIPE, text=True, timeout=30)
        out = r.stdout.split("\n")
        h = out[1][len("FOUND 1 "):] if len(out) > 1 else ""
        check(out[1:2] and out[1].startswith("FOUND 1 {SHA512-CRYPT}") and
              pw_verifies(h, ALICE_PW),
              "the passwd-file map returns alice's hash: %r" % out[1:2])
        r = subprocess.run([tool, "texthash:" + os.path.join(
            tmp, "virtual_aliases")], input="lookup postmaster@example.test\n",
            stdout=subprocess.PIPE, text=True, timeout=30)
        check(r.stdout.split("\n")[1:2] == ["FOUND 1 " + ALICE],
              "the texthash map resolves the alias: %r" % r.stdout)
    else:
        check(False, "map_lookup_tool is built")


def authenticate(tmp, auth_exe):
    """auth opens the passwd-file as root at start, then runs as nobody."""
    os.chmod(tmp, 0o755)
    with open(os.path.join(tmp, "etc", "auth.cf"), "a") as f:
        f.write("auth_failure_delay = 0\n")
    sock = os.path.join(tmp, "auth.sock")
    p = None
    try:
        p = start_auth(auth_exe, os.path.join(tmp, "etc"), sock)
        with AuthClient(sock) as c:
            st, f = c.plain(ALICE, ALICE_PW, secured=True)
            check(st == "OK" and f.get("user") == ALICE,
                  "auth with the passwd-file accepts alice: %s %r" % (st, f))
            st, f = c.plain(ALICE, "wrong", secured=True)
            check(st == "FAIL" and "temp" not in f,
                  "auth refuses a wrong password: %s %r" % (st, f))
    except (RuntimeError, EOFError, OSError) as e:
        check(False, "auth daemon: %s" % e)
    finally:
        stop_auth(p)
        if failures:
            print("--- auth log ---\n" + log_text(sock))


if __name__ == "__main__":
    main()
