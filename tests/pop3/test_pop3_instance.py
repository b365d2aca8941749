"""POP3 end to end (issue 7): a whole running instance (master, auth with
a SQLite passdb and a static userdb, pop3-login on a plain (STLS) and an
implicit TLS port, pop3d as the vmail user), talked to over TCP by
Python's poplib, raw protocol lines, fetchmail and curl.

Checked:
 - greeting "+OK Dovetail ready.", pre-auth CAPA (STLS, USER on loopback
   which counts as secured, SASL PLAIN LOGIN), AUTH without arguments;
 - poplib: STLS, USER/PASS, "+OK Logged in." from the session, STAT,
   UIDL, RETR, DELE, QUIT (the file is gone);
 - POP3S with AUTH PLAIN (initial response and empty challenge), AUTH
   LOGIN (two challenges), "*" cancels; APOP refused; a command pipelined
   after PASS is answered by pop3d;
 - from a non-loopback local address (when the host has one): no USER in
   CAPA, USER/AUTH PLAIN refused with Dovecot's [AUTH] text, fine after
   STLS;
 - wrong password: "-ERR [AUTH] Authentication failed.", a third one
   disconnects; the login log lines;
 - pop3d runs as the vmail user, pop3-login as mail_owner;
 - fetchmail over POP3S with keep (UIDLs: a second run fetches nothing)
   and with no-keep (the Maildir is emptied), and over STLS;
 - curl pop3s:// lists and retrieves; curl pop3:// --ssl-reqd (STLS).
Needs root (master drops privileges).
"""
import base64
import os
import poplib
import pwd
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

import dovetail_test
from instance import VMAIL_USER, MAIL_OWNER, Instance, free_port, wait_for

USER = "alice@example.org"
PASSWORD = "s3cret pw"
DOMAIN = "example.org"
failures = []


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def external_address():
    """A non-loopback IPv4 address of this host, or None."""
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(("192.0.2.250", 9))  # no packet is sent
        addr = s.getsockname()[0]
        s.close()
        if addr.startswith("127."):
            return None
        probe = socket.socket()
        probe.bind((addr, 0))
        probe.close()
    except OSError:
        return None
    return addr


class Conn:
    """A raw POP3 connection (plain or implicit TLS)."""

    def __init__(self, port, host="127.0.0.1", tls=False, source=None,
                 timeout=10):
        self.sock = socket.create_connection(
            (host, port), timeout,
            source_address=(source, 0) if source else None)
        if tls:
            self.sock = tls_context().wrap_socket(self.sock)
        self.sock.settimeout(timeout)
        self.buf = b""

    def starttls(self):
        self.sock = tls_context().wrap_socket(self.sock)
        self.sock.settimeout(10)

    def send(self, text):
        self.sock.sendall(text.encode() if isinstance(text, str) else text)

    def line(self):
        while b"\n" not in self.buf:
            try:
                data = self.sock.recv(65536)
            except (ConnectionResetError, ssl.SSLError, socket.timeout):
                data = b""
            if not data:
                r, self.buf = self.buf, b""
                return r.decode("latin-1") if r else None
            self.buf += data
        r, self.buf = self.buf.split(b"\n", 1)
        return r.decode("latin-1").rstrip("\r")

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.line()

    def multi(self):
        out = []
        while True:
            ln = self.line()
            if ln is None or ln == ".":
                return out
            out.append(ln)

    def eof(self):
        return self.line() is None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def b64(s):
    return base64.b64encode(s.encode()).decode()


def maildir(inst):
    return os.path.join(inst.mail, DOMAIN, "alice", "Maildir")


SERIAL = [0]


def put_messages(inst, n, tag):
    md = maildir(inst)
    vm = pwd.getpwnam(VMAIL_USER)
    for d in ("", "cur", "new", "tmp"):
        p = os.path.join(md, d)
        os.makedirs(p, exist_ok=True)
        os.chown(p, vm.pw_uid, vm.pw_gid)
    for d in (os.path.dirname(md), os.path.dirname(os.path.dirname(md))):
        os.chown(d, vm.pw_uid, vm.pw_gid)
    names = []
    for i in range(n):
        SERIAL[0] += 1
        name = "%d.M%dP1.host" % (1700000000 + SERIAL[0], SERIAL[0])
        path = os.path.join(md, "new", name)
        with open(path, "wb") as f:
            f.write(b"From: bob@remote.test\nTo: %s\nSubject: %s %d\n\n"
                    b"body of %s %d\n.dotted line\n"
                    % (USER.encode(), tag.encode(), i, tag.encode(), i))
        os.chown(path, vm.pw_uid, vm.pw_gid)
        names.append(name)
    return names


def count_messages(inst):
    md = maildir(inst)
    return len(os.listdir(os.path.join(md, "cur"))) + \
        len(os.listdir(os.path.join(md, "new")))


def test_plain_port(inst):
    c = Conn(inst.pop3_port)
    check(c.line() == "+OK Dovetail ready.", "greeting")
    check(c.cmd("CAPA") == "+OK", "CAPA")
    caps = c.multi()
    print("pre-auth CAPA:", caps)
    check({"CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING",
           "AUTH-RESP-CODE", "STLS", "USER"} <= set(caps) and
          any(x.startswith("SASL ") and "PLAIN" in x.split() for x in caps),
          "pre-auth CAPA: STLS, USER (loopback), SASL PLAIN")
    check(c.cmd("AUTH") == "+OK", "AUTH lists mechanisms")
    mechs = c.multi()
    check("PLAIN" in mechs and "LOGIN" in mechs, "mechanisms %s" % mechs)
    check(c.cmd("APOP alice 0123456789abcdef0123456789abcdef").startswith("-ERR"),
          "APOP refused")
    check(c.cmd("STAT").startswith("-ERR"), "STAT before login refused")
    check(c.cmd("QUIT").startswith("+OK"), "QUIT before login")
    check(c.eof(), "closed after QUIT")
    c.close()

    # poplib: STLS, USER/PASS, a transaction
    start = inst.log_size()
    names = put_messages(inst, 3, "plain")
    p = poplib.POP3("127.0.0.1", inst.pop3_port, timeout=10)
    p.stls(tls_context())
    p.user(USER)
    check(p.pass_(PASSWORD) == b"+OK Logged in.", "STLS + USER/PASS: logged in")
    count, _ = p.stat()
    check(count == 3, "STAT 3")
    _, lines, _ = p.uidl()
    check(len(lines) == 3, "UIDL lists 3")
    _, lines, _ = p.retr(1)
    check(b"body of plain 0" in lines and b".dotted line" in lines,
          "RETR 1 content")
    p.dele(1)
    check(p.quit() == b"+OK Logging out, messages deleted.", "QUIT deletes")
    check(wait_for(lambda: count_messages(inst) == 2, 5), "message 1 gone")
    check(inst.wait_log(r"pop3-login.*Login: user=<" + re.escape(USER) +
                        r">, method=PLAIN, rip=127\.0\.0\.1.*TLS", 5, start)
          is not None, "log: Login: ... method=PLAIN ... TLS")
    check(inst.wait_log(r"pop3\(" + re.escape(USER) + r"\): Disconnected: "
                        r"Logged out top=0/0, retr=1/\d+, del=1/3", 5, start)
          is not None, "log: pop3(user): Disconnected: Logged out ...")
    del names


def test_pop3s(inst):
    # AUTH PLAIN with an initial response, pipelined STAT after it
    c = Conn(inst.pop3s_port, tls=True)
    check(c.line() == "+OK Dovetail ready.", "POP3S greeting")
    c.cmd("CAPA")
    caps = c.multi()
    check("STLS" not in caps and "USER" in caps, "POP3S CAPA: no STLS")
    c.send("AUTH PLAIN %s\r\nSTAT\r\n" % b64("\0%s\0%s" % (USER, PASSWORD)))
    check(c.line() == "+OK Logged in.", "AUTH PLAIN with initial response")
    check((c.line() or "").startswith("+OK 2 "),
          "STAT pipelined after AUTH answered by pop3d")
    check(c.cmd("CAPA") == "+OK" and "USER" not in c.multi(),
          "post-login CAPA")
    check(c.cmd("QUIT") == "+OK Logging out.", "QUIT")
    c.close()
    # AUTH PLAIN with an empty challenge
    c = Conn(inst.pop3s_port, tls=True)
    c.line()
    check(c.cmd("AUTH PLAIN") == "+ ", "AUTH PLAIN: empty challenge")
    check(c.cmd(b64("\0%s\0%s" % (USER, PASSWORD))) == "+OK Logged in.",
          "AUTH PLAIN after the challenge")
    c.cmd("QUIT")
    c.close()
    # AUTH LOGIN
    c = Conn(inst.pop3s_port, tls=True)
    c.line()
    r1 = c.cmd("AUTH LOGIN")
    r2 = c.cmd(b64(USER))
    r3 = c.cmd(b64(PASSWORD))
    check(r1.startswith("+ ") and r2.startswith("+ ") and
          r3 == "+OK Logged in.", "AUTH LOGIN: %r %r %r" % (r1, r2, r3))
    c.cmd("QUIT")
    c.close()
    # cancel
    c = Conn(inst.pop3s_port, tls=True)
    c.line()
    c.cmd("AUTH LOGIN")
    check(c.cmd("*").startswith("-ERR"), "\"*\" cancels AUTH")
    check(c.cmd("CAPA") == "+OK", "commands work after the cancel")
    c.multi()
    check(c.cmd("AUTH CRAM-MD5 x").startswith("-ERR"), "unknown mechanism")
    c.cmd("QUIT")
    c.close()


def test_not_secured(inst, ext, port):
    c = Conn(port, host=ext, source=ext)
    c.line()
    c.cmd("CAPA")
    caps = c.multi()
    check("USER" not in caps and "STLS" in caps,
          "not secured: CAPA without USER, with STLS: %s" % caps)
    want = ("-ERR [AUTH] Plaintext authentication disallowed on non-secure "
            "(SSL/TLS) connections.")
    check(c.cmd("USER " + USER) == want, "not secured: USER refused")
    check(c.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (USER, PASSWORD))) == want,
          "not secured: AUTH PLAIN refused")
    check(c.cmd("STLS") == "+OK Begin TLS negotiation now.", "STLS")
    c.starttls()
    c.cmd("CAPA")
    caps = c.multi()
    check("USER" in caps and "STLS" not in caps, "after STLS: USER offered")
    check(c.cmd("USER " + USER) == "+OK", "USER after STLS")
    check(c.cmd("PASS " + PASSWORD) == "+OK Logged in.", "PASS after STLS")
    c.cmd("QUIT")
    c.close()


def test_failures(inst):
    start = inst.log_size()
    c = Conn(inst.pop3_port, timeout=30)  # auth's failure penalty
    c.line()
    replies = []
    for _ in range(3):
        c.cmd("USER " + USER)
        replies.append(c.cmd("PASS wrong"))
    check(replies == ["-ERR [AUTH] Authentication failed."] * 3,
          "wrong password: %s" % replies)
    check(c.eof(), "disconnected after the third failure")
    c.close()
    check(inst.wait_log(r"pop3-login.*Disconnected.*auth failed, 3 attempts",
                        5, start) is not None, "log: auth failed, 3 attempts")


def test_processes(inst):
    def users(prog):
        out = []
        for pid in inst.daemon_pids(prog):
            with open("/proc/%d/status" % pid) as f:
                for ln in f:
                    if ln.startswith("Uid:"):
                        out.append(pwd.getpwuid(int(ln.split()[2])).pw_name)
        return out
    check(users("pop3d") and set(users("pop3d")) == {VMAIL_USER},
          "pop3d runs as %s: %s" % (VMAIL_USER, users("pop3d")))
    check(users("pop3-login") and set(users("pop3-login")) == {MAIL_OWNER},
          "pop3-login runs as %s: %s" % (MAIL_OWNER, users("pop3-login")))


def fetchmail(inst, work, extra, port):
    out = os.path.join(work, "out")
    rc = os.path.join(work, "fetchmailrc")
    with open(rc, "w") as f:
        f.write(f"""set no bouncemail
poll 127.0.0.1 with proto POP3 port {port} uidl
  user "{USER}" there with password "{PASSWORD}" is root here
  {extra} no sslcertck
  mda "/bin/sh -c 'cat >> {out}; echo ==== >> {out}'"
""")
    os.chmod(rc, 0o600)
    env = dict(os.environ, HOME=work)
    p = subprocess.run(["fetchmail", "-f", rc, "--idfile",
                        os.path.join(work, "ids"), "--nosyslog", "-N"],
                       env=env, capture_output=True, text=True, timeout=60)
    text = ""
    if os.path.exists(out):
        with open(out) as f:
            text = f.read()
        os.unlink(out)
    return p.returncode, text.count("===="), p.stdout + p.stderr


def test_fetchmail(inst):
    fm = dovetail_test.need_program("fetchmail", "fetchmail")
    del fm
    work = tempfile.mkdtemp(prefix="dt-fetchmail-")
    try:
        have = count_messages(inst)
        put_messages(inst, 2, "fetch")
        have += 2
        rc, n, log = fetchmail(inst, work, "keep ssl", inst.pop3s_port)
        check(rc == 0 and n == have,
              "fetchmail keep over POP3S fetched %d of %d (rc %d)\n%s"
              % (n, have, rc, log))
        check(count_messages(inst) == have, "keep: nothing deleted")
        rc, n, log = fetchmail(inst, work, "keep ssl", inst.pop3s_port)
        check(rc == 1 and n == 0,
              "fetchmail keep again: nothing new by UIDL (rc %d, %d)\n%s"
              % (rc, n, log))
        put_messages(inst, 1, "later")
        rc, n, log = fetchmail(inst, work, "keep sslproto 'tls1.2+'",
                               inst.pop3_port)
        check(rc == 0 and n == 1,
              "fetchmail keep over STLS fetched only the new one (%d)\n%s"
              % (n, log))
        rc, n, log = fetchmail(inst, work, "fetchall nokeep ssl",
                               inst.pop3s_port)
        check(rc == 0 and n == have + 1,
              "fetchmail no-keep fetched all %d (%d)\n%s" % (have + 1, n, log))
        check(wait_for(lambda: count_messages(inst) == 0, 5),
              "no-keep: the Maildir is empty")
    finally:
        shutil.rmtree(work)


def test_curl(inst):
    curl = dovetail_test.need_program("curl", "curl")
    put_messages(inst, 2, "curl")
    auth = ["-u", "%s:%s" % (USER, PASSWORD), "-k", "-s", "-S",
            "--max-time", "20"]
    p = subprocess.run([curl] + auth +
                       ["pop3s://127.0.0.1:%d/" % inst.pop3s_port],
                       capture_output=True, text=True)
    lines = p.stdout.split()
    check(p.returncode == 0 and len(p.stdout.splitlines()) == 2,
          "curl pop3s:// LIST: %r %s" % (p.stdout, p.stderr))
    del lines
    p = subprocess.run([curl] + auth +
                       ["pop3s://127.0.0.1:%d/2" % inst.pop3s_port],
                       capture_output=True, text=True)
    check(p.returncode == 0 and "body of curl 1" in p.stdout and
          "\n.dotted line" in p.stdout.replace("\r", ""),
          "curl pop3s:// RETR 2: %r %s" % (p.stdout[:200], p.stderr))
    p = subprocess.run([curl] + auth +
                       ["--ssl-reqd", "pop3://127.0.0.1:%d/1" % inst.pop3_port],
                       capture_output=True, text=True)
    check(p.returncode == 0 and "body of curl 0" in p.stdout,
          "curl pop3:// with STLS: %r %s" % (p.stdout[:200], p.stderr))


def main():
    dovetail_test.need_root()
    inst = Instance(services=("auth", "auth-userdb", "pop3-login",
                              "pop3s-login", "pop3d"))
    inst.need_daemons("pop3d", "pop3-login", "auth")
    acc = inst.accounts()
    acc.add_user(USER, "{PLAIN}" + PASSWORD)
    cert, key = inst.make_cert()
    ext = external_address()
    ext_port = free_port()
    if ext:
        inst.master_cf_extra = f"{ext}:{ext_port} inet n - n - 1 pop3-login\n"
    inst.main_cf_extra = acc.main_cf() + f"""passdb = sqlite:{acc.maps['passdb']}
userdb = static:uid={VMAIL_USER} gid={VMAIL_USER} home={inst.mail}/%d/%n
auth_client_path = $queue_directory/public/auth
auth_socket_path = $queue_directory/private/auth-userdb
auth_failure_delay = 0s
mail_location = maildir:~/Maildir
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
"""
    with inst:
        inst.start()
        steps = [("plain port", lambda: test_plain_port(inst)),
                 ("POP3S", lambda: test_pop3s(inst)),
                 ("auth failures", lambda: test_failures(inst)),
                 ("processes", lambda: test_processes(inst)),
                 ("fetchmail", lambda: test_fetchmail(inst)),
                 ("curl", lambda: test_curl(inst))]
        if ext:
            steps.insert(2, ("not secured",
                             lambda: test_not_secured(inst, ext, ext_port)))
        else:
            print("note: no non-loopback address; plaintext refusal not checked")
        for name, fn in steps:
            print(f"--- {name}", flush=True)
            try:
                fn()
            except Exception as e:  # a dead connection fails this step only
                check(False, f"{name}: {type(e).__name__}: {e}")
        if failures:
            print(inst.log()[-6000:])
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
