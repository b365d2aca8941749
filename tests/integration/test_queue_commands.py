"""dovetail queue list|show|flush|hold|release|requeue|delete on queue
files written by the real queue_file writer (tests/queue_inject_tool):
Postfix's mailq layout (long queue IDs, '*' active, '!' hold, the
deferral reason above the recipients, the Kbytes/Requests summary, "Mail
queue is empty"), postqueue -j style JSON, the moves between queues with
the qmgr trigger, delete ALL, show, refusal for other users, and hostile
envelope bytes kept off the terminal.
"""
import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

from dovetail_test import BUILD_DIR, bin_path, missing, need_root

INJECT = os.path.join(BUILD_DIR, "tests", "queue_inject_tool")
QUEUES = ("incoming", "active", "deferred", "hold", "corrupt", "maildrop",
          "public", "pid")
failures = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


class Env:
    def __init__(self):
        self.top = tempfile.mkdtemp(prefix="dv-queue-")
        os.chmod(self.top, 0o755)
        self.q = os.path.join(self.top, "q")
        for d in QUEUES:
            os.makedirs(os.path.join(self.q, d))
        with open(os.path.join(self.top, "main.cf"), "w") as f:
            f.write(f"queue_directory = {self.q}\nmail_owner = nobody\n"
                    "myhostname = mail.example.org\n")
        self.triggers = []
        self.sock = None

    def listen_qmgr(self):
        path = os.path.join(self.q, "public", "qmgr")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(10)

        def run():
            while True:
                try:
                    c, _ = self.sock.accept()
                except OSError:
                    return
                data = b""
                while True:
                    b = c.recv(100)
                    if not b:
                        break
                    data += b
                c.close()
                self.triggers.append(data)
        threading.Thread(target=run, daemon=True).start()

    def inject(self, *args):
        p = subprocess.run([INJECT, self.q] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=30)
        if p.returncode != 0:
            raise SystemExit(f"inject failed: {p.stderr}")
        return p.stdout.strip()

    def dv(self, *args, user=None):
        kw = {}
        if user is not None:
            pw = pwd.getpwnam(user)

            def drop():
                os.setgid(pw.pw_gid)
                os.setgroups([])
                os.setuid(pw.pw_uid)
            kw["preexec_fn"] = drop
        p = subprocess.run([bin_path("dovetail"), "-c", self.top, "queue"] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30, **kw)
        return p.returncode, p.stdout.decode("utf-8", "replace"), \
            p.stderr.decode("utf-8", "replace")

    def where(self, qid):
        return [d for d in QUEUES if os.path.exists(os.path.join(self.q, d, qid))]

    def close(self):
        if self.sock:
            self.sock.close()
        shutil.rmtree(self.top, ignore_errors=True)


def wait_triggers(env, n):
    end = time.time() + 5
    while len(env.triggers) < n and time.time() < end:
        time.sleep(0.05)
    return env.triggers[:]


def test_list_format(env):
    rc, out, err = env.dv("list")
    check(rc == 0 and out == "Mail queue is empty\n", f"empty queue: {out!r} {err}")

    a = env.inject("a@example.org", "b@example.org")
    d = env.inject("-q", "deferred", "-d",
                   "connect to mx.example.org[192.0.2.1]:25: Connection refused",
                   "-D", "1", "c@example.org", "d@example.org", "e@example.org")
    h = env.inject("-q", "hold", "-s", "", "-b", "3000", "f@example.org")
    x = env.inject("-q", "active", "x@example.org")
    rc, out, err = env.dv("list")
    print(out)
    lines = out.split("\n")
    check(rc == 0, "list exits 0")
    check(lines[0] == "----Queue ID----- --Size-- ---Arrival Time---- "
          "--Sender/Recipient------", f"heading {lines[0]!r}")
    sender_re = re.compile(r"^(\S+?)([ *!]) *(\d+) (\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d) (.*)$")
    entries = {}
    for ln in lines:
        m = sender_re.match(ln)
        if m and len(m.group(1)) >= 10:
            entries[m.group(1)] = (m.group(2), int(m.group(3)), m.group(5), ln)
    check(set(entries) == {a, d, h, x}, f"all four listed: {sorted(entries)}")
    check(entries.get(x, ("",))[0] == "*", "active marked *")
    check(entries.get(h, ("",))[0] == "!", "hold marked !")
    check(entries.get(a, ("",))[0] == " ", "incoming unmarked")
    check(entries.get(h, (0, 0, ""))[2] == "MAILER-DAEMON", "null sender shown as MAILER-DAEMON")
    check(entries.get(h, (0, 0))[1] == 3000, "size of the held message")
    # Column layout: ID+mark in 17, size right-aligned in 8.
    ln = entries.get(a, (0, 0, 0, ""))[3]
    check(ln[17] == " " and ln[18:26].strip().isdigit() and ln[26] == " ", f"columns {ln!r}")
    reason = "(connect to mx.example.org[192.0.2.1]:25: Connection refused)"
    check(" " * (78 - len(reason)) + reason in lines, "deferral reason right-aligned")
    i = lines.index(" " * (78 - len(reason)) + reason) if reason else -1
    check(lines[i + 1] == " " * 47 + "c@example.org" and
          lines[i + 2] == " " * 47 + "e@example.org", "deferred recipients under the reason")
    check(" " * 47 + "d@example.org" not in lines, "delivered recipient not listed")
    total = 55 * 3 + 3000
    check(lines[-2] == f"-- {total // 1024} Kbytes in 4 Requests." and lines[-3] == "",
          f"summary {lines[-3:]!r}")

    rc, out, _ = env.dv("list", "--json")
    objs = [json.loads(l) for l in out.splitlines()]
    check(len(objs) == 4, "json: one object per message")
    by = {o["queue_id"]: o for o in objs}
    check(by[d]["queue_name"] == "deferred" and
          [r["address"] for r in by[d]["recipients"]] == ["c@example.org", "e@example.org"],
          "json deferred recipients")
    check(by[d]["recipients"][0].get("delay_reason", "").startswith("connect to"),
          "json delay_reason")
    check(by[h]["queue_name"] == "hold" and by[h]["sender"] == "" and
          by[h]["message_size"] == 3000, "json hold message")
    check(by[x]["queue_name"] == "active", "json active")
    check(isinstance(by[a]["arrival_time"], int) and
          abs(by[a]["arrival_time"] - time.time()) < 120, "json arrival_time")
    return a, d, h, x


def test_show(env, d):
    rc, out, _ = env.dv("show", d)
    check(rc == 0 and f"*** ENVELOPE RECORDS deferred/{d} ***" in out, "show header")
    check("sender: sender@example.com" in out and "recipient: c@example.org" in out,
          "show envelope")
    check("status: delivered dsn=2.0.0" in out, "show delivered status")
    check("Subject: queue test\nBody" not in out and "Subject: queue test\n\nBody\n" in out,
          "show content with LF line ends")
    rc, out, _ = env.dv("show", d, "--json")
    o = json.loads(out)
    check(o["queue_id"] == d and o["recipients"][1]["state"] == "delivered" and
          "Subject: queue test\r\n" in o["content"], "show --json")
    rc, _, err = env.dv("show", "../../etc/passwd")
    check(rc != 0 and "no such message" in err, "show refuses a path")


def test_moves(env, a, d, h, x):
    env.listen_qmgr()
    rc, out, err = env.dv("hold", a, d)
    check(rc == 0 and env.where(a) == ["hold"] and env.where(d) == ["hold"],
          f"hold moves to hold/ {out} {err}")
    rc, out, err = env.dv("hold", x)
    check(rc != 0 and env.where(x) == ["active"] and "being delivered" in err,
          "hold refuses a message in active/")
    future = time.time() + 7200
    os.utime(os.path.join(env.q, "hold", d), (future, future))
    rc, out, _ = env.dv("release", d)
    st = os.stat(os.path.join(env.q, "deferred", d))
    check(rc == 0 and env.where(d) == ["deferred"] and abs(st.st_mtime - time.time()) < 60,
          "release moves to deferred/ and makes it due")
    t = wait_triggers(env, 1)
    check(t and t[-1] == b"W", f"release wakes qmgr: {t}")
    rc, out, _ = env.dv("release", x)
    check(rc != 0, "release of a message not on hold fails")
    rc, out, _ = env.dv("requeue", a)
    check(rc == 0 and env.where(a) == ["incoming"], "requeue moves hold -> incoming")
    t = wait_triggers(env, 2)
    check(len(t) >= 2 and t[1] == b"W", "requeue wakes qmgr")
    future = time.time() + 7200
    os.utime(os.path.join(env.q, "deferred", d), (future, future))
    rc, out, _ = env.dv("flush")
    st = os.stat(os.path.join(env.q, "deferred", d))
    check(rc == 0 and abs(st.st_mtime - time.time()) < 60, "flush makes deferred mail due")
    t = wait_triggers(env, 3)
    check(len(t) >= 3 and t[2].endswith(b"W"), f"flush wakes qmgr: {t}")
    rc, out, _ = env.dv("delete", d)
    check(rc == 0 and env.where(d) == [], "delete removes one message")
    rc, out, err = env.dv("delete", d)
    check(rc != 0 and "no such message" in err, "delete of a missing message fails")
    env.inject("-q", "deferred", "y@example.org")
    env.inject("-q", "corrupt", "z@example.org")
    rc, out, _ = env.dv("delete", "ALL")
    left = [f for q in ("incoming", "active", "deferred", "hold", "corrupt")
            for f in os.listdir(os.path.join(env.q, q))]
    check(rc == 0 and left == [], f"delete ALL empties every queue: {left}")
    rc, out, _ = env.dv("list")
    check(out == "Mail queue is empty\n", "empty after delete ALL")


def test_hostile_envelope(env):
    qid = env.inject("-s", "evil\x1b[31m@example.com", "-q", "deferred",
                     "-d", "451 bad\x1b]0;pwned\x07 reply", "r\x1b[2J@example.org")
    rc, out, _ = env.dv("list")
    check("\x1b" not in out and "\x07" not in out, "no terminal escapes in mailq output")
    rc, out, _ = env.dv("list", "--json")
    o = json.loads(out)
    check(o["sender"] == "evil\x1b[31m@example.com", "json keeps the bytes, escaped")
    rc, out, _ = env.dv("show", qid)
    check("\x1b" not in out.split("*** MESSAGE CONTENTS")[0], "no escapes in show envelope")
    env.dv("delete", qid)


def test_permission(env):
    # mail_owner (nobody here) may; anyone else is refused.
    os.chmod(env.top, 0o755)
    rc, out, err = env.dv("list", user="daemon")
    check(rc != 0 and "root or as mail_owner" in err, f"other user refused: {err!r}")
    for root, dirs, files in os.walk(env.q):
        shutil.chown(root, "nobody")
    rc, out, err = env.dv("list", user="nobody")
    check(rc == 0 and out == "Mail queue is empty\n", f"mail_owner allowed: {out!r} {err!r}")


def main():
    need_root()
    if not os.path.exists(INJECT) or not os.path.exists(bin_path("dovetail")):
        missing("tests/queue_inject_tool or bin/dovetail (build them)")
    env = Env()
    try:
        a, d, h, x = test_list_format(env)
        test_show(env, d)
        test_moves(env, a, d, h, x)
        test_hostile_envelope(env)
        test_permission(env)
    finally:
        env.close()
    if failures:
        print(f"{len(failures)} failure(s)")
        sys.exit(1)
    print("all ok")


if __name__ == "__main__":
    main()
