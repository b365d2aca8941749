"""IDLE at scale (issue 6): many IDLE sessions in ONE imapd process (a
whole instance: imap-login hands every session to the same imapd) share
the process's single watcher (lib/login/mail_watch.h).

Checked:
 - 200 concurrent sessions of one user (LOGIN + SELECT INBOX + IDLE) and
   20 of a second user, all in one imapd process;
 - that process holds exactly one inotify instance (not one per session,
   which fs.inotify.max_user_instances, 128 per uid, would cap);
 - one message written into the first user's new/ (as a delivery agent
   does: tmp/ then rename) gives every one of the 200 sessions
   "* N EXISTS" within a few seconds, and no session of the second user
   hears anything;
 - after half the sessions end (DONE + LOGOUT), a second delivery still
   wakes the other half (the shared watch is refcounted, not dropped by
   the first session that leaves);
 - a delivery to the second user wakes its sessions.
Needs root (master drops privileges).
"""
import os
import pwd
import re
import resource
import select
import socket
import sys
import time

import dovetail_test
from imap_instance import imap_instance, make_maildir, user_maildir
from instance import VMAIL_USER

USERS = {"many@example.org": "pw-many", "few@example.org": "pw-few"}
N_MANY = 200
N_FEW = 20
failures = []


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


class Idler:
    """One raw session: LOGIN, SELECT INBOX, IDLE; buffers what it reads."""

    def __init__(self, port, user, pw, tag):
        self.tag = tag
        self.s = socket.create_connection(("127.0.0.1", port), 30)
        self.buf = b""
        self.lines = []
        self.readline()  # greeting
        self.s.sendall(f"{tag}a LOGIN {user} {pw}\r\n{tag}b SELECT INBOX\r\n"
                       f"{tag}c IDLE\r\n".encode())
        self.exists = None
        while True:
            line = self.readline()
            if line is None:
                raise RuntimeError(f"{tag}: closed during setup")
            m = re.match(rb"\* (\d+) EXISTS", line)
            if m:
                self.exists = int(m.group(1))
            if re.match(rb"%sa NO|%sb NO|\* BYE" % (tag.encode(), tag.encode()),
                        line):
                raise RuntimeError(f"{tag}: {line!r}")
            if line.startswith(b"+"):
                break
        self.lines = []
        self.s.setblocking(False)

    def readline(self):
        while b"\r\n" not in self.buf:
            data = self.s.recv(4096)
            if not data:
                return None
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def pump(self):
        """Reads what is there (non-blocking); False on EOF."""
        try:
            data = self.s.recv(4096)
        except BlockingIOError:
            return True
        if not data:
            return False
        self.buf += data
        while b"\r\n" in self.buf:
            line, self.buf = self.buf.split(b"\r\n", 1)
            self.lines.append(line)
        return True

    def saw_exists(self, n):
        return any(re.match(rb"\* %d EXISTS" % n, l) for l in self.lines)

    def close(self):
        try:
            self.s.setblocking(True)
            self.s.settimeout(10)
            self.s.sendall(f"DONE\r\n{self.tag}d LOGOUT\r\n".encode())
            end = time.time() + 10
            while time.time() < end and not any(
                    l.startswith(f"{self.tag}d OK".encode()) for l in self.lines):
                data = self.s.recv(4096)
                if not data:
                    break
                self.buf += data
                while b"\r\n" in self.buf:
                    line, self.buf = self.buf.split(b"\r\n", 1)
                    self.lines.append(line)
        except OSError:
            pass
        self.s.close()


def deliver(maildir, n, owner):
    name = f"{time.time():.6f}.idle{n}.{socket.gethostname()}"
    tmp = os.path.join(maildir, "tmp", name)
    with open(tmp, "wb") as f:
        f.write(b"From: a@example.org\r\nTo: b@example.org\r\n"
                b"Subject: wake up %d\r\n\r\nhello\r\n" % n)
    os.chown(tmp, owner.pw_uid, owner.pw_gid)
    os.rename(tmp, os.path.join(maildir, "new", name))


def wait_all(idlers, n, limit):
    """Seconds until every idler saw "* n EXISTS", or None."""
    t0 = time.time()
    by_fd = {i.s.fileno(): i for i in idlers}
    while time.time() - t0 < limit:
        if all(i.saw_exists(n) for i in idlers):
            return time.time() - t0
        ready, _, _ = select.select(list(by_fd), [], [], 0.2)
        for fd in ready:
            by_fd[fd].pump()
    return None


def inotify_instances(pid):
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:inotify":
                n += 1
        except OSError:
            pass
    return n


def main():
    dovetail_test.need_root()
    want = (N_MANY + N_FEW) * 2 + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    inst, _ = imap_instance(USERS, main_cf_extra=(
        "mail_max_userip_connections = 0\n"
        "imap_autocreate =\n"
        "max_use = 1000000000\n"
        f"default_process_limit = {N_MANY + N_FEW + 20}\n"))
    vmail = pwd.getpwnam(VMAIL_USER)
    with inst:
        mds = {u: make_maildir(user_maildir(inst, u), vmail) for u in USERS}
        many, few = list(USERS)
        deliver(mds[many], 0, vmail)
        deliver(mds[few], 0, vmail)
        inst.start()
        port = inst.imap_port
        t0 = time.time()
        a = [Idler(port, many, USERS[many], f"m{i}") for i in range(N_MANY)]
        b = [Idler(port, few, USERS[few], f"f{i}") for i in range(N_FEW)]
        print(f"      ({N_MANY + N_FEW} sessions opened in {time.time() - t0:.1f} s)")
        check(all(i.exists == 1 for i in a + b),
              "every session saw its mailbox at SELECT")
        pids = inst.daemon_pids("imapd")
        check(len(pids) == 1, f"all sessions in one imapd process: {pids}")
        if pids:
            check(inotify_instances(pids[0]) == 1,
                  f"imapd holds one inotify instance "
                  f"({inotify_instances(pids[0])})")
        time.sleep(0.3)
        for i in a + b:
            i.pump()
            i.lines.clear()

        deliver(mds[many], 1, vmail)
        dt = wait_all(a, 2, 10)
        check(dt is not None and dt < 5,
              f"all {N_MANY} IDLE sessions got '* 2 EXISTS' "
              f"({'%.2f s' % dt if dt is not None else 'missing: %d' % sum(not i.saw_exists(2) for i in a)})")
        time.sleep(0.5)
        for i in b:
            i.pump()
        check(not any(i.lines for i in b),
              "the other user's sessions heard nothing: "
              f"{[i.lines for i in b if i.lines][:2]}")

        for i in a[:N_MANY // 2]:
            i.close()
        rest = a[N_MANY // 2:]
        deliver(mds[many], 2, vmail)
        dt = wait_all(rest, 3, 10)
        check(dt is not None and dt < 5,
              f"after {N_MANY // 2} sessions left, the other "
              f"{len(rest)} still woken ('* 3 EXISTS', "
              f"{'%.2f s' % dt if dt is not None else 'missing'})")

        deliver(mds[few], 1, vmail)
        dt = wait_all(b, 2, 10)
        check(dt is not None and dt < 5,
              f"a delivery to the second user wakes its {N_FEW} sessions "
              f"({'%.2f s' % dt if dt is not None else 'missing'})")
        for i in rest + b:
            i.close()
    if failures:
        print(f"{len(failures)} failure(s)")
        sys.exit(1)
    print("all ok")


if __name__ == "__main__":
    main()
