"""pop3d's session (TRANSACTION and UPDATE states) driven by Python's
poplib and by raw protocol lines, in preauth mode: "pop3d -c CONF -f -P
USER:HOME" serves one session on a socketpair (its stdin and stdout), so
no login process or auth daemon is involved.

Checked: CAPA, STAT, LIST, UIDL (Dovecot's %08Xu%08Xv from the
dovecot-uidlist on disk), RETR (CRLF, dot-stuffing, exact content), TOP
with line counts, DELE/RSET/NOOP, QUIT deletes and sets \\Seen, a dropped
connection deletes nothing, UIDLs stable across sessions and after
deletions, a saved UIDL (dovecot-uidlist "P") wins, pop3_save_uidl,
pop3_uidl_format=%f, pop3_lock_session, pop3_max_commands, malformed and
over-long lines, AUTHORIZATION commands refused, too many bad commands,
pipelining, a large message streamed intact, the logout log line.
"""
import os
import poplib
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import dovetail_test  # noqa: E402

POP3D = dovetail_test.bin_path("pop3d")
failures = []


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what)
    if not cond:
        failures.append(what)


class Pop3d:
    """One pop3d -P session on a socketpair."""

    def __init__(self, env, user="bob", extra=()):
        self.env = env
        ours, theirs = socket.socketpair()
        args = [POP3D, "-c", env.conf, "-f", "-P",
                f"{user}:{env.home}", "-o", "mail_location=maildir:~/Maildir"]
        for o in extra:
            args += ["-o", o]
        self.proc = subprocess.Popen(args, stdin=theirs, stdout=theirs,
                                     stderr=subprocess.PIPE)
        theirs.close()
        ours.settimeout(10)
        self.sock = ours
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                r, self.buf = self.buf, b""
                return r.decode("latin-1") if r else None
            self.buf += data
        r, self.buf = self.buf.split(b"\n", 1)
        return r.decode("latin-1").rstrip("\r")

    def cmd(self, text):
        self.send(text.encode("latin-1") + b"\r\n")
        return self.line()

    def multi(self):
        lines = []
        while True:
            ln = self.line()
            if ln is None or ln == ".":
                return lines
            lines.append(ln)

    def eof(self):
        try:
            return self.sock.recv(1) == b""
        except OSError:
            return True

    def close(self):
        """Drops the connection; returns pop3d's log (stderr)."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
            check(False, "pop3d exits after the connection closes")
        return err.decode(errors="replace")


class SockPOP3(poplib.POP3):
    """poplib on an already connected socket."""

    def __init__(self, sock):
        self._given = sock
        super().__init__("localhost", 0)

    def _create_socket(self, timeout):
        return self._given


class Env:
    def __init__(self, base):
        self.base = base
        self.conf = os.path.join(base, "conf")
        self.home = os.path.join(base, "home")
        self.maildir = os.path.join(self.home, "Maildir")
        os.makedirs(self.conf)
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write("# test\n")
        for d in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(self.maildir, d))

    def put(self, sub, name, data):
        with open(os.path.join(self.maildir, sub, name), "wb") as f:
            f.write(data)

    def files(self):
        return sorted(os.listdir(os.path.join(self.maildir, "cur")) +
                      os.listdir(os.path.join(self.maildir, "new")))

    def uidlist(self):
        """(uidvalidity, {base name: uid}, raw text)"""
        with open(os.path.join(self.maildir, "dovecot-uidlist")) as f:
            text = f.read()
        lines = text.splitlines()
        validity = int(re.search(r" V(\d+)", lines[0]).group(1))
        uids = {}
        for ln in lines[1:]:
            uid, rest = ln.split(" ", 1)
            uids[rest.split(":", 1)[1]] = int(uid)
        return validity, uids, text

    def session(self, **kw):
        return Pop3d(self, **kw)

    def poplib(self, **kw):
        p = Pop3d(self, **kw)
        return p, SockPOP3(p.sock)


def crlf(data):
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


MSG1 = (b"From: a@example.org\nSubject: one\n\nline 1\n.starts with dot\n"
        b"line 3\n..two dots\nline 5\n")
MSG2 = b"From: b@example.org\r\nSubject: two\r\n\r\ncrlf body\r\nsecond\r\n"
MSG3 = b"From: c@example.org\nSubject: three\n\nno final newline"
MSG4 = b"Subject: four\n\n" + b"x" * 70 + b"\n"


def vsize(data):
    return len(data) + data.count(b"\n") - data.count(b"\r\n")


def test_transaction(base):
    env = Env(os.path.join(base, "t1"))
    env.put("new", "1700000001.M1P1.host", MSG1)
    env.put("cur", "1700000002.M1P1.host:2,S", MSG2)
    env.put("new", "1700000003.M1P1.host,S=%d" % len(MSG3), MSG3)
    env.put("cur", "1700000004.M1P1.host:2,F", MSG4)
    msgs = [MSG1, MSG2, MSG3, MSG4]

    p, pop = env.poplib()
    check(pop.getwelcome() == b"+OK Logged in.", "greeting +OK Logged in.")
    caps = pop.capa()
    check(set(caps) == {"CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING",
                        "AUTH-RESP-CODE"},
          "post-login CAPA: %s" % sorted(caps))
    count, size = pop.stat()
    check(count == 4 and size == sum(vsize(m) for m in msgs),
          "STAT counts 4 messages with CRLF sizes (%d %d)" % (count, size))
    resp, lines, _ = pop.list()
    sizes = [int(ln.split()[1]) for ln in lines]
    check(resp.startswith(b"+OK 4 messages") and
          sizes == [vsize(m) for m in msgs], "LIST sizes %s" % sizes)
    check(pop.list(3) == b"+OK 3 %d" % vsize(MSG3), "LIST 3")
    validity, uids, _ = env.uidlist()
    want = ["%08x%08x" % (uids[n], validity) for n in
            ("1700000001.M1P1.host", "1700000002.M1P1.host",
             "1700000003.M1P1.host,S=%d" % len(MSG3), "1700000004.M1P1.host")]
    _, lines, _ = pop.uidl()
    got = [ln.decode().split()[1] for ln in lines]
    check(got == want, "UIDL is Dovecot's %%08Xu%%08Xv: %s" % got)
    check(pop.uidl(2) == ("+OK 2 " + want[1]).encode(), "UIDL 2")
    check(not os.listdir(os.path.join(env.maildir, "new")),
          "new/ moved to cur/ at login, as Dovecot does")

    for i, m in enumerate(msgs, 1):
        resp, lines, octets = pop.retr(i)
        body = b"\r\n".join(lines) + b"\r\n"
        check(body == crlf(m if m.endswith(b"\n") else m + b"\n"),
              "RETR %d gives the message with CRLF, dot-unstuffed" % i)
        check(resp == b"+OK %d octets" % vsize(m), "RETR %d: %s" % (i, resp))
    # TOP: header, empty line, n body lines
    _, lines, _ = pop.top(1, 0)
    check(lines == [b"From: a@example.org", b"Subject: one", b""],
          "TOP 1 0: header and the empty line")
    _, lines, _ = pop.top(1, 2)
    check(lines == [b"From: a@example.org", b"Subject: one", b"",
                    b"line 1", b".starts with dot"], "TOP 1 2: two body lines")
    _, lines, _ = pop.top(1, 1000)
    check(len(lines) == 8, "TOP 1 1000: the whole message")
    _, lines, _ = pop.top(3, 5)
    check(lines[-1] == b"no final newline", "TOP on a message without final LF")
    check(pop.noop() == b"+OK", "NOOP")
    check(pop.dele(2) == b"+OK Marked to be deleted.", "DELE 2")
    try:
        pop.retr(2)
        check(False, "RETR of a deleted message fails")
    except poplib.error_proto as e:
        check(str(e).startswith("b'-ERR Message is deleted"),
              "RETR 2 after DELE: %s" % e)
    check(pop.stat() == (3, size - vsize(MSG2)), "STAT without the deleted")
    _, lines, _ = pop.uidl()
    check([ln.decode().split()[1] for ln in lines] ==
          [want[0], want[2], want[3]], "UIDL leaves out the deleted one")
    check(pop.rset() == b"+OK", "RSET")
    check(pop.stat()[0] == 4, "RSET undeletes")
    # RSET forgot RETR's \Seen too (Dovecot): read 1 and 3 again
    pop.retr(1)
    pop.retr(3)
    pop.dele(2)
    pop.dele(4)
    check(pop.quit() == b"+OK Logging out, messages deleted.",
          "QUIT after DELE: Dovecot's reply")
    log = p.close()
    files = env.files()
    check(len(files) == 2 and not any(f.startswith("1700000002") or
                                      f.startswith("1700000004")
                                      for f in files),
          "QUIT deleted messages 2 and 4: %s" % files)
    check(any(f.startswith("1700000001") and f.endswith(":2,S") for f in files)
          and any(f.startswith("1700000003") and f.endswith(":2,S")
                  for f in files), "RETR set \\Seen: %s" % files)
    check(re.search(r"pop3\(bob\): Disconnected: Logged out top=4/\d+, "
                    r"retr=6/\d+, del=2/4, size=%d" % size, log) is not None,
          "logout log line like Dovecot's: %s" % log.strip())

    # UIDLs survive into the next session
    p, pop = env.poplib()
    _, lines, _ = pop.uidl()
    check([ln.decode().split()[1] for ln in lines] == [want[0], want[2]],
          "UIDLs stable after deletions, in a new session")
    pop.quit()
    p.close()


def test_drop_deletes_nothing(base):
    env = Env(os.path.join(base, "t2"))
    env.put("cur", "1700000001.M1P1.host:2,", MSG1)
    env.put("cur", "1700000002.M1P1.host:2,", MSG2)
    p, pop = env.poplib()
    _, lines, _ = pop.uidl()
    first = [ln.split()[1] for ln in lines]
    pop.dele(1)
    pop.retr(2)
    log = p.close()  # no QUIT
    files = env.files()
    check(len(files) == 2, "a dropped connection deletes nothing: %s" % files)
    check("1700000002.M1P1.host:2,S" in files,
          "RETR's \\Seen is kept on a drop, as in Dovecot")
    check("Disconnected: Connection closed" in log and "del=0/2" in log,
          "drop logged with del=0: %s" % log.strip())
    # server stop and RSET+QUIT also delete nothing
    p, pop = env.poplib()
    pop.dele(1)
    pop.rset()
    check(pop.quit() == b"+OK Logging out.", "QUIT without deletions")
    p.close()
    check(len(env.files()) == 2, "RSET then QUIT deletes nothing")
    p, pop = env.poplib()
    _, lines, _ = pop.uidl()
    check([ln.split()[1] for ln in lines] == first,
          "UIDLs stable across sessions")
    pop.quit()
    p.close()
    # new mail gets a new UIDL, old ones stay
    env.put("new", "1700000009.M1P1.host", MSG3)
    p, pop = env.poplib()
    _, lines, _ = pop.uidl()
    got = [ln.split()[1] for ln in lines]
    check(got[:2] == first and len(got) == 3 and got[2] not in first,
          "new mail gets a new UIDL: %s" % got)
    pop.quit()
    p.close()


def test_malformed(base):
    env = Env(os.path.join(base, "t3"))
    env.put("cur", "1700000001.M1P1.host:2,", MSG1)
    s = env.session()
    check(s.line() == "+OK Logged in.", "raw: greeting")
    cases = [("", "-ERR"), ("RETR", "-ERR Invalid message number"),
             ("RETR x", "-ERR Invalid message number: x"),
             ("RETR 0", "-ERR There's no message 0."),
             ("RETR 2", "-ERR There's no message 2."),
             ("RETR 99999999999", "-ERR Message number too large"),
             ("RETR -1", "-ERR Invalid message number"),
             ("LIST 1 2", "-ERR Noise after message number: 2"),
             ("TOP 1", "-ERR Invalid size"), ("TOP 1 x", "-ERR Invalid size"),
             ("TOP", "-ERR Invalid message number"),
             ("DELE", "-ERR Invalid message number"),
             ("USER bob", "-ERR"), ("PASS secret", "-ERR"),
             ("AUTH PLAIN", "-ERR"), ("STLS", "-ERR"), ("APOP bob abc", "-ERR"),
             ("XYZ", "-ERR Unknown command: XYZ"),
             ("XYZZY", "-ERR Invalid command"),
             ("R\x01TR 1", "-ERR"), ("list", "+OK 1 messages:")]
    for line, want in cases:
        got = s.cmd(line)
        check(got is not None and got.startswith(want),
              "%r -> %r" % (line, got))
        if got is not None and got.startswith("+OK 1 messages"):
            s.multi()
    check(s.cmd("stat") == "+OK 1 %d" % vsize(MSG1), "lower-case commands")
    # pipelining: several commands in one write, answers in order
    s.send(b"NOOP\r\nLIST 1\r\nUIDL 1\r\nNOOP\r\n")
    got = [s.line() for _ in range(4)]
    check(got[0] == "+OK" and got[1].startswith("+OK 1 ") and
          got[2].startswith("+OK 1 ") and got[3] == "+OK",
          "pipelined commands answered in order: %s" % got)
    # bare LF line ends are accepted too
    s.send(b"NOOP\n")
    check(s.line() == "+OK", "bare LF command line")
    s.send(b"NOOP " + b"a" * 600 + b"\r\n")
    check(s.line() == "-ERR Input line too long.", "over-long line refused")
    check(s.eof(), "and the connection closed")
    log = s.close()
    check("Input line too long" in log, "over-long line logged")
    check(len(env.files()) == 1, "nothing deleted")

    s = env.session()
    s.line()
    replies = [s.cmd("BOGUS") for _ in range(21)] + [s.line()]
    check(replies[-1] == "-ERR Too many bad commands." and s.eof(),
          "disconnected after 20 bad commands in a row")
    s.close()

    s = env.session(extra=["pop3_max_commands=3"])
    s.line()
    got = [s.cmd("NOOP") for _ in range(4)]
    check(got[:3] == ["+OK"] * 3 and got[3] == "-ERR Too many commands."
          and s.eof(), "pop3_max_commands=3: %s" % got)
    s.close()


def test_uidl_options(base):
    env = Env(os.path.join(base, "t4"))
    env.put("cur", "1700000001.M1P1.host:2,", MSG1)
    env.put("cur", "1700000002.M1P1.host:2,S", MSG2)
    p, pop = env.poplib(extra=["pop3_uidl_format=%f"])
    _, lines, _ = pop.uidl()
    check([ln.split()[1] for ln in lines] ==
          [b"1700000001.M1P1.host", b"1700000002.M1P1.host"],
          "pop3_uidl_format=%f gives the file base names")
    pop.quit()
    p.close()

    # a saved UIDL ("P" in dovecot-uidlist, as Dovecot's pop3_save_uidl
    # writes it) wins over the format
    validity, uids, text = env.uidlist()
    lines = text.splitlines()
    lines = [ln.replace(" :1700000001", " Pcustom-uidl-1 :1700000001")
             for ln in lines]
    with open(os.path.join(env.maildir, "dovecot-uidlist"), "w") as f:
        f.write("\n".join(lines) + "\n")
    p, pop = env.poplib()
    _, lines, _ = pop.uidl()
    got = [ln.split()[1].decode() for ln in lines]
    check(got == ["custom-uidl-1", "%08x%08x" % (uids["1700000002.M1P1.host"],
                                                 validity)],
          "a saved UIDL wins over pop3_uidl_format: %s" % got)
    pop.quit()
    p.close()

    # pop3_save_uidl = yes writes what the client saw
    p, pop = env.poplib(extra=["pop3_save_uidl=yes"])
    _, lines, _ = pop.uidl()
    shown = [ln.split()[1].decode() for ln in lines]
    pop.quit()
    p.close()
    _, _, text = env.uidlist()
    check("P" + shown[1] in text and text.count("Pcustom-uidl-1") == 1,
          "pop3_save_uidl=yes saved the UIDL: %r" % text)
    p, pop = env.poplib(extra=["pop3_uidl_format=%f"])
    _, lines, _ = pop.uidl()
    check([ln.split()[1].decode() for ln in lines] == shown,
          "saved UIDLs survive a pop3_uidl_format change")
    pop.quit()
    p.close()

    # pop3_reuse_xuidl: an X-UIDL: header (valid RFC 1939 unique-id) is
    # the UIDL; a saved UIDL still wins; a malformed one falls back
    env.put("cur", "1700000003.M1P1.host:2,",
            b"Subject: x\nX-UIDL:  old-server-17 \n\nbody\n")
    env.put("cur", "1700000004.M1P1.host:2,",
            b"Subject: y\nX-UIDL: has space\n\nbody\n")
    p, pop = env.poplib(extra=["pop3_reuse_xuidl=yes"])
    _, lines, _ = pop.uidl()
    got = [ln.split()[1].decode() for ln in lines]
    validity, uids, _ = env.uidlist()
    check(got[0] == "custom-uidl-1" and got[2] == "old-server-17" and
          got[3] == "%08x%08x" % (uids["1700000004.M1P1.host"], validity),
          "pop3_reuse_xuidl=yes: %s" % got)
    pop.quit()
    p.close()
    p, pop = env.poplib()
    _, lines, _ = pop.uidl()
    check(lines[2].split()[1].decode() == "%08x%08x"
          % (uids["1700000003.M1P1.host"], validity),
          "X-UIDL ignored by default (Dovecot's pop3_reuse_xuidl = no)")
    pop.quit()
    p.close()

    # a bad format is refused at start
    r = subprocess.run([POP3D, "-c", env.conf, "-f", "-P", "bob:" + env.home,
                        "-o", "pop3_uidl_format=%m"], input=b"QUIT\r\n",
                       capture_output=True, timeout=10)
    check(r.returncode != 0 and b"pop3_uidl_format" in r.stderr,
          "pop3_uidl_format=%%m refused: %s" % r.stderr.decode().strip())


def test_lock_session(base):
    env = Env(os.path.join(base, "t5"))
    env.put("cur", "1700000001.M1P1.host:2,", MSG1)
    a = env.session(extra=["pop3_lock_session=yes"])
    check(a.line() == "+OK Logged in.", "first locked session")
    lock = os.path.join(env.maildir, "dovecot-pop3-session.lock")
    check(os.path.exists(lock), "Dovecot's dovecot-pop3-session.lock held")
    t0 = time.time()
    b = env.session(extra=["pop3_lock_session=yes"])
    # pop3d waits Dovecot's 10 s for the lock before refusing: read with
    # room to spare (the Session default of 10 s raced it on a busy host)
    b.sock.settimeout(40)
    got = b.line()
    check(got == "-ERR [IN-USE] Mailbox is locked by another POP3 session.",
          "second session refused while locked: %r (%.1fs)"
          % (got, time.time() - t0))
    b.close()
    c = env.session()
    check(c.line() == "+OK Logged in.",
          "pop3_lock_session=no sessions are not blocked")
    c.cmd("QUIT")
    c.close()
    check(a.cmd("QUIT") == "+OK Logging out.", "first session quits")
    a.close()
    check(not os.path.exists(lock), "lock released")
    b = env.session(extra=["pop3_lock_session=yes"])
    check(b.line() == "+OK Logged in.", "locked session after release")
    b.cmd("QUIT")
    b.close()


def test_large_and_missing(base):
    env = Env(os.path.join(base, "t6"))
    big = b"Subject: big\n\n" + b"".join(
        b"%07d .line with a dot after the number\n" % i for i in range(60000))
    big += b".\n..\n.x\n"
    env.put("cur", "1700000001.M1P1.host:2,", big)
    p, pop = env.poplib()
    _, lines, _ = pop.retr(1)
    check(b"\r\n".join(lines) + b"\r\n" == crlf(big),
          "a %d-byte message streams intact" % len(big))
    # the file vanishes under the session (another client expunged it)
    os.unlink(os.path.join(env.maildir, "cur", "1700000001.M1P1.host:2,"))
    try:
        pop.retr(1)
        check(False, "RETR of a vanished file fails")
    except poplib.error_proto as e:
        check("expunged" in str(e), "RETR of a vanished file: %s" % e)
    pop.quit()
    p.close()
    # a missing Maildir is created, as Dovecot does
    shutil.rmtree(env.maildir)
    p, pop = env.poplib()
    check(pop.stat() == (0, 0), "empty new Maildir")
    pop.quit()
    p.close()
    check(all(os.path.isdir(os.path.join(env.maildir, d))
              for d in ("cur", "new", "tmp")), "Maildir created")


def main():
    if not os.access(POP3D, os.X_OK):
        dovetail_test.missing(POP3D + " (build target pop3d)")
    base = tempfile.mkdtemp(prefix="dt-pop3-session-")
    try:
        test_transaction(base)
        test_drop_deletes_nothing(base)
        test_malformed(base)
        test_uidl_options(base)
        test_lock_session(base)
        test_large_and_missing(base)
    finally:
        if failures:
            print(f"{len(failures)} check(s) failed; files kept in {base}")
        else:
            shutil.rmtree(base)
    if failures:
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
